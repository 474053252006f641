//! The licensing front: the license-issuing side of MS-RDPELE for one
//! client connection, with no sockets. A session host hands it the client's
//! licensing messages (each starting at its preamble, after the basic
//! security header) and sends what it returns. The decision is caldb's
//! CONNECT for a real client (`CONNECT CLIENT ...`), one write transaction
//! recorded in `history`; everything before it (parsing, RSA, the MAC, the
//! check of a presented CAL against a read snapshot) is pure computation
//! outside any write transaction. This module never writes to the
//! database but through `Database`'s statements and never panics on input.

mod cal;
pub mod credentials;
pub mod crypto;
mod wire;

use crate::model::{Hwid, ReasonCode};
use crate::protocol::{ClientConnect, ClientLogon, Presented};
use crate::query::Database;
use std::fmt;
use std::sync::Arc;

pub use wire::{ErrorCode, Transition};

/// The company and product a license request names: what Windows' own
/// license servers send, which every client accepts.
const PRODUCT: wire::ProductInfo<'static> =
    wire::ProductInfo { version: 0x0006_0000, company: "Microsoft Corporation", product_id: "A02" };
/// The scope of the license request and of every CAL.
const SCOPE: &str = "microsoft.com";
/// The platform challenge: "TEST\0" in UTF-16, 10 bytes (rdesktop refuses
/// any other length).
const CHALLENGE: [u8; 10] = [b'T', 0, b'E', 0, b'S', 0, b'T', 0, 0, 0];

/// What the RDP connection says about the client, before licensing: the
/// client core data's client name and the client info PDU's user and
/// domain. A client's licensing messages may carry none of these
/// (CLIENT_LICENSE_INFO has no names), so the session host gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    /// The computer name (client core data's clientName).
    pub computer: String,
    /// The user signing in.
    pub user: String,
    /// The user's domain (kept for the session host; the decision does not
    /// use it).
    pub domain: String,
}

/// What an exchange step returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this message to the client and wait for its answer.
    Send(Vec<u8>),
    /// The decision is made: send `verdict.reply`, the last message.
    Done(Verdict),
}

/// The decision for one connection, and the last message of the exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The last licensing message to send (a new or upgrade license, a
    /// valid-client alert, or an error alert with total abort).
    pub reply: Vec<u8>,
    /// Whether the client is licensed to go on.
    pub licensed: bool,
    /// CONNECT's reason code, as text (`temporary-issued`, `valid`, ...).
    pub outcome: String,
    /// The session: caldb starts it when the logon is reported
    /// (`report_logon`); `None` here.
    pub session: Option<u64>,
    /// The license the client holds for this connection, if any.
    pub license: Option<u64>,
    /// The license server that decided, if one did.
    pub server: Option<String>,
    /// The client's HWID as it sent it.
    pub hwid: Hwid,
    /// The host and client the decision was for.
    pub host: String,
    /// The client as the connection named it.
    pub client: ClientInfo,
}

/// Why an exchange could not go on. `Display` says where and why;
/// `refusal` is the error alert to send the client, if the connection is
/// still open.
#[derive(Debug)]
pub enum FrontError {
    /// A message that is not what its type says (short, a wrong blob, a
    /// size field past its end) or not the one expected now.
    Malformed {
        /// Which message.
        message: &'static str,
        /// The byte offset from the preamble.
        offset: usize,
        /// What was wrong there.
        why: String,
    },
    /// A message whose MAC does not verify, or a platform challenge
    /// answered wrongly: tampered, replayed, or keyed for another exchange.
    Mac {
        /// Which message.
        message: &'static str,
    },
    /// The client sent an error alert (it gives up).
    ClientAlert {
        /// The alert's dwErrorCode.
        code: u32,
    },
    /// `step` after the exchange was done, or after it failed.
    Finished,
    /// A license server's key or certificate could not be made or read.
    Keys(String),
    /// The database refused: no such host, no license server, a storage
    /// error.
    Database(crate::Error),
}

impl fmt::Display for FrontError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrontError::Malformed { message, offset, why } => write!(f, "malformed {message} at byte {offset}: {why}"),
            FrontError::Mac { message } => write!(f, "{message}: the MAC does not verify (tampered or replayed)"),
            FrontError::ClientAlert { code } => write!(f, "the client ended the exchange with error 0x{code:02x}"),
            FrontError::Finished => f.write_str("the licensing exchange is already over"),
            FrontError::Keys(why) => write!(f, "license server credentials: {why}"),
            FrontError::Database(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FrontError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrontError::Database(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::Error> for FrontError {
    fn from(e: crate::Error) -> FrontError {
        FrontError::Database(e)
    }
}

impl FrontError {
    /// The error alert (total abort) to send the client for this error.
    pub fn refusal(&self) -> Vec<u8> {
        let code = match self {
            FrontError::Malformed { .. } => ErrorCode::InvalidMessageLen,
            FrontError::Mac { .. } => ErrorCode::InvalidMac,
            FrontError::Keys(_) => ErrorCode::InvalidServerCertificate,
            FrontError::ClientAlert { .. } | FrontError::Finished => ErrorCode::InvalidClient,
            FrontError::Database(_) => ErrorCode::NoLicenseServer,
        };
        wire::error_alert(code, Transition::TotalAbort)
    }
}

/// Where an exchange stands.
enum Stage {
    /// The license request was sent; the client's keys come next.
    Keys,
    /// The platform challenge was sent; its response comes next.
    Challenge { keys: crypto::SessionKeys, presented: Option<Vec<u8>> },
    /// Done, or failed.
    Over,
}

/// One client connection's licensing exchange.
///
/// Driving one exchange with a real client's licensing sequence (here
/// ironrdp-connector's, in process; a session host sends and receives
/// these messages inside MCS Send Data PDUs with a basic security header):
///
/// ```
/// use caldb::{ClientInfo, Database, Exchange, Step, report_logon};
/// # use ironrdp_connector::{LicenseCache, LicenseExchangeSequence, Sequence};
/// # use ironrdp_pdu::{mcs::{SendDataIndication, SendDataRequest}, x224::X224};
/// # use std::sync::Arc;
/// # #[derive(Debug)] struct NoStore;
/// # impl LicenseCache for NoStore {
/// #     fn get_license(&self, _: ironrdp_pdu::rdp::server_license::LicenseInformation) -> ironrdp_connector::ConnectorResult<Option<Vec<u8>>> { Ok(None) }
/// #     fn store_license(&self, _: ironrdp_pdu::rdp::server_license::LicenseInformation) -> ironrdp_connector::ConnectorResult<()> { Ok(()) }
/// # }
/// # let mut rdp = LicenseExchangeSequence::new(1003, "alice".into(), None, [1, 2, 3, 4], Arc::new(NoStore));
/// # let mut client_answers = |to_client: &[u8]| -> Vec<u8> {
/// #     let user_data = [&[0x80u8, 0, 0, 0][..], to_client].concat().into();
/// #     let frame = ironrdp_core::encode_vec(&X224(SendDataIndication { initiator_id: 1002, channel_id: 1003, user_data })).unwrap();
/// #     let mut out = ironrdp_core::WriteBuf::new();
/// #     rdp.step(&frame, None, &mut out).unwrap();
/// #     let request: X224<SendDataRequest<'_>> = ironrdp_core::decode(out.filled()).unwrap();
/// #     request.0.user_data[4..].to_vec()
/// # };
/// let mut db = Database::open_in_memory()?;
/// for s in ["SET CLOCK '2026-01-05 09:00:00'", "CREATE SERVER ls1 PRODUCT WS2022", "ACTIVATE SERVER ls1",
///           "CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE"] {
///     db.execute(s)?;
/// }
/// let client = ClientInfo { computer: "PC-ALPHA".into(), user: "alice".into(), domain: "CORP".into() };
/// let (mut exchange, mut to_client) = Exchange::begin(&mut db, "rdsh1", client)?;
/// let verdict = loop {
///     let from_client = client_answers(&to_client); // the client's next licensing message
///     match exchange.step(&mut db, &from_client)? {
///         Step::Send(next) => to_client = next,
///         Step::Done(verdict) => break verdict, // send verdict.reply: here a new license
///     }
/// };
/// assert_eq!((verdict.outcome.as_str(), verdict.licensed), ("temporary-issued", true));
/// report_logon(&mut db, &verdict, true)?; // the password was right: the temporary CAL is validated
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Exchange {
    host: String,
    client: ClientInfo,
    creds: Arc<credentials::Credentials>,
    server_random: [u8; 32],
    stage: Stage,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange").field("host", &self.host).field("client", &self.client).finish_non_exhaustive()
    }
}

impl Exchange {
    /// Starts the exchange for `host` (a session host in the database);
    /// returns the SERVER_LICENSE_REQUEST. The exchange uses the key of the
    /// license server the host would find now (or, when it finds none, the
    /// first server by name); the key is made the first time it is needed.
    pub fn begin(db: &mut Database, host: &str, client: ClientInfo) -> Result<(Exchange, Vec<u8>), FrontError> {
        let mut server_random = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut server_random);
        Exchange::start(db, host, client, server_random)
    }

    /// `begin` with a given server random, so that a client's recorded
    /// messages replay (benchmarks, fuzzing, tests). Never for a real
    /// connection: a repeated server random lets a recorded exchange be
    /// played again.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn begin_with_server_random(
        db: &mut Database,
        host: &str,
        client: ClientInfo,
        server_random: [u8; 32],
    ) -> Result<(Exchange, Vec<u8>), FrontError> {
        Exchange::start(db, host, client, server_random)
    }

    fn start(
        db: &mut Database,
        host: &str,
        client: ClientInfo,
        server_random: [u8; 32],
    ) -> Result<(Exchange, Vec<u8>), FrontError> {
        let server = db.front_server(host)?;
        let creds = credentials_of(db, &server)?;
        let request = wire::license_request(&server_random, &PRODUCT, &creds.chain, SCOPE);
        let exchange = Exchange { host: host.to_string(), client, creds, server_random, stage: Stage::Keys };
        Ok((exchange, request))
    }

    /// Feeds one client licensing message; returns what to send next. An
    /// error leaves the exchange over: send `FrontError::refusal` or close.
    pub fn step(&mut self, db: &mut Database, message: &[u8]) -> Result<Step, FrontError> {
        let stage = std::mem::replace(&mut self.stage, Stage::Over);
        let kind = wire::message_type(message)?;
        if kind == wire::msg::ERROR_ALERT {
            let (code, _) = wire::error_alert_fields(message)?;
            return Err(FrontError::ClientAlert { code });
        }
        match stage {
            Stage::Keys => self.keys(kind, message).map(Step::Send),
            Stage::Challenge { keys, presented } => self.response(db, message, kind, &keys, presented).map(Step::Done),
            Stage::Over => Err(FrontError::Finished),
        }
    }

    /// The client's first message: a new license request or the license it
    /// holds. Answers with the platform challenge.
    fn keys(&mut self, kind: u8, message: &[u8]) -> Result<Vec<u8>, FrontError> {
        let (exchange, presented) = match kind {
            wire::msg::NEW_LICENSE_REQUEST => (wire::new_license_request(message)?, None),
            wire::msg::LICENSE_INFO => {
                let info = wire::license_info_message(message)?;
                (info.keys, Some((info.cal.to_vec(), info.encrypted_hwid.to_vec(), info.mac.to_vec())))
            }
            other => return Err(unexpected(other, "a new license request or license info")),
        };
        let premaster = crypto::premaster(&self.creds.key, exchange.encrypted_premaster);
        let keys = crypto::derive(&premaster, exchange.client_random, &self.server_random);
        let presented = match presented {
            Some((cal, encrypted_hwid, mac)) => {
                let hwid = crypto::rc4(&keys.rc4_key, &encrypted_hwid);
                if crypto::mac(&keys.mac_salt, &hwid)[..] != mac[..] {
                    return Err(FrontError::Mac { message: "CLIENT_LICENSE_INFO" });
                }
                Some(cal)
            }
            None => None,
        };
        let encrypted = crypto::rc4(&keys.rc4_key, &CHALLENGE);
        let challenge = wire::platform_challenge(&encrypted, &crypto::mac(&keys.mac_salt, &CHALLENGE));
        self.stage = Stage::Challenge { keys, presented };
        Ok(challenge)
    }

    /// The platform challenge's response: the client's HWID, then the
    /// decision and the last message.
    fn response(
        &mut self,
        db: &mut Database,
        message: &[u8],
        kind: u8,
        keys: &crypto::SessionKeys,
        presented: Option<Vec<u8>>,
    ) -> Result<Verdict, FrontError> {
        if kind != wire::msg::PLATFORM_CHALLENGE_RESPONSE {
            return Err(unexpected(kind, "a platform challenge response"));
        }
        let r = wire::challenge_response(message)?;
        let response = crypto::rc4(&keys.rc4_key, r.encrypted_response);
        let hwid_bytes = crypto::rc4(&keys.rc4_key, r.encrypted_hwid);
        let signed = [&response[..], &hwid_bytes[..]].concat();
        if crypto::mac(&keys.mac_salt, &signed)[..] != r.mac[..] || !wire::answers_challenge(&response, &CHALLENGE) {
            return Err(FrontError::Mac { message: "CLIENT_PLATFORM_CHALLENGE_RESPONSE" });
        }
        let hwid = Hwid(hwid_bytes.as_slice().try_into().map_err(|_| FrontError::Malformed {
            message: "CLIENT_PLATFORM_CHALLENGE_RESPONSE",
            offset: 4,
            why: format!("the HWID is {} bytes, not 20", hwid_bytes.len()),
        })?);
        let presented = match presented {
            Some(bytes) => self.check_cal(db, &bytes, hwid)?,
            None => Presented::Nothing,
        };
        self.decide(db, hwid, presented, keys)
    }

    /// What a presented CAL is, checked against a read snapshot: nothing in
    /// it is trusted before its tag verifies under its server's secret.
    fn check_cal(&self, db: &mut Database, bytes: &[u8], hwid: Hwid) -> Result<Presented, FrontError> {
        let Some(server) = cal::server_of(bytes) else { return Ok(Presented::Invalid(Invalid::Unknown)) };
        let Some(rec) = db.front_credentials(&server)? else { return Ok(Presented::Invalid(Invalid::Unknown)) };
        let creds = credentials::cached(db, rec)?;
        let cal = match cal::verify(bytes, &creds) {
            Ok(cal) => cal,
            Err(cal::Untrusted::Tag) => return Ok(Presented::Invalid(Invalid::Tag)),
            Err(cal::Untrusted::Unreadable) => return Ok(Presented::Invalid(Invalid::Unknown)),
        };
        if cal.hwid != hwid {
            return Ok(Presented::Misplaced { license: cal.license, server: cal.server });
        }
        Ok(Presented::License {
            license: cal.license,
            server: cal.server,
            kind: cal.kind,
            product: cal.product,
            expires: cal.expires,
        })
    }

    /// Runs the decision (one CONNECT CLIENT statement) and builds the last
    /// message from its outcome.
    fn decide(
        &mut self,
        db: &mut Database,
        hwid: Hwid,
        presented: Presented,
        keys: &crypto::SessionKeys,
    ) -> Result<Verdict, FrontError> {
        let req = ClientConnect {
            hwid,
            computer: self.client.computer.clone(),
            user: self.client.user.clone(),
            host: self.host.clone(),
            presented,
        };
        let o = db.connect_client(&req)?;
        let issued = match (o.license.filter(|_| issues(o.reason)), &o.server) {
            (Some(number), Some(server)) => db.front_license(server, number)?,
            _ => None,
        };
        let reply = match (o.reason, issued) {
            (r, Some(l)) => {
                let creds = credentials_of(db, &l.server)?;
                let cal = cal::Cal {
                    license: l.number(),
                    server: l.server,
                    kind: l.kind,
                    product: l.product,
                    hwid: l.hwid,
                    issued: l.issued,
                    expires: l.expires,
                }
                .encode(&creds);
                let plain = wire::license_info(&PRODUCT, SCOPE, &cal);
                let encrypted = crypto::rc4(&keys.rc4_key, &plain);
                let upgrade = r != ReasonCode::TemporaryIssued;
                wire::new_license(upgrade, &encrypted, &crypto::mac(&keys.mac_salt, &plain))
            }
            (r, _) if r.accepted() => wire::error_alert(ErrorCode::ValidClient, Transition::NoTransition),
            (r, _) => wire::error_alert(denial_code(r), Transition::TotalAbort),
        };
        Ok(Verdict {
            reply,
            licensed: o.reason.accepted(),
            outcome: o.reason.as_str().to_string(),
            session: None,
            license: o.license,
            server: o.server.clone(),
            hwid,
            host: o.host.clone(),
            client: self.client.clone(),
        })
    }
}

use crate::protocol::Invalid;

/// The outcomes that give the client a CAL to store (protocol.md "Real
/// clients"): a new license for a temporary CAL, an upgrade license for a
/// permanent one.
fn issues(reason: ReasonCode) -> bool {
    matches!(reason, ReasonCode::TemporaryIssued | ReasonCode::Upgraded | ReasonCode::Renewed | ReasonCode::Reissued)
}

/// The licensing error code closest to a denial (docs/choices.md).
fn denial_code(reason: ReasonCode) -> ErrorCode {
    match reason {
        ReasonCode::NoLicenseServer | ReasonCode::ModeNotConfigured => ErrorCode::NoLicenseServer,
        ReasonCode::NotAuthorized => ErrorCode::InvalidClient,
        _ => ErrorCode::NoLicense,
    }
}

fn unexpected(kind: u8, expected: &str) -> FrontError {
    FrontError::Malformed {
        message: "licensing message",
        offset: 0,
        why: format!("type 0x{kind:02x}, expected {expected}"),
    }
}

/// A server's credentials, made and stored the first time they are asked
/// for, decoded once per handle (`credentials::Cache`). Made outside any
/// transaction (the key takes a while); if another handle stored some
/// meanwhile, those are kept and used.
fn credentials_of(db: &mut Database, server: &str) -> Result<Arc<credentials::Credentials>, FrontError> {
    if let Some(rec) = db.front_credentials(server)? {
        return credentials::cached(db, rec);
    }
    let source = match db.front_seed()? {
        Some(seed) => credentials::Source::Seeded(seed),
        None => credentials::Source::Os,
    };
    let made = credentials::make(server, source)?;
    let kept = db.front_store_credentials(made)?;
    credentials::cached(db, kept)
}

/// After the RDP logon: whether the user's password was accepted. Only a
/// successful logon validates the temporary CAL the client holds (seed
/// 000's guard), tracks a per-user CAL and starts the session; a failed one
/// changes nothing. Either is a statement in `history` (`LOGON CLIENT`).
/// Returns the session a successful logon started.
/// A refused client has no logon to report: nothing is recorded.
pub fn report_logon(db: &mut Database, verdict: &Verdict, succeeded: bool) -> Result<Option<u64>, FrontError> {
    if !verdict.licensed {
        return Ok(None);
    }
    let logon = ClientLogon {
        computer: verdict.client.computer.clone(),
        user: verdict.client.user.clone(),
        host: verdict.host.clone(),
        license: verdict.license.zip(verdict.server.clone()),
        failed: !succeeded,
    };
    Ok(db.logon_client(&logon)?)
}
