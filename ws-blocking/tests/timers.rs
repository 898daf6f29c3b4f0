//! Timers and timeouts: keepalive, idle and close timeouts, read and write timeouts, and
//! backpressure against a peer that never reads.

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::{PATIENCE, RawPeer, listen, url};
use ws_blocking::ws_proto::frame::OpCode;
use ws_blocking::{Bytes, CloseCause, CloseCode, Config, Error, Message, connect, connect_with};

#[test]
fn keepalive_detects_a_silent_peer_and_closes() {
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_millis(100));
    config.pong_timeout = Duration::from_millis(200);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept_with(tcp, config, |_| Ok(Default::default())).unwrap();
        let started = Instant::now();
        // The peer never answers: recv must end by itself.
        while let Some(m) = ws.recv() {
            m.unwrap();
        }
        (started.elapsed(), ws.close_info().cloned().unwrap())
    });
    let mut peer = RawPeer::connect(addr);
    let (opcode, _, _) = peer.read_frame().unwrap();
    assert_eq!(opcode, OpCode::Ping, "a keepalive Ping comes first");
    let (opcode, _, payload) = peer.read_frame().unwrap();
    assert_eq!((opcode, &payload[..2]), (OpCode::Close, &[0x03, 0xf3][..])); // 1011
    assert!(peer.read_to_eof());
    drop(peer); // ends the server's drain after its half-close
    let (took, info) = server.join().unwrap();
    assert_eq!(info.cause, CloseCause::PongTimeout);
    assert!(took < PATIENCE);
}

#[test]
fn keepalive_is_satisfied_by_a_live_peer() {
    let mut config = Config::default();
    config.keepalive_interval = Some(Duration::from_millis(50));
    config.pong_timeout = Duration::from_millis(500);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept_with(tcp, config, |_| Ok(Default::default())).unwrap();
        let mut pongs = 0;
        let text = loop {
            match ws.recv().unwrap().unwrap() {
                Message::Pong(_) => pongs += 1,
                other => break other,
            }
        };
        let rtt = ws.last_rtt();
        while let Some(m) = ws.recv() {
            m.unwrap();
        }
        (text, rtt, pongs)
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    // Receiving answers the keepalive pings: the server keeps sending them instead of giving
    // up after its 500 ms pong timeout.
    ws.set_read_timeout(Some(PATIENCE)).unwrap();
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(1200) {
        match ws.recv().unwrap().unwrap() {
            Message::Ping(_) => pings += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(pings >= 5, "{pings} pings");
    ws.send_text("still here").unwrap();
    ws.close(CloseCode::NORMAL, "").unwrap();
    ws.set_read_timeout(None).unwrap();
    while let Some(m) = ws.recv() {
        m.unwrap();
    }
    let (text, rtt, pongs) = server.join().unwrap();
    assert_eq!(text, Message::text("still here"));
    assert!(rtt.is_some());
    assert!(pongs >= 5, "{pongs} pongs");
}

#[test]
fn idle_timeout_starts_a_going_away_close() {
    let mut config = Config::default();
    config.idle_timeout = Some(Duration::from_millis(150));
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept_with(tcp, config, |_| Ok(Default::default())).unwrap();
        let mut seen = Vec::new();
        while let Some(m) = ws.recv() {
            seen.push(m.unwrap());
        }
        (seen, ws.close_info().cloned().unwrap())
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    let close = ws.recv().unwrap().unwrap();
    assert!(matches!(close, Message::Close(Some(ref f)) if f.code == CloseCode::GOING_AWAY));
    assert!(ws.recv().is_none());
    let (seen, info) = server.join().unwrap();
    assert!(matches!(&seen[..], [Message::Close(Some(_))]), "{seen:?}");
    assert!(info.clean);
}

#[test]
fn close_timeout_gives_up_on_a_peer_that_never_replies() {
    let mut config = Config::default();
    config.close_timeout = Duration::from_millis(200);
    let (listener, addr) = listen();
    let peer = thread::spawn(move || {
        let mut peer = RawPeer::accept(&listener);
        let (opcode, _, _) = peer.read_frame().unwrap();
        assert_eq!(opcode, OpCode::Close);
        // No reply, but keep the connection open until the client gives up.
        peer.read_to_eof()
    });
    let (mut ws, _) = connect_with(&url(addr), |r| r, config, None).unwrap();
    let started = Instant::now();
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(ws.recv().is_none());
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(ws.close_info().unwrap().cause, CloseCause::CloseTimeout);
    assert!(peer.join().unwrap(), "the client half-closed");
}

#[test]
fn read_timeout_mid_frame_loses_nothing() {
    let (listener, addr) = listen();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let mut peer = RawPeer::accept(&listener);
        let frame = peer.frame(OpCode::Text, true, b"split across a timeout");
        peer.tcp.write_all(&frame[..9]).unwrap();
        go_rx.recv().unwrap(); // the client timed out meanwhile
        peer.tcp.write_all(&frame[9..]).unwrap();
        peer.send(OpCode::Binary, b"next");
        peer.send(OpCode::Close, &[0x03, 0xe8]);
        peer.read_frame()
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    ws.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    assert_eq!(ws.read_timeout(), Some(Duration::from_millis(100)));
    let err = ws.recv().unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let err = ws.recv().unwrap().unwrap_err();
    assert!(err.is_timeout(), "timing out twice is fine too: {err:?}");
    go_tx.send(()).unwrap();
    ws.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("split across a timeout"));
    assert_eq!(ws.recv().unwrap().unwrap(), Message::binary(Bytes::from_static(b"next")));
    assert!(matches!(ws.recv(), Some(Ok(Message::Close(_)))));
    assert!(ws.recv().is_none());
    assert_eq!(peer.join().unwrap().map(|f| f.0), Some(OpCode::Close));
}

#[test]
fn write_timeout_then_resume_loses_and_repeats_nothing() {
    let (listener, addr) = listen();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let mut peer = RawPeer::accept(&listener);
        go_rx.recv().unwrap(); // start reading only after the client's write timed out
        let mut received = Vec::new();
        loop {
            match peer.read_frame().unwrap() {
                (OpCode::Binary, true, payload) => received.push(payload),
                (OpCode::Close, _, _) => break,
                other => panic!("{:?}", other.0),
            }
        }
        peer.send(OpCode::Close, &[0x03, 0xe8]);
        received
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    ws.set_write_timeout(Some(Duration::from_millis(200))).unwrap();
    assert_eq!(ws.write_timeout(), Some(Duration::from_millis(200)));
    let mut sent = Vec::new();
    loop {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i as usize + sent.len()) as u8).collect();
        let result = ws.send_binary(payload.clone());
        // Queued even when the write timed out.
        sent.push(payload);
        match result {
            Ok(()) => {}
            Err(e) if e.is_timeout() => break,
            Err(e) => panic!("{e}"),
        }
        assert!(sent.len() < 10_000, "writes never blocked");
    }
    go_tx.send(()).unwrap();
    ws.set_write_timeout(None).unwrap();
    ws.close(CloseCode::NORMAL, "").unwrap();
    while let Some(m) = ws.recv() {
        m.unwrap();
    }
    let received = peer.join().unwrap();
    assert_eq!(received.len(), sent.len());
    assert!(received == sent, "messages differ");
}

#[test]
fn backpressure_bounds_memory_and_blocks_the_sender() {
    let mut config = Config::default();
    config.write_buffer_high_water = 256 << 10;
    let (listener, addr) = listen();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        // Completes the handshake, then never reads until told to go away.
        let peer = RawPeer::accept(&listener);
        done_rx.recv().unwrap();
        drop(peer);
    });
    let (mut ws, _) = connect_with(&url(addr), |r| r, config, None).unwrap();
    ws.set_write_timeout(Some(Duration::from_millis(300))).unwrap();
    let message = Message::binary(vec![0u8; 64 << 10]);
    let bound = (256 << 10) + (64 << 10) + 16;

    // feed queues up to the high-water mark, then blocks (here: until the write timeout).
    let mut accepted = 0usize;
    let mut max_buffered = 0;
    let err = loop {
        match ws.feed(message.clone()) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        max_buffered = max_buffered.max(ws.buffered_amount());
        assert!(accepted < 100_000, "feed never blocked");
    };
    assert!(err.is_timeout(), "{err:?}");
    assert!(max_buffered > 64 << 10, "feed queued without writing: {max_buffered}");
    assert!(max_buffered <= bound, "{max_buffered}");
    assert!(ws.buffered_amount() <= bound);
    // What was accepted fits the high-water mark plus the kernel's socket buffers.
    assert!(accepted * (64 << 10) < 64 << 20, "{accepted} messages accepted");

    // send blocks until written: with the socket full it times out, the message still queued.
    let before = ws.buffered_amount();
    let err = ws.send(message.clone()).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(ws.buffered_amount() >= before);
    assert!(ws.buffered_amount() <= bound + (64 << 10));

    done_tx.send(()).unwrap();
    peer.join().unwrap();
    // The peer is gone: the next writes fail for good.
    let failure = loop {
        match ws.flush() {
            Err(e) if e.is_timeout() => continue,
            other => break other,
        }
    };
    assert!(matches!(failure, Err(Error::Io(_))), "{failure:?}");
    assert!(matches!(ws.send(message), Err(Error::Usage(_))));
}
