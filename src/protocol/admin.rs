//! Administration: revocation within the 20% limit and the rebuild of a
//! server's database (protocol.md "Administration").

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::*;

/// The result of a revoke: what is left and when the next one is allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct Revoked {
    pub license: u64,
    pub server: String,
    pub product: Product,
    /// How many more licenses of this server and product may be revoked now.
    pub revocable: u64,
    /// When another revoke of this server and product is allowed.
    pub next_allowed: Time,
}

/// The revocation budget of one server and product.
pub struct Budget {
    pub installed: u64,
    pub limit: u64,
    /// Original expiries of the licenses in the revoked state.
    pub revoked_expiries: Vec<Time>,
}

impl Budget {
    fn empty() -> Budget {
        Budget { installed: 0, limit: revoke_limit(0), revoked_expiries: Vec::new() }
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.revoked_expiries.len() as u64)
    }

    /// Now, if a revoke is allowed; else when the first revoked one expires.
    pub fn next_allowed(&self, now: Time) -> Time {
        if self.remaining() > 0 {
            return now;
        }
        self.revoked_expiries.iter().copied().min().unwrap_or(now)
    }
}

/// The revoke limit of protocol.md: max(1, floor(20%)) of the installed
/// per-device CALs of a product on a server may be in the revoked state at
/// once (rds-facts section 2). CHECK, IMPORT and the reports apply it too.
pub fn revoke_limit(installed: u64) -> u64 {
    (installed / 5).max(1)
}

/// Whether key pack `k` is one of the installed per-device CALs a budget
/// counts, and its revoked licenses against it.
fn counts_toward(k: &KeypackRec, server: &str, product: Product) -> bool {
    same_name(&k.server, server) && k.product == product && k.is_purchased_device()
}

/// Whether protocol.md lets a license be revoked at all (the budget aside):
/// only an active permanent per-device license.
pub fn revocable(l: &LicenseRec) -> bool {
    l.kind == LicenseKind::Permanent && l.status == LicenseStatus::Active
}

/// The revoke budget of every server and product that has purchased
/// per-device CALs (`budget` for all of them in one pass).
pub fn budgets(r: &(impl Reader + ?Sized)) -> Result<std::collections::BTreeMap<(String, Product), Budget>> {
    let mut out = std::collections::BTreeMap::new();
    for k in r.keypacks()?.into_iter().filter(KeypackRec::is_purchased_device) {
        add_pack(out.entry((k.server.clone(), k.product)).or_insert_with(Budget::empty), r, &k)?;
    }
    Ok(out)
}

/// How many licenses of a product on a server may still be revoked: see
/// `revoke_limit`.
pub fn budget(tx: &(impl Reader + ?Sized), server: &str, product: Product) -> Result<Budget> {
    let mut b = Budget::empty();
    for k in tx.keypacks()?.into_iter().filter(|k| counts_toward(k, server, product)) {
        add_pack(&mut b, tx, &k)?;
    }
    Ok(b)
}

/// Counts key pack `k`'s CALs and its licenses in the revoked state (read
/// through the revoked index) into `b`.
fn add_pack(b: &mut Budget, r: &(impl Reader + ?Sized), k: &KeypackRec) -> Result<()> {
    b.installed += k.total.unwrap_or(0);
    b.limit = revoke_limit(b.installed);
    for id in r.revoked_of_keypack(k.id)? {
        if let Some(l) = r.license(id)?
            && l.status == LicenseStatus::Revoked
        {
            b.revoked_expiries.push(l.expires);
        }
    }
    Ok(())
}

pub fn revoke(cx: &mut Ctx, id: u64) -> Result<Revoked> {
    let mut l = cx.tx.license(id)?.ok_or_else(|| Error::plan(format!("no license with id {}", keys::number(id))))?;
    let n = l.number();
    if !revocable(&l) {
        return Err(Error::plan(format!(
            "license {n} on '{}' is {} {}: only an active permanent per-device license can be revoked",
            l.server, l.status, l.kind
        )));
    }
    let mut b = budget(&*cx.tx, &l.server, l.product)?;
    if b.remaining() == 0 {
        return Err(Error::plan(format!(
            "server '{}' already has {} {} licenses revoked, its limit of {} (20% of {} installed, at least 1); the next revoke is allowed on {}",
            l.server,
            b.revoked_expiries.len(),
            l.product,
            b.limit,
            b.installed,
            b.next_allowed(cx.now)
        )));
    }
    l.status = LicenseStatus::Revoked;
    l.revoked = Some(cx.now);
    cx.tx.put_license(&l)?;
    super::time::release_from_pool(cx, l.keypack, LicenseStatus::Active)?;
    let msg =
        format!("license {n} of '{}' revoked; its CAL is back in key pack {}", l.computer, keys::number(l.keypack));
    cx.event(EventSource::LicenseServer, &l.server, 0, EventLevel::Info, msg)?;
    // The budget after it: this license now counts, if its pack does
    let pack = cx.tx.keypack(l.keypack)?;
    if pack.is_some_and(|k| counts_toward(&k, &l.server, l.product)) {
        b.revoked_expiries.push(l.expires);
    }
    Ok(Revoked {
        license: n,
        server: l.server,
        product: l.product,
        revocable: b.remaining(),
        next_allowed: b.next_allowed(cx.now),
    })
}

/// Revokes a set of licenses, all or nothing: the limit is checked for the
/// whole set, per server and product, before any is revoked.
pub fn revoke_set(cx: &mut Ctx, ids: &[u64]) -> Result<Vec<Revoked>> {
    let mut wanted: std::collections::BTreeMap<(String, Product), u64> = std::collections::BTreeMap::new();
    for id in ids {
        let l = cx.tx.license(*id)?.ok_or_else(|| Error::plan(format!("no license with id {}", keys::number(*id))))?;
        *wanted.entry((l.server, l.product)).or_default() += 1;
    }
    for ((server, product), n) in &wanted {
        let b = budget(&*cx.tx, server, *product)?;
        if *n > b.remaining() {
            let room = match b.remaining() {
                0 => format!("none may be revoked before {}", b.next_allowed(cx.now)),
                r => format!("only {r} may be revoked now"),
            };
            return Err(Error::plan(format!(
                "revoking {n} {product} licenses of server '{server}' would pass its limit of {} (20% of {} installed, at least 1): {room}; nothing was revoked",
                b.limit, b.installed
            )));
        }
    }
    ids.iter().map(|id| revoke(cx, *id)).collect()
}

/// "Rebuild the license server database": every license and key pack of
/// the server is deleted; with `reinstall`, its purchased packs come back
/// with their ids and full pools. The built-in temporary pack is always
/// recreated, as the real server recreates it with its database.
pub fn rebuild(cx: &mut Ctx, name: &str, reinstall: bool) -> Result<(u64, u64)> {
    let server = cx.tx.server(name)?.ok_or_else(|| super::names::no_such_in(&*cx.tx, "server", name))?;
    let mut packs = 0u64;
    let own: Vec<KeypackRec> = cx.tx.keypacks()?.into_iter().filter(|k| same_name(&k.server, &server.name)).collect();
    let ids: Vec<u64> = own.iter().map(|k| k.id).collect();
    let doomed = cx.tx.licenses_of_keypacks(&ids)?;
    cx.tx.delete_licenses(&doomed)?;
    let licenses = doomed.len() as u64;
    for mut k in own {
        k.issued = 0;
        if k.kind == KeypackType::Temporary || reinstall {
            k.installed = cx.now;
            cx.tx.put_keypack(&k)?;
        } else {
            cx.tx.delete(T::Keypacks, &keys::id(k.id))?;
            packs += 1;
        }
    }
    for u in cx.tx.records::<UserCalRec>(T::UserCals, &keys::Key::new().name(name).done())? {
        cx.tx.delete(T::UserCals, &u.key())?;
    }
    let msg = format!(
        "the license server database was rebuilt: {licenses} licenses deleted, {}",
        if reinstall { "key packs reinstalled".to_string() } else { format!("{packs} key packs deleted") }
    );
    cx.event(EventSource::LicenseServer, name, 0, EventLevel::Warning, msg)?;
    Ok((licenses, packs))
}
