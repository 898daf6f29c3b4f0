//! A counting global allocator, so targets can assert that memory stays bounded by the
//! configured limits rather than by what a hostile peer *declares*.
//!
//! The fuzz binaries and the replay test install [`Counting`] as their global allocator.
//! [`measure`] reports the peak of live heap bytes a closure added on the current thread, or
//! `None` when the allocator is not installed (e.g. in doctests), in which case the targets
//! skip the memory checks. Counters are per thread, so parallel tests do not disturb each
//! other.

// The only unsafe code in this crate: `GlobalAlloc` is an unsafe trait.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting live bytes per thread.
#[derive(Debug)]
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static SEEN: Cell<bool> = const { Cell::new(false) };
}

fn record(delta: isize) {
    // `try_with`: during thread teardown the slots may be gone; those bytes do not matter.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        let _ = SEEN.try_with(|seen| seen.set(true));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly `System`'s; the counting touches only thread-local cells
// with const initializers (no allocation, no reentrancy).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (so by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        record(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, which `System` shares.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            record(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Runs `f` and returns its result with the peak heap bytes it added on this thread (above
/// what was live when it started), or `None` if [`Counting`] is not the global allocator.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Option<usize>) {
    let probe = Box::new(0u64);
    drop(probe);
    let installed = SEEN.with(Cell::get);
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, installed.then(|| (peak - base).max(0) as usize))
}

/// Asserts that `f` adds at most `limit` heap bytes at its peak (when counting is installed).
pub fn bounded<R>(what: &str, limit: usize, f: impl FnOnce() -> R) -> R {
    let (r, peak) = measure(f);
    if let Some(peak) = peak {
        assert!(peak <= limit, "{what}: peak heap {peak} bytes exceeds the bound {limit}");
    }
    r
}

#[cfg(test)]
#[global_allocator]
static ALLOC: Counting = Counting;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_peak_not_final() {
        let ((), peak) = measure(|| drop(vec![1u8; 1 << 20]));
        assert!(peak.expect("installed in unit tests") >= 1 << 20);
        let (v, peak) = measure(|| Vec::<u8>::with_capacity(10));
        assert!(peak.unwrap() >= 10);
        drop(v);
        let r = std::panic::catch_unwind(|| bounded("big", 1000, || vec![0u8; 5000].len()));
        assert!(r.is_err(), "a 5000-byte allocation must break a 1000-byte bound");
    }
}
