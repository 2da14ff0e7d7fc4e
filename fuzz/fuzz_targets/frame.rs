#![no_main]
//! A whole received frame, as the engine sees it. The input is first cut into frames by the
//! direct-TCP framing (`FrameReader`), and also taken as one frame payload as it is. Each
//! payload is classified by ProtocolId: a transform frame is split into header and
//! encrypted payload (and its AAD taken); a compression frame's header is decoded and, when
//! chained, its payloads too (uncompressed ones are concatenated and decoded again as a
//! frame, Pattern_V1 ones decoded); an SMB2 frame is split into its compound chain, and
//! every message's header is decoded and its body decoded as the response (ERROR body when
//! it is one) and as the request of its command, including the buffers inside responses.
use libfuzzer_sys::fuzz_target;
use smb_core::wire::fscc::FileInfoClass;
use smb_core::wire::negotiate::CompressionAlgorithm;
use smb_core::wire::transform::{self, CompressionTransformHeader, ProtocolKind};
use smb_core::wire::{
    Command, Decode, Header, NtStatus, cancel, change_notify, close, compound, create, echo,
    error, flush, framing, ioctl, lock, logoff, negotiate, oplock_break, query_directory,
    query_info, read, session_setup, set_info, tree_connect, write,
};

/// Decode `msg` (one message of a chain) as request and response of its command.
fn decode_message(msg: &[u8]) {
    let Ok(h) = Header::decode(msg) else { return };
    if error::is_error_body(msg) {
        if let Ok(e) = error::ErrorResponse::decode(msg) {
            let _ = e.detail(h.status);
            let _ = e.detail(NtStatus::STOPPED_ON_SYMLINK);
            let _ = e.detail(NtStatus::BUFFER_TOO_SMALL);
        }
    }
    match h.command {
        Command::Negotiate => {
            let _ = negotiate::NegotiateRequest::decode(msg);
            let _ = negotiate::NegotiateResponse::decode(msg);
        }
        Command::SessionSetup => {
            let _ = session_setup::SessionSetupRequest::decode(msg);
            let _ = session_setup::SessionSetupResponse::decode(msg);
        }
        Command::Logoff => {
            let _ = logoff::LogoffRequest::decode(msg);
            let _ = logoff::LogoffResponse::decode(msg);
        }
        Command::TreeConnect => {
            let _ = tree_connect::TreeConnectRequest::decode(msg);
            let _ = tree_connect::TreeConnectResponse::decode(msg);
        }
        Command::TreeDisconnect => {
            let _ = tree_connect::TreeDisconnectRequest::decode(msg);
            let _ = tree_connect::TreeDisconnectResponse::decode(msg);
        }
        Command::Create => {
            let _ = create::CreateRequest::decode(msg);
            let _ = create::CreateResponse::decode(msg);
        }
        Command::Close => {
            let _ = close::CloseRequest::decode(msg);
            let _ = close::CloseResponse::decode(msg);
        }
        Command::Flush => {
            let _ = flush::FlushRequest::decode(msg);
            let _ = flush::FlushResponse::decode(msg);
        }
        Command::Read => {
            let _ = read::ReadRequest::decode(msg);
            let _ = read::ReadResponse::decode(msg);
        }
        Command::Write => {
            let _ = write::WriteRequest::decode(msg);
            let _ = write::WriteResponse::decode(msg);
        }
        Command::Lock => {
            let _ = lock::LockRequest::decode(msg);
            let _ = lock::LockResponse::decode(msg);
        }
        Command::Ioctl => {
            let _ = ioctl::IoctlRequest::decode(msg);
            let _ = ioctl::IoctlResponse::decode(msg);
        }
        Command::Cancel => {
            let _ = cancel::CancelRequest::decode(msg);
        }
        Command::Echo => {
            let _ = echo::EchoRequest::decode(msg);
            let _ = echo::EchoResponse::decode(msg);
        }
        Command::QueryDirectory => {
            let _ = query_directory::QueryDirectoryRequest::decode(msg);
            if let Ok(r) = query_directory::QueryDirectoryResponse::decode(msg) {
                for class in [
                    FileInfoClass::DIRECTORY,
                    FileInfoClass::FULL_DIRECTORY,
                    FileInfoClass::BOTH_DIRECTORY,
                    FileInfoClass::ID_BOTH_DIRECTORY,
                    FileInfoClass::ID_FULL_DIRECTORY,
                    FileInfoClass::NAMES,
                ] {
                    r.entries(class).for_each(drop);
                }
            }
        }
        Command::ChangeNotify => {
            let _ = change_notify::ChangeNotifyRequest::decode(msg);
            if let Ok(r) = change_notify::ChangeNotifyResponse::decode(msg) {
                r.entries().for_each(drop);
            }
        }
        Command::QueryInfo => {
            let _ = query_info::QueryInfoRequest::decode(msg);
            let _ = query_info::QueryInfoResponse::decode(msg);
        }
        Command::SetInfo => {
            let _ = set_info::SetInfoRequest::decode(msg);
            let _ = set_info::SetInfoResponse::decode(msg);
        }
        Command::OplockBreak => {
            let _ = oplock_break::OplockBreakMessage::decode(msg);
        }
    }
}

/// One frame payload (what follows the 4-byte direct-TCP length).
fn decode_frame(data: &[u8], depth: u32) {
    match transform::classify(data) {
        Ok(ProtocolKind::Smb2) => {
            if let Ok(ranges) = compound::split_chain(data) {
                for r in ranges {
                    decode_message(&data[r]);
                }
            } else {
                // The engine drops a bad chain; still exercise the first message alone.
                decode_message(data);
            }
        }
        Ok(ProtocolKind::Transform) => {
            let _ = transform::TransformHeader::split(data);
            let _ = transform::TransformHeader::aad(data);
        }
        Ok(ProtocolKind::Compression) => match CompressionTransformHeader::decode(data) {
            Ok(CompressionTransformHeader::Chained { payloads, .. }) => {
                let mut plain = Vec::new();
                for p in &payloads {
                    match p.algorithm {
                        CompressionAlgorithm::None => plain.extend_from_slice(p.data),
                        CompressionAlgorithm::PatternV1 => {
                            let _ = transform::PatternV1::decode(p.data);
                        }
                        _ => {}
                    }
                }
                if depth == 0 && !plain.is_empty() {
                    decode_frame(&plain, depth + 1);
                }
            }
            Ok(CompressionTransformHeader::Unchained { uncompressed, .. }) => {
                if depth == 0 {
                    decode_frame(uncompressed, depth + 1);
                }
            }
            Err(_) => {}
        },
        Ok(ProtocolKind::Smb1) | Err(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    decode_frame(data, 0);
    // The same bytes as a TCP stream: split into frames, delivered in two pieces.
    let mut fr = framing::FrameReader::new(1 << 20);
    let cut = usize::from(*data.first().unwrap_or(&0)).min(data.len());
    for piece in [&data[..cut], &data[cut..]] {
        fr.push(piece);
        while let Ok(Some(f)) = fr.next_frame() {
            decode_frame(&f, 0);
        }
    }
});
