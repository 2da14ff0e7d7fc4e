//! SMB2 READ request and response ([MS-SMB2] 2.2.19, 2.2.20).
//!
//! The response borrows its data from the received message: this is the zero-copy path.

use super::flag_newtype;
use super::{Decode, DecodeError, DecodeResult, Encode, FileId, HEADER_LEN, Reader, slice_at};
use alloc::vec::Vec;
use bytes::BufMut;

/// READ request flags ([MS-SMB2] 2.2.19).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadFlags(pub u8);
flag_newtype!(ReadFlags, u8);

impl ReadFlags {
    /// SMB2_READFLAG_READ_UNBUFFERED (3.0.2+).
    pub const UNBUFFERED: u8 = 0x01;
    /// SMB2_READFLAG_REQUEST_COMPRESSED (3.1.1).
    pub const REQUEST_COMPRESSED: u8 = 0x02;
}

/// Channel values of READ and WRITE ([MS-SMB2] 2.2.19).
pub struct Channel;

impl Channel {
    /// SMB2_CHANNEL_NONE.
    pub const NONE: u32 = 0;
    /// SMB2_CHANNEL_RDMA_V1.
    pub const RDMA_V1: u32 = 1;
    /// SMB2_CHANNEL_RDMA_V1_INVALIDATE.
    pub const RDMA_V1_INVALIDATE: u32 = 2;
    /// SMB2_CHANNEL_RDMA_TRANSFORM.
    pub const RDMA_TRANSFORM: u32 = 3;
}

/// Fixed part of the READ request body; the Buffer starts at 0x70.
const REQ_FIXED: usize = 48;
/// Fixed part of the READ response body; data normally starts at 0x50.
const RESP_FIXED: usize = 16;

/// The DataOffset a client usually asks for in `padding`: right after the response's fixed part.
pub const DEFAULT_PADDING: u8 = (HEADER_LEN + RESP_FIXED) as u8;

/// SMB2 READ request ([MS-SMB2] 2.2.19).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadRequest {
    /// Padding: the DataOffset the client wants in the response (0x50 is usual, 0 = server's choice).
    pub padding: u8,
    /// Flags.
    pub flags: ReadFlags,
    /// Bytes to read.
    pub length: u32,
    /// File offset.
    pub offset: u64,
    /// The open.
    pub file_id: FileId,
    /// MinimumCount: fewer bytes than this is a failure.
    pub minimum_count: u32,
    /// Channel ([`Channel`]), NONE unless RDMA.
    pub channel: u32,
    /// RemainingBytes (a hint of the bytes the client will read next).
    pub remaining_bytes: u32,
    /// ReadChannelInfo (RDMA descriptors), normally empty.
    pub channel_info: Vec<u8>,
}

impl Encode for ReadRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        let start = msg.len();
        msg.put_u16_le(49);
        msg.put_u8(self.padding);
        msg.put_u8(self.flags.0);
        msg.put_u32_le(self.length);
        msg.put_u64_le(self.offset);
        self.file_id.write(msg);
        msg.put_u32_le(self.minimum_count);
        msg.put_u32_le(self.channel);
        msg.put_u32_le(self.remaining_bytes);
        if self.channel_info.is_empty() {
            msg.put_u16_le(0);
            msg.put_u16_le(0);
            // [MS-SMB2] 2.2.19: StructureSize 49 includes one byte of Buffer, which must be
            // present even when ReadChannelInfo is empty.
            msg.put_u8(0);
        } else {
            msg.put_u16_le((start + REQ_FIXED) as u16);
            msg.put_u16_le(self.channel_info.len() as u16);
            msg.put_slice(&self.channel_info);
        }
    }
}

impl<'a> Decode<'a> for ReadRequest {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 49)?;
        let padding = r.u8()?;
        let flags = ReadFlags(r.u8()?);
        let length = r.u32()?;
        let offset = r.u64()?;
        let file_id = FileId::read(&mut r)?;
        let minimum_count = r.u32()?;
        let channel = r.u32()?;
        let remaining_bytes = r.u32()?;
        let ci_off = r.u16()?;
        let ci_len = r.u16()?;
        let channel_info = slice_at(
            msg,
            ci_off.into(),
            ci_len.into(),
            HEADER_LEN + REQ_FIXED,
            "ReadChannelInfoOffset",
        )?;
        // The mandatory Buffer byte.
        if msg.len() <= HEADER_LEN + REQ_FIXED {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN + REQ_FIXED + 1,
                available: msg.len(),
            });
        }
        Ok(ReadRequest {
            padding,
            flags,
            length,
            offset,
            file_id,
            minimum_count,
            channel,
            remaining_bytes,
            channel_info: channel_info.to_vec(),
        })
    }
}

/// SMB2 READ response ([MS-SMB2] 2.2.20), borrowing the data from the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadResponse<'a> {
    /// The bytes read: a slice of the received message at DataOffset.
    pub data: &'a [u8],
    /// DataRemaining (RDMA only; 0 otherwise).
    pub data_remaining: u32,
    /// Flags (3.1.1: SMB2_READFLAG_RESPONSE_RDMA_TRANSFORM = 1); Reserved2 before.
    pub flags: u32,
}

impl ReadResponse<'_> {
    /// Offset of the data from the start of the message as this crate encodes it.
    pub const DATA_OFFSET: usize = HEADER_LEN + RESP_FIXED;

    /// Append the fixed part only, announcing `data_len` bytes of data at
    /// [`ReadResponse::DATA_OFFSET`], so a scripted server can send the data as a separate chunk.
    pub fn encode_head(&self, data_len: u32, msg: &mut Vec<u8>) {
        msg.put_u16_le(17);
        msg.put_u8(Self::DATA_OFFSET as u8);
        msg.put_u8(0); // Reserved
        msg.put_u32_le(data_len);
        msg.put_u32_le(self.data_remaining);
        msg.put_u32_le(self.flags);
    }
}

impl Encode for ReadResponse<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        self.encode_head(self.data.len() as u32, msg);
        msg.put_slice(self.data);
    }
}

impl<'a> Decode<'a> for ReadResponse<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 17)?;
        let data_offset = r.u8()?;
        let _reserved = r.u8()?;
        let data_len = r.u32()?;
        let data_remaining = r.u32()?;
        let flags = r.u32()?;
        let data = slice_at(
            msg,
            data_offset.into(),
            data_len as usize,
            HEADER_LEN + RESP_FIXED,
            "DataOffset",
        )?;
        Ok(ReadResponse {
            data,
            data_remaining,
            flags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::*;

    fn sample() -> ReadRequest {
        ReadRequest {
            padding: DEFAULT_PADDING,
            flags: ReadFlags(0),
            length: 0x10000,
            offset: 0x1234,
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
            minimum_count: 0,
            channel: Channel::NONE,
            remaining_bytes: 0,
            channel_info: Vec::new(),
        }
    }

    #[test]
    fn request_is_byte_exact_with_the_mandatory_buffer_byte() {
        let msg = round_trip(Command::Read, false, &sample());
        assert_eq!(
            &msg[64..],
            &hex("3100 50 00 00000100 3412000000000000
                  0100000000000000 0200000000000000
                  00000000 00000000 00000000 0000 0000 00")[..]
        );
        prefixes_fail::<ReadRequest>(&msg);
        let mut with_ci = sample();
        with_ci.channel = Channel::RDMA_V1;
        with_ci.channel_info = alloc::vec![1; 16];
        let msg = round_trip(Command::Read, false, &with_ci);
        assert_eq!(&msg[64 + 44..64 + 48], &[0x70, 0, 16, 0]);
        let mut bad = msg;
        bad[64 + 44] = 0x60;
        assert!(ReadRequest::decode(&bad).is_err());
    }

    #[test]
    fn response_borrows_data_at_offset() {
        let data: Vec<u8> = (0..=255u8).collect();
        let resp = ReadResponse {
            data: &data,
            data_remaining: 0,
            flags: 0,
        };
        let msg = message(Command::Read, true, &resp);
        assert_eq!(&msg[64..68], &[17, 0, 0x50, 0]);
        let back = ReadResponse::decode(&msg).unwrap();
        assert_eq!(back, resp);
        // Zero copy: the slice points into the message.
        assert_eq!(back.data.as_ptr(), msg[0x50..].as_ptr());
        assert_eq!(message(Command::Read, true, &back), msg);
        prefixes_fail::<ReadResponse>(&msg);
        // DataOffset inside the fixed part, or past the end.
        let mut bad = msg.clone();
        bad[66] = 0x40;
        assert_eq!(
            ReadResponse::decode(&bad),
            Err(DecodeError::BadOffset {
                field: "DataOffset"
            })
        );
        let mut bad = msg.clone();
        bad[66] = 0x51;
        assert!(ReadResponse::decode(&bad).is_err());
        // A server may put the data further away (e.g. 8-aligned in a compound).
        let mut moved = msg[..0x50].to_vec();
        moved[66] = 0x58;
        moved.extend_from_slice(&[0; 8]);
        moved.extend_from_slice(&data);
        assert_eq!(ReadResponse::decode(&moved).unwrap().data, &data[..]);
    }
}
