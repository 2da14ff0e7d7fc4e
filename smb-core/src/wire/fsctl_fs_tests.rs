use super::*;
use alloc::string::ToString;
use alloc::vec;

fn utf16(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    put_utf16le(&mut v, s);
    v
}

#[test]
fn set_sparse_vectors() {
    assert_eq!(SetSparse(true).to_bytes(), [1]);
    assert_eq!(SetSparse(false).to_bytes(), [0]);
    assert_eq!(SetSparse::decode_data(&[]).unwrap(), SetSparse(true));
    assert_eq!(SetSparse::decode_data(&[0]).unwrap(), SetSparse(false));
    assert_eq!(SetSparse::decode_data(&[7]).unwrap(), SetSparse(true));
}

#[test]
fn zero_data_vector_and_refusals() {
    let z = ZeroData {
        file_offset: 0x1000,
        beyond_final_zero: 0x3000,
    };
    let b = z.to_bytes();
    assert_eq!(b, [0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x30, 0, 0, 0, 0, 0, 0]);
    assert_eq!(ZeroData::decode_data(&b).unwrap(), z);
    for n in 0..b.len() {
        assert!(ZeroData::decode_data(&b[..n]).is_err(), "prefix {n}");
    }
    let mut neg = b.clone();
    neg[15] = 0x80;
    assert!(
        ZeroData::decode_data(&neg).is_err(),
        "negative BeyondFinalZero"
    );
}

#[test]
fn allocated_ranges_vector_and_refusals() {
    let v = AllocatedRanges(vec![
        AllocatedRange {
            offset: 0,
            length: 0x1000,
        },
        AllocatedRange {
            offset: 0x3000,
            length: 0x1000,
        },
    ]);
    let b = v.to_bytes();
    assert_eq!(b.len(), 32);
    assert_eq!(&b[16..24], &[0, 0x30, 0, 0, 0, 0, 0, 0]);
    assert_eq!(AllocatedRanges::decode_data(&b).unwrap(), v);
    assert_eq!(AllocatedRanges::decode_data(&[]).unwrap().0, []);
    // Not a whole number of entries.
    for n in [1, 15, 17, 31] {
        assert!(AllocatedRanges::decode_data(&b[..n]).is_err(), "{n} bytes");
    }
    // A negative offset, a negative length, a range whose end overflows i64.
    let mut bad = b.clone();
    bad[7] = 0xFF;
    assert!(AllocatedRanges::decode_data(&bad).is_err());
    let mut bad = b.clone();
    bad[15] = 0x80;
    assert!(AllocatedRanges::decode_data(&bad).is_err());
    let mut bad = b.clone();
    bad[8..16].copy_from_slice(&(i64::MAX as u64).to_le_bytes());
    bad[0] = 1;
    assert!(AllocatedRanges::decode_data(&bad).is_err());
}

/// Two snapshots as Samba's shadow_copy2 answers ([MS-SMB2] 2.2.32.2): the tokens, each
/// NUL-terminated, and one more NUL.
fn snapshot_vector() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&102u32.to_le_bytes());
    for t in ["@GMT-2026.01.01-00.00.00", "@GMT-2025.06.30-12.34.56"] {
        b.extend_from_slice(&utf16(t));
        b.extend_from_slice(&[0, 0]);
    }
    b.extend_from_slice(&[0, 0]);
    b
}

#[test]
fn snapshot_array_vector() {
    let b = snapshot_vector();
    let s = SnapshotArray::decode_data(&b).unwrap();
    assert_eq!(s.number_of_snapshots, 2);
    assert_eq!(s.snapshot_array_size, 102);
    assert_eq!(
        s.snapshots,
        ["@GMT-2026.01.01-00.00.00", "@GMT-2025.06.30-12.34.56"]
    );
    assert_eq!(s.to_bytes(), b);
    // Only the counts (the client's first, 16-byte probe): no tokens.
    let probe = SnapshotArray::decode_data(&[2, 0, 0, 0, 0, 0, 0, 0, 102, 0, 0, 0]).unwrap();
    assert_eq!(probe.number_of_snapshots, 2);
    assert!(probe.snapshots.is_empty());
    assert_eq!(
        SnapshotArray {
            number_of_snapshots: 2,
            snapshot_array_size: 102,
            snapshots: Vec::new()
        }
        .to_bytes()
        .len(),
        12
    );
}

#[test]
fn snapshot_array_refusals() {
    let b = snapshot_vector();
    for n in 0..12 {
        assert!(SnapshotArray::decode_data(&b[..n]).is_err(), "prefix {n}");
    }
    // A token cut before its NUL.
    assert!(SnapshotArray::decode_data(&b[..12 + 40]).is_err());
    // More returned than the server says it has.
    let mut bad = b.clone();
    bad[4] = 3;
    assert!(SnapshotArray::decode_data(&bad).is_err());
    // A huge count in a short buffer: refused before allocating for it.
    let mut bad = b.clone();
    bad[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        SnapshotArray::decode_data(&bad),
        Err(DecodeError::Truncated { .. })
    ));
    // An unpaired surrogate in a token.
    let mut bad = b.clone();
    bad[12..14].copy_from_slice(&0xD800u16.to_le_bytes());
    assert!(SnapshotArray::decode_data(&bad).is_err());
}

/// A relative link `target.txt` in Windows' layout ([MS-FSCC] 2.1.2.4): the print name
/// first in PathBuffer, the substitute name after it.
fn symlink_vector() -> Vec<u8> {
    let name = utf16("target.txt");
    let mut b = Vec::new();
    b.extend_from_slice(&IO_REPARSE_TAG_SYMLINK.to_le_bytes());
    b.extend_from_slice(&(12 + 2 * name.len() as u16).to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&(name.len() as u16).to_le_bytes()); // SubstituteNameOffset
    b.extend_from_slice(&(name.len() as u16).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes()); // PrintNameOffset
    b.extend_from_slice(&(name.len() as u16).to_le_bytes());
    b.extend_from_slice(&SYMLINK_FLAG_RELATIVE.to_le_bytes());
    b.extend_from_slice(&name);
    b.extend_from_slice(&name);
    b
}

#[test]
fn symlink_reparse_vector_and_round_trip() {
    let s = SymlinkReparse::decode_data(&symlink_vector()).unwrap();
    assert_eq!(s.substitute_name, "target.txt");
    assert_eq!(s.print_name, "target.txt");
    assert!(s.is_relative());
    let abs = SymlinkReparse {
        substitute_name: "\\??\\C:\\dir\\f".to_string(),
        print_name: "C:\\dir\\f".to_string(),
        flags: 0,
    };
    let b = abs.to_bytes();
    assert_eq!(u16::from_le_bytes([b[4], b[5]]) as usize, b.len() - 8);
    assert_eq!(SymlinkReparse::decode_data(&b).unwrap(), abs);
    assert!(!abs.is_relative());
}

#[test]
fn symlink_reparse_refusals() {
    let b = symlink_vector();
    for n in 0..b.len() {
        assert!(SymlinkReparse::decode_data(&b[..n]).is_err(), "prefix {n}");
    }
    // Another tag (a mount point, 0xA0000003).
    let mut bad = b.clone();
    bad[..4].copy_from_slice(&0xA000_0003u32.to_le_bytes());
    assert!(SymlinkReparse::decode_data(&bad).is_err());
    // A name offset past PathBuffer, a length that overflows, a data length below the
    // fixed fields.
    let mut bad = b.clone();
    bad[8..10].copy_from_slice(&0xFFF0u16.to_le_bytes());
    assert!(SymlinkReparse::decode_data(&bad).is_err());
    let mut bad = b.clone();
    bad[14..16].copy_from_slice(&0xFFFFu16.to_le_bytes());
    assert!(SymlinkReparse::decode_data(&bad).is_err());
    let mut bad = b.clone();
    bad[4..6].copy_from_slice(&4u16.to_le_bytes());
    assert!(SymlinkReparse::decode_data(&bad).is_err());
    // An odd name length is not UTF-16.
    let mut bad = b.clone();
    bad[14..16].copy_from_slice(&3u16.to_le_bytes());
    assert!(SymlinkReparse::decode_data(&bad).is_err());
}

#[test]
fn gmt_tokens_to_filetime() {
    // 2026-01-01T00:00:00Z is 1767225600 s after the Unix epoch.
    let t = gmt_token_time("@GMT-2026.01.01-00.00.00").unwrap();
    assert_eq!(
        t,
        1_767_225_600 * 10_000_000 + crate::time::FileTime::UNIX_EPOCH_TICKS
    );
    let t = gmt_token_time("@GMT-1970.01.01-00.00.01").unwrap();
    assert_eq!(t, 10_000_000 + crate::time::FileTime::UNIX_EPOCH_TICKS);
    // A leap day, the end of a day.
    let leap = gmt_token_time("@GMT-2024.02.29-23.59.59").unwrap();
    let next = gmt_token_time("@GMT-2024.03.01-00.00.00").unwrap();
    assert_eq!(next - leap, 10_000_000);
    for bad in [
        "",
        "@GMT-2026.01.01-00.00.0",
        "@GMT-2026.01.01-00.00.000",
        "@gmt-2026.01.01-00.00.00",
        "@GMT-2026-01-01-00.00.00",
        "@GMT-2026.13.01-00.00.00",
        "@GMT-2026.00.01-00.00.00",
        "@GMT-2025.02.29-00.00.00",
        "@GMT-2026.04.31-00.00.00",
        "@GMT-2026.01.01-24.00.00",
        "@GMT-2026.01.01-00.60.00",
        "@GMT-2026.01.01-00.00.60",
        "@GMT-+026.01.01-00.00.00",
        "@GMT-2026.01.01-00.00.0\u{e9}",
    ] {
        assert_eq!(gmt_token_time(bad), None, "{bad}");
    }
}

#[test]
fn gmt_tokens_split_out_of_paths() {
    const T: &str = "@GMT-2026.01.01-00.00.00";
    let t = gmt_token_time(T).unwrap();
    // As an intermediate element, first, last (a directory's previous version), either
    // separator.
    for (path, rest) in [
        ("docs\\@GMT-2026.01.01-00.00.00\\f.txt", "docs\\f.txt"),
        ("@GMT-2026.01.01-00.00.00\\docs\\f.txt", "docs\\f.txt"),
        ("docs/@GMT-2026.01.01-00.00.00", "docs"),
        ("@GMT-2026.01.01-00.00.00", ""),
    ] {
        assert_eq!(split_gmt_token(path), Some((rest.to_string(), t)), "{path}");
    }
    // No token, a malformed token, a token inside a longer name, two tokens: unchanged.
    for path in [
        "docs\\f.txt",
        "docs\\@GMT-2026.13.01-00.00.00\\f.txt",
        "docs\\x@GMT-2026.01.01-00.00.00\\f.txt",
        "docs\\@GMT-2026.01.01-00.00.00.txt",
        "@GMT-2026.01.01-00.00.00\\@GMT-2025.01.01-00.00.00\\f",
    ] {
        assert_eq!(split_gmt_token(path), None, "{path}");
    }
}
