//! A server connection's task: the WebSocket, its handle's queue and the handlers, in one loop.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker, ready};

use ws_proto::{CloseCause, CloseCode, CloseInfo, Event, Initiator, Message, State};
use ws_tokio::{Error, WebSocket};

use crate::ServerStream;
use crate::conn::{Conn, Handle};
use crate::metrics::Counts;
use crate::route::{Fragment, OnClose, OnPong};
use crate::settings::Backpressure;

/// One server connection, for routes written as an async function ([`Route::handle`]):
/// receive with [`recv`](Self::recv), send through [`conn`](Self::conn) (from this task or
/// any other) or with [`send`](Self::send) (waits until written).
///
/// Receiving drives the connection: the queue of its [`Handle`], keepalive pings, pongs and
/// the closing handshake all progress while `recv` is awaited, so keep receiving until it
/// returns `None`. When the function returns (or the `Socket` is dropped) an open connection
/// is closed with 1000 and finished in the background; `on_close` runs either way. If the
/// function panics, the open connection is closed with 1011 (internal error) instead, the
/// same way, and the panic ends the function's task only (the server and its other
/// connections go on; with a `panic = "abort"` build the process ends instead).
///
/// [`Route::handle`]: crate::Route::handle
pub struct Socket<D: Send + Sync + 'static = ()> {
    /// Boxed: the futures that hold a `Socket` stay small, and moving them (into a task, a
    /// box, the next state) copies a pointer instead of the whole connection.
    ws: Option<Box<WebSocket<ServerStream>>>,
    conn: Conn<D>,
    /// `Connection::rtt_samples` already reported.
    rtt_seen: u64,
    /// The waker this task last left in its handle's outbox (while `waker_held` says it is
    /// still there, parking again with the same one needs no lock).
    waker: Option<Waker>,
    on_pong: Option<OnPong<D>>,
    on_close: Option<OnClose<D>>,
    /// Ends the connection's registration when dropped (counts, registry, topics).
    registration: Option<Registration>,
}

impl<D: Send + Sync + 'static> Socket<D> {
    pub(crate) fn new(
        ws: Box<WebSocket<ServerStream>>,
        conn: Conn<D>,
        on_pong: Option<OnPong<D>>,
        on_close: Option<OnClose<D>>,
        registration: Registration,
    ) -> Self {
        Socket {
            ws: Some(ws),
            conn,
            rtt_seen: 0,
            waker: None,
            on_pong,
            on_close,
            registration: Some(registration),
        }
    }

    /// The connection's handle (send from anywhere, request details, lag) and data.
    pub fn conn(&self) -> &Conn<D> {
        &self.conn
    }

    /// The next whole text or binary message. Pings, pongs and the peer's Close are handled
    /// here (the lag is updated from each answering Pong). `None` once the connection has
    /// ended (see [`close_info`](Self::close_info)); `Err` if the peer broke the protocol (the
    /// Close with its code has been sent), then `None`. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next frame of a data message, without joining fragments (see
    /// [`recv`](Self::recv)). Do not mix with `recv` inside one message.
    pub async fn recv_fragment(&mut self) -> Option<Result<Fragment, Error>> {
        poll_fn(|cx| self.poll_fragment(cx)).await
    }

    /// Sends a message and waits until it is written (not subject to the handle's bound:
    /// this task waits instead).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        let ws = self.ws.as_mut().ok_or_else(Error::unsent)?;
        ws.send(message).await
    }

    /// Starts the closing handshake; keep calling [`recv`](Self::recv) until `None` to finish
    /// it (or return: it is finished in the background).
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        let ws = self.ws.as_mut().ok_or_else(Error::unsent)?;
        ws.close(code, reason).await
    }

    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.ws.as_ref()?.close_info()
    }

    #[inline(always)]
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.poll_next(cx, |_, message| Some(Ok(message)), |other| other)
    }

    /// Polls for the next text or binary message and hands it to `on_data` in place (not
    /// moved out through the poll's result); anything else that ends the receiving (the end,
    /// an error) goes to `on_end`. Pings, pongs and the peer's Close are handled here.
    #[inline(always)]
    fn poll_next<T>(
        &mut self,
        cx: &mut Context<'_>,
        on_data: impl FnOnce(&mut Self, Message) -> T,
        on_end: impl FnOnce(Option<Result<Message, Error>>) -> T,
    ) -> Poll<T> {
        loop {
            if self.pump() {
                return Poll::Ready(on_end(None));
            }
            let Some(ws) = self.ws.as_mut() else { return Poll::Ready(on_end(None)) };
            let polled = ws.poll_recv(cx);
            let buffered = ws.buffered_amount();
            self.note_buffered(buffered);
            let Poll::Ready(polled) = polled else {
                if self.park(cx) {
                    continue;
                }
                return Poll::Pending;
            };
            match polled {
                Some(Ok(Message::Pong(_))) => self.pong(),
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    self.conn.core.counts.received(message_len(&message));
                    return Poll::Ready(on_data(self, message));
                }
                Some(Ok(_)) => {}
                other => return Poll::Ready(on_end(other)),
            }
        }
    }

    fn poll_fragment(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Fragment, Error>>> {
        loop {
            if self.pump() {
                return Poll::Ready(None);
            }
            let Some(ws) = self.ws.as_mut() else { return Poll::Ready(None) };
            let polled = ws.poll_recv_event(cx);
            let buffered = ws.buffered_amount();
            self.note_buffered(buffered);
            let Poll::Ready(polled) = polled else {
                if self.park(cx) {
                    continue;
                }
                return Poll::Pending;
            };
            match polled {
                Some(Ok(Event::Pong(_))) => self.pong(),
                Some(Ok(Event::Data { kind, payload, first, fin })) => {
                    let counts = &self.conn.core.counts;
                    Counts::bump(&counts.bytes_in, payload.len() as u64);
                    if fin {
                        Counts::bump(&counts.messages_in, 1);
                    }
                    return Poll::Ready(Some(Ok(Fragment { kind, payload, first, fin })));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }

    /// Runs a callback handler on this task, its sends to this connection made directly
    /// (see [`direct`](crate::direct)).
    #[inline(always)]
    fn run_handler(&mut self, handler: impl FnOnce(&Conn<D>)) {
        let conn = &self.conn;
        crate::direct::run(&mut self.ws, &conn.core, || handler(conn));
    }

    /// Publishes what the socket holds for senders; wakes waiting senders when it shrank.
    fn note_buffered(&self, buffered: usize) {
        let core = &self.conn.core;
        let before = core.socket_buffered.load(Ordering::Relaxed);
        if before != buffered {
            core.socket_buffered.store(buffered, Ordering::Relaxed);
            if buffered < before && core.policy == Backpressure::Wait {
                core.room.notify_waiters();
            }
        }
    }

    /// A Pong arrived: if it answered our Ping, record the lag.
    fn pong(&mut self) {
        let Some(ws) = self.ws.as_ref() else { return };
        let samples = ws.connection().rtt_samples();
        if samples == self.rtt_seen {
            return;
        }
        self.rtt_seen = samples;
        let Some(lag) = ws.last_rtt() else { return };
        let nanos = u64::try_from(lag.as_nanos()).unwrap_or(u64::MAX - 1);
        self.conn.core.lag_nanos.store(nanos, Ordering::Relaxed);
        self.conn.core.server.metrics.record_lag(lag);
        if let Some(on_pong) = &self.on_pong {
            on_pong(&self.conn, lag);
        }
    }

    /// Moves what the handle queued into the connection while the socket's own queue is below
    /// the bound. True if the server is being torn down: stop now.
    ///
    /// Marks the task awake: until it waits again ([`park`](Self::park)), sends from its
    /// handlers (or anywhere) only queue, and the next `recv` moves them.
    #[inline]
    fn pump(&mut self) -> bool {
        let core = &self.conn.core;
        if core.server.killed.load(Ordering::Relaxed) {
            return true;
        }
        let Some(ws) = self.ws.as_mut() else { return true };
        core.awake.store(true, Ordering::Relaxed);
        let open = ws.connection().state() == State::Open;
        // Nothing queued (the common case): no lock. A send racing with this is seen by `park`.
        if open && !core.has_items.load(Ordering::Relaxed) {
            return false;
        }
        self.pump_locked();
        false
    }

    /// [`pump`](Self::pump) under the queue's lock: moves what fits.
    #[cold]
    #[inline(never)]
    fn pump_locked(&mut self) {
        let core = &self.conn.core;
        let Some(ws) = self.ws.as_mut() else { return };
        let mut outbox = self.conn.lock();
        let mut freed = false;
        while let Some(item) = outbox.items.front() {
            if !item.is_control() && ws.buffered_amount() >= core.max_backpressure {
                break;
            }
            let Some(item) = outbox.items.pop_front() else { break };
            if !item.is_control() {
                outbox.bytes -= item.len();
                freed = true;
            }
            item.deliver(ws.connection_mut(), &core.counts);
        }
        core.has_items.store(!outbox.items.is_empty(), Ordering::Relaxed);
        if ws.connection().state() != State::Open {
            outbox.closing = true;
        }
        drop(outbox);
        if freed && core.policy == Backpressure::Wait {
            core.room.notify_waiters();
        }
    }

    /// The connection has nothing to do until its socket or its handle wakes it: registers for
    /// the handle's sends. True if something was queued since the last [`pump`](Self::pump)
    /// that can be moved now (pump again instead of waiting).
    #[inline]
    fn park(&mut self, cx: &mut Context<'_>) -> bool {
        if self.ws.is_none() {
            return false;
        }
        let core = &self.conn.core;
        // The common case without the lock: the waker left last time is still in place and
        // nothing is queued. `awake` is cleared before `has_items` is read, while a sender
        // stores `has_items` before it reads `awake`: one of the two sees the other.
        let registered = core.waker_held.load(Ordering::Relaxed)
            && self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if registered {
            core.awake.store(false, Ordering::SeqCst);
            if !core.has_items.load(Ordering::SeqCst) {
                return false;
            }
        }
        self.park_locked(cx)
    }

    /// [`park`](Self::park) under the queue's lock: looks at what is queued, leaves the waker.
    #[cold]
    #[inline(never)]
    fn park_locked(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(ws) = self.ws.as_ref() else { return false };
        let core = &self.conn.core;
        let mut outbox = self.conn.lock();
        match outbox.items.front() {
            None => core.awake.store(false, Ordering::SeqCst),
            Some(item) if item.is_control() => return true,
            Some(_) if ws.buffered_amount() < core.max_backpressure => return true,
            // Blocked on the socket: its becoming writable wakes this task, and more data
            // could not be moved anyway, so data sends stay quiet (`awake`); control frames and
            // the shutdown still wake it through the waker below.
            Some(_) => core.awake.store(true, Ordering::Relaxed),
        }
        if !outbox.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            outbox.waker = Some(cx.waker().clone());
            self.waker = outbox.waker.clone();
        }
        core.waker_held.store(true, Ordering::Relaxed);
        false
    }

    /// Ends the connection: closes it (1000) if still open, drives it to its end within the
    /// close timeout, then runs `on_close`. Dropping the `Socket` does the same in a spawned
    /// task.
    pub(crate) async fn finish(mut self) {
        finish_parts(
            CloseCode::NORMAL,
            self.ws.take(),
            self.conn.clone(),
            self.rtt_seen,
            self.on_pong.take(),
            self.on_close.take(),
            self.registration.take(),
        )
        .await;
    }
}

/// Closes the connection with `code` if it is still open, drives it to its end, then ends its
/// registration and runs `on_close`.
async fn finish_parts<D: Send + Sync + 'static>(
    code: CloseCode,
    ws: Option<Box<WebSocket<ServerStream>>>,
    conn: Conn<D>,
    rtt_seen: u64,
    on_pong: Option<OnPong<D>>,
    on_close: Option<OnClose<D>>,
    registration: Option<Registration>,
) {
    let mut socket =
        Socket { ws, conn, rtt_seen, waker: None, on_pong, on_close: None, registration: None };
    if socket.ws.as_ref().is_some_and(|ws| ws.state() == State::Open) {
        // Through the queue, behind what was queued before it.
        let _ = socket.conn.close(code, "");
    }
    // Drive to the end: the peer's Close, the transport's end (bounded by the close timeout).
    while let Some(result) = socket.recv().await {
        if result.is_err() {
            continue;
        }
    }
    let info = socket.close_info().cloned().unwrap_or(CloseInfo {
        initiator: Initiator::Local,
        sent: None,
        received: None,
        clean: false,
        cause: CloseCause::CloseTimeout,
    });
    socket.conn.core.closed.store(true, Ordering::Relaxed);
    socket.conn.core.server.metrics.record_close(info.code().0);
    crate::log::connection_ended(socket.conn.peer_addr(), &info);
    // Out of the registry and its topics first: `on_close` sees the server without it.
    drop(registration);
    if let Some(on_close) = &on_close {
        on_close(&socket.conn, &info);
    }
}

impl<D: Send + Sync + 'static> Drop for Socket<D> {
    fn drop(&mut self) {
        let Some(registration) = self.registration.take() else { return };
        // Dropped by a panic unwinding through the handler (the async function, or a callback
        // inside the connection's task): the connection failed on our side, 1011, not a normal
        // end. Only this connection is affected; its task ends with the panic.
        let code =
            if std::thread::panicking() { CloseCode::INTERNAL_ERROR } else { CloseCode::NORMAL };
        let fut = finish_parts(
            code,
            self.ws.take(),
            self.conn.clone(),
            self.rtt_seen,
            self.on_pong.take(),
            self.on_close.take(),
            Some(registration),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            drop(rt.spawn(fut));
        }
    }
}

/// A place reserved under the server's and the route's connection caps, released when dropped.
pub(crate) struct Reserved {
    pub(crate) server: Arc<crate::server::Shared>,
    pub(crate) route_open: Arc<std::sync::atomic::AtomicUsize>,
}

impl Reserved {
    pub(crate) fn new(
        server: &Arc<crate::server::Shared>,
        route_open: &Arc<std::sync::atomic::AtomicUsize>,
    ) -> Self {
        server.metrics.open.fetch_add(1, Ordering::Relaxed);
        route_open.fetch_add(1, Ordering::Relaxed);
        Reserved { server: Arc::clone(server), route_open: Arc::clone(route_open) }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.server.metrics.open.fetch_sub(1, Ordering::Relaxed);
        self.route_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's place in its server: released (registry, topics, reservation) when dropped.
pub(crate) struct Registration {
    pub(crate) handle: Handle,
    pub(crate) _reserved: Reserved,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let core = &self.handle.core;
        core.closed.store(true, Ordering::Relaxed);
        let topics = std::mem::take(&mut *core.topics.lock().unwrap_or_else(|e| e.into_inner()));
        for topic in topics {
            core.server.hub.unsubscribe(&topic, core.id);
        }
        core.server.unregister(core.id);
        core.room.notify_waiters();
    }
}

fn message_len(message: &Message) -> usize {
    match message {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 0,
    }
}

/// Handler calls one poll of a callback connection makes before it yields to the executor (a
/// peer that keeps it busy cannot keep the thread from other tasks).
const HANDLER_BUDGET: usize = 64;

/// Runs a callback route's connection: `on_open`, then every message to `on_message` (or
/// every frame to `on_fragment`), then the end and `on_close`.
///
/// The handlers are called from inside the connection's poll: one poll receives, runs the
/// handler and receives again until the socket has nothing more (no receive future is made
/// and dropped per message, no message is moved out through one).
pub(crate) async fn run_callbacks<D: Send + Sync + 'static>(
    mut socket: Socket<D>,
    on_open: Option<crate::route::OnConn<D>>,
    on_message: Option<crate::route::OnMessage<D>>,
    on_fragment: Option<crate::route::OnFragment<D>>,
) {
    if let Some(on_open) = &on_open {
        socket.run_handler(|conn| on_open(conn));
    }
    if let Some(on_fragment) = on_fragment {
        poll_fn(|cx| {
            for _ in 0..HANDLER_BUDGET {
                match ready!(socket.poll_fragment(cx)) {
                    Some(Ok(fragment)) => socket.run_handler(|conn| on_fragment(conn, fragment)),
                    _ => return Poll::Ready(()),
                }
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
    } else {
        poll_fn(|cx| {
            for _ in 0..HANDLER_BUDGET {
                let delivered = ready!(socket.poll_next(
                    cx,
                    |socket, message| {
                        if let Some(on_message) = &on_message {
                            socket.run_handler(|conn| on_message(conn, message));
                        }
                        true
                    },
                    |_| false,
                ));
                if !delivered {
                    return Poll::Ready(());
                }
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
    }
    socket.finish().await;
}
