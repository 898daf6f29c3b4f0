//! `idle-buffers`: the receive buffer each adapter's server connection holds while it waits for
//! input, read from the core itself (`Connection::recv_capacity`).
//!
//!     cargo run --release -p benches --bin idle-buffers
//!
//! RSS (what `compare.sh` measures per idle connection) cannot tell a released buffer from one
//! still held: the allocator keeps freed memory. This asks the connection. For ws-tokio,
//! ws-async-std (on smol) and ws-blocking, a server connection is accepted over loopback TCP from
//! a client of the same adapter, with the default `Config`; while the server waits in `recv`
//! (stopped by a timeout, which every adapter's `recv` survives), its receive capacity is read
//! at 0.1 s and at `release_buffers_after` + 1 s after the handshake, then again after one 20 B
//! echo.

use std::time::{Duration, Instant};

use ws_proto::handshake::ClientRequest;
use ws_proto::{Config, Message};

/// When the capacity is read, counted from the last thing that happened on the connection.
fn sample_times() -> [Duration; 2] {
    let release = Config::default().release_buffers_after.unwrap_or(Duration::ZERO);
    [Duration::from_millis(100), release + Duration::from_secs(1)]
}

/// Receive capacities: after the handshake, then after one echo, at each of `sample_times`.
type Row = [usize; 4];

const PAYLOAD: &[u8] = b"twenty bytes of data";

/// The wait in `recv` must end by the timeout, not by a message.
fn expect_timeout<T: std::fmt::Debug>(outcome: Option<T>, what: &str) {
    if let Some(message) = outcome {
        panic!("{what}: a message arrived while idle: {message:?}");
    }
}

fn tokio_row() -> Row {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (client, server) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
        let request = ClientRequest::new(addr.to_string(), "/");
        let (client, server) = tokio::join!(
            ws_tokio::client(client, request, Config::default()),
            ws_tokio::accept(server)
        );
        let ((mut client, _), mut server) = (client.expect("client"), server.expect("server"));
        let mut row = [0; 4];
        let idle = async |slots: &mut [usize], server: &mut ws_tokio::WebSocket<_>| {
            let since = Instant::now();
            for (slot, at) in slots.iter_mut().zip(sample_times()) {
                let got = tokio::time::timeout_at((since + at).into(), server.recv()).await.ok();
                expect_timeout(got, "ws-tokio");
                *slot = server.connection().recv_capacity();
            }
        };
        idle(&mut row[..2], &mut server).await;
        client.send_binary(PAYLOAD).await.expect("send");
        let message = server.recv().await.expect("open").expect("message");
        server.send(message).await.expect("echo");
        assert_eq!(client.recv().await.expect("open").expect("echo"), Message::binary(PAYLOAD));
        idle(&mut row[2..], &mut server).await;
        row
    })
}

fn async_std_row() -> Row {
    use futures_util::future::join;
    smol::block_on(async {
        let listener = ws_async_std::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (client, server) =
            join(ws_async_std::TcpStream::connect(addr), listener.accept()).await;
        let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
        let request = ClientRequest::new(addr.to_string(), "/");
        let (client, server) = join(
            ws_async_std::client(client, request, Config::default()),
            ws_async_std::accept(server),
        )
        .await;
        let ((mut client, _), mut server) = (client.expect("client"), server.expect("server"));
        let mut row = [0; 4];
        let idle = async |slots: &mut [usize], server: &mut ws_async_std::WebSocket<_>| {
            let since = Instant::now();
            for (slot, at) in slots.iter_mut().zip(sample_times()) {
                let timer = async {
                    smol::Timer::at(since + at).await;
                    None
                };
                let got = smol::future::or(async { Some(server.recv().await) }, timer).await;
                expect_timeout(got, "ws-async-std");
                *slot = server.connection().recv_capacity();
            }
        };
        idle(&mut row[..2], &mut server).await;
        client.send_binary(PAYLOAD).await.expect("send");
        let message = server.recv().await.expect("open").expect("message");
        server.send(message).await.expect("echo");
        assert_eq!(client.recv().await.expect("open").expect("echo"), Message::binary(PAYLOAD));
        idle(&mut row[2..], &mut server).await;
        row
    })
}

fn blocking_row() -> Row {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let mut server = ws_blocking::accept(tcp).expect("server");
        let mut row = [0; 4];
        let idle = |slots: &mut [usize], server: &mut ws_blocking::WebSocket<_>| {
            let since = Instant::now();
            for (slot, at) in slots.iter_mut().zip(sample_times()) {
                let left = (since + at).saturating_duration_since(Instant::now());
                server.set_read_timeout(Some(left.max(Duration::from_millis(1)))).expect("timeout");
                match server.recv() {
                    Some(Err(e)) if e.is_timeout() => {}
                    other => panic!("ws-blocking: expected a read timeout, got {other:?}"),
                }
                *slot = server.connection().recv_capacity();
            }
            server.set_read_timeout(None).expect("timeout");
        };
        idle(&mut row[..2], &mut server);
        let message = server.recv().expect("open").expect("message");
        server.send(message).expect("echo");
        idle(&mut row[2..], &mut server);
        row
    });
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    let request = ClientRequest::new(addr.to_string(), "/");
    let (mut client, _) = ws_blocking::client(tcp, request, Config::default()).expect("client");
    // Send once the server has sampled its idle handshake state.
    std::thread::sleep(sample_times()[1] + Duration::from_millis(200));
    client.send_binary(PAYLOAD).expect("send");
    assert_eq!(client.recv().expect("open").expect("echo"), Message::binary(PAYLOAD));
    let row = server.join().expect("server thread");
    drop(client);
    row
}

fn main() {
    let [a, b] = sample_times().map(|t| t.as_secs_f64());
    println!(
        "Receive buffer held by an idle server connection (Connection::recv_capacity, bytes)\n"
    );
    println!(
        "| adapter | handshake +{a} s | handshake +{b} s | one 20 B echo +{a} s | one 20 B echo +{b} s |"
    );
    println!("|---|---:|---:|---:|---:|");
    for name in ["ws-tokio", "ws-async-std", "ws-blocking"] {
        let r = match name {
            "ws-tokio" => tokio_row(),
            "ws-async-std" => async_std_row(),
            _ => blocking_row(),
        };
        println!("| {name} | {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
    }
}
