//! NEGOTIATE ([MS-SMB2] 3.2.4.2.2, 3.2.5.2).

use super::*;

pub(super) fn wire_dialect(d: Dialect) -> u16 {
    d.to_u16()
}

pub(super) fn crypto_cipher(c: Cipher) -> Option<CipherId> {
    CipherId::from_wire_id(c.to_u16())
}

pub(super) fn crypto_signing(s: SigningAlgorithm) -> Option<crate::crypto::SigningAlgorithm> {
    crate::crypto::SigningAlgorithm::from_wire_id(s.to_u16())
}

pub(super) const ALL_DIALECTS: [Dialect; 5] = [
    Dialect::Smb202,
    Dialect::Smb210,
    Dialect::Smb300,
    Dialect::Smb302,
    Dialect::Smb311,
];

impl Client {
    pub(super) fn offered_dialects(&self) -> Vec<Dialect> {
        ALL_DIALECTS
            .iter()
            .copied()
            .filter(|d| *d >= self.config.min_dialect && *d <= self.config.max_dialect)
            .collect()
    }

    pub(super) fn start_negotiate(&mut self, ch: ChannelId, now: Instant) {
        let deadline = now + Duration::from_secs(20).min(self.config.request_timeout);
        let owner = match self.connect_op {
            Some(op) if !self.session.established_once => Owner::Op(op),
            _ => Owner::Internal,
        };
        let Some(c) = self.channels.get_mut(&ch) else {
            return;
        };
        match c.machine.begin(ChannelState::InNegotiate, owner, deadline) {
            Ok(t) => self.emit(t),
            Err(_) => return,
        }
        let dialects = self.offered_dialects();
        let smb3 = dialects.iter().any(|d| d.is_smb3());
        let mut caps = 0;
        if dialects.iter().any(|d| *d >= Dialect::Smb210) {
            caps |= Capabilities::LEASING | Capabilities::LARGE_MTU;
        }
        if smb3 {
            // peer-lessons #8: say that we can encrypt.
            caps |= Capabilities::ENCRYPTION;
            // Samba offers multichannel only to a client that says it can do it.
            if self.config.max_channels > 1 {
                caps |= Capabilities::MULTI_CHANNEL;
            }
        }
        let mut sm = SecurityMode::SIGNING_ENABLED;
        if self.config.require_signing {
            sm |= SecurityMode::SIGNING_REQUIRED;
        }
        let mut contexts = Vec::new();
        if dialects.contains(&Dialect::Smb311) {
            let mut salt = [0u8; 32];
            self.rng.fill_bytes(&mut salt);
            contexts.push(NegotiateContext::PreauthIntegrity {
                hash_algorithms: Vec::from([HashAlgorithm::Sha512]),
                salt: salt.to_vec(),
            });
            if !self.config.ciphers.is_empty() {
                contexts.push(NegotiateContext::Encryption {
                    ciphers: self.config.ciphers.clone(),
                });
            }
            if !self.config.signing_algorithms.is_empty() {
                contexts.push(NegotiateContext::Signing {
                    algorithms: self.config.signing_algorithms.clone(),
                });
            }
            if !self.server_name.is_empty() {
                contexts.push(NegotiateContext::NetName(self.server_name.clone()));
            }
        }
        if let Some(c) = self.channels.get_mut(&ch) {
            c.sent_neg = Some(crate::wire::ioctl::ValidateNegotiateInfoRequest {
                capabilities: caps,
                guid: self.client_guid,
                security_mode: sm,
                dialects: dialects.iter().map(|d| d.to_u16()).collect(),
            });
        }
        let req = NegotiateRequest {
            security_mode: SecurityMode(sm),
            capabilities: Capabilities(caps),
            client_guid: self.client_guid,
            dialects,
            contexts,
        };
        let mut hdr = Header::request(Command::Negotiate);
        hdr.session_id = 0;
        let msg = encode_msg(&hdr, &req);
        self.send_setup_message(ch, Command::Negotiate, Part::Negotiate, msg, now);
    }

    pub(super) fn on_negotiate(&mut self, ch: ChannelId, hdr: &Header, msg: &Bytes, now: Instant) {
        let offered = self.offered_dialects();
        let result = (|| -> Result<Negotiated, ChannelError> {
            if hdr.status != NtStatus::SUCCESS {
                return Err(ChannelError::BadNegotiate("NEGOTIATE failed"));
            }
            let r = NegotiateResponse::decode(msg).map_err(ChannelError::Malformed)?;
            if !offered.contains(&r.dialect) {
                return Err(ChannelError::BadDialect(r.dialect.to_u16()));
            }
            let mut cipher = None;
            let mut signing = None;
            if r.dialect == Dialect::Smb311 {
                if r.preauth_hash() != Some(HashAlgorithm::Sha512) {
                    return Err(ChannelError::BadNegotiate("no SHA-512 pre-auth integrity"));
                }
                if let Some(c) = r.cipher() {
                    if c != Cipher::Other(0) {
                        if !self.config.ciphers.contains(&c) {
                            return Err(ChannelError::BadNegotiate("cipher not offered"));
                        }
                        cipher = crypto_cipher(c);
                    }
                }
                if let Some(s) = r.signing_algorithm() {
                    if !self.config.signing_algorithms.contains(&s) {
                        return Err(ChannelError::BadNegotiate("signing algorithm not offered"));
                    }
                    signing = crypto_signing(s);
                }
            } else if r.dialect.is_smb3() && r.capabilities.has(Capabilities::ENCRYPTION) {
                cipher = Some(CipherId::Aes128Ccm);
            }
            // [MS-SMB2] 3.2.5.2: limits below 64 KiB are not valid; a server offering 0 would
            // turn a file into millions of tiny requests.
            for (name, v) in [
                ("MaxReadSize", r.max_read_size),
                ("MaxWriteSize", r.max_write_size),
                ("MaxTransactSize", r.max_transact_size),
            ] {
                if v < 65536 {
                    return Err(ChannelError::BadNegotiate(match name {
                        "MaxReadSize" => "MaxReadSize below 64 KiB",
                        "MaxWriteSize" => "MaxWriteSize below 64 KiB",
                        _ => "MaxTransactSize below 64 KiB",
                    }));
                }
            }
            Ok(Negotiated {
                dialect: r.dialect,
                capabilities: r.capabilities.0,
                security_mode: r.security_mode.0,
                server_guid: r.server_guid,
                max_read: r.max_read_size,
                max_write: r.max_write_size,
                max_transact: r.max_transact_size,
                cipher,
                signing_algorithm: signing,
                token: r.security_buffer.to_vec(),
            })
        })();
        let neg = match result {
            Ok(n) => n,
            Err(e) => {
                let binding = self.channels.get(&ch).is_some_and(|c| c.binding);
                if let Some(c) = self.channels.get_mut(&ch) {
                    if let Ok((t, _)) = c.machine.fail() {
                        self.emit(t);
                    }
                }
                if binding {
                    let final_ = e.is_misbehaviour();
                    return self.bind_failed(ch, e, final_, now);
                }
                self.fail_connect(OpError::from(e), now);
                return;
            }
        };
        let Some(c) = self.channels.get_mut(&ch) else {
            return;
        };
        if neg.dialect == Dialect::Smb311 {
            c.preauth.update(msg);
        }
        c.credits.set_multi_credit(
            neg.dialect >= Dialect::Smb210 && neg.capabilities & Capabilities::LARGE_MTU != 0,
        );
        let enc_ok = neg.cipher.is_some();
        c.neg = Some(neg);
        let binding = c.binding;
        if let Ok((t, _)) = c.machine.finish(ChannelState::NeedSessSetup) {
            self.emit(t);
        }
        if binding {
            return self.start_binding(ch, now);
        }
        if self.config.require_encryption && !enc_ok {
            self.fail_connect(OpError::new(ErrorKind::EncryptionRequired), now);
            return;
        }
        self.start_session_setup(ch, SetupKind::New, now);
    }
}
