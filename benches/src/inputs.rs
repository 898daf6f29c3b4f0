//! Deterministic inputs: every library in a comparison gets byte-identical bytes.

use crate::wire::{Opcode, encode_frame};

/// A small deterministic generator (xorshift64*): reproducible payloads and mask keys without
/// pulling a random-number crate into the measurements.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// A random 4-byte mask key.
    pub fn mask_key(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_le_bytes()
    }
}

/// `len` random bytes.
pub fn binary_payload(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0; len];
    Rng::new(seed).fill(&mut out);
    out
}

/// The kinds of text the UTF-8 benchmarks validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corpus {
    /// Plain ASCII (English prose and JSON punctuation).
    Ascii,
    /// Western European prose: mostly ASCII with frequent 2-byte letters.
    Latin1,
    /// Chinese and Japanese: almost all 3-byte characters.
    Cjk,
    /// Emoji between short ASCII words: many 4-byte characters.
    Emoji,
}

impl Corpus {
    /// All kinds, in the order benchmark reports list them.
    pub const ALL: [Corpus; 4] = [Corpus::Ascii, Corpus::Latin1, Corpus::Cjk, Corpus::Emoji];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Corpus::Ascii => "ascii",
            Corpus::Latin1 => "latin1",
            Corpus::Cjk => "cjk",
            Corpus::Emoji => "emoji",
        }
    }

    fn words(self) -> &'static [&'static str] {
        match self {
            Corpus::Ascii => &[
                "the",
                "quick",
                "brown",
                "fox",
                "jumps",
                "over",
                "lazy",
                "dog",
                "{\"id\":",
                "42,",
                "\"name\":",
                "\"value\"}",
                "server",
                "message",
            ],
            Corpus::Latin1 => &[
                "Größe", "über", "Straße", "déjà", "vu", "façade", "naïve", "été", "año", "señor",
                "Ærø", "crème", "brûlée", "und", "le", "à",
            ],
            Corpus::Cjk => &[
                "日本語",
                "の",
                "文章",
                "を",
                "検証",
                "する",
                "中文",
                "字符",
                "测试",
                "数据",
                "漢字",
                "한국어",
                "、",
                "。",
            ],
            Corpus::Emoji => &["🐢", "😀", "🚀", "go", "🎉", "ok", "👍🏽", "🇯🇵", "✨", "🔥", "hi"],
        }
    }
}

/// Exactly `len` bytes of valid UTF-8 text of the given kind (deterministic for a `seed`).
pub fn text(corpus: Corpus, len: usize, seed: u64) -> Vec<u8> {
    let words = corpus.words();
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let w = words[(rng.next_u64() % words.len() as u64) as usize];
        if out.len() + w.len() + 1 > len {
            break;
        }
        out.extend_from_slice(w.as_bytes());
        out.push(b' ');
    }
    out.resize(len, b'.');
    out
}

/// `count` masked client frames, each carrying `payload` under its own mask key, back to back:
/// what a server reads from a busy connection.
pub fn masked_frames(opcode: Opcode, payload: &[u8], count: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for _ in 0..count {
        out.extend_from_slice(&encode_frame(opcode, payload, Some(rng.mask_key())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_valid_and_exact() {
        for c in Corpus::ALL {
            for len in [0, 1, 7, 1000, 64 << 10] {
                let t = text(c, len, 3);
                assert_eq!(t.len(), len);
                assert!(std::str::from_utf8(&t).is_ok(), "{c:?} {len}");
            }
        }
        // The corpora really differ in their byte mix.
        let multibyte = |c| text(c, 4096, 1).iter().filter(|b| **b >= 0x80).count();
        assert_eq!(multibyte(Corpus::Ascii), 0);
        assert!(multibyte(Corpus::Latin1) > 100);
        assert!(multibyte(Corpus::Cjk) > 3000);
    }

    #[test]
    fn deterministic_and_distinct() {
        assert_eq!(binary_payload(100, 5), binary_payload(100, 5));
        assert_ne!(binary_payload(100, 5), binary_payload(100, 6));
        let frames = masked_frames(Opcode::Binary, b"abc", 3, 9);
        assert_eq!(frames.len(), 3 * (2 + 4 + 3));
        assert_ne!(frames[2..6], frames[11..15], "each frame gets its own key");
    }
}
