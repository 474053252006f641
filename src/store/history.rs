//! History as a typed log: every changing statement appends a row, one
//! per sequence number, and rows are never rewritten or deleted one by one
//! (a whole table is cleared at most). On disk the rows are in chunks: a
//! transaction keeps the rows it appends (`Appended`) and writes them at
//! its commit, up to `CHUNK_ROWS` of them (and about `CHUNK_BYTES`) to one
//! entry, keyed by the sequence number of the chunk's last row. Readers
//! see rows, each under its own key: `Reader::scan(T::History, ..)` walks
//! the chunks (`stored_rows`), then a write transaction's appended rows.
//!
//! A chunk: the row count (u32 LE), then per row its sequence number (u64
//! BE), its length (u32 LE) and the row (a `HistoryRec`, bincode).

use super::tables::Visit;
use crate::error::{Error, Result};

/// At most this many rows to a chunk.
pub const CHUNK_ROWS: usize = 64;
/// A chunk is closed once it holds this many bytes (a row longer than that
/// is a chunk of its own), so it stays on one redb page.
pub const CHUNK_BYTES: usize = 1800;

/// The sequence number a key names: a key shorter than 8 bytes (a bound)
/// is padded with zeros, as it sorts.
pub fn seq_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// Appends the rows, in order, to chunks: (key, chunk) pairs.
pub fn chunks(rows: &[(u64, Vec<u8>)]) -> Vec<([u8; 8], Vec<u8>)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < rows.len() && end - start < CHUNK_ROWS && (end == start || bytes < CHUNK_BYTES) {
            bytes += 12 + rows[end].1.len();
            end += 1;
        }
        let part = &rows[start..end];
        let mut chunk = Vec::with_capacity(4 + bytes);
        chunk.extend_from_slice(&(part.len() as u32).to_le_bytes());
        for (seq, row) in part {
            chunk.extend_from_slice(&seq.to_be_bytes());
            chunk.extend_from_slice(&(row.len() as u32).to_le_bytes());
            chunk.extend_from_slice(row);
        }
        out.push((part[part.len() - 1].0.to_be_bytes(), chunk));
        start = end;
    }
    out
}

/// The number of rows of a chunk.
pub fn row_count(chunk: &[u8]) -> Result<u64> {
    let head = chunk.get(..4).ok_or_else(damaged)?;
    Ok(u64::from(u32::from_le_bytes(head.try_into().expect("4 bytes"))))
}

/// Visits the rows of a chunk, in order, until `f` returns false; whether
/// it went to the end.
pub fn visit(chunk: &[u8], f: &mut dyn FnMut(u64, &[u8]) -> Result<bool>) -> Result<bool> {
    let n = row_count(chunk)?;
    let mut at = 4;
    for _ in 0..n {
        let head = chunk.get(at..at + 12).ok_or_else(damaged)?;
        let seq = u64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) as usize;
        let row = chunk.get(at + 12..at + 12 + len).ok_or_else(damaged)?;
        at += 12 + len;
        if !f(seq, row)? {
            return Ok(false);
        }
    }
    if at != chunk.len() {
        return Err(damaged());
    }
    Ok(true)
}

/// A scan of the stored chunks, from a chunk key on, to the end.
pub(super) type ChunkScan<'s> = dyn Fn(&[u8], &mut Visit) -> Result<()> + 's;

/// A scan of rows from a key to another.
pub(super) type RowScan<'s> = dyn FnMut(&[u8], &[u8], &mut Visit) -> Result<()> + 's;

/// Visits the stored rows with sequence numbers in `[from, to)`, each
/// under its own key, from the chunks that `chunks` finds; whether the
/// visitor went on to the end.
pub(super) fn stored_rows(chunks: &ChunkScan, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<bool> {
    let (from, to) = (seq_of(from), to.map(seq_of));
    let mut more = true;
    // The first chunk that can hold `from` is the first whose last row is
    // at or after it.
    chunks(&from.to_be_bytes(), &mut |_, chunk| {
        visit(chunk, &mut |seq, row| {
            if seq < from {
                return Ok(true);
            }
            more = to.is_none_or(|to| seq < to) && f(&seq.to_be_bytes(), row)?;
            Ok(more)
        })
    })?;
    Ok(more)
}

/// The number of stored rows, from the chunks that `chunks` finds.
pub(super) fn stored_count(chunks: &ChunkScan) -> Result<u64> {
    let mut n = 0;
    chunks(b"", &mut |_, chunk| {
        n += row_count(chunk)?;
        Ok(true)
    })?;
    Ok(n)
}

/// The row stored under `key` (a sequence number), through `rows` (a scan
/// of rows from, to).
pub(super) fn row(key: &[u8], rows: &mut RowScan) -> Result<Option<Vec<u8>>> {
    if key.len() != 8 {
        return Ok(None);
    }
    let seq = seq_of(key);
    let mut out = None;
    let Some(next) = seq.checked_add(1) else { return Ok(None) };
    rows(key, &next.to_be_bytes(), &mut |_, v| {
        out = Some(v.to_vec());
        Ok(false)
    })?;
    Ok(out)
}

/// A write that would edit the log: rows are only appended, so such a call
/// is a bug (crash rather than corrupt the prefix the crash tests read).
pub(super) fn never_edited() -> ! {
    panic!("history rows are never deleted one by one")
}

/// The rows a write transaction appended, written in chunks at its commit.
#[derive(Default)]
pub(super) struct Appended {
    /// (sequence number, row), in order.
    rows: Vec<(u64, Vec<u8>)>,
    /// The last stored row's sequence number, once looked up: a row is
    /// only ever appended after it.
    last_stored: Option<u64>,
}

impl Appended {
    /// Appends a row; it must come after every row there is. `last_stored`
    /// finds the last stored row's sequence number (0: none), looked up
    /// once.
    pub(super) fn append(&mut self, seq: u64, row: &[u8], last_stored: impl FnOnce() -> Result<u64>) -> Result<()> {
        let last = match (self.rows.last(), self.last_stored) {
            (Some((last, _)), _) => *last,
            (None, Some(last)) => last,
            (None, None) => *self.last_stored.insert(last_stored()?),
        };
        assert!(seq > last, "history row {seq} written after row {last}");
        self.rows.push((seq, row.to_vec()));
        Ok(())
    }

    /// The appended rows in `[from, to)`.
    pub(super) fn range(&self, from: &[u8], to: Option<&[u8]>) -> &[(u64, Vec<u8>)] {
        let (from, to) = (seq_of(from), to.map(seq_of));
        let start = self.rows.partition_point(|(s, _)| *s < from);
        let end = to.map_or(self.rows.len(), |to| self.rows.partition_point(|(s, _)| *s < to));
        &self.rows[start..end.max(start)]
    }

    /// The number of appended rows.
    pub(super) fn len(&self) -> u64 {
        self.rows.len() as u64
    }

    /// Forgets the appended rows, as the stored ones are cleared.
    pub(super) fn clear(&mut self) {
        self.rows.clear();
        self.last_stored = Some(0);
    }

    /// The appended rows in chunks (key, chunk), to store; none remain.
    pub(super) fn take_chunks(&mut self) -> Vec<([u8; 8], Vec<u8>)> {
        chunks(&std::mem::take(&mut self.rows))
    }
}

fn damaged() -> Error {
    Error::Storage("a history chunk is damaged".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[([u8; 8], Vec<u8>)]) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        for (key, c) in chunks {
            let mut last = 0;
            visit(c, &mut |seq, row| {
                out.push((seq, row.to_vec()));
                last = seq;
                Ok(true)
            })
            .expect("visit");
            assert_eq!(seq_of(key), last, "a chunk is keyed by its last row");
        }
        out
    }

    #[test]
    fn rows_come_back_in_order_from_chunks_of_bounded_size() {
        let rows: Vec<(u64, Vec<u8>)> = (1..=300).map(|s| (s, vec![s as u8; (s as usize * 7) % 250])).collect();
        let made = chunks(&rows);
        assert_eq!(read_all(&made), rows);
        assert!(made.len() > 300 / CHUNK_ROWS, "byte-bounded chunks: {}", made.len());
        for (_, c) in &made {
            assert!(row_count(c).expect("count") as usize <= CHUNK_ROWS);
            assert!(c.len() <= 4 + CHUNK_BYTES + 12 + 250, "a chunk of {} bytes", c.len());
        }
        let long = vec![(7, vec![1; 5000]), (8, vec![2; 3])];
        assert_eq!(chunks(&long).len(), 2, "a long row is a chunk of its own");
        assert_eq!(read_all(&chunks(&long)), long);
    }

    #[test]
    fn a_damaged_chunk_is_an_error_not_a_panic() {
        let good = chunks(&[(1, b"abc".to_vec()), (2, b"de".to_vec())]).remove(0).1;
        for cut in 0..good.len() {
            assert!(visit(&good[..cut], &mut |_, _| Ok(true)).is_err(), "cut at {cut}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(visit(&longer, &mut |_, _| Ok(true)).is_err());
    }
}
