//! The file of a serving process (`Shared::open`), in the redb mode the
//! moment needs: held alone (`Sharing::Exclusive`: one fdatasync per
//! commit) while no other process asks for it, shared (`Sharing::Serving`,
//! the multi-process mode: two) while one knocks (`store::opening`). The
//! switch closes the file and opens it again between two groups.

use super::Database;
use crate::error::{Error, Result};
use crate::store::{Sharing, Store, is_already_open};
use std::path::Path;

impl Database {
    /// Opens `path` for a serving process: alone if no other process has
    /// it open or asks for it, else shared, knocking like any other
    /// process (so a server that holds it alone lets go).
    pub(crate) fn open_serving(path: &Path, knocked: bool) -> Result<(Database, Sharing)> {
        let first = if knocked { Sharing::Serving } else { Sharing::Exclusive };
        match Store::open_as(path, first) {
            Ok(store) => Ok((Database::with_store(store, Default::default()), first)),
            Err(e) if is_already_open(&e) => {
                let store = Store::open_as(path, Sharing::Client)?;
                Ok((Database::with_store(store, Default::default()), Sharing::Client))
            }
            Err(e) => Err(e),
        }
    }

    /// Closes the file and opens it again as `to` says; if that fails (a
    /// process opened it in between), opens it again as `from`. Nothing
    /// is lost either way: no transaction is open between two groups.
    pub(crate) fn reopen_as(&mut self, from: Sharing, to: Sharing) -> Result<Sharing> {
        let Some(path) = self.store.path().map(Path::to_path_buf) else { return Ok(from) };
        if self.in_transaction() || self.broken.is_some() {
            return Ok(from);
        }
        // One handle of a file per process: the open one goes first.
        drop(std::mem::replace(&mut self.store, Store::in_memory()?));
        match Store::open_as(&path, to) {
            Ok(store) => {
                self.store = store;
                Ok(to)
            }
            Err(first) => match Store::open_as(&path, from) {
                Ok(store) => {
                    self.store = store;
                    Ok(from)
                }
                Err(e) => {
                    self.broken = Some(e.to_string());
                    Err(Error::Storage(format!("{first}; and opening it again failed: {e}")))
                }
            },
        }
    }
}
