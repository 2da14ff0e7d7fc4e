//! CREATE contexts ([MS-SMB2] 2.2.13.2, 2.2.14.2): the generic chain and typed payloads.
//!
//! A [`CreateContext`] is a name and a data blob, kept as received so that unknown contexts
//! survive a round trip. Typed payloads implement [`TypedContext`]: build a context with
//! `CreateContext::from(typed)` and read one with [`CreateContext::typed`]. A request and its
//! response often share a name with different layouts (DH2Q, DHnQ, MxAc), so the caller picks
//! the type matching the direction.

use super::create::AccessMask;
use super::flag_newtype;
use super::{
    DecodeError, DecodeResult, FileId, Guid, NtStatus, Reader, patch_u16, patch_u32, slice_at,
};
use alloc::vec::Vec;
use bytes::BufMut;

/// SMB2_CREATE_SD_BUFFER.
pub const SECD: &[u8] = b"SecD";
/// SMB2_CREATE_DURABLE_HANDLE_REQUEST / _RESPONSE.
pub const DHNQ: &[u8] = b"DHnQ";
/// SMB2_CREATE_DURABLE_HANDLE_RECONNECT.
pub const DHNC: &[u8] = b"DHnC";
/// SMB2_CREATE_ALLOCATION_SIZE.
pub const ALSI: &[u8] = b"AlSi";
/// SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST / _RESPONSE.
pub const MXAC: &[u8] = b"MxAc";
/// SMB2_CREATE_TIMEWARP_TOKEN.
pub const TWRP: &[u8] = b"TWrp";
/// SMB2_CREATE_QUERY_ON_DISK_ID.
pub const QFID: &[u8] = b"QFid";
/// SMB2_CREATE_REQUEST_LEASE / _V2 and the lease responses.
pub const RQLS: &[u8] = b"RqLs";
/// SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 / _RESPONSE_V2.
pub const DH2Q: &[u8] = b"DH2Q";
/// SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2.
pub const DH2C: &[u8] = b"DH2C";
/// SMB2_CREATE_APP_INSTANCE_ID (a GUID used as the name).
pub const APP_INSTANCE_ID: &[u8] = &[
    0x45, 0xBC, 0xA6, 0x6A, 0xEF, 0xA7, 0xF7, 0x4A, 0x90, 0x08, 0xFA, 0x46, 0x2E, 0x14, 0x4D, 0x74,
];

/// Size of the fixed part of a context ([MS-SMB2] 2.2.13.2).
const CTX_FIXED: usize = 16;

/// One create context: a name and its data, as on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CreateContext {
    /// The name (usually 4 ASCII bytes, sometimes a 16-byte GUID).
    pub name: Vec<u8>,
    /// The data blob (may be empty).
    pub data: Vec<u8>,
}

impl CreateContext {
    /// A context from its name and data.
    pub fn new(name: &[u8], data: Vec<u8>) -> Self {
        CreateContext {
            name: name.to_vec(),
            data,
        }
    }

    /// Parse as `T` if the name matches `T::NAME`; `None` when it does not.
    pub fn typed<T: TypedContext>(&self) -> Option<DecodeResult<T>> {
        (self.name == T::NAME).then(|| T::parse(&self.data))
    }
}

/// A typed create context payload.
pub trait TypedContext: Sized {
    /// The context name.
    const NAME: &'static [u8];
    /// Append the data blob.
    fn encode_data(&self, out: &mut Vec<u8>);
    /// Parse the data blob.
    fn parse(data: &[u8]) -> DecodeResult<Self>;
}

impl<T: TypedContext> From<T> for CreateContext {
    fn from(t: T) -> CreateContext {
        let mut data = Vec::new();
        t.encode_data(&mut data);
        CreateContext::new(T::NAME, data)
    }
}

/// Find the first context of type `T` in `list` and parse it.
pub fn find<T: TypedContext>(list: &[CreateContext]) -> Option<DecodeResult<T>> {
    list.iter().find_map(|c| c.typed::<T>())
}

/// Append the chain ([MS-SMB2] 2.2.13.2): each context 8-byte aligned relative to the first,
/// Next = distance to the following context (0 on the last), name at 16, data 8-aligned.
pub fn encode_chain(list: &[CreateContext], out: &mut Vec<u8>) {
    for (i, c) in list.iter().enumerate() {
        let begin = out.len();
        out.put_u32_le(0); // Next, patched below
        out.put_u16_le(CTX_FIXED as u16); // NameOffset
        out.put_u16_le(c.name.len() as u16);
        out.put_u16_le(0); // Reserved
        out.put_u16_le(0); // DataOffset, patched below
        out.put_u32_le(c.data.len() as u32);
        out.put_slice(&c.name);
        if !c.data.is_empty() {
            while (out.len() - begin) % 8 != 0 {
                out.put_u8(0);
            }
            let data_off = (out.len() - begin) as u16;
            patch_u16(out, begin + 10, data_off);
            out.put_slice(&c.data);
        }
        if i + 1 < list.len() {
            while (out.len() - begin) % 8 != 0 {
                out.put_u8(0);
            }
            let next = (out.len() - begin) as u32;
            patch_u32(out, begin, next);
        }
    }
}

/// Decode a chain (the bytes at CreateContextsOffset, CreateContextsLength long).
pub fn decode_chain(buf: &[u8]) -> DecodeResult<Vec<CreateContext>> {
    let mut list = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let mut r = Reader::at(buf, pos)?;
        let next = r.u32()? as usize;
        let name_off = r.u16()?;
        let name_len = r.u16()?;
        let _reserved = r.u16()?;
        let data_off = r.u16()?;
        let data_len = r.u32()?;
        let end = if next == 0 {
            buf.len()
        } else {
            // Next must move past this header and leave room for a following context.
            if next < CTX_FIXED || next % 8 != 0 || next >= buf.len() - pos {
                return Err(DecodeError::BadOffset {
                    field: "CreateContext.Next",
                });
            }
            pos + next
        };
        let ctx = &buf[pos..end];
        let name = slice_at(
            ctx,
            name_off.into(),
            name_len.into(),
            CTX_FIXED,
            "CreateContext.NameOffset",
        )?;
        if name.is_empty() {
            return Err(DecodeError::BadField {
                field: "CreateContext.NameLength",
                value: 0,
            });
        }
        let data = slice_at(
            ctx,
            data_off.into(),
            data_len as usize,
            CTX_FIXED,
            "CreateContext.DataOffset",
        )?;
        list.push(CreateContext::new(name, data.to_vec()));
        if next == 0 {
            break;
        }
        pos = end;
    }
    Ok(list)
}

fn need(data: &[u8], len: usize, field: &'static str) -> DecodeResult<()> {
    if data.len() < len {
        return Err(DecodeError::BadField {
            field,
            value: data.len() as u64,
        });
    }
    Ok(())
}

/// SMB2_CREATE_SD_BUFFER ([MS-SMB2] 2.2.13.2.2): a self-relative security descriptor, raw.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SecurityDescriptorContext {
    /// SECURITY_DESCRIPTOR bytes ([MS-DTYP] 2.4.6), not interpreted here.
    pub sd: Vec<u8>,
}

impl TypedContext for SecurityDescriptorContext {
    const NAME: &'static [u8] = SECD;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_slice(&self.sd);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        Ok(SecurityDescriptorContext { sd: data.to_vec() })
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_REQUEST ([MS-SMB2] 2.2.13.2.3): 16 reserved bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DurableHandleRequest;

impl TypedContext for DurableHandleRequest {
    const NAME: &'static [u8] = DHNQ;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_bytes(0, 16);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        need(data, 16, "DurableHandleRequest")?;
        Ok(DurableHandleRequest)
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_RESPONSE ([MS-SMB2] 2.2.14.2.3): 8 reserved bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DurableHandleResponse;

impl TypedContext for DurableHandleResponse {
    const NAME: &'static [u8] = DHNQ;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_bytes(0, 8);
    }
    fn parse(_data: &[u8]) -> DecodeResult<Self> {
        // The presence of the context is the answer; the reserved bytes are ignored.
        Ok(DurableHandleResponse)
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_RECONNECT ([MS-SMB2] 2.2.13.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DurableHandleReconnect {
    /// The FileId of the open being reestablished.
    pub file_id: FileId,
}

impl TypedContext for DurableHandleReconnect {
    const NAME: &'static [u8] = DHNC;
    fn encode_data(&self, out: &mut Vec<u8>) {
        self.file_id.write(out);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        Ok(DurableHandleReconnect {
            file_id: FileId::read(&mut r)?,
        })
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 ([MS-SMB2] 2.2.13.2.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DurableHandleRequestV2 {
    /// Timeout in milliseconds (0 = server default).
    pub timeout: u32,
    /// Flags ([`DurableHandleRequestV2::FLAG_PERSISTENT`]).
    pub flags: u32,
    /// The CreateGuid that identifies this create for replay and reconnect.
    pub create_guid: Guid,
}

impl DurableHandleRequestV2 {
    /// SMB2_DHANDLE_FLAG_PERSISTENT.
    pub const FLAG_PERSISTENT: u32 = 0x0000_0002;
}

impl TypedContext for DurableHandleRequestV2 {
    const NAME: &'static [u8] = DH2Q;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.timeout);
        out.put_u32_le(self.flags);
        out.put_u64_le(0); // Reserved
        out.put_slice(&self.create_guid.0);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        let timeout = r.u32()?;
        let flags = r.u32()?;
        r.skip(8)?;
        Ok(DurableHandleRequestV2 {
            timeout,
            flags,
            create_guid: r.guid()?,
        })
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2 ([MS-SMB2] 2.2.14.2.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DurableHandleResponseV2 {
    /// Timeout the server granted, in milliseconds.
    pub timeout: u32,
    /// Flags (SMB2_DHANDLE_FLAG_PERSISTENT).
    pub flags: u32,
}

impl TypedContext for DurableHandleResponseV2 {
    const NAME: &'static [u8] = DH2Q;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.timeout);
        out.put_u32_le(self.flags);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        Ok(DurableHandleResponseV2 {
            timeout: r.u32()?,
            flags: r.u32()?,
        })
    }
}

/// SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2 ([MS-SMB2] 2.2.13.2.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DurableHandleReconnectV2 {
    /// The FileId of the open being reestablished.
    pub file_id: FileId,
    /// The CreateGuid of the original create.
    pub create_guid: Guid,
    /// Flags (SMB2_DHANDLE_FLAG_PERSISTENT).
    pub flags: u32,
}

impl TypedContext for DurableHandleReconnectV2 {
    const NAME: &'static [u8] = DH2C;
    fn encode_data(&self, out: &mut Vec<u8>) {
        self.file_id.write(out);
        out.put_slice(&self.create_guid.0);
        out.put_u32_le(self.flags);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        Ok(DurableHandleReconnectV2 {
            file_id: FileId::read(&mut r)?,
            create_guid: r.guid()?,
            flags: r.u32()?,
        })
    }
}

/// SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST ([MS-SMB2] 2.2.13.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MaximalAccessRequest {
    /// Optional timestamp (FILETIME); absent means an empty data blob.
    pub timestamp: Option<u64>,
}

impl TypedContext for MaximalAccessRequest {
    const NAME: &'static [u8] = MXAC;
    fn encode_data(&self, out: &mut Vec<u8>) {
        if let Some(t) = self.timestamp {
            out.put_u64_le(t);
        }
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        if data.is_empty() {
            return Ok(MaximalAccessRequest { timestamp: None });
        }
        Ok(MaximalAccessRequest {
            timestamp: Some(Reader::new(data).u64()?),
        })
    }
}

/// SMB2_CREATE_QUERY_MAXIMAL_ACCESS_RESPONSE ([MS-SMB2] 2.2.14.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MaximalAccessResponse {
    /// Whether the query succeeded.
    pub query_status: NtStatus,
    /// The maximal access the user has (valid when `query_status` is success).
    pub maximal_access: AccessMask,
}

impl TypedContext for MaximalAccessResponse {
    const NAME: &'static [u8] = MXAC;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.query_status.0);
        out.put_u32_le(self.maximal_access.0);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        Ok(MaximalAccessResponse {
            query_status: NtStatus(r.u32()?),
            maximal_access: AccessMask(r.u32()?),
        })
    }
}

/// SMB2_CREATE_ALLOCATION_SIZE ([MS-SMB2] 2.2.13.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AllocationSize {
    /// Allocation size of a newly created or overwritten file.
    pub size: u64,
}

impl TypedContext for AllocationSize {
    const NAME: &'static [u8] = ALSI;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u64_le(self.size);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        Ok(AllocationSize {
            size: Reader::new(data).u64()?,
        })
    }
}

/// SMB2_CREATE_TIMEWARP_TOKEN ([MS-SMB2] 2.2.13.2.7): open a previous version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimewarpToken {
    /// The snapshot time (FILETIME).
    pub timestamp: u64,
}

impl TypedContext for TimewarpToken {
    const NAME: &'static [u8] = TWRP;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u64_le(self.timestamp);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        Ok(TimewarpToken {
            timestamp: Reader::new(data).u64()?,
        })
    }
}

/// SMB2_CREATE_QUERY_ON_DISK_ID request ([MS-SMB2] 2.2.13.2.9): no data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QueryOnDiskIdRequest;

impl TypedContext for QueryOnDiskIdRequest {
    const NAME: &'static [u8] = QFID;
    fn encode_data(&self, _out: &mut Vec<u8>) {}
    fn parse(_data: &[u8]) -> DecodeResult<Self> {
        Ok(QueryOnDiskIdRequest)
    }
}

/// SMB2_CREATE_QUERY_ON_DISK_ID response ([MS-SMB2] 2.2.14.2.9): 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QueryOnDiskId {
    /// DiskFileId (the file's id on the volume; Samba sends the inode number).
    pub disk_file_id: u64,
    /// VolumeId.
    pub volume_id: u64,
}

impl TypedContext for QueryOnDiskId {
    const NAME: &'static [u8] = QFID;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u64_le(self.disk_file_id);
        out.put_u64_le(self.volume_id);
        out.put_bytes(0, 16); // Reserved
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        Ok(QueryOnDiskId {
            disk_file_id: r.u64()?,
            volume_id: r.u64()?,
        })
    }
}

/// Lease state bits ([MS-SMB2] 2.2.13.2.8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LeaseState(pub u32);
flag_newtype!(LeaseState, u32);

impl LeaseState {
    /// SMB2_LEASE_NONE.
    pub const NONE: u32 = 0;
    /// SMB2_LEASE_READ_CACHING.
    pub const READ_CACHING: u32 = 0x1;
    /// SMB2_LEASE_HANDLE_CACHING.
    pub const HANDLE_CACHING: u32 = 0x2;
    /// SMB2_LEASE_WRITE_CACHING.
    pub const WRITE_CACHING: u32 = 0x4;
}

/// Lease flags in the lease contexts ([MS-SMB2] 2.2.13.2.10, 2.2.14.2.10/11).
pub struct LeaseFlags;

impl LeaseFlags {
    /// SMB2_LEASE_FLAG_BREAK_IN_PROGRESS (responses).
    pub const BREAK_IN_PROGRESS: u32 = 0x2;
    /// SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET (v2).
    pub const PARENT_LEASE_KEY_SET: u32 = 0x4;
}

/// A lease context, v1 ([MS-SMB2] 2.2.13.2.8 / 2.2.14.2.10, 32 bytes) or v2 (2.2.13.2.10 /
/// 2.2.14.2.11, 52 bytes). Request and response share the layout; parse picks the version by
/// the data length. LeaseDuration is always written as 0 and ignored on receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// SMB2_CREATE_REQUEST_LEASE / SMB2_CREATE_RESPONSE_LEASE (SMB 2.1).
    V1 {
        /// LeaseKey.
        key: Guid,
        /// LeaseState requested or granted.
        state: LeaseState,
        /// LeaseFlags.
        flags: u32,
    },
    /// SMB2_CREATE_REQUEST_LEASE_V2 / SMB2_CREATE_RESPONSE_LEASE_V2 (SMB 3.x).
    V2 {
        /// LeaseKey.
        key: Guid,
        /// LeaseState requested or granted.
        state: LeaseState,
        /// Flags ([`LeaseFlags`]).
        flags: u32,
        /// ParentLeaseKey (valid with PARENT_LEASE_KEY_SET).
        parent_key: Guid,
        /// Epoch.
        epoch: u16,
    },
}

impl Lease {
    /// The lease key.
    pub fn key(&self) -> Guid {
        match self {
            Lease::V1 { key, .. } | Lease::V2 { key, .. } => *key,
        }
    }
    /// The lease state.
    pub fn state(&self) -> LeaseState {
        match self {
            Lease::V1 { state, .. } | Lease::V2 { state, .. } => *state,
        }
    }
}

impl TypedContext for Lease {
    const NAME: &'static [u8] = RQLS;
    fn encode_data(&self, out: &mut Vec<u8>) {
        match self {
            Lease::V1 { key, state, flags } => {
                out.put_slice(&key.0);
                out.put_u32_le(state.0);
                out.put_u32_le(*flags);
                out.put_u64_le(0); // LeaseDuration
            }
            Lease::V2 {
                key,
                state,
                flags,
                parent_key,
                epoch,
            } => {
                out.put_slice(&key.0);
                out.put_u32_le(state.0);
                out.put_u32_le(*flags);
                out.put_u64_le(0); // LeaseDuration
                out.put_slice(&parent_key.0);
                out.put_u16_le(*epoch);
                out.put_u16_le(0); // Reserved
            }
        }
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        let key = r.guid()?;
        let state = LeaseState(r.u32()?);
        let flags = r.u32()?;
        let _duration = r.u64()?;
        if data.len() < 52 {
            return Ok(Lease::V1 { key, state, flags });
        }
        let parent_key = r.guid()?;
        let epoch = r.u16()?;
        Ok(Lease::V2 {
            key,
            state,
            flags,
            parent_key,
            epoch,
        })
    }
}

/// SMB2_CREATE_APP_INSTANCE_ID ([MS-SMB2] 2.2.13.2.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AppInstanceId {
    /// The application instance id.
    pub id: Guid,
}

impl TypedContext for AppInstanceId {
    const NAME: &'static [u8] = APP_INSTANCE_ID;
    fn encode_data(&self, out: &mut Vec<u8>) {
        out.put_u16_le(20); // StructureSize
        out.put_u16_le(0); // Reserved
        out.put_slice(&self.id.0);
    }
    fn parse(data: &[u8]) -> DecodeResult<Self> {
        let mut r = Reader::new(data);
        r.expect_u16("AppInstanceId.StructureSize", 20)?;
        r.skip(2)?;
        Ok(AppInstanceId { id: r.guid()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_util::hex;
    use alloc::vec;

    fn chain(list: &[CreateContext]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_chain(list, &mut out);
        out
    }

    #[test]
    fn chain_layout_is_byte_exact() {
        // Two contexts: MxAc with no data, then DHnQ with 16 zero bytes. Windows/Samba layout:
        // Next = 24 (16 + 4-byte name padded to 8), name at 16, data at 24.
        let list = vec![
            CreateContext::from(MaximalAccessRequest { timestamp: None }),
            CreateContext::from(DurableHandleRequest),
        ];
        let bytes = chain(&list);
        let expected = hex("18000000 1000 0400 0000 0000 00000000 4d784163 00000000
             00000000 1000 0400 0000 1800 10000000 44486e51 00000000
             00000000000000000000000000000000");
        assert_eq!(bytes, expected);
        assert_eq!(decode_chain(&bytes).unwrap(), list);
    }

    #[test]
    fn typed_contexts_round_trip() {
        let g = Guid([0xAB; 16]);
        let fid = FileId {
            persistent: 1,
            volatile: 2,
        };
        let list: Vec<CreateContext> = vec![
            SecurityDescriptorContext {
                sd: vec![1, 0, 4, 0x80, 9],
            }
            .into(),
            DurableHandleRequest.into(),
            DurableHandleResponse.into(),
            DurableHandleReconnect { file_id: fid }.into(),
            DurableHandleRequestV2 {
                timeout: 60000,
                flags: DurableHandleRequestV2::FLAG_PERSISTENT,
                create_guid: g,
            }
            .into(),
            DurableHandleResponseV2 {
                timeout: 60000,
                flags: 0,
            }
            .into(),
            DurableHandleReconnectV2 {
                file_id: fid,
                create_guid: g,
                flags: 0,
            }
            .into(),
            MaximalAccessRequest { timestamp: Some(5) }.into(),
            MaximalAccessResponse {
                query_status: NtStatus::SUCCESS,
                maximal_access: AccessMask(0x1f01ff),
            }
            .into(),
            AllocationSize { size: 1 << 20 }.into(),
            TimewarpToken { timestamp: 99 }.into(),
            QueryOnDiskIdRequest.into(),
            QueryOnDiskId {
                disk_file_id: 77,
                volume_id: 88,
            }
            .into(),
            Lease::V1 {
                key: g,
                state: LeaseState(7),
                flags: 0,
            }
            .into(),
            Lease::V2 {
                key: g,
                state: LeaseState(3),
                flags: LeaseFlags::PARENT_LEASE_KEY_SET,
                parent_key: Guid([2; 16]),
                epoch: 4,
            }
            .into(),
            AppInstanceId { id: g }.into(),
            CreateContext::new(b"ZZZZ", vec![1, 2, 3]),
        ];
        let bytes = chain(&list);
        let back = decode_chain(&bytes).unwrap();
        assert_eq!(back, list);
        assert_eq!(
            back[0]
                .typed::<SecurityDescriptorContext>()
                .unwrap()
                .unwrap()
                .sd,
            vec![1, 0, 4, 0x80, 9]
        );
        assert_eq!(
            back[3]
                .typed::<DurableHandleReconnect>()
                .unwrap()
                .unwrap()
                .file_id,
            fid
        );
        let v2 = back[4].typed::<DurableHandleRequestV2>().unwrap().unwrap();
        assert_eq!((v2.timeout, v2.create_guid), (60000, g));
        assert_eq!(back[4].data.len(), 32);
        assert_eq!(
            back[5]
                .typed::<DurableHandleResponseV2>()
                .unwrap()
                .unwrap()
                .timeout,
            60000
        );
        assert_eq!(back[6].data.len(), 36);
        assert_eq!(
            back[6]
                .typed::<DurableHandleReconnectV2>()
                .unwrap()
                .unwrap()
                .create_guid,
            g
        );
        assert_eq!(
            back[7]
                .typed::<MaximalAccessRequest>()
                .unwrap()
                .unwrap()
                .timestamp,
            Some(5)
        );
        assert_eq!(
            back[8]
                .typed::<MaximalAccessResponse>()
                .unwrap()
                .unwrap()
                .maximal_access
                .0,
            0x1f01ff
        );
        assert_eq!(
            back[9].typed::<AllocationSize>().unwrap().unwrap().size,
            1 << 20
        );
        assert_eq!(
            back[10]
                .typed::<TimewarpToken>()
                .unwrap()
                .unwrap()
                .timestamp,
            99
        );
        assert_eq!(
            back[12]
                .typed::<QueryOnDiskId>()
                .unwrap()
                .unwrap()
                .volume_id,
            88
        );
        assert_eq!(back[13].data.len(), 32);
        assert_eq!(
            back[13].typed::<Lease>().unwrap().unwrap(),
            Lease::V1 {
                key: g,
                state: LeaseState(7),
                flags: 0
            }
        );
        assert_eq!(back[14].data.len(), 52);
        assert!(matches!(
            back[14].typed::<Lease>().unwrap().unwrap(),
            Lease::V2 { epoch: 4, .. }
        ));
        assert_eq!(back[15].typed::<AppInstanceId>().unwrap().unwrap().id, g);
        assert!(back[16].typed::<Lease>().is_none());
        assert_eq!(find::<Lease>(&back).unwrap().unwrap().key(), g);
        // Every element is 8-aligned.
        let mut pos = 0;
        loop {
            assert_eq!(pos % 8, 0);
            let next = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            if next == 0 {
                break;
            }
            pos += next;
        }
    }

    #[test]
    fn bad_chains_are_rejected_without_panic() {
        let list = vec![
            CreateContext::from(Lease::V1 {
                key: Guid::ZERO,
                state: LeaseState(1),
                flags: 0,
            }),
            CreateContext::from(MaximalAccessRequest { timestamp: Some(1) }),
        ];
        let bytes = chain(&list);
        for n in 1..bytes.len() {
            // Some prefixes are themselves valid shorter chains only if they cut exactly at
            // the end of the last context, which cannot happen here (the last has data).
            assert!(decode_chain(&bytes[..n]).is_err(), "prefix {n}");
        }
        let mut bad = bytes.clone();
        bad[0] = 0x08; // Next smaller than a context header
        assert!(decode_chain(&bad).is_err());
        let mut bad = bytes.clone();
        bad[0] = 0x41; // Next not aligned
        assert!(decode_chain(&bad).is_err());
        let mut bad = bytes.clone();
        bad[4] = 4; // NameOffset inside the fixed part
        assert!(decode_chain(&bad).is_err());
        let mut bad = bytes.clone();
        bad[12] = 0xFF; // DataLength beyond the context
        assert!(decode_chain(&bad).is_err());
        let mut bad = bytes;
        bad[6] = 0; // empty name
        assert!(decode_chain(&bad).is_err());
        // Truncated typed payloads are errors.
        assert!(DurableHandleRequestV2::parse(&[0; 31]).is_err());
        assert!(Lease::parse(&[0; 31]).is_err());
        assert!(DurableHandleRequest::parse(&[0; 15]).is_err());
        assert!(AppInstanceId::parse(&[20, 0, 0, 0]).is_err());
    }
}
