//! Reclaiming durable handles after a reconnect ([MS-SMB2] 3.2.4.4): `NeedReopen ->
//! InReopen -> Good | Lost`, one reopen per open whatever the number of operations waiting
//! for it. An open the server cannot give back becomes `Lost` and its users get a clear
//! error: the client never silently opens a file again that may have changed meanwhile.

use super::*;

impl Client {
    /// Start the durable reopen of `file` (owner: an internal operation).
    pub(super) fn start_reopen(&mut self, file: FileHandle, now: Instant) {
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
        let body = self.create_request(&memo, Some((wire, &durable)));
        let hdr = self.header(Command::Create, tw);
        let msg = encode_msg(&hdr, &body);
        Some(self.out_msg(msg, None, Command::Create, 0, Part::Reopen, tw))
    }

    /// The answer to a reopen.
    pub(super) fn on_reopen(&mut self, op: OpId, hdr: &Header, msg: &Bytes, _now: Instant) {
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
                    o.wire = r.file_id;
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
                if let Some(o) = self.opens.get_mut(&file) {
                    if let Ok((t, flight)) = o.machine.finish(OpenState::Lost) {
                        self.stats.opens_lost += 1;
                        self.emit(t);
                        let lost = OpError {
                            kind: ErrorKind::InvalidHandle,
                            status,
                            command: Some(Command::Create),
                            context: Some(String::from(
                                "the durable handle could not be reclaimed after the connection \
                                 was lost (the file may have changed); open it again",
                            )),
                        };
                        for w in flight.waiters {
                            self.complete(w, Err(lost.clone()));
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
