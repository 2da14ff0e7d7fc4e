#![no_main]
//! Feeds arbitrary bytes to every decoder of the file-command family (CREATE, create contexts,
//! CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL and its FSCTL payloads, OPLOCK_BREAK), on the input
//! as a whole message, behind a valid header, and as raw payload bytes.
use libfuzzer_sys::fuzz_target;
use smb_core::wire::create_context::{self, TypedContext};
use smb_core::wire::ioctl::{self, IoctlData};
use smb_core::wire::{close, create, flush, lock, oplock_break, read, write, Decode};

/// Every message decoder of the family on `data` as a whole message.
fn messages(data: &[u8]) {
    let _ = create::CreateRequest::decode(data);
    let _ = create::CreateResponse::decode(data);
    let _ = close::CloseRequest::decode(data);
    let _ = close::CloseResponse::decode(data);
    let _ = flush::FlushRequest::decode(data);
    let _ = flush::FlushResponse::decode(data);
    let _ = read::ReadRequest::decode(data);
    let _ = read::ReadResponse::decode(data);
    let _ = write::WriteRequest::decode(data);
    let _ = write::WriteResponse::decode(data);
    let _ = lock::LockRequest::decode(data);
    let _ = lock::LockResponse::decode(data);
    let _ = ioctl::IoctlRequest::decode(data);
    let _ = ioctl::IoctlResponse::decode(data);
    let _ = oplock_break::OplockBreak::decode(data);
    let _ = oplock_break::LeaseBreakNotification::decode(data);
    let _ = oplock_break::LeaseBreakAck::decode(data);
    let _ = oplock_break::OplockBreakMessage::decode(data);
}

fuzz_target!(|data: &[u8]| {
    let _ = smb_core::wire::Header::decode(data);
    messages(data);
    // Behind a valid header too, so the body parsers are reached without the fuzzer
    // having to discover the 64-byte header first.
    let mut msg = Vec::with_capacity(64 + data.len());
    smb_core::wire::Header::request(smb_core::wire::Command::Create).encode(&mut msg);
    msg.extend_from_slice(data);
    messages(&msg);

    let _ = create_context::decode_chain(data);
    let _ = create_context::SecurityDescriptorContext::parse(data);
    let _ = create_context::DurableHandleRequest::parse(data);
    let _ = create_context::DurableHandleResponse::parse(data);
    let _ = create_context::DurableHandleReconnect::parse(data);
    let _ = create_context::DurableHandleRequestV2::parse(data);
    let _ = create_context::DurableHandleResponseV2::parse(data);
    let _ = create_context::DurableHandleReconnectV2::parse(data);
    let _ = create_context::MaximalAccessRequest::parse(data);
    let _ = create_context::MaximalAccessResponse::parse(data);
    let _ = create_context::AllocationSize::parse(data);
    let _ = create_context::TimewarpToken::parse(data);
    let _ = create_context::QueryOnDiskIdRequest::parse(data);
    let _ = create_context::QueryOnDiskId::parse(data);
    let _ = create_context::Lease::parse(data);
    let _ = create_context::AppInstanceId::parse(data);

    let _ = ioctl::ValidateNegotiateInfoRequest::decode_data(data);
    let _ = ioctl::ValidateNegotiateInfoResponse::decode_data(data);
    let _ = ioctl::NetworkInterfaceInfoList::decode_data(data);
    let _ = ioctl::ResumeKeyResponse::decode_data(data);
    let _ = ioctl::CopyChunkCopy::decode_data(data);
    let _ = ioctl::CopyChunkResponse::decode_data(data);
    let _ = ioctl::PipeTransceive::decode_data(data);
    let _ = ioctl::DfsReferralRequest::decode_data(data);
    let _ = ioctl::DfsReferralResponse::decode_data(data);
});
