//! Compound chains ([MS-SMB2] 3.2.4.1.4 sending, 3.2.5.1 / 3.3.5.2.7 receiving).
//!
//! Several messages travel in one frame: each header's NextCommand is the offset from that
//! header to the next one, and every message but the last is padded to a multiple of 8
//! bytes. In a related chain every message after the first carries
//! SMB2_FLAGS_RELATED_OPERATIONS and refers to the previous one's SessionId, TreeId and
//! FileId (`FileId::RELATED`).
//!
//! Signing: each message of a chain is signed on its own, over the bytes from its header
//! to the next header, **padding included** ([MS-SMB2] 3.1.4.1: "If the message is part of
//! a compounded chain, any padding at the end of the message MUST be used in the hash
//! computation"); the last message runs to the end of the frame. The same rule applies when
//! verifying a received chain (3.2.5.1.3). So a chain is built first ([`build_chain`] fixes
//! NextCommand and padding), then each range it returns is signed in place; and
//! [`split_chain`] returns each received message's range with its padding, ready to verify.

use super::header::{HeaderFlags, PROTOCOL_ID};
use super::{DecodeError, DecodeResult, HEADER_LEN, pad_to, patch_u32};
use alloc::vec::Vec;
use core::ops::Range;
use smallvec::SmallVec;

/// Byte offset of NextCommand inside a header.
const NEXT_COMMAND: usize = 20;
/// Byte offset of Flags inside a header.
const FLAGS: usize = 16;

/// The message ranges of a chain (most chains hold at most four messages).
pub type ChainRanges = SmallVec<[Range<usize>; 4]>;

/// One already-encoded message (header + body) to put in a chain.
#[derive(Clone, Copy, Debug)]
pub struct ChainPart<'a> {
    /// The message, header first. Its NextCommand is overwritten.
    pub message: &'a [u8],
    /// Set SMB2_FLAGS_RELATED_OPERATIONS on this message (never on the first of a chain,
    /// [MS-SMB2] 3.2.4.1.4).
    pub related: bool,
}

/// A built chain and where each message lies in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The frame payload.
    pub bytes: Vec<u8>,
    /// Each message's range in `bytes`, padding included: the range to sign.
    pub messages: ChainRanges,
}

fn check_message(m: &[u8]) -> DecodeResult<()> {
    if m.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: HEADER_LEN,
            available: m.len(),
        });
    }
    if m[..4] != PROTOCOL_ID {
        return Err(DecodeError::BadField {
            field: "ProtocolId",
            value: u32::from_le_bytes([m[0], m[1], m[2], m[3]]).into(),
        });
    }
    Ok(())
}

/// Build a compound chain from already-encoded messages: set NextCommand, pad each message
/// but the last to 8 bytes, set SMB2_FLAGS_RELATED_OPERATIONS where asked
/// ([MS-SMB2] 3.2.4.1.4). Signatures must be computed afterwards, over the returned ranges.
/// A single part yields that message unchanged except NextCommand = 0.
///
/// Errors: no parts, or a part shorter than a header or not starting with the SMB2
/// ProtocolId.
pub fn build_chain(parts: &[ChainPart<'_>]) -> DecodeResult<Chain> {
    if parts.is_empty() {
        return Err(DecodeError::Truncated {
            needed: HEADER_LEN,
            available: 0,
        });
    }
    let total: usize = parts.iter().map(|p| p.message.len() + 7).sum();
    let mut bytes = Vec::with_capacity(total);
    let mut messages = ChainRanges::new();
    for (i, p) in parts.iter().enumerate() {
        check_message(p.message)?;
        let start = bytes.len();
        bytes.extend_from_slice(p.message);
        if p.related {
            let mut f = u32::from_le_bytes([
                bytes[start + FLAGS],
                bytes[start + FLAGS + 1],
                bytes[start + FLAGS + 2],
                bytes[start + FLAGS + 3],
            ]);
            f |= HeaderFlags::RELATED_OPERATIONS;
            patch_u32(&mut bytes, start + FLAGS, f);
        }
        let next = if i + 1 < parts.len() {
            pad_to(&mut bytes, 8);
            (bytes.len() - start) as u32
        } else {
            0
        };
        patch_u32(&mut bytes, start + NEXT_COMMAND, next);
        messages.push(start..bytes.len());
    }
    Ok(Chain { bytes, messages })
}

/// Split a received plain SMB2 payload (a single message or a compound chain) into its
/// messages' ranges, each including its trailing padding (the range its signature covers).
///
/// Liberal but bounded ([MS-SMB2] 3.2.5.1 / 3.3.5.2.7): NextCommand need not be a multiple
/// of 8, but it must be at least a header's length (so the walk always advances and ends
/// after at most `payload.len() / 64` messages) and the next header must lie inside the
/// payload. Every message must start with the SMB2 ProtocolId and hold a whole header.
pub fn split_chain(payload: &[u8]) -> DecodeResult<ChainRanges> {
    let mut out = ChainRanges::new();
    let mut pos = 0usize;
    loop {
        let msg = &payload[pos..];
        check_message(msg)?;
        let next = u32::from_le_bytes([
            msg[NEXT_COMMAND],
            msg[NEXT_COMMAND + 1],
            msg[NEXT_COMMAND + 2],
            msg[NEXT_COMMAND + 3],
        ]) as usize;
        if next == 0 {
            out.push(pos..payload.len());
            return Ok(out);
        }
        if next < HEADER_LEN || next >= msg.len() {
            return Err(DecodeError::BadOffset {
                field: "NextCommand",
            });
        }
        out.push(pos..pos + next);
        pos += next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::echo::EchoRequest;
    use crate::wire::logoff::LogoffRequest;
    use crate::wire::test_util::message;
    use crate::wire::tree_connect::TreeConnectRequest;
    use crate::wire::{Command, Header};

    #[test]
    fn builds_and_splits_related_chain() {
        let a = message(
            Command::TreeConnect,
            false,
            &TreeConnectRequest::new(r"\\s\x"),
        );
        let b = message(Command::Echo, false, &EchoRequest);
        let c = message(Command::Logoff, false, &LogoffRequest);
        assert_eq!(a.len(), 82);
        let chain = build_chain(&[
            ChainPart {
                message: &a,
                related: false,
            },
            ChainPart {
                message: &b,
                related: true,
            },
            ChainPart {
                message: &c,
                related: true,
            },
        ])
        .unwrap();
        // 82 -> 88, 68 -> 72, 68 (last, unpadded).
        assert_eq!(chain.messages.as_slice(), &[0..88, 88..160, 160..228]);
        assert_eq!(chain.bytes.len(), 228);
        assert_eq!(&chain.bytes[82..88], &[0; 6]);
        let h0 = Header::decode(&chain.bytes[0..88]).unwrap();
        let h1 = Header::decode(&chain.bytes[88..160]).unwrap();
        let h2 = Header::decode(&chain.bytes[160..]).unwrap();
        assert_eq!(
            (h0.next_command, h1.next_command, h2.next_command),
            (88, 72, 0)
        );
        assert!(!h0.flags.has(HeaderFlags::RELATED_OPERATIONS));
        assert!(h1.flags.has(HeaderFlags::RELATED_OPERATIONS));
        assert!(h2.flags.has(HeaderFlags::RELATED_OPERATIONS));
        assert_eq!(h1.command, Command::Echo);
        // The bodies are unchanged.
        assert_eq!(&chain.bytes[64..82], &a[64..]);
        assert_eq!(split_chain(&chain.bytes).unwrap(), chain.messages);
    }

    #[test]
    fn single_message_is_its_own_chain() {
        let mut a = message(Command::Echo, false, &EchoRequest);
        a[20] = 99; // stale NextCommand is reset
        let chain = build_chain(&[ChainPart {
            message: &a,
            related: false,
        }])
        .unwrap();
        assert_eq!(chain.bytes.len(), 68);
        assert_eq!(&chain.bytes[20..24], &[0; 4]);
        let ranges = split_chain(&chain.bytes).unwrap();
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0], 0..68);
    }

    #[test]
    fn build_rejects_bad_parts() {
        assert!(build_chain(&[]).is_err());
        assert!(
            build_chain(&[ChainPart {
                message: &[0xFE, b'S', b'M', b'B'],
                related: false
            }])
            .is_err()
        );
        assert!(
            build_chain(&[ChainPart {
                message: &[0; 64],
                related: false
            }])
            .is_err()
        );
    }

    #[test]
    fn split_is_liberal_but_bounded() {
        let a = message(Command::Echo, false, &EchoRequest);
        let b = message(Command::Echo, false, &EchoRequest);
        // Unpadded chain with NextCommand = 68 (not 8-aligned) is accepted.
        let mut chain = a.clone();
        chain[20] = 68;
        chain.extend_from_slice(&b);
        assert_eq!(split_chain(&chain).unwrap().as_slice(), &[0..68, 68..136]);
        // NextCommand below a header length, pointing to itself, or past the end.
        for bad in [1u32, 63, 0x7FFF_FFFF, u32::MAX, 136] {
            let mut m = chain.clone();
            m[20..24].copy_from_slice(&bad.to_le_bytes());
            assert!(split_chain(&m).is_err(), "NextCommand {bad}");
        }
        // Next header truncated.
        assert!(split_chain(&chain[..100]).is_err());
        // Every prefix of a valid chain that cuts a header fails.
        for n in 0..64 {
            assert!(split_chain(&chain[..n]).is_err());
        }
        // A next message that is not SMB2.
        let mut m = chain.clone();
        m[68] = 0xFD;
        assert!(split_chain(&m).is_err());
        // A long chain of minimal messages ends.
        let mut long = Vec::new();
        for _ in 0..1000 {
            let mut h = Vec::new();
            Header::request(Command::Echo).encode(&mut h);
            h[20] = 64;
            long.extend_from_slice(&h);
        }
        long.extend_from_slice(&a);
        assert_eq!(split_chain(&long).unwrap().len(), 1001);
    }
}
