//! DCE/RPC connection-oriented PDUs, as carried over a named pipe (ncacn_np): BIND,
//! BIND_ACK, BIND_NAK, REQUEST, RESPONSE and FAULT (\[C706\] chapter 12.6, [MS-RPCE] 2.2.2),
//! with request fragmentation and the reassembly of multi-fragment responses (\[C706\] 12.6.3.7
//! and 12.6.4.9/10: PFC_FIRST_FRAG on the first fragment, PFC_LAST_FRAG on the last).
//!
//! Only what an unauthenticated NDR20 client needs: little-endian data representation, one
//! presentation context, no authentication verifier. Every length read from the wire is
//! checked against the bytes present before anything is allocated; decoding never panics.

use super::{DecodeError, DecodeResult, Guid, Reader};
use alloc::vec::Vec;
use bytes::BufMut;
use core::fmt;

/// rpc_vers and rpc_vers_minor of connection-oriented PDUs (\[C706\] 12.6.3.1).
pub const RPC_VERSION: (u8, u8) = (5, 0);
/// The common header: version, PTYPE, flags, data representation, frag_length,
/// auth_length, call_id (\[C706\] 12.6.3.1).
pub const COMMON_HEADER_LEN: usize = 16;
/// REQUEST and RESPONSE headers: the common header, alloc_hint, p_cont_id and opnum (or
/// cancel_count + reserved) (\[C706\] 12.6.4.9, 12.6.4.10).
pub const REQUEST_HEADER_LEN: usize = 24;
/// The fragment size this client offers and accepts (max_xmit_frag / max_recv_frag of BIND,
/// \[C706\] 12.6.4.3; the value Windows and Samba use over named pipes).
pub const DEFAULT_MAX_FRAG: u16 = 4280;
/// The smallest fragment size a peer may negotiate (\[C706\] 12.6.3.6: MustRecvFragSize).
pub const MIN_FRAG: u16 = 1432;
/// packed_drep: little-endian integers, ASCII characters, IEEE floats (\[C706\] 14.1).
pub const DREP_LE: [u8; 4] = [0x10, 0, 0, 0];

/// PTYPE values (\[C706\] 12.6.3.1, table 12-1).
pub mod ptype {
    /// REQUEST.
    pub const REQUEST: u8 = 0;
    /// RESPONSE.
    pub const RESPONSE: u8 = 2;
    /// FAULT.
    pub const FAULT: u8 = 3;
    /// BIND.
    pub const BIND: u8 = 11;
    /// BIND_ACK.
    pub const BIND_ACK: u8 = 12;
    /// BIND_NAK.
    pub const BIND_NAK: u8 = 13;
}

/// pfc_flags bits (\[C706\] 12.6.3.1).
pub mod pfc {
    /// PFC_FIRST_FRAG: the first fragment of a call.
    pub const FIRST_FRAG: u8 = 0x01;
    /// PFC_LAST_FRAG: the last fragment of a call.
    pub const LAST_FRAG: u8 = 0x02;
    /// PFC_OBJECT_UUID: a REQUEST carries an object UUID after its opnum.
    pub const OBJECT_UUID: u8 = 0x80;
}

/// An interface or transfer syntax: UUID and version (\[C706\] 12.6.3.1 p_syntax_id_t; the
/// 32-bit version is the major version in the low 16 bits, the minor in the high ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntaxId {
    /// The UUID in wire order.
    pub uuid: Guid,
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl SyntaxId {
    /// The NDR version 2.0 transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860
    /// (\[C706\] appendix I, [MS-RPCE] 2.2.4.12).
    pub const NDR20: SyntaxId = SyntaxId {
        uuid: Guid([
            0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10,
            0x48, 0x60,
        ]),
        major: 2,
        minor: 0,
    };

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.uuid.0);
        out.put_u16_le(self.major);
        out.put_u16_le(self.minor);
    }

    fn read(r: &mut Reader<'_>) -> DecodeResult<SyntaxId> {
        Ok(SyntaxId {
            uuid: r.guid()?,
            major: r.u16()?,
            minor: r.u16()?,
        })
    }
}

/// What is wrong with an RPC exchange: a PDU that does not decode or does not fit the call,
/// or the server's refusal. Carried by [`ErrorKind::Rpc`](crate::client::ErrorKind::Rpc).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpcError {
    /// A PDU could not be decoded.
    Malformed(DecodeError),
    /// A PDU of an unexpected type (e.g. a REQUEST where a RESPONSE was due).
    UnexpectedPdu(u8),
    /// A response for another call (call_id), or fragments out of order.
    Sequence(&'static str),
    /// BIND_NAK: the server refused the association (\[C706\] 12.6.4.5,
    /// provider_reject_reason).
    BindRefused(u16),
    /// BIND_ACK refused the presentation context (\[C706\] 12.6.3.1 p_cont_def_result_t:
    /// 1 user rejection, 2 provider rejection; the reason, e.g. 2 abstract syntax not
    /// supported).
    ContextRejected {
        /// The result.
        result: u16,
        /// The reason.
        reason: u16,
    },
    /// FAULT: the call failed on the server with this status (\[C706\] 12.6.4.7, appendix E;
    /// [MS-RPCE] 2.2.2.11, e.g. 0x1C010002 nca_s_op_rng_error).
    Fault(u32),
    /// The response would be larger than the client accepts.
    TooLarge,
    /// The call returned an error code of the interface (e.g. a Win32 error of NetrShareEnum).
    Status(u32),
}

impl From<DecodeError> for RpcError {
    fn from(e: DecodeError) -> RpcError {
        RpcError::Malformed(e)
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Malformed(e) => write!(f, "malformed RPC PDU: {e}"),
            RpcError::UnexpectedPdu(t) => write!(f, "unexpected RPC PDU type {t}"),
            RpcError::Sequence(why) => write!(f, "RPC response out of sequence: {why}"),
            RpcError::BindRefused(r) => write!(f, "the server refused the RPC bind (reason {r})"),
            RpcError::ContextRejected { result, reason } => write!(
                f,
                "the server rejected the RPC interface (result {result}, reason {reason})"
            ),
            RpcError::Fault(s) => write!(f, "RPC fault {s:#010x}"),
            RpcError::TooLarge => f.write_str("RPC response too large"),
            RpcError::Status(s) => write!(f, "the RPC call returned error {s}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RpcError {}

/// The common header of every connection-oriented PDU (\[C706\] 12.6.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PduHeader {
    /// PTYPE (see [`ptype`]).
    pub ptype: u8,
    /// pfc_flags (see [`pfc`]).
    pub flags: u8,
    /// frag_length: the whole PDU, header included.
    pub frag_len: u16,
    /// auth_length.
    pub auth_len: u16,
    /// call_id.
    pub call_id: u32,
}

impl PduHeader {
    /// Decode the first 16 bytes of `buf`. Only version 5.0 and little-endian integers with
    /// ASCII characters are accepted; frag_length must cover at least the header.
    pub fn decode(buf: &[u8]) -> DecodeResult<PduHeader> {
        let mut r = Reader::new(buf);
        let (major, minor) = (r.u8()?, r.u8()?);
        if (major, minor) != RPC_VERSION {
            return Err(DecodeError::BadField {
                field: "rpc_vers",
                value: u64::from(major) << 8 | u64::from(minor),
            });
        }
        let ptype = r.u8()?;
        let flags = r.u8()?;
        let drep = r.array::<4>()?;
        // Integer representation in the high nibble of byte 0, character set in the low one.
        if drep[0] != DREP_LE[0] {
            return Err(DecodeError::BadField {
                field: "packed_drep",
                value: drep[0].into(),
            });
        }
        let frag_len = r.u16()?;
        let auth_len = r.u16()?;
        let call_id = r.u32()?;
        if usize::from(frag_len) < COMMON_HEADER_LEN {
            return Err(DecodeError::BadField {
                field: "frag_length",
                value: frag_len.into(),
            });
        }
        Ok(PduHeader {
            ptype,
            flags,
            frag_len,
            auth_len,
            call_id,
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(RPC_VERSION.0);
        out.push(RPC_VERSION.1);
        out.push(self.ptype);
        out.push(self.flags);
        out.extend_from_slice(&DREP_LE);
        out.put_u16_le(self.frag_len);
        out.put_u16_le(self.auth_len);
        out.put_u32_le(self.call_id);
    }

    /// Whether PFC_FIRST_FRAG is set.
    pub fn first(&self) -> bool {
        self.flags & pfc::FIRST_FRAG != 0
    }

    /// Whether PFC_LAST_FRAG is set.
    pub fn last(&self) -> bool {
        self.flags & pfc::LAST_FRAG != 0
    }
}

/// How many bytes the PDU at the start of `buf` takes: `Ok(None)` when fewer than 16 bytes
/// (the header) are there, else its frag_length (which may be more than `buf` holds). Lets a
/// reader of a byte stream ask for exactly the rest of a PDU.
pub fn pdu_len(buf: &[u8]) -> DecodeResult<Option<usize>> {
    if buf.len() < COMMON_HEADER_LEN {
        return Ok(None);
    }
    PduHeader::decode(buf).map(|h| Some(usize::from(h.frag_len)))
}

/// BIND with one presentation context of one transfer syntax (\[C706\] 12.6.4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// call_id.
    pub call_id: u32,
    /// max_xmit_frag: the largest fragment the client sends.
    pub max_xmit: u16,
    /// max_recv_frag: the largest fragment the client receives.
    pub max_recv: u16,
    /// assoc_group_id (0: a new group).
    pub assoc_group: u32,
    /// p_cont_id of the context.
    pub context_id: u16,
    /// The interface.
    pub abstract_syntax: SyntaxId,
    /// The transfer syntax (NDR20).
    pub transfer_syntax: SyntaxId,
}

impl Bind {
    /// Call `call_id` binding `interface` (context 0) with NDR20, a new association group and
    /// [`DEFAULT_MAX_FRAG`] both ways.
    pub fn new(call_id: u32, interface: SyntaxId) -> Bind {
        Bind {
            call_id,
            max_xmit: DEFAULT_MAX_FRAG,
            max_recv: DEFAULT_MAX_FRAG,
            assoc_group: 0,
            context_id: 0,
            abstract_syntax: interface,
            transfer_syntax: SyntaxId::NDR20,
        }
    }

    /// The whole PDU.
    pub fn encode(&self) -> Vec<u8> {
        // Header, max_xmit/max_recv, assoc_group, p_context_elem_t with one element:
        // n_context_elem, reserved, reserved2, then p_cont_id, n_transfer_syn, reserved,
        // abstract_syntax, transfer_syntaxes[1].
        let len = COMMON_HEADER_LEN + 8 + 4 + 4 + 20 + 20;
        let mut out = Vec::with_capacity(len);
        PduHeader {
            ptype: ptype::BIND,
            flags: pfc::FIRST_FRAG | pfc::LAST_FRAG,
            frag_len: len as u16,
            auth_len: 0,
            call_id: self.call_id,
        }
        .write(&mut out);
        out.put_u16_le(self.max_xmit);
        out.put_u16_le(self.max_recv);
        out.put_u32_le(self.assoc_group);
        out.put_u8(1);
        out.put_u8(0);
        out.put_u16_le(0);
        out.put_u16_le(self.context_id);
        out.put_u8(1);
        out.put_u8(0);
        self.abstract_syntax.write(&mut out);
        self.transfer_syntax.write(&mut out);
        out
    }
}

/// One p_result_t of a BIND_ACK (\[C706\] 12.6.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextResult {
    /// 0 acceptance, 1 user rejection, 2 provider rejection (3 negotiate_ack, [MS-RPCE]
    /// 2.2.2.4).
    pub result: u16,
    /// provider_reason.
    pub reason: u16,
    /// The transfer syntax accepted.
    pub transfer_syntax: SyntaxId,
}

/// BIND_ACK (\[C706\] 12.6.4.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindAck {
    /// The common header.
    pub header: PduHeader,
    /// max_xmit_frag: the largest fragment the server sends.
    pub max_xmit: u16,
    /// max_recv_frag: the largest fragment the server receives.
    pub max_recv: u16,
    /// assoc_group_id.
    pub assoc_group: u32,
    /// sec_addr's port_spec without its terminating NUL (e.g. `\pipe\srvsvc`).
    pub secondary_addr: Vec<u8>,
    /// p_result_list.
    pub results: Vec<ContextResult>,
}

impl BindAck {
    /// The whole PDU (what a server sends; frag_length is computed, auth_length is 0).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        PduHeader {
            frag_len: 0,
            auth_len: 0,
            ..self.header
        }
        .write(&mut out);
        out.put_u16_le(self.max_xmit);
        out.put_u16_le(self.max_recv);
        out.put_u32_le(self.assoc_group);
        // port_any_t: the length counts the terminating NUL of a non-empty address.
        if self.secondary_addr.is_empty() {
            out.put_u16_le(0);
        } else {
            out.put_u16_le(self.secondary_addr.len() as u16 + 1);
            out.extend_from_slice(&self.secondary_addr);
            out.push(0);
        }
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.put_u8(self.results.len() as u8);
        out.extend_from_slice(&[0; 3]);
        for r in &self.results {
            out.put_u16_le(r.result);
            out.put_u16_le(r.reason);
            r.transfer_syntax.write(&mut out);
        }
        let len = out.len() as u16;
        out[8..10].copy_from_slice(&len.to_le_bytes());
        out
    }
}

/// The server's answer to a BIND.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindReply {
    /// Accepted (look at [`BindAck::results`] for the context).
    Ack(BindAck),
    /// BIND_NAK with its provider_reject_reason (\[C706\] 12.6.4.5).
    Nak(u16),
}

/// The body of one PDU (`buf` holds exactly one PDU, see [`pdu_len`]).
fn pdu_body(buf: &[u8]) -> DecodeResult<(PduHeader, &[u8])> {
    let h = PduHeader::decode(buf)?;
    let len = usize::from(h.frag_len);
    if buf.len() < len {
        return Err(DecodeError::Truncated {
            needed: len,
            available: buf.len(),
        });
    }
    Ok((h, &buf[..len]))
}

impl BindReply {
    /// Decode a BIND_ACK or BIND_NAK (a FAULT is [`RpcError::Fault`]).
    pub fn decode(buf: &[u8]) -> Result<BindReply, RpcError> {
        let (header, pdu) = pdu_body(buf)?;
        let mut r = Reader::at(pdu, COMMON_HEADER_LEN)?;
        match header.ptype {
            ptype::BIND_ACK => {}
            ptype::BIND_NAK => return Ok(BindReply::Nak(r.u16()?)),
            ptype::FAULT => return Err(Fault::decode(buf)?.into()),
            t => return Err(RpcError::UnexpectedPdu(t)),
        }
        let max_xmit = r.u16()?;
        let max_recv = r.u16()?;
        let assoc_group = r.u32()?;
        // port_any_t: length (including the NUL), then the string.
        let addr_len = usize::from(r.u16()?);
        let addr = r.bytes(addr_len)?;
        let secondary_addr = addr.strip_suffix(&[0]).unwrap_or(addr).to_vec();
        // p_result_list_t is 4-byte aligned from the start of the PDU.
        r.skip((4 - r.pos() % 4) % 4)?;
        let n = usize::from(r.u8()?);
        r.skip(3)?;
        // Each p_result_t is 24 bytes: check they are all there before allocating.
        if n * 24 > r.remaining() {
            return Err(DecodeError::Truncated {
                needed: r.pos() + n * 24,
                available: pdu.len(),
            }
            .into());
        }
        let mut results = Vec::with_capacity(n);
        for _ in 0..n {
            results.push(ContextResult {
                result: r.u16()?,
                reason: r.u16()?,
                transfer_syntax: SyntaxId::read(&mut r)?,
            });
        }
        Ok(BindReply::Ack(BindAck {
            header,
            max_xmit,
            max_recv,
            assoc_group,
            secondary_addr,
            results,
        }))
    }
}

/// FAULT (\[C706\] 12.6.4.7): alloc_hint, p_cont_id, cancel_count, reserved, status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The common header.
    pub header: PduHeader,
    /// The fault status (\[C706\] appendix E, [MS-RPCE] 3.1.1.5.5).
    pub status: u32,
}

impl Fault {
    /// Decode a FAULT PDU.
    pub fn decode(buf: &[u8]) -> Result<Fault, RpcError> {
        let (header, pdu) = pdu_body(buf)?;
        if header.ptype != ptype::FAULT {
            return Err(RpcError::UnexpectedPdu(header.ptype));
        }
        let mut r = Reader::at(pdu, REQUEST_HEADER_LEN)?;
        Ok(Fault {
            header,
            status: r.u32()?,
        })
    }
}

impl From<Fault> for RpcError {
    fn from(f: Fault) -> RpcError {
        RpcError::Fault(f.status)
    }
}

/// A call's REQUEST PDUs: `stub` cut into fragments of at most `max_frag` bytes (the
/// server's max_recv_frag), the first with PFC_FIRST_FRAG, the last with PFC_LAST_FRAG, each
/// with the whole stub's length as alloc_hint (\[C706\] 12.6.4.9).
pub fn encode_request(
    call_id: u32,
    context_id: u16,
    opnum: u16,
    stub: &[u8],
    max_frag: u16,
) -> Vec<Vec<u8>> {
    let room = usize::from(max_frag.max(MIN_FRAG)) - REQUEST_HEADER_LEN;
    let mut frags = Vec::new();
    let mut chunks = stub.chunks(room).peekable();
    let mut first = true;
    loop {
        let chunk = chunks.next().unwrap_or(&[]);
        let last = chunks.peek().is_none();
        let mut flags = 0;
        if first {
            flags |= pfc::FIRST_FRAG;
        }
        if last {
            flags |= pfc::LAST_FRAG;
        }
        let head = PduHeader {
            ptype: ptype::REQUEST,
            flags,
            frag_len: 0,
            auth_len: 0,
            call_id,
        };
        frags.push(call_pdu(head, stub.len() as u32, context_id, opnum, chunk));
        first = false;
        if last {
            return frags;
        }
    }
}

/// A REQUEST or RESPONSE fragment: `head` (its frag_length set here), alloc_hint,
/// p_cont_id, then opnum (REQUEST) or cancel_count + reserved (RESPONSE), then `stub`
/// (\[C706\] 12.6.4.9, 12.6.4.10: both headers have this layout).
fn call_pdu(
    mut head: PduHeader,
    alloc_hint: u32,
    context_id: u16,
    word: u16,
    stub: &[u8],
) -> Vec<u8> {
    head.frag_len = (REQUEST_HEADER_LEN + stub.len()) as u16;
    let mut out = Vec::with_capacity(REQUEST_HEADER_LEN + stub.len());
    head.write(&mut out);
    out.put_u32_le(alloc_hint);
    out.put_u16_le(context_id);
    out.put_u16_le(word);
    out.extend_from_slice(stub);
    out
}

/// A RESPONSE fragment of `call_id` on context 0 carrying `stub` (what a server sends;
/// alloc_hint = the fragment's stub length) (\[C706\] 12.6.4.10).
pub fn encode_response(call_id: u32, flags: u8, stub: &[u8]) -> Vec<u8> {
    let head = PduHeader {
        ptype: ptype::RESPONSE,
        flags,
        frag_len: 0,
        auth_len: 0,
        call_id,
    };
    call_pdu(head, stub.len() as u32, 0, 0, stub)
}

/// A FAULT of `call_id` with `status` (\[C706\] 12.6.4.7: alloc_hint, p_cont_id,
/// cancel_count, reserved, status, reserved2).
pub fn encode_fault(call_id: u32, status: u32) -> Vec<u8> {
    let head = PduHeader {
        ptype: ptype::FAULT,
        flags: pfc::FIRST_FRAG | pfc::LAST_FRAG,
        frag_len: 0,
        auth_len: 0,
        call_id,
    };
    let mut body = Vec::with_capacity(8);
    body.put_u32_le(status);
    body.put_u32_le(0);
    call_pdu(head, 0, 0, 0, &body)
}

/// One RESPONSE fragment (\[C706\] 12.6.4.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseFragment<'a> {
    /// The common header.
    pub header: PduHeader,
    /// alloc_hint: the whole stub's length, as the server estimates it (may be 0).
    pub alloc_hint: u32,
    /// p_cont_id.
    pub context_id: u16,
    /// This fragment's part of the stub.
    pub stub: &'a [u8],
}

impl<'a> ResponseFragment<'a> {
    /// Decode a RESPONSE (a FAULT is [`RpcError::Fault`]). Authenticated PDUs
    /// (auth_length non-zero) are refused: this client binds without authentication.
    pub fn decode(buf: &'a [u8]) -> Result<ResponseFragment<'a>, RpcError> {
        let (header, pdu) = pdu_body(buf)?;
        match header.ptype {
            ptype::RESPONSE => {}
            ptype::FAULT => return Err(Fault::decode(buf)?.into()),
            t => return Err(RpcError::UnexpectedPdu(t)),
        }
        if header.auth_len != 0 {
            return Err(DecodeError::BadField {
                field: "auth_length",
                value: header.auth_len.into(),
            }
            .into());
        }
        let mut r = Reader::at(pdu, COMMON_HEADER_LEN)?;
        let alloc_hint = r.u32()?;
        let context_id = r.u16()?;
        r.skip(2)?; // cancel_count, reserved
        Ok(ResponseFragment {
            header,
            alloc_hint,
            context_id,
            stub: &pdu[REQUEST_HEADER_LEN..],
        })
    }
}

/// Reassembles the stub of one call's RESPONSE fragments (\[C706\] 12.6.3.7): checks that every
/// fragment belongs to the call, that only the first has PFC_FIRST_FRAG, and that the stub
/// stays within `max_len` bytes.
#[derive(Clone, Debug)]
pub struct Reassembly {
    call_id: u32,
    max_len: usize,
    stub: Vec<u8>,
    started: bool,
    done: bool,
}

impl Reassembly {
    /// Collect the response of `call_id`, at most `max_len` stub bytes.
    pub fn new(call_id: u32, max_len: usize) -> Self {
        Reassembly {
            call_id,
            max_len,
            stub: Vec::new(),
            started: false,
            done: false,
        }
    }

    /// Add one PDU (exactly one, see [`pdu_len`]). Returns true once the last fragment is in.
    pub fn push(&mut self, pdu: &[u8]) -> Result<bool, RpcError> {
        if self.done {
            return Err(RpcError::Sequence("a fragment after the last one"));
        }
        let f = ResponseFragment::decode(pdu)?;
        if f.header.call_id != self.call_id {
            return Err(RpcError::Sequence("call_id does not match the request"));
        }
        if f.header.first() == self.started {
            return Err(RpcError::Sequence(if self.started {
                "PFC_FIRST_FRAG on a later fragment"
            } else {
                "the first fragment lacks PFC_FIRST_FRAG"
            }));
        }
        if self.stub.len() + f.stub.len() > self.max_len {
            return Err(RpcError::TooLarge);
        }
        if !self.started {
            // The hint is the server's word: reserve no more than the limit, and little.
            let hint = (f.alloc_hint as usize).min(self.max_len).min(64 * 1024);
            self.stub.reserve(hint);
            self.started = true;
        }
        self.stub.extend_from_slice(f.stub);
        self.done = f.header.last();
        Ok(self.done)
    }

    /// The whole stub (once [`Reassembly::push`] returned true).
    pub fn into_stub(self) -> Vec<u8> {
        self.stub
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// smbclient's BIND to srvsvc v3.0 (NDR20), captured from Samba 4.17 on loopback.
    pub(crate) const BIND_SRVSVC: &[u8] = &[
        0x05, 0x00, 0x0b, 0x03, 0x10, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0xb8, 0x10, 0xb8, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf,
        0x6e, 0xe1, 0x88, 0x03, 0x00, 0x00, 0x00, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 0x02, 0x00, 0x00, 0x00,
    ];

    /// Samba's BIND_ACK to it (assoc group 0xd1b3, secondary address `\pipe\srvsvc`).
    pub(crate) const BIND_ACK_SRVSVC: &[u8] = &[
        0x05, 0x00, 0x0c, 0x03, 0x10, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0xb8, 0x10, 0xb8, 0x10, 0xb3, 0xd1, 0x00, 0x00, 0x0d, 0x00, 0x5c, 0x70, 0x69, 0x70,
        0x65, 0x5c, 0x73, 0x72, 0x76, 0x73, 0x76, 0x63, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00,
        0x2b, 0x10, 0x48, 0x60, 0x02, 0x00, 0x00, 0x00,
    ];

    /// srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 ([MS-SRVS] 1.9).
    const SRVSVC: SyntaxId = SyntaxId {
        uuid: Guid([
            0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e,
            0xe1, 0x88,
        ]),
        major: 3,
        minor: 0,
    };

    fn bind() -> Bind {
        Bind::new(1, SRVSVC)
    }

    #[test]
    fn bind_is_byte_exact() {
        assert_eq!(bind().encode(), BIND_SRVSVC);
        assert_eq!(pdu_len(BIND_SRVSVC), Ok(Some(72)));
        assert_eq!(pdu_len(&BIND_SRVSVC[..15]), Ok(None));
    }

    #[test]
    fn bind_ack_decodes() {
        let BindReply::Ack(a) = BindReply::decode(BIND_ACK_SRVSVC).unwrap() else {
            panic!("not an ack")
        };
        assert_eq!(
            (a.max_xmit, a.max_recv, a.assoc_group),
            (4280, 4280, 0xd1b3)
        );
        assert_eq!(a.secondary_addr, b"\\pipe\\srvsvc");
        assert_eq!(
            a.results,
            [ContextResult {
                result: 0,
                reason: 0,
                transfer_syntax: SyntaxId::NDR20
            }]
        );
        assert_eq!(a.header.call_id, 1);
        assert_eq!(a.encode(), BIND_ACK_SRVSVC);
    }

    #[test]
    fn bind_ack_truncated_or_bogus_never_panics() {
        for n in 0..BIND_ACK_SRVSVC.len() {
            assert!(BindReply::decode(&BIND_ACK_SRVSVC[..n]).is_err(), "{n}");
        }
        // A secondary address longer than the PDU.
        let mut b = BIND_ACK_SRVSVC.to_vec();
        b[24] = 0xff;
        assert!(matches!(
            BindReply::decode(&b),
            Err(RpcError::Malformed(DecodeError::Truncated { .. }))
        ));
        // 255 results announced, one present.
        let mut b = BIND_ACK_SRVSVC.to_vec();
        b[40] = 0xff;
        assert!(BindReply::decode(&b).is_err());
        // frag_length below the header's size, and a wrong version.
        let mut b = BIND_ACK_SRVSVC.to_vec();
        b[8] = 4;
        assert!(BindReply::decode(&b).is_err());
        let mut b = BIND_ACK_SRVSVC.to_vec();
        b[0] = 4;
        assert!(BindReply::decode(&b).is_err());
        // Big-endian data representation is not supported.
        let mut b = BIND_ACK_SRVSVC.to_vec();
        b[4] = 0;
        assert!(BindReply::decode(&b).is_err());
    }

    #[test]
    fn bind_nak_and_fault() {
        // BIND_NAK, reason 4 (protocol version not supported), no versions list.
        let mut nak = Vec::new();
        PduHeader {
            ptype: ptype::BIND_NAK,
            flags: 3,
            frag_len: 18,
            auth_len: 0,
            call_id: 1,
        }
        .write(&mut nak);
        nak.extend_from_slice(&4u16.to_le_bytes());
        assert_eq!(BindReply::decode(&nak), Ok(BindReply::Nak(4)));
        let fault = fault_pdu(2, 0x1c01_0002);
        assert_eq!(BindReply::decode(&fault), Err(RpcError::Fault(0x1c01_0002)));
        assert_eq!(
            ResponseFragment::decode(&fault),
            Err(RpcError::Fault(0x1c01_0002))
        );
        assert!(Fault::decode(&fault[..27]).is_err());
        assert_eq!(
            ResponseFragment::decode(BIND_SRVSVC),
            Err(RpcError::UnexpectedPdu(ptype::BIND))
        );
    }

    pub(crate) fn fault_pdu(call_id: u32, status: u32) -> Vec<u8> {
        encode_fault(call_id, status)
    }

    /// A RESPONSE fragment of `call_id` carrying `stub`.
    pub(crate) fn response(call_id: u32, flags: u8, stub: &[u8]) -> Vec<u8> {
        encode_response(call_id, flags, stub)
    }

    #[test]
    fn requests_are_fragmented() {
        let stub: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let frags = encode_request(7, 0, 15, &stub, MIN_FRAG);
        assert_eq!(frags.len(), 4);
        let mut back = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let h = PduHeader::decode(f).unwrap();
            assert_eq!(usize::from(h.frag_len), f.len());
            assert!(f.len() <= usize::from(MIN_FRAG));
            assert_eq!((h.first(), h.last()), (i == 0, i == 3));
            assert_eq!(&f[16..20], &5000u32.to_le_bytes());
            assert_eq!(&f[22..24], &15u16.to_le_bytes());
            back.extend_from_slice(&f[24..]);
        }
        assert_eq!(back, stub);
        let one = encode_request(1, 0, 15, &[], DEFAULT_MAX_FRAG);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0][3], pfc::FIRST_FRAG | pfc::LAST_FRAG);
    }

    #[test]
    fn responses_reassemble_in_order() {
        let mut r = Reassembly::new(9, 100);
        assert_eq!(r.push(&response(9, pfc::FIRST_FRAG, b"abc")), Ok(false));
        assert_eq!(r.push(&response(9, 0, b"def")), Ok(false));
        assert_eq!(r.push(&response(9, pfc::LAST_FRAG, b"g")), Ok(true));
        assert!(r.push(&response(9, pfc::LAST_FRAG, b"g")).is_err());
        assert_eq!(r.into_stub(), b"abcdefg");

        let mut r = Reassembly::new(9, 100);
        assert!(matches!(
            r.push(&response(8, 3, b"x")),
            Err(RpcError::Sequence(_))
        ));
        let mut r = Reassembly::new(9, 100);
        assert!(r.push(&response(9, pfc::LAST_FRAG, b"x")).is_err());
        let mut r = Reassembly::new(9, 100);
        r.push(&response(9, pfc::FIRST_FRAG, b"x")).unwrap();
        assert!(r.push(&response(9, pfc::FIRST_FRAG, b"x")).is_err());
        let mut r = Reassembly::new(9, 4);
        r.push(&response(9, pfc::FIRST_FRAG, b"abc")).unwrap();
        assert_eq!(r.push(&response(9, 0, b"de")), Err(RpcError::TooLarge));
    }

    #[test]
    fn response_fragment_checks_lengths() {
        let pdu = response(1, 3, b"stub");
        for n in 0..pdu.len() {
            assert!(ResponseFragment::decode(&pdu[..n]).is_err(), "{n}");
        }
        // frag_length shorter than the RESPONSE header.
        let mut b = pdu.clone();
        b[8] = 20;
        assert!(ResponseFragment::decode(&b).is_err());
        // Authenticated responses are refused.
        let mut b = pdu;
        b[10] = 16;
        assert!(ResponseFragment::decode(&b).is_err());
    }
}
