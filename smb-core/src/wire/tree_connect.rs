//! SMB2 TREE_CONNECT request and response ([MS-SMB2] 2.2.9, 2.2.10), including the 3.1.1
//! request extension (2.2.9.1) with its tree connect contexts (2.2.9.2), and
//! TREE_DISCONNECT (2.2.11, 2.2.12).
//!
//! The path is `\\server\share` in UTF-16LE without terminator.
//!
//! Layout of the extension form, as this codec writes and reads it: the extension
//! (TreeConnectContextOffset, TreeConnectContextCount, 10 reserved bytes) starts at the
//! Buffer field (offset 72), PathName follows it (PathOffset = 88 points at it, PathLength its
//! length, as other implementations do), then the contexts, each 8-byte aligned.
//! [MS-SMB2] 2.2.9.1 defines TreeConnectContextOffset as "from the start of the SMB2
//! TREE_CONNECT request"; like every other offset of the protocol it is taken here from the
//! start of the SMB2 header. Doubt: no capture of a Windows client with this extension was
//! available to confirm it.

use super::flag_newtype;
use super::logoff::{decode_size4, encode_size4};
use super::{
    Decode, DecodeError, DecodeResult, Encode, HEADER_LEN, Reader, pad_to, patch_u16, patch_u32,
    put_utf16le, slice_at, utf16le_len, utf16le_to_string,
};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::BufMut;

/// Flags of a 3.1.1 TREE_CONNECT request ([MS-SMB2] 2.2.9); reserved (0) before 3.1.1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TreeConnectFlags(pub u16);

impl TreeConnectFlags {
    /// SMB2_TREE_CONNECT_FLAG_CLUSTER_RECONNECT.
    pub const CLUSTER_RECONNECT: u16 = 0x0001;
    /// SMB2_TREE_CONNECT_FLAG_REDIRECT_TO_OWNER.
    pub const REDIRECT_TO_OWNER: u16 = 0x0002;
    /// SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT: the Buffer starts with the extension.
    pub const EXTENSION_PRESENT: u16 = 0x0004;
}
flag_newtype!(TreeConnectFlags, u16);

/// SMB2_REMOTED_IDENTITY_TREE_CONNECT_CONTEXT_ID ([MS-SMB2] 2.2.9.2).
pub const REMOTED_IDENTITY_CONTEXT_ID: u16 = 0x0001;

/// A tree connect context ([MS-SMB2] 2.2.9.2), kept raw (type + data). The only defined
/// type is [`REMOTED_IDENTITY_CONTEXT_ID`], whose data (2.2.9.2.1) a client does not need
/// to interpret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConnectContext {
    /// ContextType.
    pub context_type: u16,
    /// Data.
    pub data: Vec<u8>,
}

/// SMB2 TREE_CONNECT request ([MS-SMB2] 2.2.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConnectRequest {
    /// Flags. With [`TreeConnectFlags::EXTENSION_PRESENT`] the extension form is written.
    pub flags: TreeConnectFlags,
    /// `\\server\share`.
    pub path: String,
    /// Tree connect contexts (extension form only).
    pub contexts: Vec<TreeConnectContext>,
}

impl TreeConnectRequest {
    /// A plain request for `path` (`\\server\share`).
    pub fn new(path: impl Into<String>) -> Self {
        TreeConnectRequest {
            flags: TreeConnectFlags(0),
            path: path.into(),
            contexts: Vec::new(),
        }
    }
}

const REQ_FIXED: usize = 8;

impl Encode for TreeConnectRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        let base = msg.len();
        msg.put_u16_le(9);
        msg.put_u16_le(self.flags.0);
        let path_off_pos = msg.len();
        msg.put_u16_le(0);
        msg.put_u16_le(utf16le_len(&self.path) as u16);
        if self.flags.has(TreeConnectFlags::EXTENSION_PRESENT) {
            // [MS-SMB2] 2.2.9.1
            let ext = msg.len();
            msg.put_u32_le(0); // TreeConnectContextOffset
            msg.put_u16_le(self.contexts.len() as u16);
            msg.put_slice(&[0; 10]);
            let path_off = msg.len() as u16;
            patch_u16(msg, path_off_pos, path_off);
            put_utf16le(msg, &self.path);
            if !self.contexts.is_empty() {
                pad_to(msg, 8);
                let ctx_off = msg.len() as u32;
                patch_u32(msg, ext, ctx_off);
                for (i, c) in self.contexts.iter().enumerate() {
                    if i > 0 {
                        pad_to(msg, 8);
                    }
                    msg.put_u16_le(c.context_type);
                    msg.put_u16_le(c.data.len() as u16);
                    msg.put_u32_le(0);
                    msg.put_slice(&c.data);
                }
            }
        } else {
            patch_u16(msg, path_off_pos, (base + REQ_FIXED) as u16);
            put_utf16le(msg, &self.path);
        }
    }
}

impl<'a> Decode<'a> for TreeConnectRequest {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 9)?;
        let flags = TreeConnectFlags(r.u16()?);
        let path_off = r.u16()? as usize;
        let path_len = r.u16()? as usize;
        let mut contexts = Vec::new();
        let mut min = r.pos();
        if flags.has(TreeConnectFlags::EXTENSION_PRESENT) {
            let ctx_off = r.u32()? as usize;
            let count = r.u16()? as usize;
            r.skip(10)?;
            min = r.pos();
            if count > 0 {
                if ctx_off < min || ctx_off > msg.len() {
                    return Err(DecodeError::BadOffset {
                        field: "TreeConnectContextOffset",
                    });
                }
                let mut c = Reader::at(msg, ctx_off)?;
                for i in 0..count {
                    if i > 0 {
                        c.skip((8 - c.pos() % 8) % 8)?;
                    }
                    let context_type = c.u16()?;
                    let len = c.u16()? as usize;
                    c.skip(4)?;
                    let data = c.bytes(len)?.to_vec();
                    contexts.push(TreeConnectContext { context_type, data });
                }
            }
        }
        let path = utf16le_to_string(slice_at(msg, path_off, path_len, min, "PathName")?)?;
        Ok(TreeConnectRequest {
            flags,
            path,
            contexts,
        })
    }
}

/// ShareType ([MS-SMB2] 2.2.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShareType {
    /// SMB2_SHARE_TYPE_DISK (0x01).
    Disk,
    /// SMB2_SHARE_TYPE_PIPE (0x02).
    Pipe,
    /// SMB2_SHARE_TYPE_PRINT (0x03).
    Print,
    /// Any other value.
    Other(u8),
}

impl ShareType {
    /// Map a wire value.
    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => ShareType::Disk,
            2 => ShareType::Pipe,
            3 => ShareType::Print,
            o => ShareType::Other(o),
        }
    }
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            ShareType::Disk => 1,
            ShareType::Pipe => 2,
            ShareType::Print => 3,
            ShareType::Other(o) => o,
        }
    }
}

/// ShareFlags ([MS-SMB2] 2.2.10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ShareFlags(pub u32);

impl ShareFlags {
    /// SMB2_SHAREFLAG_DFS.
    pub const DFS: u32 = 0x0000_0001;
    /// SMB2_SHAREFLAG_DFS_ROOT.
    pub const DFS_ROOT: u32 = 0x0000_0002;
    /// Mask of the caching policy (MANUAL 0x00, AUTO 0x10, VDO 0x20, NO_CACHING 0x30).
    pub const CACHING_MASK: u32 = 0x0000_0030;
    /// SMB2_SHAREFLAG_AUTO_CACHING.
    pub const AUTO_CACHING: u32 = 0x0000_0010;
    /// SMB2_SHAREFLAG_VDO_CACHING.
    pub const VDO_CACHING: u32 = 0x0000_0020;
    /// SMB2_SHAREFLAG_NO_CACHING.
    pub const NO_CACHING: u32 = 0x0000_0030;
    /// SMB2_SHAREFLAG_RESTRICT_EXCLUSIVE_OPENS.
    pub const RESTRICT_EXCLUSIVE_OPENS: u32 = 0x0000_0100;
    /// SMB2_SHAREFLAG_FORCE_SHARED_DELETE.
    pub const FORCE_SHARED_DELETE: u32 = 0x0000_0200;
    /// SMB2_SHAREFLAG_ALLOW_NAMESPACE_CACHING.
    pub const ALLOW_NAMESPACE_CACHING: u32 = 0x0000_0400;
    /// SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM.
    pub const ACCESS_BASED_DIRECTORY_ENUM: u32 = 0x0000_0800;
    /// SMB2_SHAREFLAG_FORCE_LEVELII_OPLOCK.
    pub const FORCE_LEVELII_OPLOCK: u32 = 0x0000_1000;
    /// SMB2_SHAREFLAG_ENABLE_HASH_V1.
    pub const ENABLE_HASH_V1: u32 = 0x0000_2000;
    /// SMB2_SHAREFLAG_ENABLE_HASH_V2.
    pub const ENABLE_HASH_V2: u32 = 0x0000_4000;
    /// SMB2_SHAREFLAG_ENCRYPT_DATA: the share requires encryption (3.x).
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
    /// SMB2_SHAREFLAG_IDENTITY_REMOTING.
    pub const IDENTITY_REMOTING: u32 = 0x0004_0000;
    /// SMB2_SHAREFLAG_COMPRESS_DATA.
    pub const COMPRESS_DATA: u32 = 0x0010_0000;
    /// SMB2_SHAREFLAG_ISOLATED_TRANSPORT.
    pub const ISOLATED_TRANSPORT: u32 = 0x0020_0000;
}
flag_newtype!(ShareFlags, u32);

/// Share capabilities ([MS-SMB2] 2.2.10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ShareCapabilities(pub u32);

impl ShareCapabilities {
    /// SMB2_SHARE_CAP_DFS.
    pub const DFS: u32 = 0x0000_0008;
    /// SMB2_SHARE_CAP_CONTINUOUS_AVAILABILITY.
    pub const CONTINUOUS_AVAILABILITY: u32 = 0x0000_0010;
    /// SMB2_SHARE_CAP_SCALEOUT.
    pub const SCALEOUT: u32 = 0x0000_0020;
    /// SMB2_SHARE_CAP_CLUSTER.
    pub const CLUSTER: u32 = 0x0000_0040;
    /// SMB2_SHARE_CAP_ASYMMETRIC.
    pub const ASYMMETRIC: u32 = 0x0000_0080;
    /// SMB2_SHARE_CAP_REDIRECT_TO_OWNER.
    pub const REDIRECT_TO_OWNER: u32 = 0x0000_0100;
}
flag_newtype!(ShareCapabilities, u32);

/// SMB2 TREE_CONNECT response ([MS-SMB2] 2.2.10). The TreeId is in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeConnectResponse {
    /// ShareType.
    pub share_type: ShareType,
    /// ShareFlags.
    pub share_flags: ShareFlags,
    /// Capabilities.
    pub capabilities: ShareCapabilities,
    /// MaximalAccess (an access mask).
    pub maximal_access: u32,
}

impl Encode for TreeConnectResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(16);
        msg.put_u8(self.share_type.to_u8());
        msg.put_u8(0);
        msg.put_u32_le(self.share_flags.0);
        msg.put_u32_le(self.capabilities.0);
        msg.put_u32_le(self.maximal_access);
    }
}

impl Decode<'_> for TreeConnectResponse {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 16)?;
        let share_type = ShareType::from_u8(r.u8()?);
        r.skip(1)?;
        Ok(TreeConnectResponse {
            share_type,
            share_flags: ShareFlags(r.u32()?),
            capabilities: ShareCapabilities(r.u32()?),
            maximal_access: r.u32()?,
        })
    }
}

/// SMB2 TREE_DISCONNECT request ([MS-SMB2] 2.2.11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeDisconnectRequest;

/// SMB2 TREE_DISCONNECT response ([MS-SMB2] 2.2.12).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeDisconnectResponse;

impl Encode for TreeDisconnectRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_size4(msg);
    }
}

impl Decode<'_> for TreeDisconnectRequest {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        decode_size4(msg).map(|()| TreeDisconnectRequest)
    }
}

impl Encode for TreeDisconnectResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        encode_size4(msg);
    }
}

impl Decode<'_> for TreeDisconnectResponse {
    fn decode(msg: &[u8]) -> DecodeResult<Self> {
        decode_size4(msg).map(|()| TreeDisconnectResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_util::{all_prefixes_fail, hex, message, reencodes_exactly};
    use crate::wire::{Command, Header};
    use alloc::vec;

    #[test]
    fn plain_request_byte_exact() {
        let req = TreeConnectRequest::new(r"\\srv\ipc$");
        let msg = message(Command::TreeConnect, false, &req);
        assert_eq!(&msg[64..72], &[9, 0, 0, 0, 72, 0, 20, 0]);
        assert_eq!(&msg[72..76], &[b'\\', 0, b'\\', 0]);
        assert_eq!(msg.len(), 72 + 20);
        let back = TreeConnectRequest::decode(&msg).unwrap();
        assert_eq!(back, req);
        all_prefixes_fail(&msg, |m| TreeConnectRequest::decode(m).is_err());
    }

    #[test]
    fn extension_request_round_trips() {
        let req = TreeConnectRequest {
            flags: TreeConnectFlags(
                TreeConnectFlags::EXTENSION_PRESENT | TreeConnectFlags::REDIRECT_TO_OWNER,
            ),
            path: r"\\server\share".into(),
            contexts: vec![
                TreeConnectContext {
                    context_type: REMOTED_IDENTITY_CONTEXT_ID,
                    data: vec![1, 2, 3, 4, 5],
                },
                TreeConnectContext {
                    context_type: 0x77,
                    data: vec![9],
                },
            ],
        };
        let msg = message(Command::TreeConnect, false, &req);
        assert_eq!(&msg[66..68], &[6, 0]);
        assert_eq!(&msg[68..70], &[88, 0]); // PathOffset after the 16-byte extension
        assert_eq!(&msg[70..72], &[28, 0]);
        // Path ends at 116, contexts at 120 (8-aligned from the header start).
        assert_eq!(u32::from_le_bytes(msg[72..76].try_into().unwrap()), 120);
        assert_eq!(&msg[76..78], &[2, 0]);
        assert_eq!(&msg[120..122], &[1, 0]);
        assert_eq!(&msg[136..138], &[0x77, 0]); // 120 + 8 + 5 = 133 -> 136
        let back = TreeConnectRequest::decode(&msg).unwrap();
        assert_eq!(back, req);
        all_prefixes_fail(&msg, |m| TreeConnectRequest::decode(m).is_err());
        // Context offset pointing into the extension, or a huge count.
        let mut m = msg.clone();
        m[72] = 80;
        assert!(TreeConnectRequest::decode(&m).is_err());
        let mut m = msg;
        m[76..78].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(TreeConnectRequest::decode(&m).is_err());
    }

    #[test]
    fn request_rejects_bad_path() {
        let msg = message(Command::TreeConnect, false, &TreeConnectRequest::new("ab"));
        let mut m = msg.clone();
        m[70] = 3; // odd length
        m.push(0);
        assert!(TreeConnectRequest::decode(&m).is_err());
        let mut m = msg.clone();
        m[68..70].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(TreeConnectRequest::decode(&m).is_err());
        let mut m = msg;
        m[68] = 64; // into the fixed part
        assert!(TreeConnectRequest::decode(&m).is_err());
    }

    #[test]
    fn response_byte_exact() {
        // A Samba 4.x answer for a disk share: ShareType 1, manual caching, full access.
        let rsp = TreeConnectResponse {
            share_type: ShareType::Disk,
            share_flags: ShareFlags(ShareFlags::ENCRYPT_DATA),
            capabilities: ShareCapabilities(0),
            maximal_access: 0x001F_01FF,
        };
        let msg = message(Command::TreeConnect, true, &rsp);
        #[rustfmt::skip]
        let body = [16, 0, 1, 0, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0xFF, 0x01, 0x1F, 0x00];
        assert_eq!(&msg[64..], &body);
        let back = TreeConnectResponse::decode(&msg).unwrap();
        assert_eq!(back, rsp);
        assert!(back.share_flags.has(ShareFlags::ENCRYPT_DATA));
        let mut again = Vec::new();
        Header::decode(&msg).unwrap().encode(&mut again);
        back.encode(&mut again);
        assert_eq!(again, msg);
        all_prefixes_fail(&msg, |m| TreeConnectResponse::decode(m).is_err());
    }

    #[test]
    fn tree_disconnect_round_trips() {
        let msg = message(Command::TreeDisconnect, false, &TreeDisconnectRequest);
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(
            TreeDisconnectRequest::decode(&msg).unwrap(),
            TreeDisconnectRequest
        );
        let msg = message(Command::TreeDisconnect, true, &TreeDisconnectResponse);
        assert_eq!(
            TreeDisconnectResponse::decode(&msg).unwrap(),
            TreeDisconnectResponse
        );
        all_prefixes_fail(&msg, |m| TreeDisconnectResponse::decode(m).is_err());
    }

    /// smbclient/smbd 4.17 on loopback, frame 18 of the capture (NBSS prefix removed).
    const SAMBA_TCON_REQ: &str = "\
        fe534d42400001000000000003000100180000000000000006000000000000000000000000000000dce50d98\
        0000000058273b0b6e5168387ece99d7ad5ac79b09000000480022005c005c003100320037002e0030002e00\
        30002e0031005c0073006800610072006500\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 19 of the capture (NBSS prefix removed).
    const SAMBA_TCON_RSP: &str = "\
        fe534d42400001000000000003000100190000000000000006000000000000000000000091c883eadce50d98\
        000000007a7dfe578af0c05f1a17c681f4d6f12c100001000000000000000000ff011f00\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 16 of the capture (NBSS prefix removed).
    const SAMBA_TDIS_REQ: &str = "\
        fe534d4240000100000000000400010010000000000000000500000000000000000000004906aa5edce50d98\
        000000000000000000000000000000000000000004000000\
    ";

    /// smbclient/smbd 4.17 on loopback, frame 17 of the capture (NBSS prefix removed).
    const SAMBA_TDIS_RSP: &str = "\
        fe534d4240000100000000000400010011000000000000000500000000000000000000004906aa5edce50d98\
        000000000000000000000000000000000000000004000000\
    ";

    #[test]
    fn samba_tree_connect_capture() {
        let msg = hex(SAMBA_TCON_REQ);
        let req = TreeConnectRequest::decode(&msg).unwrap();
        assert_eq!(req.path, r"\\127.0.0.1\share");
        reencodes_exactly(&msg, &req);
        let msg = hex(SAMBA_TCON_RSP);
        let rsp = TreeConnectResponse::decode(&msg).unwrap();
        assert_eq!(rsp.share_type, ShareType::Disk);
        assert_ne!(Header::decode(&msg).unwrap().tree_id(), 0);
        reencodes_exactly(&msg, &rsp);
        let msg = hex(SAMBA_TDIS_REQ);
        reencodes_exactly(&msg, &TreeDisconnectRequest::decode(&msg).unwrap());
        let msg = hex(SAMBA_TDIS_RSP);
        reencodes_exactly(&msg, &TreeDisconnectResponse::decode(&msg).unwrap());
    }
}
