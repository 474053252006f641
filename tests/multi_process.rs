//! R5, several processes on one file (redb's MultiWriter mode): two `caldb`
//! writers run scripts of creates and CONNECTs at once, some of them in
//! BEGIN ... COMMIT blocks, while a read-only process takes snapshots
//! (`CHECK`, `.dump`). Afterwards every statement landed exactly once and
//! the invariants hold; every snapshot the reader saw was of whole
//! transactions: key pack counts match the active licenses, and a block's
//! device never appears without the CONNECT of the same block.

#[path = "support/bin.rs"]
mod bin;

use bin::scratch_dir;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Child;

const SETUP: &str = "\
SET CLOCK '2026-01-05 09:00:00';
SET SEED 7;
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 1000;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
";

const ITEMS: usize = 40;
const SNAPSHOTS: usize = 80;

/// Starts caldb ARGS DB with `script` on its standard input.
fn start(args: &[&str], db: &Path, script: &str) -> Child {
    let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    all.push(db.as_os_str());
    let mut child = bin::command(&all, None).spawn().expect("start caldb");
    bin::feed(&mut child, script.as_bytes());
    child
}

/// A writer's statements: devices connected twice (temporary, then
/// upgraded), every third one inside a BEGIN ... COMMIT block.
fn writer_script(tag: &str) -> (String, Vec<String>) {
    let mut script = String::new();
    let mut changing = Vec::new();
    for i in 0..ITEMS {
        let stmts = [
            format!("CREATE DEVICE {tag}{i}"),
            format!("CONNECT {tag}{i} AS {tag}u{i} TO rdsh1"),
            format!("CONNECT {tag}{i} AS {tag}u{i} TO rdsh1"),
        ];
        let block = i % 3 == 0;
        if block {
            script.push_str("BEGIN;\n");
        }
        for s in &stmts {
            script.push_str(&format!("{s};\n"));
            changing.push(s.clone());
        }
        if block {
            script.push_str("COMMIT;\n");
        }
    }
    (script, changing)
}

/// The device a writer's statement is about.
fn device_of(statement: &str) -> &str {
    let words: Vec<&str> = statement.split_whitespace().collect();
    if words[0] == "CREATE" { words[2] } else { words[1] }
}

/// The rows of one table in a `.dump`, split into fields.
fn rows<'a>(dump: &'a str, table: &str) -> Vec<Vec<&'a str>> {
    let prefix = format!("INSERT INTO {table} VALUES(");
    dump.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|l| l.trim_end_matches(");").split(',').collect())
        .collect()
}

/// Checks one snapshot: key pack counts equal active licenses, and every
/// device of a writer's block comes with its block's CONNECT.
fn assert_whole(dump: &str, n: usize) {
    let mut active: BTreeMap<&str, usize> = BTreeMap::new();
    for l in rows(dump, "licenses") {
        if l[4] == "'active'" {
            *active.entry(l[1]).or_default() += 1;
        }
    }
    for k in rows(dump, "keypacks") {
        if k[4] != "'temporary'" {
            assert_eq!(k[6].parse::<usize>().ok(), Some(active.get(k[0]).copied().unwrap_or(0)), "snapshot {n}: {k:?}");
        }
    }
    let history: Vec<&str> = rows(dump, "history").iter().filter_map(|h| h.get(2).copied()).collect();
    for d in rows(dump, "devices") {
        let name = d[0].trim_matches('\'');
        let index: Option<usize> = name.get(1..).and_then(|i| i.parse().ok());
        if index.is_some_and(|i| i % 3 == 0) {
            let connect = format!("'CONNECT {name} AS {}u", &name[..1]);
            let connects = history.iter().filter(|h| h.starts_with(&connect)).count();
            assert_eq!(connects, 2, "snapshot {n}: device {name} of a block without its block's CONNECTs");
        }
    }
}

#[test]
fn two_writers_land_every_statement_once_and_a_reader_sees_only_whole_transactions() {
    let dir = scratch_dir("multi");
    let db = dir.join("shared.redb");
    let out = start(&[], &db, SETUP).wait_with_output().expect("setup");
    assert!(out.status.success(), "setup: {}", String::from_utf8_lossy(&out.stderr));

    let (script_a, changing_a) = writer_script("a");
    let (script_b, changing_b) = writer_script("b");
    let mut reader_script = String::new();
    for _ in 0..SNAPSHOTS {
        reader_script.push_str("CHECK;\n.dump\n");
    }
    let a = start(&[], &db, &script_a);
    let b = start(&[], &db, &script_b);
    let reader = start(&["-readonly"], &db, &reader_script);
    let (a, b, reader) = (a.wait_with_output(), b.wait_with_output(), reader.wait_with_output());
    for (who, out) in [("writer a", a), ("writer b", b)] {
        let out = out.expect("writer output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.is_empty(), "{who}: status {:?}: {stderr}", out.status);
    }
    let reader = reader.expect("reader output");
    let stderr = String::from_utf8_lossy(&reader.stderr);
    assert!(reader.status.success() && stderr.is_empty(), "reader: {stderr}");
    let text = String::from_utf8_lossy(&reader.stdout).into_owned();
    let snapshots: Vec<&str> = text.split("-- caldb dump:").skip(1).collect();
    assert_eq!(snapshots.len(), SNAPSHOTS);
    // CHECK printed nothing: everything before the first dump is empty.
    assert!(text.starts_with("-- caldb dump:"), "CHECK reported problems: {}", &text[..text.len().min(500)]);
    let mut seen = Vec::new();
    for (n, s) in snapshots.iter().enumerate() {
        assert_whole(s, n);
        seen.push(rows(s, "history").len());
    }

    // Every statement exactly once, in some interleaving.
    let out = start(&["-csv"], &db, "CHECK;\nSELECT statement FROM history ORDER BY seq;\n")
        .wait_with_output()
        .expect("final check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let history: Vec<&str> = stdout.lines().collect();
    let setup_count = SETUP.lines().count();
    assert_eq!(history.len(), setup_count + changing_a.len() + changing_b.len(), "history: {stdout}");
    let mut expected: Vec<String> = changing_a.iter().chain(&changing_b).cloned().collect();
    let mut landed: Vec<String> = history[setup_count..].iter().map(|s| s.to_string()).collect();
    // The order within each writer is kept.
    for (tag, changing) in [("a", &changing_a), ("b", &changing_b)] {
        let own: Vec<&String> = landed.iter().filter(|s| device_of(s).starts_with(tag)).collect();
        assert_eq!(own, changing.iter().collect::<Vec<_>>(), "writer {tag}'s statements out of order");
    }
    expected.sort();
    landed.sort();
    assert_eq!(landed, expected, "some statement is missing or landed twice");
    eprintln!(
        "multi-process: 2 writers x {} statements, reader snapshots at history counts {seen:?}",
        changing_a.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
