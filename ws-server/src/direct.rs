//! A callback handler's sends to its own connection, without the send handle's queue.
//!
//! `on_open`, `on_message` and `on_fragment` run on their connection's task, which holds the
//! connection itself. While one runs, the task lends its connection to a thread-local slot
//! (moving the box, not the connection) together with the connection's id; a send through that
//! connection's [`Handle`] with nothing queued before it (so that order is kept) and within the
//! backpressure bound goes straight into the connection there, without the queue's lock and
//! without being held anywhere in between. The slot gives the connection back when the handler
//! returns, or unwinds. Everything else (sends to other connections, from other tasks, control
//! frames, a send that meets the bound's policy) takes the queue as before.

use std::cell::RefCell;
use std::sync::atomic::Ordering;

use ws_proto::State;
use ws_tokio::WebSocket;

use crate::ServerStream;
use crate::conn::{ConnId, Core, Handle, Sent};
use ws_proto::Connection;

type Ws = Box<WebSocket<ServerStream>>;

struct Lent {
    /// The connection whose handler runs on this thread now, if any.
    id: Option<ConnId>,
    /// That connection, lent by its task for the handler's duration.
    ws: Option<Ws>,
}

thread_local! {
    static LENT: RefCell<Lent> = const { RefCell::new(Lent { id: None, ws: None }) };
}

/// Hands `payload` (`len` bytes of data) to the connection with `send` if `handle` is the one
/// whose handler runs on this thread and it may skip the queue; gives it back otherwise.
#[inline(always)]
pub(crate) fn send<P>(
    handle: &Handle,
    payload: P,
    len: usize,
    send: impl FnOnce(P, &mut Connection),
) -> Result<Sent, P> {
    let core = &handle.core;
    if core.has_items.load(Ordering::Relaxed) {
        return Err(payload); // behind what is queued
    }
    // The thread-local is touched only to take the connection out and to put it back: `payload`
    // stays in this frame (no move into a closure and back out of it).
    let mut borrowed = Borrowed::take(core.id);
    let Some(ws) = borrowed.0.as_mut() else { return Err(payload) };
    // The queue's rule with an empty queue: its first message always fits.
    let buffered = ws.buffered_amount();
    if buffered > 0 && buffered + len > core.max_backpressure {
        return Err(payload); // the policy decides, under the queue's lock
    }
    if ws.state() != State::Open {
        return Ok(Sent::Closed);
    }
    core.counts.sent(len);
    send(payload, ws.connection_mut());
    // Senders elsewhere see these bytes in the bound at once.
    core.socket_buffered.store(ws.buffered_amount(), Ordering::Relaxed);
    Ok(Sent::Queued)
    // `borrowed` puts the connection back here (or while unwinding).
}

/// The lent connection, taken out of the thread-local slot for one send; put back when
/// dropped.
struct Borrowed(Option<Ws>);

impl Borrowed {
    /// The connection lent for `id` on this thread, if any (and not already taken).
    #[inline]
    fn take(id: ConnId) -> Self {
        Borrowed(LENT.with(|cell| {
            let mut lent = cell.try_borrow_mut().ok()?;
            if lent.id != Some(id) {
                return None;
            }
            lent.ws.take()
        }))
    }
}

impl Drop for Borrowed {
    #[inline(always)]
    fn drop(&mut self) {
        if self.0.is_none() {
            return;
        }
        LENT.with(|cell| {
            if let Ok(mut lent) = cell.try_borrow_mut() {
                // The slot is empty while the connection is borrowed from it: nothing to drop.
                std::mem::swap(&mut lent.ws, &mut self.0);
            }
        });
    }
}

/// Runs `handler` with `slot`'s connection lent for direct sends (only while it is open), and
/// takes it back afterwards.
#[inline(always)]
pub(crate) fn run<R>(slot: &mut Option<Ws>, core: &Core, handler: impl FnOnce() -> R) -> R {
    let lend = slot.as_ref().is_some_and(|ws| ws.state() == State::Open);
    if !lend {
        return handler();
    }
    let lender = Lender { slot };
    LENT.with(|cell| {
        let mut lent = cell.borrow_mut();
        lent.id = Some(core.id);
        // Swapped, not assigned: the slot held nothing, so there is nothing to drop.
        std::mem::swap(&mut lent.ws, lender.slot);
    });
    handler()
    // `lender` takes the connection back here, or while unwinding.
}

/// Gives the lent connection back to its task's slot when dropped.
struct Lender<'a> {
    slot: &'a mut Option<Ws>,
}

impl Drop for Lender<'_> {
    #[inline]
    fn drop(&mut self) {
        LENT.with(|cell| {
            if let Ok(mut lent) = cell.try_borrow_mut() {
                lent.id = None;
                std::mem::swap(self.slot, &mut lent.ws);
            }
        });
    }
}
