//! Following referrals through fake adapter hooks: the cache's TimeToLive on a virtual
//! clock, failing over from a target that cannot be reached (the fake connector refuses
//! it, as a closed port would: no socket is opened here) to the next, and rename/copy
//! paths that lead to different shares.

use super::super::dfs::tests::{run, v3_referrals};
use super::super::{Credentials, DfsClock, SharedAuth};
use super::*;
use crate::client::{ClientConfig, DfsResolver, Request, Response, ServerAddr, TreeId};
use crate::time::Instant;
use crate::wire::Command;
use crate::wire::tree_connect::ShareCapabilities;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Ready;
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// `\srv\root\link`: 14 UTF-16 units.
const CONSUMED: u16 = 28;

/// What the fake servers saw and answer.
#[derive(Default)]
struct World {
    /// The referral the root answers.
    referral: Vec<u8>,
    /// FSCTL_DFS_GET_REFERRALS sent.
    referrals_asked: usize,
    /// Where connect_target tried to connect.
    connects: Vec<String>,
    /// The addresses that accept a connection; any other is refused.
    up: Vec<String>,
}

/// A submitter: referrals from the world; on the root share (tree 1) a path under `link`
/// is STATUS_PATH_NOT_COVERED, any other query STATUS_OBJECT_NAME_NOT_FOUND.
#[derive(Clone)]
struct FakeSub(Arc<Mutex<World>>);

impl Submitter for FakeSub {
    type Reply = Ready<Result<Response, OpError>>;
    fn submit(&self, request: Request) -> Self::Reply {
        let create_path = |r: &Request| match r {
            Request::Create { tree, path, .. } => Some((*tree, path.clone())),
            Request::Compound(parts) => parts.iter().find_map(|p| match p {
                Request::Create { tree, path, .. } => Some((*tree, path.clone())),
                _ => None,
            }),
            _ => None,
        };
        let r = match &request {
            Request::Ioctl { .. } => {
                let mut w = self.0.lock().unwrap();
                w.referrals_asked += 1;
                Ok(Response::Ioctl {
                    output: w.referral.clone().into(),
                    more: false,
                })
            }
            r => match create_path(r) {
                Some((TreeId(1), p)) if p.starts_with("link") => Err(OpError::from_status(
                    NtStatus::PATH_NOT_COVERED,
                    Command::Create,
                )),
                _ => Err(OpError::from_status(
                    NtStatus::OBJECT_NAME_NOT_FOUND,
                    Command::Create,
                )),
            },
        };
        core::future::ready(r)
    }
}

#[derive(Clone)]
struct FakeClient {
    links: DfsLinks<FakeClient>,
    sub: FakeSub,
}

#[derive(Clone)]
struct FakeShare {
    ops: ShareOps<FakeSub>,
    name: String,
    client: FakeClient,
}

impl DfsClient for FakeClient {
    type Sub = FakeSub;
    type Share = FakeShare;
    fn dfs_links(&self) -> &DfsLinks<Self> {
        &self.links
    }
    fn submitter(&self) -> &FakeSub {
        &self.sub
    }
    fn tree_connect(&self, share: &str) -> BoxFuture<'_, io::Result<FakeShare>> {
        // The root share is tree 1 and a DFS share; every other is tree 2.
        let (tree, caps) = match share {
            "root" => (1, ShareCapabilities::DFS),
            _ => (2, 0),
        };
        let ops = ShareOps::new(self.sub.clone(), TreeId(tree)).with_capabilities(caps);
        let s = FakeShare {
            ops,
            name: share.into(),
            client: self.clone(),
        };
        Box::pin(core::future::ready(Ok(s)))
    }
    /// Accepts the world's `up` addresses and refuses the rest, as a server that is down
    /// would (ConnectionRefused).
    fn connect_target(t: DfsConnect<Self>) -> BoxFuture<'static, io::Result<Self>> {
        let sub = WORLD.with(|w| w.lock().unwrap().clone()).expect("a world");
        let accepted = {
            let mut w = sub.0.lock().unwrap();
            w.connects.push(t.addr.0.clone());
            w.up.contains(&t.addr.0)
        };
        let r = if accepted {
            Ok(FakeClient {
                links: t.links,
                sub,
            })
        } else {
            Err(io::Error::from(io::ErrorKind::ConnectionRefused))
        };
        Box::pin(core::future::ready(r))
    }
}

std::thread_local! {
    /// The world of the test running on this thread (connect_target has no `self`).
    static WORLD: Mutex<Option<FakeSub>> = const { Mutex::new(None) };
}

impl DfsShare for FakeShare {
    type Client = FakeClient;
    fn share_ops(&self) -> &ShareOps<FakeSub> {
        &self.ops
    }
    fn share_client(&self) -> &FakeClient {
        &self.client
    }
    fn share_name(&self) -> &str {
        &self.name
    }
}

/// A virtual clock, in seconds.
#[derive(Clone, Default)]
struct Clock(Arc<AtomicU64>);

impl Clock {
    fn set(&self, secs: u64) {
        self.0.store(secs, Ordering::SeqCst);
    }
    fn dfs_clock(&self) -> DfsClock {
        let t = self.0.clone();
        Arc::new(move || {
            Instant::from_elapsed(core::time::Duration::from_secs(t.load(Ordering::SeqCst)))
        })
    }
}

/// The root share `\\srv\root` of a client whose referrals answer `referral`, whose
/// resolver knows `hosts` and whose connector accepts the addresses in `up`.
fn root(
    referral: Vec<u8>,
    hosts: &[(&str, String)],
    up: &[&str],
    clock: &Clock,
) -> (FakeShare, FakeSub) {
    let sub = FakeSub(Arc::new(Mutex::new(World {
        referral,
        up: up.iter().map(|a| a.to_string()).collect(),
        ..World::default()
    })));
    WORLD.with(|w| *w.lock().unwrap() = Some(sub.clone()));
    let map: Vec<(String, ServerAddr)> = hosts
        .iter()
        .map(|(h, a)| (h.to_string(), ServerAddr(a.clone())))
        .collect();
    let mut config = ClientConfig::default().with_dfs_resolver(DfsResolver::map(map));
    config.server_name = Some("srv".into());
    let auth = SharedAuth::new(Credentials::guest().into_auth_factory().unwrap());
    // The root's own address is never connected to by these tests.
    let addr = ServerAddr("127.0.0.1:9".into());
    let links = DfsLinks::new(config, auth, addr, clock.dfs_clock());
    let client = FakeClient {
        links,
        sub: sub.clone(),
    };
    let share = run(client.tree_connect("root")).unwrap();
    (share, sub)
}

#[test]
fn a_referral_expires_after_its_ttl_and_is_fetched_again() {
    let clock = Clock::default();
    // `link` -> `\\srv\other`: the same server, TimeToLive 10 s.
    let (share, sub) = root(
        v3_referrals(CONSUMED, 10, &["\\srv\\other"]),
        &[],
        &[],
        &clock,
    );
    let asked = || sub.0.lock().unwrap().referrals_asked;
    clock.set(100);
    let (s, p) = run(follow(share.clone(), "link\\dir\\f.txt".into())).unwrap();
    assert_eq!((s.name.as_str(), p.as_str()), ("other", "dir\\f.txt"));
    assert_eq!(asked(), 1);
    // Within the TimeToLive: from the cache, for any path under the link.
    clock.set(109);
    let (_, p) = run(follow(share.clone(), "link\\g.txt".into())).unwrap();
    assert_eq!((p.as_str(), asked()), ("g.txt", 1));
    // At insert + TimeToLive it has expired ([MS-DFSC] 3.1.5.1): asked for again.
    clock.set(110);
    run(follow(share.clone(), "link\\g.txt".into())).unwrap();
    assert_eq!(asked(), 2);
    clock.set(115);
    run(follow(share, "link\\g.txt".into())).unwrap();
    assert_eq!(asked(), 2, "the new answer is cached in turn");
}

#[test]
fn an_unreachable_target_fails_over_to_the_next() {
    let clock = Clock::default();
    let (down, up_addr) = ("127.0.0.1:1001".to_string(), "127.0.0.1:1002".to_string());
    let referral = v3_referrals(CONSUMED, 60, &["\\down\\s", "\\up\\s\\base"]);
    let hosts = [("down", down.clone()), ("up", up_addr.clone())];
    let (share, sub) = root(referral, &hosts, &[up_addr.as_str()], &clock);
    let (s, p) = run(follow(share.clone(), "link\\f.txt".into())).unwrap();
    assert_eq!(s.client.links.server_name(), "up");
    assert_eq!((s.name.as_str(), p.as_str()), ("s", "base\\f.txt"));
    assert_eq!(
        sub.0.lock().unwrap().connects,
        [down.clone(), up_addr.clone()]
    );
    // The target that answered is tried first now, over the session kept for it: no
    // connection at all.
    clock.set(1);
    let (s, _) = run(follow(share.clone(), "link\\g.txt".into())).unwrap();
    assert_eq!(s.client.links.server_name(), "up");
    assert_eq!(sub.0.lock().unwrap().connects.len(), 2);
    // An operation through the link runs on the target that answered, straight from the
    // cache: never tried on the root share first.
    let on_root = &core::cell::Cell::new(0);
    let r = run(with_dfs(&share, "link\\h.txt", |s, p| async move {
        on_root.set(on_root.get() + usize::from(s.ops.tree == TreeId(1)));
        if s.ops.tree == TreeId(1) {
            Err(OpError::from_status(
                NtStatus::PATH_NOT_COVERED,
                Command::Create,
            ))
        } else {
            Ok((s.client.links.server_name().to_string(), p))
        }
    }))
    .unwrap();
    assert_eq!(r, ("up".to_string(), "base\\h.txt".to_string()));
    assert_eq!(on_root.get(), 0);
    // Not cached: tried on the root, answered STATUS_PATH_NOT_COVERED, followed.
    let r = run(with_dfs(&share, "other\\h.txt", |s, p| async move {
        on_root.set(on_root.get() + usize::from(s.ops.tree == TreeId(1)));
        match s.ops.tree {
            TreeId(1) => Ok(p),
            _ => Err(OpError::new(ErrorKind::NotFound)),
        }
    }))
    .unwrap();
    assert_eq!((r.as_str(), on_root.get()), ("other\\h.txt", 1));
}

#[test]
fn no_reachable_target_is_an_error_naming_the_path_and_the_count() {
    let clock = Clock::default();
    let (a, b) = ("127.0.0.1:1001".to_string(), "127.0.0.1:1002".to_string());
    let referral = v3_referrals(CONSUMED, 60, &["\\a\\s", "\\b\\s"]);
    let (share, sub) = root(referral, &[("a", a.clone()), ("b", b.clone())], &[], &clock);
    let e = run(follow(share, "link\\f.txt".into()))
        .err()
        .expect("no target");
    let msg = e.to_string();
    assert!(msg.contains("\\srv\\root\\link\\f.txt"), "{msg}");
    assert!(msg.contains("none of its 2 targets"), "{msg}");
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{msg}");
    assert_eq!(sub.0.lock().unwrap().connects, [a, b]);
}

#[test]
fn rename_across_targets_is_refused_naming_both_paths() {
    let clock = Clock::default();
    let (share, _) = root(
        v3_referrals(CONSUMED, 60, &["\\srv\\other"]),
        &[],
        &[],
        &clock,
    );
    // Through the link and back on the root: two shares.
    let e = run(resolve_pair(&share, "rename", "link\\a.txt", "b.txt"))
        .err()
        .expect("two shares");
    let op = op_error(&e).expect("an engine error");
    assert_eq!(op.kind, ErrorKind::DfsTargetsDiffer);
    assert_eq!(e.kind(), io::ErrorKind::CrossesDevices);
    let msg = e.to_string();
    for part in [
        "rename link\\a.txt -> b.txt",
        "\\\\srv\\other",
        "\\\\srv\\root",
    ] {
        assert!(msg.contains(part), "{part} not in {msg}");
    }
    // Both through the link: one share, both paths rewritten.
    let (s, a, b) = run(resolve_pair(&share, "rename", "link\\a.txt", "link\\b.txt")).unwrap();
    assert_eq!(
        (s.name.as_str(), a.as_str(), b.as_str()),
        ("other", "a.txt", "b.txt")
    );
    // Neither: the root itself, nothing followed.
    let (s, a, b) = run(resolve_pair(&share, "copy", "a.txt", "b.txt")).unwrap();
    assert_eq!(
        (s.name.as_str(), a.as_str(), b.as_str()),
        ("root", "a.txt", "b.txt")
    );
}

#[test]
fn walk_paths_under_a_link_read_as_the_callers() {
    assert_eq!(
        rebase_path("base\\sub/x.txt", "base\\sub", "link/sub"),
        "link/sub/x.txt"
    );
    assert_eq!(rebase_path("x.txt", "", "link"), "link/x.txt");
    assert_eq!(rebase_path("t/x", "t", ""), "x");
    assert_eq!(rebase_path("t", "t", "/link/"), "link");
}
