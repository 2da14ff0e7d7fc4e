//! Runtime-free plumbing shared by the runtime adapters (`smb-tokio`, `smb-smol`,
//! `smb-blocking`).
//!
//! Everything here is written once and used by all three adapters, so that they only add
//! sockets, timers, channels and their runtime's idiomatic traits:
//!
//! - [`Driver`]: owns the [`Client`], keeps the table of operation id -> waiter and routes
//!   every [`Output`] (completions to their waiter, I/O as [`Action`]s for the adapter).
//!   Generic over the waiter type ([`Completion`]), e.g. a one-shot sender of any runtime.
//! - [`Submitter`]: what a public handle needs from its adapter: submit a [`Request`] and get
//!   a future of its result. All higher-level logic is written against it:
//! - [`ShareOps`] (module `ops`): metadata, mkdir (`-p`), remove (recursive), rename,
//!   set_len, set_times, whole-file read/write, copy (server-side when possible), each as
//!   one compound round trip where the protocol allows it.
//! - [`FileIo`] (module `file`): the poll-based cursor of an open file with bounded
//!   read-ahead and write-behind; the adapters wrap it in their `AsyncRead`/`Read` traits.
//! - [`DirStream`] (module `dir`): a directory listing fetched page by page.
//! - [`LeaseCache`] (module `lease_cache`): handles kept open under a read-and-handle lease
//!   so that repeated `metadata`/`exists`/`read` need no request; held by the [`Driver`].
//! - [`Watch`] (module `watch`): change notification on a directory, re-armed after each
//!   answer; [`FsInfo`] / [`FsSpace`] (module `fs`): a share's volume and space.
//! - [`PipeOps`], [`RpcPipe`], [`list_shares`] (module `pipe`): named pipes on IPC$,
//!   DCE/RPC over them, and the server's share list (srvsvc NetrShareEnum).
//! - [`Credentials`]: password, guest, anonymous or any [`Authenticator`].
//! - [`DfsPaths`] (feature `std`): every path operation following DFS links, over the
//!   adapter's [`DfsClient`] / [`DfsShare`] (modules `dfs`, `dfs_follow`, `dfs_links`).
//! - [`url_target`] (feature `std`): `connect_url`'s URL and login handling.
//! - `io_error` (feature `std`): [`OpError`] -> `std::io::Error` with the right `ErrorKind`.

mod cached;
pub mod dfs;
#[cfg(feature = "std")]
mod dfs_follow;
#[cfg(feature = "std")]
mod dfs_hooks;
#[cfg(feature = "std")]
mod dfs_links;
#[cfg(feature = "std")]
mod dfs_paths;
mod dir;
#[cfg(feature = "std")]
pub mod events;
mod file;
mod fs;
mod fsx;
#[cfg(feature = "std")]
pub mod gate;
#[cfg(feature = "std")]
mod io_error;
mod lease_cache;
mod meta;
mod ops;
mod pipe;
#[cfg(feature = "std")]
mod url_login;
mod walk;
mod watch;

#[cfg(feature = "std")]
pub use dfs_follow::{
    BoxFuture, DfsClient, DfsListing, DfsShare, DfsStream, follow, resolve, resolve_both,
    resolve_pair, same_share, with_dfs,
};
#[cfg(feature = "std")]
pub use dfs_links::{DfsClock, DfsConnect, DfsLinks, DfsServer, SharedAuth, with_referrals};
#[cfg(feature = "std")]
pub use dfs_paths::{DfsDirStream, DfsPaths, DfsWalk};
pub use dir::{DIR_PAGE_LEN, DirStream};
pub use file::{FileIo, FileIoConfig, SeekFrom};
pub use fs::{FsInfo, FsSpace};
#[cfg(feature = "std")]
pub use io_error::{
    consume_chunks, io_error_kind, op_error, parse_target, resolve_target, socket_target,
    to_io_error, with_dfs_path,
};
pub use lease_cache::{
    CacheStep, LeaseCache, LeaseCacheAnswer, LeaseCacheOp, LeaseCacheStats, MAX_CACHED_FILE,
};
pub use meta::{FileType, Permissions};
pub use ops::{Metadata, ShareOps};
pub use pipe::{MAX_PIPE_REPLY, PipeMessage, PipeOps, RpcPipe, list_shares};
#[cfg(feature = "std")]
pub use url_login::{UrlLogin, UrlTarget, url_target};
pub use walk::{Walk, WalkEntry, WalkError};
pub use watch::{
    DEFAULT_WATCH_FILTER, FileNotifyInformation, NotifyAction, WATCH_BUFFER_LEN, Watch, WatchEvent,
};

use crate::client::{
    AuthFactory, Authenticator, ChannelId, Cipher, Client, CloseReason, Dialect, ErrorKind, Event,
    FileHandle, Frame, OpError, OpId, Output, Request, Response, ServerAddr, SigningAlgorithm,
    SubmitError,
};
use crate::time::Instant;
use crate::wire::DecodeError;
use crate::wire::framing::{FrameReader, MAX_FRAME_LEN};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BytesMut;
use core::fmt;
use core::future::Future;

/// Where the result of one operation goes (e.g. a one-shot channel's sender). Called exactly
/// once per submitted operation, from the driver.
pub trait Completion {
    /// Deliver the result; false if nobody receives it any more (the caller dropped its
    /// future), so the driver can release what the operation created on the server.
    fn complete(self, result: Result<Response, OpError>) -> bool;
}

/// What a public handle (client, share, file) uses to reach the driver: send a request and
/// get a future of its result. Implemented by each adapter over its command channel.
///
/// If the driver has gone away the reply resolves to an [`ErrorKind::ShutDown`] error.
pub trait Submitter: Clone + Send + Sync + 'static {
    /// The future of one reply (usually a one-shot receiver).
    type Reply: Future<Output = Result<Response, OpError>> + Send + Unpin + 'static;
    /// Submit `request`. The request is handed to the driver at once (before the reply is
    /// polled), so several submits before awaiting run concurrently; dropping the reply
    /// leaves the operation running with its result discarded (used for background closes).
    fn submit(&self, request: Request) -> Self::Reply;
}

/// Messages from the public handles and the socket tasks to the driver.
pub enum Command<C> {
    /// Connect and log in (see [`Client::connect`]).
    Connect {
        /// Where.
        addr: ServerAddr,
        /// Who gets [`Response::Connected`].
        waiter: C,
    },
    /// Submit a request.
    Submit {
        /// The request.
        request: Request,
        /// Who gets the result.
        waiter: C,
    },
    /// The TCP connection of `channel` is up.
    Connected {
        /// The channel.
        channel: ChannelId,
    },
    /// A whole frame read from `channel`: the payload after the 4-byte direct-TCP prefix, in
    /// its own buffer (see [`ChannelReader`]).
    Frame {
        /// The channel.
        channel: ChannelId,
        /// The frame.
        frame: BytesMut,
        /// The frame's share of the reader's budget (see [`ChannelReader::ready`]), given
        /// back once the driver has handled it.
        #[cfg(feature = "std")]
        permit: Option<gate::Permit>,
    },
    /// The byte stream of `channel` could not be cut into frames; the channel is failed.
    FramingError {
        /// The channel.
        channel: ChannelId,
        /// What was wrong.
        error: DecodeError,
    },
    /// The transport of `channel` ended (or could not be established).
    Closed {
        /// The channel.
        channel: ChannelId,
        /// Why.
        reason: CloseReason,
    },
    /// Run `look` against the engine now (to read its counters and states from another
    /// thread or task).
    Inspect(Box<dyn FnOnce(&Client) + Send>),
    /// Hand `take` the [`StatsSnapshot`] of now: the engine's and the lease cache's
    /// counters (the adapter adds its gate's queue).
    Stats(Box<dyn FnOnce(StatsSnapshot) + Send>),
    /// Deliver every [`Event`] from now on to `sink` (as well as through
    /// [`Action::Event`]), until it reports that its receiver is gone.
    Subscribe(Box<dyn EventSink>),
    /// Log off and stop: every pending operation fails with [`ErrorKind::ShutDown`].
    Shutdown,
}

/// The engine's counters and each channel's state at one moment, as every adapter's
/// `Client::stats` returns them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// The client's counters.
    pub stats: crate::client::Stats,
    /// Every channel now (state, bytes, credits, requests in flight).
    pub channels: Vec<crate::client::ChannelStats>,
    /// Operations admitted by the adapter's gate (module `gate`) and not completed yet;
    /// those still waiting for admission are not counted.
    pub queued_ops: usize,
    /// Request payload bytes those operations hold.
    pub queued_bytes: usize,
    /// The lease cache's counters (module `lease_cache`): hits are calls answered
    /// without a request.
    pub lease_cache: LeaseCacheStats,
}

impl StatsSnapshot {
    /// The snapshot of `client`.
    pub fn of(client: &Client) -> Self {
        StatsSnapshot {
            stats: client.stats(),
            channels: client.channel_stats(),
            queued_ops: 0,
            queued_bytes: 0,
            lease_cache: LeaseCacheStats::default(),
        }
    }

    /// With the queue depth `(ops, bytes)` of the adapter's gate (`Gate::queued`).
    pub fn with_queue(mut self, (ops, bytes): (usize, usize)) -> Self {
        self.queued_ops = ops;
        self.queued_bytes = bytes;
        self
    }

    /// Channels that are usable now (Good).
    pub fn good_channels(&self) -> usize {
        self.channels
            .iter()
            .filter(|c| c.state == crate::state::ChannelState::Good)
            .count()
    }
}

/// Where a subscriber's events go: each adapter wraps its runtime's channel in one and hands
/// it to the driver with [`Command::Subscribe`], so the fan-out is written once, here.
pub trait EventSink: Send {
    /// Hand over `event`; false when the subscriber is gone (the sink is then dropped).
    fn deliver(&mut self, event: &Event) -> bool;
}

impl<F: FnMut(&Event) -> bool + Send> EventSink for F {
    fn deliver(&mut self, event: &Event) -> bool {
        self(event)
    }
}

impl<C> fmt::Debug for Command<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Connect { addr, .. } => write!(f, "Connect({})", addr.0),
            Command::Submit { request, .. } => write!(f, "Submit({})", request_name(request)),
            Command::Connected { channel } => write!(f, "Connected({channel:?})"),
            Command::Frame { channel, frame, .. } => {
                write!(f, "Frame({channel:?}, {})", frame.len())
            }
            Command::FramingError { channel, error } => {
                write!(f, "FramingError({channel:?}, {error})")
            }
            Command::Closed { channel, reason } => write!(f, "Closed({channel:?}, {reason})"),
            Command::Subscribe(_) => f.write_str("Subscribe"),
            Command::Inspect(_) => f.write_str("Inspect"),
            Command::Stats(_) => f.write_str("Stats"),
            Command::Shutdown => f.write_str("Shutdown"),
        }
    }
}

/// A short name of a request, for logs.
pub fn request_name(r: &Request) -> &'static str {
    r.name()
}

/// What the session negotiated, as every adapter's `Client::info` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The dialect.
    pub dialect: Dialect,
    /// Requests are signed.
    pub signing: bool,
    /// Traffic is encrypted.
    pub encryption: bool,
    /// Guest session.
    pub guest: bool,
    /// Anonymous session.
    pub anonymous: bool,
    /// The signing algorithm in use (`None` when nothing is signed).
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// The cipher negotiated (`None` when none was).
    pub cipher: Option<Cipher>,
    /// The server's capabilities (SMB2_GLOBAL_CAP_*).
    pub capabilities: u32,
}

impl SessionInfo {
    /// From the reply to [`Client::connect`](crate::client::Client::connect).
    pub fn from_connected(reply: Response) -> Result<SessionInfo, OpError> {
        match reply {
            Response::Connected {
                dialect,
                signing,
                encryption,
                guest,
                anonymous,
                signing_algorithm,
                cipher,
                capabilities,
                ..
            } => Ok(SessionInfo {
                dialect,
                signing,
                encryption,
                guest,
                anonymous,
                signing_algorithm,
                cipher,
                capabilities,
            }),
            _ => Err(OpError::new(ErrorKind::Protocol(
                "unexpected response to connect",
            ))),
        }
    }
}

/// How much a reader asks the socket for at least, per read.
pub const READ_CHUNK: usize = 256 * 1024;

/// The read side of one channel, shared by every adapter's reader task/thread: the socket
/// reads straight into the buffer of a [`FrameReader`] ([`ChannelReader::space`]), whole
/// frames go to the driver in their own buffers ([`Command::Frame`]), so received bytes are
/// never copied between the kernel and the engine, and encrypted frames are decrypted in
/// place ([MS-SMB2] 2.1 direct-TCP framing).
///
/// ```
/// use smb_core::client::ChannelId;
/// use smb_core::driver::{ChannelReader, Command};
/// # struct W;
/// # impl smb_core::driver::Completion for W {
/// #     fn complete(self, _: Result<smb_core::client::Response, smb_core::client::OpError>) -> bool {
/// #         true
/// #     }
/// # }
/// let mut reader = ChannelReader::new(ChannelId(0));
/// let mut sent: Vec<Command<W>> = Vec::new();
/// // What a socket read would deliver: one 5-byte frame, prefixed by its length.
/// let stream = [0, 0, 0, 5, 0xFE, b'S', b'M', b'B', 0];
/// reader.space()[..stream.len()].copy_from_slice(&stream);
/// assert!(reader.commit(stream.len(), |c| { sent.push(c); true }));
/// assert!(matches!(&sent[..], [Command::Frame { frame, .. }] if frame.len() == 5));
/// ```
#[derive(Debug)]
pub struct ChannelReader {
    channel: ChannelId,
    frames: FrameReader,
    /// Bytes handed to the driver and not handled yet (`None`: unbounded).
    #[cfg(feature = "std")]
    budget: Option<alloc::sync::Arc<gate::Gate>>,
}

impl ChannelReader {
    /// The reader of `channel`, accepting frames up to the protocol's largest (16 MiB).
    pub fn new(channel: ChannelId) -> Self {
        Self::with_limit(channel, MAX_FRAME_LEN)
    }

    /// The reader of `channel`, refusing a frame longer than `max_len` bytes as soon as its
    /// length prefix arrives (never buffering it).
    pub fn with_limit(channel: ChannelId, max_len: usize) -> Self {
        ChannelReader {
            channel,
            frames: FrameReader::new(max_len),
            #[cfg(feature = "std")]
            budget: None,
        }
    }

    /// Bound the bytes handed to the driver and not handled yet to `max_bytes`: past it
    /// [`ChannelReader::ready`] waits, so the adapter stops reading the socket (TCP flow
    /// control then slows the server) instead of queueing frames without bound.
    #[cfg(feature = "std")]
    pub fn with_budget(mut self, max_bytes: usize) -> Self {
        self.budget = Some(gate::Gate::new(usize::MAX, max_bytes));
        self
    }

    /// Ready when the socket may be read again: the frames handed to the driver and not yet
    /// handled hold less than the budget. Await it before every read (blocking adapters
    /// block on it).
    #[cfg(feature = "std")]
    pub fn ready(&self) -> impl Future<Output = ()> + Send + 'static {
        let budget = self.budget.clone();
        core::future::poll_fn(move |cx| match &budget {
            Some(g) => g.poll_room(cx),
            None => core::task::Poll::Ready(()),
        })
    }

    /// Bytes handed to the driver and not handled yet.
    #[cfg(feature = "std")]
    pub fn unconsumed(&self) -> usize {
        self.budget.as_ref().map_or(0, |g| g.queued().1)
    }

    /// The channel this reader belongs to.
    pub fn channel(&self) -> ChannelId {
        self.channel
    }

    /// Where the next socket read should write (at least [`READ_CHUNK`] bytes, more when a
    /// large frame is being received).
    pub fn space(&mut self) -> &mut [u8] {
        self.frames.read_space(READ_CHUNK)
    }

    /// `n` bytes were read into [`ChannelReader::space`]: hands every whole frame (or a
    /// framing error) to `send`. Returns false when reading must stop: the stream is corrupt,
    /// or `send` returned false (the driver is gone).
    pub fn commit<C>(&mut self, n: usize, send: impl FnMut(Command<C>) -> bool) -> bool {
        self.frames.commit(n);
        self.hand_over(send)
    }

    /// Like [`ChannelReader::space`], for a socket that appends into uninitialised capacity
    /// (tokio's `AsyncReadExt::read_buf`): the buffer of received bytes, with room reserved
    /// for at least [`READ_CHUNK`] more and for the rest of a large frame, none of it zeroed.
    /// Call [`ChannelReader::commit_appended`] after the read.
    pub fn unfilled_buf(&mut self) -> &mut bytes::BytesMut {
        self.frames.unfilled_buf(READ_CHUNK)
    }

    /// Bytes were appended to [`ChannelReader::unfilled_buf`]: hands every whole frame to
    /// `send`, as [`ChannelReader::commit`] does.
    pub fn commit_appended<C>(&mut self, send: impl FnMut(Command<C>) -> bool) -> bool {
        self.frames.commit_appended();
        self.hand_over(send)
    }

    fn hand_over<C>(&mut self, mut send: impl FnMut(Command<C>) -> bool) -> bool {
        loop {
            let channel = self.channel;
            match self.frames.next_frame_mut() {
                Ok(Some(frame)) => {
                    #[cfg(feature = "std")]
                    let permit = self.budget.as_ref().map(|g| g.force(frame.len()));
                    let cmd = Command::Frame {
                        channel,
                        frame,
                        #[cfg(feature = "std")]
                        permit,
                    };
                    if !send(cmd) {
                        return false;
                    }
                }
                Ok(None) => return true,
                Err(error) => {
                    send(Command::FramingError { channel, error });
                    return false;
                }
            }
        }
    }
}

/// I/O the adapter must perform, produced by [`Driver::poll_action`]. Exhaustive on purpose:
/// every adapter handles every variant.
#[derive(Debug)]
pub enum Action {
    /// Write the frame to the channel's socket (all chunks, in order, one vectored write).
    Transmit {
        /// The channel.
        channel: ChannelId,
        /// The frame.
        frame: Frame,
    },
    /// Open a TCP connection (set `TCP_NODELAY`), then send [`Command::Connected`] or
    /// [`Command::Closed`] with [`CloseReason::ConnectFailed`].
    Connect {
        /// The channel.
        channel: ChannelId,
        /// Where.
        addr: ServerAddr,
        /// The channel's read side, sized by the configuration's largest frame: the
        /// adapter's reader feeds it what the socket delivers.
        reader: ChannelReader,
        /// The configuration's resolver (`None`: the system's), for [`resolve_target`].
        resolver: Option<alloc::sync::Arc<dyn crate::client::Resolver>>,
    },
    /// Close the channel's socket.
    Close {
        /// The channel.
        channel: ChannelId,
    },
    /// Something happened (for logs/tracing); nothing to do.
    Event(Event),
}

/// Owns the [`Client`] and the waiters of its operations. See the [module docs](self).
///
/// The adapter's loop: wait for a [`Command`] or the [`Driver::deadline`]; pass it to
/// [`Driver::handle`] (or call [`Driver::handle_timeout`]); then perform every
/// [`Driver::poll_action`] until it returns `None`. Stop when [`Driver::is_finished`].
pub struct Driver<C> {
    client: Client,
    waiters: BTreeMap<OpId, C>,
    /// Requests refused with `Busy` (over `ClientConfig::max_engine_ops`), retried in order
    /// as operations complete. Not bounded here: what reaches the driver is bounded by the
    /// adapters' gate (`max_queued_ops` admitted operations) plus the gate-exempt requests
    /// (one CLOSE per open handle, one TREE_DISCONNECT per tree, LOGOFF, break acks), and
    /// `max_engine_ops` (default twice `max_queued_ops`) leaves room for those, so with the
    /// defaults this stays empty.
    backlog: VecDeque<(Request, C)>,
    deadline: Option<Instant>,
    shut_down: bool,
    sinks: Vec<Box<dyn EventSink>>,
    cache: LeaseCache,
    /// CLOSEs of cached handles whose waiter asked the cache (and gets
    /// [`LeaseCacheAnswer::Done`], whatever the CLOSE answered).
    cache_waits: alloc::collections::BTreeSet<OpId>,
}

impl<C: Completion> Driver<C> {
    /// Wrap a client.
    pub fn new(client: Client) -> Self {
        let config = client.config();
        let cache = if config.request_leases {
            LeaseCache::new(config.lease_cache_ttl, config.lease_cache_entries)
        } else {
            LeaseCache::new(crate::time::Duration::ZERO, 0)
        };
        Driver {
            cache,
            cache_waits: Default::default(),
            client,
            waiters: BTreeMap::new(),
            backlog: VecDeque::new(),
            deadline: None,
            shut_down: false,
            sinks: Vec::new(),
        }
    }

    /// The client (for stats and states).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// When to call [`Driver::handle_timeout`] (as of the last drained output): the
    /// engine's deadline or the lease cache's next expiry, whichever comes first.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.deadline, self.cache.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The lease cache's counters now.
    pub fn lease_cache_stats(&self) -> LeaseCacheStats {
        self.cache.stats()
    }

    /// Operations waiting for a result (including the backlog).
    pub fn pending(&self) -> usize {
        self.waiters.len() + self.backlog.len()
    }

    /// True once shut down and nothing is pending: the adapter's loop may end.
    pub fn is_finished(&self) -> bool {
        self.shut_down && self.pending() == 0
    }

    /// Feed one command.
    pub fn handle(&mut self, cmd: Command<C>, now: Instant) {
        match cmd {
            Command::Connect { addr, waiter } => {
                if self.shut_down {
                    waiter.complete(Err(OpError::new(ErrorKind::ShutDown)));
                    return;
                }
                let op = self.client.connect(addr, now);
                self.waiters.insert(op, waiter);
            }
            Command::Submit {
                request: Request::LeaseCache(op),
                waiter,
            } => self.cache_op(op, waiter, now),
            Command::Submit { request, waiter } => {
                if let Request::TreeDisconnect { tree } = request {
                    let close = self.cache.drop_tree(tree);
                    self.close_cached(close, None, now);
                }
                if !self.backlog.is_empty() {
                    self.backlog.push_back((request, waiter));
                } else {
                    self.submit(request, waiter, now);
                }
            }
            Command::Connected { channel } => self.client.handle_connected(channel, now),
            Command::Frame { channel, frame, .. } => {
                // The permit (if any) is dropped after the frame was handled.
                self.client.handle_frame(channel, frame, now)
            }
            Command::FramingError { channel, error } => {
                self.client.handle_framing_error(channel, error, now)
            }
            Command::Closed { channel, reason } => self.client.handle_closed(channel, reason, now),
            Command::Subscribe(sink) => self.sinks.push(sink),
            Command::Inspect(look) => look(&self.client),
            Command::Stats(take) => {
                let mut snapshot = StatsSnapshot::of(&self.client);
                snapshot.lease_cache = self.cache.stats();
                take(snapshot)
            }
            Command::Shutdown => {
                // The cached handles go first (LOGOFF would close them on the server too).
                let close = self.cache.clear();
                self.close_cached(close, None, now);
                self.shut_down = true;
                for (_, w) in self.backlog.drain(..) {
                    w.complete(Err(OpError::new(ErrorKind::ShutDown)));
                }
                self.client.shutdown(now);
            }
        }
    }

    /// The deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let close = self.cache.expire(now);
        self.close_cached(close, None, now);
        self.client.handle_timeout(now);
    }

    /// Answer a lease cache request (module `lease_cache`).
    fn cache_op(&mut self, op: LeaseCacheOp, waiter: C, now: Instant) {
        let leasing = !self.shut_down
            && self
                .client
                .server_capabilities()
                .is_some_and(|c| c & crate::wire::negotiate::Capabilities::LEASING != 0);
        let client = &self.client;
        let step = self
            .cache
            .apply(op, leasing, |f| client.lease_state(f).unwrap_or(0), now);
        if let Some(file) = step.kept {
            // Its breaks are the cache's: close, not acknowledge (a conflicting open by
            // another client then goes ahead instead of meeting this handle).
            self.client.close_on_lease_break(file);
        }
        self.close_cached(step.close, None, now);
        if step.close_first.is_empty() {
            waiter.complete(Ok(Response::LeaseCache(step.answer)));
        } else {
            self.close_cached(step.close_first, Some(waiter), now);
        }
    }

    /// Close handles the cache gave up; `waiter` (if any) gets [`LeaseCacheAnswer::Done`]
    /// once they are closed (one compound when there are several, so that one answer
    /// covers them all).
    fn close_cached(&mut self, files: Vec<FileHandle>, waiter: Option<C>, now: Instant) {
        let mut closes: Vec<Request> = files
            .into_iter()
            .map(|file| Request::Close { file })
            .collect();
        let request = match closes.len() {
            0 => {
                if let Some(w) = waiter {
                    w.complete(Ok(Response::LeaseCache(LeaseCacheAnswer::Done)));
                }
                return;
            }
            1 => closes.remove(0),
            _ => Request::Compound(closes),
        };
        match (self.client.submit(request, now), waiter) {
            (Ok(op), Some(w)) => {
                self.cache_waits.insert(op);
                self.waiters.insert(op, w);
            }
            (Ok(_), None) => {}
            // A handle the engine no longer knows (session lost) is closed already.
            (Err(_), Some(w)) => {
                w.complete(Ok(Response::LeaseCache(LeaseCacheAnswer::Done)));
            }
            (Err(_), None) => {}
        }
    }

    fn submit(&mut self, request: Request, waiter: C, now: Instant) -> bool {
        match self.client.submit(request.clone(), now) {
            Ok(op) => {
                self.waiters.insert(op, waiter);
                true
            }
            Err(SubmitError::Busy) if !self.waiters.is_empty() => {
                self.backlog.push_back((request, waiter));
                false
            }
            Err(e) => {
                waiter.complete(Err(submit_error(e)));
                true
            }
        }
    }

    fn pump_backlog(&mut self, now: Instant) {
        while let Some((request, waiter)) = self.backlog.pop_front() {
            if !self.submit(request, waiter, now) {
                // Went back to the end of the queue: put it first again.
                if let Some(last) = self.backlog.pop_back() {
                    self.backlog.push_front(last);
                }
                break;
            }
        }
    }

    /// The next I/O to perform; completions are delivered to their waiters on the way.
    /// `None` once the client has nothing more to say (the deadline is then updated).
    /// `now` is used to resubmit requests that were refused as `Busy`.
    pub fn poll_action(&mut self, now: Instant) -> Option<Action> {
        loop {
            match self.client.poll_output() {
                Output::Completed { op, mut result } => {
                    if self.cache_waits.remove(&op) {
                        result = Ok(Response::LeaseCache(LeaseCacheAnswer::Done));
                    }
                    if let Some(w) = self.waiters.remove(&op) {
                        let created = match &result {
                            Ok(Response::Created { file, .. }) => Some(*file),
                            _ => None,
                        };
                        // An open nobody will use (e.g. a listing dropped while its CREATE
                        // was in flight): close it rather than leave it open on the server.
                        if !w.complete(result) {
                            if let Some(file) = created {
                                let _ = self.client.submit(Request::Close { file }, now);
                            }
                        }
                    }
                    if !self.backlog.is_empty() {
                        self.pump_backlog(now);
                    }
                }
                Output::Transmit { channel, frame } => {
                    return Some(Action::Transmit { channel, frame });
                }
                Output::Connect { channel, addr } => {
                    let config = self.client.config();
                    let reader = ChannelReader::with_limit(channel, config.max_frame_len);
                    #[cfg(feature = "std")]
                    let reader = reader.with_budget(config.max_unconsumed_bytes);
                    let resolver = config.resolver.clone();
                    return Some(Action::Connect {
                        channel,
                        addr,
                        reader,
                        resolver,
                    });
                }
                Output::Close { channel } => return Some(Action::Close { channel }),
                Output::Event(e) => {
                    self.cache_event(&e, now);
                    self.sinks.retain_mut(|s| s.deliver(&e));
                    return Some(Action::Event(e));
                }
                Output::Timeout(t) => {
                    self.deadline = t;
                    return None;
                }
            }
        }
    }
}

impl<C: Completion> Driver<C> {
    /// What the lease cache learns from an event: a break of a cached handle's lease ends
    /// its entry and closes it; closing the lease's last handle answers the break
    /// ([MS-SMB2] 3.2.5.19.2; the engine sent no acknowledgment, see
    /// [`Client::close_on_lease_break`]); a
    /// session that lost every connection loses the handles (they are not durable), so
    /// nothing cached can be trusted any more.
    fn cache_event(&mut self, e: &Event, now: Instant) {
        match e {
            Event::LeaseBreak(b) => {
                let broken: Vec<FileHandle> = b
                    .files
                    .iter()
                    .copied()
                    .filter(|f| self.cache.on_break(*f))
                    .collect();
                self.close_cached(broken, None, now);
            }
            Event::Recovery(crate::client::RecoveryEvent::Started { .. }) => {
                drop(self.cache.clear());
            }
            _ => {}
        }
    }
}

fn submit_error(e: SubmitError) -> OpError {
    let kind = match e {
        SubmitError::Busy => ErrorKind::Protocol("too many operations queued"),
        SubmitError::NotConnected => ErrorKind::ServerGone,
        SubmitError::ShutDown => ErrorKind::ShutDown,
        SubmitError::InvalidHandle => ErrorKind::InvalidHandle,
        SubmitError::InvalidRequest(why) => ErrorKind::Protocol(why),
    };
    OpError::new(kind)
}

/// Who to log in as.
pub enum Credentials {
    /// A user name and password (NTLMv2).
    Password {
        /// Domain (`None`: the server's own).
        domain: Option<String>,
        /// User name.
        user: String,
        /// Password (wiped on drop).
        password: zeroize::Zeroizing<String>,
    },
    /// An anonymous (NULL) session.
    Anonymous,
    /// The guest account.
    Guest,
    /// Any authenticator factory (e.g. Kerberos from another crate): it makes a fresh
    /// authenticator for every login, re-authentication and reconnect.
    Custom(Box<dyn AuthFactory>),
}

impl Credentials {
    /// User and password, with an optional domain.
    pub fn password(
        domain: Option<&str>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Credentials::Password {
            domain: domain.map(String::from),
            user: user.into(),
            password: zeroize::Zeroizing::new(password.into()),
        }
    }

    /// An anonymous session.
    pub fn anonymous() -> Self {
        Credentials::Anonymous
    }

    /// The guest account.
    pub fn guest() -> Self {
        Credentials::Guest
    }

    /// Any authenticator factory.
    pub fn custom(auth: Box<dyn AuthFactory>) -> Self {
        Credentials::Custom(auth)
    }

    /// One ready-made authenticator: good for a single login (a reconnect that needs a new
    /// session fails); prefer [`Credentials::custom`] with a factory.
    pub fn one_shot(auth: Box<dyn Authenticator>) -> Self {
        Credentials::Custom(Box::new(crate::auth::OneShot::new(auth)))
    }

    /// The authenticator factory for these credentials: NTLMv2 in SPNEGO ([`crate::auth`])
    /// for password, guest and anonymous; the given one for [`Credentials::Custom`].
    pub fn into_auth_factory(self) -> Result<Box<dyn AuthFactory>, OpError> {
        use crate::auth::{NtlmCredentials, NtlmFactory};
        Ok(match self {
            Credentials::Custom(a) => a,
            Credentials::Password {
                domain,
                user,
                password,
            } => Box::new(NtlmFactory::user(NtlmCredentials::password(
                domain.unwrap_or_default(),
                user,
                password.as_str(),
            ))),
            Credentials::Anonymous => Box::new(NtlmFactory::anonymous()),
            Credentials::Guest => Box::new(NtlmFactory::guest()),
        })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password { domain, user, .. } => f
                .debug_struct("Password")
                .field("domain", domain)
                .field("user", user)
                .field("password", &"[redacted]")
                .finish(),
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Guest => f.write_str("Guest"),
            Credentials::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod tests;
