//! CONNECT: one connection of a device to a host, as one transaction
//! (protocol.md "CONNECT"; seed 000 figures 1 and 2, seeds 001 and 002).

use super::discovery::{Discovery, accepts, discover, end_grace, refused};
use super::issue::{free_slot, issue_permanent, issue_temporary, permanent_source, place_token, renew};
use super::sessions::{choose_farm_host, start_session};
use super::names::no_such_in;
use super::{Ctx, check_name};
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::*;

/// Which host a connection goes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Destination {
    /// This session host.
    Host(String),
    /// The session directory picks a host of the farm (seed 001).
    Farm(String),
}

/// One connection of a device to a host (CONNECT's parts).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectRequest {
    /// The connecting device's name.
    pub device: String,
    /// The user signing in.
    pub user: String,
    /// The host, or the farm whose session directory picks one.
    pub to: Destination,
    /// Remote Desktop for Administration (`mstsc /admin`): no CAL.
    pub admin: bool,
    /// The user's credentials were refused: licensing runs, nothing is
    /// validated and no session starts.
    pub logon_failed: bool,
}

/// A connection request that borrows its names from the CONNECT statement
/// that holds them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConnectTo<'a> {
    pub device: &'a str,
    pub user: &'a str,
    /// A host, or (`farm`) a farm whose session directory picks the host.
    pub to: &'a str,
    pub farm: bool,
    pub admin: bool,
    pub logon_failed: bool,
}

impl ConnectRequest {
    /// The request with its names borrowed.
    pub fn borrowed(&self) -> ConnectTo<'_> {
        let (to, farm) = match &self.to {
            Destination::Host(h) => (h.as_str(), false),
            Destination::Farm(f) => (f.as_str(), true),
        };
        ConnectTo {
            device: &self.device,
            user: &self.user,
            to,
            farm,
            admin: self.admin,
            logon_failed: self.logon_failed,
        }
    }
}

/// What a connection came to. A denial is an outcome, not an error.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Why it was accepted or denied (language.md's reason codes).
    pub reason: ReasonCode,
    /// The device that connected.
    pub device: String,
    /// The user who signed in.
    pub user: String,
    /// The host it reached (a farm's chosen host).
    pub host: String,
    /// The license server that decided, when one did.
    pub server: Option<String>,
    /// The license the device holds for this connection, if any: its
    /// number on `server` (each server numbers its own from 1).
    pub license: Option<u64>,
    /// That license's kind.
    pub kind: Option<LicenseKind>,
    /// When that license (or a per-user CAL) expires.
    pub expires: Option<Time>,
    /// The session the connection started or reconnected, if accepted.
    pub session: Option<u64>,
}

impl Outcome {
    /// Whether the connection was accepted.
    pub fn accepted(&self) -> bool {
        self.reason.accepted()
    }
}

/// The licensing part of an outcome, before logon and sessions.
pub(super) struct Licensed {
    pub(super) reason: ReasonCode,
    pub(super) server: Option<String>,
    /// The token the device holds for this connection, if any.
    pub(super) token: Option<TokenRec>,
    /// Expiry of a per-user CAL.
    pub(super) user_cal_expires: Option<Time>,
}

impl Licensed {
    fn bare(reason: ReasonCode, server: Option<String>) -> Licensed {
        Licensed { reason, server, token: None, user_cal_expires: None }
    }

    fn token(reason: ReasonCode, token: TokenRec) -> Licensed {
        Licensed { reason, server: Some(token.server.clone()), token: Some(token), user_cal_expires: None }
    }
}

pub fn connect(cx: &mut Ctx, req: &ConnectRequest) -> Result<Outcome> {
    connect_to(cx, req.borrowed())
}

/// `connect`, with the request's names borrowed.
pub fn connect_to(cx: &mut Ctx, req: ConnectTo<'_>) -> Result<Outcome> {
    check_name("user", req.user)?;
    let device = cx.tx.device(req.device)?.ok_or_else(|| no_such_in(&*cx.tx, "device", req.device))?;
    let host = match req.farm {
        false => cx.tx.host(req.to)?.ok_or_else(|| no_such_in(&*cx.tx, "host", req.to))?,
        true => choose_farm_host(cx, req.to, req.user)?,
    };
    if req.admin {
        return admin_connection(cx, &host, &device.name, req);
    }
    let lic = match host.mode {
        Mode::Unset => unset_mode(cx, &host)?,
        Mode::User => per_user(cx, &host, req.user, !req.logon_failed)?,
        Mode::Device => per_device(cx, &host, &device, req.user, !req.logon_failed)?,
    };
    let mut reason = lic.reason;
    let mut session = None;
    if reason.accepted() {
        if req.logon_failed {
            reason = ReasonCode::LogonFailed;
        } else {
            // A temporary license issued by this connection was issued
            // validated (`no_token`): nothing to validate.
            if let Some(t) = lic.token.as_ref().filter(|_| reason != ReasonCode::TemporaryIssued) {
                validate_after_logon(cx, t)?;
            }
            session = Some(start_session(cx, &host, &device.name, req.user, false)?);
        }
    }
    Ok(Outcome {
        reason,
        device: device.name,
        user: req.user.to_string(),
        host: host.name,
        server: lic.server,
        license: lic.token.as_ref().map(|t| keys::number(t.license)),
        kind: lic.token.as_ref().map(|t| t.kind),
        expires: lic.token.as_ref().map(|t| t.expires).or(lic.user_cal_expires),
        session,
    })
}

/// At most this many live Remote Desktop for Administration sessions on a
/// host (protocol.md "ADMIN").
pub const ADMIN_SESSIONS_MAX: usize = 2;

/// protocol.md "ADMIN": Remote Desktop for Administration needs no CAL. No
/// licensing runs (no discovery: the grace period is neither used nor
/// ended); a logon starts, or reconnects, the user's session on the host as
/// an admin one, up to two live admin sessions per host.
fn admin_connection(cx: &mut Ctx, host: &HostRec, device: &str, req: ConnectTo<'_>) -> Result<Outcome> {
    let outcome = |reason, session| Outcome {
        reason,
        device: device.to_string(),
        user: req.user.to_string(),
        host: host.name.clone(),
        server: None,
        license: None,
        kind: None,
        expires: None,
        session,
    };
    if req.logon_failed {
        return Ok(outcome(ReasonCode::LogonFailed, None));
    }
    let own = cx.tx.live_session(req.user, &host.name)?;
    if !own.is_some_and(|s| s.admin) && live_admin_sessions(cx, &host.name)? >= ADMIN_SESSIONS_MAX {
        return Ok(outcome(ReasonCode::AdminSessionsFull, None));
    }
    let session = start_session(cx, host, device, req.user, true)?;
    Ok(outcome(ReasonCode::Admin, Some(session)))
}

/// The live admin sessions on a host.
fn live_admin_sessions(cx: &Ctx, host: &str) -> Result<usize> {
    let mut ids = Vec::new();
    cx.tx.scan(T::IdxSessionLive, b"", None, &mut |_, v| {
        ids.push(codec::decode::<u64>(v)?);
        Ok(true)
    })?;
    let mut n = 0;
    for id in ids {
        n += usize::from(cx.tx.session(id)?.is_some_and(|s| s.admin && same_name(&s.host, host)));
    }
    Ok(n)
}

fn in_grace(cx: &Ctx, host: &HostRec) -> bool {
    cx.now < host.grace_ends
}

pub(super) fn unset_mode(cx: &mut Ctx, host: &HostRec) -> Result<Licensed> {
    if in_grace(cx, host) {
        return Ok(Licensed::bare(ReasonCode::GracePeriod, None));
    }
    let msg = "the licensing mode is not configured and the grace period has ended".to_string();
    cx.event(EventSource::Host, &host.name, 1069, EventLevel::Error, msg)?;
    Ok(Licensed::bare(ReasonCode::ModeNotConfigured, None))
}

/// No license server was found: accept in grace, else deny.
fn not_found(cx: &Ctx, host: &HostRec, d: &Discovery) -> Licensed {
    if in_grace(cx, host) {
        return Licensed::bare(ReasonCode::GracePeriod, None);
    }
    let reason = if d.refused { ReasonCode::NotAuthorized } else { ReasonCode::NoLicenseServer };
    Licensed::bare(reason, None)
}

/// seed 000 figure 1: the license server tracks the user's CAL and never
/// decrements a per-user pool. Only a successful logon is tracked: a
/// per-user CAL is stamped on the signed-in user's account, and a user whose
/// credentials were refused never signed in.
pub(super) fn per_user(cx: &mut Ctx, host: &HostRec, user: &str, logon_ok: bool) -> Result<Licensed> {
    let d = discover(cx, host)?;
    let Some(server) = &d.found else { return Ok(not_found(cx, host, &d)) };
    if !logon_ok {
        return Ok(Licensed::bare(ReasonCode::PerUser, Some(server.name.clone())));
    }
    let product = host.product.cal_product();
    let rec = match cx.tx.user_cal(&server.name, user, product)? {
        Some(mut u) if cx.now < u.expires => {
            if u.expires.0 - cx.now.0 <= USER_CAL_EXTEND_DAYS * SECONDS_PER_DAY {
                u.expires = cx.now.plus_days(USER_CAL_DAYS);
            }
            u
        }
        _ => UserCalRec {
            server: server.name.clone(),
            user: user.to_string(),
            product,
            issued: cx.now,
            expires: cx.now.plus_days(USER_CAL_DAYS),
        },
    };
    cx.tx.put_user_cal(&rec)?;
    let mut lic = Licensed::bare(ReasonCode::PerUser, Some(server.name.clone()));
    lic.user_cal_expires = Some(rec.expires);
    Ok(lic)
}

/// A per-user CAL is tracked for 60 days; a sign-in in its last 7 days
/// extends it.
pub const USER_CAL_DAYS: i64 = 60;
pub const USER_CAL_EXTEND_DAYS: i64 = 7;
/// A permanent CAL in its last 7 days may be renewed.
pub const RENEWAL_WINDOW_DAYS: i64 = 7;

/// The token the device presents to this host: permanent before temporary,
/// then the latest expiry; tokens of a product older than the host's are
/// not presented.
/// Its index in `tokens`: the caller takes it out rather than copy it.
fn presented_token(host: &HostRec, tokens: &[TokenRec]) -> Option<usize> {
    let accepted = tokens.iter().enumerate().filter(|(_, t)| host.product.host_accepts(t.product));
    accepted
        .max_by_key(|(_, t)| (t.kind == LicenseKind::Permanent, t.expires, std::cmp::Reverse(t.slot)))
        .map(|(i, _)| i)
}

fn per_device(cx: &mut Ctx, host: &HostRec, device: &DeviceRec, user: &str, logon_ok: bool) -> Result<Licensed> {
    let mut tokens = cx.tx.tokens(&device.name)?;
    let slot = free_slot(&tokens);
    let presented = presented_token(host, &tokens).map(|i| tokens.swap_remove(i));
    licensed(cx, host, device, user, logon_ok, presented, slot)
}

/// protocol.md CONNECT 3 for what the device presents: no token (case A),
/// a temporary one (B) or a permanent one (C). The token is a `tokens` row
/// here; a real client's CAL, once its licensing front has verified it, is
/// handed in the same way, so both go through the same decisions.
/// `free_slot`: where a new token goes when none is presented.
pub(super) fn licensed(
    cx: &mut Ctx,
    host: &HostRec,
    device: &DeviceRec,
    user: &str,
    logon_ok: bool,
    presented: Option<TokenRec>,
    free_slot: u32,
) -> Result<Licensed> {
    match presented {
        None => no_token(cx, host, device, user, logon_ok, free_slot),
        Some(t) if t.kind == LicenseKind::Temporary => temporary_token(cx, host, device, user, t),
        Some(t) => permanent_token(cx, host, device, user, t),
    }
}

/// Case A: the device holds no token this host accepts.
/// The logon that follows in the same transaction validates the new license
/// (its issuing server was just found online), so it is issued validated
/// rather than written twice.
/// `slot`: the device's lowest free token slot.
fn no_token(
    cx: &mut Ctx,
    host: &HostRec,
    device: &DeviceRec,
    user: &str,
    logon_ok: bool,
    slot: u32,
) -> Result<Licensed> {
    let d = discover(cx, host)?;
    let Some(server) = d.found else { return Ok(not_found(cx, host, &d)) };
    let license = issue_temporary(cx, &server, host, device, user, logon_ok)?;
    let token = place_token(cx, &device.name, slot, license, &server)?;
    Ok(Licensed::token(ReasonCode::TemporaryIssued, token))
}

fn expired(cx: &Ctx, t: &TokenRec) -> bool {
    cx.now >= t.expires
}

/// The license row behind a token, if its server still knows it (the same
/// id on the same server for the same HWID: after a rebuild the id may name
/// another license). CONNECT and SHOW DEVICE both ask this.
pub fn license_of(r: &(impl Reader + ?Sized), t: &TokenRec) -> Result<Option<LicenseRec>> {
    Ok(r.license(t.license)?.filter(|l| same_name(&l.server, &t.server) && l.hwid == t.hwid))
}

/// A denial caused by an expired temporary CAL (`temporary-expired`, or
/// `no-license` when no permanent CAL could replace it): host event 1011
/// either way.
fn temporary_expired(cx: &mut Ctx, host: &HostRec, t: TokenRec, reason: ReasonCode) -> Result<Licensed> {
    let msg = format!("the temporary license of '{}' has expired", t.computer);
    cx.event(EventSource::Host, &host.name, 1011, EventLevel::Error, msg)?;
    Ok(Licensed::token(reason, t))
}

/// Case B: a temporary token. Only a validated one (its user logged on
/// successfully) is upgraded: seed 000's guard against exhausting the pool.
fn temporary_token(cx: &mut Ctx, host: &HostRec, device: &DeviceRec, user: &str, t: TokenRec) -> Result<Licensed> {
    let d = discover(cx, host)?;
    // Read once: neither discovery nor the choice of a key pack writes a
    // license.
    let stored = license_of(&*cx.tx, &t)?;
    let validated = stored.as_ref().is_some_and(|l| l.validated);
    let Some(found) = d.found.filter(|_| validated) else {
        if expired(cx, &t) {
            return temporary_expired(cx, host, t, ReasonCode::TemporaryExpired);
        }
        return Ok(Licensed::token(ReasonCode::TemporaryValid, t));
    };
    match permanent_source(cx, &found, host)? {
        Some((server, mut pack)) => {
            // An expired temporary license is upgraded too: the permanent
            // CAL replaces it whatever the clock did to it.
            if let Some(old) = stored
                && matches!(old.status, LicenseStatus::Temporary | LicenseStatus::Expired)
            {
                let mut new = old.clone();
                new.status = LicenseStatus::Upgraded;
                cx.tx.rewrite_license(Some(&old), &new)?;
                super::time::release_from_pool(cx, old.keypack, old.status)?;
                if old.keypack == pack.id {
                    pack = cx.tx.keypack(pack.id)?.ok_or_else(|| Error::Storage("key pack vanished".into()))?;
                }
            }
            let license = issue_permanent(cx, &server, pack, device, user)?;
            let token = place_token(cx, &device.name, t.slot, license, &server)?;
            Ok(Licensed::token(ReasonCode::Upgraded, token))
        }
        None => {
            no_permanent_event(cx, &found, host)?;
            if expired(cx, &t) {
                let mut lic = temporary_expired(cx, host, t, ReasonCode::NoLicense)?;
                lic.server = Some(found.name.clone());
                return Ok(lic);
            }
            Ok(Licensed::token(ReasonCode::TemporaryValid, t))
        }
    }
}

fn no_permanent_event(cx: &mut Ctx, server: &ServerRec, host: &HostRec) -> Result<()> {
    let msg =
        format!("no permanent {} per-device CAL is available for host '{}'", host.product.cal_product(), host.name);
    cx.event(EventSource::LicenseServer, &server.name, 21, EventLevel::Warning, msg)
}

/// Case C: a permanent token.
fn permanent_token(cx: &mut Ctx, host: &HostRec, device: &DeviceRec, user: &str, t: TokenRec) -> Result<Licensed> {
    if expired(cx, &t) {
        return expired_permanent(cx, host, device, user, t);
    }
    if t.expires.0 - cx.now.0 > RENEWAL_WINDOW_DAYS * SECONDS_PER_DAY {
        return Ok(Licensed::token(ReasonCode::Valid, t));
    }
    let issuing = cx.tx.server(&t.server)?.filter(|s| s.online);
    let Some(issuing) = issuing else { return Ok(Licensed::token(ReasonCode::Valid, t)) };
    // Its security group applies to a renewal as to a discovery: a refused
    // host keeps the CAL it has until it expires.
    if !accepts(&issuing, &host.name) {
        refused(cx, &issuing, host)?;
        return Ok(Licensed::token(ReasonCode::Valid, t));
    }
    end_grace(cx, host, &issuing)?;
    let current = current_license(cx, &issuing.name, &device.hwid, t.product)?;
    // The token's license is renewable when it is the current one: then
    // it is the record just read (`license_of` would read it again).
    let renewable = current
        .filter(|c| c.id == t.license && same_name(&c.server, &t.server) && c.hwid == t.hwid && c.status == LicenseStatus::Active);
    if let Some(license) = renewable {
        let license = renew(cx, &license)?;
        let token = place_token(cx, &device.name, t.slot, license, &issuing)?;
        return Ok(Licensed::token(ReasonCode::Renewed, token));
    }
    // Revoked, unknown after a rebuild, or made stale by a clone: reissue.
    match reissue(cx, host, device, user, t.slot)? {
        Reissue::Token(token) => Ok(Licensed::token(ReasonCode::Reissued, token)),
        Reissue::NoCal { .. } => Ok(Licensed::token(ReasonCode::Valid, t)),
    }
}

/// What a reissue from what discovery finds gave.
enum Reissue {
    Token(TokenRec),
    /// No permanent CAL: the server discovery found, if any (event 21 is
    /// logged on it).
    NoCal {
        found: Option<String>,
    },
}

/// Issues a permanent CAL into the token's slot from the server discovery
/// finds, or from a peer of it.
fn reissue(cx: &mut Ctx, host: &HostRec, device: &DeviceRec, user: &str, slot: u32) -> Result<Reissue> {
    let Some(found) = discover(cx, host)?.found else { return Ok(Reissue::NoCal { found: None }) };
    if let Some((server, pack)) = permanent_source(cx, &found, host)? {
        let license = issue_permanent(cx, &server, pack, device, user)?;
        return place_token(cx, &device.name, slot, license, &server).map(Reissue::Token);
    }
    no_permanent_event(cx, &found, host)?;
    Ok(Reissue::NoCal { found: Some(found.name) })
}

/// An expired permanent token: reissue, or deny. A device that has held a
/// permanent CAL never gets a temporary one again.
fn expired_permanent(cx: &mut Ctx, host: &HostRec, device: &DeviceRec, user: &str, t: TokenRec) -> Result<Licensed> {
    let found = match reissue(cx, host, device, user, t.slot)? {
        Reissue::Token(token) => return Ok(Licensed::token(ReasonCode::Reissued, token)),
        Reissue::NoCal { found } => found,
    };
    let msg = format!("the permanent license of '{}' has expired and could not be renewed", device.name);
    cx.event(EventSource::Host, &host.name, 1028, EventLevel::Error, msg)?;
    let mut lic = Licensed::token(ReasonCode::CannotRenew, t);
    lic.server = found;
    Ok(lic)
}

/// The HWID's current license of a product on a server: the one most
/// recently issued to that HWID there. Per product, as the real server keeps
/// one CAL per product version for a client: a device's temporary CAL of a
/// newer product does not make its permanent CAL of an older one stale.
fn current_license(cx: &Ctx, server: &str, hwid: &Hwid, product: Product) -> Result<Option<LicenseRec>> {
    for id in cx.tx.licenses_of_hwid(hwid)?.into_iter().rev() {
        if let Some(l) = cx.tx.license(id)?
            && same_name(&l.server, server)
            && l.product == product
        {
            return Ok(Some(l));
        }
    }
    Ok(None)
}

/// After a successful logon, the temporary license is marked validated,
/// when its issuing license server is online.
pub(super) fn validate_after_logon(cx: &mut Ctx, t: &TokenRec) -> Result<()> {
    if t.kind != LicenseKind::Temporary {
        return Ok(());
    }
    if !cx.tx.server(&t.server)?.is_some_and(|s| s.online) {
        return Ok(());
    }
    if let Some(mut l) = license_of(&*cx.tx, t)?
        && !l.validated
        && l.status == LicenseStatus::Temporary
    {
        l.validated = true;
        cx.tx.put_license(&l)?;
    }
    Ok(())
}
