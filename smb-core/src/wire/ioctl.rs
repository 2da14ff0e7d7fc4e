//! SMB2 IOCTL request and response ([MS-SMB2] 2.2.31, 2.2.32) and the FSCTL payloads the
//! client uses: VALIDATE_NEGOTIATE_INFO, QUERY_NETWORK_INTERFACE_INFO, SRV_REQUEST_RESUME_KEY,
//! SRV_COPYCHUNK(_WRITE) and PIPE_TRANSCEIVE. The DFS_GET_REFERRALS payloads live in
//! [`super::dfs_referral`] and are re-exported here.
//!
//! The IOCTL messages borrow their input and output buffers; each payload type implements
//! [`IoctlData`] to turn those bytes into a value and back.

use super::flag_newtype;
use super::{
    Decode, DecodeError, DecodeResult, Encode, FileId, Guid, HEADER_LEN, Reader, slice_at,
};
use alloc::vec::Vec;
use bytes::BufMut;
use core::net::{Ipv4Addr, Ipv6Addr};

pub use super::dfs_referral::{
    DfsReferral, DfsReferralBody, DfsReferralEntryFlags, DfsReferralHeaderFlags,
    DfsReferralRequest, DfsReferralResponse,
};

/// FSCTL and IOCTL codes ([MS-SMB2] 2.2.31, [MS-FSCC] 2.3).
pub mod fsctl {
    /// FSCTL_DFS_GET_REFERRALS.
    pub const DFS_GET_REFERRALS: u32 = 0x0006_0194;
    /// FSCTL_DFS_GET_REFERRALS_EX.
    pub const DFS_GET_REFERRALS_EX: u32 = 0x0006_01B0;
    /// FSCTL_PIPE_PEEK.
    pub const PIPE_PEEK: u32 = 0x0011_400C;
    /// FSCTL_PIPE_WAIT.
    pub const PIPE_WAIT: u32 = 0x0011_0018;
    /// FSCTL_PIPE_TRANSCEIVE.
    pub const PIPE_TRANSCEIVE: u32 = 0x0011_C017;
    /// FSCTL_SRV_COPYCHUNK.
    pub const SRV_COPYCHUNK: u32 = 0x0014_40F2;
    /// FSCTL_SRV_COPYCHUNK_WRITE.
    pub const SRV_COPYCHUNK_WRITE: u32 = 0x0014_80F2;
    /// FSCTL_SRV_ENUMERATE_SNAPSHOTS.
    pub const SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;
    /// FSCTL_SRV_REQUEST_RESUME_KEY.
    pub const SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    /// FSCTL_SRV_READ_HASH.
    pub const SRV_READ_HASH: u32 = 0x0014_41BB;
    /// FSCTL_LMR_REQUEST_RESILIENCY.
    pub const LMR_REQUEST_RESILIENCY: u32 = 0x0014_01D4;
    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO.
    pub const QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01FC;
    /// FSCTL_VALIDATE_NEGOTIATE_INFO.
    pub const VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
    /// FSCTL_SET_REPARSE_POINT.
    pub const SET_REPARSE_POINT: u32 = 0x0009_00A4;
    /// FSCTL_GET_REPARSE_POINT.
    pub const GET_REPARSE_POINT: u32 = 0x0009_00A8;
    /// FSCTL_SET_SPARSE.
    pub const SET_SPARSE: u32 = 0x0009_00C4;
    /// FSCTL_SET_ZERO_DATA.
    pub const SET_ZERO_DATA: u32 = 0x0009_80C8;
    /// FSCTL_QUERY_ALLOCATED_RANGES.
    pub const QUERY_ALLOCATED_RANGES: u32 = 0x0009_40CF;
    /// FSCTL_FILE_LEVEL_TRIM.
    pub const FILE_LEVEL_TRIM: u32 = 0x0009_8208;
    /// FSCTL_DUPLICATE_EXTENTS_TO_FILE.
    pub const DUPLICATE_EXTENTS_TO_FILE: u32 = 0x0009_8344;
    /// FSCTL_OFFLOAD_READ.
    pub const OFFLOAD_READ: u32 = 0x0009_4264;
    /// FSCTL_OFFLOAD_WRITE.
    pub const OFFLOAD_WRITE: u32 = 0x0009_8268;
}

/// IOCTL flags ([MS-SMB2] 2.2.31).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IoctlFlags(pub u32);
flag_newtype!(IoctlFlags, u32);

impl IoctlFlags {
    /// SMB2_0_IOCTL_IS_IOCTL (no bit set).
    pub const IS_IOCTL: u32 = 0;
    /// SMB2_0_IOCTL_IS_FSCTL.
    pub const IS_FSCTL: u32 = 1;
}

/// Fixed part of the IOCTL request body; the Buffer starts at 0x78.
const REQ_FIXED: usize = 56;
/// Fixed part of the IOCTL response body; the Buffer starts at 0x70.
const RESP_FIXED: usize = 48;

fn align8(v: usize) -> usize {
    (v + 7) & !7
}

/// SMB2 IOCTL request ([MS-SMB2] 2.2.31), borrowing its buffers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoctlRequest<'a> {
    /// CtlCode (see [`fsctl`]).
    pub ctl_code: u32,
    /// The open, or `FileId::RELATED`'s all-ones value for FSCTLs without a handle.
    pub file_id: FileId,
    /// Input data.
    pub input: &'a [u8],
    /// Output data sent to the server (normally empty).
    pub output: &'a [u8],
    /// MaxInputResponse.
    pub max_input_response: u32,
    /// MaxOutputResponse.
    pub max_output_response: u32,
    /// Flags (IS_FSCTL for every FSCTL).
    pub flags: IoctlFlags,
}

impl Encode for IoctlRequest<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        let buffer = msg.len() + REQ_FIXED;
        // [MS-SMB2] 2.2.31: InputOffset points at Buffer, and output data (rare in requests)
        // follows the input 8-byte aligned. Like Samba's client, an empty input has offset 0
        // and an empty output takes the input's offset.
        let in_off = if self.input.is_empty() { 0 } else { buffer };
        let out_off = if self.output.is_empty() {
            in_off
        } else {
            align8(buffer + self.input.len())
        };
        msg.put_u16_le(57);
        msg.put_u16_le(0); // Reserved
        msg.put_u32_le(self.ctl_code);
        self.file_id.write(msg);
        msg.put_u32_le(in_off as u32);
        msg.put_u32_le(self.input.len() as u32);
        msg.put_u32_le(self.max_input_response);
        msg.put_u32_le(out_off as u32);
        msg.put_u32_le(self.output.len() as u32);
        msg.put_u32_le(self.max_output_response);
        msg.put_u32_le(self.flags.0);
        msg.put_u32_le(0); // Reserved2
        msg.put_slice(self.input);
        if !self.output.is_empty() {
            msg.resize(out_off, 0);
            msg.put_slice(self.output);
        }
        if msg.len() == buffer {
            msg.put_u8(0); // StructureSize 57 counts one byte of Buffer
        }
    }
}

impl<'a> Decode<'a> for IoctlRequest<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 57)?;
        r.skip(2)?;
        let ctl_code = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let in_off = r.u32()? as usize;
        let in_len = r.u32()? as usize;
        let max_input_response = r.u32()?;
        let out_off = r.u32()? as usize;
        let out_len = r.u32()? as usize;
        let max_output_response = r.u32()?;
        let flags = IoctlFlags(r.u32()?);
        let _reserved2 = r.u32()?;
        let min = HEADER_LEN + REQ_FIXED;
        let input = slice_at(msg, in_off, in_len, min, "InputOffset")?;
        let output = slice_at(msg, out_off, out_len, min, "OutputOffset")?;
        Ok(IoctlRequest {
            ctl_code,
            file_id,
            input,
            output,
            max_input_response,
            max_output_response,
            flags,
        })
    }
}

/// SMB2 IOCTL response ([MS-SMB2] 2.2.32), borrowing its buffers from the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoctlResponse<'a> {
    /// CtlCode.
    pub ctl_code: u32,
    /// FileId.
    pub file_id: FileId,
    /// Input buffer echoed by the server (normally empty).
    pub input: &'a [u8],
    /// Output buffer: the FSCTL's result.
    pub output: &'a [u8],
    /// Flags (reserved, 0).
    pub flags: u32,
}

impl Encode for IoctlResponse<'_> {
    fn encode(&self, msg: &mut Vec<u8>) {
        let buffer = msg.len() + RESP_FIXED;
        let out_off = align8(buffer + self.input.len());
        msg.put_u16_le(49);
        msg.put_u16_le(0); // Reserved
        msg.put_u32_le(self.ctl_code);
        self.file_id.write(msg);
        msg.put_u32_le(buffer as u32);
        msg.put_u32_le(self.input.len() as u32);
        msg.put_u32_le(out_off as u32);
        msg.put_u32_le(self.output.len() as u32);
        msg.put_u32_le(self.flags);
        msg.put_u32_le(0); // Reserved2
        msg.put_slice(self.input);
        if !self.output.is_empty() {
            msg.resize(out_off, 0);
            msg.put_slice(self.output);
        }
    }
}

impl<'a> Decode<'a> for IoctlResponse<'a> {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 49)?;
        r.skip(2)?;
        let ctl_code = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        let in_off = r.u32()? as usize;
        let in_len = r.u32()? as usize;
        let out_off = r.u32()? as usize;
        let out_len = r.u32()? as usize;
        let flags = r.u32()?;
        let _reserved2 = r.u32()?;
        let min = HEADER_LEN + RESP_FIXED;
        let input = slice_at(msg, in_off, in_len, min, "InputOffset")?;
        let output = slice_at(msg, out_off, out_len, min, "OutputOffset")?;
        Ok(IoctlResponse {
            ctl_code,
            file_id,
            input,
            output,
            flags,
        })
    }
}

/// An FSCTL input or output payload: the bytes of an IOCTL's input or output buffer.
pub trait IoctlData<'a>: Sized {
    /// Append the payload bytes.
    fn encode_data(&self, out: &mut Vec<u8>);
    /// Parse the payload bytes.
    fn decode_data(buf: &'a [u8]) -> DecodeResult<Self>;
    /// The payload as a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_data(&mut v);
        v
    }
}

/// VALIDATE_NEGOTIATE_INFO request ([MS-SMB2] 2.2.31.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidateNegotiateInfoRequest {
    /// The client's Capabilities as sent in NEGOTIATE.
    pub capabilities: u32,
    /// The ClientGuid.
    pub guid: Guid,
    /// The SecurityMode sent in NEGOTIATE.
    pub security_mode: u16,
    /// The dialects sent in NEGOTIATE.
    pub dialects: Vec<u16>,
}

impl IoctlData<'_> for ValidateNegotiateInfoRequest {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.capabilities);
        out.put_slice(&self.guid.0);
        out.put_u16_le(self.security_mode);
        out.put_u16_le(self.dialects.len() as u16);
        for d in &self.dialects {
            out.put_u16_le(*d);
        }
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let capabilities = r.u32()?;
        let guid = r.guid()?;
        let security_mode = r.u16()?;
        let count = r.u16()? as usize;
        let raw = r.bytes(count * 2)?;
        let dialects = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(ValidateNegotiateInfoRequest {
            capabilities,
            guid,
            security_mode,
            dialects,
        })
    }
}

/// VALIDATE_NEGOTIATE_INFO response ([MS-SMB2] 2.2.32.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValidateNegotiateInfoResponse {
    /// The server's Capabilities.
    pub capabilities: u32,
    /// The ServerGuid.
    pub guid: Guid,
    /// The server's SecurityMode.
    pub security_mode: u16,
    /// The dialect in use.
    pub dialect: u16,
}

impl IoctlData<'_> for ValidateNegotiateInfoResponse {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.capabilities);
        out.put_slice(&self.guid.0);
        out.put_u16_le(self.security_mode);
        out.put_u16_le(self.dialect);
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        Ok(ValidateNegotiateInfoResponse {
            capabilities: r.u32()?,
            guid: r.guid()?,
            security_mode: r.u16()?,
            dialect: r.u16()?,
        })
    }
}

/// A socket address in a NETWORK_INTERFACE_INFO ([MS-SMB2] 2.2.32.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// SOCKADDR_IN (family 0x0002).
    V4 {
        /// The address.
        addr: Ipv4Addr,
        /// Port (0 on the wire per the spec).
        port: u16,
    },
    /// SOCKADDR_IN6 (family 0x0017).
    V6 {
        /// The address.
        addr: Ipv6Addr,
        /// Port (0 on the wire per the spec).
        port: u16,
        /// FlowInfo.
        flow_info: u32,
        /// ScopeId.
        scope_id: u32,
    },
    /// Another family; its bytes are not kept.
    Other {
        /// The family value.
        family: u16,
    },
}

/// Size of SOCKADDR_STORAGE.
const SOCKADDR_LEN: usize = 128;
/// Size of one NETWORK_INTERFACE_INFO entry.
const NII_LEN: usize = 24 + SOCKADDR_LEN;

impl SockAddr {
    fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        match *self {
            SockAddr::V4 { addr, port } => {
                out.put_u16_le(0x0002);
                out.put_u16(port);
                out.put_slice(&addr.octets());
            }
            SockAddr::V6 {
                addr,
                port,
                flow_info,
                scope_id,
            } => {
                out.put_u16_le(0x0017);
                out.put_u16(port);
                out.put_u32_le(flow_info);
                out.put_slice(&addr.octets());
                out.put_u32_le(scope_id);
            }
            SockAddr::Other { family } => out.put_u16_le(family),
        }
        out.resize(start + SOCKADDR_LEN, 0);
    }

    fn read(b: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(b);
        let family = r.u16()?;
        Ok(match family {
            0x0002 => {
                let port = u16::from_be_bytes(r.array()?);
                SockAddr::V4 {
                    port,
                    addr: Ipv4Addr::from(r.array::<4>()?),
                }
            }
            0x0017 => {
                let port = u16::from_be_bytes(r.array()?);
                let flow_info = r.u32()?;
                let addr = Ipv6Addr::from(r.array::<16>()?);
                SockAddr::V6 {
                    addr,
                    port,
                    flow_info,
                    scope_id: r.u32()?,
                }
            }
            family => SockAddr::Other { family },
        })
    }
}

/// One NETWORK_INTERFACE_INFO entry ([MS-SMB2] 2.2.32.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkInterfaceInfo {
    /// IfIndex.
    pub if_index: u32,
    /// Capability bits ([`NetworkInterfaceInfo::RSS_CAPABLE`], `RDMA_CAPABLE`).
    pub capability: u32,
    /// LinkSpeed in bits per second.
    pub link_speed: u64,
    /// The address.
    pub address: SockAddr,
}

impl NetworkInterfaceInfo {
    /// RSS_CAPABLE.
    pub const RSS_CAPABLE: u32 = 0x1;
    /// RDMA_CAPABLE.
    pub const RDMA_CAPABLE: u32 = 0x2;
}

/// The QUERY_NETWORK_INTERFACE_INFO output: a Next-chained list of entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkInterfaceInfoList(pub Vec<NetworkInterfaceInfo>);

impl IoctlData<'_> for NetworkInterfaceInfoList {
    fn encode_data(&self, out: &mut Vec<u8>) {
        for (i, e) in self.0.iter().enumerate() {
            let last = i + 1 == self.0.len();
            out.put_u32_le(if last { 0 } else { NII_LEN as u32 });
            out.put_u32_le(e.if_index);
            out.put_u32_le(e.capability);
            out.put_u32_le(0); // Reserved
            out.put_u64_le(e.link_speed);
            e.address.write(out);
        }
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut list = Vec::new();
        let mut pos = 0usize;
        while pos < buf.len() {
            let mut r = Reader::at(buf, pos)?;
            let next = r.u32()? as usize;
            let if_index = r.u32()?;
            let capability = r.u32()?;
            r.skip(4)?;
            let link_speed = r.u64()?;
            let address = SockAddr::read(r.bytes(SOCKADDR_LEN)?)?;
            list.push(NetworkInterfaceInfo {
                if_index,
                capability,
                link_speed,
                address,
            });
            if next == 0 {
                break;
            }
            if next < NII_LEN || next >= buf.len() - pos {
                return Err(DecodeError::BadOffset {
                    field: "NETWORK_INTERFACE_INFO.Next",
                });
            }
            pos += next;
        }
        Ok(NetworkInterfaceInfoList(list))
    }
}

/// SRV_REQUEST_RESUME_KEY output ([MS-SMB2] 2.2.32.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeKeyResponse {
    /// The 24-byte ResumeKey to use as SourceKey of a copychunk.
    pub resume_key: [u8; 24],
    /// Context (ignored by clients).
    pub context: Vec<u8>,
}

impl IoctlData<'_> for ResumeKeyResponse {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_slice(&self.resume_key);
        out.put_u32_le(self.context.len() as u32);
        out.put_slice(&self.context);
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let resume_key = r.array()?;
        let len = r.u32()? as usize;
        Ok(ResumeKeyResponse {
            resume_key,
            context: r.bytes(len)?.to_vec(),
        })
    }
}

/// One SRV_COPYCHUNK range ([MS-SMB2] 2.2.31.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyChunk {
    /// Offset in the source file.
    pub source_offset: u64,
    /// Offset in the target file.
    pub target_offset: u64,
    /// Bytes to copy.
    pub length: u32,
}

/// Size of one SRV_COPYCHUNK.
const CHUNK_LEN: usize = 24;

/// SRV_COPYCHUNK_COPY input ([MS-SMB2] 2.2.31.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyChunkCopy {
    /// SourceKey: the resume key of the source open.
    pub source_key: [u8; 24],
    /// The ranges.
    pub chunks: Vec<CopyChunk>,
}

impl IoctlData<'_> for CopyChunkCopy {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_slice(&self.source_key);
        out.put_u32_le(self.chunks.len() as u32);
        out.put_u32_le(0); // Reserved
        for c in &self.chunks {
            out.put_u64_le(c.source_offset);
            out.put_u64_le(c.target_offset);
            out.put_u32_le(c.length);
            out.put_u32_le(0); // Reserved
        }
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        let source_key = r.array()?;
        let count = r.u32()? as usize;
        r.skip(4)?;
        let raw = r.bytes(count.checked_mul(CHUNK_LEN).ok_or(DecodeError::BadField {
            field: "ChunkCount",
            value: count as u64,
        })?)?;
        let chunks = raw
            .chunks_exact(CHUNK_LEN)
            .map(|c| {
                let mut r = Reader::new(c);
                // The slice is exactly CHUNK_LEN bytes, so these reads cannot fail.
                CopyChunk {
                    source_offset: r.u64().unwrap_or(0),
                    target_offset: r.u64().unwrap_or(0),
                    length: r.u32().unwrap_or(0),
                }
            })
            .collect();
        Ok(CopyChunkCopy { source_key, chunks })
    }
}

/// SRV_COPYCHUNK_RESPONSE output ([MS-SMB2] 2.2.32.1). On STATUS_INVALID_PARAMETER the
/// fields carry the server's limits instead (3.3.5.15.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyChunkResponse {
    /// ChunksWritten (or the server's maximum chunk count).
    pub chunks_written: u32,
    /// ChunkBytesWritten (or the maximum bytes per chunk).
    pub chunk_bytes_written: u32,
    /// TotalBytesWritten (or the maximum total bytes).
    pub total_bytes_written: u32,
}

impl IoctlData<'_> for CopyChunkResponse {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.chunks_written);
        out.put_u32_le(self.chunk_bytes_written);
        out.put_u32_le(self.total_bytes_written);
    }
    fn decode_data(buf: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(buf);
        Ok(CopyChunkResponse {
            chunks_written: r.u32()?,
            chunk_bytes_written: r.u32()?,
            total_bytes_written: r.u32()?,
        })
    }
}

/// FSCTL_PIPE_TRANSCEIVE payload (input and output): raw named-pipe bytes (e.g. DCE/RPC PDUs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipeTransceive<'a>(pub &'a [u8]);

impl<'a> IoctlData<'a> for PipeTransceive<'a> {
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_slice(self.0);
    }
    fn decode_data(buf: &'a [u8]) -> DecodeResult<Self> {
        Ok(PipeTransceive(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::*;
    use alloc::vec;

    #[test]
    fn request_round_trips_and_is_laid_out_like_windows() {
        let vni = ValidateNegotiateInfoRequest {
            capabilities: 0x7f,
            guid: Guid([0x11; 16]),
            security_mode: 1,
            dialects: vec![0x0202, 0x0210, 0x0300, 0x0302],
        };
        let input = vni.to_bytes();
        let req = IoctlRequest {
            ctl_code: fsctl::VALIDATE_NEGOTIATE_INFO,
            file_id: FileId::RELATED,
            input: &input,
            output: &[],
            max_input_response: 0,
            max_output_response: 24,
            flags: IoctlFlags(IoctlFlags::IS_FSCTL),
        };
        let msg = message(Command::Ioctl, false, &req);
        let back = IoctlRequest::decode(&msg).unwrap();
        assert_eq!(back, req);
        assert_eq!(message(Command::Ioctl, false, &back), msg);
        assert_eq!(
            &msg[64..0x78],
            &hex("3900 0000 04021400 ffffffffffffffff ffffffffffffffff
                  78000000 20000000 00000000 78000000 00000000 18000000
                  01000000 00000000")[..]
        );
        assert_eq!(
            &msg[0x78..],
            &hex("7f000000 11111111111111111111111111111111 0100 0400
                  0202 1002 0003 0203")[..]
        );
        assert_eq!(
            ValidateNegotiateInfoRequest::decode_data(back.input).unwrap(),
            vni
        );
        prefixes_fail::<IoctlRequest<'_>>(&msg);
        for n in 0..input.len() {
            assert!(ValidateNegotiateInfoRequest::decode_data(&input[..n]).is_err());
        }
        let mut bad = msg.clone();
        bad[64 + 24] = 0x70; // InputOffset inside the fixed part
        assert!(IoctlRequest::decode(&bad).is_err());
        let mut bad = msg;
        bad[64 + 28] = 0x21; // InputCount past the end
        assert!(IoctlRequest::decode(&bad).is_err());

        // No input and no output: one Buffer byte.
        let empty = IoctlRequest {
            ctl_code: fsctl::QUERY_NETWORK_INTERFACE_INFO,
            file_id: FileId::RELATED,
            max_output_response: 65536,
            flags: IoctlFlags(IoctlFlags::IS_FSCTL),
            ..Default::default()
        };
        let msg = message(Command::Ioctl, false, &empty);
        assert_eq!(msg.len(), 0x79);
        assert_eq!(IoctlRequest::decode(&msg).unwrap(), empty);
        assert_eq!(&msg[64 + 24..64 + 28], &[0, 0, 0, 0]);

        // Output data in a request goes after the input, 8-aligned.
        let both = IoctlRequest {
            input: &[1, 2, 3],
            output: &[4, 5],
            ..empty
        };
        let msg = message(Command::Ioctl, false, &both);
        assert_eq!(&msg[64 + 36..64 + 40], &[0x80, 0, 0, 0]);
        let back = IoctlRequest::decode(&msg).unwrap();
        assert_eq!(back, both);
        assert_eq!(message(Command::Ioctl, false, &back), msg);
    }

    #[test]
    fn response_borrows_output() {
        let out = ValidateNegotiateInfoResponse {
            capabilities: 0x2f,
            guid: Guid([0x22; 16]),
            security_mode: 1,
            dialect: 0x0311,
        }
        .to_bytes();
        assert_eq!(out.len(), 24);
        let resp = IoctlResponse {
            ctl_code: fsctl::VALIDATE_NEGOTIATE_INFO,
            file_id: FileId::RELATED,
            input: &[],
            output: &out,
            flags: 0,
        };
        let msg = message(Command::Ioctl, true, &resp);
        // Samba's layout: InputOffset = OutputOffset = 0x70, InputCount 0.
        assert_eq!(
            &msg[64 + 24..64 + 40],
            &hex("70000000 00000000 70000000 18000000")[..]
        );
        let back = IoctlResponse::decode(&msg).unwrap();
        assert_eq!(back, resp);
        assert_eq!(back.output.as_ptr(), msg[0x70..].as_ptr());
        assert_eq!(message(Command::Ioctl, true, &back), msg);
        let v = ValidateNegotiateInfoResponse::decode_data(back.output).unwrap();
        assert_eq!(v.dialect, 0x0311);
        prefixes_fail::<IoctlResponse<'_>>(&msg);
        for n in 0..out.len() {
            assert!(ValidateNegotiateInfoResponse::decode_data(&out[..n]).is_err());
        }
        let mut bad = msg;
        bad[64 + 32] = 0x68;
        assert!(IoctlResponse::decode(&bad).is_err());
    }

    #[test]
    fn network_interfaces_round_trip_and_are_byte_exact() {
        let list = NetworkInterfaceInfoList(vec![
            NetworkInterfaceInfo {
                if_index: 1,
                capability: NetworkInterfaceInfo::RSS_CAPABLE,
                link_speed: 10_000_000_000,
                address: SockAddr::V4 {
                    addr: Ipv4Addr::new(127, 0, 0, 1),
                    port: 0,
                },
            },
            NetworkInterfaceInfo {
                if_index: 2,
                capability: 0,
                link_speed: 1_000_000_000,
                address: SockAddr::V6 {
                    addr: Ipv6Addr::LOCALHOST,
                    port: 0,
                    flow_info: 0,
                    scope_id: 0,
                },
            },
        ]);
        let bytes = list.to_bytes();
        assert_eq!(bytes.len(), 2 * 152);
        assert_eq!(
            &bytes[..32],
            &hex("98000000 01000000 01000000 00000000 00e40b5402000000
                  0200 0000 7f000001")[..]
        );
        assert_eq!(&bytes[152..156], &[0, 0, 0, 0]);
        assert_eq!(&bytes[152 + 24..152 + 26], &[0x17, 0]);
        assert_eq!(bytes[152 + 24 + 23], 1); // ::1, last byte
        assert_eq!(NetworkInterfaceInfoList::decode_data(&bytes).unwrap(), list);
        for n in 1..bytes.len() {
            assert!(
                NetworkInterfaceInfoList::decode_data(&bytes[..n]).is_err(),
                "prefix {n}"
            );
        }
        let mut bad = bytes.clone();
        bad[0] = 0x10; // Next inside the entry
        assert!(NetworkInterfaceInfoList::decode_data(&bad).is_err());
        let mut other = bytes;
        other[24] = 0x99; // unknown family: kept as Other
        let l = NetworkInterfaceInfoList::decode_data(&other).unwrap();
        assert_eq!(l.0[0].address, SockAddr::Other { family: 0x99 });
    }

    #[test]
    fn copychunk_and_resume_key_round_trip() {
        let rk = ResumeKeyResponse {
            resume_key: [3; 24],
            context: vec![],
        };
        let b = rk.to_bytes();
        assert_eq!(b.len(), 28);
        assert_eq!(ResumeKeyResponse::decode_data(&b).unwrap(), rk);
        for n in 0..b.len() {
            assert!(ResumeKeyResponse::decode_data(&b[..n]).is_err());
        }
        let cc = CopyChunkCopy {
            source_key: [3; 24],
            chunks: vec![
                CopyChunk {
                    source_offset: 0,
                    target_offset: 4096,
                    length: 1 << 20,
                },
                CopyChunk {
                    source_offset: 1 << 20,
                    target_offset: 0,
                    length: 7,
                },
            ],
        };
        let b = cc.to_bytes();
        assert_eq!(b.len(), 32 + 48);
        assert_eq!(&b[24..32], &[2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(CopyChunkCopy::decode_data(&b).unwrap(), cc);
        for n in 0..b.len() {
            assert!(CopyChunkCopy::decode_data(&b[..n]).is_err());
        }
        let mut huge = b.clone();
        huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(CopyChunkCopy::decode_data(&huge).is_err());
        let r = CopyChunkResponse {
            chunks_written: 2,
            chunk_bytes_written: 0,
            total_bytes_written: (1 << 20) + 7,
        };
        let b = r.to_bytes();
        assert_eq!(b, hex("02000000 00000000 07001000"));
        assert_eq!(CopyChunkResponse::decode_data(&b).unwrap(), r);
        assert!(CopyChunkResponse::decode_data(&b[..11]).is_err());
        let p = PipeTransceive(&[5, 0, 0x0b, 3]);
        assert_eq!(PipeTransceive::decode_data(&p.to_bytes()).unwrap(), p);
    }
}
