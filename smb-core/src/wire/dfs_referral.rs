//! FSCTL_DFS_GET_REFERRALS payloads: REQ_GET_DFS_REFERRAL and RESP_GET_DFS_REFERRAL with
//! its referral entries, versions 1 to 4 ([MS-DFSC] 2.2.2 - 2.2.5). Carried in an SMB2 IOCTL
//! ([`super::ioctl`]); re-exported from there.

use super::ioctl::IoctlData;
use super::{DecodeError, DecodeResult, Reader, put_utf16le, utf16le_to_string};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// Append `s` as a NUL-terminated UTF-16LE string.
fn put_utf16z(out: &mut Vec<u8>, s: &str) {
    put_utf16le(out, s);
    out.put_u16_le(0);
}

/// Read a NUL-terminated UTF-16LE string at the start of `b` (to the end if unterminated).
/// Take `s` out of the string budget of one DFS referral response.
fn charge(budget: &core::cell::Cell<usize>, s: String) -> DecodeResult<String> {
    let left = budget
        .get()
        .checked_sub(s.len())
        .ok_or(DecodeError::BadField {
            field: "DFS_REFERRAL string offsets",
            value: s.len() as u64,
        })?;
    budget.set(left);
    Ok(s)
}

fn read_utf16z(b: &[u8]) -> DecodeResult<String> {
    let even = &b[..b.len() & !1];
    let end = even
        .chunks_exact(2)
        .position(|c| c == [0, 0])
        .map_or(even.len(), |i| i * 2);
    utf16le_to_string(&even[..end])
}

/// REQ_GET_DFS_REFERRAL, the FSCTL_DFS_GET_REFERRALS input ([MS-DFSC] 2.2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DfsReferralRequest {
    /// MaxReferralLevel (4 is usual).
    pub max_referral_level: u16,
    /// RequestFileName: the UNC-like path, e.g. `\server\share\dir`.
    pub path: String,
}

impl IoctlData<'_> for DfsReferralRequest {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u16_le(self.max_referral_level);
        put_utf16z(out, &self.path);
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let max_referral_level = r.u16()?;
        Ok(DfsReferralRequest {
            max_referral_level,
            path: read_utf16z(&buf[2..])?,
        })
    }
}

/// ReferralHeaderFlags of RESP_GET_DFS_REFERRAL ([MS-DFSC] 2.2.4).
pub struct DfsReferralHeaderFlags;

impl DfsReferralHeaderFlags {
    /// R: the targets are root targets / DFS servers.
    pub const REFERRAL_SERVERS: u32 = 0x1;
    /// S: the targets hold storage (link targets).
    pub const STORAGE_SERVERS: u32 = 0x2;
    /// T: target failback is enabled.
    pub const TARGET_FAILBACK: u32 = 0x4;
}

/// ReferralEntryFlags ([MS-DFSC] 2.2.5.3).
pub struct DfsReferralEntryFlags;

impl DfsReferralEntryFlags {
    /// NameListReferral: a domain or DC referral (special/expanded names).
    pub const NAME_LIST_REFERRAL: u16 = 0x0002;
    /// TargetSetBoundary (v4).
    pub const TARGET_SET_BOUNDARY: u16 = 0x0004;
}

/// The variable part of a DFS referral entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DfsReferralBody {
    /// Version 1: the share name inline.
    V1 {
        /// ShareName.
        share_name: String,
    },
    /// Versions 2-4 target referral.
    Targets {
        /// Proximity (version 2 only; 0 otherwise).
        proximity: u32,
        /// DFSPath.
        dfs_path: String,
        /// DFSAlternatePath.
        dfs_alternate_path: String,
        /// NetworkAddress: the target, `\server\share[\path]`.
        network_address: String,
    },
    /// Versions 3-4 with NameListReferral: domain or DC names.
    NameList {
        /// SpecialName.
        special_name: String,
        /// The expanded names.
        expanded_names: Vec<String>,
    },
}

/// One DFS referral entry ([MS-DFSC] 2.2.5.1 - 2.2.5.4). Strings are decoded best-effort:
/// a bad string offset or invalid UTF-16 yields an empty string rather than an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DfsReferral {
    /// VersionNumber (1-4).
    pub version: u16,
    /// ServerType: 0 = link target (non-root), 1 = root target.
    pub server_type: u16,
    /// ReferralEntryFlags ([`DfsReferralEntryFlags`]).
    pub entry_flags: u16,
    /// TimeToLive in seconds (0 for version 1).
    pub time_to_live: u32,
    /// Strings.
    pub body: DfsReferralBody,
}

/// RESP_GET_DFS_REFERRAL, the FSCTL_DFS_GET_REFERRALS output ([MS-DFSC] 2.2.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DfsReferralResponse {
    /// PathConsumed: bytes (UTF-16) of the request path the referral covers.
    pub path_consumed: u16,
    /// ReferralHeaderFlags ([`DfsReferralHeaderFlags`]).
    pub flags: u32,
    /// The entries.
    pub referrals: Vec<DfsReferral>,
}

/// Size of the fixed part of version 3/4 entries as Windows sends them.
const DFS_V34_LEN: usize = 34;
/// Size of a version 2 entry.
const DFS_V2_LEN: usize = 22;

impl IoctlData<'_> for DfsReferralResponse {
    fn encode_data(&self, out: &mut Vec<u8>) {
        let base = out.len();
        out.put_u16_le(self.path_consumed);
        out.put_u16_le(self.referrals.len() as u16);
        out.put_u32_le(self.flags);
        // Entries first, strings after all of them; offsets are relative to each entry.
        // (position of the offset field to patch, if any; text)
        let mut strings: Vec<(Option<usize>, &str)> = Vec::new();
        for e in &self.referrals {
            let start = out.len();
            let size = match &e.body {
                DfsReferralBody::V1 { share_name } => 8 + share_name.encode_utf16().count() * 2 + 2,
                DfsReferralBody::Targets { .. } if e.version == 2 => DFS_V2_LEN,
                _ => DFS_V34_LEN,
            };
            out.put_u16_le(e.version);
            out.put_u16_le(size as u16);
            out.put_u16_le(e.server_type);
            out.put_u16_le(e.entry_flags);
            match &e.body {
                DfsReferralBody::V1 { share_name } => put_utf16z(out, share_name),
                DfsReferralBody::Targets {
                    proximity,
                    dfs_path,
                    dfs_alternate_path,
                    network_address,
                } => {
                    if e.version == 2 {
                        out.put_u32_le(*proximity);
                    }
                    out.put_u32_le(e.time_to_live);
                    for s in [dfs_path, dfs_alternate_path, network_address] {
                        strings.push((Some(out.len()), s.as_str()));
                        out.put_u16_le(0);
                    }
                }
                DfsReferralBody::NameList {
                    special_name,
                    expanded_names,
                } => {
                    out.put_u32_le(e.time_to_live);
                    strings.push((Some(out.len()), special_name.as_str()));
                    out.put_u16_le(0);
                    out.put_u16_le(expanded_names.len() as u16);
                    // Expanded names are consecutive; only the first one's offset is stored.
                    let first = out.len();
                    out.put_u16_le(0);
                    for (i, n) in expanded_names.iter().enumerate() {
                        strings.push(((i == 0).then_some(first), n.as_str()));
                    }
                }
            }
            out.resize(start + size, 0);
        }
        // Write the strings, patching each offset (relative to its entry's start).
        let entry_starts = entry_starts(out, base, self.referrals.len());
        for (field, s) in strings {
            let pos = out.len();
            if let Some(field) = field {
                let entry = entry_starts
                    .iter()
                    .rev()
                    .find(|&&st| st <= field)
                    .copied()
                    .unwrap_or(base);
                let rel = (pos - entry) as u16;
                out[field..field + 2].copy_from_slice(&rel.to_le_bytes());
            }
            put_utf16z(out, s);
        }
    }

    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let path_consumed = r.u16()?;
        let count = r.u16()?;
        let flags = r.u32()?;
        let mut referrals = Vec::new();
        let mut pos = r.pos();
        // Referrals point at strings anywhere in the buffer and may share them, so the
        // decoded strings are charged to a budget linear in the buffer length: a buffer of
        // tiny referrals all pointing at one long string cannot make decoding allocate
        // quadratically.
        let budget = core::cell::Cell::new(buf.len().saturating_mul(4).saturating_add(128 * 1024));
        for _ in 0..count {
            let mut r = Reader::at(buf, pos)?;
            let version = r.u16()?;
            let size = r.u16()? as usize;
            let server_type = r.u16()?;
            let entry_flags = r.u16()?;
            if size < 8 || size > buf.len() - pos {
                return Err(DecodeError::BadField {
                    field: "DFS_REFERRAL.Size",
                    value: size as u64,
                });
            }
            let at = |off: u16| -> DecodeResult<String> {
                charge(
                    &budget,
                    buf.get(pos + off as usize..)
                        .and_then(|b| read_utf16z(b).ok())
                        .unwrap_or_default(),
                )
            };
            let (time_to_live, body) = match version {
                1 => (
                    0,
                    DfsReferralBody::V1 {
                        share_name: charge(
                            &budget,
                            read_utf16z(&buf[pos + 8..pos + size]).unwrap_or_default(),
                        )?,
                    },
                ),
                2 => {
                    let proximity = r.u32()?;
                    let ttl = r.u32()?;
                    let (p, a, n) = (r.u16()?, r.u16()?, r.u16()?);
                    (
                        ttl,
                        DfsReferralBody::Targets {
                            proximity,
                            dfs_path: at(p)?,
                            dfs_alternate_path: at(a)?,
                            network_address: at(n)?,
                        },
                    )
                }
                3 | 4 => {
                    let ttl = r.u32()?;
                    if entry_flags & DfsReferralEntryFlags::NAME_LIST_REFERRAL != 0 {
                        let special = r.u16()?;
                        let n = r.u16()?;
                        let first = r.u16()?;
                        let mut names = Vec::new();
                        let mut off = pos + first as usize;
                        for _ in 0..n {
                            let Some(b) = buf.get(off..) else { break };
                            let Ok(s) = read_utf16z(b) else { break };
                            if off >= buf.len() {
                                break;
                            }
                            off += s.encode_utf16().count() * 2 + 2;
                            names.push(charge(&budget, s)?);
                        }
                        (
                            ttl,
                            DfsReferralBody::NameList {
                                special_name: at(special)?,
                                expanded_names: names,
                            },
                        )
                    } else {
                        let (p, a, n) = (r.u16()?, r.u16()?, r.u16()?);
                        (
                            ttl,
                            DfsReferralBody::Targets {
                                proximity: 0,
                                dfs_path: at(p)?,
                                dfs_alternate_path: at(a)?,
                                network_address: at(n)?,
                            },
                        )
                    }
                }
                v => {
                    return Err(DecodeError::BadField {
                        field: "DFS_REFERRAL.VersionNumber",
                        value: v.into(),
                    });
                }
            };
            referrals.push(DfsReferral {
                version,
                server_type,
                entry_flags,
                time_to_live,
                body,
            });
            pos += size;
        }
        Ok(DfsReferralResponse {
            path_consumed,
            flags,
            referrals,
        })
    }
}

/// Start positions of the `n` entries written after the 8-byte header at `base`.
fn entry_starts(out: &[u8], base: usize, n: usize) -> Vec<usize> {
    let mut v = Vec::with_capacity(n);
    let mut pos = base + 8;
    for _ in 0..n {
        v.push(pos);
        let size = u16::from_le_bytes([out[pos + 2], out[pos + 3]]) as usize;
        pos += size;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_util::hex;
    use alloc::vec;

    #[test]
    fn dfs_request_and_response() {
        let req = DfsReferralRequest {
            max_referral_level: 4,
            path: "\\srv\\dfs\\link".into(),
        };
        let b = req.to_bytes();
        assert_eq!(&b[..4], &[4, 0, b'\\', 0]);
        assert_eq!(&b[b.len() - 2..], &[0, 0]);
        assert_eq!(DfsReferralRequest::decode_data(&b).unwrap(), req);
        assert!(DfsReferralRequest::decode_data(&b[..1]).is_err());

        let resp = DfsReferralResponse {
            path_consumed: 26,
            flags: DfsReferralHeaderFlags::STORAGE_SERVERS,
            referrals: vec![
                DfsReferral {
                    version: 4,
                    server_type: 0,
                    entry_flags: DfsReferralEntryFlags::TARGET_SET_BOUNDARY,
                    time_to_live: 300,
                    body: DfsReferralBody::Targets {
                        proximity: 0,
                        dfs_path: "\\srv\\dfs\\link".into(),
                        dfs_alternate_path: "\\srv\\dfs\\link".into(),
                        network_address: "\\fs1\\share".into(),
                    },
                },
                DfsReferral {
                    version: 3,
                    server_type: 0,
                    entry_flags: DfsReferralEntryFlags::NAME_LIST_REFERRAL,
                    time_to_live: 600,
                    body: DfsReferralBody::NameList {
                        special_name: "\\DOMAIN".into(),
                        expanded_names: vec!["\\dc1".into(), "\\dc2".into()],
                    },
                },
                DfsReferral {
                    version: 2,
                    server_type: 1,
                    entry_flags: 0,
                    time_to_live: 60,
                    body: DfsReferralBody::Targets {
                        proximity: 9,
                        dfs_path: "\\a".into(),
                        dfs_alternate_path: "\\b".into(),
                        network_address: "\\c\\d".into(),
                    },
                },
                DfsReferral {
                    version: 1,
                    server_type: 0,
                    entry_flags: 0,
                    time_to_live: 0,
                    body: DfsReferralBody::V1 {
                        share_name: "\\old\\share".into(),
                    },
                },
            ],
        };
        let b = resp.to_bytes();
        // Header, then the first entry: version 4, size 34, DFSPathOffset relative to it.
        assert_eq!(&b[..8], &hex("1a00 0400 02000000")[..]);
        assert_eq!(&b[8..12], &hex("0400 2200")[..]);
        let back = DfsReferralResponse::decode_data(&b).unwrap();
        assert_eq!(back, resp);
        assert_eq!(back.to_bytes(), b);
        // Truncating the entries is an error; a broken string offset is tolerated.
        for n in 0..8 + 34 {
            assert!(
                DfsReferralResponse::decode_data(&b[..n]).is_err(),
                "prefix {n}"
            );
        }
        let mut bad = b.clone();
        bad[8 + 12] = 0xFF; // DFSPathOffset out of range
        bad[8 + 13] = 0xFF;
        let d = DfsReferralResponse::decode_data(&bad).unwrap();
        assert!(
            matches!(&d.referrals[0].body, DfsReferralBody::Targets { dfs_path, .. } if dfs_path.is_empty())
        );
        let mut bad = b;
        bad[8] = 9; // unknown version
        assert!(DfsReferralResponse::decode_data(&bad).is_err());
    }
}
