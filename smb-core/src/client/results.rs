//! Turning a verified response into the result of the operation it answers, and updating
//! trees and opens on the way.

use super::*;

/// A response body that does not decode: the operation fails and so does the channel
/// (the server is not speaking SMB2 correctly).
fn malformed(cmd: Command) -> impl Fn(DecodeError) -> OpError {
    move |_e: DecodeError| OpError::new(ErrorKind::Protocol(MALFORMED)).with_command(cmd)
}

/// The symbolic link error response of a STATUS_STOPPED_ON_SYMLINK answer ([MS-SMB2]
/// 2.2.2.2.1), if its ErrorData holds a well-formed one (a bad one is not an error of its
/// own: the status already says what happened).
fn symlink_error(msg: &[u8]) -> Option<crate::wire::error::SymlinkError> {
    use crate::wire::error::{ErrorDetail, ErrorResponse};
    match ErrorResponse::decode(msg)
        .ok()?
        .detail(NtStatus::STOPPED_ON_SYMLINK)
    {
        Ok(ErrorDetail::Symlink(s)) => Some(s),
        _ => None,
    }
}

fn is_malformed(r: &Result<Response, OpError>) -> bool {
    matches!(
        r,
        Err(OpError {
            kind: ErrorKind::Protocol(MALFORMED),
            ..
        })
    )
}

impl Client {
    /// The final response to a message of `op`. An error return fails the channel.
    pub(super) fn on_op_response(
        &mut self,
        ch: ChannelId,
        op: OpId,
        part: Part,
        hdr: &Header,
        msg: &Bytes,
        now: Instant,
    ) -> Result<(), ChannelError> {
        let tree = self.op_tree(op);
        if self.status_recovers(ch, op, hdr.status, tree, now) {
            // Not carried out by the server: send it again once the object is back.
            if let Some(o) = self.ops.get_mut(&op) {
                if let (OpKind::Io(io, _), Part::Piece { rel, len }) = (&mut o.kind, part) {
                    io.outstanding = io.outstanding.saturating_sub(1);
                    io.again.push((rel, len));
                }
                if let OpKind::Compound { results, .. } = &mut o.kind {
                    if !o.in_flight.is_empty() {
                        return Ok(());
                    }
                    for r in results.iter_mut() {
                        *r = None;
                    }
                }
            }
            self.requeue(op);
            return Ok(());
        }
        let Some(o) = self.ops.get_mut(&op) else {
            return Ok(());
        };
        match (&mut o.kind, part) {
            (OpKind::Io(_, _), Part::Piece { rel, len }) => {
                self.on_io_piece(op, rel, len, hdr, msg)?;
                self.maybe_finish_io(op, now);
            }
            (OpKind::Tcon { tree, .. }, Part::Whole) => {
                let tree = *tree;
                match self.parse_tcon(tree, hdr, msg)? {
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
            (OpKind::Single(req), Part::Whole) => {
                let req = req.clone();
                let memo = o.create.take();
                let r = self.parse(&req, hdr, msg, None, memo);
                let bad = is_malformed(&r);
                self.complete(op, r);
                if bad {
                    return Err(ChannelError::Protocol("malformed response body"));
                }
            }
            (OpKind::Compound { reqs, created, .. }, Part::Member(i)) => {
                let (req, created) = (reqs.get(i).cloned(), *created);
                let Some(req) = req else { return Ok(()) };
                let r = self.parse(&req, hdr, msg, created, None);
                let bad = is_malformed(&r);
                let Some(o) = self.ops.get_mut(&op) else {
                    return Ok(());
                };
                if let OpKind::Compound {
                    results, created, ..
                } = &mut o.kind
                {
                    if let Ok(Response::Created { file, .. }) = &r {
                        *created = Some(*file);
                    }
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(r);
                    }
                    if results.iter().all(|x| x.is_some()) {
                        let all: Vec<Result<Response, OpError>> =
                            core::mem::take(results).into_iter().flatten().collect();
                        self.complete(op, Ok(Response::Compound(all)));
                    }
                }
                if bad {
                    return Err(ChannelError::Protocol("malformed response body"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Turn a response into a [`Response`], updating trees and opens.
    pub(super) fn parse(
        &mut self,
        req: &Request,
        hdr: &Header,
        msg: &Bytes,
        related_file: Option<FileHandle>,
        memo: Option<CreateMemo>,
    ) -> Result<Response, OpError> {
        let status = hdr.status;
        let cmd = hdr.command;
        let malformed = malformed(cmd);
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
            let mut e = OpError::from_status(status, cmd);
            if status == NtStatus::STOPPED_ON_SYMLINK {
                e.symlink = symlink_error(msg).map(alloc::boxed::Box::new);
            }
            return Err(e);
        }
        match req {
            Request::TreeConnect { .. } => Err(OpError::new(ErrorKind::Protocol("tree connect"))),
            Request::TreeDisconnect { tree } => {
                if let Some(mut t) = self.trees.remove(tree) {
                    let r = t.machine.set(TreeState::Exiting);
                    self.emit_opt(r);
                }
                Ok(Response::TreeDisconnected)
            }
            Request::Create {
                tree,
                path,
                options,
            } => {
                let r = CreateResponse::decode(msg).map_err(malformed)?;
                // A compound member's CREATE asked for no durable handle of its own.
                let memo = memo.unwrap_or_else(|| CreateMemo {
                    path: path.clone(),
                    options: options.clone(),
                    create_guid: None,
                    lease_key: None,
                    lease_state: 0,
                    durable_v1: false,
                });
                Ok(self.record_open(*tree, &r, memo))
            }
            Request::Close { file } => {
                let _ = CloseResponse::decode(msg).map_err(malformed)?;
                let f = if *file == FileHandle::RELATED {
                    related_file
                } else {
                    Some(*file)
                };
                if let Some(f) = f {
                    // A closed handle is simply gone; no transition.
                    self.opens.remove(&f);
                    self.entered.remove(&ObjectRef::Open(f));
                }
                Ok(Response::Closed)
            }
            Request::Flush { .. } => Ok(Response::Flushed),
            Request::Read { len, .. } => {
                let r = crate::wire::read::ReadResponse::decode(msg).map_err(malformed)?;
                // [MS-SMB2] 3.2.5.10: never more than was asked for.
                if r.data.len() as u64 > u64::from(*len) {
                    return Err(OpError::new(ErrorKind::Protocol(
                        "READ returned more data than asked for",
                    ))
                    .with_command(cmd));
                }
                let data = msg.slice_ref(r.data);
                let eof = (data.len() as u64) < u64::from(*len);
                Ok(Response::Read {
                    data: Vec::from([data]),
                    eof,
                })
            }
            Request::Write { data, .. } => {
                let r = crate::wire::write::WriteResponse::decode(msg).map_err(malformed)?;
                if u64::from(r.count) > data.len() as u64 {
                    return Err(OpError::new(ErrorKind::Protocol(
                        "WRITE acknowledged more bytes than were sent",
                    ))
                    .with_command(cmd));
                }
                Ok(Response::Written {
                    count: u64::from(r.count),
                })
            }
            Request::QueryDirectory { class, .. } => {
                let r = crate::wire::query_directory::QueryDirectoryResponse::decode(msg)
                    .map_err(&malformed)?;
                let page = msg.slice_ref(r.buffer);
                let mut entries = Vec::new();
                for e in r.entries(crate::wire::fscc::FileInfoClass(*class)) {
                    let e = e.map_err(&malformed)?;
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
                    more: status == NtStatus::BUFFER_OVERFLOW,
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
                let r = self.session.machine.set(SessionState::Exiting);
                self.emit_opt(r);
                Ok(Response::LoggedOff)
            }
            Request::Compound(_) => Err(OpError::new(ErrorKind::Protocol("nested compound"))),
            Request::LeaseCache(_) => Err(OpError::new(ErrorKind::Protocol(
                "the lease cache is the driver's",
            ))),
            Request::LeaseBreakAck { .. } | Request::OplockBreakAck { .. } => {
                use crate::wire::oplock_break::OplockBreakMessage;
                match OplockBreakMessage::decode(msg).map_err(&malformed)? {
                    OplockBreakMessage::LeaseAck(a) => Ok(Response::BreakAcked {
                        state: a.lease_state.0,
                    }),
                    OplockBreakMessage::Oplock(b) => Ok(Response::BreakAcked {
                        state: u32::from(b.oplock_level.to_u8()),
                    }),
                    OplockBreakMessage::LeaseNotification(_) => {
                        Err(malformed(DecodeError::BadField {
                            field: "StructureSize",
                            value: 44,
                        }))
                    }
                }
            }
        }
    }

    /// A successful CREATE: a new open (with what a durable reopen needs).
    fn record_open(&mut self, tree: TreeId, r: &CreateResponse, memo: CreateMemo) -> Response {
        use crate::wire::create_context::{DurableHandleResponse, DurableHandleResponseV2, find};
        let file = FileHandle(self.next_file);
        self.next_file += 1;
        let lease = find::<Lease>(&r.contexts).and_then(|l| l.ok());
        let v2 = find::<DurableHandleResponseV2>(&r.contexts).is_some_and(|d| d.is_ok());
        let v1 = find::<DurableHandleResponse>(&r.contexts).is_some_and(|d| d.is_ok());
        let durable = match (v2, v1, memo.create_guid) {
            (true, _, Some(g)) => Some(Durable {
                v2: true,
                create_guid: g,
            }),
            (false, true, _) => Some(Durable {
                v2: false,
                create_guid: Guid::ZERO,
            }),
            _ => None,
        };
        let granted = durable.is_some();
        self.opens.insert(
            file,
            Open {
                machine: Machine::new(ObjectRef::Open(file), OpenState::Good),
                tree,
                wire: r.file_id,
                lease_key: lease.map(|l| l.key()),
                lease_state: lease.map_or(0, |l| l.state().0),
                durable,
                memo,
                reopen_tries: 0,
                reopen_retry_at: None,
                close_on_break: false,
            },
        );
        self.entered.insert(ObjectRef::Open(file), self.last_now);
        Response::Created {
            file,
            create_action: r.action.to_u32(),
            attributes: attrs_from_create(r),
            durable: granted,
            lease_state: lease.map_or(0, |l| l.state().0),
        }
    }
}
