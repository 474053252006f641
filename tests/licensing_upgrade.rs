//! Format 4 (issue 18: each license server's key, certificate chain and CAL
//! secret in the new `credentials` table): a format-3 file is refused
//! untouched with the way over, and `caldb -upgrade` carries it whole into
//! a format-4 file whose `credentials` table starts empty, so a real
//! client's first exchange makes the server's key there.

#[path = "support/bin.rs"]
mod bin;
use bin::{caldb, scratch_dir};
#[path = "support/rdp_client.rs"]
mod rdp_client;

use std::path::Path;

/// The `INSERT` rows of a dump, but the raw store rows.
fn rows(dump: &str) -> Vec<String> {
    let rows = dump.lines().filter(|l| l.starts_with("INSERT INTO ") && !l.starts_with("INSERT INTO caldb_store"));
    rows.map(str::to_string).collect()
}

#[test]
fn a_format_3_file_is_refused_untouched_and_upgrade_carries_it_into_format_4() {
    let dir = scratch_dir("licensing-upgrade");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let old = dir.join("old.redb");
    std::fs::copy(data.join("format3-rdpfront.redb"), &old).expect("copy the format-3 file");
    let original = std::fs::read(&old).expect("read");
    let (old_s, new) = (old.to_str().expect("UTF-8"), dir.join("new.redb"));
    let new_s = new.to_str().expect("UTF-8");

    let (code, _, err) = caldb(&[old_s, "SELECT COUNT(*) FROM licenses;"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("caldb format version 3, this caldb reads version 5 (carry it over, whole, with: caldb -upgrade"),
        "{err}"
    );
    assert!(std::fs::read(&old).expect("read") == original, "the refused file was changed");

    let (code, out, err) = caldb(&["-upgrade", old_s, new_s]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("credentials: 0") && out.ends_with("CHECK finds no problem in it\n"), "{out}");
    let (code, dump, err) = caldb(&["-readonly", new_s, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(data.join("format3-rdpfront.dump")).expect("the format-3 dump");
    // Format 4 numbers key packs and licenses per server: the one global
    // pair of counters becomes each server's (here the one server's).
    let (head, want_head) = (dump.lines().next().unwrap_or(""), want.lines().next().unwrap_or(""));
    let clock_and_seed = |h: &str| h.split(", next").next().unwrap_or("").to_string();
    assert_eq!(clock_and_seed(head), clock_and_seed(want_head), "the clock and seed");
    assert!(want_head.contains("next keypack 3, license 4, session 2, event 4, history 20"), "{want_head}");
    assert!(head.ends_with("next session 2, event 4, history 20, per server (keypack/license) 3/4"), "{head}");
    // Format 4's key packs carry `inferred` (false for every carried pack).
    let carried = |row: String| match row.strip_prefix("INSERT INTO keypacks ").and_then(|r| r.strip_suffix(");")) {
        Some(values) => format!("INSERT INTO keypacks {values},FALSE);"),
        None => row,
    };
    let want_rows: Vec<String> = rows(&want).into_iter().map(carried).collect();
    assert_eq!(rows(&dump), want_rows, "every row the format-3 caldb dumped");
    assert!(std::fs::read(&old).expect("read") == original, "the old file was changed");

    // A real client on the carried-over file: the server's credentials are
    // made in the new table, and the client gets its temporary CAL.
    let mut db = caldb::Database::open(&new, &caldb::OpenOptions::default()).expect("open the new file");
    let pc = rdp_client::Client::new([7, 7, 7, 7], "erin", "PC-ERIN");
    let v = rdp_client::connect(&mut db, "rdsh1", &pc).verdict.expect("a verdict");
    assert_eq!(v.outcome, "temporary-issued");
    drop(db);
    let (code, dump, err) = caldb(&["-readonly", new_s, ".dump"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(dump.matches("INSERT INTO caldb_store VALUES('credentials'").count(), 1, "one server's credentials");
    let _ = std::fs::remove_dir_all(&dir);
}
