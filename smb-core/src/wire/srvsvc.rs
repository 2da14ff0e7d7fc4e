//! The srvsvc interface's NetrShareEnum (opnum 15) at level 1 ([MS-SRVS] 3.1.4.8,
//! SHARE_INFO_1 2.2.4.23), NDR20-encoded (\[C706\] chapter 14) by hand: exactly the unique
//! pointers (referent ids), conformant varying strings and 4-byte alignment this call uses.
//!
//! NDR alignment is relative to the start of the stub. Every count read from the wire is
//! checked against the bytes left before anything is allocated; decoding never panics.

use super::rpc::{RpcError, SyntaxId};
use super::{DecodeError, DecodeResult, Guid, Reader};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// The srvsvc interface 4b324fc8-1670-01d3-1278-5a47bf6ee188, version 3.0 ([MS-SRVS] 1.9).
pub const SRVSVC: SyntaxId = SyntaxId {
    uuid: Guid([
        0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1,
        0x88,
    ]),
    major: 3,
    minor: 0,
};

/// The pipe the srvsvc interface listens on ([MS-SRVS] 2.1: `\PIPE\srvsvc`).
pub const PIPE_NAME: &str = "srvsvc";

/// NetrShareEnum's opnum ([MS-SRVS] 3.1.4).
pub const OPNUM_NETR_SHARE_ENUM: u16 = 15;

/// NERR_Success.
pub const NERR_SUCCESS: u32 = 0;
/// ERROR_MORE_DATA: more entries; call again with the resume handle ([MS-SRVS] 3.1.4.8).
pub const ERROR_MORE_DATA: u32 = 234;

/// shi1_type values ([MS-SRVS] 2.2.2.4).
pub mod stype {
    /// STYPE_DISKTREE: a disk drive.
    pub const DISKTREE: u32 = 0x0000_0000;
    /// STYPE_PRINTQ: a print queue.
    pub const PRINTQ: u32 = 0x0000_0001;
    /// STYPE_DEVICE: a communication device.
    pub const DEVICE: u32 = 0x0000_0002;
    /// STYPE_IPC: interprocess communication (IPC$).
    pub const IPC: u32 = 0x0000_0003;
    /// STYPE_CLUSTER_FS: a cluster share.
    pub const CLUSTER_FS: u32 = 0x0200_0000;
    /// STYPE_CLUSTER_SOFS: a scale-out cluster share.
    pub const CLUSTER_SOFS: u32 = 0x0400_0000;
    /// STYPE_CLUSTER_DFS: a DFS share in a cluster.
    pub const CLUSTER_DFS: u32 = 0x0800_0000;
    /// STYPE_SPECIAL: a special share for administrative purposes (IPC$, ADMIN$, C$).
    pub const SPECIAL: u32 = 0x8000_0000;
    /// STYPE_TEMPORARY: a temporary share.
    pub const TEMPORARY: u32 = 0x4000_0000;
}

/// What kind of resource a share is (the base type of shi1_type, [MS-SRVS] 2.2.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShareKind {
    /// A disk share (STYPE_DISKTREE).
    Disk,
    /// A print queue (STYPE_PRINTQ).
    PrintQueue,
    /// A communication device (STYPE_DEVICE).
    Device,
    /// Interprocess communication, i.e. IPC$ (STYPE_IPC).
    Ipc,
    /// A cluster share (STYPE_CLUSTER_FS).
    ClusterFs,
    /// A scale-out cluster share (STYPE_CLUSTER_SOFS).
    ClusterSofs,
    /// A DFS share in a cluster (STYPE_CLUSTER_DFS).
    ClusterDfs,
    /// A base type this library does not know.
    Other(u32),
}

impl ShareKind {
    /// A short lowercase name: `disk`, `printer`, `device`, `ipc`, `cluster-fs`,
    /// `cluster-sofs`, `cluster-dfs`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            ShareKind::Disk => "disk",
            ShareKind::PrintQueue => "printer",
            ShareKind::Device => "device",
            ShareKind::Ipc => "ipc",
            ShareKind::ClusterFs => "cluster-fs",
            ShareKind::ClusterSofs => "cluster-sofs",
            ShareKind::ClusterDfs => "cluster-dfs",
            ShareKind::Other(_) => "other",
        }
    }
}

/// shi1_type: the kind of share and its STYPE_SPECIAL / STYPE_TEMPORARY bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShareType {
    /// The base type.
    pub kind: ShareKind,
    /// STYPE_SPECIAL: an administrative share (IPC$, ADMIN$, C$), hidden from browsing.
    pub special: bool,
    /// STYPE_TEMPORARY.
    pub temporary: bool,
}

impl ShareType {
    /// From the wire value.
    pub fn from_raw(raw: u32) -> ShareType {
        let base = raw & !(stype::SPECIAL | stype::TEMPORARY);
        let kind = match base {
            stype::DISKTREE => ShareKind::Disk,
            stype::PRINTQ => ShareKind::PrintQueue,
            stype::DEVICE => ShareKind::Device,
            stype::IPC => ShareKind::Ipc,
            stype::CLUSTER_FS => ShareKind::ClusterFs,
            stype::CLUSTER_SOFS => ShareKind::ClusterSofs,
            stype::CLUSTER_DFS => ShareKind::ClusterDfs,
            o => ShareKind::Other(o),
        };
        ShareType {
            kind,
            special: raw & stype::SPECIAL != 0,
            temporary: raw & stype::TEMPORARY != 0,
        }
    }

    /// The wire value.
    pub fn to_raw(self) -> u32 {
        let base = match self.kind {
            ShareKind::Disk => stype::DISKTREE,
            ShareKind::PrintQueue => stype::PRINTQ,
            ShareKind::Device => stype::DEVICE,
            ShareKind::Ipc => stype::IPC,
            ShareKind::ClusterFs => stype::CLUSTER_FS,
            ShareKind::ClusterSofs => stype::CLUSTER_SOFS,
            ShareKind::ClusterDfs => stype::CLUSTER_DFS,
            ShareKind::Other(o) => o,
        };
        let mut raw = base;
        if self.special {
            raw |= stype::SPECIAL;
        }
        if self.temporary {
            raw |= stype::TEMPORARY;
        }
        raw
    }
}

/// One share (SHARE_INFO_1, [MS-SRVS] 2.2.4.23).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareInfo {
    /// shi1_netname.
    pub name: String,
    /// shi1_type.
    pub share_type: ShareType,
    /// shi1_remark (empty when the server has none).
    pub comment: String,
}

impl ShareInfo {
    /// A hidden share: its name ends with `$` (Windows leaves those out of browse lists).
    pub fn is_hidden(&self) -> bool {
        self.name.ends_with('$')
    }
}

/// First referent id of a call; the next ones step by 4 (any non-zero value is valid for a
/// unique pointer, \[C706\] 14.3.10; this is the sequence Windows and Samba use).
const FIRST_REFERENT: u32 = 0x0002_0000;

fn align4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// A conformant varying string of UTF-16 units with its terminating NUL (\[C706\] 14.3.4.2:
/// maximum count, offset 0, actual count, then the units).
fn put_string(out: &mut Vec<u8>, s: &str) {
    let n = s.encode_utf16().count() as u32 + 1;
    out.put_u32_le(n);
    out.put_u32_le(0);
    out.put_u32_le(n);
    super::put_utf16le(out, s);
    out.put_u16_le(0);
    align4(out);
}

/// The stub of a NetrShareEnum request for level 1 ([MS-SRVS] 3.1.4.8): ServerName (a unique
/// string pointer; `None` is NULL, the server itself), InfoStruct {Level 1, the union's
/// discriminant 1, a pointer to an empty SHARE_INFO_1_CONTAINER}, PreferedMaximumLength and
/// ResumeHandle (a unique pointer to `resume`).
pub fn encode_share_enum(server: Option<&str>, max_len: u32, resume: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let mut referent = FIRST_REFERENT;
    let mut next_ref = || {
        let r = referent;
        referent += 4;
        r
    };
    match server {
        Some(s) => {
            out.put_u32_le(next_ref());
            put_string(&mut out, s);
        }
        None => out.put_u32_le(0),
    }
    out.put_u32_le(1); // Level
    out.put_u32_le(1); // the union's discriminant
    out.put_u32_le(next_ref()); // Level1: SHARE_INFO_1_CONTAINER*
    out.put_u32_le(0); // EntriesRead
    out.put_u32_le(0); // Buffer: NULL
    out.put_u32_le(max_len);
    out.put_u32_le(next_ref()); // ResumeHandle
    out.put_u32_le(resume);
    out
}

/// A decoded NetrShareEnum response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareEnum {
    /// The shares of this answer.
    pub shares: Vec<ShareInfo>,
    /// TotalEntries: how many the server has in all.
    pub total: u32,
    /// The resume handle to continue with (when the status is [`ERROR_MORE_DATA`]).
    pub resume: Option<u32>,
    /// The call's NET_API_STATUS.
    pub status: u32,
}

/// NDR reading over a stub: 4-byte alignment from its start.
struct Ndr<'a> {
    r: Reader<'a>,
}

impl<'a> Ndr<'a> {
    fn align4(&mut self) -> DecodeResult<()> {
        let pad = (4 - self.r.pos() % 4) % 4;
        self.r.skip(pad)
    }

    fn u32(&mut self) -> DecodeResult<u32> {
        self.align4()?;
        self.r.u32()
    }

    /// A count that announces `size`-byte elements: refused when the stub cannot hold them,
    /// so nothing is allocated on the word of a bogus count.
    fn count(&mut self, size: usize, field: &'static str) -> DecodeResult<usize> {
        let n = self.u32()? as usize;
        if n.checked_mul(size).is_none_or(|b| b > self.r.remaining()) {
            return Err(DecodeError::BadField {
                field,
                value: n as u64,
            });
        }
        Ok(n)
    }

    /// The referent of a string pointer (conformant varying, \[C706\] 14.3.4.2).
    fn string(&mut self) -> DecodeResult<String> {
        let max = self.u32()?;
        let offset = self.u32()?;
        let actual = self.count(2, "actual_count")?;
        if offset != 0 || actual as u64 > u64::from(max) {
            return Err(DecodeError::BadField {
                field: "offset/actual_count",
                value: u64::from(offset),
            });
        }
        let b = self.r.bytes(actual * 2)?;
        let mut s = super::utf16le_to_string(b)?;
        // The terminating NUL is counted in the string; anything after one is dropped.
        if let Some(end) = s.find('\0') {
            s.truncate(end);
        }
        Ok(s)
    }
}

/// Decode the stub of a NetrShareEnum response at level 1 ([MS-SRVS] 3.1.4.8): InfoStruct
/// (Level, discriminant, the container pointer, then EntriesRead, the array pointer, the
/// conformant array of SHARE_INFO_1 {netname pointer, type, remark pointer} and the strings
/// they point to, in order), TotalEntries, ResumeHandle (unique pointer) and the status.
pub fn decode_share_enum(stub: &[u8]) -> Result<ShareEnum, RpcError> {
    let mut n = Ndr {
        r: Reader::new(stub),
    };
    let level = n.u32()?;
    let discriminant = n.u32()?;
    if level != 1 || discriminant != 1 {
        // A failed call may answer with level 1 and a NULL container, but never another
        // level than asked for.
        return Err(DecodeError::BadField {
            field: "Level",
            value: level.into(),
        }
        .into());
    }
    let mut shares = Vec::new();
    if n.u32()? != 0 {
        let entries = n.u32()?;
        if n.u32()? != 0 {
            // Each SHARE_INFO_1 takes 12 bytes of the array.
            let count = n.count(12, "array max_count")?;
            if count != entries as usize {
                return Err(DecodeError::BadField {
                    field: "EntriesRead",
                    value: entries.into(),
                }
                .into());
            }
            let mut fixed = Vec::with_capacity(count);
            for _ in 0..count {
                fixed.push((n.u32()?, n.u32()?, n.u32()?));
            }
            shares.reserve(count);
            for (name_ref, raw_type, remark_ref) in fixed {
                let name = if name_ref != 0 {
                    n.string()?
                } else {
                    String::new()
                };
                let comment = if remark_ref != 0 {
                    n.string()?
                } else {
                    String::new()
                };
                shares.push(ShareInfo {
                    name,
                    share_type: ShareType::from_raw(raw_type),
                    comment,
                });
            }
        } else if entries != 0 {
            return Err(DecodeError::BadField {
                field: "EntriesRead",
                value: entries.into(),
            }
            .into());
        }
    }
    let total = n.u32()?;
    let resume = match n.u32()? {
        0 => None,
        _ => Some(n.u32()?),
    };
    let status = n.u32()?;
    Ok(ShareEnum {
        shares,
        total,
        resume,
        status,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::test_util::hex;

    /// smbclient's NetrShareEnum stub (ServerName "127.0.0.1", level 1, no resume), captured
    /// against Samba 4.17 on loopback.
    const REQUEST_STUB: &str = "000002000a000000000000000a0000003100320037002e0030002e0030002e0031\
        0000000100000001000000040002000000000000000000ffffffff0800020000000000";

    /// Samba's answer: share, encrypted, readonly, guest (disk, empty comments) and IPC$
    /// (STYPE_IPC | STYPE_SPECIAL, "IPC Service (Samba 4.17.12-Debian)").
    pub(crate) const RESPONSE_STUB: &str = "01000000010000000c00020005000000100002000500000014000200\
        00000000180002001c00020000000000200002002400020000000000280002002c000200000000003000020034\
        0002000300008038000200060000000000000006000000730068006100720065000000010000000000000001000\
        000000000000a000000000000000a00000065006e006300720079007000740065006400000001000000000000000\
        10000000000000009000000000000000900000072006500610064006f006e006c007900000000000100000000000\
        0000100000000000000060000000000000006000000670075006500730074000000010000000000000001000000\
        000000000500000000000000050000004900500043002400000000002300000000000000230000004900500043\
        002000530065007200760069006300650020002800530061006d0062006100200034002e00310037002e00310032\
        002d00440065006200690061006e00290000000000050000003c0002000000000000000000";

    #[test]
    fn request_is_byte_exact() {
        assert_eq!(
            encode_share_enum(Some("127.0.0.1"), u32::MAX, 0),
            hex(REQUEST_STUB)
        );
        // A NULL server name: the same without the string, the referent ids start again.
        let null = encode_share_enum(None, u32::MAX, 0);
        assert_eq!(&null[..4], &[0; 4]);
        assert_eq!(&null[4..16], &hex("010000000100000000000200")[..]);
        assert_eq!(null.len(), 36);
    }

    #[test]
    fn response_decodes() {
        let e = decode_share_enum(&hex(RESPONSE_STUB)).unwrap();
        assert_eq!((e.total, e.resume, e.status), (5, Some(0), NERR_SUCCESS));
        let names: Vec<&str> = e.shares.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["share", "encrypted", "readonly", "guest", "IPC$"]);
        let disk = ShareType::from_raw(0);
        assert!(e.shares[..4].iter().all(|s| s.share_type == disk));
        assert!(e.shares[..4].iter().all(|s| s.comment.is_empty()));
        let ipc = &e.shares[4];
        assert_eq!(ipc.comment, "IPC Service (Samba 4.17.12-Debian)");
        assert_eq!(
            ipc.share_type,
            ShareType {
                kind: ShareKind::Ipc,
                special: true,
                temporary: false
            }
        );
        assert_eq!(ipc.share_type.to_raw(), 0x8000_0003);
        assert!(ipc.is_hidden() && !e.shares[0].is_hidden());
    }

    #[test]
    fn share_types_round_trip() {
        for raw in [
            0,
            1,
            2,
            3,
            0x4000_0000,
            0x8000_0000,
            0x0200_0000,
            0x0800_0000,
            77,
        ] {
            assert_eq!(ShareType::from_raw(raw).to_raw(), raw);
        }
        assert_eq!(ShareType::from_raw(77).kind, ShareKind::Other(77));
        assert_eq!(ShareType::from_raw(0xc000_0001).kind.name(), "printer");
    }

    #[test]
    fn truncated_and_bogus_responses_fail_cleanly() {
        let good = hex(RESPONSE_STUB);
        for n in 0..good.len() {
            assert!(decode_share_enum(&good[..n]).is_err(), "prefix {n}");
        }
        let patch = |at: usize, v: u32| {
            let mut b = good.clone();
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            decode_share_enum(&b)
        };
        // Level 2, an array count of 2^32-1, EntriesRead not matching the array, a string
        // count beyond the stub, actual_count above max_count, a non-zero offset.
        assert!(patch(0, 2).is_err());
        assert!(patch(20, u32::MAX).is_err());
        assert!(patch(12, 4).is_err());
        assert!(patch(92, 0x4000_0000).is_err());
        assert!(patch(84, 5).is_err());
        assert!(patch(88, 1).is_err());
    }

    #[test]
    fn empty_and_failed_answers() {
        // Level 1, NULL container, TotalEntries 0, NULL resume handle, ERROR_ACCESS_DENIED.
        let stub = hex("0100000001000000000000000000000000000000");
        let mut b = stub.clone();
        b.extend_from_slice(&5u32.to_le_bytes());
        let e = decode_share_enum(&b).unwrap();
        assert_eq!(
            (e.shares.len(), e.total, e.resume, e.status),
            (0, 0, None, 5)
        );
        // A container with a NULL array but entries announced.
        let b = hex("01000000010000000400020003000000000000000000000000000000");
        assert!(decode_share_enum(&b).is_err());
    }
}
