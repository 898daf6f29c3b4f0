//! Injected randomness: mask keys and `Sec-WebSocket-Key` nonces.
//!
//! RFC 6455 §5.3 requires client mask keys to be unpredictable, so the default source is a
//! ChaCha12 stream cipher seeded from the operating system. Tests and fuzzers inject a seeded
//! source to make every byte reproducible.

use rand_chacha::ChaCha12Rng;
use rand_core::{Rng, SeedableRng};

/// A source of random bytes for mask keys and handshake nonces.
pub trait RandomSource: Send {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

/// The default [`RandomSource`]: ChaCha12, seeded from the OS or from a fixed seed.
#[derive(Clone, Debug)]
pub struct ChaChaRandom(ChaCha12Rng);

impl ChaChaRandom {
    /// Seeded from the operating system's entropy source.
    ///
    /// # Panics
    /// If the operating system cannot provide entropy (no `getrandom(2)`, no `/dev/urandom`);
    /// continuing with predictable mask keys would silently break RFC 6455 §5.3.
    pub fn from_os() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system provides no entropy");
        ChaChaRandom(ChaCha12Rng::from_seed(seed))
    }

    /// A deterministic stream for tests and fuzzing. Never use this for real clients.
    pub fn from_seed(seed: u64) -> Self {
        ChaChaRandom(ChaCha12Rng::seed_from_u64(seed))
    }
}

impl RandomSource for ChaChaRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic_and_os_differs() {
        let (mut a, mut b) = (ChaChaRandom::from_seed(7), ChaChaRandom::from_seed(7));
        let (mut x, mut y) = ([0u8; 16], [0u8; 16]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        let (mut c, mut d) = (ChaChaRandom::from_os(), ChaChaRandom::from_os());
        c.fill(&mut x);
        d.fill(&mut y);
        assert_ne!(x, y);
    }
}
