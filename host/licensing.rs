//! Where the host meets caldb's licensing front: one exchange per client,
//! stepped with the client's licensing PDUs, the database locked only for
//! each call into the front (never while waiting on the network), and the
//! logon reported afterwards. A malformed message or a database error ends
//! the connection with a log line; the front decides everything else.

use crate::connection::Channel;
use crate::log::Log;
use crate::users::Users;
use caldb::{ClientInfo, Database, Exchange, FrontError, Step};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// What every connection of the host shares.
pub struct Shared {
    /// The database, one handle for every client: the front's calls are
    /// short and the lock is never held across a network read.
    pub db: Mutex<Database>,
    /// The session host of the database the clients reach.
    pub host: String,
    pub users: Users,
    pub log: Log,
    /// How long a client may stay silent.
    pub timeout: Duration,
}

impl Shared {
    fn db(&self) -> MutexGuard<'_, Database> {
        // A panic inside the front drops its own transaction (the database
        // guards every statement), so the handle is sound after one.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The front's verdict on one client.
pub struct Verdict(caldb::Verdict);

impl Verdict {
    pub fn licensed(&self) -> bool {
        self.0.licensed
    }

    pub fn outcome(&self) -> &str {
        &self.0.outcome
    }

    /// One line for the log: the outcome, and the license and its server.
    pub fn describe(&self) -> String {
        let answer = if self.0.licensed { "licensed" } else { "refused" };
        let mut line = format!("{} ({answer})", self.0.outcome);
        if let Some(license) = self.0.license {
            line.push_str(&format!(", license {license}"));
        }
        if let Some(server) = &self.0.server {
            line.push_str(&format!(" of {server}"));
        }
        line
    }
}

/// Makes the license server's key and certificates now, if the database
/// has none yet, by beginning an exchange and dropping it (the front makes
/// them the first time they are needed, and writes nothing else): a
/// 2048-bit key takes a while, which no client should wait for, with the
/// database locked for every other client.
pub fn prepare(db: &mut Database, host: &str) -> Result<(), String> {
    let client = ClientInfo { computer: String::new(), user: String::new(), domain: String::new() };
    Exchange::begin(db, host, client).map(drop).map_err(|e| format!("licensing: {e}"))
}

/// Runs the licensing exchange on `channel` for the client.
pub fn exchange(
    shared: &Shared,
    channel: &mut Channel<'_>,
    computer: &str,
    user: &str,
    domain: &str,
) -> Result<Verdict, String> {
    let client = ClientInfo { computer: computer.to_string(), user: user.to_string(), domain: domain.to_string() };
    let (mut exchange, request) = match Exchange::begin(&mut shared.db(), &shared.host, client) {
        Ok(begun) => begun,
        Err(error) => return Err(refuse(channel, error)),
    };
    channel.send(&request)?;
    loop {
        let message = channel.receive()?;
        let step = exchange.step(&mut shared.db(), &message);
        match step {
            Ok(Step::Send(reply)) => channel.send(&reply)?,
            Ok(Step::Done(verdict)) => {
                channel.send(&verdict.reply)?;
                return Ok(Verdict(verdict));
            }
            Err(error) => return Err(refuse(channel, error)),
        }
    }
}

/// Sends the front's refusal for `error` (an error alert, total abort),
/// unless the client itself gave up; the error's text for the log.
fn refuse(channel: &mut Channel<'_>, error: FrontError) -> String {
    if !matches!(error, FrontError::ClientAlert { .. }) {
        // The connection ends either way: a refusal that cannot be sent
        // changes nothing.
        let _ = channel.send(&error.refusal());
    }
    format!("licensing: {error}")
}

/// Tells the front whether the user's logon succeeded; the session a
/// successful logon started.
pub fn report_logon(shared: &Shared, verdict: &Verdict, succeeded: bool) -> Result<Option<u64>, String> {
    caldb::report_logon(&mut shared.db(), &verdict.0, succeeded).map_err(|e| format!("reporting the logon: {e}"))
}
