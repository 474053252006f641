//! The `caldb` command: parses the command line into `Args`, opens the
//! database and hands the session to the right front end (STATEMENT
//! arguments, a piped script, or the terminal). It owns exit statuses: 0 all
//! went well, 1 a statement failed, 2 bad usage or a database that cannot be
//! opened. It never renders results or talks to the engine beyond opening.

mod dot;
mod output;
mod progress;
mod repl;
mod script;
mod session;
mod split;

use caldb::{Database, OpenOptions};
use output::{Mode, Style};
use session::{Config, Flow, Origin, Session};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;

const USAGE: &str = "\
Usage: caldb [OPTIONS] [DATABASE] [STATEMENT ...]

DATABASE is a redb file, created if missing; without it (or with :memory:)
caldb uses a temporary in-memory database. STATEMENTs (statements or dot-commands) are run
in order, then caldb exits without reading standard input.

Options (one or two dashes):
  -bail           stop at the first error
  -echo           print each script line, comments included, before its results
  -table, -box, -markdown, -column, -list, -tabs, -csv, -quote, -html,
  -json, -line    output mode (default: table at a terminal, else csv)
  -header         header row on (csv, list, tabs, column, quote, html)
  -noheader       header row off
  -separator SEP  field separator of list mode (default |)
  -nullvalue TEXT how NULL is shown (default: empty)
  -cmd TEXT       run TEXT before reading input (repeatable)
  -init FILE      run FILE first, instead of ~/.caldbrc
  -batch          read standard input as a script even from a terminal
  -interactive    prompts and line editing even when input is not a terminal
  -readonly       refuse every statement that changes the database
  -timeout MS     wait up to MS milliseconds for another process's lock on the
                  database before 'database is locked' (default 5000)
  -upgrade OLD NEW
                  carry a database of an older caldb format over, whole, to
                  the new file NEW (OLD is only read), verify it and exit
  -compact FILE   give the database's free space back: its pages moved to
                  the front of the file, the rest cut off (no other program
                  may have it open), and exit
  -version        print the version and exit
  -help           print this help and exit

~/.caldbrc, when it exists and -init is not given, is run before -cmd.
";

/// The command line, parsed.
#[derive(Debug, Default, PartialEq)]
struct Args {
    mode: Option<Mode>,
    headers: Option<bool>,
    bail: bool,
    echo: bool,
    cmds: Vec<String>,
    init: Option<String>,
    batch: bool,
    interactive: bool,
    separator: Option<String>,
    null: Option<String>,
    read_only: bool,
    timeout_ms: Option<u64>,
    database: Option<String>,
    statements: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Run(Args),
    Upgrade(String, String),
    Compact(String),
    Help,
    Version,
}

/// Parses the arguments after the program name. Options may come anywhere;
/// `--` ends them.
fn parse_args(raw: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut args = Args::default();
    let mut raw = raw.into_iter();
    let mut options_done = false;
    while let Some(arg) = raw.next() {
        let arg = arg.into_string().map_err(|a| format!("argument {a:?} is not valid UTF-8"))?;
        if options_done || !arg.starts_with('-') || arg == "-" {
            if args.database.is_none() && args.statements.is_empty() {
                args.database = Some(arg);
            } else {
                args.statements.push(arg);
            }
            continue;
        }
        if arg == "--" {
            options_done = true;
            continue;
        }
        let name = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if let Some(mode) = Mode::parse(name) {
            args.mode = Some(mode);
            continue;
        }
        match name {
            "bail" => args.bail = true,
            "echo" => args.echo = true,
            "header" | "headers" => args.headers = Some(true),
            "noheader" | "noheaders" => args.headers = Some(false),
            "readonly" => args.read_only = true,
            "batch" => args.batch = true,
            "interactive" => args.interactive = true,
            "version" => return Ok(Command::Version),
            "upgrade" => {
                let mut path = || -> Result<String, String> {
                    let p = raw.next().ok_or("option '-upgrade' needs two files: OLD NEW")?;
                    p.into_string().map_err(|p| format!("file name {p:?} is not valid UTF-8"))
                };
                let (old, new) = (path()?, path()?);
                return Ok(Command::Upgrade(old, new));
            }
            "compact" => {
                let file = raw.next().ok_or("option '-compact' needs a file")?;
                let file = file.into_string().map_err(|p| format!("file name {p:?} is not valid UTF-8"))?;
                // It writes the file: not with -readonly, nor beside a
                // session's options, which it would ignore.
                if args != Args::default() || raw.next().is_some() {
                    return Err("option '-compact FILE' takes no other option or file".into());
                }
                return Ok(Command::Compact(file));
            }
            "help" | "h" => return Ok(Command::Help),
            "timeout" => {
                let text = option_text(&mut raw, "timeout")?;
                let ms = text.parse().map_err(|_| format!("-timeout: expected milliseconds, not '{text}'"))?;
                args.timeout_ms = Some(ms);
            }
            "cmd" => args.cmds.push(option_text(&mut raw, "cmd")?),
            "init" => args.init = Some(option_text(&mut raw, "init")?),
            "separator" => args.separator = Some(option_text(&mut raw, "separator")?),
            "nullvalue" => args.null = Some(option_text(&mut raw, "nullvalue")?),
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    Ok(Command::Run(args))
}

/// The argument after option `-name`.
fn option_text(raw: &mut impl Iterator<Item = OsString>, name: &str) -> Result<String, String> {
    let text = raw.next().ok_or_else(|| format!("option '-{name}' needs an argument"))?;
    text.into_string().map_err(|_| format!("the argument of '-{name}' is not valid UTF-8"))
}

fn open_database(args: &Args) -> Result<Database, String> {
    match args.database.as_deref() {
        // `:memory:` is sqlite's spelling of "no file", as for `.open :memory:`.
        None | Some(":memory:") => {
            Database::open_in_memory().map_err(|e| format!("cannot open a memory database: {e}"))
        }
        Some(file) => Database::open(Path::new(file), &OpenOptions { read_only: args.read_only })
            .map_err(|e| format!("cannot open '{file}': {e}")),
    }
}

/// `-upgrade OLD NEW`: the tables carried over, or why not (exit 2).
fn upgrade(old: &str, new: &str) -> i32 {
    let handle = caldb::InterruptHandle::default();
    progress::install();
    progress::set_interactive(std::io::stderr().is_terminal());
    let draw = progress::watch_job(&handle);
    match progress::running(|| caldb::upgrade_watched(Path::new(old), Path::new(new), &handle, Some(draw))) {
        Ok(rs) => {
            for row in &rs.rows {
                println!("{}: {} entries", row[0], row[1]);
            }
            println!("'{old}' carried over to '{new}'; CHECK finds no problem in it");
            0
        }
        Err(caldb::Error::Interrupted { .. }) => {
            eprintln!(
                "error: cannot carry '{old}' over to '{new}': interrupted; '{new}' is removed, '{old}' is as it was"
            );
            1
        }
        Err(e) => {
            eprintln!("error: cannot carry '{old}' over to '{new}': {e}");
            2
        }
    }
}

/// `-compact FILE`: the file's length before and after, or why not
/// (exit 2).
fn compact(file: &str) -> i32 {
    let handle = caldb::InterruptHandle::default();
    progress::install();
    progress::set_interactive(std::io::stderr().is_terminal());
    let draw = progress::watch_job(&handle);
    match progress::running(|| caldb::compact_watched(Path::new(file), &handle, Some(draw))) {
        Ok(c) => {
            let how = c.in_place.map(|why| format!(" (in place: {why})")).unwrap_or_default();
            println!("'{file}' compacted: {} bytes, now {}{how}", c.before, c.after);
            0
        }
        Err(caldb::Error::Interrupted { .. }) => {
            eprintln!("error: cannot compact '{file}': interrupted; the file is sound and holds the same database");
            1
        }
        Err(e) => {
            eprintln!("error: cannot compact '{file}': {e}");
            2
        }
    }
}

/// Runs the session as the arguments say; returns the exit status.
fn run(args: Args) -> i32 {
    if let Some(ms) = args.timeout_ms {
        caldb::set_busy_timeout(ms);
    }
    if let Some(file) = &args.init
        && let Err(e) = std::fs::metadata(file)
    {
        eprintln!("error: cannot read the -init file '{file}': {e}");
        return 2;
    }
    let db = match open_database(&args) {
        Ok(db) => db,
        Err(message) => {
            eprintln!("error: {message}");
            return 2;
        }
    };
    let terminal = !args.batch && args.statements.is_empty() && (args.interactive || std::io::stdin().is_terminal());
    let mut style = Style::new(args.mode.unwrap_or(if terminal { Mode::Table } else { Mode::Csv }), false);
    style.headers = args.headers.unwrap_or(terminal);
    if let Some(separator) = &args.separator {
        style.separator.0.clone_from(separator);
    }
    if let Some(null) = &args.null {
        style.null.clone_from(null);
    }
    let config = Config { style, bail: args.bail, timer: false, echo: args.echo, read_only: args.read_only };
    progress::install();
    progress::set_interactive(terminal);
    let mut session = Session::new(db, config);
    session.interactive = terminal;
    let status = run_session(&mut session, &args, terminal);
    let status = roll_back_open_block(&mut session, status);
    match session.out.finish() {
        Ok(()) => status,
        Err(e) => {
            eprintln!("error: {}", e.message());
            status.max(1)
        }
    }
}

/// A session that ends inside BEGIN (the input's end, `.quit`, `.exit`)
/// loses the block's changes: said plainly, with status 1 at least, where
/// sqlite3 would discard them silently.
fn roll_back_open_block(session: &mut Session, status: i32) -> i32 {
    if !session.db.in_transaction() {
        return status;
    }
    let _ = session.out.flush();
    let aborted = session.db.is_aborted();
    let _ = session.db.execute("ROLLBACK");
    let message = match (aborted, session.aborted_at.take()) {
        // An error already discarded the block's changes: the session only
        // ends what was waiting for its ROLLBACK.
        (true, Some(line)) => format!("the transaction was rolled back at line {line}; nothing of it was saved"),
        (true, None) => "the transaction was rolled back by an earlier error; nothing of it was saved".to_string(),
        (false, _) => "the open transaction was rolled back (COMMIT saves it)".to_string(),
    };
    eprintln!("error: the session ended inside BEGIN: {message}");
    status.max(1)
}

/// `-init FILE`, or else `~/.caldbrc` when there is one (sqlite3's
/// `~/.sqliterc`): run before `-cmd`, with script semantics.
fn run_init(session: &mut Session, args: &Args) -> Flow {
    let file = match &args.init {
        Some(file) => file.clone(),
        None => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) if Path::new(&home).join(".caldbrc").is_file() => {
                Path::new(&home).join(".caldbrc").to_string_lossy().into_owned()
            }
            _ => return Flow::Continue,
        },
    };
    match session.read_file(&file) {
        Ok(flow) => flow,
        Err(failure) => {
            eprintln!("error: {}", session::failure_message(&failure));
            session.failed = true;
            if session.config.bail { Flow::Bail } else { Flow::Continue }
        }
    }
}

fn run_session(session: &mut Session, args: &Args, terminal: bool) -> i32 {
    match run_init(session, args) {
        Flow::Continue => {}
        Flow::Bail => return 1,
        Flow::Exit(code) => return code,
    }
    for text in args.cmds.iter().chain(&args.statements) {
        match session.run_text(text, &Origin::Interactive) {
            Flow::Continue => {}
            Flow::Bail => return session.status().max(1),
            Flow::Exit(code) => return code,
        }
    }
    if !args.statements.is_empty() {
        return session.status();
    }
    if terminal {
        return repl::run(session);
    }
    let mut input = std::io::stdin().lock();
    match script::run(session, &mut input, &Origin::Script { file: None }) {
        Flow::Continue => session.status(),
        Flow::Bail => session.status().max(1),
        Flow::Exit(code) => code,
    }
}

fn main() {
    // Panics are caught and reported as plain errors (per statement in
    // the session, as a damaged file at open, or here as a last resort):
    // the default hook's "thread 'main' panicked" text would only get in
    // the way of `error: ...`.
    std::panic::set_hook(Box::new(|_| {}));
    let status = std::panic::catch_unwind(run_command_line).unwrap_or_else(|panic| {
        eprintln!("error: internal error: {}", panic_message(&*panic));
        2
    });
    std::process::exit(status);
}

fn run_command_line() -> i32 {
    match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Run(args)) => run(args),
        Ok(Command::Upgrade(old, new)) => upgrade(&old, &new),
        Ok(Command::Compact(file)) => compact(&file),
        Ok(Command::Help) => {
            let _ = std::io::stdout().write_all(USAGE.as_bytes());
            0
        }
        Ok(Command::Version) => {
            let _ = writeln!(std::io::stdout(), "caldb {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Err(message) => {
            eprintln!("caldb: {message}\nUse -help for a list of options.");
            2
        }
    }
}

/// The text of a caught panic (a dot-command's or the shell's own; the
/// library turns a statement's panic into its error).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic.downcast_ref::<String>().cloned();
    text.or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "internal error".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn options_take_one_or_two_dashes_and_come_anywhere() {
        let Ok(Command::Run(args)) = parse(&["--json", "db.redb", "-cmd", ".timer on", "SELECT 1;", "-bail"]) else {
            panic!("expected a run");
        };
        assert_eq!(args.mode, Some(Mode::Json));
        assert_eq!(args.database.as_deref(), Some("db.redb"));
        assert_eq!(args.cmds, vec![".timer on"]);
        assert_eq!(args.statements, vec!["SELECT 1;"]);
        assert!(args.bail);
    }

    #[test]
    fn bad_usage_is_an_error() {
        assert!(parse(&["-bogus"]).is_err());
        assert!(parse(&["-cmd"]).is_err());
        assert_eq!(parse(&["--version", "-bogus"]), Ok(Command::Version));
    }
}
