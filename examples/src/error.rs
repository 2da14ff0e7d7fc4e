//! What can go wrong in the CLI, as one-line messages and distinct exit codes.

use std::fmt;
use std::io;

/// Exit codes of the `smb` binary (also listed in `smb --help`).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Any error not listed below (protocol error, timeout, server refused the operation).
    pub const OTHER: i32 = 1;
    /// Bad command line (clap's own code for usage errors).
    pub const USAGE: i32 = 2;
    /// The URL could not be parsed or lacks a part the command needs.
    pub const BAD_URL: i32 = 3;
    /// The server could not be reached (refused, unreachable, name not resolved, timed out).
    pub const UNREACHABLE: i32 = 4;
    /// The server refused the credentials.
    pub const LOGON_FAILURE: i32 = 5;
    /// The share does not exist on the server.
    pub const SHARE_NOT_FOUND: i32 = 6;
    /// The remote file or directory does not exist.
    pub const NOT_FOUND: i32 = 7;
    /// The server denied access.
    pub const ACCESS_DENIED: i32 = 8;
    /// The remote file or directory already exists.
    pub const ALREADY_EXISTS: i32 = 9;
    /// A local file could not be read or written.
    pub const LOCAL_IO: i32 = 10;
    /// The requested runtime is not compiled into this binary.
    pub const NO_RUNTIME: i32 = 11;
    /// The server's host name could not be resolved to an address.
    pub const NAME_RESOLUTION: i32 = 12;
    /// Signing or encryption was required (by `--sign`/`--encrypt`, the server or the
    /// share) and cannot be had, or a message failed its integrity check.
    pub const SECURITY: i32 = 13;
    /// Interrupted by Ctrl-C (SIGINT), after cleaning up.
    pub const INTERRUPTED: i32 = 130;
    /// Stopped by SIGTERM, after cleaning up.
    pub const TERMINATED: i32 = 143;
}

/// How serious a failure with exit code `code` is, to pick the exit code when several
/// operations of one command fail: an interruption, then anything that ends the session
/// (connection, logon, security, usage), then other errors, local file errors, access
/// denied, already exists, and not found last.
pub fn severity(code: i32) -> u8 {
    match code {
        exit::OK => 0,
        exit::NOT_FOUND => 1,
        exit::ALREADY_EXISTS => 2,
        exit::ACCESS_DENIED => 3,
        exit::LOCAL_IO => 4,
        exit::OTHER => 5,
        exit::INTERRUPTED | exit::TERMINATED => 7,
        _ => 6,
    }
}

/// The help text that documents [`exit`].
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success                      7  remote file or directory not found
  1  other error                  8  access denied
  2  usage error                  9  remote file or directory already exists
  3  invalid URL                 10  local file error
  4  server unreachable          11  runtime not built in
  5  logon failure (credentials) 12  host name not resolved
  6  share not found             13  signing or encryption refused or failed
130  interrupted (Ctrl-C)       143  terminated (SIGTERM)
When several operations fail (rm, get -r...), each failure is reported and the exit code
is that of the most serious one.";

/// A failed command: its exit code and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One of the [`exit`] codes.
    pub code: i32,
    /// What went wrong, naming the cause (never contains the password).
    pub message: String,
    /// The message was already printed (a summary of several failures reported one by
    /// one).
    pub reported: bool,
    /// A handle was lost with a cut connection (the server did not give it back): writing
    /// the file again under a new name can still succeed.
    pub handle_lost: bool,
}

impl Failure {
    /// A failure with an explicit code.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            reported: false,
            handle_lost: false,
        }
    }

    /// Stopped by a signal (Ctrl-C).
    pub fn interrupted() -> Self {
        let code = match crate::interrupt::exit_code() {
            exit::OK => exit::INTERRUPTED,
            c => c,
        };
        Self::new(code, "interrupted")
    }

    /// stdout went away (`smb cat URL | head`): the command stops, and that is success.
    pub fn stdout_closed() -> Self {
        Self::new(exit::OK, "stdout closed")
    }

    /// Whether this failure is an interruption.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.code, exit::INTERRUPTED | exit::TERMINATED)
    }

    /// Bad usage.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(exit::USAGE, message)
    }

    /// An invalid URL.
    pub fn bad_url(url: &str, why: impl fmt::Display) -> Self {
        Self::new(
            exit::BAD_URL,
            format!("invalid URL {:?}: {why}", redact_url(url)),
        )
    }

    /// A local file error.
    pub fn local(path: &std::path::Path, e: &io::Error) -> Self {
        Self::new(
            exit::LOCAL_IO,
            format!("local file {}: {}", path.display(), plain(e)),
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// At which step a remote error happened: the same error kind means different things at
/// different steps (NotFound while connecting a share means the share does not exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// TCP connect, negotiate, session setup.
    Connect,
    /// Tree connect.
    Share,
    /// An operation on a path inside the share.
    Op,
}

/// The error text with its whole `source()` chain, lowercased, for keyword matching.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        s.push_str(": ");
        s.push_str(&src.to_string());
        cur = src.source();
    }
    s.to_ascii_lowercase()
}

/// `e`'s message without Rust's ` (os error N)` noise.
pub fn plain(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn has_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

/// Turn an error of the adapters into a [`Failure`]. `server` is `host:port`, `share` the
/// share name and `path` the remote path the operation was about (for the message).
pub fn classify(e: &io::Error, phase: Phase, server: &str, share: &str, path: &str) -> Failure {
    use io::ErrorKind as K;
    let text = chain_text(e);
    let detail = plain(e);
    let kind = e.kind();
    let shown_path = if path.is_empty() {
        format!("/{share}")
    } else {
        format!("/{share}/{}", path.replace('\\', "/"))
    };

    // The engine's own error, when the adapter kept it inside the io::Error.
    let op_kind = smb_core::driver::op_error(e).map(|op| &op.kind);
    use smb_core::client::{ErrorKind as E, SessionError};
    let engine_logon = matches!(
        op_kind,
        Some(E::LogonFailure | E::Session(SessionError::LogonFailure(_)))
    );
    if let Some(f) = security_failure(op_kind, server, share, &detail) {
        return f;
    }
    if matches!(op_kind, Some(E::HandleLost)) {
        let mut f = Failure::new(
            exit::OTHER,
            format!("handle lost: {shown_path} on {server} ({detail})"),
        );
        f.handle_lost = true;
        return f;
    }
    if matches!(op_kind, Some(E::BadShare)) {
        return Failure::new(
            exit::SHARE_NOT_FOUND,
            format!("share not found: {server} has no share named {share:?} ({detail})"),
        );
    }

    if let Some(E::Session(SessionError::Auth(_))) = op_kind {
        return Failure::new(
            exit::LOGON_FAILURE,
            format!("logon failure: cannot authenticate to {server} ({detail})"),
        );
    }
    let logon = engine_logon
        || has_any(
            &text,
            &[
                "logon failure",
                "logon failed",
                "logon_failure",
                "wrong password",
            ],
        )
        || (phase == Phase::Connect
            && op_kind.is_none()
            && (kind == K::PermissionDenied
                || has_any(&text, &["account", "password", "credentials"])));
    if logon {
        return Failure::new(
            exit::LOGON_FAILURE,
            format!(
                "logon failure: the server {server} refused the user name or password ({detail})"
            ),
        );
    }
    let unreachable = matches!(
        kind,
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::AddrNotAvailable
            | K::TimedOut
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
    ) || has_any(
        &text,
        &[
            "connection refused",
            "failed to lookup address",
            "name or service not known",
            "no route to host",
            "network is unreachable",
        ],
    );
    if phase == Phase::Connect && unreachable {
        return Failure::new(
            exit::UNREACHABLE,
            format!("server unreachable: cannot connect to {server} ({detail})"),
        );
    }
    if phase == Phase::Share
        && (kind == K::NotFound
            || has_any(
                &text,
                &["bad_network_name", "bad network name", "no such share"],
            ))
    {
        return Failure::new(
            exit::SHARE_NOT_FOUND,
            format!("share not found: {server} has no share named {share:?} ({detail})"),
        );
    }
    if kind == K::PermissionDenied || has_any(&text, &["access denied", "access_denied"]) {
        let what = if phase == Phase::Share {
            format!("share {share:?}")
        } else {
            shown_path
        };
        return Failure::new(
            exit::ACCESS_DENIED,
            format!("access denied: {what} on {server} ({detail})"),
        );
    }
    if phase == Phase::Op && kind == K::NotFound {
        return Failure::new(
            exit::NOT_FOUND,
            format!("not found: {shown_path} on {server} ({detail})"),
        );
    }
    if phase == Phase::Op && kind == K::AlreadyExists {
        return Failure::new(
            exit::ALREADY_EXISTS,
            format!("already exists: {shown_path} on {server} ({detail})"),
        );
    }
    if unreachable {
        return Failure::new(
            exit::UNREACHABLE,
            format!("connection to {server} lost ({detail})"),
        );
    }
    let step = match phase {
        Phase::Connect => format!("connecting to {server}"),
        Phase::Share => format!("opening share {share:?} on {server}"),
        Phase::Op => format!("{shown_path} on {server}"),
    };
    Failure::new(exit::OTHER, format!("{step}: {detail}"))
}

/// Signing or encryption that cannot be had, or a message that failed its integrity check.
fn security_failure(
    kind: Option<&smb_core::client::ErrorKind>,
    server: &str,
    share: &str,
    detail: &str,
) -> Option<Failure> {
    use smb_core::client::{ChannelError as C, ErrorKind as E, SessionError as S};
    let what = match kind? {
        E::SigningRequired | E::Session(S::SigningUnavailable) => "signing refused",
        E::EncryptionRequired | E::Session(S::EncryptionUnavailable) => "encryption refused",
        E::Channel(C::BadSignature(_) | C::Unsigned(_)) => "signature check failed",
        E::Channel(C::DecryptFailed | C::Unencrypted(_)) => "encryption check failed",
        E::Channel(C::Downgrade) => "negotiation check failed",
        _ => return None,
    };
    let _ = share;
    Some(Failure::new(
        exit::SECURITY,
        format!("{what}: {server}: {detail}"),
    ))
}

/// Collects the failures of a command that goes on after one (rm of many paths, a
/// recursive copy): each is printed at once; [`Failures::finish`] gives the exit status of
/// the most serious one.
#[derive(Debug, Default)]
pub struct Failures {
    worst: Option<Failure>,
    count: usize,
}

impl Failures {
    /// A new, empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Report `f` now and remember it.
    pub fn add(&mut self, f: Failure) {
        if !f.reported && f.code != exit::OK {
            eprintln!("smb: {f}");
        }
        self.count += 1;
        let worse = match &self.worst {
            None => true,
            Some(w) => severity(f.code) > severity(w.code),
        };
        if worse {
            self.worst = Some(f);
        }
    }

    /// Record the result of one operation.
    pub fn record<T>(&mut self, r: Result<T, Failure>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(f) => {
                self.add(f);
                None
            }
        }
    }

    /// How many failed.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the most serious failure so far is an interruption (stop the work).
    pub fn interrupted(&self) -> bool {
        self.worst.as_ref().is_some_and(Failure::is_interrupted)
    }

    /// `Ok` when nothing failed; else the worst failure (already printed). With one
    /// failure the status is that failure; with several, a summary of `total` operations
    /// named `what` follows the individual lines.
    pub fn finish(self, total: usize, what: &str) -> Result<(), Failure> {
        match self.worst {
            None => Ok(()),
            Some(mut w) if self.count == 1 => {
                w.reported = true;
                Err(w)
            }
            Some(w) => {
                let msg = format!("{} of {total} {what} failed", self.count);
                eprintln!("smb: {msg}");
                Err(Failure {
                    code: w.code,
                    message: msg,
                    reported: true,
                    handle_lost: false,
                })
            }
        }
    }
}

/// The URL with any password part replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    // smb://[domain;]user[:password]@host...: hide what stands between the first ':' of the
    // user part and the last '@' of the authority.
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    if let Some(at) = authority.rfind('@') {
        if let Some(colon) = authority[..at].find(':') {
            return format!(
                "{}{}:***{}",
                &url[..scheme_end + 3],
                &authority[..colon],
                &rest[at..]
            );
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(kind: io::ErrorKind, msg: &str, phase: Phase) -> Failure {
        classify(
            &io::Error::new(kind, msg.to_string()),
            phase,
            "h:445",
            "s",
            "a\\b",
        )
    }

    #[test]
    fn classification() {
        use io::ErrorKind as K;
        assert_eq!(
            c(K::ConnectionRefused, "refused", Phase::Connect).code,
            exit::UNREACHABLE
        );
        assert_eq!(
            c(K::PermissionDenied, "STATUS_LOGON_FAILURE", Phase::Connect).code,
            exit::LOGON_FAILURE
        );
        assert_eq!(
            c(K::Other, "logon failure", Phase::Connect).code,
            exit::LOGON_FAILURE
        );
        assert_eq!(
            c(K::NotFound, "STATUS_BAD_NETWORK_NAME", Phase::Share).code,
            exit::SHARE_NOT_FOUND
        );
        assert_eq!(
            c(K::PermissionDenied, "x", Phase::Share).code,
            exit::ACCESS_DENIED
        );
        let f = c(K::NotFound, "STATUS_OBJECT_NAME_NOT_FOUND", Phase::Op);
        assert_eq!(f.code, exit::NOT_FOUND);
        assert!(f.message.contains("/s/a/b"), "{}", f.message);
        assert_eq!(
            c(K::PermissionDenied, "x", Phase::Op).code,
            exit::ACCESS_DENIED
        );
        assert_eq!(
            c(K::AlreadyExists, "x", Phase::Op).code,
            exit::ALREADY_EXISTS
        );
        assert_eq!(c(K::Other, "weird", Phase::Op).code, exit::OTHER);
    }

    #[test]
    fn engine_errors_inside_io_errors() {
        use smb_core::client::{ErrorKind as E, OpError};
        use smb_core::driver::to_io_error;
        let f = |k, phase| classify(&to_io_error(OpError::new(k)), phase, "h:445", "s", "x");
        assert_eq!(f(E::LogonFailure, Phase::Connect).code, exit::LOGON_FAILURE);
        assert_eq!(f(E::BadShare, Phase::Share).code, exit::SHARE_NOT_FOUND);
        assert_eq!(f(E::NotFound, Phase::Op).code, exit::NOT_FOUND);
        assert_eq!(f(E::AccessDenied, Phase::Op).code, exit::ACCESS_DENIED);
        assert_eq!(f(E::AlreadyExists, Phase::Op).code, exit::ALREADY_EXISTS);
        let m = f(E::LogonFailure, Phase::Connect).message;
        assert!(m.starts_with("logon failure"), "{m}");
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("smb://u:secret@h/s"), "smb://u:***@h/s");
        assert_eq!(
            redact_url("smb://d;u:p@ss@h:1/s/x"),
            "smb://d;u:***@h:1/s/x"
        );
        assert_eq!(redact_url("smb://u@h/s"), "smb://u@h/s");
        assert_eq!(redact_url("smb://h:445/s"), "smb://h:445/s");
        assert_eq!(redact_url("nonsense"), "nonsense");
    }
}
