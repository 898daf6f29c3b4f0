//! Owned read and write halves of a connection, for two threads.
//!
//! The protocol state (one `ws_proto::Connection`) is shared behind a mutex that is only held
//! for short, non-blocking steps: feeding received bytes, taking queued bytes, issuing a
//! command. Blocking reads and writes happen outside it:
//!
//! * The read half owns its own handle to the socket (`try_clone`) and reads without a lock,
//!   then locks to feed what it read.
//! * Writing is a role, not a lock: the socket's write handle sits in the shared state while
//!   nobody writes. Whoever needs bytes written takes it out, takes the queued bytes, writes them
//!   without holding the lock, and puts it back. The read half writes the pongs, close replies
//!   and keepalive pings the core queued before it blocks on a read; if the write half holds the
//!   role at that moment, it leaves a request that the holder honours before giving the role
//!   back, so none of those frames is ever stranded.
//! * Under TLS both directions share one rustls session, kept behind its own mutex: the read
//!   half reads ciphertext from the socket without a lock and locks only to decrypt; the writer
//!   locks only to encrypt and writes the ciphertext itself. Records reach the socket in the
//!   order rustls produced them because only the writer role extracts them.

mod read;
mod shared;
mod write;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use ws_proto::Bytes;

pub use read::ReadHalf;
pub use write::WriteHalf;

use self::shared::Shared;
use crate::Error;
use crate::pump::RecvState;
use crate::stream::MaybeTlsStream;
use crate::transport::Transport;
use crate::websocket::{Io, WebSocket};

/// A stream whose connection can be [`split`](WebSocket::split) into halves for two threads.
///
/// Implemented for [`TcpStream`], `UnixStream`, rustls streams over them and
/// [`MaybeTlsStream`] over them: everything whose socket can be cloned.
pub trait SplitStream: Transport + Send + Sized + sealed::Split {}

impl<T: Transport + Send + sealed::Split> SplitStream for T {}

pub(crate) mod sealed {
    use super::*;

    /// How a stream comes apart into socket handles and the state both directions share.
    pub trait Split: Sized {
        /// The socket under any encryption.
        type Raw: Transport + Send + 'static;
        /// Turns socket bytes into application bytes and back (the identity, or TLS).
        type Codec: Codec;

        /// A second handle to the socket.
        fn clone_raw(&self) -> io::Result<Self::Raw>;

        /// The socket and the shared state.
        fn into_parts(self) -> (Self::Raw, Self::Codec);

        /// The inverse of [`into_parts`](Self::into_parts).
        fn from_parts(raw: Self::Raw, codec: Self::Codec) -> Self;
    }

    /// The layer between the socket and the WebSocket bytes.
    pub trait Codec: Send + 'static {
        /// Processes `raw` socket bytes (possibly none), passing the application bytes they
        /// complete to `plain`. Returns `true` once the peer ended its stream at this layer
        /// (TLS `close_notify`).
        fn decode(&mut self, raw: &[u8], plain: &mut dyn FnMut(&[u8])) -> io::Result<bool>;

        /// Encodes `plain` (possibly empty: only what the layer itself must send) for the
        /// socket.
        fn encode(&mut self, plain: Bytes) -> io::Result<Bytes>;

        /// The layer has bytes of its own to send (TLS alerts, key updates).
        fn wants_write(&self) -> bool;

        /// Ends the write direction at this layer (TLS `close_notify`): the bytes to send.
        fn shutdown(&mut self) -> io::Result<Bytes>;
    }
}

use sealed::{Codec, Split};

/// No layer: socket bytes are WebSocket bytes.
#[derive(Debug)]
pub struct PlainCodec;

impl Codec for PlainCodec {
    fn decode(&mut self, raw: &[u8], plain: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        plain(raw);
        Ok(false)
    }

    fn encode(&mut self, plain: Bytes) -> io::Result<Bytes> {
        Ok(plain)
    }

    fn wants_write(&self) -> bool {
        false
    }

    fn shutdown(&mut self) -> io::Result<Bytes> {
        Ok(Bytes::new())
    }
}

macro_rules! split_socket {
    ($ty:ty) => {
        impl Split for $ty {
            type Raw = $ty;
            type Codec = PlainCodec;

            fn clone_raw(&self) -> io::Result<$ty> {
                self.try_clone()
            }

            fn into_parts(self) -> ($ty, PlainCodec) {
                (self, PlainCodec)
            }

            fn from_parts(raw: $ty, _codec: PlainCodec) -> Self {
                raw
            }
        }
    };
}

split_socket!(TcpStream);
#[cfg(unix)]
split_socket!(std::os::unix::net::UnixStream);

/// The codec of a [`MaybeTlsStream`].
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsCodec {
    /// No TLS.
    Plain,
    /// A client TLS session.
    #[cfg(feature = "tls")]
    Tls(crate::tls::TlsCodec<rustls::ClientConnection>),
    /// A server TLS session.
    #[cfg(feature = "tls")]
    ServerTls(crate::tls::TlsCodec<rustls::ServerConnection>),
}

macro_rules! each_codec {
    ($codec:expr, $c:ident => $body:expr, $plain:expr) => {
        match $codec {
            MaybeTlsCodec::Plain => $plain,
            #[cfg(feature = "tls")]
            MaybeTlsCodec::Tls($c) => $body,
            #[cfg(feature = "tls")]
            MaybeTlsCodec::ServerTls($c) => $body,
        }
    };
}

impl Codec for MaybeTlsCodec {
    fn decode(&mut self, raw: &[u8], plain: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        each_codec!(self, c => c.decode(raw, plain), PlainCodec.decode(raw, plain))
    }

    fn encode(&mut self, plain: Bytes) -> io::Result<Bytes> {
        each_codec!(self, c => c.encode(plain), PlainCodec.encode(plain))
    }

    fn wants_write(&self) -> bool {
        each_codec!(self, c => c.wants_write(), false)
    }

    fn shutdown(&mut self) -> io::Result<Bytes> {
        each_codec!(self, c => c.shutdown(), Ok(Bytes::new()))
    }
}

impl<R> Split for MaybeTlsStream<R>
where
    R: Split<Raw = R, Codec = PlainCodec> + Read + Write + Transport + Send + 'static,
{
    type Raw = R;
    type Codec = MaybeTlsCodec;

    fn clone_raw(&self) -> io::Result<R> {
        self.get_ref().clone_raw()
    }

    fn into_parts(self) -> (R, MaybeTlsCodec) {
        match self {
            MaybeTlsStream::Plain(raw) => (raw, MaybeTlsCodec::Plain),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => {
                let (raw, codec) = Split::into_parts(*s);
                (raw, MaybeTlsCodec::Tls(codec))
            }
            #[cfg(feature = "tls")]
            MaybeTlsStream::ServerTls(s) => {
                let (raw, codec) = Split::into_parts(*s);
                (raw, MaybeTlsCodec::ServerTls(codec))
            }
        }
    }

    fn from_parts(raw: R, codec: MaybeTlsCodec) -> Self {
        match codec {
            MaybeTlsCodec::Plain => MaybeTlsStream::Plain(raw),
            #[cfg(feature = "tls")]
            MaybeTlsCodec::Tls(c) => MaybeTlsStream::Tls(Box::new(Split::from_parts(raw, c))),
            #[cfg(feature = "tls")]
            MaybeTlsCodec::ServerTls(c) => {
                MaybeTlsStream::ServerTls(Box::new(Split::from_parts(raw, c)))
            }
        }
    }
}

/// [`reunite`] was given halves of two different connections, or bytes a timed-out write left
/// in flight could not be written (call [`WriteHalf::flush`] to see why); here they are back.
pub struct ReuniteError<S: SplitStream>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S: SplitStream> std::fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S: SplitStream> std::fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the halves cannot be reunited")
    }
}

impl<S: SplitStream> std::error::Error for ReuniteError<S> {}

impl<S: SplitStream> WebSocket<S> {
    /// Splits the connection into a [`ReadHalf`] and a [`WriteHalf`] that can be used from two
    /// threads at once: one blocks in `recv` while the other sends.
    ///
    /// No lock is held across a blocking read or write (see the [module docs](crate::split)).
    /// Pongs, close replies and keepalive pings queued while receiving are written by the read
    /// half itself, or by the write half if it is writing at that moment: they are never lost.
    /// Timers run while the read half's `recv` is being called. [`reunite`] puts the halves
    /// back together.
    ///
    /// Unlike the async adapters' `split`, this can fail: the read half needs its own handle to
    /// the socket. It fails only if the socket cannot be cloned (out of file descriptors) or TLS
    /// data already received turns out corrupt; the connection is then dropped.
    ///
    /// ```no_run
    /// let (ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// let (mut rx, mut tx) = ws.split()?;
    /// let reader = std::thread::spawn(move || {
    ///     while let Some(message) = rx.recv() {
    ///         println!("{:?}", message);
    ///     }
    ///     rx
    /// });
    /// for i in 0..10 {
    ///     tx.send_text(format!("message {i}"))?;
    /// }
    /// tx.close(ws_blocking::CloseCode::NORMAL, "done")?;
    /// let rx = reader.join().unwrap();
    /// let ws = ws_blocking::reunite(rx, tx).unwrap();
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn split(self) -> Result<(ReadHalf<S>, WriteHalf<S>), Error> {
        let WebSocket { io, rx } = self;
        let Io { stream, conn, write_timeout, .. } = io;
        let reader = stream.clone_raw()?;
        let (writer, codec) = stream.into_parts();
        let config = Arc::new(conn.config().clone());
        let protocol = conn.protocol().map(str::to_owned);
        let shared = Arc::new(Shared::new(conn, writer, codec, write_timeout));
        // Plaintext a TLS layer decrypted but the connection had not read yet.
        shared.feed(&[])?;
        let read = ReadHalf::new(shared.clone(), reader, rx, protocol.clone(), &config);
        Ok((read, WriteHalf::new(shared, protocol, config)))
    }
}

/// Joins the two halves of one connection back into a [`WebSocket`].
///
/// Bytes a timed-out write left in flight are written first (blocking, within the write
/// timeout). Fails, handing the halves back, if they come from different connections or that
/// write fails.
pub fn reunite<S: SplitStream>(
    read: ReadHalf<S>,
    mut write: WriteHalf<S>,
) -> Result<WebSocket<S>, ReuniteError<S>> {
    if !read.is_pair_of(&write) || (write.in_flight() > 0 && write.flush().is_err()) {
        return Err(ReuniteError(read, write));
    }
    let (config, write_protocol) = (write.config_arc(), write.protocol().map(str::to_owned));
    drop(write);
    let (shared, raw, rx, protocol) = read.into_parts();
    let rebuild = |shared: Arc<Shared<S>>, raw: S::Raw, rx: RecvState| {
        let read = ReadHalf::new(shared.clone(), raw, rx, protocol.clone(), &config);
        ReuniteError(read, WriteHalf::new(shared, write_protocol.clone(), config.clone()))
    };
    let shared = match Arc::try_unwrap(shared) {
        Ok(shared) => shared,
        // Not reachable (the halves are the only owners), but never worth a panic.
        Err(shared) => return Err(rebuild(shared, raw, rx)),
    };
    match shared.into_parts() {
        Ok((conn, writer, codec, write_timeout)) => {
            drop(raw);
            let stream = S::from_parts(writer, codec);
            Ok(WebSocket { io: Io::new(stream, conn, write_timeout), rx })
        }
        Err(shared) => Err(rebuild(Arc::from(shared), raw, rx)),
    }
}
