//! The built `smb` binary against one throwaway Samba server (shared by every test of this
//! binary), once per runtime: transfers, listings, metadata, removal, and the error cases
//! with their exit codes and messages.

use smb_testkit::{SHARE, SambaServer};
use std::path::PathBuf;
use std::process::{Command, Output};

const SMB: &str = env!("CARGO_BIN_EXE_smb");

// Exit codes documented in `smb --help` (smb_examples::error::exit).
const BAD_URL: i32 = 3;
const UNREACHABLE: i32 = 4;
const LOGON_FAILURE: i32 = 5;
const SHARE_NOT_FOUND: i32 = 6;
const NOT_FOUND: i32 = 7;

/// Run `smb --runtime <rt> <args>` with `password` in SMB_PASSWORD.
fn smb(rt: &str, password: &str, args: &[&str]) -> Output {
    Command::new(SMB)
        .args(args)
        .args(["--runtime", rt])
        .env("SMB_PASSWORD", password)
        .env_remove("SMB_RUNTIME")
        .output()
        .expect("cannot run the smb binary")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run and require success; returns stdout.
fn ok(rt: &str, password: &str, args: &[&str]) -> Output {
    let o = smb(rt, password, args);
    assert!(
        o.status.success(),
        "smb {args:?} on {rt} failed\n{}",
        show(&o)
    );
    o
}

/// Run and require exit code `code` and a stderr message containing `needle`.
fn fails(rt: &str, password: &str, args: &[&str], code: i32, needle: &str) {
    let o = smb(rt, password, args);
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert_eq!(
        o.status.code(),
        Some(code),
        "smb {args:?} on {rt}\n{}",
        show(&o)
    );
    assert!(
        err.contains(needle),
        "smb {args:?} on {rt}: expected {needle:?} in stderr\n{}",
        show(&o)
    );
    assert_eq!(
        err.lines().count(),
        1,
        "error message is not one line\n{}",
        show(&o)
    );
    assert!(!err.contains("panicked"), "{}", show(&o));
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
        let p = std::env::temp_dir().join(format!("smb-cli-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn base_url(server: &SambaServer) -> String {
    format!("smb://{}@{}/{SHARE}", server.user(), server.addr())
}

fn round_trip(rt: &str) {
    let server = SambaServer::shared();
    let pw = server.password();
    let base = base_url(server);
    let on_disk = server.share_path(SHARE).join(format!("cli-{rt}"));
    let local = Scratch::new(rt);
    let dir = format!("{base}/cli-{rt}");

    ok(rt, pw, &["mkdir", &dir]);
    assert!(
        on_disk.is_dir(),
        "mkdir did not create {}",
        on_disk.display()
    );

    // Several MiB and an odd size, so that reads and writes span many requests.
    let content = data(3 * 1024 * 1024 + 12_345, rt.len() as u64);
    let src = local.file("up.bin");
    std::fs::write(&src, &content).unwrap();
    let remote = format!("{dir}/data.bin");
    let o = ok(rt, pw, &["put", &src, &remote]);
    let summary = String::from_utf8_lossy(&o.stderr);
    assert!(
        summary.contains(&format!("{} bytes", content.len())) && summary.contains("MB/s"),
        "no transfer summary\n{}",
        show(&o)
    );
    assert!(
        std::fs::read(on_disk.join("data.bin")).unwrap() == content,
        "server-side file differs"
    );

    let dst = local.file("down.bin");
    ok(rt, pw, &["-q", "get", &remote, &dst]);
    assert!(
        std::fs::read(&dst).unwrap() == content,
        "downloaded bytes differ"
    );

    let ls = ok(rt, pw, &["ls", &dir]);
    let ls = String::from_utf8_lossy(&ls.stdout);
    let line = ls
        .lines()
        .find(|l| l.ends_with(" data.bin"))
        .unwrap_or_else(|| panic!("ls does not show data.bin:\n{ls}"));
    assert!(line.contains(&content.len().to_string()), "ls size: {line}");

    let st = ok(rt, pw, &["stat", &remote]);
    let st = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.contains(&format!("size:       {}", content.len())),
        "stat:\n{st}"
    );
    assert!(st.contains("type:       file"), "stat:\n{st}");

    server
        .put_file(SHARE, &format!("cli-{rt}/small.txt"), b"small file\n")
        .unwrap();
    let cat = ok(rt, pw, &["cat", &format!("{dir}/small.txt")]);
    assert_eq!(cat.stdout, b"small file\n");

    ok(
        rt,
        pw,
        &[
            "mv",
            &format!("{dir}/small.txt"),
            &format!("/cli-{rt}/moved.txt"),
        ],
    );
    assert!(on_disk.join("moved.txt").is_file() && !on_disk.join("small.txt").exists());

    ok(rt, pw, &["rm", &remote]);
    assert!(!on_disk.join("data.bin").exists(), "rm left the file");
    fails(rt, pw, &["stat", &remote], NOT_FOUND, "not found");

    ok(rt, pw, &["rm", "-r", &dir]);
    assert!(!on_disk.exists(), "rm -r left the directory");
}

fn server_errors(rt: &str) {
    let server = SambaServer::shared();
    let pw = server.password();
    let base = base_url(server);
    fails(
        rt,
        "wrong-password",
        &["ls", &base],
        LOGON_FAILURE,
        "logon failure",
    );
    let no_share = format!("smb://{}@{}/no-such-share", server.user(), server.addr());
    fails(
        rt,
        pw,
        &["ls", &no_share],
        SHARE_NOT_FOUND,
        "share not found",
    );
    let missing = format!("{base}/no/such/file.txt");
    fails(
        rt,
        pw,
        &["get", &missing, "/dev/null"],
        NOT_FOUND,
        "not found",
    );
    fails(rt, pw, &["cat", &missing], NOT_FOUND, "not found");
}

/// Errors that need no server.
fn local_errors(rt: &str) {
    fails(
        rt,
        "pw",
        &["ls", "http://host/share"],
        BAD_URL,
        "invalid url",
    );
    fails(
        rt,
        "pw",
        &["ls", "smb://user@host:99999/share"],
        BAD_URL,
        "invalid url",
    );
    fails(rt, "pw", &["ls", "smb://127.0.0.1"], BAD_URL, "invalid url");
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smb://user@127.0.0.1:{port}/share");
    fails(rt, "pw", &["ls", &url], UNREACHABLE, "unreachable");
}

macro_rules! per_runtime {
    ($($rt:ident),*) => {
        $(
            mod $rt {
                #[test]
                fn round_trip() {
                    super::round_trip(stringify!($rt));
                }
                #[test]
                fn server_errors() {
                    super::server_errors(stringify!($rt));
                }
                #[test]
                fn local_errors() {
                    super::local_errors(stringify!($rt));
                }
            }
        )*
    };
}

per_runtime!(tokio, smol, blocking);

#[test]
fn usage_errors_and_help() {
    let o = Command::new(SMB).arg("--help").output().unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("Exit codes") && help.contains("--runtime"),
        "{help}"
    );
    let o = Command::new(SMB)
        .args(["--password", "hunter2", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("hunter2"));
    // Options after the command are accepted too.
    let o = Command::new(SMB)
        .args([
            "ls",
            "ftp://x/y",
            "--runtime",
            "blocking",
            "--password",
            "hunter2",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(BAD_URL), "{}", show(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("hunter2"));
    // The password in the environment is never shown by --help.
    let o = Command::new(SMB)
        .arg("--help")
        .env("SMB_PASSWORD", "hunter2")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&o.stdout).contains("hunter2"));
}
