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

/// The host's own list in order; only if it is empty, every server of the
/// host's scope by name. The first online server that accepts the host is
/// found; a refusal is event 4141 on the refusing server.
pub fn discover(cx: &mut Ctx, host: &HostRec) -> Result<Discovery> {
    let mut refused = false;
    for s in candidates(&*cx.tx, host)?.into_iter().filter_map(|(_, s)| s) {
        if !s.online {
            continue;
        }
        if accepts(&s, &host.name) {
            end_grace(cx, host, &s)?;
            return Ok(Discovery { found: Some(s), refused });
        }
        refused = true;
        self::refused(cx, &s, host)?;
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
        let in_scope = r.servers()?.into_iter().filter(|s| s.scope == host.scope);
        return Ok(in_scope.map(|s| (s.name.clone(), Some(s))).collect());
    }
    host.license_servers.iter().map(|n| Ok((n.clone(), r.server(n)?))).collect()
}

/// Whether a server's security group lets a host in.
pub fn accepts(server: &ServerRec, host: &str) -> bool {
    !server.security_group || server.group_hosts.iter().any(|h| h == host)
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
