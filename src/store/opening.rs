//! What opening a file and beginning a write may wait for (quality.md R7):
//! redb's writer lock is taken with a bounded wait, the busy timeout
//! (`.timeout MS`, `-timeout MS`; process-wide, default 5 s), after which
//! the open or the statement fails with "database is locked by another
//! process" instead of blocking forever behind another process's BEGIN. A
//! path that is not a regular file (a FIFO, a device) is refused before it
//! is read, where reading it could block. Every other lock, and all I/O,
//! passes through to redb's own file backend untouched.
//!
//! And who else may open the file (docs/design.md, "Many hosts at once"):
//! a serving process (`caldb::Shared`) holds its file in redb's exclusive
//! mode, one fdatasync per commit, while no other caldb process asks for
//! it. Another process asks by holding a shared `flock` on the file's
//! `-attach` file beside it (a `Knock`, for as long as its handle is
//! open); the server looks at that door (`Door::knocked`) and opens the
//! file in the multi-process mode while anyone knocks.

use crate::error::Error;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The busy timeout in milliseconds.
static BUSY_TIMEOUT_MS: AtomicU64 = AtomicU64::new(DEFAULT_BUSY_TIMEOUT_MS);

/// The busy timeout until one is set.
pub const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5000;

/// The message of a wait that ran out; `is_locked` recognises it.
pub const LOCKED: &str = "database is locked by another process";

/// redb's writer byte (`WRITER_BYTE`, 1 << 62 in redb 4.6, pinned): held by
/// the process in a write transaction, and taken by a writable open to
/// recover the file.
const WRITER_BYTE: u64 = 1 << 62;

/// Sets how long an open or a write waits for another process's lock.
pub fn set_busy_timeout(ms: u64) {
    BUSY_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

pub fn busy_timeout() -> u64 {
    BUSY_TIMEOUT_MS.load(Ordering::Relaxed)
}

/// Whether a redb error's text is the busy timeout's.
pub fn is_locked(e: &impl std::fmt::Display) -> bool {
    e.to_string().contains(LOCKED)
}

/// The busy timeout ran out: who holds the file, and what to do.
pub fn locked(what: &str) -> String {
    let ms = busy_timeout();
    format!("{what}: {} (waited {ms} ms; .timeout or -timeout sets the wait)", LOCKED)
}

/// The file beside a database through which other processes ask its
/// serving process to share it: `PATH-attach`.
pub fn attach_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-attach");
    std::path::PathBuf::from(name)
}

/// A process's request that a serving process share the file: a shared
/// `flock` on its `-attach` file, held until dropped.
#[derive(Debug)]
pub struct Knock(#[allow(dead_code)] std::fs::File);

impl Knock {
    /// Knocks, if a serving process ever held `path` (its `-attach` file
    /// exists; nothing is created otherwise, so a `-readonly` open writes
    /// nothing). The server holds the lock exclusively only for the instant
    /// it looks, so the wait is short.
    pub fn on(path: &Path) -> Option<Knock> {
        let file = std::fs::File::open(attach_path(path)).ok()?;
        file.lock_shared().ok()?;
        Some(Knock(file))
    }
}

/// The serving process's side of the `-attach` file: whether any other
/// process knocks.
#[derive(Debug)]
pub struct Door(std::fs::File);

impl Door {
    /// Creates (or opens) the `-attach` file beside `path`.
    pub fn open(path: &Path) -> std::io::Result<Door> {
        let attach = attach_path(path);
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(attach)?;
        Ok(Door(file))
    }

    /// Whether another process holds a knock now: the exclusive lock is
    /// refused while one does (and released at once when taken).
    pub fn knocked(&self) -> bool {
        match self.0.try_lock() {
            Ok(()) => {
                drop(self.0.unlock());
                false
            }
            Err(_) => true,
        }
    }
}

/// Whether a wait that started at `started` has run out the busy timeout.
pub fn waited_out(started: std::time::Instant) -> bool {
    started.elapsed() >= Duration::from_millis(busy_timeout())
}

/// A serving process held the file through the busy timeout although
/// this one knocked: what it is, and the ways in.
pub fn served(what: &str) -> String {
    format!(
        "{what} is held by a serving caldb process that did not share it within {} ms (.timeout or -timeout \
         sets the wait)",
        busy_timeout()
    )
}

/// Refuses an existing path that is not a regular file, before a byte of
/// it is read (a FIFO would block the open until a writer came).
pub fn refuse_non_regular(path: &Path) -> crate::error::Result<()> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
    if meta.is_file() {
        return Ok(());
    }
    let kind = if meta.is_dir() { "a directory" } else { "not a regular file (a FIFO, a device or a socket)" };
    Err(Error::Storage(format!("{} is {kind}, not a database file", path.display())))
}

/// redb's file backend with a bounded wait for the writer lock.
#[derive(Debug)]
pub struct Bounded(Arc<FileBackend>);

/// A helper thread's blocking lock: `Abandoned` once the waiter gave up,
/// so a lock the helper gets later is released at once.
enum Wait {
    Waiting,
    Abandoned,
}

impl Bounded {
    pub fn open(path: &Path) -> std::io::Result<Bounded> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        FileBackend::new(file).map(|b| Bounded(Arc::new(b))).map_err(std::io::Error::other)
    }

    /// Takes the lock at once if it is free; else waits for it in the
    /// kernel's own blocking lock (so waiters are woken as it is released,
    /// not left to poll), on a helper thread, at most the busy timeout.
    fn wait(&self, start: Bound<u64>, end: Bound<u64>, shared: bool) -> Result<(), BackendError> {
        let free =
            if shared { self.0.try_lock_shared_range(start, end)? } else { self.0.try_lock_range(start, end)? };
        if free {
            return Ok(());
        }
        let state = Arc::new(Mutex::new(Wait::Waiting));
        let (sent, received) = mpsc::channel();
        let (backend, helper_state) = (Arc::clone(&self.0), Arc::clone(&state));
        std::thread::spawn(move || {
            let taken = if shared { backend.lock_shared_range(start, end) } else { backend.lock_range(start, end) };
            let state = helper_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match (&*state, taken) {
                (Wait::Abandoned, Ok(())) => drop(backend.unlock_range(start, end)),
                (_, taken) => drop(sent.send(taken)),
            }
        });
        let timeout = Duration::from_millis(busy_timeout());
        if let Ok(taken) = received.recv_timeout(timeout) {
            return taken;
        }
        // Given up: under the helper's mutex, so a lock it took meanwhile
        // is either in the channel (kept) or released by the helper.
        let mut state = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *state = Wait::Abandoned;
        match received.try_recv() {
            Ok(taken) => taken,
            Err(_) => Err(BackendError::Io(std::io::Error::new(std::io::ErrorKind::WouldBlock, LOCKED))),
        }
    }
}

fn is_writer_byte(start: Bound<u64>) -> bool {
    start == Bound::Included(WRITER_BYTE)
}

impl StorageBackend for Bounded {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.0.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.0.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.0.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.0.write(offset, data)
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.0.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        if is_writer_byte(start) { self.wait(start, end, false) } else { self.0.lock_range(start, end) }
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        if is_writer_byte(start) { self.wait(start, end, true) } else { self.0.lock_shared_range(start, end) }
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.query_lock_range(start, end)
    }
}
