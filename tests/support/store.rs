//! Reading a store's raw entries from tests, to compare two databases (or
//! one before and after) entry by entry.

#![allow(dead_code)]

use caldb::Time;
use caldb::store::{Reader, Store, T};

/// A stored entry: its table, key and value.
pub type Entry = (T, Vec<u8>, Vec<u8>);

/// Every entry of `tables`, in table then key order, and `expired_through`.
pub fn entries(store: &Store, tables: &[T]) -> (Vec<Entry>, Time) {
    let r = store.read().expect("read");
    let mut out = Vec::new();
    for &t in tables {
        r.scan(t, b"", None, &mut |k, v| {
            out.push((t, k.to_vec(), v.to_vec()));
            Ok(true)
        })
        .expect("scan");
    }
    (out, r.expired_through().expect("expired_through"))
}
