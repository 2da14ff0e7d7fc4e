//! The send path: message ids and credits, signing, compounding, encryption and framing.

use super::*;

/// One message ready to be given ids, signed and framed.
pub(super) struct OutMsg {
    pub(super) msg: Vec<u8>,
    pub(super) data: Option<Bytes>,
    pub(super) command: Command,
    pub(super) recv_len: u64,
    pub(super) part: Part,
    pub(super) sign: bool,
    pub(super) encrypt: bool,
    pub(super) related: bool,
    /// The wire TreeId the message carries.
    pub(super) tree_wire: u32,
}

/// Why a message could not be sent now.
pub(super) enum SendBlock {
    /// Not enough credits: try again when responses come back.
    Credits,
    /// The channel cannot send (not Good, or failed while sending).
    Channel,
}

/// Byte offsets inside a header.
pub(super) const H_CREDIT_CHARGE: usize = 6;
pub(super) const H_CREDITS: usize = 14;
pub(super) const H_FLAGS: usize = 16;
pub(super) const H_MESSAGE_ID: usize = 24;

pub(super) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub(super) fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub(super) fn encode_msg<B: Encode>(hdr: &Header, body: &B) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + 128);
    hdr.encode(&mut v);
    body.encode(&mut v);
    v
}

/// [MS-SMB2] 3.2.4.1.5: only READ, WRITE, IOCTL and QUERY_DIRECTORY are charged by their
/// payload; every other request costs one credit.
fn charged_by_payload(c: Command) -> bool {
    matches!(
        c,
        Command::Read | Command::Write | Command::Ioctl | Command::QueryDirectory
    )
}

impl Client {
    pub(super) fn header(&self, command: Command, tree_id: u32) -> Header {
        let mut h = Header::request(command);
        h.session_id = self.session.id;
        h.id = HeaderId::Sync {
            process_id: 0xFEFF,
            tree_id,
        };
        // [MS-SMB2] 3.2.4.1: on 3.x, requests carry Session.ChannelSequence, bumped after
        // every lost connection (3.2.7.1).
        if self.session.id != 0 && self.neg().is_some_and(|n| n.dialect.is_smb3()) {
            h.set_channel_sequence(self.session.channel_sequence);
        }
        h
    }

    /// The signing key for messages on `ch`: the channel's own (3.x binding), else the
    /// session's.
    pub(super) fn signer_for(&self, ch: ChannelId) -> Option<&Signer> {
        self.channels
            .get(&ch)
            .and_then(|c| c.signer.as_ref())
            .or(self.session.security.as_ref().map(|s| &s.signer))
    }

    pub(super) fn out_msg(
        &self,
        msg: Vec<u8>,
        data: Option<Bytes>,
        command: Command,
        recv_len: u64,
        part: Part,
        tree_wire: u32,
    ) -> OutMsg {
        let sec = self.session.security.as_ref();
        let encrypt = sec.is_some_and(|s| {
            s.encryptor.is_some() && (s.encrypt_all || self.tree_encrypts(tree_wire))
        }) && !matches!(command, Command::Negotiate | Command::SessionSetup);
        // [MS-SMB2] 3.2.4.1.1: sign when the session requires it; 3.1.1 TREE_CONNECT is
        // always signed (peer-lessons #6). Encrypted messages are not signed.
        let sign = !encrypt
            && sec.is_some()
            && (sec.is_some_and(|s| s.signing_required)
                || (command == Command::TreeConnect && self.dialect_u16() == 0x0311));
        OutMsg {
            msg,
            data,
            command,
            recv_len,
            part,
            sign,
            encrypt,
            related: false,
            tree_wire,
        }
    }

    /// TreeConnect.EncryptData of the tree with this wire id ([MS-SMB2] 3.2.4.1.8).
    pub(super) fn tree_encrypts(&self, tree_wire: u32) -> bool {
        tree_wire != 0
            && self
                .trees
                .values()
                .any(|t| t.wire_id == tree_wire && t.encrypt)
    }

    /// What the response to `m` must carry (see [`Expect`]).
    fn expectation(&self, m: &OutMsg) -> Expect {
        if m.encrypt {
            Expect::Encrypted
        } else if m.sign
            || self
                .session
                .security
                .as_ref()
                .is_some_and(|s| s.signing_required)
                && !matches!(m.command, Command::Negotiate | Command::SessionSetup)
        {
            Expect::Signed
        } else {
            Expect::Nothing
        }
    }

    /// Give the messages ids and credits, sign, chain, encrypt and emit them as one frame.
    /// Messages of an operation sent again after a lost connection are marked as replays.
    pub(super) fn transmit(
        &mut self,
        ch: ChannelId,
        op: Option<OpId>,
        mut msgs: Vec<OutMsg>,
    ) -> Result<(), SendBlock> {
        let replay = op.is_some_and(|o| self.ops.get(&o).is_some_and(|o| o.replay))
            && self.neg().is_some_and(|n| n.dialect.is_smb3());
        let expects: SmallVec<[Expect; 4]> = msgs.iter().map(|m| self.expectation(m)).collect();
        let Some(c) = self.channels.get_mut(&ch) else {
            return Err(SendBlock::Channel);
        };
        if !c.connected {
            return Err(SendBlock::Channel);
        }
        let charges: SmallVec<[u16; 4]> = msgs
            .iter()
            .map(|m| {
                if !charged_by_payload(m.command) {
                    return 1;
                }
                // [MS-SMB2] 3.2.4.1.5: the payload is the data for READ/WRITE-like
                // messages, else the body.
                let send = match &m.data {
                    Some(d) => d.len() as u64,
                    None => (m.msg.len() - HEADER_LEN) as u64,
                };
                c.credits.charge_for(send, m.recv_len)
            })
            .collect();
        let total: u32 = charges.iter().map(|x| u32::from(*x)).sum();
        if c.credits.available() < total {
            return Err(SendBlock::Credits);
        }
        // Backpressure: at most `max_in_flight` unanswered requests per connection (a
        // frame is always allowed on an idle one); the rest wait in the queue and go out as
        // answers come back, like requests waiting for credits ([MS-SMB2] 3.2.4.1.5).
        if !c.pending.is_empty() && c.pending.len() + msgs.len() > self.config.max_in_flight {
            return Err(SendBlock::Credits);
        }
        let preauth_311 = c.neg.as_ref().is_none_or(|n| n.dialect == Dialect::Smb311);
        for ((m, charge), expect) in msgs.iter_mut().zip(charges.iter()).zip(expects) {
            let Some(res) = c.credits.reserve(*charge) else {
                return Err(SendBlock::Credits);
            };
            put16(&mut m.msg, H_CREDIT_CHARGE, res.header_charge);
            put16(&mut m.msg, H_CREDITS, res.credit_request);
            put64(&mut m.msg, H_MESSAGE_ID, res.message_id);
            if replay && !matches!(m.command, Command::Negotiate | Command::SessionSetup) {
                let flags = u32::from_le_bytes([
                    m.msg[H_FLAGS],
                    m.msg[H_FLAGS + 1],
                    m.msg[H_FLAGS + 2],
                    m.msg[H_FLAGS + 3],
                ]) | HeaderFlags::REPLAY_OPERATION;
                m.msg[H_FLAGS..H_FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
            }
            if c.waiting_since.is_none() {
                c.waiting_since = Some(self.last_now);
            }
            c.pending.insert(
                res.message_id,
                Pending {
                    op,
                    part: m.part,
                    command: m.command,
                    res,
                    async_id: None,
                    expect,
                    tree_wire: m.tree_wire,
                },
            );
            if let Some(id) = op {
                if let Some(o) = self.ops.get_mut(&id) {
                    o.in_flight.push((ch, res.message_id));
                }
            }
        }
        c.requests_sent += msgs.len() as u64;
        c.last_used = self.stats.requests_sent;
        if replay {
            self.stats.replayed += msgs.len() as u64;
        }
        self.stats.requests_sent += msgs.len() as u64;
        let encrypt = msgs.iter().any(|m| m.encrypt);
        // Build the frame.
        let mut chunks: SmallVec<[Bytes; 2]> = SmallVec::new();
        if let [m] = &mut msgs[..] {
            let data = m.data.take();
            if m.sign {
                let rest: SmallVec<[&[u8]; 1]> = data.iter().map(|d| &d[..]).collect();
                if self
                    .signer_for(ch)
                    .is_some_and(|s| s.sign_parts(&mut m.msg, &rest).is_ok())
                {
                    self.stats.signed_sent += 1;
                }
            }
            if encrypt {
                let parts: SmallVec<[&[u8]; 2]> = core::iter::once(&m.msg[..])
                    .chain(data.iter().map(|d| &d[..]))
                    .collect();
                match self.seal(&parts) {
                    Some(f) => chunks.push(Bytes::from(f)),
                    None => return Err(SendBlock::Channel),
                }
            } else {
                let len = m.msg.len() + data.as_ref().map_or(0, |d| d.len());
                let Ok(prefix) = framing::prefix(len) else {
                    return Err(SendBlock::Channel);
                };
                let mut head = Vec::with_capacity(PREFIX_LEN + m.msg.len());
                head.extend_from_slice(&prefix);
                head.extend_from_slice(&m.msg);
                chunks.push(Bytes::from(head));
                if let Some(d) = data {
                    if !d.is_empty() {
                        chunks.push(d);
                    }
                }
            }
        } else {
            // A compound: one contiguous buffer (small messages), each signed on its range.
            let joined: Vec<Vec<u8>> = msgs
                .iter()
                .map(|m| {
                    let mut v = m.msg.clone();
                    if let Some(d) = &m.data {
                        v.extend_from_slice(d);
                    }
                    v
                })
                .collect();
            let parts: Vec<ChainPart<'_>> = joined
                .iter()
                .zip(msgs.iter())
                .map(|(v, m)| ChainPart {
                    message: v,
                    related: m.related,
                })
                .collect();
            let Ok(mut chain) = build_chain(&parts) else {
                return Err(SendBlock::Channel);
            };
            let mut signed = 0;
            if let Some(s) = self.signer_for(ch) {
                for (range, m) in chain.messages.clone().into_iter().zip(msgs.iter()) {
                    if m.sign && s.sign(&mut chain.bytes[range]).is_ok() {
                        signed += 1;
                    }
                }
            }
            self.stats.signed_sent += signed;
            if encrypt {
                match self.seal(&[&chain.bytes]) {
                    Some(f) => chunks.push(Bytes::from(f)),
                    None => return Err(SendBlock::Channel),
                }
            } else {
                let Ok(prefix) = framing::prefix(chain.bytes.len()) else {
                    return Err(SendBlock::Channel);
                };
                let mut v = Vec::with_capacity(PREFIX_LEN + chain.bytes.len());
                v.extend_from_slice(&prefix);
                v.extend_from_slice(&chain.bytes);
                chunks.push(Bytes::from(v));
            }
        }
        if encrypt {
            self.stats.encrypted_sent += 1;
        }
        let frame = Frame::from_chunks(chunks);
        if let Some(c) = self.channels.get_mut(&ch) {
            c.bytes_sent += frame.len() as u64;
            // Pre-auth integrity (3.1.1): hash NEGOTIATE and SESSION_SETUP requests as sent
            // (signed, for a binding; these are never compounded).
            if preauth_311 {
                for m in &msgs {
                    match m.command {
                        Command::Negotiate => {
                            c.preauth = PreauthHash::new();
                            c.preauth.update(&m.msg);
                        }
                        Command::SessionSetup => {
                            if let Some(s) = c.setup.as_mut() {
                                s.preauth.update(&m.msg);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        self.out.push_back(Output::Transmit { channel: ch, frame });
        Ok(())
    }

    /// Encrypt `plain` (one message or chain, as consecutive parts) into a framed
    /// TRANSFORM message ([MS-SMB2] 3.2.4.1.8, 3.1.4.3).
    pub(super) fn seal(&mut self, plain: &[&[u8]]) -> Option<Vec<u8>> {
        let session_id = self.session.id;
        let sec = self.session.security.as_mut()?;
        let enc = sec.encryptor.as_ref()?;
        let total: usize = plain.iter().map(|p| p.len()).sum();
        let nonce = sec.nonces.next_nonce(enc.id()).ok()?;
        let th = TransformHeader {
            signature: [0; 16],
            nonce,
            original_message_size: u32::try_from(total).ok()?,
            flags: 1,
            session_id,
        };
        let prefix = framing::prefix(TRANSFORM_HEADER_LEN + total).ok()?;
        let mut buf = Vec::with_capacity(PREFIX_LEN + TRANSFORM_HEADER_LEN + total);
        buf.extend_from_slice(&prefix);
        th.encode(&mut buf);
        for p in plain {
            buf.extend_from_slice(p);
        }
        let (head, body) = buf[PREFIX_LEN..].split_at_mut(TRANSFORM_HEADER_LEN);
        enc.seal(head, body).ok()?;
        Some(buf)
    }

    /// Send CANCEL for every message of `op` still in flight ([MS-SMB2] 3.2.4.24): with the
    /// cancelled request's TreeId, and encrypted when that request was.
    pub(super) fn send_cancels(&mut self, op: OpId) {
        let Some(o) = self.ops.get(&op) else {
            return;
        };
        let targets = o.in_flight.clone();
        for (ch, mid) in targets {
            let Some(p) = self.channels.get(&ch).and_then(|c| c.pending.get(&mid)) else {
                continue;
            };
            let (async_id, tree_wire, was_encrypted) =
                (p.async_id, p.tree_wire, p.expect == Expect::Encrypted);
            let mut h = self.header(Command::Cancel, tree_wire);
            h.message_id = mid;
            if let Some(a) = async_id {
                h.id = HeaderId::Async { async_id: a };
            }
            let msg = encode_msg(&h, &crate::wire::cancel::CancelRequest);
            let mut m = self.out_msg(msg, None, Command::Cancel, 0, Part::Internal, tree_wire);
            if was_encrypted {
                m.encrypt = true;
                m.sign = false;
            }
            // CANCEL takes no credit and no new MessageId: framed directly.
            let mut msg = m.msg;
            if m.sign {
                if let Some(s) = self.signer_for(ch) {
                    let _ = s.sign(&mut msg);
                }
            }
            let frame = if m.encrypt {
                match self.seal(&[&msg]) {
                    Some(f) => f,
                    None => continue,
                }
            } else {
                match framing::frame(&msg) {
                    Ok(f) => f,
                    Err(_) => continue,
                }
            };
            let mut chunks = SmallVec::new();
            chunks.push(Bytes::from(frame));
            self.out.push_back(Output::Transmit {
                channel: ch,
                frame: Frame::from_chunks(chunks),
            });
        }
    }

    /// Send a NEGOTIATE or SESSION_SETUP message: unsigned, unencrypted, outside any
    /// operation; a channel that cannot even send it has stalled.
    pub(super) fn send_setup_message(
        &mut self,
        ch: ChannelId,
        command: Command,
        part: Part,
        msg: Vec<u8>,
        now: Instant,
    ) {
        // A binding SESSION_SETUP is signed with the session's key ([MS-SMB2] 3.2.4.2.3).
        let sign = command == Command::SessionSetup
            && self.channels.get(&ch).is_some_and(|c| c.binding)
            && self.session.security.is_some();
        let m = OutMsg {
            msg,
            data: None,
            command,
            recv_len: 0,
            part,
            sign,
            encrypt: false,
            related: false,
            tree_wire: 0,
        };
        if self.transmit(ch, None, Vec::from([m])).is_err() {
            self.fail_channel(ch, ChannelError::CreditsStalled, now);
        }
    }
}
