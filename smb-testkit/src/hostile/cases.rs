//! The malicious-server suite: one misbehaviour per case, run on every runtime through the
//! scenarios' [`Harness`] (each adapter's `tests/hostile.rs` instantiates the list with
//! [`hostile_tests!`](crate::hostile_tests)); what every case checks is in [`super::suite`].

use super::suite::{
    Act, Field, Outcome, bounded, client_config, on, patched, plain, refused, right_or_refused,
    run, when, whole_file,
};
use super::{DIR, FILE, FILE_SIZE, HostileConfig, Reply, Script, Step, file_bytes, read_body};
use crate::frames;
use crate::scenarios::Harness;
use smb_core::client::ClientConfig;
use smb_core::wire::header::HeaderId;
use smb_core::wire::ioctl::IoctlRequest;
use smb_core::wire::query_directory::QueryDirectoryResponse;
use smb_core::wire::read::ReadRequest;
use smb_core::wire::write::WriteRequest;
use smb_core::wire::{Command, Decode, FileId, Header, HeaderFlags, NtStatus};
use std::io::ErrorKind as K;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MALFORMED: &[&str] = &["malformed", "invalid", "truncated", "offset", "protocol"];
const NOT_SMB: &[&str] = &["not an smb2", "not an smb"];
const BAD_DATA: &[K] = &[K::InvalidData];
const TIMED_OUT: &[K] = &[K::TimedOut];

// ---- framing and headers ----

/// A NetBIOS length of 0xFFFFFF (the protocol maximum), then silence: the configured frame
/// limit refuses it at once ("frame too long"), without reserving 16 MiB or waiting for the
/// timeout.
pub async fn hostile_netbios_length_max_then_silence<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        vec![Step::Bytes(vec![0, 0xFF, 0xFF, 0xFF]), Step::Hang]
    });
    let ran = plain(&h, "NetBIOS length 0xFFFFFF", s, Act::Connect).await;
    refused(ran, BAD_DATA, &["too long", "frame", "exceeds"]);
}

/// A frame too short for an SMB2 header.
pub async fn hostile_truncated_header<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        let mut f = vec![0xFE, b'S', b'M', b'B', 64, 0];
        f.resize(30, 0);
        vec![Step::Frame(f), Step::Hang]
    });
    let ran = plain(&h, "truncated header", s, Act::Connect).await;
    refused(ran, BAD_DATA, MALFORMED);
}

/// A response to a MessageId the client never sent (with other data) before the real READ
/// response: it is discarded ([MS-SMB2] 3.2.5.1.2) or refused, never taken for the READ.
pub async fn hostile_response_to_unsent_message_id<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let mut bogus = c.normal(r);
        for b in &mut bogus {
            b.header.message_id += 1000;
            b.body = read_body(&vec![0xEE; 4096]);
        }
        let first = c.finish(&bogus, r);
        vec![Step::Frame(first), Step::Normal]
    });
    let ran = plain(
        &h,
        "response to a MessageId never sent",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    right_or_refused(ran, &whole_file(), BAD_DATA, MALFORMED);
}

/// Every READ answered twice, the second time with other bytes: the duplicate is discarded
/// or refused, never used for another request.
pub async fn hostile_duplicate_response<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let real = c.normal(r);
        let mut dup = real.clone();
        for d in &mut dup {
            if d.header.status == NtStatus::SUCCESS {
                d.body = read_body(&vec![0xDD; 1024]);
            }
        }
        let first = c.finish(&real, r);
        let second = c.finish(&dup, r);
        vec![Step::Frame(first), Step::Frame(second)]
    });
    let ran = plain(&h, "duplicate response", s, Act::Read(FILE.into())).await;
    right_or_refused(ran, &whole_file(), BAD_DATA, MALFORMED);
}

/// NEGOTIATE chooses a dialect the client did not offer.
pub async fn hostile_dialect_not_offered<H: Harness>(h: H) {
    let cfg = HostileConfig {
        dialect: Some(smb_core::wire::negotiate::Dialect::Other(0x0222)),
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "dialect not offered",
        cfg,
        super::Behave,
        client_config(),
        Act::Connect,
    )
    .await;
    refused(ran, BAD_DATA, &["dialect"]);
}

/// NEGOTIATE with MaxReadSize, MaxWriteSize and MaxTransactSize 0: refused ([MS-SMB2]
/// 3.2.5.2: at least 65536), not turned into 1-byte READs.
pub async fn hostile_max_sizes_zero<H: Harness>(h: H) {
    let cfg = HostileConfig {
        max_read: 0,
        max_write: 0,
        max_transact: 0,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "MaxRead/MaxWrite/MaxTransact 0",
        cfg,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, BAD_DATA, &["max", "size"]);
}

/// NEGOTIATE with MaxTransactSize 0 only.
pub async fn hostile_max_transact_zero<H: Harness>(h: H) {
    let cfg = HostileConfig {
        max_transact: 0,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "MaxTransactSize 0",
        cfg,
        super::Behave,
        client_config(),
        Act::List(DIR.into()),
    )
    .await;
    refused(ran, BAD_DATA, &["max", "size", "transact"]);
}

/// NEGOTIATE with MaxReadSize 65535, one byte under the minimum.
pub async fn hostile_max_read_below_64k<H: Harness>(h: H) {
    let cfg = HostileConfig {
        max_read: 65535,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "MaxReadSize 65535",
        cfg,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, BAD_DATA, &["max", "size", "read"]);
}

/// NEGOTIATE whose SecurityBufferOffset/Length point past the end of the frame.
pub async fn hostile_negotiate_security_buffer_past_frame<H: Harness>(h: H) {
    // SecurityBufferLength: body offset 58 ([MS-SMB2] 2.2.4).
    let s = patched(Command::Negotiate, 58, Field::U16(0x4000));
    let ran = plain(
        &h,
        "NEGOTIATE security buffer past the frame",
        s,
        Act::Connect,
    )
    .await;
    refused(ran, BAD_DATA, MALFORMED);
}

/// SESSION_SETUP whose SecurityBufferOffset/Length point past the end of the frame.
pub async fn hostile_session_setup_security_buffer_past_frame<H: Harness>(h: H) {
    // SecurityBufferLength: body offset 6 ([MS-SMB2] 2.2.6).
    let s = patched(Command::SessionSetup, 6, Field::U16(0x4000));
    let ran = plain(
        &h,
        "SESSION_SETUP security buffer past the frame",
        s,
        Act::Connect,
    )
    .await;
    refused(ran, BAD_DATA, MALFORMED);
}

// ---- credits ----

/// Every response grants 0 credits: the client cannot send again and says so.
pub async fn hostile_zero_credits_forever<H: Harness>(h: H) {
    let cfg = HostileConfig {
        credits: Some(0),
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "zero credits forever",
        cfg,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::TimedOut], &["credit"]);
}

/// Every response grants 65535 credits: harmless, the file reads right in bounded memory.
pub async fn hostile_65535_credits<H: Harness>(h: H) {
    let cfg = HostileConfig {
        credits: Some(65535),
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "65535 credits",
        cfg,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    right_or_refused(ran, &whole_file(), BAD_DATA, &["credit"]);
}

// ---- silence and slowness ----

/// READ answered with STATUS_PENDING and never again: the request times out.
pub async fn hostile_pending_forever<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let mut interim = c.error(r, NtStatus::PENDING);
        interim.header.id = HeaderId::Async { async_id: 0x77 };
        vec![Step::Reply(interim)]
    });
    let ran = plain(&h, "STATUS_PENDING forever", s, Act::Read(FILE.into())).await;
    refused(ran, TIMED_OUT, &["timed out"]);
}

/// The server accepts the connection and never says a word.
pub async fn hostile_silence_after_connect<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| vec![Step::Hang]);
    let ran = plain(&h, "silence after connect", s, Act::Connect).await;
    refused(ran, TIMED_OUT, &["timed out", "did not answer", "negotiat"]);
}

/// The NEGOTIATE response one byte per second: the client gives up after its timeout.
pub async fn hostile_one_byte_per_second<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |c, r| {
        let replies = c.normal(r);
        let payload = c.finish(&replies, r);
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend(payload);
        vec![Step::Trickle(bytes, Duration::from_secs(1))]
    });
    let ran = plain(&h, "one byte per second", s, Act::Connect).await;
    refused(ran, TIMED_OUT, &["timed out", "did not answer", "negotiat"]);
}

/// The socket closes in the middle of a READ response (every time: a reconnect meets the
/// same). A connection error, or the open's loss with the connection (the server granted
/// no durable handle, so it cannot be reclaimed).
pub async fn hostile_closed_mid_read<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let replies = c.normal(r);
        let payload = c.finish(&replies, r);
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&payload[..payload.len() / 2]);
        vec![Step::Bytes(bytes), Step::Close]
    });
    let ran = plain(&h, "socket closed mid-READ", s, Act::Read(FILE.into())).await;
    refused(
        ran,
        &[
            K::ConnectionReset,
            K::ConnectionAborted,
            K::UnexpectedEof,
            K::BrokenPipe,
            K::NotConnected,
            K::InvalidInput,
        ],
        &["closed", "connection", "lost"],
    );
}

// ---- READ ----

/// READ responses whose DataOffset/DataLength point outside the frame.
pub async fn hostile_read_data_offset_outside_frame<H: Harness>(h: H) {
    // DataOffset (u8 at body offset 2, [MS-SMB2] 2.2.20) at the end of its range.
    let s = patched(Command::Read, 2, Field::U8(0xFF));
    let ran = plain(
        &h,
        "READ DataOffset outside the frame",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, BAD_DATA, MALFORMED);
}

/// READ answered with more data than asked for: a protocol error ([MS-SMB2] 3.2.5.10).
pub async fn hostile_read_more_than_asked<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let Ok(req) = ReadRequest::decode(&r.msg) else {
            return vec![Step::Normal];
        };
        if req.offset >= FILE_SIZE {
            return vec![Step::Normal];
        }
        let data = file_bytes(req.offset, req.length as usize + 4096);
        vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, read_body(&data)))]
    });
    let ran = plain(
        &h,
        "READ returns more than asked",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, BAD_DATA, &["read", "more", "asked", "requested"]);
}

/// Mid-file READs return half the bytes asked for (CREATE and QUERY_INFO say 300 KiB): the
/// client reads the rest or fails, never reports a truncated file as a success.
pub async fn hostile_short_read_half<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let Ok(req) = ReadRequest::decode(&r.msg) else {
            return vec![Step::Normal];
        };
        let left = FILE_SIZE.saturating_sub(req.offset);
        if left == 0 {
            return vec![Step::Normal];
        }
        let n = (u64::from(req.length).min(left) / 2).max(1);
        let data = file_bytes(req.offset, n as usize);
        vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, read_body(&data)))]
    });
    let ran = plain(
        &h,
        "short READ (half) before the end",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    right_or_refused(
        ran,
        &whole_file(),
        &[K::InvalidData, K::UnexpectedEof],
        &["read", "short", "end of file"],
    );
}

/// Mid-file READs return 0 bytes with STATUS_SUCCESS: a protocol error, never an empty (or
/// truncated) file reported as a success.
pub async fn hostile_short_read_zero<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, read_body(&[])))]
    });
    let ran = plain(
        &h,
        "READ of 0 bytes with STATUS_SUCCESS",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    refused(
        ran,
        &[K::InvalidData, K::UnexpectedEof],
        &["read", "0 bytes", "short", "end of file"],
    );
}

/// A file of EndOfFile 2^63: the whole-file read refuses it (or is stopped by a cap) instead
/// of reserving by the server's size and reading until memory runs out.
pub async fn hostile_end_of_file_2_pow_63<H: Harness>(h: H) {
    let cfg = HostileConfig {
        files: vec![("huge.bin".into(), 1 << 63)],
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "EndOfFile 2^63 (whole-file read)",
        cfg,
        super::Behave,
        client_config(),
        Act::ReadWhole("huge.bin".into()),
    )
    .await;
    refused(
        ran,
        &[
            K::InvalidData,
            K::OutOfMemory,
            K::FileTooLarge,
            K::Unsupported,
        ],
        &["large", "size", "limit"],
    );
}

/// A file of EndOfFile 2^63: stat reports the size and a read near its end gets the right
/// bytes (nothing is sized by EndOfFile).
pub async fn hostile_end_of_file_2_pow_63_tail<H: Harness>(h: H) {
    let cfg = HostileConfig {
        files: vec![("huge.bin".into(), 1 << 63)],
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "EndOfFile 2^63 (read of the tail)",
        cfg,
        super::Behave,
        client_config(),
        Act::ReadRange("huge.bin".into(), -1000, 1000),
    )
    .await;
    let good = Outcome::Data(file_bytes((1 << 63) - 1000, 1000));
    right_or_refused(ran, &good, BAD_DATA, &["size", "large"]);
}

// ---- directories ----

/// A page of [`DIR`] whose first entry's NextEntryOffset is `next`: the page starts after
/// the 8-byte fixed body and NextEntryOffset is its first field ([MS-FSCC] 2.4.17).
fn dir_with_next_entry(next: u32) -> impl Script {
    patched(Command::QueryDirectory, 8, Field::U32(next))
}

/// A listing of [`DIR`] (50 entries) whose first NextEntryOffset is `next` is refused.
async fn dir_next_entry_case<H: Harness>(h: H, name: &'static str, next: u32) {
    let cfg = HostileConfig {
        dir_entries: 50,
        ..HostileConfig::default()
    };
    let s = dir_with_next_entry(next);
    let ran = run(&h, name, cfg, s, client_config(), Act::List(DIR.into())).await;
    refused(
        ran,
        BAD_DATA,
        &["malformed", "entry", "directory", "offset"],
    );
}

/// Directory entries whose NextEntryOffset does not advance past an entry (4: each entry
/// would overlap the last, a walk that trusts it loops over the same bytes).
pub async fn hostile_dir_next_entry_loops<H: Harness>(h: H) {
    dir_next_entry_case(h, "NextEntryOffset that loops", 4).await
}

/// Directory entries whose NextEntryOffset runs past the buffer.
pub async fn hostile_dir_next_entry_past_buffer<H: Harness>(h: H) {
    dir_next_entry_case(h, "NextEntryOffset past the buffer", 0x0010_0000).await
}

/// A listing that never ends: every QUERY_DIRECTORY gets the first page again, never
/// STATUS_NO_MORE_FILES. The client detects the repetition (or caps the entries) and fails.
pub async fn hostile_listing_never_ends<H: Harness>(h: H) {
    let cfg = HostileConfig {
        dir_entries: 200,
        ..HostileConfig::default()
    };
    let s = when(Command::QueryDirectory, |c, r| {
        let Some(q) = super::parse_query_directory(&r.msg) else {
            return vec![Step::Normal];
        };
        let (page, _) = c.dir_page(q.class, 0, q.output_len as usize);
        let b = super::body(&QueryDirectoryResponse { buffer: &page });
        vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, b))]
    });
    let ran = run(
        &h,
        "a listing that never ends",
        cfg,
        s,
        client_config(),
        Act::List(DIR.into()),
    )
    .await;
    refused(
        ran,
        BAD_DATA,
        &["director", "listing", "page", "entries", "repeat"],
    );
}

/// A directory of 100,000 entries: listed completely and right, or refused by a typed cap,
/// in bounded memory.
pub async fn hostile_100000_entries<H: Harness>(h: H) {
    let cfg = HostileConfig {
        dir_entries: 100_000,
        ..HostileConfig::default()
    };
    let good = Outcome::Names((0..100_000).map(|i| super::dir_entry(i).name).collect());
    let ran = run(
        &h,
        "100,000 directory entries",
        cfg,
        super::Behave,
        client_config(),
        Act::List(DIR.into()),
    )
    .await;
    right_or_refused(ran, &good, BAD_DATA, &["entries", "too many", "limit"]);
}

// ---- compounds and error responses ----

/// The answers to a compound request (the stat: CREATE + QUERY_INFO + CLOSE) in one chain
/// whose NextCommand fields are set by `next(offset of the message, its NextCommand, chain
/// length)`; the last message keeps NextCommand 0.
fn chain_with_next(next: fn(usize, u32, usize) -> u32) -> impl Script {
    let mut held: Vec<Reply> = Vec::new();
    on(move |c, r| {
        let in_chain =
            r.header.next_command != 0 || r.header.flags.has(HeaderFlags::RELATED_OPERATIONS);
        if !in_chain {
            return vec![Step::Normal];
        }
        held.extend(c.normal(r));
        if r.header.next_command != 0 {
            return Vec::new();
        }
        let replies = std::mem::take(&mut held);
        let mut payload = c.finish(&replies, r);
        let offsets = frames::message_offsets(&payload);
        let len = payload.len();
        for &off in &offsets[..offsets.len().saturating_sub(1)] {
            frames::patch_header(&mut payload, off, |h| {
                h.next_command = next(off, h.next_command, len)
            });
        }
        vec![Step::Frame(payload)]
    })
}

/// The stat compound answered by [`chain_with_next`]`(next)` is refused.
async fn chain_case<H: Harness>(h: H, name: &'static str, next: fn(usize, u32, usize) -> u32) {
    let ran = plain(&h, name, chain_with_next(next), Act::Stat(FILE.into())).await;
    refused(
        ran,
        BAD_DATA,
        &["malformed", "nextcommand", "compound", "offset", "protocol"],
    );
}

/// A compound response whose second NextCommand wraps around to the first header (a walk
/// in 32-bit arithmetic would loop forever).
pub async fn hostile_compound_next_command_loops<H: Harness>(h: H) {
    chain_case(h, "compound NextCommand that loops", |off, cur, _| {
        if off == 0 {
            cur
        } else {
            (off as u32).wrapping_neg()
        }
    })
    .await
}

/// A compound response whose first NextCommand points past the end of the frame.
pub async fn hostile_compound_next_command_past_end<H: Harness>(h: H) {
    chain_case(h, "compound NextCommand past the end", |off, cur, len| {
        if off == 0 { len as u32 + 64 } else { cur }
    })
    .await
}

/// An error response (to the CREATE of a missing file) whose ByteCount claims 4 GiB of
/// error data: the error is reported (as the status, or as malformed), nothing is sized by
/// it.
pub async fn hostile_error_huge_byte_count<H: Harness>(h: H) {
    // ERROR ([MS-SMB2] 2.2.2): StructureSize, ErrorContextCount, Reserved, ByteCount at 4.
    let s = patched(Command::Create, 4, Field::U32(u32::MAX));
    let ran = plain(
        &h,
        "error response with a huge ByteCount",
        s,
        Act::Stat("missing.txt".into()),
    )
    .await;
    refused(
        ran,
        &[K::NotFound, K::InvalidData],
        &["not found", "no such file", "malformed", "bytecount"],
    );
}

// ---- not an SMB server, or not this one ----

/// 100 MB of garbage in answer to NEGOTIATE: refused at the first bad frame, without
/// buffering it.
pub async fn hostile_100mb_garbage<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        vec![Step::Garbage(100_000_000), Step::Close]
    });
    let ran = plain(&h, "100 MB of garbage", s, Act::Connect).await;
    refused(
        ran,
        BAD_DATA,
        &["not an smb", "malformed", "invalid", "too long", "frame"],
    );
}

/// An SMB1 NEGOTIATE response: "not an SMB2/3 server".
pub async fn hostile_smb1_header<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        let mut f = vec![0xFF, b'S', b'M', b'B', 0x72];
        f.resize(40, 0);
        vec![Step::Frame(f), Step::Hang]
    });
    let ran = plain(&h, "SMB1 header", s, Act::Connect).await;
    refused(ran, BAD_DATA, NOT_SMB);
}

/// An HTTP server on the port: "not an SMB2/3 server".
pub async fn hostile_http_answer<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        vec![
            Step::Bytes(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            ),
            Step::Close,
        ]
    });
    let ran = plain(&h, "HTTP answer", s, Act::Connect).await;
    refused(ran, BAD_DATA, NOT_SMB);
}

/// A TRANSFORM header in answer to NEGOTIATE (nothing negotiated, no keys): named as such,
/// not "access denied" nor "for another session".
pub async fn hostile_transform_before_negotiation<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        let mut f = smb_core::wire::transform::TRANSFORM_PROTOCOL_ID.to_vec();
        f.resize(52 + 100, 0x11);
        vec![Step::Frame(f), Step::Hang]
    });
    let ran = plain(&h, "TRANSFORM before negotiation", s, Act::Connect).await;
    let e = refused(ran, BAD_DATA, &["transform", "encrypt"]);
    let lower = e.to_string().to_lowercase();
    assert!(
        !lower.contains("access denied") && !lower.contains("another session"),
        "a TRANSFORM before any session must not read as {e:?}"
    );
}

/// TREE_CONNECT answers ShareType 0x77 (neither disk, pipe nor print).
pub async fn hostile_invalid_share_type<H: Harness>(h: H) {
    let cfg = HostileConfig {
        share_type: 0x77,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "invalid ShareType",
        cfg,
        super::Behave,
        client_config(),
        Act::Share,
    )
    .await;
    refused(ran, BAD_DATA, &["share type", "sharetype", "share"]);
}

/// An oplock break for a FileId the client never opened, before a READ's answer: ignored
/// (no acknowledgment for it, the read is right) or refused.
pub async fn hostile_break_for_unknown_file_id<H: Harness>(h: H) {
    let s = when(Command::Read, |_, r| {
        let mut hb = frames::response_header(&r.header, NtStatus::SUCCESS, 0);
        hb.command = Command::OplockBreak;
        hb.message_id = u64::MAX;
        hb.session_id = 0;
        hb.id = HeaderId::Sync {
            process_id: 0,
            tree_id: 0,
        };
        let brk = smb_core::wire::oplock_break::OplockBreak {
            oplock_level: smb_core::wire::create::OplockLevel::from_u8(1),
            file_id: FileId {
                persistent: 0xDEAD,
                volatile: 0xBEEF,
            },
        };
        let msg = frames::message(&hb, &brk);
        vec![Step::Frame(msg), Step::Normal]
    });
    let ran = plain(&h, "break for an unknown FileId", s, Act::Read(FILE.into())).await;
    let acked = ran
        .server
        .requests()
        .iter()
        .filter(|h| h.command == Command::OplockBreak)
        .count();
    assert_eq!(
        acked, 0,
        "the client acknowledged a break for a FileId it never opened"
    );
    right_or_refused(ran, &whole_file(), BAD_DATA, MALFORMED);
}

// ---- encryption, with the server's real keys ----

/// An encrypted session whose READ responses are sealed after `edit` changed the
/// TRANSFORM_HEADER (so the AEAD verifies: only the client's field checks can refuse it),
/// or whose plaintext `inner` edit changes the message first.
fn sealed_read(
    edit: fn(&mut smb_core::wire::transform::TransformHeader),
    inner: fn(&mut Header),
) -> impl Script {
    when(Command::Read, move |c, r| {
        let replies = c.normal(r);
        let mut plain = Vec::new();
        for rep in &replies {
            let mut h = rep.header;
            inner(&mut h);
            plain = frames::message_bytes(&h, &rep.body);
        }
        match c.seal(&plain, edit) {
            Some(f) => vec![Step::Frame(f)],
            None => vec![Step::Normal],
        }
    })
}

fn encrypted_cfg() -> (HostileConfig, ClientConfig) {
    (
        HostileConfig {
            encrypt: true,
            ..HostileConfig::default()
        },
        client_config().with_require_encryption(true),
    )
}

const TRANSFORM_WORDS: &[&str] = &[
    "transform",
    "encrypt",
    "flags",
    "session",
    "originalmessagesize",
    "decrypt",
];

/// A sealed READ response with TRANSFORM_HEADER Flags 0x0002 ([MS-SMB2] 3.2.5.1.1.1: 0x0001).
pub async fn hostile_transform_wrong_flags<H: Harness>(h: H) {
    let (cfg, client) = encrypted_cfg();
    let s = sealed_read(|t| t.flags = 2, |_| {});
    let ran = run(
        &h,
        "sealed TRANSFORM with Flags 0x0002",
        cfg,
        s,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::PermissionDenied], TRANSFORM_WORDS);
}

/// A sealed READ response whose OriginalMessageSize is one less than what it carries.
pub async fn hostile_transform_wrong_original_size<H: Harness>(h: H) {
    let (cfg, client) = encrypted_cfg();
    let s = sealed_read(|t| t.original_message_size -= 1, |_| {});
    let ran = run(
        &h,
        "sealed TRANSFORM with a wrong OriginalMessageSize",
        cfg,
        s,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::PermissionDenied], TRANSFORM_WORDS);
}

/// A sealed READ response whose TRANSFORM_HEADER names another SessionId.
pub async fn hostile_transform_other_session<H: Harness>(h: H) {
    let (cfg, client) = encrypted_cfg();
    let s = sealed_read(|t| t.session_id ^= 0xFF00, |_| {});
    let ran = run(
        &h,
        "sealed TRANSFORM for another SessionId",
        cfg,
        s,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::PermissionDenied], TRANSFORM_WORDS);
}

/// A sealed READ response whose decrypted message carries another SessionId than the
/// TRANSFORM_HEADER's.
pub async fn hostile_transform_inner_session_mismatch<H: Harness>(h: H) {
    let (cfg, client) = encrypted_cfg();
    let s = sealed_read(|_| {}, |h| h.session_id ^= 0xFF00);
    let ran = run(
        &h,
        "decrypted message of another session",
        cfg,
        s,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::PermissionDenied], TRANSFORM_WORDS);
}

// ---- a strict server: what the client's requests must look like ----

/// Every request's command, CreditCharge and payload, as the server received them.
type Charges = Arc<Mutex<Vec<(Command, u16, u64)>>>;

/// The payload size CreditCharge is computed from ([MS-SMB2] 3.2.4.1.5: the larger of what
/// the request sends and what it may get back), for the multi-credit commands.
fn payload(r: &super::Request) -> Option<u64> {
    let m = &r.msg;
    match r.header.command {
        Command::Read => ReadRequest::decode(m).ok().map(|q| q.length.into()),
        Command::Write => WriteRequest::decode(m).ok().map(|w| w.data.len() as u64),
        Command::QueryDirectory => super::parse_query_directory(m).map(|q| q.output_len.into()),
        Command::Ioctl => IoctlRequest::decode(m)
            .ok()
            .map(|i| (i.input.len() as u64).max(i.max_output_response.into())),
        _ => None,
    }
}

/// Behave, and note every request's charge and payload in `charges`.
fn recording(charges: Charges) -> impl Script {
    on(move |_, r| {
        let p = payload(r).unwrap_or(0);
        charges.lock().unwrap_or_else(|e| e.into_inner()).push((
            r.header.command,
            r.header.credit_charge,
            p,
        ));
        vec![Step::Normal]
    })
}

/// Read, write and list with `cfg`, recording each request; the data must be right.
async fn traffic<H: Harness>(h: &H, name: &'static str, cfg: HostileConfig) -> Charges {
    let charges = Charges::default();
    let acts = [
        (Act::Read(FILE.into()), whole_file()),
        (Act::Write("new.bin".into(), 300_000), Outcome::Done),
        (
            Act::List(DIR.into()),
            Outcome::Names((0..3).map(|i| super::dir_entry(i).name).collect()),
        ),
    ];
    for (act, good) in acts {
        let ran = run(
            h,
            name,
            cfg.clone(),
            recording(charges.clone()),
            client_config(),
            act,
        )
        .await;
        right_or_refused(ran, &good, &[], &[]);
    }
    charges
}

/// With SMB2_GLOBAL_CAP_LARGE_MTU, CreditCharge follows the payload ([MS-SMB2] 3.2.4.1.5):
/// 1 + (size - 1) / 64 KiB for READ, WRITE, QUERY_DIRECTORY and IOCTL, 1 for the rest.
pub async fn hostile_credit_charge_follows_payload<H: Harness>(h: H) {
    let charges = traffic(
        &h,
        "CreditCharge against the payload",
        HostileConfig::default(),
    )
    .await;
    let charges = charges.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let wrong: Vec<String> = charges
        .iter()
        .filter(|(c, _, _)| !matches!(c, Command::Negotiate | Command::Cancel))
        .filter_map(|&(c, charge, size)| {
            let multi = matches!(
                c,
                Command::Read | Command::Write | Command::QueryDirectory | Command::Ioctl
            );
            let want = if multi {
                size.saturating_sub(1) / 65536 + 1
            } else {
                1
            };
            (u64::from(charge) != want)
                .then(|| format!("{c} charge {charge} for {size} bytes (want {want})"))
        })
        .collect();
    assert!(
        charges
            .iter()
            .any(|(c, _, size)| *c == Command::Read && *size > 65536),
        "no READ over 64 KiB: {charges:?}"
    );
    assert!(wrong.is_empty(), "wrong CreditCharge: {wrong:?}");
}

/// Without SMB2_GLOBAL_CAP_LARGE_MTU, no payload is over 64 KiB and no request charges
/// more than one credit ([MS-SMB2] 3.2.4.1.5); the data is still right.
pub async fn hostile_no_large_mtu_limits_payloads<H: Harness>(h: H) {
    let cfg = HostileConfig {
        large_mtu: false,
        ..HostileConfig::default()
    };
    let charges = traffic(&h, "no LARGE_MTU", cfg).await;
    let charges = charges.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let wrong: Vec<String> = charges
        .iter()
        .filter(|(_, charge, size)| *charge > 1 || *size > 65536)
        .map(|(c, charge, size)| format!("{c} charge {charge} for {size} bytes"))
        .collect();
    assert!(
        wrong.is_empty(),
        "a server without LARGE_MTU got multi-credit or over-64-KiB requests: {wrong:?}"
    );
}

/// A 3.1.1 server that picks HMAC-SHA256 in SIGNING_CAPABILITIES (the client offers it)
/// and requires signing: the session signs with it and works ([MS-SMB2] 2.2.3.1.7 allows
/// it), or the client does not offer it in the first place.
pub async fn hostile_server_picks_hmac_sha256_signing<H: Harness>(h: H) {
    use smb_core::wire::negotiate::{NegotiateContext, NegotiateRequest, SigningAlgorithm};
    let cfg = HostileConfig {
        require_signing: true,
        signing_algorithms: vec![SigningAlgorithm::HmacSha256],
        ..HostileConfig::default()
    };
    let offered = Arc::new(Mutex::new(None::<bool>));
    let o2 = offered.clone();
    let s = on(move |_, r| {
        if let Ok(n) = NegotiateRequest::decode(&r.msg) {
            let hmac = n.contexts.iter().any(|c| {
                matches!(c, NegotiateContext::Signing { algorithms } if algorithms.contains(&SigningAlgorithm::HmacSha256))
            });
            *o2.lock().unwrap_or_else(|e| e.into_inner()) = Some(hmac);
        }
        vec![Step::Normal]
    });
    let ran = run(
        &h,
        "server picks HMAC-SHA256 signing",
        cfg,
        s,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    let offered = offered
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(false);
    eprintln!("the client offered HMAC-SHA256 in SIGNING_CAPABILITIES: {offered}");
    match &ran.result {
        Ok(_) => right_or_refused(ran, &whole_file(), &[], &[]),
        Err(e) => panic!(
            "the client offered HMAC-SHA256 ({offered}) and failed when the server chose it: {e}"
        ),
    }
}

/// The default server behaves: the suite's own control (login, share, read, list, stat
/// all right), so a refusal in the other cases is the misbehaviour's doing.
pub async fn hostile_control_well_behaved<H: Harness>(h: H) {
    for (name, act, good) in [
        ("control: read", Act::Read(FILE.into()), whole_file()),
        (
            "control: list",
            Act::List(DIR.into()),
            Outcome::Names((0..3).map(|i| super::dir_entry(i).name).collect()),
        ),
        (
            "control: stat",
            Act::Stat(FILE.into()),
            Outcome::Meta(FILE_SIZE, false),
        ),
    ] {
        let ran = run(
            &h,
            name,
            HostileConfig::default(),
            super::Behave,
            client_config(),
            act,
        )
        .await;
        let ok = ran.result.as_ref().map_err(|e| e.to_string()).cloned();
        assert_eq!(ok.as_ref(), Ok(&good), "{name}");
        bounded(&ran);
    }
    let (cfg, client) = encrypted_cfg();
    let ran = run(
        &h,
        "control: encrypted read",
        cfg,
        super::Behave,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    let ok = ran.result.as_ref().map_err(|e| e.to_string()).cloned();
    assert_eq!(ok, Ok(whole_file()), "encrypted control read");
    let signed = HostileConfig {
        require_signing: true,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "control: signed read",
        signed,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    let ok = ran.result.as_ref().map_err(|e| e.to_string()).cloned();
    assert_eq!(ok, Ok(whole_file()), "signed control read");
    let requests = ran.server.requests();
    assert!(
        requests
            .iter()
            .filter(|h| h.command == Command::Read)
            .all(|h| h.flags.has(HeaderFlags::SIGNED)),
        "READs on a signed session must be signed"
    );
}

/// Instantiate every malicious-server case as a `#[test]` for a harness expression.
#[macro_export]
macro_rules! hostile_tests {
    ($harness:expr) => {
        $crate::hostile_tests!(@each $harness;
            hostile_control_well_behaved,
            hostile_netbios_length_max_then_silence, hostile_truncated_header,
            hostile_response_to_unsent_message_id, hostile_duplicate_response,
            hostile_dialect_not_offered, hostile_max_sizes_zero, hostile_max_transact_zero,
            hostile_max_read_below_64k, hostile_negotiate_security_buffer_past_frame,
            hostile_session_setup_security_buffer_past_frame, hostile_zero_credits_forever,
            hostile_65535_credits, hostile_pending_forever, hostile_silence_after_connect,
            hostile_one_byte_per_second, hostile_closed_mid_read,
            hostile_read_data_offset_outside_frame, hostile_read_more_than_asked,
            hostile_short_read_half, hostile_short_read_zero, hostile_end_of_file_2_pow_63,
            hostile_end_of_file_2_pow_63_tail, hostile_dir_next_entry_loops,
            hostile_dir_next_entry_past_buffer, hostile_listing_never_ends,
            hostile_100000_entries, hostile_compound_next_command_loops,
            hostile_compound_next_command_past_end, hostile_error_huge_byte_count,
            hostile_100mb_garbage, hostile_smb1_header, hostile_http_answer,
            hostile_transform_before_negotiation, hostile_invalid_share_type,
            hostile_break_for_unknown_file_id, hostile_transform_wrong_flags,
            hostile_transform_wrong_original_size, hostile_transform_other_session,
            hostile_transform_inner_session_mismatch, hostile_credit_charge_follows_payload,
            hostile_no_large_mtu_limits_payloads, hostile_server_picks_hmac_sha256_signing,
            hostile_rpc_bind_ack_truncated, hostile_rpc_bind_ack_bogus_frag_length,
            hostile_rpc_response_bogus_count, hostile_rpc_fault,
            hostile_stalled_writes_backpressure, hostile_dfs_referral_to_itself_forever,
            hostile_dfs_path_consumed_past_the_path, hostile_dfs_entry_size_past_the_buffer,
            hostile_dfs_referral_to_unknown_host, hostile_slow_event_subscriber);
    };
    (@each $harness:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let h = $harness;
                let h2 = h.clone();
                $crate::scenarios::Harness::block_on(&h, Box::pin($crate::hostile::$name(h2)));
            }
        )*
    };
}
