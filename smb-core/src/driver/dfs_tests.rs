//! The referral cache, path rewriting and the referral request, against hand-laid
//! RESP_GET_DFS_REFERRAL buffers ([MS-DFSC] 2.2.4, 2.2.5.3) and hostile answers.

extern crate std;

use super::*;
use crate::wire::ioctl::{DfsReferral, DfsReferralHeaderFlags};
use crate::wire::test_util::hex;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use core::future::Ready;
use core::task::{Context, Poll, Waker};
use std::sync::Mutex;

fn utf16z(s: &str) -> Vec<u8> {
    let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    v.extend_from_slice(&[0, 0]);
    v
}

/// A version 3 referral for `\srv\root\link` to `\127.0.0.1\other`, laid out by hand the
/// way Samba lays it out: header, one 34-byte entry (ServiceSiteGuid zero), then
/// DFSPath, DFSAlternatePath sharing DFSPath's string, NetworkAddress.
fn v3_referral(consumed: u16, ttl: u32, target: &str) -> Vec<u8> {
    v3_referrals(consumed, ttl, &[target])
}

/// [`v3_referral`] with one entry per target, in order: the entries, then DFSPath (shared
/// by every entry's DFSPath and DFSAlternatePath), then each NetworkAddress.
pub(crate) fn v3_referrals(consumed: u16, ttl: u32, targets: &[&str]) -> Vec<u8> {
    let dfs = utf16z("\\srv\\root\\link");
    let strings_at = 8 + 34 * targets.len();
    let mut strings = dfs.clone();
    let mut addresses = Vec::new();
    for t in targets {
        addresses.push(strings_at + strings.len());
        strings.extend_from_slice(&utf16z(t));
    }
    let mut b = Vec::new();
    b.extend_from_slice(&consumed.to_le_bytes());
    b.extend_from_slice(&(targets.len() as u16).to_le_bytes()); // NumberOfReferrals
    b.extend_from_slice(&DfsReferralHeaderFlags::STORAGE_SERVERS.to_le_bytes());
    for (i, address) in addresses.iter().enumerate() {
        // Offsets count from the start of their entry.
        let entry_at = 8 + 34 * i;
        b.extend_from_slice(&3u16.to_le_bytes()); // VersionNumber
        b.extend_from_slice(&34u16.to_le_bytes()); // Size
        b.extend_from_slice(&0u16.to_le_bytes()); // ServerType: link target
        b.extend_from_slice(&0u16.to_le_bytes()); // ReferralEntryFlags
        b.extend_from_slice(&ttl.to_le_bytes());
        let dfs_at = (strings_at - entry_at) as u16;
        b.extend_from_slice(&dfs_at.to_le_bytes()); // DFSPathOffset
        b.extend_from_slice(&dfs_at.to_le_bytes()); // DFSAlternatePathOffset
        b.extend_from_slice(&((address - entry_at) as u16).to_le_bytes()); // NetworkAddressOffset
        b.extend_from_slice(&[0; 16]); // ServiceSiteGuid
    }
    b.extend_from_slice(&strings);
    b
}

const PATH: &str = "\\srv\\root\\link\\dir\\f.txt";
/// `\srv\root\link`: 14 UTF-16 units.
const CONSUMED: u16 = 28;

fn at(secs: u64) -> Instant {
    Instant::from_elapsed(core::time::Duration::from_secs(secs))
}

#[test]
fn request_is_byte_exact() {
    let mut b = Vec::new();
    DfsReferralRequest {
        max_referral_level: 4,
        path: "\\s\\r".into(),
    }
    .encode_data(&mut b);
    // MaxReferralLevel 4, "\s\r" in UTF-16LE, NUL.
    assert_eq!(b, hex("0400 5c00 7300 5c00 7200 0000"));
}

#[test]
fn hand_laid_v3_referral_decodes() {
    let b = v3_referral(CONSUMED, 300, "\\127.0.0.1\\other");
    assert_eq!(b.len(), 8 + 34 + 30 + 34);
    let r = DfsReferralResponse::decode_data(&b).unwrap();
    assert_eq!(r.path_consumed, CONSUMED);
    assert_eq!(r.referrals.len(), 1);
    assert_eq!(r.referrals[0].time_to_live, 300);
    assert_eq!(
        r.referrals[0].body,
        DfsReferralBody::Targets {
            proximity: 0,
            dfs_path: "\\srv\\root\\link".into(),
            dfs_alternate_path: "\\srv\\root\\link".into(),
            network_address: "\\127.0.0.1\\other".into(),
        }
    );
}

#[test]
fn the_rest_of_the_path_goes_to_the_target() {
    let mut c = ReferralCache::new();
    let r = DfsReferralResponse::decode_data(&v3_referral(CONSUMED, 300, "\\127.0.0.1\\other"))
        .unwrap();
    let hops = c.insert(PATH, &r, at(0)).unwrap();
    assert_eq!(
        hops,
        vec![DfsHop {
            server: "127.0.0.1".into(),
            share: "other".into(),
            path: "dir\\f.txt".into(),
        }]
    );
    // A target with a path inside its share keeps it in front of the rest.
    let r = DfsReferralResponse::decode_data(&v3_referral(CONSUMED, 300, "\\t\\s\\deep\\er\\"))
        .unwrap();
    assert_eq!(
        c.insert(PATH, &r, at(0)).unwrap()[0].path,
        "deep\\er\\dir\\f.txt"
    );
    // The link itself is the target share's root.
    assert_eq!(
        c.insert("\\srv\\root\\link", &r, at(0)).unwrap()[0].path,
        "deep\\er"
    );
}

#[test]
fn cached_until_the_ttl_runs_out() {
    let mut c = ReferralCache::new();
    let r = DfsReferralResponse::decode_data(&v3_referral(CONSUMED, 10, "\\t\\s")).unwrap();
    c.insert(PATH, &r, at(100)).unwrap();
    assert_eq!(c.len(), 1);
    // Other paths under the link, any case, hit the cache; siblings of the link do not.
    let hop = c
        .lookup("\\SRV\\Root\\LINK\\other.txt", at(105))
        .unwrap()
        .remove(0);
    assert_eq!((hop.server.as_str(), hop.path.as_str()), ("t", "other.txt"));
    assert!(c.lookup("\\srv\\root\\linkage\\x", at(105)).is_none());
    assert!(c.lookup("\\srv\\root\\x", at(105)).is_none());
    assert!(c.lookup(PATH, at(109)).is_some());
    assert!(c.lookup(PATH, at(110)).is_none(), "expired at insert + TTL");
    // A new answer for the same prefix replaces the old one.
    let r2 = DfsReferralResponse::decode_data(&v3_referral(CONSUMED, 10, "\\u\\s")).unwrap();
    c.insert(PATH, &r2, at(100)).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c.lookup(PATH, at(101)).unwrap()[0].server, "u");
}

#[test]
fn longest_prefix_wins() {
    let mut c = ReferralCache::new();
    let outer = DfsReferralResponse::decode_data(&v3_referral(CONSUMED, 60, "\\a\\s")).unwrap();
    c.insert(PATH, &outer, at(0)).unwrap();
    // `\srv\root\link\dir`: 18 units.
    let inner = DfsReferralResponse::decode_data(&v3_referral(36, 60, "\\b\\s")).unwrap();
    c.insert(PATH, &inner, at(0)).unwrap();
    let hop = c.lookup(PATH, at(1)).unwrap().remove(0);
    assert_eq!((hop.server.as_str(), hop.path.as_str()), ("b", "f.txt"));
    assert_eq!(
        c.lookup("\\srv\\root\\link\\x", at(1)).unwrap()[0].server,
        "a"
    );
}

#[test]
fn ttl_zero_is_used_once_not_cached() {
    let mut c = ReferralCache::new();
    let r = DfsReferralResponse::decode_data(&v3_referral(CONSUMED, 0, "\\t\\s")).unwrap();
    assert_eq!(c.insert(PATH, &r, at(0)).unwrap()[0].share, "s");
    assert!(c.is_empty());
}

#[test]
fn the_cache_is_bounded() {
    let mut c = ReferralCache::new();
    for i in 0..MAX_CACHED_REFERRALS + 10 {
        let path = alloc::format!("\\srv\\root\\l{i:04}");
        let units = path.encode_utf16().count() as u16;
        let mut r = DfsReferralResponse::decode_data(&v3_referral(CONSUMED, 60, "\\t\\s")).unwrap();
        r.path_consumed = units * 2;
        c.insert(&path, &r, at(0)).unwrap();
    }
    assert_eq!(c.len(), MAX_CACHED_REFERRALS);
    assert!(
        c.lookup("\\srv\\root\\l0000", at(1)).is_none(),
        "oldest dropped"
    );
    assert!(c.lookup("\\srv\\root\\l0265", at(1)).is_some());
}

#[test]
fn lying_path_consumed_is_refused() {
    let mut c = ReferralCache::new();
    // Odd, zero, past the end of the request path, inside a component (`\srv\root\li`).
    for consumed in [27u16, 0, 200, 24] {
        let r = DfsReferralResponse::decode_data(&v3_referral(consumed, 60, "\\t\\s")).unwrap();
        let e = c.insert(PATH, &r, at(0)).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::Protocol(_)),
            "{consumed}: {e:?}"
        );
        assert!(
            e.context.unwrap().contains(PATH),
            "the error names the path"
        );
    }
    // Splitting a surrogate pair: U+1F600 is two UTF-16 units.
    let path = "\\s\\r\\\u{1F600}";
    let r = DfsReferralResponse::decode_data(&v3_referral(12, 60, "\\t\\s")).unwrap();
    assert!(c.insert(path, &r, at(0)).is_err());
    assert!(c.is_empty());
}

#[test]
fn referrals_without_a_usable_target_are_refused() {
    let mut c = ReferralCache::new();
    for target in ["", "\\only-server", "\\\\", "\\srv\\"] {
        let r = DfsReferralResponse::decode_data(&v3_referral(CONSUMED, 60, target)).unwrap();
        assert!(c.insert(PATH, &r, at(0)).is_err(), "{target:?}");
    }
    // No entries at all; a name-list (domain) entry only.
    let none = DfsReferralResponse {
        path_consumed: CONSUMED,
        flags: 0,
        referrals: vec![],
    };
    assert!(c.insert(PATH, &none, at(0)).is_err());
    let names = DfsReferralResponse {
        path_consumed: CONSUMED,
        flags: 0,
        referrals: vec![DfsReferral {
            version: 3,
            server_type: 0,
            entry_flags: crate::wire::ioctl::DfsReferralEntryFlags::NAME_LIST_REFERRAL,
            time_to_live: 60,
            body: DfsReferralBody::NameList {
                special_name: "\\dom".into(),
                expanded_names: vec!["\\dc1".into()],
            },
        }],
    };
    assert!(c.insert(PATH, &names, at(0)).is_err());
    assert!(c.is_empty());
}

#[test]
fn dfs_paths_have_one_leading_backslash() {
    assert_eq!(
        dfs_path("srv", "root", "link/f.txt"),
        "\\srv\\root\\link\\f.txt"
    );
    assert_eq!(dfs_path("srv", "root", "\\link"), "\\srv\\root\\link");
    assert_eq!(dfs_path("srv", "root", ""), "\\srv\\root");
}

/// Scripted IOCTL outputs: (bytes, STATUS_BUFFER_OVERFLOW).
type Outputs = Arc<Mutex<Vec<(Vec<u8>, bool)>>>;

/// Answers every IOCTL with `output` and records the inputs.
#[derive(Clone)]
struct Referrer {
    output: Outputs,
    sent: Arc<Mutex<Vec<Request>>>,
}

impl Submitter for Referrer {
    type Reply = Ready<Result<Response, OpError>>;
    fn submit(&self, request: Request) -> Self::Reply {
        self.sent.lock().unwrap().push(request);
        let (output, more) = self.output.lock().unwrap().remove(0);
        core::future::ready(Ok(Response::Ioctl {
            output: output.into(),
            more,
        }))
    }
}

/// `f`'s output: the fakes answer at once, so one poll finishes it.
pub(crate) fn run<T>(f: impl core::future::Future<Output = T>) -> T {
    let mut f = core::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(t) => t,
        Poll::Pending => panic!("the fake answers at once"),
    }
}

#[test]
fn get_referral_sends_the_fsctl_and_checks_the_answer() {
    let good = v3_referral(CONSUMED, 60, "\\t\\s");
    let r = Referrer {
        output: Arc::new(Mutex::new(vec![
            (good.clone(), false),
            (good[..20].to_vec(), false),
            (good, true),
        ])),
        sent: Arc::default(),
    };
    let tree = TreeId(7);
    let resp = run(get_referral(&r, tree, PATH)).unwrap();
    assert_eq!(resp.path_consumed, CONSUMED);
    match &r.sent.lock().unwrap()[0] {
        Request::Ioctl {
            tree: t,
            file,
            ctl_code,
            input,
            fsctl,
            ..
        } => {
            assert_eq!(
                (*t, *file, *ctl_code, *fsctl),
                (tree, None, fsctl::DFS_GET_REFERRALS, true)
            );
            let d = DfsReferralRequest::decode_data(input).unwrap();
            assert_eq!((d.max_referral_level, d.path.as_str()), (4, PATH));
        }
        other => panic!("{other:?}"),
    }
    // Truncated: the entry's Size runs past the buffer.
    let e = run(get_referral(&r, tree, PATH)).unwrap_err();
    assert!(e.context.unwrap().contains(PATH));
    // STATUS_BUFFER_OVERFLOW: refused rather than decoded from a cut buffer.
    assert!(run(get_referral(&r, tree, PATH)).is_err());
}

#[test]
fn loop_and_unknown_server_errors_name_the_path() {
    let e = too_many_hops(PATH);
    assert!(e.to_string().contains(PATH), "{e}");
    assert!(e.to_string().contains("8 referrals"), "{e}");
    let e = unknown_server(PATH, "elsewhere");
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.to_string().contains("elsewhere"), "{e}");
}

#[test]
fn every_target_is_kept_in_order_and_the_one_that_answered_goes_first() {
    let mut c = ReferralCache::new();
    let b = v3_referrals(CONSUMED, 60, &["\\a\\s", "\\b\\s\\base", "\\c\\t"]);
    let r = DfsReferralResponse::decode_data(&b).unwrap();
    let hops = c.insert(PATH, &r, at(0)).unwrap();
    let names: Vec<_> = hops
        .iter()
        .map(|h| (h.server.as_str(), h.path.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("a", "dir\\f.txt"),
            ("b", "base\\dir\\f.txt"),
            ("c", "dir\\f.txt")
        ]
    );
    // The second target answered: it is tried first, for every path under the link.
    c.prefer(PATH, &hops[1], at(1));
    let again = c.lookup("\\srv\\root\\link\\x", at(2)).unwrap();
    let order: Vec<_> = again.iter().map(|h| h.server.as_str()).collect();
    assert_eq!(order, ["b", "a", "c"]);
    assert_eq!(again[0].path, "base\\x");
    // A hop that is none of the targets, or a path no entry covers, changes nothing.
    let stranger = DfsHop {
        server: "z".into(),
        share: "s".into(),
        path: "dir\\f.txt".into(),
    };
    c.prefer(PATH, &stranger, at(3));
    c.prefer("\\srv\\root\\elsewhere", &hops[2], at(3));
    assert_eq!(c.lookup(PATH, at(4)).unwrap()[0].server, "b");
    // One bad target spoils the answer: refused whole.
    let bad = v3_referrals(CONSUMED, 60, &["\\a\\s", "\\only-server"]);
    let r = DfsReferralResponse::decode_data(&bad).unwrap();
    assert!(c.insert(PATH, &r, at(5)).is_err());
}
