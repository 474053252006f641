//! Running `caldb-host` from tests: a database made by the `caldb` binary
//! from a script, a users file, the host on a free loopback port (it binds
//! port 0 and prints the port it got), its log read back; the process is
//! killed when the test lets go of it. Queries read the database with the
//! library, read-only, while the host may still be serving. The host is
//! stopped with SIGTERM (so it closes the database cleanly), and killed
//! only if it has not stopped within a bound.

#![allow(dead_code)]

use caldb::{Database, OpenOptions, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The users every test host knows.
pub const USERS: &str = "# test users\nalice:secret\nbob:hunter2\n";

/// A deployment with one activated license server and a per-device host.
pub const DEPLOYMENT: &str = "\
SET CLOCK '2026-03-02 09:00:00';
SET SEED 7;
CREATE SERVER LS1 PRODUCT WS2025;
ACTIVATE SERVER LS1;
INSTALL KEYPACK ON LS1 PRODUCT WS2025 CAL DEVICE COUNT 100;
CREATE HOST RDSH1 PRODUCT WS2025 MODE DEVICE LICENSE SERVERS (LS1);
";

/// A fresh, empty directory for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caldb-host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Runs `script` through the `caldb` binary on `db`; it must succeed.
pub fn caldb(db: &Path, script: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caldb"))
        .arg("-bail")
        .arg(db)
        .env("HOME", db.parent().expect("a folder"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start caldb");
    child.stdin.take().expect("piped").write_all(script.as_bytes()).expect("write the script");
    let out = child.wait_with_output().expect("wait for caldb");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "caldb failed on the script:\n{script}\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A database in `dir` holding `script`'s deployment.
pub fn database(dir: &Path, script: &str) -> PathBuf {
    let db = dir.join("caldb.redb");
    caldb(&db, script);
    db
}

/// The rows of a read-only statement, each value as text (NULL as "").
pub fn rows(db: &Path, statement: &str) -> Vec<Vec<String>> {
    let mut handle = Database::open(db, &OpenOptions { read_only: true }).expect("open read-only");
    let result = handle.execute(statement).expect("the query runs").expect("a result");
    result.rows.iter().map(|row| row.iter().map(Value::to_string).collect()).collect()
}

/// A running `caldb-host`.
pub struct Host {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Host {
    /// Starts the host for `host` of `db`, with `extra` options; the users
    /// file and the log go beside the database.
    pub fn start(db: &Path, host: &str, extra: &[&str]) -> Host {
        let dir = db.parent().expect("a folder");
        let (users, log) = (dir.join("users.txt"), dir.join("host.log"));
        std::fs::write(&users, USERS).expect("write the users file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_caldb-host"))
            .args(["--host", host, "--listen", "127.0.0.1:0", "--timeout", "10"])
            .arg("--db")
            .arg(db)
            .arg("--users")
            .arg(&users)
            .arg("--log")
            .arg(&log)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start caldb-host");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        BufReader::new(stdout).read_line(&mut line).expect("read the host's first line");
        let Some(port) = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()) else {
            let out = child.wait_with_output().expect("wait for caldb-host");
            panic!("caldb-host did not start: {line}{}", String::from_utf8_lossy(&out.stderr));
        };
        Host { child, port, log }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `limit`) until the log holds `lines` lines containing
    /// `text`; the log either way.
    pub fn wait_for(&self, text: &str, lines: usize, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
            if log.lines().filter(|line| line.contains(text)).count() >= lines || start.elapsed() > limit {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the host with SIGTERM and waits for it; its exit status and
    /// the whole log.
    pub fn stop(mut self) -> (Option<i32>, String) {
        let code = self.terminate();
        (code, self.log())
    }

    fn terminate(&mut self) -> Option<i32> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.code();
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.terminate();
    }
}
