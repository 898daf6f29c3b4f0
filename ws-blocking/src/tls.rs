//! `wss://` through rustls (ring provider). Feature `tls` (default).
//!
//! * Clients: [`connect`](crate::connect) trusts the `webpki-roots` certificates by default;
//!   [`client_config_with_roots`] or [`client_config_from_pem_file`] build a configuration for
//!   a private CA or a self-signed certificate, to pass to
//!   [`connect_with`](crate::connect_with). [`client_stream`] wraps a stream you connected.
//! * Servers: [`server_config_from_pem_files`] loads a certificate chain and key; [`accept`]
//!   and [`accept_with`] run the TLS and WebSocket handshakes under one time limit;
//!   [`server_stream`] gives a [`MaybeTlsStream`] for servers that also speak plain `ws://`.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use ws_blocking::{accept, tls};
//!
//! let config = tls::server_config_from_pem_files("cert.pem", "key.pem")?;
//! let listener = TcpListener::bind("127.0.0.1:9443")?;
//! let (tcp, _) = listener.accept()?;
//! let mut ws = tls::accept(tcp, &config)?;
//! // Or, to serve ws:// and wss:// with one code path:
//! let (tcp, _) = listener.accept()?;
//! let mut ws = accept(tls::server_stream(tcp, config.clone())?)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, ServerConfig, ServerConnection, SideData,
    StreamOwned,
};
use ws_proto::handshake::{Accept, Rejection, Request};
use ws_proto::{Bytes, Config};

pub use ws_common::tls::{
    client_config_from_pem_file, client_config_with_roots, default_client_config, rustls,
    server_config, server_config_from_pem_files,
};

use crate::Error;
use crate::split::PlainCodec;
use crate::split::sealed::{Codec, Split};
use crate::stream::MaybeTlsStream;
use crate::transport::Transport;
use crate::websocket::WebSocket;

/// A TLS client stream: a rustls client session over a blocking stream.
pub type ClientTlsStream<S> = StreamOwned<ClientConnection, S>;

/// A TLS server stream: a rustls server session over a blocking stream.
pub type ServerTlsStream<S> = StreamOwned<ServerConnection, S>;

/// Starts a TLS client session with server `host` over `stream` (`config`: `None` for
/// [`default_client_config`]). The TLS handshake runs with the first read or write, so the
/// WebSocket handshake's timeout bounds it.
pub fn client_stream<S: Read + Write>(
    stream: S,
    host: &str,
    config: Option<Arc<ClientConfig>>,
) -> Result<MaybeTlsStream<S>, Error> {
    let config = config.unwrap_or_else(default_client_config);
    let conn = ClientConnection::new(config, ws_common::tls::server_name(host)?)?;
    Ok(MaybeTlsStream::Tls(Box::new(StreamOwned::new(conn, stream))))
}

/// Starts a TLS server session over an accepted `stream`, to pass to
/// [`accept`](crate::accept) or [`accept_with`](crate::accept_with). The TLS handshake runs with
/// the first read, so the WebSocket handshake's timeout bounds it.
pub fn server_stream<S: Read + Write>(
    stream: S,
    config: Arc<ServerConfig>,
) -> Result<MaybeTlsStream<S>, Error> {
    let conn = ServerConnection::new(config)?;
    Ok(MaybeTlsStream::ServerTls(Box::new(StreamOwned::new(conn, stream))))
}

/// Runs the TLS handshake and then the WebSocket handshake on `stream`, accepting any valid
/// request, with the default [`Config`]. See [`accept_with`].
pub fn accept<S: Transport>(
    stream: S,
    tls: &Arc<ServerConfig>,
) -> Result<WebSocket<ServerTlsStream<S>>, Error> {
    accept_with(stream, tls, Config::default(), |_| Ok(Accept::new()))
}

/// Runs the TLS handshake and then [`accept_with`](crate::accept_with)'s WebSocket handshake
/// on `stream`; both together are bounded by `config.handshake_timeout` (the TLS handshake runs
/// within the first reads of the WebSocket handshake).
pub fn accept_with<S, F>(
    stream: S,
    tls: &Arc<ServerConfig>,
    config: Config,
    callback: F,
) -> Result<WebSocket<ServerTlsStream<S>>, Error>
where
    S: Transport,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    let session = ServerConnection::new(tls.clone())?;
    crate::accept_with(StreamOwned::new(session, stream), config, callback)
}

impl<C, D, S> Transport for StreamOwned<C, S>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>>,
    D: SideData,
    S: Transport,
{
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        self.sock.set_read_timeout(timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        self.sock.set_write_timeout(timeout)
    }

    /// Sends `close_notify`, then half-closes the socket.
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown_write()
    }
}

/// The TLS session of a split connection, shared by both halves.
#[derive(Debug)]
pub struct TlsCodec<C> {
    conn: C,
}

impl<C, D> Codec for TlsCodec<C>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>> + Send + 'static,
    D: SideData,
{
    fn decode(&mut self, mut raw: &[u8], plain: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        loop {
            if !raw.is_empty() && self.conn.read_tls(&mut raw)? == 0 {
                return Err(io::Error::other("TLS layer accepted no input"));
            }
            self.conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let mut reader = self.conn.reader();
            loop {
                let n = match io::BufRead::fill_buf(&mut reader) {
                    // close_notify: the peer's TLS stream ended cleanly.
                    Ok([]) => return Ok(true),
                    Ok(chunk) => {
                        plain(chunk);
                        chunk.len()
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                };
                io::BufRead::consume(&mut reader, n);
            }
            if raw.is_empty() {
                return Ok(false);
            }
        }
    }

    fn encode(&mut self, plain: Bytes) -> io::Result<Bytes> {
        let mut rest = &plain[..];
        let mut records = Vec::with_capacity(rest.len() + 64);
        loop {
            while self.conn.wants_write() {
                self.conn.write_tls(&mut records)?;
            }
            if rest.is_empty() {
                break;
            }
            match self.conn.writer().write(rest)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => rest = &rest[n..],
            }
        }
        Ok(records.into())
    }

    fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    fn shutdown(&mut self) -> io::Result<Bytes> {
        self.conn.send_close_notify();
        self.encode(Bytes::new())
    }
}

impl<C, D, R> Split for StreamOwned<C, R>
where
    C: DerefMut + Deref<Target = ConnectionCommon<D>> + Send + 'static,
    D: SideData,
    R: Split<Raw = R, Codec = PlainCodec> + Transport + Send + 'static,
{
    type Raw = R;
    type Codec = TlsCodec<C>;

    fn clone_raw(&self) -> io::Result<R> {
        self.sock.clone_raw()
    }

    fn into_parts(self) -> (R, TlsCodec<C>) {
        let (conn, sock) = StreamOwned::into_parts(self);
        (sock, TlsCodec { conn })
    }

    fn from_parts(raw: R, codec: TlsCodec<C>) -> Self {
        StreamOwned::new(codec.conn, raw)
    }
}
