//! What `Config::default()` promises, checked at the edges: mask keys are unpredictable, and
//! every default limit holds exactly at its documented value (one past it fails with the
//! documented code or status, the value itself passes).

mod common;

use std::collections::HashSet;
use std::time::Instant;

use common::*;
use ws_proto::handshake::{Handshake, HandshakeStep, ServerHandshake};
use ws_proto::rng::ChaChaRandom;
use ws_proto::{CapacityError, Config, Connection, Error, Event, Role};

/// The mask keys of every frame `conn` writes for `n` small messages.
fn mask_keys(conn: &mut Connection, n: usize) -> Vec<[u8; 4]> {
    for i in 0..n {
        conn.send_binary(&(i as u32).to_be_bytes()[..]).unwrap();
    }
    decode_frames(&take_output(conn)).into_iter().map(|(h, _)| h.mask.expect("masked")).collect()
}

#[test]
fn a_default_client_masks_with_unpredictable_keys() {
    let now = Instant::now();
    let mut client = Connection::new(Role::Client, Config::default(), now);
    let keys = mask_keys(&mut client, 1000);
    assert_eq!(keys.len(), 1000);
    assert!(!keys.contains(&[0; 4]), "a zero key leaves the payload unmasked");
    let distinct: HashSet<_> = keys.iter().collect();
    // 1 000 draws from 2^32 keys collide with probability ~1e-4: 990 is a wide margin.
    assert!(distinct.len() >= 990, "{} distinct keys in 1000 frames", distinct.len());

    // Two default clients are seeded independently from the operating system.
    let mut other = Connection::new(Role::Client, Config::default(), now);
    assert_ne!(mask_keys(&mut other, 16), keys[..16], "two clients produced the same keys");

    // An injected seed makes every byte reproducible (tests and fuzzing only).
    let seeded = |seed| {
        let mut c = Connection::new(Role::Client, Config::default(), now)
            .with_rng(Box::new(ChaChaRandom::from_seed(seed)));
        c.send_text("same bytes").unwrap();
        take_output(&mut c)
    };
    assert_eq!(seeded(7), seeded(7));
    assert_ne!(seeded(7), seeded(8));
}

/// A masked frame header (zero mask key: the payload bytes are sent as they are).
fn header(b0: u8, len: u64) -> Vec<u8> {
    let mut h = vec![b0, 0x80 | 127];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[0; 4]);
    h
}

fn failure(s: &mut Connection) -> Option<Error> {
    while s.poll_event().is_some() {}
    s.close_info().and_then(|info| info.error())
}

#[test]
fn the_default_frame_limit_fails_one_past_16_mib_before_the_payload() {
    let max = Config::default().max_frame_size;
    assert_eq!(max, 16 << 20, "the documented default");
    let now = Instant::now();
    let mut s = server(now);
    s.handle_data(now, &header(0x82, max as u64 + 1));
    let err = CapacityError::FrameTooLarge { size: max as u64 + 1, max };
    assert_eq!(failure(&mut s), Some(Error::Capacity(err)), "refused at the header");
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1009));

    // Exactly the limit is accepted, and arrives whole.
    let mut s = server(now);
    s.handle_data(now, &header(0x82, max as u64));
    assert_eq!(failure(&mut s), None);
    s.handle_data(now, &vec![7; max]);
    assert!(
        matches!(s.poll_event(), Some(Event::Data { payload, fin: true, .. }) if payload.len() == max)
    );
}

#[test]
fn the_default_message_limit_fails_one_past_64_mib_across_fragments() {
    let config = Config::default();
    let (frame, message) = (config.max_frame_size, config.max_message_size);
    assert_eq!(message, 64 << 20, "the documented default");
    let chunk = vec![7u8; frame];
    let now = Instant::now();
    for extra in [0u64, 1] {
        let mut s = server(now);
        // Four full frames: 64 MiB, the message still open (or closed by the last one).
        for i in 0..4 {
            let b0 = if i == 0 { 0x02 } else { 0x00 };
            let last = i == 3 && extra == 0;
            s.handle_data(now, &header(if last { b0 | 0x80 } else { b0 }, frame as u64));
            s.handle_data(now, &chunk);
            while s.poll_event().is_some() {}
            assert_eq!(failure(&mut s), None, "{} MiB accepted", (i + 1) * 16);
        }
        if extra == 0 {
            continue;
        }
        // One more byte, in a continuation frame: 64 MiB + 1 is refused at its header.
        s.handle_data(now, &header(0x80, extra));
        let size = message as u64 + extra;
        let err = CapacityError::MessageTooLarge { size, max: message };
        assert_eq!(failure(&mut s), Some(Error::Capacity(err)));
        assert_eq!(sent_close_code(&take_output(&mut s)), Some(1009));
    }
}

/// The status a default server answers `request` with (after the handshake driver wrote it).
fn status_for(request: &[u8]) -> u16 {
    let now = Instant::now();
    let mut hs = ServerHandshake::new(Config::default(), now);
    hs.handle_data(now, request);
    if hs.step() == HandshakeStep::Decide {
        hs.accept(now, Default::default());
    }
    let response = String::from_utf8(hs.transmit().to_vec()).unwrap();
    response[9..12].parse().unwrap_or_else(|_| panic!("{response}"))
}

/// A valid request with `extra` more header fields, padded to exactly `total` bytes when given.
fn request(extra: usize, total: Option<usize>) -> Vec<u8> {
    let mut r = String::from(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    for i in 0..extra {
        r.push_str(&format!("X-{i}: v\r\n"));
    }
    if let Some(total) = total {
        let pad = total - r.len() - "X-Pad: \r\n\r\n".len();
        r.push_str(&format!("X-Pad: {}\r\n", "p".repeat(pad)));
    }
    r.push_str("\r\n");
    if let Some(total) = total {
        assert_eq!(r.len(), total);
    }
    r.into_bytes()
}

#[test]
fn the_default_handshake_limits_answer_431_one_past_the_edge() {
    let limits = Config::default().handshake_limits;
    assert_eq!((limits.max_headers, limits.max_bytes), (64, 16 << 10), "the documented defaults");
    // 5 fields of a WebSocket request + 59 = 64 fields: accepted; 65: refused.
    assert_eq!(status_for(&request(59, None)), 101);
    assert_eq!(status_for(&request(60, None)), 431);
    // A header block of exactly 16 KiB (blank line included): accepted; one byte more: refused.
    assert_eq!(status_for(&request(0, Some(limits.max_bytes))), 101);
    assert_eq!(status_for(&request(0, Some(limits.max_bytes + 1))), 431);
}
