//! The `licensing` fuzz target's seed corpus and its findings. The seeds
//! (`fuzz/seeds/licensing`) are a real client's messages, recorded from
//! ironrdp-connector 0.12 against the fuzz target's own database and server
//! random (`fuzz/harness/licensing.rs`): each must still reach the decision,
//! or the fuzzer would start again from inputs the MAC stops. Set
//! CALDB_WRITE_FUZZ_SEEDS=1 to record them again (after a change of the
//! harness, the key or the messages).

#[path = "../fuzz/harness/licensing.rs"]
mod harness;
#[path = "support/rdp_client.rs"]
mod rdp_client;

use caldb::{Step, report_logon};
use rdp_client::{Client, answer, connect, sequence};
use std::path::{Path, PathBuf};

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/licensing")
}

/// Records the seeds: a new client's request and challenge response, and
/// a licensed client's license info (its CAL) and challenge response. The
/// licensed client gets its CAL by the two statements the harness's
/// database ends with, so that the fuzz target knows its license.
fn record() -> Vec<(&'static str, Vec<u8>)> {
    let mut db = caldb::Database::open_in_memory().expect("open");
    let (base, licensing) = harness::SETUP.split_at(harness::SETUP.len() - 2);
    for s in base {
        db.execute(s).expect(s);
    }
    let two_messages = |db: &mut caldb::Database, pc: &Client| {
        let (mut exchange, request) = harness::begin(db);
        let mut seq = sequence(pc);
        let first = answer(&mut seq, &request).expect("the client's first message");
        let Ok(Step::Send(challenge)) = exchange.step(db, &first) else { panic!("no platform challenge") };
        let second = answer(&mut seq, &challenge).expect("the client's response");
        harness::input(&first, &second)
    };
    let new = Client::new([0xF1, 0xF2, 0xF3, 0xF4], "fuzz", "PC-FUZZ");
    let licensed = Client::new([0xE1, 0xE2, 0xE3, 0xE4], "fuzz", "PC-FUZZ");
    let v = connect(&mut db, "rdsh1", &licensed).verdict.expect("a temporary CAL");
    report_logon(&mut db, &v, true).expect("logon");
    let history = db.execute("SELECT statement FROM history WHERE seq > 6 ORDER BY seq").expect("history");
    let made: Vec<String> = history.expect("rows").rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(made, licensing, "the harness's database licenses the recorded client as the recording did");
    vec![("new-license-request", two_messages(&mut db, &new)), ("license-info", two_messages(&mut db, &licensed))]
}

#[test]
fn the_fuzz_seeds_are_a_real_clients_messages_and_each_reaches_the_decision() {
    if std::env::var_os("CALDB_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(seeds_dir()).expect("the seeds folder");
        for (name, bytes) in record() {
            std::fs::write(seeds_dir().join(name), bytes).expect("write a seed");
        }
    }
    let mut db = harness::database();
    let mut outcomes = Vec::new();
    for name in ["new-license-request", "license-info"] {
        let bytes = std::fs::read(seeds_dir().join(name)).expect("a committed seed (CALDB_WRITE_FUZZ_SEEDS=1)");
        match harness::run(&mut db, &bytes) {
            Some(Ok(Step::Done(v))) => outcomes.push(v.outcome),
            other => panic!("seed '{name}' stops before the decision: {other:?}"),
        }
    }
    // The licensed client's validated temporary CAL is upgraded: its CAL's
    // tag verified and the decision ran past it.
    assert_eq!(outcomes, ["temporary-issued", "upgraded"]);
}
