//! Test support: every integration test body is generic over a runtime ([`Rt`]) and runs twice,
//! under async-std (with `async_std::net` sockets) and under smol (with `smol::net` sockets).
//! Sockets are loopback-only on ephemeral ports; every test is bounded by [`TEST_LIMIT`].

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use ws_async_std::{ClientRequest, Config, Message, WebSocket, accept, client};

/// No test may take longer than this (a hang fails instead of blocking the suite).
pub const TEST_LIMIT: Duration = Duration::from_secs(120);

pub type Task<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An async runtime: executor, spawner and TCP types.
pub trait Rt: Sized + 'static {
    type Listener: Send + Sync + 'static;
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    fn block_on<F: Future>(f: F) -> F::Output;
    fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Task<T>;
    fn bind() -> impl Future<Output = (Self::Listener, SocketAddr)> + Send;
    fn accept(listener: &Self::Listener) -> impl Future<Output = Self::Stream> + Send + '_;
    fn connect(addr: SocketAddr) -> impl Future<Output = Self::Stream> + Send;
}

/// Implements [`Rt`] for a runtime from its `block_on`, `spawn` and `net` module.
macro_rules! runtime {
    ($name:ident, $block_on:path, $spawn:path, $($net:ident)::+) => {
        pub struct $name;

        impl Rt for $name {
            type Listener = $($net)::+::TcpListener;
            type Stream = $($net)::+::TcpStream;

            fn block_on<F: Future>(f: F) -> F::Output {
                $block_on(f)
            }

            fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Task<T> {
                Box::pin($spawn(f))
            }

            async fn bind() -> (Self::Listener, SocketAddr) {
                let listener = $($net)::+::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                (listener, addr)
            }

            async fn accept(listener: &Self::Listener) -> Self::Stream {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                stream
            }

            async fn connect(addr: SocketAddr) -> Self::Stream {
                let stream = $($net)::+::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                stream
            }
        }
    };
}

runtime!(AsyncStd, async_std::task::block_on, async_std::task::spawn, async_std::net);
runtime!(Smol, smol::block_on, smol::spawn, smol::net);

/// Runs `body` on runtime `R`, failing if it exceeds [`TEST_LIMIT`].
pub fn run<R: Rt>(body: impl Future<Output = ()>) {
    R::block_on(body.or(async {
        async_io::Timer::after(TEST_LIMIT).await;
        panic!("test exceeded {TEST_LIMIT:?}");
    }))
}

/// Generates one `#[test]` per runtime for each generic `async fn name<R: Rt>()`.
#[macro_export]
macro_rules! on_both_runtimes {
    ($($name:ident),* $(,)?) => {
        mod on_async_std {
            $(#[test]
            fn $name() {
                $crate::common::run::<$crate::common::AsyncStd>(super::$name::<$crate::common::AsyncStd>());
            })*
        }
        mod on_smol {
            $(#[test]
            fn $name() {
                $crate::common::run::<$crate::common::Smol>(super::$name::<$crate::common::Smol>());
            })*
        }
    };
}

/// A client WebSocket connected to `addr` with `config`.
pub async fn ws_client<R: Rt>(addr: SocketAddr, config: Config) -> WebSocket<R::Stream> {
    let tcp = R::connect(addr).await;
    let (ws, response) =
        client(tcp, ClientRequest::new(addr.to_string(), "/"), config).await.unwrap();
    assert_eq!(response.status, 101);
    ws
}

/// Accepts one connection on `listener` with the default configuration.
pub async fn ws_server<R: Rt>(listener: &R::Listener) -> WebSocket<R::Stream> {
    accept(R::accept(listener).await).await.unwrap()
}

/// Echoes every text and binary message until the connection ends; returns how many.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) -> usize {
    let mut echoed = 0;
    while let Some(message) = ws.recv().await {
        match message.unwrap() {
            Message::Text(text) => ws.send_text(text).await.unwrap(),
            Message::Binary(data) => ws.send_binary(data).await.unwrap(),
            _ => continue,
        }
        echoed += 1;
    }
    echoed
}

/// A deterministic payload of `len` bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Sleeps on the runtime-independent timer.
pub async fn sleep(d: Duration) {
    async_io::Timer::after(d).await;
}

/// Raw-socket helpers for tests that play a misbehaving peer.
pub mod raw {
    use super::*;

    /// Sends a handshake request (with `extra` header lines) and returns the response head and
    /// anything read past it.
    pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        stream: &mut S,
        extra: &str,
    ) -> (String, Vec<u8>) {
        let request = format!(
            "GET /raw HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        read_head(stream).await
    }

    /// Reads an HTTP head; returns it and the bytes that followed it.
    pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> (String, Vec<u8>) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "EOF before the end of the HTTP head: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let rest = buf.split_off(end + 4);
                return (String::from_utf8(buf).unwrap(), rest);
            }
        }
    }

    /// Reads until EOF (or an error), returning everything read.
    pub async fn read_to_end<S: AsyncRead + Unpin>(stream: &mut S, mut buf: Vec<u8>) -> Vec<u8> {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return buf,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// A masked client frame.
    pub fn masked_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let key = [0x12, 0x34, 0x56, 0x78];
        let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&key);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        frame
    }
}
