//! Break policy, error messages, unresponsive servers.

use super::*;

// ---------------------------------------------------------------------------------------
// 3. Break policy
// ---------------------------------------------------------------------------------------

fn notification(s: &mut Sim, body: Vec<u8>) {
    s.notify(body);
}

fn lease_break(key: u8, ack: bool) -> Vec<u8> {
    lease_break_body([key; 16], ack)
}

fn oplock_break(volatile: u64, level: u8) -> Vec<u8> {
    use smb_core::wire::create::OplockLevel;
    use smb_core::wire::oplock_break::OplockBreak;
    body(&OplockBreak {
        oplock_level: OplockLevel::from_u8(level),
        file_id: FileId {
            persistent: volatile - 1000,
            volatile,
        },
    })
}

#[test]
fn default_policy_acks_lease_breaks_only_when_required_and_oplock_breaks() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "o", OpenOptions::create_truncate());
    // No ACK_REQUIRED: event only.
    notification(&mut s, lease_break(0x11, false));
    assert!(s.server.break_acks.is_empty());
    assert!(s.events.iter().any(
        |e| matches!(e, Event::LeaseBreak(b) if b.lease_key == [0x11; 16] && !b.ack_required)
    ));
    // ACK_REQUIRED: acked with the state asked for.
    notification(&mut s, lease_break(0x22, true));
    assert_eq!(
        s.server.break_acks,
        vec![(u128::from_le_bytes([0x22; 16]), 1)]
    );
    // Oplock break of the open file (server FileId volatile 1100): acked with the level.
    notification(&mut s, oplock_break(1100, 1));
    assert_eq!(s.server.break_acks[1], (1100, 1));
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, Event::OplockBreak { file, level: 1 } if *file == f))
    );
    assert_eq!(s.client.stats().unknown_responses, 0);
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
}

impl BreakPolicy for Recorder {
    fn lease_break(&self, b: &LeaseBreak) -> BreakAction {
        self.seen.lock().unwrap().push(format!(
            "lease {:x} {}->{}",
            b.lease_key[0], b.current, b.new
        ));
        BreakAction::Defer
    }
    fn oplock_break(&self, file: FileHandle, level: u8) -> BreakAction {
        self.seen
            .lock()
            .unwrap()
            .push(format!("oplock {} {level}", file.0));
        BreakAction::Ack(0)
    }
}

#[test]
fn custom_policy_sees_breaks_and_can_defer_the_ack() {
    let rec = Arc::new(Recorder::default());
    let mut s = Sim::new(
        client_config().with_break_policy(rec.clone()),
        ServerConfig::default(),
    );
    s.login();
    let t = s.tree();
    let f = s.open(t, "o", OpenOptions::create_truncate());
    notification(&mut s, lease_break(0x33, true));
    notification(&mut s, oplock_break(1100, 1));
    assert_eq!(
        *rec.seen.lock().unwrap(),
        vec!["lease 33 7->1".to_string(), format!("oplock {} 1", f.0)]
    );
    // Lease deferred: nothing sent; the oplock was acked with the policy's level (none).
    assert_eq!(s.server.break_acks, vec![(1100, 0)]);
    // The application acknowledges later.
    let r = s
        .op(Request::LeaseBreakAck {
            lease_key: [0x33; 16],
            state: 1,
        })
        .unwrap();
    assert_eq!(r, Response::BreakAcked { state: 1 });
    assert_eq!(s.server.break_acks[1], (u128::from_le_bytes([0x33; 16]), 1));
    let r = s.op(Request::OplockBreakAck { file: f, level: 0 }).unwrap();
    assert_eq!(r, Response::BreakAcked { state: 0 });
}

// ---------------------------------------------------------------------------------------
// 4. Error messages
// ---------------------------------------------------------------------------------------

#[test]
fn access_denied_below_30_hints_at_encryption() {
    let mut s = Sim::new(client_config(), server(Dialect::Smb210));
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::SessionSetup)
            .then(|| vec![(reply(h, NtStatus::ACCESS_DENIED), error_body())])
    }));
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied);
    let msg = e.to_string();
    assert!(
        msg.contains(
            "access denied: the server may require encryption, which needs SMB 3.0 or later"
        ),
        "{msg}"
    );
    // Wrong password stays a logon failure.
    let auth = NtlmAuthenticator::new(NtlmCredentials::password("", USER, "bad"));
    let mut s = Sim::with_auth(client_config(), server(Dialect::Smb210), auth);
    let op = s.client.connect(ServerAddr::from("h:445"), s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::LogonFailure);
    assert!(!e.to_string().contains("encryption"), "{e}");
}

#[test]
fn unreachable_server_is_server_gone_naming_the_address() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    let op = s.client.connect(ServerAddr::from("127.0.0.1:4455"), s.now);
    // The adapter could not connect.
    loop {
        match s.client.poll_output() {
            Output::Connect { channel, .. } => s.client.handle_closed(
                channel,
                CloseReason::ConnectFailed("connection refused".into()),
                s.now,
            ),
            Output::Completed { op: o, result } => {
                s.done.insert(o, result);
            }
            Output::Timeout(_) => break,
            _ => {}
        }
    }
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::ServerGone);
    let msg = e.to_string();
    assert!(msg.contains("127.0.0.1:4455"), "{msg}");
    assert!(msg.contains("connection refused"), "{msg}");
}

#[test]
fn every_error_kind_reads_well() {
    let kinds = [
        ErrorKind::NotFound,
        ErrorKind::AccessDenied,
        ErrorKind::AlreadyExists,
        ErrorKind::LogonFailure,
        ErrorKind::BadShare,
        ErrorKind::SigningRequired,
        ErrorKind::EncryptionRequired,
        ErrorKind::ServerGone,
        ErrorKind::TimedOut,
        ErrorKind::Cancelled,
        ErrorKind::InvalidHandle,
        ErrorKind::HandleLost,
        ErrorKind::InUse,
        ErrorKind::WrongType,
        ErrorKind::Unsupported,
        ErrorKind::ShutDown,
        ErrorKind::Channel(ChannelError::Unresponsive(120_000)),
        ErrorKind::Channel(ChannelError::NegotiateTimeout),
        ErrorKind::Session(SessionError::LoggedOff),
        ErrorKind::Protocol("bad thing"),
        ErrorKind::Status,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for k in kinds {
        let m = OpError::new(k.clone()).to_string();
        assert!(m.len() > 6, "{k:?}: {m}");
        assert!(!m.contains("{") && !m.contains("Some("), "{k:?}: {m}");
        assert!(seen.insert(m.clone()), "duplicate message {m}");
    }
    let e = OpError::from_status(NtStatus::OBJECT_NAME_NOT_FOUND, Command::Create);
    assert_eq!(
        e.to_string(),
        "CREATE: no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)"
    );
    assert!(
        OpError::new(ErrorKind::Channel(ChannelError::Unresponsive(120_000)))
            .to_string()
            .contains("120.000 s")
    );
}

// ---------------------------------------------------------------------------------------
// 5. Unresponsive server
// ---------------------------------------------------------------------------------------

#[test]
fn silent_server_fails_outstanding_ops_within_the_bound() {
    let cfg = client_config()
        .with_reconnect_give_up(None)
        .with_request_timeout(Duration::from_secs(3600))
        .with_echo_interval(Some(std::time::Duration::from_secs(10)))
        .with_unresponsive_timeout(Some(std::time::Duration::from_secs(20)));
    let mut s = Sim::new(cfg, ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "x", OpenOptions::create_truncate());
    s.server.hold = true; // the server goes silent
    let start = s.now;
    let r = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 10,
    });
    let e = s.submit(Request::Echo);
    s.run();
    let mut steps = 0;
    while s.done.len() < 2 {
        let next = s.client.poll_output();
        let Output::Timeout(Some(t)) = next else {
            panic!("a deadline is always pending: {next:?}");
        };
        s.now = t;
        s.client.handle_timeout(t);
        s.run();
        steps += 1;
        assert!(steps < 10);
    }
    assert!(s.now - start <= Duration::from_secs(20), "within the bound");
    for op in [r, e] {
        let err = s.done.remove(&op).unwrap().unwrap_err();
        assert_eq!(err.kind, ErrorKind::TimedOut, "{err}");
        assert!(err.to_string().contains("stopped answering"), "{err}");
    }
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::ChannelFailed {
            error: ChannelError::Unresponsive(_),
            ..
        }
    )));
}

#[test]
fn idle_channel_is_probed_by_echo_and_a_dead_server_detected() {
    let cfg = client_config()
        .with_echo_interval(Some(std::time::Duration::from_secs(10)))
        .with_unresponsive_timeout(Some(std::time::Duration::from_secs(20)));
    let mut s = Sim::new(cfg, ServerConfig::default());
    s.login();
    s.server.hold = true;
    let echoes = count(&s, Command::Echo);
    s.advance(Duration::from_secs(10));
    assert_eq!(count(&s, Command::Echo), echoes + 1);
    s.advance(Duration::from_secs(19));
    assert_eq!(
        s.client.channel_state(ChannelId(0)),
        Some(ChannelState::Good)
    );
    s.advance(Duration::from_secs(1));
    assert_eq!(s.client.channel_state(ChannelId(0)), None);
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::ChannelFailed {
            channel: ChannelId(0),
            error: ChannelError::Unresponsive(_),
        }
    )));
}

#[test]
fn a_slow_but_alive_server_is_not_unresponsive() {
    // Pending CHANGE_NOTIFY (interim received) waits without bound; the channel stays Good
    // as long as ECHO is answered.
    let cfg = client_config()
        .with_echo_interval(Some(std::time::Duration::from_secs(10)))
        .with_unresponsive_timeout(Some(std::time::Duration::from_secs(20)));
    let mut s = Sim::new(cfg, ServerConfig::default());
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
    let n = s.submit(Request::ChangeNotify {
        file: d,
        filter: 0x17,
        recursive: false,
        output_len: 4096,
    });
    s.run();
    for _ in 0..10 {
        s.advance(Duration::from_secs(10));
    }
    assert_eq!(
        s.client.channel_state(ChannelId(0)),
        Some(ChannelState::Good)
    );
    assert!(!s.done.contains_key(&n));
    assert!(count(&s, Command::Echo) >= 5);
}

#[test]
fn stalled_negotiate_times_out() {
    let mut s = Sim::new(
        client_config().with_request_timeout(Duration::from_secs(60)),
        ServerConfig::default(),
    );
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::Negotiate).then(Vec::new)
    }));
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    let deadline = s.run().expect("negotiate deadline");
    assert!(deadline <= s.now + Duration::from_secs(20));
    s.advance(Duration::from_secs(20));
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains("negotiation"), "{e}");
    assert_ne!(
        s.client.channel_state(ChannelId(0)),
        Some(ChannelState::InNegotiate)
    );
}

#[test]
fn stalled_session_setup_times_out() {
    let mut s = Sim::new(
        client_config().with_request_timeout(Duration::from_secs(30)),
        ServerConfig::default(),
    );
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::SessionSetup).then(Vec::new)
    }));
    let op = s.client.connect(ServerAddr::from("127.0.0.1:445"), s.now);
    s.run();
    s.advance(Duration::from_secs(30));
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::TimedOut, "{e}");
}
