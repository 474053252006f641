//! A reference model of the license server for the simulation: the license
//! statuses, each key pack's pool and each device's token slots, kept by
//! rules written here independently of `src/protocol`, and compared with
//! the database after every statement. The model does not choose key packs
//! or servers (discovery and the pack order have transcripts of their own);
//! it checks that whatever CONNECT chose was allowed, and that every
//! effect of it, and of the clock, the revokes and the rebuilds, is
//! exactly what protocol.md says.

#![allow(dead_code)]

use caldb::{Database, Product, ResultSet, Time, Value};
use std::collections::BTreeMap;

const DAY: i64 = 86_400;

#[derive(Clone, Debug, PartialEq)]
pub struct Pack {
    pub server: String,
    pub product: Product,
    pub device: bool,
    pub temporary: bool,
    pub total: Option<i64>,
    pub expires: Option<Time>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct License {
    pub server: String,
    pub keypack: i64,
    pub permanent: bool,
    pub status: &'static str,
    pub product: Product,
    pub expires: Time,
    pub validated: bool,
}

/// A device's stored copy of a license: it outlives the license row (a
/// rebuild deletes the row, the device keeps its token).
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub license: i64,
    pub permanent: bool,
    pub product: Product,
    pub expires: Time,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub now: Time,
    pub packs: BTreeMap<i64, Pack>,
    pub licenses: BTreeMap<i64, License>,
    /// Device -> slot -> token.
    pub tokens: BTreeMap<String, BTreeMap<i64, Token>>,
    pub online: BTreeMap<String, bool>,
    /// Session id -> ended.
    pub sessions: BTreeMap<i64, bool>,
}

/// What the database returned for one CONNECT.
pub struct Connected {
    pub reason: String,
    pub server: Option<String>,
    pub license: Option<i64>,
    pub permanent: bool,
    pub expires: Option<Time>,
    pub session: Option<i64>,
}

impl Model {
    /// The model of what the database holds after its deployment (packs and
    /// servers read back once, before any license exists).
    pub fn of_deployment(db: &mut Database) -> Model {
        let mut m = Model {
            now: clock(db),
            packs: BTreeMap::new(),
            licenses: BTreeMap::new(),
            tokens: BTreeMap::new(),
            online: BTreeMap::new(),
            sessions: BTreeMap::new(),
        };
        for row in rows(db, "SELECT id, server, product, cal, type, total, expires FROM keypacks") {
            let pack = Pack {
                server: text(&row[1]),
                product: Product::parse(&text(&row[2])).expect("product"),
                device: text(&row[3]) == "device",
                temporary: text(&row[4]) == "temporary",
                total: int_opt(&row[5]),
                expires: time_opt(&row[6]),
            };
            m.packs.insert(gid(&pack.server.clone(), int(&row[0])), pack);
        }
        for row in rows(db, "SELECT name, online FROM servers") {
            m.online.insert(text(&row[0]), row[1] == Value::Bool(true));
        }
        m
    }

    /// protocol.md "Time and randomness", Expiry: at `now`, every live
    /// license whose expiry has come becomes `expired` (its CAL, if it held
    /// one, goes back: pools are derived from statuses below).
    pub fn advance_to(&mut self, now: Time) {
        assert!(now >= self.now, "the clock went back");
        self.now = now;
        for l in self.licenses.values_mut() {
            if matches!(l.status, "active" | "temporary" | "revoked") && l.expires <= now {
                l.status = "expired";
            }
        }
    }

    /// CALs of a pack held now: its active licenses (a permanent pack) or
    /// its licenses still temporary (the temporary pack).
    pub fn issued(&self, pack: i64) -> i64 {
        let holds = |l: &&License| l.keypack == pack && matches!(l.status, "active" | "temporary");
        self.licenses.values().filter(holds).count() as i64
    }

    /// The token a device presents to a host of `host`: permanent before
    /// temporary, then the latest expiry, then the lowest slot; tokens of an
    /// older product than the host's are not presented.
    fn presented(&self, device: &str, host: Product) -> Option<(i64, Token)> {
        let tokens = self.tokens.get(device)?;
        let shown = tokens.iter().filter(|(_, t)| t.product >= host_cal(host));
        shown.max_by_key(|(slot, t)| (t.permanent, t.expires, std::cmp::Reverse(**slot))).map(|(s, t)| (*s, t.clone()))
    }

    /// The effects of one CONNECT of `device` to a host of product `host`
    /// (per-device mode) as the database reported them, checked against
    /// protocol.md's rules and applied to the model. `pack_of` reads the key
    /// pack of a license the model has not seen (the choice is checked, not
    /// made, here).
    pub fn connected(&mut self, device: &str, host: Product, logon_ok: bool, c: &Connected, pack_of: i64) {
        let presented = self.presented(device, host);
        let Some(number) = c.license else { return self.sessions_of(c) };
        // The row's license is numbered on its own server: the presented
        // token's (whose server may not be the row's: a renewal refused by
        // the server found), else a new one of the row's server.
        // A license is new when the database holds the row's (server,
        // number) and the model, in step before the statement, does not:
        // numbers repeat across servers, and a denial (a failed logon) can
        // still have upgraded the presented temporary CAL on a peer.
        let row_id = c.server.as_deref().map(|s| gid(s, number));
        let new = row_id.is_some_and(|id| pack_of != -1 && !self.licenses.contains_key(&id));
        if matches!(c.reason.as_str(), "temporary-issued" | "upgraded" | "reissued") {
            assert!(new, "CONNECT of {device} says {} but license {number} is not new", c.reason);
        }
        let id = match &presented {
            Some((_, t)) if t.license % GID_SERVER == number && !new => t.license,
            _ => gid(c.server.as_deref().expect("a new license names its server"), number),
        };
        assert_eq!(id % GID_SERVER, number, "CONNECT returned license {number}, the model expects {id}");
        match presented {
            Some((slot, t)) if t.license == id => {
                let new_expiry = c.expires.expect("a license has an expiry");
                if new_expiry != t.expires {
                    let l = self.licenses.get_mut(&id).expect("a renewed license is known");
                    assert!(l.permanent && l.status == "active", "only an active permanent CAL is renewed: {l:?}");
                    assert!(t.expires.0 - self.now.0 <= 7 * DAY, "renewed outside its window: {t:?}");
                    assert_permanent_expiry(self.now, new_expiry);
                    l.expires = new_expiry;
                    self.tokens.get_mut(device).expect("tokens").get_mut(&slot).expect("slot").expires = new_expiry;
                }
            }
            _ if !self.licenses.contains_key(&id) => self.issued_new(device, host, logon_ok, c, id, pack_of, presented),
            _ => panic!("CONNECT of {device} returned license {id}, neither new nor its presented token {presented:?}"),
        }
        // After a successful logon the temporary license is validated, when
        // its issuing server is online.
        if let Some(l) = self.licenses.get_mut(&id)
            && logon_ok
            && c.reason == "temporary-valid"
            && l.status == "temporary"
            && self.online.get(&l.server) == Some(&true)
        {
            l.validated = true;
        }
        self.sessions_of(c);
    }

    #[allow(clippy::too_many_arguments)]
    fn issued_new(
        &mut self,
        device: &str,
        host: Product,
        logon_ok: bool,
        c: &Connected,
        id: i64,
        pack: i64,
        presented: Option<(i64, Token)>,
    ) {
        let same_server = |old: &&i64| **old / GID_SERVER == id / GID_SERVER;
        assert!(self.licenses.keys().filter(same_server).all(|&old| old < id), "license ids only grow: {id}");
        let server = c.server.clone().expect("a new license names its server");
        let expires = c.expires.expect("a new license has an expiry");
        let p = self.packs.get(&pack).unwrap_or_else(|| panic!("license {id} is from unknown key pack {pack}"));
        assert_eq!(p.server, server, "license {id}'s pack belongs to its server");
        let slot = if c.permanent {
            assert!(p.device && !p.temporary, "a permanent CAL from pack {pack}: {p:?}");
            assert!(p.product >= host_cal(host), "pack {pack} of {:?} for a {host:?} host", p.product);
            assert!(p.expires.is_none_or(|e| e > self.now), "pack {pack} had expired");
            let total = p.total.expect("a permanent pack has a total");
            assert!(self.issued(pack) < total, "pack {pack} had no CAL left");
            assert_permanent_expiry(self.now, expires);
            let (slot, shown) = presented.expect("a permanent CAL replaces a presented token");
            if !shown.permanent {
                // seed 000's guard: only a validated temporary CAL upgrades
                // (one its server no longer knows never does).
                let old = self.licenses.get_mut(&shown.license);
                let old = old.unwrap_or_else(|| panic!("unknown temporary license {} upgraded", shown.license));
                assert!(old.validated, "license {} upgraded without a successful logon", shown.license);
                old.status = "upgraded";
            }
            slot
        } else {
            assert!(p.temporary, "a temporary CAL from the temporary pack, not {p:?}");
            assert_eq!(expires, self.now.plus_days(90), "a temporary CAL lasts 90 days");
            assert!(presented.is_none(), "a temporary CAL for a device presenting {presented:?}");
            let used = self.tokens.get(device).cloned().unwrap_or_default();
            (0..).find(|s| !used.contains_key(s)).expect("a free slot")
        };
        let license = License {
            server,
            keypack: pack,
            permanent: c.permanent,
            status: if c.permanent { "active" } else { "temporary" },
            product: if c.permanent { self.packs[&pack].product } else { host_cal(host) },
            expires,
            // A permanent license is written validated (it needs no logon to be).
            validated: c.permanent || logon_ok,
        };
        let token = Token { license: id, permanent: c.permanent, product: license.product, expires };
        self.licenses.insert(id, license);
        self.tokens.entry(device.to_string()).or_default().insert(slot, token);
    }

    fn sessions_of(&mut self, c: &Connected) {
        if let Some(s) = c.session {
            self.sessions.insert(s, false);
        }
    }

    /// REVOKE LICENSE: whether protocol.md allows it now (an active
    /// permanent license, under max(1, floor(20%)) of the installed device
    /// CALs of its server and product in the revoked state); if so, applied.
    pub fn revoke(&mut self, id: i64) -> bool {
        let Some(l) = self.licenses.get(&id) else { return false };
        if !l.permanent || l.status != "active" {
            return false;
        }
        let counts = |p: &Pack| p.server == l.server && p.product == l.product && p.device && !p.temporary;
        let installed: i64 = self.packs.values().filter(|p| counts(p)).filter_map(|p| p.total).sum();
        let revoked = self
            .licenses
            .values()
            .filter(|r| r.status == "revoked" && r.server == l.server && r.product == l.product)
            .count() as i64;
        if revoked >= (installed / 5).max(1) {
            return false;
        }
        self.licenses.get_mut(&id).expect("license").status = "revoked";
        true
    }

    /// REBUILD SERVER: its licenses and key packs are gone; its temporary
    /// pack comes back, and with REINSTALL KEYPACKS its other packs too.
    pub fn rebuild(&mut self, server: &str, reinstall: bool) {
        self.licenses.retain(|_, l| l.server != server);
        self.packs.retain(|_, p| p.server != server || p.temporary || reinstall);
    }

    /// CLONE DEVICE: the clone's store is a copy, or empty.
    pub fn clone_device(&mut self, from: &str, to: &str, with_store: bool) {
        let tokens = if with_store { self.tokens.get(from).cloned().unwrap_or_default() } else { BTreeMap::new() };
        self.tokens.insert(to.to_string(), tokens);
    }

    /// REIMAGE DEVICE and CLEAR DEVICE ... STORE: the store is emptied.
    pub fn clear_store(&mut self, device: &str) {
        self.tokens.remove(device);
    }

    /// LOGOFF SESSION: allowed for a session that has not ended.
    pub fn logoff(&mut self, id: i64) -> bool {
        match self.sessions.get_mut(&id) {
            Some(ended) if !*ended => {
                *ended = true;
                true
            }
            _ => false,
        }
    }

    /// Every difference between the model and the database, as text.
    pub fn differences(&self, db: &mut Database) -> Vec<String> {
        let mut out = Vec::new();
        let want: Vec<String> = self
            .licenses
            .iter()
            .map(|(id, l)| format!("license {id}: {} pack {} validated {}", l.status, l.keypack, l.validated))
            .collect();
        let got: Vec<String> = rows(db, "SELECT id, server, status, keypack, validated FROM licenses")
            .iter()
            .map(|r| {
                let server = text(&r[1]);
                let (id, pack) = (gid(&server, int(&r[0])), gid(&server, int(&r[3])));
                format!("license {id}: {} pack {pack} validated {}", text(&r[2]), r[4])
            })
            .collect();
        diff(&mut out, want, got);
        let want: Vec<String> = self.packs.keys().map(|id| format!("pack {id}: issued {}", self.issued(*id))).collect();
        let got: Vec<String> = rows(db, "SELECT id, server, issued FROM keypacks")
            .iter()
            .map(|r| format!("pack {}: issued {}", gid(&text(&r[1]), int(&r[0])), int(&r[2])))
            .collect();
        diff(&mut out, want, got);
        let mut want = Vec::new();
        for (device, slots) in &self.tokens {
            for (slot, t) in slots {
                want.push(format!("token {device}/{slot}: license {} expires {:?}", t.license, t.expires));
            }
        }
        let got: Vec<String> = rows(db, "SELECT device, slot, license, server, expires FROM tokens")
            .iter()
            .map(|r| {
                format!(
                    "token {}/{}: license {} expires {:?}",
                    text(&r[0]),
                    int(&r[1]),
                    gid(&text(&r[3]), int(&r[2])),
                    time_opt(&r[4]).expect("expires")
                )
            })
            .collect();
        diff(&mut out, want, got);
        out
    }
}

/// The model's own key of a key pack or license: each server numbers its
/// own from 1, so the model keys them by server (`lsN` is N) and number.
pub const GID_SERVER: i64 = 1_000_000;

pub fn gid(server: &str, number: i64) -> i64 {
    let n: i64 = server.trim_start_matches("ls").parse().unwrap_or_else(|_| panic!("a server lsN, not '{server}'"));
    n * GID_SERVER + number
}

fn diff(out: &mut Vec<String>, mut want: Vec<String>, mut got: Vec<String>) {
    want.sort();
    got.sort();
    for w in &want {
        if !got.contains(w) {
            out.push(format!("model has   {w}"));
        }
    }
    for g in &got {
        if !want.contains(g) {
            out.push(format!("database has {g}"));
        }
    }
}

/// A permanent CAL expires a whole number of days, 52 to 89, from now.
fn assert_permanent_expiry(now: Time, expires: Time) {
    let secs = expires.0 - now.0;
    assert!(secs % DAY == 0 && (52..=89).contains(&(secs / DAY)), "a permanent CAL for {} days", secs as f64 / 86400.0);
}

/// The CAL product a host of `p` takes at least (WS2012R2 takes WS2012).
fn host_cal(p: Product) -> Product {
    if p == Product::Ws2012R2 { Product::Ws2012 } else { p }
}

pub fn rows(db: &mut Database, q: &str) -> Vec<Vec<Value>> {
    let rs: ResultSet = db.execute(q).unwrap_or_else(|e| panic!("{q}: {e}")).expect("rows");
    rs.rows
}

/// The database's clock (the newest statement's time).
pub fn clock(db: &mut Database) -> Time {
    let r = rows(db, "SELECT time FROM history ORDER BY seq DESC LIMIT 1");
    match r.first().map(|r| &r[0]) {
        Some(Value::Time(t)) => *t,
        other => panic!("history's time: {other:?}"),
    }
}

pub fn text(v: &Value) -> String {
    match v {
        Value::Text(s) | Value::Name(s) => s.clone(),
        other => panic!("text, not {other:?}"),
    }
}

pub fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("an integer, not {other:?}"),
    }
}

fn int_opt(v: &Value) -> Option<i64> {
    match v {
        Value::Null => None,
        v => Some(int(v)),
    }
}

pub fn time_opt(v: &Value) -> Option<Time> {
    match v {
        Value::Time(t) => Some(*t),
        Value::Null => None,
        other => panic!("a time, not {other:?}"),
    }
}
