//! The terminal front end: banner, prompts, line editing with rustyline,
//! history in `$HOME/.caldb_history` and tab completion of keywords, dot-
//! commands, tables, columns and the database's names. It feeds lines to a
//! `Splitter` and items to the `Session`; it never renders results itself.

use crate::dot;
use crate::session::{Flow, Origin, Session};
use crate::split::Splitter;
use caldb::query::parse::is_word_char;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use std::io::Write;
use std::path::PathBuf;

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
        let keywords = caldb::query::parse::KEYWORDS
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
}
impl Highlighter for ShellHelper {}
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
    let _ = std::io::stdout().write_all(banner(session).as_bytes());
    let status = read_loop(session, &mut editor);
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    status
}

fn read_loop(session: &mut Session, editor: &mut Editor<ShellHelper, DefaultHistory>) -> i32 {
    let mut splitter = Splitter::new(1);
    loop {
        let prompt = if splitter.is_pending() { CONTINUATION } else { PROMPT };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                splitter.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
        }
        let items = splitter.push_line(&line);
        for item in &items {
            // Bail stops scripts, not the person at the prompt.
            if let Flow::Exit(code) = session.run_item(item, &Origin::Interactive) {
                return code;
            }
        }
        // Only something run can have changed the names
        if !items.is_empty()
            && let Some(helper) = editor.helper_mut()
        {
            helper.set_names(session.completion_names());
        }
    }
    if let Some(item) = splitter.finish()
        && let Flow::Exit(code) = session.run_item(&item, &Origin::Interactive)
    {
        return code;
    }
    session.status()
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
    fn completes_dot_commands_at_line_start() {
        let helper = ShellHelper::new(Vec::new());
        assert_eq!(helper.candidates(".ti", 3), (0, vec![".timeout".to_string(), ".timer".to_string()]));
    }
}
