//! Ctrl-C and progress, the shell's side of `caldb::interrupt`. The
//! Ctrl-C handler (the `ctrlc` crate) interrupts the running statement,
//! which fails with "interrupted" and changes nothing; with no statement
//! running, a script is ended as Ctrl-C always did, and at the prompt
//! rustyline reads Ctrl-C as a key instead. A second Ctrl-C while the
//! interrupted statement has not stopped yet ends the shell. Progress of a
//! long statement is drawn with indicatif on standard error, only in the
//! terminal front end, and cleared when the statement ends.

use caldb::{Database, InterruptHandle, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The open database's handle (`.open` replaces it).
static HANDLE: Mutex<Option<InterruptHandle>> = Mutex::new(None);
/// A statement is running.
static RUNNING: AtomicBool = AtomicBool::new(false);
/// The terminal front end is on: Ctrl-C outside a statement is not fatal.
static INTERACTIVE: AtomicBool = AtomicBool::new(false);
/// The last statement was interrupted and the caller has not yet looked.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Progress is drawn (the terminal front end, standard error a terminal).
static DRAW: AtomicBool = AtomicBool::new(false);
/// The bar being drawn, and whether it has a known length.
static BAR: Mutex<Option<(ProgressBar, bool)>> = Mutex::new(None);

/// Installs the Ctrl-C handler; a shell that cannot install it says so
/// and runs on with Ctrl-C's default.
pub fn install() {
    if let Err(e) = ctrlc::set_handler(on_ctrl_c) {
        eprintln!("warning: Ctrl-C will end caldb instead of interrupting a statement: {e}");
    }
}

fn on_ctrl_c() {
    if RUNNING.load(Ordering::SeqCst) {
        let handle = HANDLE.lock().ok().and_then(|h| h.clone());
        match handle {
            // A second Ctrl-C: the statement did not stop; leave as sqlite3 does.
            Some(h) if h.is_interrupted() => std::process::exit(130),
            Some(h) => h.interrupt(),
            None => std::process::exit(130),
        }
    } else if !INTERACTIVE.load(Ordering::SeqCst) {
        std::process::exit(130);
    }
}

/// The terminal front end is running: progress is drawn (when standard
/// error is a terminal) and Ctrl-C between statements is not fatal.
pub fn set_interactive(on: bool) {
    INTERACTIVE.store(on, Ordering::SeqCst);
    DRAW.store(on && std::io::stderr().is_terminal(), Ordering::SeqCst);
}

/// Gives the handler the interrupt handle of a job without a database
/// (`-compact`), and the job the progress callback.
pub fn watch_job(handle: &InterruptHandle) -> caldb::ProgressFn {
    if let Ok(mut slot) = HANDLE.lock() {
        *slot = Some(handle.clone());
    }
    Box::new(draw)
}

/// Gives the handler `db`'s interrupt handle and `db` the progress callback.
pub fn watch(db: &mut Database) {
    if let Ok(mut handle) = HANDLE.lock() {
        *handle = Some(db.interrupt_handle());
    }
    db.set_progress(Some(Box::new(draw)));
}

/// Runs a statement: Ctrl-C interrupts it meanwhile; its progress bar is
/// cleared after it.
pub fn running<T>(f: impl FnOnce() -> caldb::Result<T>) -> caldb::Result<T> {
    RUNNING.store(true, Ordering::SeqCst);
    let out = f();
    RUNNING.store(false, Ordering::SeqCst);
    if let Ok(mut bar) = BAR.lock()
        && let Some((bar, _)) = bar.take()
    {
        bar.finish_and_clear();
    }
    if matches!(out, Err(caldb::Error::Interrupted { .. })) {
        INTERRUPTED.store(true, Ordering::SeqCst);
    }
    out
}

/// Whether a statement was interrupted since the last call.
pub fn take_interrupted() -> bool {
    INTERRUPTED.swap(false, Ordering::SeqCst)
}

/// The progress callback: a bar with a percentage for work of known size,
/// a spinner with a count for scans.
fn draw(p: Progress<'_>) {
    if !DRAW.load(Ordering::Relaxed) {
        return;
    }
    let Ok(mut slot) = BAR.lock() else { return };
    let sized = p.total.is_some();
    if slot.as_ref().is_some_and(|(_, s)| *s != sized)
        && let Some((old, _)) = slot.take()
    {
        old.finish_and_clear();
    }
    let (bar, _) = slot.get_or_insert_with(|| (new_bar(p.total), sized));
    bar.set_message(p.label.to_string());
    if let Some(total) = p.total {
        bar.set_length(total);
    }
    bar.set_position(p.done);
}

fn new_bar(total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (ProgressBar::new(total), "{msg} [{bar:30}] {percent:>3}% {elapsed} (Ctrl-C stops)"),
        None => (ProgressBar::new_spinner(), "{spinner} {msg}: {human_pos} rows, {elapsed} (Ctrl-C stops)"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
