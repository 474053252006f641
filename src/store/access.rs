//! Typed access to the records, and the maintenance of the secondary
//! indexes: every write of a license, device or session goes through here,
//! so an index can never disagree with its records.

use super::keys;
use super::records::*;
use super::{Reader, T, WriteTx};
use crate::error::Result;
use crate::model::{Hwid, LicenseStatus, Product, SessionState, Time};

/// The start of the `idx_license_expiry` range of licenses expiring after
/// `t`.
fn expiring_after(t: Time) -> Vec<u8> {
    keys::Key::new().time(Time(t.0.saturating_add(1))).done()
}

/// The value of a license's `idx_license_expiry` entry: 1 while it is live
/// (temporary, active or revoked: what expiry must visit), else 0.
pub fn expiry_flag(live: bool) -> &'static [u8] {
    if live { &[1] } else { &[0] }
}

/// An index entry: the table, the key (`None`: the license has no entry
/// there) and the value.
pub type IndexEntry = (T, Option<Vec<u8>>, &'static [u8]);

/// A license's entry in each of its four indexes; only a revoked license
/// has one in `idx_license_revoked`.
pub fn license_index_keys(l: &LicenseRec) -> [IndexEntry; 4] {
    let id = l.id;
    [
        (T::IdxLicenseHwid, Some(idx_license_hwid(&l.hwid, id)), b""),
        (T::IdxLicenseComputer, Some(idx_license_computer(&l.computer, id)), b""),
        (T::IdxLicenseExpiry, Some(idx_license_expiry(l.expires, id)), expiry_flag(l.is_live())),
        (T::IdxLicenseRevoked, (l.status == LicenseStatus::Revoked).then(|| idx_license_revoked(l.keypack, id)), b""),
    ]
}

/// How `restore_tokens` stores a token anew (`None`: as it is): given the
/// transaction, its key and its stored form.
type RestoreToken<'r> = dyn FnMut(&WriteTx, &[u8], &StoredToken) -> Result<Option<StoredToken>> + 'r;

/// Typed lookups, on read and write transactions alike.
pub trait Records: Reader {
    fn server(&self, name: &str) -> Result<Option<ServerRec>> {
        self.record(T::Servers, &keys::name(name))
    }
    fn servers(&self) -> Result<Vec<ServerRec>> {
        self.records(T::Servers, b"")
    }
    fn keypack(&self, id: u64) -> Result<Option<KeypackRec>> {
        self.record(T::Keypacks, &keys::id(id))
    }
    fn keypacks(&self) -> Result<Vec<KeypackRec>> {
        self.records(T::Keypacks, b"")
    }
    fn license(&self, id: u64) -> Result<Option<LicenseRec>> {
        self.record(T::Licenses, &keys::id(id))
    }
    fn device(&self, name: &str) -> Result<Option<DeviceRec>> {
        self.record(T::Devices, &keys::name(name))
    }
    fn host(&self, name: &str) -> Result<Option<HostRec>> {
        self.record(T::Hosts, &keys::name(name))
    }
    fn hosts(&self) -> Result<Vec<HostRec>> {
        self.records(T::Hosts, b"")
    }
    fn session(&self, id: u64) -> Result<Option<SessionRec>> {
        self.record(T::Sessions, &keys::id(id))
    }
    fn tokens(&self, device: &str) -> Result<Vec<TokenRec>> {
        let mut out = Vec::new();
        self.scan_prefix(T::Tokens, &tokens_prefix(device), &mut |k, v| {
            out.push(self.token_of_stored(k, v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The token stored as `v` under `k`: a placed one with the fields it
    /// reads from its license (`StoredToken`).
    fn token_of_stored(&self, k: &[u8], v: &[u8]) -> Result<TokenRec> {
        let stored: StoredToken = super::codec::decode(v).map_err(|e| super::envelope::at(e, T::Tokens, k))?;
        self.token_of_decoded(k, stored)
    }

    /// `token_of_stored` of a value already decoded.
    fn token_of_decoded(&self, k: &[u8], stored: StoredToken) -> Result<TokenRec> {
        stored.token(|id| self.license(id)).map_err(|e| super::envelope::at(e, T::Tokens, k))
    }
    fn user_cal(&self, server: &str, user: &str, product: Product) -> Result<Option<UserCalRec>> {
        self.record(T::UserCals, &user_cal_key(server, user, product))
    }

    /// Ids of the licenses issued to a HWID, oldest first (index lookup).
    fn licenses_of_hwid(&self, hwid: &Hwid) -> Result<Vec<u64>> {
        let prefix = super::keys::Key::new().hwid(hwid).done();
        self.index_ids(T::IdxLicenseHwid, &prefix)
    }

    /// Ids of the licenses issued to a computer name, oldest first.
    fn licenses_of_computer(&self, computer: &str) -> Result<Vec<u64>> {
        let prefix = super::keys::Key::new().name(computer).done();
        self.index_ids(T::IdxLicenseComputer, &prefix)
    }

    /// Ids of the licenses drawn from any of `keypacks`, in id order. No
    /// index: it reads every license (uninstall, rebuild and IMPORT
    /// KEYPACKS ask it, not the allocation path).
    fn licenses_of_keypacks(&self, keypacks: &[u64]) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        self.scan(T::Licenses, b"", None, &mut |_, v| {
            let l: LicenseRec = super::codec::decode(v)?;
            if keypacks.contains(&l.keypack) {
                out.push(l.id);
            }
            Ok(true)
        })?;
        Ok(out)
    }

    /// Ids of the revoked licenses drawn from a key pack (index lookup).
    fn revoked_of_keypack(&self, keypack: u64) -> Result<Vec<u64>> {
        let prefix = super::keys::Key::new().id(keypack).done();
        self.index_ids(T::IdxLicenseRevoked, &prefix)
    }

    /// Names of the devices that hold a HWID.
    fn devices_of_hwid(&self, hwid: &Hwid) -> Result<Vec<String>> {
        let prefix = super::keys::Key::new().hwid(hwid).done();
        let found = self.index_keys(T::IdxDeviceHwid, &prefix)?;
        Ok(found
            .iter()
            .map(|k| {
                let name = &k[20..k.len().saturating_sub(1)];
                String::from_utf8_lossy(name).into_owned()
            })
            .collect())
    }

    /// The live session of a user on a host, if any.
    fn live_session(&self, user: &str, host: &str) -> Result<Option<SessionRec>> {
        // The entry's id is decoded where it lies: no copy of it first.
        match self.record(T::IdxSessionLive, &session_live_key(user, host))? {
            Some(id) => self.session(id),
            None => Ok(None),
        }
    }

    /// Visits the `idx_license_expiry` keys of the live licenses expiring
    /// at or before `until` (`None`: whenever), soonest first, until `f`
    /// returns false. Only the entries after `expired_through` are read:
    /// none before it is live.
    fn visit_live_expiries(&self, until: Option<Time>, f: &mut dyn FnMut(&[u8]) -> bool) -> Result<()> {
        let from = expiring_after(self.expired_through()?);
        let to = until.map(expiring_after);
        self.scan(T::IdxLicenseExpiry, &from, to.as_deref(), &mut |k, v| Ok(v != expiry_flag(true) || f(k)))
    }

    /// Ids of live licenses whose expiry is at or before `t`, soonest first.
    fn licenses_expiring_by(&self, t: Time) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        self.visit_live_expiries(Some(t), &mut |k| {
            out.push(keys::trailing_id(k));
            true
        })?;
        Ok(out)
    }

    /// Whether any live license expires at or before `t` (stops at the first).
    /// On a file found damaged, none: nothing is expired there (no write
    /// but REPAIR's commits), so the reads of sound tables still work.
    fn any_license_due_by(&self, t: Time) -> Result<bool> {
        let mut any = false;
        let visited = self.visit_live_expiries(Some(t), &mut |_| {
            any = true;
            false
        });
        match visited {
            Err(e) if e.is_damage() => Ok(false),
            _ if self.damage_found() => Ok(false),
            visited => visited.map(|()| any),
        }
    }

    /// Ids of every live license (temporary, active, revoked), sorted.
    fn live_license_ids(&self) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        self.visit_live_expiries(None, &mut |k| {
            out.push(keys::trailing_id(k));
            true
        })?;
        out.sort_unstable();
        Ok(out)
    }
}

impl<R: Reader + ?Sized> Records for R {}

impl WriteTx {
    pub fn put_server(&mut self, s: &ServerRec) -> Result<()> {
        self.put_record(T::Servers, &s.key(), s)
    }

    /// Writes a key pack. A pack that would have issued more CALs than it
    /// holds is a bug in the code that counted (crash rather than corrupt);
    /// read back, the same rule finds a damaged one (`KeypackRec`'s decoding).
    pub fn put_keypack(&mut self, k: &KeypackRec) -> Result<()> {
        assert!(
            k.total.is_none_or(|total| k.issued <= total),
            "key pack {} would have issued {} of its {:?} CALs",
            k.id,
            k.issued,
            k.total
        );
        self.put_record(T::Keypacks, &k.key(), k)
    }

    pub fn put_host(&mut self, h: &HostRec) -> Result<()> {
        self.put_record(T::Hosts, &h.key(), h)
    }

    /// Stores a token: by reference to its license when it holds that
    /// license's fields (`StoredToken`), else whole.
    pub fn put_token(&mut self, t: &TokenRec) -> Result<()> {
        let l = self.license(t.license)?;
        self.put_token_of(t, l.as_ref())
    }

    /// `put_token` when the caller holds the token's license as stored
    /// (`None`: there is none): nothing is read.
    pub fn put_token_of(&mut self, t: &TokenRec, l: Option<&LicenseRec>) -> Result<()> {
        debug_assert!(
            l.is_none_or(|l| self.license(l.id).ok().flatten().as_ref() == Some(l)),
            "a token placed from a license that is not the one stored"
        );
        self.put_record(T::Tokens, &t.key(), &StoredToken::of(t, l))
    }

    pub fn delete_token(&mut self, device: &str, slot: u32) -> Result<bool> {
        self.delete(T::Tokens, &token_key(device, slot))
    }

    pub fn put_user_cal(&mut self, u: &UserCalRec) -> Result<()> {
        self.put_record(T::UserCals, &u.key(), u)
    }

    /// Writes a license and keeps its indexes in step with it. Only the
    /// index entries whose keys change are touched: most rewrites (validate,
    /// status change, renew) move one or two of the five.
    pub fn put_license(&mut self, new: &LicenseRec) -> Result<()> {
        let old = self.license(new.id)?;
        self.rewrite_license(old.as_ref(), new)
    }

    /// Writes a license with a new id (from the state's counter, which is
    /// past every stored id): nothing to read first, no old index entries.
    pub fn insert_license(&mut self, new: &LicenseRec) -> Result<()> {
        debug_assert!(self.license(new.id)?.is_none(), "license {} is stored already", new.id);
        self.rewrite_license(None, new)
    }

    /// `put_license` when the caller has just read the stored record `old`
    /// (`None`: there is none), saving a second read and decode.
    pub fn rewrite_license(&mut self, old: Option<&LicenseRec>, new: &LicenseRec) -> Result<()> {
        assert!(old.is_none_or(|o| o.id == new.id), "a license rewritten under another id");
        if old.is_some_and(|o| !o.keeps_placed_fields(new)) {
            // Tokens placed from it read these as they were (no protocol
            // step changes them; a test's set-up may).
            self.write_tokens_whole(&[new.id])?;
        }
        self.put_record(T::Licenses, &new.key(), new)?;
        let was = old.map(license_index_keys);
        for (i, (t, key, value)) in license_index_keys(new).into_iter().enumerate() {
            let was = was.as_ref().and_then(|w| w[i].1.as_ref().map(|k| (k, w[i].2)));
            if was.is_some_and(|w| Some(w.0) == key.as_ref() && w.1 == value) {
                continue;
            }
            // A changed key moves the entry; a changed value alone is
            // rewritten in place.
            if let Some((old_key, _)) = was.filter(|(k, _)| Some(*k) != key.as_ref()) {
                self.delete(t, old_key)?;
            }
            if let Some(key) = key {
                self.put(t, &key, value)?;
            }
        }
        self.keep_expiry_behind(new)
    }

    /// A live license written expiring at or before `expired_through`
    /// (an import of an old export, say) moves it back, so expiry visits
    /// that license.
    fn keep_expiry_behind(&mut self, l: &LicenseRec) -> Result<()> {
        if l.missed_by_expiry(self.expired_through()?) {
            self.set_expired_through(l.catch_up());
        }
        Ok(())
    }

    /// Writes licenses that are not stored yet (a bulk load): the records
    /// in id order, then each index's entries in key order, so random keys
    /// (HWIDs, expiries) land page after page instead of all over the tree.
    pub fn insert_new_licenses(&mut self, ls: &mut [LicenseRec]) -> Result<()> {
        ls.sort_unstable_by_key(|l| l.id);
        for l in ls.iter() {
            debug_assert!(self.license(l.id)?.is_none(), "license {} is stored already", l.id);
            self.put_record(T::Licenses, &l.key(), l)?;
        }
        let mut entries: Vec<Vec<IndexEntry>> = Vec::new();
        for l in ls.iter() {
            for (i, e) in license_index_keys(l).into_iter().enumerate() {
                if entries.len() <= i {
                    entries.push(Vec::with_capacity(ls.len()));
                }
                entries[i].push(e);
            }
            self.keep_expiry_behind(l)?;
        }
        for mut index in entries {
            index.sort_unstable_by(|a, b| a.1.cmp(&b.1));
            for (t, key, value) in index {
                if let Some(key) = key {
                    self.put(t, &key, value)?;
                }
            }
        }
        Ok(())
    }

    fn unindex_license(&mut self, l: &LicenseRec) -> Result<()> {
        for (t, key, _) in license_index_keys(l) {
            if let Some(key) = key {
                self.delete(t, &key)?;
            }
        }
        Ok(())
    }

    /// Rewrites each license due by `now` (live, expiring at or before it)
    /// with `f`, which must make it not live and change nothing an index
    /// keys on but the status, and moves `expired_through` to `now`: only
    /// the expiry index entries after it are read.
    ///
    /// On a file found damaged nothing is expired: no write but REPAIR's
    /// commits, and REPAIR, which rebuilds the expiry index, moves
    /// `expired_through` back to the first license it passed over.
    pub fn retire_due_licenses(&mut self, now: Time, f: &mut dyn FnMut(&mut LicenseRec)) -> Result<()> {
        if now <= self.expired_through()? || self.damage_found() {
            return Ok(());
        }
        // Expiry index keys are 16 bytes: kept as arrays, a million of
        // them take 16 MB, not a heap allocation each.
        let mut due: Vec<[u8; 16]> = Vec::new();
        let visited = self.visit_live_expiries(Some(now), &mut |k| {
            due.push(k.try_into().expect("expiry index keys are 16 bytes"));
            true
        });
        match visited {
            Err(e) if e.is_damage() => return Ok(()),
            visited => visited?,
        }
        // In id order, the licenses table is walked page by page: in expiry
        // order every rewrite lands on a random page, which the write
        // buffer evicts and reads back again and again.
        let mut ids: Vec<u64> = due.iter().map(|k| keys::trailing_id(k)).collect();
        ids.sort_unstable();
        for id in ids {
            let Some(old) = self.license(id)? else { continue };
            if !old.is_live() || old.expires > now {
                continue;
            }
            let mut new = old.clone();
            f(&mut new);
            assert!(
                !new.is_live()
                    && new.id == old.id
                    && new.hwid == old.hwid
                    && new.computer == old.computer
                    && new.keypack == old.keypack
                    && new.expires == old.expires,
                "retiring license {id} changed more than its status"
            );
            self.put_record(T::Licenses, &new.key(), &new)?;
            if old.status == LicenseStatus::Revoked {
                self.delete(T::IdxLicenseRevoked, &idx_license_revoked(old.keypack, id))?;
            }
        }
        // Their expiry entries, in key order: page after page. (Rewriting
        // each license through `rewrite_license` keeps these two indexes
        // the same way, but writes the flags in id order, at random places
        // of the expiry index: ADVANCE of the 1M P4 database took 5.1 s
        // that way, 3.1 s this way.)
        for k in &due {
            self.put(T::IdxLicenseExpiry, k, expiry_flag(false))?;
        }
        self.set_expired_through(now);
        Ok(())
    }

    /// Deletes licenses and their index entries. The tokens placed from
    /// them are written whole first: a device keeps the CAL it holds when
    /// the server's record of it goes (a rebuilt database).
    pub fn delete_licenses(&mut self, ids: &[u64]) -> Result<()> {
        self.write_tokens_whole(ids)?;
        for &id in ids {
            if let Some(old) = self.license(id)? {
                self.unindex_license(&old)?;
                self.delete(T::Licenses, &keys::id(id))?;
            }
        }
        Ok(())
    }

    /// Writes whole every token placed from one of the licenses `ids`: one
    /// pass over the tokens (no index leads from a license to its tokens).
    fn write_tokens_whole(&mut self, ids: &[u64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let doomed: std::collections::HashSet<u64> = ids.iter().copied().collect();
        let mut from = Some(Vec::new());
        while let Some(at) = from {
            from = self.restore_tokens(&at, &mut |r, k, stored| {
                Ok(match stored.placed_from() {
                    Some(id) if doomed.contains(&id) => Some(StoredToken::Full(r.token_of_decoded(k, stored.clone())?)),
                    _ => None,
                })
            })?;
        }
        Ok(())
    }

    /// Stores by reference each token stored whole that holds its
    /// license's fields, from key `from` on, a batch of them: a file
    /// carried over from format 4 or earlier, whose tokens come whole.
    /// Where the next batch starts, if there is one.
    pub fn place_tokens(&mut self, from: &[u8]) -> Result<Option<Vec<u8>>> {
        self.restore_tokens(from, &mut |r, _, stored| {
            Ok(match stored {
                StoredToken::Full(t) => match StoredToken::of(t, r.license(t.license)?.as_ref()) {
                    placed @ StoredToken::Placed(_) => Some(placed),
                    StoredToken::Full(_) => None,
                },
                StoredToken::Placed(_) => None,
            })
        })
    }

    /// Stores anew, as `restore` says, the tokens of a batch from key
    /// `from` on: they are read, then written. Where the next batch
    /// starts, if there is one.
    fn restore_tokens(&mut self, from: &[u8], restore: &mut RestoreToken) -> Result<Option<Vec<u8>>> {
        const BATCH: usize = 4096;
        let (mut anew, mut last, mut seen) = (Vec::new(), None, 0);
        self.scan(T::Tokens, from, None, &mut |k, v| {
            let stored: StoredToken = super::codec::decode(v).map_err(|e| super::envelope::at(e, T::Tokens, k))?;
            if let Some(s) = restore(self, k, &stored)? {
                anew.push((k.to_vec(), s));
            }
            seen += 1;
            last = Some(k.to_vec());
            Ok(seen < BATCH)
        })?;
        for (k, s) in &anew {
            self.put_record(T::Tokens, k, s)?;
        }
        Ok(last.filter(|_| seen == BATCH).map(|mut k| {
            // The next key after `k`.
            k.push(0);
            k
        }))
    }

    pub fn put_device(&mut self, d: &DeviceRec) -> Result<()> {
        if let Some(old) = self.device(&d.name)? {
            self.delete(T::IdxDeviceHwid, &idx_device_hwid(&old.hwid, &old.name))?;
        }
        self.write_device(d)
    }

    /// Writes a device that is not stored yet (its creator looked): no old
    /// HWID entry to look for.
    pub fn insert_device(&mut self, d: &DeviceRec) -> Result<()> {
        debug_assert!(self.device(&d.name)?.is_none(), "device {} is stored already", d.name);
        self.write_device(d)
    }

    fn write_device(&mut self, d: &DeviceRec) -> Result<()> {
        self.put_record(T::Devices, &d.key(), d)?;
        self.put(T::IdxDeviceHwid, &idx_device_hwid(&d.hwid, &d.name), b"")
    }

    /// Writes a session with a new id whose user has no live session on
    /// its host (`live_session` found none): its live entry is written
    /// without looking for one.
    pub fn insert_live_session(&mut self, s: &SessionRec) -> Result<()> {
        assert!(s.state != SessionState::Ended, "a new session is live");
        self.put(T::IdxSessionLive, &session_live_key(&s.user, &s.host), &super::codec::encode(&s.id)?)?;
        self.put_record(T::Sessions, &s.key(), s)
    }

    /// Rewrites a live session that stays live on the same user and host
    /// (a reconnection, found through its live entry): that entry already
    /// names it.
    pub fn update_live_session(&mut self, s: &SessionRec) -> Result<()> {
        assert!(s.state != SessionState::Ended, "an updated live session stays live");
        debug_assert_eq!(
            self.get(T::IdxSessionLive, &session_live_key(&s.user, &s.host))?,
            Some(super::codec::encode(&s.id)?),
            "session {} is not the live one of its user and host",
            s.id
        );
        self.put_record(T::Sessions, &s.key(), s)
    }

    /// Writes a session and keeps the live-session index in step.
    pub fn put_session(&mut self, s: &SessionRec) -> Result<()> {
        let live_key = session_live_key(&s.user, &s.host);
        if s.state == SessionState::Ended {
            self.delete(T::IdxSessionLive, &live_key)?;
        } else {
            // A reconnection keeps its live entry: skip the B-tree insert
            // when the entry already names this session.
            let id = super::codec::encode(&s.id)?;
            if self.get(T::IdxSessionLive, &live_key)?.as_deref() != Some(&id[..]) {
                self.put(T::IdxSessionLive, &live_key, &id)?;
            }
        }
        self.put_record(T::Sessions, &s.key(), s)
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn license(id: u64, computer: &str) -> LicenseRec {
        LicenseRec::sample(id, computer, Time(1_772_000_000))
    }

    /// The token the protocol would place from `l` (`protocol::issue::
    /// token_of`, which the store, a layer below, does not reach).
    fn token(device: &str, slot: u32, l: &LicenseRec) -> TokenRec {
        let (server, computer, user) = (l.server.clone(), l.computer.clone(), l.user.clone());
        let (kind, product, issued, expires, hwid) = (l.kind, l.product, l.issued, l.expires, l.hwid);
        let (device, scope, license) = (device.into(), "default".into(), l.id);
        TokenRec { device, slot, license, server, scope, kind, product, computer, user, issued, expires, hwid }
    }

    /// The form each token of `device` is stored in: 0 whole, 1 placed.
    fn forms(tx: &WriteTx, device: &str) -> Vec<u8> {
        let mut out = Vec::new();
        tx.scan_prefix(T::Tokens, &tokens_prefix(device), &mut |_, v| {
            out.push(v[0]);
            Ok(true)
        })
        .expect("scan");
        out
    }

    #[test]
    fn a_token_placed_from_its_license_is_stored_by_reference_and_reads_back_whole() {
        let store = Store::in_memory().expect("store");
        let mut tx = store.write().expect("write");
        let (l1, l2) = (license(1, "pc1"), license(2, "pc2"));
        tx.insert_license(&l1).expect("insert");
        tx.insert_license(&l2).expect("insert");
        // Placed: its license's; from another computer's license (a clone
        // keeping its store); and one whose license is not stored.
        let mut other = token("pc1", 2, &l1);
        other.user = "someone else".into();
        let gone = token("pc1", 3, &license(9, "pc1"));
        let tokens = [token("pc1", 0, &l1), token("pc1", 1, &l2), other, gone];
        for t in &tokens {
            tx.put_token(t).expect("put");
        }
        assert_eq!(forms(&tx, "pc1"), [1, 1, 0, 0]);
        assert_eq!(tx.tokens("pc1").expect("tokens"), tokens);
        let mut stored = 0;
        tx.scan_prefix(T::Tokens, &tokens_prefix("pc1"), &mut |_, v| {
            stored += v.len();
            Ok(true)
        })
        .expect("scan");
        assert!(stored < 2 * 30 + 2 * 90, "{stored} bytes");
        tx.commit().expect("commit");
        assert_eq!(store.read().expect("read").tokens("pc1").expect("tokens"), tokens);
    }

    #[test]
    fn tokens_placed_from_a_license_that_goes_or_changes_are_written_whole_first() {
        let store = Store::in_memory().expect("store");
        let mut tx = store.write().expect("write");
        let ls: Vec<LicenseRec> = (1..=5000).map(|id| license(id, &format!("pc{id}"))).collect();
        for l in &ls {
            tx.insert_license(l).expect("insert");
            tx.put_token(&token(&l.computer, 0, l)).expect("put");
        }
        let before: Vec<TokenRec> = ls.iter().flat_map(|l| tx.tokens(&l.computer).expect("tokens")).collect();
        // Deleted (a rebuilt server, an uninstalled pack), past a batch of
        // the pass over the tokens.
        let doomed: Vec<u64> = (1..=5000).filter(|id| id % 2 == 0).collect();
        tx.delete_licenses(&doomed).expect("delete");
        // Rewritten with another computer (no protocol step does).
        let mut moved = tx.license(4999).expect("read").expect("license");
        moved.computer = "elsewhere".into();
        tx.put_license(&moved).expect("put");
        tx.commit().expect("commit");
        let rx = store.read().expect("read");
        let after: Vec<TokenRec> = ls.iter().flat_map(|l| rx.tokens(&l.computer).expect("tokens")).collect();
        assert_eq!(after, before, "every token reads as it did");
        let tx = store.write().expect("write");
        for id in [2, 4998, 4999] {
            assert_eq!(forms(&tx, &format!("pc{id}")), [0], "pc{id}'s token is whole");
        }
        assert_eq!(forms(&tx, "pc1"), [1], "pc1's license stayed: its token stays placed");
    }

    #[test]
    fn a_placed_token_whose_license_is_not_there_is_damage_naming_the_token() {
        let store = Store::in_memory().expect("store");
        let mut tx = store.write().expect("write");
        let l = license(1, "pc1");
        tx.insert_license(&l).expect("insert");
        tx.put_token(&token("pc1", 0, &l)).expect("put");
        // The license gone without its token written whole: what damage,
        // or a bug, would leave.
        tx.delete(T::Licenses, &keys::id(1)).expect("delete");
        let e = tx.tokens("pc1").expect_err("no license to read from");
        assert!(e.is_damage(), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("tokens") && text.contains("license 1 of server #0, which is not there"),
            "{text}"
        );
    }
}
