//! The license server's behaviour (protocol.md): deployment, time, the
//! allocation protocol, sessions and administration. Each operation is a
//! function of a `Ctx` (one open write transaction, the statement's instant
//! and the random source) and a request, returning a typed outcome. This
//! layer never sees query text or output formats, and never commits: the
//! caller commits the transaction when the whole statement succeeded.

pub mod admin;
pub mod connect;
pub mod deploy;
pub mod discovery;
pub mod issue;
pub mod names;
pub mod sessions;
pub mod time;
pub use deploy::GRACE_DAYS;

use crate::clock::Rng;
use crate::error::{Error, Result};
use crate::model::{EventLevel, EventSource, NAME_MAX_LEN, Time};
use crate::store::{EventRec, HistoryRow, Reader, State, T, WriteTx};

pub use connect::{ConnectRequest, ConnectTo, Destination, Outcome, connect, connect_to};

/// Everything one statement works with: its transaction, its instant and
/// the database-wide state (random source, id counters).
pub struct Ctx<'a> {
    pub tx: &'a mut WriteTx,
    pub now: Time,
    pub state: State,
    pub rng: Rng,
}

impl<'a> Ctx<'a> {
    /// Reads the state and fixes the statement's instant.
    pub fn begin(tx: &'a mut WriteTx, now: Time) -> Result<Ctx<'a>> {
        let state = tx.state()?;
        Ok(Ctx::with_state(tx, now, state))
    }

    /// With the state already read (it is decoded once per statement).
    pub fn with_state(tx: &'a mut WriteTx, now: Time, state: State) -> Ctx<'a> {
        let rng = Rng::from_state(state.rng);
        Ctx { tx, now, state, rng }
    }

    /// Writes the state back (the caller does so before committing).
    pub fn finish(mut self) -> Result<()> {
        self.state.rng = self.rng.state();
        self.tx.set_state(&self.state)
    }

    pub fn next_license_id(&mut self) -> u64 {
        bump(&mut self.state.next_license)
    }

    pub fn next_keypack_id(&mut self) -> u64 {
        bump(&mut self.state.next_keypack)
    }

    pub fn next_session_id(&mut self) -> u64 {
        bump(&mut self.state.next_session)
    }

    /// Records an event at the statement's instant.
    pub fn event(
        &mut self,
        source: EventSource,
        node: &str,
        event: u32,
        level: EventLevel,
        message: String,
    ) -> Result<()> {
        let seq = bump(&mut self.state.next_event);
        let rec = EventRec { seq, time: self.now, source, node: node.to_string(), event, level, message };
        self.tx.put_record(T::Events, &crate::store::keys::id(seq), &rec)
    }
}

/// The spine of every changing statement, inside `tx`: the statement's
/// instant, expiry at it, the statement's work `f`, then its `history` row
/// (`text`) with the clock's value after it, and the state written back.
/// The caller only opens the transaction and commits it.
/// `sets_clock`: a statement that sets the clock expires at the instant it
/// sets (its own call to expiry); expiring first at the wall clock would
/// move `expired_through` to a time the database never reaches when a new
/// database's clock is set into the past.
pub fn statement<R>(
    tx: &mut WriteTx,
    text: &str,
    sets_clock: bool,
    f: impl FnOnce(&mut Ctx) -> Result<R>,
) -> Result<R> {
    let state = tx.state()?;
    let now = time::statement_instant(&state);
    let mut cx = Ctx::with_state(tx, now, state);
    if !sets_clock {
        time::expire(&mut cx)?;
    }
    let out = f(&mut cx)?;
    let seq = cx.state.next_history;
    cx.state.next_history += 1;
    let after = cx.now;
    cx.state.last_time = Some(cx.state.last_time.map_or(after, |t| t.max(after)));
    let rec = HistoryRow { seq, time: after, statement: text };
    cx.tx.put_record(T::History, &crate::store::keys::id(seq), &rec)?;
    cx.finish()?;
    Ok(out)
}

/// Expiry before a read-only statement (docs/choices.md 3): at the
/// statement's instant, recording no history row. Returns the instant.
pub fn expire_before_read(tx: &mut WriteTx) -> Result<Time> {
    let state = tx.state()?;
    let now = time::statement_instant(&state);
    let mut cx = Ctx::with_state(tx, now, state);
    time::expire(&mut cx)?;
    cx.finish()?;
    Ok(now)
}

fn bump(counter: &mut u64) -> u64 {
    let id = *counter;
    *counter = counter.checked_add(1).expect("id counter overflowed u64");
    id
}

/// Checks a name given in a statement: not empty, at most 255 characters,
/// no control characters (a NUL would break the order of composite keys).
pub fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::plan(format!("{what} name is empty")));
    }
    if name.chars().count() > NAME_MAX_LEN {
        return Err(Error::plan(format!("{what} name is longer than {NAME_MAX_LEN} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::plan(format!("{what} name '{}' holds a control character", name.escape_debug())));
    }
    Ok(())
}

/// The error for a name that does not exist.
pub fn no_such(what: &str, name: &str) -> Error {
    Error::plan_near(format!("no {what} named '{name}'"), name)
}
