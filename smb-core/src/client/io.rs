//! READ and WRITE of any length: cut to the server's limits and the credits, pipelined, reassembled in order.

use super::*;

impl Io {
    pub(super) fn new(file: FileHandle, offset: u64, len: u64, data: Bytes) -> Io {
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

impl Client {
    pub(super) fn advance_io(&mut self, op: OpId, ch: ChannelId) -> Result<bool, SendBlock> {
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

    pub(super) fn maybe_finish_io(&mut self, op: OpId, _now: Instant) {
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
}
