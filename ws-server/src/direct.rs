//! A callback handler's sends to its own connection, without the send handle's queue.
//!
//! `on_open`, `on_message` and `on_fragment` run on their connection's task, which holds the
//! connection itself. While one runs, its connection's id sits in a thread-local slot; a send
//! through that connection's [`Handle`] with nothing queued before it (so that order is kept)
//! and within the backpressure bound is staged here instead of going through the queue's lock,
//! and the task hands the staged messages to the connection as soon as the handler returns.
//! Everything else (sends to other connections, from other tasks, control frames, a send that
//! meets the bound's policy) takes the queue as before.

use std::cell::RefCell;
use std::sync::atomic::Ordering;

use ws_proto::State;
use ws_tokio::WebSocket;

use crate::ServerStream;
use crate::conn::{ConnId, Core, Handle, Out, Sent};

struct Running {
    /// The connection whose handler runs on this thread now, if any.
    id: Option<ConnId>,
    /// What it sent, in order.
    staged: Vec<Out>,
}

thread_local! {
    static RUNNING: RefCell<Running> = const { RefCell::new(Running { id: None, staged: Vec::new() }) };
}

/// Stages `out` (`len` bytes of data) if `handle` is the connection whose handler runs on this
/// thread and it may skip the queue; gives it back otherwise.
pub(crate) fn stage(handle: &Handle, out: Out, len: usize) -> Result<Sent, Out> {
    RUNNING.with(|cell| {
        let Ok(mut running) = cell.try_borrow_mut() else { return Err(out) };
        let core = &handle.core;
        if running.id != Some(core.id) || core.has_items.load(Ordering::Relaxed) {
            return Err(out);
        }
        // The queue's rule with an empty queue: its first message always fits.
        let buffered = core.socket_buffered.load(Ordering::Relaxed);
        if buffered > 0 && buffered + len > core.max_backpressure {
            return Err(out); // the policy decides, under the queue's lock
        }
        // Senders elsewhere see these bytes in the bound until the task next measures them.
        core.socket_buffered.store(buffered + len, Ordering::Relaxed);
        running.staged.push(out);
        Ok(Sent::Queued)
    })
}

/// Runs `handler` with direct sends to `core`'s connection enabled (only while it is open),
/// then hands what it staged to `ws`.
pub(crate) fn run<R>(
    ws: &mut WebSocket<ServerStream>,
    core: &Core,
    handler: impl FnOnce() -> R,
) -> R {
    if ws.state() != State::Open {
        return handler();
    }
    RUNNING.with(|cell| {
        let mut running = cell.borrow_mut();
        running.id = Some(core.id);
        running.staged.clear();
    });
    let entered = Entered;
    let result = handler();
    // Returned normally: the slot is emptied below, with the staged messages handed over.
    std::mem::forget(entered);
    RUNNING.with(|cell| {
        let mut running = cell.borrow_mut();
        running.id = None;
        if running.staged.is_empty() {
            return;
        }
        let conn = ws.connection_mut();
        for out in running.staged.drain(..) {
            out.deliver(conn, &core.counts);
        }
    });
    result
}

/// Leaves the slot empty if the handler panics.
struct Entered;

impl Drop for Entered {
    fn drop(&mut self) {
        RUNNING.with(|cell| {
            if let Ok(mut running) = cell.try_borrow_mut() {
                running.id = None;
            }
        });
    }
}
