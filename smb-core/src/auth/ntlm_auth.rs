//! [`NtlmAuthenticator`]: NTLMv2 inside SPNEGO.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::ntlm::{
    self, AV_FLAG_MIC_PRESENT, AuthenticateMessage, AvPair, ChallengeMessage, MIC_OFFSET,
    NegotiateFlags, NegotiateMessage, NtlmVersion, SessionSecurity, av_id,
};
use super::spnego::{NegState, NegTokenInit, NegTokenResp, OID_NTLMSSP};
use super::{
    AuthContext, AuthError, AuthKind, AuthStep, Authenticator, NtlmCredentials, NtlmSecret,
};

enum State {
    Initial,
    SentNegotiate {
        negotiate: Vec<u8>,
        mech_types: Vec<u8>,
    },
    SentAuthenticate {
        mech_types: Vec<u8>,
        security: Option<alloc::boxed::Box<SessionSecurity>>,
    },
    Done,
    Failed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Initial => "initial",
            State::SentNegotiate { .. } => "NEGOTIATE sent",
            State::SentAuthenticate { .. } => "AUTHENTICATE sent",
            State::Done => "done",
            State::Failed => "failed",
        }
    }
}

/// NTLMv2 ([MS-NLMP]) wrapped in SPNEGO ([MS-SPNG]), for a user, the guest account or an
/// anonymous session.
///
/// What goes on the wire:
/// - NEGOTIATE_MESSAGE with [`NegotiateFlags::CLIENT_DEFAULT`] and a Version.
/// - AUTHENTICATE_MESSAGE with an NTLMv2 response; the flags are those both sides set. When the
///   server's TargetInfo has MsvAvTimestamp (every current server), the client uses that time,
///   sends LmChallengeResponse = Z(24), sets MsvAvFlags bit 0x2 and a MIC over the three
///   messages, and adds MsvAvChannelBindings = Z(16) (SMB has no channel bindings; Windows
///   sends zeros too) and MsvAvTargetName = `cifs/<server_name>` ([MS-NLMP] 3.1.5.2.1).
///   Without a timestamp it uses `ctx.now`, an LMv2 response, no MIC and the server's
///   TargetInfo unchanged (as in the [MS-NLMP] 4.2.4 example).
/// - With KEY_EXCH (always, against current servers) the ExportedSessionKey is 16 random
///   bytes sent RC4-encrypted under the KeyExchangeKey; it is the SMB session key.
/// - SPNEGO mechListMIC over the client's mechTypes with the NTLM client signing key,
///   sequence number 0; the server's mechListMIC is verified with the server keys, sequence
///   number 0. A final token without a mechListMIC is accepted (only one mechanism was
///   offered, so there is nothing to downgrade). For the guest account the server's MIC is not
///   checked: the server holds no key for guest.
/// - Anonymous: NEGOTIATE_ANONYMOUS, empty user/domain, LmChallengeResponse = Z(1), empty
///   NtChallengeResponse, no key exchange, no MIC ([MS-NLMP] 3.2.5.1.2, 3.3.2).
pub struct NtlmAuthenticator {
    creds: Option<NtlmCredentials>,
    kind: AuthKind,
    workstation: String,
    state: State,
    session_key: Option<Zeroizing<[u8; 16]>>,
    /// NTLMSSP was not the first mechanism offered ([`NtlmAuthenticator::switch_from`]): the
    /// server's mechListMIC is required.
    mic_required: bool,
}

impl fmt::Debug for NtlmAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtlmAuthenticator")
            .field("creds", &self.creds)
            .field("kind", &self.kind)
            .field("workstation", &self.workstation)
            .field("state", &self.state.name())
            .field(
                "session_key",
                &self.session_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl NtlmAuthenticator {
    /// Authenticate as a user.
    pub fn new(creds: NtlmCredentials) -> Self {
        Self::with(Some(creds), AuthKind::User)
    }

    /// The guest account: user "guest", empty password. The server answers with the IS_GUEST
    /// session flag; there is no session key.
    pub fn guest() -> Self {
        Self::with(
            Some(NtlmCredentials::password("", "guest", "")),
            AuthKind::Guest,
        )
    }

    /// An anonymous (NULL) session: no user, no password, no session key.
    pub fn anonymous() -> Self {
        Self::with(None, AuthKind::Anonymous)
    }

    fn with(creds: Option<NtlmCredentials>, kind: AuthKind) -> Self {
        NtlmAuthenticator {
            creds,
            kind,
            workstation: String::new(),
            state: State::Initial,
            session_key: None,
            mic_required: false,
        }
    }

    /// Send `name` as the Workstation field (default: empty).
    pub fn with_workstation(mut self, name: impl Into<String>) -> Self {
        self.workstation = name.into();
        self
    }

    /// Take over an SPNEGO exchange in which the client offered NTLMSSP after another
    /// mechanism (Kerberos) and the server chose NTLMSSP ([RFC 4178] 5: the server's first
    /// NegTokenResp names NTLMSSP as supportedMech and carries no token, since the optimistic
    /// token was for the other mechanism). `mech_types` is the DER MechTypeList the client sent
    /// (what both mechListMICs cover). Returns the NegTokenResp carrying the NEGOTIATE_MESSAGE;
    /// then `step` goes on as usual. Because the chosen mechanism was not the first offered,
    /// the server's final token must carry a mechListMIC that verifies ([RFC 4178] 5 d): a
    /// downgrade from Kerberos cannot go unnoticed.
    pub fn switch_from(&mut self, mech_types: Vec<u8>) -> Result<AuthStep, AuthError> {
        if !matches!(self.state, State::Initial) || self.kind != AuthKind::User {
            return Err(AuthError::UnexpectedStep {
                state: "a mechanism switch needs a fresh user NTLM exchange",
            });
        }
        let negotiate = NegotiateMessage {
            flags: NegotiateFlags::CLIENT_DEFAULT,
            version: NtlmVersion::CLIENT,
        }
        .encode();
        let token = NegTokenResp {
            response_token: Some(&negotiate),
            ..NegTokenResp::default()
        }
        .encode();
        self.mic_required = true;
        self.state = State::SentNegotiate {
            negotiate,
            mech_types,
        };
        Ok(AuthStep::Send(token))
    }

    fn first(&mut self, hint: &[u8]) -> Result<AuthStep, AuthError> {
        if !hint.is_empty() {
            let init = NegTokenInit::decode(hint)?;
            // [MS-SPNG] 3.2.5.2: an empty list in the hint means "no preference".
            if !init.mech_types.is_empty() && !init.offers(OID_NTLMSSP) {
                return Err(AuthError::NoCommonMechanism);
            }
        }
        let negotiate = NegotiateMessage {
            flags: NegotiateFlags::CLIENT_DEFAULT,
            version: NtlmVersion::CLIENT,
        }
        .encode();
        let init = NegTokenInit {
            mech_types: vec![OID_NTLMSSP],
            mech_token: Some(&negotiate),
        };
        let token = init.encode();
        let mech_types = init.mech_types_der();
        self.state = State::SentNegotiate {
            negotiate,
            mech_types,
        };
        Ok(AuthStep::Send(token))
    }

    fn second(
        &mut self,
        server_token: &[u8],
        negotiate: &[u8],
        mech_types: Vec<u8>,
        ctx: &mut AuthContext<'_>,
    ) -> Result<AuthStep, AuthError> {
        if server_token.is_empty() {
            return Err(AuthError::MissingToken {
                what: "CHALLENGE_MESSAGE",
            });
        }
        let resp = NegTokenResp::decode(server_token)?;
        match resp.neg_state {
            Some(NegState::Reject) => return Err(AuthError::Rejected),
            Some(NegState::AcceptCompleted) => {
                return Err(AuthError::UnexpectedStep {
                    state: "server completed before AUTHENTICATE",
                });
            }
            _ => {}
        }
        if resp.supported_mech.is_some_and(|m| m != OID_NTLMSSP) {
            return Err(AuthError::NoCommonMechanism);
        }
        let challenge_bytes = resp.response_token.ok_or(AuthError::MissingToken {
            what: "CHALLENGE_MESSAGE",
        })?;
        let challenge = ChallengeMessage::decode(challenge_bytes)?;
        if !challenge.flags.contains(NegotiateFlags::UNICODE) {
            return Err(AuthError::UnsupportedServer {
                what: "Unicode NTLM strings",
            });
        }
        if !challenge
            .flags
            .contains(NegotiateFlags::EXTENDED_SESSIONSECURITY)
        {
            return Err(AuthError::UnsupportedServer {
                what: "NTLM extended session security",
            });
        }
        let mut flags = challenge
            .flags
            .intersection(NegotiateFlags::CLIENT_DEFAULT.union(NegotiateFlags::TARGET_INFO));
        let workstation = ntlm::utf16le(&self.workstation);

        let Some(creds) = &self.creds else {
            // Anonymous ([MS-NLMP] 3.1.5.1.2 / 3.3.2): Z(1) LM response, nothing else.
            flags = flags
                .union(NegotiateFlags::ANONYMOUS)
                .without(NegotiateFlags::KEY_EXCH);
            let auth = AuthenticateMessage {
                flags,
                lm_response: &[0],
                nt_response: &[],
                domain: &[],
                user: &[],
                workstation: &workstation,
                encrypted_session_key: &[],
                version: NtlmVersion::CLIENT,
                mic: None,
            }
            .encode()?;
            self.state = State::SentAuthenticate {
                mech_types,
                security: None,
            };
            return Ok(AuthStep::Send(
                NegTokenResp {
                    response_token: Some(&auth),
                    ..NegTokenResp::default()
                }
                .encode(),
            ));
        };

        let pairs = ntlm::parse_av_pairs(challenge.target_info)?;
        let server_time = ntlm::av_timestamp(&pairs)?;
        let target_info: Vec<u8> = if server_time.is_some() {
            extend_target_info(&pairs, ctx.server_name)?
        } else {
            challenge.target_info.to_vec()
        };

        let hash = match &creds.secret {
            NtlmSecret::Password(p) => ntlm::nt_hash(p),
            NtlmSecret::NtHash(h) => h.clone(),
        };
        let response_key = ntlm::ntowf_v2(&hash, &creds.user, &creds.domain);
        let mut client_challenge = [0u8; 8];
        ctx.rng.fill_bytes(&mut client_challenge);
        let time = server_time.unwrap_or(ctx.now.0);
        let r = ntlm::ntlmv2_response(
            &response_key,
            &challenge.server_challenge,
            &client_challenge,
            time,
            &target_info,
            server_time.is_none(),
        );
        if r.nt_response.len() > usize::from(u16::MAX) {
            return Err(AuthError::TokenTooLarge);
        }

        // KXKEY for NTLMv2 is the SessionBaseKey ([MS-NLMP] 3.4.5.1).
        let (exported, encrypted) = if flags.contains(NegotiateFlags::KEY_EXCH) {
            let mut k = Zeroizing::new([0u8; 16]);
            ctx.rng.fill_bytes(&mut k[..]);
            let enc = ntlm::rc4k(&r.session_base_key, &k);
            (k, Some(enc))
        } else {
            (r.session_base_key.clone(), None)
        };

        let domain = ntlm::utf16le(&creds.domain);
        let user = ntlm::utf16le(&creds.user);
        let with_mic = server_time.is_some();
        let mut auth = AuthenticateMessage {
            flags,
            lm_response: &r.lm_response,
            nt_response: &r.nt_response,
            domain: &domain,
            user: &user,
            workstation: &workstation,
            encrypted_session_key: encrypted.as_ref().map(|e| &e[..]).unwrap_or(&[]),
            version: NtlmVersion::CLIENT,
            mic: with_mic.then_some([0; 16]),
        }
        .encode()?;
        if with_mic {
            // [MS-NLMP] 3.1.5.2.1: HMAC_MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖
            // AUTHENTICATE with a zero MIC).
            let mic = ntlm::hmac_md5(&exported[..], &[negotiate, challenge_bytes, &auth]);
            auth[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&mic);
        }

        let mut security = SessionSecurity::new(&exported, flags);
        let mech_list_mic = security.client_sign(&mech_types);
        let token = NegTokenResp {
            response_token: Some(&auth),
            mech_list_mic: Some(&mech_list_mic),
            ..NegTokenResp::default()
        }
        .encode();
        self.session_key = Some(exported);
        self.state = State::SentAuthenticate {
            mech_types,
            security: Some(alloc::boxed::Box::new(security)),
        };
        Ok(AuthStep::Send(token))
    }

    fn last(
        &mut self,
        server_token: &[u8],
        mech_types: &[u8],
        security: Option<&mut SessionSecurity>,
    ) -> Result<AuthStep, AuthError> {
        let server_mic = AuthError::MissingToken {
            what: "server mechListMIC (required after a mechanism switch)",
        };
        if server_token.is_empty() {
            if self.mic_required {
                return Err(server_mic);
            }
            return Ok(AuthStep::Done);
        }
        let resp = NegTokenResp::decode(server_token)?;
        match resp.neg_state {
            Some(NegState::Reject) => return Err(AuthError::Rejected),
            Some(NegState::AcceptIncomplete | NegState::RequestMic) => {
                return Err(AuthError::UnexpectedStep {
                    state: "server wants another round after AUTHENTICATE",
                });
            }
            Some(NegState::AcceptCompleted) | None => {}
        }
        if self.mic_required && resp.mech_list_mic.is_none() {
            return Err(server_mic);
        }
        if let (Some(mic), Some(sec)) = (resp.mech_list_mic, security) {
            if self.kind != AuthKind::Guest && !sec.client_verify(mech_types, mic) {
                return Err(AuthError::ServerMicInvalid);
            }
        }
        Ok(AuthStep::Done)
    }
}

/// The server's AV pairs plus what the client adds when it sends a MIC ([MS-NLMP] 3.1.5.2.1):
/// MsvAvFlags with bit 0x2 (updated in place if the server sent flags), MsvAvChannelBindings
/// Z(16) and MsvAvTargetName `cifs/<server>` unless already there, then MsvAvEOL.
fn extend_target_info(pairs: &[AvPair<'_>], server_name: &str) -> Result<Vec<u8>, AuthError> {
    let mut flag_bytes = [0u8; 4];
    let mut out: Vec<AvPair<'_>> = Vec::with_capacity(pairs.len() + 3);
    let mut have_flags = false;
    for p in pairs {
        if p.id == av_id::FLAGS {
            let v: [u8; 4] = p
                .value
                .try_into()
                .map_err(|_| AuthError::MalformedToken { what: "MsvAvFlags" })?;
            flag_bytes = (u32::from_le_bytes(v) | AV_FLAG_MIC_PRESENT).to_le_bytes();
            have_flags = true;
        }
    }
    if !have_flags {
        flag_bytes = AV_FLAG_MIC_PRESENT.to_le_bytes();
    }
    for p in pairs {
        if p.id == av_id::FLAGS {
            out.push(AvPair {
                id: av_id::FLAGS,
                value: &flag_bytes,
            });
        } else {
            out.push(*p);
        }
    }
    if !have_flags {
        out.push(AvPair {
            id: av_id::FLAGS,
            value: &flag_bytes,
        });
    }
    let zero_bindings = [0u8; 16];
    if !pairs.iter().any(|p| p.id == av_id::CHANNEL_BINDINGS) {
        out.push(AvPair {
            id: av_id::CHANNEL_BINDINGS,
            value: &zero_bindings,
        });
    }
    let spn = if server_name.is_empty() {
        Vec::new()
    } else {
        let mut s = ntlm::utf16le("cifs/");
        s.extend_from_slice(&ntlm::utf16le(server_name));
        s
    };
    if !spn.is_empty() && !pairs.iter().any(|p| p.id == av_id::TARGET_NAME) {
        out.push(AvPair {
            id: av_id::TARGET_NAME,
            value: &spn,
        });
    }
    ntlm::encode_av_pairs(&out)
}

impl Authenticator for NtlmAuthenticator {
    fn step(
        &mut self,
        server_token: &[u8],
        ctx: &mut AuthContext<'_>,
    ) -> Result<AuthStep, AuthError> {
        let state = core::mem::replace(&mut self.state, State::Failed);
        let result = match state {
            State::Initial => self.first(server_token),
            State::SentNegotiate {
                negotiate,
                mech_types,
            } => self.second(server_token, &negotiate, mech_types, ctx),
            State::SentAuthenticate {
                mech_types,
                mut security,
            } => {
                let r = self.last(server_token, &mech_types, security.as_deref_mut());
                if r.is_ok() {
                    self.state = State::Done;
                }
                r
            }
            s @ (State::Done | State::Failed) => Err(AuthError::UnexpectedStep { state: s.name() }),
        };
        if result.is_err() {
            self.state = State::Failed;
            self.session_key = None;
        }
        result
    }

    fn session_key(&self) -> Option<&[u8]> {
        match (&self.state, self.kind) {
            (State::Done, AuthKind::User) => self.session_key.as_ref().map(|k| &k[..]),
            _ => None,
        }
    }

    fn kind(&self) -> AuthKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::spnego::{OID_KRB5, OID_MS_KRB5};
    use crate::auth::testing::{Accept, NtlmAcceptor, negotiate_hint};
    use crate::time::FileTime;
    use alloc::format;

    /// Hands out a fixed byte string, repeating it.
    struct FixedRng(Vec<u8>, usize);
    impl rand_core::RngCore for FixedRng {
        fn next_u32(&mut self) -> u32 {
            let mut b = [0; 4];
            self.fill_bytes(&mut b);
            u32::from_le_bytes(b)
        }
        fn next_u64(&mut self) -> u64 {
            let mut b = [0; 8];
            self.fill_bytes(&mut b);
            u64::from_le_bytes(b)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for d in dest {
                *d = self.0[self.1 % self.0.len()];
                self.1 += 1;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for FixedRng {}

    fn spec_rng() -> FixedRng {
        let mut b = vec![0xaa; 8];
        b.extend_from_slice(&[0x55; 16]);
        FixedRng(b, 0)
    }

    const NOW: FileTime = FileTime(133_000_000_000_000_000);
    const SERVER_TIME: u64 = 132_000_000_000_000_000;

    fn run(
        client: &mut NtlmAuthenticator,
        acceptor: &mut NtlmAcceptor,
        rng: &mut FixedRng,
    ) -> (Result<AuthStep, AuthError>, Accept, Vec<u8>) {
        let mut ctx = AuthContext {
            now: NOW,
            rng,
            server_name: "srv.example",
        };
        let hint = negotiate_hint(&[OID_MS_KRB5, OID_KRB5, OID_NTLMSSP]);
        let AuthStep::Send(t1) = client.step(&hint, &mut ctx).unwrap() else {
            panic!("first step must send")
        };
        let Accept::Continue(b1) = acceptor.step(&t1).unwrap() else {
            panic!("acceptor must continue")
        };
        let AuthStep::Send(t2) = client.step(&b1, &mut ctx).unwrap() else {
            panic!("second step must send")
        };
        let done = acceptor.step(&t2).unwrap();
        let Accept::Complete { token, .. } = &done else {
            panic!("acceptor must complete")
        };
        let last = client.step(token, &mut ctx);
        (last, done, t2)
    }

    fn creds() -> NtlmCredentials {
        NtlmCredentials::password("Domain", "User", "Password")
    }

    fn authenticate_of(t2: &[u8]) -> AuthenticateMessage<'_> {
        let resp = NegTokenResp::decode(t2).unwrap();
        AuthenticateMessage::decode(resp.response_token.unwrap()).unwrap()
    }

    #[test]
    fn user_flow_with_server_timestamp() {
        let mut client = NtlmAuthenticator::new(creds()).with_workstation("WS");
        let mut acc = NtlmAcceptor::new(creds(), [1, 2, 3, 4, 5, 6, 7, 8], Some(SERVER_TIME));
        let mut rng = spec_rng();
        let (last, done, t2) = run(&mut client, &mut acc, &mut rng);
        assert_eq!(last.unwrap(), AuthStep::Done);
        let Accept::Complete {
            session_key,
            guest,
            anonymous,
            ..
        } = done
        else {
            unreachable!()
        };
        assert!(!guest && !anonymous);
        assert_eq!(session_key, Some([0x55; 16]));
        assert_eq!(client.session_key(), Some(&[0x55; 16][..]));
        assert_eq!(client.kind(), AuthKind::User);

        let auth = authenticate_of(&t2);
        assert_eq!(auth.lm_response, &[0; 24]);
        assert!(auth.mic.is_some());
        assert_eq!(auth.user, &ntlm::utf16le("User")[..]);
        assert_eq!(auth.workstation, &ntlm::utf16le("WS")[..]);
        assert!(auth.flags.contains(NegotiateFlags::KEY_EXCH));
        assert!(!auth.flags.contains(NegotiateFlags::ANONYMOUS));
        // The blob: server's time, our client challenge, the extended pairs.
        let temp = &auth.nt_response[16..];
        assert_eq!(temp[8..16], SERVER_TIME.to_le_bytes());
        assert_eq!(temp[16..24], [0xaa; 8]);
        let pairs = ntlm::parse_av_pairs(&temp[28..]).unwrap();
        let get = |id| pairs.iter().find(|p| p.id == id).map(|p| p.value);
        assert_eq!(get(av_id::FLAGS), Some(&2u32.to_le_bytes()[..]));
        assert_eq!(get(av_id::CHANNEL_BINDINGS), Some(&[0u8; 16][..]));
        assert_eq!(
            get(av_id::TARGET_NAME),
            Some(&ntlm::utf16le("cifs/srv.example")[..])
        );
        assert_eq!(get(av_id::TIMESTAMP), Some(&SERVER_TIME.to_le_bytes()[..]));
        // Nothing more to do.
        let mut ctx = AuthContext {
            now: NOW,
            rng: &mut rng,
            server_name: "",
        };
        assert!(matches!(
            client.step(&[], &mut ctx),
            Err(AuthError::UnexpectedStep { .. })
        ));
        assert!(!format!("{client:?}").contains("85"));
    }

    #[test]
    fn nt_hash_credentials_work_too() {
        let hash = *ntlm::nt_hash("Password");
        let mut client = NtlmAuthenticator::new(NtlmCredentials::nt_hash("Domain", "User", hash));
        let mut acc = NtlmAcceptor::new(creds(), [9; 8], Some(SERVER_TIME));
        let (last, _, _) = run(&mut client, &mut acc, &mut spec_rng());
        assert_eq!(last.unwrap(), AuthStep::Done);
    }

    #[test]
    fn flow_without_timestamp_matches_spec_responses() {
        // [MS-NLMP] 4.2.4: no MsvAvTimestamp, so the client time (here 0) and LMv2 are used
        // and the TargetInfo goes back unchanged; the responses must equal the spec's.
        const SPEC_CHALLENGE: [u8; 104] = [
            0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x00,
            0x0c, 0x00, 0x38, 0x00, 0x00, 0x00, 0x33, 0x82, 0x8a, 0xe2, 0x01, 0x23, 0x45, 0x67,
            0x89, 0xab, 0xcd, 0xef, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00,
            0x24, 0x00, 0x44, 0x00, 0x00, 0x00, 0x06, 0x00, 0x70, 0x17, 0x00, 0x00, 0x00, 0x0f,
            0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00, 0x65, 0x00, 0x72, 0x00, 0x02, 0x00,
            0x0c, 0x00, 0x44, 0x00, 0x6f, 0x00, 0x6d, 0x00, 0x61, 0x00, 0x69, 0x00, 0x6e, 0x00,
            0x01, 0x00, 0x0c, 0x00, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00, 0x65, 0x00,
            0x72, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let mut client = NtlmAuthenticator::new(creds()).with_workstation("COMPUTER");
        let mut rng = spec_rng();
        let mut ctx = AuthContext {
            now: FileTime(0),
            rng: &mut rng,
            server_name: "Server",
        };
        assert!(matches!(client.step(&[], &mut ctx), Ok(AuthStep::Send(_))));
        let b1 = NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(OID_NTLMSSP),
            response_token: Some(&SPEC_CHALLENGE),
            mech_list_mic: None,
        }
        .encode();
        let AuthStep::Send(t2) = client.step(&b1, &mut ctx).unwrap() else {
            panic!()
        };
        let auth = authenticate_of(&t2);
        assert_eq!(auth.mic, None);
        assert_eq!(auth.flags, NegotiateFlags(0xe2888231));
        assert_eq!(
            auth.lm_response,
            &[
                0x86, 0xc3, 0x50, 0x97, 0xac, 0x9c, 0xec, 0x10, 0x25, 0x54, 0x76, 0x4a, 0x57, 0xcc,
                0xcc, 0x19, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa
            ]
        );
        assert_eq!(
            auth.nt_response[..16],
            [
                0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96, 0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef,
                0x6a, 0x1c
            ]
        );
        assert_eq!(
            auth.nt_response[16 + 28..16 + 28 + 36],
            SPEC_CHALLENGE[68..104]
        );
        assert_eq!(
            auth.encrypted_session_key,
            &[
                0xc5, 0xda, 0xd2, 0x54, 0x4f, 0xc9, 0x79, 0x90, 0x94, 0xce, 0x1c, 0xe9, 0x0b, 0xc9,
                0xd0, 0x3e
            ]
        );
        // The mechListMIC is the client signature (seq 0) over the mechTypes DER.
        let resp = NegTokenResp::decode(&t2).unwrap();
        let mut sec = SessionSecurity::new(&[0x55; 16], auth.flags);
        let mech_types = NegTokenInit {
            mech_types: vec![OID_NTLMSSP],
            mech_token: None,
        }
        .mech_types_der();
        assert!(sec.server_verify(&mech_types, resp.mech_list_mic.unwrap()));
        // The server's final token with no MIC is accepted.
        let fin = NegTokenResp {
            neg_state: Some(NegState::AcceptCompleted),
            ..Default::default()
        }
        .encode();
        assert_eq!(client.step(&fin, &mut ctx).unwrap(), AuthStep::Done);
        assert_eq!(client.session_key(), Some(&[0x55; 16][..]));
    }

    #[test]
    fn acceptor_without_timestamp_round_trips() {
        let mut client = NtlmAuthenticator::new(creds());
        let mut acc = NtlmAcceptor::new(creds(), [7; 8], None);
        let (last, _, t2) = run(&mut client, &mut acc, &mut spec_rng());
        assert_eq!(last.unwrap(), AuthStep::Done);
        let auth = authenticate_of(&t2);
        assert_eq!(auth.mic, None);
        assert_eq!(auth.lm_response.len(), 24);
        assert_ne!(auth.lm_response, &[0; 24]);
        assert_eq!(auth.nt_response[16 + 8..16 + 16], NOW.0.to_le_bytes());
    }

    #[test]
    fn wrong_password_is_rejected_or_guest() {
        let mut client =
            NtlmAuthenticator::new(NtlmCredentials::password("Domain", "User", "nope"));
        let mut acc = NtlmAcceptor::new(creds(), [7; 8], Some(SERVER_TIME));
        let mut rng = spec_rng();
        let mut ctx = AuthContext {
            now: NOW,
            rng: &mut rng,
            server_name: "s",
        };
        let AuthStep::Send(t1) = client.step(&[], &mut ctx).unwrap() else {
            panic!()
        };
        let Accept::Continue(b1) = acc.step(&t1).unwrap() else {
            panic!()
        };
        let AuthStep::Send(t2) = client.step(&b1, &mut ctx).unwrap() else {
            panic!()
        };
        assert_eq!(acc.step(&t2), Err(AuthError::Rejected));

        let mut client = NtlmAuthenticator::guest();
        let mut acc = NtlmAcceptor::new(creds(), [7; 8], Some(SERVER_TIME));
        acc.allow_guest = true;
        let (last, done, _) = run(&mut client, &mut acc, &mut spec_rng());
        assert_eq!(last.unwrap(), AuthStep::Done);
        assert!(matches!(
            done,
            Accept::Complete {
                guest: true,
                session_key: None,
                ..
            }
        ));
        assert_eq!(client.kind(), AuthKind::Guest);
        assert_eq!(client.session_key(), None);
    }

    #[test]
    fn anonymous_flow() {
        let mut client = NtlmAuthenticator::anonymous();
        let mut acc = NtlmAcceptor::new(creds(), [7; 8], Some(SERVER_TIME));
        acc.allow_anonymous = true;
        let (last, done, t2) = run(&mut client, &mut acc, &mut spec_rng());
        assert_eq!(last.unwrap(), AuthStep::Done);
        assert!(matches!(
            done,
            Accept::Complete {
                anonymous: true,
                session_key: None,
                ..
            }
        ));
        let auth = authenticate_of(&t2);
        assert!(auth.flags.contains(NegotiateFlags::ANONYMOUS));
        assert!(!auth.flags.contains(NegotiateFlags::KEY_EXCH));
        assert_eq!(auth.lm_response, &[0]);
        assert!(auth.nt_response.is_empty() && auth.user.is_empty() && auth.domain.is_empty());
        assert!(auth.encrypted_session_key.is_empty());
        assert_eq!(NegTokenResp::decode(&t2).unwrap().mech_list_mic, None);
        assert_eq!(client.session_key(), None);
        assert_eq!(client.kind(), AuthKind::Anonymous);
    }

    /// Drive a fresh client to the point where it waits for the final token.
    fn client_after_authenticate(rng: &mut FixedRng) -> (NtlmAuthenticator, Vec<u8>, Vec<u8>) {
        let mut client = NtlmAuthenticator::new(creds());
        let mut acc = NtlmAcceptor::new(creds(), [3; 8], Some(SERVER_TIME));
        let mut ctx = AuthContext {
            now: NOW,
            rng,
            server_name: "s",
        };
        let AuthStep::Send(t1) = client.step(&[], &mut ctx).unwrap() else {
            panic!()
        };
        let Accept::Continue(b1) = acc.step(&t1).unwrap() else {
            panic!()
        };
        let AuthStep::Send(t2) = client.step(&b1, &mut ctx).unwrap() else {
            panic!()
        };
        let Accept::Complete { token, .. } = acc.step(&t2).unwrap() else {
            panic!()
        };
        (client, b1, token)
    }

    #[test]
    fn bad_server_mic_fails() {
        let mut rng = spec_rng();
        let (mut client, _, token) = client_after_authenticate(&mut rng);
        let resp = NegTokenResp::decode(&token).unwrap();
        let mut mic = resp.mech_list_mic.unwrap().to_vec();
        mic[5] ^= 1;
        let bad = NegTokenResp {
            mech_list_mic: Some(&mic),
            ..resp
        }
        .encode();
        let mut ctx = AuthContext {
            now: NOW,
            rng: &mut rng,
            server_name: "s",
        };
        assert_eq!(
            client.step(&bad, &mut ctx),
            Err(AuthError::ServerMicInvalid)
        );
        assert_eq!(client.session_key(), None);
        assert!(matches!(
            client.step(&token, &mut ctx),
            Err(AuthError::UnexpectedStep { .. })
        ));
    }

    #[test]
    fn final_token_variants() {
        let mut rng = spec_rng();
        // Empty final buffer: done.
        let (mut c, _, _) = client_after_authenticate(&mut rng);
        let mut ctx = AuthContext {
            now: NOW,
            rng: &mut rng,
            server_name: "s",
        };
        assert_eq!(c.step(&[], &mut ctx).unwrap(), AuthStep::Done);
        assert!(c.session_key().is_some());
        // reject / incomplete.
        for (st, err) in [
            (NegState::Reject, AuthError::Rejected),
            (
                NegState::AcceptIncomplete,
                AuthError::UnexpectedStep {
                    state: "server wants another round after AUTHENTICATE",
                },
            ),
        ] {
            let (mut c, _, _) = client_after_authenticate(&mut rng);
            let tok = NegTokenResp {
                neg_state: Some(st),
                ..Default::default()
            }
            .encode();
            let mut ctx = AuthContext {
                now: NOW,
                rng: &mut rng,
                server_name: "s",
            };
            assert_eq!(c.step(&tok, &mut ctx), Err(err));
        }
        // Every non-empty prefix of the real final token is an error, never a panic.
        let (_, _, token) = client_after_authenticate(&mut rng);
        for cut in 1..token.len() {
            let (mut c, _, _) = client_after_authenticate(&mut rng);
            let mut ctx = AuthContext {
                now: NOW,
                rng: &mut rng,
                server_name: "s",
            };
            assert!(c.step(&token[..cut], &mut ctx).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn every_prefix_of_the_challenge_token_fails() {
        let mut rng = spec_rng();
        let (_, b1, _) = client_after_authenticate(&mut rng);
        for cut in 0..b1.len() {
            let mut c = NtlmAuthenticator::new(creds());
            let mut ctx = AuthContext {
                now: NOW,
                rng: &mut rng,
                server_name: "s",
            };
            c.step(&[], &mut ctx).unwrap();
            assert!(c.step(&b1[..cut], &mut ctx).is_err(), "cut {cut}");
            assert_eq!(c.session_key(), None);
        }
    }

    #[test]
    fn hints_and_server_choices() {
        let mut rng = spec_rng();
        let mut ctx = AuthContext {
            now: NOW,
            rng: &mut rng,
            server_name: "s",
        };
        let krb_only = negotiate_hint(&[OID_MS_KRB5, OID_KRB5]);
        assert_eq!(
            NtlmAuthenticator::new(creds()).step(&krb_only, &mut ctx),
            Err(AuthError::NoCommonMechanism)
        );
        assert!(matches!(
            NtlmAuthenticator::new(creds()).step(&[0x60, 0x05, 1], &mut ctx),
            Err(AuthError::MalformedToken { .. })
        ));
        // Empty mech list in the hint means no preference.
        assert!(
            NtlmAuthenticator::new(creds())
                .step(&negotiate_hint(&[]), &mut ctx)
                .is_ok()
        );

        let start = |ctx: &mut AuthContext<'_>| {
            let mut c = NtlmAuthenticator::new(creds());
            c.step(&[], ctx).unwrap();
            c
        };
        let rej = NegTokenResp {
            neg_state: Some(NegState::Reject),
            ..Default::default()
        }
        .encode();
        assert_eq!(
            start(&mut ctx).step(&rej, &mut ctx),
            Err(AuthError::Rejected)
        );
        let krb = NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(OID_KRB5),
            response_token: Some(b"x"),
            mech_list_mic: None,
        }
        .encode();
        assert_eq!(
            start(&mut ctx).step(&krb, &mut ctx),
            Err(AuthError::NoCommonMechanism)
        );
        assert!(matches!(
            start(&mut ctx).step(&[], &mut ctx),
            Err(AuthError::MissingToken { .. })
        ));

        // A challenge without extended session security is refused.
        let ti = ntlm::encode_av_pairs(&[]).unwrap();
        let chal = ChallengeMessage {
            flags: NegotiateFlags::CLIENT_DEFAULT.without(NegotiateFlags::EXTENDED_SESSIONSECURITY),
            server_challenge: [0; 8],
            target_name: &[],
            target_info: &ti,
            version: None,
        }
        .encode()
        .unwrap();
        let tok = NegTokenResp {
            response_token: Some(&chal),
            ..Default::default()
        }
        .encode();
        assert!(matches!(
            start(&mut ctx).step(&tok, &mut ctx),
            Err(AuthError::UnsupportedServer { .. })
        ));
    }

    #[test]
    fn server_flags_pair_is_updated_in_place() {
        let flags = 1u32.to_le_bytes();
        let ts = 5u64.to_le_bytes();
        let pairs = [
            AvPair {
                id: av_id::FLAGS,
                value: &flags,
            },
            AvPair {
                id: av_id::TIMESTAMP,
                value: &ts,
            },
        ];
        let out = extend_target_info(&pairs, "").unwrap();
        let parsed = ntlm::parse_av_pairs(&out).unwrap();
        assert_eq!(
            parsed[0],
            AvPair {
                id: av_id::FLAGS,
                value: &3u32.to_le_bytes()
            }
        );
        assert_eq!(parsed.iter().filter(|p| p.id == av_id::FLAGS).count(), 1);
        assert!(!parsed.iter().any(|p| p.id == av_id::TARGET_NAME));
        assert!(parsed.iter().any(|p| p.id == av_id::CHANNEL_BINDINGS));
    }
}
