//! Incremental UTF-8 validation.
//!
//! Text messages arrive in frames, and frames arrive in read-sized chunks; a code point may be
//! split anywhere. [`Utf8Validator`] validates such a stream piece by piece and reports an error at
//! the first byte that can no longer start or continue a valid sequence, so a connection fails as
//! soon as the peer sends bad text (Autobahn 6.4.x), not when the message ends.
//!
//! The bulk of each piece is checked with `simdutf8`; only the up-to-3 bytes of a code point
//! straddling two pieces are handled by hand.

use core::fmt;

/// Where a UTF-8 stream stopped being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error {
    valid_up_to: u64,
}

impl Utf8Error {
    /// Number of bytes, counted from the start of the stream, that form valid UTF-8 before the
    /// error. Matches [`std::str::Utf8Error::valid_up_to`] for the whole stream.
    pub fn valid_up_to(&self) -> u64 {
        self.valid_up_to
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid UTF-8 after {} valid bytes", self.valid_up_to)
    }
}

impl std::error::Error for Utf8Error {}

/// Validates a UTF-8 byte stream fed in arbitrary pieces.
///
/// ```
/// use ws_proto::utf8::Utf8Validator;
/// let text = "żółw 🐢".as_bytes();
/// let mut v = Utf8Validator::new();
/// for piece in text.chunks(3) {
///     v.feed(piece).unwrap();
/// }
/// v.finish().unwrap();
///
/// let mut v = Utf8Validator::new();
/// assert!(v.feed(&[0xf4, 0x90]).is_err()); // beyond U+10FFFF: fails at once
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Bytes of an incomplete code point carried over from the previous piece.
    pending: [u8; 4],
    pending_len: u8,
    /// Bytes accepted so far, pending bytes excluded.
    complete: u64,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub const fn new() -> Self {
        Utf8Validator { pending: [0; 4], pending_len: 0, complete: 0 }
    }

    /// Forgets all state, ready for a new stream.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True if the bytes fed so far end in the middle of a code point.
    pub fn is_incomplete(&self) -> bool {
        self.pending_len != 0
    }

    /// Validates the next piece of the stream.
    ///
    /// Returns an error as soon as a byte is seen that cannot belong to valid UTF-8, even if the
    /// sequence it belongs to is not complete yet. After an error the validator should be reset.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), Utf8Error> {
        if self.pending_len != 0 {
            match self.complete_pending(input)? {
                Some(used) => input = &input[used..],
                None => return Ok(()),
            }
        }
        // A piece usually ends mid code point when text is split; check the complete prefix
        // with the fast validator and keep the (at most 3-byte) tail for the next piece, so the
        // common case never needs the slower position-reporting scan.
        let cut = complete_prefix_len(input);
        if simdutf8::basic::from_utf8(&input[..cut]).is_ok() {
            let tail = &input[cut..];
            if tail.is_empty() || is_valid_prefix(tail) {
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                self.complete += cut as u64;
                return Ok(());
            }
        }
        // Rare path: find out where it went wrong.
        match simdutf8::compat::from_utf8(input) {
            Ok(_) => {
                self.complete += input.len() as u64;
                Ok(())
            }
            Err(e) => {
                let valid = e.valid_up_to();
                if e.error_len().is_some() {
                    return Err(Utf8Error { valid_up_to: self.complete + valid as u64 });
                }
                // A valid but unfinished sequence at the end: at most 3 bytes.
                let tail = &input[valid..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                self.complete += valid as u64;
                Ok(())
            }
        }
    }

    /// Declares the end of the stream: an unfinished code point is an error.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        if self.pending_len != 0 {
            return Err(Utf8Error { valid_up_to: self.complete });
        }
        Ok(())
    }

    /// Tries to finish the carried-over code point with the first bytes of `input`.
    ///
    /// Returns how many bytes of `input` it used, or `None` if `input` was consumed and the code
    /// point is still unfinished.
    fn complete_pending(&mut self, input: &[u8]) -> Result<Option<usize>, Utf8Error> {
        let have = self.pending_len as usize;
        let take = input.len().min(4 - have);
        let mut tmp = self.pending;
        tmp[have..have + take].copy_from_slice(&input[..take]);
        let tmp = &tmp[..have + take];
        let char_len = match std::str::from_utf8(tmp) {
            // Only possible when the code point exactly fills `tmp`.
            Ok(_) => tmp.len(),
            Err(e) if e.valid_up_to() > 0 => e.valid_up_to(),
            Err(e) if e.error_len().is_some() => {
                return Err(Utf8Error { valid_up_to: self.complete });
            }
            Err(_) => {
                // Still a valid prefix, and `input` is exhausted.
                self.pending[have..have + take].copy_from_slice(&input[..take]);
                self.pending_len = (have + take) as u8;
                return Ok(None);
            }
        };
        self.pending_len = 0;
        self.complete += char_len as u64;
        Ok(Some(char_len - have))
    }
}

/// Length of `input` without a trailing incomplete multi-byte sequence (judged by its lead
/// byte alone; whether that tail is a valid prefix is checked separately).
#[inline]
fn complete_prefix_len(input: &[u8]) -> usize {
    let len = input.len();
    for back in 1..=len.min(3) {
        let b = input[len - back];
        if b < 0x80 {
            return len; // ASCII ends the input: nothing pending
        }
        if b >= 0xc0 {
            let need = match b {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            return if back < need { len - back } else { len };
        }
        // A continuation byte: keep looking for its lead.
    }
    len
}

/// True if `tail` (1–3 bytes) can still become a valid code point.
fn is_valid_prefix(tail: &[u8]) -> bool {
    matches!(std::str::from_utf8(tail), Err(e) if e.valid_up_to() == 0 && e.error_len().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_all_splits(data: &[u8]) {
        let expected = std::str::from_utf8(data).map_err(|e| e.valid_up_to() as u64);
        for a in 0..=data.len() {
            for b in a..=data.len() {
                let mut v = Utf8Validator::new();
                let got = v
                    .feed(&data[..a])
                    .and_then(|_| v.feed(&data[a..b]))
                    .and_then(|_| v.feed(&data[b..]))
                    .and_then(|_| v.finish())
                    .map(|_| "")
                    .map_err(|e| e.valid_up_to());
                assert_eq!(got.is_ok(), expected.is_ok(), "{data:x?} split at {a},{b}");
                if let (Err(g), Err(e)) = (got, expected) {
                    assert_eq!(g, e, "{data:x?} split at {a},{b}");
                }
            }
        }
    }

    #[test]
    fn valid_multibyte_across_every_split() {
        check_all_splits("aé€𐍈z".as_bytes());
    }

    #[test]
    fn invalid_sequences_across_every_split() {
        for bad in [
            &b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"[..],
            b"ab\xf4\x90\x80\x80",
            b"\xf8\x88\x80\x80\x80",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"ok\xff",
            b"\xe2\x82",
            b"\xf0\x9f\x98",
        ] {
            check_all_splits(bad);
        }
    }

    #[test]
    fn fails_fast_on_impossible_prefix() {
        let mut v = Utf8Validator::new();
        v.feed(b"hello \xf4").unwrap();
        assert_eq!(v.feed(b"\x90").unwrap_err().valid_up_to(), 6);
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"\xed\xa0").is_err(), "surrogate prefix must fail before completion");
    }

    proptest! {
        #[test]
        fn agrees_with_std(data in proptest::collection::vec(any::<u8>(), 0..64),
                           cuts in proptest::collection::vec(0usize..64, 0..6)) {
            let mut v = Utf8Validator::new();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut start = 0;
            let mut result = Ok(());
            for c in cuts.into_iter().chain([data.len()]) {
                result = v.feed(&data[start..c]);
                start = c;
                if result.is_err() { break; }
            }
            let result = result.and_then(|_| v.finish());
            match std::str::from_utf8(&data) {
                Ok(_) => prop_assert!(result.is_ok()),
                Err(e) => prop_assert_eq!(result.unwrap_err().valid_up_to(), e.valid_up_to() as u64),
            }
        }

        #[test]
        fn valid_text_any_chunking(s in "\\PC{0,40}", cuts in proptest::collection::vec(0usize..200, 0..6)) {
            let data = s.as_bytes();
            let mut v = Utf8Validator::new();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut start = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                v.feed(&data[start..c]).unwrap();
                start = c;
            }
            v.finish().unwrap();
        }
    }
}
