//! SMB2 NEGOTIATE request and response ([MS-SMB2] 2.2.3, 2.2.4) and the negotiate contexts
//! of the 3.1.1 dialect (2.2.3.1.x, 2.2.4.1.x).
//!
//! Negotiate contexts start on 8-byte boundaries measured from the start of the SMB2 header
//! ([MS-SMB2] 2.2.3.1: "Each context MUST start at an 8-byte aligned boundary"); the offset of
//! the first one is given by NegotiateContextOffset, relative to the header start.

use super::flag_newtype;
use super::{
    Decode, DecodeError, DecodeResult, Encode, Guid, HEADER_LEN, Reader, pad_to, patch_u16,
    patch_u32, put_utf16le, slice_at, utf16le_to_string,
};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// An SMB2 dialect revision ([MS-SMB2] 2.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// SMB 2.0.2 (0x0202).
    Smb202,
    /// SMB 2.1 (0x0210).
    Smb210,
    /// SMB 3.0 (0x0300).
    Smb300,
    /// SMB 3.0.2 (0x0302).
    Smb302,
    /// SMB 3.1.1 (0x0311).
    Smb311,
    /// The wildcard revision 0x02FF a server answers to a multi-protocol negotiate
    /// ([MS-SMB2] 2.2.4, 3.3.5.3.1); only seen in responses.
    Wildcard,
    /// Any other value, kept so that decoding stays liberal.
    Other(u16),
}

impl Dialect {
    /// Map a wire value to a dialect.
    pub fn from_u16(v: u16) -> Dialect {
        match v {
            0x0202 => Dialect::Smb202,
            0x0210 => Dialect::Smb210,
            0x0300 => Dialect::Smb300,
            0x0302 => Dialect::Smb302,
            0x0311 => Dialect::Smb311,
            0x02FF => Dialect::Wildcard,
            o => Dialect::Other(o),
        }
    }

    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            Dialect::Smb202 => 0x0202,
            Dialect::Smb210 => 0x0210,
            Dialect::Smb300 => 0x0300,
            Dialect::Smb302 => 0x0302,
            Dialect::Smb311 => 0x0311,
            Dialect::Wildcard => 0x02FF,
            Dialect::Other(o) => o,
        }
    }

    /// True for the SMB 3.x family (3.0, 3.0.2, 3.1.1): signing with AES-CMAC, encryption,
    /// multichannel and key derivation apply.
    pub fn is_smb3(self) -> bool {
        matches!(self, Dialect::Smb300 | Dialect::Smb302 | Dialect::Smb311)
    }
}

/// SecurityMode of NEGOTIATE and SESSION_SETUP ([MS-SMB2] 2.2.3, 2.2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityMode(pub u16);

impl SecurityMode {
    /// SMB2_NEGOTIATE_SIGNING_ENABLED.
    pub const SIGNING_ENABLED: u16 = 0x0001;
    /// SMB2_NEGOTIATE_SIGNING_REQUIRED.
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}
flag_newtype!(SecurityMode, u16);

/// Global capabilities ([MS-SMB2] 2.2.3, 2.2.4; also used by SESSION_SETUP 2.2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(pub u32);

impl Capabilities {
    /// SMB2_GLOBAL_CAP_DFS.
    pub const DFS: u32 = 0x0000_0001;
    /// SMB2_GLOBAL_CAP_LEASING.
    pub const LEASING: u32 = 0x0000_0002;
    /// SMB2_GLOBAL_CAP_LARGE_MTU (multi-credit requests).
    pub const LARGE_MTU: u32 = 0x0000_0004;
    /// SMB2_GLOBAL_CAP_MULTI_CHANNEL.
    pub const MULTI_CHANNEL: u32 = 0x0000_0008;
    /// SMB2_GLOBAL_CAP_PERSISTENT_HANDLES.
    pub const PERSISTENT_HANDLES: u32 = 0x0000_0010;
    /// SMB2_GLOBAL_CAP_DIRECTORY_LEASING.
    pub const DIRECTORY_LEASING: u32 = 0x0000_0020;
    /// SMB2_GLOBAL_CAP_ENCRYPTION. A 3.0.x/3.1.1 client that can encrypt must set it, or
    /// servers such as Samba select no cipher.
    pub const ENCRYPTION: u32 = 0x0000_0040;
    /// SMB2_GLOBAL_CAP_NOTIFICATIONS (3.1.1, server-to-client notifications).
    pub const NOTIFICATIONS: u32 = 0x0000_0080;
}
flag_newtype!(Capabilities, u32);

/// Pre-authentication integrity hash algorithms ([MS-SMB2] 2.2.3.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-512 (0x0001).
    Sha512,
    /// Any other value.
    Other(u16),
}

impl HashAlgorithm {
    /// Map a wire value.
    pub fn from_u16(v: u16) -> Self {
        match v {
            0x0001 => HashAlgorithm::Sha512,
            o => HashAlgorithm::Other(o),
        }
    }
    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            HashAlgorithm::Sha512 => 0x0001,
            HashAlgorithm::Other(o) => o,
        }
    }
}

/// Encryption ciphers ([MS-SMB2] 2.2.3.1.2). A server that shares no cipher with the client
/// answers with the single value 0, decoded as `Other(0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// AES-128-CCM (0x0001).
    Aes128Ccm,
    /// AES-128-GCM (0x0002).
    Aes128Gcm,
    /// AES-256-CCM (0x0003).
    Aes256Ccm,
    /// AES-256-GCM (0x0004).
    Aes256Gcm,
    /// Any other value (0 = no common cipher).
    Other(u16),
}

impl Cipher {
    /// Map a wire value.
    pub fn from_u16(v: u16) -> Self {
        match v {
            0x0001 => Cipher::Aes128Ccm,
            0x0002 => Cipher::Aes128Gcm,
            0x0003 => Cipher::Aes256Ccm,
            0x0004 => Cipher::Aes256Gcm,
            o => Cipher::Other(o),
        }
    }
    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            Cipher::Aes128Ccm => 0x0001,
            Cipher::Aes128Gcm => 0x0002,
            Cipher::Aes256Ccm => 0x0003,
            Cipher::Aes256Gcm => 0x0004,
            Cipher::Other(o) => o,
        }
    }
}

/// Signing algorithms ([MS-SMB2] 2.2.3.1.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256 (0x0000).
    HmacSha256,
    /// AES-CMAC (0x0001).
    AesCmac,
    /// AES-GMAC (0x0002).
    AesGmac,
    /// Any other value.
    Other(u16),
}

impl SigningAlgorithm {
    /// Map a wire value.
    pub fn from_u16(v: u16) -> Self {
        match v {
            0x0000 => SigningAlgorithm::HmacSha256,
            0x0001 => SigningAlgorithm::AesCmac,
            0x0002 => SigningAlgorithm::AesGmac,
            o => SigningAlgorithm::Other(o),
        }
    }
    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            SigningAlgorithm::HmacSha256 => 0x0000,
            SigningAlgorithm::AesCmac => 0x0001,
            SigningAlgorithm::AesGmac => 0x0002,
            SigningAlgorithm::Other(o) => o,
        }
    }
}

/// Compression algorithms ([MS-SMB2] 2.2.3.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompressionAlgorithm {
    /// NONE (0x0000).
    None,
    /// LZNT1 (0x0001).
    Lznt1,
    /// LZ77 (0x0002).
    Lz77,
    /// LZ77+Huffman (0x0003).
    Lz77Huffman,
    /// Pattern_V1 (0x0004).
    PatternV1,
    /// LZ4 (0x0005).
    Lz4,
    /// Any other value.
    Other(u16),
}

impl CompressionAlgorithm {
    /// Map a wire value.
    pub fn from_u16(v: u16) -> Self {
        match v {
            0 => CompressionAlgorithm::None,
            1 => CompressionAlgorithm::Lznt1,
            2 => CompressionAlgorithm::Lz77,
            3 => CompressionAlgorithm::Lz77Huffman,
            4 => CompressionAlgorithm::PatternV1,
            5 => CompressionAlgorithm::Lz4,
            o => CompressionAlgorithm::Other(o),
        }
    }
    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            CompressionAlgorithm::None => 0,
            CompressionAlgorithm::Lznt1 => 1,
            CompressionAlgorithm::Lz77 => 2,
            CompressionAlgorithm::Lz77Huffman => 3,
            CompressionAlgorithm::PatternV1 => 4,
            CompressionAlgorithm::Lz4 => 5,
            CompressionAlgorithm::Other(o) => o,
        }
    }
}

/// Context type values ([MS-SMB2] 2.2.3.1).
pub mod context_type {
    /// SMB2_PREAUTH_INTEGRITY_CAPABILITIES.
    pub const PREAUTH_INTEGRITY_CAPABILITIES: u16 = 0x0001;
    /// SMB2_ENCRYPTION_CAPABILITIES.
    pub const ENCRYPTION_CAPABILITIES: u16 = 0x0002;
    /// SMB2_COMPRESSION_CAPABILITIES.
    pub const COMPRESSION_CAPABILITIES: u16 = 0x0003;
    /// SMB2_NETNAME_NEGOTIATE_CONTEXT_ID.
    pub const NETNAME_NEGOTIATE_CONTEXT_ID: u16 = 0x0005;
    /// SMB2_TRANSPORT_CAPABILITIES.
    pub const TRANSPORT_CAPABILITIES: u16 = 0x0006;
    /// SMB2_RDMA_TRANSFORM_CAPABILITIES.
    pub const RDMA_TRANSFORM_CAPABILITIES: u16 = 0x0007;
    /// SMB2_SIGNING_CAPABILITIES.
    pub const SIGNING_CAPABILITIES: u16 = 0x0008;
}

/// SMB2_COMPRESSION_CAPABILITIES_FLAG_CHAINED ([MS-SMB2] 2.2.3.1.3).
pub const COMPRESSION_CAPABILITIES_FLAG_CHAINED: u32 = 0x0000_0001;

/// SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY ([MS-SMB2] 2.2.3.1.5).
pub const ACCEPT_TRANSPORT_LEVEL_SECURITY: u32 = 0x0000_0001;

/// One negotiate context ([MS-SMB2] 2.2.3.1, 2.2.4.1). Unknown types are kept raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NegotiateContext {
    /// SMB2_PREAUTH_INTEGRITY_CAPABILITIES (2.2.3.1.1, 2.2.4.1.1).
    PreauthIntegrity {
        /// Hash algorithms (the response carries exactly one).
        hash_algorithms: Vec<HashAlgorithm>,
        /// Salt (32 random bytes from Windows clients).
        salt: Vec<u8>,
    },
    /// SMB2_ENCRYPTION_CAPABILITIES (2.2.3.1.2, 2.2.4.1.2).
    Encryption {
        /// Ciphers in preference order (the response carries exactly one).
        ciphers: Vec<Cipher>,
    },
    /// SMB2_COMPRESSION_CAPABILITIES (2.2.3.1.3, 2.2.4.1.3).
    Compression {
        /// Flags ([`COMPRESSION_CAPABILITIES_FLAG_CHAINED`]).
        flags: u32,
        /// Algorithms.
        algorithms: Vec<CompressionAlgorithm>,
    },
    /// SMB2_NETNAME_NEGOTIATE_CONTEXT_ID (2.2.3.1.4): the server name the client connects to.
    NetName(String),
    /// SMB2_TRANSPORT_CAPABILITIES (2.2.3.1.5, 2.2.4.1.5).
    Transport {
        /// Flags ([`ACCEPT_TRANSPORT_LEVEL_SECURITY`]).
        flags: u32,
    },
    /// SMB2_RDMA_TRANSFORM_CAPABILITIES (2.2.3.1.6, 2.2.4.1.6).
    RdmaTransform {
        /// Transform ids (0 none, 1 encryption, 2 signing).
        transforms: Vec<u16>,
    },
    /// SMB2_SIGNING_CAPABILITIES (2.2.3.1.7, 2.2.4.1.7).
    Signing {
        /// Algorithms in preference order (the response carries exactly one).
        algorithms: Vec<SigningAlgorithm>,
    },
    /// A context type this codec does not know, kept as is.
    Other {
        /// ContextType.
        context_type: u16,
        /// Data.
        data: Vec<u8>,
    },
}

fn bad(field: &'static str, value: u64) -> DecodeError {
    DecodeError::BadField { field, value }
}

fn read_u16_list<T>(r: &mut Reader<'_>, n: usize, f: fn(u16) -> T) -> DecodeResult<Vec<T>> {
    // The count comes from the wire: check that the bytes are there before allocating.
    let bytes = r.bytes(n.checked_mul(2).ok_or(bad("Count", n as u64))?)?;
    Ok(bytes
        .chunks_exact(2)
        .map(|c| f(u16::from_le_bytes([c[0], c[1]])))
        .collect())
}

impl NegotiateContext {
    /// The ContextType value.
    pub fn context_type(&self) -> u16 {
        use context_type::*;
        match self {
            NegotiateContext::PreauthIntegrity { .. } => PREAUTH_INTEGRITY_CAPABILITIES,
            NegotiateContext::Encryption { .. } => ENCRYPTION_CAPABILITIES,
            NegotiateContext::Compression { .. } => COMPRESSION_CAPABILITIES,
            NegotiateContext::NetName(_) => NETNAME_NEGOTIATE_CONTEXT_ID,
            NegotiateContext::Transport { .. } => TRANSPORT_CAPABILITIES,
            NegotiateContext::RdmaTransform { .. } => RDMA_TRANSFORM_CAPABILITIES,
            NegotiateContext::Signing { .. } => SIGNING_CAPABILITIES,
            NegotiateContext::Other { context_type, .. } => *context_type,
        }
    }

    /// Append the context (8-byte context header + data) at the current end of `out`. The
    /// caller aligns `out` to 8 first.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16_le(self.context_type());
        let len_pos = out.len();
        out.put_u16_le(0);
        out.put_u32_le(0); // Reserved
        let start = out.len();
        match self {
            NegotiateContext::PreauthIntegrity {
                hash_algorithms,
                salt,
            } => {
                out.put_u16_le(hash_algorithms.len() as u16);
                out.put_u16_le(salt.len() as u16);
                for h in hash_algorithms {
                    out.put_u16_le(h.to_u16());
                }
                out.put_slice(salt);
            }
            NegotiateContext::Encryption { ciphers } => {
                out.put_u16_le(ciphers.len() as u16);
                for c in ciphers {
                    out.put_u16_le(c.to_u16());
                }
            }
            NegotiateContext::Compression { flags, algorithms } => {
                out.put_u16_le(algorithms.len() as u16);
                out.put_u16_le(0); // Padding
                out.put_u32_le(*flags);
                for a in algorithms {
                    out.put_u16_le(a.to_u16());
                }
            }
            NegotiateContext::NetName(name) => put_utf16le(out, name),
            NegotiateContext::Transport { flags } => out.put_u32_le(*flags),
            NegotiateContext::RdmaTransform { transforms } => {
                out.put_u16_le(transforms.len() as u16);
                out.put_u16_le(0); // Reserved1
                out.put_u32_le(0); // Reserved2
                for t in transforms {
                    out.put_u16_le(*t);
                }
            }
            NegotiateContext::Signing { algorithms } => {
                out.put_u16_le(algorithms.len() as u16);
                for a in algorithms {
                    out.put_u16_le(a.to_u16());
                }
            }
            NegotiateContext::Other { data, .. } => out.put_slice(data),
        }
        let len = out.len() - start;
        patch_u16(out, len_pos, len as u16);
    }

    /// Decode the data of a context of type `ty`.
    pub fn decode_data(ty: u16, data: &[u8]) -> DecodeResult<NegotiateContext> {
        use context_type::*;
        let mut r = Reader::new(data);
        Ok(match ty {
            PREAUTH_INTEGRITY_CAPABILITIES => {
                let n = r.u16()? as usize;
                let salt_len = r.u16()? as usize;
                let hash_algorithms = read_u16_list(&mut r, n, HashAlgorithm::from_u16)?;
                let salt = r.bytes(salt_len)?.to_vec();
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms,
                    salt,
                }
            }
            ENCRYPTION_CAPABILITIES => {
                let n = r.u16()? as usize;
                NegotiateContext::Encryption {
                    ciphers: read_u16_list(&mut r, n, Cipher::from_u16)?,
                }
            }
            COMPRESSION_CAPABILITIES => {
                let n = r.u16()? as usize;
                r.skip(2)?;
                let flags = r.u32()?;
                NegotiateContext::Compression {
                    flags,
                    algorithms: read_u16_list(&mut r, n, CompressionAlgorithm::from_u16)?,
                }
            }
            NETNAME_NEGOTIATE_CONTEXT_ID => {
                // Some clients add a terminating NUL: drop trailing NULs.
                let mut name = data;
                while name.len() >= 2 && name[name.len() - 2..] == [0, 0] {
                    name = &name[..name.len() - 2];
                }
                NegotiateContext::NetName(utf16le_to_string(name)?)
            }
            TRANSPORT_CAPABILITIES => NegotiateContext::Transport { flags: r.u32()? },
            RDMA_TRANSFORM_CAPABILITIES => {
                let n = r.u16()? as usize;
                r.skip(6)?;
                NegotiateContext::RdmaTransform {
                    transforms: read_u16_list(&mut r, n, |v| v)?,
                }
            }
            SIGNING_CAPABILITIES => {
                let n = r.u16()? as usize;
                NegotiateContext::Signing {
                    algorithms: read_u16_list(&mut r, n, SigningAlgorithm::from_u16)?,
                }
            }
            other => NegotiateContext::Other {
                context_type: other,
                data: data.to_vec(),
            },
        })
    }
}

/// Append `contexts` 8-byte aligned; returns the offset of the first one (0 if none).
fn encode_contexts(msg: &mut Vec<u8>, contexts: &[NegotiateContext]) -> u32 {
    if contexts.is_empty() {
        return 0;
    }
    pad_to(msg, 8);
    let off = msg.len();
    for (i, c) in contexts.iter().enumerate() {
        if i > 0 {
            pad_to(msg, 8); // [MS-SMB2] 2.2.3.1: each context starts 8-byte aligned
        }
        c.encode(msg);
    }
    off as u32
}

/// Decode `count` contexts starting at `offset` of `msg`, each 8-byte aligned.
fn decode_contexts(
    msg: &[u8],
    offset: usize,
    count: usize,
    min_offset: usize,
) -> DecodeResult<Vec<NegotiateContext>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if offset < min_offset || offset > msg.len() {
        return Err(DecodeError::BadOffset {
            field: "NegotiateContextOffset",
        });
    }
    let mut r = Reader::at(msg, offset)?;
    let mut out = Vec::new();
    for i in 0..count {
        if i > 0 {
            let pad = (8 - r.pos() % 8) % 8;
            // The last context needs no padding after it, but every other one does.
            r.skip(pad)?;
        }
        let ty = r.u16()?;
        let len = r.u16()? as usize;
        r.skip(4)?; // Reserved
        let data = r.bytes(len)?;
        out.push(NegotiateContext::decode_data(ty, data)?);
    }
    Ok(out)
}

/// SMB2 NEGOTIATE request ([MS-SMB2] 2.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateRequest {
    /// SecurityMode.
    pub security_mode: SecurityMode,
    /// Capabilities (0 unless a 3.x dialect is offered).
    pub capabilities: Capabilities,
    /// ClientGuid (0 for 2.0.2 only).
    pub client_guid: Guid,
    /// Dialects offered.
    pub dialects: Vec<Dialect>,
    /// Negotiate contexts; sent only when 3.1.1 is among the dialects. When 3.1.1 is not
    /// offered the same 8 bytes are ClientStartTime, which is always 0 ([MS-SMB2] 2.2.3).
    pub contexts: Vec<NegotiateContext>,
}

const NEG_REQ_FIXED: usize = 36;

impl Encode for NegotiateRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        let base = msg.len();
        msg.put_u16_le(36); // StructureSize
        msg.put_u16_le(self.dialects.len() as u16);
        msg.put_u16_le(self.security_mode.0);
        msg.put_u16_le(0); // Reserved
        msg.put_u32_le(self.capabilities.0);
        msg.put_slice(&self.client_guid.0);
        let ctx_pos = msg.len();
        msg.put_u32_le(0); // NegotiateContextOffset / ClientStartTime
        msg.put_u16_le(0); // NegotiateContextCount
        msg.put_u16_le(0); // Reserved2
        debug_assert_eq!(msg.len() - base, NEG_REQ_FIXED);
        for d in &self.dialects {
            msg.put_u16_le(d.to_u16());
        }
        if !self.contexts.is_empty() {
            let off = encode_contexts(msg, &self.contexts);
            patch_u32(msg, ctx_pos, off);
            patch_u16(msg, ctx_pos + 4, self.contexts.len() as u16);
        }
    }
}

impl<'a> Decode<'a> for NegotiateRequest {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 36)?;
        let count = r.u16()? as usize;
        let security_mode = SecurityMode(r.u16()?);
        r.skip(2)?;
        let capabilities = Capabilities(r.u32()?);
        let client_guid = r.guid()?;
        let ctx_off = r.u32()? as usize;
        let ctx_count = r.u16()? as usize;
        r.skip(2)?;
        let dialects = read_u16_list(&mut r, count, Dialect::from_u16)?;
        let contexts = if dialects.contains(&Dialect::Smb311) {
            decode_contexts(msg, ctx_off, ctx_count, r.pos())?
        } else {
            Vec::new()
        };
        Ok(NegotiateRequest {
            security_mode,
            capabilities,
            client_guid,
            dialects,
            contexts,
        })
    }
}

/// SMB2 NEGOTIATE response ([MS-SMB2] 2.2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateResponse<'a> {
    /// SecurityMode.
    pub security_mode: SecurityMode,
    /// DialectRevision chosen (or [`Dialect::Wildcard`]).
    pub dialect: Dialect,
    /// ServerGuid.
    pub server_guid: Guid,
    /// Capabilities.
    pub capabilities: Capabilities,
    /// MaxTransactSize.
    pub max_transact_size: u32,
    /// MaxReadSize.
    pub max_read_size: u32,
    /// MaxWriteSize.
    pub max_write_size: u32,
    /// SystemTime (FILETIME).
    pub system_time: u64,
    /// ServerStartTime (FILETIME, usually 0).
    pub server_start_time: u64,
    /// The security buffer (a SPNEGO NegTokenInit2, possibly empty).
    pub security_buffer: &'a [u8],
    /// Negotiate contexts (3.1.1 only).
    pub contexts: Vec<NegotiateContext>,
}

const NEG_RSP_FIXED: usize = 64;

impl Encode for NegotiateResponse<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        let base = msg.len();
        msg.put_u16_le(65); // StructureSize
        msg.put_u16_le(self.security_mode.0);
        msg.put_u16_le(self.dialect.to_u16());
        let count_pos = msg.len();
        msg.put_u16_le(0); // NegotiateContextCount / Reserved
        msg.put_slice(&self.server_guid.0);
        msg.put_u32_le(self.capabilities.0);
        msg.put_u32_le(self.max_transact_size);
        msg.put_u32_le(self.max_read_size);
        msg.put_u32_le(self.max_write_size);
        msg.put_u64_le(self.system_time);
        msg.put_u64_le(self.server_start_time);
        // The security buffer follows the fixed part ([MS-SMB2] 2.2.4); servers give this
        // offset even for an empty buffer.
        msg.put_u16_le((base + NEG_RSP_FIXED) as u16);
        msg.put_u16_le(self.security_buffer.len() as u16);
        let off_pos = msg.len();
        msg.put_u32_le(0); // NegotiateContextOffset / Reserved2
        msg.put_slice(self.security_buffer);
        if !self.contexts.is_empty() {
            let off = encode_contexts(msg, &self.contexts);
            patch_u32(msg, off_pos, off);
            patch_u16(msg, count_pos, self.contexts.len() as u16);
        }
    }
}

impl<'a> Decode<'a> for NegotiateResponse<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 65)?;
        let security_mode = SecurityMode(r.u16()?);
        let dialect = Dialect::from_u16(r.u16()?);
        let ctx_count = r.u16()? as usize;
        let server_guid = r.guid()?;
        let capabilities = Capabilities(r.u32()?);
        let max_transact_size = r.u32()?;
        let max_read_size = r.u32()?;
        let max_write_size = r.u32()?;
        let system_time = r.u64()?;
        let server_start_time = r.u64()?;
        let sb_off = r.u16()? as usize;
        let sb_len = r.u16()? as usize;
        let ctx_off = r.u32()? as usize;
        let fixed_end = r.pos();
        let security_buffer = slice_at(msg, sb_off, sb_len, fixed_end, "SecurityBuffer")?;
        // NegotiateContextCount/Offset are meaningful only for 3.1.1 ([MS-SMB2] 2.2.4).
        let contexts = if dialect == Dialect::Smb311 {
            decode_contexts(msg, ctx_off, ctx_count, fixed_end)?
        } else {
            Vec::new()
        };
        Ok(NegotiateResponse {
            security_mode,
            dialect,
            server_guid,
            capabilities,
            max_transact_size,
            max_read_size,
            max_write_size,
            system_time,
            server_start_time,
            security_buffer,
            contexts,
        })
    }
}

impl NegotiateResponse<'_> {
    /// The cipher the server selected (3.1.1 encryption context), if any.
    pub fn cipher(&self) -> Option<Cipher> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::Encryption { ciphers } => ciphers.first().copied(),
            _ => None,
        })
    }

    /// The signing algorithm the server selected (3.1.1 signing context), if any.
    pub fn signing_algorithm(&self) -> Option<SigningAlgorithm> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::Signing { algorithms } => algorithms.first().copied(),
            _ => None,
        })
    }

    /// The pre-auth integrity hash the server selected (3.1.1), if any.
    pub fn preauth_hash(&self) -> Option<HashAlgorithm> {
        self.contexts.iter().find_map(|c| match c {
            NegotiateContext::PreauthIntegrity {
                hash_algorithms, ..
            } => hash_algorithms.first().copied(),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_util::{all_prefixes_fail, hex, message, reencodes_exactly};
    use crate::wire::{Command, Header};
    use alloc::vec;

    fn sample_request() -> NegotiateRequest {
        NegotiateRequest {
            security_mode: SecurityMode(SecurityMode::SIGNING_ENABLED),
            capabilities: Capabilities(
                Capabilities::DFS
                    | Capabilities::LEASING
                    | Capabilities::LARGE_MTU
                    | Capabilities::ENCRYPTION,
            ),
            client_guid: Guid([7; 16]),
            dialects: vec![
                Dialect::Smb202,
                Dialect::Smb210,
                Dialect::Smb300,
                Dialect::Smb302,
                Dialect::Smb311,
            ],
            contexts: vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![HashAlgorithm::Sha512],
                    salt: (0..32).collect(),
                },
                NegotiateContext::Encryption {
                    ciphers: vec![
                        Cipher::Aes128Gcm,
                        Cipher::Aes128Ccm,
                        Cipher::Aes256Gcm,
                        Cipher::Aes256Ccm,
                    ],
                },
                NegotiateContext::Compression {
                    flags: COMPRESSION_CAPABILITIES_FLAG_CHAINED,
                    algorithms: vec![CompressionAlgorithm::PatternV1, CompressionAlgorithm::Lz4],
                },
                NegotiateContext::NetName("server".into()),
                NegotiateContext::Transport {
                    flags: ACCEPT_TRANSPORT_LEVEL_SECURITY,
                },
                NegotiateContext::RdmaTransform {
                    transforms: vec![1, 2],
                },
                NegotiateContext::Signing {
                    algorithms: vec![
                        SigningAlgorithm::AesGmac,
                        SigningAlgorithm::AesCmac,
                        SigningAlgorithm::HmacSha256,
                    ],
                },
                NegotiateContext::Other {
                    context_type: 0x0100,
                    data: vec![1, 2, 3],
                },
            ],
        }
    }

    #[test]
    fn request_round_trips_with_all_contexts() {
        let req = sample_request();
        let msg = message(Command::Negotiate, false, &req);
        // Fixed part 36 + 5 dialects = 110, contexts start at 112 (8-aligned).
        assert_eq!(&msg[64..66], &[36, 0]);
        assert_eq!(&msg[66..68], &[5, 0]);
        assert_eq!(u32::from_le_bytes(msg[92..96].try_into().unwrap()), 112);
        assert_eq!(&msg[96..98], &[8, 0]);
        assert_eq!(&msg[100..102], &[0x02, 0x02]);
        assert_eq!(&msg[110..112], &[0, 0]);
        // Preauth context header: type 1, length 4 + 2 + 32 = 38.
        assert_eq!(&msg[112..120], &[1, 0, 38, 0, 0, 0, 0, 0]);
        // The second context starts 8-aligned after 112 + 8 + 38 = 158 -> 160.
        assert_eq!(&msg[160..162], &[2, 0]);
        let back = NegotiateRequest::decode(&msg).unwrap();
        assert_eq!(back, req);
        let mut again = Vec::new();
        Header::decode(&msg).unwrap().encode(&mut again);
        back.encode(&mut again);
        assert_eq!(again, msg);
        all_prefixes_fail(&msg, |m| NegotiateRequest::decode(m).is_err());
    }

    #[test]
    fn request_without_311_has_no_contexts() {
        let req = NegotiateRequest {
            security_mode: SecurityMode(SecurityMode::SIGNING_REQUIRED),
            capabilities: Capabilities(0),
            client_guid: Guid::ZERO,
            dialects: vec![Dialect::Smb202, Dialect::Smb210],
            contexts: vec![],
        };
        let msg = message(Command::Negotiate, false, &req);
        assert_eq!(msg.len(), 64 + 36 + 4);
        assert_eq!(NegotiateRequest::decode(&msg).unwrap(), req);
    }

    /// A 3.1.1 NEGOTIATE request as smbclient 4.17 sends it ([MS-SMB2] 2.2.3 layout), bytes
    /// written out by hand from the field values so each offset is checked independently of
    /// the encoder.
    #[test]
    fn request_matches_hand_built_vector() {
        let mut v = Vec::new();
        Header::request(Command::Negotiate).encode(&mut v);
        #[rustfmt::skip]
        let body: [u8; 36 + 4] = [
            36, 0, 2, 0, 1, 0, 0, 0, 0x40, 0, 0, 0, // size, 2 dialects, signing enabled, caps
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // ClientGuid
            104, 0, 0, 0, 2, 0, 0, 0, // context offset 104, count 2
            0x02, 0x03, 0x11, 0x03, // dialects 0x0302, 0x0311
        ];
        v.extend_from_slice(&body);
        #[rustfmt::skip]
        v.extend_from_slice(&[
            1, 0, 38, 0, 0, 0, 0, 0, 1, 0, 32, 0, 1, 0, // preauth: 1 hash, 32 salt, SHA-512
        ]);
        v.extend(core::iter::repeat_n(0xAB, 32));
        v.extend_from_slice(&[0, 0]); // pad 150 -> 152
        v.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 1, 0, 2, 0]); // encryption: GCM
        let req = NegotiateRequest::decode(&v).unwrap();
        assert_eq!(req.dialects, vec![Dialect::Smb302, Dialect::Smb311]);
        assert!(req.capabilities.has(Capabilities::ENCRYPTION));
        assert_eq!(
            req.contexts,
            vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![HashAlgorithm::Sha512],
                    salt: vec![0xAB; 32]
                },
                NegotiateContext::Encryption {
                    ciphers: vec![Cipher::Aes128Gcm]
                }
            ]
        );
        let mut again = Vec::new();
        Header::request(Command::Negotiate).encode(&mut again);
        req.encode(&mut again);
        assert_eq!(again, v);
    }

    fn sample_response(blob: &[u8]) -> NegotiateResponse<'_> {
        NegotiateResponse {
            security_mode: SecurityMode(SecurityMode::SIGNING_ENABLED),
            dialect: Dialect::Smb311,
            server_guid: Guid([9; 16]),
            capabilities: Capabilities(
                Capabilities::DFS | Capabilities::LARGE_MTU | Capabilities::ENCRYPTION,
            ),
            max_transact_size: 8 << 20,
            max_read_size: 8 << 20,
            max_write_size: 8 << 20,
            system_time: 0x01DA_0000_0000_0000,
            server_start_time: 0,
            security_buffer: blob,
            contexts: vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![HashAlgorithm::Sha512],
                    salt: vec![5; 32],
                },
                NegotiateContext::Encryption {
                    ciphers: vec![Cipher::Aes128Gcm],
                },
                NegotiateContext::Signing {
                    algorithms: vec![SigningAlgorithm::AesGmac],
                },
            ],
        }
    }

    #[test]
    fn response_round_trips_and_borrows_blob() {
        let blob = [0x60u8, 0x5e, 0x06, 0x06, 0x2b, 0x06, 0x01];
        let rsp = sample_response(&blob);
        let msg = message(Command::Negotiate, true, &rsp);
        assert_eq!(&msg[64..66], &[65, 0]);
        assert_eq!(&msg[120..122], &[128, 0]); // SecurityBufferOffset
        // Contexts after 128 + 7 = 135, aligned to 136.
        assert_eq!(u32::from_le_bytes(msg[124..128].try_into().unwrap()), 136);
        let back = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(back, rsp);
        assert_eq!(back.cipher(), Some(Cipher::Aes128Gcm));
        assert_eq!(back.signing_algorithm(), Some(SigningAlgorithm::AesGmac));
        assert_eq!(back.preauth_hash(), Some(HashAlgorithm::Sha512));
        assert!(core::ptr::eq(
            back.security_buffer.as_ptr(),
            msg[128..].as_ptr()
        ));
        all_prefixes_fail(&msg, |m| NegotiateResponse::decode(m).is_err());
    }

    #[test]
    fn response_for_older_dialect_ignores_context_fields() {
        let mut rsp = sample_response(&[]);
        rsp.dialect = Dialect::Wildcard;
        rsp.contexts.clear();
        let mut msg = message(Command::Negotiate, true, &rsp);
        // Garbage in the Reserved fields is ignored for dialects other than 3.1.1.
        msg[70] = 0xFF;
        msg[124] = 0xFF;
        let back = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(back.dialect, Dialect::Wildcard);
        assert!(back.contexts.is_empty());
    }

    #[test]
    fn rejects_bad_offsets_and_counts() {
        let rsp = sample_response(&[1, 2, 3]);
        let msg = message(Command::Negotiate, true, &rsp);
        // Security buffer offset into the fixed part.
        let mut m = msg.clone();
        m[120] = 100;
        assert!(NegotiateResponse::decode(&m).is_err());
        // Security buffer length past the end.
        let mut m = msg.clone();
        m[122..124].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(NegotiateResponse::decode(&m).is_err());
        // Context offset beyond the message.
        let mut m = msg.clone();
        m[124..128].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(NegotiateResponse::decode(&m).is_err());
        // Too many contexts.
        let mut m = msg.clone();
        m[70..72].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(NegotiateResponse::decode(&m).is_err());
        // A context whose DataLength runs past the end.
        let mut m = msg.clone();
        let ctx = u32::from_le_bytes(m[124..128].try_into().unwrap()) as usize;
        m[ctx + 2..ctx + 4].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(NegotiateResponse::decode(&m).is_err());
        // A preauth context whose salt length exceeds its data.
        let mut m = msg.clone();
        m[ctx + 10..ctx + 12].copy_from_slice(&200u16.to_le_bytes());
        assert!(NegotiateResponse::decode(&m).is_err());
        // Request: dialect count past the end.
        let req = message(Command::Negotiate, false, &sample_request());
        let mut m = req.clone();
        m[66..68].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(NegotiateRequest::decode(&m).is_err());
        // Wrong StructureSize.
        let mut m = req;
        m[64] = 37;
        assert!(NegotiateRequest::decode(&m).is_err());
    }

    #[test]
    fn netname_tolerates_terminator() {
        let mut d = Vec::new();
        put_utf16le(&mut d, "srv");
        d.extend_from_slice(&[0, 0]);
        assert_eq!(
            NegotiateContext::decode_data(context_type::NETNAME_NEGOTIATE_CONTEXT_ID, &d).unwrap(),
            NegotiateContext::NetName("srv".into())
        );
    }

    /// smbclient/smbd 4.17 on loopback, frame 4 of the capture (NBSS prefix removed).
    const SAMBA_NEG_REQ_311: &str = "\
        fe534d42400000000000000000001f0000000000000000000000000000000000000000000000000000000000\
        000000000000000000000000000000000000000024000500010000007f000000e71779e153b02148972b2507\
        da551b63700000000400000002021002000302031103000001002600000000000100200001008fdcce33e795\
        aa41c80c196881a12a71f099602370e078fd43797a4d3decaa8c000002000a00000000000400020001000400\
        03000000000000000800080000000000030002000100000005001200000000003100320037002e0030002e00\
        30002e003100\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 6 of the capture (NBSS prefix removed).
    const SAMBA_NEG_RSP_311: &str = "\
        fe534d4240000000000000000000010001000000000000000000000000000000000000000000000000000000\
        0000000000000000000000000000000000000000410001001103030063617073727600000000000000000000\
        0f000000000080000000800000008000acce34dfa67cdd01000000000000000080004a00d000000060480606\
        2b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65\
        645f696e5f5246433431373840706c656173655f69676e6f7265000000000000010026000000000001002000\
        010027c67ac3b6ac37fa14801ad670b9f08ee5e4d18c26d751c6d5a6b6a6e0c0b6b600000200040000000000\
        0100020000000000080004000000000001000200\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 66 of the capture (NBSS prefix removed).
    const SAMBA_NEG_REQ_210: &str = "\
        fe534d42400000000000000000001f0000000000000000000000000000000000000000000000000000000000\
        0000000000000000000000000000000000000000240002000100000000000000230c68fa5a84db4e8b9ce6f4\
        9990f8b3000000000000000002021002\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 68 of the capture (NBSS prefix removed).
    const SAMBA_NEG_RSP_210: &str = "\
        fe534d4240000000000000000000010001000000000000000000000000000000000000000000000000000000\
        0000000000000000000000000000000000000000410001001002000063617073727600000000000000000000\
        07000000000080000000800000008000da2154dfa67cdd01000000000000000080004a000000000060480606\
        2b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65\
        645f696e5f5246433431373840706c656173655f69676e6f7265\
    ";

    #[test]
    fn samba_311_negotiate_capture() {
        let msg = hex(SAMBA_NEG_REQ_311);
        let req = NegotiateRequest::decode(&msg).unwrap();
        assert_eq!(
            req.dialects,
            vec![
                Dialect::Smb202,
                Dialect::Smb210,
                Dialect::Smb300,
                Dialect::Smb302,
                Dialect::Smb311
            ]
        );
        assert!(req.capabilities.has(Capabilities::ENCRYPTION));
        assert_eq!(req.contexts.len(), 4);
        assert!(matches!(
            &req.contexts[0],
            NegotiateContext::PreauthIntegrity { hash_algorithms, salt }
                if hash_algorithms == &[HashAlgorithm::Sha512] && salt.len() == 32
        ));
        assert_eq!(
            req.contexts[1],
            NegotiateContext::Encryption {
                ciphers: vec![
                    Cipher::Aes128Gcm,
                    Cipher::Aes128Ccm,
                    Cipher::Aes256Gcm,
                    Cipher::Aes256Ccm
                ]
            }
        );
        assert_eq!(
            req.contexts[2],
            NegotiateContext::Signing {
                algorithms: vec![
                    SigningAlgorithm::AesGmac,
                    SigningAlgorithm::AesCmac,
                    SigningAlgorithm::HmacSha256
                ]
            }
        );
        assert_eq!(
            req.contexts[3],
            NegotiateContext::NetName("127.0.0.1".into())
        );
        reencodes_exactly(&msg, &req);
        all_prefixes_fail(&msg, |m| NegotiateRequest::decode(m).is_err());

        let msg = hex(SAMBA_NEG_RSP_311);
        let rsp = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(rsp.dialect, Dialect::Smb311);
        assert_eq!(rsp.max_read_size, 8 << 20);
        assert_eq!(rsp.security_buffer.len(), 74);
        assert_eq!(rsp.security_buffer[0], 0x60);
        assert_eq!(rsp.cipher(), Some(Cipher::Aes128Gcm));
        assert_eq!(rsp.signing_algorithm(), Some(SigningAlgorithm::AesGmac));
        assert_eq!(rsp.preauth_hash(), Some(HashAlgorithm::Sha512));
        reencodes_exactly(&msg, &rsp);
        all_prefixes_fail(&msg, |m| NegotiateResponse::decode(m).is_err());
    }

    #[test]
    fn samba_210_negotiate_capture() {
        let msg = hex(SAMBA_NEG_REQ_210);
        let req = NegotiateRequest::decode(&msg).unwrap();
        assert_eq!(req.dialects, vec![Dialect::Smb202, Dialect::Smb210]);
        assert!(req.contexts.is_empty());
        reencodes_exactly(&msg, &req);
        let msg = hex(SAMBA_NEG_RSP_210);
        let rsp = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(rsp.dialect, Dialect::Smb210);
        assert!(rsp.contexts.is_empty());
        assert!(!rsp.security_buffer.is_empty());
        reencodes_exactly(&msg, &rsp);
    }
}
