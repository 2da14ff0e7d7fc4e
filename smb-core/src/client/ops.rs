//! The operation scheduler: submission, the send queue, what an operation waits for, and
//! what happens to operations whose connection was lost.
//!
//! An operation is queued until everything it needs is `Good`: the session, the tree it
//! works in, the open it works on. When one of those is not, the operation starts the
//! object's recovery step (or joins the step in flight: one TREE_CONNECT, one reopen,
//! whatever the number of waiters) and stays queued; it fails only with the step, with its
//! own deadline, or when the recovery gives up.

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

/// The file handle a request works on (possibly [`FileHandle::RELATED`]).
fn request_file_any(r: &Request) -> Option<FileHandle> {
    match r {
        Request::Close { file }
        | Request::Read { file, .. }
        | Request::Write { file, .. }
        | Request::Flush { file }
        | Request::QueryDirectory { file, .. }
        | Request::QueryInfo { file, .. }
        | Request::SetInfo { file, .. }
        | Request::Lock { file, .. }
        | Request::ChangeNotify { file, .. }
        | Request::OplockBreakAck { file, .. } => Some(*file),
        Request::Ioctl { file, .. } => *file,
        _ => None,
    }
}

/// The file handle a request works on (not [`FileHandle::RELATED`]).
fn request_file(r: &Request) -> Option<FileHandle> {
    request_file_any(r).filter(|f| *f != FileHandle::RELATED)
}

/// The tree a request names directly.
fn request_tree(r: &Request) -> Option<TreeId> {
    match r {
        Request::Create { tree, .. }
        | Request::TreeDisconnect { tree }
        | Request::Ioctl { tree, .. } => Some(*tree),
        _ => None,
    }
}

/// A CREATE that changes nothing on the server: opening an existing object without write,
/// delete or delete-on-close access. Sending it twice is harmless.
fn harmless_create(o: &OpenOptions) -> bool {
    let writes = access::GENERIC_WRITE
        | access::GENERIC_ALL
        | access::FILE_WRITE_DATA
        | access::FILE_APPEND_DATA
        | access::FILE_WRITE_EA
        | access::FILE_WRITE_ATTRIBUTES
        | access::DELETE
        | access::MAXIMUM_ALLOWED;
    o.disposition == disposition::OPEN
        && o.desired_access & writes == 0
        && o.create_options & create_options::DELETE_ON_CLOSE == 0
}

/// What an operation found when the scheduler looked at it.
enum Readiness {
    /// Everything it needs is Good: send it.
    Go,
    /// It waits (for a tree, an open, credits): leave it queued.
    Wait,
    /// It completed or left the queue.
    Gone,
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
                internal: false,
                replay: false,
                retries: 0,
                create: None,
                joined: None,
            },
        );
        id
    }

    /// An operation id whose result is known at once (nothing to send).
    pub(super) fn completed_now(&mut self, result: Result<Response, OpError>) -> OpId {
        let op = OpId(self.next_op);
        self.next_op += 1;
        self.out.push_back(Output::Completed { op, result });
        op
    }

    /// Emit a transition with when it happened and how long the object was in its old
    /// status.
    pub(super) fn emit(&mut self, t: Transition) {
        let now = self.last_now;
        let since = self.entered.insert(t.object, now).unwrap_or(now);
        self.out.push_back(Output::Event(Event::Transition {
            object: t.object,
            from: t.from,
            to: t.to,
            at: now,
            after: now - since,
        }));
    }

    pub(super) fn emit_opt(
        &mut self,
        r: Result<(Transition, Option<crate::state::Flight>), crate::state::IllegalTransition>,
    ) {
        match r {
            Ok((t, _)) => self.emit(t),
            Err(e) => self.illegal(e),
        }
    }

    /// A transition the tables refuse: a bug of the engine. Loud in debug builds, an event in
    /// release builds; never silently swallowed.
    pub(super) fn illegal(&mut self, e: crate::state::IllegalTransition) {
        debug_assert!(false, "{e}");
        self.stats.illegal_transitions += 1;
        self.out
            .push_back(Output::Event(Event::IllegalTransition(e)));
    }

    /// Complete `op` (once) and forget everything about it. Messages still in flight keep
    /// their slots (so late responses still return credits) but no longer point at it.
    pub(super) fn complete(&mut self, op: OpId, result: Result<Response, OpError>) {
        let Some(o) = self.ops.remove(&op) else {
            return;
        };
        if let OpKind::Tcon { tree, .. } = o.kind {
            self.tcon_done(tree, op, o.internal, &result);
        }
        if let OpKind::Reopen { file } = o.kind {
            self.reopen_abandoned(file, op);
        }
        for (ch, mid) in o.in_flight {
            if let Some(p) = self
                .channels
                .get_mut(&ch)
                .and_then(|c| c.pending.get_mut(&mid))
            {
                p.op = None;
            }
        }
        self.queue.retain(|x| *x != op);
        self.session.machine.leave(op);
        match o.joined {
            Some(ObjectRef::Tree(t)) => {
                if let Some(t) = self.trees.get_mut(&t) {
                    t.machine.leave(op);
                }
            }
            Some(ObjectRef::Open(f)) => {
                if let Some(f) = self.opens.get_mut(&f) {
                    f.machine.leave(op);
                }
            }
            _ => {}
        }
        if self.connect_op == Some(op) {
            self.connect_op = None;
        }
        if !o.internal {
            self.out.push_back(Output::Completed { op, result });
        }
    }

    /// The negotiation of the session's connection (the first channel that has one).
    pub(super) fn neg(&self) -> Option<&Negotiated> {
        self.channels
            .values()
            .filter(|c| c.usable())
            .chain(self.channels.values())
            .find_map(|c| c.neg.as_ref())
    }

    /// Clamp an output buffer length to the server's MaxTransactSize ([MS-SMB2] 3.2.4.14,
    /// 3.2.4.15, 3.2.4.20.1: a request asking for more than MaxTransactSize is refused with
    /// STATUS_INVALID_PARAMETER, e.g. by Samba on 2.0.2 where the limit is 64 KiB), and to
    /// 64 KiB when the connection has no multi-credit support (3.2.4.1.5). Callers may ask
    /// for large pages everywhere and get the largest the server allows.
    pub(super) fn clamp_to_transact(&self, len: u32) -> u32 {
        let multi = self
            .channels
            .values()
            .find(|c| c.usable())
            .is_none_or(|c| c.credits.multi_credit());
        let len = if multi { len } else { len.min(65536) };
        self.neg().map_or(len, |n| len.min(n.max_transact.max(1)))
    }

    /// Clamp a buffer of a request charged one credit whatever its size (QUERY_INFO,
    /// SET_INFO, CHANGE_NOTIFY): [MS-SMB2] 3.2.4.1.5 charges them 1, and Samba refuses such
    /// a request whose buffer needs more than one credit's worth, so they stay within 64 KiB.
    pub(super) fn clamp_single_credit(&self, len: u32) -> u32 {
        self.clamp_to_transact(len).min(65536)
    }

    pub(super) fn dialect_u16(&self) -> u16 {
        self.neg().map_or(0, |n| wire_dialect(n.dialect))
    }

    pub(super) fn auth_context_now(&self, now: Instant) -> FileTime {
        self.wall_clock(now)
    }

    /// The channel for the next request: among the usable channels, the one with the fewest
    /// requests awaiting an answer, then one with credits for a full piece, then the one
    /// used least recently (so sequential requests alternate over equal channels). With one
    /// channel, that channel.
    pub(super) fn pick_channel(&self) -> Option<ChannelId> {
        self.pick_channel_except(&[])
    }

    /// [`Client::pick_channel`] among the channels not in `skip` (those that just ran out of
    /// credits or failed while sending).
    pub(super) fn pick_channel_except(&self, skip: &[ChannelId]) -> Option<ChannelId> {
        self.channels
            .iter()
            .filter(|(id, c)| c.usable() && !skip.contains(id))
            .min_by_key(|(id, c)| {
                (
                    c.pending.len(),
                    // Short of credits for a full 1 MiB piece: only when the others are too.
                    c.credits.available() < 16,
                    c.last_used,
                    **id,
                )
            })
            .map(|(id, _)| *id)
    }

    /// Submit an operation. Never blocks: the result arrives as [`Output::Completed`].
    /// While the connection is being re-established, operations wait for it.
    pub fn submit(&mut self, request: Request, now: Instant) -> Result<OpId, SubmitError> {
        self.last_now = now;
        if self.shut_down {
            return Err(SubmitError::ShutDown);
        }
        if self.addr.is_none() {
            return Err(SubmitError::NotConnected);
        }
        if self.ops.len() >= self.config.max_engine_ops {
            return Err(SubmitError::Busy);
        }
        match self.session.machine.state() {
            SessionState::Good | SessionState::InSetup => {}
            SessionState::NeedReconnect if self.recovers() => {
                if self.recovery.gave_up || self.recovery.since.is_none() {
                    // A new request after the recovery gave up: try again.
                    let cause = ChannelError::Closed(CloseReason::Requested);
                    self.start_recovery(cause, now);
                }
            }
            _ => return Err(SubmitError::NotConnected),
        }
        self.validate(&request, false)?;
        if let Request::Close { file } = request {
            self.cancel_notifies(file, now);
        }
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
                    return Ok(self.completed_now(Ok(Response::TreeDisconnected)));
                }
                if let Some(t) = self.trees.get_mut(&tree) {
                    t.leaving = true;
                }
                OpKind::Single(Request::TreeDisconnect { tree })
            }
            other => OpKind::Single(other),
        };
        let op = self.alloc_op(kind, deadline);
        self.queue.push_back(op);
        if self.session.machine.state() == SessionState::InSetup && !self.session.established_once {
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
            Request::LeaseCache(_) => {
                return Err(SubmitError::InvalidRequest(
                    "the lease cache is the driver's; the engine has none",
                ));
            }
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
            r => {
                request_tree(r).is_none_or(|t| self.trees.contains_key(&t))
                    && request_file_any(r).as_ref().is_none_or(file_ok)
            }
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
        if !self.ops.contains_key(&op)
            || Some(op) == self.connect_op
            || self.ops.get(&op).is_some_and(|o| o.internal)
        {
            return;
        }
        if !self.tcon_hand_over(op) {
            self.send_cancels(op);
        }
        self.complete(op, Err(OpError::new(ErrorKind::Cancelled)));
        self.pump(now);
    }

    /// Closing a directory ends its watches: each CHANGE_NOTIFY still waiting on `file` is
    /// cancelled first ([MS-SMB2] 3.2.4.24), so the server answers it with STATUS_CANCELLED
    /// rather than leaving it to the close (STATUS_NOTIFY_CLEANUP, [MS-SMB2] 3.3.5.10).
    fn cancel_notifies(&mut self, file: FileHandle, now: Instant) {
        let watches: Vec<OpId> = self
            .ops
            .iter()
            .filter(|(_, o)| {
                !o.internal
                    && matches!(&o.kind, OpKind::Single(Request::ChangeNotify { file: f, .. })
                        if *f == file)
            })
            .map(|(id, _)| *id)
            .collect();
        for op in watches {
            self.cancel(op, now);
        }
    }

    /// Send what the queued operations can send now.
    pub(super) fn pump(&mut self, now: Instant) {
        if self.shut_down || self.session.machine.state() != SessionState::Good {
            return;
        }
        self.multichannel_tick(now);
        // Channels that could not take the last op (credits, failure): the op tries the
        // next one; when none is left, the pump waits for credits.
        let mut blocked: SmallVec<[ChannelId; 4]> = SmallVec::new();
        let mut i = 0;
        while i < self.queue.len() {
            let op = self.queue[i];
            match self.readiness(op, now) {
                Readiness::Go => {}
                Readiness::Wait => {
                    i += 1;
                    continue;
                }
                Readiness::Gone => {
                    if self.queue.get(i) == Some(&op) {
                        i += 1;
                    }
                    continue;
                }
            }
            let Some(ch) = self.pick_channel_except(&blocked) else {
                break;
            };
            match self.advance(op, ch, now) {
                Ok(true) => {
                    // Everything sent: leave the queue.
                    if let Some(pos) = self.queue.iter().position(|x| *x == op) {
                        self.queue.remove(pos);
                    }
                    if let Some(o) = self.ops.get_mut(&op) {
                        o.sent_all = true;
                    }
                }
                Ok(false) => {
                    if self.queue.get(i) == Some(&op) {
                        i += 1;
                    }
                }
                Err(SendBlock::Credits) | Err(SendBlock::Channel) => blocked.push(ch),
            }
        }
    }

    /// Whether `op` can be sent now; starts (or joins) the recovery of what it needs.
    fn readiness(&mut self, op: OpId, now: Instant) -> Readiness {
        let Some(o) = self.ops.get(&op) else {
            return Readiness::Gone;
        };
        let (tree, file, close) = match &o.kind {
            OpKind::Connect => {
                let r = self.connected_response();
                self.complete(op, Ok(r));
                return Readiness::Gone;
            }
            OpKind::Tcon { tree, stage } => {
                let (tree, connect) = (*tree, matches!(stage, TconStage::Connect));
                if connect && o.in_flight.is_empty() && !self.owns_tree_step(op, tree) {
                    return if self.tcon_acquire(op, tree, now) {
                        Readiness::Go
                    } else {
                        Readiness::Gone
                    };
                }
                return Readiness::Go;
            }
            OpKind::Reopen { .. } => return Readiness::Go,
            OpKind::Io(io, _) if io.retry_at.is_some_and(|t| t > now) => {
                return Readiness::Wait;
            }
            OpKind::Io(io, _) => (None, Some(io.file), false),
            OpKind::Single(r) => (
                request_tree(r),
                request_file(r),
                matches!(r, Request::Close { .. }),
            ),
            OpKind::Compound { reqs, .. } => (
                reqs.iter().find_map(request_tree),
                reqs.iter().find_map(request_file),
                false,
            ),
        };
        if let Some(f) = file {
            let Some(open) = self.opens.get(&f) else {
                self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
                return Readiness::Gone;
            };
            let open_tree = open.tree;
            match open.machine.state() {
                OpenState::Good => {}
                OpenState::Lost if close => {
                    // The server dropped the handle with the session: closing it is done.
                    self.opens.remove(&f);
                    self.complete(op, Ok(Response::Closed));
                    return Readiness::Gone;
                }
                OpenState::Lost => {
                    let e = OpError::new(ErrorKind::HandleLost).with_context(
                        "the file was open when the connection was lost and its handle could \
                         not be reclaimed; open it again",
                    );
                    self.complete(op, Err(e));
                    return Readiness::Gone;
                }
                _ => {}
            }
            if !self.tree_ready(op, open_tree, now) {
                return Readiness::Wait;
            }
            return self.open_ready(op, f, now);
        }
        if let Some(t) = tree {
            if !self.tree_ready(op, t, now) {
                return Readiness::Wait;
            }
        }
        Readiness::Go
    }

    fn owns_tree_step(&self, op: OpId, tree: TreeId) -> bool {
        self.trees
            .get(&tree)
            .and_then(|t| t.machine.flight())
            .is_some_and(|f| f.owner == Owner::Op(op))
    }

    /// Whether `tree` is Good; otherwise start its reconnection (once) and have `op` wait.
    fn tree_ready(&mut self, op: OpId, tree: TreeId, now: Instant) -> bool {
        let Some(t) = self.trees.get(&tree) else {
            self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
            return false;
        };
        match t.machine.state() {
            TreeState::Good => return true,
            TreeState::NeedReconnect | TreeState::NeedTcon => {
                let queued = self.queue.iter().any(|q| {
                    self.ops.get(q).is_some_and(|o| {
                        o.internal && matches!(o.kind, OpKind::Tcon { tree: t, .. } if t == tree)
                    })
                });
                if !queued {
                    self.start_tree_reconnect(tree, now);
                }
            }
            TreeState::Exiting => {
                self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
                return false;
            }
            _ => {}
        }
        if let Some(t) = self.trees.get_mut(&tree) {
            if t.machine.join(op) {
                if let Some(o) = self.ops.get_mut(&op) {
                    o.joined = Some(ObjectRef::Tree(tree));
                }
            }
        }
        false
    }

    /// Whether the open `f` is Good; otherwise start its durable reopen (once) and wait.
    fn open_ready(&mut self, op: OpId, f: FileHandle, now: Instant) -> Readiness {
        let Some(open) = self.opens.get(&f) else {
            return Readiness::Go;
        };
        match open.machine.state() {
            OpenState::Good => return Readiness::Go,
            OpenState::NeedReopen => self.start_reopen(f, now),
            _ => {}
        }
        if let Some(o) = self.opens.get_mut(&f) {
            if o.machine.join(op) {
                if let Some(x) = self.ops.get_mut(&op) {
                    x.joined = Some(ObjectRef::Open(f));
                }
            }
        }
        Readiness::Wait
    }

    /// Put `op` back in the queue to be sent again.
    pub(super) fn requeue(&mut self, op: OpId) {
        if let Some(o) = self.ops.get_mut(&op) {
            o.sent_all = false;
        }
        if !self.queue.contains(&op) {
            self.queue.push_back(op);
        }
    }

    /// A request of `op` was in flight on a connection that is gone. Safe requests are sent
    /// again once the session, tree and open are back (marked as replays on 3.x,
    /// [MS-SMB2] 3.2.4.1, 3.2.7.1); others fail with a retryable error naming the doubt. An
    /// integrity failure is never papered over by a replay: the operation fails with it.
    pub(super) fn request_lost(&mut self, ch: ChannelId, p: Pending, e: &OpError, smb3: bool) {
        let Some(op) = p.op else {
            return;
        };
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        o.in_flight.retain(|x| *x != (ch, p.res.message_id));
        // Neither is a server that sent something malformed or not allowed: asking again
        // would only loop through reconnects until the deadline hides the cause.
        if matches!(e.kind, ErrorKind::Integrity(_) | ErrorKind::Downgrade)
            || matches!(&e.kind, ErrorKind::Channel(c) if c.is_misbehaviour())
        {
            self.complete(op, Err(e.clone()));
            return;
        }
        match (&mut o.kind, p.part) {
            (OpKind::Io(io, _), Part::Piece { rel, len }) => {
                io.outstanding = io.outstanding.saturating_sub(1);
                io.again.push((rel, len));
                o.replay = true;
                self.requeue(op);
            }
            (OpKind::Tcon { stage, .. }, _) => {
                // A new session gets a new TREE_CONNECT (not a replay).
                *stage = TconStage::Connect;
                self.requeue(op);
            }
            (OpKind::Reopen { file }, _) => {
                let file = *file;
                // Tried again when the tree is back (the open goes back to NeedReopen).
                self.complete(op, Err(e.clone()));
                let _ = file;
            }
            (OpKind::Single(req), _) => {
                let safe = match &*req {
                    Request::TreeDisconnect { tree } => {
                        // The tree went with the connection: disconnected it is.
                        let tree = *tree;
                        if let Some(mut t) = self.trees.remove(&tree) {
                            let r = t.machine.set(TreeState::Exiting);
                            self.emit_opt(r);
                        }
                        self.complete(op, Ok(Response::TreeDisconnected));
                        return;
                    }
                    Request::Logoff => {
                        self.complete(op, Ok(Response::LoggedOff));
                        return;
                    }
                    Request::Create { options, .. } => {
                        harmless_create(options)
                            || (smb3 && o.create.as_ref().is_some_and(|m| m.create_guid.is_some()))
                    }
                    r => replayable(r),
                };
                if safe {
                    o.replay = true;
                    self.requeue(op);
                } else {
                    let what = req.name();
                    let e = e.clone().with_context(alloc::format!(
                        "the connection was lost while {what} was in flight; it may or may not \
                         have been carried out, so it is not sent again"
                    ));
                    self.complete(op, Err(e));
                }
            }
            (OpKind::Compound { reqs, results, .. }, _) => {
                if !o.in_flight.is_empty() && self.queue.contains(&op) {
                    return;
                }
                let safe = reqs.iter().all(|r| match r {
                    Request::Create { options, .. } => harmless_create(options),
                    r => replayable(r),
                });
                if safe {
                    for r in results.iter_mut() {
                        *r = None;
                    }
                    o.replay = true;
                    // Members still in flight on that connection are gone too.
                    o.in_flight.retain(|(c, _)| *c != ch);
                    self.requeue(op);
                } else {
                    let e = e.clone().with_context(
                        "the connection was lost while a compound request that changes the \
                         server was in flight; it is not sent again",
                    );
                    self.complete(op, Err(e));
                }
            }
            // A piece of an Io op is always a Piece; nothing else of a login is in flight.
            (OpKind::Io(..), _) | (OpKind::Connect, _) => {}
        }
    }

    /// The server said the session or tree behind `op`'s request is gone or expired
    /// ([MS-SMB2] 3.2.5.1.7): recover the object and send the request again (a bounded
    /// number of times). Returns false when `op` is to get the error instead.
    pub(super) fn status_recovers(
        &mut self,
        ch: ChannelId,
        op: OpId,
        status: NtStatus,
        tree: Option<TreeId>,
        now: Instant,
    ) -> bool {
        let recoverable = matches!(
            status,
            NtStatus::NETWORK_SESSION_EXPIRED
                | NtStatus::USER_SESSION_DELETED
                | NtStatus::NETWORK_NAME_DELETED
        );
        if !recoverable || self.shut_down {
            return false;
        }
        let Some(o) = self.ops.get_mut(&op) else {
            return false;
        };
        if o.retries >= 3 {
            return false;
        }
        o.retries += 1;
        match status {
            NtStatus::NETWORK_SESSION_EXPIRED => {
                if self.session.machine.state() == SessionState::Good {
                    self.start_session_setup(ch, SetupKind::Reauth, now);
                }
            }
            NtStatus::USER_SESSION_DELETED => {
                if self.session.machine.state() == SessionState::Good {
                    if let Ok((t, _)) = self.session.machine.set(SessionState::NeedReconnect) {
                        self.emit(t);
                    }
                    self.session.previous_id = self.session.id;
                    let trees: Vec<TreeId> = self.trees.keys().copied().collect();
                    for t in trees {
                        self.tree_lost(t);
                    }
                    self.start_session_setup(ch, SetupKind::New, now);
                }
            }
            _ => {
                if let Some(t) = tree {
                    if self
                        .trees
                        .get(&t)
                        .is_some_and(|x| x.machine.state() == TreeState::Good)
                    {
                        self.tree_lost(t);
                    }
                }
            }
        }
        true
    }

    /// The tree a running operation works in.
    pub(super) fn op_tree(&self, op: OpId) -> Option<TreeId> {
        let o = self.ops.get(&op)?;
        match &o.kind {
            OpKind::Io(io, _) => self.opens.get(&io.file).map(|f| f.tree),
            OpKind::Single(r) => request_tree(r)
                .or_else(|| request_file(r).and_then(|f| self.opens.get(&f).map(|o| o.tree))),
            OpKind::Compound { reqs, .. } => reqs.iter().find_map(request_tree).or_else(|| {
                reqs.iter()
                    .find_map(request_file)
                    .and_then(|f| self.opens.get(&f).map(|o| o.tree))
            }),
            OpKind::Tcon { tree, .. } => Some(*tree),
            OpKind::Reopen { file } => self.opens.get(file).map(|f| f.tree),
            OpKind::Connect => None,
        }
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
        match &o.kind {
            OpKind::Connect => Ok(true),
            OpKind::Single(req) => {
                let req = req.clone();
                if let Request::Create { path, options, .. } = &req {
                    if self.ops.get(&op).is_some_and(|o| o.create.is_none()) {
                        let memo = self.create_memo(path, options);
                        if let Some(o) = self.ops.get_mut(&op) {
                            o.create = Some(memo);
                        }
                    }
                }
                let memo = self.ops.get(&op).and_then(|o| o.create.clone());
                let m = match self.build(&req, None, memo.as_ref(), now) {
                    Ok(m) => m,
                    Err(e) => {
                        self.complete(op, Err(e));
                        return Ok(true);
                    }
                };
                self.transmit(ch, Some(op), Vec::from([m]))?;
                Ok(true)
            }
            OpKind::Tcon { tree, stage } => {
                let (tree, stage) = (*tree, stage.clone());
                let m = match self.tcon_message(ch, tree, &stage) {
                    Ok(m) => m,
                    Err(e) => {
                        self.complete(op, Err(e));
                        return Ok(true);
                    }
                };
                self.transmit(ch, Some(op), Vec::from([m]))?;
                Ok(true)
            }
            OpKind::Compound { reqs, .. } => {
                let reqs = reqs.clone();
                let mut msgs = Vec::with_capacity(reqs.len());
                let mut last_tree = 0u32;
                for (i, r) in reqs.iter().enumerate() {
                    let related = i > 0 && request_uses_related(r);
                    let memo = match r {
                        Request::Create { path, options, .. } => {
                            Some(self.create_memo(path, options))
                        }
                        _ => None,
                    };
                    match self.build(r, Some((i, last_tree)), memo.as_ref(), now) {
                        Ok(mut m) => {
                            m.related = related;
                            last_tree = m.tree_wire;
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
                self.transmit(ch, Some(op), msgs)?;
                Ok(true)
            }
            OpKind::Io(_, _) => self.advance_io(op, ch),
            OpKind::Reopen { file } => {
                let file = *file;
                let m = match self.reopen_message(file) {
                    Some(m) => m,
                    None => {
                        self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
                        return Ok(true);
                    }
                };
                self.transmit(ch, Some(op), Vec::from([m]))?;
                Ok(true)
            }
        }
    }
}

/// Requests that can be sent again after a lost connection without changing the outcome:
/// reads and queries, and writes (the same bytes at the same offset). Anything that changes
/// names, attributes, locks or contents otherwise is not.
fn replayable(r: &Request) -> bool {
    matches!(
        r,
        Request::Read { .. }
            | Request::Write { .. }
            | Request::Flush { .. }
            | Request::QueryDirectory { .. }
            | Request::QueryInfo { .. }
            | Request::ChangeNotify { .. }
            | Request::Echo
            | Request::Close { .. }
    )
}
