//! Builds the P4 benchmark database: `cargo run --release --example gen_big
//! -- /tmp/big.redb 1000000` loads one million permanent CALs from a
//! generated `Win32_TSIssuedLicense` export (written next to it as
//! `big.csv`) with one IMPORT; `--protocol` instead runs every device
//! through CREATE DEVICE and two CONNECTs. Seeded and clocked, so
//! reproducible. Then the file is compacted (`caldb::compact`, what
//! `caldb -compact` does) and both lengths and times are printed:
//! P8 is the file an administrator has after the build. With
//! `--redb-alone` (and `--protocol`), P8's limit instead: the build's
//! reads and writes on redb alone (`floor::build_writes`), its time and CPU.

#[path = "../benches/common/floor.rs"]
#[allow(dead_code)]
mod floor;
#[path = "../benches/common/gen.rs"]
mod generate;
#[path = "../benches/common/lifecycle.rs"]
#[allow(dead_code)]
mod lifecycle;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let protocol = args.iter().any(|a| a == "--protocol");
    let alone = args.iter().any(|a| a == "--redb-alone");
    args.retain(|a| a != "--protocol" && a != "--redb-alone");
    let (Some(path), n) = (args.first(), args.get(1)) else {
        eprintln!("usage: gen_big PATH [DEVICES] [--protocol] [--redb-alone]");
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
    if alone {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let (secs, cpu) = floor::build_writes(dir, n, generate::BATCH);
        println!("redb alone: the build's reads and writes for {n} devices in {secs:.1} s ({cpu:.1} s of CPU)");
        return;
    }
    let t = std::time::Instant::now();
    let built = if protocol {
        generate::build(path, n).map(|()| String::new())
    } else {
        let csv = path.with_extension("csv");
        generate::build_import(path, &csv, n).map(|s| format!(" (the IMPORT of {}: {s:.1} s)", csv.display()))
    };
    let built = built.and_then(|how| {
        let secs = t.elapsed().as_secs_f64();
        let c = caldb::compact(path)?;
        Ok((how, secs, c))
    });
    match built {
        Ok((how, secs, c)) => {
            let total = t.elapsed().as_secs_f64();
            println!(
                "{n} devices in {secs:.1} s{how}, {:.1} MB; compacted in {:.1} s: {:.1} MB ({total:.1} s in all)",
                c.before as f64 / 1e6,
                total - secs,
                c.after as f64 / 1e6
            );
        }
        Err(e) => {
            eprintln!("gen_big: {e}");
            std::process::exit(1);
        }
    }
}
