//! [`KerberosLab`]: a throwaway Samba AD DC (KDC and SMB server in one `samba -M single`)
//! on loopback, for Kerberos tests.
//!
//! Recipe and timings: provisioning takes about 3.5 s, the DC is up 0.5 s later. The DC
//! listens on [`KerberosLab::IP`] (127.0.0.5) only: SMB on port 4495, the KDC on 8888. Its
//! host name `dc1.test.lan` appears only in the SPN (`cifs/dc1.test.lan`) and in the lab's
//! own krb5.conf, which turns off every DNS lookup: connect to the IP, name the host in the
//! SPN. No hosts-file entry is ever written.
//!
//! The DC never runs in the machine's own network: [`KerberosLab::start`] refuses to run
//! unless the process is inside a private network namespace made by [`in_private_netns`]
//! (`unshare -n -m -p -f`: only a loopback interface, a tmpfs on /run/samba for winbindd's
//! global socket directory, and a PID namespace that takes every DC process down with the
//! test). Nothing the DC, `kinit` or the client does can reach another address, and labs in
//! concurrent test processes do not collide (ports, sockets and PIDs are all private).
//!
//! ```no_run
//! #[test]
//! fn kerberos() {
//!     if smb_testkit::in_private_netns("kerberos") {
//!         return; // the parent: the test ran (and passed) in the namespace
//!     }
//!     let lab = smb_testkit::KerberosLab::start().unwrap();
//!     // ...
//! }
//! ```

use std::fs;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set (to the outer process id) in the re-executed test inside the namespace.
const NETNS_ENV: &str = "SMB_TESTKIT_NETNS";

/// Run the test `name` of the current test binary again inside a private network, mount and
/// PID namespace, and wait for it. Returns `true` in the outer process (after asserting that
/// the inner run passed; its output is passed through), `false` inside the namespace, where
/// the caller goes on with the test body.
pub fn in_private_netns(name: &str) -> bool {
    if std::env::var_os(NETNS_ENV).is_some() {
        return false;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let status = Command::new("unshare")
        .args(["-n", "-m", "-p", "-f", "--mount-proc", "sh", "-c"])
        .arg(
            "ip link set lo up && mkdir -p /run/samba && mount -t tmpfs tmpfs /run/samba \\
             && exec \"$@\"",
        )
        .arg("sh")
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(NETNS_ENV, std::process::id().to_string())
        .status()
        .expect("running unshare (util-linux) for a private network namespace");
    assert!(
        status.success(),
        "{name} failed inside its private network namespace ({status})"
    );
    true
}

/// A running Samba AD DC in a temp dir; stopped (TERM to its process group) on drop.
pub struct KerberosLab {
    root: PathBuf,
    child: Option<Child>,
    /// How long provisioning took.
    pub provision_time: Duration,
    /// How long from `samba` started to both ports listening.
    pub start_time: Duration,
}

impl std::fmt::Debug for KerberosLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KerberosLab")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl KerberosLab {
    /// The DC's (only) address.
    pub const IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);
    /// The SMB port.
    pub const SMB_PORT: u16 = 4495;
    /// The KDC port.
    pub const KDC_PORT: u16 = 8888;
    /// The Kerberos realm.
    pub const REALM: &'static str = "TEST.LAN";
    /// The NetBIOS domain.
    pub const DOMAIN: &'static str = "TEST";
    /// The DC's host name (used only in SPNs; never looked up).
    pub const HOST: &'static str = "dc1.test.lan";
    /// The test user.
    pub const USER: &'static str = "alice";
    /// Her password (the domain's policy wants complex ones).
    pub const PASSWORD: &'static str = "Alic3Pass!x";
    /// The administrator's password.
    pub const ADMIN_PASSWORD: &'static str = "Passw0rd!x";
    /// The writable share.
    pub const SHARE: &'static str = "data";

    /// Provision and start a DC. Blocks while another lab on this machine runs.
    pub fn start() -> io::Result<KerberosLab> {
        for tool in ["samba", "samba-tool", "kinit"] {
            if crate::install::find_program(tool).is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "{tool} not found: the Kerberos lab needs the Debian packages samba, \
                         winbind and krb5-user (scripts/test installs them)"
                    ),
                ));
            }
        }
        let Some(outer) = std::env::var_os(NETNS_ENV) else {
            return Err(io::Error::other(
                "KerberosLab::start outside a private network namespace: wrap the test in \
                 smb_testkit::in_private_netns",
            ));
        };
        let root = std::env::temp_dir().join(format!("smb-krblab-{}", outer.to_string_lossy()));
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        let dc = root.join("dc");
        for d in ["data", "cl"] {
            fs::create_dir_all(root.join(d))?;
        }
        fs::set_permissions(root.join("data"), fs::Permissions::from_mode(0o1777))?;
        fs::write(root.join("empty.conf"), "")?;
        let t0 = Instant::now();
        let opt = |s: &str| format!("--option={s}");
        let d = dc.display();
        run(Command::new(sbin("samba-tool"))
            .args(["domain", "provision", "-s"])
            .arg(root.join("empty.conf"))
            .arg(format!("--realm={}", Self::REALM))
            .arg(format!("--domain={}", Self::DOMAIN))
            .arg(format!("--adminpass={}", Self::ADMIN_PASSWORD))
            .args([
                "--server-role=dc",
                "--dns-backend=NONE",
                "--use-rfc2307",
                "--host-name=dc1",
            ])
            .arg(format!("--targetdir={d}"))
            .arg(format!("--host-ip={}", Self::IP))
            .arg(opt(&format!("interfaces={}/8", Self::IP)))
            .arg(opt("bind interfaces only=yes"))
            .arg(opt("server services=s3fs kdc winbindd"))
            .arg(opt("disable netbios=yes"))
            .arg(opt(&format!("pid directory={d}/run")))
            .arg(opt(&format!("ncalrpc dir={d}/ncalrpc")))
            .arg(opt(&format!("ntp signd socket directory={d}/ntp_signd")))
            .arg(opt(&format!("log file={d}/log.%m")))
            .arg(opt(&format!("smb ports={}", Self::SMB_PORT)))
            .arg(opt(&format!("krb5 port={}", Self::KDC_PORT)))
            .arg(opt("kpasswd port=4464")))?;
        let conf = dc.join("etc/smb.conf");
        run(Command::new(sbin("samba-tool"))
            .args(["user", "create", Self::USER, Self::PASSWORD, "-s"])
            .arg(&conf))?;
        let mut f = fs::OpenOptions::new().append(true).open(&conf)?;
        write!(
            f,
            "\n[{}]\n\tpath = {}\n\tread only = no\n",
            Self::SHARE,
            root.join("data").display()
        )?;
        drop(f);
        fs::write(root.join("krb5.conf"), krb5_conf())?;
        let provision_time = t0.elapsed();

        let t1 = Instant::now();
        let out = fs::File::create(root.join("samba.out"))?;
        let child = Command::new(sbin("samba"))
            .arg("-s")
            .arg(&conf)
            .args(["-F", "-M", "single", "--debug-stdout"])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()?;
        let mut lab = KerberosLab {
            root,
            child: Some(child),
            provision_time,
            start_time: Duration::ZERO,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [Self::KDC_PORT, Self::SMB_PORT] {
            let addr = SocketAddr::from((Self::IP, port));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Some(st) = lab.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                    return Err(io::Error::other(format!(
                        "samba exited ({st}) before listening on {addr}:\n{}",
                        lab.log_tail()
                    )));
                }
                if Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "samba did not listen on {addr} within 30 s:\n{}",
                        lab.log_tail()
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        lab.start_time = t1.elapsed();
        Ok(lab)
    }

    /// The lab's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The lab's krb5.conf (point KRB5_CONFIG here).
    pub fn krb5_conf(&self) -> PathBuf {
        self.root.join("krb5.conf")
    }
    /// A path for a credential cache named `name` in the lab (not created).
    pub fn ccache(&self, name: &str) -> PathBuf {
        self.root.join("cl").join(format!("cc.{name}"))
    }
    /// The share's directory on disk.
    pub fn share_path(&self) -> PathBuf {
        self.root.join("data")
    }
    /// `ip:port` of the SMB server.
    pub fn smb_addr(&self) -> String {
        format!("{}:{}", Self::IP, Self::SMB_PORT)
    }
    /// The user principal `alice@TEST.LAN`.
    pub fn principal(&self) -> String {
        format!("{}@{}", Self::USER, Self::REALM)
    }

    /// `kinit` `principal` with `password` into the credential cache at `ccache`.
    pub fn kinit(&self, principal: &str, password: &str, ccache: &Path) -> io::Result<()> {
        self.kinit_with(&[], principal, password, ccache)
    }

    /// [`Self::kinit`] with extra kinit options (e.g. `["-l", "5s"]` for a short lifetime).
    pub fn kinit_with(
        &self,
        opts: &[&str],
        principal: &str,
        password: &str,
        ccache: &Path,
    ) -> io::Result<()> {
        let mut child = Command::new("kinit")
            .args(opts)
            .arg(principal)
            .env("KRB5_CONFIG", self.krb5_conf())
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut i) = child.stdin.take() {
            writeln!(i, "{password}")?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "kinit {principal} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Export the keys of `principal` (a user, e.g. [`Self::USER`]) into a new keytab file.
    pub fn export_keytab(&self, principal: &str, keytab: &Path) -> io::Result<()> {
        run(Command::new(sbin("samba-tool"))
            .args(["domain", "exportkeytab"])
            .arg(keytab)
            .arg(format!("--principal={principal}"))
            .arg("-s")
            .arg(self.root.join("dc/etc/smb.conf")))
    }

    /// Register `spn` (`cifs/alias.test.lan`) on the account `account` (e.g. [`Self::USER`]):
    /// the KDC then issues tickets for it under that account's key, which the file server
    /// does not hold (a misregistered SPN, as happens in real domains).
    pub fn add_spn(&self, spn: &str, account: &str) -> io::Result<()> {
        run(Command::new(sbin("samba-tool"))
            .args(["spn", "add", spn, account])
            .arg("-s")
            .arg(self.root.join("dc/etc/smb.conf")))
    }

    /// The last 40 lines of samba's output.
    pub fn log_tail(&self) -> String {
        let s = fs::read_to_string(self.root.join("samba.out")).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for KerberosLab {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &format!("-{}", child.id())])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = Command::new("kill")
                        .args(["-KILL", &format!("-{}", child.id())])
                        .status();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

use std::os::unix::fs::PermissionsExt;

fn sbin(tool: &str) -> PathBuf {
    crate::install::find_program(tool).unwrap_or_else(|| PathBuf::from(tool))
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{:?} failed ({}):\n{}{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn krb5_conf() -> String {
    format!(
        "[libdefaults]\n\
         \tdefault_realm = {realm}\n\
         \tdns_lookup_realm = false\n\
         \tdns_lookup_kdc = false\n\
         \trdns = false\n\
         \tdns_canonicalize_hostname = false\n\
         \tforwardable = true\n\
         \tudp_preference_limit = 1\n\
         [realms]\n\
         \t{realm} = {{\n\
         \t\tkdc = {ip}:{port}\n\
         \t}}\n\
         [domain_realm]\n\
         \t.test.lan = {realm}\n\
         \ttest.lan = {realm}\n",
        realm = KerberosLab::REALM,
        ip = KerberosLab::IP,
        port = KerberosLab::KDC_PORT,
    )
}
