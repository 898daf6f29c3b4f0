//! [`Session`] for `ws-blocking`: plain blocking calls, timeouts through read timeouts.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use ws_blocking::rustls;
use ws_blocking::{MaybeTlsStream, WebSocket};
use ws_proto::handshake::ClientRequest;
use ws_proto::{CloseCode, CloseInfo, Config, Message, MessageKind};

use super::{BoxError, Chooser, Session, TimedOut};

struct BlockingSession {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
}

pub(super) fn connect(
    url: &str,
    customize: impl FnOnce(ClientRequest) -> ClientRequest,
    config: Config,
    roots: Option<rustls::RootCertStore>,
) -> Result<Box<dyn Session>, BoxError> {
    let tls = roots.map(ws_blocking::tls::client_config_with_roots).transpose()?;
    let (ws, _response) = ws_blocking::connect_with(url, customize, config, tls)?;
    Ok(Box::new(BlockingSession { ws }))
}

pub(super) fn accept(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Config,
    choose: Chooser<'_>,
) -> Result<Box<dyn Session>, BoxError> {
    let stream = match tls {
        Some(tls) => ws_blocking::tls::server_stream(tcp, tls)?,
        None => MaybeTlsStream::Plain(tcp),
    };
    let ws = ws_blocking::accept_with(stream, config, |request| Ok(choose(request)))?;
    Ok(Box::new(BlockingSession { ws }))
}

impl Session for BlockingSession {
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Message>, BoxError> {
        if self.ws.read_timeout() != timeout {
            self.ws.set_read_timeout(timeout)?;
        }
        match self.ws.recv() {
            Some(Err(e)) if e.is_timeout() => Err(TimedOut.into()),
            next => Ok(next.transpose()?),
        }
    }

    fn send(&mut self, message: Message) -> Result<(), BoxError> {
        self.ws.send(message)?;
        Ok(self.ws.flush()?)
    }

    fn send_fragment(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), BoxError> {
        self.ws.send_fragment(kind, data, fin)?;
        Ok(self.ws.flush()?)
    }

    fn ping(&mut self, payload: &[u8]) -> Result<(), BoxError> {
        self.ws.ping(payload)?;
        Ok(self.ws.flush()?)
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), BoxError> {
        self.ws.close(code, reason)?;
        Ok(self.ws.flush()?)
    }

    fn protocol(&self) -> Option<String> {
        self.ws.protocol().map(str::to_owned)
    }

    fn deflate(&self) -> Option<bool> {
        // What the connection does, not what the response said.
        Some(self.ws.connection().deflate_enabled())
    }

    fn close_info(&self) -> Option<CloseInfo> {
        self.ws.close_info().cloned()
    }
}
