//! Scenario 11: a panicking application (server handler task or client) is surfaced by
//! [`AppHandle::join_within`](crate::harness::AppHandle::join_within), so the kit cannot pass
//! silently while a handler dies.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use ws_proto::{Config, Role};

use super::{FRAME_WITHIN, finish_tcp, label, start};
use crate::harness::{App, Harness, PANIC_MARKER};
use crate::raw::{RawOpts, Skip};

/// Scenario 11: `App::Panic` through the harness: `join_within` must re-raise that very panic.
/// Where the adapter promises a Close code for a panicking handler
/// ([`Harness::panic_close_code`]), the raw peer must read exactly that Close, then (after
/// answering it) the TCP close.
pub fn app_panic_surfaced(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let (mut raw, app) = start(h, role, Config::default(), App::Panic, RawOpts::default());
    if let Some(code) = h.panic_close_code() {
        // The adapter promises to fail only this connection, with `code`: the raw peer reads
        // that Close, answers it, and reads the TCP close in RFC order.
        raw.expect_close(code, FRAME_WITHIN, Skip::Nothing);
        raw.send_close(code, "");
        finish_tcp(&mut raw, role);
    }
    let joined = catch_unwind(AssertUnwindSafe(|| app.join_within(Duration::from_secs(3))));
    drop(raw);
    let Err(panic) = joined else {
        panic!("{who}: the application panicked but join_within returned a report");
    };
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(text.contains(PANIC_MARKER), "{who}: join_within raised another panic: {text:?}");
}
