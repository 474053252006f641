//! What the upgrade tests expect of a carried-over file's `.dump`.

/// The first line of a format-2 or format-3 dump as this caldb writes it:
/// one key pack and one license counter became each server's (they start
/// where the one counter stood).
pub fn counters_now(old_dump: &str) -> String {
    let first = old_dump.lines().next().expect("a dump");
    let field = |name: &str| -> String {
        let at = first.find(&format!("{name} ")).expect(name) + name.len() + 1;
        first[at..].split(',').next().expect(name).to_string()
    };
    let head = &first[..first.find(", next keypack").expect("the counters")];
    let servers = old_dump.lines().filter(|l| l.starts_with("INSERT INTO servers ")).count();
    let ids = format!("{}/{}", field("next keypack"), field("license"));
    format!(
        "{head}, next session {}, event {}, history {}, per server (keypack/license) {}",
        field("session"),
        field("event"),
        field("history"),
        vec![ids; servers].join(" ")
    )
}

/// The rows of the query tables in a `.dump`, sorted: per-server numbers
/// and folded names reorder the keys, and so the rows, of a table.
pub fn sorted_rows(dump: &str) -> Vec<String> {
    let mut rows: Vec<String> = dump
        .lines()
        .filter(|l| l.starts_with("INSERT INTO ") && !l.starts_with("INSERT INTO caldb_store"))
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}
