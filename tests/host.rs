//! The session host `caldb-host` over TCP on 127.0.0.1, driven by IronRDP's
//! blocking client (ironrdp-connector 0.12, standard RDP security): a new
//! client gets a temporary CAL, then (its logon having succeeded) a
//! permanent one, then is a valid client; a wrong password validates
//! nothing; a refused client stores nothing; garbage, a malformed licensing
//! message and a stalled client end their own connection only, with a log
//! line, while the host goes on serving; and 32 clients at once on one file
//! leave every license row exactly once, CHECK clean and a history that
//! replays to the same dump.

#[path = "support/host.rs"]
mod host;

use host::{DEPLOYMENT, Host, caldb, database, rows, scratch_dir};
use ironrdp_blocking::Framed;
use ironrdp_connector::sspi::network_client::NetworkClient;
use ironrdp_connector::sspi::{self, generator::NetworkRequest};
use ironrdp_connector::{
    ClientConnector, Config, ConnectionOutcome, ConnectorResult, Credentials, DesktopSize, LicenseCache, Sequence,
};
use ironrdp_pdu::gcc;
use ironrdp_pdu::rdp::capability_sets::{MajorPlatformType, RailSupportLevel};
use ironrdp_pdu::rdp::server_license::LicenseInformation;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An IronRDP client: its name, HWID words and license store.
#[derive(Debug, Clone)]
struct Client {
    name: String,
    hwid: [u32; 4],
    store: Arc<Store>,
}

/// The client's license store: the last CAL the server sent.
#[derive(Debug, Default)]
struct Store(Mutex<Option<Vec<u8>>>);

impl Store {
    fn cal(&self) -> Option<Vec<u8>> {
        self.0.lock().expect("store lock").clone()
    }
}

impl LicenseCache for Store {
    fn get_license(&self, _: LicenseInformation) -> ConnectorResult<Option<Vec<u8>>> {
        Ok(self.cal())
    }

    fn store_license(&self, info: LicenseInformation) -> ConnectorResult<()> {
        *self.0.lock().expect("store lock") = Some(info.license_info);
        Ok(())
    }
}

/// CredSSP is never used with standard RDP security.
struct NoNetwork;

impl NetworkClient for NoNetwork {
    fn send(&self, _: &NetworkRequest) -> sspi::Result<Vec<u8>> {
        Err(sspi::Error::new(sspi::ErrorKind::InternalError, "no network in this test"))
    }
}

impl Client {
    fn new(name: &str, n: u32) -> Client {
        Client { name: name.to_string(), hwid: [n, 0xCA1DB, 0, 0], store: Arc::default() }
    }

    fn config(&self, user: &str, password: &str) -> Config {
        Config {
            desktop_size: DesktopSize { width: 1024, height: 768 },
            monitor_layout: None,
            desktop_scale_factor: 0,
            desktop_physical_size: None,
            desktop_orientation: None,
            device_scale_factor: None,
            monitor_extended_layout: None,
            relative_mouse_input: false,
            enable_tls: false,
            enable_credssp: false,
            enable_standard_rdp_security: true,
            credentials: Credentials::UsernamePassword { username: user.into(), password: password.into() },
            domain: Some("CORP".into()),
            client_build: 0,
            client_name: self.name.clone(),
            keyboard_type: gcc::KeyboardType::IBM_ENHANCED,
            keyboard_subtype: 0,
            keyboard_layout: 0,
            keyboard_functional_keys_count: 12,
            connection_type: gcc::ConnectionType::Lan,
            ime_file_name: String::new(),
            bitmap: None,
            dig_product_id: String::new(),
            client_dir: String::new(),
            platform: MajorPlatformType::UNIX,
            hardware_id: Some(self.hwid),
            request_data: None,
            autologon: true,
            enable_audio_playback: false,
            enable_audio_capture: false,
            license_cache: Some(Arc::clone(&self.store) as Arc<dyn LicenseCache>),
            compression_type: None,
            enable_server_pointer: false,
            pointer_software_rendering: false,
            multitransport_flags: None,
            support_dyn_vc_gfx_protocol: false,
            performance_flags: Default::default(),
            timezone_info: Default::default(),
            alternate_shell: String::new(),
            work_dir: String::new(),
            remote_application_mode: false,
            rail_support_level: RailSupportLevel::SUPPORTED,
        }
    }

    /// One whole connection; `Err` carries the client's error text.
    fn connect(&self, port: u16, user: &str, password: &str) -> Result<(), String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let client_addr = stream.local_addr().map_err(|e| e.to_string())?;
        let mut framed = Framed::new(stream);
        let mut connector = ClientConnector::new(self.config(user, password), client_addr);
        let begun = ironrdp_blocking::connect_begin(&mut framed, &mut connector).map_err(|e| format!("{e:#}"))?;
        let upgraded = ironrdp_blocking::mark_as_upgraded(begun, &mut connector);
        let server = ironrdp_connector::ServerName::new("127.0.0.1");
        let outcome = ironrdp_blocking::connect_finalize(
            upgraded,
            connector,
            &mut framed,
            &mut NoNetwork,
            server,
            Vec::new(),
            None,
        )
        .map_err(|e| format!("{e:#}"))?;
        match outcome {
            ConnectionOutcome::Connected(_) => Ok(()),
            ConnectionOutcome::Redirected(_) => Err("redirected".to_string()),
        }
    }
}

/// The licenses of the database: id, kind, status, validated, computer.
fn licenses(db: &Path) -> Vec<Vec<String>> {
    rows(db, "SELECT id, kind, status, validated, computer FROM licenses ORDER BY id;")
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|row| row.iter().map(|s| s.to_string()).collect()).collect()
}

#[test]
fn an_ironrdp_client_gets_a_temporary_then_a_permanent_cal_then_is_a_valid_client() {
    let db = database(&scratch_dir("three-runs"), DEPLOYMENT);
    let host = Host::start(&db, "RDSH1", &[]);
    let client = Client::new("PC-IRON", 1);

    client.connect(host.port, "alice", "secret").expect("first connection");
    let temporary = client.store.cal().expect("a temporary CAL stored");
    assert_eq!(licenses(&db), strings(&[&["1", "temporary", "temporary", "true", "PC-IRON"]]));

    client.connect(host.port, "alice", "secret").expect("second connection");
    let permanent = client.store.cal().expect("a permanent CAL stored");
    assert_ne!(permanent, temporary, "the upgrade sent a new CAL");
    assert_eq!(
        licenses(&db),
        strings(&[
            &["1", "temporary", "upgraded", "true", "PC-IRON"],
            &["2", "permanent", "active", "true", "PC-IRON"]
        ])
    );

    client.connect(host.port, "alice", "secret").expect("third connection");
    assert_eq!(client.store.cal(), Some(permanent), "a valid client keeps its CAL");
    assert_eq!(licenses(&db).len(), 2, "no license issued to a valid client");
    let log = host.wait_for("done: licensed and logged on", 3, Duration::from_secs(10));
    for outcome in ["temporary-issued", "upgraded", "valid"] {
        assert!(log.contains(&format!("licensing: {outcome} (licensed)")), "{outcome} not logged:\n{log}");
    }
}

#[test]
fn a_wrong_password_validates_nothing_so_the_next_connection_is_not_upgraded() {
    let db = database(&scratch_dir("wrong-password"), DEPLOYMENT);
    let host = Host::start(&db, "RDSH1", &[]);
    let client = Client::new("PC-GUESS", 2);

    assert!(client.connect(host.port, "alice", "wrong").is_err(), "a failed logon does not connect");
    assert!(client.store.cal().is_some(), "the temporary CAL comes before the logon");
    assert_eq!(licenses(&db), strings(&[&["1", "temporary", "temporary", "false", "PC-GUESS"]]));

    let _ = client.connect(host.port, "mallory", "secret");
    assert_eq!(licenses(&db), strings(&[&["1", "temporary", "temporary", "false", "PC-GUESS"]]), "not upgraded");
    let log = host.wait_for("logon of", 2, Duration::from_secs(10));
    assert!(log.contains("logon of 'CORP\\alice' failed: wrong password or unknown user"), "{log}");
    assert!(log.contains("logon of 'CORP\\mallory' failed"), "{log}");
}

#[test]
fn a_refused_client_stores_nothing_and_its_refusal_is_logged() {
    // A per-device host past its grace period whose only license server
    // is offline: no license server, so the front refuses.
    let script = format!("{DEPLOYMENT}SET SERVER LS1 OFFLINE;\nADVANCE 121 DAYS;\n");
    let db = database(&scratch_dir("refused"), &script);
    let host = Host::start(&db, "RDSH1", &[]);
    let client = Client::new("PC-LATE", 3);

    let error = client.connect(host.port, "alice", "secret").expect_err("refused");
    assert!(error.contains("LicensingErrorMessage") || error.contains("icens"), "{error}");
    assert_eq!(client.store.cal(), None);
    assert!(licenses(&db).is_empty());
    let log = host.wait_for("refused:", 1, Duration::from_secs(10));
    assert!(log.contains("refused: no-license-server"), "{log}");
}

#[test]
fn garbage_a_malformed_licensing_message_and_a_stalled_client_end_only_their_own_connection() {
    let db = database(&scratch_dir("bad-clients"), DEPLOYMENT);
    let host = Host::start(&db, "RDSH1", &["--timeout", "1"]);

    let mut garbage = TcpStream::connect(("127.0.0.1", host.port)).expect("connect");
    garbage.write_all(b"GET / HTTP/1.1\r\nHost: caldb\r\n\r\n").expect("send garbage");
    let _stalled = TcpStream::connect(("127.0.0.1", host.port)).expect("connect and say nothing");
    let stalled_at = std::time::Instant::now();
    malformed_licensing_message(host.port);

    host.wait_for("the client sent nothing", 1, Duration::from_secs(10));
    // --timeout 1: dropped after about a second, well before the four
    // seconds a connection may last in all.
    assert!(
        stalled_at.elapsed() < Duration::from_millis(3500),
        "the stalled client was kept {:?}",
        stalled_at.elapsed()
    );
    let log = host.wait_for("dropped:", 3, Duration::from_secs(15));
    assert_eq!(log.matches("dropped:").count(), 3, "{log}");
    assert!(log.contains("the client sent nothing for 1 s"), "{log}");
    assert!(log.contains("licensing:"), "the malformed message reached the front:\n{log}");
    assert!(!log.contains("panicked") && !log.contains("internal error"), "{log}");

    Client::new("PC-AFTER", 4).connect(host.port, "alice", "secret").expect("the host still serves");
    assert_eq!(licenses(&db), strings(&[&["1", "temporary", "temporary", "true", "PC-AFTER"]]));
}

#[test]
fn at_most_max_clients_are_served_at_once_and_the_next_waits_for_a_free_thread() {
    let db = database(&scratch_dir("max-clients"), DEPLOYMENT);
    let host = Host::start(&db, "RDSH1", &["--max-clients", "1", "--timeout", "2"]);
    let _stalled = TcpStream::connect(("127.0.0.1", host.port)).expect("connect and say nothing");
    host.wait_for("#1 connection from", 1, Duration::from_secs(5));

    Client::new("PC-NEXT", 6).connect(host.port, "alice", "secret").expect("served once the slot is free");
    let log = host.log();
    let dropped = log.find("#1 dropped: at InitiationWaitRequest: the client sent nothing for 2 s").expect(&log);
    let second = log.find("#2 connection from").expect(&log);
    assert!(dropped < second, "the second client was served beside the first:\n{log}");
}

/// Runs IronRDP's connection sequence up to licensing, then sends a
/// licensing PDU whose length field lies, instead of the client's answer.
fn malformed_licensing_message(port: u16) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let client_addr = stream.local_addr().expect("address");
    let mut framed = Framed::new(stream);
    let client = Client::new("PC-EVIL", 5);
    let mut connector = ClientConnector::new(client.config("alice", "secret"), client_addr);
    let begun = ironrdp_blocking::connect_begin(&mut framed, &mut connector).expect("begin");
    let _ = ironrdp_blocking::mark_as_upgraded(begun, &mut connector);
    let mut buf = ironrdp_core::WriteBuf::new();
    // The connector reads the license request in this state's step.
    while connector.state().name() != "ConnectTimeAutoDetection" {
        ironrdp_blocking::single_sequence_step(&mut framed, &mut connector, &mut buf).expect("a step");
    }
    let _request = framed.read_pdu().expect("the license request");
    // A CLIENT_NEW_LICENSE_REQUEST (0x13) claiming 0x0400 bytes, carrying 4.
    let lying = [0x80, 0, 0, 0, 0x13, 0x83, 0x00, 0x04, 1, 2, 3, 4];
    let request = ironrdp_pdu::mcs::SendDataRequest {
        initiator_id: 1007,
        channel_id: 1003,
        user_data: std::borrow::Cow::Borrowed(&lying[..]),
    };
    let frame = ironrdp_core::encode_vec(&ironrdp_pdu::x224::X224(request)).expect("encode");
    framed.write_all(&frame).expect("send the malformed message");
    // The answer is the front's refusal: an error alert (0xFF) with
    // ST_TOTAL_ABORT (1), after a license security header (0x0080).
    let (_, reply) = framed.read_pdu().expect("the refusal");
    let indication = ironrdp_pdu::mcs::decode_send_data_indication(&reply).expect("a Send Data Indication");
    let alert = indication.user_data;
    assert_eq!((alert[0], alert[4]), (0x80, 0xFF), "not a licensing error alert: {alert:02X?}");
    assert_eq!(alert.get(12..16), Some(&[1, 0, 0, 0][..]), "not a total abort: {alert:02X?}");
}

#[test]
fn thirty_two_clients_at_once_on_one_file_leave_every_license_once_check_clean_and_a_replayable_history() {
    const CLIENTS: u32 = 32;
    let dir = scratch_dir("thirty-two");
    let db = database(&dir, DEPLOYMENT);
    let host = Host::start(&db, "RDSH1", &["--max-clients", "32"]);
    let port = host.port;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|n| {
            std::thread::spawn(move || {
                let client = Client::new(&format!("PC-{n:02}"), 100 + n);
                client.connect(port, "bob", "hunter2").map_err(|e| format!("PC-{n:02} new: {e}"))?;
                client.connect(port, "bob", "hunter2").map_err(|e| format!("PC-{n:02} upgrade: {e}"))
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a client thread").expect("both connections");
    }
    let (code, log) = host.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("served 64 connections; stopped by a signal"), "{log}");

    let per_computer = rows(
        &db,
        "SELECT computer, kind, status, COUNT(*) FROM licenses GROUP BY computer, kind, status ORDER BY computer, kind;",
    );
    assert_eq!(per_computer.len(), 2 * CLIENTS as usize, "{per_computer:?}");
    for row in &per_computer {
        let expected = if row[1] == "permanent" { "active" } else { "upgraded" };
        assert_eq!((row[2].as_str(), row[3].as_str()), (expected, "1"), "{row:?}");
    }
    assert!(rows(&db, "CHECK;").is_empty(), "CHECK found problems");
    assert_history_replays(&dir, &db);
}

/// The statements of `history`, run on a new file, give the same dump,
/// but for the license servers' credentials, which are no statement's
/// effect (the front makes them; a replay runs no exchange), as
/// tests/licensing.rs compares too.
fn assert_history_replays(dir: &Path, db: &Path) {
    let history = rows(db, "SELECT statement FROM history ORDER BY seq;");
    let script: String = history.iter().map(|row| format!("{};\n", row[0])).collect();
    let replayed = dir.join("replayed.redb");
    caldb(&replayed, &script);
    let dump = |file: &Path| -> Vec<String> {
        let credentials = "INSERT INTO caldb_store VALUES('credentials'";
        caldb(file, ".dump\n").lines().filter(|l| !l.starts_with(credentials)).map(str::to_string).collect()
    };
    assert_eq!(dump(db), dump(&replayed), "the history does not replay to the same database");
}

#[test]
fn a_bad_users_file_or_an_unknown_host_stops_the_host_before_it_listens() {
    let dir = scratch_dir("start-errors");
    let db = database(&dir, DEPLOYMENT);
    let users = dir.join("bad-users.txt");
    std::fs::write(&users, "alice:secret\nbob hunter2\n").expect("write");
    // Bounded: a host that wrongly starts is killed, and the test fails.
    let run = |host: &str, users: &Path| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_caldb-host"))
            .args(["--host", host, "--listen", "127.0.0.1:0"])
            .arg("--db")
            .arg(&db)
            .arg("--users")
            .arg(users)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run caldb-host");
        let start = std::time::Instant::now();
        while child.try_wait().expect("wait").is_none() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait_with_output().expect("wait for caldb-host")
    };
    let out = run("RDSH1", &users);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: 'bob hunter2' is not user:password"), "{stderr}");
    assert!(stderr.contains("bad-users.txt"), "{stderr}");

    std::fs::write(&users, "alice:secret\n").expect("write");
    let out = run("NOSUCH", &users);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--host 'NOSUCH': no such host in the database"), "{stderr}");
    assert!(out.stdout.is_empty(), "it listened: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn help_says_it_is_a_licensing_test_bed_not_a_remote_desktop() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caldb-host")).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("A licensing test bed, not a remote desktop."), "{help}");
}
