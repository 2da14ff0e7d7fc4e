//! The shared adapter logic against an in-memory fake server (replies are immediate).

extern crate std;

use super::file::SeekFrom;
use super::*;
use crate::client::{DirEntry, FileAttributes, FileHandle, TreeId};
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;
use core::future::Ready;
use core::task::{Context, Poll, Waker};
use std::sync::Mutex;

#[derive(Default)]
struct FakeState {
    data: Vec<u8>,
    log: Vec<&'static str>,
    reads: Vec<(u64, u32)>,
    writes: Vec<(u64, usize)>,
    dir_pages: Vec<Vec<DirEntry>>,
    page_lens: Vec<u32>,
    /// Answers to CHANGE_NOTIFY, in order (then Unsupported).
    notifies: Vec<Result<Response, OpError>>,
    /// QUERY_INFO buffers by class.
    infos: Vec<(u8, Vec<u8>)>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

fn entry(name: &str) -> DirEntry {
    DirEntry {
        name: name.to_string(),
        attributes: FileAttributes::default(),
        file_id: 0,
    }
}

impl Submitter for Fake {
    type Reply = Ready<Result<Response, OpError>>;
    fn submit(&self, request: Request) -> Self::Reply {
        core::future::ready(answer(&mut self.0.lock().unwrap(), request))
    }
}

fn answer(s: &mut FakeState, request: Request) -> Result<Response, OpError> {
    // No driver behind this submitter: no lease cache (not recorded).
    if let Request::LeaseCache(_) = request {
        return Err(OpError::new(ErrorKind::Unsupported));
    }
    s.log.push(request_name(&request));
    match request {
        Request::Read { offset, len, .. } => {
            s.reads.push((offset, len));
            let start = (offset as usize).min(s.data.len());
            let end = (start + len as usize).min(s.data.len());
            let data = Bytes::copy_from_slice(&s.data[start..end]);
            Ok(Response::Read {
                eof: end - start < len as usize,
                data: vec![data],
            })
        }
        Request::Write { offset, data, .. } => {
            s.writes.push((offset, data.len()));
            let end = offset as usize + data.len();
            if s.data.len() < end {
                s.data.resize(end, 0);
            }
            s.data[offset as usize..end].copy_from_slice(&data);
            Ok(Response::Written {
                count: data.len() as u64,
            })
        }
        Request::Create { .. } => Ok(Response::Created {
            file: FileHandle(7),
            create_action: 1,
            attributes: FileAttributes::default(),
            durable: false,
            lease_state: 0,
        }),
        Request::QueryDirectory { output_len, .. } => {
            s.page_lens.push(output_len);
            let entries = if s.dir_pages.is_empty() {
                Vec::new()
            } else {
                s.dir_pages.remove(0)
            };
            Ok(Response::Directory {
                page: Bytes::new(),
                entries,
            })
        }
        Request::Close { .. } => Ok(Response::Closed),
        Request::ChangeNotify { .. } if !s.notifies.is_empty() => s.notifies.remove(0),
        Request::QueryInfo { class, .. } => match s.infos.iter().find(|(c, _)| *c == class) {
            Some((_, b)) => Ok(Response::Info {
                data: Bytes::copy_from_slice(b),
            }),
            None => Err(OpError::new(ErrorKind::Unsupported)),
        },
        Request::Compound(reqs) => Ok(Response::Compound(
            reqs.into_iter().map(|r| answer(s, r)).collect(),
        )),
        _ => Err(OpError::new(ErrorKind::Unsupported)),
    }
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn ready<T>(p: Poll<T>) -> T {
    match p {
        Poll::Ready(t) => t,
        Poll::Pending => panic!("fake replies are immediate"),
    }
}

#[test]
fn sequential_read_grows_read_ahead_and_stops_at_eof() {
    let fake = Fake::default();
    fake.0.lock().unwrap().data = (0..3_000_000u32).map(|i| i as u8).collect();
    let mut f =
        FileIo::new(fake.clone(), FileHandle(7), FileIoConfig::default()).with_size_hint(3_000_000);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 10_000];
    loop {
        let n = ready(f.poll_read(&mut cx(), &mut buf)).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out, fake.0.lock().unwrap().data);
    let reads = fake.0.lock().unwrap().reads.clone();
    // Starts small, grows to 1 MiB pieces, all contiguous.
    assert_eq!(reads[0], (0, 64 * 1024));
    assert!(reads.iter().any(|r| r.1 == 1 << 20));
    for w in reads.windows(2) {
        assert_eq!(w[0].0 + w[0].1 as u64, w[1].0);
    }
    // Read-ahead stays within the known size; one last request confirms the end.
    assert!(
        reads.iter().filter(|r| r.0 >= 3_000_000).count() <= 1,
        "{reads:?}"
    );
}

#[test]
fn seek_then_partial_read() {
    let fake = Fake::default();
    fake.0.lock().unwrap().data = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut f = FileIo::new(fake.clone(), FileHandle(7), FileIoConfig::default());
    let mut buf = [0u8; 16];
    let mut b1 = [0u8; 1];
    ready(f.poll_read(&mut cx(), &mut b1)).unwrap();
    assert_eq!(
        ready(f.poll_seek(&mut cx(), SeekFrom::Start(50_000))).unwrap(),
        50_000
    );
    let n = ready(f.poll_read(&mut cx(), &mut buf)).unwrap();
    assert_eq!(n, 16);
    assert_eq!(buf[0], (50_000 % 251) as u8);
    assert_eq!(
        ready(f.poll_seek(&mut cx(), SeekFrom::Current(-6))).unwrap(),
        50_010
    );
    ready(f.poll_read(&mut cx(), &mut b1)).unwrap();
    assert_eq!(b1[0], (50_010 % 251) as u8);
    assert!(ready(f.poll_seek(&mut cx(), SeekFrom::Current(-100_000))).is_err());
}

#[test]
fn write_behind_gathers_chunks_and_flush_lands_everything() {
    let fake = Fake::default();
    let cfg = FileIoConfig {
        write_chunk: 4096,
        ..FileIoConfig::default()
    };
    let mut f = FileIo::new(fake.clone(), FileHandle(7), cfg);
    let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let mut off = 0;
    while off < data.len() {
        off += ready(f.poll_write(&mut cx(), &data[off..(off + 1000).min(data.len())])).unwrap();
    }
    ready(f.poll_flush(&mut cx())).unwrap();
    let s = fake.0.lock().unwrap();
    assert_eq!(s.data, data);
    assert_eq!(s.writes, vec![(0, 4096), (4096, 4096), (8192, 1808)]);
    drop(s);
    // Seek back, overwrite, read back through the same cursor.
    ready(f.poll_seek(&mut cx(), SeekFrom::Start(10))).unwrap();
    ready(f.poll_write(&mut cx(), b"xyz")).unwrap();
    ready(f.poll_seek(&mut cx(), SeekFrom::Start(9))).unwrap();
    let mut buf = [0u8; 5];
    let n = ready(f.poll_read(&mut cx(), &mut buf)).unwrap();
    assert_eq!(&buf[..n], &[9, b'x', b'y', b'z', 13]);
    ready(f.poll_close(&mut cx())).unwrap();
    assert_eq!(fake.0.lock().unwrap().log.last(), Some(&"Close"));
}

#[test]
fn dir_stream_fetches_pages_on_demand_and_closes() {
    let fake = Fake::default();
    fake.0.lock().unwrap().dir_pages = vec![
        vec![entry("."), entry(".."), entry("a"), entry("b")],
        vec![entry("c")],
    ];
    let mut d = DirStream::open(fake.clone(), TreeId(1), "dir", "*");
    let e = ready(d.poll_next_entry(&mut cx())).unwrap().unwrap();
    assert_eq!(e.name, "a");
    // Only the first page was asked for so far.
    assert_eq!(fake.0.lock().unwrap().page_lens.len(), 1);
    assert!(fake.0.lock().unwrap().page_lens[0] >= 64 * 1024);
    let mut names = vec![e.name];
    while let Some(e) = ready(d.poll_next_entry(&mut cx())) {
        names.push(e.unwrap().name);
    }
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(fake.0.lock().unwrap().log.last(), Some(&"Close"));
}

#[test]
fn dropping_an_open_file_closes_it_after_sending_buffered_bytes() {
    let fake = Fake::default();
    let mut f = FileIo::new(fake.clone(), FileHandle(7), FileIoConfig::default());
    ready(f.poll_write(&mut cx(), b"hello")).unwrap();
    drop(f);
    let s = fake.0.lock().unwrap();
    assert_eq!(s.data, b"hello");
    assert_eq!(s.log, ["Write", "Close"]);
}

#[cfg(feature = "std")]
#[test]
fn io_error_kinds_keep_the_status() {
    use crate::wire::{Command as Cmd, NtStatus};
    let e = to_io_error(OpError::from_status(
        NtStatus::OBJECT_NAME_NOT_FOUND,
        Cmd::Create,
    ));
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        op_error(&e).unwrap().status,
        Some(NtStatus::OBJECT_NAME_NOT_FOUND)
    );
    let k = |s| io_error_kind(&OpError::from_status(s, Cmd::Create));
    assert_eq!(
        k(NtStatus::ACCESS_DENIED),
        std::io::ErrorKind::PermissionDenied
    );
    assert_eq!(
        k(NtStatus::OBJECT_NAME_COLLISION),
        std::io::ErrorKind::AlreadyExists
    );
    assert_eq!(
        k(NtStatus::SHARING_VIOLATION),
        std::io::ErrorKind::ResourceBusy
    );
    assert_eq!(
        k(NtStatus::DIRECTORY_NOT_EMPTY),
        std::io::ErrorKind::DirectoryNotEmpty
    );
    assert_eq!(
        k(NtStatus::LOGON_FAILURE),
        std::io::ErrorKind::PermissionDenied
    );
    // The message names the cause and keeps the NTSTATUS.
    let msg = e.to_string();
    assert!(msg.contains("no such file or directory"), "{msg}");
    assert!(msg.contains("STATUS_OBJECT_NAME_NOT_FOUND"), "{msg}");
}

struct Slot(Arc<Mutex<Vec<Result<Response, OpError>>>>);
impl Completion for Slot {
    fn complete(self, r: Result<Response, OpError>) -> bool {
        self.0.lock().unwrap().push(r);
        true
    }
}

#[test]
fn driver_routes_connect_and_shutdown_to_waiters() {
    use crate::client::{Client, ClientConfig, ServerAddr};
    use crate::time::{FileTime, Instant};
    let auth = Credentials::anonymous().into_auth_factory().unwrap();
    let rng = rand_core::OsRng;
    let now = Instant::from_nanos(0);
    let client = Client::new(
        ClientConfig::default(),
        auth,
        Box::new(rng),
        now,
        FileTime(0),
    );
    let mut d: Driver<Slot> = Driver::new(client);
    let results = Arc::new(Mutex::new(Vec::new()));
    d.handle(
        Command::Connect {
            addr: ServerAddr::from("127.0.0.1:445"),
            waiter: Slot(results.clone()),
        },
        now,
    );
    let mut saw_connect = false;
    while let Some(a) = d.poll_action(now) {
        if let Action::Connect { channel, .. } = a {
            assert_eq!(channel, ChannelId(0));
            saw_connect = true;
        }
    }
    assert!(saw_connect);
    assert_eq!(d.pending(), 1);
    d.handle(Command::Shutdown, now);
    while d.poll_action(now).is_some() {}
    assert!(d.is_finished());
    let r = results.lock().unwrap();
    assert_eq!(r.len(), 1);
    assert!(matches!(&r[0], Err(e) if e.kind == ErrorKind::ShutDown));
}

/// A listing dropped before its first poll, whose CREATE was already answered (the answer
/// sits in the reply): the directory handle is closed, not leaked on the server.
#[test]
fn a_listing_dropped_with_its_create_answered_closes_the_handle() {
    let fake = Fake::default();
    drop(DirStream::open(fake.clone(), TreeId(1), "dir", "*"));
    assert_eq!(fake.0.lock().unwrap().log, ["Create", "Close"]);
}

/// A listing past its entry cap is refused with a protocol error (and the handle closed),
/// whatever the server keeps sending; under the cap the same pages list completely.
#[test]
fn a_listing_past_its_entry_cap_is_refused() {
    let pages = || {
        vec![
            vec![entry("a"), entry("b")],
            vec![entry("c"), entry("d")],
            vec![entry("e")],
        ]
    };
    let list = |cap: u64| {
        let fake = Fake::default();
        fake.0.lock().unwrap().dir_pages = pages();
        let mut d = DirStream::open(fake.clone(), TreeId(1), "dir", "*").with_max_entries(cap);
        let mut out = Vec::new();
        while let Some(e) = ready(d.poll_next_entry(&mut cx())) {
            out.push(e.map(|e| e.name));
        }
        (out, fake.0.lock().unwrap().log.clone())
    };
    let (ok, _) = list(5);
    assert_eq!(
        ok.into_iter().collect::<Result<Vec<_>, _>>().unwrap(),
        ["a", "b", "c", "d", "e"]
    );
    let (capped, log) = list(3);
    let e = capped.last().unwrap().as_ref().unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Protocol("the directory listing passed the entry limit")
    );
    assert_eq!(log.last(), Some(&"Close"));
}

fn changes(entries: &[(u32, &str)]) -> Result<Response, OpError> {
    use crate::wire::change_notify::encode_notify_entries;
    let entries: Vec<_> = entries
        .iter()
        .map(|(a, n)| FileNotifyInformation {
            action: NotifyAction::from_u32(*a),
            file_name: n.to_string(),
        })
        .collect();
    let mut data = Vec::new();
    encode_notify_entries(&entries, &mut data);
    Ok(Response::Notify {
        data: data.into(),
        status: crate::wire::NtStatus::SUCCESS,
    })
}

#[test]
fn watch_rearms_reports_overflow_and_refuses_a_malformed_buffer() {
    let fake = Fake::default();
    // A chain whose NextEntryOffset points back at itself ([MS-FSCC] 2.7.1: must advance).
    let mut looping = Vec::new();
    looping.extend_from_slice(&0u32.to_le_bytes());
    looping.extend_from_slice(&1u32.to_le_bytes());
    looping.extend_from_slice(&2u32.to_le_bytes());
    looping.extend_from_slice(&[b'a', 0]);
    looping[..4].copy_from_slice(&4u32.to_le_bytes());
    fake.0.lock().unwrap().notifies = vec![
        changes(&[(1, "new.txt"), (3, "sub\\old.txt")]),
        Ok(Response::Notify {
            data: Bytes::new(),
            status: crate::wire::NtStatus::NOTIFY_ENUM_DIR,
        }),
        changes(&[(2, "gone")]),
        Ok(Response::Notify {
            data: looping.into(),
            status: crate::wire::NtStatus::SUCCESS,
        }),
    ];
    let mut w = Watch::open(fake.clone(), TreeId(1), "dir", true, DEFAULT_WATCH_FILTER);
    let mut got = Vec::new();
    let err = loop {
        match ready(w.poll_next_event(&mut cx())) {
            Some(Ok(e)) => got.push(e),
            Some(Err(e)) => break e,
            None => panic!("a watch ends with an error"),
        }
    };
    let change = |a, n: &str| {
        WatchEvent::Changed(FileNotifyInformation {
            action: a,
            file_name: n.to_string(),
        })
    };
    assert_eq!(
        got,
        [
            change(NotifyAction::Added, "new.txt"),
            change(NotifyAction::Modified, "sub\\old.txt"),
            WatchEvent::Overflow,
            change(NotifyAction::Removed, "gone"),
        ]
    );
    assert!(err.to_string().contains("FILE_NOTIFY_INFORMATION"), "{err}");
    assert!(ready(w.poll_next_event(&mut cx())).is_none());
    let s = fake.0.lock().unwrap();
    assert_eq!(
        s.log,
        [
            "Create",
            "ChangeNotify",
            "ChangeNotify",
            "ChangeNotify",
            "ChangeNotify",
            "Close"
        ]
    );
}

#[test]
fn dropping_a_watch_closes_its_directory() {
    let fake = Fake::default();
    fake.0.lock().unwrap().notifies = vec![changes(&[(1, "a")])];
    let mut w = Watch::open(fake.clone(), TreeId(1), "", false, DEFAULT_WATCH_FILTER);
    assert!(matches!(
        ready(w.poll_next_event(&mut cx())),
        Some(Ok(WatchEvent::Changed(_)))
    ));
    drop(w);
    // Re-armed after the answer; the drop closes the directory (the engine cancels the
    // outstanding CHANGE_NOTIFY on CLOSE).
    assert_eq!(
        fake.0.lock().unwrap().log,
        ["Create", "ChangeNotify", "ChangeNotify", "Close"]
    );
    // A path refused before anything is sent: one error, nothing to close.
    let fake = Fake::default();
    let mut w = Watch::open(
        fake.clone(),
        TreeId(1),
        "a/../..",
        false,
        DEFAULT_WATCH_FILTER,
    );
    assert!(ready(w.poll_next_event(&mut cx())).unwrap().is_err());
    assert!(ready(w.poll_next_event(&mut cx())).is_none());
    drop(w);
    assert!(fake.0.lock().unwrap().log.is_empty());
}

#[test]
fn fs_info_is_one_compound_and_sizes_are_overflow_checked() {
    use crate::wire::fscc::{
        FileFsAttributeInformation, FileFsFullSizeInformation, FileFsVolumeInformation, FsccInfo,
    };
    let full = FileFsFullSizeInformation {
        total_allocation_units: 1000,
        caller_available_allocation_units: 300,
        actual_available_allocation_units: 400,
        sectors_per_allocation_unit: 8,
        bytes_per_sector: 512,
    };
    let vol = FileFsVolumeInformation {
        volume_creation_time: crate::time::FileTime(42),
        volume_serial_number: 0xdead_beef,
        supports_objects: false,
        volume_label: "data".into(),
    };
    let attr = FileFsAttributeInformation {
        file_system_attributes: FileFsAttributeInformation::CASE_SENSITIVE_SEARCH,
        maximum_component_name_length: 255,
        file_system_name: "NTFS".into(),
    };
    let fake = Fake::default();
    fake.0.lock().unwrap().infos = vec![
        (7, full.to_bytes()),
        (1, vol.to_bytes()),
        (5, attr.to_bytes()),
    ];
    let ops = ShareOps::new(fake.clone(), TreeId(1));
    let info = ready(core::pin::pin!(ops.fs_info()).poll(&mut cx())).unwrap();
    assert_eq!(
        info.space,
        FsSpace {
            total: 1000 * 4096,
            free: 400 * 4096,
            available: 300 * 4096,
            unit: 4096,
        }
    );
    assert_eq!(info.space.used(), 600 * 4096);
    assert_eq!((info.label.as_str(), info.serial), ("data", 0xdead_beef));
    assert_eq!((info.fs_name.as_str(), info.max_name_len), ("NTFS", 255));
    assert_eq!(info.created, crate::time::FileTime(42));
    assert!(info.has(FileFsAttributeInformation::CASE_SENSITIVE_SEARCH));
    assert_eq!(
        fake.0.lock().unwrap().log,
        [
            "Compound",
            "Create",
            "QueryInfo",
            "QueryInfo",
            "QueryInfo",
            "Close"
        ]
    );
    let space = ready(core::pin::pin!(ops.space()).poll(&mut cx())).unwrap();
    assert_eq!(space, info.space);
    // Units x sectors x bytes past 64 bits: an error, not a wrapped number.
    for (units, sectors, bytes) in [(u64::MAX, 1, 2), (1 << 40, 1 << 16, 1 << 16)] {
        let big = FileFsFullSizeInformation {
            total_allocation_units: units,
            sectors_per_allocation_unit: sectors,
            bytes_per_sector: bytes,
            ..full
        };
        assert!(FsSpace::from_full_size(&big).is_err());
    }
    // A QUERY_INFO refused inside the compound fails the call.
    fake.0.lock().unwrap().infos.remove(1);
    assert!(ready(core::pin::pin!(ops.fs_info()).poll(&mut cx())).is_err());
}

/// A file that keeps growing while it is read whole (the server sends more than it
/// reported): refused once past the limit, never an unbounded buffer; under the limit the
/// growth is read to its end.
#[test]
fn a_whole_file_read_stops_at_its_limit() {
    let read = |limit: u64| {
        let fake = Fake::default();
        // Reported 64 KiB, but 1 MiB is there (it grew since the CREATE).
        fake.0.lock().unwrap().data = (0..1 << 20).map(|i| i as u8).collect();
        let ops = ShareOps::new(fake, TreeId(1));
        ready(core::pin::pin!(ops.read_all(FileHandle(7), 64 << 10, limit)).poll(&mut cx()))
    };
    let e = read(256 << 10).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge);
    assert!(e.to_string().contains("grew past 262144 bytes"), "{e}");
    let all = read(2 << 20).unwrap();
    assert_eq!(all.len(), 1 << 20, "the growth is read to the end");
    // A reported size over the limit is refused before anything is read.
    let e = read(32 << 10).unwrap_err();
    assert!(
        e.to_string().contains("the server reports 65536 bytes"),
        "{e}"
    );
}

/// Records every request and answers LOCK with `Locked`.
#[derive(Clone, Default)]
struct LockLog(Arc<Mutex<Vec<Request>>>);

impl Submitter for LockLog {
    type Reply = Ready<Result<Response, OpError>>;
    fn submit(&self, request: Request) -> Self::Reply {
        self.0.lock().unwrap().push(request);
        core::future::ready(Ok(Response::Locked))
    }
}

#[test]
fn lock_calls_send_the_flags_of_ms_smb2_2_2_26_1() {
    use crate::client::LockRange;
    let log = LockLog::default();
    let io = FileIo::new(log.clone(), FileHandle(3), FileIoConfig::default());
    fn run(f: impl Future<Output = Result<(), OpError>>) {
        let mut f = core::pin::pin!(f);
        ready(f.as_mut().poll(&mut cx())).expect("locked");
    }
    run(io.lock(10, 5, true, true));
    run(io.lock(10, 5, false, true));
    run(io.lock(10, 5, true, false));
    run(io.lock(10, 5, false, false));
    run(io.unlock(10, 5));
    let flags: Vec<u32> = log
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|r| match r {
            Request::Lock { file, locks } => {
                assert_eq!(*file, FileHandle(3));
                let [
                    LockRange {
                        offset: 10,
                        length: 5,
                        flags,
                    },
                ] = locks[..]
                else {
                    panic!("one element for 10..15: {locks:?}")
                };
                flags
            }
            other => panic!("not a LOCK: {other:?}"),
        })
        .collect();
    // EXCLUSIVE 0x2, SHARED 0x1, FAIL_IMMEDIATELY 0x10, UNLOCK 0x4.
    assert_eq!(flags, [0x2, 0x1, 0x12, 0x11, 0x4]);
}
