//! The file-system extras against a scripted submitter: the requests they build and how
//! they treat hostile or odd answers.

extern crate std;

use super::*;
use crate::client::{FileAttributes, TreeId};
use crate::driver::ops::SMALL_READ;
use crate::wire::NtStatus;
use crate::wire::error::SymlinkError;
use alloc::sync::Arc;
use alloc::vec;
use core::future::Ready;
use std::sync::Mutex;

/// Answers the middle request of each compound (and each single request) with the next
/// scripted result; CREATE and CLOSE succeed. Records every request.
type Answers = Vec<Result<Response, OpError>>;

#[derive(Clone, Default)]
/// The third field is the EndOfFile every CREATE reports.
struct Script(Arc<Mutex<(Answers, Vec<Request>, u64)>>);

impl Script {
    fn new(answers: Vec<Result<Response, OpError>>) -> Self {
        let s = Script::default();
        s.0.lock().unwrap().0 = answers.into_iter().rev().collect();
        s
    }
    fn next(&self, r: &Request) -> Result<Response, OpError> {
        let mut g = self.0.lock().unwrap();
        g.1.push(r.clone());
        match r {
            Request::Create { .. } => Ok(Response::Created {
                file: FileHandle(7),
                create_action: 1,
                attributes: FileAttributes {
                    end_of_file: g.2,
                    ..Default::default()
                },
                durable: false,
                lease_state: 0,
            }),
            Request::Close { .. } => Ok(Response::Closed),
            _ => {
                g.0.pop()
                    .unwrap_or(Err(OpError::new(ErrorKind::Unsupported)))
            }
        }
    }
    fn requests(&self) -> Vec<Request> {
        self.0.lock().unwrap().1.clone()
    }
}

impl Submitter for Script {
    type Reply = Ready<Result<Response, OpError>>;
    fn submit(&self, request: Request) -> Self::Reply {
        let r = match &request {
            // No driver behind this submitter: no lease cache (not recorded).
            Request::LeaseCache(_) => Err(OpError::new(ErrorKind::Unsupported)),
            Request::Compound(parts) => {
                let v: Vec<_> = parts.iter().map(|p| self.next(p)).collect();
                Ok(Response::Compound(v))
            }
            other => self.next(other),
        };
        core::future::ready(r)
    }
}

fn run<T>(f: impl core::future::Future<Output = T>) -> T {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        core::task::Poll::Ready(v) => v,
        core::task::Poll::Pending => panic!("the scripted submitter answers at once"),
    }
}

fn ops(s: &Script) -> super::super::ShareOps<Script> {
    super::super::ShareOps::new(s.clone(), TreeId(1))
}

fn ioctl(output: Vec<u8>, more: bool) -> Result<Response, OpError> {
    Ok(Response::Ioctl {
        output: Bytes::from(output),
        more,
    })
}

fn range(offset: u64, length: u64) -> AllocatedRange {
    AllocatedRange { offset, length }
}

#[test]
fn security_query_asks_read_control_and_the_parts() {
    let sd = SecurityDescriptor {
        owner: Some("S-1-5-21-1-2-3-1000".parse().unwrap()),
        ..Default::default()
    };
    let s = Script::new(vec![Ok(Response::Info {
        data: Bytes::from(sd.to_bytes()),
    })]);
    let got = run(ops(&s).security("a\\b", si::OWNER)).unwrap();
    assert_eq!(got.owner, sd.owner);
    let reqs = s.requests();
    match (&reqs[0], &reqs[1]) {
        (
            Request::Create { options, path, .. },
            Request::QueryInfo {
                info_type,
                additional,
                ..
            },
        ) => {
            assert_eq!(path, "a\\b");
            assert!(options.desired_access & access::READ_CONTROL != 0);
            assert_eq!((*info_type, *additional), (3, si::OWNER));
        }
        other => panic!("{other:?}"),
    }
    // A descriptor that does not decode is a protocol error, not a panic.
    let s = Script::new(vec![Ok(Response::Info {
        data: Bytes::from_static(&[1, 0, 4, 0x80, 0xff]),
    })]);
    let e = run(ops(&s).security("f", si::DACL)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol("bad security descriptor"));
}

#[test]
fn set_security_asks_write_dac_and_owner_as_needed() {
    for (parts, want, not) in [
        (si::DACL, access::WRITE_DAC, access::WRITE_OWNER),
        (
            si::OWNER | si::GROUP,
            access::WRITE_OWNER,
            access::WRITE_DAC,
        ),
    ] {
        let s = Script::new(vec![Ok(Response::InfoSet)]);
        run(ops(&s).set_security("f", &SecurityDescriptor::default(), parts)).unwrap();
        match &s.requests()[..] {
            [
                Request::Create { options, .. },
                Request::SetInfo { additional, .. },
                _,
            ] => {
                assert!(options.desired_access & want != 0);
                assert_eq!(options.desired_access & not, 0);
                assert_eq!(*additional, parts);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn allocated_ranges_continue_after_a_cut_answer() {
    let page1 = AllocatedRanges(vec![range(0, 10)]).to_bytes();
    let page2 = AllocatedRanges(vec![range(20, 5), range(30, 5)]).to_bytes();
    let s = Script::new(vec![ioctl(page1, true), ioctl(page2, false)]);
    let got = run(ops(&s).allocated_ranges("f", 0, 100)).unwrap();
    assert_eq!(got, [range(0, 10), range(20, 5), range(30, 5)]);
    let asked: Vec<_> = s
        .requests()
        .into_iter()
        .filter_map(|r| match r {
            Request::Ioctl { input, .. } => Some(AllocatedRange::decode_data(&input).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(asked, [range(0, 100), range(10, 90)]);
}

#[test]
fn allocated_ranges_refuse_hostile_answers() {
    // STATUS_BUFFER_OVERFLOW without progress (a range ending where the query began).
    let s = Script::new(vec![ioctl(AllocatedRanges(vec![]).to_bytes(), true)]);
    let e = run(ops(&s).allocated_ranges("f", 0, 100)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol("allocated ranges: no progress"));
    // A cut answer whose last range goes backwards.
    let s = Script::new(vec![
        ioctl(AllocatedRanges(vec![range(0, 50)]).to_bytes(), true),
        ioctl(AllocatedRanges(vec![range(0, 10)]).to_bytes(), true),
    ]);
    let e = run(ops(&s).allocated_ranges("f", 0, 100)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol("allocated ranges: no progress"));
    // An output that is not a whole number of entries.
    let s = Script::new(vec![ioctl(vec![0; 17], false)]);
    let e = run(ops(&s).allocated_ranges("f", 0, 100)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol("bad allocated ranges"));
    // A query range past 2^63 is refused before anything is sent.
    let s = Script::new(vec![]);
    let e = run(ops(&s).allocated_ranges("f", 1 << 62, 1 << 62)).unwrap_err();
    assert_eq!(e.status, Some(NtStatus::INVALID_PARAMETER));
    assert!(s.requests().is_empty());
    let e = run(ops(&s).zero_range("f", u64::MAX, 1)).unwrap_err();
    assert_eq!(e.status, Some(NtStatus::INVALID_PARAMETER));
    assert!(s.requests().is_empty());
}

#[test]
fn snapshots_decode_and_refuse_garbage() {
    let arr = SnapshotArray {
        number_of_snapshots: 1,
        snapshot_array_size: 52,
        snapshots: vec!["@GMT-2026.01.01-00.00.00".into()],
    };
    let s = Script::new(vec![ioctl(arr.to_bytes(), false)]);
    assert_eq!(
        run(ops(&s).snapshots("")).unwrap(),
        ["@GMT-2026.01.01-00.00.00"]
    );
    let s = Script::new(vec![ioctl(
        vec![9, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0x41],
        false,
    )]);
    let e = run(ops(&s).snapshots("")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol("bad snapshot array"));
}

fn stopped(unparsed: u16) -> Result<Response, OpError> {
    let mut e = OpError::from_status(NtStatus::STOPPED_ON_SYMLINK, crate::wire::Command::Ioctl);
    e.symlink = Some(alloc::boxed::Box::new(SymlinkError {
        unparsed_path_length: unparsed,
        substitute_name: "\\??\\C:\\target".into(),
        print_name: "C:\\target".into(),
        flags: 0,
    }));
    Err(e)
}

#[test]
fn read_link_from_reparse_data_or_the_symlink_error() {
    let data = SymlinkReparse {
        substitute_name: "t.txt".into(),
        print_name: "t.txt".into(),
        flags: crate::wire::fsctl_fs::SYMLINK_FLAG_RELATIVE,
    };
    let s = Script::new(vec![ioctl(data.to_bytes(), false)]);
    assert_eq!(run(ops(&s).read_link("l")).unwrap(), data);
    match &s.requests()[0] {
        Request::Create { options, .. } => {
            assert!(options.create_options & create_options::OPEN_REPARSE_POINT != 0)
        }
        other => panic!("{other:?}"),
    }
    // STOPPED_ON_SYMLINK on the link itself: its target.
    let s = Script::new(vec![stopped(0)]);
    let got = run(ops(&s).read_link("l")).unwrap();
    assert_eq!(got.print_name, "C:\\target");
    // ... on a link further up the path: an error, the link's data kept in it.
    let s = Script::new(vec![stopped(8)]);
    let e = run(ops(&s).read_link("d\\l")).unwrap_err();
    assert_eq!(e.symlink.map(|l| l.unparsed_path_length), Some(8));
    // Reparse data of another kind.
    let mut other = data.to_bytes();
    other[..4].copy_from_slice(&0xA000_0003u32.to_le_bytes());
    let s = Script::new(vec![ioctl(other, false)]);
    let e = run(ops(&s).read_link("l")).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Protocol("not a symbolic link's reparse data")
    );
    // NOT_A_REPARSE_POINT: the message says why.
    let s = Script::new(vec![Err(OpError::from_status(
        NtStatus::NOT_A_REPARSE_POINT,
        crate::wire::Command::Ioctl,
    ))]);
    let e = run(ops(&s).read_link("f")).unwrap_err();
    assert!(
        e.context.unwrap().contains("not a symbolic link"),
        "context names the cause"
    );
}

fn read_answer(data: &[u8]) -> Result<Response, OpError> {
    Ok(Response::Read {
        data: vec![bytes::Bytes::copy_from_slice(data)],
        eof: false,
    })
}

/// `read` of a small file: one CREATE + READ + CLOSE compound, nothing else on the wire.
#[test]
fn a_small_file_is_read_in_one_compound() {
    let s = Script::new(vec![read_answer(b"hello")]);
    s.0.lock().unwrap().2 = 5;
    assert_eq!(run(ops(&s).read("a.txt")).unwrap(), b"hello");
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert!(
        matches!(reqs[1], Request::Read { file: FileHandle::RELATED, offset: 0, len } if len == SMALL_READ)
    );
    assert!(matches!(
        reqs[2],
        Request::Close {
            file: FileHandle::RELATED
        }
    ));
    // An empty file: the READ answers END_OF_FILE.
    let s = Script::new(vec![Err(OpError::from_status(
        NtStatus::END_OF_FILE,
        crate::wire::Command::Read,
    ))]);
    assert_eq!(run(ops(&s).read("empty")).unwrap(), b"");
    assert_eq!(s.requests().len(), 3);
}

/// A file larger than the first READ (or one whose reported size and data disagree) is read
/// again through an open handle, whole: the compound's bytes are never taken as the file.
#[test]
fn a_file_larger_than_the_first_read_is_read_whole() {
    // CREATE says 8 bytes; the compound's READ brings 5 (a size that moved, or a short
    // answer); the careful path then reads all 8.
    let eof = || {
        Err(OpError::from_status(
            NtStatus::END_OF_FILE,
            crate::wire::Command::Read,
        ))
    };
    let s = Script::new(vec![read_answer(b"hello"), read_answer(b"hello123"), eof()]);
    s.0.lock().unwrap().2 = 8;
    assert_eq!(run(ops(&s).read("a.txt")).unwrap(), b"hello123");
    let reqs = s.requests();
    assert!(reqs.len() > 3, "the careful path ran: {reqs:?}");
    assert!(matches!(reqs[3], Request::Create { .. }), "{reqs:?}");
}

/// `write` of a small file: one CREATE + WRITE + CLOSE compound; a short acknowledgement
/// sends it all again through an open handle; the CLOSE's error is not dropped.
#[test]
fn a_small_file_is_written_in_one_compound() {
    let written = |n: u64| Ok(Response::Written { count: n });
    let s = Script::new(vec![written(5)]);
    run(ops(&s).write("a.txt", bytes::Bytes::from_static(b"hello"))).unwrap();
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert!(
        matches!(&reqs[1], Request::Write { file: FileHandle::RELATED, offset: 0, data } if &data[..] == b"hello")
    );
    // Short: 2 of 5 acknowledged in the compound, then the careful path writes all 5.
    let s = Script::new(vec![written(2), written(5)]);
    run(ops(&s).write("a.txt", bytes::Bytes::from_static(b"hello"))).unwrap();
    let reqs = s.requests();
    assert!(matches!(reqs[3], Request::Create { .. }), "{reqs:?}");
    assert!(
        matches!(&reqs[4], Request::Write { file: FileHandle(7), data, .. } if data.len() == 5)
    );
    // An empty file: CREATE + CLOSE only.
    let s = Script::new(vec![]);
    run(ops(&s).write("e.txt", bytes::Bytes::new())).unwrap();
    assert_eq!(s.requests().len(), 2);
    // A WRITE error is the answer.
    let s = Script::new(vec![Err(OpError::from_status(
        NtStatus::DISK_FULL,
        crate::wire::Command::Write,
    ))]);
    let e = run(ops(&s).write("a.txt", bytes::Bytes::from_static(b"x"))).unwrap_err();
    assert_eq!(e.status, Some(NtStatus::DISK_FULL));
}
