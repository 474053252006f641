//! CHECK's and REPAIR's view of the secondary indexes: the entries the
//! license, device and session records imply, sorted through `spill` (so
//! within its budget however many there are), merged with each index as
//! stored, in one ordered walk of each: no index is held in memory.

use crate::error::Result;
use crate::model::SessionState;
use crate::spill::{Sorted, Sorter};
use crate::store::*;
use std::cmp::Ordering;

/// An index entry: the index's place in `T::indexes()`, its key, its value.
type Entry = (u8, Vec<u8>, Vec<u8>);
type ByIndexAndKey = fn(&Entry, &Entry) -> Ordering;

fn by_index_and_key(a: &Entry, b: &Entry) -> Ordering {
    (a.0, &a.1).cmp(&(b.0, &b.1))
}

/// The index entries the records imply, for some of the indexes.
pub struct Derived {
    sorter: Sorter<Entry, ByIndexAndKey>,
    wanted: Vec<T>,
}

impl Derived {
    /// The entries of every index.
    pub fn new() -> Derived {
        Derived::of(T::indexes())
    }

    /// The entries of the indexes `wanted` only.
    pub fn of(wanted: &[T]) -> Derived {
        Derived { sorter: Sorter::new(by_index_and_key as ByIndexAndKey), wanted: wanted.to_vec() }
    }

    fn push(&mut self, t: T, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        if !self.wanted.contains(&t) {
            return Ok(());
        }
        let Some(tag) = T::indexes().iter().position(|i| *i == t) else {
            unreachable!("{} is not an index", t.name())
        };
        let size = key.len() + value.len();
        self.sorter.push((tag as u8, key, value), size)
    }

    /// A license's entries in the four license indexes.
    pub fn add_license(&mut self, l: &LicenseRec) -> Result<()> {
        for (t, key, value) in license_index_keys(l) {
            if let Some(key) = key {
                self.push(t, key, value.to_vec())?;
            }
        }
        Ok(())
    }

    /// The device and live-session index entries, from their records.
    pub fn add_devices_and_sessions(&mut self, r: &(impl Reader + ?Sized)) -> Result<()> {
        r.scan(T::Devices, b"", None, &mut |_, v| {
            let d: DeviceRec = codec::decode(v)?;
            self.push(T::IdxDeviceHwid, idx_device_hwid(&d.hwid, &d.name), Vec::new())?;
            Ok(true)
        })?;
        r.scan(T::Sessions, b"", None, &mut |_, v| {
            let s: SessionRec = codec::decode(v)?;
            if s.state != SessionState::Ended {
                self.push(T::IdxSessionLive, session_live_key(&s.user, &s.host), codec::encode(&s.id)?)?;
            }
            Ok(true)
        })
    }

    fn finish(self) -> Result<Want> {
        let mut want = Want { rest: self.sorter.finish()?, head: None };
        want.advance()?;
        Ok(want)
    }
}

/// The sorted derived entries, one looked at at a time.
struct Want {
    rest: Sorted<Entry, ByIndexAndKey>,
    head: Option<Entry>,
}

impl Want {
    /// Moves past the head and every entry equal to it in index and key.
    fn advance(&mut self) -> Result<()> {
        let last = self.head.take();
        loop {
            self.head = self.rest.next().transpose()?;
            match (&last, &self.head) {
                (Some(a), Some(b)) if by_index_and_key(a, b) == Ordering::Equal => continue,
                _ => return Ok(()),
            }
        }
    }

    fn head_of(&self, tag: u8) -> Option<&Entry> {
        self.head.as_ref().filter(|e| e.0 == tag)
    }
}

/// How an index as stored differs from the records.
#[derive(Default)]
pub struct Diff {
    missing: usize,
    extra: usize,
    wrong: usize,
}

impl Diff {
    /// CHECK's words for it.
    pub fn describe(&self) -> String {
        let mut msg = format!("{} entries missing, {} entries stale", self.missing, self.extra);
        if self.wrong > 0 {
            msg.push_str(&format!(", {} with a wrong value", self.wrong));
        }
        msg
    }

    /// REPAIR's words for having rebuilt it.
    pub fn describe_fix(&self) -> String {
        let mut fixed = format!("rebuilt: {} added, {} removed", self.missing, self.extra);
        if self.wrong > 0 {
            fixed.push_str(&format!(", {} corrected", self.wrong));
        }
        fixed
    }
}

/// Each index that differs from what the records imply, with how: both
/// walked in key order side by side.
pub fn compare_indexes(r: &(impl Reader + ?Sized), derived: Derived) -> Result<Vec<(T, Diff)>> {
    let mut want = derived.finish()?;
    let mut out = Vec::new();
    for (tag, &t) in T::indexes().iter().enumerate() {
        let tag = tag as u8;
        let mut d = Diff::default();
        r.scan(t, b"", None, &mut |k, v| {
            while let Some((_, wk, wv)) = want.head_of(tag) {
                match wk.as_slice().cmp(k) {
                    Ordering::Less => d.missing += 1,
                    Ordering::Equal => {
                        d.wrong += usize::from(wv.as_slice() != v);
                        want.advance()?;
                        return Ok(true);
                    }
                    Ordering::Greater => break,
                }
                want.advance()?;
            }
            d.extra += 1;
            Ok(true)
        })?;
        while want.head_of(tag).is_some() {
            d.missing += 1;
            want.advance()?;
        }
        if d.missing + d.extra + d.wrong > 0 {
            out.push((t, d));
        }
    }
    Ok(out)
}

/// Writes the derived entries into their (cleared) indexes, in key order.
pub fn write_indexes(tx: &mut WriteTx, derived: Derived) -> Result<()> {
    let mut want = derived.finish()?;
    while let Some((tag, k, v)) = want.head.take() {
        tx.put(T::indexes()[usize::from(tag)], &k, &v)?;
        want.head = Some((tag, k, v));
        want.advance()?;
    }
    Ok(())
}
