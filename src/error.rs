//! The one error type of caldb. A user mistake is a `Parse` error (the text
//! is malformed, with its line and column) or a `Plan` error (well formed, but
//! names something that does not exist or breaks a rule). `Storage` is the
//! file or the disk failing. `Damaged` is a stored record or page that fails
//! its checksum or cannot be decoded: the file cannot be trusted (the shell
//! exits 2), and no write is accepted until REPAIR or a restore. A denied connection is never an error: it is an
//! outcome (see `protocol`).

use std::fmt;

/// Why a statement (or opening a database) failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Malformed statement text.
    Parse {
        /// What is wrong, in plain words.
        message: String,
        /// The byte offset of the bad spot within the statement.
        offset: usize,
        /// The bad spot's line within the statement, 1-based.
        line: usize,
        /// The bad spot's character column within its line, 1-based.
        column: usize,
    },
    /// A well-formed statement that cannot be carried out.
    Plan {
        /// What is wrong, in plain words.
        message: String,
        /// The offending text, when there is one, so a shell can point at it.
        near: Option<String>,
    },
    /// The database file or the disk failed.
    Storage(String),
    /// A bug: a broken invariant (an assertion) stopped the statement, and
    /// its effects were discarded.
    Internal(String),
    /// A statement inside a BEGIN block that an earlier error (in the
    /// statement named by `cause`) rolled back: it is refused until COMMIT
    /// or ROLLBACK ends the block. `at_commit`: it was that COMMIT, which
    /// ended the block and committed nothing.
    Aborted {
        /// The keywords of the statement whose error rolled the block back.
        cause: String,
        /// The refused statement was the COMMIT that ended the block.
        at_commit: bool,
    },
    /// The statement was stopped by `InterruptHandle::interrupt` (Ctrl-C in
    /// the shell); like any failed statement, it changed nothing. Inside
    /// BEGIN ... COMMIT the whole block was rolled back (`block`).
    Interrupted {
        /// The statement was inside a BEGIN block, which was rolled back.
        block: bool,
    },
    /// Stored data that fails its checksum or cannot be decoded: `table`
    /// and `key` say where (either may be empty when not known), `detail`
    /// what was found.
    Damaged {
        /// The table the damaged entry is in.
        table: String,
        /// The damaged entry's key, as text.
        key: String,
        /// What was found.
        detail: String,
    },
}

/// caldb's `Result`, with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A plan error with no text to point at.
    pub fn plan(message: impl Into<String>) -> Error {
        Error::Plan { message: message.into(), near: None }
    }

    /// A plan error about the quoted text `near`, which the shell may point at.
    pub fn plan_near(message: impl Into<String>, near: impl Into<String>) -> Error {
        Error::Plan { message: message.into(), near: Some(near.into()) }
    }

    /// A storage error from any displayable cause.
    pub fn storage(e: impl fmt::Display) -> Error {
        Error::Storage(e.to_string())
    }

    /// Damage found with no table or key known yet (a value's decoding);
    /// the reader that knows them fills them in (`at`).
    pub fn damaged(detail: impl Into<String>) -> Error {
        Error::Damaged { table: String::new(), key: String::new(), detail: detail.into() }
    }

    /// Whether this error says the file cannot be trusted.
    pub fn is_damage(&self) -> bool {
        matches!(self, Error::Damaged { .. })
    }

    /// The error's message without its kind's prefix or position.
    pub fn message(&self) -> String {
        match self {
            Error::Parse { message, .. } | Error::Plan { message, .. } => message.clone(),
            Error::Storage(m) | Error::Internal(m) => m.clone(),
            Error::Damaged { detail, .. } => detail.clone(),
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
            Error::Damaged { table, key, detail } => {
                f.write_str("damaged")?;
                if !table.is_empty() {
                    write!(f, ": table {table}")?;
                }
                if !key.is_empty() {
                    write!(f, ", key {key}")?;
                }
                write!(f, ": {detail}")
            }
        }
    }
}

impl std::error::Error for Error {}
