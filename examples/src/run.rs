//! Parse the command line and run one command: the context every command gets (options,
//! output settings, and the injectable pieces: connector, resolver, password prompt).

use crate::cli::{Cli, Command, Global};
use crate::commands::{files, info, listing, shares, volume};
use crate::credentials::{CredentialArgs, Prompt, Secret, TerminalPrompt};
use crate::error::{Failure, Phase, exit};
use crate::progress::Ui;
use crate::remote::{self, ConnectSpec, Remote, Runtime};
use crate::resolve::{Resolver, StaticResolver, SystemResolver};
use crate::transfer;
use clap::Parser;
use std::ffi::OsString;
use std::io::{self, IsTerminal};
use std::sync::Arc;

/// How commands reach a server: [`remote::connect`] in the binary, an in-memory share in
/// tests.
pub type Connector = dyn Fn(Runtime, &ConnectSpec) -> Result<Box<dyn Remote>, Option<(Phase, io::Error)>>
    + Send
    + Sync;

/// What a command needs from the outside world (replaced in tests).
pub struct System {
    /// Connect and open a share.
    pub connect: Arc<Connector>,
    /// Host names to addresses.
    pub resolver: Arc<dyn Resolver + Send + Sync>,
    /// Asks for a password when nothing else gives one.
    pub prompt: Box<dyn Prompt>,
    /// `SMB_PASSWORD`.
    pub env_password: Option<Secret>,
    /// Whether stderr is a terminal (progress bars).
    pub stderr_terminal: bool,
}

impl System {
    /// The real world: the adapters, the system resolver (or `SMB_RESOLVE`), the terminal.
    pub fn from_env() -> Result<System, Failure> {
        let resolver: Arc<dyn Resolver + Send + Sync> = match std::env::var("SMB_RESOLVE") {
            Ok(spec) => Arc::new(StaticResolver::parse(&spec).map_err(Failure::usage)?),
            Err(_) => Arc::new(SystemResolver),
        };
        let env_password = std::env::var_os("SMB_PASSWORD").map(Secret::from_os);
        Ok(System {
            connect: Arc::new(remote::connect),
            resolver,
            prompt: Box::new(TerminalPrompt),
            env_password,
            stderr_terminal: io::stderr().is_terminal(),
        })
    }
}

/// What every command gets.
pub struct Ctx<'a> {
    /// The global options.
    pub g: &'a Global,
    /// The outside world.
    pub sys: &'a System,
    /// Output settings.
    pub ui: Ui,
}

impl Ctx<'_> {
    /// The credential options.
    pub fn credential_args(&self) -> CredentialArgs {
        CredentialArgs {
            user: self.g.user.clone(),
            password: self.g.password.clone(),
            auth_file: self.g.auth_file.clone(),
            guest: self.g.guest,
            anonymous: self.g.anonymous,
        }
    }
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
    init_tracing(cli.global.verbose);
    let result = System::from_env().and_then(|sys| run_with(&cli, &sys));
    exit_code(result)
}

/// Print the failure (unless already printed) and give its exit code.
pub fn exit_code(result: Result<(), Failure>) -> i32 {
    match result {
        Ok(()) => exit::OK,
        Err(f) if f.code == exit::OK => exit::OK,
        Err(f) => {
            if !f.reported {
                eprintln!("smb: {f}");
            }
            f.code
        }
    }
}

/// `-v` connection steps, `-vv` state transitions, `-vvv` everything; on stderr, with the
/// time since start and the thread (which shows the runtime at work).
fn init_tracing(verbose: u8) {
    use tracing_subscriber::fmt::time::uptime;
    let level = match verbose {
        0 => return,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_max_level(level)
        .with_timer(uptime())
        .with_thread_names(true)
        .try_init();
}

/// Run one parsed command against `sys`.
pub fn run_with(cli: &Cli, sys: &System) -> Result<(), Failure> {
    let g = &cli.global;
    let ui = Ui {
        quiet: g.quiet,
        bars: sys.stderr_terminal && !g.quiet && !g.no_progress && g.verbose == 0,
    };
    let ctx = Ctx { g, sys, ui };
    if g.json
        && !matches!(
            cli.command,
            Command::Ls { .. }
                | Command::Stat { .. }
                | Command::Du { .. }
                | Command::Info { .. }
                | Command::Shares { .. }
                | Command::Tree { .. }
                | Command::Df { .. }
        )
    {
        return Err(Failure::usage(format!(
            "--json is for ls, stat, du, info, df and shares, not {}",
            cli.command.name()
        )));
    }
    let r = match &cli.command {
        Command::Ls {
            long,
            recursive,
            all,
            urls,
        } => listing::ls(&ctx, urls, *long, *recursive, *all),
        Command::Tree { all, level, url } => listing::tree(&ctx, url, *all, *level),
        Command::Du {
            summarize,
            human_readable,
            urls,
            ..
        } => listing::du(&ctx, urls, *summarize, *human_readable),
        Command::Stat { urls } => listing::stat(&ctx, urls),
        Command::Info { url } => info::info(&ctx, url),
        Command::Df {
            human_readable,
            url,
            ..
        } => volume::df(&ctx, url, *human_readable),
        Command::Watch { recursive, url } => volume::watch(&ctx, url, *recursive),
        Command::Shares { url } => shares::shares(&ctx, url),
        Command::Get {
            recursive,
            resume,
            args,
        } => transfer::get(&ctx, args, *recursive, *resume),
        Command::Put {
            recursive,
            resume,
            args,
        } => transfer::put(&ctx, args, *recursive, *resume),
        Command::Cat { urls } => files::cat(&ctx, urls),
        Command::Mkdir { parents, urls } => files::mkdir(&ctx, urls, *parents),
        Command::Rm {
            recursive,
            force,
            urls,
        } => files::rm(&ctx, urls, *recursive, *force),
        Command::Rmdir { urls } => files::rmdir(&ctx, urls),
        Command::Mv { force, args } => files::mv(&ctx, args, *force),
        Command::Cp { recursive, args } => files::cp(&ctx, args, *recursive),
    };
    // A signal that arrived while the command finished still decides the exit code.
    match r {
        Ok(()) if crate::interrupt::is_set() => Err(Failure::interrupted()),
        r => r,
    }
}
