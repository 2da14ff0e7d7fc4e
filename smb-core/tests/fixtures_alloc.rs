//! Decoding never panics and never trusts a length, count or offset from the wire: every
//! decoder of every family is run on the captured Samba fixtures, on the fixtures with
//! every 16/32-bit field in turn replaced by a huge value (lengths, counts and offsets
//! claiming up to 2^32 elements), and on small hand-made messages per family that claim
//! huge counts and must be rejected.

use smb_core::wire::create_context::{self, TypedContext};
use smb_core::wire::fscc::*;
use smb_core::wire::ioctl::{self, IoctlData};
use smb_core::wire::security::{SecurityDescriptor, Sid};
use smb_core::wire::{
    Command, Decode, Header, HeaderFlags, cancel, change_notify, close, compound, create, echo,
    error, flush, lock, logoff, negotiate, oplock_break, query_directory, query_info, read,
    session_setup, set_info, transform, tree_connect, write,
};
use std::path::Path;

// The workspace forbids unsafe code, tests included, so there is no counting global
// allocator here. The 32-bit claims below (2^32 elements or bytes) would abort the test
// with an allocation failure if a decoder trusted them; the allocation bound as a whole is
// checked by the fuzz targets, run with libFuzzer's `-malloc_limit_mb`, which reports any
// single allocation over the limit as a crash.

/// Run one decode call on `input` (the name and input document the call site).
macro_rules! run {
    ($what:expr, $input:expr, $call:expr) => {{
        let _input: &[u8] = $input;
        let _what: &str = $what;
        let _ = $call;
    }};
}

/// Every decoder of every family on `msg` as a whole message, and every payload decoder
/// on its body (the bytes after the header) as a raw buffer.
fn decode_everything(what: &str, msg: &[u8]) {
    macro_rules! msgs {
        ($($t:ty),* $(,)?) => { $( run!(what, msg, <$t>::decode(msg)); )* };
    }
    msgs!(
        negotiate::NegotiateRequest,
        negotiate::NegotiateResponse,
        session_setup::SessionSetupRequest,
        session_setup::SessionSetupResponse,
        logoff::LogoffRequest,
        logoff::LogoffResponse,
        tree_connect::TreeConnectRequest,
        tree_connect::TreeConnectResponse,
        tree_connect::TreeDisconnectRequest,
        tree_connect::TreeDisconnectResponse,
        echo::EchoRequest,
        echo::EchoResponse,
        cancel::CancelRequest,
        error::ErrorResponse,
        create::CreateRequest,
        create::CreateResponse,
        close::CloseRequest,
        close::CloseResponse,
        flush::FlushRequest,
        flush::FlushResponse,
        read::ReadRequest,
        read::ReadResponse,
        write::WriteRequest,
        write::WriteResponse,
        lock::LockRequest,
        lock::LockResponse,
        ioctl::IoctlRequest,
        ioctl::IoctlResponse,
        oplock_break::OplockBreakMessage,
        query_directory::QueryDirectoryRequest,
        query_directory::QueryDirectoryResponse,
        change_notify::ChangeNotifyRequest,
        change_notify::ChangeNotifyResponse,
        query_info::QueryInfoRequest,
        query_info::QueryInfoResponse,
        set_info::SetInfoRequest,
        set_info::SetInfoResponse,
    );
    run!(what, msg, Header::decode(msg));
    run!(what, msg, compound::split_chain(msg));
    run!(what, msg, transform::TransformHeader::split(msg));
    run!(
        what,
        msg,
        transform::CompressionTransformHeader::decode(msg)
    );
    if let Ok(e) = error::ErrorResponse::decode(msg) {
        for st in [
            smb_core::wire::NtStatus::STOPPED_ON_SYMLINK,
            smb_core::wire::NtStatus::BUFFER_TOO_SMALL,
        ] {
            run!(what, msg, e.detail(st));
        }
    }
    let body = msg.get(64..).unwrap_or(&[]);
    payloads(what, body);
}

/// Every decoder of a raw payload (create contexts, FSCTL data, FSCC structures, security
/// descriptors, directory pages, notify buffers, negotiate contexts, symlink error data).
fn payloads(what: &str, b: &[u8]) {
    macro_rules! fscc {
        ($($t:ty),* $(,)?) => { $( run!(what, b, <$t as FsccInfo>::decode(b)); )* };
    }
    fscc!(
        FileBasicInformation,
        FileStandardInformation,
        FileInternalInformation,
        FileEaInformation,
        FileAccessInformation,
        FilePositionInformation,
        FileModeInformation,
        FileAlignmentInformation,
        FileNameInformation,
        FileAllInformation,
        FileNetworkOpenInformation,
        FileAttributeTagInformation,
        FileEndOfFileInformation,
        FileAllocationInformation,
        FileRenameInformation,
        FileDispositionInformation,
        FileStreamInformation,
        FileFsVolumeInformation,
        FileFsSizeInformation,
        FileFsFullSizeInformation,
        FileFsAttributeInformation,
        FileFsSectorSizeInformation,
        FileFsDeviceInformation,
    );
    macro_rules! ctx {
        ($($t:ty),* $(,)?) => { $( run!(what, b, <$t as TypedContext>::parse(b)); )* };
    }
    ctx!(
        create_context::SecurityDescriptorContext,
        create_context::DurableHandleRequest,
        create_context::DurableHandleResponse,
        create_context::DurableHandleReconnect,
        create_context::DurableHandleRequestV2,
        create_context::DurableHandleResponseV2,
        create_context::DurableHandleReconnectV2,
        create_context::MaximalAccessRequest,
        create_context::MaximalAccessResponse,
        create_context::AllocationSize,
        create_context::TimewarpToken,
        create_context::QueryOnDiskIdRequest,
        create_context::QueryOnDiskId,
        create_context::Lease,
        create_context::AppInstanceId,
    );
    run!(what, b, create_context::decode_chain(b));
    macro_rules! fsctl {
        ($($t:ty),* $(,)?) => { $( run!(what, b, <$t>::decode_data(b)); )* };
    }
    fsctl!(
        ioctl::ValidateNegotiateInfoRequest,
        ioctl::ValidateNegotiateInfoResponse,
        ioctl::NetworkInterfaceInfoList,
        ioctl::ResumeKeyResponse,
        ioctl::CopyChunkCopy,
        ioctl::CopyChunkResponse,
        ioctl::PipeTransceive,
        ioctl::DfsReferralRequest,
        ioctl::DfsReferralResponse,
    );
    run!(what, b, Sid::parse(b));
    run!(what, b, SecurityDescriptor::decode(b));
    for class in 0..=70u8 {
        run!(
            what,
            b,
            query_directory::DirectoryEntries::new(b, FileInfoClass(class)).count()
        );
    }
    run!(what, b, change_notify::NotifyEntries::new(b).count());
    for ty in 0..10u16 {
        run!(what, b, negotiate::NegotiateContext::decode_data(ty, b));
    }
    run!(what, b, error::SymlinkError::decode(b));
    run!(what, b, transform::PatternV1::decode(b));
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samba");
    let index = std::fs::read_to_string(dir.join("index.tsv")).unwrap();
    index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f = l.split('\t').next().unwrap().to_string();
            let b = std::fs::read(dir.join(&f)).unwrap();
            (f, b)
        })
        .collect()
}

#[test]
fn captured_messages_decode_within_bounds() {
    for (f, b) in fixtures() {
        decode_everything(&f, &b);
    }
}

/// Each 16-bit and 32-bit field of each fixture's first 256 body bytes in turn set to a
/// huge value: every length, count and offset from the wire gets its turn at claiming
/// far more than is there.
#[test]
fn huge_fields_in_captured_messages_are_bounded() {
    let mut seen = std::collections::BTreeSet::new();
    for (f, b) in fixtures() {
        // One fixture per (command, direction, length) keeps the run short.
        let h = Header::decode(&b).unwrap();
        if !seen.insert((h.command.name(), h.is_response(), b.len())) {
            continue;
        }
        let end = b.len().min(64 + 256);
        for pos in 64..end {
            for v in [u32::MAX, 0x8000_0000, 0x0001_0000] {
                let mut m = b.clone();
                let n = (m.len() - pos).min(4);
                m[pos..pos + n].copy_from_slice(&v.to_le_bytes()[..n]);
                decode_everything(&f, &m);
            }
            if pos + 2 <= b.len() {
                let mut m = b.clone();
                m[pos..pos + 2].copy_from_slice(&[0xff, 0xff]);
                decode_everything(&f, &m);
            }
        }
    }
}

/// A message of `cmd` with `body`, padded with zeros to `total` bytes.
fn crafted(cmd: Command, response: bool, body: &[u8], total: usize) -> Vec<u8> {
    let mut h = Header::request(cmd);
    if response {
        h.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR);
    }
    let mut m = Vec::new();
    h.encode(&mut m);
    m.extend_from_slice(body);
    m.resize(total.max(m.len()), 0);
    m
}

fn put16(m: &mut [u8], at: usize, v: u16) {
    m[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(m: &mut [u8], at: usize, v: u32) {
    m[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// One small message per decoder family claiming a huge number of elements or a huge
/// length: each is rejected, and within the allocation bound.
#[test]
fn huge_claims_are_rejected_without_large_allocations() {
    // Session family: NEGOTIATE request with DialectCount 0xFFFF and a context count.
    let mut m = crafted(Command::Negotiate, false, &[36, 0], 100);
    put16(&mut m, 64 + 2, 0xffff);
    run!("negotiate", &m, negotiate::NegotiateRequest::decode(&m));
    assert!(negotiate::NegotiateRequest::decode(&m).is_err());
    // NEGOTIATE response: SecurityBufferLength 0xFFFF, NegotiateContextCount 0xFFFF.
    let mut m = crafted(Command::Negotiate, true, &[65, 0], 140);
    put16(&mut m, 64 + 4, 0x0311);
    put16(&mut m, 64 + 6, 0xffff);
    put16(&mut m, 64 + 56, 128);
    put16(&mut m, 64 + 58, 0xffff);
    put32(&mut m, 64 + 60, 136);
    run!(
        "negotiate resp",
        &m,
        negotiate::NegotiateResponse::decode(&m)
    );
    assert!(negotiate::NegotiateResponse::decode(&m).is_err());
    // SESSION_SETUP response with SecurityBufferLength 0xFFFF.
    let mut m = crafted(Command::SessionSetup, true, &[9, 0], 100);
    put16(&mut m, 64 + 4, 72);
    put16(&mut m, 64 + 6, 0xffff);
    run!(
        "session",
        &m,
        session_setup::SessionSetupResponse::decode(&m)
    );
    assert!(session_setup::SessionSetupResponse::decode(&m).is_err());
    // ERROR with ErrorContextCount 255 and ByteCount 2^32-1.
    let mut m = crafted(Command::Create, true, &[9, 0, 255, 0], 100);
    put32(&mut m, 64 + 4, u32::MAX);
    run!("error", &m, error::ErrorResponse::decode(&m));
    assert!(error::ErrorResponse::decode(&m).is_err());

    // File family: LOCK request with LockCount 0xFFFF.
    let mut m = crafted(Command::Lock, false, &[48, 0, 0xff, 0xff], 100);
    put16(&mut m, 64 + 2, 0xffff);
    run!("lock", &m, lock::LockRequest::decode(&m));
    assert!(lock::LockRequest::decode(&m).is_err());
    // CREATE request with NameLength 0xFFFF and CreateContextsLength 2^32-1.
    let mut m = crafted(Command::Create, false, &[57, 0], 128);
    put16(&mut m, 64 + 44, 120);
    put16(&mut m, 64 + 46, 0xffff);
    put32(&mut m, 64 + 48, 120);
    put32(&mut m, 64 + 52, u32::MAX);
    run!("create", &m, create::CreateRequest::decode(&m));
    assert!(create::CreateRequest::decode(&m).is_err());
    // A create context chain whose DataLength claims 2^32-1 bytes.
    let mut c = vec![0u8; 100];
    put16(&mut c, 4, 16);
    put16(&mut c, 6, 4);
    put16(&mut c, 10, 24);
    put32(&mut c, 12, u32::MAX);
    run!("contexts", &c, create_context::decode_chain(&c));
    assert!(create_context::decode_chain(&c).is_err());
    // READ response with DataLength 2^32-1; WRITE request likewise.
    let mut m = crafted(Command::Read, true, &[17, 0, 80, 0], 100);
    put32(&mut m, 64 + 4, u32::MAX);
    run!("read", &m, read::ReadResponse::decode(&m));
    assert!(read::ReadResponse::decode(&m).is_err());
    let mut m = crafted(Command::Write, false, &[49, 0, 112, 0], 120);
    put32(&mut m, 64 + 4, u32::MAX);
    run!("write", &m, write::WriteRequest::decode(&m));
    assert!(write::WriteRequest::decode(&m).is_err());
    // IOCTL response with OutputCount 2^32-1; FSCTL payloads claiming 2^32 elements.
    let mut m = crafted(Command::Ioctl, true, &[49, 0], 120);
    put32(&mut m, 64 + 32, 112);
    put32(&mut m, 64 + 36, u32::MAX);
    run!("ioctl", &m, ioctl::IoctlResponse::decode(&m));
    assert!(ioctl::IoctlResponse::decode(&m).is_err());
    let mut p = vec![0u8; 100];
    put32(&mut p, 24, u32::MAX); // CopyChunkCopy ChunkCount
    run!("copychunk", &p, ioctl::CopyChunkCopy::decode_data(&p));
    assert!(ioctl::CopyChunkCopy::decode_data(&p).is_err());
    let mut p = vec![0u8; 100];
    put16(&mut p, 22, 0xffff); // ValidateNegotiateInfo DialectCount
    run!(
        "vni",
        &p,
        ioctl::ValidateNegotiateInfoRequest::decode_data(&p)
    );
    assert!(ioctl::ValidateNegotiateInfoRequest::decode_data(&p).is_err());
    let mut p = vec![0u8; 100];
    put16(&mut p, 2, 0xffff); // DFS referral NumberOfReferrals
    put32(&mut p, 4, 0);
    run!("dfs", &p, ioctl::DfsReferralResponse::decode_data(&p));
    assert!(ioctl::DfsReferralResponse::decode_data(&p).is_err());

    // Info family: QUERY_INFO response with OutputBufferLength 2^32-1.
    let mut m = crafted(Command::QueryInfo, true, &[9, 0, 72, 0], 100);
    put32(&mut m, 64 + 4, u32::MAX);
    run!("query info", &m, query_info::QueryInfoResponse::decode(&m));
    assert!(query_info::QueryInfoResponse::decode(&m).is_err());
    // FileStreamInformation / FileNameInformation claiming 2^32-1 name bytes.
    let mut p = vec![0u8; 100];
    put32(&mut p, 0, u32::MAX);
    run!("name", &p, FileNameInformation::decode(&p));
    assert!(FileNameInformation::decode(&p).is_err());
    let mut p = vec![0u8; 100];
    put32(&mut p, 4, u32::MAX);
    run!("stream", &p, FileStreamInformation::decode(&p));
    assert!(FileStreamInformation::decode(&p).is_err());
    // A SID with 255 sub-authorities in 100 bytes, an ACL with AceCount 0xFFFF.
    let mut p = vec![0u8; 100];
    p[0] = 1;
    p[1] = 255;
    run!("sid", &p, Sid::parse(&p));
    assert!(Sid::parse(&p).is_err());
    let mut p = vec![0u8; 100];
    p[0] = 1;
    put16(&mut p, 2, 0x8004); // DACL present, self-relative
    put32(&mut p, 16, 20); // OffsetDacl
    p[20] = 2;
    put16(&mut p, 22, 80); // AclSize
    put16(&mut p, 24, 0xffff); // AceCount
    run!("acl", &p, SecurityDescriptor::decode(&p));
    assert!(SecurityDescriptor::decode(&p).is_err());
    // A directory page whose FileNameLength claims 2^32-1 bytes.
    let mut p = vec![0u8; 100];
    put32(&mut p, 60, u32::MAX);
    let class = FileInfoClass::FULL_DIRECTORY;
    run!(
        "dir",
        &p,
        query_directory::DirectoryEntries::new(&p, class).count()
    );
    assert!(query_directory::DirectoryEntries::new(&p, class).any(|e| e.is_err()));
    // Compression transform: OriginalCompressedSegmentSize 2^32-1 is only a number; a
    // chained payload claiming 2^32-1 bytes is rejected.
    let mut f = vec![0u8; 100];
    f[..4].copy_from_slice(&[0xfc, b'S', b'M', b'B']);
    put32(&mut f, 4, u32::MAX);
    put16(&mut f, 10, 1); // Flags: chained
    put32(&mut f, 20, u32::MAX); // first payload's Length
    run!(
        "compression",
        &f,
        transform::CompressionTransformHeader::decode(&f)
    );
    assert!(transform::CompressionTransformHeader::decode(&f).is_err());

    // DFS referrals: 2000 v3 referrals all pointing at one 10000-character string would
    // decode 60 MB of strings from a 68 KB buffer; the string budget rejects it.
    let n = 2000usize;
    let mut q = vec![0u8; 8];
    put16(&mut q, 2, n as u16);
    for _ in 0..n {
        let pos = q.len();
        let mut e = vec![0u8; 24];
        put16(&mut e, 0, 3);
        put16(&mut e, 2, 24);
        let rel = (str_at_for(n) - pos) as u16;
        put16(&mut e, 12, rel);
        put16(&mut e, 14, rel);
        put16(&mut e, 16, rel);
        q.extend_from_slice(&e);
    }
    q.resize(str_at_for(n), 0);
    for _ in 0..10_000 {
        q.extend_from_slice(&[b'a', 0]);
    }
    run!(
        "dfs strings",
        &q,
        ioctl::DfsReferralResponse::decode_data(&q)
    );
    assert!(ioctl::DfsReferralResponse::decode_data(&q).is_err());
    // A few referrals sharing one string (the normal case) still decode.
    let small = &mut q.clone();
    put16(small, 2, 3);
    let r = ioctl::DfsReferralResponse::decode_data(small).unwrap();
    assert_eq!(r.referrals.len(), 3);
}

/// Where the string starts in the DFS test buffer: after `n` 24-byte referrals.
fn str_at_for(n: usize) -> usize {
    8 + n * 24
}
