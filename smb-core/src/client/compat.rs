//! Placeholders for types that the codec, crypto and auth branches provide; replaced by
//! re-exports when those land in `main`.

use alloc::string::String;
use alloc::vec::Vec;

/// An SMB2 dialect revision ([MS-SMB2] 2.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// SMB 2.0.2.
    Smb202,
    /// SMB 2.1.
    Smb210,
    /// SMB 3.0.
    Smb300,
    /// SMB 3.0.2.
    Smb302,
    /// SMB 3.1.1.
    Smb311,
    /// 0x02FF.
    Wildcard,
    /// Other.
    Other(u16),
}

/// Encryption ciphers ([MS-SMB2] 2.2.3.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// AES-128-CCM.
    Aes128Ccm,
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-CCM.
    Aes256Ccm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// Other.
    Other(u16),
}

/// Signing algorithms ([MS-SMB2] 2.2.3.1.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256.
    HmacSha256,
    /// AES-CMAC.
    AesCmac,
    /// AES-GMAC.
    AesGmac,
    /// Other.
    Other(u16),
}

/// One step of an authentication exchange.
pub trait Authenticator: Send {
    /// Next token from the server's token (empty at the start).
    fn step(&mut self, input: &[u8]) -> Result<Vec<u8>, String>;
}
