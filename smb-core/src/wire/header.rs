//! The SMB2 packet header, sync and async forms ([MS-SMB2] 2.2.1).

use super::flag_newtype;
use super::{DecodeError, DecodeResult, NtStatus, Reader};
use alloc::vec::Vec;
use bytes::BufMut;
use core::fmt;

/// Length of the SMB2 header.
pub const HEADER_LEN: usize = 64;

/// The protocol id `0xFE 'S' 'M' 'B'`.
pub const PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];

/// SMB2 commands ([MS-SMB2] 2.2.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum Command {
    /// SMB2 NEGOTIATE.
    Negotiate = 0x0000,
    /// SMB2 SESSION_SETUP.
    SessionSetup = 0x0001,
    /// SMB2 LOGOFF.
    Logoff = 0x0002,
    /// SMB2 TREE_CONNECT.
    TreeConnect = 0x0003,
    /// SMB2 TREE_DISCONNECT.
    TreeDisconnect = 0x0004,
    /// SMB2 CREATE.
    Create = 0x0005,
    /// SMB2 CLOSE.
    Close = 0x0006,
    /// SMB2 FLUSH.
    Flush = 0x0007,
    /// SMB2 READ.
    Read = 0x0008,
    /// SMB2 WRITE.
    Write = 0x0009,
    /// SMB2 LOCK.
    Lock = 0x000A,
    /// SMB2 IOCTL.
    Ioctl = 0x000B,
    /// SMB2 CANCEL.
    Cancel = 0x000C,
    /// SMB2 ECHO.
    Echo = 0x000D,
    /// SMB2 QUERY_DIRECTORY.
    QueryDirectory = 0x000E,
    /// SMB2 CHANGE_NOTIFY.
    ChangeNotify = 0x000F,
    /// SMB2 QUERY_INFO.
    QueryInfo = 0x0010,
    /// SMB2 SET_INFO.
    SetInfo = 0x0011,
    /// SMB2 OPLOCK_BREAK (oplock and lease notifications, acknowledgments and responses).
    OplockBreak = 0x0012,
}

impl Command {
    /// Map a wire value to a command.
    pub fn from_u16(v: u16) -> Option<Command> {
        use Command::*;
        Some(match v {
            0x00 => Negotiate,
            0x01 => SessionSetup,
            0x02 => Logoff,
            0x03 => TreeConnect,
            0x04 => TreeDisconnect,
            0x05 => Create,
            0x06 => Close,
            0x07 => Flush,
            0x08 => Read,
            0x09 => Write,
            0x0A => Lock,
            0x0B => Ioctl,
            0x0C => Cancel,
            0x0D => Echo,
            0x0E => QueryDirectory,
            0x0F => ChangeNotify,
            0x10 => QueryInfo,
            0x11 => SetInfo,
            0x12 => OplockBreak,
            _ => return None,
        })
    }

    /// The command's name as [MS-SMB2] spells it.
    pub fn name(self) -> &'static str {
        use Command::*;
        match self {
            Negotiate => "NEGOTIATE",
            SessionSetup => "SESSION_SETUP",
            Logoff => "LOGOFF",
            TreeConnect => "TREE_CONNECT",
            TreeDisconnect => "TREE_DISCONNECT",
            Create => "CREATE",
            Close => "CLOSE",
            Flush => "FLUSH",
            Read => "READ",
            Write => "WRITE",
            Lock => "LOCK",
            Ioctl => "IOCTL",
            Cancel => "CANCEL",
            Echo => "ECHO",
            QueryDirectory => "QUERY_DIRECTORY",
            ChangeNotify => "CHANGE_NOTIFY",
            QueryInfo => "QUERY_INFO",
            SetInfo => "SET_INFO",
            OplockBreak => "OPLOCK_BREAK",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Header flags ([MS-SMB2] 2.2.1.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeaderFlags(pub u32);

impl HeaderFlags {
    /// The message is a response.
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    /// The header is the async form (AsyncId instead of TreeId).
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    /// Part of a related compound chain.
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    /// The message is signed.
    pub const SIGNED: u32 = 0x0000_0008;
    /// Priority mask (3.1.1).
    pub const PRIORITY_MASK: u32 = 0x0000_0070;
    /// A DFS operation.
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    /// A replayed request (3.x).
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}
flag_newtype!(HeaderFlags, u32);

/// The part of the header that differs between the sync and async forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderId {
    /// Sync form: ProcessId (reserved) and TreeId.
    Sync {
        /// Reserved ProcessId field (0xFEFF by convention, ignored by servers).
        process_id: u32,
        /// The tree connect this message belongs to.
        tree_id: u32,
    },
    /// Async form: the AsyncId a server assigned in a STATUS_PENDING interim response.
    Async {
        /// The id that identifies the pending operation.
        async_id: u64,
    },
}

/// An SMB2 header. For requests the 32-bit status field carries ChannelSequence (3.x) in its
/// low 16 bits; use [`Header::channel_sequence`] and [`Header::set_channel_sequence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Credits this message consumes (multi-credit requests, [MS-SMB2] 3.2.4.1.5).
    pub credit_charge: u16,
    /// NTSTATUS in responses; ChannelSequence + reserved in 3.x requests.
    pub status: NtStatus,
    /// The command.
    pub command: Command,
    /// CreditRequest (requests) or CreditResponse (responses).
    pub credits: u16,
    /// Flags.
    pub flags: HeaderFlags,
    /// Offset from this header to the next message of a compound chain, or 0.
    pub next_command: u32,
    /// The message id (sequence number).
    pub message_id: u64,
    /// TreeId (sync) or AsyncId (async).
    pub id: HeaderId,
    /// The session.
    pub session_id: u64,
    /// The signature, zero when unsigned.
    pub signature: [u8; 16],
}

/// The SessionId of the SMB2 message at the start of `msg` (bytes 40..48), without decoding
/// the rest; `None` when `msg` is shorter than a header.
pub fn session_id_of(msg: &[u8]) -> Option<u64> {
    let b: [u8; 8] = msg.get(40..48)?.try_into().ok()?;
    (msg.len() >= HEADER_LEN).then(|| u64::from_le_bytes(b))
}

impl Header {
    /// A fresh request header for `command`, all other fields zero.
    pub fn request(command: Command) -> Header {
        Header {
            credit_charge: 0,
            status: NtStatus::SUCCESS,
            command,
            credits: 0,
            flags: HeaderFlags(0),
            next_command: 0,
            message_id: 0,
            id: HeaderId::Sync {
                process_id: 0xFEFF,
                tree_id: 0,
            },
            session_id: 0,
            signature: [0; 16],
        }
    }

    /// True for a response (SERVER_TO_REDIR).
    pub fn is_response(&self) -> bool {
        self.flags.has(HeaderFlags::SERVER_TO_REDIR)
    }

    /// True for the async form.
    pub fn is_async(&self) -> bool {
        matches!(self.id, HeaderId::Async { .. })
    }

    /// The TreeId, or 0 in the async form.
    pub fn tree_id(&self) -> u32 {
        match self.id {
            HeaderId::Sync { tree_id, .. } => tree_id,
            HeaderId::Async { .. } => 0,
        }
    }

    /// The AsyncId, if this is the async form.
    pub fn async_id(&self) -> Option<u64> {
        match self.id {
            HeaderId::Async { async_id } => Some(async_id),
            HeaderId::Sync { .. } => None,
        }
    }

    /// ChannelSequence of a 3.x request (the low 16 bits of the status field).
    pub fn channel_sequence(&self) -> u16 {
        self.status.0 as u16
    }

    /// Set ChannelSequence of a 3.x request.
    pub fn set_channel_sequence(&mut self, seq: u16) {
        self.status = NtStatus(u32::from(seq));
    }

    /// Append the 64 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_slice(&PROTOCOL_ID);
        out.put_u16_le(HEADER_LEN as u16);
        out.put_u16_le(self.credit_charge);
        out.put_u32_le(self.status.0);
        out.put_u16_le(self.command as u16);
        out.put_u16_le(self.credits);
        let mut flags = self.flags;
        flags.set(HeaderFlags::ASYNC_COMMAND, self.is_async());
        out.put_u32_le(flags.0);
        out.put_u32_le(self.next_command);
        out.put_u64_le(self.message_id);
        match self.id {
            HeaderId::Sync {
                process_id,
                tree_id,
            } => {
                out.put_u32_le(process_id);
                out.put_u32_le(tree_id);
            }
            HeaderId::Async { async_id } => out.put_u64_le(async_id),
        }
        out.put_u64_le(self.session_id);
        out.put_slice(&self.signature);
    }

    /// Decode the header at the start of `msg`.
    pub fn decode(msg: &[u8]) -> DecodeResult<Header> {
        let mut r = Reader::new(msg);
        let proto = r.array::<4>()?;
        if proto != PROTOCOL_ID {
            return Err(DecodeError::BadField {
                field: "ProtocolId",
                value: u32::from_le_bytes(proto).into(),
            });
        }
        r.expect_u16("StructureSize", HEADER_LEN as u16)?;
        let credit_charge = r.u16()?;
        let status = NtStatus(r.u32()?);
        let raw_command = r.u16()?;
        let command = Command::from_u16(raw_command).ok_or(DecodeError::BadField {
            field: "Command",
            value: raw_command.into(),
        })?;
        let credits = r.u16()?;
        let flags = HeaderFlags(r.u32()?);
        let next_command = r.u32()?;
        let message_id = r.u64()?;
        let id = if flags.has(HeaderFlags::ASYNC_COMMAND) {
            HeaderId::Async { async_id: r.u64()? }
        } else {
            HeaderId::Sync {
                process_id: r.u32()?,
                tree_id: r.u32()?,
            }
        };
        let session_id = r.u64()?;
        let signature = r.array::<16>()?;
        Ok(Header {
            credit_charge,
            status,
            command,
            credits,
            flags,
            next_command,
            message_id,
            id,
            session_id,
            signature,
        })
    }
}

/// Byte range of the signature inside a header.
pub const SIGNATURE_RANGE: core::ops::Range<usize> = 48..64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_header_round_trips_byte_exact() {
        let mut h = Header::request(Command::Create);
        h.credit_charge = 1;
        h.credits = 256;
        h.message_id = 7;
        h.session_id = 0x1122_3344_5566_7788;
        h.id = HeaderId::Sync {
            process_id: 0xFEFF,
            tree_id: 5,
        };
        h.set_channel_sequence(3);
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), HEADER_LEN);
        assert_eq!(&out[..4], b"\xfeSMB");
        assert_eq!(&out[4..6], &[64, 0]);
        assert_eq!(&out[8..12], &[3, 0, 0, 0]);
        assert_eq!(&out[12..14], &[5, 0]);
        assert_eq!(&out[36..40], &[5, 0, 0, 0]);
        let back = Header::decode(&out).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.channel_sequence(), 3);
    }

    #[test]
    fn async_header_sets_flag_and_round_trips() {
        let mut h = Header::request(Command::Read);
        h.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR);
        h.id = HeaderId::Async { async_id: 0xABCD };
        h.status = NtStatus::PENDING;
        let mut out = Vec::new();
        h.encode(&mut out);
        let back = Header::decode(&out).unwrap();
        assert!(back.is_async() && back.is_response());
        assert_eq!(back.async_id(), Some(0xABCD));
        assert_eq!(back.status, NtStatus::PENDING);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(Header::decode(&[]).is_err());
        assert!(Header::decode(&[0xFE, b'S', b'M', b'B', 64]).is_err());
        let mut out = Vec::new();
        Header::request(Command::Echo).encode(&mut out);
        out[12] = 0x99; // unknown command
        assert!(Header::decode(&out).is_err());
        out[0] = 0xFF;
        assert!(Header::decode(&out).is_err());
    }
}
