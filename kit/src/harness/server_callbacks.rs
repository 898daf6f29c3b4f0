//! The ws-server harness for callback routes: the [`App`] as `on_open`, `on_message`,
//! `on_pong` and `on_close` (ws-server's other handler API, which its README shows first),
//! on the same server and settings as [`WsServer`](super::server::WsServer). Callback
//! connections take their own path through ws-server: the handlers run inside the
//! connection's poll, and their sends to their own connection skip the queue (ws-server's
//! `direct` sends).
//!
//! As for ws-uring, the report is read off the callbacks: every `on_message` is a received
//! message (data only: ws-server answers Pings and reports the peer's Close in `on_close`),
//! `on_close`'s `CloseInfo` gives the end (as for ws-uring), `on_pong` the last round trip.
//!
//! * `Echo`: `on_message` echoes with `Conn::send`; anything but `Sent::Queued` is the
//!   application's error (the route's policy is [`Backpressure::Wait`](ws_server::Backpressure),
//!   under which a send to a full queue is refused with `Sent::Full`: a callback cannot wait).
//! * `CloseFirst { from_write_half: false }`: `Conn::close` in `on_open`.
//! * The write half is the connection's `Conn` in a task of its own (the read half is the
//!   callbacks): `Flood`: `on_open` spawns a task that sends with `Conn::send_async` (waits
//!   for room), as a callback route that streams to its peer does; the scenario's counter and
//!   send times are that task's. `SplitEcho`: `on_message` forwards each data message over a
//!   channel to such a task, which echoes it with `send_async`. `CloseFirst { from_write_half:
//!   true }`: `on_open` spawns a task that calls `Conn::close`.
//! * `Panic`: panics in `on_open`; ws-server closes that connection with 1011 and still calls
//!   `on_close`; the harness re-raises the panic's text.
//!
//! `EchoCancelling` is refused (there is no receive to abandon): `kit_tests_server!(..,
//! no_cancel)` does not generate the two `cancel_safety_*` scenarios.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ws_proto::{CloseCode, CloseInfo, Config, Message};
use ws_server::{Conn, Route, Sent};

use super::apps::{Sender, flood_writes};
use super::server::{KitWriter, refused, route_settings, run_server};
use super::tokio::runtime;
use super::{App, AppHandle, End, Harness, Op, PANIC_MARKER, Report, end_of};

/// How long the write half's task may take to end once the connection has.
const WRITER_WITHIN: Duration = Duration::from_secs(3);

/// ws-server with a callback route (`on_open`, `on_message`, `on_pong`, `on_close`).
#[derive(Debug, Clone, Copy, Default)]
pub struct WsServerCallbacks;

impl Harness for WsServerCallbacks {
    fn name(&self) -> &'static str {
        "ws-server callbacks"
    }

    fn is_async(&self) -> bool {
        false
    }

    fn panic_close_code(&self) -> Option<u16> {
        Some(1011)
    }

    fn control_messages(&self) -> bool {
        false
    }

    fn serve(&self, listener: TcpListener, config: Config, app: App) -> AppHandle {
        let cancelling = matches!(app, App::EchoCancelling { .. });
        assert!(!cancelling, "ws-server callbacks: {app:?} needs a receive to abandon");
        AppHandle::spawn("ws-server callbacks", move || {
            runtime().block_on(serve(listener, config, app))
        })
    }

    fn connect(&self, _addr: SocketAddr, _config: Config, _app: App) -> AppHandle {
        panic!("ws-server is a server only: the kit runs it in the server role")
    }
}

/// What the callbacks share.
#[derive(Default)]
struct State {
    report: Report,
    /// The application stopped at an error of its own (it sends nothing more).
    stopped: bool,
    /// The text of the application's panic.
    panic: Option<String>,
    /// The write half's task (flood, split echo, close): its send times and how it ended.
    writer: Option<tokio::task::JoinHandle<(Vec<Instant>, Option<End>)>>,
    /// Split echo: the channel to the writer task (closed when the connection ends).
    to_writer: Option<tokio::sync::mpsc::UnboundedSender<Message>>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

async fn serve(listener: TcpListener, config: Config, app: App) -> Report {
    let state = Shared::default();
    let (closed, mut on_closed) = tokio::sync::mpsc::unbounded_channel::<()>();
    let route = route(app, Arc::clone(&state), closed).settings(route_settings(&config));
    let outcome = async move {
        on_closed.recv().await?;
        let writer = lock(&state).writer.take();
        if let Some(writer) = writer {
            let joined = tokio::time::timeout(WRITER_WITHIN, writer).await;
            let (sent, end) = joined.expect("the writer task did not end").expect("writer");
            let mut state = lock(&state);
            state.report.sent = sent;
            state.report.writer_end = end;
        }
        let mut state = lock(&state);
        Some(match state.panic.take() {
            Some(text) => Err(text),
            None => Ok(std::mem::take(&mut state.report)),
        })
    };
    run_server(listener, &config, route, outcome).await
}

fn route(app: App, state: Shared, closed: tokio::sync::mpsc::UnboundedSender<()>) -> Route {
    let echo = app == App::Echo;
    let (on_open_state, on_message_state) = (Arc::clone(&state), Arc::clone(&state));
    let (on_pong_state, on_close_state) = (Arc::clone(&state), state);
    Route::new()
        .on_open(move |conn| open(&app, conn, &on_open_state))
        .on_message(move |conn, message| {
            let mut state = lock(&on_message_state);
            state.report.messages.push((Instant::now(), message.clone()));
            if echo && !state.stopped {
                let sent = conn.send(message);
                if sent != Sent::Queued {
                    state.report.end = refused(Op::Send, sent);
                    state.stopped = true;
                }
            } else if let Some(to_writer) = &state.to_writer {
                // A writer that stopped at its error takes no more; receiving goes on.
                let _ = to_writer.send(message);
            }
        })
        .on_pong(move |_, lag| lock(&on_pong_state).report.last_rtt = Some(lag))
        .on_close(move |_, info: &CloseInfo| {
            let mut state = lock(&on_close_state);
            // An application that stopped at an error of its own keeps that error.
            if state.report.end == End::None {
                state.report.end = end_of(info);
            }
            state.report.close_info = Some(info.clone());
            state.to_writer = None;
            drop(state);
            let _ = closed.send(());
        })
}

fn open(app: &App, conn: &Conn, state: &Shared) {
    match app.clone() {
        App::Panic => {
            lock(state).panic = Some(PANIC_MARKER.to_owned());
            panic!("{PANIC_MARKER}");
        }
        App::CloseFirst { code, reason, from_write_half: true } => {
            let mut writer = KitWriter(conn.clone());
            let task = async move { (Vec::new(), writer.close(code, &reason).await.err()) };
            lock(state).writer = Some(tokio::spawn(task));
        }
        App::CloseFirst { code, reason, from_write_half: false } => {
            let sent = conn.close(CloseCode(code), &reason);
            if sent != Sent::Queued {
                let mut state = lock(state);
                state.report.end = refused(Op::Close, sent);
                state.stopped = true;
            }
        }
        App::Flood { size, count, progress } => {
            let mut writer = KitWriter(conn.clone());
            let task = async move { flood_writes(&mut writer, size, count, &progress).await };
            lock(state).writer = Some(tokio::spawn(task));
        }
        App::SplitEcho => {
            let (to_writer, mut from_reader) = tokio::sync::mpsc::unbounded_channel();
            let mut writer = KitWriter(conn.clone());
            let task = async move {
                while let Some(message) = from_reader.recv().await {
                    if let Err(end) = writer.send(message).await {
                        return (Vec::new(), Some(end));
                    }
                }
                (Vec::new(), None)
            };
            let mut state = lock(state);
            state.writer = Some(tokio::spawn(task));
            state.to_writer = Some(to_writer);
        }
        App::Echo | App::EchoCancelling { .. } => {}
    }
}
