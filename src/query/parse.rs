//! Text to `ast::Statement`: the statement grammar of language.md, written
//! with nom over `&str`. This is the only module that names nom. Errors are
//! `Error::Parse` pointing at the token where parsing failed (byte offset,
//! 1-based line and character column); no input makes the parser panic, and
//! nesting is bounded so that no input exhausts the stack.
//!
//! `split_statements` cuts a script into statements at each `;` outside
//! quotes and comments; `is_complete` tells an interactive shell whether a
//! buffer ends a statement.

mod client;
mod lex;
mod restore;
mod select;
mod stmt;

pub use lex::{KEYWORDS, is_bare_name, is_word_char};

use crate::error::{Error, Result};
use crate::query::ast::Statement;

/// One statement's text within a script, as split by `split_statements`.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementText<'a> {
    /// The statement's text, without its terminating `;`.
    pub text: &'a str,
    /// Byte offset of `text` within the script.
    pub offset: usize,
    /// Byte offset within `text` of its first character that is neither
    /// blank nor comment.
    pub content: usize,
    /// 1-based line of the statement's first non-blank character.
    pub line: usize,
    /// Whether the statement was terminated by `;` (false only for the last).
    pub terminated: bool,
}

/// Splits a script into statements at each `;` that is outside quotes and
/// comments (`--` to the line end, `/* ... */` across lines). Pieces that hold only blanks and comments are left out. An
/// unterminated quote runs to the end of the script.
pub fn split_statements(script: &str) -> Vec<StatementText<'_>> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut line, mut start_line) = (0, 1, 1);
    let (mut in_quote, mut in_comment) = (false, false);
    // Where the open `/* */` comment's `/*` is.
    let mut in_block: Option<usize> = None;
    for (pos, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            line += 1;
            in_comment = false;
        } else if let Some(open) = in_block {
            if b == b'/' && pos >= open + 3 && bytes[pos - 1] == b'*' {
                in_block = None;
            }
        } else if in_comment {
        } else if b == b'\'' {
            in_quote = !in_quote;
        } else if in_quote {
        } else if b == b'-' && bytes.get(pos + 1) == Some(&b'-') {
            in_comment = true;
        } else if b == b'/' && bytes.get(pos + 1) == Some(&b'*') {
            in_block = Some(pos);
        } else if b == b';' {
            out.extend(piece(script, start, pos, start_line, true));
            (start, start_line) = (pos + 1, line);
        }
    }
    out.extend(piece(script, start, script.len(), start_line, false));
    out
}

/// The statement `script[start..end]`, unless it holds only blanks and
/// comments; `line` is the line `start` is on.
fn piece(script: &str, start: usize, end: usize, line: usize, terminated: bool) -> Option<StatementText<'_>> {
    let text = script.get(start..end)?;
    let content = lex::ws(text);
    if content.is_empty() {
        return None;
    }
    let skipped = text.len() - content.len();
    let line = line + text[..skipped].matches('\n').count();
    Some(StatementText { text, offset: start, content: skipped, line, terminated })
}

/// Whether `buffer` holds at least one statement and ends (but for blanks and
/// comments) with a `;` outside quotes: an interactive shell shows a
/// continuation prompt while this is false.
pub fn is_complete(buffer: &str) -> bool {
    split_statements(buffer).last().is_some_and(|s| s.terminated)
}

/// Parses one statement (a trailing `;` is allowed).
pub fn parse_statement(text: &str) -> Result<Statement> {
    if stmt::at_end(text) {
        let msg = "empty statement".to_string();
        return Err(to_error(text, lex::PErr { rem: text.len(), msg }));
    }
    match stmt::statement(text) {
        Ok((rest, s)) => match finish(rest) {
            None => Ok(s),
            Some(e) => Err(to_error(text, e)),
        },
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(to_error(text, e)),
        Err(nom::Err::Incomplete(_)) => Err(to_error(text, lex::PErr { rem: 0, msg: "incomplete statement".into() })),
    }
}

/// The error for text left after a complete statement, if any.
fn finish(rest: &str) -> Option<lex::PErr> {
    let mut i = lex::ws(rest);
    if let Some(r) = i.strip_prefix(';') {
        i = lex::ws(r);
    }
    if i.is_empty() {
        return None;
    }
    let msg = format!("unexpected text after the statement: {}", lex::found(i));
    Some(lex::PErr { rem: i.len(), msg })
}

fn to_error(text: &str, e: lex::PErr) -> Error {
    let offset = text.len().saturating_sub(e.rem);
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let message =
        if e.msg.is_empty() { format!("unexpected {}", lex::found(&text[offset.min(text.len())..])) } else { e.msg };
    Error::Parse { message, offset, line, column }
}
