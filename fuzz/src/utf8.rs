//! `utf8_incremental`: the incremental validator against `std::str::from_utf8`.
//!
//! Input layout: two bytes seeding the chunking, then the bytes to validate.
//!
//! The validator, fed the bytes in random pieces, must agree with `std` on validity and on
//! `valid_up_to`, and must fail *fast*: the piece that errors is the first one after which
//! the bytes so far can no longer be the start of valid UTF-8. In between, `is_incomplete`
//! must say exactly whether the bytes so far end inside a code point.

use ws_proto::utf8::Utf8Validator;

use crate::common::Splitter;

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let (seed, bytes) = match data {
        [a, b, rest @ ..] => (u64::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    let expected = std::str::from_utf8(bytes).map_err(|e| e.valid_up_to() as u64);
    let mut v = Utf8Validator::new();
    let mut fed = 0;
    let mut result = Ok(());
    for piece in Splitter::new(seed).split(bytes) {
        fed += piece.len();
        result = v.feed(piece);
        let prefix = std::str::from_utf8(&bytes[..fed]);
        match (&result, prefix) {
            (Ok(()), Ok(_)) => assert!(!v.is_incomplete(), "complete prefix reported incomplete"),
            (Ok(()), Err(e)) => {
                assert!(e.error_len().is_none(), "accepted bytes that can never be valid: {e}");
                assert!(v.is_incomplete(), "prefix ending mid code point not reported incomplete");
            }
            (Err(err), Err(e)) => {
                assert!(e.error_len().is_some(), "failed on a still-valid prefix");
                assert_eq!(err.valid_up_to(), e.valid_up_to() as u64, "wrong error position");
            }
            (Err(err), Ok(_)) => panic!("rejected valid prefix of {fed} bytes: {err}"),
        }
        if result.is_err() {
            break;
        }
    }
    let result = result.and_then(|()| v.finish()).map_err(|e| e.valid_up_to());
    assert_eq!(result, expected.map(|_| ()), "disagrees with std::str::from_utf8");

    // After `reset` the same validator is as good as new.
    v.reset();
    assert!(!v.is_incomplete());
    v.feed("ok €".as_bytes()).and_then(|()| v.finish()).expect("reset validator");
}
