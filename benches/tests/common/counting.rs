//! A counting global allocator for the allocation tests.
//!
//! Each test binary that includes this module installs it with
//! `#[global_allocator] static GLOBAL: counting::Counting = counting::Counting;`. It forwards to
//! `System` and counts allocations (`alloc`, `alloc_zeroed` and `realloc`) twice: for the
//! calling thread ([`thread_allocs`], what the core tests use, since the test harness runs
//! other tests on other threads) and for the whole process ([`process_allocs`], what the
//! adapter tests use, since a runtime may do its work on threads of its own).
//!
//! `WS_ALLOC_TRACE=1` makes [`trace_here`] and [`trace_anywhere`] arm a backtrace for the next few allocations, to find
//! the exact line that allocated.

// Shared by several test binaries; each uses a part of it.
#![allow(dead_code)]
// A global allocator can only be written with `unsafe impl GlobalAlloc`; this module is the one
// place in the crate that needs it (see the lint note in Cargo.toml). It adds counting around
// `System` and nothing else.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The counting allocator.
pub(crate) struct Counting;

/// Allocations by all threads.
static PROCESS: AtomicU64 = AtomicU64::new(0);
/// Bytes requested by those allocations (the new size, for a `realloc`).
static PROCESS_BYTES: AtomicU64 = AtomicU64::new(0);
/// Backtraces still to print for allocations on any thread.
static TRACE: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// Allocations by this thread.
    static THREAD: Cell<u64> = const { Cell::new(0) };
    /// Backtraces still to print for allocations on this thread.
    static TRACE_HERE: Cell<u32> = const { Cell::new(0) };
    /// This thread is printing a backtrace (which allocates itself): do not trace that.
    static TRACING: Cell<bool> = const { Cell::new(false) };
}

fn record(size: usize) {
    // A backtrace being printed allocates: neither count nor trace that.
    if TRACING.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    PROCESS.fetch_add(1, Ordering::Relaxed);
    PROCESS_BYTES.fetch_add(size as u64, Ordering::Relaxed);
    let _ = THREAD.try_with(|c| c.set(c.get() + 1));
    let here = TRACE_HERE.try_with(|t| t.replace(t.get().saturating_sub(1)) > 0).unwrap_or(false);
    let anywhere = here
        || (TRACE.load(Ordering::Relaxed) > 0
            && TRACE
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok());
    // (A thread whose locals are being destroyed is not traced.)
    if anywhere && TRACING.try_with(|t| t.set(true)).is_ok() {
        let thread = std::thread::current();
        eprintln!(
            "allocation of {size} B on thread {:?}:\n{}",
            thread.name().unwrap_or("?"),
            std::backtrace::Backtrace::force_capture()
        );
        TRACING.with(|t| t.set(false));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly `System`'s; the counting touches only atomics and
// const-initialised thread-locals (no allocation, no reentrancy into the allocator except
// through the opt-in backtrace, which marks its thread as tracing first).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: as above; `ptr` came from this allocator, which is `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made by the calling thread so far.
pub(crate) fn thread_allocs() -> u64 {
    THREAD.with(Cell::get)
}

/// Allocations made by all threads so far, and the bytes they asked for.
pub(crate) fn process_allocs() -> (u64, u64) {
    (PROCESS.load(Ordering::Relaxed), PROCESS_BYTES.load(Ordering::Relaxed))
}

/// Allocations made by `f` on this thread.
pub(crate) fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = thread_allocs();
    let out = f();
    (out, thread_allocs() - before)
}

/// With `WS_ALLOC_TRACE` set, prints a backtrace for each of the next `n` allocations on this
/// thread; `trace_here(0)` stops.
pub(crate) fn trace_here(n: u32) {
    let n = if std::env::var_os("WS_ALLOC_TRACE").is_some() { n } else { 0 };
    TRACE_HERE.with(|t| t.set(n));
}

/// With `WS_ALLOC_TRACE` set, prints a backtrace for each of the next `n` allocations on any
/// thread; `trace_anywhere(0)` stops.
pub(crate) fn trace_anywhere(n: u32) {
    let n = if std::env::var_os("WS_ALLOC_TRACE").is_some() { n } else { 0 };
    TRACE.store(n, Ordering::Relaxed);
}
