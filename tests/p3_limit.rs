//! The redb-alone limit of P3 through `Shared` (`floor::Lifecycles`, the
//! "P3 limit" row of `benches/table.rs`) replays what caldb's statements
//! do: the same lifecycles (`lifecycle::lifecycles_of`, three blocks with
//! the clock carried over, as the bench runs them) on caldb and on the
//! replay, and after every statement what it changed in each table (entries
//! added, removed, rewritten) compared, statement kind by statement kind;
//! then every table's entries the lifecycles added, and the sizes of the
//! values written. Reads are not compared (the replay's doc lists them).
//! `cargo test --test p3_limit -- --nocapture` prints what each kind of
//! statement changes.

#[path = "../benches/common/floor.rs"]
#[allow(dead_code)]
mod floor;
#[path = "../benches/common/gen.rs"]
mod generate;
#[path = "../benches/common/lifecycle.rs"]
#[allow(dead_code)]
mod lifecycle;

use caldb::store::{Fixed, Shape, T};
use caldb::{Database, OpenOptions, Time};
use lifecycle::Engine;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A file's entries, table by table (keys and values as bytes).
type Entries = BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>>;

/// What a statement changed in each table it changed: entries added,
/// removed, rewritten with another value.
type Change = BTreeMap<&'static str, (usize, usize, usize)>;

/// caldb's file's entries, read with redb in the shapes caldb's store
/// gives its tables (`T::shape`).
fn caldb_entries(path: &Path) -> Entries {
    type Raw = &'static [u8];
    let db = redb::Builder::new().open_read_only(path).expect("open caldb's file");
    let r = db.begin_read().expect("read");
    let mut out = Entries::new();
    macro_rules! entries {
        ($k:ty, $v:ty, $t:expr) => {{
            let mut m = BTreeMap::new();
            let table = r.open_table(TableDefinition::<$k, $v>::new($t.name())).expect("caldb's table");
            for e in table.iter().expect("iter") {
                let (k, v) = e.expect("entry");
                m.insert(k.value().to_vec(), v.value().to_vec());
            }
            m
        }};
    }
    for t in T::ALL {
        let m = match t.shape() {
            Shape::VarVar => entries!(Raw, Raw, t),
            Shape::VarEmpty => entries!(Raw, Fixed<4>, t),
            Shape::IdVar => entries!(Fixed<8>, Raw, t),
            Shape::Fixed16Empty => entries!(Fixed<16>, Fixed<4>, t),
            Shape::Fixed16Flag => entries!(Fixed<16>, Fixed<5>, t),
            Shape::Fixed28Empty => entries!(Fixed<28>, Fixed<4>, t),
        };
        out.insert(t.name(), m);
    }
    out
}

/// What changed from `before` to `after`, and the sizes of the values
/// added or rewritten, by table.
fn change(before: &Entries, after: &Entries, sizes: &mut BTreeMap<&'static str, BTreeSet<usize>>) -> Change {
    let empty = BTreeMap::new();
    let mut out = Change::new();
    for (t, now) in after {
        let was = before.get(t).unwrap_or(&empty);
        let removed = was.keys().filter(|k| !now.contains_key(*k)).count();
        let (mut added, mut rewritten) = (0, 0);
        for (k, v) in now {
            match was.get(k) {
                None => added += 1,
                Some(w) if w != v => rewritten += 1,
                Some(_) => continue,
            }
            sizes.entry(t).or_default().insert(v.len());
        }
        if added + removed + rewritten > 0 {
            out.insert(t, (added, removed, rewritten));
        }
    }
    out
}

/// An engine whose every statement is followed by a look at its file.
trait Looked: Engine {
    fn entries(&self) -> Entries;
}

/// caldb on a file, each statement run by a `Database` opened for it (so
/// the file can be read between statements).
struct CaldbFile(PathBuf);

impl lifecycle::Statements for CaldbFile {
    fn statement(&mut self, s: &str) -> Option<caldb::ResultSet> {
        let mut db = Database::open(&self.0, &OpenOptions::default()).expect("open");
        db.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}

impl Looked for CaldbFile {
    fn entries(&self) -> Entries {
        caldb_entries(&self.0)
    }
}

impl Looked for floor::Lifecycles {
    fn entries(&self) -> Entries {
        floor::Lifecycles::entries(self)
    }
}

/// Runs `inner`'s statements and records, after each, its kind and what
/// it changed.
struct Recording<E> {
    inner: E,
    last: Entries,
    changes: Vec<(String, Change)>,
    sizes: BTreeMap<&'static str, BTreeSet<usize>>,
}

impl<E: Looked> Recording<E> {
    fn new(inner: E) -> Recording<E> {
        let last = inner.entries();
        Recording { inner, last, changes: Vec::new(), sizes: BTreeMap::new() }
    }

    fn record(&mut self, kind: String) {
        let now = self.inner.entries();
        let c = change(&self.last, &now, &mut self.sizes);
        self.changes.push((kind, c));
        self.last = now;
    }
}

impl<E: Looked> Engine for Recording<E> {
    fn begin(&mut self) {
        unreachable!("statement by statement")
    }
    fn commit(&mut self) {
        unreachable!("statement by statement")
    }
    fn create_device(&mut self, name: &str) {
        self.inner.create_device(name);
        self.record("CREATE DEVICE".into());
    }
    fn connect(&mut self, device: &str, user: &str) -> (String, i64) {
        let (reason, expires) = self.inner.connect(device, user);
        self.record(format!("CONNECT {reason}"));
        (reason, expires)
    }
    fn set_clock(&mut self, t: i64) {
        self.inner.set_clock(t);
        self.record("SET CLOCK".into());
    }
}

const BLOCKS: u64 = 3;
const PER_BLOCK: u64 = 6;

/// The lifecycles of `BLOCKS` blocks of `PER_BLOCK` devices, the clock
/// carried from block to block; the entries each table gained.
fn lifecycles<E: Looked>(e: &mut Recording<E>, start: i64) -> BTreeMap<&'static str, usize> {
    let before = e.last.clone();
    let mut clock = start;
    for b in 0..BLOCKS {
        lifecycle::lifecycles_of(e, b * PER_BLOCK..(b + 1) * PER_BLOCK, &mut clock);
    }
    e.last.iter().map(|(t, now)| (*t, now.len() - before.get(t).map_or(0, BTreeMap::len))).collect()
}

/// Each kind's distinct changes. A SET CLOCK expires as many licenses as
/// have come due, which differs with each engine's random expiries: its
/// change is kept as whether it expired any (and it must rewrite as many
/// licenses as expiry entries).
fn kinds(changes: &[(String, Change)]) -> BTreeMap<String, BTreeSet<Change>> {
    let mut out: BTreeMap<String, BTreeSet<Change>> = BTreeMap::new();
    for (kind, c) in changes {
        let mut c = c.clone();
        if kind == "SET CLOCK" {
            let expired = c.get("licenses").map_or(0, |x| x.2);
            assert_eq!(c.get("idx_license_expiry").map_or(0, |x| x.2), expired, "a SET CLOCK: {c:?}");
            for t in ["licenses", "idx_license_expiry"] {
                if let Some(x) = c.get_mut(t) {
                    x.2 = x.2.min(1);
                }
            }
        }
        out.entry(kind.clone()).or_default().insert(c);
    }
    out
}

#[test]
fn the_p3_limit_replays_the_changes_caldbs_statements_make() {
    let dir = std::env::temp_dir().join(format!("caldb-p3-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let start = Time::parse(generate::START).expect("start").0;

    let path = dir.join("caldb.redb");
    {
        let mut db = Database::open(&path, &OpenOptions::default()).expect("open");
        generate::setup(&mut db).expect("setup");
    }
    let mut caldb = Recording::new(CaldbFile(path));
    let caldb_added = lifecycles(&mut caldb, start);
    let mut replay = Recording::new(floor::Lifecycles::create(&dir.join("replay.redb"), start));
    let replay_added = lifecycles(&mut replay, start);

    let (caldb_kinds, replay_kinds) = (kinds(&caldb.changes), kinds(&replay.changes));
    for (kind, changes) in &caldb_kinds {
        println!("{kind}:");
        for c in changes {
            println!("  {c:?}");
        }
    }
    assert_eq!(replay_kinds, caldb_kinds, "each kind of statement's changes, replay against caldb");
    // Both expired licenses at some SET CLOCK (the changes compared above
    // hold one that rewrites licenses), and moved the clock without.
    assert_eq!(caldb_kinds["SET CLOCK"].len(), 2, "SET CLOCKs with and without expiry");

    // Every table's entries added by the lifecycles: the same but history,
    // one row (chunk) a statement on each side.
    let statements = |r: &[(String, Change)]| r.len();
    let (mut c, mut r) = (caldb_added.clone(), replay_added.clone());
    assert_eq!(c.remove("history"), Some(statements(&caldb.changes)));
    assert_eq!(r.remove("history"), Some(statements(&replay.changes)));
    c.retain(|_, n| *n > 0);
    r.retain(|_, n| *n > 0);
    assert_eq!(r, c, "entries the lifecycles added, by table (history apart)");
    println!("entries added: {caldb_added:?}");
    println!("statements: caldb {}, replay {}", caldb.changes.len(), replay.changes.len());

    // The values the replay writes are of the sizes caldb's are.
    for (t, sizes) in &replay.sizes {
        let theirs = &caldb.sizes[t];
        let (lo, hi) = (theirs.first().expect("a size"), theirs.last().expect("a size"));
        assert!(sizes.iter().all(|n| (lo..=hi).contains(&n)), "{t}: the replay's {sizes:?}, caldb's {theirs:?}");
    }
    drop(replay);
    std::fs::remove_dir_all(&dir).ok();
}
