//! Fuzz the security descriptor codec ([MS-DTYP] 2.4.2-2.4.6) and the file-system FSCTL
//! payloads (allocated ranges, zero data, snapshot array, symlink reparse data, @GMT
//! tokens): no input panics, and whatever decodes re-encodes to something that decodes to
//! the same value (a descriptor's unknown ACEs included, byte for byte).
#![no_main]
use libfuzzer_sys::fuzz_target;
use smb_core::wire::fsctl_fs::*;
use smb_core::wire::ioctl::IoctlData;
use smb_core::wire::security::{Ace, Acl, SecurityDescriptor, Sid};

fn round_trip<T: for<'a> IoctlData<'a> + PartialEq + core::fmt::Debug>(b: &[u8]) {
    if let Ok(v) = T::decode_data(b) {
        let bytes = v.to_bytes();
        assert_eq!(T::decode_data(&bytes).ok(), Some(v));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(sd) = SecurityDescriptor::decode(data) {
        let b = sd.to_bytes();
        let back = SecurityDescriptor::decode(&b).expect("a re-encoded descriptor decodes");
        assert_eq!(back.owner, sd.owner);
        assert_eq!(back.group, sd.group);
        assert_eq!(back.dacl, sd.dacl);
        assert_eq!(back.sacl, sd.sacl);
        assert_eq!(back.to_bytes(), b);
        let _ = sd.to_string();
    }
    if let Ok((acl, n)) = Acl::decode(data) {
        let mut b = Vec::new();
        acl.encode(&mut b);
        assert_eq!(b.len(), acl.encoded_len());
        assert!(b.len() <= n);
    }
    if let Ok((ace, n)) = Ace::decode(data) {
        let mut b = Vec::new();
        ace.encode(&mut b);
        assert_eq!(&b[..], &data[..n], "an ACE re-encodes as it came");
    }
    if let Ok((sid, n)) = Sid::parse(data) {
        assert_eq!(sid.to_string().parse::<Sid>().ok(), Some(sid.clone()));
        let mut b = Vec::new();
        sid.encode(&mut b);
        assert_eq!(&b[..], &data[..n]);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(sid) = text.parse::<Sid>() {
            let mut b = Vec::new();
            sid.encode(&mut b);
            assert_eq!(Sid::parse(&b).ok().map(|s| s.0), Some(sid));
        }
        let _ = gmt_token_time(text);
    }
    round_trip::<ZeroData>(data);
    round_trip::<AllocatedRange>(data);
    round_trip::<AllocatedRanges>(data);
    round_trip::<SymlinkReparse>(data);
    let _ = SnapshotArray::decode_data(data);
    let _ = SetSparse::decode_data(data);
});
