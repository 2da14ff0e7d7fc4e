//! Every path operation of a share, following DFS links (feature `std`): what the adapters'
//! `Share` methods call, so each is one line in each adapter. Each runs the [`ShareOps`]
//! operation of the same name through [`with_dfs`]; rename puts both paths on one share
//! first ([`resolve_pair`]), copy streams between two when they differ; listings and
//! walks are [`DfsStream`]s.

use super::dfs_follow::{
    DfsClient, DfsShare, DfsStream, resolve_both, resolve_pair, same_share, with_dfs,
};
use super::{DirStream, Metadata, Permissions, ShareOps, Walk, to_io_error};
use crate::client::{ErrorKind, FileAttributes, FileHandle, OpError, OpenOptions};
use crate::time::FileTime;
use crate::wire::fscc::FileStreamEntry;
use crate::wire::fsctl_fs::{AllocatedRange, SymlinkReparse};
use crate::wire::security::SecurityDescriptor;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use std::io;

/// The path operations of `share`, following DFS links (see the module docs).
pub struct DfsPaths<Sh>(pub Sh);

type Sub<Sh> = <<Sh as DfsShare>::Client as DfsClient>::Sub;

/// A directory listing that follows DFS links.
pub type DfsDirStream<Sh> = DfsStream<Sh, DirStream<Sub<Sh>>>;
/// A recursive listing that follows DFS links (for its root directory).
pub type DfsWalk<Sh> = DfsStream<Sh, Walk<Sub<Sh>>>;

/// `$name(path, args...)`: [`ShareOps`]'s operation of the same name through [`with_dfs`]
/// (the arguments cloned for each hop).
macro_rules! path_ops {
    ($($(#[$m:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(
            $(#[$m])*
            pub async fn $name(&self, path: &str $(, $arg: $ty)*) -> io::Result<$ret> {
                with_dfs(&self.0, path, |s, p| {
                    $(let $arg: $ty = Clone::clone(&$arg);)*
                    async move { s.share_ops().$name(&p $(, $arg)*).await }
                })
                .await
            }
        )*
    };
}

impl<Sh: DfsShare> DfsPaths<Sh> {
    fn ops(&self) -> &ShareOps<Sub<Sh>> {
        self.0.share_ops()
    }

    path_ops! {
        /// [`ShareOps::metadata`].
        metadata() -> Metadata;
        /// [`ShareOps::exists`].
        exists() -> bool;
        /// [`ShareOps::create_dir`].
        create_dir() -> ();
        /// [`ShareOps::create_dir_all`] (the parents on the link's target).
        create_dir_all() -> ();
        /// [`ShareOps::remove_file`].
        remove_file() -> ();
        /// [`ShareOps::set_len`].
        set_len(len: u64) -> ();
        /// [`ShareOps::set_times`].
        set_times(accessed: Option<FileTime>, modified: Option<FileTime>, created: Option<FileTime>) -> ();
        /// [`ShareOps::set_attributes`].
        set_attributes(attributes: u32) -> ();
        /// [`ShareOps::set_permissions`].
        set_permissions(perms: Permissions) -> ();
        /// [`ShareOps::read`].
        read() -> Vec<u8>;
        /// [`ShareOps::write`].
        write(data: Bytes) -> ();
        /// [`ShareOps::streams`].
        streams() -> Vec<FileStreamEntry>;
        /// [`ShareOps::security`].
        security(parts: u32) -> SecurityDescriptor;
        /// [`ShareOps::set_security`].
        set_security(sd: &SecurityDescriptor, parts: u32) -> ();
        /// [`ShareOps::set_sparse`].
        set_sparse(sparse: bool) -> ();
        /// [`ShareOps::zero_range`].
        zero_range(offset: u64, len: u64) -> ();
        /// [`ShareOps::allocated_ranges`].
        allocated_ranges(offset: u64, len: u64) -> Vec<AllocatedRange>;
        /// [`ShareOps::snapshots`] of directory `path`.
        snapshots() -> Vec<String>;
        /// [`ShareOps::read_link`].
        read_link() -> SymlinkReparse;
        /// [`ShareOps::symlink_metadata`].
        symlink_metadata() -> Metadata;
    }

    /// [`ShareOps::remove_dir`]. A path that is a link itself (the root of its target
    /// share) is refused: the link is the server's to remove.
    pub async fn remove_dir(&self, path: &str) -> io::Result<()> {
        with_dfs(&self.0, path, |s, p| async move {
            not_a_link_root("remove_dir", path, &p)?;
            s.share_ops().remove_dir(&p).await
        })
        .await
    }

    /// [`ShareOps::remove_dir_all`] of a directory under a link. A path that is a link
    /// itself is refused rather than emptying the whole target share; links met inside
    /// the directory are not followed (their STATUS_PATH_NOT_COVERED ends the removal).
    pub async fn remove_dir_all(&self, path: &str) -> io::Result<()> {
        with_dfs(&self.0, path, |s, p| async move {
            not_a_link_root("remove_dir_all", path, &p)?;
            s.share_ops().remove_dir_all(&p).await
        })
        .await
    }

    /// [`ShareOps::symlink`]: make `path` a link to `target`.
    pub async fn symlink(&self, target: &str, path: &str, relative: bool) -> io::Result<()> {
        with_dfs(&self.0, path, |s, p| async move {
            s.share_ops().symlink(target, &p, relative).await
        })
        .await
    }

    /// [`ShareOps::open`]: the share the file is on (to keep it connected), its handle and
    /// attributes.
    pub async fn open(
        &self,
        path: &str,
        options: &OpenOptions,
    ) -> io::Result<(Sh, FileHandle, FileAttributes)> {
        with_dfs(&self.0, path, |s, p| {
            let options = options.clone();
            async move {
                let (h, a) = s.share_ops().open(&p, options).await?;
                Ok((s, h, a))
            }
        })
        .await
    }

    /// [`ShareOps::rename`], replacing an existing `to`: both paths must lead to one share
    /// ([`resolve_pair`]).
    pub async fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (s, from, to) = resolve_pair(&self.0, "rename", from, to).await?;
        s.share_ops()
            .rename(&from, &to, true)
            .await
            .map_err(to_io_error)
    }

    /// [`ShareOps::copy`] when both paths lead to one share (server-side when it can),
    /// else [`ShareOps::copy_to`] from the one to the other (streamed through the client).
    pub async fn copy(&self, from: &str, to: &str) -> io::Result<u64> {
        let ((a, from), (b, to)) = resolve_both(&self.0, from, to).await?;
        let r = match same_share(&a, &b) {
            true => a.share_ops().copy(&from, &to).await,
            false => a.share_ops().copy_to(&from, b.share_ops(), &to).await,
        };
        r.map_err(to_io_error)
    }

    /// [`super::Watch::start`] on directory `path`: the share it is on and the watch.
    pub async fn watch(
        &self,
        path: &str,
        recursive: bool,
        filter: u32,
    ) -> io::Result<(Sh, super::Watch<Sub<Sh>>)> {
        with_dfs(&self.0, path, |s, p| async move {
            let (sub, tree) = (s.share_ops().sub.clone(), s.share_ops().tree);
            let w = super::Watch::start(sub, tree, &p, recursive, filter).await?;
            Ok((s, w))
        })
        .await
    }

    /// The entries of directory `path` matching `pattern` ([`DirStream`]), following a
    /// link the directory is on.
    pub fn read_dir(&self, path: &str, pattern: &str) -> DfsDirStream<Sh> {
        let d = DirStream::open(self.ops().sub.clone(), self.ops().tree, path, pattern);
        DfsStream::new(&self.0, path, d)
    }

    /// Every entry under directory `path` ([`Walk`]), following a link the directory is on.
    pub fn walk(&self, path: &str) -> DfsWalk<Sh> {
        let w = Walk::new(self.ops().sub.clone(), self.ops().tree, path);
        DfsStream::new(&self.0, path, w)
    }
}

/// Refuse `call` on `at` when it is the root of a share reached through a link while the
/// caller named a path (`path`): the caller named the link itself.
fn not_a_link_root(call: &str, path: &str, at: &str) -> Result<(), OpError> {
    let root = |p: &str| p.trim_matches(['/', '\\']).is_empty();
    if root(at) && !root(path) {
        let why = format!(
            "{call} {path}: a DFS link (the root of its target share); the server's \
             administrator removes links"
        );
        return Err(OpError::new(ErrorKind::AccessDenied).with_context(why));
    }
    Ok(())
}
