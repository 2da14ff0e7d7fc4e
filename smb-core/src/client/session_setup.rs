//! SESSION_SETUP: the authenticator exchange, key derivation and the session's security policy ([MS-SMB2] 3.2.4.2.3, 3.2.5.3).

use super::*;

impl Client {
    pub(super) fn start_session_setup(&mut self, ch: ChannelId, now: Instant) {
        let owner = self.connect_op.map_or(Owner::Internal, Owner::Op);
        let deadline = now + self.config.request_timeout;
        let c = &mut self.channels[ch.0 as usize];
        match c.machine.begin(ChannelState::InSessSetup, owner, deadline) {
            Ok(t) => self.emit(t),
            Err(_) => return,
        }
        if (self.config.require_signing || self.config.require_encryption)
            && self.auth.kind() != AuthKind::User
        {
            let kind = if self.config.require_encryption {
                ErrorKind::EncryptionRequired
            } else {
                ErrorKind::SigningRequired
            };
            self.fail_connect(OpError::new(kind), now);
            return;
        }
        // A fresh authenticator for every exchange (the factory keeps the credentials).
        match self.auth.start() {
            Ok(a) => self.session.exchange = Some(a),
            Err(e) => {
                let e = SessionError::Auth(alloc::format!("{e}"));
                return self.fail_connect(e.into(), now);
            }
        }
        let c = &self.channels[ch.0 as usize];
        self.session.preauth = c.preauth.clone();
        self.session.id = 0;
        self.session.auth_done = false;
        let token = c.neg.as_ref().map(|n| n.token.clone()).unwrap_or_default();
        self.auth_step(ch, &token, now);
    }

    pub(super) fn auth_step(&mut self, ch: ChannelId, server_token: &[u8], now: Instant) {
        let wall = self.auth_context_now(now);
        let mut ctx = AuthContext {
            now: wall,
            rng: &mut *self.rng,
            server_name: &self.server_name,
        };
        let step = match self.session.exchange.as_mut() {
            Some(a) => a.step(server_token, &mut ctx),
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
                self.fail_connect(e, now);
            }
            Err(e) => {
                let e = OpError::new(ErrorKind::Session(SessionError::Auth(alloc::format!(
                    "{e}"
                ))));
                self.fail_connect(e, now);
            }
        }
    }

    pub(super) fn send_session_setup(&mut self, ch: ChannelId, token: &[u8], now: Instant) {
        let mut sm = SecurityMode::SIGNING_ENABLED;
        if self.config.require_signing {
            sm |= SecurityMode::SIGNING_REQUIRED;
        }
        let req = SessionSetupRequest {
            flags: SessionSetupFlags(0),
            security_mode: SecurityMode(sm),
            capabilities: Capabilities(0),
            channel: 0,
            previous_session_id: self.session.previous_id,
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
        let is_311 = self.dialect_u16() == 0x0311;
        match hdr.status {
            NtStatus::MORE_PROCESSING_REQUIRED => {
                let r = match SessionSetupResponse::decode(msg) {
                    Ok(r) => r,
                    Err(e) => return self.fail_connect(ChannelError::Malformed(e).into(), now),
                };
                self.session.id = hdr.session_id;
                if is_311 {
                    self.session.preauth.update(msg);
                }
                let token = r.security_buffer.to_vec();
                self.auth_step(ch, &token, now);
            }
            NtStatus::SUCCESS => {
                let r = match SessionSetupResponse::decode(msg) {
                    Ok(r) => r,
                    Err(e) => return self.fail_connect(ChannelError::Malformed(e).into(), now),
                };
                self.session.id = hdr.session_id;
                self.session.flags = r.session_flags.0;
                let token = r.security_buffer.to_vec();
                let wall = self.auth_context_now(now);
                let mut ctx = AuthContext {
                    now: wall,
                    rng: &mut *self.rng,
                    server_name: &self.server_name,
                };
                let step = match self.session.exchange.as_mut() {
                    Some(a) => a.step(&token, &mut ctx),
                    None => Err(crate::auth::AuthError::UnexpectedStep {
                        state: "no exchange in progress",
                    }),
                };
                match step {
                    Ok(AuthStep::Done) => {}
                    Ok(AuthStep::Send(_)) => {
                        let e =
                            SessionError::Auth("server finished before the authenticator".into());
                        return self.fail_connect(e.into(), now);
                    }
                    Err(e) => {
                        let e = SessionError::Auth(alloc::format!("{e}"));
                        return self.fail_connect(e.into(), now);
                    }
                }
                let established = self.establish(hdr, msg);
                // The keys are derived: the exchange (and its copy of the key) goes.
                self.session.exchange = None;
                if let Err(e) = established {
                    return self.fail_connect(e, now);
                }
                self.session_good(ch, now);
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
                if let Some(c) = self.channels.get_mut(ch.0 as usize) {
                    if let Ok((t, _)) = c.machine.fail() {
                        self.emit(t);
                    }
                }
                self.fail_connect(e, now);
            }
        }
    }

    /// Derive keys and decide the signing/encryption policy after the final SESSION_SETUP
    /// response ([MS-SMB2] 3.2.5.3.1).
    pub(super) fn establish(&mut self, hdr: &Header, msg: &Bytes) -> Result<(), OpError> {
        let neg = self
            .neg()
            .cloned()
            .ok_or(OpError::new(ErrorKind::Protocol("no negotiate")))?;
        let flags = SessionFlags(self.session.flags);
        let anonymous_or_guest = flags.has(SessionFlags::IS_GUEST)
            || flags.has(SessionFlags::IS_NULL)
            || self.auth.kind() != AuthKind::User;
        let server_requires = neg.security_mode & SecurityMode::SIGNING_REQUIRED != 0;
        let key = if anonymous_or_guest {
            None
        } else {
            self.session
                .exchange
                .as_ref()
                .and_then(|a| a.session_key())
                .map(|k| zeroize::Zeroizing::new(k.to_vec()))
        };
        let Some(key) = key else {
            // Guest and anonymous sessions cannot sign or encrypt.
            if self.config.require_signing {
                return Err(SessionError::SigningUnavailable.into());
            }
            if self.config.require_encryption || flags.has(SessionFlags::ENCRYPT_DATA) {
                return Err(SessionError::EncryptionUnavailable.into());
            }
            self.session.security = None;
            return Ok(());
        };
        let dialect = wire_dialect(neg.dialect);
        let preauth = *self.session.preauth.value();
        let keys = SessionKeys::derive(
            dialect,
            &key,
            (dialect == 0x0311).then_some(&preauth),
            neg.cipher,
            neg.signing_algorithm,
        )
        .map_err(|_| OpError::new(ErrorKind::Protocol("key derivation failed")))?;
        let provider = default_provider();
        let signer = keys
            .signer(provider)
            .map_err(|_| OpError::new(ErrorKind::Protocol("signer")))?;
        // [MS-SMB2] 3.2.5.3.1: verify the final response's signature when it is signed;
        // 3.1.1 servers sign it for every non-anonymous session.
        if hdr.flags.has(HeaderFlags::SIGNED) {
            if signer.verify(msg).is_err() {
                return Err(ChannelError::BadSignature(Command::SessionSetup).into());
            }
        } else if dialect == 0x0311 || self.config.require_signing {
            return Err(ChannelError::Unsigned(Command::SessionSetup).into());
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
        let mut salt = [0u8; 4];
        self.rng.fill_bytes(&mut salt);
        self.session.security = Some(Security {
            signer: Some(signer),
            encryptor,
            decryptor,
            nonces: NonceSequence::new(salt),
            signing_required: server_requires || self.config.require_signing,
            encrypt_all: want_encrypt && can_encrypt,
        });
        Ok(())
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
        }
    }

    pub(super) fn session_good(&mut self, ch: ChannelId, now: Instant) {
        if let Some(c) = self.channels.get_mut(ch.0 as usize) {
            c.last_traffic = now;
            if let Ok((t, _)) = c.machine.finish(ChannelState::Good) {
                self.emit(t);
            }
        }
        self.session.machine.bump_epoch();
        let resp = self.connected_response();
        if let Ok((t, flight)) = self.session.machine.finish(SessionState::Good) {
            self.emit(t);
            if let Owner::Op(op) = flight.owner {
                if self
                    .ops
                    .get(&op)
                    .is_some_and(|o| matches!(o.kind, OpKind::Connect))
                {
                    self.complete(op, Ok(resp.clone()));
                }
            }
            for op in flight.waiters {
                if self
                    .ops
                    .get(&op)
                    .is_some_and(|o| matches!(o.kind, OpKind::Connect))
                {
                    self.complete(op, Ok(resp.clone()));
                }
            }
        }
        self.pump(now);
    }
}
