//! Flow control and timers: a peer that never reads (sends wait, memory stays bounded), a peer
//! that floods Pings without reading (reading pauses), keepalive against a silent and a live
//! peer, and the idle timeout.

mod common;

use std::time::{Duration, Instant};

use common::{Rt, pattern, raw, sleep, ws_client};
use futures_lite::{AsyncWriteExt, FutureExt};
use ws_async_std::{Accept, Bytes, CloseCause, CloseCode, Config, Message, accept_with};

on_both_runtimes!(
    send_waits_for_a_peer_that_does_not_read,
    ping_flood_without_reading_is_bounded,
    keepalive_detects_a_silent_peer,
    keepalive_keeps_a_live_peer,
    idle_timeout_closes,
);

const HIGH_WATER: usize = 256 << 10;

fn config_with_high_water() -> Config {
    let mut config = Config::default();
    config.write_buffer_high_water = HIGH_WATER;
    config
}

async fn send_waits_for_a_peer_that_does_not_read<R: Rt>() {
    const MESSAGE: usize = 64 << 10;
    const CAP: usize = 2_000; // 128 MiB: far more than any socket buffers hold
    let (listener, addr) = R::bind().await;
    let (go, wait_for_go) = smol::channel::bounded::<()>(1);
    // The peer connects, then reads nothing until told to.
    let peer = R::spawn(async move {
        let mut ws = ws_client::<R>(addr, Config::default()).await;
        wait_for_go.recv().await.unwrap();
        let mut received = 0;
        while let Some(message) = ws.recv().await {
            if let Message::Binary(data) = message.unwrap() {
                assert_eq!(data.len(), MESSAGE);
                received += 1;
            }
        }
        received
    });
    let tcp = R::accept(&listener).await;
    let mut ws = accept_with(tcp, config_with_high_water(), |_| Ok(Accept::new())).await.unwrap();

    let message = Bytes::from(pattern(MESSAGE, 5));
    let mut sent = 0;
    let mut stalled = false;
    while sent < CAP {
        // `feed` waits only while more than the high-water mark is queued.
        let completed = async {
            ws.feed(Message::Binary(message.clone())).await.unwrap();
            true
        }
        .or(async {
            sleep(Duration::from_millis(500)).await;
            false
        })
        .await;
        // A feed cancelled after its first poll leaves its message queued: it counts.
        sent += 1;
        assert!(
            ws.buffered_amount() <= HIGH_WATER + MESSAGE + 16,
            "queue grew to {} bytes past the high-water mark",
            ws.buffered_amount()
        );
        if !completed {
            stalled = true;
            break;
        }
    }
    assert!(
        stalled,
        "{sent} messages of {MESSAGE} bytes never waited for a peer that does not read"
    );
    assert!(ws.buffered_amount() > HIGH_WATER, "the wait started below the high-water mark");
    // What left us sits in kernel buffers: bounded, far below the cap.
    assert!(sent * MESSAGE < 64 << 20, "{sent} messages sent before the first wait");

    // A `send` waits until written: it cannot complete while the peer does not read.
    let sent_whole = async {
        ws.send_binary(message.clone()).await.unwrap();
        true
    }
    .or(async {
        sleep(Duration::from_millis(300)).await;
        false
    })
    .await;
    assert!(!sent_whole);
    sent += 1;

    // Once the peer reads, everything queued arrives.
    go.send(()).await.unwrap();
    ws.flush().await.unwrap();
    assert_eq!(ws.buffered_amount(), 0);
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert_eq!(peer.await, sent);
}

async fn ping_flood_without_reading_is_bounded<R: Rt>() {
    const BATCH: usize = 1_000;
    const CAP: usize = 256 << 20;
    let (listener, addr) = R::bind().await;
    let (stalled_tx, stalled_rx) = smol::channel::bounded::<()>(1);
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        let mut ws =
            accept_with(tcp, config_with_high_water(), |_| Ok(Accept::new())).await.unwrap();
        let mut pings = 0usize;
        let mut max_queued = 0;
        // Receive until the flooding peer reports that its writes stall, watching the queue.
        loop {
            let next = async { Some(ws.recv().await) }
                .or(async {
                    let _ = stalled_rx.recv().await;
                    None
                })
                .await;
            max_queued = max_queued.max(ws.buffered_amount());
            match next {
                Some(Some(Ok(Message::Ping(_)))) => pings += 1,
                None => break,
                Some(other) => panic!("unexpected {other:?}"),
            }
        }
        (pings, max_queued)
    });
    let mut tcp = R::connect(addr).await;
    let (head, _) = raw::handshake(&mut tcp, "").await;
    assert!(head.starts_with("HTTP/1.1 101 "));
    let ping = raw::masked_frame(0x9, true, &[7u8; 125]);
    let batch: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * BATCH).collect();
    let mut written = 0;
    let mut stalled = false;
    // Flood Pings and never read a Pong: the server must stop reading at some point.
    while written < CAP {
        let progressed = async {
            tcp.write_all(&batch).await.unwrap();
            true
        }
        .or(async {
            sleep(Duration::from_millis(1_000)).await;
            false
        })
        .await;
        if !progressed {
            stalled = true;
            break;
        }
        written += batch.len();
    }
    assert!(stalled, "the server kept reading {written} bytes of Pings whose Pongs nobody reads");
    stalled_tx.send(()).await.unwrap();
    let (pings, max_queued) = server.await;
    assert!(pings > 0);
    // The Pongs queued stay within the high-water mark plus what one read can produce.
    assert!(max_queued <= HIGH_WATER + (64 << 10), "{max_queued} bytes of Pongs queued");
    drop(tcp);
}

fn keepalive_config() -> Config {
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_millis(100));
    config.pong_timeout = Duration::from_millis(300);
    config
}

async fn keepalive_detects_a_silent_peer<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        let mut ws = accept_with(tcp, keepalive_config(), |_| Ok(Accept::new())).await.unwrap();
        // The peer never answers: the Pong timeout ends the connection.
        assert!(ws.recv().await.is_none());
        ws.close_info().cloned().unwrap()
    });
    // Connected, then never polled again: it neither reads nor answers Pings.
    let silent = ws_client::<R>(addr, Config::default()).await;
    let info = server.await;
    assert_eq!(info.cause, CloseCause::PongTimeout);
    assert_eq!(info.sent.unwrap().code, CloseCode::INTERNAL_ERROR);
    assert!(!info.clean);
    drop(silent);
}

async fn keepalive_keeps_a_live_peer<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        let mut ws = accept_with(tcp, keepalive_config(), |_| Ok(Accept::new())).await.unwrap();
        let mut pongs = 0;
        // Several keepalive intervals pass; the peer answers every Ping.
        let until = Instant::now() + Duration::from_millis(800);
        loop {
            let next = async { Some(ws.recv().await) }
                .or(async {
                    async_io::Timer::at(until).await;
                    None
                })
                .await;
            match next {
                Some(Some(Ok(Message::Pong(_)))) => pongs += 1,
                None => break,
                Some(other) => panic!("unexpected {other:?}"),
            }
        }
        assert!(pongs >= 2, "{pongs} keepalive Pongs");
        assert!(ws.close_info().is_none(), "the live peer was dropped");
        assert!(ws.last_rtt().is_some());
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        while ws.recv().await.is_some() {}
        ws.close_info().unwrap().clean
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    let mut pings = 0;
    while let Some(message) = ws.recv().await {
        if let Message::Ping(_) = message.unwrap() {
            pings += 1;
        }
    }
    assert!(pings >= 2);
    assert!(server.await);
}

async fn idle_timeout_closes<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        let mut config = Config::default();
        config.idle_timeout = Some(Duration::from_millis(200));
        let mut ws = accept_with(tcp, config, |_| Ok(Accept::new())).await.unwrap();
        while ws.recv().await.is_some() {}
        ws.close_info().cloned().unwrap()
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    match ws.recv().await.unwrap().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::GOING_AWAY),
        other => panic!("expected Close, got {other:?}"),
    }
    assert!(ws.recv().await.is_none());
    let info = server.await;
    assert!(info.clean);
    assert_eq!(info.sent.unwrap().reason_str(), "idle timeout");
}
