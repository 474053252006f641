//! Values on disk: serde + bincode 2 with its standard configuration
//! (little-endian, variable-length integers). The only place that names
//! bincode; changing its configuration is a format change (`schema/`).

use crate::error::{Error, Result};

/// The most a record's decoding may claim, over all its strings and
/// lists: records are far smaller. A damaged record's length prefix can
/// claim anything (2^64 bytes); without a limit bincode would allocate it
/// before finding the bytes missing, and a failed allocation aborts the
/// process. With the limit it is an error like any other damage. Decoding
/// only: the bytes written are the same.
const DECODE_LIMIT: usize = 64 << 20;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out`. bincode's own `encode_to_vec`
/// starts from an empty vector and grows it field by field: several
/// reallocations per record.
pub fn encode_into<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    bincode::serde::encode_into_writer(value, Append(out), config())
        .map_err(|e| Error::Storage(format!("cannot encode a record: {e}")))
}

struct Append<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for Append<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), bincode::error::EncodeError> {
        // bincode hands a record over a field at a time, most often one
        // byte (a small varint, an enum tag, a bool): a push costs less
        // than the general copy.
        match bytes {
            [b] => self.0.push(*b),
            _ => self.0.extend_from_slice(bytes),
        }
        Ok(())
    }
}

/// Decodes a whole value that borrows its text from `bytes` (a record
/// read in place, `LicenseView`); errors as `decode`'s.
pub fn decode_borrowed<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    let (value, used) = bincode::serde::borrow_decode_from_slice(bytes, config().with_limit::<DECODE_LIMIT>())
        .map_err(|e| Error::damaged(format!("the record cannot be decoded: {e}")))?;
    if used != bytes.len() {
        return Err(Error::damaged("the record cannot be decoded: trailing bytes"));
    }
    Ok(value)
}

/// Decodes a whole value; trailing bytes mean a damaged record.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config().with_limit::<DECODE_LIMIT>())
        .map_err(|e| match e {
            // A record's own check (`KeypackRec`'s) says what is wrong in words.
            bincode::error::DecodeError::OtherString(why) => Error::damaged(why),
            e => Error::damaged(format!("the record cannot be decoded: {e}")),
        })?;
    if used != bytes.len() {
        return Err(Error::damaged("the record cannot be decoded: trailing bytes"));
    }
    Ok(value)
}
