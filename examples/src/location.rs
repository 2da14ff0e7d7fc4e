//! What a command-line argument names on a server: `smb://` URLs (with `*` and `?`
//! wildcards allowed in the path) and paths inside the share of an earlier URL.

use crate::credentials::{Secret, UrlLogin};
use crate::error::{Failure, redact_url};
use smb_core::url::{SmbUrl, normalize_path};

/// Stand-ins for `*` and `?` while the URL parser (which refuses them in names) reads the
/// path; put back afterwards. Private-use code points never occur in real names.
const STAR: char = '\u{E000}';
const QUESTION: char = '\u{E001}';

/// A parsed URL: where to connect and the path inside the share.
#[derive(Clone, Debug)]
pub struct Location {
    /// Host name or address (no brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The share.
    pub share: String,
    /// Path inside the share in SMB form (`a\b`, `""` = root); may contain `*` and `?`.
    pub path: String,
    /// The URL's path ended with `/` (names a directory).
    pub trailing_slash: bool,
    /// User, domain and password from the URL.
    pub login: UrlLogin,
}

/// Whether `arg` is an `smb://` URL.
pub fn is_url(arg: &str) -> bool {
    arg.len() >= 6 && arg[..6].eq_ignore_ascii_case("smb://")
}

impl Location {
    /// Parse `url`. The error names the URL with its password hidden.
    pub fn parse(url: &str) -> Result<Location, Failure> {
        // The copy holds the URL's password, if any: wiped when dropped.
        let masked = zeroize::Zeroizing::new(mask_wildcards(url));
        let mut u = SmbUrl::parse(&masked).map_err(|e| Failure::bad_url(url, e))?;
        let share = u.share.take().ok_or_else(|| {
            Failure::bad_url(url, "no share name (expected smb://host/share/...)")
        })?;
        if share.contains([STAR, QUESTION]) {
            return Err(Failure::bad_url(
                url,
                "wildcards are not allowed in the share name",
            ));
        }
        let path = u.path.replace(STAR, "*").replace(QUESTION, "?");
        Ok(Location {
            host: u.host.clone(),
            port: u.port,
            share,
            path,
            trailing_slash: url.ends_with('/') || url.ends_with('\\'),
            login: UrlLogin {
                domain: u.domain.take(),
                user: u.user.take(),
                // Moved, not copied: the URL's copy of the password goes away with it.
                password: u.password.take().map(Secret::new),
            },
        })
    }

    /// `host:port` (`[v6]:port`), for messages.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Same server, port and share (and no other user) as `other`: one session serves both.
    pub fn same_share(&self, other: &Location) -> bool {
        self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
            && self.share.eq_ignore_ascii_case(&other.share)
            && (self.login.user.is_none()
                || other.login.user.is_none()
                || self.login.user == other.login.user)
    }

    /// Another argument of the same command: a URL of the same server and share, or a path
    /// inside it (`/dir/name`). Returns the SMB-form path and whether it ended with `/`.
    pub fn sibling(&self, arg: &str) -> Result<(String, bool), Failure> {
        let slash = arg.ends_with('/') || arg.ends_with('\\');
        if is_url(arg) {
            let other = Location::parse(arg)?;
            if !other.same_share(self) {
                return Err(Failure::usage(format!(
                    "{} is not on the same server and share as {}",
                    redact_url(arg),
                    self.describe()
                )));
            }
            return Ok((other.path, slash));
        }
        let masked = mask_wildcards_in(arg);
        let p = normalize_path(&masked)
            .map_err(|e| Failure::usage(format!("invalid path {arg:?}: {e}")))?;
        Ok((p.replace(STAR, "*").replace(QUESTION, "?"), slash))
    }

    /// `smb://host:port/share`, for messages (no user, no password).
    pub fn describe(&self) -> String {
        format!("smb://{}/{}", self.server(), self.share)
    }
}

/// The URL with `*` and `?` in its path part replaced by stand-ins.
fn mask_wildcards(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    match rest.find('/') {
        Some(i) => {
            let split = scheme_end + 3 + i;
            format!("{}{}", &url[..split], mask_wildcards_in(&url[split..]))
        }
        None => url.to_string(),
    }
}

fn mask_wildcards_in(s: &str) -> String {
    s.replace('*', &STAR.to_string())
        .replace('?', &QUESTION.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;

    #[test]
    fn urls() {
        let l = Location::parse("smb://D;u:pw@h:4455/s/a/b/").unwrap();
        assert_eq!(l.server(), "h:4455");
        assert_eq!(l.login.domain.as_deref(), Some("D"));
        assert_eq!(l.login.password.as_ref().unwrap().expose(), "pw");
        assert_eq!((l.share.as_str(), l.path.as_str()), ("s", "a\\b"));
        assert!(l.trailing_slash);
        assert!(!format!("{l:?}").contains("pw\""), "{l:?}");
        assert_eq!(
            Location::parse("http://h/s").unwrap_err().code,
            exit::BAD_URL
        );
        assert_eq!(Location::parse("smb://h").unwrap_err().code, exit::BAD_URL);
        let e = Location::parse("smb://u:secret@h:0/s").unwrap_err();
        assert!(!e.message.contains("secret"), "{}", e.message);
        assert_eq!(
            Location::parse("smb://[::1]:99/s").unwrap().server(),
            "[::1]:99"
        );
    }

    #[test]
    fn wildcards() {
        let l = Location::parse("smb://h/s/logs/*.gz").unwrap();
        assert_eq!(l.path, "logs\\*.gz");
        let l = Location::parse("smb://u:p?*@h/s/a?").unwrap();
        assert_eq!(l.path, "a?");
        assert_eq!(l.login.password.as_ref().unwrap().expose(), "p?*");
        assert!(Location::parse("smb://h/s*/x").is_err());
        // A colon names a data stream of the last component only.
        assert!(Location::parse("smb://h/s/a:b/c").is_err());
        assert_eq!(Location::parse("smb://h/s/d/a:b").unwrap().path, "d\\a:b");
        assert_eq!(l.sibling("/x/*.txt").unwrap(), ("x\\*.txt".into(), false));
    }

    #[test]
    fn siblings() {
        let l = Location::parse("smb://u@h/s/a").unwrap();
        assert_eq!(l.sibling("/b/c/").unwrap(), ("b\\c".into(), true));
        assert_eq!(l.sibling("smb://H/S/d").unwrap(), ("d".into(), false));
        assert_eq!(l.sibling("smb://h/other/d").unwrap_err().code, exit::USAGE);
        assert_eq!(l.sibling("smb://v@h/s/d").unwrap_err().code, exit::USAGE);
        assert_eq!(l.sibling("../x").unwrap_err().code, exit::USAGE);
    }
}
