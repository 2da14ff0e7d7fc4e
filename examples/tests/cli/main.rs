//! The built `smb` binary against one throwaway Samba server shared by every test of this
//! binary (a guest share included), each test in its own directory of the share. Tests
//! where the runtime matters run once per runtime and check, from the trace, that the
//! adapter asked for carried the traffic. Every failure case asserts the exit code and the
//! one-line message.

use smb_testkit::{Direction, FaultProxy, GUEST_SHARE, SHARE, SambaConfig, SambaServer};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SMB: &str = env!("CARGO_BIN_EXE_smb");

// Exit codes documented in `smb --help` (smb_examples::error::exit).
const OTHER: i32 = 1;
const USAGE: i32 = 2;
const BAD_URL: i32 = 3;
const UNREACHABLE: i32 = 4;
const LOGON_FAILURE: i32 = 5;
const SHARE_NOT_FOUND: i32 = 6;
const NOT_FOUND: i32 = 7;
const ACCESS_DENIED: i32 = 8;
const ALREADY_EXISTS: i32 = 9;
const NAME_RESOLUTION: i32 = 12;
const SECURITY: i32 = 13;
const INTERRUPTED: i32 = 130;

/// The lab: default Samba plus a guest share (`map to guest = Bad User`).
fn lab() -> &'static SambaServer {
    static LAB: OnceLock<SambaServer> = OnceLock::new();
    LAB.get_or_init(|| match SambaConfig::new().guest(true).start() {
        Ok(s) => s,
        Err(e) => panic!("cannot start the lab Samba server: {e}"),
    })
}

/// `smb://user@addr/share`.
fn base() -> String {
    format!("smb://{}@{}/{SHARE}", lab().user(), lab().addr())
}

/// A `smb` command with a clean environment: the lab's password in SMB_PASSWORD, no
/// SMB_RUNTIME or SMB_RESOLVE from outside.
fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(SMB);
    c.args(args)
        .env("SMB_PASSWORD", lab().password())
        .env_remove("SMB_RUNTIME")
        .env_remove("SMB_RESOLVE")
        .stdin(Stdio::null());
    c
}

fn run(mut c: impl std::borrow::BorrowMut<Command>) -> Output {
    c.borrow_mut().output().expect("cannot run the smb binary")
}

/// `smb --runtime rt ARGS`.
fn smb(rt: &str, args: &[&str]) -> Output {
    run(cmd(args).args(["--runtime", rt]))
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Require success.
#[track_caller]
fn ok(o: Output) -> Output {
    assert!(o.status.success(), "expected success\n{}", show(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", show(&o));
    o
}

/// Require exit code `code` and a one-line stderr containing `needle` (case-insensitive).
#[track_caller]
fn fails(o: Output, code: i32, needle: &str) -> Output {
    let err = stderr(&o).to_lowercase();
    assert_eq!(o.status.code(), Some(code), "{}", show(&o));
    assert!(
        err.contains(&needle.to_lowercase()),
        "expected {needle:?} in stderr\n{}",
        show(&o)
    );
    assert_eq!(err.lines().count(), 1, "not one line\n{}", show(&o));
    assert!(!err.contains("panicked"), "{}", show(&o));
    o
}

/// Deterministic pseudo-random bytes (xorshift64*), different per seed.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// A local scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("smb-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn file(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The test's own directory on the share: (URL, path on disk). Starts empty.
fn remote_dir(tag: &str) -> (String, PathBuf) {
    let disk = lab().share_path(SHARE).join(tag);
    let _ = std::fs::remove_dir_all(&disk);
    lab().put_file(SHARE, &format!("{tag}/.keep"), b"").unwrap();
    std::fs::remove_file(disk.join(".keep")).unwrap();
    (format!("{}/{tag}", base()), disk)
}

/// Names in a local or on-disk directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The adapter that carried the traffic, read from the `-vv` trace (each adapter logs its
/// driver's events under its own crate name).
#[track_caller]
fn assert_runtime(o: &Output, rt: &str) {
    let err = stderr(o);
    let target = format!("smb_{rt}:");
    assert!(
        err.contains(&target),
        "no {target} lines in the trace\n{err}"
    );
    for other in ["tokio", "smol", "blocking"].iter().filter(|o| **o != rt) {
        assert!(
            !err.contains(&format!("smb_{other}:")),
            "the {other} adapter ran, not {rt}\n{err}"
        );
    }
}

/// Start `smb` with piped output.
fn spawn(rt: &str, args: &[&str]) -> Child {
    cmd(args)
        .args(["--runtime", rt])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &mut Child) -> Output {
    let pid = child.id().to_string();
    let st = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(st.success());
    finish(child)
}

/// Wait for `child` to end and collect its piped output.
fn finish(child: &mut Child) -> Output {
    let mut out = Vec::new();
    let mut err = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    Output {
        status: child.wait().unwrap(),
        stdout: out,
        stderr: err,
    }
}

mod options;
mod transfers;
mod transfers_faults;

use transfers::{many_files, round_trip};
use transfers_faults::{errors, interrupted, survives_killed_connections};

macro_rules! per_runtime {
    ($($rt:ident),*) => {
        $(
            mod $rt {
                #[test]
                fn round_trip() {
                    super::round_trip(stringify!($rt));
                }
                #[test]
                fn many_files() {
                    super::many_files(stringify!($rt));
                }
                #[test]
                fn errors() {
                    super::errors(stringify!($rt));
                }
                #[test]
                fn interrupted() {
                    super::interrupted(stringify!($rt));
                }
                #[test]
                fn survives_killed_connections() {
                    super::survives_killed_connections(stringify!($rt));
                }
            }
        )*
    };
}

per_runtime!(tokio, smol, blocking);
