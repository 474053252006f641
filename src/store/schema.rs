//! The on-disk contract in words and bytes: every table, its key encoding
//! and its value, the format version, and a sample of each record as
//! bincode writes it. `schema/caldb.schema` holds the same text; a test
//! fails when they differ, so a change of format is always deliberate.

use super::records::*;
use super::{FORMAT_VERSION, T, codec, keys};
use crate::error::Result;
use crate::model::*;
use std::fmt::Write;

/// What each table's key and value are.
fn layout(t: T) -> (&'static str, &'static str) {
    match t {
        T::Meta => (
            "b\"format\" | b\"state\" | b\"expired_through\" | b\"damaged\"",
            "u32 format version | State | time | UTF-8 text of the damage a writable open found",
        ),
        T::Servers => ("name", "ServerRec"),
        T::Keypacks => ("id u64: server ordinal u32, number u32", "KeypackRec"),
        T::Licenses => ("id u64: server ordinal u32, number u32", "LicenseRec"),
        T::Devices => ("name", "DeviceRec"),
        T::Tokens => (
            "device NUL slot u32",
            "StoredToken: Full(TokenRec), or Placed(PlacedToken): by reference to its license, which holds its server, kind, computer, user, issue time and HWID",
        ),
        T::Hosts => ("name", "HostRec"),
        T::Sessions => ("id u64", "SessionRec"),
        T::UserCals => ("server NUL user NUL product NUL", "UserCalRec"),
        T::Events => ("seq u64", "EventRec"),
        T::History => (
            "seq u64 of the chunk's last row",
            "chunk of up to 256 rows: u32 LE count (its top byte the codec: 0 LZ4, 1 zstd), the body's u32 LE length, then the body as an LZ4 block (lz4_flex) or a zstd frame: per row seq u64 BE, u32 LE length, HistoryRec",
        ),
        T::Credentials => ("server name", "CredentialsRec"),
        T::IdxLicenseHwid => ("hwid [u8; 20] license u64", "empty (index of licenses by HWID)"),
        T::IdxLicenseComputer => ("computer NUL license u64", "empty (index of licenses by computer)"),
        T::IdxLicenseExpiry => (
            "expires time license u64",
            "u8 1 while the license is live, else 0 (index of licenses by expiry; expiry visits the live ones after meta's expired_through)",
        ),
        T::IdxLicenseRevoked => {
            ("keypack u64 license u64", "empty (revoked licenses only, by key pack: what the revoke limit counts)")
        }
        T::IdxDeviceHwid => ("hwid [u8; 20] device NUL", "empty (index of devices by HWID)"),
        T::IdxSessionLive => ("user NUL host NUL", "session id u64 (live sessions only)"),
    }
}

const SAMPLE_TIME: Time = Time(1_767_225_600); // 2026-01-01
const SAMPLE_HWID: Hwid = Hwid([0xAB; 20]);

/// One fixed record of each kind, encoded: the bytes pin the field order
/// and types.
fn samples() -> Result<Vec<(&'static str, Vec<u8>)>> {
    let t = SAMPLE_TIME;
    let s = |v: &str| v.to_string();
    Ok(vec![
        ("State", codec::encode(&State { server_ids: vec![ServerIds::default()], ..State::new() })?),
        (
            "ServerRec",
            codec::encode(&ServerRec {
                prevent_upgrade: false,
                name: s("ls1"),
                product: Product::Ws2022,
                scope: s("default"),
                activated: true,
                online: true,
                security_group: true,
                group_hosts: vec![s("h1")],
                created: t,
                ordinal: 1,
            })?,
        ),
        (
            "KeypackRec",
            codec::encode(&KeypackRec {
                id: keys::row_id(1, 2),
                server: s("ls1"),
                product: Product::Ws2022,
                cal: CalType::Device,
                kind: KeypackType::Retail,
                total: Some(10),
                issued: 1,
                installed: t,
                expires: Some(t),
                inferred: false,
            })?,
        ),
        (
            "LicenseRec",
            codec::encode(&LicenseRec {
                id: keys::row_id(1, 3),
                keypack: keys::row_id(1, 2),
                server: s("ls1"),
                kind: LicenseKind::Permanent,
                status: LicenseStatus::Active,
                hwid: SAMPLE_HWID,
                computer: s("pc1"),
                user: s("u"),
                product: Product::Ws2022,
                issued: t,
                expires: t,
                validated: true,
                revoked: None,
            })?,
        ),
        ("DeviceRec", codec::encode(&DeviceRec { name: s("pc1"), hwid: SAMPLE_HWID, created: t })?),
        (
            "StoredToken::Full",
            codec::encode(&StoredToken::Full(TokenRec {
                device: s("pc1"),
                slot: 0,
                license: keys::row_id(1, 3),
                server: s("ls1"),
                scope: s("default"),
                kind: LicenseKind::Permanent,
                product: Product::Ws2022,
                computer: s("pc1"),
                user: s("u"),
                issued: t,
                expires: t,
                hwid: SAMPLE_HWID,
            }))?,
        ),
        (
            "StoredToken::Placed",
            codec::encode(&StoredToken::Placed(PlacedToken {
                device: None,
                slot: 0,
                license: keys::row_id(1, 3),
                scope: s("default"),
                product: Product::Ws2022,
                expires: t,
            }))?,
        ),
        (
            "HostRec",
            codec::encode(&HostRec {
                name: s("h1"),
                product: Product::Ws2022,
                mode: Mode::Device,
                scope: s("default"),
                license_servers: vec![s("ls1")],
                farm: Some(s("f")),
                created: t,
                grace_ends: t,
            })?,
        ),
        (
            "SessionRec",
            codec::encode(&SessionRec {
                admin: false,
                id: 1,
                user: s("u"),
                device: s("pc1"),
                host: s("h1"),
                farm: None,
                state: SessionState::Active,
                started: t,
                changed: t,
            })?,
        ),
        (
            "UserCalRec",
            codec::encode(&UserCalRec {
                server: s("ls1"),
                user: s("u"),
                product: Product::Ws2022,
                issued: t,
                expires: t,
            })?,
        ),
        (
            "EventRec",
            codec::encode(&EventRec {
                seq: 1,
                time: t,
                source: EventSource::LicenseServer,
                node: s("ls1"),
                event: 4,
                level: EventLevel::Info,
                message: s("m"),
            })?,
        ),
        ("HistoryRec", codec::encode(&HistoryRec { seq: 1, time: t, statement: s("CHECK") })?),
        (
            "CredentialsRec",
            codec::encode(&super::CredentialsRec {
                server: s("ls1"),
                n: vec![0xC5],
                e: vec![1, 0, 1],
                d: vec![0x0D],
                p: vec![0x0B],
                q: vec![0x13],
                chain: vec![vec![0x30], vec![0x30, 0x82]],
                secret: vec![0x5E; 2],
                seeded: true,
            })?,
        ),
    ])
}

/// The text of `schema/caldb.schema`.
pub fn describe() -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "# caldb on-disk schema: generated by store::schema::describe; a test compares.");
    let _ = writeln!(out, "format_version {FORMAT_VERSION}");
    let _ = writeln!(
        out,
        "encoding keys: ordered bytes (names folded to their simple uppercase (Windows order), UTF-8, + NUL in composites, integers big-endian, times big-endian i64 with the sign bit flipped)"
    );
    let _ = writeln!(out, "encoding values: serde + bincode 2.0.1 standard config (varint little-endian)");
    let _ = writeln!(
        out,
        "envelope: every stored value is its payload (below) then crc32c(table name ++ key ++ payload) u32 LE; meta's b\"format\" alone is bare"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "redb types: var = &[u8]; fixed N = caldb::Fixed<N>, N bytes compared as bytes (no per-entry offsets)"
    );
    let _ = writeln!(out);
    for t in T::ALL {
        let (key, value) = layout(t);
        let width = |w: Option<usize>| w.map_or("var".to_string(), |n| format!("fixed {n}"));
        let stored = t.shape().value_width().map(|w| w + super::envelope::CHECKSUM_LEN);
        let (kw, vw) = (width(t.shape().key_width()), width(stored));
        let _ = writeln!(out, "table {}: key {key} [{kw}]; value {value} [{vw}]", t.name());
    }
    let _ = writeln!(out);
    for (name, bytes) in samples()? {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(out, "sample {name}: {hex}");
    }
    Ok(out)
}
