//! Every statement form parses to the expected AST, prints back to text that
//! parses to the same AST, and malformed statements give precise errors.

use caldb::Error;
use caldb::model::{CalType, Hwid, KeypackType, Mode, Product, Time};
use caldb::query::ast::*;
use caldb::query::{is_complete, parse_statement, split_statements};

/// Parses `text`, checks the print/parse round trip and returns the AST.
fn rt(text: &str) -> Statement {
    let s = parse_statement(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    let printed = s.to_string();
    let again = parse_statement(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
    assert_eq!(again, s, "round trip of {text:?} via {printed:?}");
    s
}

const ALL_FORMS: &[&str] = &[
    "CREATE SERVER ls1",
    "create server 'LS 1' product ws2019 scope 'My Scope'",
    "CREATE SERVER ls1 SCOPE s1 PRODUCT WS2016;",
    "ACTIVATE SERVER ls1",
    "DEACTIVATE SERVER ls1",
    "SET SERVER ls1 ONLINE",
    "SET SERVER ls1 OFFLINE",
    "SET SERVER ls1 SECURITY GROUP (h1, 'h 2', h3.example.com)",
    "SET SERVER ls1 SECURITY GROUP ()",
    "SET SERVER ls1 SECURITY GROUP OFF",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 50",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 5 TYPE RETAIL EXPIRES '2027-01-01'",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 5 EXPIRES '2027-01-01 10:00:00' TYPE OPEN",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 5 TYPE VOLUME",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 5 TYPE CONCURRENT",
    "UNINSTALL KEYPACK 3",
    "SET KEYPACK 3 PRODUCT WS2019 CAL DEVICE",
    "SET KEYPACK 3 ON ls2 PRODUCT WS2022 CAL USER COUNT 50 TYPE VOLUME EXPIRES '2027-01-01 10:00:00'",
    "CREATE HOST rdsh1",
    "CREATE HOST rdsh1 PRODUCT WS2012R2 MODE DEVICE SCOPE s LICENSE SERVERS (ls1, ls2) FARM f1",
    "CREATE HOST rdsh1 FARM f1 LICENSE SERVERS () MODE USER",
    "CREATE HOST rdsh1 MODE UNSET",
    "SET HOST rdsh1 MODE USER",
    "SET HOST rdsh1 LICENSE SERVERS (ls2, ls1)",
    "SET HOST rdsh1 LICENSE SERVERS ()",
    "CREATE DEVICE pc1",
    "CREATE DEVICE pc1 HWID '00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff'",
    "CLONE DEVICE pc1 AS pc2",
    "CLONE DEVICE pc1 AS pc2 WITH STORE",
    "REIMAGE DEVICE pc1",
    "CLEAR DEVICE pc1 STORE",
    "CLEAR DEVICE pc1 LICENSING",
    "CLEAR DEVICE 'store' STORE",
    "CONNECT pc1 AS alice TO rdsh1",
    "CONNECT pc1 AS 'DOMAIN\\bob' TO FARM f1 LOGON FAILED",
    "CONNECT pc1 AS user TO rdsh1 LOGON FAILED",
    "CONNECT CLIENT AS alice TO rdsh1",
    "CONNECT CLIENT HWID '000001040102030405060708090A0B0C0D0E0F10' NAME 'PC-ALPHA' AS alice TO rdsh1",
    "CONNECT CLIENT HWID '000001040102030405060708090A0B0C0D0E0F10' NAME 'PC-ALPHA' AS alice TO rdsh1 PRESENTING LICENSE 17 ON ls1 KIND permanent PRODUCT WS2022 EXPIRES '2026-03-06 09:00:00'",
    "CONNECT CLIENT HWID '000001040102030405060708090A0B0C0D0E0F10' NAME pc AS alice TO rdsh1 PRESENTING INVALID 'tag'",
    "CONNECT CLIENT HWID '000001040102030405060708090A0B0C0D0E0F10' NAME pc AS alice TO rdsh1 PRESENTING INVALID 'unknown'",
    "CONNECT CLIENT HWID '000001040102030405060708090A0B0C0D0E0F10' NAME pc AS alice TO rdsh1 PRESENTING INVALID 'hwid' LICENSE 3 ON 'ls 1'",
    "LOGON CLIENT NAME 'PC-ALPHA' AS alice TO rdsh1",
    "LOGON CLIENT NAME 'PC-ALPHA' AS alice TO rdsh1 LICENSE 17 ON ls1 FAILED",
    "DISCONNECT SESSION 1",
    "LOGOFF SESSION 18446744073709551615",
    "SET CLOCK '2026-03-01'",
    "SET CLOCK '2026-03-01 12:34:56'",
    "SET CLOCK WALL",
    "ADVANCE 3 DAYS",
    "ADVANCE 1 DAY",
    "ADVANCE 2 HOURS",
    "ADVANCE 1 hour",
    "ADVANCE 30 MINUTES",
    "ADVANCE 1 MINUTE",
    "ADVANCE 10 SECONDS",
    "ADVANCE 1 SECOND",
    "SET SEED 42",
    "REVOKE LICENSE 7",
    "REVOKE LICENSES WHERE server = 'ls1' AND kind = 'permanent'",
    "REBUILD SERVER ls1",
    "REBUILD SERVER ls1 REINSTALL KEYPACKS",
    "CHECK",
    "REPAIR",
    "BACKUP TO '/tmp/x.redb'",
    "BEGIN",
    "BEGIN TRANSACTION",
    "COMMIT",
    "ROLLBACK",
    "SELECT * FROM licenses",
    "SELECT id, hwid FROM Licenses WHERE id >= 3 ORDER BY id DESC LIMIT 10",
    "SELECT COUNT(*) FROM licenses",
    "SELECT server, COUNT(*) FROM licenses GROUP BY server ORDER BY COUNT(*) DESC, server ASC",
    "SELECT * FROM licenses WHERE expires IS NULL OR revoked IS NOT NULL",
    "SELECT * FROM licenses WHERE id IN (1, 2, -3) AND NOT status NOT IN ('a', NULL, TRUE)",
    "SELECT * FROM devices WHERE name LIKE 'pc%' OR name NOT LIKE '_x'",
    "SELECT * FROM t WHERE a = 1 AND (b = 2 OR c <> 3) AND NOT (d < 4 AND e <= 5)",
    "SELECT * FROM t WHERE (a > 1 OR b >= 2) AND c != FALSE",
    "SELECT DISTINCT l.computer AS pc, k.product FROM licenses AS l JOIN keypacks k ON k.id = l.keypack",
    "SELECT d.name, t.slot FROM devices d LEFT JOIN tokens t ON t.device = d.name WHERE t.slot IS NULL",
    "SELECT server, COUNT(computer), COUNT(DISTINCT computer), SUM(total), MIN(issued), MAX(expires), AVG(available) \
     FROM keypacks GROUP BY server HAVING SUM(total) > 10 ORDER BY 2 DESC, server LIMIT 5 OFFSET 1",
    "SELECT id, expires - issued AS days FROM licenses WHERE expires < now() + 7 DAYS AND issued >= now() - 2 HOURS",
    "SELECT id FROM licenses WHERE id BETWEEN 1 AND 3 * (2 + 1) AND id NOT BETWEEN -(1) AND 0 % 2",
    "SELECT id FROM licenses WHERE hwid IN (SELECT hwid FROM devices WHERE name LIKE 'pc%')",
    "SELECT id FROM licenses WHERE expires > '2026-04-05 09:00' ORDER BY expires - issued DESC, id",
    "EXPLAIN SELECT l.*, k.id FROM licenses l JOIN keypacks k ON k.id = l.keypack WHERE l.computer = 'pc1'",
    "SHOW DEVICE pc1",
    "SHOW HOST rdsh1",
    "SHOW CLOCK",
    "show clock;",
    "CREATE TABLE caldb_store(tbl TEXT, key BLOB, value BLOB)",
    "create table servers(name text, 'my col' INTEGER)",
    "INSERT INTO caldb_store VALUES('servers',X'6C7331',x'00ff')",
    "INSERT INTO licenses VALUES(1,NULL,-2,TRUE,FALSE,'o''brien',X'')",
    "REPORT USAGE",
    "REPORT DUPLICATES",
    "REPORT USERS",
    "REPORT EXPIRING",
    "REPORT EXPIRING WITHIN 30 DAYS",
    "EXPORT LICENSES TO 'l.csv'",
    "EXPORT KEYPACKS TO 'k.csv'",
    "IMPORT LICENSES FROM 'l.csv' INTO SERVER ls1",
    "IMPORT KEYPACKS FROM 'k.csv' INTO SERVER 'ls 2'",
    "IMPORT LICENSES FROM 'l.csv' INTO SERVER ls1 ENCODING 'windows-1252' DELIMITER ';' CULTURE 'de-DE' TIMEZONE 'Europe/Berlin'",
    "import licenses from 'l.csv' into server ls1 timezone 'UTC' delimiter 'tab'",
    "IMPORT USERS FROM 'ad.ldf' INTO SERVER ls1",
    "IMPORT USERS FROM 'ad.csv' INTO SERVER ls1 CULTURE 'en-US'",
];

#[test]
fn every_form_parses_and_round_trips() {
    for text in ALL_FORMS {
        rt(text);
    }
}

fn time(s: &str) -> Time {
    Time::parse(s).expect("valid time")
}

fn col(c: &str, op: CompareOp, value: Literal) -> Expr {
    Expr::compare(Expr::column(c), op, Expr::Lit(value))
}

#[test]
fn deployment_statements_build_the_expected_ast() {
    assert_eq!(
        rt("create server 'LS 1' product ws2019 scope 'It''s'"),
        Statement::CreateServer { name: "LS 1".into(), product: Some(Product::Ws2019), scope: Some("It's".into()) }
    );
    assert_eq!(
        rt("SET SERVER Ls1 SECURITY GROUP (h1, 'h 2')"),
        Statement::SetServerSecurityGroup { name: "Ls1".into(), hosts: Some(vec!["h1".into(), "h 2".into()]) }
    );
    assert_eq!(
        rt("SET SERVER ls1 security group off;"),
        Statement::SetServerSecurityGroup { name: "ls1".into(), hosts: None }
    );
    assert_eq!(
        rt("INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 5 EXPIRES '2027-01-01' TYPE OPEN"),
        Statement::InstallKeypack {
            server: "ls1".into(),
            product: Product::Ws2022,
            cal: CalType::User,
            count: 5,
            kind: Some(KeypackType::Open),
            expires: Some(time("2027-01-01 00:00:00")),
        }
    );
    assert_eq!(
        rt("CREATE HOST rdsh1 FARM f1 LICENSE SERVERS () MODE USER"),
        Statement::CreateHost {
            name: "rdsh1".into(),
            product: None,
            mode: Some(Mode::User),
            scope: None,
            license_servers: Some(vec![]),
            farm: Some("f1".into()),
        }
    );
    let hwid = Hwid::parse("00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff");
    assert_eq!(
        rt("CREATE DEVICE pc1 HWID '00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff'"),
        Statement::CreateDevice { name: "pc1".into(), hwid }
    );
    assert_eq!(
        rt("clone device pc1 as PC2 with store"),
        Statement::CloneDevice { name: "pc1".into(), new_name: "PC2".into(), with_store: true }
    );
    assert_eq!(rt("CLEAR DEVICE 'store' STORE"), Statement::ClearDeviceStore { name: "store".into() });
}

#[test]
fn protocol_time_and_administration_build_the_expected_ast() {
    assert_eq!(
        rt("CONNECT pc1 AS 'DOMAIN\\bob' TO FARM f1 LOGON FAILED"),
        Statement::Connect {
            device: "pc1".into(),
            user: "DOMAIN\\bob".into(),
            target: Target::Farm("f1".into()),
            admin: false,
            logon_failed: true
        }
    );
    assert_eq!(
        rt("CONNECT pc1 AS user TO 'farm'"),
        Statement::Connect {
            device: "pc1".into(),
            user: "user".into(),
            target: Target::Host("farm".into()),
            admin: false,
            logon_failed: false
        }
    );
    assert_eq!(
        rt("connect pc1 as u to h1 admin logon failed"),
        Statement::Connect {
            device: "pc1".into(),
            user: "u".into(),
            target: Target::Host("h1".into()),
            admin: true,
            logon_failed: true
        }
    );
    assert_eq!(
        rt("SET SERVER ls1 PREVENT UPGRADE on"),
        Statement::SetServerPreventUpgrade { name: "ls1".into(), on: true }
    );
    assert_eq!(rt("ADVANCE 1 hour"), Statement::Advance { amount: 1, unit: TimeUnit::Hours });
    assert_eq!(rt("SET CLOCK '2026-03-01 12:34:56'"), Statement::SetClock { at: time("2026-03-01 12:34:56") });
    assert_eq!(rt("LOGOFF SESSION 18446744073709551615"), Statement::LogoffSession { id: u64::MAX });
    assert_eq!(rt("begin transaction"), Statement::Begin);
    assert_eq!(rt("REPORT EXPIRING WITHIN 30 DAYS"), Statement::ReportExpiring { within_days: Some(30) });
    assert_eq!(
        rt("IMPORT KEYPACKS FROM 'k.csv' INTO SERVER 'ls 2'"),
        Statement::Import {
            what: Exportable::Keypacks,
            file: "k.csv".into(),
            server: Some("ls 2".into()),
            as_of: None,
            options: Default::default()
        }
    );
    assert_eq!(
        rt("import licenses from 'l.csv' as of '2026-01-15 09:00'"),
        Statement::Import {
            what: Exportable::Licenses,
            file: "l.csv".into(),
            server: None,
            as_of: Some(time("2026-01-15 09:00:00")),
            options: Default::default()
        }
    );
    // AS OF and the reading options, in either order.
    let Statement::Import { as_of, options, .. } =
        rt("IMPORT LICENSES FROM 'l.csv' CULTURE 'de-DE' AS OF '2026-01-15 09:00' DELIMITER ';'")
    else {
        panic!("IMPORT LICENSES");
    };
    assert_eq!(as_of, Some(time("2026-01-15 09:00:00")));
    assert_eq!((options.culture.as_deref(), options.delimiter.as_deref()), (Some("de-DE"), Some(";")));
    assert_eq!(rt("REVOKE LICENSE 12 ON ls2"), Statement::RevokeLicense { id: 12, server: Some("ls2".into()) });
    assert_eq!(rt("uninstall keypack 3 on 'ls 2'"), Statement::UninstallKeypack { id: 3, server: Some("ls 2".into()) });
    let Statement::SetKeypack { id, server, count, kind, .. } =
        rt("set keypack 3 on ls2 product ws2019 cal device type open count 7")
    else {
        panic!("SET KEYPACK");
    };
    assert_eq!((id, server.as_deref(), count, kind), (3, Some("ls2"), Some(7), Some(KeypackType::Open)));
    let Statement::ImportUsers { options, .. } =
        rt("IMPORT USERS FROM 'a.csv' INTO SERVER s TIMEZONE 'UTC' ENCODING '1252'")
    else {
        panic!("IMPORT USERS");
    };
    assert_eq!((options.encoding.as_deref(), options.timezone.as_deref()), (Some("1252"), Some("UTC")));
    assert_eq!((options.delimiter, options.culture), (None, None));
}

#[test]
fn select_builds_the_expected_ast() {
    let s = rt("Select Server, COUNT(*) From Licenses Where Kind = 'permanent' \
                Group By Server Order By count(*) Desc, server Limit 3;");
    let mut expected = Select::star("licenses");
    expected.items = vec![
        SelectItem::Expr { expr: Expr::column("server"), alias: None },
        SelectItem::Expr { expr: Expr::Agg(Aggregate::Count, None, false), alias: None },
    ];
    expected.filter = Some(col("kind", CompareOp::Eq, Literal::Text("permanent".into())));
    expected.group_by = vec![Expr::column("server")];
    expected.order_by = vec![
        OrderItem { expr: Expr::Agg(Aggregate::Count, None, false), descending: true },
        OrderItem { expr: Expr::column("server"), descending: false },
    ];
    expected.limit = Some(3);
    assert_eq!(s, Statement::Select(expected));
}

#[test]
fn joins_aliases_aggregates_and_time_arithmetic_build_the_expected_ast() {
    let s = rt("select distinct l.computer as pc, count(distinct k.id) n from licenses l \
                left outer join keypacks as k on k.id = l.keypack \
                where l.expires < now() + 7 days and l.id between 1 and 10 + 2 * 3 \
                and l.hwid in (select hwid from devices) \
                group by l.computer having count(*) > 1 order by 2 desc, pc limit 5 offset 10");
    let Statement::Select(s) = s else { panic!("not a select") };
    assert!(s.distinct);
    assert_eq!(s.from, TableRef { table: "licenses".into(), alias: Some("l".into()) });
    assert_eq!(s.joins.len(), 1);
    assert!(s.joins[0].left);
    assert_eq!(s.joins[0].table.alias.as_deref(), Some("k"));
    assert_eq!(
        s.items[1],
        SelectItem::Expr {
            expr: Expr::Agg(Aggregate::Count, Some(Box::new(Expr::Column(Some("k".into()), "id".into()))), true),
            alias: Some("n".into())
        }
    );
    let Some(Expr::And(rest, _in_select)) = &s.filter else { panic!("not an AND") };
    let Expr::And(expiry, between) = &**rest else { panic!("not an AND") };
    let week = Expr::Arith(Box::new(Expr::Now), ArithOp::Add, Box::new(Expr::Interval(7, TimeUnit::Days)));
    assert_eq!(**expiry, Expr::compare(Expr::Column(Some("l".into()), "expires".into()), CompareOp::Lt, week));
    let Expr::Between(_, _, hi, false) = &**between else { panic!("not a BETWEEN") };
    assert_eq!(hi.to_string(), "10 + 2 * 3");
    assert_eq!((s.limit, s.offset), (Some(5), Some(10)));
    assert_eq!(s.order_by[0].expr, Expr::Lit(Literal::Int(2)));
    assert!(s.having.is_some());
}

#[test]
fn unsupported_sql_is_named_not_reported_as_a_typo() {
    let cases = [
        ("SELECT * FROM licenses l JOIN keypacks k USING (id)", "JOIN ... USING is not supported"),
        ("SELECT * FROM licenses RIGHT JOIN keypacks k ON k.id = keypack", "RIGHT JOIN is not supported"),
        ("SELECT * FROM licenses FULL JOIN keypacks k ON k.id = keypack", "FULL JOIN is not supported"),
        ("SELECT * FROM licenses, keypacks", "joins written with ',' are not supported"),
        ("SELECT id, row_number() OVER (ORDER BY id) FROM licenses", "function 'row_number' is not supported"),
        ("SELECT id, count(*) OVER (PARTITION BY server) FROM licenses", "window functions are not supported"),
        ("SELECT id FROM licenses UNION SELECT id FROM keypacks", "UNION is not supported"),
        ("SELECT * FROM (SELECT id FROM licenses)", "a subquery in FROM is not supported"),
        ("SELECT id FROM licenses WHERE id = (SELECT 1 FROM keypacks)", "a subquery is supported only in IN"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH (common table expressions) is not supported"),
        ("SELECT CASE WHEN id = 1 THEN 2 END FROM licenses", "CASE is not supported"),
        ("SELECT upper(computer) FROM licenses", "function 'upper' is not supported"),
    ];
    for (text, want) in cases {
        match parse_statement(text) {
            Err(e) => assert!(e.to_string().contains(want), "{text}: {e}"),
            Ok(s) => panic!("{text} parsed as {s:?}"),
        }
    }
}

#[test]
fn conditions_follow_not_and_or_precedence() {
    let Statement::RevokeLicenses { filter } = rt("REVOKE LICENSES WHERE a = 1 OR NOT b <> -2 AND c IS NOT NULL")
    else {
        panic!("not a revoke");
    };
    let a = col("a", CompareOp::Eq, Literal::Int(1));
    let b = col("b", CompareOp::Ne, Literal::Int(-2));
    let c = Expr::IsNull(Box::new(Expr::column("c")), true);
    let expected = Expr::Or(Box::new(a), Box::new(Expr::And(Box::new(Expr::Not(Box::new(b))), Box::new(c))));
    assert_eq!(filter, expected);
    let Statement::Select(sel) = rt("SELECT * FROM t WHERE (a = 1 OR b = 2) AND x NOT IN (TRUE, NULL, 'x')") else {
        panic!("not a select");
    };
    let Some(Expr::And(l, r)) = sel.filter else { panic!("not an AND") };
    assert!(matches!(*l, Expr::Or(..)));
    let values = [Literal::Bool(true), Literal::Null, Literal::Text("x".into())];
    assert_eq!(*r, Expr::In(Box::new(Expr::column("x")), values.into_iter().map(Expr::Lit).collect(), true));
    let printed = Statement::RevokeLicenses {
        filter: Expr::And(
            Box::new(col("a", CompareOp::Eq, Literal::Int(1))),
            Box::new(Expr::Or(
                Box::new(col("b", CompareOp::Lt, Literal::Int(2))),
                Box::new(col("c", CompareOp::Ge, Literal::Int(3))),
            )),
        ),
    }
    .to_string();
    assert_eq!(printed, "REVOKE LICENSES WHERE a = 1 AND (b < 2 OR c >= 3)");
}

#[test]
fn printing_is_canonical() {
    let cases = [
        ("create server 'LS 1' product ws2019", "CREATE SERVER 'LS 1' PRODUCT WS2019"),
        (
            "create device Store hwid '00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff';",
            "CREATE DEVICE 'Store' HWID '00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF'",
        ),
        ("set clock '2026-03-01'", "SET CLOCK '2026-03-01 00:00:00'"),
        ("connect pc1 as 'o''brien' to farm f", "CONNECT pc1 AS 'o''brien' TO FARM f"),
        ("advance 1 day", "ADVANCE 1 DAYS"),
        (
            "select a from t where not (a = 1 or b = 2) order by a asc",
            "SELECT a FROM t WHERE NOT (a = 1 OR b = 2) ORDER BY a",
        ),
    ];
    for (text, canonical) in cases {
        assert_eq!(rt(text).to_string(), canonical);
    }
}

/// Asserts that `text` fails with `message` at byte `offset`, `line`, `column`.
fn err(text: &str, message: &str, offset: usize, line: usize, column: usize) {
    match parse_statement(text) {
        Err(Error::Parse { message: m, offset: o, line: l, column: c }) => {
            assert_eq!((m.as_str(), o, l, c), (message, offset, line, column), "for {text:?}")
        }
        other => panic!("{text:?} gave {other:?}"),
    }
}

#[test]
fn malformed_statements_give_precise_errors() {
    err("SELEKT * FROM x", "expected a statement, found 'SELEKT' (did you mean SELECT?)", 0, 1, 1);
    err("SELECT a, b WHERE x = 1", "expected FROM after the column list, found 'WHERE'", 12, 1, 13);
    err("CREATE SERVER s PRODUCT WS2001", "unknown product 'WS2001'", 24, 1, 25);
    err("CREATE DEVICE d HWID 'abc'", "expected 40 hexadecimal digits for HWID, found 'abc'", 21, 1, 22);
    err("SET CLOCK '2026-01-01", "unterminated quoted text", 10, 1, 11);
    err("CHECK foo", "unexpected text after the statement: 'foo'", 6, 1, 7);
    err("CHECK; foo", "unexpected text after the statement: 'foo'", 7, 1, 8);
    err("", "empty statement", 0, 1, 1);
    err("IMPORT USERS FROM 'a' INTO SERVER s CULTURE 'x' CULTURE 'y'", "CULTURE is given twice", 48, 1, 49);
    err(
        "IMPORT LICENSES FROM 'a' INTO SERVER s TIMEZONE utc",
        "expected a value after TIMEZONE in quotes, found 'utc'",
        48,
        1,
        49,
    );
    err("  -- nothing\n", "empty statement", 0, 1, 1);
    err("UNINSTALL KEYPACK 99999999999999999999", "number too large: '99999999999999999999'", 18, 1, 19);
    err(
        "INSTALL KEYPACK ON s PRODUCT WS2022 CAL USER COUNT 0",
        "expected a count of at least 1 after COUNT, found '0'",
        51,
        1,
        52,
    );
    err(
        "INSTALL KEYPACK ON s PRODUCT WS2022 CAL USER COUNT 5 TYPE TEMPORARY",
        "cannot install TYPE TEMPORARY: only the license server makes temporary key packs",
        58,
        1,
        59,
    );
    err("CREATE HOST h MODE USER MODE DEVICE", "duplicate MODE clause", 24, 1, 25);
    err(
        "CREATE SERVER s PRODCT WS2019",
        "expected PRODUCT, SCOPE or the end of the statement, found 'PRODCT'",
        16,
        1,
        17,
    );
    err("CREATE DEVICE ''", "expected a device name, found an empty name", 14, 1, 15);
    err(
        "SELECT * FROM t\n  WHERE é = 'x' AND b ~ 2",
        "expected =, !=, <, <=, >, >=, IS, IN, LIKE, BETWEEN or + - * / % after 'b', found '~'",
        39,
        2,
        23,
    );
    err(
        "SELECT * FROM t WHERE a = 1 AND",
        "expected a value, a column or an expression, found the end of the statement",
        31,
        1,
        32,
    );
    err("SET SERVER s SECURITY GROUP (a b)", "expected ',' or ')' in the list of hosts, found 'b'", 31, 1, 32);
    err(
        "SET CLOCK '2026-13-01'",
        "expected a time 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS', found '2026-13-01'",
        10,
        1,
        11,
    );
    err("ADVANCE 3 WEEKS", "expected DAYS, HOURS, MINUTES or SECONDS after the number, found 'WEEKS'", 10, 1, 11);
    err("CONNECT pc AS u TO", "expected a host name or FARM, found the end of the statement", 18, 1, 19);
    let long = format!("CREATE DEVICE {}", "a".repeat(256));
    let Err(Error::Parse { message, offset, .. }) = parse_statement(&long) else { panic!("accepted") };
    assert!(message.starts_with("name longer than 255 characters"), "{message}");
    assert_eq!(offset, 14);
    assert!(parse_statement(&format!("CREATE DEVICE {}", "é".repeat(255))).is_ok());
}

#[test]
fn deep_or_long_conditions_are_errors_not_crashes() {
    let deep = format!("SELECT * FROM t WHERE {}a = 1{}", "(".repeat(100_000), ")".repeat(100_000));
    let Err(e) = parse_statement(&deep) else { panic!("accepted") };
    assert!(e.message().contains("nested too deeply"), "{e}");
    let deep = format!("SELECT * FROM t WHERE {}a = 1", "NOT ".repeat(100_000));
    let Err(e) = parse_statement(&deep) else { panic!("accepted") };
    assert!(e.message().contains("nested too deeply"), "{e}");
    let long = format!("SELECT * FROM t WHERE a = 1{}", " OR a = 1".repeat(100_000));
    assert!(parse_statement(&long).is_err());
    let ok = format!("SELECT * FROM t WHERE {}a = 1{}", "(".repeat(60), ")".repeat(60));
    rt(&ok);
}

#[test]
fn scripts_split_at_semicolons_outside_quotes_and_comments() {
    let script = "a; -- x;\n b 'c;'';' ;;  \n\n SET CLOCK 'd";
    let parts = split_statements(script);
    let texts: Vec<_> = parts.iter().map(|p| (p.text, p.offset, p.line, p.terminated)).collect();
    assert_eq!(
        texts,
        vec![("a", 0, 1, true), (" -- x;\n b 'c;'';' ", 2, 2, true), ("  \n\n SET CLOCK 'd", 22, 4, false)]
    );
    for p in &parts {
        assert_eq!(&script[p.offset..p.offset + p.text.len()], p.text);
    }
    let Err(e) = parse_statement(parts[2].text) else { panic!("accepted") };
    assert_eq!(e.message(), "unterminated quoted text");
    assert!(split_statements(" ;; -- c\n ; ").is_empty());
    assert_eq!(split_statements("CHECK").len(), 1);
    assert_eq!(parse_statement(split_statements("SELECT * FROM t;").remove(0).text), Ok(rt("SELECT * FROM t")));
}

#[test]
fn show_clock_and_the_restore_form_build_the_expected_ast() {
    assert_eq!(rt("SHOW CLOCK"), Statement::ShowClock);
    assert_eq!(
        rt("INSERT INTO caldb_store VALUES('t', X'0A1b', NULL, -5, TRUE)"),
        Statement::InsertRow {
            table: "caldb_store".into(),
            values: vec![
                SqlValue::Text("t".into()),
                SqlValue::Blob(vec![0x0a, 0x1b]),
                SqlValue::Null,
                SqlValue::Int(-5),
                SqlValue::Bool(true),
            ],
        }
    );
    assert_eq!(rt("insert into t values(X'0A')").to_string(), "INSERT INTO t VALUES(X'0A')");
    assert_eq!(
        rt("create table t(a text, b integer)"),
        Statement::CreateTable {
            table: "t".into(),
            columns: vec![("a".into(), "TEXT".into()), ("b".into(), "INTEGER".into())]
        }
    );
    let Err(e) = parse_statement("INSERT INTO t VALUES(X'0A1')") else { panic!("odd blob accepted") };
    assert_eq!(e.message(), "a blob holds pairs of hexadecimal digits, not '0A1'");
    let Err(e) = parse_statement("SHOW CLOCKS") else { panic!("accepted") };
    assert!(e.message().contains("CLOCK"), "{}", e.message());
}

#[test]
fn block_comments_and_a_byte_order_mark_are_blanks() {
    assert_eq!(rt("/* a; b */ SHOW /* c */ CLOCK /**/"), Statement::ShowClock);
    assert_eq!(rt("\u{feff}SHOW CLOCK"), Statement::ShowClock);
    let parts = split_statements("/* x;\n y; */ CHECK; /*/ ; */ REPAIR");
    let texts: Vec<_> = parts.iter().map(|p| (p.text.trim(), p.terminated)).collect();
    assert_eq!(texts, vec![("/* x;\n y; */ CHECK", true), ("/*/ ; */ REPAIR", false)]);
    assert!(!is_complete("/* unterminated; CHECK;"), "an open comment keeps the statement open");
    assert!(parse_statement("/* unterminated CHECK").is_err());
}

#[test]
fn completeness_for_the_interactive_shell() {
    assert!(is_complete("CHECK;"));
    assert!(is_complete("CHECK; -- done\n  "));
    assert!(is_complete("CHECK; REPAIR;"));
    assert!(!is_complete("CHECK; REPAIR"));
    assert!(!is_complete("SELECT * FROM t WHERE a = 'x;"));
    assert!(!is_complete("SELECT * FROM t -- ;"));
    assert!(!is_complete(""));
    assert!(!is_complete(";"));
    assert!(!is_complete("  -- c\n"));
}

#[test]
fn huge_inputs_are_handled_quickly() {
    let started = std::time::Instant::now();
    let blanks = format!("{}CHECK{}", " \n-- c\n".repeat(200_000), " ".repeat(200_000));
    assert_eq!(parse_statement(&blanks), Ok(Statement::Check));
    assert_eq!(split_statements(&blanks).len(), 1);
    let word = format!("CREATE DEVICE {}", "x".repeat(2_000_000));
    assert!(parse_statement(&word).is_err());
    let quote = format!("CREATE DEVICE pc HWID '{}", "y".repeat(2_000_000));
    assert_eq!(parse_statement(&quote).map_err(|e| e.message().to_string()), Err("unterminated quoted text".into()));
    let list = format!("SELECT * FROM t WHERE a IN ({}1)", "1, ".repeat(100_000));
    assert!(parse_statement(&list).is_ok());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
