//! SHOW DEVICE (what TSCTST.EXE /A shows for each stored token) and SHOW
//! HOST (a licensing diagnosis, as the RD Licensing Diagnoser gives).
//! Read-only: discovery here is simulated, it logs no event.

use crate::error::Result;
use crate::model::*;
use crate::protocol::connect::{RENEWAL_WINDOW_DAYS, license_of};
use crate::protocol::discovery::{Verdict, decide};
use crate::protocol::issue::pack_serves;
use crate::protocol::names::no_such_in;
use crate::store::*;

pub fn show_device(r: &(impl Reader + ?Sized), name: &str, now: Time) -> Result<ResultSet> {
    let d = r.device(name)?.ok_or_else(|| no_such_in(r, "device", name))?;
    let mut rs = ResultSet::new(&[
        "token",
        "issuer",
        "scope",
        "issued_to_computer",
        "issued_to_user",
        "license",
        "type",
        "version",
        "valid_from",
        "expires_on",
        "hardware_id",
        "server_certificate_version",
        "client_platform_id",
        "company_name",
        "state",
    ]);
    for t in r.tokens(&d.name)? {
        // TSCTST /A's fields: what the issuing server's certificate and the
        // client's hardware id say (NULL once the server is gone).
        let certificate = r.server(&t.server)?.map(|s| Value::text(s.product.nt_version()));
        rs.push(vec![
            Value::text(format!("LICENSE{:03}", t.slot)),
            Value::text(t.server.as_str()),
            Value::text(t.scope.as_str()),
            Value::text(t.computer.as_str()),
            Value::text(t.user.as_str()),
            Value::Int(crate::store::keys::number(t.license) as i64),
            Value::text(t.kind.as_str()),
            Value::text(t.product.as_str()),
            Value::Time(t.issued),
            Value::Time(t.expires),
            Value::text(t.hwid.to_string()),
            certificate.unwrap_or(Value::Null),
            Value::text(t.hwid.platform_id()),
            Value::text(COMPANY_NAME),
            Value::text(token_state(r, &d, &t, now)?),
        ]);
    }
    Ok(rs)
}

/// The company a Microsoft license server's CALs name (their product info).
const COMPANY_NAME: &str = "Microsoft Corporation";

/// How the token stands: against the clock, the device's HWID and the
/// issuing server's database.
fn token_state(r: &(impl Reader + ?Sized), d: &DeviceRec, t: &TokenRec, now: Time) -> Result<String> {
    if now >= t.expires {
        return Ok("expired".into());
    }
    let license = license_of(r, t)?;
    let Some(l) = license else { return Ok("unknown to its license server".into()) };
    if l.hwid != d.hwid {
        return Ok(format!("issued to HWID {}, not this device's", l.hwid));
    }
    let window = t.expires.0 - now.0 <= RENEWAL_WINDOW_DAYS * SECONDS_PER_DAY;
    Ok(match (l.status, window) {
        (LicenseStatus::Revoked, _) => "revoked on its license server".into(),
        (LicenseStatus::Temporary, _) if l.validated => "temporary, validated: upgrades at next connection".into(),
        (LicenseStatus::Temporary, _) => "temporary, not validated".into(),
        (LicenseStatus::Active, true) => "valid, in its renewal window".into(),
        (s, _) => s.as_str().into(),
    })
}

struct Diagnosis {
    rs: ResultSet,
}

impl Diagnosis {
    fn add(&mut self, item: &str, value: String, detail: String) {
        self.rs.push(vec![Value::text(item), Value::Text(value), Value::Text(detail)]);
    }
}

pub fn show_host(r: &(impl Reader + ?Sized), name: &str, now: Time) -> Result<ResultSet> {
    let h = r.host(name)?.ok_or_else(|| no_such_in(r, "host", name))?;
    let mut d = Diagnosis { rs: ResultSet::new(&["item", "value", "detail"]) };
    d.add("product", h.product.to_string(), format!("takes {} CALs or newer", h.product.cal_product()));
    d.add("mode", h.mode.to_string(), String::new());
    let grace_days = (h.grace_ends.0 - now.0).max(0) / SECONDS_PER_DAY;
    let grace = if now < h.grace_ends {
        (format!("{grace_days} days left"), format!("ends {}", h.grace_ends))
    } else {
        ("ended".to_string(), format!("ended {}", h.grace_ends))
    };
    d.add("grace period", grace.0, grace.1);
    let order = if h.license_servers.is_empty() {
        format!("every server of scope '{}', by name", h.scope)
    } else {
        format!("its list: {}", h.license_servers.join(", "))
    };
    d.add("discovery", order, String::new());
    let found = diagnose_servers(r, &h, &mut d)?;
    diagnose_problems(r, &h, found.as_ref(), now, &mut d)?;
    Ok(d.rs)
}

fn diagnose_servers(r: &(impl Reader + ?Sized), h: &HostRec, d: &mut Diagnosis) -> Result<Option<ServerRec>> {
    let mut found: Option<ServerRec> = None;
    for (name, s, verdict) in decide(r, h)? {
        let verdict = match (verdict, s) {
            (Verdict::Missing, _) => "not usable: no such server".to_string(),
            (Verdict::Offline, _) => "not usable: offline".to_string(),
            (Verdict::Refused, _) => "not usable: the host is not in its security group (event 4141)".into(),
            (Verdict::After, _) => format!("usable, after {}", found.as_ref().map_or("", |f| &f.name)),
            (Verdict::Found, s) => {
                let activated = s.as_ref().is_some_and(|s| s.activated);
                found = s;
                if activated { "found: activated".into() } else { "found: not activated (temporary CALs only)".into() }
            }
        };
        d.add("license server", name, verdict);
    }
    Ok(found)
}

fn diagnose_problems(
    r: &(impl Reader + ?Sized),
    h: &HostRec,
    found: Option<&ServerRec>,
    now: Time,
    d: &mut Diagnosis,
) -> Result<()> {
    let mut problems = Vec::new();
    if h.mode == Mode::Unset {
        problems.push(("the licensing mode is not configured", "SET HOST name MODE DEVICE or USER"));
    }
    if found.is_none() {
        problems.push((
            "no license server can be found",
            "bring a server online, add the host to its security group, or set the host's LICENSE SERVERS",
        ));
    }
    if let Some(s) = found {
        let cal = h.product.cal_product();
        let mut available = 0u64;
        for k in r.keypacks()? {
            if pack_serves(&k, s, h.product, now) {
                available += k.available().unwrap_or(0);
            }
        }
        let which = if s.prevent_upgrade { "only (Prevent License Upgrade)" } else { "or newer" };
        d.add("compatible device CALs", available.to_string(), format!("on '{}', {cal} {which}", s.name));
        if h.mode == Mode::Device && !s.activated {
            problems.push(("the license server is not activated: it issues temporary CALs only", "ACTIVATE SERVER"));
        }
        if h.mode == Mode::Device && available == 0 {
            problems.push((
                "no compatible per-device CAL is available on the found server",
                if s.prevent_upgrade {
                    "INSTALL KEYPACK of the host's product (Prevent License Upgrade is on)"
                } else {
                    "INSTALL KEYPACK of the host's product or newer"
                },
            ));
        }
    }
    if problems.is_empty() {
        d.add("problems", "none".into(), String::new());
    }
    for (p, fix) in problems {
        d.add("problem", p.into(), format!("fix: {fix}"));
    }
    Ok(())
}

/// SHOW CLOCK: one row (`now`: the statement's instant, `clock`:
/// `simulated` or `wall`, `seed`): every result depends on these.
pub fn show_clock(r: &(impl Reader + ?Sized), now: Time) -> Result<ResultSet> {
    let state = r.state()?;
    let mut rs = ResultSet::new(&["now", "clock", "seed"]);
    let clock = if state.clock.is_some() { "simulated" } else { "wall" };
    rs.push(vec![Value::Time(now), Value::text(clock), Value::Int(state.seed as i64)]);
    Ok(rs)
}
