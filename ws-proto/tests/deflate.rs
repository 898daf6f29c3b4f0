//! permessage-deflate end to end: negotiation combinations, compressed conversations, fragmented
//! compressed messages, per-message choice and inflate bombs.
#![cfg(feature = "deflate")]

mod common;

use std::time::Instant;

use common::*;
use proptest::prelude::*;
use ws_proto::deflate::DeflateConfig;
use ws_proto::frame::OpCode;
use ws_proto::{
    CapacityError, Compression, Config, Connection, Error, Event, Message, MessageKind,
    ProtocolError, Role,
};

fn with_deflate(d: DeflateConfig) -> Config {
    let mut c = Config::default();
    c.deflate = Some(d);
    c
}

fn json_like(n: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!(
            r#"{{"id":{i},"user":"user{}","action":"update","ok":true,"tags":["a","b"]}},"#,
            i % 17
        ));
        i += 1;
    }
    s.truncate(n);
    s
}

/// Sends `msgs` from `from_client` side, checks they arrive intact, and returns the wire bytes.
fn exchange(p: &mut Pair, from_client: bool, msgs: &[String]) -> Vec<u8> {
    let (sender, receiver) =
        if from_client { (&mut p.client, &mut p.server) } else { (&mut p.server, &mut p.client) };
    for m in msgs {
        sender.send_text(m.as_str()).unwrap();
    }
    let wire = take_output(sender);
    receiver.handle_data(p.now, &wire);
    let mut asm = ws_proto::MessageAssembler::new();
    let got: Vec<Message> = take_events(receiver).into_iter().filter_map(|e| asm.push(e)).collect();
    let expected: Vec<Message> = msgs.iter().map(|m| Message::text(m.as_str())).collect();
    assert_eq!(got, expected);
    wire
}

#[test]
fn every_negotiation_combination_round_trips() {
    let bits = [8u8, 9, 12, 15];
    let mut combos = 0;
    for &snct in &[false, true] {
        for &cnct in &[false, true] {
            for &sbits in &bits {
                for &cbits in &bits {
                    for server_side in [false, true] {
                        // The parameters come from the client's offer or the server's policy.
                        let d = DeflateConfig {
                            server_no_context_takeover: snct,
                            client_no_context_takeover: cnct,
                            server_max_window_bits: sbits,
                            client_max_window_bits: cbits,
                            min_size: 0,
                            ..DeflateConfig::default()
                        };
                        let (client_d, server_d) = if server_side {
                            (DeflateConfig { min_size: 0, ..Default::default() }, d.clone())
                        } else {
                            (d.clone(), DeflateConfig { min_size: 0, ..Default::default() })
                        };
                        let (mut p, neg) =
                            Pair::negotiated(with_deflate(client_d), with_deflate(server_d));
                        let params = neg.deflate.expect("deflate negotiated");
                        assert_eq!(params.server_no_context_takeover, snct);
                        assert_eq!(params.client_no_context_takeover, cnct);
                        assert_eq!(params.server_max_window_bits, sbits);
                        let msgs: Vec<String> = (0..4).map(|i| json_like(300 + i * 1000)).collect();
                        let up = exchange(&mut p, true, &msgs);
                        let down = exchange(&mut p, false, &msgs);
                        let raw: usize = msgs.iter().map(String::len).sum();
                        // Window 8 cannot be produced by zlib: those messages go uncompressed.
                        let client_compresses = params.client_max_window_bits >= 9;
                        let server_compresses = params.server_max_window_bits >= 9;
                        let compressed_frames = |wire: &[u8]| {
                            decode_frames(wire).iter().filter(|(h, _)| h.rsv1).count()
                        };
                        assert_eq!(compressed_frames(&up), if client_compresses { 4 } else { 0 });
                        assert_eq!(compressed_frames(&down), if server_compresses { 4 } else { 0 });
                        if server_compresses {
                            assert!(down.len() < raw / 3, "JSON compresses well: {}", down.len());
                        }
                        combos += 1;
                    }
                }
            }
        }
    }
    assert_eq!(combos, 128);
}

#[test]
fn no_deflate_unless_both_sides_enable_it() {
    let (_, neg) = Pair::negotiated(with_deflate(DeflateConfig::default()), Config::default());
    assert_eq!(neg.deflate, None);
    let (_, neg) = Pair::negotiated(Config::default(), with_deflate(DeflateConfig::default()));
    assert_eq!(neg.deflate, None);
}

#[test]
fn context_takeover_makes_repeats_cheaper_and_no_takeover_does_not() {
    let msg = vec![json_like(2000)];
    let (mut p, _) = Pair::negotiated(
        with_deflate(DeflateConfig::default()),
        with_deflate(DeflateConfig::default()),
    );
    let first = exchange(&mut p, false, &msg).len();
    let second = exchange(&mut p, false, &msg).len();
    assert!(second * 2 < first, "takeover: {first} then {second}");
    let d = DeflateConfig { server_no_context_takeover: true, ..Default::default() };
    let (mut p, _) = Pair::negotiated(with_deflate(d), with_deflate(DeflateConfig::default()));
    let first = exchange(&mut p, false, &msg);
    let second = exchange(&mut p, false, &msg);
    assert_eq!(first, second, "without takeover every message compresses alike");
}

#[test]
fn per_message_choice_and_threshold() {
    let (mut p, _) = Pair::negotiated(
        with_deflate(DeflateConfig::default()),
        with_deflate(DeflateConfig::default()),
    );
    p.server.send_text("tiny").unwrap(); // under min_size: sent as is
    p.server.send_text(json_like(500)).unwrap(); // compressed
    p.server
        .send_with(MessageKind::Binary, &b"already compressed"[..], Compression::Never)
        .unwrap();
    p.server.send_with(MessageKind::Text, "tiny", Compression::Always).unwrap();
    assert_eq!(
        p.server.send_with(MessageKind::Text, &b"\xff"[..], Compression::Auto),
        Err(ws_proto::UsageError::InvalidUtf8)
    );
    let wire = take_output(&mut p.server);
    let rsv1: Vec<bool> = decode_frames(&wire).iter().map(|(h, _)| h.rsv1).collect();
    assert_eq!(rsv1, vec![false, true, false, true]);
    p.client.handle_data(p.now, &wire);
    assert_eq!(take_events(&mut p.client).len(), 4);
}

#[test]
fn fragmented_compressed_messages_both_ways() {
    let (mut p, _) = Pair::negotiated(
        with_deflate(DeflateConfig::default()),
        with_deflate(DeflateConfig::default()),
    );
    let text = json_like(5000);
    for (i, piece) in text.as_bytes().chunks(1200).enumerate() {
        let fin = (i + 1) * 1200 >= text.len();
        p.client.send_fragment(MessageKind::Text, piece, fin).unwrap();
        if i == 1 {
            p.client.ping(p.now, b"mid").unwrap();
        }
    }
    let wire = take_output(&mut p.client);
    let frames = decode_frames(&wire);
    assert!(frames[0].0.rsv1, "RSV1 on the first frame");
    assert!(frames[1..].iter().all(|(h, _)| !h.rsv1), "and only there");
    p.server.handle_data(p.now, &wire);
    let mut asm = ws_proto::MessageAssembler::new();
    let msgs: Vec<Message> =
        take_events(&mut p.server).into_iter().filter_map(|e| asm.push(e)).collect();
    assert_eq!(msgs.last(), Some(&Message::text(text)));
}

#[test]
fn rsv1_rules_when_negotiated() {
    let now = Instant::now();
    let (p, neg) = Pair::negotiated(
        with_deflate(DeflateConfig::default()),
        with_deflate(DeflateConfig::default()),
    );
    drop(p);
    let server = || Connection::new(Role::Server, Config::default(), now).with_negotiated(&neg);
    // RSV1 on a control frame or a continuation frame.
    for input in [
        raw_frame(0xc9, Some(KEY), b""),
        [raw_frame(0x01, Some(KEY), b"a"), raw_frame(0xc0, Some(KEY), b"b")].concat(),
    ] {
        let mut s = server();
        let err = Error::Protocol(ProtocolError::MisplacedCompressionBit);
        assert_eq!(fail_of(&mut s, now, &input), Err(err));
        take_events(&mut s);
        assert_eq!(sent_close_code(&take_output(&mut s)), Some(1002));
    }
    // RSV2 and RSV3 are still reserved.
    let mut s = server();
    assert!(fail_of(&mut s, now, &raw_frame(0xa1, Some(KEY), b"x")).is_err());
    // Garbage that does not inflate: 1007.
    let mut s = server();
    let err = Error::Protocol(ProtocolError::InvalidCompressedData);
    assert_eq!(fail_of(&mut s, now, &raw_frame(0xc1, Some(KEY), &[0xff, 0xff, 0xff])), Err(err));
    take_events(&mut s);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1007));
    // Compressed text that inflates to invalid UTF-8: 1007.
    let mut s = server();
    let stored_bad = [0x00, 0x01, 0x00, 0xfe, 0xff, 0xff];
    let err = Error::Protocol(ProtocolError::InvalidUtf8);
    assert_eq!(fail_of(&mut s, now, &raw_frame(0xc1, Some(KEY), &stored_bad)), Err(err));
    // RFC 7692 §7.2.3.1 "Hello", as a server would receive it masked.
    let mut s = server();
    s.handle_data(now, &raw_frame(0xc1, Some(KEY), &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
    assert!(matches!(s.poll_event(), Some(Event::Data { payload, .. }) if payload == "Hello"));
}

#[test]
fn inflate_bomb_is_refused_within_the_limit() {
    // About 1 MiB on the wire that inflates to 1 GiB.
    let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::best(), false, 15);
    let zeros = vec![0u8; 1 << 20];
    let mut bomb = Vec::with_capacity(2 << 20);
    for i in 0..1024 {
        let flush =
            if i == 1023 { flate2::FlushCompress::Sync } else { flate2::FlushCompress::None };
        let before = c.total_in();
        while c.total_in() - before < zeros.len() as u64 || flush == flate2::FlushCompress::Sync {
            bomb.reserve(64 << 10);
            let start = (c.total_in() - before) as usize;
            c.compress_vec(&zeros[start..], &mut bomb, flush).unwrap();
            if c.total_in() - before == zeros.len() as u64 && bomb.len() < bomb.capacity() {
                break;
            }
        }
    }
    bomb.truncate(bomb.len() - 4);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());

    // Raised past the 1 MiB default for compressed messages: the general limit decides.
    let mut server_config =
        with_deflate(DeflateConfig { max_message_size: None, ..DeflateConfig::default() });
    server_config.max_message_size = 16 << 20;
    let (p, neg) = Pair::negotiated(with_deflate(DeflateConfig::default()), server_config.clone());
    let now = p.now;
    drop(p);
    let mut s = Connection::new(Role::Server, server_config, now).with_negotiated(&neg);
    let frame = raw_frame(0xc2, Some(KEY), &bomb);
    let err = fail_of(&mut s, now, &frame).unwrap_err();
    let Error::Capacity(CapacityError::MessageTooLarge { size, max }) = err else {
        panic!("{err:?}")
    };
    assert_eq!(max, 16 << 20);
    assert!(size > 16 << 20 && size <= (16 << 20) + (1 << 20), "stopped near the limit: {size}");
    take_events(&mut s);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1009));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn compressed_round_trip_with_random_fragmentation(
        msgs in proptest::collection::vec(("\\PC{0,400}", proptest::collection::vec(0usize..200, 0..4)), 1..8),
        no_takeover in any::<bool>(),
        chunk in 0usize..100,
    ) {
        let d = DeflateConfig { client_no_context_takeover: no_takeover, min_size: 0, ..Default::default() };
        let (mut p, _) = Pair::negotiated(with_deflate(d), with_deflate(DeflateConfig::default()));
        p.chunk = chunk;
        let mut expected = Vec::new();
        for (text, cuts) in &msgs {
            let mut rest = text.as_str();
            for &c in cuts {
                let mut c = c.min(rest.len());
                while !rest.is_char_boundary(c) { c -= 1; }
                p.client.send_fragment(MessageKind::Text, &rest[..c], false).unwrap();
                rest = &rest[c..];
            }
            p.client.send_fragment(MessageKind::Text, rest, true).unwrap();
            expected.push(Message::text(text.as_str()));
        }
        p.pump();
        prop_assert_eq!(Pair::data(&p.server_msgs), expected);
    }
}

#[test]
fn empty_fragments_end_a_compressed_message_correctly() {
    let d = DeflateConfig { min_size: 0, ..Default::default() };
    let (mut p, _) = Pair::negotiated(with_deflate(d), with_deflate(DeflateConfig::default()));
    p.client.send_fragment(MessageKind::Text, "", false).unwrap();
    p.client.send_fragment(MessageKind::Text, "", true).unwrap();
    p.client.send_fragment(MessageKind::Text, "ab", false).unwrap();
    p.client.send_fragment(MessageKind::Text, "", true).unwrap();
    p.client.send_text("after").unwrap();
    p.pump();
    assert_eq!(
        Pair::data(&p.server_msgs),
        vec![Message::text(""), Message::text("ab"), Message::text("after")]
    );
}

#[test]
fn control_frames_are_never_compressed() {
    let (mut p, _) = Pair::negotiated(
        with_deflate(DeflateConfig { min_size: 0, ..Default::default() }),
        with_deflate(DeflateConfig::default()),
    );
    p.client.ping(p.now, &[b'a'; 100]).unwrap();
    p.client.close(p.now, ws_proto::CloseCode::NORMAL, &"r".repeat(100)).unwrap();
    let frames = decode_frames(&take_output(&mut p.client));
    assert!(frames.iter().all(|(h, _)| !h.rsv1 && h.opcode.is_control()));
    assert_eq!(frames[0].0.opcode, OpCode::Ping);
}

/// Compressed messages get 1 MiB by default whatever `Config::max_message_size` says (the
/// smaller limit applies), while uncompressed ones on the same connection get the general
/// limit; raising `DeflateConfig::max_message_size` raises it.
#[test]
fn compressed_messages_get_a_lower_limit_unless_raised() {
    let zeros = |n: usize| {
        let mut z = flate2::Compress::new_with_window_bits(flate2::Compression::fast(), false, 15);
        let mut out = Vec::with_capacity(n / 100 + 1024);
        z.compress_vec(&vec![0u8; n], &mut out, flate2::FlushCompress::Sync).unwrap();
        out.truncate(out.len() - 4);
        out
    };
    for (limit, message, fails) in [
        (Some(1 << 20), (1 << 20) + 1, true),
        (Some(1 << 20), 1 << 20, false),
        (Some(4 << 20), 3 << 20, false),
        (None, 3 << 20, false),
    ] {
        let d = DeflateConfig { max_message_size: limit, ..DeflateConfig::default() };
        let (p, neg) = Pair::negotiated(with_deflate(d.clone()), with_deflate(d.clone()));
        let now = p.now;
        drop(p);
        let mut s = Connection::new(Role::Server, with_deflate(d), now).with_negotiated(&neg);
        let compressed = zeros(message);
        // A 2 MiB uncompressed message first: the general 64 MiB limit applies to it.
        s.handle_data(now, &raw_frame(0x82, Some(KEY), &vec![7u8; 2 << 20]));
        let result = fail_of(&mut s, now, &raw_frame(0xc2, Some(KEY), &compressed));
        match (fails, result) {
            (true, Err(Error::Capacity(CapacityError::MessageTooLarge { max, .. }))) => {
                assert_eq!(Some(max), limit, "{limit:?}");
            }
            (false, Ok(())) => {}
            (_, other) => panic!("limit {limit:?}, message {message}: {other:?}"),
        }
    }
}
