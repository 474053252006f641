//! Any bytes as a real client's licensing messages: the front never
//! panics, and every error is a clean `FrontError`. The input is the
//! client's first message (new license request or license info) and its
//! platform challenge response (`fuzz/harness/licensing.rs`); the server
//! random is fixed, so the seed corpus (`fuzz/seeds/licensing`, a real
//! client's recorded messages) and its mutations get past the MAC to the
//! presented CAL's check and the CONNECT CLIENT decision.
#![no_main]

#[path = "../harness/licensing.rs"]
mod harness;

use caldb::Database;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

/// Inputs run on one database before a fresh one (each decided exchange
/// adds rows; the key is made again from the same seed).
const INPUTS_PER_DATABASE: u32 = 20_000;

thread_local! {
    static DB: RefCell<(Database, u32)> = RefCell::new((harness::database(), 0));
}

fuzz_target!(|data: &[u8]| {
    DB.with(|cell| {
        let (db, inputs) = &mut *cell.borrow_mut();
        *inputs += 1;
        if *inputs > INPUTS_PER_DATABASE {
            *db = harness::database();
            *inputs = 1;
        }
        let _ = harness::run(db, data);
    });
});
