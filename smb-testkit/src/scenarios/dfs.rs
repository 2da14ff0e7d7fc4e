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

/// The root server (127.0.0.1) with [`DFS_ROOT`] holding `remote` -> the target server's
/// [`SHARE`], `local` -> its own `other` share, and `loop` -> itself (`dfsroot\loop`), and
/// the target server (127.0.0.2).
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
    ])
}

/// Opening `dfsroot\remote\sub\file.txt` follows the referral to the other server and reads
/// its file; `dfsroot\local\file.txt` goes to another share of the same server; whole-file
/// read and metadata follow too; the root's listing shows the links; a link that points
/// back at itself ends after the hop bound with an error naming the path; with referrals
/// off the open fails with STATUS_PATH_NOT_COVERED.
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
