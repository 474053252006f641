//! IMPORT USERS: per-user CALs from Active Directory, the only record of
//! them. A user object carries up to four (`msTSLicenseVersion`,
//! `msTSExpireDate`, `msTSManagingLS`, then the same names ending in 2, 3
//! and 4 on newer schemas); each becomes a `user_cals` row of the server
//! `msTSManagingLS` names when that is a server of the database, else of
//! the server imported into. Read from `Get-ADUser ... | Export-Csv` (any
//! writer `CsvFile` reads) or from an `ldifde` export (LDIF), the form told
//! by the file's first line (`dn:`/`version:`) or its `.ldf`/`.ldif` name.
//! An issue time is not stored in AD: it is taken as the expiry less the
//! 60 days a per-user CAL lasts.

use super::import::{CsvFile, Row, shown};
use super::read::dates::Dates;
use super::read::ldif::{Entry, Ldif};
use super::read::{Imported, Notes, Options, decode};
use super::wmi;
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::{KeypackRec, Records, UserCalRec, WriteTx};
use std::collections::BTreeMap;
use std::path::Path;

/// The columns of a Get-ADUser export IMPORT USERS reads (for detecting the
/// delimiter).
const USER_COLUMNS: [&str; 16] = [
    "SamAccountName",
    "Name",
    "DistinguishedName",
    "msTSExpireDate",
    "msTSLicenseVersion",
    "msTSManagingLS",
    "msTSExpireDate2",
    "msTSLicenseVersion2",
    "msTSManagingLS2",
    "msTSExpireDate3",
    "msTSLicenseVersion3",
    "msTSManagingLS3",
    "msTSExpireDate4",
    "msTSLicenseVersion4",
    "msTSManagingLS4",
    "UserPrincipalName",
];

/// A per-user CAL lasts 60 days from its issue (rds-facts section 3).
const USER_CAL_DAYS: i64 = 60;

/// One user's fields, from a CSV row or an LDIF entry.
trait Source {
    /// The field, trimmed; `None` when absent or empty.
    fn field(&self, col: &str) -> Option<&str>;
    fn err(&self, col: &str, message: String) -> Error;
    fn time(&self, col: &str) -> Result<Option<Time>>;
    fn note(&self, what: String);
}

impl Source for Row<'_> {
    fn field(&self, col: &str) -> Option<&str> {
        self.non_empty(col)
    }
    fn err(&self, col: &str, message: String) -> Error {
        Row::err(self, col, message)
    }
    fn time(&self, col: &str) -> Result<Option<Time>> {
        self.opt_time(col)
    }
    fn note(&self, what: String) {
        Row::note(self, what);
    }
}

struct LdifRow<'a> {
    entry: &'a Entry,
    name: &'a str,
    dates: &'a Dates,
    notes: &'a Notes,
}

impl Source for LdifRow<'_> {
    fn field(&self, col: &str) -> Option<&str> {
        self.entry.get(col).map(|(v, _)| v.trim()).filter(|v| !v.is_empty())
    }
    fn err(&self, col: &str, message: String) -> Error {
        let line = self.entry.get(col).map_or(self.entry.line, |(_, l)| l);
        Error::plan(format!("{}: line {line}, attribute {col}: {message}", self.name))
    }
    fn time(&self, col: &str) -> Result<Option<Time>> {
        let Some(v) = self.field(col) else { return Ok(None) };
        let line = self.entry.get(col).map_or(self.entry.line, |(_, l)| l);
        let t = self.dates.parse(v, line, self.notes).map_err(|why| self.err(col, format!("'{}' {why}", shown(v))))?;
        Ok(Some(t))
    }
    fn note(&self, what: String) {
        self.notes.add(what);
    }
}

/// The note's word for an AD user without a per-user CAL.
const NO_CAL: &str = "users without a per-user CAL (msTSLicenseVersion and msTSExpireDate), passed over";

/// What every row is read against: the servers and their per-user products.
struct Target {
    default: String,
    /// Each server (by its name folded to lower case) with its name and the
    /// products of its purchased per-user key packs.
    servers: BTreeMap<String, (String, Vec<Product>)>,
}

/// Imports the per-user CALs of an AD export into `server` (and the
/// servers its `msTSManagingLS` values name).
pub fn import_users(tx: &mut WriteTx, file: (&Path, &str, &Options), server: &str) -> Result<Imported> {
    let (path, name, opts) = file;
    let target = target(tx, server)?;
    let text = decode::open(path, name, opts)?;
    if text.empty {
        return Ok(Imported::empty());
    }
    let mut input = text.input;
    let head = std::io::BufRead::fill_buf(&mut input).map_err(|e| Error::plan(format!("{name}: line 1: {e}")))?;
    let lower = String::from_utf8_lossy(&head[..head.len().min(16)]).to_ascii_lowercase();
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let ldif = lower.starts_with("dn:")
        || lower.starts_with("version:")
        || (matches!(ext.as_deref(), Some("ldf" | "ldif")) && !lower.starts_with("#type"));
    if ldif {
        return from_ldif(tx, Ldif::new(input, name), name, opts, &target);
    }
    drop(input);
    let Some(mut file) = CsvFile::open(path, name, opts, &USER_COLUMNS)? else {
        return Ok(Imported::empty());
    };
    file.require_one_of(&["SamAccountName", "Name", "DistinguishedName"])?;
    let (mut rows, mut passed_over) = (0u64, 0u64);
    while let Some((line, record)) = file.next_record()? {
        let row = file.head().row(line, &record);
        match user_cals(&row, &target)? {
            cals if cals.is_empty() => {
                row.note(NO_CAL);
                passed_over += 1;
            }
            cals => rows += store(tx, &row, cals)?,
        }
    }
    Ok(Imported::new(rows, passed_over, file.notes()))
}

fn from_ldif(tx: &mut WriteTx, mut ldif: Ldif, name: &str, opts: &Options, target: &Target) -> Result<Imported> {
    let dates = Dates::new(opts.culture, opts.zone);
    let notes = Notes::default();
    let (mut rows, mut passed_over) = (0u64, 0u64);
    while let Some(entry) = ldif.next_entry()? {
        let row = LdifRow { entry: &entry, name, dates: &dates, notes: &notes };
        match user_cals(&row, target)? {
            cals if cals.is_empty() => {
                row.note(NO_CAL.to_string());
                passed_over += 1;
            }
            cals => rows += store(tx, &row, cals)?,
        }
    }
    Ok(Imported::new(rows, passed_over, &notes))
}

fn target(tx: &WriteTx, server: &str) -> Result<Target> {
    if tx.server(server)?.is_none() {
        return Err(Error::plan_near(format!("no server named '{server}'"), server));
    }
    let mut servers: BTreeMap<String, (String, Vec<Product>)> = BTreeMap::new();
    for s in tx.servers()? {
        servers.insert(fold_name(&s.name).into_owned(), (s.name.clone(), Vec::new()));
    }
    let per_user = |k: &KeypackRec| k.cal == CalType::User && k.kind != KeypackType::Temporary;
    for k in tx.keypacks()?.into_iter().filter(per_user) {
        if let Some((_, products)) = servers.get_mut(&fold_name(&k.server).into_owned()) {
            products.push(k.product);
        }
    }
    Ok(Target { default: server.to_string(), servers })
}

/// Writes a user's CALs; one already tracked (from the database or an
/// earlier row) keeps the later expiry. The number written.
fn store(tx: &mut WriteTx, src: &dyn Source, cals: Vec<UserCalRec>) -> Result<u64> {
    let mut n = 0;
    for cal in cals {
        if let Some(old) = tx.user_cal(&cal.server, &cal.user, cal.product)? {
            src.note("per-user CALs tracked already, the later expiry kept".to_string());
            if old.expires >= cal.expires {
                continue;
            }
        }
        tx.put_user_cal(&cal)?;
        n += 1;
    }
    Ok(n)
}

/// The user's per-user CALs (none: a user without one).
fn user_cals(src: &dyn Source, target: &Target) -> Result<Vec<UserCalRec>> {
    let user = user_name(src)?;
    let mut cals = Vec::new();
    for n in ["", "2", "3", "4"] {
        let (vcol, ecol, mcol) = (format!("msTSLicenseVersion{n}"), format!("msTSExpireDate{n}"), format!("msTSManagingLS{n}"));
        let version = src.field(&vcol);
        let expires = src.time(&ecol)?;
        let (version, expires) = match (version, expires) {
            (Some(v), Some(e)) => (v, e),
            (None, None) => continue,
            _ => {
                src.note("per-user CALs without both msTSLicenseVersion and msTSExpireDate, passed over".to_string());
                continue;
            }
        };
        let managing = src.field(&mcol);
        let (server, products) = match managing.and_then(|m| target.servers.get(fold_name(m).as_ref())) {
            Some((s, products)) => (s.clone(), products.as_slice()),
            None => {
                let (s, products) = &target.servers[fold_name(&target.default).as_ref()];
                (s.clone(), products.as_slice())
            }
        };
        let product = product_of(src, &vcol, version, products)?;
        let issued = Time(expires.0 - USER_CAL_DAYS * SECONDS_PER_DAY);
        cals.push(UserCalRec { server, user: user.clone(), product, issued, expires });
    }
    Ok(cals)
}

/// sAMAccountName, else Name, else the dn's first CN.
fn user_name(src: &dyn Source) -> Result<String> {
    let cn = |dn: &str| {
        let first = dn.split(',').next().unwrap_or(dn);
        first.split_once('=').map(|(_, v)| v.trim().to_string())
    };
    let (col, name) = if let Some(n) = src.field("sAMAccountName") {
        ("sAMAccountName", n.to_string())
    } else if let Some(n) = src.field("Name") {
        ("Name", n.to_string())
    } else if let Some(n) = src.field("dn").or_else(|| src.field("DistinguishedName")).and_then(cn) {
        ("dn", n)
    } else {
        return Err(src.err("sAMAccountName", "the row names no user (sAMAccountName, Name or dn)".to_string()));
    };
    if name.chars().any(char::is_control) || name.chars().count() > NAME_MAX_LEN {
        let why = format!("'{}' is not a user name (control characters, or over {NAME_MAX_LEN} characters)", shown(&name));
        return Err(src.err(col, why.escape_debug().to_string()));
    }
    Ok(name)
}

/// An msTSLicenseVersion: a product name (`Windows Server 2019`, `WS2019`),
/// a Windows version (`6.1`), or one packed as major << 16 | minor in
/// decimal or hex (`393217`, `0x60001`). 10.0 is every product since 2016:
/// the server's one per-user product of those, noted; otherwise an error.
fn product_of(src: &dyn Source, col: &str, text: &str, products: &[Product]) -> Result<Product> {
    if let Some(p) = wmi::parse_product(text).filter(|p| *p != Product::Ws2012R2) {
        return Ok(p);
    }
    let packed = |n: u32| (n >> 16, n & 0xFFFF);
    let version = if let Some((a, b)) = text.split_once('.') {
        a.trim().parse().ok().zip(b.trim().parse().ok())
    } else if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok().map(packed)
    } else {
        text.parse::<u32>().ok().filter(|n| *n > 0xFFFF).map(packed)
    };
    let unknown = || src.err(col, format!("'{}' is not a CAL version caldb knows", shown(text)));
    let (major, minor) = version.ok_or_else(unknown)?;
    if let Some(p) = wmi::product_of_nt_version(major, minor) {
        return Ok(p);
    }
    if major != 10 {
        return Err(unknown());
    }
    let recent: Vec<Product> = {
        let mut r: Vec<Product> = products.iter().copied().filter(|p| *p >= Product::Ws2016).collect();
        r.dedup();
        r
    };
    match recent.as_slice() {
        [p] => {
            src.note(format!("msTSLicenseVersion 10.0 read as {p}, the server's per-user key packs' product"));
            Ok(*p)
        }
        _ => Err(src.err(
            col,
            format!(
                "'{}' is Windows 10.0, a CAL of WS2016, WS2019, WS2022 or WS2025: the server's per-user key packs \
                 must name one of them (IMPORT KEYPACKS first; it has {})",
                shown(text),
                if recent.is_empty() { "none".to_string() } else { recent.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ") }
            ),
        )),
    }
}
