//! Hostile DCE/RPC answers on the srvsvc pipe (\[C706\] 12.6, [MS-SRVS] 3.1.4.8): the client's
//! `list_shares` must end in a typed RPC error, never a panic, a hang or a wrong listing.

use super::Conn;
use super::suite::{Act, client_config, refused, run, when};
use super::{HostileConfig, Request, Script, Step, body};
use crate::scenarios::Harness;
use smb_core::wire::ioctl::{IoctlRequest, IoctlResponse, fsctl};
use smb_core::wire::rpc::{
    BindAck, ContextResult, PduHeader, SyntaxId, encode_fault, encode_response, pfc, ptype,
};
use smb_core::wire::{Decode, NtStatus};
use std::io::ErrorKind as K;

const BAD_DATA: &[K] = &[K::InvalidData];

/// A well-formed BIND_ACK accepting NDR20 for call 1.
fn bind_ack() -> Vec<u8> {
    BindAck {
        header: PduHeader {
            ptype: ptype::BIND_ACK,
            flags: pfc::FIRST_FRAG | pfc::LAST_FRAG,
            frag_len: 0,
            auth_len: 0,
            call_id: 1,
        },
        max_xmit: 4280,
        max_recv: 4280,
        assoc_group: 0x1234,
        secondary_addr: b"\\pipe\\srvsvc".to_vec(),
        results: vec![ContextResult {
            result: 0,
            reason: 0,
            transfer_syntax: SyntaxId::NDR20,
        }],
    }
    .encode()
}

/// Answer FSCTL_PIPE_TRANSCEIVE with `answer(pdu type of the request)`; every other IOCTL
/// (VALIDATE_NEGOTIATE_INFO) normally.
fn transceive(answer: fn(u8) -> Vec<u8>) -> impl Script {
    when(
        smb_core::wire::Command::Ioctl,
        move |c: &mut Conn, r: &Request| {
            let Ok(i) = IoctlRequest::decode(&r.msg) else {
                return vec![Step::Normal];
            };
            if i.ctl_code != fsctl::PIPE_TRANSCEIVE {
                return vec![Step::Normal];
            }
            let out = answer(i.input.get(2).copied().unwrap_or(0xff));
            let body = body(&IoctlResponse {
                ctl_code: i.ctl_code,
                file_id: i.file_id,
                input: &[],
                output: &out,
                flags: 0,
            });
            vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, body))]
        },
    )
}

/// The listing against a server that opens `srvsvc` and answers with `answer`.
async fn list<H: Harness>(
    h: &H,
    name: &'static str,
    answer: fn(u8) -> Vec<u8>,
) -> super::suite::Ran {
    let mut cfg = HostileConfig::default();
    cfg.files.push(("srvsvc".into(), 0));
    run(
        h,
        name,
        cfg,
        transceive(answer),
        client_config(),
        Act::ListShares,
    )
    .await
}

/// A BIND_ACK cut after 40 of its 68 bytes, and nothing more on the pipe.
pub async fn hostile_rpc_bind_ack_truncated<H: Harness>(h: H) {
    let ran = list(&h, "BIND_ACK truncated", |_| bind_ack()[..40].to_vec()).await;
    refused(ran, BAD_DATA, &["rpc", "pipe ended"]);
}

/// A BIND_ACK whose frag_length (3) is below the header's 16 bytes.
pub async fn hostile_rpc_bind_ack_bogus_frag_length<H: Harness>(h: H) {
    let ran = list(&h, "BIND_ACK frag_length 3", |_| {
        let mut b = bind_ack();
        b[8..10].copy_from_slice(&3u16.to_le_bytes());
        b
    })
    .await;
    refused(ran, BAD_DATA, &["malformed rpc", "frag_length"]);
}

/// A RESPONSE whose share array announces 2^32 - 1 entries (the client must not allocate
/// for them).
pub async fn hostile_rpc_response_bogus_count<H: Harness>(h: H) {
    let ran = list(&h, "NetrShareEnum array count 2^32-1", |t| {
        if t == ptype::BIND {
            return bind_ack();
        }
        // Level 1, discriminant 1, container pointer, EntriesRead 5, array pointer, then a
        // conformant array max_count of 0xFFFFFFFF and nothing else.
        let mut stub = Vec::new();
        for v in [1u32, 1, 0x2_0000, 5, 0x2_0004, u32::MAX] {
            stub.extend_from_slice(&v.to_le_bytes());
        }
        encode_response(2, pfc::FIRST_FRAG | pfc::LAST_FRAG, &stub)
    })
    .await;
    refused(ran, BAD_DATA, &["malformed rpc", "max_count"]);
}

/// The call answered with a FAULT (nca_s_op_rng_error, \[C706\] appendix E).
pub async fn hostile_rpc_fault<H: Harness>(h: H) {
    let ran = list(&h, "NetrShareEnum FAULT", |t| {
        if t == ptype::BIND {
            bind_ack()
        } else {
            encode_fault(2, 0x1c01_0002)
        }
    })
    .await;
    refused(ran, &[K::Other], &["rpc fault 0x1c010002"]);
}
