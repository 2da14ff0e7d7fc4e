//! Operations not covered by sim_basic: directory pages, notify, locks, set info, ioctl,
//! cancel by AsyncId, compound errors, split reads out of order.

use super::*;

// ---------------------------------------------------------------------------------------
// 6. Operations
// ---------------------------------------------------------------------------------------

fn dir_page(names: &[&str]) -> Vec<u8> {
    use smb_core::wire::fscc::FileInfoClass;
    use smb_core::wire::query_directory::{
        DirectoryEntry, QueryDirectoryResponse, encode_directory_entries,
    };
    let entries: Vec<DirectoryEntry> = names
        .iter()
        .enumerate()
        .map(|(i, n)| DirectoryEntry {
            name: n.to_string(),
            end_of_file: i as u64 * 10,
            file_attributes: 0x20,
            ea_size: Some(0),
            file_id: Some(i as u64 + 1),
            ..DirectoryEntry::default()
        })
        .collect();
    let mut buf = Vec::new();
    assert!(encode_directory_entries(
        FileInfoClass(0x25),
        &entries,
        &mut buf
    ));
    body(&QueryDirectoryResponse { buffer: &buf })
}

#[test]
fn query_directory_pages_until_no_more_files() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let d = s.open(t, "dir", OpenOptions::create_truncate());
    let mut page = 0;
    s.server.script = Some(Box::new(move |h, _| {
        (h.command == Command::QueryDirectory).then(|| {
            page += 1;
            match page {
                1 => vec![(reply(h, NtStatus::SUCCESS), dir_page(&["a", "b", "c"]))],
                2 => vec![(reply(h, NtStatus::SUCCESS), dir_page(&["d"]))],
                _ => vec![(reply(h, NtStatus::NO_MORE_FILES), error_body())],
            }
        })
    }));
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let r = s
            .op(Request::QueryDirectory {
                file: d,
                class: 0x25,
                pattern: "*".into(),
                restart: pages == 0,
                output_len: 65536,
            })
            .unwrap();
        let Response::Directory { entries, page } = r else {
            panic!()
        };
        if entries.is_empty() {
            assert!(page.is_empty());
            break;
        }
        pages += 1;
        names.extend(entries.into_iter().map(|e| (e.name, e.file_id)));
    }
    assert_eq!(pages, 2);
    assert_eq!(
        names,
        vec![
            ("a".into(), 1),
            ("b".into(), 2),
            ("c".into(), 3),
            ("d".into(), 1)
        ]
    );
}

/// A logged-in sim with a recursive CHANGE_NOTIFY on "dir" that the server answered with an
/// interim STATUS_PENDING (AsyncId `async_id`): the directory, the op and the request's
/// header (to complete it later).
fn pending_notify(async_id: u64) -> (Sim, FileHandle, OpId, Arc<Mutex<Option<Header>>>) {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let d = s.open(t, "dir", OpenOptions::create_truncate());
    let held: Arc<Mutex<Option<Header>>> = Arc::default();
    let h2 = held.clone();
    s.server.script = Some(Box::new(move |h, _| {
        (h.command == Command::ChangeNotify).then(|| {
            *h2.lock().unwrap() = Some(*h);
            let mut i = reply(h, NtStatus::PENDING);
            i.id = HeaderId::Async { async_id };
            vec![(i, error_body())]
        })
    }));
    let op = s.submit(Request::ChangeNotify {
        file: d,
        filter: 0x17,
        recursive: true,
        output_len: 4096,
    });
    s.run();
    (s, d, op, held)
}

#[test]
fn change_notify_pending_then_completes() {
    use smb_core::wire::change_notify::{
        ChangeNotifyResponse, FileNotifyInformation, NotifyAction, encode_notify_entries,
    };
    let (mut s, _, op, held) = pending_notify(0x55);
    assert!(!s.done.contains_key(&op));
    assert_eq!(s.client.stats().interim_responses, 1);
    // Much later (no deadline for CHANGE_NOTIFY), the change arrives.
    s.advance(Duration::from_secs(3600));
    assert!(!s.done.contains_key(&op));
    let req = held.lock().unwrap().take().unwrap();
    let mut fin = reply(&req, NtStatus::SUCCESS);
    fin.credits = 0;
    fin.id = HeaderId::Async { async_id: 0x55 };
    let mut buf = Vec::new();
    encode_notify_entries(
        &[FileNotifyInformation {
            action: NotifyAction::from_u32(1),
            file_name: "new.txt".into(),
        }],
        &mut buf,
    );
    s.server.send(
        fin,
        body(&ChangeNotifyResponse { buffer: &buf }),
        false,
        true, // the request was signed (3.1.1 signs by default)
    );
    s.run();
    match s.done.remove(&op).unwrap().unwrap() {
        Response::Notify { data, status } => {
            assert_eq!(status, NtStatus::SUCCESS);
            let r = smb_core::wire::change_notify::ChangeNotifyResponse { buffer: &data };
            let e: Vec<_> = r.entries().map(|e| e.unwrap()).collect();
            assert_eq!(e[0].file_name, "new.txt");
        }
        r => panic!("{r:?}"),
    }
}

/// STATUS_NOTIFY_ENUM_DIR as Samba sends it (an ERROR body, [MS-SMB2] 2.2.2, after the
/// interim): the notify completes with an empty buffer and that status, not an error, so a
/// watch can tell the user to list again.
#[test]
fn notify_enum_dir_in_an_error_body_is_an_empty_answer() {
    let (mut s, _, op, held) = pending_notify(0x77);
    let req = held.lock().unwrap().take().unwrap();
    let mut fin = reply(&req, NtStatus::NOTIFY_ENUM_DIR);
    fin.id = HeaderId::Async { async_id: 0x77 };
    s.server.send(fin, error_body(), false, true);
    s.run();
    match s.done.remove(&op).unwrap() {
        Ok(Response::Notify { data, status }) => {
            assert_eq!(status, NtStatus::NOTIFY_ENUM_DIR);
            assert!(data.is_empty());
        }
        r => panic!("{r:?}"),
    }
}

/// Closing a directory with a CHANGE_NOTIFY pending cancels the notify first (SMB2 CANCEL
/// naming its AsyncId, [MS-SMB2] 3.2.4.24), then closes; the late STATUS_CANCELLED answer
/// is absorbed and the connection stays usable.
#[test]
fn closing_a_watched_directory_cancels_its_notify() {
    let (mut s, d, n, held) = pending_notify(0x66);
    let c = s.submit(Request::Close { file: d });
    s.run();
    let e = s.done.remove(&n).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
    assert!(matches!(s.done.remove(&c), Some(Ok(Response::Closed))));
    let order: Vec<Command> = s
        .server
        .log
        .iter()
        .map(|(_, h)| h.command)
        .filter(|c| matches!(c, Command::Cancel | Command::Close))
        .collect();
    assert_eq!(order, [Command::Cancel, Command::Close]);
    let (_, cancel) = s
        .server
        .log
        .iter()
        .find(|(_, h)| h.command == Command::Cancel)
        .copied()
        .unwrap();
    assert_eq!(cancel.id, HeaderId::Async { async_id: 0x66 });
    // The server's answer to the cancelled request arrives after the close.
    let req = held.lock().unwrap().take().unwrap();
    let mut fin = reply(&req, NtStatus::CANCELLED);
    fin.id = HeaderId::Async { async_id: 0x66 };
    s.server.send(fin, error_body(), false, false);
    s.run();
    let echo = s.submit(Request::Echo);
    s.run();
    assert!(matches!(s.done.remove(&echo), Some(Ok(Response::Echo))));
}

#[test]
fn lock_unlock_set_info_and_ioctl() {
    use smb_core::wire::Decode;
    use smb_core::wire::ioctl::IoctlResponse;
    use smb_core::wire::lock::{LockRequest, LockResponse};
    use smb_core::wire::set_info::{SetInfoRequest, SetInfoResponse};
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "l", OpenOptions::create_truncate());
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let l2 = log.clone();
    s.server.script = Some(Box::new(move |h, msg| match h.command {
        Command::Lock => {
            let r = LockRequest::decode(msg).unwrap();
            let el = &r.locks[0];
            l2.lock().unwrap().push(format!(
                "lock {} {} {:#x}",
                el.offset, el.length, el.flags.0
            ));
            let st = if el.offset == 999 {
                NtStatus::LOCK_NOT_GRANTED
            } else {
                NtStatus::SUCCESS
            };
            let b = if st == NtStatus::SUCCESS {
                body(&LockResponse)
            } else {
                error_body()
            };
            Some(vec![(reply(h, st), b)])
        }
        Command::SetInfo => {
            let r = SetInfoRequest::decode(msg).unwrap();
            l2.lock().unwrap().push(format!(
                "setinfo {} {} {:?}",
                r.info_type.0, r.file_info_class, r.buffer
            ));
            Some(vec![(reply(h, NtStatus::SUCCESS), body(&SetInfoResponse))])
        }
        Command::Ioctl => {
            let r = smb_core::wire::ioctl::IoctlRequest::decode(msg).unwrap();
            l2.lock().unwrap().push(format!(
                "ioctl {:#x} {:?} {}",
                r.ctl_code, r.input, r.max_output_response
            ));
            let b = body(&IoctlResponse {
                ctl_code: r.ctl_code,
                file_id: r.file_id,
                input: &[],
                output: b"result",
                flags: 0,
            });
            Some(vec![(reply(h, NtStatus::SUCCESS), b)])
        }
        _ => None,
    }));
    let lock = |offset, flags| Request::Lock {
        file: f,
        locks: vec![LockRange {
            offset,
            length: 10,
            flags,
        }],
    };
    assert_eq!(s.op(lock(0, 2 | 0x10)).unwrap(), Response::Locked);
    assert_eq!(s.op(lock(0, 4)).unwrap(), Response::Locked);
    assert_eq!(
        s.op(lock(999, 2 | 0x10)).unwrap_err().kind,
        ErrorKind::InUse
    );
    let r = s
        .op(Request::SetInfo {
            file: f,
            info_type: 1,
            class: 20,
            additional: 0,
            data: Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8]),
        })
        .unwrap();
    assert_eq!(r, Response::InfoSet);
    let r = s
        .op(Request::Ioctl {
            tree: t,
            file: Some(f),
            ctl_code: 0x0009_00C4,
            input: Bytes::from_static(b"in"),
            max_output: 64,
            fsctl: true,
        })
        .unwrap();
    assert_eq!(
        r,
        Response::Ioctl {
            output: Bytes::from_static(b"result"),
            more: false
        }
    );
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "lock 0 10 0x12".to_string(),
            "lock 0 10 0x4".into(),
            "lock 999 10 0x12".into(),
            "setinfo 1 20 [1, 2, 3, 4, 5, 6, 7, 8]".into(),
            "ioctl 0x900c4 [105, 110] 64".into(),
        ]
    );
}

#[test]
fn cancel_after_interim_carries_the_async_id() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let f = s.open(t, "l", OpenOptions::create_truncate());
    s.server.script = Some(Box::new(|h, _| {
        (h.command == Command::Lock).then(|| {
            let mut i = reply(h, NtStatus::PENDING);
            i.id = HeaderId::Async { async_id: 0xABCD };
            vec![(i, error_body())]
        })
    }));
    let op = s.submit(Request::Lock {
        file: f,
        locks: vec![LockRange {
            offset: 0,
            length: 1,
            flags: 2,
        }],
    });
    s.run();
    let lock_mid = s
        .server
        .headers
        .iter()
        .rfind(|h| h.command == Command::Lock)
        .unwrap()
        .message_id;
    s.client.cancel(op, s.now);
    s.run();
    assert_eq!(
        s.done.remove(&op).unwrap().unwrap_err().kind,
        ErrorKind::Cancelled
    );
    let c = s
        .server
        .headers
        .iter()
        .rfind(|h| h.command == Command::Cancel)
        .unwrap();
    // [MS-SMB2] 3.2.4.24: ASYNC flag, the AsyncId, and the original MessageId.
    assert!(c.flags.has(HeaderFlags::ASYNC_COMMAND));
    assert_eq!(c.id, HeaderId::Async { async_id: 0xABCD });
    assert_eq!(c.message_id, lock_mid);
    // The server's final STATUS_CANCELLED still returns the credit and is not "unknown".
    let mut h = *s
        .server
        .headers
        .iter()
        .rfind(|h| h.command == Command::Lock)
        .unwrap();
    h.credit_charge = 1;
    let mut fin = reply(&h, NtStatus::CANCELLED);
    fin.id = HeaderId::Async { async_id: 0xABCD };
    s.server.send(fin, error_body(), false, false);
    s.run();
    assert_eq!(s.client.stats().unknown_responses, 0);
    s.op(Request::Echo).unwrap();
}

#[test]
fn compound_with_an_error_in_the_middle() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    s.server.files.insert("c.txt".into(), vec![0; 10]);
    // The server fails QUERY_INFO and, as related operations do, every later member with
    // the same status ([MS-SMB2] 3.3.5.2.7.2).
    let mut failed = false;
    s.server.script = Some(Box::new(move |h, _| {
        if h.command == Command::QueryInfo {
            failed = true;
        }
        (failed && h.flags.has(HeaderFlags::RELATED_OPERATIONS))
            .then(|| vec![(reply(h, NtStatus::ACCESS_DENIED), error_body())])
    }));
    let r = s
        .op(Request::Compound(vec![
            Request::Create {
                tree: t,
                path: "c.txt".into(),
                options: OpenOptions::new().read(true),
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
    assert!(matches!(parts[0], Ok(Response::Created { .. })));
    for p in &parts[1..] {
        let e = p.as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert_eq!(e.status, Some(NtStatus::ACCESS_DENIED));
    }
    assert_eq!(
        parts[1].as_ref().unwrap_err().command,
        Some(Command::QueryInfo)
    );
    assert_eq!(parts[2].as_ref().unwrap_err().command, Some(Command::Close));
}

#[test]
fn split_read_out_of_order_and_a_failing_piece() {
    let mut s = Sim::new(
        client_config(),
        ServerConfig {
            max_read: 65536,
            ..ServerConfig::default()
        },
    );
    s.login();
    let t = s.tree();
    let data = pattern(8 * 65536 + 100);
    s.server.files.insert("r.bin".into(), data.clone());
    let f = s.open(t, "r.bin", OpenOptions::new().read(true));
    // All nine pieces in flight, answered in reverse order.
    s.server.hold = true;
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 9 * 65536,
    });
    s.run();
    assert_eq!(s.server.held.len(), 9);
    s.release(|h| h.reverse());
    match s.done.remove(&op).unwrap().unwrap() {
        Response::Read { data: got, eof } => {
            assert!(eof);
            assert_eq!(concat(&got), data);
            assert!(got.len() >= 9, "slices of the received frames");
        }
        r => panic!("{r:?}"),
    }
    // Out of order again, and the fourth piece fails: the read fails with its status.
    s.server.script = Some(Box::new(|h, msg| {
        use smb_core::wire::Decode;
        let r = (h.command == Command::Read)
            .then(|| smb_core::wire::read::ReadRequest::decode(msg).unwrap())?;
        (r.offset == 3 * 65536)
            .then(|| vec![(reply(h, NtStatus::FILE_LOCK_CONFLICT), error_body())])
    }));
    s.server.hold = true;
    let op = s.submit(Request::Read {
        file: f,
        offset: 0,
        len: 8 * 65536,
    });
    s.run();
    s.release(|h| h.rotate_left(5));
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::InUse);
    assert_eq!(e.status, Some(NtStatus::FILE_LOCK_CONFLICT));
    assert_eq!(s.server.window_violations, 0);
    // The channel is fine afterwards.
    s.op(Request::Echo).unwrap();
}

#[test]
fn without_reconnect_channel_loss_fails_tree_connect_waiters_at_once() {
    let mut s = Sim::new(
        client_config().with_reconnect_give_up(None),
        ServerConfig::default(),
    );
    s.login();
    s.server.hold = true;
    let a = tc(&mut s, "share");
    let b = tc(&mut s, "share");
    s.run();
    s.client
        .handle_closed(ChannelId(0), CloseReason::Eof, s.now);
    s.run();
    for op in [a, b] {
        let e = s.done.remove(&op).expect("completed at once").unwrap_err();
        assert_eq!(e.kind, ErrorKind::ServerGone, "{e}");
        assert!(e.is_retryable());
    }
    assert_eq!(
        s.connects.len(),
        1,
        "no reconnect without reconnect_give_up"
    );
}

#[test]
fn channel_loss_during_tree_connect_the_waiters_get_the_tree_after_the_reconnect() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    s.server.hold = true;
    let a = tc(&mut s, "share");
    let b = tc(&mut s, "share");
    s.run();
    assert_eq!(count(&s, Command::TreeConnect), 1, "single-flight");
    s.server.hold = false;
    s.server.held.clear();
    s.cut(ChannelId(0));
    s.run();
    let ta = tree_of(&s.done.remove(&a).expect("a completed"));
    let tb = tree_of(&s.done.remove(&b).expect("b completed"));
    assert_eq!(ta, tb);
    // One TREE_CONNECT lost with the connection, one on the new session; one NEGOTIATE and
    // one SESSION_SETUP exchange per connection.
    assert_eq!(count(&s, Command::TreeConnect), 2);
    assert_eq!(s.server.count_on(ChannelId(1), Command::Negotiate), 1);
    assert_eq!(s.server.count_on(ChannelId(1), Command::TreeConnect), 1);
    assert_eq!(s.client.stats().reconnects, 1);
}

/// Output buffer lengths larger than the server's MaxTransactSize (1 MiB in the simulated
/// server) are clamped before they go on the wire ([MS-SMB2] 3.2.4.14), so callers can ask for
/// big directory pages whatever the dialect.
#[test]
fn output_buffer_lengths_are_clamped_to_max_transact_size() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let d = s.open(t, "dir", OpenOptions::create_truncate());
    let asked: Arc<Mutex<Vec<(Command, u32)>>> = Arc::default();
    let seen = asked.clone();
    s.server.script = Some(Box::new(move |h, msg| {
        use smb_core::wire::Decode;
        let len = match h.command {
            Command::QueryDirectory => {
                smb_core::wire::query_directory::QueryDirectoryRequest::decode(msg)
                    .unwrap()
                    .output_buffer_length
            }
            Command::QueryInfo => {
                smb_core::wire::query_info::QueryInfoRequest::decode(msg)
                    .unwrap()
                    .output_buffer_length
            }
            _ => return None,
        };
        seen.lock().unwrap().push((h.command, len));
        Some(vec![(reply(h, NtStatus::NO_MORE_FILES), error_body())])
    }));
    let _ = s.op(Request::QueryDirectory {
        file: d,
        class: 0x25,
        pattern: "*".into(),
        restart: true,
        output_len: 8 << 20,
    });
    let _ = s.op(Request::QueryInfo {
        file: d,
        info_type: 1,
        class: 18,
        additional: 0,
        output_len: 4096,
    });
    assert_eq!(
        *asked.lock().unwrap(),
        vec![
            (Command::QueryDirectory, 1 << 20),
            (Command::QueryInfo, 4096)
        ]
    );
}

/// A CREATE that succeeds after its operation was cancelled leaves no handle open on the
/// server: the client closes it by itself ([MS-SMB2] 3.2.4.5).
#[test]
fn a_create_that_succeeds_after_cancel_is_closed() {
    let mut s = Sim::new(client_config(), ServerConfig::default());
    s.login();
    let t = s.tree();
    let before = s.server.opens.len();
    s.server.hold = true;
    let op = s
        .client
        .submit(
            Request::Create {
                tree: t,
                path: "late.txt".into(),
                options: OpenOptions::create_truncate(),
            },
            s.now,
        )
        .unwrap();
    s.run();
    s.client.cancel(op, s.now);
    s.run();
    let e = s.done.remove(&op).unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled);
    // The server answers the CREATE anyway (a CANCEL may arrive too late).
    s.server.hold = false;
    let held = std::mem::take(&mut s.server.held);
    s.server.outbox.extend(held);
    s.run();
    assert_eq!(s.client.stats().orphaned_opens_closed, 1);
    assert_eq!(
        s.server.opens.len(),
        before,
        "the late handle must be closed on the server"
    );
    assert_eq!(
        s.server
            .seen
            .iter()
            .filter(|c| **c == Command::Close)
            .count(),
        1
    );
}
