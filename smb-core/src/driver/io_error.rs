//! [`OpError`] -> `std::io::Error`, shared by the adapters. The `io::Error` keeps the
//! `OpError` as its inner error (so the NTSTATUS stays available through [`op_error`]) and
//! displays it.

use crate::client::{ChannelError, CloseReason, ErrorKind, OpError, SessionError};
use crate::wire::NtStatus;
use std::io;

/// The `std::io::ErrorKind` that best describes `e`.
pub fn io_error_kind(e: &OpError) -> io::ErrorKind {
    use io::ErrorKind as K;
    // Statuses first: they are more precise than the engine's categories.
    match e.status {
        Some(NtStatus::DIRECTORY_NOT_EMPTY) => return K::DirectoryNotEmpty,
        Some(NtStatus::NOT_A_DIRECTORY) => return K::NotADirectory,
        Some(NtStatus::FILE_IS_A_DIRECTORY) => return K::IsADirectory,
        Some(NtStatus::DISK_FULL) => return K::StorageFull,
        Some(NtStatus::INVALID_PARAMETER)
        | Some(NtStatus::OBJECT_NAME_INVALID)
        | Some(NtStatus::OBJECT_PATH_SYNTAX_BAD) => return K::InvalidInput,
        Some(NtStatus::NOT_SAME_DEVICE) => return K::CrossesDevices,
        Some(NtStatus::END_OF_FILE) => return K::UnexpectedEof,
        // A byte-range lock held by another open (like std's `File::try_lock`).
        Some(NtStatus::LOCK_NOT_GRANTED) | Some(NtStatus::FILE_LOCK_CONFLICT) => {
            return K::WouldBlock;
        }
        Some(NtStatus::CONNECTION_RESET) => return K::ConnectionReset,
        Some(NtStatus::CONNECTION_DISCONNECTED) => return K::ConnectionAborted,
        _ => {}
    }
    match &e.kind {
        ErrorKind::NotFound | ErrorKind::BadShare => K::NotFound,
        ErrorKind::AccessDenied
        | ErrorKind::LogonFailure
        | ErrorKind::SigningRequired
        | ErrorKind::EncryptionRequired => K::PermissionDenied,
        ErrorKind::AlreadyExists => K::AlreadyExists,
        ErrorKind::ServerGone => K::ConnectionAborted,
        ErrorKind::TimedOut => K::TimedOut,
        ErrorKind::Cancelled => K::Interrupted,
        ErrorKind::InvalidHandle => K::InvalidInput,
        // Retrying the same handle cannot work; opening the file again can.
        ErrorKind::HandleLost => K::ConnectionAborted,
        ErrorKind::InUse => K::ResourceBusy,
        ErrorKind::WrongType => K::InvalidInput,
        ErrorKind::Unsupported => K::Unsupported,
        ErrorKind::ShutDown => K::NotConnected,
        // No such host: nothing to connect to (std reports lookups as NotFound-like
        // errors of its own; HostUnreachable says what a retry cannot change).
        ErrorKind::Channel(ChannelError::Closed(CloseReason::NameNotResolved(_))) => {
            K::HostUnreachable
        }
        ErrorKind::Channel(ChannelError::Closed(CloseReason::ConnectFailed(_))) => {
            K::ConnectionRefused
        }
        ErrorKind::Channel(ChannelError::Closed(CloseReason::Eof)) => K::ConnectionReset,
        ErrorKind::Channel(ChannelError::Closed(_)) => K::ConnectionAborted,
        ErrorKind::Channel(
            ChannelError::BadSignature(_)
            | ChannelError::Unsigned(_)
            | ChannelError::DecryptFailed
            | ChannelError::Unencrypted(_)
            | ChannelError::Downgrade,
        ) => K::InvalidData,
        ErrorKind::Channel(ChannelError::NegotiateTimeout) => K::TimedOut,
        ErrorKind::Channel(_) => K::InvalidData,
        ErrorKind::Session(
            SessionError::LogonFailure(_)
            | SessionError::Auth(_)
            | SessionError::SigningUnavailable
            | SessionError::EncryptionUnavailable,
        ) => K::PermissionDenied,
        ErrorKind::Session(_) => K::ConnectionAborted,
        // Tampered or forged data: nothing of it is usable.
        ErrorKind::Integrity(_) | ErrorKind::Downgrade => K::InvalidData,
        ErrorKind::Protocol(_) => K::InvalidData,
        ErrorKind::TooLarge => K::FileTooLarge,
        // Like a rename across file systems (EXDEV).
        ErrorKind::DfsTargetsDiffer => K::CrossesDevices,
        ErrorKind::Rpc(crate::wire::rpc::RpcError::Status(5)) => K::PermissionDenied,
        ErrorKind::Rpc(
            crate::wire::rpc::RpcError::Fault(_) | crate::wire::rpc::RpcError::Status(_),
        ) => K::Other,
        ErrorKind::Rpc(_) => K::InvalidData,
        _ => K::Other,
    }
}

/// Wrap `e` in an `io::Error` of the right kind; the message is `e`'s Display (the cause and
/// the NTSTATUS name).
pub fn to_io_error(e: OpError) -> io::Error {
    io::Error::new(io_error_kind(&e), e)
}

impl From<OpError> for io::Error {
    fn from(e: OpError) -> io::Error {
        to_io_error(e)
    }
}

/// The engine's error inside an `io::Error` made by [`to_io_error`], with its NTSTATUS.
pub fn op_error(e: &io::Error) -> Option<&OpError> {
    let inner = e.get_ref()?;
    inner
        .downcast_ref::<OpError>()
        .or_else(|| inner.downcast_ref::<super::WalkError>().map(|w| &w.error))
}

/// `e` with the DFS path it happened on (`unc`) in its message: the error of following a
/// referral, the same in every adapter.
pub fn with_dfs_path(e: io::Error, unc: &str) -> io::Error {
    match op_error(&e) {
        Some(op) => {
            let context = match &op.context {
                Some(c) => alloc::format!("DFS {unc}: {c}"),
                None => alloc::format!("DFS {unc}"),
            };
            to_io_error(op.clone().with_context(context))
        }
        None => io::Error::new(e.kind(), alloc::format!("DFS {unc}: {e}")),
    }
}

impl std::error::Error for super::WalkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A directory a walk could not list: the io kind of its error, the message naming it.
impl From<super::WalkError> for io::Error {
    fn from(e: super::WalkError) -> io::Error {
        io::Error::new(io_error_kind(&e.error), e)
    }
}

/// Drop the first `n` bytes of `chunks` (after a partial vectored write).
pub fn consume_chunks(chunks: &mut std::collections::VecDeque<bytes::Bytes>, mut n: usize) {
    use bytes::Buf;
    while n > 0 {
        let Some(front) = chunks.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            chunks.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
    while chunks.front().is_some_and(|c| c.is_empty()) {
        chunks.pop_front();
    }
}

/// `smb://...` URL or `host[:port]` -> the address to connect to (port 445 by default).
pub fn parse_target(target: &str) -> Result<crate::client::ServerAddr, io::Error> {
    if target.len() >= 6 && target[..6].eq_ignore_ascii_case("smb://") {
        let url = crate::url::SmbUrl::parse(target)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(crate::client::ServerAddr(url.socket_addr()))
    } else {
        Ok(crate::client::ServerAddr(alloc::string::String::from(
            target,
        )))
    }
}

/// The `host:port` string to open a TCP connection to `addr` (port 445 when none is given).
pub fn socket_target(addr: &crate::client::ServerAddr) -> alloc::string::String {
    let host = addr.host();
    if host.len() == addr.0.len() || addr.0.starts_with('[') && !addr.0.contains("]:") {
        if host.contains(':') {
            alloc::format!("[{host}]:445")
        } else {
            alloc::format!("{host}:445")
        }
    } else {
        addr.0.clone()
    }
}

/// The addresses of `target` (`host:port`, `[v6]:port`, as [`socket_target`] gives it): an
/// IP address as it is, a name through `resolver` or, without one, the system's resolver
/// (which blocks: adapters call this off their reactor). No address is
/// [`CloseReason::NameNotResolved`].
pub fn resolve_target(
    resolver: Option<&dyn crate::client::Resolver>,
    target: &str,
) -> Result<alloc::vec::Vec<std::net::SocketAddr>, CloseReason> {
    use std::net::ToSocketAddrs;
    if let Ok(a) = target.parse::<std::net::SocketAddr>() {
        return Ok(alloc::vec![a]);
    }
    let unresolved = |why: &str| CloseReason::NameNotResolved(alloc::format!("{target:?}: {why}"));
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(p) => (h.trim_start_matches('[').trim_end_matches(']'), p),
            Err(_) => return Err(unresolved("no port")),
        },
        None => return Err(unresolved("no port")),
    };
    let found = match resolver {
        Some(r) => r.resolve(host, port).map_err(|e| unresolved(&e))?,
        None => (host, port)
            .to_socket_addrs()
            .map_err(|e| unresolved(&alloc::string::ToString::to_string(&e)))?
            .collect(),
    };
    if found.is_empty() {
        return Err(unresolved("no address"));
    }
    Ok(found)
}
