//! The scripted server's SESSION_SETUP: NTLM through SPNEGO, keys, binding, guest.

use super::*;

impl Server {
    pub(super) fn session_setup(
        &mut self,
        ch: ChannelId,
        h: &Header,
        msg: &[u8],
    ) -> Option<Vec<(Header, Vec<u8>)>> {
        let req = SessionSetupRequest::decode(msg).unwrap();
        let is311 = self.cfg.dialect == Dialect::Smb311;
        let binding = req.flags.has(SessionSetupFlags::BINDING);
        if binding {
            let signed = h.flags.has(HeaderFlags::SIGNED)
                && self.signer.as_ref().is_some_and(|s| s.verify(msg).is_ok());
            self.bind_requests.push((ch, signed));
            let refuse = if !self.cfg.multichannel || h.session_id != self.session_id {
                Some(NtStatus::REQUEST_NOT_ACCEPTED)
            } else if !signed {
                Some(NtStatus::INVALID_PARAMETER)
            } else {
                self.cfg.refuse_binding
            };
            if let Some(st) = refuse {
                let rh = self.resp(h, st);
                return Some(vec![(rh, error_body())]);
            }
        }
        let fresh = self.conns.get(&ch).is_some_and(|c| c.acceptor.is_none());
        if fresh {
            let reauth = !binding && h.session_id != 0 && h.session_id == self.session_id;
            let acceptor = self.acceptor();
            if let Some(c) = self.conns.get_mut(&ch) {
                c.acceptor = Some(acceptor);
                c.session_preauth = c.preauth.clone();
                c.reauth = reauth;
                c.binding = binding;
            }
            if !reauth && !binding {
                // A new session: the old one (PreviousSessionId) ends here.
                self.previous_session_ids.push(req.previous_session_id);
                self.session_id = self.next_session;
                self.next_session += 1;
            }
        }
        if is311 {
            if let Some(c) = self.conns.get_mut(&ch) {
                c.session_preauth.update(msg);
            }
        }
        let reauth = self.conns.get(&ch).is_some_and(|c| c.reauth);
        let mut hh = *h;
        hh.session_id = self.session_id;
        let step = self
            .conns
            .get_mut(&ch)
            .and_then(|c| c.acceptor.as_mut())
            .map(|a| a.step(req.security_buffer));
        match step {
            Some(Ok(Accept::Continue(tok))) => {
                let rh = self.resp(&hh, NtStatus::MORE_PROCESSING_REQUIRED);
                let body = body(&SessionSetupResponse {
                    session_flags: SessionFlags(0),
                    security_buffer: &tok,
                });
                let mut full = Vec::new();
                rh.encode(&mut full);
                full.extend_from_slice(&body);
                if binding {
                    // Samba signs the legs of a binding with the session's key, then hashes
                    // them as sent.
                    let mut signed = full.clone();
                    if let Some(s) = &self.signer {
                        s.sign(&mut signed).unwrap();
                    }
                    if let Some(c) = self.conns.get_mut(&ch) {
                        if is311 {
                            c.session_preauth.update(&signed);
                        }
                    }
                    self.push(framing::frame(&signed).unwrap());
                    return None;
                }
                if is311 {
                    if let Some(c) = self.conns.get_mut(&ch) {
                        c.session_preauth.update(&full);
                    }
                }
                Some(vec![(rh, body)])
            }
            Some(Ok(Accept::Complete {
                token,
                session_key,
                guest,
                anonymous,
            })) => {
                if let Some(c) = self.conns.get_mut(&ch) {
                    c.acceptor = None;
                }
                self.guest = guest || anonymous;
                let mut flags = 0;
                if guest {
                    flags |= SessionFlags::IS_GUEST;
                }
                if anonymous {
                    flags |= SessionFlags::IS_NULL;
                }
                let binding = self.conns.get(&ch).is_some_and(|c| c.binding);
                if binding {
                    // The channel's key from this exchange's session key and the
                    // connection's own pre-auth hash ([MS-SMB2] 3.3.5.5.3).
                    let key = session_key.expect("binding needs a session key");
                    let preauth = self
                        .conns
                        .get(&ch)
                        .map(|c| *c.session_preauth.value())
                        .unwrap();
                    let signing = if is311 {
                        self.cfg.signing.and_then(|s| {
                            smb_core::crypto::SigningAlgorithm::from_wire_id(s.to_u16())
                        })
                    } else {
                        None
                    };
                    let keys = SessionKeys::derive(
                        self.cfg.dialect.to_u16(),
                        &key,
                        is311.then_some(&preauth),
                        None,
                        signing,
                    )
                    .unwrap();
                    let signer = keys.signer(default_provider()).unwrap();
                    if let Some(c) = self.conns.get_mut(&ch) {
                        c.signer = Some(signer);
                        c.binding = false;
                    }
                    self.bound.push(ch);
                } else if reauth {
                    // Re-authentication keeps the session's keys.
                } else if let Some(key) = session_key.filter(|_| !guest && !anonymous) {
                    let cipher = match self.cfg.dialect {
                        Dialect::Smb311 => self
                            .cfg
                            .cipher
                            .and_then(|c| CipherId::from_wire_id(c.to_u16())),
                        Dialect::Smb300 | Dialect::Smb302 => {
                            self.cfg.cipher.map(|_| CipherId::Aes128Ccm)
                        }
                        _ => None,
                    };
                    let signing = if is311 {
                        self.cfg.signing.and_then(|s| {
                            smb_core::crypto::SigningAlgorithm::from_wire_id(s.to_u16())
                        })
                    } else {
                        None
                    };
                    let preauth = self
                        .conns
                        .get(&ch)
                        .map(|c| *c.session_preauth.value())
                        .unwrap_or([0; 64]);
                    let keys = SessionKeys::derive(
                        self.cfg.dialect.to_u16(),
                        &key,
                        is311.then_some(&preauth),
                        cipher,
                        signing,
                    )
                    .unwrap();
                    let p = default_provider();
                    self.signer = Some(keys.signer(p).unwrap());
                    // Server directions are the client's reversed.
                    self.enc = keys.decryptor(p).map(|r| r.unwrap());
                    self.dec = keys.encryptor(p).map(|r| r.unwrap());
                } else {
                    self.signer = None;
                    self.enc = None;
                    self.dec = None;
                }
                if self.cfg.encrypt_session && self.enc.is_some() {
                    flags |= SessionFlags::ENCRYPT_DATA;
                }
                let rh = self.resp(&hh, NtStatus::SUCCESS);
                let body = body(&SessionSetupResponse {
                    session_flags: SessionFlags(flags),
                    security_buffer: &token,
                });
                // The final response is signed (when there is a key).
                let mut full = Vec::new();
                rh.encode(&mut full);
                full.extend_from_slice(&body);
                if self.forged(&rh, &mut full) {
                    return None;
                }
                if let Some(s) = self.signer_on(ch) {
                    s.sign(&mut full).unwrap();
                }
                // Bypass `send`'s signing: push directly.
                self.push(framing::frame(&full).unwrap());
                None
            }
            _ => {
                if let Some(c) = self.conns.get_mut(&ch) {
                    c.acceptor = None;
                }
                let rh = self.resp(&hh, NtStatus::LOGON_FAILURE);
                Some(vec![(rh, error_body())])
            }
        }
    }
}
