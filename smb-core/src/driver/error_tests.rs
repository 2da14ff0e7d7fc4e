//! The messages a user sees: one layer naming the operation called and its path, then the
//! cause and the NTSTATUS, for every file operation (against a fake server that fails
//! every request with one status).

extern crate std;

use super::*;
use crate::client::{FileAttributes, FileHandle, TreeId};
use crate::wire::{Command as Cmd, NtStatus};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::Ready;
use core::task::{Context, Poll, Waker};

/// Fails CREATE with `create` and every other request with `other`.
#[derive(Clone)]
struct Failing {
    create: NtStatus,
    other: NtStatus,
}

fn command_of(r: &Request) -> Cmd {
    match r {
        Request::Create { .. } => Cmd::Create,
        Request::Read { .. } => Cmd::Read,
        Request::Write { .. } => Cmd::Write,
        Request::SetInfo { .. } => Cmd::SetInfo,
        Request::QueryInfo { .. } => Cmd::QueryInfo,
        Request::QueryDirectory { .. } => Cmd::QueryDirectory,
        Request::Close { .. } => Cmd::Close,
        _ => Cmd::Ioctl,
    }
}

impl Failing {
    fn answer(&self, r: Request) -> Result<Response, OpError> {
        let status = |r: &Request| match r {
            Request::Create { .. } => self.create,
            _ => self.other,
        };
        match r {
            Request::Compound(rs) => Ok(Response::Compound(
                rs.iter()
                    .map(|r| Err(OpError::from_status(status(r), command_of(r))))
                    .collect(),
            )),
            r => Err(OpError::from_status(status(&r), command_of(&r))),
        }
    }
}

impl Submitter for Failing {
    type Reply = Ready<Result<Response, OpError>>;
    fn submit(&self, request: Request) -> Self::Reply {
        core::future::ready(self.answer(request))
    }
}

fn now<T>(f: impl Future<Output = T>) -> T {
    let mut f = core::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(t) => t,
        Poll::Pending => panic!("the fake answers at once"),
    }
}

fn ops(create: NtStatus, other: NtStatus) -> ShareOps<Failing> {
    ShareOps::new(Failing { create, other }, TreeId(1))
}

fn msg<T: core::fmt::Debug>(r: Result<T, OpError>) -> String {
    r.expect_err("the fake fails everything").to_string()
}

#[test]
fn share_operations_name_the_call_and_the_path() {
    let s = ops(NtStatus::OBJECT_NAME_NOT_FOUND, NtStatus::SUCCESS);
    let nf = "no such file or directory (STATUS_OBJECT_NAME_NOT_FOUND)";
    let cases: Vec<(String, String)> = Vec::from([
        (
            msg(now(s.open("/a/b.txt", crate::client::OpenOptions::new()))),
            alloc::format!("open /a/b.txt: {nf}"),
        ),
        (
            msg(now(s.metadata("a/b"))),
            alloc::format!("metadata a/b: {nf}"),
        ),
        (msg(now(s.read("a/b"))), alloc::format!("read a/b: {nf}")),
        (
            msg(now(s.write("a/b", bytes::Bytes::from_static(b"x")))),
            alloc::format!("write a/b: {nf}"),
        ),
        (
            msg(now(s.remove_file("a/b"))),
            alloc::format!("remove_file a/b: {nf}"),
        ),
        (
            msg(now(s.remove_dir("a/b"))),
            alloc::format!("remove_dir a/b: {nf}"),
        ),
        (
            msg(now(s.create_dir("a/b"))),
            alloc::format!("create_dir a/b: {nf}"),
        ),
        (
            msg(now(s.set_len("a/b", 1))),
            alloc::format!("set_len a/b: {nf}"),
        ),
        (
            msg(now(s.copy("a/b", "a/c"))),
            alloc::format!("copy a/b -> a/c: {nf}"),
        ),
    ]);
    for (got, want) in cases {
        assert_eq!(got, want);
    }
    let s = ops(NtStatus::SHARING_VIOLATION, NtStatus::SUCCESS);
    assert_eq!(
        msg(now(s.rename("/a/b", "/a/c", false))),
        "rename /a/b -> /a/c: sharing violation (STATUS_SHARING_VIOLATION)"
    );
    let s = ops(NtStatus::ACCESS_DENIED, NtStatus::SUCCESS);
    assert_eq!(
        msg(now(s.create_dir_all("x/y"))),
        "create_dir_all x/y: access denied (STATUS_ACCESS_DENIED)"
    );
    assert_eq!(
        msg(now(s.remove_dir_all("x"))),
        "remove_dir_all x: access denied (STATUS_ACCESS_DENIED)"
    );
    // A path refused before anything is sent names the call too.
    let e = now(s.metadata("a/../b")).unwrap_err();
    assert!(e.to_string().starts_with("metadata a/../b: "), "{e}");
}

#[test]
fn directory_listing_names_read_dir() {
    let s = ops(NtStatus::NOT_A_DIRECTORY, NtStatus::SUCCESS);
    let mut list = DirStream::open(s.sub.clone(), s.tree, "docs/f.txt", "*");
    let e = match list.poll_next_entry(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Some(Err(e))) => e,
        _ => panic!("the listing fails"),
    };
    assert_eq!(
        e.to_string(),
        "read_dir docs/f.txt: not a directory (STATUS_NOT_A_DIRECTORY)"
    );
}

#[test]
fn file_reads_and_writes_name_the_file() {
    let sub = Failing {
        create: NtStatus::SUCCESS,
        other: NtStatus::ACCESS_DENIED,
    };
    let attrs = FileAttributes::default();
    let opts = crate::client::OpenOptions::new().read(true).write(true);
    let io = FileIo::opened(
        sub.clone(),
        FileHandle(3),
        FileIoConfig::default(),
        &attrs,
        &opts,
    )
    .with_path("logs/app.log");
    let mut buf = [0u8; 4];
    assert_eq!(
        msg(now(io.read_at(0, &mut buf))),
        "read logs/app.log: access denied (STATUS_ACCESS_DENIED)"
    );
    assert_eq!(
        msg(now(io.write_at(0, bytes::Bytes::from_static(b"x")))),
        "write logs/app.log: access denied (STATUS_ACCESS_DENIED)"
    );
    // Without a path the SMB command is named instead (one layer either way).
    let io = FileIo::opened(sub, FileHandle(3), FileIoConfig::default(), &attrs, &opts);
    assert_eq!(
        msg(now(io.read_at(0, &mut buf))),
        "READ: access denied (STATUS_ACCESS_DENIED)"
    );
}

#[test]
fn in_use_and_wrong_type_say_which() {
    let m = |s| {
        OpError::from_status(s, Cmd::Create)
            .during("open", "f")
            .to_string()
    };
    assert_eq!(
        m(NtStatus::FILE_LOCK_CONFLICT),
        "open f: locked by another open (STATUS_FILE_LOCK_CONFLICT)"
    );
    assert_eq!(
        m(NtStatus::DELETE_PENDING),
        "open f: the file is being deleted (STATUS_DELETE_PENDING)"
    );
    assert_eq!(
        m(NtStatus::FILE_IS_A_DIRECTORY),
        "open f: is a directory (STATUS_FILE_IS_A_DIRECTORY)"
    );
    assert_eq!(
        m(NtStatus::DIRECTORY_NOT_EMPTY),
        "open f: directory not empty (STATUS_DIRECTORY_NOT_EMPTY)"
    );
    // Refusals of an owner, a group or a privilege: access denied, saying which.
    let k = |s| OpError::from_status(s, Cmd::SetInfo).kind;
    for s in [NtStatus::INVALID_OWNER, NtStatus::INVALID_PRIMARY_GROUP] {
        assert_eq!(k(s), ErrorKind::AccessDenied, "{s:?}");
    }
    assert_eq!(
        m(NtStatus::INVALID_OWNER),
        "open f: access denied: that owner cannot be assigned (STATUS_INVALID_OWNER)"
    );
    assert_eq!(
        m(NtStatus::INVALID_PRIMARY_GROUP),
        "open f: access denied: that group cannot be assigned (STATUS_INVALID_PRIMARY_GROUP)"
    );
    assert_eq!(
        m(NtStatus::PRIVILEGE_NOT_HELD),
        "open f: access denied: a privilege is needed (STATUS_PRIVILEGE_NOT_HELD)"
    );
    // A status without a message of its own: its description, then its name.
    assert_eq!(
        m(NtStatus::FILE_TOO_LARGE),
        "open f: the file is too large (STATUS_FILE_TOO_LARGE)"
    );
    assert_eq!(
        m(NtStatus(0xC0FF_FFF0)),
        "open f: the server reported an error (NTSTATUS 0xc0fffff0)"
    );
    // The innermost step's name is replaced by the call the user made.
    let e = OpError::from_status(NtStatus::ACCESS_DENIED, Cmd::Create)
        .during("open", "a")
        .during("copy", "a");
    assert_eq!(
        e.to_string(),
        "copy a: access denied (STATUS_ACCESS_DENIED)"
    );
}

/// A resolver that knows one name (`localhost`, so that a resolver wrongly bypassed would
/// still never ask DNS) and counts its calls.
#[derive(Debug, Default)]
struct OneName(
    std::sync::atomic::AtomicUsize,
    Option<core::net::SocketAddr>,
);

impl crate::client::Resolver for OneName {
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<core::net::SocketAddr>, String> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match self.1 {
            Some(a) if host == "localhost" => {
                Ok(Vec::from([core::net::SocketAddr::new(a.ip(), port)]))
            }
            _ => Err("no such host".to_string()),
        }
    }
}

#[test]
fn name_resolution_failure_is_its_own_kind() {
    use crate::client::{ChannelError, CloseReason, ErrorKind};
    let refuse = OneName::default();
    let why = resolve_target(Some(&refuse), "localhost:445").unwrap_err();
    assert_eq!(
        why,
        CloseReason::NameNotResolved("\"localhost:445\": no such host".to_string())
    );
    let e = OpError::from(ChannelError::Closed(why));
    assert!(!e.is_retryable(), "a missing name is not retried");
    assert_eq!(io_error_kind(&e), std::io::ErrorKind::HostUnreachable);
    assert_eq!(
        e.to_string(),
        "cannot resolve host name \"localhost:445\": no such host"
    );
    assert!(matches!(
        e.kind,
        ErrorKind::Channel(ChannelError::Closed(CloseReason::NameNotResolved(_)))
    ));
    // A connect failure stays retryable.
    let refused = OpError::from(ChannelError::Closed(CloseReason::ConnectFailed("x".into())));
    assert!(refused.is_retryable());

    // Addresses are used as they are: the resolver is not asked.
    let a = resolve_target(Some(&refuse), "127.0.0.1:4455").unwrap();
    assert_eq!(a, Vec::from(["127.0.0.1:4455".parse().unwrap()]));
    let a = resolve_target(Some(&refuse), "[::1]:445").unwrap();
    assert_eq!(a, Vec::from(["[::1]:445".parse().unwrap()]));
    assert_eq!(refuse.0.load(std::sync::atomic::Ordering::SeqCst), 1);

    let map = OneName(Default::default(), Some("127.0.0.1:1".parse().unwrap()));
    let a = resolve_target(Some(&map), "localhost:4455").unwrap();
    assert_eq!(a, Vec::from(["127.0.0.1:4455".parse().unwrap()]));
    // A target without a port is refused before any lookup.
    assert!(matches!(
        resolve_target(Some(&map), "localhost"),
        Err(CloseReason::NameNotResolved(_))
    ));
    assert_eq!(map.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}
