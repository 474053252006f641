//! Grouping and aggregates: COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM,
//! MIN, MAX and AVG, per group of equal keys. Aggregates skip NULLs; over no
//! value at all COUNT gives 0 and the others NULL. AVG gives the mean
//! rounded to the nearest integer, halves away from zero (caldb's numbers
//! are integers).

use super::ast::Aggregate;
use super::plan::AggSpec;
use super::plan::Scalar;
use super::plan::expr::{Sets, eval, holds};
use crate::error::{Error, Result};
use crate::model::Value;
use crate::spill::Sorter;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use table::{Table, skips_repeats};

mod table;

/// The state of one aggregate of one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Acc {
    Count(i64),
    Sum(Option<i64>),
    Min(Option<Value>),
    Max(Option<Value>),
    Avg(i128, i64),
    Distinct(Distinct),
}

/// The values of a DISTINCT aggregate: a sorted vector while few (most
/// groups hold one or two: a B-tree node per group would cost hundreds of
/// bytes each over a million groups), a B-tree beyond.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Distinct {
    Few(Vec<Value>),
    Many(BTreeSet<Value>),
}

/// The most values a `Distinct::Few` holds.
const FEW: usize = 32;

impl Distinct {
    fn insert(&mut self, v: Value) {
        match self {
            Distinct::Few(few) => {
                if let Err(at) = few.binary_search(&v) {
                    few.insert(at, v);
                    if few.len() > FEW {
                        *self = Distinct::Many(std::mem::take(few).into_iter().collect());
                    }
                }
            }
            Distinct::Many(set) => {
                set.insert(v);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Distinct::Few(few) => few.len(),
            Distinct::Many(set) => set.len(),
        }
    }

    fn into_values(self) -> Vec<Value> {
        match self {
            Distinct::Few(few) => few,
            Distinct::Many(set) => set.into_iter().collect(),
        }
    }
}

impl Acc {
    fn new(spec: &AggSpec) -> Acc {
        if spec.distinct {
            return Acc::Distinct(Distinct::Few(Vec::new()));
        }
        match spec.func {
            Aggregate::Count => Acc::Count(0),
            Aggregate::Sum => Acc::Sum(None),
            Aggregate::Min => Acc::Min(None),
            Aggregate::Max => Acc::Max(None),
            Aggregate::Avg => Acc::Avg(0, 0),
        }
    }

    /// Adds one row's value (`None` for COUNT(*), which counts rows).
    fn add(&mut self, v: Option<Value>) -> Result<()> {
        let v = match v {
            None => {
                if let Acc::Count(n) = self {
                    *n += 1;
                }
                return Ok(());
            }
            Some(Value::Null) => return Ok(()),
            Some(v) => v,
        };
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Sum(s) => {
                let Value::Int(i) = v else { return Ok(()) };
                let sum = s.unwrap_or(0).checked_add(i).ok_or_else(|| Error::plan("integer overflow in SUM"))?;
                *s = Some(sum);
            }
            Acc::Min(m) => {
                if m.as_ref().is_none_or(|m| v < *m) {
                    *m = Some(v);
                }
            }
            Acc::Max(m) => {
                if m.as_ref().is_none_or(|m| v > *m) {
                    *m = Some(v);
                }
            }
            Acc::Avg(sum, n) => {
                if let Value::Int(i) = v {
                    *sum += i128::from(i);
                    *n += 1;
                }
            }
            Acc::Distinct(set) => set.insert(v),
        }
        Ok(())
    }

    /// Adds another partial state of the same aggregate (a group's
    /// accumulators from an earlier run of a spilled GROUP BY).
    fn merge(&mut self, other: Acc) -> Result<()> {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::Sum(a), Acc::Sum(Some(b))) => {
                let sum = a.unwrap_or(0).checked_add(b).ok_or_else(|| Error::plan("integer overflow in SUM"))?;
                *a = Some(sum);
            }
            (a @ (Acc::Min(_) | Acc::Max(_)), Acc::Min(Some(b)) | Acc::Max(Some(b))) => a.add(Some(b))?,
            (Acc::Avg(sa, na), Acc::Avg(sb, nb)) => {
                *sa += sb;
                *na += nb;
            }
            (Acc::Distinct(a), Acc::Distinct(b)) => {
                for v in b.into_values() {
                    a.insert(v);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// About how many bytes it holds.
    fn size(&self) -> usize {
        std::mem::size_of::<Acc>()
            + match self {
                Acc::Min(Some(v)) | Acc::Max(Some(v)) => value_size(v),
                Acc::Distinct(d) => d.len() * 48,
                _ => 0,
            }
    }

    fn finish(self, func: Aggregate) -> Result<Value> {
        Ok(match self {
            Acc::Count(n) => Value::Int(n),
            Acc::Sum(s) => s.map_or(Value::Null, Value::Int),
            Acc::Min(m) | Acc::Max(m) => m.unwrap_or(Value::Null),
            Acc::Avg(_, 0) => Value::Null,
            Acc::Avg(sum, n) => Value::Int((sum as f64 / n as f64).round() as i64),
            Acc::Distinct(set) => {
                let mut plain = Acc::new(&AggSpec { func, arg: None, distinct: false });
                for v in set.into_values() {
                    plain.add(Some(v))?;
                }
                plain.finish(func)?
            }
        })
    }
}

/// About how many bytes a value holds, itself and its text.
pub fn value_size(v: &Value) -> usize {
    std::mem::size_of::<Value>() + if let Value::Text(t) | Value::Name(t) = v { t.len() } else { 0 }
}

/// A group: its keys and its aggregates' states.
type Group = (Vec<Value>, Vec<Acc>);
type ByKey = fn(&Group, &Group) -> std::cmp::Ordering;

/// A group's key and its number in the table (sorted as values).
type NumberedKey = (Vec<Value>, u32);
type ByNumberedKey = fn(&NumberedKey, &NumberedKey) -> std::cmp::Ordering;

/// A value of a DISTINCT aggregate moved out of a spilled group: the
/// group's keys, which aggregate, the value.
type Spilt = (Vec<Value>, u32, Value);
type BySpilt = fn(&Spilt, &Spilt) -> std::cmp::Ordering;

/// Groups being accumulated: in a compact hash table (`table::Table`)
/// until it holds `spill::group_budget()` bytes (a GROUP BY over a million
/// HWIDs fits; more groups or bigger keys may not); past it the groups so
/// far go to a `spill` sort, the values their DISTINCT aggregates have
/// seen to a second one, and the table starts again. `finish` merges the
/// partial states of each key and adds each key's distinct values once as
/// they stream past in order, so memory follows the budget, not the number
/// of groups nor of distinct values (COUNT(DISTINCT hwid) over a million
/// licenses).
pub struct Groups<'p> {
    keys: &'p [Scalar],
    aggs: &'p [AggSpec],
    table: Table,
    spilled: Option<Sorter<Group, ByKey>>,
    distinct: Option<Sorter<Spilt, BySpilt>>,
}

impl<'p> Groups<'p> {
    pub fn new(keys: &'p [Scalar], aggs: &'p [AggSpec]) -> Groups<'p> {
        Groups { keys, aggs, table: Table::new(aggs), spilled: None, distinct: None }
    }

    pub fn add(&mut self, row: &[Value], sets: &Sets) -> Result<()> {
        self.table.start_key();
        for k in self.keys {
            self.table.key_part(&*eval(k, row, sets)?);
        }
        let g = self.table.group();
        for (a, spec) in self.aggs.iter().enumerate() {
            match &spec.arg {
                None => self.table.add(g, a, spec, None)?,
                Some(arg) => self.table.add(g, a, spec, Some(&*eval(arg, row, sets)?))?,
            }
        }
        let bytes = self.table.bytes();
        crate::spill::note_held(bytes);
        if bytes >= crate::spill::group_budget() {
            self.spill()?;
        }
        Ok(())
    }

    /// Adds the groups `other` gathered over other rows of the same plan
    /// (the other half of a split scan): in memory when `other` did not
    /// spill (and on past the budget as `add` does), else through these
    /// groups' sorted runs, which `finish` merges by key.
    pub fn absorb(&mut self, mut other: Groups<'p>) -> Result<()> {
        if other.spilled.is_some() {
            // These groups' rows came first: their runs go first, so that a
            // key both hold keeps these groups' first spelling. The other's
            // runs are taken as they are, not sorted again.
            self.spill()?;
            other.spill()?;
            if let Some(theirs) = other.spilled.take() {
                match &mut self.spilled {
                    Some(mine) => mine.append(theirs)?,
                    None => self.spilled = Some(theirs),
                }
            }
            if let Some(theirs) = other.distinct.take() {
                match &mut self.distinct {
                    Some(mine) => mine.append(theirs)?,
                    None => self.distinct = Some(theirs),
                }
            }
            return Ok(());
        }
        self.table.absorb(&other.table, self.aggs)?;
        let bytes = self.table.bytes();
        crate::spill::note_held(bytes);
        if bytes >= crate::spill::group_budget() {
            self.spill()?;
        }
        Ok(())
    }

    /// Moves the groups so far to the sorts on disk: each group's key and
    /// accumulators, and each value a DISTINCT aggregate has seen.
    fn spill(&mut self) -> Result<()> {
        let by_key: ByKey = |a, b| a.0.cmp(&b.0);
        let by_spilt: BySpilt = |a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2));
        let table = std::mem::replace(&mut self.table, Table::new(self.aggs));
        let sorter = self.spilled.get_or_insert_with(|| Sorter::new(by_key));
        for g in 0..table.len() as u32 {
            let key = table.key(g)?;
            let accs = table.accs(g, self.aggs);
            let size = key.iter().map(value_size).sum::<usize>() + accs.iter().map(Acc::size).sum::<usize>();
            sorter.push((key, accs), size)?;
        }
        for seen in table.distinct_values() {
            let (g, a, v) = seen?;
            let key = table.key(g)?;
            let size = key.iter().map(value_size).sum::<usize>() + value_size(&v);
            let distinct = self.distinct.get_or_insert_with(|| Sorter::new(by_spilt));
            distinct.push((key, a, v), size)?;
        }
        Ok(())
    }

    /// Calls `f` with one row per group that passes `having`, in key
    /// order: its keys, then its aggregates. Without GROUP BY there is one
    /// group even over no rows.
    pub fn finish(mut self, having: Option<&Scalar>, sets: &Sets, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        if self.keys.is_empty() && self.table.len() == 0 && self.spilled.is_none() {
            self.table.start_key();
            self.table.group();
        }
        if self.spilled.is_none() {
            return self.finish_in_memory(having, sets, f);
        }
        let mut keep = |row: Vec<Value>| -> Result<()> {
            match having {
                Some(h) if !holds(h, &row, sets)? => Ok(()),
                _ => f(row),
            }
        };
        self.spill()?;
        let Some(sorter) = self.spilled.take() else { return Ok(()) };
        let mut distinct = match self.distinct.take() {
            Some(d) => Some(d.finish()?.peekable()),
            None => None,
        };
        let mut current: Option<Group> = None;
        let mut emit = |done: Group, this: &Self| -> Result<()> {
            let values = match &mut distinct {
                Some(stream) => Some(this.distinct_values(&done.0, stream)?),
                None => None,
            };
            keep(this.row(done, values)?)
        };
        for group in sorter.finish()? {
            let (key, accs) = group?;
            match &mut current {
                Some((k, mine)) if *k == key => {
                    for (a, b) in mine.iter_mut().zip(accs) {
                        a.merge(b)?;
                    }
                    crate::spill::note_held(mine.iter().map(Acc::size).sum());
                }
                _ => {
                    if let Some(done) = current.replace((key, accs)) {
                        emit(done, &self)?;
                    }
                }
            }
        }
        if let Some(done) = current {
            emit(done, &self)?;
        }
        Ok(())
    }

    /// `finish` when nothing spilled: HAVING first, over only the keys and
    /// aggregates it reads (NULL in the others: a million groups' keys and
    /// MIN/MAX texts are not made to drop all but a few), then the groups
    /// kept sorted by key.
    fn finish_in_memory(&self, having: Option<&Scalar>, sets: &Sets, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        let table = &self.table;
        let mut kept: Vec<u32> = Vec::new();
        if let Some(h) = having {
            let mut read = Vec::new();
            h.columns(&mut read);
            let reads_keys = read.iter().any(|&i| i < self.keys.len());
            let wanted: Vec<bool> = (0..self.aggs.len()).map(|a| read.contains(&(self.keys.len() + a))).collect();
            let mut row = Vec::new();
            for g in 0..table.len() as u32 {
                row.clear();
                match reads_keys {
                    true => row.extend(table.key(g)?),
                    false => row.resize(self.keys.len(), Value::Null),
                }
                table.finish_some(g, self.aggs, &wanted, &mut row)?;
                if holds(h, &row, sets)? {
                    kept.push(g);
                }
            }
        } else {
            kept.extend(0..table.len() as u32);
        }
        let emit = |mut row: Vec<Value>, g: u32, f: &mut dyn FnMut(Vec<Value>) -> Result<()>| {
            table.finish_into(g, self.aggs, &mut row)?;
            f(row)
        };
        if table.sort_by_bytes(&mut kept) {
            return kept.into_iter().try_for_each(|g| emit(table.key(g)?, g, f));
        }
        // Keys whose bytes do not order as they do: sorted as values,
        // within the sort budget.
        let by_key: ByNumberedKey = |a, b| a.0.cmp(&b.0);
        let mut sorter = Sorter::new(by_key);
        for g in kept {
            let key = table.key(g)?;
            let size = key.iter().map(value_size).sum::<usize>();
            sorter.push((key, g), size)?;
        }
        sorter.finish()?.try_for_each(|item| item.and_then(|(key, g)| emit(key, g, f)))
    }

    /// The DISTINCT aggregates of the group `key`, from the spilled values
    /// (sorted by key, aggregate and value): each distinct value added
    /// once to a plain accumulator of its aggregate.
    fn distinct_values(
        &self,
        key: &[Value],
        stream: &mut std::iter::Peekable<crate::spill::Sorted<Spilt, BySpilt>>,
    ) -> Result<Vec<Option<Acc>>> {
        let mut plain: Vec<Option<Acc>> = self
            .aggs
            .iter()
            .map(|a| skips_repeats(a).then(|| Acc::new(&AggSpec { func: a.func, arg: None, distinct: false })))
            .collect();
        let mut last: Option<(u32, Value)> = None;
        loop {
            match stream.peek() {
                None => break,
                Some(Ok((k, _, _))) if k.as_slice() != key => break,
                Some(_) => {}
            }
            let Some(next) = stream.next() else { break };
            let (_, i, v) = next?;
            if last.as_ref().is_some_and(|(j, w)| *j == i && *w == v) {
                continue;
            }
            if let Some(Some(acc)) = plain.get_mut(i as usize) {
                acc.add(Some(v.clone()))?;
            }
            last = Some((i, v));
        }
        Ok(plain)
    }

    /// A group's output row: its keys, then each aggregate's value (a
    /// DISTINCT one from `distinct`, when its values were spilled).
    fn row(&self, (mut key, accs): Group, distinct: Option<Vec<Option<Acc>>>) -> Result<Vec<Value>> {
        let mut distinct = distinct.unwrap_or_default().into_iter();
        for (acc, spec) in accs.into_iter().zip(self.aggs) {
            let plain = distinct.next().flatten();
            key.push(match plain {
                Some(p) => p.finish(spec.func)?,
                None => acc.finish(spec.func)?,
            });
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::plan::expr::Ty;

    /// The groups of these one-column rows, each key with its COUNT(*).
    fn counted(keys: &[Scalar], texts: &[&str]) -> Vec<Vec<Value>> {
        let aggs = [AggSpec { func: Aggregate::Count, arg: None, distinct: false }];
        let mut groups = Groups::new(keys, &aggs);
        for t in texts {
            groups.add(&[Value::text(*t)], &Sets::default()).expect("add");
        }
        finished(groups)
    }

    /// Every row the groups give, without HAVING.
    fn finished(groups: Groups) -> Vec<Vec<Value>> {
        let mut out = Vec::new();
        groups
            .finish(None, &Sets::default(), &mut |row| {
                out.push(row);
                Ok(())
            })
            .expect("finish");
        out
    }

    #[test]
    fn texts_packed_as_hex_and_plain_ones_come_out_in_text_order_in_memory_and_spilled() {
        // Upper-case hex texts (HWIDs) are packed two digits a byte, which
        // does not order them among other texts: the groups are then
        // sorted as values.
        let keys = [Scalar::Col(0, Ty::Text, "t".into())];
        let texts = ["FF", "a", "0A", "zz", "10", "0A", "B", "", "FF00", "a", "0a"];
        let mut expected: Vec<(String, i64)> = Vec::new();
        let mut sorted = texts.to_vec();
        sorted.sort();
        for t in sorted {
            match expected.last_mut() {
                Some((last, n)) if last == t => *n += 1,
                _ => expected.push((t.to_string(), 1)),
            }
        }
        let expected: Vec<Vec<Value>> = expected.into_iter().map(|(t, n)| vec![Value::Text(t), Value::Int(n)]).collect();
        for budget in [crate::spill::BUDGET_BYTES, 16] {
            crate::spill::set_budget(budget);
            let got = counted(&keys, &texts);
            crate::spill::set_budget(crate::spill::BUDGET_BYTES);
            let shown = |rows: &[Vec<Value>]| format!("{rows:?}");
            assert_eq!(shown(&got), shown(&expected), "budget {budget}");
        }
    }

    #[test]
    fn distinct_aggregates_past_the_256th_keep_their_own_values() {
        // Aggregate 0 and aggregate 256 see the same values, in memory and
        // spilled: each counts its own (the statement parser allows about
        // 256 aggregates; the group table does not rely on it).
        let keys = [Scalar::Col(0, Ty::Text, "k".into())];
        let arg = || Some(Scalar::Col(1, Ty::Int, "n".into()));
        let mut aggs = vec![AggSpec { func: Aggregate::Count, arg: arg(), distinct: true }];
        aggs.extend((0..255).map(|_| AggSpec { func: Aggregate::Max, arg: arg(), distinct: false }));
        aggs.push(AggSpec { func: Aggregate::Sum, arg: arg(), distinct: true });
        for budget in [crate::spill::BUDGET_BYTES, 256] {
            crate::spill::set_budget(budget);
            let mut groups = Groups::new(&keys, &aggs);
            for n in 0..200 {
                let row = [Value::text(format!("g{}", n % 3)), Value::Int(n % 10)];
                groups.add(&row, &Sets::default()).expect("add");
            }
            let out = finished(groups);
            crate::spill::set_budget(crate::spill::BUDGET_BYTES);
            assert_eq!(out.len(), 3);
            for row in out {
                assert_eq!((&row[1], &row[257]), (&Value::Int(10), &Value::Int(45)), "budget {budget}");
            }
        }
    }
}
