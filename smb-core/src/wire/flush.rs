//! SMB2 FLUSH request and response ([MS-SMB2] 2.2.17, 2.2.18).

use super::{Decode, DecodeResult, Encode, FileId, HEADER_LEN, Reader};
use alloc::vec::Vec;
use bytes::BufMut;

/// SMB2 FLUSH request ([MS-SMB2] 2.2.17).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushRequest {
    /// The open to flush.
    pub file_id: FileId,
}

impl Encode for FlushRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(24);
        msg.put_u16_le(0); // Reserved1
        msg.put_u32_le(0); // Reserved2
        self.file_id.write(msg);
    }
}

impl<'a> Decode<'a> for FlushRequest {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 24)?;
        r.skip(6)?;
        Ok(FlushRequest {
            file_id: FileId::read(&mut r)?,
        })
    }
}

/// SMB2 FLUSH response ([MS-SMB2] 2.2.18): StructureSize 4 and a reserved field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushResponse;

impl Encode for FlushResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(4);
        msg.put_u16_le(0);
    }
}

impl<'a> Decode<'a> for FlushResponse {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 4)?;
        r.skip(2)?;
        Ok(FlushResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::*;

    #[test]
    fn round_trips_and_rejects_prefixes() {
        let req = FlushRequest {
            file_id: FileId {
                persistent: 9,
                volatile: 10,
            },
        };
        let msg = round_trip(Command::Flush, false, &req);
        assert_eq!(
            &msg[64..],
            &hex("1800 0000 00000000 0900000000000000 0a00000000000000")[..]
        );
        prefixes_fail::<FlushRequest>(&msg);
        let msg = round_trip(Command::Flush, true, &FlushResponse);
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        prefixes_fail::<FlushResponse>(&msg);
        let mut bad = msg;
        bad[64] = 5;
        assert!(FlushResponse::decode(&bad).is_err());
    }
}
