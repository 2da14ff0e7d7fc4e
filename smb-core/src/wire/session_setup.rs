//! SMB2 SESSION_SETUP request and response ([MS-SMB2] 2.2.5, 2.2.6).

use super::flag_newtype;
use super::negotiate::{Capabilities, SecurityMode};
use super::{Decode, DecodeResult, Encode, HEADER_LEN, Reader, slice_at};
use alloc::vec::Vec;
use bytes::BufMut;

/// Flags of a SESSION_SETUP request ([MS-SMB2] 2.2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SessionSetupFlags(pub u8);

impl SessionSetupFlags {
    /// SMB2_SESSION_FLAG_BINDING: bind an existing session to a new channel (3.x).
    pub const BINDING: u8 = 0x01;
}
flag_newtype!(SessionSetupFlags, u8);

/// SessionFlags of a SESSION_SETUP response ([MS-SMB2] 2.2.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SessionFlags(pub u16);

impl SessionFlags {
    /// SMB2_SESSION_FLAG_IS_GUEST.
    pub const IS_GUEST: u16 = 0x0001;
    /// SMB2_SESSION_FLAG_IS_NULL (anonymous).
    pub const IS_NULL: u16 = 0x0002;
    /// SMB2_SESSION_FLAG_ENCRYPT_DATA (3.x): the session requires encryption.
    pub const ENCRYPT_DATA: u16 = 0x0004;
}
flag_newtype!(SessionFlags, u16);

/// SMB2 SESSION_SETUP request ([MS-SMB2] 2.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSetupRequest<'a> {
    /// Flags ([`SessionSetupFlags::BINDING`]).
    pub flags: SessionSetupFlags,
    /// SecurityMode (one byte on the wire).
    pub security_mode: SecurityMode,
    /// Capabilities (only DFS is meaningful here).
    pub capabilities: Capabilities,
    /// Channel (reserved, 0).
    pub channel: u32,
    /// PreviousSessionId, to let the server drop a session lost on reconnect.
    pub previous_session_id: u64,
    /// The security buffer (a SPNEGO token).
    pub security_buffer: &'a [u8],
}

/// Size of the fixed part of the request (StructureSize 25 counts one buffer byte).
const REQ_FIXED: usize = 24;

impl Encode for SessionSetupRequest<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        let base = msg.len();
        msg.put_u16_le(25);
        msg.put_u8(self.flags.0);
        msg.put_u8(self.security_mode.0 as u8);
        msg.put_u32_le(self.capabilities.0);
        msg.put_u32_le(self.channel);
        msg.put_u16_le((base + REQ_FIXED) as u16);
        msg.put_u16_le(self.security_buffer.len() as u16);
        msg.put_u64_le(self.previous_session_id);
        msg.put_slice(self.security_buffer);
    }
}

impl<'a> Decode<'a> for SessionSetupRequest<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 25)?;
        let flags = SessionSetupFlags(r.u8()?);
        let security_mode = SecurityMode(r.u8()?.into());
        let capabilities = Capabilities(r.u32()?);
        let channel = r.u32()?;
        let off = r.u16()? as usize;
        let len = r.u16()? as usize;
        let previous_session_id = r.u64()?;
        let security_buffer = slice_at(msg, off, len, r.pos(), "SecurityBuffer")?;
        Ok(SessionSetupRequest {
            flags,
            security_mode,
            capabilities,
            channel,
            previous_session_id,
            security_buffer,
        })
    }
}

/// SMB2 SESSION_SETUP response ([MS-SMB2] 2.2.6). With STATUS_MORE_PROCESSING_REQUIRED this
/// body (not an ERROR body) carries the next leg of the exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSetupResponse<'a> {
    /// SessionFlags.
    pub session_flags: SessionFlags,
    /// The security buffer (a SPNEGO token, possibly empty on the last leg).
    pub security_buffer: &'a [u8],
}

const RSP_FIXED: usize = 8;

impl Encode for SessionSetupResponse<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        let base = msg.len();
        msg.put_u16_le(9);
        msg.put_u16_le(self.session_flags.0);
        msg.put_u16_le((base + RSP_FIXED) as u16);
        msg.put_u16_le(self.security_buffer.len() as u16);
        msg.put_slice(self.security_buffer);
    }
}

impl<'a> Decode<'a> for SessionSetupResponse<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 9)?;
        let session_flags = SessionFlags(r.u16()?);
        let off = r.u16()? as usize;
        let len = r.u16()? as usize;
        let security_buffer = slice_at(msg, off, len, r.pos(), "SecurityBuffer")?;
        Ok(SessionSetupResponse {
            session_flags,
            security_buffer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_util::{all_prefixes_fail, hex, message, reencodes_exactly};
    use crate::wire::{Command, Header};

    #[test]
    fn request_round_trips_byte_exact() {
        let token = [0x60u8, 0x48, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
        let req = SessionSetupRequest {
            flags: SessionSetupFlags(SessionSetupFlags::BINDING),
            security_mode: SecurityMode(SecurityMode::SIGNING_ENABLED),
            capabilities: Capabilities(Capabilities::DFS),
            channel: 0,
            previous_session_id: 0x1122_3344_5566_7788,
            security_buffer: &token,
        };
        let msg = message(Command::SessionSetup, false, &req);
        #[rustfmt::skip]
        let expected_body = [
            25, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 88, 0, 10, 0,
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
        ];
        assert_eq!(&msg[64..88], &expected_body);
        assert_eq!(&msg[88..], &token);
        let back = SessionSetupRequest::decode(&msg).unwrap();
        assert_eq!(back, req);
        assert!(back.flags.has(SessionSetupFlags::BINDING));
        all_prefixes_fail(&msg, |m| SessionSetupRequest::decode(m).is_err());
    }

    #[test]
    fn response_round_trips_byte_exact() {
        let token = [0xa1u8, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x00];
        let rsp = SessionSetupResponse {
            session_flags: SessionFlags(SessionFlags::ENCRYPT_DATA),
            security_buffer: &token,
        };
        let msg = message(Command::SessionSetup, true, &rsp);
        assert_eq!(&msg[64..72], &[9, 0, 4, 0, 72, 0, 9, 0]);
        let back = SessionSetupResponse::decode(&msg).unwrap();
        assert_eq!(back, rsp);
        assert!(back.session_flags.has(SessionFlags::ENCRYPT_DATA));
        assert!(!back.session_flags.has(SessionFlags::IS_GUEST));
        let mut again = Vec::new();
        Header::decode(&msg).unwrap().encode(&mut again);
        back.encode(&mut again);
        assert_eq!(again, msg);
        all_prefixes_fail(&msg, |m| SessionSetupResponse::decode(m).is_err());
    }

    #[test]
    fn empty_buffer_and_bad_offsets() {
        let rsp = SessionSetupResponse {
            session_flags: SessionFlags(SessionFlags::IS_GUEST | SessionFlags::IS_NULL),
            security_buffer: &[],
        };
        let msg = message(Command::SessionSetup, true, &rsp);
        assert_eq!(SessionSetupResponse::decode(&msg).unwrap(), rsp);
        // Offset 0 with length 0 (as some servers send) is an empty buffer.
        let mut m = msg.clone();
        m[68] = 0;
        assert_eq!(SessionSetupResponse::decode(&m).unwrap(), rsp);
        // Non-empty buffer pointing into the header, or past the end.
        let mut m = msg.clone();
        m.push(0);
        m[68] = 10;
        m[70] = 1;
        assert!(SessionSetupResponse::decode(&m).is_err());
        m[68] = 72;
        m[70..72].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(SessionSetupResponse::decode(&m).is_err());
        let mut m = msg;
        m[64] = 8;
        assert!(SessionSetupResponse::decode(&m).is_err());
    }

    /// smbclient/smbd 4.17 on loopback, frame 8 of the capture (NBSS prefix removed).
    const SAMBA_SESS_REQ_1: &str = "\
        fe534d4240000100000000000100002010000000000000000100000000000000000000000000000000000000\
        000000000000000000000000000000000000000019000001010000000000000058004a000000000000000000\
        604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d535350000100\
        00001582086200000000280000000000000028000000060100000000000f\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 9 of the capture (NBSS prefix removed).
    const SAMBA_SESS_RSP_1: &str = "\
        fe534d4240000100160000c001000100110000000000000001000000000000000000000000000000dce50d98\
        00000000000000000000000000000000000000000900000048009f00a1819c308199a0030a0101a10c060a2b\
        06010401823702020aa281830481804e544c4d53535000020000000c000c003800000015828a62c120fd44a6\
        217b4800000000000000003c003c0044000000060100000000000f43004100500053005200560002000c0043\
        004100500053005200560001000c00430041005000530052005600040000000300040076006d00070008007e\
        f536dfa67cdd0100000000\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 11 of the capture (NBSS prefix removed).
    const SAMBA_SESS_RSP_2: &str = "\
        fe534d42400001000000000001000020190000000000000002000000000000000000000000000000dce50d98\
        00000000113a07b4397e5f1eb76b9fe2af8827ae0900000048001d00a11b3019a0030a0100a3120410010000\
        004805e5fff427d7be00000000\
    ";

    #[test]
    fn samba_session_setup_capture() {
        let msg = hex(SAMBA_SESS_REQ_1);
        let req = SessionSetupRequest::decode(&msg).unwrap();
        assert_eq!(req.security_buffer.len(), 74);
        assert_eq!(&req.security_buffer[..2], &[0x60, 0x48]);
        assert_eq!(req.previous_session_id, 0);
        reencodes_exactly(&msg, &req);
        for fixture in [SAMBA_SESS_RSP_1, SAMBA_SESS_RSP_2] {
            let msg = hex(fixture);
            let rsp = SessionSetupResponse::decode(&msg).unwrap();
            assert!(!crate::wire::error::is_error_body(&msg));
            reencodes_exactly(&msg, &rsp);
            all_prefixes_fail(&msg, |m| SessionSetupResponse::decode(m).is_err());
        }
        let rsp_msg = hex(SAMBA_SESS_RSP_1);
        let rsp = SessionSetupResponse::decode(&rsp_msg).unwrap();
        assert_eq!(&rsp.security_buffer[..1], &[0xa1]);
    }
}
