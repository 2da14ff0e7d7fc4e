//! Attacks on the client's integrity checks, played against Samba by a man in the middle:
//! a [`FaultProxy`] whose rewriting hook edits, replaces or injects server-to-client frames
//! ([MS-SMB2] 3.2.5.1: decrypt, find the request, verify the signature, only then act).
//!
//! Each attack expects the operation under attack to fail with a typed integrity error (the
//! engine's [`OpError`] inside the `io::Error`, an `io::ErrorKind` of PermissionDenied or
//! InvalidData, a message naming the cause) and never to hand a forged byte to the caller.

use super::{
    Harness, Login, Who, messages, proxied_login, proxy_for, put_on_disk, random_bytes, requests,
    sleep,
};
use crate::frames::{self, ERROR_BODY};
use crate::{Direction, ENCRYPTED_SHARE, FaultProxy, GUEST_SHARE, Intercept, SHARE, SambaConfig};
use crate::{SambaServer, Seen};
use smb_core::client::{ChannelError, ClientConfig, Dialect, ErrorKind, OpError};
use smb_core::wire::header::HeaderId;
use smb_core::wire::read::{ReadRequest, ReadResponse};
use smb_core::wire::{Command, Decode, Header, NtStatus};
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The byte every forged READ carries instead of the file's data.
const FORGED: u8 = b'F';

/// The channel error inside an integrity refusal or a channel failure.
fn channel_error(k: &ErrorKind) -> Option<&ChannelError> {
    match k {
        ErrorKind::Integrity(c) | ErrorKind::Channel(c) => Some(c),
        _ => None,
    }
}

/// A signature or encryption check refused the traffic.
fn integrity(k: &ErrorKind) -> bool {
    matches!(
        channel_error(k),
        Some(
            ChannelError::BadSignature(_)
                | ChannelError::Unsigned(_)
                | ChannelError::Unencrypted(_)
                | ChannelError::DecryptFailed
                | ChannelError::BadTransform(_)
        )
    )
}

/// A check of the TRANSFORM_HEADER or of the decrypted message refused it.
fn transform_refused(k: &ErrorKind) -> bool {
    integrity(k)
        || matches!(
            channel_error(k),
            Some(ChannelError::Protocol(_) | ChannelError::Malformed(_))
        )
}

/// The server's message broke the protocol (a response the request does not allow).
fn protocol_violation(k: &ErrorKind) -> bool {
    matches!(k, ErrorKind::Protocol(_))
        || matches!(
            channel_error(k),
            Some(ChannelError::Protocol(_) | ChannelError::Malformed(_))
        )
}

/// `result` must be a refusal: an `io::Error` of kind PermissionDenied or InvalidData that
/// carries the engine's [`OpError`] with `typed(kind)`, and whose message names one of
/// `words`. A success is a forged result handed to the caller: the test fails saying so.
fn expect_refused<T>(
    result: io::Result<T>,
    what: &str,
    typed: fn(&ErrorKind) -> bool,
    words: &[&str],
    describe: impl FnOnce(&T) -> String,
) -> io::Error {
    let e = match result {
        Ok(v) => panic!("{what}: accepted, {}", describe(&v)),
        Err(e) => e,
    };
    let text = e.to_string();
    eprintln!("{what}: refused with {:?}: {text}", e.kind());
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::PermissionDenied | io::ErrorKind::InvalidData
        ),
        "{what}: io::ErrorKind {:?} for an integrity failure: {text}",
        e.kind()
    );
    let op: Option<&OpError> = smb_core::driver::op_error(&e);
    let op = op.unwrap_or_else(|| panic!("{what}: not a typed engine error: {text}"));
    assert!(typed(&op.kind), "{what}: wrong error {:?}: {text}", op.kind);
    let lower = text.to_lowercase();
    assert!(
        words.iter().any(|w| lower.contains(w)),
        "{what}: the message {text:?} should name the cause (one of {words:?})"
    );
    assert!(!text.contains('\n'), "{what}: not one line: {text:?}");
    e
}

/// A tampered TRANSFORM cannot be tied to a request (it does not decrypt, or its header is
/// not believed), so the client may drop the connection and carry on over a new one
/// (reconnect and replay): then the read must return exactly the file, and the proxy must
/// have seen the tampered connection dropped. Otherwise it must be a typed refusal.
fn refused_or_recovered(
    r: io::Result<Vec<u8>>,
    proxy: &FaultProxy,
    conns_before: usize,
    file: &[u8],
    what: &str,
    words: &[&str],
) {
    match r {
        Ok(data) if proxy.connections() > conns_before => {
            assert!(
                data == file,
                "{what}: the read after a reconnect returned other bytes: {}",
                describe_read(file)(&data)
            );
            eprintln!(
                "{what}: the client dropped the connection ({} in all) and read the file again",
                proxy.connections()
            );
        }
        r => {
            expect_refused(r, what, transform_refused, words, describe_read(file));
        }
    }
}

/// What a forged read of `file` gave the caller.
fn describe_read(file: &[u8]) -> impl FnOnce(&Vec<u8>) -> String + '_ {
    move |data| {
        let forged = data
            .iter()
            .enumerate()
            .filter(|(i, b)| **b == FORGED && file.get(*i) != Some(&FORGED))
            .count();
        format!(
            "the caller got {} bytes (the file has {}), {forged} of them the forger's {:?}",
            data.len(),
            file.len(),
            FORGED as char
        )
    }
}

/// The offsets of the successful READ responses in a plain frame.
fn read_responses(frame: &[u8]) -> Vec<(usize, Header)> {
    frames::headers(frame)
        .into_iter()
        .filter(|(_, h)| h.command == Command::Read && h.is_response() && h.status.is_success())
        .collect()
}

/// A READ response to `h` carrying `len` forged bytes, unsigned, with `session_id`.
fn forged_read(h: &Header, len: usize, session_id: u64) -> Vec<u8> {
    let mut fh = frames::response_header(h, NtStatus::SUCCESS, h.credits);
    fh.session_id = session_id;
    let data = vec![FORGED; len];
    frames::message(
        &fh,
        &ReadResponse {
            data: &data,
            data_remaining: 0,
            flags: 0,
        },
    )
}

/// Tamper with every successful plain READ response the server sends from now on; returns
/// how many were tampered with.
fn on_read_responses(
    proxy: &FaultProxy,
    mut tamper: impl FnMut(&mut Intercept, usize, Header) + Send + 'static,
) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let c2 = count.clone();
    proxy.rewrite(Direction::ToClient, move |i| {
        for (off, h) in read_responses(i.payload()) {
            c2.fetch_add(1, Ordering::SeqCst);
            tamper(i, off, h);
        }
    });
    count
}

/// Log in through a fresh proxy with `config`, connect `share`, put a `len`-byte file at
/// `rel` in it (on disk); returns what the attack needs.
async fn attack_setup<H: Harness>(
    h: &H,
    server: &SambaServer,
    config: ClientConfig,
    share: &str,
    rel: &str,
    len: usize,
) -> (FaultProxy, H::Client, H::Share, Vec<u8>) {
    let data = random_bytes(len, len as u64);
    server
        .put_file(share, rel, &data)
        .expect("put the attacked file on disk");
    let proxy = proxy_for(server);
    let (c, _) = h
        .connect(proxied_login(&proxy, server, config))
        .await
        .expect("login through the proxy");
    let s = h.share(&c, share).await.expect("tree connect");
    (proxy, c, s, data)
}

// ---- signing ----

/// Signing required: a READ response with SMB2_FLAGS_SIGNED cleared and SessionId set to 0
/// (so that a check keyed off the response's own SessionId finds no session) is refused:
/// the session is the one of the request with that MessageId ([MS-SMB2] 3.2.5.1.3).
pub async fn attack_unsigned_read_session_id_zero<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default().with_require_signing(true);
    let (proxy, _c, s, data) =
        attack_setup(&h, server, cfg, SHARE, "atk-unsigned/f.bin", 200_000).await;
    let n = on_read_responses(&proxy, |i, off, h| {
        let f = i.frame.as_mut().expect("frame");
        let len = ReadResponse::decode(&f[off..]).map_or(0, |r| r.data.len());
        // A whole new frame: the forged response alone, unsigned, SessionId 0.
        *f = forged_read(&h, len, 0);
    });
    let r = h.read_file(&s, "atk-unsigned/f.bin").await;
    assert!(
        n.load(Ordering::SeqCst) >= 1,
        "no READ response passed the proxy"
    );
    expect_refused(
        r,
        "an unsigned READ response with SessionId 0",
        integrity,
        &["sign"],
        describe_read(&data),
    );
}

/// Signing required: a READ response whose signature has one bit flipped is refused.
pub async fn attack_flipped_read_signature<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default().with_require_signing(true);
    let (proxy, _c, s, data) =
        attack_setup(&h, server, cfg, SHARE, "atk-flip/f.bin", 200_000).await;
    let n = on_read_responses(&proxy, |i, off, _| {
        frames::flip_signature_bit(i.frame.as_mut().expect("frame"), off);
    });
    let r = h.read_file(&s, "atk-flip/f.bin").await;
    assert!(
        n.load(Ordering::SeqCst) >= 1,
        "no READ response passed the proxy"
    );
    expect_refused(
        r,
        "a READ response with a flipped signature bit",
        integrity,
        &["sign"],
        describe_read(&data),
    );
}

/// An unsigned STATUS_PENDING interim response injected before a READ's final response.
/// Interims are exempt from signing ([MS-SMB2] 3.2.5.1.3; servers SHOULD NOT sign them,
/// 3.3.4.2), so alone it must not break a signed session (the read succeeds with the real
/// bytes); but a tampered final response after it is still refused.
pub async fn attack_forged_interim_then_tampered_final<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default().with_require_signing(true);
    let (proxy, _c, s, data) =
        attack_setup(&h, server, cfg, SHARE, "atk-interim/f.bin", 100_000).await;
    let tamper_final = Arc::new(Mutex::new(false));
    let t2 = tamper_final.clone();
    let n = on_read_responses(&proxy, move |i, off, h| {
        let mut interim = frames::response_header(&h, NtStatus::PENDING, 0);
        interim.id = HeaderId::Async { async_id: 0xF0F0 };
        i.before.push(frames::message_bytes(&interim, &ERROR_BODY));
        if *t2.lock().expect("flag") {
            frames::flip_signature_bit(i.frame.as_mut().expect("frame"), off);
        }
    });
    let back = h
        .read_file(&s, "atk-interim/f.bin")
        .await
        .expect("an unsigned interim alone is legitimate: the read must succeed");
    assert!(
        back == data,
        "the read returned other bytes than the file's"
    );
    assert!(
        n.load(Ordering::SeqCst) >= 1,
        "no READ response passed the proxy"
    );
    *tamper_final.lock().expect("flag") = true;
    let r = h.read_file(&s, "atk-interim/f.bin").await;
    expect_refused(
        r,
        "a tampered final READ response after an unsigned interim",
        integrity,
        &["sign"],
        describe_read(&data),
    );
}

// ---- encryption ----

/// MessageIds that may belong to the requests sent after the last plain request seen on
/// connection 0: the next `n` ones.
fn next_message_ids(proxy: &FaultProxy, n: u64) -> Vec<u64> {
    let last = requests(&proxy.log())
        .iter()
        .filter(|m| m.conn == 0)
        .map(|m| m.message_id)
        .max()
        .unwrap_or(0);
    (last + 1..=last + n).collect()
}

/// Replace the `nth` encrypted frame the server sends from now on (counting from 0) with
/// the frames `forge(message_ids, frame)` returns, where `message_ids` are the MessageIds
/// that may be outstanding (those after the last plain request: the forger cannot read the
/// encrypted requests, so it answers each candidate, in one compound frame so the client
/// handles them all before it sends anything new); returns how many encrypted frames
/// passed.
fn replace_encrypted_frame(
    proxy: &FaultProxy,
    nth: usize,
    forge: impl Fn(&[u64], Vec<u8>) -> Vec<Vec<u8>> + Send + 'static,
) -> Arc<AtomicUsize> {
    let ids = next_message_ids(proxy, 8);
    let seen = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    proxy.rewrite(Direction::ToClient, move |i| {
        if !frames::is_transform(i.payload()) {
            return;
        }
        if s2.fetch_add(1, Ordering::SeqCst) == nth {
            let real = i.frame.take().expect("frame");
            let mut out = forge(&ids, real);
            i.frame = out.pop();
            i.before = out;
        }
    });
    seen
}

/// A session that encrypts: unencrypted STATUS_PENDING interims (granting 1,000 credits,
/// with an AsyncId, for each MessageId the READ may have) injected before the READ's
/// encrypted response are not acted on: they arrive outside a transform header, so they are
/// dropped and fail the channel before any credit or AsyncId is taken from them
/// ([MS-SMB2] 3.2.5.1.1).
pub async fn attack_plaintext_interim_on_encrypted_session<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default()
        .with_require_encryption(true)
        .with_echo_interval(None);
    let (proxy, _c, s, data) =
        attack_setup(&h, server, cfg, SHARE, "atk-enc-interim/f.bin", 5_000).await;
    // The interims go just before the second encrypted answer (the CREATE's comes first),
    // which is then delivered as it came.
    let seen = replace_encrypted_frame(&proxy, 1, |ids, real| {
        let interims: Vec<Vec<u8>> = ids
            .iter()
            .map(|id| {
                let mut req = Header::request(Command::Read);
                req.message_id = *id;
                let mut interim = frames::response_header(&req, NtStatus::PENDING, 1000);
                interim.id = HeaderId::Async {
                    async_id: 0xBAD0 + id,
                };
                frames::message_bytes(&interim, &ERROR_BODY)
            })
            .collect();
        vec![frames::compound(&interims).expect("chain"), real]
    });
    let r = h.read_file(&s, "atk-enc-interim/f.bin").await;
    assert!(
        seen.load(Ordering::SeqCst) >= 2,
        "the read's response never passed"
    );
    expect_refused(
        r,
        "plaintext STATUS_PENDING interims on an encrypted session",
        integrity,
        &["encrypt"],
        describe_read(&data),
    );
}

/// A share with `smb encrypt = required` (SMB2_SHAREFLAG_ENCRYPT_DATA) and a session that
/// does not encrypt otherwise: a plaintext, unsigned READ response (SessionId 0) injected in
/// place of the encrypted one is refused; every response on that tree must arrive in a
/// transform header.
pub async fn attack_plaintext_read_on_encrypted_share<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default().with_echo_interval(None);
    let (proxy, _c, s, data) = attack_setup(
        &h,
        server,
        cfg,
        ENCRYPTED_SHARE,
        "atk-share-enc/f.bin",
        5_000,
    )
    .await;
    assert!(
        requests(&proxy.log())
            .iter()
            .any(|m| m.command == Command::TreeConnect),
        "the TREE_CONNECT went in the clear (share-level encryption only)"
    );
    let len = data.len();
    let seen = replace_encrypted_frame(&proxy, 1, move |ids, _real| {
        let forged: Vec<Vec<u8>> = ids
            .iter()
            .map(|id| {
                let mut req = Header::request(Command::Read);
                req.message_id = *id;
                forged_read(&req, len, 0)
            })
            .collect();
        vec![frames::compound(&forged).expect("chain")]
    });
    let r = h.read_file(&s, "atk-share-enc/f.bin").await;
    assert!(
        seen.load(Ordering::SeqCst) >= 2,
        "the read's response never passed"
    );
    expect_refused(
        r,
        "a plaintext READ response on an encrypted share",
        integrity,
        &["encrypt"],
        describe_read(&data),
    );
}

/// On a share that requires encryption, a request that times out is cancelled with a CANCEL
/// that is encrypted (and so carries the tree's TreeId inside the transform), never one in
/// the clear with TreeId 0 ([MS-SMB2] 3.2.4.24, 3.2.4.1.8).
pub async fn attack_cancel_on_encrypted_share<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default()
        .with_echo_interval(None)
        .with_request_timeout(smb_core::time::Duration::from_millis(1000));
    let (proxy, _c, s, _) = attack_setup(
        &h,
        server,
        cfg,
        ENCRYPTED_SHARE,
        "atk-cancel/f.bin",
        200_000,
    )
    .await;
    let tree_id = messages(&proxy.log())
        .iter()
        .rev()
        .find(|m| m.command == Command::TreeConnect && m.response)
        .map(|m| m.tree_id)
        .expect("a TREE_CONNECT response");
    // Let the CREATE's answer through, then swallow everything the server says.
    let seen = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    proxy.rewrite(Direction::ToClient, move |i| {
        if frames::is_transform(i.payload()) && s2.fetch_add(1, Ordering::SeqCst) >= 1 {
            i.drop_frame();
        }
    });
    let before = proxy.log().len();
    let r = h.read_file(&s, "atk-cancel/f.bin").await;
    let e = r
        .err()
        .expect("a read whose answers are all dropped must fail");
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    sleep(Duration::from_millis(300)).await;
    let log = proxy.log();
    let plain_cancels: Vec<u32> = messages(&log[before..])
        .iter()
        .filter(|m| m.command == Command::Cancel && !m.response)
        .map(|m| m.tree_id)
        .collect();
    assert!(
        plain_cancels.is_empty(),
        "CANCEL went out in the clear on a tree that requires encryption, TreeIds \
         {plain_cancels:?} (the tree is {tree_id:#x})"
    );
    // A CANCEL is a 64-byte header and a 4-byte body: OriginalMessageSize 68 (ECHO, the
    // other request of that size, is off).
    let sealed_cancels = log[before..]
        .iter()
        .filter(|e| e.dir == Direction::ToServer)
        .filter(|e| e.transform.is_some_and(|t| t.original_message_size == 68))
        .count();
    assert!(
        sealed_cancels >= 1,
        "no encrypted CANCEL after the timeout: {:?}",
        log[before..]
            .iter()
            .filter(|e| e.dir == Direction::ToServer)
            .map(|e| (e.what, e.transform.map(|t| t.original_message_size)))
            .collect::<Vec<_>>()
    );
}

// ---- the transform header ----

/// An encrypted session; the first encrypted frame the server sends after `arm` is edited
/// by `tamper`; the read in flight must be refused.
async fn tampered_transform<H: Harness>(
    h: H,
    what: &str,
    tamper: impl Fn(&mut Vec<u8>) + Send + 'static,
) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default().with_require_encryption(true);
    let rel = format!("atk-transform-{}/f.bin", what.len());
    let (proxy, _c, s, data) = attack_setup(&h, server, cfg, SHARE, &rel, 50_000).await;
    let done = Arc::new(AtomicUsize::new(0));
    let d2 = done.clone();
    proxy.rewrite(Direction::ToClient, move |i| {
        if frames::is_transform(i.payload()) && d2.fetch_add(1, Ordering::SeqCst) == 0 {
            tamper(i.frame.as_mut().expect("frame"));
        }
    });
    let conns = proxy.connections();
    let r = h.read_file(&s, &rel).await;
    assert!(
        done.load(Ordering::SeqCst) >= 1,
        "{what}: no encrypted answer passed"
    );
    refused_or_recovered(
        r,
        &proxy,
        conns,
        &data,
        what,
        &[
            "decrypt",
            "transform",
            "encrypt",
            "session",
            "originalmessagesize",
        ],
    );
}

/// TRANSFORM_HEADER Flags (EncryptionAlgorithm in 3.0.x) other than 0x0001 is refused
/// ([MS-SMB2] 3.2.5.1.1.1).
pub async fn attack_transform_wrong_flags<H: Harness>(h: H) {
    tampered_transform(h, "a TRANSFORM_HEADER with Flags 0x0002", |f| {
        frames::patch_transform(f, |t| t.flags = 2);
    })
    .await
}

/// A transform whose OriginalMessageSize is not the size of what it carries is refused.
pub async fn attack_transform_wrong_original_size<H: Harness>(h: H) {
    tampered_transform(
        h,
        "a TRANSFORM_HEADER with a wrong OriginalMessageSize",
        |f| {
            frames::patch_transform(f, |t| t.original_message_size -= 1);
        },
    )
    .await
}

/// A transform naming another SessionId is refused.
pub async fn attack_transform_other_session_id<H: Harness>(h: H) {
    tampered_transform(h, "a TRANSFORM_HEADER with another SessionId", |f| {
        frames::patch_transform(f, |t| t.session_id ^= 0x0100);
    })
    .await
}

/// A relay hands one client a genuine encrypted frame of another client's session (same
/// server, same proxy): it is refused, whatever it says.
pub async fn attack_transform_from_another_session<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default().with_require_encryption(true);
    let (proxy, _a, s, data) =
        attack_setup(&h, server, cfg.clone(), SHARE, "atk-relay/f.bin", 50_000).await;
    // Client B on connection 1; its encrypted TREE_CONNECT answer is kept.
    let kept = Arc::new(Mutex::new(None::<Vec<u8>>));
    let k2 = kept.clone();
    let replaced = Arc::new(AtomicUsize::new(0));
    let r2 = replaced.clone();
    let armed = Arc::new(Mutex::new(false));
    let a2 = armed.clone();
    proxy.rewrite(Direction::ToClient, move |i| {
        if !frames::is_transform(i.payload()) {
            return;
        }
        if i.conn == 1 {
            *k2.lock().expect("kept") = i.frame.clone();
        } else if *a2.lock().expect("armed") && r2.fetch_add(1, Ordering::SeqCst) == 0 {
            if let Some(other) = k2.lock().expect("kept").clone() {
                i.frame = Some(other);
            }
        }
    });
    let (b, _) = h
        .connect(proxied_login(&proxy, server, cfg))
        .await
        .expect("second client");
    h.share(&b, SHARE)
        .await
        .expect("second client's tree connect");
    let sessions: Vec<u64> = proxy
        .log()
        .iter()
        .filter_map(|e| e.transform.map(|t| (e.conn, t.session_id)))
        .fold(Vec::new(), |mut v, (conn, id)| {
            if v.len() <= conn {
                v.resize(conn + 1, 0);
            }
            v[conn] = id;
            v
        });
    assert!(
        sessions.len() == 2 && sessions[0] != sessions[1],
        "two sessions expected: {sessions:?}"
    );
    assert!(kept.lock().expect("kept").is_some(), "no frame of client B");
    *armed.lock().expect("armed") = true;
    let conns = proxy.connections();
    let r = h.read_file(&s, "atk-relay/f.bin").await;
    assert!(replaced.load(Ordering::SeqCst) >= 1, "nothing was relayed");
    refused_or_recovered(
        r,
        &proxy,
        conns,
        &data,
        "an encrypted frame of another session",
        &["decrypt", "transform", "encrypt", "session"],
    );
}

// ---- what a READ response may carry ----

/// A READ response with more data than the request asked for is a protocol error
/// ([MS-SMB2] 3.2.5.10: DataLength is at most the Length requested); nothing reaches the
/// caller. The session is unsigned (2.1, signing not required) so the edit itself does not
/// break a signature.
pub async fn attack_read_more_than_asked<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let cfg = ClientConfig::default().with_dialects(Dialect::Smb210, Dialect::Smb210);
    let data = random_bytes(200_000, 17);
    put_on_disk(server, "atk-overlong/f.bin", &data);
    let proxy = proxy_for(server);
    let (_c, n) = h
        .connect(proxied_login(&proxy, server, cfg))
        .await
        .expect("login through the proxy");
    assert!(!n.signing, "this attack needs an unsigned session: {n:?}");
    let s = h.share(&_c, SHARE).await.expect("tree connect");
    // Learn each READ's Length on the way to the server...
    let asked: Arc<Mutex<BTreeMap<u64, u32>>> = Arc::default();
    let a2 = asked.clone();
    proxy.rewrite(Direction::ToServer, move |i| {
        let f = i.payload();
        for (off, h) in frames::headers(f) {
            if h.command == Command::Read {
                if let Ok(r) = ReadRequest::decode(&f[off..]) {
                    a2.lock().expect("asked").insert(h.message_id, r.length);
                }
            }
        }
    });
    // ...and answer each with that many bytes plus 4 KiB.
    let grown = on_read_responses(&proxy, move |i, off, h| {
        let f = i.frame.as_mut().expect("frame");
        let Some(len) = asked.lock().expect("asked").get(&h.message_id).copied() else {
            return;
        };
        let real = ReadResponse::decode(&f[off..]).map_or(0, |r| r.data.len());
        eprintln!("READ #{} asked {len}, server sent {real}", h.message_id);
        *f = forged_read(&h, len as usize + 4096, h.session_id);
    });
    let r = h.read_file(&s, "atk-overlong/f.bin").await;
    assert!(grown.load(Ordering::SeqCst) >= 1, "no READ response passed");
    let e = match r {
        Ok(v) => panic!(
            "a READ response longer than asked for was accepted: {}",
            describe_read(&data)(&v)
        ),
        Err(e) => e,
    };
    eprintln!("overlong READ: {:?}: {e}", e.kind());
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    let op = smb_core::driver::op_error(&e).unwrap_or_else(|| panic!("not typed: {e}"));
    assert!(protocol_violation(&op.kind), "{:?}: {e}", op.kind);
    assert!(
        e.to_string().to_lowercase().contains("read"),
        "the message should name the READ: {e}"
    );
}

// ---- guest fallback ----

/// A Samba that maps bad passwords to guest and requires signing.
fn guest_mapping_server() -> SambaServer {
    SambaConfig::new()
        .map_to_guest("Bad Password")
        .signing_required(true)
        .start()
        .expect("start an smbd with map to guest = Bad Password and mandatory signing")
}

/// Against `map to guest = Bad Password` and `server signing = mandatory`, a wrong password
/// is a logon failure, not a guest session: the caller gave credentials and did not opt in
/// to a guest fallback (the default).
pub async fn attack_wrong_password_no_guest_fallback<H: Harness>(h: H) {
    let server = guest_mapping_server();
    server
        .put_file(GUEST_SHARE, "guest.txt", b"guest data")
        .expect("put a guest file");
    let proxy = proxy_for(&server);
    let login = Login {
        target: proxy.addr().to_string(),
        who: Who::User(server.user().to_string(), "not-the-password".to_string()),
        config: ClientConfig::default(),
    };
    let r = h.connect(login).await;
    let (c, n) = match r {
        Err(e) => {
            eprintln!("wrong password: {:?}: {e}", e.kind());
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            let op = smb_core::driver::op_error(&e).unwrap_or_else(|| panic!("not typed: {e}"));
            assert!(
                matches!(op.kind, ErrorKind::LogonFailure),
                "a wrong password must read as a logon failure: {:?}: {e}",
                op.kind
            );
            return;
        }
        Ok(v) => v,
    };
    // The client took the guest session: say what it then gave away.
    let listed = match h.share(&c, GUEST_SHARE).await {
        Ok(s) => format!("{:?}", h.list(&s, "").await.map_err(|e| e.to_string())),
        Err(e) => format!("tree connect failed: {e}"),
    };
    let unsigned = requests(&proxy.log())
        .iter()
        .filter(|m| !m.signed && !matches!(m.command, Command::Negotiate | Command::SessionSetup))
        .count();
    panic!(
        "a wrong password logged in as {n:?}; guest share listing: {listed}; {unsigned} unsigned \
         requests after login"
    );
}

/// With `allow_guest_fallback`, a wrong password against `map to guest = Bad Password`
/// becomes a guest session that can use the guest share, when nothing requires signing;
/// without it (the default) it is a logon failure; where the server requires signing even
/// the opt-in is refused (a guest session cannot sign).
pub async fn guest_fallback_only_when_opted_in<H: Harness>(h: H) {
    let open = SambaConfig::new()
        .map_to_guest("Bad Password")
        .start()
        .expect("start an smbd with map to guest = Bad Password");
    open.put_file(GUEST_SHARE, "guest.txt", b"guest data")
        .expect("put a guest file");
    let signing = guest_mapping_server();
    let wrong = |server: &SambaServer, config: ClientConfig| Login {
        target: server.addr().to_string(),
        who: Who::User(server.user().to_string(), "not-the-password".to_string()),
        config,
    };
    let e = h
        .connect(wrong(&open, ClientConfig::default()))
        .await
        .err()
        .expect("a wrong password without the opt-in must fail");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    let opt_in = ClientConfig::default().with_allow_guest_fallback(true);
    let (c, n) = h
        .connect(wrong(&open, opt_in.clone()))
        .await
        .expect("with allow_guest_fallback the wrong password becomes a guest session");
    assert!(n.guest && !n.signing, "{n:?}");
    let s = h.share(&c, GUEST_SHARE).await.expect("guest tree connect");
    assert_eq!(
        h.read_file(&s, "guest.txt").await.expect("guest read"),
        b"guest data"
    );
    let e = h
        .connect(wrong(&signing, opt_in))
        .await
        .err()
        .expect("a guest session where the server requires signing must be refused");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("sign"), "{e}");
}

/// A relay sets SMB2_SESSION_FLAG_IS_GUEST on the real final SESSION_SETUP response (right
/// password, server signing mandatory). The client must not drop signing because of it: no
/// unsigned TREE_CONNECT leaves the client, and the login fails (the flags are covered by
/// the response's signature; a guest session is refused where signing is required).
pub async fn attack_relay_sets_is_guest<H: Harness>(h: H) {
    let server = guest_mapping_server();
    let proxy = proxy_for(&server);
    let flagged = Arc::new(AtomicUsize::new(0));
    let f2 = flagged.clone();
    proxy.rewrite(Direction::ToClient, move |i| {
        let f = i.frame.as_mut().expect("frame");
        if let Some(hd) = frames::first_header(f) {
            if hd.command == Command::SessionSetup
                && hd.status == NtStatus::SUCCESS
                && f.len() >= 68
            {
                // SessionFlags: the 2 bytes after StructureSize ([MS-SMB2] 2.2.6).
                f[66] |= 0x01;
                f2.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let login = proxied_login(&proxy, &server, ClientConfig::default());
    let r = h.connect(login).await;
    assert!(
        flagged.load(Ordering::SeqCst) == 1,
        "no final SESSION_SETUP response"
    );
    let tree = match &r {
        Ok((c, _)) => Some(h.share(c, SHARE).await.map(|_| ())),
        Err(_) => None,
    };
    let log = proxy.log();
    let unsigned_tcons: Vec<u64> = requests(&log)
        .iter()
        .filter(|m| m.command == Command::TreeConnect && !m.signed)
        .map(|m| m.message_id)
        .collect();
    assert!(
        unsigned_tcons.is_empty(),
        "the relay's IS_GUEST flag got unsigned TREE_CONNECTs out of the client (MessageIds \
         {unsigned_tcons:?}); login: {:?}, tree connect: {tree:?}",
        r.as_ref().map(|(_, n)| *n).map_err(|e| e.to_string())
    );
    let e = match r {
        Ok((_, n)) => panic!("login accepted a final response whose flags were forged: {n:?}"),
        Err(e) => e,
    };
    eprintln!("forged IS_GUEST: {:?}: {e}", e.kind());
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    let lower = e.to_string().to_lowercase();
    assert!(lower.contains("sign") || lower.contains("guest"), "{e}");
    assert!(
        !log.iter().any(|e| e.dir == Direction::ToServer
            && matches!(
                e.what,
                Seen::Smb2 {
                    command: Command::TreeConnect,
                    ..
                }
            )),
        "a TREE_CONNECT was sent after a refused login"
    );
}
