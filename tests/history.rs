//! The history table reads as one row per changing statement, by sequence
//! number, whatever chunks the store keeps the rows in: inside a block
//! (rows not yet written) and after its commit, across chunk boundaries,
//! with lookups by `seq`, ranges, counts and ROLLBACK.

#[path = "support/db.rs"]
mod db;

use caldb::Database;
use db::{exec, query, text_rows};

fn count(db: &mut Database) -> i64 {
    match &query(db, "SELECT COUNT(*) FROM history").rows[0][0] {
        caldb::Value::Int(n) => *n,
        other => panic!("a count, not {other}"),
    }
}

/// Every row of history, in order, as (seq, statement).
fn rows(db: &mut Database, filter: &str) -> Vec<Vec<String>> {
    text_rows(&query(db, &format!("SELECT seq, statement FROM history {filter}")))
}

#[test]
fn history_reads_the_same_in_a_block_after_its_commit_and_across_chunks() {
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, "SET CLOCK '2026-01-05 09:00:00'; CREATE SERVER ls1");
    let before = count(&mut db);
    assert_eq!(before, 2);

    exec(&mut db, "BEGIN");
    for i in 0..300 {
        exec(&mut db, &format!("CREATE DEVICE d{i:03}"));
    }
    let want: Vec<Vec<String>> =
        (0..300).map(|i| vec![(before + 1 + i).to_string(), format!("CREATE DEVICE d{i:03}")]).collect();
    let inside = rows(&mut db, "WHERE seq > 2");
    assert_eq!(inside, want, "the block's own rows, before they are written");
    assert_eq!(count(&mut db), before + 300);
    exec(&mut db, "COMMIT");

    assert_eq!(rows(&mut db, "WHERE seq > 2"), want, "the same rows from the chunks");
    assert_eq!(count(&mut db), before + 300);
    for seq in [1, 2, 3, 66, 67, 130, 200, 302] {
        let got = rows(&mut db, &format!("WHERE seq = {seq}"));
        assert_eq!(got.len(), 1, "seq {seq}: {got:?}");
        assert_eq!(got[0][0], seq.to_string());
    }
    assert!(rows(&mut db, "WHERE seq = 303").is_empty());
    assert!(rows(&mut db, "WHERE seq = 0").is_empty());
    let range = rows(&mut db, "WHERE seq >= 60 AND seq < 140");
    assert_eq!(range.len(), 80);
    assert_eq!((range[0][0].as_str(), range[79][0].as_str()), ("60", "139"));

    // A second block's rows follow; a rolled-back block leaves none.
    exec(&mut db, "BEGIN; CREATE DEVICE e1; CREATE DEVICE e2; ROLLBACK");
    exec(&mut db, "BEGIN; CREATE DEVICE f1; CREATE DEVICE f2");
    assert_eq!(
        rows(&mut db, "WHERE seq >= 302"),
        [["302", "CREATE DEVICE d299"], ["303", "CREATE DEVICE f1"], ["304", "CREATE DEVICE f2"]]
    );
    exec(&mut db, "COMMIT");
    assert_eq!(count(&mut db), before + 302);
    assert!(query(&mut db, "CHECK").rows.is_empty(), "CHECK finds the history sound");
}
