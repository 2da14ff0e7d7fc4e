//! Fuzz every decoder of the info family: QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO and
//! SET_INFO messages, directory pages in each supported class, notify buffers, the
//! [MS-FSCC] structures (security descriptors and the file-system FSCTLs: `fs_extras`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use smb_core::wire::change_notify::{ChangeNotifyRequest, ChangeNotifyResponse, NotifyEntries};
use smb_core::wire::fscc::*;
use smb_core::wire::query_directory::{
    DirectoryEntries, QueryDirectoryRequest, QueryDirectoryResponse,
};
use smb_core::wire::query_info::{QueryInfoRequest, QueryInfoResponse};
use smb_core::wire::set_info::{SetInfoRequest, SetInfoResponse};
use smb_core::wire::{Decode, Header};

const DIR_CLASSES: [FileInfoClass; 6] = [
    FileInfoClass::DIRECTORY,
    FileInfoClass::FULL_DIRECTORY,
    FileInfoClass::BOTH_DIRECTORY,
    FileInfoClass::ID_BOTH_DIRECTORY,
    FileInfoClass::ID_FULL_DIRECTORY,
    FileInfoClass::NAMES,
];

fn fscc(b: &[u8]) {
    let _ = FileBasicInformation::decode(b);
    let _ = FileStandardInformation::decode(b);
    let _ = FileInternalInformation::decode(b);
    let _ = FileEaInformation::decode(b);
    let _ = FileAccessInformation::decode(b);
    let _ = FilePositionInformation::decode(b);
    let _ = FileModeInformation::decode(b);
    let _ = FileAlignmentInformation::decode(b);
    let _ = FileNameInformation::decode(b);
    let _ = FileAllInformation::decode(b);
    let _ = FileNetworkOpenInformation::decode(b);
    let _ = FileAttributeTagInformation::decode(b);
    let _ = FileEndOfFileInformation::decode(b);
    let _ = FileAllocationInformation::decode(b);
    let _ = FileRenameInformation::decode(b);
    let _ = FileDispositionInformation::decode(b);
    let _ = FileStreamInformation::decode(b);
    let _ = FileFsVolumeInformation::decode(b);
    let _ = FileFsSizeInformation::decode(b);
    let _ = FileFsFullSizeInformation::decode(b);
    let _ = FileFsAttributeInformation::decode(b);
    let _ = FileFsSectorSizeInformation::decode(b);
    let _ = FileFsDeviceInformation::decode(b);
    for class in DIR_CLASSES {
        for e in DirectoryEntries::new(b, class) {
            let _ = e;
        }
    }
    for e in NotifyEntries::new(b) {
        let _ = e;
    }
}

fuzz_target!(|data: &[u8]| {
    // Raw payloads (the buffers the responses carry).
    fscc(data);
    // Whole messages, as they are and behind a valid header.
    let _ = Header::decode(data);
    messages(data);
    let mut msg = Vec::with_capacity(64 + data.len());
    Header::request(smb_core::wire::Command::QueryInfo).encode(&mut msg);
    msg.extend_from_slice(data);
    messages(&msg);
});

/// Every message decoder of the family on `data` as a whole message (and the buffers
/// the messages carry).
fn messages(data: &[u8]) {
    let _ = QueryDirectoryRequest::decode(data);
    if let Ok(r) = QueryDirectoryResponse::decode(data) {
        for class in DIR_CLASSES {
            for e in r.entries(class) {
                let _ = e;
            }
        }
    }
    let _ = ChangeNotifyRequest::decode(data);
    if let Ok(r) = ChangeNotifyResponse::decode(data) {
        for e in r.entries() {
            let _ = e;
        }
    }
    let _ = QueryInfoRequest::decode(data);
    if let Ok(r) = QueryInfoResponse::decode(data) {
        fscc(r.buffer);
    }
    if let Ok(r) = SetInfoRequest::decode(data) {
        fscc(r.buffer);
    }
    let _ = SetInfoResponse::decode(data);
}
