//! The send handle of a connection: cloneable, `Send + Sync`, usable from any task, with a
//! queue bounded in bytes and a policy for when it is full.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;
use ws_proto::{CloseCode, Connection, Message, PreparedFrame, Utf8Bytes};

use crate::direct;
use crate::metrics::Counts;
use crate::server::Shared;
use crate::settings::Backpressure;
use crate::{PeerAddr, UpgradeRequest};

/// A connection's number, unique within its server while the server runs.
pub type ConnId = u64;

/// What became of a message handed to [`Handle::send`] and its relatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Sent {
    /// Queued; the connection's task writes it.
    Queued,
    /// The queue was full and the route's policy is [`Backpressure::Drop`]: not sent (counted
    /// in [`Handle::dropped`] and the server's metrics).
    Dropped,
    /// The queue was full and the route's policy closes the connection (1008 or 1013): the
    /// message was not sent and the connection is closing.
    Closing,
    /// The queue was full and the policy is [`Backpressure::Wait`]: not queued; use
    /// [`Handle::send_async`] to wait for room.
    Full,
    /// The connection is closed or closing: nothing more can be sent.
    Closed,
}

impl Sent {
    /// The message was queued.
    pub fn is_queued(self) -> bool {
        self == Sent::Queued
    }
}

/// One thing queued for the connection's task.
#[derive(Debug)]
pub(crate) enum Out {
    Text(Utf8Bytes),
    Binary(Bytes),
    Prepared(PreparedFrame),
    Ping(Bytes),
    Close(CloseCode, String),
}

impl Out {
    /// Hands the item to `conn`, counting data in `counts`. Errors mean the connection is
    /// closing: the message is not sent (as `Sent::Closed` would have said a moment later).
    /// Data needs no clock; a Ping (its round trip is timed) and a Close (its timeout) read it.
    pub(crate) fn deliver(self, conn: &mut Connection, counts: &Counts) {
        if !self.is_control() {
            counts.sent(self.len());
        }
        self.hand_to(conn);
    }

    /// Hands the item to `conn` without counting it.
    #[inline(always)]
    pub(crate) fn hand_to(self, conn: &mut Connection) {
        let _ = match self {
            Out::Text(t) => conn.send_text(t),
            Out::Binary(b) => conn.send_binary(b),
            Out::Prepared(f) => conn.send_prepared(&f),
            Out::Ping(p) => conn.ping(Instant::now(), &p),
            Out::Close(code, reason) => conn.close(Instant::now(), code, &reason),
        };
    }

    pub(crate) fn is_control(&self) -> bool {
        matches!(self, Out::Ping(_) | Out::Close(..))
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Out::Text(t) => t.len(),
            Out::Binary(b) | Out::Ping(b) => b.len(),
            Out::Prepared(f) => f.encoded().len(),
            Out::Close(_, reason) => reason.len() + 2,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) items: VecDeque<Out>,
    /// Bytes of data items in `items`.
    pub(crate) bytes: usize,
    /// The connection's task, while it waits.
    pub(crate) waker: Option<Waker>,
    /// A Close was queued (by a handle or the policy): nothing more is accepted.
    pub(crate) closing: bool,
}

/// Everything about one connection that is not its per-connection data.
pub(crate) struct Core {
    pub(crate) id: ConnId,
    pub(crate) request: UpgradeRequest,
    pub(crate) protocol: Option<String>,
    pub(crate) max_backpressure: usize,
    pub(crate) policy: Backpressure,
    pub(crate) outbox: Mutex<Outbox>,
    /// `outbox.items` is not empty (written under the lock; read without it by the task, which
    /// skips the lock when nothing is queued, and by a handler's direct send).
    pub(crate) has_items: AtomicBool,
    /// The connection's task is running (handlers included) or already woken: it looks at the
    /// queue before it waits again, so a data message queued now needs no wake-up. Set by the
    /// task when it runs and by a wake-up; cleared by the task when it waits for sends, then
    /// `has_items` read (both sequentially consistent, as a sender's store of `has_items` and
    /// load of this: the task sees the item or the sender sees it waiting and wakes it).
    pub(crate) awake: AtomicBool,
    /// `outbox.waker` is set (written under the lock; read by the task without it, to skip the
    /// lock when the waker it left there is still in place).
    pub(crate) waker_held: AtomicBool,
    /// Traffic counters, written by the connection's task only.
    pub(crate) counts: Counts,
    /// Bytes the socket has queued and not written (the task updates it).
    pub(crate) socket_buffered: AtomicUsize,
    /// The last measured round trip in nanoseconds (`u64::MAX`: none yet).
    pub(crate) lag_nanos: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// The connection ended (its task is done).
    pub(crate) closed: AtomicBool,
    /// Senders waiting for room ([`Backpressure::Wait`]).
    pub(crate) room: Notify,
    pub(crate) topics: Mutex<Vec<Arc<str>>>,
    pub(crate) server: Arc<Shared>,
}

/// A connection's send handle and its request details: cheap to clone, `Send + Sync`, usable
/// from any task, valid after the connection ends (sends then return [`Sent::Closed`]).
///
/// Messages queued here are written by the connection's own task, in order. The queue is
/// bounded in bytes ([`RouteSettings::max_backpressure`](crate::RouteSettings)) together with
/// what the socket has not taken yet; past it the route's [`Backpressure`] policy decides.
#[derive(Clone)]
pub struct Handle {
    pub(crate) core: Arc<Core>,
}

impl Handle {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Outbox> {
        self.core.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection's number, unique within the server while it runs.
    pub fn id(&self) -> ConnId {
        self.core.id
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> &PeerAddr {
        self.core.request.peer_addr()
    }

    /// The opening-handshake request: path, query, headers, cookies.
    pub fn request(&self) -> &UpgradeRequest {
        &self.core.request
    }

    /// The request's path.
    pub fn path(&self) -> &str {
        self.core.request.path()
    }

    /// The request's query, if any.
    pub fn query(&self) -> Option<&str> {
        self.core.request.query()
    }

    /// The first value of request header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.core.request.header(name)
    }

    /// The negotiated subprotocol, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.core.protocol.as_deref()
    }

    /// The round trip measured by the last answered Ping (every `ping_interval`, whatever
    /// the traffic), if one was answered yet.
    pub fn lag(&self) -> Option<Duration> {
        match self.core.lag_nanos.load(Ordering::Relaxed) {
            u64::MAX => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// Messages not sent because the queue was full ([`Backpressure::Drop`]).
    pub fn dropped(&self) -> u64 {
        self.core.dropped.load(Ordering::Relaxed)
    }

    /// Bytes waiting to be written: queued here plus what the socket has not taken.
    pub fn buffered_amount(&self) -> usize {
        self.lock().bytes + self.core.socket_buffered.load(Ordering::Relaxed)
    }

    /// True until the connection is closing (a Close was queued or received) or closed.
    pub fn is_open(&self) -> bool {
        !self.core.closed.load(Ordering::Relaxed) && !self.lock().closing
    }

    /// Queues a text or binary message (other kinds are ignored: [`Sent::Queued`] for a Ping,
    /// see [`ping`](Self::ping); use [`close`](Self::close) to close).
    #[inline]
    pub fn send(&self, message: Message) -> Sent {
        match message {
            Message::Text(t) => self.push_text(t),
            Message::Binary(b) => self.push_binary(b),
            Message::Ping(p) => self.push_control(Out::Ping(p)),
            Message::Pong(_) => Sent::Queued,
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((CloseCode::NORMAL, String::new()), |f| {
                    (f.code, f.reason_str().to_owned())
                });
                self.close(code, &reason)
            }
        }
    }

    /// Queues a text message.
    pub fn send_text(&self, text: impl Into<Utf8Bytes>) -> Sent {
        self.push_text(text.into())
    }

    /// Queues a binary message.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> Sent {
        self.push_binary(data.into())
    }

    /// Queues a frame encoded once for many connections (no copy, no per-connection
    /// encoding; sent uncompressed even where permessage-deflate is on, which RFC 7692 allows).
    pub fn send_prepared(&self, frame: &PreparedFrame) -> Sent {
        let send = |frame: PreparedFrame, conn: &mut Connection| {
            let _ = conn.send_prepared(&frame);
        };
        self.push_data(frame.encoded().len(), frame.clone(), send, Out::Prepared)
    }

    /// Queues a Ping (payload truncated to 125 bytes); its Pong updates [`lag`](Self::lag).
    /// Control frames are not subject to the backpressure bound.
    pub fn ping(&self, payload: impl Into<Bytes>) -> Sent {
        let mut payload: Bytes = payload.into();
        payload.truncate(125);
        self.push_control(Out::Ping(payload))
    }

    /// Starts the closing handshake with `code` and `reason` (truncated to 123 bytes at a
    /// character boundary). Messages queued before it are written first; later sends return
    /// [`Sent::Closed`].
    pub fn close(&self, code: impl Into<CloseCode>, reason: &str) -> Sent {
        if self.core.closed.load(Ordering::Relaxed) {
            return Sent::Closed;
        }
        let mut outbox = self.lock();
        if outbox.closing {
            return Sent::Closed;
        }
        outbox.closing = true;
        self.enqueue(&mut outbox, Out::Close(code.into(), truncate(reason, 123).to_owned()));
        self.wake(outbox);
        Sent::Queued
    }

    /// Like [`send`](Self::send), but with [`Backpressure::Wait`] waits until the queue has
    /// room instead of returning [`Sent::Full`]. Under the other policies it returns at once.
    pub async fn send_async(&self, message: Message) -> Sent {
        loop {
            let room = self.core.room.notified();
            let mut room = std::pin::pin!(room);
            room.as_mut().enable();
            match self.send(message.clone()) {
                Sent::Full => {}
                sent => return sent,
            }
            room.await;
        }
    }

    /// Subscribes this connection to `topic` on the server's hub.
    pub fn subscribe(&self, topic: &str) {
        let mut topics = self.core.topics.lock().unwrap_or_else(|e| e.into_inner());
        if self.core.closed.load(Ordering::Relaxed) || topics.iter().any(|t| &**t == topic) {
            return;
        }
        topics.push(Arc::from(topic));
        drop(topics);
        self.core.server.hub.subscribe(topic, self);
    }

    /// Unsubscribes this connection from `topic`.
    pub fn unsubscribe(&self, topic: &str) {
        let mut topics = self.core.topics.lock().unwrap_or_else(|e| e.into_inner());
        let before = topics.len();
        topics.retain(|t| &**t != topic);
        if topics.len() != before {
            drop(topics);
            self.core.server.hub.unsubscribe(topic, self.id());
        }
    }

    /// The topics this connection is subscribed to.
    pub fn topics(&self) -> Vec<String> {
        let topics = self.core.topics.lock().unwrap_or_else(|e| e.into_inner());
        topics.iter().map(|t| t.to_string()).collect()
    }

    /// Publishes a message to every subscriber of `topic` (this connection included if it is
    /// one), encoded once. Returns how many connections it was queued for.
    pub fn publish(&self, topic: &str, message: impl Into<Publish>) -> usize {
        self.core.server.hub.publish(topic, &message.into().0, None)
    }

    /// Publishes to every subscriber of `topic` but this connection.
    pub fn publish_others(&self, topic: &str, message: impl Into<Publish>) -> usize {
        self.core.server.hub.publish(topic, &message.into().0, Some(self.id()))
    }

    /// Queues a data message of `len` bytes: straight into the connection when a handler
    /// replies to its own connection with nothing queued before it, else through the queue.
    /// `send` hands the payload to the connection; `wrap` makes it a queue item (the direct
    /// path never builds one).
    #[inline(always)]
    pub(crate) fn push_data<P>(
        &self,
        len: usize,
        payload: P,
        send: impl FnOnce(P, &mut Connection),
        wrap: impl FnOnce(P) -> Out,
    ) -> Sent {
        if self.core.closed.load(Ordering::Relaxed) {
            return Sent::Closed;
        }
        match direct::send(self, payload, len, send) {
            Ok(sent) => sent,
            Err(payload) => self.queue(wrap(payload), len, false),
        }
    }

    #[inline(always)]
    fn push_text(&self, text: Utf8Bytes) -> Sent {
        let send = |text, conn: &mut Connection| {
            let _ = conn.send_text(text);
        };
        self.push_data(text.len(), text, send, Out::Text)
    }

    #[inline(always)]
    fn push_binary(&self, data: Bytes) -> Sent {
        let send = |data, conn: &mut Connection| {
            let _ = conn.send_binary(data);
        };
        self.push_data(data.len(), data, send, Out::Binary)
    }

    /// Queues a control frame (not subject to the bound; it always wakes the task).
    pub(crate) fn push_control(&self, out: Out) -> Sent {
        if self.core.closed.load(Ordering::Relaxed) {
            return Sent::Closed;
        }
        let len = out.len();
        self.queue(out, len, true)
    }

    /// A send through the queue.
    #[inline(never)]
    fn queue(&self, out: Out, len: usize, control: bool) -> Sent {
        let mut outbox = self.lock();
        if outbox.closing {
            return Sent::Closed;
        }
        let queued = outbox.bytes + self.core.socket_buffered.load(Ordering::Relaxed);
        // An empty queue always takes one message, however large (the message limit is the
        // peer's business); after that the bound applies.
        if !control && queued > 0 && queued + len > self.core.max_backpressure {
            let metrics = &self.core.server.metrics;
            return match self.core.policy {
                Backpressure::Wait => Sent::Full,
                Backpressure::Drop => {
                    self.core.dropped.fetch_add(1, Ordering::Relaxed);
                    metrics.dropped.fetch_add(1, Ordering::Relaxed);
                    Sent::Dropped
                }
                Backpressure::Close1008 | Backpressure::Close1013 => {
                    let code = match self.core.policy {
                        Backpressure::Close1008 => CloseCode::POLICY_VIOLATION,
                        _ => CloseCode::TRY_AGAIN_LATER,
                    };
                    metrics.dropped.fetch_add(1, Ordering::Relaxed);
                    outbox.closing = true;
                    self.enqueue(&mut outbox, Out::Close(code, "too slow".to_owned()));
                    self.wake(outbox);
                    Sent::Closing
                }
            };
        }
        if !control {
            outbox.bytes += len;
        }
        self.enqueue(&mut outbox, out);
        // A handler replying from the connection's own task, or a burst of publishes before
        // the task has run, costs no wake-up (a self-wake would poll the task once more per
        // message). Control frames always wake: the task may be waiting on a full socket with
        // data queued, and a Ping or Close must reach the core regardless.
        if control || !self.core.awake.load(Ordering::SeqCst) {
            self.wake(outbox);
        }
        Sent::Queued
    }

    /// Appends to the queue (`outbox` is this handle's, locked).
    fn enqueue(&self, outbox: &mut Outbox, out: Out) {
        outbox.items.push_back(out);
        self.core.has_items.store(true, Ordering::SeqCst);
    }

    /// Takes the task's waker out of `outbox` (this handle's, locked) to wake it.
    pub(crate) fn take_waker(&self, outbox: &mut Outbox) -> Option<Waker> {
        self.core.waker_held.store(false, Ordering::Relaxed);
        outbox.waker.take()
    }

    /// Marks the task awake and wakes it if it waits (`outbox` is this handle's, locked).
    fn wake(&self, mut outbox: MutexGuard<'_, Outbox>) {
        self.core.awake.store(true, Ordering::Relaxed);
        let waker = self.take_waker(&mut outbox);
        drop(outbox);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("id", &self.id())
            .field("peer", self.peer_addr())
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

/// A message to publish, encoded once: from a `&str`, `String`, [`Utf8Bytes`] (text),
/// `Vec<u8>`, [`Bytes`] (binary), a [`Message`] (text or binary; others publish nothing) or a
/// [`PreparedFrame`].
#[derive(Debug, Clone)]
pub struct Publish(pub(crate) PreparedFrame);

impl From<PreparedFrame> for Publish {
    fn from(frame: PreparedFrame) -> Self {
        Publish(frame)
    }
}
impl From<&PreparedFrame> for Publish {
    fn from(frame: &PreparedFrame) -> Self {
        Publish(frame.clone())
    }
}
impl From<&str> for Publish {
    fn from(text: &str) -> Self {
        Publish(PreparedFrame::text(text.to_owned()))
    }
}
impl From<String> for Publish {
    fn from(text: String) -> Self {
        Publish(PreparedFrame::text(text))
    }
}
impl From<Utf8Bytes> for Publish {
    fn from(text: Utf8Bytes) -> Self {
        Publish(PreparedFrame::text(text))
    }
}
impl From<Vec<u8>> for Publish {
    fn from(data: Vec<u8>) -> Self {
        Publish(PreparedFrame::binary(data))
    }
}
impl From<Bytes> for Publish {
    fn from(data: Bytes) -> Self {
        Publish(PreparedFrame::binary(data))
    }
}
impl From<Message> for Publish {
    fn from(message: Message) -> Self {
        match message {
            Message::Text(t) => Publish(PreparedFrame::text(t)),
            Message::Binary(b) => Publish(PreparedFrame::binary(b)),
            _ => Publish(PreparedFrame::binary(Bytes::new())),
        }
    }
}

/// A connection as its handlers see it: the [`Handle`] (by `Deref`: send, close, publish,
/// request details, lag) and the per-connection data the upgrade hook chose.
pub struct Conn<D = ()> {
    handle: Handle,
    data: Arc<D>,
}

impl<D> Conn<D> {
    pub(crate) fn new(handle: Handle, data: D) -> Self {
        Conn { handle, data: Arc::new(data) }
    }

    /// The per-connection data (from the upgrade hook; `()` without one). Shared by every
    /// clone of this `Conn`: put what changes behind a `Mutex` or atomics.
    pub fn data(&self) -> &D {
        &self.data
    }

    /// The send handle alone (not generic, for collections of connections of any route).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl<D> Clone for Conn<D> {
    fn clone(&self) -> Self {
        Conn { handle: self.handle.clone(), data: Arc::clone(&self.data) }
    }
}

impl<D> Deref for Conn<D> {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl<D: fmt::Debug> fmt::Debug for Conn<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").field("handle", &self.handle).field("data", &self.data).finish()
    }
}
