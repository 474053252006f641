//! GROUP BY with COUNT(*), and COUNT(*) over a whole table.

use super::ast::{Projection, Select, SelectItem};
use super::catalog::{Access, Table, scan_rows};
use super::select::{Cond, compare_values, eval, resolve_column, sort_rows};
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::Reader;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A group's key, ordered as its values are.
#[derive(Clone, Debug, PartialEq)]
struct GroupKey(Vec<Value>);

impl Eq for GroupKey {}

impl PartialOrd for GroupKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GroupKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        for (a, b) in self.0.iter().zip(&other.0) {
            let o = compare_values(a, b);
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    }
}

pub fn run_grouped(
    r: &(impl Reader + ?Sized),
    t: &Table,
    s: &Select,
    cond: Option<&Cond>,
    access: &Access,
) -> Result<ResultSet> {
    let group_cols: Vec<usize> = s.group_by.iter().map(|g| resolve_column(t, g)).collect::<Result<_>>()?;
    let Projection::Items(items) = &s.projection else {
        return Err(Error::plan("SELECT * cannot be grouped: name the GROUP BY columns and COUNT(*)"));
    };
    // Output columns: each is a group column or the count.
    let mut out: Vec<Option<usize>> = Vec::new();
    let mut names = Vec::new();
    for item in items {
        match item {
            SelectItem::CountStar => {
                out.push(None);
                names.push(Cow::Borrowed("count(*)"));
            }
            SelectItem::Column(c) => {
                let i = resolve_column(t, c)?;
                let g = group_cols.iter().position(|x| *x == i).ok_or_else(|| {
                    Error::plan_near(
                        format!("column '{c}' must appear in GROUP BY to be selected with COUNT(*)"),
                        c.as_str(),
                    )
                })?;
                out.push(Some(g));
                names.push(Cow::Borrowed(t.columns[i].0));
            }
        }
    }
    let mut groups: BTreeMap<GroupKey, i64> = BTreeMap::new();
    if group_cols.is_empty() {
        groups.insert(GroupKey(Vec::new()), 0);
    }
    scan_rows(r, t, access, &mut |row| {
        if cond.is_none_or(|c| eval(c, &row)) {
            *groups.entry(GroupKey(group_cols.iter().map(|i| row[*i].clone()).collect())).or_default() += 1;
        }
        Ok(true)
    })?;
    let mut rows: Vec<Vec<Value>> = groups
        .into_iter()
        .map(|(k, n)| out.iter().map(|o| o.map_or(Value::Int(n), |g| k.0[g].clone())).collect())
        .collect();
    let order = s
        .order_by
        .iter()
        .map(|o| {
            names.iter().position(|n| n.eq_ignore_ascii_case(&o.column)).map(|i| (i, o.descending)).ok_or_else(|| {
                Error::plan_near(
                    format!("ORDER BY '{}' must be a selected column of a grouped query", o.column),
                    o.column.as_str(),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    sort_rows(&mut rows, &order);
    if let Some(l) = s.limit {
        rows.truncate(usize::try_from(l).unwrap_or(usize::MAX));
    }
    Ok(ResultSet { columns: names, rows, chart: None })
}
