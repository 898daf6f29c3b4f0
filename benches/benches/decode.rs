//! A server decoding a busy connection: a stream of masked client frames, read from memory,
//! turned into whole messages (unmasked, text validated). `ws-proto` (an adapter's loop over
//! `recv_buf`/`commit` and the `MessageAssembler`; `ws-proto-spare`: the same reading through
//! `recv_into` and tokio's `read_buf`, as ws-tokio does) against tungstenite (blocking `read`)
//! and fastwebsockets (`FragmentCollector::read_frame` on an async stream). `ws-proto-in-place`
//! reads into a buffer of its own and takes each message where it lies
//! (`Connection::handle_data_with`: small frames unmasked in place, no `Bytes` per message).
//!
//! The stream repeats forever, so every library is measured in steady state with its own
//! read-buffer policy; throughput is in messages.

mod common;

use benches::drivers::{self, InPlace, Proto};
use benches::inputs::{Corpus, binary_payload, masked_frames, text};
use benches::mem::{MemStream, block_on};
use benches::wire::Opcode;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (kind, opcode) in [("binary", Opcode::Binary), ("text", Opcode::Text)] {
        for (size_name, size) in common::SIZES {
            let count = common::frames_per_batch(size);
            let payload = if opcode == Opcode::Text {
                text(Corpus::Latin1, size, 1)
            } else {
                binary_payload(size, 1)
            };
            let input = masked_frames(opcode, &payload, count, 2);
            let id = format!("{kind}-{size_name}");
            group.throughput(Throughput::Elements(count as u64));

            let mut io = MemStream::repeating(&input);
            let mut ours = Proto::new(ws_proto::Role::Server);
            group.bench_function(BenchmarkId::new("ws-proto", &id), |b| {
                b.iter(|| {
                    for _ in 0..count {
                        black_box(ours.next_message(&mut io).unwrap());
                    }
                })
            });

            let mut io = MemStream::repeating(&input);
            let mut ours = Proto::new(ws_proto::Role::Server);
            group.bench_function(BenchmarkId::new("ws-proto-spare", &id), |b| {
                b.iter(|| {
                    for _ in 0..count {
                        black_box(ours.next_message_spare(&mut io).unwrap());
                    }
                })
            });

            let mut io = MemStream::repeating(&input);
            let mut ours = InPlace::new(ws_proto::Role::Server);
            group.bench_function(BenchmarkId::new("ws-proto-in-place", &id), |b| {
                b.iter(|| ours.messages(&mut io, count, |payload| _ = black_box(payload)).unwrap())
            });

            let mut ws = drivers::tungstenite(
                MemStream::repeating(&input),
                tungstenite::protocol::Role::Server,
            );
            group.bench_function(BenchmarkId::new("tungstenite", &id), |b| {
                b.iter(|| {
                    for _ in 0..count {
                        black_box(ws.read().unwrap());
                    }
                })
            });

            let mut ws =
                drivers::fastwebsockets(MemStream::repeating(&input), fastwebsockets::Role::Server);
            group.bench_function(BenchmarkId::new("fastwebsockets", &id), |b| {
                b.iter(|| {
                    block_on(async {
                        for _ in 0..count {
                            black_box(ws.read_frame().await.unwrap());
                        }
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = decode }
criterion_main!(benches);
