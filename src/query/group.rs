//! Grouping and aggregates: COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM,
//! MIN, MAX and AVG, per group of equal keys. Aggregates skip NULLs; over no
//! value at all COUNT gives 0 and the others NULL. AVG gives the mean
//! rounded to the nearest integer, halves away from zero (caldb's numbers
//! are integers).

use super::ast::Aggregate;
use super::plan::AggSpec;
use super::plan::Scalar;
use super::plan::expr::{Sets, eval};
use crate::error::{Error, Result};
use crate::model::Value;
use crate::spill::Sorter;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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

/// A value of a DISTINCT aggregate moved out of a spilled group: the
/// group's keys, which aggregate, the value.
type Spilt = (Vec<Value>, u32, Value);
type BySpilt = fn(&Spilt, &Spilt) -> std::cmp::Ordering;

/// Groups being accumulated, in key order. Past `spill::budget()` bytes
/// of groups (a GROUP BY over a million HWIDs) the groups so far go to a
/// `spill` sort, and the values of their DISTINCT aggregates (a set past
/// `FEW` values, or the one group's without GROUP BY) to a second one;
/// the map starts again. `finish` merges the partial states of each key
/// and adds each key's distinct values once as they stream past in
/// order, so memory follows the budget, not the number of groups nor of
/// distinct values (COUNT(DISTINCT hwid) over a million licenses).
pub struct Groups<'p> {
    keys: &'p [Scalar],
    aggs: &'p [AggSpec],
    groups: BTreeMap<Vec<Value>, Vec<Acc>>,
    bytes: usize,
    spilled: Option<Sorter<Group, ByKey>>,
    distinct: Option<Sorter<Spilt, BySpilt>>,
}

impl<'p> Groups<'p> {
    pub fn new(keys: &'p [Scalar], aggs: &'p [AggSpec]) -> Groups<'p> {
        Groups { keys, aggs, groups: BTreeMap::new(), bytes: 0, spilled: None, distinct: None }
    }

    pub fn add(&mut self, row: &[Value], sets: &Sets) -> Result<()> {
        let key = self.keys.iter().map(|k| eval(k, row, sets).map(|v| v.into_owned())).collect::<Result<Vec<_>>>()?;
        let aggs = self.aggs;
        let mut grew = 0;
        let accs = self.groups.entry(key).or_insert_with_key(|key| {
            // A B-tree entry's share of its node, besides the key and values.
            grew = 64 + key.iter().map(value_size).sum::<usize>();
            aggs.iter().map(Acc::new).collect()
        });
        for (acc, spec) in accs.iter_mut().zip(aggs) {
            let v = spec.arg.as_ref().map(|a| eval(a, row, sets).map(|v| v.into_owned())).transpose()?;
            if spec.distinct {
                grew += v.as_ref().map_or(0, |v| 16 + value_size(v));
            }
            acc.add(v)?;
        }
        self.bytes += grew + if grew > 0 { accs.iter().map(Acc::size).sum() } else { 0 };
        crate::spill::note_held(self.bytes);
        if self.bytes >= crate::spill::budget() {
            self.spill()?;
        }
        Ok(())
    }

    /// Moves the groups so far to the sorts on disk, in key order.
    fn spill(&mut self) -> Result<()> {
        let by_key: ByKey = |a, b| a.0.cmp(&b.0);
        let by_spilt: BySpilt = |a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2));
        let sorter = self.spilled.get_or_insert_with(|| Sorter::new(by_key));
        for (key, mut accs) in std::mem::take(&mut self.groups) {
            for (i, acc) in accs.iter_mut().enumerate() {
                // A few values travel with their group (a GROUP BY of many
                // groups: at most `FEW` a group a spill, merged at the end);
                // a bigger set, or the one group of an aggregate without
                // GROUP BY, goes to its own sort.
                let Acc::Distinct(d) = acc else { continue };
                if matches!(d, Distinct::Few(_)) && !key.is_empty() {
                    continue;
                }
                let values = std::mem::replace(d, Distinct::Few(Vec::new())).into_values();
                let distinct = self.distinct.get_or_insert_with(|| Sorter::new(by_spilt));
                for v in values {
                    let size = key.iter().map(value_size).sum::<usize>() + value_size(&v);
                    distinct.push((key.clone(), i as u32, v), size)?;
                }
            }
            let size = key.iter().map(value_size).sum::<usize>() + accs.iter().map(Acc::size).sum::<usize>();
            sorter.push((key, accs), size)?;
        }
        self.bytes = 0;
        Ok(())
    }

    /// Calls `f` with one row per group, in key order: its keys, then its
    /// aggregates. Without GROUP BY there is one group even over no rows.
    pub fn finish(mut self, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        if self.keys.is_empty() && self.groups.is_empty() && self.spilled.is_none() {
            self.groups.insert(Vec::new(), self.aggs.iter().map(Acc::new).collect());
        }
        if self.spilled.is_none() {
            for group in std::mem::take(&mut self.groups) {
                f(self.row(group, None)?)?;
            }
            return Ok(());
        }
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
            f(this.row(done, values)?)
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
            .map(|a| a.distinct.then(|| Acc::new(&AggSpec { func: a.func, arg: None, distinct: false })))
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
