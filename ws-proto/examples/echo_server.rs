//! An echo server on blocking std sockets, driving `ws_proto` directly: the canonical run loop.
//!
//!     cargo run --release -p ws-proto --example echo_server -- [--addr 127.0.0.1:9001]
//!
//! One thread per connection. Every text and binary message is sent back unchanged.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ws_proto::handshake::{Accept, RequestParser};
use ws_proto::{Config, Connection, Message, MessageAssembler, Role};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:9001".to_owned();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(a)) => addr = a,
            _ => return Err(io::Error::other("usage: echo_server [--addr HOST:PORT]")),
        }
    }
    let listener = TcpListener::bind(&addr)?;
    println!("echo server listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("connection error: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?; // a slow handshake is dropped

    // 1. Opening handshake: feed bytes until the request is complete, answer it.
    let mut parser = RequestParser::new(Default::default());
    let mut buf = [0u8; 4096];
    let request = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        match parser.feed(&buf[..n]) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(e) => {
                stream.write_all(&e.response().unwrap_or_default())?;
                return Ok(());
            }
        }
    };
    // 16 MiB frames, 64 MiB messages; permessage-deflate accepted whenever a client offers it.
    #[allow(unused_mut)]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(Default::default());
    }
    let (response, negotiated) =
        request.accept_with(&Accept::new(), &config).map_err(io::Error::other)?;
    stream.write_all(&response)?;

    // 2. The connection. Bytes that followed the request belong to it.
    let mut assembler = MessageAssembler::new(config.max_message_size);
    let mut conn =
        Connection::new(Role::Server, config, Instant::now()).with_negotiated(&negotiated);
    let _ = conn.handle_data(Instant::now(), &parser.take_remaining());

    // 3. The run loop: drain events, write, close or wait for input / the next deadline.
    loop {
        while let Some(event) = conn.poll_event() {
            match assembler.push(event) {
                Ok(Some(Message::Text(text))) => drop(conn.send_text(text)),
                Ok(Some(Message::Binary(data))) => drop(conn.send_binary(data)),
                _ => {} // pings are answered and closes replied to by the core
            }
        }
        while conn.transmit_len() > 0 {
            let slices: Vec<IoSlice<'_>> =
                conn.transmit_chunks().take(64).map(IoSlice::new).collect();
            let n = stream.write_vectored(&slices)?;
            conn.advance_transmit(n);
        }
        if conn.should_close_transport() {
            break;
        }
        let now = Instant::now();
        let timeout = conn.poll_timeout().map(|t| t.saturating_duration_since(now));
        stream.set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))?;
        match stream.read(conn.recv_buf()) {
            Ok(0) => conn.handle_eof(Instant::now()),
            Ok(n) => {
                if let Err(e) = conn.commit(Instant::now(), n) {
                    eprintln!("closing: {e}"); // the Close frame is queued; the loop sends it
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                conn.handle_timeout(Instant::now());
            }
            Err(e) => return Err(e),
        }
    }

    // 4. Close TCP gracefully: send FIN, then drain briefly so unread input does not turn our
    //    close into a reset that could destroy the Close frame in flight.
    stream.shutdown(Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    Ok(())
}
