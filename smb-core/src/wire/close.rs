//! SMB2 CLOSE request and response ([MS-SMB2] 2.2.15, 2.2.16).

use super::create::FileAttributes;
use super::flag_newtype;
use super::{Decode, DecodeResult, Encode, FileId, HEADER_LEN, Reader};
use alloc::vec::Vec;
use bytes::BufMut;

/// CLOSE flags ([MS-SMB2] 2.2.15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CloseFlags(pub u16);
flag_newtype!(CloseFlags, u16);

impl CloseFlags {
    /// SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB: return the attributes in the response.
    pub const POSTQUERY_ATTRIB: u16 = 0x0001;
}

/// SMB2 CLOSE request ([MS-SMB2] 2.2.15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseRequest {
    /// Flags.
    pub flags: CloseFlags,
    /// The open to close.
    pub file_id: FileId,
}

impl Encode for CloseRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(24);
        msg.put_u16_le(self.flags.0);
        msg.put_u32_le(0); // Reserved
        self.file_id.write(msg);
    }
}

impl<'a> Decode<'a> for CloseRequest {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 24)?;
        let flags = CloseFlags(r.u16()?);
        r.skip(4)?;
        Ok(CloseRequest {
            flags,
            file_id: FileId::read(&mut r)?,
        })
    }
}

/// SMB2 CLOSE response ([MS-SMB2] 2.2.16). The times, sizes and attributes are valid only
/// when the response's flags have POSTQUERY_ATTRIB (otherwise the server sends zeros).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseResponse {
    /// Flags (POSTQUERY_ATTRIB when the attributes below are valid).
    pub flags: CloseFlags,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime (FILETIME).
    pub last_access_time: u64,
    /// LastWriteTime (FILETIME).
    pub last_write_time: u64,
    /// ChangeTime (FILETIME).
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndofFile.
    pub end_of_file: u64,
    /// FileAttributes.
    pub file_attributes: FileAttributes,
}

impl Encode for CloseResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(60);
        msg.put_u16_le(self.flags.0);
        msg.put_u32_le(0); // Reserved
        write_attributes(
            msg,
            [
                self.creation_time,
                self.last_access_time,
                self.last_write_time,
                self.change_time,
                self.allocation_size,
                self.end_of_file,
            ],
            self.file_attributes,
        );
    }
}

/// Write the block CREATE and CLOSE responses share ([MS-SMB2] 2.2.14, 2.2.16): CreationTime,
/// LastAccessTime, LastWriteTime, ChangeTime, AllocationSize, EndofFile (in that order in
/// `values`), then FileAttributes.
pub(crate) fn write_attributes(msg: &mut Vec<u8>, values: [u64; 6], attributes: FileAttributes) {
    for v in values {
        msg.put_u64_le(v);
    }
    msg.put_u32_le(attributes.0);
}

/// Read the block written by [`write_attributes`].
pub(crate) fn read_attributes(r: &mut Reader<'_>) -> DecodeResult<([u64; 6], FileAttributes)> {
    let mut values = [0u64; 6];
    for v in &mut values {
        *v = r.u64()?;
    }
    Ok((values, FileAttributes(r.u32()?)))
}

impl<'a> Decode<'a> for CloseResponse {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 60)?;
        let flags = CloseFlags(r.u16()?);
        r.skip(4)?;
        let (times, file_attributes) = read_attributes(&mut r)?;
        let [
            creation_time,
            last_access_time,
            last_write_time,
            change_time,
            allocation_size,
            end_of_file,
        ] = times;
        Ok(CloseResponse {
            flags,
            creation_time,
            last_access_time,
            last_write_time,
            change_time,
            allocation_size,
            end_of_file,
            file_attributes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::*;

    #[test]
    fn request_is_byte_exact_and_round_trips() {
        let req = CloseRequest {
            flags: CloseFlags(CloseFlags::POSTQUERY_ATTRIB),
            file_id: FileId {
                persistent: 0x0102_0304_0506_0708,
                volatile: 0x1112_1314_1516_1718,
            },
        };
        let msg = round_trip(Command::Close, false, &req);
        assert_eq!(
            &msg[64..],
            &hex("1800 0100 00000000 0807060504030201 1817161514131211")[..]
        );
        prefixes_fail::<CloseRequest>(&msg);
        let mut bad = msg;
        bad[64] = 25;
        assert!(CloseRequest::decode(&bad).is_err());
    }

    #[test]
    fn response_round_trips() {
        let resp = CloseResponse {
            flags: CloseFlags(CloseFlags::POSTQUERY_ATTRIB),
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            allocation_size: 4096,
            end_of_file: 5,
            file_attributes: FileAttributes(FileAttributes::ARCHIVE),
        };
        let msg = round_trip(Command::Close, true, &resp);
        assert_eq!(msg.len(), 64 + 60);
        assert_eq!(&msg[64 + 56..], &[0x20, 0, 0, 0]);
        prefixes_fail::<CloseResponse>(&msg);
    }
}
