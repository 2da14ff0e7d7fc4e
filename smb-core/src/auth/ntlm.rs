//! NTLMSSP ([MS-NLMP]): the three messages, AV pairs, the NTLMv2 computations and the session
//! security (signing/sealing) needed for SPNEGO's mechListMIC.
//!
//! Only NTLMv2 with extended session security is produced: never LM or NTLMv1 responses.
//! The message types here encode and decode in both directions so that tests and the scripted
//! in-memory server can play the server side ([`ChallengeMessage::encode`],
//! [`AuthenticateMessage::decode`]).

use alloc::vec::Vec;
use core::fmt;

use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use rc4::{KeyInit, Rc4, StreamCipher, consts::U16};
use zeroize::Zeroizing;

use super::AuthError;
use crate::wire::{patch_u16, patch_u32, slice_at};

/// `"NTLMSSP\0"`, the first 8 bytes of every message ([MS-NLMP] 2.2.1).
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// Byte offset of the MIC in an AUTHENTICATE_MESSAGE that carries one ([MS-NLMP] 2.2.1.3).
pub const MIC_OFFSET: usize = 72;

fn malformed(what: &'static str) -> AuthError {
    AuthError::MalformedToken { what }
}

/// NegotiateFlags ([MS-NLMP] 2.2.2.5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NegotiateFlags(pub u32);

impl NegotiateFlags {
    /// A: Unicode strings.
    pub const UNICODE: Self = Self(0x0000_0001);
    /// B: OEM strings.
    pub const OEM: Self = Self(0x0000_0002);
    /// C: the server should return its TargetName.
    pub const REQUEST_TARGET: Self = Self(0x0000_0004);
    /// D: message integrity.
    pub const SIGN: Self = Self(0x0000_0010);
    /// E: message confidentiality.
    pub const SEAL: Self = Self(0x0000_0020);
    /// F: connectionless mode.
    pub const DATAGRAM: Self = Self(0x0000_0040);
    /// G: LAN Manager session key (never used here).
    pub const LM_KEY: Self = Self(0x0000_0080);
    /// H: NTLM v1 session security (set by every client, required by servers).
    pub const NTLM: Self = Self(0x0000_0200);
    /// J: anonymous connection.
    pub const ANONYMOUS: Self = Self(0x0000_0800);
    /// K: the NEGOTIATE message carries a domain name.
    pub const OEM_DOMAIN_SUPPLIED: Self = Self(0x0000_1000);
    /// L: the NEGOTIATE message carries a workstation name.
    pub const OEM_WORKSTATION_SUPPLIED: Self = Self(0x0000_2000);
    /// M: a dummy signature on every message.
    pub const ALWAYS_SIGN: Self = Self(0x0000_8000);
    /// N: TargetName is a domain name.
    pub const TARGET_TYPE_DOMAIN: Self = Self(0x0001_0000);
    /// O: TargetName is a server name.
    pub const TARGET_TYPE_SERVER: Self = Self(0x0002_0000);
    /// P: extended session security (NTLM2 session keys and signatures).
    pub const EXTENDED_SESSIONSECURITY: Self = Self(0x0008_0000);
    /// Q: identify-level token.
    pub const IDENTIFY: Self = Self(0x0010_0000);
    /// R: LMOWF session key.
    pub const REQUEST_NON_NT_SESSION_KEY: Self = Self(0x0040_0000);
    /// S: the CHALLENGE carries TargetInfo.
    pub const TARGET_INFO: Self = Self(0x0080_0000);
    /// T: the Version field is populated.
    pub const VERSION: Self = Self(0x0200_0000);
    /// U: 128-bit session key.
    pub const NEGOTIATE_128: Self = Self(0x2000_0000);
    /// V: explicit key exchange (EncryptedRandomSessionKey).
    pub const KEY_EXCH: Self = Self(0x4000_0000);
    /// W: 56-bit encryption.
    pub const NEGOTIATE_56: Self = Self(0x8000_0000);

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// Bitwise or.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    /// Bitwise and.
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }
    /// `self` without the bits of `other`.
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// What this client asks for in NEGOTIATE_MESSAGE ([MS-NLMP] 3.1.5.1.1), as current
    /// Windows and Samba clients do: Unicode, NTLM, extended session security, 128/56-bit,
    /// key exchange, sign, seal, always-sign, request target, version. No OEM, no LM key.
    pub const CLIENT_DEFAULT: Self = Self(
        Self::UNICODE.0
            | Self::REQUEST_TARGET.0
            | Self::SIGN.0
            | Self::SEAL.0
            | Self::NTLM.0
            | Self::ALWAYS_SIGN.0
            | Self::EXTENDED_SESSIONSECURITY.0
            | Self::VERSION.0
            | Self::NEGOTIATE_128.0
            | Self::KEY_EXCH.0
            | Self::NEGOTIATE_56.0,
    );
}

impl fmt::Debug for NegotiateFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NegotiateFlags({:#010x})", self.0)
    }
}

/// The VERSION structure ([MS-NLMP] 2.2.2.10). Informational only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtlmVersion {
    /// ProductMajorVersion.
    pub major: u8,
    /// ProductMinorVersion.
    pub minor: u8,
    /// ProductBuild.
    pub build: u16,
    /// NTLMRevisionCurrent (15 = NTLMSSP_REVISION_W2K3).
    pub revision: u8,
}

impl NtlmVersion {
    /// What this client reports: 6.1 (the first version with the MIC), build 0, revision 15.
    pub const CLIENT: NtlmVersion = NtlmVersion {
        major: 6,
        minor: 1,
        build: 0,
        revision: 15,
    };

    /// The 8 wire bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        let b = self.build.to_le_bytes();
        [self.major, self.minor, b[0], b[1], 0, 0, 0, self.revision]
    }

    /// From the 8 wire bytes.
    pub fn from_bytes(b: [u8; 8]) -> Self {
        NtlmVersion {
            major: b[0],
            minor: b[1],
            build: u16::from_le_bytes([b[2], b[3]]),
            revision: b[7],
        }
    }
}

fn check_header(msg: &[u8], ty: u32, what: &'static str) -> Result<(), AuthError> {
    if msg.len() < 12 || &msg[..8] != SIGNATURE {
        return Err(malformed(what));
    }
    if u32::from_le_bytes([msg[8], msg[9], msg[10], msg[11]]) != ty {
        return Err(malformed(what));
    }
    Ok(())
}

fn le16(msg: &[u8], pos: usize) -> u16 {
    u16::from_le_bytes([msg[pos], msg[pos + 1]])
}
fn le32(msg: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes([msg[pos], msg[pos + 1], msg[pos + 2], msg[pos + 3]])
}

/// Read the security buffer descriptor (Len, MaxLen, Offset) at `pos` (which the caller has
/// checked lies inside `msg`) and return the bytes it points to.
fn sec_buf<'a>(
    msg: &'a [u8],
    pos: usize,
    min: usize,
    what: &'static str,
) -> Result<&'a [u8], AuthError> {
    let len = usize::from(le16(msg, pos));
    let off = le32(msg, pos + 4) as usize;
    slice_at(msg, off, len, min, what).map_err(|_| malformed(what))
}

/// Write a security buffer descriptor for `len` bytes at payload offset `off`.
fn put_sec_buf(out: &mut [u8], pos: usize, len: usize, off: usize) {
    patch_u16(out, pos, len as u16);
    patch_u16(out, pos + 2, len as u16);
    patch_u32(out, pos + 4, off as u32);
}

/// Append the payloads after the fixed part, filling in their descriptors. Each entry is
/// (descriptor position, bytes). Fails if a field or the message is too large for the format.
fn put_payloads(out: &mut Vec<u8>, fields: &[(usize, &[u8])]) -> Result<(), AuthError> {
    for &(pos, data) in fields {
        let off = out.len();
        if data.len() > usize::from(u16::MAX) || off > u32::MAX as usize {
            return Err(AuthError::TokenTooLarge);
        }
        put_sec_buf(out, pos, data.len(), off);
        out.extend_from_slice(data);
    }
    Ok(())
}

/// NEGOTIATE_MESSAGE ([MS-NLMP] 2.2.1.1). The client never supplies a domain or workstation
/// here (the OEM_*_SUPPLIED flags are not set), so those fields are always empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateMessage {
    /// NegotiateFlags.
    pub flags: NegotiateFlags,
    /// The Version field, written when `flags` has VERSION.
    pub version: NtlmVersion,
}

impl NegotiateMessage {
    /// Encode: 40 bytes (header, flags, two empty security buffers, version).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&self.flags.0.to_le_bytes());
        // DomainNameFields and WorkstationFields: empty, offset at the end of the fixed part.
        for _ in 0..2 {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.extend_from_slice(&40u32.to_le_bytes());
        }
        let v = if self.flags.contains(NegotiateFlags::VERSION) {
            self.version.to_bytes()
        } else {
            [0; 8]
        };
        out.extend_from_slice(&v);
        out
    }

    /// Decode (the domain and workstation fields are checked but not kept).
    pub fn decode(msg: &[u8]) -> Result<Self, AuthError> {
        check_header(msg, 1, "NEGOTIATE_MESSAGE")?;
        if msg.len() < 16 {
            return Err(malformed("NEGOTIATE_MESSAGE"));
        }
        let flags = NegotiateFlags(le32(msg, 12));
        let mut version = NtlmVersion::from_bytes([0; 8]);
        if msg.len() >= 32 {
            sec_buf(msg, 16, 32, "NEGOTIATE DomainName")?;
            sec_buf(msg, 24, 32, "NEGOTIATE Workstation")?;
        }
        if msg.len() >= 40 && flags.contains(NegotiateFlags::VERSION) {
            let mut v = [0u8; 8];
            v.copy_from_slice(&msg[32..40]);
            version = NtlmVersion::from_bytes(v);
        }
        Ok(NegotiateMessage { flags, version })
    }
}

/// CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeMessage<'a> {
    /// NegotiateFlags chosen by the server.
    pub flags: NegotiateFlags,
    /// The 8-byte server challenge.
    pub server_challenge: [u8; 8],
    /// TargetName, raw (UTF-16LE when UNICODE is negotiated).
    pub target_name: &'a [u8],
    /// TargetInfo, raw AV pairs (see [`parse_av_pairs`]); empty if the server sent none.
    pub target_info: &'a [u8],
    /// The Version field, when VERSION is set and the message is long enough.
    pub version: Option<NtlmVersion>,
}

impl<'a> ChallengeMessage<'a> {
    /// Decode. Old servers send only the first 32 bytes (no TargetInfo, no Version): accepted.
    pub fn decode(msg: &'a [u8]) -> Result<Self, AuthError> {
        check_header(msg, 2, "CHALLENGE_MESSAGE")?;
        if msg.len() < 32 {
            return Err(malformed("CHALLENGE_MESSAGE too short"));
        }
        let flags = NegotiateFlags(le32(msg, 20));
        let mut server_challenge = [0u8; 8];
        server_challenge.copy_from_slice(&msg[24..32]);
        let target_name = sec_buf(msg, 12, 32, "CHALLENGE TargetName")?;
        let target_info = if msg.len() >= 48 {
            sec_buf(msg, 40, 48, "CHALLENGE TargetInfo")?
        } else {
            &[]
        };
        let version = if msg.len() >= 56 && flags.contains(NegotiateFlags::VERSION) {
            let mut v = [0u8; 8];
            v.copy_from_slice(&msg[48..56]);
            Some(NtlmVersion::from_bytes(v))
        } else {
            None
        };
        Ok(ChallengeMessage {
            flags,
            server_challenge,
            target_name,
            target_info,
            version,
        })
    }

    /// Encode (for tests and scripted servers): 56-byte fixed part, then TargetName and
    /// TargetInfo.
    pub fn encode(&self) -> Result<Vec<u8>, AuthError> {
        let mut out = Vec::with_capacity(56 + self.target_name.len() + self.target_info.len());
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // TargetNameFields, patched below
        out.extend_from_slice(&self.flags.0.to_le_bytes());
        out.extend_from_slice(&self.server_challenge);
        out.extend_from_slice(&[0; 8]); // Reserved
        out.extend_from_slice(&[0; 8]); // TargetInfoFields, patched below
        out.extend_from_slice(&self.version.map(NtlmVersion::to_bytes).unwrap_or([0; 8]));
        put_payloads(&mut out, &[(12, self.target_name), (40, self.target_info)])?;
        Ok(out)
    }
}

/// AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3). Strings are raw UTF-16LE bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticateMessage<'a> {
    /// NegotiateFlags the client settled on.
    pub flags: NegotiateFlags,
    /// LmChallengeResponse (LMv2, Z(24) or Z(1) for anonymous).
    pub lm_response: &'a [u8],
    /// NtChallengeResponse (NTLMv2_RESPONSE, empty for anonymous).
    pub nt_response: &'a [u8],
    /// DomainName.
    pub domain: &'a [u8],
    /// UserName.
    pub user: &'a [u8],
    /// Workstation.
    pub workstation: &'a [u8],
    /// EncryptedRandomSessionKey (empty unless KEY_EXCH).
    pub encrypted_session_key: &'a [u8],
    /// Version (always 8 bytes on the wire; zero unless VERSION is set).
    pub version: NtlmVersion,
    /// MIC: present when the client sends one (the fixed part is then 88 bytes, not 72).
    pub mic: Option<[u8; 16]>,
}

impl<'a> AuthenticateMessage<'a> {
    /// Encode. Payload order: domain, user, workstation, LM, NT, session key (the order of
    /// the [MS-NLMP] 4.2.4.3 example).
    pub fn encode(&self) -> Result<Vec<u8>, AuthError> {
        let mut out = Vec::with_capacity(
            88 + self.lm_response.len()
                + self.nt_response.len()
                + self.domain.len()
                + self.user.len()
                + self.workstation.len()
                + self.encrypted_session_key.len(),
        );
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.resize(60, 0); // six security buffers, patched below
        out.extend_from_slice(&self.flags.0.to_le_bytes());
        let v = if self.flags.contains(NegotiateFlags::VERSION) {
            self.version.to_bytes()
        } else {
            [0; 8]
        };
        out.extend_from_slice(&v);
        if let Some(mic) = self.mic {
            out.extend_from_slice(&mic);
        }
        put_payloads(
            &mut out,
            &[
                (28, self.domain),
                (36, self.user),
                (44, self.workstation),
                (12, self.lm_response),
                (20, self.nt_response),
                (52, self.encrypted_session_key),
            ],
        )?;
        Ok(out)
    }

    /// Decode. The MIC is taken to be present when every non-empty payload starts at or
    /// after byte 88 (clients that send a MIC also send the MsvAvFlags bit in the NT response).
    pub fn decode(msg: &'a [u8]) -> Result<Self, AuthError> {
        check_header(msg, 3, "AUTHENTICATE_MESSAGE")?;
        if msg.len() < 64 {
            return Err(malformed("AUTHENTICATE_MESSAGE too short"));
        }
        let lm_response = sec_buf(msg, 12, 64, "AUTHENTICATE LmChallengeResponse")?;
        let nt_response = sec_buf(msg, 20, 64, "AUTHENTICATE NtChallengeResponse")?;
        let domain = sec_buf(msg, 28, 64, "AUTHENTICATE DomainName")?;
        let user = sec_buf(msg, 36, 64, "AUTHENTICATE UserName")?;
        let workstation = sec_buf(msg, 44, 64, "AUTHENTICATE Workstation")?;
        let encrypted_session_key = sec_buf(msg, 52, 64, "AUTHENTICATE EncryptedRandomSessionKey")?;
        let flags = NegotiateFlags(le32(msg, 60));
        let mut first_payload = msg.len();
        for pos in [12, 20, 28, 36, 44, 52] {
            if le16(msg, pos) != 0 {
                first_payload = first_payload.min(le32(msg, pos + 4) as usize);
            }
        }
        let mut version = NtlmVersion::from_bytes([0; 8]);
        if first_payload >= 72 && msg.len() >= 72 {
            let mut v = [0u8; 8];
            v.copy_from_slice(&msg[64..72]);
            version = NtlmVersion::from_bytes(v);
        }
        let mic = if first_payload >= 88 && msg.len() >= 88 {
            let mut m = [0u8; 16];
            m.copy_from_slice(&msg[72..88]);
            Some(m)
        } else {
            None
        };
        Ok(AuthenticateMessage {
            flags,
            lm_response,
            nt_response,
            domain,
            user,
            workstation,
            encrypted_session_key,
            version,
            mic,
        })
    }
}

/// AV pair ids ([MS-NLMP] 2.2.2.1).
pub mod av_id {
    /// MsvAvEOL: end of list.
    pub const EOL: u16 = 0;
    /// MsvAvNbComputerName.
    pub const NB_COMPUTER_NAME: u16 = 1;
    /// MsvAvNbDomainName.
    pub const NB_DOMAIN_NAME: u16 = 2;
    /// MsvAvDnsComputerName.
    pub const DNS_COMPUTER_NAME: u16 = 3;
    /// MsvAvDnsDomainName.
    pub const DNS_DOMAIN_NAME: u16 = 4;
    /// MsvAvDnsTreeName.
    pub const DNS_TREE_NAME: u16 = 5;
    /// MsvAvFlags (u32; 0x2 = the AUTHENTICATE message carries a MIC).
    pub const FLAGS: u16 = 6;
    /// MsvAvTimestamp (FILETIME).
    pub const TIMESTAMP: u16 = 7;
    /// MsvAvSingleHost.
    pub const SINGLE_HOST: u16 = 8;
    /// MsvAvTargetName (the SPN the client meant to reach).
    pub const TARGET_NAME: u16 = 9;
    /// MsvAvChannelBindings (MD5 of gss_channel_bindings_struct).
    pub const CHANNEL_BINDINGS: u16 = 10;
}

/// MsvAvFlags bit: the AUTHENTICATE_MESSAGE carries a MIC ([MS-NLMP] 2.2.2.1).
pub const AV_FLAG_MIC_PRESENT: u32 = 0x2;

/// One AV_PAIR ([MS-NLMP] 2.2.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvPair<'a> {
    /// AvId (see [`av_id`]).
    pub id: u16,
    /// Value.
    pub value: &'a [u8],
}

/// Parse a TargetInfo list up to MsvAvEOL (bytes after it are ignored; a list that ends
/// without MsvAvEOL is accepted). Every length is checked.
pub fn parse_av_pairs(buf: &[u8]) -> Result<Vec<AvPair<'_>>, AuthError> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(malformed("AV_PAIR header"));
        }
        let id = le16(rest, 0);
        let len = usize::from(le16(rest, 2));
        if id == av_id::EOL {
            break;
        }
        let value = rest.get(4..4 + len).ok_or(malformed("AV_PAIR value"))?;
        out.push(AvPair { id, value });
        rest = &rest[4 + len..];
    }
    Ok(out)
}

/// Encode AV pairs, adding the terminating MsvAvEOL.
pub fn encode_av_pairs(pairs: &[AvPair<'_>]) -> Result<Vec<u8>, AuthError> {
    let mut out = Vec::new();
    for p in pairs {
        let len = u16::try_from(p.value.len()).map_err(|_| AuthError::TokenTooLarge)?;
        out.extend_from_slice(&p.id.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(p.value);
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    Ok(out)
}

/// The MsvAvTimestamp value, if present (and 8 bytes long).
pub fn av_timestamp(pairs: &[AvPair<'_>]) -> Result<Option<u64>, AuthError> {
    match pairs.iter().find(|p| p.id == av_id::TIMESTAMP) {
        None => Ok(None),
        Some(p) => {
            let b: [u8; 8] = p
                .value
                .try_into()
                .map_err(|_| malformed("MsvAvTimestamp"))?;
            Ok(Some(u64::from_le_bytes(b)))
        }
    }
}

/// HMAC-MD5 over the concatenation of `parts`.
pub fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// UTF-16LE bytes of `s`.
pub fn utf16le(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2);
    crate::wire::put_utf16le(&mut out, s);
    out
}

/// The NT hash: MD4(UTF-16LE(password)) ([MS-NLMP] 3.3.1 NTOWFv1).
pub fn nt_hash(password: &str) -> Zeroizing<[u8; 16]> {
    let pw = Zeroizing::new(utf16le(password));
    Zeroizing::new(Md4::digest(&pw[..]).into())
}

/// NTOWFv2 = HMAC_MD5(NT hash, UTF-16LE(Uppercase(user) ‖ domain)) ([MS-NLMP] 3.3.2). The
/// upper-casing maps each character to its single-character upper case, as Windows does
/// (characters whose upper case is several characters are kept).
pub fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> Zeroizing<[u8; 16]> {
    let mut ident = alloc::string::String::with_capacity(user.len() + domain.len());
    for c in user.chars() {
        let mut up = c.to_uppercase();
        match (up.next(), up.next()) {
            (Some(u), None) => ident.push(u),
            _ => ident.push(c),
        }
    }
    ident.push_str(domain);
    Zeroizing::new(hmac_md5(nt_hash, &[&utf16le(&ident)]))
}

/// Results of the NTLMv2 computation ([MS-NLMP] 3.3.2).
pub struct Ntlmv2Response {
    /// NtChallengeResponse = NTProofStr ‖ temp.
    pub nt_response: Vec<u8>,
    /// LmChallengeResponse: LMv2 or Z(24).
    pub lm_response: Vec<u8>,
    /// SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr); also the KeyExchangeKey for v2.
    pub session_base_key: Zeroizing<[u8; 16]>,
}

impl fmt::Debug for Ntlmv2Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ntlmv2Response")
            .field("nt_response", &self.nt_response)
            .field("lm_response", &self.lm_response)
            .field("session_base_key", &"[redacted]")
            .finish()
    }
}

/// Compute the NTLMv2 responses ([MS-NLMP] 3.3.2). `response_key` is NTOWFv2 (also
/// ResponseKeyLM), `time` the FILETIME for the blob, `target_info` the AV pairs exactly as
/// they go into the AUTHENTICATE message. `lmv2` selects the LMv2 response; otherwise it is
/// Z(24) (what 3.3.2 asks for when the server sent MsvAvTimestamp).
pub fn ntlmv2_response(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    time: u64,
    target_info: &[u8],
    lmv2: bool,
) -> Ntlmv2Response {
    // temp = Responserversion ‖ HiResponserversion ‖ Z(6) ‖ Time ‖ ClientChallenge ‖ Z(4)
    //        ‖ ServerName ‖ Z(4)
    let mut nt_response = Vec::with_capacity(16 + 28 + target_info.len() + 4);
    nt_response.extend_from_slice(&[0; 16]);
    nt_response.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    nt_response.extend_from_slice(&time.to_le_bytes());
    nt_response.extend_from_slice(client_challenge);
    nt_response.extend_from_slice(&[0; 4]);
    nt_response.extend_from_slice(target_info);
    nt_response.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(response_key, &[server_challenge, &nt_response[16..]]);
    nt_response[..16].copy_from_slice(&proof);
    let lm_response = if lmv2 {
        let mut lm = hmac_md5(response_key, &[server_challenge, client_challenge]).to_vec();
        lm.extend_from_slice(client_challenge);
        lm
    } else {
        alloc::vec![0; 24]
    };
    let session_base_key = Zeroizing::new(hmac_md5(response_key, &[&proof]));
    Ntlmv2Response {
        nt_response,
        lm_response,
        session_base_key,
    }
}

/// RC4K(key, data) ([MS-NLMP] 6): one-shot RC4 with a 16-byte key, used to carry the
/// ExportedSessionKey under the KeyExchangeKey (3.1.5.1.2).
pub fn rc4k(key: &[u8; 16], data: &[u8; 16]) -> Zeroizing<[u8; 16]> {
    let mut out = Zeroizing::new(*data);
    Rc4::<U16>::new(key.into()).apply_keystream(&mut out[..]);
    out
}

const CLIENT_SIGN_MAGIC: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SERVER_SIGN_MAGIC: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLIENT_SEAL_MAGIC: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SEAL_MAGIC: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// Which side's keys ([MS-NLMP] 3.4.5.2 / 3.4.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client-to-server keys.
    ClientToServer,
    /// Server-to-client keys.
    ServerToClient,
}

/// SIGNKEY with extended session security ([MS-NLMP] 3.4.5.2).
pub fn sign_key(exported_session_key: &[u8; 16], dir: Direction) -> Zeroizing<[u8; 16]> {
    let magic = match dir {
        Direction::ClientToServer => CLIENT_SIGN_MAGIC,
        Direction::ServerToClient => SERVER_SIGN_MAGIC,
    };
    Zeroizing::new(md5(&[exported_session_key, magic]))
}

/// SEALKEY with extended session security ([MS-NLMP] 3.4.5.3): the key is cut to 16, 7 or 5
/// bytes by NEGOTIATE_128 / NEGOTIATE_56 before hashing.
pub fn seal_key(
    exported_session_key: &[u8; 16],
    flags: NegotiateFlags,
    dir: Direction,
) -> Zeroizing<[u8; 16]> {
    let magic = match dir {
        Direction::ClientToServer => CLIENT_SEAL_MAGIC,
        Direction::ServerToClient => SERVER_SEAL_MAGIC,
    };
    let n = if flags.contains(NegotiateFlags::NEGOTIATE_128) {
        16
    } else if flags.contains(NegotiateFlags::NEGOTIATE_56) {
        7
    } else {
        5
    };
    Zeroizing::new(md5(&[&exported_session_key[..n], magic]))
}

/// One direction of NTLM session security: signing key, sealing RC4 state, sequence number.
struct Half {
    sign_key: Zeroizing<[u8; 16]>,
    seal: Rc4<U16>,
    seq: u32,
}

impl Half {
    fn new(key: &[u8; 16], flags: NegotiateFlags, dir: Direction) -> Self {
        let seal_key = seal_key(key, flags, dir);
        Half {
            sign_key: sign_key(key, dir),
            seal: Rc4::<U16>::new((&*seal_key).into()),
            seq: 0,
        }
    }

    /// MAC with extended session security ([MS-NLMP] 3.4.4.2): Version 1, the first 8 bytes
    /// of HMAC_MD5(SigningKey, SeqNum ‖ Message), RC4-encrypted with the sealing handle when
    /// KEY_EXCH was negotiated, then SeqNum. Advances the sequence number.
    fn mac(&mut self, msg: &[u8], key_exch: bool) -> [u8; 16] {
        let seq = self.seq.to_le_bytes();
        let full = hmac_md5(&self.sign_key[..], &[&seq, msg]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&full[..8]);
        if key_exch {
            self.seal.apply_keystream(&mut checksum);
        }
        self.seq = self.seq.wrapping_add(1);
        let mut sig = [0u8; 16];
        sig[..4].copy_from_slice(&1u32.to_le_bytes());
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq);
        sig
    }
}

/// NTLM session security for one established context, extended session security only
/// ([MS-NLMP] 3.4). SMB uses it for SPNEGO's mechListMIC; SMB's own signing uses the
/// ExportedSessionKey directly.
pub struct SessionSecurity {
    client: Half,
    server: Half,
    key_exch: bool,
}

impl fmt::Debug for SessionSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSecurity")
            .field("client_seq", &self.client.seq)
            .field("server_seq", &self.server.seq)
            .field("keys", &"[redacted]")
            .finish()
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl SessionSecurity {
    /// Keys from the ExportedSessionKey and the negotiated flags.
    pub fn new(exported_session_key: &[u8; 16], flags: NegotiateFlags) -> Self {
        SessionSecurity {
            client: Half::new(exported_session_key, flags, Direction::ClientToServer),
            server: Half::new(exported_session_key, flags, Direction::ServerToClient),
            key_exch: flags.contains(NegotiateFlags::KEY_EXCH),
        }
    }

    /// GSS_GetMICEx on the client side: the signature of `msg` with the client keys.
    pub fn client_sign(&mut self, msg: &[u8]) -> [u8; 16] {
        self.client.mac(msg, self.key_exch)
    }

    /// GSS_GetMICEx on the server side (for tests and scripted servers).
    pub fn server_sign(&mut self, msg: &[u8]) -> [u8; 16] {
        self.server.mac(msg, self.key_exch)
    }

    /// GSS_VerifyMICEx of a server signature on the client side.
    pub fn client_verify(&mut self, msg: &[u8], sig: &[u8]) -> bool {
        let expected = self.server.mac(msg, self.key_exch);
        ct_eq(&expected, sig)
    }

    /// GSS_VerifyMICEx of a client signature on the server side.
    pub fn server_verify(&mut self, msg: &[u8], sig: &[u8]) -> bool {
        let expected = self.client.mac(msg, self.key_exch);
        ct_eq(&expected, sig)
    }

    /// GSS_WrapEx on the client side ([MS-NLMP] 3.4.3): encrypt `msg` in place with the
    /// client sealing handle and return the signature of the plaintext.
    pub fn client_seal(&mut self, msg: &mut [u8]) -> [u8; 16] {
        // The signature covers the plaintext, but the RC4 stream encrypts the message first.
        let seq = self.client.seq.to_le_bytes();
        let full = hmac_md5(&self.client.sign_key[..], &[&seq, msg]);
        self.client.seal.apply_keystream(msg);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&full[..8]);
        if self.key_exch {
            self.client.seal.apply_keystream(&mut checksum);
        }
        self.client.seq = self.client.seq.wrapping_add(1);
        let mut sig = [0u8; 16];
        sig[..4].copy_from_slice(&1u32.to_le_bytes());
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq);
        sig
    }
}

#[cfg(test)]
mod tests {
    //! Vectors from [MS-NLMP] 4.2.1 and 4.2.4 (NTLMv2 authentication).
    use super::*;
    use alloc::vec;

    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
    const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];

    /// 4.2.4.3 CHALLENGE_MESSAGE.
    const CHALLENGE: [u8; 104] = [
        0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x0c,
        0x00, 0x38, 0x00, 0x00, 0x00, 0x33, 0x82, 0x8a, 0xe2, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
        0xcd, 0xef, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x24, 0x00, 0x44,
        0x00, 0x00, 0x00, 0x06, 0x00, 0x70, 0x17, 0x00, 0x00, 0x00, 0x0f, 0x53, 0x00, 0x65, 0x00,
        0x72, 0x00, 0x76, 0x00, 0x65, 0x00, 0x72, 0x00, 0x02, 0x00, 0x0c, 0x00, 0x44, 0x00, 0x6f,
        0x00, 0x6d, 0x00, 0x61, 0x00, 0x69, 0x00, 0x6e, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x53, 0x00,
        0x65, 0x00, 0x72, 0x00, 0x76, 0x00, 0x65, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// 4.2.4.3 AUTHENTICATE_MESSAGE.
    const AUTHENTICATE: [u8; 232] = [
        0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00, 0x03, 0x00, 0x00, 0x00, 0x18, 0x00, 0x18,
        0x00, 0x6c, 0x00, 0x00, 0x00, 0x54, 0x00, 0x54, 0x00, 0x84, 0x00, 0x00, 0x00, 0x0c, 0x00,
        0x0c, 0x00, 0x48, 0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x00, 0x54, 0x00, 0x00, 0x00, 0x10,
        0x00, 0x10, 0x00, 0x5c, 0x00, 0x00, 0x00, 0x10, 0x00, 0x10, 0x00, 0xd8, 0x00, 0x00, 0x00,
        0x35, 0x82, 0x88, 0xe2, 0x05, 0x01, 0x28, 0x0a, 0x00, 0x00, 0x00, 0x0f, 0x44, 0x00, 0x6f,
        0x00, 0x6d, 0x00, 0x61, 0x00, 0x69, 0x00, 0x6e, 0x00, 0x55, 0x00, 0x73, 0x00, 0x65, 0x00,
        0x72, 0x00, 0x43, 0x00, 0x4f, 0x00, 0x4d, 0x00, 0x50, 0x00, 0x55, 0x00, 0x54, 0x00, 0x45,
        0x00, 0x52, 0x00, 0x86, 0xc3, 0x50, 0x97, 0xac, 0x9c, 0xec, 0x10, 0x25, 0x54, 0x76, 0x4a,
        0x57, 0xcc, 0xcc, 0x19, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x68, 0xcd, 0x0a,
        0xb8, 0x51, 0xe5, 0x1c, 0x96, 0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef, 0x6a, 0x1c, 0x01, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0c, 0x00,
        0x44, 0x00, 0x6f, 0x00, 0x6d, 0x00, 0x61, 0x00, 0x69, 0x00, 0x6e, 0x00, 0x01, 0x00, 0x0c,
        0x00, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00, 0x65, 0x00, 0x72, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc5, 0xda, 0xd2, 0x54, 0x4f, 0xc9, 0x79, 0x90, 0x94,
        0xce, 0x1c, 0xe9, 0x0b, 0xc9, 0xd0, 0x3e,
    ];

    fn hex(s: &str) -> Vec<u8> {
        let s: alloc::string::String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ntowf_v2_vector() {
        // 4.2.4.1.1
        let k = ntowf_v2(&nt_hash("Password"), "User", "Domain");
        assert_eq!(k[..], hex("0c868a403bfd7a93a3001ef22ef02e3f")[..]);
        // 4.2.2.1.2 NTOWFv1 (the NT hash).
        assert_eq!(
            nt_hash("Password")[..],
            hex("a4f49c406510bdcab6824ee7c30fd852")[..]
        );
    }

    #[test]
    fn ntlmv2_response_vectors() {
        let chal = ChallengeMessage::decode(&CHALLENGE).unwrap();
        assert_eq!(chal.server_challenge, SERVER_CHALLENGE);
        assert_eq!(chal.flags, NegotiateFlags(0xe28a8233));
        assert_eq!(chal.target_name, &utf16le("Server")[..]);
        let pairs = parse_av_pairs(chal.target_info).unwrap();
        assert_eq!(
            pairs,
            vec![
                AvPair {
                    id: av_id::NB_DOMAIN_NAME,
                    value: &utf16le("Domain")
                },
                AvPair {
                    id: av_id::NB_COMPUTER_NAME,
                    value: &utf16le("Server")
                },
            ]
        );
        assert_eq!(av_timestamp(&pairs).unwrap(), None);
        assert_eq!(
            chal.version,
            Some(NtlmVersion {
                major: 6,
                minor: 0,
                build: 6000,
                revision: 15
            })
        );

        let key = ntowf_v2(&nt_hash("Password"), "User", "Domain");
        let r = ntlmv2_response(
            &key,
            &SERVER_CHALLENGE,
            &CLIENT_CHALLENGE,
            0,
            chal.target_info,
            true,
        );
        // 4.2.4.2.1 LMv2 response
        assert_eq!(
            r.lm_response,
            hex("86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa")
        );
        // 4.2.4.2.2 NTProofStr
        assert_eq!(
            r.nt_response[..16],
            hex("68cd0ab851e51c96aabc927bebef6a1c")[..]
        );
        // 4.2.4.1.2 SessionBaseKey
        assert_eq!(
            r.session_base_key[..],
            hex("8de40ccadbc14a82f15cb0ad0de95ca3")[..]
        );
        // 4.2.4.2.3 EncryptedSessionKey = RC4K(KeyExchangeKey = SessionBaseKey, 55..55)
        let enc = rc4k(&r.session_base_key, &RANDOM_SESSION_KEY);
        assert_eq!(enc[..], hex("c5dad2544fc9799094ce1ce90bc9d03e")[..]);
        // Decrypting gives the key back.
        assert_eq!(*rc4k(&r.session_base_key, &enc), RANDOM_SESSION_KEY);

        // 4.2.4.3 AUTHENTICATE_MESSAGE, byte for byte.
        let domain = utf16le("Domain");
        let user = utf16le("User");
        let ws = utf16le("COMPUTER");
        let msg = AuthenticateMessage {
            flags: NegotiateFlags(0xe2888235),
            lm_response: &r.lm_response,
            nt_response: &r.nt_response,
            domain: &domain,
            user: &user,
            workstation: &ws,
            encrypted_session_key: &enc[..],
            version: NtlmVersion {
                major: 5,
                minor: 1,
                build: 2600,
                revision: 15,
            },
            mic: None,
        };
        let bytes = msg.encode().unwrap();
        assert_eq!(bytes, AUTHENTICATE);
        assert_eq!(AuthenticateMessage::decode(&AUTHENTICATE).unwrap(), msg);
    }

    #[test]
    fn gss_wrap_vector() {
        // 4.2.4.4: keys and GSS_WrapEx of "Plaintext" with RandomSessionKey 55..55.
        let flags = NegotiateFlags(0xe2888235);
        assert_eq!(
            seal_key(&RANDOM_SESSION_KEY, flags, Direction::ClientToServer)[..],
            hex("59f600973cc4960a25480a7c196e4c58")[..]
        );
        assert_eq!(
            sign_key(&RANDOM_SESSION_KEY, Direction::ClientToServer)[..],
            hex("4788dc861b4782f35d43fd98fe1a2d39")[..]
        );
        let mut sec = SessionSecurity::new(&RANDOM_SESSION_KEY, flags);
        let mut data = utf16le("Plaintext");
        let sig = sec.client_seal(&mut data);
        assert_eq!(data, hex("54e50165bf1936dc996020c1811b0f06fb5f"));
        assert_eq!(sig[..], hex("010000007fb38ec5c55d497600000000")[..]);
    }

    #[test]
    fn sign_and_verify_pair_up() {
        let flags = NegotiateFlags::CLIENT_DEFAULT;
        let mut client = SessionSecurity::new(&RANDOM_SESSION_KEY, flags);
        let mut server = SessionSecurity::new(&RANDOM_SESSION_KEY, flags);
        for msg in [&b"one"[..], b"two", b""] {
            let sig = client.client_sign(msg);
            assert!(server.server_verify(msg, &sig));
            let sig = server.server_sign(msg);
            assert!(client.client_verify(msg, &sig));
        }
        let sig = client.client_sign(b"x");
        assert!(!server.server_verify(b"y", &sig));
        // Without KEY_EXCH the checksum is not encrypted: it is the plain HMAC prefix.
        let mut plain =
            SessionSecurity::new(&RANDOM_SESSION_KEY, flags.without(NegotiateFlags::KEY_EXCH));
        let sig = plain.client_sign(b"m");
        let full = hmac_md5(
            &sign_key(&RANDOM_SESSION_KEY, Direction::ClientToServer)[..],
            &[&[0, 0, 0, 0], b"m"],
        );
        assert_eq!(sig[4..12], full[..8]);
    }

    #[test]
    fn messages_round_trip() {
        let neg = NegotiateMessage {
            flags: NegotiateFlags::CLIENT_DEFAULT,
            version: NtlmVersion::CLIENT,
        };
        let enc = neg.encode();
        assert_eq!(enc.len(), 40);
        assert_eq!(enc[12..16], 0xe2088235u32.to_le_bytes());
        assert_eq!(NegotiateMessage::decode(&enc).unwrap(), neg);

        let ti = encode_av_pairs(&[
            AvPair {
                id: av_id::NB_COMPUTER_NAME,
                value: &utf16le("SRV"),
            },
            AvPair {
                id: av_id::TIMESTAMP,
                value: &7u64.to_le_bytes(),
            },
        ])
        .unwrap();
        let chal = ChallengeMessage {
            flags: NegotiateFlags(0xe28a8215),
            server_challenge: SERVER_CHALLENGE,
            target_name: &[b'S', 0],
            target_info: &ti,
            version: Some(NtlmVersion::CLIENT),
        };
        let enc = chal.encode().unwrap();
        let dec = ChallengeMessage::decode(&enc).unwrap();
        assert_eq!(dec, chal);
        assert_eq!(
            av_timestamp(&parse_av_pairs(dec.target_info).unwrap()).unwrap(),
            Some(7)
        );

        let auth = AuthenticateMessage {
            flags: NegotiateFlags::CLIENT_DEFAULT,
            lm_response: &[0; 24],
            nt_response: &[1; 60],
            domain: &[],
            user: &[b'u', 0],
            workstation: &[],
            encrypted_session_key: &[2; 16],
            version: NtlmVersion::CLIENT,
            mic: Some([3; 16]),
        };
        let enc = auth.encode().unwrap();
        assert_eq!(enc[MIC_OFFSET..MIC_OFFSET + 16], [3; 16]);
        assert_eq!(AuthenticateMessage::decode(&enc).unwrap(), auth);
    }

    #[test]
    fn truncations_and_garbage_fail_cleanly() {
        for cut in 0..CHALLENGE.len() {
            // Short challenges (>= 32 bytes) may legitimately decode; nothing may panic.
            let r = ChallengeMessage::decode(&CHALLENGE[..cut]);
            if cut < 32 {
                assert!(r.is_err());
            } else if cut < CHALLENGE.len() {
                // The payload lies beyond the cut.
                assert!(r.is_err(), "cut {cut}");
            }
        }
        for cut in 0..AUTHENTICATE.len() {
            assert!(
                AuthenticateMessage::decode(&AUTHENTICATE[..cut]).is_err(),
                "cut {cut}"
            );
        }
        // Offset pointing past the end, and huge offsets.
        let mut bad = CHALLENGE;
        bad[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ChallengeMessage::decode(&bad).is_err());
        // Wrong signature / type.
        let mut bad = CHALLENGE;
        bad[0] = b'X';
        assert!(ChallengeMessage::decode(&bad).is_err());
        assert!(NegotiateMessage::decode(&CHALLENGE).is_err());
        // AV pairs: truncated header, truncated value, missing EOL accepted.
        assert!(parse_av_pairs(&[1, 0, 4]).is_err());
        assert!(parse_av_pairs(&[1, 0, 4, 0, 1, 2]).is_err());
        assert_eq!(parse_av_pairs(&[1, 0, 2, 0, 1, 2]).unwrap().len(), 1);
        assert!(
            av_timestamp(&[AvPair {
                id: av_id::TIMESTAMP,
                value: &[1, 2]
            }])
            .is_err()
        );
    }

    #[test]
    fn uppercase_is_per_character() {
        // "ß" has a two-character upper case; it stays as it is.
        let h = nt_hash("");
        assert_eq!(
            ntowf_v2(&h, "straße", "D")[..],
            ntowf_v2(&h, "STRAßE", "D")[..]
        );
        assert_ne!(ntowf_v2(&h, "user", "D")[..], ntowf_v2(&h, "user", "d")[..]);
    }
}
