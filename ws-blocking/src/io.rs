//! IO helpers shared by the whole-connection and the split paths: vectored write loops, and read
//! and write timeouts that follow the connection's deadlines.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::time::{Duration, Instant};

use ws_proto::{Bytes, Connection, State};

use crate::transport::Transport;

/// Shortest read timeout ever set: zero means "no timeout" to the OS.
pub(crate) const MIN_WAIT: Duration = Duration::from_millis(1);

/// A timer may fire this much late when that saves re-arming the socket's read timeout.
const TIMER_SLACK: Duration = Duration::from_millis(5);

/// The stack buffer reads at a frame boundary go through (the whole connection and the read
/// half alike).
pub(crate) const SCRATCH_LEN: usize = 8 << 10;

/// Most slices handed to one vectored write.
const MAX_SLICES: usize = 64;

/// A read or write that ran out of time (or would block on a non-blocking stream).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// How long writes may block: the application's write timeout, and once the connection is
/// closing at most until the core's next deadline (a peer that stopped reading cannot hold a
/// closing connection longer than the core allows).
pub(crate) fn write_timeout_for(conn: &Connection, user: Option<Duration>) -> Option<Duration> {
    if conn.state() == State::Open {
        return user;
    }
    let left =
        conn.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()).max(MIN_WAIT));
    match (user, left) {
        (Some(u), Some(l)) => Some(u.min(l)),
        (u, l) => u.or(l),
    }
}

/// After a failed write: a timeout leaves the connection to the core's timers (intact while
/// open; once closing the core decides when to give up); any other failure ends it. Returns
/// whether it ended.
pub(crate) fn end_after_write_error(conn: &mut Connection, e: &io::Error) -> bool {
    if is_timeout(e) {
        conn.handle_timeout(Instant::now());
        return conn.is_finished();
    }
    conn.handle_transport_error(Instant::now());
    true
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
