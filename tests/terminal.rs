//! The shell at a real terminal (a pty, through expectrl): Ctrl-C during a
//! long statement interrupts it and keeps the shell, its settings and its
//! history; results fit 80 and 200 columns; an empty result says so; two
//! Ctrl-C in a row at the prompt leave, as in sqlite3.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/export.rs"]
mod export;

use expectrl::{ControlCode, Eof, Expect, Session};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

type Pty = Session<expectrl::process::unix::UnixProcess, expectrl::process::unix::PtyStream>;

/// Types `line` and Enter (a carriage return, as a terminal sends it).
fn type_line(pty: &mut Pty, line: &str) {
    pty.send(format!("{line}\r")).expect("type a line");
}

/// caldb on `db` at a terminal `columns` wide, HOME in `dir`.
fn terminal(dir: &Path, db: &str, columns: u16) -> Pty {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caldb"));
    cmd.arg(db).current_dir(dir).env("HOME", dir).env_remove("COLUMNS").env("TERM", "xterm");
    let mut pty = Session::spawn(cmd).expect("start caldb on a pty");
    pty.get_process_mut().set_window_size(columns, 40).expect("set the terminal's size");
    pty.set_expect_timeout(Some(Duration::from_secs(60)));
    pty.expect("caldb> ").expect("the first prompt");
    pty
}

/// Types `line`, and returns what the terminal shows until the next
/// prompt, escape sequences and carriage returns taken out. rustyline
/// turns bracketed paste off when it accepts a line and on again when it
/// reads the next: those two mark the output (the prompt cannot, being
/// redrawn as each key is echoed, and type-ahead is not kept).
fn run(pty: &mut Pty, line: &str) -> String {
    type_line(pty, line);
    pty.expect(ACCEPTED).expect("the line is accepted");
    let found = pty.expect(READING).expect("the prompt comes back");
    plain(found.before())
}

const ACCEPTED: &str = "\u{1b}[?2004l";
const READING: &str = "\u{1b}[?2004h";

/// Terminal output without ANSI escape sequences and `\r`.
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A database built by the README tour (a cloned image: duplicates).
fn tour(dir: &Path) -> String {
    let tour = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tour.sql"))
        .expect("read the tour");
    let db = dir.join("tour.redb").to_string_lossy().into_owned();
    let out = bin::run(&[db.as_str()], Some(dir), tour.as_bytes());
    assert_eq!(bin::status(&out), 0, "{}", bin::stderr(&out));
    db
}

#[test]
fn ctrl_c_during_a_million_row_import_interrupts_it_and_keeps_the_shell_and_its_history() {
    let dir = bin::scratch_dir("term-ctrl-c");
    let db = dir.join("big.redb").to_string_lossy().into_owned();
    let setup = "SET CLOCK '2026-02-01'; CREATE SERVER ls1 PRODUCT WS2022; ACTIVATE SERVER ls1;";
    assert_eq!(bin::status(&bin::run(&[db.as_str()], Some(&dir), setup.as_bytes())), 0);
    export::licenses_csv(&dir.join("big.csv"), 1_000_000, 1, 1);
    let mut pty = terminal(&dir, &db, 100);
    run(&mut pty, ".mode line");
    type_line(&mut pty, "IMPORT LICENSES FROM 'big.csv' INTO SERVER ls1;");
    // The progress bar shows the import is under way; then Ctrl-C.
    pty.expect("importing licenses").expect("progress is drawn at a terminal");
    pty.send(ControlCode::EndOfText).expect("Ctrl-C");
    let shown = plain(pty.expect("error: interrupted").expect("the statement is interrupted").before());
    assert!(!shown.contains("panicked"), "{shown}");
    // Still the same session: line mode, and the import left nothing.
    let count = run(&mut pty, "SELECT COUNT(*) FROM licenses;");
    assert!(count.contains("count(*) = 0"), "{count}");
    let history = std::fs::read_to_string(dir.join(".caldb_history")).expect("the history file is written at once");
    assert!(history.contains("IMPORT LICENSES FROM 'big.csv' INTO SERVER ls1;"), "{history}");
    assert!(history.contains("SELECT COUNT(*) FROM licenses;"), "{history}");
    type_line(&mut pty, ".quit");
    pty.expect(Eof).expect("caldb leaves");
    // A million-row export and its database: 100 MB of /dev/shm.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn results_fit_an_80_column_terminal_and_use_200_columns_when_there() {
    let dir = bin::scratch_dir("term-width");
    let db = tour(&dir);
    let query = "SELECT seq, statement FROM history WHERE seq < 4;";
    let mut narrow = terminal(&dir, &db, 80);
    // The first statement's text is wider than 80 with its row's borders.
    run(&mut narrow, "UPDATE_NOTHING_PADDING_TO_MAKE_THIS_HISTORY_LINE_LONG_ENOUGH_TO_WRAP_AT_EIGHTY;");
    let long = "SELECT seq, statement, time FROM history ORDER BY seq DESC LIMIT 2;";
    let table = run(&mut narrow, long);
    let lines: Vec<&str> = table.lines().filter(|l| l.starts_with(['+', '|'])).collect();
    assert!(!lines.is_empty(), "{table}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "wider than 80:\n{table}");
    let duplicates = run(&mut narrow, "REPORT DUPLICATES;");
    assert!(duplicates.contains("finding = "), "one finding per block at 80 columns:\n{duplicates}");
    assert!(duplicates.lines().all(|l| !l.starts_with('|')), "{duplicates}");
    let chart = run(&mut narrow, "REPORT EXPIRING WITHIN 400 DAYS;");
    assert!(chart.contains('#'), "{chart}");
    assert!(chart.lines().all(|l| l.chars().count() <= 80), "the chart is wider than 80:\n{chart}");
    let _ = run(&mut narrow, query);
    let mut wide = terminal(&dir, &db, 200);
    let table = run(&mut wide, long);
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 3, "a header and two rows, one line each at 200 columns:\n{table}");
    let usage = run(&mut wide, "REPORT USAGE;");
    assert!(usage.lines().any(|l| l.starts_with("| server")), "a report that fits 200 columns is a table:\n{usage}");
    let usage = run(&mut narrow, "REPORT USAGE;");
    assert!(usage.contains("server = ls1"), "the same report is one block per row at 80:\n{usage}");
    // .width wins over the terminal's width.
    run(&mut wide, ".width 5");
    let table = run(&mut wide, "SELECT name FROM devices;");
    assert!(table.contains("| name  |"), "{table}");
}

#[test]
fn an_empty_result_says_so_at_a_terminal() {
    let dir = bin::scratch_dir("term-empty");
    let mut pty = terminal(&dir, ":memory:", 100);
    assert!(run(&mut pty, "CHECK;").contains("CHECK: no problems found"));
    assert!(run(&mut pty, "REPORT DUPLICATES;").contains("no duplicates found"));
    assert!(run(&mut pty, "SELECT * FROM servers;").contains("(no rows)"));
    assert!(run(&mut pty, "REPAIR;").contains("REPAIR: nothing to repair"));
    let show = run(&mut pty, ".show");
    assert!(show.contains("clock: ") && show.contains("(wall)"), "{show}");
}

#[test]
fn two_ctrl_c_in_a_row_at_the_prompt_leave_and_one_clears_the_statement() {
    let dir = bin::scratch_dir("term-twice");
    let mut pty = terminal(&dir, ":memory:", 100);
    type_line(&mut pty, "SELECT");
    pty.expect("...> ").expect("a continuation prompt");
    pty.send(ControlCode::EndOfText).expect("Ctrl-C");
    pty.expect(READING).expect("a new prompt");
    let shown = run(&mut pty, "SHOW CLOCK;");
    assert!(shown.contains("| now"), "the unfinished SELECT was dropped: {shown}");
    pty.send(ControlCode::EndOfText).expect("Ctrl-C");
    pty.expect(READING).expect("a new prompt");
    let shown = run(&mut pty, "SHOW CLOCK;");
    assert!(shown.contains("| now"), "one Ctrl-C at an empty prompt keeps the shell: {shown}");
    // Each Ctrl-C once the prompt is up again: rustyline drops keys typed
    // while it switches the terminal's mode, a person's hand is slower.
    pty.send(ControlCode::EndOfText).expect("Ctrl-C");
    pty.expect(READING).expect("a new prompt");
    pty.send(ControlCode::EndOfText).expect("Ctrl-C");
    pty.expect(Eof).expect("the second one in a row leaves");
}

#[test]
fn up_brings_back_a_multi_line_statement_whole() {
    let dir = bin::scratch_dir("term-up");
    let mut pty = terminal(&dir, ":memory:", 100);
    type_line(&mut pty, "CREATE SERVER ls1;");
    pty.expect(READING).expect("the prompt comes back");
    type_line(&mut pty, "SELECT name");
    pty.expect("...> ").expect("a continuation prompt");
    let first = run(&mut pty, "FROM servers;");
    assert!(first.contains("| ls1  |"), "{first}");
    // Up once: the whole two-line statement, not its last line.
    pty.send("\u{1b}[A\r").expect("Up, Enter");
    pty.expect(ACCEPTED).expect("the line is accepted");
    let again = plain(pty.expect(READING).expect("the prompt comes back").before());
    assert!(again.contains("| ls1  |"), "the recalled statement ran: {again}");
    assert!(!again.contains("error"), "{again}");
}
