//! [`Session`] for `ws-async-std`, driven by async-std's executor, on the adapter's sockets.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use async_std::task::block_on;
use futures_io::{AsyncRead, AsyncWrite};
use ws_async_std::WebSocket;
use ws_async_std::tls::rustls;
use ws_proto::handshake::ClientRequest;
use ws_proto::{CloseCode, CloseInfo, Config, Message, MessageKind};

use super::{BoxError, Chooser, Session, TimedOut};

struct AsyncStdSession<S> {
    ws: WebSocket<S>,
}

pub(super) fn connect(
    url: &str,
    customize: impl FnOnce(ClientRequest) -> ClientRequest,
    config: Config,
    roots: Option<rustls::RootCertStore>,
) -> Result<Box<dyn Session>, BoxError> {
    let tls = roots.map(ws_async_std::tls::client_config_with_roots).transpose()?;
    let (ws, _response) = block_on(ws_async_std::connect_with(url, customize, config, tls))?;
    Ok(Box::new(AsyncStdSession { ws }))
}

pub(super) fn accept(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Config,
    choose: Chooser<'_>,
) -> Result<Box<dyn Session>, BoxError> {
    // async-net's stream (the adapter's TcpStream) half-closes; async-std's own cannot.
    let tcp = ws_async_std::TcpStream::try_from(tcp)?;
    let callback = |request: &_| Ok(choose(request));
    Ok(match tls {
        None => Box::new(AsyncStdSession {
            ws: block_on(ws_async_std::accept_with(tcp, config, callback))?,
        }),
        Some(tls) => {
            let accept = ws_async_std::tls::accept_with(tcp, &tls, config, callback);
            Box::new(AsyncStdSession { ws: block_on(accept)? })
        }
    })
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session for AsyncStdSession<S> {
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Message>, BoxError> {
        let ws = &mut self.ws;
        let next = match timeout {
            None => block_on(ws.recv()),
            Some(limit) => {
                block_on(async_std::future::timeout(limit, ws.recv())).map_err(|_| TimedOut)?
            }
        };
        Ok(next.transpose()?)
    }

    fn send(&mut self, message: Message) -> Result<(), BoxError> {
        Ok(block_on(self.ws.send(message))?)
    }

    fn send_fragment(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), BoxError> {
        Ok(block_on(self.ws.send_fragment(kind, data, fin))?)
    }

    fn ping(&mut self, payload: &[u8]) -> Result<(), BoxError> {
        Ok(block_on(self.ws.ping(payload))?)
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), BoxError> {
        Ok(block_on(self.ws.close(code, reason))?)
    }

    fn protocol(&self) -> Option<String> {
        self.ws.protocol().map(str::to_owned)
    }

    fn deflate(&self) -> Option<bool> {
        Some(self.ws.connection().deflate_enabled())
    }

    fn close_info(&self) -> Option<CloseInfo> {
        self.ws.close_info().cloned()
    }
}
