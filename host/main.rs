//! `caldb-host`: a session host for licensing tests and demonstrations. It
//! listens on a loopback address, runs the RDP connection sequence with each
//! client (ironrdp-acceptor, standard RDP security at encryption level
//! NONE), runs caldb's licensing front for one host of the database at the
//! licensing step, checks the user's password against a users file and
//! reports the logon to the front. It is a licensing test bed, not a remote
//! desktop: once a client is licensed and logged on, the connection ends.
//! It owns the process: arguments, exit statuses (0 done, 1 a fatal error
//! while serving, 2 bad usage or a file that cannot be used) and the panic
//! hook; it never holds licensing logic (that is the library's front).

mod args;
mod connection;
mod framing;
mod licensing;
mod log;
mod server;
mod users;

use args::Command;
use std::io::Write;

fn main() {
    // A panic is caught where it happens (per connection, or here) and
    // logged as one plain line; the default hook's text would only repeat it.
    std::panic::set_hook(Box::new(|_| {}));
    let status = std::panic::catch_unwind(run_command_line).unwrap_or_else(|panic| {
        eprintln!("caldb-host: internal error: {}", panic_message(&*panic));
        1
    });
    std::process::exit(status);
}

fn run_command_line() -> i32 {
    match args::parse(std::env::args_os().skip(1)) {
        Ok(Command::Serve(settings)) => server::run(settings),
        Ok(Command::Help) => {
            let _ = std::io::stdout().write_all(args::USAGE.as_bytes());
            0
        }
        Ok(Command::Version) => {
            let _ = writeln!(std::io::stdout(), "caldb-host {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Err(message) => {
            eprintln!("caldb-host: {message}\nUse --help for a list of options.");
            2
        }
    }
}

/// The text of a caught panic.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic.downcast_ref::<String>().cloned();
    text.or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "internal error".to_string())
}
