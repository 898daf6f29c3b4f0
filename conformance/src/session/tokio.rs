//! [`Session`] for `ws-tokio`, each on its own current-thread runtime.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::Runtime;
use ws_proto::handshake::ClientRequest;
use ws_proto::{CloseCode, CloseInfo, Config, Message, MessageKind};
use ws_tokio::WebSocket;
use ws_tokio::tls::rustls;

use super::{BoxError, Chooser, Session, TimedOut};

struct TokioSession<S> {
    runtime: Runtime,
    ws: WebSocket<S>,
    deflate: bool,
}

fn runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

pub(super) fn connect(
    url: &str,
    customize: impl FnOnce(ClientRequest) -> ClientRequest,
    config: Config,
    roots: Option<rustls::RootCertStore>,
) -> Result<Box<dyn Session>, BoxError> {
    let tls = roots.map(ws_tokio::tls::client_config_with_roots).transpose()?;
    let runtime = runtime()?;
    let (ws, _response) = runtime.block_on(ws_tokio::connect_with(url, customize, config, tls))?;
    // What the connection does, not what the response said.
    let deflate = ws.connection().deflate_enabled();
    Ok(Box::new(TokioSession { runtime, ws, deflate }))
}

pub(super) fn accept(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Config,
    choose: Chooser<'_>,
) -> Result<Box<dyn Session>, BoxError> {
    let runtime = runtime()?;
    tcp.set_nonblocking(true)?;
    let tcp = {
        let _context = runtime.enter();
        tokio::net::TcpStream::from_std(tcp)?
    };
    let callback = |request: &_| Ok(choose(request));
    Ok(match tls {
        None => {
            let ws = runtime.block_on(ws_tokio::accept_with(tcp, config, callback))?;
            let deflate = ws.connection().deflate_enabled();
            Box::new(TokioSession { runtime, ws, deflate })
        }
        Some(tls) => {
            let accept = ws_tokio::tls::accept_with(tcp, &tls, config, callback);
            let ws = runtime.block_on(accept)?;
            let deflate = ws.connection().deflate_enabled();
            Box::new(TokioSession { runtime, ws, deflate })
        }
    })
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session for TokioSession<S> {
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Message>, BoxError> {
        let ws = &mut self.ws;
        let next = match timeout {
            None => self.runtime.block_on(ws.recv()),
            Some(limit) => self
                .runtime
                .block_on(async { tokio::time::timeout(limit, ws.recv()).await })
                .map_err(|_| TimedOut)?,
        };
        Ok(next.transpose()?)
    }

    fn send(&mut self, message: Message) -> Result<(), BoxError> {
        Ok(self.runtime.block_on(self.ws.send(message))?)
    }

    fn send_fragment(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), BoxError> {
        Ok(self.runtime.block_on(self.ws.send_fragment(kind, data, fin))?)
    }

    fn ping(&mut self, payload: &[u8]) -> Result<(), BoxError> {
        Ok(self.runtime.block_on(self.ws.ping(payload))?)
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), BoxError> {
        Ok(self.runtime.block_on(self.ws.close(code, reason))?)
    }

    fn protocol(&self) -> Option<String> {
        self.ws.protocol().map(str::to_owned)
    }

    fn deflate(&self) -> Option<bool> {
        Some(self.deflate)
    }

    fn close_info(&self) -> Option<CloseInfo> {
        self.ws.close_info().cloned()
    }
}
