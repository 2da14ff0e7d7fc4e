//! SPNEGO tokens ([RFC 4178], [MS-SPNG] 2.2): NegTokenInit (wrapped in the GSS-API
//! InitialContextToken, [RFC 2743] 3.1) and NegTokenResp.
//!
//! OIDs are handled as the contents octets of their DER encoding (what follows `06 len`), which
//! is all SPNEGO needs: they are only compared and copied.

use alloc::vec::Vec;

use super::AuthError;
use super::der::{self, DerReader, context};

/// SPNEGO, 1.3.6.1.5.5.2 ([RFC 4178] 4.1).
pub const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// NTLMSSP, 1.3.6.1.4.1.311.2.2.10 ([MS-NLMP] 1.9).
pub const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/// Kerberos 5, 1.2.840.113554.1.2.2 ([RFC 4121]).
pub const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// Microsoft's legacy Kerberos 5 OID, 1.2.840.48018.1.2.2 ([MS-SPNG] 3.1.5.2).
pub const OID_MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// NEGOEX, 1.3.6.1.4.1.311.2.2.30 ([MS-NEGOEX]).
pub const OID_NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];

fn malformed(what: &'static str) -> AuthError {
    AuthError::MalformedToken { what }
}

/// The negotiation state of a NegTokenResp ([RFC 4178] 4.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegState {
    /// accept-completed (0): the acceptor is done and the context is established.
    AcceptCompleted,
    /// accept-incomplete (1): more tokens are needed.
    AcceptIncomplete,
    /// reject (2): the acceptor refused the context.
    Reject,
    /// request-mic (3): the acceptor wants a mechListMIC ([RFC 4178] 5).
    RequestMic,
}

impl NegState {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(NegState::AcceptCompleted),
            1 => Some(NegState::AcceptIncomplete),
            2 => Some(NegState::Reject),
            3 => Some(NegState::RequestMic),
            _ => None,
        }
    }
    fn to_u8(self) -> u8 {
        match self {
            NegState::AcceptCompleted => 0,
            NegState::AcceptIncomplete => 1,
            NegState::Reject => 2,
            NegState::RequestMic => 3,
        }
    }
}

/// NegTokenInit ([RFC 4178] 4.2.1; [MS-SPNG] 2.2.1 NegTokenInit2). Sent by the client as its
/// first token, and by servers as the "hint" in the SMB2 NEGOTIATE response.
///
/// Decoding accepts and skips reqFlags `[1]`, negHints / mechListMIC `[3]` and mechListMIC
/// `[4]`: they carry nothing a client needs (the hint's negHints is the fixed string
/// "not_defined_in_RFC4178@please_ignore"). Encoding writes mechTypes and mechToken only.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NegTokenInit<'a> {
    /// The mechanism OIDs (contents octets), most preferred first.
    pub mech_types: Vec<&'a [u8]>,
    /// The optimistic token of the first mechanism.
    pub mech_token: Option<&'a [u8]>,
}

impl<'a> NegTokenInit<'a> {
    /// DER of the MechTypeList (`30 len 06 len oid ...`): what mechListMIC is computed over
    /// ([RFC 4178] 5 b).
    pub fn mech_types_der(&self) -> Vec<u8> {
        let mut oids = Vec::new();
        for oid in &self.mech_types {
            der::put_tlv(&mut oids, der::TAG_OID, oid);
        }
        der::tlv(der::TAG_SEQUENCE, &oids)
    }

    /// True if `oid` is in the mechanism list.
    pub fn offers(&self, oid: &[u8]) -> bool {
        self.mech_types.contains(&oid)
    }

    /// Encode as a GSS-API InitialContextToken: `60 len { 06 SPNEGO, a0 { 30 { ... } } }`.
    pub fn encode(&self) -> Vec<u8> {
        let mut seq = der::tlv(context(0), &self.mech_types_der());
        if let Some(tok) = self.mech_token {
            der::put_tlv(&mut seq, context(2), &der::tlv(der::TAG_OCTET_STRING, tok));
        }
        let mut inner = der::tlv(der::TAG_OID, OID_SPNEGO);
        der::put_tlv(&mut inner, context(0), &der::tlv(der::TAG_SEQUENCE, &seq));
        der::tlv(der::TAG_GSS_INITIAL, &inner)
    }

    /// Decode a GSS-API InitialContextToken carrying SPNEGO's NegTokenInit. A bare
    /// `[0] NegTokenInit` (without the `60` wrapper) is accepted too.
    pub fn decode(token: &'a [u8]) -> Result<Self, AuthError> {
        let mut outer = DerReader::new(token);
        let choice = if outer.peek_tag() == Some(der::TAG_GSS_INITIAL) {
            let body = outer.expect(der::TAG_GSS_INITIAL, "GSS InitialContextToken")?;
            let mut r = DerReader::new(body);
            let oid = r.expect(der::TAG_OID, "GSS mechanism OID")?;
            if oid != OID_SPNEGO {
                return Err(AuthError::NotSpnego);
            }
            let choice = r.expect(context(0), "NegTokenInit")?;
            // RFC 2743 3.1: innerContextToken is the last element.
            if !r.is_empty() {
                return Err(malformed("trailing data in InitialContextToken"));
            }
            choice
        } else {
            outer.expect(context(0), "NegTokenInit")?
        };
        if !outer.is_empty() {
            return Err(malformed("trailing data after NegTokenInit"));
        }
        let seq = DerReader::new(choice).expect(der::TAG_SEQUENCE, "NegTokenInit sequence")?;
        let mut r = DerReader::new(seq);
        let mut out = NegTokenInit::default();
        if let Some(list) = r.optional(context(0), "mechTypes")? {
            let oids = DerReader::new(list).expect(der::TAG_SEQUENCE, "MechTypeList")?;
            let mut lr = DerReader::new(oids);
            while !lr.is_empty() {
                out.mech_types
                    .push(lr.expect(der::TAG_OID, "mechType OID")?);
            }
        }
        r.optional(context(1), "reqFlags")?;
        if let Some(tok) = r.optional(context(2), "mechToken")? {
            out.mech_token = Some(DerReader::new(tok).expect(der::TAG_OCTET_STRING, "mechToken")?);
        }
        r.optional(context(3), "negHints")?;
        r.optional(context(4), "mechListMIC")?;
        if !r.is_empty() {
            return Err(malformed("unknown NegTokenInit field"));
        }
        Ok(out)
    }
}

/// NegTokenResp ([RFC 4178] 4.2.2): every token after the first, in both directions.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NegTokenResp<'a> {
    /// negState `[0]`; present in the acceptor's first reply, optional afterwards.
    pub neg_state: Option<NegState>,
    /// supportedMech `[1]`: the acceptor's chosen mechanism (first reply only).
    pub supported_mech: Option<&'a [u8]>,
    /// responseToken `[2]`: the mechanism's token.
    pub response_token: Option<&'a [u8]>,
    /// mechListMIC `[3]`: the mechanism's MIC over the initiator's MechTypeList.
    pub mech_list_mic: Option<&'a [u8]>,
}

impl<'a> NegTokenResp<'a> {
    /// Encode as `a1 len { 30 len { ... } }`.
    pub fn encode(&self) -> Vec<u8> {
        let mut seq = Vec::new();
        if let Some(st) = self.neg_state {
            der::put_tlv(
                &mut seq,
                context(0),
                &der::tlv(der::TAG_ENUMERATED, &[st.to_u8()]),
            );
        }
        if let Some(oid) = self.supported_mech {
            der::put_tlv(&mut seq, context(1), &der::tlv(der::TAG_OID, oid));
        }
        if let Some(tok) = self.response_token {
            der::put_tlv(&mut seq, context(2), &der::tlv(der::TAG_OCTET_STRING, tok));
        }
        if let Some(mic) = self.mech_list_mic {
            der::put_tlv(&mut seq, context(3), &der::tlv(der::TAG_OCTET_STRING, mic));
        }
        der::tlv(context(1), &der::tlv(der::TAG_SEQUENCE, &seq))
    }

    /// Decode `a1 len { 30 len { ... } }`.
    pub fn decode(token: &'a [u8]) -> Result<Self, AuthError> {
        let mut outer = DerReader::new(token);
        let choice = outer.expect(context(1), "NegTokenResp")?;
        if !outer.is_empty() {
            return Err(malformed("trailing data after NegTokenResp"));
        }
        let seq = DerReader::new(choice).expect(der::TAG_SEQUENCE, "NegTokenResp sequence")?;
        let mut r = DerReader::new(seq);
        let mut out = NegTokenResp::default();
        if let Some(st) = r.optional(context(0), "negState")? {
            let v = DerReader::new(st).expect(der::TAG_ENUMERATED, "negState")?;
            let [b] = v else {
                return Err(malformed("negState"));
            };
            out.neg_state = Some(NegState::from_u8(*b).ok_or(malformed("negState value"))?);
        }
        if let Some(m) = r.optional(context(1), "supportedMech")? {
            out.supported_mech = Some(DerReader::new(m).expect(der::TAG_OID, "supportedMech")?);
        }
        if let Some(t) = r.optional(context(2), "responseToken")? {
            out.response_token =
                Some(DerReader::new(t).expect(der::TAG_OCTET_STRING, "responseToken")?);
        }
        if let Some(m) = r.optional(context(3), "mechListMIC")? {
            out.mech_list_mic =
                Some(DerReader::new(m).expect(der::TAG_OCTET_STRING, "mechListMIC")?);
        }
        if !r.is_empty() {
            return Err(malformed("unknown NegTokenResp field"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A NEGOTIATE-response hint as Samba sends it (mechanisms: MS-KRB5, KRB5, NTLMSSP, and
    /// negHints with the fixed principal), assembled here from its parts.
    fn samba_style_hint() -> Vec<u8> {
        let mut oids = Vec::new();
        for oid in [OID_MS_KRB5, OID_KRB5, OID_NTLMSSP] {
            der::put_tlv(&mut oids, der::TAG_OID, oid);
        }
        let mut seq = der::tlv(context(0), &der::tlv(der::TAG_SEQUENCE, &oids));
        let hint_name = der::tlv(
            context(0),
            &der::tlv(
                der::TAG_GENERAL_STRING,
                b"not_defined_in_RFC4178@please_ignore",
            ),
        );
        der::put_tlv(
            &mut seq,
            context(3),
            &der::tlv(der::TAG_SEQUENCE, &hint_name),
        );
        let mut inner = der::tlv(der::TAG_OID, OID_SPNEGO);
        der::put_tlv(&mut inner, context(0), &der::tlv(der::TAG_SEQUENCE, &seq));
        der::tlv(der::TAG_GSS_INITIAL, &inner)
    }

    #[test]
    fn parses_server_hint() {
        let hint = samba_style_hint();
        let init = NegTokenInit::decode(&hint).unwrap();
        assert_eq!(init.mech_types, vec![OID_MS_KRB5, OID_KRB5, OID_NTLMSSP]);
        assert!(init.offers(OID_NTLMSSP));
        assert!(!init.offers(OID_NEGOEX));
        assert_eq!(init.mech_token, None);
    }

    #[test]
    fn init_round_trip_and_known_bytes() {
        let init = NegTokenInit {
            mech_types: vec![OID_NTLMSSP],
            mech_token: Some(b"NTLMSSP\0\x01\0\0\0"),
        };
        let enc = init.encode();
        // 60 l 06 06 <spnego> a0 l 30 l a0 0e 30 0c 06 0a <ntlmssp> a2 l 04 l <token>
        assert_eq!(&enc[..2], &[0x60, 0x2c]);
        assert_eq!(
            &enc[2..10],
            &[0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]
        );
        assert_eq!(&enc[10..14], &[0xa0, 0x22, 0x30, 0x20]);
        assert_eq!(&enc[14..18], &[0xa0, 0x0e, 0x30, 0x0c]);
        assert_eq!(init.mech_types_der(), enc[16..30]);
        assert_eq!(NegTokenInit::decode(&enc).unwrap(), init);
        // The bare [0] form decodes to the same.
        assert_eq!(NegTokenInit::decode(&enc[10..]).unwrap(), init);
    }

    #[test]
    fn resp_round_trip() {
        let cases = [
            NegTokenResp::default(),
            NegTokenResp {
                neg_state: Some(NegState::AcceptIncomplete),
                supported_mech: Some(OID_NTLMSSP),
                response_token: Some(&[1, 2, 3]),
                mech_list_mic: None,
            },
            NegTokenResp {
                neg_state: Some(NegState::AcceptCompleted),
                supported_mech: None,
                response_token: None,
                mech_list_mic: Some(&[9; 16]),
            },
            NegTokenResp {
                neg_state: Some(NegState::RequestMic),
                supported_mech: Some(OID_KRB5),
                response_token: Some(&[7; 300]),
                mech_list_mic: Some(&[5; 16]),
            },
        ];
        for c in cases {
            let enc = c.encode();
            assert_eq!(NegTokenResp::decode(&enc).unwrap(), c);
            for cut in 0..enc.len() {
                assert!(NegTokenResp::decode(&enc[..cut]).is_err(), "prefix {cut}");
            }
        }
    }

    #[test]
    fn every_prefix_of_init_fails() {
        for tok in [
            samba_style_hint(),
            NegTokenInit {
                mech_types: vec![OID_NTLMSSP],
                mech_token: Some(&[1; 200]),
            }
            .encode(),
        ] {
            assert!(NegTokenInit::decode(&tok).is_ok());
            for cut in 0..tok.len() {
                assert!(NegTokenInit::decode(&tok[..cut]).is_err(), "prefix {cut}");
            }
        }
    }

    #[test]
    fn rejects_wrong_things() {
        // Kerberos-wrapped token is not SPNEGO.
        let mut inner = der::tlv(der::TAG_OID, OID_KRB5);
        inner.extend_from_slice(&[0x01, 0x00]);
        let tok = der::tlv(der::TAG_GSS_INITIAL, &inner);
        assert_eq!(NegTokenInit::decode(&tok), Err(AuthError::NotSpnego));
        // negState out of range.
        let bad = der::tlv(
            context(1),
            &der::tlv(
                der::TAG_SEQUENCE,
                &der::tlv(context(0), &der::tlv(der::TAG_ENUMERATED, &[7])),
            ),
        );
        assert!(NegTokenResp::decode(&bad).is_err());
        // A NegTokenInit is not a NegTokenResp and vice versa.
        let init = NegTokenInit {
            mech_types: vec![OID_NTLMSSP],
            mech_token: None,
        }
        .encode();
        assert!(NegTokenResp::decode(&init).is_err());
        assert!(NegTokenInit::decode(&NegTokenResp::default().encode()).is_err());
    }

    /// A Kerberos-preferred client's first token, byte for byte: [RFC 2743] 3.1 wrapper,
    /// SPNEGO OID, [0] NegTokenInit { [0] MechTypeList (MS-KRB5, KRB5, NTLMSSP), [2] token }.
    #[test]
    fn init_three_mechs_exact_bytes() {
        let init = NegTokenInit {
            mech_types: vec![OID_MS_KRB5, OID_KRB5, OID_NTLMSSP],
            mech_token: Some(&[0xde, 0xad]),
        };
        let mut want = vec![0x60, 0x38, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
        want.extend_from_slice(&[0xa0, 0x2e, 0x30, 0x2c, 0xa0, 0x24, 0x30, 0x22]);
        want.extend_from_slice(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
        ]);
        want.extend_from_slice(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
        ]);
        want.extend_from_slice(&[0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02]);
        want.extend_from_slice(&[0x02, 0x0a]);
        want.extend_from_slice(&[0xa2, 0x04, 0x04, 0x02, 0xde, 0xad]);
        assert_eq!(init.encode(), want);
        // The MIC covers exactly the SEQUENCE OF inside [0].
        assert_eq!(init.mech_types_der(), want[16..52]);
        assert_eq!(NegTokenInit::decode(&want).unwrap(), init);
    }

    /// A server's choice of NTLMSSP after a Kerberos-first offer, byte for byte:
    /// a1 { 30 { [0] ENUMERATED 1, [1] OID NTLMSSP } } (no responseToken, [RFC 4178] 5).
    #[test]
    fn resp_exact_bytes() {
        let mut want = vec![0xa1, 0x15, 0x30, 0x13, 0xa0, 0x03, 0x0a, 0x01, 0x01];
        want.extend_from_slice(&[0xa1, 0x0c, 0x06, 0x0a]);
        want.extend_from_slice(OID_NTLMSSP);
        let resp = NegTokenResp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(OID_NTLMSSP),
            ..Default::default()
        };
        assert_eq!(resp.encode(), want);
        assert_eq!(NegTokenResp::decode(&want).unwrap(), resp);
        // A final token with only a MIC: a1 07 30 05 a3 03 04 01 <mic>.
        let mic = NegTokenResp {
            mech_list_mic: Some(&[0x99]),
            ..Default::default()
        };
        assert_eq!(
            mic.encode(),
            [0xa1, 0x07, 0x30, 0x05, 0xa3, 0x03, 0x04, 0x01, 0x99]
        );
        // Long-form lengths decode (a 200-byte responseToken: 04 81 c8).
        let big = NegTokenResp {
            response_token: Some(&[3; 200]),
            ..Default::default()
        }
        .encode();
        assert_eq!(
            &big[..9],
            &[0xa1, 0x81, 0xd1, 0x30, 0x81, 0xce, 0xa2, 0x81, 0xcb]
        );
        assert_eq!(
            NegTokenResp::decode(&big)
                .unwrap()
                .response_token
                .unwrap()
                .len(),
            200
        );
    }

    /// Mechanism lists with OIDs nobody knows decode; the known ones are still found.
    #[test]
    fn unknown_oids_in_the_list() {
        let odd: &[u8] = &[0x2a, 0x03, 0x04, 0x05];
        let hint = NegTokenInit {
            mech_types: vec![OID_NEGOEX, odd, OID_NTLMSSP],
            mech_token: None,
        }
        .encode();
        let init = NegTokenInit::decode(&hint).unwrap();
        assert_eq!(init.mech_types, vec![OID_NEGOEX, odd, OID_NTLMSSP]);
        assert!(init.offers(OID_NTLMSSP) && !init.offers(OID_KRB5));
        // Only unknown ones: decodes, offers nothing we do.
        let none = NegTokenInit {
            mech_types: vec![odd],
            mech_token: None,
        }
        .encode();
        let init = NegTokenInit::decode(&none).unwrap();
        assert!(!init.offers(OID_NTLMSSP) && !init.offers(OID_KRB5) && !init.offers(OID_MS_KRB5));
    }

    /// Hostile NegTokenInit shapes: each is refused with an error, never a panic.
    #[test]
    fn hostile_init_shapes() {
        let wrap = |seq_body: &[u8]| {
            let mut inner = der::tlv(der::TAG_OID, OID_SPNEGO);
            der::put_tlv(
                &mut inner,
                context(0),
                &der::tlv(der::TAG_SEQUENCE, seq_body),
            );
            der::tlv(der::TAG_GSS_INITIAL, &inner)
        };
        let oid_list = der::tlv(der::TAG_SEQUENCE, &der::tlv(der::TAG_OID, OID_KRB5));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            // mechTypes [0] holding an OCTET STRING, not a SEQUENCE OF.
            (
                "list not a sequence",
                wrap(&der::tlv(
                    context(0),
                    &der::tlv(der::TAG_OCTET_STRING, b"x"),
                )),
            ),
            // An INTEGER inside the MechTypeList.
            (
                "non-OID in the list",
                wrap(&der::tlv(
                    context(0),
                    &der::tlv(der::TAG_SEQUENCE, &[0x02, 0x01, 0x05]),
                )),
            ),
            // mechToken [2] holding a SEQUENCE, not an OCTET STRING.
            (
                "token wrong tag",
                wrap(&der::tlv(context(2), &der::tlv(der::TAG_SEQUENCE, b""))),
            ),
            // A field [5] that NegTokenInit does not have.
            ("unknown field", wrap(&der::tlv(context(5), b""))),
            // Fields out of order: [2] before [0].
            ("out of order", {
                let mut b = der::tlv(context(2), &der::tlv(der::TAG_OCTET_STRING, b"t"));
                b.extend(der::tlv(context(0), &oid_list));
                wrap(&b)
            }),
            // An inner length that claims more than its parent holds.
            ("overlong inner", wrap(&[0xa0, 0x7f, 0x30, 0x00])),
            // An outer length of 4 GiB.
            (
                "overlong outer",
                vec![0x60, 0x84, 0xff, 0xff, 0xff, 0xff, 0x06],
            ),
            // Indefinite (BER) length.
            (
                "indefinite",
                vec![
                    0x60, 0x80, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0, 0,
                ],
            ),
            // Trailing bytes after the wrapper.
            ("trailing", {
                let mut t = wrap(&der::tlv(context(0), &oid_list));
                t.push(0);
                t
            }),
            // The [0] choice holding something that is not a SEQUENCE.
            ("choice not a sequence", {
                let mut inner = der::tlv(der::TAG_OID, OID_SPNEGO);
                der::put_tlv(
                    &mut inner,
                    context(0),
                    &der::tlv(der::TAG_OCTET_STRING, b""),
                );
                der::tlv(der::TAG_GSS_INITIAL, &inner)
            }),
            // A NegTokenResp choice [1] inside the InitialContextToken.
            ("resp in wrapper", {
                let mut inner = der::tlv(der::TAG_OID, OID_SPNEGO);
                der::put_tlv(&mut inner, context(1), &der::tlv(der::TAG_SEQUENCE, b""));
                der::tlv(der::TAG_GSS_INITIAL, &inner)
            }),
            ("empty", vec![]),
        ];
        for (name, tok) in cases {
            assert!(
                matches!(
                    NegTokenInit::decode(&tok),
                    Err(AuthError::MalformedToken { .. })
                ),
                "{name}: {:?}",
                NegTokenInit::decode(&tok)
            );
        }
        // Sanity: the well-formed base of the cases decodes.
        assert!(NegTokenInit::decode(&wrap(&der::tlv(context(0), &oid_list))).is_ok());
    }

    /// Hostile NegTokenResp shapes.
    #[test]
    fn hostile_resp_shapes() {
        let resp = |body: &[u8]| der::tlv(context(1), &der::tlv(der::TAG_SEQUENCE, body));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "negState two bytes",
                resp(&der::tlv(
                    context(0),
                    &der::tlv(der::TAG_ENUMERATED, &[0, 1]),
                )),
            ),
            (
                "negState empty",
                resp(&der::tlv(context(0), &der::tlv(der::TAG_ENUMERATED, &[]))),
            ),
            (
                "negState not ENUMERATED",
                resp(&der::tlv(context(0), &der::tlv(0x02, &[1]))),
            ),
            (
                "supportedMech not an OID",
                resp(&der::tlv(
                    context(1),
                    &der::tlv(der::TAG_OCTET_STRING, OID_KRB5),
                )),
            ),
            (
                "token not an OCTET STRING",
                resp(&der::tlv(context(2), &der::tlv(der::TAG_OID, b"x"))),
            ),
            (
                "MIC not an OCTET STRING",
                resp(&der::tlv(context(3), &der::tlv(der::TAG_SEQUENCE, b""))),
            ),
            ("unknown field [4]", resp(&der::tlv(context(4), b""))),
            (
                "overlong token",
                resp(&[0xa2, 0x04, 0x04, 0x84, 0x7f, 0xff]),
            ),
            ("trailing", {
                let mut t = resp(b"");
                t.extend_from_slice(&[0xa1, 0x00]);
                t
            }),
            (
                "wrong outer tag",
                der::tlv(context(2), &der::tlv(der::TAG_SEQUENCE, b"")),
            ),
            (
                "not a sequence",
                der::tlv(context(1), &der::tlv(der::TAG_OCTET_STRING, b"")),
            ),
        ];
        for (name, tok) in cases {
            assert!(
                matches!(
                    NegTokenResp::decode(&tok),
                    Err(AuthError::MalformedToken { .. })
                ),
                "{name}: {:?}",
                NegTokenResp::decode(&tok)
            );
        }
    }
}
