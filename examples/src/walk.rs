//! Walking remote directory trees and expanding wildcards in remote paths, written once for
//! ls -R, tree, du, get -r, cp -r and every command that takes a pattern.

use crate::glob::{has_wildcard, matches};
use crate::remote::{Entry, Meta, Remote};
use smb_core::url::join_path;
use std::io;

/// A path a pattern matched (or the path itself when it has no wildcard).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// SMB-form path inside the share.
    pub path: String,
    /// Its metadata when the listing already gave it.
    pub meta: Option<Meta>,
}

/// Expand `*` and `?` in any component of `path` by listing the directories on the way. A
/// path without wildcards is returned as it is (unchecked); an empty result means the
/// pattern matched nothing.
pub fn expand(remote: &dyn Remote, path: &str) -> io::Result<Vec<Found>> {
    if !has_wildcard(path) {
        return Ok(vec![Found {
            path: path.to_string(),
            meta: None,
        }]);
    }
    let comps: Vec<&str> = path.split('\\').collect();
    let mut current = vec![Found {
        path: String::new(),
        meta: None,
    }];
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for dir in &current {
            if !has_wildcard(comp) {
                next.push(Found {
                    path: join_path(&dir.path, comp),
                    meta: None,
                });
                continue;
            }
            let mut hits = Vec::new();
            let listed = remote.list(&dir.path, &mut |e: Entry| {
                if matches(comp, &e.name) && (last || e.meta.is_dir) {
                    hits.push(Found {
                        path: join_path(&dir.path, &e.name),
                        meta: Some(e.meta),
                    });
                }
                Ok(())
            });
            match listed {
                Ok(()) => {}
                // A literal directory on the way that does not exist: no match there.
                Err(e) if e.kind() == io::ErrorKind::NotFound && i > 0 => continue,
                Err(e) => return Err(e),
            }
            // Listings come in the server's order; a pattern's matches read better sorted.
            hits.sort_by(|a, b| a.path.cmp(&b.path));
            next.extend(hits);
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    Ok(current)
}

/// What the walker should do with a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visit {
    /// Go on (into the entry if it is a directory).
    Descend,
    /// Go on, but not into this directory.
    Skip,
}

/// Depth-first walk of the tree under directory `root`: `visit(dir, entry, depth)` is
/// called for every entry as its directory's listing streams in (depth 1 for `root`'s own
/// entries), subdirectories are entered after their parent's listing ended. A directory
/// that cannot be listed goes to `failed` and the walk goes on; an error returned by
/// `visit` stops it.
pub fn walk(
    remote: &dyn Remote,
    root: &str,
    visit: &mut dyn FnMut(&str, &Entry, usize) -> io::Result<Visit>,
    failed: &mut dyn FnMut(&str, io::Error) -> io::Result<()>,
) -> io::Result<()> {
    walk_dir(remote, root, 1, visit, failed)
}

fn walk_dir(
    remote: &dyn Remote,
    dir: &str,
    depth: usize,
    visit: &mut dyn FnMut(&str, &Entry, usize) -> io::Result<Visit>,
    failed: &mut dyn FnMut(&str, io::Error) -> io::Result<()>,
) -> io::Result<()> {
    let mut subdirs = Vec::new();
    let mut stop: Option<io::Error> = None;
    let listed = remote.list(dir, &mut |e: Entry| match visit(dir, &e, depth) {
        Ok(Visit::Descend) if e.meta.is_dir => {
            subdirs.push(e.name);
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(err) => {
            stop = Some(err);
            Err(io::Error::other("walk stopped"))
        }
    });
    if let Some(e) = stop {
        return Err(e);
    }
    if let Err(e) = listed {
        failed(dir, e)?;
    }
    for name in subdirs {
        crate::interrupt::check().map_err(|_| io::Error::from(io::ErrorKind::Interrupted))?;
        walk_dir(remote, &join_path(dir, &name), depth + 1, visit, failed)?;
    }
    Ok(())
}
