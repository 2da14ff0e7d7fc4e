//! SMB2 LOCK request and response ([MS-SMB2] 2.2.26, 2.2.27).

use super::flag_newtype;
use super::{Decode, DecodeError, DecodeResult, Encode, FileId, HEADER_LEN, Reader};
use alloc::vec::Vec;
use bytes::BufMut;

/// Flags of one lock element ([MS-SMB2] 2.2.26.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LockFlags(pub u32);
flag_newtype!(LockFlags, u32);

impl LockFlags {
    /// SMB2_LOCKFLAG_SHARED_LOCK.
    pub const SHARED: u32 = 0x01;
    /// SMB2_LOCKFLAG_EXCLUSIVE_LOCK.
    pub const EXCLUSIVE: u32 = 0x02;
    /// SMB2_LOCKFLAG_UNLOCK.
    pub const UNLOCK: u32 = 0x04;
    /// SMB2_LOCKFLAG_FAIL_IMMEDIATELY.
    pub const FAIL_IMMEDIATELY: u32 = 0x10;
}

/// One byte-range lock or unlock ([MS-SMB2] 2.2.26.1), 24 bytes on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockElement {
    /// Start of the range.
    pub offset: u64,
    /// Length of the range.
    pub length: u64,
    /// Flags.
    pub flags: LockFlags,
}

/// Size of a lock element on the wire.
const ELEMENT_LEN: usize = 24;

/// SMB2 LOCK request ([MS-SMB2] 2.2.26).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockRequest {
    /// LockSequenceNumber (low 4 bits of the 32-bit field; 2.1+ resilient/durable handles).
    pub lock_sequence_number: u8,
    /// LockSequenceIndex (high 28 bits of the field).
    pub lock_sequence_index: u32,
    /// The open.
    pub file_id: FileId,
    /// The locks (at least one).
    pub locks: Vec<LockElement>,
}

impl LockRequest {
    /// The 32-bit LockSequence field: index in bits 4..32, number in bits 0..4.
    pub fn lock_sequence(&self) -> u32 {
        (self.lock_sequence_index << 4) | u32::from(self.lock_sequence_number & 0x0F)
    }
}

impl Encode for LockRequest {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(48); // StructureSize counts one lock element
        msg.put_u16_le(self.locks.len() as u16);
        msg.put_u32_le(self.lock_sequence());
        self.file_id.write(msg);
        for l in &self.locks {
            msg.put_u64_le(l.offset);
            msg.put_u64_le(l.length);
            msg.put_u32_le(l.flags.0);
            msg.put_u32_le(0); // Reserved
        }
    }
}

impl<'a> Decode<'a> for LockRequest {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 48)?;
        let count = r.u16()? as usize;
        if count == 0 {
            return Err(DecodeError::BadField {
                field: "LockCount",
                value: 0,
            });
        }
        let seq = r.u32()?;
        let file_id = FileId::read(&mut r)?;
        // Check the whole array is present before allocating for it.
        if count * ELEMENT_LEN > r.remaining() {
            return Err(DecodeError::Truncated {
                needed: r.pos() + count * ELEMENT_LEN,
                available: msg.len(),
            });
        }
        let mut locks = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = r.u64()?;
            let length = r.u64()?;
            let flags = LockFlags(r.u32()?);
            r.skip(4)?;
            locks.push(LockElement {
                offset,
                length,
                flags,
            });
        }
        Ok(LockRequest {
            lock_sequence_number: (seq & 0x0F) as u8,
            lock_sequence_index: seq >> 4,
            file_id,
            locks,
        })
    }
}

/// SMB2 LOCK response ([MS-SMB2] 2.2.27).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockResponse;

impl Encode for LockResponse {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(4);
        msg.put_u16_le(0);
    }
}

impl<'a> Decode<'a> for LockResponse {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 4)?;
        r.skip(2)?;
        Ok(LockResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::*;

    #[test]
    fn request_is_byte_exact_and_round_trips() {
        let req = LockRequest {
            lock_sequence_number: 3,
            lock_sequence_index: 5,
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
            locks: alloc::vec![
                LockElement {
                    offset: 0,
                    length: 10,
                    flags: LockFlags(LockFlags::EXCLUSIVE | LockFlags::FAIL_IMMEDIATELY),
                },
                LockElement {
                    offset: 100,
                    length: 1,
                    flags: LockFlags(LockFlags::UNLOCK),
                },
            ],
        };
        let msg = round_trip(Command::Lock, false, &req);
        assert_eq!(
            &msg[64..],
            &hex("3000 0200 53000000 0100000000000000 0200000000000000
                  0000000000000000 0a00000000000000 12000000 00000000
                  6400000000000000 0100000000000000 04000000 00000000")[..]
        );
        prefixes_fail::<LockRequest>(&msg);
        let mut bad = msg.clone();
        bad[66] = 0; // LockCount 0
        assert!(LockRequest::decode(&bad).is_err());
        let mut bad = msg;
        bad[66] = 0xFF; // more elements than bytes
        assert!(LockRequest::decode(&bad).is_err());
    }

    #[test]
    fn response_round_trips() {
        let msg = round_trip(Command::Lock, true, &LockResponse);
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        prefixes_fail::<LockResponse>(&msg);
    }
}
