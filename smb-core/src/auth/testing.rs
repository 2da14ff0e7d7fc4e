//! The server side of NTLM-in-SPNEGO, for tests and the scripted in-memory server.
//!
//! [`NtlmAcceptor`] checks a client's NTLMv2 response against one known account, verifies the
//! AUTHENTICATE MIC and the client's mechListMIC, recovers the session key and produces the
//! server's final token with its own mechListMIC. It is not a production server: one account,
//! no replay protection, no domain controller.

use alloc::vec;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::ntlm::{
    self, AV_FLAG_MIC_PRESENT, AuthenticateMessage, AvPair, ChallengeMessage, MIC_OFFSET,
    NegotiateFlags, NegotiateMessage, NtlmVersion, SessionSecurity, av_id,
};
use super::spnego::{NegState, NegTokenInit, NegTokenResp, OID_NTLMSSP};
use super::{AuthError, NtlmCredentials, NtlmSecret};
use crate::wire::utf16le_to_string;

/// What the acceptor wants the server to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accept {
    /// Answer STATUS_MORE_PROCESSING_REQUIRED with this token.
    Continue(Vec<u8>),
    /// Answer STATUS_SUCCESS with this token.
    Complete {
        /// The final SPNEGO token.
        token: Vec<u8>,
        /// The ExportedSessionKey, for a user logon.
        session_key: Option<[u8; 16]>,
        /// The logon was mapped to the guest account (set SMB2_SESSION_FLAG_IS_GUEST).
        guest: bool,
        /// The logon was anonymous (set SMB2_SESSION_FLAG_IS_NULL).
        anonymous: bool,
    },
}

enum State {
    Initial,
    /// The client's first mechanism was another one; NTLMSSP was chosen, its NEGOTIATE is
    /// awaited in a NegTokenResp ([RFC 4178] 5).
    Switched {
        mech_types: Vec<u8>,
    },
    SentChallenge {
        negotiate: Vec<u8>,
        challenge: Vec<u8>,
        mech_types: Vec<u8>,
    },
    Done,
}

/// A one-account NTLMv2 acceptor behind SPNEGO. Failures come back as
/// [`AuthError::Rejected`] (the server should answer STATUS_LOGON_FAILURE).
pub struct NtlmAcceptor {
    creds: NtlmCredentials,
    server_challenge: [u8; 8],
    timestamp: Option<u64>,
    /// Map unknown users and bad passwords to guest instead of failing.
    pub allow_guest: bool,
    /// Accept anonymous logons.
    pub allow_anonymous: bool,
    state: State,
}

impl core::fmt::Debug for NtlmAcceptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NtlmAcceptor")
            .field("creds", &self.creds)
            .field("allow_guest", &self.allow_guest)
            .field("allow_anonymous", &self.allow_anonymous)
            .finish_non_exhaustive()
    }
}

/// The NEGOTIATE response's security buffer: a NegTokenInit listing `mechs` (OID contents).
pub fn negotiate_hint(mechs: &[&[u8]]) -> Vec<u8> {
    NegTokenInit {
        mech_types: mechs.to_vec(),
        mech_token: None,
    }
    .encode()
}

fn rejected<T>(_: T) -> AuthError {
    AuthError::Rejected
}

impl NtlmAcceptor {
    /// An acceptor for `creds`, with a fixed server challenge and, if given, an MsvAvTimestamp
    /// in the CHALLENGE (which makes a compliant client send a MIC).
    pub fn new(creds: NtlmCredentials, server_challenge: [u8; 8], timestamp: Option<u64>) -> Self {
        NtlmAcceptor {
            creds,
            server_challenge,
            timestamp,
            allow_guest: false,
            allow_anonymous: false,
            state: State::Initial,
        }
    }

    /// Process one SESSION_SETUP token from the client.
    pub fn step(&mut self, client_token: &[u8]) -> Result<Accept, AuthError> {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Initial => self.challenge(client_token),
            State::Switched { mech_types } => {
                let resp = NegTokenResp::decode(client_token)?;
                let negotiate = resp.response_token.ok_or(AuthError::MissingToken {
                    what: "NEGOTIATE_MESSAGE",
                })?;
                self.challenge_for(negotiate, mech_types)
            }
            State::SentChallenge {
                negotiate,
                challenge,
                mech_types,
            } => self.authenticate(client_token, &negotiate, &challenge, &mech_types),
            State::Done => Err(AuthError::UnexpectedStep { state: "done" }),
        }
    }

    fn challenge(&mut self, token: &[u8]) -> Result<Accept, AuthError> {
        let init = NegTokenInit::decode(token)?;
        if init.mech_types.first() != Some(&OID_NTLMSSP) {
            if !init.offers(OID_NTLMSSP) {
                return Err(AuthError::NoCommonMechanism);
            }
            // Choose NTLMSSP over the client's first mechanism: no token in this answer, the
            // optimistic one was for the other mechanism ([RFC 4178] 5).
            self.state = State::Switched {
                mech_types: init.mech_types_der(),
            };
            return Ok(Accept::Continue(
                NegTokenResp {
                    neg_state: Some(NegState::AcceptIncomplete),
                    supported_mech: Some(OID_NTLMSSP),
                    response_token: None,
                    mech_list_mic: None,
                }
                .encode(),
            ));
        }
        let negotiate = init.mech_token.ok_or(AuthError::MissingToken {
            what: "NEGOTIATE_MESSAGE",
        })?;
        self.challenge_for(negotiate, init.mech_types_der())
    }

    fn challenge_for(
        &mut self,
        negotiate: &[u8],
        mech_types: Vec<u8>,
    ) -> Result<Accept, AuthError> {
        let neg = NegotiateMessage::decode(negotiate)?;
        let flags = neg
            .flags
            .intersection(NegotiateFlags::CLIENT_DEFAULT)
            .union(NegotiateFlags::TARGET_INFO)
            .union(NegotiateFlags::TARGET_TYPE_SERVER);
        let name = ntlm::utf16le("SERVER");
        let dom = ntlm::utf16le("DOMAIN");
        let ts;
        let mut pairs = vec![
            AvPair {
                id: av_id::NB_DOMAIN_NAME,
                value: &dom,
            },
            AvPair {
                id: av_id::NB_COMPUTER_NAME,
                value: &name,
            },
        ];
        if let Some(t) = self.timestamp {
            ts = t.to_le_bytes();
            pairs.push(AvPair {
                id: av_id::TIMESTAMP,
                value: &ts,
            });
        }
        let target_info = ntlm::encode_av_pairs(&pairs)?;
        let challenge = ChallengeMessage {
            flags,
            server_challenge: self.server_challenge,
            target_name: &dom,
            target_info: &target_info,
            version: Some(NtlmVersion::CLIENT),
        }
        .encode()?;
        let token = NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(OID_NTLMSSP),
            response_token: Some(&challenge),
            mech_list_mic: None,
        }
        .encode();
        self.state = State::SentChallenge {
            negotiate: negotiate.to_vec(),
            challenge,
            mech_types,
        };
        Ok(Accept::Continue(token))
    }

    fn authenticate(
        &mut self,
        token: &[u8],
        negotiate: &[u8],
        challenge: &[u8],
        mech_types: &[u8],
    ) -> Result<Accept, AuthError> {
        let resp = NegTokenResp::decode(token)?;
        let raw = resp.response_token.ok_or(AuthError::MissingToken {
            what: "AUTHENTICATE_MESSAGE",
        })?;
        let auth = AuthenticateMessage::decode(raw)?;
        let done = |session_key, guest, anonymous, mic: Option<[u8; 16]>| Accept::Complete {
            token: NegTokenResp {
                neg_state: Some(NegState::AcceptCompleted),
                supported_mech: None,
                response_token: None,
                mech_list_mic: mic.as_ref().map(|m| &m[..]),
            }
            .encode(),
            session_key,
            guest,
            anonymous,
        };

        if auth.user.is_empty() && auth.nt_response.is_empty() && auth.lm_response.len() <= 1 {
            return if self.allow_anonymous {
                Ok(done(None, false, true, None))
            } else {
                Err(AuthError::Rejected)
            };
        }
        if auth.nt_response.len() < 16 + 28 {
            return Err(AuthError::Rejected);
        }
        let user = utf16le_to_string(auth.user).map_err(rejected)?;
        let domain = utf16le_to_string(auth.domain).map_err(rejected)?;
        let guest = |allow: bool| {
            if allow {
                Ok(done(None, true, false, None))
            } else {
                Err(AuthError::Rejected)
            }
        };
        if !user.eq_ignore_ascii_case(&self.creds.user) {
            return guest(self.allow_guest);
        }
        let hash = match &self.creds.secret {
            NtlmSecret::Password(p) => ntlm::nt_hash(p),
            NtlmSecret::NtHash(h) => h.clone(),
        };
        let key = ntlm::ntowf_v2(&hash, &user, &domain);
        let (proof, temp) = auth.nt_response.split_at(16);
        if ntlm::hmac_md5(&key[..], &[&self.server_challenge, temp]) != proof {
            return guest(self.allow_guest);
        }
        let base = Zeroizing::new(ntlm::hmac_md5(&key[..], &[proof]));
        let exported: Zeroizing<[u8; 16]> = if auth.flags.contains(NegotiateFlags::KEY_EXCH) {
            let enc: [u8; 16] = auth.encrypted_session_key.try_into().map_err(rejected)?;
            ntlm::rc4k(&base, &enc)
        } else {
            base
        };

        // The MIC is promised by MsvAvFlags in the client's blob (temp[28..] holds the pairs).
        let pairs = ntlm::parse_av_pairs(&temp[28..]).map_err(rejected)?;
        let mic_promised = pairs.iter().any(|p| {
            p.id == av_id::FLAGS
                && p.value.len() == 4
                && u32::from_le_bytes([p.value[0], p.value[1], p.value[2], p.value[3]])
                    & AV_FLAG_MIC_PRESENT
                    != 0
        });
        if mic_promised {
            let mic = auth.mic.ok_or(AuthError::Rejected)?;
            let mut zeroed = raw.to_vec();
            zeroed[MIC_OFFSET..MIC_OFFSET + 16].fill(0);
            if ntlm::hmac_md5(&exported[..], &[negotiate, challenge, &zeroed]) != mic {
                return Err(AuthError::Rejected);
            }
        }
        let mut sec = SessionSecurity::new(&exported, auth.flags);
        match resp.mech_list_mic {
            Some(m) if !sec.server_verify(mech_types, m) => return Err(AuthError::Rejected),
            None if mic_promised => return Err(AuthError::Rejected),
            _ => {}
        }
        let server_mic = sec.server_sign(mech_types);
        Ok(done(Some(*exported), false, false, Some(server_mic)))
    }
}
