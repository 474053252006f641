//! Expressions resolved against the tables of a query (`Scalar`): columns
//! become positions in the joined row, literals are typed against what they
//! are compared with, constant parts are folded (so `now() + 7 DAYS` is one
//! time), and aggregates of a grouped query are lifted out. Evaluation uses
//! SQL's three-valued logic: a comparison with NULL is NULL.

use super::{AggSpec, Plan, Source};
use crate::error::{Error, Result};
use crate::model::{Time, Value};
use crate::query::ast::{Aggregate, ArithOp, CompareOp, Expr, Literal};
use crate::query::catalog::Type;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The type of an expression; `Null` is the type of the literal NULL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Int,
    Text,
    /// A name column (`Value::Name`): text compared without regard to case.
    Name,
    Bool,
    Time,
    Null,
}

impl Ty {
    fn of(t: Type) -> Ty {
        match t {
            Type::Int => Ty::Int,
            Type::Text => Ty::Text,
            Type::Name => Ty::Name,
            Type::Bool => Ty::Bool,
            Type::Time => Ty::Time,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::Int => "int",
            Ty::Text | Ty::Name => "text",
            Ty::Bool => "bool",
            Ty::Time => "time",
            Ty::Null => "null",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// A position in the row, its type and its name for messages.
    Col(usize, Ty, String),
    Const(Value, Ty),
    Arith(Box<Scalar>, ArithOp, Box<Scalar>),
    /// A time moved by a number of seconds.
    AddSecs(Box<Scalar>, i64),
    /// Whole days from the second time to the first, toward zero.
    DaysBetween(Box<Scalar>, Box<Scalar>),
    Neg(Box<Scalar>),
    Compare(Box<Scalar>, CompareOp, Box<Scalar>),
    IsNull(Box<Scalar>, bool),
    In(Box<Scalar>, Vec<Scalar>, bool),
    /// Membership in the answer of subquery n.
    InSub(Box<Scalar>, usize, bool),
    Like(Box<Scalar>, Vec<char>, bool),
    Between(Box<Scalar>, Box<Scalar>, Box<Scalar>, bool),
    And(Box<Scalar>, Box<Scalar>),
    Or(Box<Scalar>, Box<Scalar>),
    Not(Box<Scalar>),
    /// An aggregate before it is lifted out of a grouped query.
    Agg(Box<AggSpec>),
}

impl Scalar {
    pub fn ty(&self) -> Ty {
        match self {
            Scalar::Col(_, t, _) | Scalar::Const(_, t) => *t,
            Scalar::Arith(..) | Scalar::DaysBetween(..) | Scalar::Neg(_) => Ty::Int,
            Scalar::AddSecs(..) => Ty::Time,
            Scalar::Agg(a) => match (a.func, &a.arg) {
                (Aggregate::Min | Aggregate::Max, Some(arg)) => arg.ty(),
                _ => Ty::Int,
            },
            _ => Ty::Bool,
        }
    }

    /// The positions of the row this expression reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        if let Scalar::Col(i, ..) = self {
            out.push(*i);
        }
        self.children().into_iter().for_each(|c| c.columns(out));
    }

    fn children(&self) -> Vec<&Scalar> {
        match self {
            Scalar::Col(..) | Scalar::Const(..) => vec![],
            Scalar::AddSecs(a, _) | Scalar::Neg(a) | Scalar::IsNull(a, _) | Scalar::InSub(a, ..) => vec![a],
            Scalar::Like(a, ..) | Scalar::Not(a) => vec![a],
            Scalar::Arith(a, _, b) | Scalar::DaysBetween(a, b) | Scalar::Compare(a, _, b) => vec![a, b],
            Scalar::And(a, b) | Scalar::Or(a, b) => vec![a, b],
            Scalar::Between(a, b, c, _) => vec![a, b, c],
            Scalar::In(a, vs, _) => std::iter::once(&**a).chain(vs.iter()).collect(),
            Scalar::Agg(a) => a.arg.iter().collect(),
        }
    }
}

/// Visits an expression and its parts (not the inside of subqueries).
pub fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Column(..) | Expr::Lit(_) | Expr::Now | Expr::Interval(..) | Expr::Agg(_, None, _) => {}
        Expr::Neg(a) | Expr::IsNull(a, _) | Expr::InSelect(a, ..) | Expr::Like(a, ..) | Expr::Not(a) => visit(a, f),
        Expr::Agg(_, Some(a), _) => visit(a, f),
        Expr::Arith(a, _, b) | Expr::Compare(a, _, b) | Expr::And(a, b) | Expr::Or(a, b) => {
            visit(a, f);
            visit(b, f);
        }
        Expr::Between(a, b, c, _) => [a, b, c].into_iter().for_each(|x| visit(x, f)),
        Expr::In(a, vs, _) => std::iter::once(&**a).chain(vs).for_each(|x| visit(x, f)),
    }
}

/// Resolves expressions over the first `visible` sources.
pub struct Resolver<'s> {
    pub sources: &'s [Source],
    pub visible: usize,
    pub now: Time,
    pub subqueries: Vec<Plan>,
    /// Whether aggregates may appear (SELECT, HAVING, ORDER BY).
    pub aggregates: bool,
}

fn boxed(s: Scalar) -> Box<Scalar> {
    Box::new(s)
}

impl Resolver<'_> {
    /// An expression that must be a condition (true, false or NULL).
    pub fn condition(&mut self, e: &Expr, clause: &str) -> Result<Scalar> {
        let (s, ty) = self.scalar(e, clause)?;
        if !matches!(ty, Ty::Bool | Ty::Null) {
            return Err(Error::plan_near(
                format!("{clause} needs a condition, but '{e}' is {}", ty.name()),
                e.to_string(),
            ));
        }
        Ok(s)
    }

    pub fn scalar(&mut self, e: &Expr, clause: &str) -> Result<(Scalar, Ty)> {
        let s = match e {
            Expr::Column(t, c) => self.column(t.as_deref(), c)?,
            Expr::Lit(l) => literal(l),
            Expr::Now => Scalar::Const(Value::Time(self.now), Ty::Time),
            Expr::Interval(..) => {
                return Err(Error::plan_near(
                    format!("'{e}' can only be added to or taken from a time, as in now() + {e}"),
                    e.to_string(),
                ));
            }
            Expr::Neg(a) => {
                let a = self.typed(a, Ty::Int, "-", clause)?;
                fold(Scalar::Neg(boxed(a)))?
            }
            Expr::Arith(a, op, b) => self.arith(e, a, *op, b, clause)?,
            Expr::Compare(a, op, b) => {
                self.check_domain(a, std::slice::from_ref(&**b))?;
                self.check_domain(b, std::slice::from_ref(&**a))?;
                let (a, b) = self.pair(e, a, b, clause)?;
                Scalar::Compare(boxed(a), *op, boxed(b))
            }
            Expr::IsNull(a, neg) => Scalar::IsNull(boxed(self.scalar(a, clause)?.0), *neg),
            Expr::In(a, values, neg) => {
                self.check_domain(a, values)?;
                let mut left = self.scalar(a, clause)?.0;
                let mut out = Vec::new();
                for v in values {
                    let (l, v) = unify(e, left, self.scalar(v, clause)?.0)?;
                    left = l;
                    out.push(v);
                }
                Scalar::In(boxed(left), out, *neg)
            }
            Expr::InSelect(a, sub, neg) => self.in_select(e, a, sub, *neg, clause)?,
            Expr::Like(a, pattern, neg) => {
                Scalar::Like(boxed(self.scalar(a, clause)?.0), pattern.to_lowercase().chars().collect(), *neg)
            }
            Expr::Between(a, lo, hi, neg) => {
                let (a, lo) = self.pair(e, a, lo, clause)?;
                let (a, hi) = unify(e, a, self.scalar(hi, clause)?.0)?;
                Scalar::Between(boxed(a), boxed(lo), boxed(hi), *neg)
            }
            Expr::And(a, b) => Scalar::And(boxed(self.condition(a, clause)?), boxed(self.condition(b, clause)?)),
            Expr::Or(a, b) => Scalar::Or(boxed(self.condition(a, clause)?), boxed(self.condition(b, clause)?)),
            Expr::Not(a) => Scalar::Not(boxed(self.condition(a, clause)?)),
            Expr::Agg(func, arg, distinct) => self.aggregate(e, *func, arg.as_deref(), *distinct, clause)?,
        };
        let ty = s.ty();
        Ok((s, ty))
    }

    fn typed(&mut self, e: &Expr, want: Ty, op: &str, clause: &str) -> Result<Scalar> {
        let (s, ty) = self.scalar(e, clause)?;
        if ty != want && ty != Ty::Null {
            return Err(Error::plan_near(format!("'{op}' needs a number, but '{e}' is {}", ty.name()), e.to_string()));
        }
        Ok(s)
    }

    fn pair(&mut self, e: &Expr, a: &Expr, b: &Expr, clause: &str) -> Result<(Scalar, Scalar)> {
        let a = self.scalar(a, clause)?.0;
        let b = self.scalar(b, clause)?.0;
        unify(e, a, b)
    }

    /// A comparison of an enumerated column (`status`, `kind`, `mode`, ...)
    /// with a text it can never hold (`'ACTIVE'`, a misspelt `'actve'`) would
    /// silently find nothing: it is an error that lists the values it holds.
    fn check_domain(&self, column: &Expr, others: &[Expr]) -> Result<()> {
        let Expr::Column(table, name) = column else { return Ok(()) };
        let sources = &self.sources[..self.visible];
        let source = match table {
            Some(t) => sources.iter().find(|s| s.name == *t),
            None => {
                let mut having = sources.iter().filter(|s| s.table.column(name).is_some());
                having.next().filter(|_| having.next().is_none())
            }
        };
        let Some(values) = source.and_then(|s| super::super::catalog::enum_values(s.table.name, name)) else {
            return Ok(());
        };
        for other in others {
            if let Expr::Lit(Literal::Text(v)) = other
                && !values.contains(&v.as_str())
            {
                return Err(Error::plan_near(
                    format!("{name} is one of {}: '{v}' is none of them", values.join(", ")),
                    format!("'{v}'"),
                ));
            }
        }
        Ok(())
    }

    fn column(&self, table: Option<&str>, name: &str) -> Result<Scalar> {
        let visible = &self.sources[..self.visible];
        let found: Vec<&Source> = match table {
            Some(t) => {
                let Some(s) = self.sources.iter().position(|s| s.name == t) else {
                    let names: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
                    return Err(Error::plan_near(
                        format!("no table '{t}' in FROM for '{t}.{name}' (FROM has {})", names.join(", ")),
                        format!("{t}.{name}"),
                    ));
                };
                if s >= self.visible {
                    return Err(Error::plan_near(
                        format!("'{t}.{name}' cannot be used here: table '{t}' is joined later"),
                        format!("{t}.{name}"),
                    ));
                }
                vec![&self.sources[s]]
            }
            None => visible.iter().filter(|s| s.table.column(name).is_some()).collect(),
        };
        match found.as_slice() {
            [s] => {
                let Some(c) = s.table.column(name) else {
                    return Err(no_column(name, &[s]));
                };
                let label = if self.sources.len() > 1 { format!("{}.{name}", s.name) } else { name.to_string() };
                Ok(Scalar::Col(s.base + c, Ty::of(s.table.columns[c].1), label))
            }
            [] => Err(no_column(name, &visible.iter().collect::<Vec<_>>())),
            many => {
                let names: Vec<String> = many.iter().map(|s| format!("{}.{name}", s.name)).collect();
                Err(Error::plan_near(
                    format!("column '{name}' is ambiguous: write {}", names.join(" or ")),
                    name.to_string(),
                ))
            }
        }
    }

    fn arith(&mut self, e: &Expr, a: &Expr, op: ArithOp, b: &Expr, clause: &str) -> Result<Scalar> {
        let interval = |x: &Expr| match x {
            Expr::Interval(n, unit) => Some(n.saturating_mul(unit.seconds())),
            _ => None,
        };
        let moved = match (interval(a), interval(b), op) {
            (None, Some(secs), ArithOp::Add | ArithOp::Sub) => {
                let secs = if op == ArithOp::Sub { secs.saturating_neg() } else { secs };
                Some((a, secs))
            }
            (Some(secs), None, ArithOp::Add) => Some((b, secs)),
            _ => None,
        };
        if let Some((t, secs)) = moved {
            let (s, _) = self.scalar(t, clause)?;
            let s = as_time(s).ok_or_else(|| {
                Error::plan_near(format!("'{e}': an interval can only be added to or taken from a time"), e.to_string())
            })?;
            return fold(Scalar::AddSecs(boxed(s), secs));
        }
        let (l, r) = (self.scalar(a, clause)?.0, self.scalar(b, clause)?.0);
        let (l, r) = match (l.ty(), r.ty()) {
            (Ty::Time, _) | (_, Ty::Time) if op == ArithOp::Sub => match (as_time(l), as_time(r)) {
                (Some(l), Some(r)) => return fold(Scalar::DaysBetween(boxed(l), boxed(r))),
                _ => return Err(arith_error(e, op)),
            },
            (Ty::Int | Ty::Null, Ty::Int | Ty::Null) => (l, r),
            _ => return Err(arith_error(e, op)),
        };
        fold(Scalar::Arith(boxed(l), op, boxed(r)))
    }

    fn in_select(&mut self, e: &Expr, a: &Expr, sub: &super::Select, neg: bool, clause: &str) -> Result<Scalar> {
        let left = self.scalar(a, clause)?.0;
        let plan = super::plan(sub, self.now)?;
        if plan.columns.len() != 1 {
            return Err(Error::plan_near(
                format!("the subquery of '{a} IN (...)' must select one column, not {}", plan.columns.len()),
                e.to_string(),
            ));
        }
        let probe = Scalar::Col(0, plan.types[0], plan.columns[0].clone());
        unify(e, left.clone(), probe)?;
        self.subqueries.push(plan);
        Ok(Scalar::InSub(boxed(left), self.subqueries.len() - 1, neg))
    }

    fn aggregate(
        &mut self,
        e: &Expr,
        func: Aggregate,
        arg: Option<&Expr>,
        distinct: bool,
        clause: &str,
    ) -> Result<Scalar> {
        if !self.aggregates {
            let hint = if clause == "WHERE" { ": use HAVING" } else { "" };
            return Err(Error::plan_near(format!("aggregate '{e}' is not allowed in {clause}{hint}"), e.to_string()));
        }
        self.aggregates = false;
        let arg = arg.map(|a| self.scalar(a, clause)).transpose();
        self.aggregates = true;
        let arg = arg?.map(|(s, _)| s);
        if let Some(a) = &arg
            && matches!(func, Aggregate::Sum | Aggregate::Avg)
            && !matches!(a.ty(), Ty::Int | Ty::Null)
        {
            return Err(Error::plan_near(
                format!(
                    "{} needs numbers, but its argument in '{e}' is {}",
                    func.as_str().to_uppercase(),
                    a.ty().name()
                ),
                e.to_string(),
            ));
        }
        Ok(Scalar::Agg(Box::new(AggSpec { func, arg, distinct })))
    }
}

fn no_column(name: &str, tables: &[&Source]) -> Error {
    let names: Vec<String> = tables.iter().map(|s| format!("'{}'", s.table.name)).collect();
    let what = if names.len() == 1 { "table" } else { "tables" };
    let columns = tables.iter().flat_map(|s| s.table.columns.iter().map(|(c, _)| *c));
    let hint = crate::query::suggest::did_you_mean(name, columns);
    Error::plan_near(format!("no column '{name}' in {what} {}{hint}", names.join(" or ")), name.to_string())
}

fn arith_error(e: &Expr, op: ArithOp) -> Error {
    Error::plan_near(
        format!(
            "'{e}': '{}' works on numbers, a time and an interval (now() + 7 DAYS) or, for '-', two times (days between them)",
            op.as_str()
        ),
        e.to_string(),
    )
}

fn literal(l: &Literal) -> Scalar {
    match l {
        Literal::Text(t) => Scalar::Const(Value::Text(t.clone()), Ty::Text),
        Literal::Int(n) => Scalar::Const(Value::Int(*n), Ty::Int),
        Literal::Bool(b) => Scalar::Const(Value::Bool(*b), Ty::Bool),
        Literal::Null => Scalar::Const(Value::Null, Ty::Null),
    }
}

/// A time-typed expression, reading a text constant as a time.
fn as_time(s: Scalar) -> Option<Scalar> {
    match s {
        Scalar::Const(Value::Text(t), _) => Time::parse(&t).map(|t| Scalar::Const(Value::Time(t), Ty::Time)),
        s if matches!(s.ty(), Ty::Time | Ty::Null) => Some(s),
        _ => None,
    }
}

/// Makes the two sides of a comparison the same type: text compared with a
/// time is read as a time, an HWID in either case is matched in upper case.
fn unify(e: &Expr, a: Scalar, b: Scalar) -> Result<(Scalar, Scalar)> {
    let b = named(&a, b);
    let a = named(&b, a);
    let (ta, tb) = (a.ty(), b.ty());
    let texts = matches!((ta, tb), (Ty::Name, Ty::Text) | (Ty::Text, Ty::Name));
    if ta == tb || ta == Ty::Null || tb == Ty::Null || texts {
        let b2 = hwid_case(&a, b);
        let a2 = hwid_case(&b2, a);
        return Ok((a2, b2));
    }
    match (ta, tb) {
        (Ty::Time, Ty::Text) => {
            let b2 = timed(e, &a, &b)?;
            Ok((a, b2))
        }
        (Ty::Text, Ty::Time) => {
            let a2 = timed(e, &b, &a)?;
            Ok((a2, b))
        }
        _ => Err(mismatch(e, &a, &b)),
    }
}

/// `x`, a text constant, read as a time to compare with `other`.
fn timed(e: &Expr, other: &Scalar, x: &Scalar) -> Result<Scalar> {
    match x {
        Scalar::Const(Value::Text(t), _) => Time::parse(t)
            .map(|t| Scalar::Const(Value::Time(t), Ty::Time))
            .ok_or_else(|| Error::plan_near(format!("'{t}' is not a time (YYYY-MM-DD [HH:MM[:SS]])"), t.clone())),
        _ => Err(mismatch(e, other, x)),
    }
}

/// A text constant compared with a name is a name: `computer = 'PC1'`
/// finds `pc1`, as Windows compares computer names.
fn named(other: &Scalar, s: Scalar) -> Scalar {
    match s {
        Scalar::Const(Value::Text(t), _) if other.ty() == Ty::Name => Scalar::Const(Value::Name(t), Ty::Name),
        s => s,
    }
}

fn hwid_case(other: &Scalar, s: Scalar) -> Scalar {
    match (other, s) {
        (Scalar::Col(_, _, name), Scalar::Const(Value::Text(t), ty)) if name.ends_with("hwid") => {
            Scalar::Const(Value::Text(t.to_ascii_uppercase()), ty)
        }
        (_, s) => s,
    }
}

fn mismatch(e: &Expr, a: &Scalar, b: &Scalar) -> Error {
    let describe = |s: &Scalar| match s {
        Scalar::Const(Value::Int(n), _) => format!("the number {n}"),
        Scalar::Const(Value::Text(t) | Value::Name(t), _) => format!("the text '{t}'"),
        Scalar::Const(v, _) => v.to_string(),
        other => format!("a {} value", other.ty().name()),
    };
    let msg = match (a, b) {
        (Scalar::Col(_, ty, name), other) | (other, Scalar::Col(_, ty, name)) => {
            format!("column '{name}' is {}; {} cannot be compared with it", ty.name(), describe(other))
        }
        _ => format!("'{e}' compares {} with {}", a.ty().name(), b.ty().name()),
    };
    Error::plan_near(msg, e.to_string())
}

/// Evaluates an expression whose operands are all constants.
fn fold(s: Scalar) -> Result<Scalar> {
    if s.children().iter().all(|c| matches!(c, Scalar::Const(..))) {
        let ty = s.ty();
        let v = eval(&s, &[], &Sets::default())?.into_owned();
        return Ok(Scalar::Const(v, ty));
    }
    Ok(s)
}

/// Lifts a scalar over the joined row into one over `keys ++ aggregates`;
/// `Err` names a column that is neither grouped nor aggregated.
pub fn lift(s: Scalar, keys: &[Scalar], aggs: &mut Vec<AggSpec>) -> std::result::Result<Scalar, String> {
    if let Some(k) = keys.iter().position(|k| *k == s) {
        return Ok(Scalar::Col(k, s.ty(), String::new()));
    }
    let mut go = |x: Box<Scalar>| lift(*x, keys, aggs).map(Box::new);
    Ok(match s {
        Scalar::Agg(spec) => {
            let ty = Scalar::Agg(spec.clone()).ty();
            let j = aggs.iter().position(|a| *a == *spec).unwrap_or_else(|| {
                aggs.push(*spec);
                aggs.len() - 1
            });
            Scalar::Col(keys.len() + j, ty, String::new())
        }
        Scalar::Col(_, _, name) => return Err(name),
        Scalar::Const(..) => s,
        Scalar::Arith(a, op, b) => Scalar::Arith(go(a)?, op, go(b)?),
        Scalar::AddSecs(a, n) => Scalar::AddSecs(go(a)?, n),
        Scalar::DaysBetween(a, b) => Scalar::DaysBetween(go(a)?, go(b)?),
        Scalar::Neg(a) => Scalar::Neg(go(a)?),
        Scalar::Compare(a, op, b) => Scalar::Compare(go(a)?, op, go(b)?),
        Scalar::IsNull(a, n) => Scalar::IsNull(go(a)?, n),
        Scalar::In(a, vs, n) => {
            let a = go(a)?;
            let vs = vs.into_iter().map(|v| lift(v, keys, aggs)).collect::<std::result::Result<_, _>>()?;
            Scalar::In(a, vs, n)
        }
        Scalar::InSub(a, k, n) => Scalar::InSub(go(a)?, k, n),
        Scalar::Like(a, p, n) => Scalar::Like(go(a)?, p, n),
        Scalar::Between(a, b, c, n) => Scalar::Between(go(a)?, go(b)?, go(c)?, n),
        Scalar::And(a, b) => Scalar::And(go(a)?, go(b)?),
        Scalar::Or(a, b) => Scalar::Or(go(a)?, go(b)?),
        Scalar::Not(a) => Scalar::Not(go(a)?),
    })
}

/// The answers of the subqueries: their values and whether NULL was one.
#[derive(Default)]
pub struct Sets(pub Vec<(BTreeSet<Value>, bool)>);

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn three(v: Option<bool>) -> Value {
    v.map_or(Value::Null, Value::Bool)
}

/// Whether a row passes a condition (NULL does not).
pub fn holds(s: &Scalar, row: &[Value], sets: &Sets) -> Result<bool> {
    Ok(truth(&*eval(s, row, sets)?) == Some(true))
}

pub fn eval<'a>(s: &'a Scalar, row: &'a [Value], sets: &Sets) -> Result<Cow<'a, Value>> {
    let owned = |v: Value| Ok(Cow::Owned(v));
    match s {
        Scalar::Col(i, ..) => Ok(Cow::Borrowed(row.get(*i).unwrap_or(&Value::Null))),
        Scalar::Const(v, _) => Ok(Cow::Borrowed(v)),
        Scalar::Arith(a, op, b) => owned(arith(&*eval(a, row, sets)?, *op, &*eval(b, row, sets)?)?),
        Scalar::AddSecs(a, n) => owned(match &*eval(a, row, sets)? {
            Value::Time(t) => Value::Time(t.plus_seconds(*n)),
            _ => Value::Null,
        }),
        Scalar::DaysBetween(a, b) => owned(match (&*eval(a, row, sets)?, &*eval(b, row, sets)?) {
            (Value::Time(x), Value::Time(y)) => Value::Int((x.0 - y.0) / crate::model::SECONDS_PER_DAY),
            _ => Value::Null,
        }),
        Scalar::Neg(a) => owned(match &*eval(a, row, sets)? {
            Value::Int(n) => {
                Value::Int(n.checked_neg().ok_or_else(|| Error::plan(format!("integer overflow in -({n})")))?)
            }
            _ => Value::Null,
        }),
        Scalar::Compare(a, op, b) => {
            let (x, y) = (eval(a, row, sets)?, eval(b, row, sets)?);
            if *x == Value::Null || *y == Value::Null {
                return owned(Value::Null);
            }
            owned(Value::Bool(compare(x.cmp(&y), *op)))
        }
        Scalar::IsNull(a, neg) => owned(Value::Bool((*eval(a, row, sets)? == Value::Null) != *neg)),
        Scalar::In(..)
        | Scalar::InSub(..)
        | Scalar::Like(..)
        | Scalar::Between(..)
        | Scalar::And(..)
        | Scalar::Or(..) => owned(membership_or_logic(s, row, sets)?),
        Scalar::Not(a) => owned(three(truth(&*eval(a, row, sets)?).map(|b| !b))),
        Scalar::Agg(_) => Err(Error::plan("an aggregate cannot be used here")),
    }
}

/// IN, IN (SELECT), LIKE, BETWEEN, AND and OR: the predicates
/// of three-valued logic.
fn membership_or_logic(s: &Scalar, row: &[Value], sets: &Sets) -> Result<Value> {
    match s {
        Scalar::In(a, vs, neg) => {
            let x = eval(a, row, sets)?;
            let mut any_null = false;
            for v in vs {
                let v = eval(v, row, sets)?;
                any_null |= *v == Value::Null;
                if *x != Value::Null && *v == *x {
                    return Ok(Value::Bool(!neg));
                }
            }
            Ok(if *x == Value::Null || any_null { Value::Null } else { Value::Bool(*neg) })
        }
        Scalar::InSub(a, k, neg) => {
            let x = eval(a, row, sets)?;
            let (set, has_null) = sets.0.get(*k).ok_or_else(|| Error::plan("subquery not run"))?;
            Ok(if *x == Value::Null {
                Value::Null
            } else if set.contains(&*x) {
                Value::Bool(!neg)
            } else if *has_null {
                Value::Null
            } else {
                Value::Bool(*neg)
            })
        }
        Scalar::Like(a, pattern, neg) => Ok(match &*eval(a, row, sets)? {
            Value::Null => Value::Null,
            v => {
                let text: Vec<char> = v.to_string().to_lowercase().chars().collect();
                Value::Bool(like(pattern, &text) != *neg)
            }
        }),
        Scalar::Between(a, lo, hi, neg) => {
            let x = eval(a, row, sets)?;
            let ge = cmp3(&x, &*eval(lo, row, sets)?, CompareOp::Ge);
            let le = cmp3(&x, &*eval(hi, row, sets)?, CompareOp::Le);
            let v = and3(ge, le);
            Ok(three(if *neg { v.map(|b| !b) } else { v }))
        }
        Scalar::And(a, b) => {
            let x = truth(&*eval(a, row, sets)?);
            if x == Some(false) {
                return Ok(Value::Bool(false));
            }
            Ok(three(and3(x, truth(&*eval(b, row, sets)?))))
        }
        Scalar::Or(a, b) => {
            let x = truth(&*eval(a, row, sets)?);
            if x == Some(true) {
                return Ok(Value::Bool(true));
            }
            let y = truth(&*eval(b, row, sets)?);
            Ok(three(match (x, y) {
                (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            }))
        }
        _ => Err(Error::plan("not a predicate")),
    }
}

fn and3(x: Option<bool>, y: Option<bool>) -> Option<bool> {
    match (x, y) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn cmp3(x: &Value, y: &Value, op: CompareOp) -> Option<bool> {
    if *x == Value::Null || *y == Value::Null { None } else { Some(compare(x.cmp(y), op)) }
}

pub fn compare(o: std::cmp::Ordering, op: CompareOp) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CompareOp::Eq => o == Equal,
        CompareOp::Ne => o != Equal,
        CompareOp::Lt => o == Less,
        CompareOp::Le => o != Greater,
        CompareOp::Gt => o == Greater,
        CompareOp::Ge => o != Less,
    }
}

fn arith(x: &Value, op: ArithOp, y: &Value) -> Result<Value> {
    let (Value::Int(a), Value::Int(b)) = (x, y) else { return Ok(Value::Null) };
    let r = match op {
        ArithOp::Add => a.checked_add(*b),
        ArithOp::Sub => a.checked_sub(*b),
        ArithOp::Mul => a.checked_mul(*b),
        ArithOp::Div | ArithOp::Rem if *b == 0 => {
            return Err(Error::plan(format!("division by zero in {a} {} {b}", op.as_str())));
        }
        ArithOp::Div => a.checked_div(*b),
        ArithOp::Rem => a.checked_rem(*b),
    };
    r.map(Value::Int).ok_or_else(|| Error::plan(format!("integer overflow in {a} {} {b}", op.as_str())))
}

/// LIKE with `%` and `_`, case-insensitive (both sides lower-cased).
/// Iterative matching with backtracking to the last '%': linear space, no
/// recursion, whatever the pattern.
pub fn like(pattern: &[char], text: &[char]) -> bool {
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
