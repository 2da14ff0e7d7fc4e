//! A recursive listing ([`Walk`]): every entry under a directory, depth first by directory,
//! each directory listed with one [`DirStream`] (QUERY_DIRECTORY pages, [MS-SMB2] 2.2.33)
//! at a time. A directory that cannot be listed (access denied, removed meanwhile) is one
//! error item naming it; the walk goes on with the others. Reparse points (symlinks,
//! junctions) are yielded but not entered.

use super::{DirStream, Submitter};
use crate::client::{DirEntry, OpError, TreeId};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::task::{Context, Poll};

/// One entry found by a [`Walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkEntry {
    /// The path inside the share, `/`-separated, starting with the walked directory.
    pub path: String,
    /// 1 for the walked directory's own entries, 2 for theirs, ...
    pub depth: usize,
    /// Name, attributes, times and sizes as the listing reported them.
    pub entry: DirEntry,
}

/// A directory a [`Walk`] could not list.
#[derive(Clone, Debug)]
pub struct WalkError {
    /// Its path inside the share.
    pub path: String,
    /// Why.
    pub error: OpError,
}

impl fmt::Display for WalkError {
    /// One layer, like every other error: `walk a/locked: access denied
    /// (STATUS_ACCESS_DENIED)`, the directory that could not be listed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

/// Every entry under a directory (see the module docs of `smb_core::driver::walk`).
pub struct Walk<S: Submitter> {
    sub: S,
    tree: TreeId,
    max_depth: usize,
    /// The directory being listed: its path, depth, listing.
    current: Option<(String, usize, DirStream<S>)>,
    /// Directories still to list, with their depth (the last is next).
    pending: Vec<(String, usize)>,
}

impl<S: Submitter> Walk<S> {
    /// Walk directory `path` (`""`: the share root), without a depth bound.
    pub fn new(sub: S, tree: TreeId, path: &str) -> Self {
        Walk {
            sub,
            tree,
            max_depth: usize::MAX,
            current: None,
            pending: alloc::vec![(String::from(path.trim_matches('/')), 0)],
        }
    }

    /// Yield entries down to `depth` (1: the directory's own entries only, like
    /// `read_dir`); deeper directories are not listed. 0 yields nothing.
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// The depth bound.
    #[cfg(feature = "std")]
    pub(super) fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// The next entry, a directory that could not be listed, or `None` at the end.
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<WalkEntry, WalkError>>> {
        loop {
            let Some((dir, depth, list)) = &mut self.current else {
                let Some((dir, depth)) = self.pending.pop() else {
                    return Poll::Ready(None);
                };
                if depth >= self.max_depth {
                    continue;
                }
                let list = DirStream::open(self.sub.clone(), self.tree, &dir, "*");
                self.current = Some((dir, depth, list));
                continue;
            };
            match list.poll_next_entry(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => self.current = None,
                Poll::Ready(Some(Err(error))) => {
                    let path = core::mem::take(dir);
                    self.current = None;
                    // The call the user made, not the listing underneath it.
                    let error = error.during("walk", &path);
                    return Poll::Ready(Some(Err(WalkError { path, error })));
                }
                Poll::Ready(Some(Ok(entry))) => {
                    let path = if dir.is_empty() {
                        entry.name.clone()
                    } else {
                        alloc::format!("{dir}/{}", entry.name)
                    };
                    let depth = *depth + 1;
                    // Not into reparse points (symlinks, junctions): no loops.
                    if entry.is_dir() && !entry.file_type().is_symlink() && depth < self.max_depth {
                        // Listed after this directory: one handle open at a time.
                        self.pending.push((path.clone(), depth));
                    }
                    return Poll::Ready(Some(Ok(WalkEntry { path, depth, entry })));
                }
            }
        }
    }
}
