//! caldb: the Remote Desktop (Terminal Services) license server, its
//! database of key packs and issued client access licenses (CALs) and its
//! allocation protocol, as an embedded database with a query language.
//!
//! The public API is this short list; everything else is internal.

pub mod check;
pub mod clock;
pub mod error;
pub mod interrupt;
pub mod model;
pub mod protocol;
pub mod query;
pub mod report;
pub mod safe_write;
pub mod store;

pub use error::{Error, Result};
pub use interrupt::{InterruptHandle, Progress};
pub use model::{Hwid, Product, ReasonCode, ResultSet, Time, Value};
pub use protocol::{ConnectRequest, Destination, Outcome};
pub use query::{Database, OpenOptions};
