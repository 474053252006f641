//! The record envelope: how a stored value carries its checksum, by format
//! version. Format 3 stores every value as its payload (the bincode record,
//! an index's flag or nothing) followed by a CRC-32C, little-endian, over
//! the table's name, the key and the payload. Every read opens the
//! envelope before anything decodes the payload, so a flipped byte in a
//! key or a value, or a page of another table read in place of this one,
//! is an error naming the table and key instead of data served as sound.
//! An index entry whose value is empty carries the checksum of its key.
//!
//! Format 2 had no envelope: its reader (`Envelope::V2`, used only to
//! carry a file over, `store::upgrade`) takes the stored bytes as they
//! are. A later format adds a variant here and, when its records change,
//! a conversion in `store::upgrade`; there is one writer, the current one.
//!
//! `meta`'s `format` entry is stored bare in every version: it is read
//! before the version, and so the envelope, is known.

use super::T;
use super::tables::is_bare;
use crate::error::Error;

/// The bytes the checksum adds to each value.
pub const CHECKSUM_LEN: usize = 4;

/// How a format version stores a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// Format 2: the payload as it is.
    V2,
    /// Formats 3 to 5: the payload, then its CRC-32C.
    V3,
}

impl Envelope {
    /// The envelope of a format version, if this caldb reads it.
    pub fn of_version(version: u32) -> Option<Envelope> {
        match version {
            2 => Some(Envelope::V2),
            // Formats 4 and 5 changed keys, records and tables, not how a
            // value carries its checksum.
            3..=5 => Some(Envelope::V3),
            _ => None,
        }
    }

    /// The payload of a stored value, verified.
    pub fn open<'a>(self, t: T, key: &[u8], stored: &'a [u8]) -> Result<&'a [u8], Error> {
        match self {
            Envelope::V2 => Ok(stored),
            Envelope::V3 => open(t, key, stored),
        }
    }
}

/// The checksum of `payload` stored under `key` in `t`.
pub fn checksum(t: T, key: &[u8], payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c_append(seed(t), key);
    crc32c::crc32c_append(crc, payload)
}

/// The CRC-32C of the table's name, computed once per table: where each
/// of its values' checksums starts.
fn seed(t: T) -> u32 {
    static SEEDS: std::sync::OnceLock<[u32; super::TABLE_COUNT]> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| T::ALL.map(|t| crc32c::crc32c(t.name().as_bytes())))[t as usize]
}

/// Appends `payload` and its checksum to `out` (format 3).
pub fn seal_into(t: T, key: &[u8], payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(payload);
    out.extend_from_slice(&checksum(t, key, payload).to_le_bytes());
}

/// The payload of a format-3 value, once its checksum is verified.
pub fn open<'a>(t: T, key: &[u8], stored: &'a [u8]) -> Result<&'a [u8], Error> {
    let Some(split) = stored.len().checked_sub(CHECKSUM_LEN) else {
        return Err(damaged(t, key, format!("a {}-byte value is too short to hold its checksum", stored.len())));
    };
    let (payload, sum) = stored.split_at(split);
    let mut want = [0u8; CHECKSUM_LEN];
    want.copy_from_slice(sum);
    if checksum(t, key, payload) != u32::from_le_bytes(want) {
        return Err(damaged(t, key, "the checksum does not match (the key or the value was changed)"));
    }
    Ok(payload)
}

/// Damage in table `t` under `key`.
pub fn damaged(t: T, key: &[u8], detail: impl Into<String>) -> Error {
    Error::Damaged { table: t.name().to_string(), key: describe_key(t, key), detail: detail.into() }
}

/// `e` with its table and key filled in, when it is damage that did not
/// know them (a value's decoding).
pub fn at(e: Error, t: T, key: &[u8]) -> Error {
    match e {
        Error::Damaged { table, detail, .. } if table.is_empty() => damaged(t, key, detail),
        e => e,
    }
}

/// A key as a user can read it: an id as its number (a key pack's or
/// license's with its server's ordinal), a name as quoted
/// text (a NUL separator shown as `/`), anything else as hex.
pub fn describe_key(t: T, key: &[u8]) -> String {
    if t.shape().key_width() == Some(8) && key.len() == 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(key);
        let id = u64::from_be_bytes(b);
        if matches!(t, T::Keypacks | T::Licenses) {
            // Numbered per server (`keys::row_id`): the server's number,
            // and which server by its ordinal.
            return format!("{} of server #{}", super::keys::number(id), super::keys::server_of(id));
        }
        return id.to_string();
    }
    let printable = |s: &&str| !s.is_empty() && s.chars().all(|c| c == '\0' || !c.is_control());
    match std::str::from_utf8(key).ok().filter(printable) {
        Some(s) => format!("'{}'", s.trim_end_matches('\0').replace('\0', "/")),
        None => key.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// The payload of a stored value, its checksum verified (`meta`'s format
/// entry is bare: it is read before the envelope is known).
pub(super) fn open_stored<'a>(t: T, key: &[u8], stored: &'a [u8]) -> crate::error::Result<&'a [u8]> {
    if is_bare(t, key) {
        return Ok(stored);
    }
    open(t, key, stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_to_its_payload_and_any_flipped_bit_is_damage() {
        let key = crate::store::keys::id(crate::store::keys::row_id(2, 7));
        let mut sealed = Vec::new();
        seal_into(T::Licenses, &key, b"record", &mut sealed);
        assert_eq!(open(T::Licenses, &key, &sealed).expect("sound"), b"record");
        for bit in 0..sealed.len() * 8 {
            let mut flipped = sealed.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let e = open(T::Licenses, &key, &flipped).expect_err("a flipped bit");
            let want = "damaged: table licenses, key 7 of server #2: the checksum does not match (the key or the value was changed)";
            assert_eq!(e.to_string(), want);
        }
        let mut other = key;
        other[7] ^= 4;
        assert!(open(T::Licenses, &other, &sealed).is_err(), "the key is covered");
        assert!(open(T::Keypacks, &key, &sealed).is_err(), "the table is covered");
        assert!(open(T::Licenses, &key, &sealed[..3]).is_err(), "too short");
    }

    #[test]
    fn keys_are_named_as_a_user_reads_them() {
        assert_eq!(describe_key(T::Licenses, &crate::store::keys::id(crate::store::keys::row_id(3, 42))), "42 of server #3");
        assert_eq!(describe_key(T::Sessions, &42u64.to_be_bytes()), "42");
        assert_eq!(describe_key(T::Devices, b"pc1"), "'pc1'");
        assert_eq!(describe_key(T::UserCals, b"ls1\0alice\0WS2022\0"), "'ls1/alice/WS2022'");
        assert_eq!(describe_key(T::Tokens, b"pc1\0\0\0\0\x01"), "7063310000000001");
    }
}
