//! A whole-message round trip between a client and a server of the same library over an
//! in-memory pipe (no sockets): the client sends, the server receives and echoes, the client
//! receives. Masking, unmasking, framing, buffering and both directions of every library.

mod common;

use benches::drivers::{FastPair, Pair, ProtoPair, TungstenitePair};
use benches::inputs::binary_payload;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn bench_pair(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    id: &str,
    payload: &Bytes,
    mut pair: impl Pair,
) {
    group.bench_function(BenchmarkId::new(name, id), |b| {
        b.iter(|| assert_eq!(pair.round_trip(payload).unwrap(), payload.len()))
    });
}

fn pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("pair");
    group.throughput(Throughput::Elements(1));
    for (size_name, size) in common::SIZES {
        let payload = Bytes::from(binary_payload(size, 4));
        bench_pair(&mut group, "ws-proto", size_name, &payload, ProtoPair::default());
        bench_pair(&mut group, "tungstenite", size_name, &payload, TungstenitePair::default());
        bench_pair(&mut group, "fastwebsockets", size_name, &payload, FastPair::default());
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = pair }
criterion_main!(benches);
