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

#[cold]
pub(super) fn unreachable_msg() -> OutMsg {
    OutMsg {
        msg: Vec::new(),
        data: None,
        command: Command::Echo,
        recv_len: 0,
        part: Part::Internal,
        sign: false,
        encrypt: false,
        related: false,
    }
}

impl Client {
    pub(super) fn header(&self, command: Command, tree_id: u32) -> Header {
        let mut h = Header::request(command);
        h.session_id = self.session.id;
        h.id = HeaderId::Sync {
            process_id: 0xFEFF,
            tree_id,
        };
        h
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
        let tree_encrypt = self
            .trees
            .values()
            .any(|t| t.wire_id == tree_wire && t.encrypt && tree_wire != 0);
        let encrypt = sec.is_some_and(|s| s.encryptor.is_some() && (s.encrypt_all || tree_encrypt))
            && !matches!(command, Command::Negotiate | Command::SessionSetup);
        let signing_ok = sec.is_some_and(|s| s.signer.is_some());
        // [MS-SMB2] 3.2.4.1.1: sign when the session requires it; 3.1.1 TREE_CONNECT is
        // always signed (peer-lessons #6). Encrypted messages are not signed.
        let sign = !encrypt
            && signing_ok
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
        }
    }

    /// Give the messages ids and credits, sign, chain, encrypt and emit them as one frame.
    pub(super) fn transmit(
        &mut self,
        ch: ChannelId,
        op: Option<OpId>,
        mut msgs: Vec<OutMsg>,
        _deadline: Option<Instant>,
    ) -> Result<(), SendBlock> {
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return Err(SendBlock::Channel);
        };
        if !c.connected {
            return Err(SendBlock::Channel);
        }
        let charges: SmallVec<[u16; 4]> = msgs
            .iter()
            .map(|m| {
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
        let preauth_311 = c.neg.as_ref().is_none_or(|n| n.dialect == Dialect::Smb311);
        for (m, charge) in msgs.iter_mut().zip(charges.iter()) {
            let Some(res) = c.credits.reserve(*charge) else {
                return Err(SendBlock::Credits);
            };
            put16(&mut m.msg, H_CREDIT_CHARGE, res.header_charge);
            put16(&mut m.msg, H_CREDITS, res.credit_request);
            put64(&mut m.msg, H_MESSAGE_ID, res.message_id);
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
                },
            );
            if let Some(id) = op {
                if let Some(o) = self.ops.get_mut(&id) {
                    o.in_flight.push((ch, res.message_id));
                }
            }
        }
        // Pre-auth integrity (3.1.1): hash NEGOTIATE and SESSION_SETUP requests as sent.
        for m in &msgs {
            if preauth_311 {
                match m.command {
                    Command::Negotiate => {
                        c.preauth = PreauthHash::new();
                        c.preauth.update(&m.msg);
                    }
                    Command::SessionSetup => self.session.preauth.update(&m.msg),
                    _ => {}
                }
            }
        }
        self.stats.requests_sent += msgs.len() as u64;
        let encrypt = msgs.iter().any(|m| m.encrypt);
        // Build the frame.
        let mut chunks: SmallVec<[Bytes; 2]> = SmallVec::new();
        if msgs.len() == 1 {
            let m = msgs.pop().unwrap_or_else(unreachable_msg);
            let mut msg = m.msg;
            if m.sign {
                if let Some(s) = self
                    .session
                    .security
                    .as_ref()
                    .and_then(|s| s.signer.as_ref())
                {
                    let rest: SmallVec<[&[u8]; 1]> = m.data.iter().map(|d| &d[..]).collect();
                    if s.sign_parts(&mut msg, &rest).is_ok() {
                        self.stats.signed_sent += 1;
                    }
                }
            }
            if encrypt {
                let parts: SmallVec<[&[u8]; 2]> = core::iter::once(&msg[..])
                    .chain(m.data.iter().map(|d| &d[..]))
                    .collect();
                match self.seal(&parts) {
                    Some(f) => chunks.push(Bytes::from(f)),
                    None => return Err(SendBlock::Channel),
                }
            } else {
                let len = msg.len() + m.data.as_ref().map_or(0, |d| d.len());
                let Ok(prefix) = framing::prefix(len) else {
                    return Err(SendBlock::Channel);
                };
                let mut head = Vec::with_capacity(PREFIX_LEN + msg.len());
                head.extend_from_slice(&prefix);
                head.extend_from_slice(&msg);
                chunks.push(Bytes::from(head));
                if let Some(d) = m.data {
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
            if let Some(s) = self
                .session
                .security
                .as_ref()
                .and_then(|s| s.signer.as_ref())
            {
                for (range, m) in chain.messages.clone().into_iter().zip(msgs.iter()) {
                    if m.sign && s.sign(&mut chain.bytes[range]).is_ok() {
                        self.stats.signed_sent += 1;
                    }
                }
            }
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
        self.out.push_back(Output::Transmit {
            channel: ch,
            frame: Frame::from_chunks(chunks),
        });
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

    /// Send CANCEL for every message of `op` still in flight ([MS-SMB2] 3.2.4.24).
    pub(super) fn send_cancels(&mut self, op: OpId) {
        let Some(o) = self.ops.get(&op) else {
            return;
        };
        let targets = o.in_flight.clone();
        for (ch, mid) in targets {
            let Some(p) = self.channel(ch).and_then(|c| c.pending.get(&mid)) else {
                continue;
            };
            let mut h = self.header(Command::Cancel, 0);
            h.message_id = mid;
            if let Some(a) = p.async_id {
                h.id = HeaderId::Async { async_id: a };
            }
            let msg = encode_msg(&h, &crate::wire::cancel::CancelRequest);
            let m = self.out_msg(msg, None, Command::Cancel, 0, Part::Internal, 0);
            // CANCEL takes no credit and no new MessageId: framed directly.
            let mut msg = m.msg;
            if m.sign {
                if let Some(s) = self
                    .session
                    .security
                    .as_ref()
                    .and_then(|s| s.signer.as_ref())
                {
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
        let m = OutMsg {
            msg,
            data: None,
            command,
            recv_len: 0,
            part,
            sign: false,
            encrypt: false,
            related: false,
        };
        if self.transmit(ch, None, Vec::from([m]), None).is_err() {
            self.fail_channel(ch, ChannelError::CreditsStalled, now);
        }
    }
}
