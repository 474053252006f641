//! The host's log: one line per event, `TIME #CONNECTION PEER: text`, to
//! standard error or appended to a file, written whole under a lock so the
//! lines of clients served at once never interleave. It never logs a
//! password.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Where log lines go.
pub struct Log {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Log {
    /// A log on standard error, or appended to `path`.
    pub fn open(path: Option<&Path>) -> Result<Log, String> {
        let out: Box<dyn Write + Send> = match path {
            None => Box::new(std::io::stderr()),
            Some(path) => Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("log file '{}': {e}", path.display()))?,
            ),
        };
        Ok(Log { out: Mutex::new(out) })
    }

    /// Writes one line, stamped with the time (UTC). A log that cannot be
    /// written to loses the line: serving clients matters more.
    pub fn line(&self, text: &str) {
        let stamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f");
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(out, "{stamp} {text}");
        let _ = out.flush();
    }
}
