//! Login kinds and signing: signing required on every dialect, guest and anonymous
//! sessions, a server that requires signing.

use super::*;

/// Signing required by the client: every dialect signs and works, and the wire shows it:
/// every request after the logon and every final response is signed (at the proxy).
pub async fn signing_required<H: Harness>(h: H) {
    let server = SambaServer::shared();
    for d in [Dialect::Smb202, Dialect::Smb300, Dialect::Smb311] {
        let proxy = proxy_for(server);
        let cfg = ClientConfig::default()
            .with_dialects(d, d)
            .with_require_signing(true);
        let (c, n) = h
            .connect(proxied_login(&proxy, server, cfg))
            .await
            .unwrap_or_else(|e| panic!("signed login {d:?}: {e}"));
        assert!(n.signing, "{d:?} session must sign");
        let s = h.share(&c, SHARE).await.expect("signed tree connect");
        h.list(&s, "").await.expect("signed listing");
        assert_signed_on_wire(&proxy, &format!("{d:?}, client requires signing")).await;
    }
}

/// Every request after the last SESSION_SETUP request and every final response to one of
/// them carries SMB2_FLAGS_SIGNED and a non-zero signature; returns how many requests that
/// was. (That the signatures verify is what the attack scenarios test: a tampered one is
/// refused.)
pub(crate) async fn assert_signed_on_wire(proxy: &FaultProxy, what: &str) -> usize {
    // Background requests (the listing's CLOSE) may still have their answer on the way.
    // Counted exactly as the check below counts them: the requests after the last
    // SESSION_SETUP against their final answers (counting the whole log let a surplus
    // before the logon hide a missing answer after it, and the check then ran too early).
    // The check runs on the very snapshot the wait approved: a background request sent
    // after it (the CLOSE of a listing that already returned) is then not half-counted,
    // with its request in the log and its answer not yet.
    let answered = |log: &[crate::proxy::Event]| {
        let reqs = requests(log);
        let Some(last) = reqs
            .iter()
            .rposition(|m| m.command == Command::SessionSetup)
        else {
            return false;
        };
        let setup_id = reqs[last].message_id;
        let finals = messages(log)
            .iter()
            .filter(|m| m.response && m.message_id > setup_id)
            .filter(|m| m.status != smb_core::wire::NtStatus::PENDING)
            .filter(|m| m.command != Command::Cancel)
            .count();
        finals >= reqs.len() - last - 1
    };
    // Generous: on a loaded machine the background CLOSE's answer can take a while.
    let mut approved = None;
    wait_until(proxy, Duration::from_secs(20), |p| {
        let log = p.log();
        let ok = answered(&log);
        if ok {
            approved = Some(log);
        }
        ok
    })
    .await;
    let log = approved.unwrap_or_else(|| proxy.log());
    let all = messages(&log);
    let reqs = requests(&log);
    let last_setup = reqs
        .iter()
        .rposition(|m| m.command == Command::SessionSetup)
        .unwrap_or_else(|| panic!("{what}: no SESSION_SETUP on the wire"));
    let setup_id = reqs[last_setup].message_id;
    let after = &reqs[last_setup + 1..];
    assert!(!after.is_empty(), "{what}: no request after the logon");
    let signature = |m: &Msg| {
        log.iter()
            .find(|e| {
                e.dir == m.dir
                    && e.frame == m.frame
                    && e.conn == m.conn
                    && e.header.is_some_and(|h| h.message_id == m.message_id)
            })
            .and_then(|e| e.header)
            .map(|h| h.signature)
            .unwrap_or([0; 16])
    };
    for m in after {
        assert!(
            m.signed && signature(m) != [0; 16],
            "{what}: unsigned request after SESSION_SETUP: {m:?}"
        );
    }
    let finals: Vec<&Msg> = all
        .iter()
        .filter(|m| m.response && m.message_id > setup_id)
        .filter(|m| m.status != smb_core::wire::NtStatus::PENDING)
        .filter(|m| m.command != Command::Cancel)
        .collect();
    assert!(
        finals.len() >= after.len(),
        "{what}: {} final responses for {} requests: {after:?}; answers: {finals:?}",
        finals.len(),
        after.len()
    );
    for m in finals {
        assert!(
            m.signed && signature(m) != [0; 16],
            "{what}: unsigned final response from the server: {m:?}"
        );
    }
    after.len()
}

/// Guest and anonymous logins on a guest-enabled server; a guest session cannot sign, so a
/// client that requires signing gets a clear PermissionDenied.
pub async fn guest_and_anonymous<H: Harness>(h: H) {
    let server = SambaConfig::new()
        .guest(true)
        .start()
        .expect("start a guest-enabled smbd");
    server
        .put_file(GUEST_SHARE, "hello.txt", b"hello guest")
        .expect("put a file in the guest share");
    let login = |who: Who, config: ClientConfig| Login {
        target: server.addr().to_string(),
        who,
        config,
    };

    let (c, n) = h
        .connect(login(Who::Guest, ClientConfig::default()))
        .await
        .expect("guest login");
    assert!(n.guest, "Samba must flag the session as guest: {n:?}");
    assert!(
        !n.signing && !n.encryption,
        "a guest session has no key: {n:?}"
    );
    let s = h.share(&c, GUEST_SHARE).await.expect("guest tree connect");
    let names = h.list(&s, "").await.expect("guest listing");
    assert!(names.iter().any(|n| n == "hello.txt"), "{names:?}");
    assert_eq!(
        h.read_file(&s, "hello.txt").await.expect("guest read"),
        b"hello guest"
    );
    h.write(&s, "from-guest.txt", b"written by guest".to_vec())
        .await
        .expect("guest write to a writable guest share");
    assert_eq!(
        std::fs::read(server.share_path(GUEST_SHARE).join("from-guest.txt")).expect("on disk"),
        b"written by guest"
    );

    // Anonymous: Samba accepts the NULL session (restrict anonymous = 0) and lets it reach a
    // `guest ok` share, but not a share that needs a user.
    let (c, n) = h
        .connect(login(Who::Anonymous, ClientConfig::default()))
        .await
        .expect("anonymous login");
    // Samba answers a NULL session with SessionFlags 0 (neither IS_GUEST nor IS_NULL); the
    // engine reports `anonymous` from what it asked for as well. There is no session key, so
    // nothing is signed.
    assert!(n.anonymous, "an anonymous session: {n:?}");
    assert!(!n.guest, "not a guest session: {n:?}");
    assert!(!n.signing, "an anonymous session has no key: {n:?}");
    let s = h
        .share(&c, GUEST_SHARE)
        .await
        .expect("anonymous tree connect to the guest share");
    let names = h.list(&s, "").await.expect("anonymous listing");
    assert!(names.iter().any(|n| n == "hello.txt"), "{names:?}");
    let e = h
        .share(&c, SHARE)
        .await
        .err()
        .expect("anonymous tree connect to a user share must fail");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert_message(&e, &["STATUS_ACCESS_DENIED"]);

    // Guest + a client that requires signing: no session key, so no signing: refused.
    let e = h
        .connect(login(
            Who::Guest,
            ClientConfig::default().with_require_signing(true),
        ))
        .await
        .err()
        .expect("a guest session cannot satisfy require_signing");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("sign"), "{e}");
}

/// A server that requires signing, a client that does not ask for it: the session signs
/// anyway, a file round trip works, every request after the last SESSION_SETUP request and
/// every final response is signed on the wire; an anonymous session (no key) is refused.
pub async fn server_requires_signing<H: Harness>(h: H) {
    let server = SambaConfig::new()
        .signing_required(true)
        .start()
        .expect("start an smbd with server signing = mandatory");
    for d in [Dialect::Smb202, Dialect::Smb300, Dialect::Smb311] {
        let proxy = proxy_for(&server);
        let cfg = ClientConfig::default().with_dialects(d, d);
        assert!(!cfg.require_signing);
        let (c, n) = h
            .connect(proxied_login(&proxy, &server, cfg))
            .await
            .unwrap_or_else(|e| panic!("{d:?} login to a signing server: {e}"));
        assert!(n.signing, "{d:?}: the session must sign: {n:?}");
        let s = h.share(&c, SHARE).await.expect("tree connect");
        let data = random_bytes(300_000, 11);
        let name = format!("signed-{d:?}.bin");
        h.write_file(&s, &name, data.clone(), 65536)
            .await
            .expect("signed write");
        assert_eq!(h.read_file(&s, &name).await.expect("signed read"), data);
        h.remove_file(&s, &name).await.expect("remove");
        let reqs = requests(&proxy.log());
        assert!(
            reqs.iter().any(|m| m.command == Command::Write)
                && reqs.iter().any(|m| m.command == Command::Read),
            "{d:?}: {reqs:?}"
        );
        // Both directions, at the proxy: signed requests, signed final responses (the client
        // verified them, or it would have failed).
        assert_signed_on_wire(&proxy, &format!("{d:?}, server requires signing")).await;
    }
    // An anonymous session has no key, so it cannot sign: Samba would let it log in
    // unsigned even here, and the client refuses such a session ([MS-SMB2] 3.2.5.3.1).
    let anon = Login {
        target: server.addr().to_string(),
        who: Who::Anonymous,
        config: ClientConfig::default(),
    };
    let e = h
        .connect(anon)
        .await
        .err()
        .expect("an anonymous session on a server that requires signing is refused");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("signing"), "{e}");
}
