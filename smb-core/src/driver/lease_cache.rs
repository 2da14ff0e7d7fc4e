//! The lease cache of the share operations (like the Linux client's deferred close and
//! cached handles): `metadata`, `exists` and `read` open a path under a read-and-handle
//! caching lease ([MS-SMB2] 2.2.13.2.8 / 2.2.13.2.10, SMB2_LEASE_READ_CACHING |
//! SMB2_LEASE_HANDLE_CACHING) and the driver keeps that handle open for a bounded time
//! ([`ClientConfig::lease_cache_ttl`]), with the file's metadata and, for a small file, its
//! bytes. While the lease holds, the server tells the client before anything changes the
//! file ([MS-SMB2] 3.2.5.19.2), so a repeated call is answered from here without a request.
//!
//! What ends an entry:
//! - a lease break of its handle (another client writes, or opens in a way that needs the
//!   handle closed): the cached handle is closed at once, which answers the break (the
//!   engine is told not to acknowledge it first, see [`Client::close_on_lease_break`]:
//!   the server would retry the other client's open while the handle is still open);
//! - a change through this client ([`LeaseCacheOp::Invalidate`]: writes, renames, removes,
//!   set_len, times, attributes, and any `open` of the path), which closes the handle
//!   before the change is sent, so the change never waits for a break of the client's own
//!   lease or meets its own open;
//! - the time to live, the entry limit (the oldest goes), the share's disconnect, a lost
//!   session (the handles are not durable) and shutdown.
//!
//! The cache lives in the [`Driver`](super::Driver), which sees every lease break as it is
//! decoded and gets "now" from its adapter: no lock, no clock, and the lookups are ordered
//! with the breaks. The share operations talk to it with [`Request::LeaseCache`], answered
//! by the driver without anything on the wire.
//!
//! [`ClientConfig::lease_cache_ttl`]: crate::client::ClientConfig::lease_cache_ttl
//! [`Client::close_on_lease_break`]: crate::client::Client::close_on_lease_break
//! [`Request::LeaseCache`]: crate::client::Request::LeaseCache

use super::Metadata;
use crate::client::{FileHandle, TreeId};
use crate::time::{Duration, Instant};
use crate::wire::create_context::LeaseState;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// The largest file whose bytes the cache keeps (64 KiB: what the `read` compound's first
/// READ brings); bigger files keep only their handle and metadata.
pub const MAX_CACHED_FILE: usize = super::ops::SMALL_READ as usize;

/// The lease a cached handle must hold: reads are cached (R) and the handle may stay open
/// while others open the file (H: the server asks for it back before a sharing conflict).
const CACHING: u32 = LeaseState::READ_CACHING | LeaseState::HANDLE_CACHING;

/// What the share operations ask the driver's cache ([`Request::LeaseCache`]).
///
/// [`Request::LeaseCache`]: crate::client::Request::LeaseCache
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseCacheOp {
    /// What is cached for `path` (normalized, see [`crate::url::normalize_path`]).
    Lookup {
        /// The share.
        tree: TreeId,
        /// The path.
        path: String,
    },
    /// Keep `file` (just opened with a lease) for `path`. The driver owns the handle from
    /// here: when it does not keep it (no read-and-handle lease, the lease already broken,
    /// the cache off) it closes it and answers once the CLOSE is done.
    Insert {
        /// The share.
        tree: TreeId,
        /// The path.
        path: String,
        /// The handle.
        file: FileHandle,
        /// What the open reported.
        metadata: Metadata,
        /// The whole file, when it was read in the same round trip.
        data: Option<Bytes>,
    },
    /// The bytes of the file behind a cached handle, read through it.
    StoreData {
        /// The share.
        tree: TreeId,
        /// The path.
        path: String,
        /// The handle the bytes were read through.
        file: FileHandle,
        /// The whole file.
        data: Bytes,
    },
    /// `path` and everything below it are about to change: forget them and close their
    /// handles; answered once the CLOSEs are done.
    Invalidate {
        /// The share.
        tree: TreeId,
        /// The path.
        path: String,
    },
}

/// The driver's answer to a [`LeaseCacheOp`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseCacheAnswer {
    /// Cached: the metadata, the bytes if kept, and the open handle (to read through).
    Hit {
        /// The handle kept open under the lease.
        file: FileHandle,
        /// The metadata.
        metadata: Metadata,
        /// The whole file, if kept.
        data: Option<Bytes>,
    },
    /// Not cached. `cacheable`: open with a lease and [`LeaseCacheOp::Insert`] the handle;
    /// otherwise (cache off, a server without leases, a path that got no lease lately)
    /// use the one-round-trip compounds that close at once.
    Miss {
        /// Worth opening with a lease.
        cacheable: bool,
    },
    /// Done.
    Done,
}

/// The cache's counters, in every adapter's stats snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseCacheStats {
    /// Lookups answered from the cache (no CREATE sent).
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Handles kept.
    pub inserted: u64,
    /// Entries ended by a lease break.
    pub broken: u64,
    /// Entries ended by a change through this client.
    pub invalidated: u64,
    /// Entries ended by their time to live or the entry limit.
    pub expired: u64,
    /// Entries now.
    pub entries: usize,
}

#[derive(Clone, Debug)]
enum Slot {
    /// A handle under a read-and-handle lease.
    Open {
        file: FileHandle,
        metadata: Metadata,
        data: Option<Bytes>,
    },
    /// The path got no such lease (a directory on a server without directory leases, for
    /// one): not worth a lease open again until the entry expires.
    NoLease,
}

#[derive(Clone, Debug)]
struct Entry {
    slot: Slot,
    expires: Instant,
}

impl Entry {
    fn file(&self) -> Option<FileHandle> {
        match self.slot {
            Slot::Open { file, .. } => Some(file),
            Slot::NoLease => None,
        }
    }
}

/// What the driver does for one [`LeaseCacheOp`] ([`LeaseCache::apply`]).
#[derive(Debug, PartialEq, Eq)]
pub struct CacheStep {
    /// The handle just kept (the engine is told to leave its breaks to the driver).
    pub kept: Option<FileHandle>,
    /// Handles to close in the background.
    pub close: Vec<FileHandle>,
    /// Handles to close before answering (the answer is then [`LeaseCacheAnswer::Done`]).
    pub close_first: Vec<FileHandle>,
    /// The answer, when nothing is to be closed first.
    pub answer: LeaseCacheAnswer,
}

/// The cache: entries by share and normalized path. Pure bookkeeping; the
/// [`Driver`](super::Driver) closes the handles it hands back.
///
/// ```
/// use smb_core::client::{FileHandle, TreeId};
/// use smb_core::driver::{LeaseCache, LeaseCacheAnswer, Metadata};
/// use smb_core::time::{Duration, Instant};
/// use smb_core::wire::create_context::LeaseState;
/// let rh = LeaseState::READ_CACHING | LeaseState::HANDLE_CACHING;
/// let (tree, now) = (TreeId(1), Instant::from_nanos(0));
/// let mut cache = LeaseCache::new(Duration::from_secs(1), 64);
/// let meta = Metadata { size: 5, ..Metadata::default() };
/// // A handle opened under a read-and-handle lease is kept: nothing to close.
/// let file = FileHandle(3);
/// assert!(cache.insert(tree, "a.txt".into(), file, meta, None, rh, now).is_empty());
/// let hit = cache.lookup(tree, "a.txt", now);
/// assert!(matches!(hit, Some(LeaseCacheAnswer::Hit { metadata, .. }) if metadata.size == 5));
/// // The server breaks the lease: the entry goes (the driver closes the handle).
/// assert!(cache.on_break(file));
/// assert_eq!(cache.lookup(tree, "a.txt", now), None);
/// ```
#[derive(Debug)]
pub struct LeaseCache {
    ttl: Duration,
    max_entries: usize,
    entries: BTreeMap<(TreeId, String), Entry>,
    stats: LeaseCacheStats,
}

/// `path` is `under` or inside it, compared case-insensitively: invalidating more than
/// needed is harmless, missing the same file spelt differently is not.
fn within(path: &str, under: &str) -> bool {
    let (p, u) = (path.to_lowercase(), under.to_lowercase());
    u.is_empty() || p == u || (p.starts_with(&u) && p[u.len()..].starts_with('\\'))
}

impl LeaseCache {
    /// A cache keeping handles for `ttl`, at most `max_entries` (either zero: off).
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        LeaseCache {
            ttl,
            max_entries,
            entries: BTreeMap::new(),
            stats: LeaseCacheStats::default(),
        }
    }

    /// Whether anything is ever kept.
    pub fn enabled(&self) -> bool {
        self.ttl > Duration::ZERO && self.max_entries > 0
    }

    /// The counters.
    pub fn stats(&self) -> LeaseCacheStats {
        LeaseCacheStats {
            entries: self.entries.len(),
            ..self.stats
        }
    }

    /// Carry out `op` at `now`. `leasing`: the server grants leases (and the client is not
    /// shutting down); `lease_state`: what a handle holds now, lowered by every break that
    /// arrived since its CREATE.
    pub fn apply(
        &mut self,
        op: LeaseCacheOp,
        leasing: bool,
        lease_state: impl Fn(FileHandle) -> u32,
        now: Instant,
    ) -> CacheStep {
        let mut step = CacheStep {
            kept: None,
            close: Vec::new(),
            close_first: Vec::new(),
            answer: LeaseCacheAnswer::Done,
        };
        match op {
            LeaseCacheOp::Lookup { tree, path } => {
                step.answer = self
                    .lookup(tree, &path, now)
                    .unwrap_or(LeaseCacheAnswer::Miss {
                        cacheable: leasing && self.enabled(),
                    });
            }
            LeaseCacheOp::Insert {
                tree,
                path,
                file,
                metadata,
                data,
            } => {
                let state = if leasing { lease_state(file) } else { 0 };
                step.close = self.insert(tree, path, file, metadata, data, state, now);
                // The caller's own handle, when not kept, is closed before it is answered.
                match step.close.iter().position(|f| *f == file) {
                    Some(i) => step.close_first.push(step.close.swap_remove(i)),
                    None => step.kept = Some(file),
                }
            }
            LeaseCacheOp::StoreData {
                tree,
                path,
                file,
                data,
            } => self.store_data(tree, &path, file, data),
            LeaseCacheOp::Invalidate { tree, path } => {
                step.close_first = self.invalidate(tree, &path);
            }
        }
        step
    }

    /// What is cached for `path` at `now` (an expired entry is a miss; the driver's timer
    /// closes it). A hit is counted for an open handle only.
    pub fn lookup(&mut self, tree: TreeId, path: &str, now: Instant) -> Option<LeaseCacheAnswer> {
        let live = self
            .entries
            .get(&(tree, String::from(path)))
            .filter(|e| e.expires > now);
        let answer = match live.map(|e| &e.slot) {
            Some(Slot::Open {
                file,
                metadata,
                data,
            }) => {
                self.stats.hits += 1;
                return Some(LeaseCacheAnswer::Hit {
                    file: *file,
                    metadata: *metadata,
                    data: data.clone(),
                });
            }
            Some(Slot::NoLease) => Some(LeaseCacheAnswer::Miss { cacheable: false }),
            None => None,
        };
        self.stats.misses += 1;
        answer
    }

    /// Keep `file` for `path` if `lease_state` (what the handle holds now) has read and
    /// handle caching; otherwise remember that the path got no lease. Returns the handles
    /// to close: `file` itself when it is not kept, a handle it replaces, the oldest entry
    /// when the cache is full.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        tree: TreeId,
        path: String,
        file: FileHandle,
        metadata: Metadata,
        data: Option<Bytes>,
        lease_state: u32,
        now: Instant,
    ) -> Vec<FileHandle> {
        let mut close = Vec::new();
        if !self.enabled() {
            close.push(file);
            return close;
        }
        let slot = if lease_state & CACHING == CACHING {
            self.stats.inserted += 1;
            Slot::Open {
                file,
                metadata,
                data: data.filter(|d| d.len() <= MAX_CACHED_FILE),
            }
        } else {
            close.push(file);
            Slot::NoLease
        };
        let key = (tree, path);
        if let Some(old) = self.entries.remove(&key) {
            close.extend(old.file());
        }
        while self.entries.len() >= self.max_entries {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.stats.expired += 1;
                close.extend(e.file());
            }
        }
        self.entries.insert(
            key,
            Entry {
                slot,
                expires: now + self.ttl,
            },
        );
        close
    }

    /// Keep `data` as the contents of `path` if its entry is still the one of `file` and the
    /// file is small enough.
    pub fn store_data(&mut self, tree: TreeId, path: &str, file: FileHandle, data: Bytes) {
        if data.len() > MAX_CACHED_FILE {
            return;
        }
        if let Some(Entry {
            slot: Slot::Open {
                file: f, data: d, ..
            },
            ..
        }) = self.entries.get_mut(&(tree, String::from(path)))
        {
            if *f == file {
                *d = Some(data);
            }
        }
    }

    /// Forget `path` and everything below it (of `tree`): the handles to close.
    pub fn invalidate(&mut self, tree: TreeId, path: &str) -> Vec<FileHandle> {
        let close = self.remove_where(|(t, p), _| *t == tree && within(p, path));
        self.stats.invalidated += close.len() as u64;
        close
    }

    /// Remove the entries `doomed` picks: their handles.
    fn remove_where(
        &mut self,
        doomed: impl Fn(&(TreeId, String), &Entry) -> bool,
    ) -> Vec<FileHandle> {
        let keys: Vec<_> = self
            .entries
            .iter()
            .filter(|(k, e)| doomed(k, e))
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter()
            .filter_map(|k| self.entries.remove(k))
            .filter_map(|e| e.file())
            .collect()
    }

    /// A lease break reached `file`: forget its entry. True when it was cached (the caller
    /// closes it).
    pub fn on_break(&mut self, file: FileHandle) -> bool {
        let key = self
            .entries
            .iter()
            .find(|(_, e)| e.file() == Some(file))
            .map(|(k, _)| k.clone());
        match key {
            Some(k) => {
                self.entries.remove(&k);
                self.stats.broken += 1;
                true
            }
            None => false,
        }
    }

    /// Forget every entry of `tree` (disconnected): the handles to close.
    pub fn drop_tree(&mut self, tree: TreeId) -> Vec<FileHandle> {
        self.invalidate(tree, "")
    }

    /// Forget everything (shutdown, or a session lost with its handles): the handles.
    pub fn clear(&mut self) -> Vec<FileHandle> {
        let all = core::mem::take(&mut self.entries);
        all.into_values().filter_map(|e| e.file()).collect()
    }

    /// Forget the entries whose time is up at `now`: the handles to close.
    pub fn expire(&mut self, now: Instant) -> Vec<FileHandle> {
        let close = self.remove_where(|_, e| e.expires <= now);
        self.stats.expired += close.len() as u64;
        close
    }

    /// When the next entry expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.expires).min()
    }
}

#[cfg(test)]
#[path = "lease_cache_tests.rs"]
mod tests;
