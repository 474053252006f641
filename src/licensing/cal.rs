//! caldb's CAL: the bytes a real client stores and presents. Versioned,
//! with the license id, the issuing server, kind, product, HWID, issue and
//! expiry times, and a tag (HMAC-SHA256 under the server's secret) that
//! only that server can make. Clients treat the CAL as opaque. Reading one
//! trusts nothing but the server name (needed to find the secret) before
//! the tag verifies.

use super::credentials::Credentials;
use crate::model::{Hwid, LicenseKind, Product, Time};

const MAGIC: &[u8; 8] = b"CALDBCAL";
/// The CAL format's version.
pub const CAL_VERSION: u8 = 1;
const TAG_LEN: usize = 32;

/// What a CAL says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cal {
    pub license: u64,
    pub server: String,
    pub kind: LicenseKind,
    pub product: Product,
    pub hwid: Hwid,
    pub issued: Time,
    pub expires: Time,
}

impl Cal {
    /// The CAL's bytes, tagged with the server's secret.
    pub fn encode(&self, creds: &Credentials) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(CAL_VERSION);
        out.extend_from_slice(&self.license.to_le_bytes());
        push_text(&mut out, &self.server);
        out.push(u8::from(self.kind == LicenseKind::Permanent));
        push_text(&mut out, self.product.as_str());
        out.extend_from_slice(&self.hwid.0);
        out.extend_from_slice(&self.issued.0.to_le_bytes());
        out.extend_from_slice(&self.expires.0.to_le_bytes());
        let tag = creds.tag(&out);
        out.extend_from_slice(&tag);
        out
    }
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    let bytes = &text.as_bytes()[..text.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

/// Why a presented CAL is not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Untrusted {
    /// Not a caldb CAL of a known version, or cut short.
    Unreadable,
    /// Its tag does not verify under its server's secret.
    Tag,
}

/// The server a CAL names: the only field read before its tag verifies,
/// to find the secret that checks it.
pub fn server_of(bytes: &[u8]) -> Option<String> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (&version, rest) = rest.split_first()?;
    if version != CAL_VERSION {
        return None;
    }
    let rest = rest.get(8..)?;
    let (&len, rest) = rest.split_first()?;
    String::from_utf8(rest.get(..usize::from(len))?.to_vec()).ok()
}

/// Verifies a CAL's tag with its server's credentials, then reads it.
pub fn verify(bytes: &[u8], creds: &Credentials) -> Result<Cal, Untrusted> {
    if bytes.len() < TAG_LEN {
        return Err(Untrusted::Unreadable);
    }
    let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
    // Constant-time comparison is not needed against an offline client,
    // but costs nothing: compare every byte.
    let expected = creds.tag(body);
    if expected.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
        return Err(Untrusted::Tag);
    }
    read(body).ok_or(Untrusted::Unreadable)
}

fn read(body: &[u8]) -> Option<Cal> {
    let mut r = body.strip_prefix(MAGIC)?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = (r.get(..n)?, r.get(n..)?);
        r = tail;
        Some(head)
    };
    if take(1)? != [CAL_VERSION] {
        return None;
    }
    let license = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let len = usize::from(take(1)?[0]);
    let server = String::from_utf8(take(len)?.to_vec()).ok()?;
    let kind = match take(1)?[0] {
        0 => LicenseKind::Temporary,
        1 => LicenseKind::Permanent,
        _ => return None,
    };
    let len = usize::from(take(1)?[0]);
    let product = Product::parse(std::str::from_utf8(take(len)?).ok()?)?;
    let hwid = Hwid(take(20)?.try_into().ok()?);
    let issued = Time(i64::from_le_bytes(take(8)?.try_into().ok()?));
    let expires = Time(i64::from_le_bytes(take(8)?.try_into().ok()?));
    if !r.is_empty() {
        return None;
    }
    Some(Cal { license, server, kind, product, hwid, issued, expires })
}
