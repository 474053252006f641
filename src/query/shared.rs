//! `Shared`: one database used from many threads at once (a session host's
//! client threads, a license server answering a logon storm). Every call is
//! its own transaction in meaning, with its own history row, result and
//! error, and returns once its statement is durable; the changing
//! statements that arrive while a commit syncs are committed together by
//! the next one (group commit: one writer leads a group, as RocksDB's
//! write groups do; `exec::grouped` runs it).
//!
//! A calling thread queues its statement. If no group is being run, it
//! leads: it takes the queue (its own statement first), runs it as one
//! commit, hands each waiting thread its answer and then the lead to the
//! first statement that queued meanwhile. Every other thread sleeps on its
//! own slot until its answer (or the lead) comes: one wake-up per
//! statement, whatever the number of threads. Read-only statements run on
//! the database without joining a group.

use super::exec::{Answer, Work};
use super::{Database, parse_statement};
use crate::error::{Error, Result};
use crate::model::ResultSet;
use crate::protocol::{ConnectRequest, Outcome};
use crate::query::ast::Statement;
use crate::store::Sharing;
use crate::store::opening::Door;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The most statements one commit takes; the rest wait for the next.
const MAX_GROUP: usize = 1024;

/// A leader whose queue holds fewer statements than the last group took
/// yields at most this many times first, so that the threads the last
/// group answered can queue their next statements and share this commit.
const GATHER_YIELDS: usize = 8;

/// How often a serving process looks whether another process knocks.
const DOOR_POLL: Duration = Duration::from_millis(20);

/// A database shared by many threads: `Clone`, `Send` and `Sync`; each
/// clone is the same database. Each call runs one statement as its own
/// transaction and returns when it is durable; concurrent changing
/// statements share one commit (group commit).
///
/// A file opened with [`Shared::open`] is held in redb's single-process
/// mode (one `fdatasync` per commit) while no other process asks for it;
/// a shell or another program that opens the file asks, and the file is
/// shared with it (the multi-process mode, two syncs per commit) until it
/// closes.
///
/// ```
/// use caldb::Shared;
///
/// let db = Shared::open_in_memory()?;
/// for s in [
///     "SET CLOCK '2026-01-05'",
///     "CREATE SERVER ls1",
///     "ACTIVATE SERVER ls1",
///     "INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL DEVICE COUNT 50",
///     "CREATE HOST rdsh1 MODE DEVICE",
/// ] {
///     db.execute(s)?;
/// }
/// let threads: Vec<_> = (0..4)
///     .map(|i| {
///         let db = db.clone();
///         std::thread::spawn(move || -> caldb::Result<()> {
///             db.execute(&format!("CREATE DEVICE pc{i}"))?;
///             db.execute(&format!("CONNECT pc{i} AS user{i} TO rdsh1"))?;
///             Ok(())
///         })
///     })
///     .collect();
/// for t in threads {
///     t.join().expect("no panic")?;
/// }
/// let rows = db.execute("SELECT COUNT(*) FROM licenses")?.expect("a result");
/// assert_eq!(rows.rows[0][0], caldb::Value::Int(4));
/// # Ok::<(), caldb::Error>(())
/// ```
#[derive(Clone)]
pub struct Shared {
    owner: Arc<Owner>,
}

/// What the last clone of a `Shared` ends: the door watcher, then (when
/// `core` goes) the database.
struct Owner {
    core: Arc<Core>,
    watcher: Option<(Arc<Stop>, std::thread::JoinHandle<()>)>,
}

struct Core {
    db: Mutex<Database>,
    queue: Mutex<Queue>,
    /// How many statements the last group took.
    last_group: AtomicUsize,
    /// How the file is open now (`None`: in memory or on a backend).
    sharing: Mutex<Option<Sharing>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Pending>,
    /// A thread is running a group (and will hand the lead on).
    leading: bool,
}

struct Pending {
    work: Work,
    slot: Arc<Slot>,
}

/// Where a queued statement's thread waits for its answer or the lead.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Waiting,
    /// The thread is to lead the next group.
    Lead,
    Done(Result<Answer>),
}

#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic is caught per statement; a poisoned lock holds nothing half
    // done (the queue and the slots are changed in single steps).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Opens (creating if missing) a database file to serve from many
    /// threads, held alone while no other process asks for it.
    pub fn open(path: &Path) -> Result<Shared> {
        let door = Door::open(path).ok();
        let knocked = door.as_ref().is_none_or(Door::knocked);
        let (db, sharing) = Database::open_serving(path, knocked)?;
        let core = Arc::new(Core::new(db, Some(sharing)));
        let watcher = door.map(|door| watch_door(Arc::clone(&core), door));
        Ok(Shared { owner: Arc::new(Owner { core, watcher }) })
    }

    /// A new temporary database in memory.
    pub fn open_in_memory() -> Result<Shared> {
        Shared::new(Database::open_in_memory()?)
    }

    /// Shares an open `Database` (in the redb mode it was opened in).
    /// Refused while it has a BEGIN block open.
    pub fn new(db: Database) -> Result<Shared> {
        if db.in_transaction() {
            return Err(Error::plan("a database with an open transaction cannot be shared: COMMIT or ROLLBACK it"));
        }
        let core = Arc::new(Core::new(db, None));
        Ok(Shared { owner: Arc::new(Owner { core, watcher: None }) })
    }

    /// Parses and runs one statement as its own transaction, durable when
    /// this returns; a changing statement shares its commit with the ones
    /// other threads run meanwhile. BEGIN, COMMIT and ROLLBACK are refused:
    /// a block belongs to one connection (a `Database`).
    pub fn execute(&self, text: &str) -> Result<Option<ResultSet>> {
        let stmt = parse_statement(text)?;
        let text = text.trim();
        if matches!(stmt, Statement::Begin | Statement::Commit | Statement::Rollback) {
            return Err(Error::plan(
                "a shared database runs each statement as its own transaction: BEGIN ... COMMIT needs a Database",
            ));
        }
        if stmt.is_read_only() || stmt.is_restore() {
            return lock(&self.owner.core.db).run(&stmt, text);
        }
        match self.owner.core.submit(Work::Statement { stmt, text: text.to_string() })? {
            Answer::Rows(rows) => Ok(rows),
            Answer::Outcome(_) => Err(Error::Internal("a statement answered with a connection's outcome".into())),
        }
    }

    /// Runs one connection through the licensing protocol as its own
    /// transaction (recorded in `history` as its CONNECT statement),
    /// durable when this returns. A denial is an outcome, not an error.
    pub fn connect(&self, req: &ConnectRequest) -> Result<Outcome> {
        let text = super::exec::connect_statement(req).to_string();
        match self.owner.core.submit(Work::Connect { req: req.clone(), text })? {
            Answer::Outcome(outcome) => Ok(*outcome),
            Answer::Rows(_) => Err(Error::Internal("a connection answered with rows".into())),
        }
    }

    /// Every table, every row, in key order (`.dump`).
    pub fn dump(&self) -> Result<String> {
        lock(&self.owner.core.db).dump()
    }

    /// Whether the file is held alone now (redb's single-process mode, one
    /// sync per commit); `false` while it is shared with another process,
    /// and for a database in memory.
    pub fn is_exclusive(&self) -> bool {
        *lock(&self.owner.core.sharing) == Some(Sharing::Exclusive)
    }
}

impl Core {
    fn new(db: Database, sharing: Option<Sharing>) -> Core {
        Core { db: Mutex::new(db), queue: Mutex::default(), last_group: AtomicUsize::new(0), sharing: Mutex::new(sharing) }
    }

    /// Queues `work` and waits for its answer, leading a group when no
    /// other thread is.
    fn submit(&self, work: Work) -> Result<Answer> {
        let slot = Arc::new(Slot::default());
        let lead = {
            let mut queue = lock(&self.queue);
            queue.waiting.push(Pending { work, slot: Arc::clone(&slot) });
            !std::mem::replace(&mut queue.leading, true)
        };
        if !lead && !slot.wait_for_lead_or_answer() {
            return slot.take();
        }
        self.lead();
        slot.take()
    }

    /// Runs the queued statements (up to `MAX_GROUP`) as one commit,
    /// answers each, and hands the lead to the next queued statement.
    fn lead(&self) {
        self.gather(std::thread::yield_now);
        let group: Vec<Pending> = {
            let mut queue = lock(&self.queue);
            let n = queue.waiting.len().min(MAX_GROUP);
            self.last_group.store(n, Ordering::Relaxed);
            queue.waiting.drain(..n).collect()
        };
        let (works, slots): (Vec<Work>, Vec<Arc<Slot>>) = group.into_iter().map(|p| (p.work, p.slot)).unzip();
        let answers = {
            let mut db = lock(&self.db);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.run_group(&works))).unwrap_or_else(|panic| {
                let e = Error::Internal(crate::store::panic_message(&*panic));
                works.iter().map(|_| Err(e.clone())).collect()
            })
        };
        for (slot, answer) in slots.iter().zip(answers) {
            slot.set(SlotState::Done(answer));
        }
        let mut queue = lock(&self.queue);
        match queue.waiting.first() {
            Some(next) => next.slot.set(SlotState::Lead),
            None => queue.leading = false,
        }
    }

    /// Yields (`yield_now`), `GATHER_YIELDS` times at most, while the
    /// queue holds fewer statements than the last group took. The lead
    /// passes to a queued thread as soon as a commit is answered, before
    /// the threads it answered have queued again: a group taken at once
    /// would be the few that queued during the commit, and the rest would
    /// wait for a commit of their own (from 8 threads, groups of 6.3
    /// instead of 7.3-8), while every commit costs about the same CPU
    /// however few it carries (redb's page writes, the sync).
    fn gather(&self, mut yield_now: impl FnMut()) {
        let want = self.last_group.load(Ordering::Relaxed);
        for _ in 0..GATHER_YIELDS {
            if lock(&self.queue).waiting.len() >= want {
                return;
            }
            yield_now();
        }
    }

    /// Opens the file in the mode the door asks for, if it is not open so.
    /// The mode stays locked through the switch, so `is_exclusive` never
    /// reports a mode the file has already left.
    fn follow_door(&self, door: &Door) {
        let mut sharing = lock(&self.sharing);
        let Some(now) = *sharing else { return };
        let want = match (now, door.knocked()) {
            // It knocks itself: it shares the file for as long as it lives.
            (Sharing::Client, _) => return,
            (_, true) => Sharing::Serving,
            (_, false) => Sharing::Exclusive,
        };
        if want == now {
            return;
        }
        let mut db = lock(&self.db);
        *sharing = Some(db.reopen_as(now, want).unwrap_or(now));
    }
}

impl Slot {
    fn set(&self, state: SlotState) {
        *lock(&self.state) = state;
        self.ready.notify_one();
    }

    /// Sleeps until the answer (`false`) or the lead (`true`) comes.
    fn wait_for_lead_or_answer(&self) -> bool {
        let mut state = lock(&self.state);
        loop {
            match &*state {
                SlotState::Waiting => state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner),
                SlotState::Lead => return true,
                SlotState::Done(_) => return false,
            }
        }
    }

    fn take(&self) -> Result<Answer> {
        match std::mem::take(&mut *lock(&self.state)) {
            SlotState::Done(answer) => answer,
            _ => Err(Error::Internal("a statement's group ended without its answer".into())),
        }
    }
}

/// A thread that looks at the door every `DOOR_POLL` and switches the
/// file's mode when a knock comes or goes.
fn watch_door(core: Arc<Core>, door: Door) -> (Arc<Stop>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(Stop::default());
    let stopping = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        let mut stopped = lock(&stopping.stopped);
        while !*stopped {
            stopped = stopping.wake.wait_timeout(stopped, DOOR_POLL).unwrap_or_else(PoisonError::into_inner).0;
            if !*stopped {
                core.follow_door(&door);
            }
        }
    });
    (stop, thread)
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.watcher.take() {
            *lock(&stop.stopped) = true;
            stop.wake.notify_one();
            drop(thread.join());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_one(core: &Core) {
        let stmt = parse_statement("CREATE DEVICE pc1").expect("parses");
        let work = Work::Statement { stmt, text: "CREATE DEVICE pc1".into() };
        lock(&core.queue).waiting.push(Pending { work, slot: Arc::default() });
    }

    #[test]
    fn a_leader_waits_for_as_many_statements_as_the_last_group_took_and_no_longer() {
        let core = Core::new(Database::open_in_memory().expect("open"), None);
        core.last_group.store(3, Ordering::Relaxed);
        // Each yield lets one answered thread queue its next statement.
        let mut yields = 0;
        core.gather(|| {
            yields += 1;
            queue_one(&core);
        });
        assert_eq!((yields, lock(&core.queue).waiting.len()), (3, 3), "it stops once the group is whole");
        yields = 0;
        core.gather(|| yields += 1);
        assert_eq!(yields, 0, "a queue as long as the last group is taken at once");
        core.last_group.store(64, Ordering::Relaxed);
        core.gather(|| yields += 1);
        assert_eq!(yields, GATHER_YIELDS, "the threads that do not come are waited for a bounded time");
    }
}
