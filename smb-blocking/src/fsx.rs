//! Security descriptors, sparse files, previous versions and symbolic links (issue 19),
//! over [`smb_core::driver::ShareOps`].

use crate::{Metadata, Share, block_on};
use std::io;

pub use smb_core::wire::fsctl_fs::{AllocatedRange, SymlinkReparse, gmt_token_time};
pub use smb_core::wire::security::{
    Ace, Acl, SecurityDescriptor, Sid, SidParseError, ace_flags, control, security_information,
};

impl Share {
    /// The parts of `path`'s security descriptor named by `parts` ([`security_information`]:
    /// `OWNER | GROUP | DACL`), decoded ([MS-DTYP] 2.4.6): SIDs print as `S-1-5-21-...`.
    pub fn security(&self, path: &str, parts: u32) -> io::Result<SecurityDescriptor> {
        block_on(self.dfs().security(path, parts))
    }

    /// Replace the parts of `path`'s security descriptor named by `parts` with those of
    /// `sd` (read it with [`Share::security`], change the DACL, write it back).
    pub fn set_security(&self, path: &str, sd: &SecurityDescriptor, parts: u32) -> io::Result<()> {
        block_on(self.dfs().set_security(path, sd, parts))
    }

    /// Make `path` sparse, or normal again (FSCTL_SET_SPARSE).
    pub fn set_sparse(&self, path: &str, sparse: bool) -> io::Result<()> {
        block_on(self.dfs().set_sparse(path, sparse))
    }

    /// Zero `len` bytes from `offset` (FSCTL_SET_ZERO_DATA): a hole in a sparse file.
    pub fn zero_range(&self, path: &str, offset: u64, len: u64) -> io::Result<()> {
        block_on(self.dfs().zero_range(path, offset, len))
    }

    /// The allocated ranges of `path` within `offset..offset + len`
    /// (FSCTL_QUERY_ALLOCATED_RANGES): what lies outside them is a hole.
    pub fn allocated_ranges(
        &self,
        path: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Vec<AllocatedRange>> {
        block_on(self.dfs().allocated_ranges(path, offset, len))
    }

    /// The previous versions of the share as `@GMT-YYYY.MM.DD-HH.MM.SS` tokens
    /// (FSCTL_SRV_ENUMERATE_SNAPSHOTS on `dir`, `""` for the root). Open a file as of one
    /// with [`OpenOptions::snapshot`](crate::OpenOptions::snapshot) and [`gmt_token_time`].
    pub fn snapshots(&self, dir: &str) -> io::Result<Vec<String>> {
        block_on(self.dfs().snapshots(dir))
    }

    /// The target of the symbolic link `path` (FSCTL_GET_REPARSE_POINT).
    pub fn read_link(&self, path: &str) -> io::Result<SymlinkReparse> {
        block_on(self.dfs().read_link(path))
    }

    /// Make `path` a symbolic link to `target` (FSCTL_SET_REPARSE_POINT). Many servers
    /// refuse it (Samba does): the error then says the server refused the link.
    pub fn symlink(&self, target: &str, path: &str, relative: bool) -> io::Result<()> {
        block_on(self.dfs().symlink(target, path, relative))
    }

    /// The metadata of `path` itself when it is a symbolic link (not of its target).
    pub fn symlink_metadata(&self, path: &str) -> io::Result<Metadata> {
        block_on(self.dfs().symlink_metadata(path))
    }
}
