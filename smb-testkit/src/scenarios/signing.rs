//! Signing defaults on the wire against Samba with its default `server signing` (enabled,
//! not required): a 3.1.1 session signs by default (`sign_if_supported`), and the opt-out
//! leaves it unsigned.

use super::{Harness, assert_signed_on_wire, messages, proxied_login, proxy_for, requests};
use crate::{SHARE, SambaServer};
use smb_core::client::{ClientConfig, Dialect};
use smb_core::wire::Command;

/// 3.1.1 without anyone requiring signing: every request after the logon and every final
/// response is signed by default; with `sign_if_supported` off only the TREE_CONNECT
/// (always signed on 3.1.1, [MS-SMB2] 3.2.4.1.1) is, and the server answers the rest unsigned.
pub async fn signing_by_default_on_311<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let base = ClientConfig::default().with_dialects(Dialect::Smb311, Dialect::Smb311);

    let proxy = proxy_for(server);
    let (c, n) = h
        .connect(proxied_login(&proxy, server, base.clone()))
        .await
        .expect("login");
    assert!(n.signing, "a default 3.1.1 session signs");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    h.list(&s, "").await.expect("listing");
    assert_signed_on_wire(&proxy, "3.1.1, signing by default").await;
    drop(s);
    h.shutdown(c).await;

    let proxy = proxy_for(server);
    let cfg = base.with_sign_if_supported(false);
    let (c, n) = h
        .connect(proxied_login(&proxy, server, cfg))
        .await
        .expect("login without signing");
    assert!(!n.signing, "the opt-out leaves the session unsigned");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    h.list(&s, "").await.expect("listing");
    let log = proxy.log();
    let reqs = requests(&log);
    let last_setup = reqs
        .iter()
        .rposition(|m| m.command == Command::SessionSetup)
        .expect("a SESSION_SETUP on the wire");
    let after: Vec<_> = reqs[last_setup + 1..]
        .iter()
        .filter(|m| m.command != Command::TreeConnect)
        .collect();
    assert!(!after.is_empty(), "requests after the tree connect");
    for m in &after {
        assert!(!m.signed, "signed request with signing off: {m:?}");
    }
    let unsigned_answers = messages(&log)
        .iter()
        .filter(|m| m.response && after.iter().any(|r| r.message_id == m.message_id))
        .filter(|m| !m.signed)
        .count();
    assert!(
        unsigned_answers > 0,
        "the server answered unsigned requests unsigned"
    );
    drop(s);
    h.shutdown(c).await;
}
