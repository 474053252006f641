//! P3's device lifecycle, one driver for every engine that runs it
//! (caldb through `Database` or `Shared`, SQLite): `benches/table.rs` and
//! the tests that replay it share it.

use super::generate;

const DAY: i64 = 86_400;

/// The operations of the lifecycle, on caldb or SQLite.
pub trait Engine {
    fn begin(&mut self);
    fn commit(&mut self);
    fn create_device(&mut self, name: &str);
    /// The reason and the expiry of the device's token after it.
    fn connect(&mut self, device: &str, user: &str) -> (String, i64);
    fn set_clock(&mut self, t: i64);
}

/// An engine that takes caldb's statements as text (a `Database`, a
/// `Shared`, a file opened per statement): its lifecycle operations are
/// those statements, written once here.
pub trait Statements {
    /// Runs one statement, which must succeed; its result, if it has one.
    fn statement(&mut self, text: &str) -> Option<caldb::ResultSet>;
}

impl<S: Statements> Engine for S {
    fn begin(&mut self) {
        self.statement("BEGIN");
    }
    fn commit(&mut self) {
        self.statement("COMMIT");
    }
    fn create_device(&mut self, name: &str) {
        self.statement(&format!("CREATE DEVICE {name}"));
    }
    fn connect(&mut self, device: &str, user: &str) -> (String, i64) {
        let rs = self.statement(&format!("CONNECT {device} AS {user} TO h1")).expect("an outcome");
        reason_and_expiry(&rs)
    }
    fn set_clock(&mut self, t: i64) {
        self.statement(&format!("SET CLOCK '{}'", caldb::Time(t)));
    }
}

/// The lifecycles of devices `range`, the clock at `clock` (moved on);
/// the statements they took.
pub fn lifecycles_of(e: &mut dyn Engine, range: std::ops::Range<u64>, clock: &mut i64) -> u64 {
    let mut due: Vec<(i64, u64)> = Vec::with_capacity((range.end - range.start) as usize);
    let mut statements = 0;
    for i in range {
        let (d, u) = (generate::device(i), generate::user(i));
        e.create_device(&d);
        let (r, _) = e.connect(&d, &u);
        assert_eq!(r, "temporary-issued", "{d}");
        let (r, expires) = e.connect(&d, &u);
        assert_eq!(r, "upgraded", "{d}");
        due.push((expires, i));
        statements += 3;
    }
    due.sort_unstable();
    for (expires, i) in due {
        let at = expires - 3 * DAY;
        if at > *clock {
            e.set_clock(at);
            *clock = at;
            statements += 1;
        }
        statements += 1;
        let (r, _) = e.connect(&generate::device(i), &generate::user(i));
        assert_eq!(r, "renewed", "{}", generate::device(i));
    }
    statements
}

/// A CONNECT's reason and its token's expiry.
pub fn reason_and_expiry(rs: &caldb::ResultSet) -> (String, i64) {
    let col = |name: &str| rs.columns.iter().position(|c| c == name).expect("outcome column");
    let reason = rs.rows[0][col("reason")].to_string();
    let expires = match &rs.rows[0][col("expires")] {
        caldb::Value::Time(t) => t.0,
        other => panic!("expires is {other:?}"),
    };
    (reason, expires)
}
