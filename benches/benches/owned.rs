//! ws-proto's ways in for a server decoding a busy connection: the borrowed path (`recv_buf` +
//! `commit`, what readiness-based adapters use) against what a completion-based loop (io_uring)
//! can do with the buffers its reads completed into, which it cannot lend the connection
//! across a submission: hand them over (`handle_bytes`, adopted as the receive buffer, payloads
//! sliced from it) or have them copied (`handle_data`). All read the same repeating stream of
//! masked binary frames in reads of `read_buffer_size` (8 KiB) and assemble whole messages. The
//! owned loop reads each time into a fresh 8 KiB part of a pooled `BytesMut` (64 KiB at a time;
//! `split` hands a part over), as a loop with a ring of provided buffers would. Throughput is
//! in messages.

mod common;

use std::hint::black_box;
use std::io::Read;
use std::time::Instant;

use benches::drivers::Proto;
use benches::inputs::{binary_payload, masked_frames};
use benches::mem::MemStream;
use benches::wire::Opcode;
use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ws_proto::{Config, Connection, Event, Message, MessageAssembler, Role};

/// A server fed by a completion loop: through `handle_bytes` from reads into a pooled buffer
/// (`copy`: false), or through `handle_data` from the loop's own read buffer (`copy`: true).
struct Completion {
    conn: Connection,
    assembler: MessageAssembler,
    pool: BytesMut,
    read_size: usize,
    copy: bool,
    now: Instant,
}

impl Completion {
    fn new(copy: bool) -> Completion {
        let config = Config::default();
        let read_size = config.read_buffer_size;
        let now = Instant::now();
        let conn = Connection::new(Role::Server, config, now);
        let (assembler, pool) = (MessageAssembler::new(), BytesMut::with_capacity(64 << 10));
        Completion { conn, assembler, pool, read_size, copy, now }
    }

    fn next_message(&mut self, io: &mut impl Read) -> Message {
        loop {
            while let Some(event) = self.conn.poll_event() {
                assert!(!matches!(event, Event::Closed(_)), "the stream is valid");
                if let Some(m @ Message::Binary(_)) = self.assembler.push(event) {
                    return m;
                }
            }
            // Room for one read (the completion loop's buffer), filled, then handed over (or
            // copied, and the room reused).
            self.pool.reserve(self.read_size);
            self.pool.resize(self.read_size, 0);
            let n = io.read(&mut self.pool).expect("memory stream");
            match self.copy {
                true => self.conn.handle_data(self.now, &self.pool[..n]),
                false => {
                    self.pool.truncate(n);
                    self.conn.handle_bytes(self.now, self.pool.split());
                }
            }
        }
    }
}

fn owned(c: &mut Criterion) {
    let mut group = c.benchmark_group("owned");
    for (size_name, size) in common::SIZES {
        let count = common::frames_per_batch(size);
        let input = masked_frames(Opcode::Binary, &binary_payload(size, 1), count, 2);
        let id = format!("binary-{size_name}");
        group.throughput(Throughput::Elements(count as u64));

        let mut io = MemStream::repeating(&input);
        let mut borrowed = Proto::new(Role::Server);
        group.bench_function(BenchmarkId::new("recv_buf-commit", &id), |b| {
            b.iter(|| {
                for _ in 0..count {
                    black_box(borrowed.next_message(&mut io).unwrap());
                }
            })
        });

        for (name, copy) in [("handle_bytes", false), ("handle_data", true)] {
            let mut io = MemStream::repeating(&input);
            let mut completion = Completion::new(copy);
            group.bench_function(BenchmarkId::new(name, &id), |b| {
                b.iter(|| {
                    for _ in 0..count {
                        black_box(completion.next_message(&mut io));
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = owned }
criterion_main!(benches);
