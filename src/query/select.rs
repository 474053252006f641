//! SELECT execution: the plan of `query::plan` run against a snapshot.
//! Tables are joined by nested loops, each inner table read through its
//! access path for every outer row (or, without one, scanned once and kept);
//! the conditions on the first table alone are checked before the join;
//! rows pass WHERE, are grouped (`query::group`; a large first table's
//! groups gathered on two threads, `split`) or projected, made
//! distinct, sorted (keeping only the first OFFSET + LIMIT rows when there
//! is a LIMIT) and cut.

use super::ast::{Aggregate, Expr, Select, SelectItem};
use super::catalog::{Access, scan_rows};
use super::group::Groups;
use super::plan::{self, Path, Plan, SortKey};
use crate::error::Result;
use crate::model::*;
use crate::store::Reader;
use plan::expr::{Sets, eval, holds};
use std::cmp::Ordering;
use super::group::value_size;
use crate::spill::Sorter;
use std::collections::BTreeSet;
use std::rc::Rc;

mod split;

pub use plan::resolve_table;

/// Runs a SELECT whose `now()` is `now`.
pub fn run_select(r: &(impl Reader + ?Sized), s: &Select, now: Time) -> Result<ResultSet> {
    let plan = plan::plan(s, now)?;
    if let Some(rs) = count_whole_table(r, s, &plan)? {
        return Ok(rs);
    }
    execute(r, &plan)
}

/// How a SELECT hands its rows over as they are final (a shell printing
/// them), a chunk at a time.
pub type Chunks<'a> = dyn FnMut(&ResultSet) -> Result<()> + 'a;

/// The rows of one chunk.
pub const CHUNK_ROWS: usize = 4096;

/// Runs a SELECT, handing its rows to `chunks` (when given) every
/// `CHUNK_ROWS`; the result holds the rows not yet handed over.
pub fn run_select_in_chunks(
    r: &(impl Reader + ?Sized),
    s: &Select,
    now: Time,
    chunks: Option<&mut Chunks<'_>>,
) -> Result<ResultSet> {
    let Some(chunks) = chunks else { return run_select(r, s, now) };
    let plan = plan::plan(s, now)?;
    if let Some(rs) = count_whole_table(r, s, &plan)? {
        return Ok(rs);
    }
    let columns = plan.columns.iter().map(|c| c.clone().into()).collect();
    let mut rs = ResultSet { columns, rows: Vec::new(), chart: None };
    execute_into(r, &plan, &mut |row| {
        rs.rows.push(row);
        if rs.rows.len() >= CHUNK_ROWS {
            chunks(&rs)?;
            rs.rows.clear();
        }
        Ok(())
    })?;
    Ok(rs)
}

/// `EXPLAIN SELECT ...`: the plan, one step a row, the table read first at
/// the top.
pub fn explain(s: &Select, now: Time) -> Result<ResultSet> {
    let plan = plan::plan(s, now)?;
    let mut rs = ResultSet::new(&["plan"]);
    for line in plan::describe(&plan) {
        rs.push(vec![Value::Text(line)]);
    }
    Ok(rs)
}

/// Runs the subqueries of `IN (SELECT ...)`.
pub fn run_subqueries(r: &(impl Reader + ?Sized), subqueries: &[Plan]) -> Result<Sets> {
    let mut sets = Sets::default();
    for sub in subqueries {
        let rs = execute(r, sub)?;
        let mut set = BTreeSet::new();
        let mut has_null = false;
        for row in rs.rows {
            let v = row.into_iter().next().unwrap_or(Value::Null);
            has_null |= v == Value::Null;
            set.insert(v);
        }
        sets.0.push((set, has_null));
    }
    Ok(sets)
}

/// Runs a plan and gathers its rows.
pub fn execute(r: &(impl Reader + ?Sized), plan: &Plan) -> Result<ResultSet> {
    let columns = plan.columns.iter().map(|c| c.clone().into()).collect();
    let mut rs = ResultSet { columns, rows: Vec::new(), chart: None };
    execute_into(r, plan, &mut |row| {
        rs.rows.push(row);
        Ok(())
    })?;
    Ok(rs)
}

/// Runs a plan, handing each result row to `f` as soon as it is final:
/// at once for an unsorted query, after the sort (spilled past its budget)
/// for one with ORDER BY or DISTINCT.
pub fn execute_into(r: &(impl Reader + ?Sized), plan: &Plan, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
    let sets = run_subqueries(r, &plan.subqueries)?;
    let mut out = Collector::new(plan, f);
    match &plan.group {
        None => joined_rows(r, plan, &sets, None, &mut |row| {
            if plan.filter.as_ref().map_or(Ok(true), |f| holds(f, row, &sets))? {
                out.push(row, &sets)?;
            }
            Ok(out.wants_more())
        })
        .map(drop)?,
        Some((keys, aggs)) => {
            let groups = match split::grouped_in_two(r, plan, &sets, keys, aggs)? {
                Some(groups) => groups,
                None => grouped(r, plan, &sets, None, Groups::new(keys, aggs))?.0,
            };
            groups.finish(plan.having.as_ref(), &sets, &mut |row| out.push(&row, &sets))?;
        }
    }
    out.finish()
}

/// Adds to `groups` the rows of the join that pass WHERE, the first table
/// read through `first` when given (a part of it), else its own access;
/// also says how many rows of the first table were read.
fn grouped<'p>(
    r: &(impl Reader + ?Sized),
    plan: &Plan,
    sets: &Sets,
    first: Option<&Access>,
    mut groups: Groups<'p>,
) -> Result<(Groups<'p>, u64)> {
    let read = joined_rows(r, plan, sets, first, &mut |row| {
        if plan.filter.as_ref().map_or(Ok(true), |f| holds(f, row, sets))? {
            groups.add(row, sets)?;
        }
        Ok(true)
    })?;
    Ok((groups, read))
}

type RowFn<'f> = dyn FnMut(&[Value]) -> Result<bool> + 'f;

/// The most lookups of one joined table remembered (values -> rows), so
/// that a million licenses joined with their few key packs read each pack
/// once, not once per license.
const MEMO: usize = 4096;

/// What a join remembers of each table: all its rows (read once when the
/// table has no access path and they fit the sort budget; past it the
/// table is read again for each outer row), or the rows of recent lookups
/// (up to `MEMO` of them and the budget).
#[derive(Default)]
struct Cache {
    all: Option<Rc<Vec<Vec<Value>>>>,
    too_big: bool,
    lookups: hashbrown::HashMap<Vec<Value>, Rc<Vec<Vec<Value>>>>,
    /// The values of the lookup at hand.
    key: Vec<Value>,
    lookup_bytes: usize,
}

/// The rows of a whole table if they fit the budget, else `None`.
fn whole_table_within_budget(r: &(impl Reader + ?Sized), s: &plan::Source) -> Result<Option<Vec<Vec<Value>>>> {
    let (mut rows, mut bytes, mut fits) = (Vec::new(), 0, true);
    scan_rows(r, s.table, &super::catalog::Access::Full, s.columns, &mut |x| {
        bytes += 24 + row_size(&x);
        crate::spill::note_held(bytes);
        rows.push(x);
        fits = bytes < crate::spill::budget();
        Ok(fits)
    })?;
    Ok(fits.then_some(rows))
}

/// Calls `f` with every row of the join (before WHERE); `f` returns
/// whether to go on. The first table is read through `first` when given
/// (a part of it), else through its own access; says how many of its rows
/// were read.
fn joined_rows(
    r: &(impl Reader + ?Sized),
    plan: &Plan,
    sets: &Sets,
    first: Option<&Access>,
    f: &mut RowFn<'_>,
) -> Result<u64> {
    let mut walk = Walk { plan, sets, first, read: 0, cache: plan.sources.iter().map(|_| Cache::default()).collect() };
    let mut row = Vec::new();
    join(r, &mut walk, 0, &mut row, f)?;
    Ok(walk.read)
}

/// A join under way: the plan, its subqueries' sets, how the first table
/// is read and how many of its rows were, what each table remembers.
struct Walk<'a> {
    plan: &'a Plan,
    sets: &'a Sets,
    first: Option<&'a Access>,
    read: u64,
    cache: Vec<Cache>,
}

/// The rows of table `j` for the current row of the tables before it, when
/// they can be kept (`None` for the first table, read as it streams).
fn inner_rows(
    r: &(impl Reader + ?Sized),
    plan: &Plan,
    sets: &Sets,
    j: usize,
    row: &[Value],
    cache: &mut Cache,
) -> Result<Option<Rc<Vec<Vec<Value>>>>> {
    let s = &plan.sources[j];
    if j == 0 {
        return Ok(None);
    }
    let read = |access: &super::catalog::Access| -> Result<Vec<Vec<Value>>> {
        let mut out = Vec::new();
        scan_rows(r, s.table, access, s.columns, &mut |x| {
            out.push(x);
            Ok(true)
        })?;
        Ok(out)
    };
    if s.access == Path::Full {
        if cache.all.is_none() && !cache.too_big {
            match whole_table_within_budget(r, s)? {
                Some(rows) => cache.all = Some(Rc::new(rows)),
                None => cache.too_big = true,
            }
        }
        // Past the budget, `join` reads the table again for this row.
        return Ok(cache.all.clone());
    }
    let is_lookup = plan::lookup_values(&s.access, row, sets, &mut cache.key)?;
    if is_lookup && let Some(rows) = cache.lookups.get(&cache.key[..]) {
        return Ok(Some(Rc::clone(rows)));
    }
    let rows = Rc::new(read(&plan::resolve_access(r, s.table, &s.access, row, sets)?)?);
    if is_lookup {
        let k = std::mem::take(&mut cache.key);
        if cache.lookups.len() >= MEMO || cache.lookup_bytes >= crate::spill::budget() {
            cache.lookups.clear();
            cache.lookup_bytes = 0;
        }
        cache.lookup_bytes += row_size(&k) + rows.iter().map(|x| 24 + row_size(x)).sum::<usize>();
        crate::spill::note_held(cache.lookup_bytes);
        cache.lookups.insert(k, Rc::clone(&rows));
    }
    Ok(Some(rows))
}

fn join(r: &(impl Reader + ?Sized), walk: &mut Walk<'_>, j: usize, row: &mut Vec<Value>, f: &mut RowFn<'_>) -> Result<bool> {
    let (plan, sets) = (walk.plan, walk.sets);
    let Some(s) = plan.sources.get(j) else { return f(row) };
    let mut matched = false;
    let mut go_on = true;
    let early = plan.early.as_ref().filter(|_| j == 0);
    let mut visit = |rrow: &mut dyn Iterator<Item = Value>, row: &mut Vec<Value>, walk: &mut Walk<'_>| {
        row.truncate(s.base);
        row.extend(rrow);
        if early.map_or(Ok(true), |(e, _)| holds(e, row, sets))?
            && s.on.as_ref().map_or(Ok(true), |on| holds(on, row, sets))?
        {
            matched = true;
            go_on = join(r, walk, j + 1, row, f)?;
        }
        Ok(go_on)
    };
    match inner_rows(r, plan, sets, j, row, &mut walk.cache[j])? {
        Some(rows) => {
            for x in rows.iter() {
                if !visit(&mut x.iter().cloned(), row, walk)? {
                    break;
                }
            }
        }
        None => {
            let access = match walk.first.filter(|_| j == 0) {
                Some(part) => part.clone(),
                None => plan::resolve_access(r, s.table, &s.access, row, sets)?,
            };
            let mut scratch = std::mem::take(row);
            scan_rows(r, s.table, &access, s.columns, &mut |x| {
                walk.read += u64::from(j == 0);
                visit(&mut x.into_iter(), &mut scratch, walk)
            })?;
            *row = scratch;
        }
    }
    if go_on && !matched && s.left {
        row.truncate(s.base);
        row.resize(s.base + s.table.columns.len(), Value::Null);
        go_on = join(r, walk, j + 1, row, f)?;
    }
    Ok(go_on)
}

/// A row on its way out: its sort keys, its place among the rows, and its
/// output values.
type Keyed = (Vec<Value>, u64, Vec<Value>);
type KeyedOrder = Box<dyn Fn(&Keyed, &Keyed) -> Ordering>;

/// A DISTINCT row: its output values, its place, its sort keys, and
/// whether it was passed on before the set of rows seen spilled.
type Seen = (Vec<Value>, u64, Vec<Value>, bool);
type SeenOrder = fn(&Seen, &Seen) -> Ordering;

/// The most rows top-k keeps for ORDER BY ... LIMIT (it holds twice as
/// many before it trims); a larger OFFSET + LIMIT sorts through `spill`.
const TOP_K_MAX: usize = 50_000;

fn row_size(values: &[Value]) -> usize {
    values.iter().map(value_size).sum()
}

/// Gathers output rows: projection, DISTINCT, sort keys, OFFSET and LIMIT,
/// and hands each final row to its sink. Memory follows a budget, not the
/// table: an unsorted query passes rows on as they come; ORDER BY with a
/// small LIMIT keeps the best OFFSET + LIMIT rows (top-k); any other
/// ORDER BY sorts through `spill`; DISTINCT remembers the rows it has seen
/// until they pass the budget, then sorts them through `spill` and drops
/// the repeats there. Ties keep the order the rows came in.
struct Collector<'p, 'f> {
    plan: &'p Plan,
    sink: &'f mut dyn FnMut(Vec<Value>) -> Result<()>,
    next: u64,
    seen: BTreeSet<Vec<Value>>,
    seen_bytes: usize,
    seen_spilled: Option<Sorter<Seen, SeenOrder>>,
    top: Option<Vec<Keyed>>,
    /// Top-k's k-th row's sort keys, once it holds k rows.
    worst: Option<Vec<Value>>,
    desc: Vec<bool>,
    sorted: Option<Sorter<Keyed, KeyedOrder>>,
    keep: Option<usize>,
    skipped: usize,
    passed: usize,
}

impl<'p, 'f> Collector<'p, 'f> {
    fn new(plan: &'p Plan, sink: &'f mut dyn FnMut(Vec<Value>) -> Result<()>) -> Collector<'p, 'f> {
        let keep = plan.limit.map(|l| usize::try_from(l.saturating_add(plan.offset)).unwrap_or(usize::MAX));
        let ordered = !plan.order.is_empty();
        let top = (ordered && keep.is_some_and(|k| k <= TOP_K_MAX)).then(Vec::new);
        let sorted = (ordered && top.is_none()).then(|| Sorter::new(keyed_order(plan)));
        Collector {
            plan,
            sink,
            next: 0,
            seen: BTreeSet::new(),
            seen_bytes: 0,
            seen_spilled: None,
            top,
            worst: None,
            desc: plan.order.iter().map(|(_, d)| *d).collect(),
            sorted,
            keep,
            skipped: 0,
            passed: 0,
        }
    }

    fn push(&mut self, row: &[Value], sets: &Sets) -> Result<()> {
        self.next += 1;
        let mut keys = Vec::with_capacity(self.plan.order.len());
        for (k, _) in &self.plan.order {
            keys.push(match k {
                SortKey::Output(i) => eval(&self.plan.items[*i], row, sets)?.into_owned(),
                SortKey::Hidden(s) => eval(s, row, sets)?.into_owned(),
            });
        }
        // Top-k: a row that sorts after the k-th kept one (ties go after,
        // as it came later) can never be returned; it is dropped before
        // its output values are made.
        if let Some(worst) = &self.worst
            && !self.plan.distinct
            && compare_keys(&self.desc, &keys, worst) != Ordering::Less
        {
            return Ok(());
        }
        let out =
            self.plan.items.iter().map(|i| eval(i, row, sets).map(|v| v.into_owned())).collect::<Result<Vec<_>>>()?;
        if !self.plan.distinct {
            return self.stage((keys, self.next, out));
        }
        if let Some(spilled) = &mut self.seen_spilled {
            let size = row_size(&out) + row_size(&keys);
            return spilled.push((out, self.next, keys, false), size);
        }
        if !self.seen.insert(out.clone()) {
            return Ok(());
        }
        self.seen_bytes += 64 + row_size(&out);
        crate::spill::note_held(self.seen_bytes);
        if self.seen_bytes >= crate::spill::budget() {
            self.spill_seen()?;
        }
        self.stage((keys, self.next, out))
    }

    /// Moves the rows seen to a sort on disk, marked as passed on: from
    /// now on every DISTINCT row goes there, and `finish` drops repeats.
    fn spill_seen(&mut self) -> Result<()> {
        let by_values: SeenOrder = |a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1));
        let mut sorter = Sorter::new(by_values);
        for out in std::mem::take(&mut self.seen) {
            let size = row_size(&out);
            sorter.push((out, 0, Vec::new(), true), size)?;
        }
        self.seen_spilled = Some(sorter);
        Ok(())
    }

    /// Takes a row past DISTINCT: to top-k, to the sort, or out.
    fn stage(&mut self, row: Keyed) -> Result<()> {
        if let Some(top) = &mut self.top {
            top.push(row);
            let k = self.keep.unwrap_or(usize::MAX);
            if top.len() >= k.saturating_mul(2).max(1024) {
                top.sort_by(keyed_order(self.plan));
                top.truncate(k);
                self.worst = top.last().filter(|_| top.len() == k).map(|w| w.0.clone());
            }
            return Ok(());
        }
        if let Some(sorted) = &mut self.sorted {
            let size = row_size(&row.0) + row_size(&row.2);
            return sorted.push(row, size);
        }
        self.pass(row.2)
    }

    /// Hands a final row on, past OFFSET and within LIMIT.
    fn pass(&mut self, out: Vec<Value>) -> Result<()> {
        if self.skipped < usize::try_from(self.plan.offset).unwrap_or(usize::MAX) {
            self.skipped += 1;
            return Ok(());
        }
        if self.keep.is_some_and(|k| self.skipped + self.passed >= k) {
            return Ok(());
        }
        self.passed += 1;
        (self.sink)(out)
    }

    /// False once an unsorted query has all the rows it will return.
    fn wants_more(&self) -> bool {
        !(self.top.is_none()
            && self.sorted.is_none()
            && self.seen_spilled.is_none()
            && self.keep.is_some_and(|k| self.skipped + self.passed >= k))
    }

    fn finish(mut self) -> Result<()> {
        if let Some(spilled) = self.seen_spilled.take() {
            // The new rows come out of the spilled sort in value order: back
            // to the order they came in (after every row passed on before).
            if self.top.is_none() && self.sorted.is_none() {
                self.sorted = Some(Sorter::new(keyed_order(self.plan)));
            }
            let mut last: Option<Vec<Value>> = None;
            for row in spilled.finish()? {
                let (out, seq, keys, passed_on) = row?;
                if last.as_ref() == Some(&out) {
                    continue;
                }
                if !passed_on {
                    self.stage((keys, seq, out.clone()))?;
                }
                last = Some(out);
            }
        }
        if let Some(mut top) = self.top.take() {
            top.sort_by(keyed_order(self.plan));
            for (_, _, out) in top {
                self.pass(out)?;
            }
        }
        if let Some(sorted) = self.sorted.take() {
            for row in sorted.finish()? {
                self.pass(row?.2)?;
                if self.keep.is_some_and(|k| self.skipped + self.passed >= k) {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// ORDER BY's order of rows: each key ascending or descending, then the
/// order the rows came in.
fn keyed_order(plan: &Plan) -> KeyedOrder {
    let desc: Vec<bool> = plan.order.iter().map(|(_, d)| *d).collect();
    Box::new(move |a: &Keyed, b: &Keyed| compare_keys(&desc, &a.0, &b.0).then(a.1.cmp(&b.1)))
}

/// Two rows' sort keys in ORDER BY's order (`desc`: each key's direction).
fn compare_keys(desc: &[bool], a: &[Value], b: &[Value]) -> Ordering {
    for (n, desc) in desc.iter().enumerate() {
        let o = a[n].cmp(&b[n]);
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// `SELECT COUNT(*) FROM t` with nothing else: the table's entry count,
/// which redb keeps, instead of a scan that decodes every row (P5: a
/// million licenses counted in microseconds).
fn count_whole_table(r: &(impl Reader + ?Sized), s: &Select, plan: &Plan) -> Result<Option<ResultSet>> {
    let count_star = |i: &SelectItem| matches!(i, SelectItem::Expr { expr: Expr::Agg(Aggregate::Count, None, _), .. });
    let plain = s.joins.is_empty() && s.filter.is_none() && s.group_by.is_empty() && s.having.is_none();
    if !plain || s.items.is_empty() || !s.items.iter().all(count_star) || s.offset.unwrap_or(0) > 0 {
        return Ok(None);
    }
    let n = i64::try_from(r.count(plan.sources[0].table.store)?).unwrap_or(i64::MAX);
    let mut rows = vec![vec![Value::Int(n); s.items.len()]];
    if s.limit == Some(0) {
        rows.clear();
    }
    Ok(Some(ResultSet { columns: plan.columns.iter().map(|c| c.clone().into()).collect(), rows, chart: None }))
}

/// The rows of one table that a condition selects, through the same
/// planner as SELECT (REVOKE LICENSES WHERE ...).
pub fn matching_rows(
    r: &(impl Reader + ?Sized),
    table: &'static super::catalog::Table,
    filter: &Expr,
    now: Time,
) -> Result<Vec<Vec<Value>>> {
    let (cond, path, subqueries) = plan::plan_filter(table, filter, now)?;
    let sets = run_subqueries(r, &subqueries)?;
    let access = plan::resolve_access(r, table, &path, &[], &sets)?;
    let mut out = Vec::new();
    scan_rows(r, table, &access, super::catalog::Columns::ALL, &mut |row| {
        if holds(&cond, &row, &sets)? {
            out.push(row);
        }
        Ok(true)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_statement;
    use crate::store::{LicenseRec, Records, Store};

    /// A store holding licenses expiring on days 1, 2, ... 10 of 2026.
    fn store_with_licenses() -> Store {
        store_with(10, |id| Time::parse(&format!("2026-01-{id:02}")).expect("time"))
    }

    fn store_with(n: u64, expiry: impl Fn(u64) -> Time) -> Store {
        let store = Store::in_memory().expect("store");
        let mut tx = store.write().expect("write");
        for id in 1..=n {
            let day = expiry(id);
            tx.put_license(&LicenseRec::sample(id, &format!("pc{id}"), day)).expect("put");
        }
        tx.commit().expect("commit");
        store
    }

    fn select(text: &str) -> Select {
        match parse_statement(text) {
            Ok(crate::query::ast::Statement::Select(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_expiry_range_reads_only_the_licenses_in_it_through_the_index() {
        let store = store_with_licenses();
        let rx = store.read().expect("read");
        let now = Time(0);
        let s =
            select("SELECT id FROM licenses WHERE expires >= '2026-01-03' AND expires < '2026-01-06' AND user = 'u'");
        let p = plan::plan(&s, now).expect("plan");
        let t = p.sources[0].table;
        let access = plan::resolve_access(&rx, t, &p.sources[0].access, &[], &Sets::default()).expect("access");
        let expected = (3..=5u64).map(|i| crate::store::keys::id(i).to_vec()).collect();
        assert_eq!(access, super::super::catalog::Access::Keys(expected));
        let rows = run_select(&rx, &s, now).expect("select").rows;
        assert_eq!(rows, (3..=5).map(|i| vec![Value::Int(i)]).collect::<Vec<_>>());
        // The same rows as a filter the index cannot serve.
        let scan = select("SELECT id FROM licenses WHERE NOT (expires < '2026-01-03' OR expires >= '2026-01-06')");
        assert_eq!(run_select(&rx, &scan, now).expect("select").rows, rows);
    }

    #[test]
    fn between_on_expires_reads_only_the_licenses_in_it_through_the_index() {
        let store = store_with_licenses();
        let rx = store.read().expect("read");
        let s = select("SELECT id FROM licenses WHERE expires BETWEEN '2026-01-03' AND '2026-01-05'");
        let p = plan::plan(&s, Time(0)).expect("plan");
        let access =
            plan::resolve_access(&rx, p.sources[0].table, &p.sources[0].access, &[], &Sets::default()).expect("access");
        let expected = (3..=5u64).map(|i| crate::store::keys::id(i).to_vec()).collect();
        assert_eq!(access, super::super::catalog::Access::Keys(expected));
        let rows = run_select(&rx, &s, Time(0)).expect("select").rows;
        assert_eq!(rows, (3..=5).map(|i| vec![Value::Int(i)]).collect::<Vec<_>>());
    }

    #[test]
    fn a_plan_reads_only_the_columns_its_clauses_name() {
        let bits = |cols: &[usize]| super::super::catalog::Columns(cols.iter().map(|c| 1u64 << c).sum());
        let s = select(
            "SELECT l.computer, COUNT(*), MIN(k.product) FROM licenses l JOIN keypacks k ON k.id = l.keypack \
             WHERE l.status = 'active' GROUP BY l.computer HAVING COUNT(*) > 1 ORDER BY 2 DESC",
        );
        let p = plan::plan(&s, Time(0)).expect("plan");
        // licenses: keypack (1), status (4), computer (6); keypacks: id (0), product (2).
        assert_eq!(p.sources[0].columns, bits(&[1, 4, 6]));
        assert_eq!(p.sources[1].columns, bits(&[0, 2]));
        let s = select("SELECT id FROM licenses WHERE user = 'u' ORDER BY expires - issued");
        assert_eq!(plan::plan(&s, Time(0)).expect("plan").sources[0].columns, bits(&[0, 7, 9, 10]));
        let all = plan::plan(&select("SELECT * FROM licenses"), Time(0)).expect("plan");
        assert!((0..13).all(|c| all.sources[0].columns.has(c)));
        // What the unread columns hold does not change the answer.
        let store = store_with_licenses();
        let rx = store.read().expect("read");
        let rows = run_select(&rx, &select("SELECT computer, expires FROM licenses WHERE user = 'u' AND issued = '2026-01-04'"), Time(0)).expect("select");
        assert_eq!(rows.rows, vec![vec![Value::Name("pc4".into()), Value::Time(Time::parse("2026-01-04").expect("t"))]]);
    }

    #[test]
    fn top_k_keeps_only_the_rows_a_limit_returns() {
        let store = store_with_licenses();
        let rx = store.read().expect("read");
        let s = select("SELECT id FROM licenses ORDER BY expires DESC LIMIT 2 OFFSET 1");
        let rows = run_select(&rx, &s, Time(0)).expect("select").rows;
        assert_eq!(rows, vec![vec![Value::Int(9)], vec![Value::Int(8)]]);
    }

    #[test]
    fn top_k_over_many_rows_returns_what_a_full_sort_would_with_ties_in_key_order() {
        // 5000 rows, expiries on 7 days only: many ties, and far more rows
        // than the top-k buffer holds before it trims.
        let store = store_with(5000, |id| Time(1_767_225_600 + (id * 37 % 7) as i64 * 86_400));
        let rx = store.read().expect("read");
        let all = run_select(&rx, &select("SELECT id FROM licenses ORDER BY expires DESC"), Time(0)).expect("all").rows;
        for (limit, offset) in [(1, 0), (5, 3), (700, 1500), (3000, 4000)] {
            let text = format!("SELECT id FROM licenses ORDER BY expires DESC LIMIT {limit} OFFSET {offset}");
            let rows = run_select(&rx, &select(&text), Time(0)).expect("top").rows;
            let want: Vec<_> = all.iter().skip(offset).take(limit).cloned().collect();
            assert_eq!(rows, want, "{text}");
        }
    }

    #[test]
    fn order_by_group_by_and_distinct_past_the_sort_budget_answer_as_in_memory() {
        // 3000 licenses, expiries on 7 days: many ties, computers repeating
        // in 1000 names, so that every stage spills at a 4 KiB budget.
        let store = store_with(3000, |id| Time(1_767_225_600 + (id * 37 % 7) as i64 * 86_400));
        let mut tx = store.write().expect("write");
        for id in 1..=3000u64 {
            let mut l = tx.license(id).expect("read").expect("license");
            l.computer = format!("pc{}", id % 1000);
            tx.put_license(&l).expect("put");
        }
        tx.commit().expect("commit");
        let rx = store.read().expect("read");
        for text in [
            "SELECT id, computer FROM licenses ORDER BY expires DESC, computer",
            "SELECT id FROM licenses ORDER BY expires LIMIT 60000 OFFSET 5",
            "SELECT computer, COUNT(*), MIN(id), MAX(expires), SUM(id), AVG(id), COUNT(DISTINCT expires) \
             FROM licenses GROUP BY computer",
            "SELECT computer, COUNT(*) AS n FROM licenses GROUP BY computer HAVING COUNT(*) > 2 ORDER BY n, computer",
            "SELECT DISTINCT computer FROM licenses",
            "SELECT DISTINCT computer, expires FROM licenses ORDER BY expires DESC LIMIT 5000",
            "SELECT DISTINCT computer FROM licenses LIMIT 7 OFFSET 990",
        ] {
            crate::spill::set_budget(crate::spill::BUDGET_BYTES);
            let memory = run_select(&rx, &select(text), Time(0)).expect("in memory").rows;
            crate::spill::set_budget(4096);
            let spilled = run_select(&rx, &select(text), Time(0)).expect("spilled").rows;
            crate::spill::set_budget(crate::spill::BUDGET_BYTES);
            assert!(!memory.is_empty(), "{text}");
            assert_eq!(spilled, memory, "{text}");
        }
    }

    /// The answer of `text` within the default budget and within `budget`
    /// bytes, with the most bytes held under each.
    fn answers_in_and_past_budget(rx: &crate::store::ReadTx, text: &str, budget: usize) -> [(Vec<Vec<Value>>, usize); 2] {
        [crate::spill::BUDGET_BYTES, budget].map(|b| {
            crate::spill::set_budget(b);
            crate::spill::take_most_held();
            let rows = run_select(rx, &select(text), Time(0)).expect("select").rows;
            let held = crate::spill::take_most_held();
            crate::spill::set_budget(crate::spill::BUDGET_BYTES);
            (rows, held)
        })
    }

    #[test]
    fn count_distinct_without_group_by_holds_no_more_than_the_budget_and_answers_as_in_memory() {
        // 3000 licenses with 3000 HWIDs and 1000 computers: one group whose
        // two DISTINCT sets would hold every value.
        let store = store_with(3000, |id| Time(1_767_225_600 + (id * 37 % 7) as i64 * 86_400));
        let mut tx = store.write().expect("write");
        for id in 1..=3000u64 {
            let mut l = tx.license(id).expect("read").expect("license");
            l.hwid = Hwid(std::array::from_fn(|i| (id >> (8 * (i % 4))) as u8 ^ i as u8));
            l.computer = format!("pc{}", id % 1000);
            tx.put_license(&l).expect("put");
        }
        tx.commit().expect("commit");
        let rx = store.read().expect("read");
        let text = "SELECT COUNT(DISTINCT hwid), COUNT(DISTINCT computer), MIN(DISTINCT computer), COUNT(*) FROM licenses";
        let [(memory, held_memory), (spilled, held_spilled)] = answers_in_and_past_budget(&rx, text, 4096);
        assert_eq!(memory[0][..2], [Value::Int(3000), Value::Int(1000)]);
        assert_eq!(spilled, memory);
        // The group table's budget is six sort budgets; one row past it.
        let bound = crate::spill::GROUP_BUDGET_BYTES / crate::spill::BUDGET_BYTES * 4096 + 1024;
        assert!(held_memory > bound, "in memory the sets hold every value: {held_memory} bytes");
        assert!(held_spilled <= bound, "past a 4 KiB budget, {held_spilled} bytes were held");
    }

    #[test]
    fn a_join_whose_inner_table_has_no_access_path_holds_no_more_than_the_budget() {
        // ON a.user = b.user: no index on user, so the inner table is read
        // whole; 300 licenses of 10 users, 9000 joined rows.
        let store = store_with(300, |id| Time(1_767_225_600 + id as i64 * 86_400));
        let mut tx = store.write().expect("write");
        for id in 1..=300u64 {
            let mut l = tx.license(id).expect("read").expect("license");
            l.user = format!("u{}", id % 10);
            tx.put_license(&l).expect("put");
        }
        tx.commit().expect("commit");
        let rx = store.read().expect("read");
        let text = "SELECT a.user, COUNT(*), MIN(b.id), MAX(b.id) FROM licenses a JOIN licenses b ON a.user = b.user \
                    GROUP BY a.user";
        let [(memory, held_memory), (spilled, held_spilled)] = answers_in_and_past_budget(&rx, text, 4096);
        assert_eq!(memory.len(), 10);
        assert!(memory.iter().all(|r| r[1] == Value::Int(900)), "{memory:?}");
        assert_eq!(spilled, memory);
        assert!(held_memory > 8192, "in memory the inner table is kept whole: {held_memory} bytes");
        assert!(held_spilled <= 8192, "past a 4 KiB budget, {held_spilled} bytes were held");
    }

    /// 3000 licenses of 1500 computers, each spelt `pcN` on its first
    /// license and `PCN` on its second; 256 HWIDs; every fifth revoked.
    fn store_of_case_variant_computers() -> Store {
        store_of_case_variant_computers_up_to(3000)
    }

    /// Licenses 1 to `n`: pcN (odd) and PCN (even) share computer N.
    fn store_of_case_variant_computers_up_to(n: u64) -> Store {
        let store = store_with(n, |id| Time(1_767_225_600 + (id % 13) as i64 * 86_400));
        let mut tx = store.write().expect("write");
        for id in 1..=n {
            let mut l = tx.license(id).expect("read").expect("license");
            let n = id.div_ceil(2);
            l.computer = if id % 2 == 1 { format!("pc{n}") } else { format!("PC{n}") };
            l.user = format!("u{}", id % 7);
            l.revoked = (id % 5 == 0).then_some(Time(1_767_225_600 + id as i64));
            tx.put_license(&l).expect("put");
        }
        tx.commit().expect("commit");
        store
    }

    fn spelling(v: &Value) -> &str {
        match v {
            Value::Name(s) | Value::Text(s) => s,
            other => panic!("not a name: {other:?}"),
        }
    }

    #[test]
    fn a_group_table_past_its_budget_spills_and_answers_as_in_memory() {
        let store = store_of_case_variant_computers();
        let rx = store.read().expect("read");
        let text = "SELECT computer, COUNT(*), COUNT(DISTINCT hwid), COUNT(DISTINCT computer), MIN(user), MAX(user), \
                    MIN(revoked), MAX(expires), SUM(id), AVG(id) FROM licenses GROUP BY computer";
        let [(memory, held_memory), (spilled, held_spilled)] = answers_in_and_past_budget(&rx, text, 4096);
        assert_eq!(memory.len(), 1500, "pcN and PCN are one group");
        assert_eq!(format!("{spilled:?}"), format!("{memory:?}"), "same values, same spellings");
        let bound = crate::spill::GROUP_BUDGET_BYTES / crate::spill::BUDGET_BYTES * 4096 + 1024;
        assert!(held_memory > bound, "in memory the table holds every group: {held_memory} bytes");
        assert!(held_spilled <= bound, "past a 4 KiB budget, {held_spilled} bytes were held");
        let first = &memory[0];
        assert_eq!(spelling(&first[0]), "pc1", "the first spelling met: {first:?}");
        assert_eq!(first[1..4], [Value::Int(2), Value::Int(2), Value::Int(1)]);
        assert_eq!(first[8..], [Value::Int(3), Value::Int(2)], "SUM(id) 1 + 2, AVG(id) 1.5 rounded away from zero");
    }

    #[test]
    fn a_group_by_split_over_two_threads_answers_as_one_thread_does_in_memory_and_spilled() {
        // A group straddles the cut (licenses 1 to 2999 are cut at 1500:
        // pc750 is license 1499, PC750 license 1500): its halves meet in
        // one group with the first spelling.
        let store = store_of_case_variant_computers_up_to(2999);
        let rx = store.read().expect("read");
        let middle = rx.middle_key(crate::store::T::Licenses).expect("middle").expect("a middle key");
        assert_eq!(crate::store::keys::number(u64::from_be_bytes(middle.try_into().expect("8 bytes"))), 1500);
        drop(rx);
        let rx = store.read().expect("read");
        for text in [
            "SELECT computer, COUNT(*), COUNT(DISTINCT hwid), COUNT(DISTINCT computer), MIN(user), MAX(user), \
             MIN(revoked), MAX(expires), SUM(id), AVG(id) FROM licenses GROUP BY computer",
            "SELECT user, COUNT(DISTINCT computer) AS n, SUM(DISTINCT keypack), MIN(computer) FROM licenses \
             GROUP BY user HAVING COUNT(*) > 400 ORDER BY n DESC",
            "SELECT l.expires, COUNT(*), MAX(k.product), COUNT(DISTINCT l.user) FROM licenses l \
             LEFT JOIN keypacks k ON k.id = l.keypack WHERE l.revoked IS NULL GROUP BY l.expires",
            "SELECT COUNT(*), COUNT(DISTINCT computer), MAX(computer), AVG(id) FROM licenses",
        ] {
            for budget in [crate::spill::BUDGET_BYTES, 4096] {
                crate::spill::set_budget(budget);
                split::set_split_rows(u64::MAX);
                let one = run_select(&rx, &select(text), Time(0)).expect("one thread").rows;
                split::set_split_rows(1);
                let plan = plan::plan(&select(text), Time(0)).expect("plan");
                let (keys, aggs) = plan.group.as_ref().expect("a GROUP BY plan");
                let taken = split::grouped_in_two(&rx, &plan, &Sets::default(), keys, aggs).expect("split");
                assert!(taken.is_some(), "the scan splits: {text}");
                let two = run_select(&rx, &select(text), Time(0)).expect("two threads").rows;
                split::set_split_rows(plan::SPLIT_ROWS);
                crate::spill::set_budget(crate::spill::BUDGET_BYTES);
                assert!(!one.is_empty(), "{text}");
                let differs = one.iter().zip(&two).position(|(a, b)| format!("{a:?}") != format!("{b:?}"));
                let at = differs.map(|i| (&one[i], &two[i]));
                assert!(at.is_none() && one.len() == two.len(), "budget {budget}: {text}: {at:?}, {} / {}", one.len(), two.len());
            }
        }
    }

    #[test]
    fn a_group_by_inside_a_write_transaction_or_over_a_small_table_does_not_split() {
        let store = store_of_case_variant_computers();
        let text = "SELECT computer, COUNT(*) FROM licenses GROUP BY computer";
        let plan = plan::plan(&select(text), Time(0)).expect("plan");
        let (keys, aggs) = plan.group.as_ref().expect("a GROUP BY plan");
        let tx = store.write().expect("write");
        split::set_split_rows(1);
        let in_write = split::grouped_in_two(&tx, &plan, &Sets::default(), keys, aggs).expect("split");
        split::set_split_rows(plan::SPLIT_ROWS);
        assert!(in_write.is_none(), "a write transaction's rows are its own thread's");
        drop(tx);
        let rx = store.read().expect("read");
        let small = split::grouped_in_two(&rx, &plan, &Sets::default(), keys, aggs).expect("split");
        assert!(small.is_none(), "3000 rows are fewer than SPLIT_ROWS");
    }

    #[test]
    fn a_null_key_is_one_group_and_aggregates_over_nulls_or_no_rows_give_null_or_zero() {
        let store = store_of_case_variant_computers();
        let rx = store.read().expect("read");
        for budget in [crate::spill::BUDGET_BYTES, 256] {
            crate::spill::set_budget(budget);
            let run = |text: &str| run_select(&rx, &select(text), Time(0)).expect("select").rows;
            let by_revoked = run("SELECT revoked, COUNT(*), COUNT(revoked), MIN(revoked), SUM(id) FROM licenses GROUP BY revoked");
            let none = run("SELECT computer, COUNT(*) FROM licenses WHERE id < 0 GROUP BY computer");
            let whole = run("SELECT COUNT(*), COUNT(DISTINCT hwid), MIN(computer), SUM(id), AVG(id) FROM licenses WHERE id < 0");
            crate::spill::set_budget(crate::spill::BUDGET_BYTES);
            assert_eq!(by_revoked.len(), 601, "budget {budget}: 600 revoked times and NULL");
            let nulls = &by_revoked[0];
            assert_eq!(nulls[..4], [Value::Null, Value::Int(2400), Value::Int(0), Value::Null], "budget {budget}");
            assert_eq!(nulls[4], Value::Int(3000 * 3001 / 2 - 5 * 600 * 601 / 2), "budget {budget}");
            assert!(none.is_empty(), "budget {budget}: no rows, no groups");
            let zero = [Value::Int(0), Value::Int(0), Value::Null, Value::Null, Value::Null];
            assert_eq!(whole, vec![zero.to_vec()], "budget {budget}: one group over no rows");
        }
    }

    fn m(p: &str, s: &str) -> bool {
        plan::expr::like(&p.chars().collect::<Vec<_>>(), &s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn like_matches_percent_and_underscore() {
        assert!(m("pc%", "pc-01"));
        assert!(m("%01", "pc-01"));
        assert!(m("p_-0_", "pc-01"));
        assert!(!m("pc_", "pc-01"));
        assert!(m("%", ""));
        assert!(m("%a%b%", "xxaxxbxx"));
        assert!(!m("%a%b%", "xxbxxaxx"));
    }
}
