//! Frame header decoding and encoding.

use super::OpCode;
use crate::error::ProtocolError;

/// The longest possible header: 2 bytes, an 8-byte extended length and a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// Largest payload a control frame may carry.
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1 (used by permessage-deflate to mark a compressed message).
    pub rsv1: bool,
    /// RSV2 (no registered extension uses it).
    pub rsv2: bool,
    /// RSV3 (no registered extension uses it).
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A header with FIN set, no RSV bits and no mask.
    pub fn new(opcode: OpCode, payload_len: u64) -> Self {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` if `buf` does not yet hold the whole header, or the header and its
    /// length in bytes. Rejects what is wrong regardless of role or negotiated extensions:
    /// reserved opcodes, fragmented or oversized control frames, and 64-bit lengths with the top
    /// bit set. RSV bits, masking and size limits are for the caller to judge.
    ///
    /// ```
    /// use ws_proto::frame::{FrameHeader, OpCode};
    /// // RFC 6455 §5.7: unmasked "Hello".
    /// let (h, len) = FrameHeader::decode(&[0x81, 0x05, b'H']).unwrap().unwrap();
    /// assert_eq!((h.opcode, h.payload_len, h.fin, len), (OpCode::Text, 5, true, 2));
    /// ```
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, ..] = *buf else { return Ok(None) };
        let opcode = OpCode::from_u8(b0 & 0x0f)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if len7 as usize > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlFrameTooLong);
            }
        }
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + ext + if masked { 4 } else { 0 };
        if buf.len() < header_len {
            return Ok(None);
        }
        let payload_len = match ext {
            2 => u16::from_be_bytes([buf[2], buf[3]]) as u64,
            8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[2..10]);
                let n = u64::from_be_bytes(b);
                if n >> 63 != 0 {
                    return Err(ProtocolError::InvalidLength);
                }
                n
            }
            _ => len7 as u64,
        };
        let mask = masked.then(|| {
            let k = 2 + ext;
            [buf[k], buf[k + 1], buf[k + 2], buf[k + 3]]
        });
        let header = FrameHeader {
            fin,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, header_len)))
    }

    /// The encoded length of this header.
    pub fn encoded_len(&self) -> usize {
        let ext = match self.payload_len {
            0..=125 => 0,
            126..=0xffff => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes this header into `out`, using the shortest length encoding, and returns its length.
    ///
    /// ```
    /// use ws_proto::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
    /// let mut out = [0; MAX_HEADER_LEN];
    /// let n = FrameHeader::new(OpCode::Binary, 256).encode(&mut out);
    /// assert_eq!(&out[..n], &[0x82, 0x7e, 0x01, 0x00]); // RFC 6455 §5.7
    /// ```
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (self.fin as u8) << 7
            | (self.rsv1 as u8) << 6
            | (self.rsv2 as u8) << 5
            | (self.rsv3 as u8) << 4
            | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xffff => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(buf: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::decode(buf).unwrap().unwrap()
    }

    #[test]
    fn rfc_examples() {
        // §5.7 single-frame unmasked text "Hello"
        let (h, n) = decode_all(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!((h.fin, h.opcode, h.mask, h.payload_len, n), (true, OpCode::Text, None, 5, 2));
        // masked "Hello"
        let (h, n) = decode_all(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f]);
        assert_eq!((h.mask, h.payload_len, n), (Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6));
        // fragmented "Hel" + "lo"
        let (h, _) = decode_all(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, _) = decode_all(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // unmasked ping "Hello"
        let (h, _) = decode_all(&[0x89, 0x05, 0x48]);
        assert_eq!(h.opcode, OpCode::Ping);
        // 256 bytes binary in a single unmasked frame
        let (h, n) = decode_all(&[0x82, 0x7e, 0x01, 0x00]);
        assert_eq!((h.payload_len, n), (256, 4));
        // 64 KiB binary in a single unmasked frame
        let (h, n) = decode_all(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn partial_headers_are_not_errors() {
        let full = [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for i in 0..full.len() {
            assert_eq!(FrameHeader::decode(&full[..i]), Ok(None), "prefix {i}");
        }
        assert!(FrameHeader::decode(&full).unwrap().is_some());
    }

    #[test]
    fn structural_errors() {
        assert_eq!(FrameHeader::decode(&[0x83, 0]), Err(ProtocolError::ReservedOpcode(3)));
        assert_eq!(FrameHeader::decode(&[0x8b, 0]), Err(ProtocolError::ReservedOpcode(0xb)));
        assert_eq!(FrameHeader::decode(&[0x09, 0]), Err(ProtocolError::FragmentedControlFrame));
        assert_eq!(FrameHeader::decode(&[0x89, 126]), Err(ProtocolError::ControlFrameTooLong));
        assert_eq!(
            FrameHeader::decode(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidLength)
        );
    }

    #[test]
    fn minimal_length_encoding() {
        let mut out = [0; MAX_HEADER_LEN];
        for (len, expect) in [(0u64, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            assert_eq!(FrameHeader::new(OpCode::Binary, len).encode(&mut out), expect);
        }
    }

    proptest! {
        #[test]
        fn round_trip(fin: bool, rsv1: bool, rsv2: bool, rsv3: bool,
                      op in prop::sample::select(vec![OpCode::Continuation, OpCode::Text, OpCode::Binary]),
                      mask: Option<[u8; 4]>, len in 0u64..(1 << 63)) {
            let h = FrameHeader { fin, rsv1, rsv2, rsv3, opcode: op, mask, payload_len: len };
            let mut out = [0; MAX_HEADER_LEN];
            let n = h.encode(&mut out);
            prop_assert_eq!(n, h.encoded_len());
            prop_assert_eq!(FrameHeader::decode(&out[..n]), Ok(Some((h, n))));
        }

        #[test]
        fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = FrameHeader::decode(&buf);
        }
    }
}
