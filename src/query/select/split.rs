//! A GROUP BY over a large table on two threads: the first table's key
//! range is cut in two (`ReadTx::middle_key`), this thread groups the
//! rows of the lower half and a second thread those of the upper half,
//! each within half the group budget, and the upper half's groups are
//! then added to the lower's (`Groups::absorb`; while it runs both tables
//! are held, at most one and a half group budgets). Both read the same
//! snapshot. A group's first spelling is still its earliest row's (the
//! lower half's rows come first), so the answer is the one thread's, row
//! for row. Taken only on a read snapshot (never inside BEGIN, whose
//! writes a second thread could not see), for a first table read whole,
//! of `plan::SPLIT_ROWS` rows or more, on a machine of more than one core.

use super::{Access, Groups, Plan, Reader, Sets, grouped};
use crate::error::{Error, Result};
use crate::query::plan::{AggSpec, SPLIT_ROWS, Scalar, splits};
use std::cell::Cell;

thread_local! {
    static SPLIT_FROM: Cell<u64> = const { Cell::new(SPLIT_ROWS) };
}

/// Sets, for this thread, from how many rows a GROUP BY splits its scan
/// (tests split small tables with it; `u64::MAX` never splits).
#[cfg(test)]
pub fn set_split_rows(rows: u64) {
    SPLIT_FROM.with(|s| s.set(rows));
}

/// The groups of the plan's rows gathered on two threads, or `None` when
/// the plan does not split (see the module's note).
pub fn grouped_in_two<'p>(
    r: &(impl Reader + ?Sized),
    plan: &Plan,
    sets: &Sets,
    keys: &'p [Scalar],
    aggs: &'p [AggSpec],
) -> Result<Option<Groups<'p>>> {
    let Some(tx) = r.snapshot() else { return Ok(None) };
    let Some(first) = plan.sources.first() else { return Ok(None) };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !splits(plan) || cores < 2 {
        return Ok(None);
    }
    let rows = tx.count(first.table.store)?;
    if rows < SPLIT_FROM.with(Cell::get) {
        return Ok(None);
    }
    let Some(middle) = tx.middle_key(first.table.store)? else { return Ok(None) };
    let lower = Access::Range { from: Vec::new(), to: Some(middle.clone()) };
    let upper = Access::Range { from: middle, to: None };
    let budget = crate::spill::budget();
    let interrupt = crate::interrupt::current();
    let stop = interrupt.clone();
    crate::spill::set_budget(budget / 2);
    let (mine, theirs) = std::thread::scope(|scope| {
        let helper = scope.spawn(|| {
            crate::interrupt::helping(interrupt, || {
                crate::spill::set_budget(budget / 2);
                let out = grouped(tx, plan, sets, Some(&upper), Groups::new(keys, aggs));
                out.map(|(groups, read)| (groups, read, crate::spill::take_most_held()))
            })
        });
        let mine = grouped(tx, plan, sets, Some(&lower), Groups::new(keys, aggs));
        if mine.is_err()
            && let Some(stop) = &stop
        {
            // The statement fails with this half's error: the other half
            // stops at its next checkpoint rather than read on.
            stop.interrupt();
        }
        (mine, helper.join())
    });
    crate::spill::set_budget(budget);
    let (mut groups, read_here) = mine?;
    let (other, read_there, held_there) = match theirs {
        Ok(out) => out?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    crate::spill::note_held(held_there);
    // A whole scan checks the table's count against its header; the two
    // halves together must read as many rows.
    if read_here + read_there != rows {
        let detail = format!("its header counts {rows} entries but {} were found (a damaged page)", read_here + read_there);
        return Err(Error::Damaged { table: first.table.name.to_string(), key: String::new(), detail });
    }
    groups.absorb(other)?;
    Ok(Some(groups))
}
