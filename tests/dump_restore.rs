//! `.dump` is a backup caldb restores and sqlite3 loads: a database built
//! by the README tour (and expiry, a revoke, per-user CALs) dumps to text
//! that, piped into a new caldb file, gives the same `.dump` byte for byte,
//! and that sqlite3 (rusqlite's bundled SQLite) loads with every row of
//! every table. A restore goes only into an empty database, all or nothing.

#[path = "support/bin.rs"]
mod bin;

use bin::{scratch_dir, status, stderr, stdout};
use std::path::Path;

/// The tour, then a per-user host, a revoke and months of expiry.
fn build(dir: &Path) -> String {
    let tour = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tour.sql"))
        .expect("read examples/tour.sql");
    let more = "
        INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 3;
        CREATE HOST rdsh9 PRODUCT WS2022 MODE USER;
        CREATE DEVICE pc9;
        CONNECT pc9 AS 'o''brien' TO rdsh9;
        REVOKE LICENSES WHERE computer = 'pc2';
        ADVANCE 200 DAYS;
        CONNECT pc1 AS alice TO rdsh1;
    ";
    let db = dir.join("source.redb").to_string_lossy().into_owned();
    let out = bin::run(&[db.as_str()], Some(dir), format!("{tour}\n{more}").as_bytes());
    assert_eq!(status(&out), 0, "building the database: {}", stderr(&out));
    db
}

fn dump(db: &str, dir: &Path) -> String {
    let out = bin::run(&[db, ".dump"], Some(dir), b"");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    stdout(&out)
}

fn count(db: &str, dir: &Path, table: &str) -> i64 {
    let out = bin::run(&[db, &format!("SELECT COUNT(*) FROM {table}")], Some(dir), b"");
    stdout(&out).trim().parse().expect("a count")
}

#[test]
fn a_dump_restores_into_an_empty_database_with_the_same_dump() {
    let dir = scratch_dir("dump-restore");
    let source = build(&dir);
    let text = dump(&source, &dir);
    assert!(text.contains("INSERT INTO history VALUES("), "the dump holds the history");
    let copy = dir.join("copy.redb").to_string_lossy().into_owned();
    let out = bin::run(&[copy.as_str()], Some(&dir), text.as_bytes());
    assert_eq!((status(&out), stderr(&out)), (0, String::new()), "restoring");
    assert_eq!(dump(&copy, &dir), text, "the restored database dumps to the same text");
    // And it goes on as the original would: the same statement, the same result.
    let next = "ADVANCE 1 DAYS; CONNECT pc2 AS bob TO rdsh1;";
    let a = bin::run(&[source.as_str(), "-header"], Some(&dir), next.as_bytes());
    let b = bin::run(&[copy.as_str(), "-header"], Some(&dir), next.as_bytes());
    assert_eq!(stdout(&a), stdout(&b));
    assert!(stdout(&a).contains("accepted"), "{}", stdout(&a));
}

#[test]
fn sqlite3_loads_the_dump_with_every_row_of_every_table() {
    let dir = scratch_dir("dump-sqlite");
    let source = build(&dir);
    let text = dump(&source, &dir);
    let sqlite = rusqlite::Connection::open_in_memory().expect("sqlite");
    sqlite.execute_batch(&text).expect("sqlite3 loads the dump");
    for table in caldb::Database::table_names() {
        let n: i64 = sqlite.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).expect("count");
        assert_eq!(n, count(&source, &dir, table), "rows of {table}");
    }
    let user: String = sqlite
        .query_row("SELECT user FROM sessions WHERE device = 'pc9'", [], |r| r.get(0))
        .expect("the per-user session");
    assert_eq!(user, "o'brien");
}

#[test]
fn a_restore_into_a_database_that_has_run_statements_is_refused_and_changes_nothing() {
    let dir = scratch_dir("dump-refused");
    let source = build(&dir);
    let text = dump(&source, &dir);
    let other = dir.join("other.redb").to_string_lossy().into_owned();
    let out = bin::run(&[other.as_str(), "CREATE SERVER lsz"], Some(&dir), b"");
    assert_eq!(status(&out), 0);
    let before = dump(&other, &dir);
    let out = bin::run(&[other.as_str(), "-bail"], Some(&dir), text.as_bytes());
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).contains("a dump restores only into an empty database"), "{}", stderr(&out));
    assert_eq!(dump(&other, &dir), before);
}

#[test]
fn a_dump_whose_rows_disagree_with_its_records_is_refused_whole() {
    let dir = scratch_dir("dump-edited");
    let source = build(&dir);
    let text = dump(&source, &dir).replace("INSERT INTO devices VALUES('pc1'", "INSERT INTO devices VALUES('pcX'");
    let copy = dir.join("copy.redb").to_string_lossy().into_owned();
    let out = bin::run(&[copy.as_str(), "-bail"], Some(&dir), text.as_bytes());
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).contains("no such row in devices: ('pcX'"), "{}", stderr(&out));
    assert_eq!(count(&copy, &dir, "licenses"), 0, "nothing was restored");
    assert_eq!(count(&copy, &dir, "history"), 0);
}

/// A stored record whose key cannot be a key of its table (an edited dump)
/// is a plain error naming the table, not an internal one: the store's own
/// writes assert that every key fits, and the restore checks a dump's first.
#[test]
fn a_dump_record_whose_key_does_not_fit_its_table_is_refused_plainly() {
    let dir = scratch_dir("dump-misfit");
    let source = build(&dir);
    let text = dump(&source, &dir);
    let line = text
        .lines()
        .find(|l| l.starts_with("INSERT INTO caldb_store VALUES('idx_license_hwid',"))
        .expect("an index row");
    let key_start = line.find("X'").expect("a key blob") + 2;
    let edited = format!("{}00{}", &line[..key_start], &line[key_start..]);
    let text = text.replacen(line, &edited, 1);
    let copy = dir.join("copy.redb").to_string_lossy().into_owned();
    let out = bin::run(&[copy.as_str(), "-bail"], Some(&dir), text.as_bytes());
    assert_eq!(status(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("is no record of 'idx_license_hwid'"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("internal"), "{}", stderr(&out));
    assert_eq!(count(&copy, &dir, "licenses"), 0, "nothing was restored");
}

/// A dump of another storage format is refused before a record is
/// written, saying the way over: by the format it states (from format 5
/// on), or, in an earlier dump, which states none, by its first record
/// this format does not store (format 4's tokens, `tests/data/format4.dump`).
#[test]
fn a_dump_of_another_storage_format_is_refused_whole_with_the_way_over() {
    let dir = scratch_dir("dump-format");
    let way = "a dump restores into the format that wrote it: restore it with the caldb that wrote it, \
               then carry that file over with caldb -upgrade OLD.redb NEW.redb";
    let source = build(&dir);
    let text = dump(&source, &dir);
    let stated = "INSERT INTO caldb_store VALUES('meta',X'666F726D6174',X'05');";
    assert!(text.contains(stated), "the dump states its format");
    let older = text.replacen(stated, "INSERT INTO caldb_store VALUES('meta',X'666F726D6174',X'04');", 1);
    let format4 = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/format4.dump")).expect("read");
    for (name, text, says) in [
        ("stated", older.into_bytes(), "this dump holds caldb's storage format 4, and this caldb stores format 5: "),
        ("format4", format4, "caldb_store: a record of 'tokens' that this caldb's storage format (5) does not store: "),
    ] {
        let copy = dir.join(format!("{name}.redb")).to_string_lossy().into_owned();
        let out = bin::run(&[copy.as_str(), "-bail"], Some(&dir), &text);
        assert_eq!(status(&out), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains(&format!("{says}{way}")), "{name}: {}", stderr(&out));
        assert_eq!(count(&copy, &dir, "licenses"), 0, "{name}: nothing was restored");
        assert_eq!(count(&copy, &dir, "history"), 0, "{name}");
    }
}

#[test]
fn insert_into_a_query_table_outside_a_dump_is_a_clear_error() {
    let dir = scratch_dir("dump-insert");
    let out = bin::run(
        &[":memory:", "INSERT INTO servers VALUES('ls1','WS2022','default',TRUE,TRUE,FALSE,'2026-01-01 00:00:00')"],
        Some(&dir),
        b"",
    );
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).contains("caldb's tables change through statements"), "{}", stderr(&out));
    let out = bin::run(&[":memory:", "INSERT INTO caldb_store VALUES('servers',X'00',X'00')"], Some(&dir), b"");
    assert!(stderr(&out).contains("only inside the dump's BEGIN TRANSACTION"), "{}", stderr(&out));
    let out = bin::run(&[":memory:", "CREATE TABLE t(a TEXT)"], Some(&dir), b"");
    assert!(stderr(&out).contains("caldb's tables are fixed: there is no table 't'"), "{}", stderr(&out));
}
