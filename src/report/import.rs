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
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// A CSV file read record by record (a million-row export is not held in
/// memory): its header, then each record with its line.
pub struct CsvFile {
    head: Head,
    reader: csv::Reader<Tracked>,
    /// Lines before the body (the `#TYPE` line).
    skipped: u64,
    /// Newlines counted so far, up to `Tracked::ends`' front.
    newlines: u64,
    /// The file's size in bytes, for progress.
    pub size: u64,
    record: csv::ByteRecord,
}

/// The file's name and header: what each row's fields are looked up in.
pub struct Head {
    pub name: String,
    /// The header's names, trimmed, each with its field's position.
    columns: Vec<(String, usize)>,
    header_line: u64,
}

/// The text of a UTF-16 file (what Windows PowerShell 5.1 writes with
/// `-Encoding Unicode`), from after its byte order mark.
fn decode_utf16(bytes: &[u8], be: bool, name: &str) -> Result<String> {
    let units = bytes.chunks(2).map(|c| {
        let pair = [c[0], c.get(1).copied().unwrap_or(0)];
        if be { u16::from_be_bytes(pair) } else { u16::from_le_bytes(pair) }
    });
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| Error::plan(format!("{name}: the file is not UTF-16 text")))
}

/// The body's bytes as the csv reader takes them, keeping the offsets of
/// the line-end bytes (`\r`, `\n`) it has not been asked about yet: a
/// record's line is counted from them (the csv crate's own line count lags
/// by one after a CRLF), lines ending in `\n`, `\r\n` or a lone `\r`.
/// Only the reader's read-ahead is ever kept.
struct Tracked {
    inner: Box<dyn Read>,
    at: u64,
    ends: VecDeque<(u64, u8)>,
    /// Bytes handed to the reader since it last returned a record: past
    /// `RECORD_MAX_BYTES` (and the reader's read-ahead), reading stops, so
    /// a record never grows without bound (`/dev/zero`, a 100 MB field).
    since_record: u64,
}

/// The longest record (line) IMPORT reads, in bytes.
pub const RECORD_MAX_BYTES: u64 = 1 << 20;
/// Slack for the csv reader's read-ahead, which belongs to later records.
const READ_AHEAD_BYTES: u64 = 64 << 10;
/// The largest UTF-16 file IMPORT converts (it is decoded whole).
pub const UTF16_MAX_BYTES: u64 = 256 << 20;
/// The error text of a record past the limit, recognised by `next_record`.
const TOO_LONG: &str = "record too long";

impl Read for Tracked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since_record > RECORD_MAX_BYTES + READ_AHEAD_BYTES {
            return Err(std::io::Error::other(TOO_LONG));
        }
        let n = self.inner.read(buf)?;
        self.since_record += n as u64;
        for (i, b) in buf[..n].iter().enumerate() {
            if matches!(b, b'\r' | b'\n') {
                self.ends.push_back((self.at + i as u64, *b));
            }
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// Consumes one line and its end (`\n`, `\r\n` or a lone `\r`).
fn skip_line(input: &mut dyn BufRead) -> std::io::Result<()> {
    loop {
        let buf = input.fill_buf()?;
        let Some(i) = buf.iter().position(|b| matches!(b, b'\r' | b'\n')) else {
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf.len();
            input.consume(n);
            continue;
        };
        let cr = buf[i] == b'\r';
        input.consume(i + 1);
        if cr && input.fill_buf()?.first() == Some(&b'\n') {
            input.consume(1);
        }
        return Ok(());
    }
}

impl CsvFile {
    /// Opens the file and reads its header: UTF-8 (a byte order mark
    /// allowed) or UTF-16 with its byte order mark, an optional `#TYPE`
    /// first line.
    pub fn open(path: &Path, name: &str) -> Result<CsvFile> {
        let cannot = |e: std::io::Error| Error::plan(format!("cannot read '{name}': {e}"));
        let file = std::fs::File::open(path).map_err(cannot)?;
        let size = file.metadata().map_err(cannot)?.len();
        let mut input: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 16, file));
        let head = input.fill_buf().map_err(cannot)?;
        if let Some(be) = match head.get(..2) {
            Some([0xFF, 0xFE]) => Some(false),
            Some([0xFE, 0xFF]) => Some(true),
            _ => None,
        } {
            let mut bytes = Vec::new();
            input.take(UTF16_MAX_BYTES + 1).read_to_end(&mut bytes).map_err(cannot)?;
            if bytes.len() as u64 > UTF16_MAX_BYTES {
                return Err(Error::plan(format!(
                    "{name}: a UTF-16 file larger than {UTF16_MAX_BYTES} bytes: save it as UTF-8 to import it"
                )));
            }
            let text = decode_utf16(&bytes[2..], be, name)?;
            input = Box::new(std::io::Cursor::new(text.into_bytes()));
        }
        if input.fill_buf().map_err(cannot)?.starts_with("\u{feff}".as_bytes()) {
            input.consume(3);
        }
        let skipped = if input.fill_buf().map_err(cannot)?.starts_with(b"#TYPE") {
            skip_line(&mut input).map_err(cannot)?;
            1
        } else {
            0
        };
        let tracked = Tracked { inner: Box::new(input), at: 0, ends: VecDeque::new(), since_record: 0 };
        let reader = csv::ReaderBuilder::new().flexible(true).from_reader(tracked);
        let head = Head { name: name.to_string(), columns: Vec::new(), header_line: skipped + 1 };
        let mut file = CsvFile { head, reader, skipped, newlines: 0, size, record: csv::ByteRecord::new() };
        let header = match file.reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(file.bad(e)),
        };
        let header = csv::StringRecord::from_byte_record(header).map_err(|e| file.not_utf8(e))?;
        if header.iter().all(|h| h.trim().is_empty()) {
            return Err(Error::plan(format!("{name}: line {}: no header row", skipped + 1)));
        }
        file.head.columns = header.iter().enumerate().map(|(i, h)| (h.trim().to_string(), i)).collect();
        Ok(file)
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// How far into the file reading is, in bytes.
    pub fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Errors unless the header names every column in `required`.
    pub fn require(&self, required: &[&str]) -> Result<()> {
        for col in required {
            if self.head.column(col).is_none() {
                return Err(Error::plan(format!(
                    "{}: line {}, column {col}: the header has no such column",
                    self.head.name, self.head.header_line
                )));
            }
        }
        Ok(())
    }

    /// The next record that is not blank, with its line; `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<(u64, csv::StringRecord)>> {
        loop {
            let more = self.reader.read_byte_record(&mut self.record).map_err(|e| self.bad(e))?;
            self.reader.get_mut().since_record = 0;
            if !more {
                return Ok(None);
            }
            let start = self.record.position().map(csv::Position::byte);
            let line = start.map_or(0, |b| self.line_at(b));
            if self.record.len() == 1 && self.record[0].trim_ascii().is_empty() {
                continue;
            }
            let record = csv::StringRecord::from_byte_record(self.record.clone()).map_err(|e| self.not_utf8(e))?;
            return Ok(Some((line, record)));
        }
    }

    /// The line of the body's byte `byte`, skipping the line ends it
    /// starts on; bytes must be asked about in increasing order.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut start = byte;
        let ends = &mut self.reader.get_mut().ends;
        while let Some(&(at, b)) = ends.front() {
            if at > start {
                break;
            }
            if at == start {
                start += 1;
            }
            ends.pop_front();
            // A line ends at `\n`, or at a `\r` not followed by one (the
            // reader has read past it: a record starts after it)
            let crlf = b == b'\r' && ends.front().is_some_and(|&(next, nb)| next == at + 1 && nb == b'\n');
            self.newlines += u64::from(!crlf);
        }
        self.skipped + self.newlines + 1
    }

    fn bad(&mut self, e: csv::Error) -> Error {
        if let csv::ErrorKind::Io(io) = e.kind()
            && io.to_string() == TOO_LONG
        {
            let line = self.line_at(self.reader.position().byte());
            let name = &self.head.name;
            return Error::plan(format!("{name}: line {line}: a record longer than {RECORD_MAX_BYTES} bytes"));
        }
        let line = e.position().map_or(self.skipped + 1, |p| self.line_at(p.byte()));
        Error::plan(format!("{}: line {line}: {e}", self.head.name))
    }

    /// A record that is not UTF-8: the error names the line of the bad byte.
    fn not_utf8(&mut self, e: csv::FromUtf8Error) -> Error {
        let record = e.into_byte_record();
        let start = record.position().map_or(self.skipped + 1, |p| self.line_at(p.byte()));
        let before: u64 = record
            .iter()
            .take_while(|f| std::str::from_utf8(f).is_ok())
            .map(|f| f.iter().filter(|b| **b == b'\n').count() as u64)
            .sum();
        Error::plan(format!("{}: line {}: the file is not UTF-8 text", self.head.name, start + before))
    }
}

impl Head {
    /// The position of column `col`, named in any case; of a name the header
    /// repeats, the last.
    fn column(&self, col: &str) -> Option<usize> {
        self.columns.iter().rev().find(|(h, _)| h.eq_ignore_ascii_case(col)).map(|&(_, i)| i)
    }

    pub fn row<'a>(&'a self, line: u64, record: &'a csv::StringRecord) -> Row<'a> {
        Row { file: self, line, record }
    }
}

/// One row, with typed access to its fields by column name.
pub struct Row<'a> {
    file: &'a Head,
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
        self.non_empty("Server").is_none_or(|s| crate::model::same_name(s, server))
    }

    /// The field, or `None` when the file has no such column.
    pub fn opt(&self, col: &str) -> Option<&str> {
        let i = self.file.column(col)?;
        Some(wmi::unguard(self.record.get(i).unwrap_or("").trim()))
    }

    /// The field of a required column; a short row is an error.
    pub fn get(&self, col: &str) -> Result<&str> {
        let i = self.file.column(col).unwrap_or(usize::MAX);
        let field = self.record.get(i).map(|f| wmi::unguard(f.trim()));
        field.ok_or_else(|| self.err(col, "the row has no field for this column"))
    }

    /// The field, `None` when the column is absent or the field empty.
    pub fn non_empty(&self, col: &str) -> Option<&str> {
        self.opt(col).filter(|v| !v.is_empty())
    }

    pub fn int(&self, col: &str) -> Result<u64> {
        let v = self.get(col)?;
        v.parse().map_err(|_| self.err(col, format!("'{}' is not a whole number", shown(v))))
    }

    pub fn id(&self, col: &str) -> Result<u64> {
        let n = self.int(col)?;
        if n == 0 || n > u64::from(u32::MAX) {
            return Err(self.err(col, format!("'{n}' is not an id (1 to {})", u32::MAX)));
        }
        Ok(n)
    }

    pub fn time_text(&self, col: &str, v: &str) -> Result<Time> {
        wmi::parse_time(v).ok_or_else(|| self.err(col, format!("'{}' is not a time", shown(v))))
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
            return Err(self.err(col, format!("'{}' holds a control character", shown(v).escape_debug())));
        }
        let chars = v.chars().count();
        if chars > NAME_MAX_LEN {
            let message = format!("'{}' is longer than {NAME_MAX_LEN} characters ({chars})", shown(v));
            return Err(self.err(col, message));
        }
        Ok(v.to_string())
    }
}

/// A field as an error quotes it: its first 40 characters, then `...`
/// (an overlong field is not echoed whole).
pub(super) fn shown(v: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN_CHARS: usize = 40;
    match v.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}...", &v[..end]).into(),
        None => v.into(),
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
    let s = tx.server(server)?.ok_or_else(|| crate::protocol::names::no_such_in(&*tx, "server", server))?;
    let mut file = CsvFile::open(path, name)?;
    file.require(&KEYPACK_REQUIRED)?;
    let mut imported = 0u64;
    while let Some((line, record)) = file.next_record()? {
        let row = file.head().row(line, &record);
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
            format!("'{}' is not a key pack type (1 retail, 2 volume, 3 concurrent, 4 temporary, 5 open)", shown(code)),
        )
    })?;
    let cal = match row.get("ProductType")? {
        "0" => CalType::Device,
        "1" => CalType::User,
        other => {
            return Err(
                row.err("ProductType", format!("'{}' is not a CAL type (0 per device, 1 per user)", shown(other)))
            );
        }
    };
    let (col, text) = match row.non_empty("Product") {
        Some(p) => ("Product", p),
        None => ("ProductVersion", row.get("ProductVersion")?),
    };
    let product = wmi::parse_product(text)
        .filter(|p| *p != Product::Ws2012R2)
        .ok_or_else(|| row.err(col, format!("'{}' is not a product caldb knows", shown(text))))?;
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
    let own = tx.keypacks()?.into_iter().find(|p| crate::model::same_name(&p.server, &k.server) && p.kind == KeypackType::Temporary);
    let Some(own) = own else {
        return Err(row.err("KeyPackType", format!("server '{}' has no temporary key pack to replace", k.server)));
    };
    if own.id == k.id {
        k.issued = own.issued;
        return tx.put_keypack(&k);
    }
    if !tx.licenses_of_keypacks(&[own.id])?.is_empty() {
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
