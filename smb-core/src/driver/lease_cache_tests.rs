//! The lease cache's bookkeeping, then the share operations and the driver using it.

use super::*;
use crate::wire::create_context::LeaseState;

const RH: u32 = LeaseState::READ_CACHING | LeaseState::HANDLE_CACHING;
const T: TreeId = TreeId(1);

fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

fn meta(size: u64) -> Metadata {
    Metadata {
        size,
        ..Metadata::default()
    }
}

fn cache() -> LeaseCache {
    LeaseCache::new(Duration::from_millis(1000), 3)
}

fn put(c: &mut LeaseCache, path: &str, file: u32, state: u32, now: Instant) -> Vec<FileHandle> {
    c.insert(
        T,
        path.into(),
        FileHandle(file),
        meta(u64::from(file)),
        None,
        state,
        now,
    )
}

#[test]
fn a_read_and_handle_lease_is_kept_until_its_time_is_up() {
    let mut c = cache();
    assert_eq!(c.lookup(T, "a", at(0)), None);
    assert!(put(&mut c, "a", 7, RH, at(0)).is_empty());
    assert_eq!(
        c.lookup(T, "a", at(999)),
        Some(LeaseCacheAnswer::Hit {
            file: FileHandle(7),
            metadata: meta(7),
            data: None,
        })
    );
    // Another share, another spelling: not this entry.
    assert_eq!(c.lookup(TreeId(2), "a", at(1)), None);
    assert_eq!(c.next_expiry(), Some(at(1000)));
    // Expired: a miss at once, and the timer hands the handle back to be closed.
    assert_eq!(c.lookup(T, "a", at(1000)), None);
    assert!(c.expire(at(999)).is_empty());
    assert_eq!(c.expire(at(1000)), [FileHandle(7)]);
    assert_eq!(c.next_expiry(), None);
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.inserted, s.expired), (1, 3, 1, 1));
    assert_eq!(s.entries, 0);
}

#[test]
fn without_read_and_handle_caching_the_handle_is_closed_and_the_path_remembered() {
    for state in [
        0,
        LeaseState::READ_CACHING,
        LeaseState::HANDLE_CACHING,
        LeaseState::READ_CACHING | LeaseState::WRITE_CACHING,
    ] {
        let mut c = cache();
        assert_eq!(
            put(&mut c, "d", 9, state, at(0)),
            [FileHandle(9)],
            "{state}"
        );
        // Not worth a lease open again for a while; no hit counted.
        assert_eq!(
            c.lookup(T, "d", at(1)),
            Some(LeaseCacheAnswer::Miss { cacheable: false })
        );
        assert_eq!(c.stats().hits, 0);
        // A break names handles only: a remembered path has none.
        assert!(!c.on_break(FileHandle(9)));
        assert_eq!(c.expire(at(1000)), []);
        assert_eq!(c.lookup(T, "d", at(1000)), None);
    }
}

#[test]
fn a_cache_turned_off_keeps_nothing() {
    for mut c in [
        LeaseCache::new(Duration::ZERO, 10),
        LeaseCache::new(Duration::from_secs(1), 0),
    ] {
        assert!(!c.enabled());
        assert_eq!(put(&mut c, "a", 1, RH, at(0)), [FileHandle(1)]);
        assert_eq!(c.lookup(T, "a", at(0)), None);
        assert_eq!(c.stats().entries, 0);
    }
}

#[test]
fn the_entry_limit_closes_the_oldest_and_a_replaced_handle() {
    let mut c = cache();
    for (i, p) in ["a", "b", "c"].iter().enumerate() {
        assert!(put(&mut c, p, i as u32 + 1, RH, at(i as u64)).is_empty());
    }
    // Full: "a" (the oldest) makes room.
    assert_eq!(put(&mut c, "d", 4, RH, at(10)), [FileHandle(1)]);
    assert_eq!(c.lookup(T, "a", at(11)), None);
    assert_eq!(c.stats().entries, 3);
    // A second open of a cached path replaces it; the old handle is closed.
    assert_eq!(put(&mut c, "b", 5, RH, at(12)), [FileHandle(2)]);
    assert!(matches!(
        c.lookup(T, "b", at(13)),
        Some(LeaseCacheAnswer::Hit {
            file: FileHandle(5),
            ..
        })
    ));
}

#[test]
fn a_break_ends_the_entry_of_its_handle_only() {
    let mut c = cache();
    put(&mut c, "a", 1, RH, at(0));
    put(&mut c, "b", 2, RH, at(0));
    assert!(!c.on_break(FileHandle(99)));
    assert!(c.on_break(FileHandle(1)));
    assert!(!c.on_break(FileHandle(1)), "counted once");
    assert_eq!(c.lookup(T, "a", at(1)), None);
    assert!(c.lookup(T, "b", at(1)).is_some());
    assert_eq!(c.stats().broken, 1);
}

#[test]
fn invalidation_covers_the_path_and_below_in_any_case() {
    let mut c = LeaseCache::new(Duration::from_secs(1), 10);
    put(&mut c, "dir\\a.txt", 1, RH, at(0));
    put(&mut c, "dir\\sub\\b.txt", 2, RH, at(0));
    put(&mut c, "dir2\\c.txt", 3, RH, at(0));
    put(&mut c, "dir", 4, 0, at(0)); // a remembered directory, no handle
    let mut closed = c.invalidate(T, "DIR");
    closed.sort();
    assert_eq!(closed, [FileHandle(1), FileHandle(2)]);
    // "dir2" is not below "dir"; the remembered "dir" is forgotten too.
    assert!(c.lookup(T, "dir2\\c.txt", at(1)).is_some());
    assert_eq!(c.lookup(T, "dir", at(1)), None);
    assert_eq!(c.invalidate(TreeId(2), "dir2"), []);
    assert_eq!(c.stats().invalidated, 2);
    // The share's disconnect and shutdown close everything left.
    put(&mut c, "x", 5, RH, at(0));
    let mut all = c.drop_tree(T);
    all.sort();
    assert_eq!(all, [FileHandle(3), FileHandle(5)]);
    put(&mut c, "y", 6, RH, at(0));
    assert_eq!(c.clear(), [FileHandle(6)]);
}

#[test]
fn bytes_are_kept_for_small_files_of_the_same_handle_only() {
    let mut c = cache();
    let big = Bytes::from(alloc::vec![0u8; MAX_CACHED_FILE + 1]);
    c.insert(
        T,
        "big".into(),
        FileHandle(1),
        meta(0),
        Some(big.clone()),
        RH,
        at(0),
    );
    assert!(matches!(
        c.lookup(T, "big", at(1)),
        Some(LeaseCacheAnswer::Hit { data: None, .. })
    ));
    c.store_data(T, "big", FileHandle(1), big);
    assert!(matches!(
        c.lookup(T, "big", at(1)),
        Some(LeaseCacheAnswer::Hit { data: None, .. })
    ));
    put(&mut c, "s", 2, RH, at(0));
    // Bytes read through a handle that is no longer the cached one are stale: dropped.
    c.store_data(T, "s", FileHandle(3), Bytes::from_static(b"old"));
    assert!(matches!(
        c.lookup(T, "s", at(1)),
        Some(LeaseCacheAnswer::Hit { data: None, .. })
    ));
    c.store_data(T, "s", FileHandle(2), Bytes::from_static(b"new"));
    assert_eq!(
        c.lookup(T, "s", at(1)),
        Some(LeaseCacheAnswer::Hit {
            file: FileHandle(2),
            metadata: meta(2),
            data: Some(Bytes::from_static(b"new")),
        })
    );
}

// ---- The share operations against a fake server whose "driver" runs `LeaseCache::apply`.

mod ops {
    extern crate std;
    use super::super::super::{ShareOps, Submitter};
    use super::*;
    use crate::client::{ErrorKind, FileAttributes, OpError, OpenOptions, Request, Response};
    use crate::wire::NtStatus;
    use crate::wire::fscc::{FileAllInformation, FsccInfo};
    use alloc::collections::BTreeMap;
    use alloc::sync::Arc;
    use core::future::{Future, Ready};
    use core::task::{Context, Poll, Waker};
    use std::sync::Mutex;

    struct State {
        cache: LeaseCache,
        /// Every request the server saw (the cache's own requests are not sent).
        sent: Vec<&'static str>,
        /// Every handle closed, in order.
        closed: Vec<FileHandle>,
        files: BTreeMap<String, Vec<u8>>,
        open: BTreeMap<FileHandle, String>,
        next: u32,
        /// The lease state CREATE grants.
        grant: u32,
        /// Refuse opens asking for read data access.
        deny_read: bool,
        /// The server offers leases.
        leasing: bool,
    }

    #[derive(Clone)]
    struct Fake(Arc<Mutex<State>>);

    impl Fake {
        fn new(files: &[(&str, &[u8])]) -> Fake {
            Fake(Arc::new(Mutex::new(State {
                cache: LeaseCache::new(Duration::from_secs(60), 8),
                sent: Vec::new(),
                closed: Vec::new(),
                files: files
                    .iter()
                    .map(|(p, d)| (String::from(*p), d.to_vec()))
                    .collect(),
                open: BTreeMap::new(),
                next: 1,
                grant: RH,
                deny_read: false,
                leasing: true,
            })))
        }
        fn sent(&self) -> Vec<&'static str> {
            core::mem::take(&mut self.0.lock().unwrap().sent)
        }
        fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
            f(&mut self.0.lock().unwrap())
        }
    }

    fn all_info(size: u64) -> Vec<u8> {
        let mut all = FileAllInformation::default();
        all.standard.end_of_file = size;
        all.internal.index_number = 77;
        all.to_bytes()
    }

    impl State {
        fn close(&mut self, f: FileHandle) -> Result<Response, OpError> {
            self.closed.push(f);
            match self.open.remove(&f) {
                Some(_) => Ok(Response::Closed),
                None => Err(OpError::new(ErrorKind::InvalidHandle)),
            }
        }

        fn answer(
            &mut self,
            r: Request,
            related: &mut Option<FileHandle>,
        ) -> Result<Response, OpError> {
            let file = |f: FileHandle, rel: &Option<FileHandle>| {
                if f == FileHandle::RELATED {
                    rel.unwrap_or(f)
                } else {
                    f
                }
            };
            match r {
                Request::LeaseCache(op) => {
                    let grant = self.grant;
                    let step = self.cache.apply(op, self.leasing, |_| grant, at(0));
                    for f in step.close.iter().chain(&step.close_first) {
                        let _ = self.close(*f);
                    }
                    Ok(Response::LeaseCache(step.answer))
                }
                Request::Compound(v) => {
                    let mut rel = None;
                    let out = v.into_iter().map(|r| self.answer(r, &mut rel)).collect();
                    Ok(Response::Compound(out))
                }
                other => {
                    self.sent.push(other.name());
                    match other {
                        Request::Create { path, options, .. } => {
                            if self.deny_read
                                && options.desired_access & crate::client::access::GENERIC_READ != 0
                            {
                                return Err(OpError::from_status(
                                    NtStatus::ACCESS_DENIED,
                                    crate::wire::Command::Create,
                                ));
                            }
                            let size = match self.files.get(&path) {
                                Some(d) => d.len() as u64,
                                None => {
                                    return Err(OpError::from_status(
                                        NtStatus::OBJECT_NAME_NOT_FOUND,
                                        crate::wire::Command::Create,
                                    ));
                                }
                            };
                            let f = FileHandle(self.next);
                            self.next += 1;
                            self.open.insert(f, path);
                            *related = Some(f);
                            let lease = if options.lease == Some(true) {
                                self.grant
                            } else {
                                0
                            };
                            Ok(Response::Created {
                                file: f,
                                create_action: 1,
                                attributes: FileAttributes {
                                    end_of_file: size,
                                    ..FileAttributes::default()
                                },
                                durable: false,
                                lease_state: lease,
                            })
                        }
                        Request::QueryInfo { file: f, .. } => {
                            let f = file(f, related);
                            let path = self
                                .open
                                .get(&f)
                                .ok_or(OpError::new(ErrorKind::InvalidHandle))?;
                            let size = self.files[path].len() as u64;
                            Ok(Response::Info {
                                data: Bytes::from(all_info(size)),
                            })
                        }
                        Request::Read {
                            file: f,
                            offset,
                            len,
                        } => {
                            let f = file(f, related);
                            let path = self
                                .open
                                .get(&f)
                                .ok_or(OpError::new(ErrorKind::InvalidHandle))?;
                            let d = &self.files[path];
                            let start = (offset as usize).min(d.len());
                            if start == d.len() {
                                return Err(OpError::from_status(
                                    NtStatus::END_OF_FILE,
                                    crate::wire::Command::Read,
                                ));
                            }
                            let end = (start + len as usize).min(d.len());
                            Ok(Response::Read {
                                data: alloc::vec![Bytes::copy_from_slice(&d[start..end])],
                                eof: end == d.len(),
                            })
                        }
                        Request::Close { file: f } => {
                            let f = file(f, related);
                            self.close(f)
                        }
                        Request::SetInfo { file: f, .. } => {
                            // A rename or delete meeting one of our own handles: what Samba
                            // answers for a directory with a file open below it.
                            let dir = alloc::format!("{}\\", self.open[&file(f, related)]);
                            if self.open.values().any(|p| p.starts_with(&dir)) {
                                return Err(OpError::from_status(
                                    NtStatus::ACCESS_DENIED,
                                    crate::wire::Command::SetInfo,
                                ));
                            }
                            Ok(Response::InfoSet)
                        }
                        Request::Write { data, .. } => Ok(Response::Written {
                            count: data.len() as u64,
                        }),
                        _ => Err(OpError::new(ErrorKind::Unsupported)),
                    }
                }
            }
        }
    }

    impl Submitter for Fake {
        type Reply = Ready<Result<Response, OpError>>;
        fn submit(&self, request: Request) -> Self::Reply {
            let mut rel = None;
            core::future::ready(self.0.lock().unwrap().answer(request, &mut rel))
        }
    }

    fn run<T>(f: impl Future<Output = T>) -> T {
        let mut f = core::pin::pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(t) => t,
            Poll::Pending => panic!("fake replies are immediate"),
        }
    }

    #[test]
    fn repeats_are_answered_without_a_request() {
        let fake = Fake::new(&[("a.txt", b"hello")]);
        let ops = ShareOps::new(fake.clone(), T);
        let m = run(ops.metadata("a.txt")).unwrap();
        assert_eq!((m.size, m.file_id), (5, 77));
        // One compound without CLOSE: the handle stays open, in the cache.
        assert_eq!(fake.sent(), ["Create", "QueryInfo"]);
        assert_eq!(run(ops.metadata("a.txt")).unwrap(), m);
        assert!(run(ops.exists("a.txt")).unwrap());
        assert_eq!(fake.sent(), [] as [&str; 0]);
        // The first read goes through the cached handle; the bytes are then kept.
        assert_eq!(run(ops.read("a.txt")).unwrap(), b"hello");
        assert_eq!(fake.sent(), ["Read"]);
        assert_eq!(run(ops.read("a.txt")).unwrap(), b"hello");
        assert_eq!(fake.sent(), [] as [&str; 0]);
        let s = fake.with(|s| s.cache.stats());
        assert_eq!((s.hits, s.misses, s.inserted), (4, 1, 1));
        assert!(fake.with(|s| s.closed.is_empty()));
    }

    #[test]
    fn a_read_miss_keeps_the_bytes_of_a_small_file_and_reads_a_big_one_through_the_handle() {
        let big = alloc::vec![7u8; SMALL_READ_LEN + 10];
        let fake = Fake::new(&[("s", b"tiny"), ("b", &big)]);
        let ops = ShareOps::new(fake.clone(), T);
        assert_eq!(run(ops.read("s")).unwrap(), b"tiny");
        assert_eq!(fake.sent(), ["Create", "QueryInfo", "Read"]);
        assert_eq!(run(ops.read("s")).unwrap(), b"tiny");
        assert_eq!(run(ops.metadata("s")).unwrap().size, 4);
        assert_eq!(fake.sent(), [] as [&str; 0]);
        // Too big for the first READ: the rest through the kept handle; bytes not kept.
        assert_eq!(run(ops.read("b")).unwrap(), big);
        let sent = fake.sent();
        assert_eq!(sent[..3], ["Create", "QueryInfo", "Read"]);
        assert!(
            sent[3..].iter().all(|r| *r == "Read") && sent.len() > 3,
            "{sent:?}"
        );
        assert_eq!(run(ops.read("b")).unwrap(), big);
        assert!(!fake.sent().contains(&"Create"));
    }

    #[test]
    fn no_lease_granted_closes_the_handle_and_uses_the_plain_path_after() {
        let fake = Fake::new(&[("a", b"x")]);
        fake.with(|s| s.grant = LeaseState::READ_CACHING);
        let ops = ShareOps::new(fake.clone(), T);
        assert_eq!(run(ops.metadata("a")).unwrap().size, 1);
        assert_eq!(fake.sent(), ["Create", "QueryInfo"]);
        assert_eq!(fake.with(|s| s.closed.clone()), [FileHandle(1)]);
        // Remembered: the next stat is the one compound that closes at once.
        assert_eq!(run(ops.metadata("a")).unwrap().size, 1);
        assert_eq!(fake.sent(), ["Create", "QueryInfo", "Close"]);
        assert!(fake.with(|s| s.open.is_empty()));
    }

    #[test]
    fn a_server_without_leases_or_a_refused_read_open_takes_the_plain_path() {
        let fake = Fake::new(&[("a", b"xy")]);
        fake.with(|s| s.leasing = false);
        let ops = ShareOps::new(fake.clone(), T);
        for _ in 0..2 {
            assert_eq!(run(ops.metadata("a")).unwrap().size, 2);
            assert_eq!(fake.sent(), ["Create", "QueryInfo", "Close"]);
            assert_eq!(run(ops.read("a")).unwrap(), b"xy");
            assert_eq!(fake.sent(), ["Create", "Read", "Close"]);
        }
        // A file the user may stat but not read: the lease open is refused, the stat works.
        let fake = Fake::new(&[("a", b"xy")]);
        fake.with(|s| s.deny_read = true);
        let ops = ShareOps::new(fake.clone(), T);
        assert_eq!(run(ops.metadata("a")).unwrap().size, 2);
        // (The whole compound goes out; its QUERY_INFO fails with the CREATE.)
        assert_eq!(
            fake.sent(),
            ["Create", "QueryInfo", "Create", "QueryInfo", "Close"]
        );
        // Not found is an answer, not a reason to try again.
        fake.with(|s| s.deny_read = false);
        let e = run(ops.metadata("missing")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(fake.sent(), ["Create", "QueryInfo"]);
    }

    #[test]
    fn changes_through_the_client_close_the_cached_handle_first() {
        let fake = Fake::new(&[("d", b""), ("d\\a", b"1"), ("d\\b", b"2"), ("e", b"3")]);
        let ops = ShareOps::new(fake.clone(), T);
        for p in ["d/a", "d/b", "e"] {
            run(ops.metadata(p)).unwrap();
        }
        fake.sent();
        // The rename of the directory closes both handles below it before it is sent
        // (the fake refuses a rename while another handle is open, as Samba does).
        run(ops.rename("d", "f", false)).unwrap();
        // Both cached handles first, then the rename's own (handle 4, after "e"'s 3).
        let closed = fake.with(|s| s.closed.clone());
        assert_eq!(closed, [FileHandle(1), FileHandle(2), FileHandle(4)]);
        assert_eq!(fake.sent(), ["Create", "SetInfo", "Close"]);
        // A write, set_len, set_times, an open of its own (even to read): the entry goes,
        // the next stat asks the server.
        for change in 0..4 {
            run(ops.metadata("e")).unwrap();
            fake.sent();
            match change {
                0 => run(ops.write("e", Bytes::from_static(b"new"))).unwrap(),
                1 => run(ops.set_len("e", 0)).unwrap(),
                2 => run(ops.set_times("e", None, None, None)).unwrap(),
                _ => drop(run(ops.open("e", OpenOptions::new().read(true))).unwrap()),
            }
            assert!(
                fake.with(|s| s.cache.lookup(T, "e", at(0)).is_none()),
                "{change}"
            );
            fake.sent();
        }
        assert_eq!(fake.with(|s| s.cache.stats().invalidated), 6);
    }

    #[test]
    fn without_a_driver_nothing_is_cached_and_no_handle_is_left_open() {
        // A submitter that refuses the cache's requests (no driver behind it).
        #[derive(Clone)]
        struct NoCache(Fake);
        impl Submitter for NoCache {
            type Reply = Ready<Result<Response, OpError>>;
            fn submit(&self, request: Request) -> Self::Reply {
                if matches!(request, Request::LeaseCache(_)) {
                    return core::future::ready(Err(OpError::new(ErrorKind::Unsupported)));
                }
                self.0.submit(request)
            }
        }
        let fake = Fake::new(&[("a", b"x")]);
        let ops = ShareOps::new(NoCache(fake.clone()), T);
        assert_eq!(run(ops.metadata("a")).unwrap().size, 1);
        assert_eq!(fake.sent(), ["Create", "QueryInfo", "Close"]);
        assert!(fake.with(|s| s.open.is_empty()));
    }

    const SMALL_READ_LEN: usize = super::super::super::ops::SMALL_READ as usize;
}

// ---- The driver answers the cache's requests itself; the engine alone refuses them.

mod driver {
    extern crate std;
    use super::super::super::{Command, Completion, Credentials, Driver, StatsSnapshot};
    use super::*;
    use crate::client::{
        Client, ClientConfig, OpError, Request, Response, ServerAddr, SubmitError,
    };
    use crate::time::FileTime;
    use alloc::boxed::Box;
    use alloc::sync::Arc;
    use std::sync::Mutex;

    type Results = Arc<Mutex<Vec<Result<Response, OpError>>>>;
    struct Slot(Results);
    impl Completion for Slot {
        fn complete(self, r: Result<Response, OpError>) -> bool {
            self.0.lock().unwrap().push(r);
            true
        }
    }

    fn client(config: ClientConfig) -> Client {
        let auth = Credentials::anonymous().into_auth_factory().unwrap();
        Client::new(config, auth, Box::new(rand_core::OsRng), at(0), FileTime(0))
    }

    fn submit(d: &mut Driver<Slot>, out: &Results, request: Request) {
        let waiter = Slot(out.clone());
        d.handle(Command::Submit { request, waiter }, at(0));
        while d.poll_action(at(0)).is_some() {}
    }

    /// A handle (3) for "a" handed to the cache.
    fn insert_a() -> Request {
        Request::LeaseCache(LeaseCacheOp::Insert {
            tree: T,
            path: "a".into(),
            file: FileHandle(3),
            metadata: meta(1),
            data: None,
        })
    }

    #[test]
    fn the_driver_answers_lookups_and_takes_handles_it_cannot_keep() {
        let mut d: Driver<Slot> = Driver::new(client(ClientConfig::default()));
        let out: Results = Default::default();
        let lookup = || {
            Request::LeaseCache(LeaseCacheOp::Lookup {
                tree: T,
                path: "a".into(),
            })
        };
        // Not connected: the server's capabilities are unknown, so no lease open is worth it.
        submit(&mut d, &out, lookup());
        // A handle whose lease the engine does not know is not kept; its CLOSE cannot be sent
        // (no session) and the answer still comes.
        submit(&mut d, &out, insert_a());
        submit(&mut d, &out, lookup());
        let got = core::mem::take(&mut *out.lock().unwrap());
        assert_eq!(
            got,
            [
                Ok(Response::LeaseCache(LeaseCacheAnswer::Miss {
                    cacheable: false
                })),
                Ok(Response::LeaseCache(LeaseCacheAnswer::Done)),
                Ok(Response::LeaseCache(LeaseCacheAnswer::Miss {
                    cacheable: false
                })),
            ]
        );
        // The snapshot counts them (the second lookup met the "no lease" memo).
        let snap: Arc<Mutex<Option<StatsSnapshot>>> = Default::default();
        let s2 = snap.clone();
        d.handle(
            Command::Stats(Box::new(move |s| *s2.lock().unwrap() = Some(s))),
            at(0),
        );
        let s = snap.lock().unwrap().clone().expect("a snapshot");
        assert_eq!((s.lease_cache.misses, s.lease_cache.entries), (2, 1));
        assert_eq!(s.stats.requests_sent, 0, "nothing went to the engine");
        // The memo expires with the cache's time to live: the driver's deadline says when.
        assert_eq!(
            d.deadline(),
            Some(at(0) + ClientConfig::default().lease_cache_ttl)
        );
    }

    #[test]
    fn without_leases_the_cache_is_off_and_the_engine_refuses_its_requests() {
        let mut d: Driver<Slot> = Driver::new(client(ClientConfig::default().with_leases(false)));
        let out: Results = Default::default();
        submit(&mut d, &out, insert_a());
        assert_eq!(d.lease_cache_stats().entries, 0);
        assert_eq!(d.deadline(), None);
        // The engine without its driver: an invalid request, not something to send.
        let mut c = client(ClientConfig::default());
        let _ = c.connect(ServerAddr::from("127.0.0.1:445"), at(0));
        let r = c.submit(
            Request::LeaseCache(LeaseCacheOp::Lookup {
                tree: T,
                path: "a".into(),
            }),
            at(0),
        );
        assert!(matches!(r, Err(SubmitError::InvalidRequest(_))), "{r:?}");
        let r = c.submit(
            Request::Compound(alloc::vec![Request::LeaseCache(LeaseCacheOp::Invalidate {
                tree: T,
                path: "a".into(),
            })]),
            at(0),
        );
        assert!(matches!(r, Err(SubmitError::InvalidRequest(_))), "{r:?}");
    }
}
