//! The command line of `caldb-host`, parsed with lexopt into `Settings`.
//! Every mistake is an error naming the option and the text it was given;
//! nothing is opened or bound here.

use lexopt::prelude::*;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
Usage: caldb-host --db FILE --host NAME --listen ADDR --users FILE [OPTIONS]

A licensing test bed, not a remote desktop. caldb-host plays an RD Session
Host for real RDP clients (xfreerdp, rdesktop, IronRDP) on a loopback
address: it runs the RDP connection sequence with standard RDP security
(no TLS, encryption level NONE), hands the licensing exchange to caldb's
licensing front for host NAME of the database FILE (the client gets a new,
upgraded or valid-client license, or a refusal, and every decision is one
transaction in the database's history), checks the user's password against
the users file and reports the logon, then ends the connection. No desktop
is ever shown.

Required:
  --db FILE           the caldb database (it must hold host NAME and its
                      license servers; other processes may share it)
  --host NAME         the session host of the database that clients reach
  --listen ADDR       loopback address and port to listen on, such as
                      127.0.0.1:3389; port 0 picks a free port. The address
                      actually bound is printed as 'listening on ADDR'
  --users FILE        user:password, one a line ('#' starts a comment line);
                      a user name matches in any case, a password exactly

Options:
  --max-clients N     clients served at once, each on its own thread; more
                      wait to be accepted (default 64)
  --timeout SECS      a client silent this long while the host waits for it,
                      or connected this long four times over, is dropped
                      (default 20)
  --exit-after N      stop after serving N connections (default: serve until
                      killed)
  --log FILE          append the log there instead of standard error
  --help, --version
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Serve(Settings),
    Help,
    Version,
}

/// Everything `caldb-host` serves with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub db: PathBuf,
    pub host: String,
    pub listen: SocketAddr,
    pub users: PathBuf,
    pub max_clients: usize,
    pub timeout: Duration,
    pub exit_after: Option<u64>,
    pub log: Option<PathBuf>,
}

/// The most clients served at once that `--max-clients` accepts.
const MAX_CLIENTS_LIMIT: usize = 1024;

/// Parses the arguments (without the program name).
pub fn parse(raw: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut parser = lexopt::Parser::from_args(raw);
    let (mut db, mut host, mut listen, mut users, mut log) = (None, None, None, None, None);
    let (mut max_clients, mut timeout_secs, mut exit_after) = (64, 20, None);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("db") => db = Some(PathBuf::from(value(&mut parser, "--db")?)),
            Long("host") => host = Some(value(&mut parser, "--host")?),
            Long("listen") => listen = Some(loopback(&value(&mut parser, "--listen")?)?),
            Long("users") => users = Some(PathBuf::from(value(&mut parser, "--users")?)),
            Long("log") => log = Some(PathBuf::from(value(&mut parser, "--log")?)),
            Long("max-clients") => {
                max_clients = number(&mut parser, "--max-clients", 1, MAX_CLIENTS_LIMIT as u64)? as usize
            }
            Long("timeout") => timeout_secs = number(&mut parser, "--timeout", 1, 3600)?,
            Long("exit-after") => exit_after = Some(number(&mut parser, "--exit-after", 1, u64::MAX)?),
            Long("help") | Short('h') => return Ok(Command::Help),
            Long("version") | Short('V') => return Ok(Command::Version),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let missing = |name: &str| format!("missing option {name}");
    let host = host.ok_or_else(|| missing("--host NAME"))?;
    if host.is_empty() {
        return Err("--host '': the host name is empty".to_string());
    }
    Ok(Command::Serve(Settings {
        db: db.ok_or_else(|| missing("--db FILE"))?,
        host,
        listen: listen.ok_or_else(|| missing("--listen ADDR"))?,
        users: users.ok_or_else(|| missing("--users FILE"))?,
        max_clients,
        timeout: Duration::from_secs(timeout_secs),
        exit_after,
        log,
    }))
}

fn value(parser: &mut lexopt::Parser, name: &str) -> Result<String, String> {
    let raw = parser.value().map_err(|_| format!("{name} needs a value"))?;
    raw.into_string().map_err(|raw| format!("{name} '{}': not valid UTF-8", raw.to_string_lossy()))
}

fn number(parser: &mut lexopt::Parser, name: &str, low: u64, high: u64) -> Result<u64, String> {
    let text = value(parser, name)?;
    match text.parse::<u64>() {
        Ok(n) if (low..=high).contains(&n) => Ok(n),
        _ if high == u64::MAX => Err(format!("{name} '{text}': expected a whole number of at least {low}")),
        _ => Err(format!("{name} '{text}': expected a whole number from {low} to {high}")),
    }
}

/// A loopback socket address: the host speaks RDP without encryption and
/// takes passwords in clear, so it never listens beyond this machine.
fn loopback(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr =
        text.parse().map_err(|_| format!("--listen '{text}': expected an address and port, such as 127.0.0.1:3389"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--listen '{text}': caldb-host listens on loopback addresses only (127.0.0.0/8 or ::1); it is a test bed that takes passwords without encryption"
        ));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    const REQUIRED: [&str; 8] = ["--db", "a.redb", "--host", "RDSH1", "--listen", "127.0.0.1:0", "--users", "u.txt"];

    #[test]
    fn the_four_required_options_give_settings_with_defaults() {
        let Ok(Command::Serve(settings)) = parse_str(&REQUIRED) else { panic!("not parsed") };
        assert_eq!(settings.host, "RDSH1");
        assert_eq!(settings.listen, "127.0.0.1:0".parse::<SocketAddr>().expect("address"));
        assert_eq!((settings.max_clients, settings.timeout, settings.exit_after), (64, Duration::from_secs(20), None));
    }

    #[test]
    fn options_take_their_value_after_a_space_or_an_equals_sign() {
        let mut args = REQUIRED.to_vec();
        args.extend(["--max-clients=8", "--timeout", "5", "--exit-after=3"]);
        let Ok(Command::Serve(settings)) = parse_str(&args) else { panic!("not parsed") };
        assert_eq!((settings.max_clients, settings.timeout, settings.exit_after), (8, Duration::from_secs(5), Some(3)));
    }

    #[test]
    fn a_missing_required_option_is_named() {
        let error = parse_str(&REQUIRED[..6]).expect_err("accepted without --users");
        assert_eq!(error, "missing option --users FILE");
    }

    #[test]
    fn an_address_beyond_this_machine_is_refused() {
        let mut args = REQUIRED.to_vec();
        args[5] = "0.0.0.0:3389";
        let error = parse_str(&args).expect_err("accepted 0.0.0.0");
        assert!(error.starts_with("--listen '0.0.0.0:3389': caldb-host listens on loopback addresses only"), "{error}");
    }

    #[test]
    fn a_bad_number_or_an_unknown_option_is_an_error_naming_it() {
        let mut args = REQUIRED.to_vec();
        args.extend(["--max-clients", "0"]);
        assert_eq!(
            parse_str(&args).expect_err("0 clients"),
            "--max-clients '0': expected a whole number from 1 to 1024"
        );
        let error = parse_str(&["--colour"]).expect_err("unknown option");
        assert!(error.contains("--colour"), "{error}");
    }
}
