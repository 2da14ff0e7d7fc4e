//! SMB2 ECHO request and response ([MS-SMB2] 2.2.28, 2.2.29): a 4-byte body each.

use super::logoff::{decode_size4, encode_size4};
use super::{Decode, DecodeResult, Encode};
use alloc::vec::Vec;

/// SMB2 ECHO request ([MS-SMB2] 2.2.28).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoRequest;

/// SMB2 ECHO response ([MS-SMB2] 2.2.29).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EchoResponse;

impl Encode for EchoRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_size4(msg);
    }
}

impl Decode<'_> for EchoRequest {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        decode_size4(msg).map(|()| EchoRequest)
    }
}

impl Encode for EchoResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_size4(msg);
    }
}

impl Decode<'_> for EchoResponse {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        decode_size4(msg).map(|()| EchoResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::{all_prefixes_fail, message};

    #[test]
    fn echo_round_trips() {
        let msg = message(Command::Echo, false, &EchoRequest);
        assert_eq!(msg.len(), 68);
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(EchoRequest::decode(&msg).unwrap(), EchoRequest);
        let msg = message(Command::Echo, true, &EchoResponse);
        assert_eq!(EchoResponse::decode(&msg).unwrap(), EchoResponse);
        all_prefixes_fail(&msg, |m| EchoResponse::decode(m).is_err());
        all_prefixes_fail(&msg, |m| EchoRequest::decode(m).is_err());
    }
}
