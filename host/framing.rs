//! The RDP framing around what the host reads itself: X.224 data, MCS Send
//! Data and the basic security header of standard RDP security at
//! encryption level NONE. It takes the licensing PDU out of a client's frame
//! and wraps the front's PDUs for the client; it reads the client name of
//! the MCS Connect Initial and the user of the Client Info PDU (the
//! acceptor keeps neither where the host can reach it); and it mends
//! rdesktop's frames, which carry an empty Security Exchange PDU and the
//! SEC_ENCRYPT flag with an 8-byte MAC although nothing is encrypted. Every
//! client byte is decoded with bounds checks: a bad frame is an error saying
//! what was expected, never a panic.

use ironrdp_core::{decode, encode_vec};
use ironrdp_pdu::mcs::{ConnectInitial, McsMessage, SendDataIndication, SendDataRequest};
use ironrdp_pdu::rdp::ClientInfoPdu;
use ironrdp_pdu::rdp::headers::BasicSecurityHeaderFlags as Sec;
use ironrdp_pdu::x224::{X224, X224Data};
use std::borrow::Cow;

/// The MCS I/O channel and the server's user channel of ironrdp-acceptor
/// 0.12 (its constants, which it does not export): licensing PDUs travel
/// on the I/O channel, sent by the server's channel (MS-RDPBCGR 3.3.1.5).
pub const IO_CHANNEL_ID: u16 = 1003;
pub const SERVER_CHANNEL_ID: u16 = 1002;

/// The length of the MAC rdesktop puts after a SEC_ENCRYPT header.
const MAC_LEN: usize = 8;

/// A client's frame at the secure settings exchange, mended for the acceptor.
#[derive(Debug, PartialEq)]
pub enum Mended {
    /// A Security Exchange PDU: there is no key to exchange, so it is dropped.
    Drop,
    /// The frame to hand to the acceptor.
    Keep(Vec<u8>),
}

/// What the client's Client Info PDU says (the password is only checked).
pub struct Logon {
    pub user: String,
    pub domain: String,
    pub password: String,
}

/// The client name of the client core data in an MCS Connect Initial.
pub fn client_name(frame: &[u8]) -> Result<String, String> {
    let x224 = decode::<X224<X224Data<'_>>>(frame).map_err(|e| format!("not an X.224 data frame: {e}"))?;
    let initial =
        decode::<ConnectInitial>(x224.0.data.as_ref()).map_err(|e| format!("not an MCS Connect Initial: {e}"))?;
    let name = &initial.conference_create_request.gcc_blocks().core.client_name;
    Ok(name.trim_end_matches('\0').to_string())
}

/// Drops a Security Exchange PDU and takes SEC_ENCRYPT and its MAC off a
/// frame of the secure settings exchange; other frames pass unchanged.
pub fn mend_secure_settings(frame: &[u8]) -> Result<Mended, String> {
    let request = send_data_request(frame)?;
    let (flags, body) = security_header(&request.user_data)?;
    if flags.contains(Sec::EXCHANGE_PKT) {
        return Ok(Mended::Drop);
    }
    if !flags.contains(Sec::ENCRYPT) {
        return Ok(Mended::Keep(frame.to_vec()));
    }
    let mut user_data = (flags - Sec::ENCRYPT).bits().to_le_bytes().to_vec();
    user_data.extend_from_slice(&[0, 0]);
    user_data.extend_from_slice(after_mac(body)?);
    let mended = SendDataRequest { user_data: Cow::Owned(user_data), ..request };
    encode_vec(&X224(mended)).map(Mended::Keep).map_err(|e| format!("cannot re-encode the client's frame: {e}"))
}

/// The user, domain and password of a (mended) Client Info PDU frame.
pub fn logon(frame: &[u8]) -> Result<Logon, String> {
    let request = send_data_request(frame)?;
    let info = decode::<ClientInfoPdu>(&request.user_data).map_err(|e| format!("not a Client Info PDU: {e}"))?;
    let credentials = info.client_info.credentials;
    Ok(Logon {
        user: credentials.username,
        domain: credentials.domain.unwrap_or_default(),
        password: credentials.password,
    })
}

/// The licensing PDU (from its preamble on) in a client's frame.
pub fn license_message(frame: &[u8]) -> Result<Vec<u8>, String> {
    let request = send_data_request(frame)?;
    if request.channel_id != IO_CHANNEL_ID {
        return Err(format!(
            "a licensing message on MCS channel {}, not the I/O channel {IO_CHANNEL_ID}",
            request.channel_id
        ));
    }
    let (flags, body) = security_header(&request.user_data)?;
    if !flags.contains(Sec::LICENSE_PKT) {
        return Err(format!("expected a licensing message, got security flags 0x{:04X}", flags.bits()));
    }
    let body = if flags.contains(Sec::ENCRYPT) { after_mac(body)? } else { body };
    Ok(body.to_vec())
}

/// A frame carrying one licensing PDU of the front to the client.
pub fn license_frame(message: &[u8]) -> Result<Vec<u8>, String> {
    let mut user_data = Sec::LICENSE_PKT.bits().to_le_bytes().to_vec();
    user_data.extend_from_slice(&[0, 0]);
    user_data.extend_from_slice(message);
    let indication = SendDataIndication {
        initiator_id: SERVER_CHANNEL_ID,
        channel_id: IO_CHANNEL_ID,
        user_data: Cow::Owned(user_data),
    };
    encode_vec(&X224(indication))
        .map_err(|e| format!("cannot encode a licensing message of {} bytes: {e}", message.len()))
}

/// The MCS Send Data Request in a frame; a Disconnect Provider Ultimatum
/// (the client hanging up) or anything else is an error saying so.
fn send_data_request(frame: &[u8]) -> Result<SendDataRequest<'_>, String> {
    match decode::<X224<McsMessage<'_>>>(frame) {
        Ok(X224(McsMessage::SendDataRequest(request))) => Ok(request),
        Ok(X224(McsMessage::DisconnectProviderUltimatum(_))) => Err("the client disconnected".to_string()),
        Ok(X224(other)) => Err(format!("expected MCS Send Data, got {}", mcs_name(&other))),
        Err(e) => Err(format!("not an MCS frame: {e}")),
    }
}

fn mcs_name(message: &McsMessage<'_>) -> &'static str {
    match message {
        McsMessage::ErectDomainRequest(_) => "Erect Domain Request",
        McsMessage::AttachUserRequest(_) => "Attach User Request",
        McsMessage::AttachUserConfirm(_) => "Attach User Confirm",
        McsMessage::ChannelJoinRequest(_) => "Channel Join Request",
        McsMessage::ChannelJoinConfirm(_) => "Channel Join Confirm",
        McsMessage::SendDataRequest(_) => "Send Data Request",
        McsMessage::SendDataIndication(_) => "Send Data Indication",
        McsMessage::DisconnectProviderUltimatum(_) => "Disconnect Provider Ultimatum",
    }
}

/// The basic security header's flags (flagsHi is ignored) and what follows.
fn security_header(user_data: &[u8]) -> Result<(Sec, &[u8]), String> {
    let Some((header, body)) = user_data.split_first_chunk::<4>() else {
        return Err(format!("{} bytes of MCS data, too short for a security header", user_data.len()));
    };
    Ok((Sec::from_bits_retain(u16::from_le_bytes([header[0], header[1]])), body))
}

fn after_mac(body: &[u8]) -> Result<&[u8], String> {
    body.get(MAC_LEN..)
        .ok_or_else(|| format!("SEC_ENCRYPT set but only {} bytes follow, fewer than its MAC", body.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_frame(channel_id: u16, user_data: &[u8]) -> Vec<u8> {
        let request = SendDataRequest { initiator_id: 1007, channel_id, user_data: Cow::Borrowed(user_data) };
        encode_vec(&X224(request)).expect("encoded")
    }

    #[test]
    fn a_licensing_message_comes_out_of_its_frame_with_rdesktops_mac_taken_off() {
        let plain = request_frame(IO_CHANNEL_ID, &[0x80, 0, 0, 0, 0x13, 0x83, 8, 0]);
        assert_eq!(license_message(&plain).expect("plain"), [0x13, 0x83, 8, 0]);
        let encrypted = request_frame(IO_CHANNEL_ID, &[0x88, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x13, 0x83, 8, 0]);
        assert_eq!(license_message(&encrypted).expect("rdesktop's"), [0x13, 0x83, 8, 0]);
    }

    #[test]
    fn a_frame_that_is_not_a_licensing_message_is_an_error_saying_why() {
        let info = request_frame(IO_CHANNEL_ID, &[0x40, 0, 0, 0, 1]);
        assert_eq!(
            license_message(&info).expect_err("info"),
            "expected a licensing message, got security flags 0x0040"
        );
        let short = request_frame(IO_CHANNEL_ID, &[0x88, 0, 0, 0, 1, 2]);
        assert!(license_message(&short).expect_err("short").contains("fewer than its MAC"));
        assert!(license_message(&request_frame(1004, &[0x80, 0, 0, 0])).is_err());
        assert!(license_message(&[3, 0, 0, 4]).is_err());
        assert!(license_message(&[]).is_err());
    }

    #[test]
    fn a_licensing_message_goes_out_on_the_io_channel_after_a_license_header() {
        let frame = license_frame(&[0xFF, 0x03, 0x10, 0x00]).expect("encoded");
        let X224(McsMessage::SendDataIndication(indication)) = decode::<X224<McsMessage<'_>>>(&frame).expect("decoded")
        else {
            panic!("not a Send Data Indication")
        };
        assert_eq!((indication.initiator_id, indication.channel_id), (SERVER_CHANNEL_ID, IO_CHANNEL_ID));
        assert_eq!(indication.user_data.as_ref(), [0x80, 0, 0, 0, 0xFF, 0x03, 0x10, 0x00]);
    }

    #[test]
    fn rdesktops_security_exchange_is_dropped_and_its_encrypt_flag_and_mac_taken_off() {
        assert_eq!(mend_secure_settings(&request_frame(IO_CHANNEL_ID, &[1, 0, 0, 0, 0, 0, 0, 0])), Ok(Mended::Drop));
        let Ok(Mended::Keep(mended)) =
            mend_secure_settings(&request_frame(IO_CHANNEL_ID, &[0x48, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 7]))
        else {
            panic!("not kept")
        };
        assert_eq!(mended, request_frame(IO_CHANNEL_ID, &[0x40, 0, 0, 0, 7]));
        let plain = request_frame(IO_CHANNEL_ID, &[0x40, 0, 0, 0, 7]);
        assert_eq!(mend_secure_settings(&plain), Ok(Mended::Keep(plain.clone())));
    }
}
