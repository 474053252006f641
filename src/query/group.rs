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
use std::collections::{BTreeMap, BTreeSet};

/// The state of one aggregate of one group.
#[derive(Clone, Debug)]
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
#[derive(Clone, Debug)]
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

/// Groups being accumulated, in key order.
pub struct Groups<'p> {
    keys: &'p [Scalar],
    aggs: &'p [AggSpec],
    groups: BTreeMap<Vec<Value>, Vec<Acc>>,
}

impl<'p> Groups<'p> {
    pub fn new(keys: &'p [Scalar], aggs: &'p [AggSpec]) -> Groups<'p> {
        Groups { keys, aggs, groups: BTreeMap::new() }
    }

    pub fn add(&mut self, row: &[Value], sets: &Sets) -> Result<()> {
        let key = self.keys.iter().map(|k| eval(k, row, sets).map(|v| v.into_owned())).collect::<Result<Vec<_>>>()?;
        let aggs = self.aggs;
        let accs = self.groups.entry(key).or_insert_with(|| aggs.iter().map(Acc::new).collect());
        for (acc, spec) in accs.iter_mut().zip(aggs) {
            let v = spec.arg.as_ref().map(|a| eval(a, row, sets).map(|v| v.into_owned())).transpose()?;
            acc.add(v)?;
        }
        Ok(())
    }

    /// One row per group: its keys, then its aggregates. Without GROUP BY
    /// there is one group even over no rows.
    pub fn finish(mut self) -> Result<Vec<Vec<Value>>> {
        if self.keys.is_empty() && self.groups.is_empty() {
            self.groups.insert(Vec::new(), self.aggs.iter().map(Acc::new).collect());
        }
        let mut out = Vec::with_capacity(self.groups.len());
        for (mut key, accs) in self.groups {
            for (acc, spec) in accs.into_iter().zip(self.aggs) {
                key.push(acc.finish(spec.func)?);
            }
            out.push(key);
        }
        Ok(out)
    }
}
