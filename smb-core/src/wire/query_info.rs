//! SMB2 QUERY_INFO request and response ([MS-SMB2] 2.2.37, 2.2.38).
//!
//! The output buffer holds one [MS-FSCC] structure (see [`super::fscc`]), a security
//! descriptor or quota entries; it is borrowed from the message.

use super::flag_newtype;
use super::fscc::FsccInfo;
use super::{Decode, DecodeResult, Encode, FileId, HEADER_LEN, Reader, slice_at};
use alloc::vec::Vec;
use bytes::BufMut;

/// What kind of information is queried or set ([MS-SMB2] 2.2.37 InfoType).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoType(pub u8);

impl InfoType {
    /// SMB2_0_INFO_FILE: a file information class ([MS-FSCC] 2.4).
    pub const FILE: InfoType = InfoType(0x01);
    /// SMB2_0_INFO_FILESYSTEM: a file system information class ([MS-FSCC] 2.5).
    pub const FILESYSTEM: InfoType = InfoType(0x02);
    /// SMB2_0_INFO_SECURITY: a security descriptor ([MS-DTYP] 2.4.6).
    pub const SECURITY: InfoType = InfoType(0x03);
    /// SMB2_0_INFO_QUOTA: quota information ([MS-FSCC] 2.4.33).
    pub const QUOTA: InfoType = InfoType(0x04);
}

/// AdditionalInformation for `InfoType::SECURITY`: which parts of the security descriptor
/// to query or set ([MS-SMB2] 2.2.37, [MS-DTYP] 2.4.7 SECURITY_INFORMATION).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityInformation(pub u32);

impl SecurityInformation {
    /// OWNER_SECURITY_INFORMATION.
    pub const OWNER: u32 = 0x0000_0001;
    /// GROUP_SECURITY_INFORMATION.
    pub const GROUP: u32 = 0x0000_0002;
    /// DACL_SECURITY_INFORMATION.
    pub const DACL: u32 = 0x0000_0004;
    /// SACL_SECURITY_INFORMATION (needs ACCESS_SYSTEM_SECURITY on the open).
    pub const SACL: u32 = 0x0000_0008;
    /// LABEL_SECURITY_INFORMATION.
    pub const LABEL: u32 = 0x0000_0010;
    /// ATTRIBUTE_SECURITY_INFORMATION.
    pub const ATTRIBUTE: u32 = 0x0000_0020;
    /// SCOPE_SECURITY_INFORMATION.
    pub const SCOPE: u32 = 0x0000_0040;
    /// BACKUP_SECURITY_INFORMATION.
    pub const BACKUP: u32 = 0x0001_0000;
}
flag_newtype!(SecurityInformation, u32);

/// QUERY_INFO Flags ([MS-SMB2] 2.2.37), meaningful for `InfoType::FILE` with
/// FileFullEaInformation and for quota queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct QueryInfoFlags(pub u32);

impl QueryInfoFlags {
    /// SL_RESTART_SCAN.
    pub const RESTART_SCAN: u32 = 0x0000_0001;
    /// SL_RETURN_SINGLE_ENTRY.
    pub const RETURN_SINGLE_ENTRY: u32 = 0x0000_0002;
    /// SL_INDEX_SPECIFIED.
    pub const INDEX_SPECIFIED: u32 = 0x0000_0004;
}
flag_newtype!(QueryInfoFlags, u32);

/// Fixed part of the request body (StructureSize 41 counts one byte of Buffer).
const REQ_FIXED: usize = 40;
/// Fixed part of the response body (StructureSize 9 counts one byte of Buffer).
const RESP_FIXED: usize = 8;

/// SMB2 QUERY_INFO request ([MS-SMB2] 2.2.37).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryInfoRequest<'a> {
    /// InfoType.
    pub info_type: InfoType,
    /// FileInfoClass: a [`super::fscc::FileInfoClass`] or [`super::fscc::FsInfoClass`]
    /// value; 0 for SECURITY and QUOTA.
    pub file_info_class: u8,
    /// OutputBufferLength: the most the server may return.
    pub output_buffer_length: u32,
    /// InputBuffer (quota queries: SMB2_QUERY_QUOTA_INFO; FileFullEaInformation:
    /// FILE_GET_EA_INFORMATION list); usually empty.
    pub input_buffer: &'a [u8],
    /// AdditionalInformation ([`SecurityInformation`] bits for SECURITY; the EA index for
    /// FileFullEaInformation; else 0).
    pub additional_information: u32,
    /// Flags.
    pub flags: QueryInfoFlags,
    /// The open to query.
    pub file_id: FileId,
}

impl<'a> QueryInfoRequest<'a> {
    /// A query for the fixed-class structure `T` on `file_id`.
    pub fn for_class<T: FsccInfo>(file_id: FileId, output_buffer_length: u32) -> Self {
        QueryInfoRequest {
            info_type: T::INFO_TYPE,
            file_info_class: T::CLASS,
            output_buffer_length,
            input_buffer: &[],
            additional_information: 0,
            flags: QueryInfoFlags(0),
            file_id,
        }
    }

    /// A query for the parts of the security descriptor named by `info`.
    pub fn security(file_id: FileId, info: SecurityInformation, output_buffer_length: u32) -> Self {
        QueryInfoRequest {
            info_type: InfoType::SECURITY,
            file_info_class: 0,
            output_buffer_length,
            input_buffer: &[],
            additional_information: info.0,
            flags: QueryInfoFlags(0),
            file_id,
        }
    }
}

impl Encode for QueryInfoRequest<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        let base = msg.len();
        let buf_off = base + REQ_FIXED;
        msg.put_u16_le(41);
        msg.put_u8(self.info_type.0);
        msg.put_u8(self.file_info_class);
        msg.put_u32_le(self.output_buffer_length);
        // InputBufferOffset: 0 when there is no input, like Windows clients.
        let off = if self.input_buffer.is_empty() {
            0
        } else {
            buf_off
        };
        msg.put_u16_le(off as u16);
        msg.put_u16_le(0); // Reserved
        msg.put_u32_le(self.input_buffer.len() as u32);
        msg.put_u32_le(self.additional_information);
        msg.put_u32_le(self.flags.0);
        self.file_id.write(msg);
        msg.put_slice(self.input_buffer);
        if self.input_buffer.is_empty() {
            // StructureSize counts one byte of Buffer: servers expect it to be present.
            msg.put_u8(0);
        }
    }
}

impl<'a> Decode<'a> for QueryInfoRequest<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 41)?;
        let info_type = InfoType(r.u8()?);
        let file_info_class = r.u8()?;
        let output_buffer_length = r.u32()?;
        let off = usize::from(r.u16()?);
        r.skip(2)?;
        let len = r.u32()? as usize;
        let additional_information = r.u32()?;
        let flags = QueryInfoFlags(r.u32()?);
        let file_id = FileId::read(&mut r)?;
        let input_buffer = slice_at(msg, off, len, HEADER_LEN + REQ_FIXED, "InputBuffer")?;
        Ok(QueryInfoRequest {
            info_type,
            file_info_class,
            output_buffer_length,
            input_buffer,
            additional_information,
            flags,
            file_id,
        })
    }
}

/// SMB2 QUERY_INFO response ([MS-SMB2] 2.2.38). With STATUS_BUFFER_OVERFLOW the buffer holds
/// a truncated structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryInfoResponse<'a> {
    /// The output buffer, borrowed from the message.
    pub buffer: &'a [u8],
}

impl QueryInfoResponse<'_> {
    /// Decode the buffer as the structure `T`.
    pub fn parse<T: FsccInfo>(&self) -> DecodeResult<T> {
        T::decode(self.buffer)
    }
}

/// Encode the body shared by QUERY_INFO, QUERY_DIRECTORY and CHANGE_NOTIFY responses:
/// StructureSize 9, OutputBufferOffset, OutputBufferLength, Buffer.
pub(crate) fn encode_output_buffer(msg: &mut Vec<u8>, buffer: &[u8]) {
    let off = msg.len() + RESP_FIXED;
    msg.put_u16_le(9);
    msg.put_u16_le(off as u16);
    msg.put_u32_le(buffer.len() as u32);
    msg.put_slice(buffer);
    if buffer.is_empty() {
        msg.put_u8(0);
    }
}

/// Decode the body shared by QUERY_INFO, QUERY_DIRECTORY and CHANGE_NOTIFY responses.
pub(crate) fn decode_output_buffer(msg: &[u8]) -> DecodeResult<&[u8]> {
    let mut r = Reader::at(msg, HEADER_LEN)?;
    r.expect_u16("StructureSize", 9)?;
    let off = usize::from(r.u16()?);
    let len = r.u32()? as usize;
    slice_at(msg, off, len, HEADER_LEN + RESP_FIXED, "OutputBuffer")
}

impl Encode for QueryInfoResponse<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_output_buffer(msg, self.buffer);
    }
}

impl<'a> Decode<'a> for QueryInfoResponse<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        Ok(QueryInfoResponse {
            buffer: decode_output_buffer(msg)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::fscc::{FileFsSizeInformation, FileStandardInformation, FsInfoClass};
    use crate::wire::test_util::message;

    #[test]
    fn request_round_trip_and_layout() {
        let fid = FileId {
            persistent: 1,
            volatile: 2,
        };
        let req = QueryInfoRequest::for_class::<FileStandardInformation>(fid, 24);
        let m = message(Command::QueryInfo, false, &req);
        assert_eq!(m.len(), 64 + 41);
        assert_eq!(&m[64..72], &[41, 0, 1, 5, 24, 0, 0, 0]);
        assert_eq!(QueryInfoRequest::decode(&m).unwrap(), req);

        let input = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let req = QueryInfoRequest {
            info_type: InfoType::QUOTA,
            file_info_class: 0,
            output_buffer_length: 4096,
            input_buffer: &input,
            additional_information: 0,
            flags: QueryInfoFlags(QueryInfoFlags::RESTART_SCAN),
            file_id: fid,
        };
        let m = message(Command::QueryInfo, false, &req);
        assert_eq!(&m[72..74], &[104, 0]);
        let back = QueryInfoRequest::decode(&m).unwrap();
        assert_eq!(back, req);
        for n in 0..m.len() {
            assert!(QueryInfoRequest::decode(&m[..n]).is_err(), "prefix {n}");
        }
        let sec = QueryInfoRequest::security(
            fid,
            SecurityInformation(SecurityInformation::OWNER | SecurityInformation::DACL),
            0x10000,
        );
        let m = message(Command::QueryInfo, false, &sec);
        assert_eq!(m[66], 3);
        assert_eq!(&m[80..84], &[5, 0, 0, 0]);
        assert_eq!(QueryInfoRequest::decode(&m).unwrap(), sec);
    }

    #[test]
    fn request_rejects_bad_offsets() {
        let input = [9u8; 4];
        let req = QueryInfoRequest {
            input_buffer: &input,
            ..QueryInfoRequest::for_class::<FileFsSizeInformation>(FileId::default(), 24)
        };
        assert_eq!(req.file_info_class, FsInfoClass::SIZE.0);
        let mut m = message(Command::QueryInfo, false, &req);
        m[72] = 64; // into the fixed part
        assert!(QueryInfoRequest::decode(&m).is_err());
        m[72] = 104;
        m[76] = 200; // past the end
        assert!(QueryInfoRequest::decode(&m).is_err());
    }

    #[test]
    fn response_round_trip_and_prefixes() {
        let info = FileStandardInformation {
            allocation_size: 8192,
            end_of_file: 5000,
            number_of_links: 1,
            delete_pending: false,
            directory: false,
        };
        let buf = info.to_bytes();
        let resp = QueryInfoResponse { buffer: &buf };
        let m = message(Command::QueryInfo, true, &resp);
        assert_eq!(&m[64..72], &[9, 0, 72, 0, 24, 0, 0, 0]);
        let back = QueryInfoResponse::decode(&m).unwrap();
        assert_eq!(back, resp);
        assert_eq!(back.parse::<FileStandardInformation>().unwrap(), info);
        for n in 0..m.len() {
            assert!(QueryInfoResponse::decode(&m[..n]).is_err(), "prefix {n}");
        }
        let mut bad = m.clone();
        bad[64] = 8;
        assert!(QueryInfoResponse::decode(&bad).is_err());
        let empty = QueryInfoResponse { buffer: &[] };
        let m = message(Command::QueryInfo, true, &empty);
        assert_eq!(m.len(), 64 + 9);
        assert_eq!(QueryInfoResponse::decode(&m).unwrap(), empty);
    }

    #[test]
    fn samba_capture_decodes_and_round_trips() {
        use crate::wire::fscc::fixtures::*;
        use crate::wire::fscc::{
            FileAllInformation, FileFsVolumeInformation, FileInfoClass, FileNameInformation,
            FileStreamInformation, FsccInfo,
        };
        use crate::wire::test_util::hex;
        for (req_hex, info_type, class) in [
            (
                QUERY_INFO_FS_SIZE_REQ,
                InfoType::FILESYSTEM,
                FsInfoClass::SIZE.0,
            ),
            (QUERY_INFO_ALL_REQ, InfoType::FILE, FileInfoClass::ALL.0),
        ] {
            let m = hex(req_hex);
            let req = QueryInfoRequest::decode(&m).unwrap();
            assert_eq!((req.info_type, req.file_info_class), (info_type, class));
            assert_eq!(req.output_buffer_length, 0xFFFF);
            let mut again = m[..64].to_vec();
            req.encode(&mut again);
            assert_eq!(again, m);
        }
        fn resp_round_trip(text: &str) -> Vec<u8> {
            let m = hex(text);
            let r = QueryInfoResponse::decode(&m).unwrap();
            let mut again = m[..64].to_vec();
            r.encode(&mut again);
            assert_eq!(again, m);
            for n in 0..m.len() {
                assert!(QueryInfoResponse::decode(&m[..n]).is_err());
            }
            r.buffer.to_vec()
        }
        // Each typed structure re-encodes to exactly the bytes Samba sent.
        fn exact<T: FsccInfo>(buf: &[u8]) -> T {
            let v = T::decode(buf).unwrap();
            assert_eq!(v.to_bytes(), buf);
            v
        }
        let size: FileFsSizeInformation = exact(&resp_round_trip(QUERY_INFO_FS_SIZE_RESP));
        assert!(size.bytes_per_sector > 0 && size.total_allocation_units > 0);
        let all: FileAllInformation = exact(&resp_round_trip(QUERY_INFO_ALL_RESP));
        assert_eq!(all.standard.end_of_file, 5);
        assert_eq!(all.name.file_name, "\\a.txt");
        assert_eq!(all.basic.last_write_time.to_unix().0, 1_704_164_645);
        let alt: FileNameInformation = exact(&resp_round_trip(QUERY_INFO_ALT_NAME_RESP));
        assert!(!alt.file_name.is_empty());
        let streams: FileStreamInformation = exact(&resp_round_trip(QUERY_INFO_STREAM_RESP));
        assert_eq!(streams.streams.len(), 1);
        assert_eq!(streams.streams[0].stream_name, "::$DATA");
        assert_eq!(streams.streams[0].stream_size, 5);
        let vol: FileFsVolumeInformation = exact(&resp_round_trip(QUERY_INFO_FS_VOLUME_RESP));
        assert_eq!(vol.volume_label, "share");
    }
}
