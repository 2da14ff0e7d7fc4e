//! SMB2 CHANGE_NOTIFY request and response ([MS-SMB2] 2.2.35, 2.2.36), with the
//! FILE_NOTIFY_INFORMATION entries of the response buffer ([MS-FSCC] 2.7.1).
//!
//! A CHANGE_NOTIFY normally goes async (interim STATUS_PENDING) and completes when something
//! changes. STATUS_NOTIFY_ENUM_DIR means "too much changed", with an empty buffer: the
//! caller re-lists the directory.

use super::flag_newtype;
use super::fscc::ChainedEntries;
use super::query_info::{decode_output_buffer, encode_output_buffer};
use super::{
    Decode, DecodeError, DecodeResult, Encode, FileId, HEADER_LEN, Reader, put_utf16le,
    utf16le_len, utf16le_to_string,
};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// CHANGE_NOTIFY request Flags ([MS-SMB2] 2.2.35).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChangeNotifyFlags(pub u16);

impl ChangeNotifyFlags {
    /// SMB2_WATCH_TREE: watch the whole subtree, not only the directory.
    pub const WATCH_TREE: u16 = 0x0001;
}
flag_newtype!(ChangeNotifyFlags, u16);

/// CompletionFilter: which changes complete the request ([MS-SMB2] 2.2.35).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CompletionFilter(pub u32);

impl CompletionFilter {
    /// FILE_NOTIFY_CHANGE_FILE_NAME: a file was created, deleted or renamed.
    pub const FILE_NAME: u32 = 0x0000_0001;
    /// FILE_NOTIFY_CHANGE_DIR_NAME: a directory was created, deleted or renamed.
    pub const DIR_NAME: u32 = 0x0000_0002;
    /// FILE_NOTIFY_CHANGE_ATTRIBUTES.
    pub const ATTRIBUTES: u32 = 0x0000_0004;
    /// FILE_NOTIFY_CHANGE_SIZE.
    pub const SIZE: u32 = 0x0000_0008;
    /// FILE_NOTIFY_CHANGE_LAST_WRITE.
    pub const LAST_WRITE: u32 = 0x0000_0010;
    /// FILE_NOTIFY_CHANGE_LAST_ACCESS.
    pub const LAST_ACCESS: u32 = 0x0000_0020;
    /// FILE_NOTIFY_CHANGE_CREATION.
    pub const CREATION: u32 = 0x0000_0040;
    /// FILE_NOTIFY_CHANGE_EA.
    pub const EA: u32 = 0x0000_0080;
    /// FILE_NOTIFY_CHANGE_SECURITY.
    pub const SECURITY: u32 = 0x0000_0100;
    /// FILE_NOTIFY_CHANGE_STREAM_NAME.
    pub const STREAM_NAME: u32 = 0x0000_0200;
    /// FILE_NOTIFY_CHANGE_STREAM_SIZE.
    pub const STREAM_SIZE: u32 = 0x0000_0400;
    /// FILE_NOTIFY_CHANGE_STREAM_WRITE.
    pub const STREAM_WRITE: u32 = 0x0000_0800;
    /// Every bit above.
    pub const ALL: u32 = 0x0000_0FFF;
}
flag_newtype!(CompletionFilter, u32);

/// SMB2 CHANGE_NOTIFY request ([MS-SMB2] 2.2.35), StructureSize 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeNotifyRequest {
    /// Flags.
    pub flags: ChangeNotifyFlags,
    /// OutputBufferLength: the most the server may return.
    pub output_buffer_length: u32,
    /// The directory open.
    pub file_id: FileId,
    /// CompletionFilter.
    pub completion_filter: CompletionFilter,
}

impl Encode for ChangeNotifyRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(32);
        msg.put_u16_le(self.flags.0);
        msg.put_u32_le(self.output_buffer_length);
        self.file_id.write(msg);
        msg.put_u32_le(self.completion_filter.0);
        msg.put_u32_le(0); // Reserved
    }
}

impl Decode<'_> for ChangeNotifyRequest {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 32)?;
        let flags = ChangeNotifyFlags(r.u16()?);
        let output_buffer_length = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let completion_filter = CompletionFilter(r.u32()?);
        r.skip(4)?;
        Ok(ChangeNotifyRequest {
            flags,
            output_buffer_length,
            file_id,
            completion_filter,
        })
    }
}

/// SMB2 CHANGE_NOTIFY response ([MS-SMB2] 2.2.36).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeNotifyResponse<'a> {
    /// FILE_NOTIFY_INFORMATION entries, borrowed from the message.
    pub buffer: &'a [u8],
}

impl<'a> ChangeNotifyResponse<'a> {
    /// Iterate the notifications of the buffer.
    pub fn entries(&self) -> NotifyEntries<'a> {
        NotifyEntries::new(self.buffer)
    }
}

impl Encode for ChangeNotifyResponse<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_output_buffer(msg, self.buffer);
    }
}

impl<'a> Decode<'a> for ChangeNotifyResponse<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        Ok(ChangeNotifyResponse {
            buffer: decode_output_buffer(msg)?,
        })
    }
}

/// FILE_NOTIFY_INFORMATION Action ([MS-FSCC] 2.7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyAction {
    /// FILE_ACTION_ADDED.
    Added,
    /// FILE_ACTION_REMOVED.
    Removed,
    /// FILE_ACTION_MODIFIED.
    Modified,
    /// FILE_ACTION_RENAMED_OLD_NAME (followed by a RenamedNewName entry).
    RenamedOldName,
    /// FILE_ACTION_RENAMED_NEW_NAME.
    RenamedNewName,
    /// FILE_ACTION_ADDED_STREAM.
    AddedStream,
    /// FILE_ACTION_REMOVED_STREAM.
    RemovedStream,
    /// FILE_ACTION_MODIFIED_STREAM.
    ModifiedStream,
    /// FILE_ACTION_REMOVED_BY_DELETE.
    RemovedByDelete,
    /// FILE_ACTION_ID_NOT_TUNNELLED.
    IdNotTunnelled,
    /// FILE_ACTION_TUNNELLED_ID_COLLISION.
    TunnelledIdCollision,
    /// A value this crate does not know.
    Other(u32),
}

impl NotifyAction {
    /// From the wire value.
    pub fn from_u32(v: u32) -> NotifyAction {
        use NotifyAction::*;
        match v {
            1 => Added,
            2 => Removed,
            3 => Modified,
            4 => RenamedOldName,
            5 => RenamedNewName,
            6 => AddedStream,
            7 => RemovedStream,
            8 => ModifiedStream,
            9 => RemovedByDelete,
            10 => IdNotTunnelled,
            11 => TunnelledIdCollision,
            o => Other(o),
        }
    }

    /// To the wire value.
    pub fn to_u32(self) -> u32 {
        use NotifyAction::*;
        match self {
            Added => 1,
            Removed => 2,
            Modified => 3,
            RenamedOldName => 4,
            RenamedNewName => 5,
            AddedStream => 6,
            RemovedStream => 7,
            ModifiedStream => 8,
            RemovedByDelete => 9,
            IdNotTunnelled => 10,
            TunnelledIdCollision => 11,
            Other(o) => o,
        }
    }
}

/// One FILE_NOTIFY_INFORMATION entry ([MS-FSCC] 2.7.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileNotifyInformation {
    /// Action.
    pub action: NotifyAction,
    /// FileName, relative to the watched directory.
    pub file_name: String,
}

/// Fixed part of FILE_NOTIFY_INFORMATION: NextEntryOffset, Action, FileNameLength.
const NOTIFY_FIXED: usize = 12;

impl FileNotifyInformation {
    fn decode(e: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(e);
        let _next = r.u32()?;
        let action = NotifyAction::from_u32(r.u32()?);
        let len = r.u32()? as usize;
        if len > r.remaining() {
            return Err(DecodeError::BadOffset {
                field: "FileNameLength",
            });
        }
        Ok(FileNotifyInformation {
            action,
            file_name: utf16le_to_string(r.bytes(len)?)?,
        })
    }
}

/// Append `entries` as a CHANGE_NOTIFY buffer ([MS-FSCC] 2.7.1): each entry padded to 4 bytes
/// (the last one too, as Samba does; the spec only requires alignment between entries) and
/// chained by NextEntryOffset. For tests and scripted servers.
pub fn encode_notify_entries(entries: &[FileNotifyInformation], out: &mut Vec<u8>) {
    for (i, e) in entries.iter().enumerate() {
        let start = out.len();
        let name_len = utf16le_len(&e.file_name);
        let padded = (NOTIFY_FIXED + name_len).next_multiple_of(4);
        let next = if i + 1 < entries.len() { padded } else { 0 };
        out.put_u32_le(next as u32);
        out.put_u32_le(e.action.to_u32());
        out.put_u32_le(name_len as u32);
        put_utf16le(out, &e.file_name);
        out.resize(start + padded, 0);
    }
}

/// Iterator over the FILE_NOTIFY_INFORMATION entries of a CHANGE_NOTIFY buffer. Yields
/// `Err` once and stops on a malformed chain (offsets that do not advance past the fixed
/// part or leave the buffer, names out of bounds, bad UTF-16).
#[derive(Clone, Debug)]
pub struct NotifyEntries<'a> {
    inner: ChainedEntries<'a>,
}

impl<'a> NotifyEntries<'a> {
    /// Walk `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        NotifyEntries {
            inner: ChainedEntries::new(buf, NOTIFY_FIXED),
        }
    }
}

impl Iterator for NotifyEntries<'_> {
    type Item = DecodeResult<FileNotifyInformation>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.inner.next()? {
            Ok((bytes, _)) => {
                let r = FileNotifyInformation::decode(bytes);
                if r.is_err() {
                    self.inner = ChainedEntries::new(&[], NOTIFY_FIXED);
                }
                Some(r)
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl core::iter::FusedIterator for NotifyEntries<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::message;
    use alloc::vec;

    #[test]
    fn request_round_trip_and_layout() {
        let req = ChangeNotifyRequest {
            flags: ChangeNotifyFlags(ChangeNotifyFlags::WATCH_TREE),
            output_buffer_length: 4096,
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
            completion_filter: CompletionFilter(
                CompletionFilter::FILE_NAME | CompletionFilter::DIR_NAME,
            ),
        };
        let m = message(Command::ChangeNotify, false, &req);
        assert_eq!(m.len(), 64 + 32);
        assert_eq!(&m[64..72], &[32, 0, 1, 0, 0, 0x10, 0, 0]);
        assert_eq!(&m[88..96], &[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ChangeNotifyRequest::decode(&m).unwrap(), req);
        for n in 0..m.len() {
            assert!(ChangeNotifyRequest::decode(&m[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn notify_entries_fixture() {
        // Hand-assembled per [MS-FSCC] 2.7.1: "a" renamed to "bc".
        let buf: [u8; 32] = [
            0x10, 0, 0, 0, // NextEntryOffset 16
            4, 0, 0, 0, // RENAMED_OLD_NAME
            2, 0, 0, 0, // FileNameLength 2
            b'a', 0, 0, 0, // "a" + 2 bytes padding
            0, 0, 0, 0, // last entry
            5, 0, 0, 0, // RENAMED_NEW_NAME
            4, 0, 0, 0, // FileNameLength 4
            b'b', 0, b'c', 0,
        ];
        let got: Vec<_> = NotifyEntries::new(&buf).collect::<Result<_, _>>().unwrap();
        let want = vec![
            FileNotifyInformation {
                action: NotifyAction::RenamedOldName,
                file_name: "a".into(),
            },
            FileNotifyInformation {
                action: NotifyAction::RenamedNewName,
                file_name: "bc".into(),
            },
        ];
        assert_eq!(got, want);
        let mut enc = Vec::new();
        encode_notify_entries(&want, &mut enc);
        assert_eq!(enc, buf);
    }

    #[test]
    fn response_round_trip_prefixes_and_loops() {
        let entries = vec![
            FileNotifyInformation {
                action: NotifyAction::Added,
                file_name: "dir\\new file.txt".into(),
            },
            FileNotifyInformation {
                action: NotifyAction::Other(0x42),
                file_name: "x".into(),
            },
            FileNotifyInformation {
                action: NotifyAction::Modified,
                file_name: "é".into(),
            },
        ];
        let mut buf = Vec::new();
        encode_notify_entries(&entries, &mut buf);
        let resp = ChangeNotifyResponse { buffer: &buf };
        let m = message(Command::ChangeNotify, true, &resp);
        let back = ChangeNotifyResponse::decode(&m).unwrap();
        assert_eq!(back, resp);
        let got: Vec<_> = back.entries().collect::<Result<_, _>>().unwrap();
        assert_eq!(got, entries);
        for n in 0..m.len() {
            assert!(ChangeNotifyResponse::decode(&m[..n]).is_err(), "prefix {n}");
        }
        // The last entry ("é", 12 + 2 bytes) carries 2 bytes of padding that may be cut
        // without harm; every shorter prefix is an error.
        for n in 1..buf.len() - 2 {
            let r: Result<Vec<_>, _> = NotifyEntries::new(&buf[..n]).collect();
            assert!(r.is_err(), "prefix {n}");
        }
        // NextEntryOffset that does not advance past the fixed part.
        for bad in [4u32, 11] {
            let mut b = buf.clone();
            b[..4].copy_from_slice(&bad.to_le_bytes());
            let mut it = NotifyEntries::new(&b);
            assert!(it.next().unwrap().is_err());
            assert!(it.next().is_none());
        }
        // NextEntryOffset past the end of the buffer, and a FileNameLength running past it:
        // one error each, then nothing.
        let mut b = buf.clone();
        b[..4].copy_from_slice(&(buf.len() as u32 + 4).to_le_bytes());
        let mut it = NotifyEntries::new(&b);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        let mut b = buf.clone();
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut it = NotifyEntries::new(&b);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        // Empty buffer (STATUS_NOTIFY_ENUM_DIR): no entries.
        let empty = ChangeNotifyResponse { buffer: &[] };
        let m = message(Command::ChangeNotify, true, &empty);
        let back = ChangeNotifyResponse::decode(&m).unwrap();
        assert_eq!(back.entries().count(), 0);
        assert_eq!(NotifyAction::from_u32(9), NotifyAction::RemovedByDelete);
    }

    #[test]
    fn samba_capture_decodes_and_round_trips() {
        use crate::wire::fscc::fixtures::*;
        use crate::wire::test_util::hex;
        let m = hex(CHANGE_NOTIFY_REQ);
        let req = ChangeNotifyRequest::decode(&m).unwrap();
        assert!(req.flags.has(ChangeNotifyFlags::WATCH_TREE));
        let mut again = m[..64].to_vec();
        req.encode(&mut again);
        assert_eq!(again, m);

        let m = hex(CHANGE_NOTIFY_RESP);
        let resp = ChangeNotifyResponse::decode(&m).unwrap();
        let mut again = m[..64].to_vec();
        resp.encode(&mut again);
        assert_eq!(again, m);
        let got: Vec<_> = resp.entries().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![FileNotifyInformation {
                action: NotifyAction::Added,
                file_name: "new.txt".into(),
            }]
        );
        let mut enc = Vec::new();
        encode_notify_entries(&got, &mut enc);
        assert_eq!(enc, resp.buffer);
    }
}
