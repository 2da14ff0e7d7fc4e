//! The SMB2/3 wire codec ([MS-SMB2] section 2).
//!
//! One module per command family. Conventions shared by every module:
//!
//! - A *message* is one SMB2 header (64 bytes) followed by its body. Offsets inside bodies are
//!   relative to the start of the message's header ([MS-SMB2] 2.2), so bodies are encoded into
//!   and decoded from the whole message.
//! - [`Encode::encode`] appends the body to a buffer that already holds this message's header
//!   at its start (`msg.len() == HEADER_LEN` on entry). Offsets are computed from `msg.len()`.
//! - [`Decode::decode`] reads the body from the whole message (`msg[..64]` is the header);
//!   variable-length payloads that can be large (read data, security blobs, directory pages,
//!   ioctl output) are borrowed as `&'a [u8]`, so a caller holding the frame as `Bytes` can
//!   keep them without a copy through `Bytes::slice_ref`.
//! - Every length and offset from the wire goes through [`Reader`], which checks bounds before
//!   anything is read or allocated. Decoding never panics.

pub mod cancel;
pub mod change_notify;
pub mod close;
pub mod compound;
pub mod create;
pub mod create_context;
pub mod dfs_referral;
pub mod echo;
pub mod error;
pub mod flush;
pub mod framing;
pub mod fscc;
pub mod fsctl_fs;
pub mod header;
pub mod ioctl;
pub mod lock;
pub mod logoff;
pub mod negotiate;
pub mod oplock_break;
pub mod query_directory;
pub mod query_info;
pub mod read;
pub mod rpc;
pub mod security;
pub mod session_setup;
pub mod set_info;
pub mod srvsvc;
pub mod status;
#[cfg(test)]
pub(crate) mod test_util;
pub mod transform;
pub mod tree_connect;
pub mod write;

use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;
use core::fmt;

/// Defines the helper methods shared by the plain flag newtypes (`pub struct X(pub u32)`):
/// `has`, `set`, `with`, `|` and `From` the raw integer.
macro_rules! flag_newtype {
    ($name:ident, $ty:ty) => {
        impl $name {
            /// Whether every bit of `bits` is set.
            pub fn has(self, bits: $ty) -> bool {
                self.0 & bits == bits
            }
            /// Set or clear `bits`.
            pub fn set(&mut self, bits: $ty, on: bool) {
                if on {
                    self.0 |= bits;
                } else {
                    self.0 &= !bits;
                }
            }
            /// This value with `bits` added.
            pub fn with(self, bits: $ty) -> Self {
                $name(self.0 | bits)
            }
        }
        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
        impl From<$ty> for $name {
            fn from(v: $ty) -> $name {
                $name(v)
            }
        }
    };
}
pub(crate) use flag_newtype;

pub use header::{Command, HEADER_LEN, Header, HeaderFlags};
pub use status::NtStatus;

/// Why a byte sequence could not be decoded. Never a panic: every decoder returns this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the structure did.
    Truncated {
        /// Bytes the structure needed at this point.
        needed: usize,
        /// Bytes that were available.
        available: usize,
    },
    /// A fixed field did not hold the value the protocol requires (e.g. StructureSize).
    BadField {
        /// Name of the field, for the error message.
        field: &'static str,
        /// The value found, widened to u64.
        value: u64,
    },
    /// An offset/length pair points outside the message or into the fixed part.
    BadOffset {
        /// Name of the field, for the error message.
        field: &'static str,
    },
    /// A UTF-16 string was not valid (odd length or unpaired surrogate).
    BadString,
    /// The frame is longer than the protocol allows.
    TooLong {
        /// The length announced.
        len: usize,
        /// The maximum allowed.
        max: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { needed, available } => {
                write!(f, "truncated: needed {needed} bytes, {available} available")
            }
            DecodeError::BadField { field, value } => {
                write!(f, "invalid value {value:#x} in field {field}")
            }
            DecodeError::BadOffset { field } => write!(f, "offset/length out of range: {field}"),
            DecodeError::BadString => f.write_str("invalid UTF-16 string"),
            DecodeError::TooLong { len, max } => {
                write!(f, "length {len} exceeds the maximum {max}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

/// Result of decoding.
pub type DecodeResult<T> = Result<T, DecodeError>;

/// A message body that can be written to the wire.
pub trait Encode {
    /// Append the body to `msg`, which holds this message's 64-byte header at its start.
    fn encode(&self, msg: &mut Vec<u8>);
}

/// A message body that can be read from the wire. `msg` is the whole message, header included.
pub trait Decode<'a>: Sized {
    /// Decode the body of `msg` (which starts with the 64-byte header).
    fn decode(msg: &'a [u8]) -> DecodeResult<Self>;
}

/// A bounds-checked little-endian reader over a byte slice. Every accessor returns
/// [`DecodeError::Truncated`] instead of panicking.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at position 0 of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// A reader positioned at `pos` (e.g. [`HEADER_LEN`] for a body).
    pub fn at(buf: &'a [u8], pos: usize) -> DecodeResult<Self> {
        if pos > buf.len() {
            return Err(DecodeError::Truncated {
                needed: pos,
                available: buf.len(),
            });
        }
        Ok(Reader { buf, pos })
    }

    /// Current position from the start of the underlying slice.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current position.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The whole underlying slice.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// Take the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                needed: self.pos.saturating_add(n),
                available: self.buf.len(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Take the next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> DecodeResult<[u8; N]> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Skip `n` bytes.
    pub fn skip(&mut self, n: usize) -> DecodeResult<()> {
        self.bytes(n).map(|_| ())
    }

    /// Read a u8.
    pub fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.array::<1>()?[0])
    }
    /// Read a little-endian u16.
    pub fn u16(&mut self) -> DecodeResult<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// Read a little-endian u32.
    pub fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// Read a little-endian u64.
    pub fn u64(&mut self) -> DecodeResult<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// Read a 16-byte GUID in wire order.
    pub fn guid(&mut self) -> DecodeResult<Guid> {
        Ok(Guid(self.array()?))
    }

    /// Read a u16 and require it to equal `expected` (StructureSize fields).
    pub fn expect_u16(&mut self, field: &'static str, expected: u16) -> DecodeResult<()> {
        let v = self.u16()?;
        if v != expected {
            return Err(DecodeError::BadField {
                field,
                value: v.into(),
            });
        }
        Ok(())
    }
}

/// The slice `msg[offset..offset + len]`, checked. A zero length yields an empty slice whatever
/// the offset (servers send offset 0 with length 0). `min_offset` is the first byte after the
/// fixed part; a non-empty buffer may not start before it.
pub fn slice_at<'a>(
    msg: &'a [u8],
    offset: usize,
    len: usize,
    min_offset: usize,
    field: &'static str,
) -> DecodeResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    let end = offset
        .checked_add(len)
        .ok_or(DecodeError::BadOffset { field })?;
    if offset < min_offset || end > msg.len() {
        return Err(DecodeError::BadOffset { field });
    }
    Ok(&msg[offset..end])
}

/// A 16-byte GUID kept in its wire (little-endian mixed) byte order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID.
    pub const ZERO: Guid = Guid([0; 16]);
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}

/// A file id: the persistent and volatile halves ([MS-SMB2] 2.2.14.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    /// Survives a reconnect of a durable/persistent handle.
    pub persistent: u64,
    /// Valid on the current connection only.
    pub volatile: u64,
}

impl FileId {
    /// The id `0xFFFFFFFFFFFFFFFF:0xFFFFFFFFFFFFFFFF` that refers to the previous CREATE of a
    /// related compound chain ([MS-SMB2] 3.2.4.1.4).
    pub const RELATED: FileId = FileId {
        persistent: u64::MAX,
        volatile: u64::MAX,
    };

    /// Read 16 bytes.
    pub fn read(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Ok(FileId {
            persistent: r.u64()?,
            volatile: r.u64()?,
        })
    }

    /// Write 16 bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_u64_le(self.persistent);
        out.put_u64_le(self.volatile);
    }
}

/// Append `s` as UTF-16LE, without terminator.
pub fn put_utf16le(out: &mut Vec<u8>, s: &str) {
    for unit in s.encode_utf16() {
        out.put_u16_le(unit);
    }
}

/// Number of bytes `s` takes as UTF-16LE.
pub fn utf16le_len(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

/// Decode UTF-16LE bytes (odd lengths and unpaired surrogates are errors).
pub fn utf16le_to_string(b: &[u8]) -> DecodeResult<String> {
    if b.len() % 2 != 0 {
        return Err(DecodeError::BadString);
    }
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| DecodeError::BadString)
}

/// Pad `out` with zeros to a multiple of `align` bytes, measured from the start of `out`.
pub fn pad_to(out: &mut Vec<u8>, align: usize) {
    let rem = out.len() % align;
    if rem != 0 {
        out.resize(out.len() + (align - rem), 0);
    }
}

/// Overwrite a little-endian u16 at `pos` (for offsets and lengths known only after writing).
pub fn patch_u16(out: &mut [u8], pos: usize, v: u16) {
    out[pos..pos + 2].copy_from_slice(&v.to_le_bytes());
}

/// Overwrite a little-endian u32 at `pos` (for offsets and lengths known only after writing).
pub fn patch_u32(out: &mut [u8], pos: usize, v: u32) {
    out[pos..pos + 4].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0201);
        assert_eq!(
            r.u16(),
            Err(DecodeError::Truncated {
                needed: 4,
                available: 3
            })
        );
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.bytes(usize::MAX).is_err());
    }

    #[test]
    fn slice_at_checks_bounds_and_overflow() {
        let msg = [0u8; 100];
        assert_eq!(slice_at(&msg, 0, 0, 64, "x").unwrap().len(), 0);
        assert_eq!(slice_at(&msg, 64, 36, 64, "x").unwrap().len(), 36);
        assert!(slice_at(&msg, 64, 37, 64, "x").is_err());
        assert!(slice_at(&msg, 10, 4, 64, "x").is_err());
        assert!(slice_at(&msg, usize::MAX, 2, 64, "x").is_err());
    }

    #[test]
    fn utf16_round_trip() {
        let mut v = Vec::new();
        put_utf16le(&mut v, "dir\\fïlé😀");
        assert_eq!(v.len(), utf16le_len("dir\\fïlé😀"));
        assert_eq!(utf16le_to_string(&v).unwrap(), "dir\\fïlé😀");
        assert!(utf16le_to_string(&[0x00]).is_err());
        assert!(utf16le_to_string(&[0x00, 0xd8]).is_err());
    }

    #[test]
    fn guid_displays_in_registry_format() {
        let g = Guid([
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]);
        assert_eq!(
            alloc::format!("{g}"),
            "00112233-4455-6677-8899-aabbccddeeff"
        );
    }
}
