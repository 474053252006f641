//! Criterion micro-benchmarks of the hot paths behind the table's rows:
//! one batched CONNECT, one SELECT by each index, the parse of a statement.
//! Under `cargo test --all-targets` criterion runs each once (test mode).

#[path = "common/gen.rs"]
mod generate;

use caldb::Database;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// An in-memory database with `n` devices holding permanent CALs.
fn populated(n: u64) -> Database {
    let mut db = Database::open_in_memory().expect("open");
    generate::setup(&mut db).expect("setup");
    generate::devices(&mut db, 0, n, 1000).expect("devices");
    db
}

fn connect(c: &mut Criterion) {
    let mut db = populated(0);
    let mut i = 0u64;
    db.execute("BEGIN").expect("begin");
    c.bench_function("batched CONNECT (create + temporary issue)", |b| {
        b.iter(|| {
            let d = generate::device(i);
            db.execute(&format!("CREATE DEVICE {d}")).expect("create");
            black_box(db.execute(&format!("CONNECT {d} AS {} TO h1", generate::user(i))).expect("connect"));
            i += 1;
        })
    });
    db.execute("COMMIT").expect("commit");
}

fn lookups(c: &mut Criterion) {
    let n = if cfg!(debug_assertions) { 100 } else { 5_000 };
    let mut db = populated(n);
    let mut k = 0u64;
    c.bench_function("SELECT licenses by id", |b| {
        b.iter(|| {
            k = (k + 7919) % (2 * n) + 1;
            black_box(db.execute(&format!("SELECT * FROM licenses WHERE id = {k}")).expect("select"))
        })
    });
    c.bench_function("SELECT licenses by computer", |b| {
        b.iter(|| {
            k = (k + 7919) % n;
            let q = format!("SELECT * FROM licenses WHERE computer = '{}'", generate::device(k));
            black_box(db.execute(&q).expect("select"))
        })
    });
    c.bench_function("SELECT COUNT(*) FROM licenses", |b| {
        b.iter(|| black_box(db.execute("SELECT COUNT(*) FROM licenses").expect("count")))
    });
}

fn parse(c: &mut Criterion) {
    c.bench_function("parse CONNECT", |b| {
        b.iter(|| black_box(caldb::query::parse_statement("CONNECT d0001234 AS u01234 TO h1").expect("parse")))
    });
}

criterion_group!(benches, connect, lookups, parse);
criterion_main!(benches);
