//! How a host finds a license server (protocol.md "Discovery").

use super::Ctx;
use crate::error::Result;
use crate::model::*;
use crate::store::*;

/// What a discovery came to.
pub struct Discovery {
    pub found: Option<ServerRec>,
    /// Some online server refused the host (its security group).
    pub refused: bool,
}

/// What discovery makes of one candidate server.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The host's list names a server that does not exist.
    Missing,
    Offline,
    /// Its security group refuses the host (event 4141 when asked).
    Refused,
    /// The first online server that accepts the host.
    Found,
    /// Online and accepting, but asked only if the found one were not.
    After,
}

/// The decision of discovery, with no effect: each candidate in the order
/// the host asks them (`candidates`) and its verdict. CONNECT's `discover`
/// carries it out; SHOW HOST shows it.
pub fn decide(r: &(impl Reader + ?Sized), host: &HostRec) -> Result<Vec<(String, Option<ServerRec>, Verdict)>> {
    let mut found = false;
    let mut out = Vec::new();
    for (name, s) in candidates(r, host)? {
        let verdict = match &s {
            None => Verdict::Missing,
            Some(s) if !s.online => Verdict::Offline,
            Some(s) if !accepts(s, &host.name) => Verdict::Refused,
            Some(_) if found => Verdict::After,
            Some(_) => {
                found = true;
                Verdict::Found
            }
        };
        out.push((name, s, verdict));
    }
    Ok(out)
}

/// The host's own list in order; only if it is empty, every server of the
/// host's scope by name. The first online server that accepts the host is
/// found (ending the host's grace period); each refusal asked before it is
/// event 4141 on the refusing server.
pub fn discover(cx: &mut Ctx, host: &HostRec) -> Result<Discovery> {
    let mut refused = false;
    for (_, s, verdict) in decide(&*cx.tx, host)? {
        match (verdict, s) {
            (Verdict::Found, Some(s)) => {
                end_grace(cx, host, &s)?;
                return Ok(Discovery { found: Some(s), refused });
            }
            (Verdict::Refused, Some(s)) => {
                refused = true;
                self::refused(cx, &s, host)?;
            }
            _ => {}
        }
    }
    Ok(Discovery { found: None, refused })
}

/// A server's security group refused a host: event 4141 on that server.
pub fn refused(cx: &mut Ctx, server: &ServerRec, host: &HostRec) -> Result<()> {
    let msg = format!("host '{}' is not in the license server's security group", host.name);
    cx.event(EventSource::LicenseServer, &server.name, 4141, EventLevel::Warning, msg)
}

/// The servers a host asks, in order, by name, with the record of each
/// that exists: its own list; only if that is empty, every server of its
/// scope by name. CONNECT's discovery and SHOW HOST's diagnosis both walk it.
pub fn candidates(r: &(impl Reader + ?Sized), host: &HostRec) -> Result<Vec<(String, Option<ServerRec>)>> {
    if host.license_servers.is_empty() {
        let in_scope = r.servers()?.into_iter().filter(|s| same_name(&s.scope, &host.scope));
        return Ok(in_scope.map(|s| (s.name.clone(), Some(s))).collect());
    }
    host.license_servers.iter().map(|n| Ok((n.clone(), r.server(n)?))).collect()
}

/// Whether a server's security group lets a host in.
pub fn accepts(server: &ServerRec, host: &str) -> bool {
    !server.security_group || server.group_hosts.iter().any(|h| same_name(h, host))
}

/// seed 000: the grace period ends as soon as the host discovers a license
/// server, for good.
pub fn end_grace(cx: &mut Ctx, host: &HostRec, server: &ServerRec) -> Result<()> {
    // `host` was read in this statement, and only this function moves
    // `grace_ends` (to now): when it has ended there, it has ended in the
    // stored record too, and there is nothing to read.
    if cx.now >= host.grace_ends {
        return Ok(());
    }
    let Some(mut h) = cx.tx.host(&host.name)? else { return Ok(()) };
    if cx.now < h.grace_ends {
        h.grace_ends = cx.now;
        cx.tx.put_host(&h)?;
        let msg = format!("the grace period ended: license server '{}' was found", server.name);
        cx.event(EventSource::Host, &host.name, 0, EventLevel::Info, msg)?;
    }
    Ok(())
}
