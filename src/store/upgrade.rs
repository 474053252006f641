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
//! the writer; the path stays one. Format 4 numbers key packs and
//! licenses per server (`per_server_ids`): its conversion needs to know
//! each old id's server, so the reader first reads the old file's
//! servers, key packs and licenses once (`Renumbering`). Format 5
//! stores a token as a `StoredToken`: an old one is carried over whole,
//! then, the copy verified, placed by reference where its license holds
//! its fields (`place_tokens`).

use super::damage::guarded;
use super::envelope::Envelope;
use super::file::{check_magic, format_version};
use super::records::{KeypackRec, LicenseRec, ServerIds, State, StoredToken, TokenRec};
use crate::model::{CalType, Hwid, KeypackType, LicenseKind, LicenseStatus, Product, Time};
use super::tables::{Raw, STATE_KEY, is_bare};
use super::{FORMAT_VERSION, Fixed, Reader, Shape, Store, T, codec, keys};
use crate::error::{Error, Result};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::collections::HashMap;
use std::hash::Hasher;
use std::path::Path;

/// How many entries one write transaction of the copy carries: a bound on
/// the memory redb holds for it.
const BATCH: usize = 20_000;

/// The old file's page cache: it is read in key order, twice.
const OLD_CACHE_BYTES: usize = 16 << 20;

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
    let renumbering = Renumbering::read(&rx, version, envelope)?;
    let target = Store::open(new)?;
    let copied = copy_and_verify(&rx, &Old { version, envelope, renumbering }, &target)
        .and_then(|carried| place_tokens(&target).map(|()| carried));
    if copied.is_err() {
        // Half a copy is no database: it goes, and the old file stays.
        drop(target);
        let _ = std::fs::remove_file(new);
    }
    copied
}

/// Format 5 stores a token that holds its license's fields by reference
/// (`StoredToken::Placed`): the copy, verified with its tokens whole, has
/// them placed, a batch to a transaction. A placed token reads back as the
/// whole one did (`StoredToken::of` places only a token whose license
/// holds those fields), which CHECK then reads.
fn place_tokens(target: &Store) -> Result<()> {
    let mut from = Some(Vec::new());
    while let Some(at) = from {
        let mut tx = target.write()?;
        from = tx.place_tokens(&at)?;
        tx.commit()?;
    }
    Ok(())
}

/// The old file's format, how its values are stored, and what its
/// conversion needs to know of it.
struct Old {
    version: u32,
    envelope: Envelope,
    renumbering: Renumbering,
}

fn copy_and_verify(rx: &redb::ReadTransaction, old: &Old, target: &Store) -> Result<Carried> {
    let mut carried = Carried { from_version: old.version, tables: Vec::new() };
    for (done, t) in T::ALL.into_iter().enumerate() {
        let n = copy_table(rx, old, target, t)?;
        carried.tables.push((t.name(), n));
        crate::interrupt::report("carrying tables over", done as u64 + 1, Some(T::ALL.len() as u64))?;
    }
    verify(rx, old, target)?;
    Ok(carried)
}

fn open_old(old: &Path) -> Result<redb::ReadOnlyDatabase> {
    let mut builder = redb::Builder::new();
    builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
    // Not redb's default cache (1 GiB), which keeps every page the copy
    // and its verification read: carrying the 1M protocol-built file over
    // peaked at 731 MB.
    builder.set_cache_size(OLD_CACHE_BYTES);
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
        OldShape::VarFixed4 => visit_typed::<Raw, Fixed<4>>(rx, envelope, t, f),
        OldShape::IdVar => visit_typed::<Fixed<8>, Raw>(rx, envelope, t, f),
        OldShape::Fixed16Fixed0 => visit_typed::<Fixed<16>, Fixed<0>>(rx, envelope, t, f),
        OldShape::Fixed16Fixed4 => visit_typed::<Fixed<16>, Fixed<4>>(rx, envelope, t, f),
        OldShape::Fixed16Fixed1 => visit_typed::<Fixed<16>, Fixed<1>>(rx, envelope, t, f),
        OldShape::Fixed16Fixed5 => visit_typed::<Fixed<16>, Fixed<5>>(rx, envelope, t, f),
        OldShape::Fixed28Fixed0 => visit_typed::<Fixed<28>, Fixed<0>>(rx, envelope, t, f),
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
    Fixed16Fixed4,
    Fixed16Fixed1,
    Fixed16Fixed5,
    Fixed28Fixed0,
    Fixed28Fixed4,
}

/// Formats 2 to 4 typed the tables as format 5 does (formats 4 and 5
/// changed records and keys, not widths); format 2's values were bare: an empty
/// index value was `Fixed<0>`, the expiry flag `Fixed<1>`, where format
/// 3 adds the 4 bytes of the checksum.
fn old_shape(version: u32, t: T) -> OldShape {
    debug_assert!((2..FORMAT_VERSION).contains(&version), "the older formats this caldb reads");
    let bare = version == 2;
    match t.shape() {
        Shape::VarVar => OldShape::VarVar,
        Shape::VarEmpty if bare => OldShape::VarFixed0,
        Shape::VarEmpty => OldShape::VarFixed4,
        Shape::IdVar => OldShape::IdVar,
        Shape::Fixed16Empty if bare => OldShape::Fixed16Fixed0,
        Shape::Fixed16Empty => OldShape::Fixed16Fixed4,
        Shape::Fixed16Flag if bare => OldShape::Fixed16Fixed1,
        Shape::Fixed16Flag => OldShape::Fixed16Fixed5,
        Shape::Fixed28Empty if bare => OldShape::Fixed28Fixed0,
        Shape::Fixed28Empty => OldShape::Fixed28Fixed4,
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
        // Ctrl-C, and how far it has got, as a scan of the store does.
        crate::interrupt::scanned(1)?;
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

/// The entry as this format stores it: each format's conversion in turn,
/// from the old file's version to this one. Format 4's `credentials` table
/// (each license server's key, chain and CAL secret for real clients) is
/// new: an older file has none, so it starts empty (a server's credentials
/// are made when a client first needs them) and converts nothing here.
/// Format 3 to 4 is three conversions in one step: key packs and licenses
/// numbered per server (`per_server_ids`, on the old keys, whose names are
/// the old spellings the `Renumbering` was read by), history's chunks
/// compressed (`history::from_format_3`), and then the names in keys folded
/// (`fold_name_keys`).
fn convert(old: &Old, t: T, key: &[u8], payload: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let (mut key, mut payload) = (key.to_vec(), payload.to_vec());
    if old.version == 2 {
        prevent_upgrade_and_admin(t, &mut payload);
    }
    if old.version < 4 {
        per_server_ids(&old.renumbering, t, &mut key, &mut payload)?;
        if t == T::History {
            payload = super::history::from_format_3(&payload).map_err(|e| super::envelope::at(e, t, &key))?;
        }
        key = fold_name_keys(t, &key)?;
    }
    if old.version == 4 && t == T::History {
        payload = super::history::resealed(&payload).map_err(|e| super::envelope::at(e, t, &key))?;
    }
    if t == T::Tokens {
        payload = tokens_stored_whole(&key, &payload)?;
    }
    Ok((key, payload))
}

/// Format 4 to 5: a token is a `StoredToken`, an old one first stored
/// whole (`Full`): placing it by reference reads its license from the new
/// file, which is written table by table, so `place_tokens` does it once
/// the copy is verified. History's chunks are sealed again (format 5
/// compresses a long one with zstd).
fn tokens_stored_whole(key: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
    let t: TokenRec = codec::decode(payload).map_err(|e| super::envelope::at(e, T::Tokens, key))?;
    codec::encode(&StoredToken::Full(t))
}

/// Format 2 to 3: records differ in two fields added at their end: a
/// server's "Prevent License Upgrade" (`ServerRec::prevent_upgrade`) and
/// whether a session is an admin one (`SessionRec::admin`), both `false`
/// for every format-2 record. bincode writes a struct's fields in order
/// and a `false` as one zero byte, so the format-3 payload is the format-2
/// one and that byte.
fn prevent_upgrade_and_admin(t: T, payload: &mut Vec<u8>) {
    if matches!(t, T::Servers | T::Sessions) {
        payload.push(0);
    }
}

/// `State` as format 3 stored it: one id counter for the key packs and
/// one for the licenses of every server.
#[derive(serde::Deserialize)]
struct StateV3 {
    clock: Option<Time>,
    seed: u64,
    rng: u64,
    next_keypack: u64,
    next_license: u64,
    next_session: u64,
    next_event: u64,
    next_history: u64,
    last_time: Option<Time>,
}

/// What format 3 to 4 needs to know of the old file: each server's
/// ordinal (its place in name order, from 1) and the server of each key
/// pack and license id, read once before the copy.
#[derive(Default)]
struct Renumbering {
    servers: HashMap<String, u32>,
    keypacks: HashMap<u64, u32>,
    licenses: HashMap<u64, u32>,
}

impl Renumbering {
    fn read(rx: &redb::ReadTransaction, version: u32, envelope: Envelope) -> Result<Renumbering> {
        let mut r = Renumbering::default();
        if version >= 4 {
            // Numbered per server already.
            return Ok(r);
        }
        visit_old(rx, version, envelope, T::Servers, &mut |key, _| {
            let ordinal = r.servers.len() as u32 + 1;
            r.servers.insert(String::from_utf8_lossy(key).into_owned(), ordinal);
            Ok(())
        })?;
        let servers = &r.servers;
        let ordinal = |t: T, key: &[u8], server: &str| {
            servers.get(server).copied().ok_or_else(|| {
                super::envelope::damaged(t, key, format!("it names server '{server}', which the file does not hold"))
            })
        };
        let (mut keypacks, mut licenses) = (HashMap::new(), HashMap::new());
        visit_old(rx, version, envelope, T::Keypacks, &mut |key, payload| {
            let k: KeypackV3 = codec::decode(payload).map_err(|e| super::envelope::at(e, T::Keypacks, key))?;
            keypacks.insert(k.id, ordinal(T::Keypacks, key, &k.server)?);
            Ok(())
        })?;
        visit_old(rx, version, envelope, T::Licenses, &mut |key, payload| {
            let l: LicenseV3 = codec::decode(payload).map_err(|e| super::envelope::at(e, T::Licenses, key))?;
            licenses.insert(l.id, ordinal(T::Licenses, key, &l.server)?);
            Ok(())
        })?;
        r.keypacks = keypacks;
        r.licenses = licenses;
        Ok(r)
    }

    /// The stored id of format 3's id `id` of table `t` (key packs or
    /// licenses): the number stays the id (references in history and on
    /// tokens keep their meaning), under its server's ordinal.
    fn row(&self, t: T, id: u64) -> Result<u64> {
        let map = if t == T::Keypacks { &self.keypacks } else { &self.licenses };
        let server = map.get(&id).copied().ok_or_else(|| {
            super::envelope::damaged(t, &keys::id(id), format!("an index or token names {} {id}, which is not there", t.name()))
        })?;
        number(t, id).map(|n| keys::row_id(server, n))
    }
}

/// An old id as a per-server number: Windows numbers with a `uint32`.
fn number(t: T, id: u64) -> Result<u32> {
    u32::try_from(id).map_err(|_| {
        Error::Storage(format!("{} id {id} is past 4294967295, the largest id a license server gives", t.name()))
    })
}

/// A format-3 key pack: its id a plain u64.
#[derive(serde::Deserialize)]
struct KeypackV3 {
    id: u64,
    server: String,
    product: Product,
    cal: CalType,
    kind: KeypackType,
    total: Option<u64>,
    issued: u64,
    installed: Time,
    expires: Option<Time>,
}

/// A format-3 license: its ids plain u64s.
#[derive(serde::Deserialize)]
struct LicenseV3 {
    id: u64,
    keypack: u64,
    server: String,
    kind: LicenseKind,
    status: LicenseStatus,
    hwid: Hwid,
    computer: String,
    user: String,
    product: Product,
    issued: Time,
    expires: Time,
    validated: bool,
    revoked: Option<Time>,
}

/// A format-3 token: its license a plain u64.
#[derive(serde::Deserialize)]
struct TokenV3 {
    device: String,
    slot: u32,
    license: u64,
    server: String,
    scope: String,
    kind: LicenseKind,
    product: Product,
    computer: String,
    user: String,
    issued: Time,
    expires: Time,
    hwid: Hwid,
}

/// Format 3 to 4: key packs and licenses numbered per server. A stored
/// id becomes `keys::row_id(server ordinal, old id)`: the old id is kept
/// as the server's number, so a history's `REVOKE LICENSE 4` and a token's
/// license still mean the same license; every server's counters start
/// where the one global counter stood. Records gain a server's ordinal
/// and a key pack's `inferred` (false); the indexes' trailing license ids
/// (and the revoked index's key pack) take the new ids.
fn per_server_ids(r: &Renumbering, t: T, key: &mut Vec<u8>, payload: &mut Vec<u8>) -> Result<()> {
    let at = |e: Error| super::envelope::at(e, t, key);
    match t {
        T::Meta if key.as_slice() == STATE_KEY => {
            let old: StateV3 = codec::decode(payload).map_err(at)?;
            let ids = ServerIds { next_keypack: number(T::Keypacks, old.next_keypack)?, next_license: number(T::Licenses, old.next_license)? };
            let state = State {
                clock: old.clock,
                seed: old.seed,
                rng: old.rng,
                next_session: old.next_session,
                next_event: old.next_event,
                next_history: old.next_history,
                last_time: old.last_time,
                server_ids: vec![ids; r.servers.len()],
            };
            *payload = codec::encode(&state)?;
        }
        T::Servers => {
            let ordinal = r.servers.get(String::from_utf8_lossy(key).as_ref()).copied().unwrap_or(0);
            payload.extend_from_slice(&codec::encode(&ordinal)?);
        }
        T::Keypacks => {
            let k: KeypackV3 = codec::decode(payload).map_err(at)?;
            let KeypackV3 { id, server, product, cal, kind, total, issued, installed, expires } = k;
            let id = r.row(T::Keypacks, id)?;
            let k = KeypackRec { id, server, product, cal, kind, total, issued, installed, expires, inferred: false };
            (*key, *payload) = (k.key().to_vec(), codec::encode(&k)?);
        }
        T::Licenses => {
            let l: LicenseV3 = codec::decode(payload).map_err(at)?;
            let (id, keypack) = (r.row(T::Licenses, l.id)?, r.row(T::Keypacks, l.keypack)?);
            let LicenseV3 { server, kind, status, hwid, computer, user, product, issued, expires, validated, revoked, .. } =
                l;
            let l = LicenseRec {
                id,
                keypack,
                server,
                kind,
                status,
                hwid,
                computer,
                user,
                product,
                issued,
                expires,
                validated,
                revoked,
            };
            (*key, *payload) = (l.key().to_vec(), codec::encode(&l)?);
        }
        T::Tokens => {
            let t: TokenV3 = codec::decode(payload).map_err(at)?;
            let ordinal = r.servers.get(&t.server).copied().unwrap_or(0);
            let license = keys::row_id(ordinal, number(T::Licenses, t.license)?);
            let TokenV3 { device, slot, server, scope, kind, product, computer, user, issued, expires, hwid, .. } = t;
            let tok =
                TokenRec { device, slot, license, server, scope, kind, product, computer, user, issued, expires, hwid };
            *payload = codec::encode(&tok)?;
        }
        T::IdxLicenseHwid | T::IdxLicenseComputer | T::IdxLicenseExpiry => {
            let at = key.len().saturating_sub(8);
            let row = r.row(T::Licenses, keys::trailing_id(key))?;
            key[at..].copy_from_slice(&keys::id(row));
        }
        T::IdxLicenseRevoked => {
            let pack = r.row(T::Keypacks, keys::leading_id(key))?;
            let license = r.row(T::Licenses, keys::trailing_id(key))?;
            *key = keys::Key::new().id(pack).id(license).done();
        }
        _ => {}
    }
    Ok(())
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
/// spellings, and the old file stays as it is (docs/choices.md item 44).
fn collision_error(rx: &redb::ReadTransaction, old: &Old, t: T, folded: &[Vec<u8>]) -> Error {
    let mut spellings: Vec<Vec<String>> = vec![Vec::new(); folded.len()];
    let _ = visit_old(rx, old.version, old.envelope, t, &mut |key, payload| {
        if let Ok((f, _)) = convert(old, t, key, payload)
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
fn copy_table(rx: &redb::ReadTransaction, old: &Old, target: &Store, t: T) -> Result<u64> {
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
    visit_old(rx, old.version, old.envelope, t, &mut |key, payload| {
        if is_bare(t, key) {
            return Ok(());
        }
        batch.push(convert(old, t, key, payload)?);
        n += 1;
        if batch.len() == BATCH { flush(&mut batch) } else { Ok(()) }
    })?;
    flush(&mut batch)?;
    if !collisions.is_empty() {
        return Err(collision_error(rx, old, t, &collisions));
    }
    Ok(n)
}

/// Reads the new file back and compares each table's entries with the old
/// file's: a digest of every key and payload, and the count.
fn verify(rx: &redb::ReadTransaction, from: &Old, target: &Store) -> Result<()> {
    let copy = target.read()?;
    for t in T::ALL {
        let mut old = Digest::default();
        visit_old(rx, from.version, from.envelope, t, &mut |key, payload| {
            if !is_bare(t, key) {
                let (k, v) = convert(from, t, key, payload)?;
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

/// A digest of a table's entries, whatever their order: format 4's keys
/// do not sort as format 3's did (per-server ids, folded names), and redb
/// keeps each table's keys in order itself. The count, and the sum and the
/// xor of each entry's hash.
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
        let hash = h.finish();
        self.sum = self.sum.wrapping_add(hash);
        self.xor ^= hash;
        self.count += 1;
    }
}
