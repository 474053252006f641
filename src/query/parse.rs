//! Text to `ast::Statement`. The only module that names nom.

use crate::error::{Error, Result};
use crate::query::ast::Statement;

/// One statement's text within a script, as split by `split_statements`.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementText<'a> {
    /// The statement's text, without its terminating `;`.
    pub text: &'a str,
    /// Byte offset of `text` within the script.
    pub offset: usize,
    /// 1-based line of the statement's first non-blank character.
    pub line: usize,
    /// Whether the statement was terminated by `;` (false only for the last).
    pub terminated: bool,
}

/// Splits a script into statements at each `;` that is outside quotes and
/// comments. Pieces that hold only blanks and comments are left out.
pub fn split_statements(script: &str) -> Vec<StatementText<'_>> {
    let _ = script;
    Vec::new()
}

/// Parses one statement (a trailing `;` is allowed).
pub fn parse_statement(text: &str) -> Result<Statement> {
    let _ = text;
    Err(Error::Parse { message: "parser not yet written".into(), offset: 0, line: 1, column: 1 })
}
