//! SELECT planning: names resolved against the catalog, literals typed,
//! aggregates lifted out of grouped expressions, and for every table the
//! access path it is read through (an index lookup, a key or expiry range,
//! or a full scan). Planning does no I/O: `now` is given, and index keys
//! are looked up only when the plan runs (`query::select`).

mod access;
pub mod expr;

pub use access::{Lookup, Path, lookup_values, resolve as resolve_access};
pub use expr::{Scalar, Ty};

use super::ast::{Expr, Literal, OrderItem, Select, SelectItem};
use super::catalog::{self, Table};
use crate::error::{Error, Result};
use crate::model::{Time, Value};
use expr::Resolver;

/// A table of FROM or JOIN: where its columns start in the joined row.
pub struct Source {
    pub table: &'static Table,
    pub name: String,
    pub base: usize,
    pub left: bool,
    /// The ON condition (joined tables only), over the row so far.
    pub on: Option<Scalar>,
    pub on_text: String,
    pub access: Path,
    /// The columns of this table the plan reads; the others are left NULL.
    pub columns: catalog::Columns,
}

/// One aggregate of a grouped query, over the joined row.
#[derive(Clone, Debug, PartialEq)]
pub struct AggSpec {
    pub func: super::ast::Aggregate,
    pub arg: Option<Scalar>,
    pub distinct: bool,
}

/// A key of ORDER BY: a selected column, or a value computed for sorting.
#[derive(Debug)]
pub enum SortKey {
    Output(usize),
    Hidden(Scalar),
}

pub struct Plan {
    pub sources: Vec<Source>,
    /// The conditions of WHERE checked on each joined row: all of them,
    /// but those `early` checks before the join.
    pub filter: Option<Scalar>,
    /// WHERE as written (EXPLAIN's FILTER line).
    pub filter_text: Option<String>,
    /// The conditions of WHERE that read only the first table, with their
    /// text: checked on each of its rows before the join, and not again
    /// after it. `None` without a join.
    pub early: Option<(Scalar, String)>,
    /// Grouping keys and aggregates: present for a grouped query, whose
    /// output expressions are over `keys ++ aggregate results`.
    pub group: Option<(Vec<Scalar>, Vec<AggSpec>)>,
    pub having: Option<Scalar>,
    /// GROUP BY and HAVING as written, for EXPLAIN.
    pub group_text: Vec<String>,
    pub having_text: Option<String>,
    pub columns: Vec<String>,
    pub items: Vec<Scalar>,
    pub types: Vec<Ty>,
    pub distinct: bool,
    pub order: Vec<(SortKey, bool)>,
    pub order_text: Vec<String>,
    pub limit: Option<u64>,
    pub offset: u64,
    /// `IN (SELECT ...)` subqueries, run before the plan.
    pub subqueries: Vec<Plan>,
}

pub fn resolve_table(name: &str) -> Result<&'static Table> {
    catalog::table(name).ok_or_else(|| {
        let names: Vec<&str> = catalog::TABLES.iter().map(|t| t.name).collect();
        let hint = crate::query::suggest::did_you_mean(name, names.iter().copied());
        Error::plan_near(format!("no table named '{name}'{hint} (there are {})", names.join(", ")), name)
    })
}

/// Plans a SELECT whose `now()` is `now`.
pub fn plan(s: &Select, now: Time) -> Result<Plan> {
    let mut sources = Vec::new();
    let mut base = 0;
    for (n, t) in std::iter::once(&s.from).chain(s.joins.iter().map(|j| &j.table)).enumerate() {
        let table = resolve_table(&t.table)?;
        let name = t.alias.clone().unwrap_or_else(|| table.name.to_string());
        if sources.iter().any(|s: &Source| s.name == name) {
            return Err(Error::plan(format!("table name '{name}' is used twice: give one of them an alias")));
        }
        let left = n > 0 && s.joins[n - 1].left;
        sources.push(Source { table, name, base, left, on: None, on_text: String::new(), access: Path::Full, columns: catalog::Columns::ALL });
        base += table.columns.len();
    }
    let mut rv = Resolver { sources: &sources, visible: 1, now, subqueries: Vec::new(), aggregates: false };
    let mut ons = Vec::new();
    for (n, j) in s.joins.iter().enumerate() {
        rv.visible = n + 2;
        ons.push((rv.condition(&j.on, "ON")?, j.on.to_string()));
    }
    rv.visible = sources.len();
    let filter = s.filter.as_ref().map(|f| rv.condition(f, "WHERE")).transpose()?;
    let subqueries = rv.subqueries;
    for (n, (on, text)) in ons.into_iter().enumerate() {
        sources[n + 1].on = Some(on);
        sources[n + 1].on_text = text;
    }
    access::choose(&mut sources, filter.as_ref());
    let mut rv = Resolver { sources: &sources, visible: sources.len(), now, subqueries, aggregates: true };
    let (columns, exprs) = expand_items(&sources, &s.items)?;
    let mut out = Output::new(&mut rv, s, &exprs)?;
    let items = exprs.iter().map(|e| out.lift(&mut rv, e)).collect::<Result<Vec<_>>>()?;
    let types = items.iter().map(|i| out.ty(i)).collect();
    let having = s.having.as_ref().map(|h| out.lift_condition(&mut rv, h)).transpose()?;
    let order = order_keys(&mut rv, &mut out, s, &columns, &exprs)?;
    let subqueries = rv.subqueries;
    let (early, filter) = match early_filter(&sources, filter.as_ref(), s.filter.as_ref()) {
        Some((early, rest)) => (Some(early), rest),
        None => (None, filter),
    };
    let mut plan = Plan {
        early,
        filter_text: s.filter.as_ref().map(|f| f.to_string()),
        sources,
        filter,
        group: out.group,
        group_text: out.group_texts,
        having_text: s.having.as_ref().map(|h| h.to_string()),
        having,
        columns,
        items,
        types,
        distinct: s.distinct,
        order,
        order_text: s.order_by.iter().map(|o| o.to_string()).collect(),
        limit: s.limit,
        offset: s.offset.unwrap_or(0),
        subqueries,
    };
    mark_columns_read(&mut plan);
    Ok(plan)
}

/// The conditions ANDed in WHERE that read only the first of several
/// tables (ANDed again), with their text: a row of it that fails them
/// fails WHERE whatever it joins, so the join can skip it. Also the other
/// conditions, ANDed, for after the join (`None` when there are none).
/// `None` when no condition reads the first table alone.
type Early = ((Scalar, String), Option<Scalar>);
fn early_filter(sources: &[Source], filter: Option<&Scalar>, text: Option<&Expr>) -> Option<Early> {
    fn texts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
        match e {
            Expr::And(a, b) => {
                texts(a, out);
                texts(b, out);
            }
            e => out.push(e),
        }
    }
    let second = sources.get(1)?.base;
    let (mut conds, mut words) = (Vec::new(), Vec::new());
    access::conjuncts(filter?, &mut conds);
    texts(text?, &mut words);
    if conds.len() != words.len() {
        return None;
    }
    let and = |a: Option<Scalar>, b: &Scalar| match a {
        None => b.clone(),
        Some(a) => Scalar::And(Box::new(a), Box::new(b.clone())),
    };
    let (mut early, mut rest): (Option<(Scalar, String)>, Option<Scalar>) = (None, None);
    for (c, w) in conds.into_iter().zip(words) {
        let mut read = Vec::new();
        c.columns(&mut read);
        if read.is_empty() || read.iter().any(|&i| i >= second) {
            rest = Some(and(rest, c));
            continue;
        }
        let w = match w {
            Expr::Or(..) => format!("({w})"),
            w => w.to_string(),
        };
        early = Some(match early {
            None => (c.clone(), w),
            Some((e, t)) => (and(Some(e), c), format!("{t} AND {w}")),
        });
    }
    Some((early?, rest))
}

/// Marks in each source the columns the plan reads over the joined row:
/// its WHERE, ONs and access paths, then the grouping keys and aggregates'
/// arguments of a grouped query, or else the output and sort expressions.
fn mark_columns_read(plan: &mut Plan) {
    let mut read = Vec::new();
    let mut over_row: Vec<&Scalar> = plan.filter.iter().chain(plan.early.as_ref().map(|(e, _)| e)).collect();
    for s in &plan.sources {
        over_row.extend(s.on.iter());
        match &s.access {
            Path::Full => {}
            Path::Lookup { values, .. } => over_row.extend(values.iter()),
            Path::Range { bounds, .. } => over_row.extend(bounds.iter().map(|(_, v)| v)),
        }
    }
    match &plan.group {
        Some((keys, aggs)) => {
            over_row.extend(keys.iter());
            over_row.extend(aggs.iter().filter_map(|a| a.arg.as_ref()));
        }
        None => {
            over_row.extend(plan.items.iter());
            over_row.extend(plan.order.iter().filter_map(|(k, _)| match k {
                SortKey::Hidden(s) => Some(s),
                SortKey::Output(_) => None,
            }));
        }
    }
    for s in over_row {
        s.columns(&mut read);
    }
    for source in &mut plan.sources {
        let mut cols = 0u64;
        for c in read.iter().filter(|c| (source.base..source.base + source.table.columns.len()).contains(c)) {
            cols |= 1 << (c - source.base);
        }
        source.columns = catalog::Columns(cols);
    }
}

/// The selected expressions with their column names, `*` expanded.
fn expand_items(sources: &[Source], items: &[SelectItem]) -> Result<(Vec<String>, Vec<Expr>)> {
    let mut names = Vec::new();
    let mut exprs = Vec::new();
    for item in items {
        match item {
            SelectItem::Star(which) => {
                let chosen: Vec<&Source> =
                    match which {
                        None => sources.iter().collect(),
                        Some(t) => vec![sources.iter().find(|s| &s.name == t).ok_or_else(|| {
                            Error::plan_near(format!("no table '{t}' in FROM for '{t}.*'"), t.as_str())
                        })?],
                    };
                for s in chosen {
                    for (c, _) in s.table.columns {
                        names.push(c.to_string());
                        let qualifier = (sources.len() > 1).then(|| s.name.clone());
                        exprs.push(Expr::Column(qualifier, c.to_string()));
                    }
                }
            }
            SelectItem::Expr { expr, alias } => {
                names.push(match (alias, expr) {
                    (Some(a), _) => a.clone(),
                    (None, Expr::Column(_, c)) => c.clone(),
                    (None, e) => e.to_string(),
                });
                exprs.push(expr.clone());
            }
        }
    }
    Ok((names, exprs))
}

/// Resolves the selected and sorting expressions: directly over the joined
/// row, or, for a grouped query, over its group keys and aggregates.
struct Output {
    group: Option<(Vec<Scalar>, Vec<AggSpec>)>,
    group_texts: Vec<String>,
}

impl Output {
    fn new(rv: &mut Resolver, s: &Select, items: &[Expr]) -> Result<Output> {
        let has_agg = items.iter().chain(s.having.iter()).chain(s.order_by.iter().map(|o| &o.expr)).any(has_aggregate);
        if s.group_by.is_empty() && !has_agg && s.having.is_none() {
            return Ok(Output { group: None, group_texts: Vec::new() });
        }
        rv.aggregates = false;
        let keys = s.group_by.iter().map(|g| rv.scalar(g, "GROUP BY").map(|(s, _)| s)).collect::<Result<Vec<_>>>()?;
        rv.aggregates = true;
        let group_texts = s.group_by.iter().map(|g| g.to_string()).collect();
        Ok(Output { group: Some((keys, Vec::new())), group_texts })
    }

    fn lift(&mut self, rv: &mut Resolver, e: &Expr) -> Result<Scalar> {
        let (s, _) = rv.scalar(e, "SELECT")?;
        self.lifted(s, e)
    }

    fn lift_condition(&mut self, rv: &mut Resolver, e: &Expr) -> Result<Scalar> {
        let s = rv.condition(e, "HAVING")?;
        self.lifted(s, e)
    }

    fn lifted(&mut self, s: Scalar, e: &Expr) -> Result<Scalar> {
        match &mut self.group {
            None => Ok(s),
            Some((keys, aggs)) => {
                expr::lift(s, keys, aggs).map_err(|col| {
                    let listed =
                        if self.group_texts.is_empty() { "none".to_string() } else { self.group_texts.join(", ") };
                    let place = if e.to_string() == col { String::new() } else { format!(" in '{e}'") };
                    Error::plan_near(
                        format!(
                            "'{col}'{place} must be in GROUP BY or inside an aggregate such as COUNT or MAX (GROUP BY: {listed})"
                        ),
                        col,
                    )
                })
            }
        }
    }

    fn ty(&self, s: &Scalar) -> Ty {
        s.ty()
    }
}

fn has_aggregate(e: &Expr) -> bool {
    let mut found = false;
    expr::visit(e, &mut |x| found |= matches!(x, Expr::Agg(..)));
    found
}

fn order_keys(
    rv: &mut Resolver,
    out: &mut Output,
    s: &Select,
    columns: &[String],
    items: &[Expr],
) -> Result<Vec<(SortKey, bool)>> {
    let mut keys = Vec::new();
    for OrderItem { expr, descending } in &s.order_by {
        let key = match expr {
            Expr::Lit(Literal::Int(n)) => {
                let pos = usize::try_from(*n).ok().filter(|p| (1..=columns.len()).contains(p)).ok_or_else(|| {
                    Error::plan(format!("ORDER BY {n}: there is no such column (1 to {})", columns.len()))
                })?;
                SortKey::Output(pos - 1)
            }
            Expr::Column(None, c) if columns.iter().any(|n| n == c) => {
                SortKey::Output(columns.iter().position(|n| n == c).unwrap_or(0))
            }
            e => match items.iter().position(|i| i == e) {
                Some(p) => SortKey::Output(p),
                None if s.distinct => {
                    return Err(Error::plan_near(
                        format!("ORDER BY '{e}' must be a selected column when SELECT DISTINCT is used"),
                        e.to_string(),
                    ));
                }
                None => SortKey::Hidden(out.lift(rv, e)?),
            },
        };
        keys.push((key, *descending));
    }
    Ok(keys)
}

/// Resolves a condition over one table (REVOKE LICENSES WHERE ...): the
/// condition and the access path for it.
pub fn plan_filter(table: &'static Table, e: &Expr, now: Time) -> Result<(Scalar, Path, Vec<Plan>)> {
    let mut sources = vec![Source {
        table,
        name: table.name.to_string(),
        base: 0,
        left: false,
        on: None,
        on_text: String::new(),
        access: Path::Full,
        columns: catalog::Columns::ALL,
    }];
    let mut rv = Resolver { sources: &sources, visible: 1, now, subqueries: Vec::new(), aggregates: false };
    let cond = rv.condition(e, "WHERE")?;
    let subqueries = rv.subqueries;
    access::choose(&mut sources, Some(&cond));
    let access = std::mem::replace(&mut sources[0].access, Path::Full);
    Ok((cond, access, subqueries))
}

/// The fewest rows of a grouped plan's first table read whole for which
/// its scan is split over two threads (`select::split`), on a read
/// snapshot of a machine of more than one core.
pub const SPLIT_ROWS: u64 = 100_000;

/// Whether a plan's scan may be split over two threads: it groups, and
/// reads its first table whole.
pub fn splits(p: &Plan) -> bool {
    p.group.is_some() && p.sources.first().is_some_and(|s| s.access == Path::Full)
}

/// The value of a constant scalar (no columns), for access bounds.
pub fn constant(s: &Scalar) -> Option<&Value> {
    match s {
        Scalar::Const(v, _) => Some(v),
        _ => None,
    }
}

/// EXPLAIN's lines: the tables in the order they are read, each with its
/// access path, then the steps applied to their rows.
pub fn describe(p: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    for (n, s) in p.sources.iter().enumerate() {
        let named = if s.name == s.table.name { s.name.clone() } else { format!("{} AS {}", s.table.name, s.name) };
        let path = s.access.describe(s.table);
        if n == 0 {
            lines.push(format!("SCAN {named} USING {path}"));
            if let Some((_, text)) = &p.early {
                lines.push(format!("FILTER {text} (before the join)"));
            }
        } else {
            let how = if s.left { "LEFT JOIN" } else { "JOIN" };
            lines.push(format!("{how} {named} ON {} USING {path}", s.on_text));
        }
    }
    if let Some(f) = &p.filter_text {
        lines.push(format!("FILTER {f}"));
    }
    if let Some((_, aggs)) = &p.group {
        let what = if p.group_text.is_empty() {
            "AGGREGATE".to_string()
        } else {
            format!("GROUP BY {}", p.group_text.join(", "))
        };
        let n = aggs.len();
        let mut how = match p.group_text.is_empty() {
            true => Vec::new(),
            false => vec![format!("by hash (spilled to sorted runs past {} MiB)", crate::spill::GROUP_BUDGET_BYTES >> 20)],
        };
        if splits(p) {
            how.push(format!("on two threads from {SPLIT_ROWS} rows"));
        }
        let how: String = how.iter().map(|h| format!(" {h}")).collect();
        lines.push(format!("{what} ({n} aggregate{}){how}", if n == 1 { "" } else { "s" }));
    }
    if let Some(h) = &p.having_text {
        lines.push(format!("HAVING {h}"));
    }
    if p.distinct {
        lines.push("DISTINCT".into());
    }
    if !p.order_text.is_empty() {
        let top = match p.limit {
            Some(l) => format!(" (top {})", l.saturating_add(p.offset)),
            None => String::new(),
        };
        lines.push(format!("SORT BY {}{top}", p.order_text.join(", ")));
    }
    if p.offset > 0 {
        lines.push(format!("OFFSET {}", p.offset));
    }
    if let Some(l) = p.limit {
        lines.push(format!("LIMIT {l}"));
    }
    lines.push(format!("PROJECT {}", p.columns.join(", ")));
    for (n, sub) in p.subqueries.iter().enumerate() {
        lines.push(format!("SUBQUERY {}:", n + 1));
        lines.extend(describe(sub).into_iter().map(|l| format!("  {l}")));
    }
    lines
}
