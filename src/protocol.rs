//! The license server's behaviour (protocol.md): deployment, time, the
//! allocation protocol, sessions and administration. Each operation is a
//! function of a `Ctx` (one open write transaction, the statement's instant
//! and the random source) and a request, returning a typed outcome. This
//! layer never sees query text or output formats, and never commits: the
//! caller commits the transaction when the whole statement succeeded.

pub mod admin;
pub mod client;
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
use crate::store::{EventRec, HistoryRow, Reader, ServerIds, ServerRec, State, T, WriteTx, keys};

pub use client::{
    ClientConnect, ClientLogon, Invalid, Presented, client_family, connect_client, logon_client, misplaced_of,
};
pub use connect::{ConnectRequest, ConnectTo, Destination, Outcome, connect, connect_to};

/// Everything one statement works with: its transaction, its instant and
/// the database-wide state (random source, id counters).
pub struct Ctx<'a> {
    pub tx: &'a mut WriteTx,
    pub now: Time,
    pub state: State,
    pub rng: Rng,
    /// The device is a real client, whose store caldb cannot see: the
    /// licenses it gets are sent to it, not written to `tokens`.
    pub client_store: bool,
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
        Ctx { tx, now, state, rng, client_store: false }
    }

    /// Writes the state back (the caller does so before committing).
    pub fn finish(mut self) -> Result<()> {
        self.state.rng = self.rng.state();
        self.tx.set_state(&self.state)
    }

    /// The stored id of the next license of the server of ordinal
    /// `server`: numbered per server, from 1, as Windows numbers them.
    pub fn next_license_id(&mut self, server: u32) -> Result<u64> {
        let ids = self.server_ids(server);
        let n = bump_number(&mut ids.next_license, "license")?;
        Ok(keys::row_id(server, n))
    }

    /// The stored id of the next key pack of the server of ordinal `server`.
    pub fn next_keypack_id(&mut self, server: u32) -> Result<u64> {
        let ids = self.server_ids(server);
        let n = bump_number(&mut ids.next_keypack, "key pack")?;
        Ok(keys::row_id(server, n))
    }

    /// The ordinal of a new server, its counters at 1.
    pub fn new_server_ordinal(&mut self) -> Result<u32> {
        let ordinal = u32::try_from(self.state.server_ids.len() + 1)
            .map_err(|_| Error::plan("a database holds at most 4294967295 license servers"))?;
        self.state.server_ids.push(ServerIds::default());
        Ok(ordinal)
    }

    /// Moves the counters of the server of ordinal `server` past the
    /// imported numbers `keypack` and `license` (ids only grow).
    pub fn numbers_taken(&mut self, server: u32, keypack: Option<u64>, license: Option<u64>) {
        let ids = self.server_ids(server);
        let past = |n: u64| u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX);
        if let Some(k) = keypack {
            ids.next_keypack = ids.next_keypack.max(past(keys::number(k)));
        }
        if let Some(l) = license {
            ids.next_license = ids.next_license.max(past(keys::number(l)));
        }
    }

    fn server_ids(&mut self, server: u32) -> &mut ServerIds {
        let i = (server as usize).checked_sub(1);
        let n = self.state.server_ids.len();
        i.and_then(|i| self.state.server_ids.get_mut(i))
            .unwrap_or_else(|| panic!("server ordinal {server} has no id counters (the state holds {n})"))
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

/// A server's next number: a `uint32`, as WMI's LicenseId and KeyPackId.
fn bump_number(counter: &mut u32, what: &str) -> Result<u32> {
    let n = *counter;
    *counter = n.checked_add(1).ok_or_else(|| {
        Error::plan(format!("the license server has given every {what} number up to {}", u32::MAX))
    })?;
    Ok(n)
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

/// The stored id of key pack or license (`t`) number `number`, as a
/// statement names it: on `server` when the statement says `ON server`,
/// else on the one server that has such a number. A number that several
/// servers have is an error listing them, with the statement to write
/// (`statement`, like `REVOKE LICENSE`): each server numbers its own key
/// packs and licenses from 1, as Windows does.
pub fn numbered(
    r: &(impl Reader + ?Sized),
    t: T,
    number: u64,
    server: Option<&str>,
    statement: &str,
) -> Result<u64> {
    let what = if t == T::Keypacks { "key pack" } else { "license" };
    let servers = match server {
        Some(name) => vec![r.record::<ServerRec>(T::Servers, &keys::name(name))?.ok_or_else(|| no_such("server", name))?],
        None => r.records::<ServerRec>(T::Servers, b"")?,
    };
    let mut found = Vec::new();
    if let Ok(n) = u32::try_from(number) {
        for s in servers {
            let row = keys::row_id(s.ordinal, n);
            if r.get(t, &keys::id(row))?.is_some() {
                found.push((row, s.name));
            }
        }
    }
    match found.as_slice() {
        [(row, _)] => Ok(*row),
        [] => Err(Error::plan(match server {
            Some(name) => format!("no {what} {number} on server '{name}'"),
            None => format!("no {what} with id {number}"),
        })),
        [.., (_, last)] => {
            let names: Vec<&str> = found[..found.len() - 1].iter().map(|(_, s)| s.as_str()).collect();
            let first = as_written(&found[0].1);
            Err(Error::plan(format!(
                "{what} {number} is on {} and {last}; say which: {statement} {number} ON {first}",
                names.join(", ")
            )))
        }
    }
}

/// A name as a statement would write it: bare when it is letters, digits,
/// `_`, `-` and `.`, else quoted.
fn as_written(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

/// The error for a name that does not exist.
pub fn no_such(what: &str, name: &str) -> Error {
    Error::plan_near(format!("no {what} named '{name}'"), name)
}
