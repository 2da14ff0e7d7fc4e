//! Share listing (srvsvc NetrShareEnum on IPC$) and named pipes against Samba, on every
//! runtime.

use super::*;
use crate::share_comment;
use smb_core::wire::rpc::{Bind, BindReply};
use smb_core::wire::srvsvc::{SRVSVC, ShareKind};

/// Extra shares of the listing server: enough, with long comments, that the reply takes
/// several 4280-byte fragments (so the reads past FSCTL_PIPE_TRANSCEIVE's output run).
const BULK_SHARES: usize = 40;

fn bulk_comment(i: usize) -> String {
    format!("bulk share {i:02}: a long comment so the listing needs several fragments ü")
}

/// A Samba with the guest share and [`BULK_SHARES`] more.
fn listing_server() -> SambaServer {
    let mut cfg = SambaConfig::new().guest(true);
    let lines: Vec<String> = (0..BULK_SHARES)
        .map(|i| format!("comment = {}", bulk_comment(i)))
        .collect();
    for (i, l) in lines.iter().enumerate() {
        cfg = cfg.extra_share(&format!("bulk{i:02}"), &[l.as_str()]);
    }
    cfg.start().expect("start an smbd with many shares")
}

/// `list_shares` returns every share of the server with its type and comment, IPC$ as a
/// special IPC share; the reply spans several RPC fragments, read after the transceive.
pub async fn list_shares_of_samba<H: Harness>(h: H) {
    let server = listing_server();
    let proxy = FaultProxy::start(server.addr()).expect("proxy");
    let mut login = user_login(&server, ClientConfig::default());
    login.target = proxy.addr().to_string();
    let (c, _) = h.connect(login).await.expect("login");
    let shares = h.list_shares(&c).await.expect("list shares");
    let find = |name: &str| {
        shares
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} not listed in {shares:?}"))
    };
    for name in [SHARE, GUEST_SHARE, READONLY_SHARE, ENCRYPTED_SHARE] {
        let s = find(name);
        assert_eq!(s.share_type.kind, ShareKind::Disk, "{s:?}");
        assert!(!s.share_type.special && !s.is_hidden(), "{s:?}");
        assert_eq!(s.comment, share_comment(name), "{s:?}");
    }
    for i in 0..BULK_SHARES {
        assert_eq!(find(&format!("bulk{i:02}")).comment, bulk_comment(i));
    }
    let ipc = find("IPC$");
    assert_eq!(ipc.share_type.kind, ShareKind::Ipc, "{ipc:?}");
    assert!(ipc.share_type.special && ipc.is_hidden(), "{ipc:?}");
    assert!(ipc.comment.starts_with("IPC Service"), "{ipc:?}");
    assert_eq!(shares.len(), server.shares().len() + 1, "{shares:?}");
    // The reply did not fit one transceive: the rest came by READ.
    assert!(
        proxy.request_count(Command::Read) > 0,
        "no READ on the pipe"
    );
    // The listing leaves nothing behind: the pipe is closed, IPC$ disconnected, and the
    // client lists again on the same session.
    assert_eq!(h.list_shares(&c).await.expect("again").len(), shares.len());
    h.shutdown(c).await;
}

/// A generic pipe: BIND srvsvc through `Pipe::transact` and get Samba's BIND_ACK; an unknown
/// pipe is NotFound.
pub async fn named_pipe_transact_binds<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let (c, _) = h
        .connect(user_login(server, ClientConfig::default()))
        .await
        .expect("login");
    let bind = Bind::new(1, SRVSVC);
    let reply = h
        .pipe_transact(&c, "srvsvc", bind.encode())
        .await
        .expect("transact on srvsvc");
    match BindReply::decode(&reply).expect("a BIND_ACK") {
        BindReply::Ack(a) => {
            assert_eq!(a.results.len(), 1);
            assert_eq!(a.results[0].result, 0, "{a:?}");
            assert!(a.secondary_addr.ends_with(b"srvsvc"), "{a:?}");
        }
        r => panic!("bind refused: {r:?}"),
    }
    let e = h
        .pipe_transact(&c, "no-such-pipe", vec![1])
        .await
        .expect_err("an unknown pipe");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
}
