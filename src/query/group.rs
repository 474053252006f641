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

/// Groups being accumulated, in key order. Past `spill::budget()` bytes of groups
/// (a GROUP BY over a million HWIDs) the groups so far go to a `spill`
/// sort and the map starts again; `finish` merges the partial states of
/// each key, so memory follows the budget, not the number of groups.
pub struct Groups<'p> {
    keys: &'p [Scalar],
    aggs: &'p [AggSpec],
    groups: BTreeMap<Vec<Value>, Vec<Acc>>,
    bytes: usize,
    spilled: Option<Sorter<Group, ByKey>>,
}

impl<'p> Groups<'p> {
    pub fn new(keys: &'p [Scalar], aggs: &'p [AggSpec]) -> Groups<'p> {
        Groups { keys, aggs, groups: BTreeMap::new(), bytes: 0, spilled: None }
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
        if self.bytes >= crate::spill::budget() {
            self.spill()?;
        }
        Ok(())
    }

    /// Moves the groups so far to the sort on disk.
    fn spill(&mut self) -> Result<()> {
        let by_key: ByKey = |a, b| a.0.cmp(&b.0);
        let sorter = self.spilled.get_or_insert_with(|| Sorter::new(by_key));
        for (key, accs) in std::mem::take(&mut self.groups) {
            let size = key.iter().map(value_size).sum::<usize>() + accs.iter().map(Acc::size).sum::<usize>();
            sorter.push((key, accs), size)?;
        }
        self.bytes = 0;
        Ok(())
    }

    /// Calls `f` with one row per group, in key order: its keys, then its
    /// aggregates. Without GROUP BY there is one group even over no rows.
    pub fn finish(mut self, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        if self.keys.is_empty() && self.groups.is_empty() {
            self.groups.insert(Vec::new(), self.aggs.iter().map(Acc::new).collect());
        }
        if self.spilled.is_none() {
            for group in std::mem::take(&mut self.groups) {
                f(self.row(group)?)?;
            }
            return Ok(());
        }
        self.spill()?;
        let Some(sorter) = self.spilled.take() else { return Ok(()) };
        let mut current: Option<Group> = None;
        for group in sorter.finish()? {
            let (key, accs) = group?;
            match &mut current {
                Some((k, mine)) if *k == key => {
                    for (a, b) in mine.iter_mut().zip(accs) {
                        a.merge(b)?;
                    }
                }
                _ => {
                    if let Some(done) = current.replace((key, accs)) {
                        f(self.row(done)?)?;
                    }
                }
            }
        }
        if let Some(done) = current {
            f(self.row(done)?)?;
        }
        Ok(())
    }

    fn row(&self, (mut key, accs): Group) -> Result<Vec<Value>> {
        for (acc, spec) in accs.into_iter().zip(self.aggs) {
            key.push(acc.finish(spec.func)?);
        }
        Ok(key)
    }
}
