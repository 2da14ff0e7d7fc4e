//! SESSION_SETUP: the authenticator exchange, key derivation and the session's security
//! policy ([MS-SMB2] 3.2.4.2.3, 3.2.5.3). The exchange runs on one channel at a time, with a
//! fresh authenticator from the factory each time: the first login, a new session after a
//! reconnect (PreviousSessionId), a re-authentication of a live session.

use super::*;

impl Client {
    /// Start a SESSION_SETUP exchange of `kind` on `ch` (whose NEGOTIATE is done).
    pub(super) fn start_session_setup(&mut self, ch: ChannelId, kind: SetupKind, now: Instant) {
        let owner = match self.connect_op {
            Some(op) if !self.session.established_once => Owner::Op(op),
            _ => Owner::Internal,
        };
        let deadline = now + self.config.request_timeout;
        let Some(c) = self.channels.get_mut(&ch) else {
            return;
        };
        if c.machine.state() == ChannelState::Good {
            let r = c.machine.set(ChannelState::NeedSessSetup);
            self.emit_opt(r);
        }
        let Some(c) = self.channels.get_mut(&ch) else {
            return;
        };
        match c.machine.begin(ChannelState::InSessSetup, owner, deadline) {
            Ok(t) => self.emit(t),
            Err(_) => return,
        }
        if kind != SetupKind::Bind && self.session.machine.state() != SessionState::InSetup {
            match self
                .session
                .machine
                .begin(SessionState::InSetup, owner, deadline)
            {
                Ok(t) => self.emit(t),
                Err(_) => {
                    let e = OpError::new(ErrorKind::Protocol("the session cannot be set up now"));
                    return self.setup_failed(ch, e, now);
                }
            }
        }
        if (self.config.require_signing || self.config.require_encryption)
            && self.auth.kind() != AuthKind::User
        {
            let kind = if self.config.require_encryption {
                ErrorKind::EncryptionRequired
            } else {
                ErrorKind::SigningRequired
            };
            self.setup_failed(ch, OpError::new(kind), now);
            return;
        }
        // A fresh authenticator for every exchange (the factory keeps the credentials).
        let exchange = match self.auth.start() {
            Ok(a) => a,
            Err(e) => {
                let e = SessionError::Auth(alloc::format!("{e}"));
                return self.setup_failed(ch, e.into(), now);
            }
        };
        if kind == SetupKind::New {
            self.session.id = 0;
            self.session.flags = 0;
        }
        let Some(c) = self.channels.get_mut(&ch) else {
            return;
        };
        c.setup = Some(Setup {
            exchange,
            preauth: c.preauth.clone(),
            kind,
        });
        let token = c.neg.as_ref().map(|n| n.token.clone()).unwrap_or_default();
        self.auth_step(ch, &token, now);
    }

    /// One step of the authenticator with the server's token; sends the next leg.
    pub(super) fn auth_step(&mut self, ch: ChannelId, server_token: &[u8], now: Instant) {
        let wall = self.auth_context_now(now);
        let mut ctx = AuthContext {
            now: wall,
            rng: &mut *self.rng,
            server_name: &self.server_name,
        };
        let step = match self.channels.get_mut(&ch).and_then(|c| c.setup.as_mut()) {
            Some(s) => s.exchange.step(server_token, &mut ctx),
            None => Err(crate::auth::AuthError::UnexpectedStep {
                state: "no exchange in progress",
            }),
        };
        match step {
            Ok(AuthStep::Send(token)) => self.send_session_setup(ch, &token, now),
            Ok(AuthStep::Done) => {
                let e = OpError::new(ErrorKind::Session(SessionError::Auth(
                    "authenticator finished before the server".into(),
                )));
                self.setup_failed(ch, e, now);
            }
            Err(e) => {
                let e = OpError::new(ErrorKind::Session(SessionError::Auth(alloc::format!(
                    "{e}"
                ))));
                self.setup_failed(ch, e, now);
            }
        }
    }

    fn send_session_setup(&mut self, ch: ChannelId, token: &[u8], now: Instant) {
        let kind = self
            .channels
            .get(&ch)
            .and_then(|c| c.setup.as_ref())
            .map_or(SetupKind::New, |s| s.kind);
        let mut sm = SecurityMode::SIGNING_ENABLED;
        if self.config.require_signing {
            sm |= SecurityMode::SIGNING_REQUIRED;
        }
        let req = SessionSetupRequest {
            flags: SessionSetupFlags(if kind == SetupKind::Bind {
                SessionSetupFlags::BINDING
            } else {
                0
            }),
            security_mode: SecurityMode(sm),
            capabilities: Capabilities(0),
            channel: 0,
            // [MS-SMB2] 3.2.4.2.3: a new session after a lost connection names the old one,
            // so the server can end it and hand its durable handles over.
            previous_session_id: if kind == SetupKind::New {
                self.session.previous_id
            } else {
                0
            },
            security_buffer: token,
        };
        let hdr = self.header(Command::SessionSetup, 0);
        let msg = encode_msg(&hdr, &req);
        self.send_setup_message(ch, Command::SessionSetup, Part::SessionSetup, msg, now);
    }

    pub(super) fn on_session_setup(
        &mut self,
        ch: ChannelId,
        hdr: &Header,
        msg: &Bytes,
        now: Instant,
    ) {
        let Some(kind) = self
            .channels
            .get(&ch)
            .and_then(|c| c.setup.as_ref())
            .map(|s| s.kind)
        else {
            return;
        };
        let is_311 = self
            .channels
            .get(&ch)
            .and_then(|c| c.neg.as_ref())
            .is_some_and(|n| n.dialect == Dialect::Smb311);
        match hdr.status {
            NtStatus::MORE_PROCESSING_REQUIRED => {
                let r = match SessionSetupResponse::decode(msg) {
                    Ok(r) => r,
                    Err(e) => return self.setup_failed(ch, ChannelError::Malformed(e).into(), now),
                };
                if kind == SetupKind::Bind {
                    if let Err(e) = self.verify_bind_leg(hdr, msg) {
                        return self.setup_failed(ch, e, now);
                    }
                } else if kind == SetupKind::New {
                    self.session.id = hdr.session_id;
                } else if hdr.session_id != self.session.id {
                    let e =
                        ChannelError::Protocol("re-authentication answered for another session");
                    return self.setup_failed(ch, e.into(), now);
                }
                if is_311 {
                    if let Some(s) = self.channels.get_mut(&ch).and_then(|c| c.setup.as_mut()) {
                        s.preauth.update(msg);
                    }
                }
                let token = r.security_buffer.to_vec();
                self.auth_step(ch, &token, now);
            }
            NtStatus::SUCCESS => {
                let r = match SessionSetupResponse::decode(msg) {
                    Ok(r) => r,
                    Err(e) => return self.setup_failed(ch, ChannelError::Malformed(e).into(), now),
                };
                if kind == SetupKind::New {
                    self.session.id = hdr.session_id;
                    self.session.flags = r.session_flags.0;
                } else if hdr.session_id != self.session.id {
                    let e =
                        ChannelError::Protocol("re-authentication answered for another session");
                    return self.setup_failed(ch, e.into(), now);
                }
                let token = r.security_buffer.to_vec();
                let wall = self.auth_context_now(now);
                let mut ctx = AuthContext {
                    now: wall,
                    rng: &mut *self.rng,
                    server_name: &self.server_name,
                };
                let step = match self.channels.get_mut(&ch).and_then(|c| c.setup.as_mut()) {
                    Some(s) => s.exchange.step(&token, &mut ctx),
                    None => Err(crate::auth::AuthError::UnexpectedStep {
                        state: "no exchange in progress",
                    }),
                };
                match step {
                    Ok(AuthStep::Done) => {}
                    Ok(AuthStep::Send(_)) => {
                        let e =
                            SessionError::Auth("server finished before the authenticator".into());
                        return self.setup_failed(ch, e.into(), now);
                    }
                    Err(e) => {
                        let e = SessionError::Auth(alloc::format!("{e}"));
                        return self.setup_failed(ch, e.into(), now);
                    }
                }
                if kind == SetupKind::Bind {
                    return match self.bind_keys(ch, hdr, msg) {
                        Ok(signer) => self.channel_bound(ch, signer, now),
                        Err(e) => self.setup_failed(ch, e, now),
                    };
                }
                let established = match kind {
                    SetupKind::New => self.establish(ch, hdr, msg),
                    SetupKind::Reauth | SetupKind::Bind => self.verify_reauth(ch, hdr, msg),
                };
                // The keys are derived: the exchange (and its copy of the key) goes.
                if let Some(c) = self.channels.get_mut(&ch) {
                    c.setup = None;
                }
                if let Err(e) = established {
                    return self.setup_failed(ch, e, now);
                }
                self.session_good(ch, kind, now);
            }
            status => {
                let e = OpError::from_status(status, Command::SessionSetup);
                let e = match e.kind {
                    ErrorKind::LogonFailure => OpError::from(SessionError::LogonFailure(status)),
                    // Samba refuses a session it would have to encrypt with ACCESS_DENIED;
                    // below 3.0 nothing can be encrypted (peer-lessons #8).
                    ErrorKind::AccessDenied if !self.neg().is_some_and(|n| n.dialect.is_smb3()) => {
                        e.with_context(
                            "the server may require encryption, which needs SMB 3.0 or later",
                        )
                    }
                    ErrorKind::AccessDenied => {
                        e.with_context("the account may not be allowed to use this server")
                    }
                    _ => e,
                };
                if let Some(c) = self.channels.get_mut(&ch) {
                    c.setup = None;
                    if let Ok((t, _)) = c.machine.fail() {
                        self.emit(t);
                    }
                }
                self.setup_failed(ch, e, now);
            }
        }
    }

    /// Derive keys and decide the signing/encryption policy after the final SESSION_SETUP
    /// response of a new session ([MS-SMB2] 3.2.5.3.1).
    fn establish(&mut self, ch: ChannelId, hdr: &Header, msg: &Bytes) -> Result<(), OpError> {
        let neg = self
            .channels
            .get(&ch)
            .and_then(|c| c.neg.clone())
            .ok_or(OpError::new(ErrorKind::Protocol("no negotiate")))?;
        let flags = SessionFlags(self.session.flags);
        let kind = self.auth.kind();
        let guest_flag = flags.has(SessionFlags::IS_GUEST) || flags.has(SessionFlags::IS_NULL);
        // The caller gave credentials but the server made it a guest session (a wrong
        // password with `map to guest = bad password`, or a relay setting IS_GUEST): that is
        // a failed logon, unless the caller accepts guest fallback.
        if kind == AuthKind::User && guest_flag && !self.config.allow_guest_fallback {
            return Err(
                OpError::from(SessionError::LogonFailure(NtStatus::LOGON_FAILURE)).with_context(
                    "the server accepted the logon only as guest (wrong password?); \
                     set allow_guest_fallback to accept that",
                ),
            );
        }
        let anonymous_or_guest = guest_flag || kind != AuthKind::User;
        let server_requires = neg.security_mode & SecurityMode::SIGNING_REQUIRED != 0;
        if anonymous_or_guest {
            // [MS-SMB2] 3.2.5.3.1: a guest or anonymous session has no key, so it cannot sign
            // or encrypt: refuse it whenever either is required, by us or by the server.
            if self.config.require_encryption || flags.has(SessionFlags::ENCRYPT_DATA) {
                return Err(SessionError::EncryptionUnavailable.into());
            }
            if self.config.require_signing || server_requires {
                return Err(OpError::from(SessionError::SigningUnavailable).with_context(
                    if server_requires {
                        "the server requires signing, which a guest or anonymous session cannot do"
                    } else {
                        "signing was required, which a guest or anonymous session cannot do"
                    },
                ));
            }
            self.session.security = None;
            return Ok(());
        }
        let keys = self.exchange_keys(ch)?;
        let dialect = wire_dialect(neg.dialect);
        let provider = &*self.config.crypto_provider;
        let signer = keys
            .signer(provider)
            .map_err(|_| OpError::new(ErrorKind::Protocol("signer")))?;
        // [MS-SMB2] 3.2.5.3.1: verify the final response's signature when it is signed;
        // 3.1.1 servers sign it for every non-anonymous session, and a session that must be
        // signed must not start with an unsigned answer.
        if hdr.flags.has(HeaderFlags::SIGNED) {
            if signer.verify(msg).is_err() {
                return Err(
                    self.channel_op_error(&ChannelError::BadSignature(Command::SessionSetup))
                );
            }
        } else if dialect == 0x0311 || self.config.require_signing || server_requires {
            return Err(self.channel_op_error(&ChannelError::Unsigned(Command::SessionSetup)));
        }
        let encryptor = keys.encryptor(provider).and_then(|r| r.ok());
        let decryptor = keys.decryptor(provider).and_then(|r| r.ok());
        let server_encrypts = flags.has(SessionFlags::ENCRYPT_DATA);
        let want_encrypt =
            server_encrypts || self.config.require_encryption || self.config.request_encryption;
        let can_encrypt = encryptor.is_some() && decryptor.is_some();
        if (server_encrypts || self.config.require_encryption) && !can_encrypt {
            return Err(SessionError::EncryptionUnavailable.into());
        }
        // Sign a 3.1.1 session whenever the server enables signing ([MS-SMB2] 3.2.5.3.1
        // leaves Session.SigningRequired to the client when the server only enables it;
        // `sign_if_supported`, default on). Encrypted messages are still not signed.
        let sign_by_default = self.config.sign_if_supported
            && dialect == 0x0311
            && neg.security_mode & SecurityMode::SIGNING_ENABLED != 0;
        let mut salt = [0u8; 4];
        self.rng.fill_bytes(&mut salt);
        self.session.security = Some(Security {
            signer,
            encryptor,
            decryptor,
            nonces: NonceSequence::new(salt),
            signing_required: server_requires || self.config.require_signing || sign_by_default,
            encrypt_all: want_encrypt && can_encrypt,
        });
        Ok(())
    }

    /// The final response of a re-authentication: the session keeps its keys; a signed
    /// answer must verify with them.
    fn verify_reauth(&mut self, ch: ChannelId, hdr: &Header, msg: &Bytes) -> Result<(), OpError> {
        if hdr.flags.has(HeaderFlags::SIGNED) {
            let ok = self.signer_for(ch).is_some_and(|s| s.verify(msg).is_ok());
            if !ok {
                return Err(
                    self.channel_op_error(&ChannelError::BadSignature(Command::SessionSetup))
                );
            }
        } else if self
            .session
            .security
            .as_ref()
            .is_some_and(|s| s.signing_required)
        {
            return Err(self.channel_op_error(&ChannelError::Unsigned(Command::SessionSetup)));
        }
        Ok(())
    }

    /// The keys of the SESSION_SETUP exchange that just finished on `ch`: from the
    /// authenticator's session key and, on 3.1.1, the exchange's pre-auth hash ([MS-SMB2]
    /// 3.2.5.3.1; for a binding that is the new channel's own hash).
    pub(super) fn exchange_keys(&self, ch: ChannelId) -> Result<SessionKeys, OpError> {
        let c = self
            .channels
            .get(&ch)
            .ok_or(OpError::new(ErrorKind::Protocol("no channel")))?;
        let neg = c
            .neg
            .as_ref()
            .ok_or(OpError::new(ErrorKind::Protocol("no negotiate")))?;
        let setup = c
            .setup
            .as_ref()
            .ok_or(OpError::new(ErrorKind::Protocol("no exchange")))?;
        let key = setup
            .exchange
            .session_key()
            .map(|k| zeroize::Zeroizing::new(k.to_vec()))
            .ok_or(OpError::new(ErrorKind::Session(SessionError::Auth(
                "the authenticator produced no session key".into(),
            ))))?;
        let dialect = wire_dialect(neg.dialect);
        let preauth = *setup.preauth.value();
        SessionKeys::derive(
            dialect,
            &key,
            (dialect == 0x0311).then_some(&preauth),
            neg.cipher,
            neg.signing_algorithm,
        )
        .map_err(|e| {
            OpError::new(ErrorKind::Protocol("key derivation failed"))
                .with_context(alloc::format!("{e}"))
        })
    }

    pub(super) fn connected_response(&self) -> Response {
        let flags = SessionFlags(self.session.flags);
        let sec = self.session.security.as_ref();
        Response::Connected {
            dialect: self.neg().map_or(Dialect::Other(0), |n| n.dialect),
            signing: sec.is_some_and(|s| s.signing_required),
            encryption: sec.is_some_and(|s| s.encrypt_all),
            // What we asked for counts too: Samba answers an anonymous login with neither
            // IS_NULL nor IS_GUEST set.
            guest: flags.has(SessionFlags::IS_GUEST) || self.auth.kind() == AuthKind::Guest,
            anonymous: flags.has(SessionFlags::IS_NULL) || self.auth.kind() == AuthKind::Anonymous,
            server_guid: self.neg().map_or(Guid::ZERO, |n| n.server_guid),
            signing_algorithm: sec
                .filter(|s| s.signing_required)
                .and_then(|_| self.neg())
                .map(|n| {
                    let alg = n.signing_algorithm.unwrap_or(if n.dialect.is_smb3() {
                        crate::crypto::SigningAlgorithm::AesCmac
                    } else {
                        crate::crypto::SigningAlgorithm::HmacSha256
                    });
                    SigningAlgorithm::from_u16(alg.wire_id())
                }),
            cipher: self
                .neg()
                .and_then(|n| n.cipher)
                .map(|c| Cipher::from_u16(c.wire_id())),
            capabilities: self.neg().map_or(0, |n| n.capabilities),
        }
    }

    /// The session is established (or re-authenticated) on `ch`.
    pub(super) fn session_good(&mut self, ch: ChannelId, kind: SetupKind, now: Instant) {
        if let Some(c) = self.channels.get_mut(&ch) {
            c.last_traffic = now;
            if let Ok((t, _)) = c.machine.finish(ChannelState::Good) {
                self.emit(t);
            }
        }
        // A new session is a new epoch: its trees are connected again, once each.
        if kind == SetupKind::New {
            self.session.machine.bump_epoch();
        }
        self.session.established_once = true;
        let resp = self.connected_response();
        if let Ok((t, flight)) = self.session.machine.finish(SessionState::Good) {
            self.emit(t);
            for op in flight.everyone() {
                if self
                    .ops
                    .get(&op)
                    .is_some_and(|o| matches!(o.kind, OpKind::Connect))
                {
                    self.complete(op, Ok(resp.clone()));
                }
            }
        }
        self.recovery_done(now);
        // Trees that have opens come back at once (their handles are reclaimed next); idle
        // trees on first use.
        self.reconnect_busy_trees(now);
        self.pump(now);
    }
}
