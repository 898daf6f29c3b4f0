//! Loopback clients for the HTTP tests: raw HTTP/1.1 over one TCP connection (keep-alive,
//! exact bytes), then a WebSocket upgrade on the same connection with frames sent right behind
//! the request.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_proto::handshake::{ClientRequest, Response};
use ws_proto::rng::ChaChaRandom;
use ws_proto::{Config, Connection, Role};
use ws_server::{ServerBuilder, ServerHandle};

/// Binds `builder` on a free loopback port and serves it in a task.
pub async fn start(builder: ServerBuilder) -> (SocketAddr, ServerHandle) {
    let server = builder.bind("127.0.0.1:0").build().await.expect("build");
    let (addr, handle) = (server.local_addrs()[0], server.handle());
    tokio::spawn(server.serve());
    (addr, handle)
}

/// A response as the client read it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

/// One HTTP/1.1 connection, with what was read past the last response.
pub struct Http {
    pub tcp: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    pub async fn connect(addr: SocketAddr) -> Self {
        Http { tcp: TcpStream::connect(addr).await.expect("connect"), buf: Vec::new() }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("write");
    }

    /// Sends `request` (a whole request, `\r\n` line ends) and reads the response.
    pub async fn request(&mut self, request: &str) -> Reply {
        self.send(request.as_bytes()).await;
        self.read_reply(false).await
    }

    /// `GET path` on this connection (kept alive).
    pub async fn get(&mut self, path: &str) -> Reply {
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")).await
    }

    /// Reads one response: the head, then a `Content-Length` or chunked body (none for `HEAD`
    /// or a 1xx, 204, 304).
    pub async fn read_reply(&mut self, head_only: bool) -> Reply {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buf.drain(..end).collect()).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).expect("status line");
        let status: u16 = status.parse().expect("status");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut reply = Reply { status, headers, body: Vec::new() };
        if head_only || status < 200 || status == 204 || status == 304 {
            return reply;
        }
        if let Some(len) = reply.header("content-length") {
            let len: usize = len.parse().expect("length");
            while self.buf.len() < len {
                self.fill().await;
            }
            reply.body = self.buf.drain(..len).collect();
        } else if reply.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    self.fill().await;
                };
                let size = std::str::from_utf8(&self.buf[..line_end]).expect("chunk size");
                let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16)
                    .expect("chunk size");
                while self.buf.len() < line_end + 2 + size + 2 {
                    self.fill().await;
                }
                reply.body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        }
        reply
    }

    /// True once the server has closed the connection (after reading what was left).
    pub async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        loop {
            match self.tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.tcp.read(&mut chunk).await.expect("read");
        assert!(
            n > 0,
            "the server closed the connection; had {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Upgrades this connection with `request`, writing `early` (client frames) in the same
    /// write as the request. Returns the WebSocket, or the refusal's status.
    pub async fn websocket(
        mut self,
        request: ClientRequest,
        config: Config,
        early: &[u8],
    ) -> Result<(ws_tokio::WebSocket<TcpStream>, Response), u16> {
        let request = request.with_config(&config);
        let (mut bytes, mut parser) = request.build(&mut ChaChaRandom::from_os()).expect("request");
        bytes.extend_from_slice(early);
        self.send(&bytes).await;
        let mut pending = std::mem::take(&mut self.buf);
        let response = loop {
            match parser.feed(&pending) {
                Ok(Some(response)) => break response,
                Ok(None) => {}
                Err(e) => return Err(e.status().unwrap_or(0)),
            }
            let mut chunk = [0u8; 4096];
            let n = self.tcp.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed during the handshake");
            pending = chunk[..n].to_vec();
        };
        let now = Instant::now();
        let mut conn =
            Connection::new(Role::Client, config, now).with_negotiated(&response.negotiated());
        conn.handle_data(now, &parser.take_remaining());
        Ok((ws_tokio::WebSocket::from_connection(self.tcp, conn), response))
    }
}

/// A masked text frame (payload under 126 bytes), as a client sends it.
pub fn masked_text(text: &str) -> Vec<u8> {
    assert!(text.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A client config offering permessage-deflate.
pub fn deflate_config() -> Config {
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    config
}
