//! Pre-authentication integrity ([MS-SMB2] 3.2.5.2, 3.2.5.3.1; 2.2.3.1.1).

use core::fmt;
use sha2::{Digest, Sha512};

/// `HashAlgorithms` value for SHA-512 in PREAUTH_INTEGRITY_CAPABILITIES ([MS-SMB2] 2.2.3.1.1).
pub const PREAUTH_SHA512: u16 = 0x0001;

/// Length of a pre-auth integrity hash value.
pub const PREAUTH_HASH_LEN: usize = 64;

/// A running SHA-512 pre-auth integrity hash: `H = SHA-512(H || message)`, starting from
/// 64 zero bytes.
///
/// The connection hashes the NEGOTIATE request and response. Each session starts from a
/// copy (`clone`) of the connection's value and hashes every SESSION_SETUP request and
/// every SESSION_SETUP response except the final STATUS_SUCCESS one; the result is the
/// KDF context for dialect 3.1.1 ([MS-SMB2] 3.2.5.3.1). Messages are hashed whole: header
/// and body, as sent or received (not the transport framing).
#[derive(Clone, PartialEq, Eq)]
pub struct PreauthHash {
    value: [u8; PREAUTH_HASH_LEN],
}

impl PreauthHash {
    /// The initial value: 64 zero bytes.
    pub fn new() -> PreauthHash {
        PreauthHash {
            value: [0; PREAUTH_HASH_LEN],
        }
    }

    /// Starts from a known value.
    pub fn from_value(value: [u8; PREAUTH_HASH_LEN]) -> PreauthHash {
        PreauthHash { value }
    }

    /// Chains one message: `H = SHA-512(H || message)`.
    pub fn update(&mut self, message: &[u8]) {
        self.update_parts(&[message]);
    }

    /// Chains one message given as consecutive slices (no copy).
    pub fn update_parts(&mut self, parts: &[&[u8]]) {
        let mut h = Sha512::new();
        h.update(self.value);
        for p in parts {
            h.update(p);
        }
        self.value.copy_from_slice(&h.finalize());
    }

    /// The current value.
    pub fn value(&self) -> &[u8; PREAUTH_HASH_LEN] {
        &self.value
    }
}

impl Default for PreauthHash {
    fn default() -> PreauthHash {
        PreauthHash::new()
    }
}

impl fmt::Debug for PreauthHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreauthHash(")?;
        for b in &self.value[..8] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("..)")
    }
}
