//! Split halves used from two threads at once, and reuniting them.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{RawPeer, listen, url};
use ws_blocking::ws_proto::frame::OpCode;
use ws_blocking::{
    CloseCode, Config, Error, Message, ReuniteError, SplitStream, WebSocket, connect,
};

const COUNT: usize = 10_000;

/// Sends `COUNT` numbered messages from one thread while another receives `COUNT` from the
/// peer; checks every message arrives once and in order. Returns the halves reunited.
fn full_duplex<S: SplitStream + 'static>(ws: WebSocket<S>, tag: &'static str) -> WebSocket<S> {
    let (mut rx, mut tx) = ws.split().unwrap();
    let sender = thread::spawn(move || {
        for i in 0..COUNT {
            // Vary sizes: small frames coalesce, larger ones become separate chunks.
            let text = format!("{tag} {i} {}", "x".repeat(i % 7 * 1000));
            // Half queued in batches (backpressure only), half written at once.
            match i % 2 {
                0 => tx.feed(Message::text(text)).unwrap(),
                _ => tx.send_text(text).unwrap(),
            }
        }
        tx.flush().unwrap();
        tx
    });
    let receiver = thread::spawn(move || {
        let peer_tag = if tag == "client" { "server" } else { "client" };
        let mut next = 0;
        while next < COUNT {
            match rx.recv().expect("connection open").unwrap() {
                Message::Text(text) => {
                    let mut words = text.as_str().split(' ');
                    assert_eq!(words.next(), Some(peer_tag));
                    assert_eq!(words.next().unwrap().parse::<usize>().unwrap(), next);
                    assert_eq!(words.next().unwrap().len(), next % 7 * 1000);
                    next += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        rx
    });
    let tx = sender.join().unwrap();
    let rx = receiver.join().unwrap();
    ws_blocking::reunite(rx, tx).unwrap()
}

#[test]
fn ten_thousand_messages_each_way_with_both_ends_split() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let ws = ws_blocking::accept(tcp).unwrap();
        let mut ws = full_duplex(ws, "server");
        // Reunited: the connection still works as a whole.
        assert_eq!(ws.recv().unwrap().unwrap(), Message::text("reunited"));
        ws.send_text("reunited too").unwrap();
        while let Some(m) = ws.recv() {
            m.unwrap();
        }
        assert!(ws.close_info().unwrap().clean);
    });
    let (ws, _) = connect(&url(addr)).unwrap();
    let mut ws = full_duplex(ws, "client");
    ws.send_text("reunited").unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("reunited too"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    while let Some(m) = ws.recv() {
        m.unwrap();
    }
    server.join().unwrap();
}

#[test]
fn read_half_answers_pings_while_the_write_half_is_idle() {
    let (listener, addr) = listen();
    let peer = thread::spawn(move || {
        let mut peer = RawPeer::accept(&listener);
        for i in 0..50u8 {
            peer.send(OpCode::Ping, &[i]);
            let (opcode, _, payload) = peer.read_frame().unwrap();
            assert_eq!((opcode, payload), (OpCode::Pong, vec![i]));
        }
        peer.send(OpCode::Close, &[0x03, 0xe8]);
        let (opcode, _, _) = peer.read_frame().unwrap();
        assert_eq!(opcode, OpCode::Close);
    });
    let (ws, _) = connect(&url(addr)).unwrap();
    let (mut rx, tx) = ws.split().unwrap();
    let mut pings = 0;
    while let Some(m) = rx.recv() {
        match m.unwrap() {
            Message::Ping(_) => pings += 1,
            Message::Close(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(pings, 50);
    peer.join().unwrap();
    drop(tx);
}

#[test]
fn pongs_are_not_lost_while_the_write_half_is_blocked() {
    // The peer pings while our write half is stuck on a full socket; once the peer reads, it
    // must find every pong, after the data queued before it.
    let (listener, addr) = listen();
    let gate = Arc::new(Barrier::new(2));
    let peer_gate = gate.clone();
    let peer = thread::spawn(move || {
        let mut peer = RawPeer::accept(&listener);
        for i in 0..20u8 {
            peer.send(OpCode::Ping, &[i]);
        }
        peer_gate.wait(); // the client's writer has filled the socket
        let mut pongs = Vec::new();
        let mut data = 0;
        while pongs.len() < 20 {
            match peer.read_frame().unwrap() {
                (OpCode::Pong, _, p) => pongs.push(p[0]),
                (OpCode::Binary, _, _) => data += 1,
                other => panic!("{other:?}"),
            }
        }
        peer.send(OpCode::Close, &[0x03, 0xe8]);
        while let Some((opcode, _, _)) = peer.read_frame() {
            if opcode == OpCode::Close {
                break;
            }
        }
        (pongs, data)
    });
    let mut config = Config::default();
    config.write_buffer_high_water = 64 << 10;
    let (ws, _) = ws_blocking::connect_with(&url(addr), |r| r, config, None).unwrap();
    let (mut rx, mut tx) = ws.split().unwrap();
    tx.set_write_timeout(Some(Duration::from_millis(300))).unwrap();
    let writer = thread::spawn(move || {
        let mut sent = 0;
        // Fill the socket until a write times out: the peer is not reading yet.
        loop {
            match tx.send_binary(vec![7u8; 16 << 10]) {
                Ok(()) => sent += 1,
                Err(e) if e.is_timeout() => break,
                Err(e) => panic!("{e}"),
            }
        }
        (tx, sent)
    });
    let mut pings = 0;
    while pings < 20 {
        match rx.recv().unwrap() {
            Ok(Message::Ping(_)) => pings += 1,
            // Writing the pongs to the full socket may time out too; nothing is lost.
            Err(e) if e.is_timeout() => {}
            other => panic!("{other:?}"),
        }
    }
    let (mut tx, sent) = writer.join().unwrap();
    gate.wait();
    tx.set_write_timeout(None).unwrap();
    tx.flush().unwrap();
    while let Some(m) = rx.recv() {
        m.unwrap();
    }
    let (pongs, data) = peer.join().unwrap();
    assert_eq!(pongs, (0..20).collect::<Vec<u8>>());
    assert!(data <= sent + 1, "{data} of {sent}");
}

#[test]
fn halves_of_different_connections_do_not_reunite() {
    let (a, server_a) = common::echo_server(1, Config::default());
    let (b, server_b) = common::echo_server(1, Config::default());
    let (ws_a, _) = connect(&url(a)).unwrap();
    let (ws_b, _) = connect(&url(b)).unwrap();
    let (rx_a, tx_a) = ws_a.split().unwrap();
    let (rx_b, tx_b) = ws_b.split().unwrap();
    assert!(!rx_a.is_pair_of(&tx_b) && !tx_b.is_pair_of(&rx_a));
    assert!(rx_a.is_pair_of(&tx_a) && tx_b.is_pair_of(&rx_b));
    let ReuniteError(rx_a, tx_b) = ws_blocking::reunite(rx_a, tx_b).unwrap_err();
    let mut ws_a = rx_a.reunite(tx_a).unwrap();
    let mut ws_b = ws_blocking::reunite(rx_b, tx_b).unwrap();
    for ws in [&mut ws_a, &mut ws_b] {
        ws.send_text("still works").unwrap();
        assert_eq!(ws.recv().unwrap().unwrap(), Message::text("still works"));
        ws.close(CloseCode::NORMAL, "").unwrap();
        while let Some(m) = ws.recv() {
            m.unwrap();
        }
    }
    for server in [server_a, server_b] {
        for r in server.join().unwrap() {
            r.unwrap();
        }
    }
}

#[test]
fn write_half_reports_usage_errors_after_close() {
    let (addr, server) = common::echo_server(1, Config::default());
    let (ws, _) = connect(&url(addr)).unwrap();
    let (mut rx, mut tx) = ws.split().unwrap();
    tx.close(CloseCode::NORMAL, "bye").unwrap();
    assert!(matches!(tx.send_text("late"), Err(Error::Usage(_))));
    assert!(matches!(rx.recv(), Some(Ok(Message::Close(_)))));
    assert!(rx.recv().is_none());
    assert!(rx.is_closed());
    assert!(rx.close_info().unwrap().clean);
    for r in server.join().unwrap() {
        r.unwrap();
    }
}
