//! SMB2 SET_INFO request and response ([MS-SMB2] 2.2.39, 2.2.40).
//!
//! The request's buffer holds one [MS-FSCC] structure (see [`super::fscc`]), a security
//! descriptor or quota entries; it is borrowed.

use super::fscc::FsccInfo;
use super::query_info::InfoType;
use super::{Decode, DecodeResult, Encode, FileId, HEADER_LEN, Reader, slice_at};
use alloc::vec::Vec;
use bytes::BufMut;

/// Fixed part of the request body (StructureSize 33 counts one byte of Buffer).
const REQ_FIXED: usize = 32;

/// SMB2 SET_INFO request ([MS-SMB2] 2.2.39).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetInfoRequest<'a> {
    /// InfoType.
    pub info_type: InfoType,
    /// FileInfoClass: a [`super::fscc::FileInfoClass`] or [`super::fscc::FsInfoClass`]
    /// value; 0 for SECURITY and QUOTA.
    pub file_info_class: u8,
    /// AdditionalInformation: [`super::query_info::SecurityInformation`] bits for SECURITY,
    /// else 0.
    pub additional_information: u32,
    /// The open to modify.
    pub file_id: FileId,
    /// Buffer: the encoded information.
    pub buffer: &'a [u8],
}

impl<'a> SetInfoRequest<'a> {
    /// A SET_INFO of structure `T` whose encoding (`T::to_bytes`) is `buffer`.
    pub fn for_class<T: FsccInfo>(file_id: FileId, buffer: &'a [u8]) -> Self {
        SetInfoRequest {
            info_type: T::INFO_TYPE,
            file_info_class: T::CLASS,
            additional_information: 0,
            file_id,
            buffer,
        }
    }
}

impl Encode for SetInfoRequest<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        let off = msg.len() + REQ_FIXED;
        msg.put_u16_le(33);
        msg.put_u8(self.info_type.0);
        msg.put_u8(self.file_info_class);
        msg.put_u32_le(self.buffer.len() as u32);
        msg.put_u16_le(off as u16);
        msg.put_u16_le(0); // Reserved
        msg.put_u32_le(self.additional_information);
        self.file_id.write(msg);
        msg.put_slice(self.buffer);
        if self.buffer.is_empty() {
            // StructureSize counts one byte of Buffer: servers expect it to be present.
            msg.put_u8(0);
        }
    }
}

impl<'a> Decode<'a> for SetInfoRequest<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 33)?;
        let info_type = InfoType(r.u8()?);
        let file_info_class = r.u8()?;
        let len = r.u32()? as usize;
        let off = usize::from(r.u16()?);
        r.skip(2)?;
        let additional_information = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let buffer = slice_at(msg, off, len, HEADER_LEN + REQ_FIXED, "Buffer")?;
        Ok(SetInfoRequest {
            info_type,
            file_info_class,
            additional_information,
            file_id,
            buffer,
        })
    }
}

/// SMB2 SET_INFO response ([MS-SMB2] 2.2.40): StructureSize 2, no data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetInfoResponse;

impl Encode for SetInfoResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(2);
    }
}

impl Decode<'_> for SetInfoResponse {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 2)?;
        Ok(SetInfoResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::fscc::{
        FileBasicInformation, FileDispositionInformation, FileRenameInformation, FileTime,
    };
    use crate::wire::test_util::message;

    #[test]
    fn rename_request_round_trip_and_layout() {
        let info = FileRenameInformation {
            replace_if_exists: false,
            root_directory: 0,
            file_name: "dir\\b.txt".into(),
        };
        let buf = info.to_bytes();
        let fid = FileId {
            persistent: 7,
            volatile: 8,
        };
        let req = SetInfoRequest::for_class::<FileRenameInformation>(fid, &buf);
        let m = message(Command::SetInfo, false, &req);
        assert_eq!(&m[64..72], &[33, 0, 1, 10, buf.len() as u8, 0, 0, 0]);
        assert_eq!(&m[72..74], &[96, 0]);
        assert_eq!(&m[96..], &buf[..]);
        let back = SetInfoRequest::decode(&m).unwrap();
        assert_eq!(back, req);
        assert_eq!(FileRenameInformation::decode(back.buffer).unwrap(), info);
        for n in 0..m.len() {
            assert!(SetInfoRequest::decode(&m[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn basic_and_disposition_requests() {
        let basic = FileBasicInformation {
            last_write_time: FileTime::from_unix(1_000_000_000, 0),
            ..Default::default()
        };
        let b = basic.to_bytes();
        let req = SetInfoRequest::for_class::<FileBasicInformation>(FileId::default(), &b);
        let m = message(Command::SetInfo, false, &req);
        assert_eq!(m.len(), 96 + 40);
        assert_eq!(SetInfoRequest::decode(&m).unwrap(), req);
        let d = FileDispositionInformation {
            delete_pending: true,
        }
        .to_bytes();
        let req = SetInfoRequest::for_class::<FileDispositionInformation>(FileId::default(), &d);
        let m = message(Command::SetInfo, false, &req);
        assert_eq!(&m[96..], &[1]);
        assert_eq!(SetInfoRequest::decode(&m).unwrap(), req);
        let mut bad = m.clone();
        bad[72] = 95;
        assert!(SetInfoRequest::decode(&bad).is_err());
    }

    #[test]
    fn response_round_trip() {
        let m = message(Command::SetInfo, true, &SetInfoResponse);
        assert_eq!(m.len(), 66);
        assert_eq!(SetInfoResponse::decode(&m).unwrap(), SetInfoResponse);
        assert!(SetInfoResponse::decode(&m[..65]).is_err());
        let mut bad = m.clone();
        bad[64] = 4;
        assert!(SetInfoResponse::decode(&bad).is_err());
    }

    #[test]
    fn samba_capture_decodes_and_round_trips() {
        use crate::wire::fscc::fixtures::*;
        use crate::wire::fscc::{FileInfoClass, FsccInfo};
        use crate::wire::test_util::hex;
        let m = hex(SET_INFO_RENAME_REQ);
        let req = SetInfoRequest::decode(&m).unwrap();
        assert_eq!(req.info_type, InfoType::FILE);
        assert_eq!(req.file_info_class, FileInfoClass::RENAME.0);
        let mut again = m[..64].to_vec();
        req.encode(&mut again);
        assert_eq!(again, m);
        let rename = FileRenameInformation::decode(req.buffer).unwrap();
        assert_eq!(rename.file_name, "d.txt");
        assert!(!rename.replace_if_exists);
        // Samba's client sends no terminator; ours appends an uncounted NUL (see the type).
        let mut ours = req.buffer.to_vec();
        ours.extend_from_slice(&[0, 0]);
        assert_eq!(rename.to_bytes(), ours);

        let m = hex(SET_INFO_BASIC_REQ);
        let req = SetInfoRequest::decode(&m).unwrap();
        let mut again = m[..64].to_vec();
        req.encode(&mut again);
        assert_eq!(again, m);
        let basic = FileBasicInformation::decode(req.buffer).unwrap();
        // smbclient's setmode leaves times alone (-1 for three of them, 0 for LastWriteTime)
        // and sets READONLY|ARCHIVE.
        assert_eq!(basic.creation_time, FileTime::DISABLE_UPDATES);
        assert_eq!(basic.last_access_time, FileTime::DISABLE_UPDATES);
        assert_eq!(basic.last_write_time, FileTime::DONT_CHANGE);
        assert_eq!(basic.change_time, FileTime::DISABLE_UPDATES);
        assert_eq!(basic.file_attributes, 0x21);
        assert_eq!(basic.to_bytes(), req.buffer);

        let m = hex(SET_INFO_RESP);
        assert_eq!(SetInfoResponse::decode(&m).unwrap(), SetInfoResponse);
        let mut again = m[..64].to_vec();
        SetInfoResponse.encode(&mut again);
        assert_eq!(again, m);
    }
}
