//! [`AwsLcProvider`]: AES-GCM and HMAC-SHA256 from `aws-lc-rs` (feature `aws-lc`).
//!
//! What it accelerates, and how:
//! - AES-128/256-GCM encryption: in place with a detached tag
//!   (`LessSafeKey::seal_in_place_separate_tag` / `open_in_place_separate_tag`).
//! - AES-128-GMAC signing: GCM with an empty plaintext and the message as AAD, the 16-byte
//!   tag being the signature ([MS-SMB2] 3.1.4.1; the nonce is built by [`Signer`]). The
//!   AAD must be one slice for aws-lc, so the message parts (with the Signature field read
//!   as zeros) are joined into a scratch buffer kept by the signer; the copy costs far less
//!   than the GHASH it replaces.
//! - HMAC-SHA256 signing: `aws_lc_rs::hmac`, updated slice by slice (no copy).
//!
//! AES-CMAC and AES-CCM are delegated to [`RustCryptoProvider`].
//!
//! Keys: no copy of a key is kept in Rust memory. The AEAD context is allocated by aws-lc
//! and cleansed when freed; the HMAC context is cleaned up (`HMAC_CTX_cleanup`) on drop.

use super::{
    Cipher, CipherId, CryptoError, CryptoProvider, RustCryptoProvider, Signer, SigningAlgorithm,
};
use super::{encryption::AeadBackend, signing::MacBackend};
use alloc::boxed::Box;
use alloc::vec::Vec;
use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use std::sync::Mutex;

/// The fast provider: AES-GCM (encryption and GMAC signing) and HMAC-SHA256 from
/// `aws-lc-rs`; AES-CMAC and AES-CCM from [`RustCryptoProvider`].
///
/// Its signatures and ciphertexts are byte-identical to [`RustCryptoProvider`]'s. With the
/// `aws-lc` feature it is the default of `ClientConfig::crypto_provider`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AwsLcProvider;

impl CryptoProvider for AwsLcProvider {
    fn signer(&self, algorithm: SigningAlgorithm, key: &[u8]) -> Result<Signer, CryptoError> {
        match algorithm {
            SigningAlgorithm::HmacSha256 => Ok(Signer::from_backend(
                algorithm,
                Box::new(HmacSha256(hmac::Key::new(hmac::HMAC_SHA256, key))),
            )),
            SigningAlgorithm::AesGmac => Ok(Signer::from_backend(
                algorithm,
                Box::new(Gmac {
                    key: gcm_key(CipherId::Aes128Gcm, key)?,
                    scratch: Mutex::new(Vec::new()),
                }),
            )),
            SigningAlgorithm::AesCmac => RustCryptoProvider.signer(algorithm, key),
        }
    }

    fn cipher(&self, id: CipherId, key: &[u8]) -> Result<Cipher, CryptoError> {
        match id {
            CipherId::Aes128Gcm | CipherId::Aes256Gcm => {
                Ok(Cipher::from_backend(id, Box::new(Gcm(gcm_key(id, key)?))))
            }
            CipherId::Aes128Ccm | CipherId::Aes256Ccm => RustCryptoProvider.cipher(id, key),
        }
    }
}

fn gcm_key(id: CipherId, key: &[u8]) -> Result<LessSafeKey, CryptoError> {
    let bad = CryptoError::InvalidKeyLength {
        expected: id.key_len(),
        actual: key.len(),
    };
    if key.len() != id.key_len() {
        return Err(bad);
    }
    let alg = match id {
        CipherId::Aes256Gcm => &aead::AES_256_GCM,
        _ => &aead::AES_128_GCM,
    };
    UnboundKey::new(alg, key)
        .map(LessSafeKey::new)
        .map_err(|_| bad)
}

fn gcm_nonce(nonce: &[u8]) -> Result<Nonce, CryptoError> {
    Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::InvalidNonceLength {
        expected: 12,
        actual: nonce.len(),
    })
}

fn tag16(tag: &[u8]) -> Result<[u8; 16], CryptoError> {
    tag.try_into().map_err(|_| CryptoError::EncryptFailed)
}

/// AES-GCM for [`Cipher`].
struct Gcm(LessSafeKey);

impl AeadBackend for Gcm {
    fn encrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        let tag = self
            .0
            .seal_in_place_separate_tag(gcm_nonce(nonce)?, Aad::from(aad), buf)
            .map_err(|_| CryptoError::EncryptFailed)?;
        tag16(tag.as_ref())
    }

    fn decrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        self.0
            .open_in_place_separate_tag(gcm_nonce(nonce)?, Aad::from(aad), tag, buf)
            .map(|_| ())
            .map_err(|_| CryptoError::DecryptFailed)
    }
}

/// AES-128-GMAC for [`Signer`]: the GCM tag of the joined parts as AAD, no plaintext.
struct Gmac {
    key: LessSafeKey,
    /// The joined message, reused between calls (the signer is shared by reference).
    scratch: Mutex<Vec<u8>>,
}

impl MacBackend for Gmac {
    fn mac(
        &self,
        nonce: &[u8; 12],
        parts: &mut dyn Iterator<Item = &[u8]>,
    ) -> Result<[u8; 16], CryptoError> {
        let mut aad = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        aad.clear();
        for p in parts {
            aad.extend_from_slice(p);
        }
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(&aad[..]),
                &mut [],
            )
            .map_err(|_| CryptoError::MacFailed)?;
        tag16(tag.as_ref()).map_err(|_| CryptoError::MacFailed)
    }
}

/// HMAC-SHA256 truncated to 16 bytes for [`Signer`].
struct HmacSha256(hmac::Key);

impl MacBackend for HmacSha256 {
    fn mac(
        &self,
        _nonce: &[u8; 12],
        parts: &mut dyn Iterator<Item = &[u8]>,
    ) -> Result<[u8; 16], CryptoError> {
        let mut ctx = hmac::Context::with_key(&self.0);
        for p in parts {
            ctx.update(p);
        }
        let tag = ctx.sign();
        tag.as_ref()
            .get(..16)
            .and_then(|t| t.try_into().ok())
            .ok_or(CryptoError::MacFailed)
    }
}
