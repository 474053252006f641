//! Issuing, renewing and storing licenses (protocol.md "A permanent CAL can
//! be had", "The HWID's current license").

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::*;

/// A temporary CAL lasts 90 days.
pub const TEMPORARY_DAYS: i64 = 90;
/// A permanent per-device CAL lasts a random whole number of days in this
/// range after it is issued or renewed.
pub const PERMANENT_DAYS_MIN: u64 = 52;
pub const PERMANENT_DAYS_MAX: u64 = 89;

/// Whether key pack `k` of `server` gives permanent CALs to a host of
/// `host_product` at `now`, whether or not one is left: one of the server's
/// non-temporary device packs, not expired, of the host's product or newer
/// (exactly the host's product when the server's "Prevent License Upgrade"
/// is on). CONNECT's choice and SHOW HOST's count both ask this.
pub fn pack_serves(k: &KeypackRec, server: &ServerRec, host_product: Product, now: Time) -> bool {
    let product_fits = match server.prevent_upgrade {
        true => k.product == host_product.cal_product(),
        false => host_product.host_accepts(k.product),
    };
    same_name(&k.server, &server.name) && k.is_purchased_device() && k.expires.is_none_or(|e| e > now) && product_fits
}

/// The key pack a server would draw a permanent CAL from for a host: among
/// the packs that serve it (`pack_serves`) with a CAL available: the lowest
/// product, then the pack that expires first (no expiry last), then the
/// lowest id.
pub fn pick_keypack(cx: &Ctx, server: &ServerRec, host_product: Product) -> Result<Option<KeypackRec>> {
    if !server.activated {
        return Ok(None);
    }
    let mut best: Option<KeypackRec> = None;
    for k in cx.tx.keypacks()? {
        let usable = k.available().unwrap_or(0) > 0 && pack_serves(&k, server, host_product, cx.now);
        if usable && best.as_ref().is_none_or(|b| pack_order(&k) < pack_order(b)) {
            best = Some(k);
        }
    }
    Ok(best)
}

fn pack_order(k: &KeypackRec) -> (Product, bool, Time, u64) {
    (k.product, k.expires.is_none(), k.expires.unwrap_or(TIME_MAX), k.id)
}

/// Where a permanent CAL can be had: the found server, else the other
/// online, activated servers of its scope, by name. A found server that is
/// not activated issues temporary licenses only and asks no peer.
pub fn permanent_source(cx: &Ctx, found: &ServerRec, host: &HostRec) -> Result<Option<(ServerRec, KeypackRec)>> {
    if !found.activated {
        return Ok(None);
    }
    if let Some(k) = pick_keypack(cx, found, host.product)? {
        return Ok(Some((found.clone(), k)));
    }
    for peer in cx.tx.servers()? {
        if same_name(&peer.name, &found.name) || !same_name(&peer.scope, &found.scope) || !peer.online {
            continue;
        }
        if let Some(k) = pick_keypack(cx, &peer, host.product)? {
            return Ok(Some((peer, k)));
        }
    }
    Ok(None)
}

fn temporary_pack(cx: &Ctx, server: &str) -> Result<KeypackRec> {
    let temporary = &mut |k: &KeypackRec| same_name(&k.server, server) && k.kind == KeypackType::Temporary;
    let pack = cx.tx.find_record(T::Keypacks, b"", temporary)?;
    pack.ok_or_else(|| Error::Storage(format!("server '{server}' has no temporary key pack")))
}

pub fn issue_temporary(
    cx: &mut Ctx,
    server: &ServerRec,
    host: &HostRec,
    device: &DeviceRec,
    user: &str,
    validated: bool,
) -> Result<LicenseRec> {
    let mut pack = temporary_pack(cx, &server.name)?;
    let license = LicenseRec {
        id: cx.next_license_id(keys::server_of(pack.id))?,
        keypack: pack.id,
        server: server.name.clone(),
        kind: LicenseKind::Temporary,
        status: LicenseStatus::Temporary,
        hwid: device.hwid,
        computer: device.name.clone(),
        user: user.to_string(),
        product: host.product.cal_product(),
        issued: cx.now,
        expires: cx.now.plus_days(TEMPORARY_DAYS),
        validated,
        revoked: None,
    };
    cx.tx.insert_license(&license)?;
    pack.issued += 1;
    cx.tx.put_keypack(&pack)?;
    Ok(license)
}

/// `pack` as stored now: read in this statement after any write to it
/// (`permanent_source` reads it; nothing in between writes a key pack
/// that can issue a permanent CAL, or the caller reads it again).
pub fn issue_permanent(
    cx: &mut Ctx,
    server: &ServerRec,
    mut pack: KeypackRec,
    device: &DeviceRec,
    user: &str,
) -> Result<LicenseRec> {
    debug_assert_eq!(cx.tx.keypack(pack.id)?.as_ref(), Some(&pack), "key pack {} read before a write", pack.id);
    assert!(pack.available().unwrap_or(0) > 0, "key pack {} has no CAL to issue", pack.id);
    let days = cx.rng.between(PERMANENT_DAYS_MIN, PERMANENT_DAYS_MAX) as i64;
    let license = LicenseRec {
        id: cx.next_license_id(keys::server_of(pack.id))?,
        keypack: pack.id,
        server: server.name.clone(),
        kind: LicenseKind::Permanent,
        status: LicenseStatus::Active,
        hwid: device.hwid,
        computer: device.name.clone(),
        user: user.to_string(),
        product: pack.product,
        issued: cx.now,
        expires: cx.now.plus_days(days),
        validated: true,
        revoked: None,
    };
    cx.tx.insert_license(&license)?;
    pack.issued += 1;
    cx.tx.put_keypack(&pack)?;
    Ok(license)
}

/// A new random expiry from now for the HWID's current, active license
/// (`old`, as stored).
pub fn renew(cx: &mut Ctx, old: &LicenseRec) -> Result<LicenseRec> {
    let days = cx.rng.between(PERMANENT_DAYS_MIN, PERMANENT_DAYS_MAX) as i64;
    let mut license = old.clone();
    license.expires = cx.now.plus_days(days);
    cx.tx.rewrite_license(Some(old), &license)?;
    Ok(license)
}

/// The lowest slot of a device's store that holds none of its `tokens`.
pub fn free_slot(tokens: &[TokenRec]) -> u32 {
    (0..).find(|s| !tokens.iter().any(|t| t.slot == *s)).unwrap_or(0)
}

/// The token a device keeps for license `l`, in its slot `slot`.
pub fn token_of(device: &str, slot: u32, scope: String, l: &LicenseRec) -> TokenRec {
    TokenRec {
        device: device.to_string(),
        slot,
        license: l.id,
        server: l.server.clone(),
        scope,
        kind: l.kind,
        product: l.product,
        computer: l.computer.clone(),
        user: l.user.clone(),
        issued: l.issued,
        expires: l.expires,
        hwid: l.hwid,
    }
}

/// Stores a license in the device's store, in `slot` (replacing the token
/// there, if any): by reference to the license (`StoredToken`).
pub fn place_token(cx: &mut Ctx, device: &str, slot: u32, l: LicenseRec, server: &ServerRec) -> Result<TokenRec> {
    let token = token_of(device, slot, server.scope.clone(), &l);
    if !cx.client_store {
        cx.tx.put_token_of(&token, Some(&l))?;
    }
    Ok(token)
}
