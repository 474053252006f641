//! `Shared`: one database used from many threads at once (a session host's
//! client threads, a license server answering a logon storm). Every call is
//! its own transaction in meaning, with its own history row, result and
//! error, and returns once its statement is durable; the changing
//! statements that arrive while a commit syncs are committed together by
//! the next one (group commit: one writer leads a group, as RocksDB's
//! write groups do; `exec::grouped` runs it).
//!
//! The queue, the leader and the hand-offs are `group_commit`'s; a group
//! is one commit of the database (`Database::run_group`). Read-only
//! statements run on the database without joining a group.

use super::exec::{Answer, Work};
use super::{Database, parse_statement};
use crate::error::{Error, Result};
use crate::model::ResultSet;
use crate::protocol::{ConnectRequest, Outcome};
use crate::query::ast::Statement;
use crate::store::Sharing;
use crate::store::opening::Door;
use std::path::Path;
use super::group_commit::GroupCommit;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

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
    group: GroupCommit<Work, Result<Answer>>,
    /// How the file is open now (`None`: in memory or on a backend).
    sharing: Mutex<Option<Sharing>>,
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
        Core { db: Mutex::new(db), group: GroupCommit::default(), sharing: Mutex::new(sharing) }
    }

    /// Queues `work` and waits for its answer; a group is one commit.
    fn submit(&self, work: Work) -> Result<Answer> {
        let answer = self.group.submit(work, |works| {
            let mut db = lock(&self.db);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.run_group(&works))).unwrap_or_else(|panic| {
                let e = Error::Internal(crate::store::panic_message(&*panic));
                works.iter().map(|_| Err(e.clone())).collect()
            })
        });
        answer.unwrap_or_else(|| Err(Error::Internal("a statement's group ended without its answer".into())))
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
