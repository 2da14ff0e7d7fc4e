//! Inspect and patch SMB2 frames: what a [`FaultProxy`](crate::FaultProxy) rewriting hook
//! and the [`hostile`](crate::hostile) server work with.
//!
//! A *frame* here is the payload of one direct-TCP frame ([MS-SMB2] 2.1), without its 4-byte
//! length prefix: one SMB2 message, a compound chain of them (walked through NextCommand,
//! [MS-SMB2] 2.2.1), or a TRANSFORM_HEADER and its ciphertext ([MS-SMB2] 2.2.41).
//!
//! The helpers never panic on malformed input: they return `None` / `false` instead, so a
//! hook can apply them to whatever passes.

use smb_core::wire::compound::{ChainPart, build_chain};
use smb_core::wire::transform::{TRANSFORM_HEADER_LEN, TRANSFORM_PROTOCOL_ID, TransformHeader};
use smb_core::wire::{Command, Encode, HEADER_LEN, Header, HeaderFlags, NtStatus};

/// Byte offset of NextCommand inside an SMB2 header.
const NEXT_COMMAND: usize = 20;

/// Whether `frame` starts with the SMB2 ProtocolId (0xFE 'S' 'M' 'B').
pub fn is_smb2(frame: &[u8]) -> bool {
    frame.starts_with(&[0xFE, b'S', b'M', b'B'])
}

/// Whether `frame` starts with the TRANSFORM ProtocolId (0xFD 'S' 'M' 'B').
pub fn is_transform(frame: &[u8]) -> bool {
    frame.starts_with(&TRANSFORM_PROTOCOL_ID)
}

/// Offsets of the messages of a plain SMB2 frame, following NextCommand. The walk stops at
/// the first NextCommand that does not point at another whole header inside the frame, so
/// it always ends; an empty result means the frame is not SMB2.
pub fn message_offsets(frame: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + HEADER_LEN <= frame.len() && is_smb2(&frame[off..]) {
        out.push(off);
        let at = off + NEXT_COMMAND;
        let next =
            u32::from_le_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]]) as usize;
        if next < HEADER_LEN {
            break;
        }
        off += next;
    }
    out
}

/// The header of the message at `offset`, if one decodes there.
pub fn header_at(frame: &[u8], offset: usize) -> Option<Header> {
    Header::decode(frame.get(offset..)?).ok()
}

/// Every message of a plain frame: its offset and decoded header.
pub fn headers(frame: &[u8]) -> Vec<(usize, Header)> {
    message_offsets(frame)
        .into_iter()
        .filter_map(|off| header_at(frame, off).map(|h| (off, h)))
        .collect()
}

/// The header of the first message (the only one unless the frame is a compound).
pub fn first_header(frame: &[u8]) -> Option<Header> {
    header_at(frame, 0)
}

/// Decode the header at `offset`, let `edit` change it and write it back in place.
/// SMB2_FLAGS_ASYNC_COMMAND follows the header's `id` (sync or async form) when written.
/// Returns false (and leaves the frame alone) if no header decodes there.
pub fn patch_header(frame: &mut [u8], offset: usize, edit: impl FnOnce(&mut Header)) -> bool {
    let Some(mut h) = header_at(frame, offset) else {
        return false;
    };
    edit(&mut h);
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    h.encode(&mut bytes);
    frame[offset..offset + HEADER_LEN].copy_from_slice(&bytes);
    true
}

/// [`patch_header`] on the first message.
pub fn patch_first_header(frame: &mut [u8], edit: impl FnOnce(&mut Header)) -> bool {
    patch_header(frame, 0, edit)
}

/// Invert one bit of the signature of the message at `offset` (a tampered signature that
/// still claims SMB2_FLAGS_SIGNED). Returns false if no header decodes there.
pub fn flip_signature_bit(frame: &mut [u8], offset: usize) -> bool {
    patch_header(frame, offset, |h| h.signature[7] ^= 0x10)
}

/// The TRANSFORM_HEADER of an encrypted frame.
pub fn transform_header(frame: &[u8]) -> Option<TransformHeader> {
    if !is_transform(frame) {
        return None;
    }
    TransformHeader::decode(frame).ok()
}

/// Decode the TRANSFORM_HEADER, let `edit` change it and write it back in place (the AEAD
/// tag is not recomputed: any change a receiver authenticates makes decryption fail).
/// Returns false if the frame is not a transform.
pub fn patch_transform(frame: &mut [u8], edit: impl FnOnce(&mut TransformHeader)) -> bool {
    let Some(mut t) = transform_header(frame) else {
        return false;
    };
    edit(&mut t);
    let mut bytes = Vec::with_capacity(TRANSFORM_HEADER_LEN);
    t.encode(&mut bytes);
    frame[..TRANSFORM_HEADER_LEN].copy_from_slice(&bytes);
    true
}

/// One message: `header` followed by `body` encoded with smb-core's codec (offsets inside
/// the body are relative to the header, as on the wire).
pub fn message(header: &Header, body: &impl Encode) -> Vec<u8> {
    let mut msg = Vec::new();
    header.encode(&mut msg);
    body.encode(&mut msg);
    msg
}

/// One message from a header and an already-encoded body.
pub fn message_bytes(header: &Header, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER_LEN + body.len());
    header.encode(&mut msg);
    msg.extend_from_slice(body);
    msg
}

/// Messages chained into one compound frame (NextCommand set, each but the last padded to
/// 8 bytes, [MS-SMB2] 3.3.4.1.3), none marked related. `None` if one is not a message.
pub fn compound(messages: &[Vec<u8>]) -> Option<Vec<u8>> {
    let parts: Vec<ChainPart<'_>> = messages
        .iter()
        .map(|m| ChainPart {
            message: m,
            related: false,
        })
        .collect();
    build_chain(&parts).ok().map(|c| c.bytes)
}

/// The ERROR response body ([MS-SMB2] 2.2.2) with no error data.
pub const ERROR_BODY: [u8; 9] = [9, 0, 0, 0, 0, 0, 0, 0, 0];

/// A response header answering `request`: SMB2_FLAGS_SERVER_TO_REDIR only, `status`,
/// `credits` granted, the request's MessageId, SessionId and TreeId, no signature.
pub fn response_header(request: &Header, status: NtStatus, credits: u16) -> Header {
    Header {
        flags: HeaderFlags(HeaderFlags::SERVER_TO_REDIR),
        status,
        credits,
        next_command: 0,
        signature: [0; 16],
        ..*request
    }
}

/// Whether the frame's first message is a response to `command`.
pub fn is_response_to(frame: &[u8], command: Command) -> bool {
    first_header(frame).is_some_and(|h| h.is_response() && h.command == command)
}

/// A request message of `command` with MessageId `id`, NextCommand `next` and `body` zero
/// bytes, for unit tests.
#[cfg(test)]
pub(crate) fn test_message(command: Command, id: u64, next: u32, body: usize) -> Vec<u8> {
    let mut h = Header::request(command);
    h.message_id = id;
    h.next_command = next;
    let mut v = Vec::new();
    h.encode(&mut v);
    v.resize(HEADER_LEN + body, 0);
    v
}

#[cfg(test)]
mod tests {
    use super::test_message as msg;
    use super::*;
    use smb_core::wire::header::HeaderId;

    #[test]
    fn walks_a_chain_and_stops_at_a_bad_next_command() {
        let mut chain = msg(Command::Create, 1, 72, 8);
        chain.extend(msg(Command::Close, 2, 0, 24));
        let hs: Vec<(usize, u64)> = headers(&chain)
            .iter()
            .map(|(o, h)| (*o, h.message_id))
            .collect();
        assert_eq!(hs, [(0, 1), (72, 2)]);
        // NextCommand pointing past the end, or looping back onto itself, ends the walk.
        let mut bad = msg(Command::Read, 3, 4000, 0);
        assert_eq!(message_offsets(&bad), [0]);
        patch_first_header(&mut bad, |h| h.next_command = 0);
        assert_eq!(message_offsets(&bad), [0]);
        let looping = msg(Command::Read, 3, 1, 64);
        assert_eq!(message_offsets(&looping), [0]);
        assert!(message_offsets(b"garbage").is_empty());
        assert!(first_header(&[0xFE, b'S', b'M', b'B']).is_none());
    }

    #[test]
    fn patches_header_fields_in_place() {
        let mut f = msg(Command::Read, 9, 0, 17);
        let body_before = f[HEADER_LEN..].to_vec();
        assert!(patch_first_header(&mut f, |h| {
            h.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR | HeaderFlags::SIGNED);
            h.session_id = 0x55;
            h.status = NtStatus::PENDING;
            h.credits = 77;
            h.id = HeaderId::Async { async_id: 0xAB };
        }));
        let h = first_header(&f).unwrap();
        assert!(h.is_response() && h.flags.has(HeaderFlags::SIGNED) && h.is_async());
        assert_eq!(
            (h.session_id, h.status, h.credits, h.async_id()),
            (0x55, NtStatus::PENDING, 77, Some(0xAB))
        );
        assert_eq!(f[HEADER_LEN..], body_before[..], "the body is untouched");
        let sig = h.signature;
        assert!(flip_signature_bit(&mut f, 0));
        assert_ne!(first_header(&f).unwrap().signature, sig);
        assert!(!patch_header(&mut f, 5, |_| {}), "no header at offset 5");
        assert!(!flip_signature_bit(&mut [0u8; 10], 0));
    }

    #[test]
    fn patches_a_transform_header() {
        let t = TransformHeader {
            signature: [1; 16],
            nonce: [2; 16],
            original_message_size: 100,
            flags: TransformHeader::ENCRYPTED,
            session_id: 7,
        };
        let mut f = Vec::new();
        t.encode(&mut f);
        f.extend_from_slice(&[0xAA; 100]);
        assert!(is_transform(&f) && !is_smb2(&f));
        assert!(patch_transform(&mut f, |t| {
            t.session_id = 8;
            t.flags = 2;
            t.original_message_size = 99;
        }));
        let back = transform_header(&f).unwrap();
        assert_eq!(
            (back.session_id, back.flags, back.original_message_size),
            (8, 2, 99)
        );
        assert_eq!(back.signature, [1; 16]);
        assert!(!patch_transform(&mut msg(Command::Echo, 1, 0, 4), |_| {}));
    }

    #[test]
    fn builds_responses() {
        let mut req = Header::request(Command::Read);
        req.message_id = 12;
        req.session_id = 34;
        req.credits = 8;
        let r = response_header(&req, NtStatus::END_OF_FILE, 3);
        let m = message_bytes(&r, &ERROR_BODY);
        assert!(is_response_to(&m, Command::Read));
        let chain = compound(&[m.clone(), m.clone()]).unwrap();
        assert_eq!(message_offsets(&chain), [0, 80]);
        assert!(compound(&[b"short".to_vec()]).is_none());
        let back = first_header(&m).unwrap();
        assert_eq!(
            (back.message_id, back.session_id, back.credits, back.status),
            (12, 34, 3, NtStatus::END_OF_FILE)
        );
    }
}
