//! Measures the memory permessage-deflate costs per connection, by window size, with a
//! counting allocator. `cargo test -p ws-proto --test deflate_memory -- --nocapture` prints the
//! table quoted in `ws_proto::deflate` and the README.
#![cfg(feature = "deflate")]
#![allow(unsafe_code)] // the counting allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::{Accept, ClientRequest, RequestParser};
use ws_proto::rng::ChaChaRandom;
use ws_proto::{Config, Connection, Role};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: forwarding the caller's layout to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Serializes the measurements: the counter is process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// Live bytes held by a server connection's compressor and decompressor at `bits`.
fn measure(bits: u8) -> (isize, isize) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = DeflateConfig {
        server_max_window_bits: bits,
        client_max_window_bits: bits,
        min_size: 0,
        ..Default::default()
    };
    let mut config = Config::default();
    config.deflate = Some(d);
    let now = Instant::now();
    let mut rng = ChaChaRandom::from_seed(1);
    let (req, mut hs) = ClientRequest::new("h", "/").with_config(&config).build(&mut rng).unwrap();
    let request = RequestParser::new(Default::default()).feed(&req).unwrap().unwrap();
    let (resp, neg) = request.accept_response(&Accept::new(), &config).unwrap();
    let client_neg = hs.feed(&resp).unwrap().unwrap().negotiated();
    let mut client = Connection::new(Role::Client, config.clone(), now)
        .with_rng(Box::new(ChaChaRandom::from_seed(2)))
        .with_negotiated(&client_neg);
    let mut server = Connection::new(Role::Server, config, now).with_negotiated(&neg);
    let text = "the quick brown fox jumps over the lazy dog ".repeat(20);
    client.send_text(text.as_str()).unwrap();
    let wire: Vec<u8> = std::iter::from_fn(|| client.poll_transmit()).flatten().collect();

    // Decompressor: allocated on the first compressed message received.
    server.handle_data(now, &wire);
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    drop(events);
    let before = live();
    server.handle_data(now, &wire_again(&mut client, &text));
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    drop(events);
    let steady = live() - before;
    assert!(steady.abs() < 1024, "no growth per message: {steady}");

    // Measure the two states by building fresh connections and diffing live bytes.
    let fresh = |c: &Connection| c.deflate_enabled();
    assert!(fresh(&server));
    let base = live();
    let mut s2 = Connection::new(Role::Server, server.config().clone(), now).with_negotiated(&neg);
    let with_conn = live();
    s2.handle_data(now, &wire);
    let _ = std::iter::from_fn(|| s2.poll_event()).count();
    s2.release_buffers(); // the receive buffer kept for the next read is not the inflater
    let inflater = live() - with_conn;
    let before_send = live();
    s2.send_text(text.as_str()).unwrap();
    let _ = std::iter::from_fn(|| s2.poll_transmit()).count();
    let deflater = live() - before_send;
    drop(s2);
    assert!(live() - base < 1024, "everything is freed with the connection");
    (deflater, inflater)
}

fn wire_again(client: &mut Connection, text: &str) -> Vec<u8> {
    client.send_text(text).unwrap();
    std::iter::from_fn(|| client.poll_transmit()).flatten().collect()
}

#[test]
fn memory_per_connection_by_window_bits() {
    let mut rows = Vec::new();
    for bits in [15u8, 12, 9] {
        let (deflater, inflater) = measure(bits);
        println!(
            "window {bits:>2}: compressor {:>4} KiB, decompressor {:>3} KiB",
            deflater / 1024,
            inflater / 1024
        );
        rows.push((bits, deflater, inflater));
    }
    // Smaller windows make a smaller compressor; zlib-rs sizes the decompressor's window
    // buffer the same whatever the window bits.
    assert!(rows[0].1 > rows[1].1 && rows[1].1 >= rows[2].1, "{rows:?}");
    // The documented bounds (ws_proto::deflate docs, README).
    for (bits, deflater, inflater) in &rows {
        let documented = match bits {
            15 => 380 << 10,
            12 => 270 << 10,
            _ => 256 << 10,
        };
        assert!(*deflater <= documented, "compressor at {bits}: {deflater}");
        assert!(*inflater <= 48 << 10, "decompressor at {bits}: {inflater}");
    }
}
