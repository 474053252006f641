//! The query language: `ast` (statements as data), `parse` (text to ast, the
//! only code that names nom), `exec` (transactions and the Database handle),
//! `run` (statement dispatch), `select`/`group`/`catalog` (SELECT over the
//! tables), `show`, `dump`, `admin`. `query` never writes to standard
//! output; it returns result sets.

pub mod admin;
pub mod ast;
pub mod catalog;
pub mod describe;
pub mod dump;
pub mod exec;
pub mod group;
pub mod parse;
pub mod plan;
pub mod print;
pub mod run;
pub mod select;
pub mod group_commit;
pub mod shared;
pub mod show;
pub mod suggest;

pub use exec::{Database, OpenOptions};
pub use shared::Shared;
pub use parse::{StatementText, is_complete, parse_statement, split_statements};
