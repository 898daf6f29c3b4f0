//! The seed corpus: small, meaningful inputs for every target (valid frames of each kind, the
//! RFC 6455 examples, real browser handshakes, and the classic malformed cases).
//!
//! `cargo run --example gen_corpus` writes them to `corpus/<target>/seed-*`; the replay test
//! also runs them straight from here, so a seed that stops making sense fails `cargo test`.

use arbitrary::{Arbitrary, Unstructured};

use crate::common::{Splitter, encode_wire};
use crate::conversation::{Op, Scenario};
use crate::handshake::client_request;

/// `(file name, bytes)` seeds for `target` (empty for an unknown target).
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let named = |v: Vec<(&str, Vec<u8>)>| {
        v.into_iter().map(|(n, b)| (format!("seed-{n}"), b)).collect::<Vec<_>>()
    };
    match target {
        "frame_server" => named(with_ctl(&frame_streams(Some(KEY)), &[0, 0x05, 0x4a, 0xd0])),
        "frame_client" => named(with_ctl(&frame_streams(None), &[0, 0x05, 0x4a, 0xd0])),
        "differential_frames" => named(with_ctl(&frame_streams(Some(KEY)), &[0, 0x05, 0x0a])),
        "handshake_request" => named(with_ctl(&requests(), &[0, 0x0d, 0x02])),
        "handshake_response" => named(responses()),
        "utf8_incremental" => named(utf8_seeds()),
        "mask" => named(mask_seeds()),
        "conversation" => named(conversation_seeds()),
        "inflate" => named(inflate_seeds()),
        _ => Vec::new(),
    }
}

/// The RFC 6455 §5.7 example mask key.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Prefixes each stream with each control byte and a chunking seed.
fn with_ctl(streams: &[(&'static str, Vec<u8>)], ctls: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, ctl) in ctls.iter().enumerate() {
        for (name, s) in streams {
            let mut v = vec![*ctl, i as u8, 0x5a];
            v.extend_from_slice(s);
            // Leak-free static names: the index goes into the file name below.
            out.push((*name, v));
        }
    }
    dedup_names(out)
}

fn dedup_names(v: Vec<(&'static str, Vec<u8>)>) -> Vec<(&'static str, Vec<u8>)> {
    // Names repeat across control bytes; make them unique with a counter.
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    v.into_iter()
        .map(|(n, b)| {
            let k = seen.entry(n).or_default();
            *k += 1;
            let name: &'static str = Box::leak(format!("{n}-{k}").into_boxed_str());
            (name, b)
        })
        .collect()
}

/// Frame streams as a client (masked) or server (unmasked) sends them.
fn frame_streams(mask: Option<[u8; 4]>) -> Vec<(&'static str, Vec<u8>)> {
    let f = |fin, op, p: &[u8]| encode_wire(fin, op, p, mask);
    let cat = |parts: Vec<Vec<u8>>| parts.concat();
    let close = |code: u16, reason: &[u8]| {
        let mut b = code.to_be_bytes().to_vec();
        b.extend_from_slice(reason);
        b
    };
    let mut raw_rsv = f(true, 1, b"rsv");
    raw_rsv[0] |= 0x40;
    let mut ping126 = vec![0x89, if mask.is_some() { 0xfe } else { 0x7e }, 0, 5];
    ping126.extend_from_slice(&mask.unwrap_or_default()[..if mask.is_some() { 4 } else { 0 }]);
    ping126.extend_from_slice(b"Hello");
    vec![
        ("text-hello", f(true, 1, b"Hello")),
        ("fragmented-text", cat(vec![f(false, 1, b"Hel"), f(true, 0, b"lo")])),
        ("ping-pong", cat(vec![f(true, 9, b"Hello"), f(true, 0xA, b"Hello")])),
        ("binary-256", f(true, 2, &[0xab; 256])),
        ("binary-empty", f(true, 2, b"")),
        ("utf8-multibyte", f(true, 1, "κόσμε żółw 🐢".as_bytes())),
        (
            "fragments-with-ping",
            cat(vec![f(false, 1, "ż".as_bytes()), f(true, 9, b"p"), f(true, 0, b"!")]),
        ),
        ("split-codepoint", cat(vec![f(false, 1, &[0xf0, 0x9f]), f(true, 0, &[0x90, 0xa2])])),
        ("close-normal", f(true, 8, &close(1000, b"bye"))),
        ("close-empty", f(true, 8, b"")),
        ("close-4000", cat(vec![f(true, 2, b"x"), f(true, 8, &close(4000, b""))])),
        ("close-1005", f(true, 8, &close(1005, b""))),
        ("close-1014", f(true, 8, &close(1014, b""))),
        ("close-one-byte", f(true, 8, &[3])),
        ("close-bad-reason", f(true, 8, &close(1000, &[0xff]))),
        ("bad-utf8", f(true, 1, &[b'a', 0xed, 0xa0, 0x80])),
        ("bad-utf8-fragment", cat(vec![f(false, 1, &[0xf4, 0x90]), f(true, 0, &[0x80, 0x80])])),
        ("incomplete-utf8-at-end", f(true, 1, &[0xe2, 0x82])),
        ("rsv1", raw_rsv),
        ("reserved-opcode", f(true, 3, b"")),
        ("reserved-control", f(true, 0xb, b"")),
        ("fragmented-ping", f(false, 9, b"")),
        ("ping-126", ping126),
        ("bare-continuation", f(true, 0, b"x")),
        ("nested-message", cat(vec![f(false, 1, b"a"), f(true, 2, b"b")])),
        (
            "wrong-masking",
            encode_wire(true, 1, b"x", if mask.is_some() { None } else { Some(KEY) }),
        ),
        ("huge-length", {
            let mut h = vec![0x82, 0x7f | if mask.is_some() { 0x80 } else { 0 }];
            h.extend_from_slice(&(1u64 << 40).to_be_bytes());
            h
        }),
        ("top-bit-length", {
            let mut h = vec![0x82, 0x7f];
            h.extend_from_slice(&(1u64 << 63).to_be_bytes());
            h
        }),
        ("data-after-close", cat(vec![f(true, 8, b""), f(true, 1, b"late")])),
        (
            "many-small",
            (0..40).flat_map(|i| f(true, if i % 3 == 0 { 9 } else { 2 }, &[i as u8; 3])).collect(),
        ),
    ]
}

/// Handshake requests: the RFC 6455 §1.2 example and real browsers' requests.
fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let rfc = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    let chrome = "GET /ws HTTP/1.1\r\nHost: localhost:9001\r\nConnection: Upgrade\r\n\
        Pragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux \
        x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
        Upgrade: websocket\r\nOrigin: http://localhost:9001\r\nSec-WebSocket-Version: 13\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
        Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    let firefox = "GET /ws?room=1 HTTP/1.1\r\nHost: localhost:9001\r\nUser-Agent: Mozilla/5.0 \
        (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\nAccept: */*\r\n\
        Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\
        Sec-WebSocket-Version: 13\r\nOrigin: http://localhost:9001\r\n\
        Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: \
        AQIDBAUGBwgJCgsMDQ4PEA==\r\nConnection: keep-alive, Upgrade\r\nSec-Fetch-Dest: \
        websocket\r\nSec-Fetch-Mode: websocket\r\nSec-Fetch-Site: same-origin\r\n\
        Pragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n\r\n";
    let safari = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nSec-WebSocket-Extensions: \
        permessage-deflate\r\nSec-WebSocket-Key: dGhpcyBpcyAxNiBieXRlcw==\r\n\
        Connection: Upgrade\r\nUpgrade: websocket\r\nOrigin: http://127.0.0.1:8080\r\n\
        User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
        (KHTML, like Gecko) Version/17.2 Safari/605.1.15\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let with_frame = format!("{rfc}\u{81}");
    let b = |s: &str| s.as_bytes().to_vec();
    let mut early = b(rfc);
    early.extend_from_slice(&encode_wire(true, 1, b"Hello", Some(KEY)));
    vec![
        ("rfc6455", b(rfc)),
        ("chrome", b(chrome)),
        ("firefox", b(firefox)),
        ("safari", b(safari)),
        ("early-frame", early),
        ("non-ascii-after", b(&with_frame)),
        ("post", b(&rfc.replace("GET", "POST"))),
        ("http10", b(&rfc.replace("HTTP/1.1", "HTTP/1.0"))),
        ("version-8", b(&rfc.replace("Version: 13", "Version: 8"))),
        ("bad-key", b(&rfc.replace("dGhlIHNhbXBsZSBub25jZQ==", "short"))),
        ("two-hosts", b(&rfc.replace("Upgrade: websocket", "Host: b\r\nUpgrade: websocket"))),
        ("protocol-junk", b(&rfc.replace("chat, superchat", "a b, \"c\", ,d"))),
        ("no-terminator", b("GET / HTTP/1.1\r\nHost: x\r\n")),
        ("bare-lf", b(&rfc.replace("\r\n", "\n"))),
        ("long-header", b(&format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(1200)))),
    ]
}

/// Responses to the request [`client_request`] builds (its key is fixed).
fn responses() -> Vec<(&'static str, Vec<u8>)> {
    let accept_for = |ctl: u8, proto: Option<&str>, ext: Option<&str>| {
        let (req, _, _) = client_request(ctl);
        let parsed = ws_proto::handshake::RequestParser::new(Default::default())
            .feed(&req)
            .expect("valid request")
            .expect("complete request");
        let mut a = ws_proto::handshake::Accept::new();
        if let Some(p) = proto {
            a = a.protocol(p);
        }
        a.extensions = ext.map(str::to_owned);
        let mut v = vec![ctl, 3, 0];
        v.extend(parsed.accept_response(&a, &ws_proto::Config::default()).expect("acceptable").0);
        v
    };
    let mut with_frame = accept_for(0, None, None);
    with_frame.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
    let plain = accept_for(0, None, None);
    let text = String::from_utf8(plain[3..].to_vec()).expect("ASCII");
    let raw = |ctl: u8, s: &str| {
        let mut v = vec![ctl, 1, 0];
        v.extend_from_slice(s.as_bytes());
        v
    };
    vec![
        ("accept", plain.clone()),
        ("accept-protocol", accept_for(0x10, Some("superchat"), None)),
        ("accept-deflate", accept_for(0x20, None, Some("permessage-deflate"))),
        (
            "accept-both",
            accept_for(0x30, Some("chat"), Some("permessage-deflate; client_max_window_bits=12")),
        ),
        ("accept-then-frame", with_frame),
        ("lowercase-headers", raw(0, &text.to_lowercase().replace("http/1.1", "HTTP/1.1"))),
        ("wrong-accept", raw(0, &text.replace("Accept: ", "Accept: x"))),
        (
            "unoffered-protocol",
            raw(0, &text.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n")),
        ),
        (
            "unoffered-extension",
            raw(0, &text.replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: x\r\n\r\n")),
        ),
        ("forbidden", raw(0, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")),
        ("http10-101", raw(0, &text.replace("HTTP/1.1", "HTTP/1.0"))),
        ("no-terminator", raw(0, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")),
    ]
}

fn utf8_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let s = |b: &[u8]| {
        let mut v = vec![7, 0];
        v.extend_from_slice(b);
        v
    };
    vec![
        ("ascii", s(b"Hello, world")),
        ("multibyte", s("aé€𐍈z κόσμε żółw 🐢".as_bytes())),
        ("surrogate", s(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")),
        ("beyond-max", s(b"ab\xf4\x90\x80\x80")),
        ("five-byte", s(b"\xf8\x88\x80\x80\x80")),
        ("overlong", s(b"\xc0\xaf\xe0\x80\xaf")),
        ("truncated", s(b"\xe2\x82")),
        ("truncated-4", s(b"ok \xf0\x9f\x98")),
        ("long-valid", s("żółw🐢".repeat(40).as_bytes())),
    ]
}

fn mask_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let m = |key: [u8; 4], offset: u8, start: u8, split: u8, payload: &[u8]| {
        let mut v = key.to_vec();
        v.extend_from_slice(&[offset, start, split]);
        v.extend_from_slice(payload);
        v
    };
    let long: Vec<u8> = (0..=255).collect();
    vec![
        ("rfc-hello", m(KEY, 0, 0, 2, &[0x7f, 0x9f, 0x4d, 0x51, 0x58])),
        ("block-plus", m([1, 2, 3, 250], 3, 5, 17, &long[..131])),
        ("exact-block", m([0xff; 4], 1, 1, 64, &long[..64])),
        ("long", m([9, 8, 7, 6], 2, 7, 200, &long)),
    ]
}

/// Conversations: inputs from a fixed generator, kept when they decode to a varied scenario
/// (arbitrary's encoding is not meant to be written by hand).
fn conversation_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rng = Splitter::new(2024);
    let mut tries = 0;
    while out.len() < 12 && tries < 100_000 {
        tries += 1;
        let len = 64 + (rng.next_u64() % 900) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let Ok(s) = Scenario::arbitrary(&mut Unstructured::new(&bytes)) else { continue };
        let kinds = |f: fn(&Op) -> bool| s.ops.iter().filter(|o| f(o)).count();
        let sends = kinds(|o| matches!(o, Op::Text(..) | Op::Binary(..) | Op::Fragment(..)));
        let delivers = kinds(|o| matches!(o, Op::Deliver(..)));
        if s.ops.len() >= 6 && sends >= 2 && delivers >= 2 {
            let name: &'static str = Box::leak(format!("generated-{}", out.len()).into_boxed_str());
            out.push((name, bytes));
        }
    }
    out
}

/// permessage-deflate streams: round trips of text and binary, a bomb, broken data and
/// misplaced RSV1 bits (raw mode), and payloads for the round-trip mode.
fn inflate_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use crate::inflate::round_trip_stream;
    let prefixed = |ctl: u8, body: &[u8]| {
        let mut v = vec![ctl, 1, 0];
        v.extend_from_slice(body);
        v
    };
    let text = "Hello, hello, hello! κόσμε κόσμε κόσμε ".repeat(8);
    // ctl: limit 100 000 (2), 15-bit window (6 << 2), context takeover, raw mode.
    let raw = 2 | (6 << 2);
    let (stream, _) = round_trip_stream(text.as_bytes(), 1, 15, false);
    let (stream9, _) = round_trip_stream(&[7u8; 3000], 3, 9, true);
    let (bomb, _) = round_trip_stream(&vec![0u8; 200_000], 0xffff, 15, false);
    let mut broken = encode_wire(true, 2, &[0xff, 0xfe, 0xfd, 0x00, 0x01], Some(KEY));
    broken[0] |= 0x40;
    let mut rsv1_ping = encode_wire(true, 9, b"", Some(KEY));
    rsv1_ping[0] |= 0x40;
    let mut rsv1_cont = encode_wire(false, 2, b"", Some(KEY));
    rsv1_cont.extend(encode_wire(true, 0, b"\x00", Some(KEY)));
    let n = rsv1_cont.len();
    rsv1_cont[n - 7] |= 0x40;
    vec![
        ("text-window15", prefixed(raw, &stream)),
        ("binary-window9-no-takeover", prefixed(2 | 0x20, &stream9)),
        ("bomb-small-limit", prefixed(6 << 2, &bomb)),
        ("broken-deflate", prefixed(raw, &broken)),
        ("rsv1-ping", prefixed(raw, &rsv1_ping)),
        ("rsv1-continuation", prefixed(raw, &rsv1_cont)),
        ("round-trip-text", prefixed(raw | 0x40, text.as_bytes())),
        ("round-trip-binary", prefixed(3 | 0x40 | 0x20, &(0..=255).collect::<Vec<u8>>())),
    ]
}
