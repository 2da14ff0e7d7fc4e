#![no_main]
//! A whole received frame payload, as the engine sees it: classify it by ProtocolId; for
//! plain SMB2 split the compound chain, decode each header and, for the commands of the
//! session family, the body as a response (or as an ERROR body when it is one); for a
//! transform or compression frame decode its header.
use libfuzzer_sys::fuzz_target;
use smb_core::wire::transform::{self, ProtocolKind};
use smb_core::wire::{
    Command, Decode, Header, compound, echo, error, logoff, negotiate, session_setup, tree_connect,
};

fn decode_response(msg: &[u8]) {
    let Ok(h) = Header::decode(msg) else { return };
    if error::is_error_body(msg) {
        if let Ok(e) = error::ErrorResponse::decode(msg) {
            let _ = e.detail(h.status);
        }
        return;
    }
    match h.command {
        Command::Negotiate => {
            let _ = negotiate::NegotiateResponse::decode(msg);
        }
        Command::SessionSetup => {
            let _ = session_setup::SessionSetupResponse::decode(msg);
        }
        Command::Logoff => {
            let _ = logoff::LogoffResponse::decode(msg);
        }
        Command::TreeConnect => {
            let _ = tree_connect::TreeConnectResponse::decode(msg);
        }
        Command::TreeDisconnect => {
            let _ = tree_connect::TreeDisconnectResponse::decode(msg);
        }
        Command::Echo => {
            let _ = echo::EchoResponse::decode(msg);
        }
        // Other commands belong to other families' decoders.
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    match transform::classify(data) {
        Ok(ProtocolKind::Smb2) => {
            if let Ok(ranges) = compound::split_chain(data) {
                for r in ranges {
                    decode_response(&data[r]);
                }
            }
        }
        Ok(ProtocolKind::Transform) => {
            let _ = transform::TransformHeader::split(data);
            let _ = transform::TransformHeader::aad(data);
        }
        Ok(ProtocolKind::Compression) => {
            if let Ok(transform::CompressionTransformHeader::Chained { payloads, .. }) =
                transform::CompressionTransformHeader::decode(data)
            {
                for p in payloads {
                    let _ = transform::PatternV1::decode(p.data);
                }
            }
        }
        Ok(ProtocolKind::Smb1) | Err(_) => {}
    }
});
