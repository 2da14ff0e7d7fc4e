//! SMB2 OPLOCK_BREAK messages ([MS-SMB2] 2.2.23 - 2.2.25): oplock break notification,
//! acknowledgment and response (StructureSize 24), lease break notification (44), lease
//! break acknowledgment and response (36). [`OplockBreakMessage::decode`] tells them apart.

use super::create::OplockLevel;
use super::create_context::LeaseState;
use super::flag_newtype;
use super::{Decode, DecodeError, DecodeResult, Encode, FileId, Guid, HEADER_LEN, Reader};
use alloc::vec::Vec;
use bytes::BufMut;

/// Oplock break notification, acknowledgment or response ([MS-SMB2] 2.2.23.1, 2.2.24.1,
/// 2.2.25.1): all three share this 24-byte layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OplockBreak {
    /// The new oplock level (notification), the level acknowledged (ack) or granted (response).
    pub oplock_level: OplockLevel,
    /// The open.
    pub file_id: FileId,
}

impl Encode for OplockBreak {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(24);
        msg.put_u8(self.oplock_level.to_u8());
        msg.put_u8(0); // Reserved
        msg.put_u32_le(0); // Reserved2
        self.file_id.write(msg);
    }
}

impl<'a> Decode<'a> for OplockBreak {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 24)?;
        let oplock_level = OplockLevel::from_u8(r.u8()?);
        r.skip(5)?;
        Ok(OplockBreak {
            oplock_level,
            file_id: FileId::read(&mut r)?,
        })
    }
}

/// Lease break notification flags ([MS-SMB2] 2.2.23.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LeaseBreakFlags(pub u32);
flag_newtype!(LeaseBreakFlags, u32);

impl LeaseBreakFlags {
    /// SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED: the client must acknowledge.
    pub const ACK_REQUIRED: u32 = 0x01;
}

/// Lease break notification ([MS-SMB2] 2.2.23.2), sent by the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaseBreakNotification {
    /// NewEpoch (v2 leases; 0 otherwise).
    pub new_epoch: u16,
    /// Flags.
    pub flags: LeaseBreakFlags,
    /// The lease being broken.
    pub lease_key: Guid,
    /// CurrentLeaseState.
    pub current_state: LeaseState,
    /// NewLeaseState.
    pub new_state: LeaseState,
    /// BreakReason (reserved, 0).
    pub break_reason: u32,
    /// AccessMaskHint (reserved, 0).
    pub access_mask_hint: u32,
    /// ShareMaskHint (reserved, 0).
    pub share_mask_hint: u32,
}

impl Encode for LeaseBreakNotification {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(44);
        msg.put_u16_le(self.new_epoch);
        msg.put_u32_le(self.flags.0);
        msg.put_slice(&self.lease_key.0);
        msg.put_u32_le(self.current_state.0);
        msg.put_u32_le(self.new_state.0);
        msg.put_u32_le(self.break_reason);
        msg.put_u32_le(self.access_mask_hint);
        msg.put_u32_le(self.share_mask_hint);
    }
}

impl<'a> Decode<'a> for LeaseBreakNotification {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 44)?;
        Ok(LeaseBreakNotification {
            new_epoch: r.u16()?,
            flags: LeaseBreakFlags(r.u32()?),
            lease_key: r.guid()?,
            current_state: LeaseState(r.u32()?),
            new_state: LeaseState(r.u32()?),
            break_reason: r.u32()?,
            access_mask_hint: r.u32()?,
            share_mask_hint: r.u32()?,
        })
    }
}

/// Lease break acknowledgment (client, [MS-SMB2] 2.2.24.2) or response (server, 2.2.25.2):
/// both share this 36-byte layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaseBreakAck {
    /// Flags (reserved, 0).
    pub flags: u32,
    /// The lease.
    pub lease_key: Guid,
    /// LeaseState acknowledged (ack) or now held (response).
    pub lease_state: LeaseState,
    /// LeaseDuration (reserved, 0).
    pub lease_duration: u64,
}

impl Encode for LeaseBreakAck {
    fn encode(&self, msg: &mut Vec<u8>) {
        msg.put_u16_le(36);
        msg.put_u16_le(0); // Reserved
        msg.put_u32_le(self.flags);
        msg.put_slice(&self.lease_key.0);
        msg.put_u32_le(self.lease_state.0);
        msg.put_u64_le(self.lease_duration);
    }
}

impl<'a> Decode<'a> for LeaseBreakAck {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let mut r = Reader::at(msg, HEADER_LEN)?;
        r.expect_u16("StructureSize", 36)?;
        r.skip(2)?;
        Ok(LeaseBreakAck {
            flags: r.u32()?,
            lease_key: r.guid()?,
            lease_state: LeaseState(r.u32()?),
            lease_duration: r.u64()?,
        })
    }
}

/// Any OPLOCK_BREAK body, told apart by its StructureSize ([MS-SMB2] 2.2.23 - 2.2.25).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OplockBreakMessage {
    /// StructureSize 24: oplock break notification, ack or response.
    Oplock(OplockBreak),
    /// StructureSize 44: lease break notification.
    LeaseNotification(LeaseBreakNotification),
    /// StructureSize 36: lease break ack or response.
    LeaseAck(LeaseBreakAck),
}

impl Encode for OplockBreakMessage {
    fn encode(&self, msg: &mut Vec<u8>) {
        match self {
            OplockBreakMessage::Oplock(m) => m.encode(msg),
            OplockBreakMessage::LeaseNotification(m) => m.encode(msg),
            OplockBreakMessage::LeaseAck(m) => m.encode(msg),
        }
    }
}

impl<'a> Decode<'a> for OplockBreakMessage {
    fn decode(msg: &'a [u8]) -> DecodeResult<Self> {
        let size = Reader::at(msg, HEADER_LEN)?.u16()?;
        Ok(match size {
            24 => OplockBreakMessage::Oplock(OplockBreak::decode(msg)?),
            44 => OplockBreakMessage::LeaseNotification(LeaseBreakNotification::decode(msg)?),
            36 => OplockBreakMessage::LeaseAck(LeaseBreakAck::decode(msg)?),
            other => {
                return Err(DecodeError::BadField {
                    field: "StructureSize",
                    value: other.into(),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;
    use crate::wire::test_util::*;

    #[test]
    fn oplock_break_is_byte_exact() {
        let m = OplockBreak {
            oplock_level: OplockLevel::II,
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
        };
        let msg = round_trip(Command::OplockBreak, true, &m);
        assert_eq!(
            &msg[64..],
            &hex("1800 01 00 00000000 0100000000000000 0200000000000000")[..]
        );
        prefixes_fail::<OplockBreak>(&msg);
        assert_eq!(
            OplockBreakMessage::decode(&msg).unwrap(),
            OplockBreakMessage::Oplock(m)
        );
    }

    #[test]
    fn lease_messages_round_trip_and_dispatch() {
        let n = LeaseBreakNotification {
            new_epoch: 2,
            flags: LeaseBreakFlags(LeaseBreakFlags::ACK_REQUIRED),
            lease_key: Guid([5; 16]),
            current_state: LeaseState(7),
            new_state: LeaseState(LeaseState::READ_CACHING),
            ..Default::default()
        };
        let msg = round_trip(Command::OplockBreak, true, &n);
        assert_eq!(msg.len(), 64 + 44);
        assert_eq!(&msg[64..72], &hex("2c00 0200 01000000")[..]);
        prefixes_fail::<LeaseBreakNotification>(&msg);
        prefixes_fail::<OplockBreakMessage>(&msg);
        assert_eq!(
            OplockBreakMessage::decode(&msg).unwrap(),
            OplockBreakMessage::LeaseNotification(n)
        );

        let a = LeaseBreakAck {
            flags: 0,
            lease_key: Guid([5; 16]),
            lease_state: LeaseState(LeaseState::READ_CACHING),
            lease_duration: 0,
        };
        let msg = round_trip(Command::OplockBreak, false, &a);
        assert_eq!(msg.len(), 64 + 36);
        prefixes_fail::<LeaseBreakAck>(&msg);
        let any = OplockBreakMessage::decode(&msg).unwrap();
        assert_eq!(any, OplockBreakMessage::LeaseAck(a));
        assert_eq!(message(Command::OplockBreak, false, &any), msg);

        let mut bad = msg;
        bad[64] = 30;
        assert!(OplockBreakMessage::decode(&bad).is_err());
    }
}
