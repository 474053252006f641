//! A license server's credentials for the licensing exchange: its 2048-bit
//! RSA key, the X.509 chain that carries the key to clients (two v3
//! certificates, the key in the last, as IronRDP demands), and the secret
//! that tags its CALs. Made once per server, when first needed, and kept in
//! the database. A simulation (a database whose clock is set) makes them
//! from its seed and the server's name, so a script gives the same keys
//! every run; a database on the wall clock takes the operating system's
//! randomness. Making them never draws from the protocol's generator: a
//! replay of `history` gives the same database whether or not a real
//! client ever connected.
//!
//! Decoding them (the key's CRT parameters: two reductions and a modular
//! inverse on 1024-bit numbers) is done once per server per database
//! handle: a [`Cache`] keeps the decoded credentials beside the row they
//! came from, and every use checks that row against the one the snapshot
//! holds now. Any change of the row (made again after a rollback, a
//! restore, another process writing the file, a new database) is a
//! different row, so it is decoded afresh; a row that is gone is not used.

use super::FrontError;
use super::crypto::PrivateKey;
use crate::query::Database;
use crate::store::CredentialsRec;
use hmac::{Hmac, KeyInit, Mac};
use rand::SeedableRng;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use x509_cert::builder::{Builder, CertificateBuilder, profile::BuilderProfile};
use x509_cert::der::Encode;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfo;
use x509_cert::time::{Time as X509Time, Validity};

/// The RSA key's size: 2048 bits, accepted by every client checked.
pub const KEY_BITS: usize = 2048;
/// The CAL secret's length.
pub const SECRET_LEN: usize = 32;

/// Credentials ready for use.
#[derive(Clone)]
pub struct Credentials {
    pub key: PrivateKey,
    pub chain: Vec<Vec<u8>>,
    pub secret: Vec<u8>,
}

impl Credentials {
    /// From the stored record; a record whose parts do not make a key is
    /// damage, named so.
    pub fn from_rec(rec: &CredentialsRec) -> Result<Credentials, FrontError> {
        let key = PrivateKey::from_parts(&rec.n, &rec.e, &rec.d, &rec.p, &rec.q)
            .ok_or_else(|| FrontError::Keys(format!("the stored RSA key of server '{}' is not a key", rec.server)))?;
        Ok(Credentials { key, chain: rec.chain.clone(), secret: rec.secret.clone() })
    }

    /// HMAC-SHA256 of `data` under the server's CAL secret.
    pub fn tag(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// Decoded credentials, one entry per server, each with the stored row it
/// was decoded from.
#[derive(Default)]
pub struct Cache {
    by_server: HashMap<String, (CredentialsRec, Arc<Credentials>)>,
    decodes: u64,
}

impl Cache {
    /// The credentials of `rec`, the row a snapshot holds now: the kept
    /// ones when they were decoded from this very row, else decoded (and
    /// kept in place of any older entry for the server).
    pub fn decoded(&mut self, rec: CredentialsRec) -> Result<Arc<Credentials>, FrontError> {
        if let Some((kept, creds)) = self.by_server.get(&rec.server)
            && *kept == rec
        {
            return Ok(Arc::clone(creds));
        }
        let creds = Arc::new(Credentials::from_rec(&rec)?);
        self.decodes += 1;
        self.by_server.insert(rec.server.clone(), (rec, Arc::clone(&creds)));
        Ok(creds)
    }

    /// How many rows were decoded so far (tests and benchmarks count them).
    pub fn decodes(&self) -> u64 {
        self.decodes
    }

}

/// `rec`'s credentials through the cache `db` keeps (made on first use).
pub fn cached(db: &mut Database, rec: CredentialsRec) -> Result<Arc<Credentials>, FrontError> {
    let kept = db.front_cache().take().and_then(|slot| slot.downcast::<Cache>().ok());
    let mut cache = kept.unwrap_or_default();
    let creds = cache.decoded(rec);
    *db.front_cache() = Some(cache);
    creds
}

/// How many times `db` decoded a server's stored credentials (once per
/// server, and again only when the stored row changed).
pub fn decodes(db: &Database) -> u64 {
    db.front_cache_ref().and_then(|c| c.downcast_ref::<Cache>()).map_or(0, Cache::decodes)
}

/// Where the randomness of new credentials comes from.
pub enum Source {
    /// A simulation: the database's seed (and the server's name).
    Seeded(u64),
    /// The operating system.
    Os,
}

/// Makes a server's credentials.
pub fn make(server: &str, source: Source) -> Result<CredentialsRec, FrontError> {
    let seeded = matches!(source, Source::Seeded(_));
    let mut rng = match source {
        Source::Seeded(seed) => {
            let digest = Sha256::new()
                .chain_update(b"caldb license server credentials\0")
                .chain_update(seed.to_le_bytes())
                .chain_update(server.as_bytes())
                .finalize();
            rand::rngs::StdRng::from_seed(digest.into())
        }
        Source::Os => rand::make_rng(),
    };
    let key = RsaPrivateKey::new(&mut rng, KEY_BITS).map_err(|e| FrontError::Keys(format!("key generation: {e}")))?;
    let chain = chain(server, &key)?;
    let mut secret = vec![0u8; SECRET_LEN];
    rand::Rng::fill_bytes(&mut rng, &mut secret);
    let [p, q] = [0, 1].map(|i| key.primes().get(i).map(|x| x.to_be_bytes().to_vec()).unwrap_or_default());
    Ok(CredentialsRec {
        server: server.to_string(),
        n: key.n().as_ref().to_be_bytes().to_vec(),
        e: key.e().to_be_bytes().to_vec(),
        d: key.d().to_be_bytes().to_vec(),
        p,
        q,
        chain,
        secret,
        seeded,
    })
}

/// A profile with a given issuer and subject and one extension, basic
/// constraints: a certificate without extensions is X.509 v1, and FreeRDP
/// 2.11's parser reads only v3 (the explicit version tag).
struct Plain {
    issuer: Name,
    subject: Name,
    ca: bool,
}

impl BuilderProfile for Plain {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        use x509_cert::ext::ToExtension;
        let constraints = x509_cert::ext::pkix::BasicConstraints { ca: self.ca, path_len_constraint: None };
        Ok(vec![constraints.to_extension(&self.subject, &[])?])
    }
}

/// The chain: a root named for caldb's licensing authority of the server,
/// self-signed, then the server's certificate signed by it. One key signs
/// both (no client checks the signatures; FreeRDP and IronRDP read the
/// last certificate's key). Fixed validity, so a seeded key gives the same
/// bytes every run.
fn chain(server: &str, key: &RsaPrivateKey) -> Result<Vec<Vec<u8>>, FrontError> {
    let bad = |e: &dyn std::fmt::Display| FrontError::Keys(format!("certificate of server '{server}': {e}"));
    let clean: String = server.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
    let root: Name = format!("CN=caldb licensing authority {clean}").parse().map_err(|e| bad(&e))?;
    let leaf: Name = format!("CN=caldb license server {clean}").parse().map_err(|e| bad(&e))?;
    let signer = SigningKey::<Sha256>::new(key.clone());
    let spki = SubjectPublicKeyInfo::from_key(&key.to_public_key()).map_err(|e| bad(&e))?;
    let validity = Validity::new(
        X509Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(1_577_836_800)).map_err(|e| bad(&e))?,
        X509Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(2_524_607_999)).map_err(|e| bad(&e))?,
    );
    let mut out = Vec::new();
    for (serial, issuer, subject) in [(1u32, &root, &root), (2, &root, &leaf)] {
        let profile = Plain { issuer: issuer.clone(), subject: subject.clone(), ca: serial == 1 };
        let builder = CertificateBuilder::new(profile, SerialNumber::from(serial), validity, spki.clone())
            .map_err(|e| bad(&e))?;
        let cert = builder.build::<_, rsa::pkcs1v15::Signature>(&signer).map_err(|e| bad(&e))?;
        out.push(cert.to_der().map_err(|e| bad(&e))?);
    }
    Ok(out)
}
