//! File-system FSCTL payloads: sparse files, previous versions and symbolic links.
//!
//! - FSCTL_SET_SPARSE's FILE_SET_SPARSE_BUFFER, FSCTL_SET_ZERO_DATA's
//!   FILE_ZERO_DATA_INFORMATION ([MS-FSCC] 2.3.85) and FSCTL_QUERY_ALLOCATED_RANGES'
//!   FILE_ALLOCATED_RANGE_BUFFER ([MS-FSCC] 2.3.51, 2.3.52);
//! - SRV_SNAPSHOT_ARRAY, the FSCTL_SRV_ENUMERATE_SNAPSHOTS output ([MS-SMB2] 2.2.32.2);
//! - the symbolic link REPARSE_DATA_BUFFER of FSCTL_GET_REPARSE_POINT ([MS-FSCC] 2.1.2.4).
//!
//! The codes are in [`super::ioctl::fsctl`]. Section numbers follow the [MS-FSCC]
//! revision checked; newer revisions renumber the 2.3 sections, so each comment also names
//! the structure. Decoders check every count and offset against the buffer first.

use super::ioctl::IoctlData;
use super::{
    DecodeError, DecodeResult, Reader, put_utf16le, slice_at, utf16le_len, utf16le_to_string,
};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// FILE_SET_SPARSE_BUFFER (FSCTL_SET_SPARSE Request, [MS-FSCC] 2.3): SetSparse, one byte
/// (TRUE makes the file sparse, FALSE makes it normal again). An empty input buffer means
/// TRUE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetSparse(pub bool);

impl IoctlData<'_> for SetSparse {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u8(u8::from(self.0));
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        Ok(SetSparse(buf.first().is_none_or(|b| *b != 0)))
    }
}

/// A signed 64-bit offset or length that must not be negative ([MS-FSCC] 2.3.52, 2.3.85).
fn non_negative(r: &mut Reader<'_>, field: &'static str) -> DecodeResult<u64> {
    let v = r.u64()?;
    if v > i64::MAX as u64 {
        return Err(DecodeError::BadField { field, value: v });
    }
    Ok(v)
}

/// FILE_ZERO_DATA_INFORMATION (FSCTL_SET_ZERO_DATA Request, [MS-FSCC] 2.3.85): zero the
/// bytes from `file_offset` up to, not including, `beyond_final_zero`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroData {
    /// FileOffset: the first byte to zero.
    pub file_offset: u64,
    /// BeyondFinalZero: the first byte after the zeroed range.
    pub beyond_final_zero: u64,
}

impl IoctlData<'_> for ZeroData {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u64_le(self.file_offset);
        out.put_u64_le(self.beyond_final_zero);
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        Ok(ZeroData {
            file_offset: non_negative(&mut r, "FileOffset")?,
            beyond_final_zero: non_negative(&mut r, "BeyondFinalZero")?,
        })
    }
}

/// FILE_ALLOCATED_RANGE_BUFFER ([MS-FSCC] 2.3.52): the range to query (input) or one
/// allocated range (output; the bytes outside every returned range are holes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllocatedRange {
    /// FileOffset.
    pub offset: u64,
    /// Length.
    pub length: u64,
}

impl AllocatedRange {
    /// The encoded size.
    pub const SIZE: usize = 16;
}

impl IoctlData<'_> for AllocatedRange {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u64_le(self.offset);
        out.put_u64_le(self.length);
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        Ok(AllocatedRange {
            offset: non_negative(&mut r, "FileOffset")?,
            length: non_negative(&mut r, "Length")?,
        })
    }
}

/// FSCTL_QUERY_ALLOCATED_RANGES Reply ([MS-FSCC] 2.3.52): the output buffer is an array of
/// ranges whose count is its length divided by 16. A length that is not a multiple of 16,
/// a negative value or a range whose end overflows is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocatedRanges(pub Vec<AllocatedRange>);

impl IoctlData<'_> for AllocatedRanges {
    fn encode_data(&self, out: &mut Vec<u8>) {
        for r in &self.0 {
            r.encode_data(out);
        }
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        if buf.len() % AllocatedRange::SIZE != 0 {
            return Err(DecodeError::BadField {
                field: "OutputCount",
                value: buf.len() as u64,
            });
        }
        let mut v = Vec::with_capacity(buf.len() / AllocatedRange::SIZE);
        for chunk in buf.chunks_exact(AllocatedRange::SIZE) {
            let r = AllocatedRange::decode_data(chunk)?;
            if r.offset
                .checked_add(r.length)
                .is_none_or(|e| e > i64::MAX as u64)
            {
                return Err(DecodeError::BadField {
                    field: "Length",
                    value: r.length,
                });
            }
            v.push(r);
        }
        Ok(AllocatedRanges(v))
    }
}

/// SRV_SNAPSHOT_ARRAY ([MS-SMB2] 2.2.32.2): the previous versions of a share, each a
/// `@GMT-YYYY.MM.DD-HH.MM.SS` token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotArray {
    /// NumberOfSnapShots: how many the server has (more than returned when the output
    /// buffer was too small; ask again with room for `snapshot_array_size` bytes).
    pub number_of_snapshots: u32,
    /// SnapShotArraySize: the bytes all tokens take (what a complete answer needs).
    pub snapshot_array_size: u32,
    /// The tokens returned.
    pub snapshots: Vec<String>,
}

/// A `@GMT-` token is 24 UTF-16 characters, 48 bytes, plus its terminating NUL.
const GMT_TOKEN_BYTES: usize = 50;

impl IoctlData<'_> for SnapshotArray {
    fn encode_data(&self, out: &mut Vec<u8>) {
        let mut tokens = Vec::new();
        for s in &self.snapshots {
            put_utf16le(&mut tokens, s);
            tokens.put_u16_le(0);
        }
        if !self.snapshots.is_empty() {
            tokens.put_u16_le(0);
        }
        out.put_u32_le(self.number_of_snapshots);
        out.put_u32_le(self.snapshots.len() as u32);
        out.put_u32_le(self.snapshot_array_size);
        out.put_slice(&tokens);
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let number_of_snapshots = r.u32()?;
        let returned = r.u32()? as usize;
        let snapshot_array_size = r.u32()?;
        if returned > number_of_snapshots as usize {
            return Err(DecodeError::BadField {
                field: "NumberOfSnapShotsReturned",
                value: returned as u64,
            });
        }
        let rest = &buf[r.pos()..];
        // Each token takes at least its NUL: the count is bounded by the bytes present.
        if returned > rest.len() / 2 {
            return Err(DecodeError::Truncated {
                needed: r.pos() + returned * GMT_TOKEN_BYTES,
                available: buf.len(),
            });
        }
        let mut snapshots = Vec::with_capacity(returned);
        let mut pos = 0;
        for _ in 0..returned {
            let len = rest[pos..]
                .chunks_exact(2)
                .position(|c| c == [0, 0])
                .ok_or(DecodeError::BadString)?;
            snapshots.push(utf16le_to_string(&rest[pos..pos + 2 * len])?);
            pos += 2 * len + 2;
        }
        Ok(SnapshotArray {
            number_of_snapshots,
            snapshot_array_size,
            snapshots,
        })
    }
}

/// The time of a `@GMT-YYYY.MM.DD-HH.MM.SS` token ([MS-SMB2] 2.2.32.2, UTC) as a FILETIME,
/// for [`OpenOptions::snapshot`](crate::client::OpenOptions::snapshot). `None` if the
/// token is not in that form or names no real date.
pub fn gmt_token_time(token: &str) -> Option<u64> {
    let b = token.as_bytes();
    if b.len() != 24 || !token.starts_with("@GMT-") {
        return None;
    }
    // Separators at fixed places, digits elsewhere.
    for (i, c) in b.iter().enumerate().skip(5) {
        let sep = match i {
            9 | 12 | 18 | 21 => Some(b'.'),
            15 => Some(b'-'),
            _ => None,
        };
        if sep.map_or(!c.is_ascii_digit(), |s| *c != s) {
            return None;
        }
    }
    let num = |r: core::ops::Range<usize>| token[r].parse::<i64>().ok();
    let (y, mo, d) = (num(5..9)?, num(10..12)?, num(13..15)?);
    let (h, mi, s) = (num(16..18)?, num(19..21)?, num(22..24)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo) || d < 1 || d > month_days[(mo - 1) as usize] {
        return None;
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    // Days from 1970-01-01 to the date (proleptic Gregorian), counted from March so that
    // the leap day is last.
    let (yy, mm) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s;
    Some(crate::time::FileTime::from_unix(secs, 0).0)
}

/// A path naming a previous version with a `@GMT-YYYY.MM.DD-HH.MM.SS` directory element
/// ([MS-SMB] 2.2.1.1.1: `docs\@GMT-2001.03.30-14.44.00\f.txt`, or as the last element for a
/// directory) split into the path without the token and the token's time as a FILETIME,
/// which SMB2 carries in the TWrp create context ([MS-SMB2] 2.2.13.2.7) instead of the name.
/// `None` when no element is a valid token, or when more than one is (a path "MUST NOT
/// contain more than one"; such a name goes to the server unchanged and fails there).
/// Separators may be `\` or `/`; the result uses `\`.
pub fn split_gmt_token(path: &str) -> Option<(String, u64)> {
    let mut found = None;
    for element in path.split(['\\', '/']) {
        if let Some(t) = gmt_token_time(element) {
            if found.is_some() {
                return None;
            }
            found = Some(t);
        }
    }
    let time = found?;
    let rest: Vec<&str> = path
        .split(['\\', '/'])
        .filter(|e| !e.is_empty() && gmt_token_time(e).is_none())
        .collect();
    Some((rest.join("\\"), time))
}

pub use super::error::{IO_REPARSE_TAG_SYMLINK, SYMLINK_FLAG_RELATIVE};

/// Symbolic link reparse data ([MS-FSCC] 2.1.2.4): REPARSE_DATA_BUFFER with
/// IO_REPARSE_TAG_SYMLINK, as FSCTL_GET_REPARSE_POINT returns it and FSCTL_SET_REPARSE_POINT
/// takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymlinkReparse {
    /// SubstituteName: the target as the file system resolves it (e.g. `\??\C:\dir`).
    pub substitute_name: String,
    /// PrintName: the target as shown to a user.
    pub print_name: String,
    /// Flags ([`SYMLINK_FLAG_RELATIVE`]).
    pub flags: u32,
}

/// The fields of a symlink REPARSE_DATA_BUFFER before PathBuffer: ReparseTag,
/// ReparseDataLength, Reserved, four name offsets/lengths, Flags.
const SYMLINK_FIXED: usize = 20;

impl SymlinkReparse {
    /// Whether the target is relative to the link's directory.
    pub fn is_relative(&self) -> bool {
        self.flags & SYMLINK_FLAG_RELATIVE != 0
    }
}

impl IoctlData<'_> for SymlinkReparse {
    /// PathBuffer holds the substitute name then the print name.
    fn encode_data(&self, out: &mut Vec<u8>) {
        let sub = utf16le_len(&self.substitute_name);
        let print = utf16le_len(&self.print_name);
        out.put_u32_le(IO_REPARSE_TAG_SYMLINK);
        out.put_u16_le((12 + sub + print) as u16);
        out.put_u16_le(0);
        out.put_u16_le(0);
        out.put_u16_le(sub as u16);
        out.put_u16_le(sub as u16);
        out.put_u16_le(print as u16);
        out.put_u32_le(self.flags);
        put_utf16le(out, &self.substitute_name);
        put_utf16le(out, &self.print_name);
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let tag = r.u32()?;
        if tag != IO_REPARSE_TAG_SYMLINK {
            return Err(DecodeError::BadField {
                field: "ReparseTag",
                value: tag.into(),
            });
        }
        let data_len = usize::from(r.u16()?);
        r.skip(2)?;
        let [sub_off, sub_len, print_off, print_len] =
            [r.u16()?, r.u16()?, r.u16()?, r.u16()?].map(usize::from);
        let flags = r.u32()?;
        // ReparseDataLength counts from the name offsets on: 12 fixed bytes and PathBuffer.
        if data_len < 12 || 8 + data_len > buf.len() {
            return Err(DecodeError::BadField {
                field: "ReparseDataLength",
                value: data_len as u64,
            });
        }
        // Offsets are relative to PathBuffer.
        let path = &buf[SYMLINK_FIXED..8 + data_len];
        let name = |off, len, field| utf16le_to_string(slice_at(path, off, len, 0, field)?);
        Ok(SymlinkReparse {
            substitute_name: name(sub_off, sub_len, "SubstituteNameOffset")?,
            print_name: name(print_off, print_len, "PrintNameOffset")?,
            flags,
        })
    }
}

#[cfg(test)]
#[path = "fsctl_fs_tests.rs"]
mod tests;
