//! The outgoing byte queue.
//!
//! Small frames are appended (header and payload together) to one contiguous `tail` buffer, so a
//! burst of small messages becomes one write. Large payloads are queued as their own `Bytes`
//! chunk without copying, behind an inline header chunk, so an adapter writes header and
//! payload with one vectored write. Order is preserved: every chunk in `chunks` precedes `tail`.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::Connection;
use crate::frame::MAX_HEADER_LEN;

/// Largest tail buffer kept for reuse once it has been written out.
const TAIL_KEEP: usize = 1 << 20;

/// One queued piece: shared bytes, or a frame header kept inline (so a large payload queued
/// without copying costs no allocation and no split of the tail buffer for its header).
#[derive(Debug)]
enum Chunk {
    Shared(Bytes),
    Header { buf: [u8; MAX_HEADER_LEN], start: u8, end: u8 },
}

impl Chunk {
    fn as_slice(&self) -> &[u8] {
        match self {
            Chunk::Shared(b) => b,
            Chunk::Header { buf, start, end } => &buf[*start as usize..*end as usize],
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn advance(&mut self, n: usize) {
        match self {
            Chunk::Shared(b) => b.advance(n),
            Chunk::Header { start, .. } => *start += n as u8,
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Chunk::Shared(b) => b,
            h @ Chunk::Header { .. } => Bytes::copy_from_slice(h.as_slice()),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct TxQueue {
    chunks: VecDeque<Chunk>,
    tail: BytesMut,
    /// Bytes at the front of `tail` already written. Kept as an offset rather than advancing
    /// the buffer, so that once all of it is written the whole capacity is reused from the
    /// start without `reserve` having to reclaim it for every small frame.
    sent: usize,
    len: usize,
}

impl TxQueue {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Room to append small frames at the end of the queue.
    pub(crate) fn tail(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Records that `n` bytes were appended through [`tail`](Self::tail).
    pub(crate) fn appended(&mut self, n: usize) {
        self.len += n;
    }

    /// What the tail holds that is not written yet.
    fn unsent_tail(&self) -> &[u8] {
        &self.tail[self.sent..]
    }

    /// Takes what the tail holds that is not written yet, as shared bytes.
    fn split_tail(&mut self) -> Bytes {
        self.tail.advance(std::mem::take(&mut self.sent));
        self.tail.split().freeze()
    }

    /// Moves what the tail holds into the chunk list, so a chunk can follow it in order.
    fn seal_tail(&mut self) {
        if self.sent < self.tail.len() {
            let unsent = self.split_tail();
            self.chunks.push_back(Chunk::Shared(unsent));
        }
    }

    /// Queues a frame header followed by its payload, after everything already queued.
    pub(crate) fn push_frame(&mut self, header: &[u8], payload: Bytes) {
        self.seal_tail();
        let mut buf = [0u8; MAX_HEADER_LEN];
        buf[..header.len()].copy_from_slice(header);
        self.chunks.push_back(Chunk::Header { buf, start: 0, end: header.len() as u8 });
        self.len += header.len() + payload.len();
        if !payload.is_empty() {
            self.chunks.push_back(Chunk::Shared(payload));
        }
    }

    /// Queues a chunk after everything already queued.
    pub(crate) fn push_chunk(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.seal_tail();
        self.len += chunk.len();
        self.chunks.push_back(Chunk::Shared(chunk));
    }

    /// Nothing is queued, yet buffers are allocated.
    pub(crate) fn holds_idle_memory(&self) -> bool {
        self.len == 0 && (self.tail.capacity() > 0 || self.chunks.capacity() > 0)
    }

    pub(crate) fn release_if_empty(&mut self) {
        if self.len == 0 {
            self.tail = BytesMut::new();
            self.sent = 0;
            self.chunks = VecDeque::new();
        }
    }

    fn pop(&mut self) -> Option<Bytes> {
        let chunk = match self.chunks.pop_front() {
            Some(c) => c.into_bytes(),
            None if self.sent < self.tail.len() => self.split_tail(),
            None => return None,
        };
        self.len -= chunk.len();
        Some(chunk)
    }

    fn advance(&mut self, mut n: usize) {
        assert!(n <= self.len, "advance_transmit past the end of the queued bytes");
        self.len -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(c) if c.len() <= n => {
                    n -= c.len();
                    self.chunks.pop_front();
                }
                Some(c) => {
                    c.advance(n);
                    return;
                }
                None => {
                    self.sent += n;
                    break;
                }
            }
        }
        if self.sent == self.tail.len() {
            self.sent = 0;
            if self.tail.capacity() > TAIL_KEEP {
                // Grown for an unusually large copied frame: give it back.
                self.tail = BytesMut::new();
            } else {
                // Lets the next append reuse the buffer from its start.
                self.tail.clear();
            }
        }
    }
}

/// The queued outgoing bytes as slices, in order: from [`Connection::transmit_chunks`].
#[derive(Debug)]
pub struct TransmitChunks<'a> {
    chunks: std::collections::vec_deque::Iter<'a, Chunk>,
    tail: Option<&'a [u8]>,
}

impl<'a> Iterator for TransmitChunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self.chunks.next() {
            Some(c) => Some(c.as_slice()),
            None => self.tail.take(),
        }
    }
}

impl Connection {
    /// Takes the next chunk of bytes to write, or `None` if nothing is queued.
    ///
    /// Chunks are whole frames or parts of frames; write them in order. For vectored writes use
    /// [`transmit_chunks`](Self::transmit_chunks) and [`advance_transmit`](Self::advance_transmit)
    /// instead (they avoid taking ownership of each chunk).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.tx.pop()
    }

    /// The queued outgoing bytes as an ordered sequence of slices, for a vectored write. Call
    /// [`advance_transmit`](Self::advance_transmit) with the number of bytes written.
    pub fn transmit_chunks(&self) -> TransmitChunks<'_> {
        let unsent = self.tx.unsent_tail();
        let tail = (!unsent.is_empty()).then_some(unsent);
        TransmitChunks { chunks: self.tx.chunks.iter(), tail }
    }

    /// Marks `n` bytes from the front of the transmit queue as written.
    ///
    /// # Panics
    /// If `n` exceeds [`transmit_len`](Self::transmit_len): that is a bug in the adapter.
    pub fn advance_transmit(&mut self, n: usize) {
        self.tx.advance(n);
    }

    /// Number of bytes queued for sending. Adapters compare it with their high-water mark to
    /// apply backpressure.
    pub fn transmit_len(&self) -> usize {
        self.tx.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(q: &TxQueue) -> Vec<u8> {
        let mut out: Vec<u8> = q.chunks.iter().flat_map(|c| c.as_slice().iter().copied()).collect();
        out.extend_from_slice(q.unsent_tail());
        out
    }

    #[test]
    fn preserves_order_and_advances_across_chunks() {
        let mut q = TxQueue::default();
        q.tail().extend_from_slice(b"ab");
        q.appended(2);
        q.push_chunk(Bytes::from_static(b"cdef"));
        q.tail().extend_from_slice(b"gh");
        q.appended(2);
        assert_eq!(collect(&q), b"abcdefgh");
        assert_eq!(q.len(), 8);
        q.advance(3);
        assert_eq!(collect(&q), b"defgh");
        q.advance(4);
        assert_eq!(collect(&q), b"h");
        assert_eq!(q.pop().as_deref(), Some(&b"h"[..]));
        assert_eq!(q.pop(), None);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_written_tail_is_reused_whole_from_its_start() {
        let mut q = TxQueue::default();
        q.tail().reserve(64);
        let start = q.tail.as_ptr();
        let capacity = q.tail.capacity();
        for round in 0..100u8 {
            q.tail().extend_from_slice(&[round; 22]);
            q.appended(22);
            assert_eq!(collect(&q), [round; 22]);
            // Written in two pieces: the unsent part is what remains, then nothing.
            q.advance(5);
            assert_eq!(collect(&q), [round; 17]);
            q.advance(17);
            assert_eq!(q.len(), 0);
            assert_eq!(collect(&q), b"");
            // The whole allocation is room again: nothing to reclaim before the next frame.
            assert_eq!((q.tail.as_ptr(), q.tail.capacity()), (start, capacity), "round {round}");
        }
        // Partly written, then taken as a chunk: only the unsent bytes.
        q.tail().extend_from_slice(b"abcdef");
        q.appended(6);
        q.advance(2);
        assert_eq!(q.pop().as_deref(), Some(&b"cdef"[..]));
        assert_eq!(q.len(), 0);
        // Partly written, then sealed behind a chunk: order kept, written bytes not resent.
        q.tail().extend_from_slice(b"ghij");
        q.appended(4);
        q.advance(1);
        q.push_chunk(Bytes::from_static(b"kl"));
        assert_eq!(collect(&q), b"hijkl");
        assert_eq!(q.len(), 5);
    }
}
