//! A differential test of SELECT: a few hundred generated queries run on
//! caldb and on SQLite (rusqlite, bundled) loaded with the same rows, read
//! from caldb's query tables; the answers must be equal. Queries are built
//! from the SQL both engines share; ORDER BY lists every selected column,
//! so that even with LIMIT the answer is one sequence.
//!
//! Names compare without regard to case in caldb (issue 16 item 3): the
//! SQLite tables declare the name columns `COLLATE NOCASE`, some devices
//! are created in upper case, statements name devices and hosts in either
//! case and the generated conditions compare names with literals in either
//! case. Each stored name has one spelling (a user is always connected as
//! `u<n>`), so a group or a DISTINCT value has one spelling in both
//! engines; the names are letters and digits, which NOCASE (ASCII) and
//! caldb's fold order alike.

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

use caldb::{Database, Value};
use rusqlite::Connection;

/// A fleet built by random connections over simulated weeks, on two
/// servers that each number their key packs and licenses from 1.
fn fleet(rng: &mut Rng) -> Database {
    let mut db = Database::open_in_memory().expect("database");
    let setup = "SET CLOCK '2026-01-05 09:00:00'; SET SEED 3; CREATE SERVER ls1 PRODUCT WS2022; ACTIVATE SERVER ls1;
        INSTALL KEYPACK ON ls1 PRODUCT WS2019 CAL DEVICE COUNT 12; INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 9;
        INSTALL KEYPACK ON ls1 PRODUCT WS2016 CAL DEVICE COUNT 4; INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL USER COUNT 5;
        CREATE HOST rdsh1 PRODUCT WS2019 MODE DEVICE; CREATE HOST rdsh2 PRODUCT WS2022 MODE DEVICE;
        CREATE HOST rdsh3 PRODUCT WS2022 MODE USER; CREATE HOST rdsh4 PRODUCT WS2016 MODE DEVICE;
        CREATE SERVER ls2 PRODUCT WS2022; ACTIVATE SERVER ls2; INSTALL KEYPACK ON ls2 PRODUCT WS2022 CAL DEVICE COUNT 8;
        CREATE HOST rdsh5 PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls2)";
    for s in setup.split(';') {
        db.execute(s.trim()).expect(s);
    }
    for d in 1..=30 {
        let name = if d % 3 == 0 { format!("PC{d}") } else { format!("pc{d}") };
        db.execute(&format!("CREATE DEVICE {name}")).expect("device");
    }
    for _ in 0..160 {
        let text = match rng.below(10) {
            0 => format!("ADVANCE {} HOURS", 1 + rng.below(100)),
            1 => format!("REVOKE LICENSE {} ON {}{}", 1 + rng.below(40), rng.pick(&["ls", "LS"]), 1 + rng.below(2)),
            _ => format!(
                "CONNECT {}{} AS u{} TO {}{}",
                pc(rng),
                1 + rng.below(30),
                1 + rng.below(12),
                rng.pick(&["rdsh", "RDSH", "RdSh"]),
                1 + rng.below(5)
            ),
        };
        // Refusals (no CAL left, revoke limits) are part of the story.
        let _ = db.execute(&text);
    }
    db
}

/// `pc` or `PC`: a device named in either case.
fn pc(rng: &mut Rng) -> &'static str {
    rng.pick(&["pc", "PC"])
}

const TABLES: &[&str] = &["licenses", "keypacks", "devices", "tokens", "hosts", "sessions", "servers"];

/// Copies caldb's query tables into SQLite: times as their text (which
/// sorts as the times do), booleans as 0 and 1.
fn load(db: &mut Database) -> Connection {
    let sqlite = Connection::open_in_memory().expect("sqlite");
    for t in TABLES {
        let rs = db.execute(&format!("SELECT * FROM {t}")).expect("select").expect("rows");
        // A column of names compares in SQLite as in caldb: NOCASE.
        let is_name = |i: usize| rs.rows.iter().any(|r| matches!(r[i], Value::Name(_)));
        let collation = |i: usize| if is_name(i) { " COLLATE NOCASE" } else { "" };
        let cols: Vec<String> =
            rs.columns.iter().enumerate().map(|(i, c)| format!("\"{c}\"{}", collation(i))).collect();
        sqlite.execute(&format!("CREATE TABLE {t} ({})", cols.join(", ")), []).expect("create");
        let marks = vec!["?"; cols.len()].join(", ");
        let mut insert = sqlite.prepare(&format!("INSERT INTO {t} VALUES ({marks})")).expect("prepare");
        for row in &rs.rows {
            let values: Vec<rusqlite::types::Value> = row.iter().map(to_sqlite).collect();
            insert.execute(rusqlite::params_from_iter(values)).expect("insert");
        }
    }
    sqlite
}

fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Int(i) => S::Integer(*i),
        Value::Bool(b) => S::Integer(i64::from(*b)),
        Value::Text(t) | Value::Name(t) => S::Text(t.clone()),
        Value::Time(t) => S::Text(t.to_string()),
    }
}

/// An answer as text cells, the same for both engines.
fn caldb_cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => i64::from(*b).to_string(),
        v => v.to_string(),
    }
}

fn sqlite_rows(sqlite: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = sqlite.prepare(sql).unwrap_or_else(|e| panic!("sqlite rejects {sql}: {e}"));
    let n = stmt.column_count();
    let rows = stmt.query_map([], |row| {
        (0..n)
            .map(|i| {
                Ok(match row.get::<_, rusqlite::types::Value>(i)? {
                    rusqlite::types::Value::Null => "NULL".to_string(),
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Real(r) => format!("{r}"),
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Blob(_) => "blob".into(),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()
    });
    rows.expect("query").collect::<rusqlite::Result<_>>().expect("rows")
}

/// A condition on licenses (alias `l` when `q` is "l.").
fn license_cond(rng: &mut Rng, q: &str, depth: usize) -> String {
    if depth < 2 && rng.below(3) == 0 {
        let a = license_cond(rng, q, depth + 1);
        let b = license_cond(rng, q, depth + 1);
        return match rng.below(3) {
            0 => format!("({a} AND {b})"),
            1 => format!("({a} OR {b})"),
            _ => format!("NOT ({a})"),
        };
    }
    let ops = ["=", "<>", "<", "<=", ">", ">="];
    let n = rng.below(45);
    match rng.below(14) {
        0 => format!("{q}id {} {n}", rng.pick(&ops)),
        1 => format!("{q}keypack {} {}", rng.pick(&ops), rng.below(6)),
        2 => format!("{q}kind = '{}'", rng.pick(&["permanent", "temporary", "permanent"])),
        3 => format!("{q}status IN ('active', '{}')", rng.pick(&["upgraded", "revoked", "expired"])),
        4 => format!("{q}computer LIKE '{}{}%'", pc(rng), rng.below(4)),
        5 => format!("{q}expires {} '2026-0{}-1{} 09:00:00'", rng.pick(&ops), 2 + rng.below(3), rng.below(10)),
        6 => format!("{q}id BETWEEN {} AND {}", rng.below(20), rng.below(45)),
        7 => format!("{q}revoked IS {}NULL", rng.pick(&["", "NOT "])),
        8 => format!("{q}validated = {}", rng.pick(&["TRUE", "FALSE"])),
        9 => format!("({q}id * {} + {}) % {} = 0", 1 + rng.below(3), rng.below(5), 2 + rng.below(3)),
        11 => format!("{q}revoked {} '2026-0{}-0{} 00:00:00'", rng.pick(&ops), 1 + rng.below(2), 1 + rng.below(9)),
        10 => format!("{q}hwid IN (SELECT hwid FROM devices WHERE name < '{}{}')", pc(rng), 1 + rng.below(30)),
        12 => format!("{q}computer IN ('{}{}', 'pc{}')", pc(rng), rng.below(30), rng.below(30)),
        _ => format!("{q}user {} '{}{}'", rng.pick(&ops), rng.pick(&["u", "U"]), rng.below(12)),
    }
}

fn order_and_limit(rng: &mut Rng, columns: usize) -> String {
    if rng.below(2) == 0 {
        return String::new();
    }
    let dir = ["", " DESC"];
    let keys: Vec<String> = (1..=columns).map(|c| format!("{c}{}", dir[rng.below(2)])).collect();
    let mut text = format!(" ORDER BY {}", keys.join(", "));
    if rng.below(2) == 0 {
        text += &format!(" LIMIT {}", rng.below(12));
        if rng.below(2) == 0 {
            text += &format!(" OFFSET {}", rng.below(15));
        }
    }
    text
}

/// One query, as caldb and as SQLite read it (they differ only in AVG,
/// which caldb rounds), with its number of columns.
fn query(rng: &mut Rng) -> (String, String, bool) {
    let sql = match rng.below(6) {
        0 | 1 => {
            let cols =
                rng.pick(&["id, computer, expires", "id, keypack * 2 - id, user", "id, kind, validated, revoked"]);
            let n = cols.split(',').count();
            format!("SELECT {cols} FROM licenses WHERE {}{}", license_cond(rng, "", 0), order_and_limit(rng, n))
        }
        2 => {
            let join = rng.pick(&["JOIN", "LEFT JOIN"]);
            format!(
                "SELECT l.id, l.computer, k.product, k.total FROM licenses l {join} keypacks k ON k.server = l.server AND k.id = l.keypack \
                 AND k.total > {} WHERE {}{}",
                rng.below(10),
                license_cond(rng, "l.", 0),
                order_and_limit(rng, 4)
            )
        }
        3 => {
            let group = rng.pick(&["computer", "keypack", "kind", "status", "user"]);
            let having = if rng.below(2) == 0 { format!(" HAVING COUNT(*) > {}", rng.below(3)) } else { String::new() };
            format!(
                "SELECT {group}, COUNT(*), COUNT(DISTINCT computer), SUM(keypack), MIN(expires), MAX(id), AVG(id) \
                 FROM licenses WHERE {} GROUP BY {group}{having}{}",
                license_cond(rng, "", 0),
                order_and_limit(rng, 7)
            )
        }
        4 => {
            let col = rng.pick(&["computer", "keypack", "kind", "status", "user", "product"]);
            format!("SELECT DISTINCT {col} FROM licenses WHERE {}{}", license_cond(rng, "", 0), order_and_limit(rng, 1))
        }
        _ => format!(
            "SELECT d.name, t.slot, t.license FROM devices d LEFT JOIN tokens t ON t.device = d.name \
             WHERE d.name {} '{}{}'{}",
            rng.pick(&["<", ">=", "<>", "="]),
            pc(rng),
            rng.below(30),
            order_and_limit(rng, 3)
        ),
    };
    let ordered = sql.contains("ORDER BY");
    let lite = sql.replace("AVG(id)", "CAST(round(AVG(id)) AS INTEGER)");
    (sql, lite, ordered)
}

#[test]
fn generated_selects_answer_as_sqlite_does() {
    let mut rng = Rng(0x5EED_CA1D_B016);
    let mut db = fleet(&mut rng);
    let sqlite = load(&mut db);
    let licenses = sqlite_rows(&sqlite, "SELECT COUNT(*) FROM licenses");
    assert!(licenses[0][0].parse::<u32>().expect("count") > 30, "too few licenses to compare: {licenses:?}");
    let shared = "SELECT COUNT(*) FROM licenses l JOIN licenses m ON m.id = l.id AND m.server <> l.server";
    let shared = sqlite_rows(&sqlite, shared);
    assert!(shared[0][0].parse::<u32>().expect("count") > 0, "no license number on both servers: {shared:?}");
    let mut nonempty = 0;
    for _ in 0..400 {
        let (sql, lite, ordered) = query(&mut rng);
        let rs = db.execute(&sql).unwrap_or_else(|e| panic!("caldb rejects {sql}: {e}")).expect("rows");
        let mut ours: Vec<Vec<String>> = rs.rows.iter().map(|r| r.iter().map(caldb_cell).collect()).collect();
        let mut theirs = sqlite_rows(&sqlite, &lite);
        if !ordered {
            ours.sort();
            theirs.sort();
        }
        assert_eq!(ours, theirs, "answers differ for {sql}");
        nonempty += usize::from(!ours.is_empty());
    }
    assert!(nonempty > 200, "only {nonempty} of 400 queries returned rows");
}
