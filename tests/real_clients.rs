//! Real RDP clients against `caldb-host` on 127.0.0.1: FreeRDP's `xfreerdp`
//! (under `xvfb-run`, `/auth-only`, standard RDP security) and rdesktop,
//! each with HOME in a scratch folder. Three runs each: a new client gets a
//! temporary CAL, then (its logon having succeeded) a permanent one, then
//! is a valid client; the CAL file each client keeps holds exactly the
//! bytes the database issued; FreeRDP's HWID is `00000104` followed by the
//! MD5 of its hostname; a refusal makes either client exit non-zero and
//! store nothing. Each client's permanent CAL is renewed in the last 7
//! days before it expires (the database's clock moved with `ADVANCE`
//! while the host serves): an upgrade license with the new expiry, which
//! the client stores in place of the old CAL. `scripts/real-clients.sh` installs the clients; under CI=true a
//! missing client fails the test, elsewhere it skips with a printed line.

#[path = "support/host.rs"]
mod host;

use host::{DEPLOYMENT, Host, caldb, database, rows, scratch_dir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether `tool` is installed; under CI its absence is a failure.
fn have(tool: &str) -> bool {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    if !found {
        let why = format!("'{tool}' is not installed (scripts/real-clients.sh installs it)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}: under CI the real-client tests must run");
        println!("skipped: {why}");
    }
    found
}

/// One xfreerdp connection, bounded in time; its output.
fn xfreerdp(port: u16, home: &Path, password: &str, hostname: &str) -> Output {
    Command::new("timeout")
        .args(["60", "xvfb-run", "-a", "xfreerdp"])
        .arg(format!("/v:127.0.0.1:{port}"))
        .args(["/u:alice", &format!("/p:{password}"), "/d:CORP", "/sec:rdp"])
        .arg(format!("/client-hostname:{hostname}"))
        .args(["/cert:ignore", "/auth-only"])
        .env("HOME", home)
        .output()
        .expect("run xfreerdp")
}

/// One rdesktop connection, bounded in time; its output. rdesktop stops at
/// the capability exchange, after licensing and the logon.
fn rdesktop(port: u16, home: &Path, hostname: &str) -> Output {
    Command::new("timeout")
        .args(["60", "xvfb-run", "-a", "rdesktop", "-u", "alice", "-p", "secret", "-d", "CORP", "-n", hostname])
        .arg(format!("127.0.0.1:{port}"))
        .env("HOME", home)
        .output()
        .expect("run rdesktop")
}

/// The CAL files under `dir` (none when it does not exist), sorted.
fn cal_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|path| path.extension().is_some_and(|ext| ext == "cal"));
    files.sort();
    files
}

/// The only CAL file under `dir`, read.
fn the_cal(dir: &Path) -> Vec<u8> {
    let files = cal_files(dir);
    assert_eq!(files.len(), 1, "expected one CAL file in {}: {files:?}", dir.display());
    std::fs::read(&files[0]).expect("read the CAL file")
}

/// The licenses: id, kind, status, validated, computer, hwid.
fn licenses(db: &Path) -> Vec<Vec<String>> {
    rows(db, "SELECT id, kind, status, validated, computer, hwid FROM licenses ORDER BY id;")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn xfreerdp_gets_a_temporary_then_a_permanent_cal_then_is_a_valid_client() {
    if !have("xfreerdp") || !have("xvfb-run") {
        return;
    }
    let dir = scratch_dir("xfreerdp");
    let (db, home) = (database(&dir, DEPLOYMENT), dir.join("home"));
    let host = Host::start(&db, "RDSH1", &[]);
    let store = home.join(".config/freerdp/licenses");
    let hwid = format!("00000104{}", md5_hex("PC-ALPHA"));

    let out = xfreerdp(host.port, &home, "secret", "PC-ALPHA");
    assert!(out.status.success(), "first run:\n{}\n{}", text(&out), host.log());
    let first = licenses(&db);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(&first[0][1..], ["temporary", "temporary", "true", "PC-ALPHA", hwid.as_str()]);
    assert_issued(&the_cal(&store), &db, 1);

    let out = xfreerdp(host.port, &home, "secret", "PC-ALPHA");
    assert!(out.status.success(), "second run:\n{}\n{}", text(&out), host.log());
    let second = licenses(&db);
    assert_eq!(second.len(), 2, "{second:?}");
    assert_eq!(&second[0][1..3], ["temporary", "upgraded"]);
    assert_eq!(&second[1][1..], ["permanent", "active", "true", "PC-ALPHA", hwid.as_str()]);
    let permanent = the_cal(&store);
    assert_issued(&permanent, &db, 2);

    let out = xfreerdp(host.port, &home, "secret", "PC-ALPHA");
    assert!(out.status.success(), "third run:\n{}\n{}", text(&out), host.log());
    assert_eq!(licenses(&db), second, "a valid client gets no new license");
    assert_eq!(the_cal(&store), permanent, "a valid client keeps its CAL");
}

/// The README's story (`examples/real_client.sh`): three xfreerdp runs
/// through the host (temporary, upgraded, renewed), CHECK clean and a
/// history that replays to the same `.dump`; the script exits non-zero
/// when any of that fails.
#[test]
fn the_real_client_story_script_runs_to_its_end_and_its_history_replays() {
    if !have("xfreerdp") || !have("xvfb-run") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/real_client.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("CALDB", env!("CARGO_BIN_EXE_caldb"))
        .env("CALDB_HOST", env!("CARGO_BIN_EXE_caldb-host"))
        .output()
        .expect("run examples/real_client.sh");
    let (stdout, stderr) = (text_of(&out.stdout), text_of(&out.stderr));
    assert!(out.status.success(), "the story failed:\n{stdout}\n{stderr}");
    for step in ["temporary-issued (licensed)", "upgraded (licensed)", "renewed (licensed)"] {
        assert!(stdout.contains(step), "no '{step}' in the host's log:\n{stdout}");
    }
    assert!(stdout.contains("CHECK: no problem found"), "{stdout}");
    assert!(stdout.contains("the history, run on a new file, gives the same .dump"), "{stdout}");
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn xfreerdp_refused_exits_non_zero_and_stores_nothing() {
    if !have("xfreerdp") || !have("xvfb-run") {
        return;
    }
    let dir = scratch_dir("xfreerdp-refused");
    let script = format!("{DEPLOYMENT}SET SERVER LS1 OFFLINE;\nADVANCE 121 DAYS;\n");
    let (db, home) = (database(&dir, &script), dir.join("home"));
    let host = Host::start(&db, "RDSH1", &[]);

    let out = xfreerdp(host.port, &home, "secret", "PC-LATE");
    assert!(!out.status.success(), "a refused xfreerdp exited 0:\n{}", text(&out));
    assert!(cal_files(&home.join(".config/freerdp/licenses")).is_empty(), "a refused client stored a CAL");
    assert!(licenses(&db).is_empty());
    let log = host.wait_for("refused:", 1, std::time::Duration::from_secs(10));
    assert!(log.contains("refused: no-license-server"), "{log}");
}

#[test]
fn rdesktop_gets_a_temporary_then_a_permanent_cal_then_is_a_valid_client() {
    if !have("rdesktop") || !have("xvfb-run") {
        return;
    }
    let dir = scratch_dir("rdesktop");
    let (db, home) = (database(&dir, DEPLOYMENT), dir.join("home"));
    let host = Host::start(&db, "RDSH1", &[]);
    let store = home.join(".local/share/rdesktop/licenses");

    rdesktop(host.port, &home, "PC-BETA");
    let first = licenses(&db);
    assert_eq!(first.len(), 1, "{first:?}\n{}", host.log());
    assert_eq!(&first[0][1..5], ["temporary", "temporary", "true", "PC-BETA"]);
    assert!(first[0][5].starts_with("02000000"), "rdesktop's HWID is its platform and hostname: {}", first[0][5]);
    assert_issued(&the_cal(&store), &db, 1);

    rdesktop(host.port, &home, "PC-BETA");
    let second = licenses(&db);
    assert_eq!(second.len(), 2, "{second:?}\n{}", host.log());
    assert_eq!(&second[1][1..5], ["permanent", "active", "true", "PC-BETA"]);
    let permanent = the_cal(&store);
    assert_issued(&permanent, &db, 2);

    rdesktop(host.port, &home, "PC-BETA");
    assert_eq!(licenses(&db), second, "a valid client gets no new license");
    assert_eq!(the_cal(&store), permanent);
    let log = host.wait_for("licensing: valid", 1, std::time::Duration::from_secs(10));
    assert!(log.contains("licensing: valid (licensed)"), "{log}");
}

/// Moves the database's clock (with the host serving it) to `days` before
/// license `id` expires; the expiry before the move.
fn to_days_before_expiry(db: &Path, id: u64, days: i64) -> String {
    let row = rows(db, &format!("SELECT expires, expires - now() FROM licenses WHERE id = {id};"));
    let left: i64 = row[0][1].parse().expect("days left");
    assert!(left > days, "license {id} has {left} days left");
    caldb(db, &format!("ADVANCE {} DAYS;", left - days));
    row[0][0].clone()
}

/// The third connection of a client holding permanent CAL 2, 3 days before
/// it expires: renewed (same license, a new expiry), and the client's CAL
/// file now holds the renewed CAL's bytes.
fn assert_renewed(db: &Path, host: &Host, store: &Path, connect: impl FnOnce() -> Output) {
    let permanent = the_cal(store);
    let old_expiry = to_days_before_expiry(db, 2, 3);
    let out = connect();
    let log = host.wait_for("licensing: renewed", 1, std::time::Duration::from_secs(10));
    assert!(log.contains("licensing: renewed (licensed)"), "run in the window:\n{}\n{log}", text(&out));
    let now = licenses(db);
    assert_eq!(now.len(), 2, "a renewal makes no new license: {now:?}");
    assert_eq!(&now[1][1..3], ["permanent", "active"]);
    let expiry = rows(db, "SELECT expires FROM licenses WHERE id = 2;")[0][0].clone();
    assert!(expiry > old_expiry, "the renewed CAL expires later: {old_expiry} -> {expiry}");
    let renewed = the_cal(store);
    assert_ne!(renewed, permanent, "the client kept its old CAL");
    assert_issued(&renewed, db, 2);
}

#[test]
fn xfreerdp_renews_its_permanent_cal_in_the_last_7_days_and_stores_the_renewed_one() {
    if !have("xfreerdp") || !have("xvfb-run") {
        return;
    }
    let dir = scratch_dir("xfreerdp-renewal");
    let (db, home) = (database(&dir, DEPLOYMENT), dir.join("home"));
    let host = Host::start(&db, "RDSH1", &[]);
    let store = home.join(".config/freerdp/licenses");
    for run in ["new", "upgrade"] {
        let out = xfreerdp(host.port, &home, "secret", "PC-ALPHA");
        assert!(out.status.success(), "{run} run:\n{}\n{}", text(&out), host.log());
    }
    assert_issued(&the_cal(&store), &db, 2);
    assert_renewed(&db, &host, &store, || {
        let out = xfreerdp(host.port, &home, "secret", "PC-ALPHA");
        assert!(out.status.success(), "run in the window:\n{}\n{}", text(&out), host.log());
        out
    });
}

#[test]
fn rdesktop_renews_its_permanent_cal_in_the_last_7_days_and_stores_the_renewed_one() {
    if !have("rdesktop") || !have("xvfb-run") {
        return;
    }
    let dir = scratch_dir("rdesktop-renewal");
    let (db, home) = (database(&dir, DEPLOYMENT), dir.join("home"));
    let host = Host::start(&db, "RDSH1", &[]);
    let store = home.join(".local/share/rdesktop/licenses");
    rdesktop(host.port, &home, "PC-BETA");
    rdesktop(host.port, &home, "PC-BETA");
    let before = licenses(&db);
    assert_eq!(&before[1][1..5], ["permanent", "active", "true", "PC-BETA"], "{before:?}\n{}", host.log());
    assert_issued(&the_cal(&store), &db, 2);
    assert_renewed(&db, &host, &store, || rdesktop(host.port, &home, "PC-BETA"));
}

#[test]
fn rdesktop_refused_exits_non_zero_and_stores_nothing() {
    if !have("rdesktop") || !have("xvfb-run") {
        return;
    }
    let dir = scratch_dir("rdesktop-refused");
    let script = format!("{DEPLOYMENT}SET SERVER LS1 OFFLINE;\nADVANCE 121 DAYS;\n");
    let (db, home) = (database(&dir, &script), dir.join("home"));
    let host = Host::start(&db, "RDSH1", &[]);

    let out = rdesktop(host.port, &home, "PC-LATE");
    assert!(!out.status.success(), "a refused rdesktop exited 0:\n{}", text(&out));
    assert!(text(&out).contains("License error alert from server"), "{}", text(&out));
    assert!(cal_files(&home.join(".local/share/rdesktop/licenses")).is_empty(), "a refused client stored a CAL");
    assert!(licenses(&db).is_empty());
}

/// The length of a CAL's tag (HMAC-SHA256), after its body.
const TAG_LEN: usize = 32;

/// Asserts that `stored` is the CAL the database issued as license `id`:
/// its body is caldb's CAL (format 1) of that license row, byte for byte,
/// read independently of the front (magic, version, id, server, kind,
/// product, HWID, issue and expiry times), followed by its tag. The tag
/// only the server can check: the next connection presenting the CAL is
/// answered valid or upgraded only if it verifies.
fn assert_issued(stored: &[u8], db: &Path, id: u64) {
    let row = rows(db, &format!("SELECT server, kind, product, hwid, issued, expires FROM licenses WHERE id = {id};"));
    let [server, kind, product, hwid, issued, expires] = &row[0][..] else { panic!("no license {id}") };
    let mut body = b"CALDBCAL".to_vec();
    body.push(1);
    body.extend_from_slice(&id.to_le_bytes());
    body.push(server.len() as u8);
    body.extend_from_slice(server.as_bytes());
    body.push(u8::from(kind == "permanent"));
    body.push(product.len() as u8);
    body.extend_from_slice(product.as_bytes());
    body.extend((0..hwid.len()).step_by(2).map(|i| u8::from_str_radix(&hwid[i..i + 2], 16).expect("hex")));
    for time in [issued, expires] {
        let at = chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S").expect("a time");
        body.extend_from_slice(&at.and_utc().timestamp().to_le_bytes());
    }
    assert_eq!(stored.len(), body.len() + TAG_LEN, "the stored CAL is not license {id}'s");
    assert_eq!(&stored[..body.len()], &body[..], "the stored CAL is not what the database issued as license {id}");
}

fn md5_hex(text: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02X}")).collect()
}
