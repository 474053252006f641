//! IMPORT LICENSES: the rows of a Win32_TSIssuedLicense export become
//! licenses of one server, keeping their ids. Each license must draw on a
//! key pack of that server; the key packs' issued counts grow by the
//! imported licenses that hold a CAL, within their totals, and the revoked
//! ones stay within the revoke limit, so CHECK is clean afterwards.

use super::export::LICENSE_COLUMNS;
use super::import::{CsvFile, Row, shown};
use super::progress::Progress;
use crate::error::{Error, Result};
use crate::model::*;
use crate::protocol::admin::revoke_limit;
use crate::store::{KeypackRec, LicenseRec, Records, State, WriteTx};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The Win32_TSIssuedLicense properties an import needs: the first eight
/// columns of an export.
const REQUIRED: &[&str] = LICENSE_COLUMNS.split_at(8).0;

/// The server's key packs and what the import adds to them.
struct Pools {
    packs: BTreeMap<u64, KeypackRec>,
    /// Installed per-device CALs and licenses in the revoked state, per product.
    revoke: BTreeMap<Product, (u64, u64)>,
    /// The line each imported id came from.
    seen: HashMap<u64, u64>,
}

impl Pools {
    fn load(tx: &WriteTx, server: &str) -> Result<Pools> {
        let mut packs = BTreeMap::new();
        let mut revoke: BTreeMap<Product, (u64, u64)> = BTreeMap::new();
        for k in tx.keypacks()?.into_iter().filter(|k| same_name(&k.server, server)) {
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
        Ok(Pools { packs, revoke, seen: HashMap::new() })
    }

    /// Counts a license against its pack and the revoke limit.
    fn take(&mut self, row: &Row, l: &LicenseRec) -> Result<()> {
        let pack = self.packs.get_mut(&l.keypack).ok_or_else(|| Error::plan("key pack vanished"))?;
        if pack.holds_cal(l.status) {
            if let Some(total) = pack.total
                && pack.issued >= total
            {
                let msg =
                    format!("key pack {} holds {total} CALs, all issued: license {} is one too many", pack.id, l.id);
                return Err(row.err("KeyPackId", msg));
            }
            pack.issued += 1;
        }
        if l.status == LicenseStatus::Revoked {
            let (installed, revoked) = self.revoke.entry(l.product).or_default();
            *revoked += 1;
            let limit = revoke_limit(*installed);
            if *revoked > limit {
                let msg = format!(
                    "license {} would make {revoked} revoked {} licenses on server '{}', above the limit of {limit}",
                    l.id, l.product, l.server
                );
                return Err(row.err("LicenseStatus", msg));
            }
        }
        Ok(())
    }
}

/// Imports the licenses of `path` into `server`; the number imported.
pub fn import_licenses(tx: &mut WriteTx, state: &mut State, path: &Path, name: &str, server: &str) -> Result<u64> {
    // The licenses carry the server's stored spelling, however the
    // statement wrote its name.
    let stored = tx.server(server)?.ok_or_else(|| crate::protocol::names::no_such_in(&*tx, "server", server))?;
    let server = stored.name.as_str();
    let mut file = CsvFile::open(path, name)?;
    file.require(REQUIRED)?;
    let mut pools = Pools::load(tx, server)?;
    let mut bar = Progress::bytes("importing licenses", file.size);
    let mut imported = 0u64;
    let mut chunk = Vec::new();
    while let Some((line, record)) = file.next_record()? {
        let row = file.head().row(line, &record);
        bar.tick(file.position())?;
        if !row.is_for(server) {
            continue;
        }
        imported += 1;
        let l = parse_license(tx, &row, &pools, server)?;
        pools.take(&row, &l)?;
        pools.seen.insert(l.id, line);
        state.next_license = state.next_license.max(l.id + 1);
        chunk.push(l);
        if chunk.len() == CHUNK {
            tx.insert_new_licenses(&mut chunk)?;
            chunk.clear();
        }
    }
    tx.insert_new_licenses(&mut chunk)?;
    for k in pools.packs.values() {
        tx.put_keypack(k)?;
    }
    Ok(imported)
}

/// Licenses written at a time: each index takes a chunk's entries in key
/// order (a chunk of 100,000 holds some 30 MB).
const CHUNK: usize = 100_000;

fn parse_license(tx: &WriteTx, row: &Row, pools: &Pools, server: &str) -> Result<LicenseRec> {
    let id = row.id("LicenseId")?;
    if let Some(first) = pools.seen.get(&id) {
        return Err(row.err("LicenseId", format!("license {id} is also on line {first}")));
    }
    if tx.license(id)?.is_some() {
        return Err(row.err("LicenseId", format!("license {id} already exists")));
    }
    let keypack = row.id("KeyPackId")?;
    let pack = pools
        .packs
        .get(&keypack)
        .ok_or_else(|| row.err("KeyPackId", format!("key pack {keypack} is not on server '{server}'")))?;
    if pack.cal == CalType::User {
        return Err(row.err("KeyPackId", format!("key pack {keypack} is per user: licenses are per-device CALs")));
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
        server: server.to_string(),
        kind,
        status,
        hwid: hwid(row)?,
        computer,
        user: row.name("sIssuedToUser")?,
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
        return Err(
            row.err("Kind", format!("'{}' does not fit key pack {}, which issues {kind} licenses", shown(k), pack.id))
        );
    }
    let code = row.get("LicenseStatus")?;
    let status = code.parse().ok().and_then(LicenseStatus::from_wmi_code).ok_or_else(|| {
        let known = "0 expired, 1 temporary, 2 active, 3 upgraded, 4 revoked";
        row.err("LicenseStatus", format!("'{}' is not a license status caldb knows ({known})", shown(code)))
    })?;
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
