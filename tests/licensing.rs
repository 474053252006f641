//! The licensing front against ironrdp-connector 0.12's client licensing
//! sequence, in process (issue 18 item 5): seed 000's walkthrough with a
//! real client's messages, and the CALs it must not trust.

#[path = "support/rdp_client.rs"]
mod rdp_client;

use caldb::{Database, report_logon};
use rdp_client::{Client, connect};

fn setup(keypack: u32) -> Database {
    let mut db = Database::open_in_memory().expect("open");
    let script = format!(
        "SET CLOCK '2026-01-05 09:00:00'; SET SEED 1; CREATE SERVER ls1 PRODUCT WS2022; ACTIVATE SERVER ls1; \
         INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT {keypack}; \
         CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;"
    );
    for stmt in script.split(';').filter(|s| !s.trim().is_empty()) {
        db.execute(stmt).expect(stmt);
    }
    db
}

fn rows(db: &mut Database, sql: &str) -> Vec<Vec<String>> {
    let rs = db.execute(sql).expect(sql).expect("rows");
    rs.rows.iter().map(|r| r.iter().map(|v| v.to_string()).collect()).collect()
}

#[test]
fn a_new_client_gets_a_temporary_cal_then_a_permanent_one_after_logon() {
    let mut db = setup(10);
    let pc = Client::new([0x11, 0x22, 0x33, 0x44], "alice", "PC-ALPHA");
    let first = connect(&mut db, "rdsh1", &pc);
    let v = first.verdict.expect("a verdict");
    assert_eq!(v.outcome, "temporary-issued");
    first.client.expect("the client stored the new license");
    let stored = pc.stored().expect("a stored CAL");
    assert!(stored.starts_with(b"CALDBCAL"), "caldb's CAL");
    report_logon(&mut db, &v, true).expect("logon");

    let second = connect(&mut db, "rdsh1", &pc);
    let v2 = second.verdict.expect("a verdict");
    assert_eq!(v2.outcome, "upgraded");
    second.client.expect("the client stored the upgrade license");
    assert_ne!(pc.stored().expect("stored"), stored, "the permanent CAL replaced the temporary one");

    let third = connect(&mut db, "rdsh1", &pc);
    assert_eq!(third.verdict.expect("a verdict").outcome, "valid");
    third.client.expect("valid client");

    let lic = rows(&mut db, "SELECT kind, status, hwid, computer, user FROM licenses ORDER BY id");
    assert_eq!(lic[0][..2], ["temporary".to_string(), "upgraded".into()]);
    assert_eq!(lic[1][..2], ["permanent".to_string(), "active".into()]);
    assert_eq!(lic[1][2], pc.hwid_hex());
    assert_eq!(lic[1][3..], ["PC-ALPHA".to_string(), "alice".into()]);
}
