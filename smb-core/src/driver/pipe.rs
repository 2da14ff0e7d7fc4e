//! Named pipes on IPC$ and DCE/RPC over them (ncacn_np), written once for every adapter.
//!
//! - [`PipeOps`]: an open pipe: one-message WRITE and READ, and FSCTL_PIPE_TRANSCEIVE
//!   ([MS-SMB2] 2.2.31, 3.2.4.20) whose reply, when larger than the output buffer
//!   (STATUS_BUFFER_OVERFLOW), is completed with READs.
//! - [`RpcPipe`]: a DCE/RPC association on a pipe: BIND, then calls whose requests are cut
//!   into fragments and whose responses are reassembled ([`crate::wire::rpc`]).
//! - [`list_shares`]: srvsvc NetrShareEnum level 1 ([MS-SRVS] 3.1.4.8) on `\PIPE\srvsvc`.

use super::Submitter;
use crate::client::{
    ErrorKind, FileHandle, OpError, OpenOptions, Request, Response, TreeId, access, disposition,
};
use crate::wire::ioctl::fsctl;
use crate::wire::rpc::{
    self, Bind, BindReply, COMMON_HEADER_LEN, DEFAULT_MAX_FRAG, MIN_FRAG, Reassembly, RpcError,
    SyntaxId,
};
use crate::wire::srvsvc::{self, ShareInfo};
use alloc::vec::Vec;
use bytes::Bytes;
use core::sync::atomic::{AtomicBool, Ordering};

/// The largest reply [`PipeOps::transact`] and an RPC call collect (16 MiB).
pub const MAX_PIPE_REPLY: usize = 16 << 20;

/// One message (or part of one) read from a pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipeMessage {
    /// The bytes.
    pub data: Vec<u8>,
    /// The message goes on (STATUS_BUFFER_OVERFLOW): READ again for the rest.
    pub more: bool,
}

fn rpc_error(e: RpcError) -> OpError {
    OpError::new(ErrorKind::Rpc(e))
}

fn unexpected() -> OpError {
    OpError::new(ErrorKind::Protocol("unexpected response type"))
}

/// An open named pipe (e.g. `srvsvc` on a tree connected to IPC$). Closed by
/// [`PipeOps::close`], or in the background when dropped.
#[derive(Debug)]
pub struct PipeOps<S: Submitter> {
    sub: S,
    tree: TreeId,
    file: FileHandle,
    closed: AtomicBool,
}

impl<S: Submitter> PipeOps<S> {
    /// Open the pipe `name` (without `\PIPE\`) on `tree`, for reading and writing, without
    /// durable handle or lease (pipes have neither).
    pub async fn open(sub: S, tree: TreeId, name: &str) -> Result<Self, OpError> {
        let options = OpenOptions::read_write()
            .with_access(
                access::FILE_READ_DATA
                    | access::FILE_WRITE_DATA
                    | access::FILE_READ_ATTRIBUTES
                    | access::SYNCHRONIZE,
            )
            .with_disposition(disposition::OPEN)
            .with_create_options(0)
            .with_durable(false)
            .with_lease(false);
        let request = Request::Create {
            tree,
            path: name.trim_start_matches('\\').into(),
            options,
        };
        match sub.submit(request).await? {
            Response::Created { file, .. } => Ok(PipeOps {
                sub,
                tree,
                file,
                closed: AtomicBool::new(false),
            }),
            _ => Err(unexpected()),
        }
    }

    /// The handle.
    pub fn file(&self) -> FileHandle {
        self.file
    }

    /// Write `data` as one message (one WRITE).
    pub async fn write(&self, data: Bytes) -> Result<(), OpError> {
        let len = data.len() as u64;
        let request = Request::Write {
            file: self.file,
            offset: 0,
            data,
        };
        match self.sub.submit(request).await? {
            Response::Written { count } if count == len => Ok(()),
            Response::Written { .. } => Err(OpError::new(ErrorKind::Protocol(
                "short write to a named pipe",
            ))),
            _ => Err(unexpected()),
        }
    }

    /// Read up to `max` bytes of the next message (one READ; waits for a message).
    pub async fn read(&self, max: u32) -> Result<PipeMessage, OpError> {
        let request = Request::Read {
            file: self.file,
            offset: 0,
            len: max.max(1),
        };
        match self.sub.submit(request).await? {
            Response::Read { data, eof } => Ok(PipeMessage {
                data: data.concat(),
                more: !eof,
            }),
            _ => Err(unexpected()),
        }
    }

    /// FSCTL_PIPE_TRANSCEIVE ([MS-SMB2] 3.2.4.20.x): write `input` and read the reply in
    /// one round trip, at most `max_output` bytes of it (`more` when it was cut).
    pub async fn transceive(&self, input: Bytes, max_output: u32) -> Result<PipeMessage, OpError> {
        let request = Request::Ioctl {
            tree: self.tree,
            file: Some(self.file),
            ctl_code: fsctl::PIPE_TRANSCEIVE,
            input,
            max_output,
            fsctl: true,
        };
        match self.sub.submit(request).await? {
            Response::Ioctl { output, more } => Ok(PipeMessage {
                data: output.to_vec(),
                more,
            }),
            _ => Err(unexpected()),
        }
    }

    /// Write `input` and read the whole reply message: FSCTL_PIPE_TRANSCEIVE, then READs
    /// of the rest while the server reports STATUS_BUFFER_OVERFLOW. A reply longer than
    /// `max_len` bytes is refused ([`ErrorKind::TooLarge`]).
    pub async fn transact(&self, input: Bytes, max_len: usize) -> Result<Vec<u8>, OpError> {
        let first = self.transceive(input, 64 * 1024).await?;
        let (mut data, mut more) = (first.data, first.more);
        while more {
            if data.len() > max_len {
                return Err(OpError::new(ErrorKind::TooLarge));
            }
            let m = self.read(64 * 1024).await?;
            if m.data.is_empty() && m.more {
                return Err(OpError::new(ErrorKind::Protocol(
                    "the server read nothing from a message it said goes on",
                )));
            }
            data.extend_from_slice(&m.data);
            more = m.more;
        }
        if data.len() > max_len {
            return Err(OpError::new(ErrorKind::TooLarge));
        }
        Ok(data)
    }

    /// Close the pipe and wait for the result.
    pub async fn close(&self) -> Result<(), OpError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.sub
            .submit(Request::Close { file: self.file })
            .await
            .map(|_| ())
    }
}

impl<S: Submitter> Drop for PipeOps<S> {
    fn drop(&mut self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            drop(self.sub.submit(Request::Close { file: self.file }));
        }
    }
}

/// Bytes read from a pipe, cut into whole PDUs: reads exactly what the current PDU still
/// lacks (its header, then the rest of its frag_length), so it never waits for bytes the
/// server has no reason to send.
struct PduStream {
    buf: Vec<u8>,
    received: usize,
}

impl PduStream {
    fn new(first: Vec<u8>) -> Self {
        PduStream {
            received: first.len(),
            buf: first,
        }
    }

    async fn next<S: Submitter>(&mut self, pipe: &PipeOps<S>) -> Result<Vec<u8>, OpError> {
        loop {
            let need = match rpc::pdu_len(&self.buf).map_err(|e| rpc_error(e.into()))? {
                Some(len) if self.buf.len() >= len => {
                    let rest = self.buf.split_off(len);
                    return Ok(core::mem::replace(&mut self.buf, rest));
                }
                Some(len) => len - self.buf.len(),
                None => COMMON_HEADER_LEN - self.buf.len(),
            };
            // Every fragment carries its header: a server that keeps sending empty ones is
            // stopped by the same bound as one that sends too much.
            if self.received > MAX_PIPE_REPLY + (1 << 20) {
                return Err(rpc_error(RpcError::TooLarge));
            }
            let m = pipe.read(need as u32).await?;
            if m.data.is_empty() {
                return Err(rpc_error(RpcError::Sequence("the pipe ended inside a PDU")));
            }
            self.received += m.data.len();
            self.buf.extend_from_slice(&m.data);
        }
    }
}

/// A DCE/RPC association with one interface over an open pipe (\[C706\] 12.6, [MS-RPCE]
/// 2.1.1.2 ncacn_np), unauthenticated, NDR20.
///
/// ```no_run
/// # async fn f<S: smb_core::driver::Submitter>(sub: S, ipc: smb_core::client::TreeId)
/// # -> Result<(), smb_core::client::OpError> {
/// use smb_core::driver::{PipeOps, RpcPipe};
/// use smb_core::wire::srvsvc;
/// let pipe = PipeOps::open(sub, ipc, srvsvc::PIPE_NAME).await?;
/// let mut rpc = RpcPipe::bind(pipe, srvsvc::SRVSVC).await?;
/// let stub = srvsvc::encode_share_enum(None, u32::MAX, 0);
/// let reply = rpc.call(srvsvc::OPNUM_NETR_SHARE_ENUM, &stub).await?;
/// println!("{:?}", srvsvc::decode_share_enum(&reply));
/// rpc.close().await
/// # }
/// ```
#[derive(Debug)]
pub struct RpcPipe<S: Submitter> {
    pipe: PipeOps<S>,
    call_id: u32,
    /// The largest fragment the server receives (its max_recv_frag).
    max_xmit: u16,
}

impl<S: Submitter> RpcPipe<S> {
    /// BIND `interface` with the NDR20 transfer syntax (\[C706\] 12.6.4.3); a BIND_NAK or a
    /// rejected context is an [`ErrorKind::Rpc`] error.
    pub async fn bind(pipe: PipeOps<S>, interface: SyntaxId) -> Result<Self, OpError> {
        let bind = Bind::new(1, interface);
        let first = pipe
            .transceive(Bytes::from(bind.encode()), u32::from(DEFAULT_MAX_FRAG))
            .await?;
        let pdu = PduStream::new(first.data).next(&pipe).await?;
        let ack = match BindReply::decode(&pdu).map_err(rpc_error)? {
            BindReply::Ack(a) => a,
            BindReply::Nak(reason) => return Err(rpc_error(RpcError::BindRefused(reason))),
        };
        if ack.header.call_id != bind.call_id {
            return Err(rpc_error(RpcError::Sequence("BIND_ACK for another call")));
        }
        match ack.results.first() {
            Some(r) if r.result == 0 && r.transfer_syntax == SyntaxId::NDR20 => {}
            Some(r) => {
                return Err(rpc_error(RpcError::ContextRejected {
                    result: r.result,
                    reason: r.reason,
                }));
            }
            None => {
                return Err(rpc_error(RpcError::ContextRejected {
                    result: u16::MAX,
                    reason: 0,
                }));
            }
        }
        Ok(RpcPipe {
            pipe,
            call_id: bind.call_id,
            // Fragments smaller than the protocol's minimum cannot be made.
            max_xmit: ack.max_recv.clamp(MIN_FRAG, DEFAULT_MAX_FRAG),
        })
    }

    /// Call `opnum` with the NDR-encoded `stub`; returns the response's stub, reassembled
    /// from its fragments (at most [`MAX_PIPE_REPLY`] bytes). All request fragments but the
    /// last are written, the last goes with FSCTL_PIPE_TRANSCEIVE; the response fragments
    /// are read until PFC_LAST_FRAG. A FAULT is [`RpcError::Fault`].
    pub async fn call(&mut self, opnum: u16, stub: &[u8]) -> Result<Vec<u8>, OpError> {
        self.call_id = self.call_id.wrapping_add(1).max(1);
        let call_id = self.call_id;
        let mut frags = rpc::encode_request(call_id, 0, opnum, stub, self.max_xmit);
        let last = frags.pop().unwrap_or_default();
        for f in frags {
            self.pipe.write(Bytes::from(f)).await?;
        }
        let first = self
            .pipe
            .transceive(Bytes::from(last), u32::from(DEFAULT_MAX_FRAG))
            .await?;
        let mut pdus = PduStream::new(first.data);
        let mut reply = Reassembly::new(call_id, MAX_PIPE_REPLY);
        loop {
            let pdu = pdus.next(&self.pipe).await?;
            if reply.push(&pdu).map_err(rpc_error)? {
                return Ok(reply.into_stub());
            }
        }
    }

    /// The pipe.
    pub fn pipe(&self) -> &PipeOps<S> {
        &self.pipe
    }

    /// Close the pipe.
    pub async fn close(self) -> Result<(), OpError> {
        self.pipe.close().await
    }
}

/// Most NetrShareEnum calls made for one listing (each continues where the last stopped).
const MAX_ENUM_CALLS: usize = 64;

/// List the shares of the server: connect IPC$, open `srvsvc`, BIND, NetrShareEnum level 1
/// ([MS-SRVS] 3.1.4.8) until every entry is in, close and disconnect.
pub async fn list_shares<S: Submitter>(sub: &S) -> Result<Vec<ShareInfo>, OpError> {
    let tree = match sub
        .submit(Request::TreeConnect {
            share: "IPC$".into(),
        })
        .await?
    {
        Response::TreeConnected { tree, .. } => tree,
        _ => return Err(unexpected()),
    };
    let result = enumerate(sub.clone(), tree).await;
    let _ = sub.submit(Request::TreeDisconnect { tree }).await;
    result.map_err(|e| match e.context {
        None => e.with_context("listing the shares (srvsvc NetrShareEnum)"),
        Some(_) => e,
    })
}

async fn enumerate<S: Submitter>(sub: S, tree: TreeId) -> Result<Vec<ShareInfo>, OpError> {
    let pipe = PipeOps::open(sub, tree, srvsvc::PIPE_NAME).await?;
    let mut rpc = RpcPipe::bind(pipe, srvsvc::SRVSVC).await?;
    let mut shares = Vec::new();
    let mut resume = 0;
    for _ in 0..MAX_ENUM_CALLS {
        let stub = srvsvc::encode_share_enum(None, u32::MAX, resume);
        let reply = rpc.call(srvsvc::OPNUM_NETR_SHARE_ENUM, &stub).await?;
        let page = srvsvc::decode_share_enum(&reply).map_err(rpc_error)?;
        let got = page.shares.len();
        shares.extend(page.shares);
        match (page.status, page.resume) {
            (srvsvc::NERR_SUCCESS, _) => {
                rpc.close().await?;
                return Ok(shares);
            }
            (srvsvc::ERROR_MORE_DATA, Some(r)) if got > 0 => resume = r,
            (status, _) => return Err(rpc_error(RpcError::Status(status))),
        }
    }
    Err(rpc_error(RpcError::Sequence(
        "the server kept answering ERROR_MORE_DATA",
    )))
}

#[cfg(test)]
#[path = "pipe_tests.rs"]
mod tests;
