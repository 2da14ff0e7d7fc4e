//! Who the CLI logs in as, and with which password.
//!
//! Sources, most explicit first: `-U [DOMAIN\]user[%password]`, `--password`, an
//! authentication file (`-A FILE`, smbclient's format), the user and password in the URL,
//! the `SMB_PASSWORD` environment variable, and finally a prompt without echo when stdin is
//! a terminal. `--guest` and `--anonymous` log in without a password. The password lives
//! only in [`Secret`]s (wiped on drop, printed as `[redacted]`).

use crate::error::Failure;
use std::fmt;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A password: zeroed when dropped, never shown by `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Take ownership of `s` (no copy is left behind).
    pub fn new(s: String) -> Secret {
        Secret(Zeroizing::new(s))
    }

    /// The password itself, to hand to the library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Secret {
    /// From an environment variable's value, wiping the original bytes.
    pub fn from_os(v: std::ffi::OsString) -> Secret {
        let bytes = Zeroizing::new(v.into_vec());
        Secret::new(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s.to_string()))
    }
}

/// How to log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Login {
    /// A user with a password (NTLMv2).
    User {
        /// Domain (`None`: the server's own).
        domain: Option<String>,
        /// User name.
        user: String,
        /// Password.
        password: Secret,
    },
    /// The guest account.
    Guest,
    /// An anonymous (NULL) session.
    Anonymous,
}

impl Login {
    /// `DOMAIN\user`, `guest` or `anonymous`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Login::User {
                domain: Some(d),
                user,
                ..
            } => format!("{d}\\{user}"),
            Login::User { user, .. } => user.clone(),
            Login::Guest => "guest".into(),
            Login::Anonymous => "anonymous".into(),
        }
    }
}

/// `-U [DOMAIN\]user[%password]` (also `DOMAIN/user`), as smbclient reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserArg {
    /// Domain before `\` or `/`.
    pub domain: Option<String>,
    /// User name.
    pub user: String,
    /// Password after `%`.
    pub password: Option<Secret>,
}

impl std::str::FromStr for UserArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (who, password) = match s.split_once('%') {
            Some((w, p)) => (w, Some(Secret::new(p.to_string()))),
            None => (s, None),
        };
        let (domain, user) = match who.split_once(['\\', '/']) {
            Some((d, u)) => (Some(d.to_string()).filter(|d| !d.is_empty()), u),
            None => (None, who),
        };
        if user.is_empty() {
            return Err("empty user name (expected [DOMAIN\\]user[%password])".into());
        }
        Ok(UserArg {
            domain,
            user: user.to_string(),
            password,
        })
    }
}

/// The content of an authentication file (`-A FILE`): smbclient's format,
/// `username = NAME`, `password = SECRET`, `domain = DOMAIN`, one per line; blank lines and
/// lines starting with `#` or `;` are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthFile {
    /// `username` (may be `DOMAIN\user`).
    pub user: Option<String>,
    /// `password`.
    pub password: Option<Secret>,
    /// `domain`.
    pub domain: Option<String>,
}

impl AuthFile {
    /// Read and parse `path`.
    pub fn load(path: &Path) -> Result<AuthFile, Failure> {
        let mut text = Zeroizing::new(String::new());
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| Failure::local(path, &e))?;
        AuthFile::parse(&text)
            .map_err(|why| Failure::usage(format!("authentication file {}: {why}", path.display())))
    }

    /// Parse the text of an authentication file.
    pub fn parse(text: &str) -> Result<AuthFile, String> {
        let mut a = AuthFile::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                continue;
            }
            let Some((key, value)) = t.split_once('=') else {
                return Err(format!("line {}: expected `key = value`", n + 1));
            };
            // Leading blanks separate the value from `=`; trailing ones may be part of a
            // password, so only user and domain are trimmed at the end.
            let value = value.trim_start();
            match key.trim().to_ascii_lowercase().as_str() {
                "username" => a.user = Some(value.trim_end().to_string()),
                "password" => a.password = Some(Secret::new(value.to_string())),
                "domain" => a.domain = Some(value.trim_end().to_string()).filter(|d| !d.is_empty()),
                other => {
                    return Err(format!(
                        "line {}: unknown key {other:?} (expected username, password or domain)",
                        n + 1
                    ));
                }
            }
        }
        Ok(a)
    }
}

/// The credential options of the command line.
#[derive(Clone, Debug, Default)]
pub struct CredentialArgs {
    /// `-U`.
    pub user: Option<UserArg>,
    /// `--password`.
    pub password: Option<Secret>,
    /// `-A`.
    pub auth_file: Option<PathBuf>,
    /// `--guest`.
    pub guest: bool,
    /// `--anonymous`.
    pub anonymous: bool,
}

/// What the URL says about the login.
#[derive(Clone, Debug, Default)]
pub struct UrlLogin {
    /// `domain;` part.
    pub domain: Option<String>,
    /// User part.
    pub user: Option<String>,
    /// `:password` part.
    pub password: Option<Secret>,
}

/// Asks for a password when none was given (a terminal prompt without echo in the binary,
/// a scripted answer in tests).
pub trait Prompt: Sync {
    /// Whether a person can be asked (stdin is a terminal).
    fn available(&self) -> bool;
    /// Ask with `prompt` and return what was typed.
    fn ask(&self, prompt: &str) -> io::Result<Secret>;
}

/// The terminal prompt: reads a line from stdin with echo switched off, when stdin is a
/// terminal.
pub struct TerminalPrompt;

impl Prompt for TerminalPrompt {
    fn available(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn ask(&self, prompt: &str) -> io::Result<Secret> {
        read_password_no_echo(prompt)
    }
}

/// Print `prompt` on stderr and read one line from the terminal on stdin without echo.
fn read_password_no_echo(prompt: &str) -> io::Result<Secret> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = io::stdin();
    let saved = tcgetattr(&stdin)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    // Echo off (dropping anything typed before the prompt) first, then the prompt: in the
    // other order a password typed as soon as the prompt shows can be flushed away, and the
    // read then waits forever (a loaded CI machine did exactly that).
    tcsetattr(&stdin, OptionalActions::Flush, &quiet)?;
    let mut err = io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    // Echo comes back when this returns, and also if Ctrl-C ends the process meanwhile
    // (which it does at once while the prompt waits: see `interrupt`).
    let _restore = crate::interrupt::ExitHook::new(move || {
        let _ = tcsetattr(io::stdin(), OptionalActions::Now, &saved);
    });
    let _now = crate::interrupt::ExitAtOnce::new();
    let mut line = Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    // Straight from the file descriptor, a byte at a time: std's buffered stdin would keep
    // a copy of the password in its buffer.
    let result = loop {
        match rustix::io::read(&stdin, &mut byte) {
            Ok(0) => break Ok(()),
            Ok(_) if byte[0] == b'\n' => break Ok(()),
            Ok(_) => line.push(byte[0]),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => break Err(io::Error::from(e)),
        }
    };
    byte.fill(0);
    result?;
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let text = String::from_utf8(std::mem::take(&mut *line))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the password is not UTF-8"))?;
    Ok(Secret::new(text))
}

/// Decide the login from the options, the URL, `SMB_PASSWORD` (`env_password`) and, when
/// nothing else gives a password, `prompt`. `who` names the server in the prompt.
pub fn resolve(
    args: &CredentialArgs,
    url: UrlLogin,
    env_password: Option<Secret>,
    prompt: &dyn Prompt,
    server: &str,
) -> Result<Login, Failure> {
    if args.guest && args.anonymous {
        return Err(Failure::usage("--guest and --anonymous exclude each other"));
    }
    let named = args.user.is_some() || args.auth_file.is_some() || args.password.is_some();
    if (args.guest || args.anonymous) && (named || url.user.is_some()) {
        let which = if args.guest { "--guest" } else { "--anonymous" };
        return Err(Failure::usage(format!(
            "{which} logs in without a user: drop the user name (-U, -A, the URL's user@) \
             or the option"
        )));
    }
    if args.guest {
        return Ok(Login::Guest);
    }
    if args.anonymous {
        return Ok(Login::Anonymous);
    }
    let file = match &args.auth_file {
        Some(p) => AuthFile::load(p)?,
        None => AuthFile::default(),
    };
    // The file's username may itself carry a domain (DOMAIN\user).
    let file_user: Option<UserArg> = match &file.user {
        Some(u) => Some(
            u.parse()
                .map_err(|e| Failure::usage(format!("authentication file: {e}")))?,
        ),
        None => None,
    };
    let (user, domain) = if let Some(u) = &args.user {
        (Some(u.user.clone()), u.domain.clone())
    } else if let Some(u) = &file_user {
        (
            Some(u.user.clone()),
            u.domain.clone().or(file.domain.clone()),
        )
    } else {
        (url.user.clone(), None)
    };
    let domain = domain.or(url.domain.clone());
    let Some(user) = user else {
        if named {
            return Err(Failure::usage(
                "a password was given but no user name (use -U user, or user@ in the URL)",
            ));
        }
        // No user anywhere: the guest account, as before (the CLI says so when it logs in).
        return Ok(Login::Guest);
    };
    let password = args
        .user
        .as_ref()
        .and_then(|u| u.password.clone())
        .or_else(|| args.password.clone())
        .or(file.password.clone())
        .or(url.password)
        .or(env_password);
    let password = match password {
        Some(p) => p,
        None if prompt.available() => {
            let who = match &domain {
                Some(d) => format!("{d}\\{user}"),
                None => user.clone(),
            };
            prompt
                .ask(&format!("Password for {who} on {server}: "))
                .map_err(|e| {
                    if crate::interrupt::is_set() {
                        Failure::interrupted()
                    } else {
                        Failure::local(Path::new("<terminal>"), &e)
                    }
                })?
        }
        None => {
            return Err(Failure::usage(format!(
                "no password for {user}: use -U {user}%PASSWORD, -A FILE, SMB_PASSWORD, or run \
                 in a terminal to be asked (or --guest / --anonymous)"
            )));
        }
    };
    Ok(Login::User {
        domain,
        user,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;
    use std::sync::Mutex;

    struct Scripted {
        tty: bool,
        answer: &'static str,
        asked: Mutex<Vec<String>>,
    }

    impl Prompt for Scripted {
        fn available(&self) -> bool {
            self.tty
        }
        fn ask(&self, prompt: &str) -> io::Result<Secret> {
            self.asked.lock().unwrap().push(prompt.to_string());
            Ok(Secret::new(self.answer.to_string()))
        }
    }

    fn no_tty() -> Scripted {
        Scripted {
            tty: false,
            answer: "",
            asked: Mutex::new(Vec::new()),
        }
    }

    fn pw(l: &Login) -> &str {
        match l {
            Login::User { password, .. } => password.expose(),
            _ => panic!("not a user login: {l:?}"),
        }
    }

    #[test]
    fn user_argument() {
        let u: UserArg = "DOM\\alice%se%cret".parse().unwrap();
        assert_eq!(u.domain.as_deref(), Some("DOM"));
        assert_eq!(u.user, "alice");
        assert_eq!(u.password.as_ref().unwrap().expose(), "se%cret");
        let u: UserArg = "DOM/bob".parse().unwrap();
        assert_eq!((u.domain.as_deref(), u.user.as_str()), (Some("DOM"), "bob"));
        assert!(u.password.is_none());
        assert!("%pw".parse::<UserArg>().is_err());
        assert!(!format!("{:?}", "a%hunter2".parse::<UserArg>().unwrap()).contains("hunter2"));
    }

    #[test]
    fn authentication_file() {
        let a = AuthFile::parse(
            "# smbclient -A format\nusername = alice\npassword =  two words \r\n\n; c\ndomain=WG\n",
        )
        .unwrap();
        assert_eq!(a.user.as_deref(), Some("alice"));
        assert_eq!(a.password.unwrap().expose(), "two words ");
        assert_eq!(a.domain.as_deref(), Some("WG"));
        let e = AuthFile::parse("username = a\npasswd = x\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("passwd"), "{e}");
        assert!(!e.contains(" x"), "{e}");
        assert!(AuthFile::parse("just text").is_err());
    }

    #[test]
    fn precedence() {
        let none = CredentialArgs::default();
        let url = |u: Option<&str>, p: Option<&str>| UrlLogin {
            domain: None,
            user: u.map(String::from),
            password: p.map(|p| Secret::new(p.into())),
        };
        let env = || Some(Secret::new("from-env".into()));
        // URL password beats the environment; the environment beats the prompt.
        let l = resolve(
            &none,
            url(Some("u"), Some("from-url")),
            env(),
            &no_tty(),
            "h",
        )
        .unwrap();
        assert_eq!(pw(&l), "from-url");
        let l = resolve(&none, url(Some("u"), None), env(), &no_tty(), "h").unwrap();
        assert_eq!(pw(&l), "from-env");
        // -U beats everything, for the user and the password.
        let args = CredentialArgs {
            user: Some("D\\v%from-u".parse().unwrap()),
            password: Some(Secret::new("from-option".into())),
            ..Default::default()
        };
        let l = resolve(&args, url(Some("u"), Some("x")), env(), &no_tty(), "h").unwrap();
        assert_eq!(pw(&l), "from-u");
        assert_eq!(l.describe(), "D\\v");
        // --password beats the URL.
        let args = CredentialArgs {
            password: Some(Secret::new("from-option".into())),
            ..Default::default()
        };
        let l = resolve(&args, url(Some("u"), Some("x")), None, &no_tty(), "h").unwrap();
        assert_eq!(pw(&l), "from-option");
        // No password and no terminal: a usage error naming the ways to give one.
        let e = resolve(&none, url(Some("u"), None), None, &no_tty(), "h").unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        assert!(e.message.contains("SMB_PASSWORD"), "{e}");
        // A terminal: asked once, with the user and server named.
        let p = Scripted {
            tty: true,
            answer: "typed",
            asked: Mutex::new(Vec::new()),
        };
        let l = resolve(&none, url(Some("u"), None), None, &p, "srv:445").unwrap();
        assert_eq!(pw(&l), "typed");
        assert_eq!(*p.asked.lock().unwrap(), ["Password for u on srv:445: "]);
        // No user at all: guest.
        assert_eq!(
            resolve(&none, url(None, None), env(), &no_tty(), "h").unwrap(),
            Login::Guest
        );
    }

    #[test]
    fn guest_and_anonymous() {
        let g = CredentialArgs {
            guest: true,
            ..Default::default()
        };
        assert_eq!(
            resolve(&g, UrlLogin::default(), None, &no_tty(), "h").unwrap(),
            Login::Guest
        );
        let a = CredentialArgs {
            anonymous: true,
            ..Default::default()
        };
        assert_eq!(
            resolve(&a, UrlLogin::default(), None, &no_tty(), "h").unwrap(),
            Login::Anonymous
        );
        let with_user = UrlLogin {
            user: Some("u".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&a, with_user, None, &no_tty(), "h")
                .unwrap_err()
                .code,
            exit::USAGE
        );
        let both = CredentialArgs {
            guest: true,
            anonymous: true,
            ..Default::default()
        };
        assert!(resolve(&both, UrlLogin::default(), None, &no_tty(), "h").is_err());
    }

    #[test]
    fn authentication_file_as_a_source() {
        let dir = std::env::temp_dir().join(format!("smb-cli-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("auth");
        std::fs::write(&f, "username = WG\\carol\npassword = from-file\n").unwrap();
        let args = CredentialArgs {
            auth_file: Some(f.clone()),
            ..Default::default()
        };
        let url = UrlLogin {
            user: Some("ignored".into()),
            password: Some(Secret::new("from-url".into())),
            ..Default::default()
        };
        let l = resolve(&args, url, None, &no_tty(), "h").unwrap();
        assert_eq!(l.describe(), "WG\\carol");
        assert_eq!(pw(&l), "from-file");
        let missing = CredentialArgs {
            auth_file: Some(dir.join("nope")),
            ..Default::default()
        };
        assert_eq!(
            resolve(&missing, UrlLogin::default(), None, &no_tty(), "h")
                .unwrap_err()
                .code,
            exit::LOCAL_IO
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
