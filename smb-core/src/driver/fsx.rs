//! Share-level operations on what a Windows file system has beyond data and attributes:
//! security descriptors, sparse files, previous versions (snapshots) and symbolic links.
//! Each is one compound of CREATE + the request + CLOSE ([MS-SMB2] 3.2.4.1.4).

use super::Submitter;
use super::ops::{Metadata, compound, during, smb_path};
use crate::client::{
    ErrorKind, FileHandle, OpError, OpenOptions, Request, Response, access, create_options,
    share_access,
};
use crate::wire::fscc::{FileAllInformation, FsccInfo};
use crate::wire::fsctl_fs::{
    AllocatedRange, AllocatedRanges, SetSparse, SnapshotArray, SymlinkReparse, ZeroData,
};
use crate::wire::ioctl::{IoctlData, fsctl};
use crate::wire::security::{SecurityDescriptor, security_information as si};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// InfoType SMB2_0_INFO_FILE ([MS-SMB2] 2.2.37).
const INFO_FILE: u8 = 1;
/// InfoType SMB2_0_INFO_SECURITY ([MS-SMB2] 2.2.37).
const INFO_SECURITY: u8 = 3;
/// Room for a security descriptor, a snapshot list, allocated ranges or reparse data.
const OUTPUT_LEN: u32 = 64 * 1024;
/// An SRV_SNAPSHOT_ARRAY with the counts and no tokens ([MS-SMB2] 2.2.32.2, 3.3.5.15.1).
const SNAPSHOT_COUNTS_LEN: u32 = 16;
/// The most room asked for a snapshot list: 1 MiB, about 20,000 tokens.
const MAX_SNAPSHOT_LEN: u32 = 1 << 20;
/// Requests for a snapshot list before giving up on one that grows each time.
const SNAPSHOT_TRIES: usize = 4;

/// The output room for a snapshot list of `array_size` bytes of tokens (the three counts
/// before them), refused past [`MAX_SNAPSHOT_LEN`].
fn snapshot_room(array_size: u32) -> Result<u32, OpError> {
    match array_size.checked_add(12) {
        Some(n) if n <= MAX_SNAPSHOT_LEN => Ok(n.max(SNAPSHOT_COUNTS_LEN + 1)),
        _ => Err(protocol("the server's snapshot list is larger than 1 MiB")),
    }
}

/// Allocated-range queries asked in a row before giving up on a server that keeps
/// answering STATUS_BUFFER_OVERFLOW without progress.
const MAX_RANGE_PAGES: usize = 1024;

/// A range past 2^63 - 1, the largest offset a file can have ([MS-FSCC] 2.3.52, 2.3.85).
fn bad_range() -> OpError {
    OpError::from_status(
        crate::wire::NtStatus::INVALID_PARAMETER,
        crate::wire::Command::Ioctl,
    )
    .with_context("the range ends past the largest file offset, 2^63 - 1")
}

fn protocol(what: &'static str) -> OpError {
    OpError::new(ErrorKind::Protocol(what))
}

/// Options for an open that only carries the one request: no lease, no durable handle,
/// every sharing mode (a metadata-like open must not disturb other users).
fn plain(access_mask: u32) -> OpenOptions {
    OpenOptions::metadata_only().with_access(access_mask | access::SYNCHRONIZE)
}

impl<S: Submitter> super::ShareOps<S> {
    /// CREATE `path` with `options`, `req` on it, CLOSE: the response to `req`.
    async fn on_path(
        &self,
        path: &str,
        options: OpenOptions,
        req: Request,
    ) -> Result<Response, OpError> {
        let req = Request::Compound(alloc::vec![
            Request::Create {
                tree: self.tree,
                path: smb_path(path)?,
                options,
            },
            req,
            Request::Close {
                file: FileHandle::RELATED
            },
        ]);
        let mut parts = compound(self.sub.submit(req).await)?.into_iter();
        parts
            .nth(1)
            .ok_or_else(|| protocol("short compound response"))
    }

    fn fsctl(&self, ctl_code: u32, input: Vec<u8>, max_output: u32) -> Request {
        Request::Ioctl {
            tree: self.tree,
            file: Some(FileHandle::RELATED),
            ctl_code,
            input: Bytes::from(input),
            max_output,
            fsctl: true,
        }
    }

    /// The parts of `path`'s security descriptor named by `parts`
    /// ([`security_information`](crate::wire::security::security_information): OWNER, GROUP,
    /// DACL; SACL needs a privilege): QUERY_INFO with InfoType SMB2_0_INFO_SECURITY and
    /// AdditionalInformation `parts` ([MS-SMB2] 2.2.37), decoded ([MS-DTYP] 2.4.6).
    pub async fn security(&self, path: &str, parts: u32) -> Result<SecurityDescriptor, OpError> {
        during("security", path, self.security_unnamed(path, parts)).await
    }

    async fn security_unnamed(
        &self,
        path: &str,
        parts: u32,
    ) -> Result<SecurityDescriptor, OpError> {
        let mut mask = access::READ_CONTROL;
        if parts & si::SACL != 0 {
            mask |= ACCESS_SYSTEM_SECURITY;
        }
        let req = Request::QueryInfo {
            file: FileHandle::RELATED,
            info_type: INFO_SECURITY,
            class: 0,
            additional: parts,
            output_len: OUTPUT_LEN,
        };
        match self.on_path(path, plain(mask), req).await? {
            Response::Info { data } => {
                SecurityDescriptor::decode(&data).map_err(|_| protocol("bad security descriptor"))
            }
            _ => Err(protocol("unexpected response type")),
        }
    }

    /// Replace the parts of `path`'s security descriptor named by `parts` with those of `sd`
    /// (e.g. `security_information::DACL` to change who may do what): SET_INFO with InfoType
    /// SMB2_0_INFO_SECURITY ([MS-SMB2] 2.2.39). The open asks WRITE_DAC for the DACL and
    /// WRITE_OWNER for owner and group.
    pub async fn set_security(
        &self,
        path: &str,
        sd: &SecurityDescriptor,
        parts: u32,
    ) -> Result<(), OpError> {
        during(
            "set_security",
            path,
            self.set_security_unnamed(path, sd, parts),
        )
        .await
    }

    async fn set_security_unnamed(
        &self,
        path: &str,
        sd: &SecurityDescriptor,
        parts: u32,
    ) -> Result<(), OpError> {
        let mut mask = 0;
        if parts & si::DACL != 0 {
            mask |= access::WRITE_DAC;
        }
        if parts & (si::OWNER | si::GROUP) != 0 {
            mask |= access::WRITE_OWNER;
        }
        if parts & si::SACL != 0 {
            mask |= ACCESS_SYSTEM_SECURITY;
        }
        self.invalidate(path).await;
        let req = Request::SetInfo {
            file: FileHandle::RELATED,
            info_type: INFO_SECURITY,
            class: 0,
            additional: parts,
            data: Bytes::from(sd.to_bytes()),
        };
        self.on_path(path, plain(mask), req).await.map(|_| ())
    }

    /// Make `path` sparse (or normal again with `false`): FSCTL_SET_SPARSE ([MS-FSCC] 2.3,
    /// FILE_SET_SPARSE_BUFFER).
    pub async fn set_sparse(&self, path: &str, sparse: bool) -> Result<(), OpError> {
        during("set_sparse", path, self.set_sparse_unnamed(path, sparse)).await
    }

    async fn set_sparse_unnamed(&self, path: &str, sparse: bool) -> Result<(), OpError> {
        let opts = plain(access::FILE_WRITE_DATA | access::FILE_WRITE_ATTRIBUTES)
            .with_create_options(create_options::NON_DIRECTORY_FILE);
        self.invalidate(path).await;
        let req = self.fsctl(fsctl::SET_SPARSE, SetSparse(sparse).to_bytes(), 0);
        self.on_path(path, opts, req).await.map(|_| ())
    }

    /// Zero `len` bytes of `path` from `offset` (FSCTL_SET_ZERO_DATA, [MS-FSCC] 2.3.85); a
    /// sparse file gives the space back, leaving a hole. The size does not change.
    pub async fn zero_range(&self, path: &str, offset: u64, len: u64) -> Result<(), OpError> {
        during(
            "zero_range",
            path,
            self.zero_range_unnamed(path, offset, len),
        )
        .await
    }

    async fn zero_range_unnamed(&self, path: &str, offset: u64, len: u64) -> Result<(), OpError> {
        let end = offset
            .checked_add(len)
            .filter(|e| *e <= i64::MAX as u64)
            .ok_or_else(bad_range)?;
        let input = ZeroData {
            file_offset: offset,
            beyond_final_zero: end,
        };
        let opts =
            plain(access::FILE_WRITE_DATA).with_create_options(create_options::NON_DIRECTORY_FILE);
        self.invalidate(path).await;
        let req = self.fsctl(fsctl::SET_ZERO_DATA, input.to_bytes(), 0);
        self.on_path(path, opts, req).await.map(|_| ())
    }

    /// The allocated ranges of `path` within `offset..offset + len`
    /// (FSCTL_QUERY_ALLOCATED_RANGES, [MS-FSCC] 2.3.51, 2.3.52): what is not in a range is
    /// a hole. A non-sparse file is one range. An answer cut at the buffer's end
    /// (STATUS_BUFFER_OVERFLOW) is continued after its last range.
    pub async fn allocated_ranges(
        &self,
        path: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<AllocatedRange>, OpError> {
        during(
            "allocated_ranges",
            path,
            self.allocated_ranges_unnamed(path, offset, len),
        )
        .await
    }

    async fn allocated_ranges_unnamed(
        &self,
        path: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<AllocatedRange>, OpError> {
        let end = offset
            .checked_add(len)
            .filter(|e| *e <= i64::MAX as u64)
            .ok_or_else(bad_range)?;
        let (file, _) = self
            .open(
                path,
                plain(access::FILE_READ_DATA)
                    .with_create_options(create_options::NON_DIRECTORY_FILE),
            )
            .await?;
        let result = self.ranges_of(file, offset, end).await;
        let closed = self.close(file).await;
        let ranges = result?;
        closed?;
        Ok(ranges)
    }

    async fn ranges_of(
        &self,
        file: FileHandle,
        mut from: u64,
        end: u64,
    ) -> Result<Vec<AllocatedRange>, OpError> {
        let mut out = Vec::new();
        for _ in 0..MAX_RANGE_PAGES {
            let input = AllocatedRange {
                offset: from,
                length: end - from,
            };
            let req = Request::Ioctl {
                tree: self.tree,
                file: Some(file),
                ctl_code: fsctl::QUERY_ALLOCATED_RANGES,
                input: Bytes::from(input.to_bytes()),
                max_output: OUTPUT_LEN,
                fsctl: true,
            };
            let (output, more) = match self.sub.submit(req).await? {
                Response::Ioctl { output, more } => (output, more),
                _ => return Err(protocol("unexpected response type")),
            };
            let page = AllocatedRanges::decode_data(&output)
                .map_err(|_| protocol("bad allocated ranges"))?
                .0;
            let next = page.last().map(|r| r.offset + r.length);
            out.extend(page);
            match next {
                // Only a cut answer that moved forward is continued.
                Some(n) if more && n > from && n < end => from = n,
                _ if more => return Err(protocol("allocated ranges: no progress")),
                _ => return Ok(out),
            }
        }
        Err(protocol("allocated ranges: too many pages"))
    }

    /// The previous versions of the share as `@GMT-YYYY.MM.DD-HH.MM.SS` tokens
    /// (FSCTL_SRV_ENUMERATE_SNAPSHOTS on `dir`, [MS-SMB2] 2.2.31, 2.2.32.2). Open one with
    /// [`OpenOptions::snapshot`] and
    /// [`gmt_token_time`](crate::wire::fsctl_fs::gmt_token_time).
    pub async fn snapshots(&self, dir: &str) -> Result<Vec<String>, OpError> {
        during("snapshots", dir, self.snapshots_unnamed(dir)).await
    }

    async fn snapshots_unnamed(&self, dir: &str) -> Result<Vec<String>, OpError> {
        // One request with room for about 1,300 tokens answers every usual share. A longer
        // list: Windows answers with the counts and no tokens, Samba with
        // STATUS_BUFFER_TOO_SMALL; then a 16-byte probe (counts only, [MS-SMB2] 3.3.5.15.1)
        // gives SnapShotArraySize and the list is asked for again with that room. The list
        // can grow in between: a few tries, each bounded.
        let mut room = OUTPUT_LEN;
        for _ in 0..SNAPSHOT_TRIES {
            match self.snapshot_array(dir, room).await {
                Ok(a) if a.snapshots.len() == a.number_of_snapshots as usize => {
                    return Ok(a.snapshots);
                }
                Ok(a) => room = snapshot_room(a.snapshot_array_size)?,
                Err(e) if e.status == Some(crate::wire::NtStatus::BUFFER_TOO_SMALL) => {
                    let counts = self.snapshot_array(dir, SNAPSHOT_COUNTS_LEN).await?;
                    room = snapshot_room(counts.snapshot_array_size)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(protocol("the snapshot list kept growing"))
    }

    async fn snapshot_array(&self, dir: &str, room: u32) -> Result<SnapshotArray, OpError> {
        let opts = plain(access::FILE_READ_DATA | access::FILE_READ_ATTRIBUTES);
        let req = self.fsctl(fsctl::SRV_ENUMERATE_SNAPSHOTS, Vec::new(), room);
        match self.on_path(dir, opts, req).await? {
            Response::Ioctl { output, .. } => {
                SnapshotArray::decode_data(&output).map_err(|_| protocol("bad snapshot array"))
            }
            _ => Err(protocol("unexpected response type")),
        }
    }

    /// The target of the symbolic link `path` (FSCTL_GET_REPARSE_POINT on the link itself,
    /// opened with FILE_OPEN_REPARSE_POINT, [MS-FSCC] 2.1.2.4).
    pub async fn read_link(&self, path: &str) -> Result<SymlinkReparse, OpError> {
        during("read_link", path, self.read_link_unnamed(path)).await
    }

    async fn read_link_unnamed(&self, path: &str) -> Result<SymlinkReparse, OpError> {
        let opts = plain(access::FILE_READ_ATTRIBUTES)
            .with_create_options(create_options::OPEN_REPARSE_POINT);
        let req = self.fsctl(fsctl::GET_REPARSE_POINT, Vec::new(), OUTPUT_LEN);
        match self.on_path(path, opts, req).await {
            Ok(Response::Ioctl { output, .. }) => SymlinkReparse::decode_data(&output)
                .map_err(|_| protocol("not a symbolic link's reparse data")),
            Ok(_) => Err(protocol("unexpected response type")),
            // A server that stops on the link itself says where it points in the error
            // response ([MS-SMB2] 2.2.2.2.1); nothing of the path left means `path` is the
            // link.
            Err(OpError {
                symlink: Some(link),
                ..
            }) if link.unparsed_path_length == 0 => Ok(SymlinkReparse {
                substitute_name: link.substitute_name,
                print_name: link.print_name,
                flags: link.flags,
            }),
            Err(e) if e.status == Some(crate::wire::NtStatus::NOT_A_REPARSE_POINT) => Err(e
                .with_context(alloc::format!(
                    "{path} is not a symbolic link as the server shows it (Samba follows or \
                     hides unix symlinks instead of showing reparse points)"
                ))),
            Err(e) => Err(e),
        }
    }

    /// Make `path` a symbolic link to `target` (FSCTL_SET_REPARSE_POINT with symlink reparse
    /// data, [MS-FSCC] 2.1.2.4; `relative` sets SYMLINK_FLAG_RELATIVE). The file is created
    /// first. Servers commonly refuse this (Samba 4.17 answers NOT_A_REPARSE_POINT): the error
    /// then names the link, and the empty file is removed.
    pub async fn symlink(&self, target: &str, path: &str, relative: bool) -> Result<(), OpError> {
        during(
            "symlink",
            path,
            self.symlink_unnamed(target, path, relative),
        )
        .await
    }

    async fn symlink_unnamed(
        &self,
        target: &str,
        path: &str,
        relative: bool,
    ) -> Result<(), OpError> {
        let data = SymlinkReparse {
            substitute_name: target.into(),
            print_name: target.into(),
            flags: if relative {
                crate::wire::fsctl_fs::SYMLINK_FLAG_RELATIVE
            } else {
                0
            },
        };
        let opts = OpenOptions::new()
            .create_new(true)
            .with_access(access::FILE_WRITE_DATA | access::FILE_WRITE_ATTRIBUTES | access::DELETE)
            .with_share_access(share_access::ALL)
            .with_create_options(create_options::NON_DIRECTORY_FILE)
            .with_durable(false)
            .with_lease(false);
        self.invalidate(path).await;
        let req = self.fsctl(fsctl::SET_REPARSE_POINT, data.to_bytes(), 0);
        match self.on_path(path, opts, req).await {
            Ok(_) => Ok(()),
            Err(e) => {
                // Leave no empty file behind when the server refused the reparse point.
                if !matches!(e.kind, ErrorKind::AlreadyExists) {
                    let _ = self.remove_file(path).await;
                }
                Err(e.with_context(alloc::format!(
                    "the server refused to create the symbolic link {path} -> {target}"
                )))
            }
        }
    }

    /// Like [`ShareOps::metadata`](super::ShareOps::metadata), of the link itself when `path` is a symbolic link
    /// (opened with FILE_OPEN_REPARSE_POINT): its attributes carry
    /// FILE_ATTRIBUTE_REPARSE_POINT (0x400).
    pub async fn symlink_metadata(&self, path: &str) -> Result<Metadata, OpError> {
        during(
            "symlink_metadata",
            path,
            self.symlink_metadata_unnamed(path),
        )
        .await
    }

    async fn symlink_metadata_unnamed(&self, path: &str) -> Result<Metadata, OpError> {
        let opts =
            OpenOptions::metadata_only().with_create_options(create_options::OPEN_REPARSE_POINT);
        let req = Request::QueryInfo {
            file: FileHandle::RELATED,
            info_type: INFO_FILE,
            class: FileAllInformation::CLASS,
            additional: 0,
            output_len: 4096,
        };
        match self.on_path(path, opts, req).await? {
            Response::Info { data } => FileAllInformation::decode(&data)
                .map(|all| Metadata::from_all(&all))
                .map_err(|_| protocol("bad FileAllInformation")),
            _ => Err(protocol("unexpected response type")),
        }
    }
}

/// ACCESS_SYSTEM_SECURITY ([MS-SMB2] 2.2.13.1.1): read or write the SACL.
const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;

#[cfg(test)]
#[path = "fsx_tests.rs"]
mod tests;
