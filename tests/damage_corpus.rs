//! R6 over a corpus of damaged files: the attack's shapes (single-byte
//! flips, 16-byte garbles, zeroed pages, truncations, flips in redb's
//! header) over a real database written by the binary, each file opened by
//! the binary three ways:
//!
//! - `-readonly FILE .dump`: exit 0 only with the sound dump (no altered
//!   row served as sound); otherwise an error that says "damaged" or
//!   refuses the open, never panic text;
//! - `-readonly FILE CHECK`: exit 0 only when CHECK finds nothing and the
//!   file reads as the sound one;
//! - `FILE CHECK` on a copy: it finds nothing `-readonly CHECK` missed, and
//!   once it found damage (exit 2) the next process's write is refused;
//! - `FILE REPAIR`: exit 0 (a success claimed) only when, afterwards, CHECK
//!   is clean and the dump is the sound file's after its own REPAIR: no
//!   success it did not achieve.
//!
//! CI runs `CALDB_DAMAGE_FILES` files (300 unless set; the long mode,
//! `scripts/crash-long.sh`, runs thousands) from `CALDB_DAMAGE_SEED`; the
//! counts are printed, and every violation is listed by its file's shape.

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

#[path = "support/bin.rs"]
mod bin;

use std::path::Path;
use std::time::{Duration, Instant};

/// A deployment with every table in use: permanent and temporary CALs,
/// a revoked one, per-user CALs, sessions, events, and a long history.
fn setup_script() -> String {
    let mut s = String::from(
        "SET CLOCK '2026-01-05 09:00:00';\nSET SEED 11;\nCREATE SERVER ls1 PRODUCT WS2022;\nACTIVATE SERVER ls1;\n\
         INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 400;\n\
         INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 20;\n\
         CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;\nCREATE HOST rdsh2 PRODUCT WS2022 MODE USER;\n",
    );
    for i in 0..120 {
        let host = if i % 5 == 0 { "rdsh2" } else { "rdsh1" };
        s.push_str(&format!(
            "CREATE DEVICE pc{i};\nCONNECT pc{i} AS u{i} TO {host};\nCONNECT pc{i} AS u{i} TO {host};\n"
        ));
    }
    s.push_str("SET CLOCK '2026-03-01 09:00:00';\n");
    for i in (1..120).step_by(7) {
        s.push_str(&format!("CONNECT pc{i} AS u{i} TO rdsh1;\n"));
    }
    s.push_str("REVOKE LICENSE 4;\nLOGOFF SESSION 2;\n");
    s
}

/// Exit status, stdout and stderr of `caldb ARGS`, with `script` on its
/// standard input; a run longer than 60 s is a hang and fails the test.
fn run(args: &[&str], script: &str) -> (i32, String, String) {
    let mut child = bin::command(args, None).spawn().expect("start caldb");
    bin::feed(&mut child, script.as_bytes());
    // The output is read while caldb runs (a dump fills a pipe); a
    // watchdog kills a run that hangs.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let pid = child.id().to_string();
    let watchdog = std::thread::spawn(move || {
        let started = Instant::now();
        while finished.recv_timeout(Duration::from_millis(50)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
                return true;
            }
        }
        false
    });
    let out = child.wait_with_output().expect("collect output");
    let _ = done.send(());
    assert!(!watchdog.join().expect("watchdog"), "caldb hangs: {args:?}");
    let code = out.status.code().unwrap_or_else(|| panic!("caldb died of a signal: {args:?}"));
    (code, bin::stdout(&out), bin::stderr(&out))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// One damaged copy of `sound`, and a name for its shape.
fn damage(sound: &[u8], rng: &mut Rng) -> (String, Vec<u8>) {
    let mut bytes = sound.to_vec();
    let len = bytes.len();
    match rng.below(20) {
        0..=9 => {
            let at = rng.below(len);
            bytes[at] ^= 1 << rng.below(8);
            (format!("bit flip at {at}"), bytes)
        }
        10..=13 => {
            let at = rng.below(len - 16);
            for b in &mut bytes[at..at + 16] {
                *b = rng.next() as u8;
            }
            (format!("16 bytes garbled at {at}"), bytes)
        }
        14..=16 => {
            let page = rng.below(len / 4096);
            bytes[page * 4096..(page + 1) * 4096].fill(0);
            (format!("page {page} zeroed"), bytes)
        }
        17..=18 => {
            let cut = rng.below(len);
            bytes.truncate(cut);
            (format!("truncated to {cut}"), bytes)
        }
        _ => {
            let at = rng.below(512);
            bytes[at] ^= 1 << rng.below(8);
            (format!("header bit flip at {at}"), bytes)
        }
    }
}

/// Panic or internal text that must never reach a user.
fn internal_text(stderr: &str) -> bool {
    ["panicked", "internal error", "entered unreachable", "out of range", "RUST_BACKTRACE"]
        .iter()
        .any(|t| stderr.contains(t))
}

#[derive(Default, Debug)]
struct Counts {
    files: usize,
    same_as_sound: usize,
    detected: usize,
    altered_served: usize,
    panics: usize,
    check_silent_on_altered: usize,
    readonly_check_missed: usize,
    writes_after_flagged: usize,
    writes_after_readonly_flagged: usize,
    repair_claimed: usize,
    false_repairs: usize,
    unclear_errors: usize,
}

#[test]
fn damaged_files_never_serve_altered_rows_never_panic_and_repair_never_claims_a_false_success() {
    let files: usize = std::env::var("CALDB_DAMAGE_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let seed: u64 = std::env::var("CALDB_DAMAGE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5EED_0014);
    let dir = bin::scratch_dir("damage-corpus");
    let db = dir.join("sound.redb");
    let (code, _, stderr) = run(&[path(&db)], &setup_script());
    assert_eq!(code, 0, "setup: {stderr}");
    let sound = std::fs::read(&db).expect("read the sound file");
    let (code, dump, stderr) = run(&["-readonly", path(&db), ".dump"], "");
    assert_eq!(code, 0, "{stderr}");
    let repaired_copy = dir.join("repaired.redb");
    std::fs::write(&repaired_copy, &sound).expect("copy");
    let (code, _, stderr) = run(&[path(&repaired_copy), "REPAIR;"], "");
    assert_eq!(code, 0, "REPAIR of the sound file: {stderr}");
    let (_, dump_after_repair, _) = run(&["-readonly", path(&repaired_copy), ".dump"], "");

    let mut rng = Rng(seed | 1);
    let mut c = Counts::default();
    let mut violations = Vec::new();
    let file = dir.join("damaged.redb");
    for _ in 0..files {
        let (shape, bytes) = damage(&sound, &mut rng);
        c.files += 1;
        std::fs::write(&file, &bytes).expect("write the damaged file");
        let mut note = |what: &str, out: &str| violations.push(format!("{shape}: {what}: {out}"));

        // Reading: the sound rows, or a clear error.
        let (code, out, err) = run(&["-readonly", path(&file), ".dump"], "");
        if internal_text(&err) {
            c.panics += 1;
            note("panic text", &err);
        }
        match code {
            0 if out == dump => c.same_as_sound += 1,
            0 => {
                c.altered_served += 1;
                note("altered rows served with exit 0", "");
            }
            _ => {
                c.detected += 1;
                let clear = err.contains("damaged") || err.starts_with("error: cannot open");
                if !clear {
                    c.unclear_errors += 1;
                    note("an error that does not say damaged", &err);
                }
            }
        }
        let altered = code != 0 || out != dump;

        // -readonly CHECK: silent only on a file that reads as the sound one.
        let (code, out, err) = run(&["-readonly", path(&file), "CHECK;"], "");
        if internal_text(&err) {
            c.panics += 1;
            note("panic text in CHECK", &err);
        }
        if code == 0 && out.is_empty() && altered {
            c.check_silent_on_altered += 1;
            note("-readonly CHECK silent on an altered file", "");
        }

        let readonly_flagged = code != 0 || !out.is_empty();
        // A file that only needs recovery after a crash (redb's header flag)
        // is not damaged: a writable open recovers it.
        let readonly_found_damage = readonly_flagged && !err.contains("needs recovery after a crash");
        // -readonly writes nothing, so it cannot record what it found; the
        // next process's write is refused all the same (a file this small
        // is verified whole before its first commit).
        if readonly_found_damage {
            let fresh = dir.join("fresh.redb");
            std::fs::write(&fresh, &bytes).expect("write the copy");
            let (write, _, err) = run(&[path(&fresh), "CREATE DEVICE corpus_late;"], "");
            if internal_text(&err) {
                c.panics += 1;
                note("panic text in a write", &err);
            }
            if write == 0 {
                c.writes_after_readonly_flagged += 1;
                note("a write accepted after -readonly CHECK found damage", "");
            }
        }

        // A writable CHECK (on a copy: redb's page check may repair) finds
        // nothing -readonly CHECK did not; once it found damage (exit 2),
        // the next process's write is refused.
        let copy = dir.join("copy.redb");
        std::fs::write(&copy, &bytes).expect("write the copy");
        let (code, out, err) = run(&[path(&copy), "CHECK;"], "");
        if internal_text(&err) {
            c.panics += 1;
            note("panic text in a writable CHECK", &err);
        }
        if (code != 0 || !out.is_empty()) && !readonly_flagged {
            c.readonly_check_missed += 1;
            note("a writable CHECK found what -readonly CHECK did not", &format!("{out}{err}"));
        }
        if code == 2 {
            let (write, _, err) = run(&[path(&copy), "CREATE DEVICE corpus_late;"], "");
            if internal_text(&err) {
                c.panics += 1;
                note("panic text in a write", &err);
            }
            if write == 0 {
                c.writes_after_flagged += 1;
                note("a write accepted after CHECK found damage", "");
            }
        }

        // REPAIR: a success only when it is one.
        let (code, _, err) = run(&[path(&file), "REPAIR;"], "");
        if internal_text(&err) {
            c.panics += 1;
            note("panic text in REPAIR", &err);
        }
        if code == 0 {
            c.repair_claimed += 1;
            let (check_code, check_out, _) = run(&["-readonly", path(&file), "CHECK;"], "");
            let (dump_code, after, _) = run(&["-readonly", path(&file), ".dump"], "");
            let sound_after = check_code == 0 && check_out.is_empty() && dump_code == 0 && after == dump_after_repair;
            if !sound_after {
                c.false_repairs += 1;
                note("REPAIR exit 0 but the file is not sound", &check_out);
            }
        }
    }
    eprintln!("damage corpus (seed {seed:#x}): {c:?}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
    let writes = c.writes_after_flagged + c.writes_after_readonly_flagged;
    assert_eq!((c.altered_served, c.false_repairs, c.panics, writes), (0, 0, 0, 0));
}
