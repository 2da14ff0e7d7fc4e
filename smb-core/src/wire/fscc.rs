//! File system information structures ([MS-FSCC] 2.4 file information classes, 2.5 file
//! system information classes). Security descriptors are in [`super::security`].
//!
//! These are the payloads of QUERY_INFO responses, SET_INFO requests and QUERY_DIRECTORY
//! pages. They are not whole SMB2 messages, so they do not implement [`super::Encode`] /
//! [`super::Decode`]; they implement [`FsccInfo`], whose `decode` takes the buffer alone
//! (e.g. `QueryInfoResponse::buffer`) and whose `encode` appends to a buffer.
//!
//! Section numbers follow the [MS-FSCC] revision the structures were checked against; newer
//! revisions renumber some sections, so each comment also names the structure.
//!
//! Decoders accept trailing bytes after a structure (servers may pad) but reject buffers
//! shorter than the fixed part or names that run past the end. They never panic.

use super::query_info::InfoType;
use super::{DecodeError, DecodeResult, Reader, put_utf16le, utf16le_len, utf16le_to_string};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// A file information class number ([MS-FSCC] 2.4), as carried in QUERY_DIRECTORY,
/// QUERY_INFO and SET_INFO with `InfoType::FILE`. Open set: unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileInfoClass(pub u8);

impl FileInfoClass {
    /// FileDirectoryInformation (directory enumeration).
    pub const DIRECTORY: FileInfoClass = FileInfoClass(1);
    /// FileFullDirectoryInformation (directory enumeration).
    pub const FULL_DIRECTORY: FileInfoClass = FileInfoClass(2);
    /// FileBothDirectoryInformation (directory enumeration).
    pub const BOTH_DIRECTORY: FileInfoClass = FileInfoClass(3);
    /// FileBasicInformation (query, set).
    pub const BASIC: FileInfoClass = FileInfoClass(4);
    /// FileStandardInformation (query).
    pub const STANDARD: FileInfoClass = FileInfoClass(5);
    /// FileInternalInformation (query).
    pub const INTERNAL: FileInfoClass = FileInfoClass(6);
    /// FileEaInformation (query).
    pub const EA: FileInfoClass = FileInfoClass(7);
    /// FileAccessInformation (query).
    pub const ACCESS: FileInfoClass = FileInfoClass(8);
    /// FileNameInformation (local; part of FileAllInformation).
    pub const NAME: FileInfoClass = FileInfoClass(9);
    /// FileRenameInformation (set).
    pub const RENAME: FileInfoClass = FileInfoClass(10);
    /// FileLinkInformation (set).
    pub const LINK: FileInfoClass = FileInfoClass(11);
    /// FileNamesInformation (directory enumeration).
    pub const NAMES: FileInfoClass = FileInfoClass(12);
    /// FileDispositionInformation (set).
    pub const DISPOSITION: FileInfoClass = FileInfoClass(13);
    /// FilePositionInformation (query, set).
    pub const POSITION: FileInfoClass = FileInfoClass(14);
    /// FileFullEaInformation (query, set).
    pub const FULL_EA: FileInfoClass = FileInfoClass(15);
    /// FileModeInformation (query, set).
    pub const MODE: FileInfoClass = FileInfoClass(16);
    /// FileAlignmentInformation (query).
    pub const ALIGNMENT: FileInfoClass = FileInfoClass(17);
    /// FileAllInformation (query).
    pub const ALL: FileInfoClass = FileInfoClass(18);
    /// FileAllocationInformation (set).
    pub const ALLOCATION: FileInfoClass = FileInfoClass(19);
    /// FileEndOfFileInformation (set).
    pub const END_OF_FILE: FileInfoClass = FileInfoClass(20);
    /// FileAlternateNameInformation (query).
    pub const ALTERNATE_NAME: FileInfoClass = FileInfoClass(21);
    /// FileStreamInformation (query).
    pub const STREAM: FileInfoClass = FileInfoClass(22);
    /// FilePipeInformation (query, set).
    pub const PIPE: FileInfoClass = FileInfoClass(23);
    /// FilePipeLocalInformation (query).
    pub const PIPE_LOCAL: FileInfoClass = FileInfoClass(24);
    /// FilePipeRemoteInformation (query).
    pub const PIPE_REMOTE: FileInfoClass = FileInfoClass(25);
    /// FileCompressionInformation (query).
    pub const COMPRESSION: FileInfoClass = FileInfoClass(28);
    /// FileQuotaInformation (query, set; with `InfoType::QUOTA`).
    pub const QUOTA: FileInfoClass = FileInfoClass(32);
    /// FileNetworkOpenInformation (query).
    pub const NETWORK_OPEN: FileInfoClass = FileInfoClass(34);
    /// FileAttributeTagInformation (query).
    pub const ATTRIBUTE_TAG: FileInfoClass = FileInfoClass(35);
    /// FileIdBothDirectoryInformation (directory enumeration).
    pub const ID_BOTH_DIRECTORY: FileInfoClass = FileInfoClass(37);
    /// FileIdFullDirectoryInformation (directory enumeration).
    pub const ID_FULL_DIRECTORY: FileInfoClass = FileInfoClass(38);
    /// FileValidDataLengthInformation (set).
    pub const VALID_DATA_LENGTH: FileInfoClass = FileInfoClass(39);
    /// FileShortNameInformation (set).
    pub const SHORT_NAME: FileInfoClass = FileInfoClass(40);
    /// FileNormalizedNameInformation (query).
    pub const NORMALIZED_NAME: FileInfoClass = FileInfoClass(48);
    /// FileIdInformation (query).
    pub const ID: FileInfoClass = FileInfoClass(59);
    /// FileIdExtdDirectoryInformation (directory enumeration).
    pub const ID_EXTD_DIRECTORY: FileInfoClass = FileInfoClass(60);
}

/// A file system information class number ([MS-FSCC] 2.5), used with
/// `InfoType::FILESYSTEM`. Open set: unknown values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FsInfoClass(pub u8);

impl FsInfoClass {
    /// FileFsVolumeInformation (query).
    pub const VOLUME: FsInfoClass = FsInfoClass(1);
    /// FileFsLabelInformation (set).
    pub const LABEL: FsInfoClass = FsInfoClass(2);
    /// FileFsSizeInformation (query).
    pub const SIZE: FsInfoClass = FsInfoClass(3);
    /// FileFsDeviceInformation (query).
    pub const DEVICE: FsInfoClass = FsInfoClass(4);
    /// FileFsAttributeInformation (query).
    pub const ATTRIBUTE: FsInfoClass = FsInfoClass(5);
    /// FileFsControlInformation (query, set).
    pub const CONTROL: FsInfoClass = FsInfoClass(6);
    /// FileFsFullSizeInformation (query).
    pub const FULL_SIZE: FsInfoClass = FsInfoClass(7);
    /// FileFsObjectIdInformation (query, set).
    pub const OBJECT_ID: FsInfoClass = FsInfoClass(8);
    /// FileFsDriverPathInformation (local).
    pub const DRIVER_PATH: FsInfoClass = FsInfoClass(9);
    /// FileFsVolumeFlagsInformation (set).
    pub const VOLUME_FLAGS: FsInfoClass = FsInfoClass(10);
    /// FileFsSectorSizeInformation (query).
    pub const SECTOR_SIZE: FsInfoClass = FsInfoClass(11);
}

pub use crate::time::FileTime;

// `impl FileTime` (the SET_INFO special values and Unix conversions) lives in crate::time.

/// An [MS-FSCC] information structure carried in a QUERY_INFO output buffer or a SET_INFO
/// input buffer.
pub trait FsccInfo: Sized {
    /// The InfoType to query/set this structure with.
    const INFO_TYPE: InfoType;
    /// The information class number (a [`FileInfoClass`] or [`FsInfoClass`] value).
    const CLASS: u8;
    /// Append the structure to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Decode the structure from the start of `buf`; trailing bytes are ignored.
    fn decode(buf: &[u8]) -> DecodeResult<Self>;
    /// Convenience: the encoded bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// Read a UTF-16 name of `len` bytes, bounded by the reader.
fn read_name(r: &mut Reader<'_>, len: u32) -> DecodeResult<String> {
    let len = usize::try_from(len).map_err(|_| DecodeError::BadOffset {
        field: "NameLength",
    })?;
    if len > r.remaining() {
        return Err(DecodeError::BadOffset {
            field: "NameLength",
        });
    }
    utf16le_to_string(r.bytes(len)?)
}

fn name_len_u32(s: &str) -> u32 {
    utf16le_len(s) as u32
}

fn filetime(r: &mut Reader<'_>) -> DecodeResult<FileTime> {
    Ok(FileTime(r.u64()?))
}

/// Generates FsccInfo for structures that are a fixed list of integer fields.
macro_rules! fixed_info {
    (
        $(#[$m:meta])*
        $name:ident, $itype:ident, $class:expr, {
            $( $(#[$fm:meta])* $field:ident : $ty:ident = $get:ident / $put:ident ),* $(,)?
        } $(, reserved $res:expr)?
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl FsccInfo for $name {
            const INFO_TYPE: InfoType = InfoType::$itype;
            const CLASS: u8 = $class;
            fn encode(&self, out: &mut Vec<u8>) {
                $( fixed_info!(@put out, self.$field, $put); )*
                $( out.put_bytes(0, $res); )?
            }
            fn decode(buf: &[u8]) -> DecodeResult<Self> {
                let mut r = Reader::new(buf);
                let v = $name { $( $field: fixed_info!(@get r, $get), )* };
                $( r.skip($res)?; )?
                Ok(v)
            }
        }
    };
    (@put $out:ident, $v:expr, time) => { $out.put_u64_le($v.0) };
    (@put $out:ident, $v:expr, u64) => { $out.put_u64_le($v) };
    (@put $out:ident, $v:expr, u32) => { $out.put_u32_le($v) };
    (@put $out:ident, $v:expr, i32) => { $out.put_i32_le($v) };
    (@put $out:ident, $v:expr, u8) => { $out.put_u8($v) };
    (@put $out:ident, $v:expr, bool) => { $out.put_u8(u8::from($v)) };
    (@get $r:ident, time) => { filetime(&mut $r)? };
    (@get $r:ident, u64) => { $r.u64()? };
    (@get $r:ident, u32) => { $r.u32()? };
    (@get $r:ident, i32) => { $r.u32()? as i32 };
    (@get $r:ident, u8) => { $r.u8()? };
    (@get $r:ident, bool) => { $r.u8()? != 0 };
}

fixed_info! {
    /// FileBasicInformation ([MS-FSCC] 2.4.7): times and attributes (40 bytes).
    ///
    /// In SET_INFO, a time of [`FileTime::DONT_CHANGE`] (0) leaves that time as it is,
    /// [`FileTime::DISABLE_UPDATES`] (-1) leaves it and stops the server from changing it
    /// through this open, [`FileTime::ENABLE_UPDATES`] (-2) restores automatic updates;
    /// `file_attributes == 0` leaves the attributes unchanged.
    FileBasicInformation, FILE, 4, {
        /// CreationTime.
        creation_time: FileTime = time / time,
        /// LastAccessTime.
        last_access_time: FileTime = time / time,
        /// LastWriteTime.
        last_write_time: FileTime = time / time,
        /// ChangeTime.
        change_time: FileTime = time / time,
        /// FileAttributes (FILE_ATTRIBUTE_* bits, [MS-FSCC] 2.6).
        file_attributes: u32 = u32 / u32,
    }, reserved 4
}

fixed_info! {
    /// FileStandardInformation ([MS-FSCC] 2.4.47 in older revisions, 2.4.41 in newer): sizes,
    /// link count, delete-pending and directory flags (24 bytes).
    FileStandardInformation, FILE, 5, {
        /// AllocationSize in bytes.
        allocation_size: u64 = u64 / u64,
        /// EndOfFile: the file size in bytes.
        end_of_file: u64 = u64 / u64,
        /// NumberOfLinks.
        number_of_links: u32 = u32 / u32,
        /// DeletePending.
        delete_pending: bool = bool / bool,
        /// Directory.
        directory: bool = bool / bool,
    }, reserved 2
}

fixed_info! {
    /// FileInternalInformation ([MS-FSCC] 2.4.22): the 64-bit file id (0 if unsupported).
    FileInternalInformation, FILE, 6, {
        /// IndexNumber.
        index_number: u64 = u64 / u64,
    }
}

fixed_info! {
    /// FileEaInformation ([MS-FSCC] 2.4.12): the size of the file's extended attributes.
    FileEaInformation, FILE, 7, {
        /// EaSize in bytes.
        ea_size: u32 = u32 / u32,
    }
}

fixed_info! {
    /// FileAccessInformation ([MS-FSCC] 2.4.1): the access granted to this open.
    FileAccessInformation, FILE, 8, {
        /// AccessFlags (an access mask, [MS-SMB2] 2.2.13.1).
        access_flags: u32 = u32 / u32,
    }
}

fixed_info! {
    /// FilePositionInformation ([MS-FSCC] 2.4.35): the current byte offset of the open.
    FilePositionInformation, FILE, 14, {
        /// CurrentByteOffset.
        current_byte_offset: u64 = u64 / u64,
    }
}

fixed_info! {
    /// FileModeInformation ([MS-FSCC] 2.4.26): the open's mode flags (FILE_WRITE_THROUGH, ...).
    FileModeInformation, FILE, 16, {
        /// Mode.
        mode: u32 = u32 / u32,
    }
}

fixed_info! {
    /// FileAlignmentInformation ([MS-FSCC] 2.4.3): the buffer alignment the device requires.
    FileAlignmentInformation, FILE, 17, {
        /// AlignmentRequirement (0 = byte, 1 = word, 3 = long, 7 = quad, ...).
        alignment_requirement: u32 = u32 / u32,
    }
}

fixed_info! {
    /// FileNetworkOpenInformation ([MS-FSCC] 2.4.34): what CREATE returns, queryable later
    /// (56 bytes).
    FileNetworkOpenInformation, FILE, 34, {
        /// CreationTime.
        creation_time: FileTime = time / time,
        /// LastAccessTime.
        last_access_time: FileTime = time / time,
        /// LastWriteTime.
        last_write_time: FileTime = time / time,
        /// ChangeTime.
        change_time: FileTime = time / time,
        /// AllocationSize in bytes.
        allocation_size: u64 = u64 / u64,
        /// EndOfFile: the file size in bytes.
        end_of_file: u64 = u64 / u64,
        /// FileAttributes.
        file_attributes: u32 = u32 / u32,
    }, reserved 4
}

fixed_info! {
    /// FileAttributeTagInformation ([MS-FSCC] 2.4.6): attributes and reparse tag.
    FileAttributeTagInformation, FILE, 35, {
        /// FileAttributes.
        file_attributes: u32 = u32 / u32,
        /// ReparseTag (meaningful when FILE_ATTRIBUTE_REPARSE_POINT is set).
        reparse_tag: u32 = u32 / u32,
    }
}

fixed_info! {
    /// FileEndOfFileInformation ([MS-FSCC] 2.4.16): set the file size (truncate/extend).
    FileEndOfFileInformation, FILE, 20, {
        /// EndOfFile: the new size in bytes.
        end_of_file: u64 = u64 / u64,
    }
}

fixed_info! {
    /// FileAllocationInformation ([MS-FSCC] 2.4.4): set the allocation size.
    FileAllocationInformation, FILE, 19, {
        /// AllocationSize in bytes.
        allocation_size: u64 = u64 / u64,
    }
}

fixed_info! {
    /// FileDispositionInformation ([MS-FSCC] 2.4.11): mark (or unmark) the file for deletion
    /// when the last handle closes.
    FileDispositionInformation, FILE, 13, {
        /// DeletePending.
        delete_pending: bool = bool / bool,
    }
}

fixed_info! {
    /// FileFsSizeInformation ([MS-FSCC] 2.5.8): volume size in allocation units (24 bytes).
    FileFsSizeInformation, FILESYSTEM, 3, {
        /// TotalAllocationUnits.
        total_allocation_units: u64 = u64 / u64,
        /// AvailableAllocationUnits (for the caller).
        available_allocation_units: u64 = u64 / u64,
        /// SectorsPerAllocationUnit.
        sectors_per_allocation_unit: u32 = u32 / u32,
        /// BytesPerSector.
        bytes_per_sector: u32 = u32 / u32,
    }
}

fixed_info! {
    /// FileFsFullSizeInformation ([MS-FSCC] 2.5.4): volume size with caller-available and
    /// actually-available units (32 bytes).
    FileFsFullSizeInformation, FILESYSTEM, 7, {
        /// TotalAllocationUnits.
        total_allocation_units: u64 = u64 / u64,
        /// CallerAvailableAllocationUnits (after quotas).
        caller_available_allocation_units: u64 = u64 / u64,
        /// ActualAvailableAllocationUnits.
        actual_available_allocation_units: u64 = u64 / u64,
        /// SectorsPerAllocationUnit.
        sectors_per_allocation_unit: u32 = u32 / u32,
        /// BytesPerSector.
        bytes_per_sector: u32 = u32 / u32,
    }
}

fixed_info! {
    /// FileFsSectorSizeInformation ([MS-FSCC] 2.5.7): sector geometry (28 bytes).
    FileFsSectorSizeInformation, FILESYSTEM, 11, {
        /// LogicalBytesPerSector.
        logical_bytes_per_sector: u32 = u32 / u32,
        /// PhysicalBytesPerSectorForAtomicity.
        physical_bytes_per_sector_for_atomicity: u32 = u32 / u32,
        /// PhysicalBytesPerSectorForPerformance.
        physical_bytes_per_sector_for_performance: u32 = u32 / u32,
        /// FileSystemEffectivePhysicalBytesPerSectorForAtomicity.
        effective_physical_bytes_per_sector_for_atomicity: u32 = u32 / u32,
        /// Flags (SSINFO_FLAGS_*).
        flags: u32 = u32 / u32,
        /// ByteOffsetForSectorAlignment.
        byte_offset_for_sector_alignment: u32 = u32 / u32,
        /// ByteOffsetForPartitionAlignment.
        byte_offset_for_partition_alignment: u32 = u32 / u32,
    }
}

fixed_info! {
    /// FileFsDeviceInformation ([MS-FSCC] 2.5.10): device type and characteristics.
    FileFsDeviceInformation, FILESYSTEM, 4, {
        /// DeviceType (FILE_DEVICE_DISK = 0x07, FILE_DEVICE_CD_ROM = 0x02, ...).
        device_type: u32 = u32 / u32,
        /// Characteristics (FILE_REMOVABLE_MEDIA, FILE_READ_ONLY_DEVICE, ...).
        characteristics: u32 = u32 / u32,
    }
}

/// FileNameInformation ([MS-FSCC] 2.4.27): a file name, as the last member of
/// [`FileAllInformation`] (or on its own where a server allows it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileNameInformation {
    /// FileName (the path relative to the share root, with a leading backslash on Windows).
    pub file_name: String,
}

impl FsccInfo for FileNameInformation {
    const INFO_TYPE: InfoType = InfoType::FILE;
    const CLASS: u8 = 9;
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32_le(name_len_u32(&self.file_name));
        put_utf16le(out, &self.file_name);
    }
    fn decode(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let len = r.u32()?;
        Ok(FileNameInformation {
            file_name: read_name(&mut r, len)?,
        })
    }
}

/// FileAllInformation ([MS-FSCC] 2.4.2): the concatenation of basic, standard, internal,
/// EA, access, position, mode, alignment and name information (100 bytes + name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileAllInformation {
    /// BasicInformation.
    pub basic: FileBasicInformation,
    /// StandardInformation.
    pub standard: FileStandardInformation,
    /// InternalInformation.
    pub internal: FileInternalInformation,
    /// EaInformation.
    pub ea: FileEaInformation,
    /// AccessInformation.
    pub access: FileAccessInformation,
    /// PositionInformation.
    pub position: FilePositionInformation,
    /// ModeInformation.
    pub mode: FileModeInformation,
    /// AlignmentInformation.
    pub alignment: FileAlignmentInformation,
    /// NameInformation.
    pub name: FileNameInformation,
}

impl FsccInfo for FileAllInformation {
    const INFO_TYPE: InfoType = InfoType::FILE;
    const CLASS: u8 = 18;
    fn encode(&self, out: &mut Vec<u8>) {
        self.basic.encode(out);
        self.standard.encode(out);
        self.internal.encode(out);
        self.ea.encode(out);
        self.access.encode(out);
        self.position.encode(out);
        self.mode.encode(out);
        self.alignment.encode(out);
        self.name.encode(out);
    }
    fn decode(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        // Each part is fixed-size except the name, which comes last.
        let basic = FileBasicInformation::decode(r.bytes(40)?)?;
        let standard = FileStandardInformation::decode(r.bytes(24)?)?;
        let internal = FileInternalInformation::decode(r.bytes(8)?)?;
        let ea = FileEaInformation::decode(r.bytes(4)?)?;
        let access = FileAccessInformation::decode(r.bytes(4)?)?;
        let position = FilePositionInformation::decode(r.bytes(8)?)?;
        let mode = FileModeInformation::decode(r.bytes(4)?)?;
        let alignment = FileAlignmentInformation::decode(r.bytes(4)?)?;
        let name = FileNameInformation::decode(r.bytes(r.remaining())?)?;
        Ok(FileAllInformation {
            basic,
            standard,
            internal,
            ea,
            access,
            position,
            mode,
            alignment,
            name,
        })
    }
}

/// FileRenameInformation for SMB2 ([MS-FSCC] 2.4.42.2, FILE_RENAME_INFORMATION_TYPE_2):
/// rename or move an open file. `file_name` is the new path relative to the share root
/// (no leading backslash); `root_directory` MUST be 0 over SMB2.
///
/// The encoder appends a 2-byte NUL after the name that FileNameLength does not count, as
/// Windows clients do (some servers want the buffer to hold at least the 24-byte C struct).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileRenameInformation {
    /// ReplaceIfExists: overwrite an existing target.
    pub replace_if_exists: bool,
    /// RootDirectory (0 for SMB2).
    pub root_directory: u64,
    /// FileName: the new name.
    pub file_name: String,
}

impl FsccInfo for FileRenameInformation {
    const INFO_TYPE: InfoType = InfoType::FILE;
    const CLASS: u8 = 10;
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(u8::from(self.replace_if_exists));
        out.put_bytes(0, 7);
        out.put_u64_le(self.root_directory);
        out.put_u32_le(name_len_u32(&self.file_name));
        put_utf16le(out, &self.file_name);
        out.put_u16_le(0);
    }
    fn decode(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let replace_if_exists = r.u8()? != 0;
        r.skip(7)?;
        let root_directory = r.u64()?;
        let len = r.u32()?;
        Ok(FileRenameInformation {
            replace_if_exists,
            root_directory,
            file_name: read_name(&mut r, len)?,
        })
    }
}

/// One entry of [`FileStreamInformation`] ([MS-FSCC] 2.4.49 / FILE_STREAM_INFORMATION).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileStreamEntry {
    /// StreamName, e.g. `::$DATA` for the unnamed data stream or `:name:$DATA`.
    pub stream_name: String,
    /// StreamSize in bytes.
    pub stream_size: u64,
    /// StreamAllocationSize in bytes.
    pub stream_allocation_size: u64,
}

/// FileStreamInformation ([MS-FSCC] 2.4.49): the list of a file's data streams. Entries are
/// chained by NextEntryOffset like directory entries; each is 8-byte aligned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileStreamInformation {
    /// The streams, in wire order.
    pub streams: Vec<FileStreamEntry>,
}

impl FsccInfo for FileStreamInformation {
    const INFO_TYPE: InfoType = InfoType::FILE;
    const CLASS: u8 = 22;
    fn encode(&self, out: &mut Vec<u8>) {
        let n = self.streams.len();
        for (i, s) in self.streams.iter().enumerate() {
            let entry_start = out.len();
            let name_len = utf16le_len(&s.stream_name);
            let len = 24 + name_len;
            let next = if i + 1 < n {
                len.next_multiple_of(8)
            } else {
                0
            };
            out.put_u32_le(next as u32);
            out.put_u32_le(name_len as u32);
            out.put_u64_le(s.stream_size);
            out.put_u64_le(s.stream_allocation_size);
            put_utf16le(out, &s.stream_name);
            if next != 0 {
                out.resize(entry_start + next, 0);
            }
        }
    }
    fn decode(buf: &[u8]) -> DecodeResult<Self> {
        let mut streams = Vec::new();
        for entry in ChainedEntries::new(buf, 24) {
            let (e, _) = entry?;
            let mut r = Reader::new(e);
            let _next = r.u32()?;
            let len = r.u32()?;
            let stream_size = r.u64()?;
            let stream_allocation_size = r.u64()?;
            streams.push(FileStreamEntry {
                stream_name: read_name(&mut r, len)?,
                stream_size,
                stream_allocation_size,
            });
        }
        Ok(FileStreamInformation { streams })
    }
}

/// Walks a buffer of entries chained by a leading 32-bit NextEntryOffset ([MS-FSCC] 2.4,
/// 2.7.1). Yields each entry's bytes (from its start up to the next entry, or to the end of
/// the buffer for the last one) and its offset in the buffer. An offset that does not
/// advance past the entry's fixed part, or that leaves the buffer, is an error and ends the
/// walk, so a malicious chain can neither loop nor read out of bounds.
#[derive(Clone, Debug)]
pub struct ChainedEntries<'a> {
    buf: &'a [u8],
    pos: usize,
    min_entry: usize,
    done: bool,
}

impl<'a> ChainedEntries<'a> {
    /// Walk `buf`, whose entries each have at least `min_entry` fixed bytes. An empty
    /// buffer yields nothing.
    pub fn new(buf: &'a [u8], min_entry: usize) -> Self {
        ChainedEntries {
            buf,
            pos: 0,
            min_entry: min_entry.max(4),
            done: buf.is_empty(),
        }
    }
}

impl<'a> Iterator for ChainedEntries<'a> {
    type Item = DecodeResult<(&'a [u8], usize)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start = self.pos;
        let rest = &self.buf[start..];
        if rest.len() < self.min_entry {
            self.done = true;
            return Some(Err(DecodeError::Truncated {
                needed: start + self.min_entry,
                available: self.buf.len(),
            }));
        }
        let next = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if next == 0 {
            self.done = true;
            return Some(Ok((rest, start)));
        }
        // The next entry must start after this entry's fixed part and leave room for at
        // least another fixed part: offsets strictly advance, so no loops.
        if next < self.min_entry || next > rest.len() || rest.len() - next < self.min_entry {
            self.done = true;
            return Some(Err(DecodeError::BadOffset {
                field: "NextEntryOffset",
            }));
        }
        self.pos = start + next;
        Some(Ok((&rest[..next], start)))
    }
}

impl core::iter::FusedIterator for ChainedEntries<'_> {}

/// FileFsVolumeInformation ([MS-FSCC] 2.5.9): volume creation time, serial number, label.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileFsVolumeInformation {
    /// VolumeCreationTime.
    pub volume_creation_time: FileTime,
    /// VolumeSerialNumber.
    pub volume_serial_number: u32,
    /// SupportsObjects.
    pub supports_objects: bool,
    /// VolumeLabel.
    pub volume_label: String,
}

impl FsccInfo for FileFsVolumeInformation {
    const INFO_TYPE: InfoType = InfoType::FILESYSTEM;
    const CLASS: u8 = 1;
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64_le(self.volume_creation_time.0);
        out.put_u32_le(self.volume_serial_number);
        out.put_u32_le(name_len_u32(&self.volume_label));
        out.put_u8(u8::from(self.supports_objects));
        out.put_u8(0);
        put_utf16le(out, &self.volume_label);
    }
    fn decode(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let volume_creation_time = filetime(&mut r)?;
        let volume_serial_number = r.u32()?;
        let len = r.u32()?;
        let supports_objects = r.u8()? != 0;
        r.skip(1)?;
        Ok(FileFsVolumeInformation {
            volume_creation_time,
            volume_serial_number,
            supports_objects,
            volume_label: read_name(&mut r, len)?,
        })
    }
}

/// FileFsAttributeInformation ([MS-FSCC] 2.5.1): file system capabilities and name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileFsAttributeInformation {
    /// FileSystemAttributes (FILE_CASE_SENSITIVE_SEARCH, FILE_SUPPORTS_STREAMS, ...).
    pub file_system_attributes: u32,
    /// MaximumComponentNameLength.
    pub maximum_component_name_length: i32,
    /// FileSystemName, e.g. "NTFS".
    pub file_system_name: String,
}

impl FileFsAttributeInformation {
    /// FILE_CASE_SENSITIVE_SEARCH.
    pub const CASE_SENSITIVE_SEARCH: u32 = 0x0000_0001;
    /// FILE_CASE_PRESERVED_NAMES.
    pub const CASE_PRESERVED_NAMES: u32 = 0x0000_0002;
    /// FILE_UNICODE_ON_DISK.
    pub const UNICODE_ON_DISK: u32 = 0x0000_0004;
    /// FILE_PERSISTENT_ACLS.
    pub const PERSISTENT_ACLS: u32 = 0x0000_0008;
    /// FILE_SUPPORTS_SPARSE_FILES.
    pub const SUPPORTS_SPARSE_FILES: u32 = 0x0000_0040;
    /// FILE_SUPPORTS_REPARSE_POINTS.
    pub const SUPPORTS_REPARSE_POINTS: u32 = 0x0000_0080;
    /// FILE_SUPPORTS_OBJECT_IDS.
    pub const SUPPORTS_OBJECT_IDS: u32 = 0x0001_0000;
    /// FILE_NAMED_STREAMS.
    pub const NAMED_STREAMS: u32 = 0x0004_0000;
    /// FILE_READ_ONLY_VOLUME.
    pub const READ_ONLY_VOLUME: u32 = 0x0008_0000;
}

impl FsccInfo for FileFsAttributeInformation {
    const INFO_TYPE: InfoType = InfoType::FILESYSTEM;
    const CLASS: u8 = 5;
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.file_system_attributes);
        out.put_i32_le(self.maximum_component_name_length);
        out.put_u32_le(name_len_u32(&self.file_system_name));
        put_utf16le(out, &self.file_system_name);
    }
    fn decode(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let file_system_attributes = r.u32()?;
        let maximum_component_name_length = r.u32()? as i32;
        let len = r.u32()?;
        Ok(FileFsAttributeInformation {
            file_system_attributes,
            maximum_component_name_length,
            file_system_name: read_name(&mut r, len)?,
        })
    }
}

/// Messages captured from Samba 4.17 (smbd and smbclient on 127.0.0.1, SMB 3.1.1, signing
/// and encryption off) with tshark, header included. Shared by the info-family tests.
#[cfg(test)]
pub(crate) mod fixtures {
    /// QUERY_DIRECTORY request, FileIdBothDirectoryInformation, pattern "*".
    pub const QUERY_DIRECTORY_REQ: &str = concat!(
        "fe534d4240008000000000000e00010010000000000000000800000000000000000000000d47496afaa29d0300000000",
        "00000000000000000000000000000000210025000000000084ceebc9000000005f740b6f000000006000020000008000",
        "2a00",
    );
    /// QUERY_DIRECTORY response: ".", "..", "a.txt", "sub", "Ünï.txt".
    pub const QUERY_DIRECTORY_RESP: &str = concat!(
        "fe534d4240008000000000000e00800011000000000000000800000000000000000000000d47496afaa29d0300000000",
        "00000000000000000000000000000000090048003a020000700000000000000080c04858283dda0180c04858283dda01",
        "80c04858283dda0180c04858283dda010000000000000000000000000000000010000000020000000000000000000000",
        "0000000000000000000000000000000000000000000000007ac59800000000002e000000000000007000000000000000",
        "b15d341ba77cdd01b15d341ba77cdd01749c3020a77cdd01749c3020a77cdd0100000000000000000000000000000000",
        "1000000004000000000000000000000000000000000000000000000000000000000000000000000073c5980000000000",
        "2e002e0000000000700000000000000080c04858283dda0180c04858283dda0180c04858283dda0180c04858283dda01",
        "000000000000000000000000000000001000000006000000000000000000000000000000000000000000000000000000",
        "00000000000000007bc59800000000007300750062000000780000000000000080c04858283dda0180c04858283dda01",
        "80c04858283dda0180c04858283dda010c000000000000000010000000000000800000000e0000000000000000000000",
        "0000000000000000000000000000000000000000000000007ec5980000000000dc006e00ef002e007400780074000000",
        "000000000000000080c04858283dda0180c04858283dda0180c04858283dda0180c04858283dda010500000000000000",
        "0010000000000000800000000a0000000000000000000000000000000000000000000000000000000000000000000000",
        "7dc598000000000061002e00740078007400",
    );
    /// QUERY_INFO request, FILESYSTEM / FileFsSizeInformation.
    pub const QUERY_INFO_FS_SIZE_REQ: &str = concat!(
        "fe534d4240000100000000001000010010000000000000000a01000000000000000000000d47496afaa29d0300000000",
        "0000000000000000000000000000000029000203ffff0000000000000000000000000000000000007f70d2c000000000",
        "156b550a0000000000",
    );
    /// QUERY_INFO response, FileFsSizeInformation.
    pub const QUERY_INFO_FS_SIZE_RESP: &str = concat!(
        "fe534d4240000100000000001000010011000000000000000a01000000000000000000000d47496afaa29d0300000000",
        "000000000000000000000000000000000900480018000000748ebf0f00000000c09ecc04000000000200000000020000",
    );
    /// QUERY_INFO response, FileAlternateNameInformation of a.txt.
    pub const QUERY_INFO_ALT_NAME_RESP: &str = concat!(
        "fe534d4240000100000000001000010011000000000000000d01000000000000000000000d47496afaa29d0300000000",
        "00000000000000000000000000000000090048000e0000000a00000061002e00740078007400",
    );
    /// QUERY_INFO request, FILE / FileAllInformation.
    pub const QUERY_INFO_ALL_REQ: &str = concat!(
        "fe534d4240000100000000001000010010000000000000001001000000000000000000000d47496afaa29d0300000000",
        "0000000000000000000000000000000029000112ffff0000000000000000000000000000000000003788c50800000000",
        "bf1108c50000000000",
    );
    /// QUERY_INFO response, FileAllInformation of a.txt.
    pub const QUERY_INFO_ALL_RESP: &str = concat!(
        "fe534d4240000100000000001000010011000000000000001001000000000000000000000d47496afaa29d0300000000",
        "00000000000000000000000000000000090048007000000080c04858283dda0180c04858283dda0180c04858283dda01",
        "80c04858283dda0180000000000000000010000000000000050000000000000001000000000000007dc5980000000000",
        "0000000080000000000000000000000080000000000000000c0000005c0061002e00740078007400",
    );
    /// QUERY_INFO response, FileStreamInformation of a.txt.
    pub const QUERY_INFO_STREAM_RESP: &str = concat!(
        "fe534d4240000100000000001000010011000000000000001301000000000000000000000d47496afaa29d0300000000",
        "000000000000000000000000000000000900480026000000000000000e00000005000000000000000010000000000000",
        "3a003a0024004400410054004100",
    );
    /// QUERY_INFO response, FileFsVolumeInformation.
    pub const QUERY_INFO_FS_VOLUME_RESP: &str = concat!(
        "fe534d4240000100000000001000010011000000000000001901000000000000000000000d47496afaa29d0300000000",
        "00000000000000000000000000000000090048001c00000080c04858283dda013d3cd6ea0a0000000000730068006100",
        "72006500",
    );
    /// CHANGE_NOTIFY request (smbclient `notify sub`).
    pub const CHANGE_NOTIFY_REQ: &str = concat!(
        "fe534d4240000100000000000f00010010000000000000001c01000000000000000000000d47496afaa29d0300000000",
        "0000000000000000000000000000000020000100e80300002b02b0da000000002f87aad000000000ff0f000000000000",
    );
    /// CHANGE_NOTIFY final response after `touch sub/new.txt`.
    pub const CHANGE_NOTIFY_RESP: &str = concat!(
        "fe534d4240000100000000000f00000013000000000000001c010000000000001c01000000000000faa29d0300000000",
        "00000000000000000000000000000000090048001c00000000000000010000000e0000006e00650077002e0074007800",
        "74000000",
    );
    /// SET_INFO request, FileRenameInformation c.txt -> d.txt.
    pub const SET_INFO_RENAME_REQ: &str = concat!(
        "fe534d42400001000000000011000100100000000000000008000000000000000000000086fa884d8afb78ea00000000",
        "000000000000000000000000000000002100010a1e0000006000000000000000246f7690000000003a2c5a2700000000",
        "000000000000000000000000000000000a00000064002e00740078007400",
    );
    /// SET_INFO response.
    pub const SET_INFO_RESP: &str = concat!(
        "fe534d42400001000000000011000100110000000000000008000000000000000000000086fa884d8afb78ea00000000",
        "000000000000000000000000000000000200",
    );
    /// SET_INFO request, FileBasicInformation (setmode +r).
    pub const SET_INFO_BASIC_REQ: &str = concat!(
        "fe534d4240000100000000001100010010000000000000000e000000000000000000000086fa884d8afb78ea00000000",
        "0000000000000000000000000000000021000104280000006000000000000000037cc673000000004748a5a900000000",
        "ffffffffffffffffffffffffffffffff0000000000000000ffffffffffffffff2100000000000000",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn rt<T: FsccInfo + PartialEq + core::fmt::Debug>(v: &T) -> Vec<u8> {
        let b = v.to_bytes();
        assert_eq!(&T::decode(&b).unwrap(), v);
        for n in 0..b.len() {
            // Every strict prefix of a non-trailing-tolerant layout must fail; structures
            // with names end exactly at the name, so all prefixes fail for all of them.
            assert!(T::decode(&b[..n]).is_err(), "prefix {n} of {}", b.len());
        }
        b
    }

    #[test]
    fn basic_information_layout_and_set_semantics() {
        let v = FileBasicInformation {
            creation_time: FileTime(0x01D0_0000_0000_0001),
            last_access_time: FileTime::DONT_CHANGE,
            last_write_time: FileTime::DISABLE_UPDATES,
            change_time: FileTime::ENABLE_UPDATES,
            file_attributes: 0x20,
        };
        let b = rt(&v);
        assert_eq!(b.len(), 40);
        assert_eq!(&b[16..24], &[0xFF; 8]);
        assert_eq!(
            &b[24..32],
            &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(&b[32..40], &[0x20, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(FileBasicInformation::CLASS, FileInfoClass::BASIC.0);
    }

    #[test]
    fn fixed_structs_have_spec_sizes() {
        assert_eq!(
            rt(&FileStandardInformation {
                allocation_size: 4096,
                end_of_file: 5,
                number_of_links: 1,
                delete_pending: false,
                directory: true
            })
            .len(),
            24
        );
        assert_eq!(rt(&FileInternalInformation { index_number: 9 }).len(), 8);
        assert_eq!(rt(&FileEaInformation { ea_size: 3 }).len(), 4);
        assert_eq!(
            rt(&FileAccessInformation {
                access_flags: 0x1f01ff
            })
            .len(),
            4
        );
        assert_eq!(
            rt(&FilePositionInformation {
                current_byte_offset: 7
            })
            .len(),
            8
        );
        assert_eq!(rt(&FileModeInformation { mode: 2 }).len(), 4);
        assert_eq!(
            rt(&FileAlignmentInformation {
                alignment_requirement: 1
            })
            .len(),
            4
        );
        assert_eq!(
            rt(&FileNetworkOpenInformation {
                end_of_file: 1,
                file_attributes: 0x80,
                ..Default::default()
            })
            .len(),
            56
        );
        assert_eq!(
            rt(&FileAttributeTagInformation {
                file_attributes: 0x400,
                reparse_tag: 0xA000_000C
            })
            .len(),
            8
        );
        assert_eq!(
            rt(&FileEndOfFileInformation {
                end_of_file: 1 << 40
            })
            .len(),
            8
        );
        assert_eq!(
            rt(&FileAllocationInformation {
                allocation_size: 1 << 20
            })
            .len(),
            8
        );
        assert_eq!(
            rt(&FileDispositionInformation {
                delete_pending: true
            }),
            vec![1]
        );
        assert_eq!(
            rt(&FileFsSizeInformation {
                total_allocation_units: 100,
                available_allocation_units: 50,
                sectors_per_allocation_unit: 8,
                bytes_per_sector: 512
            })
            .len(),
            24
        );
        assert_eq!(
            rt(&FileFsFullSizeInformation {
                total_allocation_units: 100,
                caller_available_allocation_units: 40,
                actual_available_allocation_units: 50,
                sectors_per_allocation_unit: 8,
                bytes_per_sector: 512
            })
            .len(),
            32
        );
        assert_eq!(
            rt(&FileFsSectorSizeInformation {
                logical_bytes_per_sector: 512,
                flags: 3,
                ..Default::default()
            })
            .len(),
            28
        );
        assert_eq!(
            rt(&FileFsDeviceInformation {
                device_type: 7,
                characteristics: 0x20
            })
            .len(),
            8
        );
    }

    #[test]
    fn named_structs_round_trip() {
        let n = rt(&FileNameInformation {
            file_name: "\\dir\\fïle.txt".into(),
        });
        assert_eq!(&n[..4], &[26, 0, 0, 0]);
        let all = FileAllInformation {
            basic: FileBasicInformation {
                file_attributes: 0x10,
                ..Default::default()
            },
            standard: FileStandardInformation {
                directory: true,
                number_of_links: 1,
                ..Default::default()
            },
            internal: FileInternalInformation {
                index_number: 0x1234,
            },
            access: FileAccessInformation {
                access_flags: 0x0012_0089,
            },
            name: FileNameInformation {
                file_name: "\\a".into(),
            },
            ..Default::default()
        };
        let b = rt(&all);
        assert_eq!(b.len(), 100 + 4);
        assert_eq!(&b[64..72], &0x1234u64.to_le_bytes());
        assert_eq!(&b[96..100], &[4, 0, 0, 0]);
        let vol = rt(&FileFsVolumeInformation {
            volume_creation_time: FileTime(1),
            volume_serial_number: 0xABCD,
            supports_objects: false,
            volume_label: "share".into(),
        });
        assert_eq!(vol.len(), 18 + 10);
        let attr = rt(&FileFsAttributeInformation {
            file_system_attributes: 0x0080_002F,
            maximum_component_name_length: 255,
            file_system_name: "NTFS".into(),
        });
        assert_eq!(&attr[..12], &[0x2F, 0, 0x80, 0, 255, 0, 0, 0, 8, 0, 0, 0]);
    }

    #[test]
    fn rename_has_uncounted_terminator() {
        let v = FileRenameInformation {
            replace_if_exists: true,
            root_directory: 0,
            file_name: "new\\name".into(),
        };
        let b = v.to_bytes();
        assert_eq!(b.len(), 20 + 16 + 2);
        assert_eq!(b[0], 1);
        assert_eq!(&b[16..20], &[16, 0, 0, 0]);
        assert_eq!(&b[b.len() - 2..], &[0, 0]);
        assert_eq!(FileRenameInformation::decode(&b).unwrap(), v);
        assert!(FileRenameInformation::decode(&b[..35]).is_err());
        assert!(FileRenameInformation::decode(&b[..19]).is_err());
    }

    #[test]
    fn stream_list_round_trip_and_alignment() {
        let v = FileStreamInformation {
            streams: vec![
                FileStreamEntry {
                    stream_name: "::$DATA".into(),
                    stream_size: 10,
                    stream_allocation_size: 4096,
                },
                FileStreamEntry {
                    stream_name: ":ads:$DATA".into(),
                    stream_size: 3,
                    stream_allocation_size: 8,
                },
            ],
        };
        let b = v.to_bytes();
        // 24 + 14 = 38, padded to 40.
        assert_eq!(&b[..4], &[40, 0, 0, 0]);
        assert_eq!(b.len(), 40 + 24 + 20);
        assert_eq!(FileStreamInformation::decode(&b).unwrap(), v);
        for n in 1..b.len() {
            assert!(
                FileStreamInformation::decode(&b[..n]).is_err(),
                "prefix {n}"
            );
        }
        assert_eq!(FileStreamInformation::decode(&[]).unwrap().streams.len(), 0);
        // NextEntryOffset 0 ends the list early; trailing bytes are ignored.
        let mut short = b.clone();
        short[..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            FileStreamInformation::decode(&short).unwrap().streams.len(),
            1
        );
        // An offset into the entry's own fixed part (overlap, the only way to go back) is
        // rejected.
        let mut bad = b.clone();
        bad[..4].copy_from_slice(&4u32.to_le_bytes());
        assert!(FileStreamInformation::decode(&bad).is_err());
    }
}
