//! Authentication: the [`Authenticator`] trait and the built-in mechanisms.
//!
//! SMB2 SESSION_SETUP carries GSS-API tokens; every Windows and Samba server speaks SPNEGO
//! ([MS-SPNG], RFC 4178) there. An [`Authenticator`] produces those tokens one step at a time
//! and, once done, yields the session key SMB derives its signing and encryption keys from.
//! The built-in one is [`NtlmAuthenticator`]: NTLMv2 ([MS-NLMP]) inside SPNEGO. Kerberos can
//! plug in later through the same trait.
//!
//! # How the engine drives an authenticator
//!
//! ```text
//! NEGOTIATE response buffer (SPNEGO hint, maybe empty)
//!     └─ step(hint)          → Send(t1)   t1 = NegTokenInit{[NTLMSSP], NEGOTIATE_MESSAGE}
//! SESSION_SETUP(t1) → STATUS_MORE_PROCESSING_REQUIRED, buffer b1
//!     └─ step(b1)            → Send(t2)   b1 = NegTokenResp{accept-incomplete, CHALLENGE}
//!                                         t2 = NegTokenResp{AUTHENTICATE, mechListMIC}
//! SESSION_SETUP(t2) → STATUS_SUCCESS, buffer b2 (possibly empty)
//!     └─ step(b2)            → Done       b2 = NegTokenResp{accept-completed, mechListMIC?}
//!                                         (the server's mechListMIC is verified here)
//! session_key() → Some(ExportedSessionKey)   (None for anonymous and guest)
//! ```
//!
//! Rules for the engine:
//! 1. The first call gets the NEGOTIATE response's security buffer (an empty slice if the
//!    server sent none). It always returns [`AuthStep::Send`].
//! 2. After STATUS_MORE_PROCESSING_REQUIRED, call `step` with the response's buffer; it
//!    returns `Send` (send another SESSION_SETUP). `Done` there is a protocol error.
//! 3. After STATUS_SUCCESS, call `step` once more with the response's buffer, even when it is
//!    empty; it returns `Done` once the final token checks out (for NTLM: the server's
//!    mechListMIC, when present), or an error, in which case the session must not be used.
//! 4. Any other status ends the exchange; the authenticator is dropped.
//! 5. [`Authenticator::session_key`] is read after `Done`. SMB uses its first 16 bytes
//!    ([MS-SMB2] 3.2.5.3.1); NTLM's key is exactly 16 bytes, Kerberos' may be longer.
//!    [`Authenticator::kind`] tells whether the identity is a user, the guest or anonymous;
//!    the engine combines it with the SessionFlags of the response (IS_GUEST, IS_NULL) for
//!    its signing policy: guest and anonymous sessions cannot sign.
//!
//! An authenticator is good for one exchange. The engine holds an [`AuthFactory`] instead
//! and asks it for a fresh authenticator for every exchange: the first login, a
//! re-authentication after STATUS_NETWORK_SESSION_EXPIRED, a new session after a reconnect
//! (SESSION_SETUP with PreviousSessionId) and each channel binding. The factory keeps the
//! credentials (zeroized on drop) for as long as the client lives.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use crate::time::FileTime;

pub mod der;
pub mod ntlm;
mod ntlm_auth;
pub mod spnego;
#[cfg(test)]
mod switch_tests;
pub mod testing;

pub use ntlm_auth::NtlmAuthenticator;

/// One step of a security exchange: what the engine is to do next.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// Send this token in the next SESSION_SETUP request.
    Send(Vec<u8>),
    /// Nothing more to send: the exchange is complete on this side.
    Done,
}

impl fmt::Debug for AuthStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthStep::Send(t) => write!(f, "Send({} bytes)", t.len()),
            AuthStep::Done => f.write_str("Done"),
        }
    }
}

/// What kind of identity an authenticator presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// A named user with a secret: the session can sign and encrypt.
    User,
    /// The guest account (no secret): no session key, no signing.
    Guest,
    /// An anonymous (NULL) session: no session key, no signing.
    Anonymous,
}

/// What an authenticator may use from the outside world during a step.
pub struct AuthContext<'a> {
    /// The wall-clock time, for the NTLMv2 blob when the server sends no timestamp.
    pub now: FileTime,
    /// Cryptographic randomness (client challenge, exported session key).
    pub rng: &'a mut dyn rand_core::CryptoRngCore,
    /// The server's host name as the caller addressed it. NTLM puts `cifs/<server_name>` in
    /// MsvAvTargetName; Kerberos would build its SPN from it. May be empty.
    pub server_name: &'a str,
}

impl fmt::Debug for AuthContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthContext")
            .field("now", &self.now)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// A security mechanism that produces SESSION_SETUP tokens. See the module documentation for
/// the order of calls.
pub trait Authenticator: Send {
    /// One step of the exchange. `server_token` is the security buffer from the server: the
    /// NEGOTIATE response's buffer (a SPNEGO NegTokenInit hint, possibly empty) for the first
    /// call, then each SESSION_SETUP response's buffer (MORE_PROCESSING_REQUIRED and the final
    /// SUCCESS alike). Returns the token for the next SESSION_SETUP request, or `Done`.
    fn step(
        &mut self,
        server_token: &[u8],
        ctx: &mut AuthContext<'_>,
    ) -> Result<AuthStep, AuthError>;

    /// The session key once the exchange produced one; `None` before, after a failure, and
    /// for anonymous and guest identities.
    fn session_key(&self) -> Option<&[u8]>;

    /// What kind of identity this is.
    fn kind(&self) -> AuthKind;
}

/// Makes a fresh [`Authenticator`] for each security exchange of a client's life (first
/// login, re-authentication, a new session after a reconnect, channel binding). It keeps the
/// credentials; they never appear in its `Debug` output.
pub trait AuthFactory: Send {
    /// A new authenticator, at the start of its exchange.
    fn start(&mut self) -> Result<alloc::boxed::Box<dyn Authenticator>, AuthError>;
    /// What kind of identity the exchanges present (the same for every exchange).
    fn kind(&self) -> AuthKind;
}

/// The [`AuthFactory`] of the built-in NTLMv2 authenticator: a user's credentials, the guest
/// account or an anonymous session.
#[derive(Clone, Debug)]
pub struct NtlmFactory {
    creds: Option<NtlmCredentials>,
    kind: AuthKind,
}

impl NtlmFactory {
    /// Log in as a user.
    pub fn user(creds: NtlmCredentials) -> Self {
        NtlmFactory {
            creds: Some(creds),
            kind: AuthKind::User,
        }
    }
    /// The guest account.
    pub fn guest() -> Self {
        NtlmFactory {
            creds: None,
            kind: AuthKind::Guest,
        }
    }
    /// An anonymous (NULL) session.
    pub fn anonymous() -> Self {
        NtlmFactory {
            creds: None,
            kind: AuthKind::Anonymous,
        }
    }
}

impl AuthFactory for NtlmFactory {
    fn start(&mut self) -> Result<alloc::boxed::Box<dyn Authenticator>, AuthError> {
        Ok(match (self.kind, &self.creds) {
            (AuthKind::User, Some(c)) => alloc::boxed::Box::new(NtlmAuthenticator::new(c.clone())),
            (AuthKind::Guest, _) => alloc::boxed::Box::new(NtlmAuthenticator::guest()),
            _ => alloc::boxed::Box::new(NtlmAuthenticator::anonymous()),
        })
    }
    fn kind(&self) -> AuthKind {
        self.kind
    }
}

/// An [`AuthFactory`] around one ready-made authenticator: good for a single exchange. A
/// second exchange (re-authentication, a reconnect) fails with
/// [`AuthError::UnexpectedStep`]; give the client a real factory to survive those.
pub struct OneShot {
    auth: Option<alloc::boxed::Box<dyn Authenticator>>,
    kind: AuthKind,
}

impl OneShot {
    /// Wrap `auth`.
    pub fn new(auth: alloc::boxed::Box<dyn Authenticator>) -> Self {
        let kind = auth.kind();
        OneShot {
            auth: Some(auth),
            kind,
        }
    }
}

impl fmt::Debug for OneShot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneShot")
            .field("kind", &self.kind)
            .field("used", &self.auth.is_none())
            .finish()
    }
}

impl AuthFactory for OneShot {
    fn start(&mut self) -> Result<alloc::boxed::Box<dyn Authenticator>, AuthError> {
        self.auth.take().ok_or(AuthError::UnexpectedStep {
            state: "a one-shot authenticator cannot authenticate twice",
        })
    }
    fn kind(&self) -> AuthKind {
        self.kind
    }
}

/// Why authentication failed on the client side.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// A token from the server could not be decoded.
    MalformedToken {
        /// The structure or field at fault.
        what: &'static str,
    },
    /// The server's initial token is a GSS-API token of another mechanism, not SPNEGO.
    NotSpnego,
    /// The server offers (or chose) no mechanism this authenticator implements.
    NoCommonMechanism,
    /// The server answered SPNEGO `reject`.
    Rejected,
    /// The server's mechListMIC does not verify: the negotiation may have been tampered with.
    ServerMicInvalid,
    /// The server's answer lacks a token the exchange needs.
    MissingToken {
        /// The missing token.
        what: &'static str,
    },
    /// The server requires something this client does not do.
    UnsupportedServer {
        /// The missing capability.
        what: &'static str,
    },
    /// A token would exceed the format's limits (a 16-bit NTLM length).
    TokenTooLarge,
    /// `step` was called when the exchange cannot take another step (after `Done`, after
    /// an error, or when the server wants another round the mechanism does not have).
    UnexpectedStep {
        /// Where the exchange stood.
        state: &'static str,
    },
    /// The mechanism itself failed on the client side (e.g. Kerberos through the system
    /// GSS-API: no ticket, unknown principal, KDC unreachable); `message` names the cause.
    Mechanism {
        /// The mechanism ("Kerberos").
        mechanism: &'static str,
        /// What went wrong and what to do.
        message: String,
    },
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MalformedToken { what } => write!(f, "malformed security token: {what}"),
            AuthError::NotSpnego => f.write_str("the server's security token is not SPNEGO"),
            AuthError::NoCommonMechanism => f.write_str(
                "the server offers none of the login's authentication mechanisms (NTLM: \
                 NTLMSSP; Kerberos: KRB5 or MS-KRB5); use a login the server accepts",
            ),
            AuthError::Rejected => f.write_str("the server rejected the authentication"),
            AuthError::ServerMicInvalid => {
                f.write_str("the server's SPNEGO mechListMIC does not verify")
            }
            AuthError::MissingToken { what } => write!(f, "the server sent no {what}"),
            AuthError::UnsupportedServer { what } => {
                write!(f, "the server requires an unsupported feature: {what}")
            }
            AuthError::TokenTooLarge => f.write_str("security token too large"),
            AuthError::UnexpectedStep { state } => {
                write!(f, "unexpected authentication step ({state})")
            }
            AuthError::Mechanism { mechanism, message } => write!(f, "{mechanism}: {message}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AuthError {}

/// The secret half of NTLM credentials. Zeroized on drop; prints as `[redacted]`.
#[derive(Clone)]
pub enum NtlmSecret {
    /// A password.
    Password(Zeroizing<String>),
    /// The NT hash, MD4(UTF-16LE(password)) (pass-the-hash).
    NtHash(Zeroizing<[u8; 16]>),
}

impl fmt::Debug for NtlmSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A user's NTLM credentials.
#[derive(Clone)]
pub struct NtlmCredentials {
    /// The user's domain (may be empty; Samba then uses its own workgroup).
    pub domain: String,
    /// The user name.
    pub user: String,
    /// The password or NT hash.
    pub secret: NtlmSecret,
}

impl NtlmCredentials {
    /// Credentials with a password.
    pub fn password(
        domain: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        NtlmCredentials {
            domain: domain.into(),
            user: user.into(),
            secret: NtlmSecret::Password(Zeroizing::new(password.into())),
        }
    }

    /// Credentials with an NT hash instead of a password.
    pub fn nt_hash(domain: impl Into<String>, user: impl Into<String>, hash: [u8; 16]) -> Self {
        NtlmCredentials {
            domain: domain.into(),
            user: user.into(),
            secret: NtlmSecret::NtHash(Zeroizing::new(hash)),
        }
    }
}

impl fmt::Debug for NtlmCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtlmCredentials")
            .field("domain", &self.domain)
            .field("user", &self.user)
            .field("secret", &self.secret)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn factories_make_a_fresh_exchange_each_time_and_one_shot_refuses_a_second() {
        let mut f = NtlmFactory::user(NtlmCredentials::password("D", "alice", "pw"));
        assert_eq!(f.kind(), AuthKind::User);
        assert!(!format!("{f:?}").contains("pw"));
        for _ in 0..3 {
            let a = f.start().unwrap();
            assert_eq!(a.kind(), AuthKind::User);
            assert!(a.session_key().is_none(), "a fresh exchange has no key yet");
        }
        assert_eq!(
            NtlmFactory::guest().start().unwrap().kind(),
            AuthKind::Guest
        );
        assert_eq!(
            NtlmFactory::anonymous().start().unwrap().kind(),
            AuthKind::Anonymous
        );
        let mut once = OneShot::new(alloc::boxed::Box::new(NtlmAuthenticator::guest()));
        assert_eq!(once.kind(), AuthKind::Guest);
        assert!(once.start().is_ok());
        assert!(matches!(
            once.start(),
            Err(AuthError::UnexpectedStep { .. })
        ));
    }

    #[test]
    fn secrets_are_redacted() {
        let c = NtlmCredentials::password("DOM", "alice", "hunter2");
        let s = format!("{c:?}");
        assert!(s.contains("alice") && s.contains("[redacted]") && !s.contains("hunter2"));
        let h = NtlmCredentials::nt_hash("", "bob", [0xab; 16]);
        assert!(!format!("{h:?}").contains("ab"));
    }

    #[test]
    fn errors_display() {
        let all = [
            AuthError::MalformedToken { what: "x" },
            AuthError::NotSpnego,
            AuthError::NoCommonMechanism,
            AuthError::Rejected,
            AuthError::ServerMicInvalid,
            AuthError::MissingToken {
                what: "CHALLENGE_MESSAGE",
            },
            AuthError::UnsupportedServer { what: "y" },
            AuthError::TokenTooLarge,
            AuthError::UnexpectedStep { state: "done" },
        ];
        for e in all {
            assert!(!format!("{e}").is_empty());
        }
        assert_eq!(
            format!("{}", AuthError::NoCommonMechanism),
            "the server offers none of the login's authentication mechanisms (NTLM: NTLMSSP; \
             Kerberos: KRB5 or MS-KRB5); use a login the server accepts"
        );
    }
}
