//! The terminal front end: banner, prompts, line editing with rustyline,
//! history in `$HOME/.caldb_history` (appended as each statement is
//! entered, a multi-line statement as one entry that Up brings back whole
//! for editing), hints from history, keywords and the bracket matching the
//! cursor's highlighted, and tab completion of keywords, dot-commands,
//! tables, columns and the database's names. Ctrl-C clears what is typed;
//! a second one in a row leaves, as in sqlite3. It feeds lines to a
//! `Splitter` and items to the `Session`; it never renders results itself.

use crate::dot;
use crate::progress;
use crate::session::{Flow, Origin, Session};
use crate::split::Splitter;
use caldb::language::is_word_char;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

const PROMPT: &str = "caldb> ";
const CONTINUATION: &str = "   ...> ";

/// Completion from fixed words and the names last read from the database.
pub struct ShellHelper {
    names: Vec<String>,
}

impl ShellHelper {
    pub fn new(names: Vec<String>) -> ShellHelper {
        ShellHelper { names }
    }

    pub fn set_names(&mut self, names: Vec<String>) {
        self.names = names;
    }

    /// The start of the word before `pos` and the candidates for it.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before.char_indices().rev().take_while(|&(_, c)| is_word_char(c)).last();
        let start = start.map_or(pos, |(i, _)| i);
        let word = &line[start..pos];
        if start == 0 && word.starts_with('.') {
            let found = dot::command_names().into_iter().filter(|c| c.starts_with(word));
            return (start, found.map(str::to_string).collect());
        }
        if word.is_empty() {
            return (start, Vec::new());
        }
        let lower = word.to_lowercase();
        let typed_lower = word.chars().all(|c| !c.is_uppercase());
        let keywords = caldb::language::KEYWORDS
            .iter()
            .filter(|k| k.to_lowercase().starts_with(&lower))
            .map(|k| if typed_lower { k.to_lowercase() } else { k.to_string() });
        let names = self.names.iter().filter(|n| n.to_lowercase().starts_with(&lower)).cloned();
        let mut found: Vec<String> = keywords.chain(names).collect();
        found.sort();
        found.dedup();
        (start, found)
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.candidates(line, pos);
        let pairs = words.into_iter().map(|w| Pair { display: w.clone(), replacement: w }).collect();
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        HistoryHinter::new().hint(line, pos, ctx)
    }
}

const KEYWORD_ON: &str = "\x1b[1;34m";
const BRACKET_ON: &str = "\x1b[1;33m";
const HINT_ON: &str = "\x1b[2m";
const OFF: &str = "\x1b[0m";

/// The byte offset of the bracket matching the one at or just before
/// `pos`, and that bracket's offset.
fn matching_bracket(line: &str, pos: usize) -> Option<(usize, usize)> {
    let bytes = line.as_bytes();
    let at = [pos, pos.wrapping_sub(1)].into_iter().find(|&i| matches!(bytes.get(i), Some(b'(' | b')')))?;
    let (step, open, close): (isize, u8, u8) = if bytes[at] == b'(' { (1, b'(', b')') } else { (-1, b')', b'(') };
    let mut depth = 0usize;
    let mut i = at as isize;
    while i >= 0 && (i as usize) < bytes.len() {
        let b = bytes[i as usize];
        if b == open {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return Some((at, i as usize));
            }
        }
        i += step;
    }
    None
}

/// The line with keywords (outside quotes) and the bracket pair at the
/// cursor coloured.
pub fn highlighted(line: &str, pos: usize) -> String {
    let brackets = matching_bracket(line, pos);
    let is_bracket = |i: usize| brackets.is_some_and(|(a, b)| i == a || i == b);
    let mut out = String::with_capacity(line.len() + 16);
    let mut in_quote = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            in_quote = !in_quote;
        }
        if !in_quote && is_word_char(c) && c != '.' && c != '-' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !is_word_char(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            let word = &line[i..end];
            if caldb::language::KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word)) {
                out.push_str(KEYWORD_ON);
                out.push_str(word);
                out.push_str(OFF);
            } else {
                out.push_str(word);
            }
        } else if is_bracket(i) {
            out.push_str(BRACKET_ON);
            out.push(c);
            out.push_str(OFF);
        } else {
            out.push(c);
        }
    }
    out
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        if line.starts_with('.') && matching_bracket(line, pos).is_none() {
            return Cow::Borrowed(line);
        }
        Cow::Owned(highlighted(line, pos))
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("{HINT_ON}{hint}{OFF}"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        // Keywords change as they are typed and the bracket pair as the
        // cursor moves: redraw every time (lines are short).
        true
    }
}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".caldb_history"))
}

/// The banner shown before the first prompt.
pub fn banner(session: &Session) -> String {
    let mut text = format!("caldb {}\nEnter \".help\" for usage hints.\n", env!("CARGO_PKG_VERSION"));
    if session.db.path().is_none() {
        text.push_str("Connected to a transient in-memory database.\n");
        text.push_str("Use \".open FILE\" to reopen on a persistent database.\n");
    }
    text
}

/// Reads and runs lines until end of input or `.quit`; returns the status.
pub fn run(session: &mut Session) -> i32 {
    // List every candidate, as a shell user expects, rather than cycling.
    let config = rustyline::Config::builder().completion_type(rustyline::CompletionType::List).build();
    let mut editor: Editor<ShellHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("error: cannot start line editing: {e}");
            return 2;
        }
    };
    editor.set_helper(Some(ShellHelper::new(session.completion_names())));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    session.interactive = true;
    let _ = std::io::stdout().write_all(banner(session).as_bytes());
    read_loop(session, &mut editor, history.as_deref())
}

/// Adds an entered statement or dot-command to the history, and to the
/// history file at once: a shell that is killed keeps what was typed.
fn remember(editor: &mut Editor<ShellHelper, DefaultHistory>, entry: &str, file: Option<&Path>) {
    if entry.trim().is_empty() || editor.add_history_entry(entry).ok() != Some(true) {
        return;
    }
    if let Some(path) = file {
        let _ = editor.append_history(path);
    }
}

fn read_loop(session: &mut Session, editor: &mut Editor<ShellHelper, DefaultHistory>, file: Option<&Path>) -> i32 {
    let mut splitter = Splitter::new(1);
    // The lines of the statement being typed, for one history entry.
    let mut typed: Vec<String> = Vec::new();
    let mut interrupts = 0;
    loop {
        let prompt = if splitter.is_pending() { CONTINUATION } else { PROMPT };
        let text = match editor.readline(prompt) {
            Ok(text) => text,
            Err(ReadlineError::Interrupted) => {
                // sqlite3: a second Ctrl-C with nothing entered between leaves.
                interrupts += 1;
                if interrupts > 1 && !splitter.is_pending() {
                    break;
                }
                splitter.clear();
                typed.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        };
        interrupts = 0;
        // A statement brought back from history comes as several lines.
        for line in text.split('\n') {
            typed.push(line.to_string());
            let items = splitter.push_line(line);
            if !splitter.is_pending() {
                remember(editor, &typed.join("\n"), file);
                typed.clear();
            }
            if let Flow::Exit(code) = run_items(session, &items) {
                return code;
            }
            // Only something run can have changed the names
            if !items.is_empty()
                && let Some(helper) = editor.helper_mut()
            {
                helper.set_names(session.completion_names());
            }
        }
    }
    if let Some(item) = splitter.finish()
        && let Flow::Exit(code) = session.run_item(&item, &Origin::Interactive)
    {
        return code;
    }
    session.status()
}

/// Runs what a line completed; an interrupted statement ends the line's
/// other items too, as Ctrl-C means stop.
fn run_items(session: &mut Session, items: &[crate::split::Item]) -> Flow {
    for item in items {
        // Bail stops scripts, not the person at the prompt.
        if let Flow::Exit(code) = session.run_item(item, &Origin::Interactive) {
            return Flow::Exit(code);
        }
        if progress::take_interrupted() {
            break;
        }
    }
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_keywords_in_the_case_typed() {
        let helper = ShellHelper::new(vec!["servers".into(), "ls1".into()]);
        assert_eq!(helper.candidates("sel", 3), (0, vec!["select".to_string()]));
        assert_eq!(helper.candidates("SELECT * FROM SERV", 18).1, vec!["SERVER", "SERVERS", "servers"]);
        assert_eq!(helper.candidates("SHOW HOST ls", 12), (10, vec!["ls1".to_string()]));
    }

    #[test]
    fn keywords_outside_quotes_are_highlighted() {
        let shown = highlighted("select name from devices where name = 'from'", 0);
        assert!(shown.starts_with(&format!("{KEYWORD_ON}select{OFF} name {KEYWORD_ON}from{OFF} devices ")), "{shown}");
        assert!(shown.ends_with("= 'from'"), "text in quotes is left alone: {shown}");
    }

    #[test]
    fn the_bracket_matching_the_cursor_is_highlighted() {
        let line = "SET HOST h LICENSE SERVERS (ls1, (x))";
        let open = line.find('(').expect("a bracket");
        assert_eq!(matching_bracket(line, open), Some((open, line.len() - 1)));
        assert_eq!(matching_bracket(line, line.len()), Some((line.len() - 1, open)), "just after the close");
        assert_eq!(matching_bracket("a (b", 2), None, "an unmatched bracket has no pair");
        let shown = highlighted(line, open);
        assert_eq!(shown.matches(BRACKET_ON).count(), 2, "{shown}");
    }

    #[test]
    fn completes_a_name_typed_in_another_case_with_its_stored_spelling() {
        // Names compare without regard to case (docs/choices.md 44): the
        // stored spelling is offered whatever case was typed.
        let helper = ShellHelper::new(vec!["rdsh3".into(), "Ls1".into(), "Müller-PC".into()]);
        assert_eq!(helper.candidates("SHOW HOST RDS", 13), (10, vec!["rdsh3".to_string()]));
        assert_eq!(helper.candidates("ACTIVATE SERVER lS", 18), (16, vec!["Ls1".to_string()]));
        assert_eq!(helper.candidates("SHOW DEVICE MÜL", 16), (12, vec!["Müller-PC".to_string()]));
    }

    #[test]
    fn completes_dot_commands_at_line_start() {
        let helper = ShellHelper::new(Vec::new());
        assert_eq!(helper.candidates(".ti", 3), (0, vec![".timeout".to_string(), ".timer".to_string()]));
    }
}
