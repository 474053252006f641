//! IMPORT: reading what PowerShell's `Export-Csv` writes (an optional
//! `#TYPE` line, a header, quoted or bare fields, columns in any order,
//! extra columns ignored) and importing key packs. Every problem is an error
//! naming the file, the line and the column; the caller's transaction is
//! then dropped, so nothing is imported. Which server each row goes to is
//! `import_servers`'. Ids are kept as each server numbers them: a collision
//! is an error, so an export imported into a fresh database gives the same
//! rows.

use super::import_servers::Servers;
use super::read::{self, Imported, Notes, Options, dates::Dates, decode};
use super::wmi;
use crate::error::{Error, Result};
use crate::model::*;
use crate::protocol::Ctx;
use crate::store::{KeypackRec, Records, WriteTx};
use std::collections::VecDeque;
use std::io::{BufRead, Read};
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

/// The file's name and header: what each row's fields are looked up in,
/// how its times are read, and the notes of what was read differently.
pub struct Head {
    pub name: String,
    /// The header's names, trimmed, each with its field's position.
    columns: Vec<(String, usize)>,
    header_line: u64,
    /// The delimiter, and whether the statement named it.
    delimiter: (u8, bool),
    pub dates: Dates,
    pub notes: Notes,
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

/// The delimiter of `,` `;` tab whose split of the header line names the
/// most of the `known` columns (`,` on a tie).
fn detect_delimiter(header: &[u8], known: &[&str]) -> u8 {
    let score = |d: u8| {
        let mut r = csv::ReaderBuilder::new().has_headers(false).delimiter(d).from_reader(header);
        let mut rec = csv::ByteRecord::new();
        if !r.read_byte_record(&mut rec).unwrap_or(false) {
            return 0;
        }
        rec.iter().filter(|f| known.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(f.trim_ascii()))).count()
    };
    let mut best = (b',', score(b','));
    for d in [b';', b'\t'] {
        let s = score(d);
        if s > best.1 {
            best = (d, s);
        }
    }
    best.0
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
    /// Opens the file and reads its header: the encoding decided from its
    /// first bytes and `opts` (`read::decode`), an optional `#TYPE` first
    /// line, the delimiter named or the one of `,` `;` tab that makes the
    /// header name the most of `known`. `None` for an empty (0-byte) file.
    pub fn open(path: &Path, name: &str, opts: &Options, known: &[&str]) -> Result<Option<CsvFile>> {
        let text = decode::open(path, name, opts)?;
        if text.empty {
            return Ok(None);
        }
        let mut input = text.input;
        let at = |line: u64| move |e: std::io::Error| Error::plan(format!("{name}: line {line}: {e}"));
        let skipped = if input.fill_buf().map_err(at(1))?.starts_with(b"#TYPE") {
            skip_line(&mut input).map_err(at(1))?;
            1
        } else {
            0
        };
        let mut header = Vec::new();
        (&mut input).take(RECORD_MAX_BYTES).read_until(b'\n', &mut header).map_err(at(skipped + 1))?;
        let delimiter = match opts.delimiter {
            Some(d) => (d, true),
            None => (detect_delimiter(&header, known), false),
        };
        let body: Box<dyn Read> = Box::new(std::io::Cursor::new(header).chain(input));
        let tracked = Tracked { inner: body, at: 0, ends: VecDeque::new(), since_record: 0 };
        let reader = csv::ReaderBuilder::new().flexible(true).delimiter(delimiter.0).from_reader(tracked);
        let (dates, notes) = (Dates::new(opts.culture, opts.zone), Notes::default());
        let head = Head { name: name.to_string(), columns: Vec::new(), header_line: skipped + 1, delimiter, dates, notes };
        let mut file = CsvFile { head, reader, skipped, newlines: 0, size: text.size, record: csv::ByteRecord::new() };
        let header = match file.reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(file.bad(e)),
        };
        let header = csv::StringRecord::from_byte_record(header).map_err(|e| file.not_utf8(e))?;
        if header.iter().all(|h| h.trim().is_empty()) {
            return Err(Error::plan(format!("{name}: line {}: no header row", skipped + 1)));
        }
        file.head.columns = header.iter().enumerate().map(|(i, h)| (h.trim().to_string(), i)).collect();
        Ok(Some(file))
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    /// How far into the file reading is, in bytes.
    pub fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Errors unless the header names every column in `required`; a header
    /// of one column that holds another delimiter says so.
    pub fn require(&self, required: &[&str]) -> Result<()> {
        let Some(col) = required.iter().find(|c| self.head.column(c).is_none()) else {
            return Ok(());
        };
        let (name, line) = (&self.head.name, self.head.header_line);
        if let [(only, _)] = self.head.columns.as_slice()
            && let Some(d) = read::DELIMITERS.iter().copied().find(|d| only.contains(*d as char))
        {
            let (used, named) = self.head.delimiter;
            return Err(Error::plan(format!(
                "{name}: line {line}: the header has one column '{}' with the {} delimiter {}; \
                 the file looks {}-separated: name it with DELIMITER {}",
                shown(only),
                if named { "named" } else { "detected" },
                read::delimiter_name(used),
                read::delimiter_name(d),
                read::delimiter_name(d),
            )));
        }
        Err(Error::plan(format!("{name}: line {line}, column {col}: the header has no such column")))
    }

    /// Errors unless the header names one of `columns` at least (as
    /// `require` says it: a wrong delimiter, or the first one missing).
    pub fn require_one_of(&self, columns: &[&str]) -> Result<()> {
        if columns.iter().any(|c| self.head.column(c).is_some()) {
            return Ok(());
        }
        self.require(&columns[..1])
    }

    /// The notes of what was read differently or passed over.
    pub fn notes(&self) -> &Notes {
        &self.head.notes
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
        if let csv::ErrorKind::Io(io) = e.kind() {
            // Bytes the decoding refused: they stand after all it gave.
            let line = self.line_at(self.reader.get_ref().at);
            return Error::plan(format!("{}: line {line}: {io}", self.head.name));
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
        Error::plan(format!(
            "{}: line {}: the file is not UTF-8 text: name its encoding, e.g. ENCODING 'windows-1252'",
            self.head.name,
            start + before
        ))
    }
}

impl Head {
    /// Whether the header names column `col` (in any case).
    pub fn has(&self, col: &str) -> bool {
        self.column(col).is_some()
    }

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

    /// The field, or `None` when the file has no such column.
    pub fn opt(&self, col: &str) -> Option<&str> {
        let i = self.file.column(col)?;
        Some(wmi::unguard(self.record.get(i).unwrap_or("").trim()))
    }

    /// The field of a required column; a short row is an error.
    pub fn get(&self, col: &str) -> Result<&str> {
        let Some(i) = self.file.column(col) else {
            return Err(self.err(col, "the file has no such column, which this row needs"));
        };
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
        let head = self.file;
        head.dates.parse(v, self.line, &head.notes).map_err(|why| self.err(col, format!("'{}' {why}", shown(v))))
    }

    /// Notes that this row was read differently from its words, or passed over.
    pub fn note(&self, what: impl AsRef<str>) {
        self.file.notes.add(what);
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

const KEYPACK_REQUIRED: [&str; 3] = ["KeyPackId", "KeyPackType", "ProductType"];

/// The notes' word for rows of another server than INTO SERVER's (in a
/// file holding the rows of several: `import_servers`).
pub const OTHER_SERVER: &str = "rows for another server, passed over";

/// Imports the key packs of a Win32_TSLicenseKeyPack export, each into its
/// server (`import_servers`). A temporary pack (KeyPackType 4) becomes the
/// server's own temporary pack, taking its id if that pack holds no
/// license. A pack IMPORT LICENSES inferred is completed: its product, CAL
/// type, kind, total and dates are the file's, its id and issued count stay,
/// and its licenses take its product. IssuedLicenses and AvailableLicenses
/// are not read: a pack's issued count is that of its licenses, which
/// IMPORT LICENSES brings.
pub fn import_keypacks(cx: &mut Ctx, file: (&Path, &str, &Options), into: Option<&str>) -> Result<Imported> {
    let (path, name, opts) = file;
    let Some(mut file) = CsvFile::open(path, name, opts, &super::export::KEYPACK_COLUMNS)? else {
        return Ok(Imported::empty());
    };
    file.require(&KEYPACK_REQUIRED)?;
    let known = &super::export::KEYPACK_COLUMNS;
    let mut servers = Servers::plan(file.head(), (path, name, opts, known), into)?;
    let mut completed = Vec::new();
    let mut rows = 0u64;
    let mut newest = None;
    while let Some((line, record)) = file.next_record()? {
        let row = file.head().row(line, &record);
        let Some(s) = servers.of(cx, &row)? else { continue };
        rows += 1;
        let k = parse_keypack(&row, &s, cx.now)?;
        if row.non_empty("InstalledDate").is_some() {
            newest = newest.max(Some(k.installed));
        }
        cx.numbers_taken(s.ordinal, Some(k.id), None);
        if k.kind == KeypackType::Temporary {
            take_temporary(cx.tx, &row, k)?;
        } else {
            match cx.tx.keypack(k.id)? {
                Some(old) if old.inferred => completed.push(complete(cx.tx, &row, old, k)?),
                Some(old) => {
                    let msg = format!("key pack {} already exists (server '{}')", old.number(), old.server);
                    return Err(row.err("KeyPackId", msg));
                }
                None => cx.tx.put_keypack(&k)?,
            }
        }
    }
    crate::protocol::deploy::licenses_take_products(cx.tx, &completed)?;
    let mut done = Imported::new(rows, servers.passed_over, file.notes());
    done.completed = completed.len() as u64;
    done.servers = servers.names();
    done.newest = newest;
    Ok(done)
}

/// An inferred pack completed by the file's row `k`: its id and issued
/// count stay; a pack whose licenses hold more CALs than the file says it
/// has, or a temporary one, cannot be the pack the licenses named.
fn complete(tx: &mut WriteTx, row: &Row, old: KeypackRec, mut k: KeypackRec) -> Result<(u64, Product)> {
    k.issued = old.issued;
    if let Some(total) = k.total.filter(|t| *t < old.issued) {
        let msg = format!("key pack {} holds {total} CALs, but {} of its licenses hold one", k.number(), old.issued);
        return Err(row.err("TotalLicenses", msg));
    }
    tx.put_keypack(&k)?;
    Ok((k.id, k.product))
}

fn parse_keypack(row: &Row, s: &crate::store::ServerRec, now: Time) -> Result<KeypackRec> {
    let id = crate::store::keys::row_id(s.ordinal, row.id("KeyPackId")? as u32);
    let code = row.get("KeyPackType")?;
    let (kind, note) = code.parse().ok().and_then(wmi::keypack_type).ok_or_else(|| {
        row.err("KeyPackType", format!("'{}' is not a key pack type ({})", shown(code), wmi::KEYPACK_TYPES))
    })?;
    if let Some(n) = note {
        row.note(n);
    }
    let code = row.get("ProductType")?;
    let (cal, note) = wmi::product_type(code).ok_or_else(|| {
        row.err("ProductType", format!("'{}' is not a CAL type (0 per device, 1 per user, 2 not valid, 3)", shown(code)))
    })?;
    if let Some(n) = note {
        row.note(n);
    }
    let (col, product) = product(row)?;
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
    Ok(KeypackRec { id, server: s.name.clone(), product, cal, kind, total, issued: 0, installed, expires, inferred: false })
}

/// A pack's product: caldb's `Product` column, else the ProductVersion
/// text, else (the text localised or unknown) its ProductVersionID, noted.
fn product(row: &Row) -> Result<(&'static str, Product)> {
    if let Some(p) = row.non_empty("Product") {
        let product = wmi::parse_product(p).filter(|p| *p != Product::Ws2012R2);
        return product.map(|p| ("Product", p)).ok_or_else(|| row.err("Product", format!("'{}' is not a product caldb knows", shown(p))));
    }
    let text = row.non_empty("ProductVersion");
    if let Some(p) = text.and_then(wmi::parse_product).filter(|p| *p != Product::Ws2012R2) {
        return Ok(("ProductVersion", p));
    }
    let id = row.non_empty("ProductVersionID");
    if let Some(p) = id.and_then(wmi::product_of_version_id) {
        row.note(format!("ProductVersion read from ProductVersionID {} as {p}", id.unwrap_or_default()));
        return Ok(("ProductVersionID", p));
    }
    match (text, id) {
        (None, None) => Err(row.err("ProductVersion", "the row names no product (ProductVersion or ProductVersionID)")),
        (Some(t), None) => Err(row.err("ProductVersion", format!("'{}' is not a product caldb knows", shown(t)))),
        (_, Some(i)) => Err(row.err(
            "ProductVersionID",
            format!("'{}' is not a product version caldb knows (2 to 8: Windows Server 2008 to 2025)", shown(i)),
        )),
    }
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
            format!("server '{}' already has temporary key pack {}, which holds licenses", k.server, own.number()),
        ));
    }
    if let Some(old) = tx.keypack(k.id)? {
        let msg = format!("key pack {} already exists (server '{}')", old.number(), old.server);
        return Err(row.err("KeyPackId", msg));
    }
    tx.delete(crate::store::T::Keypacks, &crate::store::keys::id(own.id))?;
    tx.put_keypack(&k)
}
