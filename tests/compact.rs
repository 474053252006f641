//! `caldb -compact FILE` (issue 19 item 5): a file grown by big
//! transactions gives its free space back, and holds the same database:
//! the same `.dump`, byte for byte, and CHECK finds nothing. A file that
//! is missing, or not caldb's, is an error that says so, and nothing is
//! created or changed.

#[path = "support/bin.rs"]
mod bin;
use bin::{caldb, scratch_dir};
#[path = "support/db.rs"]
mod db;

use caldb::{Database, OpenOptions};

/// A file built as the protocol-built P8 database is, in a few big blocks:
/// redb grows it ahead of use and frees the pages each block replaced.
fn grown(path: &std::path::Path) {
    let mut db = Database::open(path, &OpenOptions::default()).expect("open");
    for s in db::ONE_SERVER {
        db.execute(s).expect(s);
    }
    for block in 0..4 {
        db.execute("BEGIN").expect("begin");
        for i in block * 1500..(block + 1) * 1500 {
            db.execute(&format!("CREATE DEVICE d{i:07}")).expect("create");
            for _ in 0..2 {
                db.execute(&format!("CONNECT d{i:07} AS u{:05} TO h1", i % 100)).expect("connect");
            }
        }
        db.execute("COMMIT").expect("commit");
    }
}

#[test]
fn a_grown_file_is_compacted_to_less_and_holds_the_same_database() {
    let dir = scratch_dir("compact");
    let file = dir.join("grown.redb");
    grown(&file);
    let f = file.to_str().expect("UTF-8");
    let (code, before_dump, err) = caldb(&["-readonly", f, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let before = std::fs::metadata(&file).expect("stat").len();

    let (code, out, err) = caldb(&["-compact", f]);
    assert_eq!(code, 0, "{err}");
    let after = std::fs::metadata(&file).expect("stat").len();
    assert_eq!(out, format!("'{f}' compacted: {before} bytes, now {after}\n"));
    assert!(after * 10 < before * 8, "{before} bytes, then {after}: not a fifth given back");

    let (code, after_dump, err) = caldb(&["-readonly", f, ".dump"]);
    assert_eq!(code, 0, "{err}");
    assert!(after_dump == before_dump, "the compacted file dumps differently");
    let (code, out, err) = caldb(&[f, "CHECK;", "CONNECT d0000001 AS u00001 TO h1;"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("accepted,"), "CHECK finds nothing, and it takes writes: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compacting_a_missing_or_foreign_file_is_an_error_and_changes_nothing() {
    let dir = scratch_dir("compact-bad");
    let missing = dir.join("missing.redb");
    let m = missing.to_str().expect("UTF-8");
    let (code, out, err) = caldb(&["-compact", m]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(err, format!("error: cannot compact '{m}': '{m}' does not exist\n"));
    assert!(!missing.exists(), "a file was created");

    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a database\n").expect("write");
    let t = text.to_str().expect("UTF-8");
    let (code, _, err) = caldb(&["-compact", t]);
    assert_eq!(code, 2);
    assert!(err.starts_with(&format!("error: cannot compact '{t}': ")), "{err}");
    assert!(err.contains(&format!("{t}: not a caldb database")), "{err}");
    assert_eq!(std::fs::read_to_string(&text).expect("read"), "not a database\n");

    let empty = dir.join("empty.redb");
    std::fs::write(&empty, "").expect("write");
    let e = empty.to_str().expect("UTF-8");
    let (code, _, err) = caldb(&["-compact", e]);
    assert_eq!(code, 2);
    assert_eq!(err, format!("error: cannot compact '{e}': '{e}' is empty: no database to compact\n"));
    assert_eq!(std::fs::metadata(&empty).expect("stat").len(), 0, "a database was made of the empty file");

    let (code, _, err) = caldb(&["-compact"]);
    assert_eq!(code, 2);
    assert!(err.contains("option '-compact' needs a file"), "{err}");
    for args in [["-readonly", "-compact", m], ["-compact", m, "-readonly"]] {
        let (code, _, err) = caldb(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains("option '-compact FILE' takes no other option or file"), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_is_rewritten_with_full_leaves_and_a_hard_linked_one_is_compacted_in_place() {
    let dir = scratch_dir("compact-rewrite");
    let (file, linked, link) = (dir.join("a.redb"), dir.join("b.redb"), dir.join("b-link.redb"));
    grown(&file);
    std::fs::copy(&file, &linked).expect("copy");
    std::fs::hard_link(&linked, &link).expect("hard link");
    let (f, l) = (file.to_str().expect("UTF-8"), linked.to_str().expect("UTF-8"));
    let (_, dump, _) = caldb(&["-readonly", f, ".dump"]);

    let (code, out, err) = caldb(&["-compact", f]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("in place"), "{out}");
    let (code, out, err) = caldb(&["-compact", l]);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with(" (in place: it has 2 hard links, which a new file would part)\n"), "{out}");

    let (rewritten, in_place) = (len(&file), len(&linked));
    assert!(rewritten * 100 < in_place * 95, "rewritten {rewritten} bytes, in place {in_place}: leaves not packed");
    assert_eq!(len(&link), in_place, "the hard link parted from the file");
    for db in [f, l] {
        let (code, again, err) = caldb(&["-readonly", db, ".dump"]);
        assert_eq!(code, 0, "{err}");
        assert!(again == dump, "{db} dumps differently");
    }
    let left: Vec<_> = std::fs::read_dir(&dir).expect("list").flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 3, "a temporary file is left: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_another_program_has_open_is_not_compacted_and_not_a_byte_changes() {
    use std::io::{BufRead, Write};
    let dir = scratch_dir("compact-open");
    let file = dir.join("a.redb");
    grown(&file);
    let f = file.to_str().expect("UTF-8");
    // A shell with the file open, which has answered a statement and
    // waits for its next one.
    let mut other = bin::command(&[f], None).spawn().expect("start caldb");
    let mut input = other.stdin.take().expect("stdin");
    input.write_all(b"SELECT COUNT(*) FROM devices;\n").expect("write");
    let mut answer = String::new();
    std::io::BufReader::new(other.stdout.take().expect("stdout")).read_line(&mut answer).expect("read");
    assert_eq!(answer, "6000\n");
    let bytes = std::fs::read(&file).expect("read");

    let (code, out, err) = caldb(&["-compact", f]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        format!(
            "error: cannot compact '{f}': '{f}' is open in another program: compact it when no other program has it open\n"
        )
    );
    assert!(std::fs::read(&file).expect("read") == bytes, "the file changed");
    drop(input);
    other.wait().expect("the shell ends");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn a_compaction_through_a_symbolic_link_rewrites_the_file_and_keeps_the_link() {
    let dir = scratch_dir("compact-symlink");
    let (file, link) = (dir.join("a.redb"), dir.join("current.redb"));
    grown(&file);
    std::os::unix::fs::symlink("a.redb", &link).expect("symlink");
    let (f, s) = (file.to_str().expect("UTF-8"), link.to_str().expect("UTF-8"));
    let (_, dump, _) = caldb(&["-readonly", f, ".dump"]);
    let before = len(&file);
    let (code, out, err) = caldb(&["-compact", s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("'{s}' compacted: {before} bytes, now {}\n", len(&file)));
    assert!(std::fs::symlink_metadata(&link).expect("stat").file_type().is_symlink(), "the link was replaced");
    assert!(len(&file) < before, "the file the link names was not compacted");
    let (_, again, _) = caldb(&["-readonly", s, ".dump"]);
    assert!(again == dump, "the compacted file dumps differently");
    let _ = std::fs::remove_dir_all(&dir);
}

fn len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).expect("stat").len()
}

/// Ctrl-C (here from the progress callback, so the moment is certain)
/// stops the copy: the copy is removed and the file is as it was.
#[test]
fn an_interrupted_compaction_leaves_the_file_as_it_was_and_no_copy_behind() {
    let dir = scratch_dir("compact-interrupt");
    let file = dir.join("a.redb");
    grown(&file);
    let f = file.to_str().expect("UTF-8");
    let (_, dump, _) = caldb(&["-readonly", f, ".dump"]);
    let before = len(&file);
    let handle = caldb::InterruptHandle::default();
    let stop = handle.clone();
    let reports = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = reports.clone();
    let progress: caldb::ProgressFn = Box::new(move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        stop.interrupt();
    });
    let out = caldb::compact_watched(&file, &handle, Some(progress));
    assert!(matches!(out, Err(caldb::Error::Interrupted { .. })), "{out:?}");
    assert_eq!(reports.load(std::sync::atomic::Ordering::Relaxed), 1, "it went on past the interrupt");
    // redb's close may trim a page off the end; not an entry changes.
    assert!(len(&file) * 10 > before * 9, "{before} bytes, then {}: compacted", len(&file));
    let (code, again, err) = caldb(&["-readonly", f, ".dump"]);
    assert_eq!(code, 0, "{err}");
    assert!(again == dump, "the interrupted compaction changed the database");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("list").flatten().map(|e| e.file_name()).collect();
    assert_eq!(left, ["a.redb"], "a copy is left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
