//! The dot-commands of language.md: one line each, no `;`. Each reads or
//! changes the session (settings, output, database) and writes listings to
//! the session's writer. They never parse statements.

use crate::output::Mode;
use crate::session::{Failure, Flow, Session};
use caldb::{Database, OpenOptions};
use std::path::Path;

/// Every dot-command and its one-line help, in `.help` order.
pub const COMMANDS: [(&str, &str); 17] = [
    (".bail on|off", "stop a script at its first error"),
    (".dump", "every table, every row, in key order"),
    (".echo on|off", "print each script line, comments included, before its results"),
    (".exit [CODE]", "leave with status CODE (default: 1 if anything failed, else 0)"),
    (".headers on|off", "header row in csv mode (also .header)"),
    (".help", "this list"),
    (".mode MODE", "output mode: table, csv, json or line"),
    (".once FILE", "send the next command's output to FILE"),
    (".open FILE", "close this database and open FILE (:memory: for a new in-memory one)"),
    (".output [FILE]", "send output to FILE, or back to standard output"),
    (".quit", "leave"),
    (".read FILE", "run the statements and dot-commands of FILE"),
    (".schema [TABLE]", "the columns of one table or of all"),
    (".show", "the current settings"),
    (".tables", "the names of the tables"),
    (".timeout MS", "wait up to MS milliseconds for another process's lock (default 5000)"),
    (".timer on|off", "print the time each statement takes"),
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
    "SHOW DEVICE d; SHOW HOST h",
    "REPORT USAGE|DUPLICATES|USERS; REPORT EXPIRING [WITHIN n DAYS]",
    "EXPORT LICENSES|KEYPACKS TO 'file.csv'; IMPORT LICENSES|KEYPACKS FROM 'file.csv' INTO SERVER s",
];

/// The command names alone, for completion.
pub fn command_names() -> Vec<&'static str> {
    COMMANDS.iter().filter_map(|(usage, _)| usage.split_whitespace().next()).collect()
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
        let arg = args.first().map(String::as_str);
        let (min, max) = match command.as_str() {
            ".help" | ".tables" | ".dump" | ".show" | ".quit" => (0, 0),
            ".schema" | ".output" | ".exit" => (0, 1),
            ".mode" | ".headers" | ".header" | ".read" | ".once" | ".timer" | ".bail" | ".echo" | ".timeout" => (1, 1),
            ".open" => (1, 1),
            _ => {
                return Err(shell_error(format!("unknown command '{command}' (see .help)")));
            }
        };
        arity(&command, &args, min, max)?;
        match command.as_str() {
            ".help" => self.help()?,
            ".tables" => self.tables()?,
            ".schema" => self.schema(arg)?,
            ".mode" => self.mode(arg.unwrap_or_default())?,
            ".headers" | ".header" => self.config.headers = on_off(&command, arg)?,
            ".timer" => self.config.timer = on_off(&command, arg)?,
            ".echo" => self.config.echo = on_off(&command, arg)?,
            ".bail" => self.config.bail = on_off(&command, arg)?,
            ".read" => return self.read_file(arg.unwrap_or_default()),
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

    fn help(&mut self) -> Result<(), Failure> {
        let w = self.out.writer();
        for (usage, text) in &COMMANDS {
            writeln!(w, "{usage:<18} {text}")?;
        }
        writeln!(w, "\nStatements end with ';' and may span lines; keywords in any case; '--' starts a comment:")?;
        for line in STATEMENTS {
            writeln!(w, "  {line}")?;
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

    fn mode(&mut self, name: &str) -> Result<(), Failure> {
        self.config.mode = Mode::parse(name)
            .ok_or_else(|| shell_error(format!("unknown mode '{name}' (expected {})", Mode::NAMES.join(", "))))?;
        Ok(())
    }

    fn open(&mut self, file: &str) -> Result<(), Failure> {
        let db = if file == ":memory:" {
            Database::open_in_memory()
        } else {
            Database::open(Path::new(file), &OpenOptions { read_only: self.config.read_only })
        };
        let db = db.map_err(|e| shell_error(format!("cannot open '{file}': {e}")))?;
        let block_open = self.db.in_transaction();
        // The old database, dropped, aborts its open block.
        self.db = db;
        if block_open {
            return Err(shell_error(format!(
                "'{file}' is open, and the previous database's open transaction was rolled back (COMMIT saves it)"
            )));
        }
        Ok(())
    }

    fn dump(&mut self) -> Result<(), Failure> {
        let text = self.db.dump()?;
        let w = self.out.writer();
        w.write_all(text.as_bytes())?;
        if !text.is_empty() && !text.ends_with('\n') {
            writeln!(w)?;
        }
        Ok(())
    }

    fn show(&mut self) -> Result<(), Failure> {
        let on = |b: bool| if b { "on" } else { "off" };
        let database = match self.db.path() {
            Some(path) => path.display().to_string(),
            None => ":memory:".to_string(),
        };
        let output = self.out.file_name().unwrap_or("stdout").to_string();
        let lines = [
            ("mode", self.config.mode.name().to_string()),
            ("headers", on(self.config.headers).to_string()),
            ("bail", on(self.config.bail).to_string()),
            ("timer", on(self.config.timer).to_string()),
            ("echo", on(self.config.echo).to_string()),
            ("output", output),
            ("database", database),
            ("readonly", on(self.db.is_read_only()).to_string()),
        ];
        let w = self.out.writer();
        for (name, value) in lines {
            writeln!(w, "{name:>8}: {value}")?;
        }
        Ok(())
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
    caldb::store::opening::set_busy_timeout(ms);
    Ok(())
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
