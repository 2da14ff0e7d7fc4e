//! Reclaiming durable handles after a reconnect ([MS-SMB2] 3.2.4.4): `NeedReopen ->
//! InReopen -> Good | Lost`, one reopen per open whatever the number of operations waiting
//! for it. An open the server cannot give back becomes `Lost` and its users get a clear
//! error: the client never silently opens a file again that may have changed meanwhile.

use super::*;

/// Reclaims refused as "not found" that are tried again, and the first delay (doubled each
/// time up to 2 s: 0.2, 0.4, 0.8, 1.6, then 2 s nine times, about 21 s in all). Samba
/// refuses a reclaim until the process of the old connection has marked the open
/// disconnected on its way out (smb2srv_open_recreate), and with connections cut every few
/// hundred milliseconds under load that was measured to take up to 10 s.
const REOPEN_RETRIES: u8 = 13;
const REOPEN_RETRY_DELAY: Duration = Duration::from_millis(200);
const REOPEN_RETRY_DELAY_MAX: Duration = Duration::from_secs(2);

impl Client {
    /// Start the durable reopen of `file` (owner: an internal operation).
    pub(super) fn start_reopen(&mut self, file: FileHandle, now: Instant) {
        if self
            .opens
            .get(&file)
            .and_then(|o| o.reopen_retry_at)
            .is_some_and(|t| t > now)
        {
            return;
        }
        let deadline = now + self.config.request_timeout;
        let op = self.alloc_op(OpKind::Reopen { file }, Some(deadline));
        if let Some(o) = self.ops.get_mut(&op) {
            o.internal = true;
        }
        let Some(open) = self.opens.get_mut(&file) else {
            self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
            return;
        };
        match open
            .machine
            .begin(OpenState::InReopen, Owner::Op(op), deadline)
        {
            Ok(t) => {
                self.emit(t);
                // At the back: the scheduler may be walking the queue right now.
                self.queue.push_back(op);
            }
            Err(e) => {
                self.illegal(e);
                self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
            }
        }
    }

    /// The CREATE with DH2C (v2) or DHnC (v1) and the lease the open held.
    pub(super) fn reopen_message(&mut self, file: FileHandle) -> Option<OutMsg> {
        let open = self.opens.get(&file)?;
        let durable = open.durable.clone()?;
        let mut memo = open.memo.clone();
        // Ask for the lease state the open holds now (breaks may have lowered it).
        if memo.lease_key.is_some() && open.lease_state != 0 {
            memo.lease_state = open.lease_state;
        }
        let wire = open.wire;
        let tw = self.trees.get(&open.tree)?.wire_id;
        let mut body = self.create_request(&memo, Some((wire, &durable)));
        let hdr = self.header(Command::Create, tw);
        let hdr = self.dfs_create(open.tree, hdr, &mut body);
        let msg = encode_msg(&hdr, &body);
        Some(self.out_msg(msg, None, Command::Create, 0, Part::Reopen, tw))
    }

    /// The answer to a reopen.
    pub(super) fn on_reopen(&mut self, op: OpId, hdr: &Header, msg: &Bytes, now: Instant) {
        let Some(OpKind::Reopen { file }) = self.ops.get(&op).map(|o| &o.kind) else {
            return;
        };
        let file = *file;
        let result = if hdr.status == NtStatus::SUCCESS {
            CreateResponse::decode(msg).map_err(|_| {
                OpError::new(ErrorKind::Protocol(MALFORMED)).with_command(Command::Create)
            })
        } else {
            Err(OpError::from_status(hdr.status, Command::Create))
        };
        match result {
            Ok(r) => {
                use crate::wire::create_context::find;
                let lease = find::<Lease>(&r.contexts).and_then(|l| l.ok());
                if let Some(o) = self.opens.get_mut(&file) {
                    // The server may give the open a new volatile id ([MS-SMB2] 3.3.5.9.12).
                    o.wire = r.file_id;
                    o.reopen_tries = 0;
                    o.reopen_retry_at = None;
                    if let Some(l) = lease {
                        o.lease_state = l.state().0;
                    }
                    if let Ok((t, _)) = o.machine.finish(OpenState::Good) {
                        self.emit(t);
                    }
                }
                self.stats.reopened += 1;
                // Waiters are still queued: the next pump sends them.
                self.complete(op, Ok(Response::Closed));
            }
            Err(e) => {
                let status = e.status;
                // The server may not have noticed the old connection's end yet: it still
                // holds the open for it and answers "not found" (Samba's
                // smb2srv_open_recreate does). Try again a few times before giving up.
                let racing = matches!(
                    status,
                    Some(NtStatus::OBJECT_NAME_NOT_FOUND | NtStatus::FILE_NOT_AVAILABLE)
                );
                if let Some(o) = self.opens.get_mut(&file) {
                    if racing && o.reopen_tries < REOPEN_RETRIES {
                        let delay = (REOPEN_RETRY_DELAY.as_nanos() << o.reopen_tries)
                            .min(REOPEN_RETRY_DELAY_MAX.as_nanos());
                        o.reopen_tries += 1;
                        o.reopen_retry_at = Some(now + Duration::from_nanos(delay));
                        if let Ok((t, _)) = o.machine.fail() {
                            self.emit(t);
                        }
                        // The waiters stay queued and start the next try when it is due.
                        self.complete(op, Err(e));
                        return;
                    }
                }
                if let Some(o) = self.opens.get_mut(&file) {
                    if let Ok((t, flight)) = o.machine.finish(OpenState::Lost) {
                        self.stats.opens_lost += 1;
                        self.emit(t);
                        let lost = OpError {
                            kind: ErrorKind::HandleLost,
                            status,
                            command: Some(Command::Create),
                            context: Some(String::from(
                                "the durable handle could not be reclaimed after the connection \
                                 was lost (the file may have changed); open it again",
                            )),
                            symlink: None,
                            operation: None,
                        };
                        for w in flight.waiters {
                            // A CLOSE whose handle the server no longer has is done: the
                            // server closed it (maybe that very CLOSE, its answer lost).
                            let closing = matches!(
                                self.ops.get(&w).map(|o| &o.kind),
                                Some(OpKind::Single(Request::Close { .. }))
                            );
                            if closing {
                                self.complete(w, Ok(Response::Closed));
                            } else {
                                self.complete(w, Err(lost.clone()));
                            }
                        }
                    }
                }
                self.complete(op, Err(e));
            }
        }
    }

    /// The reopen operation ended without an answer (its connection went, it timed out):
    /// the open goes back to NeedReopen so the next user tries again.
    pub(super) fn reopen_abandoned(&mut self, file: FileHandle, op: OpId) {
        let Some(o) = self.opens.get_mut(&file) else {
            return;
        };
        let owner = o.machine.flight().map(|f| f.owner) == Some(Owner::Op(op));
        if owner && o.machine.state() == OpenState::InReopen {
            if let Ok((t, _)) = o.machine.fail() {
                self.emit(t);
            }
        }
    }
}
