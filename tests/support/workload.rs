//! A deterministic workload: a seeded generator of scripts (servers, key
//! packs, hosts, devices, CONNECTs, ADVANCEs, clones, revokes, sessions,
//! BEGIN ... COMMIT blocks) and the reference model that maps a committed
//! history count back to the script prefix that produced it. `SET CLOCK`
//! and `SET SEED` come first, so a prefix always dumps to the same text.

#![allow(dead_code)]

use caldb::{Database, Value};

/// The engine's own seeded generator, with the draws a workload needs: the
/// same seed, the same numbers.
#[derive(Clone, Debug)]
pub struct Rng(caldb::clock::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(caldb::clock::Rng::seeded(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The script's fixed opening: the clock, the seed and a small deployment.
fn opening(seed: u64) -> Vec<String> {
    [
        "SET CLOCK '2026-01-05 09:00:00'".to_string(),
        format!("SET SEED {seed}"),
        "CREATE SERVER ls1 PRODUCT WS2022".into(),
        "ACTIVATE SERVER ls1".into(),
        "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 30".into(),
        "CREATE SERVER ls2 PRODUCT WS2025".into(),
        "ACTIVATE SERVER ls2".into(),
        "INSTALL KEYPACK ON ls2 PRODUCT WS2025 CAL DEVICE COUNT 20 TYPE VOLUME".into(),
        "INSTALL KEYPACK ON ls2 PRODUCT WS2019 CAL USER COUNT 10".into(),
        "CREATE HOST h1 PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls1, ls2)".into(),
        "CREATE HOST h2 PRODUCT WS2019 MODE DEVICE LICENSE SERVERS (ls2) FARM f1".into(),
        "CREATE HOST h3 PRODUCT WS2019 MODE USER FARM f1".into(),
        "CREATE DEVICE d0".into(),
    ]
    .into()
}

/// `n` statements (without `;`), the same for the same seed. A few of them
/// fail on purpose (revoking a license that is not revocable, a session that
/// does not exist): failures must leave no trace.
pub fn workload(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut out = opening(seed);
    let mut devices = 1u64;
    let mut in_block = 0;
    while out.len() < n {
        let roll = rng.below(100);
        let stmt = match roll {
            0..=14 => {
                devices += 1;
                format!("CREATE DEVICE d{}", devices - 1)
            }
            15..=49 => {
                let host = *rng.pick(&["TO h1", "TO h1", "TO h2", "TO h3", "TO FARM f1"]);
                let failed = if rng.chance(6) { " LOGON FAILED" } else { "" };
                format!("CONNECT {} AS u{} {host}{failed}", pick_device(&mut rng, devices), rng.below(12))
            }
            50..=57 => {
                let (unit, most) = *rng.pick(&[("DAYS", 6), ("HOURS", 30), ("HOURS", 30), ("MINUTES", 90)]);
                format!("ADVANCE {} {unit}", rng.range(1, most))
            }
            58..=62 => {
                devices += 1;
                let store = if rng.chance(50) { " WITH STORE" } else { "" };
                format!("CLONE DEVICE {} AS d{}{store}", pick_device(&mut rng, devices), devices - 1)
            }
            63..=68 => format!("REVOKE LICENSE {}", rng.range(1, devices + 4)),
            69..=71 => {
                let what = *rng.pick(&["REIMAGE DEVICE {}", "CLEAR DEVICE {} STORE", "CLEAR DEVICE {} LICENSING"]);
                what.replace("{}", &pick_device(&mut rng, devices))
            }
            72..=74 => {
                let server = rng.pick(&["ls1", "ls2"]);
                let state = rng.pick(&["ONLINE", "ONLINE", "OFFLINE"]);
                format!("SET SERVER {server} {state}")
            }
            75..=79 => {
                let what = rng.pick(&["DISCONNECT", "LOGOFF"]);
                format!("{what} SESSION {}", rng.range(1, devices + 3))
            }
            80..=83 if in_block == 0 => {
                in_block = rng.range(2, 4);
                "BEGIN".into()
            }
            84..=85 => {
                let (server, product) = *rng.pick(&[("ls1", "WS2022"), ("ls2", "WS2025"), ("ls2", "WS2022")]);
                format!("INSTALL KEYPACK ON {server} PRODUCT {product} CAL DEVICE COUNT {}", rng.range(1, 8))
            }
            86 if rng.chance(30) => "REBUILD SERVER ls1 REINSTALL KEYPACKS".into(),
            87..=88 => {
                let host = rng.pick(&["h1", "h2"]);
                let mode = rng.pick(&["DEVICE", "DEVICE", "USER"]);
                format!("SET HOST {host} MODE {mode}")
            }
            89..=90 => {
                let group = rng.pick(&["SECURITY GROUP (h1)", "SECURITY GROUP OFF", "SECURITY GROUP (h1, h2)"]);
                format!("SET SERVER ls2 {group}")
            }
            91..=93 => {
                devices += 1;
                format!("CREATE DEVICE d{} HWID '{:040X}'", devices - 1, rng.next_u64())
            }
            _ => format!("CONNECT {} AS u{} TO h1", pick_device(&mut rng, devices), rng.below(12)),
        };
        out.push(stmt);
        if in_block > 0 && out.last().map(String::as_str) != Some("BEGIN") {
            in_block -= 1;
            if in_block == 0 {
                out.push(if rng.chance(85) { "COMMIT".into() } else { "ROLLBACK".into() });
            }
        }
    }
    if in_block > 0 {
        out.push("COMMIT".into());
    }
    out
}

fn pick_device(rng: &mut Rng, devices: u64) -> String {
    format!("d{}", rng.below(devices))
}

/// The script text the binary reads: one statement a line.
pub fn script_text(statements: &[String]) -> String {
    statements.iter().map(|s| format!("{s};\n")).collect()
}

/// The single integer a `SELECT COUNT(*)` (or any one-value query) returns.
pub fn count(db: &mut Database, query: &str) -> i64 {
    let rs = db.execute(query).unwrap_or_else(|e| panic!("{query}: {e}")).expect("a result set");
    match rs.rows.first().and_then(|r| r.first()) {
        Some(Value::Int(n)) => *n,
        other => panic!("{query}: expected one integer, got {other:?}"),
    }
}

/// The rows `CHECK` reports, rendered; empty when the database is sound.
pub fn check_problems(db: &mut Database) -> Vec<String> {
    let rs = db.execute("CHECK").expect("CHECK runs").expect("CHECK returns rows");
    rs.rows.iter().map(|r| r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ")).collect()
}

/// The clean run of a script, statement by statement, in memory: the
/// history count after each prefix, and which prefixes end outside a
/// BEGIN block (the only places a crash can leave the database).
pub struct Reference {
    pub statements: Vec<String>,
    /// `history[p]`: the history count after the first `p` statements.
    pub history: Vec<i64>,
    /// `boundary[p]`: no BEGIN block is open after the first `p` statements.
    pub boundary: Vec<bool>,
    /// How many statements succeeded.
    pub successes: usize,
    dumps: std::cell::RefCell<std::collections::HashMap<usize, String>>,
}

impl Reference {
    pub fn new(statements: &[String]) -> Reference {
        let mut db = Database::open_in_memory().expect("in-memory database");
        let mut history = vec![0];
        let mut boundary = vec![true];
        let mut successes = 0;
        for s in statements {
            if db.execute(s).is_ok() {
                successes += 1;
            }
            boundary.push(!db.in_transaction());
            history.push(if db.in_transaction() { -1 } else { count(&mut db, "SELECT COUNT(*) FROM history") });
        }
        Reference { statements: statements.to_vec(), history, boundary, successes, dumps: Default::default() }
    }

    /// The shortest prefix whose clean run has `count` history rows.
    pub fn prefix_for(&self, count: i64) -> Option<usize> {
        (0..self.history.len()).find(|&p| self.boundary[p] && self.history[p] == count)
    }

    /// The dump of a clean in-memory run of the first `p` statements.
    pub fn dump_of_prefix(&self, p: usize) -> String {
        if let Some(d) = self.dumps.borrow().get(&p) {
            return d.clone();
        }
        let mut db = Database::open_in_memory().expect("in-memory database");
        for s in &self.statements[..p] {
            let _ = db.execute(s);
        }
        assert!(!db.in_transaction(), "prefix {p} ends inside a BEGIN block");
        let dump = db.dump().expect("dump");
        self.dumps.borrow_mut().insert(p, dump.clone());
        dump
    }

    /// Dumps every boundary prefix in one clean run (cheaper than a replay
    /// per prefix when many are needed).
    pub fn dump_every_prefix(&self) {
        let mut db = Database::open_in_memory().expect("in-memory database");
        let mut dumps = self.dumps.borrow_mut();
        dumps.insert(0, db.dump().expect("dump"));
        for (i, s) in self.statements.iter().enumerate() {
            let _ = db.execute(s);
            if self.boundary[i + 1] && self.prefix_for(self.history[i + 1]) == Some(i + 1) {
                dumps.insert(i + 1, db.dump().expect("dump"));
            }
        }
    }

    /// The total history count of the whole script.
    pub fn final_count(&self) -> i64 {
        *self.history.last().expect("at least the empty prefix")
    }
}

/// Asserts that `db` holds exactly a committed prefix of the reference:
/// CHECK clean, and the dump equal to a clean run of the prefix with the
/// same history count. Returns that history count.
pub fn assert_committed_prefix(db: &mut Database, reference: &Reference, what: &str) -> i64 {
    let dump = db.dump().unwrap_or_else(|e| panic!("{what}: dump fails: {e}"));
    let history = count(db, "SELECT COUNT(*) FROM history");
    let prefix = reference
        .prefix_for(history)
        .unwrap_or_else(|| panic!("{what}: {history} history rows match no prefix of the script"));
    let expected = reference.dump_of_prefix(prefix);
    if dump != expected {
        let diff: Vec<String> = dump
            .lines()
            .zip(expected.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("  got:      {a}\n  expected: {b}"))
            .collect();
        panic!("{what}: dump differs from a clean run of the first {prefix} statements:\n{}", diff.join("\n"));
    }
    let problems = check_problems(db);
    assert!(problems.is_empty(), "{what}: CHECK finds problems: {problems:?}");
    history
}
