#![no_main]
//! SPNEGO and NTLM decoders, and the NTLM authenticator fed arbitrary server tokens.
use libfuzzer_sys::fuzz_target;
use smb_core::auth::ntlm::{
    AuthenticateMessage, ChallengeMessage, NegotiateMessage, av_timestamp, parse_av_pairs,
};
use smb_core::auth::spnego::{NegTokenInit, NegTokenResp, OID_KRB5, OID_NTLMSSP};
use smb_core::auth::testing::NtlmAcceptor;
use smb_core::auth::{AuthContext, Authenticator, NtlmAuthenticator, NtlmCredentials};
use smb_core::time::FileTime;

/// A fixed "random" source so runs are reproducible.
struct FixedRng(u8);
impl rand_core::RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        u32::from(self.0)
    }
    fn next_u64(&mut self) -> u64 {
        u64::from(self.0)
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
impl rand_core::CryptoRng for FixedRng {}

fuzz_target!(|data: &[u8]| {
    let _ = NegTokenInit::decode(data);
    let _ = NegTokenResp::decode(data);
    let _ = NegotiateMessage::decode(data);
    let _ = AuthenticateMessage::decode(data);
    if let Ok(c) = ChallengeMessage::decode(data) {
        if let Ok(pairs) = parse_av_pairs(c.target_info) {
            let _ = av_timestamp(&pairs);
        }
    }
    if let Ok(pairs) = parse_av_pairs(data) {
        let _ = av_timestamp(&pairs);
    }

    // The client at each step, with `data` as the server's token; split at the first byte
    // to reach the later steps with two tokens.
    let mut rng = FixedRng(0);
    let mut ctx = AuthContext {
        now: FileTime(0),
        rng: &mut rng,
        server_name: "fuzz",
    };
    let creds = NtlmCredentials::password("D", "u", "p");
    let _ = NtlmAuthenticator::new(creds.clone()).step(data, &mut ctx);
    let mut c = NtlmAuthenticator::new(creds.clone());
    if c.step(&[], &mut ctx).is_ok() {
        let (a, b) = data.split_at(usize::from(*data.first().unwrap_or(&0)).min(data.len()));
        if c.step(a, &mut ctx).is_ok() {
            let _ = c.step(b, &mut ctx);
        }
        let _ = c.session_key();
    }
    // After a Kerberos-first offer the server chose NTLMSSP (RFC 4178 5): the NTLM side
    // continues from its NEGOTIATE in a NegTokenResp; the same two server tokens.
    let mut sw = NtlmAuthenticator::new(creds.clone());
    if sw.switch_from(vec![0x30, 0x00]).is_ok() {
        let (a, b) = data.split_at(usize::from(*data.first().unwrap_or(&0)).min(data.len()));
        if sw.step(a, &mut ctx).is_ok() {
            let _ = sw.step(b, &mut ctx);
        }
        let _ = sw.session_key();
    }
    let mut anon = NtlmAuthenticator::anonymous();
    if anon.step(&[], &mut ctx).is_ok() {
        let _ = anon.step(data, &mut ctx);
    }
    // The test acceptor (used by the scripted server) must not panic either.
    let mut acc = NtlmAcceptor::new(creds.clone(), [1; 8], Some(0));
    let _ = acc.step(data);
    // ... also after it chose NTLMSSP from a Kerberos-first list (awaiting NEGOTIATE).
    let mut acc = NtlmAcceptor::new(creds, [1; 8], Some(0));
    let first = NegTokenInit {
        mech_types: vec![OID_KRB5, OID_NTLMSSP],
        mech_token: Some(b"krb"),
    }
    .encode();
    if acc.step(&first).is_ok() {
        let _ = acc.step(data);
    }
});
