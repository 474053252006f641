//! Keys on disk: byte strings whose order is the order caldb wants. Names
//! are the UTF-8 bytes of their folded form (`model::fold_name`: Windows
//! compares names without regard to case, so `pc1` and `PC1` are one key;
//! the record keeps the spelling it was created with; format 4), never
//! holding a NUL; numbers are big-endian,
//! times are big-endian with the sign bit flipped, and the parts of a
//! composite key are joined by a NUL byte.

use crate::model::{Hwid, Time, fold_name};
use std::borrow::Cow;

// The keys of single records borrow or sit on the stack: a lookup or a
// write of a record allocates no key.

pub fn id(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// A name's key: its folded bytes, borrowed when it is folded already.
pub fn name(s: &str) -> Cow<'_, [u8]> {
    // ASCII, nearly every name, folds byte by byte (`fold_char`'s own
    // first case) with no walk over chars and no second pass.
    if s.is_ascii() {
        return match s.bytes().any(|b| b.is_ascii_lowercase()) {
            false => Cow::Borrowed(s.as_bytes()),
            true => Cow::Owned(s.bytes().map(|b| b.to_ascii_uppercase()).collect()),
        };
    }
    match fold_name(s) {
        Cow::Borrowed(b) => Cow::Borrowed(b.as_bytes()),
        Cow::Owned(o) => Cow::Owned(o.into_bytes()),
    }
}

/// The stored id of a key pack or license (format 4): the server's
/// ordinal (`ServerRec::ordinal`) in the high 32 bits, the number the
/// server gives it (as Windows numbers each server's licenses and key
/// packs from 1, a `uint32` in WMI) in the low 32. Its 8 big-endian bytes
/// are the record's key, so a server's rows sit together in number order
/// and a (server, number) lookup is one key, with no index to keep.
pub fn row_id(server: u32, number: u32) -> u64 {
    (u64::from(server) << 32) | u64::from(number)
}

/// The number a server gives the key pack or license of stored id `row`.
pub fn number(row: u64) -> u64 {
    row & u64::from(u32::MAX)
}

/// The ordinal of the server that holds the key pack or license `row`.
pub fn server_of(row: u64) -> u32 {
    (row >> 32) as u32
}

/// Builds a composite key part by part.
#[derive(Default)]
pub struct Key(Vec<u8>);

impl Key {
    pub fn new() -> Key {
        Key(Vec::with_capacity(48))
    }

    pub fn name(mut self, s: &str) -> Key {
        // Folded straight into the key: no name allocated on the way.
        match s.is_ascii() {
            true => self.0.extend(s.bytes().map(|b| b.to_ascii_uppercase())),
            false => self.0.extend_from_slice(&name(s)),
        }
        self.0.push(0);
        self
    }

    pub fn id(mut self, n: u64) -> Key {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    pub fn slot(mut self, n: u32) -> Key {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    pub fn hwid(mut self, h: &Hwid) -> Key {
        self.0.extend_from_slice(&h.0);
        self
    }

    pub fn time(mut self, t: Time) -> Key {
        self.0.extend_from_slice(&((t.0 as u64) ^ (1 << 63)).to_be_bytes());
        self
    }

    pub fn done(self) -> Vec<u8> {
        self.0
    }
}

/// Reads the time that starts a key (`Key::time`); a key too short to hold
/// one reads as the earliest time.
pub fn leading_time(key: &[u8]) -> Time {
    let mut b = [0u8; 8];
    if key.len() >= 8 {
        b.copy_from_slice(&key[..8]);
    }
    Time((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

/// Reads the big-endian u64 starting a key.
pub fn leading_id(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if key.len() >= 8 {
        b.copy_from_slice(&key[..8]);
    }
    u64::from_be_bytes(b)
}

/// Reads the big-endian u64 ending a key.
pub fn trailing_id(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if key.len() >= 8 {
        b.copy_from_slice(&key[key.len() - 8..]);
    }
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_as_times_across_the_epoch() {
        let times = [Time(-5_000_000_000), Time(-1), Time(0), Time(1), Time(253_402_300_799)];
        let keys: Vec<Vec<u8>> = times.iter().map(|t| Key::new().time(*t).done()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "time keys out of order");
    }

    #[test]
    fn leading_time_reads_back_the_time_of_a_key() {
        for t in [Time(-11_644_473_600), Time(-1), Time(0), Time(1_767_603_600)] {
            assert_eq!(leading_time(&Key::new().time(t).id(7).done()), t);
        }
    }

    #[test]
    fn names_that_differ_only_in_case_are_one_key() {
        assert_eq!(name("pc1"), name("PC1"));
        assert_eq!(Key::new().name("Alice").name("rdsh3").done(), Key::new().name("ALICE").name("RDSH3").done());
        assert_ne!(name("pc1"), name("pc2"));
    }

    #[test]
    fn a_name_key_is_the_folded_name_in_ascii_and_beyond() {
        for s in ["pc1", "PC1", "Pc-1.corp_x", "", "straße", "Ǆemal", "ıi", "ǅ", "ΣΑΣ σας", "ẞ", "ﬁ", "d0000017"] {
            let folded = crate::model::fold_name(s);
            assert_eq!(&name(s)[..], folded.as_bytes(), "{s}");
            let key = Key::new().name(s).id(7).done();
            assert_eq!(key, [folded.as_bytes(), &[0], &7u64.to_be_bytes()].concat(), "{s}");
        }
        assert!(matches!(name("PC-1"), Cow::Borrowed(_)), "a folded name is borrowed");
    }

    #[test]
    fn a_row_id_keeps_its_server_and_number_and_sorts_by_server_first() {
        let (a, b) = (row_id(1, u32::MAX), row_id(2, 1));
        assert_eq!((server_of(a), number(a)), (1, u64::from(u32::MAX)));
        assert_eq!((server_of(b), number(b)), (2, 1));
        assert!(id(a) < id(b), "every row of server 1 sorts before server 2's");
    }

    #[test]
    fn a_name_sorts_before_its_longer_relatives_in_composite_keys() {
        let short = Key::new().name("pc").slot(9).done();
        let long = Key::new().name("pc1").slot(0).done();
        assert!(short < long, "the NUL separator keeps 'pc' before 'pc1'");
    }
}
