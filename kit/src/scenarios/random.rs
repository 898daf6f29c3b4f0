//! Scenario 2: random bytes after the handshake, judged by an oracle.
//!
//! The same bytes are fed to an in-memory `ws_proto::Connection` of the adapter's role and
//! config ([`crate::oracle`]); whatever control frames it queues (the Close with its code,
//! Pongs) are what the raw peer must read from the adapter, followed by EOF. The raw peer sends the bytes, then
//! half-closes, then reads until the end. The application's end must match too: `Err` with
//! the oracle's code if the oracle failed the connection, `None` otherwise.

use std::panic::{AssertUnwindSafe, catch_unwind};

use ws_proto::{Config, Role};

use super::{END_WITHIN, FRAME_WITHIN, assert_recv_error, label, start};
use crate::harness::{App, End, Harness};
use crate::oracle::{oracle, random_input};
use crate::raw::{Frame, RawOpts, ReadEnd};

/// Seeds per role.
const SEEDS: u64 = 30;

fn one(h: &dyn Harness, role: Role, seed: u64) {
    let who = label(h, role);
    let config = Config::default();
    let bytes = random_input(seed, role);
    let verdict = oracle(role, &config, &bytes);
    let (mut raw, app) = start(h, role, config, App::Echo, RawOpts::default());
    raw.send_raw(&bytes);
    raw.shutdown_write();
    let (frames, end) = raw.read_until_end(FRAME_WITHIN);
    assert!(
        matches!(end, ReadEnd::Eof { pending: 0 }),
        "{who}: the raw peer saw {end} after {frames:?}; expected the control frames {:?} then \
         EOF",
        verdict.control
    );
    let control: Vec<Frame> = frames.into_iter().filter(Frame::is_control).collect();
    assert!(
        control == verdict.control,
        "{who}: the adapter sent the control frames {control:?}, the core queued {:?} (input \
         {bytes:02x?})",
        verdict.control
    );
    let report = app.join_within(END_WITHIN);
    match verdict.code {
        Some(code) => assert_recv_error(&report, code, &who),
        None => assert_eq!(report.end, End::None, "{who}: the application's end"),
    }
}

/// 30 seeds of random bytes; the adapter must answer exactly as the core does. Every seed
/// runs; the failure lists each seed that failed and how.
pub fn random_bytes(h: &dyn Harness, role: Role) {
    let mut failed = Vec::new();
    for seed in 0..SEEDS {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| one(h, role, seed))) {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            // The first line says what happened; the input dump follows it.
            let first = text.split(" (input").next().unwrap_or_default();
            failed.push(format!("seed {seed}: {first}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{}: {} of {SEEDS} seeds failed:\n{}",
        label(h, role),
        failed.len(),
        failed.join("\n")
    );
}
