//! Helpers shared by the targets: input splitting, a virtual clock and an independent
//! decoder for the bytes a connection writes.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*) that decides how input is chunked.
///
/// The fuzzer controls it through a seed taken from the input's first bytes, so mutating the
/// stream does not change the chunking and the other way round.
#[derive(Debug, Clone)]
pub struct Splitter(u64);

impl Splitter {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Splitter(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A chunk length for `remaining` bytes: mostly tiny (splitting headers and code points),
    /// sometimes medium, sometimes everything left. Never 0 unless `remaining` is.
    pub fn chunk_len(&mut self, remaining: usize) -> usize {
        if remaining == 0 {
            return 0;
        }
        let r = self.next_u64();
        let len = match r % 8 {
            0..=3 => 1 + (r >> 8) as usize % 4,
            4 | 5 => 1 + (r >> 8) as usize % 64,
            6 => 1 + (r >> 8) as usize % 1024,
            _ => remaining,
        };
        len.min(remaining)
    }

    /// Splits `data` into consecutive non-empty chunks.
    pub fn split<'a>(&mut self, data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let (a, b) = rest.split_at(self.chunk_len(rest.len()));
            out.push(a);
            rest = b;
        }
        out
    }

    /// True with probability 1/2.
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// Splits a fuzz input into a control byte, a chunking seed (2 bytes) and the payload.
pub fn control_prefix(data: &[u8]) -> (u8, u64, &[u8]) {
    match data {
        [c, a, b, rest @ ..] => (*c, u64::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, 0, &[]),
    }
}

/// The virtual clock's origin: one real instant, taken once per process. Targets only ever use
/// `origin() + offset`, so runs are reproducible.
pub fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// The virtual instant `ms` milliseconds after [`origin`].
pub fn at(ms: u64) -> Instant {
    origin() + Duration::from_millis(ms)
}

/// A frame as it appears on the wire, decoded without any validation (the oracle's view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    /// FIN bit.
    pub fin: bool,
    /// The three RSV bits, in the low bits.
    pub rsv: u8,
    /// The raw opcode nibble.
    pub opcode: u8,
    /// The frame carried a mask key.
    pub masked: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl WireFrame {
    /// The close code of a Close frame's body, if it has one.
    pub fn close_code(&self) -> Option<u16> {
        match self.payload[..] {
            [a, b, ..] => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }
    }
}

/// Length of the first frame in `buf` (header and payload) if its header is complete, with
/// the header length. Independent of `ws-proto`: no validation at all.
pub fn wire_frame_extent(buf: &[u8]) -> Option<(usize, u64)> {
    let [_, b1, ..] = *buf else { return None };
    let masked = b1 & 0x80 != 0;
    let (ext, len) = match b1 & 0x7f {
        126 => (2, u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?))),
        127 => (8, u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)),
        n => (0, u64::from(n)),
    };
    let header = 2 + ext + if masked { 4 } else { 0 };
    (buf.len() >= header).then_some((header, len))
}

/// Decodes every complete frame at the start of `buf`; returns them and the bytes consumed.
pub fn decode_wire(buf: &[u8]) -> (Vec<WireFrame>, usize) {
    let mut frames = Vec::new();
    let mut pos = 0;
    while let Some((hlen, len)) = wire_frame_extent(&buf[pos..]) {
        let Ok(len) = usize::try_from(len) else { break };
        let Some(end) = (pos + hlen).checked_add(len) else { break };
        if end > buf.len() {
            break;
        }
        let (b0, b1) = (buf[pos], buf[pos + 1]);
        let mut payload = buf[pos + hlen..end].to_vec();
        let masked = b1 & 0x80 != 0;
        if masked {
            let key = &buf[pos + hlen - 4..pos + hlen];
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        frames.push(WireFrame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0x0f,
            masked,
            payload,
        });
        pos = end;
    }
    (frames, pos)
}

/// Encodes one frame (the oracle's encoder, for building test streams). `mask`: the key to
/// mask with, if any.
pub fn encode_wire(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | (opcode & 0x0f)];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(m | n as u8),
        n @ 126..=0xffff => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_and_splits() {
        let mut stream = encode_wire(true, 1, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(stream, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        stream.extend(encode_wire(false, 2, &[7; 300], None));
        stream.push(0x89);
        let (frames, used) = decode_wire(&stream);
        assert_eq!(used, stream.len() - 1);
        assert_eq!(frames[0].payload, b"Hello");
        assert_eq!((frames[1].fin, frames[1].opcode, frames[1].payload.len()), (false, 2, 300));
        let mut s = Splitter::new(3);
        let parts = s.split(&stream);
        assert_eq!(parts.concat(), stream);
        assert!(parts.iter().all(|p| !p.is_empty()));
    }
}
