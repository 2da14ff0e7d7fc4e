//! `connect_url` and the messages of real errors against Samba, on every runtime.

use super::*;
use smb_core::driver::UrlLogin;

/// What these scenarios need of an adapter beyond [`Harness`].
pub trait UrlConnect: Harness {
    /// The adapter's `Client::connect_url(url, login, config)`.
    fn connect_url(
        &self,
        url: &str,
        login: UrlLogin,
        config: ClientConfig,
    ) -> BoxFut<'static, io::Result<(Self::Client, Self::Share)>>;
}

/// `connect_url` logs in as the URL's user (password as an argument, or full credentials)
/// and returns the URL's share, in the `smb://`, `\\host\share` and `//host/share` forms;
/// a URL without share or user, a user differing from the credentials, a wrong password
/// are clear errors.
pub async fn connect_url_uses_user_and_share<H: UrlConnect>(h: H) {
    let server = SambaServer::shared();
    let (_c, s) = setup(&h, "urlc").await;
    h.write(&s, "urlc/hello.txt", b"hi".to_vec())
        .await
        .expect("write");
    let addr = server.addr();
    let (user, pw) = (server.user().to_string(), server.password().to_string());
    let cfg = ClientConfig::default;

    let url = format!("smb://{user}@{addr}/{SHARE}/urlc");
    let (c1, s1) = h
        .connect_url(&url, pw.as_str().into(), cfg())
        .await
        .expect("connect_url with a password");
    assert_eq!(
        h.read_whole(&s1, "urlc/hello.txt").await.expect("read"),
        b"hi"
    );

    let creds = smb_core::driver::Credentials::password(None, user.as_str(), pw.as_str());
    for url in [
        format!("\\\\{addr}\\{SHARE}"),
        format!("//{addr}/{SHARE}/urlc"),
    ] {
        let creds = smb_core::driver::Credentials::password(None, user.as_str(), pw.as_str());
        let (_c, s2) = h
            .connect_url(&url, creds.into(), cfg())
            .await
            .unwrap_or_else(|e| panic!("connect_url {url}: {e}"));
        assert_eq!(
            h.read_whole(&s2, "urlc/hello.txt").await.expect("read"),
            b"hi"
        );
    }

    let no_share = format!("smb://{user}@{addr}");
    let e = h
        .connect_url(&no_share, pw.as_str().into(), cfg())
        .await
        .err()
        .expect("a URL without share");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(e.to_string(), "URL names no share (smb://host/share)");
    let other = format!("smb://someone-else@{addr}/{SHARE}");
    let e = h
        .connect_url(&other, creds.into(), cfg())
        .await
        .err()
        .expect("a URL user that is not the credentials'");
    assert_eq!(
        e.to_string(),
        format!("URL names user \"someone-else\" but the credentials are for \"{user}\"")
    );
    let e = h
        .connect_url(&url, "not-the-password".into(), cfg())
        .await
        .err()
        .expect("a wrong password");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    let op = smb_core::driver::op_error(&e).expect("the engine's error");
    assert_eq!(op.kind, smb_core::client::ErrorKind::LogonFailure, "{e}");
    let e = h
        .connect_url(
            &format!("smb://{user}@{addr}/no-such-share"),
            pw.as_str().into(),
            cfg(),
        )
        .await
        .err()
        .expect("a share the server does not have");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    drop(c1);
    h.remove_dir_all(&s, "urlc").await.ok();
}

/// What a user reads from real errors: the call, the path, the cause, the status name.
pub async fn error_messages_name_the_call_and_path<H: Harness>(h: H) {
    let (c, s) = setup(&h, "errmsg").await;
    let server = SambaServer::shared();
    let text = |r: io::Result<()>| r.err().expect("the call fails").to_string();

    let e = h
        .read_file(&s, "errmsg/missing.txt")
        .await
        .err()
        .expect("missing");
    assert_eq!(
        e.to_string(),
        "open errmsg/missing.txt: no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)"
    );
    let e = h
        .metadata(&s, "errmsg/missing.txt")
        .await
        .err()
        .expect("missing");
    assert_eq!(
        e.to_string(),
        "metadata errmsg/missing.txt: no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)"
    );
    let e = h.list(&s, "errmsg/nodir").await.err().expect("missing dir");
    assert_eq!(
        e.to_string(),
        "read_dir errmsg/nodir: no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)"
    );
    assert_eq!(
        text(h.remove_file(&s, "errmsg/missing.txt").await),
        "remove_file errmsg/missing.txt: no such file or directory \
         (STATUS_OBJECT_NAME_NOT_FOUND)"
    );
    assert_eq!(
        text(h.create_dir(&s, "errmsg/no/sub").await),
        "create_dir errmsg/no/sub: no such file or directory (STATUS_OBJECT_PATH_NOT_FOUND)"
    );

    // Sharing violations: a deny-all open held, then an open and a rename of the file.
    h.write(&s, "errmsg/held.txt", b"x".to_vec())
        .await
        .expect("write");
    let guard = h
        .hold_open(&s, "errmsg/held.txt", 0)
        .await
        .expect("deny-all open");
    let e = h
        .hold_open(&s, "errmsg/held.txt", 7)
        .await
        .err()
        .expect("an open against a deny-all open");
    assert_eq!(
        e.to_string(),
        "open errmsg/held.txt: sharing violation (STATUS_SHARING_VIOLATION)"
    );
    assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
    assert_eq!(
        text(h.rename(&s, "errmsg/held.txt", "errmsg/moved.txt").await),
        "rename errmsg/held.txt -> errmsg/moved.txt: sharing violation \
         (STATUS_SHARING_VIOLATION)"
    );
    drop(guard);

    h.create_dir_all(&s, "errmsg/full/sub")
        .await
        .expect("mkdir");
    assert_eq!(
        text(h.remove_dir(&s, "errmsg/full").await),
        "remove_dir errmsg/full: directory not empty (STATUS_DIRECTORY_NOT_EMPTY)"
    );

    // Access denied: the read-only share.
    let ro = h.share(&c, READONLY_SHARE).await.expect("tree connect ro");
    let e = h
        .write(&ro, "new.txt", b"x".to_vec())
        .await
        .err()
        .expect("write on the read-only share");
    assert_eq!(
        e.to_string(),
        "write new.txt: access denied (STATUS_ACCESS_DENIED)"
    );
    assert_eq!(
        text(h.create_dir(&ro, "d").await),
        "create_dir d: access denied (STATUS_ACCESS_DENIED)"
    );
    let _ = server;
    h.remove_dir_all(&s, "errmsg").await.ok();
}

/// A resolver for `localhost` only (a resolver wrongly bypassed still asks no DNS server:
/// the system resolves `localhost` from the hosts file), mapping it to `to` when set.
#[derive(Debug)]
struct Localhost {
    to: Option<std::net::SocketAddr>,
    calls: std::sync::atomic::AtomicUsize,
}

impl smb_core::client::Resolver for Localhost {
    fn resolve(&self, host: &str, _port: u16) -> Result<Vec<std::net::SocketAddr>, String> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match self.to {
            Some(a) if host == "localhost" => Ok(vec![a]),
            _ => Err("no such host (test resolver)".into()),
        }
    }
}

/// A name the resolver does not know fails the connect at once with its own,
/// non-retryable error (io HostUnreachable); a name it knows connects through it.
pub async fn unresolvable_host_is_its_own_kind<H: Harness>(h: H) {
    use smb_core::client::{ChannelError, CloseReason, ErrorKind};
    let server = SambaServer::shared();
    let port = server.addr().port();
    let refuse = std::sync::Arc::new(Localhost {
        to: None,
        calls: Default::default(),
    });
    let mut login = user_login(
        server,
        ClientConfig::default().with_resolver(refuse.clone()),
    );
    login.target = format!("localhost:{port}");
    let started = std::time::Instant::now();
    let e = h.connect(login).await.err().expect("an unknown name");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not retried: {:?}",
        started.elapsed()
    );
    assert_eq!(e.kind(), io::ErrorKind::HostUnreachable, "{e}");
    let op = smb_core::driver::op_error(&e).expect("the engine's error");
    assert!(
        matches!(
            &op.kind,
            ErrorKind::Channel(ChannelError::Closed(CloseReason::NameNotResolved(_)))
        ),
        "{op:?}"
    );
    assert!(!op.is_retryable());
    assert_eq!(
        e.to_string(),
        format!("cannot resolve host name \"localhost:{port}\": no such host (test resolver)")
    );
    assert!(refuse.calls.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    let map = std::sync::Arc::new(Localhost {
        to: Some(server.addr()),
        calls: Default::default(),
    });
    let mut login = user_login(server, ClientConfig::default().with_resolver(map.clone()));
    login.target = format!("localhost:{port}");
    let (c, _) = h.connect(login).await.expect("a name the resolver knows");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    assert!(h.exists(&s, "").await.expect("stat the root"));
    assert!(map.calls.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}
