//! REPORT USAGE, DUPLICATES, USERS and EXPIRING, and the revoke limit they
//! show (protocol.md "Administration"): max(1, floor(20%)) of the installed
//! per-device CALs of a product may be revoked at once, a revoked license
//! counts until its original expiry, and a bulk revoke is all or nothing.

#[path = "support/db.rs"]
mod db;

use caldb::{Database, Value};
use db::{col, column, exec, query, text_rows};

fn ints(db: &mut Database, stmt: &str) -> Vec<i64> {
    query(db, stmt).rows.iter().map(|r| if let Value::Int(n) = r[0] { n } else { panic!("{r:?}") }).collect()
}

const BASE: &str = "SET CLOCK '2026-03-01 09:00:00'; SET SEED 1; CREATE SERVER ls1; ACTIVATE SERVER ls1;
    CREATE HOST h1 MODE DEVICE LICENSE SERVERS (ls1); CREATE HOST hu MODE USER LICENSE SERVERS (ls1)";

fn base(device_cals: u64) -> Database {
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, BASE);
    exec(&mut db, &format!("INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL DEVICE COUNT {device_cals}"));
    db
}

/// Devices `prefix1..prefixN`, each holding a permanent CAL (a temporary
/// license first, upgraded at the second connection).
fn devices_with_cals(db: &mut Database, prefix: &str, n: u64) {
    for i in 1..=n {
        exec(db, &format!("CREATE DEVICE {prefix}{i}; CONNECT {prefix}{i} AS u TO h1; CONNECT {prefix}{i} AS u TO h1"));
    }
}

fn active_ids(db: &mut Database) -> Vec<i64> {
    ints(db, "SELECT id FROM licenses WHERE status = 'active' ORDER BY id")
}

/// The device row of REPORT USAGE for ls1 WS2025, by column name.
fn device_usage(db: &mut Database) -> std::collections::BTreeMap<String, String> {
    let rs = query(db, "REPORT USAGE");
    let row = text_rows(&rs).into_iter().find(|r| r[0] == "ls1" && r[1] == "WS2025" && r[2] == "device");
    let row = row.unwrap_or_else(|| panic!("no device row: {rs:?}"));
    rs.columns.iter().map(|c| c.to_string()).zip(row).collect()
}

#[test]
fn usage_counts_installed_issued_available_temporary_revoked_and_revocable() {
    let mut db = base(10);
    exec(&mut db, "INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL USER COUNT 3");
    devices_with_cals(&mut db, "d", 4);
    exec(&mut db, "CREATE DEVICE t1; CONNECT t1 AS u TO h1");
    let first = active_ids(&mut db)[0];
    exec(&mut db, &format!("REVOKE LICENSE {first}"));
    exec(&mut db, "CREATE DEVICE p; CONNECT p AS u1 TO hu; CONNECT p AS u2 TO hu");
    let rs = query(&mut db, "REPORT USAGE");
    assert_eq!(
        rs.columns,
        [
            "server",
            "product",
            "cal",
            "installed",
            "issued",
            "available",
            "temporary",
            "revoked",
            "revocable",
            "inferred_keypacks"
        ]
    );
    assert_eq!(
        text_rows(&rs),
        [
            ["ls1", "WS2025", "device", "10", "3", "7", "1", "1", "1", "0"],
            ["ls1", "WS2025", "user", "3", "2", "1", "0", "0", "0", "0"],
        ]
    );
}

#[test]
fn usage_stops_counting_per_user_cals_once_they_expire() {
    let mut db = base(5);
    exec(&mut db, "INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL USER COUNT 3");
    exec(&mut db, "CREATE DEVICE p; CONNECT p AS u1 TO hu; CONNECT p AS u2 TO hu");
    let user_row = |db: &mut Database| {
        let rs = query(db, "REPORT USAGE");
        text_rows(&rs).into_iter().find(|r| r[2] == "user").expect("user row")
    };
    assert_eq!(user_row(&mut db)[4], "2");
    exec(&mut db, "ADVANCE 61 DAYS");
    assert_eq!(user_row(&mut db)[4..6], ["0", "3"]);
}

#[test]
fn one_to_five_installed_cals_allow_exactly_one_revoke() {
    for installed in 1..=5u64 {
        let mut db = base(installed);
        devices_with_cals(&mut db, "d", installed);
        let ids = active_ids(&mut db);
        assert_eq!(ids.len() as u64, installed);
        let rs = query(&mut db, &format!("REVOKE LICENSE {}", ids[0]));
        assert_eq!(rs.rows[0][col(&rs, "revocable")], Value::Int(0), "{installed} installed");
        // With one CAL, the revoked CAL is back in the pool for a new device.
        let next = if installed == 1 {
            devices_with_cals(&mut db, "e", 1);
            active_ids(&mut db)[0]
        } else {
            ids[1]
        };
        let before = db.dump().expect("dump");
        let err = db.execute(&format!("REVOKE LICENSE {next}")).expect_err("over the limit").to_string();
        assert!(err.contains("its limit of 1 (20% of"), "{installed} installed: {err}");
        assert_eq!(db.dump().expect("dump"), before, "a refused revoke changes nothing");
        assert_eq!(device_usage(&mut db)["revocable"], "0");
    }
}

#[test]
fn exactly_twenty_percent_of_ten_is_two_and_the_refusal_names_the_next_date() {
    let mut db = base(10);
    devices_with_cals(&mut db, "d", 10);
    let ids = active_ids(&mut db);
    assert_eq!(device_usage(&mut db)["revocable"], "2");
    let rs = query(&mut db, &format!("REVOKE LICENSE {}", ids[0]));
    assert_eq!(rs.rows[0][col(&rs, "revocable")], Value::Int(1));
    let rs = query(&mut db, &format!("REVOKE LICENSE {}", ids[1]));
    assert_eq!(rs.rows[0][col(&rs, "revocable")], Value::Int(0));
    let earliest = query(&mut db, "SELECT expires FROM licenses WHERE status = 'revoked' ORDER BY expires LIMIT 1");
    let earliest = earliest.rows[0][0].to_string();
    assert_eq!(rs.rows[0][col(&rs, "next_revoke_allowed")].to_string(), earliest);
    let err = db.execute(&format!("REVOKE LICENSE {}", ids[2])).expect_err("third").to_string();
    assert!(err.contains("already has 2 WS2025 licenses revoked, its limit of 2"), "{err}");
    assert!(err.ends_with(&format!("the next revoke is allowed on {earliest}")), "{err}");
    let usage = device_usage(&mut db);
    assert_eq!((usage["revoked"].as_str(), usage["revocable"].as_str()), ("2", "0"));
}

#[test]
fn usage_shows_the_limit_rounded_down_and_never_below_one() {
    for (installed, limit) in [(1, 1), (4, 1), (5, 1), (9, 1), (10, 2), (14, 2), (15, 3), (100, 20)] {
        let mut db = base(installed);
        assert_eq!(device_usage(&mut db)["revocable"], limit.to_string(), "{installed} installed");
    }
}

#[test]
fn revoked_licenses_reaching_their_expiry_free_the_budget() {
    let mut db = base(10);
    devices_with_cals(&mut db, "d", 10);
    let ids = active_ids(&mut db);
    exec(&mut db, &format!("REVOKE LICENSE {}; REVOKE LICENSE {}", ids[0], ids[1]));
    assert!(db.execute(&format!("REVOKE LICENSE {}", ids[2])).is_err());
    exec(&mut db, "ADVANCE 90 DAYS");
    let usage = device_usage(&mut db);
    assert_eq!((usage["revoked"].as_str(), usage["revocable"].as_str()), ("0", "2"));
    devices_with_cals(&mut db, "n", 1);
    let fresh = *active_ids(&mut db).last().expect("a new CAL");
    let rs = query(&mut db, &format!("REVOKE LICENSE {fresh}"));
    assert_eq!(rs.rows[0][col(&rs, "revocable")], Value::Int(1));
}

#[test]
fn a_bulk_revoke_is_all_or_nothing() {
    let mut db = base(10);
    devices_with_cals(&mut db, "d", 10);
    let before = db.dump().expect("dump");
    let err = db.execute("REVOKE LICENSES WHERE server = 'ls1'").expect_err("ten is over the limit of two");
    assert!(err.to_string().contains("its limit of 2"), "{err}");
    assert_eq!(db.dump().expect("dump"), before);
    let rs = query(&mut db, "REVOKE LICENSES WHERE computer IN ('d1', 'd2')");
    assert_eq!(rs.rows.len(), 2);
    assert_eq!(column(&rs, "revocable"), ["1", "0"]);
    let before = db.dump().expect("dump");
    assert!(db.execute("REVOKE LICENSES WHERE computer = 'd3'").is_err());
    assert_eq!(db.dump().expect("dump"), before);
}

#[test]
fn reports_of_an_empty_database_have_their_columns_and_no_rows() {
    let mut db = Database::open_in_memory().expect("db");
    for (stmt, first) in [
        ("REPORT USAGE", "server"),
        ("REPORT DUPLICATES", "finding"),
        ("REPORT USERS", "server"),
        ("REPORT EXPIRING", "day"),
        ("REPORT EXPIRING WITHIN 7 DAYS", "day"),
    ] {
        let rs = query(&mut db, stmt);
        assert_eq!(rs.columns[0], first, "{stmt}");
        assert!(rs.rows.is_empty(), "{stmt}");
    }
}

#[test]
fn a_sound_database_has_no_duplicates() {
    let mut db = base(10);
    devices_with_cals(&mut db, "d", 6);
    exec(&mut db, "CREATE DEVICE t; CONNECT t AS u TO h1");
    let rs = query(&mut db, "REPORT DUPLICATES");
    assert_eq!(
        rs.columns,
        ["finding", "server", "hwid", "computers", "licenses", "live_cals", "wasted_cals", "returns", "cause", "fix"]
    );
    assert!(rs.rows.is_empty(), "{rs:?}");
}

/// The one finding of REPORT DUPLICATES, by column name.
fn only_finding(db: &mut Database) -> std::collections::BTreeMap<String, String> {
    let rs = query(db, "REPORT DUPLICATES");
    assert_eq!(rs.rows.len(), 1, "{rs:?}");
    rs.columns.iter().map(|c| c.to_string()).zip(text_rows(&rs).remove(0)).collect()
}

#[test]
fn clones_of_an_image_that_kept_its_hwid_are_one_shared_hwid_finding() {
    let mut db = base(10);
    devices_with_cals(&mut db, "img", 1);
    for clone in ["c1", "c2"] {
        exec(&mut db, &format!("CLONE DEVICE img1 AS {clone}; CONNECT {clone} AS u TO h1; CONNECT {clone} AS u TO h1"));
    }
    let f = only_finding(&mut db);
    assert_eq!(f["finding"], "shared-hwid");
    assert_eq!(f["server"], "ls1");
    assert_eq!(f["computers"], "c1,c2,img1");
    let live: Vec<i64> = active_ids(&mut db);
    assert_eq!(f["live_cals"], live.len().to_string());
    assert_eq!(f["wasted_cals"], (live.len() - 1).to_string());
    let newest = *live.last().expect("licenses");
    let wasted: Vec<String> = live.iter().filter(|id| **id != newest).map(ToString::to_string).collect();
    assert!(f["fix"].contains(&format!("revoke licenses {}", wasted.join(","))), "{}", f["fix"]);
    assert!(f["fix"].starts_with("sysprep the image"), "{}", f["fix"]);
    let latest = query(
        &mut db,
        &format!("SELECT expires FROM licenses WHERE id IN ({}) ORDER BY expires DESC LIMIT 1", wasted.join(",")),
    );
    assert_eq!(f["returns"], latest.rows[0][0].to_string());
}

#[test]
fn devices_sharing_a_hwid_are_reported_before_they_hold_any_license() {
    let mut db = base(10);
    let hwid = "00112233445566778899AABBCCDDEEFF00112233";
    exec(&mut db, &format!("CREATE DEVICE x HWID '{hwid}'; CREATE DEVICE y HWID '{hwid}'"));
    let f = only_finding(&mut db);
    assert_eq!((f["finding"].as_str(), f["server"].as_str(), f["hwid"].as_str()), ("shared-hwid", "", hwid));
    assert_eq!((f["wasted_cals"].as_str(), f["returns"].as_str()), ("0", ""));
    assert!(f["fix"].ends_with("no CAL is wasted yet"), "{}", f["fix"]);
}

#[test]
fn a_reimaged_machine_is_one_computer_with_several_hwids() {
    let mut db = base(10);
    devices_with_cals(&mut db, "r", 1);
    let old = active_ids(&mut db)[0];
    exec(&mut db, "ADVANCE 3 DAYS; REIMAGE DEVICE r1; CONNECT r1 AS u TO h1; CONNECT r1 AS u TO h1");
    let f = only_finding(&mut db);
    assert_eq!((f["finding"].as_str(), f["computers"].as_str()), ("several-hwids", "r1"));
    assert_eq!((f["live_cals"].as_str(), f["wasted_cals"].as_str()), ("2", "1"));
    assert!(f["cause"].contains("rebuilt or reimaged"));
    assert!(f["fix"].contains(&format!("revoke license {old} within the 20% limit (2 revocable now)")), "{}", f["fix"]);
    let expires = query(&mut db, &format!("SELECT expires FROM licenses WHERE id = {old}"));
    assert_eq!(f["returns"], expires.rows[0][0].to_string());
    assert!(f["fix"].ends_with(&format!("let them expire by {}", &f["returns"][..10])));
}

#[test]
fn a_hwid_regenerated_at_every_boot_points_at_a_script() {
    let mut db = base(10);
    devices_with_cals(&mut db, "v", 1);
    for _ in 0..3 {
        exec(&mut db, "ADVANCE 1 DAYS; CLEAR DEVICE v1 LICENSING; CONNECT v1 AS u TO h1; CONNECT v1 AS u TO h1");
    }
    let f = only_finding(&mut db);
    assert_eq!(f["finding"], "several-hwids");
    assert_eq!(f["hwid"].split(',').count(), 4);
    assert_eq!(f["wasted_cals"], "3");
    assert!(f["cause"].contains("script deletes MSLicensing"), "{}", f["cause"]);
    assert!(f["fix"].starts_with("remove the script; use per-user licensing"), "{}", f["fix"]);
}

#[test]
fn a_deleted_store_leaves_one_hwid_holding_several_cals() {
    let mut db = base(10);
    devices_with_cals(&mut db, "k", 1);
    exec(&mut db, "ADVANCE 1 DAYS; CLEAR DEVICE k1 STORE; CONNECT k1 AS u TO h1; CONNECT k1 AS u TO h1");
    let f = only_finding(&mut db);
    assert_eq!((f["finding"].as_str(), f["computers"].as_str()), ("several-cals", "k1"));
    assert_eq!((f["live_cals"].as_str(), f["wasted_cals"].as_str()), ("2", "1"));
    assert!(f["cause"].starts_with("Store deleted"));
    assert!(f["fix"].starts_with("remove the script that deletes MSLicensing\\Store"));
}

#[test]
fn users_report_shows_over_allocation_of_per_user_cals() {
    let mut db = base(5);
    exec(&mut db, "INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL USER COUNT 2; CREATE DEVICE p");
    for user in ["ann", "bob", "cid"] {
        exec(&mut db, &format!("CONNECT p AS {user} TO hu"));
    }
    let rs = query(&mut db, "REPORT USERS");
    assert_eq!(rs.columns, ["server", "product", "tracked", "installed", "over_allocated"]);
    assert_eq!(text_rows(&rs), [["ls1", "WS2025", "3", "2", "1"]]);
    exec(&mut db, "INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL USER COUNT 5");
    assert_eq!(text_rows(&query(&mut db, "REPORT USERS")), [["ls1", "WS2025", "3", "7", "0"]]);
    exec(&mut db, "ADVANCE 61 DAYS");
    assert_eq!(text_rows(&query(&mut db, "REPORT USERS")), [["ls1", "WS2025", "0", "7", "0"]]);
}

#[test]
fn users_report_counts_tracked_cals_without_any_installed() {
    let mut db = base(5);
    exec(&mut db, "CREATE DEVICE p; CONNECT p AS ann TO hu");
    assert_eq!(text_rows(&query(&mut db, "REPORT USERS")), [["ls1", "WS2025", "1", "0", "1"]]);
}

#[test]
fn expiring_counts_cals_coming_back_day_by_day() {
    let mut db = base(30);
    devices_with_cals(&mut db, "d", 20);
    exec(&mut db, "CREATE DEVICE t; CONNECT t AS u TO h1");
    let ids = active_ids(&mut db);
    exec(&mut db, &format!("REVOKE LICENSE {}", ids[0]));
    let rs = query(&mut db, "REPORT EXPIRING");
    assert_eq!(rs.columns, ["day", "server", "product", "cals", "revokes_freed"]);
    assert_eq!(rs.chart, Some(3), "a terminal draws the cals column as bars");
    let sum = |name: &str| column(&rs, name).iter().map(|c| c.parse::<i64>().expect("int")).sum::<i64>();
    assert_eq!(
        sum("cals"),
        19,
        "the active ones; the revoked CAL came back at the revoke, the temporary one holds none"
    );
    assert_eq!(sum("revokes_freed"), 1, "the revoked license's expiry frees a place under the revoke limit");
    let days = column(&rs, "day");
    assert!(days.windows(2).all(|w| w[0] < w[1]), "one row per day, in order: {days:?}");
    let revoked = query(&mut db, &format!("SELECT expires FROM licenses WHERE id = {}", ids[0]));
    assert!(days.contains(&revoked.rows[0][0].to_string()[..10].to_string()));
}

#[test]
fn expiring_within_n_days_looks_only_that_far() {
    let mut db = base(10);
    devices_with_cals(&mut db, "d", 10);
    assert!(query(&mut db, "REPORT EXPIRING WITHIN 10 DAYS").rows.is_empty(), "no CAL lasts less than 52 days");
    let all: i64 = column(&query(&mut db, "REPORT EXPIRING WITHIN 89 DAYS"), "cals")
        .iter()
        .map(|c| c.parse::<i64>().unwrap())
        .sum();
    assert_eq!(all, 10);
    let first = query(&mut db, "SELECT expires FROM licenses WHERE status = 'active' ORDER BY expires LIMIT 1");
    let Value::Time(t) = first.rows[0][0] else { panic!("a time") };
    let days = (t.0 - caldb::Time::parse("2026-03-01 09:00:00").unwrap().0) / 86_400;
    let rs = query(&mut db, &format!("REPORT EXPIRING WITHIN {days} DAYS"));
    assert_eq!(column(&rs, "day").first().map(String::as_str), Some(&t.to_string()[..10]));
}

/// Names compare as Windows compares them (issue 16 item 3): a license
/// imported from a Windows export for computer `R1`, under another HWID,
/// and the caldb device `r1`'s own license are one computer with two
/// HWIDs, not two computers with one each.
#[test]
fn a_computer_spelt_in_another_case_is_the_same_computer_in_duplicates() {
    let mut db = base(10);
    devices_with_cals(&mut db, "r", 1);
    let csv = std::env::temp_dir().join(format!("caldb-reports-case-{}.csv", std::process::id()));
    let export = "sHardwareId,LicenseId,KeyPackId,LicenseStatus,sIssuedToComputer,sIssuedToUser,IssueDate,ExpirationDate\n\
                  00112233445566778899AABBCCDDEEFF00112233,50,2,2,R1,u,2026-02-20 12:00:00,2026-05-01 12:00:00\n";
    std::fs::write(&csv, export).expect("write the export");
    exec(&mut db, &format!("IMPORT LICENSES FROM '{}' INTO SERVER LS1", csv.display()));
    std::fs::remove_file(&csv).ok();
    let f = only_finding(&mut db);
    assert_eq!((f["finding"].as_str(), f["server"].as_str()), ("several-hwids", "ls1"));
    assert_eq!((f["computers"].as_str(), f["live_cals"].as_str()), ("r1", "2"));
    assert_eq!(column(&query(&mut db, "SELECT server FROM licenses WHERE id = 50"), "server"), vec!["ls1"]);
}
