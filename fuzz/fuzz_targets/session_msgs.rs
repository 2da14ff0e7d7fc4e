#![no_main]
//! Every decoder of the session family (negotiate, session setup, logoff, tree connect,
//! echo, cancel, error, transform, compound) on arbitrary input. Bodies are decoded from
//! the input as a whole message and also behind a valid 64-byte header, so the fuzzer
//! reaches the body parsers without having to discover the header first.
use libfuzzer_sys::fuzz_target;
use smb_core::wire::{
    Command, Decode, Header, cancel, compound, echo, error, logoff, negotiate, session_setup,
    transform, tree_connect,
};

fn decode_all(msg: &[u8]) {
    let _ = negotiate::NegotiateRequest::decode(msg);
    let _ = negotiate::NegotiateResponse::decode(msg);
    let _ = session_setup::SessionSetupRequest::decode(msg);
    let _ = session_setup::SessionSetupResponse::decode(msg);
    let _ = logoff::LogoffRequest::decode(msg);
    let _ = logoff::LogoffResponse::decode(msg);
    let _ = tree_connect::TreeConnectRequest::decode(msg);
    let _ = tree_connect::TreeConnectResponse::decode(msg);
    let _ = tree_connect::TreeDisconnectRequest::decode(msg);
    let _ = tree_connect::TreeDisconnectResponse::decode(msg);
    let _ = echo::EchoRequest::decode(msg);
    let _ = echo::EchoResponse::decode(msg);
    let _ = cancel::CancelRequest::decode(msg);
    let _ = error::is_error_body(msg);
    if let Ok(e) = error::ErrorResponse::decode(msg) {
        for status in [
            smb_core::wire::NtStatus::STOPPED_ON_SYMLINK,
            smb_core::wire::NtStatus::BUFFER_TOO_SMALL,
            smb_core::wire::NtStatus::ACCESS_DENIED,
        ] {
            let _ = e.detail(status);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    decode_all(data);
    let mut msg = Vec::with_capacity(64 + data.len());
    Header::request(Command::Negotiate).encode(&mut msg);
    msg.extend_from_slice(data);
    decode_all(&msg);
    let _ = error::SymlinkError::decode(data);
    for ty in 0..10u16 {
        let _ = negotiate::NegotiateContext::decode_data(ty, data);
    }
    let _ = transform::classify(data);
    let _ = transform::TransformHeader::decode(data);
    let _ = transform::TransformHeader::split(data);
    let _ = transform::TransformHeader::aad(data);
    let _ = transform::CompressionTransformHeader::decode(data);
    let _ = transform::PatternV1::decode(data);
    let _ = compound::split_chain(data);
});
