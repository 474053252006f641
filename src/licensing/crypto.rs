//! The licensing exchange's cryptography (MS-RDPELE 5.1): the raw RSA
//! private-key operation on the client's encrypted premaster secret, the
//! key derivation (salted hashes of MD5 and SHA-1), the MAC, and RC4,
//! re-keyed for every encrypted blob. Pure functions over bytes: no state,
//! no I/O, nothing here can fail on any input.

use md5::Md5;
use num_bigint::BigUint;
use sha1::{Digest, Sha1};

/// The premaster secret's length: the low 48 bytes of the decrypted value.
pub const PREMASTER_LEN: usize = 48;
/// A MAC's length (an MD5 digest).
pub const MAC_LEN: usize = 16;

/// An RSA private key's parts, as the exchange uses them: `c^d mod n`,
/// computed with the Chinese remainder theorem over `p` and `q`.
#[derive(Clone)]
pub struct PrivateKey {
    n: BigUint,
    p: BigUint,
    q: BigUint,
    dp: BigUint,
    dq: BigUint,
    qinv: BigUint,
}

impl PrivateKey {
    /// From the big-endian modulus, private exponent and two primes.
    /// `None` when the parts do not make a key (a prime is zero or one, or
    /// `q` has no inverse modulo `p`).
    pub fn from_parts(n: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> Option<PrivateKey> {
        let (n, d) = (BigUint::from_bytes_be(n), BigUint::from_bytes_be(d));
        let (p, q) = (BigUint::from_bytes_be(p), BigUint::from_bytes_be(q));
        let one = BigUint::from(1u8);
        if p <= one || q <= one || &p * &q != n {
            return None;
        }
        let dp = &d % (&p - &one);
        let dq = &d % (&q - &one);
        let qinv = q.modinv(&p)?;
        Some(PrivateKey { n, p, q, dp, dq, qinv })
    }

    /// `c^d mod n` (MS-RDPELE 5.1.4: integers are little-endian on the
    /// wire), with the Chinese remainder theorem.
    pub fn decrypt_le(&self, cipher_le: &[u8]) -> Vec<u8> {
        let c = BigUint::from_bytes_le(cipher_le) % &self.n;
        let m1 = (&c % &self.p).modpow(&self.dp, &self.p);
        let m2 = (&c % &self.q).modpow(&self.dq, &self.q);
        // h = qinv * (m1 - m2) mod p, with m1 - m2 taken modulo p.
        let diff = (&m1 + &self.p - (&m2 % &self.p)) % &self.p;
        let h = (&self.qinv * diff) % &self.p;
        (m2 + h * &self.q).to_bytes_le()
    }
}

/// The premaster secret from the client's encrypted one: the low 48 bytes
/// of the decrypted little-endian integer. rdesktop's all-zero blob
/// decrypts to zero, as raw RSA leaves it: no special case.
pub fn premaster(key: &PrivateKey, encrypted_le: &[u8]) -> [u8; PREMASTER_LEN] {
    let plain = key.decrypt_le(encrypted_le);
    let mut out = [0u8; PREMASTER_LEN];
    let n = plain.len().min(PREMASTER_LEN);
    out[..n].copy_from_slice(&plain[..n]);
    out
}

/// MS-RDPELE 5.1.3's SaltedHash for the three inputs "A", "BB", "CCC":
/// MD5(S || SHA1(I || S || a || b)) each, concatenated (48 bytes).
fn salted_hash48(secret: &[u8], a: &[u8], b: &[u8]) -> [u8; 48] {
    let mut out = [0u8; 48];
    for (i, fill) in [&b"A"[..], b"BB", b"CCC"].iter().enumerate() {
        let inner = Sha1::new().chain_update(fill).chain_update(secret).chain_update(a).chain_update(b).finalize();
        let outer = Md5::new().chain_update(secret).chain_update(inner).finalize();
        out[i * 16..(i + 1) * 16].copy_from_slice(&outer);
    }
    out
}

/// The two keys of one exchange (MS-RDPELE 5.1.2-5.1.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKeys {
    /// The MAC salt key.
    pub mac_salt: [u8; 16],
    /// The licensing encryption key (RC4).
    pub rc4_key: [u8; 16],
}

/// Derives the MAC salt key and the licensing encryption key.
pub fn derive(premaster: &[u8], client_random: &[u8], server_random: &[u8]) -> SessionKeys {
    let master = salted_hash48(premaster, client_random, server_random);
    let blob = salted_hash48(&master, server_random, client_random);
    let mut mac_salt = [0u8; 16];
    mac_salt.copy_from_slice(&blob[..16]);
    let digest =
        Md5::new().chain_update(&blob[16..32]).chain_update(client_random).chain_update(server_random).finalize();
    let mut rc4_key = [0u8; 16];
    rc4_key.copy_from_slice(&digest);
    SessionKeys { mac_salt, rc4_key }
}

/// MS-RDPELE 5.1.6's MAC: MD5(salt || 0x5C x 48 || SHA1(salt || 0x36 x 40
/// || length as u32 little-endian || data)).
pub fn mac(salt: &[u8], data: &[u8]) -> [u8; MAC_LEN] {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes();
    let inner =
        Sha1::new().chain_update(salt).chain_update([0x36u8; 40]).chain_update(len).chain_update(data).finalize();
    let outer = Md5::new().chain_update(salt).chain_update([0x5Cu8; 48]).chain_update(inner).finalize();
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&outer);
    out
}

/// RC4 over `data` with a fresh key schedule (the exchange re-keys for
/// every blob); encryption and decryption are the same.
pub fn rc4(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut s: [u8; 256] = std::array::from_fn(|i| i as u8);
    let mut j = 0u8;
    for i in 0..256 {
        j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len().max(1)]);
        s.swap(i, usize::from(j));
    }
    let (mut i, mut j) = (0u8, 0u8);
    data.iter()
        .map(|b| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s[usize::from(i)]);
            s.swap(usize::from(i), usize::from(j));
            b ^ s[usize::from(s[usize::from(i)].wrapping_add(s[usize::from(j)]))]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc4_matches_the_published_test_vector() {
        // RFC 6229's first vector: key 0x0102030405, first 8 output bytes.
        let out = rc4(&[1, 2, 3, 4, 5], &[0u8; 8]);
        assert_eq!(out, [0xb2, 0x39, 0x63, 0x05, 0xf0, 0x3d, 0xc0, 0x27]);
    }

    #[test]
    fn rc4_twice_gives_the_plaintext_back() {
        let data = b"TEST\0 of the licensing key".to_vec();
        assert_eq!(rc4(b"k", &rc4(b"k", &data)), data);
    }

    #[test]
    fn crt_decryption_inverts_textbook_rsa() {
        // p = 61, q = 53, n = 3233, e = 17, d = 2753.
        let key = PrivateKey::from_parts(&[0x0c, 0xa1], &[0x0a, 0xc1], &[61], &[53]).expect("a key");
        let c = BigUint::from(65u32).modpow(&BigUint::from(17u32), &BigUint::from(3233u32));
        assert_eq!(key.decrypt_le(&c.to_bytes_le()), vec![65]);
    }
}
