//! SP800-108 key derivation ([MS-SMB2] 3.1.4.2) and the per-dialect session keys
//! ([MS-SMB2] 3.2.5.3.1 client side, 3.3.5.5.3 server side).

use super::provider::CryptoProvider;
use super::{
    Cipher, CipherId, CryptoError, DIALECT_202, DIALECT_210, DIALECT_300, DIALECT_302, DIALECT_311,
    SecretKey, Signer, SigningAlgorithm,
};
use alloc::vec::Vec;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

/// SP800-108 KDF in counter mode with HMAC-SHA256 as the PRF and r = 32 ([MS-SMB2] 3.1.4.2).
///
/// Each block is `HMAC-SHA256(key, [i]_32 || label || 0x00 || context || [L]_32)` with
/// big-endian counters and `L = out_len * 8`; the output is the first `out_len` bytes.
/// SMB's labels and 3.0 contexts include their terminating NUL (`b"SMB2AESCMAC\0"`), so the
/// NUL and the SP800-108 separator byte both appear. SMB uses `out_len` 16 (L = 128) or
/// 32 (L = 256, AES-256 ciphers).
pub fn kdf(key: &[u8], label: &[u8], context: &[u8], out_len: usize) -> SecretKey {
    let l_bits = (out_len as u32).wrapping_mul(8);
    let mut out = Vec::with_capacity(out_len);
    let mut i: u32 = 1;
    while out.len() < out_len {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(&i.to_be_bytes());
        mac.update(label);
        mac.update(&[0]);
        mac.update(context);
        mac.update(&l_bits.to_be_bytes());
        let mut block = mac.finalize().into_bytes();
        let take = (out_len - out.len()).min(block.len());
        out.extend_from_slice(&block[..take]);
        block.as_mut_slice().zeroize();
        i = i.wrapping_add(1);
    }
    SecretKey::from_vec(out)
}

/// The keys of one authenticated session ([MS-SMB2] 3.2.1.3).
///
/// Directions are the client's: `encryption` protects client-to-server messages,
/// `decryption` server-to-client ones.
#[derive(Clone, Debug)]
pub struct SessionKeys {
    /// The negotiated dialect these keys were derived for.
    pub dialect: u16,
    /// Algorithm that `signing` is used with.
    pub signing_algorithm: SigningAlgorithm,
    /// Cipher that `encryption`/`decryption` are used with (`None`: no encryption).
    pub cipher: Option<CipherId>,
    /// `Session.SigningKey` (2.x: the session key itself).
    pub signing: SecretKey,
    /// `Session.EncryptionKey`, client to server (3.x with a cipher only).
    pub encryption: Option<SecretKey>,
    /// `Session.DecryptionKey`, server to client (3.x with a cipher only).
    pub decryption: Option<SecretKey>,
    /// `Session.ApplicationKey` (2.x: the session key itself).
    pub application: SecretKey,
}

struct Labels {
    signing: (&'static [u8], &'static [u8]),
    encryption: (&'static [u8], &'static [u8]),
    decryption: (&'static [u8], &'static [u8]),
    application: (&'static [u8], &'static [u8]),
}

// [MS-SMB2] 3.2.5.3.1: dialects 3.0 and 3.0.2. Labels and contexts include the NUL.
const LABELS_30: Labels = Labels {
    signing: (b"SMB2AESCMAC\0", b"SmbSign\0"),
    encryption: (b"SMB2AESCCM\0", b"ServerIn \0"),
    decryption: (b"SMB2AESCCM\0", b"ServerOut\0"),
    application: (b"SMB2APP\0", b"SmbRpc\0"),
};

// [MS-SMB2] 3.2.5.3.1: dialect 3.1.1; the context is the pre-auth integrity hash. The
// empty contexts below are replaced by the hash.
const LABELS_311: Labels = Labels {
    signing: (b"SMBSigningKey\0", b""),
    encryption: (b"SMBC2SCipherKey\0", b""),
    decryption: (b"SMBS2CCipherKey\0", b""),
    application: (b"SMBAppKey\0", b""),
};

impl SessionKeys {
    /// Derives the session's keys.
    ///
    /// - `dialect`: negotiated dialect wire value (0x0202, 0x0210, 0x0300, 0x0302, 0x0311).
    /// - `session_key`: the full cryptographic key from GSS (NTLM: the exported session key).
    ///   `Session.SessionKey` is its first 16 bytes, zero-padded ([MS-SMB2] 3.2.1.3); the
    ///   AES-256 ciphers derive their 32-byte keys from the full key (L = 256).
    /// - `preauth_hash`: `Session.PreauthIntegrityHashValue` (3.1.1 only, required there).
    /// - `cipher`: the negotiated cipher, `None` when encryption is not supported. 3.0/3.0.2
    ///   only allow AES-128-CCM.
    /// - `signing_algorithm`: the algorithm from SIGNING_CAPABILITIES (3.1.1), `None` for
    ///   the dialect's default (HMAC-SHA256 on 2.x, AES-CMAC on 3.x).
    ///
    /// Dialect 2.x: the signing key is the session key and there is no encryption.
    pub fn derive(
        dialect: u16,
        session_key: &[u8],
        preauth_hash: Option<&[u8; 64]>,
        cipher: Option<CipherId>,
        signing_algorithm: Option<SigningAlgorithm>,
    ) -> Result<SessionKeys, CryptoError> {
        let short = SecretKey::session_key_16(session_key);
        match dialect {
            DIALECT_202 | DIALECT_210 => {
                let alg = signing_algorithm.unwrap_or(SigningAlgorithm::HmacSha256);
                if alg != SigningAlgorithm::HmacSha256 {
                    return Err(CryptoError::UnsupportedSigningAlgorithm(alg));
                }
                if let Some(c) = cipher {
                    return Err(CryptoError::UnsupportedCipher(c));
                }
                Ok(SessionKeys {
                    dialect,
                    signing_algorithm: alg,
                    cipher: None,
                    signing: short.clone(),
                    encryption: None,
                    decryption: None,
                    application: short,
                })
            }
            DIALECT_300 | DIALECT_302 | DIALECT_311 => {
                let alg = signing_algorithm.unwrap_or(SigningAlgorithm::AesCmac);
                let is_311 = dialect == DIALECT_311;
                let valid_alg = match alg {
                    SigningAlgorithm::AesCmac => true,
                    SigningAlgorithm::AesGmac => is_311,
                    // SIGNING_CAPABILITIES may select HMAC-SHA256 on 3.1.1 ([MS-SMB2]
                    // 2.2.3.1.7); it then signs with the derived key (3.1.4.1).
                    SigningAlgorithm::HmacSha256 => is_311,
                };
                if !valid_alg {
                    return Err(CryptoError::UnsupportedSigningAlgorithm(alg));
                }
                if let Some(c) = cipher {
                    if !is_311 && c != CipherId::Aes128Ccm {
                        return Err(CryptoError::UnsupportedCipher(c));
                    }
                }
                let (labels, hash): (&Labels, Option<&[u8]>) = if is_311 {
                    let h = preauth_hash.ok_or(CryptoError::MissingPreauthHash)?;
                    (&LABELS_311, Some(&h[..]))
                } else {
                    (&LABELS_30, None)
                };
                let ctx = |c: &'static [u8]| hash.unwrap_or(c);
                let k = short.as_bytes();
                let signing = kdf(k, labels.signing.0, ctx(labels.signing.1), 16);
                let application = kdf(k, labels.application.0, ctx(labels.application.1), 16);
                let (encryption, decryption) = match cipher {
                    None => (None, None),
                    Some(c) => {
                        // [MS-SMB2] 3.1.4.2: L = 256 for the AES-256 ciphers, which derive
                        // from Session.FullSessionKey rather than the 16-byte SessionKey.
                        let (ki, len) = if c.key_len() == 32 {
                            (session_key, 32)
                        } else {
                            (k, 16)
                        };
                        (
                            Some(kdf(ki, labels.encryption.0, ctx(labels.encryption.1), len)),
                            Some(kdf(ki, labels.decryption.0, ctx(labels.decryption.1), len)),
                        )
                    }
                };
                Ok(SessionKeys {
                    dialect,
                    signing_algorithm: alg,
                    cipher,
                    signing,
                    encryption,
                    decryption,
                    application,
                })
            }
            other => Err(CryptoError::UnsupportedDialect(other)),
        }
    }

    /// Derives only a signing key: `Channel.SigningKey` for a channel bound to an existing
    /// session (multichannel session binding, [MS-SMB2] 3.2.5.3.1), from the binding's
    /// session key and (3.1.1) the binding's own pre-auth hash. Encryption keys are not
    /// re-derived on binding: they are copied from the session.
    pub fn derive_signing_key(
        dialect: u16,
        session_key: &[u8],
        preauth_hash: Option<&[u8; 64]>,
    ) -> Result<SecretKey, CryptoError> {
        let short = SecretKey::session_key_16(session_key);
        match dialect {
            DIALECT_202 | DIALECT_210 => Ok(short),
            DIALECT_300 | DIALECT_302 => Ok(kdf(
                short.as_bytes(),
                LABELS_30.signing.0,
                LABELS_30.signing.1,
                16,
            )),
            DIALECT_311 => {
                let h = preauth_hash.ok_or(CryptoError::MissingPreauthHash)?;
                Ok(kdf(short.as_bytes(), LABELS_311.signing.0, h, 16))
            }
            other => Err(CryptoError::UnsupportedDialect(other)),
        }
    }

    /// Builds the session's signer with `provider`.
    pub fn signer(&self, provider: &dyn CryptoProvider) -> Result<Signer, CryptoError> {
        provider.signer(self.signing_algorithm, self.signing.as_bytes())
    }

    /// Builds the client-to-server cipher (`None` without encryption).
    pub fn encryptor(&self, provider: &dyn CryptoProvider) -> Option<Result<Cipher, CryptoError>> {
        let (c, k) = (self.cipher?, self.encryption.as_ref()?);
        Some(provider.cipher(c, k.as_bytes()))
    }

    /// Builds the server-to-client cipher (`None` without encryption).
    pub fn decryptor(&self, provider: &dyn CryptoProvider) -> Option<Result<Cipher, CryptoError>> {
        let (c, k) = (self.cipher?, self.decryption.as_ref()?);
        Some(provider.cipher(c, k.as_bytes()))
    }
}
