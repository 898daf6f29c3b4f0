//! Steady-state echo of small messages must not touch the heap in `ws-proto`, in either role.
//!
//! A counting global allocator records every allocation made by the test's own thread. A
//! `Connection` is driven from memory as an adapter drives it: a frame is read in, the event is
//! drained (through the `MessageAssembler`), the echo is queued and the transmit queue is
//! written out. As a server it reads masked frames and writes unmasked ones; as a client it
//! reads unmasked frames and writes masked ones, so drawing a fresh mask key and masking are in
//! the loop. After a warm-up, any allocation in that loop fails the test, and the failure names
//! the step that allocated. `WS_ALLOC_TRACE=1` also prints a backtrace for each such allocation
//! (the first few) to find the exact line.
//!
//! The same through the adapters, over their runtimes: `zero_alloc_tokio.rs` and
//! `zero_alloc_futures_io.rs`.

#[path = "common/counting.rs"]
mod counting;

use std::io::{IoSlice, Write};
use std::time::Instant;

use benches::inputs::{Corpus, Rng, binary_payload, text};
use benches::wire::{Opcode, encode_frame, header_len};
use counting::{count, trace_here};
use ws_proto::{Config, Connection, Message, MessageAssembler, Role};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// A socket that accepts everything (writing is not what is measured).
struct Discard(usize);

impl Write for Discard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.0 += n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How the adapter moves bytes in and out.
#[derive(Clone, Copy, Debug)]
enum Path {
    /// `recv_buf` + `commit` in, `transmit_chunks` + `advance_transmit` out (what the adapters
    /// in this workspace do).
    ZeroCopy,
    /// `handle_data` in, `poll_transmit` out (the simple API).
    Simple,
}

/// Per-step allocation counts over the measured messages.
#[derive(Debug, Default, PartialEq, Eq)]
struct Steps {
    feed: u64,
    drain_events: u64,
    send_echo: u64,
    drain_transmit: u64,
}

struct Echo {
    conn: Connection,
    assembler: MessageAssembler,
    now: Instant,
    out: Discard,
}

impl Echo {
    fn new(role: Role) -> Echo {
        let now = Instant::now();
        let config = Config::default();
        Echo {
            assembler: MessageAssembler::new(),
            conn: Connection::new(role, config, now),
            now,
            out: Discard(0),
        }
    }

    /// One message through the loop; adds each step's allocations to `steps`.
    fn message(&mut self, frame: &[u8], path: Path, steps: &mut Steps) {
        let ((), n) = count(|| match path {
            Path::ZeroCopy => {
                let mut fed = 0;
                while fed < frame.len() {
                    let buf = self.conn.recv_buf();
                    let n = buf.len().min(frame.len() - fed);
                    buf[..n].copy_from_slice(&frame[fed..fed + n]);
                    self.conn.commit(self.now, n);
                    fed += n;
                }
            }
            Path::Simple => self.conn.handle_data(self.now, frame),
        });
        steps.feed += n;

        let mut message = None;
        let ((), n) = count(|| {
            while let Some(event) = self.conn.poll_event() {
                if let Some(m) = self.assembler.push(event) {
                    assert!(message.replace(m).is_none(), "one frame, one message");
                }
            }
        });
        steps.drain_events += n;

        let message = message.expect("the frame was a whole message");
        let ((), n) = count(|| match message {
            Message::Text(t) => self.conn.send_text(t).expect("open"),
            Message::Binary(b) => self.conn.send_binary(b).expect("open"),
            other => panic!("unexpected {other:?}"),
        });
        steps.send_echo += n;

        let ((), n) = count(|| match path {
            Path::ZeroCopy => {
                while self.conn.transmit_len() > 0 {
                    let mut slices = [IoSlice::new(&[]); 8];
                    let mut k = 0;
                    for (slot, chunk) in slices.iter_mut().zip(self.conn.transmit_chunks()) {
                        *slot = IoSlice::new(chunk);
                        k += 1;
                    }
                    let written = self.out.write_vectored(&slices[..k]).expect("discard");
                    self.conn.advance_transmit(written);
                }
            }
            Path::Simple => {
                while let Some(chunk) = self.conn.poll_transmit() {
                    self.out.write_all(&chunk).expect("discard");
                }
            }
        });
        steps.drain_transmit += n;
    }
}

/// Echoes small messages as `role`: 200 unmeasured, then 2000 with every step counted.
fn run(role: Role, path: Path, opcode: Opcode, size: usize) -> Steps {
    // What the peer sends: masked frames from a client, unmasked ones from a server. Different
    // payloads and mask keys, so the wire bytes differ from message to message.
    let mut rng = Rng::new(9);
    let frames: Vec<Vec<u8>> = (0..64)
        .map(|seed| {
            let payload = match opcode {
                Opcode::Text => text(Corpus::Latin1, size, seed),
                _ => binary_payload(size, seed),
            };
            let mask = (role == Role::Server).then(|| rng.mask_key());
            encode_frame(opcode, &payload, mask)
        })
        .collect();
    let mut echo = Echo::new(role);
    let mut ignored = Steps::default();
    for frame in frames.iter().cycle().take(200) {
        echo.message(frame, path, &mut ignored);
    }
    let mut steps = Steps::default();
    trace_here(5);
    let written = echo.out.0;
    for frame in frames.iter().cycle().take(2000) {
        echo.message(frame, path, &mut steps);
    }
    trace_here(0);
    // Each echo went out whole, with the header of its role (a client's carries a mask key).
    let frame_len = header_len(size, role == Role::Client) + size;
    assert_eq!(echo.out.0 - written, 2000 * frame_len, "the echoes were written");
    steps
}

fn assert_no_allocations(role: Role, path: Path, opcode: Opcode, size: usize) {
    let steps = run(role, path, opcode, size);
    assert_eq!(
        steps,
        Steps::default(),
        "ws-proto ({role:?}) allocated while echoing 2000 {opcode:?} messages of {size} B via the \
         {path:?} path (allocations per step, over all messages; rerun with WS_ALLOC_TRACE=1 for \
         backtraces)"
    );
}

const ROLES: [Role; 2] = [Role::Server, Role::Client];

#[test]
fn counting_allocator_sees_allocations() {
    // The instrument works: a fresh Vec is counted, and a fresh Connection's first message is
    // not free (its buffers are allocated lazily).
    let (v, n) = count(|| Vec::<u8>::with_capacity(10));
    assert_eq!((v.capacity() >= 10, n), (true, 1));
    let frame = encode_frame(Opcode::Binary, b"hello", Some([1, 2, 3, 4]));
    let mut steps = Steps::default();
    Echo::new(Role::Server).message(&frame, Path::ZeroCopy, &mut steps);
    assert!(steps.feed + steps.drain_events + steps.send_echo + steps.drain_transmit > 0);
    // A client's first message also seeds its mask-key generator.
    let frame = encode_frame(Opcode::Binary, b"hello", None);
    let mut client = Steps::default();
    Echo::new(Role::Client).message(&frame, Path::ZeroCopy, &mut client);
    assert!(client.send_echo > steps.send_echo, "{client:?} vs server {steps:?}");
}

#[test]
fn steady_state_binary_echo_does_not_allocate() {
    for role in ROLES {
        for size in [0, 20, 125, 1024] {
            assert_no_allocations(role, Path::ZeroCopy, Opcode::Binary, size);
        }
    }
}

#[test]
fn steady_state_text_echo_does_not_allocate() {
    for role in ROLES {
        for size in [20, 1024] {
            assert_no_allocations(role, Path::ZeroCopy, Opcode::Text, size);
        }
    }
}

#[test]
fn steady_state_echo_through_the_simple_api_does_not_allocate() {
    for role in ROLES {
        assert_no_allocations(role, Path::Simple, Opcode::Binary, 20);
        assert_no_allocations(role, Path::Simple, Opcode::Text, 20);
    }
}
