//! The README's audit walkthrough ("Auditing a real license server") on
//! the bundled sample export, run with the wall clock a year and five
//! years ahead of today: the import sets the audit database's clock to the
//! instant the export describes (issue 15 item 6), so every report shows
//! what was true then, however late it runs. The statements are read from
//! the README itself, so the test and the text cannot drift apart. One
//! test in its own binary: the wall clock is moved for the whole process.

use caldb::{Database, Value};
use std::path::Path;

/// The `sql` block of the README's audit section, the sample's paths in
/// place of the administrator's files.
fn walkthrough() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let section = readme.split("### Auditing a real license server").nth(1).expect("the audit section");
    let block = section.split("```sql\n").nth(1).and_then(|b| b.split("```").next()).expect("its sql block");
    let data = root.join("tests/data");
    let sample = |name: &str| data.join(name).display().to_string();
    block
        .lines()
        .map(|l| l.split("--").next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.replace("'keypacks.csv'", &format!("'{}'", sample("server1_keypacks.csv")))
                .replace("'licenses.csv'", &format!("'{}'", sample("server1_issued_licenses.csv")))
        })
        .collect()
}

#[test]
fn the_readme_audit_walkthrough_shows_the_sample_as_exported_a_year_and_five_years_later() {
    let statements = walkthrough();
    assert!(statements.iter().any(|s| s.starts_with("IMPORT LICENSES")), "{statements:?}");
    for years in [1, 5] {
        caldb::clock::set_wall_offset(years * 365 * 86_400);
        let mut db = Database::open_in_memory().expect("db");
        let mut reports = 0;
        for stmt in &statements {
            let rs = db.execute(stmt).unwrap_or_else(|e| panic!("{stmt}: {e}"));
            if stmt.starts_with("REPORT") {
                let rows = rs.map(|r| r.rows).unwrap_or_default();
                assert!(!rows.is_empty(), "{years} years on, {stmt} shows nothing");
                reports += 1;
            }
        }
        assert!(reports >= 3, "the walkthrough's reports: {statements:?}");
        // The clock stands at the export's newest time, not the wall's.
        let clock = db.execute("SHOW CLOCK").expect("SHOW CLOCK").expect("a row");
        let Value::Time(now) = clock.rows[0][0] else { panic!("SHOW CLOCK: {clock:?}") };
        assert!(now.to_string().starts_with("2026-"), "{years} years on the clock is {now}");
    }
    caldb::clock::set_wall_offset(0);
}
