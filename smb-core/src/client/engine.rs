//! The engine behind [`Client`]: connection setup, sending, receiving, operations.

use super::*;
use crate::auth::{AuthContext, AuthKind, AuthStep};
use crate::credits::Plan;
use crate::crypto::{CipherId, SessionKeys, default_provider};
use crate::state::{Acquire, Owner, Transition};
use crate::time::Duration;
use crate::wire::close::{CloseFlags, CloseRequest, CloseResponse};
use crate::wire::compound::{ChainPart, build_chain, split_chain};
use crate::wire::create::{
    AccessMask, CreateDisposition, CreateOptions, CreateRequest, CreateResponse,
    FileAttributes as WireAttrs, ImpersonationLevel, OplockLevel, ShareAccess,
};
use crate::wire::create_context::{DurableHandleRequestV2, Lease, LeaseState};
use crate::wire::framing::{self, PREFIX_LEN};
use crate::wire::header::{HeaderId, SIGNATURE_RANGE};
use crate::wire::ioctl::{
    IoctlData, IoctlFlags, IoctlRequest, IoctlResponse, ValidateNegotiateInfoResponse, fsctl,
};
use crate::wire::negotiate::{
    Capabilities, HashAlgorithm, NegotiateContext, NegotiateRequest, NegotiateResponse,
    SecurityMode,
};
use crate::wire::session_setup::{
    SessionFlags, SessionSetupFlags, SessionSetupRequest, SessionSetupResponse,
};
use crate::wire::transform::{ProtocolKind, TRANSFORM_HEADER_LEN, TransformHeader, classify};
use crate::wire::tree_connect::{ShareFlags, TreeConnectRequest, TreeConnectResponse};
use crate::wire::{Decode, DecodeError, Encode, HEADER_LEN, Header, HeaderFlags, NtStatus};
use bytes::BytesMut;
use smallvec::SmallVec;

/// One message ready to be given ids, signed and framed.
struct OutMsg {
    msg: Vec<u8>,
    data: Option<Bytes>,
    command: Command,
    recv_len: u64,
    part: Part,
    sign: bool,
    encrypt: bool,
    related: bool,
}

/// Why a message could not be sent now.
enum SendBlock {
    /// Not enough credits: try again when responses come back.
    Credits,
    /// The channel cannot send (not Good, or failed while sending).
    Channel,
}

fn wire_dialect(d: Dialect) -> u16 {
    d.to_u16()
}

fn crypto_cipher(c: Cipher) -> Option<CipherId> {
    CipherId::from_wire_id(c.to_u16())
}

fn crypto_signing(s: SigningAlgorithm) -> Option<crate::crypto::SigningAlgorithm> {
    crate::crypto::SigningAlgorithm::from_wire_id(s.to_u16())
}

const ALL_DIALECTS: [Dialect; 5] = [
    Dialect::Smb202,
    Dialect::Smb210,
    Dialect::Smb300,
    Dialect::Smb302,
    Dialect::Smb311,
];

/// Byte offsets inside a header.
const H_CREDIT_CHARGE: usize = 6;
const H_CREDITS: usize = 14;
const H_MESSAGE_ID: usize = 24;

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn encode_msg<B: Encode>(hdr: &Header, body: &B) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + 128);
    hdr.encode(&mut v);
    body.encode(&mut v);
    v
}

fn attrs_from_create(r: &CreateResponse) -> FileAttributes {
    FileAttributes {
        creation_time: r.creation_time,
        last_access_time: r.last_access_time,
        last_write_time: r.last_write_time,
        change_time: r.change_time,
        allocation_size: r.allocation_size,
        end_of_file: r.end_of_file,
        attributes: r.file_attributes.0,
    }
}

impl Client {
    // ----------------------------------------------------------------------------------
    // Small helpers
    // ----------------------------------------------------------------------------------

    fn alloc_op(&mut self, kind: OpKind, deadline: Option<Instant>) -> OpId {
        let id = OpId(self.next_op);
        self.next_op += 1;
        self.ops.insert(
            id,
            Op {
                deadline,
                kind,
                in_flight: Vec::new(),
                sent_all: false,
            },
        );
        id
    }

    fn emit(&mut self, t: Transition) {
        self.out.push_back(Output::Event(t.into()));
    }

    fn emit_opt(
        &mut self,
        r: Result<(Transition, Option<crate::state::Flight>), crate::state::IllegalTransition>,
    ) {
        if let Ok((t, _)) = r {
            self.emit(t);
        }
    }

    /// Complete `op` (once) and forget everything about it. Messages still in flight keep
    /// their slots (so late responses still return credits) but no longer point at it.
    fn complete(&mut self, op: OpId, result: Result<Response, OpError>) {
        let Some(o) = self.ops.remove(&op) else {
            return;
        };
        if let OpKind::Tcon { tree, .. } = o.kind {
            self.tcon_done(tree, op, &result);
        }
        for (ch, mid) in o.in_flight {
            if let Some(p) = self
                .channels
                .get_mut(ch.0 as usize)
                .and_then(|c| c.pending.get_mut(&mid))
            {
                p.op = None;
            }
        }
        self.queue.retain(|o| *o != op);
        self.session.machine.leave(op);
        if self.connect_op == Some(op) {
            self.connect_op = None;
        }
        self.out.push_back(Output::Completed { op, result });
    }

    /// A TREE_CONNECT op ends: if it still owned its tree's InTcon step, the step ends with
    /// it (success: the tree is Good and the waiters get the same response; failure: the tree
    /// goes back and the waiters get the same error). A waiter just leaves the waiter list.
    fn tcon_done(&mut self, tree: TreeId, op: OpId, result: &Result<Response, OpError>) {
        let Some(t) = self.trees.get_mut(&tree) else {
            return;
        };
        let owner = t.machine.flight().map(|f| f.owner) == Some(Owner::Op(op));
        if !owner {
            t.machine.leave(op);
            return;
        }
        match result {
            Ok(r) => {
                t.users += 1;
                t.info = Some(r.clone());
                if let Ok((tr, flight)) = t.machine.finish(TreeState::Good) {
                    t.users += flight.waiters.len() as u32;
                    self.emit(tr);
                    for w in flight.waiters {
                        self.complete(w, Ok(r.clone()));
                    }
                }
            }
            Err(e) => {
                let Ok((tr, flight)) = t.machine.fail() else {
                    return;
                };
                let forget = t.users == 0;
                self.emit(tr);
                if forget {
                    if let Some(mut t) = self.trees.remove(&tree) {
                        if let Ok((tr, _)) = t.machine.set(TreeState::Exiting) {
                            self.emit(tr);
                        }
                    }
                }
                for w in flight.waiters {
                    self.complete(w, Err(e.clone()));
                }
            }
        }
    }

    fn channel(&self, ch: ChannelId) -> Option<&Channel> {
        self.channels.get(ch.0 as usize)
    }

    fn neg(&self) -> Option<&Negotiated> {
        self.channels.first()?.neg.as_ref()
    }

    /// Clamp an output buffer length to the server's MaxTransactSize ([MS-SMB2] 3.2.4.14,
    /// 3.2.4.15, 3.2.4.20.1: a request asking for more than MaxTransactSize is refused with
    /// STATUS_INVALID_PARAMETER, e.g. by Samba on 2.0.2 where the limit is 64 KiB). Callers may
    /// ask for large pages everywhere and get the largest the server allows.
    fn clamp_to_transact(&self, len: u32) -> u32 {
        self.neg().map_or(len, |n| len.min(n.max_transact.max(1)))
    }

    fn dialect_u16(&self) -> u16 {
        self.neg().map_or(0, |n| wire_dialect(n.dialect))
    }

    fn auth_context_now(&self, now: Instant) -> FileTime {
        self.wall_clock(now)
    }

    // ----------------------------------------------------------------------------------
    // Public inputs
    // ----------------------------------------------------------------------------------

    /// Start connecting to `addr`: creates channel 0 and emits [`Output::Connect`]. The
    /// returned operation completes with [`Response::Connected`] once the session is
    /// established, or with the error that prevented it.
    pub fn connect(&mut self, addr: ServerAddr, now: Instant) -> OpId {
        self.last_now = now;
        let dl = now + self.config.request_timeout;
        let deadline = Some(dl);
        let op = self.alloc_op(OpKind::Connect, deadline);
        if self.shut_down {
            self.complete(op, Err(OpError::new(ErrorKind::ShutDown)));
            return op;
        }
        if !self.channels.is_empty() {
            // One session per client: a second connect joins the first, or reports it.
            if self.session.machine.state() == SessionState::Good {
                let r = self.connected_response();
                self.complete(op, Ok(r));
            } else if !self.session.machine.join(op) {
                let r = Err(OpError::new(ErrorKind::Protocol("already connected")));
                self.complete(op, r);
            }
            return op;
        }
        self.server_name = self
            .config
            .server_name
            .clone()
            .unwrap_or_else(|| String::from(addr.host()));
        self.addr = Some(addr.clone());
        let ch = ChannelId(0);
        self.channels.push(Channel {
            machine: Machine::new(ObjectRef::Channel(ch), ChannelState::New),
            reader: FrameReader::new(self.config.max_frame_len),
            credits: CreditWindow::new(self.config.credit_target),
            connected: false,
            pending: BTreeMap::new(),
            neg: None,
            preauth: PreauthHash::new(),
            last_traffic: now,
            sent_neg: None,
            waiting_since: None,
        });
        self.connect_op = Some(op);
        match self
            .session
            .machine
            .begin(SessionState::InSetup, Owner::Op(op), dl)
        {
            Ok(t) => self.emit(t),
            Err(_) => {
                self.complete(op, Err(OpError::new(ErrorKind::Protocol("session state"))));
                return op;
            }
        }
        self.out.push_back(Output::Connect { channel: ch, addr });
        op
    }

    /// The adapter's TCP connection for `ch` is up.
    pub fn handle_connected(&mut self, ch: ChannelId, now: Instant) {
        self.last_now = now;
        let target = self.config.credit_target;
        let max_frame = self.config.max_frame_len;
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return;
        };
        if c.connected || c.machine.state() == ChannelState::Exiting {
            return;
        }
        c.connected = true;
        c.machine.bump_epoch();
        c.credits = CreditWindow::new(target);
        c.reader = FrameReader::new(max_frame);
        c.pending.clear();
        c.last_traffic = now;
        c.waiting_since = None;
        let r = c.machine.set(ChannelState::NeedNegotiate);
        self.emit_opt(r);
        self.start_negotiate(ch, now);
    }

    /// Bytes arrived on `ch` (any split: partial frames are buffered).
    pub fn handle_input(&mut self, ch: ChannelId, data: &[u8], now: Instant) {
        if !self.note_traffic(ch, now) {
            return;
        }
        if let Some(c) = self.channels.get_mut(ch.0 as usize) {
            c.reader.push(data);
        }
        loop {
            let next = match self.channels.get_mut(ch.0 as usize) {
                Some(c) if c.connected => c.reader.next_frame_mut(),
                _ => return,
            };
            match next {
                Ok(Some(frame)) => self.process_frame(ch, frame, now),
                Ok(None) => break,
                Err(e) => return self.handle_framing_error(ch, e, now),
            }
        }
        self.after_traffic(ch, now);
    }

    /// One whole frame arrived on `ch`: the payload after the 4-byte direct-TCP prefix.
    ///
    /// For adapters that cut the stream into frames themselves (with a
    /// [`FrameReader`](crate::wire::framing::FrameReader) reading straight into its buffer):
    /// the frame is handed over as its own `BytesMut`, so nothing is copied on the way in and
    /// an encrypted frame is decrypted where it lies. Use either this or
    /// [`Client::handle_input`] on a channel, not both.
    pub fn handle_frame(&mut self, ch: ChannelId, frame: BytesMut, now: Instant) {
        if !self.note_traffic(ch, now) {
            return;
        }
        self.process_frame(ch, frame, now);
        self.after_traffic(ch, now);
    }

    /// The byte stream of `ch` cannot be cut into frames (bad prefix, frame too long): the
    /// channel is failed with [`ChannelError::Malformed`].
    pub fn handle_framing_error(&mut self, ch: ChannelId, e: DecodeError, now: Instant) {
        self.last_now = now;
        self.stats.malformed += 1;
        self.fail_channel(ch, ChannelError::Malformed(e), now);
    }

    /// Bookkeeping for bytes received on `ch`; false if the channel is not connected.
    fn note_traffic(&mut self, ch: ChannelId, now: Instant) -> bool {
        self.last_now = now;
        match self.channels.get_mut(ch.0 as usize) {
            Some(c) if c.connected => {
                c.last_traffic = now;
                // The server is alive: restart the silence clock.
                if c.waiting_since.is_some() {
                    c.waiting_since = Some(now);
                }
                true
            }
            _ => false,
        }
    }

    /// After received frames were processed: stop the silence clock when nothing is awaited
    /// and send what the new credits allow.
    fn after_traffic(&mut self, ch: ChannelId, now: Instant) {
        if let Some(c) = self.channels.get_mut(ch.0 as usize) {
            if !c.awaiting() {
                c.waiting_since = None;
            }
        }
        self.pump(now);
    }

    /// The transport of `ch` closed (EOF, error, or connect failure).
    pub fn handle_closed(&mut self, ch: ChannelId, reason: CloseReason, now: Instant) {
        self.last_now = now;
        match self.channels.get_mut(ch.0 as usize) {
            Some(c) if c.machine.state() == ChannelState::Exiting => {
                c.connected = false;
            }
            Some(_) => self.fail_channel(ch, ChannelError::Closed(reason), now),
            None => {}
        }
    }

    /// A deadline the client asked for (through [`Output::Timeout`]) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        // Operations past their deadline.
        let expired: Vec<OpId> = self
            .ops
            .iter()
            .filter(|(_, o)| o.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for op in expired {
            if !self.ops.contains_key(&op) {
                continue;
            }
            if !self.tcon_hand_over(op) {
                self.send_cancels(op);
            }
            self.complete(op, Err(OpError::new(ErrorKind::TimedOut)));
        }
        // Session setup and negotiate that take too long: back to Need*, fail the waiters.
        if let Some((t, flight)) = self.session.machine.expire(now) {
            self.emit(t);
            for op in flight.everyone() {
                self.complete(op, Err(OpError::new(ErrorKind::TimedOut)));
            }
            for i in 0..self.channels.len() {
                self.fail_channel(ChannelId(i as u32), ChannelError::NegotiateTimeout, now);
            }
        }
        for i in 0..self.channels.len() {
            let was = self.channels[i].machine.state();
            let expired = self.channels[i].machine.expire(now);
            if let Some((t, _)) = expired {
                self.emit(t);
                let e = if was == ChannelState::InSessSetup {
                    ChannelError::SessionSetupTimeout
                } else {
                    ChannelError::NegotiateTimeout
                };
                self.fail_channel(ChannelId(i as u32), e, now);
            }
        }
        // A server that stopped answering while requests wait for it: fail the channel so
        // nothing waits forever (kernel: 3 x echo interval; here `unresponsive_timeout`).
        if let Some(bound) = self.config.unresponsive_timeout {
            for i in 0..self.channels.len() {
                let c = &self.channels[i];
                if let Some(since) = c.waiting_since.filter(|_| c.connected && c.awaiting()) {
                    if since + bound <= now {
                        let ms = (now - since).as_millis();
                        self.fail_channel(ChannelId(i as u32), ChannelError::Unresponsive(ms), now);
                    }
                }
            }
        }
        // Idle channels: ECHO.
        if let Some(interval) = self.config.echo_interval {
            for i in 0..self.channels.len() {
                let c = &self.channels[i];
                if c.machine.state() == ChannelState::Good
                    && c.connected
                    && !c.awaiting()
                    && c.last_traffic + interval <= now
                {
                    self.channels[i].last_traffic = now;
                    let hdr = self.header(Command::Echo, 0);
                    let msg = encode_msg(&hdr, &crate::wire::echo::EchoRequest);
                    let m = self.out_msg(msg, None, Command::Echo, 0, Part::Internal, 0);
                    let _ = self.transmit(ChannelId(i as u32), None, Vec::from([m]), None);
                }
            }
        }
        self.pump(now);
    }

    /// Submit an operation. Never blocks: the result arrives as [`Output::Completed`].
    pub fn submit(&mut self, request: Request, now: Instant) -> Result<OpId, SubmitError> {
        self.last_now = now;
        if self.shut_down {
            return Err(SubmitError::ShutDown);
        }
        if self.channels.is_empty() {
            return Err(SubmitError::NotConnected);
        }
        if self.ops.len() >= self.config.max_queued_ops {
            return Err(SubmitError::Busy);
        }
        match self.session.machine.state() {
            SessionState::Good | SessionState::InSetup => {}
            _ => return Err(SubmitError::NotConnected),
        }
        self.validate(&request, false)?;
        let deadline = match request {
            Request::ChangeNotify { .. } => None,
            _ => Some(now + self.config.request_timeout),
        };
        let kind = match request {
            Request::Read { file, offset, len } => OpKind::Io(
                Io::new(file, offset, u64::from(len), Bytes::new()),
                Command::Read,
            ),
            Request::Write { file, offset, data } => {
                let len = data.len() as u64;
                OpKind::Io(Io::new(file, offset, len, data), Command::Write)
            }
            Request::Compound(reqs) => {
                let n = reqs.len();
                let mut results = Vec::with_capacity(n);
                results.resize_with(n, || None);
                OpKind::Compound {
                    reqs,
                    results,
                    created: None,
                }
            }
            Request::TreeConnect { share } => {
                return Ok(self.submit_tree_connect(share, deadline, now));
            }
            Request::TreeDisconnect { tree } => {
                let shared = self.trees.get_mut(&tree).filter(|t| t.users > 1);
                if let Some(t) = shared {
                    // Other TreeConnect requests still use this tree: only drop one use.
                    t.users -= 1;
                    let op = self.alloc_op(OpKind::Connect, None);
                    self.complete(op, Ok(Response::TreeDisconnected));
                    return Ok(op);
                }
                OpKind::Single(Request::TreeDisconnect { tree })
            }
            other => OpKind::Single(other),
        };
        let op = self.alloc_op(kind, deadline);
        self.queue.push_back(op);
        if self.session.machine.state() == SessionState::InSetup {
            self.session.machine.join(op);
        }
        self.pump(now);
        Ok(op)
    }

    /// TREE_CONNECT, single-flight per share: one tree (one TreeId) per share name. A request
    /// for a share that is connected completes at once with the same TreeId; one for a share
    /// being connected joins the TREE_CONNECT in flight (no second one is sent) and completes
    /// with it. Each successful TreeConnect counts one use; the TREE_DISCONNECT goes out when
    /// the last use disconnects.
    fn submit_tree_connect(
        &mut self,
        share: String,
        deadline: Option<Instant>,
        now: Instant,
    ) -> OpId {
        let existing = self
            .trees
            .iter()
            .find(|(_, t)| {
                t.share.eq_ignore_ascii_case(&share) && t.machine.state() != TreeState::Exiting
            })
            .map(|(id, _)| *id);
        let tree = existing.unwrap_or_else(|| {
            let tree = TreeId(self.next_tree);
            self.next_tree += 1;
            self.trees.insert(
                tree,
                Tree {
                    machine: Machine::new(ObjectRef::Tree(tree), TreeState::New),
                    share,
                    wire_id: 0,
                    encrypt: false,
                    users: 0,
                    info: None,
                },
            );
            tree
        });
        let op = self.alloc_op(
            OpKind::Tcon {
                tree,
                stage: TconStage::Connect,
            },
            deadline,
        );
        let dl = deadline.unwrap_or(now + self.config.request_timeout);
        let Some(t) = self.trees.get_mut(&tree) else {
            self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
            return op;
        };
        match t
            .machine
            .acquire(TreeState::InTcon, TreeState::Good, Owner::Op(op), dl)
        {
            Acquire::Ready => {
                t.users += 1;
                let r = t
                    .info
                    .clone()
                    .ok_or(OpError::new(ErrorKind::Protocol("tree info")));
                self.complete(op, r);
            }
            Acquire::Owner(tr) => {
                self.emit(tr);
                self.queue.push_back(op);
                if self.session.machine.state() == SessionState::InSetup {
                    self.session.machine.join(op);
                }
                self.pump(now);
            }
            Acquire::Joined => {}
            Acquire::Refused(_) => {
                self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
            }
        }
        op
    }

    /// The owner of a tree's InTcon step gives up (cancel, timeout) while other requests
    /// wait for the same tree: the first waiter takes over the exchange in flight. Returns
    /// whether it did.
    fn tcon_hand_over(&mut self, op: OpId) -> bool {
        let Some(Op {
            kind: OpKind::Tcon { tree, .. },
            ..
        }) = self.ops.get(&op)
        else {
            return false;
        };
        let tree = *tree;
        let Some(t) = self.trees.get_mut(&tree) else {
            return false;
        };
        if t.machine.flight().map(|f| f.owner) != Some(Owner::Op(op)) {
            return false;
        }
        let Some(next) = t.machine.hand_over() else {
            return false;
        };
        let Some(old) = self.ops.get_mut(&op) else {
            return false;
        };
        let kind = core::mem::replace(&mut old.kind, OpKind::Connect);
        let in_flight = core::mem::take(&mut old.in_flight);
        let sent_all = old.sent_all;
        for (ch, mid) in &in_flight {
            if let Some(p) = self
                .channels
                .get_mut(ch.0 as usize)
                .and_then(|c| c.pending.get_mut(mid))
            {
                p.op = Some(next);
            }
        }
        if let Some(n) = self.ops.get_mut(&next) {
            n.kind = kind;
            n.in_flight = in_flight;
            n.sent_all = sent_all;
        }
        for q in self.queue.iter_mut() {
            if *q == op {
                *q = next;
            }
        }
        true
    }

    fn validate(&self, r: &Request, in_compound: bool) -> Result<(), SubmitError> {
        let file_ok = |f: &FileHandle| {
            (in_compound && *f == FileHandle::RELATED) || self.opens.contains_key(f)
        };
        let ok = match r {
            Request::TreeDisconnect { tree } | Request::Create { tree, .. } => {
                self.trees.contains_key(tree)
            }
            Request::Ioctl { tree, file, .. } => {
                self.trees.contains_key(tree) && file.as_ref().is_none_or(file_ok)
            }
            Request::Close { file }
            | Request::Read { file, .. }
            | Request::Write { file, .. }
            | Request::Flush { file }
            | Request::QueryDirectory { file, .. }
            | Request::QueryInfo { file, .. }
            | Request::SetInfo { file, .. }
            | Request::Lock { file, .. }
            | Request::ChangeNotify { file, .. }
            | Request::OplockBreakAck { file, .. } => file_ok(file),
            Request::Compound(v) => {
                if in_compound {
                    return Err(SubmitError::InvalidRequest("nested compound"));
                }
                if v.is_empty() {
                    return Err(SubmitError::InvalidRequest("empty compound"));
                }
                for x in v {
                    match x {
                        Request::TreeConnect { .. }
                        | Request::Logoff
                        | Request::LeaseBreakAck { .. }
                        | Request::OplockBreakAck { .. } => {
                            return Err(SubmitError::InvalidRequest(
                                "TREE_CONNECT/LOGOFF/break acks cannot be compounded",
                            ));
                        }
                        Request::Read { len, .. } if u64::from(*len) > 65536 => {
                            return Err(SubmitError::InvalidRequest(
                                "compounded READ larger than 64 KiB",
                            ));
                        }
                        Request::Write { data, .. } if data.len() > 65536 => {
                            return Err(SubmitError::InvalidRequest(
                                "compounded WRITE larger than 64 KiB",
                            ));
                        }
                        _ => {}
                    }
                    self.validate(x, true)?;
                }
                true
            }
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(SubmitError::InvalidHandle)
        }
    }

    /// Cancel an operation: it completes with [`ErrorKind::Cancelled`] (a request already
    /// sent is cancelled on the server with SMB2 CANCEL).
    pub fn cancel(&mut self, op: OpId, now: Instant) {
        self.last_now = now;
        if !self.ops.contains_key(&op) || Some(op) == self.connect_op {
            return;
        }
        if self.tcon_hand_over(op) {
            self.complete(op, Err(OpError::new(ErrorKind::Cancelled)));
            self.pump(now);
            return;
        }
        self.send_cancels(op);
        self.complete(op, Err(OpError::new(ErrorKind::Cancelled)));
        self.pump(now);
    }

    /// Log off and close every channel. Every pending operation completes with
    /// [`ErrorKind::ShutDown`]; nothing is sent afterwards.
    pub fn shutdown(&mut self, _now: Instant) {
        if self.shut_down {
            return;
        }
        let ops: Vec<OpId> = self.ops.keys().copied().collect();
        for op in ops {
            self.complete(op, Err(OpError::new(ErrorKind::ShutDown)));
        }
        if self.session.machine.state() == SessionState::Good {
            let hdr = self.header(Command::Logoff, 0);
            let msg = encode_msg(&hdr, &crate::wire::logoff::LogoffRequest);
            let m = self.out_msg(msg, None, Command::Logoff, 0, Part::Internal, 0);
            let _ = self.transmit(ChannelId(0), None, Vec::from([m]), None);
        }
        self.shut_down = true;
        let r = self.session.machine.set(SessionState::Exiting);
        self.emit_opt(r);
        let trees: Vec<TreeId> = self.trees.keys().copied().collect();
        for t in trees {
            if let Some(tr) = self.trees.get_mut(&t) {
                let r = tr.machine.set(TreeState::Exiting);
                self.emit_opt(r);
            }
        }
        for i in 0..self.channels.len() {
            let c = &mut self.channels[i];
            let connected = c.connected;
            c.connected = false;
            c.pending.clear();
            let r = c.machine.set(ChannelState::Exiting);
            self.emit_opt(r);
            if connected {
                self.out.push_back(Output::Close {
                    channel: ChannelId(i as u32),
                });
            }
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.shut_down {
            return None;
        }
        let ops = self.ops.values().filter_map(|o| o.deadline);
        let flights = self
            .channels
            .iter()
            .filter_map(|c| c.machine.deadline())
            .chain(self.session.machine.deadline());
        let echo = self.config.echo_interval.and_then(|iv| {
            self.channels
                .iter()
                .filter(|c| c.connected && c.machine.state() == ChannelState::Good && !c.awaiting())
                .map(|c| c.last_traffic + iv)
                .min()
        });
        let silent = self.config.unresponsive_timeout.and_then(|b| {
            self.channels
                .iter()
                .filter(|c| c.connected && c.awaiting())
                .filter_map(|c| c.waiting_since.map(|t| t + b))
                .min()
        });
        ops.chain(flights).chain(echo).chain(silent).min()
    }

    // ----------------------------------------------------------------------------------
    // Failure
    // ----------------------------------------------------------------------------------

    fn fail_channel(&mut self, ch: ChannelId, error: ChannelError, _now: Instant) {
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return;
        };
        if matches!(
            c.machine.state(),
            ChannelState::Exiting | ChannelState::NeedReconnect
        ) && !c.connected
        {
            return;
        }
        let was_connected = c.connected;
        c.connected = false;
        let pending: Vec<Pending> = core::mem::take(&mut c.pending).into_values().collect();
        let r = c.machine.set(ChannelState::NeedReconnect);
        self.emit_opt(r);
        if was_connected {
            self.out.push_back(Output::Close { channel: ch });
        }
        self.out.push_back(Output::Event(Event::ChannelFailed {
            channel: ch,
            error: error.clone(),
        }));
        // Session setup waiters fail with the channel's error.
        if let Ok((t, flight)) = self.session.machine.fail() {
            self.emit(t);
            let e = self.channel_op_error(&error);
            for op in flight.everyone() {
                self.complete(op, Err(e.clone()));
            }
        } else if self.session.machine.state() == SessionState::Good {
            // The only channel is gone: the session must be re-established.
            if let Ok((t, _)) = self.session.machine.set(SessionState::NeedReconnect) {
                self.emit(t);
            }
            self.session.previous_id = self.session.id;
            let trees: Vec<TreeId> = self.trees.keys().copied().collect();
            for t in trees {
                if let Some(tr) = self.trees.get_mut(&t) {
                    let r = tr.machine.set(TreeState::NeedReconnect);
                    self.emit_opt(r);
                }
            }
            let files: Vec<FileHandle> = self.opens.keys().copied().collect();
            for f in files {
                if let Some(o) = self.opens.get_mut(&f) {
                    let r = o.machine.set(OpenState::NeedReopen);
                    self.emit_opt(r);
                }
            }
        }
        // Everything in flight or queued fails as retryable: nothing is silently dropped.
        let mut victims: Vec<OpId> = pending.iter().filter_map(|p| p.op).collect();
        victims.extend(self.queue.iter().copied());
        // Requests waiting for a TREE_CONNECT in flight on this channel (not queued, nothing
        // of theirs in flight) fail with it instead of waiting for their deadline.
        victims.extend(
            self.ops
                .iter()
                .filter(|(_, o)| matches!(o.kind, OpKind::Tcon { .. }) && o.in_flight.is_empty())
                .map(|(id, _)| *id),
        );
        victims.sort();
        victims.dedup();
        let e = self.channel_op_error(&error);
        for op in victims {
            self.complete(op, Err(e.clone()));
        }
    }

    /// The error given to operations that a failed channel takes down: the server is gone
    /// (naming the address and the cause) or timed out; other channel errors as they are.
    fn channel_op_error(&self, error: &ChannelError) -> OpError {
        let addr = self.addr.as_ref().map_or("", |a| a.0.as_str());
        match error {
            ChannelError::Closed(r) => {
                OpError::new(ErrorKind::ServerGone).with_context(alloc::format!("{addr}: {r}"))
            }
            ChannelError::NegotiateTimeout
            | ChannelError::SessionSetupTimeout
            | ChannelError::Unresponsive(_) => {
                OpError::new(ErrorKind::TimedOut).with_context(alloc::format!("{addr}: {error}"))
            }
            ChannelError::Shutdown => {
                OpError::new(ErrorKind::ServerGone).with_context(alloc::format!("{addr}: {error}"))
            }
            other => OpError::from(other.clone()),
        }
    }

    fn fail_connect(&mut self, err: OpError, now: Instant) {
        if let Ok((t, flight)) = self.session.machine.fail() {
            self.emit(t);
            for op in flight.everyone() {
                self.complete(op, Err(err.clone()));
            }
        }
        if let Some(se) = match &err.kind {
            ErrorKind::Session(s) => Some(s.clone()),
            ErrorKind::LogonFailure | ErrorKind::AccessDenied => {
                err.status.map(SessionError::LogonFailure)
            }
            ErrorKind::SigningRequired => Some(SessionError::SigningUnavailable),
            ErrorKind::EncryptionRequired => Some(SessionError::EncryptionUnavailable),
            _ => None,
        } {
            self.out.push_back(Output::Event(Event::SessionFailed(se)));
        }
        let queued: Vec<OpId> = self.queue.iter().copied().collect();
        for op in queued {
            self.complete(op, Err(err.clone()));
        }
        // The channel is of no use without a session.
        let ce = match &err.kind {
            ErrorKind::Channel(c) => c.clone(),
            _ => ChannelError::Shutdown,
        };
        if let Some(c) = self.channels.first() {
            if c.connected {
                self.fail_channel(ChannelId(0), ce, now);
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Sending
    // ----------------------------------------------------------------------------------

    fn header(&self, command: Command, tree_id: u32) -> Header {
        let mut h = Header::request(command);
        h.session_id = self.session.id;
        h.id = HeaderId::Sync {
            process_id: 0xFEFF,
            tree_id,
        };
        h
    }

    fn out_msg(
        &self,
        msg: Vec<u8>,
        data: Option<Bytes>,
        command: Command,
        recv_len: u64,
        part: Part,
        tree_wire: u32,
    ) -> OutMsg {
        let sec = self.session.security.as_ref();
        let tree_encrypt = self
            .trees
            .values()
            .any(|t| t.wire_id == tree_wire && t.encrypt && tree_wire != 0);
        let encrypt = sec.is_some_and(|s| s.encryptor.is_some() && (s.encrypt_all || tree_encrypt))
            && !matches!(command, Command::Negotiate | Command::SessionSetup);
        let signing_ok = sec.is_some_and(|s| s.signer.is_some());
        // [MS-SMB2] 3.2.4.1.1: sign when the session requires it; 3.1.1 TREE_CONNECT is
        // always signed (peer-lessons #6). Encrypted messages are not signed.
        let sign = !encrypt
            && signing_ok
            && (sec.is_some_and(|s| s.signing_required)
                || (command == Command::TreeConnect && self.dialect_u16() == 0x0311));
        OutMsg {
            msg,
            data,
            command,
            recv_len,
            part,
            sign,
            encrypt,
            related: false,
        }
    }

    /// Give the messages ids and credits, sign, chain, encrypt and emit them as one frame.
    fn transmit(
        &mut self,
        ch: ChannelId,
        op: Option<OpId>,
        mut msgs: Vec<OutMsg>,
        _deadline: Option<Instant>,
    ) -> Result<(), SendBlock> {
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return Err(SendBlock::Channel);
        };
        if !c.connected {
            return Err(SendBlock::Channel);
        }
        let charges: SmallVec<[u16; 4]> = msgs
            .iter()
            .map(|m| {
                // [MS-SMB2] 3.2.4.1.5: the payload is the data for READ/WRITE-like
                // messages, else the body.
                let send = match &m.data {
                    Some(d) => d.len() as u64,
                    None => (m.msg.len() - HEADER_LEN) as u64,
                };
                c.credits.charge_for(send, m.recv_len)
            })
            .collect();
        let total: u32 = charges.iter().map(|x| u32::from(*x)).sum();
        if c.credits.available() < total {
            return Err(SendBlock::Credits);
        }
        let preauth_311 = c.neg.as_ref().is_none_or(|n| n.dialect == Dialect::Smb311);
        for (m, charge) in msgs.iter_mut().zip(charges.iter()) {
            let Some(res) = c.credits.reserve(*charge) else {
                return Err(SendBlock::Credits);
            };
            put16(&mut m.msg, H_CREDIT_CHARGE, res.header_charge);
            put16(&mut m.msg, H_CREDITS, res.credit_request);
            put64(&mut m.msg, H_MESSAGE_ID, res.message_id);
            if c.waiting_since.is_none() {
                c.waiting_since = Some(self.last_now);
            }
            c.pending.insert(
                res.message_id,
                Pending {
                    op,
                    part: m.part,
                    command: m.command,
                    res,
                    async_id: None,
                },
            );
            if let Some(id) = op {
                if let Some(o) = self.ops.get_mut(&id) {
                    o.in_flight.push((ch, res.message_id));
                }
            }
        }
        // Pre-auth integrity (3.1.1): hash NEGOTIATE and SESSION_SETUP requests as sent.
        for m in &msgs {
            if preauth_311 {
                match m.command {
                    Command::Negotiate => {
                        c.preauth = PreauthHash::new();
                        c.preauth.update(&m.msg);
                    }
                    Command::SessionSetup => self.session.preauth.update(&m.msg),
                    _ => {}
                }
            }
        }
        self.stats.requests_sent += msgs.len() as u64;
        let encrypt = msgs.iter().any(|m| m.encrypt);
        // Build the frame.
        let mut chunks: SmallVec<[Bytes; 2]> = SmallVec::new();
        if msgs.len() == 1 {
            let m = msgs.pop().unwrap_or_else(unreachable_msg);
            let mut msg = m.msg;
            if m.sign {
                if let Some(s) = self
                    .session
                    .security
                    .as_ref()
                    .and_then(|s| s.signer.as_ref())
                {
                    let rest: SmallVec<[&[u8]; 1]> = m.data.iter().map(|d| &d[..]).collect();
                    if s.sign_parts(&mut msg, &rest).is_ok() {
                        self.stats.signed_sent += 1;
                    }
                }
            }
            if encrypt {
                let parts: SmallVec<[&[u8]; 2]> = core::iter::once(&msg[..])
                    .chain(m.data.iter().map(|d| &d[..]))
                    .collect();
                match self.seal(&parts) {
                    Some(f) => chunks.push(Bytes::from(f)),
                    None => return Err(SendBlock::Channel),
                }
            } else {
                let len = msg.len() + m.data.as_ref().map_or(0, |d| d.len());
                let Ok(prefix) = framing::prefix(len) else {
                    return Err(SendBlock::Channel);
                };
                let mut head = Vec::with_capacity(PREFIX_LEN + msg.len());
                head.extend_from_slice(&prefix);
                head.extend_from_slice(&msg);
                chunks.push(Bytes::from(head));
                if let Some(d) = m.data {
                    if !d.is_empty() {
                        chunks.push(d);
                    }
                }
            }
        } else {
            // A compound: one contiguous buffer (small messages), each signed on its range.
            let joined: Vec<Vec<u8>> = msgs
                .iter()
                .map(|m| {
                    let mut v = m.msg.clone();
                    if let Some(d) = &m.data {
                        v.extend_from_slice(d);
                    }
                    v
                })
                .collect();
            let parts: Vec<ChainPart<'_>> = joined
                .iter()
                .zip(msgs.iter())
                .map(|(v, m)| ChainPart {
                    message: v,
                    related: m.related,
                })
                .collect();
            let Ok(mut chain) = build_chain(&parts) else {
                return Err(SendBlock::Channel);
            };
            if let Some(s) = self
                .session
                .security
                .as_ref()
                .and_then(|s| s.signer.as_ref())
            {
                for (range, m) in chain.messages.clone().into_iter().zip(msgs.iter()) {
                    if m.sign && s.sign(&mut chain.bytes[range]).is_ok() {
                        self.stats.signed_sent += 1;
                    }
                }
            }
            if encrypt {
                match self.seal(&[&chain.bytes]) {
                    Some(f) => chunks.push(Bytes::from(f)),
                    None => return Err(SendBlock::Channel),
                }
            } else {
                let Ok(prefix) = framing::prefix(chain.bytes.len()) else {
                    return Err(SendBlock::Channel);
                };
                let mut v = Vec::with_capacity(PREFIX_LEN + chain.bytes.len());
                v.extend_from_slice(&prefix);
                v.extend_from_slice(&chain.bytes);
                chunks.push(Bytes::from(v));
            }
        }
        if encrypt {
            self.stats.encrypted_sent += 1;
        }
        self.out.push_back(Output::Transmit {
            channel: ch,
            frame: Frame::from_chunks(chunks),
        });
        Ok(())
    }

    /// Encrypt `plain` (one message or chain, as consecutive parts) into a framed
    /// TRANSFORM message ([MS-SMB2] 3.2.4.1.8, 3.1.4.3).
    fn seal(&mut self, plain: &[&[u8]]) -> Option<Vec<u8>> {
        let session_id = self.session.id;
        let sec = self.session.security.as_mut()?;
        let enc = sec.encryptor.as_ref()?;
        let total: usize = plain.iter().map(|p| p.len()).sum();
        let nonce = sec.nonces.next_nonce(enc.id()).ok()?;
        let th = TransformHeader {
            signature: [0; 16],
            nonce,
            original_message_size: u32::try_from(total).ok()?,
            flags: 1,
            session_id,
        };
        let prefix = framing::prefix(TRANSFORM_HEADER_LEN + total).ok()?;
        let mut buf = Vec::with_capacity(PREFIX_LEN + TRANSFORM_HEADER_LEN + total);
        buf.extend_from_slice(&prefix);
        th.encode(&mut buf);
        for p in plain {
            buf.extend_from_slice(p);
        }
        let (head, body) = buf[PREFIX_LEN..].split_at_mut(TRANSFORM_HEADER_LEN);
        enc.seal(head, body).ok()?;
        Some(buf)
    }

    /// Send CANCEL for every message of `op` still in flight ([MS-SMB2] 3.2.4.24).
    fn send_cancels(&mut self, op: OpId) {
        let Some(o) = self.ops.get(&op) else {
            return;
        };
        let targets = o.in_flight.clone();
        for (ch, mid) in targets {
            let Some(p) = self.channel(ch).and_then(|c| c.pending.get(&mid)) else {
                continue;
            };
            let mut h = self.header(Command::Cancel, 0);
            h.message_id = mid;
            if let Some(a) = p.async_id {
                h.id = HeaderId::Async { async_id: a };
            }
            let msg = encode_msg(&h, &crate::wire::cancel::CancelRequest);
            let m = self.out_msg(msg, None, Command::Cancel, 0, Part::Internal, 0);
            // CANCEL takes no credit and no new MessageId: framed directly.
            let mut msg = m.msg;
            if m.sign {
                if let Some(s) = self
                    .session
                    .security
                    .as_ref()
                    .and_then(|s| s.signer.as_ref())
                {
                    let _ = s.sign(&mut msg);
                }
            }
            let frame = if m.encrypt {
                match self.seal(&[&msg]) {
                    Some(f) => f,
                    None => continue,
                }
            } else {
                match framing::frame(&msg) {
                    Ok(f) => f,
                    Err(_) => continue,
                }
            };
            let mut chunks = SmallVec::new();
            chunks.push(Bytes::from(frame));
            self.out.push_back(Output::Transmit {
                channel: ch,
                frame: Frame::from_chunks(chunks),
            });
        }
    }

    // ----------------------------------------------------------------------------------
    // NEGOTIATE
    // ----------------------------------------------------------------------------------

    fn offered_dialects(&self) -> Vec<Dialect> {
        ALL_DIALECTS
            .iter()
            .copied()
            .filter(|d| *d >= self.config.min_dialect && *d <= self.config.max_dialect)
            .collect()
    }

    fn start_negotiate(&mut self, ch: ChannelId, now: Instant) {
        let deadline = now + Duration::from_secs(20).min(self.config.request_timeout);
        let owner = self.connect_op.map_or(Owner::Internal, Owner::Op);
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return;
        };
        match c.machine.begin(ChannelState::InNegotiate, owner, deadline) {
            Ok(t) => self.emit(t),
            Err(_) => return,
        }
        let dialects = self.offered_dialects();
        let smb3 = dialects.iter().any(|d| d.is_smb3());
        let mut caps = 0;
        if dialects.iter().any(|d| *d >= Dialect::Smb210) {
            caps |= Capabilities::LEASING | Capabilities::LARGE_MTU;
        }
        if smb3 {
            // peer-lessons #8: say that we can encrypt.
            caps |= Capabilities::ENCRYPTION;
        }
        let mut sm = SecurityMode::SIGNING_ENABLED;
        if self.config.require_signing {
            sm |= SecurityMode::SIGNING_REQUIRED;
        }
        let mut contexts = Vec::new();
        if dialects.contains(&Dialect::Smb311) {
            let mut salt = [0u8; 32];
            self.rng.fill_bytes(&mut salt);
            contexts.push(NegotiateContext::PreauthIntegrity {
                hash_algorithms: Vec::from([HashAlgorithm::Sha512]),
                salt: salt.to_vec(),
            });
            if !self.config.ciphers.is_empty() {
                contexts.push(NegotiateContext::Encryption {
                    ciphers: self.config.ciphers.clone(),
                });
            }
            if !self.config.signing_algorithms.is_empty() {
                contexts.push(NegotiateContext::Signing {
                    algorithms: self.config.signing_algorithms.clone(),
                });
            }
            if !self.server_name.is_empty() {
                contexts.push(NegotiateContext::NetName(self.server_name.clone()));
            }
        }
        if let Some(c) = self.channels.get_mut(ch.0 as usize) {
            c.sent_neg = Some(crate::wire::ioctl::ValidateNegotiateInfoRequest {
                capabilities: caps,
                guid: self.client_guid,
                security_mode: sm,
                dialects: dialects.iter().map(|d| d.to_u16()).collect(),
            });
        }
        let req = NegotiateRequest {
            security_mode: SecurityMode(sm),
            capabilities: Capabilities(caps),
            client_guid: self.client_guid,
            dialects,
            contexts,
        };
        let mut hdr = Header::request(Command::Negotiate);
        hdr.session_id = 0;
        let msg = encode_msg(&hdr, &req);
        self.send_setup_message(ch, Command::Negotiate, Part::Negotiate, msg, now);
    }

    /// Send a NEGOTIATE or SESSION_SETUP message: unsigned, unencrypted, outside any
    /// operation; a channel that cannot even send it has stalled.
    fn send_setup_message(
        &mut self,
        ch: ChannelId,
        command: Command,
        part: Part,
        msg: Vec<u8>,
        now: Instant,
    ) {
        let m = OutMsg {
            msg,
            data: None,
            command,
            recv_len: 0,
            part,
            sign: false,
            encrypt: false,
            related: false,
        };
        if self.transmit(ch, None, Vec::from([m]), None).is_err() {
            self.fail_channel(ch, ChannelError::CreditsStalled, now);
        }
    }

    fn on_negotiate(&mut self, ch: ChannelId, hdr: &Header, msg: &Bytes, now: Instant) {
        let offered = self.offered_dialects();
        let result = (|| -> Result<Negotiated, ChannelError> {
            if hdr.status != NtStatus::SUCCESS {
                return Err(ChannelError::BadNegotiate("NEGOTIATE failed"));
            }
            let r = NegotiateResponse::decode(msg).map_err(ChannelError::Malformed)?;
            if !offered.contains(&r.dialect) {
                return Err(ChannelError::BadDialect(r.dialect.to_u16()));
            }
            let mut cipher = None;
            let mut signing = None;
            if r.dialect == Dialect::Smb311 {
                if r.preauth_hash() != Some(HashAlgorithm::Sha512) {
                    return Err(ChannelError::BadNegotiate("no SHA-512 pre-auth integrity"));
                }
                if let Some(c) = r.cipher() {
                    if c != Cipher::Other(0) {
                        if !self.config.ciphers.contains(&c) {
                            return Err(ChannelError::BadNegotiate("cipher not offered"));
                        }
                        cipher = crypto_cipher(c);
                    }
                }
                if let Some(s) = r.signing_algorithm() {
                    if !self.config.signing_algorithms.contains(&s) {
                        return Err(ChannelError::BadNegotiate("signing algorithm not offered"));
                    }
                    signing = crypto_signing(s);
                }
            } else if r.dialect.is_smb3() && r.capabilities.has(Capabilities::ENCRYPTION) {
                cipher = Some(CipherId::Aes128Ccm);
            }
            Ok(Negotiated {
                dialect: r.dialect,
                capabilities: r.capabilities.0,
                security_mode: r.security_mode.0,
                server_guid: r.server_guid,
                max_read: r.max_read_size,
                max_write: r.max_write_size,
                max_transact: r.max_transact_size,
                cipher,
                signing_algorithm: signing,
                token: r.security_buffer.to_vec(),
            })
        })();
        let neg = match result {
            Ok(n) => n,
            Err(e) => {
                if let Some(c) = self.channels.get_mut(ch.0 as usize) {
                    if let Ok((t, _)) = c.machine.fail() {
                        self.emit(t);
                    }
                }
                self.fail_connect(OpError::from(e), now);
                return;
            }
        };
        let c = &mut self.channels[ch.0 as usize];
        if neg.dialect == Dialect::Smb311 {
            c.preauth.update(msg);
        }
        c.credits.set_multi_credit(
            neg.dialect >= Dialect::Smb210 && neg.capabilities & Capabilities::LARGE_MTU != 0,
        );
        let enc_ok = neg.cipher.is_some();
        c.neg = Some(neg);
        if let Ok((t, _)) = c.machine.finish(ChannelState::NeedSessSetup) {
            self.emit(t);
        }
        if self.config.require_encryption && !enc_ok {
            self.fail_connect(OpError::new(ErrorKind::EncryptionRequired), now);
            return;
        }
        self.start_session_setup(ch, now);
    }

    // ----------------------------------------------------------------------------------
    // SESSION_SETUP
    // ----------------------------------------------------------------------------------

    fn start_session_setup(&mut self, ch: ChannelId, now: Instant) {
        let owner = self.connect_op.map_or(Owner::Internal, Owner::Op);
        let deadline = now + self.config.request_timeout;
        let c = &mut self.channels[ch.0 as usize];
        match c.machine.begin(ChannelState::InSessSetup, owner, deadline) {
            Ok(t) => self.emit(t),
            Err(_) => return,
        }
        if (self.config.require_signing || self.config.require_encryption)
            && self.auth.kind() != AuthKind::User
        {
            let kind = if self.config.require_encryption {
                ErrorKind::EncryptionRequired
            } else {
                ErrorKind::SigningRequired
            };
            self.fail_connect(OpError::new(kind), now);
            return;
        }
        // A fresh authenticator for every exchange (the factory keeps the credentials).
        match self.auth.start() {
            Ok(a) => self.session.exchange = Some(a),
            Err(e) => {
                let e = SessionError::Auth(alloc::format!("{e}"));
                return self.fail_connect(e.into(), now);
            }
        }
        let c = &self.channels[ch.0 as usize];
        self.session.preauth = c.preauth.clone();
        self.session.id = 0;
        self.session.auth_done = false;
        let token = c.neg.as_ref().map(|n| n.token.clone()).unwrap_or_default();
        self.auth_step(ch, &token, now);
    }

    fn auth_step(&mut self, ch: ChannelId, server_token: &[u8], now: Instant) {
        let wall = self.auth_context_now(now);
        let mut ctx = AuthContext {
            now: wall,
            rng: &mut *self.rng,
            server_name: &self.server_name,
        };
        let step = match self.session.exchange.as_mut() {
            Some(a) => a.step(server_token, &mut ctx),
            None => Err(crate::auth::AuthError::UnexpectedStep {
                state: "no exchange in progress",
            }),
        };
        match step {
            Ok(AuthStep::Send(token)) => self.send_session_setup(ch, &token, now),
            Ok(AuthStep::Done) => {
                let e = OpError::new(ErrorKind::Session(SessionError::Auth(
                    "authenticator finished before the server".into(),
                )));
                self.fail_connect(e, now);
            }
            Err(e) => {
                let e = OpError::new(ErrorKind::Session(SessionError::Auth(alloc::format!(
                    "{e}"
                ))));
                self.fail_connect(e, now);
            }
        }
    }

    fn send_session_setup(&mut self, ch: ChannelId, token: &[u8], now: Instant) {
        let mut sm = SecurityMode::SIGNING_ENABLED;
        if self.config.require_signing {
            sm |= SecurityMode::SIGNING_REQUIRED;
        }
        let req = SessionSetupRequest {
            flags: SessionSetupFlags(0),
            security_mode: SecurityMode(sm),
            capabilities: Capabilities(0),
            channel: 0,
            previous_session_id: self.session.previous_id,
            security_buffer: token,
        };
        let hdr = self.header(Command::SessionSetup, 0);
        let msg = encode_msg(&hdr, &req);
        self.send_setup_message(ch, Command::SessionSetup, Part::SessionSetup, msg, now);
    }

    fn on_session_setup(&mut self, ch: ChannelId, hdr: &Header, msg: &Bytes, now: Instant) {
        let is_311 = self.dialect_u16() == 0x0311;
        match hdr.status {
            NtStatus::MORE_PROCESSING_REQUIRED => {
                let r = match SessionSetupResponse::decode(msg) {
                    Ok(r) => r,
                    Err(e) => return self.fail_connect(ChannelError::Malformed(e).into(), now),
                };
                self.session.id = hdr.session_id;
                if is_311 {
                    self.session.preauth.update(msg);
                }
                let token = r.security_buffer.to_vec();
                self.auth_step(ch, &token, now);
            }
            NtStatus::SUCCESS => {
                let r = match SessionSetupResponse::decode(msg) {
                    Ok(r) => r,
                    Err(e) => return self.fail_connect(ChannelError::Malformed(e).into(), now),
                };
                self.session.id = hdr.session_id;
                self.session.flags = r.session_flags.0;
                let token = r.security_buffer.to_vec();
                let wall = self.auth_context_now(now);
                let mut ctx = AuthContext {
                    now: wall,
                    rng: &mut *self.rng,
                    server_name: &self.server_name,
                };
                let step = match self.session.exchange.as_mut() {
                    Some(a) => a.step(&token, &mut ctx),
                    None => Err(crate::auth::AuthError::UnexpectedStep {
                        state: "no exchange in progress",
                    }),
                };
                match step {
                    Ok(AuthStep::Done) => {}
                    Ok(AuthStep::Send(_)) => {
                        let e =
                            SessionError::Auth("server finished before the authenticator".into());
                        return self.fail_connect(e.into(), now);
                    }
                    Err(e) => {
                        let e = SessionError::Auth(alloc::format!("{e}"));
                        return self.fail_connect(e.into(), now);
                    }
                }
                let established = self.establish(hdr, msg);
                // The keys are derived: the exchange (and its copy of the key) goes.
                self.session.exchange = None;
                if let Err(e) = established {
                    return self.fail_connect(e, now);
                }
                self.session_good(ch, now);
            }
            status => {
                let e = OpError::from_status(status, Command::SessionSetup);
                let e = match e.kind {
                    ErrorKind::LogonFailure => OpError::from(SessionError::LogonFailure(status)),
                    // Samba refuses a session it would have to encrypt with ACCESS_DENIED;
                    // below 3.0 nothing can be encrypted (peer-lessons #8).
                    ErrorKind::AccessDenied if !self.neg().is_some_and(|n| n.dialect.is_smb3()) => {
                        e.with_context(
                            "the server may require encryption, which needs SMB 3.0 or later",
                        )
                    }
                    ErrorKind::AccessDenied => {
                        e.with_context("the account may not be allowed to use this server")
                    }
                    _ => e,
                };
                if let Some(c) = self.channels.get_mut(ch.0 as usize) {
                    if let Ok((t, _)) = c.machine.fail() {
                        self.emit(t);
                    }
                }
                self.fail_connect(e, now);
            }
        }
    }

    /// Derive keys and decide the signing/encryption policy after the final SESSION_SETUP
    /// response ([MS-SMB2] 3.2.5.3.1).
    fn establish(&mut self, hdr: &Header, msg: &Bytes) -> Result<(), OpError> {
        let neg = self
            .neg()
            .cloned()
            .ok_or(OpError::new(ErrorKind::Protocol("no negotiate")))?;
        let flags = SessionFlags(self.session.flags);
        let anonymous_or_guest = flags.has(SessionFlags::IS_GUEST)
            || flags.has(SessionFlags::IS_NULL)
            || self.auth.kind() != AuthKind::User;
        let server_requires = neg.security_mode & SecurityMode::SIGNING_REQUIRED != 0;
        let key = if anonymous_or_guest {
            None
        } else {
            self.session
                .exchange
                .as_ref()
                .and_then(|a| a.session_key())
                .map(|k| zeroize::Zeroizing::new(k.to_vec()))
        };
        let Some(key) = key else {
            // Guest and anonymous sessions cannot sign or encrypt.
            if self.config.require_signing {
                return Err(SessionError::SigningUnavailable.into());
            }
            if self.config.require_encryption || flags.has(SessionFlags::ENCRYPT_DATA) {
                return Err(SessionError::EncryptionUnavailable.into());
            }
            self.session.security = None;
            return Ok(());
        };
        let dialect = wire_dialect(neg.dialect);
        let preauth = *self.session.preauth.value();
        let keys = SessionKeys::derive(
            dialect,
            &key,
            (dialect == 0x0311).then_some(&preauth),
            neg.cipher,
            neg.signing_algorithm,
        )
        .map_err(|_| OpError::new(ErrorKind::Protocol("key derivation failed")))?;
        let provider = default_provider();
        let signer = keys
            .signer(provider)
            .map_err(|_| OpError::new(ErrorKind::Protocol("signer")))?;
        // [MS-SMB2] 3.2.5.3.1: verify the final response's signature when it is signed;
        // 3.1.1 servers sign it for every non-anonymous session.
        if hdr.flags.has(HeaderFlags::SIGNED) {
            if signer.verify(msg).is_err() {
                return Err(ChannelError::BadSignature(Command::SessionSetup).into());
            }
        } else if dialect == 0x0311 || self.config.require_signing {
            return Err(ChannelError::Unsigned(Command::SessionSetup).into());
        }
        let encryptor = keys.encryptor(provider).and_then(|r| r.ok());
        let decryptor = keys.decryptor(provider).and_then(|r| r.ok());
        let server_encrypts = flags.has(SessionFlags::ENCRYPT_DATA);
        let want_encrypt =
            server_encrypts || self.config.require_encryption || self.config.request_encryption;
        let can_encrypt = encryptor.is_some() && decryptor.is_some();
        if (server_encrypts || self.config.require_encryption) && !can_encrypt {
            return Err(SessionError::EncryptionUnavailable.into());
        }
        let mut salt = [0u8; 4];
        self.rng.fill_bytes(&mut salt);
        self.session.security = Some(Security {
            signer: Some(signer),
            encryptor,
            decryptor,
            nonces: NonceSequence::new(salt),
            signing_required: server_requires || self.config.require_signing,
            encrypt_all: want_encrypt && can_encrypt,
        });
        Ok(())
    }

    fn connected_response(&self) -> Response {
        let flags = SessionFlags(self.session.flags);
        let sec = self.session.security.as_ref();
        Response::Connected {
            dialect: self.neg().map_or(Dialect::Other(0), |n| n.dialect),
            signing: sec.is_some_and(|s| s.signing_required),
            encryption: sec.is_some_and(|s| s.encrypt_all),
            // What we asked for counts too: Samba answers an anonymous login with neither
            // IS_NULL nor IS_GUEST set.
            guest: flags.has(SessionFlags::IS_GUEST) || self.auth.kind() == AuthKind::Guest,
            anonymous: flags.has(SessionFlags::IS_NULL) || self.auth.kind() == AuthKind::Anonymous,
            server_guid: self.neg().map_or(Guid::ZERO, |n| n.server_guid),
        }
    }

    fn session_good(&mut self, ch: ChannelId, now: Instant) {
        if let Some(c) = self.channels.get_mut(ch.0 as usize) {
            c.last_traffic = now;
            if let Ok((t, _)) = c.machine.finish(ChannelState::Good) {
                self.emit(t);
            }
        }
        self.session.machine.bump_epoch();
        let resp = self.connected_response();
        if let Ok((t, flight)) = self.session.machine.finish(SessionState::Good) {
            self.emit(t);
            if let Owner::Op(op) = flight.owner {
                if self
                    .ops
                    .get(&op)
                    .is_some_and(|o| matches!(o.kind, OpKind::Connect))
                {
                    self.complete(op, Ok(resp.clone()));
                }
            }
            for op in flight.waiters {
                if self
                    .ops
                    .get(&op)
                    .is_some_and(|o| matches!(o.kind, OpKind::Connect))
                {
                    self.complete(op, Ok(resp.clone()));
                }
            }
        }
        self.pump(now);
    }

    // ----------------------------------------------------------------------------------
    // Receiving
    // ----------------------------------------------------------------------------------

    fn process_frame(&mut self, ch: ChannelId, frame: BytesMut, now: Instant) {
        let kind = match classify(&frame) {
            Ok(k) => k,
            Err(e) => {
                self.stats.malformed += 1;
                return self.fail_channel(ch, ChannelError::Malformed(e), now);
            }
        };
        let (plain, encrypted) = match kind {
            ProtocolKind::Smb2 => (frame.freeze(), false),
            ProtocolKind::Transform => match self.open_transform(frame) {
                Ok(p) => (p, true),
                Err(e) => {
                    self.stats.malformed += 1;
                    return self.fail_channel(ch, e, now);
                }
            },
            ProtocolKind::Compression => {
                return self.fail_channel(ch, ChannelError::Protocol("compressed message"), now);
            }
            ProtocolKind::Smb1 => {
                return self.fail_connect(ChannelError::BadDialect(0).into(), now);
            }
        };
        let ranges = match split_chain(&plain) {
            Ok(r) => r,
            Err(e) => {
                self.stats.malformed += 1;
                return self.fail_channel(ch, ChannelError::Malformed(e), now);
            }
        };
        for r in ranges {
            if !self.channel(ch).is_some_and(|c| c.connected) {
                return;
            }
            self.handle_message(ch, plain.slice(r), encrypted, now);
        }
    }

    fn open_transform(&mut self, mut buf: BytesMut) -> Result<Bytes, ChannelError> {
        let frame = &buf[..];
        let th = TransformHeader::decode(frame).map_err(ChannelError::Malformed)?;
        if th.session_id != self.session.id {
            return Err(ChannelError::Protocol("TRANSFORM for another session"));
        }
        let dec = self
            .session
            .security
            .as_ref()
            .and_then(|s| s.decryptor.as_ref())
            .ok_or(ChannelError::DecryptFailed)?;
        if th.original_message_size as usize != frame.len().saturating_sub(TRANSFORM_HEADER_LEN) {
            return Err(ChannelError::Malformed(DecodeError::BadField {
                field: "OriginalMessageSize",
                value: th.original_message_size.into(),
            }));
        }
        // peer-lessons #5: decrypt in place, in the frame's own region of the receive buffer.
        let (head, body) = buf.split_at_mut(TRANSFORM_HEADER_LEN);
        dec.open(head, body)
            .map_err(|_| ChannelError::DecryptFailed)?;
        Ok(buf.freeze().slice(TRANSFORM_HEADER_LEN..))
    }

    fn handle_message(&mut self, ch: ChannelId, msg: Bytes, encrypted: bool, now: Instant) {
        let hdr = match Header::decode(&msg) {
            Ok(h) => h,
            Err(e) => {
                self.stats.malformed += 1;
                return self.fail_channel(ch, ChannelError::Malformed(e), now);
            }
        };
        if !hdr.is_response() {
            return self.fail_channel(ch, ChannelError::Protocol("request from the server"), now);
        }
        self.stats.responses_received += 1;
        if hdr.message_id == u64::MAX {
            if hdr.command == Command::OplockBreak {
                return self.on_break(&msg, now);
            }
            return self.fail_channel(ch, ChannelError::Protocol("unsolicited message"), now);
        }
        let c = &mut self.channels[ch.0 as usize];
        let Some(p) = c.pending.get_mut(&hdr.message_id) else {
            self.stats.unknown_responses += 1;
            self.out.push_back(Output::Event(Event::Dropped {
                channel: ch,
                message_id: hdr.message_id,
            }));
            return;
        };
        if p.command != hdr.command {
            self.stats.malformed += 1;
            return self.fail_channel(
                ch,
                ChannelError::Protocol("response command does not match the request"),
                now,
            );
        }
        // peer-lessons #2: every response grants credits, interim ones included.
        c.credits.grant(hdr.credits);
        if hdr.status == NtStatus::PENDING && hdr.is_async() {
            // [MS-SMB2] 3.2.5.1.5: interim response; keep the AsyncId for CANCEL.
            p.async_id = hdr.async_id();
            self.stats.interim_responses += 1;
            return;
        }
        // [MS-SMB2] 3.2.5.1.3: signature checks (not for encrypted messages, not for the
        // SESSION_SETUP exchange, which is verified once keys exist).
        if !encrypted && !matches!(hdr.command, Command::Negotiate | Command::SessionSetup) {
            let sec = self.session.security.as_ref();
            if hdr.flags.has(HeaderFlags::SIGNED) {
                if let Some(s) = sec.and_then(|s| s.signer.as_ref()) {
                    if s.verify(&msg).is_err() {
                        return self.fail_channel(ch, ChannelError::BadSignature(hdr.command), now);
                    }
                }
            } else if sec.is_some_and(|s| s.signing_required) && hdr.session_id != 0 {
                return self.fail_channel(ch, ChannelError::Unsigned(hdr.command), now);
            }
            if sec.is_some_and(|s| s.encrypt_all) && hdr.command != Command::Cancel {
                return self.fail_channel(ch, ChannelError::Unencrypted(hdr.command), now);
            }
        }
        let c = &mut self.channels[ch.0 as usize];
        let Some(p) = c.pending.remove(&hdr.message_id) else {
            return;
        };
        c.credits.release(&p.res);
        if let Some(op) = p.op {
            if let Some(o) = self.ops.get_mut(&op) {
                o.in_flight.retain(|x| *x != (ch, hdr.message_id));
            }
        }
        let _ = SIGNATURE_RANGE;
        match p.part {
            Part::Negotiate => self.on_negotiate(ch, &hdr, &msg, now),
            Part::SessionSetup => self.on_session_setup(ch, &hdr, &msg, now),
            Part::Internal => {}
            Part::Validate => {
                if let Some(op) = p.op {
                    self.on_validate(ch, op, &hdr, &msg, encrypted, now);
                }
            }
            part => {
                match p.op {
                    Some(op) => self.on_op_response(op, part, &hdr, &msg, now),
                    // Nobody waits for a lone CREATE any more, but it succeeded: close the
                    // handle rather than leave it open on the server. (A compound's CREATE
                    // carries its own CLOSE.)
                    None if part == Part::Whole
                        && hdr.command == Command::Create
                        && hdr.status == NtStatus::SUCCESS =>
                    {
                        self.close_orphaned_open(ch, &hdr, &msg)
                    }
                    None => {}
                }
                if is_malformed_marker(&self.out) {
                    self.stats.malformed += 1;
                    let e = ChannelError::Protocol("malformed response body");
                    self.fail_channel(ch, e, now);
                }
            }
        }
    }

    /// Close the handle a successful CREATE opened for an operation that was cancelled or
    /// timed out ([MS-SMB2] 3.2.4.5). The tree is taken from the response's sync header; a
    /// CREATE that went async (no TreeId in its final header) is left to the tree's end.
    fn close_orphaned_open(&mut self, ch: ChannelId, hdr: &Header, msg: &Bytes) {
        let (Some(tree), Ok(created)) = (
            (!hdr.is_async()).then(|| hdr.tree_id()),
            crate::wire::create::CreateResponse::decode(msg),
        ) else {
            return;
        };
        let req = crate::wire::close::CloseRequest {
            flags: crate::wire::close::CloseFlags(0),
            file_id: created.file_id,
        };
        let msg = encode_msg(&self.header(Command::Close, tree), &req);
        let m = self.out_msg(msg, None, Command::Close, 0, Part::Internal, tree);
        if self.transmit(ch, None, Vec::from([m]), None).is_ok() {
            self.stats.orphaned_opens_closed += 1;
        }
    }

    /// Lease and oplock break notifications ([MS-SMB2] 3.2.5.19): emitted as events, then
    /// acknowledged as the configured [`BreakPolicy`] decides. A lease break is acknowledged
    /// only when the server set ACK_REQUIRED ([MS-SMB2] 3.2.5.19.2).
    fn on_break(&mut self, msg: &Bytes, _now: Instant) {
        use crate::wire::oplock_break::{LeaseBreakFlags, OplockBreakMessage};
        let Ok(m) = OplockBreakMessage::decode(msg) else {
            self.stats.malformed += 1;
            return;
        };
        let policy = self.config.break_policy.clone();
        match m {
            OplockBreakMessage::LeaseNotification(n) => {
                let files: Vec<FileHandle> = self
                    .opens
                    .iter()
                    .filter(|(_, o)| o.lease_key == Some(n.lease_key))
                    .map(|(f, _)| *f)
                    .collect();
                let ack = n.flags.0 & LeaseBreakFlags::ACK_REQUIRED != 0;
                let lb = LeaseBreak {
                    files,
                    lease_key: n.lease_key.0,
                    current: n.current_state.0,
                    new: n.new_state.0,
                    ack_required: ack,
                };
                let action = if ack {
                    policy.lease_break(&lb)
                } else {
                    BreakAction::Defer
                };
                self.out.push_back(Output::Event(Event::LeaseBreak(lb)));
                if let BreakAction::Ack(state) = action {
                    if let Ok(m) = self.lease_ack_msg(n.lease_key.0, state, Part::Internal) {
                        let _ = self.transmit(ChannelId(0), None, Vec::from([m]), None);
                    }
                }
            }
            OplockBreakMessage::Oplock(b) => {
                let found = self
                    .opens
                    .iter()
                    .find(|(_, o)| o.wire.volatile == b.file_id.volatile)
                    .map(|(f, _)| *f);
                if let Some(file) = found {
                    let level = b.oplock_level.to_u8();
                    self.out
                        .push_back(Output::Event(Event::OplockBreak { file, level }));
                    if let BreakAction::Ack(l) = policy.oplock_break(file, level) {
                        if let Ok(m) = self.oplock_ack_msg(file, l as u8, Part::Internal) {
                            let _ = self.transmit(ChannelId(0), None, Vec::from([m]), None);
                        }
                    }
                }
            }
            OplockBreakMessage::LeaseAck(_) => {}
        }
    }

    /// A LEASE_BREAK acknowledgment ([MS-SMB2] 2.2.24.2), on the tree of a file holding the
    /// lease (TreeId 0 if none is known).
    fn lease_ack_msg(&self, key: [u8; 16], state: u32, part: Part) -> Result<OutMsg, OpError> {
        use crate::wire::oplock_break::LeaseBreakAck;
        let tree_wire = self
            .opens
            .values()
            .find(|o| o.lease_key == Some(Guid(key)))
            .and_then(|o| self.trees.get(&o.tree))
            .map_or(0, |t| t.wire_id);
        let body = LeaseBreakAck {
            flags: 0,
            lease_key: Guid(key),
            lease_state: LeaseState(state),
            lease_duration: 0,
        };
        let hdr = self.header(Command::OplockBreak, tree_wire);
        let msg = encode_msg(&hdr, &body);
        Ok(self.out_msg(msg, None, Command::OplockBreak, 0, part, tree_wire))
    }

    /// An OPLOCK_BREAK acknowledgment ([MS-SMB2] 2.2.24.1).
    fn oplock_ack_msg(&self, file: FileHandle, level: u8, part: Part) -> Result<OutMsg, OpError> {
        use crate::wire::oplock_break::OplockBreak;
        let o = self
            .opens
            .get(&file)
            .ok_or(OpError::new(ErrorKind::InvalidHandle))?;
        let tree_wire = self.trees.get(&o.tree).map_or(0, |t| t.wire_id);
        let hdr = self.header(Command::OplockBreak, tree_wire);
        let body = OplockBreak {
            oplock_level: OplockLevel::from_u8(level),
            file_id: o.wire,
        };
        let msg = encode_msg(&hdr, &body);
        Ok(self.out_msg(msg, None, Command::OplockBreak, 0, part, tree_wire))
    }

    // ----------------------------------------------------------------------------------
    // Operations
    // ----------------------------------------------------------------------------------

    /// Send what the queued operations can send now.
    fn pump(&mut self, now: Instant) {
        if self.shut_down || self.session.machine.state() != SessionState::Good {
            return;
        }
        let ch = ChannelId(0);
        if self
            .channel(ch)
            .is_none_or(|c| c.machine.state() != ChannelState::Good || !c.connected)
        {
            return;
        }
        let mut i = 0;
        while i < self.queue.len() {
            let op = self.queue[i];
            match self.advance(op, ch, now) {
                Ok(true) => {
                    // Everything sent: leave the queue.
                    self.queue.retain(|o| *o != op);
                    if let Some(o) = self.ops.get_mut(&op) {
                        o.sent_all = true;
                    }
                }
                Ok(false) => i += 1,
                Err(SendBlock::Credits) => break,
                Err(SendBlock::Channel) => break,
            }
        }
    }

    fn tree_wire_of_file(&self, f: FileHandle) -> u32 {
        self.opens
            .get(&f)
            .and_then(|o| self.trees.get(&o.tree))
            .map_or(0, |t| t.wire_id)
    }

    /// Send the next message(s) of `op`. Ok(true) when the op has sent everything.
    fn advance(&mut self, op: OpId, ch: ChannelId, now: Instant) -> Result<bool, SendBlock> {
        let Some(o) = self.ops.get(&op) else {
            return Ok(true);
        };
        let deadline = o.deadline;
        match &o.kind {
            OpKind::Connect => Ok(true),
            OpKind::Single(req) => {
                let req = req.clone();
                let m = match self.build(&req, None, now) {
                    Ok(m) => m,
                    Err(e) => {
                        self.complete(op, Err(e));
                        return Ok(true);
                    }
                };
                self.transmit(ch, Some(op), Vec::from([m]), deadline)?;
                Ok(true)
            }
            OpKind::Tcon { tree, stage } => {
                let (tree, stage) = (*tree, stage.clone());
                let Some(t) = self.trees.get(&tree) else {
                    self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
                    return Ok(true);
                };
                let m = match stage {
                    TconStage::Connect => {
                        let path = alloc::format!("\\\\{}\\{}", self.server_name, t.share);
                        let hdr = self.header(Command::TreeConnect, 0);
                        let msg = encode_msg(&hdr, &TreeConnectRequest::new(path));
                        self.out_msg(msg, None, Command::TreeConnect, 0, Part::Whole, 0)
                    }
                    TconStage::Validate(_) => {
                        let Some(req) = self.channel(ch).and_then(|c| c.sent_neg.clone()) else {
                            self.complete(
                                op,
                                Err(OpError::new(ErrorKind::Protocol("no negotiate"))),
                            );
                            return Ok(true);
                        };
                        let input = req.to_bytes();
                        let tw = t.wire_id;
                        let hdr = self.header(Command::Ioctl, tw);
                        let body = IoctlRequest {
                            ctl_code: fsctl::VALIDATE_NEGOTIATE_INFO,
                            file_id: FileId::RELATED,
                            input: &input,
                            output: &[],
                            max_input_response: 0,
                            // [MS-SMB2] 3.2.4.20.3: room for the 24-byte response.
                            max_output_response: 24,
                            flags: IoctlFlags(IoctlFlags::IS_FSCTL),
                        };
                        let msg = encode_msg(&hdr, &body);
                        let mut m = self.out_msg(msg, None, Command::Ioctl, 24, Part::Validate, tw);
                        // [MS-SMB2] 3.2.4.20.3: always signed (unless encrypted).
                        m.sign = !m.encrypt
                            && self
                                .session
                                .security
                                .as_ref()
                                .is_some_and(|s| s.signer.is_some());
                        m
                    }
                };
                self.transmit(ch, Some(op), Vec::from([m]), deadline)?;
                Ok(true)
            }
            OpKind::Compound { reqs, .. } => {
                let reqs = reqs.clone();
                let mut msgs = Vec::with_capacity(reqs.len());
                let mut last_tree = 0u32;
                for (i, r) in reqs.iter().enumerate() {
                    let related = i > 0 && request_uses_related(r);
                    match self.build(r, Some((i, last_tree)), now) {
                        Ok(mut m) => {
                            m.related = related;
                            last_tree =
                                u32::from_le_bytes([m.msg[36], m.msg[37], m.msg[38], m.msg[39]]);
                            msgs.push(m);
                        }
                        Err(e) => {
                            self.complete(op, Err(e));
                            return Ok(true);
                        }
                    }
                }
                // Every message of a chain is signed and encrypted alike.
                let sign = msgs.iter().any(|m| m.sign);
                let encrypt = msgs.iter().any(|m| m.encrypt);
                for m in &mut msgs {
                    m.sign = sign && !encrypt;
                    m.encrypt = encrypt;
                }
                self.transmit(ch, Some(op), msgs, deadline)?;
                Ok(true)
            }
            OpKind::Io(_, _) => self.advance_io(op, ch),
        }
    }

    fn advance_io(&mut self, op: OpId, ch: ChannelId) -> Result<bool, SendBlock> {
        let (max_read, max_write) = self
            .neg()
            .map_or((65536, 65536), |n| (n.max_read, n.max_write));
        let cap = self.config.max_io_size;
        loop {
            let Some(o) = self.ops.get(&op) else {
                return Ok(true);
            };
            let deadline = o.deadline;
            let OpKind::Io(io, cmd) = &o.kind else {
                return Ok(true);
            };
            let cmd = *cmd;
            if io.error.is_some() || io.eof_at.is_some() || io.issued >= io.len {
                return Ok(true);
            }
            let max_piece = u64::from(
                if cmd == Command::Read {
                    max_read
                } else {
                    max_write
                }
                .min(cap)
                .max(1),
            );
            let want = (io.len - io.issued).min(max_piece);
            let c = self.channel(ch).ok_or(SendBlock::Channel)?;
            let charge = c.credits.charge_for(
                if cmd == Command::Write { want } else { 0 },
                if cmd == Command::Read { want } else { 0 },
            );
            let piece = match c.credits.plan(charge) {
                Plan::Send(_) => want,
                // peer-lessons #3: never wait for credits that cannot come.
                Plan::Shrink(n) => want.min(u64::from(n) * crate::credits::CREDIT_UNIT),
                Plan::Wait => return Err(SendBlock::Credits),
                Plan::Stalled => {
                    let now = c.last_traffic;
                    self.fail_channel(ch, ChannelError::CreditsStalled, now);
                    return Err(SendBlock::Channel);
                }
            };
            let (file, offset, rel) = (io.file, io.offset + io.issued, io.issued);
            let Some(wire) = self.opens.get(&file).map(|o| o.wire) else {
                self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
                return Ok(true);
            };
            let tree_wire = self.tree_wire_of_file(file);
            let m = if cmd == Command::Read {
                let hdr = self.header(Command::Read, tree_wire);
                let body = crate::wire::read::ReadRequest {
                    padding: crate::wire::read::DEFAULT_PADDING,
                    flags: crate::wire::read::ReadFlags(0),
                    length: piece as u32,
                    offset,
                    file_id: wire,
                    minimum_count: 0,
                    channel: 0,
                    remaining_bytes: 0,
                    channel_info: Vec::new(),
                };
                let msg = encode_msg(&hdr, &body);
                self.out_msg(
                    msg,
                    None,
                    Command::Read,
                    piece,
                    Part::Piece {
                        rel,
                        len: piece as u32,
                    },
                    tree_wire,
                )
            } else {
                let data = match &self.ops[&op].kind {
                    OpKind::Io(io, _) => io.data.slice(rel as usize..(rel + piece) as usize),
                    _ => Bytes::new(),
                };
                let hdr = self.header(Command::Write, tree_wire);
                let body = crate::wire::write::WriteRequest {
                    data: &[],
                    offset,
                    file_id: wire,
                    channel: 0,
                    remaining_bytes: 0,
                    channel_info: &[],
                    flags: crate::wire::write::WriteFlags(0),
                };
                let mut msg = Vec::with_capacity(HEADER_LEN + 64);
                hdr.encode(&mut msg);
                body.encode_head(piece as u32, &mut msg);
                self.out_msg(
                    msg,
                    Some(data),
                    Command::Write,
                    0,
                    Part::Piece {
                        rel,
                        len: piece as u32,
                    },
                    tree_wire,
                )
            };
            self.transmit(ch, Some(op), Vec::from([m]), deadline)?;
            if let Some(Op {
                kind: OpKind::Io(io, _),
                ..
            }) = self.ops.get_mut(&op)
            {
                io.issued += piece;
                io.outstanding += 1;
            }
        }
    }

    /// Encode one request. `compound` = (index in the chain, TreeId of the previous member).
    fn build(
        &mut self,
        req: &Request,
        compound: Option<(usize, u32)>,
        _now: Instant,
    ) -> Result<OutMsg, OpError> {
        let part = compound.map_or(Part::Whole, |(i, _)| Part::Member(i));
        let related_tree = compound.map_or(0, |(_, t)| t);
        let file_wire = |s: &Self, f: FileHandle| -> Result<(FileId, u32), OpError> {
            if f == FileHandle::RELATED {
                return Ok((FileId::RELATED, related_tree));
            }
            let o = s
                .opens
                .get(&f)
                .ok_or(OpError::new(ErrorKind::InvalidHandle))?;
            if o.machine.state() != OpenState::Good {
                return Err(OpError::new(ErrorKind::InvalidHandle));
            }
            Ok((o.wire, s.trees.get(&o.tree).map_or(0, |t| t.wire_id)))
        };
        let tree_wire = |s: &Self, t: TreeId| -> Result<u32, OpError> {
            s.trees
                .get(&t)
                .filter(|t| t.machine.state() == TreeState::Good)
                .map(|t| t.wire_id)
                .ok_or(OpError::new(ErrorKind::InvalidHandle))
        };
        let (cmd, msg, data, recv, tw) = match req {
            Request::TreeConnect { share } => {
                let path = alloc::format!("\\\\{}\\{}", self.server_name, share);
                let hdr = self.header(Command::TreeConnect, 0);
                (
                    Command::TreeConnect,
                    encode_msg(&hdr, &TreeConnectRequest::new(path)),
                    None,
                    0,
                    0,
                )
            }
            Request::TreeDisconnect { tree } => {
                let tw = tree_wire(self, *tree)?;
                let hdr = self.header(Command::TreeDisconnect, tw);
                (
                    Command::TreeDisconnect,
                    encode_msg(&hdr, &crate::wire::tree_connect::TreeDisconnectRequest),
                    None,
                    0,
                    tw,
                )
            }
            Request::Create {
                tree,
                path,
                options,
            } => {
                let tw = tree_wire(self, *tree)?;
                let hdr = self.header(Command::Create, tw);
                let body = self.create_request(path, options);
                (Command::Create, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::Close { file } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Close, tw);
                let body = CloseRequest {
                    flags: CloseFlags(0),
                    file_id: fid,
                };
                (Command::Close, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::Flush { file } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Flush, tw);
                let body = crate::wire::flush::FlushRequest { file_id: fid };
                (Command::Flush, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::Read { file, offset, len } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Read, tw);
                let body = crate::wire::read::ReadRequest {
                    padding: crate::wire::read::DEFAULT_PADDING,
                    flags: crate::wire::read::ReadFlags(0),
                    length: *len,
                    offset: *offset,
                    file_id: fid,
                    minimum_count: 0,
                    channel: 0,
                    remaining_bytes: 0,
                    channel_info: Vec::new(),
                };
                (
                    Command::Read,
                    encode_msg(&hdr, &body),
                    None,
                    u64::from(*len),
                    tw,
                )
            }
            Request::Write { file, offset, data } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Write, tw);
                let body = crate::wire::write::WriteRequest {
                    data: &[],
                    offset: *offset,
                    file_id: fid,
                    channel: 0,
                    remaining_bytes: 0,
                    channel_info: &[],
                    flags: crate::wire::write::WriteFlags(0),
                };
                let mut msg = Vec::new();
                hdr.encode(&mut msg);
                body.encode_head(data.len() as u32, &mut msg);
                (Command::Write, msg, Some(data.clone()), 0, tw)
            }
            Request::QueryDirectory {
                file,
                class,
                pattern,
                restart,
                output_len,
            } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::QueryDirectory, tw);
                let output_len = &self.clamp_to_transact(*output_len);
                let body = crate::wire::query_directory::QueryDirectoryRequest {
                    file_information_class: crate::wire::fscc::FileInfoClass(*class),
                    flags: crate::wire::query_directory::QueryDirectoryFlags(if *restart {
                        crate::wire::query_directory::QueryDirectoryFlags::RESTART_SCANS
                    } else {
                        0
                    }),
                    file_index: 0,
                    file_id: fid,
                    pattern: pattern.clone(),
                    output_buffer_length: *output_len,
                };
                (
                    Command::QueryDirectory,
                    encode_msg(&hdr, &body),
                    None,
                    u64::from(*output_len),
                    tw,
                )
            }
            Request::QueryInfo {
                file,
                info_type,
                class,
                additional,
                output_len,
            } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::QueryInfo, tw);
                let output_len = &self.clamp_to_transact(*output_len);
                let body = crate::wire::query_info::QueryInfoRequest {
                    info_type: crate::wire::query_info::InfoType(*info_type),
                    file_info_class: *class,
                    output_buffer_length: *output_len,
                    input_buffer: &[],
                    additional_information: *additional,
                    flags: crate::wire::query_info::QueryInfoFlags(0),
                    file_id: fid,
                };
                (
                    Command::QueryInfo,
                    encode_msg(&hdr, &body),
                    None,
                    u64::from(*output_len),
                    tw,
                )
            }
            Request::SetInfo {
                file,
                info_type,
                class,
                additional,
                data,
            } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::SetInfo, tw);
                let body = crate::wire::set_info::SetInfoRequest {
                    info_type: crate::wire::query_info::InfoType(*info_type),
                    file_info_class: *class,
                    additional_information: *additional,
                    file_id: fid,
                    buffer: data,
                };
                (Command::SetInfo, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::Lock { file, locks } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Lock, tw);
                let body = crate::wire::lock::LockRequest {
                    lock_sequence_number: 0,
                    lock_sequence_index: 0,
                    file_id: fid,
                    locks: locks
                        .iter()
                        .map(|l| crate::wire::lock::LockElement {
                            offset: l.offset,
                            length: l.length,
                            flags: crate::wire::lock::LockFlags(l.flags),
                        })
                        .collect(),
                };
                (Command::Lock, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::ChangeNotify {
                file,
                filter,
                recursive,
                output_len,
            } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::ChangeNotify, tw);
                let output_len = &self.clamp_to_transact(*output_len);
                let body = crate::wire::change_notify::ChangeNotifyRequest {
                    flags: crate::wire::change_notify::ChangeNotifyFlags(if *recursive {
                        crate::wire::change_notify::ChangeNotifyFlags::WATCH_TREE
                    } else {
                        0
                    }),
                    output_buffer_length: *output_len,
                    file_id: fid,
                    completion_filter: crate::wire::change_notify::CompletionFilter(*filter),
                };
                (
                    Command::ChangeNotify,
                    encode_msg(&hdr, &body),
                    None,
                    u64::from(*output_len),
                    tw,
                )
            }
            Request::Ioctl {
                tree,
                file,
                ctl_code,
                input,
                max_output,
                fsctl,
            } => {
                let (fid, tw) = match file {
                    Some(f) => file_wire(self, *f)?,
                    None => (
                        FileId {
                            persistent: u64::MAX,
                            volatile: u64::MAX,
                        },
                        tree_wire(self, *tree)?,
                    ),
                };
                let hdr = self.header(Command::Ioctl, tw);
                let max_output = &self.clamp_to_transact(*max_output);
                let body = IoctlRequest {
                    ctl_code: *ctl_code,
                    file_id: fid,
                    input,
                    output: &[],
                    max_input_response: 0,
                    max_output_response: *max_output,
                    flags: IoctlFlags(if *fsctl {
                        IoctlFlags::IS_FSCTL
                    } else {
                        IoctlFlags::IS_IOCTL
                    }),
                };
                let msg = encode_msg(&hdr, &body);
                (Command::Ioctl, msg, None, u64::from(*max_output), tw)
            }
            Request::Echo => {
                let hdr = self.header(Command::Echo, 0);
                (
                    Command::Echo,
                    encode_msg(&hdr, &crate::wire::echo::EchoRequest),
                    None,
                    0,
                    0,
                )
            }
            Request::Logoff => {
                let hdr = self.header(Command::Logoff, 0);
                (
                    Command::Logoff,
                    encode_msg(&hdr, &crate::wire::logoff::LogoffRequest),
                    None,
                    0,
                    0,
                )
            }
            Request::Compound(_) => {
                return Err(OpError::new(ErrorKind::Protocol("nested compound")));
            }
            Request::LeaseBreakAck { lease_key, state } => {
                return self.lease_ack_msg(*lease_key, *state, part);
            }
            Request::OplockBreakAck { file, level } => {
                return self.oplock_ack_msg(*file, *level, part);
            }
        };
        Ok(self.out_msg(msg, data, cmd, recv, part, tw))
    }

    fn create_request(&mut self, path: &str, o: &OpenOptions) -> CreateRequest {
        let neg = self.neg();
        let smb3 = neg.is_some_and(|n| n.dialect.is_smb3());
        let leasing = neg.is_some_and(|n| n.capabilities & Capabilities::LEASING != 0);
        let mut contexts = Vec::new();
        let mut oplock = OplockLevel::None;
        let want_lease = o.lease.unwrap_or(self.config.request_leases);
        if want_lease && leasing && o.create_options & create_options::DIRECTORY_FILE == 0 {
            let mut key = [0u8; 16];
            self.rng.fill_bytes(&mut key);
            let mut state = LeaseState::READ_CACHING | LeaseState::HANDLE_CACHING;
            if o.desired_access & (access::GENERIC_WRITE | access::FILE_WRITE_DATA) != 0 {
                state |= LeaseState::WRITE_CACHING;
            }
            let lease = if smb3 {
                Lease::V2 {
                    key: Guid(key),
                    state: LeaseState(state),
                    flags: 0,
                    parent_key: Guid::ZERO,
                    epoch: 0,
                }
            } else {
                Lease::V1 {
                    key: Guid(key),
                    state: LeaseState(state),
                    flags: 0,
                }
            };
            contexts.push(lease.into());
            oplock = OplockLevel::Lease;
        }
        if o.durable.unwrap_or(self.config.request_durable) && smb3 {
            let mut guid = [0u8; 16];
            self.rng.fill_bytes(&mut guid);
            contexts.push(
                DurableHandleRequestV2 {
                    timeout: 0,
                    flags: 0,
                    create_guid: Guid(guid),
                }
                .into(),
            );
        }
        CreateRequest {
            oplock_level: oplock,
            impersonation: ImpersonationLevel::Impersonation,
            smb_create_flags: 0,
            desired_access: AccessMask(o.desired_access),
            file_attributes: WireAttrs(o.file_attributes),
            share_access: ShareAccess(o.share_access),
            disposition: CreateDisposition::from_u32(o.disposition)
                .unwrap_or(CreateDisposition::Open),
            options: CreateOptions(o.create_options),
            name: String::from(path.trim_start_matches('\\')),
            contexts,
        }
    }

    fn on_op_response(&mut self, op: OpId, part: Part, hdr: &Header, msg: &Bytes, now: Instant) {
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        match (&mut o.kind, part) {
            (OpKind::Io(io, Command::Read), Part::Piece { rel, len }) => {
                io.outstanding = io.outstanding.saturating_sub(1);
                match hdr.status {
                    NtStatus::SUCCESS => match crate::wire::read::ReadResponse::decode(msg) {
                        Ok(r) => {
                            let got = r.data.len() as u64;
                            let data = msg.slice_ref(r.data);
                            if got < u64::from(len) {
                                let end = rel + got;
                                io.eof_at = Some(io.eof_at.map_or(end, |e| e.min(end)));
                            }
                            if got > 0 {
                                io.pieces.insert(rel, data);
                            }
                        }
                        Err(_) => io.error = Some(OpError::new(ErrorKind::Protocol(MALFORMED))),
                    },
                    NtStatus::END_OF_FILE => {
                        io.eof_at = Some(io.eof_at.map_or(rel, |e| e.min(rel)));
                    }
                    s => {
                        if io.error.is_none() {
                            io.error = Some(OpError::from_status(s, Command::Read));
                        }
                    }
                }
                self.maybe_finish_io(op, now);
            }
            (OpKind::Io(io, Command::Write), Part::Piece { .. }) => {
                io.outstanding = io.outstanding.saturating_sub(1);
                match hdr.status {
                    NtStatus::SUCCESS => match crate::wire::write::WriteResponse::decode(msg) {
                        Ok(r) => io.written += u64::from(r.count),
                        Err(_) => io.error = Some(OpError::new(ErrorKind::Protocol(MALFORMED))),
                    },
                    s => {
                        if io.error.is_none() {
                            io.error = Some(OpError::from_status(s, Command::Write));
                        }
                    }
                }
                self.maybe_finish_io(op, now);
            }
            (OpKind::Tcon { tree, .. }, Part::Whole) => {
                let tree = *tree;
                match self.parse_tcon(tree, hdr, msg) {
                    Ok(resp) if self.needs_validation() => {
                        if let Some(o) = self.ops.get_mut(&op) {
                            o.kind = OpKind::Tcon {
                                tree,
                                stage: TconStage::Validate(resp),
                            };
                            o.sent_all = false;
                            self.queue.push_front(op);
                        }
                    }
                    r => self.complete(op, r),
                }
            }
            (OpKind::Single(_), Part::Whole) => {
                let OpKind::Single(req) = core::mem::replace(&mut o.kind, OpKind::Connect) else {
                    return;
                };
                let r = self.parse(&req, hdr, msg, None);
                self.complete(op, r);
            }
            (OpKind::Compound { .. }, Part::Member(i)) => {
                let (req, created) = match &o.kind {
                    OpKind::Compound { reqs, created, .. } => (reqs.get(i).cloned(), *created),
                    _ => (None, None),
                };
                let Some(req) = req else { return };
                let r = self.parse(&req, hdr, msg, created);
                let Some(o) = self.ops.get_mut(&op) else {
                    return;
                };
                if let OpKind::Compound {
                    results, created, ..
                } = &mut o.kind
                {
                    if let Ok(Response::Created { file, .. }) = &r {
                        *created = Some(*file);
                    }
                    results[i] = Some(r);
                    if results.iter().all(|x| x.is_some()) {
                        let all: Vec<Result<Response, OpError>> =
                            core::mem::take(results).into_iter().flatten().collect();
                        self.complete(op, Ok(Response::Compound(all)));
                    }
                }
            }
            _ => {}
        }
    }

    fn maybe_finish_io(&mut self, op: OpId, _now: Instant) {
        let Some(Op {
            kind: OpKind::Io(io, cmd),
            ..
        }) = self.ops.get(&op)
        else {
            return;
        };
        let done_issuing = io.error.is_some() || io.eof_at.is_some() || io.issued >= io.len;
        if io.outstanding > 0 || !done_issuing {
            return;
        }
        let cmd = *cmd;
        let Some(Op {
            kind: OpKind::Io(io, _),
            ..
        }) = self.ops.get_mut(&op)
        else {
            return;
        };
        let result = if let Some(e) = io.error.take() {
            Err(e)
        } else if cmd == Command::Read {
            let end = io.eof_at.unwrap_or(io.len);
            let mut data = Vec::new();
            let mut pos = 0u64;
            for (rel, b) in core::mem::take(&mut io.pieces) {
                if rel != pos || pos >= end {
                    break;
                }
                let take = (b.len() as u64).min(end - pos);
                data.push(b.slice(..take as usize));
                pos += take;
            }
            Ok(Response::Read {
                data,
                eof: io.eof_at.is_some(),
            })
        } else {
            Ok(Response::Written { count: io.written })
        };
        self.complete(op, result);
    }

    /// Turn a response into a [`Response`], updating trees and opens.
    fn parse(
        &mut self,
        req: &Request,
        hdr: &Header,
        msg: &Bytes,
        related_file: Option<FileHandle>,
    ) -> Result<Response, OpError> {
        let status = hdr.status;
        let cmd = hdr.command;
        let malformed =
            |_e: DecodeError| OpError::new(ErrorKind::Protocol(MALFORMED)).with_command(cmd);
        // Statuses that come with a normal body.
        let body_ok = status.is_success()
            || (status == NtStatus::BUFFER_OVERFLOW
                && matches!(cmd, Command::QueryInfo | Command::Ioctl | Command::Read));
        if !body_ok {
            if status == NtStatus::NO_MORE_FILES && cmd == Command::QueryDirectory {
                return Ok(Response::Directory {
                    page: Bytes::new(),
                    entries: Vec::new(),
                });
            }
            return Err(OpError::from_status(status, cmd));
        }
        match req {
            Request::TreeConnect { .. } => Err(OpError::new(ErrorKind::Protocol("tree connect"))),
            Request::TreeDisconnect { tree } => {
                if let Some(mut t) = self.trees.remove(tree) {
                    if let Ok((tr, _)) = t.machine.set(TreeState::Exiting) {
                        self.emit(tr);
                    }
                }
                Ok(Response::TreeDisconnected)
            }
            Request::Create { tree, .. } => {
                let r = CreateResponse::decode(msg).map_err(malformed)?;
                let file = FileHandle(self.next_file);
                self.next_file += 1;
                let lease =
                    crate::wire::create_context::find::<Lease>(&r.contexts).and_then(|l| l.ok());
                let durable = crate::wire::create_context::find::<
                    crate::wire::create_context::DurableHandleResponseV2,
                >(&r.contexts)
                .is_some_and(|d| d.is_ok());
                self.opens.insert(
                    file,
                    Open {
                        machine: Machine::new(ObjectRef::Open(file), OpenState::Good),
                        tree: *tree,
                        wire: r.file_id,
                        lease_key: lease.map(|l| l.key()),
                    },
                );
                Ok(Response::Created {
                    file,
                    create_action: r.action.to_u32(),
                    attributes: attrs_from_create(&r),
                    durable,
                    lease_state: lease.map_or(0, |l| l.state().0),
                })
            }
            Request::Close { file } => {
                let _ = CloseResponse::decode(msg).map_err(malformed)?;
                let f = if *file == FileHandle::RELATED {
                    related_file
                } else {
                    Some(*file)
                };
                if let Some(f) = f {
                    if let Some(mut o) = self.opens.remove(&f) {
                        if let Ok((t, _)) = o.machine.set(OpenState::Lost) {
                            let _ = t; // a closed handle is simply gone; no event
                        }
                    }
                }
                Ok(Response::Closed)
            }
            Request::Flush { .. } => Ok(Response::Flushed),
            Request::Read { len, .. } => {
                let r = crate::wire::read::ReadResponse::decode(msg).map_err(malformed)?;
                let data = msg.slice_ref(r.data);
                let eof = (data.len() as u64) < u64::from(*len);
                Ok(Response::Read {
                    data: Vec::from([data]),
                    eof,
                })
            }
            Request::Write { .. } => {
                let r = crate::wire::write::WriteResponse::decode(msg).map_err(malformed)?;
                Ok(Response::Written {
                    count: u64::from(r.count),
                })
            }
            Request::QueryDirectory { class, .. } => {
                let r = crate::wire::query_directory::QueryDirectoryResponse::decode(msg)
                    .map_err(malformed)?;
                let page = msg.slice_ref(r.buffer);
                let mut entries = Vec::new();
                for e in r.entries(crate::wire::fscc::FileInfoClass(*class)) {
                    let e = e.map_err(malformed)?;
                    entries.push(DirEntry {
                        name: e.name,
                        attributes: FileAttributes {
                            creation_time: e.creation_time.0,
                            last_access_time: e.last_access_time.0,
                            last_write_time: e.last_write_time.0,
                            change_time: e.change_time.0,
                            allocation_size: e.allocation_size,
                            end_of_file: e.end_of_file,
                            attributes: e.file_attributes,
                        },
                        file_id: e.file_id.unwrap_or(0),
                    });
                }
                Ok(Response::Directory { page, entries })
            }
            Request::QueryInfo { .. } => {
                let r =
                    crate::wire::query_info::QueryInfoResponse::decode(msg).map_err(malformed)?;
                Ok(Response::Info {
                    data: msg.slice_ref(r.buffer),
                })
            }
            Request::SetInfo { .. } => Ok(Response::InfoSet),
            Request::Ioctl { .. } => {
                let r = IoctlResponse::decode(msg).map_err(malformed)?;
                Ok(Response::Ioctl {
                    output: msg.slice_ref(r.output),
                })
            }
            Request::Lock { .. } => Ok(Response::Locked),
            Request::ChangeNotify { .. } => {
                let r = crate::wire::change_notify::ChangeNotifyResponse::decode(msg)
                    .map_err(malformed)?;
                Ok(Response::Notify {
                    data: msg.slice_ref(r.buffer),
                    status,
                })
            }
            Request::Echo => Ok(Response::Echo),
            Request::Logoff => {
                if let Ok((t, _)) = self.session.machine.set(SessionState::Exiting) {
                    self.emit(t);
                }
                Ok(Response::LoggedOff)
            }
            Request::Compound(_) => Err(OpError::new(ErrorKind::Protocol("nested compound"))),
            Request::LeaseBreakAck { .. } | Request::OplockBreakAck { .. } => {
                use crate::wire::oplock_break::OplockBreakMessage;
                match OplockBreakMessage::decode(msg).map_err(malformed)? {
                    OplockBreakMessage::LeaseAck(a) => Ok(Response::BreakAcked {
                        state: a.lease_state.0,
                    }),
                    OplockBreakMessage::Oplock(b) => Ok(Response::BreakAcked {
                        state: u32::from(b.oplock_level.to_u8()),
                    }),
                    OplockBreakMessage::LeaseNotification(_) => {
                        Err(OpError::new(ErrorKind::Protocol(MALFORMED)).with_command(cmd))
                    }
                }
            }
        }
    }

    /// The TREE_CONNECT response of `tree`: the tree's wire id and encryption, or the error.
    fn parse_tcon(&mut self, tree: TreeId, hdr: &Header, msg: &Bytes) -> Result<Response, OpError> {
        let cmd = Command::TreeConnect;
        let share = self
            .trees
            .get(&tree)
            .map(|t| t.share.clone())
            .unwrap_or_default();
        if !hdr.status.is_success() {
            let e = OpError::from_status(hdr.status, cmd);
            return Err(match e.kind {
                ErrorKind::BadShare => {
                    e.with_context(alloc::format!("\\\\{}\\{}", self.server_name, share))
                }
                _ => e.with_context(alloc::format!("share \"{share}\"")),
            });
        }
        let r = TreeConnectResponse::decode(msg)
            .map_err(|_| OpError::new(ErrorKind::Protocol(MALFORMED)).with_command(cmd))?;
        let encrypt = r.share_flags.has(ShareFlags::ENCRYPT_DATA);
        if encrypt
            && self
                .session
                .security
                .as_ref()
                .is_none_or(|s| s.encryptor.is_none())
        {
            return Err(OpError::new(ErrorKind::EncryptionRequired)
                .with_command(cmd)
                .with_context(alloc::format!("share \"{share}\" requires encryption")));
        }
        let t = self
            .trees
            .get_mut(&tree)
            .ok_or(OpError::new(ErrorKind::InvalidHandle))?;
        t.wire_id = hdr.tree_id();
        t.encrypt = encrypt;
        Ok(Response::TreeConnected {
            tree,
            share_type: r.share_type.to_u8(),
            share_flags: r.share_flags.0,
            capabilities: r.capabilities.0,
            maximal_access: r.maximal_access,
            encrypted: encrypt
                || self
                    .session
                    .security
                    .as_ref()
                    .is_some_and(|s| s.encrypt_all),
        })
    }

    /// Whether a TREE_CONNECT must be followed by FSCTL_VALIDATE_NEGOTIATE_INFO ([MS-SMB2]
    /// 3.2.5.5: 3.0 and 3.0.2 only; 3.1.1 has pre-auth integrity instead). Guest and
    /// anonymous sessions cannot sign the request, so they cannot validate.
    fn needs_validation(&self) -> bool {
        self.config.validate_negotiate
            && matches!(
                self.neg().map(|n| n.dialect),
                Some(Dialect::Smb300 | Dialect::Smb302)
            )
            && self
                .session
                .security
                .as_ref()
                .is_some_and(|s| s.signer.is_some())
    }

    /// The FSCTL_VALIDATE_NEGOTIATE_INFO response ([MS-SMB2] 3.2.5.14.12).
    fn on_validate(
        &mut self,
        ch: ChannelId,
        op: OpId,
        hdr: &Header,
        msg: &Bytes,
        encrypted: bool,
        now: Instant,
    ) {
        let resp = match self.ops.get(&op).map(|o| &o.kind) {
            Some(OpKind::Tcon {
                stage: TconStage::Validate(r),
                ..
            }) => r.clone(),
            _ => return,
        };
        let check = (|| -> Result<(), &'static str> {
            // The response must be protected, whatever its status.
            if !encrypted && !hdr.flags.has(HeaderFlags::SIGNED) {
                return Err("unsigned VALIDATE_NEGOTIATE_INFO response");
            }
            match hdr.status {
                NtStatus::SUCCESS => {}
                // The server says the negotiation differs from what it saw.
                NtStatus::ACCESS_DENIED => return Err("server refused the negotiation"),
                // Servers that do not implement the FSCTL (older Windows: FILE_CLOSED or
                // INVALID_DEVICE_REQUEST; NetApp: NOT_SUPPORTED) answer with a signed error:
                // the spec only requires the response to be signed and not ACCESS_DENIED.
                _ => return Ok(()),
            }
            let r = IoctlResponse::decode(msg).map_err(|_| "malformed IOCTL response")?;
            let v = ValidateNegotiateInfoResponse::decode_data(r.output)
                .map_err(|_| "malformed VALIDATE_NEGOTIATE_INFO response")?;
            let n = self
                .channel(ch)
                .and_then(|c| c.neg.as_ref())
                .ok_or("no negotiate")?;
            if v.dialect != n.dialect.to_u16() {
                return Err("dialect differs");
            }
            if v.capabilities != n.capabilities {
                return Err("capabilities differ");
            }
            if v.guid != n.server_guid {
                return Err("server GUID differs");
            }
            if v.security_mode != n.security_mode {
                return Err("security mode differs");
            }
            self.stats.negotiate_validations += 1;
            Ok(())
        })();
        match check {
            Ok(()) => self.complete(op, Ok(resp)),
            Err(why) => {
                let e = OpError::from(ChannelError::Downgrade)
                    .with_command(Command::Ioctl)
                    .with_context(why);
                self.complete(op, Err(e));
                self.fail_channel(ch, ChannelError::Downgrade, now);
            }
        }
    }
}

/// Whether the last output is an operation failed by a malformed response body.
fn is_malformed_marker(out: &VecDeque<Output>) -> bool {
    matches!(
        out.back(),
        Some(Output::Completed {
            result: Err(OpError {
                kind: ErrorKind::Protocol(MALFORMED),
                ..
            }),
            ..
        })
    )
}

const MALFORMED: &str = "malformed response";

impl Channel {
    /// Requests wait for an answer (those that got an interim STATUS_PENDING wait for the
    /// server's own time, e.g. CHANGE_NOTIFY, and do not count).
    fn awaiting(&self) -> bool {
        self.pending.values().any(|p| p.async_id.is_none())
    }
}

impl Io {
    fn new(file: FileHandle, offset: u64, len: u64, data: Bytes) -> Io {
        Io {
            file,
            offset,
            len,
            issued: 0,
            outstanding: 0,
            pieces: BTreeMap::new(),
            eof_at: None,
            data,
            written: 0,
            error: None,
        }
    }
}

fn request_uses_related(r: &Request) -> bool {
    match r {
        Request::Close { file }
        | Request::Read { file, .. }
        | Request::Write { file, .. }
        | Request::Flush { file }
        | Request::QueryDirectory { file, .. }
        | Request::QueryInfo { file, .. }
        | Request::SetInfo { file, .. }
        | Request::Lock { file, .. }
        | Request::ChangeNotify { file, .. } => *file == FileHandle::RELATED,
        Request::Ioctl { file, .. } => *file == Some(FileHandle::RELATED),
        _ => false,
    }
}

#[cold]
fn unreachable_msg() -> OutMsg {
    OutMsg {
        msg: Vec::new(),
        data: None,
        command: Command::Echo,
        recv_len: 0,
        part: Part::Internal,
        sign: false,
        encrypt: false,
        related: false,
    }
}
