//! The SMB2 ERROR response ([MS-SMB2] 2.2.2), its 3.1.1 error contexts (2.2.2.1) and the
//! ErrorData formats a client interprets (2.2.2.2): the symbolic link error response
//! (2.2.2.2.1) for STATUS_STOPPED_ON_SYMLINK and the 4-byte required length for
//! STATUS_BUFFER_TOO_SMALL. The share redirect context (2.2.2.2.2) is kept raw.
//!
//! Any command can be answered with an ERROR body, including interim STATUS_PENDING
//! responses; [`is_error_body`] tells whether a received message carries one.

use super::{
    Command, Decode, DecodeError, DecodeResult, Encode, HEADER_LEN, Header, NtStatus, Reader,
    pad_to, patch_u32, put_utf16le, slice_at, utf16le_to_string,
};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// SMB2_ERROR_ID_DEFAULT ([MS-SMB2] 2.2.2.1).
pub const ERROR_ID_DEFAULT: u32 = 0x0000_0000;
/// SMB2_ERROR_ID_SHARE_REDIRECT ([MS-SMB2] 2.2.2.1).
pub const ERROR_ID_SHARE_REDIRECT: u32 = 0x7264_5253;

/// One SMB2 ERROR Context ([MS-SMB2] 2.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorContext<'a> {
    /// ErrorId ([`ERROR_ID_DEFAULT`], [`ERROR_ID_SHARE_REDIRECT`]).
    pub error_id: u32,
    /// ErrorContextData.
    pub data: &'a [u8],
}

/// The ErrorData of an ERROR response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorData<'a> {
    /// ErrorContextCount = 0: the bytes as they are (possibly empty).
    Plain(&'a [u8]),
    /// ErrorContextCount > 0 (3.1.1): the contexts.
    Contexts(Vec<ErrorContext<'a>>),
}

/// SMB2 ERROR response ([MS-SMB2] 2.2.2). The status is in the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse<'a> {
    /// ErrorData.
    pub data: ErrorData<'a>,
}

impl<'a> ErrorResponse<'a> {
    /// An ERROR body without data.
    pub fn empty() -> Self {
        ErrorResponse {
            data: ErrorData::Plain(&[]),
        }
    }

    /// The error data for `error_id`: the plain ErrorData (if non-empty) for
    /// [`ERROR_ID_DEFAULT`], or the data of the first context with that id.
    pub fn error_data(&self, error_id: u32) -> Option<&'a [u8]> {
        match &self.data {
            ErrorData::Plain(d) => (error_id == ERROR_ID_DEFAULT && !d.is_empty()).then_some(*d),
            ErrorData::Contexts(cs) => cs.iter().find(|c| c.error_id == error_id).map(|c| c.data),
        }
    }

    /// Interpret the error data according to the header's `status` ([MS-SMB2] 2.2.2.2).
    pub fn detail(&self, status: NtStatus) -> DecodeResult<ErrorDetail<'a>> {
        if let Some(d) = self.error_data(ERROR_ID_SHARE_REDIRECT) {
            return Ok(ErrorDetail::ShareRedirect(d));
        }
        let Some(d) = self.error_data(ERROR_ID_DEFAULT) else {
            return Ok(ErrorDetail::None);
        };
        Ok(match status {
            NtStatus::STOPPED_ON_SYMLINK => ErrorDetail::Symlink(SymlinkError::decode(d)?),
            NtStatus::BUFFER_TOO_SMALL => ErrorDetail::BufferTooSmall(Reader::new(d).u32()?),
            _ => ErrorDetail::Other(d),
        })
    }
}

/// Interpreted ErrorData ([MS-SMB2] 2.2.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorDetail<'a> {
    /// No error data.
    None,
    /// STATUS_STOPPED_ON_SYMLINK: where the path has to be resolved.
    Symlink(SymlinkError),
    /// STATUS_BUFFER_TOO_SMALL: the minimum buffer length required.
    BufferTooSmall(u32),
    /// A share redirect context (2.2.2.2.2), raw.
    ShareRedirect(&'a [u8]),
    /// Data for another status, raw.
    Other(&'a [u8]),
}

const FIXED: usize = 8;

impl Encode for ErrorResponse<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        let base = msg.len();
        msg.put_u16_le(9);
        let count = match &self.data {
            ErrorData::Plain(_) => 0,
            ErrorData::Contexts(cs) => cs.len() as u8,
        };
        msg.put_u8(count);
        msg.put_u8(0);
        let bc_pos = msg.len();
        msg.put_u32_le(0);
        let start = msg.len();
        match &self.data {
            ErrorData::Plain(d) => msg.put_slice(d),
            ErrorData::Contexts(cs) => {
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        pad_to(msg, 8); // [MS-SMB2] 2.2.2.1: contexts are 8-byte aligned
                    }
                    msg.put_u32_le(c.data.len() as u32);
                    msg.put_u32_le(c.error_id);
                    msg.put_slice(c.data);
                }
            }
        }
        let byte_count = msg.len() - start;
        patch_u32(msg, bc_pos, byte_count as u32);
        if byte_count == 0 {
            // StructureSize 9 counts one byte of ErrorData; servers send it as a zero byte
            // when ByteCount is 0.
            msg.put_u8(0);
        }
        debug_assert!(msg.len() - base > FIXED);
    }
}

impl<'a> Decode<'a> for ErrorResponse<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 9)?;
        let count = r.u8()? as usize;
        r.skip(1)?;
        let byte_count = r.u32()? as usize;
        // With ByteCount 0 the extra byte counted by StructureSize is tolerated but not required.
        let data_off = r.pos();
        let data = slice_at(msg, data_off, byte_count, data_off, "ErrorData")?;
        if count == 0 {
            return Ok(ErrorResponse {
                data: ErrorData::Plain(data),
            });
        }
        let mut c = Reader::new(data);
        let mut contexts = Vec::new();
        for i in 0..count {
            if i > 0 {
                // Alignment relative to the message start (ErrorData starts at 72, 8-aligned).
                let abs = data_off + c.pos();
                c.skip((8 - abs % 8) % 8)?;
            }
            let len = c.u32()? as usize;
            let error_id = c.u32()?;
            let data = c.bytes(len)?;
            contexts.push(ErrorContext { error_id, data });
        }
        Ok(ErrorResponse {
            data: ErrorData::Contexts(contexts),
        })
    }
}

/// Whether `msg` (a whole received message) carries an ERROR body ([MS-SMB2] 2.2.2) rather
/// than its command's own response body.
///
/// The ERROR body has StructureSize 9, and so do the SESSION_SETUP, QUERY_INFO,
/// QUERY_DIRECTORY and CHANGE_NOTIFY responses, so the status decides: a success status
/// means the command's body, STATUS_PENDING always means an (interim) ERROR body, and the
/// statuses that come with a normal body ([MS-SMB2] 3.3.4.4) are excluded:
/// STATUS_MORE_PROCESSING_REQUIRED for SESSION_SETUP, STATUS_BUFFER_OVERFLOW for QUERY_INFO
/// (READ and IOCTL bodies have other sizes), STATUS_NOTIFY_ENUM_DIR for CHANGE_NOTIFY.
/// Messages whose header does not decode return false.
pub fn is_error_body(msg: &[u8]) -> bool {
    let Ok(h) = Header::decode(msg) else {
        return false;
    };
    let size = match msg.get(HEADER_LEN..HEADER_LEN + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => return false,
    };
    if size != 9 {
        return false;
    }
    match (h.status, h.command) {
        (NtStatus::PENDING, _) => true,
        (NtStatus::SUCCESS, _) => false,
        (NtStatus::MORE_PROCESSING_REQUIRED, Command::SessionSetup) => false,
        (NtStatus::BUFFER_OVERFLOW, Command::QueryInfo) => false,
        (NtStatus::NOTIFY_ENUM_DIR, Command::ChangeNotify) => false,
        _ => true,
    }
}

/// SymLinkErrorTag "SYML" ([MS-SMB2] 2.2.2.2.1).
pub const SYMLINK_ERROR_TAG: u32 = 0x4C4D_5953;
/// IO_REPARSE_TAG_SYMLINK.
pub const IO_REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;
/// SYMLINK_FLAG_RELATIVE: the substitute name is relative to the link's directory.
pub const SYMLINK_FLAG_RELATIVE: u32 = 0x0000_0001;

/// Symbolic link error response ([MS-SMB2] 2.2.2.2.1), the ErrorData of
/// STATUS_STOPPED_ON_SYMLINK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymlinkError {
    /// UnparsedPathLength: bytes at the end of the original path not yet parsed.
    pub unparsed_path_length: u16,
    /// SubstituteName: the link target.
    pub substitute_name: String,
    /// PrintName: the user-friendly form of the target.
    pub print_name: String,
    /// Flags ([`SYMLINK_FLAG_RELATIVE`]).
    pub flags: u32,
}

impl SymlinkError {
    /// Decode from ErrorData (or an ERROR context's data).
    pub fn decode(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        let len = r.u32()? as usize; // SymLinkLength: everything after this field
        let body = r.bytes(len)?;
        let mut r = Reader::new(body);
        let tag = r.u32()?;
        if tag != SYMLINK_ERROR_TAG {
            return Err(DecodeError::BadField {
                field: "SymLinkErrorTag",
                value: tag.into(),
            });
        }
        let reparse = r.u32()?;
        if reparse != IO_REPARSE_TAG_SYMLINK {
            return Err(DecodeError::BadField {
                field: "ReparseTag",
                value: reparse.into(),
            });
        }
        let _reparse_data_length = r.u16()?;
        let unparsed_path_length = r.u16()?;
        let sub_off = r.u16()? as usize;
        let sub_len = r.u16()? as usize;
        let print_off = r.u16()? as usize;
        let print_len = r.u16()? as usize;
        let flags = r.u32()?;
        // Offsets are relative to PathBuffer.
        let path_buffer = &body[r.pos()..];
        let substitute_name = utf16le_to_string(slice_at(
            path_buffer,
            sub_off,
            sub_len,
            0,
            "SubstituteName",
        )?)?;
        let print_name =
            utf16le_to_string(slice_at(path_buffer, print_off, print_len, 0, "PrintName")?)?;
        Ok(SymlinkError {
            unparsed_path_length,
            substitute_name,
            print_name,
            flags,
        })
    }

    /// Append the structure (substitute name first, then print name, in PathBuffer).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut sub = Vec::new();
        put_utf16le(&mut sub, &self.substitute_name);
        let mut print = Vec::new();
        put_utf16le(&mut print, &self.print_name);
        let path_len = sub.len() + print.len();
        let reparse_data_len = 12 + path_len;
        out.put_u32_le((12 + reparse_data_len) as u32);
        out.put_u32_le(SYMLINK_ERROR_TAG);
        out.put_u32_le(IO_REPARSE_TAG_SYMLINK);
        out.put_u16_le(reparse_data_len as u16);
        out.put_u16_le(self.unparsed_path_length);
        out.put_u16_le(0);
        out.put_u16_le(sub.len() as u16);
        out.put_u16_le(sub.len() as u16);
        out.put_u16_le(print.len() as u16);
        out.put_u32_le(self.flags);
        out.put_slice(&sub);
        out.put_slice(&print);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_util::{all_prefixes_fail, hex, reencodes_exactly, response_with_status};
    use alloc::vec;

    #[test]
    fn empty_error_is_nine_bytes_and_round_trips() {
        let msg = response_with_status(
            Command::Create,
            NtStatus::ACCESS_DENIED,
            &ErrorResponse::empty(),
        );
        assert_eq!(&msg[64..], &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        let back = ErrorResponse::decode(&msg).unwrap();
        assert_eq!(back, ErrorResponse::empty());
        assert_eq!(
            back.detail(NtStatus::ACCESS_DENIED).unwrap(),
            ErrorDetail::None
        );
        // Liberal: the trailing byte may be missing.
        assert_eq!(ErrorResponse::decode(&msg[..72]).unwrap(), back);
        all_prefixes_fail(&msg[..72], |m| ErrorResponse::decode(m).is_err());
        assert!(is_error_body(&msg));
    }

    #[test]
    fn buffer_too_small_is_decoded() {
        let data = 0x1234u32.to_le_bytes();
        let body = ErrorResponse {
            data: ErrorData::Plain(&data),
        };
        let msg = response_with_status(Command::QueryInfo, NtStatus::BUFFER_TOO_SMALL, &body);
        assert_eq!(&msg[64..], &[9, 0, 0, 0, 4, 0, 0, 0, 0x34, 0x12, 0, 0]);
        let back = ErrorResponse::decode(&msg).unwrap();
        assert_eq!(
            back.detail(NtStatus::BUFFER_TOO_SMALL).unwrap(),
            ErrorDetail::BufferTooSmall(0x1234)
        );
        all_prefixes_fail(&msg, |m| ErrorResponse::decode(m).is_err());
        assert!(is_error_body(&msg));
    }

    /// A symlink error laid out by hand from [MS-SMB2] 2.2.2.2.1 for target "a" (print "a").
    #[test]
    fn symlink_vector_and_round_trip() {
        #[rustfmt::skip]
        let data: Vec<u8> = vec![
            28, 0, 0, 0,                 // SymLinkLength = 4+4+2+2+2+2+2+2+4+4
            0x53, 0x59, 0x4D, 0x4C,      // "SYML"
            0x0C, 0, 0, 0xA0,            // IO_REPARSE_TAG_SYMLINK
            16, 0,                       // ReparseDataLength = 12 + 4
            6, 0,                        // UnparsedPathLength
            0, 0, 2, 0,                  // SubstituteName at 0, 2 bytes
            2, 0, 2, 0,                  // PrintName at 2, 2 bytes
            1, 0, 0, 0,                  // SYMLINK_FLAG_RELATIVE
            b'a', 0, b'a', 0,
        ];
        let expected = SymlinkError {
            unparsed_path_length: 6,
            substitute_name: "a".into(),
            print_name: "a".into(),
            flags: SYMLINK_FLAG_RELATIVE,
        };
        assert_eq!(SymlinkError::decode(&data).unwrap(), expected);
        let mut again = Vec::new();
        expected.encode(&mut again);
        assert_eq!(again, data);
        for n in 0..data.len() {
            assert!(SymlinkError::decode(&data[..n]).is_err());
        }
        let mut bad = data.clone();
        bad[4] = 0;
        assert!(SymlinkError::decode(&bad).is_err());
        let mut bad = data.clone();
        bad[20..22].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(SymlinkError::decode(&bad).is_err());

        let body = ErrorResponse {
            data: ErrorData::Plain(&data),
        };
        let msg = response_with_status(Command::Create, NtStatus::STOPPED_ON_SYMLINK, &body);
        let back = ErrorResponse::decode(&msg).unwrap();
        assert_eq!(
            back.detail(NtStatus::STOPPED_ON_SYMLINK).unwrap(),
            ErrorDetail::Symlink(expected)
        );
    }

    #[test]
    fn contexts_round_trip_aligned() {
        let mut sym = Vec::new();
        SymlinkError {
            unparsed_path_length: 0,
            substitute_name: r"\??\C:\target".into(),
            print_name: r"C:\target".into(),
            flags: 0,
        }
        .encode(&mut sym);
        let redirect = [1u8, 2, 3];
        let body = ErrorResponse {
            data: ErrorData::Contexts(vec![
                ErrorContext {
                    error_id: ERROR_ID_SHARE_REDIRECT,
                    data: &redirect,
                },
                ErrorContext {
                    error_id: ERROR_ID_DEFAULT,
                    data: &sym,
                },
            ]),
        };
        let msg = response_with_status(Command::Create, NtStatus::STOPPED_ON_SYMLINK, &body);
        assert_eq!(msg[66], 2);
        // First context 72..83, second starts aligned at 88.
        assert_eq!(&msg[88..92], &(sym.len() as u32).to_le_bytes());
        let back = ErrorResponse::decode(&msg).unwrap();
        assert_eq!(back, body);
        assert_eq!(back.error_data(ERROR_ID_DEFAULT), Some(&sym[..]));
        assert_eq!(
            back.detail(NtStatus::STOPPED_ON_SYMLINK).unwrap(),
            ErrorDetail::ShareRedirect(&redirect)
        );
        let mut again = Vec::new();
        Header::decode(&msg).unwrap().encode(&mut again);
        back.encode(&mut again);
        assert_eq!(again, msg);
        all_prefixes_fail(&msg, |m| ErrorResponse::decode(m).is_err());
        // A context count larger than the data holds, and a huge ByteCount.
        let mut m = msg.clone();
        m[66] = 3;
        assert!(ErrorResponse::decode(&m).is_err());
        let mut m = msg;
        m[68..72].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ErrorResponse::decode(&m).is_err());
    }

    #[test]
    fn error_body_detection() {
        let err = response_with_status(Command::Read, NtStatus::PENDING, &ErrorResponse::empty());
        assert!(is_error_body(&err));
        // SESSION_SETUP with MORE_PROCESSING_REQUIRED is a SESSION_SETUP body.
        let ss = response_with_status(
            Command::SessionSetup,
            NtStatus::MORE_PROCESSING_REQUIRED,
            &ErrorResponse::empty(),
        );
        assert!(!is_error_body(&ss));
        let ss = response_with_status(
            Command::SessionSetup,
            NtStatus::LOGON_FAILURE,
            &ErrorResponse::empty(),
        );
        assert!(is_error_body(&ss));
        let ok = response_with_status(
            Command::QueryInfo,
            NtStatus::SUCCESS,
            &ErrorResponse::empty(),
        );
        assert!(!is_error_body(&ok));
        let ov = response_with_status(
            Command::QueryInfo,
            NtStatus::BUFFER_OVERFLOW,
            &ErrorResponse::empty(),
        );
        assert!(!is_error_body(&ov));
        // A non-9 StructureSize (e.g. READ's 17 with BUFFER_OVERFLOW) is never an ERROR body.
        let mut rd = response_with_status(
            Command::Read,
            NtStatus::BUFFER_OVERFLOW,
            &ErrorResponse::empty(),
        );
        rd[64] = 17;
        assert!(!is_error_body(&rd));
        assert!(!is_error_body(&err[..65]));
        assert!(!is_error_body(&[]));
    }

    /// smbclient/smbd 4.17 on loopback, frame 25 of the capture (NBSS prefix removed).
    const SAMBA_ERR_NO_MORE_FILES: &str = "\
        fe534d4240008000060000800e008000110000000000000088000000000000000000000091c883eadce50d98\
        0000000000000000000000000000000000000000090000000000000000\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 57 of the capture (NBSS prefix removed).
    const SAMBA_ERR_BAD_NETWORK_NAME: &str = "\
        fe534d4240000100cc0000c0030001001900000000000000060000000000000000000000000000005c546ddd\
        0000000060fd75caa38d164dea8a719e2460ec21090000000000000000\
    ";

    #[test]
    fn samba_error_captures() {
        for (fixture, status, command) in [
            (
                SAMBA_ERR_NO_MORE_FILES,
                NtStatus::NO_MORE_FILES,
                Command::QueryDirectory,
            ),
            (
                SAMBA_ERR_BAD_NETWORK_NAME,
                NtStatus::BAD_NETWORK_NAME,
                Command::TreeConnect,
            ),
        ] {
            let msg = hex(fixture);
            let h = Header::decode(&msg).unwrap();
            assert_eq!((h.status, h.command), (status, command));
            assert!(is_error_body(&msg));
            let e = ErrorResponse::decode(&msg).unwrap();
            assert_eq!(e, ErrorResponse::empty());
            assert_eq!(e.detail(status).unwrap(), ErrorDetail::None);
            reencodes_exactly(&msg, &e);
        }
    }
}
