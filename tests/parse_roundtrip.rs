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
    "SHOW DEVICE pc1",
    "SHOW HOST rdsh1",
    "REPORT USAGE",
    "REPORT DUPLICATES",
    "REPORT USERS",
    "REPORT EXPIRING",
    "REPORT EXPIRING WITHIN 30 DAYS",
    "EXPORT LICENSES TO 'l.csv'",
    "EXPORT KEYPACKS TO 'k.csv'",
    "IMPORT LICENSES FROM 'l.csv' INTO SERVER ls1",
    "IMPORT KEYPACKS FROM 'k.csv' INTO SERVER 'ls 2'",
];

#[test]
fn every_form_parses_and_round_trips() {
    for text in ALL_FORMS {
        rt(text);
    }
}
