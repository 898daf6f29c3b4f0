//! Helpers shared by the integration tests: loopback servers and a hand-driven raw client.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_proto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use ws_proto::handshake::ClientRequest;
use ws_proto::rng::ChaChaRandom;
use ws_tokio::{Message, WebSocket};

/// Every test step is bounded by this.
pub(crate) const LIMIT: Duration = Duration::from_secs(20);

/// Fails the test instead of hanging when `f` takes longer than [`LIMIT`].
pub(crate) async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f).await.expect("test step timed out")
}

/// A listener on an ephemeral loopback port.
pub(crate) async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts connections forever, running `handler` on each accepted WebSocket in its own task.
pub(crate) async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(WebSocket<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (listener, addr) = listen().await;
    let handler = std::sync::Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let handler = handler.clone();
            tokio::spawn(async move {
                if let Ok(ws) = ws_tokio::accept(tcp).await {
                    handler(ws).await;
                }
            });
        }
    });
    addr
}

/// Accepts one connection and runs `handler` on it; the test gets its result.
pub(crate) async fn serve_one<F, Fut, T>(handler: F) -> (SocketAddr, tokio::task::JoinHandle<T>)
where
    F: FnOnce(WebSocket<TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (listener, addr) = listen().await;
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        handler(ws_tokio::accept(tcp).await.unwrap()).await
    });
    (addr, task)
}

/// Echoes data messages until the connection ends.
pub(crate) async fn echo(mut ws: WebSocket<TcpStream>) {
    while let Some(message) = ws.recv().await {
        match message {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

pub(crate) fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// A client that does the handshake by hand and then reads and writes raw bytes, so tests
/// can play a misbehaving peer.
pub(crate) struct RawClient {
    pub(crate) tcp: TcpStream,
    /// Bytes received after the handshake response.
    pub(crate) pending: Vec<u8>,
}

impl RawClient {
    pub(crate) async fn connect(addr: SocketAddr) -> RawClient {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let (request, mut handshake) = ClientRequest::new(addr.to_string(), "/")
            .build(&mut ChaChaRandom::from_seed(7))
            .unwrap();
        tcp.write_all(&request).await.unwrap();
        let mut buf = [0u8; 1024];
        loop {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "server closed during the handshake");
            if handshake.feed(&buf[..n]).unwrap().is_some() {
                break;
            }
        }
        RawClient { tcp, pending: handshake.take_remaining() }
    }

    pub(crate) async fn send_frame(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        self.tcp.write_all(&client_frame(opcode, fin, payload)).await.unwrap();
    }

    /// Reads until end of stream (bounded), returning everything received.
    pub(crate) async fn read_to_end(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.pending);
        bounded(self.tcp.read_to_end(&mut out)).await.unwrap();
        out
    }
}

/// A masked client frame.
pub(crate) fn client_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut header = FrameHeader::new(opcode, payload.len() as u64);
    header.fin = fin;
    header.mask = Some(key);
    let mut hbuf = [0u8; MAX_HEADER_LEN];
    let hlen = header.encode(&mut hbuf);
    let mut out = hbuf[..hlen].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    ws_proto::mask::apply_mask(&mut out[start..], key, 0);
    out
}

/// Splits a stream of unmasked server frames into (opcode, payload) pairs.
pub(crate) fn parse_server_frames(mut bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
    let mut frames = Vec::new();
    while let Ok(Some((header, hlen))) = FrameHeader::decode(bytes) {
        let end = hlen + header.payload_len as usize;
        if bytes.len() < end {
            break;
        }
        frames.push((header.opcode, bytes[hlen..end].to_vec()));
        bytes = &bytes[end..];
    }
    frames
}
