//! File-system information of a share ([MS-FSCC] 2.5, QUERY_INFO with InfoType
//! SMB2_0_INFO_FILESYSTEM, [MS-SMB2] 2.2.37): space, volume and file-system attributes, each
//! fetched as one compound CREATE + QUERY_INFO... + CLOSE of the share root.

use super::Submitter;
use super::ops::{ShareOps, compound};
use crate::client::{ErrorKind, FileHandle, OpError, OpenOptions, Request, Response};
use crate::time::FileTime;
use crate::wire::fscc::{
    FileFsAttributeInformation, FileFsFullSizeInformation, FileFsVolumeInformation, FsccInfo,
};
use alloc::string::String;
use alloc::vec::Vec;

/// InfoType SMB2_0_INFO_FILESYSTEM ([MS-SMB2] 2.2.37).
const INFO_FILESYSTEM: u8 = 2;
/// OutputBufferLength of each query: the fixed parts are 32 bytes at most; the rest is room
/// for a label or file-system name (UTF-16).
const FS_INFO_LEN: u32 = 1024;

/// How much space a share's volume has, in bytes ([MS-FSCC] 2.5.4
/// FileFsFullSizeInformation: allocation units x sectors per unit x bytes per sector).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FsSpace {
    /// The volume's size (TotalAllocationUnits).
    pub total: u64,
    /// Free on the volume (ActualAvailableAllocationUnits).
    pub free: u64,
    /// Free for this user, after quotas (CallerAvailableAllocationUnits).
    pub available: u64,
    /// Bytes per allocation unit (SectorsPerAllocationUnit x BytesPerSector).
    pub unit: u64,
}

impl FsSpace {
    /// The space `info` describes; an error if a product does not fit in 64 bits (no real
    /// volume is 16 EiB: the server sent nonsense).
    pub fn from_full_size(info: &FileFsFullSizeInformation) -> Result<Self, OpError> {
        let overflow = || OpError::new(ErrorKind::Protocol("the volume size overflows 64 bits"));
        let unit = u64::from(info.sectors_per_allocation_unit)
            .checked_mul(u64::from(info.bytes_per_sector))
            .ok_or_else(overflow)?;
        let bytes = |units: u64| units.checked_mul(unit).ok_or_else(overflow);
        Ok(FsSpace {
            total: bytes(info.total_allocation_units)?,
            free: bytes(info.actual_available_allocation_units)?,
            available: bytes(info.caller_available_allocation_units)?,
            unit,
        })
    }

    /// Bytes in use (`total - free`, 0 if the server reports more free than total).
    pub fn used(&self) -> u64 {
        self.total.saturating_sub(self.free)
    }
}

/// What a share's file system reports about itself ([MS-FSCC] 2.5.1, 2.5.4, 2.5.9).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FsInfo {
    /// Size, free and available bytes.
    pub space: FsSpace,
    /// VolumeLabel (may be empty).
    pub label: String,
    /// VolumeSerialNumber.
    pub serial: u32,
    /// VolumeCreationTime (0 if the server does not know).
    pub created: FileTime,
    /// FileSystemName, e.g. `"NTFS"`.
    pub fs_name: String,
    /// FileSystemAttributes: `FILE_*` bits, see [`FileFsAttributeInformation`]'s constants.
    pub attributes: u32,
    /// MaximumComponentNameLength: the longest name, in characters.
    pub max_name_len: u32,
}

impl FsInfo {
    /// Whether the FILE_* `flag` of [`FileFsAttributeInformation`] is set.
    pub fn has(&self, flag: u32) -> bool {
        self.attributes & flag == flag
    }
}

fn query<T: FsccInfo>() -> Request {
    Request::QueryInfo {
        file: FileHandle::RELATED,
        info_type: INFO_FILESYSTEM,
        class: T::CLASS,
        additional: 0,
        output_len: FS_INFO_LEN,
    }
}

fn decode<T: FsccInfo>(r: Option<Response>) -> Result<T, OpError> {
    match r {
        Some(Response::Info { data }) => T::decode(&data).map_err(|_| {
            OpError::new(ErrorKind::Protocol(
                "malformed file-system information in QUERY_INFO",
            ))
        }),
        _ => Err(OpError::new(ErrorKind::Protocol(
            "unexpected response to QUERY_INFO",
        ))),
    }
}

impl<S: Submitter> ShareOps<S> {
    /// CREATE of the share root, `queries`, CLOSE: one round trip. Returns the queries'
    /// responses.
    async fn query_root(&self, queries: Vec<Request>) -> Result<Vec<Response>, OpError> {
        let mut reqs = Vec::with_capacity(queries.len() + 2);
        reqs.push(Request::Create {
            tree: self.tree,
            path: String::new(),
            options: OpenOptions::metadata_only(),
        });
        reqs.extend(queries);
        reqs.push(Request::Close {
            file: FileHandle::RELATED,
        });
        let mut parts = compound(self.sub.submit(Request::Compound(reqs)).await)?;
        parts.pop();
        parts.remove(0);
        Ok(parts)
    }

    /// Size, free and available bytes of the share's volume.
    pub async fn space(&self) -> Result<FsSpace, OpError> {
        let mut r = self
            .query_root(alloc::vec![query::<FileFsFullSizeInformation>()])
            .await?
            .into_iter();
        FsSpace::from_full_size(&decode(r.next())?)
    }

    /// Space, volume label, serial, creation time, file-system name and attributes.
    pub async fn fs_info(&self) -> Result<FsInfo, OpError> {
        let mut r = self
            .query_root(alloc::vec![
                query::<FileFsFullSizeInformation>(),
                query::<FileFsVolumeInformation>(),
                query::<FileFsAttributeInformation>(),
            ])
            .await?
            .into_iter();
        let space = FsSpace::from_full_size(&decode(r.next())?)?;
        let vol: FileFsVolumeInformation = decode(r.next())?;
        let attr: FileFsAttributeInformation = decode(r.next())?;
        Ok(FsInfo {
            space,
            label: vol.volume_label,
            serial: vol.volume_serial_number,
            created: vol.volume_creation_time,
            fs_name: attr.file_system_name,
            attributes: attr.file_system_attributes,
            max_name_len: attr.maximum_component_name_length.max(0) as u32,
        })
    }
}
