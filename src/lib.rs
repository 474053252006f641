//! caldb: the Remote Desktop (Terminal Services) license server, its
//! database of key packs and issued client access licenses (CALs) and its
//! allocation protocol, as an embedded database with a query language.
//!
//! Open a [`Database`], run statements with [`Database::execute`] (results
//! come back as a [`ResultSet`]) or a connection with
//! [`Database::connect`] (a typed [`Outcome`]). A process that serves
//! many threads at once (a session host's clients) shares one [`Shared`]
//! handle: each call is its own durable transaction, and the calls that
//! arrive together share one commit. Everything else is internal.

#![deny(missing_docs)]
// Without the `internals` feature the internal modules are private, and the
// items only the project's tests reach look unused; with it nothing public
// is, as before the modules were private.
#![cfg_attr(not(feature = "internals"), allow(dead_code, unused_imports))]

mod error;
mod interrupt;

// The internal modules: private, except as test hooks for the project's
// own tests, benchmarks and examples, which build with the `internals`
// feature (Cargo.toml's dev-dependency on caldb itself turns it on); then
// they are public but hidden from the documentation. Not an API.
macro_rules! internal_modules {
    ($($m:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $m;
        #[cfg(not(feature = "internals"))]
        mod $m;
    )*};
}
internal_modules!(check, clock, licensing, model, protocol, query, report, safe_write, spill, store);

pub use check::{upgrade, upgrade_watched};
pub use error::{Error, Result};
pub use interrupt::{InterruptHandle, Progress, ProgressFn};
pub use licensing::{ClientInfo, ErrorCode, Exchange, FrontError, Step, Transition, Verdict, report_logon};
pub use model::{
    CalType, Hwid, KeypackType, LicenseKind, LicenseStatus, Mode, Product, ReasonCode, ResultSet, Time, Value,
};
pub use protocol::{ConnectRequest, Destination, Outcome};
pub use query::{Database, OpenOptions, Shared};
pub use safe_write::{Sink, Temp};
pub use store::compact::{Compacted, compact, compact_watched};
pub use store::opening::set_busy_timeout;

/// The statement language as text, for a shell: splitting a script into
/// statements, the words it completes and highlights, and what a result
/// means to the person reading it.
pub mod language {
    pub use crate::query::describe::{empty_result, is_wide_report};
    pub use crate::query::parse::{KEYWORDS, is_word_char};
    pub use crate::query::split_statements;
}
