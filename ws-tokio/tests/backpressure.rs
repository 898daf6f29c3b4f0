//! Slow and silent peers: bounded memory with a peer that never reads, keepalive and idle
//! timers closing dead connections.

mod common;

use std::time::Duration;

use common::{RawClient, bounded, listen, parse_server_frames};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use ws_proto::frame::OpCode;
use ws_tokio::{CloseCode, Config, Message, WebSocket};

const MIB: usize = 1 << 20;

/// Accepts one connection with `config` and hands it to the test.
async fn one_server(
    config: Config,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<WebSocket<TcpStream>>) {
    let (listener, addr) = listen().await;
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        ws_tokio::accept_with(tcp, config, |_| Ok(ws_tokio::Accept::new())).await.unwrap()
    });
    (addr, task)
}

#[tokio::test]
async fn send_waits_when_the_peer_never_reads() {
    let (addr, server) = one_server(Config::default()).await;
    let _raw = RawClient::connect(addr).await; // handshakes, then never reads
    let mut ws = bounded(server).await.unwrap();
    let high_water = ws.config().write_buffer_high_water;

    // `send` writes the whole message before returning: once the socket buffers are full it
    // waits, with at most that one message queued.
    let mut sent = 0;
    loop {
        let send = ws.send_binary(vec![7u8; MIB]);
        match tokio::time::timeout(Duration::from_millis(500), send).await {
            Ok(result) => result.unwrap(),
            Err(_) => break,
        }
        sent += 1;
        assert!(sent < 256, "256 MiB accepted by a peer that never reads");
    }
    assert!(ws.buffered_amount() <= MIB + 14, "{} bytes queued", ws.buffered_amount());

    // `feed` queues without writing but waits once the queue passes the high-water mark.
    let mut fed = 0;
    loop {
        let feed = ws.feed(Message::binary(vec![7u8; MIB]));
        match tokio::time::timeout(Duration::from_millis(300), feed).await {
            Ok(result) => result.unwrap(),
            Err(_) => break,
        }
        fed += 1;
        assert!(fed < 64, "feed never waited");
    }
    assert!(ws.buffered_amount() <= high_water + MIB + 14, "{} bytes queued", ws.buffered_amount());
}

#[tokio::test]
async fn receiving_stops_while_output_is_backed_up() {
    // A peer that floods pings and never reads: every ping queues a pong we cannot send. The
    // receive loop must stop taking input instead of queueing pongs without bound.
    let mut config = Config::default();
    config.write_buffer_high_water = 64 << 10;
    let (addr, server) = one_server(config).await;
    let mut raw = RawClient::connect(addr).await;
    let mut ws = bounded(server).await.unwrap();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        loop {
            tokio::select! {
                m = ws.recv() => match m {
                    Some(Ok(Message::Ping(_))) => {}
                    other => panic!("unexpected {other:?}"),
                },
                _ = &mut stop_rx => return ws.buffered_amount(),
            }
        }
    });

    let batch: Vec<u8> =
        (0..1000).flat_map(|_| common::client_frame(OpCode::Ping, true, &[1u8; 125])).collect();
    let mut written = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_millis(500), raw.tcp.write_all(&batch)).await {
            Ok(result) => result.unwrap(),
            Err(_) => break, // the server stopped reading
        }
        written += batch.len();
        assert!(written < 256 * MIB, "the server kept reading pings it could not answer");
    }
    stop_tx.send(()).unwrap();
    let queued = bounded(server).await.unwrap();
    // At most one read's worth of pongs past the mark.
    assert!(queued <= (64 << 10) + (16 << 10), "{queued} bytes of pongs queued");
}

#[tokio::test]
async fn keepalive_detects_a_silent_peer() {
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_millis(100));
    config.pong_timeout = Duration::from_millis(200);
    let (addr, server) = one_server(config).await;
    let mut raw = RawClient::connect(addr).await; // reads, but never answers
    let reader = tokio::spawn(async move { raw.read_to_end().await });
    let mut ws = bounded(server).await.unwrap();
    let started = std::time::Instant::now();
    assert!(bounded(ws.recv()).await.is_none(), "the connection should just end");
    assert!(started.elapsed() >= Duration::from_millis(250));
    let info = ws.close_info().unwrap();
    assert_eq!(info.cause, ws_proto::CloseCause::PongTimeout);

    let frames = parse_server_frames(&bounded(reader).await.unwrap());
    let opcodes: Vec<OpCode> = frames.iter().map(|f| f.0).collect();
    assert_eq!(opcodes, [OpCode::Ping, OpCode::Close], "{frames:?}");
    assert_eq!(frames[1].1[..2], CloseCode::INTERNAL_ERROR.0.to_be_bytes());
}

#[tokio::test]
async fn keepalive_keeps_a_live_peer_and_measures_rtt() {
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_millis(50));
    config.pong_timeout = Duration::from_millis(500);
    let (addr, server) = one_server(config).await;
    let client = tokio::spawn(async move {
        // A normal client answers pings automatically while it receives.
        let (mut ws, _) = ws_tokio::connect(&common::url(addr)).await.unwrap();
        let mut pings = 0;
        while let Some(m) = ws.recv().await {
            if let Message::Ping(_) = m.unwrap() {
                pings += 1;
            }
        }
        pings
    });
    let mut ws = bounded(server).await.unwrap();
    // Run the server for a while: pings go out, pongs come back, nothing times out.
    let run = async {
        while let Some(m) = ws.recv().await {
            assert!(matches!(m.unwrap(), Message::Pong(_)));
        }
    };
    assert!(tokio::time::timeout(Duration::from_millis(400), run).await.is_err());
    assert!(ws.last_rtt().is_some());
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while bounded(ws.recv()).await.is_some() {}
    assert!(ws.close_info().unwrap().clean);
    assert!(bounded(client).await.unwrap() >= 3);
}

#[tokio::test]
async fn idle_timeout_closes_with_1001() {
    let mut config = Config::default();
    config.idle_timeout = Some(Duration::from_millis(150));
    config.close_timeout = Duration::from_millis(300);
    let (addr, server) = one_server(config).await;
    let mut raw = RawClient::connect(addr).await; // never sends anything
    let mut ws = bounded(server).await.unwrap();
    assert!(bounded(ws.recv()).await.is_none());
    let info = ws.close_info().unwrap();
    assert_eq!(info.cause, ws_proto::CloseCause::CloseTimeout);
    assert_eq!(info.sent.as_ref().unwrap().code, CloseCode::GOING_AWAY);
    let frames = parse_server_frames(&raw.read_to_end().await);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].0, OpCode::Close);
    assert_eq!(frames[0].1[..2], CloseCode::GOING_AWAY.0.to_be_bytes());
}
