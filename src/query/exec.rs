//! Runs statements against the store. Each statement that changes the
//! database is one redb write transaction (or part of the one open BEGIN
//! block), holding its effects and its history row; expiry runs first, at
//! the statement's instant. Read-only statements run on a snapshot.

use super::ast::{Statement, Target};
use super::{parse_statement, run};
use crate::error::{Error, Result};
use crate::model::*;
use crate::protocol::{ConnectRequest, Ctx, Destination, Outcome, time};
use crate::store::{HistoryRow, Reader, Records, Store, T, WriteTx, keys};
use std::path::Path;

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
    /// The open BEGIN block.
    txn: Option<WriteTx>,
}

impl Database {
    /// Opens (creating if missing) a database file.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Database> {
        if options.read_only && !path.exists() {
            return Err(Error::Storage(format!("{}: no such file (opened read-only)", path.display())));
        }
        let store = if options.read_only { Store::open_read_only(path)? } else { Store::open(path)? };
        Ok(Database { store, options: options.clone(), txn: None })
    }

    /// A new temporary database in memory.
    pub fn open_in_memory() -> Result<Database> {
        Ok(Database { store: Store::in_memory()?, options: OpenOptions::default(), txn: None })
    }

    /// On any redb storage backend (fault injection).
    pub fn open_backend(backend: impl crate::store::StorageBackend) -> Result<Database> {
        Ok(Database { store: Store::with_backend(backend)?, options: OpenOptions::default(), txn: None })
    }

    /// The file, or `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.store.path()
    }

    pub fn is_read_only(&self) -> bool {
        self.options.read_only
    }

    /// Whether a BEGIN is open.
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// Parses and runs one statement. Statements that return nothing give
    /// `Ok(None)`.
    pub fn execute(&mut self, text: &str) -> Result<Option<ResultSet>> {
        match parse_statement(text) {
            Ok(stmt) => self.run(&stmt, text.trim()),
            Err(e) => self.abort_on_error(Err(e)),
        }
    }

    /// Any error inside BEGIN ... COMMIT (a refused statement, a bad query,
    /// malformed text) rolls the whole block back, and says so.
    fn abort_on_error<R>(&mut self, result: Result<R>) -> Result<R> {
        let Err(e) = result else { return result };
        if self.txn.take().is_none() {
            return Err(e);
        }
        const ROLLED_BACK: &str = "; the transaction was rolled back";
        Err(match e {
            Error::Parse { message, offset, line, column } => {
                Error::Parse { message: message + ROLLED_BACK, offset, line, column }
            }
            Error::Plan { message, near } => Error::Plan { message: message + ROLLED_BACK, near },
            Error::Storage(message) => Error::Storage(message + ROLLED_BACK),
        })
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
        let stmt = Statement::Connect {
            device: req.device.clone(),
            user: req.user.clone(),
            target: match &req.to {
                Destination::Host(h) => Target::Host(h.clone()),
                Destination::Farm(f) => Target::Farm(f.clone()),
            },
            logon_failed: req.logon_failed,
        };
        let result = self.in_write(&stmt.to_string(), |cx| crate::protocol::connect(cx, req));
        self.abort_on_error(result)
    }

    /// Runs a parsed statement; `text` is what `history` records.
    pub fn run(&mut self, stmt: &Statement, text: &str) -> Result<Option<ResultSet>> {
        let result = self.run_one(stmt, text);
        self.abort_on_error(result)
    }

    fn run_one(&mut self, stmt: &Statement, text: &str) -> Result<Option<ResultSet>> {
        match stmt {
            Statement::Begin => self.begin(),
            Statement::Commit => self.commit(),
            Statement::Rollback => self.rollback(),
            s if s.is_read_only() => self.run_read(s),
            s => self.run_write(s, text),
        }
    }

    fn begin(&mut self) -> Result<Option<ResultSet>> {
        if self.txn.is_some() {
            return Err(Error::plan("a transaction is already open: COMMIT or ROLLBACK it first"));
        }
        self.refuse_if_read_only("BEGIN")?;
        self.txn = Some(self.store.write()?);
        Ok(None)
    }

    fn commit(&mut self) -> Result<Option<ResultSet>> {
        let tx = self.txn.take().ok_or_else(|| Error::plan("no transaction is open"))?;
        tx.commit()?;
        Ok(None)
    }

    fn rollback(&mut self) -> Result<Option<ResultSet>> {
        self.txn.take().ok_or_else(|| Error::plan("no transaction is open"))?;
        Ok(None)
    }

    fn refuse_if_read_only(&self, what: &str) -> Result<()> {
        if self.options.read_only {
            return Err(Error::plan(format!("the database is open read-only: {what} would change it")));
        }
        Ok(())
    }

    fn run_write(&mut self, stmt: &Statement, text: &str) -> Result<Option<ResultSet>> {
        self.in_write(text, |cx| run::write_statement(cx, stmt))
    }

    /// Runs `f` as one changing statement recorded as `text`: in its own
    /// committed transaction, or inside the open BEGIN block.
    fn in_write<R>(&mut self, text: &str, f: impl FnOnce(&mut Ctx) -> Result<R>) -> Result<R> {
        if self.options.read_only {
            // Named only when refused: every changing statement passes here.
            self.refuse_if_read_only(&statement_name(text))?;
        }
        let mut standalone = None;
        let tx = match self.txn.as_mut() {
            Some(tx) => tx,
            None => standalone.insert(self.store.write()?),
        };
        let out = write_statement(tx, text, f)?;
        if let Some(tx) = standalone {
            tx.commit()?;
        }
        Ok(out)
    }

    fn run_read(&mut self, stmt: &Statement) -> Result<Option<ResultSet>> {
        if let Some(tx) = self.txn.as_mut() {
            let state = tx.state()?;
            let now = time::statement_instant(&state);
            let mut cx = Ctx::with_state(tx, now, state);
            time::expire(&mut cx)?;
            cx.finish()?;
            // BACKUP copies `meta` itself; the other reads take the kept state.
            if matches!(stmt, Statement::Backup { .. }) {
                tx.write_state()?;
            }
            return run::read_statement(&*tx, stmt, &self.store, now).map(Some);
        }
        let rx = self.store.read()?;
        let now = time::statement_instant(&rx.state()?);
        // Under -readonly nothing is expired, so nothing need be looked for
        let due = !self.options.read_only && rx.any_license_due_by(now)?;
        drop(rx);
        if due {
            // Expiry runs before every statement, read-only ones too; it
            // records no history row of its own.
            let mut tx = self.store.write()?;
            let mut cx = Ctx::begin(&mut tx, now)?;
            time::expire(&mut cx)?;
            cx.finish()?;
            tx.commit()?;
        }
        // CHECK also runs redb's own integrity check (checksums of every
        // page), which needs no transaction open.
        let integrity = match stmt {
            Statement::Check if !self.options.read_only => Some(self.check_integrity()?),
            _ => None,
        };
        let rx = self.store.read()?;
        let mut rs = run::read_statement(&rx, stmt, &self.store, now)?;
        if integrity == Some(false) {
            let problem = "redb's integrity check found damage and repaired what it could";
            rs.push(vec![Value::text("integrity"), Value::text("file"), Value::text(problem)]);
        }
        Ok(Some(rs))
    }

    /// Every table, every row, in key order (`.dump`).
    pub fn dump(&mut self) -> Result<String> {
        match &self.txn {
            Some(tx) => super::dump::dump(tx),
            None => super::dump::dump(&self.store.read()?),
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
        if self.txn.is_some() {
            return Ok(true);
        }
        self.store.check_integrity()
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

/// One changing statement inside `tx`: expiry at the statement's instant,
/// the statement, then its history row with the clock's value after it.
fn write_statement<R>(tx: &mut WriteTx, text: &str, f: impl FnOnce(&mut Ctx) -> Result<R>) -> Result<R> {
    let state = tx.state()?;
    let now = time::statement_instant(&state);
    let mut cx = Ctx::with_state(tx, now, state);
    time::expire(&mut cx)?;
    let out = f(&mut cx)?;
    let seq = cx.state.next_history;
    cx.state.next_history += 1;
    let after = cx.now;
    cx.state.last_time = Some(cx.state.last_time.map_or(after, |t| t.max(after)));
    let rec = HistoryRow { seq, time: after, statement: text };
    cx.tx.put_record(T::History, &keys::id(seq), &rec)?;
    cx.finish()?;
    Ok(out)
}
