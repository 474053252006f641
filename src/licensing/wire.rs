//! caldb's own codec for the seven licensing messages of MS-RDPELE: the
//! three the server sends are encoded, the three a client sends (and its
//! error alert) are decoded, leniently where real clients differ (blob
//! types 0x01 or 0x09 for the encrypted HWID and response, a message size
//! field that undercounts). Every byte string starts at the preamble
//! (bMsgType, flags, wMsgSize). Decoding never panics: every read is
//! bounds-checked and a short or wrong message is `FrontError::Malformed`,
//! naming the message, the byte offset and why.

use super::FrontError;

/// bMsgType values (MS-RDPBCGR 2.2.1.12.1.1).
pub mod msg {
    pub const LICENSE_REQUEST: u8 = 0x01;
    pub const PLATFORM_CHALLENGE: u8 = 0x02;
    pub const NEW_LICENSE: u8 = 0x03;
    pub const UPGRADE_LICENSE: u8 = 0x04;
    pub const LICENSE_INFO: u8 = 0x12;
    pub const NEW_LICENSE_REQUEST: u8 = 0x13;
    pub const PLATFORM_CHALLENGE_RESPONSE: u8 = 0x15;
    pub const ERROR_ALERT: u8 = 0xFF;
}

/// Blob types (MS-RDPBCGR 2.2.1.12.1.2).
mod blob {
    pub const ANY: u16 = 0x00;
    pub const DATA: u16 = 0x01;
    pub const RANDOM: u16 = 0x02;
    pub const CERTIFICATE: u16 = 0x03;
    pub const ERROR: u16 = 0x04;
    pub const ENCRYPTED_DATA: u16 = 0x09;
    pub const KEY_EXCHANGE: u16 = 0x0D;
    pub const SCOPE: u16 = 0x0E;
    pub const USER_NAME: u16 = 0x0F;
    pub const MACHINE_NAME: u16 = 0x10;
}

/// PREAMBLE_VERSION_3_0 with EXTENDED_ERROR_MSG_SUPPORTED.
const PREAMBLE_FLAGS: u8 = 0x83;
/// The key exchange algorithm every client names: RSA.
const KEY_EXCHANGE_RSA: u32 = 1;
/// CERT_CHAIN_VERSION_2: an X.509 chain.
const CERT_CHAIN_VERSION_2: u32 = 2;

/// dwErrorCode values of an error alert (MS-RDPBCGR 2.2.1.12.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    /// ERR_INVALID_SERVER_CERTIFICATE.
    InvalidServerCertificate = 0x01,
    /// ERR_NO_LICENSE.
    NoLicense = 0x02,
    /// ERR_INVALID_MAC.
    InvalidMac = 0x03,
    /// ERR_INVALID_SCOPE.
    InvalidScope = 0x04,
    /// ERR_NO_LICENSE_SERVER.
    NoLicenseServer = 0x06,
    /// STATUS_VALID_CLIENT.
    ValidClient = 0x07,
    /// ERR_INVALID_CLIENT.
    InvalidClient = 0x08,
    /// ERR_INVALID_PRODUCTID.
    InvalidProductId = 0x0B,
    /// ERR_INVALID_MESSAGE_LEN.
    InvalidMessageLen = 0x0C,
}

/// dwStateTransition values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Transition {
    /// ST_TOTAL_ABORT: the client ends the connection.
    TotalAbort = 0x01,
    /// ST_NO_TRANSITION: licensing is over, the connection goes on.
    NoTransition = 0x02,
}

/// The product a license request names (ProductInfo).
pub struct ProductInfo<'a> {
    pub version: u32,
    pub company: &'a str,
    pub product_id: &'a str,
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect()
}

fn len32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes()
}

/// A message under construction: the preamble, then fields; `done`
/// writes wMsgSize.
struct Out(Vec<u8>);

impl Out {
    fn new(msg_type: u8) -> Out {
        Out(vec![msg_type, PREAMBLE_FLAGS, 0, 0])
    }
    fn u32(&mut self, v: u32) -> &mut Out {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Out {
        self.0.extend_from_slice(b);
        self
    }
    fn blob(&mut self, kind: u16, data: &[u8]) -> &mut Out {
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        self.0.extend_from_slice(&kind.to_le_bytes());
        self.0.extend_from_slice(&len.to_le_bytes());
        self.bytes(data)
    }
    fn done(&mut self) -> Vec<u8> {
        let size = u16::try_from(self.0.len()).unwrap_or(u16::MAX).to_le_bytes();
        self.0[2..4].copy_from_slice(&size);
        std::mem::take(&mut self.0)
    }
}

/// SERVER_LICENSE_REQUEST: the server random, the product, RSA as the key
/// exchange, the X.509 chain (the server's key in the last certificate)
/// and one scope.
pub fn license_request(server_random: &[u8; 32], product: &ProductInfo, chain: &[Vec<u8>], scope: &str) -> Vec<u8> {
    let mut cert = Vec::new();
    cert.extend_from_slice(&CERT_CHAIN_VERSION_2.to_le_bytes());
    cert.extend_from_slice(&len32(chain.len()));
    for c in chain {
        cert.extend_from_slice(&len32(c.len()));
        cert.extend_from_slice(c);
    }
    // MS-RDPBCGR 2.2.1.4.2: 8 + 4 * NumCertBlobs bytes of padding.
    cert.resize(cert.len() + 8 + 4 * chain.len(), 0);
    let (company, product_id) = (utf16z(product.company), utf16z(product.product_id));
    let mut scope_z = scope.as_bytes().to_vec();
    scope_z.push(0);
    Out::new(msg::LICENSE_REQUEST)
        .bytes(server_random)
        .u32(product.version)
        .bytes(&len32(company.len()))
        .bytes(&company)
        .bytes(&len32(product_id.len()))
        .bytes(&product_id)
        .blob(blob::KEY_EXCHANGE, &KEY_EXCHANGE_RSA.to_le_bytes())
        .blob(blob::CERTIFICATE, &cert)
        .u32(1)
        .blob(blob::SCOPE, &scope_z)
        .done()
}

/// SERVER_PLATFORM_CHALLENGE: the encrypted challenge and the MAC of its
/// plaintext.
pub fn platform_challenge(encrypted: &[u8], mac: &[u8; 16]) -> Vec<u8> {
    Out::new(msg::PLATFORM_CHALLENGE).u32(0).blob(blob::ANY, encrypted).bytes(mac).done()
}

/// The plaintext of a new or upgrade license (LICENSE_INFO's fields):
/// version, scope, company, product id and the CAL bytes.
pub fn license_info(product: &ProductInfo, scope: &str, cal: &[u8]) -> Vec<u8> {
    let mut scope_z = scope.as_bytes().to_vec();
    scope_z.push(0);
    let (company, product_id) = (utf16z(product.company), utf16z(product.product_id));
    let mut out = product.version.to_le_bytes().to_vec();
    for field in [&scope_z[..], &company, &product_id, cal] {
        out.extend_from_slice(&len32(field.len()));
        out.extend_from_slice(field);
    }
    out
}

/// SERVER_NEW_LICENSE (`upgrade` false) or SERVER_UPGRADE_LICENSE: the
/// encrypted license info and the MAC of its plaintext.
pub fn new_license(upgrade: bool, encrypted: &[u8], mac: &[u8; 16]) -> Vec<u8> {
    let kind = if upgrade { msg::UPGRADE_LICENSE } else { msg::NEW_LICENSE };
    Out::new(kind).blob(blob::ENCRYPTED_DATA, encrypted).bytes(mac).done()
}

/// LICENSE_ERROR_MESSAGE: an error code and a state transition, with an
/// empty error info blob.
pub fn error_alert(code: ErrorCode, transition: Transition) -> Vec<u8> {
    Out::new(msg::ERROR_ALERT).u32(code as u32).u32(transition as u32).blob(blob::ERROR, &[]).done()
}

/// A bounds-checked reader over one client message.
struct In<'a> {
    data: &'a [u8],
    at: usize,
    message: &'static str,
}

impl<'a> In<'a> {
    fn bad(&self, why: impl Into<String>) -> FrontError {
        FrontError::Malformed { message: self.message, offset: self.at, why: why.into() }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FrontError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.data.len());
        let Some(end) = end else {
            let left = self.data.len().saturating_sub(self.at);
            return Err(self.bad(format!("'{what}' needs {n} bytes, {left} left")));
        };
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u16(&mut self, what: &str) -> Result<u16, FrontError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, FrontError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A blob of one of `kinds` (an empty blob may carry any type).
    fn blob(&mut self, what: &str, kinds: &[u16]) -> Result<&'a [u8], FrontError> {
        let start = self.at;
        let kind = self.u16(what)?;
        let len = usize::from(self.u16(what)?);
        if len > 0 && !kinds.contains(&kind) {
            self.at = start;
            return Err(self.bad(format!("'{what}' blob has type 0x{kind:02x}, expected 0x{:02x}", kinds[0])));
        }
        self.take(len, what)
    }
}

/// The preamble of a client message: its type, after checking the size
/// field is at least the preamble's and no more than the bytes given.
pub fn message_type(data: &[u8]) -> Result<u8, FrontError> {
    let mut r = In { data, at: 0, message: "licensing message" };
    let head = r.take(4, "preamble")?;
    let size = usize::from(u16::from_le_bytes([head[2], head[3]]));
    if size < 4 || size > data.len() {
        r.at = 2;
        return Err(r.bad(format!("wMsgSize {size} does not fit a message of {} bytes", data.len())));
    }
    Ok(head[0])
}

fn reader<'a>(data: &'a [u8], message: &'static str) -> In<'a> {
    In { data, at: 4, message }
}

/// The key exchange fields both first client messages open with.
pub struct KeyExchange<'a> {
    pub client_random: &'a [u8],
    pub encrypted_premaster: &'a [u8],
}

fn key_exchange<'a>(r: &mut In<'a>) -> Result<KeyExchange<'a>, FrontError> {
    let alg = r.u32("dwPreferredKeyExchangeAlg")?;
    if alg != KEY_EXCHANGE_RSA {
        r.at -= 4;
        return Err(r.bad(format!("key exchange algorithm {alg}, only RSA (1) is known")));
    }
    r.u32("dwPlatformId")?;
    let client_random = r.take(32, "ClientRandom")?;
    let encrypted_premaster = r.blob("EncryptedPreMasterSecret", &[blob::RANDOM, blob::ANY])?;
    if encrypted_premaster.is_empty() {
        return Err(r.bad("the encrypted premaster secret is empty"));
    }
    Ok(KeyExchange { client_random, encrypted_premaster })
}

/// CLIENT_NEW_LICENSE_REQUEST's key exchange. Its user and machine name
/// blobs are checked for shape only: the names caldb records come from the
/// RDP connection (IronRDP sends its HWID words as the machine name).
pub fn new_license_request(data: &[u8]) -> Result<KeyExchange<'_>, FrontError> {
    let mut r = reader(data, "CLIENT_NEW_LICENSE_REQUEST");
    let keys = key_exchange(&mut r)?;
    r.blob("ClientUserName", &[blob::USER_NAME])?;
    r.blob("ClientMachineName", &[blob::MACHINE_NAME])?;
    Ok(keys)
}

/// CLIENT_LICENSE_INFO's fields: the stored CAL, the encrypted HWID and
/// the MAC over the plaintext HWID.
pub struct LicenseInfo<'a> {
    pub keys: KeyExchange<'a>,
    pub cal: &'a [u8],
    pub encrypted_hwid: &'a [u8],
    pub mac: &'a [u8],
}

pub fn license_info_message(data: &[u8]) -> Result<LicenseInfo<'_>, FrontError> {
    let mut r = reader(data, "CLIENT_LICENSE_INFO");
    let keys = key_exchange(&mut r)?;
    let cal = r.blob("LicenseInfo", &[blob::DATA])?;
    // FreeRDP and IronRDP write 0x09 here; the specification says 0x09 too.
    let encrypted_hwid = r.blob("EncryptedHWID", &[blob::ENCRYPTED_DATA, blob::DATA])?;
    let mac = r.take(16, "MACData")?;
    Ok(LicenseInfo { keys, cal, encrypted_hwid, mac })
}

/// CLIENT_PLATFORM_CHALLENGE_RESPONSE's fields.
pub struct ChallengeResponse<'a> {
    pub encrypted_response: &'a [u8],
    pub encrypted_hwid: &'a [u8],
    pub mac: &'a [u8],
}

pub fn challenge_response(data: &[u8]) -> Result<ChallengeResponse<'_>, FrontError> {
    let mut r = reader(data, "CLIENT_PLATFORM_CHALLENGE_RESPONSE");
    // rdesktop writes both blobs as 0x01.
    let kinds = [blob::ENCRYPTED_DATA, blob::DATA];
    let encrypted_response = r.blob("EncryptedPlatformChallengeResponse", &kinds)?;
    let encrypted_hwid = r.blob("EncryptedHWID", &kinds)?;
    let mac = r.take(16, "MACData")?;
    Ok(ChallengeResponse { encrypted_response, encrypted_hwid, mac })
}

/// An error alert's code and transition, as a client sends them.
pub fn error_alert_fields(data: &[u8]) -> Result<(u32, u32), FrontError> {
    let mut r = reader(data, "ERROR_ALERT");
    Ok((r.u32("dwErrorCode")?, r.u32("dwStateTransition")?))
}

/// Whether a decrypted platform challenge response answers `challenge`,
/// in any of the three layouts clients send: the specification's
/// (version, client type, detail level, length, then the challenge:
/// FreeRDP), the same after 8 zero bytes (ironrdp-connector 0.12), or the
/// bare challenge echoed back (rdesktop).
pub fn answers_challenge(response: &[u8], challenge: &[u8]) -> bool {
    let spec = |r: &[u8]| {
        r.len() == 8 + challenge.len()
            && usize::from(u16::from_le_bytes([r[6], r[7]])) == challenge.len()
            && &r[8..] == challenge
    };
    response == challenge
        || spec(response)
        || (response.len() > 8 && response[..8].iter().all(|b| *b == 0) && spec(&response[8..]))
}
