//! Format 4 (issue 18: each license server's key, certificate chain and CAL
//! secret in the new `credentials` table): a format-3 file is refused
//! untouched with the way over, and `caldb -upgrade` carries it whole into
//! a format-4 file whose `credentials` table starts empty, so a real
//! client's first exchange makes the server's key there.

#[path = "support/bin.rs"]
mod bin;
use bin::caldb;
#[path = "support/carry.rs"]
mod carry;
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
    let c = carry::refused_then_carried("licensing-upgrade", "format3-rdpfront.redb", 3);
    assert!(c.out.contains("credentials: 0"), "{}", c.out);
    let (new_s, data) = (c.new_s(), Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"));
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

    // A real client on the carried-over file: the server's credentials are
    // made in the new table, and the client gets its temporary CAL.
    let mut db = caldb::Database::open(&c.new, &caldb::OpenOptions::default()).expect("open the new file");
    let pc = rdp_client::Client::new([7, 7, 7, 7], "erin", "PC-ERIN");
    let v = rdp_client::connect(&mut db, "rdsh1", &pc).verdict.expect("a verdict");
    assert_eq!(v.outcome, "temporary-issued");
    drop(db);
    let (code, dump, err) = caldb(&["-readonly", new_s, ".dump"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(dump.matches("INSERT INTO caldb_store VALUES('credentials'").count(), 1, "one server's credentials");
    let _ = std::fs::remove_dir_all(&c.dir);
}
