//! Scenarios 3, 4 and 5: closing in both directions, the close timeout, a reset mid-frame and
//! a half-close.

use std::time::{Duration, Instant};

use ws_proto::{CloseCause, Config, Message, Role};

use super::{END_WITHIN, FRAME_WITHIN, assert_clean_end, close_frame, finish_tcp, label, start};
use crate::harness::{App, End, ErrKind, Harness, Op};
use crate::raw::{RawOpts, Skip, encode_header, op};

/// Scenario 3a: The peer closes: the raw peer sends Close(1000, "bye") and must read a Close
/// echoing 1000, then the TCP close in the right order; the application sees `Message::Close` with
/// 1000/"bye" (or, where the application receives data only, in `close_info`), then `None`,
/// and a clean `close_info`.
pub fn close_by_peer(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let (mut raw, app) = start(h, role, Config::default(), App::Echo, RawOpts::default());
    raw.send_close(1000, "bye");
    raw.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    finish_tcp(&mut raw, role);
    let report = app.join_within(END_WITHIN);
    if h.control_messages() {
        assert_eq!(
            report.received(),
            [Message::Close(Some(close_frame(1000, "bye")))],
            "{who}: the messages the application saw"
        );
    } else {
        // The receive returns data only: no message, and the peer's Close in `close_info`.
        assert_eq!(report.received(), [], "{who}: the messages the application saw");
        let info = report.close_info.as_ref().map(|i| i.received.clone());
        let bye = Some(Some(close_frame(1000, "bye")));
        assert_eq!(info, bye, "{who}: the peer's Close in close_info");
    }
    assert_clean_end(h, &report, 1000, &who);
}

fn close_by_app(h: &dyn Harness, role: Role, from_write_half: bool) {
    let who = label(h, role);
    let app = App::CloseFirst { code: 1000, reason: "done".into(), from_write_half };
    let (mut raw, app) = start(h, role, Config::default(), app, RawOpts::default());
    let close = raw.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    assert_eq!(close.close_reason(), b"done", "{who}: the reason of the application's Close");
    raw.send_close(1000, "");
    finish_tcp(&mut raw, role);
    let report = app.join_within(END_WITHIN);
    assert_clean_end(h, &report, 1000, &who);
}

/// Scenario 3b: The application closes first (`close(1000, "done")`), the raw peer answers: a clean
/// close and `None`.
pub fn close_by_app_socket(h: &dyn Harness, role: Role) {
    close_by_app(h, role, false);
}

/// Scenario 3b: The same, closing through the write half while the read half receives.
pub fn close_by_app_write_half(h: &dyn Harness, role: Role) {
    close_by_app(h, role, true);
}

/// Scenario 3c / 7c: `close_timeout` = 300 ms: the application closes, the raw peer reads the Close
/// and never answers, keeping its side open. The adapter must close TCP (FIN) within the timeout
/// plus slack, and the application must end.
pub fn close_timeout(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let timeout = Duration::from_millis(300);
    let mut config = Config::default();
    config.close_timeout = timeout;
    let app = App::CloseFirst { code: 1000, reason: "done".into(), from_write_half: false };
    let (mut raw, app) = start(h, role, config, app, RawOpts::default());
    raw.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    let t = Instant::now();
    raw.expect_eof(timeout + Duration::from_millis(500));
    let waited = t.elapsed();
    let report = app.join_within(Duration::from_secs(1));
    eprintln!("[kit] {who} close_timeout: EOF after {waited:?}, application end {:?}", report.end);
    let info = report.close_info.as_ref().unwrap_or_else(|| panic!("{who}: no close_info"));
    assert_eq!(info.cause, CloseCause::CloseTimeout, "{who}: close_info {info:?}");
}

/// Scenario 4: Reset mid-frame: half a frame, then an RST. `recv` must end within the bound with
/// `Err` of kind Io (a reset is a transport error), never hang or panic.
pub fn reset_mid_frame(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let (mut raw, app) = start(h, role, Config::default(), App::Echo, RawOpts::default());
    let mask = raw.is_client().then_some([9, 8, 7, 6]);
    let mut half = encode_header(true, 0, op::BINARY, 100, mask);
    half.extend_from_slice(&[0x55; 10]);
    raw.send_raw(&half);
    std::thread::sleep(Duration::from_millis(50));
    raw.reset();
    let report = app.join_within(END_WITHIN);
    eprintln!("[kit] {who} reset_mid_frame: application end {:?}", report.end);
    assert!(
        matches!(report.end, End::Err { op: Op::Recv, kind: ErrKind::Io, .. }),
        "{who}: after a reset recv should fail with Err(Io); the application ended with {:?}",
        report.end
    );
}

/// Scenario 5: Half-close: a text message, then the raw peer shuts its write side and keeps
/// reading. It must receive the echo, then EOF; the application ends with `None` and 1006.
pub fn half_close(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let (mut raw, app) = start(h, role, Config::default(), App::Echo, RawOpts::default());
    raw.send_frame(true, 0, op::TEXT, b"last words");
    raw.shutdown_write();
    let (opcode, payload) = raw.read_message(FRAME_WITHIN);
    assert_eq!((opcode, payload.as_slice()), (op::TEXT, &b"last words"[..]), "{who}: echo");
    raw.expect_eof(FRAME_WITHIN);
    let report = app.join_within(END_WITHIN);
    assert_eq!(report.end, End::None, "{who}: the application should end with None");
    assert_eq!(report.received(), [Message::text("last words")], "{who}: messages");
    let info = report.close_info.as_ref().unwrap_or_else(|| panic!("{who}: no close_info"));
    assert!(!info.clean && info.code().0 == 1006, "{who}: close_info should say 1006: {info:?}");
}
