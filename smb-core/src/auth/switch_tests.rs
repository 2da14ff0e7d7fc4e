//! Tests of an SPNEGO exchange that offers Kerberos first and NTLMSSP second, where the
//! server chooses NTLMSSP ([RFC 4178] 5): [`NtlmAuthenticator::switch_from`] against the
//! test acceptor, and the refusals when the server's mechListMIC is missing or wrong.

use alloc::vec;
use alloc::vec::Vec;

use super::spnego::{NegState, NegTokenInit, NegTokenResp, OID_KRB5, OID_MS_KRB5, OID_NTLMSSP};
use super::testing::{Accept, NtlmAcceptor};
use super::{AuthContext, AuthError, AuthStep, Authenticator, NtlmAuthenticator, NtlmCredentials};
use crate::time::FileTime;

/// Counts up from a seed: deterministic bytes for the client challenge and session key.
struct Counter(u8);
impl rand_core::RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            self.0 = self.0.wrapping_add(1);
            *d = self.0;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for Counter {}

fn creds() -> NtlmCredentials {
    NtlmCredentials::password("TEST", "alice", "Alic3Pass!x")
}

/// The client's first token as a Kerberos-preferred login sends it: MS-KRB5, KRB5, NTLMSSP,
/// with an (opaque, here fake) Kerberos AP-REQ as the optimistic token.
fn first_token() -> (Vec<u8>, Vec<u8>) {
    let init = NegTokenInit {
        mech_types: vec![OID_MS_KRB5, OID_KRB5, OID_NTLMSSP],
        mech_token: Some(b"not really an AP-REQ"),
    };
    (init.encode(), init.mech_types_der())
}

/// Runs the switch up to the acceptor's final token; returns the client and that token.
fn switched(rng: &mut Counter) -> (NtlmAuthenticator, Vec<u8>) {
    let mut acc = NtlmAcceptor::new(creds(), [7; 8], Some(132_000_000_000_000_000));
    let (t0, mech_types) = first_token();
    let Accept::Continue(b0) = acc.step(&t0).unwrap() else {
        panic!("the acceptor must continue")
    };
    let choice = NegTokenResp::decode(&b0).unwrap();
    assert_eq!(choice.neg_state, Some(NegState::AcceptIncomplete));
    assert_eq!(choice.supported_mech, Some(OID_NTLMSSP));
    assert_eq!(choice.response_token, None);

    let mut client = NtlmAuthenticator::new(creds());
    let AuthStep::Send(t1) = client.switch_from(mech_types).unwrap() else {
        panic!("the switch sends NEGOTIATE")
    };
    // The NEGOTIATE goes in a NegTokenResp, not a second NegTokenInit.
    let resp = NegTokenResp::decode(&t1).unwrap();
    assert!(
        resp.response_token
            .unwrap()
            .starts_with(b"NTLMSSP\0\x01\0\0\0")
    );
    assert_eq!(resp.supported_mech, None);
    let Accept::Continue(b1) = acc.step(&t1).unwrap() else {
        panic!("the acceptor must send CHALLENGE")
    };
    let mut ctx = AuthContext {
        now: FileTime(133_000_000_000_000_000),
        rng,
        server_name: "dc1.test.lan",
    };
    let AuthStep::Send(t2) = client.step(&b1, &mut ctx).unwrap() else {
        panic!("AUTHENTICATE")
    };
    // The client's mechListMIC covers the whole list it offered (the acceptor checks it).
    let Accept::Complete {
        token, session_key, ..
    } = acc.step(&t2).unwrap()
    else {
        panic!("the acceptor must complete")
    };
    assert!(session_key.is_some());
    (client, token)
}

fn ctx(rng: &mut Counter) -> AuthContext<'_> {
    AuthContext {
        now: FileTime(133_000_000_000_000_000),
        rng,
        server_name: "dc1.test.lan",
    }
}

#[test]
fn kerberos_first_ntlm_chosen_completes_with_the_session_key() {
    let mut rng = Counter(0);
    let (mut client, token) = switched(&mut rng);
    assert_eq!(client.step(&token, &mut ctx(&mut rng)), Ok(AuthStep::Done));
    assert_eq!(client.session_key().map(<[u8]>::len), Some(16));
}

#[test]
fn after_a_switch_the_server_mic_is_required() {
    let mut rng = Counter(0);
    // No final token at all.
    let (mut client, _) = switched(&mut rng);
    assert!(matches!(
        client.step(&[], &mut ctx(&mut rng)),
        Err(AuthError::MissingToken { .. })
    ));
    assert_eq!(client.session_key(), None);
    // A final token without mechListMIC (a downgrade that strips it).
    let (mut client, _) = switched(&mut rng);
    let bare = NegTokenResp {
        neg_state: Some(NegState::AcceptCompleted),
        ..Default::default()
    }
    .encode();
    assert!(matches!(
        client.step(&bare, &mut ctx(&mut rng)),
        Err(AuthError::MissingToken { .. })
    ));
    // A mechListMIC over another list (one byte changed).
    let (mut client, token) = switched(&mut rng);
    let resp = NegTokenResp::decode(&token).unwrap();
    let mut mic = resp.mech_list_mic.unwrap().to_vec();
    mic[15] ^= 1;
    let forged = NegTokenResp {
        mech_list_mic: Some(&mic),
        ..resp
    }
    .encode();
    assert_eq!(
        client.step(&forged, &mut ctx(&mut rng)),
        Err(AuthError::ServerMicInvalid)
    );
}

#[test]
fn switch_only_from_a_fresh_user_exchange() {
    let (_, mech_types) = first_token();
    let mut rng = Counter(0);
    let mut started = NtlmAuthenticator::new(creds());
    started.step(&[], &mut ctx(&mut rng)).unwrap();
    assert!(matches!(
        started.switch_from(mech_types.clone()),
        Err(AuthError::UnexpectedStep { .. })
    ));
    assert!(matches!(
        NtlmAuthenticator::anonymous().switch_from(mech_types),
        Err(AuthError::UnexpectedStep { .. })
    ));
}

#[test]
fn acceptor_refuses_a_list_without_ntlmssp() {
    let mut acc = NtlmAcceptor::new(creds(), [7; 8], None);
    let t = NegTokenInit {
        mech_types: vec![OID_MS_KRB5, OID_KRB5],
        mech_token: Some(b"x"),
    }
    .encode();
    assert_eq!(acc.step(&t), Err(AuthError::NoCommonMechanism));
}
