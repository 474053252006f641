//! Running the built `caldb` binary from tests: a scratch directory, the
//! command with its standard streams piped, and a script on its standard
//! input.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Runs `caldb` with `args` and no input: its exit status, standard output
/// and standard error.
pub fn caldb(args: &[&str]) -> (i32, String, String) {
    let out = run(args, None, b"");
    (status(&out), stdout(&out), stderr(&out))
}

/// A file of `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// A fresh, empty directory for one test, in memory (`/dev/shm`) where the
/// system has one: the tests that use it are about behaviour, not about the
/// disk, and syncs there cost nothing.
pub fn scratch_dir(name: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    remove_stale(&root, &format!("caldb-{name}-"));
    let dir = root.join(format!("caldb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Removes the scratch directories `PREFIX<pid>` of test processes that
/// are gone: a test that failed (or never cleans up) leaves its directory,
/// and `/dev/shm` is memory; the next run of that test takes it back.
fn remove_stale(root: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(prefix).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `caldb ARGS` run in `cwd` (HOME there too, so no history file of the
/// user's is touched), every standard stream piped.
pub fn command<S: AsRef<OsStr>>(args: &[S], cwd: Option<&Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caldb"));
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    match cwd {
        Some(dir) => cmd.current_dir(dir).env("HOME", dir),
        None => cmd.env("HOME", std::env::temp_dir()),
    };
    cmd
}

/// Writes `script` to the child's standard input and closes it. caldb may
/// stop reading early (`.exit`, `-bail`): a broken pipe is not an error.
pub fn feed(child: &mut Child, script: &[u8]) {
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let _ = pipe.write_all(script);
}

/// Runs caldb to its end with `script` on standard input.
pub fn run<S: AsRef<OsStr>>(args: &[S], cwd: Option<&Path>, script: &[u8]) -> Output {
    let mut child = command(args, cwd).spawn().expect("start caldb");
    feed(&mut child, script);
    child.wait_with_output().expect("wait for caldb")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit status; a death by signal fails the test.
pub fn status(out: &Output) -> i32 {
    out.status.code().expect("caldb exited normally, not by a signal")
}
