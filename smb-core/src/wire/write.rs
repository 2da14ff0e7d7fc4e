//! SMB2 WRITE request and response ([MS-SMB2] 2.2.21, 2.2.22).
//!
//! The engine never copies write data into a message: it encodes the fixed part with
//! [`WriteRequest::encode_head`] and sends the caller's bytes as a separate chunk of the same
//! frame (vectored write). [`Encode`] and [`Decode`] of the whole message exist for tests and
//! for the scripted server.

use super::flag_newtype;
use super::{Decode, DecodeError, DecodeResult, Encode, FileId, HEADER_LEN, Reader, slice_at};
use alloc::vec::Vec;
use bytes::BufMut;

/// WRITE request flags ([MS-SMB2] 2.2.21).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WriteFlags(pub u32);
flag_newtype!(WriteFlags, u32);

impl WriteFlags {
    /// SMB2_WRITEFLAG_WRITE_THROUGH (2.1+).
    pub const WRITE_THROUGH: u32 = 0x0000_0001;
    /// SMB2_WRITEFLAG_WRITE_UNBUFFERED (3.0.2+).
    pub const WRITE_UNBUFFERED: u32 = 0x0000_0002;
}

/// Fixed part of the WRITE request body; the Buffer starts at 0x70.
const REQ_FIXED: usize = 48;

/// SMB2 WRITE request ([MS-SMB2] 2.2.21), borrowing the data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteRequest<'a> {
    /// The bytes to write.
    pub data: &'a [u8],
    /// File offset.
    pub offset: u64,
    /// The open.
    pub file_id: FileId,
    /// Channel (see `read::Channel`), NONE unless RDMA.
    pub channel: u32,
    /// RemainingBytes (a hint of the bytes the client will write next).
    pub remaining_bytes: u32,
    /// WriteChannelInfo (RDMA descriptors), normally empty. Placed before the data.
    pub channel_info: &'a [u8],
    /// Flags.
    pub flags: WriteFlags,
}

impl WriteRequest<'_> {
    /// Offset of the data from the start of the message when there is no channel info.
    pub const DATA_OFFSET: usize = HEADER_LEN + REQ_FIXED;

    /// Append the fixed part of the body announcing `data_len` bytes of data (the `data` field
    /// is not read). With empty channel info, DataOffset = 0x70 and the caller sends exactly
    /// `data_len` bytes right after what this wrote. Any channel info is written here, before
    /// the data. When `data_len` is 0 and there is no channel info, the one mandatory Buffer
    /// byte (StructureSize 49) is written here too, so the message is complete.
    pub fn encode_head(&self, data_len: u32, msg: &mut Vec<u8>) {
        let start = msg.len();
        let buffer = start + REQ_FIXED;
        msg.put_u16_le(49);
        msg.put_u16_le((buffer + self.channel_info.len()) as u16); // DataOffset
        msg.put_u32_le(data_len);
        msg.put_u64_le(self.offset);
        self.file_id.write(msg);
        msg.put_u32_le(self.channel);
        msg.put_u32_le(self.remaining_bytes);
        if self.channel_info.is_empty() {
            msg.put_u16_le(0);
            msg.put_u16_le(0);
        } else {
            msg.put_u16_le(buffer as u16);
            msg.put_u16_le(self.channel_info.len() as u16);
        }
        msg.put_u32_le(self.flags.0);
        msg.put_slice(self.channel_info);
        if data_len == 0 && self.channel_info.is_empty() {
            msg.put_u8(0);
        }
    }
}

impl Encode for WriteRequest<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        self.encode_head(self.data.len() as u32, msg);
        msg.put_slice(self.data);
    }
}

impl<'a> Decode<'a> for WriteRequest<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 49)?;
        let data_off = r.u16()?;
        let data_len = r.u32()?;
        let offset = r.u64()?;
        let file_id = FileId::read(&mut r)?;
        let channel = r.u32()?;
        let remaining_bytes = r.u32()?;
        let ci_off = r.u16()?;
        let ci_len = r.u16()?;
        let flags = WriteFlags(r.u32()?);
        let min = HEADER_LEN + REQ_FIXED;
        let data = slice_at(msg, data_off.into(), data_len as usize, min, "DataOffset")?;
        let channel_info = slice_at(
            msg,
            ci_off.into(),
            ci_len.into(),
            min,
            "WriteChannelInfoOffset",
        )?;
        if msg.len() <= min {
            return Err(DecodeError::Truncated {
                needed: min + 1,
                available: msg.len(),
            });
        }
        Ok(WriteRequest {
            data,
            offset,
            file_id,
            channel,
            remaining_bytes,
            channel_info,
            flags,
        })
    }
}

/// SMB2 WRITE response ([MS-SMB2] 2.2.22).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteResponse {
    /// Count: bytes written.
    pub count: u32,
    /// Remaining (reserved, 0).
    pub remaining: u32,
}

impl Encode for WriteResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        // StructureSize 17 counts a Buffer byte that servers (Samba) do not send.
        msg.put_u16_le(17);
        msg.put_u16_le(0); // Reserved
        msg.put_u32_le(self.count);
        msg.put_u32_le(self.remaining);
        msg.put_u16_le(0); // WriteChannelInfoOffset
        msg.put_u16_le(0); // WriteChannelInfoLength
    }
}

impl<'a> Decode<'a> for WriteResponse {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 17)?;
        r.skip(2)?;
        let count = r.u32()?;
        let remaining = r.u32()?;
        r.skip(4)?;
        Ok(WriteResponse { count, remaining })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::*;

    #[test]
    fn head_plus_data_equals_whole_message() {
        let data: Vec<u8> = (0..100u8).collect();
        let req = WriteRequest {
            data: &data,
            offset: 0x2000,
            file_id: FileId {
                persistent: 3,
                volatile: 4,
            },
            ..Default::default()
        };
        let msg = message(Command::Write, false, &req);
        let mut head = Vec::new();
        crate::wire::Header::request(Command::Write).encode(&mut head);
        req.encode_head(data.len() as u32, &mut head);
        assert_eq!(head.len(), 0x70);
        assert_eq!(&msg[..0x70], &head[..]);
        assert_eq!(&msg[0x70..], &data[..]);
        assert_eq!(
            &msg[64..0x70],
            &hex("3100 7000 64000000 0020000000000000
                  0300000000000000 0400000000000000
                  00000000 00000000 0000 0000 00000000")[..]
        );
        let back = WriteRequest::decode(&msg).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.data.as_ptr(), msg[0x70..].as_ptr());
        prefixes_fail::<WriteRequest<'_>>(&msg);
        let mut bad = msg.clone();
        bad[66] = 0x6f; // DataOffset into the fixed part
        assert!(WriteRequest::decode(&bad).is_err());
        let mut bad = msg;
        bad[68] = 101; // Length past the end
        assert!(WriteRequest::decode(&bad).is_err());
    }

    #[test]
    fn empty_write_and_channel_info_round_trip() {
        let empty = WriteRequest::default();
        let msg = message(Command::Write, false, &empty);
        assert_eq!(WriteRequest::decode(&msg).unwrap(), empty);
        assert_eq!(msg.len(), 0x71);
        prefixes_fail::<WriteRequest<'_>>(&msg);
        let ci = [9u8; 16];
        let data = [1u8, 2, 3];
        let rdma = WriteRequest {
            data: &data,
            channel: 1,
            channel_info: &ci,
            flags: WriteFlags(WriteFlags::WRITE_THROUGH),
            ..Default::default()
        };
        let msg = message(Command::Write, false, &rdma);
        let back = WriteRequest::decode(&msg).unwrap();
        assert_eq!(back, rdma);
        assert_eq!(message(Command::Write, false, &back), msg);
        assert_eq!(&msg[66..68], &[0x80, 0]);
        assert_eq!(&msg[64 + 40..64 + 44], &[0x70, 0, 16, 0]);
    }

    #[test]
    fn response_round_trips() {
        let resp = WriteResponse {
            count: 65536,
            remaining: 0,
        };
        let msg = round_trip(Command::Write, true, &resp);
        assert_eq!(
            &msg[64..],
            &hex("1100 0000 00000100 00000000 0000 0000")[..]
        );
        prefixes_fail::<WriteResponse>(&msg);
    }
}
