//! R6, damaged files: truncated at several lengths, garbled at several
//! offsets, a text file, a redb file of another program. The binary never
//! panics and never hangs: a file it cannot open is a clear `error:` and
//! exit status 2; damage found later is an error, not a crash. An empty
//! file is what `touch` or `mktemp` makes: it opens as a new database, as
//! in SQLite.

#[path = "support/bin.rs"]
mod bin;
use bin::{caldb, scratch_dir};
#[path = "support/dumps.rs"]
mod dumps;

use std::path::Path;
use std::time::{Duration, Instant};

const SETUP: &str = "\
SET CLOCK '2026-01-05 09:00:00';
SET SEED 7;
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 50;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;
";

/// Exit status, stdout and stderr of caldb on `db` with `script`; a run
/// that takes longer than 30 s is killed and fails the test (a hang).
fn run(db: &Path, script: &str) -> (i32, String, String) {
    let mut child = bin::command(&[db], None).spawn().expect("start caldb");
    bin::feed(&mut child, script.as_bytes());
    let started = Instant::now();
    while child.try_wait().expect("poll caldb").is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("caldb hangs on {}", db.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("collect output");
    let code = out.status.code().unwrap_or_else(|| panic!("caldb died of a signal on {}", db.display()));
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A sound database file with some rows, closed cleanly.
fn sound_file(dir: &Path) -> Vec<u8> {
    let db = dir.join("sound.redb");
    let mut script = SETUP.to_string();
    for i in 0..40 {
        script.push_str(&format!(
            "CREATE DEVICE pc{i};\nCONNECT pc{i} AS u{i} TO rdsh1;\nCONNECT pc{i} AS u{i} TO rdsh1;\n"
        ));
    }
    let (code, _, stderr) = run(&db, &script);
    assert_eq!(code, 0, "setup: {stderr}");
    std::fs::read(&db).expect("read the sound file")
}

/// The promise for a damaged file: a panic-free, plain outcome. Either the
/// open is refused (status 2, one `error: cannot open` line naming the
/// file), or the damage is reported by CHECK and the statements that meet
/// it (status 2: the file cannot be trusted, `error: line N: damaged`), or
/// the damage was in space the database does not use and everything works.
fn assert_handled(db: &Path, what: &str) -> &'static str {
    let (code, stdout, stderr) = run(db, "CHECK;\nSELECT COUNT(*) FROM licenses;\nSELECT COUNT(*) FROM history;\n");
    let internal = ["panicked", "internal", "entered unreachable", "out of range"];
    assert!(!internal.iter().any(|t| stderr.contains(t)), "{what}: caldb panics: {stderr}");
    match code {
        2 if stderr.starts_with("error: cannot open") => {
            assert!(stderr.contains(&db.display().to_string()), "{what}: the refusal does not name the file: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{what}: more than one line: {stderr}");
            "refused"
        }
        2 => {
            assert!(stderr.lines().all(|l| l.starts_with("error: line ") && l.contains("damaged")), "{what}: {stderr}");
            assert!(stdout.lines().any(|l| l.starts_with("damage,")) || !stderr.is_empty(), "{what}: {stdout}");
            "damage-reported"
        }
        0 if stdout.lines().count() == 2 => "works",
        other => panic!("{what}: exit status {other}: {stdout}{stderr}"),
    }
}

#[test]
fn a_truncated_file_is_refused_with_status_2_or_its_damage_reported_never_a_panic() {
    let dir = scratch_dir("truncated");
    let sound = sound_file(&dir);
    let len = sound.len();
    let mut outcomes = Vec::new();
    for cut in [1, 4, 9, 100, 320, 511, 4096, 4097, 8192, len / 4, len / 2, len - 4096, len - 1] {
        let file = dir.join(format!("cut-{cut}.redb"));
        std::fs::write(&file, &sound[..cut]).expect("write the truncated file");
        let outcome = assert_handled(&file, &format!("truncated to {cut} of {len} bytes"));
        outcomes.push((cut, outcome));
    }
    eprintln!("truncated ({len} bytes): {outcomes:?}");
    // A file cut inside redb's header cannot be a database.
    for (cut, outcome) in &outcomes {
        if *cut < 320 {
            assert_eq!(*outcome, "refused", "cut at {cut}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn garbled_bytes_anywhere_are_refused_or_reported_never_a_panic_or_a_hang() {
    let dir = scratch_dir("garbled");
    let sound = sound_file(&dir);
    let len = sound.len();
    let mut outcomes = Vec::new();
    let mut noise = 0x2545_F491_4F6C_DD1Du64;
    for offset in [0, 4, 9, 12, 64, 100, 192, 250, 4096, 8192, 12_288, 16_384, len / 3, len / 2, len - 4096] {
        for width in [1, 64, 4096] {
            let mut bytes = sound.clone();
            for b in bytes.iter_mut().skip(offset).take(width) {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                *b ^= (noise as u8) | 1;
            }
            let file = dir.join(format!("garbled-{offset}-{width}.redb"));
            std::fs::write(&file, &bytes).expect("write the garbled file");
            let outcome = assert_handled(&file, &format!("{width} bytes garbled at {offset}"));
            outcomes.push((offset, width, outcome));
            let _ = std::fs::remove_file(&file);
        }
    }
    eprintln!("garbled: {outcomes:?}");
    // The magic number is the first thing read.
    assert!(outcomes.iter().filter(|(o, _, _)| *o < 9).all(|(_, _, r)| *r == "refused"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_text_file_is_not_a_caldb_database_and_is_left_alone() {
    let dir = scratch_dir("text");
    let file = dir.join("notes.txt");
    let text = "These are my notes.\nNot a database.\n";
    std::fs::write(&file, text).expect("write a text file");
    let (code, _, stderr) = run(&file, "CREATE SERVER ls1;\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: cannot open") && stderr.contains("not a caldb database"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).expect("read back"), text, "the text file was changed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A redb file that is not caldb's: `fill` writes its tables, and the
/// file is committed and closed.
fn redb_file(file: &Path, fill: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::create(file).expect("create a redb file");
    let tx = db.begin_write().expect("write");
    fill(&tx);
    tx.commit().expect("commit");
}

#[test]
fn a_redb_file_of_another_program_is_refused_as_not_caldb_and_left_alone() {
    let dir = scratch_dir("foreign");
    let file = dir.join("other.redb");
    redb_file(&file, |tx| {
        let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("accounts");
        tx.open_table(def).expect("open a table").insert("alice", 42).expect("insert");
    });
    let before = std::fs::read(&file).expect("read");
    let (code, _, stderr) = run(&file, "CREATE SERVER ls1;\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: cannot open") && stderr.contains("not a caldb database"), "{stderr}");
    assert!(std::fs::read(&file).expect("read back") == before, "the foreign file was changed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_of_another_caldb_format_is_refused_with_its_version_and_left_alone() {
    let dir = scratch_dir("format1");
    let file = dir.join("old.redb");
    // Format 1 kept every table as bytes to bytes; `meta` holds the
    // version, bincode's varint 1.
    redb_file(&file, |tx| {
        for name in ["meta", "licenses", "idx_license_due"] {
            let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new(name);
            let mut t = tx.open_table(def).expect("open a table");
            if name == "meta" {
                t.insert(&b"format"[..], &[1u8][..]).expect("insert");
            }
        }
    });
    let before = std::fs::read(&file).expect("read");
    let path = file.to_str().expect("a UTF-8 path");
    for flags in [&[][..], &["-readonly"][..]] {
        let args: Vec<&str> = flags.iter().copied().chain([path, "SELECT COUNT(*) FROM licenses;"]).collect();
        let out = bin::run(&args, None, b"");
        let stderr = bin::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "caldb format version 1, this caldb reads version {}",
                caldb::store::FORMAT_VERSION
            )),
            "{flags:?}: {stderr}"
        );
    }
    assert!(std::fs::read(&file).expect("read back") == before, "the old file was changed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_file_opens_as_a_new_database() {
    let dir = scratch_dir("empty");
    let file = dir.join("empty.redb");
    std::fs::write(&file, b"").expect("create an empty file");
    let (code, stdout, stderr) = run(&file, "CREATE SERVER ls1;\nSELECT name FROM servers;\nCHECK;\n");
    assert_eq!((code, stdout.trim()), (0, "ls1"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A record whose length prefix claims more than any record holds (here a
/// device's name claiming 2^40 bytes, as a garbled varint can): the
/// statements that read it report a damaged record. Decoding used to
/// allocate the claimed length first, and the failed allocation aborted
/// the process.
#[test]
fn a_record_claiming_a_huge_length_is_reported_damaged_not_an_abort() {
    let dir = scratch_dir("huge-length");
    let db = dir.join("huge.redb");
    std::fs::write(&db, sound_file(&dir)).expect("copy the sound file");
    {
        let store = caldb::store::Store::open(&db).expect("open the store");
        let mut tx = store.write().expect("write");
        let garbled = [253, 0, 0, 0, 0, 0, 1, 0, 0];
        tx.put(caldb::store::T::Devices, &caldb::store::keys::name("pc3"), &garbled).expect("put");
        tx.commit().expect("commit");
    }
    let (code, _, stderr) = run(&db, "SELECT * FROM devices WHERE name = 'pc3';\nCONNECT pc3 AS u3 TO rdsh1;\n");
    assert_eq!(code, 2, "a damaged file cannot be trusted: {stderr}");
    assert_eq!(stderr.lines().count(), 2, "one error per statement: {stderr}");
    assert!(stderr.lines().all(|l| l.starts_with("error: line ") && l.contains("damaged")), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Flips one bit in every copy of `needle` in the file (old pages may
/// hold copies too), `offset` bytes into it; how many copies there were.
fn flip_on_disk(file: &Path, needle: &[u8], offset: usize) -> usize {
    let mut bytes = std::fs::read(file).expect("read the file");
    let at: Vec<usize> = (0..bytes.len() - needle.len()).filter(|&i| bytes[i..].starts_with(needle)).collect();
    for &i in &at {
        bytes[i + offset] ^= 0x01;
    }
    std::fs::write(file, &bytes).expect("write the file");
    at.len()
}

/// The attack's reproduction: one byte of a history row changed on disk
/// ("pc17" read "pc16"). It used to be served with exit 0, `-readonly
/// CHECK` was silent, and the next write made it permanent and invisible.
/// Now every read of it is an error naming the table and the row (exit 2),
/// `-readonly CHECK` reports it, writes, BACKUP and `-compact` are refused, and the
/// damage is still there to see afterwards.
#[test]
fn a_changed_history_row_is_never_served_and_no_write_hides_it() {
    let dir = scratch_dir("history-flip");
    let db = dir.join("flipped.redb");
    std::fs::write(&db, sound_file(&dir)).expect("copy the sound file");
    assert!(flip_on_disk(&db, b"CREATE DEVICE pc17", 17) > 0, "the row is on disk");
    let file = db.to_str().expect("UTF-8");

    let (code, out, err) = caldb(&[file, "SELECT statement FROM history WHERE statement LIKE 'CREATE DEVICE pc1%';"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!out.contains("pc16;\npc16") && !out.contains("CREATE DEVICE pc16;\nCREATE DEVICE pc16;"), "{out}");
    assert!(err.starts_with("error: damaged: table history, key "), "{err}");
    let (code, out, err) = caldb(&["-readonly", file, "CHECK;"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.starts_with("damage,\"table history, key "), "-readonly CHECK: {out}");
    for write in ["CREATE DEVICE late;", &format!("BACKUP TO '{}';", dir.join("copy.redb").display())] {
        let (code, _, err) = caldb(&[file, write]);
        assert_eq!(code, 2, "{write}: {err}");
        assert!(err.contains("damaged"), "{write}: {err}");
    }
    assert!(!dir.join("copy.redb").exists(), "a BACKUP of damaged data");
    // Nor is it compacted: a rewrite would read it, and it is refused.
    let (code, _, err) = caldb(&["-compact", file]);
    assert_eq!(code, 2, "-compact: {err}");
    assert!(err.contains("' holds damage, so it is not compacted: "), "-compact: {err}");
    let temps =
        std::fs::read_dir(&dir).expect("list").flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"));
    assert_eq!(temps.count(), 0, "a copy of damaged data is left");
    let (code, out, _) = caldb(&["-readonly", file, "CHECK;"]);
    assert_eq!(code, 2, "the damage is still visible: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file of format 2 (the caldb before record checksums) is refused
/// untouched, with the way to carry it over; `-upgrade` carries all of it
/// (the same `.dump` as the format-2 caldb printed, CHECK clean) into a new
/// file and leaves the old one as it was; it never overwrites a file.
#[test]
fn a_format_2_file_is_refused_untouched_and_upgrade_carries_all_of_it_over() {
    let dir = scratch_dir("upgrade");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let old = dir.join("old.redb");
    std::fs::copy(data.join("format2.redb"), &old).expect("copy the format-2 file");
    let original = std::fs::read(&old).expect("read");
    let (old_s, new) = (old.to_str().expect("UTF-8"), dir.join("new.redb"));
    let new_s = new.to_str().expect("UTF-8");

    let (code, _, err) = caldb(&[old_s, "SELECT COUNT(*) FROM licenses;"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("caldb format version 2, this caldb reads version 5 (carry it over, whole, with: caldb -upgrade"),
        "{err}"
    );

    let (code, out, err) = caldb(&["-upgrade", old_s, new_s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("history: ") && out.ends_with("CHECK finds no problem in it\n"), "{out}");
    let (code, dump, err) = caldb(&["-readonly", new_s, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(data.join("format2.dump")).expect("the format-2 dump");
    // Every row of every table as the format-2 caldb dumped it (its dump had
    // no caldb_store records), and format 3's two new columns false: a
    // server's prevent_upgrade and a session's admin.
    let rows = |d: &str| -> Vec<String> {
        let rows = d.lines().filter(|l| l.starts_with("INSERT INTO ") && !l.starts_with("INSERT INTO caldb_store"));
        rows.map(str::to_string).collect()
    };
    let mut want_rows = rows(&want);
    for row in &mut want_rows {
        // Format 3's two new columns, and format 4's keypacks.inferred.
        if ["servers", "sessions", "keypacks"].iter().any(|t| row.starts_with(&format!("INSERT INTO {t} "))) {
            *row = format!("{},FALSE);", row.trim_end_matches(");"));
        }
    }
    assert_eq!(dump.lines().next(), Some(dumps::counters_now(&want).as_str()), "the clock, seed and counters");
    assert_eq!(rows(&dump), want_rows, "the carried-over file holds what the format-2 caldb dumped");
    assert_eq!(caldb(&["-readonly", new_s, "CHECK;"]), (0, String::new(), String::new()));
    assert!(std::fs::read(&old).expect("read") == original, "the old file was changed");

    let (code, _, err) = caldb(&["-upgrade", old_s, new_s]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = caldb(&["-upgrade", new_s, dir.join("again.redb").to_str().expect("UTF-8")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is already format version 5"), "{err}");

    // Each page of the old file zeroed in turn (format 2 has no record
    // checksums, but a page redb cannot read is found): a copy that fails
    // says so plainly and leaves no half copy behind.
    let partial = dir.join("partial.redb");
    let mut failed = 0;
    for page in 0..original.len() / 4096 {
        let mut damaged = original.clone();
        damaged[page * 4096..(page + 1) * 4096].fill(0);
        std::fs::write(&old, &damaged).expect("write");
        let _ = std::fs::remove_file(&partial);
        let (code, _, err) = caldb(&["-upgrade", old_s, partial.to_str().expect("UTF-8")]);
        if code != 0 {
            failed += 1;
            assert_eq!(code, 2, "page {page}: {err}");
            assert!(err.starts_with("error: cannot carry") && !err.contains("internal"), "page {page}: {err}");
            assert!(!partial.exists(), "page {page}: a half copy is left behind");
        }
    }
    assert!(failed >= 10, "only {failed} zeroed pages were found");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file that is not a database, with its first 9 bytes zero and only
/// zeros past byte 320 (what a crash while redb creates a file leaves,
/// except that redb's header fields are not there): it used to be taken
/// for an interrupted creation and emptied. It is refused untouched.
#[test]
fn a_text_file_with_a_zeroed_start_and_tail_is_refused_not_wiped() {
    let dir = scratch_dir("zeroed-text");
    let file = dir.join("notes.txt");
    let mut bytes = vec![0u8; 9];
    let text = "Three hundred bytes of a user's notes, which must survive being named as a database. ".repeat(4);
    bytes.extend_from_slice(&text.as_bytes()[..311]);
    bytes.resize(4096, 0);
    std::fs::write(&file, &bytes).expect("write the file");
    for flags in [&[][..], &["-readonly"][..]] {
        let args: Vec<&str> =
            flags.iter().copied().chain([file.to_str().expect("UTF-8"), "CREATE SERVER ls1;"]).collect();
        let (code, _, err) = caldb(&args);
        assert_eq!(code, 2, "{flags:?}: {err}");
        assert!(err.starts_with("error: cannot open") && err.contains("not a caldb database"), "{err}");
        assert!(std::fs::read(&file).expect("read back") == bytes, "{flags:?}: the file was changed");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file of format 3 (one id counter for every server's key packs and
/// licenses) is refused untouched; `-upgrade` carries it over to format 4,
/// where each server numbers its own: every key pack and license keeps its
/// id as its server's number (so history's `REVOKE LICENSE 4` and every
/// token still mean the same license), every row reads as format 3 dumped
/// it, CHECK is clean, and each server's next numbers start where the one
/// counter stood.
#[test]
fn a_format_3_file_is_carried_over_with_each_id_kept_as_its_servers_number() {
    let dir = scratch_dir("upgrade3");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let old = dir.join("old.redb");
    std::fs::copy(data.join("format3.redb"), &old).expect("copy the format-3 file");
    let original = std::fs::read(&old).expect("read");
    let (old_s, new) = (old.to_str().expect("UTF-8"), dir.join("new.redb"));
    let new_s = new.to_str().expect("UTF-8");

    let (code, _, err) = caldb(&[old_s, "SELECT COUNT(*) FROM licenses;"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("caldb format version 3, this caldb reads version 5 (carry it over"), "{err}");
    assert!(std::fs::read(&old).expect("read") == original, "the refused file was changed");

    let (code, out, err) = caldb(&["-upgrade", old_s, new_s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("CHECK finds no problem in it\n"), "{out}");
    let (code, dump, err) = caldb(&["-readonly", new_s, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(data.join("format3.dump")).expect("the format-3 dump");
    // Key packs and licenses now sort by server, then number: the same
    // rows, in another order.
    let rows = dumps::sorted_rows;
    assert_eq!(dump.lines().next(), Some(dumps::counters_now(&want).as_str()), "the clock, seed and counters");
    // Format 4's new column: keypacks.inferred, false for every old pack.
    let mut want_rows = rows(&want);
    for row in want_rows.iter_mut().filter(|r| r.starts_with("INSERT INTO keypacks ")) {
        *row = format!("{},FALSE);", row.trim_end_matches(");"));
    }
    assert_eq!(rows(&dump), want_rows, "the carried-over file holds what the format-3 caldb dumped");
    assert!(std::fs::read(&old).expect("read") == original, "the old file was changed");

    // The ids work as each server's numbers: license 7 is ls2's alone, the
    // next license of either server is 10, where the counter stood, and the
    // token pc4 holds still names license 7 of ls2: in its renewal window
    // it is renewed, not reissued.
    let (code, out, err) = caldb(&[
        new_s,
        "SELECT id, server, status FROM licenses WHERE id = 7;",
        "CREATE DEVICE pc6;",
        "CONNECT pc6 AS fay TO rdsh3;",
        "SELECT id, server FROM licenses WHERE computer = 'pc6';",
        "SET CLOCK '2026-06-08 09:00:00';",
        "CONNECT pc4 AS dave TO rdsh3;",
        "CHECK;",
    ]);
    assert_eq!(code, 0, "{err}");
    let issued = "accepted,temporary-issued,pc6,fay,rdsh3,ls2,10,temporary,2026-06-14 09:00:00,7\n";
    assert!(out.starts_with(&format!("7,ls2,active\n{issued}10,ls2\n")), "{out}");
    assert!(out.contains("\naccepted,renewed,pc4,dave,rdsh3,ls2,7,permanent,"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
