//! What the licensing front (`crate::licensing`) asks of a database: reads
//! on a snapshot (the host's license server, a server's credentials, a
//! license), the one write that stores new credentials (no statement: they
//! are not protocol state), and the two statements of a real client,
//! `CONNECT CLIENT` and `LOGON CLIENT`, each one recorded transaction. The
//! front runs a connection on its own: never inside an open BEGIN block.

use super::{Block, Database};
use crate::error::{Error, Result};
use crate::protocol::{ClientConnect, ClientLogon, Outcome, discovery};
use crate::query::ast::Statement;
use crate::store::{CredentialsRec, LicenseRec, Reader, Records, ServerRec, T, credentials, keys};

impl Database {
    fn front_refuse_block(&self) -> Result<()> {
        match self.block {
            Block::None => Ok(()),
            _ => Err(Error::plan("a real client's licensing runs on its own, not inside BEGIN ... COMMIT")),
        }
    }

    /// The license server whose key a licensing exchange with `host` uses:
    /// the one the host would find now, else the first by name.
    pub fn front_server(&mut self, host: &str) -> Result<String> {
        self.front_refuse_block()?;
        let rx = self.store.read()?;
        let h = rx.host(host)?.ok_or_else(|| crate::protocol::no_such("host", host))?;
        let found = discovery::decide(&rx, &h)?
            .into_iter()
            .find(|(_, _, v)| *v == discovery::Verdict::Found)
            .map(|(name, _, _)| name);
        if let Some(name) = found {
            return Ok(name);
        }
        let first = rx.servers()?.into_iter().map(|s| s.name).min_by(|a, b| crate::model::name_cmp(a, b));
        first.ok_or_else(|| Error::plan("no license server in the database: a real client's exchange needs one's key"))
    }

    /// A server's stored credentials, if made.
    pub fn front_credentials(&mut self, server: &str) -> Result<Option<CredentialsRec>> {
        self.front_refuse_block()?;
        credentials::credentials(&self.store.read()?, server)
    }

    /// The licensing front's slot in this handle (its decoded credentials),
    /// opaque here: the front sits above this layer.
    pub(crate) fn front_cache(&mut self) -> &mut Option<Box<dyn std::any::Any + Send + Sync>> {
        &mut self.front_cache
    }

    /// The licensing front's slot, to read.
    pub(crate) fn front_cache_ref(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        self.front_cache.as_deref()
    }

    /// The seed new credentials are made from: the database's seed in a
    /// simulation (its clock is set), `None` on the wall clock (the
    /// operating system's randomness).
    pub fn front_seed(&mut self) -> Result<Option<u64>> {
        let state = self.store.read()?.state()?;
        Ok(state.clock.map(|_| state.seed))
    }

    /// Stores a server's new credentials, unless another handle stored
    /// some first: those are kept and returned.
    pub fn front_store_credentials(&mut self, rec: CredentialsRec) -> Result<CredentialsRec> {
        self.front_refuse_block()?;
        self.refuse_if_read_only("making a license server's key")?;
        let mut tx = self.store.write()?;
        if let Some(kept) = credentials::credentials(&tx, &rec.server)? {
            return Ok(kept);
        }
        credentials::put_credentials(&mut tx, &rec)?;
        tx.commit()?;
        Ok(rec)
    }

    /// License `number` of `server` (each server numbers its own), on a
    /// snapshot.
    pub fn front_license(&mut self, server: &str, number: u64) -> Result<Option<LicenseRec>> {
        self.front_refuse_block()?;
        let rx = self.store.read()?;
        let Some(s) = rx.record::<ServerRec>(T::Servers, &keys::name(server))? else { return Ok(None) };
        match u32::try_from(number) {
            Ok(n) => rx.license(keys::row_id(s.ordinal, n)),
            Err(_) => Ok(None),
        }
    }

    /// `CONNECT CLIENT ...`: a real client's licensing decision, one
    /// recorded transaction.
    pub fn connect_client(&mut self, req: &ClientConnect) -> Result<Outcome> {
        self.front_refuse_block()?;
        let text = Statement::ConnectClient(Box::new(req.clone())).to_string();
        self.guarded(&text, |db| db.in_write(&text, false, |cx| crate::protocol::connect_client(cx, req)))
    }

    /// `LOGON CLIENT ...`: the logon after a real client's licensing; the
    /// session a successful one started.
    pub fn logon_client(&mut self, req: &ClientLogon) -> Result<Option<u64>> {
        self.front_refuse_block()?;
        let text = Statement::LogonClient(Box::new(req.clone())).to_string();
        self.guarded(&text, |db| db.in_write(&text, false, |cx| crate::protocol::logon_client(cx, req)))
    }
}
