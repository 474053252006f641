//! Runs statements against the store. Each statement that changes the
//! database is one redb write transaction (or part of the one open BEGIN
//! block), holding its effects and its history row; expiry runs first, at
//! the statement's instant. Read-only statements run on a snapshot.

mod front;

use super::ast::{Statement, Target};
use super::select::Chunks;
use super::{parse_statement, run};
use crate::error::{Error, Result};
use crate::interrupt::{self, InterruptHandle, ProgressFn};
use crate::model::*;
use crate::protocol::{ConnectRequest, Ctx, Destination, Outcome, time};
use crate::store::{Reader, Records, Store, T, WriteTx, panic_message};
use std::path::Path;

mod grouped;
mod serving;
pub(crate) use grouped::{Answer, Work};

/// How to open a database.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Refuse every statement that would change the database.
    pub read_only: bool,
}

/// An open caldb database and the state of one connection to it (its open
/// BEGIN ... COMMIT block, if any).
pub struct Database {
    store: Store,
    options: OpenOptions,
    block: Block,
    interrupt: InterruptHandle,
    progress: Option<ProgressFn>,
    /// Why the file could not be reopened after a failed commit: every
    /// statement is refused (the handle in `store` is a placeholder).
    broken: Option<String>,
    /// What the licensing front keeps in the handle (its decoded server
    /// credentials), opaque to this layer, which sits below the front.
    front_cache: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// The connection's BEGIN ... COMMIT block.
enum Block {
    /// No block: each changing statement is its own transaction.
    None,
    /// An open block: statements join this transaction.
    Open(Box<WriteTx>),
    /// A block an error (or a panic) rolled back. Every statement is refused
    /// until COMMIT or ROLLBACK ends it, as in PostgreSQL: a script that
    /// wraps its work in a block gets all of it or none, never the part
    /// after the error run on its own.
    Aborted { cause: String },
}

impl Database {
    /// Opens (creating if missing) a database file.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Database> {
        if options.read_only && !path.exists() {
            return Err(Error::Storage(format!("{}: no such file (opened read-only)", path.display())));
        }
        let store = if options.read_only { Store::open_read_only(path)? } else { Store::open(path)? };
        Ok(Database::with_store(store, options.clone()))
    }

    /// A new temporary database in memory.
    pub fn open_in_memory() -> Result<Database> {
        Ok(Database::with_store(Store::in_memory()?, OpenOptions::default()))
    }

    /// On any redb storage backend (fault injection).
    pub fn open_backend(backend: impl crate::store::StorageBackend) -> Result<Database> {
        Ok(Database::with_store(Store::with_backend(backend)?, OpenOptions::default()))
    }

    fn with_store(store: Store, options: OpenOptions) -> Database {
        let interrupt = InterruptHandle::default();
        Database { store, options, block: Block::None, interrupt, progress: None, broken: None, front_cache: None }
    }

    /// A handle that stops this database's running statement from another
    /// thread (a Ctrl-C handler): the statement fails with
    /// `Error::Interrupted` and changes nothing.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.interrupt.clone()
    }

    /// Calls `progress` now and then while a long statement runs (IMPORT,
    /// the reports, every large scan); `None` stops the calls.
    pub fn set_progress(&mut self, progress: Option<ProgressFn>) {
        self.progress = progress;
    }

    /// The file, or `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.store.path()
    }

    /// Whether the database was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.options.read_only
    }

    /// The first damage found in the file (by this open, or recorded by an
    /// earlier writable one), if any: no write but REPAIR's is accepted.
    pub fn damage(&self) -> Option<String> {
        self.store.damage()
    }

    /// Whether a BEGIN block is open (an aborted one too: it still waits for
    /// its COMMIT or ROLLBACK).
    pub fn in_transaction(&self) -> bool {
        !matches!(self.block, Block::None)
    }

    /// Whether the open block was rolled back by an error, so that every
    /// statement is refused until COMMIT or ROLLBACK.
    pub fn is_aborted(&self) -> bool {
        matches!(self.block, Block::Aborted { .. })
    }

    /// Parses and runs one statement. Statements that return nothing give
    /// `Ok(None)`.
    pub fn execute(&mut self, text: &str) -> Result<Option<ResultSet>> {
        self.execute_in(text, None)
    }

    /// Like `execute`, but a SELECT's rows are handed to `chunks` as they
    /// are final, up to `CHUNK_ROWS` at a time (each chunk a result set with
    /// the columns), so that a million rows are never held at once; the
    /// result returned holds the rows after the last chunk handed over.
    /// Other statements return their whole result, as `execute` does.
    pub fn execute_in_chunks(
        &mut self,
        text: &str,
        chunks: &mut dyn FnMut(&ResultSet) -> Result<()>,
    ) -> Result<Option<ResultSet>> {
        self.execute_in(text, Some(chunks))
    }

    fn execute_in(&mut self, text: &str, chunks: Option<&mut Chunks<'_>>) -> Result<Option<ResultSet>> {
        let (handle, mut progress) = (self.interrupt.clone(), self.progress.take());
        let out = interrupt::watch(&handle, &mut progress, || {
            let stmt = parse_statement(text);
            self.guarded(text.trim(), |db| db.run_one(&stmt?, text.trim(), chunks))
        });
        self.progress = progress;
        out
    }

    /// Runs one statement's work `f`, so that it cannot half-commit: in an
    /// aborted block it is refused; an error or a panic inside a block rolls
    /// the whole block back and leaves it aborted; a panic outside a block
    /// drops the statement's own transaction before it commits. Either way
    /// the statement's effects are discarded and the panic is its error.
    fn guarded<R>(&mut self, text: &str, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        if let Some(why) = &self.broken {
            return Err(Error::Storage(format!("the database could not be reopened after a failed commit ({why}): open it again")));
        }
        match &self.block {
            Block::Aborted { cause } if !ends_block(text) => {
                return Err(Error::Aborted { cause: cause.clone(), at_commit: false });
            }
            // A second BEGIN is a slip, not a reason to lose the block's work.
            Block::Open(_) if first_word_is(text, "begin") => {
                return Err(Error::plan("a transaction is already open: COMMIT or ROLLBACK it first"));
            }
            _ => {}
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)))
            .unwrap_or_else(|panic| Err(Error::Internal(panic_message(&*panic))));
        let Err(e) = result else { return result };
        match std::mem::replace(&mut self.block, Block::None) {
            // Dropping the redb transaction aborts it.
            Block::Open(_) => {
                self.block = Block::Aborted { cause: statement_name(text) };
                Err(rolled_back(e))
            }
            other => {
                self.block = other;
                Err(e)
            }
        }
    }

    /// Runs one connection through the licensing protocol, as one
    /// transaction recorded in `history` like its CONNECT statement, and
    /// returns the typed outcome. A denial is an outcome, not an error.
    ///
    /// ```
    /// use caldb::{ConnectRequest, Database, Destination, ReasonCode};
    ///
    /// let mut db = Database::open_in_memory()?;
    /// for s in [
    ///     "SET CLOCK '2026-01-05'",
    ///     "CREATE SERVER ls1 PRODUCT WS2022",
    ///     "ACTIVATE SERVER ls1",
    ///     "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5",
    ///     "CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE",
    ///     "CREATE DEVICE pc1",
    /// ] {
    ///     db.execute(s)?;
    /// }
    /// let req = ConnectRequest {
    ///     device: "pc1".into(),
    ///     user: "alice".into(),
    ///     to: Destination::Host("rdsh1".into()),
    ///     admin: false,
    ///     logon_failed: false,
    /// };
    /// let first = db.connect(&req)?;
    /// assert_eq!(first.reason, ReasonCode::TemporaryIssued);
    /// let second = db.connect(&req)?; // the logon validated the temporary CAL
    /// assert_eq!(second.reason, ReasonCode::Upgraded);
    /// assert!(second.accepted());
    /// # Ok::<(), caldb::Error>(())
    /// ```
    pub fn connect(&mut self, req: &ConnectRequest) -> Result<Outcome> {
        let text = connect_statement(req).to_string();
        self.guarded(&text, |db| db.in_write(&text, false, |cx| crate::protocol::connect(cx, req)))
    }

    /// Runs a parsed statement; `text` is what `history` records.
    pub fn run(&mut self, stmt: &Statement, text: &str) -> Result<Option<ResultSet>> {
        self.guarded(text, |db| db.run_one(stmt, text, None))
    }

    fn run_one(&mut self, stmt: &Statement, text: &str, chunks: Option<&mut Chunks<'_>>) -> Result<Option<ResultSet>> {
        match stmt {
            Statement::Begin => self.begin(),
            Statement::Commit => self.commit(),
            Statement::Rollback => self.rollback(),
            s if s.is_restore() => self.run_restore(s),
            s if s.is_read_only() => self.run_read(s, chunks),
            s => self.run_write(s, text),
        }
    }

    fn begin(&mut self) -> Result<Option<ResultSet>> {
        self.refuse_if_read_only("BEGIN")?;
        match self.block {
            Block::None => {
                self.block = Block::Open(Box::new(self.store.write()?));
                Ok(None)
            }
            _ => Err(Error::plan("a transaction is already open: COMMIT or ROLLBACK it first")),
        }
    }

    /// Commits the open block. An aborted block ends as a rollback, and
    /// COMMIT says that nothing was committed.
    fn commit(&mut self) -> Result<Option<ResultSet>> {
        match std::mem::replace(&mut self.block, Block::None) {
            Block::Open(tx) => {
                let next_history = tx.state()?.next_history;
                match tx.commit() {
                    Ok(()) => Ok(None),
                    Err(e) => Err(self.after_failed_commit(e, next_history)),
                }
            }
            Block::Aborted { cause } => Err(Error::Aborted { cause, at_commit: true }),
            Block::None => Err(Error::plan("no transaction is open")),
        }
    }

    fn rollback(&mut self) -> Result<Option<ResultSet>> {
        match std::mem::replace(&mut self.block, Block::None) {
            Block::None => Err(Error::plan("no transaction is open")),
            _ => Ok(None),
        }
    }

    fn refuse_if_read_only(&self, what: &str) -> Result<()> {
        if self.options.read_only {
            return Err(Error::plan(format!("the database is open read-only: {what} would change it")));
        }
        Ok(())
    }

    /// `.dump`'s restore form: records written as the dump holds them,
    /// with no expiry and no history row (`query::dump`).
    fn run_restore(&mut self, stmt: &Statement) -> Result<Option<ResultSet>> {
        self.refuse_if_read_only("a restore")?;
        let in_block = matches!(self.block, Block::Open(_));
        let mut standalone = None;
        let tx = match &mut self.block {
            Block::Open(tx) => tx,
            _ => standalone.insert(self.store.write()?),
        };
        super::dump::restore(tx, stmt, in_block)?;
        if let Some(tx) = standalone {
            tx.commit()?;
        }
        Ok(None)
    }

    fn run_write(&mut self, stmt: &Statement, text: &str) -> Result<Option<ResultSet>> {
        let sets_clock = matches!(stmt, Statement::SetClock { .. } | Statement::SetClockWall);
        self.in_write(text, sets_clock, |cx| run::write_statement(cx, stmt))
    }

    /// Runs `f` as one changing statement recorded as `text`: in its own
    /// committed transaction, or inside the open BEGIN block.
    /// `sets_clock`: the statement moves the clock, and expiry runs at the
    /// instant it sets, not first at the one it leaves.
    fn in_write<R>(&mut self, text: &str, sets_clock: bool, f: impl FnOnce(&mut Ctx) -> Result<R>) -> Result<R> {
        if self.options.read_only {
            // Named only when refused: every changing statement passes here.
            self.refuse_if_read_only(&statement_name(text))?;
        }
        let mut standalone = None;
        let tx = match &mut self.block {
            Block::Open(tx) => tx,
            _ => standalone.insert(self.store.write()?),
        };
        let out = crate::protocol::statement(tx, text, sets_clock, f)?;
        if let Some(tx) = standalone {
            let next_history = tx.state()?.next_history;
            if let Err(e) = tx.commit() {
                return Err(self.after_failed_commit(e, next_history));
            }
        }
        Ok(out)
    }

    /// After a commit that failed (a full disk, say), redb refuses every
    /// transaction of the handle ("previous I/O error"): the file is closed
    /// and opened again, which recovers it, and its history then tells
    /// whether the transaction reached it (`next_history`: the history
    /// counter the transaction would have left). The error says which.
    fn after_failed_commit(&mut self, e: Error, next_history: u64) -> Error {
        let Some(path) = self.store.path().map(Path::to_path_buf) else { return e };
        let cause = crate::store::commit_failure_cause(&e);
        // One handle of a file per process: the broken one goes first.
        let placeholder = match Store::in_memory() {
            Ok(placeholder) => placeholder,
            Err(_) => return e,
        };
        drop(std::mem::replace(&mut self.store, placeholder));
        let opened = if self.options.read_only { Store::open_read_only(&path) } else { Store::open(&path) };
        let landed = opened.and_then(|store| {
            self.store = store;
            Ok(self.store.read()?.state()?.next_history)
        });
        match landed {
            Ok(next) if next >= next_history => Error::Storage(format!(
                "{cause}, after it reached the file: history row {} holds it; look at it before running it again",
                next_history - 1
            )),
            Ok(next) => Error::Storage(format!(
                "{cause}; nothing of it was written (the file was reopened: its history ends at row {})",
                next - 1
            )),
            Err(reopen) => {
                self.broken = Some(reopen.to_string());
                Error::Storage(format!("{cause}{}", crate::store::COMMIT_OUTCOME_UNKNOWN))
            }
        }
    }

    fn run_read(&mut self, stmt: &Statement, chunks: Option<&mut Chunks<'_>>) -> Result<Option<ResultSet>> {
        if let Block::Open(tx) = &mut self.block {
            let now = crate::protocol::expire_before_read(tx)?;
            // BACKUP copies `meta` itself; the other reads take the kept state.
            if matches!(stmt, Statement::Backup { .. }) {
                tx.write_state()?;
            }
            return run::read_statement(&**tx, stmt, &self.store, now, chunks).map(Some);
        }
        let rx = self.store.read()?;
        let now = time::statement_instant(&rx.state()?);
        // Under -readonly nothing is expired, so nothing need be looked for
        let due = !self.options.read_only && rx.any_license_due_by(now)?;
        drop(rx);
        if due {
            let mut tx = self.store.write()?;
            crate::protocol::expire_before_read(&mut tx)?;
            tx.commit()?;
        }
        // CHECK also runs redb's own integrity check (checksums of every
        // page), which needs no transaction open; under -readonly on a copy
        // in memory of what it writes.
        let integrity = match stmt {
            Statement::Check => Some(self.check_integrity()?),
            _ => None,
        };
        let rx = self.store.read()?;
        let mut rs = run::read_statement(&rx, stmt, &self.store, now, chunks)?;
        if integrity == Some(false) {
            let problem = "redb's integrity check found damage and repaired what it could";
            rs.push(vec![Value::text("integrity"), Value::text("file"), Value::text(problem)]);
        }
        Ok(Some(rs))
    }

    /// What SHOW CLOCK shows (`now`, `clock`, `seed`), read without running
    /// a statement: no expiry, no history row (the shell's `.show`).
    pub fn clock(&mut self) -> Result<ResultSet> {
        match &self.block {
            Block::Open(tx) => super::show::show_clock(&**tx, time::statement_instant(&tx.state()?)),
            _ => {
                let rx = self.store.read()?;
                super::show::show_clock(&rx, time::statement_instant(&rx.state()?))
            }
        }
    }

    /// Every table, every row, in key order (`.dump`).
    pub fn dump(&mut self) -> Result<String> {
        match &self.block {
            Block::Open(tx) => super::dump::dump(&**tx),
            _ => super::dump::dump(&self.store.read()?),
        }
    }

    /// `dump`'s text written to `w` as it is made, never held whole (the
    /// shell's `.dump` of a million licenses).
    pub fn dump_to(&mut self, w: &mut dyn std::io::Write) -> Result<()> {
        match &self.block {
            Block::Open(tx) => super::dump::dump_to(&**tx, w),
            _ => super::dump::dump_to(&self.store.read()?, w),
        }
    }

    /// The names of the tables, in the order of language.md.
    pub fn table_names() -> Vec<&'static str> {
        super::catalog::TABLES.iter().map(|t| t.name).collect()
    }

    /// The columns of a table, or `None` for an unknown table.
    pub fn table_columns(table: &str) -> Option<Vec<&'static str>> {
        super::catalog::table(table).map(|t| t.column_names())
    }

    /// The `.schema` text of one table or of all.
    pub fn schema_text(table: Option<&str>) -> Result<String> {
        super::dump::schema_text(table)
    }

    /// Names of servers, hosts, devices and farms, for tab completion.
    pub fn completion_names(&self) -> Vec<String> {
        let names = |r: &dyn Fn() -> Result<Vec<String>>| r().unwrap_or_default();
        names(&|| {
            let rx = self.store.read()?;
            let mut out = Vec::new();
            for t in [T::Servers, T::Hosts, T::Devices] {
                rx.scan(t, b"", None, &mut |k, _| {
                    out.push(String::from_utf8_lossy(k).into_owned());
                    Ok(out.len() < 10_000)
                })?;
            }
            Ok(out)
        })
    }

    /// redb's integrity check of the file (CHECK runs it too).
    pub fn check_integrity(&mut self) -> Result<bool> {
        if self.in_transaction() {
            return Ok(true);
        }
        self.store.check_integrity()
    }
}

/// The CONNECT statement a connection request is recorded as.
pub(crate) fn connect_statement(req: &ConnectRequest) -> Statement {
    Statement::Connect {
        device: req.device.clone(),
        user: req.user.clone(),
        target: match &req.to {
            Destination::Host(h) => Target::Host(h.clone()),
            Destination::Farm(f) => Target::Farm(f.clone()),
        },
        admin: req.admin,
        logon_failed: req.logon_failed,
    }
}

/// Whether `text` is COMMIT or ROLLBACK, the statements an aborted block
/// still takes (without parsing: an aborted block refuses even text that
/// would not parse, so a typo after the error does not hide it).
fn ends_block(text: &str) -> bool {
    first_word_is(text, "commit") || first_word_is(text, "rollback")
}

/// Whether the statement `text` is the one word `word`, in any case.
fn first_word_is(text: &str, word: &str) -> bool {
    text.trim().trim_end_matches(';').trim().eq_ignore_ascii_case(word)
}

/// `e`, saying that it rolled the open block back.
fn rolled_back(e: Error) -> Error {
    const ROLLED_BACK: &str = "; the transaction was rolled back";
    match e {
        Error::Parse { message, offset, line, column } => {
            Error::Parse { message: message + ROLLED_BACK, offset, line, column }
        }
        Error::Plan { message, near } => Error::Plan { message: message + ROLLED_BACK, near },
        Error::Storage(message) => Error::Storage(message + ROLLED_BACK),
        Error::Internal(message) => Error::Internal(message + ROLLED_BACK),
        Error::Damaged { table, key, detail } => Error::Damaged { table, key, detail: detail + ROLLED_BACK },
        Error::Interrupted { .. } => Error::Interrupted { block: true },
        other => other,
    }
}

/// The statement's keywords, to name it in a refusal: its first word and,
/// when it is one, the kind of thing it acts on (`CREATE DEVICE`, not a
/// name or a number: `CONNECT`, not `CONNECT D1`).
fn statement_name(text: &str) -> String {
    const OBJECTS: [&str; 10] =
        ["SERVER", "HOST", "DEVICE", "CLOCK", "SEED", "KEYPACK", "KEYPACKS", "SESSION", "LICENSE", "LICENSES"];
    let mut words = text.split_whitespace().map(str::to_ascii_uppercase);
    let first = words.next().unwrap_or_default();
    match words.next() {
        Some(second) if OBJECTS.contains(&second.as_str()) => format!("{first} {second}"),
        _ => first,
    }
}
