//! The testkit checked against an independent client (`smbclient`).

use smb_core::wire::{Command, HeaderFlags, NtStatus};
use smb_testkit::{
    Direction, ENCRYPTED_SHARE, FaultProxy, GUEST_SHARE, READONLY_SHARE, SHARE, SambaConfig,
    SambaServer, Seen, frames, smbclient,
};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A scratch dir for smbclient's local side, removed on drop.
struct LocalDir(PathBuf);

impl std::ops::Deref for LocalDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for LocalDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn local_dir(tag: &str) -> LocalDir {
    let d = std::env::temp_dir().join(format!("smbtk-local-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    LocalDir(d)
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn server_accepts_tcp_and_reports_its_config() {
    let s = SambaServer::shared();
    TcpStream::connect(s.addr()).expect("port accepts");
    assert!(s.addr().ip().is_loopback());
    assert_eq!(s.port(), s.addr().port());
    assert!(s.share_path(SHARE).is_dir());
    assert!(s.share_path(READONLY_SHARE).is_dir());
    assert_eq!(s.url(SHARE), format!("smb://127.0.0.1:{}/share", s.port()));
    let conf = std::fs::read_to_string(s.conf_path()).unwrap();
    assert!(conf.contains(&format!("smb ports = {}", s.port())));
    assert!(conf.contains("smb encrypt = required"));
}

#[test]
fn smbclient_put_get_direct() {
    let s = SambaServer::shared();
    let dir = local_dir("direct");
    let data = payload(300_000);
    std::fs::write(dir.join("up.bin"), &data).unwrap();
    let o = s
        .smbclient(
            SHARE,
            "mkdir direct; put up.bin direct\\a.bin; get direct\\a.bin down.bin; allinfo direct\\a.bin",
            &dir,
        )
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("NT_STATUS_"), "{t}");
    assert_eq!(
        std::fs::read(s.share_path(SHARE).join("direct/a.bin")).unwrap(),
        data,
        "bytes on disk"
    );
    assert_eq!(
        std::fs::read(dir.join("down.bin")).unwrap(),
        data,
        "bytes fetched"
    );
    assert!(t.contains("stream: [::$DATA], 300000 bytes"), "{t}");
}

#[test]
fn files_written_on_disk_are_visible_and_deletable() {
    let s = SambaServer::shared();
    let dir = local_dir("disk");
    s.put_file(SHARE, "ondisk/sub/f.txt", b"from disk").unwrap();
    let o = s
        .smbclient(
            SHARE,
            "get ondisk\\sub\\f.txt f.txt; rm ondisk\\sub\\f.txt",
            &dir,
        )
        .unwrap();
    let t = text(&o);
    assert!(!t.contains("NT_STATUS_"), "{t}");
    assert_eq!(std::fs::read(dir.join("f.txt")).unwrap(), b"from disk");
    assert!(!s.share_path(SHARE).join("ondisk/sub/f.txt").exists());
}

#[test]
fn readonly_share_refuses_writes_and_wrong_password_fails() {
    let s = SambaServer::shared();
    let dir = local_dir("ro");
    std::fs::write(dir.join("x"), b"x").unwrap();
    let o = s.smbclient(READONLY_SHARE, "put x", &dir).unwrap();
    assert!(text(&o).contains("NT_STATUS_ACCESS_DENIED"), "{}", text(&o));
    let o = smbclient(s.addr(), SHARE, Some((s.user(), "wrong")), "ls", &dir, &[]).unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("NT_STATUS_LOGON_FAILURE"), "{}", text(&o));
}

#[test]
fn proxy_forwards_counts_and_cuts() {
    let s = SambaServer::shared();
    let proxy = FaultProxy::start(s.addr()).unwrap();
    let dir = local_dir("proxy");
    let data = payload(100_000);
    std::fs::write(dir.join("p.bin"), &data).unwrap();
    let o = s
        .smbclient_at(
            proxy.addr(),
            SHARE,
            "put p.bin proxied.bin; get proxied.bin back.bin",
            &dir,
            &["-m", "SMB3_11"],
        )
        .unwrap();
    let t = text(&o);
    assert!(!t.contains("NT_STATUS_"), "{t}");
    assert_eq!(
        std::fs::read(s.share_path(SHARE).join("proxied.bin")).unwrap(),
        data
    );
    assert_eq!(std::fs::read(dir.join("back.bin")).unwrap(), data);

    assert_eq!(proxy.connections(), 1);
    let req = proxy.counts(0, Direction::ToServer);
    let resp = proxy.counts(0, Direction::ToClient);
    for c in [
        Command::Negotiate,
        Command::SessionSetup,
        Command::TreeConnect,
        Command::Create,
        Command::Write,
        Command::Read,
    ] {
        assert!(
            req.get(&c).copied().unwrap_or(0) >= 1,
            "no {c} request: {req:?}"
        );
        assert!(
            resp.get(&c).copied().unwrap_or(0) >= 1,
            "no {c} response: {resp:?}"
        );
    }
    assert!(
        proxy.request_count(Command::SessionSetup) >= 2,
        "NTLM takes two legs"
    );
    // The log is ordered and message ids of requests grow.
    let ids: Vec<u64> = proxy
        .log()
        .iter()
        .filter(|e| e.dir == Direction::ToServer)
        .filter_map(|e| match e.what {
            Seen::Smb2 { message_id, .. } => Some(message_id),
            _ => None,
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // A cut drops a live connection: hold one open with a slow command stream and cut it.
    proxy.clear_log();
    let child = std::process::Command::new("smbclient")
        .arg(format!("//127.0.0.1/{SHARE}"))
        .args(["-p", &proxy.port().to_string()])
        .args(["-U", &format!("{}%{}", s.user(), s.password())])
        .current_dir(&*dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        proxy.wait_until(Duration::from_secs(20), |p| {
            p.connections() == 2
                && p.counts(1, Direction::ToClient)
                    .contains_key(&Command::TreeConnect)
        }),
        "interactive smbclient did not get to TREE_CONNECT"
    );
    proxy.cut(1);
    assert_eq!(proxy.live_connections(), 0);
    let mut child = child;
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        // These need the connection; with it gone smbclient reports an error.
        let _ = writeln!(stdin, "ls");
        let _ = writeln!(stdin, "get proxied.bin again.bin");
        let _ = writeln!(stdin, "quit");
    }
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert!(
        t.contains("NT_STATUS_CONNECTION_DISCONNECTED")
            || t.contains("NT_STATUS_CONNECTION_RESET")
            || t.contains("NT_STATUS_END_OF_FILE")
            || t.contains("NT_STATUS_PIPE_BROKEN")
            || t.contains("NT_STATUS_IO_TIMEOUT"),
        "{t}"
    );
    assert!(!dir.join("again.bin").exists());
}

#[test]
fn proxy_stall_holds_bytes_until_unstall_and_delay_applies() {
    let s = SambaServer::shared();
    let proxy = FaultProxy::start(s.addr()).unwrap();
    proxy.stall_new(true);
    let addr = proxy.addr();
    let (user, pass) = (s.user().to_string(), s.password().to_string());
    let dir = local_dir("stall");
    let dir2 = dir.0.clone();
    let h = std::thread::spawn(move || {
        smbclient(
            addr,
            SHARE,
            Some((&user, &pass)),
            "ls",
            &dir2,
            &["-t", "30"],
        )
        .unwrap()
    });
    assert!(proxy.wait_until(Duration::from_secs(10), |p| p.connections() == 1));
    std::thread::sleep(Duration::from_millis(500));
    // The NEGOTIATE request was read by the proxy but nothing reached the client.
    assert!(proxy.counts(0, Direction::ToClient).is_empty());
    assert!(!h.is_finished());
    proxy.stall_new(false);
    proxy.set_delay(Duration::from_millis(5));
    proxy.unstall(0);
    let o = h.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        proxy
            .counts(0, Direction::ToClient)
            .contains_key(&Command::QueryDirectory)
    );
}

#[test]
fn proxy_refuse_closes_new_connections() {
    let s = SambaServer::shared();
    let proxy = FaultProxy::start(s.addr()).unwrap();
    proxy.refuse(true);
    let dir = local_dir("refuse");
    let o = s
        .smbclient_at(proxy.addr(), SHARE, "ls", &dir, &[])
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    proxy.refuse(false);
    let o = s
        .smbclient_at(proxy.addr(), SHARE, "ls", &dir, &[])
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn configured_server_encryption_signing_guest_and_dialect() {
    let s = SambaConfig::new()
        .max_protocol("SMB3_11")
        .signing_required(true)
        .guest(true)
        .durable_handles(true)
        .global("smb2 max credits = 512")
        .start()
        .unwrap();
    let dir = local_dir("cfg");
    std::fs::write(dir.join("e.txt"), b"secret").unwrap();
    let proxy = FaultProxy::start(s.addr()).unwrap();
    // The encrypted share: smbclient must encrypt, the proxy sees transform frames only
    // after the session is set up.
    let o = s
        .smbclient_at(
            proxy.addr(),
            ENCRYPTED_SHARE,
            "put e.txt",
            &dir,
            &["--client-protection=encrypt", "-m", "SMB3_11"],
        )
        .unwrap();
    assert!(!text(&o).contains("NT_STATUS_"), "{}", text(&o));
    assert!(text(&o).contains("putting file"), "{}", text(&o));
    assert_eq!(
        std::fs::read(s.share_path(ENCRYPTED_SHARE).join("e.txt")).unwrap(),
        b"secret"
    );
    assert!(proxy.encrypted_count(0, Direction::ToServer) > 0);
    assert!(proxy.encrypted_count(0, Direction::ToClient) > 0);
    // Guest logon with a bad user name is mapped to guest.
    let o = smbclient(s.addr(), GUEST_SHARE, None, "ls", &dir, &[]).unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // Pinning an older dialect on the client still works against max SMB3_11.
    let o = s.smbclient(SHARE, "ls", &dir).unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = s
        .smbclient_at(s.addr(), SHARE, "ls", &dir, &["-m", "SMB2_10"])
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    drop(proxy);
    let root = s.share_path(SHARE);
    drop(s);
    assert!(!root.exists(), "directory removed on drop");
}

#[test]
fn multichannel_server_listens_on_every_address() {
    let s = SambaConfig::new().multichannel(2).start().unwrap();
    assert_eq!(s.addrs().len(), 3);
    let dir = local_dir("mc");
    for a in s.addrs() {
        TcpStream::connect(a).unwrap();
        let o = s.smbclient_at(a, SHARE, "ls", &dir, &[]).unwrap();
        assert!(o.status.success(), "{a}: {}", text(&o));
    }
    let conf = std::fs::read_to_string(s.conf_path()).unwrap();
    assert!(conf.contains("server multi channel support = yes"));
}

#[test]
fn dialect_pinned_server_refuses_older_clients() {
    let s = SambaConfig::new().protocol("SMB3_11").start().unwrap();
    let dir = local_dir("pin");
    let o = s
        .smbclient_at(s.addr(), SHARE, "ls", &dir, &["-m", "SMB2_10"])
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    let o = s.smbclient(SHARE, "ls", &dir).unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

// ---- the rewriting hook ----

/// A frame with a direct-TCP prefix.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// A signed response to `command` with MessageId `id` and a body of `body` bytes of `fill`.
fn response(command: Command, id: u64, body: usize, fill: u8) -> Vec<u8> {
    let mut h = smb_core::wire::Header::request(command);
    h.message_id = id;
    h.session_id = 0x1234;
    h.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR | HeaderFlags::SIGNED);
    h.signature = [0x5A; 16];
    frames::message_bytes(&h, &vec![fill; body])
}

/// Read `n` frames (payloads) from `s`.
fn read_frames(s: &mut TcpStream, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let mut p = [0u8; 4];
            s.read_exact(&mut p).unwrap();
            let mut f = vec![0u8; u32::from_be_bytes(p) as usize];
            s.read_exact(&mut f).unwrap();
            f
        })
        .collect()
}

/// A loopback "server" that answers the first frame it receives with `frames`, written a
/// few bytes at a time (so the proxy must reassemble them), then echoes what it gets.
fn scripted_server(frames: Vec<Vec<u8>>) -> (SocketAddr, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut got = read_frames(&mut s, 1);
        let stream: Vec<u8> = frames.iter().flat_map(|f| framed(f)).collect();
        for piece in stream.chunks(7) {
            s.write_all(piece).unwrap();
        }
        got.extend(read_frames(&mut s, 1));
        got
    });
    (addr, t)
}

#[test]
fn proxy_hook_edits_drops_and_injects_server_frames() {
    let sent = vec![
        response(Command::Read, 1, 40, 0xAA),
        response(Command::Read, 2, 40, 0xBB),
        response(Command::Write, 3, 16, 0xCC),
    ];
    let (addr, server) = scripted_server(sent.clone());
    let proxy = FaultProxy::start(addr).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    proxy.rewrite(Direction::ToClient, move |i| {
        seen2
            .lock()
            .unwrap()
            .push((i.conn, i.dir, i.index, i.payload().len()));
        match i.index {
            // A relay's signing bypass: SIGNED cleared and SessionId zeroed, data replaced.
            0 => {
                let f = i.frame.as_mut().unwrap();
                assert!(frames::patch_first_header(f, |h| {
                    h.flags.set(HeaderFlags::SIGNED, false);
                    h.session_id = 0;
                }));
                f[64..].fill(0xEE);
            }
            1 => i.drop_frame(),
            _ => {
                i.before.push(b"before".to_vec());
                i.after.push(b"after".to_vec());
            }
        }
    });
    let mut c = TcpStream::connect(proxy.addr()).unwrap();
    c.write_all(&framed(&response(Command::Echo, 0, 4, 0)))
        .unwrap();
    let got = read_frames(&mut c, 4);
    let h0 = frames::first_header(&got[0]).unwrap();
    assert!(
        !h0.flags.has(HeaderFlags::SIGNED) && h0.session_id == 0,
        "{h0:?}"
    );
    assert!(got[0][64..].iter().all(|b| *b == 0xEE));
    assert_eq!(got[1], b"before");
    assert_eq!(got[2], sent[2], "an unedited frame passes byte for byte");
    assert_eq!(got[3], b"after");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (0, Direction::ToClient, 0, 104),
            (0, Direction::ToClient, 1, 104),
            (0, Direction::ToClient, 2, 80)
        ]
    );
    // The log holds what was forwarded, rewritten frames marked, headers kept.
    let to_client: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|e| e.dir == Direction::ToClient)
        .collect();
    let summary: Vec<(Seen, bool, u64)> = to_client
        .iter()
        .map(|e| (e.what, e.rewritten, e.frame))
        .collect();
    assert!(
        matches!(
            summary[..],
            [
                (
                    Seen::Smb2 {
                        message_id: 1,
                        signed: false,
                        ..
                    },
                    true,
                    0
                ),
                (Seen::Unknown, true, 1),
                (
                    Seen::Smb2 {
                        message_id: 3,
                        signed: true,
                        ..
                    },
                    false,
                    2
                ),
                (Seen::Unknown, true, 3),
            ]
        ),
        "{summary:?}"
    );
    assert_eq!(to_client[0].header.unwrap().session_id, 0);
    assert_eq!(to_client[2].header.unwrap().session_id, 0x1234);

    // Requests pass untouched (no hook that way); inject adds one towards the server.
    proxy
        .inject(0, Direction::ToServer, &response(Command::Cancel, 9, 4, 0))
        .unwrap();
    let at_server = server.join().unwrap();
    assert_eq!(
        frames::first_header(&at_server[0]).unwrap().command,
        Command::Echo
    );
    assert_eq!(frames::first_header(&at_server[1]).unwrap().message_id, 9);
    assert!(
        proxy
            .log()
            .iter()
            .any(|e| e.dir == Direction::ToServer && e.rewritten)
    );
    assert!(proxy.inject(5, Direction::ToServer, b"x").is_err());
}

#[test]
fn proxy_hook_on_requests_and_clear_rewrite() {
    let (addr, server) = scripted_server(vec![response(Command::Echo, 0, 4, 0)]);
    let proxy = FaultProxy::start(addr).unwrap();
    proxy.rewrite(Direction::ToServer, |i| {
        let f = i.frame.as_mut().unwrap();
        frames::patch_first_header(f, |h| h.message_id = 77);
    });
    let mut c = TcpStream::connect(proxy.addr()).unwrap();
    c.write_all(&framed(&response(Command::Echo, 0, 4, 0)))
        .unwrap();
    read_frames(&mut c, 1);
    proxy.clear_rewrite(Direction::ToServer);
    c.write_all(&framed(&response(Command::Echo, 1, 4, 0)))
        .unwrap();
    let at_server = server.join().unwrap();
    let ids: Vec<u64> = at_server
        .iter()
        .map(|f| frames::first_header(f).unwrap().message_id)
        .collect();
    assert_eq!(ids, [77, 1]);
}

/// The hook against a real server and an independent client: smbclient, signing required,
/// refuses a READ response whose signature the proxy flipped (so the attack scenarios'
/// tampering is effective), and the same transfer without the hook succeeds.
#[test]
fn proxy_tampered_signature_is_refused_by_smbclient() {
    let s = SambaServer::shared();
    s.put_file(SHARE, "tamper/f.bin", &payload(200_000))
        .unwrap();
    let dir = local_dir("tamper");
    let args = ["--client-protection=sign", "-m", "SMB3_11"];
    let proxy = FaultProxy::start(s.addr()).unwrap();
    let o = s
        .smbclient_at(proxy.addr(), SHARE, "get tamper\\f.bin ok.bin", &dir, &args)
        .unwrap();
    assert!(!text(&o).contains("NT_STATUS_"), "{}", text(&o));
    assert_eq!(std::fs::read(dir.join("ok.bin")).unwrap(), payload(200_000));
    let tampered = Arc::new(Mutex::new(0usize));
    let t2 = tampered.clone();
    proxy.rewrite(Direction::ToClient, move |i| {
        let f = i.frame.as_mut().unwrap();
        let reads: Vec<usize> = frames::headers(f)
            .into_iter()
            .filter(|(_, h)| h.command == Command::Read && h.status == NtStatus::SUCCESS)
            .map(|(off, _)| off)
            .collect();
        for off in reads {
            frames::flip_signature_bit(f, off);
            *t2.lock().unwrap() += 1;
        }
    });
    let o = s
        .smbclient_at(
            proxy.addr(),
            SHARE,
            "get tamper\\f.bin bad.bin",
            &dir,
            &args,
        )
        .unwrap();
    assert!(*tampered.lock().unwrap() >= 1, "no READ response passed");
    let t = text(&o);
    let local = std::fs::read(dir.join("bad.bin")).unwrap_or_default();
    assert!(
        local != payload(200_000),
        "smbclient accepted a tampered READ: {t}"
    );
    assert!(t.contains("Bad SMB2") && t.contains("signature"), "{t}");
}

// ---- the hostile server, checked against an independent client ----

/// The hostile server's well-behaved part is a real SMB server: smbclient logs in (NTLMv2,
/// 3.1.1 pre-authentication integrity), lists and fetches the file plain, signed and
/// encrypted, and gets the right bytes.
#[test]
fn hostile_server_behaving_serves_smbclient() {
    use smb_testkit::hostile::{self, Behave, HostileConfig, HostileServer};
    let server = HostileServer::start(HostileConfig::default(), Behave).unwrap();
    let dir = local_dir("hostile");
    let creds = Some((hostile::USER, hostile::PASSWORD));
    let want = hostile::file_bytes(0, hostile::FILE_SIZE as usize);
    for (i, extra) in [
        &["-m", "SMB3_11"][..],
        &["--client-protection=sign"][..],
        &["--client-protection=encrypt"][..],
        &["-m", "SMB2_10"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let local = format!("f{i}.bin");
        let cmd = format!("ls dir; get {} {local}", hostile::FILE);
        let o = smbclient(server.addr(), "share", creds, &cmd, &dir, extra).unwrap();
        let t = text(&o);
        assert!(t.contains("entry-000002"), "{extra:?}: {t}");
        let got = std::fs::read(dir.join(&local)).unwrap_or_default();
        assert!(
            got == want,
            "{extra:?}: {} bytes, wrong content: {t}",
            got.len()
        );
    }
    let signed = server
        .requests()
        .iter()
        .filter(|h| h.flags.has(HeaderFlags::SIGNED))
        .count();
    assert!(signed > 0, "smbclient signed nothing");
}
