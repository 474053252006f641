//! SELECT and its expressions. Expressions are parsed by recursive descent:
//! OR, then AND, then NOT, then a predicate (comparison, IS NULL, IN, LIKE,
//! BETWEEN), then `+ -`, then `* / %`, then unary minus, then a primary (a
//! literal, a column, `now()`, an aggregate or a parenthesized expression).
//! Nesting and size are bounded so that no input can exhaust the stack, and
//! SQL that caldb does not support is named as such, not reported as a typo.

use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::tag;

use super::lex::{
    Res, eat, eat_any, eat_char, expect, expect_char, expected, fail, int_literal, one_of, quoted, show, text, uint,
    word, ws,
};
use super::stmt::at_end;
use crate::query::ast::{
    Aggregate, ArithOp, CompareOp, Expr, Join, Literal, OrderItem, Select, SelectItem, TableRef, TimeUnit,
};

/// The deepest nesting of parentheses, NOT, minus and subqueries accepted.
pub const MAX_DEPTH: usize = 64;
/// The most predicates accepted in one statement.
pub const MAX_PREDICATES: usize = 512;

/// Words that end an expression or a list, never column names or aliases.
const RESERVED: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "ORDER",
    "BY",
    "LIMIT",
    "OFFSET",
    "HAVING",
    "AND",
    "OR",
    "NOT",
    "AS",
    "ON",
    "JOIN",
    "LEFT",
    "INNER",
    "OUTER",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "USING",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "DISTINCT",
    "BETWEEN",
    "IS",
    "IN",
    "LIKE",
    "ASC",
    "DESC",
    "NULL",
    "TRUE",
    "FALSE",
    "CASE",
    "OVER",
    "WINDOW",
];

/// Parsing state: how deep we are and how many predicates we have read.
struct P {
    depth: usize,
    predicates: usize,
}

fn reserved(w: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(w))
}

/// SELECT, after its keyword.
pub fn select(i: &str) -> Res<'_, Select> {
    let (i, s) = select_in(i, &mut P { depth: 0, predicates: 0 })?;
    let (i, ()) = after_select(i, &s)?;
    Ok((i, s))
}

fn select_in<'a>(i: &'a str, p: &mut P) -> Res<'a, Select> {
    let (i, distinct) = eat(i, "DISTINCT").map_or((i, false), |i| (i, true));
    let (i, items) = list(i, |i| select_item(i, p))?;
    let after = if items == [SelectItem::Star(None)] { "after *" } else { "after the column list" };
    let (i, ()) = expect(i, "FROM", after)?;
    let (i, from) = table_ref(i)?;
    let (i, joins) = joins(i, p)?;
    let (i, filter) = match eat(i, "WHERE") {
        Some(i) => or_expr(i, p).map(|(i, c)| (i, Some(c)))?,
        None => (i, None),
    };
    let (i, group_by) = match eat(i, "GROUP") {
        Some(i) => expect(i, "BY", "after GROUP").and_then(|(i, ())| list(i, |i| or_expr(i, p)))?,
        None => (i, Vec::new()),
    };
    let (i, having) = match eat(i, "HAVING") {
        Some(i) => or_expr(i, p).map(|(i, c)| (i, Some(c)))?,
        None => (i, None),
    };
    let (i, order_by) = match eat(i, "ORDER") {
        Some(i) => expect(i, "BY", "after ORDER").and_then(|(i, ())| list(i, |i| order_item(i, p)))?,
        None => (i, Vec::new()),
    };
    let (i, limit) = match eat(i, "LIMIT") {
        Some(i) => uint(i, "a number after LIMIT").map(|(i, n)| (i, Some(n)))?,
        None => (i, None),
    };
    let (i, offset) = match eat(i, "OFFSET") {
        Some(i) => uint(i, "a number after OFFSET").map(|(i, n)| (i, Some(n)))?,
        None => (i, None),
    };
    let s = Select { distinct, items, from, joins, filter, group_by, having, order_by, limit, offset };
    Ok((i, s))
}

/// What may follow a complete SELECT at `i`, for the message when something
/// else does.
fn after_select<'a>(i: &'a str, s: &Select) -> Res<'a, ()> {
    if at_end(i) {
        return Ok((i, ()));
    }
    if let Some((_, n)) = eat_any(i, &["UNION", "INTERSECT", "EXCEPT"]) {
        let w = ["UNION", "INTERSECT", "EXCEPT"][n];
        return fail(ws(i), format!("{w} is not supported"));
    }
    let mut next = Vec::new();
    let clauses = [
        (s.joins.is_empty() && s.filter.is_none(), "JOIN"),
        (s.filter.is_none(), "WHERE"),
        (s.group_by.is_empty(), "GROUP BY"),
        (s.having.is_none(), "HAVING"),
        (s.order_by.is_empty(), "ORDER BY"),
        (s.limit.is_none(), "LIMIT"),
        (s.offset.is_none(), "OFFSET"),
    ];
    let mut open = true;
    for (free, name) in clauses.iter().rev() {
        open &= *free;
        if open {
            next.insert(0, *name);
        }
    }
    next.push("the end of the statement");
    expected(i, &one_of(&next), "")
}

fn table_ref(i: &str) -> Res<'_, TableRef> {
    if eat_char(i, '(').is_some() {
        return fail(ws(i), "a subquery in FROM is not supported");
    }
    let (i, table) = bare(i, "a table name")?;
    let (i, alias) = alias(i, "a table alias")?;
    if eat_char(i, ',').is_some() {
        return fail(ws(i), "joins written with ',' are not supported: write JOIN ... ON");
    }
    Ok((i, TableRef { table, alias }))
}

/// `[AS] alias`, if one comes next.
fn alias<'a>(i: &'a str, what: &str) -> Res<'a, Option<String>> {
    if let Some(i) = eat(i, "AS") {
        return bare(i, what).map(|(i, a)| (i, Some(a)));
    }
    match word(i) {
        Some((rest, w)) if !reserved(w) && plain(w) => Ok((rest, Some(w.to_lowercase()))),
        _ => Ok((i, None)),
    }
}

fn plain(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') && !w.contains('.')
}

fn joins<'a>(mut i: &'a str, p: &mut P) -> Res<'a, Vec<Join>> {
    let mut out = Vec::new();
    loop {
        if let Some((_, n)) = eat_any(i, &["RIGHT", "FULL", "CROSS", "NATURAL"]) {
            let w = ["RIGHT JOIN", "FULL JOIN", "CROSS JOIN", "NATURAL JOIN"][n];
            return fail(ws(i), format!("{w} is not supported: write JOIN or LEFT JOIN ... ON"));
        }
        let (rest, left) = if let Some(r) = eat(i, "LEFT") {
            let r = eat(r, "OUTER").unwrap_or(r);
            (expect(r, "JOIN", "after LEFT")?.0, true)
        } else if let Some(r) = eat(i, "INNER") {
            (expect(r, "JOIN", "after INNER")?.0, false)
        } else if let Some(r) = eat(i, "JOIN") {
            (r, false)
        } else {
            return Ok((i, out));
        };
        let (rest, table) = table_ref(rest)?;
        if eat(rest, "USING").is_some() {
            return fail(ws(rest), "JOIN ... USING is not supported: write ON a.column = b.column");
        }
        let (rest, ()) = expect(rest, "ON", "after the joined table")?;
        let (rest, on) = or_expr(rest, p)?;
        out.push(Join { left, table, on });
        i = rest;
    }
}

fn select_item<'a>(i: &'a str, p: &mut P) -> Res<'a, SelectItem> {
    if let Some(i) = eat_char(i, '*') {
        return Ok((i, SelectItem::Star(None)));
    }
    if let Some((rest, w)) = word(i)
        && let Some(t) = w.strip_suffix('.')
        && let Some(rest) = eat_char(rest, '*')
    {
        return Ok((rest, SelectItem::Star(Some(t.to_lowercase()))));
    }
    let (i, expr) = or_expr(i, p)?;
    let (i, alias) = alias(i, "a column alias")?;
    Ok((i, SelectItem::Expr { expr, alias }))
}

fn order_item<'a>(i: &'a str, p: &mut P) -> Res<'a, OrderItem> {
    let (i, expr) = or_expr(i, p)?;
    let (i, descending) = match eat_any(i, &["ASC", "DESC"]) {
        Some((i, n)) => (i, n == 1),
        None => (i, false),
    };
    Ok((i, OrderItem { expr, descending }))
}

/// One or more items separated by commas.
fn list<'a, T>(mut i: &'a str, mut item: impl FnMut(&'a str) -> Res<'a, T>) -> Res<'a, Vec<T>> {
    let mut out = Vec::new();
    loop {
        let (rest, v) = item(i)?;
        out.push(v);
        match eat_char(rest, ',') {
            Some(rest) => i = rest,
            None => return Ok((rest, out)),
        }
    }
}

/// A table, column or alias name: a bare word, lower-cased.
fn bare<'a>(i: &'a str, what: &str) -> Res<'a, String> {
    match word(i) {
        Some((rest, w)) if !reserved(w) => Ok((rest, w.to_lowercase())),
        _ => expected(i, what, ""),
    }
}

/// A condition on its own (REVOKE LICENSES WHERE ...).
pub fn condition(i: &str) -> Res<'_, Expr> {
    or_expr(i, &mut P { depth: 0, predicates: 0 })
}

fn deeper<'a>(i: &'a str, p: &mut P) -> Res<'a, ()> {
    p.depth += 1;
    if p.depth > MAX_DEPTH {
        return fail(ws(i), format!("expression nested too deeply (more than {MAX_DEPTH} levels)"));
    }
    Ok((i, ()))
}

fn or_expr<'a>(i: &'a str, p: &mut P) -> Res<'a, Expr> {
    let (mut i, mut left) = and_expr(i, p)?;
    while let Some(rest) = eat(i, "OR") {
        let (rest, right) = and_expr(rest, p)?;
        left = Expr::Or(Box::new(left), Box::new(right));
        i = rest;
    }
    Ok((i, left))
}

fn and_expr<'a>(i: &'a str, p: &mut P) -> Res<'a, Expr> {
    let (mut i, mut left) = not_expr(i, p)?;
    while let Some(rest) = eat(i, "AND") {
        let (rest, right) = not_expr(rest, p)?;
        left = Expr::And(Box::new(left), Box::new(right));
        i = rest;
    }
    Ok((i, left))
}

fn not_expr<'a>(i: &'a str, p: &mut P) -> Res<'a, Expr> {
    if let Some(rest) = eat(i, "NOT") {
        deeper(i, p)?;
        let (rest, e) = not_expr(rest, p)?;
        p.depth -= 1;
        return Ok((rest, Expr::Not(Box::new(e))));
    }
    p.predicates += 1;
    if p.predicates > MAX_PREDICATES {
        return fail(ws(i), format!("expression too long (more than {MAX_PREDICATES} comparisons)"));
    }
    predicate(i, p)
}

fn compare_op(i: &str) -> Res<'_, CompareOp> {
    let ops = (tag("<="), tag(">="), tag("<>"), tag("!="), tag("=="), tag("="), tag("<"), tag(">"));
    let (rest, op) = alt(ops).parse(ws(i))?;
    let op = match op {
        "<=" => CompareOp::Le,
        ">=" => CompareOp::Ge,
        "<>" | "!=" => CompareOp::Ne,
        "=" | "==" => CompareOp::Eq,
        "<" => CompareOp::Lt,
        _ => CompareOp::Gt,
    };
    Ok((rest, op))
}

/// `a op b`, `a IS [NOT] NULL`, `a [NOT] IN (...)`, `a [NOT] LIKE 'p'`,
/// `a [NOT] BETWEEN b AND c`, or `a` alone.
fn predicate<'a>(i: &'a str, p: &mut P) -> Res<'a, Expr> {
    let (i, left) = additive(i, p)?;
    if let Ok((i, op)) = compare_op(i) {
        let (i, right) = additive(i, p)?;
        return Ok((i, Expr::compare(left, op, right)));
    }
    if let Some(i) = eat(i, "IS") {
        let (i, negated) = eat(i, "NOT").map_or((i, false), |i| (i, true));
        let (i, ()) = expect(i, "NULL", if negated { "after IS NOT" } else { "after IS" })?;
        return Ok((i, Expr::IsNull(Box::new(left), negated)));
    }
    let (after_not, negated) = eat(i, "NOT").map_or((i, false), |i| (i, true));
    let left = Box::new(left);
    match eat_any(after_not, &["IN", "LIKE", "BETWEEN"]) {
        Some((i, 0)) => in_list(i, left, negated, p),
        Some((i, 1)) => {
            let (i, pattern) = text(i, "a pattern")?;
            Ok((i, Expr::Like(left, pattern, negated)))
        }
        Some((i, _)) => {
            let (i, low) = additive(i, p)?;
            let (i, ()) = expect(i, "AND", "in BETWEEN")?;
            let (i, high) = additive(i, p)?;
            Ok((i, Expr::Between(left, Box::new(low), Box::new(high), negated)))
        }
        None if negated => expected(after_not, "IN, LIKE or BETWEEN", "after NOT"),
        None if stray(i) => {
            let what = "=, !=, <, <=, >, >=, IS, IN, LIKE, BETWEEN or + - * / %";
            expected(i, what, &format!("after '{}'", show(&left.to_string())))
        }
        None => Ok((i, *left)),
    }
}

/// Whether the next character is punctuation that cannot follow an
/// expression (`~`, `!`, ...): a misspelt operator.
fn stray(i: &str) -> bool {
    ws(i).chars().next().is_some_and(|c| c.is_ascii_punctuation() && !"(),;'.*_".contains(c))
}

fn in_list<'a>(i: &'a str, left: Box<Expr>, negated: bool, p: &mut P) -> Res<'a, Expr> {
    let (i, ()) = expect_char(i, '(', "after IN")?;
    if let Some(i) = eat(i, "SELECT") {
        deeper(i, p)?;
        let (i, sub) = select_in(i, p)?;
        p.depth -= 1;
        let (i, ()) = expect_char(i, ')', "to close the subquery")?;
        return Ok((i, Expr::InSelect(left, Box::new(sub), negated)));
    }
    if eat_char(i, ')').is_some() {
        return expected(i, "at least one value", "in IN ()");
    }
    let (i, values) = list(i, |i| additive(i, p))?;
    match eat_char(i, ')') {
        Some(i) => Ok((i, Expr::In(left, values, negated))),
        None => expected(i, "',' or ')'", "in the list of values"),
    }
}

fn additive<'a>(i: &'a str, p: &mut P) -> Res<'a, Expr> {
    let (mut i, mut left) = multiplicative(i, p)?;
    loop {
        let op = if let Some(r) = eat_char(i, '+') {
            (r, ArithOp::Add)
        } else if let Some(r) = minus(i) {
            (r, ArithOp::Sub)
        } else {
            return Ok((i, left));
        };
        let (rest, right) = multiplicative(op.0, p)?;
        left = Expr::Arith(Box::new(left), op.1, Box::new(right));
        i = rest;
    }
}

/// A `-` that is an operator, not the start of a `--` comment.
fn minus(i: &str) -> Option<&str> {
    let i = ws(i);
    i.strip_prefix('-').filter(|r| !r.starts_with('-'))
}

fn multiplicative<'a>(i: &'a str, p: &mut P) -> Res<'a, Expr> {
    let (mut i, mut left) = unary(i, p)?;
    loop {
        let ops = [('*', ArithOp::Mul), ('/', ArithOp::Div), ('%', ArithOp::Rem)];
        let Some((rest, op)) = ops.iter().find_map(|(c, op)| eat_char(i, *c).map(|r| (r, *op))) else {
            return Ok((i, left));
        };
        let (rest, right) = unary(rest, p)?;
        left = Expr::Arith(Box::new(left), op, Box::new(right));
        i = rest;
    }
}

fn unary<'a>(i: &'a str, p: &mut P) -> Res<'a, Expr> {
    if int_literal(i).is_none()
        && let Some(rest) = minus(i)
    {
        deeper(i, p)?;
        let (rest, e) = unary(rest, p)?;
        p.depth -= 1;
        return Ok((rest, Expr::Neg(Box::new(e))));
    }
    primary(i, p)
}

fn primary<'a>(i: &'a str, p: &mut P) -> Res<'a, Expr> {
    let start = ws(i);
    if let Some(rest) = eat_char(start, '(') {
        if eat(rest, "SELECT").is_some() {
            return fail(ws(rest), "a subquery is supported only in IN (SELECT ...)");
        }
        deeper(start, p)?;
        let (rest, e) = or_expr(rest, p)?;
        p.depth -= 1;
        let (rest, ()) = expect_char(rest, ')', "to close the expression")?;
        return Ok((rest, e));
    }
    match quoted(start) {
        Ok((i, t)) => return Ok((i, Expr::Lit(Literal::Text(t)))),
        Err(nom::Err::Error(_)) => {}
        Err(e) => return Err(e),
    }
    if let Some(r) = int_literal(start) {
        let (i, n) = r?;
        return Ok(interval(i, n));
    }
    match eat_any(start, &["TRUE", "FALSE", "NULL"]) {
        Some((i, 0)) => return Ok((i, Expr::Lit(Literal::Bool(true)))),
        Some((i, 1)) => return Ok((i, Expr::Lit(Literal::Bool(false)))),
        Some((i, _)) => return Ok((i, Expr::Lit(Literal::Null))),
        None => {}
    }
    let Some((rest, w)) = word(start).filter(|(_, w)| !reserved(w)) else {
        if eat(start, "CASE").is_some() {
            return fail(start, "CASE is not supported");
        }
        return expected(start, "a value, a column or an expression", "");
    };
    if let Some(args) = eat_char(rest, '(') {
        return call(start, w, args, p);
    }
    if !plain(w.split('.').next_back().unwrap_or(w)) {
        return expected(start, "a value, a column or an expression", "");
    }
    Ok((rest, column_ref(w)))
}

/// `n DAYS` (or HOURS, MINUTES, SECONDS), else the number `n`.
fn interval(i: &str, n: i64) -> (&str, Expr) {
    let units = ["DAYS", "HOURS", "MINUTES", "SECONDS", "DAY", "HOUR", "MINUTE", "SECOND"];
    match eat_any(i, &units) {
        Some((rest, k)) => {
            let unit = [TimeUnit::Days, TimeUnit::Hours, TimeUnit::Minutes, TimeUnit::Seconds][k % 4];
            (rest, Expr::Interval(n, unit))
        }
        None => (i, Expr::Lit(Literal::Int(n))),
    }
}

/// `t.c` or `c`.
fn column_ref(w: &str) -> Expr {
    let w = w.to_lowercase();
    match w.split_once('.') {
        Some((t, c)) => Expr::Column(Some(t.to_string()), c.to_string()),
        None => Expr::Column(None, w),
    }
}

/// A call `name(args)`: `now()` or an aggregate; anything else is named as
/// not supported.
fn call<'a>(start: &'a str, name: &str, args: &'a str, p: &mut P) -> Res<'a, Expr> {
    let (rest, e) = if name.eq_ignore_ascii_case("NOW") {
        let (rest, ()) = expect_char(args, ')', "after now(")?;
        (rest, Expr::Now)
    } else if let Some(agg) = Aggregate::ALL.iter().find(|a| a.as_str().eq_ignore_ascii_case(name)) {
        aggregate(args, *agg, p)?
    } else {
        let msg = format!("function '{}' is not supported (there are COUNT, SUM, MIN, MAX, AVG and now())", show(name));
        return fail(start, msg);
    };
    if eat(rest, "OVER").is_some() || eat(rest, "FILTER").is_some() {
        return fail(ws(rest), "window functions are not supported");
    }
    Ok((rest, e))
}

fn aggregate<'a>(i: &'a str, agg: Aggregate, p: &mut P) -> Res<'a, Expr> {
    if agg == Aggregate::Count
        && let Some(rest) = eat_char(i, '*')
    {
        let (rest, ()) = expect_char(rest, ')', "after COUNT(*")?;
        return Ok((rest, Expr::Agg(agg, None, false)));
    }
    let (i, distinct) = eat(i, "DISTINCT").map_or((i, false), |i| (i, true));
    deeper(i, p)?;
    let (i, arg) = or_expr(i, p)?;
    p.depth -= 1;
    if eat_char(i, ',').is_some() {
        return fail(ws(i), format!("{} takes one argument", agg.as_str().to_uppercase()));
    }
    let (i, ()) = expect_char(i, ')', &format!("after the argument of {}", agg.as_str().to_uppercase()))?;
    Ok((i, Expr::Agg(agg, Some(Box::new(arg)), distinct)))
}
