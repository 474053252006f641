//! Safe output (quality.md S5): every file caldb writes besides its database
//! (BACKUP, EXPORT, the shell's `.output` and `.once`) goes through here. A
//! target is checked before a byte is written: a file that any caldb process
//! has open as its database (this one or another, through any path or link:
//! the check is on the file itself, not its name) is refused, and so is
//! anything that is not a regular file (a device, a FIFO, a directory),
//! except a terminal or standard output for the text outputs that allow it.
//! A regular file is written at a temporary path beside the target, synced,
//! and renamed over it, so the target is the old file or the whole new one;
//! the temporary is removed on failure, and temporaries a killed process
//! left behind (`.NAME.PID.N.tmp`, unlocked) are removed the next time that
//! target is written. It never opens a database.
//!
//! "Open by a caldb process" is seen through the shared `flock` that every
//! redb handle (writable or `-readonly`) holds on its file while it is open;
//! a file this process opened is also compared by device and inode.

use crate::error::{Error, Result};
use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What a target is, once checked.
#[derive(Debug)]
pub enum Target {
    /// A regular file (existing or to be created): written through a temporary.
    File(PathBuf),
    /// A terminal or this process's standard output: written directly.
    Stream(File),
}

/// Checks `target` for `what` (a statement or command name, for messages).
/// `own` lists the database files this process has open; `streams` allows a
/// terminal or standard output.
pub fn check(target: &Path, what: &str, own: &[&Path], streams: bool) -> Result<Target> {
    let shown = target.display().to_string();
    let meta = match std::fs::metadata(target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return new_file(target, &shown, what),
        Err(e) => return Err(refused(&shown, what, &format!("cannot be examined ({e})"))),
    };
    if let Some(stdout) = standard_output(&meta) {
        if streams {
            return Ok(Target::Stream(stdout));
        }
        return Err(refused(&shown, what, "is standard output"));
    }
    if meta.is_file() {
        refuse_open_database(target, &meta, &shown, what, own)?;
        let resolved = std::fs::canonicalize(target).map_err(|e| refused(&shown, what, &e.to_string()))?;
        return Ok(Target::File(resolved));
    }
    if streams && let Some(terminal) = terminal(target, &meta) {
        return Ok(Target::Stream(terminal));
    }
    Err(refused(&shown, what, &format!("is {}, not a regular file", kind(&meta))))
}

/// A target that does not exist yet: its directory must, and a dangling
/// link is refused rather than replaced by a file.
fn new_file(target: &Path, shown: &str, what: &str) -> Result<Target> {
    if std::fs::symlink_metadata(target).is_ok() {
        return Err(refused(shown, what, "is a link to a missing file"));
    }
    let name = target.file_name().ok_or_else(|| refused(shown, what, "is not a file name"))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).map_err(|e| refused(shown, what, &format!("has no directory ({e})")))?;
    Ok(Target::File(dir.join(name)))
}

fn refused(shown: &str, what: &str, why: &str) -> Error {
    Error::plan_near(format!("cannot write '{shown}': it {why}; {what} refused"), shown)
}

/// Refuses a regular file that is an open caldb database.
fn refuse_open_database(target: &Path, meta: &Metadata, shown: &str, what: &str, own: &[&Path]) -> Result<()> {
    let ours = own.iter().any(|db| std::fs::metadata(db).is_ok_and(|m| same_inode(&m, meta)));
    if ours || locked_elsewhere(target) {
        return Err(Error::plan_near(
            format!("'{shown}' is a database a caldb process has open: {what} would replace it"),
            shown,
        ));
    }
    Ok(())
}

/// Whether another open file (of any process) holds a `flock` on `path`.
fn locked_elsewhere(path: &Path) -> bool {
    let Ok(file) = File::open(path) else { return false };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    }
}

#[cfg(unix)]
fn same_inode(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_inode(_: &Metadata, _: &Metadata) -> bool {
    false
}

/// Standard output itself, when `meta` is its file (`/dev/stdout`, or the
/// file it is redirected to): a new open of that path would write from its
/// start, and a rename would take the file from under the shell.
#[cfg(unix)]
fn standard_output(meta: &Metadata) -> Option<File> {
    use std::os::fd::AsFd;
    let out = File::from(io::stdout().as_fd().try_clone_to_owned().ok()?);
    out.metadata().is_ok_and(|m| same_inode(&m, meta)).then_some(out)
}

#[cfg(not(unix))]
fn standard_output(_: &Metadata) -> Option<File> {
    None
}

/// A terminal (only a character device can be one; opening a FIFO would
/// wait for its reader).
fn terminal(target: &Path, meta: &Metadata) -> Option<File> {
    use std::io::IsTerminal;
    if !is_char_device(meta) {
        return None;
    }
    let file = std::fs::OpenOptions::new().write(true).open(target).ok()?;
    file.is_terminal().then_some(file)
}

#[cfg(unix)]
fn is_char_device(meta: &Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device()
}

#[cfg(not(unix))]
fn is_char_device(_: &Metadata) -> bool {
    false
}

#[cfg(unix)]
fn kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

#[cfg(not(unix))]
fn kind(meta: &Metadata) -> &'static str {
    if meta.is_dir() { "a directory" } else { "not a plain file" }
}

/// A temporary file beside its target, locked while this process writes it;
/// `commit` renames it over the target, and dropping it uncommitted removes it.
#[derive(Debug)]
pub struct Temp {
    path: PathBuf,
    target: PathBuf,
    file: Option<File>,
    what: String,
}

/// Tells the temporaries of one process apart (`.output` and EXPORT may
/// both be writing).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Temp {
    /// Creates the temporary for the regular file `target` (as `check`
    /// resolved it), after removing stale ones; an existing target's
    /// permissions are kept.
    pub fn beside(target: &Path, what: &str) -> Result<Temp> {
        let temp = Temp::beside_unlocked(target, what)?;
        temp.lock()?;
        Ok(temp)
    }

    /// A temporary not yet locked, for a writer that locks it itself (redb,
    /// writing a BACKUP, holds its own lock on the file while it is open);
    /// `lock` it before `commit`.
    pub fn beside_unlocked(target: &Path, what: &str) -> Result<Temp> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = target.parent().unwrap_or(Path::new("."));
        remove_stale(dir, &name);
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let io = |e: io::Error| Error::Storage(format!("cannot create '{}': {e}", path.display()));
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(io)?;
        if let Ok(meta) = std::fs::metadata(target) {
            let _ = file.set_permissions(meta.permissions());
        }
        Ok(Temp { path, target: target.to_path_buf(), file: Some(file), what: what.into() })
    }

    /// Marks the temporary as being written, so no other process takes it
    /// for one a killed process left.
    pub fn lock(&self) -> Result<()> {
        let file = self.file.as_ref().ok_or_else(|| Error::Storage("temporary file closed".into()))?;
        file.try_lock().map_err(|e| Error::Storage(format!("cannot lock '{}': {e}", self.path.display())))
    }

    /// Where the temporary file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs the temporary, checks the target once more (another process
    /// may have opened it as a database meanwhile), renames the temporary
    /// over it and syncs the directory.
    pub fn commit(self) -> Result<()> {
        self.replace(true)
    }

    /// Commits over a database file that this process holds alone (open
    /// in redb's exclusive mode, as compaction holds it): the same as
    /// `commit`, but the target's lock is this process's own.
    pub fn commit_over_held(self) -> Result<()> {
        self.replace(false)
    }

    fn replace(mut self, refuse_databases: bool) -> Result<()> {
        let shown = self.target.display().to_string();
        let file = self.file.take().ok_or_else(|| Error::Storage("temporary file closed".into()))?;
        file.sync_all().map_err(|e| write_error(&self.target, e))?;
        if refuse_databases && let Ok(meta) = std::fs::metadata(&self.target) {
            refuse_open_database(&self.target, &meta, &shown, &self.what, &[])?;
        }
        std::fs::rename(&self.path, &self.target).map_err(|e| write_error(&self.target, e))?;
        if let Some(dir) = self.target.parent() {
            // The rename made durable; the data is synced already.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Write for Temp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().ok_or_else(|| io::Error::other("temporary file closed"))?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub fn write_error(file: &Path, e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("cannot write '{}': {e}", file.display()))
}

/// Removes `.NAME.PID.N.tmp` files of `dir` that no process holds locked:
/// what a killed BACKUP, EXPORT or `.output` left.
fn remove_stale(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(middle) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)?.strip_suffix(".tmp")) else {
            continue;
        };
        if middle.is_empty() || !middle.chars().all(|c| c.is_ascii_digit() || c == '.') {
            continue;
        }
        let path = entry.path();
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) && !locked_elsewhere(&path) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// A text output (EXPORT, `.output`, `.once`): a temporary beside a regular
/// file, or a terminal or standard output written directly.
#[derive(Debug)]
pub enum Sink {
    /// A temporary beside the target file, renamed over it at `commit`.
    Temp(Temp),
    /// A terminal or standard output, written directly.
    Stream(File),
}

impl Sink {
    /// Checks `target` and opens what it allows.
    pub fn create(target: &Path, what: &str, own: &[&Path]) -> Result<Sink> {
        match check(target, what, own, true)? {
            Target::File(path) => Temp::beside(&path, what).map(Sink::Temp),
            Target::Stream(file) => Ok(Sink::Stream(file)),
        }
    }

    /// Makes the output final: renames a temporary over its target.
    pub fn commit(self) -> Result<()> {
        match self {
            Sink::Temp(temp) => temp.commit(),
            Sink::Stream(mut file) => file.flush().map_err(|e| Error::Storage(format!("cannot write output: {e}"))),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Temp(t) => t.write(buf),
            Sink::Stream(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Temp(t) => t.flush(),
            Sink::Stream(f) => f.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("caldb-safe-write-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn a_committed_temporary_replaces_the_target_and_leaves_nothing_beside_it() {
        let d = dir("commit");
        let target = d.join("out.csv");
        std::fs::write(&target, "old").expect("write");
        let mut sink = Sink::create(&target, "EXPORT", &[]).expect("a regular file");
        sink.write_all(b"new").expect("write");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "old", "untouched before the commit");
        sink.commit().expect("commit");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        assert_eq!(std::fs::read_dir(&d).expect("dir").count(), 1);
    }

    #[test]
    fn a_dropped_temporary_is_removed_and_the_target_kept() {
        let d = dir("drop");
        let target = d.join("out.csv");
        std::fs::write(&target, "old").expect("write");
        let mut sink = Sink::create(&target, "EXPORT", &[]).expect("a regular file");
        sink.write_all(b"half").expect("write");
        drop(sink);
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "old");
        assert_eq!(std::fs::read_dir(&d).expect("dir").count(), 1);
    }

    #[test]
    fn a_locked_temporary_is_kept_and_an_unlocked_one_removed() {
        let d = dir("stale");
        let target = d.join("b.redb");
        let stale = d.join(".b.redb.4000000.0.tmp");
        std::fs::write(&stale, "left by a killed process").expect("write");
        let live = Temp::beside(&target, "BACKUP").expect("temp");
        let other = Temp::beside(&target, "BACKUP").expect("a second temp");
        assert!(!stale.exists(), "the unlocked temporary is stale");
        assert!(live.path().exists(), "a temporary still being written is not stale");
        drop((live, other));
    }

    #[test]
    fn a_directory_is_refused_by_name() {
        let d = dir("refuse");
        let err = check(&d, "BACKUP", &[], true).expect_err("a directory");
        assert!(err.message().contains("is a directory, not a regular file"), "{err}");
    }
}
