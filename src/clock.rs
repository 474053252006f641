//! Time and randomness: the only place that reads the wall clock, and the
//! seeded random source whose state lives in the database (protocol.md,
//! "Time and randomness"), so one script with one seed gives one database.

use crate::model::{Hwid, Time};
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds added to the wall clock: 0, except in a test that runs caldb
/// as it will run later (`set_wall_offset`), such as the README's audit
/// walkthrough a year from now.
static WALL_OFFSET: AtomicI64 = AtomicI64::new(0);

/// The wall clock, in whole seconds.
pub fn wall_now() -> Time {
    Time(chrono::Utc::now().timestamp().saturating_add(WALL_OFFSET.load(Ordering::Relaxed)))
}

/// Moves the wall clock as this process reads it by `seconds` (tests only:
/// the hook is reached through the `internals` feature).
#[doc(hidden)]
pub fn set_wall_offset(seconds: i64) {
    WALL_OFFSET.store(seconds, Ordering::Relaxed);
}

/// SplitMix64: small, fast, and good enough for expiry days and HWIDs. Its
/// whole state is one u64, stored in the database after every statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        Rng { state: seed ^ 0x5DEE_CE66_D1CE_4E5B }
    }

    pub fn from_state(state: u64) -> Rng {
        Rng { state }
    }

    pub fn state(&self) -> u64 {
        self.state
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniformly random integer in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "empty random range {lo}..={hi}");
        let span = hi - lo + 1;
        // Rejection sampling keeps the draw uniform.
        let zone = u64::MAX - u64::MAX % span;
        loop {
            let v = self.next_u64();
            if v < zone {
                return lo + v % span;
            }
        }
    }

    /// A random 20-byte hardware id.
    pub fn hwid(&mut self) -> Hwid {
        let mut out = [0u8; 20];
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Hwid(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_draws() {
        let mut a = Rng::seeded(7);
        let mut b = Rng::seeded(7);
        for _ in 0..100 {
            assert_eq!(a.between(52, 89), b.between(52, 89));
        }
        assert_ne!(Rng::seeded(1).next_u64(), Rng::seeded(2).next_u64());
    }

    #[test]
    fn draws_cover_the_whole_range_and_nothing_else() {
        let mut r = Rng::seeded(3);
        let mut seen = [false; 38];
        for _ in 0..10_000 {
            let d = r.between(52, 89);
            assert!((52..=89).contains(&d));
            seen[(d - 52) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
