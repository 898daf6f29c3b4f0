//! Helpers shared by the integration tests: loopback servers, raw protocol peers, test
//! certificates. Every socket is on 127.0.0.1 with an ephemeral port.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ws_blocking::ws_proto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use ws_blocking::ws_proto::handshake::{Accept, RequestParser};
use ws_blocking::ws_proto::mask::apply_mask;
use ws_blocking::ws_proto::rng::ChaChaRandom;
use ws_blocking::{ClientRequest, Config, Error, Message, Transport, WebSocket};

/// Generous bound for anything a test waits on, so a bug fails instead of hanging.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

pub(crate) fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

pub(crate) fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// Echoes text and binary messages until the connection ends.
pub(crate) fn echo<S: Transport>(ws: &mut WebSocket<S>) -> Result<(), Error> {
    while let Some(message) = ws.recv() {
        if let m @ (Message::Text(_) | Message::Binary(_)) = message? {
            ws.send(m)?;
        }
    }
    Ok(())
}

/// An echo server for `connections` connections, one thread each; the handle joins them all
/// and returns each connection's result.
pub(crate) fn echo_server(
    connections: usize,
    config: Config,
) -> (SocketAddr, JoinHandle<Vec<Result<(), Error>>>) {
    let (listener, addr) = listen();
    let handle = std::thread::spawn(move || {
        let mut threads = Vec::new();
        for _ in 0..connections {
            let (tcp, _) = listener.accept().expect("accept");
            let config = config.clone();
            threads.push(std::thread::spawn(move || {
                let mut ws = ws_blocking::accept_with(tcp, config, |_| Ok(Accept::new()))?;
                echo(&mut ws)
            }));
        }
        threads.into_iter().map(|t| t.join().expect("server thread")).collect()
    });
    (addr, handle)
}

/// A hand-driven protocol peer on a raw socket, for behaviour a well-behaved library never
/// shows: silence, half frames, protocol violations.
pub(crate) struct RawPeer {
    pub(crate) tcp: TcpStream,
    buf: Vec<u8>,
    masked: bool,
}

impl RawPeer {
    /// Connects to a server and completes the client handshake by hand.
    pub(crate) fn connect(addr: SocketAddr) -> RawPeer {
        let mut tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let request = ClientRequest::new(addr.to_string(), "/");
        let (bytes, mut handshake) = request.build(&mut ChaChaRandom::from_seed(7)).unwrap();
        tcp.write_all(&bytes).unwrap();
        let mut chunk = [0u8; 1024];
        loop {
            let n = tcp.read(&mut chunk).expect("handshake response");
            assert!(n > 0, "server closed during the handshake");
            if handshake.feed(&chunk[..n]).expect("valid response").is_some() {
                break;
            }
        }
        RawPeer { tcp, buf: handshake.take_remaining(), masked: true }
    }

    /// Accepts one client and completes the server handshake by hand.
    pub(crate) fn accept(listener: &TcpListener) -> RawPeer {
        let (mut tcp, _) = listener.accept().expect("accept");
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut parser = RequestParser::new(Default::default());
        let mut chunk = [0u8; 1024];
        let request = loop {
            let n = tcp.read(&mut chunk).expect("handshake request");
            assert!(n > 0, "client closed during the handshake");
            if let Some(r) = parser.feed(&chunk[..n]).expect("valid request") {
                break r;
            }
        };
        let (response, _) = request.accept_response(&Accept::new(), &Default::default()).unwrap();
        tcp.write_all(&response).unwrap();
        RawPeer { tcp, buf: parser.take_remaining(), masked: false }
    }

    /// One encoded frame, masked if this peer is a client.
    pub(crate) fn frame(&self, opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.fin = fin;
        header.mask = self.masked.then_some([1, 2, 3, 4]);
        let mut hbuf = [0u8; MAX_HEADER_LEN];
        let hlen = header.encode(&mut hbuf);
        let mut out = hbuf[..hlen].to_vec();
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut out[start..], key, 0);
        }
        out
    }

    pub(crate) fn send(&mut self, opcode: OpCode, payload: &[u8]) {
        let frame = self.frame(opcode, true, payload);
        self.tcp.write_all(&frame).unwrap();
    }

    /// The next frame: opcode, fin, unmasked payload. `None` at end of stream.
    pub(crate) fn read_frame(&mut self) -> Option<(OpCode, bool, Vec<u8>)> {
        loop {
            if let Some((h, hlen)) = FrameHeader::decode(&self.buf).expect("valid frame") {
                let total = hlen + h.payload_len as usize;
                if self.buf.len() >= total {
                    let mut payload = self.buf[hlen..total].to_vec();
                    if let Some(key) = h.mask {
                        apply_mask(&mut payload, key, 0);
                    }
                    self.buf.drain(..total);
                    return Some((h.opcode, h.fin, payload));
                }
            }
            let mut chunk = [0u8; 4096];
            match self.tcp.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("raw peer read failed: {e}"),
            }
        }
    }

    /// Reads until end of stream; returns whether it came (rather than a reset or timeout).
    pub(crate) fn read_to_eof(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.tcp.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }
}

/// A self-signed certificate for "localhost" and 127.0.0.1, written to PEM files.
pub(crate) struct TestCert {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl TestCert {
    pub(crate) fn generate() -> TestCert {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names).expect("self-signed cert");
        let dir = std::env::temp_dir().join(format!(
            "ws-blocking-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        TestCert { cert, key }
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        if let Some(dir) = self.cert.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
