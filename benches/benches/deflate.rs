//! permessage-deflate: what compression costs and saves on a realistic JSON-like payload, and
//! why ws-proto uses flate2's zlib-rs backend.
//!
//! * `deflate-codec`: raw DEFLATE of a 16 KiB JSON document, zlib-rs (through flate2, what
//!   ws-proto uses) against miniz_oxide (flate2's other pure-Rust backend), at levels 1 and 6.
//!   miniz_oxide also cannot honour `*_max_window_bits` below 15, which RFC 7692 negotiation
//!   needs; zlib-rs can.
//! * `deflate-pair`: a ws-proto client sends JSON messages (1 KiB and 16 KiB) to a ws-proto
//!   server in memory, with permessage-deflate off and on: the throughput cost of compressing
//!   and inflating. The compression ratio is printed once per size.

mod common;

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::{Accept, ClientRequest, RequestParser};
use ws_proto::rng::ChaChaRandom;
use ws_proto::{Config, Connection, Event, Role};

/// JSON-like text: repeated keys, varying values, as chat or market-data feeds look. `start`
/// picks where in the (endless) record stream the text begins.
fn json(len: usize, start: u64) -> String {
    let mut s = String::with_capacity(len + 128);
    let mut i: u64 = start;
    while s.len() < len {
        let price = 1000 + (i * 7919) % 5000;
        s.push_str(&format!(
            r#"{{"seq":{i},"symbol":"SYM{}","price":{}.{:02},"size":{},"side":"{}","ts":"2026-11-23T12:{:02}:{:02}Z"}},"#,
            i % 37,
            price / 100,
            price % 100,
            (i * 31) % 900 + 1,
            if i % 3 == 0 { "buy" } else { "sell" },
            (i / 60) % 60,
            i % 60,
        ));
        i += 1;
    }
    s.truncate(len);
    s
}

fn zlib_rs(level: u32, data: &[u8], out: &mut Vec<u8>) {
    let mut c = Compress::new(Compression::new(level), false);
    out.clear();
    out.reserve(data.len() + 64);
    c.compress_vec(data, out, FlushCompress::Finish).unwrap();
}

fn codec(c: &mut Criterion) {
    let doc = json(16 << 10, 0);
    let mut group = c.benchmark_group("deflate-codec");
    group.throughput(Throughput::Bytes(doc.len() as u64));
    for level in [1u32, 6] {
        let mut out = Vec::new();
        zlib_rs(level, doc.as_bytes(), &mut out);
        let miniz = miniz_oxide::deflate::compress_to_vec(doc.as_bytes(), level as u8);
        eprintln!(
            "16 KiB JSON at level {level}: zlib-rs {} bytes ({:.1}x), miniz_oxide {} bytes ({:.1}x)",
            out.len(),
            doc.len() as f64 / out.len() as f64,
            miniz.len(),
            doc.len() as f64 / miniz.len() as f64
        );
        group.bench_function(BenchmarkId::new("compress/zlib-rs", level), |b| {
            b.iter(|| zlib_rs(level, black_box(doc.as_bytes()), &mut out))
        });
        group.bench_function(BenchmarkId::new("compress/miniz_oxide", level), |b| {
            b.iter(|| miniz_oxide::deflate::compress_to_vec(black_box(doc.as_bytes()), level as u8))
        });
        let compressed = out.clone();
        let mut plain = Vec::with_capacity(doc.len() + 64);
        group.bench_function(BenchmarkId::new("inflate/zlib-rs", level), |b| {
            b.iter(|| {
                let mut d = Decompress::new(false);
                plain.clear();
                d.decompress_vec(black_box(&compressed), &mut plain, FlushDecompress::Finish)
                    .unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("inflate/miniz_oxide", level), |b| {
            b.iter(|| miniz_oxide::inflate::decompress_to_vec(black_box(&miniz)).unwrap())
        });
    }
    group.finish();
}

/// A client and a server connection set up by a real handshake with `config` on both sides.
fn pair(config: &Config) -> (Connection, Connection) {
    let now = Instant::now();
    let mut rng = ChaChaRandom::from_seed(1);
    let (req, mut hs) = ClientRequest::new("h", "/").with_config(config).build(&mut rng).unwrap();
    let request = RequestParser::new(Default::default()).feed(&req).unwrap().unwrap();
    let (response, negotiated) = request.accept_response(&Accept::new(), config).unwrap();
    let client_neg = hs.feed(&response).unwrap().unwrap().negotiated();
    let client = Connection::new(Role::Client, config.clone(), now)
        .with_rng(Box::new(ChaChaRandom::from_seed(2)))
        .with_negotiated(&client_neg);
    let server = Connection::new(Role::Server, config.clone(), now).with_negotiated(&negotiated);
    (client, server)
}

/// Sends one message client -> server; returns the bytes it took on the wire.
fn send_one(client: &mut Connection, server: &mut Connection, text: &str, now: Instant) -> usize {
    client.send_text(text).unwrap();
    let mut wire = 0;
    while let Some(chunk) = client.poll_transmit() {
        wire += chunk.len();
        server.handle_data(now, &chunk);
    }
    while let Some(event) = server.poll_event() {
        black_box(matches!(event, Event::Data { .. }));
    }
    wire
}

fn conversation(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate-pair");
    let now = Instant::now();
    for (name, size) in [("1KiB", 1usize << 10), ("16KiB", 16 << 10)] {
        // Distinct records in every message, so context takeover helps only as much as it
        // does for a real feed (shared keys and formats, different values).
        let messages: Vec<String> = (0..64).map(|k| json(size, k * 100_003)).collect();
        group.throughput(Throughput::Bytes(size as u64));
        for (mode, deflate) in
            [("off", None), ("on-level1", Some(1)), ("on-level3", Some(3)), ("on-level6", Some(6))]
        {
            let mut config = Config::default();
            config.deflate = deflate.map(|level| DeflateConfig { level, ..Default::default() });
            let (mut client, mut server) = pair(&config);
            let wire: usize =
                messages.iter().map(|m| send_one(&mut client, &mut server, m, now)).sum();
            let raw: usize = messages.iter().map(String::len).sum();
            eprintln!(
                "{name} JSON, deflate {mode}: {raw} bytes -> {wire} on the wire ({:.2}x)",
                raw as f64 / wire as f64
            );
            let mut k = 0;
            group.bench_function(BenchmarkId::new(mode, name), |b| {
                b.iter(|| {
                    k = (k + 1) % messages.len();
                    send_one(&mut client, &mut server, &messages[k], now)
                })
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = codec, conversation }
criterion_main!(benches);
