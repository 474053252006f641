//! Stopping a long statement from another thread, and watching its
//! progress: the `InterruptHandle` a caller keeps (a shell's Ctrl-C handler
//! calls `interrupt`, as sqlite3's does `sqlite3_interrupt`) and the
//! progress callback a caller sets. While `Database` runs a statement it
//! installs both for the running thread (`watch`); the long loops below it
//! (every scan of the store, IMPORT's reading of its file, the reports)
//! call `checkpoint`, which costs a thread-local read and an atomic load.
//! An interrupted statement fails with `Error::Interrupted`, so its
//! transaction is dropped like any failed statement's. This module never
//! draws anything: drawing is the caller's business.

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stops the statement running on the database it came from; cheap to
/// clone and safe to call from a signal-handling thread.
#[derive(Clone, Debug, Default)]
pub struct InterruptHandle {
    flag: Arc<AtomicBool>,
}

impl InterruptHandle {
    /// Asks the running statement to stop at its next checkpoint. With no
    /// statement running it does nothing: the next statement starts afresh.
    pub fn interrupt(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether an interrupt is pending.
    pub fn is_interrupted(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.flag.store(false, Ordering::Relaxed);
    }
}

/// How far a long statement has got. `total` is known for work of a known
/// size (an import's bytes, a report's licenses); scans give only a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress<'a> {
    /// What is being done, e.g. `"importing licenses"`; `"reading"` for a
    /// scan of the store.
    pub label: &'a str,
    /// How much is done so far (rows, records or bytes, as `label` says).
    pub done: u64,
    /// How much there is in all, when known.
    pub total: Option<u64>,
}

/// The callback a caller sets with `Database::set_progress`.
pub type ProgressFn = Box<dyn FnMut(Progress<'_>) + Send>;

/// Scanned entries between two progress reports.
const SCAN_REPORT_EVERY: u64 = 16_384;

struct Watch {
    handle: InterruptHandle,
    progress: Option<ProgressFn>,
    scanned: u64,
}

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// Runs `f` with `handle` and `progress` installed for this thread, and
/// hands the callback back. A pending interrupt from before the statement
/// is forgotten first (sqlite3_interrupt's rule: it stops what runs now).
pub(crate) fn watch<R>(handle: &InterruptHandle, progress: &mut Option<ProgressFn>, f: impl FnOnce() -> R) -> R {
    handle.clear();
    let previous =
        WATCH.with(|w| w.replace(Some(Watch { handle: handle.clone(), progress: progress.take(), scanned: 0 })));
    // Put back even if `f` panics (the shell catches a panic per statement).
    struct Restore<'a> {
        progress: &'a mut Option<ProgressFn>,
        previous: Option<Option<Watch>>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let mine = WATCH.with(|w| w.replace(self.previous.take().flatten()));
            *self.progress = mine.and_then(|m| m.progress);
        }
    }
    let _restore = Restore { progress, previous: Some(previous) };
    f()
}

/// The interrupt handle of the statement running on this thread, for a
/// thread that helps it (`helping`).
pub(crate) fn current() -> Option<InterruptHandle> {
    WATCH.with(|w| w.borrow().as_ref().map(|w| w.handle.clone()))
}

/// Runs `f`, on a thread helping a running statement, with that
/// statement's interrupt handle watched (`current`): Ctrl-C stops the
/// helper's scans too. Progress stays with the statement's own thread.
pub(crate) fn helping<R>(handle: Option<InterruptHandle>, f: impl FnOnce() -> R) -> R {
    let previous = WATCH.with(|w| w.replace(handle.map(|handle| Watch { handle, progress: None, scanned: 0 })));
    let out = f();
    WATCH.with(|w| w.replace(previous));
    out
}

/// `Err(Error::Interrupted { block: false })` once the running statement was interrupted.
pub fn checkpoint() -> Result<()> {
    let stop = WATCH.with(|w| w.borrow().as_ref().is_some_and(|w| w.handle.is_interrupted()));
    if stop { Err(Error::Interrupted { block: false }) } else { Ok(()) }
}

/// A checkpoint that also tells the callback how far work of `total`
/// steps (or of unknown size) has got.
pub fn report(label: &str, done: u64, total: Option<u64>) -> Result<()> {
    WATCH.with(|w| {
        if let Some(watch) = w.borrow_mut().as_mut()
            && let Some(progress) = watch.progress.as_mut()
        {
            progress(Progress { label, done, total });
        }
    });
    checkpoint()
}

/// Called by the store every `n` entries a scan visits: a checkpoint, and
/// now and then a count of the entries read so far for the progress
/// callback.
pub fn scanned(n: u64) -> Result<()> {
    let due = WATCH.with(|w| match w.borrow_mut().as_mut() {
        Some(watch) => {
            let before = watch.scanned / SCAN_REPORT_EVERY;
            watch.scanned += n;
            (before != watch.scanned / SCAN_REPORT_EVERY).then_some(watch.scanned)
        }
        None => None,
    });
    match due {
        Some(count) => report("reading", count, None),
        None => checkpoint(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_thread_helping_a_statement_stops_when_the_statement_is_interrupted() {
        let handle = InterruptHandle::default();
        let mut none = None;
        let out = watch(&handle, &mut none, || {
            let mine = current();
            handle.interrupt();
            std::thread::scope(|s| s.spawn(|| helping(mine, checkpoint)).join().expect("helper"))
        });
        assert!(matches!(out, Err(Error::Interrupted { block: false })), "{out:?}");
        let unwatched = std::thread::scope(|s| s.spawn(|| helping(None, checkpoint)).join().expect("helper"));
        assert!(unwatched.is_ok());
    }

    #[test]
    fn an_interrupt_stops_the_watched_work_at_its_next_checkpoint() {
        let handle = InterruptHandle::default();
        let mut none = None;
        let out = watch(&handle, &mut none, || {
            checkpoint()?;
            handle.interrupt();
            checkpoint()
        });
        assert_eq!(out, Err(Error::Interrupted { block: false }));
        assert_eq!(checkpoint(), Ok(()), "nothing is watched after the statement");
    }

    #[test]
    fn an_interrupt_before_the_statement_is_forgotten() {
        let handle = InterruptHandle::default();
        handle.interrupt();
        let mut none = None;
        assert_eq!(watch(&handle, &mut none, checkpoint), Ok(()));
    }

    #[test]
    fn scans_report_their_count_to_the_callback_and_it_comes_back() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let mut progress: Option<ProgressFn> = Some(Box::new(move |p: Progress<'_>| {
            sink.lock().expect("lock").push((p.label.to_string(), p.done));
        }));
        let handle = InterruptHandle::default();
        watch(&handle, &mut progress, || {
            for _ in 0..4 {
                scanned(SCAN_REPORT_EVERY / 2).expect("not interrupted");
            }
        });
        assert!(progress.is_some(), "the callback is handed back");
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(
            seen,
            vec![("reading".to_string(), SCAN_REPORT_EVERY), ("reading".to_string(), 2 * SCAN_REPORT_EVERY)]
        );
    }
}
