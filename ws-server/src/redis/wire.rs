//! What a published message looks like on a Redis channel.
//!
//! `[version = 1][kind: 1 text, 2 binary][origin server: u64, big endian][payload]`: the payload
//! only, never the encoded frame (each server encodes its own frame once from it), and the
//! publishing server's number so that it can skip its own messages (its subscribers already have
//! them). Anything else on our channels is malformed: dropped and counted, never a panic.

use bytes::{BufMut, Bytes, BytesMut};
use ws_proto::{MessageKind, PreparedFrame};

const VERSION: u8 = 1;
const TEXT: u8 = 1;
const BINARY: u8 = 2;
/// Bytes before the payload.
pub(super) const HEADER_LEN: usize = 10;

/// The message for `frame`, published by server `origin`.
pub(super) fn encode(origin: u64, frame: &PreparedFrame) -> Bytes {
    let payload = frame.payload();
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    out.put_u8(VERSION);
    out.put_u8(match frame.kind() {
        MessageKind::Text => TEXT,
        MessageKind::Binary => BINARY,
    });
    out.put_u64(origin);
    out.extend_from_slice(payload);
    out.freeze()
}

/// The publishing server and the frame to deliver; `None` if `message` is malformed (too short,
/// another version, an unknown kind, text that is not UTF-8).
pub(super) fn decode(message: &[u8]) -> Option<(u64, PreparedFrame)> {
    if message.len() < HEADER_LEN || message[0] != VERSION {
        return None;
    }
    let origin = u64::from_be_bytes(message[2..HEADER_LEN].try_into().ok()?);
    let payload = &message[HEADER_LEN..];
    let frame = match message[1] {
        TEXT => PreparedFrame::text(std::str::from_utf8(payload).ok()?.to_owned()),
        BINARY => PreparedFrame::binary(Bytes::copy_from_slice(payload)),
        _ => return None,
    };
    Some((origin, frame))
}

/// The origin of `message` without decoding its payload (a server skips its own messages).
pub(super) fn origin(message: &[u8]) -> Option<u64> {
    message.get(2..HEADER_LEN).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for frame in [PreparedFrame::text("héllo"), PreparedFrame::binary(vec![0, 255, 7])] {
            let wire = encode(0xDEAD_BEEF_0123_4567, &frame);
            assert_eq!(wire.len(), HEADER_LEN + frame.payload().len());
            assert_eq!(origin(&wire), Some(0xDEAD_BEEF_0123_4567));
            assert_eq!(decode(&wire), Some((0xDEAD_BEEF_0123_4567, frame)));
        }
    }

    #[test]
    fn malformed_is_none_never_a_panic() {
        let good = encode(7, &PreparedFrame::text("ok"));
        assert!(decode(&good[..HEADER_LEN - 1]).is_none());
        assert!(decode(b"").is_none());
        let mut bad_version = good.to_vec();
        bad_version[0] = 9;
        assert!(decode(&bad_version).is_none());
        let mut bad_kind = good.to_vec();
        bad_kind[1] = 3;
        assert!(decode(&bad_kind).is_none());
        let mut bad_utf8 = good.to_vec();
        bad_utf8.extend_from_slice(&[0xC3]);
        assert!(decode(&bad_utf8).is_none());
        // Every prefix and every single-byte corruption of a message decodes or is refused.
        for n in 0..good.len() {
            let _ = decode(&good[..n]);
        }
        for i in 0..good.len() {
            for b in [0u8, 1, 2, 0x80, 0xFF] {
                let mut m = good.to_vec();
                m[i] = b;
                let _ = decode(&m);
            }
        }
    }
}
