//! UTF-8 validation of 64 KiB of text: `ws-proto`'s incremental validator (fed whole, and fed
//! 1 KiB pieces that split code points, as frames and reads do) against one-shot `simdutf8`
//! and `std::str::from_utf8` on the whole text.

mod common;

use benches::inputs::{Corpus, text};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use ws_proto::utf8::Utf8Validator;

const LEN: usize = 64 << 10;
const CHUNK: usize = 1 << 10;

fn incremental(data: &[u8], chunk: usize) -> bool {
    let mut v = Utf8Validator::new();
    data.chunks(chunk).all(|c| v.feed(c).is_ok()) && v.finish().is_ok()
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    group.throughput(Throughput::Bytes(LEN as u64));
    for corpus in Corpus::ALL {
        let data = text(corpus, LEN, 7);
        // The 1 KiB pieces really do split code points (except in pure ASCII).
        assert!(
            corpus == Corpus::Ascii || data.chunks(CHUNK).any(|c| std::str::from_utf8(c).is_err())
        );
        let name = corpus.name();
        group.bench_function(BenchmarkId::new("ws-proto-whole", name), |b| {
            b.iter(|| assert!(incremental(black_box(&data), LEN)))
        });
        group.bench_function(BenchmarkId::new("ws-proto-1KiB-chunks", name), |b| {
            b.iter(|| assert!(incremental(black_box(&data), CHUNK)))
        });
        group.bench_function(BenchmarkId::new("simdutf8-oneshot", name), |b| {
            b.iter(|| assert!(simdutf8::basic::from_utf8(black_box(&data)).is_ok()))
        });
        group.bench_function(BenchmarkId::new("std-oneshot", name), |b| {
            b.iter(|| assert!(std::str::from_utf8(black_box(&data)).is_ok()))
        });
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = utf8 }
criterion_main!(benches);
