//! The client side of the Autobahn|Testsuite (`wstest -m fuzzingserver`), on blocking std
//! sockets driving `ws_proto` directly.
//!
//!     cargo run --release -p ws-proto --example autobahn_client -- [--url ws://127.0.0.1:9001] [--agent ws-proto]
//!
//! Asks the fuzzing server how many cases there are, runs each one (echoing every message back,
//! with permessage-deflate offered), then asks it to write the reports.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientRequest, WsUrl};
use ws_proto::rng::ChaChaRandom;
use ws_proto::{Config, Connection, Message, MessageAssembler, Role};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut base, mut agent) = ("ws://127.0.0.1:9001".to_owned(), "ws-proto".to_owned());
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--url", Some(u)) => base = u,
            ("--agent", Some(a)) => agent = a,
            _ => return Err(io::Error::other("usage: autobahn_client [--url URL] [--agent NAME]")),
        }
    }
    let mut count = String::new();
    run(&format!("{base}/getCaseCount"), |m| {
        if let Message::Text(t) = m {
            count = t.to_string();
        }
        None
    })?;
    let count: u32 = count.trim().parse().map_err(io::Error::other)?;
    println!("{count} cases");
    for case in 1..=count {
        run(&format!("{base}/runCase?case={case}&agent={agent}"), |m| match m {
            Message::Text(_) | Message::Binary(_) => Some(m),
            _ => None,
        })?;
    }
    run(&format!("{base}/updateReports?agent={agent}"), |_| None)?;
    Ok(())
}

/// Connects to `url` and runs one connection to its end, sending back whatever `on_message`
/// returns.
fn run(url: &str, mut on_message: impl FnMut(Message) -> Option<Message>) -> io::Result<()> {
    let url = WsUrl::parse(url).map_err(io::Error::other)?;
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))?;
    stream.set_nodelay(true)?;
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    let mut rng = ChaChaRandom::from_os();
    let (request, mut handshake) = ClientRequest::from_url(&url)
        .with_config(&config)
        .build(&mut rng)
        .map_err(io::Error::other)?;
    stream.write_all(&request)?;
    stream.set_read_timeout(Some(config.handshake_timeout))?;
    let mut buf = [0u8; 4096];
    let response = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(r) = handshake.feed(&buf[..n]).map_err(io::Error::other)? {
            break r;
        }
    };
    let mut assembler = MessageAssembler::new(config.max_message_size);
    let mut conn = Connection::new(Role::Client, config, Instant::now())
        .with_negotiated(&response.negotiated());
    let _ = conn.handle_data(Instant::now(), &handshake.take_remaining());
    loop {
        while let Some(event) = conn.poll_event() {
            let reply = match assembler.push(event) {
                Ok(Some(m)) => on_message(m),
                _ => None,
            };
            match reply {
                Some(Message::Text(t)) => drop(conn.send_text(t)),
                Some(Message::Binary(b)) => drop(conn.send_binary(b)),
                _ => {}
            }
        }
        while conn.transmit_len() > 0 {
            let slices: Vec<IoSlice<'_>> =
                conn.transmit_chunks().take(64).map(IoSlice::new).collect();
            let n = stream.write_vectored(&slices)?;
            conn.advance_transmit(n);
        }
        if conn.should_close_transport() {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        let now = Instant::now();
        let timeout = conn.poll_timeout().map(|t| t.saturating_duration_since(now));
        stream.set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))?;
        match stream.read(conn.recv_buf()) {
            Ok(0) => conn.handle_eof(Instant::now()),
            Ok(n) => drop(conn.commit(Instant::now(), n)),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                conn.handle_timeout(Instant::now())
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => conn.handle_eof(Instant::now()),
            Err(e) => return Err(e),
        }
    }
}
