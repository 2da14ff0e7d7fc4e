//! Message encryption ([MS-SMB2] 3.1.4.3) and decryption ([MS-SMB2] 3.2.5.1.1.1), with
//! the SMB2 TRANSFORM_HEADER layout of [MS-SMB2] 2.2.41.

use super::CryptoError;
use aes::{Aes128, Aes256};
use aes_gcm::aead::consts::{U11, U12, U16};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{AesGcm, Nonce, Tag};
use alloc::boxed::Box;
use ccm::Ccm;
use core::fmt;

type Aes128Ccm = Ccm<Aes128, U16, U11>;
type Aes256Ccm = Ccm<Aes256, U16, U11>;
type Aes128Gcm = AesGcm<Aes128, U12>;
type Aes256Gcm = AesGcm<Aes256, U12>;

/// Byte range of a TRANSFORM_HEADER that is the AEAD's additional data: everything after
/// ProtocolId and Signature, i.e. Nonce through SessionId ([MS-SMB2] 3.1.4.3).
pub const TRANSFORM_AAD_RANGE: core::ops::Range<usize> = 20..52;
const TRANSFORM_SIGNATURE_RANGE: core::ops::Range<usize> = 4..20;
const TRANSFORM_NONCE_RANGE: core::ops::Range<usize> = 20..36;
const TRANSFORM_HEADER_LEN: usize = 52;

/// An encryption cipher ([MS-SMB2] 2.2.3.1.2 ENCRYPTION_CAPABILITIES ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CipherId {
    /// AES-128-CCM (the only cipher of 3.0 and 3.0.2). Wire id 1.
    Aes128Ccm = 0x0001,
    /// AES-128-GCM. Wire id 2.
    Aes128Gcm = 0x0002,
    /// AES-256-CCM. Wire id 3.
    Aes256Ccm = 0x0003,
    /// AES-256-GCM. Wire id 4.
    Aes256Gcm = 0x0004,
}

impl CipherId {
    /// Every cipher, GCM first (for tests and benchmarks that cover them all).
    pub const ALL: [CipherId; 4] = [
        CipherId::Aes128Gcm,
        CipherId::Aes256Gcm,
        CipherId::Aes128Ccm,
        CipherId::Aes256Ccm,
    ];

    /// The wire id.
    pub const fn wire_id(self) -> u16 {
        self as u16
    }

    /// Maps a wire id; `None` for ids this crate does not know (including 0, "no cipher").
    pub const fn from_wire_id(id: u16) -> Option<CipherId> {
        match id {
            1 => Some(CipherId::Aes128Ccm),
            2 => Some(CipherId::Aes128Gcm),
            3 => Some(CipherId::Aes256Ccm),
            4 => Some(CipherId::Aes256Gcm),
            _ => None,
        }
    }

    /// Key length in bytes: 16 or 32.
    pub const fn key_len(self) -> usize {
        match self {
            CipherId::Aes128Ccm | CipherId::Aes128Gcm => 16,
            CipherId::Aes256Ccm | CipherId::Aes256Gcm => 32,
        }
    }

    /// Nonce length in bytes: 11 for CCM, 12 for GCM. On the wire the nonce sits at the
    /// start of the 16-byte Nonce field, the rest is zero ([MS-SMB2] 2.2.41).
    pub const fn nonce_len(self) -> usize {
        match self {
            CipherId::Aes128Ccm | CipherId::Aes256Ccm => 11,
            CipherId::Aes128Gcm | CipherId::Aes256Gcm => 12,
        }
    }

    /// True for the GCM ciphers.
    pub const fn is_gcm(self) -> bool {
        matches!(self, CipherId::Aes128Gcm | CipherId::Aes256Gcm)
    }
}

/// An AEAD implementation for [`Cipher`], for alternative crypto backends.
///
/// `nonce` has exactly the cipher's nonce length (11 or 12 bytes); the tag is 16 bytes.
pub trait AeadBackend: Send + Sync {
    /// Encrypts `buf` in place and returns the detached tag.
    fn encrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError>;

    /// Checks the tag and decrypts `buf` in place. On failure `buf`'s content is unspecified
    /// and must not be used.
    fn decrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError>;
}

/// Encrypts or decrypts SMB3 messages with one key, in place with a detached tag.
///
/// A `Cipher` holds one direction's key: build one from `SessionKeys::encryption` to
/// encrypt requests and one from `SessionKeys::decryption` to decrypt responses.
///
/// **Nonces must never repeat under one key** (across all channels of the session and
/// across reconnects while the key lives). The caller supplies them; see [`NonceSequence`].
pub struct Cipher {
    id: CipherId,
    imp: CipherImp,
}

enum CipherImp {
    Aes128Ccm(Box<Aes128Ccm>),
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Ccm(Box<Aes256Ccm>),
    Aes256Gcm(Box<Aes256Gcm>),
    Backend(Box<dyn AeadBackend>),
}

impl Cipher {
    /// A cipher using the built-in RustCrypto implementation. `key` must be
    /// `id.key_len()` bytes.
    pub fn new(id: CipherId, key: &[u8]) -> Result<Cipher, CryptoError> {
        if key.len() != id.key_len() {
            return Err(CryptoError::InvalidKeyLength {
                expected: id.key_len(),
                actual: key.len(),
            });
        }
        let bad = |_| CryptoError::InvalidKeyLength {
            expected: id.key_len(),
            actual: key.len(),
        };
        let imp = match id {
            CipherId::Aes128Ccm => {
                CipherImp::Aes128Ccm(Box::new(Aes128Ccm::new_from_slice(key).map_err(bad)?))
            }
            CipherId::Aes128Gcm => {
                CipherImp::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?))
            }
            CipherId::Aes256Ccm => {
                CipherImp::Aes256Ccm(Box::new(Aes256Ccm::new_from_slice(key).map_err(bad)?))
            }
            CipherId::Aes256Gcm => {
                CipherImp::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?))
            }
        };
        Ok(Cipher { id, imp })
    }

    /// A cipher computed by another backend.
    pub fn from_backend(id: CipherId, backend: Box<dyn AeadBackend>) -> Cipher {
        Cipher {
            id,
            imp: CipherImp::Backend(backend),
        }
    }

    /// The cipher's id.
    pub fn id(&self) -> CipherId {
        self.id
    }

    fn nonce<'n>(&self, nonce: &'n [u8]) -> Result<&'n [u8], CryptoError> {
        let n = self.id.nonce_len();
        if nonce.len() == n || nonce.len() == 16 {
            Ok(&nonce[..n])
        } else {
            Err(CryptoError::InvalidNonceLength {
                expected: n,
                actual: nonce.len(),
            })
        }
    }

    /// Encrypts `buf` in place and returns the 16-byte tag (the TRANSFORM_HEADER
    /// Signature). `nonce` is the cipher's nonce (11 or 12 bytes) or the whole 16-byte
    /// Nonce field; `aad` is the TRANSFORM_HEADER's bytes 20..52 ([`TRANSFORM_AAD_RANGE`]).
    pub fn encrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        let nonce = self.nonce(nonce)?;
        let tag = match &self.imp {
            CipherImp::Aes128Ccm(c) => c
                .encrypt_in_place_detached(Nonce::<U11>::from_slice(nonce), aad, buf)
                .map_err(|_| CryptoError::EncryptFailed)?,
            CipherImp::Aes256Ccm(c) => c
                .encrypt_in_place_detached(Nonce::<U11>::from_slice(nonce), aad, buf)
                .map_err(|_| CryptoError::EncryptFailed)?,
            CipherImp::Aes128Gcm(c) => c
                .encrypt_in_place_detached(Nonce::<U12>::from_slice(nonce), aad, buf)
                .map_err(|_| CryptoError::EncryptFailed)?,
            CipherImp::Aes256Gcm(c) => c
                .encrypt_in_place_detached(Nonce::<U12>::from_slice(nonce), aad, buf)
                .map_err(|_| CryptoError::EncryptFailed)?,
            CipherImp::Backend(b) => return b.encrypt_in_place(nonce, aad, buf),
        };
        Ok(tag.into())
    }

    /// Checks `tag` and decrypts `buf` in place. Fails with [`CryptoError::DecryptFailed`]
    /// when the tag does not verify; `buf` must then be discarded.
    pub fn decrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(nonce)?;
        let t = Tag::<U16>::from_slice(tag);
        let r = match &self.imp {
            CipherImp::Aes128Ccm(c) => {
                c.decrypt_in_place_detached(Nonce::<U11>::from_slice(nonce), aad, buf, t)
            }
            CipherImp::Aes256Ccm(c) => {
                c.decrypt_in_place_detached(Nonce::<U11>::from_slice(nonce), aad, buf, t)
            }
            CipherImp::Aes128Gcm(c) => {
                c.decrypt_in_place_detached(Nonce::<U12>::from_slice(nonce), aad, buf, t)
            }
            CipherImp::Aes256Gcm(c) => {
                c.decrypt_in_place_detached(Nonce::<U12>::from_slice(nonce), aad, buf, t)
            }
            CipherImp::Backend(b) => return b.decrypt_in_place(nonce, aad, buf, tag),
        };
        r.map_err(|_| CryptoError::DecryptFailed)
    }

    /// Encrypts `message` in place under a 52-byte TRANSFORM_HEADER whose Nonce,
    /// OriginalMessageSize, Flags and SessionId fields are already filled in; writes the
    /// tag into the header's Signature field.
    pub fn seal(&self, transform_header: &mut [u8], message: &mut [u8]) -> Result<(), CryptoError> {
        if transform_header.len() < TRANSFORM_HEADER_LEN {
            return Err(CryptoError::MessageTooShort {
                len: transform_header.len(),
            });
        }
        let tag = self.encrypt_in_place(
            &transform_header[TRANSFORM_NONCE_RANGE],
            &transform_header[TRANSFORM_AAD_RANGE],
            message,
        )?;
        transform_header[TRANSFORM_SIGNATURE_RANGE].copy_from_slice(&tag);
        Ok(())
    }

    /// Verifies and decrypts the `message` that follows a received 52-byte
    /// TRANSFORM_HEADER, in place, using the header's Nonce, Signature and AAD.
    pub fn open(&self, transform_header: &[u8], message: &mut [u8]) -> Result<(), CryptoError> {
        if transform_header.len() < TRANSFORM_HEADER_LEN {
            return Err(CryptoError::MessageTooShort {
                len: transform_header.len(),
            });
        }
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&transform_header[TRANSFORM_SIGNATURE_RANGE]);
        self.decrypt_in_place(
            &transform_header[TRANSFORM_NONCE_RANGE],
            &transform_header[TRANSFORM_AAD_RANGE],
            message,
            &tag,
        )
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cipher")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Hands out unique AEAD nonces for one key: a 64-bit counter (little-endian, bytes 0..8)
/// followed by a fixed salt (3 bytes for CCM, 4 for GCM), zero-padded to the 16-byte
/// Nonce field.
///
/// Uniqueness holds while one sequence is used per key: share it between every channel
/// that encrypts with the key. The salt (random, from the engine's RNG) only guards against
/// an accidental second sequence for the same key. After 2^64 - 1 nonces it fails with
/// [`CryptoError::NonceExhausted`] rather than wrap.
#[derive(Clone, Debug)]
pub struct NonceSequence {
    salt: [u8; 4],
    next: u64,
}

impl NonceSequence {
    /// A sequence starting at counter 0.
    pub fn new(salt: [u8; 4]) -> NonceSequence {
        NonceSequence { salt, next: 0 }
    }

    /// A sequence whose next counter value is `next` (to continue a sequence for a key
    /// that outlives the object, e.g. across a reconnect).
    pub fn starting_at(salt: [u8; 4], next: u64) -> NonceSequence {
        NonceSequence { salt, next }
    }

    /// The counter value the next nonce will carry.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next nonce for `cipher`, as the 16-byte TRANSFORM_HEADER Nonce field.
    pub fn next_nonce(&mut self, cipher: CipherId) -> Result<[u8; 16], CryptoError> {
        if self.next == u64::MAX {
            return Err(CryptoError::NonceExhausted);
        }
        let mut field = [0u8; 16];
        field[..8].copy_from_slice(&self.next.to_le_bytes());
        let salt_len = cipher.nonce_len() - 8;
        field[8..8 + salt_len].copy_from_slice(&self.salt[..salt_len]);
        self.next += 1;
        Ok(field)
    }
}
