//! The `mio_server` example's loop, run on loopback: echo (small and 1 MiB messages), 500
//! connections open at once on its one thread, and its timer heap firing the handshake and
//! idle deadlines. Every socket has a read timeout, so a broken loop fails instead of hanging.

#[allow(dead_code)]
#[path = "../examples/mio_server.rs"]
mod mio_server;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientHandshake, ClientRequest, Handshake, HandshakeStep};
use ws_proto::{CloseCode, Config, Connection, Event, Message, MessageAssembler, Transport};

/// How long any single read may take before the test fails.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the example's loop on its own thread (it runs until the test process exits).
fn start(args: &[&str]) -> SocketAddr {
    let args = args.iter().map(|a| a.to_string());
    let (_, config) = mio_server::parse_args(args).expect("valid flags");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || mio_server::serve(listener, config));
    addr
}

/// A blocking client on the core, enough to talk to the server.
struct Client {
    stream: TcpStream,
    conn: Connection,
    asm: MessageAssembler,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let now = Instant::now();
        let request = ClientRequest::new(addr.to_string(), "/");
        let mut hs = ClientHandshake::new(request, Config::default(), now).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            stream.write_all(hs.transmit()).unwrap();
            let n = hs.transmit().len();
            hs.advance_transmit(n);
            match hs.step() {
                HandshakeStep::Read => match stream.read(&mut buf).expect("handshake response") {
                    0 => hs.handle_eof(Instant::now()),
                    n => hs.handle_data(Instant::now(), &buf[..n]),
                },
                HandshakeStep::Done => break,
                step => panic!("client handshake: {step:?}"),
            }
        }
        let (conn, _response) = hs.finish().unwrap();
        Client { stream, conn, asm: MessageAssembler::new() }
    }

    fn flush(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            self.stream.write_all(&bytes).unwrap();
        }
    }

    /// The next event, reading as needed and following `transport()` (`None` once closed).
    fn next_event(&mut self) -> Option<Event> {
        loop {
            let event = self.conn.poll_event();
            self.flush();
            if event.is_some() {
                return event;
            }
            match self.conn.transport() {
                Transport::Close => return None,
                Transport::Shutdown => {
                    self.stream.shutdown(Shutdown::Write).unwrap();
                    self.conn.handle_write_shutdown(Instant::now());
                    continue;
                }
                Transport::Open | Transport::Drain => {}
            }
            match self.stream.read(self.conn.recv_buf()) {
                Ok(0) => self.conn.handle_eof(Instant::now()),
                Ok(n) => self.conn.commit(Instant::now(), n),
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn recv(&mut self) -> Message {
        loop {
            let event = self.next_event().expect("a message before the end of stream");
            if let Some(message) = self.asm.push(event) {
                return message;
            }
        }
    }
}

#[test]
fn echoes_small_and_large_messages() {
    let addr = start(&[]);
    let mut client = Client::connect(addr);
    client.conn.send_text("hello").unwrap();
    client.flush();
    assert_eq!(client.recv(), Message::Text("hello".into()));
    // 1 MiB: the server's writes fill the socket and wait for it to be writable again.
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    client.conn.send_binary(big.clone()).unwrap();
    client.flush();
    assert_eq!(client.recv(), Message::Binary(big.into()));
    // A clean close: the server replies and ends the stream.
    client.conn.close(Instant::now(), CloseCode::NORMAL, "bye").unwrap();
    client.flush();
    let mut closed = None;
    while let Some(event) = client.next_event() {
        if let Event::Closed(info) = event {
            closed = Some(info.code());
        }
    }
    assert_eq!(closed, Some(CloseCode::NORMAL));
}

#[test]
fn holds_500_connections_on_one_thread() {
    let addr = start(&[]);
    let mut clients: Vec<Client> = (0..500).map(|_| Client::connect(addr)).collect();
    // Every connection is open at once: send on all, then read every echo.
    for (i, c) in clients.iter_mut().enumerate() {
        c.conn.send_text(format!("message {i}")).unwrap();
        c.flush();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.recv(), Message::Text(format!("message {i}").into()));
    }
}

#[test]
fn its_timer_heap_fires_handshake_and_idle_deadlines() {
    let addr = start(&["--handshake-timeout-ms", "200", "--idle-timeout-ms", "300"]);
    // A client that never sends its request is dropped at the handshake deadline.
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).unwrap();
    silent.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut buf = [0u8; 64];
    match silent.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to close the connection, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(200), "closed before the deadline: {waited:?}");
    assert!(waited < READ_TIMEOUT, "the handshake deadline did not fire");

    // An open connection that stays silent is closed by the server with 1001, and while it
    // waits, another connection's traffic moves nothing (each has its own deadline).
    // The server's idle clock starts during the handshake, so the lower bound is measured
    // from before it (measured after both handshakes, a slow second connect made it flaky).
    let started = Instant::now();
    let mut idle = Client::connect(addr);
    let mut busy = Client::connect(addr);
    for i in 0..5 {
        std::thread::sleep(Duration::from_millis(40));
        busy.conn.send_text(format!("{i}")).unwrap();
        busy.flush();
        assert_eq!(busy.recv(), Message::Text(format!("{i}").into()));
    }
    let code = match idle.next_event() {
        Some(Event::CloseReceived(frame)) => frame.map(|f| f.code),
        other => panic!("expected the server's Close, got {other:?}"),
    };
    assert_eq!(code, Some(CloseCode::GOING_AWAY));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "closed before the idle deadline: {waited:?}");
    while idle.next_event().is_some() {}
    assert!(idle.conn.is_finished());
}
