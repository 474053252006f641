//! The P2 loop alone, for profiling: `n` fresh devices created in one
//! batch, then `n` CONNECTs (each issuing a temporary CAL and starting or
//! reusing a session) in one BEGIN ... COMMIT, as `benches/table.rs` runs
//! it. With a third argument it stops after creating the devices, so
//! `valgrind --tool=callgrind` of both runs gives the CONNECTs' own cost
//! by difference:
//!
//! ```text
//! cargo build --release --example p2_loop
//! valgrind --tool=callgrind target/release/examples/p2_loop /tmp/p2.redb 20000
//! valgrind --tool=callgrind target/release/examples/p2_loop /tmp/p2.redb 20000 setup-only
//! ```

#[path = "../benches/common/gen.rs"]
mod generate;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: p2_loop FILE N [setup-only]");
        std::process::exit(2);
    }
    let path = std::path::PathBuf::from(&args[1]);
    let n: u64 = args[2].parse().expect("N is a number");
    let _ = std::fs::remove_file(&path);
    let mut db = generate::deployed(&path, n).expect("the deployment and its devices");
    if args.len() > 3 {
        return;
    }
    let t = std::time::Instant::now();
    db.execute("BEGIN").expect("begin");
    for i in 0..n {
        db.execute(&format!("CONNECT {} AS {} TO h1", generate::device(i), generate::user(i))).expect("connect");
    }
    db.execute("COMMIT").expect("commit");
    let took = t.elapsed();
    println!("{n} CONNECTs in {:.3} s: {:.0}/s", took.as_secs_f64(), n as f64 / took.as_secs_f64());
}
