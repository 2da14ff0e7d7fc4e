//! Simulations of the second engine round: tree connect single-flight, negotiate validation,
//! break policy, error messages, unresponsive servers, and the operations not covered by
//! sim_basic (directory pages, notify, locks, set info, ioctl, cancel by AsyncId, compound
//! errors, split reads out of order).

#[path = "../sim/mod.rs"]
mod sim;

use bytes::Bytes;
use sim::*;
use smb_core::auth::{NtlmAuthenticator, NtlmCredentials};
use smb_core::client::*;
use smb_core::state::{ChannelState, TreeState};
use smb_core::time::Duration;
use smb_core::wire::header::HeaderId;
use smb_core::wire::{Command, FileId, Guid, Header, HeaderFlags, NtStatus};
use std::sync::{Arc, Mutex};

fn tc(s: &mut Sim, share: &str) -> OpId {
    s.submit(Request::TreeConnect {
        share: share.into(),
    })
}

fn tree_of(r: &Result<Response, OpError>) -> TreeId {
    match r {
        Ok(Response::TreeConnected { tree, .. }) => *tree,
        r => panic!("{r:?}"),
    }
}

fn count(s: &Sim, c: Command) -> usize {
    s.server.seen.iter().filter(|x| **x == c).count()
}

// ---------------------------------------------------------------------------------------
// 1. Tree connect
// ---------------------------------------------------------------------------------------

#[test]
fn two_tree_connects_in_flight_get_their_own_tree_ids() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    s.server.hold = true;
    let a = tc(&mut s, "a");
    let b = tc(&mut s, "b");
    s.run();
    assert_eq!(s.server.held.len(), 2);
    // Answers in the opposite order of the requests.
    s.release(|h| h.reverse());
    let ta = tree_of(&s.done.remove(&a).unwrap());
    let tb = tree_of(&s.done.remove(&b).unwrap());
    assert_ne!(ta, tb);
    // Each handle uses the wire TreeId the server gave to its share.
    s.open(ta, "in-a", OpenOptions::create_truncate());
    s.open(tb, "in-b", OpenOptions::create_truncate());
    let wa = s.server.tree_ids["a"];
    let wb = s.server.tree_ids["b"];
    assert_ne!(wa, wb);
    assert!(s.server.creates.contains(&(wa, "in-a".into())));
    assert!(s.server.creates.contains(&(wb, "in-b".into())));
}

#[test]
fn same_share_twice_at_once_sends_one_tree_connect() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    s.server.hold = true;
    let first = tc(&mut s, "share");
    let second = tc(&mut s, "SHARE"); // share names are case-insensitive
    s.run();
    assert_eq!(count(&s, Command::TreeConnect), 1, "single-flight");
    s.release(|_| {});
    let t1 = tree_of(&s.done.remove(&first).unwrap());
    let t2 = tree_of(&s.done.remove(&second).unwrap());
    assert_eq!(t1, t2, "same share, same TreeId");
    // Already connected: completes at once, nothing on the wire.
    let third = tc(&mut s, "share");
    s.run();
    assert_eq!(tree_of(&s.done.remove(&third).unwrap()), t1);
    assert_eq!(count(&s, Command::TreeConnect), 1);
    // One InTcon -> Good transition for the tree.
    let goods = s
        .transitions()
        .iter()
        .filter(|(o, _, t)| {
            *o == ObjectRef::Tree(t1) && *t == smb_core::state::AnyState::Tree(TreeState::Good)
        })
        .count();
    assert_eq!(goods, 1);
    // Three uses: the TREE_DISCONNECT goes out with the last one only.
    for i in 0..3 {
        assert_eq!(
            s.op(Request::TreeDisconnect { tree: t1 }).unwrap(),
            Response::TreeDisconnected
        );
        let expect = usize::from(i == 2);
        assert_eq!(count(&s, Command::TreeDisconnect), expect, "after {i}");
    }
    // A new connect of the share after the last disconnect sends a new TREE_CONNECT.
    let again = tc(&mut s, "share");
    s.run();
    assert!(s.done.remove(&again).unwrap().is_ok());
    assert_eq!(count(&s, Command::TreeConnect), 2);
}

#[test]
fn cancelling_the_tree_connect_owner_hands_the_exchange_to_a_waiter() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    s.server.hold = true;
    let first = tc(&mut s, "share");
    let second = tc(&mut s, "share");
    s.run();
    s.client.cancel(first, s.now);
    s.run();
    assert_eq!(
        s.done.remove(&first).unwrap().unwrap_err().kind,
        ErrorKind::Cancelled
    );
    s.release(|_| {});
    let t = tree_of(&s.done.remove(&second).unwrap());
    assert_eq!(count(&s, Command::TreeConnect), 1);
    s.open(t, "f", OpenOptions::create_truncate());
}

#[test]
fn failed_tree_connect_fails_every_waiter_and_names_the_share() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    s.server.hold = true;
    let a = tc(&mut s, "nope");
    let b = tc(&mut s, "nope");
    s.run();
    s.release(|_| {});
    for op in [a, b] {
        let e = s.done.remove(&op).unwrap().unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadShare);
        let msg = e.to_string();
        assert!(msg.contains("\\\\testsrv\\nope"), "{msg}");
        assert!(msg.contains("not found"), "{msg}");
    }
    assert_eq!(count(&s, Command::TreeConnect), 1);
    // Not stuck: a later attempt sends a new TREE_CONNECT.
    let c = tc(&mut s, "nope");
    s.run();
    assert!(s.done.remove(&c).unwrap().is_err());
    assert_eq!(count(&s, Command::TreeConnect), 2);
}

// ---------------------------------------------------------------------------------------
// 2. FSCTL_VALIDATE_NEGOTIATE_INFO
// ---------------------------------------------------------------------------------------

fn server(d: Dialect) -> ServerConfig {
    ServerConfig {
        dialect: d,
        ..ServerConfig::default()
    }
}

#[test]
fn validate_negotiate_on_30_and_302_only() {
    for d in [
        Dialect::Smb202,
        Dialect::Smb210,
        Dialect::Smb300,
        Dialect::Smb302,
        Dialect::Smb311,
    ] {
        let mut s = Sim::new(client_config(), server(d));
        s.login();
        let t = s.tree();
        let expect = matches!(d, Dialect::Smb300 | Dialect::Smb302);
        assert_eq!(s.server.validates.len(), usize::from(expect), "{d:?}");
        if expect {
            let v = &s.server.validates[0];
            assert_eq!(v.guid, Guid([5; 16]));
            assert_eq!(
                v.dialects,
                vec![0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
                "what NEGOTIATE offered"
            );
            assert_eq!(v.security_mode, 1);
            assert!(v.capabilities & 0x40 != 0, "ENCRYPTION capability as sent");
            // Signed although the session does not require signing.
            let h = s
                .server
                .headers
                .iter()
                .find(|h| h.command == Command::Ioctl)
                .unwrap();
            assert!(h.flags.has(HeaderFlags::SIGNED), "{d:?}");
            assert_eq!(s.server.bad_client_signatures, 0);
            // Once per tree connect; the tree works.
            s.open(t, "x", OpenOptions::create_truncate());
        }
    }
}

/// With reconnect on, the operations of a silent server wait for the reconnect, whose
/// attempts meet the same silence; they fail when the recovery gives up, naming it.
#[test]
fn silent_server_with_reconnect_fails_when_the_recovery_gives_up() {
    let cfg = client_config()
        .with_request_timeout(Duration::from_secs(3600))
        .with_echo_interval(Some(std::time::Duration::from_secs(10)))
        .with_unresponsive_timeout(Some(std::time::Duration::from_secs(20)))
        .with_reconnect_give_up(Some(std::time::Duration::from_secs(60)));
    let mut s = Sim::new(cfg, ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "x", OpenOptions::create_truncate());
    s.server.hold = true; // the server goes silent, on every connection
    let start = s.now;
    let r = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 10,
    });
    s.run_for(Duration::from_secs(200));
    let err = s.done.remove(&r).expect("failed, not hung").unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServerGone, "{err}");
    assert!(err.to_string().contains("gave up reconnecting"), "{err}");
    assert!(
        s.now - start <= Duration::from_secs(20 + 60 + 20),
        "{:?}",
        s.now - start
    );
    assert!(s.connects.len() >= 2, "it tried to reconnect");
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, Event::Recovery(RecoveryEvent::GaveUp { .. })))
    );
}

#[test]
fn validate_negotiate_mismatch_drops_the_channel_as_a_downgrade() {
    for (tamper, status, unsigned) in [
        (true, None, false),
        (false, Some(NtStatus::ACCESS_DENIED), false),
        (false, None, true),
    ] {
        let mut s = Sim::new(
            client_config(),
            ServerConfig {
                dialect: Dialect::Smb302,
                validate_tamper: tamper,
                validate_status: status,
                validate_unsigned: unsigned,
                ..ServerConfig::default()
            },
        );
        s.login();
        let op = tc(&mut s, "share");
        s.run();
        let e = s.done.remove(&op).unwrap().unwrap_err();
        assert_eq!(s.client.channel_state(ChannelId(0)), None);
        if unsigned {
            // An unsigned answer to a signed request is refused before it is looked at.
            assert_eq!(
                e.kind,
                ErrorKind::Integrity(ChannelError::Unsigned(Command::Ioctl)),
                "{e}"
            );
            assert!(e.to_string().contains("tampered"), "{e}");
            continue;
        }
        assert_eq!(e.kind, ErrorKind::Downgrade, "{e}");
        assert!(e.to_string().contains("downgrade"), "{e}");
        assert!(s.events.iter().any(|e| matches!(
            e,
            Event::ChannelFailed {
                error: ChannelError::Downgrade,
                ..
            }
        )));
        assert!(s.closed);
    }
}

#[test]
fn validate_negotiate_tolerates_servers_without_the_fsctl() {
    for st in [
        NtStatus::NOT_SUPPORTED,
        NtStatus::INVALID_DEVICE_REQUEST,
        NtStatus::FILE_CLOSED,
    ] {
        let mut s = Sim::new(
            client_config(),
            ServerConfig {
                dialect: Dialect::Smb300,
                validate_status: Some(st),
                ..ServerConfig::default()
            },
        );
        s.login();
        let t = s.tree();
        s.open(t, "ok", OpenOptions::create_truncate());
        assert_eq!(s.server.validates.len(), 1);
    }
    // Disabled by configuration: nothing sent.
    let mut s = Sim::new(
        client_config().with_validate_negotiate(false),
        server(Dialect::Smb300),
    );
    s.login();
    s.tree();
    assert!(s.server.validates.is_empty());
}

mod breaks_errors_timeouts;
mod operations;
