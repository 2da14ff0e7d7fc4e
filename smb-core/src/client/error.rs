//! The three error layers: synchronous submission errors, per-operation errors and fatal
//! channel/session errors.

use crate::wire::{Command, DecodeError, NtStatus};
use alloc::string::String;
use core::fmt;

/// Why [`Client::submit`](super::Client::submit) refused a request (nothing was queued).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubmitError {
    /// The bounded queue of pending operations is full; retry after some complete.
    Busy,
    /// `connect` was never called (or the client gave up on the server).
    NotConnected,
    /// `shutdown` was called; nothing is accepted any more.
    ShutDown,
    /// The tree or file handle is unknown (never opened, or already closed).
    InvalidHandle,
    /// The request is malformed (e.g. an empty compound, a nested compound).
    InvalidRequest(&'static str),
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Busy => f.write_str("too many operations queued"),
            SubmitError::NotConnected => f.write_str("not connected"),
            SubmitError::ShutDown => f.write_str("the client was shut down"),
            SubmitError::InvalidHandle => f.write_str("unknown tree or file handle"),
            SubmitError::InvalidRequest(why) => write!(f, "invalid request: {why}"),
        }
    }
}

/// How a channel's transport ended (given by the adapter to `handle_closed`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the connection (EOF).
    Eof,
    /// The TCP connection could not be established.
    ConnectFailed(String),
    /// The host name did not resolve to any address (the resolver's message). Not
    /// retried: asking again will not make the name exist.
    NameNotResolved(String),
    /// A read or write failed.
    Io(String),
    /// The client asked for the close (`Output::Close`).
    Requested,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Eof => f.write_str("connection closed by the server"),
            CloseReason::ConnectFailed(e) => write!(f, "connect failed: {e}"),
            CloseReason::NameNotResolved(e) => write!(f, "cannot resolve host name {e}"),
            CloseReason::Io(e) => write!(f, "I/O error: {e}"),
            CloseReason::Requested => f.write_str("closed by the client"),
        }
    }
}

/// A fatal error of one channel: the channel is dropped (and re-established if the client
/// still needs it).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// The transport closed.
    Closed(CloseReason),
    /// A frame or message from the server could not be decoded.
    Malformed(DecodeError),
    /// A response that had to be signed carried a wrong signature ([MS-SMB2] 3.2.5.1.3).
    BadSignature(Command),
    /// A response that had to be signed was not signed.
    Unsigned(Command),
    /// An encrypted message could not be decrypted or authenticated.
    DecryptFailed,
    /// A TRANSFORM header (or the message inside it) that does not fit this session: wrong
    /// Flags, size or SessionId ([MS-SMB2] 3.2.5.1.1.1).
    BadTransform(&'static str),
    /// An unencrypted response arrived where encryption is required.
    Unencrypted(Command),
    /// The server chose a dialect we did not offer (or none at all).
    BadDialect(u16),
    /// The NEGOTIATE response was inconsistent (contexts, capabilities).
    BadNegotiate(&'static str),
    /// FSCTL_VALIDATE_NEGOTIATE_INFO did not match what was negotiated: possible downgrade.
    Downgrade,
    /// The server gave no credit and nothing is in flight: the channel can never send again.
    CreditsStalled,
    /// The server did not answer NEGOTIATE in time.
    NegotiateTimeout,
    /// The server sent nothing for this long (milliseconds) while requests waited for it.
    Unresponsive(u64),
    /// The server did not finish the logon (SESSION_SETUP) in time.
    SessionSetupTimeout,
    /// The server sent something the protocol does not allow here.
    Protocol(&'static str),
    /// What answered is not an SMB2/3 server (an SMB1-only server, an HTTP server...).
    NotSmb2(&'static str),
    /// The client shut the channel down.
    Shutdown,
    /// The server refused to bind the session to this extra channel (SESSION_SETUP with
    /// SMB2_SESSION_FLAG_BINDING failed with this status); the session is not affected.
    BindRefused(NtStatus),
}

impl ChannelError {
    /// Whether the server broke the protocol (sent something malformed, not allowed, or is
    /// not an SMB2/3 server): reconnecting and asking again would get the same answer.
    pub fn is_misbehaviour(&self) -> bool {
        matches!(
            self,
            ChannelError::Malformed(_)
                | ChannelError::Protocol(_)
                | ChannelError::NotSmb2(_)
                | ChannelError::BadDialect(_)
                | ChannelError::BadNegotiate(_)
        )
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::Closed(r) => write!(f, "{r}"),
            ChannelError::Malformed(e) => write!(f, "malformed message from the server: {e}"),
            ChannelError::BadSignature(c) => write!(f, "bad signature on a {c} response"),
            ChannelError::Unsigned(c) => {
                write!(f, "unsigned {c} response where signing is required")
            }
            ChannelError::DecryptFailed => {
                f.write_str("could not decrypt a message from the server")
            }
            ChannelError::BadTransform(why) => write!(f, "invalid encrypted message: {why}"),
            ChannelError::Unencrypted(c) => {
                write!(f, "unencrypted {c} response where encryption is required")
            }
            ChannelError::BadDialect(d) => {
                write!(f, "server chose dialect {d:#06x} that was not offered")
            }
            ChannelError::BadNegotiate(why) => write!(f, "invalid NEGOTIATE response: {why}"),
            ChannelError::Downgrade => {
                f.write_str("negotiate validation failed (possible downgrade attack)")
            }
            ChannelError::CreditsStalled => {
                f.write_str("the server granted no credits: nothing can be sent")
            }
            ChannelError::NegotiateTimeout => {
                f.write_str("the server did not answer the protocol negotiation in time")
            }
            ChannelError::SessionSetupTimeout => {
                f.write_str("the server did not complete the logon in time")
            }
            ChannelError::Unresponsive(ms) => write!(
                f,
                "the server stopped answering (nothing received for {}.{:03} s)",
                ms / 1000,
                ms % 1000
            ),
            ChannelError::Protocol(why) => write!(f, "protocol violation: {why}"),
            ChannelError::NotSmb2(why) => write!(f, "not an SMB2/3 server: {why}"),
            ChannelError::Shutdown => f.write_str("connection closed by the client"),
            ChannelError::BindRefused(s) => {
                write!(
                    f,
                    "the server refused to bind the session to a new channel: {s}"
                )
            }
        }
    }
}

/// A fatal error of the session: every operation fails until a new `connect`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The server refused the credentials.
    LogonFailure(NtStatus),
    /// The authenticator failed (bad token, unsupported mechanism...).
    Auth(String),
    /// Signing is required but this session cannot sign (guest/anonymous, no key).
    SigningUnavailable,
    /// Encryption is required but the server or session does not support it.
    EncryptionUnavailable,
    /// The server deleted or expired the session.
    Expired(NtStatus),
    /// LOGOFF was sent or the client shut down.
    LoggedOff,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::LogonFailure(s) => write!(f, "logon failed ({s})"),
            SessionError::Auth(e) => write!(f, "authentication failed: {e}"),
            SessionError::SigningUnavailable => {
                f.write_str("signing is required but the session cannot sign (guest or anonymous)")
            }
            SessionError::EncryptionUnavailable => {
                f.write_str("encryption is required but not available with this server")
            }
            // The status itself is shown once, by the operation error around this.
            SessionError::Expired(_) => f.write_str("the server expired or deleted the session"),
            SessionError::LoggedOff => f.write_str("logged off"),
        }
    }
}

/// What went wrong with one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file or path does not exist.
    NotFound,
    /// Access denied.
    AccessDenied,
    /// The file already exists.
    AlreadyExists,
    /// The credentials were refused.
    LogonFailure,
    /// The share does not exist.
    BadShare,
    /// Signing is required and cannot be done.
    SigningRequired,
    /// Encryption is required and cannot be done.
    EncryptionRequired,
    /// The server (or every channel to it) is gone; retrying after reconnect may work.
    ServerGone,
    /// No response before the request's deadline.
    TimedOut,
    /// Cancelled by the caller.
    Cancelled,
    /// The file handle is no longer valid (closed, or never opened).
    InvalidHandle,
    /// The file was open when the connection was lost and the server did not give its
    /// durable handle back (not durable, timed out, or the file changed meanwhile): the
    /// library does not silently open it again, since the file may differ from what the
    /// caller saw. Open it again (and, for a write, write what was not confirmed).
    HandleLost,
    /// The file is in use (sharing violation, lock conflict).
    InUse,
    /// Not a directory / is a directory / directory not empty.
    WrongType,
    /// The server does not support this.
    Unsupported,
    /// The client was shut down before the operation completed.
    ShutDown,
    /// A fatal channel error ended the operation.
    Channel(ChannelError),
    /// A fatal session error ended the operation.
    Session(SessionError),
    /// A response failed its integrity check (bad or missing signature, plaintext where
    /// encryption is required, a message that does not decrypt): it may have been forged or
    /// tampered with on the way. Nothing of it was used.
    Integrity(ChannelError),
    /// FSCTL_VALIDATE_NEGOTIATE_INFO showed that the negotiation was tampered with (a
    /// downgrade attack, [MS-SMB2] 3.2.5.14.12).
    Downgrade,
    /// The server's response was malformed or not allowed.
    Protocol(&'static str),
    /// The operation would need more memory than the library allows for it (a whole-file
    /// read of a file whose size, as the server reports it, is over the limit).
    TooLarge,
    /// The two paths of a rename or copy lead, through DFS links, to different shares or
    /// servers: one SMB2 operation cannot span them ([MS-SMB2] 2.2.39: a rename stays in
    /// its share). The context names both paths and where each is.
    DfsTargetsDiffer,
    /// Any other NTSTATUS (see [`OpError::status`]).
    Status,
    /// A DCE/RPC call over a named pipe failed: a malformed or unexpected PDU, a refused
    /// bind, a FAULT, or the interface's own error code.
    Rpc(crate::wire::rpc::RpcError),
}

/// The error of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpError {
    /// The category.
    pub kind: ErrorKind,
    /// The server's NTSTATUS, when the server answered.
    pub status: Option<NtStatus>,
    /// The command that failed, when known.
    pub command: Option<Command>,
    /// What the error is about or a likely cause, for the message: the share name, the
    /// server address, a hint.
    pub context: Option<String>,
    /// With STATUS_STOPPED_ON_SYMLINK: the symbolic link error response the server sent
    /// ([MS-SMB2] 2.2.2.2.1): the link's target and how much of the path is left after it.
    pub symlink: Option<alloc::boxed::Box<crate::wire::error::SymlinkError>>,
    /// The operation the user called and its path (`rename a/b -> a/c`), set by the file
    /// API; the message then starts with it instead of the SMB command.
    /// (Boxed so that the error stays small: it travels in every `Result`.)
    pub operation: Option<alloc::boxed::Box<str>>,
}

impl OpError {
    /// An error of `kind` with no status.
    pub fn new(kind: ErrorKind) -> Self {
        OpError {
            kind,
            status: None,
            command: None,
            context: None,
            symlink: None,
            operation: None,
        }
    }

    /// Name the operation the user called on `path` (`"open"`, `"remove_dir"`...) for the
    /// message: `open a/b.txt: no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)`.
    /// Replaces an operation set by a step inside it, so the message names the call the
    /// user made.
    pub fn during(mut self, operation: &str, path: &str) -> Self {
        self.operation = Some(alloc::format!("{operation} {path}").into_boxed_str());
        self
    }

    /// [`OpError::during`] for an operation on two paths: `rename a/b -> a/c`.
    pub fn during2(mut self, operation: &str, from: &str, to: &str) -> Self {
        self.operation = Some(alloc::format!("{operation} {from} -> {to}").into_boxed_str());
        self
    }

    /// Attach context (share name, address, hint) shown in the message.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Map a server status to an error for `command`.
    pub fn from_status(status: NtStatus, command: Command) -> Self {
        let kind = match status {
            NtStatus::OBJECT_NAME_NOT_FOUND
            | NtStatus::OBJECT_PATH_NOT_FOUND
            | NtStatus::NO_SUCH_FILE
            | NtStatus::NOT_FOUND => ErrorKind::NotFound,
            // An owner or group the caller may not assign is a refusal of this caller
            // ([MS-DTYP] 2.4.6: taking ownership needs a privilege).
            NtStatus::ACCESS_DENIED
            | NtStatus::PRIVILEGE_NOT_HELD
            | NtStatus::INVALID_OWNER
            | NtStatus::INVALID_PRIMARY_GROUP => ErrorKind::AccessDenied,
            NtStatus::OBJECT_NAME_COLLISION => ErrorKind::AlreadyExists,
            NtStatus::LOGON_FAILURE
            | NtStatus::WRONG_PASSWORD
            | NtStatus::NO_SUCH_USER
            | NtStatus::ACCOUNT_DISABLED
            | NtStatus::ACCOUNT_RESTRICTION
            | NtStatus::PASSWORD_EXPIRED
            | NtStatus::INVALID_LOGON_HOURS => ErrorKind::LogonFailure,
            NtStatus::BAD_NETWORK_NAME => ErrorKind::BadShare,
            NtStatus::CANCELLED => ErrorKind::Cancelled,
            NtStatus::FILE_CLOSED | NtStatus::INVALID_HANDLE => ErrorKind::InvalidHandle,
            NtStatus::SHARING_VIOLATION
            | NtStatus::FILE_LOCK_CONFLICT
            | NtStatus::LOCK_NOT_GRANTED
            | NtStatus::DELETE_PENDING => ErrorKind::InUse,
            NtStatus::FILE_IS_A_DIRECTORY
            | NtStatus::NOT_A_DIRECTORY
            | NtStatus::DIRECTORY_NOT_EMPTY => ErrorKind::WrongType,
            NtStatus::NOT_SUPPORTED
            | NtStatus::NOT_IMPLEMENTED
            | NtStatus::INVALID_DEVICE_REQUEST => ErrorKind::Unsupported,
            NtStatus::USER_SESSION_DELETED | NtStatus::NETWORK_SESSION_EXPIRED => {
                ErrorKind::Session(SessionError::Expired(status))
            }
            NtStatus::IO_TIMEOUT => ErrorKind::TimedOut,
            _ => ErrorKind::Status,
        };
        OpError {
            kind,
            status: Some(status),
            command: Some(command),
            context: None,
            symlink: None,
            operation: None,
        }
    }

    /// Attach the command.
    pub fn with_command(mut self, command: Command) -> Self {
        self.command = Some(command);
        self
    }

    /// Whether retrying the operation after a reconnect may succeed.
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            ErrorKind::ServerGone | ErrorKind::TimedOut => true,
            ErrorKind::Channel(ChannelError::Closed(CloseReason::NameNotResolved(_))) => false,
            ErrorKind::Channel(e) => matches!(
                e,
                ChannelError::Closed(_)
                    | ChannelError::Unresponsive(_)
                    | ChannelError::NegotiateTimeout
                    | ChannelError::SessionSetupTimeout
                    | ChannelError::CreditsStalled
                    | ChannelError::Shutdown
            ),
            _ => false,
        }
    }
}

impl From<ChannelError> for OpError {
    fn from(e: ChannelError) -> Self {
        OpError::new(ErrorKind::Channel(e))
    }
}

impl From<SessionError> for OpError {
    fn from(e: SessionError) -> Self {
        let kind = match e {
            SessionError::LogonFailure(s) => {
                return OpError {
                    kind: ErrorKind::LogonFailure,
                    status: Some(s),
                    command: Some(Command::SessionSetup),
                    context: None,
                    symlink: None,
                    operation: None,
                };
            }
            SessionError::SigningUnavailable => ErrorKind::SigningRequired,
            SessionError::EncryptionUnavailable => ErrorKind::EncryptionRequired,
            other => ErrorKind::Session(other),
        };
        OpError::new(kind)
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One layer: the user's operation and path when the file API named them, else the
        // SMB command.
        match (&self.operation, self.command) {
            (Some(op), _) => write!(f, "{op}: ")?,
            (None, Some(c)) => write!(f, "{c}: ")?,
            (None, None) => {}
        }
        let ctx = self.context.as_deref();
        match &self.kind {
            ErrorKind::NotFound => f.write_str("no such file or directory")?,
            ErrorKind::AccessDenied => f.write_str(match self.status {
                Some(NtStatus::INVALID_OWNER) => "access denied: that owner cannot be assigned",
                Some(NtStatus::INVALID_PRIMARY_GROUP) => {
                    "access denied: that group cannot be assigned"
                }
                Some(NtStatus::PRIVILEGE_NOT_HELD) => "access denied: a privilege is needed",
                _ => "access denied",
            })?,
            ErrorKind::AlreadyExists => f.write_str("the file already exists")?,
            ErrorKind::LogonFailure => f.write_str(
                "logon failed: wrong user name or password, or the account cannot log on",
            )?,
            ErrorKind::BadShare => match ctx {
                Some(share) => write!(f, "share \"{share}\" not found on the server")?,
                None => f.write_str("share not found on the server")?,
            },
            ErrorKind::SigningRequired => f.write_str(
                "signing is required but this session cannot sign (guest or anonymous logon)",
            )?,
            ErrorKind::EncryptionRequired => f.write_str(
                "encryption is required but not available (it needs SMB 3.0 or later and a \
                 user logon)",
            )?,
            ErrorKind::ServerGone => match ctx {
                Some(c) => write!(f, "server unreachable or connection lost: {c}")?,
                None => f.write_str("server unreachable or connection lost")?,
            },
            ErrorKind::TimedOut => match ctx {
                Some(c) => write!(f, "timed out: {c}")?,
                None => f.write_str("timed out waiting for the server")?,
            },
            ErrorKind::Cancelled => f.write_str("cancelled")?,
            ErrorKind::InvalidHandle => f.write_str("the file handle is no longer valid")?,
            ErrorKind::HandleLost => f.write_str("the file handle was lost with the connection")?,
            ErrorKind::InUse => f.write_str(match self.status {
                Some(NtStatus::SHARING_VIOLATION) => "sharing violation",
                Some(NtStatus::FILE_LOCK_CONFLICT | NtStatus::LOCK_NOT_GRANTED) => {
                    "locked by another open"
                }
                Some(NtStatus::DELETE_PENDING) => "the file is being deleted",
                _ => "the file is in use (sharing violation or lock conflict)",
            })?,
            ErrorKind::WrongType => f.write_str(match self.status {
                Some(NtStatus::NOT_A_DIRECTORY) => "not a directory",
                Some(NtStatus::FILE_IS_A_DIRECTORY) => "is a directory",
                Some(NtStatus::DIRECTORY_NOT_EMPTY) => "directory not empty",
                _ => "wrong file type (not a directory, is a directory, or not empty)",
            })?,
            ErrorKind::Unsupported => f.write_str("not supported by the server")?,
            ErrorKind::ShutDown => f.write_str("the client was shut down")?,
            ErrorKind::Channel(e) => write!(f, "{e}")?,
            ErrorKind::Session(e) => write!(f, "{e}")?,
            ErrorKind::Integrity(e) => write!(
                f,
                "integrity check failed ({e}): the response may have been tampered with"
            )?,
            ErrorKind::Downgrade => f.write_str(
                "the protocol negotiation was tampered with (possible downgrade attack)",
            )?,
            ErrorKind::Protocol(why) => write!(f, "protocol error: {why}")?,
            ErrorKind::TooLarge => {
                f.write_str("too large to hold in memory (over the size limit)")?
            }
            ErrorKind::DfsTargetsDiffer => {
                f.write_str("the paths lead through DFS links to different shares")?
            }
            ErrorKind::Status => match self.status.and_then(|s| s.description()) {
                // The status's own description, lower-cased to continue the sentence.
                Some(d) => {
                    let mut c = d.chars();
                    if let Some(first) = c.next() {
                        write!(f, "{}{}", first.to_ascii_lowercase(), c.as_str())?;
                    }
                }
                None => f.write_str("the server reported an error")?,
            },
            ErrorKind::Rpc(e) => write!(f, "{e}")?,
        }
        match (&self.kind, ctx) {
            (ErrorKind::BadShare | ErrorKind::ServerGone | ErrorKind::TimedOut, _) | (_, None) => {}
            (_, Some(c)) => write!(f, ": {c}")?,
        }
        // The status by name only: the words are the message above.
        match self.status.map(|s| (s, s.name())) {
            Some((_, Some(name))) => write!(f, " ({name})")?,
            Some((s, None)) => write!(f, " (NTSTATUS {:#010x})", s.0)?,
            None => {}
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SubmitError {}
#[cfg(feature = "std")]
impl std::error::Error for ChannelError {}
#[cfg(feature = "std")]
impl std::error::Error for SessionError {}
#[cfg(feature = "std")]
impl std::error::Error for OpError {}
