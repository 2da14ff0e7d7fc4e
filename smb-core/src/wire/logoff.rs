//! SMB2 LOGOFF request and response ([MS-SMB2] 2.2.7, 2.2.8): a 4-byte body each
//! (StructureSize 4, Reserved).

use super::{Decode, DecodeResult, Encode, HEADER_LEN, Reader};
use alloc::vec::Vec;
use bytes::BufMut;

/// Encode the 4-byte body shared by the trivial messages (StructureSize 4, Reserved 0).
pub(crate) fn encode_size4(msg: &mut Vec<u8>) {
    msg.put_u16_le(4);
    msg.put_u16_le(0);
}

/// Decode a 4-byte body (StructureSize 4, Reserved ignored).
pub(crate) fn decode_size4(msg: &[u8]) -> DecodeResult<()> {
    let mut r = Reader::at(msg, HEADER_LEN)?;
    r.expect_u16("StructureSize", 4)?;
    r.skip(2)
}

/// SMB2 LOGOFF request ([MS-SMB2] 2.2.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogoffRequest;

/// SMB2 LOGOFF response ([MS-SMB2] 2.2.8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogoffResponse;

impl Encode for LogoffRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_size4(msg);
    }
}

impl Decode<'_> for LogoffRequest {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        decode_size4(msg).map(|()| LogoffRequest)
    }
}

impl Encode for LogoffResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_size4(msg);
    }
}

impl Decode<'_> for LogoffResponse {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        decode_size4(msg).map(|()| LogoffResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::{all_prefixes_fail, message};

    #[test]
    fn logoff_round_trips() {
        let msg = message(Command::Logoff, false, &LogoffRequest);
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(LogoffRequest::decode(&msg).unwrap(), LogoffRequest);
        all_prefixes_fail(&msg, |m| LogoffRequest::decode(m).is_err());
        let msg = message(Command::Logoff, true, &LogoffResponse);
        assert_eq!(LogoffResponse::decode(&msg).unwrap(), LogoffResponse);
        all_prefixes_fail(&msg, |m| LogoffResponse::decode(m).is_err());
        let mut bad = msg;
        bad[64] = 9;
        assert!(LogoffResponse::decode(&bad).is_err());
    }
}
