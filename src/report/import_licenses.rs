//! IMPORT LICENSES: the rows of a Win32_TSIssuedLicense export become
//! licenses of their servers, keeping the ids each server gave them. A
//! license draws on a key pack of its server; a pack the server lacks is
//! inferred (`Pools::pack`); the key packs' issued counts grow by the
//! imported licenses that hold a CAL, within their totals, and the revoked
//! ones stay within the revoke limit, so CHECK is clean afterwards.

use super::export::LICENSE_COLUMNS;
use super::import::{CsvFile, Row, shown};
use super::import_servers::Servers;
use super::progress::Progress;
use super::read::{Imported, Options};
use super::wmi;
use crate::error::{Error, Result};
use crate::model::*;
use crate::protocol::Ctx;
use crate::protocol::admin::revoke_limit;
use crate::store::{KeypackRec, LicenseRec, Records, ServerRec, WriteTx, keys};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The Win32_TSIssuedLicense properties an import needs: an export's first
/// eight columns but `sIssuedToUser` (scripts that select a few columns
/// leave it out; a license then has no user).
const REQUIRED: [&str; 7] =
    ["LicenseId", "KeyPackId", "sIssuedToComputer", "LicenseStatus", "IssueDate", "ExpirationDate", "sHardwareId"];

/// A server's key packs and what the import adds to them.
struct Pools {
    server: ServerRec,
    packs: BTreeMap<u64, KeypackRec>,
    /// Installed per-device CALs and licenses in the revoked state, per product.
    revoke: BTreeMap<Product, (u64, u64)>,
    /// The packs this import inferred (IMPORT LICENSES into a server that
    /// lacks them), with the revoked licenses each holds.
    inferred: BTreeMap<u64, u64>,
}

impl Pools {
    fn load(tx: &WriteTx, server: ServerRec) -> Result<Pools> {
        let mut packs = BTreeMap::new();
        let mut revoke: BTreeMap<Product, (u64, u64)> = BTreeMap::new();
        for k in tx.keypacks()?.into_iter().filter(|k| same_name(&k.server, &server.name)) {
            if k.is_purchased_device() {
                revoke.entry(k.product).or_default().0 += k.total.unwrap_or(0);
            }
            for id in tx.revoked_of_keypack(k.id)? {
                if let Some(l) = tx.license(id)?
                    && l.status == LicenseStatus::Revoked
                {
                    revoke.entry(l.product).or_default().1 += 1;
                }
            }
            packs.insert(k.id, k);
        }
        Ok(Pools { server, packs, revoke, inferred: BTreeMap::new() })
    }

    /// The pack a license names, inferred when the server lacks it: a
    /// temporary license's is the server's own temporary pack, renumbered
    /// while it holds no license; any other's is a new pack of unknown
    /// product and CAL type (the server's product, per device, until
    /// IMPORT KEYPACKS brings it), holding what its licenses show.
    fn pack(&mut self, tx: &WriteTx, row: &Row, keypack: u64) -> Result<&KeypackRec> {
        if !self.packs.contains_key(&keypack) {
            // Statuses 1 (temporary) and 3 (upgraded) are a temporary
            // pack's alone; 5 and 6 are read as active here (a pack of
            // unknown kind is inferred a retail one).
            let code = row.get("LicenseStatus")?;
            let status = code.parse().ok().and_then(|c| wmi::license_status(c, false)).map(|(s, _)| s);
            let temporary = matches!(status, Some(LicenseStatus::Temporary | LicenseStatus::Upgraded));
            match temporary {
                true => self.renumber_temporary(tx, row, keypack)?,
                false => self.infer(keypack),
            }
        }
        self.packs.get(&keypack).ok_or_else(|| Error::Storage("key pack vanished".into()))
    }

    fn infer(&mut self, keypack: u64) {
        let s = &self.server;
        let k = KeypackRec {
            id: keypack,
            server: s.name.clone(),
            product: s.product,
            cal: CalType::Device,
            kind: KeypackType::Retail,
            total: None,
            issued: 0,
            installed: s.created,
            expires: None,
            inferred: true,
        };
        self.inferred.insert(keypack, 0);
        self.packs.insert(keypack, k);
    }

    /// The server's own temporary pack takes the number the file's
    /// temporary licenses name, while it holds none.
    fn renumber_temporary(&mut self, tx: &WriteTx, row: &Row, keypack: u64) -> Result<()> {
        let own = self.packs.values().find(|k| k.kind == KeypackType::Temporary).cloned();
        let Some(mut own) = own else {
            return Err(row.err("KeyPackId", format!("server '{}' has no temporary key pack", self.server.name)));
        };
        if own.issued > 0 || !tx.licenses_of_keypacks(&[own.id])?.is_empty() {
            let msg = format!(
                "key pack {} is not on server '{}', whose temporary key pack {} holds licenses",
                keys::number(keypack),
                self.server.name,
                own.number()
            );
            return Err(row.err("KeyPackId", msg));
        }
        self.packs.remove(&own.id);
        own.id = keypack;
        self.packs.insert(keypack, own);
        Ok(())
    }

    /// Counts a license against its pack and the revoke limit (an inferred
    /// pack holds what its licenses show: no limit to pass).
    fn take(&mut self, row: &Row, l: &LicenseRec) -> Result<()> {
        let pack = self.packs.get_mut(&l.keypack).ok_or_else(|| Error::plan("key pack vanished"))?;
        if pack.holds_cal(l.status) {
            if let Some(total) = pack.total
                && pack.issued >= total
            {
                let msg = format!(
                    "key pack {} holds {total} CALs, all issued: license {} is one too many",
                    pack.number(),
                    l.number()
                );
                return Err(row.err("KeyPackId", msg));
            }
            pack.issued += 1;
        }
        if let Some(revoked) = self.inferred.get_mut(&l.keypack) {
            *revoked += u64::from(l.status == LicenseStatus::Revoked);
            return Ok(());
        }
        if l.status == LicenseStatus::Revoked {
            let (installed, revoked) = self.revoke.entry(l.product).or_default();
            *revoked += 1;
            let limit = revoke_limit(*installed);
            if *revoked > limit {
                let msg = format!(
                    "license {} would make {revoked} revoked {} licenses on server '{}', above the limit of {limit}",
                    l.number(),
                    l.product,
                    l.server
                );
                return Err(row.err("LicenseStatus", msg));
            }
        }
        Ok(())
    }

    /// Writes the packs back; an inferred pack's total is the CALs its
    /// licenses hold plus those revoked back into it, and at least five
    /// times its revoked ones (the revoke limit is 20%: the pack held at
    /// least that many for them to have been revoked).
    fn write(mut self, tx: &mut WriteTx) -> Result<u64> {
        for (id, revoked) in &self.inferred {
            if let Some(k) = self.packs.get_mut(id) {
                k.total = Some((k.issued + revoked).max(revoked * 5).max(1));
            }
        }
        let own_temporary = tx.keypacks()?.into_iter().find(|k| same_name(&k.server, &self.server.name) && k.kind == KeypackType::Temporary);
        if let Some(own) = own_temporary.filter(|own| !self.packs.contains_key(&own.id)) {
            tx.delete(crate::store::T::Keypacks, &keys::id(own.id))?;
        }
        for k in self.packs.values() {
            tx.put_keypack(k)?;
        }
        Ok(self.inferred.len() as u64)
    }
}

/// Imports the licenses of `path`, each into its server (`import_servers`).
pub fn import_licenses(cx: &mut Ctx, file: (&Path, &str, &Options), into: Option<&str>) -> Result<Imported> {
    let (path, name, opts) = file;
    let Some(mut file) = CsvFile::open(path, name, opts, &LICENSE_COLUMNS)? else {
        return Ok(Imported::empty());
    };
    file.require(&REQUIRED)?;
    let mut servers = Servers::plan(file.head(), (path, name, opts, &LICENSE_COLUMNS), into)?;
    let mut pools: HashMap<String, Pools> = HashMap::new();
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut bar = Progress::bytes("importing licenses", file.size);
    let (mut rows, mut newest) = (0u64, None);
    let mut chunk = Vec::new();
    while let Some((line, record)) = file.next_record()? {
        let row = file.head().row(line, &record);
        bar.tick(file.position())?;
        let Some(s) = servers.of(cx, &row)? else { continue };
        rows += 1;
        if !pools.contains_key(&s.name) {
            pools.insert(s.name.clone(), Pools::load(cx.tx, s.clone())?);
        }
        let pool = pools.get_mut(&s.name).ok_or_else(|| Error::Storage("pools vanished".into()))?;
        let l = parse_license(cx.tx, &row, pool, &seen)?;
        pool.take(&row, &l)?;
        seen.insert(l.id, line);
        newest = newest.max(Some(l.issued)).max(l.revoked);
        cx.numbers_taken(s.ordinal, Some(l.keypack), Some(l.id));
        chunk.push(l);
        if chunk.len() == CHUNK {
            cx.tx.insert_new_licenses(&mut chunk)?;
            chunk.clear();
        }
    }
    cx.tx.insert_new_licenses(&mut chunk)?;
    let mut done = Imported::new(rows, servers.passed_over, file.notes());
    for (_, pool) in pools {
        done.inferred += pool.write(cx.tx)?;
    }
    done.servers = servers.names();
    done.newest = newest;
    Ok(done)
}

/// Licenses written at a time: each index takes a chunk's entries in key
/// order (a chunk of 100,000 holds some 30 MB).
const CHUNK: usize = 100_000;

fn parse_license(tx: &WriteTx, row: &Row, pools: &mut Pools, seen: &HashMap<u64, u64>) -> Result<LicenseRec> {
    let ordinal = pools.server.ordinal;
    let number = row.id("LicenseId")?;
    let id = keys::row_id(ordinal, number as u32);
    if let Some(first) = seen.get(&id) {
        return Err(row.err("LicenseId", format!("license {number} is also on line {first}")));
    }
    if tx.license(id)?.is_some() {
        let msg = format!("license {number} already exists on server '{}'", pools.server.name);
        return Err(row.err("LicenseId", msg));
    }
    let keypack = keys::row_id(ordinal, row.id("KeyPackId")? as u32);
    let server = pools.server.name.clone();
    let pack = pools.pack(tx, row, keypack)?;
    if pack.cal == CalType::User {
        let msg = format!("key pack {} is per user: licenses are per-device CALs", pack.number());
        return Err(row.err("KeyPackId", msg));
    }
    let (kind, status) = kind_and_status(row, pack)?;
    let computer = row.name("sIssuedToComputer")?;
    if computer.is_empty() {
        return Err(row.err("sIssuedToComputer", "the computer name is empty"));
    }
    let issued = row.time("IssueDate")?;
    let expires = row.time("ExpirationDate")?;
    if expires < issued {
        return Err(row.err("ExpirationDate", format!("'{}' is before the IssueDate", row.get("ExpirationDate")?)));
    }
    let product = match row.non_empty("Product") {
        Some(p) => Product::parse(p).ok_or_else(|| row.err("Product", format!("'{}' is not a product", shown(p))))?,
        None => pack.product,
    };
    let validated = match row.non_empty("Validated") {
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => return Err(row.err("Validated", format!("'{}' is not true or false", shown(v)))),
        None => status != LicenseStatus::Temporary,
    };
    Ok(LicenseRec {
        id,
        keypack,
        server,
        kind,
        status,
        hwid: hwid(row)?,
        computer,
        user: if row.opt("sIssuedToUser").is_some() { row.name("sIssuedToUser")? } else { String::new() },
        product,
        issued,
        expires,
        validated,
        revoked: row.opt_time("RevokedDate")?,
    })
}

/// A HWID: 40 hexadecimal digits, dashes and braces allowed between them.
fn hwid(row: &Row) -> Result<Hwid> {
    let text = row.get("sHardwareId")?;
    let digits: String = text.chars().filter(|c| !matches!(c, '-' | '{' | '}')).collect();
    Hwid::parse(&digits)
        .ok_or_else(|| row.err("sHardwareId", format!("'{}' is not a HWID (40 hexadecimal digits)", shown(text))))
}

/// The kind follows the key pack (its Kind column, if any, must agree) and
/// the status must be one that kind can have.
fn kind_and_status(row: &Row, pack: &KeypackRec) -> Result<(LicenseKind, LicenseStatus)> {
    let kind = if pack.kind == KeypackType::Temporary { LicenseKind::Temporary } else { LicenseKind::Permanent };
    if let Some(k) = row.non_empty("Kind")
        && LicenseKind::parse(k) != Some(kind)
    {
        let msg = format!("'{}' does not fit key pack {}, which issues {kind} licenses", shown(k), pack.number());
        return Err(row.err("Kind", msg));
    }
    let code = row.get("LicenseStatus")?;
    let temporary = kind == LicenseKind::Temporary;
    let (status, note) = code.parse().ok().and_then(|c| wmi::license_status(c, temporary)).ok_or_else(|| {
        let known = wmi::LICENSE_STATUSES;
        row.err("LicenseStatus", format!("'{}' is not a license status ({known})", shown(code)))
    })?;
    if let Some(n) = note {
        row.note(n);
    }
    let fits = match kind {
        LicenseKind::Temporary => {
            matches!(status, LicenseStatus::Temporary | LicenseStatus::Upgraded | LicenseStatus::Expired)
        }
        LicenseKind::Permanent => {
            matches!(status, LicenseStatus::Active | LicenseStatus::Revoked | LicenseStatus::Expired)
        }
    };
    if !fits {
        return Err(
            row.err("LicenseStatus", format!("'{}' ({status}) is not a status of a {kind} license", shown(code)))
        );
    }
    Ok((kind, status))
}
