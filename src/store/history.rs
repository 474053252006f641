//! History as a typed log: every changing statement appends a row, one
//! per sequence number, and rows are never rewritten or deleted one by one
//! (a whole table is cleared at most). On disk the rows are in chunks: a
//! transaction keeps the rows it appends (`Appended`) and writes them at
//! its commit, up to `CHUNK_ROWS` of them (and about `CHUNK_BYTES`, and no
//! more than fit `CHUNK_PACKED` compressed) to one entry, keyed by the
//! sequence number of the chunk's last row. Readers
//! see rows, each under its own key: `Reader::scan(T::History, ..)` walks
//! the chunks (`stored_rows`), then a write transaction's appended rows.
//!
//! A chunk (format 5): the row count (u32 LE, its top byte the codec),
//! then its body compressed, the body's length first (u32 LE): with zstd
//! (codec 1) when the body is long enough to gain by it, else with LZ4
//! (codec 0, `lz4_flex`'s block format). Format 4's chunks were all LZ4,
//! and read as they are.
//! The body holds per row its sequence number (u64 BE), its length (u32
//! LE) and the row (a `HistoryRec`, bincode). History is mostly protocol
//! steps that differ in a few characters (`CONNECT d0000017 AS u0000017 TO
//! h2`), which LZ4 stores in a fraction of their bytes; every row still
//! reads back byte for byte. Format 3's chunks were the same without the
//! compression (`from_format_3` carries one over).

use super::tables::Visit;
use crate::error::{Error, Result};

/// At most this many rows to a chunk.
pub const CHUNK_ROWS: usize = 256;
/// A chunk is closed once its body holds this many bytes (a row longer
/// than that is a chunk of its own): compressed, a chunk of protocol steps
/// stays on one redb page.
pub const CHUNK_BYTES: usize = 8000;
/// A chunk is cut to at most this many bytes, compressed (unless it is one
/// row): two such chunks, with their checksums, fixed keys and offsets,
/// fill one 4 KiB redb leaf (4 + 2 x (4 + 8 + 2,034) bytes). Appended in
/// order, full leaves stay full; a chunk of 2.3 KB (256 protocol steps)
/// took a leaf of its own and left 40% of it empty.
pub const CHUNK_PACKED: usize = 2000;
/// The longest body a chunk may claim: a statement is at most 1 MiB (the
/// script reader's limit), its row and header a little more. A damaged or
/// forged length is refused before anything is allocated for it.
const BODY_MAX: usize = 4 << 20;

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
        let mut chunk = seal_rows(&rows[start..end]);
        // Too big compressed: fewer rows, in proportion, until it fits.
        while chunk.len() > CHUNK_PACKED && end - start > 1 {
            let fewer = (end - start) * CHUNK_PACKED / chunk.len();
            end = start + fewer.clamp(1, end - start - 1);
            chunk = seal_rows(&rows[start..end]);
        }
        out.push((rows[end - 1].0.to_be_bytes(), chunk));
        start = end;
    }
    out
}

/// The chunk of these rows (at least one).
fn seal_rows(part: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(part.iter().map(|(_, r)| 12 + r.len()).sum());
    for (seq, row) in part {
        body.extend_from_slice(&seq.to_be_bytes());
        body.extend_from_slice(&(row.len() as u32).to_le_bytes());
        body.extend_from_slice(row);
    }
    sealed(part.len(), &body)
}

/// A chunk of `count` rows from its body: the count and the codec, then
/// the body compressed.
fn sealed(count: usize, body: &[u8]) -> Vec<u8> {
    let codec = if body.len() >= ZSTD_FROM { ZSTD } else { LZ4 };
    let mut chunk = (count as u32 | codec << CODEC_SHIFT).to_le_bytes().to_vec();
    if codec == ZSTD {
        chunk.extend_from_slice(&(body.len() as u32).to_le_bytes());
        chunk.extend_from_slice(&zstd_compress(body));
    } else {
        chunk.extend_from_slice(&lz4_flex::block::compress_prepend_size(body));
    }
    chunk
}

/// The codecs of a chunk's body, in the top byte of its head (format 5;
/// format 4's chunks are all LZ4, that byte 0).
const LZ4: u32 = 0;
const ZSTD: u32 = 1;
const CODEC_SHIFT: u32 = 24;
/// A body of at least this many bytes (about ten protocol steps) is
/// compressed with zstd, which stores protocol steps in less than half
/// of LZ4's bytes (its entropy coding of the digits that differ); a
/// shorter one, a statement committed on its own, with LZ4, which costs
/// less for a few bytes.
const ZSTD_FROM: usize = 512;
/// zstd's level 1: level 3 and 9 store 256 protocol steps in as many bytes.
const ZSTD_LEVEL: i32 = 1;

/// `body` as a zstd frame, through this thread's compressor: a context
/// made per chunk cost as much as compressing a chunk of protocol steps.
fn zstd_compress(body: &[u8]) -> Vec<u8> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        // Making a context and compressing a slice into a vector only
        // fail when memory does.
        let c = c.get_or_insert_with(|| zstd::bulk::Compressor::new(ZSTD_LEVEL).expect("a zstd context"));
        c.compress(body).expect("zstd compresses a slice")
    })
}

/// The body of a chunk, decompressed.
fn body(chunk: &[u8]) -> Result<Vec<u8>> {
    let packed = chunk.get(4..).ok_or_else(damaged)?;
    let len = packed.get(..4).ok_or_else(damaged)?;
    let len = u32::from_le_bytes(len.try_into().map_err(|_| damaged())?) as usize;
    if len > BODY_MAX {
        return Err(damaged());
    }
    match head(chunk)? >> CODEC_SHIFT {
        LZ4 => lz4_flex::block::decompress_size_prepended(packed).map_err(|_| damaged()),
        ZSTD => {
            let body = zstd::bulk::decompress(&packed[4..], len).map_err(|_| damaged())?;
            if body.len() == len { Ok(body) } else { Err(damaged()) }
        }
        _ => Err(damaged()),
    }
}

/// A chunk's head: its row count and codec.
fn head(chunk: &[u8]) -> Result<u32> {
    let head = chunk.get(..4).ok_or_else(damaged)?;
    Ok(u32::from_le_bytes(head.try_into().expect("4 bytes")))
}

/// A format-3 chunk (its body not compressed) as this format stores it:
/// the same rows under the same key.
pub fn from_format_3(chunk: &[u8]) -> Result<Vec<u8>> {
    let n = row_count(chunk)?;
    let body = chunk.get(4..).ok_or_else(damaged)?;
    let chunk = sealed(n as usize, body);
    // The rows must read back whole: a damaged old chunk is refused here.
    visit(&chunk, &mut |_, _| Ok(true))?;
    Ok(chunk)
}

/// A chunk sealed again with the codec this format picks for its body
/// (a format-4 chunk, all LZ4, as format 5 stores it): the same rows.
pub fn resealed(chunk: &[u8]) -> Result<Vec<u8>> {
    let chunk = sealed(row_count(chunk)? as usize, &body(chunk)?);
    // The rows must read back whole: a damaged old chunk is refused here.
    visit(&chunk, &mut |_, _| Ok(true))?;
    Ok(chunk)
}

/// The number of rows of a chunk.
pub fn row_count(chunk: &[u8]) -> Result<u64> {
    Ok(u64::from(head(chunk)? & ((1 << CODEC_SHIFT) - 1)))
}

/// Visits the rows of a chunk, in order, until `f` returns false; whether
/// it went to the end.
pub fn visit(chunk: &[u8], f: &mut dyn FnMut(u64, &[u8]) -> Result<bool>) -> Result<bool> {
    let n = row_count(chunk)?;
    let body = body(chunk)?;
    let mut at = 0;
    for _ in 0..n {
        let head = body.get(at..at + 12).ok_or_else(damaged)?;
        let seq = u64::from_be_bytes(head[..8].try_into().map_err(|_| damaged())?);
        let len = u32::from_le_bytes(head[8..].try_into().map_err(|_| damaged())?) as usize;
        let row = body.get(at + 12..at + 12 + len).ok_or_else(damaged)?;
        at += 12 + len;
        if !f(seq, row)? {
            return Ok(false);
        }
    }
    if at != body.len() {
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
            assert!(body(c).expect("body").len() <= CHUNK_BYTES + 12 + 250, "a chunk of {} bytes", c.len());
        }
        let long = vec![(7, vec![1; CHUNK_BYTES + 1000]), (8, vec![2; 3])];
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
        let mut forged = good.clone();
        forged[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(visit(&forged, &mut |_, _| Ok(true)).is_err(), "a forged length is refused, not allocated");
    }

    #[test]
    fn protocol_steps_are_stored_in_a_fraction_of_their_bytes_and_read_back_whole() {
        let rows: Vec<(u64, Vec<u8>)> = (1..=256u64)
            .map(|s| (s, format!("CONNECT d{:07} AS u{:07} TO h{}", s / 3, s / 3, s % 4).into_bytes()))
            .collect();
        let made = chunks(&rows);
        assert_eq!(read_all(&made), rows);
        let raw: usize = rows.iter().map(|(_, r)| 12 + r.len()).sum();
        let stored: usize = made.iter().map(|(_, c)| c.len()).sum();
        assert!(stored * 3 < raw, "{stored} bytes stored for {raw}");
    }

    #[test]
    fn chunks_of_protocol_steps_are_zstd_in_under_half_of_lz4s_bytes() {
        // History as the protocol-built P8 database writes it: per device,
        // CREATE DEVICE and two CONNECTs, each row a `HistoryRow`.
        let rows: Vec<(u64, Vec<u8>)> = (1..=3000u64)
            .map(|seq| {
                let (d, u) = (seq / 3, (seq / 3) % 10_000);
                let statement = match seq % 3 {
                    0 => format!("CREATE DEVICE d{d:07}"),
                    _ => format!("CONNECT d{d:07} AS u{u:05} TO h1"),
                };
                let row = crate::store::records::HistoryRow { seq, time: crate::model::Time(1_767_603_600), statement: &statement };
                (seq, crate::store::codec::encode(&row).expect("encode"))
            })
            .collect();
        let made = chunks(&rows);
        assert_eq!(read_all(&made), rows);
        let (last, full) = made.split_last().expect("chunks");
        let (mut stored, mut lz4) = (0, 0);
        for (_, c) in full {
            assert!(c.len() <= CHUNK_PACKED, "a chunk of {} bytes", c.len());
            assert_eq!(head(c).expect("head") >> CODEC_SHIFT, ZSTD, "a full chunk is zstd's");
            stored += c.len();
            lz4 += 8 + lz4_flex::block::compress(&body(c).expect("body")).len();
        }
        assert!(stored * 2 < lz4, "{stored} bytes stored, LZ4 would store {lz4}");
        assert!(last.1.len() <= CHUNK_PACKED);
        // Rows LZ4 cannot shrink are cut to fit too; a long row stays whole.
        let mut x = 7u64;
        let noise: Vec<(u64, Vec<u8>)> = (1..=100u64)
            .map(|s| {
                let row = (0..90)
                    .map(|_| {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (x >> 56) as u8
                    })
                    .collect();
                (s, row)
            })
            .collect();
        let made = chunks(&noise);
        assert_eq!(read_all(&made), noise);
        assert!(made.iter().all(|(_, c)| c.len() <= CHUNK_PACKED), "{:?}", made.iter().map(|(_, c)| c.len()).collect::<Vec<_>>());
        assert_eq!(chunks(&[(9, vec![5; 3 * CHUNK_PACKED])]).len(), 1);
    }

    #[test]
    fn a_format_3_chunk_is_carried_over_with_the_same_rows() {
        let rows: Vec<(u64, Vec<u8>)> = vec![(5, b"CREATE DEVICE pc1".to_vec()), (6, b"CONNECT pc1 AS alice TO h1".to_vec())];
        let mut old = 2u32.to_le_bytes().to_vec();
        for (seq, row) in &rows {
            old.extend_from_slice(&seq.to_be_bytes());
            old.extend_from_slice(&(row.len() as u32).to_le_bytes());
            old.extend_from_slice(row);
        }
        let new = from_format_3(&old).expect("carried over");
        assert_eq!(read_all(&[(6u64.to_be_bytes(), new)]), rows);
        assert!(from_format_3(&old[..old.len() - 1]).is_err(), "a cut chunk is refused");
    }
}
