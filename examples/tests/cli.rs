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

// ---------------------------------------------------------------- per runtime

fn round_trip(rt: &str) {
    let tag = format!("rt-{rt}");
    let (dir, disk) = remote_dir(&tag);
    let local = Scratch::new(&tag);

    // Several MiB and an odd size, so that reads and writes span many requests.
    let content = data(3 * 1024 * 1024 + 12_345, rt.len() as u64);
    std::fs::write(local.path("up.bin"), &content).unwrap();
    let o = ok(smb(
        rt,
        &["-vv", "put", &local.file("up.bin"), &format!("{dir}/")],
    ));
    assert_runtime(&o, rt);
    let summary = stderr(&o);
    assert!(
        summary.contains(&format!("put /share/{tag}/up.bin: {} bytes", content.len()))
            && summary.contains(&format!("MB/s, {rt})")),
        "no transfer summary naming the runtime\n{}",
        show(&o)
    );
    assert!(std::fs::read(disk.join("up.bin")).unwrap() == content);
    assert_eq!(names(&disk), ["up.bin"], "a temporary file was left behind");

    let o = ok(smb(
        rt,
        &["get", &format!("{dir}/up.bin"), &local.file("down.bin")],
    ));
    assert!(stderr(&o).contains(&format!(", {rt})")), "{}", show(&o));
    assert!(std::fs::read(local.path("down.bin")).unwrap() == content);
    assert_eq!(names(&local.0), ["down.bin", "up.bin"]);

    // ls: short names, then the long format with size.
    lab()
        .put_file(SHARE, &format!("{tag}/sub/small.txt"), b"small file\n")
        .unwrap();
    lab()
        .put_file(SHARE, &format!("{tag}/.hidden"), b"h")
        .unwrap();
    let ls = stdout(&ok(smb(rt, &["ls", &dir])));
    let mut lines: Vec<&str> = ls.lines().collect();
    lines.sort();
    assert_eq!(lines, ["sub/", "up.bin"], "ls:\n{ls}");
    let ls = stdout(&ok(smb(rt, &["ls", "-la", &dir])));
    let line = ls.lines().find(|l| l.ends_with(" up.bin")).unwrap_or("");
    assert!(
        line.starts_with('-') && line.contains(&content.len().to_string()),
        "{ls}"
    );
    assert!(ls.lines().any(|l| l.ends_with(" .hidden")), "ls -a:\n{ls}");
    assert!(
        ls.lines()
            .any(|l| l.starts_with('d') && l.ends_with(" sub/")),
        "{ls}"
    );
    let ls = stdout(&ok(smb(rt, &["ls", "-R", &dir])));
    assert!(
        ls.contains(&format!("/share/{tag}/sub:\nsmall.txt\n")),
        "ls -R:\n{ls}"
    );

    let st = stdout(&ok(smb(rt, &["stat", &format!("{dir}/up.bin")])));
    assert!(
        st.contains(&format!("size:       {}", content.len())),
        "{st}"
    );
    assert!(st.contains("type:       file"), "{st}");

    let cat = ok(smb(rt, &["cat", &format!("{dir}/sub/small.txt")]));
    assert_eq!(cat.stdout, b"small file\n");

    // Server-side copy, then moves.
    ok(smb(
        rt,
        &["cp", &format!("{dir}/up.bin"), &format!("/{tag}/copy.bin")],
    ));
    assert!(std::fs::read(disk.join("copy.bin")).unwrap() == content);
    ok(smb(
        rt,
        &["mv", &format!("{dir}/copy.bin"), &format!("/{tag}/sub/")],
    ));
    assert!(disk.join("sub/copy.bin").is_file() && !disk.join("copy.bin").exists());

    ok(smb(rt, &["rm", &format!("{dir}/up.bin")]));
    assert!(!disk.join("up.bin").exists(), "rm left the file");
    fails(
        smb(rt, &["stat", &format!("{dir}/up.bin")]),
        NOT_FOUND,
        "not found",
    );
    ok(smb(rt, &["rm", "-r", &dir]));
    assert!(!disk.exists(), "rm -r left the directory");
}

/// Many small files: `put -r` and `get -r` on one session with requests of many files in
/// flight at once (seen at a proxy), and patterns.
fn many_files(rt: &str) {
    const FILES: usize = 300;
    let tag = format!("many-{rt}");
    let (_, disk) = remote_dir(&tag);
    let local = Scratch::new(&tag);
    let src = local.path("src");
    std::fs::create_dir_all(src.join("deeper")).unwrap();
    for i in 0..FILES {
        let sub = if i % 10 == 0 { "deeper/" } else { "" };
        let ext = if i % 3 == 0 { "log" } else { "dat" };
        std::fs::write(
            src.join(format!("{sub}f{i:03}.{ext}")),
            data(4096, i as u64),
        )
        .unwrap();
    }
    let proxy = FaultProxy::start(lab().addr()).unwrap();
    let url = format!("smb://{}@{}/{SHARE}/{tag}", lab().user(), proxy.addr());
    ok(smb(
        rt,
        &["put", "-r", &local.file("src"), &format!("{url}/")],
    ));
    assert_eq!(proxy.connections(), 1, "one session for every file");
    let peak = peak_in_flight(&proxy, smb_core::wire::Command::Write);
    assert!(
        peak >= 4,
        "WRITEs of different files never overlapped (peak {peak})"
    );
    for i in (0..FILES).step_by(37) {
        let sub = if i % 10 == 0 { "deeper/" } else { "" };
        let ext = if i % 3 == 0 { "log" } else { "dat" };
        let p = disk.join(format!("src/{sub}f{i:03}.{ext}"));
        assert!(
            std::fs::read(&p).unwrap() == data(4096, i as u64),
            "{}",
            p.display()
        );
    }
    assert_eq!(names(&disk.join("src")).len(), FILES - FILES / 10 + 1);

    proxy.clear_log();
    let back = local.path("back");
    ok(smb(
        rt,
        &[
            "get",
            "-r",
            &format!("{url}/src"),
            &format!("{}/", back.display()),
        ],
    ));
    let peak = peak_in_flight(&proxy, smb_core::wire::Command::Read);
    assert!(
        peak >= 4,
        "READs of different files never overlapped (peak {peak})"
    );
    let got = back.join("src");
    assert_eq!(names(&got).len(), FILES - FILES / 10 + 1);
    assert_eq!(names(&got.join("deeper")).len(), FILES / 10);
    for i in (0..FILES).step_by(41) {
        let sub = if i % 10 == 0 { "deeper/" } else { "" };
        let ext = if i % 3 == 0 { "log" } else { "dat" };
        let name = format!("{sub}f{i:03}.{ext}");
        assert!(
            std::fs::read(got.join(&name)).unwrap() == data(4096, i as u64),
            "{name}"
        );
    }

    // A pattern into a new directory (trailing /), then a pattern that matches nothing.
    let logs = local.path("logs");
    ok(smb(
        rt,
        &[
            "get",
            &format!("{url}/src/*.log"),
            &format!("{}/", logs.display()),
        ],
    ));
    let expected = (0..FILES).filter(|i| i % 3 == 0 && i % 10 != 0).count();
    assert_eq!(names(&logs).len(), expected);
    assert!(names(&logs).iter().all(|n| n.ends_with(".log")));
    fails(
        smb(
            rt,
            &["get", &format!("{url}/src/*.zip"), &local.file("none/")],
        ),
        NOT_FOUND,
        "no match",
    );
    ok(smb(rt, &["rm", "-r", &url]));
}

/// The most requests of `command` waiting for their response at any point of the proxy's
/// log (an interim STATUS_PENDING response counts as the answer).
fn peak_in_flight(proxy: &FaultProxy, command: smb_core::wire::Command) -> usize {
    use smb_testkit::Seen;
    let mut open = std::collections::HashSet::new();
    let mut peak = 0;
    for e in proxy.log() {
        if let Seen::Smb2 {
            command: c,
            message_id,
            response,
            ..
        } = e.what
        {
            if c != command {
                continue;
            }
            if response {
                open.remove(&message_id);
            } else {
                open.insert(message_id);
                peak = peak.max(open.len());
            }
        }
    }
    peak
}

fn errors(rt: &str) {
    let pw_wrong = run(cmd(&["ls", &base(), "--runtime", rt]).env("SMB_PASSWORD", "wrong"));
    fails(pw_wrong, LOGON_FAILURE, "logon failure");
    let no_share = format!("smb://{}@{}/no-such-share", lab().user(), lab().addr());
    fails(
        smb(rt, &["ls", &no_share]),
        SHARE_NOT_FOUND,
        "share not found",
    );
    let missing = format!("{}/no/such/file.txt", base());
    fails(
        smb(rt, &["get", &missing, "/dev/null"]),
        NOT_FOUND,
        "not found",
    );
    fails(
        smb(rt, &["cat", &missing]),
        NOT_FOUND,
        "/share/no/such/file.txt",
    );
    // An unknown user with a password: Samba maps it to guest; the CLI refuses.
    let unknown = format!("smb://nosuchuser@{}/{GUEST_SHARE}", lab().addr());
    fails(smb(rt, &["ls", &unknown]), LOGON_FAILURE, "only as guest");
    // A name the injected resolver does not know: never asks DNS.
    let o = run(
        cmd(&["ls", "smb://u@no-such-host.invalid/s", "--runtime", rt])
            .env("SMB_RESOLVE", format!("fileserver={}", lab().addr().ip())),
    );
    fails(
        o,
        NAME_RESOLUTION,
        "cannot resolve host name \"no-such-host.invalid\"",
    );
    // A name it knows works.
    let url = format!("smb://{}@fileserver:{}/{SHARE}", lab().user(), lab().port());
    let o = run(cmd(&["ls", &url, "--runtime", rt])
        .env("SMB_RESOLVE", format!("fileserver={}", lab().addr().ip())));
    ok(o);
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("smb://user@127.0.0.1:{port}/share");
    fails(smb(rt, &["ls", &url]), UNREACHABLE, "unreachable");
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

/// Ctrl-C in the middle of a download and an upload (slowed by a proxy): exit 130, the
/// temporary file removed, nothing under the final name, and the session logged off.
fn interrupted(rt: &str) {
    use smb_core::wire::Command as C;
    let tag = format!("int-{rt}");
    let (_, disk) = remote_dir(&tag);
    let local = Scratch::new(&tag);
    let size = 48 << 20;
    lab()
        .put_file(SHARE, &format!("{tag}/big.bin"), &data(size, 7))
        .unwrap();
    let proxy = FaultProxy::start(lab().addr()).unwrap();
    proxy.set_response_delay(Duration::from_millis(15));
    let url = format!("smb://{}@{}/{SHARE}/{tag}", lab().user(), proxy.addr());

    let dst = local.path("big.bin");
    let temp = local.path(".big.bin.smbpart");
    let mut child = spawn(
        rt,
        &["get", &format!("{url}/big.bin"), &dst.to_string_lossy()],
    );
    wait_until("the download to start", Duration::from_secs(30), || {
        std::fs::metadata(&temp).is_ok_and(|m| m.len() > 0)
    });
    let o = interrupt(&mut child);
    assert_eq!(o.status.code(), Some(INTERRUPTED), "{}", show(&o));
    assert!(stderr(&o).contains("interrupted"), "{}", show(&o));
    assert!(!temp.exists(), "the temporary file is still there");
    assert!(!dst.exists(), "a partial file under the final name");
    assert_eq!(proxy.request_count(C::Logoff), 1, "no LOGOFF after Ctrl-C");

    let up = local.path("up.bin");
    std::fs::write(&up, data(size, 8)).unwrap();
    proxy.clear_log();
    proxy.set_delay(Duration::from_millis(15));
    let mut child = spawn(
        rt,
        &["put", &up.to_string_lossy(), &format!("{url}/up.bin")],
    );
    let remote_temp = disk.join(".up.bin.smbpart");
    wait_until("the upload to start", Duration::from_secs(30), || {
        std::fs::metadata(&remote_temp).is_ok_and(|m| m.len() > 0)
    });
    let o = interrupt(&mut child);
    assert_eq!(o.status.code(), Some(INTERRUPTED), "{}", show(&o));
    assert!(
        !remote_temp.exists(),
        "the remote temporary file is still there"
    );
    assert!(
        !disk.join("up.bin").exists(),
        "a partial file under the final name"
    );
    assert_eq!(proxy.request_count(C::Logoff), 1, "no LOGOFF after Ctrl-C");
    let _ = std::fs::remove_dir_all(&disk);
}

/// A second lab with durable handles: what a transfer needs to survive a cut connection.
fn durable_lab() -> &'static SambaServer {
    static LAB: OnceLock<SambaServer> = OnceLock::new();
    LAB.get_or_init(|| match SambaConfig::new().durable_handles(true).start() {
        Ok(s) => s,
        Err(e) => panic!("cannot start the durable-handles Samba server: {e}"),
    })
}

/// `smb --channels 4 get` against a Samba that offers multichannel: `info` shows four
/// channels in use, and a 64 MiB download is spread over several connections and intact.
#[test]
fn multichannel_get() {
    static LAB: OnceLock<SambaServer> = OnceLock::new();
    let lab = LAB.get_or_init(|| {
        SambaConfig::new()
            .multichannel(0)
            .durable_handles(true)
            .start()
            .expect("start the multichannel Samba server")
    });
    let src = data(64 << 20, 12);
    lab.put_file(SHARE, "mc/big.bin", &src).unwrap();
    let proxy = FaultProxy::start(lab.addr()).unwrap();
    let url = format!("smb://{}@{}/{SHARE}", lab.user(), proxy.addr());
    let smb = |args: &[&str]| {
        let mut c = Command::new(SMB);
        c.args(args)
            .env("SMB_PASSWORD", lab.password())
            .env_remove("SMB_RUNTIME")
            .env_remove("SMB_RESOLVE")
            .stdin(Stdio::null());
        ok(run(c))
    };
    let o = smb(&["--channels", "4", "info", &url]);
    assert!(
        stdout(&o).contains("channels:        4 of up to 4 (the server offers multichannel)"),
        "{}",
        show(&o)
    );
    let o = smb(&["--json", "info", &url]);
    assert!(stdout(&o).contains("\"channels\":4,"), "{}", show(&o));
    let local = Scratch::new("mc-get");
    let before = proxy.connections();
    smb(&[
        "--channels",
        "4",
        "get",
        &format!("{url}/mc/big.bin"),
        &local.file("big.bin"),
    ]);
    assert!(
        std::fs::read(local.path("big.bin")).unwrap() == src,
        "the download is intact"
    );
    let carried = (before..proxy.connections())
        .filter(|&c| {
            proxy
                .counts(c, Direction::ToServer)
                .get(&smb_core::wire::Command::Read)
                .is_some_and(|n| *n > 0)
        })
        .count();
    assert!(carried >= 2, "the READs went over {carried} connections");
}

/// Kill, from outside the process (`ss -K`, as an administrator or a flaky network would),
/// every TCP connection whose peer is `port` on loopback. Returns how many it killed.
fn kill_connections_to(port: u16) -> usize {
    let o = Command::new("ss")
        .args([
            "-K",
            "-t",
            "-n",
            "dst",
            "127.0.0.1",
            "dport",
            "=",
            &format!(":{port}"),
        ])
        .output()
        .expect("ss (iproute2) is installed by scripts/test");
    // ss prints a header, then one line per socket it destroyed.
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains("ESTAB"))
        .count()
}

/// `smb get` and `smb put` of a large file, each connection killed twice from outside
/// (`ss -K`) in the middle: the command succeeds, the file is intact, and `-v` shows the
/// reconnects. The proxy only slows the transfer so the kills land mid-way (and counts the
/// connections); it cuts nothing itself.
fn survives_killed_connections(rt: &str) {
    let lab = durable_lab();
    let tag = format!("kill-{rt}");
    let disk = lab.share_path(SHARE).join(&tag);
    let _ = std::fs::remove_dir_all(&disk);
    let size = 96 << 20;
    let src = data(size, 11);
    lab.put_file(SHARE, &format!("{tag}/big.bin"), &src)
        .unwrap();
    let proxy = FaultProxy::start(lab.addr()).unwrap();
    proxy.set_response_delay(Duration::from_millis(2));
    let port = proxy.addr().port();
    let url = format!("smb://{}@{}/{SHARE}/{tag}", lab.user(), proxy.addr());
    let local = Scratch::new(&tag);
    let run_killed = |args: &[&str], progress: &dyn Fn() -> u64| -> Output {
        let mut child = Command::new(SMB)
            .args(args)
            .args(["--runtime", rt, "-v"])
            .env("SMB_PASSWORD", lab.password())
            .env_remove("SMB_RUNTIME")
            .env_remove("SMB_RESOLVE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        for (kill, at) in [(1, size as u64 / 4), (2, size as u64 / 2)] {
            // Until it progressed that far, or ended (a put whose handle Samba did not keep
            // ends with its one-line error, checked below).
            wait_until("the transfer to progress", Duration::from_secs(120), || {
                progress() >= at || child.try_wait().ok().flatten().is_some()
            });
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            let killed = kill_connections_to(port);
            assert!(killed >= 1, "kill {kill}: no connection to kill");
        }
        finish(&mut child)
    };

    let dst = local.path("big.bin");
    let temp = local.path(".big.bin.smbpart");
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let o = run_killed(
        &["get", &format!("{url}/big.bin"), &dst.to_string_lossy()],
        &|| len(&temp),
    );
    assert_eq!(o.status.code(), Some(0), "get: {}", show(&o));
    assert!(
        std::fs::read(&dst).unwrap() == src,
        "get: the file is intact"
    );
    assert!(
        stderr(&o).contains("reconnected"),
        "get: -v shows the reconnects\n{}",
        show(&o)
    );
    assert!(proxy.connections() >= 3, "get: two reconnects");

    let before = proxy.connections();
    let up = local.path("up.bin");
    std::fs::write(&up, &src).unwrap();
    // Samba sometimes cannot give back a durable handle that had WRITEs in flight when its
    // connection was killed (writes it had queued land after it saved the handle's state,
    // and it then refuses the reconnect as the file changed). The CLI owns its temporary
    // file, so it uploads again under a new temporary name: the put still succeeds.
    let temps: Vec<PathBuf> = (0..4)
        .map(|n| match n {
            0 => disk.join(".up.bin.smbpart"),
            n => disk.join(format!(".up.bin.smbpart.{n}")),
        })
        .collect();
    let o = run_killed(
        &["put", &up.to_string_lossy(), &format!("{url}/up.bin")],
        &|| temps.iter().map(|t| len(t)).max().unwrap_or(0),
    );
    assert_eq!(o.status.code(), Some(0), "put: {}", show(&o));
    assert!(
        std::fs::read(disk.join("up.bin")).unwrap() == src,
        "put: the file on the server is intact"
    );
    assert!(proxy.connections() >= before + 2, "put: reconnected");
    assert!(
        stderr(&o).contains("reconnected"),
        "put: -v shows the reconnects\n{}",
        show(&o)
    );
    if stderr(&o).contains("uploading it again") {
        eprintln!(
            "put: a handle was lost and the upload started again:\n{}",
            stderr(&o)
        );
    }
    let _ = std::fs::remove_dir_all(&disk);
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

// ---------------------------------------------------------------- one runtime

#[test]
fn credential_sources() {
    let local = Scratch::new("creds");
    let (user, pw) = (lab().user(), lab().password());
    let plain = format!("smb://{}/{SHARE}", lab().addr());
    let no_env = |args: &[&str]| run(cmd(args).env_remove("SMB_PASSWORD"));
    ok(no_env(&["ls", &plain, "-U", &format!("{user}%{pw}")]));
    ok(no_env(&[
        "ls",
        &plain,
        "-U",
        &format!("WORKGROUP\\{user}%{pw}"),
    ]));
    ok(no_env(&["ls", &plain, "-U", user, "--password", pw]));
    let auth = local.path("auth");
    std::fs::write(
        &auth,
        format!("username = {user}\npassword = {pw}\ndomain = WORKGROUP\n"),
    )
    .unwrap();
    ok(no_env(&["ls", &plain, "-A", &auth.to_string_lossy()]));
    ok(no_env(&[
        "ls",
        &format!("smb://{user}:{pw}@{}/{SHARE}", lab().addr()),
    ]));
    ok(run(cmd(&["ls", &base()])));
    // An explicit password wins over the environment.
    let o = run(cmd(&["ls", &base(), "--password", "wrong"]));
    fails(o, LOGON_FAILURE, "logon failure");
    // No password anywhere and no terminal: say how to give one.
    fails(no_env(&["ls", &base()]), USAGE, "SMB_PASSWORD");
    std::fs::write(&auth, "user = x\n").unwrap();
    fails(
        no_env(&["ls", &plain, "-A", &auth.to_string_lossy()]),
        USAGE,
        "line 1",
    );
    let o = no_env(&["ls", &plain, "-A", &local.file("missing")]);
    fails(o, 10, "local file");
}

#[test]
fn password_prompt_without_echo() {
    // Under a pseudo-terminal (script(1)): the prompt appears, the typed password is not
    // echoed, and the listing works.
    let pw = lab().password();
    let line = format!("'{SMB}' ls '{}'", base());
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("SMB_PASSWORD")
        .env_remove("SMB_RUNTIME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            s2.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    wait_until("the password prompt", Duration::from_secs(20), || {
        String::from_utf8_lossy(&seen.lock().unwrap()).contains("Password for")
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{pw}\n").as_bytes()).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "Password for {} on {}",
            lab().user(),
            lab().addr()
        )),
        "{text}"
    );
    assert!(!text.contains(pw), "the password was echoed:\n{text}");
}

#[test]
fn guest_and_anonymous() {
    lab()
        .put_file(GUEST_SHARE, "hello.txt", b"hello guest\n")
        .unwrap();
    let guest = format!("smb://{}/{GUEST_SHARE}", lab().addr());
    let o = ok(run(
        cmd(&["cat", &format!("{guest}/hello.txt")]).env_remove("SMB_PASSWORD")
    ));
    assert_eq!(o.stdout, b"hello guest\n");
    assert!(
        stderr(&o).contains("as guest"),
        "the CLI must say it runs as guest\n{}",
        show(&o)
    );
    let o = ok(run(cmd(&["--guest", "info", &guest])));
    assert!(
        stdout(&o).contains("logon:           guest"),
        "{}",
        show(&o)
    );
    // -q silences the notice, not the facts.
    let o = ok(run(cmd(&["-q", "--guest", "ls", &guest])));
    assert!(stderr(&o).is_empty(), "{}", show(&o));
    fails(
        run(cmd(&["--guest", "ls", &format!("{}/x", base())])),
        USAGE,
        "--guest logs in without a user",
    );
    fails(
        run(cmd(&[
            "--anonymous",
            "ls",
            &format!("smb://{}/{SHARE}", lab().addr()),
        ])),
        ACCESS_DENIED,
        "access denied",
    );
}

#[test]
fn security_options() {
    let o = ok(run(cmd(&["--sign", "info", &base()])));
    // Samba 4.17 on 3.1.1 picks AES-128-GMAC from SIGNING_CAPABILITIES.
    assert!(
        stdout(&o).contains("signing:         yes (AES-128-GMAC)"),
        "{}",
        show(&o)
    );
    assert!(stdout(&o).contains("large-mtu"), "{}", show(&o));
    let o = ok(run(cmd(&["--encrypt", "--json", "info", &base()])));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["encryption"], true, "{doc}");
    assert_eq!(doc["dialect"], "3.1.1", "{doc}");
    assert_eq!(doc["cipher"], "AES-128-GCM", "{doc}");
    assert!(
        doc["server_capabilities"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c == "large-mtu")),
        "{doc}"
    );
    let o = ok(run(cmd(&[
        "--sign",
        "--max-dialect",
        "3.0",
        "info",
        &base(),
    ])));
    assert!(
        stdout(&o).contains("signing:         yes (AES-128-CMAC)"),
        "{}",
        show(&o)
    );
    let guest = format!("smb://{}/{GUEST_SHARE}", lab().addr());
    fails(
        run(cmd(&["--guest", "--sign", "ls", &guest])),
        SECURITY,
        "signing refused",
    );
    fails(
        run(cmd(&["--encrypt", "--max-dialect", "2.1", "ls", &base()])),
        SECURITY,
        "encryption refused",
    );
    let o = ok(run(cmd(&[
        "--max-dialect",
        "2.1",
        "--json",
        "info",
        &base(),
    ])));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["dialect"], "2.1", "{doc}");
    fails(
        run(cmd(&[
            "--min-dialect",
            "3.1.1",
            "--max-dialect",
            "3.0",
            "ls",
            &base(),
        ])),
        USAGE,
        "--min-dialect is above --max-dialect",
    );
    // This lab does not offer multichannel: one channel, and info says why.
    let o = ok(run(cmd(&["--channels", "4", "info", &base()])));
    assert!(
        stdout(&o).contains("channels:        1 (the server does not offer multichannel)"),
        "{}",
        show(&o)
    );
    let o = ok(run(cmd(&["--channels", "1", "info", &base()])));
    assert!(
        stdout(&o).contains("channels:        1 (--channels 1)"),
        "{}",
        show(&o)
    );
    ok(run(cmd(&["--channels", "4", "ls", &base()])));
    // The encrypted share: reported as such.
    let enc = format!("smb://{}@{}/encrypted", lab().user(), lab().addr());
    let o = ok(run(cmd(&["info", &enc])));
    assert!(stdout(&o).contains("encryption:      yes"), "{}", show(&o));
}

#[test]
fn timeout_against_a_silent_server() {
    // Accepts TCP and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(4));
        drop(conns);
    });
    let url = format!("smb://u@127.0.0.1:{port}/s");
    let o = run(cmd(&["--timeout", "1s", "ls", &url]));
    fails(o, UNREACHABLE, "127.0.0.1");
    hold.join().unwrap();
}

#[test]
fn json_documents() {
    let (dir, _) = remote_dir("json");
    lab().put_file(SHARE, "json/a.txt", b"12345").unwrap();
    lab().put_file(SHARE, "json/d/b.txt", b"1234567").unwrap();
    let parse = |o: Output| -> serde_json::Value {
        let o = ok(o);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&o)))
    };
    let ls = parse(run(cmd(&["--json", "ls", "-R", &dir])));
    let entries = ls["entries"].as_array().unwrap();
    let a = entries.iter().find(|e| e["name"] == "a.txt").unwrap();
    assert_eq!(a["path"], "/share/json/a.txt");
    assert_eq!(a["type"], "file");
    assert_eq!(a["size"], 5);
    assert!(a["modified"].as_str().unwrap().ends_with('Z'));
    assert!(entries.iter().any(|e| e["path"] == "/share/json/d/b.txt"));
    let st = parse(run(cmd(&["stat", "--json", &format!("{dir}/d")])));
    assert_eq!(st["entries"][0]["type"], "directory");
    assert!(
        st["entries"][0]["attributes"]
            .as_array()
            .unwrap()
            .contains(&"directory".into())
    );
    let du = parse(run(cmd(&["du", "-s", "--json", &dir])));
    assert_eq!(du["entries"][0]["bytes"], 12);
    assert_eq!(du["entries"][0]["files"], 2);
    let info = parse(run(cmd(&["info", "--json", &dir])));
    for field in [
        "server",
        "share",
        "runtime",
        "dialect",
        "signing",
        "encryption",
        "guest",
    ] {
        assert!(!info[field].is_null(), "info has no {field}: {info}");
    }
    fails(
        run(cmd(&["--json", "mkdir", &format!("{dir}/x")])),
        USAGE,
        "--json is for",
    );
}

#[test]
fn du_and_tree() {
    let (dir, _) = remote_dir("du");
    lab().put_file(SHARE, "du/a.bin", &[0u8; 2048]).unwrap();
    lab().put_file(SHARE, "du/sub/b.bin", &[0u8; 1024]).unwrap();
    let du = stdout(&ok(run(cmd(&["du", &dir]))));
    assert_eq!(du, "1024\t/share/du/sub\n3072\t/share/du\n", "{du}");
    let du = stdout(&ok(run(cmd(&["du", "-sh", &dir]))));
    assert_eq!(du, "3.0K\t/share/du\n");
    let tree = stdout(&ok(run(cmd(&["tree", &dir]))));
    assert_eq!(
        tree,
        "/share/du\n├── a.bin\n└── sub/\n    └── b.bin\n\n1 directory, 2 files\n"
    );
}

#[test]
fn resume_get_and_put() {
    let (dir, disk) = remote_dir("resume");
    let local = Scratch::new("resume");
    let content = data(5 * 1024 * 1024 + 77, 42);
    lab().put_file(SHARE, "resume/f.bin", &content).unwrap();
    // A partial local file (as an interrupted download of another tool leaves it).
    let half = content.len() / 2;
    std::fs::write(local.path("f.bin"), &content[..half]).unwrap();
    let o = ok(run(cmd(&[
        "get",
        "-c",
        &format!("{dir}/f.bin"),
        &local.file("f.bin"),
    ])));
    assert!(std::fs::read(local.path("f.bin")).unwrap() == content);
    assert!(
        stderr(&o).contains(&format!("{} bytes", content.len() - half)),
        "only the rest is transferred\n{}",
        show(&o)
    );
    // Complete already: nothing to do.
    let o = ok(run(cmd(&[
        "get",
        "-c",
        &format!("{dir}/f.bin"),
        &local.file("f.bin"),
    ])));
    assert!(stderr(&o).contains("complete already"), "{}", show(&o));
    // A partial temporary file from an interrupted `get --continue`.
    std::fs::remove_file(local.path("f.bin")).unwrap();
    std::fs::write(local.path(".f.bin.smbpart"), &content[..1000]).unwrap();
    ok(run(cmd(&[
        "get",
        "--continue",
        &format!("{dir}/f.bin"),
        &local.file("f.bin"),
    ])));
    assert!(std::fs::read(local.path("f.bin")).unwrap() == content);
    assert_eq!(names(&local.0), ["f.bin"]);

    // put --continue from a partial remote temporary file.
    std::fs::write(local.path("up.bin"), &content).unwrap();
    lab()
        .put_file(SHARE, "resume/.up.bin.smbpart", &content[..half])
        .unwrap();
    let o = ok(run(cmd(&[
        "put",
        "-c",
        &local.file("up.bin"),
        &format!("{dir}/"),
    ])));
    assert!(std::fs::read(disk.join("up.bin")).unwrap() == content);
    assert!(
        stderr(&o).contains(&format!("{} bytes", content.len() - half)),
        "{}",
        show(&o)
    );
    assert!(!disk.join(".up.bin.smbpart").exists());
    // A local file larger than the remote one is not "resumed".
    std::fs::write(local.path("f.bin"), data(content.len() + 10, 1)).unwrap();
    let o = run(cmd(&[
        "get",
        "-c",
        &format!("{dir}/f.bin"),
        &local.file("f.bin"),
    ]));
    fails(o, 10, "larger");
}

#[test]
fn get_to_a_closed_pipe_exits_0() {
    lab()
        .put_file(SHARE, "pipe/big.bin", &data(8 << 20, 3))
        .unwrap();
    for args in [
        vec![
            "get".to_string(),
            format!("{}/pipe/big.bin", base()),
            "-".into(),
        ],
        vec!["cat".to_string(), format!("{}/pipe/big.bin", base())],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 100];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?} | head\n{}", show(&o));
        assert!(stderr(&o).is_empty(), "{}", show(&o));
    }
}

#[test]
fn bad_input() {
    let (dir, disk) = remote_dir("bad");
    lab().put_file(SHARE, "bad/a.txt", b"a").unwrap();
    lab().put_file(SHARE, "bad/b.txt", b"b").unwrap();
    lab().put_file(SHARE, "bad/full/x.txt", b"x").unwrap();
    fails(
        run(cmd(&["ls", "http://host/share"])),
        BAD_URL,
        "invalid url",
    );
    fails(
        run(cmd(&["ls", "smb://user@host:99999/share"])),
        BAD_URL,
        "invalid port",
    );
    fails(
        run(cmd(&["ls", "smb://127.0.0.1"])),
        BAD_URL,
        "no share name",
    );
    fails(run(cmd(&["ls", &format!("{dir}/../x")])), BAD_URL, "\"..\"");
    // Existing targets.
    fails(
        run(cmd(&["mkdir", &format!("{dir}/full")])),
        ALREADY_EXISTS,
        "already exists",
    );
    ok(run(cmd(&["mkdir", "-p", &format!("{dir}/full")])));
    let o = run(cmd(&["mv", &format!("{dir}/a.txt"), "/bad/b.txt"]));
    fails(o, ALREADY_EXISTS, "use mv -f");
    assert_eq!(
        std::fs::read(disk.join("b.txt")).unwrap(),
        b"b",
        "mv replaced the target"
    );
    ok(run(cmd(&[
        "mv",
        "-f",
        &format!("{dir}/a.txt"),
        "/bad/b.txt",
    ])));
    assert_eq!(std::fs::read(disk.join("b.txt")).unwrap(), b"a");
    // A directory that is not empty.
    fails(
        run(cmd(&["rmdir", &format!("{dir}/full")])),
        OTHER,
        "not empty",
    );
    fails(
        run(cmd(&["rm", &format!("{dir}/full")])),
        USAGE,
        "use rm -r",
    );
    // A pattern that matches nothing.
    fails(
        run(cmd(&["rm", &format!("{dir}/*.zip")])),
        NOT_FOUND,
        "no match",
    );
    ok(run(cmd(&[
        "rm",
        "-f",
        &format!("{dir}/*.zip"),
        "/bad/nothing",
    ])));
    // rm goes on after a failure and reports each: the existing file still goes.
    let o = run(cmd(&[
        "rm",
        &format!("{dir}/missing"),
        "/bad/full",
        "/bad/b.txt",
    ]));
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(USAGE),
        "worst of not found and usage\n{}",
        show(&o)
    );
    assert!(
        err.contains("/share/bad/missing") && err.contains("use rm -r"),
        "{err}"
    );
    assert!(err.contains("2 of 3 removals failed"), "{err}");
    assert!(
        !disk.join("b.txt").exists(),
        "rm stopped at the first failure"
    );
    // Local side: a missing source, a directory without -r.
    let local = Scratch::new("bad");
    fails(
        run(cmd(&["put", &local.file("nope"), &format!("{dir}/")])),
        10,
        "local file",
    );
    fails(
        run(cmd(&[
            "put",
            &local.0.to_string_lossy(),
            &format!("{dir}/"),
        ])),
        USAGE,
        "use put -r",
    );
    fails(
        run(cmd(&["get", &format!("{dir}/full"), &local.file("x")])),
        USAGE,
        "use get -r",
    );
    let o = run(cmd(&["frobnicate"]));
    assert_eq!(o.status.code(), Some(USAGE), "{}", show(&o));
    assert!(
        stderr(&o).contains("unrecognized subcommand"),
        "{}",
        show(&o)
    );
}

#[test]
fn progress_bars_only_on_a_terminal() {
    lab()
        .put_file(SHARE, "bars/f.bin", &data(16 << 20, 5))
        .unwrap();
    let local = Scratch::new("bars");
    let proxy = FaultProxy::start(lab().addr()).unwrap();
    proxy.set_response_delay(Duration::from_millis(5));
    let url = format!("smb://{}@{}/{SHARE}/bars/f.bin", lab().user(), proxy.addr());
    let line = format!("'{SMB}' get '{url}' '{}'", local.file("a.bin"));
    let o = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("SMB_PASSWORD", lab().password())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("eta") && text.contains("a.bin ["),
        "no progress bar:\n{text}"
    );
    // Not a terminal: no bar, only the summary.
    let o = ok(run(cmd(&["get", &url, &local.file("b.bin")])));
    assert!(!stderr(&o).contains("eta"), "{}", show(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", show(&o));
}

#[test]
fn password_never_printed() {
    let pw = lab().password();
    let o = ok(run(cmd(&["-vvv", "ls", &base()])));
    assert!(stderr(&o).contains("smb_tokio"), "no trace\n{}", show(&o));
    assert!(!stderr(&o).contains(pw) && !stdout(&o).contains(pw));
    let url = format!("smb://{}:{pw}@{}/no-such-share", lab().user(), lab().addr());
    let o = run(cmd(&["-vv", "ls", &url]).env_remove("SMB_PASSWORD"));
    assert_eq!(o.status.code(), Some(SHARE_NOT_FOUND), "{}", show(&o));
    assert!(
        stderr(&o).contains("smb_tokio") && !stderr(&o).contains(pw),
        "{}",
        show(&o)
    );
    let o = run(cmd(&["ls", &format!("smb://u:{pw}@host:0/s")]));
    assert!(!stderr(&o).contains(pw), "{}", show(&o));
    let o = run(cmd(&["--help"]).env("SMB_PASSWORD", "hunter2"));
    assert!(!stdout(&o).contains("hunter2"));
}

#[test]
fn help_reads_well() {
    let o = ok(run(cmd(&["--help"])));
    let help = stdout(&o);
    for needle in [
        "Examples:",
        "Exit codes",
        "-U, --user",
        "--runtime",
        "SMB_PASSWORD",
        "130",
    ] {
        assert!(help.contains(needle), "smb --help lacks {needle:?}\n{help}");
    }
    for c in [
        "ls", "tree", "get", "put", "cat", "mkdir", "rm", "rmdir", "mv", "cp", "stat", "du", "info",
    ] {
        let o = ok(run(cmd(&[c, "--help"])));
        assert!(
            stdout(&o).contains("Examples:"),
            "smb {c} --help has no examples"
        );
    }
}

#[test]
fn df_table_human_and_json() {
    let url = base();
    let o = ok(run(cmd(&["df", &url])));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("Share") && lines[0].contains("Use%"),
        "{text}"
    );
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cols[0], format!("//127.0.0.1/{SHARE}"), "{text}");
    let num = |i: usize| cols[i].parse::<u64>().unwrap_or_else(|_| panic!("{text}"));
    let (size, used, avail) = (num(1), num(2), num(3));
    assert!(size >= used && size >= avail && avail > 0, "{text}");
    assert!(cols[4].ends_with('%'), "{text}");
    assert_eq!(&cols[5..], ["NTFS", &format!("{SHARE:?}")], "{text}");

    let h = stdout(&ok(run(cmd(&["df", "-h", &url]))));
    let hcols: Vec<String> = h
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    for c in &hcols[1..4] {
        assert!(
            c.ends_with(['K', 'M', 'G', 'T', 'P', 'E']) || c.parse::<u64>().is_ok(),
            "{h}"
        );
    }
    assert!(
        hcols[1].ends_with(['G', 'T', 'P']),
        "a test disk of gigabytes at least: {h}"
    );

    let o = ok(run(cmd(&["--json", "df", &url])));
    let j: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&o)));
    let n = |f: &str| j[f].as_u64().unwrap_or_else(|| panic!("no {f}: {j}"));
    assert!(
        n("size") >= n("free") && n("free") >= n("available") && n("available") > 0,
        "{j}"
    );
    assert_eq!(n("used"), n("size") - n("free"), "{j}");
    assert!(n("use_percent") <= 100 && n("allocation_unit") > 0, "{j}");
    assert_eq!(j["label"], SHARE);
    assert_eq!(j["filesystem"], "NTFS");
    assert_eq!(j["share"], SHARE);
    assert!(
        j["attributes"]
            .as_array()
            .unwrap()
            .contains(&"case-preserved-names".into()),
        "{j}"
    );
    for c in ["df", "watch"] {
        let o = ok(run(cmd(&[c, "--help"])));
        assert!(
            stdout(&o).contains("Examples:"),
            "smb {c} --help has no examples"
        );
    }
    fails(run(cmd(&["--json", "watch", &url])), USAGE, "--json is for");
}

/// `smb watch` prints one line per change made by another `smb`, and Ctrl-C ends it with
/// 130 after cancelling the watch, closing the directory and logging off.
#[test]
fn watch_prints_changes_until_interrupted() {
    use smb_core::wire::Command as C;
    use std::io::BufRead;
    use std::sync::mpsc;
    for rt in ["tokio", "smol", "blocking"] {
        let tag = format!("watch-cli-{rt}");
        let (dir, _) = remote_dir(&tag);
        let proxy = FaultProxy::start(lab().addr()).unwrap();
        let url = format!("smb://{}@{}/{SHARE}/{tag}", lab().user(), proxy.addr());
        let mut child = spawn(rt, &["watch", "-r", &url]);
        let lines = |r: Box<dyn Read + Send>| {
            let (tx, rx) = mpsc::channel();
            let t = std::thread::spawn(move || {
                let mut all = String::new();
                for l in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                    all.push_str(&l);
                    all.push('\n');
                    let _ = tx.send(l);
                }
                all
            });
            (rx, t)
        };
        let (out, out_t) = lines(Box::new(child.stdout.take().unwrap()));
        let (err, err_t) = lines(Box::new(child.stderr.take().unwrap()));
        let first = err
            .recv_timeout(Duration::from_secs(30))
            .expect("smb watch started");
        assert!(
            first.starts_with("watching /share/watch-cli-"),
            "{rt}: {first}"
        );
        ok(run(cmd(&["mkdir", &format!("{dir}/new")])));
        let l = out
            .recv_timeout(Duration::from_secs(10))
            .expect("a change line");
        assert_eq!(l, format!("added          {tag}/new"), "{rt}");
        ok(run(cmd(&["mkdir", &format!("{dir}/new/sub")])));
        let want = format!("{tag}/new/sub");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let l = out.recv_timeout(left).expect("the recursive change");
            if l.starts_with("added") && l.ends_with(&want) {
                break;
            }
        }
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        let (_, errs) = (out_t.join().unwrap(), err_t.join().unwrap());
        assert_eq!(status.code(), Some(INTERRUPTED), "{rt}: {errs}");
        assert!(
            errs.contains("interrupted") && !errs.contains("panicked"),
            "{rt}: {errs}"
        );
        assert_eq!(
            proxy.request_count(C::Cancel),
            1,
            "{rt}: the watch was not cancelled"
        );
        assert!(
            proxy.request_count(C::Close) >= 1,
            "{rt}: the directory was not closed"
        );
        assert_eq!(
            proxy.request_count(C::Logoff),
            1,
            "{rt}: no LOGOFF after Ctrl-C"
        );
    }
}

/// `smb shares`: the lab's shares with their types and comments, as a table and as JSON, on
/// every runtime; a wrong password is a logon failure.
#[test]
fn shares_listing() {
    let url = format!("smb://{}@{}", lab().user(), lab().addr());
    for rt in ["tokio", "smol", "blocking"] {
        let table = stdout(&ok(smb(rt, &["shares", &url])));
        let mut lines = table.lines();
        assert_eq!(
            lines
                .next()
                .map(|l| l.split_whitespace().collect::<Vec<_>>()),
            Some(vec!["NAME", "TYPE", "COMMENT"]),
            "{table}"
        );
        for name in [SHARE, GUEST_SHARE, smb_testkit::READONLY_SHARE] {
            let line = table
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("{name} missing\n{table}"));
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols[1], "disk", "{line}");
            assert!(line.ends_with(&smb_testkit::share_comment(name)), "{line}");
        }
        let ipc = table.lines().find(|l| l.starts_with("IPC$")).expect("IPC$");
        assert!(
            ipc.contains("ipc,special") && ipc.contains("IPC Service"),
            "{ipc}"
        );

        let json = stdout(&ok(smb(rt, &["shares", "--json", &url])));
        assert!(json.starts_with("{\"entries\":[\n"), "{json}");
        let want = format!(
            "{{\"name\":\"{SHARE}\",\"type\":\"disk\",\"type_bits\":0,\"special\":false,\
             \"temporary\":false,\"hidden\":false,\"comment\":\"{}\"}}",
            smb_testkit::share_comment(SHARE)
        );
        assert!(
            json.lines().any(|l| l.trim_end_matches(',') == want),
            "{json}"
        );
        assert!(
            json.contains("{\"name\":\"IPC$\",\"type\":\"ipc\",\"type_bits\":2147483651,\"special\":true,\"temporary\":false,\"hidden\":true,\"comment\":\"IPC Service"),
            "{json}"
        );
        assert_eq!(json.lines().count(), lab().shares().len() + 3, "{json}");
    }
    let o = run(cmd(&["shares", &url]).env("SMB_PASSWORD", "wrong"));
    fails(o, LOGON_FAILURE, "logon failure");
    let help = stdout(&ok(run(cmd(&["shares", "--help"]))));
    assert!(help.contains("smb shares smb://alice@files"), "{help}");
}
