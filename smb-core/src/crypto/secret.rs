//! Key material that zeroizes on drop and never prints.

use alloc::vec::Vec;
use core::fmt;
use zeroize::Zeroize;

/// Secret key bytes (a session key or a derived key).
///
/// The bytes are wiped when the value is dropped, and `Debug` prints `[redacted]`.
/// Usually 16 or 32 bytes, but any length is accepted (GSS session keys vary).
#[derive(Clone, Default)]
pub struct SecretKey {
    bytes: Vec<u8>,
}

impl SecretKey {
    /// Copies `bytes` into a new secret.
    pub fn from_slice(bytes: &[u8]) -> SecretKey {
        SecretKey {
            bytes: bytes.to_vec(),
        }
    }

    /// Takes ownership of `bytes` (any spare capacity is wiped along with the bytes on drop).
    pub fn from_vec(bytes: Vec<u8>) -> SecretKey {
        SecretKey { bytes }
    }

    /// The key bytes. Do not copy them into buffers that are not wiped.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Key length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for an empty key.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// `Session.SessionKey` from a GSS cryptographic key: the first 16 bytes, right-padded
    /// with zeros when shorter ([MS-SMB2] 3.2.1.3).
    pub fn session_key_16(crypto_key: &[u8]) -> SecretKey {
        let mut bytes = alloc::vec![0u8; 16];
        let n = crypto_key.len().min(16);
        bytes[..n].copy_from_slice(&crypto_key[..n]);
        SecretKey { bytes }
    }

    /// Compares two keys without an early exit on the first differing byte.
    pub fn ct_eq(&self, other: &SecretKey) -> bool {
        super::ct_eq(&self.bytes, &other.bytes)
    }
}

impl<const N: usize> From<[u8; N]> for SecretKey {
    fn from(mut value: [u8; N]) -> SecretKey {
        let key = SecretKey::from_slice(&value);
        value.zeroize();
        key
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
