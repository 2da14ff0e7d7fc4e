//! SMB2 CANCEL request ([MS-SMB2] 2.2.30): a 4-byte body. CANCEL has no response; the
//! cancelled request completes (typically with STATUS_CANCELLED). A CANCEL for an
//! asynchronous operation uses the async header form with the AsyncId, and carries the
//! MessageId of the request it cancels without consuming a sequence number
//! ([MS-SMB2] 3.2.4.24).

use super::logoff::{decode_size4, encode_size4};
use super::{Decode, DecodeResult, Encode};
use alloc::vec::Vec;

/// SMB2 CANCEL request ([MS-SMB2] 2.2.30).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CancelRequest;

impl Encode for CancelRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_size4(msg);
    }
}

impl Decode<'_> for CancelRequest {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        decode_size4(msg).map(|()| CancelRequest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::{all_prefixes_fail, message};

    #[test]
    fn cancel_round_trips() {
        let msg = message(Command::Cancel, false, &CancelRequest);
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(CancelRequest::decode(&msg).unwrap(), CancelRequest);
        all_prefixes_fail(&msg, |m| CancelRequest::decode(m).is_err());
    }
}
