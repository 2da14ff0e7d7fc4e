//! Per-runtime failures: error exits, Ctrl-C, multichannel and killed connections.

use super::*;

pub(super) fn errors(rt: &str) {
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

/// Ctrl-C in the middle of a download and an upload (slowed by a proxy): exit 130, the
/// temporary file removed, nothing under the final name, and the session logged off.
pub(super) fn interrupted(rt: &str) {
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
pub(super) fn survives_killed_connections(rt: &str) {
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
