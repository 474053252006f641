//! Progress of long work (an import of many rows, a report over a large
//! database), told to the caller's progress callback (`interrupt::report`)
//! when the percentage moves; each tick is also a checkpoint where an
//! interrupt stops the work. Nothing is drawn here: a shell draws it at a
//! terminal, and scripts see nothing.

use crate::error::Result;
use crate::interrupt;

/// Below this many steps the work is quick and reports no progress.
const MIN_STEPS: u64 = 10_000;

pub struct Progress {
    label: &'static str,
    total: u64,
    shown: Option<u64>,
    on: bool,
}

impl Progress {
    pub fn new(label: &'static str, total: u64) -> Progress {
        Progress { label, total, shown: None, on: total >= MIN_STEPS }
    }

    /// Progress through `total` bytes of input: reported from 1 MiB up.
    pub fn bytes(label: &'static str, total: u64) -> Progress {
        let mut p = Progress::new(label, total);
        p.on &= total >= 1 << 20;
        p
    }

    /// `done` of `total` steps are done: reports when the percentage
    /// moves, and stops the work once it is interrupted.
    pub fn tick(&mut self, done: u64) -> Result<()> {
        if !self.on {
            return interrupt::checkpoint();
        }
        let pct = done.min(self.total) * 100 / self.total.max(1);
        if self.shown == Some(pct) {
            return interrupt::checkpoint();
        }
        self.shown = Some(pct);
        interrupt::report(self.label, done.min(self.total), Some(self.total))
    }
}
