//! The operation scheduler: submission, the send queue, completion, and turning responses into [`Response`]s.

use super::*;

pub(super) fn attrs_from_create(r: &CreateResponse) -> FileAttributes {
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

/// Whether the last output is an operation failed by a malformed response body.
pub(super) fn is_malformed_marker(out: &VecDeque<Output>) -> bool {
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

pub(super) const MALFORMED: &str = "malformed response";

pub(super) fn request_uses_related(r: &Request) -> bool {
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

impl Client {
    pub(super) fn alloc_op(&mut self, kind: OpKind, deadline: Option<Instant>) -> OpId {
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

    pub(super) fn emit(&mut self, t: Transition) {
        self.out.push_back(Output::Event(t.into()));
    }

    pub(super) fn emit_opt(
        &mut self,
        r: Result<(Transition, Option<crate::state::Flight>), crate::state::IllegalTransition>,
    ) {
        if let Ok((t, _)) = r {
            self.emit(t);
        }
    }

    /// Complete `op` (once) and forget everything about it. Messages still in flight keep
    /// their slots (so late responses still return credits) but no longer point at it.
    pub(super) fn complete(&mut self, op: OpId, result: Result<Response, OpError>) {
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

    pub(super) fn channel(&self, ch: ChannelId) -> Option<&Channel> {
        self.channels.get(ch.0 as usize)
    }

    pub(super) fn neg(&self) -> Option<&Negotiated> {
        self.channels.first()?.neg.as_ref()
    }

    /// Clamp an output buffer length to the server's MaxTransactSize ([MS-SMB2] 3.2.4.14,
    /// 3.2.4.15, 3.2.4.20.1: a request asking for more than MaxTransactSize is refused with
    /// STATUS_INVALID_PARAMETER, e.g. by Samba on 2.0.2 where the limit is 64 KiB). Callers may
    /// ask for large pages everywhere and get the largest the server allows.
    pub(super) fn clamp_to_transact(&self, len: u32) -> u32 {
        self.neg().map_or(len, |n| len.min(n.max_transact.max(1)))
    }

    pub(super) fn dialect_u16(&self) -> u16 {
        self.neg().map_or(0, |n| wire_dialect(n.dialect))
    }

    pub(super) fn auth_context_now(&self, now: Instant) -> FileTime {
        self.wall_clock(now)
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

    pub(super) fn validate(&self, r: &Request, in_compound: bool) -> Result<(), SubmitError> {
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

    /// Send what the queued operations can send now.
    pub(super) fn pump(&mut self, now: Instant) {
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

    pub(super) fn tree_wire_of_file(&self, f: FileHandle) -> u32 {
        self.opens
            .get(&f)
            .and_then(|o| self.trees.get(&o.tree))
            .map_or(0, |t| t.wire_id)
    }

    /// Send the next message(s) of `op`. Ok(true) when the op has sent everything.
    pub(super) fn advance(
        &mut self,
        op: OpId,
        ch: ChannelId,
        now: Instant,
    ) -> Result<bool, SendBlock> {
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

    pub(super) fn on_op_response(
        &mut self,
        op: OpId,
        part: Part,
        hdr: &Header,
        msg: &Bytes,
        now: Instant,
    ) {
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

    /// Turn a response into a [`Response`], updating trees and opens.
    pub(super) fn parse(
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
}
