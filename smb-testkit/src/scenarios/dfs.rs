//! DFS referrals against a Samba standalone DFS root ([MS-DFSC]; Samba's `host msdfs` with a
//! `msdfs root` share whose links are `msdfs:` symlinks), on every runtime.
//!
//! The root server listens on 127.0.0.1 and the target server on 127.0.0.2, each on a high
//! port; a referral names only a host, so the client's [`DfsResolver`] maps each loopback
//! address to its lab's port (nothing else is ever resolved or connected).

use super::*;
use smb_core::client::{DfsResolver, ServerAddr};
use smb_core::driver::op_error;
use smb_core::wire::NtStatus;
use std::net::Ipv4Addr;
use std::os::unix::fs::symlink;

/// The DFS root share of the root server.
pub const DFS_ROOT: &str = "dfsroot";
/// A second share of the root server, the target of the same-server link.
const LOCAL_TARGET: &str = "other";
/// The first target of the `failover` link: a host nobody serves (resolved to a closed
/// loopback port; never looked up anywhere else).
const DOWN_HOST: &str = "127.0.0.3";

/// The root server (127.0.0.1) with [`DFS_ROOT`] holding `remote` -> the target server's
/// [`SHARE`], `local` -> its own `other` share, `loop` -> itself (`dfsroot\loop`) and
/// `failover` -> first [`DOWN_HOST`] (which the tests' resolvers send to a closed port),
/// then the target server's [`SHARE`]; and the target server (127.0.0.2).
fn dfs_lab() -> (SambaServer, SambaServer) {
    let target = SambaConfig::new()
        .addresses(&[Ipv4Addr::new(127, 0, 0, 2)])
        .start()
        .expect("start the target smbd on 127.0.0.2");
    let root = SambaConfig::new()
        .global("host msdfs = yes")
        .extra_share(DFS_ROOT, &["msdfs root = yes"])
        .extra_share(LOCAL_TARGET, &[])
        .start()
        .expect("start the DFS root smbd");
    let dir = root.share_path(DFS_ROOT);
    symlink(format!("msdfs:127.0.0.2\\{SHARE}"), dir.join("remote")).expect("link");
    symlink(
        format!("msdfs:127.0.0.1\\{LOCAL_TARGET}"),
        dir.join("local"),
    )
    .expect("link");
    symlink(
        format!("msdfs:127.0.0.1\\{DFS_ROOT}\\loop"),
        dir.join("loop"),
    )
    .expect("link");
    symlink(
        format!("msdfs:{DOWN_HOST}\\{SHARE},127.0.0.2\\{SHARE}"),
        dir.join("failover"),
    )
    .expect("link");
    std::fs::write(dir.join("plain.txt"), b"on the root").expect("plain file");
    std::fs::create_dir_all(target.share_path(SHARE).join("sub")).expect("dir");
    std::fs::write(
        target.share_path(SHARE).join("sub").join("file.txt"),
        b"on the target",
    )
    .expect("target file");
    std::fs::write(
        root.share_path(LOCAL_TARGET).join("file.txt"),
        b"same server",
    )
    .expect("local file");
    (root, target)
}

fn resolver(root: &SambaServer, target: &SambaServer) -> DfsResolver {
    DfsResolver::map([
        ("127.0.0.1".into(), ServerAddr(root.addr().to_string())),
        ("127.0.0.2".into(), ServerAddr(target.addr().to_string())),
        (DOWN_HOST.into(), ServerAddr(closed_port())),
    ])
}

/// `127.0.0.1:port` with nothing listening (bound, then closed): connecting is refused.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr").to_string();
    drop(l);
    a
}

/// Opening `dfsroot\remote\sub\file.txt` follows the referral to the other server and reads
/// its file; `dfsroot\local\file.txt` goes to another share of the same server; whole-file
/// read and metadata follow too; the root's listing shows the links; a link that points
/// back at itself ends after the hop bound with an error naming the path; with referrals
/// off an open, a listing and a rename fail with STATUS_PATH_NOT_COVERED, saying so.
pub async fn dfs_referrals_to_other_servers_and_shares<H: Harness>(h: H) {
    let (root, target) = dfs_lab();
    // Both servers behind counting proxies; the resolver sends each referral host to its
    // server's proxy. One channel per session, so connections count sessions.
    let root_proxy = FaultProxy::start(root.addr()).expect("proxy");
    let target_proxy = FaultProxy::start(target.addr()).expect("proxy");
    let mut config = ClientConfig::default().with_dfs_resolver(DfsResolver::map([
        (
            "127.0.0.1".into(),
            ServerAddr(root_proxy.addr().to_string()),
        ),
        (
            "127.0.0.2".into(),
            ServerAddr(target_proxy.addr().to_string()),
        ),
    ]));
    config.max_channels = 1;
    let mut login = user_login(&root, config);
    login.target = root_proxy.addr().to_string();
    let (c, _) = h.connect(login).await.expect("login");
    let s = h
        .share(&c, DFS_ROOT)
        .await
        .expect("tree connect the DFS root");
    assert_eq!(
        h.read_file(&s, "plain.txt").await.expect("plain file"),
        b"on the root"
    );
    let remote = h
        .read_file(&s, "remote\\sub\\file.txt")
        .await
        .expect("open through the link to the other server");
    assert_eq!(remote, b"on the target");
    assert_eq!(
        h.read_whole(&s, "remote\\sub\\file.txt")
            .await
            .expect("whole read"),
        b"on the target"
    );
    assert_eq!(
        h.metadata(&s, "remote\\sub\\file.txt")
            .await
            .expect("metadata"),
        (13, false)
    );
    // The referral was asked for once and cached ([MS-DFSC] 3.1.5.1): the whole-file read
    // and the metadata went straight to the target, over the one session to it.
    assert_eq!(root_proxy.request_count(Command::Ioctl), 1, "one referral");
    assert_eq!(target_proxy.connections(), 1, "one session to the target");
    assert_eq!(
        h.read_file(&s, "local\\file.txt")
            .await
            .expect("same-server link"),
        b"same server"
    );
    // Same server: the root's own session reached the other share.
    assert_eq!(root_proxy.connections(), 1, "no second session to the root");
    assert_eq!(root_proxy.request_count(Command::Ioctl), 2);
    let mut names = h.list(&s, "").await.expect("list the root");
    names.sort();
    for link in ["local", "loop", "remote"] {
        assert!(names.iter().any(|n| n == link), "{link} not in {names:?}");
    }
    let e = h
        .read_file(&s, "loop\\x.txt")
        .await
        .err()
        .expect("a referral loop must fail");
    let msg = e.to_string();
    assert!(msg.contains("referral"), "{msg}");
    assert!(msg.contains("loop\\x.txt"), "{msg}");
    h.shutdown(c).await;

    // Referrals off: the link is an error that says what it is.
    let off = ClientConfig::default()
        .with_dfs_resolver(resolver(&root, &target))
        .with_follow_dfs(false);
    let (c, _) = h.connect(user_login(&root, off)).await.expect("login");
    let s = h.share(&c, DFS_ROOT).await.expect("tree connect");
    let e = h
        .read_file(&s, "remote\\sub\\file.txt")
        .await
        .err()
        .expect("not followed");
    let op = op_error(&e).expect("an engine error");
    assert_eq!(op.status, Some(NtStatus::PATH_NOT_COVERED), "{e}");
    assert!(e.to_string().contains("remote\\sub\\file.txt"), "{e}");
    // A listing (which opens lazily) and a rename say the same.
    let e = h.list(&s, "remote\\sub").await.err().expect("not followed");
    let op = op_error(&e).expect("an engine error");
    assert_eq!(op.status, Some(NtStatus::PATH_NOT_COVERED), "{e}");
    assert!(e.to_string().contains("following referrals is off"), "{e}");
    let e = h
        .rename(&s, "remote\\sub\\file.txt", "remote\\sub\\f2.txt")
        .await
        .err()
        .expect("not followed");
    assert!(e.to_string().contains("following referrals is off"), "{e}");
    h.shutdown(c).await;

    // A resolver that does not know the target host: a clear error, nothing connected.
    let only_root = DfsResolver::map([("127.0.0.1".into(), ServerAddr(root.addr().to_string()))]);
    let (c, _) = h
        .connect(user_login(
            &root,
            ClientConfig::default().with_dfs_resolver(only_root),
        ))
        .await
        .expect("login");
    let s = h.share(&c, DFS_ROOT).await.expect("tree connect");
    let e = h
        .read_file(&s, "remote\\sub\\file.txt")
        .await
        .err()
        .expect("unknown server");
    assert!(e.to_string().contains("unknown server 127.0.0.2"), "{e}");
    h.shutdown(c).await;
}

/// Every path operation follows links: through `remote` (another server) a directory is
/// listed (matching, walked: paths as the caller named them), files are written, created,
/// copied (within the target, and to another link's target), truncated, renamed, their
/// attributes, streams and security descriptor read or set, directories made and removed,
/// a watch sees a change; each lands on the target server's disk. A rename from the link
/// to the root is refused naming both paths;
/// removing the link itself is refused (its target share is not emptied); listing the
/// looping link ends after the hop bound; `failover` reaches the target
/// server after its first target's closed port refuses.
pub async fn dfs_path_operations_through_links<H: FsExtras>(h: H) {
    use smb_core::client::ErrorKind;
    use smb_core::driver::{DEFAULT_WATCH_FILTER, NotifyAction, WatchEvent};
    let (root, target) = dfs_lab();
    let on_target = |p: &str| target.share_path(SHARE).join(p);
    // The lab's resolver, counting the lookups of the failover link's first target.
    let (lab, down_asked) = (resolver(&root, &target), Arc::new(Mutex::new(0)));
    let asked = down_asked.clone();
    let counting = DfsResolver::new(move |host| {
        *asked.lock().unwrap() += usize::from(host == DOWN_HOST);
        lab.resolve(host)
    });
    let mut config = ClientConfig::default().with_dfs_resolver(counting);
    // One channel per session: the change made after the watch is armed is then sent
    // after its CHANGE_NOTIFY on the same connection (over two channels it could overtake
    // it, and a change the server saw before the watch is not reported).
    config.max_channels = 1;
    let (c, _) = h.connect(user_login(&root, config)).await.expect("login");
    let s = h
        .share(&c, DFS_ROOT)
        .await
        .expect("tree connect the DFS root");

    // Listing through the link, whole, by pattern, and walked.
    let names = h
        .list(&s, "remote\\sub")
        .await
        .expect("list through the link");
    assert_eq!(names, ["file.txt"]);
    let txt = h
        .list_matching(&s, "remote\\sub", "*.txt")
        .await
        .expect("matching");
    assert_eq!(txt.len(), 1);
    h.create_dir_all(&s, "remote\\deep\\er")
        .await
        .expect("mkdir -p");
    assert!(on_target("deep/er").is_dir());
    h.write(&s, "remote\\deep\\er\\leaf.txt", b"leaf".to_vec())
        .await
        .expect("whole-file write");
    let walked = h.walk(&s, "remote/deep", None).await.expect("walk");
    let mut paths: Vec<String> = walked
        .into_iter()
        .map(|e| e.expect("walk entry").path)
        .collect();
    paths.sort();
    assert_eq!(paths, ["remote/deep/er", "remote/deep/er/leaf.txt"]);

    // Creating and writing (in a directory made through the link: the lab's own `sub`
    // belongs to the local user, not necessarily writable by the SMB one).
    h.create_dir(&s, "remote\\made").await.expect("mkdir");
    assert!(on_target("made").is_dir());
    assert!(h.exists(&s, "remote\\made").await.expect("exists"));
    h.write_file(&s, "remote\\made\\streamed.txt", b"streamed".to_vec(), 3)
        .await
        .expect("create and write through the link");
    assert_eq!(
        std::fs::read(on_target("made/streamed.txt")).unwrap(),
        b"streamed"
    );

    // Copy, truncate, rename: both paths on the link's target.
    let n = h
        .copy(&s, "remote\\made\\streamed.txt", "remote\\made\\copy.txt")
        .await
        .expect("copy");
    assert_eq!(n, 8);
    h.set_len(&s, "remote\\made\\copy.txt", 4)
        .await
        .expect("set_len");
    assert_eq!(std::fs::read(on_target("made/copy.txt")).unwrap(), b"stre");
    h.rename(&s, "remote\\made\\copy.txt", "remote\\made\\moved.txt")
        .await
        .expect("rename through the link");
    assert!(!on_target("made/copy.txt").exists());
    assert_eq!(std::fs::read(on_target("made/moved.txt")).unwrap(), b"stre");
    let e = h
        .rename(&s, "remote\\made\\moved.txt", "moved.txt")
        .await
        .err()
        .expect("a rename from the link's target to the root cannot be one SMB2 rename");
    assert_eq!(
        op_error(&e).map(|o| &o.kind),
        Some(&ErrorKind::DfsTargetsDiffer),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("remote\\made\\moved.txt") && msg.contains("-> moved.txt"),
        "{msg}"
    );
    assert!(on_target("made/moved.txt").exists(), "nothing moved");
    // A copy can span two shares of two servers: streamed through the client.
    let n = h
        .copy(&s, "remote\\made\\moved.txt", "local\\copied.txt")
        .await
        .expect("copy from one link's target to another's");
    assert_eq!(n, 4);
    let copied = root.share_path(LOCAL_TARGET).join("copied.txt");
    assert_eq!(std::fs::read(copied).unwrap(), b"stre");

    // Attributes, permissions, times' metadata, streams and the security descriptor.
    h.set_attributes(&s, "remote\\made\\moved.txt", 0x20)
        .await
        .expect("set_attributes");
    h.set_permissions(&s, "remote\\made\\moved.txt", true)
        .await
        .expect("set_permissions");
    let m = h.stat(&s, "remote\\made\\moved.txt").await.expect("stat");
    assert!(m.permissions().readonly(), "{m:?}");
    h.set_permissions(&s, "remote\\made\\moved.txt", false)
        .await
        .expect("writable again");
    let streams = h
        .streams(&s, "remote\\made\\moved.txt")
        .await
        .expect("streams");
    assert!(
        streams.iter().any(|e| e.stream_name == "::$DATA"),
        "{streams:?}"
    );
    let owner = smb_core::wire::security::security_information::OWNER;
    match h
        .fsx(&s, FsxOp::Security("remote\\made\\moved.txt".into(), owner))
        .await
        .expect("security descriptor through the link")
    {
        FsxOut::Sd(sd) => assert!(sd.owner.is_some(), "{sd}"),
        other => panic!("{other:?}"),
    }

    // A watch through the link sees a change made through it. Samba registers a watch
    // asynchronously (its notify daemon), so a change made right after arming may go
    // unreported: changes are made until one is seen, at most five.
    let mut w = h
        .watch(&s, "remote\\made", false, DEFAULT_WATCH_FILTER)
        .await
        .expect("watch through the link");
    let mut made = Vec::new();
    let seen = 'writes: loop {
        if made.len() == 5 {
            break None;
        }
        let name = format!("new{}.txt", made.len());
        h.write(&s, &format!("remote\\made\\{name}"), b"n".to_vec())
            .await
            .expect("write");
        made.push(name);
        // A watch Samba armed between a file's CREATE and its WRITE reports only the
        // Modified: skip those, and the next file's Added counts.
        loop {
            match w.next(Duration::from_secs(2)).await {
                Some(Ok(WatchEvent::Changed(change)))
                    if change.action == NotifyAction::Modified
                        && made.contains(&change.file_name) => {}
                Some(Ok(WatchEvent::Changed(change))) => break 'writes Some(change),
                Some(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => break,
                other => panic!("watch through the link: {other:?}"),
            }
        }
    };
    let change = seen.expect("no change seen through the link's watch");
    assert_eq!(change.action, NotifyAction::Added, "{change:?}");
    assert!(
        made.contains(&change.file_name),
        "{change:?} not in {made:?}"
    );
    drop(w);

    // Removing.
    for name in &made {
        let path = format!("remote\\made\\{name}");
        h.remove_file(&s, &path).await.expect("rm");
    }
    h.remove_file(&s, "remote\\made\\moved.txt")
        .await
        .expect("rm");
    assert!(!on_target("made/moved.txt").exists());
    h.remove_file(&s, "remote\\made\\streamed.txt")
        .await
        .expect("rm");
    h.remove_dir(&s, "remote\\made").await.expect("rmdir");
    assert!(!on_target("made").exists());
    h.remove_dir_all(&s, "remote\\deep").await.expect("rm -r");
    // The link itself is not emptied nor removed.
    for call in ["rm -r", "rmdir"] {
        let r = match call {
            "rm -r" => h.remove_dir_all(&s, "remote").await,
            _ => h.remove_dir(&s, "remote\\").await,
        };
        let e = r.err().expect("removing a link is refused");
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::PermissionDenied,
            "{call}: {e}"
        );
        assert!(e.to_string().contains("DFS link"), "{call}: {e}");
    }
    assert!(!on_target("deep").exists());
    assert!(
        on_target("sub/file.txt").exists(),
        "the rest of the target stays"
    );

    // The looping link, listed: the hop bound, naming the path.
    let e = h
        .list(&s, "loop")
        .await
        .err()
        .expect("a referral loop must fail");
    assert!(e.to_string().contains("referral"), "{e}");

    // The first target of `failover` refuses the connection: the second serves.
    assert_eq!(
        h.read_whole(&s, "failover\\sub\\file.txt")
            .await
            .expect("failed over to the second target"),
        b"on the target"
    );
    assert_eq!(
        *down_asked.lock().unwrap(),
        1,
        "the first target is tried first"
    );
    let names = h
        .list(&s, "failover\\sub")
        .await
        .expect("list after failover");
    assert!(names.iter().any(|n| n == "file.txt"), "{names:?}");
    // The target that answered is tried first now: the closed port is not tried again.
    assert_eq!(*down_asked.lock().unwrap(), 1);
    h.shutdown(c).await;
}
