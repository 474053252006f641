//! Each license server's credentials for real clients' licensing exchange
//! (its RSA key, certificate chain and CAL secret): the `credentials`
//! table (format 4), keyed by the server's name. They are not effects of a
//! statement: none writes them and history has no row for them (a replay
//! makes new ones when a client first needs them); `.dump` carries them,
//! so a restored database still knows the CALs it issued, and `REBUILD
//! SERVER` keeps them, as a rebuilt server keeps its certificate.

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

/// A server's key: its name folded (`keys::name`), as the servers table's.
fn key(server: &str) -> std::borrow::Cow<'_, [u8]> {
    super::keys::name(server)
}

/// A server's stored credentials, if made.
pub fn credentials(r: &(impl Reader + ?Sized), server: &str) -> Result<Option<CredentialsRec>> {
    r.record(T::Credentials, &key(server))
}

/// Stores a server's credentials.
pub fn put_credentials(tx: &mut WriteTx, rec: &CredentialsRec) -> Result<()> {
    tx.put_record(T::Credentials, &key(&rec.server), rec)
}
