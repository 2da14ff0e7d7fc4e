//! Attacks on the client's trust checks, in simulation: the server (or a man in the middle)
//! tampers with responses, and each test sees the refusal. Every check of the receive path
//! that refuses bad input is fed that input here.

mod sim;

use bytes::Bytes;
use sim::*;
use smb_core::auth::{NtlmAuthenticator, NtlmCredentials};
use smb_core::client::*;
use smb_core::wire::header::HeaderId;
use smb_core::wire::read::ReadResponse;
use smb_core::wire::session_setup::SessionFlags;
use smb_core::wire::write::WriteResponse;
use smb_core::wire::{Command, HeaderFlags, NtStatus};

/// Byte offsets in a frame (4-byte prefix + SMB2 header).
const F_FLAGS: usize = 4 + 16;
const F_SESSION: usize = 4 + 40;
const F_SIGNATURE: usize = 4 + 48;
const F_COMMAND: usize = 4 + 12;

fn command_of(frame: &[u8]) -> Option<Command> {
    if frame.get(4) != Some(&0xFE) {
        return None;
    }
    Command::from_u16(u16::from_le_bytes([frame[F_COMMAND], frame[F_COMMAND + 1]]))
}

fn is_transform(frame: &[u8]) -> bool {
    frame.get(4) == Some(&0xFD)
}

fn signing_server() -> ServerConfig {
    ServerConfig {
        require_signing: true,
        ..ServerConfig::default()
    }
}

/// A logged-in sim with a file `f.bin` of 100 known bytes, open for reading.
fn with_file(cfg: ClientConfig, server: ServerConfig) -> (Sim, FileHandle, Vec<u8>) {
    let mut s = Sim::new(cfg, server);
    s.login();
    let t = s.tree();
    let data = pattern(100);
    s.server.files.insert("f.bin".into(), data.clone());
    let f = s.open(t, "f.bin", OpenOptions::new().read(true));
    (s, f, data)
}

fn read(s: &mut Sim, f: FileHandle, len: u32) -> Result<Response, OpError> {
    s.op(Request::Read {
        file: f,
        offset: 0,
        len,
    })
}

/// READ 100 bytes of `f` with `edit` applied to every READ answer on its way: the error.
fn read_edited(
    s: &mut Sim,
    f: FileHandle,
    mut edit: impl FnMut(&mut Vec<u8>) + 'static,
) -> OpError {
    s.on_frame = Some(Box::new(move |_, fr| {
        if command_of(fr) == Some(Command::Read) {
            edit(fr);
        }
        Fate::Deliver
    }));
    read(s, f, 100).expect_err("the edited answer is refused")
}

fn failed_channel(s: &Sim) -> Vec<ChannelError> {
    s.events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------

/// The signing bypass: a READ response whose SIGNED flag is cleared and whose
/// SessionId is rewritten to 0 (so a check keyed on the response's own SessionId skips it)
/// carries forged data. The check keys on the request's session: refused, no byte used.
#[test]
fn forged_read_with_signed_cleared_and_session_zero_is_refused() {
    let (mut s, f, _) = with_file(client_config(), signing_server());
    s.on_frame = Some(Box::new(|_, fr| {
        if command_of(fr) == Some(Command::Read) {
            let flags = u32::from_le_bytes(fr[F_FLAGS..F_FLAGS + 4].try_into().unwrap());
            fr[F_FLAGS..F_FLAGS + 4].copy_from_slice(&(flags & !HeaderFlags::SIGNED).to_le_bytes());
            fr[F_SESSION..F_SESSION + 8].copy_from_slice(&0u64.to_le_bytes());
            fr[F_SIGNATURE..F_SIGNATURE + 16].fill(0);
            let n = fr.len();
            fr[n - 10..].fill(b'X'); // forged content
        }
        Fate::Deliver
    }));
    let e = read(&mut s, f, 100).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Integrity(ChannelError::Unsigned(Command::Read)),
        "{e}"
    );
    assert!(e.to_string().contains("tampered"), "{e}");
    assert!(failed_channel(&s).contains(&ChannelError::Unsigned(Command::Read)));
}

#[test]
fn a_flipped_signature_byte_is_refused() {
    let (mut s, f, _) = with_file(client_config(), signing_server());
    s.on_frame = Some(Box::new(|_, fr| {
        if command_of(fr) == Some(Command::Read) {
            fr[F_SIGNATURE + 3] ^= 0x01;
        }
        Fate::Deliver
    }));
    let e = read(&mut s, f, 100).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Integrity(ChannelError::BadSignature(Command::Read)),
        "{e}"
    );
    assert!(s.client.stats().malformed >= 1, "the refusal is counted");
}

/// A body byte changed after signing: the signature no longer matches.
#[test]
fn data_changed_after_signing_is_refused() {
    let (mut s, f, _) = with_file(client_config(), signing_server());
    s.on_frame = Some(Box::new(|_, fr| {
        if command_of(fr) == Some(Command::Read) {
            let n = fr.len();
            fr[n - 1] ^= 0xFF;
        }
        Fate::Deliver
    }));
    let e = read(&mut s, f, 100).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Integrity(ChannelError::BadSignature(Command::Read))
    );
}

/// On a session that does not require signing, a signed TREE_CONNECT (3.1.1 always signs
/// it) must get a signed answer: a stripped signature is refused.
#[test]
fn a_signed_request_needs_a_signed_answer_even_without_required_signing() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    s.server.forge = Some(Box::new(|h, _| {
        if h.command == Command::TreeConnect {
            Forge::Plain
        } else {
            Forge::Normal
        }
    }));
    let e = s
        .op(Request::TreeConnect {
            share: "share".into(),
        })
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Integrity(ChannelError::Unsigned(Command::TreeConnect)),
        "{e}"
    );
}

/// On a session that does not sign (3.1.1 with `sign_if_supported` off, signing not
/// required), an answer that carries SMB2_FLAGS_SIGNED is still verified before it is used:
/// a signature that does not match is refused, not ignored.
#[test]
fn a_present_signature_is_verified_on_a_session_that_does_not_sign() {
    let (mut s, f, _) = with_file(
        client_config().with_sign_if_supported(false),
        ServerConfig::default(),
    );
    let e = read_edited(&mut s, f, |fr| {
        fr[F_FLAGS] |= HeaderFlags::SIGNED as u8;
        fr[F_SIGNATURE..F_SIGNATURE + 16].fill(0xAB);
    });
    let want = ErrorKind::Integrity(ChannelError::BadSignature(Command::Read));
    assert_eq!(e.kind, want, "{e}");
    let reads: Vec<bool> = (s.server.log.iter())
        .filter(|(_, h)| h.command == Command::Read)
        .map(|(_, h)| h.flags.has(HeaderFlags::SIGNED))
        .collect();
    assert!(
        !reads.is_empty() && !reads.contains(&true),
        "the READ went unsigned: {reads:?}"
    );
}

/// An unsigned STATUS_PENDING interim is allowed ([MS-SMB2] 3.2.5.1.3); the final answer
/// after it must still verify.
#[test]
fn after_an_unsigned_interim_the_final_answer_is_still_verified() {
    let (mut s, f, data) = with_file(
        client_config(),
        ServerConfig {
            pending_io: true,
            ..signing_server()
        },
    );
    // The interim goes out unsigned (the server never signs interims): fine.
    assert_eq!(concat(&read_data(read(&mut s, f, 100))), data);
    assert!(s.client.stats().interim_responses > 0);
    s.on_frame = Some(Box::new(|_, fr| {
        let interim =
            u32::from_le_bytes(fr[4 + 8..4 + 12].try_into().unwrap()) == NtStatus::PENDING.0;
        if command_of(fr) == Some(Command::Read) && !interim {
            fr[F_SIGNATURE] ^= 0x80;
        }
        Fate::Deliver
    }));
    let e = read(&mut s, f, 100).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Integrity(ChannelError::BadSignature(Command::Read))
    );
}

/// An interim that carries a signature must verify: a forged one (bad signature) is refused
/// before its credits or AsyncId are used.
#[test]
fn a_signed_interim_with_a_bad_signature_is_refused() {
    let (mut s, f, _) = with_file(client_config(), signing_server());
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::Read).then(|| {
            let mut i = reply(h, NtStatus::PENDING);
            i.id = HeaderId::Async { async_id: 9 };
            i.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR | HeaderFlags::SIGNED);
            i.credits = 60_000;
            vec![(i, error_body())]
        })
    }));
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 100,
    });
    s.run();
    let e = s.done.remove(&op).expect("failed at once").unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Integrity(ChannelError::BadSignature(Command::Read)),
        "{e}"
    );
}

/// A forged lease break with a bad signature is dropped before it is acted on: no event,
/// no acknowledgment sent.
#[test]
fn a_break_notification_with_a_bad_signature_is_not_acted_on() {
    use smb_core::wire::create_context::LeaseState;
    use smb_core::wire::oplock_break::{LeaseBreakNotification, OplockBreakMessage};
    let mut s = Sim::new(client_config(), signing_server());
    s.login();
    let mut h = smb_core::wire::Header::request(Command::OplockBreak);
    h.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR | HeaderFlags::SIGNED);
    h.message_id = u64::MAX;
    h.session_id = s.server.session_id;
    let mut msg = Vec::new();
    use smb_core::wire::Encode;
    h.encode(&mut msg);
    OplockBreakMessage::LeaseNotification(LeaseBreakNotification {
        new_epoch: 1,
        flags: smb_core::wire::oplock_break::LeaseBreakFlags(1),
        lease_key: smb_core::wire::Guid([3; 16]),
        current_state: LeaseState(7),
        new_state: LeaseState(1),
        break_reason: 0,
        access_mask_hint: 0,
        share_mask_hint: 0,
    })
    .encode(&mut msg);
    s.server.sign(&mut msg);
    msg[48] ^= 1;
    let acks = s.server.break_acks.len();
    s.server.push(smb_core::wire::framing::frame(&msg).unwrap());
    s.run();
    assert!(!s.events.iter().any(|e| matches!(e, Event::LeaseBreak(_))));
    assert_eq!(
        s.server.break_acks.len(),
        acks,
        "no acknowledgment was sent"
    );
    assert!(failed_channel(&s).contains(&ChannelError::BadSignature(Command::OplockBreak)));
}

// ---------------------------------------------------------------------------------------
// Encryption
// ---------------------------------------------------------------------------------------

fn encrypting(share_only: bool) -> ServerConfig {
    ServerConfig {
        encrypt_session: !share_only,
        encrypt_share: share_only,
        ..ServerConfig::default()
    }
}

/// A plaintext, unsigned READ answer injected where the session encrypts, and where only
/// the share does (SMB2_SHAREFLAG_ENCRYPT_DATA without session-wide encryption: the issue's
/// share-level hole): refused.
#[test]
fn plaintext_where_encryption_is_required_is_refused() {
    for share_only in [false, true] {
        let (mut s, f, _) = with_file(client_config(), encrypting(share_only));
        assert!(s.server.encrypted_requests > 0, "requests are encrypted");
        s.server.forge = Some(Box::new(|h, _| {
            if h.command == Command::Read {
                Forge::Plain
            } else {
                Forge::Normal
            }
        }));
        let e = read(&mut s, f, 100).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Integrity(ChannelError::Unencrypted(Command::Read)),
            "share_only={share_only}: {e}"
        );
    }
}

/// A signing session connecting to a share with SMB2_SHAREFLAG_ENCRYPT_DATA sends the
/// TREE_CONNECT signed (the tree is not known to encrypt yet), so it expects a signed
/// answer; a server that encrypts that answer instead is accepted: what decrypted with the
/// session's key needs no signature ([MS-SMB2] 3.2.5.1.3, skipped when the decryption of
/// 3.2.5.1.1.1 succeeded). The tree then encrypts its requests.
#[test]
fn an_encrypted_answer_to_a_signed_request_is_accepted() {
    let mut s = Sim::new(
        client_config(),
        ServerConfig {
            require_signing: true,
            ..encrypting(true)
        },
    );
    s.login();
    let transforms = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = transforms.clone();
    s.on_frame = Some(Box::new(move |_, fr| {
        if is_transform(fr) {
            seen.set(seen.get() + 1);
        }
        Fate::Deliver
    }));
    s.server.forge = Some(Box::new(|h, _| {
        if h.command == Command::TreeConnect {
            Forge::Sealed
        } else {
            Forge::Normal
        }
    }));
    let (signed, encrypted) = (s.server.signed_requests, s.server.encrypted_requests);
    let t = s.tree();
    assert_eq!(
        s.server.signed_requests,
        signed + 1,
        "TREE_CONNECT went signed"
    );
    assert_eq!(s.server.encrypted_requests, encrypted, "and not encrypted");
    assert_eq!(transforms.get(), 1, "its answer came encrypted");
    assert!(failed_channel(&s).is_empty(), "{:?}", s.events);
    // The tree encrypts from now on; its traffic works.
    s.server.files.insert("f.bin".into(), pattern(100));
    let f = s.open(t, "f.bin", OpenOptions::new().read(true));
    assert_eq!(concat(&read_data(read(&mut s, f, 100))), pattern(100));
    assert!(
        s.server.encrypted_requests > encrypted,
        "the tree's requests are encrypted"
    );
}

/// CANCEL of a request on an encrypted tree names the tree and is encrypted ([MS-SMB2]
/// 3.2.4.24, 3.2.4.1.8).
#[test]
fn cancel_on_an_encrypted_tree_carries_the_tree_id_and_is_encrypted() {
    let mut s = Sim::new(client_config(), encrypting(true));
    s.login();
    let t = s.tree();
    let d = s.open(t, "dir", OpenOptions::create_truncate());
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::ChangeNotify).then(|| {
            let mut i = reply(h, NtStatus::PENDING);
            i.id = HeaderId::Async { async_id: 77 };
            vec![(i, error_body())]
        })
    }));
    let op = s.submit(Request::ChangeNotify {
        file: d,
        filter: 1,
        recursive: false,
        output_len: 4096,
    });
    s.run();
    let tree_wire = s.server.tree_ids["share"];
    let encrypted_before = s.server.encrypted_requests;
    s.client.cancel(op, s.now);
    s.run();
    let (_, cancel) = s
        .server
        .log
        .iter()
        .rev()
        .find(|(_, h)| h.command == Command::Cancel)
        .copied()
        .expect("a CANCEL went out");
    assert_eq!(
        s.server.encrypted_requests,
        encrypted_before + 1,
        "encrypted"
    );
    match cancel.id {
        // An async CANCEL names the AsyncId; the tree is the request's.
        HeaderId::Async { async_id } => assert_eq!(async_id, 77),
        HeaderId::Sync { tree_id, .. } => assert_eq!(tree_id, tree_wire),
    }
}

/// TRANSFORM headers that lie: another session's id, a wrong size, wrong Flags. Refused
/// before decryption; the request in flight fails with the integrity error (it is not sent
/// again into the same tampering).
#[test]
fn transform_headers_that_lie_are_refused() {
    for (what, at, value, why) in [
        (
            "session",
            4 + 44,
            0x7777u64.to_le_bytes().to_vec(),
            "the header names another session",
        ),
        (
            "size",
            4 + 36,
            5u32.to_le_bytes().to_vec(),
            "OriginalMessageSize does not match the frame",
        ),
        (
            "flags",
            4 + 42,
            2u16.to_le_bytes().to_vec(),
            "Flags is not 0x0001 (encrypted)",
        ),
    ] {
        let (mut s, f, _) = with_file(client_config(), encrypting(false));
        s.on_frame = Some(Box::new(move |_, fr| {
            if is_transform(fr) {
                fr[at..at + value.len()].copy_from_slice(&value);
            }
            Fate::Deliver
        }));
        let e = read(&mut s, f, 100).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Integrity(ChannelError::BadTransform(why)),
            "{what}: {e}"
        );
        assert_eq!(
            failed_channel(&s)[0],
            ChannelError::BadTransform(why),
            "{what}"
        );
    }
}

/// A correctly encrypted TRANSFORM whose message inside names another session.
#[test]
fn an_encrypted_message_for_another_session_is_refused() {
    let (mut s, f, _) = with_file(client_config(), encrypting(false));
    s.server.forge = Some(Box::new(|h, msg| {
        if h.command == Command::Read {
            msg[40..48].copy_from_slice(&0x0BAD_u64.to_le_bytes());
        }
        Forge::Normal
    }));
    let e = read(&mut s, f, 100).unwrap_err();
    let why = ChannelError::BadTransform("the message inside names another session");
    assert_eq!(e.kind, ErrorKind::Integrity(why.clone()), "{e}");
    assert!(failed_channel(&s).contains(&why));
}

/// A bit flipped in the ciphertext: the AEAD tag refuses it.
#[test]
fn a_tampered_ciphertext_does_not_decrypt() {
    let (mut s, f, _) = with_file(client_config(), encrypting(false));
    s.on_frame = Some(Box::new(|_, fr| {
        if is_transform(fr) {
            let n = fr.len();
            fr[n - 1] ^= 1;
        }
        Fate::Deliver
    }));
    let e = read(&mut s, f, 100).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Integrity(ChannelError::DecryptFailed),
        "{e}"
    );
    assert!(s.client.stats().malformed >= 1, "the refusal is counted");
}

/// A TRANSFORM before any session exists reads as what it is, not "access denied".
#[test]
fn a_transform_before_any_session_is_a_protocol_error() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.on_frame = Some(Box::new(|_, fr| {
        if command_of(fr) == Some(Command::Negotiate) {
            fr[4] = 0xFD; // a TRANSFORM where the NEGOTIATE answer was
        }
        Fate::Deliver
    }));
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert!(
        e.to_string().contains("no encryption was negotiated")
            || e.to_string().contains("TRANSFORM"),
        "{e}"
    );
    assert!(s.client.stats().malformed >= 1, "the refusal is counted");
}

// ---------------------------------------------------------------------------------------
// Guest
// ---------------------------------------------------------------------------------------

/// A wrong password that the server maps to guest (`map to guest = bad password`) is a
/// logon failure, unless the caller opted in.
#[test]
fn a_wrong_password_mapped_to_guest_is_a_logon_failure() {
    let server = ServerConfig {
        allow_guest: true,
        ..ServerConfig::default()
    };
    let wrong = || NtlmAuthenticator::new(NtlmCredentials::password("", USER, "wrong"));
    let mut s = Sim::with_auth(client_config(), server.clone(), wrong());
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::LogonFailure, "{e}");
    assert!(e.to_string().contains("guest"), "{e}");
    assert_eq!(s.server.count(Command::TreeConnect), 0);

    let mut s = Sim::with_auth(
        client_config().with_allow_guest_fallback(true),
        server,
        wrong(),
    );
    match s.login() {
        Response::Connected { guest, signing, .. } => assert!(guest && !signing),
        r => panic!("{r:?}"),
    }
}

/// A relay sets SMB2_SESSION_FLAG_IS_GUEST on the real final SESSION_SETUP response: the
/// client must not fall back to an unsigned session (and sends no TREE_CONNECT).
#[test]
fn a_relay_setting_is_guest_gets_no_unsigned_request() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.server.forge = Some(Box::new(|h, msg| {
        if h.command == Command::SessionSetup && h.status == NtStatus::SUCCESS {
            // SessionFlags at 64 + 2.
            msg[66] |= SessionFlags::IS_GUEST as u8;
        }
        Forge::Normal
    }));
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::LogonFailure, "{e}");
    assert!(s.submit_fails_or_never_sends(Command::TreeConnect));
}

/// A guest session on a server that requires signing is refused (it cannot sign).
#[test]
fn a_guest_session_where_the_server_requires_signing_is_refused() {
    let mut s = Sim::with_auth(
        client_config(),
        ServerConfig {
            allow_guest: true,
            require_signing: true,
            ..ServerConfig::default()
        },
        NtlmAuthenticator::guest(),
    );
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::SigningRequired, "{e}");
}

// ---------------------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------------------

fn read_data(r: Result<Response, OpError>) -> Vec<Bytes> {
    match r {
        Ok(Response::Read { data, .. }) => data,
        r => panic!("{r:?}"),
    }
}

/// A READ answer longer than asked (the hostile server's filler) is a protocol error: none
/// of it is returned. Both for a single READ and for a split one.
#[test]
fn a_read_answer_longer_than_asked_is_refused() {
    for len in [100u32, 3 << 20] {
        let (mut s, f, _) = with_file(client_config(), ServerConfig::default());
        s.server.files.insert("f.bin".into(), pattern(4 << 20));
        s.server.script = Some(Box::new(|h, msg| {
            use smb_core::wire::Decode;
            (h.command == Command::Read).then(|| {
                let r = smb_core::wire::read::ReadRequest::decode(msg).unwrap();
                let filler = vec![0xAA; r.length as usize + 1000];
                vec![(
                    reply(h, NtStatus::SUCCESS),
                    body(&ReadResponse {
                        data: &filler,
                        data_remaining: 0,
                        flags: 0,
                    }),
                )]
            })
        }));
        let e = read(&mut s, f, len).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Protocol("READ returned more data than asked for"),
            "{len}: {e}"
        );
    }
}

/// Short READ answers before the end of the file are not the end: the client reads the
/// rest and returns the whole range.
#[test]
fn short_reads_are_read_again_for_the_rest() {
    let (mut s, f, _) = with_file(client_config(), ServerConfig::default());
    let data = pattern(300_000);
    s.server.files.insert("f.bin".into(), data.clone());
    let served = data.clone();
    s.server.script = Some(Box::new(move |h, msg| {
        use smb_core::wire::Decode;
        (h.command == Command::Read).then(|| {
            let r = smb_core::wire::read::ReadRequest::decode(msg).unwrap();
            let start = r.offset as usize;
            if start >= served.len() {
                return vec![(reply(h, NtStatus::END_OF_FILE), error_body())];
            }
            // Half of what was asked (at least one byte), never past the end.
            let n = ((r.length as usize) / 2).max(1).min(served.len() - start);
            vec![(
                reply(h, NtStatus::SUCCESS),
                body(&ReadResponse {
                    data: &served[start..start + n],
                    data_remaining: 0,
                    flags: 0,
                }),
            )]
        })
    }));
    let got = concat(&read_data(read(&mut s, f, 300_000)));
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the file came back whole and in order");
}

/// A server that answers READ with zero bytes and success, again and again, is broken:
/// a protocol error, never a silently empty file.
#[test]
fn zero_byte_successful_reads_are_a_protocol_error() {
    let (mut s, f, _) = with_file(client_config(), ServerConfig::default());
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::Read).then(|| {
            vec![(
                reply(h, NtStatus::SUCCESS),
                body(&ReadResponse {
                    data: &[],
                    data_remaining: 0,
                    flags: 0,
                }),
            )]
        })
    }));
    let e = read(&mut s, f, 100).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Protocol(_)), "{e}");
    assert!(e.to_string().contains("no data"), "{e}");
}

/// WRITE answers that acknowledge less than sent: the rest is sent again; the file ends up
/// whole.
#[test]
fn short_writes_are_sent_again_for_the_rest() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "w.bin", OpenOptions::create_truncate());
    let store = std::sync::Arc::new(std::sync::Mutex::new(vec![0u8; 200_000]));
    let st = store.clone();
    s.server.script = Some(Box::new(move |h, msg| {
        use smb_core::wire::Decode;
        (h.command == Command::Write).then(|| {
            let w = smb_core::wire::write::WriteRequest::decode(msg).unwrap();
            let take = (w.data.len() / 2).max(1);
            let off = w.offset as usize;
            st.lock().unwrap()[off..off + take].copy_from_slice(&w.data[..take]);
            vec![(
                reply(h, NtStatus::SUCCESS),
                body(&WriteResponse {
                    count: take as u32,
                    remaining: 0,
                }),
            )]
        })
    }));
    let data = pattern(200_000);
    let r = s
        .op(Request::Write {
            file: f,
            offset: 0,
            data: Bytes::from(data.clone()),
        })
        .unwrap();
    assert_eq!(r, Response::Written { count: 200_000 });
    assert!(*store.lock().unwrap() == data);
}

/// A WRITE acknowledged for more bytes than were sent is a protocol error.
#[test]
fn a_write_acknowledged_for_more_than_sent_is_refused() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "w.bin", OpenOptions::create_truncate());
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::Write).then(|| {
            vec![(
                reply(h, NtStatus::SUCCESS),
                body(&WriteResponse {
                    count: 1 << 30,
                    remaining: 0,
                }),
            )]
        })
    }));
    let e = s
        .op(Request::Write {
            file: f,
            offset: 0,
            data: Bytes::from(vec![1u8; 1000]),
        })
        .unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Protocol(_)), "{e}");
}

/// [MS-SMB2] 3.2.5.2: a server offering MaxReadSize 0 (or anything below 64 KiB) is refused
/// at NEGOTIATE instead of turning a file into millions of one-byte READs.
#[test]
fn max_read_size_below_64_kib_is_refused() {
    for max in [0u32, 1, 65535] {
        let mut s = Sim::new(
            client_config(),
            ServerConfig {
                max_read: max,
                ..ServerConfig::default()
            },
        );
        let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
        s.run();
        let e = s.done.remove(&op).unwrap().unwrap_err();
        assert!(
            e.to_string().contains("MaxReadSize below 64 KiB"),
            "{max}: {e}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Credits
// ---------------------------------------------------------------------------------------

/// Every request's CreditCharge as [MS-SMB2] 3.2.4.1.5 says (checked by the server), over a
/// mix of commands with large buffers.
#[test]
fn credit_charges_follow_the_spec_for_every_command() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "c.bin", OpenOptions::create_truncate());
    s.op(Request::Write {
        file: f,
        offset: 0,
        data: Bytes::from(pattern(3 << 20)),
    })
    .unwrap();
    s.op(Request::Read {
        file: f,
        offset: 0,
        len: 3 << 20,
    })
    .unwrap();
    s.op(Request::QueryInfo {
        file: f,
        info_type: 1,
        class: 5,
        additional: 0,
        output_len: 1 << 20,
    })
    .unwrap();
    s.op(Request::Flush { file: f }).unwrap();
    s.op(Request::Echo).unwrap();
    assert!(s.server.count(Command::Read) >= 3);
    assert_eq!(
        s.server.charge_violations,
        vec![],
        "every charge as the spec says"
    );
    // The large requests were charged by payload (a 1 MiB piece is 16 credits).
    assert!(
        s.server
            .headers
            .iter()
            .any(|h| h.command == Command::Read && h.credit_charge == 16)
    );
    assert!(
        s.server
            .headers
            .iter()
            .filter(|h| h.command == Command::QueryInfo)
            .all(|h| h.credit_charge == 1)
    );
}

/// A small MaxWriteSize splits writes to it, each piece charged for its size.
#[test]
fn a_small_max_write_size_splits_writes() {
    let mut s = Sim::new(
        client_config(),
        ServerConfig {
            max_write: 65536,
            ..ServerConfig::default()
        },
    );
    s.login();
    let t = s.tree();
    let f = s.open(t, "c.bin", OpenOptions::create_truncate());
    let data = pattern(300_000);
    s.op(Request::Write {
        file: f,
        offset: 0,
        data: Bytes::from(data.clone()),
    })
    .unwrap();
    let writes: Vec<_> = s
        .server
        .headers
        .iter()
        .filter(|h| h.command == Command::Write)
        .collect();
    assert_eq!(writes.len(), 5, "300,000 bytes in 64 KiB pieces");
    assert!(writes.iter().all(|h| h.credit_charge == 1));
    assert_eq!(s.server.files["c.bin"], data);
    assert_eq!(s.server.charge_violations, vec![]);
}

impl Sim {
    /// No TREE_CONNECT was ever sent (a refused login sends nothing more).
    fn submit_fails_or_never_sends(&mut self, c: Command) -> bool {
        self.server.count(c) == 0
    }
}

/// A stream that cannot be cut into frames: before the first login it ends the connect with
/// that error (no reconnect is tried: the server is not one to log in to); after it, the
/// channel is replaced and the session recovers. Both are counted as malformed, and a
/// framing error reported for a channel that is already gone is only counted as stale.
#[test]
fn framing_errors_end_the_login_or_replace_the_channel() {
    use smb_core::wire::DecodeError;
    let bad = || DecodeError::BadField {
        field: "ProtocolId",
        value: 0x48,
    };
    // Before the first login.
    let mut s = Sim::new(client_config(), ServerConfig::default());
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    s.client.handle_framing_error(ChannelId(0), bad(), s.now);
    s.run_for(smb_core::time::Duration::from_secs(5));
    let e = s
        .done
        .remove(&op)
        .expect("the connect completed")
        .unwrap_err();
    // Nothing SMB2 was heard on the channel yet: "not an SMB2/3 server".
    assert!(
        matches!(e.kind, ErrorKind::Channel(ChannelError::NotSmb2(_))),
        "{e:?}"
    );
    assert_eq!(s.client.stats().malformed, 1);
    assert!(
        !s.events
            .iter()
            .any(|e| matches!(e, Event::Recovery(RecoveryEvent::Started { .. }))),
        "no reconnect before the first login: {:?}",
        s.events
    );
    // After it.
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    s.client.handle_framing_error(ChannelId(0), bad(), s.now);
    s.run_for(smb_core::time::Duration::from_secs(5));
    assert_eq!(s.client.stats().malformed, 1);
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, Event::Recovery(RecoveryEvent::Restored { .. }))),
        "the session came back on a new channel: {:?}",
        s.events
    );
    let stale = s.client.stats().stale_inputs;
    s.client.handle_framing_error(ChannelId(0), bad(), s.now);
    assert_eq!(s.client.stats().stale_inputs, stale + 1, "counted as stale");
    assert_eq!(s.client.stats().malformed, 1, "not as malformed");
}

/// On a named pipe (a tree of ShareType PIPE) a READ is one request returning at most one
/// message: STATUS_BUFFER_OVERFLOW is data with more to come (`eof` false), a short answer
/// ends the message (`eof` true) and is never read again for the rest.
#[test]
fn pipe_reads_are_one_message() {
    let mut cfg = ServerConfig::default();
    cfg.shares.push("IPC$".into());
    let mut s = Sim::new(client_config(), cfg);
    s.login();
    let t = match s
        .op(Request::TreeConnect {
            share: "IPC$".into(),
        })
        .unwrap()
    {
        Response::TreeConnected {
            tree, share_type, ..
        } => {
            assert_eq!(share_type, 2);
            tree
        }
        r => panic!("{r:?}"),
    };
    let f = s.open(t, "srvsvc", OpenOptions::read_write());
    let reads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reads.clone();
    // A 100-byte message: the first READ gets 60 bytes and BUFFER_OVERFLOW, the next the
    // last 40 with SUCCESS.
    s.server.script = Some(Box::new(move |h, msg| {
        use smb_core::wire::Decode;
        (h.command == Command::Read).then(|| {
            let r = smb_core::wire::read::ReadRequest::decode(msg).unwrap();
            let mut seen = seen.lock().unwrap();
            seen.push(r.length);
            let (status, data) = if seen.len() == 1 {
                (NtStatus::BUFFER_OVERFLOW, vec![1u8; r.length as usize])
            } else {
                (NtStatus::SUCCESS, vec![2u8; 40])
            };
            vec![(
                reply(h, status),
                body(&ReadResponse {
                    data: &data,
                    data_remaining: 0,
                    flags: 0,
                }),
            )]
        })
    }));
    let read = |s: &mut Sim, len| {
        s.op(Request::Read {
            file: f,
            offset: 0,
            len,
        })
        .unwrap()
    };
    let Response::Read { data, eof } = read(&mut s, 60) else {
        panic!()
    };
    assert_eq!((data.concat().len(), eof), (60, false));
    // Asking for far more than is left (and than one READ carries): one request, 40 bytes.
    let Response::Read { data, eof } = read(&mut s, 4 << 20) else {
        panic!()
    };
    assert_eq!((data.concat(), eof), (vec![2u8; 40], true));
    assert_eq!(
        reads.lock().unwrap().len(),
        2,
        "{:?}",
        reads.lock().unwrap()
    );
}

/// 3.1.1 signs whenever the server supports signing, even when neither side requires it
/// (`sign_if_supported`, default on; [MS-SMB2] 3.2.5.3.1 leaves Session.SigningRequired to
/// the client then); the opt-out and dialects below 3.1.1 stay unsigned but for the one
/// request the spec always signs (3.1.1 TREE_CONNECT; 3.0.x FSCTL_VALIDATE_NEGOTIATE_INFO,
/// 3.2.5.5).
#[test]
fn signs_by_default_on_311_when_the_server_only_enables_signing() {
    for (dialect, sign_if_supported, signed) in [
        (Dialect::Smb311, true, true),
        (Dialect::Smb311, false, false),
        (Dialect::Smb302, true, false),
    ] {
        let config = client_config().with_sign_if_supported(sign_if_supported);
        let server = ServerConfig {
            dialect,
            ..ServerConfig::default()
        };
        let mut s = Sim::new(config, server);
        match s.login() {
            Response::Connected { signing, .. } => assert_eq!(signing, signed, "{dialect:?}"),
            r => panic!("{r:?}"),
        }
        let tree = s.tree();
        let f = s.open(tree, "d.bin", OpenOptions::create_truncate());
        s.op(Request::Flush { file: f }).unwrap();
        // The server counted the signed requests it received (and verified them).
        if signed {
            assert!(s.server.signed_requests >= 3, "{dialect:?}");
            assert_eq!(s.server.bad_client_signatures, 0);
        } else {
            assert_eq!(s.server.signed_requests, 1, "{dialect:?}");
        }
    }
}
