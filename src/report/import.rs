//! IMPORT: reading what PowerShell's `Export-Csv` writes (an optional
//! `#TYPE` line, a header, quoted or bare fields, columns in any order,
//! extra columns ignored) and importing key packs. Every problem is an error
//! naming the file, the line and the column; the caller's transaction is
//! then dropped, so nothing is imported. Rows whose caldb `Server` column
//! names another server are skipped, so a whole-database export imports
//! server by server. Ids are kept: a collision is an
//! error, so an export imported into a fresh database gives the same rows.

use super::wmi;
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::{KeypackRec, Records, State, WriteTx};
use std::collections::HashMap;
use std::path::Path;

/// A CSV file read whole: its header and its rows, each with its line.
pub struct CsvFile {
    pub name: String,
    columns: HashMap<String, usize>,
    header_line: u64,
    pub rows: Vec<(u64, csv::StringRecord)>,
}

/// The line (1-based) of byte `offset` of `text`.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    bytes[..offset.min(bytes.len())].iter().filter(|b| **b == b'\n').count() as u64 + 1
}

/// The text of the file: UTF-8, or UTF-16 with its byte order mark (what
/// Windows PowerShell 5.1 writes with `-Encoding Unicode`).
fn decode(bytes: Vec<u8>, name: &str) -> Result<String> {
    let utf16 = |be: bool| {
        let units = bytes[2..].chunks(2).map(|c| {
            let pair = [c[0], c.get(1).copied().unwrap_or(0)];
            if be { u16::from_be_bytes(pair) } else { u16::from_le_bytes(pair) }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| Error::plan(format!("{name}: the file is not UTF-16 text")))
    };
    match bytes.get(..2) {
        Some([0xFF, 0xFE]) => utf16(false),
        Some([0xFE, 0xFF]) => utf16(true),
        _ => String::from_utf8(bytes).map_err(|e| {
            let line = line_of(e.as_bytes(), e.utf8_error().valid_up_to());
            Error::plan(format!("{name}: line {line}: the file is not UTF-8 text"))
        }),
    }
}

/// The lines of records, read in order. The csv crate's own line count
/// lags by one after a CRLF, so count the newlines before the first byte of
/// each record instead, from where the previous record started.
#[derive(Default)]
struct LineCounter {
    at: usize,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, bytes: &[u8], byte: u64) -> u64 {
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.at {
            (self.at, self.line) = (0, 0);
        }
        self.line += bytes[self.at..start].iter().filter(|b| **b == b'\n').count() as u64;
        self.at = start;
        self.line + 1
    }
}

impl CsvFile {
    pub fn read(path: &Path, name: &str) -> Result<CsvFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::plan(format!("cannot read '{name}': {e}")))?;
        let text = decode(bytes, name)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let (body, skipped) = match text.strip_prefix("#TYPE") {
            Some(rest) => (rest.split_once('\n').map_or("", |(_, b)| b), 1),
            None => (text, 0),
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(body.as_bytes());
        let mut lines = LineCounter::default();
        let mut line_at = |byte: u64| skipped + lines.line_at(body.as_bytes(), byte);
        let bad = |e: csv::Error| {
            let line = e.position().map_or(skipped + 1, |p| skipped + line_of(body.as_bytes(), p.byte() as usize));
            Error::plan(format!("{name}: line {line}: {e}"))
        };
        let header = reader.headers().map_err(bad)?.clone();
        if header.iter().all(|h| h.trim().is_empty()) {
            return Err(Error::plan(format!("{name}: line {}: no header row", skipped + 1)));
        }
        let columns = header.iter().enumerate().map(|(i, h)| (h.trim().to_ascii_lowercase(), i)).collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(bad)?;
            let line = record.position().map_or(0, |p| line_at(p.byte()));
            if record.len() == 1 && record[0].trim().is_empty() {
                continue;
            }
            rows.push((line, record));
        }
        Ok(CsvFile { name: name.to_string(), columns, header_line: skipped + 1, rows })
    }

    /// Errors unless the header names every column in `required`.
    pub fn require(&self, required: &[&str]) -> Result<()> {
        for col in required {
            if !self.columns.contains_key(&col.to_ascii_lowercase()) {
                return Err(Error::plan(format!(
                    "{}: line {}, column {col}: the header has no such column",
                    self.name, self.header_line
                )));
            }
        }
        Ok(())
    }

    pub fn row<'a>(&'a self, line: u64, record: &'a csv::StringRecord) -> Row<'a> {
        Row { file: self, line, record }
    }
}

/// One row, with typed access to its fields by column name.
pub struct Row<'a> {
    file: &'a CsvFile,
    pub line: u64,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    pub fn err(&self, col: &str, message: impl std::fmt::Display) -> Error {
        Error::plan(format!("{}: line {}, column {col}: {message}", self.file.name, self.line))
    }

    /// Whether the row is for `server`: rows whose caldb `Server` column
    /// names another server are skipped (a Windows export has no such
    /// column: all its rows are for the server imported into).
    pub fn is_for(&self, server: &str) -> bool {
        self.non_empty("Server").is_none_or(|s| s == server)
    }

    /// The field, or `None` when the file has no such column.
    pub fn opt(&self, col: &str) -> Option<&str> {
        let i = *self.file.columns.get(&col.to_ascii_lowercase())?;
        Some(self.record.get(i).unwrap_or("").trim())
    }

    /// The field of a required column; a short row is an error.
    pub fn get(&self, col: &str) -> Result<&str> {
        let i = self.file.columns.get(&col.to_ascii_lowercase()).copied().unwrap_or(usize::MAX);
        self.record.get(i).map(str::trim).ok_or_else(|| self.err(col, "the row has no field for this column"))
    }

    /// The field, `None` when the column is absent or the field empty.
    pub fn non_empty(&self, col: &str) -> Option<&str> {
        self.opt(col).filter(|v| !v.is_empty())
    }

    pub fn int(&self, col: &str) -> Result<u64> {
        let v = self.get(col)?;
        v.parse().map_err(|_| self.err(col, format!("'{v}' is not a whole number")))
    }

    pub fn id(&self, col: &str) -> Result<u64> {
        let n = self.int(col)?;
        if n == 0 || n > u64::from(u32::MAX) {
            return Err(self.err(col, format!("'{n}' is not an id (1 to {})", u32::MAX)));
        }
        Ok(n)
    }

    pub fn time_text(&self, col: &str, v: &str) -> Result<Time> {
        wmi::parse_time(v).ok_or_else(|| self.err(col, format!("'{v}' is not a time")))
    }

    pub fn time(&self, col: &str) -> Result<Time> {
        let v = self.get(col)?;
        self.time_text(col, v)
    }

    /// An optional time: absent column or empty field is `None`.
    pub fn opt_time(&self, col: &str) -> Result<Option<Time>> {
        self.non_empty(col).map(|v| self.time_text(col, v)).transpose()
    }

    /// Text stored as a name: no control characters, at most 255 characters.
    pub fn name(&self, col: &str) -> Result<String> {
        let v = self.get(col)?;
        if v.chars().any(char::is_control) {
            return Err(self.err(col, format!("'{}' holds a control character", v.escape_debug())));
        }
        if v.chars().count() > NAME_MAX_LEN {
            return Err(self.err(col, format!("'{v}' is longer than {NAME_MAX_LEN} characters")));
        }
        Ok(v.to_string())
    }
}

const KEYPACK_REQUIRED: [&str; 5] = ["KeyPackId", "KeyPackType", "ProductType", "ProductVersion", "TotalLicenses"];

/// Imports the key packs of a Win32_TSLicenseKeyPack export into `server`;
/// the number imported. A temporary pack (KeyPackType 4) becomes the
/// server's own temporary pack, taking its id if that pack holds no license.
/// IssuedLicenses and AvailableLicenses are not read: a pack's issued count
/// is that of its licenses, which IMPORT LICENSES brings.
pub fn import_keypacks(
    tx: &mut WriteTx,
    state: &mut State,
    now: Time,
    path: &Path,
    name: &str,
    server: &str,
) -> Result<u64> {
    let s = tx.server(server)?.ok_or_else(|| Error::plan_near(format!("no server named '{server}'"), server))?;
    let file = CsvFile::read(path, name)?;
    file.require(&KEYPACK_REQUIRED)?;
    let mut imported = 0u64;
    for (line, record) in &file.rows {
        let row = file.row(*line, record);
        if !row.is_for(server) {
            continue;
        }
        imported += 1;
        let k = parse_keypack(&row, &s, now)?;
        state.next_keypack = state.next_keypack.max(k.id + 1);
        if k.kind == KeypackType::Temporary {
            take_temporary(tx, &row, k)?;
        } else {
            if let Some(old) = tx.keypack(k.id)? {
                return Err(row.err("KeyPackId", format!("key pack {} already exists (server '{}')", k.id, old.server)));
            }
            tx.put_keypack(&k)?;
        }
    }
    Ok(imported)
}

fn parse_keypack(row: &Row, s: &crate::store::ServerRec, now: Time) -> Result<KeypackRec> {
    let id = row.id("KeyPackId")?;
    let code = row.get("KeyPackType")?;
    let kind = code.parse().ok().and_then(KeypackType::from_wmi_code).ok_or_else(|| {
        row.err(
            "KeyPackType",
            format!("'{code}' is not a key pack type (1 retail, 2 volume, 3 concurrent, 4 temporary, 5 open)"),
        )
    })?;
    let cal = match row.get("ProductType")? {
        "0" => CalType::Device,
        "1" => CalType::User,
        other => return Err(row.err("ProductType", format!("'{other}' is not a CAL type (0 per device, 1 per user)"))),
    };
    let (col, text) = match row.non_empty("Product") {
        Some(p) => ("Product", p),
        None => ("ProductVersion", row.get("ProductVersion")?),
    };
    let product = wmi::parse_product(text)
        .filter(|p| *p != Product::Ws2012R2)
        .ok_or_else(|| row.err(col, format!("'{text}' is not a product caldb knows")))?;
    if product > s.product {
        return Err(row.err(col, format!("server '{}' is {} and cannot hold {product} CALs", s.name, s.product)));
    }
    let total = if kind == KeypackType::Temporary {
        if cal != CalType::Device {
            return Err(row.err("ProductType", "a temporary key pack is per device"));
        }
        None
    } else {
        let n = row.int("TotalLicenses")?;
        if n == 0 || n > u64::from(u32::MAX) {
            return Err(row.err("TotalLicenses", format!("a key pack holds 1 to {} CALs, not {n}", u32::MAX)));
        }
        Some(n)
    };
    let expires = row.opt_time("ExpirationDate")?;
    let installed = row.opt_time("InstalledDate")?.unwrap_or(now);
    Ok(KeypackRec { id, server: s.name.clone(), product, cal, kind, total, issued: 0, installed, expires })
}

/// The server's temporary pack takes the imported one's id and attributes.
fn take_temporary(tx: &mut WriteTx, row: &Row, mut k: KeypackRec) -> Result<()> {
    let own = tx.keypacks()?.into_iter().find(|p| p.server == k.server && p.kind == KeypackType::Temporary);
    let Some(own) = own else {
        return Err(row.err("KeyPackType", format!("server '{}' has no temporary key pack to replace", k.server)));
    };
    if own.id == k.id {
        k.issued = own.issued;
        return tx.put_keypack(&k);
    }
    if !tx.licenses_of_keypack(own.id)?.is_empty() {
        return Err(row.err(
            "KeyPackId",
            format!("server '{}' already has temporary key pack {}, which holds licenses", k.server, own.id),
        ));
    }
    if let Some(old) = tx.keypack(k.id)? {
        return Err(row.err("KeyPackId", format!("key pack {} already exists (server '{}')", k.id, old.server)));
    }
    tx.delete(crate::store::T::Keypacks, &crate::store::keys::id(own.id))?;
    tx.put_keypack(&k)
}
