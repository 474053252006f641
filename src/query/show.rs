//! SHOW DEVICE (what TSCTST.EXE /A shows for each stored token) and SHOW
//! HOST (a licensing diagnosis, as the RD Licensing Diagnoser gives).
//! Read-only: discovery here is simulated, it logs no event.

use crate::error::Result;
use crate::model::*;
use crate::protocol::connect::RENEWAL_WINDOW_DAYS;
use crate::protocol::discovery::accepts;
use crate::protocol::no_such;
use crate::store::*;

pub fn show_device(r: &(impl Reader + ?Sized), name: &str, now: Time) -> Result<ResultSet> {
    let d = r.device(name)?.ok_or_else(|| no_such("device", name))?;
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
        "state",
    ]);
    for t in r.tokens(&d.name)? {
        rs.push(vec![
            Value::text(format!("LICENSE{:03}", t.slot)),
            Value::text(t.server.as_str()),
            Value::text(t.scope.as_str()),
            Value::text(t.computer.as_str()),
            Value::text(t.user.as_str()),
            Value::Int(t.license as i64),
            Value::text(t.kind.as_str()),
            Value::text(t.product.as_str()),
            Value::Time(t.issued),
            Value::Time(t.expires),
            Value::text(t.hwid.to_string()),
            Value::text(token_state(r, &d, &t, now)?),
        ]);
    }
    Ok(rs)
}

/// How the token stands: against the clock, the device's HWID and the
/// issuing server's database.
fn token_state(r: &(impl Reader + ?Sized), d: &DeviceRec, t: &TokenRec, now: Time) -> Result<String> {
    if now >= t.expires {
        return Ok("expired".into());
    }
    let license = r.license(t.license)?.filter(|l| l.server == t.server && l.hwid == t.hwid);
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
    let h = r.host(name)?.ok_or_else(|| no_such("host", name))?;
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

fn candidates(r: &(impl Reader + ?Sized), h: &HostRec) -> Result<Vec<(String, Option<ServerRec>)>> {
    if h.license_servers.is_empty() {
        return Ok(r
            .servers()?
            .into_iter()
            .filter(|s| s.scope == h.scope)
            .map(|s| (s.name.clone(), Some(s)))
            .collect());
    }
    h.license_servers.iter().map(|n| Ok((n.clone(), r.server(n)?))).collect()
}

fn diagnose_servers(r: &(impl Reader + ?Sized), h: &HostRec, d: &mut Diagnosis) -> Result<Option<ServerRec>> {
    let mut found = None;
    for (name, s) in candidates(r, h)? {
        let verdict = match &s {
            None => "not usable: no such server".to_string(),
            Some(s) if !s.online => "not usable: offline".to_string(),
            Some(s) if !accepts(s, &h.name) => "not usable: the host is not in its security group (event 4141)".into(),
            Some(s) if found.is_some() => {
                format!("usable, after {}", found.as_ref().map_or("", |f: &ServerRec| &f.name))
            }
            Some(s) => {
                found = Some(s.clone());
                if s.activated {
                    "found: activated".into()
                } else {
                    "found: not activated (temporary CALs only)".into()
                }
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
            let ok = k.server == s.name
                && k.cal == CalType::Device
                && k.kind != KeypackType::Temporary
                && k.expires.is_none_or(|e| e > now)
                && h.product.host_accepts(k.product);
            if ok {
                available += k.available().unwrap_or(0);
            }
        }
        d.add("compatible device CALs", available.to_string(), format!("on '{}', {cal} or newer", s.name));
        if h.mode == Mode::Device && !s.activated {
            problems.push(("the license server is not activated: it issues temporary CALs only", "ACTIVATE SERVER"));
        }
        if h.mode == Mode::Device && available == 0 {
            problems.push((
                "no compatible per-device CAL is available on the found server",
                "INSTALL KEYPACK of the host's product or newer",
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
