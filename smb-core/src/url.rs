//! `smb://` URLs and share paths, parsed the same way by every adapter and the CLI.
//!
//! Form: `smb://[domain;]user[:password]@host[:port][/share[/path...]]`. The host may be a
//! name, an IPv4 address or a bracketed IPv6 address. Percent-escapes are decoded in the user,
//! domain, password and path parts, so `%40` can stand for `@` in a user name.
//!
//! [`SmbUrl::parse_any`] also takes the UNC forms `\\host\share\path` and
//! `//host/share/path` (no user part, no percent-escapes: `%` is an ordinary name character
//! there).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Default port of SMB over direct TCP.
pub const DEFAULT_PORT: u16 = 445;

/// A parsed `smb://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SmbUrl {
    /// Domain (before `;` in the user part), if given.
    pub domain: Option<String>,
    /// User name, if given.
    pub user: Option<String>,
    /// Password from the URL, if given (discouraged: prefer an environment variable).
    pub password: Option<String>,
    /// Host name or address, without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Share name, if the URL names one.
    pub share: Option<String>,
    /// Path inside the share in SMB form (backslash-separated, no leading separator; empty for
    /// the share root).
    pub path: String,
}

impl fmt::Debug for SmbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmbUrl")
            .field("domain", &self.domain)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("share", &self.share)
            .field("path", &self.path)
            .finish()
    }
}

/// Why a URL or path was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL does not start with `smb://`.
    NotSmbScheme,
    /// No host after `smb://`.
    MissingHost,
    /// The port is not a number from 1 to 65535.
    BadPort(String),
    /// A `[` without a matching `]` in an IPv6 host.
    BadIpv6,
    /// A percent-escape is malformed or decodes to invalid UTF-8.
    BadEscape,
    /// A path component is not allowed (e.g. `..`, or a character SMB forbids in names).
    BadPathComponent(String),
    /// The host holds a character no host name or address has (space, control character,
    /// `%`, `\`, or a user part `user@` in a UNC path).
    BadHost(String),
    /// Neither `smb://`, `\\host\share` nor `//host/share`.
    UnknownForm,
    /// Connecting needs a share in the URL (`smb://host/share`).
    MissingShare,
    /// A password was given but the URL names no user (`smb://user@host/share`).
    MissingUser,
    /// The URL names one user and the credentials another.
    UserMismatch {
        /// User in the URL.
        url: String,
        /// User in the credentials.
        credentials: String,
    },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::NotSmbScheme => f.write_str("URL must start with smb://"),
            UrlError::MissingHost => f.write_str("URL has no host"),
            UrlError::BadPort(p) => write!(f, "invalid port {p:?}"),
            UrlError::BadIpv6 => f.write_str("unterminated [ in IPv6 host"),
            UrlError::BadEscape => f.write_str("malformed percent-escape"),
            UrlError::BadPathComponent(c) => write!(f, "path component {c:?} is not allowed"),
            UrlError::BadHost(h) => write!(f, "invalid host {h:?}"),
            UrlError::MissingShare => f.write_str("URL names no share (smb://host/share)"),
            UrlError::MissingUser => {
                f.write_str("URL names no user for the password (smb://user@host/share)")
            }
            UrlError::UserMismatch { url, credentials } => write!(
                f,
                "URL names user {url:?} but the credentials are for {credentials:?}"
            ),
            UrlError::UnknownForm => {
                f.write_str("expected smb://host/share, \\\\host\\share or //host/share")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UrlError {}

impl SmbUrl {
    /// Parse an `smb://` URL.
    ///
    /// ```
    /// use smb_core::url::SmbUrl;
    /// let u = SmbUrl::parse("smb://WORKGROUP;alice@files.example:4455/data/reports/q1.txt").unwrap();
    /// assert_eq!(u.domain.as_deref(), Some("WORKGROUP"));
    /// assert_eq!(u.user.as_deref(), Some("alice"));
    /// assert_eq!((u.host.as_str(), u.port), ("files.example", 4455));
    /// assert_eq!(u.share.as_deref(), Some("data"));
    /// assert_eq!(u.path, "reports\\q1.txt");
    /// ```
    pub fn parse(url: &str) -> Result<SmbUrl, UrlError> {
        let rest = strip_prefix_ignore_case(url, "smb://").ok_or(UrlError::NotSmbScheme)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (mut domain, mut user, mut password) = (None, None, None);
        if let Some(ui) = userinfo {
            let (dom_user, pass) = match ui.find(':') {
                Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                None => (ui, None),
            };
            let (dom, usr) = match dom_user.find(';') {
                Some(i) => (Some(&dom_user[..i]), &dom_user[i + 1..]),
                None => (None, dom_user),
            };
            domain = dom
                .map(percent_decode)
                .transpose()?
                .filter(|d| !d.is_empty());
            user = Some(percent_decode(usr)?).filter(|u| !u.is_empty());
            password = pass.map(percent_decode).transpose()?;
        }
        let (host, port) = split_host_port(hostport)?;
        check_host(host)?;
        let mut parts = path.splitn(2, '/');
        let share = parts
            .next()
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .transpose()?;
        let path = match parts.next() {
            Some(p) => normalize_path(&percent_decode(p)?)?,
            None => String::new(),
        };
        Ok(SmbUrl {
            domain,
            user,
            password,
            host: host.to_string(),
            port,
            share,
            path,
        })
    }

    /// Parse an `smb://` URL or a UNC path, `\\host[:port]\share\path` or
    /// `//host[:port]/share/path` (either separator after the host). A UNC path has no user
    /// or password, and its names are taken literally (no percent-escapes).
    ///
    /// ```
    /// use smb_core::url::SmbUrl;
    /// let u = SmbUrl::parse_any(r"\\files\data\reports\100%.txt").unwrap();
    /// assert_eq!((u.host.as_str(), u.share.as_deref()), ("files", Some("data")));
    /// assert_eq!(u.path, "reports\\100%.txt");
    /// let u = SmbUrl::parse_any("//127.0.0.1:4455/data").unwrap();
    /// assert_eq!((u.port, u.path.as_str()), (4455, ""));
    /// assert!(SmbUrl::parse_any("files/data").is_err());
    /// ```
    pub fn parse_any(s: &str) -> Result<SmbUrl, UrlError> {
        if strip_prefix_ignore_case(s, "smb://").is_some() {
            return Self::parse(s);
        }
        let rest = match s.as_bytes() {
            [a, b, ..] if matches!(a, b'\\' | b'/') && a == b => &s[2..],
            _ => return Err(UrlError::UnknownForm),
        };
        let (authority, path) = match rest.find(['/', '\\']) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(UrlError::BadHost(authority.to_string()));
        }
        let (host, port) = split_host_port(authority)?;
        check_host(host)?;
        let (share, path) = match path.find(['/', '\\']) {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (path, ""),
        };
        if share
            .chars()
            .any(|c| (c as u32) < 0x20 || "\"*:<>?|".contains(c))
        {
            return Err(UrlError::BadPathComponent(share.to_string()));
        }
        Ok(SmbUrl {
            domain: None,
            user: None,
            password: None,
            host: host.to_string(),
            port,
            share: Some(share.to_string()).filter(|s| !s.is_empty()),
            path: normalize_path(path)?,
        })
    }

    /// `host:port` as a string a socket API accepts (`[v6]:port` for IPv6).
    pub fn socket_addr(&self) -> String {
        if self.host.contains(':') {
            alloc::format!("[{}]:{}", self.host, self.port)
        } else {
            alloc::format!("{}:{}", self.host, self.port)
        }
    }

    /// The UNC path of the share, `\\host\share`, as TREE_CONNECT wants it.
    pub fn unc(&self) -> Option<String> {
        self.share
            .as_ref()
            .map(|s| alloc::format!("\\\\{}\\{}", self.host, s))
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn split_host_port(hp: &str) -> Result<(&str, u16), UrlError> {
    let (host, port) = if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']').ok_or(UrlError::BadIpv6)?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UrlError::BadIpv6),
        };
        (&rest[..end], port)
    } else {
        match hp.rfind(':') {
            Some(i) => (&hp[..i], Some(&hp[i + 1..])),
            None => (hp, None),
        }
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => n,
            _ => return Err(UrlError::BadPort(p.to_string())),
        },
    };
    Ok((host, port))
}

/// A host is a name or an IPv4 address (letters, digits, `-`, `.`, `_`) or an IPv6 address
/// (the inside of `[...]`, which must parse as one); anything else would reach the resolver or the
/// `\\server\share` path of TREE_CONNECT unchecked.
fn check_host(host: &str) -> Result<(), UrlError> {
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let ok = if host.contains(':') {
        host.parse::<core::net::Ipv6Addr>().is_ok()
    } else {
        host.len() <= 255
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    if !ok {
        return Err(UrlError::BadHost(host.to_string()));
    }
    Ok(())
}

fn percent_decode(s: &str) -> Result<String, UrlError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or(UrlError::BadEscape)?;
            let hi = (hex[0] as char).to_digit(16).ok_or(UrlError::BadEscape)?;
            let lo = (hex[1] as char).to_digit(16).ok_or(UrlError::BadEscape)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::BadEscape)
}

/// Turn a user path (`/a/b/c`, `a\b`, `./a//b/`) into the SMB form `a\b\c`: separators become
/// backslashes, empty and `.` components vanish, and `..` or names with characters SMB
/// forbids ([MS-FSCC] 2.1.5.2: `"*:<>?|` and control characters) are rejected rather than
/// sent, so a path never escapes the share by accident.
///
/// ```
/// use smb_core::url::normalize_path;
/// assert_eq!(normalize_path("/docs//2024/./report.txt").unwrap(), "docs\\2024\\report.txt");
/// assert_eq!(normalize_path("/").unwrap(), "");
/// assert!(normalize_path("../etc").is_err());
/// // A data stream in the last component only.
/// assert_eq!(normalize_path("a/f.txt:meta").unwrap(), "a\\f.txt:meta");
/// assert_eq!(normalize_path("f.txt:meta:$DATA").unwrap(), "f.txt:meta:$DATA");
/// assert!(normalize_path("a:b/f.txt").is_err());
/// assert!(normalize_path(":x").is_err());
/// ```
pub fn normalize_path(p: &str) -> Result<String, UrlError> {
    let mut out = String::with_capacity(p.len());
    let last = p
        .split(['/', '\\'])
        .enumerate()
        .filter(|(_, c)| !c.is_empty() && *c != ".")
        .map(|(i, _)| i)
        .last();
    for (i, comp) in p.split(['/', '\\']).enumerate() {
        if comp.is_empty() || comp == "." {
            continue;
        }
        // The last component may name a data stream: `file:stream` or `file:stream:$DATA`
        // ([MS-FSCC] 2.1.5.1 stream names).
        let (name, stream) = match comp.split_once(':') {
            Some((n, s)) if Some(i) == last && !n.is_empty() && s.matches(':').count() <= 1 => {
                (n, s)
            }
            _ => (comp, ""),
        };
        let bad = |c: char| (c as u32) < 0x20 || matches!(c, '"' | '*' | '<' | '>' | '?' | '|');
        if name == ".."
            || name.chars().any(|c| bad(c) || c == ':')
            || stream.chars().any(|c| bad(c) || c == '/' || c == '\\')
        {
            return Err(UrlError::BadPathComponent(comp.to_string()));
        }
        if !out.is_empty() {
            out.push('\\');
        }
        out.push_str(comp);
    }
    Ok(out)
}

/// Join an SMB-form parent path and a child name.
pub fn join_path(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        alloc::format!("{parent}\\{child}")
    }
}

/// Split an SMB-form path into its parent and last component (`("", "a")` for `a`).
pub fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('\\') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url() {
        let u = SmbUrl::parse("smb://DOM;bob:p%40ss@127.0.0.1:4455/share/a/b/").unwrap();
        assert_eq!(u.domain.as_deref(), Some("DOM"));
        assert_eq!(u.user.as_deref(), Some("bob"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.socket_addr(), "127.0.0.1:4455");
        assert_eq!(u.unc().unwrap(), "\\\\127.0.0.1\\share");
        assert_eq!(u.path, "a\\b");
        assert!(!alloc::format!("{u:?}").contains("p@ss"));
    }

    #[test]
    fn minimal_and_ipv6() {
        let u = SmbUrl::parse("SMB://host").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.share.clone()),
            ("host", 445, None)
        );
        let u = SmbUrl::parse("smb://[::1]:1445/s").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.socket_addr(), "[::1]:1445");
        let u = SmbUrl::parse("smb://user@[::1]/s/x").unwrap();
        assert_eq!((u.port, u.path.as_str()), (445, "x"));
    }

    #[test]
    fn rejects_bad_urls() {
        assert_eq!(SmbUrl::parse("http://x"), Err(UrlError::NotSmbScheme));
        assert_eq!(SmbUrl::parse("smb://"), Err(UrlError::MissingHost));
        assert_eq!(SmbUrl::parse("smb://u@:44/s"), Err(UrlError::MissingHost));
        assert!(matches!(
            SmbUrl::parse("smb://h:0/s"),
            Err(UrlError::BadPort(_))
        ));
        assert!(matches!(
            SmbUrl::parse("smb://h:99999/s"),
            Err(UrlError::BadPort(_))
        ));
        assert!(matches!(
            SmbUrl::parse("smb://h:x/s"),
            Err(UrlError::BadPort(_))
        ));
        assert_eq!(SmbUrl::parse("smb://[::1/s"), Err(UrlError::BadIpv6));
        assert_eq!(SmbUrl::parse("smb://h/s/%zz"), Err(UrlError::BadEscape));
        assert!(SmbUrl::parse("smb://h/s/../x").is_err());
        // A colon only names a data stream of the last component (`file:stream`).
        assert!(SmbUrl::parse("smb://h/s/a:b/c").is_err());
        assert!(SmbUrl::parse("smb://h/s/:b").is_err());
        assert!(SmbUrl::parse("smb://h/s/a:b:c:d").is_err());
        assert!(SmbUrl::parse("smb://h/s/a:b").is_ok());
    }

    #[test]
    fn unc_forms() {
        let u = SmbUrl::parse_any(r"\\srv\share\a\b.txt").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("srv", 445));
        assert_eq!(
            (u.share.as_deref(), u.path.as_str()),
            (Some("share"), "a\\b.txt")
        );
        assert_eq!(
            (u.user.clone(), u.domain.clone(), u.password.clone()),
            (None, None, None)
        );
        let u = SmbUrl::parse_any("//127.0.0.1:1445/s/x/").unwrap();
        assert_eq!(
            (u.socket_addr().as_str(), u.path.as_str()),
            ("127.0.0.1:1445", "x")
        );
        // Mixed separators, the IPv6 literal bracketed, a name with `%` taken literally.
        let u = SmbUrl::parse_any(r"\\[::1]:4455/s\50%.txt").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 4455, "50%.txt")
        );
        let u = SmbUrl::parse_any(r"\\srv").unwrap();
        assert_eq!(u.share, None);
        let u = SmbUrl::parse_any("smb://alice@srv/s").unwrap();
        assert_eq!(u.user.as_deref(), Some("alice"));
    }

    #[test]
    fn rejects_hostile_unc_and_hosts() {
        use UrlError::*;
        for (input, want) in [
            ("srv/share", UnknownForm),
            (r"\srv\share", UnknownForm),
            ("/srv/share", UnknownForm),
            ("", UnknownForm),
            (r"\\", MissingHost),
            (r"\\\share", MissingHost),
            ("///share", MissingHost),
            (r"\\alice@srv\s", BadHost("alice@srv".into())),
            (r"\\srv:0\s", BadPort("0".into())),
            (r"\\srv:x\s", BadPort("x".into())),
            (r"\\[::1\s", BadIpv6),
            (r"\\[::g]\s", BadHost("::g".into())),
            (r"\\s%20rv\s", BadHost("s%20rv".into())),
            ("\\\\srv\u{1}\\s", BadHost("srv\u{1}".into())),
            (r"\\srv\sh*re", BadPathComponent("sh*re".into())),
            (r"\\srv\s\..\etc", BadPathComponent("..".into())),
            (r"\\srv\s\a:b\c", BadPathComponent("a:b".into())),
        ] {
            assert_eq!(SmbUrl::parse_any(input), Err(want), "{input:?}");
        }
        // smb:// hosts get the same check: no space, no escape, no unbracketed IPv6.
        assert!(matches!(SmbUrl::parse("smb://a b/s"), Err(BadHost(_))));
        assert!(matches!(SmbUrl::parse("smb://h%41/s"), Err(BadHost(_))));
        assert!(matches!(SmbUrl::parse("smb://::1/s"), Err(BadHost(_))));
        let long = alloc::format!("smb://{}/s", "a".repeat(256));
        assert!(matches!(SmbUrl::parse(&long), Err(BadHost(_))));
        assert_eq!(
            alloc::format!("{}", UnknownForm),
            "expected smb://host/share, \\\\host\\share or //host/share"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(join_path("", "a"), "a");
        assert_eq!(join_path("a\\b", "c"), "a\\b\\c");
        assert_eq!(split_parent("a\\b\\c"), ("a\\b", "c"));
        assert_eq!(split_parent("c"), ("", "c"));
    }
}
