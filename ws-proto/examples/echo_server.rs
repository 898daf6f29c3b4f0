//! An echo server on blocking std sockets, driving `ws_proto` directly: the canonical run loop.
//!
//!     cargo run --release -p ws-proto --example echo_server -- [--addr 127.0.0.1:9001]
//!
//! One thread per connection. Every text and binary message is sent back unchanged. Everything
//! that is policy (the handshake's deadline and refusals, when to close, how long to linger) is
//! decided by the core; this file only moves bytes and time.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ws_proto::handshake::{Accept, Handshake, HandshakeStep, ServerHandshake};
use ws_proto::{Config, Connection, Message, MessageAssembler, Transport};

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

/// Blocks on one read until `deadline` (if any): `Ok(None)` when the deadline passed first.
fn read_until(
    s: &mut TcpStream,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> io::Result<Option<usize>> {
    let wait =
        deadline.map(|d| d.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
    s.set_read_timeout(wait)?;
    match s.read(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // 16 MiB frames, 64 MiB messages; permessage-deflate accepted whenever a client offers it.
    #[allow(unused_mut)]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(Default::default());
    }

    // 1. Opening handshake: the driver says what to do; we do the IO.
    let mut hs = ServerHandshake::new(config, Instant::now());
    let mut buf = [0u8; 4096];
    loop {
        stream.write_all(hs.transmit())?;
        let n = hs.transmit().len();
        hs.advance_transmit(n);
        match hs.step() {
            HandshakeStep::Read => match read_until(&mut stream, &mut buf, hs.poll_timeout())? {
                Some(0) => hs.handle_eof(Instant::now()),
                Some(n) => hs.handle_data(Instant::now(), &buf[..n]),
                None => hs.handle_timeout(Instant::now()),
            },
            HandshakeStep::Decide => hs.accept(Instant::now(), Accept::new()),
            HandshakeStep::Shutdown => {
                stream.shutdown(Shutdown::Write)?;
                hs.handle_write_shutdown(Instant::now());
            }
            HandshakeStep::Done | HandshakeStep::Failed => break,
        }
    }
    let (mut conn, _request) = hs.finish().map_err(io::Error::other)?;

    // 2. The run loop: drain events, write, carry out what `transport()` says, or wait for
    //    input / the next deadline. Bytes that followed the request are already in `conn`.
    let mut assembler = MessageAssembler::new();
    loop {
        while let Some(event) = conn.poll_event() {
            match assembler.push(event) {
                Some(Message::Text(text)) => drop(conn.send_text(text)),
                Some(Message::Binary(data)) => drop(conn.send_binary(data)),
                _ => {} // pings are answered and closes replied to by the core
            }
        }
        write_queued(&mut stream, &mut conn)?;
        match conn.transport() {
            Transport::Close => break,
            Transport::Shutdown => {
                stream.shutdown(Shutdown::Write)?;
                conn.handle_write_shutdown(Instant::now());
                continue;
            }
            Transport::Open | Transport::Drain => {}
        }
        let deadline = conn.poll_timeout();
        match read_until(&mut stream, conn.recv_buf(), deadline) {
            Ok(Some(0)) => conn.handle_eof(Instant::now()),
            Ok(Some(n)) => conn.commit(Instant::now(), n),
            Ok(None) => conn.handle_timeout(Instant::now()),
            Err(_) => conn.handle_transport_error(Instant::now()),
        }
    }
    if let Some(info) = conn.close_info() {
        if let Some(e) = info.error() {
            eprintln!("closed with {}: {e}", e.close_code().map_or(0, |c| c.0));
        }
    }
    Ok(())
}

/// Writes what the connection queued with vectored writes (blocking; a production loop would
/// bound this by the connection's deadline).
fn write_queued(stream: &mut TcpStream, conn: &mut Connection) -> io::Result<()> {
    while conn.transmit_len() > 0 {
        let mut slices = [IoSlice::new(&[]); 16];
        let mut count = 0;
        for (slot, chunk) in slices.iter_mut().zip(conn.transmit_chunks()) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        match stream.write_vectored(&slices[..count]) {
            Ok(n) => conn.advance_transmit(n),
            Err(_) => {
                conn.handle_transport_error(Instant::now());
                break;
            }
        }
    }
    Ok(())
}
