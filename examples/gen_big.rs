//! Builds the P4 benchmark database: `cargo run --release --example gen_big
//! -- /tmp/big.redb 1000000`. Seeded and clocked, so reproducible.

#[path = "../benches/common/gen.rs"]
mod generate;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), n) = (args.get(1), args.get(2)) else {
        eprintln!("usage: gen_big PATH [DEVICES]");
        std::process::exit(2);
    };
    let n: u64 = n.map_or(Ok(1_000_000), |s| s.parse()).unwrap_or_else(|e| {
        eprintln!("gen_big: bad device count: {e}");
        std::process::exit(2);
    });
    let path = std::path::Path::new(path);
    if path.exists() {
        eprintln!("gen_big: {} exists; remove it first", path.display());
        std::process::exit(2);
    }
    let t = std::time::Instant::now();
    if let Err(e) = generate::build(path, n) {
        eprintln!("gen_big: {e}");
        std::process::exit(1);
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!("{n} devices in {:.1} s, {:.1} MB", t.elapsed().as_secs_f64(), size as f64 / 1e6);
}
