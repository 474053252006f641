//! Each license server's credentials for real clients' licensing exchange
//! (its RSA key, certificate chain and CAL secret), kept in `meta` under
//! `credentials` and the server's name. They are not records of the
//! protocol: no statement writes them, `.dump` and history leave them out,
//! and a replay makes new ones when a client first needs them.

use super::{Reader, T, WriteTx};
use crate::error::Result;

/// A server's credentials as stored (integers big-endian).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CredentialsRec {
    /// The license server.
    pub server: String,
    /// The RSA modulus, public and private exponents and the two primes.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub d: Vec<u8>,
    pub p: Vec<u8>,
    pub q: Vec<u8>,
    /// The DER certificates, the server's own last.
    pub chain: Vec<Vec<u8>>,
    /// The key of the CALs' tags.
    pub secret: Vec<u8>,
    /// Made from the database's seed (a simulation), not the OS.
    pub seeded: bool,
}

fn key(server: &str) -> Vec<u8> {
    let mut k = b"credentials\0".to_vec();
    k.extend_from_slice(server.as_bytes());
    k
}

/// A server's stored credentials, if made.
pub fn credentials(r: &(impl Reader + ?Sized), server: &str) -> Result<Option<CredentialsRec>> {
    r.record(T::Meta, &key(server))
}

/// Stores a server's credentials.
pub fn put_credentials(tx: &mut WriteTx, rec: &CredentialsRec) -> Result<()> {
    tx.put_record(T::Meta, &key(&rec.server), rec)
}
