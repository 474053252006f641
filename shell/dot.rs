//! The dot-commands of language.md: one line each, no `;`. Each reads or
//! changes the session (settings, output, database) and writes listings to
//! the session's writer. They never parse statements.

use crate::output::Mode;
use crate::session::{Failure, Flow, Session};
use caldb::{Database, OpenOptions};
use std::path::Path;

/// Every dot-command and its one-line help, in `.help` order.
pub const COMMANDS: [(&str, &str); 22] = [
    (".bail on|off", "stop a script at its first error"),
    (".dump", "the database as SQL text: caldb restores it, sqlite3 loads it"),
    (".echo on|off", "print each script line, comments included, from here on, before its results"),
    (".exit [CODE]", "leave with status CODE (default: 1 if anything failed, else 0)"),
    (".headers on|off", "header row in csv, list, tabs, column, quote, html and insert modes (also .header)"),
    (".help [TOPIC]", "this list, or the commands, statements and modes matching TOPIC"),
    (".import FILE TABLE", "not for caldb tables: says which IMPORT statement loads a CSV file"),
    (".mode [MODE] [TABLE]", "output mode (see .help mode); no MODE: show it; insert takes a TABLE name"),
    (".nullvalue TEXT", "show NULL as TEXT"),
    (".once FILE", "send the next command's output to FILE"),
    (".open FILE", "close this database and open FILE (:memory: for a new in-memory one)"),
    (".output [FILE]", "send output to FILE, or back to standard output"),
    (".print TEXT ...", "print the words of TEXT"),
    (".quit", "leave"),
    (".read FILE", "run the statements and dot-commands of FILE"),
    (".schema [TABLE]", "the columns of one table or of all"),
    (".separator COL [ROW]", "list mode's field and row separators (\\t, \\n understood)"),
    (".show", "the current settings, the database's clock and seed"),
    (".tables", "the names of the tables"),
    (".timeout MS", "wait up to MS milliseconds for another process's lock (default 5000)"),
    (".timer on|off", "print the time each statement takes"),
    (".width [N ...]", "column widths for table, box, markdown and column modes (0 auto, negative right-aligns)"),
];

/// How each mode looks, for `.help mode`.
const MODES: &[(&str, &str)] = &[
    ("table", "ASCII grid, fitted to the terminal (default at a terminal)"),
    ("box", "grid drawn with box characters"),
    ("markdown", "a Markdown table"),
    ("column", "columns two spaces apart under a rule of dashes"),
    ("list", "fields joined by the separator (|)"),
    ("tabs", "fields joined by tabs"),
    ("csv", "RFC 4180 (default when not at a terminal)"),
    ("quote", "values as SQL literals"),
    ("html", "<TR> rows of an HTML table"),
    ("insert", "INSERT INTO TABLE statements"),
    ("json", "one array of objects per result"),
    ("line", "column = value, a blank line between rows"),
];

/// The statements, one form a line, for `.help`.
const STATEMENTS: &[&str] = &[
    "CREATE SERVER s [PRODUCT p] [SCOPE sc]; ACTIVATE|DEACTIVATE SERVER s; SET SERVER s ONLINE|OFFLINE",
    "SET SERVER s SECURITY GROUP (host, ...) | SECURITY GROUP OFF",
    "INSTALL KEYPACK ON s PRODUCT p CAL DEVICE|USER COUNT n [TYPE RETAIL|VOLUME|OPEN|CONCURRENT] [EXPIRES 'date']",
    "UNINSTALL KEYPACK id",
    "CREATE HOST h [PRODUCT p] [MODE DEVICE|USER|UNSET] [SCOPE sc] [LICENSE SERVERS (s, ...)] [FARM f]",
    "SET HOST h MODE DEVICE|USER|UNSET; SET HOST h LICENSE SERVERS (s, ...)",
    "CREATE DEVICE d [HWID 'hex40']; CLONE DEVICE d AS e [WITH STORE]; REIMAGE DEVICE d",
    "CLEAR DEVICE d STORE; CLEAR DEVICE d LICENSING",
    "CONNECT d AS user TO h | TO FARM f [LOGON FAILED]; DISCONNECT SESSION n; LOGOFF SESSION n",
    "SET CLOCK 'YYYY-MM-DD [HH:MM:SS]'; SET CLOCK WALL; ADVANCE n DAYS|HOURS|MINUTES|SECONDS; SET SEED n",
    "REVOKE LICENSE id; REVOKE LICENSES WHERE cond; REBUILD SERVER s [REINSTALL KEYPACKS]",
    "CHECK; REPAIR; BACKUP TO 'file'; BEGIN; COMMIT; ROLLBACK",
    "SELECT *|col, ...|COUNT(*) FROM t [WHERE cond] [GROUP BY col, ...] [ORDER BY col [DESC], ...] [LIMIT n]",
    "SHOW DEVICE d; SHOW HOST h; SHOW CLOCK",
    "REPORT USAGE|DUPLICATES|USERS; REPORT EXPIRING [WITHIN n DAYS]",
    "EXPORT LICENSES|KEYPACKS TO 'file.csv'; IMPORT LICENSES|KEYPACKS FROM 'file' [INTO SERVER s] [AS OF 'time']",
    "IMPORT USERS FROM 'file' INTO SERVER s",
    "  IMPORT options: ENCODING 'windows-1252' DELIMITER ';'|'tab' CULTURE 'de-DE' TIMEZONE 'Europe/Berlin'",
];

/// The command names alone, for completion.
pub fn command_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = COMMANDS.iter().filter_map(|(usage, _)| usage.split_whitespace().next()).collect();
    names.push(".header");
    names.sort_unstable();
    names
}

/// Splits a dot-command line into words; `'...'` or `"..."` quote a word
/// holding blanks.
pub fn words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '\'' || c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some(q) if q == c => break,
                    Some(other) => word.push(other),
                    None => return Err(format!("unterminated {c} in '{line}'")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

fn shell_error(message: String) -> Failure {
    Failure::Shell(message)
}

fn on_off(command: &str, arg: Option<&str>) -> Result<bool, Failure> {
    match arg.map(str::to_ascii_lowercase).as_deref() {
        Some("on" | "yes" | "true" | "1") => Ok(true),
        Some("off" | "no" | "false" | "0") => Ok(false),
        Some(other) => Err(shell_error(format!("{command}: expected on or off, not '{other}'"))),
        None => Err(shell_error(format!("{command}: expected on or off"))),
    }
}

/// Checks the number of arguments: at least `min`, at most `max`.
fn arity(command: &str, args: &[String], min: usize, max: usize) -> Result<(), Failure> {
    if args.len() < min {
        return Err(shell_error(format!("{command}: missing argument")));
    }
    if args.len() > max {
        return Err(shell_error(format!("{command}: unexpected argument '{}'", args[max])));
    }
    Ok(())
}

impl Session {
    /// Runs one dot-command line.
    pub fn run_dot(&mut self, line: &str) -> Result<Flow, Failure> {
        let mut words = words(line).map_err(shell_error)?;
        if words.is_empty() {
            return Ok(Flow::Continue);
        }
        let command = words.remove(0);
        let args = words;
        let (min, max) = match command.as_str() {
            ".tables" | ".dump" | ".show" | ".quit" => (0, 0),
            ".schema" | ".output" | ".exit" | ".help" => (0, 1),
            ".mode" => (0, 2),
            ".headers" | ".header" | ".read" | ".once" | ".timer" | ".bail" | ".echo" | ".nullvalue" | ".timeout" => {
                (1, 1)
            }
            ".open" => (1, 1),
            ".separator" | ".import" => (1, 2),
            ".width" | ".print" => (0, usize::MAX),
            _ => {
                return Err(shell_error(format!("unknown command '{command}' (see .help)")));
            }
        };
        arity(&command, &args, min, max)?;
        self.run_dot_command(&command, &args)
    }

    fn run_dot_command(&mut self, command: &str, args: &[String]) -> Result<Flow, Failure> {
        let arg = args.first().map(String::as_str);
        match command {
            ".help" => self.help(arg)?,
            ".tables" => self.tables()?,
            ".schema" => self.schema(arg)?,
            ".mode" => self.mode(args)?,
            ".headers" | ".header" => self.config.style.headers = on_off(command, arg)?,
            ".timer" => self.config.timer = on_off(command, arg)?,
            ".echo" => self.config.echo = on_off(command, arg)?,
            ".bail" => self.config.bail = on_off(command, arg)?,
            ".nullvalue" => self.config.style.null = arg.unwrap_or_default().to_string(),
            ".separator" => self.separator(args),
            ".width" => self.width(args)?,
            ".print" => writeln!(self.out.writer(), "{}", args.join(" "))?,
            ".import" => return Err(import_pointer(args)),
            ".read" => return self.read_file(arg.unwrap_or_default()),
            ".output" | ".once" if arg.is_some_and(|a| a.starts_with('-')) => return Err(no_option(command, arg)),
            ".output" => {
                let own: Vec<&Path> = self.db.path().into_iter().collect();
                self.out.redirect(arg, &own).map_err(|e| shell_error(e.message().to_string()))?;
            }
            ".once" => {
                let own: Vec<&Path> = self.db.path().into_iter().collect();
                self.out.once(arg.unwrap_or_default(), &own).map_err(|e| shell_error(e.message().to_string()))?;
            }
            ".open" => self.open(arg.unwrap_or_default())?,
            ".timeout" => timeout(arg.unwrap_or_default())?,
            ".dump" => self.dump()?,
            ".show" => self.show()?,
            ".quit" => return Ok(Flow::Exit(self.status())),
            _ => return self.exit(arg),
        }
        Ok(Flow::Continue)
    }

    /// `.help`: every command and statement; `.help TOPIC`: those whose
    /// text holds TOPIC (any case); `.help mode`: the modes too.
    fn help(&mut self, topic: Option<&str>) -> Result<(), Failure> {
        let topic = topic.map(|t| t.trim_start_matches('.').to_ascii_lowercase());
        let wanted = |text: &str| topic.as_ref().is_none_or(|t| text.to_ascii_lowercase().contains(t.as_str()));
        let commands: Vec<_> = COMMANDS.iter().filter(|(usage, _)| wanted(usage)).collect();
        let statements: Vec<_> = STATEMENTS.iter().filter(|s| wanted(s)).collect();
        let modes = topic.as_deref().is_some_and(|t| t == "mode" || t == "modes" || Mode::parse(t).is_some());
        if commands.is_empty() && statements.is_empty() && !modes {
            let topic = topic.unwrap_or_default();
            return Err(shell_error(format!(".help: nothing matches '{topic}' (try .help alone)")));
        }
        let w = self.out.writer();
        let gap = |before: bool| if before { "\n" } else { "" };
        let listed = !commands.is_empty();
        for (usage, text) in commands {
            writeln!(w, "{usage:<22} {text}")?;
        }
        if modes {
            writeln!(w, "{}Modes:", gap(listed))?;
            for (name, text) in MODES {
                writeln!(w, "  {name:<10} {text}")?;
            }
        }
        if !statements.is_empty() {
            let rules = "Statements end with ';' and may span lines; keywords in any case; -- and /* */ are comments:";
            writeln!(w, "{}{rules}", gap(listed || modes))?;
            for line in statements {
                writeln!(w, "  {line}")?;
            }
        }
        Ok(())
    }

    fn tables(&mut self) -> Result<(), Failure> {
        let w = self.out.writer();
        for table in Database::table_names() {
            writeln!(w, "{table}")?;
        }
        Ok(())
    }

    fn schema(&mut self, table: Option<&str>) -> Result<(), Failure> {
        let text = Database::schema_text(table)?;
        let w = self.out.writer();
        w.write_all(text.as_bytes())?;
        if !text.is_empty() && !text.ends_with('\n') {
            writeln!(w)?;
        }
        Ok(())
    }

    /// `.mode`: shows the mode; `.mode MODE`; `.mode insert TABLE`.
    fn mode(&mut self, args: &[String]) -> Result<(), Failure> {
        let Some(name) = args.first() else {
            let style = &self.config.style;
            let table = if style.mode == Mode::Insert { format!(" {}", style.insert_table) } else { String::new() };
            writeln!(self.out.writer(), "current output mode: {}{table}", style.mode.name())?;
            return Ok(());
        };
        let mode = Mode::parse(name)
            .ok_or_else(|| shell_error(format!("unknown mode '{name}' (expected {})", Mode::names())))?;
        match (mode, args.get(1)) {
            (Mode::Insert, Some(table)) => self.config.style.insert_table.clone_from(table),
            (_, Some(extra)) => {
                return Err(shell_error(format!(".mode: unexpected argument '{extra}' (only insert takes a table)")));
            }
            _ => {}
        }
        self.config.style.mode = mode;
        Ok(())
    }

    /// `.separator COL [ROW]`, with `\t`, `\n` and `\r` understood.
    fn separator(&mut self, args: &[String]) {
        let unescape = |s: &str| s.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r");
        if let Some(col) = args.first() {
            self.config.style.separator.0 = unescape(col);
        }
        if let Some(row) = args.get(1) {
            self.config.style.separator.1 = unescape(row);
        }
    }

    /// `.width N ...`: widths of the first columns; no N: all automatic.
    fn width(&mut self, args: &[String]) -> Result<(), Failure> {
        let widths = args
            .iter()
            .map(|a| a.parse::<i64>().map_err(|_| shell_error(format!(".width: expected a number, not '{a}'"))))
            .collect::<Result<Vec<_>, _>>()?;
        self.config.style.widths = widths;
        Ok(())
    }

    fn open(&mut self, file: &str) -> Result<(), Failure> {
        let db = if file == ":memory:" {
            Database::open_in_memory()
        } else {
            Database::open(Path::new(file), &OpenOptions { read_only: self.config.read_only })
        };
        let db = db.map_err(|e| shell_error(format!("cannot open '{file}': {e}")))?;
        let (block_open, aborted_at) = (self.db.in_transaction(), self.aborted_at.take());
        // The old database, dropped, aborts its open (or aborted) block.
        self.db = db;
        self.watch_database();
        if block_open {
            let previous = match aborted_at {
                Some(line) => format!("transaction, rolled back at line {line}, is ended"),
                None => "open transaction was rolled back (COMMIT saves it)".to_string(),
            };
            return Err(shell_error(format!("'{file}' is open, and the previous database's {previous}")));
        }
        Ok(())
    }

    fn dump(&mut self) -> Result<(), Failure> {
        // The dump ends with a line end: written as it is made, not held.
        self.db.dump_to(self.out.writer())?;
        Ok(())
    }

    fn show(&mut self) -> Result<(), Failure> {
        let on = |b: bool| if b { "on" } else { "off" };
        let database = match self.db.path() {
            Some(path) => path.display().to_string(),
            None => ":memory:".to_string(),
        };
        let output = self.out.file_name().unwrap_or("stdout").to_string();
        let (now, clock, seed) = self.clock_text();
        let style = &self.config.style;
        let widths: Vec<String> = style.widths.iter().map(i64::to_string).collect();
        let lines = [
            ("mode", style.mode.name().to_string()),
            ("headers", on(style.headers).to_string()),
            ("nullvalue", format!("\"{}\"", style.null)),
            ("separator", format!("{:?} {:?}", style.separator.0, style.separator.1)),
            ("width", widths.join(" ")),
            ("bail", on(self.config.bail).to_string()),
            ("timer", on(self.config.timer).to_string()),
            ("echo", on(self.config.echo).to_string()),
            ("output", output),
            ("database", database),
            ("readonly", on(self.db.is_read_only()).to_string()),
            ("clock", format!("{now} ({clock})")),
            ("seed", seed),
        ];
        let w = self.out.writer();
        for (name, value) in lines {
            writeln!(w, "{name:>9}: {value}")?;
        }
        Ok(())
    }

    /// The clock's instant, `simulated` or `wall`, and the seed, as SHOW
    /// CLOCK gives them.
    fn clock_text(&mut self) -> (String, String, String) {
        match self.db.clock() {
            Ok(rs) => match rs.rows.first().map(Vec::as_slice) {
                Some([now, clock, seed]) => (now.to_string(), clock.to_string(), seed.to_string()),
                _ => ("unknown".into(), "unknown".into(), "unknown".into()),
            },
            Err(e) => (format!("unknown ({e})"), "unknown".into(), "unknown".into()),
        }
    }

    fn exit(&mut self, code: Option<&str>) -> Result<Flow, Failure> {
        match code {
            None => Ok(Flow::Exit(self.status())),
            Some(text) => text
                .parse::<i32>()
                .map(Flow::Exit)
                .map_err(|_| shell_error(format!(".exit: expected a number, not '{text}'"))),
        }
    }
}

/// `.timeout MS`: how long an open or a write waits for another
/// process's lock (process-wide, as `-timeout`).
fn timeout(text: &str) -> Result<(), Failure> {
    let ms = text.parse().map_err(|_| shell_error(format!(".timeout: expected milliseconds, not '{text}'")))?;
    caldb::set_busy_timeout(ms);
    Ok(())
}

/// `.import`: caldb's tables are not loaded row by row; the IMPORT
/// statements read the WMI CSV files a license server exports.
fn import_pointer(args: &[String]) -> Failure {
    let file = args.first().map_or("FILE", String::as_str);
    let what = match args.get(1).map(|t| t.to_ascii_lowercase()).as_deref() {
        Some("keypacks") => "KEYPACKS",
        Some("user_cals" | "users") => "USERS",
        _ => "LICENSES",
    };
    shell_error(format!(
        ".import: caldb's tables change only through statements, so load a CSV file with \
         IMPORT {what} FROM '{file}' INTO SERVER name; (the Win32_TSIssuedLicense or \
         Win32_TSLicenseKeyPack rows Export-Csv writes)"
    ))
}

/// `.once -x` / `.once -e` (sqlite3: open the result in a spreadsheet or
/// an editor), or any option-like argument of `.output` and `.once`: caldb
/// writes files and starts no other program, so it says so rather than
/// write a file named `-x`. A file whose name starts with `-` is `./-x`.
fn no_option(command: &str, arg: Option<&str>) -> Failure {
    let arg = arg.unwrap_or_default();
    shell_error(format!(
        "{command} {arg}: caldb opens no spreadsheet or editor; name a file ({command} FILE, or {command} ./{arg} for a file named '{arg}')"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_at_blanks_and_quotes_group() {
        let got = words(".output 'my file.csv'  x").expect("valid");
        assert_eq!(got, vec![".output", "my file.csv", "x"]);
        assert!(words(".read 'open").is_err());
    }

    #[test]
    fn command_names_are_listed_once() {
        let names = command_names();
        assert!(names.contains(&".mode") && names.contains(&".exit"));
        assert_eq!(names.iter().filter(|n| **n == ".headers").count(), 1);
    }
}
