//! In-memory transports, so codecs can be measured without sockets.
//!
//! * [`MemStream`] serves a fixed input (once, or repeated forever) and swallows what is
//!   written: a server reading a busy connection, or a writer whose socket never pushes back.
//! * [`pipe`] makes two connected ends, for client↔server round trips in one thread.
//!
//! Both implement the blocking `std::io` traits (for tungstenite) and tokio's async traits (for
//! fastwebsockets). They are always ready, so [`block_on`] drives their futures without a
//! runtime.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Runs a future that never waits on anything outside this thread to completion.
///
/// # Panics
/// If the future is still pending after many polls: with in-memory transports that means it
/// waits for input that will never come (a bug in the benchmark).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("an in-memory future did not complete: it waits for input that never comes");
}

/// Reads come from a fixed input, in pieces no larger than the reader asks for; writes are
/// counted and dropped (or kept, see [`MemStream::capturing`]).
#[derive(Debug)]
pub struct MemStream<'a> {
    input: &'a [u8],
    pos: usize,
    repeat: bool,
    written: usize,
    capture: Option<Vec<u8>>,
}

impl<'a> MemStream<'a> {
    /// A stream whose reads return `input` and then end of stream.
    pub fn new(input: &'a [u8]) -> Self {
        MemStream { input, pos: 0, repeat: false, written: 0, capture: None }
    }

    /// A stream whose reads return `input` over and over, filling every read completely, like
    /// a socket that always has more queued: a benchmark can read from it in steady state for
    /// as many iterations as it likes. `input` must not be empty.
    pub fn repeating(input: &'a [u8]) -> Self {
        assert!(!input.is_empty(), "a repeating stream needs input");
        MemStream { repeat: true, ..Self::new(input) }
    }

    /// Like [`new`](Self::new), but writes are kept for [`output`](Self::output).
    pub fn capturing(input: &'a [u8]) -> Self {
        MemStream { capture: Some(Vec::new()), ..Self::new(input) }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Total bytes written.
    pub fn written(&self) -> usize {
        self.written
    }

    /// What was written, for a capturing stream.
    pub fn output(&self) -> &[u8] {
        self.capture.as_deref().unwrap_or_default()
    }

    fn take(&mut self, max: usize) -> &'a [u8] {
        let n = max.min(self.remaining());
        let out = &self.input[self.pos..self.pos + n];
        self.pos += n;
        out
    }

    fn put(&mut self, data: &[u8]) {
        self.written += data.len();
        if let Some(c) = &mut self.capture {
            c.extend_from_slice(data);
        }
    }
}

impl Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        loop {
            let src = self.take(buf.len() - n);
            buf[n..n + src.len()].copy_from_slice(src);
            n += src.len();
            if !self.repeat || n == buf.len() {
                return Ok(n);
            }
            self.pos = 0;
        }
    }
}

impl Write for MemStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        bufs.iter().for_each(|b| self.put(b));
        Ok(bufs.iter().map(|b| b.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // `put_slice` writes into the uninitialised part directly: no zeroing that a real
        // socket read would not do either.
        let this = self.get_mut();
        loop {
            let src = this.take(buf.remaining());
            buf.put_slice(src);
            if !this.repeat || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            this.pos = 0;
        }
    }
}

/// Implements tokio's `AsyncWrite` for an always-ready type through its `std::io::Write`.
macro_rules! async_write_via_write {
    ($($t:ty),+) => {$(
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(self.get_mut().write(buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(self.get_mut().write_vectored(bufs))
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
    )+};
}

async_write_via_write!(MemStream<'_>, PipeEnd);

#[derive(Debug, Default)]
struct Queue {
    buf: Vec<u8>,
    pos: usize,
}

impl Queue {
    /// Takes up to `max` queued bytes.
    fn take(&mut self, max: usize) -> &[u8] {
        let n = max.min(self.buf.len() - self.pos);
        let start = self.pos;
        self.pos += n;
        &self.buf[start..start + n]
    }

    /// Lets the next write reuse the buffer from its start once everything was read.
    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }
}

/// One end of a [`pipe`]. Reading an empty pipe would block: the blocking traits return
/// `WouldBlock`, the async ones `Pending`.
#[derive(Debug)]
pub struct PipeEnd {
    rx: Rc<RefCell<Queue>>,
    tx: Rc<RefCell<Queue>>,
}

/// Two connected in-memory ends: what one writes, the other reads. Single-threaded.
pub fn pipe() -> (PipeEnd, PipeEnd) {
    let (a, b) = (Rc::new(RefCell::new(Queue::default())), Rc::new(RefCell::new(Queue::default())));
    (PipeEnd { rx: a.clone(), tx: b.clone() }, PipeEnd { rx: b, tx: a })
}

impl PipeEnd {
    /// Bytes written by the other end and not read yet.
    pub fn pending(&self) -> usize {
        let q = self.rx.borrow();
        q.buf.len() - q.pos
    }
}

impl Read for PipeEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut q = self.rx.borrow_mut();
        let src = q.take(buf.len());
        let n = src.len();
        buf[..n].copy_from_slice(src);
        q.compact();
        match n {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

impl Write for PipeEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx.borrow_mut().buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut q = self.tx.borrow_mut();
        bufs.iter().for_each(|b| q.buf.extend_from_slice(b));
        Ok(bufs.iter().map(|b| b.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for PipeEnd {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut q = self.rx.borrow_mut();
        let src = q.take(buf.remaining());
        if src.is_empty() && buf.remaining() > 0 {
            return Poll::Pending;
        }
        buf.put_slice(src);
        q.compact();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aread<'a>(
        r: &'a mut (impl AsyncRead + Unpin),
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        tokio::io::AsyncReadExt::read(r, buf)
    }

    #[test]
    fn mem_stream_serves_input_in_requested_pieces() {
        let data: Vec<u8> = (0..100).collect();
        let mut s = MemStream::capturing(&data);
        let mut buf = [0u8; 30];
        assert_eq!(s.read(&mut buf).unwrap(), 30);
        assert_eq!(buf[29], 29);
        let rest = block_on(async {
            let mut v = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut s, &mut v).await.unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut s, b"xy").await.unwrap();
            v
        });
        assert_eq!(rest.len(), 70);
        assert_eq!((s.written(), s.output()), (2, &b"xy"[..]));
    }

    #[test]
    fn repeating_stream_fills_every_read() {
        let mut s = MemStream::repeating(b"abc");
        let mut buf = [0u8; 8];
        assert_eq!(s.read(&mut buf).unwrap(), 8);
        assert_eq!(&buf, b"abcabcab");
        assert_eq!(block_on(aread(&mut s, &mut buf[..2])).unwrap(), 2);
        assert_eq!(&buf[..2], b"ca");
    }

    #[test]
    fn pipe_connects_both_ways_and_would_block_when_empty() {
        let (mut a, mut b) = pipe();
        a.write_all(b"ping").unwrap();
        assert_eq!(b.pending(), 4);
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&mut buf).unwrap(), 4);
        assert_eq!(b.read(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        block_on(tokio::io::AsyncWriteExt::write_all(&mut b, b"pong")).unwrap();
        assert_eq!(block_on(aread(&mut a, &mut buf)).unwrap(), 4);
        assert_eq!(&buf[..4], b"pong");
    }

    #[test]
    #[should_panic(expected = "did not complete")]
    fn block_on_refuses_to_spin_forever() {
        let (_a, mut b) = pipe();
        let mut buf = [0u8; 1];
        let _ = block_on(aread(&mut b, &mut buf));
    }
}
