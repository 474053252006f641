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

fn text(db: &mut Database, sql: &str) -> String {
    rows(db, sql).first().and_then(|r| r.first()).cloned().unwrap_or_default()
}

/// Moves the clock to `days` before the expiry of license `id`.
fn to_days_before_expiry(db: &mut Database, id: u64, days: i64) {
    let left: i64 = text(db, &format!("SELECT expires - now() FROM licenses WHERE id = {id}")).parse().expect("days");
    db.execute(&format!("ADVANCE {} DAYS", left - days)).expect("advance");
}

/// A client through new license, logon and upgrade: its permanent license.
fn licensed(db: &mut Database, pc: &Client) -> u64 {
    let v = connect(db, "rdsh1", pc).verdict.expect("a verdict");
    report_logon(db, &v, true).expect("logon");
    let v = connect(db, "rdsh1", pc).verdict.expect("a verdict");
    assert_eq!(v.outcome, "upgraded");
    v.license.expect("a license")
}

/// Every statement of history, run again on a new database, gives the
/// same dump: the decisions replay without the exchange's cryptography.
/// The servers' credentials are no statement's effect (a replay has made
/// none: no client connected to it), so they are left out.
fn assert_history_replays(db: &mut Database) {
    let history = rows(db, "SELECT statement FROM history ORDER BY seq");
    let mut again = Database::open_in_memory().expect("open");
    for row in &history {
        again.execute(&row[0]).expect(&row[0]);
    }
    let effects = |dump: String| -> Vec<String> {
        let credentials = "INSERT INTO caldb_store VALUES('credentials'";
        dump.lines().filter(|l| !l.starts_with(credentials)).map(str::to_string).collect()
    };
    let (original, replayed) = (effects(db.dump().expect("dump")), effects(again.dump().expect("dump")));
    assert!(original.len() > 20, "a dump of the walkthrough");
    assert_eq!(replayed, original, "history replays to the same database");
}

#[test]
fn a_permanent_cal_is_renewed_in_its_window_and_reissued_after_a_revoke() {
    let mut db = setup(10);
    let pc = Client::new([1, 2, 3, 4], "alice", "PC-ALPHA");
    let first = licensed(&mut db, &pc);
    let permanent = pc.stored().expect("stored");
    assert_eq!(connect(&mut db, "rdsh1", &pc).verdict.expect("verdict").outcome, "valid");
    assert_eq!(pc.stored().expect("stored"), permanent, "a valid client stores nothing new");

    to_days_before_expiry(&mut db, first, 3);
    let old_expiry = text(&mut db, &format!("SELECT expires FROM licenses WHERE id = {first}"));
    let renewed = connect(&mut db, "rdsh1", &pc);
    let v = renewed.verdict.expect("verdict");
    assert_eq!((v.outcome.as_str(), v.license), ("renewed", Some(first)));
    renewed.client.expect("the client stored the upgrade license");
    assert_ne!(pc.stored().expect("stored"), permanent, "the renewed CAL carries the new expiry");
    assert_ne!(text(&mut db, &format!("SELECT expires FROM licenses WHERE id = {first}")), old_expiry);

    db.execute(&format!("REVOKE LICENSE {first}")).expect("revoke");
    to_days_before_expiry(&mut db, first, 2);
    let reissued = connect(&mut db, "rdsh1", &pc);
    let v = reissued.verdict.expect("verdict");
    assert_eq!(v.outcome, "reissued");
    assert_ne!(v.license, Some(first));
    reissued.client.expect("the client stored the reissued license");
    assert_history_replays(&mut db);
}

#[test]
fn failed_logons_never_upgrade_a_temporary_cal() {
    let mut db = setup(10);
    let bot = Client::new([9, 9, 9, 9], "mallory", "BOT1");
    for _ in 0..3 {
        let v = connect(&mut db, "rdsh1", &bot).verdict.expect("verdict");
        assert!(v.outcome == "temporary-issued" || v.outcome == "temporary-valid", "{}", v.outcome);
        report_logon(&mut db, &v, false).expect("logon report");
    }
    assert_eq!(text(&mut db, "SELECT COUNT(*) FROM licenses WHERE kind = 'permanent'"), "0");
    assert_eq!(text(&mut db, "SELECT validated FROM licenses"), "false");
    assert_history_replays(&mut db);
}

#[test]
fn a_tampered_cal_is_not_trusted_and_the_client_gets_a_new_temporary_one() {
    let mut db = setup(10);
    let pc = Client::new([1, 1, 1, 1], "alice", "PC-ALPHA");
    licensed(&mut db, &pc);
    let mut cal = pc.stored().expect("stored");
    let at = cal.len() - 40; // inside the expiry, before the tag
    cal[at] ^= 0x01;
    *pc.store.0.lock().expect("lock") = Some(cal);
    let v = connect(&mut db, "rdsh1", &pc).verdict.expect("verdict");
    assert_eq!(v.outcome, "temporary-issued");
    let last = text(&mut db, "SELECT statement FROM history ORDER BY seq DESC LIMIT 1");
    assert!(last.ends_with("PRESENTING INVALID 'tag'"), "{last}");
    assert_history_replays(&mut db);
}

#[test]
fn another_machines_cal_is_not_taken_as_its_own() {
    let mut db = setup(10);
    let alpha = Client::new([1, 1, 1, 1], "alice", "PC-ALPHA");
    let first = licensed(&mut db, &alpha);
    let beta = Client::new([2, 2, 2, 2], "bob", "PC-BETA");
    *beta.store.0.lock().expect("lock") = alpha.stored();
    let v = connect(&mut db, "rdsh1", &beta).verdict.expect("verdict");
    assert_eq!(v.outcome, "temporary-issued", "treated as presenting nothing");
    let last = text(&mut db, "SELECT statement FROM history ORDER BY seq DESC LIMIT 1");
    assert!(last.ends_with(&format!("PRESENTING INVALID 'hwid' LICENSE {first} ON ls1")), "{last}");
    assert_history_replays(&mut db);
}

#[test]
fn a_cal_from_before_a_rebuild_is_reissued_in_its_renewal_window() {
    let mut db = setup(10);
    let pc = Client::new([5, 6, 7, 8], "alice", "PC-ALPHA");
    let first = licensed(&mut db, &pc);
    to_days_before_expiry(&mut db, first, 3);
    db.execute("REBUILD SERVER ls1 REINSTALL KEYPACKS").expect("rebuild");
    let run = connect(&mut db, "rdsh1", &pc);
    let v = run.verdict.expect("verdict");
    assert_eq!(v.outcome, "reissued", "its server no longer knows the license");
    run.client.expect("stored the reissued license");
    assert_history_replays(&mut db);
}

#[test]
fn an_expired_temporary_cal_with_no_permanent_cal_to_have_is_refused_and_the_client_stores_nothing() {
    let mut db = setup(1);
    db.execute("DEACTIVATE SERVER ls1").expect("deactivate"); // temporary CALs only
    let pc = Client::new([3, 3, 3, 3], "alice", "PC-ALPHA");
    let v = connect(&mut db, "rdsh1", &pc).verdict.expect("verdict");
    report_logon(&mut db, &v, true).expect("logon");
    let temporary = pc.stored();
    db.execute("ADVANCE 91 DAYS").expect("advance");
    let run = connect(&mut db, "rdsh1", &pc);
    let v = run.verdict.expect("verdict");
    assert!(!v.licensed);
    assert_eq!(v.outcome, "no-license");
    let err = run.client.expect_err("the client aborts");
    assert!(err.contains("NoLicense") || err.to_lowercase().contains("license"), "{err}");
    assert_eq!(pc.stored(), temporary, "the client stored nothing");
    assert_history_replays(&mut db);
}

/// The HWID words FreeRDP sends: MD5 of its host name, as IronRDP's four
/// little-endian words after the platform id.
fn freerdp_words(host: &str) -> [u32; 4] {
    use md5::{Digest, Md5};
    let d = Md5::digest(host.as_bytes());
    std::array::from_fn(|i| u32::from_le_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]))
}

#[test]
fn report_duplicates_shows_seed_002s_cases_with_real_clients_and_their_client_family() {
    let mut db = setup(20);
    // A cloned image: FreeRDP's HWID comes from the host name, so two
    // machines named alike present one HWID under two computer names.
    licensed(&mut db, &Client::new(freerdp_words("PC-CLONE"), "ann", "PC-CLONE"));
    licensed(&mut db, &Client::new(freerdp_words("PC-CLONE"), "ben", "PC-CLONE-2"));
    // A rebuilt machine: one name, two HWIDs (IronRDP's default, then another).
    licensed(&mut db, &Client::new([0, 0, 0, 0], "cat", "PC-REBUILT"));
    licensed(&mut db, &Client::new([5, 5, 5, 5], "cat", "PC-REBUILT"));
    // A CAL copied to another machine.
    let owner = Client::new([6, 6, 6, 6], "dan", "PC-OWNER");
    let copied = licensed(&mut db, &owner);
    let thief = Client::new([7, 7, 7, 7], "eve", "PC-THIEF");
    *thief.store.0.lock().expect("lock") = owner.stored();
    connect(&mut db, "rdsh1", &thief).verdict.expect("verdict");

    let report = rows(&mut db, "REPORT DUPLICATES");
    let find = |kind: &str| -> Vec<String> {
        report.iter().find(|r| r[0] == kind).unwrap_or_else(|| panic!("no {kind} in {report:?}")).clone()
    };
    let shared = find("shared-hwid");
    assert_eq!(shared[3], "PC-CLONE,PC-CLONE-2");
    assert!(shared[8].contains("FreeRDP (platform 0x04010000 and MD5 of the host name 'PC-CLONE')"), "{}", shared[8]);
    let several = find("several-hwids");
    assert_eq!(several[3], "PC-REBUILT");
    assert!(several[8].contains("IronRDP (its default HWID"), "{}", several[8]);
    let misplaced = find("misplaced-cal");
    assert_eq!((misplaced[3].as_str(), misplaced[4].as_str()), ("PC-OWNER,PC-THIEF", copied.to_string().as_str()));
}

#[test]
fn a_simulation_makes_the_same_server_key_every_run_and_a_real_database_a_fresh_one() {
    let made = |script: &str| {
        let mut db = Database::open_in_memory().expect("open");
        for s in script.split(';').filter(|s| !s.trim().is_empty()) {
            db.execute(s).expect(s);
        }
        let pc = Client::new([1, 2, 3, 4], "alice", "PC-ALPHA");
        connect(&mut db, "rdsh1", &pc).verdict.expect("verdict");
        db.front_credentials("ls1").expect("read").expect("made when first needed")
    };
    let simulated = "SET CLOCK '2026-01-05 09:00:00'; SET SEED 4; CREATE SERVER ls1; CREATE HOST rdsh1 MODE DEVICE;";
    let (a, b) = (made(simulated), made(simulated));
    assert!(a.seeded && a == b, "the same script, the same key, chain and secret");
    assert_eq!(a.chain.len(), 2, "two certificates");
    assert_eq!(a.n.len(), 256, "a 2048-bit modulus");
    let real = "CREATE SERVER ls1; CREATE HOST rdsh1 MODE DEVICE;";
    let (c, d) = (made(real), made(real));
    assert!(!c.seeded && c.n != d.n && c.secret != d.secret, "the operating system's randomness");
}
