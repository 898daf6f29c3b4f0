//! The scenarios: each `pub fn name(h: &dyn Harness, role: Role)` runs one behaviour through
//! one adapter in one role. `role` is the ADAPTER's role; the raw peer takes the other one.

mod budget;
mod closing;
mod flow;
mod large;
mod panics;
mod random;
mod timers;
mod violations;

use std::net::TcpListener;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use ws_proto::{CloseCode, CloseFrame, Config, Message, Role};

pub use budget::*;
pub use closing::*;
pub use flow::*;
pub use large::*;
pub use panics::*;
pub use random::*;
pub use timers::*;
pub use violations::*;

use crate::harness::{App, AppHandle, End, ErrKind, Harness, Op, Report};
use crate::raw::{self, RawOpts, RawPeer};

/// How long the raw peer waits for a frame or an EOF the adapter owes it at once.
pub(crate) const FRAME_WITHIN: Duration = Duration::from_secs(2);
/// How long the application may take to finish once the raw peer has seen the end.
pub(crate) const END_WITHIN: Duration = Duration::from_secs(3);

/// Scenarios whose timing bounds need the machine to themselves: within one test binary they
/// run alone (the others share [`TIMING`]).
const EXCLUSIVE: &[&str] = &["stalled_reader"];

static TIMING: RwLock<()> = RwLock::new(());

/// Held by a test while its scenario runs: exclusive for the timing-critical scenarios,
/// shared for the rest.
#[derive(Debug)]
pub enum TimingGuard {
    /// Other scenarios may run alongside.
    Shared(RwLockReadGuard<'static, ()>),
    /// No other scenario of this test binary runs alongside.
    Exclusive(RwLockWriteGuard<'static, ()>),
}

/// The guard for the scenario `name` (used by [`kit_tests!`](crate::kit_tests)).
pub fn timing_guard(name: &str) -> TimingGuard {
    // A failed scenario poisons the lock; the next one runs all the same.
    if EXCLUSIVE.contains(&name) {
        TimingGuard::Exclusive(TIMING.write().unwrap_or_else(PoisonError::into_inner))
    } else {
        TimingGuard::Shared(TIMING.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Starts `app` on the adapter in `role` and connects the raw peer to it (handshake done).
pub(crate) fn start(
    h: &dyn Harness,
    role: Role,
    config: Config,
    app: App,
    opts: RawOpts,
) -> (RawPeer, AppHandle) {
    match role {
        Role::Server => {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("address");
            let app = h.serve(listener, config, app);
            (RawPeer::client(addr, opts), app)
        }
        Role::Client => {
            let listener = raw::listener(opts);
            let addr = listener.local_addr().expect("address");
            let app = h.connect(addr, config, app);
            (RawPeer::server(&listener, opts), app)
        }
    }
}

/// After the close handshake: a server adapter closes TCP first (the raw client reads its
/// FIN, then closes its own side, as a real client does); with a client adapter the raw server
/// closes first and then reads the client's FIN.
pub(crate) fn finish_tcp(raw: &mut RawPeer, role: Role) {
    match role {
        Role::Server => {
            raw.expect_eof(FRAME_WITHIN);
            raw.shutdown_write();
        }
        Role::Client => {
            raw.shutdown_write();
            raw.expect_eof(FRAME_WITHIN);
        }
    }
}

/// A short label for messages: "tokio server".
pub(crate) fn label(h: &dyn Harness, role: Role) -> String {
    let role = if role == Role::Server { "server" } else { "client" };
    format!("{} {role}", h.name())
}

/// Asserts the application's first error was `recv` failing with close code `code`.
pub(crate) fn assert_recv_error(report: &Report, code: u16, who: &str) {
    match &report.end {
        End::Err { op: Op::Recv, close_code: Some(c), kind: ErrKind::Protocol, .. }
            if *c == code => {}
        other => panic!(
            "{who}: the application's first error should be recv failing with close code \
             {code}; it ended with {other:?}"
        ),
    }
}

/// Asserts the application ended with `None` after a clean close whose code was `code`.
/// (Where the application does not receive control frames as messages,
/// [`Harness::control_messages`], the peer's Close is checked in `close_info` alone.)
pub(crate) fn assert_clean_end(h: &dyn Harness, report: &Report, code: u16, who: &str) {
    assert_eq!(report.end, End::None, "{who}: the application should end with None");
    let info = report.close_info.as_ref().unwrap_or_else(|| panic!("{who}: no close_info"));
    assert!(info.clean, "{who}: the close should be clean: {info:?}");
    assert_eq!(info.code(), CloseCode(code), "{who}: close code in close_info: {info:?}");
    if h.control_messages() {
        assert!(
            report
                .received()
                .iter()
                .any(|m| matches!(m, Message::Close(Some(f)) if f.code.0 == code)),
            "{who}: the application never saw Message::Close({code}): {:?}",
            report.received()
        );
    } else {
        let received = info.received.as_ref().map(|f| f.code.0);
        assert_eq!(received, Some(code), "{who}: the peer's Close in close_info: {info:?}");
    }
    if let Some(end) = &report.writer_end {
        panic!("{who}: the writer ended with {end:?}");
    }
}

/// A Close frame value as applications receive it.
pub(crate) fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame::new(CloseCode(code), reason)
}

/// The data messages of a report.
pub(crate) fn data_messages(report: &Report) -> Vec<Message> {
    report.received().into_iter().filter(Message::is_data).collect()
}
