//! Values on disk: serde + bincode 2 with its standard configuration
//! (little-endian, variable-length integers). The only place that names
//! bincode; changing its configuration is a format change (`schema/`).

use crate::error::{Error, Result};

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| Error::Storage(format!("cannot encode a record: {e}")))
}

/// Decodes a whole value; trailing bytes mean a damaged record.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| Error::Storage(format!("a stored record is damaged: {e}")))?;
    if used != bytes.len() {
        return Err(Error::Storage("a stored record is damaged: trailing bytes".into()));
    }
    Ok(value)
}
