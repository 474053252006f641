//! One shell session: the open database, the settings dot-commands change,
//! the output writer and whether anything has failed. It runs items
//! (statements and dot-commands) the same way for piped scripts, `.read`
//! files, `-cmd` and STATEMENT arguments and lines typed at the prompt, and
//! reports errors in the style of where the text came from. It never reads
//! input itself.

use crate::output::{self, Mode, Output, Style};
use crate::progress;
use crate::split::{self, Item};
use caldb::language;
use caldb::{Database, Error, ResultSet};
use std::io::{self, Write};
use std::time::Instant;

/// What to do after an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// An error with bail on: stop the current script.
    Bail,
    /// `.quit`, `.exit` or a closed standard output: leave with this status.
    Exit(i32),
}

/// Where text came from, which decides how errors are reported.
#[derive(Clone, Debug)]
pub enum Origin {
    /// Typed at the prompt or given on the command line: the message, then
    /// the offending line with a caret.
    Interactive,
    /// A script: `error: line N: message`, prefixed by the file name for a
    /// `.read` file.
    Script { file: Option<String> },
}

/// The settings dot-commands change.
#[derive(Clone, Debug)]
pub struct Config {
    /// Mode, headers, `.width`, `.nullvalue`, `.separator`.
    pub style: Style,
    pub bail: bool,
    pub timer: bool,
    /// Print each script's lines (comments included) before their results.
    pub echo: bool,
    pub read_only: bool,
}

/// How deep `.read` may nest (a file that reads itself stops here).
const READ_DEPTH_MAX: usize = 16;

pub struct Session {
    pub db: Database,
    pub config: Config,
    pub out: Output,
    pub failed: bool,
    /// Whether damage was found in a database of this session: the file
    /// cannot be trusted, and the exit status is 2.
    pub damaged: bool,
    pub read_depth: usize,
    /// The line of the error that rolled the open block back, while the
    /// block waits for its COMMIT or ROLLBACK.
    pub aborted_at: Option<usize>,
    /// Whether a person reads standard output and standard error (the
    /// terminal front end): empty results say so and progress is drawn.
    pub interactive: bool,
}

impl Session {
    pub fn new(db: Database, config: Config) -> Session {
        let mut session = Session {
            db,
            config,
            out: Output::stdout(),
            failed: false,
            read_depth: 0,
            aborted_at: None,
            damaged: false,
            interactive: false,
        };
        session.watch_database();
        session
    }

    /// Hands the open database's interrupt handle to the Ctrl-C handler
    /// and gives it the progress callback (again after `.open`).
    pub fn watch_database(&mut self) {
        progress::watch(&mut self.db);
    }

    /// The exit status so far: 0, 1 once anything has failed, 2 once
    /// damage was found in the database (quality.md R6).
    pub fn status(&self) -> i32 {
        if self.damaged { 2 } else { i32::from(self.failed) }
    }

    /// Runs a whole text held in memory (a `-cmd` or STATEMENT argument;
    /// piped scripts and `.read` files are streamed by `script::run`). An
    /// interrupted statement (Ctrl-C) stops the rest of the text, as in
    /// sqlite3.
    pub fn run_text(&mut self, text: &str, origin: &Origin) -> Flow {
        // Notepad and PowerShell start a file with a byte order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text.lines().collect();
        // Echo starts where `.echo on` is met: the lines before it were
        // run unechoed and are not echoed again. `echoed`: the lines so far.
        let mut echoed = self.config.echo.then_some(0);
        for item in split::split_script(text) {
            if let Some(from) = echoed {
                echoed = Some(self.echo_through(&lines, from, item.last_line()));
            }
            let flow = self.run_item(&item, origin);
            echoed = match (self.config.echo, echoed) {
                (false, _) => None,
                (true, None) => Some(item.last_line()),
                (true, Some(n)) => Some(n),
            };
            if progress::take_interrupted() {
                return Flow::Bail;
            }
            if flow != Flow::Continue {
                return flow;
            }
        }
        if let Some(from) = echoed {
            self.echo_through(&lines, from, lines.len());
        }
        Flow::Continue
    }

    /// `.echo on`: writes the script's lines after `from` up to `to`
    /// (1-based, inclusive), so comments narrate the results that follow.
    fn echo_through(&mut self, lines: &[&str], from: usize, to: usize) -> usize {
        let to = to.min(lines.len());
        for line in lines.get(from..to).unwrap_or_default() {
            let _ = writeln!(self.out.writer(), "{line}");
        }
        to.max(from)
    }

    /// Runs one item and reports its error, if any.
    pub fn run_item(&mut self, item: &Item, origin: &Origin) -> Flow {
        let open_before = self.db.in_transaction() && !self.db.is_aborted();
        // A panic below (redb meeting a damaged page, say) is this item's
        // error, not the end of the session.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match item {
            Item::Dot { text, .. } => self.run_dot(text),
            Item::Statement { text, .. } => self.run_statement(text),
        }))
        .unwrap_or_else(|panic| {
            let message = crate::panic_message(&*panic);
            Err(Failure::Db(Error::Storage(format!("internal error: {message}"))))
        });
        let result = self.note_block(open_before, item, result);
        self.damaged |= self.db.damage().is_some();
        let ended = self.out.end_command();
        let flow = match result {
            Ok(flow) => flow,
            Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                return Flow::Exit(self.status());
            }
            Err(failure) => {
                self.damaged |= matches!(&failure, Failure::Db(e) if e.is_damage());
                self.report(&failure, item, origin);
                self.failed = true;
                if self.config.bail { Flow::Bail } else { Flow::Continue }
            }
        };
        match ended {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Flow::Exit(self.status()),
            Err(e) => {
                self.report(&Failure::Io(e), item, origin);
                self.failed = true;
                flow
            }
            Ok(()) => flow,
        }
    }

    fn run_statement(&mut self, text: &str) -> Result<Flow, Failure> {
        let started = Instant::now();
        // Outside a terminal, in a mode that prints row by row, a SELECT's
        // rows are printed as they come, a chunk at a time, not gathered:
        // a million rows then take no more memory than a few thousand.
        let streams = !(self.interactive && self.out.is_terminal()) && output::streams(self.config.style.mode);
        let (db, out, style) = (&mut self.db, &mut self.out, &self.config.style);
        let mut printed_chunks = false;
        let mut failed_print = Ok(());
        let result = progress::running(|| {
            if !streams {
                return db.execute(text);
            }
            db.execute_in_chunks(text, &mut |chunk| {
                let then = output::Style { headers: style.headers && !printed_chunks, ..style.clone() };
                if printed_chunks && style.mode == Mode::Line {
                    failed_print = writeln!(out.writer());
                }
                if failed_print.is_ok() {
                    failed_print = output::render(out.writer(), chunk, &then);
                }
                printed_chunks = true;
                failed_print.as_ref().map_err(|e| caldb::Error::Storage(format!("cannot write output: {e}"))).copied()
            })
        });
        failed_print?;
        let elapsed = started.elapsed();
        let printed = match &result {
            Ok(Some(rs)) if printed_chunks => {
                let rest = output::Style { headers: false, ..self.config.style.clone() };
                if self.config.style.mode == Mode::Line && !rs.rows.is_empty() {
                    writeln!(self.out.writer())?;
                }
                output::render(self.out.writer(), rs, &rest)
            }
            Ok(Some(rs)) => self.print_result(rs, text),
            _ => Ok(()),
        };
        if self.config.timer {
            writeln!(self.out.writer(), "Run Time: real {:.3} s", elapsed.as_secs_f64())?;
        }
        result?;
        printed?;
        Ok(Flow::Continue)
    }

    /// Keeps the line of the error that aborted the open block, and names it
    /// in the refusals that follow ("rolled back at line N").
    fn note_block(&mut self, open_before: bool, item: &Item, result: Result<Flow, Failure>) -> Result<Flow, Failure> {
        if open_before && self.db.is_aborted() {
            self.aborted_at = Some(item.first_line());
        }
        let aborted_at = self.aborted_at;
        if !self.db.in_transaction() {
            self.aborted_at = None;
        }
        match (result, aborted_at) {
            (Err(Failure::Db(Error::Aborted { at_commit, .. })), Some(line)) => {
                let then = Error::aborted_consequence(at_commit);
                Err(Failure::Shell(format!("the transaction was rolled back at line {line}; {then}")))
            }
            (result, _) => result,
        }
    }

    /// Prints a statement's result. At a terminal (and only there, so
    /// scripts do not change): the grids fit its width, an empty result
    /// says so, and a report too wide for the grid gets one block per row.
    fn print_result(&mut self, rs: &ResultSet, text: &str) -> io::Result<()> {
        let terminal = self.interactive && self.out.is_terminal();
        if !terminal {
            return output::render(self.out.writer(), rs, &self.config.style);
        }
        let mut style = self.config.style.clone();
        style.terminal_width = terminal_width();
        if rs.rows.is_empty() && style.mode != Mode::Json {
            return writeln!(self.out.writer(), "{}", language::empty_result(text));
        }
        if language::is_wide_report(text)
            && style.mode.is_grid()
            && style.widths.is_empty()
            && too_wide(rs, style.terminal_width)
        {
            style.mode = Mode::Line;
        }
        output::render(self.out.writer(), rs, &style)
    }

    /// `.read FILE`: the file's text, run with script semantics.
    pub fn read_file(&mut self, name: &str) -> Result<Flow, Failure> {
        if self.read_depth >= READ_DEPTH_MAX {
            return Err(Failure::Shell(format!(".read nested more than {READ_DEPTH_MAX} deep")));
        }
        let file = std::fs::File::open(name).map_err(|e| Failure::Shell(format!("cannot read '{name}': {e}")))?;
        self.read_depth += 1;
        let origin = Origin::Script { file: Some(name.to_string()) };
        let flow = crate::script::run(self, &mut std::io::BufReader::new(file), &origin);
        self.read_depth -= 1;
        Ok(flow)
    }

    /// Names for tab completion: tables, columns, and the database's names.
    pub fn completion_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for table in Database::table_names() {
            names.push(table.to_string());
            names.extend(Database::table_columns(table).unwrap_or_default().iter().map(|c| c.to_string()));
        }
        names.extend(self.db.completion_names());
        names.sort();
        names.dedup();
        names
    }

    fn report(&mut self, failure: &Failure, item: &Item, origin: &Origin) {
        let message = report_text(failure, item, origin);
        let _ = self.out.flush();
        let mut stderr = io::stderr().lock();
        let _ = stderr.write_all(message.as_bytes());
        let _ = stderr.flush();
    }
}

/// The terminal's width in columns (`COLUMNS` when set, as a shell user
/// expects, else asked of the terminal).
pub fn terminal_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok())
        && n > 0
    {
        return Some(n);
    }
    terminal_size::terminal_size().map(|(terminal_size::Width(w), _)| usize::from(w))
}

/// Whether `rs` drawn as a grid would be wider than the terminal.
fn too_wide(rs: &ResultSet, width: Option<usize>) -> bool {
    let Some(width) = width else { return false };
    let mut widths: Vec<usize> = rs.columns.iter().map(|c| c.chars().count()).collect();
    for row in &rs.rows {
        for (w, v) in widths.iter_mut().zip(row) {
            *w = (*w).max(v.to_string().chars().count());
        }
    }
    widths.iter().map(|w| w + 3).sum::<usize>() + 1 > width
}

/// Why an item failed.
#[derive(Debug)]
pub enum Failure {
    /// The engine refused the statement.
    Db(Error),
    /// A dot-command mistake (bad argument, unknown command, missing file).
    Shell(String),
    /// Writing output failed.
    Io(io::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Db(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

pub fn failure_message(failure: &Failure) -> String {
    match failure {
        Failure::Db(Error::Parse { message, .. }) => message.clone(),
        Failure::Db(e) => e.to_string(),
        Failure::Shell(m) => m.clone(),
        Failure::Io(e) => format!("cannot write output: {e}"),
    }
}

/// The whole error report, ending with a line end.
fn report_text(failure: &Failure, item: &Item, origin: &Origin) -> String {
    let message = failure_message(failure);
    let (text, line) = match item {
        Item::Dot { text, line } | Item::Statement { text, line } => (text.as_str(), *line),
    };
    let spot = match failure {
        Failure::Db(e) => error_spot(e, text),
        _ => None,
    };
    match origin {
        Origin::Script { file } => {
            let line = match (failure, spot) {
                (Failure::Db(Error::Parse { .. }), Some((bad_line, _))) => line + bad_line - 1,
                _ => line,
            };
            match file {
                Some(file) => format!("error: {file}: line {line}: {message}\n"),
                None => format!("error: line {line}: {message}\n"),
            }
        }
        Origin::Interactive => {
            let mut out = format!("error: {message}\n");
            if let Some((bad_line, column)) = spot {
                out.push_str(&caret(text, bad_line, column));
            }
            out
        }
    }
}

/// The 1-based line and the byte column within it of the error's spot in
/// the statement `text`, when known.
pub fn error_spot(error: &Error, text: &str) -> Option<(usize, usize)> {
    let offset = match error {
        Error::Parse { offset, line, column, .. } => {
            if *offset <= text.len() && text.is_char_boundary(*offset) {
                *offset
            } else {
                return Some((*line, byte_column(text, *line, *column)));
            }
        }
        Error::Plan { near: Some(near), .. } if !near.is_empty() => find_near(text, near)?,
        _ => return None,
    };
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some((line, offset - line_start))
}

/// The first occurrence of `near`, exact or else ignoring ASCII case.
fn find_near(text: &str, near: &str) -> Option<usize> {
    text.find(near).or_else(|| text.to_ascii_lowercase().find(&near.to_ascii_lowercase()))
}

/// A 1-based character column turned into a byte column of that line.
fn byte_column(text: &str, line: usize, column: usize) -> usize {
    let line_text = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    line_text.char_indices().nth(column.saturating_sub(1)).map_or(line_text.len(), |(i, _)| i)
}

/// The statement's line `line` and a caret under byte column `column`
/// (tabs kept so the caret lines up).
fn caret(text: &str, line: usize, column: usize) -> String {
    let Some(line_text) = text.lines().nth(line.saturating_sub(1)) else {
        return String::new();
    };
    let column = column.min(line_text.len());
    let column = (0..=column).rev().find(|&i| line_text.is_char_boundary(i)).unwrap_or(0);
    let pad: String = line_text[..column].chars().map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    format!("  {line_text}\n  {pad}^\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(offset: usize) -> Failure {
        Failure::Db(Error::Parse { message: "expected a name".into(), offset, line: 1, column: 1 })
    }

    #[test]
    fn script_parse_error_names_the_line_of_the_bad_spot() {
        let item = Item::Statement { text: "CREATE\nSERVER ;".into(), line: 3 };
        let text = report_text(&parse_error(14), &item, &Origin::Script { file: None });
        assert_eq!(text, "error: line 4: expected a name\n");
    }

    #[test]
    fn interactive_parse_error_points_at_the_offending_line() {
        let item = Item::Statement { text: "CREATE\nSERVER ;".into(), line: 1 };
        let text = report_text(&parse_error(14), &item, &Origin::Interactive);
        assert_eq!(text, "error: expected a name\n  SERVER ;\n         ^\n");
    }

    #[test]
    fn plan_error_caret_goes_under_the_near_text() {
        let item = Item::Statement { text: "SELECT nme FROM servers".into(), line: 1 };
        let failure = Failure::Db(Error::plan_near("no column 'nme'", "nme"));
        let text = report_text(&failure, &item, &Origin::Interactive);
        assert_eq!(text, "error: no column 'nme'\n  SELECT nme FROM servers\n         ^\n");
    }

    #[test]
    fn read_file_errors_name_the_file() {
        let item = Item::Dot { text: ".mode x".into(), line: 2 };
        let failure = Failure::Shell("unknown mode 'x'".into());
        let origin = Origin::Script { file: Some("a.sql".into()) };
        assert_eq!(report_text(&failure, &item, &origin), "error: a.sql: line 2: unknown mode 'x'\n");
    }
}
