//! Following DFS links from every path operation, written once for every adapter (feature
//! `std`).
//!
//! An adapter describes its client and share with [`DfsClient`] and [`DfsShare`] (how to
//! reach the driver, connect a share, start a session to another server); everything else
//! is here: [`follow`] asks for (or finds cached) the referral of a path that crossed a
//! link ([MS-DFSC] 3.1.4.1), tries its targets in order until one answers ([MS-DFSC]
//! 3.1.5.4.4: a client that cannot reach one target tries the next), and gives the target
//! share and the path there; [`with_dfs`] runs one operation through as many hops as it
//! takes; [`resolve_pair`] puts the two paths of a rename on one share or says they are
//! not ([`resolve_both`] and [`same_share`] for a copy, which can span two);
//! [`DfsStream`] does the same for listings, which open lazily.

use super::dfs::{DfsHop, MAX_DFS_HOPS, dfs_path, get_referral, too_many_hops};
use super::dfs_links::{DfsConnect, DfsLinks, DfsServer, not_followed, with_referrals};
use super::{
    DirStream, ShareOps, Submitter, Walk, WalkEntry, op_error, to_io_error, with_dfs_path,
};
use crate::client::{DirEntry, ErrorKind, OpError};
use crate::wire::NtStatus;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;

/// A boxed `Send` future, what the adapter hooks return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What following referrals needs of an adapter's client.
pub trait DfsClient: Clone + Send + Sync + 'static {
    /// How its requests reach its driver.
    type Sub: Submitter;
    /// Its share handle.
    type Share: DfsShare<Client = Self>;
    /// Its DFS state (referral cache, other servers).
    fn dfs_links(&self) -> &DfsLinks<Self>;
    /// Its submitter.
    fn submitter(&self) -> &Self::Sub;
    /// TREE_CONNECT to `share` of this client's server (IPC$ for referrals, a link's
    /// target share).
    fn tree_connect(&self, share: &str) -> BoxFuture<'_, io::Result<Self::Share>>;
    /// Start a session to another server a referral leads to.
    fn connect_target(target: DfsConnect<Self>) -> BoxFuture<'static, io::Result<Self>>;
}

/// What following referrals needs of an adapter's share.
pub trait DfsShare: Clone + Send + Sync + 'static {
    /// The client it belongs to.
    type Client: DfsClient<Share = Self>;
    /// Its operations.
    fn share_ops(&self) -> &ShareOps<<Self::Client as DfsClient>::Sub>;
    /// Its client (the session that reaches the targets).
    fn share_client(&self) -> &Self::Client;
    /// Its name.
    fn share_name(&self) -> &str;
}

/// The share and path that `path` of `share` leads to by its DFS referral (cached, or asked
/// for on IPC$), connecting to the target server when it is another one. A referral with
/// several targets is tried target by target until one can be reached (its server
/// resolved, a session to it started, its share connected); the one that answered is
/// tried first next time. When none can, the error is the first target's, saying how
/// many were tried.
pub async fn follow<Sh: DfsShare>(share: Sh, path: String) -> io::Result<(Sh, String)> {
    let c = share.share_client();
    let links = c.dfs_links();
    let unc = dfs_path(links.server_name(), share.share_name(), &path);
    let hops = match links.cached(&unc) {
        Some(hops) => hops,
        None => {
            let ipc = c.tree_connect("IPC$").await?;
            let resp = get_referral(c.submitter(), ipc.share_ops().tree, &unc).await?;
            links.record(&unc, &resp)?
        }
    };
    let mut first = None;
    for (i, hop) in hops.iter().enumerate() {
        match reach(c, hop, &unc).await {
            Ok(next) => {
                if i > 0 {
                    links.prefer(&unc, hop);
                }
                return Ok((next, hop.path.clone()));
            }
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    let e = first.unwrap_or_else(|| io::Error::other(format!("DFS {unc}: no target")));
    Err(match hops.len() {
        1 => e,
        n => with_note(e, &format!("none of its {n} targets could be reached")),
    })
}

/// The target share of `hop`: on this client's server, one connected before, or a new
/// session.
async fn reach<C: DfsClient>(c: &C, hop: &DfsHop, unc: &str) -> io::Result<C::Share> {
    let target = match c.dfs_links().server(hop, unc)? {
        DfsServer::Same => c.clone(),
        DfsServer::Connected(other) => other,
        DfsServer::Connect(t) => {
            let addr = t.addr.clone();
            let other = C::connect_target(t)
                .await
                .map_err(|e| with_dfs_path(e, unc))?;
            c.dfs_links().remember(&addr, other.clone());
            other
        }
    };
    target
        .tree_connect(&hop.share)
        .await
        .map_err(|e| with_dfs_path(e, unc))
}

/// `e` with `note` after its message (the engine's error kept inside when there is one).
fn with_note(e: io::Error, note: &str) -> io::Error {
    match op_error(&e) {
        Some(op) => {
            let context = match &op.context {
                Some(c) => format!("{c} ({note})"),
                None => String::from(note),
            };
            to_io_error(op.clone().with_context(context))
        }
        None => io::Error::new(e.kind(), format!("{e} ({note})")),
    }
}

/// Run `op` on `path` of `share`, following DFS referrals to the share that holds it
/// ([`with_referrals`] with [`follow`]); `op` gets the share and the path on it. A path
/// under a link already in the referral cache goes straight to the link's target, without
/// a STATUS_PATH_NOT_COVERED round trip first ([MS-DFSC] 3.1.4.1: the cache is looked up
/// before the I/O is sent).
pub async fn with_dfs<Sh, T, Op, Fut>(share: &Sh, path: &str, op: Op) -> io::Result<T>
where
    Sh: DfsShare,
    Op: FnMut(Sh, String) -> Fut,
    Fut: Future<Output = Result<T, OpError>>,
{
    let links = share.share_client().dfs_links();
    let enabled = links.enabled();
    let unc = || dfs_path(links.server_name(), share.share_name(), path);
    let (start, at) = match enabled && share.share_ops().dfs && links.cached(&unc()).is_some() {
        true => follow(share.clone(), path.into()).await?,
        false => (share.clone(), String::from(path)),
    };
    with_referrals(start, &at, enabled, op, follow).await
}

/// The share and path where `path` of `share` is, whether it exists or not: on a DFS share
/// (SMB2_SHARE_CAP_DFS, [MS-SMB2] 2.2.10), a query of `path` answered
/// STATUS_PATH_NOT_COVERED leads to the referral's target; elsewhere, and for a path on no
/// link, the share itself.
pub async fn resolve<Sh: DfsShare>(share: &Sh, path: &str) -> io::Result<(Sh, String)> {
    if !share.share_ops().dfs {
        return Ok((share.clone(), path.into()));
    }
    with_dfs(share, path, |s, p| async move {
        match s.share_ops().exists(&p).await {
            Err(e) if e.status == Some(NtStatus::PATH_NOT_COVERED) => Err(e),
            _ => Ok((s, p)),
        }
    })
    .await
}

/// Both paths resolved ([`resolve`]): the share and path of `from`, then of `to`.
pub async fn resolve_both<Sh: DfsShare>(
    share: &Sh,
    from: &str,
    to: &str,
) -> io::Result<((Sh, String), (Sh, String))> {
    Ok((resolve(share, from).await?, resolve(share, to).await?))
}

/// Whether `a` and `b` are the same share of the same server (one session).
pub fn same_share<Sh: DfsShare>(a: &Sh, b: &Sh) -> bool {
    let (ca, cb) = (a.share_client().dfs_links(), b.share_client().dfs_links());
    ca.same(cb) && a.share_name().eq_ignore_ascii_case(b.share_name())
}

/// Both paths of `call` (`"rename"`) resolved ([`resolve`]): the one share they are on and
/// the path of each there. Paths on different target shares (another share or another
/// server: one SMB2 operation cannot span them, [MS-SMB2] 2.2.39) are an
/// [`ErrorKind::DfsTargetsDiffer`] error naming both paths and where each is.
pub async fn resolve_pair<Sh: DfsShare>(
    share: &Sh,
    call: &str,
    from: &str,
    to: &str,
) -> io::Result<(Sh, String, String)> {
    let ((a, at_a), (b, at_b)) = resolve_both(share, from, to).await?;
    if same_share(&a, &b) {
        return Ok((a, at_a, at_b));
    }
    let (ca, cb) = (a.share_client().dfs_links(), b.share_client().dfs_links());
    let why = format!(
        "{call} {from} -> {to}: {from} is on \\\\{}\\{}, {to} on \\\\{}\\{}",
        ca.server_name(),
        a.share_name(),
        cb.server_name(),
        b.share_name()
    );
    Err(to_io_error(
        OpError::new(ErrorKind::DfsTargetsDiffer).with_context(why),
    ))
}

/// A listing ([`DirStream`](super::DirStream), [`Walk`](super::Walk)) that a
/// [`DfsStream`] can open again on the share a referral leads to.
pub trait DfsListing<S: Submitter>: Send + 'static {
    /// What it yields.
    type Item;
    /// The next item, an error, or `None` at the end.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Self::Item>>>;
    /// The same listing (pattern, depth) of `path` on `ops`.
    fn reopen(&self, ops: &ShareOps<S>, path: &str) -> Self;
    /// `item`, found under `at` on the target share, as seen under `path` (the caller's
    /// path through the link).
    fn rebase(_item: &mut Self::Item, _at: &str, _path: &str) {}
}

enum Stream<Sh, L> {
    Listing(Sh, L),
    /// The referral being followed, with the listing that crossed the link (its open
    /// failed; kept for its pattern and depth).
    Following(BoxFuture<'static, io::Result<(Sh, String)>>, L),
    Done,
}

/// A listing that follows DFS referrals: when the directory it opens crosses a link
/// (its first answer is STATUS_PATH_NOT_COVERED), it follows the referral ([`follow`]) and
/// lists the directory on the target share, at most [`MAX_DFS_HOPS`] times. Links met
/// further down (a [`Walk`](super::Walk)'s subdirectories) are reparse points: listed, not
/// entered.
pub struct DfsStream<Sh: DfsShare, L> {
    state: Stream<Sh, L>,
    /// The caller's path, and where the listing is now.
    path: String,
    at: String,
    hops: usize,
    /// Something was yielded: a later error is the listing's own.
    yielded: bool,
}

impl<Sh, L> DfsStream<Sh, L>
where
    Sh: DfsShare,
    L: DfsListing<<Sh::Client as DfsClient>::Sub>,
{
    /// Follow referrals for `listing`, opened on `share` for `path`.
    pub fn new(share: &Sh, path: &str, listing: L) -> Self {
        DfsStream {
            state: Stream::Listing(share.clone(), listing),
            path: path.into(),
            at: path.into(),
            hops: 0,
            yielded: false,
        }
    }

    /// The listing changed by `f` (e.g. a depth bound), on whichever share it is.
    pub fn map(mut self, f: impl FnOnce(L) -> L) -> Self {
        if let Stream::Listing(s, l) = self.state {
            self.state = Stream::Listing(s, f(l));
        }
        self
    }

    /// The share listed now (`None` while following a referral or at the end).
    pub fn share(&self) -> Option<&Sh> {
        match &self.state {
            Stream::Listing(s, _) => Some(s),
            _ => None,
        }
    }

    /// The next item, an error, or `None` at the end.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<L::Item>>> {
        loop {
            match &mut self.state {
                Stream::Listing(s, l) => match l.poll_item(cx) {
                    Poll::Ready(Some(Err(e))) if !self.yielded && not_covered(&e) => {
                        let enabled = s.share_client().dfs_links().enabled();
                        let op = op_error(&e).cloned();
                        let (hops, at) = (self.hops, self.at.clone());
                        let Stream::Listing(s, l) =
                            core::mem::replace(&mut self.state, Stream::Done)
                        else {
                            unreachable!("matched above");
                        };
                        match op {
                            Some(op) if !enabled => {
                                return Poll::Ready(Some(Err(not_followed(op, &at))));
                            }
                            _ if hops == MAX_DFS_HOPS => {
                                let e = to_io_error(too_many_hops(&self.path));
                                return Poll::Ready(Some(Err(e)));
                            }
                            _ => self.state = Stream::Following(Box::pin(follow(s, at)), l),
                        }
                    }
                    Poll::Ready(Some(Ok(mut item))) => {
                        self.yielded = true;
                        if self.hops > 0 {
                            L::rebase(&mut item, &self.at, &self.path);
                        }
                        return Poll::Ready(Some(Ok(item)));
                    }
                    other => {
                        self.yielded |= matches!(other, Poll::Ready(Some(_)));
                        return other;
                    }
                },
                Stream::Following(f, _) => match f.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        self.state = Stream::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Ok((s, at))) => {
                        self.hops += 1;
                        let Stream::Following(_, old) =
                            core::mem::replace(&mut self.state, Stream::Done)
                        else {
                            unreachable!("matched above");
                        };
                        let l = old.reopen(s.share_ops(), &at);
                        self.at = at;
                        self.state = Stream::Listing(s, l);
                    }
                },
                Stream::Done => return Poll::Ready(None),
            }
        }
    }
}

impl<S: Submitter> DfsListing<S> for DirStream<S> {
    type Item = DirEntry;
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<DirEntry>>> {
        self.poll_next_entry(cx)
            .map(|o| o.map(|r| r.map_err(to_io_error)))
    }
    fn reopen(&self, ops: &ShareOps<S>, path: &str) -> Self {
        DirStream::open(ops.sub.clone(), ops.tree, path, self.pattern())
    }
}

impl<S: Submitter> DfsListing<S> for Walk<S> {
    type Item = WalkEntry;
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<WalkEntry>>> {
        self.poll_next(cx)
            .map(|o| o.map(|r| r.map_err(io::Error::from)))
    }
    fn reopen(&self, ops: &ShareOps<S>, path: &str) -> Self {
        Walk::new(ops.sub.clone(), ops.tree, path).with_max_depth(self.max_depth())
    }
    fn rebase(item: &mut WalkEntry, at: &str, path: &str) {
        item.path = rebase_path(&item.path, at, path);
    }
}

fn not_covered(e: &io::Error) -> bool {
    op_error(e).is_some_and(|o| o.status == Some(NtStatus::PATH_NOT_COVERED))
}

/// `p`, a path under `at`, as the same path under `path` (`/`-separated, no leading `/`).
pub(super) fn rebase_path(p: &str, at: &str, path: &str) -> String {
    let at = at.trim_matches(['/', '\\']);
    let path = path.trim_matches(['/', '\\']);
    let rest = p
        .strip_prefix(at)
        .unwrap_or(p)
        .trim_start_matches(['/', '\\']);
    match (path.is_empty(), rest.is_empty()) {
        (true, _) => rest.into(),
        (_, true) => path.into(),
        _ => format!("{path}/{rest}"),
    }
}

#[cfg(test)]
#[path = "dfs_follow_tests.rs"]
mod tests;
