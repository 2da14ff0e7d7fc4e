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
        let mut s = self.0.lock().unwrap();
        s.log.push(request_name(&request));
        let r = match request {
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
            _ => Err(OpError::new(ErrorKind::Unsupported)),
        };
        core::future::ready(r)
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
