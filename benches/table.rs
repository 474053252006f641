//! The performance table of quality.md (P1-P6): each row's caldb figure,
//! its baseline (the disk's raw fdatasync rate, SQLite through rusqlite, or
//! the fixed bound), the ratio and whether the target is met. Every ratio is
//! measured side by side in this one run, on one disk.
//!
//! `cargo bench --bench table` runs the full sizes (1,000,000 devices for
//! P4-P6); `CALDB_BENCH_DEVICES` overrides that, `CALDB_BENCH_DIR` the
//! directory (default: the system temp dir), `CALDB_BENCH_ONLY` (say
//! `p2,p4`) runs only those rows (P4 includes P5 and P6). Without `--bench` (as under
//! `cargo test --all-targets`) it runs tiny sizes as a smoke test. The P4
//! steps each run in a child process of this binary (`--step NAME PATH`),
//! so each one's peak RSS is its own.

#[path = "common/floor.rs"]
mod floor;
#[path = "common/gen.rs"]
mod generate;
#[path = "common/lifecycle.rs"]
mod lifecycle;
#[path = "common/sqlite.rs"]
mod sqlite;
#[path = "common/threads.rs"]
mod threads;

use caldb::{Database, OpenOptions, Time, Value};
use lifecycle::{Engine, Statements, lifecycles_of};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The sizes of one run.
struct Sizes {
    /// Durable statements for P1 (and the fdatasync loop's length).
    durable: u64,
    /// CONNECTs in one BEGIN ... COMMIT for P2.
    batched: u64,
    /// Device lifecycles for P3, durable and batched.
    life_durable: u64,
    life_batched: u64,
    /// Devices of the P4 database.
    big: u64,
    /// CONNECTs of each P1 row from many threads (issue 19).
    threaded: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--step") {
        step(&args[2], Path::new(&args[3]), &args[4..]);
        return;
    }
    let full = args.iter().any(|a| a == "--bench");
    let mut sizes = if full {
        Sizes {
            durable: 300,
            batched: 50_000,
            life_durable: 100,
            life_batched: 20_000,
            big: 1_000_000,
            threaded: 3_000,
        }
    } else {
        Sizes { durable: 5, batched: 200, life_durable: 3, life_batched: 50, big: 500, threaded: 130 }
    };
    if let Some(n) = std::env::var("CALDB_BENCH_DEVICES").ok().and_then(|s| s.parse().ok()) {
        sizes.big = n;
    }
    let base = std::env::var_os("CALDB_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("caldb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let only = std::env::var("CALDB_BENCH_ONLY").unwrap_or_default();
    let run = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim().eq_ignore_ascii_case(part));
    let mut table = Table::default();
    if run("p1") || run("p3") {
        let commit_limit = p1(&dir, &sizes, &mut table);
        if run("p3") {
            p3(&dir, &sizes, commit_limit, &mut table);
            p3_shared(&dir, &sizes, &mut table);
        }
    }
    if run("p1t") {
        p1_threads(&dir, &sizes, &mut table);
    }
    if run("p2") {
        p2(&dir, &sizes, &mut table);
    }
    if run("p4") {
        p4_p6(&dir, &sizes, Build::Import, &mut table);
        p4_p6(&dir, &sizes, Build::Protocol, &mut table);
    } else if run("p8") {
        p8_alone(&dir, sizes.big, &mut table);
    }
    table.print(full, &sizes);
    std::fs::remove_dir_all(&dir).ok();
}

#[derive(Default)]
struct Table {
    rows: Vec<[String; 6]>,
}

impl Table {
    fn row(&mut self, name: &str, caldb: String, baseline: String, ratio: String, target: &str, met: bool) {
        let met = if met { "yes" } else { "NO" };
        self.push([name.into(), caldb, baseline, ratio, target.into(), met.into()]);
    }

    /// A row that measures what redb alone can do: the limit a caldb row
    /// is read against, with no target of its own.
    fn limit(&mut self, name: &str, figure: String, baseline: String, ratio: String) {
        self.push([name.into(), figure, baseline, ratio, "-".into(), "limit".into()]);
    }

    fn push(&mut self, row: [String; 6]) {
        eprintln!("  {}", row.join(" | "));
        self.rows.push(row);
    }

    fn print(&self, full: bool, sizes: &Sizes) {
        let mode = if full { "full" } else { "smoke (tiny sizes: figures mean nothing)" };
        println!("\ncaldb performance table, {mode}; P4-P6 on {} devices\n", sizes.big);
        println!("| row | caldb | baseline | ratio | target | met? |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for r in &self.rows {
            println!("| {} |", r.join(" | "));
        }
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn per_s(r: f64) -> String {
    let n = r.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}/s")
}

fn exec(db: &mut Database, s: &str) -> Option<caldb::ResultSet> {
    db.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The raw rate of the disk: overwrite one 4 KiB block and fdatasync it.
fn fdatasync_rate(dir: &Path, n: u64) -> f64 {
    let path = dir.join("fdatasync.bin");
    let mut f = std::fs::File::create(&path).expect("fdatasync file");
    let block = [7u8; 4096];
    f.write_all(&block).expect("write");
    f.sync_all().expect("sync");
    let t = Instant::now();
    for _ in 0..n {
        use std::os::unix::fs::FileExt;
        f.write_all_at(&block, 0).expect("write");
        f.sync_data().expect("fdatasync");
    }
    let r = rate(n, t.elapsed());
    std::fs::remove_file(&path).ok();
    r
}

/// P1: each CONNECT its own durable transaction, against fdatasync measured
/// before and after (their mean), and against redb's own one-row durable
/// commits measured between them. Returns that commit rate.
fn p1(dir: &Path, s: &Sizes, table: &mut Table) -> f64 {
    let path = dir.join("p1.redb");
    let mut db = generate::deployed(&path, s.durable).expect("a deployed database");
    let before = fdatasync_rate(dir, s.durable);
    let t = Instant::now();
    for i in 0..s.durable {
        exec(&mut db, &format!("CONNECT {} AS {} TO h1", generate::device(i), generate::user(i)));
    }
    let caldb = rate(s.durable, t.elapsed());
    let commits = floor::one_row_commits(dir, s.durable);
    let after = fdatasync_rate(dir, s.durable);
    let sync = (before + after) / 2.0;
    let ratio = caldb / sync;
    let name = format!(
        "P1 durable CONNECTs (each its own transaction) vs raw fdatasync; {} of the limit below",
        pct(caldb / commits)
    );
    table.row(&name, per_s(caldb), format!("{} fdatasync", per_s(sync)), pct(ratio), ">= 50%", ratio >= 0.5);
    table.limit(
        "P1 limit: redb alone, durable commits of one row each (multi-writer mode: 2 fdatasyncs per commit)",
        per_s(commits),
        format!("{} fdatasync", per_s(sync)),
        pct(commits / sync),
    );
    drop(db);
    std::fs::remove_file(&path).ok();
    commits
}

fn pct(r: f64) -> String {
    format!("{:.0}%", r * 100.0)
}

/// Rounds of P2, each on a fresh file, alternating caldb and its limit:
/// this machine's CPU is shared, so one round can land on a busy moment;
/// the row shows the median and the range.
const P2_ROUNDS: usize = 5;

/// P2: CONNECTs inside one BEGIN ... COMMIT, commit included.
fn p2(dir: &Path, s: &Sizes, table: &mut Table) {
    let mut caldb = Vec::new();
    let mut writes = Vec::new();
    let mut least = Vec::new();
    for _ in 0..P2_ROUNDS {
        let path = dir.join("p2.redb");
        let mut db = generate::deployed(&path, s.batched).expect("a deployed database");
        let t = Instant::now();
        exec(&mut db, "BEGIN");
        for i in 0..s.batched {
            exec(&mut db, &format!("CONNECT {} AS {} TO h1", generate::device(i), generate::user(i)));
        }
        exec(&mut db, "COMMIT");
        caldb.push(rate(s.batched, t.elapsed()));
        drop(db);
        std::fs::remove_file(&path).ok();
        writes.push(floor::connect_writes(dir, s.batched));
        least.push(floor::least_connect_work(dir, s.batched, generate::USERS));
    }
    let (caldb, caldb_range) = median_and_range(&mut caldb);
    let (writes, writes_range) = median_and_range(&mut writes);
    let (least, least_range) = median_and_range(&mut least);
    let name = format!(
        "P2 CONNECTs batched in one BEGIN ... COMMIT, median of {P2_ROUNDS} rounds ({caldb_range}); {} of the limit below",
        pct(caldb / writes)
    );
    table.row(
        &name,
        per_s(caldb),
        "100,000/s (bound)".into(),
        format!("{:.2}x", caldb / 1e5),
        ">= 100,000/s",
        caldb >= 1e5,
    );
    let name = format!(
        "P2 limit: caldb's store alone (no parsing, no protocol) replaying the {} writes of a CAL-issuing CONNECT, one transaction, median ({writes_range})",
        floor::writes_per_connect()
    );
    table.limit(&name, per_s(writes), "100,000/s (bound)".into(), format!("{:.2}x", writes / 1e5));
    let name = format!(
        "P2 limit of any store on redb: redb alone, the least B-tree work of P2's CONNECTs (4 lookups, 6 inserts, cheapest key types), median ({least_range}); caldb is {} of it",
        pct(caldb / least)
    );
    table.limit(&name, per_s(least), "100,000/s (bound)".into(), format!("{:.2}x", least / 1e5));
}

/// The median of rates, and their range as text.
fn median_and_range(rates: &mut [f64]) -> (f64, String) {
    rates.sort_by(f64::total_cmp);
    let range = format!("{}-{}", per_s(rates[0]).trim_end_matches("/s"), per_s(rates[rates.len() - 1]));
    (rates[rates.len() / 2], range)
}

/// P1 from 1, 8 and 64 threads (issue 19): caldb through `Shared` against
/// SQLite with as many threads (in alternating blocks), and against the
/// disk's fdatasync rate measured before and after.
fn p1_threads(dir: &Path, s: &Sizes, table: &mut Table) {
    let start = Time::parse(generate::START).expect("start time").0;
    let mut lite_one_thread = f64::NAN;
    for n in threads::THREADS {
        let before = fdatasync_rate(dir, s.durable);
        let r = threads::rates(dir, s.threaded, n, start);
        let (caldb, lite, cpu) = (r.caldb, r.sqlite, r.caldb_cpu);
        if n == 1 {
            lite_one_thread = lite;
        }
        let sync = (before + fdatasync_rate(dir, s.durable)) / 2.0;
        let (vs_lite, vs_sync) = (caldb / lite, caldb / sync);
        let (target, met) = match n {
            1 => (">= 1.0x SQLite", vs_lite >= 1.0),
            8 => (">= 2x SQLite, >= 1x fdatasync", vs_lite >= 2.0 && vs_sync >= 1.0),
            _ => (">= 5x SQLite, >= 5x fdatasync", vs_lite >= 5.0 && vs_sync >= 5.0),
        };
        table.row(
            &format!(
                "P1 durable CONNECTs from {n} thread(s) through Shared (group commit), vs SQLite (WAL, FULL, busy timeout) with {n}, in {} alternating blocks (caldb's {}x SQLite's); caldb's CPU per CONNECT {cpu:.0} us",
                threads::BLOCKS,
                threads::CALDB_SCALE
            ),
            per_s(caldb),
            format!("{} SQLite; {} fdatasync", per_s(lite), per_s(sync)),
            format!("{vs_lite:.2}x SQLite; {vs_sync:.2}x fdatasync"),
            target,
            met,
        );
        // The same CONNECTs' reads and writes on redb alone, through the
        // same group commit from as many threads, in the same blocks: the
        // threads' queueing, hand-offs and wake-ups counted, caldb's
        // statement work not.
        if n > 1 {
            table.limit(
                &format!(
                    "P1 limit: redb alone, a first CONNECT's reads and writes in caldb's 13 tables, from {n} threads through caldb's group commit (groups of {:.1}) in the same blocks; CPU per CONNECT {:.0} us",
                    r.alone_group, r.alone_cpu
                ),
                per_s(r.alone),
                format!("{} fdatasync; caldb {}", per_s(sync), per_s(caldb)),
                format!("{:.2}x fdatasync; caldb {:.2}x of the limit", r.alone / sync, caldb / r.alone),
            );
        }
    }
    // What redb alone costs for the same work, grouped as a group commit
    // gathers it (8 and 64: at most the threads' statements per commit),
    // from one thread: no hand-offs at all.
    let sync = fdatasync_rate(dir, s.durable);
    for group in [1, 8, 64] {
        let (rate, cpu) = floor::grouped_connects(dir, s.threaded * threads::CALDB_SCALE, group);
        table.limit(
            &format!(
                "P1 limit: redb alone, a first CONNECT's reads and writes in caldb's 13 tables, {group} to a durable commit (exclusive mode), from one thread, on as many devices as caldb's rows; CPU per CONNECT {cpu:.1} us"
            ),
            per_s(rate),
            format!("{} fdatasync", per_s(sync)),
            format!("{:.2}x fdatasync", rate / sync),
        );
    }
    // The fewest trees any layout could touch: the same work in one.
    let (rate, cpu) = floor::grouped_connects_in_one_tree(dir, s.threaded * threads::CALDB_SCALE, 1);
    table.limit(
        &format!(
            "P1 limit: redb alone, the same reads and writes all in one B-tree, 1 to a durable commit, from one thread; CPU per CONNECT {cpu:.1} us (against SQLite with 1 thread in the row above: {:.2}x)",
            rate / lite_one_thread
        ),
        per_s(rate),
        format!("{} fdatasync", per_s(sync)),
        format!("{:.2}x fdatasync", rate / sync),
    );
}

/// P3's durable lifecycle through `Shared` from one thread: each statement
/// its own commit, in redb's exclusive mode (one fdatasync per commit);
/// and its limit, the same statements' reads and writes on redb alone
/// (`floor::Lifecycles`), in the same mode. The three run their lifecycles
/// in `threads::BLOCKS` alternating blocks (caldb, redb alone, SQLite), so
/// all meet the same disk, whose sync rate swings with the other work on
/// this machine.
fn p3_shared(dir: &Path, s: &Sizes, table: &mut Table) {
    let start = Time::parse(generate::START).expect("start time").0;
    let (cpath, spath) = (dir.join("p3-shared.redb"), dir.join("p3-shared.sqlite"));
    let mut db = threads::SharedEngine(caldb::Shared::open(&cpath).expect("open shared"));
    for stmt in generate::SETUP {
        db.exec(stmt);
    }
    let mut limit = floor::Lifecycles::create(&dir.join("p3-limit.redb"), start);
    let mut lite = sqlite::Sqlite::create(&spath, true, start).expect("sqlite");
    let (mut caldb, mut alone, mut base) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut caldb_clock, mut limit_clock, mut lite_clock) = (start, start, start);
    let (mut caldb_commits, mut limit_commits) = (0, 0);
    let per = (s.life_durable / threads::BLOCKS).max(1);
    for b in 0..threads::BLOCKS {
        let t = Instant::now();
        caldb_commits += lifecycles_of(&mut db, b * per..(b + 1) * per, &mut caldb_clock);
        caldb += t.elapsed();
        let t = Instant::now();
        limit_commits += lifecycles_of(&mut limit, b * per..(b + 1) * per, &mut limit_clock);
        alone += t.elapsed();
        let t = Instant::now();
        lifecycles_of(&mut lite, b * per..(b + 1) * per, &mut lite_clock);
        base += t.elapsed();
    }
    drop((db, limit, lite));
    let done = (per * threads::BLOCKS) as f64;
    let (caldb, alone, base) = (done / caldb.as_secs_f64(), done / alone.as_secs_f64(), done / base.as_secs_f64());
    let ratio = caldb / base;
    table.row(
        &format!(
            "P3 device lifecycles, every statement durable, through Shared (exclusive mode: 1 fdatasync per commit), vs SQLite (WAL, FULL), in {} alternating blocks; {} of the limit below",
            threads::BLOCKS,
            pct(caldb / alone)
        ),
        per_s(caldb),
        format!("{} SQLite", per_s(base)),
        format!("{ratio:.2}x"),
        ">= 1.00x",
        ratio >= 1.0,
    );
    table.limit(
        &format!(
            "P3 limit: redb alone, a lifecycle's commits in exclusive mode (each statement's reads and writes in caldb's tables, 1 durable commit each: {:.2} a lifecycle, caldb {:.2}), in the same blocks",
            limit_commits as f64 / done,
            caldb_commits as f64 / done
        ),
        per_s(alone),
        format!("{} SQLite", per_s(base)),
        format!("{:.2}x", alone / base),
    );
    for p in [cpath, spath.clone(), spath.with_extension("sqlite-wal"), spath.with_extension("sqlite-shm")] {
        std::fs::remove_file(p).ok();
    }
}

impl Statements for Database {
    fn statement(&mut self, text: &str) -> Option<caldb::ResultSet> {
        exec(self, text)
    }
}

impl Statements for threads::SharedEngine {
    fn statement(&mut self, text: &str) -> Option<caldb::ResultSet> {
        self.exec(text)
    }
}

impl Engine for sqlite::Sqlite {
    fn begin(&mut self) {
        sqlite::Sqlite::begin(self).expect("sqlite begin");
    }
    fn commit(&mut self) {
        sqlite::Sqlite::commit(self).expect("sqlite commit");
    }
    fn create_device(&mut self, name: &str) {
        sqlite::Sqlite::create_device(self, name).expect("sqlite create device");
    }
    fn connect(&mut self, device: &str, user: &str) -> (String, i64) {
        let (r, e) = sqlite::Sqlite::connect(self, device, user).expect("sqlite connect");
        (r.to_string(), e)
    }
    fn set_clock(&mut self, t: i64) {
        sqlite::Sqlite::set_clock(self, t).expect("sqlite set clock");
    }
}

/// `n` devices through create, connect (temporary), connect (upgrade), the
/// clock moved into each one's renewal window (3 days before its expiry,
/// devices grouped by expiry), connect (renew). Checks every outcome.
/// Returns lifecycles per second and the statements they took.
fn lifecycle(e: &mut dyn Engine, n: u64, batched: bool, start: i64) -> (f64, u64) {
    let t = Instant::now();
    if batched {
        e.begin();
    }
    let statements = lifecycles_of(e, 0..n, &mut start.clone());
    if batched {
        e.commit();
    }
    (rate(n, t.elapsed()), statements)
}

/// P3, durable and batched; the durable row is also read against
/// `commit_limit`, redb's own one-row durable commits per second (P1).
fn p3(dir: &Path, s: &Sizes, commit_limit: f64, table: &mut Table) {
    let start = Time::parse(generate::START).expect("start time").0;
    for (batched, n) in [(false, s.life_durable), (true, s.life_batched)] {
        let cpath = dir.join("p3.redb");
        let spath = dir.join("p3.sqlite");
        let mut db = Database::open(&cpath, &OpenOptions::default()).expect("open");
        generate::setup(&mut db).expect("setup");
        let (caldb, statements) = lifecycle(&mut db, n, batched, start);
        drop(db);
        let mut lite = sqlite::Sqlite::create(&spath, !batched, start).expect("sqlite");
        let (base, _) = lifecycle(&mut lite, n, batched, start);
        drop(lite);
        let ratio = caldb / base;
        let name = if batched {
            "P3 device lifecycles, one BEGIN ... COMMIT, vs SQLite (WAL)"
        } else {
            "P3 device lifecycles, every statement durable, vs SQLite (WAL, synchronous=FULL)"
        };
        table.row(
            name,
            per_s(caldb),
            format!("{} SQLite", per_s(base)),
            format!("{ratio:.2}x"),
            "> 1.00x",
            ratio > 1.0,
        );
        if !batched {
            let per = statements as f64 / n as f64;
            let limit = commit_limit / per;
            let name =
                format!("P3 limit: redb alone, {per:.2} one-row durable commits per lifecycle (P1's limit), vs SQLite");
            table.limit(&name, per_s(limit), format!("{} SQLite", per_s(base)), format!("{:.2}x", limit / base));
        }
        for p in [cpath, spath.clone(), spath.with_extension("sqlite-wal"), spath.with_extension("sqlite-shm")] {
            std::fs::remove_file(p).ok();
        }
    }
}

/// Runs a step in a child process; its `key=value` lines.
fn child(name: &str, path: &Path, extra: &[String]) -> Vec<(String, String)> {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe).arg("--step").arg(name).arg(path).args(extra).output().expect("run a step");
    assert!(out.status.success(), "step {name} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn get(kv: &[(String, String)], key: &str) -> f64 {
    kv.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse().ok()).unwrap_or(f64::NAN)
}

/// How a P4 database is built.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Build {
    /// As an administrator loads one: one IMPORT of a Win32_TSIssuedLicense
    /// export holding one permanent CAL per device.
    Import,
    /// Every device through CREATE DEVICE and two CONNECTs (it also keeps
    /// each upgraded temporary license, each client's token and three
    /// history rows per device).
    Protocol,
}

impl Build {
    fn arg(self) -> &'static str {
        match self {
            Build::Import => "import",
            Build::Protocol => "protocol",
        }
    }

    /// What each row on this database is labelled with after its P number.
    fn label(self) -> &'static str {
        match self {
            Build::Import => "",
            Build::Protocol => " [protocol-built]",
        }
    }
}

fn p4_p6(dir: &Path, s: &Sizes, build: Build, table: &mut Table) {
    let path = dir.join("big.redb");
    let n = s.big;
    let label = build.label();
    let mut rss: Vec<(&str, f64)> = Vec::new();
    let load = child("load", &path, &[n.to_string(), build.arg().into()]);
    rss.push(("load", get(&load, "rss_mb")));
    let secs = get(&load, "secs");
    let name = match build {
        Build::Import => format!("P4 load: IMPORT LICENSES of a {n}-row Win32_TSIssuedLicense export"),
        Build::Protocol => format!("P4{label} load: {n} x (CREATE DEVICE, CONNECT, CONNECT)"),
    };
    table.row(&name, format!("{secs:.1} s"), "30 s".into(), ratio_of(secs, 30.0), "<= 30 s", secs <= 30.0);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    if build == Build::Protocol {
        p8(n, size, (get(&load, "build_secs"), secs), get(&load, "grown_mb"), table);
        p8_limit(dir, n, get(&load, "build_secs"), table);
    }
    table.row(
        &format!("P4{label} file size"),
        format!("{size:.0} MB"),
        "500 MB".into(),
        ratio_of(size, 500.0),
        "<= 500 MB",
        size <= 500.0,
    );

    // Every statement kind within 256 MB on both 1M databases: the
    // protocol-built one holds tokens, sessions and history too.
    p7(&path, label, table);
    let look = child("lookup", &path, &[n.to_string()]);
    rss.push(("lookup", get(&look, "rss_mb")));
    for key in ["id", "hwid", "computer"] {
        let ms = get(&look, &format!("{key}_ms"));
        table.row(
            &format!("P4{label} SELECT licenses by {key} (mean)"),
            format!("{ms:.3} ms"),
            "1 ms".into(),
            ratio_of(ms, 1.0),
            "<= 1 ms",
            ms <= 1.0,
        );
    }
    let rep = child("report", &path, &[]);
    rss.push(("report", get(&rep, "rss_mb")));
    for key in ["usage", "duplicates"] {
        let name = format!("P4{label} REPORT {}", key.to_uppercase());
        let secs = get(&rep, &format!("{key}_secs"));
        table.row(&name, format!("{secs:.2} s"), "3 s".into(), ratio_of(secs, 3.0), "<= 3 s", secs <= 3.0);
    }
    p5(&path, label, table);
    let adv = child("advance", &path, &[]);
    rss.push(("advance", get(&adv, "rss_mb")));
    let secs = get(&adv, "secs");
    let expired = get(&adv, "expired");
    table.row(
        &format!("P4{label} ADVANCE expiring all ({expired} licenses)"),
        format!("{secs:.1} s"),
        "10 s".into(),
        ratio_of(secs, 10.0),
        "<= 10 s",
        secs <= 10.0 && expired >= n as f64,
    );
    let (worst, mb) = rss.iter().copied().fold(("", 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let all = rss.iter().map(|(k, v)| format!("{k} {v:.0}")).collect::<Vec<_>>().join(", ");
    table.row(
        &format!("P4{label} peak RSS, worst step ({all} MB)"),
        format!("{mb:.0} MB ({worst})"),
        "256 MB".into(),
        ratio_of(mb, 256.0),
        "<= 256 MB",
        mb <= 256.0,
    );
    p6(&path, n, label, table);
    p6_shared(&path, n, label, table);
    std::fs::remove_file(&path).ok();
}

/// P8 (issue 19 item 5): the protocol-built database, file and build time
/// in one row, both against their bounds (500 MB, 30 s): the file after
/// the build's compaction, the time of both (the build alone, and the
/// file as the build left it, in the row's name).
fn p8(n: u64, size_mb: f64, (build, secs): (f64, f64), grown_mb: f64, table: &mut Table) {
    table.row(
        &format!(
            "P8 protocol-built {n}-device database: file, build time (build {build:.1} s, {grown_mb:.0} MB, then `caldb -compact`)"
        ),
        format!("{size_mb:.0} MB, {secs:.1} s"),
        "500 MB, 30 s".into(),
        format!("{:.2}x, {:.2}x of bound", size_mb / 500.0, secs / 30.0),
        "<= 500 MB, <= 30 s",
        size_mb <= 500.0 && secs <= 30.0,
    );
}

/// P8's limit: the build's reads and writes on redb alone
/// (`floor::build_writes`), in as many devices to a block as
/// `generate::build` commits, beside the build's own seconds.
fn p8_limit(dir: &Path, n: u64, build: f64, table: &mut Table) {
    let (secs, cpu) = floor::build_writes(dir, n, generate::BATCH);
    table.limit(
        &format!(
            "P8 limit: redb alone, the build's reads and writes ({n} x CREATE DEVICE, CONNECT, CONNECT in caldb's tables, {} devices to a commit); CPU {cpu:.1} s",
            generate::BATCH
        ),
        format!("{secs:.1} s"),
        format!("30 s; caldb's build {build:.1} s"),
        format!("{:.2}x of bound; caldb {:.2}x of the limit", secs / 30.0, build / secs),
    );
}

/// P8 without the P4-P6 rows on its database (`CALDB_BENCH_ONLY=p8`).
fn p8_alone(dir: &Path, n: u64, table: &mut Table) {
    let path = dir.join("big.redb");
    let load = child("load", &path, &[n.to_string(), Build::Protocol.arg().into()]);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    p8(n, size, (get(&load, "build_secs"), get(&load, "secs")), get(&load, "grown_mb"), table);
    p8_limit(dir, n, get(&load, "build_secs"), table);
    p7(&path, Build::Protocol.label(), table);
    std::fs::remove_file(&path).ok();
}

fn ratio_of(x: f64, bound: f64) -> String {
    format!("{:.2}x of bound", x / bound)
}

/// P5: the whole `caldb` process counting the licenses, best of 5.
fn p5(path: &Path, label: &str, table: &mut Table) {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_caldb"))
            .arg(path)
            .arg("SELECT COUNT(*) FROM licenses;")
            .output()
            .expect("run caldb");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(out.status.success(), "caldb: {}", String::from_utf8_lossy(&out.stderr));
        best = best.min(ms);
    }
    table.row(
        &format!("P5{label} `caldb big.redb \"SELECT COUNT(*) FROM licenses;\"` (process, best of 5)"),
        format!("{best:.0} ms"),
        "100 ms".into(),
        ratio_of(best, 100.0),
        "<= 100 ms",
        best <= 100.0,
    );
}

/// P6: a writer committing batches of CONNECTs is killed with SIGKILL; the
/// first open after it (in a new process, open + COUNT) is timed.
fn p6(path: &Path, n: u64, label: &str, table: &mut Table) {
    p6_after_kill(path, n, "write", table, |licenses| {
        format!("P6{label} first open after kill -9 during writes (open + COUNT = {licenses} licenses)")
    });
}

/// P7's statement kinds, each run alone in a process of its own on the P4
/// database (the ones that change it on a copy): what it is and its text.
const P7_STATEMENTS: [(&str, &str); 13] = [
    ("CHECK", "CHECK"),
    ("REPAIR", "REPAIR"),
    ("ORDER BY", "SELECT id, hwid FROM licenses ORDER BY hwid LIMIT 3 OFFSET 999000"),
    ("ORDER BY ... LIMIT", "SELECT id FROM licenses ORDER BY expires DESC LIMIT 1"),
    ("GROUP BY (1M groups)", "SELECT hwid, COUNT(*) FROM licenses GROUP BY hwid HAVING COUNT(*) > 1"),
    ("DISTINCT", "SELECT DISTINCT computer FROM licenses ORDER BY computer DESC LIMIT 3 OFFSET 999000"),
    ("join", "SELECT k.product, COUNT(*) FROM licenses l JOIN keypacks k ON k.id = l.keypack GROUP BY k.product"),
    ("REPORT DUPLICATES", "REPORT DUPLICATES"),
    ("REPORT USAGE", "REPORT USAGE"),
    ("REPORT EXPIRING", "REPORT EXPIRING"),
    ("EXPORT", "EXPORT LICENSES TO '{dir}/p7.csv'"),
    ("BACKUP", "BACKUP TO '{dir}/p7-backup.redb'"),
    ("REVOKE ... WHERE", "REVOKE LICENSES WHERE computer LIKE 'd00001%'"),
];

/// P7: the peak RSS of every statement kind on the P4 database (built by
/// IMPORT, and `[protocol-built]`, with tokens, sessions and history), each
/// in a process of its own (`VmHWM`), against 256 MB. `.dump` runs through the
/// library's `Database::dump_to`, as the shell's `.dump` does; a statement's
/// rows are taken chunk by chunk as the shell takes them
/// (`execute_in_chunks`), and counted.
fn p7(path: &Path, label: &str, table: &mut Table) {
    let dir = path.parent().expect("a directory");
    let copy = dir.join("p7.redb");
    let mut figures: Vec<(String, f64, f64)> = Vec::new();
    let kinds = P7_STATEMENTS.iter().map(|(k, s)| (*k, s.replace("{dir}", &dir.display().to_string())));
    for (kind, text) in kinds.chain([(".dump", ".dump".to_string())]) {
        std::fs::copy(path, &copy).expect("copy the P4 database");
        let out = child("statement", &copy, &[text]);
        figures.push((kind.to_string(), get(&out, "rss_mb"), get(&out, "secs")));
        for f in ["p7.csv", "p7-backup.redb", "p7.redb"] {
            std::fs::remove_file(dir.join(f)).ok();
        }
    }
    for (kind, mb, secs) in &figures {
        eprintln!("  P7 {kind}: {mb:.0} MB, {secs:.2} s");
    }
    let over: Vec<String> =
        figures.iter().filter(|(_, mb, _)| *mb > 256.0).map(|(k, mb, _)| format!("{k} {mb:.0}")).collect();
    let (worst, mb) = figures.iter().fold(("", 0.0), |a, (k, mb, _)| if *mb > a.1 { (k.as_str(), *mb) } else { a });
    let all = figures.iter().map(|(k, mb, _)| format!("{k} {mb:.0}")).collect::<Vec<_>>().join(", ");
    let over = if over.is_empty() { String::new() } else { format!("; over 256 MB: {}", over.join(", ")) };
    table.row(
        &format!("P7{label} peak RSS of every statement kind on the P4 database ({all} MB{over})"),
        format!("{mb:.0} MB ({worst})"),
        "256 MB".into(),
        ratio_of(mb, 256.0),
        "within 256 MB",
        over.is_empty(),
    );
}

/// P6 for a serving process (issue 19): 8 threads writing through
/// `Shared`, the file in redb's exclusive mode (one-phase commits), killed;
/// then the first open, which must repair what a one-phase commit leaves.
fn p6_shared(path: &Path, n: u64, label: &str, table: &mut Table) {
    p6_after_kill(path, n, "write-shared", table, |licenses| {
        format!(
            "P6{label} first open after kill -9 of a Shared server writing from 8 threads (exclusive mode; open + COUNT = {licenses} licenses)"
        )
    });
}

/// Runs the `step` writer on `path` for 2.5 s, kills it (-9), then times
/// the first open in a fresh process: the P6 rows.
fn p6_after_kill(path: &Path, n: u64, step: &str, table: &mut Table, name: impl Fn(f64) -> String) {
    let exe = std::env::current_exe().expect("own path");
    let mut writer = Command::new(exe).arg("--step").arg(step).arg(path).arg(n.to_string()).spawn().expect("writer");
    std::thread::sleep(Duration::from_millis(2500));
    if let Ok(Some(status)) = writer.try_wait() {
        // A writer that died on its own was not killed while writing: the
        // row would measure nothing.
        panic!("the {step} writer ended before it was killed ({status}): see its message above");
    }
    writer.kill().expect("kill -9");
    writer.wait().ok();
    let open = child("open", path, &[]);
    let secs = get(&open, "secs");
    let name = name(get(&open, "licenses"));
    table.row(&name, format!("{:.1} ms", secs * 1e3), "5 s".into(), ratio_of(secs, 5.0), "<= 5 s", secs <= 5.0);
}

/// The peak resident set of this process, in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

/// The child side of `child`: prints `key=value` lines.
fn step(name: &str, path: &Path, args: &[String]) {
    let n: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(0);
    let t = Instant::now();
    match name {
        "load" => match args.get(1).map(String::as_str) {
            Some("import") => {
                let csv = path.with_extension("csv");
                let secs = generate::build_import(path, &csv, n).expect("build the big database");
                std::fs::remove_file(&csv).ok();
                println!("secs={secs}");
            }
            _ => {
                generate::build(path, n).expect("build the big database");
                let built = t.elapsed().as_secs_f64();
                // P8 is the file an administrator has: compacted
                // (`caldb -compact`) after the build.
                let c = caldb::compact(path).expect("compact the big database");
                println!("secs={}", t.elapsed().as_secs_f64());
                println!("build_secs={built}");
                println!("grown_mb={}", c.before as f64 / 1e6);
            }
        },
        "lookup" => lookup(path, n),
        "statement" => {
            let mut db = Database::open(path, &OpenOptions::default()).expect("open");
            let text = args.first().map(String::as_str).unwrap_or("");
            let t = Instant::now();
            let mut rows = 0usize;
            if text == ".dump" {
                db.dump_to(&mut std::io::sink()).expect(".dump");
            } else {
                // As the shell prints a long result: chunk by chunk, as
                // each is final, not gathered (on the protocol-built
                // database the GROUP BY answers a million rows).
                let mut count = |rs: &caldb::ResultSet| {
                    rows += rs.rows.len();
                    Ok(())
                };
                let rest = db.execute_in_chunks(text, &mut count).unwrap_or_else(|e| panic!("{text}: {e}"));
                rows += rest.map_or(0, |rs| rs.rows.len());
            }
            println!("secs={}", t.elapsed().as_secs_f64());
            println!("rows={rows}");
        }
        "report" => {
            let mut db = Database::open(path, &OpenOptions::default()).expect("open");
            for key in ["usage", "duplicates"] {
                let t = Instant::now();
                exec(&mut db, &format!("REPORT {}", key.to_uppercase()));
                println!("{key}_secs={}", t.elapsed().as_secs_f64());
            }
        }
        "advance" => {
            let mut db = Database::open(path, &OpenOptions::default()).expect("open");
            let before = count(&mut db, "SELECT COUNT(*) FROM licenses WHERE status = 'active'");
            let t = Instant::now();
            exec(&mut db, "ADVANCE 100 DAYS");
            println!("secs={}", t.elapsed().as_secs_f64());
            let after = count(&mut db, "SELECT COUNT(*) FROM licenses WHERE status = 'active'");
            println!("expired={}", before - after);
        }
        "write" => {
            let mut db = Database::open(path, &OpenOptions::default()).expect("open");
            let mut i = 2 * n.max(1);
            loop {
                generate::devices(&mut db, i, i + 1000, 1000).expect("writes");
                i += 1000;
            }
        }
        // Past the devices the "write" step created on the same file: it
        // starts at 2n and writes for 2.5 s, thousands of devices past 3n
        // when n is the smoke run's few hundred.
        "write-shared" => threads::write_until_killed(path, 2 * n.max(1) + 50_000_000),
        "open" => {
            let mut db = Database::open(path, &OpenOptions::default()).expect("open after the kill");
            let total = count(&mut db, "SELECT COUNT(*) FROM licenses");
            println!("secs={}", t.elapsed().as_secs_f64());
            println!("licenses={total}");
        }
        other => panic!("no step {other}"),
    }
    println!("rss_mb={}", peak_rss_mb());
}

fn count(db: &mut Database, q: &str) -> i64 {
    match exec(db, q).and_then(|rs| rs.rows.first().map(|r| r[0].clone())) {
        Some(Value::Int(n)) => n,
        other => panic!("{q}: {other:?}"),
    }
}

/// Mean time of 200 SELECTs each by license id, HWID and computer name, on
/// licenses spread over the whole database.
fn lookup(path: &Path, n: u64) {
    let mut db = Database::open(path, &OpenOptions::default()).expect("open");
    let total = count(&mut db, "SELECT COUNT(*) FROM licenses").max(1) as u64;
    let mut rng = caldb::clock::Rng::seeded(9);
    let picks: Vec<u64> = (0..200).map(|_| rng.between(1, total)).collect();
    let mut hwids = Vec::new();
    for id in &picks {
        let rs = exec(&mut db, &format!("SELECT hwid FROM licenses WHERE id = {id}")).expect("rows");
        hwids.push(rs.rows[0][0].to_string());
    }
    let computers: Vec<String> = (0..200).map(|_| generate::device(rng.between(0, n.max(1) - 1))).collect();
    let mut time = |key: &str, qs: Vec<String>| {
        let t = Instant::now();
        for q in &qs {
            let rs = exec(&mut db, q).expect("rows");
            assert!(!rs.rows.is_empty(), "{q} found nothing");
        }
        println!("{key}_ms={}", t.elapsed().as_secs_f64() * 1e3 / qs.len() as f64);
    };
    time("id", picks.iter().map(|id| format!("SELECT * FROM licenses WHERE id = {id}")).collect());
    time("hwid", hwids.iter().map(|h| format!("SELECT * FROM licenses WHERE hwid = '{h}'")).collect());
    time("computer", computers.iter().map(|c| format!("SELECT * FROM licenses WHERE computer = '{c}'")).collect());
}
