//! Carrying a file of an older format over to this one, whole: every
//! entry of every table (records, history, indexes, `meta`'s state) is
//! read with the old format's reader and written by the one writer this
//! caldb has, into a new file; the old file is opened read-only and never
//! changed. Then the new file is read back with this format's reader and
//! compared, table by table, with the old one (the same entries, the same
//! payloads): `check::upgrade` runs CHECK on it too.
//!
//! The reader dispatches on the old file's version: how its tables are
//! typed in redb (`old_definition`) and how a value carries its checksum
//! (`envelope::Envelope`). A later format whose records change adds its
//! conversion in `convert`, applied to each entry between the reader and
//! the writer; the path stays one.

use super::damage::guarded;
use super::envelope::Envelope;
use super::file::{check_magic, format_version};
use super::tables::{Raw, is_bare};
use super::{FORMAT_VERSION, Fixed, Reader, Shape, Store, T};
use crate::error::{Error, Result};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::hash::Hasher;
use std::path::Path;

/// How many entries one write transaction of the copy carries: a bound on
/// the memory redb holds for it.
const BATCH: usize = 20_000;

/// What was carried over: per table, its name and entry count.
#[derive(Debug, Default)]
pub struct Carried {
    pub from_version: u32,
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies `old` (an older caldb format) into `new`, which must not exist
/// or be empty, and verifies the copy entry by entry.
pub fn carry_over(old: &Path, new: &Path) -> Result<Carried> {
    check_magic(old)?;
    if std::fs::metadata(new).is_ok_and(|m| m.len() > 0) {
        return Err(Error::Storage(format!("{}: already exists; name a new file to carry over into", new.display())));
    }
    let source = open_old(old)?;
    let rx = source.begin_read().map_err(|e| cannot_read(old, e))?;
    let version = guarded(T::Meta, b"", || format_version(&rx))?
        .ok_or_else(|| Error::Storage(format!("{}: not a caldb database", old.display())))?;
    if version == FORMAT_VERSION {
        return Err(Error::Storage(format!("{}: is already format version {version}", old.display())));
    }
    let envelope = Envelope::of_version(version).ok_or_else(|| {
        Error::Storage(format!(
            "{}: caldb format version {version} cannot be carried over by this caldb (it reads version {FORMAT_VERSION})",
            old.display()
        ))
    })?;
    let target = Store::open(new)?;
    let copied = copy_and_verify(&rx, version, envelope, &target);
    if copied.is_err() {
        // Half a copy is no database: it goes, and the old file stays.
        drop(target);
        let _ = std::fs::remove_file(new);
    }
    copied
}

fn copy_and_verify(rx: &redb::ReadTransaction, version: u32, envelope: Envelope, target: &Store) -> Result<Carried> {
    let mut carried = Carried { from_version: version, tables: Vec::new() };
    for t in T::ALL {
        let n = copy_table(rx, version, envelope, target, t)?;
        carried.tables.push((t.name(), n));
    }
    verify(rx, version, envelope, target)?;
    Ok(carried)
}

fn open_old(old: &Path) -> Result<redb::ReadOnlyDatabase> {
    let mut builder = redb::Builder::new();
    builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.open_read_only(old)));
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(redb::DatabaseError::RepairAborted)) => Err(Error::Storage(format!(
            "{} needs recovery after a crash: open it once with the caldb that wrote it",
            old.display()
        ))),
        Ok(Err(e)) => Err(cannot_read(old, e)),
        Err(_) => Err(Error::damaged(format!("{}: a page of the file cannot be read", old.display()))),
    }
}

fn cannot_read(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("{} cannot be read: {e}", path.display()))
}

/// A visitor of an old table's entries: key, payload.
type OldVisit<'v> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'v;

/// Visits every entry of table `t` of a file of format `version`, its
/// payload out of `envelope`.
fn visit_old(rx: &redb::ReadTransaction, version: u32, envelope: Envelope, t: T, f: &mut OldVisit) -> Result<()> {
    let visit = std::panic::AssertUnwindSafe(|| match old_shape(version, t) {
        OldShape::VarVar => visit_typed::<Raw, Raw>(rx, envelope, t, f),
        OldShape::VarFixed0 => visit_typed::<Raw, Fixed<0>>(rx, envelope, t, f),
        OldShape::IdVar => visit_typed::<Fixed<8>, Raw>(rx, envelope, t, f),
        OldShape::Fixed16Fixed0 => visit_typed::<Fixed<16>, Fixed<0>>(rx, envelope, t, f),
        OldShape::Fixed16Fixed1 => visit_typed::<Fixed<16>, Fixed<1>>(rx, envelope, t, f),
        OldShape::Fixed28Fixed0 => visit_typed::<Fixed<28>, Fixed<0>>(rx, envelope, t, f),
        OldShape::VarFixed4 => visit_typed::<Raw, Fixed<4>>(rx, envelope, t, f),
        OldShape::Fixed16Fixed4 => visit_typed::<Fixed<16>, Fixed<4>>(rx, envelope, t, f),
        OldShape::Fixed16Fixed5 => visit_typed::<Fixed<16>, Fixed<5>>(rx, envelope, t, f),
        OldShape::Fixed28Fixed4 => visit_typed::<Fixed<28>, Fixed<4>>(rx, envelope, t, f),
    });
    std::panic::catch_unwind(visit)
        .unwrap_or_else(|_| Err(super::envelope::damaged(t, b"", "a page of the old file's table cannot be read")))
}

/// How a table of an older format is typed in redb.
enum OldShape {
    VarVar,
    VarFixed0,
    VarFixed4,
    IdVar,
    Fixed16Fixed0,
    Fixed16Fixed1,
    Fixed28Fixed0,
    Fixed16Fixed4,
    Fixed16Fixed5,
    Fixed28Fixed4,
}

/// Format 2 typed the tables as formats 3 and 4 do, with bare values: an
/// empty index value was `Fixed<0>`, the expiry flag `Fixed<1>`. Format 3
/// typed them as format 4 does.
fn old_shape(version: u32, t: T) -> OldShape {
    if version == 3 {
        return match t.shape() {
            Shape::VarVar => OldShape::VarVar,
            Shape::VarEmpty => OldShape::VarFixed4,
            Shape::IdVar => OldShape::IdVar,
            Shape::Fixed16Empty => OldShape::Fixed16Fixed4,
            Shape::Fixed16Flag => OldShape::Fixed16Fixed5,
            Shape::Fixed28Empty => OldShape::Fixed28Fixed4,
        };
    }
    debug_assert_eq!(version, 2, "the older formats this caldb reads are 2 and 3");
    match t.shape() {
        Shape::VarVar => OldShape::VarVar,
        Shape::VarEmpty => OldShape::VarFixed0,
        Shape::IdVar => OldShape::IdVar,
        Shape::Fixed16Empty => OldShape::Fixed16Fixed0,
        Shape::Fixed16Flag => OldShape::Fixed16Fixed1,
        Shape::Fixed28Empty => OldShape::Fixed28Fixed0,
    }
}

fn visit_typed<K, V>(rx: &redb::ReadTransaction, envelope: Envelope, t: T, f: &mut OldVisit) -> Result<()>
where
    K: for<'a> redb::Key<SelfType<'a> = &'a [u8]> + 'static,
    V: for<'a> redb::Value<SelfType<'a> = &'a [u8]> + 'static,
{
    let def = TableDefinition::<K, V>::new(t.name());
    let table = match rx.open_table(def) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(super::envelope::damaged(t, b"", format!("the old table cannot be opened: {e}"))),
    };
    let damaged =
        |e: redb::StorageError| super::envelope::damaged(t, b"", format!("the old table cannot be read: {e}"));
    let mut seen = 0;
    for entry in table.iter().map_err(damaged)? {
        let (k, v) = entry.map_err(damaged)?;
        let (key, stored) = (k.value(), v.value());
        let payload = if is_bare(t, key) { stored } else { envelope.open(t, key, stored)? };
        f(key, payload)?;
        seen += 1;
    }
    if table.len().map_err(damaged)? != seen {
        return Err(super::envelope::damaged(t, b"", "the old table's entry count disagrees with its entries"));
    }
    Ok(())
}

/// The entry as this format stores it: each format's conversion in turn.
/// Format 3 has format 2's keys; its records differ in two fields added at
/// their end: a server's "Prevent License Upgrade"
/// (`ServerRec::prevent_upgrade`) and whether a session is an admin one
/// (`SessionRec::admin`), both `false` for every format-2 record. bincode
/// writes a struct's fields in order and a `false` as one zero byte, so
/// the format-3 payload is the format-2 one and that byte. Format 4 folds
/// the names in keys (`fold_name_keys`) and compresses history's chunks
/// (`history::from_format_3`).
fn convert(version: u32, t: T, key: &[u8], payload: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut payload = payload.to_vec();
    if version == 2 && matches!(t, T::Servers | T::Sessions) {
        payload.push(0);
    }
    if version < 4 && t == T::History {
        payload = super::history::from_format_3(&payload).map_err(|e| super::envelope::at(e, t, key))?;
    }
    let key = if version < 4 { fold_name_keys(t, key)? } else { key.to_vec() };
    Ok((key, payload))
}

/// Format 4: the names in keys are folded as Windows compares names
/// (`keys::name`), so `PC1` and `pc1` are one key; records keep their
/// spelling. A key is its name parts (UTF-8, NUL-ended) around fixed-width
/// binary parts: a token's slot (4 bytes, last), a computer index's
/// license id (8, last), a device index's HWID (20, first).
fn fold_name_keys(t: T, key: &[u8]) -> Result<Vec<u8>> {
    if !folds(t) {
        return Ok(key.to_vec());
    }
    let (head, text, tail) = match t {
        T::Servers | T::Devices | T::Hosts | T::UserCals | T::IdxSessionLive => (0, key.len(), 0),
        T::Tokens => (0, key.len().saturating_sub(4), 4),
        T::IdxLicenseComputer => (0, key.len().saturating_sub(8), 8),
        _ => (20.min(key.len()), key.len(), 0),
    };
    let names = std::str::from_utf8(&key[head..text.max(head)])
        .map_err(|_| super::envelope::damaged(t, key, "a name in the key is not UTF-8"))?;
    let mut out = Vec::with_capacity(key.len());
    out.extend_from_slice(&key[..head]);
    out.extend_from_slice(crate::model::fold_name(names).as_bytes());
    out.extend_from_slice(&key[key.len() - tail..]);
    Ok(out)
}

/// Whether table `t`'s keys hold names (format 4 folds them).
fn folds(t: T) -> bool {
    matches!(
        t,
        T::Servers
            | T::Devices
            | T::Hosts
            | T::UserCals
            | T::IdxSessionLive
            | T::Tokens
            | T::IdxLicenseComputer
            | T::IdxDeviceHwid
    )
}

/// The keys of a table whose names differ only in case, at most this many
/// listed.
const COLLISIONS_LISTED: usize = 10;

/// Two entries of an old file whose keys fold together (`PC1` and `pc1`)
/// would be one in format 4: the carry-over refuses them, naming both
/// spellings, and the old file stays as it is (docs/choices.md item 33).
fn collision_error(rx: &redb::ReadTransaction, version: u32, envelope: Envelope, t: T, folded: &[Vec<u8>]) -> Error {
    let mut spellings: Vec<Vec<String>> = vec![Vec::new(); folded.len()];
    let _ = visit_old(rx, version, envelope, t, &mut |key, _| {
        if let Ok(f) = fold_name_keys(t, key)
            && let Some(i) = folded.iter().position(|c| *c == f)
        {
            spellings[i].push(shown_key(t, key));
        }
        Ok(())
    });
    let listed: Vec<String> = spellings
        .iter()
        .map(|s| s.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(" and "))
        .collect();
    Error::Storage(format!(
        "table {} holds names that differ only in case, which are one name from format 4 on: {}; \
         the old file is unchanged: carry its licenses and key packs over with EXPORT and IMPORT, \
         or rebuild it without these names",
        t.name(),
        listed.join("; ")
    ))
}

/// A key as text, its binary parts left out and its NUL separators shown
/// as `/` (`alice/rdsh1`).
fn shown_key(t: T, key: &[u8]) -> String {
    let (head, end) = match t {
        T::Tokens => (0, key.len().saturating_sub(4)),
        T::IdxLicenseComputer => (0, key.len().saturating_sub(8)),
        T::IdxDeviceHwid => (20.min(key.len()), key.len()),
        _ => (0, key.len()),
    };
    let text = String::from_utf8_lossy(&key[head..end.max(head)]);
    text.trim_end_matches('\0').replace('\0', "/")
}

/// Copies one table in batches; its entry count. `meta`'s format entry is
/// the new file's own.
fn copy_table(rx: &redb::ReadTransaction, version: u32, envelope: Envelope, target: &Store, t: T) -> Result<u64> {
    let mut batch: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(BATCH);
    let mut n = 0;
    let mut collisions: Vec<Vec<u8>> = Vec::new();
    let mut flush = |batch: &mut Vec<(Vec<u8>, Vec<u8>)>| -> Result<()> {
        let mut tx = target.write()?;
        // A key already written, by this batch or an earlier one, is a
        // second name that folds to it. (A kept table's reads are cached
        // by the transaction, and `raw_put` passes the cache by: the keys
        // of this batch are looked up in `written`.)
        let mut written = std::collections::HashSet::new();
        for (k, v) in batch.drain(..) {
            if folds(t) && (written.contains(&k) || tx.get(t, &k)?.is_some()) {
                if collisions.len() < COLLISIONS_LISTED && !collisions.contains(&k) {
                    collisions.push(k);
                }
                continue;
            }
            tx.raw_put(t, &k, &v)?;
            written.insert(k);
        }
        tx.commit()
    };
    visit_old(rx, version, envelope, t, &mut |key, payload| {
        if is_bare(t, key) {
            return Ok(());
        }
        batch.push(convert(version, t, key, payload)?);
        n += 1;
        if batch.len() == BATCH { flush(&mut batch) } else { Ok(()) }
    })?;
    flush(&mut batch)?;
    if !collisions.is_empty() {
        return Err(collision_error(rx, version, envelope, t, &collisions));
    }
    Ok(n)
}

/// Reads the new file back and compares each table's entries with the old
/// file's: a digest of every key and payload, and the count.
fn verify(rx: &redb::ReadTransaction, version: u32, envelope: Envelope, target: &Store) -> Result<()> {
    let copy = target.read()?;
    for t in T::ALL {
        let mut old = Digest::default();
        visit_old(rx, version, envelope, t, &mut |key, payload| {
            if !is_bare(t, key) {
                let (k, v) = convert(version, t, key, payload)?;
                old.add(&k, &v);
            }
            Ok(())
        })?;
        let mut new = Digest::default();
        copy.raw_scan(t, b"", None, &mut |key, payload| {
            if !is_bare(t, key) {
                new.add(key, payload);
            }
            Ok(true)
        })?;
        if old != new {
            return Err(Error::Storage(format!(
                "the copy of table {} differs from the old file ({} entries read, {} written): the new file is not to be used",
                t.name(),
                old.count,
                new.count
            )));
        }
    }
    Ok(())
}

/// A digest of a table's entries, whatever their order: folding the names
/// of keys (format 4) reorders them, and redb keeps each table's keys in
/// order itself. Each entry's hash is summed and xored in.
#[derive(Default, PartialEq)]
struct Digest {
    count: u64,
    sum: u64,
    xor: u64,
}

impl Digest {
    fn add(&mut self, key: &[u8], payload: &[u8]) {
        let mut h = std::hash::DefaultHasher::new();
        h.write_usize(key.len());
        h.write(key);
        h.write_usize(payload.len());
        h.write(payload);
        let entry = h.finish();
        self.sum = self.sum.wrapping_add(entry);
        self.xor ^= entry.rotate_left(17);
        self.count += 1;
    }
}
