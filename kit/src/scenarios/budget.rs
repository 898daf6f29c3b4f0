//! Scenario 12: a memory budget shared by two connections of the same adapter. The first
//! holds most of it with a fragmented message in progress; the second, starting a large one,
//! is failed with 1013 (Close, then EOF; the application's first error is `recv` with 1013);
//! the first then finishes its message, gets the echo and closes cleanly; and once both
//! applications have ended the budget holds nothing (no adapter keeps a charge alive).

use std::time::{Duration, Instant};

use ws_proto::{Config, MemoryBudget, Role};

use super::{
    END_WITHIN, FRAME_WITHIN, assert_clean_end, assert_recv_error, finish_tcp, label, start,
};
use crate::harness::{App, Harness};
use crate::raw::{RawOpts, Skip, op};

/// Scenario 12: see the module documentation.
pub fn memory_budget(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let budget = MemoryBudget::with_floor(1 << 20, 64 << 10);
    let mut config = Config::default();
    config.memory_budget = Some(budget.clone());

    let (mut first, first_app) = start(h, role, config.clone(), App::Echo, RawOpts::default());
    let part = vec![b'm'; 700 << 10];
    first.send_frame(false, 0, op::BINARY, &part);
    let deadline = Instant::now() + FRAME_WITHIN;
    while budget.used() < 600 << 10 {
        assert!(
            Instant::now() < deadline,
            "{who}: the first message was never charged: {budget:?}, {} refused",
            budget.refusals()
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    let (mut second, second_app) = start(h, role, config, App::Echo, RawOpts::default());
    second.send_frame(false, 0, op::BINARY, &vec![b'n'; 500 << 10]);
    second.expect_close(1013, FRAME_WITHIN, Skip::Nothing);
    second.expect_eof(FRAME_WITHIN);
    second.shutdown_write();
    let report = second_app.join_within(END_WITHIN);
    assert_recv_error(&report, 1013, &who);
    assert_eq!(budget.refusals(), 1, "{who}: refusals");

    first.send_frame(true, 0, op::CONT, b"end");
    let (opcode, payload) = first.read_message(FRAME_WITHIN);
    assert_eq!((opcode, payload.len()), (op::BINARY, (700 << 10) + 3), "{who}: the echo");
    first.send_close(1000, "");
    first.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    finish_tcp(&mut first, role);
    let report = first_app.join_within(END_WITHIN);
    assert_clean_end(h, &report, 1000, &who);
    assert_eq!(budget.used(), 0, "{who}: a charge outlived both connections");
}
