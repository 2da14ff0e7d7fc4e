//! SMB2 QUERY_DIRECTORY request and response ([MS-SMB2] 2.2.33, 2.2.34), and the directory
//! entry formats a page holds ([MS-FSCC] 2.4: FileDirectoryInformation,
//! FileFullDirectoryInformation, FileBothDirectoryInformation,
//! FileIdBothDirectoryInformation, FileIdFullDirectoryInformation, FileNamesInformation).
//!
//! A response page is borrowed; [`QueryDirectoryResponse::entries`] walks it with
//! [`DirectoryEntries`], which follows NextEntryOffset and refuses offsets that do not
//! advance or that leave the page.

use super::flag_newtype;
use super::fscc::{ChainedEntries, FileInfoClass, FileTime};
use super::query_info::{decode_output_buffer, encode_output_buffer};
use super::{
    Decode, DecodeError, DecodeResult, Encode, FileId, HEADER_LEN, Reader, put_utf16le, slice_at,
    utf16le_len, utf16le_to_string,
};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// QUERY_DIRECTORY Flags ([MS-SMB2] 2.2.33).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct QueryDirectoryFlags(pub u8);

impl QueryDirectoryFlags {
    /// SMB2_RESTART_SCANS: start the enumeration over.
    pub const RESTART_SCANS: u8 = 0x01;
    /// SMB2_RETURN_SINGLE_ENTRY: return at most one entry.
    pub const RETURN_SINGLE_ENTRY: u8 = 0x02;
    /// SMB2_INDEX_SPECIFIED: resume at FileIndex.
    pub const INDEX_SPECIFIED: u8 = 0x04;
    /// SMB2_REOPEN: restart with a new search pattern.
    pub const REOPEN: u8 = 0x10;
}
flag_newtype!(QueryDirectoryFlags, u8);

/// Fixed part of the request body (StructureSize 33 counts one byte of Buffer).
const REQ_FIXED: usize = 32;

/// SMB2 QUERY_DIRECTORY request ([MS-SMB2] 2.2.33).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryDirectoryRequest {
    /// FileInformationClass: one of the directory classes.
    pub file_information_class: FileInfoClass,
    /// Flags.
    pub flags: QueryDirectoryFlags,
    /// FileIndex (only with INDEX_SPECIFIED).
    pub file_index: u32,
    /// The directory open.
    pub file_id: FileId,
    /// The search pattern, e.g. `*` (wildcards `*`, `?`, and the DOS forms `<`, `>`, `"`).
    pub pattern: String,
    /// OutputBufferLength: the most the server may return in one page.
    pub output_buffer_length: u32,
}

impl Encode for QueryDirectoryRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        let name_len = utf16le_len(&self.pattern);
        let off = if name_len == 0 {
            0
        } else {
            msg.len() + REQ_FIXED
        };
        msg.put_u16_le(33);
        msg.put_u8(self.file_information_class.0);
        msg.put_u8(self.flags.0);
        msg.put_u32_le(self.file_index);
        self.file_id.write(msg);
        msg.put_u16_le(off as u16);
        msg.put_u16_le(name_len as u16);
        msg.put_u32_le(self.output_buffer_length);
        put_utf16le(msg, &self.pattern);
        if name_len == 0 {
            // StructureSize counts one byte of Buffer: servers expect it to be present.
            msg.put_u8(0);
        }
    }
}

impl Decode<'_> for QueryDirectoryRequest {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 33)?;
        let file_information_class = FileInfoClass(r.u8()?);
        let flags = QueryDirectoryFlags(r.u8()?);
        let file_index = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let off = usize::from(r.u16()?);
        let len = usize::from(r.u16()?);
        let output_buffer_length = r.u32()?;
        let name = slice_at(msg, off, len, HEADER_LEN + REQ_FIXED, "FileName")?;
        Ok(QueryDirectoryRequest {
            file_information_class,
            flags,
            file_index,
            file_id,
            pattern: utf16le_to_string(name)?,
            output_buffer_length,
        })
    }
}

/// SMB2 QUERY_DIRECTORY response ([MS-SMB2] 2.2.34): one page of directory entries in the
/// class that was requested. The end of an enumeration is an error response with
/// STATUS_NO_MORE_FILES, not an empty page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryDirectoryResponse<'a> {
    /// The page, borrowed from the message.
    pub buffer: &'a [u8],
}

impl<'a> QueryDirectoryResponse<'a> {
    /// Iterate the entries of this page, which the server encoded in `class` (the class
    /// of the request).
    pub fn entries(&self, class: FileInfoClass) -> DirectoryEntries<'a> {
        DirectoryEntries::new(self.buffer, class)
    }
}

impl Encode for QueryDirectoryResponse<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_output_buffer(msg, self.buffer);
    }
}

impl<'a> Decode<'a> for QueryDirectoryResponse<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        Ok(QueryDirectoryResponse {
            buffer: decode_output_buffer(msg)?,
        })
    }
}

/// One directory entry, whatever class it came in. Fields that the class does not carry
/// are zero / `None` (e.g. FileNamesInformation only has `file_index` and `name`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DirectoryEntry {
    /// FileName (no path).
    pub name: String,
    /// FileIndex (position hint; 0 and meaningless on NTFS).
    pub file_index: u32,
    /// CreationTime.
    pub creation_time: FileTime,
    /// LastAccessTime.
    pub last_access_time: FileTime,
    /// LastWriteTime.
    pub last_write_time: FileTime,
    /// ChangeTime.
    pub change_time: FileTime,
    /// EndOfFile: the file size in bytes.
    pub end_of_file: u64,
    /// AllocationSize in bytes.
    pub allocation_size: u64,
    /// FileAttributes (FILE_ATTRIBUTE_*, [MS-FSCC] 2.6).
    pub file_attributes: u32,
    /// EaSize (Full, Both, IdBoth, IdFull classes). When FILE_ATTRIBUTE_REPARSE_POINT
    /// (0x400) is set, servers put the reparse tag here instead ([MS-FSCC] 2.4.8).
    pub ea_size: Option<u32>,
    /// ShortName, the 8.3 name (Both and IdBoth classes, when non-empty).
    pub short_name: Option<String>,
    /// FileId, the 64-bit file id (IdBoth and IdFull classes).
    pub file_id: Option<u64>,
}

/// Layout facts of one directory class.
#[derive(Clone, Copy)]
struct Layout {
    /// Bytes before FileName.
    fixed: usize,
    /// Has the common time/size/attribute block (all but FileNamesInformation).
    common: bool,
    ea: bool,
    short: bool,
    /// Bytes after EaSize/ShortName before FileId: Reserved (IdFull 4, IdBoth 2).
    id_reserved: Option<usize>,
}

fn layout(class: FileInfoClass) -> Option<Layout> {
    let l = |fixed, common, ea, short, id_reserved| {
        Some(Layout {
            fixed,
            common,
            ea,
            short,
            id_reserved,
        })
    };
    // [MS-FSCC] 2.4.10, 2.4.14, 2.4.8, 2.4.17, 2.4.18, 2.4.28 (names as in FileInfoClass).
    match class {
        FileInfoClass::DIRECTORY => l(64, true, false, false, None),
        FileInfoClass::FULL_DIRECTORY => l(68, true, true, false, None),
        FileInfoClass::BOTH_DIRECTORY => l(94, true, true, true, None),
        FileInfoClass::ID_BOTH_DIRECTORY => l(104, true, true, true, Some(2)),
        FileInfoClass::ID_FULL_DIRECTORY => l(80, true, true, false, Some(4)),
        FileInfoClass::NAMES => l(12, false, false, false, None),
        _ => None,
    }
}

/// True if [`DirectoryEntries`] can decode pages of `class`.
pub fn is_supported_directory_class(class: FileInfoClass) -> bool {
    layout(class).is_some()
}

impl DirectoryEntry {
    /// Decode one entry (the bytes from its start to the next entry or the page end).
    fn decode(l: Layout, e: &[u8]) -> DecodeResult<DirectoryEntry> {
        let mut r = Reader::new(e);
        let _next = r.u32()?;
        let mut d = DirectoryEntry {
            file_index: r.u32()?,
            ..Default::default()
        };
        if l.common {
            d.creation_time = FileTime(r.u64()?);
            d.last_access_time = FileTime(r.u64()?);
            d.last_write_time = FileTime(r.u64()?);
            d.change_time = FileTime(r.u64()?);
            d.end_of_file = r.u64()?;
            d.allocation_size = r.u64()?;
            d.file_attributes = r.u32()?;
        }
        let name_len = r.u32()? as usize;
        if l.ea {
            d.ea_size = Some(r.u32()?);
        }
        if l.short {
            let short_len = usize::from(r.u8()?);
            r.skip(1)?; // Reserved
            let short = r.bytes(24)?;
            if short_len > 24 {
                return Err(DecodeError::BadField {
                    field: "ShortNameLength",
                    value: short_len as u64,
                });
            }
            if short_len > 0 {
                d.short_name = Some(utf16le_to_string(&short[..short_len])?);
            }
        }
        if let Some(res) = l.id_reserved {
            r.skip(res)?;
            d.file_id = Some(r.u64()?);
        }
        debug_assert_eq!(r.pos(), l.fixed);
        if name_len > r.remaining() {
            return Err(DecodeError::BadOffset {
                field: "FileNameLength",
            });
        }
        d.name = utf16le_to_string(r.bytes(name_len)?)?;
        Ok(d)
    }

    /// Bytes this entry takes in `class`, without alignment padding (`None` if the class is
    /// not a supported directory class).
    pub fn encoded_len(&self, class: FileInfoClass) -> Option<usize> {
        layout(class).map(|l| l.fixed + utf16le_len(&self.name))
    }

    fn encode_one(&self, l: Layout, next: u32, out: &mut Vec<u8>) {
        out.put_u32_le(next);
        out.put_u32_le(self.file_index);
        if l.common {
            out.put_u64_le(self.creation_time.0);
            out.put_u64_le(self.last_access_time.0);
            out.put_u64_le(self.last_write_time.0);
            out.put_u64_le(self.change_time.0);
            out.put_u64_le(self.end_of_file);
            out.put_u64_le(self.allocation_size);
            out.put_u32_le(self.file_attributes);
        }
        out.put_u32_le(utf16le_len(&self.name) as u32);
        if l.ea {
            out.put_u32_le(self.ea_size.unwrap_or(0));
        }
        if l.short {
            let mut short = Vec::with_capacity(24);
            if let Some(s) = &self.short_name {
                put_utf16le(&mut short, s);
            }
            short.truncate(24);
            out.put_u8(short.len() as u8);
            out.put_u8(0);
            short.resize(24, 0);
            out.put_slice(&short);
        }
        if let Some(res) = l.id_reserved {
            out.put_bytes(0, res);
            out.put_u64_le(self.file_id.unwrap_or(0));
        }
        put_utf16le(out, &self.name);
    }
}

/// Append `entries` to `out` as a QUERY_DIRECTORY page in `class` ([MS-FSCC] 2.4): each
/// entry but the last padded to 8 bytes, NextEntryOffset chaining them, 0 in the last.
/// Short names longer than 12 UTF-16 units are truncated. Returns false (and writes
/// nothing) if `class` is not a supported directory class. For tests and scripted servers.
pub fn encode_directory_entries(
    class: FileInfoClass,
    entries: &[DirectoryEntry],
    out: &mut Vec<u8>,
) -> bool {
    let Some(l) = layout(class) else {
        return false;
    };
    let start = out.len();
    for (i, e) in entries.iter().enumerate() {
        let entry_start = out.len();
        let len = l.fixed + utf16le_len(&e.name);
        let next = if i + 1 < entries.len() {
            len.next_multiple_of(8)
        } else {
            0
        };
        e.encode_one(l, next as u32, out);
        if next != 0 {
            out.resize(entry_start + next, 0);
        }
    }
    debug_assert!(entries.is_empty() || out.len() > start);
    true
}

/// Iterator over the entries of one QUERY_DIRECTORY page. Yields `Err` once and stops if
/// the page is malformed (NextEntryOffset not advancing past the fixed part, leaving the
/// page, a name out of bounds, bad UTF-16) or if the class is not supported.
#[derive(Clone, Debug)]
pub struct DirectoryEntries<'a> {
    class: FileInfoClass,
    inner: ChainedEntries<'a>,
    unsupported: bool,
}

impl<'a> DirectoryEntries<'a> {
    /// Walk `page`, encoded in `class`.
    pub fn new(page: &'a [u8], class: FileInfoClass) -> Self {
        let l = layout(class);
        DirectoryEntries {
            class,
            inner: ChainedEntries::new(page, l.map_or(4, |l| l.fixed)),
            unsupported: l.is_none() && !page.is_empty(),
        }
    }
}

impl Iterator for DirectoryEntries<'_> {
    type Item = DecodeResult<DirectoryEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.unsupported {
            self.unsupported = false;
            self.inner = ChainedEntries::new(&[], 4);
            return Some(Err(DecodeError::BadField {
                field: "FileInformationClass",
                value: self.class.0.into(),
            }));
        }
        let l = layout(self.class)?;
        match self.inner.next()? {
            Ok((bytes, _)) => {
                let r = DirectoryEntry::decode(l, bytes);
                if r.is_err() {
                    self.inner = ChainedEntries::new(&[], 4);
                }
                Some(r)
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl core::iter::FusedIterator for DirectoryEntries<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::message;
    use alloc::vec;

    const CLASSES: [FileInfoClass; 6] = [
        FileInfoClass::DIRECTORY,
        FileInfoClass::FULL_DIRECTORY,
        FileInfoClass::BOTH_DIRECTORY,
        FileInfoClass::ID_BOTH_DIRECTORY,
        FileInfoClass::ID_FULL_DIRECTORY,
        FileInfoClass::NAMES,
    ];

    fn sample() -> Vec<DirectoryEntry> {
        vec![
            DirectoryEntry {
                name: ".".into(),
                file_attributes: 0x10,
                creation_time: FileTime(0x01DA_0000_0000_0001),
                last_access_time: FileTime(2),
                last_write_time: FileTime(3),
                change_time: FileTime(4),
                ea_size: Some(0),
                file_id: Some(0x1111),
                ..Default::default()
            },
            DirectoryEntry {
                name: "Ünïcode file name 😀.txt".into(),
                file_index: 5,
                end_of_file: 12345,
                allocation_size: 16384,
                file_attributes: 0x20,
                ea_size: Some(17),
                short_name: Some("UNICOD~1.TXT".into()),
                file_id: Some(0xDEAD_BEEF_0000_0001),
                ..Default::default()
            },
            DirectoryEntry {
                name: "x".into(),
                file_attributes: 0x80,
                ea_size: Some(0),
                file_id: Some(3),
                ..Default::default()
            },
        ]
    }

    /// What survives encoding in `class`.
    fn project(class: FileInfoClass, e: &DirectoryEntry) -> DirectoryEntry {
        let l = layout(class).unwrap();
        let mut p = e.clone();
        if !l.common {
            p = DirectoryEntry {
                name: e.name.clone(),
                file_index: e.file_index,
                ..Default::default()
            };
        }
        if !l.ea {
            p.ea_size = None;
        }
        if !l.short {
            p.short_name = None;
        }
        if l.id_reserved.is_none() {
            p.file_id = None;
        }
        p
    }

    #[test]
    fn request_round_trip_and_layout() {
        let req = QueryDirectoryRequest {
            file_information_class: FileInfoClass::ID_BOTH_DIRECTORY,
            flags: QueryDirectoryFlags(QueryDirectoryFlags::RESTART_SCANS),
            file_index: 0,
            file_id: FileId {
                persistent: 0x10,
                volatile: 0x20,
            },
            pattern: "*".into(),
            output_buffer_length: 65536,
        };
        let m = message(Command::QueryDirectory, false, &req);
        assert_eq!(m.len(), 64 + 32 + 2);
        assert_eq!(&m[64..68], &[33, 0, 37, 1]);
        assert_eq!(&m[88..96], &[96, 0, 2, 0, 0, 0, 1, 0]);
        assert_eq!(&m[96..], &[b'*', 0]);
        assert_eq!(QueryDirectoryRequest::decode(&m).unwrap(), req);
        for n in 0..m.len() {
            assert!(
                QueryDirectoryRequest::decode(&m[..n]).is_err(),
                "prefix {n}"
            );
        }
        let empty = QueryDirectoryRequest {
            pattern: String::new(),
            ..req
        };
        let m = message(Command::QueryDirectory, false, &empty);
        assert_eq!(m.len(), 64 + 33);
        assert_eq!(QueryDirectoryRequest::decode(&m).unwrap(), empty);
        let mut bad = m.clone();
        bad[90] = 2; // length 2 at offset 0
        assert!(QueryDirectoryRequest::decode(&bad).is_err());
    }

    #[test]
    fn every_class_round_trips() {
        let entries = sample();
        for class in CLASSES {
            let mut page = Vec::new();
            assert!(encode_directory_entries(class, &entries, &mut page));
            let got: Vec<_> = DirectoryEntries::new(&page, class)
                .collect::<Result<_, _>>()
                .unwrap();
            let want: Vec<_> = entries.iter().map(|e| project(class, e)).collect();
            assert_eq!(got, want, "class {class:?}");
            // Entries are 8-byte aligned; the last is not padded.
            let first_len = entries[0].encoded_len(class).unwrap();
            assert_eq!(
                u32::from_le_bytes(page[..4].try_into().unwrap()) as usize,
                first_len.next_multiple_of(8)
            );
            let last_len = entries[2].encoded_len(class).unwrap();
            assert_eq!(page.len() % 8, last_len % 8);

            // Round trip inside a whole response message.
            let resp = QueryDirectoryResponse { buffer: &page };
            let m = message(Command::QueryDirectory, true, &resp);
            let back = QueryDirectoryResponse::decode(&m).unwrap();
            assert_eq!(back, resp);
            assert_eq!(back.entries(class).count(), 3);

            // Every truncation of the page is an error somewhere, never a panic.
            for n in 1..page.len() {
                let r: Result<Vec<_>, _> = DirectoryEntries::new(&page[..n], class).collect();
                assert!(r.is_err(), "class {class:?} prefix {n}");
            }
            for n in 0..m.len() {
                assert!(QueryDirectoryResponse::decode(&m[..n]).is_err());
            }
        }
    }

    #[test]
    fn file_id_both_layout_offsets() {
        // [MS-FSCC] FILE_ID_BOTH_DIR_INFORMATION: EaSize at 64, ShortNameLength at 68,
        // ShortName at 70..94, Reserved2 at 94, FileId at 96, FileName at 104.
        let e = &sample()[1];
        let mut page = Vec::new();
        encode_directory_entries(
            FileInfoClass::ID_BOTH_DIRECTORY,
            core::slice::from_ref(e),
            &mut page,
        );
        assert_eq!(&page[..4], &[0, 0, 0, 0]);
        assert_eq!(&page[4..8], &[5, 0, 0, 0]);
        assert_eq!(&page[40..48], &12345u64.to_le_bytes());
        assert_eq!(&page[56..60], &[0x20, 0, 0, 0]);
        assert_eq!(
            u32::from_le_bytes(page[60..64].try_into().unwrap()) as usize,
            utf16le_len(&e.name)
        );
        assert_eq!(&page[64..68], &[17, 0, 0, 0]);
        assert_eq!(page[68], 24);
        assert_eq!(&page[70..72], &[b'U', 0]);
        assert_eq!(&page[96..104], &0xDEAD_BEEF_0000_0001u64.to_le_bytes());
        assert_eq!(&page[104..106], &[0xDC, 0]);
    }

    #[test]
    fn hostile_chains_are_rejected() {
        let entries = sample();
        let class = FileInfoClass::FULL_DIRECTORY;
        let mut page = Vec::new();
        encode_directory_entries(class, &entries, &mut page);

        // NextEntryOffset pointing inside its own fixed part (the only way to go back).
        for bad_next in [1u32, 4, 8, 67] {
            let mut p = page.clone();
            p[..4].copy_from_slice(&bad_next.to_le_bytes());
            let r: Vec<_> = DirectoryEntries::new(&p, class).collect();
            assert_eq!(r.len(), 1);
            assert!(r[0].is_err());
        }
        // Past the end of the page.
        let mut p = page.clone();
        p[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(DirectoryEntries::new(&p, class).next().unwrap().is_err());
        // A name that runs into the next entry is rejected.
        let mut p = page.clone();
        p[60..64].copy_from_slice(&200u32.to_le_bytes());
        assert!(DirectoryEntries::new(&p, class).next().unwrap().is_err());
        // Short name length beyond its 24-byte field.
        let mut p = Vec::new();
        encode_directory_entries(FileInfoClass::BOTH_DIRECTORY, &entries, &mut p);
        p[68] = 26;
        assert!(
            DirectoryEntries::new(&p, FileInfoClass::BOTH_DIRECTORY)
                .next()
                .unwrap()
                .is_err()
        );
        // Iteration stops after an error.
        let mut it = DirectoryEntries::new(&p, FileInfoClass::BOTH_DIRECTORY);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        // Unsupported class: one error.
        let mut it = DirectoryEntries::new(&page, FileInfoClass::BASIC);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        assert!(!encode_directory_entries(
            FileInfoClass::BASIC,
            &entries,
            &mut Vec::new()
        ));
        // Empty page: no entries.
        assert_eq!(DirectoryEntries::new(&[], class).count(), 0);
    }

    #[test]
    fn a_thousand_self_loops_terminate() {
        // A page of zero-length names whose offsets all equal the fixed size: advances by
        // exactly the minimum each step and ends at the buffer end.
        let class = FileInfoClass::NAMES;
        let mut page = Vec::new();
        for i in 0..1000u32 {
            page.put_u32_le(if i == 999 { 0 } else { 12 });
            page.put_u32_le(i);
            page.put_u32_le(0);
        }
        let v: Vec<_> = DirectoryEntries::new(&page, class)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(v.len(), 1000);
        assert_eq!(v[999].file_index, 999);
    }

    #[test]
    fn samba_capture_decodes_and_round_trips() {
        use crate::wire::fscc::fixtures::*;
        use crate::wire::test_util::hex;
        let req_bytes = hex(QUERY_DIRECTORY_REQ);
        let req = QueryDirectoryRequest::decode(&req_bytes).unwrap();
        assert_eq!(req.file_information_class, FileInfoClass::ID_BOTH_DIRECTORY);
        assert_eq!(req.pattern, "*");
        assert_eq!(req.flags, QueryDirectoryFlags(0));
        let mut again = req_bytes[..64].to_vec();
        req.encode(&mut again);
        assert_eq!(again, req_bytes);

        let resp_bytes = hex(QUERY_DIRECTORY_RESP);
        let resp = QueryDirectoryResponse::decode(&resp_bytes).unwrap();
        let mut again = resp_bytes[..64].to_vec();
        resp.encode(&mut again);
        assert_eq!(again, resp_bytes);
        let entries: Vec<_> = resp
            .entries(FileInfoClass::ID_BOTH_DIRECTORY)
            .collect::<Result<_, _>>()
            .unwrap();
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [".", "..", "a.txt", "sub", "Ünï.txt"]);
        let a = entries.iter().find(|e| e.name == "a.txt").unwrap();
        assert_eq!(a.end_of_file, 5);
        assert_eq!(a.file_attributes & 0x10, 0);
        // touch -d '2024-01-02 03:04:05' in the server's time zone (UTC here).
        assert_eq!(a.last_write_time.to_unix().0, 1_704_164_645);
        assert!(a.file_id.is_some());
        let sub = entries.iter().find(|e| e.name == "sub").unwrap();
        assert_ne!(sub.file_attributes & 0x10, 0);
        // Our encoder reproduces Samba's page byte for byte.
        let mut page = Vec::new();
        encode_directory_entries(FileInfoClass::ID_BOTH_DIRECTORY, &entries, &mut page);
        assert_eq!(page, resp.buffer);
        for n in 0..resp_bytes.len() {
            let r = QueryDirectoryResponse::decode(&resp_bytes[..n]);
            assert!(r.is_err(), "prefix {n}");
        }
    }
}
