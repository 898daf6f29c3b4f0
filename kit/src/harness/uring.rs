//! The ws-uring harness, both roles: one connection's [`App`] run by a [`ws_uring::Handler`],
//! on a one-thread server over the scenario's listener ([`ws_uring::Server::from_listener`]),
//! or on a [`ws_uring::Client`] connecting to the scenario's raw peer (one ring on the
//! harness's thread, `run` until the connection has ended).
//!
//! A callback API has no `recv` to return an error and no socket to drop, so the report is
//! read off the callbacks:
//!
//! * every `on_message` is a received message; `on_close` ends the application, and its
//!   [`CloseInfo`] says how: a peer's violation or exceeded limit
//!   ([`CloseInfo::error`]) is the `Err` a `recv` would have returned (kind `Protocol`, its
//!   close code), a failed transport
//!   ([`CloseCause::TransportError`](ws_proto::CloseCause::TransportError)) is `Err` of kind
//!   `Io`, anything else is `None`, as the other adapters' receive loops end;
//! * `last_rtt` is the core's, as of the last handler call (the Pong that measured it reaches
//!   `on_message`);
//! * [`App::Flood`] sends one message, and counts it sent once the kernel has taken all of it
//!   (`Conn::buffered() == 0`, seen in `on_writable`): what the other adapters' `send` waits
//!   for. A flood that ignored `buffered` would queue every message at once.
//! * [`App::Panic`] panics in `on_open`; ws-uring catches it and closes that connection with
//!   1011 ([`Harness::panic_close_code`]); the harness re-raises the panic's text from
//!   [`AppHandle::join_within`](super::AppHandle::join_within) once `on_close` has come.
//! * (Client) a connection that never opens ([`Handler::on_connect_failed`]) ends the
//!   application with `Err` of kind `Io` or `Other` from its first call, as a failed `connect`
//!   would.
//!
//! [`App::SplitEcho`], [`App::EchoCancelling`] and `CloseFirst { from_write_half: true }` need
//! split halves or a receive that can be abandoned, which a callback API does not have: the
//! harness refuses them (panics), and `kit_tests!(.., callback)` leaves their scenarios out
//! rather than running the whole-socket behaviour under their names.

use std::panic::resume_unwind;
use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use ws_proto::{CloseCode, CloseInfo, Config, Message};
use ws_uring::{Client, Conn, ConnId, Handler, Server};

use super::{
    App, AppHandle, End, ErrKind, Harness, Op, PANIC_MARKER, Report, end_of, flood_payload,
};

/// How long the server waits for its one connection to end before giving up (the scenario's
/// own bounds fail the test long before).
const APP_WITHIN: Duration = Duration::from_secs(60);
/// How long a connection may take to be freed once `on_close` has been called.
const FREE_WITHIN: Duration = Duration::from_secs(3);

/// ws-uring's server (one thread) and client, callbacks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Uring;

impl Harness for Uring {
    fn name(&self) -> &'static str {
        "uring"
    }

    fn is_async(&self) -> bool {
        false
    }

    fn unavailable(&self) -> Option<String> {
        static WHY: OnceLock<Option<String>> = OnceLock::new();
        WHY.get_or_init(probe).clone()
    }

    fn panic_close_code(&self) -> Option<u16> {
        Some(1011)
    }

    fn serve(&self, listener: std::net::TcpListener, config: Config, app: App) -> AppHandle {
        refuse_split(&app);
        let (tx, rx) = mpsc::channel();
        let handler = KitHandler::new(app, tx);
        AppHandle::spawn("uring server", move || {
            let server = Server::from_listener(listener).config(config);
            let running = server.start(handler).expect("ws-uring did not start");
            let outcome = rx.recv_timeout(APP_WITHIN);
            let until = Instant::now() + FREE_WITHIN;
            while running.open_connections() > 0 && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
            let open = running.open_connections();
            running.stop().expect("ws-uring stopped with an error");
            let outcome = outcome.expect("uring: the connection did not end (no on_close)");
            assert_eq!(open, 0, "uring: the connection was not freed within {FREE_WITHIN:?}");
            if let Some(text) = outcome.panic {
                resume_unwind(Box::new(text));
            }
            outcome.report
        })
    }

    fn connect(&self, addr: std::net::SocketAddr, config: Config, app: App) -> AppHandle {
        refuse_split(&app);
        let (tx, rx) = mpsc::channel();
        let handler = KitHandler::new(app, tx);
        AppHandle::spawn("uring client", move || {
            let mut client = Client::new(config).expect("ws-uring client did not start");
            client.connect(&format!("ws://{addr}/"), handler).expect("ws-uring client connect");
            // Returns once the connection has ended and its socket is closed.
            client.run().expect("the ws-uring client's ring failed");
            assert_eq!(client.open_connections(), 0);
            let outcome = rx.try_recv().expect("uring client: the connection ended unreported");
            if let Some(text) = outcome.panic {
                resume_unwind(Box::new(text));
            }
            outcome.report
        })
    }
}

/// Panics for the applications a callback API cannot express (see the module docs).
fn refuse_split(app: &App) {
    let callback_app = match app {
        App::SplitEcho | App::EchoCancelling { .. } => false,
        App::CloseFirst { from_write_half, .. } => !from_write_half,
        _ => true,
    };
    assert!(callback_app, "uring: {app:?} needs split halves or cancellable receives");
}

/// Why io_uring cannot run here (ws-uring's `Error::Unsupported`), if it cannot.
fn probe() -> Option<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    match Server::from_listener(listener).start(KitHandler::new(App::Echo, mpsc::channel().0)) {
        Ok(running) => {
            running.stop().expect("stop the probe server");
            None
        }
        Err(e) if e.is_unsupported() => Some(e.to_string()),
        Err(e) => panic!("ws-uring failed to start: {e}"),
    }
}

/// What the server thread hands back when the connection ends.
#[derive(Debug, Clone)]
struct Outcome {
    report: Report,
    /// The text of the application's panic, re-raised by the harness.
    panic: Option<String>,
}

/// The [`App`] as a ws-uring handler. (One server thread, so one clone serves.)
#[derive(Clone)]
struct KitHandler {
    app: App,
    report: Report,
    /// The application stopped at an error of its own (it sends nothing more).
    stopped: bool,
    /// Flood: the next message to send, and whether the last one is still being written.
    next: usize,
    writing: bool,
    panic: Option<String>,
    tx: Sender<Outcome>,
}

impl KitHandler {
    fn new(app: App, tx: Sender<Outcome>) -> KitHandler {
        let report = Report::default();
        KitHandler { app, report, stopped: false, next: 0, writing: false, panic: None, tx }
    }

    fn note_rtt(&mut self, conn: &mut Conn<'_>) {
        self.report.last_rtt = conn.connection().last_rtt().or(self.report.last_rtt);
    }

    /// Flood: counts the message being written as sent once the kernel has all of it, then
    /// sends the next.
    fn pump(&mut self, conn: &mut Conn<'_>) {
        let App::Flood { size, count, progress } = &self.app else { return };
        while !self.stopped {
            if self.writing {
                if conn.buffered() > 0 {
                    return;
                }
                self.writing = false;
                self.report.sent.push(Instant::now());
                progress.bump();
            }
            if self.next == *count {
                return;
            }
            match conn.send_binary(flood_payload(self.next, *size)) {
                Ok(()) => (self.next, self.writing) = (self.next + 1, true),
                Err(e) => {
                    self.report.writer_end = Some(usage(Op::Send, &e));
                    self.stopped = true;
                }
            }
        }
    }
}

fn usage(op: Op, e: &ws_proto::UsageError) -> End {
    End::Err { op, close_code: None, kind: ErrKind::Usage, text: e.to_string() }
}

impl Handler for KitHandler {
    fn on_open(&mut self, conn: &mut Conn<'_>) {
        match self.app.clone() {
            App::Panic => {
                // Recorded for the harness to re-raise once the connection has ended.
                self.panic = Some(PANIC_MARKER.to_owned());
                panic!("{PANIC_MARKER}");
            }
            App::CloseFirst { code, reason, .. } => {
                if let Err(e) = conn.close(CloseCode(code), &reason) {
                    self.report.end = usage(Op::Close, &e);
                    self.stopped = true;
                }
            }
            App::Flood { .. } => self.pump(conn),
            _ => {}
        }
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        self.note_rtt(conn);
        self.report.messages.push((Instant::now(), message.clone()));
        if self.app == App::Echo && message.is_data() && !self.stopped {
            if let Err(e) = conn.send(message) {
                self.report.end = usage(Op::Send, &e);
                self.stopped = true;
            }
        }
    }

    fn on_writable(&mut self, conn: &mut Conn<'_>) {
        self.note_rtt(conn);
        self.pump(conn);
    }

    fn on_connect_failed(&mut self, _id: ConnId, error: &ws_uring::Error) {
        let kind = match error {
            ws_uring::Error::Io(_) => ErrKind::Io,
            _ => ErrKind::Other,
        };
        self.report.end =
            End::Err { op: Op::Recv, close_code: None, kind, text: error.to_string() };
        let report = std::mem::take(&mut self.report);
        let _ = self.tx.send(Outcome { report, panic: None });
    }

    fn on_close(&mut self, _id: ConnId, info: &CloseInfo) {
        // An application that stopped at an error of its own keeps that error.
        if self.report.end == End::None {
            self.report.end = end_of(info);
        }
        self.report.close_info = Some(info.clone());
        let report = std::mem::take(&mut self.report);
        let outcome = Outcome { report, panic: self.panic.take() };
        // The harness thread may have given up waiting; nothing to do then.
        let _ = self.tx.send(outcome);
    }
}
