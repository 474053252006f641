//! The SQLite baseline of P3: the same device lifecycle as caldb's
//! statements, written as SQL transactions through rusqlite. The schema has
//! the same tables and the lookups caldb's store indexes, each as SQLite
//! does it best: HWID, computer and expiry indexes, the live licenses by
//! expiry as a partial index (caldb flags them in its expiry index), the
//! revoked licenses by key pack and the live sessions as partial indexes,
//! the devices by HWID. Each
//! operation does what caldb's protocol does for it: expiry at the
//! statement's instant, discovery, the license and token writes, the key
//! pack counts, the session, a history row and the state row.

use caldb::clock::Rng;
use rusqlite::{Connection, OptionalExtension, params};

const DAY: i64 = 86_400;
// License statuses.
const TEMPORARY: i64 = 0;
const ACTIVE: i64 = 1;
const UPGRADED: i64 = 2;
const EXPIRED: i64 = 3;
// (4 is revoked: the lifecycle never revokes, so `idx_license_revoked` stays empty.)
// Key pack kinds.
const PACK_TEMPORARY: i64 = 4;
const PACK_RETAIL: i64 = 1;
// Session states.
const SESSION_ACTIVE: i64 = 0;

const SCHEMA: &str = "
CREATE TABLE meta(k INTEGER PRIMARY KEY, clock INT, last_time INT, rng INT,
  next_license INT, next_session INT, next_history INT, next_event INT);
CREATE TABLE servers(name TEXT PRIMARY KEY, product INT, scope TEXT, activated INT, online INT,
  security_group INT, group_hosts TEXT, created INT) WITHOUT ROWID;
CREATE TABLE keypacks(id INTEGER PRIMARY KEY, server TEXT, product INT, cal INT, kind INT,
  total INT, issued INT, installed INT, expires INT);
CREATE TABLE licenses(id INTEGER PRIMARY KEY, keypack INT, server TEXT, kind INT, status INT,
  hwid BLOB, computer TEXT, user TEXT, product INT, issued INT, expires INT, validated INT, revoked INT);
CREATE INDEX idx_license_hwid ON licenses(hwid);
CREATE INDEX idx_license_computer ON licenses(computer);
CREATE INDEX idx_license_revoked ON licenses(keypack) WHERE status = 4;
CREATE INDEX idx_license_expiry ON licenses(expires);
CREATE INDEX idx_license_due ON licenses(expires) WHERE status IN (0, 1);
CREATE TABLE devices(name TEXT PRIMARY KEY, hwid BLOB, created INT) WITHOUT ROWID;
CREATE INDEX idx_device_hwid ON devices(hwid);
CREATE TABLE tokens(device TEXT, slot INT, license INT, server TEXT, scope TEXT, kind INT,
  product INT, computer TEXT, user TEXT, issued INT, expires INT, hwid BLOB,
  PRIMARY KEY(device, slot)) WITHOUT ROWID;
CREATE TABLE hosts(name TEXT PRIMARY KEY, product INT, mode INT, scope TEXT, farm TEXT,
  license_servers TEXT, grace_ends INT) WITHOUT ROWID;
CREATE TABLE sessions(id INTEGER PRIMARY KEY, user TEXT, device TEXT, host TEXT, farm TEXT,
  state INT, started INT, changed INT);
CREATE UNIQUE INDEX idx_session_live ON sessions(user, host) WHERE state <> 2;
CREATE TABLE user_cals(server TEXT, user TEXT, product INT, issued INT, expires INT,
  PRIMARY KEY(server, user, product)) WITHOUT ROWID;
CREATE TABLE events(seq INTEGER PRIMARY KEY, time INT, source INT, node TEXT, event INT,
  level INT, message TEXT);
CREATE TABLE history(seq INTEGER PRIMARY KEY, time INT, statement TEXT);
";

/// The database-wide state row, read and written by every operation as
/// caldb does.
struct State {
    clock: i64,
    rng: Rng,
    next_license: i64,
    next_session: i64,
    next_history: i64,
}

pub struct Sqlite {
    conn: Connection,
    /// Inside one BEGIN ... COMMIT of the caller.
    batch: bool,
}

type Res<T> = rusqlite::Result<T>;

impl Sqlite {
    /// A new database at `path`, WAL, `synchronous=FULL` when durable.
    pub fn create(path: &std::path::Path, durable: bool, start: i64) -> Res<Sqlite> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", if durable { "FULL" } else { "NORMAL" })?;
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT INTO meta VALUES (0, ?1, ?1, ?2, 1, 1, 1, 1)",
            params![start, Rng::seeded(42).state() as i64],
        )?;
        conn.execute("INSERT INTO servers VALUES ('ls1', 8, 'default', 1, 1, 0, '', ?1)", [start])?;
        conn.execute(
            "INSERT INTO keypacks VALUES (1, 'ls1', 8, 0, ?1, NULL, 0, ?2, NULL)",
            params![PACK_TEMPORARY, start],
        )?;
        conn.execute(
            "INSERT INTO keypacks VALUES (2, 'ls1', 8, 0, ?1, 4000000000, 0, ?2, NULL)",
            params![PACK_RETAIL, start],
        )?;
        conn.execute("INSERT INTO hosts VALUES ('h1', 8, 1, 'default', NULL, '', ?1)", [start])?;
        Ok(Sqlite { conn, batch: false })
    }

    /// Another connection to the database `create` made at `path`
    /// (WAL, `synchronous=FULL`), waiting up to `busy` for the write lock
    /// another connection holds, as a server's client threads would.
    pub fn open(path: &std::path::Path, busy: std::time::Duration) -> Res<Sqlite> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(busy)?;
        Ok(Sqlite { conn, batch: false })
    }

    pub fn begin(&mut self) -> Res<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.batch = true;
        Ok(())
    }

    pub fn commit(&mut self) -> Res<()> {
        self.conn.execute_batch("COMMIT")?;
        self.batch = false;
        Ok(())
    }

    /// One statement: its own transaction unless a batch is open.
    fn statement<T>(&mut self, text: &str, f: impl FnOnce(&Connection, &mut State) -> Res<T>) -> Res<T> {
        if !self.batch {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        let mut st = self
            .conn
            .prepare_cached("SELECT clock, rng, next_license, next_session, next_history FROM meta")?
            .query_row([], |r| {
                Ok(State {
                    clock: r.get(0)?,
                    rng: Rng::from_state(r.get::<_, i64>(1)? as u64),
                    next_license: r.get(2)?,
                    next_session: r.get(3)?,
                    next_history: r.get(4)?,
                })
            })?;
        expire(&self.conn, st.clock)?;
        let out = f(&self.conn, &mut st)?;
        self.conn.prepare_cached("INSERT INTO history VALUES (?1, ?2, ?3)")?.execute(params![
            st.next_history,
            st.clock,
            text
        ])?;
        self.conn
            .prepare_cached(
                "UPDATE meta SET clock = ?1, last_time = ?1, rng = ?2, next_license = ?3, next_session = ?4, \
                 next_history = ?5",
            )?
            .execute(params![st.clock, st.rng.state() as i64, st.next_license, st.next_session, st.next_history + 1])?;
        if !self.batch {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(out)
    }

    pub fn create_device(&mut self, name: &str) -> Res<()> {
        let text = format!("CREATE DEVICE {name}");
        self.statement(&text, |c, st| {
            let exists: Option<i64> = c
                .prepare_cached("SELECT 1 FROM devices WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            assert!(exists.is_none(), "device {name} exists");
            let hwid = st.rng.hwid().0;
            c.prepare_cached("INSERT INTO devices VALUES (?1, ?2, ?3)")?.execute(params![name, &hwid[..], st.clock])?;
            Ok(())
        })
    }

    pub fn set_clock(&mut self, t: i64) -> Res<()> {
        let text = format!("SET CLOCK {t}");
        self.statement(&text, |c, st| {
            st.clock = t;
            expire(c, t)
        })
    }

    /// CONNECT device AS user TO h1 (per-device mode): the reason and the
    /// expiry of the token the device ends with.
    pub fn connect(&mut self, device: &str, user: &str) -> Res<(&'static str, i64)> {
        let text = format!("CONNECT {device} AS {user} TO h1");
        self.statement(&text, |c, st| connect(c, st, device, user))
    }
}

/// Live licenses whose expiry has come become expired; active and
/// temporary ones give their CAL back.
fn expire(c: &Connection, now: i64) -> Res<()> {
    let due: Vec<(i64, i64)> = c
        .prepare_cached("SELECT id, keypack FROM licenses WHERE status IN (0, 1) AND expires <= ?1")?
        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Res<_>>()?;
    for (id, pack) in due {
        c.prepare_cached("UPDATE licenses SET status = ?2 WHERE id = ?1")?.execute(params![id, EXPIRED])?;
        c.prepare_cached("UPDATE keypacks SET issued = issued - 1 WHERE id = ?1")?.execute([pack])?;
    }
    Ok(())
}

struct Token {
    slot: i64,
    license: i64,
    kind: i64,
    expires: i64,
}

fn connect(c: &Connection, st: &mut State, device: &str, user: &str) -> Res<(&'static str, i64)> {
    let now = st.clock;
    let hwid: Vec<u8> =
        c.prepare_cached("SELECT hwid FROM devices WHERE name = ?1")?.query_row([device], |r| r.get(0))?;
    let (product, scope): (i64, String) = c
        .prepare_cached("SELECT product, scope FROM hosts WHERE name = 'h1'")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    // Discovery: the first online server of the host's scope, by name.
    let server: String = c
        .prepare_cached("SELECT name FROM servers WHERE scope = ?1 AND online = 1 ORDER BY name LIMIT 1")?
        .query_row([&scope], |r| r.get(0))?;
    c.prepare_cached("UPDATE hosts SET grace_ends = ?1 WHERE name = 'h1' AND grace_ends > ?1")?.execute([now])?;
    let token = c
        .prepare_cached("SELECT slot, license, kind, expires FROM tokens WHERE device = ?1 ORDER BY slot DESC LIMIT 1")?
        .query_row([device], |r| Ok(Token { slot: r.get(0)?, license: r.get(1)?, kind: r.get(2)?, expires: r.get(3)? }))
        .optional()?;
    let (reason, expires) = match token {
        None => {
            let pack: i64 = c
                .prepare_cached("SELECT id FROM keypacks WHERE server = ?1 AND kind = ?2")?
                .query_row(params![server, PACK_TEMPORARY], |r| r.get(0))?;
            let expires = now + 90 * DAY;
            let id = issue(c, st, pack, &server, TEMPORARY, &hwid, device, user, product, expires)?;
            put_token(c, device, 0, id, &server, &scope, TEMPORARY, product, user, now, expires, &hwid)?;
            // After the logon: the temporary license is validated.
            c.prepare_cached("UPDATE licenses SET validated = 1 WHERE id = ?1")?.execute([id])?;
            ("temporary-issued", expires)
        }
        Some(t) if t.kind == TEMPORARY => {
            let validated: bool = c
                .prepare_cached("SELECT validated FROM licenses WHERE id = ?1")?
                .query_row([t.license], |r| r.get(0))?;
            assert!(validated, "the lifecycle validates every temporary license");
            let pack: i64 = c
                .prepare_cached(
                    "SELECT id FROM keypacks WHERE server = ?1 AND cal = 0 AND kind <> ?2 AND (expires IS NULL OR \
                     expires > ?3) AND issued < total AND product >= ?4 ORDER BY product, expires IS NULL, \
                     expires, id LIMIT 1",
                )?
                .query_row(params![server, PACK_TEMPORARY, now, product], |r| r.get(0))?;
            let old_pack: i64 = c
                .prepare_cached("UPDATE licenses SET status = ?2 WHERE id = ?1 RETURNING keypack")?
                .query_row(params![t.license, UPGRADED], |r| r.get(0))?;
            c.prepare_cached("UPDATE keypacks SET issued = issued - 1 WHERE id = ?1")?.execute([old_pack])?;
            let expires = now + st.rng.between(52, 89) as i64 * DAY;
            let id = issue(c, st, pack, &server, ACTIVE, &hwid, device, user, product, expires)?;
            put_token(c, device, t.slot, id, &server, &scope, ACTIVE, product, user, now, expires, &hwid)?;
            ("upgraded", expires)
        }
        Some(t) if t.expires - now > 7 * DAY => ("valid", t.expires),
        Some(t) => {
            // The HWID's current license on the issuing server.
            let current: i64 = c
                .prepare_cached("SELECT id FROM licenses WHERE hwid = ?1 AND server = ?2 ORDER BY id DESC LIMIT 1")?
                .query_row(params![&hwid[..], server], |r| r.get(0))?;
            let status: i64 =
                c.prepare_cached("SELECT status FROM licenses WHERE id = ?1")?.query_row([t.license], |r| r.get(0))?;
            assert!(current == t.license && status == ACTIVE, "the lifecycle renews the current license");
            let expires = now + st.rng.between(52, 89) as i64 * DAY;
            c.prepare_cached("UPDATE licenses SET expires = ?2 WHERE id = ?1")?.execute(params![t.license, expires])?;
            put_token(c, device, t.slot, t.license, &server, &scope, ACTIVE, product, user, now, expires, &hwid)?;
            ("renewed", expires)
        }
    };
    session(c, st, device, user)?;
    Ok((reason, expires))
}

#[allow(clippy::too_many_arguments)]
fn issue(
    c: &Connection,
    st: &mut State,
    pack: i64,
    server: &str,
    status: i64,
    hwid: &[u8],
    device: &str,
    user: &str,
    product: i64,
    expires: i64,
) -> Res<i64> {
    let id = st.next_license;
    st.next_license += 1;
    let kind = if status == TEMPORARY { 0 } else { 1 };
    c.prepare_cached("INSERT INTO licenses VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL)")?
        .execute(params![
            id,
            pack,
            server,
            kind,
            status,
            hwid,
            device,
            user,
            product,
            st.clock,
            expires,
            status == ACTIVE
        ])?;
    c.prepare_cached("UPDATE keypacks SET issued = issued + 1 WHERE id = ?1")?.execute([pack])?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
fn put_token(
    c: &Connection,
    device: &str,
    slot: i64,
    license: i64,
    server: &str,
    scope: &str,
    kind: i64,
    product: i64,
    user: &str,
    issued: i64,
    expires: i64,
    hwid: &[u8],
) -> Res<()> {
    c.prepare_cached("INSERT OR REPLACE INTO tokens VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?1, ?8, ?9, ?10, ?11)")?
        .execute(params![device, slot, license, server, scope, kind, product, user, issued, expires, hwid])?;
    Ok(())
}

/// Reconnects the user's live session on the host, or starts one.
fn session(c: &Connection, st: &mut State, device: &str, user: &str) -> Res<()> {
    let live: Option<i64> = c
        .prepare_cached("SELECT id FROM sessions WHERE user = ?1 AND host = 'h1' AND state <> 2")?
        .query_row([user], |r| r.get(0))
        .optional()?;
    match live {
        Some(id) => {
            c.prepare_cached("UPDATE sessions SET state = ?2, device = ?3, changed = ?4 WHERE id = ?1")?
                .execute(params![id, SESSION_ACTIVE, device, st.clock])?;
        }
        None => {
            let id = st.next_session;
            st.next_session += 1;
            c.prepare_cached("INSERT INTO sessions VALUES (?1, ?2, ?3, 'h1', NULL, ?4, ?5, ?5)")?.execute(params![
                id,
                user,
                device,
                SESSION_ACTIVE,
                st.clock
            ])?;
        }
    }
    Ok(())
}
