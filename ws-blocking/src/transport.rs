//! What the adapter needs from a byte stream beyond `Read + Write`: read and write timeouts (to
//! run the connection's timers while a read blocks) and closing the write direction.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A blocking byte stream a [`WebSocket`](crate::WebSocket) can run on.
///
/// Implemented for [`TcpStream`], `UnixStream` (Unix), the rustls stream over any of them, and
/// [`MaybeTlsStream`](crate::MaybeTlsStream). Any other `Read + Write` type works through [`AnyStream`] (or an empty
/// `impl Transport for MyStream {}` for your own types), with these consequences:
///
/// * **No read timeouts**: a read blocks until data arrives. The connection's timers
///   (keepalive, pong, idle and close timeouts) and [`set_read_timeout`](crate::WebSocket::set_read_timeout)
///   then only take effect when the next bytes arrive, and the opening handshake is not bounded
///   by `Config::handshake_timeout`. The short drain after closing is skipped.
/// * **No write timeouts**: a write to a peer that stopped reading blocks indefinitely.
/// * **Closing** flushes the stream instead of half-closing it; dropping the
///   [`WebSocket`](crate::WebSocket) drops the stream.
///
/// Streams must be in blocking mode. (A non-blocking stream makes `recv` and `send` return
/// `WouldBlock` errors, which leave the connection intact, but the handshake functions spin.)
pub trait Transport: Read + Write {
    /// Bounds how long each following read may block (`None`: indefinitely). Returns `false` if
    /// this stream cannot time reads out.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let _ = timeout;
        Ok(false)
    }

    /// Bounds how long each following write may block (`None`: indefinitely). Returns `false`
    /// if this stream cannot time writes out.
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let _ = timeout;
        Ok(false)
    }

    /// Ends the write direction after everything written so far: a TCP FIN, preceded by a TLS
    /// `close_notify` on TLS streams. Reading stays possible.
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.flush()
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        TcpStream::set_read_timeout(self, timeout).map(|()| true)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        TcpStream::set_write_timeout(self, timeout).map(|()| true)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout).map(|()| true)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout).map(|()| true)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// Forwards to the stream behind a reference or a box.
macro_rules! forward_transport {
    ($($ty:ty),*) => {$(
        impl<T: Transport + ?Sized> Transport for $ty {
            fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
                (**self).set_read_timeout(timeout)
            }

            fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
                (**self).set_write_timeout(timeout)
            }

            fn shutdown_write(&mut self) -> io::Result<()> {
                (**self).shutdown_write()
            }
        }
    )*};
}

forward_transport!(&mut T, Box<T>);

/// Runs a WebSocket over any `Read + Write` type that has no timeouts and no half-close (an
/// in-memory pipe, a serial line, a stream from another library).
///
/// See [`Transport`] for what the missing timeouts mean: timers only run when bytes arrive.
///
/// ```
/// # use std::io::Cursor;
/// // Any Read + Write type; a real one would be connected to a peer.
/// let stream = ws_blocking::AnyStream(Cursor::new(Vec::<u8>::new()));
/// # let _ = stream;
/// ```
#[derive(Debug, Default, Clone)]
pub struct AnyStream<S>(pub S);

impl<S: Read> Read for AnyStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.read_vectored(bufs)
    }
}

impl<S: Write> Write for AnyStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<S: Read + Write> Transport for AnyStream<S> {}
