//! Cryptography: SP800-108 key derivation, signing, encryption and pre-auth integrity.
//!
//! Everything here is `no_std` + `alloc` and built on the RustCrypto crates by default.
//!
//! - [`SecretKey`]: key material that zeroizes on drop and never prints.
//! - [`kdf()`] and [`SessionKeys`]: [MS-SMB2] 3.1.4.2 key derivation and the per-dialect
//!   label/context table of [MS-SMB2] 3.2.5.3.1.
//! - [`Signer`]: [MS-SMB2] 3.1.4.1 message signing (HMAC-SHA256, AES-128-CMAC, AES-128-GMAC),
//!   over one buffer or over a header plus borrowed payload slices (no copy of a WRITE's data).
//! - [`Cipher`]: [MS-SMB2] 3.1.4.3 encryption (AES-128/256-CCM/GCM), in place, detached tag.
//! - [`PreauthHash`]: [MS-SMB2] 3.2.5.2 SHA-512 pre-authentication integrity chaining.
//! - [`CryptoProvider`]: how signers and ciphers are built; [`RustCryptoProvider`] is the
//!   default and a faster backend plugs in by implementing the trait (see [`provider`]).
//!   With the `aws-lc` feature, `AwsLcProvider` (AES-GCM, GMAC and HMAC-SHA256 from
//!   `aws-lc-rs`) is built in and becomes the [`preferred_provider`].
//!
//! Nonces: the engine owns nonce generation. An AEAD nonce must never repeat under one key
//! (for GCM a repeat reveals the authentication key). [`NonceSequence`] is a small helper
//! that hands out counter-based unique nonces for one key.

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod encryption;
mod kdf;
mod preauth;
pub mod provider;
mod secret;
mod signing;

#[cfg(test)]
mod tests;

#[cfg(feature = "aws-lc")]
pub use aws_lc::AwsLcProvider;
pub use encryption::{AeadBackend, Cipher, CipherId, NonceSequence, TRANSFORM_AAD_RANGE};
pub use kdf::{SessionKeys, kdf};
pub use preauth::{PREAUTH_HASH_LEN, PREAUTH_SHA512, PreauthHash};
pub use provider::{CryptoProvider, RustCryptoProvider, default_provider, preferred_provider};
pub use secret::SecretKey;
pub use signing::{MacBackend, SIGNATURE_LEN, Signer, SigningAlgorithm};

use core::fmt;

/// Dialect 2.0.2 wire value ([MS-SMB2] 2.2.3).
pub(crate) const DIALECT_202: u16 = 0x0202;
/// Dialect 2.1 wire value.
pub(crate) const DIALECT_210: u16 = 0x0210;
/// Dialect 3.0 wire value.
pub(crate) const DIALECT_300: u16 = 0x0300;
/// Dialect 3.0.2 wire value.
pub(crate) const DIALECT_302: u16 = 0x0302;
/// Dialect 3.1.1 wire value.
pub(crate) const DIALECT_311: u16 = 0x0311;

/// Errors from the crypto layer.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// A key has the wrong length for the algorithm.
    InvalidKeyLength {
        /// Length the algorithm needs.
        expected: usize,
        /// Length that was given.
        actual: usize,
    },
    /// A nonce has the wrong length for the cipher.
    InvalidNonceLength {
        /// Length the cipher needs (the 16-byte wire field is also accepted).
        expected: usize,
        /// Length that was given.
        actual: usize,
    },
    /// The buffer is too short to hold an SMB2 header or a transform header.
    MessageTooShort {
        /// Length that was given.
        len: usize,
    },
    /// A message signature did not verify.
    BadSignature,
    /// AEAD decryption failed: the tag did not verify (or the backend failed).
    DecryptFailed,
    /// AEAD encryption failed (the backend refused the input, e.g. too long).
    EncryptFailed,
    /// The dialect is not one this layer derives keys for.
    UnsupportedDialect(u16),
    /// The cipher is not valid for the dialect (e.g. GCM on 3.0).
    UnsupportedCipher(CipherId),
    /// The signing algorithm is not valid for the dialect.
    UnsupportedSigningAlgorithm(SigningAlgorithm),
    /// Dialect 3.1.1 key derivation needs the pre-auth integrity hash.
    MissingPreauthHash,
    /// A [`NonceSequence`] ran out of nonces: the key must be replaced.
    NonceExhausted,
    /// A [`MacBackend`] could not compute a signature.
    MacFailed,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::InvalidKeyLength { expected, actual } => {
                write!(f, "invalid key length {actual}, expected {expected}")
            }
            CryptoError::InvalidNonceLength { expected, actual } => {
                write!(f, "invalid nonce length {actual}, expected {expected}")
            }
            CryptoError::MessageTooShort { len } => write!(f, "message too short ({len} bytes)"),
            CryptoError::BadSignature => f.write_str("message signature does not verify"),
            CryptoError::DecryptFailed => {
                f.write_str("decryption failed: authentication tag mismatch")
            }
            CryptoError::EncryptFailed => f.write_str("encryption failed"),
            CryptoError::UnsupportedDialect(d) => write!(f, "unsupported dialect 0x{d:04x}"),
            CryptoError::UnsupportedCipher(c) => {
                write!(f, "cipher {c:?} not valid for this dialect")
            }
            CryptoError::UnsupportedSigningAlgorithm(a) => {
                write!(f, "signing algorithm {a:?} not valid for this dialect")
            }
            CryptoError::MissingPreauthHash => {
                f.write_str("dialect 3.1.1 key derivation needs the pre-auth integrity hash")
            }
            CryptoError::NonceExhausted => f.write_str("nonce sequence exhausted"),
            CryptoError::MacFailed => f.write_str("the signing backend failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CryptoError {}

/// Compares two byte strings without an early exit on the first difference.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    core::hint::black_box(diff) == 0
}
