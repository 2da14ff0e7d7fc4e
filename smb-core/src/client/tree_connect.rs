//! TREE_CONNECT, single-flight per share, tree reconnection after a lost session, and
//! FSCTL_VALIDATE_NEGOTIATE_INFO ([MS-SMB2] 3.2.4.2.4, 3.2.5.5, 3.2.5.14.12).
//!
//! A tree goes `New -> InTcon -> Good`; after its session was lost, `NeedReconnect ->
//! InFilesInvalidate` (its opens are marked for a durable reopen, or lost) `-> NeedTcon ->
//! InTcon -> Good`, with exactly one TREE_CONNECT per tree per session epoch whatever the
//! number of operations waiting for it. Trees with opens reconnect as soon as the session is
//! back; idle ones on first use.

use super::*;

impl Client {
    /// TREE_CONNECT, single-flight per share: one tree (one TreeId) per share name. A request
    /// for a share that is connected completes at once with the same TreeId; one for a share
    /// being connected joins the TREE_CONNECT in flight (no second one is sent) and completes
    /// with it. Each successful TreeConnect counts one use; the TREE_DISCONNECT goes out when
    /// the last use disconnects.
    pub(super) fn submit_tree_connect(
        &mut self,
        share: String,
        deadline: Option<Instant>,
        now: Instant,
    ) -> OpId {
        let existing = self
            .trees
            .iter()
            .find(|(_, t)| {
                t.share.eq_ignore_ascii_case(&share)
                    && t.machine.state() != TreeState::Exiting
                    && !t.leaving
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
                    pipe: false,
                    dfs: false,
                    leaving: false,
                    users: 0,
                    info: None,
                    session_epoch: 0,
                },
            );
            self.entered.insert(ObjectRef::Tree(tree), now);
            tree
        });
        let op = self.alloc_op(
            OpKind::Tcon {
                tree,
                stage: TconStage::Connect,
            },
            deadline,
        );
        self.queue.push_back(op);
        self.pump(now);
        op
    }

    /// Start (or join, or finish at once) the TREE_CONNECT step of the tree of Tcon op `op`.
    /// Returns true when `op` owns the step and must send the TREE_CONNECT now.
    pub(super) fn tcon_acquire(&mut self, op: OpId, tree: TreeId, now: Instant) -> bool {
        let deadline = self
            .ops
            .get(&op)
            .and_then(|o| o.deadline)
            .unwrap_or(now + self.config.request_timeout);
        let internal = self.ops.get(&op).is_some_and(|o| o.internal);
        if self
            .trees
            .get(&tree)
            .is_some_and(|t| t.machine.state() == TreeState::NeedReconnect)
        {
            self.invalidate_files(tree, now);
        }
        let Some(t) = self.trees.get_mut(&tree) else {
            self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
            return false;
        };
        match t
            .machine
            .acquire(TreeState::InTcon, TreeState::Good, Owner::Op(op), deadline)
        {
            Acquire::Ready => {
                if !internal {
                    t.users += 1;
                }
                let r = t
                    .info
                    .clone()
                    .ok_or(OpError::new(ErrorKind::Protocol("tree info")));
                self.complete(op, r);
                false
            }
            Acquire::Owner(tr) => {
                self.emit(tr);
                true
            }
            Acquire::Joined => {
                // Waits for the exchange in flight (tcon_done completes it).
                self.queue.retain(|o| *o != op);
                if let Some(o) = self.ops.get_mut(&op) {
                    o.sent_all = true;
                }
                false
            }
            Acquire::Refused(_) => {
                self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
                false
            }
        }
    }

    /// `NeedReconnect -> InFilesInvalidate -> NeedTcon`: the tree's session is new, so every
    /// open on it needs a durable reopen (or is lost: an open that is not durable cannot be
    /// given back, and is never silently opened again).
    pub(super) fn invalidate_files(&mut self, tree: TreeId, now: Instant) {
        let deadline = now + self.config.request_timeout;
        let Some(t) = self.trees.get_mut(&tree) else {
            return;
        };
        match t
            .machine
            .begin(TreeState::InFilesInvalidate, Owner::Internal, deadline)
        {
            Ok(tr) => self.emit(tr),
            Err(e) => return self.illegal(e),
        }
        let files: Vec<FileHandle> = self
            .opens
            .iter()
            .filter(|(_, o)| o.tree == tree)
            .map(|(f, _)| *f)
            .collect();
        for f in files {
            let Some(o) = self.opens.get_mut(&f) else {
                continue;
            };
            let to = if o.durable.is_some() {
                OpenState::NeedReopen
            } else {
                OpenState::Lost
            };
            if o.machine.state().in_progress() {
                if let Ok((tr, _)) = o.machine.fail() {
                    self.emit(tr);
                }
            }
            let Some(o) = self.opens.get_mut(&f) else {
                continue;
            };
            o.reopen_tries = 0;
            o.reopen_retry_at = None;
            if o.machine.state() != to && o.machine.state() != OpenState::Lost {
                let r = o.machine.set(to);
                if to == OpenState::Lost {
                    self.stats.opens_lost += 1;
                }
                self.emit_opt(r);
            }
        }
        if let Some(t) = self.trees.get_mut(&tree) {
            match t.machine.finish(TreeState::NeedTcon) {
                Ok((tr, _)) => self.emit(tr),
                Err(e) => self.illegal(e),
            }
        }
    }

    /// After the session came back: reconnect every tree that has opens (idle trees wait for
    /// their first use), with one internal TREE_CONNECT each.
    pub(super) fn reconnect_busy_trees(&mut self, now: Instant) {
        let busy: Vec<TreeId> = self
            .trees
            .iter()
            .filter(|(id, t)| {
                matches!(
                    t.machine.state(),
                    TreeState::NeedReconnect | TreeState::NeedTcon
                ) && self.opens.values().any(|o| o.tree == **id)
            })
            .map(|(id, _)| *id)
            .collect();
        for tree in busy {
            self.start_tree_reconnect(tree, now);
        }
    }

    /// An internal TREE_CONNECT for `tree`.
    pub(super) fn start_tree_reconnect(&mut self, tree: TreeId, now: Instant) {
        let deadline = Some(now + self.config.request_timeout);
        let op = self.alloc_op(
            OpKind::Tcon {
                tree,
                stage: TconStage::Connect,
            },
            deadline,
        );
        if let Some(o) = self.ops.get_mut(&op) {
            o.internal = true;
        }
        // At the back: the scheduler may be walking the queue right now.
        self.queue.push_back(op);
    }

    /// The owner of a tree's InTcon step gives up (cancel, timeout) while other requests
    /// wait for the same tree: the first waiter takes over the exchange in flight. Returns
    /// whether it did.
    pub(super) fn tcon_hand_over(&mut self, op: OpId) -> bool {
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
        let stage = match &old.kind {
            OpKind::Tcon { stage, .. } => stage.clone(),
            _ => TconStage::Connect,
        };
        let in_flight = core::mem::take(&mut old.in_flight);
        let sent_all = old.sent_all;
        for (ch, mid) in &in_flight {
            if let Some(p) = self
                .channels
                .get_mut(ch)
                .and_then(|c| c.pending.get_mut(mid))
            {
                p.op = Some(next);
            }
        }
        if let Some(n) = self.ops.get_mut(&next) {
            n.kind = OpKind::Tcon { tree, stage };
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

    /// A TREE_CONNECT op ends: if it still owned its tree's InTcon step, the step ends with
    /// it (success: the tree is Good and the TreeConnect waiters get the same response;
    /// failure: the tree goes back and every waiter gets the same error). A waiter just
    /// leaves the waiter list.
    pub(super) fn tcon_done(
        &mut self,
        tree: TreeId,
        op: OpId,
        internal: bool,
        result: &Result<Response, OpError>,
    ) {
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
                if !internal {
                    t.users += 1;
                }
                t.info = Some(r.clone());
                if let Ok((tr, flight)) = t.machine.finish(TreeState::Good) {
                    self.emit(tr);
                    for w in flight.waiters {
                        // TreeConnect requests that joined get the same tree; other
                        // requests that waited for it are still queued and go now.
                        if matches!(self.ops.get(&w).map(|o| &o.kind), Some(OpKind::Tcon { .. })) {
                            if let Some(t) = self.trees.get_mut(&tree) {
                                t.users += 1;
                            }
                            self.complete(w, Ok(r.clone()));
                        }
                    }
                }
            }
            Err(e) => {
                let Ok((tr, flight)) = t.machine.fail() else {
                    return;
                };
                let forget = t.users == 0 && !self.opens.values().any(|o| o.tree == tree);
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

    /// The TREE_CONNECT response of `tree`: the tree's wire id and encryption, or the error.
    pub(super) fn parse_tcon(
        &mut self,
        tree: TreeId,
        hdr: &Header,
        msg: &Bytes,
    ) -> Result<Result<Response, OpError>, ChannelError> {
        let cmd = Command::TreeConnect;
        let share = self
            .trees
            .get(&tree)
            .map(|t| t.share.clone())
            .unwrap_or_default();
        if !hdr.status.is_success() {
            let e = OpError::from_status(hdr.status, cmd);
            return Ok(Err(match e.kind {
                ErrorKind::BadShare => {
                    e.with_context(alloc::format!("\\\\{}\\{}", self.server_name, share))
                }
                _ => e.with_context(alloc::format!("share \"{share}\"")),
            }));
        }
        let r = TreeConnectResponse::decode(msg).map_err(ChannelError::Malformed)?;
        let share_type = r.share_type.to_u8();
        if !(1..=3).contains(&share_type) {
            return Err(ChannelError::Malformed(DecodeError::BadField {
                field: "ShareType",
                value: share_type.into(),
            }));
        }
        let encrypt = r.share_flags.has(ShareFlags::ENCRYPT_DATA);
        if encrypt
            && self
                .session
                .security
                .as_ref()
                .is_none_or(|s| s.encryptor.is_none())
        {
            return Ok(Err(OpError::new(ErrorKind::EncryptionRequired)
                .with_command(cmd)
                .with_context(alloc::format!(
                    "share \"{share}\" requires encryption"
                ))));
        }
        let epoch = self.session.machine.epoch();
        let Some(t) = self.trees.get_mut(&tree) else {
            return Ok(Err(OpError::new(ErrorKind::InvalidHandle)));
        };
        t.wire_id = hdr.tree_id();
        t.encrypt = encrypt;
        t.pipe = share_type == 2;
        t.dfs = r.capabilities.has(ShareCapabilities::DFS);
        t.session_epoch = epoch;
        self.stats.tree_connects += 1;
        Ok(Ok(Response::TreeConnected {
            tree,
            share_type,
            share_flags: r.share_flags.0,
            capabilities: r.capabilities.0,
            maximal_access: r.maximal_access,
            encrypted: encrypt
                || self
                    .session
                    .security
                    .as_ref()
                    .is_some_and(|s| s.encrypt_all),
        }))
    }

    /// Whether a TREE_CONNECT must be followed by FSCTL_VALIDATE_NEGOTIATE_INFO ([MS-SMB2]
    /// 3.2.5.5: 3.0 and 3.0.2 only; 3.1.1 has pre-auth integrity instead). Guest and
    /// anonymous sessions cannot sign the request, so they cannot validate.
    pub(super) fn needs_validation(&self) -> bool {
        self.config.validate_negotiate
            && matches!(
                self.neg().map(|n| n.dialect),
                Some(Dialect::Smb300 | Dialect::Smb302)
            )
            && self.session.security.is_some()
    }

    /// The FSCTL_VALIDATE_NEGOTIATE_INFO response ([MS-SMB2] 3.2.5.14.12).
    pub(super) fn on_validate(
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
                .channels
                .get(&ch)
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
                let e = self
                    .channel_op_error(&ChannelError::Downgrade)
                    .with_command(Command::Ioctl)
                    .with_context(why);
                self.complete(op, Err(e));
                self.fail_channel(ch, ChannelError::Downgrade, now);
            }
        }
    }
}
