//! The io_uring client over loopback: against ws-uring's own server and ws-blocking's, many
//! connections on one ring, and every way a connection can fail to open (refused connect,
//! refused handshake, silent server, `wss://`, an invalid URL).
//!
//! Where the kernel refuses io_uring every test prints why and returns without checking
//! anything (it says "SKIPPED"; it is not a pass of the behaviour).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Echo;
use ws_uring::{
    Client, CloseCause, CloseCode, CloseInfo, Config, Conn, ConnId, Error, Handler, HandshakeError,
    Message, Running, Server,
};

/// What one client connection saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Open,
    Message(Message),
    Closed(CloseInfo),
    Failed(String),
}

/// Sends `script` once open, one message at a time (the next once the echo of the last came
/// back), then closes with 1000; records everything.
#[derive(Clone)]
struct Scripted {
    script: Vec<Message>,
    next: usize,
    seen: Arc<Mutex<Vec<Seen>>>,
    failure: Arc<Mutex<Option<Error>>>,
}

impl Scripted {
    fn new(script: Vec<Message>) -> Scripted {
        Scripted { script, next: 0, seen: Arc::default(), failure: Arc::default() }
    }

    fn step(&mut self, conn: &mut Conn<'_>) {
        match self.script.get(self.next) {
            Some(message) => conn.send(message.clone()).unwrap(),
            None if self.next == self.script.len() => {
                conn.close(CloseCode::NORMAL, "done").unwrap()
            }
            // Closed already.
            None => {}
        }
        self.next += 1;
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Handler for Scripted {
    fn on_open(&mut self, conn: &mut Conn<'_>) {
        self.seen.lock().unwrap().push(Seen::Open);
        self.step(conn);
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let data = message.is_data();
        self.seen.lock().unwrap().push(Seen::Message(message));
        if data {
            self.step(conn);
        }
    }

    fn on_close(&mut self, _id: ConnId, info: &CloseInfo) {
        self.seen.lock().unwrap().push(Seen::Closed(info.clone()));
    }

    fn on_connect_failed(&mut self, _id: ConnId, error: &Error) {
        self.seen.lock().unwrap().push(Seen::Failed(error.to_string()));
        let copy = match error {
            Error::Io(e) => Error::Io(std::io::Error::new(e.kind(), e.to_string())),
            Error::Handshake(e) => Error::Handshake(e.clone()),
            _ => Error::TlsUnsupported,
        };
        *self.failure.lock().unwrap() = Some(copy);
    }
}

/// A client, or `None` (with the reason printed) where io_uring is unavailable.
fn client<H: Handler>(config: Config) -> Option<Client<H>> {
    match Client::new(config) {
        Ok(client) => Some(client),
        Err(e) if e.is_unsupported() => {
            println!("SKIPPED: io_uring unavailable here: {e}");
            None
        }
        Err(e) => panic!("client failed to start: {e}"),
    }
}

fn uring_server(threads: usize) -> Running {
    Server::bind("127.0.0.1:0").unwrap().threads(threads).start(Echo).unwrap()
}

fn deflate() -> Config {
    let mut config = Config::default();
    config.deflate = Some(ws_proto::deflate::DeflateConfig::default());
    config
}

fn script() -> Vec<Message> {
    vec![
        Message::text("hello"),
        Message::binary(vec![7u8; 70_000]),
        Message::text("é".repeat(10_000)),
        Message::binary(Vec::new()),
    ]
}

/// Runs `client` on this thread, failing the test if it takes longer than `within`.
fn run_within<H: Handler>(client: &mut Client<H>, within: Duration) {
    let started = Instant::now();
    client.run().unwrap();
    assert!(started.elapsed() < within, "run took {:?}", started.elapsed());
    assert_eq!(client.open_connections(), 0);
}

/// The script's echoes came back in order between `Open` and a clean close with 1000.
fn assert_echoed(seen: &[Seen]) {
    let mut expected = vec![Seen::Open];
    expected.extend(script().into_iter().map(Seen::Message));
    assert_eq!(&seen[..expected.len()], &expected[..]);
    let close = &seen[expected.len()..];
    assert!(matches!(close[0], Seen::Message(Message::Close(_))), "{close:?}");
    let Seen::Closed(info) = &close[1] else { panic!("{close:?}") };
    assert_eq!(info.cause, CloseCause::Handshake, "{info:?}");
    assert_eq!(info.code(), CloseCode::NORMAL, "{info:?}");
    assert_eq!(close.len(), 2, "{close:?}");
}

#[test]
fn echoes_through_the_uring_server() {
    let Some(mut client) = client::<Scripted>(Config::default()) else { return };
    let server = uring_server(1);
    let app = Scripted::new(script());
    let url = format!("ws://{}/chat", server.local_addr());
    let id = client.connect(&url, app.clone()).unwrap();
    assert_eq!(client.open_connections(), 1);
    run_within(&mut client, Duration::from_secs(10));
    assert_echoed(&app.seen());
    assert!(id.get() >= 1);
    server.stop().unwrap();
}

#[test]
fn echoes_through_a_blocking_server_with_deflate() {
    let Some(mut client) = client::<Scripted>(deflate()) else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept_with(tcp, deflate(), |_| Ok(Default::default())).unwrap();
        let deflate = ws.connection().deflate_enabled();
        while let Some(message) = ws.recv() {
            let message = message.unwrap();
            if message.is_data() {
                ws.send(message).unwrap();
            }
        }
        deflate
    });
    let app = Scripted::new(script());
    client.connect(&format!("ws://{addr}/"), app.clone()).unwrap();
    run_within(&mut client, Duration::from_secs(10));
    assert_echoed(&app.seen());
    // The client offered permessage-deflate (its Config allows it) and the server took it.
    assert!(server.join().unwrap(), "permessage-deflate was not negotiated");
}

#[test]
fn many_connections_on_one_ring() {
    const N: usize = 200;
    let Some(mut client) = client::<Scripted>(Config::default()) else { return };
    let server = uring_server(2);
    let url = format!("ws://{}/", server.local_addr());
    let apps: Vec<Scripted> = (0..N).map(|_| Scripted::new(script())).collect();
    let mut ids: Vec<u64> =
        apps.iter().map(|app| client.connect(&url, app.clone()).unwrap().get()).collect();
    assert_eq!(client.open_connections(), N);
    run_within(&mut client, Duration::from_secs(30));
    for app in &apps {
        assert_echoed(&app.seen());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "connection ids are unique");
    // The client runs again after an idle return.
    let again = Scripted::new(script());
    client.connect(&url, again.clone()).unwrap();
    run_within(&mut client, Duration::from_secs(10));
    assert_echoed(&again.seen());
    server.stop().unwrap();
}

fn failure_of<H: Handler>(client: &mut Client<H>, app: &Scripted, within: Duration) -> Error {
    run_within(client, within);
    let seen = app.seen();
    assert!(matches!(seen[..], [Seen::Failed(_)]), "{seen:?}");
    app.failure.lock().unwrap().take().unwrap()
}

#[test]
fn a_refused_connect_reaches_on_connect_failed() {
    let Some(mut client) = client::<Scripted>(Config::default()) else { return };
    // A port nothing listens on any more.
    let addr: SocketAddr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = Scripted::new(script());
    client.connect(&format!("ws://{addr}/"), app.clone()).unwrap();
    match failure_of(&mut client, &app, Duration::from_secs(5)) {
        Error::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}"),
        e => panic!("{e}"),
    }
}

/// A server that reads the request and answers `response`, then closes.
fn raw_server(response: &'static [u8]) -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
    raw_server_with(move |_| response.to_vec())
}

/// A server that reads the request, writes what `respond` makes of it in one write, then
/// shuts its write side down and reads until the client's end of stream.
fn raw_server_with(
    respond: impl FnOnce(&[u8]) -> Vec<u8> + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed before its request was complete");
            request.extend_from_slice(&buf[..n]);
        }
        tcp.write_all(&respond(&request)).unwrap();
        tcp.shutdown(std::net::Shutdown::Write).unwrap();
        while tcp.read(&mut buf).is_ok_and(|n| n > 0) {}
        request
    });
    (addr, thread)
}

#[test]
fn a_refused_handshake_reaches_on_connect_failed_with_its_status() {
    let Some(mut client) = client::<Scripted>(Config::default()) else { return };
    let (addr, server) = raw_server(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    let app = Scripted::new(script());
    let url = format!("ws://{addr}/private");
    client.connect_with(&url, |r| r.protocol("chat").header("X-Token", "t"), app.clone()).unwrap();
    match failure_of(&mut client, &app, Duration::from_secs(5)) {
        Error::Handshake(e) => assert_eq!(e.status(), Some(403), "{e}"),
        e => panic!("{e}"),
    }
    let request = String::from_utf8(server.join().unwrap()).unwrap();
    assert!(request.starts_with("GET /private HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("\r\nX-Token: t\r\n"), "{request}");
    assert!(request.to_ascii_lowercase().contains("sec-websocket-protocol: chat"), "{request}");
    // Config::default has compression off: nothing offered.
    assert!(!request.to_ascii_lowercase().contains("permessage-deflate"), "{request}");
}

#[test]
fn a_wrong_accept_key_fails_the_handshake() {
    let Some(mut client) = client::<Scripted>(Config::default()) else { return };
    let (addr, server) = raw_server(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
    );
    let app = Scripted::new(script());
    client.connect(&format!("ws://{addr}/"), app.clone()).unwrap();
    match failure_of(&mut client, &app, Duration::from_secs(5)) {
        Error::Handshake(e) => assert_eq!(e, HandshakeError::InvalidAccept),
        e => panic!("{e}"),
    }
    server.join().unwrap();
}

#[test]
fn a_silent_server_times_the_handshake_out() {
    let limit = Duration::from_millis(300);
    let mut config = Config::default();
    config.handshake_timeout = limit;
    let Some(mut client) = client::<Scripted>(config) else { return };
    // Connects (the kernel accepts into the backlog) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = Scripted::new(script());
    let started = Instant::now();
    client.connect(&format!("ws://{}/", listener.local_addr().unwrap()), app.clone()).unwrap();
    match failure_of(&mut client, &app, Duration::from_secs(5)) {
        Error::Handshake(e) => assert_eq!(e, HandshakeError::Timeout),
        e => panic!("{e}"),
    }
    assert!(started.elapsed() >= limit, "{:?}", started.elapsed());
    drop(listener);
}

#[test]
fn wss_and_invalid_urls_are_refused_before_any_io() {
    let Some(mut client) = client::<Scripted>(Config::default()) else { return };
    let app = Scripted::new(script());
    let e = client.connect("wss://127.0.0.1:1/", app.clone()).unwrap_err();
    assert!(matches!(e, Error::TlsUnsupported), "{e}");
    assert!(e.to_string().contains("no TLS"), "{e}");
    for url in ["http://127.0.0.1/", "ws://", "127.0.0.1:80"] {
        let e = client.connect(url, app.clone()).unwrap_err();
        assert!(matches!(e, Error::Handshake(HandshakeError::InvalidUrl)), "{url}: {e}");
    }
    assert_eq!(client.open_connections(), 0);
    // Nothing queued: run returns at once.
    run_within(&mut client, Duration::from_secs(1));
    assert!(app.seen().is_empty());
}

#[test]
fn a_frame_and_the_end_of_stream_right_behind_the_101_are_not_lost() {
    // One write: the 101, a text frame, then FIN. Taken in one loop turn, the bytes after the
    // 101 and the end of stream must reach the connection, not the finished handshake.
    let (addr, server) = raw_server_with(|request| {
        let text = String::from_utf8_lossy(request);
        let key = text
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key").then(|| value.trim())
            })
            .unwrap();
        let accept = ws_proto::handshake::derive_accept_key(key.as_bytes());
        let mut out = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes();
        out.extend_from_slice(&[0x81, 0x04]);
        out.extend_from_slice(b"last");
        out
    });
    let Some(mut client) = client::<Scripted>(Config::default()) else { return };
    // A script that sends nothing: the app only records.
    let app = Scripted::new(Vec::new());
    client.connect(&format!("ws://{addr}/"), app.clone()).unwrap();
    run_within(&mut client, Duration::from_secs(5));
    let seen = app.seen();
    assert_eq!(seen[..2], [Seen::Open, Seen::Message(Message::text("last"))], "{seen:?}");
    let Some(Seen::Closed(info)) = seen.last() else { panic!("{seen:?}") };
    assert_eq!(info.cause, CloseCause::EndOfStream, "{info:?}");
    server.join().unwrap();
}

#[test]
fn a_connect_that_hangs_is_bounded_by_the_handshake_timeout() {
    use socket2::{Domain, Socket, Type};
    let limit = Duration::from_millis(300);
    let mut config = Config::default();
    config.handshake_timeout = limit;
    let Some(mut client) = client::<Scripted>(config) else { return };
    // A listener whose accept queue is full (backlog 0, never accepting): the kernel drops
    // further SYNs, so a connect to it waits for SYN retransmissions (seconds).
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let fillers: Vec<Socket> = (0..4)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            let _ = s.connect(&addr.into()); // EINPROGRESS for the ones that wait
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let app = Scripted::new(script());
    let started = Instant::now();
    client.connect(&format!("ws://{addr}/"), app.clone()).unwrap();
    match failure_of(&mut client, &app, Duration::from_secs(5)) {
        Error::Handshake(e) => assert_eq!(e, HandshakeError::Timeout),
        e => panic!("{e}"),
    }
    let took = started.elapsed();
    assert!(took >= limit && took < limit * 5, "{took:?}");
    drop((fillers, listener));
}
