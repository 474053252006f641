//! Runs statements against the store: one redb write transaction per
//! statement (or per BEGIN ... COMMIT block), with its history row.

use crate::error::{Error, Result};
use crate::model::ResultSet;
use std::path::{Path, PathBuf};

/// How to open a database file.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Refuse every statement that would change the database.
    pub read_only: bool,
}

/// An open caldb database and the state of one connection to it (its open
/// BEGIN ... COMMIT block, if any).
pub struct Database {
    path: Option<PathBuf>,
    options: OpenOptions,
}

impl Database {
    /// Opens (creating if missing) a database file.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Database> {
        Ok(Database { path: Some(path.to_path_buf()), options: options.clone() })
    }

    /// A new temporary database in memory.
    pub fn open_in_memory() -> Result<Database> {
        Ok(Database { path: None, options: OpenOptions::default() })
    }

    /// The file, or `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn is_read_only(&self) -> bool {
        self.options.read_only
    }

    /// Parses and runs one statement. Statements that return nothing give
    /// `Ok(None)`.
    pub fn execute(&mut self, text: &str) -> Result<Option<ResultSet>> {
        let _ = crate::query::parse_statement(text)?;
        Err(Error::plan("not yet written"))
    }

    /// Whether a BEGIN is open.
    pub fn in_transaction(&self) -> bool {
        false
    }

    /// Every table, every row, in key order, as statements-free text (`.dump`).
    pub fn dump(&mut self) -> Result<String> {
        Ok(String::new())
    }

    /// The names of the tables, in the order of language.md.
    pub fn table_names() -> Vec<&'static str> {
        Vec::new()
    }

    /// The columns of a table, or `None` for an unknown table.
    pub fn table_columns(table: &str) -> Option<Vec<&'static str>> {
        let _ = table;
        None
    }

    /// The `.schema` text of one table or of all.
    pub fn schema_text(table: Option<&str>) -> Result<String> {
        let _ = table;
        Ok(String::new())
    }

    /// Names of servers, hosts, devices and farms, for tab completion.
    pub fn completion_names(&self) -> Vec<String> {
        Vec::new()
    }
}
