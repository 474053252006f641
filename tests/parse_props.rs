//! Property tests of the parser: no input makes it panic, and every
//! statement prints to text that parses back to the same statement.

use caldb::model::{CalType, Hwid, KeypackType, Mode, Product, TIME_MAX, TIME_MIN, Time};
use caldb::query::ast::*;
use caldb::query::parse::KEYWORDS;
use caldb::query::{is_complete, parse_statement, split_statements};
use proptest::prelude::*;

fn check_no_panic(text: &str) {
    let _ = parse_statement(text);
    let parts = split_statements(text);
    for p in &parts {
        assert_eq!(text.get(p.offset..p.offset + p.text.len()), Some(p.text));
        let _ = parse_statement(p.text);
    }
    let _ = is_complete(text);
    if let Err(caldb::Error::Parse { offset, .. }) = parse_statement(text) {
        assert!(text.is_char_boundary(offset));
    }
}

/// Random sequences of the language's own tokens reach deep into the grammar.
fn token_soup() -> impl Strategy<Value = String> {
    let mut tokens: Vec<&'static str> = KEYWORDS.to_vec();
    tokens.extend(["(", ")", ",", "*", ";", "=", "<>", "<=", "'x'", "'", "--", "\n", "42", "-7"]);
    tokens.extend(["WS2025", "'2026-01-01'", "COUNT(*)", "a", "'00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff'"]);
    proptest::collection::vec(proptest::sample::select(tokens), 0..24).prop_map(|t| t.join(" "))
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,200}") {
        check_no_panic(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_no_panic(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        check_no_panic(&text);
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_.-]{0,12}",
        "[a-z]{1,8}",
        proptest::sample::select(KEYWORDS).prop_map(|k| k.to_lowercase()),
        ".{1,20}",
        "[a-z]{200,255}",
    ]
}

/// Words the SELECT grammar keeps for itself, and the time units (which
/// would read as part of an interval after a number).
const RESERVED: &[&str] = &[
    "select",
    "from",
    "where",
    "group",
    "order",
    "by",
    "limit",
    "offset",
    "having",
    "and",
    "or",
    "not",
    "as",
    "on",
    "join",
    "left",
    "inner",
    "outer",
    "right",
    "full",
    "cross",
    "natural",
    "using",
    "union",
    "intersect",
    "except",
    "distinct",
    "between",
    "is",
    "in",
    "like",
    "asc",
    "desc",
    "null",
    "true",
    "false",
    "case",
    "over",
    "window",
    "days",
    "day",
    "hours",
    "hour",
    "minutes",
    "minute",
    "seconds",
    "second",
    "filter",
];

fn column() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,10}".prop_filter("reserved", |c| !RESERVED.contains(&c.as_str()))
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        ".{0,12}".prop_map(Literal::Text),
        any::<i64>().prop_map(Literal::Int),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    let units = vec![TimeUnit::Days, TimeUnit::Hours, TimeUnit::Minutes, TimeUnit::Seconds];
    prop_oneof![
        column().prop_map(|c| Expr::Column(None, c)),
        (column(), column()).prop_map(|(t, c)| Expr::Column(Some(t), c)),
        literal().prop_map(Expr::Lit),
        Just(Expr::Now),
        (column(), any::<i64>(), proptest::sample::select(units)).prop_map(|(c, n, u)| Expr::Arith(
            Box::new(Expr::Column(None, c)),
            ArithOp::Add,
            Box::new(Expr::Interval(n, u))
        )),
    ]
}

fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}

fn expr() -> impl Strategy<Value = Expr> {
    let ops = vec![CompareOp::Eq, CompareOp::Ne, CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge];
    let arith = vec![ArithOp::Add, ArithOp::Sub, ArithOp::Mul, ArithOp::Div, ArithOp::Rem];
    let aggs = Aggregate::ALL.to_vec();
    leaf().prop_recursive(5, 32, 3, move |inner| {
        prop_oneof![
            (inner.clone(), proptest::sample::select(ops.clone()), inner.clone()).prop_map(|(l, op, r)| Expr::Compare(
                b(l),
                op,
                b(r)
            )),
            (inner.clone(), proptest::sample::select(arith.clone()), inner.clone()).prop_map(|(l, op, r)| Expr::Arith(
                b(l),
                op,
                b(r)
            )),
            inner.clone().prop_map(|e| Expr::Neg(b(e))),
            (inner.clone(), any::<bool>()).prop_map(|(e, n)| Expr::IsNull(b(e), n)),
            (inner.clone(), proptest::collection::vec(inner.clone(), 1..4), any::<bool>())
                .prop_map(|(e, vs, n)| Expr::In(b(e), vs, n)),
            (inner.clone(), ".{0,8}", any::<bool>()).prop_map(|(e, p, n)| Expr::Like(b(e), p, n)),
            (inner.clone(), inner.clone(), inner.clone(), any::<bool>()).prop_map(|(e, lo, hi, n)| Expr::Between(
                b(e),
                b(lo),
                b(hi),
                n
            )),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Expr::And(b(l), b(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Expr::Or(b(l), b(r))),
            inner.clone().prop_map(|e| Expr::Not(b(e))),
            (proptest::sample::select(aggs.clone()), inner.clone(), any::<bool>()).prop_map(|(a, e, d)| Expr::Agg(
                a,
                Some(b(e)),
                d
            )),
            Just(Expr::Agg(Aggregate::Count, None, false)),
            (inner.clone(), column(), column(), any::<bool>()).prop_map(|(e, c, t, n)| {
                let mut sub = Select::star(&t);
                sub.items = vec![SelectItem::Expr { expr: Expr::Column(None, c), alias: None }];
                Expr::InSelect(b(e), Box::new(sub), n)
            }),
        ]
    })
}

fn table_ref() -> impl Strategy<Value = TableRef> {
    (column(), proptest::option::of(column())).prop_map(|(table, alias)| TableRef { table, alias })
}

fn select() -> impl Strategy<Value = Select> {
    let item = prop_oneof![
        Just(SelectItem::Star(None)),
        column().prop_map(|t| SelectItem::Star(Some(t))),
        (expr(), proptest::option::of(column())).prop_map(|(expr, alias)| SelectItem::Expr { expr, alias }),
    ];
    let order = (expr(), any::<bool>()).prop_map(|(expr, descending)| OrderItem { expr, descending });
    let join = (any::<bool>(), table_ref(), expr()).prop_map(|(left, table, on)| Join { left, table, on });
    let parts = (
        any::<bool>(),
        proptest::collection::vec(item, 1..4),
        table_ref(),
        proptest::collection::vec(join, 0..3),
        proptest::option::of(expr()),
    );
    let tail = (
        proptest::collection::vec(expr(), 0..3),
        proptest::option::of(expr()),
        proptest::collection::vec(order, 0..3),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    );
    (parts, tail).prop_map(|((distinct, items, from, joins, filter), (group_by, having, order_by, limit, offset))| {
        Select { distinct, items, from, joins, filter, group_by, having, order_by, limit, offset }
    })
}

fn time() -> impl Strategy<Value = Time> {
    (TIME_MIN.0..=TIME_MAX.0).prop_map(Time)
}

/// What INSTALL KEYPACK and SET KEYPACK both say of a pack: product, CAL
/// type, and the optional type and expiry.
fn pack_terms() -> impl Strategy<Value = (Product, CalType, Option<KeypackType>, Option<Time>)> {
    let kinds = vec![KeypackType::Retail, KeypackType::Volume, KeypackType::Open, KeypackType::Concurrent];
    (
        proptest::sample::select(Product::ALL),
        proptest::sample::select(CalType::ALL),
        proptest::option::of(proptest::sample::select(kinds)),
        proptest::option::of(time()),
    )
}

fn install() -> impl Strategy<Value = Statement> {
    (name(), pack_terms(), 1..=u64::MAX).prop_map(|(server, (product, cal, kind, expires), count)| {
        Statement::InstallKeypack { server, product, cal, count, kind, expires }
    })
}

fn set_keypack() -> impl Strategy<Value = Statement> {
    let target = (any::<u64>(), proptest::option::of(name()));
    (target, pack_terms(), proptest::option::of(1..=u64::MAX)).prop_map(
        |((id, server), (product, cal, kind, expires), count)| Statement::SetKeypack {
            id,
            server,
            product,
            cal,
            count,
            kind,
            expires,
        },
    )
}

fn create_host() -> impl Strategy<Value = Statement> {
    (
        name(),
        proptest::option::of(proptest::sample::select(Product::ALL)),
        proptest::option::of(proptest::sample::select(Mode::ALL)),
        proptest::option::of(name()),
        proptest::option::of(proptest::collection::vec(name(), 0..3)),
        proptest::option::of(name()),
    )
        .prop_map(|(name, product, mode, scope, license_servers, farm)| Statement::CreateHost {
            name,
            product,
            mode,
            scope,
            license_servers,
            farm,
        })
}

fn statement() -> impl Strategy<Value = Statement> {
    let target = prop_oneof![name().prop_map(Target::Host), name().prop_map(Target::Farm)];
    let units = vec![TimeUnit::Days, TimeUnit::Hours, TimeUnit::Minutes, TimeUnit::Seconds];
    prop_oneof![
        (name(), proptest::option::of(proptest::sample::select(Product::ALL)), proptest::option::of(name()))
            .prop_map(|(name, product, scope)| Statement::CreateServer { name, product, scope }),
        (name(), proptest::option::of(proptest::collection::vec(name(), 0..3)))
            .prop_map(|(name, hosts)| Statement::SetServerSecurityGroup { name, hosts }),
        install(),
        set_keypack(),
        create_host(),
        (name(), proptest::option::of(any::<[u8; 20]>().prop_map(Hwid)))
            .prop_map(|(name, hwid)| Statement::CreateDevice { name, hwid }),
        (name(), name(), target, any::<bool>(), any::<bool>()).prop_map(
            |(device, user, target, admin, logon_failed)| {
                Statement::Connect { device, user, target, admin, logon_failed }
            }
        ),
        (name(), any::<bool>()).prop_map(|(name, on)| Statement::SetServerPreventUpgrade { name, on }),
        (any::<u64>(), proptest::sample::select(units)).prop_map(|(amount, unit)| Statement::Advance { amount, unit }),
        time().prop_map(|at| Statement::SetClock { at }),
        (any::<u64>(), proptest::option::of(name())).prop_map(|(id, server)| Statement::RevokeLicense { id, server }),
        (any::<u64>(), proptest::option::of(name()))
            .prop_map(|(id, server)| Statement::UninstallKeypack { id, server }),
        expr().prop_map(|filter| Statement::RevokeLicenses { filter }),
        (".{1,20}", proptest::option::of(name()), proptest::option::of(time()), proptest::option::of(".{1,10}"))
            .prop_map(|(file, server, as_of, timezone)| {
                let options = ImportOptions { timezone, ..Default::default() };
                Statement::Import { what: Exportable::Licenses, file, server, as_of, options }
            }),
        select().prop_map(Statement::Select),
        select().prop_map(Statement::Explain),
    ]
}

proptest! {
    #[test]
    fn printed_statements_parse_back(s in statement()) {
        let text = s.to_string();
        prop_assert_eq!(parse_statement(&text), Ok(s.clone()), "text: {}", text);
        let terminated = format!("{text};");
        prop_assert_eq!(parse_statement(&terminated), Ok(s), "text: {}", terminated);
        prop_assert!(is_complete(&terminated));
    }
}
