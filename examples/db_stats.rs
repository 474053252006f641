//! Where the bytes of a caldb file go: per table, entries, stored bytes,
//! leaf and branch pages and fragmentation (`cargo run --release --example
//! db_stats -- big.redb`; `--compact` first compacts the file, in place).
//! Reads through redb directly: a diagnostic for
//! benches/README.md, not part of caldb.

use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: db_stats FILE [--compact]")?;
    let mut builder = redb::Builder::new();
    builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
    let mut db = builder.open(&path)?;
    // `--compact`: what redb's compaction would leave of the file (it
    // rewrites the file in place: a diagnostic on a copy).
    if std::env::args().any(|a| a == "--compact") {
        let t = std::time::Instant::now();
        while db.compact()? {}
        println!("compacted in {:.1} s", t.elapsed().as_secs_f64());
    }
    let rx = db.begin_read()?;
    println!(
        "{:<22} {:>10} {:>12} {:>10} {:>10} {:>12}",
        "table", "entries", "stored", "leaves", "branches", "fragmented"
    );
    let mut total = (0, 0, 0);
    for handle in rx.list_tables()? {
        let name = handle.name().to_string();
        let t = rx.open_untyped_table(handle)?;
        let s = t.stats()?;
        let stored = s.stored_bytes() + s.metadata_bytes();
        total = (total.0 + stored, total.1 + s.leaf_pages() + s.branch_pages(), total.2 + s.fragmented_bytes());
        println!(
            "{:<22} {:>10} {:>12} {:>10} {:>10} {:>12}",
            name,
            t.len()?,
            stored,
            s.leaf_pages(),
            s.branch_pages(),
            s.fragmented_bytes()
        );
    }
    let file = std::fs::metadata(&path)?.len();
    println!("stored {} bytes in {} pages ({} fragmented); file {} bytes", total.0, total.1, total.2, file);
    Ok(())
}
