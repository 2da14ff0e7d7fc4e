//! The receive path: frames in, decryption and verification, dispatch to the request each response answers.

use super::*;

impl Client {
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
    pub(super) fn note_traffic(&mut self, ch: ChannelId, now: Instant) -> bool {
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
    pub(super) fn after_traffic(&mut self, ch: ChannelId, now: Instant) {
        if let Some(c) = self.channels.get_mut(ch.0 as usize) {
            if !c.awaiting() {
                c.waiting_since = None;
            }
        }
        self.pump(now);
    }

    pub(super) fn process_frame(&mut self, ch: ChannelId, frame: BytesMut, now: Instant) {
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

    pub(super) fn open_transform(&mut self, mut buf: BytesMut) -> Result<Bytes, ChannelError> {
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

    pub(super) fn handle_message(
        &mut self,
        ch: ChannelId,
        msg: Bytes,
        encrypted: bool,
        now: Instant,
    ) {
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
    pub(super) fn close_orphaned_open(&mut self, ch: ChannelId, hdr: &Header, msg: &Bytes) {
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
}
