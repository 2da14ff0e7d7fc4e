//! Security descriptors: SID ([MS-DTYP] 2.4.2), ACE ([MS-DTYP] 2.4.4), ACL ([MS-DTYP]
//! 2.4.5) and the self-relative SECURITY_DESCRIPTOR ([MS-DTYP] 2.4.6), decoded and encoded.
//!
//! These are the payload of QUERY_INFO / SET_INFO with InfoType SMB2_0_INFO_SECURITY
//! ([MS-SMB2] 2.2.37, 2.2.39) and of the SecD create context ([MS-SMB2] 2.2.13.2.1).
//!
//! ACCESS_ALLOWED and ACCESS_DENIED ACEs ([MS-DTYP] 2.4.4.2, 2.4.4.4) are decoded into mask
//! and SID; every other ACE type (audit, object, callback, label, ...) and an allowed/denied
//! ACE whose AceSize is not exactly its mask and SID is kept as its bytes and written back
//! unchanged, so that reading a descriptor and writing it back loses nothing.
//!
//! Every count and offset is checked against the buffer before it is used; decoders never
//! panic and allocate at most in proportion to the input.

use super::{DecodeError, DecodeResult, Reader};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;
use core::fmt;
use core::str::FromStr;

/// The fixed part of a self-relative SECURITY_DESCRIPTOR ([MS-DTYP] 2.4.6): Revision,
/// Sbz1, Control and four 32-bit offsets.
const SD_HEADER: usize = 20;
/// The ACL header ([MS-DTYP] 2.4.5): AclRevision, Sbz1, AclSize, AceCount, Sbz2.
const ACL_HEADER: usize = 8;
/// The ACE_HEADER ([MS-DTYP] 2.4.4.1): AceType, AceFlags, AceSize.
const ACE_HEADER: usize = 4;
/// SubAuthorityCount is at most 15 ([MS-DTYP] 2.4.2.2).
const MAX_SUB_AUTHORITIES: usize = 15;

/// `n` more bytes must be left in `r`, checked before anything is allocated for them.
fn need(r: &Reader<'_>, n: usize) -> DecodeResult<()> {
    if r.remaining() < n {
        return Err(DecodeError::Truncated {
            needed: r.pos() + n,
            available: r.pos() + r.remaining(),
        });
    }
    Ok(())
}

/// A security identifier ([MS-DTYP] 2.4.2.2). Displays as `S-1-5-21-...` ([MS-DTYP]
/// 2.4.2.1) and parses from that form with [`FromStr`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    /// Revision (1).
    pub revision: u8,
    /// IdentifierAuthority, 6 bytes big-endian.
    pub identifier_authority: [u8; 6],
    /// SubAuthority values (at most 15).
    pub sub_authorities: Vec<u32>,
}

impl Sid {
    /// S-1-1-0, Everyone ([MS-DTYP] 2.4.2.4).
    pub fn everyone() -> Sid {
        Sid::new(1, &[0])
    }

    /// A revision-1 SID with a small identifier authority (the usual case: 5 = NT
    /// authority). More than 15 sub-authorities are cut to 15.
    pub fn new(authority: u32, sub_authorities: &[u32]) -> Sid {
        let a = authority.to_be_bytes();
        Sid {
            revision: 1,
            identifier_authority: [0, 0, a[0], a[1], a[2], a[3]],
            sub_authorities: sub_authorities[..sub_authorities.len().min(MAX_SUB_AUTHORITIES)]
                .to_vec(),
        }
    }

    /// Parse a SID at the start of `buf`; returns it and the bytes it took.
    pub fn parse(buf: &[u8]) -> DecodeResult<(Sid, usize)> {
        let mut r = Reader::new(buf);
        let revision = r.u8()?;
        let count = usize::from(r.u8()?);
        if count > MAX_SUB_AUTHORITIES {
            return Err(DecodeError::BadField {
                field: "SubAuthorityCount",
                value: count as u64,
            });
        }
        let identifier_authority = r.array::<6>()?;
        // Checked before allocating: the count is at most 15 and must fit the buffer.
        need(&r, 4 * count)?;
        let mut sub_authorities = Vec::with_capacity(count);
        for _ in 0..count {
            sub_authorities.push(r.u32()?);
        }
        Ok((
            Sid {
                revision,
                identifier_authority,
                sub_authorities,
            },
            r.pos(),
        ))
    }

    /// Append the binary form ([MS-DTYP] 2.4.2.2).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let n = self.sub_authorities.len().min(MAX_SUB_AUTHORITIES);
        out.put_u8(self.revision);
        out.put_u8(n as u8);
        out.put_slice(&self.identifier_authority);
        for s in &self.sub_authorities[..n] {
            out.put_u32_le(*s);
        }
    }

    /// Length of the binary form.
    pub fn encoded_len(&self) -> usize {
        8 + 4 * self.sub_authorities.len().min(MAX_SUB_AUTHORITIES)
    }
}

impl fmt::Display for Sid {
    /// `S-1-<authority>-<sub>...`; an authority of 2^32 or more in hexadecimal
    /// ([MS-DTYP] 2.4.2.1).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.identifier_authority;
        write!(f, "S-{}-", self.revision)?;
        if a[0] == 0 && a[1] == 0 {
            write!(f, "{}", u32::from_be_bytes([a[2], a[3], a[4], a[5]]))?;
        } else {
            f.write_str("0x")?;
            for b in a {
                write!(f, "{b:02X}")?;
            }
        }
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

/// Why a string is not a SID in the `S-R-I-S...` form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SidParseError(pub String);

impl fmt::Display for SidParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a SID (S-1-5-...): {}", self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SidParseError {}

impl FromStr for Sid {
    type Err = SidParseError;
    /// `S-1-5-21-1-2-3-1000`, `s-1-5-32-544` or `S-1-0x010203040506-7` ([MS-DTYP] 2.4.2.1:
    /// the authority in decimal below 2^32, else `0x` and 12 hex digits).
    fn from_str(s: &str) -> Result<Sid, SidParseError> {
        let bad = || SidParseError(s.into());
        let mut parts = s.split('-');
        if !parts.next().is_some_and(|p| p.eq_ignore_ascii_case("S")) {
            return Err(bad());
        }
        let revision: u8 = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
        let auth = parts.next().ok_or_else(bad)?;
        let identifier_authority = match auth.strip_prefix("0x").or(auth.strip_prefix("0X")) {
            Some(hex) if hex.len() == 12 => {
                let v = u64::from_str_radix(hex, 16).map_err(|_| bad())?;
                let b = v.to_be_bytes();
                [b[2], b[3], b[4], b[5], b[6], b[7]]
            }
            Some(_) => return Err(bad()),
            None => {
                let v: u32 = auth.parse().map_err(|_| bad())?;
                let b = v.to_be_bytes();
                [0, 0, b[0], b[1], b[2], b[3]]
            }
        };
        let mut sub_authorities = Vec::new();
        for p in parts {
            if sub_authorities.len() == MAX_SUB_AUTHORITIES {
                return Err(bad());
            }
            // Digits only: `u32::from_str` would accept a leading '+'.
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            sub_authorities.push(p.parse().map_err(|_| bad())?);
        }
        Ok(Sid {
            revision,
            identifier_authority,
            sub_authorities,
        })
    }
}

/// AceFlags bits ([MS-DTYP] 2.4.4.1).
pub mod ace_flags {
    /// OBJECT_INHERIT_ACE.
    pub const OBJECT_INHERIT: u8 = 0x01;
    /// CONTAINER_INHERIT_ACE.
    pub const CONTAINER_INHERIT: u8 = 0x02;
    /// NO_PROPAGATE_INHERIT_ACE.
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    /// INHERIT_ONLY_ACE.
    pub const INHERIT_ONLY: u8 = 0x08;
    /// INHERITED_ACE.
    pub const INHERITED: u8 = 0x10;
}

/// One ACE ([MS-DTYP] 2.4.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ace {
    /// ACCESS_ALLOWED_ACE ([MS-DTYP] 2.4.4.2).
    Allowed {
        /// AceFlags ([`ace_flags`]).
        flags: u8,
        /// The access mask granted ([MS-DTYP] 2.4.3).
        mask: u32,
        /// The trustee.
        sid: Sid,
    },
    /// ACCESS_DENIED_ACE ([MS-DTYP] 2.4.4.4).
    Denied {
        /// AceFlags ([`ace_flags`]).
        flags: u8,
        /// The access mask denied.
        mask: u32,
        /// The trustee.
        sid: Sid,
    },
    /// Any other ACE, kept as it came so it is written back unchanged.
    Other {
        /// AceType.
        ace_type: u8,
        /// AceFlags.
        flags: u8,
        /// The bytes after the ACE_HEADER (AceSize - 4 of them).
        body: Vec<u8>,
    },
}

impl Ace {
    /// ACCESS_ALLOWED_ACE_TYPE.
    pub const ACCESS_ALLOWED: u8 = 0x00;
    /// ACCESS_DENIED_ACE_TYPE.
    pub const ACCESS_DENIED: u8 = 0x01;

    /// AceType.
    pub fn ace_type(&self) -> u8 {
        match self {
            Ace::Allowed { .. } => Self::ACCESS_ALLOWED,
            Ace::Denied { .. } => Self::ACCESS_DENIED,
            Ace::Other { ace_type, .. } => *ace_type,
        }
    }

    /// AceFlags.
    pub fn flags(&self) -> u8 {
        match self {
            Ace::Allowed { flags, .. } | Ace::Denied { flags, .. } | Ace::Other { flags, .. } => {
                *flags
            }
        }
    }

    /// The trustee of an allowed or denied ACE.
    pub fn sid(&self) -> Option<&Sid> {
        match self {
            Ace::Allowed { sid, .. } | Ace::Denied { sid, .. } => Some(sid),
            Ace::Other { .. } => None,
        }
    }

    /// The access mask of an allowed or denied ACE.
    pub fn mask(&self) -> Option<u32> {
        match self {
            Ace::Allowed { mask, .. } | Ace::Denied { mask, .. } => Some(*mask),
            Ace::Other { .. } => None,
        }
    }

    /// Decode one ACE at the start of `buf`; returns it and AceSize.
    pub fn decode(buf: &[u8]) -> DecodeResult<(Ace, usize)> {
        let mut r = Reader::new(buf);
        let ace_type = r.u8()?;
        let flags = r.u8()?;
        let size = usize::from(r.u16()?);
        if size < ACE_HEADER {
            return Err(DecodeError::BadField {
                field: "AceSize",
                value: size as u64,
            });
        }
        need(&r, size - ACE_HEADER)?;
        let body = &buf[ACE_HEADER..size];
        if matches!(ace_type, Self::ACCESS_ALLOWED | Self::ACCESS_DENIED) {
            // Mask (4 bytes) then SidStart ([MS-DTYP] 2.4.4.2): decoded only when the ACE is
            // exactly that, so that re-encoding reproduces it.
            let mut r = Reader::new(body);
            let mask = r.u32()?;
            let (sid, n) = Sid::parse(&body[4..])?;
            if 4 + n == body.len() {
                let ace = if ace_type == Self::ACCESS_ALLOWED {
                    Ace::Allowed { flags, mask, sid }
                } else {
                    Ace::Denied { flags, mask, sid }
                };
                return Ok((ace, size));
            }
        }
        Ok((
            Ace::Other {
                ace_type,
                flags,
                body: body.to_vec(),
            },
            size,
        ))
    }

    /// Length of the encoded ACE (AceSize).
    pub fn encoded_len(&self) -> usize {
        ACE_HEADER
            + match self {
                Ace::Allowed { sid, .. } | Ace::Denied { sid, .. } => 4 + sid.encoded_len(),
                Ace::Other { body, .. } => body.len(),
            }
    }

    /// Append the ACE. An [`Ace::Other`] body longer than an ACE can hold (64 KiB) is cut.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let size = self.encoded_len().min(usize::from(u16::MAX));
        out.put_u8(self.ace_type());
        out.put_u8(self.flags());
        out.put_u16_le(size as u16);
        match self {
            Ace::Allowed { mask, sid, .. } | Ace::Denied { mask, sid, .. } => {
                out.put_u32_le(*mask);
                sid.encode(out);
            }
            Ace::Other { body, .. } => out.put_slice(&body[..size - ACE_HEADER]),
        }
    }
}

impl fmt::Display for Ace {
    /// `ALLOWED/0x03/0x001f01ff S-1-5-18`, `OTHER(0x11)/0x00/12 bytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ace::Allowed { flags, mask, sid } => {
                write!(f, "ALLOWED/0x{flags:02x}/0x{mask:08x} {sid}")
            }
            Ace::Denied { flags, mask, sid } => {
                write!(f, "DENIED/0x{flags:02x}/0x{mask:08x} {sid}")
            }
            Ace::Other {
                ace_type,
                flags,
                body,
            } => write!(
                f,
                "OTHER(0x{ace_type:02x})/0x{flags:02x}/{} bytes",
                body.len()
            ),
        }
    }
}

/// An ACL ([MS-DTYP] 2.4.5): a revision and the ACEs in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Acl {
    /// AclRevision: 2 (ACL_REVISION), 4 with object ACEs (ACL_REVISION_DS).
    pub revision: u8,
    /// The ACEs, in evaluation order.
    pub aces: Vec<Ace>,
}

impl Default for Acl {
    fn default() -> Self {
        Acl {
            revision: 2,
            aces: Vec::new(),
        }
    }
}

impl Acl {
    /// Decode an ACL at the start of `buf`; returns it and AclSize.
    pub fn decode(buf: &[u8]) -> DecodeResult<(Acl, usize)> {
        let mut r = Reader::new(buf);
        let revision = r.u8()?;
        r.skip(1)?;
        let size = usize::from(r.u16()?);
        let count = usize::from(r.u16()?);
        r.skip(2)?;
        if size < ACL_HEADER || size > buf.len() {
            return Err(DecodeError::BadField {
                field: "AclSize",
                value: size as u64,
            });
        }
        let acl = &buf[..size];
        // Each ACE takes at least its 4-byte header: a count past that is a lie.
        if count > (size - ACL_HEADER) / ACE_HEADER {
            return Err(DecodeError::BadField {
                field: "AceCount",
                value: count as u64,
            });
        }
        let mut aces = Vec::with_capacity(count);
        let mut pos = ACL_HEADER;
        for _ in 0..count {
            let (ace, len) = Ace::decode(&acl[pos..])?;
            aces.push(ace);
            pos += len;
        }
        Ok((Acl { revision, aces }, size))
    }

    /// Length of the encoded ACL (AclSize).
    pub fn encoded_len(&self) -> usize {
        ACL_HEADER + self.aces.iter().map(Ace::encoded_len).sum::<usize>()
    }

    /// Append the ACL. An ACL holds at most 64 KiB and 65535 ACEs: ACEs past that are not
    /// written.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut size = ACL_HEADER;
        let mut count = 0usize;
        for a in &self.aces {
            if count == usize::from(u16::MAX) || size + a.encoded_len() > usize::from(u16::MAX) {
                break;
            }
            size += a.encoded_len();
            count += 1;
        }
        out.put_u8(self.revision);
        out.put_u8(0);
        out.put_u16_le(size as u16);
        out.put_u16_le(count as u16);
        out.put_u16_le(0);
        for a in &self.aces[..count] {
            a.encode(out);
        }
    }
}

/// SECURITY_INFORMATION bits: which parts of a descriptor a QUERY_INFO asks for or a
/// SET_INFO changes (AdditionalInformation, [MS-SMB2] 2.2.37 and 2.2.39).
pub mod security_information {
    /// OWNER_SECURITY_INFORMATION.
    pub const OWNER: u32 = 0x0000_0001;
    /// GROUP_SECURITY_INFORMATION.
    pub const GROUP: u32 = 0x0000_0002;
    /// DACL_SECURITY_INFORMATION.
    pub const DACL: u32 = 0x0000_0004;
    /// SACL_SECURITY_INFORMATION (needs ACCESS_SYSTEM_SECURITY).
    pub const SACL: u32 = 0x0000_0008;
}

/// SECURITY_DESCRIPTOR Control bits ([MS-DTYP] 2.4.6).
pub mod control {
    /// SE_OWNER_DEFAULTED.
    pub const OWNER_DEFAULTED: u16 = 0x0001;
    /// SE_GROUP_DEFAULTED.
    pub const GROUP_DEFAULTED: u16 = 0x0002;
    /// SE_DACL_PRESENT.
    pub const DACL_PRESENT: u16 = 0x0004;
    /// SE_DACL_DEFAULTED.
    pub const DACL_DEFAULTED: u16 = 0x0008;
    /// SE_SACL_PRESENT.
    pub const SACL_PRESENT: u16 = 0x0010;
    /// SE_DACL_AUTO_INHERITED.
    pub const DACL_AUTO_INHERITED: u16 = 0x0400;
    /// SE_DACL_PROTECTED.
    pub const DACL_PROTECTED: u16 = 0x1000;
    /// SE_SELF_RELATIVE.
    pub const SELF_RELATIVE: u16 = 0x8000;
}

/// A self-relative SECURITY_DESCRIPTOR ([MS-DTYP] 2.4.6), decoded.
///
/// `dacl: None` with [`control::DACL_PRESENT`] clear means no DACL was sent (or asked
/// for); a present DACL with no ACEs denies everyone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecurityDescriptor {
    /// Revision (1).
    pub revision: u8,
    /// Control ([`control`]); DACL_PRESENT, SACL_PRESENT and SELF_RELATIVE are set by
    /// [`SecurityDescriptor::encode`] from the fields.
    pub control: u16,
    /// OwnerSid.
    pub owner: Option<Sid>,
    /// GroupSid.
    pub group: Option<Sid>,
    /// The SACL (audit), rarely readable by a client.
    pub sacl: Option<Acl>,
    /// The DACL (who may do what).
    pub dacl: Option<Acl>,
}

impl Default for SecurityDescriptor {
    fn default() -> Self {
        SecurityDescriptor {
            revision: 1,
            control: control::SELF_RELATIVE,
            owner: None,
            group: None,
            sacl: None,
            dacl: None,
        }
    }
}

impl SecurityDescriptor {
    /// The SECURITY_INFORMATION bits ([`security_information`]) naming the parts present.
    pub fn parts(&self) -> u32 {
        use security_information as si;
        let mut bits = 0;
        for (present, bit) in [
            (self.owner.is_some(), si::OWNER),
            (self.group.is_some(), si::GROUP),
            (self.dacl.is_some(), si::DACL),
            (self.sacl.is_some(), si::SACL),
        ] {
            if present {
                bits |= bit;
            }
        }
        bits
    }

    /// Decode a self-relative descriptor. Offsets (0 = absent) must point past the fixed
    /// part and inside the buffer; an ACL is read only when its PRESENT bit is set.
    pub fn decode(buf: &[u8]) -> DecodeResult<SecurityDescriptor> {
        let mut r = Reader::new(buf);
        let revision = r.u8()?;
        r.skip(1)?;
        let ctl = r.u16()?;
        let offsets = [r.u32()?, r.u32()?, r.u32()?, r.u32()?].map(|o| o as usize);
        let at = |off: usize, field: &'static str| -> DecodeResult<Option<&[u8]>> {
            match off {
                0 => Ok(None),
                o if o < SD_HEADER || o >= buf.len() => Err(DecodeError::BadOffset { field }),
                o => Ok(Some(&buf[o..])),
            }
        };
        let sid = |off, field| -> DecodeResult<Option<Sid>> {
            at(off, field)?
                .map(|b| Sid::parse(b).map(|s| s.0))
                .transpose()
        };
        let acl = |off, field, bit: u16| -> DecodeResult<Option<Acl>> {
            if ctl & bit == 0 {
                return Ok(None);
            }
            at(off, field)?
                .map(|b| Acl::decode(b).map(|a| a.0))
                .transpose()
        };
        Ok(SecurityDescriptor {
            revision,
            control: ctl,
            owner: sid(offsets[0], "OffsetOwner")?,
            group: sid(offsets[1], "OffsetGroup")?,
            sacl: acl(offsets[2], "OffsetSacl", control::SACL_PRESENT)?,
            dacl: acl(offsets[3], "OffsetDacl", control::DACL_PRESENT)?,
        })
    }

    /// Append the self-relative form: header, owner, group, SACL, DACL, each right after
    /// the previous (all parts are multiples of 4 bytes long, so alignment holds).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let mut ctl = self.control | control::SELF_RELATIVE;
        for (present, bit) in [
            (self.dacl.is_some(), control::DACL_PRESENT),
            (self.sacl.is_some(), control::SACL_PRESENT),
        ] {
            if present {
                ctl |= bit;
            } else {
                ctl &= !bit;
            }
        }
        out.put_u8(self.revision);
        out.put_u8(0);
        out.put_u16_le(ctl);
        out.put_bytes(0, 16);
        let patch = |out: &mut Vec<u8>, field: usize| {
            let off = (out.len() - start) as u32;
            out[start + 4 + 4 * field..start + 8 + 4 * field].copy_from_slice(&off.to_le_bytes());
        };
        if let Some(s) = &self.owner {
            patch(out, 0);
            s.encode(out);
        }
        if let Some(s) = &self.group {
            patch(out, 1);
            s.encode(out);
        }
        if let Some(a) = &self.sacl {
            patch(out, 2);
            a.encode(out);
        }
        if let Some(a) = &self.dacl {
            patch(out, 3);
            a.encode(out);
        }
    }

    /// The self-relative bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

impl fmt::Display for SecurityDescriptor {
    /// One line per part: `OWNER:S-1-...`, `GROUP:...`, `ACL:<ace>` per DACL entry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "REVISION:{}\nCONTROL:0x{:04x}",
            self.revision, self.control
        )?;
        if let Some(o) = &self.owner {
            write!(f, "\nOWNER:{o}")?;
        }
        if let Some(g) = &self.group {
            write!(f, "\nGROUP:{g}")?;
        }
        match &self.dacl {
            Some(acl) => {
                for a in &acl.aces {
                    write!(f, "\nACL:{a}")?;
                }
            }
            None => f.write_str("\nDACL:none")?,
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
