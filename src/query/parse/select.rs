//! SELECT and WHERE conditions. Conditions are parsed by recursive descent
//! (OR, then AND, then NOT, then a parenthesized condition or a predicate);
//! nesting and size are bounded so that no input can exhaust the stack.

use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::tag;

use super::lex::{
    Res, eat, eat_any, eat_char, expect, expect_char, expected, fail, int_literal, one_of, paren_list, quoted, show,
    text, uint, word, ws,
};
use super::stmt::at_end;
use crate::query::ast::{CompareOp, Expr, Literal, OrderItem, Projection, Select, SelectItem};

/// The deepest nesting of parentheses and NOT accepted in a condition.
pub const MAX_DEPTH: usize = 64;
/// The most predicates accepted in one condition.
pub const MAX_PREDICATES: usize = 512;

/// Words that end a column list or a condition, never column names.
const RESERVED: &[&str] = &["SELECT", "FROM", "WHERE", "GROUP", "ORDER", "BY", "LIMIT", "AND", "OR", "NOT"];

/// SELECT, after its keyword.
pub fn select(i: &str) -> Res<'_, Select> {
    let (i, projection) = projection(i)?;
    let after = if projection == Projection::Star { "after *" } else { "after the column list" };
    let (i, ()) = expect(i, "FROM", after)?;
    let (i, table) = column(i, "a table name")?;
    let mut next = vec!["WHERE", "GROUP BY", "ORDER BY", "LIMIT"];
    let (i, filter) = match eat(i, "WHERE") {
        Some(i) => condition(i).map(|(i, c)| (i, Some(c)))?,
        None => (i, None),
    };
    if filter.is_some() {
        next.remove(0);
    }
    let (i, group_by) = match eat(i, "GROUP") {
        Some(i) => group_by(i, &mut next)?,
        None => (i, Vec::new()),
    };
    let (i, order_by) = match eat(i, "ORDER") {
        Some(i) => order_by(i, &mut next)?,
        None => (i, Vec::new()),
    };
    let (i, limit) = match eat(i, "LIMIT") {
        Some(i) => uint(i, "a number after LIMIT").map(|(i, n)| (i, Some(n)))?,
        None => (i, None),
    };
    if limit.is_none() && !at_end(i) {
        next.push("the end of the statement");
        return expected(i, &one_of(&next), "");
    }
    Ok((i, Select { projection, table, filter, group_by, order_by, limit }))
}

fn group_by<'a>(i: &'a str, next: &mut Vec<&str>) -> Res<'a, Vec<String>> {
    next.retain(|n| *n != "WHERE" && *n != "GROUP BY");
    let (i, ()) = expect(i, "BY", "after GROUP")?;
    list(i, |i| column(i, "a column"))
}

fn order_by<'a>(i: &'a str, next: &mut Vec<&str>) -> Res<'a, Vec<OrderItem>> {
    next.retain(|n| *n == "LIMIT");
    let (i, ()) = expect(i, "BY", "after ORDER")?;
    list(i, |i| {
        let (i, column) = match count_star(i)? {
            (i, true) => (i, "count(*)".to_string()),
            (i, false) => column(i, "a column or COUNT(*)")?,
        };
        let (i, descending) = match eat_any(i, &["ASC", "DESC"]) {
            Some((i, n)) => (i, n == 1),
            None => (i, false),
        };
        Ok((i, OrderItem { column, descending }))
    })
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

fn projection(i: &str) -> Res<'_, Projection> {
    if let Some(i) = eat_char(i, '*') {
        return Ok((i, Projection::Star));
    }
    let (i, items) = list(i, |i| match count_star(i)? {
        (i, true) => Ok((i, SelectItem::CountStar)),
        (i, false) => column(i, "a column, * or COUNT(*)").map(|(i, c)| (i, SelectItem::Column(c))),
    })?;
    Ok((i, Projection::Items(items)))
}

/// `COUNT(*)`, if it comes next (`COUNT` alone is a column).
fn count_star(i: &str) -> Res<'_, bool> {
    let Some(rest) = eat(i, "COUNT").and_then(|r| eat_char(r, '(')) else {
        return Ok((i, false));
    };
    let (rest, ()) = expect_char(rest, '*', "in COUNT(")?;
    let (rest, ()) = expect_char(rest, ')', "after COUNT(*")?;
    Ok((rest, true))
}

/// A column or table name: a bare word, lower-cased.
fn column<'a>(i: &'a str, what: &str) -> Res<'a, String> {
    match word(i) {
        Some((rest, w)) if !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(w)) => Ok((rest, w.to_lowercase())),
        _ => expected(i, what, ""),
    }
}

/// A WHERE condition.
pub fn condition(i: &str) -> Res<'_, Expr> {
    let mut predicates = 0;
    or_expr(i, 0, &mut predicates)
}

fn or_expr<'a>(i: &'a str, depth: usize, n: &mut usize) -> Res<'a, Expr> {
    let (mut i, mut left) = and_expr(i, depth, n)?;
    while let Some(rest) = eat(i, "OR") {
        let (rest, right) = and_expr(rest, depth, n)?;
        left = Expr::Or(Box::new(left), Box::new(right));
        i = rest;
    }
    Ok((i, left))
}

fn and_expr<'a>(i: &'a str, depth: usize, n: &mut usize) -> Res<'a, Expr> {
    let (mut i, mut left) = not_expr(i, depth, n)?;
    while let Some(rest) = eat(i, "AND") {
        let (rest, right) = not_expr(rest, depth, n)?;
        left = Expr::And(Box::new(left), Box::new(right));
        i = rest;
    }
    Ok((i, left))
}

fn too_deep(i: &str) -> Res<'_, Expr> {
    fail(ws(i), format!("condition nested too deeply (more than {MAX_DEPTH} levels)"))
}

fn not_expr<'a>(i: &'a str, depth: usize, n: &mut usize) -> Res<'a, Expr> {
    if let Some(rest) = eat(i, "NOT") {
        if depth >= MAX_DEPTH {
            return too_deep(i);
        }
        let (rest, e) = not_expr(rest, depth + 1, n)?;
        return Ok((rest, Expr::Not(Box::new(e))));
    }
    if let Some(rest) = eat_char(i, '(') {
        if depth >= MAX_DEPTH {
            return too_deep(i);
        }
        let (rest, e) = or_expr(rest, depth + 1, n)?;
        let (rest, ()) = expect_char(rest, ')', "to close the condition")?;
        return Ok((rest, e));
    }
    *n += 1;
    if *n > MAX_PREDICATES {
        return fail(ws(i), format!("condition too long (more than {MAX_PREDICATES} comparisons)"));
    }
    predicate(i)
}

fn compare_op(i: &str) -> Res<'_, CompareOp> {
    let ops = (tag("<="), tag(">="), tag("<>"), tag("!="), tag("="), tag("<"), tag(">"));
    let (rest, op) = alt(ops).parse(ws(i))?;
    let op = match op {
        "<=" => CompareOp::Le,
        ">=" => CompareOp::Ge,
        "<>" | "!=" => CompareOp::Ne,
        "=" => CompareOp::Eq,
        "<" => CompareOp::Lt,
        _ => CompareOp::Gt,
    };
    Ok((rest, op))
}

/// `col op literal`, `col IS [NOT] NULL`, `col [NOT] IN (...)`,
/// `col [NOT] LIKE 'pattern'`.
fn predicate(i: &str) -> Res<'_, Expr> {
    let (i, column) = column(i, "a condition")?;
    if let Ok((i, op)) = compare_op(i) {
        let (i, value) = literal(i)?;
        return Ok((i, Expr::Compare { column, op, value }));
    }
    if let Some(i) = eat(i, "IS") {
        let (i, negated) = eat(i, "NOT").map_or((i, false), |i| (i, true));
        let (i, ()) = expect(i, "NULL", if negated { "after IS NOT" } else { "after IS" })?;
        return Ok((i, Expr::IsNull { column, negated }));
    }
    let (i, negated) = eat(i, "NOT").map_or((i, false), |i| (i, true));
    match eat_any(i, &["IN", "LIKE"]) {
        Some((i, 0)) => {
            let (i, values) = paren_list(i, "values", literal)?;
            if values.is_empty() {
                return expected(i, "at least one value", "in IN ()");
            }
            Ok((i, Expr::In { column, values, negated }))
        }
        Some((i, _)) => {
            let (i, pattern) = text(i, "a pattern")?;
            Ok((i, Expr::Like { column, pattern, negated }))
        }
        None if negated => expected(i, "IN or LIKE", "after NOT"),
        None => expected(i, "=, !=, <, <=, >, >=, IS, IN or LIKE", &format!("after '{}'", show(&column))),
    }
}

/// A literal: `'text'`, an integer, TRUE, FALSE or NULL.
fn literal(i: &str) -> Res<'_, Literal> {
    let start = ws(i);
    match quoted(start) {
        Ok((i, t)) => return Ok((i, Literal::Text(t))),
        Err(nom::Err::Error(_)) => {}
        Err(e) => return Err(e),
    }
    if let Some(r) = int_literal(start) {
        return r.map(|(i, n)| (i, Literal::Int(n)));
    }
    match eat_any(start, &["TRUE", "FALSE", "NULL"]) {
        Some((i, 0)) => Ok((i, Literal::Bool(true))),
        Some((i, 1)) => Ok((i, Literal::Bool(false))),
        Some((i, _)) => Ok((i, Literal::Null)),
        None => expected(start, "a value (text in quotes, a number, TRUE, FALSE or NULL)", ""),
    }
}
