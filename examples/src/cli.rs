//! The `smb` command line: options, subcommands and their help texts. The commands
//! themselves are in [`crate::commands`] and [`crate::transfer`]; [`crate::run`] ties them
//! together.

use crate::credentials::{Secret, UserArg};
use crate::error::EXIT_CODES_HELP;
use crate::format::parse_dialect;
use crate::remote::Runtime;
use clap::{ArgAction, Args, Parser, Subcommand};
use smb_core::client::Dialect;
use std::path::PathBuf;
use std::time::Duration;

const ABOUT: &str = "Command-line SMB2/3 client: list, copy, move and remove files on Windows \
                     shares, Samba and NAS boxes";

const LONG_ABOUT: &str = "\
Command-line SMB2/3 client: list, copy, move and remove files on Windows shares, Samba and \
NAS boxes.

URLs look like smb://[domain;]user[:password]@host[:port]/share/path. A path may end in a \
pattern with * and ? (quote it for the shell): smb://host/share/logs/*.gz.

Credentials, most explicit first: -U [DOMAIN\\]user[%password], --password, -A FILE \
(smbclient's authentication file: username = ..., password = ..., domain = ...), the user \
and password in the URL, the SMB_PASSWORD environment variable, and last a prompt without \
echo when stdin is a terminal. Without any user name the client logs in as guest and says \
so; --guest and --anonymous ask for that explicitly. A password on the command line is \
visible to other users of the machine: prefer -A, SMB_PASSWORD or the prompt.";

const EXAMPLES: &str = "\
Examples:
  smb ls -l smb://alice@files/projects/reports
  smb get 'smb://alice@files/projects/logs/*.gz' ./logs/
  smb put -r ./site smb://alice@files/www/
  smb get --continue smb://alice@files/isos/big.iso
  smb cat smb://files/public/README.txt | head
  smb --json stat smb://alice@files/projects/q1.pdf | jq .entries[0].size
  smb info --encrypt smb://alice@files/projects
  smb shares smb://alice@files

Environment: SMB_PASSWORD (password), SMB_RUNTIME (default runtime),
SMB_RESOLVE=name=addr,... (resolve only these names, no DNS),
SMB_CRYPTO=rustcrypto (sign and encrypt with RustCrypto instead of aws-lc).";

/// Command-line SMB2/3 client.
#[derive(Debug, Parser)]
#[command(
    name = "smb",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES_HELP,
    after_long_help = format!("{EXAMPLES}\n\n{EXIT_CODES_HELP}"),
    max_term_width = 100
)]
pub struct Cli {
    /// Options valid before or after any command.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options valid before or after any command.
#[derive(Debug, Args)]
pub struct Global {
    /// Runtime adapter that carries the traffic.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "tokio",
        env = "SMB_RUNTIME",
        help_heading = "Connection"
    )]
    pub runtime: Runtime,
    /// Require signed traffic; fail if the server or the logon cannot sign.
    #[arg(long, global = true, help_heading = "Connection")]
    pub sign: bool,
    /// Do not sign a 3.1.1 session the server merely supports signing on (signed by
    /// default); traffic is still signed when the server requires it.
    #[arg(
        long,
        global = true,
        conflicts_with = "sign",
        help_heading = "Connection"
    )]
    pub no_sign: bool,
    /// Require encryption (SMB 3.x, a user logon); fail if the server cannot encrypt.
    #[arg(long, global = true, help_heading = "Connection")]
    pub encrypt: bool,
    /// Lowest dialect to offer (2.0.2, 2.1, 3.0, 3.0.2, 3.1.1).
    #[arg(long, global = true, value_name = "DIALECT", value_parser = parse_dialect, help_heading = "Connection")]
    pub min_dialect: Option<Dialect>,
    /// Highest dialect to offer.
    #[arg(long, global = true, value_name = "DIALECT", value_parser = parse_dialect, help_heading = "Connection")]
    pub max_dialect: Option<Dialect>,
    /// Connections (channels) one session may use: more than 1 binds extra connections to
    /// the session when the server offers multichannel (SMB 3.x), all to the address given;
    /// 1 turns multichannel off.
    #[arg(long, global = true, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=32), help_heading = "Connection")]
    pub channels: u16,
    /// Do not follow DFS referrals: a path through a DFS link fails with
    /// STATUS_PATH_NOT_COVERED instead of being opened on the link's target.
    #[arg(long, global = true, help_heading = "Connection")]
    pub no_dfs: bool,
    /// Time limit of each request and of connecting (e.g. 30, 30s, 500ms, 2m).
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_duration, help_heading = "Connection")]
    pub timeout: Option<Duration>,
    /// Files transferred at once by multi-file commands (requests in flight on one session).
    #[arg(long, global = true, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Connection")]
    pub parallel: u16,

    /// User (and password after %), as smbclient's -U.
    #[arg(
        short = 'U',
        long = "user",
        global = true,
        value_name = "[DOMAIN\\]USER[%PASSWORD]",
        help_heading = "Credentials"
    )]
    pub user: Option<UserArg>,
    /// Authentication file (smbclient's format: username = ..., password = ..., domain = ...).
    #[arg(
        short = 'A',
        long = "authentication-file",
        global = true,
        value_name = "FILE",
        help_heading = "Credentials"
    )]
    pub auth_file: Option<PathBuf>,
    /// Password (visible to other users in the process list: prefer -A or SMB_PASSWORD).
    #[arg(
        long,
        global = true,
        value_name = "PASSWORD",
        help_heading = "Credentials"
    )]
    pub password: Option<Secret>,
    /// Log in as guest.
    #[arg(long, global = true, help_heading = "Credentials")]
    pub guest: bool,
    /// Log in anonymously (NULL session).
    #[arg(long, global = true, help_heading = "Credentials")]
    pub anonymous: bool,
    /// Log in with Kerberos (required: never falls back to NTLM). A password given as for
    /// NTLM (-U user%PASSWORD, --password, -A, SMB_PASSWORD) gets a ticket from the KDC, no
    /// kinit needed; else the ticket cache (KRB5CCNAME, after kinit), else the password
    /// prompt. --use-ccache and --keytab name the source. The SPN is cifs/<the URL's host>.
    /// Without -k, a valid ticket of the named user in the ticket cache is used anyway,
    /// Kerberos first with NTLM as fallback (kerberos-preferred).
    #[arg(short = 'k', long, global = true, help_heading = "Credentials")]
    pub kerberos: bool,
    /// Never use a Kerberos ticket, even one in the ticket cache (NTLM only).
    #[arg(
        long,
        global = true,
        conflicts_with_all = ["kerberos", "use_ccache", "keytab"],
        help_heading = "Credentials"
    )]
    pub no_kerberos: bool,
    /// Kerberos: this credential cache (implies -k).
    #[arg(long, global = true, value_name = "FILE", help_heading = "Credentials")]
    pub use_ccache: Option<String>,
    /// Kerberos: get the tickets from this keytab, for the URL's or -U's user (implies -k).
    #[arg(long, global = true, value_name = "FILE", help_heading = "Credentials")]
    pub keytab: Option<PathBuf>,
    /// Connect to this address while the URL's host names the server (SPN, NETNAME), as
    /// smbclient's -I; the host name is then not looked up.
    #[arg(
        short = 'I',
        long = "ip",
        global = true,
        value_name = "ADDRESS",
        help_heading = "Connection"
    )]
    pub ip: Option<std::net::IpAddr>,

    /// Print one JSON document (ls, stat, du, info, df); field names are listed in the
    /// README.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,
    /// No progress bars, summaries or notices (errors are still printed).
    #[arg(short, long, global = true, help_heading = "Output")]
    pub quiet: bool,
    /// No progress bars (they are also off when stderr is not a terminal).
    #[arg(long, global = true, help_heading = "Output")]
    pub no_progress: bool,
    /// Trace on stderr: -v connection steps, -vv protocol state transitions with timings,
    /// -vvv everything.
    #[arg(short, long, global = true, action = ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,
}

/// `30`, `30s`, `500ms`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("invalid time {s:?} (e.g. 30, 30s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m or h)")),
    };
    if !(0.001..=86_400.0 * 7.0).contains(&secs) {
        return Err(format!("time {s:?} out of range (1 ms to 7 days)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List directories (or show files).
    #[command(after_help = "\
Examples:
  smb ls smb://alice@files/projects                 names, directories end in /
  smb ls -l smb://alice@files/projects/reports      type, size, modified (UTC), name
  smb ls -lR 'smb://alice@files/projects/*.pdf'
  smb --json ls smb://alice@files/projects | jq -r '.entries[].name'

Entries are printed as the listing arrives, in the server's order (not sorted).")]
    Ls {
        /// Long format: type, size, last write time (UTC), name.
        #[arg(short, long)]
        long: bool,
        /// Recurse into subdirectories.
        #[arg(short = 'R', long)]
        recursive: bool,
        /// Also show hidden entries (dot files and the hidden attribute).
        #[arg(short, long)]
        all: bool,
        /// smb://[user@]host[:port]/share[/path] (more: URLs of the same share or /paths in it).
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
    },
    /// Show a directory tree.
    #[command(after_help = "\
Examples:
  smb tree smb://alice@files/projects
  smb tree -L 2 -a smb://alice@files/projects/src")]
    Tree {
        /// Also show hidden entries.
        #[arg(short, long)]
        all: bool,
        /// Descend at most this many levels.
        #[arg(short = 'L', long, value_name = "LEVELS")]
        level: Option<usize>,
        /// smb://[user@]host[:port]/share[/dir]
        #[arg(value_name = "URL")]
        url: String,
    },
    /// Download files and directories.
    #[command(after_help = "\
Examples:
  smb get smb://alice@files/projects/q1.pdf            -> ./q1.pdf
  smb get smb://alice@files/projects/q1.pdf report.pdf
  smb get smb://alice@files/projects/q1.pdf - | head   to stdout
  smb get 'smb://alice@files/projects/logs/*.gz' logs/ several files into a directory
  smb get -r smb://alice@files/projects/site .         a whole directory
  smb get -c smb://alice@files/isos/big.iso            resume (smbclient's reget)

Each file is written to .NAME.smbpart next to its destination and renamed when complete:
a failed or interrupted transfer never leaves a partial file under the final name (the
temporary file is removed, or kept for a later --continue when --continue was given).
Many small files are fetched in parallel on one session (--parallel).")]
    Get {
        /// Copy directories recursively.
        #[arg(short, long)]
        recursive: bool,
        /// Resume partial downloads (from .NAME.smbpart, or a shorter local NAME).
        #[arg(short = 'c', long = "continue")]
        resume: bool,
        /// Remote files or directories (URLs), then optionally the local destination: a file,
        /// a directory (existing, or ending in / to create it) or - for stdout.
        #[arg(required = true, value_name = "URL... [DEST]")]
        args: Vec<String>,
    },
    /// Upload files and directories.
    #[command(after_help = "\
Examples:
  smb put q1.pdf smb://alice@files/projects/reports/    keep the name (trailing /)
  smb put q1.pdf smb://alice@files/projects/reports/2024-q1.pdf
  smb put *.log smb://alice@files/projects/logs/        several files into a directory
  smb put -r ./site smb://alice@files/www/
  tar c dir | smb put - smb://alice@files/backup/dir.tar
  smb put -c big.iso smb://alice@files/isos/            resume (smbclient's reput)

Each file is written to .NAME.smbpart on the server and renamed when complete: a failed
or interrupted upload never leaves a partial file under the final name.")]
    Put {
        /// Copy directories recursively.
        #[arg(short, long)]
        recursive: bool,
        /// Resume partial uploads (from .NAME.smbpart, or a shorter remote NAME).
        #[arg(short = 'c', long = "continue")]
        resume: bool,
        /// Local files or directories (- for stdin), then the remote destination URL (a
        /// directory when it ends in / or exists).
        #[arg(required = true, num_args = 2.., value_name = "SRC... URL")]
        args: Vec<String>,
    },
    /// Print files to stdout.
    #[command(after_help = "\
Examples:
  smb cat smb://files/public/README.txt
  smb cat smb://alice@files/logs/app.log | grep ERROR")]
    Cat {
        /// smb://[user@]host[:port]/share/file (more: URLs of the same share or /paths).
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
    },
    /// Create directories.
    #[command(after_help = "\
Examples:
  smb mkdir smb://alice@files/projects/new
  smb mkdir -p smb://alice@files/projects/a/b/c /projects/d")]
    Mkdir {
        /// Create missing parent directories too, and accept existing directories.
        #[arg(short, long)]
        parents: bool,
        /// smb://[user@]host[:port]/share/dir (more: URLs of the same share or /paths).
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
    },
    /// Remove files (and directories with -r).
    #[command(after_help = "\
Examples:
  smb rm smb://alice@files/projects/old.log /projects/older.log
  smb rm 'smb://alice@files/projects/logs/*.tmp'
  smb rm -rf smb://alice@files/projects/build

Every failure is reported and the rest is still removed; the exit code is that of the
most serious failure.")]
    Rm {
        /// Remove directories and their contents.
        #[arg(short, long)]
        recursive: bool,
        /// Ignore missing files and patterns that match nothing.
        #[arg(short, long)]
        force: bool,
        /// smb://[user@]host[:port]/share/path (more: URLs of the same share or /paths).
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
    },
    /// Remove empty directories.
    #[command(after_help = "\
Examples:
  smb rmdir smb://alice@files/projects/empty")]
    Rmdir {
        /// smb://[user@]host[:port]/share/dir (more: URLs of the same share or /paths).
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
    },
    /// Rename or move files and directories within a share.
    #[command(after_help = "\
Examples:
  smb mv smb://alice@files/projects/draft.txt /projects/final.txt
  smb mv 'smb://alice@files/projects/*.log' /projects/logs/

The destination is a path in the same share (or a URL of it). An existing destination file
is kept (exit code 9) unless -f is given.")]
    Mv {
        /// Replace an existing destination file.
        #[arg(short, long)]
        force: bool,
        /// Sources (the first a URL), then the destination.
        #[arg(required = true, num_args = 2.., value_name = "URL... DEST")]
        args: Vec<String>,
    },
    /// Copy files within a share, on the server (no data through the client).
    #[command(after_help = "\
Examples:
  smb cp smb://alice@files/projects/q1.pdf /projects/archive/
  smb cp -r smb://alice@files/projects/site /projects/site-backup

The copy is written to a temporary name and renamed when complete; an existing
destination file is replaced.")]
    Cp {
        /// Copy directories recursively.
        #[arg(short, long)]
        recursive: bool,
        /// Sources (the first a URL), then the destination.
        #[arg(required = true, num_args = 2.., value_name = "URL... DEST")]
        args: Vec<String>,
    },
    /// Show size, type, attributes and times (smbclient's allinfo).
    #[command(after_help = "\
Examples:
  smb stat smb://alice@files/projects/q1.pdf
  smb --json stat smb://alice@files/projects/q1.pdf")]
    Stat {
        /// smb://[user@]host[:port]/share/path (more: URLs of the same share or /paths).
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
    },
    /// Sum up the size of directories.
    #[command(
        disable_help_flag = true,
        after_help = "\
Examples:
  smb du -sh smb://alice@files/projects
  smb du smb://alice@files/projects/logs

Sizes are the files' sizes in bytes (-h: K, M, G... in powers of 1024), totals per
directory, deepest first, like du."
    )]
    Du {
        /// Only the total of each argument.
        #[arg(short, long)]
        summarize: bool,
        /// Human-readable sizes (1.5K, 23M, 4.0G).
        #[arg(short = 'h', long)]
        human_readable: bool,
        /// Print help.
        #[arg(long, action = ArgAction::Help)]
        help: Option<bool>,
        /// smb://[user@]host[:port]/share[/dir] (more: URLs of the same share or /paths).
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
    },
    /// Show the connection: dialect, signing, encryption, logon, share (smbclient's
    /// showconnect).
    #[command(after_help = "\
Examples:
  smb info smb://alice@files/projects
  smb info --encrypt --json smb://alice@files/projects")]
    Info {
        /// smb://[user@]host[:port]/share
        #[arg(value_name = "URL")]
        url: String,
    },
    /// Show the share's size, used and available space (like df).
    #[command(
        disable_help_flag = true,
        after_help = "\
Examples:
  smb df smb://alice@files/projects
  smb df -h smb://alice@files/projects
  smb --json df smb://alice@files/projects | jq .available

Size, Used and Avail are in bytes (-h: K, M, G... in powers of 1024); Avail is what this
user may still write (after quotas), Use% is Used / (Used + Avail) like df. The volume is
the one behind the share's root; --json adds its label, serial, file system and flags."
    )]
    Df {
        /// Human-readable sizes (1.5K, 23M, 4.0G).
        #[arg(short = 'h', long)]
        human_readable: bool,
        /// Print help.
        #[arg(long, action = ArgAction::Help)]
        help: Option<bool>,
        /// smb://[user@]host[:port]/share
        #[arg(value_name = "URL")]
        url: String,
    },
    /// Print changes in a directory as they happen, until interrupted.
    #[command(after_help = "\
Examples:
  smb watch smb://alice@files/projects/inbox
  smb watch -r smb://alice@files/projects | grep -v '^modified'

One line per change: the action (added, removed, modified, renamed-from, renamed-to,
stream-added, ...) and the path from the share root. A line `rescan DIR/` means the server
lost track of what changed (too many changes at once): list the directory again. Ctrl-C
stops the watch (exit code 130). A watch does not survive a lost connection: it ends with
an error.")]
    Watch {
        /// Also watch every subdirectory.
        #[arg(short, long)]
        recursive: bool,
        /// smb://[user@]host[:port]/share[/dir]
        #[arg(value_name = "URL")]
        url: String,
    },
    /// List the server's shares: name, type, comment (smbclient -L).
    #[command(after_help = "\
Types: disk, printer, device, ipc (+ special: an administrative share such as IPC$;
+ temporary). Hidden shares (names ending in $) are listed too.

Examples:
  smb shares smb://alice@files
  smb shares --json smb://alice@files:4450 | jq -r '.entries[].name'")]
    Shares {
        /// smb://[user@]host[:port]
        #[arg(value_name = "URL")]
        url: String,
    },
}

impl Command {
    /// The command's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Ls { .. } => "ls",
            Command::Tree { .. } => "tree",
            Command::Get { .. } => "get",
            Command::Put { .. } => "put",
            Command::Cat { .. } => "cat",
            Command::Mkdir { .. } => "mkdir",
            Command::Rm { .. } => "rm",
            Command::Rmdir { .. } => "rmdir",
            Command::Mv { .. } => "mv",
            Command::Cp { .. } => "cp",
            Command::Stat { .. } => "stat",
            Command::Du { .. } => "du",
            Command::Info { .. } => "info",
            Command::Df { .. } => "df",
            Command::Watch { .. } => "watch",
            Command::Shares { .. } => "shares",
        }
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
    fn no_sign_opts_out_and_conflicts_with_sign() {
        let a = Cli::try_parse_from(["smb", "ls", "smb://h/s", "--no-sign"]).unwrap();
        assert!(a.global.no_sign && !a.global.sign);
        let b = Cli::try_parse_from(["smb", "ls", "smb://h/s"]).unwrap();
        assert!(!b.global.no_sign, "signing by default");
        assert!(Cli::try_parse_from(["smb", "--sign", "--no-sign", "ls", "smb://h/s"]).is_err());
    }

    #[test]
    fn no_kerberos_conflicts_with_the_kerberos_options() {
        let a = Cli::try_parse_from(["smb", "ls", "smb://h/s", "--no-kerberos"]).unwrap();
        assert!(a.global.no_kerberos && !a.global.kerberos);
        for k in [
            &["-k"][..],
            &["--use-ccache", "/tmp/cc"],
            &["--keytab", "/tmp/kt"],
        ] {
            let mut args = vec!["smb", "--no-kerberos"];
            args.extend_from_slice(k);
            args.extend_from_slice(&["ls", "smb://h/s"]);
            assert!(Cli::try_parse_from(&args).is_err(), "{k:?}");
        }
    }

    #[test]
    fn options_before_or_after_the_command() {
        let a = Cli::try_parse_from(["smb", "--runtime", "smol", "-q", "ls", "smb://h/s"]).unwrap();
        let b = Cli::try_parse_from(["smb", "ls", "smb://h/s", "--runtime", "smol", "-q"]).unwrap();
        assert_eq!((a.global.runtime, a.global.quiet), (Runtime::Smol, true));
        assert_eq!((b.global.runtime, b.global.quiet), (Runtime::Smol, true));
        let c = Cli::try_parse_from(["smb", "get", "--password", "x", "smb://u@h/s/f"]).unwrap();
        assert_eq!(c.global.password.unwrap().expose(), "x");
        let d = Cli::try_parse_from([
            "smb",
            "du",
            "-sh",
            "smb://h/s",
            "-U",
            "D\\u%p",
            "--timeout",
            "500ms",
            "-vv",
        ])
        .unwrap();
        assert!(matches!(
            d.command,
            Command::Du {
                summarize: true,
                human_readable: true,
                ..
            }
        ));
        assert_eq!(d.global.timeout, Some(Duration::from_millis(500)));
        assert_eq!(d.global.verbose, 2);
        assert_eq!(d.global.user.unwrap().user, "u");
        assert!(Cli::try_parse_from(["smb", "ls", "smb://h/s", "--channels", "0"]).is_err());
        assert!(
            Cli::try_parse_from(["smb", "ls", "smb://h/s", "--no-dfs"])
                .unwrap()
                .global
                .no_dfs
        );
        assert!(
            !Cli::try_parse_from(["smb", "ls", "smb://h/s"])
                .unwrap()
                .global
                .no_dfs
        );
        assert!(Cli::try_parse_from(["smb", "ls", "smb://h/s", "--max-dialect", "9"]).is_err());
        // The password never shows in a parsed command's Debug.
        let e = Cli::try_parse_from(["smb", "ls", "smb://h/s", "-U", "u%hunter2"]).unwrap();
        assert!(!format!("{e:?}").contains("hunter2"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 parsecs").is_err());
    }
}
