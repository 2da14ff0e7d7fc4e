//! The `smb` command line: argument parsing and the command logic, written once for every
//! runtime over [`Remote`].

use crate::error::{EXIT_CODES_HELP, Failure, Phase, classify, exit, redact_url};
use crate::remote::{self, Entry, Meta, Remote, Runtime, Target};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use smb_core::url::{SmbUrl, join_path, normalize_path, split_parent};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Size of one transfer step of `get`, `put` and `cat` (the adapters pipeline underneath).
const CHUNK: usize = 1 << 20;

/// Command-line SMB2/3 client.
#[derive(Debug, Parser)]
#[command(
    name = "smb",
    version,
    about = "Command-line SMB2/3 client (ls, get, put, cat, rm, mkdir, rmdir, mv, stat)",
    long_about = "Command-line SMB2/3 client.\n\n\
        URLs look like smb://[domain;]user@host[:port]/share/path. Without a user name the \
        client logs in as guest. The password comes from --password or the SMB_PASSWORD \
        environment variable (preferred: command lines are visible to other users).",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// Runtime adapter that carries the traffic.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "tokio",
        env = "SMB_RUNTIME"
    )]
    pub runtime: Runtime,
    /// Password of the user in the URL.
    #[arg(long, global = true, env = "SMB_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// No progress bar and no transfer summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a directory (or show one file).
    Ls {
        /// smb://[domain;]user@host[:port]/share[/dir]
        url: String,
    },
    /// Download a file.
    Get {
        /// smb://[domain;]user@host[:port]/share/path/to/file
        url: String,
        /// Local file (default: the remote file's name in the current directory; - for stdout).
        local: Option<PathBuf>,
    },
    /// Upload a file.
    Put {
        /// Local file (- for stdin).
        local: PathBuf,
        /// Remote file, or a directory ending in / (the local name is appended).
        url: String,
    },
    /// Print a file to stdout.
    Cat {
        /// smb://[domain;]user@host[:port]/share/path/to/file
        url: String,
    },
    /// Remove files (and directories with -r).
    Rm {
        /// Remove directories and their contents recursively.
        #[arg(short, long)]
        recursive: bool,
        /// smb://[domain;]user@host[:port]/share/path (the first URL names the server; the
        /// others may be URLs of the same share or paths inside it).
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Create a directory.
    Mkdir {
        /// Create missing parent directories too, and accept an existing directory.
        #[arg(short, long)]
        parents: bool,
        /// smb://[domain;]user@host[:port]/share/path/to/dir
        url: String,
    },
    /// Remove an empty directory.
    Rmdir {
        /// smb://[domain;]user@host[:port]/share/path/to/dir
        url: String,
    },
    /// Rename or move a file or directory within a share.
    Mv {
        /// smb://[domain;]user@host[:port]/share/old/path
        url: String,
        /// New path: a path inside the same share (/new/path) or a URL of the same share.
        to: String,
    },
    /// Show size, type, attributes and times of a file or directory.
    Stat {
        /// smb://[domain;]user@host[:port]/share/path
        url: String,
    },
}

/// Parse the command line and run; returns the process exit code. Never panics on input.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(&cli) {
        Ok(()) => exit::OK,
        Err(f) => {
            eprintln!("smb: {f}");
            f.code
        }
    }
}

/// A parsed URL: where to connect and the path inside the share.
#[derive(Debug)]
struct Location {
    target: Target,
    path: String,
    /// The URL's path ended with `/` (names a directory).
    trailing_slash: bool,
}

fn parse_location(url: &str, password: Option<&str>) -> Result<Location, Failure> {
    let u = SmbUrl::parse(url).map_err(|e| Failure::bad_url(url, e))?;
    let share = u
        .share
        .clone()
        .ok_or_else(|| Failure::bad_url(url, "no share name (expected smb://host/share/...)"))?;
    // --password / SMB_PASSWORD win over a password written into the URL.
    let password = password
        .map(str::to_string)
        .or_else(|| u.password.clone())
        .unwrap_or_default();
    if u.user.is_some() && password.is_empty() {
        return Err(Failure::usage(
            "no password: set SMB_PASSWORD or pass --password (or omit the user to log in as guest)",
        ));
    }
    let trailing_slash = url.ends_with('/') || url.ends_with('\\');
    Ok(Location {
        target: Target {
            addr: u.socket_addr(),
            host: u.host.clone(),
            port: u.port,
            share,
            domain: u.domain.clone(),
            user: u.user.clone(),
            password,
        },
        path: u.path.clone(),
        trailing_slash,
    })
}

/// A connected share plus what is needed to explain its errors.
struct Session {
    remote: Box<dyn Remote>,
    server: String,
    share: String,
}

impl Session {
    fn open(connect: &Connector, runtime: Runtime, target: &Target) -> Result<Session, Failure> {
        match connect(runtime, target) {
            Ok(remote) => Ok(Session {
                remote,
                server: target.addr.clone(),
                share: target.share.clone(),
            }),
            Err(Some((phase, e))) => Err(classify(&e, phase, &target.addr, &target.share, "")),
            Err(None) => Err(Failure::new(
                exit::NO_RUNTIME,
                format!(
                    "runtime {} is not built into this binary (rebuild with --features {})",
                    runtime.name(),
                    runtime.name()
                ),
            )),
        }
    }

    /// Explain an error of an operation on `path`.
    fn err(&self, path: &str) -> impl Fn(io::Error) -> Failure + 'static {
        let (server, share, path) = (self.server.clone(), self.share.clone(), path.to_string());
        move |e| classify(&e, Phase::Op, &server, &share, &path)
    }

    fn close(self) -> Result<(), Failure> {
        let (server, share) = (self.server, self.share);
        self.remote
            .close()
            .map_err(|e| classify(&e, Phase::Op, &server, &share, ""))
    }
}

/// How [`run_with`] reaches a server: [`remote::connect`] in the binary, an in-memory
/// share in tests.
pub type Connector =
    dyn Fn(Runtime, &Target) -> Result<Box<dyn Remote>, Option<(Phase, io::Error)>>;

/// Run one parsed command.
pub fn run(cli: &Cli) -> Result<(), Failure> {
    run_with(cli, &remote::connect)
}

/// Run one parsed command, connecting through `connect`.
pub fn run_with(cli: &Cli, connect: &Connector) -> Result<(), Failure> {
    let pw = cli.password.as_deref();
    let ui = Ui {
        quiet: cli.quiet,
        runtime: cli.runtime,
    };
    match &cli.command {
        Command::Ls { url } => with_session(connect, cli, url, pw, |s, loc| ls(s, &loc.path)),
        Command::Stat { url } => with_session(connect, cli, url, pw, |s, loc| stat(s, &loc.path)),
        Command::Cat { url } => with_session(connect, cli, url, pw, |s, loc| cat(s, &loc.path)),
        Command::Get { url, local } => {
            let loc = parse_location(url, pw)?;
            if loc.path.is_empty() {
                return Err(Failure::bad_url(url, "no file path after the share name"));
            }
            let local = match local {
                Some(p) => p.clone(),
                None => PathBuf::from(split_parent(&loc.path).1),
            };
            let mut s = Session::open(connect, cli.runtime, &loc.target)?;
            let r = get(&mut s, &loc.path, &local, &ui);
            finish(s, r)
        }
        Command::Put { local, url } => {
            let loc = parse_location(url, pw)?;
            // The local name, for a URL that names a directory.
            let local_name = || -> Result<&str, Failure> {
                if local.as_os_str() == "-" {
                    return Err(Failure::bad_url(
                        url,
                        "uploading stdin needs a file name in the URL",
                    ));
                }
                local
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| Failure::usage(format!("{}: not a file name", local.display())))
            };
            let mut s = Session::open(connect, cli.runtime, &loc.target)?;
            let into_dir = loc.path.is_empty()
                || loc.trailing_slash
                || s.remote.metadata(&loc.path).is_ok_and(|m| m.is_dir);
            let r = match into_dir {
                true => local_name().map(|name| join_path(&loc.path, name)),
                false => Ok(loc.path.clone()),
            }
            .and_then(|path| put(&mut s, local, &path, &ui));
            finish(s, r)
        }
        Command::Rm { recursive, urls } => {
            let loc = parse_location(&urls[0], pw)?;
            let mut paths = vec![loc.path.clone()];
            for u in &urls[1..] {
                paths.push(same_share_path(u, &loc, pw)?);
            }
            if paths.iter().any(String::is_empty) {
                return Err(Failure::usage("refusing to remove the root of a share"));
            }
            let mut s = Session::open(connect, cli.runtime, &loc.target)?;
            let r = paths.iter().try_for_each(|p| rm(&mut s, p, *recursive));
            finish(s, r)
        }
        Command::Mkdir { parents, url } => with_session(connect, cli, url, pw, |s, loc| {
            if loc.path.is_empty() {
                return Err(Failure::bad_url(
                    url,
                    "no directory path after the share name",
                ));
            }
            s.remote
                .mkdir(&loc.path, *parents)
                .map_err(s.err(&loc.path))
        }),
        Command::Rmdir { url } => with_session(connect, cli, url, pw, |s, loc| {
            if loc.path.is_empty() {
                return Err(Failure::usage("refusing to remove the root of a share"));
            }
            s.remote
                .remove_dir(&loc.path, false)
                .map_err(s.err(&loc.path))
        }),
        Command::Mv { url, to } => {
            let loc = parse_location(url, pw)?;
            let to = same_share_path(to, &loc, pw)?;
            if loc.path.is_empty() || to.is_empty() {
                return Err(Failure::usage("cannot rename the root of a share"));
            }
            let mut s = Session::open(connect, cli.runtime, &loc.target)?;
            let r = s.remote.rename(&loc.path, &to).map_err(s.err(&loc.path));
            finish(s, r)
        }
    }
}

fn with_session(
    connect: &Connector,
    cli: &Cli,
    url: &str,
    pw: Option<&str>,
    f: impl FnOnce(&mut Session, &Location) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let loc = parse_location(url, pw)?;
    let mut s = Session::open(connect, cli.runtime, &loc.target)?;
    let r = f(&mut s, &loc);
    finish(s, r)
}

/// Close the session; the command's own error wins over a close error.
fn finish(s: Session, r: Result<(), Failure>) -> Result<(), Failure> {
    let c = s.close();
    r.and(c)
}

/// A second path argument: a URL of the same server and share, or a path in that share.
fn same_share_path(arg: &str, first: &Location, pw: Option<&str>) -> Result<String, Failure> {
    if arg.len() >= 6 && arg[..6].eq_ignore_ascii_case("smb://") {
        let other = parse_location(arg, pw)?;
        let (a, b) = (&other.target, &first.target);
        if !a.host.eq_ignore_ascii_case(&b.host)
            || a.port != b.port
            || !a.share.eq_ignore_ascii_case(&b.share)
        {
            return Err(Failure::usage(format!(
                "{} is not on the same server and share as the first URL",
                redact_url(arg)
            )));
        }
        Ok(other.path)
    } else {
        normalize_path(arg).map_err(|e| Failure::usage(format!("invalid path {arg:?}: {e}")))
    }
}

/// Output settings.
struct Ui {
    quiet: bool,
    runtime: Runtime,
}

impl Ui {
    fn progress(&self, total: Option<u64>, label: &str) -> Option<ProgressBar> {
        if self.quiet || !io::stderr().is_terminal() {
            return None;
        }
        let pb = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        pb.set_style(style);
        pb.set_message(label.to_string());
        Some(pb)
    }

    fn summary(&self, verb: &str, what: &str, bytes: u64, started: Instant) {
        if self.quiet {
            return;
        }
        let secs = started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            bytes as f64 / secs / 1e6
        } else {
            0.0
        };
        eprintln!(
            "{verb} {what}: {bytes} bytes in {secs:.2} s ({rate:.1} MB/s, {})",
            self.runtime.name()
        );
    }
}

fn ls(s: &mut Session, path: &str) -> Result<(), Failure> {
    let meta = s.remote.metadata(path).map_err(s.err(path))?;
    let mut out = io::stdout().lock();
    if !meta.is_dir {
        let name = split_parent(path).1.to_string();
        return write_entry(&mut out, &Entry { name, meta });
    }
    let mut entries = Vec::new();
    let err = s.err(path);
    s.remote
        .list(path, &mut |e| {
            entries.push(e);
            Ok(())
        })
        .map_err(err)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for e in &entries {
        write_entry(&mut out, e)?;
    }
    Ok(())
}

fn write_entry(out: &mut impl Write, e: &Entry) -> Result<(), Failure> {
    let slash = if e.meta.is_dir { "/" } else { "" };
    let kind = if e.meta.is_dir { 'd' } else { '-' };
    stdout_result(writeln!(
        out,
        "{kind} {:>12}  {}  {}{slash}",
        e.meta.size,
        format_time(e.meta.modified),
        e.name
    ))
}

fn stat(s: &mut Session, path: &str) -> Result<(), Failure> {
    let m = s.remote.metadata(path).map_err(s.err(path))?;
    let shown = format!("/{}/{}", s.share, path.replace('\\', "/"));
    let text = format!(
        "path:       {shown}\n\
         type:       {}\n\
         size:       {}\n\
         attributes: {}\n\
         modified:   {}\n\
         accessed:   {}\n\
         created:    {}\n",
        if m.is_dir { "directory" } else { "file" },
        m.size,
        format_attributes(m.attributes),
        format_time(m.modified),
        format_time(m.accessed),
        format_time(m.created),
    );
    stdout_result(io::stdout().lock().write_all(text.as_bytes()))
}

fn cat(s: &mut Session, path: &str) -> Result<(), Failure> {
    let err = s.err(path);
    let mut r = s.remote.open_read(path).map_err(&err)?;
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = r.read(&mut buf).map_err(&err)?;
        if n == 0 {
            break;
        }
        if let Err(e) = out.write_all(&buf[..n]) {
            // `smb cat | head`: the reader went away; that is not our error.
            return stdout_result(Err(e));
        }
    }
    stdout_result(out.flush())
}

/// Map an error writing to stdout: a closed pipe ends the command quietly.
fn stdout_result(r: io::Result<()>) -> Result<(), Failure> {
    match r {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::local(Path::new("<stdout>"), &e))
        }
        _ => Ok(()),
    }
}

fn get(s: &mut Session, path: &str, local: &Path, ui: &Ui) -> Result<(), Failure> {
    let to_stdout = local.as_os_str() == "-";
    let meta = s.remote.metadata(path).map_err(s.err(path))?;
    if meta.is_dir {
        return Err(Failure::usage(format!(
            "/{}/{} is a directory",
            s.share,
            path.replace('\\', "/")
        )));
    }
    let err = s.err(path);
    let mut src = s.remote.open_read(path).map_err(&err)?;
    let mut dst: Box<dyn Write> = if to_stdout {
        Box::new(io::stdout().lock())
    } else {
        Box::new(File::create(local).map_err(|e| Failure::local(local, &e))?)
    };
    let pb = ui.progress(Some(meta.size), split_parent(path).1);
    let started = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    let copied = (|| {
        loop {
            let n = src.read(&mut buf).map_err(&err)?;
            if n == 0 {
                break;
            }
            dst.write_all(&buf[..n])
                .map_err(|e| Failure::local(local, &e))?;
            total += n as u64;
            if let Some(pb) = &pb {
                pb.set_position(total);
            }
        }
        dst.flush().map_err(|e| Failure::local(local, &e))
    })();
    drop(src);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if let Err(f) = copied {
        // Leave no truncated copy behind that could pass for the real file.
        if !to_stdout {
            drop(dst);
            let _ = std::fs::remove_file(local);
        }
        return Err(f);
    }
    ui.summary("get", &local.display().to_string(), total, started);
    Ok(())
}

fn put(s: &mut Session, local: &Path, path: &str, ui: &Ui) -> Result<(), Failure> {
    let from_stdin = local.as_os_str() == "-";
    let (mut src, size): (Box<dyn Read>, Option<u64>) = if from_stdin {
        (Box::new(io::stdin().lock()), None)
    } else {
        let f = File::open(local).map_err(|e| Failure::local(local, &e))?;
        let m = f.metadata().map_err(|e| Failure::local(local, &e))?;
        if m.is_dir() {
            return Err(Failure::usage(format!(
                "{} is a directory",
                local.display()
            )));
        }
        (Box::new(f), Some(m.len()))
    };
    let err = s.err(path);
    let mut dst = s.remote.create(path).map_err(&err)?;
    let pb = ui.progress(size, split_parent(path).1);
    let started = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::local(local, &e)),
        };
        dst.write_all(&buf[..n]).map_err(&err)?;
        total += n as u64;
        if let Some(pb) = &pb {
            pb.set_position(total);
        }
    }
    dst.finish().map_err(&err)?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let shown = format!("/{}/{}", s.share, path.replace('\\', "/"));
    ui.summary("put", &shown, total, started);
    Ok(())
}

fn rm(s: &mut Session, path: &str, recursive: bool) -> Result<(), Failure> {
    let err = s.err(path);
    let meta = s.remote.metadata(path).map_err(&err)?;
    if meta.is_dir {
        if !recursive {
            return Err(Failure::usage(format!(
                "/{}/{} is a directory (use rm -r or rmdir)",
                s.share,
                path.replace('\\', "/")
            )));
        }
        s.remote.remove_dir(path, true).map_err(&err)
    } else {
        s.remote.remove_file(path).map_err(&err)
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of nanoseconds since the Unix epoch; `-` for unknown.
pub fn format_time(unix_nanos: u64) -> String {
    if unix_nanos == 0 {
        return "-".repeat(19);
    }
    let secs = unix_nanos / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Names of the FILE_ATTRIBUTE_* bits ([MS-FSCC] 2.6) that are set.
pub fn format_attributes(a: u32) -> String {
    const NAMES: &[(u32, &str)] = &[
        (0x1, "readonly"),
        (0x2, "hidden"),
        (0x4, "system"),
        (0x10, "directory"),
        (0x20, "archive"),
        (0x80, "normal"),
        (0x100, "temporary"),
        (0x200, "sparse"),
        (0x400, "reparse-point"),
        (0x800, "compressed"),
        (0x1000, "offline"),
        (0x2000, "not-indexed"),
        (0x4000, "encrypted"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| a & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        format!("0x{a:x}")
    } else {
        format!("{} (0x{a:x})", names.join(", "))
    }
}

/// Metadata of an entry from the raw fields adapters report.
pub fn meta_from_raw(
    size: u64,
    attributes: u32,
    created: u64,
    modified: u64,
    accessed: u64,
) -> Meta {
    Meta {
        size,
        is_dir: attributes & 0x10 != 0,
        attributes,
        created: remote::filetime_to_unix_nanos(created),
        modified: remote::filetime_to_unix_nanos(modified),
        accessed: remote::filetime_to_unix_nanos(accessed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_before_or_after_the_command() {
        let a = Cli::try_parse_from(["smb", "--runtime", "smol", "-q", "ls", "smb://h/s"]).unwrap();
        let b = Cli::try_parse_from(["smb", "ls", "smb://h/s", "--runtime", "smol", "-q"]).unwrap();
        assert_eq!((a.runtime, a.quiet), (Runtime::Smol, true));
        assert_eq!((b.runtime, b.quiet), (Runtime::Smol, true));
        let c = Cli::try_parse_from(["smb", "get", "--password", "x", "smb://u@h/s/f"]).unwrap();
        assert_eq!(c.password.as_deref(), Some("x"));
    }

    #[test]
    fn locations() {
        let l = parse_location("smb://D;u@h:4455/s/a/b/", Some("pw")).unwrap();
        assert_eq!(l.target.addr, "h:4455");
        assert_eq!(l.target.domain.as_deref(), Some("D"));
        assert_eq!(l.target.share, "s");
        assert_eq!(l.path, "a\\b");
        assert!(l.trailing_slash);
        assert!(!format!("{:?}", l.target).contains("pw"));
        assert_eq!(
            parse_location("http://h/s", None).unwrap_err().code,
            exit::BAD_URL
        );
        assert_eq!(
            parse_location("smb://h", None).unwrap_err().code,
            exit::BAD_URL
        );
        assert_eq!(
            parse_location("smb://u@h/s", None).unwrap_err().code,
            exit::USAGE
        );
        // URL password used when nothing else is given, and never shown in errors.
        let l = parse_location("smb://u:secret@h/s", None).unwrap();
        assert_eq!(l.target.password, "secret");
        let e = parse_location("smb://u:secret@h:0/s", None).unwrap_err();
        assert!(!e.message.contains("secret"), "{}", e.message);
    }

    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};
    use std::rc::Rc;

    /// An in-memory share: the command logic without a server.
    #[derive(Default)]
    struct Fs {
        files: BTreeMap<String, Vec<u8>>,
        dirs: BTreeSet<String>,
    }

    struct Mem(Rc<RefCell<Fs>>);

    fn nf(p: &str) -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, format!("not found: {p}"))
    }

    impl Fs {
        fn is_dir(&self, p: &str) -> bool {
            p.is_empty() || self.dirs.contains(p)
        }
        fn parent_ok(&self, p: &str) -> io::Result<()> {
            let parent = split_parent(p).0;
            if self.is_dir(parent) {
                Ok(())
            } else {
                Err(nf(parent))
            }
        }
    }

    struct MemWriter(Rc<RefCell<Fs>>, String, Vec<u8>);

    impl Write for MemWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            // Accept a little at a time, like a real file may.
            let n = buf.len().min(100_000);
            self.2.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl remote::RemoteWrite for MemWriter {
        fn finish(self: Box<Self>) -> io::Result<()> {
            let MemWriter(fs, path, data) = *self;
            fs.borrow_mut().files.insert(path, data);
            Ok(())
        }
    }

    impl Remote for Mem {
        fn metadata(&mut self, p: &str) -> io::Result<Meta> {
            let fs = self.0.borrow();
            if fs.is_dir(p) {
                Ok(Meta {
                    is_dir: true,
                    attributes: 0x10,
                    ..Meta::default()
                })
            } else {
                let f = fs.files.get(p).ok_or_else(|| nf(p))?;
                Ok(Meta {
                    size: f.len() as u64,
                    attributes: 0x20,
                    ..Meta::default()
                })
            }
        }
        fn list(
            &mut self,
            p: &str,
            each: &mut dyn FnMut(Entry) -> io::Result<()>,
        ) -> io::Result<()> {
            let names: Vec<String> = {
                let fs = self.0.borrow();
                fs.files
                    .keys()
                    .chain(fs.dirs.iter())
                    .filter(|k| split_parent(k).0 == p)
                    .cloned()
                    .collect()
            };
            for n in names {
                let meta = self.metadata(&n)?;
                each(Entry {
                    name: split_parent(&n).1.to_string(),
                    meta,
                })?;
            }
            Ok(())
        }
        fn open_read<'a>(&'a mut self, p: &str) -> io::Result<Box<dyn Read + 'a>> {
            let data = self.0.borrow().files.get(p).cloned().ok_or_else(|| nf(p))?;
            Ok(Box::new(io::Cursor::new(data)))
        }
        fn create<'a>(&'a mut self, p: &str) -> io::Result<Box<dyn remote::RemoteWrite + 'a>> {
            self.0.borrow().parent_ok(p)?;
            Ok(Box::new(MemWriter(
                self.0.clone(),
                p.to_string(),
                Vec::new(),
            )))
        }
        fn mkdir(&mut self, p: &str, parents: bool) -> io::Result<()> {
            let mut fs = self.0.borrow_mut();
            if fs.is_dir(p) {
                return match parents {
                    true => Ok(()),
                    false => Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists")),
                };
            }
            if parents && !split_parent(p).0.is_empty() {
                drop(fs);
                self.mkdir(split_parent(p).0, true)?;
                fs = self.0.borrow_mut();
            }
            fs.parent_ok(p)?;
            fs.dirs.insert(p.to_string());
            Ok(())
        }
        fn remove_file(&mut self, p: &str) -> io::Result<()> {
            self.0
                .borrow_mut()
                .files
                .remove(p)
                .map(drop)
                .ok_or_else(|| nf(p))
        }
        fn remove_dir(&mut self, p: &str, recursive: bool) -> io::Result<()> {
            let mut fs = self.0.borrow_mut();
            let prefix = format!("{p}\\");
            if !recursive
                && fs
                    .files
                    .keys()
                    .chain(fs.dirs.iter())
                    .any(|k| k.starts_with(&prefix))
            {
                return Err(io::Error::new(
                    io::ErrorKind::DirectoryNotEmpty,
                    "not empty",
                ));
            }
            fs.files.retain(|k, _| !k.starts_with(&prefix));
            fs.dirs.retain(|k| !k.starts_with(&prefix));
            fs.dirs.remove(p).then_some(()).ok_or_else(|| nf(p))
        }
        fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
            let mut fs = self.0.borrow_mut();
            fs.parent_ok(to)?;
            let data = fs.files.remove(from).ok_or_else(|| nf(from))?;
            fs.files.insert(to.to_string(), data);
            Ok(())
        }
        fn close(self: Box<Self>) -> io::Result<()> {
            Ok(())
        }
    }

    fn mem_run(fs: &Rc<RefCell<Fs>>, args: &[&str]) -> Result<(), Failure> {
        let mut argv = vec!["smb", "-q"];
        if !args.contains(&"--password") {
            argv.extend(["--password", "pw"]);
        }
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| Failure::usage(e.to_string()))?;
        let fs = fs.clone();
        let connect =
            move |_: Runtime, t: &Target| -> Result<Box<dyn Remote>, Option<(Phase, io::Error)>> {
                if t.password != "pw" {
                    return Err(Some((
                        Phase::Connect,
                        io::Error::new(io::ErrorKind::PermissionDenied, "STATUS_LOGON_FAILURE"),
                    )));
                }
                if t.share != "s" {
                    return Err(Some((
                        Phase::Share,
                        io::Error::new(io::ErrorKind::NotFound, "STATUS_BAD_NETWORK_NAME"),
                    )));
                }
                Ok(Box::new(Mem(fs.clone())))
            };
        run_with(&cli, &connect)
    }

    #[test]
    fn commands_against_an_in_memory_share() {
        let fs = Rc::new(RefCell::new(Fs::default()));
        let dir = std::env::temp_dir().join(format!("smb-cli-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let local = dir.join("up.bin");
        let content: Vec<u8> = (0..2_500_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        std::fs::write(&local, &content).unwrap();
        let up = local.to_str().unwrap();
        let down = dir.join("down.bin");
        let down = down.to_str().unwrap();

        // No directory yet: the upload names the missing path.
        let e = mem_run(&fs, &["put", up, "smb://u@h/s/d/"]).unwrap_err();
        assert_eq!(e.code, exit::NOT_FOUND, "{e}");
        mem_run(&fs, &["mkdir", "smb://u@h/s/d"]).unwrap();
        assert_eq!(
            mem_run(&fs, &["mkdir", "smb://u@h/s/d"]).unwrap_err().code,
            exit::ALREADY_EXISTS
        );
        mem_run(&fs, &["mkdir", "-p", "smb://u@h/s/d/x/y"]).unwrap();
        // Into a directory: trailing slash, or an existing directory without one.
        mem_run(&fs, &["put", up, "smb://u@h/s/d/"]).unwrap();
        mem_run(&fs, &["put", up, "smb://u@h/s/d/x"]).unwrap();
        mem_run(&fs, &["put", up, "smb://u@h/s/d/named.bin"]).unwrap();
        for p in ["d\\up.bin", "d\\x\\up.bin", "d\\named.bin"] {
            assert!(fs.borrow().files.get(p) == Some(&content), "{p}");
        }

        mem_run(&fs, &["get", "smb://u@h/s/d/named.bin", down]).unwrap();
        assert!(std::fs::read(down).unwrap() == content);
        std::fs::remove_file(down).unwrap();
        let e = mem_run(&fs, &["get", "smb://u@h/s/d/missing.bin", down]).unwrap_err();
        assert_eq!(e.code, exit::NOT_FOUND);
        assert!(e.message.contains("/s/d/missing.bin"), "{e}");
        assert!(!Path::new(down).exists(), "a failed get left a local file");
        assert_eq!(
            mem_run(&fs, &["get", "smb://u@h/s/d", down])
                .unwrap_err()
                .code,
            exit::USAGE
        );

        mem_run(&fs, &["mv", "smb://u@h/s/d/named.bin", "/d/x/renamed.bin"]).unwrap();
        assert!(fs.borrow().files.contains_key("d\\x\\renamed.bin"));
        let e = mem_run(&fs, &["mv", "smb://u@h/s/d/up.bin", "smb://u@other/s/z"]).unwrap_err();
        assert_eq!(e.code, exit::USAGE);

        assert_eq!(
            mem_run(&fs, &["rm", "smb://u@h/s/d"]).unwrap_err().code,
            exit::USAGE
        );
        assert_eq!(
            mem_run(&fs, &["rm", "smb://u@h/s/"]).unwrap_err().code,
            exit::USAGE
        );
        mem_run(&fs, &["rm", "smb://u@h/s/d/up.bin", "/d/x/up.bin"]).unwrap();
        assert!(!fs.borrow().files.contains_key("d\\up.bin"));
        assert!(!fs.borrow().files.contains_key("d\\x\\up.bin"));
        assert_eq!(
            mem_run(&fs, &["rm", "smb://u@h/s/d/up.bin"])
                .unwrap_err()
                .code,
            exit::NOT_FOUND
        );
        assert_eq!(
            mem_run(&fs, &["rmdir", "smb://u@h/s/d"]).unwrap_err().code,
            exit::OTHER
        );
        mem_run(&fs, &["rm", "-r", "smb://u@h/s/d"]).unwrap();
        assert!(fs.borrow().files.is_empty() && fs.borrow().dirs.is_empty());

        let e = mem_run(&fs, &["--password", "bad", "mkdir", "smb://u@h/s/q"]).unwrap_err();
        assert_eq!(e.code, exit::LOGON_FAILURE);
        assert!(!e.message.contains("bad"), "{e}");
        let e = mem_run(&fs, &["mkdir", "smb://u@h/nope/q"]).unwrap_err();
        assert_eq!(e.code, exit::SHARE_NOT_FOUND);
        assert!(e.message.contains("\"nope\""), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn times_and_attributes() {
        assert_eq!(format_time(0), "-------------------");
        assert_eq!(
            format_time(1_700_000_000 * 1_000_000_000),
            "2023-11-14 22:13:20"
        );
        assert_eq!(
            format_time(951_782_400 * 1_000_000_000),
            "2000-02-29 00:00:00"
        );
        assert_eq!(format_attributes(0x30), "directory, archive (0x30)");
        assert_eq!(format_attributes(0), "0x0");
    }
}
