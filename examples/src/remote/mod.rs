//! The thin seam between the CLI's command logic (written once, blocking) and the three
//! runtime adapters. Each adapter module implements [`Remote`] in a few lines: the async
//! ones run each call to completion on their runtime (`block_on`).

use crate::error::Phase;
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

/// Where to connect and as whom.
#[derive(Clone)]
pub struct Target {
    /// Host name or address (no brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `host:port` (`[v6]:port`), for sockets and messages.
    pub addr: String,
    /// The share to open.
    pub share: String,
    /// Domain, if any.
    pub domain: Option<String>,
    /// User name; `None` logs in as guest.
    pub user: Option<String>,
    /// Password (never printed).
    pub password: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("addr", &self.addr)
            .field("share", &self.share)
            .field("domain", &self.domain)
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// What `stat` and `ls` show about a file or directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// Size in bytes.
    pub size: u64,
    /// A directory.
    pub is_dir: bool,
    /// FILE_ATTRIBUTE_* bits ([MS-FSCC] 2.6).
    pub attributes: u32,
    /// Creation time, nanoseconds since the Unix epoch (0 if unknown).
    pub created: u64,
    /// Last write time, nanoseconds since the Unix epoch (0 if unknown).
    pub modified: u64,
    /// Last access time, nanoseconds since the Unix epoch (0 if unknown).
    pub accessed: u64,
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File name (no path).
    pub name: String,
    /// Its metadata.
    pub meta: Meta,
}

/// A remote file opened for writing: `finish` flushes and closes it, reporting errors that
/// a drop could only swallow.
pub trait RemoteWrite: Write {
    /// Flush and close.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A connected share. Paths are relative to the share root, SMB form (`a\b`), `""` = root.
pub trait Remote {
    /// Size, type and times of `path`.
    fn metadata(&mut self, path: &str) -> io::Result<Meta>;
    /// Call `each` for every entry of directory `path` (without `.` and `..`), as the
    /// listing streams in.
    fn list(&mut self, path: &str, each: &mut dyn FnMut(Entry) -> io::Result<()>)
    -> io::Result<()>;
    /// Open an existing file for reading.
    fn open_read<'a>(&'a mut self, path: &str) -> io::Result<Box<dyn Read + 'a>>;
    /// Create (or truncate) a file for writing.
    fn create<'a>(&'a mut self, path: &str) -> io::Result<Box<dyn RemoteWrite + 'a>>;
    /// Create a directory (and its missing parents with `parents`).
    fn mkdir(&mut self, path: &str, parents: bool) -> io::Result<()>;
    /// Remove a file.
    fn remove_file(&mut self, path: &str) -> io::Result<()>;
    /// Remove a directory (with everything inside with `recursive`).
    fn remove_dir(&mut self, path: &str, recursive: bool) -> io::Result<()>;
    /// Rename `from` to `to` (both in this share), replacing nothing.
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()>;
    /// Disconnect cleanly.
    fn close(self: Box<Self>) -> io::Result<()>;
}

/// Connect to `target` with the chosen runtime and open its share. The error says at which
/// step it failed; `Err(None)` means the runtime is not compiled into this binary.
pub fn connect(
    runtime: Runtime,
    target: &Target,
) -> Result<Box<dyn Remote>, Option<(Phase, io::Error)>> {
    match runtime {
        #[cfg(feature = "tokio")]
        Runtime::Tokio => tokio::connect(target).map_err(Some),
        #[cfg(feature = "smol")]
        Runtime::Smol => smol::connect(target).map_err(Some),
        #[cfg(feature = "blocking")]
        Runtime::Blocking => blocking::connect(target).map_err(Some),
        #[allow(unreachable_patterns)]
        _ => {
            let _ = target;
            Err(None)
        }
    }
}

/// Nanoseconds since the Unix epoch of a Windows FILETIME value (100 ns ticks since 1601).
pub fn filetime_to_unix_nanos(ft: u64) -> u64 {
    smb_core::time::FileTime(ft).to_unix_nanos()
}

// Conversions shared by the adapter modules (all three adapters report the engine's types).

#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn credentials(t: &Target) -> smb_core::driver::Credentials {
    use smb_core::driver::Credentials;
    match &t.user {
        Some(user) => {
            Credentials::password(t.domain.as_deref(), user.as_str(), t.password.as_str())
        }
        None => Credentials::guest(),
    }
}

#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn meta(m: smb_core::driver::Metadata) -> Meta {
    Meta {
        size: m.size,
        is_dir: m.is_dir(),
        attributes: m.attributes,
        created: m.created.to_unix_nanos(),
        modified: m.modified.to_unix_nanos(),
        accessed: m.accessed.to_unix_nanos(),
    }
}

#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
fn entry(e: smb_core::client::DirEntry) -> Entry {
    let a = &e.attributes;
    Entry {
        name: e.name,
        meta: Meta {
            size: a.end_of_file,
            is_dir: a.is_directory(),
            attributes: a.attributes,
            created: filetime_to_unix_nanos(a.creation_time),
            modified: filetime_to_unix_nanos(a.last_write_time),
            accessed: filetime_to_unix_nanos(a.last_access_time),
        },
    }
}
