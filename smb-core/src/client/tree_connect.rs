//! TREE_CONNECT, single-flight per share, and FSCTL_VALIDATE_NEGOTIATE_INFO ([MS-SMB2] 3.2.4.2.4, 3.2.5.5, 3.2.5.14.12).

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

    /// A TREE_CONNECT op ends: if it still owned its tree's InTcon step, the step ends with
    /// it (success: the tree is Good and the waiters get the same response; failure: the tree
    /// goes back and the waiters get the same error). A waiter just leaves the waiter list.
    pub(super) fn tcon_done(&mut self, tree: TreeId, op: OpId, result: &Result<Response, OpError>) {
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

    /// The TREE_CONNECT response of `tree`: the tree's wire id and encryption, or the error.
    pub(super) fn parse_tcon(
        &mut self,
        tree: TreeId,
        hdr: &Header,
        msg: &Bytes,
    ) -> Result<Response, OpError> {
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
    pub(super) fn needs_validation(&self) -> bool {
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
