//! `mask`: the fast masking path against the byte-by-byte oracle.
//!
//! Input layout: a 4-byte key, an offset byte (stream position, low bits matter), a start byte
//! (the slice's alignment inside its buffer), a split byte, then the payload.
//!
//! Checks: `apply_mask` equals `apply_mask_bytewise` for every key, offset and alignment;
//! masking in two pieces (the second with the advanced offset) equals masking at once; and
//! masking twice restores the payload.

use ws_proto::mask::{apply_mask, apply_mask_bytewise};

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let [k0, k1, k2, k3, offset, start, split, payload @ ..] = data else { return };
    let key = [*k0, *k1, *k2, *k3];
    let offset = usize::from(*offset);
    // Place the payload at an arbitrary alignment inside a larger buffer.
    let start = usize::from(*start % 16);
    let mut buf = vec![0xa5u8; start + payload.len() + 3];
    buf[start..start + payload.len()].copy_from_slice(payload);
    let original = buf.clone();
    let range = start..start + payload.len();

    let mut fast = buf.clone();
    apply_mask(&mut fast[range.clone()], key, offset);
    let mut slow = buf.clone();
    apply_mask_bytewise(&mut slow[range.clone()], key, offset);
    assert_eq!(fast, slow, "fast path differs from the oracle (key {key:?}, offset {offset})");

    // In two pieces, as a payload arriving across reads.
    let cut = if payload.is_empty() { 0 } else { usize::from(*split) % (payload.len() + 1) };
    buf[range.clone()].copy_from_slice(payload);
    apply_mask(&mut buf[start..start + cut], key, offset);
    apply_mask(&mut buf[start + cut..range.end], key, offset + cut);
    assert_eq!(buf, slow, "masking in pieces differs (cut {cut})");

    // Involution, and nothing outside the slice touched.
    apply_mask(&mut fast[range], key, offset);
    assert_eq!(fast, original, "masking twice did not restore the payload");
}
