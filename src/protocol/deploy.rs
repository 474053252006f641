//! Deployment: license servers, key packs, session hosts and devices
//! (protocol.md "Devices and their stores", "Administration").

use super::names::{already_exists, no_such_in};
use super::{Ctx, check_name};
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::*;

/// The grace period of a new host (seed 000: 120 days).
pub const GRACE_DAYS: i64 = 120;

pub fn create_server(cx: &mut Ctx, name: &str, product: Option<Product>, scope: Option<&str>) -> Result<()> {
    check_name("server", name)?;
    let scope = scope.unwrap_or("default");
    check_name("scope", scope)?;
    if let Some(s) = cx.tx.server(name)? {
        return Err(already_exists("server", name, &s.name));
    }
    let product = product.unwrap_or(Product::Ws2025);
    if product == Product::Ws2012R2 {
        return Err(Error::plan("a license server is WS2012, not WS2012R2 (WS2012R2 is a host product)"));
    }
    let ordinal = cx.new_server_ordinal()?;
    let rec = ServerRec {
        ordinal,
        prevent_upgrade: false,
        name: name.to_string(),
        product,
        scope: scope.to_string(),
        activated: false,
        online: true,
        security_group: false,
        group_hosts: Vec::new(),
        created: cx.now,
    };
    cx.tx.put_server(&rec)?;
    // Every license server has a built-in pack from which it issues
    // temporary licenses (KeyPackType 4).
    let id = cx.next_keypack_id(ordinal)?;
    cx.tx.put_keypack(&KeypackRec {
        id,
        server: name.to_string(),
        product,
        cal: CalType::Device,
        kind: KeypackType::Temporary,
        total: None,
        issued: 0,
        installed: cx.now,
        expires: None,
        inferred: false,
    })
}

fn server_mut(cx: &Ctx, name: &str) -> Result<ServerRec> {
    cx.tx.server(name)?.ok_or_else(|| no_such_in(&*cx.tx, "server", name))
}

pub fn set_activated(cx: &mut Ctx, name: &str, activated: bool) -> Result<()> {
    let mut s = server_mut(cx, name)?;
    let was = s.activated;
    s.activated = activated;
    cx.tx.put_server(&s)?;
    if activated && !was {
        cx.event(EventSource::LicenseServer, &s.name, 4, EventLevel::Info, "the license server was activated".into())?;
    } else if !activated && was {
        cx.event(EventSource::LicenseServer, &s.name, 0, EventLevel::Info, "the license server was deactivated".into())?;
    }
    Ok(())
}

pub fn set_online(cx: &mut Ctx, name: &str, online: bool) -> Result<()> {
    let mut s = server_mut(cx, name)?;
    s.online = online;
    cx.tx.put_server(&s)
}

/// "Prevent License Upgrade" (protocol.md): on, the server gives CALs of
/// exactly the host's product only.
pub fn set_prevent_upgrade(cx: &mut Ctx, name: &str, on: bool) -> Result<()> {
    let mut s = server_mut(cx, name)?;
    s.prevent_upgrade = on;
    cx.tx.put_server(&s)
}

pub fn set_security_group(cx: &mut Ctx, name: &str, hosts: Option<&[String]>) -> Result<()> {
    let mut s = server_mut(cx, name)?;
    match hosts {
        None => {
            s.security_group = false;
            s.group_hosts.clear();
        }
        Some(hosts) => {
            for h in hosts {
                check_name("host", h)?;
            }
            let mut hosts = hosts.to_vec();
            hosts.sort_by(|a, b| name_cmp(a, b).then_with(|| a.cmp(b)));
            hosts.dedup_by(|a, b| same_name(a, b));
            s.security_group = true;
            s.group_hosts = hosts;
        }
    }
    cx.tx.put_server(&s)
}

pub struct InstallKeypack<'a> {
    pub server: &'a str,
    pub product: Product,
    pub cal: CalType,
    pub count: u64,
    pub kind: KeypackType,
    pub expires: Option<Time>,
}

/// Installs a key pack and returns its number on its server.
pub fn install_keypack(cx: &mut Ctx, req: &InstallKeypack) -> Result<u64> {
    let s = server_mut(cx, req.server)?;
    check_pack(cx, &s, req.product, req.count, req.kind, req.expires)?;
    let id = cx.next_keypack_id(s.ordinal)?;
    cx.tx.put_keypack(&KeypackRec {
        id,
        server: s.name.clone(),
        product: req.product,
        cal: req.cal,
        kind: req.kind,
        total: Some(req.count),
        issued: 0,
        installed: cx.now,
        expires: req.expires,
        inferred: false,
    })?;
    let n = keys::number(id);
    let msg = format!("key pack {n} installed: {} {} {} CALs ({})", req.count, req.product, req.cal, req.kind);
    cx.event(EventSource::LicenseServer, &s.name, 0, EventLevel::Info, msg)?;
    Ok(n)
}

/// What a key pack a server holds may be, whoever says it (INSTALL
/// KEYPACK, SET KEYPACK): CALs of a product there are, no newer than the
/// server's, 1 to u32::MAX of them, not the server's own temporary kind, and
/// not already expired.
fn check_pack(cx: &Ctx, s: &ServerRec, product: Product, count: u64, kind: KeypackType, expires: Option<Time>) -> Result<()> {
    if product == Product::Ws2012R2 {
        return Err(Error::plan("there are no WS2012R2 CALs: WS2012R2 hosts take WS2012 CALs"));
    }
    if product > s.product {
        return Err(Error::plan(format!(
            "server '{}' is {} and cannot hold {product} CALs: a license server holds key packs of its own product or older",
            s.name, s.product
        )));
    }
    if count == 0 || count > u64::from(u32::MAX) {
        return Err(Error::plan(format!("a key pack holds 1 to {} CALs, not {count}", u32::MAX)));
    }
    if kind == KeypackType::Temporary {
        return Err(Error::plan("temporary key packs are the server's own; install retail, volume, open or concurrent"));
    }
    if let Some(e) = expires
        && e <= cx.now
    {
        return Err(Error::plan(format!("the key pack would expire at {e}, which is not after now ({})", cx.now)));
    }
    Ok(())
}

/// What an administrator says an inferred key pack is (SET KEYPACK).
pub struct StateKeypack {
    pub product: Product,
    pub cal: CalType,
    pub count: Option<u64>,
    pub kind: Option<KeypackType>,
    pub expires: Option<Time>,
}

/// SET KEYPACK: the administrator completes a key pack IMPORT LICENSES
/// inferred (docs/choices.md 45), as IMPORT KEYPACKS would: its id and
/// issued count stay; its product, CAL type and (when given) total, type and
/// expiry are the statement's; its licenses take its product. Only an
/// inferred pack: an installed or imported one is what its installation
/// says.
pub fn state_keypack(cx: &mut Ctx, id: u64, req: &StateKeypack) -> Result<()> {
    let old = cx.tx.keypack(id)?.ok_or_else(|| Error::plan(format!("no key pack with id {}", keys::number(id))))?;
    let n = old.number();
    if old.kind == KeypackType::Temporary {
        let msg = format!("key pack {n} is the temporary pack of server '{}': its product and CAL type are the server's", old.server);
        return Err(Error::plan(msg));
    }
    if !old.inferred {
        return Err(Error::plan(format!(
            "key pack {n} of server '{}' was installed or imported, not inferred: its product and CAL type are its own \
             (SET KEYPACK completes a pack IMPORT LICENSES inferred)",
            old.server
        )));
    }
    let s = server_mut(cx, &old.server)?;
    let total = req.count.or(old.total).unwrap_or(old.issued.max(1));
    check_pack(cx, &s, req.product, total, req.kind.unwrap_or(old.kind), req.expires)?;
    if total < old.issued {
        return Err(Error::plan(format!("key pack {n} holds {total} CALs, but {} of its licenses hold one", old.issued)));
    }
    let held = cx.tx.licenses_of_keypacks(&[id])?.len();
    if req.cal == CalType::User && held > 0 {
        return Err(Error::plan(format!(
            "key pack {n} holds {held} per-device license(s): a per-user key pack issues none (its CALs are in Active Directory)"
        )));
    }
    let new = KeypackRec {
        product: req.product,
        cal: req.cal,
        kind: req.kind.unwrap_or(old.kind),
        total: Some(total),
        expires: req.expires.or(old.expires),
        inferred: false,
        ..old
    };
    cx.tx.put_keypack(&new)?;
    licenses_take_products(cx.tx, &[(id, new.product)])?;
    let msg = format!("key pack {n} stated by the administrator: {total} {} {} CALs ({})", new.product, new.cal, new.kind);
    cx.event(EventSource::LicenseServer, &s.name, 0, EventLevel::Info, msg)
}

/// The licenses of completed packs take their pack's product (a Windows
/// license names none: an inferred pack's was a stand-in). `completed`:
/// each pack's stored id and its product.
pub fn licenses_take_products(tx: &mut WriteTx, completed: &[(u64, Product)]) -> Result<()> {
    if completed.is_empty() {
        return Ok(());
    }
    let ids: Vec<u64> = completed.iter().map(|(id, _)| *id).collect();
    for lid in tx.licenses_of_keypacks(&ids)? {
        let Some(l) = tx.license(lid)? else { continue };
        let product = completed.iter().find(|(id, _)| *id == l.keypack).map(|(_, p)| *p);
        if let Some(p) = product.filter(|p| *p != l.product) {
            let mut new = l.clone();
            new.product = p;
            tx.rewrite_license(Some(&l), &new)?;
        }
    }
    Ok(())
}

/// Uninstalls key pack `id` (a stored id, `query::admin` resolves it).
pub fn uninstall_keypack(cx: &mut Ctx, id: u64) -> Result<()> {
    let k = cx.tx.keypack(id)?.ok_or_else(|| Error::plan(format!("no key pack with id {}", keys::number(id))))?;
    let id_shown = k.number();
    if k.kind == KeypackType::Temporary {
        return Err(Error::plan(format!(
            "key pack {id_shown} is the temporary pack of server '{}' and cannot be uninstalled",
            k.server
        )));
    }
    let held = cx.tx.licenses_of_keypacks(&[id])?;
    let mut live = 0u64;
    for lid in &held {
        if cx.tx.license(*lid)?.is_some_and(|l| l.status == LicenseStatus::Active || l.status == LicenseStatus::Revoked)
        {
            live += 1;
        }
    }
    if live > 0 {
        return Err(Error::plan(format!(
            "key pack {id_shown} has {live} issued licenses; revoke them or let them expire first"
        )));
    }
    cx.tx.delete_licenses(&held)?;
    cx.tx.delete(T::Keypacks, &keys::id(id))?;
    cx.event(EventSource::LicenseServer, &k.server, 0, EventLevel::Info, format!("key pack {id_shown} uninstalled"))
}

pub struct CreateHost<'a> {
    pub name: &'a str,
    pub product: Option<Product>,
    pub mode: Option<Mode>,
    pub scope: Option<&'a str>,
    pub license_servers: Option<&'a [String]>,
    pub farm: Option<&'a str>,
}

pub fn create_host(cx: &mut Ctx, req: &CreateHost) -> Result<()> {
    check_name("host", req.name)?;
    if let Some(h) = cx.tx.host(req.name)? {
        return Err(already_exists("host", req.name, &h.name));
    }
    let scope = req.scope.unwrap_or("default");
    check_name("scope", scope)?;
    if let Some(f) = req.farm {
        check_name("farm", f)?;
    }
    let servers = req.license_servers.unwrap_or(&[]);
    for s in servers {
        check_name("server", s)?;
    }
    cx.tx.put_host(&HostRec {
        name: req.name.to_string(),
        product: req.product.unwrap_or(Product::Ws2025),
        mode: req.mode.unwrap_or(Mode::Unset),
        scope: scope.to_string(),
        license_servers: servers.to_vec(),
        farm: req.farm.map(str::to_string),
        created: cx.now,
        grace_ends: cx.now.plus_days(GRACE_DAYS),
    })
}

fn host_mut(cx: &Ctx, name: &str) -> Result<HostRec> {
    cx.tx.host(name)?.ok_or_else(|| no_such_in(&*cx.tx, "host", name))
}

pub fn set_host_mode(cx: &mut Ctx, name: &str, mode: Mode) -> Result<()> {
    let mut h = host_mut(cx, name)?;
    h.mode = mode;
    cx.tx.put_host(&h)
}

pub fn set_host_servers(cx: &mut Ctx, name: &str, servers: &[String]) -> Result<()> {
    let mut h = host_mut(cx, name)?;
    for s in servers {
        check_name("server", s)?;
    }
    h.license_servers = servers.to_vec();
    cx.tx.put_host(&h)
}

pub fn create_device(cx: &mut Ctx, name: &str, hwid: Option<Hwid>) -> Result<()> {
    check_name("device", name)?;
    if let Some(d) = cx.tx.device(name)? {
        return Err(already_exists("device", name, &d.name));
    }
    let hwid = hwid.unwrap_or_else(|| cx.rng.hwid());
    // Just found absent: written without looking for it again.
    cx.tx.insert_device(&DeviceRec { name: name.to_string(), hwid, created: cx.now })
}

fn device_mut(cx: &Ctx, name: &str) -> Result<DeviceRec> {
    cx.tx.device(name)?.ok_or_else(|| no_such_in(&*cx.tx, "device", name))
}

/// seed 002: an image that kept `HardwareID` gives every clone the same
/// HWID; `WITH STORE` also copies the stored licenses.
pub fn clone_device(cx: &mut Ctx, name: &str, new_name: &str, with_store: bool) -> Result<()> {
    let d = device_mut(cx, name)?;
    create_device(cx, new_name, Some(d.hwid))?;
    if with_store {
        for mut t in cx.tx.tokens(name)? {
            t.device = new_name.to_string();
            cx.tx.put_token(&t)?;
        }
    }
    Ok(())
}

/// Deletes the device's stored tokens; with `new_hwid`, also regenerates
/// its HWID (a rebuilt machine, or the whole MSLicensing key deleted).
pub fn reset_device(cx: &mut Ctx, name: &str, new_hwid: bool) -> Result<()> {
    let mut d = device_mut(cx, name)?;
    for t in cx.tx.tokens(name)? {
        cx.tx.delete_token(name, t.slot)?;
    }
    if new_hwid {
        d.hwid = cx.rng.hwid();
        cx.tx.put_device(&d)?;
    }
    Ok(())
}
