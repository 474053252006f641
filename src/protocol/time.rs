//! The clock, the seed and expiry (protocol.md "Time and randomness").

use super::Ctx;
use crate::clock::Rng;
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::*;

/// Where the clock stands for a new statement: the simulated instant, or the
/// wall clock (never behind the newest time already recorded).
pub fn statement_instant(state: &State) -> Time {
    match state.clock {
        Some(t) => t,
        None => {
            let wall = crate::clock::wall_now();
            state.last_time.map_or(wall, |last| wall.max(last))
        }
    }
}

fn refuse_going_back(state: &State, to: Time) -> Result<()> {
    match state.last_time {
        Some(last) if to < last => {
            Err(Error::plan(format!("the clock cannot move back to {to}: history already records {last}")))
        }
        _ => Ok(()),
    }
}

/// The latest clock: what the protocol dates from the clock (an expiry,
/// up to the grace period's 120 days ahead) still falls within the year
/// 9999, which EXPORT writes and IMPORT reads (a WMI DATETIME).
pub const CLOCK_MAX: Time = Time(TIME_MAX.0 - crate::protocol::deploy::GRACE_DAYS * crate::model::SECONDS_PER_DAY);

fn refuse_too_late(at: Time) -> Result<()> {
    if at > CLOCK_MAX {
        return Err(Error::plan(format!(
            "the clock cannot pass {CLOCK_MAX}: licenses issued later would expire after the year 9999"
        )));
    }
    Ok(())
}

pub fn set_clock(cx: &mut Ctx, at: Time) -> Result<()> {
    if !(TIME_MIN..=TIME_MAX).contains(&at) {
        return Err(Error::plan(format!("time {at} is out of range")));
    }
    refuse_too_late(at)?;
    refuse_going_back(&cx.state, at)?;
    cx.state.clock = Some(at);
    cx.now = at;
    expire(cx)
}

/// The clock of an audit database set to the instant an imported file
/// describes (IMPORT, docs/choices.md 42): back behind the times its
/// history recorded too, since those are only the loading of the file
/// (the caller checks that the history holds nothing else). The import's
/// own history row is written at this instant, and later statements date
/// from it.
pub fn set_audit_clock(cx: &mut Ctx, at: Time) -> Result<()> {
    if !(TIME_MIN..=TIME_MAX).contains(&at) {
        return Err(Error::plan(format!("time {at} is out of range")));
    }
    refuse_too_late(at)?;
    cx.state.clock = Some(at);
    cx.state.last_time = None;
    cx.now = at;
    expire(cx)
}

pub fn set_clock_wall(cx: &mut Ctx) -> Result<()> {
    let wall = crate::clock::wall_now();
    refuse_going_back(&cx.state, wall)?;
    cx.state.clock = None;
    cx.now = wall;
    expire(cx)
}

pub fn advance(cx: &mut Ctx, seconds: i64) -> Result<()> {
    let to = cx.now.0.checked_add(seconds).map(Time).filter(|t| *t <= TIME_MAX);
    let to = to.ok_or_else(|| Error::plan("the clock would move past the year 9999"))?;
    refuse_too_late(to)?;
    cx.state.clock = Some(to);
    cx.now = to;
    expire(cx)
}

pub fn set_seed(cx: &mut Ctx, seed: u64) {
    cx.state.seed = seed;
    cx.rng = Rng::seeded(seed);
}

/// Moves every live license whose expiry has come to `expired`; an active
/// permanent per-device CAL goes back to its key pack's pool. Uses the
/// expiry index: only the licenses that expire are read. The pools are
/// given back once per key pack at the end (same transaction), not once per
/// license: an ADVANCE that expires a million licenses rewrites each key
/// pack once.
pub fn expire(cx: &mut Ctx) -> Result<()> {
    let mut released: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    cx.tx.retire_due_licenses(cx.now, &mut |l| {
        if l.status.holds_cal() {
            *released.entry(l.keypack).or_default() += 1;
        }
        l.status = LicenseStatus::Expired;
    })?;
    for (keypack, n) in released {
        give_back(cx, keypack, n)?;
    }
    Ok(())
}

/// `n` CALs go back to key pack `keypack`'s pool.
fn give_back(cx: &mut Ctx, keypack: u64, n: u64) -> Result<()> {
    if let Some(mut k) = cx.tx.keypack(keypack)? {
        assert!(k.issued >= n, "key pack {} issued count would go negative", k.id);
        k.issued -= n;
        cx.tx.put_keypack(&k)?;
    }
    Ok(())
}

/// A license left the status `was`: give its key pack back what it held.
pub fn release_from_pool(cx: &mut Ctx, keypack: u64, was: LicenseStatus) -> Result<()> {
    if !was.holds_cal() {
        return Ok(());
    }
    give_back(cx, keypack, 1)
}
