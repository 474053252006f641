//! The records stored in each table, and the key each is stored under.
//! Field order is the on-disk format: append, never reorder (see `schema/`).

use super::keys::{self, Key};
use crate::model::*;
use serde::{Deserialize, Serialize};

/// A stored id (`keys::row_id`) as a record holds it: the server's ordinal
/// and the server's number, each a varint, so ids of the first 250 servers
/// and numbers take two bytes where the u64 would take nine.
mod row_id {
    use super::keys;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
        (keys::server_of(*id), keys::number(*id) as u32).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let (server, number): (u32, u32) = Deserialize::deserialize(d)?;
        Ok(keys::row_id(server, number))
    }
}

/// Database-wide state, one record in `meta`: the clock, the random source
/// and the id counters (ids only grow).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// `None`: the wall clock; `Some(t)`: the simulated clock stands at t.
    pub clock: Option<Time>,
    pub seed: u64,
    pub rng: u64,
    pub next_session: u64,
    pub next_event: u64,
    pub next_history: u64,
    /// The newest time recorded in `history`; the clock never goes behind it.
    pub last_time: Option<Time>,
    /// Each server's id counters, by its ordinal (`ServerRec::ordinal`,
    /// from 1): its key packs and licenses are numbered per server, as
    /// Windows numbers them; the next ordinal is one past the last.
    pub server_ids: Vec<ServerIds>,
}

/// A server's next key pack and license numbers (ids only grow, on each
/// server: a rebuilt server does not give a deleted license's number
/// again, so a stale token never names a new license).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerIds {
    pub next_keypack: u32,
    pub next_license: u32,
}

impl Default for ServerIds {
    fn default() -> Self {
        ServerIds { next_keypack: 1, next_license: 1 }
    }
}

impl State {
    pub fn new() -> State {
        State {
            clock: None,
            seed: 0,
            rng: crate::clock::Rng::seeded(0).state(),
            next_session: 1,
            next_event: 1,
            next_history: 1,
            last_time: None,
            server_ids: Vec::new(),
        }
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerRec {
    pub name: String,
    pub product: Product,
    pub scope: String,
    pub activated: bool,
    pub online: bool,
    /// Whether the "License server security group" policy is on.
    pub security_group: bool,
    /// The hosts in the group, by name.
    pub group_hosts: Vec<String>,
    pub created: Time,
    /// "Prevent License Upgrade": CALs of exactly the host's product only.
    pub prevent_upgrade: bool,
    /// The server's ordinal (from 1, in order of creation): the high half
    /// of its key packs' and licenses' stored ids (`keys::row_id`).
    pub ordinal: u32,
}

impl ServerRec {
    pub fn key(&self) -> std::borrow::Cow<'_, [u8]> {
        keys::name(&self.name)
    }
}

/// A key pack. Read back, one that says it issued more CALs than it holds
/// is refused as it is decoded (`KeypackFields`): the write path asserts
/// the same rule (`WriteTx::put_keypack`), so such a record is damage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "KeypackFields")]
pub struct KeypackRec {
    /// The stored id: server ordinal and number (`keys::row_id`).
    #[serde(with = "row_id")]
    pub id: u64,
    pub server: String,
    pub product: Product,
    pub cal: CalType,
    pub kind: KeypackType,
    /// `None` for the server's temporary pack, which has no pool.
    pub total: Option<u64>,
    /// Active licenses of the pack (permanent device CALs drawn from it).
    pub issued: u64,
    pub installed: Time,
    pub expires: Option<Time>,
    /// A pack IMPORT LICENSES made up for licenses whose pack the server
    /// lacked: product and CAL type unknown (the licenses' product, per
    /// device), `total` what the licenses show, until IMPORT KEYPACKS
    /// brings the pack itself.
    pub inferred: bool,
}

/// `KeypackRec` as stored, field for field (the same encoding), checked
/// before it becomes one.
#[derive(Deserialize)]
struct KeypackFields {
    #[serde(with = "row_id")]
    id: u64,
    server: String,
    product: Product,
    cal: CalType,
    kind: KeypackType,
    total: Option<u64>,
    issued: u64,
    installed: Time,
    expires: Option<Time>,
    inferred: bool,
}

impl TryFrom<KeypackFields> for KeypackRec {
    type Error = String;

    fn try_from(f: KeypackFields) -> Result<KeypackRec, String> {
        if let Some(total) = f.total.filter(|total| f.issued > *total) {
            return Err(format!("key pack {} says {} of its {total} CALs are issued", keys::number(f.id), f.issued));
        }
        let KeypackFields { id, server, product, cal, kind, total, issued, installed, expires, inferred } = f;
        Ok(KeypackRec { id, server, product, cal, kind, total, issued, installed, expires, inferred })
    }
}

impl KeypackRec {
    pub fn key(&self) -> [u8; 8] {
        keys::id(self.id)
    }

    /// Whether a license of this pack in `status` holds one of its CALs
    /// (`LicenseStatus::holds_cal`, in the status that fits the pack: a
    /// temporary pack's licenses while temporary, a purchased pack's while
    /// active).
    pub fn holds_cal(&self, status: LicenseStatus) -> bool {
        status.holds_cal() && (self.kind == KeypackType::Temporary) == (status == LicenseStatus::Temporary)
    }

    /// A purchased per-device pack: the pools CONNECT draws permanent CALs
    /// from and the revoke limit counts (not a per-user pack, not the
    /// server's temporary one).
    pub fn is_purchased_device(&self) -> bool {
        self.cal == CalType::Device && self.kind != KeypackType::Temporary
    }

    pub fn available(&self) -> Option<u64> {
        self.total.map(|t| t.saturating_sub(self.issued))
    }

    /// The number the server gives this pack (its id as users see it).
    pub fn number(&self) -> u64 {
        keys::number(self.id)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LicenseRec {
    /// The stored id: server ordinal and number (`keys::row_id`).
    #[serde(with = "row_id")]
    pub id: u64,
    /// The stored id of its key pack, on the same server.
    #[serde(with = "row_id")]
    pub keypack: u64,
    pub server: String,
    pub kind: LicenseKind,
    pub status: LicenseStatus,
    pub hwid: Hwid,
    pub computer: String,
    pub user: String,
    pub product: Product,
    pub issued: Time,
    pub expires: Time,
    pub validated: bool,
    pub revoked: Option<Time>,
}

impl LicenseRec {
    pub fn key(&self) -> [u8; 8] {
        keys::id(self.id)
    }

    /// The number the server gives this license (its id as users see it).
    pub fn number(&self) -> u64 {
        keys::number(self.id)
    }

    /// Licenses that will still change state at their expiry.
    pub fn is_live(&self) -> bool {
        !matches!(self.status, LicenseStatus::Expired | LicenseStatus::Upgraded)
    }

    /// Whether expiry would pass this license by: it is live but expires
    /// at or before `expired_through`, up to when expiry has visited every
    /// license. `expired_through` must then move back to `catch_up`.
    pub fn missed_by_expiry(&self, expired_through: Time) -> bool {
        self.is_live() && self.expires <= expired_through
    }

    /// The `expired_through` that has expiry visit this license again.
    pub fn catch_up(&self) -> Time {
        Time(self.expires.0.saturating_sub(1))
    }
}

/// A license record read in place: the same fields as `LicenseRec`, in
/// the same order and encoding, with its names borrowed from the stored
/// bytes. A scan that reads a million licenses (SELECT) decodes this, not
/// three `String`s per row (`codec::decode_borrowed`).
#[derive(Debug, PartialEq, Deserialize)]
pub struct LicenseView<'a> {
    #[serde(with = "row_id")]
    pub id: u64,
    #[serde(with = "row_id")]
    pub keypack: u64,
    pub server: &'a str,
    pub kind: LicenseKind,
    pub status: LicenseStatus,
    pub hwid: Hwid,
    pub computer: &'a str,
    pub user: &'a str,
    pub product: Product,
    pub issued: Time,
    pub expires: Time,
    pub validated: bool,
    pub revoked: Option<Time>,
}

impl<'a> LicenseView<'a> {
    /// Reads a stored license in place, by hand: the bytes it accepts and
    /// the values it gives are `codec::decode_borrowed`'s (bincode's
    /// standard configuration: variable-length integers, zigzag for
    /// signed ones, a length before each text, a variant's index before
    /// it), which a property test holds it to; it costs about a third as
    /// much, which a scan of a million licenses feels.
    pub fn read(bytes: &'a [u8]) -> crate::error::Result<LicenseView<'a>> {
        let mut r = Bytes(bytes);
        let view = LicenseView {
            id: r.row_id()?,
            keypack: r.row_id()?,
            server: r.text()?,
            kind: r.variant(LicenseKind::ALL)?,
            status: r.variant(LicenseStatus::ALL)?,
            hwid: Hwid(r.array()?),
            computer: r.text()?,
            user: r.text()?,
            product: r.variant(Product::ALL)?,
            issued: Time(r.signed()?),
            expires: Time(r.signed()?),
            validated: r.flag()?,
            revoked: match r.byte()? {
                0 => None,
                1 => Some(Time(r.signed()?)),
                _ => return Err(undecodable("an option's tag is neither 0 nor 1")),
            },
        };
        if !r.0.is_empty() {
            return Err(undecodable("trailing bytes"));
        }
        Ok(view)
    }
}

fn undecodable(why: &str) -> crate::error::Error {
    crate::error::Error::damaged(format!("the record cannot be decoded: {why}"))
}

/// The bytes of a record not read yet.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> crate::error::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(undecodable("the record ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> crate::error::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> crate::error::Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A variable-length unsigned integer of at most `wide` bytes: one
    /// byte below 251, else 251, 252 or 253 and 2, 4 or 8 bytes.
    fn unsigned(&mut self, wide: usize) -> crate::error::Result<u64> {
        Ok(match self.byte()? {
            b @ 0..=250 => u64::from(b),
            251 => u64::from(u16::from_le_bytes(self.array()?)),
            252 if wide >= 4 => u64::from(u32::from_le_bytes(self.array()?)),
            253 if wide >= 8 => u64::from_le_bytes(self.array()?),
            _ => return Err(undecodable("an integer's length byte is not one its type takes")),
        })
    }

    fn u32(&mut self) -> crate::error::Result<u32> {
        Ok(self.unsigned(4)? as u32)
    }

    fn signed(&mut self) -> crate::error::Result<i64> {
        let n = self.unsigned(8)?;
        Ok(if n % 2 == 0 { (n / 2) as i64 } else { !(n / 2) as i64 })
    }

    fn row_id(&mut self) -> crate::error::Result<u64> {
        let server = self.u32()?;
        Ok(keys::row_id(server, self.u32()?))
    }

    fn text(&mut self) -> crate::error::Result<&'a str> {
        let len = usize::try_from(self.unsigned(8)?).map_err(|_| undecodable("a text's length is too large"))?;
        std::str::from_utf8(self.take(len)?).map_err(|_| undecodable("a text is not UTF-8"))
    }

    fn flag(&mut self) -> crate::error::Result<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(undecodable("a truth value is neither 0 nor 1")),
        }
    }

    fn variant<E: Copy>(&mut self, all: &[E]) -> crate::error::Result<E> {
        let index = self.u32()? as usize;
        all.get(index).copied().ok_or_else(|| undecodable("an unknown variant"))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceRec {
    pub name: String,
    pub hwid: Hwid,
    pub created: Time,
}

impl DeviceRec {
    pub fn key(&self) -> std::borrow::Cow<'_, [u8]> {
        keys::name(&self.name)
    }
}

/// A CAL as the client stores it (`MSLicensing\Store\LICENSE00x`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRec {
    pub device: String,
    pub slot: u32,
    /// The stored id of the license (`keys::row_id`).
    #[serde(with = "row_id")]
    pub license: u64,
    pub server: String,
    pub scope: String,
    pub kind: LicenseKind,
    pub product: Product,
    pub computer: String,
    pub user: String,
    pub issued: Time,
    pub expires: Time,
    pub hwid: Hwid,
}

impl TokenRec {
    pub fn key(&self) -> Vec<u8> {
        token_key(&self.device, self.slot)
    }
}

/// How `tokens` stores a token (format 5). A token the protocol places
/// from its license (`protocol::issue::token_of`) repeats that license's
/// server, kind, computer, user, issue time and HWID, which no protocol
/// step changes once the license is stored; it is stored `Placed`, by
/// reference: about a quarter of the bytes. Any other token is stored
/// `Full`, and so is one whose license goes or changes one of those
/// fields: `WriteTx::delete_licenses` and `rewrite_license` write such
/// tokens whole first (a device keeps the CAL it holds when the server's
/// record of it is deleted, as after a rebuilt database).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StoredToken {
    Full(TokenRec),
    Placed(PlacedToken),
}

/// A token stored by reference to its license: what it does not share
/// with it. The product and expiry are the token's own (a key pack's
/// product is settled later, a renewal moves the license's expiry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacedToken {
    /// The device's spelling, when it is not the license's computer.
    pub device: Option<String>,
    pub slot: u32,
    #[serde(with = "row_id")]
    pub license: u64,
    pub scope: String,
    pub product: Product,
    pub expires: Time,
}

impl StoredToken {
    /// How `t` is stored, given its license `l` as stored (`None`: there
    /// is none).
    pub fn of(t: &TokenRec, l: Option<&LicenseRec>) -> StoredToken {
        match l {
            Some(l) if l.id == t.license && PlacedToken::shares(t, l) => StoredToken::Placed(PlacedToken {
                device: (t.device != l.computer).then(|| t.device.clone()),
                slot: t.slot,
                license: t.license,
                scope: t.scope.clone(),
                product: t.product,
                expires: t.expires,
            }),
            _ => StoredToken::Full(t.clone()),
        }
    }

    /// The license a placed token takes its fields from.
    pub fn placed_from(&self) -> Option<u64> {
        match self {
            StoredToken::Full(_) => None,
            StoredToken::Placed(p) => Some(p.license),
        }
    }

    /// The token, its placed fields read from `license` (which must be
    /// `placed_from`'s license as stored).
    pub fn token(self, license: impl FnOnce(u64) -> crate::error::Result<Option<LicenseRec>>) -> crate::error::Result<TokenRec> {
        let p = match self {
            StoredToken::Full(t) => return Ok(t),
            StoredToken::Placed(p) => p,
        };
        let l = license(p.license)?.ok_or_else(|| {
            crate::error::Error::damaged(format!(
                "the token takes its fields from license {} of server #{}, which is not there",
                keys::number(p.license),
                keys::server_of(p.license)
            ))
        })?;
        Ok(TokenRec {
            device: p.device.unwrap_or_else(|| l.computer.clone()),
            slot: p.slot,
            license: p.license,
            server: l.server,
            scope: p.scope,
            kind: l.kind,
            product: p.product,
            computer: l.computer,
            user: l.user,
            issued: l.issued,
            expires: p.expires,
            hwid: l.hwid,
        })
    }
}

/// What a placed token reads from its license: server, kind, computer,
/// user, issue time and HWID.
type PlacedFields<'a> = (&'a str, LicenseKind, &'a str, &'a str, Time, &'a Hwid);

impl PlacedToken {
    /// Whether `t` holds `l`'s placed fields.
    fn shares(t: &TokenRec, l: &LicenseRec) -> bool {
        (t.server.as_str(), t.kind, t.computer.as_str(), t.user.as_str(), t.issued, &t.hwid) == l.placed_fields()
    }
}

impl LicenseRec {
    /// A permanent, active, validated license of key pack 1 on `ls1`,
    /// issued and expiring at `at`, its HWID 20 bytes of `id`: the tests'.
    #[cfg(test)]
    pub fn sample(id: u64, computer: &str, at: Time) -> LicenseRec {
        LicenseRec {
            id,
            keypack: 1,
            server: "ls1".into(),
            kind: LicenseKind::Permanent,
            status: LicenseStatus::Active,
            hwid: Hwid([id as u8; 20]),
            computer: computer.into(),
            user: "u".into(),
            product: Product::Ws2022,
            issued: at,
            expires: at,
            validated: true,
            revoked: None,
        }
    }

    fn placed_fields(&self) -> PlacedFields<'_> {
        (&self.server, self.kind, &self.computer, &self.user, self.issued, &self.hwid)
    }

    /// Whether rewriting this license as `new` keeps what placed tokens
    /// read from it.
    pub fn keeps_placed_fields(&self, new: &LicenseRec) -> bool {
        self.placed_fields() == new.placed_fields()
    }
}

pub fn token_key(device: &str, slot: u32) -> Vec<u8> {
    Key::new().name(device).slot(slot).done()
}

pub fn tokens_prefix(device: &str) -> Vec<u8> {
    Key::new().name(device).done()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostRec {
    pub name: String,
    pub product: Product,
    pub mode: Mode,
    pub scope: String,
    pub license_servers: Vec<String>,
    pub farm: Option<String>,
    pub created: Time,
    /// When the grace period ends (or ended: early, at the first discovery).
    pub grace_ends: Time,
}

impl HostRec {
    pub fn key(&self) -> std::borrow::Cow<'_, [u8]> {
        keys::name(&self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRec {
    pub id: u64,
    pub user: String,
    pub device: String,
    pub host: String,
    pub farm: Option<String>,
    pub state: SessionState,
    pub started: Time,
    pub changed: Time,
    /// Remote Desktop for Administration (`CONNECT ... ADMIN`): no CAL.
    pub admin: bool,
}

impl SessionRec {
    pub fn key(&self) -> [u8; 8] {
        keys::id(self.id)
    }
}

/// Index key of a live session: user, host.
pub fn session_live_key(user: &str, host: &str) -> Vec<u8> {
    Key::new().name(user).name(host).done()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserCalRec {
    pub server: String,
    pub user: String,
    pub product: Product,
    pub issued: Time,
    pub expires: Time,
}

impl UserCalRec {
    pub fn key(&self) -> Vec<u8> {
        user_cal_key(&self.server, &self.user, self.product)
    }
}

pub fn user_cal_key(server: &str, user: &str, product: Product) -> Vec<u8> {
    Key::new().name(server).name(user).name(product.as_str()).done()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRec {
    pub seq: u64,
    pub time: Time,
    pub source: EventSource,
    pub node: String,
    pub event: u32,
    pub level: EventLevel,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryRec {
    pub seq: u64,
    pub time: Time,
    pub statement: String,
}

/// A `HistoryRec` to write, its statement borrowed: serde writes a `&str`
/// as it writes a `String`, so the bytes are the same, and the statement's
/// text is not copied once more for every statement run.
#[derive(Serialize)]
pub struct HistoryRow<'a> {
    pub seq: u64,
    pub time: Time,
    pub statement: &'a str,
}

// Index keys. Each index maps its key to an empty value, except
// `idx_session_live`, whose value is the session id.

pub fn idx_license_hwid(hwid: &Hwid, license: u64) -> Vec<u8> {
    Key::new().hwid(hwid).id(license).done()
}

pub fn idx_license_computer(computer: &str, license: u64) -> Vec<u8> {
    Key::new().name(computer).id(license).done()
}

pub fn idx_license_expiry(expires: Time, license: u64) -> Vec<u8> {
    Key::new().time(expires).id(license).done()
}

pub fn idx_license_revoked(keypack: u64, license: u64) -> Vec<u8> {
    Key::new().id(keypack).id(license).done()
}

pub fn idx_device_hwid(hwid: &Hwid, device: &str) -> Vec<u8> {
    Key::new().hwid(hwid).name(device).done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_row_encodes_as_its_history_record() {
        let rec = HistoryRec { seq: 7, time: Time(1_767_603_600), statement: "CONNECT pc1 AS alice TO h1".into() };
        let row = HistoryRow { seq: rec.seq, time: rec.time, statement: &rec.statement };
        let (a, b) = (crate::store::codec::encode(&rec).unwrap(), crate::store::codec::encode(&row).unwrap());
        assert_eq!(a, b);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        #[test]
        fn a_license_read_by_hand_is_what_serde_decodes_from_any_bytes(
            server in 0u32..70_000, number in proptest::prelude::any::<u32>(), pack in 0u32..300,
            names in proptest::collection::vec(proptest::prop_oneof![6 => "[a-zA-Z0-9Ü-]{0,12}", 1 => "[a-z]{249,260}"], 3),
            kind in 0usize..2, status in 0usize..5, product in 0usize..9,
            hwid in proptest::prelude::any::<[u8; 20]>(),
            times in proptest::collection::vec(proptest::prelude::any::<i64>(), 3),
            validated in proptest::prelude::any::<bool>(), revoked in proptest::prelude::any::<bool>(),
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prop_oneof![0u8..4, 248u8..=255, proptest::prelude::any::<u8>()]), 0..4),
            cut in proptest::prelude::any::<Option<usize>>(),
        ) {
            let rec = LicenseRec {
                id: keys::row_id(server, number),
                keypack: keys::row_id(server, pack),
                server: names[0].clone(),
                kind: LicenseKind::ALL[kind],
                status: LicenseStatus::ALL[status],
                hwid: Hwid(hwid),
                computer: names[1].clone(),
                user: names[2].clone(),
                product: Product::ALL[product],
                issued: Time(times[0]),
                expires: Time(times[1]),
                validated,
                revoked: revoked.then_some(Time(times[2])),
            };
            let mut bytes = crate::store::codec::encode(&rec).unwrap();
            let whole = LicenseView::read(&bytes).unwrap();
            proptest::prop_assert_eq!(&whole, &crate::store::codec::decode_borrowed::<LicenseView>(&bytes).unwrap());
            // Damaged: every single byte set to each value that means
            // something to a decoder, a few bytes changed at random, the
            // record cut short or lengthened.
            for at in 0..bytes.len() {
                for b in [0, 1, 2, 3, 127, 128, 250, 251, 252, 253, 254, 255] {
                    let mut one = bytes.clone();
                    one[at] = b;
                    let by_hand = LicenseView::read(&one).ok();
                    proptest::prop_assert_eq!(by_hand, crate::store::codec::decode_borrowed::<LicenseView>(&one).ok());
                }
            }
            for (at, b) in &edits {
                let n = bytes.len();
                bytes[at % n] = *b;
            }
            if let Some(cut) = cut {
                match cut % 3 {
                    0 => bytes.truncate(cut % (bytes.len() + 1)),
                    1 => bytes.push(cut as u8),
                    _ => {}
                }
            }
            let by_hand = LicenseView::read(&bytes).ok();
            let by_serde = crate::store::codec::decode_borrowed::<LicenseView>(&bytes).ok();
            proptest::prop_assert_eq!(by_hand, by_serde);
        }
    }

    #[test]
    fn a_license_view_decodes_every_field_as_the_record_does() {
        let rec = LicenseRec {
            id: keys::row_id(2, 300),
            keypack: keys::row_id(2, 7),
            server: "LS-Ünï".into(),
            kind: LicenseKind::Temporary,
            status: LicenseStatus::Revoked,
            hwid: Hwid(std::array::from_fn(|i| (i * 13) as u8)),
            computer: "pc-1".into(),
            user: "alice".into(),
            product: Product::Ws2022,
            issued: Time(1_767_603_600),
            expires: Time(1_770_000_000),
            validated: true,
            revoked: Some(Time(1_768_000_000)),
        };
        let bytes = crate::store::codec::encode(&rec).unwrap();
        let v: LicenseView = crate::store::codec::decode_borrowed(&bytes).unwrap();
        let back = LicenseRec {
            id: v.id,
            keypack: v.keypack,
            server: v.server.into(),
            kind: v.kind,
            status: v.status,
            hwid: v.hwid,
            computer: v.computer.into(),
            user: v.user.into(),
            product: v.product,
            issued: v.issued,
            expires: v.expires,
            validated: v.validated,
            revoked: v.revoked,
        };
        assert_eq!(back, rec);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(crate::store::codec::decode_borrowed::<LicenseView>(&longer).is_err());
    }
}
