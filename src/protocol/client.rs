//! A real RDP client's connection (protocol.md "Real clients"): the
//! decision CONNECT makes for a client the licensing front has heard,
//! known by its HWID and the computer name its connection carries, with
//! the CAL it presented already checked (its tag, its HWID), and the logon
//! the session host reports afterwards. The client's store is on the
//! client: no `tokens` row is written. Every input is a value the statement
//! text carries, so replaying `history` gives the same database without
//! any of the exchange's cryptography.

use super::connect::{Licensed, Outcome, licensed, per_user, unset_mode, validate_after_logon};
use super::sessions::start_session;
use super::{Ctx, check_name, no_such};
use crate::error::Result;
use crate::model::*;
use crate::store::*;

/// Why a presented CAL was not taken as a license.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Its tag does not verify under its server's secret (tampered).
    Tag,
    /// Not a CAL caldb can read, or its server is not in the database.
    Unknown,
}

impl Invalid {
    /// The word the statement uses (`PRESENTING INVALID 'tag'`).
    pub fn as_str(self) -> &'static str {
        match self {
            Invalid::Tag => "tag",
            Invalid::Unknown => "unknown",
        }
    }
}

/// What the client presented, after the licensing front checked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented {
    /// No CAL: a new license request.
    Nothing,
    /// A CAL whose tag verified and whose HWID is the client's.
    License { license: u64, server: String, kind: LicenseKind, product: Product, expires: Time },
    /// A CAL whose tag verified, issued to another HWID (a CAL copied to
    /// another machine: seed 002).
    Misplaced { license: u64, server: String },
    /// A CAL that is not trusted.
    Invalid(Invalid),
}

/// A real client's connection to a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConnect {
    pub hwid: Hwid,
    /// The computer name the connection carries.
    pub computer: String,
    pub user: String,
    pub host: String,
    pub presented: Presented,
}

/// The logon that followed a real client's licensing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientLogon {
    pub computer: String,
    pub user: String,
    pub host: String,
    /// The license the client holds after licensing, if any: its number
    /// on its server.
    pub license: Option<(u64, String)>,
    /// The password was refused: nothing is validated, no session starts.
    pub failed: bool,
}

/// The licensing decision for a real client (CONNECT 1-3), before logon:
/// nothing is validated and no session starts here (`logon_client` does
/// that once the session host knows the password was right). An untrusted
/// or misplaced CAL counts as none presented, and is logged on the host.
pub fn connect_client(cx: &mut Ctx, req: &ClientConnect) -> Result<Outcome> {
    check_name("user", &req.user)?;
    check_name("computer", &req.computer)?;
    let host = cx.tx.host(&req.host)?.ok_or_else(|| no_such("host", &req.host))?;
    let device = DeviceRec { name: req.computer.clone(), hwid: req.hwid, created: cx.now };
    let token = presented_token(cx, &host, req)?;
    cx.client_store = true;
    let lic = match host.mode {
        Mode::Unset => unset_mode(cx, &host),
        Mode::User => per_user(cx, &host, &req.user, false),
        Mode::Device => licensed(cx, &host, &device, &req.user, false, token, 0),
    };
    cx.client_store = false;
    Ok(outcome(lic?, req, host.name))
}

fn outcome(lic: Licensed, req: &ClientConnect, host: String) -> Outcome {
    Outcome {
        reason: lic.reason,
        device: req.computer.clone(),
        user: req.user.clone(),
        host,
        license: lic.token.as_ref().map(|t| keys::number(t.license)),
        kind: lic.token.as_ref().map(|t| t.kind),
        expires: lic.token.as_ref().map(|t| t.expires).or(lic.user_cal_expires),
        server: lic.server,
        session: None,
    }
}

/// The token the client's CAL stands for, if it presents one this host
/// accepts (a CAL of an older product than the host's is not presented).
fn presented_token(cx: &mut Ctx, host: &HostRec, req: &ClientConnect) -> Result<Option<TokenRec>> {
    let token = |license, server: &str, kind, product, expires| TokenRec {
        device: req.computer.clone(),
        slot: 0,
        license,
        server: server.to_string(),
        scope: String::new(),
        kind,
        product,
        computer: req.computer.clone(),
        user: req.user.clone(),
        issued: expires,
        expires,
        hwid: req.hwid,
    };
    let why = match &req.presented {
        Presented::Nothing => return Ok(None),
        Presented::License { license, server, kind, product, expires } => match row_of(cx, server, *license)? {
            Some(row) => {
                let t = token(row, server, *kind, *product, *expires);
                return Ok(Some(t).filter(|t| host.product.host_accepts(t.product)));
            }
            None => format!("a license presented by '{}' (HWID {}) names server '{server}', which is not here", req.computer, req.hwid),
        },
        Presented::Misplaced { license, server } => misplaced_message(*license, server, &req.computer, &req.hwid),
        Presented::Invalid(Invalid::Tag) => {
            format!("a license presented by '{}' (HWID {}) failed its tag check", req.computer, req.hwid)
        }
        Presented::Invalid(Invalid::Unknown) => {
            format!("a license presented by '{}' (HWID {}) names no license server caldb knows", req.computer, req.hwid)
        }
    };
    cx.event(EventSource::Host, &host.name, 0, EventLevel::Warning, why)?;
    Ok(None)
}

/// The logon after a real client's licensing. A successful one validates
/// the client's temporary license (seed 000's guard: only then), tracks a
/// per-user CAL and starts (or reconnects) the user's session, whose id it
/// returns; a failed one changes nothing.
pub fn logon_client(cx: &mut Ctx, req: &ClientLogon) -> Result<Option<u64>> {
    check_name("user", &req.user)?;
    check_name("computer", &req.computer)?;
    let host = cx.tx.host(&req.host)?.ok_or_else(|| no_such("host", &req.host))?;
    if req.failed {
        return Ok(None);
    }
    let row = match &req.license {
        Some((number, server)) => row_of(cx, server, *number)?,
        None => None,
    };
    if let Some(l) = row.map(|id| cx.tx.license(id)).transpose()?.flatten() {
        validate_after_logon(cx, &super::issue::token_of(&req.computer, 0, String::new(), &l))?;
    }
    if host.mode == Mode::User {
        per_user(cx, &host, &req.user, true)?;
    }
    start_session(cx, &host, &req.computer, &req.user, false).map(Some)
}

const MISPLACED_TAIL: &str = "), not the client it was issued to";

/// The host event of a CAL presented by a machine it was not issued to;
/// REPORT DUPLICATES reads it back with `misplaced_of`.
fn misplaced_message(license: u64, server: &str, computer: &str, hwid: &Hwid) -> String {
    format!("license {license} of server '{server}' was presented by '{computer}' (HWID {hwid}{MISPLACED_TAIL}")
}

/// A CAL presented by another machine, as its host event tells it: the
/// license, its server, the presenting computer and HWID.
pub struct Misplaced {
    pub license: u64,
    pub server: String,
    pub computer: String,
    pub hwid: Hwid,
}

/// Reads back `misplaced_message` (`None` for any other event text).
pub fn misplaced_of(message: &str) -> Option<Misplaced> {
    let rest = message.strip_prefix("license ")?.strip_suffix(MISPLACED_TAIL)?;
    let (license, rest) = rest.split_once(" of server '")?;
    let (server, rest) = rest.split_once("' was presented by '")?;
    let (computer, hwid) = rest.rsplit_once("' (HWID ")?;
    Some(Misplaced { license: license.parse().ok()?, server: server.into(), computer: computer.into(), hwid: Hwid::parse(hwid)? })
}

/// Which client family a HWID's shape points to (rdpele.md, last section),
/// given the computer name the connection carried: FreeRDP sends platform
/// 0x04010000 and MD5 of its host name, IronRDP the same platform with the
/// words its application passes (zeros by default), rdesktop 0x00000002
/// and its host name as text. `None` for any other shape (a simulated
/// device's random HWID, Windows).
pub fn client_family(hwid: &Hwid, computer: &str) -> Option<String> {
    use md5::{Digest, Md5};
    let (platform, body) = hwid.0.split_at(4);
    if platform == [0, 0, 1, 4] {
        if body.iter().all(|b| *b == 0) {
            return Some("IronRDP (its default HWID: platform 0x04010000, zeros)".into());
        }
        let named = |n: &str| Md5::digest(n.as_bytes())[..] == *body;
        if named(computer) || named(&computer.to_lowercase()) {
            return Some(format!("FreeRDP (platform 0x04010000 and MD5 of the host name '{computer}')"));
        }
        return Some("FreeRDP or IronRDP (platform 0x04010000, an MD5 or application-given body)".into());
    }
    if platform == [2, 0, 0, 0] {
        let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
        if end > 0 && body[..end].iter().all(|b| b.is_ascii_graphic()) {
            let name = String::from_utf8_lossy(&body[..end]);
            return Some(format!("rdesktop (platform 0x00000002 and the host name '{name}' as text)"));
        }
    }
    None
}

/// The stored id of license `number` of `server` (each server numbers its
/// own from 1), whether or not the license is still there (a CAL from
/// before a rebuild names one that is not); `None` for a server the
/// database does not hold.
fn row_of(cx: &mut Ctx, server: &str, number: u64) -> Result<Option<u64>> {
    let Some(s) = cx.tx.record::<ServerRec>(T::Servers, &keys::name(server))? else { return Ok(None) };
    Ok(u32::try_from(number).ok().map(|n| keys::row_id(s.ordinal, n)))
}
