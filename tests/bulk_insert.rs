//! The store's bulk insert of new licenses (IMPORT's path, in chunks whose
//! index entries are sorted) leaves exactly the records and index entries
//! that writing the same licenses one at a time leaves, whatever the order
//! of the licenses and however they are chunked.

#[path = "support/store.rs"]
mod stored;

use caldb::clock::Rng;
use caldb::model::{LicenseKind, LicenseStatus, Product};
use caldb::store::{LicenseRec, Store, T};
use caldb::{Hwid, Time};
use stored::Entry;

/// `n` licenses in a shuffled id order, with random HWIDs and expiries,
/// some of them not live (their `idx_license_expiry` entry flagged 0) and some
/// sharing a HWID or a computer.
fn licenses(n: u64) -> Vec<LicenseRec> {
    let mut rng = Rng::seeded(7);
    let mut ls: Vec<LicenseRec> = (1..=n)
        .map(|id| {
            let status =
                [LicenseStatus::Active, LicenseStatus::Expired, LicenseStatus::Revoked][rng.between(0, 2) as usize];
            let issued = Time(1_767_600_000 - rng.between(0, 2_592_000) as i64);
            LicenseRec {
                id,
                keypack: rng.between(2, 3),
                server: "ls1".into(),
                kind: LicenseKind::Permanent,
                status,
                hwid: if id % 10 == 0 { Hwid([7; 20]) } else { rng.hwid() },
                computer: format!("PC-{:05}", rng.between(0, n / 2)),
                user: format!("u{id}"),
                product: Product::Ws2022,
                issued,
                expires: issued.plus_days(rng.between(52, 89) as i64),
                validated: true,
                revoked: (status == LicenseStatus::Revoked).then_some(issued),
            }
        })
        .collect();
    for i in (1..ls.len()).rev() {
        ls.swap(i, rng.between(0, i as u64) as usize);
    }
    ls
}

/// Every entry of the licenses table and of each index, as bytes, and
/// `expired_through`.
fn entries(store: &Store) -> (Vec<Entry>, Time) {
    let tables: Vec<T> = [T::Licenses].iter().chain(T::indexes()).copied().collect();
    stored::entries(store, &tables)
}

#[test]
fn bulk_inserted_licenses_leave_what_one_by_one_writes_leave() {
    let all = licenses(2_000);
    let one = Store::in_memory().expect("store");
    let mut tx = one.write().expect("write");
    for l in &all {
        tx.put_license(l).expect("put");
    }
    tx.commit().expect("commit");
    let expected = entries(&one);
    let flags = |v: u8| expected.0.iter().filter(|(t, _, f)| *t == T::IdxLicenseExpiry && f[..] == [v]).count();
    assert!(flags(1) > 0 && flags(0) > 0, "some licenses are live, some not");
    let revoked = all.iter().filter(|l| l.status == LicenseStatus::Revoked).count();
    assert!(revoked > 0, "some licenses are revoked");
    assert_eq!(expected.0.len(), all.len() * 4 + revoked, "three index entries each, a fourth for the revoked");

    for chunk in [1, 7, 500, 2_000] {
        let bulk = Store::in_memory().expect("store");
        let mut tx = bulk.write().expect("write");
        for part in all.chunks(chunk) {
            tx.insert_new_licenses(&mut part.to_vec()).expect("bulk insert");
        }
        tx.commit().expect("commit");
        assert!(entries(&bulk) == expected, "chunks of {chunk}: the entries differ");
    }
}
