//! Shared test helpers: a server on an ephemeral loopback port, clients, raw-socket peers.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use ws_server::{Route, Server, ServerBuilder, ServerHandle};

mod http;
#[allow(unused_imports)]
pub use http::*;

/// Bounds every wait of a test (a hang fails instead of blocking CI).
pub async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut).await.expect("timed out")
}

/// Serves `builder` (plus a loopback listener) in a task.
pub async fn serve(
    builder: ServerBuilder,
) -> (SocketAddr, ServerHandle, JoinHandle<std::io::Result<()>>) {
    let server = builder.bind("127.0.0.1:0").build().await.unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    (addr, handle, tokio::spawn(server.serve()))
}

/// Serves one route at `path`.
pub async fn serve_route<D: Send + Sync + 'static>(
    path: &str,
    route: Route<D>,
) -> (SocketAddr, ServerHandle, JoinHandle<std::io::Result<()>>) {
    serve(Server::builder().route(path, route)).await
}

/// An echo route.
pub fn echo() -> Route {
    Route::new().on_message(|conn, msg| {
        let _ = conn.send(msg);
    })
}

pub async fn connect(
    addr: SocketAddr,
    path: &str,
) -> Result<ws_tokio::ClientSocket, ws_tokio::Error> {
    ws_tokio::connect(&format!("ws://{addr}{path}")).await.map(|(ws, _)| ws)
}

/// A raw client: sends the request `extra` headers added, returns the socket and the
/// response head.
pub async fn raw_handshake(addr: SocketAddr, path: &str, extra: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    (tcp, String::from_utf8_lossy(&head).into_owned())
}

/// The status of a refused handshake.
pub fn status(result: Result<ws_tokio::ClientSocket, ws_tokio::Error>) -> Option<u16> {
    result.err().and_then(|e| e.status())
}

/// Reads frames from a raw (client-side) socket until a Close arrives; returns its code.
pub async fn read_close_code(tcp: &mut TcpStream) -> Option<u16> {
    loop {
        let mut h = [0u8; 2];
        tcp.read_exact(&mut h).await.ok()?;
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            tcp.read_exact(&mut b).await.ok()?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            tcp.read_exact(&mut b).await.ok()?;
            len = u64::from_be_bytes(b);
        }
        let mut payload = vec![0u8; len as usize];
        tcp.read_exact(&mut payload).await.ok()?;
        if h[0] & 0x0f == 0x8 {
            return payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
        }
    }
}
