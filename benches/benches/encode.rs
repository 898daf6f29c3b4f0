//! Encoding and writing one binary message, as a server (unmasked) and as a client (masked with
//! a fresh key), into a socket that never pushes back. Each library gets the payload in the
//! cheapest form it accepts for a shared buffer: `Bytes` for ws-proto and tungstenite, a
//! borrowed slice for fastwebsockets.

mod common;

use benches::drivers::{self, Proto};
use benches::inputs::binary_payload;
use benches::mem::{MemStream, block_on};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fastwebsockets::{Frame, Payload};

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    let roles = [
        (
            "server",
            ws_proto::Role::Server,
            tungstenite::protocol::Role::Server,
            fastwebsockets::Role::Server,
        ),
        (
            "client",
            ws_proto::Role::Client,
            tungstenite::protocol::Role::Client,
            fastwebsockets::Role::Client,
        ),
    ];
    for (role_name, ours_role, tung_role, fast_role) in roles {
        for (size_name, size) in common::SIZES {
            let payload = Bytes::from(binary_payload(size, 3));
            let id = format!("{role_name}-{size_name}");

            let mut ours = Proto::new(ours_role);
            let mut sink = MemStream::new(&[]);
            group.bench_function(BenchmarkId::new("ws-proto", &id), |b| {
                b.iter(|| {
                    ours.conn.send_binary(payload.clone()).unwrap();
                    ours.flush(&mut sink).unwrap();
                })
            });

            let mut ws = drivers::tungstenite(MemStream::new(&[]), tung_role);
            group.bench_function(BenchmarkId::new("tungstenite", &id), |b| {
                b.iter(|| ws.send(tungstenite::Message::Binary(payload.clone())).unwrap())
            });

            let mut ws = drivers::fastwebsockets(MemStream::new(&[]), fast_role);
            group.bench_function(BenchmarkId::new("fastwebsockets", &id), |b| {
                b.iter(|| {
                    block_on(ws.write_frame(Frame::binary(Payload::Borrowed(&payload)))).unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = encode }
criterion_main!(benches);
