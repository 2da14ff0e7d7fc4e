//! Reconnect in simulation: a connection is cut at every status of channel, session, tree and
//! open, once and again during the recovery, with 1, 16 and 64 operations in flight; the
//! invariants of the design are asserted from the frames the server saw and the transitions
//! the client emitted. The kernel client's reconnect bugs are named scenarios.

mod sim;

use bytes::Bytes;
use sim::*;
use smb_core::client::*;
use smb_core::state::{AnyState, ChannelState, OpenState, SessionState, TreeState};
use smb_core::time::Duration;
use smb_core::wire::{Command, HeaderFlags, NtStatus};
use std::cell::Cell;
use std::rc::Rc;

fn durable_server() -> ServerConfig {
    ServerConfig::default()
}

/// Logged in, tree connected, `n` files of `size` bytes written and open (durable).
fn setup(n: usize, size: usize) -> (Sim, TreeId, Vec<FileHandle>) {
    let mut s = Sim::new(client_config(), durable_server());
    s.login();
    let t = s.tree();
    let mut files = Vec::new();
    for i in 0..n {
        let name = format!("f{i}.bin");
        s.server.files.insert(name.clone(), pattern(size + i));
        files.push(s.open(t, &name, OpenOptions::read_write()));
    }
    (s, t, files)
}

/// The transitions of `object`, in order.
fn trace(s: &Sim, object: ObjectRef) -> Vec<(AnyState, AnyState)> {
    s.transitions()
        .into_iter()
        .filter(|(o, _, _)| *o == object)
        .map(|(_, f, t)| (f, t))
        .collect()
}

/// Nothing is left in an `In*` step, every operation completed.
fn settled(s: &Sim) {
    for (ch, st) in s.client.channels() {
        assert_eq!(st, ChannelState::Good, "{ch} stuck");
    }
    assert_eq!(s.client.session_state(), SessionState::Good);
}

/// The session setups that started a new session (SessionId 0 in the first leg).
fn new_sessions(s: &Sim) -> usize {
    s.server
        .log
        .iter()
        .filter(|(_, h)| h.command == Command::SessionSetup && h.session_id == 0)
        .count()
}

// ---------------------------------------------------------------------------------------
// The basic recovery
// ---------------------------------------------------------------------------------------

#[test]
fn a_cut_connection_comes_back_with_the_seed_trace() {
    let (mut s, t, files) = setup(1, 1000);
    let old_session = s.server.session_id;
    s.cut(ChannelId(0));
    s.run();
    // The open is reclaimed on first use (its tree came back eagerly because it has opens).
    let r = s
        .op(Request::Read {
            file: files[0],
            offset: 0,
            len: 1000,
        })
        .unwrap();
    let Response::Read { data, .. } = r else {
        panic!()
    };
    assert_eq!(concat(&data), pattern(1000));
    use AnyState::*;
    assert_eq!(
        trace(&s, ObjectRef::Channel(ChannelId(0)))[5..],
        [
            (
                Channel(ChannelState::Good),
                Channel(ChannelState::NeedReconnect)
            ),
            (
                Channel(ChannelState::NeedReconnect),
                Channel(ChannelState::Exiting)
            ),
        ]
    );
    assert_eq!(
        trace(&s, ObjectRef::Channel(ChannelId(1))),
        [
            (
                Channel(ChannelState::New),
                Channel(ChannelState::NeedNegotiate)
            ),
            (
                Channel(ChannelState::NeedNegotiate),
                Channel(ChannelState::InNegotiate)
            ),
            (
                Channel(ChannelState::InNegotiate),
                Channel(ChannelState::NeedSessSetup)
            ),
            (
                Channel(ChannelState::NeedSessSetup),
                Channel(ChannelState::InSessSetup)
            ),
            (
                Channel(ChannelState::InSessSetup),
                Channel(ChannelState::Good)
            ),
        ]
    );
    assert_eq!(
        trace(&s, ObjectRef::Session)[2..],
        [
            (
                Session(SessionState::Good),
                Session(SessionState::NeedReconnect)
            ),
            (
                Session(SessionState::NeedReconnect),
                Session(SessionState::InSetup)
            ),
            (Session(SessionState::InSetup), Session(SessionState::Good)),
        ]
    );
    assert_eq!(
        trace(&s, ObjectRef::Tree(t))[2..],
        [
            (Tree(TreeState::Good), Tree(TreeState::NeedReconnect)),
            (
                Tree(TreeState::NeedReconnect),
                Tree(TreeState::InFilesInvalidate)
            ),
            (
                Tree(TreeState::InFilesInvalidate),
                Tree(TreeState::NeedTcon)
            ),
            (Tree(TreeState::NeedTcon), Tree(TreeState::InTcon)),
            (Tree(TreeState::InTcon), Tree(TreeState::Good)),
        ]
    );
    assert_eq!(
        trace(&s, ObjectRef::Open(files[0])),
        [
            (Open(OpenState::Good), Open(OpenState::NeedReopen)),
            (Open(OpenState::NeedReopen), Open(OpenState::InReopen)),
            (Open(OpenState::InReopen), Open(OpenState::Good)),
        ]
    );
    // One of each, on the new connection; the old session named.
    let ch1 = ChannelId(1);
    assert_eq!(s.server.count_on(ch1, Command::Negotiate), 1);
    assert_eq!(s.server.count_on(ch1, Command::TreeConnect), 1);
    assert_eq!(s.server.reclaimed, 1);
    assert_eq!(s.server.previous_session_ids.last(), Some(&old_session));
    assert_eq!(s.client.stats().reconnects, 1);
    assert_eq!(s.client.stats().reopened, 1);
    assert_eq!(s.client.stats().illegal_transitions, 0);
    settled(&s);
}

/// Order on the new connection: NEGOTIATE < SESSION_SETUP < TREE_CONNECT < handle-based
/// requests (invariant 5), and nothing handle-based before the reopen.
#[test]
fn the_new_connection_carries_setup_before_anything_else() {
    let (mut s, _t, files) = setup(1, 5000);
    s.cut(ChannelId(0));
    let ops: Vec<OpId> = (0..8)
        .map(|i| {
            s.submit(Request::Read {
                file: files[0],
                offset: i * 100,
                len: 100,
            })
        })
        .collect();
    s.run();
    for op in ops {
        assert!(s.done.remove(&op).unwrap().is_ok());
    }
    let order: Vec<Command> = s
        .server
        .log
        .iter()
        .filter(|(c, _)| *c == ChannelId(1))
        .map(|(_, h)| h.command)
        .collect();
    let pos = |c: Command| order.iter().position(|x| *x == c).unwrap();
    let last_setup = order
        .iter()
        .rposition(|x| *x == Command::SessionSetup)
        .unwrap();
    assert!(pos(Command::Negotiate) < pos(Command::SessionSetup));
    assert!(last_setup < pos(Command::TreeConnect));
    assert!(
        pos(Command::TreeConnect) < pos(Command::Create),
        "{order:?}"
    );
    assert!(pos(Command::Create) < pos(Command::Read), "{order:?}");
}

// ---------------------------------------------------------------------------------------
// Data: nothing lost, nothing duplicated in the wrong place
// ---------------------------------------------------------------------------------------

/// A large WRITE cut in the middle completes, whole, after the reconnect; the pieces sent
/// again carry the REPLAY flag and the bumped ChannelSequence (3.x).
#[test]
fn a_write_cut_mid_way_completes_whole() {
    let (mut s, _t, files) = setup(1, 0);
    let data = pattern(8 << 20);
    s.cut_at_response(Command::Write, 3);
    let r = s
        .op(Request::Write {
            file: files[0],
            offset: 0,
            data: Bytes::from(data.clone()),
        })
        .unwrap();
    assert_eq!(r, Response::Written { count: 8 << 20 });
    assert!(s.server.files["f0.bin"] == data, "every byte, in place");
    let replays: Vec<_> = s
        .server
        .headers
        .iter()
        .filter(|h| h.command == Command::Write && h.flags.has(HeaderFlags::REPLAY_OPERATION))
        .collect();
    assert!(
        !replays.is_empty(),
        "pieces lost with the connection were replayed"
    );
    assert!(replays.iter().all(|h| h.channel_sequence() == 1));
    assert!(s.client.stats().replayed > 0);
}

#[test]
fn a_read_cut_mid_way_returns_the_right_bytes() {
    let (mut s, _t, files) = setup(1, 8 << 20);
    s.cut_at_response(Command::Read, 4);
    let r = s
        .op(Request::Read {
            file: files[0],
            offset: 0,
            len: 8 << 20,
        })
        .unwrap();
    let Response::Read { data, .. } = r else {
        panic!()
    };
    assert!(concat(&data) == pattern(8 << 20));
}

/// An open without a durable handle cannot be given back: its users get a clear error and
/// the client never opens the file again on its own.
#[test]
fn a_non_durable_open_is_lost_not_silently_reopened() {
    let mut s = Sim::new(client_config(), durable_server());
    s.login();
    let t = s.tree();
    s.server.files.insert("n.bin".into(), pattern(10));
    let f = s.open(
        t,
        "n.bin",
        OpenOptions::new().read(true).with_durable(false),
    );
    let creates = s.server.count(Command::Create);
    s.cut(ChannelId(0));
    s.run();
    let e = s
        .op(Request::Read {
            file: f,
            offset: 0,
            len: 10,
        })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::HandleLost, "{e}");
    assert!(e.to_string().contains("open it again"), "{e}");
    assert_eq!(
        s.server.count(Command::Create),
        creates,
        "no silent new open"
    );
    assert_eq!(s.client.stats().opens_lost, 1);
    // Closing the lost handle is fine.
    assert_eq!(s.op(Request::Close { file: f }).unwrap(), Response::Closed);
}

/// A CHANGE_NOTIFY waiting (interim STATUS_PENDING) when the connection drops: its
/// directory open is not durable, so the watch cannot be re-armed on the new session; it
/// ends with a clear error instead of waiting for ever, and nothing is opened again.
#[test]
fn a_pending_notify_across_a_reconnect_ends_with_a_clear_error() {
    use smb_core::wire::header::HeaderId;
    let mut s = Sim::new(client_config(), durable_server());
    s.login();
    let t = s.tree();
    // The sim has no directories: a plain, non-durable open stands for one.
    let d = s.open(t, "dir", OpenOptions::create_truncate().with_durable(false));
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::ChangeNotify).then(|| {
            let mut i = reply(h, NtStatus::PENDING);
            i.id = HeaderId::Async { async_id: 9 };
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
    assert!(!s.done.contains_key(&op));
    let creates = s.server.count(Command::Create);
    s.cut(ChannelId(0));
    s.run_for(Duration::from_secs(30));
    let e = s.done.remove(&op).expect("the watch ended").unwrap_err();
    assert_eq!(e.kind, ErrorKind::HandleLost, "{e}");
    assert!(e.to_string().contains("open it again"), "{e}");
    assert_eq!(s.server.count(Command::Create), creates, "no silent reopen");
    assert_eq!(s.server.count(Command::ChangeNotify), 1, "not re-armed");
    assert_eq!(s.op(Request::Close { file: d }).unwrap(), Response::Closed);
}

/// The server no longer has the durable handle (expired, or the server restarted): Lost,
/// with the server's status.
#[test]
fn a_durable_handle_the_server_forgot_is_lost() {
    let (mut s, _t, files) = setup(1, 10);
    s.cut(ChannelId(0));
    s.server.opens.clear();
    let op = s.submit(Request::Read {
        file: files[0],
        offset: 0,
        len: 10,
    });
    // The client tries a few times (the server might still be closing the old connection).
    s.run_for(Duration::from_secs(30));
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::HandleLost, "{e}");
    assert_eq!(e.status, Some(NtStatus::OBJECT_NAME_NOT_FOUND));
    assert!(e.to_string().contains("could not be reclaimed"), "{e}");
}

/// The server refuses the first reclaims (it has not finished with the old connection):
/// the client tries again after a short delay and gets the handle back.
#[test]
fn a_reclaim_refused_for_a_moment_is_tried_again() {
    let (mut s, _t, files) = setup(1, 10);
    s.server.refuse_reclaims = 2;
    s.cut(ChannelId(0));
    let op = s.submit(Request::Read {
        file: files[0],
        offset: 0,
        len: 10,
    });
    let took = s.run_for(Duration::from_secs(10));
    assert!(s.done.remove(&op).unwrap().is_ok());
    assert_eq!(s.server.reclaimed, 1);
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Refused for good: Lost after the retries, with the server's status.
    let (mut s, _t, files) = setup(1, 10);
    s.server.refuse_reclaims = 100;
    s.cut(ChannelId(0));
    let op = s.submit(Request::Read {
        file: files[0],
        offset: 0,
        len: 10,
    });
    s.run_for(Duration::from_secs(30));
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.status, Some(NtStatus::OBJECT_NAME_NOT_FOUND), "{e}");
    assert_eq!(
        s.server.refuse_reclaims,
        100 - 14,
        "one try and thirteen retries"
    );
}

/// The connection is cut again while a refused reclaim waits for its retry: the retry's
/// time passes while the tree is down, which must neither spin the run loop (a deadline
/// left in the past) nor lose the retry; the handle comes back once the tree does.
#[test]
fn a_cut_while_a_reclaim_waits_for_its_retry() {
    let (mut s, _t, files) = setup(1, 10);
    s.server.refuse_reclaims = 1;
    s.cut(ChannelId(0));
    let op = s.submit(Request::Read {
        file: files[0],
        offset: 0,
        len: 10,
    });
    // The first reclaim is refused; the retry is 200 ms away. Cut before it is due, and hold
    // the recovery back past it.
    s.run();
    assert_eq!(s.server.refuse_reclaims, 0, "the first reclaim was refused");
    s.cut_all();
    s.server.hold = true;
    s.run_for(Duration::from_millis(600));
    s.release(|_| {});
    s.run_for(Duration::from_secs(10));
    assert!(
        s.done.remove(&op).unwrap().is_ok(),
        "read after the reclaim"
    );
    assert_eq!(s.server.reclaimed, 1);
}

/// A request that changes the server and was in flight when the connection went is not
/// sent again blindly: a retryable error that says so.
#[test]
fn a_non_idempotent_request_in_flight_fails_retryably() {
    let (mut s, _t, files) = setup(1, 10);
    s.server.hold = true;
    let op = s.submit(Request::SetInfo {
        file: files[0],
        info_type: 1,
        class: 20,
        additional: 0,
        data: Bytes::from(vec![0u8; 8]),
    });
    s.run();
    s.server.hold = false;
    s.cut(ChannelId(0));
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("may or may not"), "{e}");
}

// ---------------------------------------------------------------------------------------
// The fault matrix
// ---------------------------------------------------------------------------------------

/// Where the second cut hits: the first time the recovery reaches this status.
#[derive(Clone, Copy, Debug)]
enum Again {
    Never,
    Channel(ChannelState),
    Session(SessionState),
    Tree(TreeState),
    Open(OpenState),
}

fn matches_status(e: &Event, again: Again) -> bool {
    let Event::Transition { to, .. } = e else {
        return false;
    };
    match (again, to) {
        (Again::Channel(s), AnyState::Channel(t)) => s == *t,
        (Again::Session(s), AnyState::Session(t)) => s == *t,
        (Again::Tree(s), AnyState::Tree(t)) => s == *t,
        (Again::Open(s), AnyState::Open(t)) => s == *t,
        _ => false,
    }
}

/// `n` operations in flight (reads of every open, a write, a stat compound), the connection
/// cut, and cut again when the recovery reaches `again`.
fn matrix_case(n: usize, again: Again) {
    let files_n = n.clamp(1, 8);
    let (mut s, t, files) = setup(files_n, 3000);
    let fired = Rc::new(Cell::new(false));
    let armed = Rc::new(Cell::new(false));
    let (f2, a2) = (fired.clone(), armed.clone());
    s.cut_when = Some(Box::new(move |e| {
        if a2.get() && !f2.get() && matches_status(e, again) {
            f2.set(true);
            return true;
        }
        false
    }));
    let mut ops = Vec::new();
    for i in 0..n {
        let f = files[i % files_n];
        let r = match i % 4 {
            0 | 1 => Request::Read {
                file: f,
                offset: (i as u64 % 7) * 10,
                len: 200,
            },
            2 => Request::Write {
                file: f,
                offset: 3000 + (i as u64) * 10,
                data: Bytes::from(vec![i as u8; 10]),
            },
            _ => Request::Compound(vec![
                Request::Create {
                    tree: t,
                    path: format!("f{}.bin", i % files_n),
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
            ]),
        };
        ops.push((i, s.submit(r)));
    }
    // Cut while they are in flight (answers held back), then again during the recovery.
    s.server.hold = true;
    s.run();
    s.server.hold = false;
    s.server.held.clear();
    armed.set(true);
    let sessions_before = new_sessions(&s);
    s.cut(ChannelId(0));
    s.run_for(Duration::from_secs(30));
    let label = format!("n={n} again={again:?}");
    if !matches!(again, Again::Never) {
        assert!(fired.get(), "{label}: the second cut happened");
    }
    for (i, op) in ops {
        let r = s
            .done
            .remove(&op)
            .unwrap_or_else(|| panic!("{label}: op {i} never completed"));
        let r = r.unwrap_or_else(|e| panic!("{label}: op {i}: {e}"));
        if i % 4 < 2 {
            let Response::Read { data, .. } = r else {
                panic!("{label}: {r:?}")
            };
            let f = i % files_n;
            let off = (i % 7) * 10;
            assert_eq!(
                concat(&data),
                pattern(3000 + f)[off..off + 200],
                "{label}: op {i} read the right bytes"
            );
        }
    }
    for i in (2..n).step_by(4) {
        let f = format!("f{}.bin", i % files_n);
        let off = 3000 + i * 10;
        assert_eq!(
            s.server.files[&f][off..off + 10],
            vec![i as u8; 10][..],
            "{label}: write {i} landed in place"
        );
    }
    settled(&s);
    // One new session per connection that reached SESSION_SETUP; no duplicate TREE_CONNECT
    // or reopen per session epoch.
    let sessions = new_sessions(&s) - sessions_before;
    assert!(
        (1..=2).contains(&sessions),
        "{label}: {sessions} new sessions"
    );
    let epochs = sessions;
    let tcons = s.server.count(Command::TreeConnect) - 1;
    assert!(
        tcons <= epochs,
        "{label}: {tcons} TREE_CONNECTs for {epochs} epochs"
    );
    assert!(
        s.server.reclaimed <= files_n * epochs,
        "{label}: {} reclaims",
        s.server.reclaimed
    );
    for ch in s.server.connections() {
        assert_eq!(
            s.server.count_on(ch, Command::Negotiate),
            1,
            "{label}: {ch}"
        );
    }
    assert_eq!(s.client.stats().illegal_transitions, 0, "{label}");
}

#[test]
fn fault_matrix_one_operation() {
    for again in all_agains() {
        matrix_case(1, again);
    }
}

#[test]
fn fault_matrix_16_operations() {
    for again in all_agains() {
        matrix_case(16, again);
    }
}

#[test]
fn fault_matrix_64_operations() {
    for again in all_agains() {
        matrix_case(64, again);
    }
}

fn all_agains() -> Vec<Again> {
    vec![
        Again::Never,
        Again::Channel(ChannelState::NeedNegotiate),
        Again::Channel(ChannelState::InNegotiate),
        Again::Channel(ChannelState::NeedSessSetup),
        Again::Channel(ChannelState::InSessSetup),
        Again::Channel(ChannelState::Good),
        Again::Session(SessionState::InSetup),
        Again::Session(SessionState::Good),
        Again::Tree(TreeState::InFilesInvalidate),
        Again::Tree(TreeState::NeedTcon),
        Again::Tree(TreeState::InTcon),
        Again::Tree(TreeState::Good),
        Again::Open(OpenState::NeedReopen),
        Again::Open(OpenState::InReopen),
        Again::Open(OpenState::Good),
    ]
}

// ---------------------------------------------------------------------------------------
// Scheduling: backoff, give-up, shutdown, duplicates
// ---------------------------------------------------------------------------------------

fn attempt_times(s: &Sim) -> Vec<u64> {
    s.events
        .iter()
        .zip(&s.event_at)
        .filter(|(e, _)| matches!(e, Event::Recovery(RecoveryEvent::Attempt { .. })))
        .map(|(_, t)| t.as_nanos())
        .collect()
}

/// The first attempt is immediate, then the delays grow (exponential backoff), and the
/// session comes back once the server accepts again.
#[test]
fn reconnect_attempts_back_off_then_succeed() {
    let (mut s, _t, files) = setup(1, 10);
    s.refuse_connects = 5;
    s.cut(ChannelId(0));
    let op = s.submit(Request::Read {
        file: files[0],
        offset: 0,
        len: 10,
    });
    s.run_for(Duration::from_secs(30));
    assert!(s.done.remove(&op).unwrap().is_ok());
    assert_eq!(s.connects.len(), 1 + 6, "5 refused, the 6th accepted");
    let t = attempt_times(&s);
    assert_eq!(t.len(), 6, "{t:?}");
    let gaps: Vec<u64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "growing: {gaps:?}");
    assert!(gaps[0] > 0, "backoff after the first failure: {gaps:?}");
}

/// After `reconnect_give_up`, waiting operations fail with a retryable error naming how
/// long it tried; a later request starts a new recovery.
#[test]
fn the_recovery_gives_up_then_a_new_request_starts_again() {
    let mut s = Sim::new(
        client_config().with_reconnect_give_up(Some(std::time::Duration::from_secs(5))),
        durable_server(),
    );
    s.login();
    let t = s.tree();
    s.server.files.insert("g.bin".into(), pattern(10));
    let f = s.open(t, "g.bin", OpenOptions::new().read(true));
    s.refuse_connects = 1000;
    s.cut(ChannelId(0));
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 10,
    });
    let took = s.run_for(Duration::from_secs(60));
    let e = s.done.remove(&op).expect("failed").unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(
        e.to_string().contains("gave up reconnecting after 5."),
        "{e}"
    );
    assert!(took <= Duration::from_secs(60));
    let attempts = s.connects.len();
    // Nothing more is attempted until someone needs the server again.
    s.run_for(Duration::from_secs(60));
    assert_eq!(s.connects.len(), attempts);
    s.refuse_connects = 0;
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 10,
    });
    s.run_for(Duration::from_secs(10));
    assert!(s.done.remove(&op).unwrap().is_ok());
}

/// Invariant 10: a shut-down client never reconnects.
#[test]
fn no_reconnect_after_shutdown() {
    let (mut s, _t, _files) = setup(1, 10);
    s.client.shutdown(s.now);
    s.run();
    let n = s.connects.len();
    s.cut_all();
    s.run_for(Duration::from_secs(30));
    assert_eq!(s.connects.len(), n);
}

/// Invariant 7: a second Down for the same connection does nothing; input for a channel
/// that is gone is dropped and counted.
#[test]
fn a_duplicate_close_and_stale_input_change_nothing() {
    let (mut s, _t, _files) = setup(1, 10);
    s.cut(ChannelId(0));
    s.run();
    let connects = s.connects.len();
    s.client
        .handle_closed(ChannelId(0), CloseReason::Eof, s.now);
    s.client.handle_input(ChannelId(0), &[0, 0, 0, 1, 0], s.now);
    s.run();
    assert_eq!(s.connects.len(), connects);
    assert!(s.client.stats().stale_inputs >= 2);
    settled(&s);
}

/// A server that breaks every session right after it is set up: the recoveries back off
/// (the client does not spin), and the waiting operation ends with its deadline.
#[test]
fn a_flapping_server_is_backed_off_from() {
    let mut s = Sim::new(
        client_config().with_request_timeout(Duration::from_secs(30)),
        durable_server(),
    );
    s.login();
    let t = s.tree();
    s.server.files.insert("x.bin".into(), pattern(10));
    let f = s.open(t, "x.bin", OpenOptions::new().read(true));
    s.on_frame = Some(Box::new(|_, fr| {
        if fr.get(4 + 12) == Some(&(Command::TreeConnect as u8)) {
            Fate::Cut
        } else {
            Fate::Deliver
        }
    }));
    s.cut(ChannelId(0));
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 10,
    });
    s.run_for(Duration::from_secs(60));
    let e = s.done.remove(&op).expect("ended").unwrap_err();
    assert_eq!(e.kind, ErrorKind::TimedOut, "{e}");
    assert!(
        s.connects.len() < 40,
        "{} connections in 30 s: no hot loop",
        s.connects.len()
    );
}

// ---------------------------------------------------------------------------------------
// What the server says about the session and tree
// ---------------------------------------------------------------------------------------

fn answer_once(s: &mut Sim, command: Command, status: NtStatus) {
    let once = Rc::new(Cell::new(false));
    s.server.script = Some(Box::new(move |h, _| {
        (h.command == command && !once.get()).then(|| {
            once.set(true);
            vec![(reply(h, status), error_body())]
        })
    }));
}

/// SESSION_SETUP requests on the live session `sid` (re-authentications).
fn reauths(s: &Sim, sid: u64) -> usize {
    s.server
        .log
        .iter()
        .filter(|(_, h)| h.command == Command::SessionSetup && h.session_id == sid)
        .count()
}

/// STATUS_NETWORK_SESSION_EXPIRED: re-authenticate in place (same SessionId, opens kept),
/// then the request goes again.
#[test]
fn an_expired_session_is_reauthenticated_in_place() {
    let (mut s, _t, files) = setup(1, 100);
    let sid = s.server.session_id;
    answer_once(&mut s, Command::Read, NtStatus::NETWORK_SESSION_EXPIRED);
    let r = s.op(Request::Read {
        file: files[0],
        offset: 0,
        len: 100,
    });
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(s.server.session_id, sid, "same session");
    assert!(
        reauths(&s, sid) >= 1,
        "a re-authentication on the live session"
    );
    assert_eq!(s.server.reclaimed, 0, "opens kept, nothing to reclaim");
    assert_eq!(s.connects.len(), 1, "no new connection");
}

/// On a signed session (3.1.1 signs by default) servers send STATUS_NETWORK_SESSION_EXPIRED
/// unsigned, as Samba does: it still leads to a re-authentication (whose answer is verified)
/// and the request going again, rather than an integrity error.
#[test]
fn an_unsigned_session_expired_on_a_signed_session_reauthenticates() {
    let (mut s, _t, files) = setup(1, 100);
    let sid = s.server.session_id;
    answer_once(&mut s, Command::Read, NtStatus::NETWORK_SESSION_EXPIRED);
    s.server.forge = Some(Box::new(|h, _| {
        if h.status == NtStatus::NETWORK_SESSION_EXPIRED {
            Forge::Plain
        } else {
            Forge::Normal
        }
    }));
    let r = s.op(Request::Read {
        file: files[0],
        offset: 0,
        len: 100,
    });
    assert!(r.is_ok(), "{r:?}");
    assert!(s.server.signed_requests > 0, "the session signs");
    assert!(
        reauths(&s, sid) >= 1,
        "a re-authentication on the live session"
    );
}

/// STATUS_USER_SESSION_DELETED: a new session on the same connection; trees and durable
/// opens come back; the request goes again.
#[test]
fn a_deleted_session_is_set_up_again() {
    let (mut s, _t, files) = setup(1, 100);
    let sid = s.server.session_id;
    answer_once(&mut s, Command::Read, NtStatus::USER_SESSION_DELETED);
    // The server really dropped it: its handles wait for a durable reconnect.
    for o in s.server.opens.values_mut() {
        o.session = 0;
    }
    let r = s.op(Request::Read {
        file: files[0],
        offset: 0,
        len: 100,
    });
    assert!(r.is_ok(), "{r:?}");
    assert_ne!(s.server.session_id, sid);
    assert_eq!(s.server.previous_session_ids.last(), Some(&sid));
    assert_eq!(s.server.reclaimed, 1);
    assert_eq!(s.connects.len(), 1);
}

/// STATUS_NETWORK_NAME_DELETED: the tree is connected again; the request goes again.
#[test]
fn a_deleted_tree_is_connected_again() {
    let (mut s, _t, files) = setup(1, 100);
    let tcons = s.server.count(Command::TreeConnect);
    answer_once(&mut s, Command::Read, NtStatus::NETWORK_NAME_DELETED);
    // The server disconnected the tree: its durable handles wait for a reconnect.
    for o in s.server.opens.values_mut() {
        o.session = 0;
    }
    let r = s.op(Request::Read {
        file: files[0],
        offset: 0,
        len: 100,
    });
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(s.server.count(Command::TreeConnect), tcons + 1);
}

// ---------------------------------------------------------------------------------------
// The kernel's reconnect bugs (shared/reference/kernel-cifs-reconnect.md, section 3)
// ---------------------------------------------------------------------------------------

/// Bug 3 (bc962159e8e3): an early "already set up" let a second caller proceed before the
/// session setup had finished. Here no request other than the setup itself goes out on the
/// new connection before the session is Good, however many wait.
#[test]
fn kernel_bug_3_nothing_proceeds_before_the_setup_finishes() {
    let (mut s, _t, files) = setup(2, 100);
    s.cut(ChannelId(0));
    for i in 0..20 {
        s.submit(Request::Read {
            file: files[i % 2],
            offset: 0,
            len: 10,
        });
    }
    s.run();
    let order: Vec<Command> = s
        .server
        .log
        .iter()
        .filter(|(c, _)| *c == ChannelId(1))
        .map(|(_, h)| h.command)
        .collect();
    let last_setup = order
        .iter()
        .rposition(|x| *x == Command::SessionSetup)
        .unwrap();
    assert!(
        order[..last_setup]
            .iter()
            .all(|c| matches!(c, Command::Negotiate | Command::SessionSetup)),
        "{order:?}"
    );
}

/// Bugs 4 and 5 (91f4480c41f5, c6e02eefd6ac): a tree marked for reconnect whose status
/// never moved, so no TREE_CONNECT was ever sent. Here a tree without opens, used after
/// the reconnect, is connected again on first use.
#[test]
fn kernel_bugs_4_5_an_idle_tree_reconnects_on_first_use() {
    let mut s = Sim::new(client_config(), durable_server());
    s.login();
    let t = s.tree();
    s.cut(ChannelId(0));
    s.run();
    assert_eq!(
        s.server.count_on(ChannelId(1), Command::TreeConnect),
        0,
        "idle trees wait for their first use"
    );
    let r = s.op(Request::Create {
        tree: t,
        path: "new.txt".into(),
        options: OpenOptions::create_truncate(),
    });
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(s.server.count_on(ChannelId(1), Command::TreeConnect), 1);
}

/// Bug 8 (7ccc1465465d): stuck in InNegotiate forever. Here a server that never answers the
/// NEGOTIATE of the new connection: the step times out and the recovery tries again.
#[test]
fn kernel_bug_8_a_silent_negotiate_times_out_and_is_retried() {
    let (mut s, _t, files) = setup(1, 10);
    let silent = Rc::new(Cell::new(true));
    let sl = silent.clone();
    s.on_frame = Some(Box::new(move |_, fr| {
        if sl.get() && fr.get(4 + 12) == Some(&(Command::Negotiate as u8)) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    }));
    s.cut(ChannelId(0));
    let op = s.submit(Request::Read {
        file: files[0],
        offset: 0,
        len: 10,
    });
    s.run_for(Duration::from_secs(21));
    assert!(
        s.connects.len() >= 3,
        "the silent connection was given up on"
    );
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::ChannelFailed {
            error: ChannelError::NegotiateTimeout,
            ..
        }
    )));
    silent.set(false);
    s.run_for(Duration::from_secs(30));
    assert!(s.done.remove(&op).unwrap().is_ok());
}

/// Invariant 1: N operations noticing the failure produce one NEGOTIATE on the new
/// connection, one new session, one TREE_CONNECT per tree and one reopen per open.
#[test]
fn many_waiters_one_recovery() {
    let (mut s, _t, files) = setup(4, 100);
    s.cut(ChannelId(0));
    for i in 0..64 {
        s.submit(Request::Read {
            file: files[i % 4],
            offset: 0,
            len: 10,
        });
    }
    s.run();
    assert_eq!(s.server.count_on(ChannelId(1), Command::Negotiate), 1);
    assert_eq!(s.server.count_on(ChannelId(1), Command::TreeConnect), 1);
    assert_eq!(s.server.reclaimed, 4);
    assert_eq!(
        new_sessions(&s),
        2,
        "the first login and one re-establishment"
    );
    assert_eq!(s.done.len(), 64);
    assert!(s.done.values().all(|r| r.is_ok()));
}
