//! The session directory (seed 001): farms, reconnection to a disconnected
//! session, one live session per user and host.

use super::{Ctx, no_such};
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::*;

/// seed 001: a user with a disconnected session in the farm goes back to
/// that host; otherwise to the host with the fewest active sessions (ties
/// by name).
pub fn choose_farm_host(cx: &mut Ctx, farm: &str, user: &str) -> Result<HostRec> {
    let hosts: Vec<HostRec> = cx.tx.hosts()?.into_iter().filter(|h| h.farm.as_deref().is_some_and(|f| same_name(f, farm))).collect();
    if hosts.is_empty() {
        return Err(Error::plan_near(format!("no host belongs to farm '{farm}'"), farm));
    }
    for h in &hosts {
        if cx.tx.live_session(user, &h.name)?.is_some_and(|s| s.state == SessionState::Disconnected) {
            return Ok(h.clone());
        }
    }
    let active = active_sessions_by_host(cx)?;
    let mut best: Option<(u64, HostRec)> = None;
    for h in hosts {
        let n = active.get(&*fold_name(&h.name)).copied().unwrap_or(0);
        if best.as_ref().is_none_or(|(bn, _)| n < *bn) {
            best = Some((n, h));
        }
    }
    best.map(|(_, h)| h).ok_or_else(|| no_such("farm", farm))
}

/// The number of active sessions of every host, in one pass over the live
/// sessions.
fn active_sessions_by_host(cx: &Ctx) -> Result<std::collections::HashMap<String, u64>> {
    let mut ids = Vec::new();
    cx.tx.scan(T::IdxSessionLive, b"", None, &mut |_, v| {
        ids.push(codec::decode::<u64>(v)?);
        Ok(true)
    })?;
    let mut out = std::collections::HashMap::new();
    for id in ids {
        if let Some(s) = cx.tx.session(id)?
            && s.state == SessionState::Active
        {
            *out.entry(fold_name(&s.host).into_owned()).or_default() += 1;
        }
    }
    Ok(out)
}

/// After a successful logon: reconnect the user's live session on the
/// host, or start one.
/// `admin`: a Remote Desktop for Administration session (a reconnected
/// session becomes what the connection asked for).
pub fn start_session(cx: &mut Ctx, host: &HostRec, device: &str, user: &str, admin: bool) -> Result<u64> {
    if let Some(mut s) = cx.tx.live_session(user, &host.name)? {
        s.state = SessionState::Active;
        s.admin = admin;
        // In place: the stored name's buffer usually holds the new one.
        s.device.clear();
        s.device.push_str(device);
        s.changed = cx.now;
        cx.tx.update_live_session(&s)?;
        return Ok(s.id);
    }
    let s = SessionRec {
        id: cx.next_session_id(),
        user: user.to_string(),
        device: device.to_string(),
        host: host.name.clone(),
        farm: host.farm.clone(),
        state: SessionState::Active,
        started: cx.now,
        changed: cx.now,
        admin,
    };
    cx.tx.insert_live_session(&s)?;
    Ok(s.id)
}

/// DISCONNECT SESSION and LOGOFF SESSION.
pub fn end_session(cx: &mut Ctx, id: u64, to: SessionState) -> Result<()> {
    let mut s = cx.tx.session(id)?.ok_or_else(|| Error::plan(format!("no session with id {id}")))?;
    if s.state == SessionState::Ended {
        return Err(Error::plan(format!("session {id} has already ended")));
    }
    if to == SessionState::Disconnected && s.state == SessionState::Disconnected {
        return Err(Error::plan(format!("session {id} is already disconnected")));
    }
    s.state = to;
    s.changed = cx.now;
    cx.tx.put_session(&s)
}
