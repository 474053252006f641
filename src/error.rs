//! The one error type of caldb. A user mistake is a `Parse` error (the text
//! is malformed, with its line and column) or a `Plan` error (well formed, but
//! names something that does not exist or breaks a rule). `Storage` is the
//! file or the disk failing. A denied connection is never an error: it is an
//! outcome (see `protocol`).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Malformed statement text. `offset` is the byte offset of the bad spot
    /// within the statement; `line` and `column` are 1-based.
    Parse { message: String, offset: usize, line: usize, column: usize },
    /// A well-formed statement that cannot be carried out. `near` is the
    /// offending text, when there is one, so a shell can point at it.
    Plan { message: String, near: Option<String> },
    /// The database file or the disk failed.
    Storage(String),
    /// A bug: a broken invariant (an assertion) stopped the statement, and
    /// its effects were discarded.
    Internal(String),
    /// A statement inside a BEGIN block that an earlier error (in the
    /// statement named by `cause`) rolled back: it is refused until COMMIT
    /// or ROLLBACK ends the block. `at_commit`: it was that COMMIT, which
    /// ended the block and committed nothing.
    Aborted { cause: String, at_commit: bool },
    /// The statement was stopped by `InterruptHandle::interrupt` (Ctrl-C in
    /// the shell); like any failed statement, it changed nothing. Inside
    /// BEGIN ... COMMIT the whole block was rolled back (`block`).
    Interrupted { block: bool },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn plan(message: impl Into<String>) -> Error {
        Error::Plan { message: message.into(), near: None }
    }

    /// A plan error about the quoted text `near`, which the shell may point at.
    pub fn plan_near(message: impl Into<String>, near: impl Into<String>) -> Error {
        Error::Plan { message: message.into(), near: Some(near.into()) }
    }

    pub fn storage(e: impl fmt::Display) -> Error {
        Error::Storage(e.to_string())
    }

    pub fn message(&self) -> String {
        match self {
            Error::Parse { message, .. } | Error::Plan { message, .. } => message.clone(),
            Error::Storage(m) | Error::Internal(m) => m.clone(),
            Error::Aborted { .. } => self.to_string(),
            Error::Interrupted { block: false } => "interrupted".into(),
            Error::Interrupted { block: true } => "interrupted; the transaction was rolled back".into(),
        }
    }

    /// What an aborted block's refusal says after "the transaction was
    /// rolled back ...": that statements wait for COMMIT or ROLLBACK, or
    /// that COMMIT ended it with nothing committed.
    pub fn aborted_consequence(at_commit: bool) -> &'static str {
        if at_commit {
            "COMMIT ended it and nothing was committed"
        } else {
            "statements are ignored until COMMIT or ROLLBACK"
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse { message, line, column, .. } => {
                write!(f, "{message} (at line {line}, column {column})")
            }
            Error::Plan { message, .. } => f.write_str(message),
            Error::Storage(m) => write!(f, "storage: {m}"),
            Error::Internal(m) => write!(f, "internal error, the statement changed nothing: {m}"),
            Error::Aborted { cause, at_commit } => {
                let then = Error::aborted_consequence(*at_commit);
                write!(f, "the transaction was rolled back by the error in {cause}; {then}")
            }
            Error::Interrupted { .. } => f.write_str(&self.message()),
        }
    }
}

impl std::error::Error for Error {}
