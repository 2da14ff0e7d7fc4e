//! A throwaway `smbd` with its own smb.conf, passdb and shares, all inside one temp dir.

use crate::install::{UNIX_USER, ensure_samba_installed, ensure_unix_user, find_program};
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read as _, Seek as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Name of the ordinary read-write share every server has.
pub const SHARE: &str = "share";
/// Name of the share that requires encryption (`smb encrypt = required` on the share).
pub const ENCRYPTED_SHARE: &str = "encrypted";
/// Name of the read-only share.
pub const READONLY_SHARE: &str = "readonly";
/// Name of the guest share (present only with [`SambaConfig::guest`]).
pub const GUEST_SHARE: &str = "guest";

/// Password the SMB user gets unless [`SambaConfig::password`] says otherwise.
pub const DEFAULT_PASSWORD: &str = "Testkit-Pass-1";

const DIR_PREFIX: &str = "smbtk-";
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to build a [`SambaServer`]. `SambaConfig::default()` is one loopback address, protocols
/// SMB2_02..SMB3_11, signing and encryption negotiable but not required.
#[derive(Clone, Debug)]
pub struct SambaConfig {
    min_protocol: Option<String>,
    max_protocol: Option<String>,
    signing_required: bool,
    encryption_required: bool,
    multichannel: bool,
    addresses: Vec<Ipv4Addr>,
    guest: bool,
    map_to_guest: String,
    durable_handles: bool,
    password: String,
    global_lines: Vec<String>,
    share_lines: Vec<(String, String)>,
    extra_shares: Vec<(String, Vec<String>)>,
    tmpfs: bool,
    debug_level: u8,
    port: Option<u16>,
    netns: Option<String>,
}

impl Default for SambaConfig {
    fn default() -> Self {
        SambaConfig {
            min_protocol: None,
            max_protocol: None,
            signing_required: false,
            encryption_required: false,
            multichannel: false,
            addresses: vec![Ipv4Addr::LOCALHOST],
            guest: false,
            map_to_guest: "Bad User".to_string(),
            durable_handles: false,
            password: DEFAULT_PASSWORD.to_string(),
            global_lines: Vec::new(),
            share_lines: Vec::new(),
            extra_shares: Vec::new(),
            tmpfs: true,
            debug_level: 1,
            port: None,
            netns: None,
        }
    }
}

impl SambaConfig {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }
    /// `server min protocol` (e.g. `"SMB2_02"`, `"SMB3_11"`).
    pub fn min_protocol(mut self, p: &str) -> Self {
        self.min_protocol = Some(p.to_string());
        self
    }
    /// `server max protocol` (e.g. `"SMB2_10"`, `"SMB3_00"`).
    pub fn max_protocol(mut self, p: &str) -> Self {
        self.max_protocol = Some(p.to_string());
        self
    }
    /// Pin the dialect: min = max = `p`.
    pub fn protocol(self, p: &str) -> Self {
        self.min_protocol(p).max_protocol(p)
    }
    /// `server signing = mandatory`.
    pub fn signing_required(mut self, on: bool) -> Self {
        self.signing_required = on;
        self
    }
    /// `server smb encrypt = required` for every share.
    pub fn encryption_required(mut self, on: bool) -> Self {
        self.encryption_required = on;
        self
    }
    /// `server multi channel support = yes`; listen on 127.0.0.1 plus `extra` more loopback
    /// addresses (127.0.0.2, 127.0.0.3, ...) so the interface list has several entries.
    pub fn multichannel(mut self, extra: u8) -> Self {
        self.multichannel = true;
        self.addresses = (0..=extra)
            .map(|i| Ipv4Addr::new(127, 0, 0, 1 + i))
            .collect();
        self
    }
    /// `server multi channel support = no` (the default), keeping the addresses.
    pub fn multichannel_off(mut self) -> Self {
        self.multichannel = false;
        self
    }
    /// Listen on exactly these addresses (the first one is [`SambaServer::addr`]): loopback
    /// ones, or any inside a network namespace of the caller's ([`SambaConfig::netns`]),
    /// checked at start.
    pub fn addresses(mut self, addrs: &[Ipv4Addr]) -> Self {
        assert!(!addrs.is_empty(), "need at least one address");
        self.addresses = addrs.to_vec();
        self
    }
    /// Allow guest logons (`map to guest = Bad User`) and add the [`GUEST_SHARE`] share.
    pub fn guest(mut self, on: bool) -> Self {
        self.guest = on;
        self
    }
    /// Allow guest logons with this `map to guest` rule (e.g. `"Bad Password"`: a known user
    /// with a wrong password becomes guest) and add the [`GUEST_SHARE`] share.
    pub fn map_to_guest(mut self, rule: &str) -> Self {
        self.guest = true;
        self.map_to_guest = rule.to_string();
        self
    }
    /// Settings that let Samba grant durable/persistent-style handles and leases:
    /// `kernel oplocks = no`, `kernel share modes = no`, `posix locking = no`,
    /// `durable handles = yes`, `smb2 leases = yes`.
    pub fn durable_handles(mut self, on: bool) -> Self {
        self.durable_handles = on;
        self
    }
    /// The SMB user's password.
    pub fn password(mut self, pw: &str) -> Self {
        self.password = pw.to_string();
        self
    }
    /// A free-form line for `[global]`, e.g. `"smb2 max credits = 64"`.
    pub fn global(mut self, line: &str) -> Self {
        self.global_lines.push(line.to_string());
        self
    }
    /// A free-form line for one of the built-in shares (or an extra share).
    pub fn share_option(mut self, share: &str, line: &str) -> Self {
        self.share_lines.push((share.to_string(), line.to_string()));
        self
    }
    /// An extra read-write share with its own directory and optional extra lines.
    pub fn extra_share(mut self, name: &str, lines: &[&str]) -> Self {
        self.extra_shares.push((
            name.to_string(),
            lines.iter().map(|l| l.to_string()).collect(),
        ));
        self
    }
    /// Put the server's directory on /dev/shm (tmpfs) when available (default true).
    pub fn tmpfs(mut self, on: bool) -> Self {
        self.tmpfs = on;
        self
    }
    /// smbd's debug level (`-d`), default 1. The log is in [`SambaServer::log_path`].
    pub fn debug_level(mut self, level: u8) -> Self {
        self.debug_level = level;
        self
    }
    /// Listen on this TCP port instead of a free one chosen at start.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// Run smbd inside the network namespace `name` (made by the caller, e.g. with
    /// `ip netns add`), listening on `addresses` there; give a `port` too (a free port cannot
    /// be probed from outside the namespace). Readiness is checked with `ss` inside it.
    pub fn netns(mut self, name: &str) -> Self {
        self.netns = Some(name.to_string());
        self
    }
    /// Start the server (see [`SambaServer::start`]).
    pub fn start(self) -> io::Result<SambaServer> {
        SambaServer::start_with(self)
    }

    fn share_names(&self) -> Vec<String> {
        let mut v = vec![
            SHARE.to_string(),
            ENCRYPTED_SHARE.to_string(),
            READONLY_SHARE.to_string(),
        ];
        if self.guest {
            v.push(GUEST_SHARE.to_string());
        }
        v.extend(self.extra_shares.iter().map(|(n, _)| n.clone()));
        v
    }

    fn render(&self, root: &Path, port: u16) -> String {
        let p = |s: &str| root.join(s).display().to_string();
        let interfaces: Vec<String> = self.addresses.iter().map(|a| format!("{a}/8")).collect();
        let mut g: Vec<String> = vec![
            "server role = standalone server".into(),
            "workgroup = WORKGROUP".into(),
            format!("netbios name = TESTKIT{}", port % 10000),
            format!("smb ports = {port}"),
            format!("interfaces = {}", interfaces.join(" ")),
            "bind interfaces only = yes".into(),
            "disable netbios = yes".into(),
            "load printers = no".into(),
            "printing = bsd".into(),
            "printcap name = /dev/null".into(),
            "disable spoolss = yes".into(),
            format!("private dir = {}", p("private")),
            format!("binddns dir = {}", p("private")),
            format!("lock directory = {}", p("lock")),
            format!("state directory = {}", p("state")),
            format!("cache directory = {}", p("cache")),
            format!("pid directory = {}", p("pid")),
            format!("ncalrpc dir = {}", p("ncalrpc")),
            format!("log file = {}", p("log/log.%m")),
            "max log size = 0".into(),
            format!("passdb backend = tdbsam:{}", p("private/passdb.tdb")),
            "usershare path =".into(),
            "registry shares = no".into(),
            "obey pam restrictions = no".into(),
            "unix password sync = no".into(),
            format!("guest account = {UNIX_USER}"),
            format!(
                "server multi channel support = {}",
                if self.multichannel { "yes" } else { "no" }
            ),
        ];
        if let Some(v) = &self.min_protocol {
            g.push(format!("server min protocol = {v}"));
        }
        if let Some(v) = &self.max_protocol {
            g.push(format!("server max protocol = {v}"));
        }
        if self.signing_required {
            g.push("server signing = mandatory".into());
        }
        if self.encryption_required {
            g.push("server smb encrypt = required".into());
        }
        if self.guest {
            g.push(format!("map to guest = {}", self.map_to_guest));
        }
        if self.durable_handles {
            for l in [
                "kernel oplocks = no",
                "kernel share modes = no",
                "posix locking = no",
                "durable handles = yes",
                "smb2 leases = yes",
            ] {
                g.push(l.into());
            }
        }
        if let Some(level) = debug_log_level() {
            g.push(format!("log level = {level}"));
        }
        g.extend(self.global_lines.iter().cloned());
        let mut out = String::from("[global]\n");
        for l in &g {
            let _ = writeln!(out, "    {l}");
        }
        for name in self.share_names() {
            let _ = writeln!(out, "\n[{name}]");
            let _ = writeln!(out, "    path = {}", p(&format!("shares/{name}")));
            let mut share_line = |l: &str| {
                let _ = writeln!(out, "    {l}");
            };
            share_line("create mask = 0666");
            share_line("directory mask = 0777");
            share_line(&format!("comment = {}", share_comment(&name)));
            match name.as_str() {
                READONLY_SHARE => share_line("read only = yes"),
                ENCRYPTED_SHARE => {
                    share_line("read only = no");
                    share_line("smb encrypt = required");
                }
                GUEST_SHARE => {
                    share_line("read only = no");
                    share_line("guest ok = yes");
                }
                _ => share_line("read only = no"),
            }
            if let Some((_, extra)) = self.extra_shares.iter().find(|(n, _)| *n == name) {
                for l in extra {
                    share_line(l);
                }
            }
            for (s, l) in &self.share_lines {
                if *s == name {
                    share_line(l);
                }
            }
        }
        out
    }
}

/// Whether something listens on TCP `port` inside the network namespace `ns`.
fn listening_in_netns(ns: &str, port: u16) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ss", "-ltnH"])
        .arg(format!("sport = :{port}"))
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
}

/// The comment (`comment =`, what a share listing shows) every share of a [`SambaServer`]
/// gets unless its extra lines set another.
pub fn share_comment(name: &str) -> String {
    format!("testkit share {name}")
}

/// A running `smbd`. Dropping it stops the server (the whole process group) and removes its
/// directory. Get credentials from [`user`](SambaServer::user) /
/// [`password`](SambaServer::password), the endpoint from [`addr`](SambaServer::addr).
#[derive(Debug)]
pub struct SambaServer {
    child: Option<Child>,
    /// Kept open so smbd (which exits when its stdin closes) dies with this process even if
    /// Drop never runs (statics, aborts).
    _stdin: Option<ChildStdin>,
    /// `sh` that removes the directory once this process is gone (for statics).
    janitor: Option<Child>,
    root: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    addrs: Vec<IpAddr>,
    port: u16,
    password: String,
    shares: Vec<String>,
    config: SambaConfig,
}

/// `SMB_TESTKIT_SMBD_LOG=N`: run smbd with `log level = N` and keep its directory (logs
/// under `log/`) after the test, to see why the server answered as it did.
fn debug_log_level() -> Option<u8> {
    std::env::var("SMB_TESTKIT_SMBD_LOG").ok()?.parse().ok()
}

fn free_port(addrs: &[Ipv4Addr]) -> io::Result<u16> {
    for _ in 0..50 {
        let l = TcpListener::bind((addrs[0], 0))?;
        let port = l.local_addr()?.port();
        let others_free = addrs[1..]
            .iter()
            .all(|a| TcpListener::bind((*a, port)).is_ok());
        if others_free {
            return Ok(port);
        }
    }
    Err(io::Error::other("no port free on every address"))
}

fn base_dir(tmpfs: bool) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if tmpfs
        && shm.is_dir()
        && fs::metadata(shm)
            .map(|m| !m.permissions().readonly())
            .unwrap_or(false)
    {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Last `max` bytes of a file, lossily as text.
pub(crate) fn file_tail(path: &Path, max: u64) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::from("(no log)");
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(io::SeekFrom::Start(len.saturating_sub(max)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

impl SambaServer {
    /// Start a server with the default configuration.
    pub fn start() -> io::Result<SambaServer> {
        Self::start_with(SambaConfig::default())
    }

    /// One server per test binary with the default configuration, started on first use and
    /// stopped when the process exits. Panics (with smbd's log tail) if it cannot start.
    /// Tests sharing it should work in their own subdirectory of the share.
    pub fn shared() -> &'static SambaServer {
        static SHARED: OnceLock<SambaServer> = OnceLock::new();
        SHARED.get_or_init(|| match SambaServer::start() {
            Ok(s) => s,
            Err(e) => panic!("smb-testkit: cannot start the shared Samba server: {e}"),
        })
    }

    /// Start a server with `config`. Installs Samba and creates the Unix user if needed.
    pub fn start_with(config: SambaConfig) -> io::Result<SambaServer> {
        assert!(
            config.netns.is_some() || config.addresses.iter().all(|a| a.is_loopback()),
            "the testkit only serves on 127.0.0.0/8, or inside a network namespace"
        );
        ensure_samba_installed()?;
        let (uid, gid) = ensure_unix_user()?;
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let parent = base_dir(config.tmpfs);
        crate::install::remove_stale_dirs(&parent, DIR_PREFIX);
        let root = parent.join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        for d in ["private", "lock", "state", "cache", "pid", "ncalrpc", "log"] {
            fs::create_dir_all(root.join(d))?;
        }
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
        let shares = config.share_names();
        for s in &shares {
            let d = root.join("shares").join(s);
            fs::create_dir_all(&d)?;
            std::os::unix::fs::chown(&d, Some(uid), Some(gid))?;
            fs::set_permissions(&d, fs::Permissions::from_mode(0o777))?;
        }
        let mut server = SambaServer {
            child: None,
            _stdin: None,
            janitor: None,
            conf: root.join("smb.conf"),
            log: root.join("log/smbd.out"),
            root,
            addrs: config.addresses.iter().map(|a| IpAddr::V4(*a)).collect(),
            port: 0,
            password: config.password.clone(),
            shares,
            config,
        };
        server.spawn_janitor();
        let mut last_err = None;
        for _attempt in 0..4 {
            match server.try_launch() {
                Ok(()) => return Ok(server),
                Err((e, retry)) => {
                    last_err = Some(e);
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("smbd did not start")))
    }

    fn spawn_janitor(&mut self) {
        if debug_log_level().is_some() {
            eprintln!("smbd logs kept in {}", self.root.join("log").display());
            return;
        }
        // Reads until this process's end of the pipe closes, then removes the directory.
        let j = Command::new("sh")
            .args([
                "-c",
                "cat >/dev/null; sleep 2; rm -rf \"$1\"",
                "sh",
                &self.root.display().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        self.janitor = j.ok();
    }

    /// Write the config, the passdb entry and start smbd; `Err((e, retry))`.
    fn try_launch(&mut self) -> Result<(), (io::Error, bool)> {
        let v4: Vec<Ipv4Addr> = self.config.addresses.clone();
        let port = match self.config.port {
            Some(p) => p,
            None => free_port(&v4).map_err(|e| (e, false))?,
        };
        self.port = port;
        fs::write(&self.conf, self.config.render(&self.root, port)).map_err(|e| (e, false))?;
        self.add_passdb_user().map_err(|e| (e, false))?;
        let smbd = find_program("smbd").ok_or((io::Error::other("smbd not found"), false))?;
        let log = fs::File::create(&self.log).map_err(|e| (e, false))?;
        let log2 = log.try_clone().map_err(|e| (e, false))?;
        let mut cmd = match &self.config.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(smbd);
                c
            }
            None => Command::new(smbd),
        };
        let mut child = cmd
            .arg("--foreground")
            .arg("--no-process-group")
            .arg("--debug-stdout")
            .arg(format!("--debuglevel={}", self.config.debug_level))
            .arg(format!("--configfile={}", self.conf.display()))
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .map_err(|e| (e, false))?;
        let stdin = child.stdin.take();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = file_tail(&self.log, 3000);
                // Another free port may work; a port asked for by number will not.
                let retry = self.config.port.is_none()
                    && (tail.contains("in use") || tail.contains("bind"));
                return Err((
                    io::Error::other(format!(
                        "smbd exited during startup ({status}); config {}; log tail:\n{tail}",
                        self.conf.display()
                    )),
                    retry,
                ));
            }
            let ready = match &self.config.netns {
                Some(ns) => listening_in_netns(ns, port),
                None => self.addrs.iter().all(|ip| {
                    TcpStream::connect_timeout(
                        &SocketAddr::new(*ip, port),
                        Duration::from_millis(200),
                    )
                    .is_ok()
                }),
            };
            if ready {
                break;
            }
            if Instant::now() > deadline {
                kill_group(&mut child);
                let tail = file_tail(&self.log, 3000);
                return Err((
                    io::Error::other(format!(
                        "smbd did not accept on port {port} within {START_TIMEOUT:?}; log tail:\n{tail}"
                    )),
                    false,
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
        self._stdin = stdin;
        Ok(())
    }

    fn add_passdb_user(&self) -> io::Result<()> {
        let smbpasswd = find_program("smbpasswd").ok_or(io::Error::other("smbpasswd missing"))?;
        let mut child = Command::new(smbpasswd)
            .arg("-c")
            .arg(&self.conf)
            .args(["-a", "-s", UNIX_USER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("piped");
            write!(stdin, "{pw}\n{pw}\n", pw = self.password)?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "smbpasswd -a failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// The first listening address (127.0.0.1 unless configured otherwise).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.addrs[0], self.port)
    }
    /// Every listening address (several with [`SambaConfig::multichannel`]).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.addrs
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.port))
            .collect()
    }
    /// The TCP port (the same on every address).
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The SMB user name.
    pub fn user(&self) -> &str {
        UNIX_USER
    }
    /// The SMB user's password.
    pub fn password(&self) -> &str {
        &self.password
    }
    /// The workgroup/domain the server calls itself (NTLM accepts any domain for local users).
    pub fn domain(&self) -> &str {
        "WORKGROUP"
    }
    /// Names of the shares this server has.
    pub fn shares(&self) -> &[String] {
        &self.shares
    }
    /// Local directory behind `share`, to check bytes on disk. Panics on an unknown share.
    pub fn share_path(&self, share: &str) -> PathBuf {
        assert!(
            self.shares.iter().any(|s| s == share),
            "no share {share:?} (have {:?})",
            self.shares
        );
        self.root.join("shares").join(share)
    }
    /// `smb://127.0.0.1:<port>/<share>`.
    pub fn url(&self, share: &str) -> String {
        format!("smb://{}/{}", self.addr(), share)
    }
    /// `\\127.0.0.1\<share>` (the UNC form TREE_CONNECT carries; no port).
    pub fn unc(&self, share: &str) -> String {
        format!("\\\\{}\\{}", self.addrs[0], share)
    }
    /// Path of the generated smb.conf.
    pub fn conf_path(&self) -> &Path {
        &self.conf
    }
    /// Path of smbd's debug output.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
    /// The last `max_bytes` of smbd's log (for assertion messages).
    pub fn log_tail(&self, max_bytes: u64) -> String {
        file_tail(&self.log, max_bytes)
    }
    /// Pid of the main smbd (also its process group id).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
    /// Write `data` to `rel` inside `share` on disk, owned by the SMB user so the client can
    /// also modify or delete it. Creates parent directories.
    pub fn put_file(&self, share: &str, rel: &str, data: &[u8]) -> io::Result<PathBuf> {
        let (uid, gid) = ensure_unix_user()?;
        let base = self.share_path(share);
        let path = base.join(rel);
        let parent = path.parent().unwrap_or(&base).to_path_buf();
        fs::create_dir_all(&parent)?;
        let mut d = parent.as_path();
        while d.starts_with(&base) && d != base {
            std::os::unix::fs::chown(d, Some(uid), Some(gid))?;
            d = d.parent().unwrap_or(&base);
        }
        fs::write(&path, data)?;
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))?;
        Ok(path)
    }

    /// Run `smbclient` against `share` on this server with `commands` (`-c`), in `cwd`.
    pub fn smbclient(&self, share: &str, commands: &str, cwd: &Path) -> io::Result<Output> {
        self.smbclient_at(self.addr(), share, commands, cwd, &[])
    }

    /// Run `smbclient` against `share` at `addr` (e.g. a [`crate::FaultProxy`]) with this
    /// server's credentials and `extra` arguments (e.g. `["-m", "SMB3_11", "--client-protection=encrypt"]`).
    pub fn smbclient_at(
        &self,
        addr: SocketAddr,
        share: &str,
        commands: &str,
        cwd: &Path,
        extra: &[&str],
    ) -> io::Result<Output> {
        smbclient(
            addr,
            share,
            Some((self.user(), self.password())),
            commands,
            cwd,
            extra,
        )
    }

    /// Stop smbd and start it again on the same port with the same configuration and files
    /// (what a server reboot or a service restart does: every connection, session and open,
    /// durable ones included, is gone).
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let port = self.port;
        let saved = self.config.port.replace(port);
        let mut r = Err(io::Error::other("smbd did not start again"));
        for _attempt in 0..20 {
            match self.try_launch() {
                Ok(()) => {
                    r = Ok(());
                    break;
                }
                // The port may linger a moment after the old smbd's exit.
                Err((e, _)) => {
                    r = Err(e);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        self.config.port = saved;
        r
    }

    /// Change the configuration with `f` and restart smbd with it (same port and files; as
    /// with [`restart`](Self::restart), every session and open is gone).
    pub fn reconfigure(&mut self, f: impl FnOnce(SambaConfig) -> SambaConfig) -> io::Result<()> {
        self.config = f(self.config.clone());
        self.restart()
    }

    /// Stop smbd now (also done by Drop). The directory stays until Drop.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(&mut c);
        }
        self._stdin = None;
    }
}

/// Send SIGTERM to the process group led by `child`, wait up to 5 s, then SIGKILL it.
fn kill_group(child: &mut Child) {
    let pgid = child.id();
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // Children (per-connection smbd, samba-dcerpcd) share the group; make sure.
            signal("-KILL");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal("-KILL");
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for SambaServer {
    fn drop(&mut self) {
        self.stop();
        if debug_log_level().is_none() {
            let _ = fs::remove_dir_all(&self.root);
        }
        if let Some(mut j) = self.janitor.take() {
            let _ = j.kill();
            let _ = j.wait();
        }
    }
}

/// Run `smbclient //<ip>/<share> -p <port>` with `-U user%pass` (or `-N` for anonymous) and
/// `-c commands` in `cwd`. Remember smbclient may exit 0 although a put/get failed: check its
/// output (`NT_STATUS_`) and the bytes.
pub fn smbclient(
    addr: SocketAddr,
    share: &str,
    creds: Option<(&str, &str)>,
    commands: &str,
    cwd: &Path,
    extra: &[&str],
) -> io::Result<Output> {
    let mut cmd = Command::new(find_program("smbclient").ok_or(io::Error::other("no smbclient"))?);
    cmd.arg(format!("//{}/{}", addr.ip(), share))
        .args(["-p", &addr.port().to_string()])
        .current_dir(cwd)
        .stdin(Stdio::null());
    match creds {
        Some((u, p)) => cmd.args(["-U", &format!("{u}%{p}")]),
        None => cmd.arg("-N"),
    };
    cmd.args(extra).args(["-c", commands]);
    cmd.output()
}
