//! ironrdp-connector 0.12's client licensing sequence, driven in process
//! against caldb's licensing front: the frames it reads are X.224 + MCS
//! Send Data Indications carrying a basic security header (SEC_LICENSE_PKT)
//! and the front's message; its answers are Send Data Requests, from which
//! the front gets the licensing message back.

#![allow(dead_code)] // each test binary uses its own part of it

use caldb::{ClientInfo, Database, Exchange, Step, Verdict};
use ironrdp_connector::{ConnectorResult, Sequence};
use ironrdp_connector::{LicenseCache, LicenseExchangeSequence};
use ironrdp_core::WriteBuf;
use ironrdp_pdu::mcs::{SendDataIndication, SendDataRequest};
use ironrdp_pdu::rdp::server_license::LicenseInformation;
use ironrdp_pdu::x224::X224;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// The CAL a client stores, as `LicenseCache` sees it.
#[derive(Debug, Default)]
pub struct Store(pub Mutex<Option<Vec<u8>>>);

impl LicenseCache for Store {
    fn get_license(&self, _info: LicenseInformation) -> ConnectorResult<Option<Vec<u8>>> {
        Ok(self.0.lock().expect("store lock").clone())
    }
    fn store_license(&self, info: LicenseInformation) -> ConnectorResult<()> {
        *self.0.lock().expect("store lock") = Some(info.license_info);
        Ok(())
    }
}

/// A client: its HWID words, user and computer name, and its store.
pub struct Client {
    pub hwid: [u32; 4],
    pub user: String,
    pub computer: String,
    pub store: Arc<Store>,
}

impl Client {
    pub fn new(hwid: [u32; 4], user: &str, computer: &str) -> Client {
        Client { hwid, user: user.into(), computer: computer.into(), store: Arc::new(Store::default()) }
    }

    pub fn stored(&self) -> Option<Vec<u8>> {
        self.store.0.lock().expect("store lock").clone()
    }

    /// The HWID as caldb records it: 0x00000104... little-endian words.
    pub fn hwid_hex(&self) -> String {
        let mut bytes = 0x0401_0000u32.to_le_bytes().to_vec();
        for w in self.hwid {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }
}

/// What one connection came to: the front's verdict (or its error) and
/// whether the client finished the exchange (or its error).
pub struct Run {
    pub verdict: Result<Verdict, String>,
    pub client: Result<(), String>,
}

const SEC_LICENSE_PKT: [u8; 4] = [0x80, 0x00, 0x00, 0x00];

fn to_client(message: &[u8]) -> Vec<u8> {
    let user_data = [&SEC_LICENSE_PKT[..], message].concat();
    let pdu = X224(SendDataIndication { initiator_id: 1002, channel_id: 1003, user_data: Cow::Owned(user_data) });
    ironrdp_core::encode_vec(&pdu).expect("encode a send data indication")
}

fn from_client(frame: &[u8]) -> Vec<u8> {
    let pdu: X224<SendDataRequest<'_>> = ironrdp_core::decode(frame).expect("decode a send data request");
    pdu.0.user_data[4..].to_vec()
}

/// Runs one connection's licensing exchange of `client` with `host`.
pub fn connect(db: &mut Database, host: &str, client: &Client) -> Run {
    let info = ClientInfo { computer: client.computer.clone(), user: client.user.clone(), domain: "CORP".into() };
    let (mut exchange, mut message) = match Exchange::begin(db, host, info) {
        Ok(started) => started,
        Err(e) => return Run { verdict: Err(e.to_string()), client: Err("never started".into()) },
    };
    let cache: Arc<dyn LicenseCache> = client.store.clone();
    let mut seq = LicenseExchangeSequence::new(1003, client.user.clone(), None, client.hwid, cache);
    loop {
        let mut out = WriteBuf::new();
        if let Err(e) = seq.step(&to_client(&message), None, &mut out) {
            return Run { verdict: Err(format!("client stopped early: {e}")), client: Err(e.to_string()) };
        }
        let answer = from_client(out.filled());
        match exchange.step(db, &answer) {
            Ok(Step::Send(next)) => message = next,
            Ok(Step::Done(verdict)) => {
                let mut out = WriteBuf::new();
                let client = seq.step(&to_client(&verdict.reply), None, &mut out).map(drop).map_err(|e| e.to_string());
                return Run { verdict: Ok(verdict), client };
            }
            Err(e) => return Run { verdict: Err(e.to_string()), client: Err("refused".into()) },
        }
    }
}

/// The client's answer to `message` (a licensing message of the front),
/// as the licensing message it would send back, or its error.
pub fn answer(seq: &mut LicenseExchangeSequence, message: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = WriteBuf::new();
    seq.step(&to_client(message), None, &mut out).map_err(|e| e.to_string())?;
    Ok(from_client(out.filled()))
}

/// A client licensing sequence for `client`.
pub fn sequence(client: &Client) -> LicenseExchangeSequence {
    let cache: Arc<dyn LicenseCache> = client.store.clone();
    LicenseExchangeSequence::new(1003, client.user.clone(), None, client.hwid, cache)
}
