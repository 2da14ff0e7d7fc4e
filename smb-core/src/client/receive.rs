//! The receive path: frames in, decryption and verification, then credits and dispatch.
//!
//! Nothing received is acted on before it is verified ([MS-SMB2] 3.2.5.1): a TRANSFORM is
//! checked (Flags, SessionId, size) and decrypted; every message is matched to the request
//! it answers, and the protection that request asked for (see [`Expect`]) is enforced: an
//! encrypted request's answer must come encrypted, a signed session's answer signed with the
//! channel's key. Only then are credits granted, interim AsyncIds recorded and the response
//! dispatched. STATUS_PENDING interims and break notifications (MessageId
//! 0xFFFFFFFFFFFFFFFF) may come unsigned; when they carry a signature it is verified too.

use super::*;

impl Client {
    /// Bytes arrived on `ch` (any split: partial frames are buffered).
    pub fn handle_input(&mut self, ch: ChannelId, data: &[u8], now: Instant) {
        if !self.note_traffic(ch, now) {
            return;
        }
        if let Some(c) = self.channels.get_mut(&ch) {
            c.bytes_received += data.len() as u64;
            c.reader.push(data);
        }
        loop {
            let next = match self.channels.get_mut(&ch) {
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
    /// [`FrameReader`] reading straight into its buffer):
    /// the frame is handed over as its own `BytesMut`, so nothing is copied on the way in and
    /// an encrypted frame is decrypted where it lies. Use either this or
    /// [`Client::handle_input`] on a channel, not both.
    pub fn handle_frame(&mut self, ch: ChannelId, frame: BytesMut, now: Instant) {
        if !self.note_traffic(ch, now) {
            return;
        }
        if let Some(c) = self.channels.get_mut(&ch) {
            c.bytes_received += (PREFIX_LEN + frame.len()) as u64;
        }
        self.process_frame(ch, frame, now);
        self.after_traffic(ch, now);
    }

    /// The byte stream of `ch` cannot be cut into frames (bad prefix, frame too long): the
    /// channel is failed with [`ChannelError::Malformed`] (or [`ChannelError::NotSmb2`] when
    /// nothing SMB2 was ever heard on it: an HTTP or SMB1-only server on the port).
    pub fn handle_framing_error(&mut self, ch: ChannelId, e: DecodeError, now: Instant) {
        self.last_now = now;
        if !self.channels.contains_key(&ch) {
            self.stats.stale_inputs += 1;
            return;
        }
        self.stats.malformed += 1;
        let heard = self.channels.get(&ch).is_some_and(|c| c.heard_smb2);
        let err = if heard {
            ChannelError::Malformed(e)
        } else {
            ChannelError::NotSmb2("the reply is not an SMB2 frame")
        };
        self.fail_login_or_channel(ch, err, now);
    }

    /// A protocol failure on `ch`: before the first login it ends the login with that error;
    /// afterwards it fails (and replaces) the channel.
    fn fail_login_or_channel(&mut self, ch: ChannelId, err: ChannelError, now: Instant) {
        if !self.session.established_once && self.session.machine.state() == SessionState::InSetup {
            self.fail_connect(OpError::from(err), now);
        } else {
            self.fail_channel(ch, err, now);
        }
    }

    /// Bookkeeping for bytes received on `ch`; false if the channel is not connected (input
    /// for a channel that is gone is dropped and counted).
    pub(super) fn note_traffic(&mut self, ch: ChannelId, now: Instant) -> bool {
        self.last_now = now;
        match self.channels.get_mut(&ch) {
            Some(c) if c.connected => {
                c.last_traffic = now;
                // The server is alive: restart the silence clock.
                if c.waiting_since.is_some() {
                    c.waiting_since = Some(now);
                }
                true
            }
            _ => {
                self.stats.stale_inputs += 1;
                false
            }
        }
    }

    /// After received frames were processed: stop the silence clock when nothing is awaited
    /// and send what the new credits allow.
    pub(super) fn after_traffic(&mut self, ch: ChannelId, now: Instant) {
        if let Some(c) = self.channels.get_mut(&ch) {
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
                let heard = self.channels.get(&ch).is_some_and(|c| c.heard_smb2);
                let err = if heard {
                    ChannelError::Malformed(e)
                } else {
                    ChannelError::NotSmb2("the reply is not SMB2")
                };
                return self.fail_login_or_channel(ch, err, now);
            }
        };
        let (plain, encrypted) = match kind {
            ProtocolKind::Smb2 => (frame.freeze(), false),
            ProtocolKind::Transform => match self.open_transform(frame) {
                Ok(p) => (p, true),
                Err(e) => {
                    self.stats.malformed += 1;
                    return self.fail_login_or_channel(ch, e, now);
                }
            },
            ProtocolKind::Compression => {
                let e =
                    ChannelError::Protocol("compressed message (compression was not negotiated)");
                return self.fail_login_or_channel(ch, e, now);
            }
            ProtocolKind::Smb1 => {
                let e = ChannelError::NotSmb2("the server answered with SMB1");
                return self.fail_login_or_channel(ch, e, now);
            }
        };
        let ranges = match split_chain(&plain) {
            Ok(r) => r,
            Err(e) => {
                self.stats.malformed += 1;
                return self.fail_login_or_channel(ch, ChannelError::Malformed(e), now);
            }
        };
        if let Some(c) = self.channels.get_mut(&ch) {
            c.heard_smb2 = true;
        }
        for r in ranges {
            if !self.channels.get(&ch).is_some_and(|c| c.connected) {
                return;
            }
            let msg = plain.slice(r);
            // [MS-SMB2] 3.2.5.1.1.1: every message inside a TRANSFORM belongs to its session.
            if encrypted && crate::wire::header::session_id_of(&msg) != Some(self.session.id) {
                return self.fail_channel(
                    ch,
                    ChannelError::BadTransform("the message inside names another session"),
                    now,
                );
            }
            if let Err(e) = self.handle_message(ch, msg, encrypted, now) {
                self.stats.malformed += 1;
                return self.fail_channel(ch, e, now);
            }
        }
    }

    /// Check and decrypt a TRANSFORM in place ([MS-SMB2] 3.2.5.1.1.1).
    pub(super) fn open_transform(&mut self, mut buf: BytesMut) -> Result<Bytes, ChannelError> {
        let frame = &buf[..];
        let th = TransformHeader::decode(frame).map_err(ChannelError::Malformed)?;
        let Some(dec) = self
            .session
            .security
            .as_ref()
            .and_then(|s| s.decryptor.as_ref())
        else {
            return Err(ChannelError::Protocol(
                "encrypted message but no encryption was negotiated",
            ));
        };
        // Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2): 0x0001, encrypted.
        if th.flags != 1 {
            return Err(ChannelError::BadTransform(
                "Flags is not 0x0001 (encrypted)",
            ));
        }
        if th.session_id != self.session.id {
            return Err(ChannelError::BadTransform(
                "the header names another session",
            ));
        }
        if th.original_message_size as usize != frame.len().saturating_sub(TRANSFORM_HEADER_LEN) {
            return Err(ChannelError::BadTransform(
                "OriginalMessageSize does not match the frame",
            ));
        }
        // peer-lessons #5: decrypt in place, in the frame's own region of the receive buffer.
        let (head, body) = buf.split_at_mut(TRANSFORM_HEADER_LEN);
        dec.open(head, body)
            .map_err(|_| ChannelError::DecryptFailed)?;
        Ok(buf.freeze().slice(TRANSFORM_HEADER_LEN..))
    }

    /// Verify the signature of a plaintext message with `ch`'s key.
    fn verify(&mut self, ch: ChannelId, msg: &Bytes, command: Command) -> Result<(), ChannelError> {
        match self.signer_for(ch).map(|s| s.verify(msg).is_ok()) {
            Some(true) => {
                self.stats.verified_responses += 1;
                Ok(())
            }
            Some(false) => Err(ChannelError::BadSignature(command)),
            // A signature we have no key for (before the session exists): not trusted,
            // not used either.
            None => Ok(()),
        }
    }

    /// One message (a whole frame or a compound member). An error fails the channel.
    pub(super) fn handle_message(
        &mut self,
        ch: ChannelId,
        msg: Bytes,
        encrypted: bool,
        now: Instant,
    ) -> Result<(), ChannelError> {
        let hdr = Header::decode(&msg).map_err(ChannelError::Malformed)?;
        if !hdr.is_response() {
            return Err(ChannelError::Protocol("request from the server"));
        }
        self.stats.responses_received += 1;
        let signed = hdr.flags.has(HeaderFlags::SIGNED);
        if hdr.message_id == u64::MAX {
            if hdr.command != Command::OplockBreak {
                return Err(ChannelError::Protocol("unsolicited message"));
            }
            // Break notifications may be unsigned ([MS-SMB2] 3.2.5.1.3); a signature that
            // is there must verify before the break is acted on.
            if signed && !encrypted {
                self.verify(ch, &msg, hdr.command)?;
            }
            self.on_break(ch, &msg, now);
            return Ok(());
        }
        let Some(p) = self
            .channels
            .get(&ch)
            .and_then(|c| c.pending.get(&hdr.message_id))
        else {
            self.stats.unknown_responses += 1;
            self.out.push_back(Output::Event(Event::Dropped {
                channel: ch,
                message_id: hdr.message_id,
            }));
            return Ok(());
        };
        if p.command != hdr.command {
            return Err(ChannelError::Protocol(
                "response command does not match the request",
            ));
        }
        let interim = hdr.status == NtStatus::PENDING && hdr.is_async();
        // [MS-SMB2] 3.2.5.1.3: the protection is the one the request asked for.
        match p.expect {
            // SESSION_SETUP answers are verified with the keys of their exchange once they
            // exist (establish, verify_reauth, bind_keys / verify_bind_leg).
            _ if p.part == Part::SessionSetup => {}
            Expect::Encrypted if !encrypted => return Err(ChannelError::Unencrypted(hdr.command)),
            Expect::Encrypted => {}
            Expect::Signed if encrypted => {}
            Expect::Signed if signed => self.verify(ch, &msg, hdr.command)?,
            Expect::Signed if interim => {}
            // Servers answer STATUS_NETWORK_SESSION_EXPIRED unsigned (the session's key has
            // expired; Samba does, so a signed 3.1.1 session would fail at every expiry). Its
            // only effect is a re-authentication, whose final response is verified, and the
            // request going out again: nothing from this response reaches the caller.
            Expect::Signed if hdr.status == NtStatus::NETWORK_SESSION_EXPIRED => {}
            Expect::Signed => return Err(ChannelError::Unsigned(hdr.command)),
            // The SESSION_SETUP exchange is verified once its keys exist (establish).
            Expect::Nothing if signed && !encrypted && hdr.command != Command::SessionSetup => {
                self.verify(ch, &msg, hdr.command)?
            }
            Expect::Nothing => {}
        }
        // Verified: now credits and dispatch.
        let Some(c) = self.channels.get_mut(&ch) else {
            return Ok(());
        };
        // peer-lessons #2: every response grants credits, interim ones included.
        c.credits.grant(hdr.credits);
        if interim {
            // [MS-SMB2] 3.2.5.1.5: interim response; keep the AsyncId for CANCEL.
            if let Some(p) = c.pending.get_mut(&hdr.message_id) {
                p.async_id = hdr.async_id();
            }
            self.stats.interim_responses += 1;
            return Ok(());
        }
        let Some(p) = c.pending.remove(&hdr.message_id) else {
            return Ok(());
        };
        c.credits.release(&p.res);
        if let Some(op) = p.op {
            if let Some(o) = self.ops.get_mut(&op) {
                o.in_flight.retain(|x| *x != (ch, hdr.message_id));
            }
        }
        match p.part {
            Part::Negotiate => self.on_negotiate(ch, &hdr, &msg, now),
            Part::SessionSetup => self.on_session_setup(ch, &hdr, &msg, now),
            Part::Internal => {}
            Part::Validate => {
                if let Some(op) = p.op {
                    self.on_validate(ch, op, &hdr, &msg, encrypted, now);
                }
            }
            Part::Reopen => {
                if let Some(op) = p.op {
                    self.on_reopen(op, &hdr, &msg, now);
                }
            }
            Part::Interfaces => self.on_interfaces(&hdr, &msg, now),
            part => match p.op {
                Some(op) => {
                    if let Err(e) = self.on_op_response(ch, op, part, &hdr, &msg, now) {
                        // The operation that got the broken answer fails with it (not with
                        // the channel's loss: it must not be sent again).
                        let err = OpError::new(ErrorKind::Protocol(MALFORMED))
                            .with_command(hdr.command)
                            .with_context(alloc::format!("{e}"));
                        self.complete(op, Err(err));
                        return Err(e);
                    }
                }
                // Nobody waits for a lone CREATE any more, but it succeeded: close the
                // handle rather than leave it open on the server. (A compound's CREATE
                // carries its own CLOSE.)
                None if part == Part::Whole
                    && hdr.command == Command::Create
                    && hdr.status == NtStatus::SUCCESS =>
                {
                    self.close_orphaned_open(ch, &hdr, &msg, p.tree_wire)
                }
                None => {}
            },
        }
        Ok(())
    }

    /// Close the handle a successful CREATE opened for an operation that was cancelled or
    /// timed out ([MS-SMB2] 3.2.4.5), on the tree the CREATE was sent to.
    pub(super) fn close_orphaned_open(
        &mut self,
        ch: ChannelId,
        _hdr: &Header,
        msg: &Bytes,
        tree: u32,
    ) {
        let Ok(created) = crate::wire::create::CreateResponse::decode(msg) else {
            return;
        };
        let req = crate::wire::close::CloseRequest {
            flags: crate::wire::close::CloseFlags(0),
            file_id: created.file_id,
        };
        let msg = encode_msg(&self.header(Command::Close, tree), &req);
        let m = self.out_msg(msg, None, Command::Close, 0, Part::Internal, tree);
        if self.transmit(ch, None, Vec::from([m])).is_ok() {
            self.stats.orphaned_opens_closed += 1;
        }
    }
}
