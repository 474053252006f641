//! The query language: `ast` (statements as data), `parse` (text to ast, the
//! only code that names nom) and `exec` (running a statement against the
//! store). `query` never writes to standard output; it returns result sets.

pub mod ast;
pub mod exec;
pub mod parse;
pub mod print;

pub use exec::{Database, OpenOptions};
pub use parse::{is_complete, parse_statement, split_statements, StatementText};
