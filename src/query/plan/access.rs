//! Access paths: for each table of a query, the index it is read through,
//! chosen from the conjuncts of its ON and WHERE conditions. A path names
//! the index and the expressions whose values are looked up; the keys
//! themselves are found when the plan runs (`resolve`). The condition is
//! still checked on every row read, so a path only has to reach a superset
//! of the rows that pass.

use super::Source;
use super::expr::{Scalar, Sets, eval};
use crate::error::Result;
use crate::model::{Hwid, TIME_MIN, Time, Value};
use crate::query::ast::CompareOp;
use crate::query::catalog::{self, Table};
use crate::store::{Reader, Records, T, keys, records};

/// The lookups an index allows: `column = value` through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    PrimaryKey,
    Index,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Path {
    Full,
    /// `column = v` for each value (or `IN`), through a key or an index.
    Lookup {
        column: &'static str,
        kind: Lookup,
        values: Vec<Scalar>,
    },
    /// A range of the primary key (`id`, `seq`) or of the expiry index.
    Range {
        column: &'static str,
        bounds: Vec<(CompareOp, Scalar)>,
    },
}

/// Which lookup `table.column` allows, if any.
fn lookup_kind(t: &Table, column: &str) -> Option<Lookup> {
    match (t.name, column) {
        ("servers" | "devices" | "hosts", "name")
        | ("keypacks" | "licenses" | "sessions", "id")
        | ("events" | "history", "seq") => Some(Lookup::PrimaryKey),
        ("licenses", "hwid" | "computer") | ("devices", "hwid") | ("tokens", "device") => Some(Lookup::Index),
        _ => None,
    }
}

/// Key packs and licenses are keyed by server, then number (`keys::row_id`):
/// a range of numbers is one range per server, which the path does not
/// take; their lookups by number are one key per server.
fn range_column(t: &Table, column: &str) -> bool {
    matches!((t.name, column), ("sessions", "id") | ("events" | "history", "seq") | ("licenses", "expires"))
}

/// The conditions ANDed in `c`, left to right.
pub fn conjuncts<'c>(c: &'c Scalar, out: &mut Vec<&'c Scalar>) {
    if let Scalar::And(a, b) = c {
        conjuncts(a, out);
        conjuncts(b, out);
    } else {
        out.push(c);
    }
}

/// Chooses the path of every source.
pub fn choose(sources: &mut [Source], filter: Option<&Scalar>) {
    let mut from_where = Vec::new();
    if let Some(f) = filter {
        conjuncts(f, &mut from_where);
    }
    for (j, source) in sources.iter_mut().enumerate() {
        let mut parts = Vec::new();
        if let Some(on) = &source.on {
            conjuncts(on, &mut parts);
        }
        if j == 0 || !source.left {
            parts.extend(from_where.iter().copied());
        }
        source.access = choose_one(source, &parts);
    }
}

/// `(column, op, value)` when `c` compares a column of `s` with a value
/// computed from the tables before it.
fn bound<'c>(s: &Source, c: &'c Scalar) -> Option<(&'static str, CompareOp, &'c Scalar)> {
    let Scalar::Compare(a, op, b) = c else { return None };
    let (col, op, value) = match (&**a, &**b) {
        (Scalar::Col(i, ..), v) if owns(s, *i) && before(s, v) => (*i, *op, v),
        (v, Scalar::Col(i, ..)) if owns(s, *i) && before(s, v) => (*i, flip(*op), v),
        _ => return None,
    };
    Some((s.table.columns[col - s.base].0, op, value))
}

fn owns(s: &Source, i: usize) -> bool {
    (s.base..s.base + s.table.columns.len()).contains(&i)
}

fn before(s: &Source, v: &Scalar) -> bool {
    let mut cols = Vec::new();
    v.columns(&mut cols);
    cols.iter().all(|c| *c < s.base) && !matches!(v, Scalar::Agg(_))
}

fn flip(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        other => other,
    }
}

fn choose_one(s: &Source, parts: &[&Scalar]) -> Path {
    let mut best: Option<Path> = None;
    for p in parts {
        let found = match p {
            Scalar::In(a, vs, false) => match &**a {
                Scalar::Col(i, ..) if owns(s, *i) && vs.iter().all(|v| before(s, v)) => {
                    let column = s.table.columns[i - s.base].0;
                    lookup_kind(s.table, column).map(|kind| Path::Lookup { column, kind, values: vs.clone() })
                }
                _ => None,
            },
            _ => bound(s, p).and_then(|(column, op, v)| {
                let kind = lookup_kind(s.table, column).filter(|_| op == CompareOp::Eq)?;
                Some(Path::Lookup { column, kind, values: vec![v.clone()] })
            }),
        };
        // A primary key beats a secondary index.
        match (&best, found) {
            (_, None) => {}
            (None | Some(Path::Lookup { kind: Lookup::Index, .. }), Some(f)) => best = Some(f),
            _ => {}
        }
    }
    if let Some(b) = best {
        return b;
    }
    range(s, parts, "expires")
        .or_else(|| range(s, parts, "id"))
        .or_else(|| range(s, parts, "seq"))
        .unwrap_or(Path::Full)
}

fn range(s: &Source, parts: &[&Scalar], column: &'static str) -> Option<Path> {
    if !range_column(s.table, column) {
        return None;
    }
    let mut bounds: Vec<(CompareOp, Scalar)> = parts
        .iter()
        .filter_map(|p| bound(s, p))
        .filter(|(c, op, _)| *c == column && *op != CompareOp::Ne)
        .map(|(_, op, v)| (op, v.clone()))
        .collect();
    for p in parts {
        bounds.extend(between(s, p, column));
    }
    (!bounds.is_empty()).then_some(Path::Range { column, bounds })
}

/// `column BETWEEN lo AND hi` as the bounds `>= lo` and `<= hi`.
fn between(s: &Source, p: &Scalar, column: &str) -> Vec<(CompareOp, Scalar)> {
    let Scalar::Between(a, lo, hi, false) = p else { return Vec::new() };
    match &**a {
        Scalar::Col(i, ..)
            if owns(s, *i) && s.table.columns[i - s.base].0 == column && before(s, lo) && before(s, hi) =>
        {
            vec![(CompareOp::Ge, (**lo).clone()), (CompareOp::Le, (**hi).clone())]
        }
        _ => Vec::new(),
    }
}

impl Path {
    /// How EXPLAIN names this path.
    pub fn describe(&self, t: &Table) -> String {
        match self {
            Path::Full => "full scan".into(),
            Path::Lookup { column, kind: Lookup::PrimaryKey, values } => {
                format!("primary key ({column} {})", shown_values(values))
            }
            Path::Lookup { column, kind: Lookup::Index, values } => {
                format!("index {}_{column} ({column} {})", singular(t.name), shown_values(values))
            }
            Path::Range { column, bounds } => {
                let how = if *column == "expires" {
                    format!("index {}_expires", singular(t.name))
                } else {
                    "primary key".into()
                };
                let b: Vec<String> =
                    bounds.iter().map(|(op, v)| format!("{column} {} {}", op.as_str(), show(v))).collect();
                format!("{how} range ({})", b.join(" AND "))
            }
        }
    }
}

fn singular(t: &str) -> &str {
    t.strip_suffix('s').unwrap_or(t)
}

fn shown_values(values: &[Scalar]) -> String {
    match values {
        [v] => format!("= {}", show(v)),
        vs => format!("IN ({})", vs.iter().map(show).collect::<Vec<_>>().join(", ")),
    }
}

/// A value of a path as EXPLAIN shows it.
fn show(s: &Scalar) -> String {
    match s {
        Scalar::Col(_, _, name) => name.clone(),
        Scalar::Const(Value::Text(t) | Value::Name(t), _) => format!("'{}'", t.replace('\'', "''")),
        Scalar::Const(Value::Time(t), _) => format!("'{t}'"),
        Scalar::Const(v, _) => v.to_string(),
        _ => "(expression)".into(),
    }
}

/// Puts in `out` the values a lookup path looks up, given the row of the
/// tables before it (a buffer the caller reuses, so no row allocates);
/// `false` for other paths.
pub fn lookup_values(path: &Path, row: &[Value], sets: &Sets, out: &mut Vec<Value>) -> Result<bool> {
    out.clear();
    let Path::Lookup { values, .. } = path else { return Ok(false) };
    for v in values {
        out.push(eval(v, row, sets)?.into_owned());
    }
    Ok(true)
}

/// The keys a path reaches, given the row of the tables before it.
pub fn resolve(
    r: &(impl Reader + ?Sized),
    t: &Table,
    path: &Path,
    row: &[Value],
    sets: &Sets,
) -> Result<catalog::Access> {
    Ok(match path {
        Path::Full => catalog::Access::Full,
        Path::Lookup { column, values, .. } => {
            let mut out = Vec::new();
            for v in values {
                keyed(r, t, column, &*eval(v, row, sets)?, &mut out)?;
            }
            out.sort();
            out.dedup();
            catalog::Access::Keys(out)
        }
        Path::Range { column: "expires", bounds } => expiry(r, bounds, row, sets)?,
        Path::Range { bounds, .. } => id_range(bounds, row, sets)?,
    })
}

/// Primary keys for `column = value` through the table's key or index.
fn keyed(r: &(impl Reader + ?Sized), t: &Table, column: &str, v: &Value, out: &mut Vec<Vec<u8>>) -> Result<()> {
    match (t.name, column, v) {
        (_, "name", Value::Name(s) | Value::Text(s)) => out.push(keys::name(s).to_vec()),
        ("keypacks" | "licenses", "id", Value::Int(i)) => {
            if let Ok(n) = u32::try_from(*i) {
                out.extend(r.servers()?.iter().map(|s| keys::id(keys::row_id(s.ordinal, n)).to_vec()));
            }
        }
        (_, "id" | "seq", Value::Int(i)) => {
            if let Ok(i) = u64::try_from(*i) {
                out.push(keys::id(i).to_vec());
            }
        }
        ("licenses", "hwid", Value::Text(s)) => {
            if let Some(h) = Hwid::parse(s) {
                out.extend(r.licenses_of_hwid(&h)?.into_iter().map(|i| keys::id(i).to_vec()));
            }
        }
        ("licenses", "computer", Value::Name(s) | Value::Text(s)) => {
            out.extend(r.licenses_of_computer(s)?.into_iter().map(|i| keys::id(i).to_vec()))
        }
        ("devices", "hwid", Value::Text(s)) => {
            if let Some(h) = Hwid::parse(s) {
                out.extend(r.devices_of_hwid(&h)?.iter().map(|n| keys::name(n).to_vec()));
            }
        }
        ("tokens", "device", Value::Name(s) | Value::Text(s)) => out.extend(r.index_keys(T::Tokens, &records::tokens_prefix(s))?),
        _ => {}
    }
    Ok(())
}

/// `[lo, hi)` from the bounds, `None` for an open end; a NULL bound
/// selects nothing (`Some(empty)`).
fn limits<V: Ord + Copy>(
    bounds: &[(CompareOp, Scalar)],
    row: &[Value],
    sets: &Sets,
    get: impl Fn(&Value) -> Option<V>,
    next: impl Fn(V) -> V,
) -> Result<Option<(Option<V>, Option<V>)>> {
    let (mut lo, mut hi): (Option<V>, Option<V>) = (None, None);
    for (op, v) in bounds {
        let Some(at) = get(&*eval(v, row, sets)?) else { return Ok(None) };
        let (from, to) = match op {
            CompareOp::Lt => (None, Some(at)),
            CompareOp::Le => (None, Some(next(at))),
            CompareOp::Gt => (Some(next(at)), None),
            CompareOp::Ge => (Some(at), None),
            CompareOp::Eq => (Some(at), Some(next(at))),
            CompareOp::Ne => continue,
        };
        lo = lo.max(from);
        hi = match (hi, to) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(Some((lo, hi)))
}

fn expiry(
    r: &(impl Reader + ?Sized),
    bounds: &[(CompareOp, Scalar)],
    row: &[Value],
    sets: &Sets,
) -> Result<catalog::Access> {
    let time = |v: &Value| match v {
        Value::Time(t) => Some(*t),
        _ => None,
    };
    let Some((lo, hi)) = limits(bounds, row, sets, time, |t: Time| t.plus_seconds(1))? else {
        return Ok(catalog::Access::Keys(Vec::new()));
    };
    let from = keys::Key::new().time(lo.unwrap_or(TIME_MIN)).done();
    let to = hi.map(|h| keys::Key::new().time(h).done());
    let mut out = Vec::new();
    if to.as_ref().is_none_or(|to| from < *to) {
        r.scan(T::IdxLicenseExpiry, &from, to.as_deref(), &mut |k, _| {
            out.push(keys::id(keys::trailing_id(k)).to_vec());
            Ok(true)
        })?;
    }
    out.sort();
    Ok(catalog::Access::Keys(out))
}

fn id_range(bounds: &[(CompareOp, Scalar)], row: &[Value], sets: &Sets) -> Result<catalog::Access> {
    let int = |v: &Value| match v {
        Value::Int(i) => Some(i128::from(*i)),
        _ => None,
    };
    let Some((lo, hi)) = limits(bounds, row, sets, int, |i: i128| i + 1)? else {
        return Ok(catalog::Access::Keys(Vec::new()));
    };
    let lo = lo.unwrap_or(0).clamp(0, u64::MAX as i128) as u64;
    let hi = hi.map(|h| h.clamp(0, u64::MAX as i128) as u64);
    if hi.is_some_and(|h| h <= lo) {
        return Ok(catalog::Access::Keys(Vec::new()));
    }
    Ok(catalog::Access::Range { from: keys::id(lo).to_vec(), to: hi.map(|h| keys::id(h).to_vec()) })
}
