//! WebSocket frames as the raw peer writes and reads them: its own small codec, independent of
//! `ws-proto`, so the kit never checks the core with the core.

use std::fmt;

/// Opcodes the scenarios name.
pub mod op {
    /// Continuation frame.
    pub const CONT: u8 = 0x0;
    /// Text frame.
    pub const TEXT: u8 = 0x1;
    /// Binary frame.
    pub const BINARY: u8 = 0x2;
    /// Close frame.
    pub const CLOSE: u8 = 0x8;
    /// Ping frame.
    pub const PING: u8 = 0x9;
    /// Pong frame.
    pub const PONG: u8 = 0xA;
}

/// One frame read from the adapter, already unmasked.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN bit.
    pub fin: bool,
    /// RSV1..RSV3 as the three low bits (RSV1 = 0b100).
    pub rsv: u8,
    /// The opcode.
    pub opcode: u8,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// True for Close, Ping and Pong.
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }

    /// The status code of a Close frame with a body.
    pub fn close_code(&self) -> Option<u16> {
        match (self.opcode, self.payload.as_slice()) {
            (op::CLOSE, [a, b, ..]) => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// The reason of a Close frame (bytes after the code).
    pub fn close_reason(&self) -> &[u8] {
        self.payload.get(2..).unwrap_or(&[])
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.opcode {
            op::CONT => "Continuation",
            op::TEXT => "Text",
            op::BINARY => "Binary",
            op::CLOSE => "Close",
            op::PING => "Ping",
            op::PONG => "Pong",
            _ => "Reserved",
        };
        write!(f, "{name}(op={:#x}, fin={}, rsv={:#05b}, ", self.opcode, self.fin, self.rsv)?;
        if let Some(code) = self.close_code() {
            write!(f, "code={code}, reason={:?}, ", String::from_utf8_lossy(self.close_reason()))?;
        }
        let shown = &self.payload[..self.payload.len().min(24)];
        write!(f, "{} bytes: {:02x?}", self.payload.len(), shown)?;
        if self.payload.len() > shown.len() {
            f.write_str("…")?;
        }
        f.write_str(")")
    }
}

/// Encodes one frame. `mask`: the masking key to apply (clients), `None` for an unmasked frame.
/// The length uses the shortest encoding.
pub fn encode(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = encode_header(fin, rsv, opcode, payload.len() as u64, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
    out
}

/// Encodes a frame header alone (announcing `len` payload bytes).
pub fn encode_header(fin: bool, rsv: u8, opcode: u8, len: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(14);
    out.push(u8::from(fin) << 7 | (rsv & 0b111) << 4 | (opcode & 0x0f));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out
}

/// XORs `data` with the masking key (RFC 6455 §5.3), starting at key offset 0.
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let v = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i];
    }
}

/// A decoded header: its fields, the mask key and the header's length in bytes.
pub(crate) struct Header {
    pub(crate) fin: bool,
    pub(crate) rsv: u8,
    pub(crate) opcode: u8,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) len: u64,
    pub(crate) header_len: usize,
}

/// Decodes a header from the start of `buf`, or `None` if it is not complete yet.
pub(crate) fn decode_header(buf: &[u8]) -> Option<Header> {
    let [b0, b1, ..] = *buf else { return None };
    let (ext, len7) = match b1 & 0x7f {
        126 => (2, None),
        127 => (8, None),
        n => (0, Some(u64::from(n))),
    };
    let masked = b1 & 0x80 != 0;
    let header_len = 2 + ext + if masked { 4 } else { 0 };
    if buf.len() < header_len {
        return None;
    }
    let len = match len7 {
        Some(n) => n,
        None if ext == 2 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
        None => u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes")),
    };
    let mask = masked.then(|| buf[2 + ext..6 + ext].try_into().expect("4 bytes"));
    Some(Header {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0b111,
        opcode: b0 & 0x0f,
        mask,
        len,
        header_len,
    })
}

/// Decodes every complete frame in `bytes`, unmasking masked ones (for the oracle's output).
pub fn decode_all(mut bytes: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(h) = decode_header(bytes) {
        let Some(end) = usize::try_from(h.len).ok().and_then(|n| n.checked_add(h.header_len))
        else {
            break;
        };
        if bytes.len() < end {
            break;
        }
        let mut payload = bytes[h.header_len..end].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key);
        }
        frames.push(Frame { fin: h.fin, rsv: h.rsv, opcode: h.opcode, payload });
        bytes = &bytes[end..];
    }
    frames
}

/// A Close frame body: the code and the reason.
pub fn close_body(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7.
        assert_eq!(encode(true, 0, op::TEXT, b"Hello", None), b"\x81\x05Hello");
        let masked = encode(true, 0, op::TEXT, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(masked, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        assert_eq!(encode_header(true, 0, op::BINARY, 256, None), [0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(
            encode_header(true, 0, op::BINARY, 65536, None),
            [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]
        );
        let h = decode_header(&masked).unwrap();
        assert_eq!((h.fin, h.opcode, h.len, h.header_len), (true, op::TEXT, 5, 6));
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert!(decode_header(&[0x82, 0x7f, 0]).is_none());
    }
}
