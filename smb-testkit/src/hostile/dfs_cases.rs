//! Hostile DFS referrals ([MS-DFSC] 2.2.4): a server that answers every CREATE with
//! STATUS_PATH_NOT_COVERED and FSCTL_DFS_GET_REFERRALS with a scripted RESP_GET_DFS_REFERRAL.
//! The client must follow at most `MAX_DFS_HOPS` referrals, refuse lying answers with a
//! typed one-line error naming the path, and connect nowhere a resolver did not name.

use super::Conn;
use super::suite::{Act, client_config, refused, run};
use super::{HostileConfig, Request, Script, Step, body};
use crate::scenarios::Harness;
use smb_core::client::{ClientConfig, DfsResolver};
use smb_core::driver::dfs::MAX_DFS_HOPS;
use smb_core::wire::ioctl::{
    DfsReferral, DfsReferralBody, DfsReferralResponse, IoctlData, IoctlRequest, IoctlResponse,
    fsctl,
};
use smb_core::wire::{Command, Decode, NtStatus};
use std::io::ErrorKind as K;

/// The file the client opens.
const PATH: &str = "link\\file.txt";
/// What the client asks a referral for (the hostile server is 127.0.0.1).
const DFS_PATH: &str = "\\127.0.0.1\\share\\link\\file.txt";

/// Every CREATE: STATUS_PATH_NOT_COVERED; every FSCTL_DFS_GET_REFERRALS: `answer`.
fn referrer(answer: fn() -> Vec<u8>) -> impl Script {
    super::suite::on(move |c: &mut Conn, r: &Request| match r.header.command {
        Command::Create => vec![Step::Reply(c.error(r, NtStatus::PATH_NOT_COVERED))],
        Command::Ioctl => {
            let Ok(i) = IoctlRequest::decode(&r.msg) else {
                return vec![Step::Normal];
            };
            if i.ctl_code != fsctl::DFS_GET_REFERRALS {
                return vec![Step::Normal];
            }
            let out = answer();
            let body = body(&IoctlResponse {
                ctl_code: i.ctl_code,
                file_id: i.file_id,
                input: &[],
                output: &out,
                flags: 0,
            });
            vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, body))]
        }
        _ => vec![Step::Normal],
    })
}

/// A version 4 referral consuming `consumed` (UTF-16 units of the request path) to
/// `target`, TimeToLive `ttl`.
fn referral(consumed: &str, target: &str, ttl: u32) -> Vec<u8> {
    let mut out = Vec::new();
    DfsReferralResponse {
        path_consumed: (consumed.encode_utf16().count() * 2) as u16,
        flags: 0x2,
        referrals: vec![DfsReferral {
            version: 4,
            server_type: 0,
            entry_flags: 0,
            time_to_live: ttl,
            body: DfsReferralBody::Targets {
                proximity: 0,
                dfs_path: consumed.into(),
                dfs_alternate_path: consumed.into(),
                network_address: target.into(),
            },
        }],
    }
    .encode_data(&mut out);
    out
}

/// No host resolves: a referral to another server must fail without a lookup.
fn config() -> ClientConfig {
    client_config().with_dfs_resolver(DfsResolver::map([]))
}

async fn open<H: Harness>(h: &H, name: &'static str, answer: fn() -> Vec<u8>) -> super::suite::Ran {
    run(
        h,
        name,
        HostileConfig::default(),
        referrer(answer),
        config(),
        Act::Read(PATH.into()),
    )
    .await
}

fn ioctls(ran: &super::suite::Ran) -> usize {
    ran.server
        .requests()
        .iter()
        .filter(|h| h.command == Command::Ioctl)
        .count()
}

/// The link refers to itself with TimeToLive 0 (nothing cached, every hop asks again): the
/// client stops after `MAX_DFS_HOPS` referrals on its one connection.
pub async fn hostile_dfs_referral_to_itself_forever<H: Harness>(h: H) {
    let ran = open(&h, "DFS referral to itself, TTL 0", || {
        referral("\\127.0.0.1\\share\\link", "\\127.0.0.1\\share\\link", 0)
    })
    .await;
    let (asked, conns) = (ioctls(&ran), ran.server.connections());
    let e = refused(ran, &[K::InvalidData, K::Other], &["referral loop"]);
    assert!(e.to_string().contains(PATH), "{e}");
    assert_eq!(asked, MAX_DFS_HOPS, "one referral per hop");
    assert_eq!(conns, 1, "the same server: no other connection");
}

/// PathConsumed 0xFFFE: more than the request path.
pub async fn hostile_dfs_path_consumed_past_the_path<H: Harness>(h: H) {
    let ran = open(&h, "DFS PathConsumed 0xFFFE", || {
        let mut b = referral("\\127.0.0.1\\share\\link", "\\127.0.0.1\\other", 60);
        b[0..2].copy_from_slice(&0xFFFEu16.to_le_bytes());
        b
    })
    .await;
    let e = refused(ran, &[K::InvalidData, K::Other], &["pathconsumed"]);
    assert!(e.to_string().contains(DFS_PATH), "{e}");
}

/// The one entry's Size runs past the buffer.
pub async fn hostile_dfs_entry_size_past_the_buffer<H: Harness>(h: H) {
    let ran = open(&h, "DFS entry Size past the buffer", || {
        let mut b = referral("\\127.0.0.1\\share\\link", "\\127.0.0.1\\other", 60);
        b[10..12].copy_from_slice(&0xFFF0u16.to_le_bytes());
        b
    })
    .await;
    refused(ran, &[K::InvalidData, K::Other], &["does not decode"]);
}

/// A referral to a host the resolver does not know: an error naming it, no lookup, no
/// connection anywhere else.
pub async fn hostile_dfs_referral_to_unknown_host<H: Harness>(h: H) {
    let ran = open(&h, "DFS referral to an unknown host", || {
        referral("\\127.0.0.1\\share\\link", "\\elsewhere.invalid\\share", 60)
    })
    .await;
    let conns = ran.server.connections();
    let e = refused(ran, &[K::NotFound], &["unknown server elsewhere.invalid"]);
    assert!(e.to_string().contains(DFS_PATH), "{e}");
    assert_eq!(conns, 1);
}
