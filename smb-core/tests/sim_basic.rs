//! Simulations: the client against the scripted in-memory server, virtual time.

mod sim;

use bytes::Bytes;
use sim::*;
use smb_core::auth::NtlmAuthenticator;
use smb_core::auth::NtlmCredentials;
use smb_core::client::*;
use smb_core::state::{AnyState, ChannelState, SessionState, TreeState};
use smb_core::time::Duration;
use smb_core::wire::Command;

fn chan(s: ChannelState) -> AnyState {
    AnyState::Channel(s)
}

#[test]
fn login_on_every_dialect_with_the_expected_transition_trace() {
    for d in [
        Dialect::Smb202,
        Dialect::Smb210,
        Dialect::Smb300,
        Dialect::Smb302,
        Dialect::Smb311,
    ] {
        let mut s = Sim::new(
            client_config(),
            ServerConfig {
                dialect: d,
                ..ServerConfig::default()
            },
        );
        match s.login() {
            Response::Connected { dialect, guest, .. } => {
                assert_eq!(dialect, d);
                assert!(!guest);
            }
            r => panic!("{r:?}"),
        }
        let ch: Vec<_> = s
            .transitions()
            .into_iter()
            .filter(|(o, _, _)| *o == ObjectRef::Channel(ChannelId(0)))
            .map(|(_, f, t)| (f, t))
            .collect();
        assert_eq!(
            ch,
            vec![
                (chan(ChannelState::New), chan(ChannelState::NeedNegotiate)),
                (
                    chan(ChannelState::NeedNegotiate),
                    chan(ChannelState::InNegotiate)
                ),
                (
                    chan(ChannelState::InNegotiate),
                    chan(ChannelState::NeedSessSetup)
                ),
                (
                    chan(ChannelState::NeedSessSetup),
                    chan(ChannelState::InSessSetup)
                ),
                (chan(ChannelState::InSessSetup), chan(ChannelState::Good)),
            ],
            "{d:?}"
        );
        let sess: Vec<_> = s
            .transitions()
            .into_iter()
            .filter(|(o, _, _)| *o == ObjectRef::Session)
            .map(|(_, f, t)| (f, t))
            .collect();
        assert_eq!(
            sess,
            vec![
                (
                    AnyState::Session(SessionState::New),
                    AnyState::Session(SessionState::InSetup)
                ),
                (
                    AnyState::Session(SessionState::InSetup),
                    AnyState::Session(SessionState::Good)
                ),
            ]
        );
        // Exactly one NEGOTIATE; NEGOTIATE < SESSION_SETUP.
        assert_eq!(
            s.server
                .seen
                .iter()
                .filter(|c| **c == Command::Negotiate)
                .count(),
            1
        );
        assert_eq!(s.server.seen[0], Command::Negotiate);
        // A tree connect and a write/read round trip on each dialect.
        let tree = s.tree();
        let f = s.open(tree, "a.txt", OpenOptions::create_truncate());
        let data = Bytes::from(pattern(200_000));
        let w = s
            .op(Request::Write {
                file: f,
                offset: 0,
                data: data.clone(),
            })
            .unwrap();
        assert_eq!(w, Response::Written { count: 200_000 });
        match s
            .op(Request::Read {
                file: f,
                offset: 0,
                len: 300_000,
            })
            .unwrap()
        {
            Response::Read { data: got, eof } => {
                assert!(eof);
                assert_eq!(concat(&got), data.to_vec(), "{d:?}");
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(s.op(Request::Close { file: f }).unwrap(), Response::Closed);
        assert_eq!(s.server.bad_client_signatures, 0);
        assert_eq!(
            s.server.window_violations, 0,
            "{d:?}: sent outside the credit window"
        );
        // 3.1.1: TREE_CONNECT is signed even without required signing (peer-lessons #6).
        if d == Dialect::Smb311 {
            assert!(s.server.signed_requests >= 1);
        }
    }
}

#[test]
fn signing_required_with_each_algorithm() {
    let cases = [
        (Dialect::Smb210, None),
        (Dialect::Smb300, None),
        (Dialect::Smb311, Some(SigningAlgorithm::AesCmac)),
        (Dialect::Smb311, Some(SigningAlgorithm::AesGmac)),
        (Dialect::Smb311, Some(SigningAlgorithm::HmacSha256)),
    ];
    for (d, alg) in cases {
        let mut cfg = client_config().with_require_signing(true);
        if let Some(a) = alg {
            cfg = cfg.with_signing_algorithms(vec![a]);
        }
        let mut s = Sim::new(
            cfg,
            ServerConfig {
                dialect: d,
                // On 3.1.1 the server picks the one algorithm offered, HMAC-SHA256 included
                // (SIGNING_CAPABILITIES, [MS-SMB2] 2.2.3.1.7).
                signing: alg,
                require_signing: true,
                ..ServerConfig::default()
            },
        );
        let expected = alg.unwrap_or(if d == Dialect::Smb210 {
            SigningAlgorithm::HmacSha256
        } else {
            SigningAlgorithm::AesCmac
        });
        match s.login() {
            Response::Connected {
                signing,
                signing_algorithm,
                ..
            } => {
                assert!(signing);
                assert_eq!(signing_algorithm, Some(expected), "{d:?}");
            }
            r => panic!("{r:?}"),
        }
        let tree = s.tree();
        let f = s.open(tree, "s.bin", OpenOptions::create_truncate());
        let data = Bytes::from(pattern(70_000));
        s.op(Request::Write {
            file: f,
            offset: 0,
            data: data.clone(),
        })
        .unwrap();
        let Response::Read { data: got, .. } = s
            .op(Request::Read {
                file: f,
                offset: 0,
                len: 70_000,
            })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(concat(&got), data.to_vec());
        assert!(s.server.signed_requests >= 4, "{d:?} {alg:?}");
        assert_eq!(s.server.bad_client_signatures, 0, "{d:?} {alg:?}");
        assert!(s.client.stats().signed_sent >= 4);
        // And the other direction: the client checked the server's signatures.
        assert!(
            s.client.stats().verified_responses >= 4,
            "{d:?} {alg:?}: {:?}",
            s.client.stats()
        );
    }
}

#[test]
fn encryption_round_trip_with_each_cipher() {
    for c in [
        Cipher::Aes128Gcm,
        Cipher::Aes256Gcm,
        Cipher::Aes128Ccm,
        Cipher::Aes256Ccm,
    ] {
        let mut s = Sim::new(
            client_config()
                .with_require_encryption(true)
                .with_ciphers(vec![c]),
            ServerConfig {
                cipher: Some(c),
                ..ServerConfig::default()
            },
        );
        match s.login() {
            Response::Connected { encryption, .. } => assert!(encryption, "{c:?}"),
            r => panic!("{r:?}"),
        }
        let tree = s.tree();
        let f = s.open(tree, "e.bin", OpenOptions::create_truncate());
        let data = Bytes::from(pattern(150_000));
        s.op(Request::Write {
            file: f,
            offset: 0,
            data: data.clone(),
        })
        .unwrap();
        let Response::Read { data: got, .. } = s
            .op(Request::Read {
                file: f,
                offset: 0,
                len: 150_000,
            })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(concat(&got), data.to_vec(), "{c:?}");
        assert!(s.server.encrypted_requests >= 4, "{c:?}");
        assert!(s.client.stats().encrypted_sent >= 4);
    }
    // 3.0: AES-128-CCM through the capability bit.
    let mut s = Sim::new(
        client_config().with_require_encryption(true),
        ServerConfig {
            dialect: Dialect::Smb300,
            ..ServerConfig::default()
        },
    );
    match s.login() {
        Response::Connected { encryption, .. } => assert!(encryption),
        r => panic!("{r:?}"),
    }
    let _ = s.tree();
    assert!(s.server.encrypted_requests >= 1);
}

#[test]
fn encryption_required_but_unavailable_is_a_typed_error() {
    let mut s = Sim::new(
        client_config().with_require_encryption(true),
        ServerConfig {
            dialect: Dialect::Smb210,
            ..ServerConfig::default()
        },
    );
    let op = s.client.connect(ServerAddr::from("h:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::EncryptionRequired);
}

#[test]
fn wrong_password_is_logon_failure_and_session_goes_back_to_need() {
    let auth = NtlmAuthenticator::new(NtlmCredentials::password("", USER, "wrong"));
    let mut s = Sim::with_auth(client_config(), ServerConfig::default(), auth);
    let op = s.client.connect(ServerAddr::from("h:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::LogonFailure, "{e}");
    assert!(e.to_string().contains("logon"), "{e}");
    assert_ne!(s.client.session_state(), SessionState::InSetup);
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, Event::SessionFailed(_)))
    );
}

#[test]
fn guest_with_required_signing_is_refused() {
    let mut s = Sim::with_auth(
        client_config().with_require_signing(true),
        ServerConfig {
            allow_guest: true,
            ..ServerConfig::default()
        },
        NtlmAuthenticator::guest(),
    );
    let op = s.client.connect(ServerAddr::from("h:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::SigningRequired);
}

#[test]
fn pending_interim_responses_carry_the_credits() {
    // Samba grants credits in STATUS_PENDING interim responses and 0 in the final ones.
    let mut s = Sim::new(
        client_config().with_credit_target(64),
        ServerConfig {
            pending_io: true,
            max_read: 1 << 20,
            max_write: 1 << 20,
            ..ServerConfig::default()
        },
    );
    s.login();
    let tree = s.tree();
    let f = s.open(tree, "big.bin", OpenOptions::create_truncate());
    let data = Bytes::from(pattern(8 << 20));
    let w = s
        .op(Request::Write {
            file: f,
            offset: 0,
            data: data.clone(),
        })
        .unwrap();
    assert_eq!(w, Response::Written { count: 8 << 20 });
    let Response::Read { data: got, eof } = s
        .op(Request::Read {
            file: f,
            offset: 0,
            len: 8 << 20,
        })
        .unwrap()
    else {
        panic!()
    };
    assert!(!eof);
    assert_eq!(concat(&got).len(), 8 << 20);
    assert!(concat(&got) == data.to_vec());
    assert!(s.client.stats().interim_responses >= 16);
    assert_eq!(s.server.window_violations, 0);
}

#[test]
fn credit_starvation_shrinks_requests_and_recovers() {
    // The server grants at most 1 credit per response: an 8 MiB read is cut to 64 KiB pieces
    // and still completes (never waits for credits that cannot come).
    let mut s = Sim::new(
        client_config(),
        ServerConfig {
            grant_cap: 1,
            ..ServerConfig::default()
        },
    );
    s.login();
    let tree = s.tree();
    let f = s.open(tree, "x.bin", OpenOptions::create_truncate());
    let data = Bytes::from(pattern(1 << 20));
    s.op(Request::Write {
        file: f,
        offset: 0,
        data: data.clone(),
    })
    .unwrap();
    let Response::Read { data: got, .. } = s
        .op(Request::Read {
            file: f,
            offset: 0,
            len: 1 << 20,
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(concat(&got), data.to_vec());
    assert_eq!(s.server.window_violations, 0);
    // Then the server becomes generous again: the window grows back.
    s.server.cfg.grant_cap = 512;
    s.op(Request::Echo).unwrap();
    s.op(Request::Echo).unwrap();
    assert!(s.client.credits_available(ChannelId(0)).unwrap() > 100);
}

#[test]
fn responses_out_of_order_and_unknown_message_ids() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let tree = s.tree();
    let f = s.open(tree, "o.bin", OpenOptions::create_truncate());
    s.op(Request::Write {
        file: f,
        offset: 0,
        data: Bytes::from_static(b"hello world"),
    })
    .unwrap();
    s.server.hold = true;
    let a = s
        .client
        .submit(
            Request::Read {
                file: f,
                offset: 0,
                len: 5,
            },
            s.now,
        )
        .unwrap();
    let b = s
        .client
        .submit(
            Request::Read {
                file: f,
                offset: 6,
                len: 5,
            },
            s.now,
        )
        .unwrap();
    s.run();
    s.server.hold = false;
    let mut held = std::mem::take(&mut s.server.held);
    assert_eq!(held.len(), 2);
    held.reverse();
    // An unknown MessageId first: dropped and counted.
    let mut bogus = held[0].clone();
    bogus.1[4 + 24..4 + 32].copy_from_slice(&999_999u64.to_le_bytes());
    s.server.outbox.push_back(bogus);
    s.server.outbox.extend(held);
    s.run();
    assert_eq!(s.client.stats().unknown_responses, 1);
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::Dropped {
            message_id: 999_999,
            ..
        }
    )));
    let ra = s.done.remove(&a).unwrap().unwrap();
    let rb = s.done.remove(&b).unwrap().unwrap();
    assert!(matches!(ra, Response::Read { ref data, .. } if concat(data) == b"hello"));
    assert!(matches!(rb, Response::Read { ref data, .. } if concat(data) == b"world"));
    // The channel is still fine.
    s.op(Request::Echo).unwrap();
}

#[test]
fn malformed_response_fails_the_channel_with_a_typed_error() {
    // Unsigned: on a signed session the corrupted response would fail its signature first.
    let config = client_config().with_sign_if_supported(false);
    let mut s = Sim::new(config, ServerConfig::default());
    s.login();
    let tree = s.tree();
    let f = s.open(tree, "m.bin", OpenOptions::create_truncate());
    s.op(Request::Write {
        file: f,
        offset: 0,
        data: Bytes::from_static(b"abcdef"),
    })
    .unwrap();
    s.server.hold = true;
    let op = s
        .client
        .submit(
            Request::Read {
                file: f,
                offset: 0,
                len: 5,
            },
            s.now,
        )
        .unwrap();
    s.run();
    let mut held = std::mem::take(&mut s.server.held);
    // Corrupt the READ response's StructureSize.
    held[0].1[4 + 64] = 0x55;
    s.server.hold = false;
    s.server.outbox.extend(held);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Protocol(_)), "{e:?}");
    // The connection is dropped for good and a new channel replaces it.
    assert_eq!(s.client.channel_state(ChannelId(0)), None);
    assert!(s.transitions().contains(&(
        ObjectRef::Channel(ChannelId(0)),
        chan(ChannelState::Good),
        chan(ChannelState::NeedReconnect)
    )));
    assert_eq!(
        s.client.channel_state(ChannelId(1)),
        Some(ChannelState::Good)
    );
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, Event::ChannelFailed { .. }))
    );
    // A garbage frame: the channel fails, no panic.
    let mut s2 = Sim::new(client_config(), ServerConfig::default());
    s2.login();
    s2.client
        .handle_input(ChannelId(0), &[0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8], s2.now);
    s2.run();
    assert!(s2.events.iter().any(|e| matches!(
        e,
        Event::ChannelFailed {
            error: ChannelError::Malformed(_),
            ..
        }
    )));
    // The broken connection is gone (a new channel replaces it).
    assert_eq!(s2.client.channel_state(ChannelId(0)), None);
    assert!(s2.client.stats().malformed >= 1);

    // A corrupt direct-TCP prefix (first byte must be zero): a framing error, same outcome.
    let mut s3 = Sim::new(client_config(), ServerConfig::default());
    s3.login();
    s3.client
        .handle_input(ChannelId(0), &[0x42, 0, 0, 8, 1, 2, 3, 4], s3.now);
    s3.run();
    assert!(s3.events.iter().any(|e| matches!(
        e,
        Event::ChannelFailed {
            error: ChannelError::Malformed(_),
            ..
        }
    )));

    // The same through the frame-level input adapters use (Client::handle_frame).
    let mut s4 = Sim::new(client_config(), ServerConfig::default());
    s4.login();
    s4.client.handle_frame(
        ChannelId(0),
        bytes::BytesMut::from(&[0xFE, b'S', b'M', b'B', 1, 2, 3][..]),
        s4.now,
    );
    s4.run();
    assert!(s4.events.iter().any(|e| matches!(
        e,
        Event::ChannelFailed {
            error: ChannelError::Malformed(_),
            ..
        }
    )));
    assert_eq!(s4.client.channel_state(ChannelId(0)), None);
    // An SMB2 protocol id on a message too short to be one (split_chain refuses it): counted.
    assert_eq!(s4.client.stats().malformed, 1);
}

#[test]
fn compound_create_query_close_in_one_round_trip() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let tree = s.tree();
    s.server.files.insert("c.txt".into(), vec![1; 1234]);
    let frames_before = s.server.seen.len();
    let r = s
        .op(Request::Compound(vec![
            Request::Create {
                tree,
                path: "c.txt".into(),
                options: OpenOptions::metadata_only(),
            },
            Request::QueryInfo {
                file: FileHandle::RELATED,
                info_type: 1,
                class: 5,
                additional: 0,
                output_len: 1024,
            },
            Request::Close {
                file: FileHandle::RELATED,
            },
        ]))
        .unwrap();
    let Response::Compound(parts) = r else {
        panic!()
    };
    assert_eq!(parts.len(), 3);
    assert!(matches!(parts[0], Ok(Response::Created { .. })));
    match &parts[1] {
        Ok(Response::Info { data }) => {
            assert_eq!(u64::from_le_bytes(data[8..16].try_into().unwrap()), 1234)
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(parts[2], Ok(Response::Closed));
    assert_eq!(s.server.seen.len() - frames_before, 3);
    // Not found inside a compound: each member reports its own result.
    let r = s
        .op(Request::Compound(vec![
            Request::Create {
                tree,
                path: "missing".into(),
                options: OpenOptions::new().read(true),
            },
            Request::Close {
                file: FileHandle::RELATED,
            },
        ]))
        .unwrap();
    let Response::Compound(parts) = r else {
        panic!()
    };
    assert_eq!(parts[0].as_ref().unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn request_timeout_cancel_and_shutdown() {
    let mut s = Sim::new(
        client_config().with_request_timeout(Duration::from_secs(5)),
        ServerConfig::default(),
    );
    s.login();
    let tree = s.tree();
    s.server.hold = true;
    let op = s.client.submit(Request::Echo, s.now).unwrap();
    let deadline = s.run().expect("a deadline");
    assert!(deadline <= s.now + Duration::from_secs(5));
    s.advance(Duration::from_secs(6));
    assert_eq!(
        s.done.remove(&op).unwrap().unwrap_err().kind,
        ErrorKind::TimedOut
    );
    // Cancel.
    let op = s.client.submit(Request::Echo, s.now).unwrap();
    s.run();
    s.client.cancel(op, s.now);
    s.run();
    assert_eq!(
        s.done.remove(&op).unwrap().unwrap_err().kind,
        ErrorKind::Cancelled
    );
    assert!(s.server.seen.contains(&Command::Cancel));
    // Late responses still return their credits and are not "unknown".
    s.server.hold = false;
    let held = std::mem::take(&mut s.server.held);
    s.server.outbox.extend(held);
    s.run();
    assert_eq!(s.client.stats().unknown_responses, 0);
    // Shutdown: pending ops fail, trees and session exit, nothing after.
    s.server.hold = true;
    let op = s.client.submit(Request::Echo, s.now).unwrap();
    s.run();
    s.client.shutdown(s.now);
    s.run();
    assert_eq!(
        s.done.remove(&op).unwrap().unwrap_err().kind,
        ErrorKind::ShutDown
    );
    assert_eq!(s.client.session_state(), SessionState::Exiting);
    assert!(
        s.transitions().iter().any(
            |(o, _, t)| *o == ObjectRef::Tree(tree) && *t == AnyState::Tree(TreeState::Exiting)
        )
    );
    assert_eq!(
        s.client.submit(Request::Echo, s.now).unwrap_err(),
        SubmitError::ShutDown
    );
    assert!(s.closed);
}

#[test]
fn requests_before_login_wait_for_the_session() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    let login = s.client.connect(ServerAddr::from("h:445"), s.now);
    // Submitted before anything was sent: queued behind the session setup.
    let t = s
        .client
        .submit(
            Request::TreeConnect {
                share: "share".into(),
            },
            s.now,
        )
        .unwrap();
    s.run();
    assert!(s.done.remove(&login).unwrap().is_ok());
    assert!(matches!(
        s.done.remove(&t).unwrap(),
        Ok(Response::TreeConnected { .. })
    ));
    let pos_ss = s
        .server
        .seen
        .iter()
        .rposition(|c| *c == Command::SessionSetup)
        .unwrap();
    let pos_tc = s
        .server
        .seen
        .iter()
        .position(|c| *c == Command::TreeConnect)
        .unwrap();
    assert!(pos_ss < pos_tc);
}

/// Backpressure in the send path: with `max_in_flight` 3, ten WRITEs submitted at once put
/// at most 3 requests on the wire while the server holds its answers; the rest wait in
/// the queue (credits would allow them) and go out as answers come back, and all complete.
#[test]
fn requests_in_flight_stay_within_max_in_flight() {
    const LIMIT: usize = 3;
    let config = client_config().with_backlog_limits(256 << 20, LIMIT, 64 << 20);
    let mut s = Sim::new(config, ServerConfig::default());
    s.login();
    let tree = s.tree();
    let f = s.open(tree, "q.bin", OpenOptions::create_truncate());
    s.server.hold = true;
    let ops: Vec<OpId> = (0..10u64)
        .map(|i| {
            let data = Bytes::from_static(b"0123456789");
            let w = Request::Write {
                file: f,
                offset: i * 10,
                data,
            };
            s.client.submit(w, s.now).unwrap()
        })
        .collect();
    s.run();
    let on_wire = s.server.held.len();
    assert!(
        (1..=LIMIT).contains(&on_wire),
        "{on_wire} requests on the wire"
    );
    for c in s.client.channel_stats() {
        assert!(c.in_flight <= LIMIT, "{c:?}");
    }
    s.server.hold = false;
    let held = std::mem::take(&mut s.server.held);
    s.server.outbox.extend(held);
    s.run();
    for op in ops {
        let r = s.done.remove(&op).expect("completed");
        assert!(matches!(r, Ok(Response::Written { .. })), "{r:?}");
    }
    // Every answer was counted (the login's, the open's and the ten WRITEs').
    assert!(s.client.stats().responses_received >= 10);
}

/// STATUS_STOPPED_ON_SYMLINK: the symbolic link error response ([MS-SMB2] 2.2.2.2.1) reaches
/// the caller in `OpError::symlink`; a malformed one leaves it empty and the status stands.
#[test]
fn stopped_on_symlink_hands_the_link_to_the_caller() {
    use smb_core::wire::NtStatus;
    use smb_core::wire::error::SymlinkError;
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let tree = s.tree();
    let link = SymlinkError {
        unparsed_path_length: 8,
        substitute_name: "\\??\\C:\\real".into(),
        print_name: "C:\\real".into(),
        flags: 0,
    };
    let mut data = Vec::new();
    link.encode(&mut data);
    s.server.symlinks.push(("dir\\f.txt".into(), data.clone()));
    let open = |s: &mut Sim, path: &str| {
        s.op(Request::Create {
            tree,
            path: path.into(),
            options: OpenOptions::new().read(true),
        })
        .unwrap_err()
    };
    let e = open(&mut s, "dir\\f.txt");
    assert_eq!(e.status, Some(NtStatus::STOPPED_ON_SYMLINK));
    assert_eq!(e.symlink.as_deref(), Some(&link));
    // ErrorData that is not a symlink error (wrong tag, cut short): no link, same status.
    let mut wrong_tag = data.clone();
    wrong_tag[4] ^= 0xFF;
    s.server.symlinks.push(("tag.txt".into(), wrong_tag));
    s.server
        .symlinks
        .push(("cut.txt".into(), data[..data.len() - 3].to_vec()));
    for path in ["tag.txt", "cut.txt"] {
        let e = open(&mut s, path);
        assert_eq!(e.status, Some(NtStatus::STOPPED_ON_SYMLINK), "{path}");
        assert_eq!(e.symlink, None, "{path}");
    }
    // Another error carries no link.
    assert_eq!(open(&mut s, "missing.txt").symlink, None);
}

/// The engine's own table of operations has its own bound (`max_engine_ops`), above the
/// adapters' gate (`max_queued_ops`), so that gate-exempt requests (CLOSE, TREE_DISCONNECT,
/// break acks) and background flushes are never refused as `Busy` when the gate is full.
#[test]
fn the_engine_backlog_has_its_own_bound_above_the_gate() {
    // The gate admits 1: the engine still takes more (the exempt ones).
    let config = client_config().with_max_queued_ops(1);
    assert!(config.max_engine_ops >= 2, "{}", config.max_engine_ops);
    let config = config.with_max_engine_ops(3);
    let mut s = Sim::new(config, ServerConfig::default());
    s.login();
    let tree = s.tree();
    let f = s.open(tree, "b.bin", OpenOptions::create_truncate());
    s.server.hold = true;
    let write = |i: u64| Request::Write {
        file: f,
        offset: i * 4,
        data: Bytes::from_static(b"abcd"),
    };
    let ops: Vec<OpId> = (0..3)
        .map(|i| {
            s.client
                .submit(write(i), s.now)
                .expect("within max_engine_ops")
        })
        .collect();
    assert_eq!(
        s.client.submit(write(3), s.now),
        Err(SubmitError::Busy),
        "the fourth is over max_engine_ops"
    );
    s.run();
    s.server.hold = false;
    let held = std::mem::take(&mut s.server.held);
    s.server.outbox.extend(held);
    s.run();
    for op in ops {
        let r = s.done.remove(&op).expect("completed");
        assert!(matches!(r, Ok(Response::Written { .. })), "{r:?}");
    }
    // Room again once they completed.
    assert!(s.client.submit(write(4), s.now).is_ok());
    // Raising the gate keeps the engine above it.
    let big = ClientConfig::default().with_max_queued_ops(10_000);
    assert_eq!(big.max_engine_ops, 20_000);
}

/// The per-channel byte counter counts every received byte, prefixes included, whether the
/// bytes arrive as a stream (`handle_input`) or as frames the adapter cut itself
/// (`handle_frame`, which gets the payload without its 4-byte prefix).
#[test]
fn channel_counters_count_every_received_byte() {
    use std::sync::{Arc, Mutex};
    let received = |s: &Sim| -> u64 {
        s.client
            .channel_stats()
            .iter()
            .map(|c| c.bytes_received)
            .sum()
    };
    // As a stream.
    let mut s = Sim::new(client_config(), ServerConfig::default());
    let seen = Arc::new(Mutex::new(0u64));
    let count = seen.clone();
    s.on_frame = Some(Box::new(move |_, f| {
        *count.lock().unwrap() += f.len() as u64;
        Fate::Deliver
    }));
    s.login();
    let streamed = *seen.lock().unwrap();
    assert!(streamed > 0);
    assert_eq!(received(&s), streamed);
    // As frames: the hook holds every frame back and the test hands each one over whole.
    let mut s = Sim::new(client_config(), ServerConfig::default());
    type Held = Arc<Mutex<Vec<(ChannelId, Vec<u8>)>>>;
    let held: Held = Arc::default();
    let hold = held.clone();
    s.on_frame = Some(Box::new(move |ch, f| {
        hold.lock().unwrap().push((ch, f.clone()));
        Fate::Drop
    }));
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    let mut total = 0u64;
    for _ in 0..100 {
        s.run();
        let frames = std::mem::take(&mut *held.lock().unwrap());
        if frames.is_empty() {
            break;
        }
        for (ch, f) in frames {
            total += f.len() as u64;
            let payload = bytes::BytesMut::from(&f[4..]);
            s.client.handle_frame(ch, payload, s.now);
        }
    }
    assert!(matches!(s.done.remove(&op), Some(Ok(_))), "logged in");
    assert_eq!(received(&s), total);
}

/// The silence clock stops with the last answer: a channel left idle (every request
/// answered) for far longer than `unresponsive_timeout` is still Good, and the next request
/// starts the clock afresh, so it is not declared unresponsive the moment it goes out.
#[test]
fn an_idle_channel_is_not_unresponsive_after_its_last_answer() {
    // client_config() has no ECHO: nothing but these requests crosses the connection.
    let cfg = client_config().with_unresponsive_timeout(Some(std::time::Duration::from_secs(20)));
    let mut s = Sim::new(cfg, ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "x", OpenOptions::create_truncate());
    let unresponsive = |s: &Sim| {
        s.saw(|e| {
            matches!(
                e,
                Event::ChannelFailed {
                    error: ChannelError::Unresponsive(_),
                    ..
                }
            )
        })
    };
    s.advance(Duration::from_secs(60));
    assert_eq!(
        s.client.channel_state(ChannelId(0)),
        Some(ChannelState::Good)
    );
    assert!(!unresponsive(&s), "idle is not silent: {:?}", s.events);
    // A request the server holds for 10 s, half the bound counted from when it was sent.
    s.server.hold = true;
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 10,
    });
    s.run();
    s.advance(Duration::from_secs(10));
    assert_eq!(
        s.client.channel_state(ChannelId(0)),
        Some(ChannelState::Good)
    );
    assert!(!unresponsive(&s), "{:?}", s.events);
    s.release(|_| {});
    assert!(s.done.remove(&op).expect("answered").is_ok());
    assert_eq!(s.connects.len(), 1, "the connection was never replaced");
}

/// CANCEL of a READ split into pieces, after the first piece was answered, goes to each
/// piece still in flight by its own MessageId ([MS-SMB2] 3.2.4.24), not to the answered one.
#[test]
fn cancel_after_a_partial_answer_targets_the_pieces_still_in_flight() {
    let server = ServerConfig {
        max_read: 65536,
        ..ServerConfig::default()
    };
    let (mut s, _, f) = Sim::with_open_file(
        client_config(),
        server,
        "big",
        pattern(3 * 65536),
        OpenOptions::new().read(true),
    );
    let logged = s.server.log.len();
    s.server.hold = true;
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 3 * 65536,
    });
    s.run();
    let reads: Vec<u64> = s.server.log[logged..]
        .iter()
        .filter(|(_, h)| h.command == Command::Read)
        .map(|(_, h)| h.message_id)
        .collect();
    assert_eq!(reads.len(), 3, "three pieces in flight");
    // Only the first piece is answered.
    let mut later = Vec::new();
    s.release(|held| later = held.split_off(1));
    assert_eq!(later.len(), 2);
    assert!(!s.done.contains_key(&op));
    s.client.cancel(op, s.now);
    s.run();
    let cancels: Vec<u64> = s.server.log[logged..]
        .iter()
        .filter(|(_, h)| h.command == Command::Cancel)
        .map(|(_, h)| h.message_id)
        .collect();
    assert_eq!(cancels, reads[1..], "one CANCEL per unanswered piece");
    let e = s.done.remove(&op).expect("completed").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
}

/// A compound CREATE + CLOSE answered after its operation was cancelled: the compound's own
/// CLOSE closed the handle, so the client sends no CLOSE of its own (only a lone CREATE's
/// orphaned handle is closed by the client, [MS-SMB2] 3.2.4.5).
#[test]
fn a_compound_create_answered_after_cancel_is_not_closed_twice() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let tree = s.tree();
    s.server.files.insert("c.txt".into(), vec![1; 10]);
    s.server.hold = true;
    let op = s.submit(Request::Compound(vec![
        Request::Create {
            tree,
            path: "c.txt".into(),
            options: OpenOptions::metadata_only(),
        },
        Request::Close {
            file: FileHandle::RELATED,
        },
    ]));
    s.run();
    s.client.cancel(op, s.now);
    s.run();
    assert_eq!(
        s.done.remove(&op).expect("completed").unwrap_err().kind,
        ErrorKind::Cancelled
    );
    let closes = s.server.count(Command::Close);
    s.release(|_| {});
    assert!(s.server.opens.is_empty(), "the compound closed its handle");
    assert_eq!(s.client.stats().orphaned_opens_closed, 0);
    assert_eq!(
        s.server.count(Command::Close),
        closes,
        "no CLOSE of the client's own"
    );
}

/// Bytes that arrive for a channel after shutdown (an answer already on its way when the
/// connection was closed) are dropped and counted as stale, through either input call:
/// nothing of them is read, not even to report an unknown MessageId.
#[test]
fn answers_after_shutdown_are_stale_and_not_read() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    s.server.hold = true;
    s.submit(Request::Echo);
    s.run();
    let (ch, frame) = s.server.held.pop().expect("the ECHO answer, held");
    s.client.shutdown(s.now);
    s.run();
    let before = s.client.stats();
    let events = s.events.len();
    s.client.handle_input(ch, &frame, s.now);
    let body = bytes::BytesMut::from(&frame[4..]);
    s.client.handle_frame(ch, body, s.now);
    s.run();
    let after = s.client.stats();
    assert_eq!(after.stale_inputs, before.stale_inputs + 2, "both counted");
    assert_eq!(after.responses_received, before.responses_received);
    assert_eq!(after.unknown_responses, before.unknown_responses);
    assert!(
        !s.events[events..]
            .iter()
            .any(|e| matches!(e, Event::Dropped { .. })),
        "{:?}",
        &s.events[events..]
    );
}
