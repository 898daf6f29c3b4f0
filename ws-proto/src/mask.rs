//! Payload masking (RFC 6455 §5.3).
//!
//! Every frame a client sends is XORed with a 4-byte key; the server undoes it. The operation is its
//! own inverse, so one function masks and unmasks. [`apply_mask`] is the fast path: it works on
//! 64-byte blocks of a key pattern so LLVM turns the loop into vector XORs, in safe code.
//! [`apply_mask_bytewise`] is the obviously-correct oracle the fast path is tested against.

/// Width of the block the fast path XORs at once. 64 bytes is one AVX-512 register, two AVX2
/// registers or four SSE2 registers: wide enough for any x86_64 or aarch64 vector unit.
const BLOCK: usize = 64;

/// XORs `buf` with `key`, as if `buf` started at byte `offset` of the masked payload.
///
/// `offset` lets a payload be unmasked in pieces as it arrives: pass the number of payload bytes
/// already processed (only `offset % 4` matters).
///
/// ```
/// let key = [1, 2, 3, 4];
/// let mut data = *b"Hello, world";
/// ws_proto::mask::apply_mask(&mut data[..5], key, 0);
/// ws_proto::mask::apply_mask(&mut data[5..], key, 5);
/// ws_proto::mask::apply_mask(&mut data, key, 0);
/// assert_eq!(&data, b"Hello, world");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    let word = u32::from_ne_bytes(key);
    if buf.len() < BLOCK {
        return mask_words(buf, word, key);
    }
    let pattern: [u8; BLOCK] = {
        let mut p = [0u8; BLOCK];
        for chunk in p.chunks_exact_mut(4) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        p
    };
    let mut blocks = buf.chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        // A fixed-size array makes the bounds known, so this compiles to straight vector XORs.
        let block: &mut [u8; BLOCK] = block.try_into().expect("chunks_exact yields BLOCK bytes");
        for (b, k) in block.iter_mut().zip(pattern.iter()) {
            *b ^= k;
        }
    }
    mask_words(blocks.into_remainder(), word, key);
}

/// [`apply_mask`] for a payload that starts at offset 0 and is short (a 7-bit length): the
/// word loop alone, inlined where a small frame is decoded.
#[inline(always)]
pub(crate) fn apply_mask_short(buf: &mut [u8], key: [u8; 4]) {
    mask_words(buf, u32::from_ne_bytes(key), key);
}

/// Masks a short buffer: 8-byte words, then at most one 4-byte word, then the last bytes.
#[inline]
fn mask_words(buf: &mut [u8], word: u32, key: [u8; 4]) {
    let wide = (word as u64) | (word as u64) << 32;
    let mut words = buf.chunks_exact_mut(8);
    for w in &mut words {
        let w: &mut [u8; 8] = w.try_into().expect("chunks_exact yields 8 bytes");
        *w = (u64::from_ne_bytes(*w) ^ wide).to_ne_bytes();
    }
    let rest = words.into_remainder();
    let (four, rest) = rest.split_at_mut(rest.len() & 4);
    if let Ok(w) = <&mut [u8; 4]>::try_from(four) {
        *w = (u32::from_ne_bytes(*w) ^ word).to_ne_bytes();
    }
    for (b, k) in rest.iter_mut().zip(key) {
        *b ^= k;
    }
}

/// The byte-at-a-time reference implementation of [`apply_mask`]: slow, simple and used as the
/// oracle in tests, fuzzing and benchmarks.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

/// The key as seen from payload position `offset`.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Byte `i` of the rotated key is byte `(offset + i) % 4` of the original.
    let o = offset % 4;
    [key[o], key[(o + 1) % 4], key[(o + 2) % 4], key[(o + 3) % 4]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_matches_oracle_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..=300usize {
            let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            for offset in 0..4 {
                let mut fast = original.clone();
                let mut slow = original.clone();
                apply_mask(&mut fast, key, offset);
                apply_mask_bytewise(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn short_path_matches_oracle_for_every_short_length() {
        let key = [0x9c, 0x01, 0xe4, 0x5a];
        for len in 0..=125usize {
            let original: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
            let mut fast = original.clone();
            let mut slow = original.clone();
            apply_mask_short(&mut fast, key);
            apply_mask_bytewise(&mut slow, key, 0);
            assert_eq!(fast, slow, "len {len}");
        }
    }

    #[test]
    fn unaligned_subslices_match_oracle() {
        let key = [1, 2, 3, 250];
        let original: Vec<u8> = (0..200).map(|i| i as u8).collect();
        for start in 0..8 {
            let mut fast = original.clone();
            let mut slow = original.clone();
            apply_mask(&mut fast[start..], key, start);
            apply_mask_bytewise(&mut slow[start..], key, start);
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn rfc_6455_masked_hello() {
        // §5.7: a single-frame masked text message "Hello".
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }
}
