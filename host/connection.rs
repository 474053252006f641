//! One client's connection: ironrdp-acceptor runs the RDP connection
//! sequence (standard RDP security, encryption level NONE) until its
//! `LicensingExchange` state, where the host runs caldb's licensing front on
//! the socket instead (`licensing`) and discards the acceptor's own
//! valid-client message; then the password is checked and the logon
//! reported, and a licensed, logged-on client is taken through capability
//! exchange and finalization before the connection ends. Every read is
//! bounded in time (`Deadline`); every failure ends this connection alone,
//! with one log line saying where and why.

use crate::framing::{self, Logon, Mended};
use crate::licensing::{self, Shared};
use ironrdp_acceptor::{Acceptor, AcceptorState, DesktopSize};
use ironrdp_blocking::Framed;
use ironrdp_connector::{Sequence, state_downcast};
use ironrdp_core::WriteBuf;
use ironrdp_pdu::nego::SecurityProtocol;
use ironrdp_pdu::rdp::capability_sets::{Bitmap, BitmapDrawingFlags, CapabilitySet, General};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The desktop size the host announces (no desktop is ever drawn).
const DESKTOP: DesktopSize = DesktopSize { width: 1024, height: 768 };

/// How a connection ended, for its last log line.
pub enum Ending {
    /// Licensed, logged on, and taken through the connection sequence.
    Connected,
    /// Licensed and logged on; the client stopped before the end of the
    /// sequence (rdesktop stops at the capability exchange).
    StoppedAfterLogon(String),
    /// The front refused the client (the refusal was sent).
    Refused(String),
    /// Licensed, but the password was wrong or the user unknown.
    LogonFailed(String),
}

/// Serves one client: the whole connection, then how it ended, or why it
/// was dropped.
pub fn serve(stream: TcpStream, shared: &Shared, id: u64) -> Result<Ending, String> {
    let deadline = Deadline::new(stream, shared.timeout).map_err(|e| format!("cannot set up the socket: {e}"))?;
    let mut conn = Connection { framed: Framed::new(deadline), shared, id, computer: None, logon: None };
    conn.run()
}

struct Connection<'a> {
    framed: Framed<Deadline>,
    shared: &'a Shared,
    id: u64,
    /// The client core data's client name (the computer name).
    computer: Option<String>,
    /// The Client Info PDU's user, domain and password.
    logon: Option<Logon>,
}

impl Connection<'_> {
    fn run(&mut self) -> Result<Ending, String> {
        let mut acceptor = Acceptor::new(SecurityProtocol::empty(), DESKTOP, capabilities(), None);
        let mut licensed = false;
        loop {
            let state = state_name(&acceptor);
            match state {
                "LicensingExchange" if !licensed => {
                    if let Some(ending) = self.license()? {
                        if let Ending::LogonFailed(_) = ending {
                            self.deny_access(&acceptor);
                        }
                        return Ok(ending);
                    }
                    licensed = true;
                    // The acceptor now writes its own valid-client message:
                    // the front has answered, so it is discarded.
                    acceptor.step(&[], None, &mut WriteBuf::new()).map_err(|e| format!("after licensing: {e}"))?;
                    continue;
                }
                "Connected" => return Ok(Ending::Connected),
                _ => {}
            }
            if let Err(error) = self.step(&mut acceptor, state) {
                return match licensed {
                    true => Ok(Ending::StoppedAfterLogon(error)),
                    false => Err(error),
                };
            }
        }
    }

    /// Tells a client whose logon failed that access is denied (a Set Error
    /// Info PDU, when the client said it understands one); the connection
    /// ends either way, so a failure to send is not an error.
    fn deny_access(&mut self, acceptor: &Acceptor) {
        let mut output = WriteBuf::new();
        if let Ok(size) = acceptor.encode_access_denied(&mut output)
            && size > 0
        {
            let _ = self.framed.write_all(&output[..size]);
        }
    }

    /// One step of the acceptor: reads the frame it waits for (mended or
    /// looked into where the host needs to), steps, writes its answer.
    fn step(&mut self, acceptor: &mut Acceptor, state: &str) -> Result<(), String> {
        let mut output = WriteBuf::new();
        let frame = match acceptor.next_pdu_hint() {
            None => None,
            Some(hint) => Some(self.framed.read_by_hint(hint).map_err(|e| self.read_error(state, &e))?),
        };
        let frame = match frame {
            None => Vec::new(),
            Some(frame) => match self.look_into(state, &frame)? {
                Some(frame) => frame,
                None => return Ok(()),
            },
        };
        let written = acceptor
            .step(&frame, None, &mut output)
            .map_err(|e| format!("at {state}: {}", plain(&e.report().to_string())))?;
        if let Some(size) = written.size() {
            self.framed.write_all(&output[..size]).map_err(|e| format!("at {state}, writing: {e}"))?;
        }
        Ok(())
    }

    /// Takes what the host needs from the client's frames before the
    /// acceptor sees them: the computer name, and the logon (with
    /// rdesktop's frames mended). `None` drops the frame.
    fn look_into(&mut self, state: &str, frame: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match state {
            "BasicSettingsWaitInitial" => {
                self.computer = Some(framing::client_name(frame).map_err(|e| format!("at {state}: {e}"))?);
                Ok(Some(frame.to_vec()))
            }
            "SecureSettingsExchange" => {
                match framing::mend_secure_settings(frame).map_err(|e| format!("at {state}: {e}"))? {
                    Mended::Drop => Ok(None),
                    Mended::Keep(frame) => {
                        self.logon = Some(framing::logon(&frame).map_err(|e| format!("at {state}: {e}"))?);
                        Ok(Some(frame))
                    }
                }
            }
            _ => Ok(Some(frame.to_vec())),
        }
    }

    /// The licensing exchange, the password check and the logon report.
    /// `Some` ends the connection (refused, or the logon failed).
    fn license(&mut self) -> Result<Option<Ending>, String> {
        let (Some(computer), Some(logon)) = (self.computer.clone(), self.logon.as_ref()) else {
            return Err("reached licensing without the client's name and logon".to_string());
        };
        let (user, domain) = (logon.user.clone(), logon.domain.clone());
        self.shared.log.line(&format!("#{} client '{computer}', user '{}'", self.id, shown_user(&domain, &user)));
        let mut channel = Channel { framed: &mut self.framed };
        let verdict = licensing::exchange(self.shared, &mut channel, &computer, &user, &domain)?;
        self.shared.log.line(&format!("#{} licensing: {}", self.id, verdict.describe()));
        if !verdict.licensed() {
            return Ok(Some(Ending::Refused(verdict.outcome().to_string())));
        }
        let logon = self.logon.as_ref().map(|l| self.shared.users.accepts(&l.user, &l.password)).unwrap_or(false);
        let session = licensing::report_logon(self.shared, &verdict, logon)?;
        if logon {
            let session = session.map(|s| format!(", session {s}")).unwrap_or_default();
            self.shared.log.line(&format!("#{} logon of '{}' succeeded{session}", self.id, shown_user(&domain, &user)));
            return Ok(None);
        }
        Ok(Some(Ending::LogonFailed(format!(
            "logon of '{}' failed: wrong password or unknown user",
            shown_user(&domain, &user)
        ))))
    }

    fn read_error(&self, state: &str, error: &io::Error) -> String {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                format!("at {state}: the client sent nothing for {} s", self.shared.timeout.as_secs())
            }
            io::ErrorKind::UnexpectedEof => format!("at {state}: the client closed the connection"),
            _ => format!("at {state}: {}", plain(&error.to_string())),
        }
    }
}

/// The socket as the licensing exchange sees it: licensing PDUs in and out.
pub struct Channel<'a> {
    framed: &'a mut Framed<Deadline>,
}

impl Channel<'_> {
    /// Sends one licensing PDU of the front.
    pub fn send(&mut self, message: &[u8]) -> Result<(), String> {
        let frame = framing::license_frame(message)?;
        self.framed.write_all(&frame).map_err(|e| format!("at LicensingExchange, writing: {e}"))
    }

    /// Reads the client's next licensing PDU.
    pub fn receive(&mut self) -> Result<Vec<u8>, String> {
        let frame = self.framed.read_by_hint(&ironrdp_pdu::X224_HINT).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                "at LicensingExchange: the client stalled".to_string()
            }
            io::ErrorKind::UnexpectedEof => "at LicensingExchange: the client closed the connection".to_string(),
            _ => format!("at LicensingExchange: {}", plain(&e.to_string())),
        })?;
        framing::license_message(&frame).map_err(|e| format!("at LicensingExchange: {e}"))
    }
}

fn state_name(acceptor: &Acceptor) -> &'static str {
    state_downcast::<AcceptorState>(acceptor.state()).map(ironrdp_connector::State::name).unwrap_or("unknown")
}

/// An IronRDP error's text for a person: its `[context @ file:line] kind`
/// parts read `context: kind`, without the source locations.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|i| open + i) else { break };
        let Some(at) = rest[open..close].find(" @ ").map(|i| open + i) else {
            out.push_str(&rest[..=close]);
            rest = &rest[close + 1..];
            continue;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..at]);
        out.push(':');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn shown_user(domain: &str, user: &str) -> String {
    if domain.is_empty() { user.to_string() } else { format!("{domain}\\{user}") }
}

/// The server's capability sets: what a client needs to finish the
/// connection sequence (the desktop size in Bitmap), nothing to draw with.
fn capabilities() -> Vec<CapabilitySet> {
    vec![
        CapabilitySet::General(General::default()),
        CapabilitySet::Bitmap(Bitmap {
            pref_bits_per_pix: 32,
            desktop_width: DESKTOP.width,
            desktop_height: DESKTOP.height,
            desktop_resize_flag: false,
            drawing_flags: BitmapDrawingFlags::empty(),
        }),
    ]
}

/// The socket with a deadline: each read waits at most the timeout, and no
/// read starts after the connection's whole allowance (four timeouts) is
/// spent, so a client trickling a byte at a time is dropped too.
pub struct Deadline {
    stream: TcpStream,
    timeout: Duration,
    ends: Instant,
}

impl Deadline {
    fn new(stream: TcpStream, timeout: Duration) -> io::Result<Deadline> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Deadline { stream, timeout, ends: Instant::now() + timeout * 4 })
    }
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.ends.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::other("the connection's whole time (four timeouts) is up"));
        }
        self.stream.set_read_timeout(Some(left.min(self.timeout)))?;
        self.stream.read(buf)
    }
}

impl Write for Deadline {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn ironrdp_error_text_loses_its_source_locations() {
        let text = "[TPKT version @ /root/.cargo/registry/src/x/ironrdp-core-0.3.1/src/error.rs:149] unsupported version (71) at offset 1";
        assert_eq!(plain(text), "TPKT version: unsupported version (71) at offset 1");
        let chained = "[decode @ a.rs:1] decode error, caused by: [ClientInfo @ b.rs:2] not enough bytes [sic]";
        assert_eq!(plain(chained), "decode: decode error, caused by: ClientInfo: not enough bytes [sic]");
    }
}
