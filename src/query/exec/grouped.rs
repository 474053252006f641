//! Group commit for `Shared` (`query::shared`): the statements that queued
//! while the previous commit synced run in one redb write transaction and
//! are made durable by one commit. Each keeps its meaning as a transaction
//! of its own (its history row, its result, its error): one that fails or
//! panics is taken out and the group is run again without it, from the
//! transaction's start, so its effects never reach the commit and the
//! others land exactly once, in queue order (the order of history).
//!
//! Why run again rather than undo: redb takes no savepoint once a table
//! was touched, and an undo log would have to cover every table, the kept
//! rows, the state and the appended history; a failing statement is rare
//! (a denied CONNECT is an outcome, not an error), and running a group's
//! statements again costs CPU only, far less than the sync they share.

use super::Database;
use crate::error::{Error, Result};
use crate::model::ResultSet;
use crate::protocol::{ConnectRequest, Ctx, Outcome};
use crate::query::ast::Statement;
use crate::query::run;
use crate::store::{Reader, WriteTx, panic_message};

/// One statement of a group.
pub(crate) enum Work {
    /// A changing statement, recorded in `history` as the text it came as.
    Statement { stmt: Statement, text: String },
    /// A connection (`Shared::connect`), recorded as its CONNECT statement.
    Connect { req: ConnectRequest, text: String },
}

/// What a statement of a group gave back.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Rows(Option<ResultSet>),
    Outcome(Box<Outcome>),
}

/// How one run of a group ended.
enum Attempt {
    /// Committed: the answers of the statements that ran, by index.
    Committed(Vec<(usize, Answer)>),
    /// Statement `i` failed (or panicked) with this error: nothing was
    /// committed.
    Failed(usize, Error),
}

impl Database {
    /// Runs `group` as one commit: every statement's answer or error, in
    /// order. An error of the transaction itself (a lock, a failed commit)
    /// is every remaining statement's error.
    pub(crate) fn run_group(&mut self, group: &[Work]) -> Vec<Result<Answer>> {
        let mut out: Vec<Option<Result<Answer>>> = vec![None; group.len()];
        if let Err(e) = self.refuse_group() {
            return out.into_iter().map(|_| Err(e.clone())).collect();
        }
        loop {
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.attempt(group, &out)))
                .unwrap_or_else(|panic| Err(Error::Internal(panic_message(&*panic))));
            match attempt {
                Ok(Attempt::Failed(i, e)) => out[i] = Some(Err(e)),
                Ok(Attempt::Committed(answers)) => {
                    for (i, answer) in answers {
                        out[i] = Some(Ok(answer));
                    }
                    break;
                }
                Err(e) => {
                    for slot in out.iter_mut().filter(|slot| slot.is_none()) {
                        *slot = Some(Err(e.clone()));
                    }
                    break;
                }
            }
        }
        let missing = || Err(Error::Internal("a statement of a group was neither run nor refused".into()));
        out.into_iter().map(|slot| slot.unwrap_or_else(missing)).collect()
    }

    /// Why no group can run now: a handle broken by a failed commit, an
    /// open block, a read-only open.
    fn refuse_group(&self) -> Result<()> {
        if let Some(why) = &self.broken {
            return Err(Error::Storage(format!(
                "the database could not be reopened after a failed commit ({why}): open it again"
            )));
        }
        if self.in_transaction() {
            return Err(Error::plan("a transaction is open on the shared database"));
        }
        self.refuse_if_read_only("a changing statement")
    }

    /// One run of the group, leaving out the statements that already
    /// failed (`done`): the first failure stops it uncommitted.
    fn attempt(&mut self, group: &[Work], done: &[Option<Result<Answer>>]) -> Result<Attempt> {
        let mut tx = self.store.write()?;
        let mut answers = Vec::with_capacity(group.len());
        for (i, work) in group.iter().enumerate().filter(|(i, _)| done[*i].is_none()) {
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_work(&mut tx, work)))
                .unwrap_or_else(|panic| Err(Error::Internal(panic_message(&*panic))));
            match ran {
                Ok(answer) => answers.push((i, answer)),
                // Dropping the transaction aborts it: nothing of the group
                // so far is kept.
                Err(e) => return Ok(Attempt::Failed(i, e)),
            }
        }
        if answers.is_empty() {
            return Ok(Attempt::Committed(answers));
        }
        let next_history = tx.state()?.next_history;
        if let Err(e) = tx.commit() {
            return Err(self.after_failed_commit(e, next_history));
        }
        Ok(Attempt::Committed(answers))
    }
}

/// One statement of a group, through the statement spine.
fn run_work(tx: &mut WriteTx, work: &Work) -> Result<Answer> {
    match work {
        Work::Statement { stmt, text } => {
            let sets_clock = matches!(stmt, Statement::SetClock { .. } | Statement::SetClockWall);
            crate::protocol::statement(tx, text, sets_clock, |cx: &mut Ctx| run::write_statement(cx, stmt))
                .map(Answer::Rows)
        }
        Work::Connect { req, text } => {
            crate::protocol::statement(tx, text, false, |cx| crate::protocol::connect(cx, req))
                .map(|outcome| Answer::Outcome(Box::new(outcome)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Records;

    const SETUP: &str = "SET CLOCK '2026-03-01 09:00:00'; SET SEED 3; CREATE SERVER ls1; ACTIVATE SERVER ls1;
        INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL DEVICE COUNT 50;
        CREATE HOST h1 PRODUCT WS2025 MODE DEVICE LICENSE SERVERS (ls1);
        CREATE DEVICE d1; CONNECT d1 AS u1 TO h1; CONNECT d1 AS u1 TO h1";

    fn database() -> Database {
        let mut db = Database::open_in_memory().expect("open");
        for s in SETUP.split(';') {
            db.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        db
    }

    fn work(text: &str) -> Work {
        Work::Statement { stmt: crate::query::parse_statement(text).expect("parses"), text: text.into() }
    }

    fn history(db: &mut Database) -> Vec<String> {
        let rs = db.execute("SELECT statement FROM history ORDER BY seq").expect("select").expect("rows");
        rs.rows.iter().map(|r| r[0].to_string()).collect()
    }

    /// The pack's count says it issued nothing although license 2 is
    /// active: revoking license 2 trips the write path's assertion after
    /// the license row was rewritten (tests/transactions.rs's plant).
    fn plant_panic(db: &mut Database) {
        let mut tx = db.store.write().expect("write");
        let mut pack = tx.keypacks().expect("packs").into_iter().find(|k| k.total == Some(50)).expect("pack");
        pack.issued = 0;
        tx.put_keypack(&pack).expect("put");
        tx.commit().expect("commit");
    }

    #[test]
    fn a_failing_and_a_panicking_statement_fail_alone_and_the_group_lands_once_in_order() {
        let mut db = database();
        plant_panic(&mut db);
        let before = history(&mut db);
        let group = [
            work("CREATE DEVICE d2"),
            work("CREATE DEVICE d2"),
            work("CONNECT d2 AS u2 TO h1"),
            work("REVOKE LICENSE 2"),
            work("CREATE DEVICE d3"),
        ];
        let answers = db.run_group(&group);
        assert!(answers[0].is_ok() && answers[2].is_ok() && answers[4].is_ok(), "{answers:?}");
        let dup = answers[1].as_ref().expect_err("the second CREATE DEVICE d2 fails");
        assert!(dup.to_string().contains("'d2' already exists"), "{dup}");
        let panicked = answers[3].as_ref().expect_err("the planted REVOKE panics");
        assert!(matches!(panicked, Error::Internal(_)), "{panicked:?}");
        let after = history(&mut db);
        assert_eq!(after[..before.len()], before[..]);
        assert_eq!(after[before.len()..], ["CREATE DEVICE d2", "CONNECT d2 AS u2 TO h1", "CREATE DEVICE d3"]);
        let status = db.execute("SELECT status FROM licenses WHERE id = 2").expect("select").expect("rows");
        assert_eq!(status.rows[0][0].to_string(), "active", "the panicking REVOKE changed nothing");
    }
}
