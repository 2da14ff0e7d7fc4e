//! The crypto provider: where signers and ciphers come from.
//!
//! The engine never names a crypto library; it asks a [`CryptoProvider`] for a [`Signer`]
//! or a [`Cipher`] by algorithm id and key (as rustls does with its `CryptoProvider`). The
//! default, [`RustCryptoProvider`], uses the RustCrypto crates and works in `no_std`; its
//! objects are enum-dispatched, so the default path has no virtual calls.
//!
//! # Plugging in a faster backend
//!
//! Implement [`AeadBackend`] (and/or [`MacBackend`]) for your library's types, then a
//! provider that wraps them with [`Cipher::from_backend`] / [`Signer::from_backend`], and
//! delegates whatever it does not accelerate to [`RustCryptoProvider`]:
//!
//! ```
//! use smb_core::crypto::{
//!     AeadBackend, Cipher, CipherId, CryptoError, CryptoProvider, RustCryptoProvider, Signer,
//!     SigningAlgorithm,
//! };
//!
//! struct FastGcm { /* e.g. an aws-lc-rs or ring key */ }
//!
//! impl AeadBackend for FastGcm {
//!     fn encrypt_in_place(&self, _n: &[u8], _aad: &[u8], _buf: &mut [u8])
//!         -> Result<[u8; 16], CryptoError> {
//!         // call the library's in-place, detached-tag seal here
//!         # Err(CryptoError::EncryptFailed)
//!     }
//!     fn decrypt_in_place(&self, _n: &[u8], _aad: &[u8], _buf: &mut [u8], _tag: &[u8; 16])
//!         -> Result<(), CryptoError> {
//!         # Err(CryptoError::DecryptFailed)
//!     }
//! }
//!
//! #[derive(Debug)]
//! struct FastProvider;
//!
//! impl CryptoProvider for FastProvider {
//!     fn signer(&self, alg: SigningAlgorithm, key: &[u8]) -> Result<Signer, CryptoError> {
//!         RustCryptoProvider.signer(alg, key)
//!     }
//!     fn cipher(&self, id: CipherId, key: &[u8]) -> Result<Cipher, CryptoError> {
//!         match id {
//!             CipherId::Aes128Gcm | CipherId::Aes256Gcm => {
//!                 Ok(Cipher::from_backend(id, Box::new(FastGcm { /* key */ })))
//!             }
//!             _ => RustCryptoProvider.cipher(id, key),
//!         }
//!     }
//! }
//! ```
//!
//! The SMB-specific work (signature field handling, GMAC nonce, nonce-field slicing,
//! transform header AAD) stays in [`Signer`] and [`Cipher`]; a backend only does the
//! primitive. Pre-auth integrity (SHA-512) and the KDF always use RustCrypto: they run a
//! handful of times per session.
//!
//! The engine takes every signer and cipher from `ClientConfig::crypto_provider`
//! (see [`preferred_provider`] for its default). The `aws-lc` feature adds a built-in fast
//! provider, `AwsLcProvider`.

pub use super::encryption::AeadBackend;
pub use super::signing::MacBackend;
use super::{Cipher, CipherId, CryptoError, Signer, SigningAlgorithm};
use alloc::sync::Arc;
use core::fmt::Debug;

/// Builds signers and ciphers by algorithm id and key.
pub trait CryptoProvider: Send + Sync + Debug {
    /// A signer for `algorithm` with `key` (16 bytes for AES-CMAC/GMAC).
    fn signer(&self, algorithm: SigningAlgorithm, key: &[u8]) -> Result<Signer, CryptoError>;

    /// A cipher for `id` with `key` (`id.key_len()` bytes).
    fn cipher(&self, id: CipherId, key: &[u8]) -> Result<Cipher, CryptoError>;
}

/// The default provider: RustCrypto's `aes`, `aes-gcm`, `ccm`, `cmac`, `hmac`, `sha2`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCryptoProvider;

impl CryptoProvider for RustCryptoProvider {
    fn signer(&self, algorithm: SigningAlgorithm, key: &[u8]) -> Result<Signer, CryptoError> {
        Signer::new(algorithm, key)
    }

    fn cipher(&self, id: CipherId, key: &[u8]) -> Result<Cipher, CryptoError> {
        Cipher::new(id, key)
    }
}

static DEFAULT: RustCryptoProvider = RustCryptoProvider;

/// The default provider ([`RustCryptoProvider`]).
pub fn default_provider() -> &'static dyn CryptoProvider {
    &DEFAULT
}

/// The provider `ClientConfig` uses unless told otherwise: `AwsLcProvider` when the
/// `aws-lc` feature is on (the runtime adapters turn it on by default), else
/// [`RustCryptoProvider`]. Both give byte-identical results; only the speed differs.
pub fn preferred_provider() -> Arc<dyn CryptoProvider> {
    #[cfg(feature = "aws-lc")]
    {
        Arc::new(super::AwsLcProvider)
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        Arc::new(RustCryptoProvider)
    }
}
