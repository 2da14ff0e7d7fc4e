//! `connect_url`'s part shared by the adapters: from a URL and a password (or full
//! [`Credentials`]) to the address, the login and the share to connect to.

use super::Credentials;
use crate::client::ServerAddr;
use crate::url::{SmbUrl, UrlError};
use alloc::string::String;
use std::io;

/// What `connect_url` logs in with.
pub enum UrlLogin {
    /// A password for the URL's user (and domain, `smb://DOMAIN;user@host/share`).
    Password(zeroize::Zeroizing<String>),
    /// Complete credentials; a user named in the URL must be theirs.
    Credentials(Credentials),
}

impl From<&str> for UrlLogin {
    fn from(p: &str) -> Self {
        UrlLogin::Password(zeroize::Zeroizing::new(p.into()))
    }
}

impl From<String> for UrlLogin {
    fn from(p: String) -> Self {
        UrlLogin::Password(zeroize::Zeroizing::new(p))
    }
}

impl From<Credentials> for UrlLogin {
    fn from(c: Credentials) -> Self {
        UrlLogin::Credentials(c)
    }
}

impl core::fmt::Debug for UrlLogin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UrlLogin::Password(_) => f.write_str("Password([redacted])"),
            UrlLogin::Credentials(_) => f.write_str("Credentials(..)"),
        }
    }
}

/// Where and as whom `connect_url` connects.
#[derive(Debug)]
pub struct UrlTarget {
    /// The server's address (`host:port`).
    pub addr: ServerAddr,
    /// The login.
    pub credentials: Credentials,
    /// The share named by the URL.
    pub share: String,
    /// The path inside the share (SMB form, empty for the root).
    pub path: String,
}

/// Resolve `url` (`smb://[domain;]user@host[:port]/share[/path]`, `\\host\share\path` or
/// `//host/share/path`) and `login` into a [`UrlTarget`]. A password argument takes the
/// user and domain from the URL (and wins over a password written in the URL); credentials
/// are used as they are, but must not name a different user than the URL. Every refusal is
/// an `io::Error` of kind `InvalidInput` holding the [`UrlError`].
pub fn url_target(url: &str, login: UrlLogin) -> io::Result<UrlTarget> {
    let bad = |e: UrlError| io::Error::new(io::ErrorKind::InvalidInput, e);
    let u = SmbUrl::parse_any(url).map_err(bad)?;
    let share = u.share.clone().ok_or(UrlError::MissingShare).map_err(bad)?;
    let credentials = match login {
        UrlLogin::Password(p) => {
            let user = u.user.clone().ok_or(UrlError::MissingUser).map_err(bad)?;
            Credentials::Password {
                domain: u.domain.clone(),
                user,
                password: p,
            }
        }
        UrlLogin::Credentials(c) => {
            if let (Credentials::Password { user, .. }, Some(url_user)) = (&c, &u.user) {
                if !user.eq_ignore_ascii_case(url_user) {
                    return Err(bad(UrlError::UserMismatch {
                        url: url_user.clone(),
                        credentials: user.clone(),
                    }));
                }
            }
            c
        }
    };
    Ok(UrlTarget {
        addr: ServerAddr(u.socket_addr()),
        credentials,
        share,
        path: u.path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    fn err(url: &str, login: UrlLogin) -> UrlError {
        let e = url_target(url, login).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        e.into_inner()
            .unwrap()
            .downcast::<UrlError>()
            .map(|b| *b)
            .unwrap()
    }

    #[test]
    fn password_takes_user_and_domain_from_the_url() {
        let t = url_target("smb://DOM;alice:inurl@127.0.0.1:4455/data/a/b", "pw".into()).unwrap();
        assert_eq!(t.addr.0, "127.0.0.1:4455");
        assert_eq!((t.share.as_str(), t.path.as_str()), ("data", "a\\b"));
        match t.credentials {
            Credentials::Password {
                domain,
                user,
                password,
            } => {
                assert_eq!((domain.as_deref(), user.as_str()), (Some("DOM"), "alice"));
                assert_eq!(password.as_str(), "pw");
            }
            _ => panic!("not a password login"),
        }
    }

    #[test]
    fn credentials_are_used_as_given() {
        let t = url_target(r"\\127.0.0.1\data", Credentials::guest().into()).unwrap();
        assert!(matches!(t.credentials, Credentials::Guest));
        assert_eq!(
            (t.addr.0.as_str(), t.share.as_str()),
            ("127.0.0.1:445", "data")
        );
        let c = Credentials::password(None, "Alice", "x");
        assert!(url_target("smb://alice@h/s", c.into()).is_ok());
        assert!(format!("{:?}", UrlLogin::from("secret")).contains("redacted"));
    }

    #[test]
    fn refusals() {
        assert_eq!(err("smb://alice@h", "pw".into()), UrlError::MissingShare);
        assert_eq!(err("//h", "pw".into()), UrlError::MissingShare);
        assert_eq!(err("smb://h/s", "pw".into()), UrlError::MissingUser);
        assert_eq!(err(r"\\h\s", "pw".into()), UrlError::MissingUser);
        assert_eq!(err("h/s", "pw".into()), UrlError::UnknownForm);
        let c = Credentials::password(None, "bob", "x");
        assert_eq!(
            err("smb://alice@h/s", c.into()),
            UrlError::UserMismatch {
                url: "alice".into(),
                credentials: "bob".into()
            }
        );
        let e = url_target("smb://h/s", "pw".into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "URL names no user for the password (smb://user@host/share)"
        );
    }
}
