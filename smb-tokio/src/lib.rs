//! SMB2/3 client for tokio, a thin adapter over the sans-IO `smb-core` engine.
//!
//! ```no_run
//! use smb_tokio::{Client, ClientConfig, Credentials, ErrorKind, OpenOptions, op_error};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! async fn demo() -> std::io::Result<()> {
//!     let creds = Credentials::password(None, "alice", "secret");
//!     let client = match Client::connect("127.0.0.1:445", creds, ClientConfig::default()).await {
//!         Ok(c) => c,
//!         // A wrong password and an access denied are both io PermissionDenied; the
//!         // engine's error tells them apart.
//!         Err(e) if op_error(&e).is_some_and(|o| o.kind == ErrorKind::LogonFailure) => {
//!             eprintln!("wrong user name or password");
//!             return Err(e);
//!         }
//!         Err(e) => return Err(e),
//!     };
//!     let share = client.share("public").await?;
//!     share.create_dir_all("reports/2024").await?;
//!     let mut f = share.open("reports/2024/q1.txt", OpenOptions::create_truncate()).await?;
//!     f.write_all(b"hello").await?;
//!     f.close().await?;
//!     // Like std::fs::OpenOptions: append, creating the file if needed.
//!     let log = OpenOptions::new().append(true).create(true);
//!     let mut f = share.open("reports/2024/q1.txt", log).await?;
//!     f.write_all(b", world").await?;
//!     f.close().await?;
//!     let mut s = String::new();
//!     let opts = OpenOptions::new().read(true);
//!     share.open("reports/2024/q1.txt", opts).await?.read_to_string(&mut s).await?;
//!     assert_eq!(s, "hello, world");
//!     let mut list = share.read_dir_matching("reports/2024", "*.txt");
//!     while let Some(entry) = list.next_entry().await? {
//!         let m = entry.metadata();
//!         println!("{} {} bytes, modified {:?}", entry.name, m.len(), m.modified()?);
//!     }
//!     let mut walk = share.walk("reports");
//!     while let Some(item) = walk.next_entry().await {
//!         match item {
//!             Ok(e) => println!("{} (depth {})", e.path, e.depth),
//!             Err(e) => eprintln!("skipped: {e}"), // an unreadable directory; the walk goes on
//!         }
//!     }
//!     client.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! | To | Call |
//! |---|---|
//! | connect and log in | [`Client::connect_url`] (`smb://user@host/share`, `\\host\share`: client and share at once), [`Client::connect`] (`host`, `host:port`, `smb://host[:port]`), [`Client::connect_with_events`] |
//! | use a share | [`Client::share`]; list them: [`Client::list_shares`] |
//! | open, create, append | [`Share::open`] with [`OpenOptions`] (`new().read(true)`, `.write`, `.append`, `.create`, `.create_new`, `.truncate`, `.share_mode`, `.durable`, `.lease`, `.attributes`), [`Share::create`] |
//! | read / write a file | the `File`'s `AsyncRead`/`AsyncWrite`/`AsyncSeek` (tokio), [`File::read_at`], [`File::write_at`], [`File::sync_all`], [`File::close`] |
//! | whole files | [`Share::read`], [`Share::write`], [`Share::copy`] (server-side) |
//! | list | [`Share::read_dir`], [`Share::read_dir_matching`] (wildcards on the server), [`Share::walk`] (recursive, [`Walk::max_depth`]); entries: [`DirEntry::file_type`], [`DirEntry::metadata`] |
//! | stat | [`Share::metadata`], [`Share::exists`], [`File::metadata`]: [`Metadata::len`], [`Metadata::is_dir`], [`Metadata::modified`], [`Metadata::permissions`] |
//! | change names and sizes | [`Share::create_dir`], [`Share::create_dir_all`], [`Share::remove_file`], [`Share::remove_dir`], [`Share::remove_dir_all`], [`Share::rename`], [`Share::set_len`] |
//! | times and attributes | [`Share::set_times`], [`Share::set_attributes`] ([`file_attributes`]), [`Share::set_permissions`] |
//! | alternate data streams | [`Share::streams`]; open `"file.txt:name"` like any path |
//! | byte-range locks | [`File::lock`], [`File::lock_shared`], [`File::try_lock`], [`File::try_lock_shared`], [`File::unlock`] (released on close) |
//! | volume | [`Share::fs_info`], [`Share::space`] |
//! | security descriptors | [`Share::security`] / [`Share::set_security`] ([`security_information`]: owner, group, DACL; [`Sid`] prints as `S-1-5-21-...`) |
//! | sparse files | [`Share::set_sparse`], [`Share::zero_range`], [`Share::allocated_ranges`] |
//! | previous versions | [`Share::snapshots`]; open one with [`OpenOptions::snapshot`] and [`gmt_token_time`] |
//! | symbolic links | [`Share::read_link`], [`Share::symlink_metadata`], [`Share::symlink`] (most servers refuse it) |
//! | watch for changes | [`Share::watch`] |
//! | named pipes | [`Client::open_pipe`] |
//! | DFS links | followed by every path operation of [`Share`] (open, create, whole-file read/write, list, walk, stat, mkdir, remove, rename, copy, set_len/times/attributes/permissions, streams, watch, security descriptors, sparse, snapshots, symbolic links); a referral's targets are tried in turn until one answers; a walk follows the link its root is under, links further down are listed, not entered; a [`Share::rename`] whose paths lead to different shares fails with [`ErrorKind::DfsTargetsDiffer`] naming both, a [`Share::copy`] between them is streamed through the client; off with `ClientConfig::with_follow_dfs(false)`, targets mapped by a [`DfsResolver`] |
//! | errors | `std::io::Error` of the right kind; [`op_error`] gives the [`OpError`] ([`ErrorKind`], NTSTATUS) |
//! | repeated stats and small reads | answered from the lease cache while the server lets the client cache the file (a read-and-handle lease): [`Share::metadata`], [`Share::exists`], [`Share::read`] ask once, then nothing until a lease break (another client writes), a change through this client, or the time to live (`ClientConfig::with_lease_cache(ttl, max_entries)`, default 1 s and 64 paths; `without_lease_cache()` turns it off); hits and misses in [`Client::stats`] (`lease_cache`) |
//! | counters, shut down | [`Client::stats`], [`Client::shutdown`] |
//!
//! One driver task owns the engine; per connection a reader task feeds it bytes and a writer
//! task drains frames (one vectored write per batch, `TCP_NODELAY` set). The handles
//! ([`Client`], [`Share`]) are cheap to clone and usable from many tasks at once; each call
//! sends a request to the driver and awaits its one-shot reply. Files implement
//! `AsyncRead + AsyncWrite + AsyncSeek` with bounded read-ahead and write-behind, and offer
//! positional [`File::read_at`] / [`File::write_at`]. Errors are `std::io::Error`s of the
//! right kind that keep the engine's error (and its NTSTATUS, see [`op_error`]).
//!
//! Signing and encryption: with the default `fast-crypto` feature every signer and cipher
//! comes from aws-lc-rs (`AwsLcProvider`, AES-GCM/GMAC/HMAC-SHA256, several times faster
//! than RustCrypto's); `ClientConfig::with_crypto_provider` picks another, e.g.
//! [`RustCryptoProvider`] (the only one without the feature).
//!
//! Debug builds: a program built with plain `cargo build` runs the crypto code unoptimised.
//! With [`RustCryptoProvider`] signed and encrypted reads then crawl (measured once on
//! loopback: 37 and 8 MB/s, against about 550 and 450 MB/s with optimised dependencies; the
//! default AWS-LC provider showed no clear difference). Optimise the dependencies
//! while keeping your own code in debug, in the application's `Cargo.toml`:
//! `[profile.dev.package."*"]` with `opt-level = 3`.

mod dfs;
use bytes::Bytes;
pub use smb_core::client::DfsResolver;
use smb_core::client::{ChannelId, CloseReason, Request, Response};
use smb_core::driver::EventSink;
use smb_core::driver::events::{EventQueue, event_channel};
use smb_core::driver::gate::{Gate, Gated, Handoff, Permit};
use smb_core::driver::{
    self, Action, ChannelReader, Command, Completion, Driver, FileIo, FileIoConfig, ShareOps,
    Submitter,
};
use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

pub use smb_core::client::{Cipher, ClientConfig, Dialect, DirEntry, Event, OpenOptions};
#[cfg(feature = "fast-crypto")]
pub use smb_core::crypto::AwsLcProvider;
pub use smb_core::crypto::{CryptoProvider, RustCryptoProvider};
pub use smb_core::driver::PipeMessage;
use smb_core::driver::PipeOps;
pub use smb_core::driver::{Credentials, Metadata, SessionInfo, StatsSnapshot, op_error};
pub use smb_core::driver::{
    DEFAULT_WATCH_FILTER, FileNotifyInformation, FsInfo, FsSpace, NotifyAction, WatchEvent,
};
pub use smb_core::wire::change_notify::CompletionFilter;
pub use smb_core::wire::srvsvc::{ShareInfo, ShareKind, ShareType};

// What a user needs without depending on smb-core: the error (`op_error(&io_err)` gives the
// [`OpError`], whose [`ErrorKind`] tells a wrong password, `LogonFailure`, from an access
// denied), attributes, times, URLs and the CREATE bit masks.
pub use smb_core::client::{
    ErrorKind, FileAttributes, OpError, access, create_options, disposition, file_attributes,
    share_access,
};
/// The engine's request and response, for [`Client::raw`] (the escape hatch below the file
/// API).
pub use smb_core::client::{Request as RawRequest, Response as RawResponse};
pub use smb_core::driver::UrlLogin;
pub use smb_core::driver::{FileType, Permissions, WalkEntry, WalkError};
pub use smb_core::time::FileTime;
pub use smb_core::url::{SmbUrl, UrlError};
pub use smb_core::wire::fscc::FileStreamEntry;

mod fsx;
pub use fsx::*;

type Reply = Result<Response, OpError>;

/// The driver's waiter: a one-shot sender.
/// The driver's waiter: a one-shot sender, and the operation's share of the backlog gate
/// (given back when the operation completes).
struct Waiter(oneshot::Sender<Reply>, Option<Permit>);

impl Completion for Waiter {
    fn complete(self, r: Reply) -> bool {
        let Waiter(tx, permit) = self;
        // The operation's share of the gate goes first, so that a waiting submitter is
        // admitted as soon as this result is out.
        drop(permit);
        tx.send(r).is_ok()
    }
}

/// Handles to driver: an unbounded type, bounded by the gate (see "What bounds the
/// adapters' channels" in `smb_core::driver::gate`).
type Tx = mpsc::UnboundedSender<Command<Waiter>>;

struct Inner {
    tx: Tx,
    gate: Arc<Gate>,
    /// `ClientConfig::event_capacity`, for [`Client::events`].
    event_capacity: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
    }
}

/// How handles reach the driver.
#[derive(Clone)]
struct Sub(Arc<Inner>);

/// The reply of one request.
struct ReplyFuture(oneshot::Receiver<Reply>);

impl Future for ReplyFuture {
    type Output = Reply;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(OpError::new(ErrorKind::ShutDown))))
    }
}

impl Handoff for Sub {
    type Reply = ReplyFuture;
    fn hand_over(&self, request: Request, permit: Permit) -> ReplyFuture {
        let (t, r) = oneshot::channel();
        // If the driver is gone the sender is dropped and the reply reports ShutDown.
        let _ = self.0.tx.send(Command::Submit {
            request,
            waiter: Waiter(t, Some(permit)),
        });
        ReplyFuture(r)
    }
}

impl Submitter for Sub {
    type Reply = Gated<Sub>;
    /// Over the backlog limits the reply holds the request until earlier operations
    /// complete (backpressure, see `smb_core::driver::gate`).
    fn submit(&self, request: Request) -> Gated<Sub> {
        Gated::submit(self, &self.0.gate, request)
    }
}

/// A connection to one server with one logged-in session. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    sub: Sub,
    info: SessionInfo,
    dfs: driver::DfsLinks<dfs::DfsClient>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("info", &self.info).finish()
    }
}

impl Client {
    /// Connect to `target` (`host`, `host:port` or an `smb://` URL) and log in. Must be
    /// called within a tokio runtime: the driver and socket tasks are spawned on it.
    pub async fn connect(
        target: &str,
        creds: Credentials,
        config: ClientConfig,
    ) -> io::Result<Client> {
        Self::start(driver::parse_target(target)?, creds, config, None, None).await
    }

    /// Connect to the server and share that `url` names and log in: `smb://[domain;]user@host[:port]/share`,
    /// or the UNC forms `\\host\share` and `//host/share` (see [`SmbUrl::parse_any`]). `login`
    /// is a password for the URL's user (`&str`/`String`) or full [`Credentials`] (a user in
    /// the URL must then be theirs). A URL without a share, a password without a user in the
    /// URL, or a malformed URL is an `InvalidInput` error holding the [`UrlError`]. The URL's
    /// path is not opened: `SmbUrl::parse_any(url)?.path` gives it.
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// use smb_tokio::{Client, ClientConfig};
    /// let (client, share) =
    ///     Client::connect_url("smb://alice@127.0.0.1/public", "secret", ClientConfig::default()).await?;
    /// let bytes = share.read("notes.txt").await?;
    /// # drop((client, bytes));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_url(
        url: &str,
        login: impl Into<UrlLogin>,
        config: ClientConfig,
    ) -> io::Result<(Client, Share)> {
        let t = driver::url_target(url, login.into())?;
        let client = Self::start(t.addr, t.credentials, config, None, None).await?;
        let share = client.share(&t.share).await?;
        Ok((client, share))
    }

    /// [`Client::connect`], with the client's [`Event`]s from the very first: the login's
    /// transitions included.
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// use smb_tokio::{Client, ClientConfig, Credentials};
    /// let (client, mut events) = Client::connect_with_events(
    ///     "smb://files/projects",
    ///     Credentials::password(None, "alice", "secret"),
    ///     ClientConfig::default(),
    /// )
    /// .await?;
    /// tokio::spawn(async move {
    ///     while let Some(e) = events.next().await {
    ///         eprintln!("{e}"); // "reconnected after 20 ms (1 attempt)"
    ///     }
    /// });
    /// # drop(client);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_with_events(
        target: &str,
        creds: Credentials,
        config: ClientConfig,
    ) -> io::Result<(Client, Events)> {
        let (events, sink) = Events::channel(config.event_capacity);
        Ok((
            Self::start(
                driver::parse_target(target)?,
                creds,
                config,
                Some(sink),
                None,
            )
            .await?,
            events,
        ))
    }

    async fn start(
        addr: smb_core::client::ServerAddr,
        creds: Credentials,
        config: ClientConfig,
        sink: Option<Box<dyn EventSink>>,
        links: Option<driver::DfsLinks<dfs::DfsClient>>,
    ) -> io::Result<Client> {
        let auth = driver::SharedAuth::new(creds.into_auth_factory()?);
        let epoch = std::time::Instant::now();
        let dfs = links.unwrap_or_else(|| {
            let clock = Arc::new(move || smb_core::time::Instant::from_elapsed(epoch.elapsed()));
            driver::DfsLinks::new(config.clone(), auth.clone(), addr.clone(), clock)
        });
        // The adapter reads the clocks; the engine only ever sees their values.
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let gate = Gate::for_config(&config);
        let event_capacity = config.event_capacity;
        let client = smb_core::client::Client::new(
            config,
            Box::new(auth),
            Box::new(rand_core::OsRng),
            smb_core::time::Instant::from_elapsed(epoch.elapsed()),
            smb_core::time::FileTime::from_unix_duration(wall),
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let span = tracing::info_span!("smb", server = %addr.0);
        tokio::spawn(run_driver(Driver::new(client), rx, tx.clone(), epoch).instrument(span));
        if let Some(sink) = sink {
            let _ = tx.send(Command::Subscribe(sink));
        }
        let (t, r) = oneshot::channel();
        let _ = tx.send(Command::Connect {
            addr,
            waiter: Waiter(t, None),
        });
        let sub = Sub(Arc::new(Inner {
            tx,
            gate,
            event_capacity,
        }));
        let info = SessionInfo::from_connected(ReplyFuture(r).await?)?;
        Ok(Client { sub, info, dfs })
    }

    /// What the session negotiated.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The engine's counters and every channel's state, bytes and credits now (multichannel
    /// shows one entry per connection), and the lease cache's hits and misses.
    pub async fn stats(&self) -> io::Result<StatsSnapshot> {
        let (t, r) = oneshot::channel();
        let queue = self.sub.0.gate.queued();
        let take = move |s: StatsSnapshot| drop(t.send(s.with_queue(queue)));
        let _ = self.sub.0.tx.send(Command::Stats(Box::new(take)));
        r.await
            .map_err(|_| io::Error::new(io::ErrorKind::NotConnected, "the client is shut down"))
    }

    /// The client's [`Event`]s from now on (state transitions with their timings, the
    /// recovery's progress, lost connections), as a [`Stream`](futures_core::Stream).
    ///
    /// ```no_run
    /// # async fn f(client: smb_tokio::Client) {
    /// let mut events = client.events();
    /// tokio::spawn(async move {
    ///     while let Some(e) = events.next().await {
    ///         eprintln!("{e}"); // "channel#1 InNegotiate -> NeedSessSetup after 4.0 ms"
    ///     }
    /// });
    /// # }
    /// ```
    pub fn events(&self) -> Events {
        let (events, sink) = Events::channel(self.sub.0.event_capacity);
        let _ = self.sub.0.tx.send(Command::Subscribe(sink));
        events
    }

    /// Connect to a share (`"public"`).
    pub async fn share(&self, name: &str) -> io::Result<Share> {
        let r = self
            .sub
            .submit(Request::TreeConnect { share: name.into() })
            .await?;
        match r {
            Response::TreeConnected {
                tree, capabilities, ..
            } => Ok(Share {
                inner: Arc::new(ShareInner {
                    ops: ShareOps::new(self.sub.clone(), tree).with_capabilities(capabilities),
                    name: name.into(),
                    client: dfs::DfsClient(self.clone()),
                }),
            }),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected response to tree connect",
            )),
        }
    }

    /// The server's shares (srvsvc NetrShareEnum level 1 on IPC$, [MS-SRVS] 3.1.4.8): name,
    /// type (with the special/temporary bits) and comment, hidden ones (`IPC$`) included.
    ///
    /// ```no_run
    /// # async fn f(client: smb_tokio::Client) -> std::io::Result<()> {
    /// for s in client.list_shares().await? {
    ///     println!("{:<12} {:<8} {}", s.name, s.share_type.kind.name(), s.comment);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_shares(&self) -> io::Result<Vec<ShareInfo>> {
        Ok(driver::list_shares(&self.sub).await?)
    }

    /// Open the named pipe `name` (e.g. `"srvsvc"`) on IPC$: a message channel to a server
    /// service, e.g. for DCE/RPC (see [`Pipe`]).
    pub async fn open_pipe(&self, name: &str) -> io::Result<Pipe> {
        let share = self.share("IPC$").await?;
        let ops = PipeOps::open(self.sub.clone(), share.ops().tree, name).await?;
        Ok(Pipe { ops, _share: share })
    }

    /// Send any engine request (escape hatch).
    pub async fn raw(&self, request: Request) -> io::Result<Response> {
        Ok(self.sub.submit(request).await?)
    }

    /// Log off and close the connection (also done when the last handle is dropped).
    pub async fn shutdown(self) {
        let _ = self.sub.0.tx.send(Command::Shutdown);
    }
}

/// A client's [`Event`]s (see [`Client::events`]); ends when the client is shut down.
/// Bounded by `ClientConfig::event_capacity`: a subscriber that falls behind loses the
/// oldest events and reads [`Event::Lagged`] with their count instead (the client never
/// waits for a subscriber).
#[derive(Debug)]
pub struct Events(EventQueue);

impl Events {
    fn channel(capacity: usize) -> (Events, Box<dyn EventSink>) {
        let (queue, sink) = event_channel(capacity);
        (Events(queue), sink)
    }

    /// The next event; `None` once the client is gone.
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| self.0.poll_next(cx)).await
    }

    /// The next event if one is waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        self.0.try_next()
    }
}

impl futures_core::Stream for Events {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.0.poll_next(cx)
    }
}

struct ShareInner {
    ops: ShareOps<Sub>,
    name: String,
    /// The client it belongs to (for DFS referrals: the session that reaches the targets).
    client: dfs::DfsClient,
}

impl Drop for ShareInner {
    fn drop(&mut self) {
        drop(self.ops.sub.submit(Request::TreeDisconnect {
            tree: self.ops.tree,
        }));
    }
}

/// A connected share. Cheap to clone; disconnected when the last clone is dropped.
#[derive(Clone)]
pub struct Share {
    inner: Arc<ShareInner>,
}

impl Share {
    fn ops(&self) -> &ShareOps<Sub> {
        &self.inner.ops
    }

    /// The share name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Open a file (see [`OpenOptions`]).
    pub async fn open(&self, path: &str, options: OpenOptions) -> io::Result<File> {
        let (dfs::DfsShare(share), handle, attrs) = self.dfs().open(path, &options).await?;
        let cfg = FileIoConfig::default();
        let io =
            FileIo::opened(share.ops().sub.clone(), handle, cfg, &attrs, &options).with_path(path);
        Ok(File {
            io,
            seek: None,
            _share: share,
        })
    }

    /// Create or truncate a file for writing (and reading).
    pub async fn create(&self, path: &str) -> io::Result<File> {
        self.open(path, OpenOptions::create_truncate()).await
    }

    /// List a directory, page by page.
    pub fn read_dir(&self, path: &str) -> ReadDir {
        self.read_dir_matching(path, "*")
    }

    /// Size, times and attributes (one round trip).
    pub async fn metadata(&self, path: &str) -> io::Result<Metadata> {
        self.dfs().metadata(path).await
    }
    /// Whether `path` exists.
    pub async fn exists(&self, path: &str) -> io::Result<bool> {
        self.dfs().exists(path).await
    }
    /// Create a directory.
    pub async fn create_dir(&self, path: &str) -> io::Result<()> {
        self.dfs().create_dir(path).await
    }
    /// Create a directory and its parents.
    pub async fn create_dir_all(&self, path: &str) -> io::Result<()> {
        self.dfs().create_dir_all(path).await
    }
    /// Delete a file.
    pub async fn remove_file(&self, path: &str) -> io::Result<()> {
        self.dfs().remove_file(path).await
    }
    /// Delete an empty directory.
    pub async fn remove_dir(&self, path: &str) -> io::Result<()> {
        self.dfs().remove_dir(path).await
    }
    /// Delete a directory and its content.
    pub async fn remove_dir_all(&self, path: &str) -> io::Result<()> {
        self.dfs().remove_dir_all(path).await
    }
    /// Rename or move within the share, replacing an existing file `to`.
    pub async fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.dfs().rename(from, to).await
    }
    /// Truncate or extend a file.
    pub async fn set_len(&self, path: &str, len: u64) -> io::Result<()> {
        self.dfs().set_len(path, len).await
    }
    /// Set access and/or modification time (`None` leaves it).
    pub async fn set_times(
        &self,
        path: &str,
        accessed: Option<SystemTime>,
        modified: Option<SystemTime>,
    ) -> io::Result<()> {
        let c = |t: Option<SystemTime>| {
            t.map(|t| {
                let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
                smb_core::time::FileTime::from_unix_duration(since)
            })
        };
        self.dfs()
            .set_times(path, c(accessed), c(modified), None)
            .await
    }
    /// Read a whole file.
    pub async fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        self.dfs().read(path).await
    }
    /// Create or truncate a file with `data`.
    pub async fn write(&self, path: &str, data: impl Into<Bytes>) -> io::Result<()> {
        self.dfs().write(path, data.into()).await
    }
    /// Copy a file (server-side when supported); returns the bytes copied.
    pub async fn copy(&self, from: &str, to: &str) -> io::Result<u64> {
        self.dfs().copy(from, to).await
    }
    /// Size, free and available bytes of the share's volume (one round trip).
    pub async fn space(&self) -> io::Result<FsSpace> {
        Ok(self.ops().space().await?)
    }
    /// The share's volume and file system: label, serial, creation time, file-system name
    /// and attributes, with the space (one round trip).
    ///
    /// ```no_run
    /// # use smb_tokio::{Client, ClientConfig, Credentials};
    /// # async fn demo() -> std::io::Result<()> {
    /// # let creds = Credentials::guest();
    /// # let client = Client::connect("127.0.0.1:445", creds, ClientConfig::default()).await?;
    /// let share = client.share("public").await?;
    /// let fs = share.fs_info().await?;
    /// println!("{} of {} bytes free on {} ({})", fs.space.available, fs.space.total, fs.label, fs.fs_name);
    /// # Ok(()) }
    /// ```
    pub async fn fs_info(&self) -> io::Result<FsInfo> {
        Ok(self.ops().fs_info().await?)
    }
    /// Watch directory `path` (`""`: the share root) for the changes `filter` names
    /// ([`CompletionFilter`] bits, e.g. [`DEFAULT_WATCH_FILTER`]), in its whole subtree if
    /// `recursive`. Returns once the directory is open and the first CHANGE_NOTIFY sent, so
    /// later changes are seen. The watch waits as long as it takes; dropping it cancels it
    /// and closes the directory. [`WatchEvent::Overflow`] means the server lost count: list
    /// the directory again. A watch does not survive a reconnect: it ends with an error
    /// (the directory handle is not durable); watch again and list.
    ///
    /// ```no_run
    /// # use smb_tokio::{Client, ClientConfig, Credentials, DEFAULT_WATCH_FILTER, WatchEvent};
    /// # async fn demo() -> std::io::Result<()> {
    /// # let creds = Credentials::guest();
    /// # let client = Client::connect("127.0.0.1:445", creds, ClientConfig::default()).await?;
    /// let share = client.share("public").await?;
    /// let mut watch = share.watch("inbox", true, DEFAULT_WATCH_FILTER).await?;
    /// while let Some(event) = watch.next_event().await? {
    ///     match event {
    ///         WatchEvent::Changed(c) => println!("{:?} {}", c.action, c.file_name),
    ///         WatchEvent::Overflow => println!("too many changes: list inbox again"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch(&self, path: &str, recursive: bool, filter: u32) -> io::Result<Watch> {
        let (dfs::DfsShare(share), inner) = self.dfs().watch(path, recursive, filter).await?;
        Ok(Watch {
            inner,
            _share: share,
        })
    }
}

/// An open named pipe on IPC$ (see [`Client::open_pipe`]): one message per write, replies
/// read whole. Closed when dropped (in the background) or by [`Pipe::close`].
///
/// ```no_run
/// # async fn f(client: smb_tokio::Client) -> std::io::Result<()> {
/// let pipe = client.open_pipe("srvsvc").await?;
/// let bind: Vec<u8> = Vec::new(); // a DCE/RPC BIND PDU, see smb_core::wire::rpc
/// let reply = pipe.transact(&bind).await?;
/// println!("{} bytes", reply.len());
/// # Ok(()) }
/// ```
pub struct Pipe {
    ops: PipeOps<Sub>,
    _share: Share,
}

impl Pipe {
    /// Write `request` and return the whole reply message (FSCTL_PIPE_TRANSCEIVE, then READs
    /// while the server has more; at most [`driver::MAX_PIPE_REPLY`] bytes).
    pub async fn transact(&self, request: &[u8]) -> io::Result<Vec<u8>> {
        let input = Bytes::copy_from_slice(request);
        Ok(self.ops.transact(input, driver::MAX_PIPE_REPLY).await?)
    }
    /// Write one message.
    pub async fn write(&self, data: &[u8]) -> io::Result<()> {
        Ok(self.ops.write(Bytes::copy_from_slice(data)).await?)
    }
    /// Read up to `max` bytes of the next message (`more`: it goes on, read again).
    pub async fn read(&self, max: u32) -> io::Result<PipeMessage> {
        Ok(self.ops.read(max).await?)
    }
    /// Close the pipe, reporting errors.
    pub async fn close(self) -> io::Result<()> {
        Ok(self.ops.close().await?)
    }
}

/// A directory listing: a `Stream` of entries (`.` and `..` skipped), fetched page by page.
pub struct ReadDir {
    inner: driver::DfsDirStream<dfs::DfsShare>,
}

impl ReadDir {
    /// The next entry, `None` at the end.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.inner.poll_next(cx)).await.transpose()
    }
}

impl futures_core::Stream for ReadDir {
    type Item = io::Result<DirEntry>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next(cx)
    }
}

/// A directory watch ([`Share::watch`]): a `Stream` of changes; it ends after an error.
/// Dropping it cancels the CHANGE_NOTIFY and closes the directory.
pub struct Watch {
    inner: driver::Watch<Sub>,
    _share: Share,
}

impl Watch {
    /// The next change (waiting until there is one); `None` once an error was returned.
    pub async fn next_event(&mut self) -> io::Result<Option<WatchEvent>> {
        poll_fn(|cx| self.inner.poll_next_event(cx))
            .await
            .transpose()
            .map_err(io::Error::from)
    }
}

impl futures_core::Stream for Watch {
    type Item = io::Result<WatchEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner
            .poll_next_event(cx)
            .map(|o| o.map(|r| r.map_err(io::Error::from)))
    }
}

/// An open file: `AsyncRead + AsyncWrite + AsyncSeek`. Dropping it closes it in the
/// background (sending buffered bytes first); [`File::close`] reports errors.
pub struct File {
    io: FileIo<Sub>,
    seek: Option<driver::SeekFrom>,
    _share: Share,
}

impl File {
    /// Flush and close, reporting any error (including of earlier background writes).
    pub async fn close(mut self) -> io::Result<()> {
        Ok(poll_fn(|cx| self.io.poll_close(cx)).await?)
    }
    /// Read up to `buf.len()` bytes at `offset` without moving the cursor; callable from many
    /// tasks at once (through `&self`).
    pub async fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.io.read_at(offset, buf).await?)
    }
    /// Write all of `data` at `offset` without moving the cursor.
    pub async fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<usize> {
        Ok(self
            .io
            .write_at(offset, Bytes::copy_from_slice(data))
            .await?)
    }
    /// Size, times and attributes.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        Ok(self.io.metadata().await?)
    }
    /// Send buffered writes and ask the server to flush the file to disk.
    pub async fn sync_all(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_flush(cx)).await?;
        Ok(self.io.sync().await?)
    }
}

impl AsyncRead for File {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        match self.io.poll_read(cx, dst) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, buf).map_err(io::Error::from)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_flush(cx).map_err(io::Error::from)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_close(cx).map_err(io::Error::from)
    }
}

impl AsyncSeek for File {
    fn start_seek(mut self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        self.seek = Some(match position {
            io::SeekFrom::Start(n) => driver::SeekFrom::Start(n),
            io::SeekFrom::End(n) => driver::SeekFrom::End(n),
            io::SeekFrom::Current(n) => driver::SeekFrom::Current(n),
        });
        Ok(())
    }
    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let Some(pos) = self.seek else {
            return Poll::Ready(Ok(self.io.position()));
        };
        let r = self.io.poll_seek(cx, pos);
        if r.is_ready() {
            self.seek = None;
        }
        r.map_err(io::Error::from)
    }
}

// ---- the driver task and the socket tasks ----

struct Chan {
    frames: mpsc::UnboundedSender<smb_core::client::Frame>,
    _close: oneshot::Sender<()>,
}

async fn run_driver(
    mut d: Driver<Waiter>,
    mut rx: mpsc::UnboundedReceiver<Command<Waiter>>,
    tx: Tx,
    epoch: std::time::Instant,
) {
    let now = || smb_core::time::Instant::from_elapsed(epoch.elapsed());
    let mut chans: HashMap<ChannelId, Chan> = HashMap::new();
    loop {
        while let Some(action) = d.poll_action(now()) {
            match action {
                Action::Transmit { channel, frame } => {
                    if let Some(c) = chans.get(&channel) {
                        let _ = c.frames.send(frame);
                    }
                }
                Action::Connect {
                    channel,
                    addr,
                    reader,
                    resolver,
                } => {
                    // Frames to the writer: bounded by max_in_flight (see "What bounds the
                    // adapters' channels" in smb_core::driver::gate).
                    let (ftx, frx) = mpsc::unbounded_channel();
                    let (ctx, crx) = oneshot::channel();
                    chans.insert(
                        channel,
                        Chan {
                            frames: ftx,
                            _close: ctx,
                        },
                    );
                    let target = driver::socket_target(&addr);
                    tokio::spawn(
                        connect_channel(reader, target, resolver, frx, crx, tx.clone())
                            .in_current_span(),
                    );
                }
                Action::Close { channel } => {
                    tracing::debug!(?channel, "closing channel");
                    chans.remove(&channel);
                }
                Action::Event(e) if e.is_notable() => tracing::info!("{e}"),
                Action::Event(e) => tracing::debug!("{e}"),
            }
        }
        if d.is_finished() {
            tracing::debug!("driver finished");
            return;
        }
        let msg = match d.deadline() {
            Some(t) => {
                let at = tokio::time::Instant::from_std(epoch + t.since_epoch());
                tokio::select! {
                    m = rx.recv() => Some(m),
                    _ = tokio::time::sleep_until(at) => None,
                }
            }
            None => Some(rx.recv().await),
        };
        match msg {
            Some(Some(cmd)) => d.handle(cmd, now()),
            Some(None) => d.handle(Command::Shutdown, now()),
            None => d.handle_timeout(now()),
        }
    }
}

async fn connect_channel(
    reader: ChannelReader,
    target: String,
    resolver: Option<Arc<dyn smb_core::client::Resolver>>,
    frames: mpsc::UnboundedReceiver<smb_core::client::Frame>,
    close: oneshot::Receiver<()>,
    tx: Tx,
) {
    let channel = reader.channel();
    // The lookup may block (the system's resolver, or the caller's): off the reactor.
    // An address (the common case) needs no lookup and no thread.
    let t = target.clone();
    let looked_up = match target.parse::<std::net::SocketAddr>() {
        Ok(a) => Ok(Ok(vec![a])),
        Err(_) => {
            tokio::task::spawn_blocking(move || driver::resolve_target(resolver.as_deref(), &t))
                .await
        }
    };
    let addrs = match looked_up {
        Ok(Ok(a)) => a,
        Ok(Err(reason)) => {
            let _ = tx.send(Command::Closed { channel, reason });
            return;
        }
        Err(e) => {
            let reason = CloseReason::ConnectFailed(e.to_string());
            let _ = tx.send(Command::Closed { channel, reason });
            return;
        }
    };
    let stream = match TcpStream::connect(&addrs[..]).await {
        Ok(s) => s,
        Err(e) => {
            let reason = CloseReason::ConnectFailed(e.to_string());
            let _ = tx.send(Command::Closed { channel, reason });
            return;
        }
    };
    if let Err(e) = stream.set_nodelay(true) {
        tracing::warn!(error = %e, "TCP_NODELAY");
    }
    tracing::debug!(?channel, %target, "connected");
    let (rd, wr) = stream.into_split();
    let _ = tx.send(Command::Connected { channel });
    tokio::spawn(write_frames(channel, wr, frames, tx.clone()).in_current_span());
    read_frames(reader, rd, close, tx).await;
}

async fn read_frames(
    mut reader: ChannelReader,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    mut close: oneshot::Receiver<()>,
    tx: Tx,
) {
    let channel = reader.channel();
    loop {
        // Backpressure: no more reading while the driver has a full budget to handle.
        tokio::select! {
            _ = reader.ready() => {}
            _ = &mut close => return,
        }
        // read_buf appends into the buffer's spare capacity: no zeroing of the room first.
        let r = tokio::select! {
            r = rd.read_buf(reader.unfilled_buf()) => r,
            _ = &mut close => return,
        };
        let reason = match r {
            Ok(0) => CloseReason::Eof,
            Ok(_) => {
                if !reader.commit_appended(|c| tx.send(c).is_ok()) {
                    return;
                }
                continue;
            }
            Err(e) => CloseReason::Io(e.to_string()),
        };
        let _ = tx.send(Command::Closed { channel, reason });
        return;
    }
}

async fn write_frames(
    channel: ChannelId,
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut frames: mpsc::UnboundedReceiver<smb_core::client::Frame>,
    tx: Tx,
) {
    let mut chunks: VecDeque<Bytes> = VecDeque::new();
    while let Some(frame) = frames.recv().await {
        chunks.extend(frame.into_chunks());
        // Batch frames already queued into the same vectored write.
        while chunks.len() < 64 {
            match frames.try_recv() {
                Ok(f) => chunks.extend(f.into_chunks()),
                Err(_) => break,
            }
        }
        while !chunks.is_empty() {
            let slices: Vec<io::IoSlice<'_>> = chunks.iter().map(|c| io::IoSlice::new(c)).collect();
            match wr.write_vectored(&slices).await {
                Ok(0) => {
                    let reason = CloseReason::Io("write returned 0".into());
                    let _ = tx.send(Command::Closed { channel, reason });
                    return;
                }
                Ok(n) => driver::consume_chunks(&mut chunks, n),
                Err(e) => {
                    let _ = tx.send(Command::Closed {
                        channel,
                        reason: CloseReason::Io(e.to_string()),
                    });
                    return;
                }
            }
        }
    }
    let _ = wr.shutdown().await;
}

// ---- std-like file API (issue 19): attributes, permissions, wildcard listings, byte-range
// locks, Debug. Thin wrappers over smb-core's driver (ShareOps, DirStream, FileIo). ----

impl Share {
    /// List the entries of directory `path` whose names match `pattern`, filtered by the
    /// server (QUERY_DIRECTORY's search pattern, [MS-SMB2] 2.2.33: `*` any run, `?` one
    /// character, case-insensitive on most servers), e.g. `"*.txt"`.
    pub fn read_dir_matching(&self, path: &str, pattern: &str) -> ReadDir {
        ReadDir {
            inner: self.dfs().read_dir(path, pattern),
        }
    }
    /// Replace the attributes of `path` with `attributes` ([`file_attributes`] bits:
    /// READONLY, HIDDEN, SYSTEM, ARCHIVE, ...; SET_INFO FileBasicInformation,
    /// [MS-FSCC] 2.4.7). `0` or [`file_attributes::NORMAL`] clears them all.
    pub async fn set_attributes(&self, path: &str, attributes: u32) -> io::Result<()> {
        self.dfs().set_attributes(path, attributes).await
    }
    /// Set or clear read-only, keeping the other attributes (like
    /// `std::fs::set_permissions`; two round trips).
    pub async fn set_permissions(&self, path: &str, perms: Permissions) -> io::Result<()> {
        self.dfs().set_permissions(path, perms).await
    }
}

impl File {
    /// Lock `len` bytes at `offset` exclusively, waiting while another open holds a
    /// conflicting lock (SMB2 LOCK, [MS-SMB2] 2.2.26; at most the client's request timeout).
    /// Locks are per handle, released by [`File::unlock`] or when the file is closed.
    pub async fn lock(&self, offset: u64, len: u64) -> io::Result<()> {
        Ok(self.io.lock(offset, len, true, true).await?)
    }
    /// [`File::lock`], shared: other opens may take shared locks on the range too.
    pub async fn lock_shared(&self, offset: u64, len: u64) -> io::Result<()> {
        Ok(self.io.lock(offset, len, false, true).await?)
    }
    /// Lock exclusively or fail at once: a conflict is io `WouldBlock`
    /// (STATUS_LOCK_NOT_GRANTED, SMB2_LOCKFLAG_FAIL_IMMEDIATELY).
    pub async fn try_lock(&self, offset: u64, len: u64) -> io::Result<()> {
        Ok(self.io.lock(offset, len, true, false).await?)
    }
    /// [`File::try_lock`], shared.
    pub async fn try_lock_shared(&self, offset: u64, len: u64) -> io::Result<()> {
        Ok(self.io.lock(offset, len, false, false).await?)
    }
    /// Release the range locked with exactly this `offset` and `len`.
    pub async fn unlock(&self, offset: u64, len: u64) -> io::Result<()> {
        Ok(self.io.unlock(offset, len).await?)
    }
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("name", &self.name())
            .field("tree", &self.ops().tree)
            .finish()
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("share", &self._share.name())
            .field("handle", &self.io.handle())
            .field("position", &self.io.position())
            .finish()
    }
}

impl std::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDir")
            .field("share", &self.inner.share().map(|s| s.0.name()))
            .finish_non_exhaustive()
    }
}

// ---- recursive listing (issue 19) ----

impl Share {
    /// Every entry under directory `path` (`""`: the share root), recursively: a `Stream` of
    /// [`WalkEntry`] (path, depth, entry). One directory is listed at a time; one that
    /// cannot be listed is an error item naming it ([`op_error`] gives its cause) and the
    /// walk goes on. Reparse points are not entered. Bound the depth with
    /// [`Walk::max_depth`].
    pub fn walk(&self, path: &str) -> Walk {
        Walk {
            inner: self.dfs().walk(path),
        }
    }
}

/// A recursive listing ([`Share::walk`]).
pub struct Walk {
    inner: driver::DfsWalk<dfs::DfsShare>,
}

impl Walk {
    /// Entries down to `depth` only (1: like `read_dir`).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.inner = self.inner.map(|w| w.with_max_depth(depth));
        self
    }
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk")
            .field("share", &self.inner.share().map(|s| s.0.name()))
            .finish_non_exhaustive()
    }
}

impl Walk {
    /// The next entry or error item, `None` at the end.
    pub async fn next_entry(&mut self) -> Option<io::Result<WalkEntry>> {
        poll_fn(|cx| self.inner.poll_next(cx)).await
    }
}

impl futures_core::Stream for Walk {
    type Item = io::Result<WalkEntry>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next(cx)
    }
}

// ---- alternate data streams (issue 19) ----

impl Share {
    /// The data streams of `path` (FileStreamInformation, [MS-FSCC] 2.4.49): `::$DATA` is
    /// the file's content, `:name:$DATA` an alternate stream, which [`Share::open`] and
    /// the whole-file calls reach as `"path:name"`.
    pub async fn streams(&self, path: &str) -> io::Result<Vec<FileStreamEntry>> {
        self.dfs().streams(path).await
    }
}
