//! A progress line for long work (an import of many rows, a report over a
//! large database): a `\r`-updated percentage on standard error, only when
//! standard error is a terminal. Scripts and pipes see nothing.

use std::io::{IsTerminal, Write};

/// Below this many steps the work is quick and shows no progress.
const MIN_STEPS: u64 = 10_000;

pub struct Progress {
    label: &'static str,
    total: u64,
    shown: Option<u64>,
    on: bool,
}

impl Progress {
    pub fn new(label: &'static str, total: u64) -> Progress {
        let on = total >= MIN_STEPS && std::io::stderr().is_terminal();
        Progress { label, total, shown: None, on }
    }

    /// Progress through `total` bytes of input: shown from 1 MiB up.
    pub fn bytes(label: &'static str, total: u64) -> Progress {
        let mut p = Progress::new(label, total);
        p.on &= total >= 1 << 20;
        p
    }

    /// `done` of `total` steps are done; redraws when the percentage moves.
    pub fn tick(&mut self, done: u64) {
        if !self.on {
            return;
        }
        let pct = done.min(self.total) * 100 / self.total.max(1);
        if self.shown != Some(pct) {
            self.shown = Some(pct);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}: {pct:3}%", self.label);
            let _ = err.flush();
        }
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.on && self.shown.is_some() {
            let blank = " ".repeat(self.label.len() + 6);
            let _ = write!(std::io::stderr().lock(), "\r{blank}\r");
        }
        self.shown = None;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
