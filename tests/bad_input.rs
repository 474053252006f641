//! R4, bad input: a corpus of malformed statements, dot-commands, command
//! lines and CSV-like garbage (tests/corpus) runs through the real binary
//! in script mode against one file database. Each case gives a positioned,
//! plain `error: line N: message` on standard error and exit status 1 (2
//! for a bad command line), and the database's dump stays identical. Then
//! random token soup through `Database::execute` (proptest): no panic, and
//! CHECK stays clean whatever the soup happened to change.

#[path = "support/bin.rs"]
mod bin;

use bin::scratch_dir;
use caldb::{Database, OpenOptions};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Output;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

const SETUP: &str = "\
SET CLOCK '2026-01-05 09:00:00';
SET SEED 7;
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE FARM f1;
CREATE DEVICE pc1;
CONNECT pc1 AS alice TO rdsh1;
CONNECT pc1 AS alice TO rdsh1;
";

fn caldb<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: &[u8], cwd: &Path) -> Output {
    bin::run(args, Some(cwd), stdin)
}

fn dump(db: &Path) -> String {
    Database::open(db, &OpenOptions { read_only: true }).expect("open the database").dump().expect("dump")
}

/// A database with a little of everything, and its dump.
fn base(dir: &Path) -> (PathBuf, String) {
    let db = dir.join("base.redb");
    let out = caldb(&[&db], SETUP.as_bytes(), dir);
    assert_eq!(out.status.code(), Some(0), "setup fails: {}", String::from_utf8_lossy(&out.stderr));
    let text = dump(&db);
    (db, text)
}

/// The complaints a plain message must not contain: panics, debug output.
fn assert_plain(stderr: &str, what: &str) {
    for bad in ["panicked", "RUST_BACKTRACE", "Plan {", "Parse {", "Storage(", "Error {", "\"message\""] {
        assert!(!stderr.contains(bad), "{what}: the error is not plain ({bad}): {stderr}");
    }
}

/// The corpus lines of a file, without comments and blank lines.
fn corpus_lines(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(CORPUS).join(name)).expect("read the corpus");
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("## ")).map(str::to_string).collect()
}

/// Runs one bad script; the error must be on line `line` (any line when
/// `None`), the status 1 and the dump unchanged.
fn assert_refused(db: &Path, dir: &Path, script: &[u8], line: Option<usize>, before: &str, what: &str) {
    if let Err(e) = refused(db, dir, script, line, before, what) {
        panic!("{e}");
    }
}

/// As `assert_refused`, the failure as an error, so a corpus run can list
/// every case that fails.
fn refused(db: &Path, dir: &Path, script: &[u8], line: Option<usize>, before: &str, what: &str) -> Result<(), String> {
    std::panic::catch_unwind(|| refused_or_panic(db, dir, script, line, before, what)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

fn refused_or_panic(db: &Path, dir: &Path, script: &[u8], line: Option<usize>, before: &str, what: &str) {
    let out = caldb(&[db], script, dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: exit status (stderr: {stderr})");
    assert!(!stderr.trim().is_empty(), "{what}: no error message");
    assert_plain(&stderr, what);
    for l in stderr.lines() {
        let rest = l.strip_prefix("error: line ").unwrap_or_else(|| panic!("{what}: not a script error: {l}"));
        let (n, message) = rest.split_once(": ").unwrap_or_else(|| panic!("{what}: no message: {l}"));
        // `line N` or `line N, column C`
        let n = n.split(", column ").next().unwrap_or(n);
        let n: usize = n.parse().unwrap_or_else(|_| panic!("{what}: no line number: {l}"));
        if let Some(line) = line {
            assert_eq!(n, line, "{what}: error on the wrong line: {l}");
        }
        assert!(!message.trim().is_empty(), "{what}: empty message");
    }
    assert!(dump(db) == before, "{what}: the database changed");
}

#[test]
fn every_malformed_statement_and_dot_command_is_a_positioned_error_that_changes_nothing() {
    let dir = scratch_dir("bad-statements");
    let (db, before) = base(&dir);
    let cases = corpus_lines("bad_statements.txt");
    assert!(cases.len() >= 200, "the corpus has {} cases", cases.len());
    // The bad line comes after 0, 1 or 2 harmless lines, so the line number
    // in the message is checked, not assumed.
    let preambles = ["", "-- a comment\n", "SELECT COUNT(*) FROM servers;\n\n"];
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let preamble = preambles[i % preambles.len()];
        let line = preamble.matches('\n').count() + 1;
        let end = if case.starts_with('.') { "\n" } else { ";\n" };
        let script = format!("{preamble}{case}{end}");
        if let Err(e) = refused(&db, &dir, script.as_bytes(), Some(line), &before, &format!("case {}: {case}", i + 1)) {
            failures.push(e);
            // A case that changed the database: start again from the base.
            if dump(&db) != before {
                let _ = std::fs::remove_file(&db);
                base(&dir);
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), cases.len(), failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_statement_spanning_lines_is_reported_at_the_line_of_its_bad_spot() {
    let dir = scratch_dir("bad-multiline");
    let (db, before) = base(&dir);
    let script =
        "SELECT COUNT(*) FROM servers;\nINSTALL KEYPACK\n  ON ls1\n  PRODUCT WS2022\n  CAL DEVICE COUNT zero;\n";
    assert_refused(&db, &dir, script.as_bytes(), Some(5), &before, "multi-line statement");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_bad_command_line_exits_2_with_a_plain_message_and_changes_nothing() {
    let dir = scratch_dir("bad-command-lines");
    let (db, before) = base(&dir);
    let missing = dir.join("missing.redb");
    let cases = corpus_lines("bad_command_lines.txt");
    for case in &cases {
        let args: Vec<String> = case
            .split('\t')
            .map(|a| {
                a.replace("{db}", &db.to_string_lossy())
                    .replace("{dir}", &dir.to_string_lossy())
                    .replace("{missing}", &missing.to_string_lossy())
            })
            .collect();
        let out = caldb(&args, b"CREATE SERVER intruder;\n", &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case:?}: exit status (stderr: {stderr})");
        assert!(stderr.starts_with("caldb: ") || stderr.starts_with("error: "), "{case:?}: {stderr}");
        assert_plain(&stderr, case);
        assert_eq!(dump(&db), before, "{case:?}: the database changed");
        assert!(!missing.exists(), "{case:?}: a read-only open created the file");
    }
    // An argument that is not UTF-8.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let arg = std::ffi::OsStr::from_bytes(b"-\xff\xfe");
        let out = caldb(&[arg, db.as_os_str()], b"", &dir);
        assert_eq!(out.status.code(), Some(2));
        assert_plain(&String::from_utf8_lossy(&out.stderr), "non-UTF-8 argument");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn csv_garbage_as_a_script_or_imported_is_an_error_that_changes_nothing() {
    let dir = scratch_dir("bad-csv");
    let (db, before) = base(&dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(CORPUS).join("csv"))
        .expect("the csv corpus")
        .map(|e| e.expect("a corpus file").path())
        .collect();
    files.sort();
    assert!(files.len() >= 12);
    for file in &files {
        let bytes = std::fs::read(file).expect("read a csv case");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        // Piped as a script: blank files are no statements at all.
        if bytes.iter().any(|b| !b.is_ascii_whitespace()) {
            assert_refused(&db, &dir, &bytes, None, &before, &format!("{name} as a script"));
        }
        for what in ["KEYPACKS", "LICENSES"] {
            let script = format!("IMPORT {what} FROM '{}' INTO SERVER ls1;\n", file.display());
            assert_refused(&db, &dir, script.as_bytes(), Some(1), &before, &format!("IMPORT {what} of {name}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Words the soup is made of: keywords, names that exist, literals good and
/// bad, punctuation.
const TOKENS: &[&str] = &[
    "CREATE",
    "SERVER",
    "HOST",
    "DEVICE",
    "ACTIVATE",
    "DEACTIVATE",
    "SET",
    "ONLINE",
    "OFFLINE",
    "SECURITY",
    "GROUP",
    "OFF",
    "INSTALL",
    "UNINSTALL",
    "KEYPACK",
    "KEYPACKS",
    "ON",
    "PRODUCT",
    "CAL",
    "USER",
    "COUNT",
    "TYPE",
    "EXPIRES",
    "MODE",
    "UNSET",
    "SCOPE",
    "LICENSE",
    "LICENSES",
    "SERVERS",
    "FARM",
    "HWID",
    "CLONE",
    "AS",
    "WITH",
    "STORE",
    "REIMAGE",
    "CLEAR",
    "LICENSING",
    "CONNECT",
    "TO",
    "LOGON",
    "FAILED",
    "DISCONNECT",
    "LOGOFF",
    "SESSION",
    "CLOCK",
    "WALL",
    "ADVANCE",
    "DAYS",
    "HOURS",
    "MINUTES",
    "SECONDS",
    "SEED",
    "REVOKE",
    "WHERE",
    "REBUILD",
    "REINSTALL",
    "CHECK",
    "REPAIR",
    "BACKUP",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SELECT",
    "FROM",
    "GROUP",
    "BY",
    "ORDER",
    "ASC",
    "DESC",
    "LIMIT",
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "IN",
    "LIKE",
    "SHOW",
    "REPORT",
    "USAGE",
    "DUPLICATES",
    "USERS",
    "EXPIRING",
    "WITHIN",
    "EXPORT",
    "IMPORT",
    "INTO",
    "WS2003",
    "WS2012R2",
    "WS2019",
    "WS2022",
    "WS2025",
    "RETAIL",
    "VOLUME",
    "TEMPORARY",
    "servers",
    "keypacks",
    "licenses",
    "devices",
    "tokens",
    "hosts",
    "sessions",
    "history",
    "events",
    "user_cals",
    "id",
    "name",
    "status",
    "expires",
    "ls1",
    "ls2",
    "rdsh1",
    "pc1",
    "pc2",
    "alice",
    "f1",
    "*",
    "(",
    ")",
    ",",
    ";",
    "=",
    "!=",
    "<>",
    "<",
    ">=",
    "'",
    "''",
    "'2026-02-01'",
    "'2026-02-30 25:61:61'",
    "'x'",
    "0",
    "1",
    "2",
    "-1",
    "7",
    "52",
    "999999999999999999999",
    "9223372036854775807",
    "--",
    "%",
    "_",
    "'%a%'",
    "'0123456789ABCDEF0123456789ABCDEF01234567'",
    "TRUE",
    "FALSE",
    "\n",
    "é",
    "\u{0}",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|words| words.join(" "))
}

fn soup_cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// A small deployment for the soup to act on.
fn soup_db() -> Database {
    let mut db = Database::open_in_memory().expect("in-memory database");
    for s in SETUP.lines() {
        db.execute(s).expect("setup");
    }
    db
}

proptest! {
    #![proptest_config(ProptestConfig { cases: soup_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics_and_never_breaks_an_invariant(statements in prop::collection::vec(soup(), 1..4)) {
        let mut db = soup_db();
        for text in &statements {
            let _ = db.execute(text);
        }
        if db.in_transaction() {
            let _ = db.execute("ROLLBACK");
        }
        let rs = db.execute("CHECK").expect("CHECK runs").expect("CHECK returns rows");
        prop_assert!(rs.rows.is_empty(), "CHECK after {:?}: {:?}", statements, rs.rows);
    }
}
