//! READ and WRITE of any length: cut to the server's limits and the credits, pipelined,
//! reassembled in order.
//!
//! A short answer is not the end: a READ that returns fewer bytes than asked before the end
//! of the file is read again for the rest, and only STATUS_END_OF_FILE ends the file early;
//! a server that answers the same READ with no byte twice is broken (a protocol error, never
//! a silently shorter file). A WRITE acknowledged short is sent again for the rest. Pieces
//! lost with a connection are sent again after the recovery.
//!
//! On a named pipe (a tree of ShareType PIPE, [MS-SMB2] 2.2.10) there are no offsets and no
//! end of file: one READ returns at most one message, so a read is one request. A short
//! answer ends it (`eof` = the message ended), and STATUS_BUFFER_OVERFLOW is data: the
//! message goes on and the next READ returns the rest ([MS-SMB2] 3.3.5.12, `eof` false).

use super::*;

/// Consecutive zero-byte successful READ answers at one offset before the server is taken
/// for broken.
const MAX_EMPTY_READS: u32 = 2;

/// WRITE pieces of one operation replayed after STATUS_FILE_NOT_AVAILABLE before the status
/// is the answer, and the pause before each replay (growing to the cap). The server says it
/// while requests of an older ChannelSequence are still outstanding there ([MS-SMB2]
/// 3.3.5.2.10), e.g. those of a channel that was just lost.
const MAX_NOT_AVAILABLE: u32 = 64;
const NOT_AVAILABLE_DELAY: Duration = Duration::from_millis(10);
const NOT_AVAILABLE_DELAY_MAX: Duration = Duration::from_millis(250);

impl Io {
    pub(super) fn new(file: FileHandle, offset: u64, len: u64, data: Bytes) -> Io {
        Io {
            file,
            offset,
            len,
            issued: 0,
            outstanding: 0,
            again: Vec::new(),
            pieces: BTreeMap::new(),
            eof_at: None,
            empty_reads: 0,
            data,
            written: 0,
            not_available: 0,
            retry_at: None,
            error: None,
        }
    }

    /// A READ answer of `got` bytes to `asked`: more is an error recorded on the operation
    /// ([MS-SMB2] 3.2.5.10: more than asked would land in the wrong place).
    fn overrun(&mut self, got: u64, asked: u64) -> bool {
        if got <= asked {
            return false;
        }
        self.error.get_or_insert(
            OpError::new(ErrorKind::Protocol(
                "READ returned more data than asked for",
            ))
            .with_command(Command::Read),
        );
        true
    }

    /// Everything has been issued (or will not be).
    fn done_issuing(&self) -> bool {
        self.error.is_some()
            || (self.again.is_empty() && (self.eof_at.is_some() || self.issued >= self.len))
    }
}

impl Client {
    pub(super) fn advance_io(&mut self, op: OpId, first: ChannelId) -> Result<bool, SendBlock> {
        let (max_read, max_write) = self
            .neg()
            .map_or((65536, 65536), |n| (n.max_read, n.max_write));
        let cap = self.config.max_io_size;
        let mut ch = first;
        let mut sent_one = false;
        loop {
            // Every piece picks its channel (multichannel: pieces spread over the channels
            // with the most free credits; reassembly goes by offset, not by arrival).
            if sent_one {
                ch = self.pick_channel().unwrap_or(ch);
            }
            let Some(o) = self.ops.get(&op) else {
                return Ok(true);
            };
            let OpKind::Io(io, cmd) = &o.kind else {
                return Ok(true);
            };
            let cmd = *cmd;
            if io.done_issuing() {
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
            // Pieces to send again first (lost with a connection, or a short answer's tail).
            // Without multi-credit (no LARGE_MTU) one request carries at most 64 KiB
            // ([MS-SMB2] 3.2.4.1.5, 3.3.5.2.5), whatever MaxRead/WriteSize says.
            let max_piece = match self.channels.get(&ch) {
                Some(c) if !c.credits.multi_credit() => max_piece.min(65536),
                _ => max_piece,
            };
            let (rel, want, again) = match io.again.last() {
                Some(&(rel, len)) => (rel, u64::from(len).min(max_piece), true),
                None => (io.issued, (io.len - io.issued).min(max_piece), false),
            };
            let c = self.channels.get(&ch).ok_or(SendBlock::Channel)?;
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
            let file = io.file;
            let offset = io.offset + rel;
            let Some(wire) = self.opens.get(&file).map(|o| o.wire) else {
                self.complete(op, Err(OpError::new(ErrorKind::InvalidHandle)));
                return Ok(true);
            };
            let tree_wire = self.tree_wire_of_file(file);
            let pipe = self.is_pipe(file);
            let part = Part::Piece {
                rel,
                len: piece as u32,
            };
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
                self.out_msg(msg, None, Command::Read, piece, part, tree_wire)
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
                self.out_msg(msg, Some(data), Command::Write, 0, part, tree_wire)
            };
            // Only a piece sent before is a replay ([MS-SMB2] 3.2.4.1: REPLAY_OPERATION marks
            // a request sent again); new pieces go out plain, or a server still counting the
            // lost channel's requests refuses them (3.3.5.2.10).
            if let Some(o) = self.ops.get_mut(&op) {
                o.replay = again;
            }
            self.transmit(ch, Some(op), Vec::from([m]))?;
            sent_one = true;
            if let Some(Op {
                kind: OpKind::Io(io, _),
                ..
            }) = self.ops.get_mut(&op)
            {
                if again {
                    // A piece may be resent in smaller parts (fewer credits now).
                    if let Some(last) = io.again.last_mut() {
                        if u64::from(last.1) > piece {
                            last.0 += piece;
                            last.1 -= piece as u32;
                        } else {
                            io.again.pop();
                        }
                    }
                } else {
                    io.issued += piece;
                    if pipe {
                        // One request per pipe READ/WRITE: pieces have no offsets to order.
                        io.len = io.issued;
                    }
                }
                io.outstanding += 1;
            }
        }
    }

    /// Whether `f` is open on a named-pipe tree (IPC$).
    pub(super) fn is_pipe(&self, f: FileHandle) -> bool {
        self.opens
            .get(&f)
            .and_then(|o| self.trees.get(&o.tree))
            .is_some_and(|t| t.pipe)
    }

    pub(super) fn tree_wire_of_file(&self, f: FileHandle) -> u32 {
        self.opens
            .get(&f)
            .and_then(|o| self.trees.get(&o.tree))
            .map_or(0, |t| t.wire_id)
    }

    /// The answer to one READ or WRITE piece of `op` (at `rel`, `len` bytes asked).
    pub(super) fn on_io_piece(
        &mut self,
        op: OpId,
        rel: u64,
        len: u32,
        hdr: &Header,
        msg: &Bytes,
    ) -> Result<(), ChannelError> {
        let Some(Op {
            kind: OpKind::Io(io, cmd),
            ..
        }) = self.ops.get_mut(&op)
        else {
            return Ok(());
        };
        io.outstanding = io.outstanding.saturating_sub(1);
        let cmd = *cmd;
        let asked = u64::from(len);
        let file = io.file;
        if cmd == Command::Read
            && matches!(hdr.status, NtStatus::SUCCESS | NtStatus::BUFFER_OVERFLOW)
            && self.is_pipe(file)
        {
            return self.on_pipe_read(op, rel, asked, hdr.status, msg);
        }
        // [MS-SMB2] 3.2.5.12: on 3.x with multichannel or persistent handles, a WRITE
        // answered STATUS_FILE_NOT_AVAILABLE is replayed (REPLAY_OPERATION set).
        let replayable = self.neg().is_some_and(|n| {
            n.dialect.is_smb3()
                && n.capabilities & (Capabilities::MULTI_CHANNEL | Capabilities::PERSISTENT_HANDLES)
                    != 0
        });
        let now = self.last_now;
        let Some(Op {
            kind: OpKind::Io(io, _),
            replay,
            ..
        }) = self.ops.get_mut(&op)
        else {
            return Ok(());
        };
        if cmd == Command::Write
            && hdr.status == NtStatus::FILE_NOT_AVAILABLE
            && replayable
            && io.not_available < MAX_NOT_AVAILABLE
        {
            io.not_available += 1;
            let pause = (NOT_AVAILABLE_DELAY.as_nanos() * u64::from(io.not_available))
                .min(NOT_AVAILABLE_DELAY_MAX.as_nanos());
            io.retry_at = Some(now + Duration::from_nanos(pause));
            io.again.push((rel, len));
            *replay = true;
            return Ok(());
        }
        match (cmd, hdr.status) {
            (Command::Read, NtStatus::SUCCESS) => {
                let r = crate::wire::read::ReadResponse::decode(msg)
                    .map_err(ChannelError::Malformed)?;
                let got = r.data.len() as u64;
                if io.overrun(got, asked) {
                    return Ok(());
                }
                if got > 0 {
                    io.empty_reads = 0;
                    io.pieces.insert(rel, msg.slice_ref(r.data));
                } else {
                    io.empty_reads += 1;
                    if io.empty_reads >= MAX_EMPTY_READS {
                        io.error.get_or_insert(
                            OpError::new(ErrorKind::Protocol(
                                "the server answered READ with no data and no end of file",
                            ))
                            .with_command(Command::Read),
                        );
                        return Ok(());
                    }
                }
                if got < asked && io.eof_at.is_none_or(|e| e > rel + got) {
                    // A short read is not the end of the file: read the rest again; only
                    // STATUS_END_OF_FILE ends it.
                    io.again.push((rel + got, (asked - got) as u32));
                }
            }
            (Command::Read, NtStatus::END_OF_FILE) => {
                io.eof_at = Some(io.eof_at.map_or(rel, |e| e.min(rel)));
                // Nothing past the end of the file is worth asking for again.
                let end = rel;
                io.again.retain(|(r, _)| *r < end);
            }
            (Command::Write, NtStatus::SUCCESS) => {
                let r = crate::wire::write::WriteResponse::decode(msg)
                    .map_err(ChannelError::Malformed)?;
                let count = u64::from(r.count);
                if count > asked {
                    io.error.get_or_insert(
                        OpError::new(ErrorKind::Protocol(
                            "WRITE acknowledged more bytes than were sent",
                        ))
                        .with_command(Command::Write),
                    );
                    return Ok(());
                }
                io.written += count;
                if count == 0 {
                    io.empty_reads += 1;
                    if io.empty_reads >= MAX_EMPTY_READS {
                        io.error.get_or_insert(
                            OpError::new(ErrorKind::Protocol("the server wrote nothing"))
                                .with_command(Command::Write),
                        );
                        return Ok(());
                    }
                }
                if count < asked {
                    io.again.push((rel + count, (asked - count) as u32));
                }
            }
            (c, s) => {
                io.error.get_or_insert(OpError::from_status(s, c));
            }
        }
        Ok(())
    }

    /// A pipe READ's answer: what it holds is the whole result (see the module docs).
    fn on_pipe_read(
        &mut self,
        op: OpId,
        rel: u64,
        asked: u64,
        status: NtStatus,
        msg: &Bytes,
    ) -> Result<(), ChannelError> {
        let r = crate::wire::read::ReadResponse::decode(msg).map_err(ChannelError::Malformed)?;
        let Some(Op {
            kind: OpKind::Io(io, _),
            ..
        }) = self.ops.get_mut(&op)
        else {
            return Ok(());
        };
        let got = r.data.len() as u64;
        if io.overrun(got, asked) {
            return Ok(());
        }
        if got > 0 {
            io.pieces.insert(rel, msg.slice_ref(r.data));
        }
        io.len = rel + got;
        if status == NtStatus::SUCCESS {
            io.eof_at = Some(rel + got);
        }
        Ok(())
    }

    pub(super) fn maybe_finish_io(&mut self, op: OpId, _now: Instant) {
        let Some(Op {
            kind: OpKind::Io(io, cmd),
            ..
        }) = self.ops.get_mut(&op)
        else {
            return;
        };
        if io.outstanding > 0 || !io.done_issuing() {
            if !io.again.is_empty() || (io.error.is_none() && io.issued < io.len) {
                self.requeue(op);
            }
            return;
        }
        let cmd = *cmd;
        let result = if let Some(e) = io.error.take() {
            Err(e)
        } else if cmd == Command::Read {
            let end = io.eof_at.unwrap_or(io.len).min(io.len);
            let mut data = Vec::new();
            let mut pos = 0u64;
            for (rel, b) in core::mem::take(&mut io.pieces) {
                if pos >= end {
                    break;
                }
                if rel != pos {
                    // Pieces are requested until the range is whole; a hole means the
                    // server contradicted itself (END_OF_FILE before data it sent).
                    break;
                }
                let take = (b.len() as u64).min(end - pos);
                data.push(b.slice(..take as usize));
                pos += take;
            }
            if pos < end {
                Err(OpError::new(ErrorKind::Protocol(
                    "the server's READ answers left a hole in the file",
                ))
                .with_command(Command::Read))
            } else {
                Ok(Response::Read {
                    data,
                    eof: io.eof_at.is_some(),
                })
            }
        } else {
            Ok(Response::Written { count: io.written })
        };
        self.complete(op, result);
    }
}
