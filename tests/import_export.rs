//! EXPORT and IMPORT in the WMI CSV layouts, and BACKUP: round trips into a
//! fresh database, what PowerShell's Export-Csv writes, a corpus of
//! malformed files (each an error naming its line and column, with nothing
//! imported), and a realistic server export diagnosed end to end.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/db.rs"]
mod db;

use caldb::Database;
use db::{col, exec, query, text_rows};
use std::path::{Path, PathBuf};

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    bin::scratch_dir(&format!("import-export-{test}"))
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Two servers with permanent, temporary, upgraded, revoked and expired
/// licenses, per-device and per-user key packs.
const BUSY: &str = "
SET CLOCK '2026-01-01 08:00:00'; SET SEED 7;
CREATE SERVER ls1 PRODUCT WS2022; ACTIVATE SERVER ls1;
CREATE SERVER ls2 PRODUCT WS2019 SCOPE branch; ACTIVATE SERVER ls2;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 10;
INSTALL KEYPACK ON ls1 PRODUCT WS2019 CAL DEVICE COUNT 5 TYPE VOLUME EXPIRES '2030-01-01';
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 3 TYPE OPEN;
INSTALL KEYPACK ON ls2 PRODUCT WS2019 CAL DEVICE COUNT 4;
CREATE HOST h1 PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls1);
CREATE HOST h2 PRODUCT WS2019 MODE DEVICE SCOPE branch LICENSE SERVERS (ls2);
CREATE DEVICE a; CREATE DEVICE b; CREATE DEVICE c; CREATE DEVICE d;
CONNECT a AS u1 TO h1; CONNECT a AS u1 TO h1;
CONNECT b AS u2 TO h1; CONNECT b AS u2 TO h1;
CONNECT c AS u3 TO h1;
CONNECT d AS u4 TO h2; CONNECT d AS u4 TO h2;
ADVANCE 100 DAYS;
CONNECT a AS u1 TO h1; CONNECT a AS u1 TO h1;
CONNECT b AS u2 TO h1; CONNECT b AS u2 TO h1;
CONNECT d AS u4 TO h2; CONNECT d AS u4 TO h2;
REVOKE LICENSES WHERE computer = 'a' AND status = 'active'
";

#[test]
fn export_then_import_into_a_fresh_database_gives_the_same_rows() {
    let dir = scratch("round-trip");
    let mut src = Database::open_in_memory().expect("db");
    exec(&mut src, BUSY);
    let (lic, kp) = (dir.join("licenses.csv"), dir.join("keypacks.csv"));
    let out = query(&mut src, &format!("EXPORT LICENSES TO '{}'", p(&lic)));
    assert_eq!(out.columns, ["file", "rows"]);
    let licenses = query(&mut src, "SELECT * FROM licenses");
    assert_eq!(out.rows[0][1], caldb::Value::Int(licenses.rows.len() as i64));
    exec(&mut src, &format!("EXPORT KEYPACKS TO '{}'", p(&kp)));

    let mut dst = Database::open_in_memory().expect("db");
    exec(
        &mut dst,
        "SET CLOCK '2026-04-11 08:00:00'; CREATE SERVER ls1 PRODUCT WS2022; CREATE SERVER ls2 PRODUCT WS2019",
    );
    for server in ["ls1", "ls2"] {
        exec(&mut dst, &format!("IMPORT KEYPACKS FROM '{}' INTO SERVER {server}", p(&kp)));
        let r = query(&mut dst, &format!("IMPORT LICENSES FROM '{}' INTO SERVER {server}", p(&lic)));
        let columns = ["file", "server", "rows", "passed_over", "inferred_keypacks", "as_of", "clock", "note"];
        assert_eq!(r.columns, columns);
    }
    for table in ["licenses", "keypacks"] {
        let stmt = format!("SELECT * FROM {table}");
        assert_eq!(text_rows(&query(&mut src, &stmt)), text_rows(&query(&mut dst, &stmt)), "{table} differ");
    }
    assert!(query(&mut dst, "CHECK").rows.is_empty(), "CHECK after import");
}

#[test]
fn export_writes_what_powershell_export_csv_writes() {
    let dir = scratch("layout");
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, BUSY);
    let (lic, kp) = (dir.join("l.csv"), dir.join("k.csv"));
    exec(&mut db, &format!("EXPORT LICENSES TO '{}'; EXPORT KEYPACKS TO '{}'", p(&lic), p(&kp)));
    let text = std::fs::read_to_string(&lic).expect("read export");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_TSIssuedLicense");
    assert!(lines[1].starts_with(
        "\"LicenseId\",\"KeyPackId\",\"sIssuedToUser\",\"sIssuedToComputer\",\"LicenseStatus\",\"IssueDate\",\"ExpirationDate\",\"sHardwareId\""
    ));
    let first: Vec<&str> = lines[2].split(',').collect();
    assert!(first.iter().all(|f| f.starts_with('"') && f.ends_with('"')), "every field quoted: {}", lines[2]);
    assert_eq!(first[4], "\"3\"", "license 1 was upgraded: LicenseStatus 3");
    assert_eq!(first[5], "\"20260101080000.000000+000\"", "WMI DATETIME");
    let kp_text = std::fs::read_to_string(&kp).expect("read export");
    assert!(kp_text.starts_with("#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_TSLicenseKeyPack\r\n"));
    assert!(kp_text.contains("\"KeyPackType\",\"ProductType\",\"ProductVersion\""));
    assert!(kp_text.contains("\"Windows Server 2022\""));
    let leftovers: Vec<_> = std::fs::read_dir(&dir).expect("dir").filter_map(|e| e.ok()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary file is left behind");
}

#[test]
fn export_replaces_an_existing_file_whole() {
    let dir = scratch("replace");
    let target = dir.join("out.csv");
    std::fs::write(&target, "old content that is much longer than nothing at all".repeat(100)).expect("write");
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, "CREATE SERVER ls1");
    exec(&mut db, &format!("EXPORT LICENSES TO '{}'", p(&target)));
    let text = std::fs::read_to_string(&target).expect("read");
    assert_eq!(text.lines().count(), 2, "only the #TYPE line and the header: {text}");
}

#[test]
fn export_and_backup_refuse_to_overwrite_the_open_database() {
    let dir = scratch("refuse");
    let file = dir.join("db.caldb");
    let mut db = Database::open(&file, &Default::default()).expect("open");
    exec(&mut db, "CREATE SERVER ls1");
    let before = std::fs::read(&file).expect("read");
    let dotted = dir.join(".").join("db.caldb");
    for stmt in [
        format!("EXPORT LICENSES TO '{}'", p(&file)),
        format!("EXPORT KEYPACKS TO '{}'", p(&dotted)),
        format!("BACKUP TO '{}'", p(&file)),
    ] {
        let err = db.execute(&stmt).expect_err("must refuse").to_string();
        assert!(err.contains("is a database a caldb process has open"), "{stmt}: {err}");
    }
    assert_eq!(std::fs::read(&file).expect("read"), before);
    assert!(query(&mut db, "CHECK").rows.is_empty());
}

#[test]
fn import_reads_bare_fields_reordered_columns_iso_times_and_no_type_line() {
    let mut db = server1();
    let r = query(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER server1", data("licenses_small.csv")));
    assert_eq!(r.rows[0][2], caldb::Value::Int(3));
    let rs = query(&mut db, "SELECT id, keypack, kind, status, hwid, computer, issued, validated FROM licenses");
    assert_eq!(
        text_rows(&rs),
        [
            [
                "1",
                "3",
                "permanent",
                "active",
                "00000000000000000000000000000000000000A1",
                "FIX-01",
                "2026-02-20 12:00:00",
                "true"
            ],
            [
                "2",
                "3",
                "permanent",
                "active",
                "00000000000000000000000000000000000000A2",
                "FIX-02",
                "2026-02-21 12:00:00",
                "true"
            ],
            [
                "3",
                "2",
                "temporary",
                "temporary",
                "00000000000000000000000000000000000000A3",
                "FIX-03",
                "2026-02-28 08:00:00",
                "false"
            ],
        ]
    );
    let packs = query(&mut db, "SELECT id, issued FROM keypacks WHERE id IN (2, 3)");
    assert_eq!(text_rows(&packs), [["2", "1"], ["3", "2"]]);
    assert!(query(&mut db, "CHECK").rows.is_empty());
}

#[test]
fn imported_live_licenses_already_past_their_expiry_expire_at_the_next_statement() {
    // The clock moves past the file's expiries first: expiry has visited
    // everything up to then, and must still visit what the import adds.
    let mut db = server1();
    exec(&mut db, "ADVANCE 60 DAYS");
    exec(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER server1", data("licenses_small.csv")));
    let rs = query(&mut db, "SELECT id, status FROM licenses");
    assert_eq!(text_rows(&rs), [["1", "expired"], ["2", "expired"], ["3", "temporary"]]);
    let packs = query(&mut db, "SELECT id, issued FROM keypacks WHERE id IN (2, 3)");
    assert_eq!(text_rows(&packs), [["2", "1"], ["3", "0"]], "the expired CALs went back to their pack");
    assert!(query(&mut db, "CHECK").rows.is_empty());
}

#[test]
fn import_accepts_a_byte_order_mark_and_wmi_offsets() {
    let dir = scratch("bom");
    let file = dir.join("bom.csv");
    let body = "\u{feff}#TYPE Selected.System.Management.ManagementObject\r\n\
        \"KeyPackId\",\"LicenseId\",\"sIssuedToUser\",\"sIssuedToComputer\",\"LicenseStatus\",\"IssueDate\",\"ExpirationDate\",\"sHardwareId\"\r\n\
        \"3\",\"50\",\"u\",\"PC\",\"2\",\"20260220130000.000000+060\",\"20260420070000.000000-300\",\"1111111111111111111111111111111111111111\"\r\n";
    std::fs::write(&file, body).expect("write");
    let mut db = server1();
    exec(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER server1", p(&file)));
    let rs = query(&mut db, "SELECT issued, expires FROM licenses WHERE id = 50");
    assert_eq!(text_rows(&rs), [["2026-02-20 12:00:00", "2026-04-20 12:00:00"]]);
}

#[test]
fn import_reads_utf16_as_windows_powershell_writes_it() {
    let dir = scratch("utf16");
    let file = dir.join("utf16.csv");
    let small = std::fs::read_to_string(data("licenses_small.csv")).expect("read");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(small.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&file, bytes).expect("write");
    let mut db = server1();
    let rs = query(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER server1", p(&file)));
    assert_eq!(rs.rows[0][2], caldb::Value::Int(3));
}

#[test]
fn a_file_that_is_not_text_is_an_error_naming_its_line() {
    let dir = scratch("binary");
    let file = dir.join("binary.csv");
    let header =
        b"LicenseId,KeyPackId,sIssuedToUser,sIssuedToComputer,LicenseStatus,IssueDate,ExpirationDate,sHardwareId";
    let bytes = [&header[..], b"\r\n1,\xff\xfe\x00\r\n"].concat();
    std::fs::write(&file, bytes).expect("write");
    let mut db = server1();
    let err = db.execute(&format!("IMPORT LICENSES FROM '{}' INTO SERVER server1", p(&file))).expect_err("binary");
    let want =
        format!("{}: line 2: the file is not UTF-8 text: name its encoding, e.g. ENCODING 'windows-1252'", p(&file));
    assert_eq!(err.to_string(), want);
}

/// server1 (WS2019) with the key packs of the realistic export and three
/// licenses (ids 1 to 3), at 2026-03-01 12:00.
fn server1() -> Database {
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, "SET CLOCK '2026-03-01 12:00:00'; CREATE SERVER server1 PRODUCT WS2019; ACTIVATE SERVER server1");
    let r = query(&mut db, &format!("IMPORT KEYPACKS FROM '{}' INTO SERVER server1", data("server1_keypacks.csv")));
    assert_eq!(r.rows[0][2], caldb::Value::Int(5));
    db
}

/// Each malformed file: the line and column its error names.
const BAD: &[(&str, u32, &str)] = &[
    ("licenses_time_month_13.csv", 4, "ExpirationDate"),
    ("licenses_wmi_time_feb_30.csv", 3, "IssueDate"),
    ("licenses_status_word.csv", 3, "LicenseStatus"),
    ("licenses_status_unknown.csv", 3, "LicenseStatus"),
    ("licenses_hwid_short.csv", 3, "sHardwareId"),
    ("licenses_id_not_a_number.csv", 3, "LicenseId"),
    ("licenses_id_zero.csv", 3, "LicenseId"),
    ("licenses_id_twice.csv", 5, "LicenseId"),
    ("licenses_id_exists.csv", 3, "LicenseId"),
    ("licenses_expiry_before_issue.csv", 3, "ExpirationDate"),
    ("licenses_short_row.csv", 4, "sHardwareId"),
    ("licenses_pack_full.csv", 5, "KeyPackId"),
    ("licenses_status_not_of_kind.csv", 3, "LicenseStatus"),
    ("licenses_computer_control_char.csv", 3, "sIssuedToComputer"),
    ("licenses_too_many_revoked.csv", 4, "LicenseStatus"),
    ("licenses_missing_column.csv", 2, "ExpirationDate"),
    ("licenses_no_type_line.csv", 3, "sHardwareId"),
    ("licenses_validated_word.csv", 3, "Validated"),
    ("licenses_multiline_extra_column.csv", 5, "IssueDate"),
    ("licenses_per_user_pack.csv", 3, "KeyPackId"),
    ("licenses_kind_disagrees.csv", 3, "Kind"),
    ("licenses_cr_line_ends.csv", 4, "LicenseId"),
    ("licenses_mixed_line_ends.csv", 5, "LicenseStatus"),
    ("keypacks_type_unknown.csv", 3, "KeyPackType"),
    ("keypacks_product_unknown.csv", 3, "ProductVersion"),
    ("keypacks_product_too_new.csv", 4, "ProductVersion"),
    ("keypacks_total_zero.csv", 3, "TotalLicenses"),
    ("keypacks_id_exists.csv", 3, "KeyPackId"),
    ("keypacks_product_type_9.csv", 3, "ProductType"),
    ("keypacks_expiry_not_a_time.csv", 3, "ExpirationDate"),
];

#[test]
fn every_malformed_file_is_an_error_naming_line_and_column_and_imports_nothing() {
    let mut on_disk: Vec<String> = std::fs::read_dir(data("bad"))
        .expect("tests/data/bad")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BAD.iter().map(|(f, _, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every file of tests/data/bad has its expectation here");
    assert!(BAD.len() >= 15);
    for (file, line, column) in BAD {
        let mut db = server1();
        exec(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER server1", data("licenses_small.csv")));
        let before = db.dump().expect("dump");
        let what = if file.starts_with("keypacks") { "KEYPACKS" } else { "LICENSES" };
        let path = data(&format!("bad/{file}"));
        let err = db
            .execute(&format!("IMPORT {what} FROM '{path}' INTO SERVER server1"))
            .expect_err(&format!("{file} must be refused"))
            .to_string();
        let want = format!("{path}: line {line}, column {column}: ");
        assert!(err.starts_with(&want), "{file}: expected '{want}...', got '{err}'");
        let message = &err[want.len()..];
        assert!(message.starts_with(|c: char| c == '\'' || c.is_lowercase()), "{file}: plain lowercase: {err}");
        assert!(!message.ends_with('.'), "{file}: no trailing period: {err}");
        assert_eq!(db.dump().expect("dump"), before, "{file}: the database changed");
    }
}

#[test]
fn an_error_quotes_the_offending_text() {
    let mut db = server1();
    let path = data("bad/licenses_time_month_13.csv");
    let err = db.execute(&format!("IMPORT LICENSES FROM '{path}' INTO SERVER server1")).expect_err("bad time");
    assert_eq!(err.to_string(), format!("{path}: line 4, column ExpirationDate: '2026-13-01' is not a time"));
}

/// A server the database lacks is created by the import (activated: it
/// issued the file's CALs), so an administrator needs no other step; the
/// licenses' key packs it lacks are inferred. A missing file is an error.
#[test]
fn import_into_a_missing_server_creates_it_and_a_missing_file_is_an_error() {
    let mut db = server1();
    let r = query(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER nope", data("licenses_small.csv")));
    let (server, rows, inferred) = (&r.rows[0][1], &r.rows[0][2], &r.rows[0][4]);
    assert_eq!((server, rows, inferred), (&caldb::Value::text("nope"), &caldb::Value::Int(3), &caldb::Value::Int(1)));
    let servers = query(&mut db, "SELECT name, activated FROM servers WHERE name = 'nope'");
    assert_eq!(text_rows(&servers), vec![vec!["nope".to_string(), "true".to_string()]]);
    let err = db.execute("IMPORT LICENSES FROM '/nonexistent/x.csv' INTO SERVER server1");
    assert!(err.expect_err("no file").to_string().starts_with("cannot read '/nonexistent/x.csv'"));
}

#[test]
fn realistic_server_export_is_loaded_and_its_duplicates_diagnosed() {
    let mut db = server1();
    let r =
        query(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER server1", data("server1_issued_licenses.csv")));
    assert_eq!(r.rows[0][2], caldb::Value::Int(200));
    assert!(query(&mut db, "CHECK").rows.is_empty(), "CHECK after the import");
    let usage = text_rows(&query(&mut db, "REPORT USAGE"));
    assert!(
        usage.contains(&svec(&["server1", "WS2019", "device", "150", "139", "11", "10", "3", "27", "0"])),
        "{usage:?}"
    );
    assert!(usage.contains(&svec(&["server1", "WS2016", "device", "50", "48", "2", "0", "0", "10", "0"])), "{usage:?}");

    let dup = query(&mut db, "REPORT DUPLICATES");
    let rows = text_rows(&dup);
    let find = |kind: &str, computer: &str| {
        rows.iter()
            .find(|r| r[col(&dup, "finding")] == kind && r[col(&dup, "computers")].contains(computer))
            .unwrap_or_else(|| panic!("no {kind} finding for {computer}: {rows:?}"))
            .clone()
    };
    let lab = find("shared-hwid", "LAB-PC01");
    assert_eq!(lab[col(&dup, "computers")], "LAB-PC01,LAB-PC02,LAB-PC03,LAB-PC04,LAB-PC05");
    assert_eq!((lab[col(&dup, "live_cals")].as_str(), lab[col(&dup, "wasted_cals")].as_str()), ("5", "4"));
    assert!(lab[col(&dup, "cause")].contains("cloned image"));
    assert!(lab[col(&dup, "fix")].contains("sysprep"));
    let acct = find("several-hwids", "ACCT-PC07");
    assert_eq!(acct[col(&dup, "wasted_cals")], "1");
    assert!(acct[col(&dup, "cause")].contains("rebuilt"));
    assert_eq!(acct[col(&dup, "returns")], "2026-04-15 09:00:00", "the old CAL's expiry");
    let vdi = find("several-hwids", "VDI-POOL-11");
    assert_eq!(vdi[col(&dup, "wasted_cals")], "3");
    assert!(vdi[col(&dup, "cause")].contains("script"));
    let kiosk = find("several-cals", "KIOSK-03");
    assert_eq!(kiosk[col(&dup, "wasted_cals")], "2");
    assert!(kiosk[col(&dup, "cause")].contains("Store deleted"));
    assert_eq!(rows.len(), 4, "only the planted problems: {rows:?}");
}

fn svec(v: &[&str]) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

#[test]
fn backup_is_a_copy_that_checks_clean_and_dumps_the_same() {
    let dir = scratch("backup");
    let file = dir.join("live.caldb");
    let copy = dir.join("copy.caldb");
    std::fs::write(&copy, b"an older file in the way").expect("write");
    let mut db = Database::open(&file, &Default::default()).expect("open");
    exec(&mut db, BUSY);
    let rs = query(&mut db, &format!("BACKUP TO '{}'", p(&copy)));
    assert_eq!(rs.columns, ["file", "rows"]);
    let source_dump = db.dump().expect("dump");
    drop(db);
    let mut restored = Database::open(&copy, &Default::default()).expect("open the copy");
    assert!(query(&mut restored, "CHECK").rows.is_empty(), "CHECK on the copy");
    assert_eq!(restored.dump().expect("dump"), source_dump);
}

#[test]
fn backup_of_an_in_memory_database_opens_as_a_file() {
    let dir = scratch("backup-mem");
    let copy = dir.join("mem.caldb");
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, BUSY);
    let rs = query(&mut db, &format!("BACKUP TO '{}'", p(&copy)));
    let licenses = query(&mut db, "SELECT COUNT(*) FROM licenses");
    assert!(matches!(rs.rows[0][1], caldb::Value::Int(n) if n > 20), "{rs:?}");
    let mut restored = Database::open(&copy, &Default::default()).expect("open the copy");
    assert_eq!(query(&mut restored, "SELECT COUNT(*) FROM licenses"), licenses);
    assert_eq!(restored.dump().expect("dump"), db.dump().expect("dump"));
}

#[test]
fn imported_key_packs_keep_their_ids_and_the_temporary_pack_takes_the_files_id() {
    let mut db = server1();
    let rs = query(&mut db, "SELECT id, type, cal, total FROM keypacks ORDER BY id");
    assert_eq!(
        text_rows(&rs),
        [
            ["2", "temporary", "device", ""],
            ["3", "retail", "device", "150"],
            ["4", "volume", "device", "50"],
            ["5", "volume", "user", "25"],
            ["6", "open", "device", "2"],
        ]
    );
    let next = query(&mut db, "INSTALL KEYPACK ON server1 PRODUCT WS2019 CAL DEVICE COUNT 1");
    assert_eq!(text_rows(&next), [["7"]], "new ids follow the imported ones");
    exec(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER server1", data("licenses_small.csv")));
    exec(&mut db, "CREATE HOST h MODE DEVICE PRODUCT WS2019 LICENSE SERVERS (server1); CREATE DEVICE n");
    let issued = query(&mut db, "CONNECT n AS u TO h");
    assert_eq!(issued.rows[0][col(&issued, "license")], caldb::Value::Int(4), "new ids follow the imported ones");
    assert!(query(&mut db, "CHECK").rows.is_empty());
}

#[test]
fn ten_thousand_rows_import_in_one_statement() {
    let dir = scratch("large");
    let file = dir.join("large.csv");
    let mut text = String::from(
        "#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_TSIssuedLicense\r\n\
         \"LicenseId\",\"KeyPackId\",\"sIssuedToUser\",\"sIssuedToComputer\",\"LicenseStatus\",\"IssueDate\",\"ExpirationDate\",\"sHardwareId\"\r\n",
    );
    for i in 1..=10_000u32 {
        text.push_str(&format!(
            "\"{i}\",\"2\",\"user{i}\",\"PC-{i:05}\",\"2\",\"20260220120000.000000+000\",\"20260420120000.000000+000\",\"{i:040X}\"\r\n"
        ));
    }
    std::fs::write(&file, text).expect("write");
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, "SET CLOCK '2026-03-01 12:00:00'; CREATE SERVER s PRODUCT WS2019");
    exec(&mut db, "INSTALL KEYPACK ON s PRODUCT WS2019 CAL DEVICE COUNT 10000");
    let rs = query(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER s", p(&file)));
    assert_eq!(rs.rows[0][2], caldb::Value::Int(10_000));
    let usage = text_rows(&query(&mut db, "REPORT USAGE"));
    assert_eq!(usage, [["s", "WS2019", "device", "10000", "10000", "0", "0", "0", "2000", "0"]]);
    assert!(query(&mut db, "CHECK").rows.is_empty());
}

#[test]
fn backup_refuses_to_copy_uncommitted_changes() {
    let dir = scratch("backup-txn");
    let copy = dir.join("copy.caldb");
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, "CREATE SERVER ls1; BEGIN");
    exec(&mut db, &format!("BACKUP TO '{}'", p(&copy)));
    exec(&mut db, "CREATE SERVER ls2");
    let err = db.execute(&format!("BACKUP TO '{}'", p(&dir.join("other.caldb")))).expect_err("uncommitted");
    assert!(err.to_string().contains("COMMIT or ROLLBACK first"), "{err}");
    // Like any error inside BEGIN, the refusal rolls the block back.
    assert!(err.to_string().contains("the transaction was rolled back"), "{err}");
    assert!(db.is_aborted(), "the block waits for its ROLLBACK");
    exec(&mut db, "ROLLBACK; CREATE SERVER ls3");
    exec(&mut db, &format!("BACKUP TO '{}'", p(&copy)));
    let mut restored = Database::open(&copy, &Default::default()).expect("open");
    assert_eq!(text_rows(&query(&mut restored, "SELECT name FROM servers")), [["ls1"], ["ls3"]]);
}
