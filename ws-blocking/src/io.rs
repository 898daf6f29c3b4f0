//! IO helpers shared by the whole-connection and the split paths: vectored write loops, read
//! timeouts that follow the connection's deadlines, deadline-bounded handshake IO and the drain
//! after closing.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::time::{Duration, Instant};

use ws_proto::{Bytes, Connection, State};

use crate::error::Error;
use crate::transport::Transport;

/// Shortest read timeout ever set: zero means "no timeout" to the OS.
pub(crate) const MIN_WAIT: Duration = Duration::from_millis(1);

/// A timer may fire this much late when that saves re-arming the socket's read timeout.
const TIMER_SLACK: Duration = Duration::from_millis(5);

/// Most slices handed to one vectored write.
const MAX_SLICES: usize = 64;

/// A read or write that ran out of time (or would block on a non-blocking stream).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The transport failed: end the connection as if the peer vanished and drop what can never be
/// written.
pub(crate) fn fail_transport(conn: &mut Connection) {
    conn.handle_eof(Instant::now());
    let queued = conn.transmit_len();
    conn.advance_transmit(queued);
}

/// How long writes may block: the application's write timeout, and while closing at most the
/// close timeout (a peer that stopped reading cannot hold a closing connection forever).
pub(crate) fn write_timeout_for(conn: &Connection, user: Option<Duration>) -> Option<Duration> {
    let close = conn.config().close_timeout;
    match conn.state() {
        State::Open => user,
        _ => Some(user.map_or(close, |t| t.min(close))),
    }
}

/// After a failed write: a timeout while open leaves the connection intact; any other failure,
/// or a timeout while closing, ends it. Returns whether it ended.
pub(crate) fn end_after_write_error(conn: &mut Connection, e: &io::Error) -> bool {
    let fatal = !is_timeout(e) || conn.state() != State::Open;
    if fatal {
        fail_transport(conn);
    }
    fatal
}

/// An ordered queue of byte chunks that a vectored write loop drains.
pub(crate) trait Outbox {
    /// Bytes still queued.
    fn queued(&self) -> usize;
    /// Points `slices` at the first chunks; returns how many were filled.
    fn fill<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize;
    /// Drops `n` written bytes from the front.
    fn consume(&mut self, n: usize);
}

impl Outbox for Connection {
    fn queued(&self) -> usize {
        self.transmit_len()
    }

    fn fill<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        fill_slices(self.transmit_chunks(), slices)
    }

    fn consume(&mut self, n: usize) {
        self.advance_transmit(n);
    }
}

fn fill_slices<'a>(chunks: impl Iterator<Item = &'a [u8]>, slices: &mut [IoSlice<'a>]) -> usize {
    let mut filled = 0;
    for (slot, chunk) in slices.iter_mut().zip(chunks) {
        *slot = IoSlice::new(chunk);
        filled += 1;
    }
    filled
}

/// Writes from `out` with vectored writes until at most `keep` bytes remain. A partial write
/// is recorded before any error is returned, so a timed-out call loses and repeats nothing.
pub(crate) fn write_outbox<W, O>(w: &mut W, out: &mut O, keep: usize) -> io::Result<()>
where
    W: Write + ?Sized,
    O: Outbox + ?Sized,
{
    while out.queued() > keep {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let filled = out.fill(&mut slices);
        match w.write_vectored(&slices[..filled]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => out.consume(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Owned chunks waiting to be written (the split halves' bytes in flight).
#[derive(Debug, Default)]
pub(crate) struct ByteQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl ByteQueue {
    pub(crate) fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// Takes up to `max` bytes from the front (splitting a chunk without copying).
    pub(crate) fn take_front(&mut self, max: usize) -> Vec<Bytes> {
        let mut taken = Vec::new();
        let mut budget = max;
        while budget > 0 {
            let Some(front) = self.chunks.front_mut() else { break };
            let piece = if front.len() <= budget {
                self.chunks.pop_front().unwrap_or_default()
            } else {
                front.split_to(budget)
            };
            budget -= piece.len();
            self.len -= piece.len();
            taken.push(piece);
        }
        taken
    }

    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
}

impl Outbox for ByteQueue {
    fn queued(&self) -> usize {
        self.len
    }

    fn fill<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        fill_slices(self.chunks.iter().map(|c| &c[..]), slices)
    }

    fn consume(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else { break };
            if front.len() <= n {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                let _ = front.split_to(n);
                n = 0;
            }
        }
    }
}

/// The read timeout last set on a stream, so that following the connection's deadlines does not
/// cost a system call per read.
#[derive(Debug, Default)]
pub(crate) struct ReadTimeouts {
    /// `None`: unknown (never set, or someone else may have changed it).
    applied: Option<Option<Duration>>,
    /// The stream cannot time reads out.
    unsupported: bool,
}

impl ReadTimeouts {
    /// Makes the next read on `t` block for about `want` (`None`: indefinitely). A timeout that
    /// is a little shorter (a spurious wake-up, the loop re-arms) or at most a few milliseconds
    /// longer than wanted is kept as it is.
    pub(crate) fn apply<T: Transport + ?Sized>(
        &mut self,
        t: &mut T,
        want: Option<Duration>,
    ) -> io::Result<()> {
        if self.unsupported {
            return Ok(());
        }
        let reuse = match (self.applied, want) {
            (Some(None), None) => true,
            (Some(Some(have)), Some(want)) => have <= want + TIMER_SLACK && have * 2 >= want,
            _ => false,
        };
        if !reuse {
            if t.set_read_timeout(want)? {
                self.applied = Some(want);
            } else {
                self.unsupported = true;
            }
        }
        Ok(())
    }

    /// Forgets what was applied (after the stream was handed out or used elsewhere).
    pub(crate) fn forget(&mut self) {
        self.applied = None;
    }
}

/// After shutting down the write side, reads and discards input until the peer's end of stream,
/// an error, or `limit`, so unread input does not make the OS answer with a reset that could
/// destroy the Close frame still in flight. Skipped for streams without read timeouts.
pub(crate) fn drain_input<T: Transport + ?Sized>(t: &mut T, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut scratch = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !matches!(t.set_read_timeout(Some(left.max(MIN_WAIT))), Ok(true)) {
            return;
        }
        match t.read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Bounds the stream's reads and writes by `deadline`: a TLS layer may read while writing and
/// write while reading, so both directions are armed. Fails once the deadline has passed.
fn arm_before<T: Transport + ?Sized>(t: &mut T, deadline: Instant) -> Result<(), Error> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Error::HandshakeTimeout);
    }
    t.set_read_timeout(Some(left.max(MIN_WAIT)))?;
    t.set_write_timeout(Some(left.max(MIN_WAIT)))?;
    Ok(())
}

/// One read for the opening handshake, failing with [`Error::HandshakeTimeout`] at `deadline`.
pub(crate) fn read_before<T: Transport + ?Sized>(
    t: &mut T,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<usize, Error> {
    loop {
        arm_before(t, deadline)?;
        match t.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes and flushes all of `data` for the opening handshake, failing with
/// [`Error::HandshakeTimeout`] at `deadline`.
pub(crate) fn write_all_before<T: Transport + ?Sized>(
    t: &mut T,
    mut data: &[u8],
    deadline: Instant,
) -> Result<(), Error> {
    loop {
        arm_before(t, deadline)?;
        let step = match data {
            [] => t.flush().map(|()| true),
            _ => t.write(data).and_then(|n| match n {
                0 => Err(io::ErrorKind::WriteZero.into()),
                n => {
                    data = &data[n..];
                    Ok(false)
                }
            }),
        };
        match step {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_queue_takes_and_consumes_across_chunks() {
        let mut q = ByteQueue::default();
        q.push(Bytes::from_static(b"abc"));
        q.push(Bytes::new());
        q.push(Bytes::from_static(b"defg"));
        assert_eq!(q.queued(), 7);
        let front: Vec<u8> = q.take_front(5).iter().flat_map(|b| b.to_vec()).collect();
        assert_eq!(front, b"abcde");
        assert_eq!(q.queued(), 2);
        q.push(Bytes::from_static(b"hij"));
        q.consume(3);
        let rest: Vec<u8> = q.take_front(usize::MAX).iter().flat_map(|b| b.to_vec()).collect();
        assert_eq!(rest, b"ij");
        assert_eq!(q.queued(), 0);
    }

    /// Accepts at most 3 bytes per write and fails every other call with a timeout.
    struct Choppy {
        out: Vec<u8>,
        calls: usize,
    }

    impl Write for Choppy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 2 == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(3);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_outbox_resumes_after_timeouts_without_loss() {
        let mut q = ByteQueue::default();
        for chunk in [&b"hello "[..], b"vectored ", b"world"] {
            q.push(Bytes::copy_from_slice(chunk));
        }
        let mut w = Choppy { out: Vec::new(), calls: 0 };
        let mut timeouts = 0;
        loop {
            match write_outbox(&mut w, &mut q, 0) {
                Ok(()) => break,
                Err(e) if is_timeout(&e) => timeouts += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(timeouts > 0);
        assert_eq!(w.out, b"hello vectored world");
    }

    #[test]
    fn write_outbox_keeps_the_requested_amount() {
        let mut q = ByteQueue::default();
        q.push(Bytes::from_static(b"0123456789"));
        let mut w = Choppy { out: Vec::new(), calls: 0 };
        while write_outbox(&mut w, &mut q, 4).is_err() {}
        assert!(q.queued() <= 4);
        assert_eq!(w.out.len() + q.queued(), 10);
    }
}
