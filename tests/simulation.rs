//! Deterministic simulation (issue: the licensing protocol, "Tests"): random
//! sequences of connections, clock moves, device changes, revokes and
//! rebuilds over a small deployment. After every statement CHECK must find
//! nothing; the same sequence run twice gives the same `.dump`.

use caldb::Database;
use proptest::prelude::*;

const DEVICES: usize = 6;
const USERS: [&str; 3] = ["alice", "bob", "carol"];

/// The deployment every run starts from: two servers of one scope (peers),
/// a per-device host on each product line, a per-user host and a farm.
const SETUP: &[&str] = &[
    "SET CLOCK '2026-01-01'",
    "SET SEED 11",
    "CREATE SERVER ls1 PRODUCT WS2022",
    "CREATE SERVER ls2 PRODUCT WS2025",
    "ACTIVATE SERVER ls1",
    "ACTIVATE SERVER ls2",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2019 CAL DEVICE COUNT 3",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 4 EXPIRES '2026-06-01'",
    "INSTALL KEYPACK ON ls2 PRODUCT WS2025 CAL DEVICE COUNT 5",
    "INSTALL KEYPACK ON ls2 PRODUCT WS2025 CAL USER COUNT 2",
    "CREATE HOST h19 PRODUCT WS2019 MODE DEVICE LICENSE SERVERS (ls1, ls2) FARM f",
    "CREATE HOST h22 PRODUCT WS2022 MODE DEVICE FARM f",
    "CREATE HOST h25 PRODUCT WS2025 MODE DEVICE",
    "CREATE HOST hu PRODUCT WS2022 MODE USER",
    "CREATE HOST hx PRODUCT WS2022",
];

#[derive(Clone, Debug)]
enum Step {
    Connect { device: usize, user: usize, host: usize, failed: bool },
    ConnectFarm { device: usize, user: usize },
    Advance(u32),
    Clone { from: usize, with_store: bool },
    Reimage(usize),
    ClearStore(usize),
    Revoke(u32),
    Rebuild { server: usize, reinstall: bool },
    Offline(usize, bool),
    Logoff(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..DEVICES, 0..USERS.len(), 0..5usize, prop::bool::weighted(0.15))
            .prop_map(|(device, user, host, failed)| Step::Connect { device, user, host, failed }),
        1 => (0..DEVICES, 0..USERS.len()).prop_map(|(device, user)| Step::ConnectFarm { device, user }),
        3 => (1..40u32).prop_map(Step::Advance),
        1 => (0..DEVICES, any::<bool>()).prop_map(|(from, with_store)| Step::Clone { from, with_store }),
        1 => (0..DEVICES).prop_map(Step::Reimage),
        1 => (0..DEVICES).prop_map(Step::ClearStore),
        1 => (1..60u32).prop_map(Step::Revoke),
        1 => (0..2usize, any::<bool>()).prop_map(|(server, reinstall)| Step::Rebuild { server, reinstall }),
        1 => (0..2usize, any::<bool>()).prop_map(|(s, on)| Step::Offline(s, on)),
        1 => (1..30u32).prop_map(Step::Logoff),
    ]
}

const HOSTS: [&str; 5] = ["h19", "h22", "h25", "hu", "hx"];
const SERVERS: [&str; 2] = ["ls1", "ls2"];

fn text(s: &Step, clones: &mut usize) -> String {
    match s {
        Step::Connect { device, user, host, failed } => format!(
            "CONNECT pc{device} AS {} TO {}{}",
            USERS[*user],
            HOSTS[*host],
            if *failed { " LOGON FAILED" } else { "" }
        ),
        Step::ConnectFarm { device, user } => format!("CONNECT pc{device} AS {} TO FARM f", USERS[*user]),
        Step::Advance(days) => format!("ADVANCE {days} DAYS"),
        Step::Clone { from, with_store } => {
            *clones += 1;
            format!("CLONE DEVICE pc{from} AS clone{clones}{}", if *with_store { " WITH STORE" } else { "" })
        }
        Step::Reimage(d) => format!("REIMAGE DEVICE pc{d}"),
        Step::ClearStore(d) => format!("CLEAR DEVICE pc{d} STORE"),
        Step::Revoke(id) => format!("REVOKE LICENSE {id}"),
        Step::Rebuild { server, reinstall } => {
            format!("REBUILD SERVER {}{}", SERVERS[*server], if *reinstall { " REINSTALL KEYPACKS" } else { "" })
        }
        Step::Offline(s, on) => format!("SET SERVER {} {}", SERVERS[*s], if *on { "ONLINE" } else { "OFFLINE" }),
        Step::Logoff(id) => format!("LOGOFF SESSION {id}"),
    }
}

/// Runs the deployment and the steps; returns the dump. CHECK runs after
/// every statement and must find nothing.
fn run(steps: &[Step]) -> Result<String, TestCaseError> {
    let mut db = Database::open_in_memory().map_err(|e| TestCaseError::fail(e.to_string()))?;
    for s in SETUP {
        db.execute(s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
    }
    for d in 0..DEVICES {
        db.execute(&format!("CREATE DEVICE pc{d}")).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    let mut clones = 0;
    for s in steps {
        let stmt = text(s, &mut clones);
        // Refusals (a revoke of an unknown id, a session already ended)
        // are fine; what matters is that nothing breaks.
        let _ = db.execute(&stmt);
        let problems = db.execute("CHECK").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let rows = problems.map(|r| r.rows).unwrap_or_default();
        prop_assert!(rows.is_empty(), "after {stmt}: CHECK found {rows:?}");
    }
    db.dump().map_err(|e| TestCaseError::fail(e.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_every_invariant_and_replay_identically(steps in prop::collection::vec(step(), 1..50)) {
        let first = run(&steps)?;
        let second = run(&steps)?;
        prop_assert_eq!(first, second, "the same seed and statements gave two databases");
    }
}

#[test]
fn a_long_fixed_sequence_issues_upgrades_renews_and_expires() {
    // Not random: makes sure the simulation reaches the interesting states,
    // so the property above is not vacuous.
    let mut steps = Vec::new();
    for round in 0..30u32 {
        for d in 0..DEVICES {
            steps.push(Step::Connect { device: d, user: d % 3, host: (d + round as usize) % 3, failed: false });
        }
        steps.push(Step::Advance(9));
    }
    let dump = run(&steps).expect("the fixed run");
    for status in ["'upgraded'", "'active'", "'expired'"] {
        assert!(dump.contains(status), "the fixed run never produced a license {status}");
    }
}
