//! Steady-state echo of small messages must not touch the heap in `ws-proto`.
//!
//! A counting global allocator records every allocation made by the test's own thread. A
//! server `Connection` is driven from memory as an adapter drives it: a masked frame is read in,
//! the event is drained (through the `MessageAssembler`), the echo is queued and the transmit
//! queue is written out. After a warm-up, any allocation in that loop fails the test, and the
//! failure names the step that allocated. `WS_ALLOC_TRACE=1` also prints a backtrace for each
//! such allocation (the first few) to find the exact line.

// A global allocator can only be written with `unsafe impl GlobalAlloc`; this file is the one
// place in the crate that needs it (see the lint note in Cargo.toml). It adds counting around
// `System` and nothing else.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{IoSlice, Write};
use std::time::Instant;

use benches::inputs::{Corpus, Rng, binary_payload, text};
use benches::wire::{Opcode, encode_frame};
use ws_proto::{Config, Connection, Message, MessageAssembler, Role};

struct Counting;

thread_local! {
    /// Allocations (alloc, alloc_zeroed and realloc) by this thread.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    /// Print a backtrace for the next allocations (diagnostics only).
    static TRACE: Cell<u32> = const { Cell::new(0) };
}

fn record() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = TRACE.try_with(|t| {
        let left = t.get();
        if left > 0 {
            // Off while printing: the backtrace and the printing allocate themselves.
            t.set(0);
            eprintln!("allocation:\n{}", std::backtrace::Backtrace::force_capture());
            t.set(left - 1);
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly `System`'s; the counting touches only const-initialised
// thread-locals (no allocation, no reentrancy into the allocator except through the opt-in
// backtrace, which switches itself off first).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: as above; `ptr` came from this allocator, which is `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

/// Allocations made by `f` on this thread.
fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = allocs();
    let out = f();
    (out, allocs() - before)
}

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
    fn new() -> Echo {
        let now = Instant::now();
        let config = Config::default();
        Echo {
            assembler: MessageAssembler::new(),
            conn: Connection::new(Role::Server, config, now),
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

/// Echoes small messages: `warmup` unmeasured, then `measured` with every step counted.
fn run(path: Path, opcode: Opcode, size: usize) -> Steps {
    let payload = match opcode {
        Opcode::Text => text(Corpus::Latin1, size, 5),
        _ => binary_payload(size, 5),
    };
    // Different mask keys, so the wire bytes differ from message to message.
    let mut rng = Rng::new(9);
    let frames: Vec<Vec<u8>> =
        (0..64).map(|_| encode_frame(opcode, &payload, Some(rng.mask_key()))).collect();
    let mut echo = Echo::new();
    let mut ignored = Steps::default();
    for frame in frames.iter().cycle().take(200) {
        echo.message(frame, path, &mut ignored);
    }
    let mut steps = Steps::default();
    if std::env::var_os("WS_ALLOC_TRACE").is_some() {
        TRACE.with(|t| t.set(5));
    }
    for frame in frames.iter().cycle().take(2000) {
        echo.message(frame, path, &mut steps);
    }
    TRACE.with(|t| t.set(0));
    assert!(echo.out.0 >= 2000 * (size + 2), "the echoes were written");
    steps
}

fn assert_no_allocations(path: Path, opcode: Opcode, size: usize) {
    let steps = run(path, opcode, size);
    assert_eq!(
        steps,
        Steps::default(),
        "ws-proto allocated while echoing 2000 {opcode:?} messages of {size} B via the {path:?} \
         path (allocations per step, over all messages; rerun with WS_ALLOC_TRACE=1 for backtraces)"
    );
}

#[test]
fn counting_allocator_sees_allocations() {
    // The instrument works: a fresh Vec is counted, and a fresh Connection's first message is
    // not free (its buffers are allocated lazily).
    let (v, n) = count(|| Vec::<u8>::with_capacity(10));
    assert_eq!((v.capacity() >= 10, n), (true, 1));
    let frame = encode_frame(Opcode::Binary, b"hello", Some([1, 2, 3, 4]));
    let mut steps = Steps::default();
    Echo::new().message(&frame, Path::ZeroCopy, &mut steps);
    assert!(steps.feed + steps.drain_events + steps.send_echo + steps.drain_transmit > 0);
}

#[test]
fn steady_state_binary_echo_does_not_allocate() {
    for size in [0, 20, 125, 1024] {
        assert_no_allocations(Path::ZeroCopy, Opcode::Binary, size);
    }
}

#[test]
fn steady_state_text_echo_does_not_allocate() {
    for size in [20, 1024] {
        assert_no_allocations(Path::ZeroCopy, Opcode::Text, size);
    }
}

#[test]
fn steady_state_echo_through_the_simple_api_does_not_allocate() {
    assert_no_allocations(Path::Simple, Opcode::Binary, 20);
    assert_no_allocations(Path::Simple, Opcode::Text, 20);
}
