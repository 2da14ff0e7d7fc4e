//! Following DFS referrals, written once for every adapter.
//!
//! A share whose TREE_CONNECT response had SMB2_SHARE_CAP_DFS answers
//! STATUS_PATH_NOT_COVERED for a path that crosses a DFS link ([MS-SMB2] 3.3.5.9). The
//! client then asks the server for a referral with FSCTL_DFS_GET_REFERRALS on IPC$
//! ([MS-SMB2] 3.2.4.20.3; REQ_GET_DFS_REFERRAL [MS-DFSC] 2.2.2, answered by
//! RESP_GET_DFS_REFERRAL 2.2.4 with version 3 or 4 entries, 2.2.5.3/2.2.5.4), keeps the
//! answer in a [`ReferralCache`] for its TimeToLive ([MS-DFSC] 3.1.5.1), and opens the rest
//! of the path on the target `\\server\share` ([`DfsHop`]). The adapters connect to the
//! target (the same session when it is the same server, a new session on another
//! connection otherwise) and give up after [`MAX_DFS_HOPS`] referrals, so a link that
//! points back at itself ends with a clear error.

use super::Submitter;
use crate::client::{ErrorKind, OpError, Request, Response};
use crate::state::TreeId;
use crate::time::{Duration, Instant};
use crate::wire::ioctl::{
    DfsReferralBody, DfsReferralRequest, DfsReferralResponse, IoctlData, fsctl,
};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Referrals followed for one open before it fails (a referral loop ends here).
pub const MAX_DFS_HOPS: usize = 8;

/// Referral entries kept at most ([`ReferralCache`]); the oldest goes first.
pub const MAX_CACHED_REFERRALS: usize = 256;

/// MaxOutputResponse of the referral request: room for many targets, bounded.
const MAX_REFERRAL_OUTPUT: u32 = 64 * 1024;

/// Where the rest of a path is: the share `\\server\share` and the path inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DfsHop {
    /// The target server, as the referral names it (resolve it with
    /// [`DfsResolver`](crate::client::DfsResolver)).
    pub server: String,
    /// The target share.
    pub share: String,
    /// The path inside the target share (no leading backslash; empty for its root).
    pub path: String,
}

/// The DFS path of `path` on `\\server\share`: `\server\share\path` ([MS-DFSC] 2.2.2
/// RequestFileName, one leading backslash as Windows sends it).
pub fn dfs_path(server: &str, share: &str, path: &str) -> String {
    let path = path.trim_start_matches(['\\', '/']).replace('/', "\\");
    if path.is_empty() {
        format!("\\{server}\\{share}")
    } else {
        format!("\\{server}\\{share}\\{path}")
    }
}

fn refused(path: &str, why: &str) -> OpError {
    OpError::new(ErrorKind::Protocol("bad DFS referral")).with_context(format!("DFS {path}: {why}"))
}

/// A target `\server\share[\path]` split into its parts ([MS-DFSC] 2.2.5.3 NetworkAddress);
/// `None` without a server and a share.
fn split_target(target: &str) -> Option<(String, String, String)> {
    let t = target.trim_start_matches('\\');
    let mut it = t.splitn(3, '\\');
    let server = it.next().filter(|s| !s.is_empty())?;
    let share = it.next().filter(|s| !s.is_empty())?;
    let rest = it.next().unwrap_or("").trim_matches('\\');
    Some((server.into(), share.into(), rest.into()))
}

/// `a\b` joined without doubled or dangling backslashes.
fn join(a: &str, b: &str) -> String {
    let b = b.trim_start_matches('\\');
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.into(),
        (_, true) => a.into(),
        _ => format!("{a}\\{b}"),
    }
}

/// One cached referral ([MS-DFSC] 3.1.1 ReferralCache entry): the DFS path prefix it covers,
/// the target that replaces it, and when it expires.
#[derive(Clone, Debug)]
struct Entry {
    /// `\server\share\link`, compared ignoring ASCII case.
    prefix: String,
    /// `\server\share[\path]` of each target, in the order to try them (the server's,
    /// [MS-DFSC] 3.1.5.4.4, with a target that answered moved first).
    targets: Vec<String>,
    expires: Instant,
}

/// The referral cache ([MS-DFSC] 3.1.5.1): DFS path prefixes and their targets, each kept
/// for its referral's TimeToLive and looked up by longest prefix on a path-component
/// boundary. Bounded by [`MAX_CACHED_REFERRALS`].
#[derive(Clone, Debug, Default)]
pub struct ReferralCache {
    entries: Vec<Entry>,
}

impl ReferralCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries cached (expired ones included until the next insert).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Record the answer to a referral request for `path` (as sent, `\server\share\...`) at
    /// `now`, and return where `path` goes: one [`DfsHop`] per target, in the order to try
    /// them (never empty). Refused: PathConsumed odd, past the path or not on a component
    /// boundary ([MS-DFSC] 2.2.4: the number of bytes of the request path the referral
    /// covers), no usable target, a target without server or share.
    pub fn insert(
        &mut self,
        path: &str,
        resp: &DfsReferralResponse,
        now: Instant,
    ) -> Result<Vec<DfsHop>, OpError> {
        let units: Vec<u16> = path.encode_utf16().collect();
        let consumed = usize::from(resp.path_consumed);
        if consumed % 2 != 0 || consumed / 2 > units.len() || consumed == 0 {
            return Err(refused(path, "PathConsumed does not fit the request path"));
        }
        let prefix = String::from_utf16(&units[..consumed / 2])
            .map_err(|_| refused(path, "PathConsumed splits a character"))?;
        let prefix = String::from(prefix.trim_end_matches('\\'));
        let rest = &path[prefix.len()..];
        if !(rest.is_empty() || rest.starts_with('\\')) {
            return Err(refused(path, "PathConsumed ends inside a path component"));
        }
        // Every target, in the server's order ([MS-DFSC] 3.1.5.4.4: the client tries them
        // in turn when one cannot be reached); name-list (domain/DC) referrals name no
        // share and are not used for a path. The first entry's TimeToLive is the answer's.
        let mut ttl = None;
        let mut targets = Vec::new();
        for r in &resp.referrals {
            let (target, t) = match &r.body {
                DfsReferralBody::Targets {
                    network_address, ..
                } if !network_address.is_empty() => (network_address, r.time_to_live),
                DfsReferralBody::V1 { share_name } if !share_name.is_empty() => (share_name, 0),
                _ => continue,
            };
            if split_target(target).is_none() {
                return Err(refused(path, "the target names no \\server\\share"));
            }
            ttl.get_or_insert(t);
            targets.push(target.clone());
        }
        let ttl = ttl.ok_or_else(|| refused(path, "no target in the referral"))?;
        let entry = Entry {
            prefix,
            targets,
            expires: now + Duration::from_secs(u64::from(ttl)),
        };
        let hops = hops_of(&entry, rest);
        // TimeToLive 0 (and version 1, which has none): good for this open, not cached.
        self.entries
            .retain(|e| e.expires > now && !e.prefix.eq_ignore_ascii_case(&entry.prefix));
        if ttl > 0 {
            if self.entries.len() >= MAX_CACHED_REFERRALS {
                self.entries.remove(0);
            }
            self.entries.push(entry);
        }
        Ok(hops)
    }

    /// The cached, unexpired referral whose prefix is the longest one that covers `path`
    /// (`\server\share\...`, on a whole number of path components).
    fn covering(&mut self, path: &str, now: Instant) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .filter(|e| e.expires > now)
            .filter(|e| {
                path.len() >= e.prefix.len()
                    && path.is_char_boundary(e.prefix.len())
                    && path[..e.prefix.len()].eq_ignore_ascii_case(&e.prefix)
                    && (path.len() == e.prefix.len() || path.as_bytes()[e.prefix.len()] == b'\\')
            })
            .max_by_key(|e| e.prefix.len())
    }

    /// Where `path` (`\server\share\...`) goes by a cached, unexpired referral whose prefix
    /// is the longest one that covers it: one hop per target, in the order to try them.
    pub fn lookup(&mut self, path: &str, now: Instant) -> Option<Vec<DfsHop>> {
        let e = self.covering(path, now)?;
        let rest = &path[e.prefix.len()..];
        Some(hops_of(e, rest))
    }

    /// `hop` (one of the targets [`lookup`](Self::lookup) or [`insert`](Self::insert) gave
    /// for `path`) answered: try it first from now on, as the target hint of [MS-DFSC]
    /// 3.1.1 (the cache entry's TargetHint) says. Nothing changes when no entry covers
    /// `path` or `hop` is not one of its targets.
    pub fn prefer(&mut self, path: &str, hop: &DfsHop, now: Instant) {
        let Some(e) = self.covering(path, now) else {
            return;
        };
        let rest = String::from(&path[e.prefix.len()..]);
        let at = e.targets.iter().position(|t| {
            let h = hop_of(t, &rest);
            h.server.eq_ignore_ascii_case(&hop.server)
                && h.share.eq_ignore_ascii_case(&hop.share)
                && h.path == hop.path
        });
        if let Some(i) = at {
            let t = e.targets.remove(i);
            e.targets.insert(0, t);
        }
    }
}

fn hops_of(e: &Entry, rest: &str) -> Vec<DfsHop> {
    e.targets.iter().map(|t| hop_of(t, rest)).collect()
}

fn hop_of(target: &str, rest: &str) -> DfsHop {
    let (server, share, base) = split_target(target).unwrap_or_default();
    DfsHop {
        server,
        share,
        path: join(&base, rest),
    }
}

/// Ask the server for the referral of `path` (`\server\share\...`) with
/// FSCTL_DFS_GET_REFERRALS on `ipc` (a tree of IPC$), FileId 0xFF..FF, MaxReferralLevel 4
/// ([MS-SMB2] 3.2.4.20.3, [MS-DFSC] 2.2.2), and decode the answer.
pub async fn get_referral<S: Submitter>(
    sub: &S,
    ipc: TreeId,
    path: &str,
) -> Result<DfsReferralResponse, OpError> {
    let mut input = Vec::new();
    DfsReferralRequest {
        max_referral_level: 4,
        path: path.into(),
    }
    .encode_data(&mut input);
    let r = sub
        .submit(Request::Ioctl {
            tree: ipc,
            file: None,
            ctl_code: fsctl::DFS_GET_REFERRALS,
            input: input.into(),
            max_output: MAX_REFERRAL_OUTPUT,
            fsctl: true,
        })
        .await
        .map_err(|e| e.with_context(format!("DFS referral for {path}")))?;
    match r {
        Response::Ioctl {
            output,
            more: false,
        } => DfsReferralResponse::decode_data(&output)
            .map_err(|_| refused(path, "the referral does not decode")),
        Response::Ioctl { more: true, .. } => Err(refused(path, "the referral is too long")),
        _ => Err(OpError::new(ErrorKind::Protocol(
            "unexpected response to IOCTL",
        ))),
    }
}

/// The error of an open that followed [`MAX_DFS_HOPS`] referrals without reaching a file.
pub fn too_many_hops(path: &str) -> OpError {
    OpError::new(ErrorKind::Protocol("DFS referral loop")).with_context(format!(
        "DFS {path}: still not covered after {MAX_DFS_HOPS} referrals (a referral loop?)"
    ))
}

/// The error of a referral to a server the [`DfsResolver`](crate::client::DfsResolver)
/// does not know.
pub fn unknown_server(path: &str, server: &str) -> OpError {
    OpError::new(ErrorKind::NotFound)
        .with_context(format!("DFS {path}: referral to unknown server {server}"))
}

#[cfg(test)]
#[path = "dfs_tests.rs"]
pub(crate) mod tests;
