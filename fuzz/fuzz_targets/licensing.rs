//! Any bytes as a real client's licensing messages: the front's decoder
//! never panics. The input's first byte splits the rest into the client's
//! first message (new license request or license info) and its platform
//! challenge response; every error is a clean `FrontError`.
#![no_main]

use caldb::{ClientInfo, Database, Exchange, Step};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

const SETUP: &[&str] = &[
    "SET CLOCK '2026-01-05 09:00:00'",
    "SET SEED 7",
    "CREATE SERVER ls1 PRODUCT WS2022",
    "ACTIVATE SERVER ls1",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5",
    "CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE",
];

thread_local! {
    // One database for every input: its server key is made once.
    static DB: RefCell<Database> = RefCell::new({
        let mut db = Database::open_in_memory().expect("in-memory database");
        for s in SETUP {
            db.execute(s).expect("setup");
        }
        db
    });
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let (first, second) = rest.split_at(usize::from(split).min(rest.len()));
    DB.with(|db| {
        let db = &mut *db.borrow_mut();
        let client = ClientInfo { computer: "PC-FUZZ".into(), user: "fuzz".into(), domain: "CORP".into() };
        let (mut exchange, _request) = Exchange::begin(db, "rdsh1", client).expect("begin");
        if let Ok(Step::Send(_)) = exchange.step(db, first) {
            let _ = exchange.step(db, second);
        }
    });
});
