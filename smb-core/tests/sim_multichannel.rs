//! Multichannel in simulation: discovery, binding (signed with the session's key, the
//! channel's own key from its exchange), requests spread over the channels, and the loss of
//! one channel of several (the session stays; what was in flight is replayed elsewhere; the
//! channel is bound again).

mod sim;

use bytes::Bytes;
use sim::*;
use smb_core::client::*;
use smb_core::state::{AnyState, ChannelState, SessionState};
use smb_core::time::Duration;
use smb_core::wire::{Command, HeaderFlags, NtStatus};

fn mc_server(dialect: Dialect) -> ServerConfig {
    ServerConfig {
        dialect,
        multichannel: true,
        require_signing: true,
        ..ServerConfig::default()
    }
}

fn mc_client(n: usize) -> ClientConfig {
    client_config()
        .with_max_channels(n)
        .with_channel_addrs(multichannel::loopback_only)
}

/// Logged in, tree connected, extra channels bound, one file of `size` bytes open.
fn setup(dialect: Dialect, channels: usize, size: usize) -> (Sim, TreeId, FileHandle) {
    let mut s = Sim::new(mc_client(channels), mc_server(dialect));
    s.login();
    let t = s.tree();
    s.server.files.insert("f.bin".into(), pattern(size));
    let f = s.open(t, "f.bin", OpenOptions::read_write());
    s.run_for(Duration::from_secs(1));
    (s, t, f)
}

/// SESSION_SETUPs that started a new session.
fn new_sessions(s: &Sim) -> usize {
    s.server.previous_session_ids.len()
}

/// The session never left Good once it got there.
fn session_stayed_good(s: &Sim) -> bool {
    let mut good = false;
    for (o, from, _to) in s.transitions() {
        if o == ObjectRef::Session {
            if good && from == AnyState::Session(SessionState::Good) {
                return false;
            }
            good = true;
        }
    }
    true
}

fn binding_trace_is_complete(s: &Sim, ch: ChannelId) {
    let trace: Vec<(AnyState, AnyState)> = s
        .transitions()
        .into_iter()
        .filter(|(o, _, _)| *o == ObjectRef::Channel(ch))
        .map(|(_, f, t)| (f, t))
        .collect();
    use ChannelState::*;
    let want: Vec<(AnyState, AnyState)> = [
        (New, NeedNegotiate),
        (NeedNegotiate, InNegotiate),
        (InNegotiate, NeedSessSetup),
        (NeedSessSetup, InSessSetup),
        (InSessSetup, Good),
    ]
    .into_iter()
    .map(|(a, b)| (AnyState::Channel(a), AnyState::Channel(b)))
    .collect();
    assert_eq!(trace[..want.len()], want[..], "{ch}: {trace:?}");
}

fn binds_and_spreads(dialect: Dialect) {
    let (mut s, _t, f) = setup(dialect, 2, 0);
    assert_eq!(s.server.interface_queries, 1);
    assert_eq!(s.client.interfaces().len(), 2);
    // Only loopback: the reported 192.0.2.7 is never asked for.
    assert!(
        s.connect_addrs.iter().all(|a| a.0 == "127.0.0.1:445"),
        "{:?}",
        s.connect_addrs
    );
    assert_eq!(s.client.channels().len(), 2);
    for (_, st) in s.client.channels() {
        assert_eq!(st, ChannelState::Good);
    }
    let extra = ChannelId(1);
    binding_trace_is_complete(&s, extra);
    assert!(s.events.contains(&Event::ChannelBound { channel: extra }));
    assert_eq!(s.server.bound, vec![extra]);
    // Every binding leg signed with the session's key; everything verified server-side.
    assert!(!s.server.bind_requests.is_empty());
    assert!(
        s.server
            .bind_requests
            .iter()
            .all(|(c, signed)| *c == extra && *signed),
        "{:?}",
        s.server.bind_requests
    );
    assert_eq!(new_sessions(&s), 1);
    assert_eq!(s.server.count_on(extra, Command::Negotiate), 1);
    assert_eq!(s.server.count_on(extra, Command::TreeConnect), 0);
    let setups: Vec<_> = s
        .server
        .log
        .iter()
        .filter(|(c, h)| *c == extra && h.command == Command::SessionSetup)
        .collect();
    assert!(
        setups
            .iter()
            .all(|(_, h)| h.session_id == s.client.session_id())
    );
    assert!(setups.iter().all(|(_, h)| h.flags.has(HeaderFlags::SIGNED)));
    // Traffic spreads: an 8 MiB write and read use both channels.
    let data = pattern(8 << 20);
    let r = s
        .op(Request::Write {
            file: f,
            offset: 0,
            data: Bytes::from(data.clone()),
        })
        .unwrap();
    assert_eq!(r, Response::Written { count: 8 << 20 });
    assert!(s.server.files["f.bin"] == data);
    let Response::Read { data: got, .. } = s
        .op(Request::Read {
            file: f,
            offset: 0,
            len: 8 << 20,
        })
        .unwrap()
    else {
        panic!()
    };
    assert!(concat(&got) == data, "reassembled in order");
    for ch in [ChannelId(0), extra] {
        assert!(s.server.count_on(ch, Command::Write) > 0, "{ch} wrote");
        assert!(s.server.count_on(ch, Command::Read) > 0, "{ch} read");
    }
    assert_eq!(s.server.bad_client_signatures, 0);
    assert_eq!(s.server.window_violations, 0);
    let stats = s.client.channel_stats();
    assert_eq!(stats.len(), 2);
    for st in &stats {
        assert_eq!(st.state, ChannelState::Good);
        assert!(st.bytes_sent > 1 << 20, "{st:?}");
        assert!(st.bytes_received > 1 << 20, "{st:?}");
        assert!(st.requests_sent > 0);
    }
    assert!(stats.iter().any(|c| c.bound));
    assert!(session_stayed_good(&s));
    assert_eq!(s.client.stats().channels_bound, 1);
}

#[test]
fn binds_a_second_channel_on_311_and_spreads_io() {
    binds_and_spreads(Dialect::Smb311);
}

#[test]
fn binds_a_second_channel_on_302_and_spreads_io() {
    binds_and_spreads(Dialect::Smb302);
}

#[test]
fn binds_up_to_max_channels() {
    let (s, _t, _f) = setup(Dialect::Smb311, 4, 0);
    assert_eq!(s.client.channels().len(), 4);
    assert_eq!(s.server.bound.len(), 3);
    assert_eq!(new_sessions(&s), 1);
    assert_eq!(s.server.count(Command::TreeConnect), 1);
}

#[test]
fn no_multichannel_without_the_server_capability() {
    let mut s = Sim::new(
        mc_client(4),
        ServerConfig {
            multichannel: false,
            ..ServerConfig::default()
        },
    );
    s.login();
    let _t = s.tree();
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.client.channels().len(), 1);
    assert_eq!(s.server.interface_queries, 0);
    assert!(s.server.bind_requests.is_empty());
}

#[test]
fn four_channels_by_default_when_offered() {
    let mut s = Sim::new(client_config(), mc_server(Dialect::Smb311));
    s.login();
    let _t = s.tree();
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.client.channels().len(), 4);
    assert_eq!(s.server.interface_queries, 1);
    assert_eq!(
        s.server.bind_requests.len(),
        6,
        "three bindings of two legs each"
    );
}

#[test]
fn one_channel_when_asked_for_one() {
    let mut s = Sim::new(
        client_config().with_max_channels(1),
        mc_server(Dialect::Smb311),
    );
    s.login();
    let _t = s.tree();
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.client.channels().len(), 1);
    assert_eq!(s.server.interface_queries, 0);
}

#[test]
fn a_refused_binding_leaves_the_session_alone_and_is_not_retried() {
    let mut s = Sim::new(
        mc_client(2),
        ServerConfig {
            refuse_binding: Some(NtStatus::NOT_SUPPORTED),
            ..mc_server(Dialect::Smb311)
        },
    );
    s.login();
    let t = s.tree();
    s.run_for(Duration::from_secs(30));
    assert_eq!(s.server.bind_requests.len(), 1, "asked once");
    assert_eq!(s.client.channels().len(), 1);
    assert_eq!(s.client.stats().bind_failures, 1);
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::ChannelFailed {
            error: ChannelError::BindRefused(NtStatus::NOT_SUPPORTED),
            ..
        }
    )));
    assert!(session_stayed_good(&s));
    s.server.files.insert("x".into(), pattern(100));
    let f = s.open(t, "x", OpenOptions::new().read(true));
    assert!(
        s.op(Request::Read {
            file: f,
            offset: 0,
            len: 100
        })
        .is_ok()
    );
    assert_eq!(new_sessions(&s), 1);
}

#[test]
fn a_bad_signature_on_the_final_binding_response_drops_only_that_channel() {
    let mut s = Sim::new(mc_client(2), mc_server(Dialect::Smb311));
    // Tamper with the extra channel's final SESSION_SETUP (SUCCESS) response.
    s.on_frame = Some(Box::new(|ch, fr| {
        if ch == ChannelId(1)
            && fr.get(4 + 12) == Some(&(Command::SessionSetup as u8))
            && fr[4 + 8..4 + 12] == [0, 0, 0, 0]
        {
            fr[4 + 48] ^= 1; // the signature
        }
        Fate::Deliver
    }));
    s.login();
    let _t = s.tree();
    s.run_for(Duration::from_millis(10));
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::ChannelFailed {
            channel: ChannelId(1),
            error: ChannelError::BadSignature(Command::SessionSetup),
        }
    )));
    assert!(session_stayed_good(&s));
    assert_eq!(new_sessions(&s), 1);
    assert_eq!(s.client.session_state(), SessionState::Good);
}

fn cut_mid_io(dialect: Dialect, victim: ChannelId, write: bool) {
    let size = 16 << 20;
    let (mut s, _t, f) = setup(dialect, 2, if write { 0 } else { size });
    assert_eq!(s.client.channels().len(), 2);
    let tcons = s.server.count(Command::TreeConnect);
    let cmd = if write { Command::Write } else { Command::Read };
    let mut seen = 0;
    s.on_frame = Some(Box::new(move |ch, fr| {
        if ch == victim && fr.get(4) == Some(&0xFE) && fr.get(4 + 12) == Some(&(cmd as u8)) {
            seen += 1;
            if seen == 3 {
                return Fate::Cut;
            }
        }
        Fate::Deliver
    }));
    let data = pattern(size);
    let r = if write {
        s.op(Request::Write {
            file: f,
            offset: 0,
            data: Bytes::from(data.clone()),
        })
    } else {
        s.op(Request::Read {
            file: f,
            offset: 0,
            len: size as u32,
        })
    };
    match r.unwrap() {
        Response::Written { count } => {
            assert_eq!(count as usize, size);
            assert!(s.server.files["f.bin"] == data, "every byte, in place");
        }
        Response::Read { data: got, .. } => assert!(concat(&got) == data),
        r => panic!("{r:?}"),
    }
    assert!(
        s.events.iter().any(|e| matches!(
            e,
            Event::ChannelFailed { channel, .. } if *channel == victim
        )),
        "the channel was cut"
    );
    assert_eq!(new_sessions(&s), 1, "the session was not set up again");
    assert_eq!(
        s.server.count(Command::TreeConnect),
        tcons,
        "no TREE_CONNECT"
    );
    assert!(session_stayed_good(&s));
    assert_eq!(s.client.stats().reconnects, 0);
    assert!(s.client.stats().replayed > 0, "lost pieces replayed");
    let replays: Vec<_> = s
        .server
        .log
        .iter()
        .filter(|(_, h)| h.command == cmd && h.flags.has(HeaderFlags::REPLAY_OPERATION))
        .collect();
    assert!(!replays.is_empty());
    assert!(replays.iter().all(|(c, _)| *c != victim));
    // The lost channel is bound again in the background.
    s.run_for(Duration::from_secs(2));
    assert_eq!(s.client.channels().len(), 2);
    assert_eq!(s.server.bound.len(), 2);
    for (_, st) in s.client.channels() {
        assert_eq!(st, ChannelState::Good);
    }
    assert_eq!(new_sessions(&s), 1);
    assert_eq!(s.server.bad_client_signatures, 0);
}

#[test]
fn cutting_the_extra_channel_mid_read_loses_nothing() {
    cut_mid_io(Dialect::Smb311, ChannelId(1), false);
}

#[test]
fn cutting_the_extra_channel_mid_write_loses_nothing() {
    cut_mid_io(Dialect::Smb311, ChannelId(1), true);
}

#[test]
fn cutting_the_first_channel_mid_write_loses_nothing() {
    cut_mid_io(Dialect::Smb311, ChannelId(0), true);
}

#[test]
fn cutting_a_channel_on_302_mid_read_loses_nothing() {
    cut_mid_io(Dialect::Smb302, ChannelId(1), false);
}

#[test]
fn losing_every_channel_sets_the_session_up_again_then_binds_again() {
    let (mut s, _t, f) = setup(Dialect::Smb311, 2, 1 << 20);
    assert_eq!(s.client.channels().len(), 2);
    s.cut_all();
    s.run_for(Duration::from_secs(3));
    assert_eq!(new_sessions(&s), 2, "one re-establishment");
    assert_eq!(s.client.stats().reconnects, 1);
    assert_eq!(
        s.client.channels().len(),
        2,
        "bound again after the recovery"
    );
    for (_, st) in s.client.channels() {
        assert_eq!(st, ChannelState::Good);
    }
    let Response::Read { data, .. } = s
        .op(Request::Read {
            file: f,
            offset: 0,
            len: 1 << 20,
        })
        .unwrap()
    else {
        panic!()
    };
    assert!(concat(&data) == pattern(1 << 20));
    assert_eq!(s.server.bad_client_signatures, 0);
}

#[test]
fn a_cut_during_binding_only_retries_the_binding() {
    let mut s = Sim::new(mc_client(2), mc_server(Dialect::Smb311));
    s.login();
    let _t = s.tree();
    // Cut the extra channel at its first SESSION_SETUP response, twice.
    let mut cuts = 0;
    s.on_frame = Some(Box::new(move |ch, fr| {
        if ch.0 >= 1 && fr.get(4 + 12) == Some(&(Command::SessionSetup as u8)) && cuts < 2 {
            cuts += 1;
            return Fate::Cut;
        }
        Fate::Deliver
    }));
    s.run_for(Duration::from_secs(5));
    assert_eq!(s.client.channels().len(), 2);
    assert_eq!(s.server.bound.len(), 1);
    assert_eq!(new_sessions(&s), 1);
    assert!(session_stayed_good(&s));
    assert_eq!(s.client.stats().reconnects, 0);
}

#[test]
fn address_policies() {
    use smb_core::wire::ioctl::{NetworkInterfaceInfo, SockAddr};
    let ifs = [
        NetworkInterfaceInfo {
            if_index: 1,
            capability: 0,
            link_speed: 0,
            address: SockAddr::V4 {
                addr: std::net::Ipv4Addr::new(192, 0, 2, 7),
                port: 0,
            },
        },
        NetworkInterfaceInfo {
            if_index: 2,
            capability: 0,
            link_speed: 0,
            address: SockAddr::V4 {
                addr: std::net::Ipv4Addr::new(127, 0, 0, 2),
                port: 0,
            },
        },
        NetworkInterfaceInfo {
            if_index: 3,
            capability: 0,
            link_speed: 0,
            address: SockAddr::V6 {
                addr: std::net::Ipv6Addr::LOCALHOST,
                port: 0,
                flow_info: 0,
                scope_id: 0,
            },
        },
    ];
    let first = ServerAddr::from("127.0.0.1:4455");
    assert_eq!(
        multichannel::same_address(&first, &ifs),
        vec![first.clone()]
    );
    assert_eq!(
        multichannel::loopback_only(&first, &ifs),
        vec![
            ServerAddr::from("127.0.0.2:4455"),
            ServerAddr::from("[::1]:4455")
        ]
    );
    assert_eq!(
        multichannel::loopback_only(&first, &ifs[..1]),
        vec![first.clone()]
    );
    // Values only (nothing connects here).
    assert_eq!(
        multichannel::same_family(&first, &ifs),
        vec![
            ServerAddr::from("192.0.2.7:4455"),
            ServerAddr::from("127.0.0.2:4455")
        ]
    );
    assert_eq!(
        multichannel::same_family(&ServerAddr::from("[::1]:445"), &ifs),
        vec![ServerAddr::from("[::1]:445")]
    );
    assert_eq!(
        multichannel::loopback_only(&ServerAddr::from("localhost"), &ifs[1..2]),
        vec![ServerAddr::from("127.0.0.2:445")]
    );
}

/// [MS-SMB2] 3.2.5.12: a WRITE answered STATUS_FILE_NOT_AVAILABLE (the server still counts
/// requests of an older ChannelSequence) is replayed, marked REPLAY_OPERATION, after a
/// pause; pieces sent for the first time are never marked as replays.
#[test]
fn writes_answered_file_not_available_are_replayed() {
    let (mut s, _t, f) = setup(Dialect::Smb311, 2, 0);
    s.server.cfg.not_available_writes = 3;
    s.server.writes.clear();
    let data = pattern(4 << 20);
    let op = s.submit(Request::Write {
        file: f,
        offset: 0,
        data: Bytes::from(data.clone()),
    });
    s.run_for(Duration::from_secs(5));
    let r = s.done.remove(&op).expect("completed").unwrap();
    assert_eq!(r, Response::Written { count: 4 << 20 });
    assert_eq!(s.server.files["f.bin"], data, "every byte landed once");
    let replays = s.server.writes.iter().filter(|(_, r)| *r).count();
    assert_eq!(
        replays, 3,
        "each refused piece replayed once: {:?}",
        s.server.writes
    );
    // Four 1 MiB pieces plus three replays; the first tries were plain.
    assert_eq!(s.server.writes.len(), 7, "{:?}", s.server.writes);
    let mut firsts = std::collections::BTreeSet::new();
    for (off, replay) in &s.server.writes {
        if firsts.insert(*off) {
            assert!(!replay, "the first WRITE at {off} is not a replay");
        }
    }
}

/// A server that keeps answering STATUS_FILE_NOT_AVAILABLE: the write ends with that status
/// after a bounded number of replays, it does not loop. (Without multichannel or persistent
/// handles negotiated the status is the answer at once.)
#[test]
fn file_not_available_forever_ends_the_write() {
    let (mut s, _t, f) = setup(Dialect::Smb311, 2, 0);
    s.server.cfg.not_available_writes = u32::MAX;
    s.server.writes.clear();
    let op = s.submit(Request::Write {
        file: f,
        offset: 0,
        data: Bytes::from(pattern(1 << 20)),
    });
    s.run_for(Duration::from_secs(60));
    let e = s.done.remove(&op).expect("completed").unwrap_err();
    assert_eq!(e.status, Some(NtStatus::FILE_NOT_AVAILABLE), "{e}");
    // The first try and 64 replays.
    assert_eq!(
        s.server.writes.len(),
        65,
        "{} WRITEs",
        s.server.writes.len()
    );
}

/// Four channels, N reads in flight, every channel cut at once: one re-establishment (one
/// new session), one TREE_CONNECT, one reclaim of the open, every read right, the extra
/// channels bound again, nothing stuck.
fn all_four_cut_with_reads_in_flight(n: usize) {
    let piece = 256 << 10;
    let (mut s, _t, f) = setup(Dialect::Smb311, 4, n * piece);
    assert_eq!(s.client.channels().len(), 4);
    let tcons = s.server.count(Command::TreeConnect);
    let creates = s.server.count(Command::Create);
    let ops: Vec<_> = (0..n)
        .map(|i| {
            s.submit(Request::Read {
                file: f,
                offset: (i * piece) as u64,
                len: piece as u32,
            })
        })
        .collect();
    s.cut_all();
    s.run_for(Duration::from_secs(10));
    let all = pattern(n * piece);
    for (i, op) in ops.iter().enumerate() {
        let Response::Read { data, .. } = s.done.remove(op).expect("completed").unwrap() else {
            panic!("read {i}")
        };
        assert!(
            concat(&data) == all[i * piece..(i + 1) * piece],
            "read {i}: the right bytes"
        );
    }
    assert_eq!(new_sessions(&s), 2, "one re-establishment");
    assert_eq!(s.client.stats().reconnects, 1);
    assert_eq!(
        s.server.count(Command::TreeConnect),
        tcons + 1,
        "one TREE_CONNECT"
    );
    assert_eq!(s.server.count(Command::Create), creates + 1, "one reclaim");
    assert_eq!(s.client.stats().reopened, 1);
    assert_eq!(s.client.channels().len(), 4, "bound again");
    for (_, st) in s.client.channels() {
        assert_eq!(st, ChannelState::Good, "nothing stuck");
    }
    assert_eq!(s.server.bad_client_signatures, 0);
}

#[test]
fn all_four_cut_with_16_reads_in_flight() {
    all_four_cut_with_reads_in_flight(16);
}

#[test]
fn all_four_cut_with_64_reads_in_flight() {
    all_four_cut_with_reads_in_flight(64);
}

/// Every channel cut while the third binding is in flight: the session is set up again
/// once, the bindings start over on the new session, four channels in the end.
#[test]
fn all_cut_while_a_binding_is_in_flight() {
    let mut s = Sim::new(mc_client(4), mc_server(Dialect::Smb311));
    let mut setups = 0;
    let mut fired = false;
    s.on_frame = Some(Box::new(move |ch, fr| {
        if ch.0 >= 1 && fr.get(4 + 12) == Some(&(Command::SessionSetup as u8)) && !fired {
            setups += 1;
            // Two legs per binding: the fifth SESSION_SETUP frame is the third binding's.
            if setups == 5 {
                fired = true;
                return Fate::CutAll;
            }
        }
        Fate::Deliver
    }));
    s.login();
    let _t = s.tree();
    s.run_for(Duration::from_secs(10));
    assert_eq!(
        s.client.stats().channels_bound,
        5,
        "two bindings, then three again"
    );
    assert_eq!(new_sessions(&s), 2, "one re-establishment");
    assert_eq!(s.client.stats().reconnects, 1);
    assert_eq!(s.client.channels().len(), 4);
    for (_, st) in s.client.channels() {
        assert_eq!(st, ChannelState::Good, "nothing stuck");
    }
}

/// Cut during the first session's setup: the connect fails or succeeds on a new connection,
/// but never leaves extra channels or a half-set-up session behind.
#[test]
fn a_cut_during_the_first_session_setup() {
    let mut s = Sim::new(mc_client(4), mc_server(Dialect::Smb311));
    let mut cut = false;
    s.on_frame = Some(Box::new(move |_ch, fr| {
        if fr.get(4 + 12) == Some(&(Command::SessionSetup as u8)) && !cut {
            cut = true;
            return Fate::Cut;
        }
        Fate::Deliver
    }));
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    s.run_for(Duration::from_secs(30));
    match s.done.remove(&op).expect("the connect completed") {
        Ok(_) => {
            let _t = s.tree();
            s.run_for(Duration::from_secs(5));
            assert_eq!(s.client.channels().len(), 4);
            for (_, st) in s.client.channels() {
                assert_eq!(st, ChannelState::Good);
            }
        }
        Err(e) => {
            assert!(e.is_retryable(), "{e}");
            assert!(s.client.channels().len() <= 1, "no extra channels");
        }
    }
}

/// A framing error in the middle of a re-authentication (the session was established, so
/// this is not the first login) on one channel of two: that channel fails and is dropped,
/// the other stays Good, and the session is not given up, nor are the operations waiting
/// for it failed with the framing error. (Ending the login is only for the first one,
/// before any session existed.)
#[test]
fn a_framing_error_mid_reauthentication_fails_only_that_channel() {
    let (mut s, _t, f) = setup(Dialect::Smb311, 2, 100);
    assert_eq!(s.client.channels().len(), 2);
    // The next READ is answered STATUS_NETWORK_SESSION_EXPIRED: a re-authentication starts
    // on its channel ([MS-SMB2] 3.2.5.1.7)...
    let expired = std::rc::Rc::new(std::cell::Cell::new(false));
    let once = expired.clone();
    s.server.script = Some(Box::new(move |h, _| {
        (h.command == Command::Read && !once.get()).then(|| {
            once.set(true);
            vec![(reply(h, NtStatus::NETWORK_SESSION_EXPIRED), error_body())]
        })
    }));
    // ...and its SESSION_SETUP answer arrives with a broken direct-TCP prefix.
    let hit = std::rc::Rc::new(std::cell::Cell::new(None));
    let seen = hit.clone();
    s.on_frame = Some(Box::new(move |ch, fr| {
        if seen.get().is_none() && fr.get(4 + 12) == Some(&(Command::SessionSetup as u8)) {
            seen.set(Some(ch));
            fr[0] = 0xFF; // the prefix's first byte must be zero ([MS-SMB2] 2.1)
        }
        Fate::Deliver
    }));
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 100,
    });
    s.run();
    assert!(expired.get(), "the session expired");
    let victim = hit.get().expect("a re-authentication went out");
    let other = ChannelId(1 - victim.0);
    let failed: Vec<(ChannelId, ChannelError)> = s
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ChannelFailed { channel, error } => Some((*channel, error.clone())),
            _ => None,
        })
        .collect();
    assert!(
        matches!(&failed[..], [(c, ChannelError::Malformed(_))] if *c == victim),
        "only the re-authenticating channel fails: {failed:?}"
    );
    assert_eq!(s.client.channel_state(other), Some(ChannelState::Good));
    assert!(
        !s.saw(|e| matches!(e, Event::Recovery(RecoveryEvent::GaveUp { .. }))),
        "the session is not given up: {:?}",
        s.events
    );
    assert!(
        !s.done.get(&op).is_some_and(|r| r.is_err()),
        "the READ waiting for the session is not failed with the framing error: {:?}",
        s.done.get(&op)
    );
}
