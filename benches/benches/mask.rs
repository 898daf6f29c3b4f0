//! Unmasking throughput: `ws_proto::mask::apply_mask` against `fastwebsockets::unmask` and
//! against `memcpy` of the same number of bytes (one read and one write per byte, the
//! physical limit for an in-place XOR).

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for (name, size) in
        [("16B", 16), ("125B", 125), ("1KiB", 1 << 10), ("16KiB", 16 << 10), ("1MiB", 1 << 20)]
    {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = benches::inputs::binary_payload(size, 1);
        let src = buf.clone();
        group.bench_function(BenchmarkId::new("ws-proto", name), |b| {
            b.iter(|| ws_proto::mask::apply_mask(black_box(&mut buf), KEY, 0))
        });
        group.bench_function(BenchmarkId::new("fastwebsockets", name), |b| {
            b.iter(|| fastwebsockets::unmask(black_box(&mut buf), KEY))
        });
        group.bench_function(BenchmarkId::new("memcpy", name), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)))
        });
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = mask }
criterion_main!(benches);
