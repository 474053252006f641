//! The licensing exchange's cryptography (MS-RDPELE 5.1): the raw RSA
//! private-key operation on the client's encrypted premaster secret, the
//! key derivation (salted hashes of MD5 and SHA-1), the MAC, and RC4,
//! re-keyed for every encrypted blob. Pure functions over bytes: no state,
//! no I/O, nothing here can fail on any input.

use md5::Md5;
use rsa::BoxedUint;
use rsa::traits::PublicKeyParts;
use sha1::{Digest, Sha1};

/// The premaster secret's length: the low 48 bytes of the decrypted value.
pub const PREMASTER_LEN: usize = 48;
/// A MAC's length (an MD5 digest).
pub const MAC_LEN: usize = 16;

/// The license server's RSA private key, as the exchange uses it: the raw
/// operation `c^d mod n` on a value the client chose. It runs in `rsa`'s
/// hazmat decryption: constant-time arithmetic (crypto-bigint) and the
/// ciphertext blinded by a fresh random factor, so the time it takes says
/// nothing about the key (a client picks the ciphertext: num-bigint's
/// variable-time `modpow` would be a timing oracle). The blinding factor
/// changes nothing in the result, so a replay gives the same bytes.
#[derive(Clone)]
pub struct PrivateKey {
    key: rsa::RsaPrivateKey,
}

impl PrivateKey {
    /// From the big-endian modulus, public and private exponents and two
    /// primes. `None` when the parts do not make a key (`rsa` validates
    /// them: the primes' product is the modulus, `d` inverts `e`).
    pub fn from_parts(n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> Option<PrivateKey> {
        let int = |b: &[u8]| BoxedUint::from_be_slice(b, bits_of(b)).ok();
        let primes = vec![int(p)?, int(q)?];
        let key = rsa::RsaPrivateKey::from_components(int(n)?, int(e)?, int(d)?, primes).ok()?;
        Some(PrivateKey { key })
    }

    /// `c^d mod n` (MS-RDPELE 5.1.4: integers are little-endian on the
    /// wire), `c` taken modulo `n` first (a value past the modulus is what
    /// a hostile client sends). Empty only if the decryption itself fails,
    /// which a valid key does not: the premaster is then zeros and the
    /// client's MAC does not verify.
    pub fn decrypt_le(&self, cipher_le: &[u8]) -> Vec<u8> {
        // The remainder has the modulus's precision, as the decryption wants.
        let c = BoxedUint::from_le_slice_vartime(cipher_le).rem_vartime(self.key.n());
        match rsa::hazmat::rsa_decrypt(Some(&mut rand::rng()), &self.key, &c) {
            Ok(m) => m.to_le_bytes().to_vec(),
            Err(_) => Vec::new(),
        }
    }
}

/// The precision of a big-endian integer of these bytes, whole 64-bit
/// limbs (what `BoxedUint` holds).
fn bits_of(bytes: &[u8]) -> u32 {
    let bits = u32::try_from(bytes.len().max(1) * 8).unwrap_or(u32::MAX);
    bits.div_ceil(64) * 64
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

    /// A 1024-bit key from a fixed seed (fast enough for a unit test) and
    /// its parts as the credentials table stores them.
    fn test_key() -> (rsa::RsaPrivateKey, PrivateKey) {
        use rand::SeedableRng;
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let k = rsa::RsaPrivateKey::new(&mut rng, 1024).expect("a key");
        let be = |x: &BoxedUint| x.to_be_bytes().to_vec();
        let key = PrivateKey::from_parts(&be(k.n().as_ref()), &be(k.e()), &be(k.d()), &be(&k.primes()[0]), &be(&k.primes()[1]));
        (k, key.expect("the parts make a key"))
    }

    #[test]
    fn decryption_inverts_the_public_operation_and_reduces_past_the_modulus() {
        use rsa::traits::PublicKeyParts;
        let (k, key) = test_key();
        let m = BoxedUint::from_be_slice(&[0x42; 48], k.n_bits_precision()).expect("m");
        let c = rsa::hazmat::rsa_encrypt(&k.to_public_key(), &m).expect("encrypt");
        let c_le = c.to_le_bytes().to_vec();
        let mut want = [0x42u8; 48].to_vec();
        want.resize(128, 0);
        assert_eq!(key.decrypt_le(&c_le), want);
        // Blinded with a fresh factor each time: the same result.
        assert_eq!(key.decrypt_le(&c_le), want);
        // c + n, longer than the modulus, is c.
        let (n_le, mut past, mut carry) = (k.n().as_ref().to_le_bytes(), vec![0u8; 137], 0u16);
        for (i, sum) in past.iter_mut().enumerate() {
            let s = u16::from(*c_le.get(i).unwrap_or(&0)) + u16::from(*n_le.get(i).unwrap_or(&0)) + carry;
            (*sum, carry) = ((s & 0xff) as u8, s >> 8);
        }
        assert!(past[128] != 0, "c + n is longer than the modulus");
        assert_eq!(key.decrypt_le(&past), want);
        // Zero (rdesktop's premaster) decrypts to zero.
        assert!(key.decrypt_le(&[0u8; 128]).iter().all(|b| *b == 0));
    }

    #[test]
    fn parts_that_do_not_make_a_key_are_refused() {
        // p = 61, q = 53 do not multiply to this n.
        assert!(PrivateKey::from_parts(&[0x0c, 0xa2], &[17], &[0x0a, 0xc1], &[61], &[53]).is_none());
        assert!(PrivateKey::from_parts(&[], &[], &[], &[], &[]).is_none());
    }
}
