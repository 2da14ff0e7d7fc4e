//! The thin seam between the CLI's command logic (written once, blocking, callable from
//! many threads) and the three runtime adapters. Each adapter module implements [`Remote`]
//! in a few lines: the async ones run each call to completion on their runtime
//! (`block_on`), so several worker threads keep many requests in flight on one session.

use crate::credentials::Login;
use crate::error::Phase;
use smb_core::client::ClientConfig;
use std::io::{self, Read, Write};

#[cfg(feature = "blocking")]
mod blocking;
#[cfg(feature = "smol")]
mod smol;
#[cfg(feature = "tokio")]
mod tokio;

/// Which adapter carries the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    /// `smb-tokio` on a multi-threaded tokio runtime.
    Tokio,
    /// `smb-smol` (futures-io, async-io).
    Smol,
    /// `smb-blocking` (std::net and threads).
    Blocking,
}

impl Runtime {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Tokio => "tokio",
            Runtime::Smol => "smol",
            Runtime::Blocking => "blocking",
        }
    }
}

/// Everything needed to connect and open the share.
#[derive(Clone, Debug)]
pub struct ConnectSpec {
    /// `ip:port` (`[v6]:port`): already resolved, the adapters look nothing up.
    pub addr: String,
    /// The share to open.
    pub share: String,
    /// Who logs in (the password is a [`crate::credentials::Secret`]).
    pub login: Login,
    /// Dialects, signing, encryption, timeouts; `server_name` is the host as typed.
    pub config: ClientConfig,
    /// Kerberos instead of `login`'s password (`-k`).
    pub kerberos: Option<smb_kerberos::KerberosFactory>,
}

/// What `stat`, `ls` and the transfers know about a file or directory. Times are
/// nanoseconds since the Unix epoch (0 if unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// Size in bytes (EndOfFile).
    pub size: u64,
    /// Bytes allocated on the server's disk.
    pub allocated: u64,
    /// A directory.
    pub is_dir: bool,
    /// FILE_ATTRIBUTE_* bits ([MS-FSCC] 2.6).
    pub attributes: u32,
    /// Creation time.
    pub created: u64,
    /// Last write time.
    pub modified: u64,
    /// Last access time.
    pub accessed: u64,
    /// Last change (metadata) time.
    pub changed: u64,
    /// The server's file id (0 if unknown).
    pub file_id: u64,
    /// Hard links (0 if unknown).
    pub links: u32,
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File name (no path).
    pub name: String,
    /// Its metadata.
    pub meta: Meta,
}

/// What the session negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// `3.1.1`...
    pub dialect: smb_core::client::Dialect,
    /// Requests are signed.
    pub signing: bool,
    /// The session encrypts everything.
    pub encryption: bool,
    /// Guest session.
    pub guest: bool,
    /// Anonymous session.
    pub anonymous: bool,
    /// The signing algorithm in use, when signing.
    pub signing_algorithm: Option<smb_core::client::SigningAlgorithm>,
    /// The cipher negotiated, if any.
    pub cipher: Option<smb_core::client::Cipher>,
    /// The server's SMB2_GLOBAL_CAP_* bits.
    pub capabilities: u32,
}

/// What TREE_CONNECT said about the share ([MS-SMB2] 2.2.10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShareInfo {
    /// 1 disk, 2 pipe, 3 print.
    pub share_type: u8,
    /// ShareFlags.
    pub flags: u32,
    /// Capabilities.
    pub capabilities: u32,
    /// MaximalAccess of this user on the share.
    pub maximal_access: u32,
    /// Traffic on this share is encrypted.
    pub encrypted: bool,
}

/// A remote file opened for writing: `finish` flushes and closes it, reporting errors that
/// a drop could only swallow.
pub trait RemoteWrite: Write + Send {
    /// Flush and close.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A connected share. Paths are relative to the share root, SMB form (`a\b`), `""` = root.
/// Every method may be called from several threads at once; requests of different calls
/// are in flight together on the one session.
pub trait Remote: Send + Sync {
    /// The adapter that carries the traffic.
    fn runtime(&self) -> Runtime;
    /// What the session negotiated.
    fn negotiated(&self) -> Negotiated;
    /// What the server says about the share.
    fn share_info(&self) -> io::Result<ShareInfo>;
    /// The client's counters and every channel now.
    fn stats(&self) -> io::Result<smb_core::driver::StatsSnapshot>;
    /// Size, type and times of `path`.
    fn metadata(&self, path: &str) -> io::Result<Meta>;
    /// Call `each` for every entry of directory `path` (without `.` and `..`), as the
    /// listing streams in.
    fn list(&self, path: &str, each: &mut dyn FnMut(Entry) -> io::Result<()>) -> io::Result<()>;
    /// Open an existing file for reading from `offset`.
    fn open_read<'a>(&'a self, path: &str, offset: u64) -> io::Result<Box<dyn Read + Send + 'a>>;
    /// Create (or truncate) a file for writing.
    fn create<'a>(&'a self, path: &str) -> io::Result<Box<dyn RemoteWrite + 'a>>;
    /// Open an existing file for writing from `offset` (resuming an upload).
    fn open_at<'a>(&'a self, path: &str, offset: u64) -> io::Result<Box<dyn RemoteWrite + 'a>>;
    /// Read a whole (small) file.
    fn read_whole(&self, path: &str) -> io::Result<Vec<u8>>;
    /// Create or truncate a file with `data`.
    fn write_whole(&self, path: &str, data: Vec<u8>) -> io::Result<()>;
    /// Create a directory (and its missing parents with `parents`).
    fn mkdir(&self, path: &str, parents: bool) -> io::Result<()>;
    /// Remove a file.
    fn remove_file(&self, path: &str) -> io::Result<()>;
    /// Remove a directory (with everything inside with `recursive`).
    fn remove_dir(&self, path: &str, recursive: bool) -> io::Result<()>;
    /// Rename `from` to `to` (both in this share); an existing file `to` is replaced.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Copy `from` to `to` on the server (server-side copy); returns the bytes copied.
    fn copy(&self, from: &str, to: &str) -> io::Result<u64>;
    /// The share's volume and file system ([MS-FSCC] 2.5).
    fn fs_info(&self) -> io::Result<smb_core::driver::FsInfo>;
    /// Watch directory `path` (its subtree with `recursive`) for the default changes;
    /// returns once the watch is armed.
    fn watch<'a>(&'a self, path: &str, recursive: bool) -> io::Result<Box<dyn RemoteWatch + 'a>>;
    /// The server's shares (srvsvc NetrShareEnum on IPC$).
    fn list_shares(&self) -> io::Result<Vec<smb_core::wire::srvsvc::ShareInfo>>;
    /// Log off and disconnect.
    fn close(self: Box<Self>) -> io::Result<()>;
}

/// A directory watch ([`Remote::watch`]). Dropping it cancels the watch and closes the
/// directory.
pub trait RemoteWatch: Send {
    /// The next change, waiting at most `wait`: `Ok(None)` if none came by then.
    fn next(&mut self, wait: std::time::Duration) -> io::Result<Option<WatchEvent>>;
}

pub use smb_core::driver::WatchEvent;

/// One step of a watch as the adapters report it (`None`: ended after an error; an error
/// of kind `TimedOut`: nothing within the wait) in [`RemoteWatch::next`]'s terms.
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn watch_step(r: Option<io::Result<WatchEvent>>) -> io::Result<Option<WatchEvent>> {
    match r {
        Some(Ok(e)) => Ok(Some(e)),
        Some(Err(e)) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
        Some(Err(e)) => Err(e),
        None => Err(io::Error::other("the watch ended")),
    }
}

/// Connect with the chosen runtime and open the share. The error says at which step it
/// failed; `Err(None)` means the runtime is not compiled into this binary.
pub fn connect(
    runtime: Runtime,
    spec: &ConnectSpec,
) -> Result<Box<dyn Remote>, Option<(Phase, io::Error)>> {
    match runtime {
        #[cfg(feature = "tokio")]
        Runtime::Tokio => tokio::connect(spec).map_err(Some),
        #[cfg(feature = "smol")]
        Runtime::Smol => smol::connect(spec).map_err(Some),
        #[cfg(feature = "blocking")]
        Runtime::Blocking => blocking::connect(spec).map_err(Some),
        #[allow(unreachable_patterns)]
        _ => {
            let _ = spec;
            Err(None)
        }
    }
}

// Conversions shared by the adapter modules (all three adapters report the engine's types).

#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn credentials(spec: &ConnectSpec) -> smb_core::driver::Credentials {
    use smb_core::driver::Credentials;
    if let Some(k) = &spec.kerberos {
        return Credentials::Custom(Box::new(k.clone()));
    }
    match &spec.login {
        Login::User {
            domain,
            user,
            password,
        } => Credentials::password(domain.as_deref(), user.as_str(), password.expose()),
        Login::Guest => Credentials::guest(),
        Login::Anonymous => Credentials::anonymous(),
    }
}

#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn negotiated(i: &smb_core::driver::SessionInfo) -> Negotiated {
    Negotiated {
        dialect: i.dialect,
        signing: i.signing,
        encryption: i.encryption,
        guest: i.guest,
        anonymous: i.anonymous,
        signing_algorithm: i.signing_algorithm,
        cipher: i.cipher,
        capabilities: i.capabilities,
    }
}

#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn meta(m: smb_core::driver::Metadata) -> Meta {
    Meta {
        size: m.size,
        allocated: m.allocation_size,
        is_dir: m.is_dir(),
        attributes: m.attributes,
        created: m.created.to_unix_nanos(),
        modified: m.modified.to_unix_nanos(),
        accessed: m.accessed.to_unix_nanos(),
        changed: m.changed.to_unix_nanos(),
        file_id: m.file_id,
        links: m.links,
    }
}

#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn entry(e: smb_core::client::DirEntry) -> Entry {
    let m = smb_core::driver::Metadata::from_attributes(&e.attributes, e.file_id);
    Entry {
        name: e.name,
        meta: meta(m),
    }
}

/// The share's TREE_CONNECT details from a second (shared, counted) tree connect, which is
/// disconnected again at once.
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn share_info(
    share: &str,
    mut raw: impl FnMut(smb_core::client::Request) -> io::Result<smb_core::client::Response>,
) -> io::Result<ShareInfo> {
    use smb_core::client::{Request, Response};
    match raw(Request::TreeConnect {
        share: share.into(),
    })? {
        Response::TreeConnected {
            tree,
            share_type,
            share_flags,
            capabilities,
            maximal_access,
            encrypted,
        } => {
            let _ = raw(Request::TreeDisconnect { tree });
            Ok(ShareInfo {
                share_type,
                flags: share_flags,
                capabilities,
                maximal_access,
                encrypted,
            })
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected response to tree connect",
        )),
    }
}

/// Options that open an existing file for writing (and reading, as a seekable file).
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn write_existing() -> smb_core::client::OpenOptions {
    smb_core::client::OpenOptions::read_write()
}
