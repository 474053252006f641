//! Sorting more than fits in memory: an external merge sort. Items are kept
//! in memory up to a budget of bytes; past it, each full buffer is sorted
//! and written to a temporary file as one run (bincode, length-prefixed),
//! and the runs are merged as the sorted items are read back. ORDER BY,
//! GROUP BY, DISTINCT and CHECK's index comparison sort through it, so
//! their memory follows the budget, not the table.
//!
//! The temporary files are `tempfile`'s unnamed files in the system temp
//! dir: the kernel removes them when they are dropped, on an error, or if
//! the process dies. This module knows nothing of tables or queries.

use crate::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};

/// Bytes of items one sort keeps in memory before it spills a run. The
/// statements that sort run within P7's 256 MB: redb's page cache (64 MiB),
/// the process (about 10 MB), and at most two sorts at a time (a GROUP BY
/// and the ORDER BY after it), each within this budget. The budget counts
/// the items' bytes, not the allocator's overhead on each small allocation
/// nor the sort's scratch space (half the items), which measured about
/// 2.5x the count: at 32 MiB, CHECK on the 1M database peaked at 254 MB.
pub const BUDGET_BYTES: usize = 16 << 20;

thread_local! {
    static BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(BUDGET_BYTES) };
}

/// The budget of the sorts this thread starts: `BUDGET_BYTES`, unless a
/// test made it small with `set_budget` to drive the spilling paths.
pub fn budget() -> usize {
    BUDGET.with(|b| b.get())
}

/// Sets this thread's budget (tests: spilling a few thousand rows).
pub fn set_budget(bytes: usize) {
    BUDGET.with(|b| b.set(bytes));
}

/// Bytes of groups a GROUP BY keeps in its hash table before it spills
/// them to a sort: six sort budgets (96 MiB). A group there costs a few
/// dozen bytes (`query::group`'s table), so a million groups of one
/// license fit (Q1 and Q7 of README's auditor questions); with redb's page
/// cache, the process and the sort of an ORDER BY after it, the statement
/// stays within P7's 256 MB.
pub const GROUP_BUDGET_BYTES: usize = 6 * BUDGET_BYTES;

/// The group table's budget on this thread: six times `budget()`, so that
/// a test's small budget spills groups too.
pub fn group_budget() -> usize {
    budget().saturating_mul(GROUP_BUDGET_BYTES / BUDGET_BYTES)
}

thread_local! {
    static HELD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Notes that a structure kept within a budget (groups, the rows a join
/// or DISTINCT remembers, a sort's buffer) holds `bytes` now; tests read
/// the most held with `take_most_held` to prove the budget is honoured.
pub fn note_held(bytes: usize) {
    HELD.with(|h| h.set(h.get().max(bytes)));
}

/// The most bytes noted by `note_held` on this thread since the last call.
pub fn take_most_held() -> usize {
    HELD.with(|h| h.replace(0))
}

/// The most runs merged at once; more are first merged into bigger runs,
/// so that open files and read buffers stay few.
const FAN_IN: usize = 64;

/// A sort whose items are ordered by `cmp`; feed with `push`, read with
/// `finish`.
pub struct Sorter<T, F> {
    cmp: F,
    items: Vec<T>,
    bytes: usize,
    budget: usize,
    runs: Vec<(File, u64)>,
}

impl<T: Serialize + DeserializeOwned, F: Fn(&T, &T) -> Ordering> Sorter<T, F> {
    /// A sort within this thread's `budget()`.
    pub fn new(cmp: F) -> Self {
        Self::with_budget(cmp, budget())
    }

    /// A sort that spills past `budget` bytes (tests use a small one).
    pub fn with_budget(cmp: F, budget: usize) -> Self {
        Sorter { cmp, items: Vec::new(), bytes: 0, budget, runs: Vec::new() }
    }

    /// Adds an item of about `size` bytes (its heap size and its own).
    pub fn push(&mut self, item: T, size: usize) -> Result<()> {
        self.items.push(item);
        self.bytes += size + std::mem::size_of::<T>();
        note_held(self.bytes);
        if self.bytes >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Whether any run went to a temporary file.
    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Sorts the buffer and writes it out as one run.
    fn spill(&mut self) -> Result<()> {
        let mut items = std::mem::take(&mut self.items);
        items.sort_by(&self.cmp);
        self.bytes = 0;
        let run = write_run(items.into_iter().map(Ok))?;
        self.runs.push(run);
        if self.runs.len() >= FAN_IN {
            let runs = std::mem::take(&mut self.runs);
            let merged = write_run(Merge::new(runs, &self.cmp)?)?;
            self.runs.push(merged);
        }
        Ok(())
    }

    /// Adds the items of `other`, a sort in the same order, after these:
    /// its runs join these runs as they are (nothing is sorted again), and
    /// an item equal to one of these comes out after it.
    pub fn append(&mut self, mut other: Self) -> Result<()> {
        if !self.items.is_empty() {
            self.spill()?;
        }
        if !other.items.is_empty() {
            other.spill()?;
        }
        self.runs.append(&mut other.runs);
        if self.runs.len() >= FAN_IN {
            let runs = std::mem::take(&mut self.runs);
            let merged = write_run(Merge::new(runs, &self.cmp)?)?;
            self.runs.push(merged);
        }
        Ok(())
    }

    /// The items in order (a stable sort: equal items keep the order they
    /// were pushed in, when nothing spilled).
    pub fn finish(mut self) -> Result<Sorted<T, F>> {
        self.items.sort_by(&self.cmp);
        if self.runs.is_empty() {
            return Ok(Sorted::Memory(self.items.into_iter()));
        }
        if !self.items.is_empty() {
            let items = std::mem::take(&mut self.items);
            self.runs.push(write_run(items.into_iter().map(Ok))?);
        }
        Ok(Sorted::Merged(Merge::new(self.runs, self.cmp)?))
    }
}

/// The sorted items: from memory, or merged from the runs on disk.
pub enum Sorted<T, F> {
    /// Nothing spilled.
    Memory(std::vec::IntoIter<T>),
    /// The runs, merged.
    Merged(Merge<T, F>),
}

impl<T: DeserializeOwned, F: Fn(&T, &T) -> Ordering> Iterator for Sorted<T, F> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        match self {
            Sorted::Memory(items) => items.next().map(Ok),
            Sorted::Merged(m) => m.next(),
        }
    }
}

fn spill_error(e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("cannot use a temporary file to sort: {e}"))
}

/// Writes items to a new temporary file, rewound for reading; how many.
fn write_run<T: Serialize>(items: impl Iterator<Item = Result<T>>) -> Result<(File, u64)> {
    let mut w = BufWriter::with_capacity(1 << 16, tempfile::tempfile().map_err(spill_error)?);
    let mut n = 0;
    for item in items {
        bincode::serde::encode_into_std_write(item?, &mut w, bincode::config::standard()).map_err(spill_error)?;
        n += 1;
    }
    let mut file = w.into_inner().map_err(|e| spill_error(e.error()))?;
    file.flush().map_err(spill_error)?;
    file.seek(SeekFrom::Start(0)).map_err(spill_error)?;
    Ok((file, n))
}

/// One run being read back, and how many of its items are left: a run
/// that ends early is an error, never a shorter answer.
struct Run {
    reader: BufReader<File>,
    left: u64,
}

impl Run {
    fn read<T: DeserializeOwned>(&mut self) -> Result<Option<T>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        bincode::serde::decode_from_std_read(&mut self.reader, bincode::config::standard()).map(Some).map_err(spill_error)
    }
}

/// A k-way merge of sorted runs: the heap holds each run's next item.
pub struct Merge<T, F> {
    runs: Vec<Run>,
    heap: BinaryHeap<Head<T, F>>,
    cmp: std::rc::Rc<F>,
}

/// A run's next item, ordered (reversed, for the max-heap) by the sort's
/// order and then by run, so that equal items come out in push order.
struct Head<T, F> {
    item: T,
    run: usize,
    cmp: std::rc::Rc<F>,
}

impl<T, F: Fn(&T, &T) -> Ordering> Ord for Head<T, F> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.cmp)(&self.item, &other.item).then(self.run.cmp(&other.run)).reverse()
    }
}
impl<T, F: Fn(&T, &T) -> Ordering> PartialOrd for Head<T, F> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T, F: Fn(&T, &T) -> Ordering> PartialEq for Head<T, F> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T, F: Fn(&T, &T) -> Ordering> Eq for Head<T, F> {}

impl<T: DeserializeOwned, F: Fn(&T, &T) -> Ordering> Merge<T, F> {
    fn new(files: Vec<(File, u64)>, cmp: F) -> Result<Self> {
        let cmp = std::rc::Rc::new(cmp);
        let mut runs: Vec<Run> =
            files.into_iter().map(|(f, left)| Run { reader: BufReader::with_capacity(1 << 16, f), left }).collect();
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(item) = run.read()? {
                heap.push(Head { item, run: i, cmp: std::rc::Rc::clone(&cmp) });
            }
        }
        Ok(Merge { runs, heap, cmp })
    }
}

impl<T: DeserializeOwned, F: Fn(&T, &T) -> Ordering> Iterator for Merge<T, F> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        let Head { item, run, .. } = self.heap.pop()?;
        match self.runs[run].read() {
            Ok(Some(next)) => self.heap.push(Head { item: next, run, cmp: std::rc::Rc::clone(&self.cmp) }),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appended_sort_keeps_its_runs_and_comes_after_on_ties_in_memory_or_spilled() {
        // Items (key, which sort, n): keys repeat across both sorts.
        type Item = (u64, u8, u64);
        let by_key = |a: &Item, b: &Item| a.0.cmp(&b.0);
        for (budget_a, budget_b) in [(1 << 20, 1 << 20), (64, 1 << 20), (1 << 20, 64), (64, 64)] {
            let (mut a, mut b) = (Sorter::with_budget(by_key, budget_a), Sorter::with_budget(by_key, budget_b));
            for n in 0..300u64 {
                a.push((n * 7 % 50, 0, n), 8).expect("push");
                b.push((n * 11 % 50, 1, n), 8).expect("push");
            }
            let b_runs = b.runs.len();
            a.append(b).expect("append");
            assert!(a.runs.len() >= b_runs, "the other sort's runs are kept");
            let out: Vec<Item> = a.finish().expect("finish").map(|i| i.expect("item")).collect();
            assert_eq!(out.len(), 600);
            for w in out.windows(2) {
                let ((k1, s1, n1), (k2, s2, n2)) = (w[0], w[1]);
                assert!(k1 < k2 || k1 == k2 && (s1, n1) < (s2, n2), "{:?} then {:?} ({budget_a}, {budget_b})", w[0], w[1]);
            }
        }
    }

    fn sorted(n: u64, budget: usize) -> (Vec<(u64, u64)>, bool) {
        let mut s = Sorter::with_budget(|a: &(u64, u64), b: &(u64, u64)| a.0.cmp(&b.0), budget);
        for i in 0..n {
            // Keys repeat (ties), in a scrambled order.
            s.push(((i * 7919) % 101, i), 16).expect("push");
        }
        let spilled = s.spilled();
        (s.finish().expect("finish").collect::<Result<Vec<_>>>().expect("read"), spilled)
    }

    #[test]
    fn a_sort_past_its_budget_spills_and_returns_what_an_in_memory_sort_would() {
        let (memory, spilled) = sorted(5000, usize::MAX);
        assert!(!spilled);
        let mut want: Vec<(u64, u64)> = (0..5000).map(|i| ((i * 7919) % 101, i)).collect();
        want.sort_by_key(|x| x.0);
        assert_eq!(memory, want);
        // 5000 items of 32 bytes in runs of 1 KiB: 157 runs, more than one
        // merge's fan-in, so runs are merged twice.
        let (disk, spilled) = sorted(5000, 1024);
        assert!(spilled);
        assert_eq!(disk, want, "ties keep their push order across runs");
    }

    #[test]
    fn an_empty_sort_returns_nothing() {
        assert_eq!(sorted(0, 1).0, vec![]);
    }
}
