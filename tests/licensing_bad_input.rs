//! quality.md S7 and R4 for the licensing front: a malformed, tampered or
//! replayed message is a clean `FrontError` naming the message, the byte
//! and why, never a panic and never a decision; random bytes and every
//! truncation or flipped byte of a real client's messages included.

#[path = "support/rdp_client.rs"]
mod rdp_client;

use caldb::{ClientInfo, Database, Exchange, FrontError, Step};
use proptest::prelude::*;
use rdp_client::{Client, answer, sequence};

fn setup() -> Database {
    let mut db = Database::open_in_memory().expect("open");
    for s in [
        "SET CLOCK '2026-01-05 09:00:00'",
        "SET SEED 3",
        "CREATE SERVER ls1 PRODUCT WS2022",
        "ACTIVATE SERVER ls1",
        "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5",
        "CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE",
    ] {
        db.execute(s).expect(s);
    }
    db
}

fn info() -> ClientInfo {
    ClientInfo { computer: "PC-ALPHA".into(), user: "alice".into(), domain: "CORP".into() }
}

fn history_len(db: &mut Database) -> String {
    let rs = db.execute("SELECT COUNT(*) FROM history").expect("count").expect("rows");
    rs.rows[0][0].to_string()
}

#[test]
fn a_short_or_unexpected_message_is_malformed_with_its_place_and_reason() {
    let mut db = setup();
    let (mut ex, _) = Exchange::begin(&mut db, "rdsh1", info()).expect("begin");
    let err = ex.step(&mut db, &[0x13, 0x83]).expect_err("two bytes");
    assert_eq!(err.to_string(), "malformed licensing message at byte 0: 'preamble' needs 4 bytes, 2 left");
    let (mut ex, _) = Exchange::begin(&mut db, "rdsh1", info()).expect("begin");
    let err = ex.step(&mut db, &[0x15, 0x83, 0x04, 0x00]).expect_err("a response first");
    assert!(matches!(err, FrontError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("type 0x15, expected a new license request or license info"), "{err}");
    let (mut ex, _) = Exchange::begin(&mut db, "rdsh1", info()).expect("begin");
    let err = ex.step(&mut db, &[0x13, 0x83, 0x08, 0x00, 2, 0, 0, 0]).expect_err("no RSA");
    assert_eq!(
        err.to_string(),
        "malformed CLIENT_NEW_LICENSE_REQUEST at byte 4: key exchange algorithm 2, only RSA (1) is known"
    );
    assert_eq!(err.refusal()[0], 0xFF, "the refusal is an error alert");
    assert!(matches!(ex.step(&mut db, &[0x13, 0x83, 0x04, 0x00]), Err(FrontError::Finished)), "over after an error");
}

#[test]
fn a_replayed_or_tampered_challenge_response_is_refused_and_decides_nothing() {
    let mut db = setup();
    let pc = Client::new([1, 2, 3, 4], "alice", "PC-ALPHA");
    let before = history_len(&mut db);
    let (mut ex, request) = Exchange::begin(&mut db, "rdsh1", info()).expect("begin");
    let mut seq = sequence(&pc);
    let first = answer(&mut seq, &request).expect("new license request");
    let Step::Send(challenge) = ex.step(&mut db, &first).expect("challenge") else { panic!("not a challenge") };
    let mut response = answer(&mut seq, &challenge).expect("response");
    let last = response.len() - 1;
    response[last] ^= 0x40; // the MAC's last byte
    let err = ex.step(&mut db, &response).expect_err("tampered");
    assert_eq!(err.to_string(), "CLIENT_PLATFORM_CHALLENGE_RESPONSE: the MAC does not verify (tampered or replayed)");

    // The same response replayed into another exchange (other keys).
    response[last] ^= 0x40;
    let (mut other, _) = Exchange::begin(&mut db, "rdsh1", info()).expect("begin");
    let Step::Send(_) = other.step(&mut db, &first).expect("challenge") else { panic!("not a challenge") };
    let err = other.step(&mut db, &response).expect_err("replayed into another exchange");
    assert!(matches!(err, FrontError::Mac { .. }), "{err}");
    assert_eq!(history_len(&mut db), before, "no decision was recorded");
}

/// One database for every case of a property: its server key is made
/// once (a key takes a while; a case a few milliseconds).
fn shared() -> std::sync::MutexGuard<'static, Database> {
    static DB: std::sync::OnceLock<std::sync::Mutex<Database>> = std::sync::OnceLock::new();
    let db = DB.get_or_init(|| std::sync::Mutex::new(setup()));
    db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_as_either_client_message_never_panic_or_decide(first in proptest::collection::vec(any::<u8>(), 0..600), second in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut db = shared();
        let (mut ex, _) = Exchange::begin(&mut db, "rdsh1", info()).expect("begin");
        if let Ok(Step::Send(_)) = ex.step(&mut db, &first) {
            prop_assert!(!matches!(ex.step(&mut db, &second), Ok(Step::Done(_))), "random bytes decided");
        }
    }

    #[test]
    fn a_real_clients_messages_cut_short_or_flipped_are_refused_cleanly(cut in 0usize..400, at in 0usize..400, bit in 0u8..8) {
        let mut db = shared();
        let pc = Client::new([1, 2, 3, 4], "alice", "PC-ALPHA");
        let (mut ex, request) = Exchange::begin(&mut db, "rdsh1", info()).expect("begin");
        let mut seq = sequence(&pc);
        let first = answer(&mut seq, &request).expect("new license request");
        let short = &first[..cut.min(first.len() - 1)];
        let err = ex.step(&mut db, short).expect_err("a cut message");
        prop_assert!(matches!(err, FrontError::Malformed { .. }), "{}", err);
        let (mut ex, _) = Exchange::begin(&mut db, "rdsh1", info()).expect("begin");
        let mut flipped = first.clone();
        let i = at % flipped.len();
        flipped[i] ^= 1 << bit;
        // A flip in the client random or the premaster gives the front
        // other keys than the client's: its response is refused. A flip in
        // the framing is malformed. None panics.
        let keyed = 12..12 + 32 + 4 + 264;
        if let Ok(Step::Send(challenge)) = ex.step(&mut db, &flipped)
            && let Ok(response) = answer(&mut seq, &challenge)
        {
            let decided = ex.step(&mut db, &response);
            prop_assert!(!keyed.contains(&i) || !matches!(decided, Ok(Step::Done(_))), "byte {} flipped, still decided", i);
        }
    }
}
