//! The per-connection compressor and decompressor (RFC 7692 §7.2).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{DeflateConfig, DeflateParams};
use crate::config::Role;

/// The empty stored block a sync flush ends with; stripped when sending (§7.2.1) and appended
/// when receiving (§7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The inflated message would exceed the limit; `size` is how far it got.
    TooLarge(u64),
    /// Not a valid DEFLATE stream.
    Invalid,
}

/// Compression state of one connection, allocated lazily per direction.
pub(crate) struct DeflateState {
    role: Role,
    params: DeflateParams,
    level: u32,
    min_size: usize,
    compressor: Option<Compress>,
    decompressor: Option<Decompress>,
    /// Reused output buffer of the compressor.
    scratch: Vec<u8>,
}

impl core::fmt::Debug for DeflateState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeflateState").field("params", &self.params).finish_non_exhaustive()
    }
}

impl DeflateState {
    pub(crate) fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> Self {
        DeflateState {
            role,
            params,
            level: config.level.min(9),
            min_size: config.min_size,
            compressor: None,
            decompressor: None,
            scratch: Vec::new(),
        }
    }

    /// Window bits and context reset of our compressor, then of the peer's.
    fn local(&self) -> (u8, bool) {
        match self.role {
            Role::Server => {
                (self.params.server_max_window_bits, self.params.server_no_context_takeover)
            }
            Role::Client => {
                (self.params.client_max_window_bits, self.params.client_no_context_takeover)
            }
        }
    }

    fn peer(&self) -> (u8, bool) {
        match self.role {
            Role::Server => {
                (self.params.client_max_window_bits, self.params.client_no_context_takeover)
            }
            Role::Client => {
                (self.params.server_max_window_bits, self.params.server_no_context_takeover)
            }
        }
    }

    /// True if we can compress at all: zlib cannot produce raw deflate with an 8-bit window.
    pub(crate) fn can_compress(&self) -> bool {
        self.local().0 >= 9
    }

    /// The default policy for a whole message of `len` bytes.
    pub(crate) fn wants(&self, len: usize) -> bool {
        self.can_compress() && len >= self.min_size
    }

    /// Compresses one fragment of a message (the whole message when it is the only one) and
    /// returns the bytes to put in the frame. The last fragment (`fin`) drops the trailing
    /// empty block and, without context takeover, resets the compressor.
    pub(crate) fn compress(&mut self, input: &[u8], fin: bool) -> &[u8] {
        let (bits, no_takeover) = self.local();
        let level = Compression::new(self.level);
        let c = self
            .compressor
            .get_or_insert_with(|| Compress::new_with_window_bits(level, false, bits));
        self.scratch.clear();
        let mut consumed = 0;
        loop {
            if self.scratch.capacity() - self.scratch.len() < 64 {
                self.scratch.reserve((input.len() - consumed) / 2 + 64);
            }
            let before = c.total_in();
            c.compress_vec(&input[consumed..], &mut self.scratch, FlushCompress::Sync)
                .expect("deflate on a valid stream cannot fail");
            consumed += (c.total_in() - before) as usize;
            // A sync flush is complete once all input is in and output room was left over.
            if consumed == input.len() && self.scratch.len() < self.scratch.capacity() {
                break;
            }
        }
        if fin {
            if self.scratch.ends_with(&TAIL) {
                self.scratch.truncate(self.scratch.len() - TAIL.len());
            } else if self.scratch.is_empty() {
                // Nothing new since the previous fragment's flush (zlib emits nothing for a
                // repeated sync flush). The receiver appends the tail to whatever ends the
                // message, so end it with the header byte of an empty stored block.
                self.scratch.push(0x00);
            }
            if no_takeover {
                c.reset();
            }
        }
        &self.scratch
    }

    /// Inflates one frame of a compressed message, appending to `out`. `fin` adds the stripped
    /// tail and, without context takeover, resets the decompressor. Fails once `out` would grow
    /// past `limit` bytes: memory stays bounded by the limit, however well the data compresses.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        fin: bool,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), InflateError> {
        let (bits, no_takeover) = self.peer();
        // A larger window reads a smaller-window stream; zlib wants at least 9 for raw inflate.
        let d = self
            .decompressor
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits.max(9)));
        let tail: &[u8] = if fin { &TAIL } else { &[] };
        let mut ended = false;
        for part in [input, tail] {
            let mut consumed = 0;
            while !ended {
                if out.len() == out.capacity() {
                    if out.len() > limit {
                        return Err(InflateError::TooLarge(out.len() as u64));
                    }
                    let grow = (out.len().max(part.len() * 2)).clamp(256, 1 << 20);
                    out.reserve_exact(grow.min(limit + 1 - out.len()).max(1));
                }
                let (in_before, out_before) = (d.total_in(), out.len());
                let status = d
                    .decompress_vec(&part[consumed..], out, FlushDecompress::None)
                    .map_err(|_| InflateError::Invalid)?;
                consumed += (d.total_in() - in_before) as usize;
                if out.len() > limit {
                    return Err(InflateError::TooLarge(out.len() as u64));
                }
                if d.total_in() == in_before
                    && out.len() == out_before
                    && out.len() < out.capacity()
                {
                    // No progress with input and room: only a broken stream does that.
                    if consumed < part.len() {
                        return Err(InflateError::Invalid);
                    }
                }
                match status {
                    // A final block (BFINAL) ends the stream; what follows is ignored and the
                    // next message starts a fresh stream (RFC 7692 §7.2.3.4).
                    Status::StreamEnd => ended = true,
                    _ if consumed == part.len() && out.len() < out.capacity() => break,
                    _ if consumed == part.len() && out.len() == out_before => break,
                    _ => {}
                }
            }
        }
        if ended || (fin && no_takeover) {
            d.reset(false);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(no_takeover: bool) -> DeflateParams {
        DeflateParams {
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            server_no_context_takeover: no_takeover,
            client_no_context_takeover: no_takeover,
            announce_server_bits: false,
            announce_client_bits: false,
        }
    }

    fn state(role: Role, no_takeover: bool) -> DeflateState {
        DeflateState::new(role, params(no_takeover), &DeflateConfig::default())
    }

    fn inflate_all(
        d: &mut DeflateState,
        frames: &[&[u8]],
        limit: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            d.inflate(f, i + 1 == frames.len(), limit, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn rfc_7692_section_7_2_3_examples() {
        let mut d = state(Role::Client, false);
        // 7.2.3.1: "Hello" in one frame.
        let hello: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_all(&mut d, &[hello], 100).unwrap(), b"Hello");
        // 7.2.3.2: the same message again, sharing the LZ77 window (context takeover).
        assert_eq!(inflate_all(&mut d, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100).unwrap(), b"Hello");
        // 7.2.3.1: fragmented.
        let mut d = state(Role::Client, false);
        assert_eq!(
            inflate_all(&mut d, &[&[0xf2, 0x48, 0xcd], &[0xc9, 0xc9, 0x07, 0x00]], 100).unwrap(),
            b"Hello"
        );
        // 7.2.3.3: a stored (no compression) block.
        let stored: &[u8] = &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
        assert_eq!(inflate_all(&mut d, &[stored], 100).unwrap(), b"Hello");
        // 7.2.3.4: a block with BFINAL set, then the next message starts over.
        let bfinal: &[u8] = &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(inflate_all(&mut d, &[bfinal], 100).unwrap(), b"Hello");
        assert_eq!(inflate_all(&mut d, &[hello], 100).unwrap(), b"Hello");
        // 7.2.3.5: two DEFLATE blocks in one message.
        let two: &[u8] =
            &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_all(&mut d, &[two], 100).unwrap(), b"Hello");
        // 7.2.3.6: an empty message is a single 0x00 byte.
        assert_eq!(inflate_all(&mut d, &[&[0x00]], 100).unwrap(), b"");
    }

    #[test]
    fn compress_produces_the_rfc_bytes() {
        let mut s = state(Role::Server, false);
        assert_eq!(s.compress(b"Hello", true), &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        // With context takeover the second "Hello" refers back to the first.
        let second = s.compress(b"Hello", true).to_vec();
        assert!(second.len() < 7, "{second:x?}");
        let mut c = state(Role::Client, false);
        assert_eq!(
            inflate_all(&mut c, &[&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]], 10).unwrap(),
            b"Hello"
        );
        assert_eq!(inflate_all(&mut c, &[&second], 10).unwrap(), b"Hello");
        // Without context takeover both messages compress identically.
        let mut s = state(Role::Server, true);
        let a = s.compress(b"Hello", true).to_vec();
        assert_eq!(a, s.compress(b"Hello", true));
        assert_eq!(s.compress(b"", true), &[0x00]);
    }

    #[test]
    fn inflate_is_bounded_by_the_limit() {
        // 10 MiB of zeros compress to about 10 KiB at the best level.
        let best = DeflateConfig { level: 9, ..DeflateConfig::default() };
        let mut s = DeflateState::new(Role::Server, params(false), &best);
        let bomb = s.compress(&vec![0u8; 10 << 20], true).to_vec();
        assert!(bomb.len() < 20 << 10);
        let mut c = state(Role::Client, false);
        let mut out = Vec::new();
        let err = c.inflate(&bomb, true, 1 << 20, &mut out).unwrap_err();
        assert!(matches!(err, InflateError::TooLarge(n) if n > 1 << 20));
        assert!(out.capacity() <= (1 << 20) + 1, "memory bounded by the limit: {}", out.capacity());
    }

    #[test]
    fn invalid_data_is_an_error() {
        let mut c = state(Role::Client, false);
        assert_eq!(inflate_all(&mut c, &[&[0xff, 0xff, 0xff]], 100), Err(InflateError::Invalid));
    }

    #[test]
    fn window_8_is_never_used_for_compressing() {
        let mut p = params(false);
        p.server_max_window_bits = 8;
        let s = DeflateState::new(Role::Server, p, &DeflateConfig::default());
        assert!(!s.can_compress());
        let c = DeflateState::new(Role::Client, p, &DeflateConfig::default());
        assert!(c.can_compress());
    }
}
