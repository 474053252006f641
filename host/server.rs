//! The listener: opens the users file, the log and the database, binds the
//! loopback address, prints `listening on ADDR` (the port actually bound)
//! and serves each client on a thread of its own, at most `--max-clients`
//! at once (more wait in the listen backlog until a thread is free). A
//! panic in a connection is caught and logged; it ends that connection only.
//! SIGTERM or SIGINT stops it cleanly: no new client is accepted, the
//! connections under way finish (each bounded by its timeout), and the
//! database is closed, so the next process opens it without a recovery.

use crate::args::Settings;
use crate::connection::{self, Ending};
use crate::licensing::Shared;
use crate::log::Log;
use crate::users::Users;
use caldb::{Database, OpenOptions};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How often the listener looks for a stop signal while no client comes.
const POLL: Duration = Duration::from_millis(50);

/// Serves until killed (or `--exit-after` connections); the exit status.
pub fn run(settings: Settings) -> i32 {
    let (shared, listener) = match start(&settings) {
        Ok(started) => started,
        Err(message) => {
            eprintln!("caldb-host: {message}");
            return 2;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(error) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("caldb-host: cannot handle signal {signal}: {error}");
            return 2;
        }
    }
    let shared = Arc::new(shared);
    let slots = Arc::new(Slots::new(settings.max_clients));
    let mut workers = Vec::new();
    let mut served = 0u64;
    while settings.exit_after.is_none_or(|limit| served < limit) {
        slots.take();
        let Some(stream) = accept(&listener, &stop, &shared) else {
            break;
        };
        served += 1;
        let (shared, slots) = (Arc::clone(&shared), Arc::clone(&slots));
        workers.push(std::thread::spawn(move || {
            serve_one(stream, &shared, served);
            slots.give_back();
        }));
        workers.retain(|worker| !worker.is_finished());
    }
    for worker in workers {
        let _ = worker.join();
    }
    let why = if stop.load(Ordering::Relaxed) { "stopped by a signal" } else { "stopping" };
    shared.log.line(&format!("served {served} connections; {why}"));
    0
}

/// The next client, or `None` once a stop signal came.
fn accept(listener: &TcpListener, stop: &AtomicBool, shared: &Shared) -> Option<TcpStream> {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => match stream.set_nonblocking(false) {
                Ok(()) => return Some(stream),
                Err(error) => shared.log.line(&format!("accepted a client but cannot serve it: {error}")),
            },
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(error) => {
                shared.log.line(&format!("accept failed: {error}"));
                std::thread::sleep(POLL);
            }
        }
    }
    None
}

/// Everything that can fail before the first client: the host then exits 2.
fn start(settings: &Settings) -> Result<(Shared, TcpListener), String> {
    let log = Log::open(settings.log.as_deref())?;
    let users = Users::load(&settings.users)?;
    if !settings.db.is_file() {
        return Err(format!(
            "--db '{}': no such database file (create it, its license servers and host '{}' with caldb first)",
            settings.db.display(),
            settings.host
        ));
    }
    let mut db = Database::open(&settings.db, &OpenOptions::default())
        .map_err(|e| format!("--db '{}': {e}", settings.db.display()))?;
    check_host(&mut db, &settings.host)?;
    // Without a license server to take a key from, every client is refused
    // with the reason; the host still serves (a test bed shows refusals).
    if let Err(why) = crate::licensing::prepare(&mut db, &settings.host) {
        log.line(&format!("no license server credentials yet: {why}"));
    }
    let listener = TcpListener::bind(settings.listen).map_err(|e| format!("--listen '{}': {e}", settings.listen))?;
    let bound = listener.local_addr().map_err(|e| format!("--listen '{}': {e}", settings.listen))?;
    // Non-blocking, so that the accept loop can see a stop signal.
    listener.set_nonblocking(true).map_err(|e| format!("--listen '{}': {e}", settings.listen))?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {bound}");
    let _ = stdout.flush();
    log.line(&format!(
        "serving host '{}' of '{}' on {bound} for {} users, at most {} clients at once",
        settings.host,
        settings.db.display(),
        users.len(),
        settings.max_clients
    ));
    let shared = Shared { db: Mutex::new(db), host: settings.host.clone(), users, log, timeout: settings.timeout };
    Ok((shared, listener))
}

/// Host NAME must be a host of the database.
fn check_host(db: &mut Database, host: &str) -> Result<(), String> {
    let quoted = host.replace('\'', "''");
    let found = db
        .execute(&format!("SELECT COUNT(*) FROM hosts WHERE name = '{quoted}';"))
        .map_err(|e| format!("--host '{host}': {e}"))?
        .and_then(|result| result.rows.first().and_then(|row| row.first().cloned()));
    match found {
        Some(caldb::Value::Int(n)) if n > 0 => Ok(()),
        _ => Err(format!("--host '{host}': no such host in the database (CREATE HOST {host} ... with caldb first)")),
    }
}

/// One connection, its log lines and its end; a panic is caught here.
fn serve_one(stream: TcpStream, shared: &Shared, id: u64) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "unknown peer".to_string());
    shared.log.line(&format!("#{id} connection from {peer}"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| connection::serve(stream, shared, id)));
    let line = match result {
        Ok(Ok(Ending::Connected)) => {
            "done: licensed and logged on; connection ended (no desktop: a licensing test bed)".to_string()
        }
        Ok(Ok(Ending::StoppedAfterLogon(why))) => format!("done: licensed and logged on; the client stopped {why}"),
        Ok(Ok(Ending::Refused(outcome))) => format!("refused: {outcome}; connection ended"),
        Ok(Ok(Ending::LogonFailed(why))) => format!("{why}; connection ended"),
        Ok(Err(why)) => format!("dropped: {why}"),
        Err(panic) => format!("dropped: internal error: {}", crate::panic_message(&*panic)),
    };
    shared.log.line(&format!("#{id} {line}"));
}

/// A counting semaphore: how many more clients may be served at once.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn new(count: usize) -> Slots {
        Slots { free: Mutex::new(count), freed: Condvar::new() }
    }

    fn take(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
    }

    fn give_back(&self) {
        *self.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.freed.notify_one();
    }
}
