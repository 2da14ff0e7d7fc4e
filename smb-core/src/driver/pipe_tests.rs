//! Named pipes and DCE/RPC against an in-memory message-mode pipe: the exchange captured from
//! smbclient against Samba, multi-fragment replies cut by the transceive buffer, and hostile
//! answers (truncated, bogus lengths, FAULT, BIND_NAK) that must end in typed errors.

extern crate std;

use super::*;
use crate::client::FileAttributes;
use crate::wire::rpc::tests::{BIND_ACK_SRVSVC, BIND_SRVSVC, fault_pdu, response};
use crate::wire::rpc::{REQUEST_HEADER_LEN, pfc, ptype};
use crate::wire::srvsvc::tests::RESPONSE_STUB;
use crate::wire::test_util::hex;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use core::future::Ready;
use core::task::{Context, Poll, Waker};
use std::sync::Mutex;

/// Samba's RESPONSE header for call 2 (frag_length 408, alloc_hint 384), from the capture.
const RESPONSE_HEADER: &str = "050002031000000098010000020000008001000000000000";

#[derive(Default)]
struct PipeState {
    /// What each transceive makes the server send (one entry per call, in order): messages.
    script: VecDeque<Vec<Vec<u8>>>,
    /// Messages waiting to be read; the front one may be partly read.
    queue: VecDeque<Vec<u8>>,
    /// Transceive inputs and WRITEs, in order.
    sent: Vec<Vec<u8>>,
    log: Vec<&'static str>,
}

impl PipeState {
    /// Up to `max` bytes of the front message, like a message-mode pipe READ.
    fn take(&mut self, max: usize) -> (Vec<u8>, bool) {
        let Some(front) = self.queue.front_mut() else {
            return (Vec::new(), false);
        };
        let n = max.min(front.len());
        let data: Vec<u8> = front.drain(..n).collect();
        let more = !front.is_empty();
        if !more {
            self.queue.pop_front();
        }
        (data, more)
    }
}

#[derive(Clone, Default)]
struct FakePipe(Arc<Mutex<PipeState>>);

impl FakePipe {
    fn new(script: Vec<Vec<Vec<u8>>>) -> Self {
        let p = FakePipe::default();
        p.0.lock().unwrap().script = script.into();
        p
    }
}

impl Submitter for FakePipe {
    type Reply = Ready<Result<Response, OpError>>;
    fn submit(&self, request: Request) -> Self::Reply {
        let mut s = self.0.lock().unwrap();
        s.log.push(request.name());
        let r = match request {
            Request::TreeConnect { .. } => Ok(Response::TreeConnected {
                tree: TreeId(1),
                share_type: 2,
                share_flags: 0,
                capabilities: 0,
                maximal_access: 0,
                encrypted: false,
            }),
            Request::Create { .. } => Ok(Response::Created {
                file: FileHandle(3),
                create_action: 1,
                attributes: FileAttributes::default(),
                durable: false,
                lease_state: 0,
            }),
            Request::Ioctl {
                ctl_code,
                input,
                max_output,
                ..
            } if ctl_code == fsctl::PIPE_TRANSCEIVE => {
                s.sent.push(input.to_vec());
                let replies = s.script.pop_front().unwrap_or_default();
                s.queue.extend(replies);
                let (data, more) = s.take(max_output as usize);
                Ok(Response::Ioctl {
                    output: Bytes::from(data),
                    more,
                })
            }
            Request::Write { data, .. } => {
                s.sent.push(data.to_vec());
                Ok(Response::Written {
                    count: data.len() as u64,
                })
            }
            Request::Read { len, .. } => {
                let (data, more) = s.take(len as usize);
                Ok(Response::Read {
                    data: vec![Bytes::from(data)],
                    eof: !more,
                })
            }
            Request::Close { .. } => Ok(Response::Closed),
            Request::TreeDisconnect { .. } => Ok(Response::TreeDisconnected),
            _ => Err(OpError::new(ErrorKind::Unsupported)),
        };
        core::future::ready(r)
    }
}

/// Run a future whose every await is ready at once (the fake answers immediately).
fn run<T>(f: impl core::future::Future<Output = T>) -> T {
    let mut f = core::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(t) => t,
        Poll::Pending => panic!("the fake pipe answers at once"),
    }
}

fn captured_response() -> Vec<u8> {
    let mut pdu = hex(RESPONSE_HEADER);
    pdu.extend_from_slice(&hex(RESPONSE_STUB));
    pdu
}

fn rpc_kind(e: OpError) -> RpcError {
    match e.kind {
        ErrorKind::Rpc(r) => r,
        k => panic!("not an RPC error: {k:?}"),
    }
}

#[test]
fn captured_samba_exchange_lists_the_shares() {
    let fake = FakePipe::new(vec![
        vec![BIND_ACK_SRVSVC.to_vec()],
        vec![captured_response()],
    ]);
    let shares = run(list_shares(&fake)).unwrap();
    let names: Vec<&str> = shares.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["share", "encrypted", "readonly", "guest", "IPC$"]);
    let s = fake.0.lock().unwrap();
    // The BIND is byte for byte smbclient's; the request asks for level 1 of call 2.
    assert_eq!(s.sent[0], BIND_SRVSVC);
    let req = &s.sent[1];
    assert_eq!(
        (req[2], req[3]),
        (ptype::REQUEST, pfc::FIRST_FRAG | pfc::LAST_FRAG)
    );
    assert_eq!(&req[12..16], &2u32.to_le_bytes());
    assert_eq!(&req[22..24], &15u16.to_le_bytes());
    assert_eq!(
        s.log,
        [
            "TreeConnect",
            "Create",
            "Ioctl",
            "Ioctl",
            "Close",
            "TreeDisconnect"
        ]
    );
}

#[test]
fn fragments_beyond_the_transceive_buffer_are_read() {
    // The captured stub in three fragments, all in one message; a second message queued
    // behind it must not be touched.
    let stub = hex(RESPONSE_STUB);
    let (a, rest) = stub.split_at(100);
    let (b, c) = rest.split_at(150);
    let mut message = response(2, pfc::FIRST_FRAG, a);
    message.extend(response(2, 0, b));
    message.extend(response(2, pfc::LAST_FRAG, c));
    let mut filler = vec![0u8; 5000];
    filler[..4].copy_from_slice(b"FILL");
    let fake = FakePipe::new(vec![vec![BIND_ACK_SRVSVC.to_vec()], vec![message, filler]]);
    let pipe = run(PipeOps::open(fake.clone(), TreeId(1), "srvsvc")).unwrap();
    let mut rpc = run(RpcPipe::bind(pipe, srvsvc::SRVSVC)).unwrap();
    let reply = run(rpc.call(15, &srvsvc::encode_share_enum(None, u32::MAX, 0))).unwrap();
    assert_eq!(reply, stub);
    run(rpc.close()).unwrap();
    // The filler is still there, whole: nothing past the last fragment was read.
    assert_eq!(
        fake.0.lock().unwrap().queue.front().map(Vec::len),
        Some(5000)
    );

    // One message of 9000 bytes: transceive returns 4280 with STATUS_BUFFER_OVERFLOW.
    let big: Vec<u8> = (0..9000u32).map(|i| i as u8).collect();
    let fake = FakePipe::new(vec![vec![big.clone()]]);
    let pipe = run(PipeOps::open(fake.clone(), TreeId(1), "x")).unwrap();
    let first = run(pipe.transceive(Bytes::from_static(b"q"), 4280)).unwrap();
    assert_eq!((first.data.len(), first.more), (4280, true));
    let rest = run(pipe.read(10_000)).unwrap();
    assert_eq!((rest.data.len(), rest.more), (4720, false));
    let fake = FakePipe::new(vec![vec![big.clone()]]);
    let pipe = run(PipeOps::open(fake, TreeId(1), "x")).unwrap();
    assert_eq!(
        run(pipe.transact(Bytes::from_static(b"q"), 1 << 20)).unwrap(),
        big
    );
    let fake = FakePipe::new(vec![vec![big]]);
    let pipe = run(PipeOps::open(fake, TreeId(1), "x")).unwrap();
    let e = run(pipe.transact(Bytes::from_static(b"q"), 5000)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge);
}

#[test]
fn a_large_request_is_written_in_fragments() {
    let fake = FakePipe::new(vec![
        vec![BIND_ACK_SRVSVC.to_vec()],
        vec![response(2, 3, b"ok")],
    ]);
    let pipe = run(PipeOps::open(fake.clone(), TreeId(1), "srvsvc")).unwrap();
    let mut rpc = run(RpcPipe::bind(pipe, srvsvc::SRVSVC)).unwrap();
    let stub = vec![7u8; 10_000];
    assert_eq!(run(rpc.call(1, &stub)).unwrap(), b"ok");
    run(rpc.close()).unwrap();
    let s = fake.0.lock().unwrap();
    // BIND, two WRITEs, the last fragment by transceive.
    assert_eq!(
        s.log,
        ["Create", "Ioctl", "Write", "Write", "Ioctl", "Close"]
    );
    let total: usize = s.sent[1..]
        .iter()
        .map(|f| f.len() - REQUEST_HEADER_LEN)
        .sum();
    assert_eq!(total, 10_000);
    assert!(s.sent[1..].iter().all(|f| f.len() <= 4280));
}

/// `list_shares` against a server whose answers are `bind` then `call`.
fn list_with(bind: Vec<u8>, call: Vec<Vec<u8>>) -> (OpError, Vec<&'static str>) {
    let fake = FakePipe::new(vec![vec![bind], call]);
    let e = run(list_shares(&fake)).unwrap_err();
    let log = fake.0.lock().unwrap().log.clone();
    (e, log)
}

#[test]
fn hostile_bind_answers_are_typed_errors() {
    let ack = BIND_ACK_SRVSVC.to_vec();
    // Truncated: the message ends inside the BIND_ACK, nothing more comes.
    let (e, log) = list_with(ack[..40].to_vec(), vec![]);
    assert_eq!(
        rpc_kind(e),
        RpcError::Sequence("the pipe ended inside a PDU")
    );
    // The pipe is closed and the tree disconnected anyway.
    assert_eq!(log[log.len() - 2..], ["Close", "TreeDisconnect"]);
    // frag_length below the header's 16 bytes.
    let mut b = ack.clone();
    b[8] = 3;
    assert!(matches!(
        rpc_kind(list_with(b, vec![]).0),
        RpcError::Malformed(_)
    ));
    // A secondary address longer than the PDU.
    let mut b = ack.clone();
    b[24] = 200;
    assert!(matches!(
        rpc_kind(list_with(b, vec![]).0),
        RpcError::Malformed(_)
    ));
    // The context rejected (provider rejection, abstract syntax not supported).
    let mut b = ack.clone();
    b[44] = 2;
    b[46] = 1;
    assert_eq!(
        rpc_kind(list_with(b, vec![]).0),
        RpcError::ContextRejected {
            result: 2,
            reason: 1
        }
    );
    // BIND_NAK and FAULT.
    let nak = vec![
        5,
        0,
        ptype::BIND_NAK,
        3,
        0x10,
        0,
        0,
        0,
        18,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        4,
        0,
    ];
    assert_eq!(rpc_kind(list_with(nak, vec![]).0), RpcError::BindRefused(4));
    assert_eq!(
        rpc_kind(list_with(fault_pdu(1, 5), vec![]).0),
        RpcError::Fault(5)
    );
    // A REQUEST where the BIND_ACK belongs.
    let mut b = ack;
    b[2] = ptype::REQUEST;
    assert_eq!(
        rpc_kind(list_with(b, vec![]).0),
        RpcError::UnexpectedPdu(ptype::REQUEST)
    );
}

#[test]
fn hostile_responses_are_typed_errors() {
    let ack = BIND_ACK_SRVSVC.to_vec();
    let good = captured_response();
    // Truncated RESPONSE.
    let e = list_with(ack.clone(), vec![good[..200].to_vec()]).0;
    assert_eq!(
        rpc_kind(e),
        RpcError::Sequence("the pipe ended inside a PDU")
    );
    // FAULT nca_s_op_rng_error.
    let e = list_with(ack.clone(), vec![fault_pdu(2, 0x1c01_0002)]).0;
    assert_eq!(rpc_kind(e), RpcError::Fault(0x1c01_0002));
    // Another call's response.
    let mut b = good.clone();
    b[12] = 9;
    assert!(matches!(
        rpc_kind(list_with(ack.clone(), vec![b]).0),
        RpcError::Sequence(_)
    ));
    // A bogus count inside the stub (the array's max_count, 2^32 - 1).
    let mut b = good.clone();
    b[24 + 20..24 + 24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        rpc_kind(list_with(ack.clone(), vec![b]).0),
        RpcError::Malformed(_)
    ));
    // A stub cut short but framed consistently.
    let stub = hex(RESPONSE_STUB);
    let e = list_with(ack.clone(), vec![response(2, 3, &stub[..stub.len() - 3])]).0;
    assert!(matches!(rpc_kind(e), RpcError::Malformed(_)));
    // NetrShareEnum answered ERROR_ACCESS_DENIED.
    let mut b = good.clone();
    let n = b.len();
    b[n - 4..].copy_from_slice(&5u32.to_le_bytes());
    let e = list_with(ack.clone(), vec![b]).0;
    assert_eq!(e.kind, ErrorKind::Rpc(RpcError::Status(5)));
    assert!(alloc::format!("{e}").contains("listing the shares"), "{e}");
    // Fragments without PFC_LAST_FRAG: the call fails when the pipe has no more.
    let empty = response(2, pfc::FIRST_FRAG, &[]);
    let mut endless = vec![empty];
    endless.extend((0..2).map(|_| response(2, 0, &[])));
    let e = list_with(ack, endless).0;
    assert_eq!(
        rpc_kind(e),
        RpcError::Sequence("the pipe ended inside a PDU")
    );
}
