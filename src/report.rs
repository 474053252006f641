//! Administration and audit: the REPORT statements and the WMI CSV layouts
//! (Win32_TSIssuedLicense, Win32_TSLicenseKeyPack) for EXPORT and IMPORT.
//! This module reads and writes through `store` only; it never sees query
//! text or output modes, and never commits: IMPORT writes into the caller's
//! transaction, so an error leaves nothing behind.
//!
//! The result columns, one row each as described:
//!
//! - `REPORT USAGE`, one row per server, product and CAL type: `server`,
//!   `product`, `cal` (`device`/`user`), `installed` (CALs of the key packs),
//!   `issued` (device: active permanent licenses; user: per-user CALs tracked
//!   in `user_cals` and not expired), `available` (installed - issued, never
//!   below 0), `temporary` (live temporary licenses), `revoked` (licenses in
//!   the revoked state), `revocable` (how many more may be revoked now under
//!   the 20% rule; 0 for per-user CALs, which cannot be revoked),
//!   `inferred_keypacks` (how many of the key packs counted were inferred
//!   by IMPORT LICENSES: product and CAL type a stand-in, total what the
//!   licenses show, until IMPORT KEYPACKS completes them).
//! - `REPORT DUPLICATES`, one row per finding and server: `finding`
//!   (`shared-hwid`: one HWID on several computers; `several-hwids`: one
//!   computer under several HWIDs; `several-cals`: one HWID holding several
//!   live CALs), `server` (NULL when only devices share the HWID), `hwid` (the
//!   HWID, or the HWIDs comma-separated), `computers`, `licenses` (ids of the
//!   live licenses, comma-separated), `live_cals` (active permanent licenses),
//!   `wasted_cals` (live CALs beyond the one needed), `returns` (latest
//!   expiry of the wasted ones: when they are all back), `cause` and `fix`
//!   (seed 002).
//! - `REPORT USERS`, one row per server and product: `server`, `product`,
//!   `tracked` (live per-user CALs), `installed` (per-user CALs installed),
//!   `over_allocated` (tracked - installed when positive, else 0).
//! - `REPORT EXPIRING [WITHIN n DAYS]` (default 90), one row per day, server
//!   and product: `day` (`YYYY-MM-DD`), `server`, `product`, `cals` (active
//!   permanent and revoked licenses reaching their expiry that day), `bar`
//!   (`#` characters, 40 for the busiest day, at least 1). The bar is always
//!   a column: query does not know the terminal, and csv or json readers can
//!   drop it.
//! - `EXPORT ... TO f`: `file`, `rows`. `IMPORT LICENSES|KEYPACKS FROM f
//!   [INTO SERVER s] [AS OF t] [options]`: `file`, `server` (the servers the
//!   rows went into, by name, comma-separated), `rows`, `passed_over` (rows
//!   not imported: of other servers), `inferred_keypacks` (LICENSES) or
//!   `completed_keypacks` (KEYPACKS), `as_of` (the instant the file
//!   describes), `clock` (`set`: the audit database's clock moved to it;
//!   `kept`), `note` (why rows were passed over and what was read
//!   differently from the file's words, with counts; NULL when nothing).
//!   `IMPORT USERS FROM f INTO SERVER s [options]`: `file`, `server`,
//!   `rows`, `passed_over` (users without a per-user CAL), `note`.
//!   `BACKUP TO f`: `file`, `rows` (records copied, indexes not counted).

pub mod duplicates;
pub mod expiring;
pub mod export;
pub mod import;
pub mod import_licenses;
pub mod import_servers;
pub mod import_users;
pub mod progress;
pub mod read;
pub mod usage;
pub mod wmi;

pub use duplicates::duplicates;
pub use expiring::expiring;
pub use export::{export_keypacks, export_licenses};
pub use import::import_keypacks;
pub use import_licenses::import_licenses;
pub use import_users::import_users;
pub use usage::{usage, users};

use crate::error::Result;
use crate::store::{LicenseRec, Reader, T};

/// Visits every license in id order, one at a time (a million licenses
/// never sit in memory together), with a progress line for large databases.
fn for_each_license(r: &(impl Reader + ?Sized), mut f: impl FnMut(LicenseRec)) -> Result<()> {
    let total = r.count(T::Licenses)?;
    let mut bar = progress::Progress::new("reading licenses", total);
    let mut seen = 0u64;
    r.scan(T::Licenses, b"", None, &mut |_, v| {
        f(crate::store::codec::decode(v)?);
        seen += 1;
        bar.tick(seen)?;
        Ok(true)
    })?;
    Ok(())
}

/// Ids as a comma-separated list.
fn id_list(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}
