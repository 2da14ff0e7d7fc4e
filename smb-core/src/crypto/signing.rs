//! Message signing ([MS-SMB2] 3.1.4.1) and verification ([MS-SMB2] 3.2.5.1.3).

use super::{CryptoError, ct_eq};
use crate::wire::header::{Command, HEADER_LEN, HeaderFlags, SIGNATURE_RANGE};
use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit};
use alloc::boxed::Box;
use cmac::Cmac;
use core::fmt;
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Length of the header's Signature field.
pub const SIGNATURE_LEN: usize = 16;

const FLAGS_RANGE: core::ops::Range<usize> = 16..20;
const COMMAND_RANGE: core::ops::Range<usize> = 12..14;
const MESSAGE_ID_RANGE: core::ops::Range<usize> = 24..32;
const ZERO_SIGNATURE: [u8; SIGNATURE_LEN] = [0; SIGNATURE_LEN];

/// A signing algorithm ([MS-SMB2] 2.2.3.1.7 SIGNING_CAPABILITIES ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256 truncated to 16 bytes (dialects 2.0.2 and 2.1). Wire id 0.
    HmacSha256,
    /// AES-128-CMAC (3.0, 3.0.2, and 3.1.1 unless another algorithm is negotiated). Wire id 1.
    AesCmac,
    /// AES-128-GMAC (3.1.1 with SIGNING_CAPABILITIES). Wire id 2.
    AesGmac,
}

impl SigningAlgorithm {
    /// Every algorithm, fastest first (for tests and benchmarks that cover them all).
    pub const ALL: [SigningAlgorithm; 3] = [
        SigningAlgorithm::AesGmac,
        SigningAlgorithm::AesCmac,
        SigningAlgorithm::HmacSha256,
    ];

    /// The SigningAlgorithms wire id.
    pub const fn wire_id(self) -> u16 {
        match self {
            SigningAlgorithm::HmacSha256 => 0,
            SigningAlgorithm::AesCmac => 1,
            SigningAlgorithm::AesGmac => 2,
        }
    }

    /// Maps a SigningAlgorithms wire id; `None` for ids this crate does not know.
    pub const fn from_wire_id(id: u16) -> Option<SigningAlgorithm> {
        match id {
            0 => Some(SigningAlgorithm::HmacSha256),
            1 => Some(SigningAlgorithm::AesCmac),
            2 => Some(SigningAlgorithm::AesGmac),
            _ => None,
        }
    }
}

/// A MAC implementation for [`Signer`], for alternative crypto backends.
///
/// The signer does the SMB parts (signature field treated as zero, flags, the GMAC nonce);
/// the backend only computes a 16-byte tag over the concatenation of `parts`.
pub trait MacBackend: Send + Sync {
    /// Computes the tag of the concatenation of `parts`.
    ///
    /// - HMAC-SHA256: the first 16 bytes of the HMAC (`nonce` is ignored).
    /// - AES-CMAC: the CMAC (`nonce` is ignored).
    /// - AES-GMAC: the GCM tag with `parts` as AAD and empty plaintext, under `nonce`.
    ///
    /// A backend that cannot compute the tag fails with [`CryptoError::MacFailed`]: signing
    /// then fails and verification refuses the message.
    fn mac(
        &self,
        nonce: &[u8; 12],
        parts: &mut dyn Iterator<Item = &[u8]>,
    ) -> Result<[u8; 16], CryptoError>;
}

/// Signs and verifies SMB2 messages with one key.
///
/// All forms work on the message in place or over borrowed slices: no copy of the message
/// is made and the MAC is updated incrementally. The first slice always starts with the
/// 64-byte SMB2 header. In a compound chain each message is signed separately, over its
/// slice including the padding up to the next message ([MS-SMB2] 3.1.4.1).
pub struct Signer {
    algorithm: SigningAlgorithm,
    imp: Imp,
}

enum Imp {
    Hmac(Box<Hmac<Sha256>>),
    Cmac(Box<Cmac<Aes128>>),
    Gmac(Box<Gmac>),
    Backend(Box<dyn MacBackend>),
}

impl Signer {
    /// A signer using the built-in RustCrypto implementation. HMAC-SHA256 takes a key of
    /// any length (the 16-byte session key in practice); AES-CMAC and AES-GMAC need 16 bytes.
    pub fn new(algorithm: SigningAlgorithm, key: &[u8]) -> Result<Signer, CryptoError> {
        let imp = match algorithm {
            SigningAlgorithm::HmacSha256 => Imp::Hmac(Box::new(
                <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| bad_key(16, key))?,
            )),
            SigningAlgorithm::AesCmac => Imp::Cmac(Box::new(
                <Cmac<Aes128> as Mac>::new_from_slice(key).map_err(|_| bad_key(16, key))?,
            )),
            SigningAlgorithm::AesGmac => Imp::Gmac(Box::new(Gmac::new(key)?)),
        };
        Ok(Signer { algorithm, imp })
    }

    /// A signer whose MAC is computed by another backend.
    pub fn from_backend(algorithm: SigningAlgorithm, backend: Box<dyn MacBackend>) -> Signer {
        Signer {
            algorithm,
            imp: Imp::Backend(backend),
        }
    }

    /// The signer's algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// Signs one whole message in place: sets SMB2_FLAGS_SIGNED, zeroes the Signature
    /// field, computes the signature over the message and writes it into the field.
    pub fn sign(&self, msg: &mut [u8]) -> Result<(), CryptoError> {
        self.sign_parts(msg, &[])
    }

    /// Signs a message made of `header` (which starts with the 64-byte SMB2 header and may
    /// hold the body too) followed by the `rest` slices (e.g. a WRITE's data), without
    /// joining them. Only `header` is modified.
    pub fn sign_parts(&self, header: &mut [u8], rest: &[&[u8]]) -> Result<(), CryptoError> {
        if header.len() < HEADER_LEN {
            return Err(CryptoError::MessageTooShort { len: header.len() });
        }
        let mut flags = [0u8; 4];
        flags.copy_from_slice(&header[FLAGS_RANGE]);
        let flags = u32::from_le_bytes(flags) | HeaderFlags::SIGNED;
        header[FLAGS_RANGE].copy_from_slice(&flags.to_le_bytes());
        header[SIGNATURE_RANGE].fill(0);
        let tag = self.tag(header, rest)?;
        header[SIGNATURE_RANGE].copy_from_slice(&tag);
        Ok(())
    }

    /// Verifies a whole received message's signature (constant-time compare). The input
    /// is not modified: the Signature field is read as zeros by hashing around it.
    pub fn verify(&self, msg: &[u8]) -> Result<(), CryptoError> {
        self.verify_parts(msg, &[])
    }

    /// Verifies a message made of `header` followed by the `rest` slices.
    pub fn verify_parts(&self, header: &[u8], rest: &[&[u8]]) -> Result<(), CryptoError> {
        if header.len() < HEADER_LEN {
            return Err(CryptoError::MessageTooShort { len: header.len() });
        }
        let tag = self
            .tag(header, rest)
            .map_err(|_| CryptoError::BadSignature)?;
        if ct_eq(&tag, &header[SIGNATURE_RANGE]) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// Computes the signature of a message whose Signature field is taken as zero.
    /// `header.len() >= 64` is checked by the callers.
    fn tag(&self, header: &[u8], rest: &[&[u8]]) -> Result<[u8; 16], CryptoError> {
        let nonce = gmac_nonce(header);
        let mut parts = [
            &header[..SIGNATURE_RANGE.start],
            &ZERO_SIGNATURE[..],
            &header[SIGNATURE_RANGE.end..],
        ]
        .into_iter()
        .chain(rest.iter().copied());
        match &self.imp {
            Imp::Hmac(h) => {
                let mut mac = (**h).clone();
                for p in parts {
                    mac.update(p);
                }
                Ok(truncate16(&mac.finalize().into_bytes()))
            }
            Imp::Cmac(c) => {
                let mut mac = (**c).clone();
                for p in parts {
                    mac.update(p);
                }
                Ok(truncate16(&mac.finalize().into_bytes()))
            }
            Imp::Gmac(g) => Ok(g.mac(&nonce, &mut parts)),
            Imp::Backend(b) => b.mac(&nonce, &mut parts),
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("algorithm", &self.algorithm)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn bad_key(expected: usize, key: &[u8]) -> CryptoError {
    CryptoError::InvalidKeyLength {
        expected,
        actual: key.len(),
    }
}

fn truncate16(b: &[u8]) -> [u8; 16] {
    let mut t = [0u8; 16];
    t.copy_from_slice(&b[..16]);
    t
}

/// The AES-GMAC nonce of a message ([MS-SMB2] 3.1.4.1): MessageId (8 bytes, little-endian
/// as in the header), then a 32-bit little-endian value whose least significant bit is 1
/// when the sender is the server (SMB2_FLAGS_SERVER_TO_REDIR set) and whose next bit is 1
/// for an SMB2 CANCEL request; the other 30 bits are zero.
pub(crate) fn gmac_nonce(header: &[u8]) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&header[MESSAGE_ID_RANGE]);
    let flags = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
    let command =
        u16::from_le_bytes([header[COMMAND_RANGE.start], header[COMMAND_RANGE.start + 1]]);
    let mut role: u32 = 0;
    if flags & HeaderFlags::SERVER_TO_REDIR != 0 {
        role |= 1;
    }
    if command == Command::Cancel as u16 && flags & HeaderFlags::SERVER_TO_REDIR == 0 {
        role |= 2;
    }
    nonce[8..].copy_from_slice(&role.to_le_bytes());
    nonce
}

/// AES-128-GMAC ([RFC 4543]): the GCM tag of AAD-only input, computed incrementally over
/// slices (GHASH over the AAD zero-padded to a block, then the length block, XOR E(K, J0)).
pub(crate) struct Gmac {
    aes: Aes128,
    /// GHASH keyed with H = E(K, 0^128); cloned per message.
    ghash: GHash,
}

impl Gmac {
    pub(crate) fn new(key: &[u8]) -> Result<Gmac, CryptoError> {
        let aes = Aes128::new_from_slice(key).map_err(|_| bad_key(16, key))?;
        let mut h = aes::Block::default();
        aes.encrypt_block(&mut h);
        let ghash = GHash::new(&h);
        h.as_mut_slice().fill(0);
        Ok(Gmac { aes, ghash })
    }

    pub(crate) fn mac(&self, nonce: &[u8; 12], parts: &mut dyn Iterator<Item = &[u8]>) -> [u8; 16] {
        let mut g = self.ghash.clone();
        let mut carry = ghash::Block::default();
        let mut fill = 0usize;
        let mut total: u64 = 0;
        for mut p in parts {
            total = total.wrapping_add(p.len() as u64);
            if fill > 0 {
                let take = (16 - fill).min(p.len());
                carry[fill..fill + take].copy_from_slice(&p[..take]);
                fill += take;
                p = &p[take..];
                if fill < 16 {
                    continue;
                }
                g.update(core::slice::from_ref(&carry));
            }
            let whole = p.len() - p.len() % 16;
            // A multiple of 16 bytes: update_padded adds no padding.
            g.update_padded(&p[..whole]);
            let tail = &p[whole..];
            carry[..tail.len()].copy_from_slice(tail);
            fill = tail.len();
        }
        if fill > 0 {
            carry[fill..].fill(0);
            g.update(core::slice::from_ref(&carry));
        }
        let mut len_block = ghash::Block::default();
        len_block[..8].copy_from_slice(&total.wrapping_mul(8).to_be_bytes());
        g.update(core::slice::from_ref(&len_block));
        let s = g.finalize();
        let mut j0 = aes::Block::default();
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        self.aes.encrypt_block(&mut j0);
        let mut tag = [0u8; 16];
        for i in 0..16 {
            tag[i] = s[i] ^ j0[i];
        }
        tag
    }
}

/// HMAC-SHA256 over slices (used by tests against RFC 4231).
#[cfg(test)]
pub(crate) fn hmac_sha256_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// AES-128-CMAC over slices (used by tests against RFC 4493).
#[cfg(test)]
pub(crate) fn cmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = <Cmac<Aes128> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}
