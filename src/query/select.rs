//! SELECT: planning (names checked, literals typed, an index chosen) and
//! execution (filter, group, order, limit).

use super::ast::{CompareOp, Expr, Literal, Projection, Select, SelectItem};
use super::catalog::{self, Access, Table, Type, scan_rows};
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::{Reader, Records, T, keys, records};
use std::borrow::Cow;
use std::cmp::Ordering;

/// A condition with its columns resolved to positions and literals typed.
#[derive(Clone, Debug)]
pub enum Cond {
    Compare(usize, CompareOp, Value),
    IsNull(usize, bool),
    In(usize, Vec<Value>, bool),
    Like(usize, Vec<char>, bool),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

pub fn resolve_table(name: &str) -> Result<&'static Table> {
    catalog::table(name).ok_or_else(|| Error::plan_near(format!("no table named '{name}'"), name))
}

pub(super) fn resolve_column(t: &Table, name: &str) -> Result<usize> {
    t.column(name).ok_or_else(|| Error::plan_near(format!("no column '{name}' in table '{}'", t.name), name))
}

/// Types a literal for a column: text compared with a time column is read
/// as a time, an HWID in either case is matched in upper case.
fn typed(t: &Table, col: usize, lit: &Literal) -> Result<Value> {
    let (name, ty) = t.columns[col];
    let bad = |what: &str| Error::plan(format!("column '{name}' is {}; {what} cannot be compared with it", ty.name()));
    Ok(match (ty, lit) {
        (_, Literal::Null) => Value::Null,
        (Type::Int, Literal::Int(i)) => Value::Int(*i),
        (Type::Text, Literal::Text(s)) if name == "hwid" => Value::Text(s.to_ascii_uppercase()),
        (Type::Text, Literal::Text(s)) => Value::Text(s.clone()),
        (Type::Bool, Literal::Bool(b)) => Value::Bool(*b),
        (Type::Time, Literal::Text(s)) => Value::Time(
            Time::parse(s)
                .ok_or_else(|| Error::plan_near(format!("'{s}' is not a time (YYYY-MM-DD [HH:MM:SS])"), s.as_str()))?,
        ),
        (_, Literal::Int(i)) => return Err(bad(&format!("the number {i}"))),
        (_, Literal::Text(s)) => return Err(bad(&format!("the text '{s}'"))),
        (_, Literal::Bool(b)) => return Err(bad(&format!("{b}"))),
    })
}

pub fn plan_cond(t: &Table, e: &Expr) -> Result<Cond> {
    Ok(match e {
        Expr::Compare { column, op, value } => {
            let c = resolve_column(t, column)?;
            Cond::Compare(c, *op, typed(t, c, value)?)
        }
        Expr::IsNull { column, negated } => Cond::IsNull(resolve_column(t, column)?, *negated),
        Expr::In { column, values, negated } => {
            let c = resolve_column(t, column)?;
            let vals = values.iter().map(|v| typed(t, c, v)).collect::<Result<_>>()?;
            Cond::In(c, vals, *negated)
        }
        Expr::Like { column, pattern, negated } => {
            Cond::Like(resolve_column(t, column)?, pattern.to_lowercase().chars().collect(), *negated)
        }
        Expr::And(a, b) => Cond::And(Box::new(plan_cond(t, a)?), Box::new(plan_cond(t, b)?)),
        Expr::Or(a, b) => Cond::Or(Box::new(plan_cond(t, a)?), Box::new(plan_cond(t, b)?)),
        Expr::Not(a) => Cond::Not(Box::new(plan_cond(t, a)?)),
    })
}

/// SQL order of values of one column; NULL first.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn like(pattern: &[char], text: &[char]) -> bool {
    // Iterative matching with backtracking to the last '%': linear space,
    // no recursion, whatever the pattern.
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < text.len() {
        if p < pattern.len() && (pattern[p] == '_' || pattern[p] == text[s]) {
            p += 1;
            s += 1;
        } else if p < pattern.len() && pattern[p] == '%' {
            star = Some((p, s));
            p += 1;
        } else if let Some((sp, ss)) = star {
            p = sp + 1;
            s = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '%')
}

pub fn eval(c: &Cond, row: &[Value]) -> bool {
    match c {
        Cond::Compare(i, op, v) => {
            if row[*i] == Value::Null || *v == Value::Null {
                return false;
            }
            let o = compare_values(&row[*i], v);
            match op {
                CompareOp::Eq => o == Ordering::Equal,
                CompareOp::Ne => o != Ordering::Equal,
                CompareOp::Lt => o == Ordering::Less,
                CompareOp::Le => o != Ordering::Greater,
                CompareOp::Gt => o == Ordering::Greater,
                CompareOp::Ge => o != Ordering::Less,
            }
        }
        Cond::IsNull(i, negated) => (row[*i] == Value::Null) != *negated,
        Cond::In(i, vals, negated) => {
            row[*i] != Value::Null && vals.iter().any(|v| compare_values(&row[*i], v) == Ordering::Equal) != *negated
        }
        Cond::Like(i, pat, negated) => {
            if row[*i] == Value::Null {
                return false;
            }
            let text: Vec<char> = row[*i].to_string().to_lowercase().chars().collect();
            like(pat, &text) != *negated
        }
        Cond::And(a, b) => eval(a, row) && eval(b, row),
        Cond::Or(a, b) => eval(a, row) || eval(b, row),
        Cond::Not(a) => !eval(a, row),
    }
}

/// The conjuncts of a condition joined by AND at the top.
fn conjuncts<'c>(c: &'c Cond, out: &mut Vec<&'c Cond>) {
    if let Cond::And(a, b) = c {
        conjuncts(a, out);
        conjuncts(b, out);
    } else {
        out.push(c);
    }
}

/// Picks an access path: a primary key or index lookup when a top-level
/// conjunct allows one, else a full scan. The filter still runs on every
/// row, so the access path only has to be a superset.
pub fn choose_access(r: &(impl Reader + ?Sized), t: &Table, cond: Option<&Cond>) -> Result<Access> {
    let Some(cond) = cond else { return Ok(Access::Full) };
    let mut parts = Vec::new();
    conjuncts(cond, &mut parts);
    for p in &parts {
        let (col, values): (usize, Vec<&Value>) = match p {
            Cond::Compare(c, CompareOp::Eq, v) => (*c, vec![v]),
            Cond::In(c, vs, false) => (*c, vs.iter().collect()),
            _ => continue,
        };
        if let Some(keys) = keyed(r, t, t.columns[col].0, &values)? {
            return Ok(Access::Keys(keys));
        }
    }
    if let Some(a) = expiry_access(r, t, &parts)? {
        return Ok(a);
    }
    for p in &parts {
        if let Some(a) = range_access(t, p) {
            return Ok(a);
        }
    }
    Ok(Access::Full)
}

/// Licenses whose expiry lies in the range the conjuncts on `expires` allow,
/// through the expiry index.
fn expiry_access(r: &(impl Reader + ?Sized), t: &Table, parts: &[&Cond]) -> Result<Option<Access>> {
    if t.name != "licenses" {
        return Ok(None);
    }
    let (mut lo, mut hi): (Option<Time>, Option<Time>) = (None, None);
    for p in parts {
        let Cond::Compare(c, op, Value::Time(at)) = p else { continue };
        if t.columns[*c].0 != "expires" {
            continue;
        }
        let next = at.plus_seconds(1);
        let (from, to) = match op {
            CompareOp::Lt => (None, Some(*at)),
            CompareOp::Le => (None, Some(next)),
            CompareOp::Gt => (Some(next), None),
            CompareOp::Ge => (Some(*at), None),
            CompareOp::Eq => (Some(*at), Some(next)),
            CompareOp::Ne => continue,
        };
        lo = lo.max(from);
        hi = match (hi, to) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    if lo.is_none() && hi.is_none() {
        return Ok(None);
    }
    let from = keys::Key::new().time(lo.unwrap_or(TIME_MIN)).done();
    let to = hi.map(|h| keys::Key::new().time(h).done());
    let mut out = Vec::new();
    r.scan(T::IdxLicenseExpiry, &from, to.as_deref(), &mut |k, _| {
        out.push(keys::id(keys::trailing_id(k)).to_vec());
        Ok(true)
    })?;
    out.sort();
    Ok(Some(Access::Keys(out)))
}

/// Primary keys for `column = value` (or IN) when the table has a key or an
/// index on that column.
fn keyed(r: &(impl Reader + ?Sized), t: &Table, column: &str, values: &[&Value]) -> Result<Option<Vec<Vec<u8>>>> {
    let mut out = Vec::new();
    for v in values {
        match (t.name, column, v) {
            ("servers" | "devices" | "hosts", "name", Value::Text(s)) => out.push(keys::name(s).to_vec()),
            ("keypacks" | "licenses" | "sessions", "id", Value::Int(i))
            | ("events" | "history", "seq", Value::Int(i)) => {
                if let Ok(i) = u64::try_from(*i) {
                    out.push(keys::id(i).to_vec());
                }
            }
            ("licenses", "hwid", Value::Text(s)) => {
                if let Some(h) = Hwid::parse(s) {
                    out.extend(r.licenses_of_hwid(&h)?.into_iter().map(|i| keys::id(i).to_vec()));
                }
            }
            ("licenses", "computer", Value::Text(s)) => {
                out.extend(r.licenses_of_computer(s)?.into_iter().map(|i| keys::id(i).to_vec()))
            }
            ("devices", "hwid", Value::Text(s)) => {
                if let Some(h) = Hwid::parse(s) {
                    out.extend(r.devices_of_hwid(&h)?.iter().map(|n| keys::name(n).to_vec()));
                }
            }
            ("tokens", "device", Value::Text(s)) => {
                out.extend(r.index_keys(t.store, &records::tokens_prefix(s))?);
            }
            _ => return Ok(None),
        }
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

/// A key range for comparisons on an ordered key column.
fn range_access(t: &Table, c: &Cond) -> Option<Access> {
    let Cond::Compare(col, op, Value::Int(i)) = c else { return None };
    let key_col = matches!(
        (t.name, t.columns[*col].0),
        ("keypacks" | "licenses" | "sessions", "id") | ("events" | "history", "seq")
    );
    if !key_col {
        return None;
    }
    let i = (*i).max(0) as u64;
    let (from, to) = match op {
        CompareOp::Gt => (i.checked_add(1)?, None),
        CompareOp::Ge => (i, None),
        CompareOp::Lt => (0, Some(i)),
        CompareOp::Le => (0, i.checked_add(1)),
        _ => return None,
    };
    Some(Access::Range { from: keys::id(from).to_vec(), to: to.map(|t| keys::id(t).to_vec()) })
}

pub fn run_select(r: &(impl Reader + ?Sized), s: &Select) -> Result<ResultSet> {
    let t = resolve_table(&s.table)?;
    let cond = s.filter.as_ref().map(|e| plan_cond(t, e)).transpose()?;
    if let Some(rs) = count_whole_table(r, t, s, cond.as_ref())? {
        return Ok(rs);
    }
    let grouped = !s.group_by.is_empty() || has_count(&s.projection);
    let access = choose_access(r, t, cond.as_ref())?;
    if grouped {
        return super::group::run_grouped(r, t, s, cond.as_ref(), &access);
    }
    let (names, positions) = projection(t, &s.projection)?;
    let order = order_keys(t, s)?;
    let early_limit = if order.is_empty() { s.limit } else { None };
    let mut rows = Vec::new();
    scan_rows(r, t, &access, &mut |row| {
        if cond.as_ref().is_none_or(|c| eval(c, &row)) {
            rows.push(row);
        }
        Ok(early_limit.is_none_or(|l| (rows.len() as u64) < l))
    })?;
    sort_rows(&mut rows, &order);
    if let Some(l) = s.limit {
        rows.truncate(usize::try_from(l).unwrap_or(usize::MAX));
    }
    if !matches!(s.projection, Projection::Star) {
        rows = rows.into_iter().map(|row| positions.iter().map(|p| row[*p].clone()).collect()).collect();
    }
    Ok(ResultSet { columns: names, rows, chart: None })
}

/// `SELECT COUNT(*) FROM t` with no filter, grouping or ordering: the
/// table's entry count, which redb keeps, instead of a scan that decodes
/// every row (P5: a million licenses counted in microseconds).
fn count_whole_table(
    r: &(impl Reader + ?Sized),
    t: &Table,
    s: &Select,
    cond: Option<&Cond>,
) -> Result<Option<ResultSet>> {
    let Projection::Items(items) = &s.projection else { return Ok(None) };
    let only_counts = !items.is_empty() && items.iter().all(|i| *i == SelectItem::CountStar);
    if !only_counts || cond.is_some() || !s.group_by.is_empty() || !s.order_by.is_empty() {
        return Ok(None);
    }
    let n = i64::try_from(r.count(t.store)?).unwrap_or(i64::MAX);
    let mut rows = vec![vec![Value::Int(n); items.len()]];
    if s.limit == Some(0) {
        rows.clear();
    }
    Ok(Some(ResultSet { columns: vec!["count(*)".into(); items.len()], rows, chart: None }))
}

fn has_count(p: &Projection) -> bool {
    matches!(p, Projection::Items(items) if items.contains(&SelectItem::CountStar))
}

fn projection(t: &Table, p: &Projection) -> Result<(Vec<Cow<'static, str>>, Vec<usize>)> {
    match p {
        Projection::Star => Ok((t.column_names().iter().map(|&c| c.into()).collect(), (0..t.columns.len()).collect())),
        Projection::Items(items) => {
            let mut names = Vec::new();
            let mut pos = Vec::new();
            for item in items {
                let SelectItem::Column(c) = item else { unreachable!("COUNT(*) is a grouped query") };
                pos.push(resolve_column(t, c)?);
                names.push(t.columns[*pos.last().unwrap_or(&0)].0.into());
            }
            Ok((names, pos))
        }
    }
}

fn order_keys(t: &Table, s: &Select) -> Result<Vec<(usize, bool)>> {
    s.order_by.iter().map(|o| Ok((resolve_column(t, &o.column)?, o.descending))).collect()
}

pub fn sort_rows(rows: &mut [Vec<Value>], order: &[(usize, bool)]) {
    if order.is_empty() {
        return;
    }
    rows.sort_by(|a, b| {
        for (i, desc) in order {
            let o = compare_values(&a[*i], &b[*i]);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_statement;
    use crate::store::{LicenseRec, Store};

    /// A store holding licenses expiring on days 1, 2, ... 10 of 2026.
    fn store_with_licenses() -> Store {
        let store = Store::in_memory().expect("store");
        let mut tx = store.write().expect("write");
        for id in 1..=10u64 {
            let day = Time::parse(&format!("2026-01-{id:02}")).expect("time");
            tx.put_license(&LicenseRec {
                id,
                keypack: 1,
                server: "ls1".into(),
                kind: LicenseKind::Permanent,
                status: LicenseStatus::Active,
                hwid: Hwid([id as u8; 20]),
                computer: format!("pc{id}"),
                user: "u".into(),
                product: Product::Ws2022,
                issued: day,
                expires: day,
                validated: true,
                revoked: None,
            })
            .expect("put");
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
        let t = resolve_table("licenses").expect("table");
        let s =
            select("SELECT id FROM licenses WHERE expires >= '2026-01-03' AND expires < '2026-01-06' AND user = 'u'");
        let cond = plan_cond(t, s.filter.as_ref().expect("filter")).expect("plan");
        let access = choose_access(&rx, t, Some(&cond)).expect("access");
        assert_eq!(access, Access::Keys((3..=5).map(|i| keys::id(i).to_vec()).collect()));
        let rows = run_select(&rx, &s).expect("select").rows;
        assert_eq!(rows, (3..=5).map(|i| vec![Value::Int(i)]).collect::<Vec<_>>());
        // The same rows as a filter the index cannot serve.
        let scan = select("SELECT id FROM licenses WHERE NOT (expires < '2026-01-03' OR expires >= '2026-01-06')");
        assert_eq!(run_select(&rx, &scan).expect("select").rows, rows);
    }

    fn m(p: &str, s: &str) -> bool {
        like(&p.chars().collect::<Vec<_>>(), &s.chars().collect::<Vec<_>>())
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
