use super::*;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;

fn nt(s: &[u32]) -> Sid {
    Sid::new(5, s)
}

/// A self-relative descriptor as Samba returns one, hand-assembled per [MS-DTYP] 2.4.6,
/// 2.4.5, 2.4.4.2: owner S-1-5-18, group S-1-5-32, a DACL of one ALLOWED ACE for Everyone
/// and one SYSTEM_MANDATORY_LABEL ACE (type 0x11, kept opaque).
const SD_VECTOR: [u8; 92] = [
    0x01, 0x00, 0x04, 0x80, // rev 1, control SE_SELF_RELATIVE|SE_DACL_PRESENT
    0x14, 0x00, 0x00, 0x00, // owner at 20
    0x20, 0x00, 0x00, 0x00, // group at 32
    0x00, 0x00, 0x00, 0x00, // no SACL
    0x2C, 0x00, 0x00, 0x00, // DACL at 44
    0x01, 0x01, 0, 0, 0, 0, 0, 5, 0x12, 0, 0, 0, // S-1-5-18
    0x01, 0x01, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, // S-1-5-32
    0x02, 0x00, 0x30, 0x00, 0x02, 0x00, 0x00, 0x00, // ACL rev 2, size 48, 2 ACEs
    0x00, 0x03, 0x14, 0x00, 0xFF, 0x01, 0x1F, 0x00, // ALLOWED, OI|CI, size 20, FULL
    0x01, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, // S-1-1-0 (Everyone)
    0x11, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, // label, size 20, NO_WRITE_UP
    0x01, 0x01, 0, 0, 0, 0, 0, 16, 0x00, 0x20, 0, 0, // S-1-16-8192 (medium)
];

#[test]
fn sid_binary_vector_and_prefixes() {
    // S-1-5-32-544 (BUILTIN\Administrators), [MS-DTYP] 2.4.2.4.
    let bytes = [1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 2, 0, 0];
    let (s, n) = Sid::parse(&bytes).unwrap();
    assert_eq!(n, 16);
    assert_eq!(s, nt(&[32, 544]));
    assert_eq!(s.to_string(), "S-1-5-32-544");
    let mut out = Vec::new();
    s.encode(&mut out);
    assert_eq!(out, bytes);
    assert_eq!(s.encoded_len(), 16);
    for n in 0..bytes.len() {
        assert!(Sid::parse(&bytes[..n]).is_err(), "prefix {n}");
    }
}

#[test]
fn sid_text_form_both_ways() {
    for text in [
        "S-1-5-21-3623811015-3361044348-30300820-1013",
        "S-1-1-0",
        "S-1-5",
        "S-1-0x010203040506-7",
        "S-1-16-8192",
    ] {
        let s: Sid = text.parse().unwrap();
        assert_eq!(s.to_string(), text);
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(Sid::parse(&b).unwrap().0, s);
    }
    assert_eq!("s-1-5-18".parse::<Sid>().unwrap(), nt(&[18]));
    assert_eq!(
        "S-1-0x000000000005-18".parse::<Sid>().unwrap().to_string(),
        "S-1-5-18"
    );
    assert_eq!(Sid::everyone().to_string(), "S-1-1-0");
}

#[test]
fn sid_text_refusals() {
    let sixteen = format!("S-1-5{}", "-1".repeat(16));
    for bad in [
        "",
        "S",
        "S-1",
        "X-1-5-18",
        "S-1-5-",
        "S-1-5--18",
        "S-1-5-+18",
        "S-1-5-4294967296",
        "S-256-5-18",
        "S-1-4294967296-1",
        "S-1-0x0102-1",
        "S-1-0xZZ0000000000-1",
        "S-1-5-18 ",
        sixteen.as_str(),
    ] {
        let e = bad.parse::<Sid>().expect_err(bad);
        assert!(e.to_string().contains("not a SID"), "{e}");
    }
    // Fifteen sub-authorities is the most ([MS-DTYP] 2.4.2.2).
    let fifteen = format!("S-1-5{}", "-1".repeat(15));
    assert_eq!(fifteen.parse::<Sid>().unwrap().sub_authorities.len(), 15);
}

#[test]
fn sid_hostile_counts() {
    // 16 sub-authorities in a big enough buffer: refused by value.
    let mut p = vec![0u8; 100];
    p[0] = 1;
    p[1] = 16;
    assert!(matches!(
        Sid::parse(&p),
        Err(DecodeError::BadField {
            field: "SubAuthorityCount",
            ..
        })
    ));
    // 255 sub-authorities: refused before any allocation.
    p[1] = 255;
    assert!(Sid::parse(&p).is_err());
    // 15 announced, 2 present.
    let p = [1, 15, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 2, 0, 0, 0];
    assert!(matches!(Sid::parse(&p), Err(DecodeError::Truncated { .. })));
}

#[test]
fn descriptor_vector_decodes_and_reencodes_byte_for_byte() {
    let sd = SecurityDescriptor::decode(&SD_VECTOR).unwrap();
    assert_eq!(sd.revision, 1);
    assert_eq!(sd.control, 0x8004);
    assert_eq!(sd.owner, Some(nt(&[18])));
    assert_eq!(sd.group, Some(nt(&[32])));
    assert_eq!(sd.sacl, None);
    let dacl = sd.dacl.as_ref().unwrap();
    assert_eq!(dacl.revision, 2);
    assert_eq!(
        dacl.aces[0],
        Ace::Allowed {
            flags: ace_flags::OBJECT_INHERIT | ace_flags::CONTAINER_INHERIT,
            mask: 0x001F_01FF,
            sid: Sid::everyone(),
        }
    );
    // The label ACE is kept as bytes.
    match &dacl.aces[1] {
        Ace::Other {
            ace_type: 0x11,
            flags: 0,
            body,
        } => assert_eq!(body[..], SD_VECTOR[76..]),
        other => panic!("{other:?}"),
    }
    assert_eq!(sd.to_bytes(), SD_VECTOR);
    assert_eq!(
        sd.parts(),
        security_information::OWNER | security_information::GROUP | security_information::DACL
    );
    let text = sd.to_string();
    assert!(text.contains("OWNER:S-1-5-18"), "{text}");
    assert!(
        text.contains("ACL:ALLOWED/0x03/0x001f01ff S-1-1-0"),
        "{text}"
    );
    assert!(text.contains("ACL:OTHER(0x11)/0x00/16 bytes"), "{text}");
}

#[test]
fn built_descriptor_round_trips() {
    let owner: Sid = "S-1-5-21-1-2-3-1000".parse().unwrap();
    let sd = SecurityDescriptor {
        owner: Some(owner.clone()),
        group: Some(nt(&[32, 545])),
        sacl: Some(Acl {
            revision: 2,
            aces: vec![Ace::Other {
                ace_type: 2, // SYSTEM_AUDIT
                flags: 0x40,
                body: vec![1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
            }],
        }),
        dacl: Some(Acl {
            revision: 2,
            aces: vec![
                Ace::Denied {
                    flags: 0,
                    mask: 0x0001_0000,
                    sid: owner.clone(),
                },
                Ace::Allowed {
                    flags: 0,
                    mask: 0x0012_019F,
                    sid: nt(&[18]),
                },
            ],
        }),
        ..Default::default()
    };
    let b = sd.to_bytes();
    let back = SecurityDescriptor::decode(&b).unwrap();
    // Encode sets the PRESENT bits from the fields.
    assert_eq!(back.control, control::SELF_RELATIVE | 0x0014);
    assert_eq!(back.owner, sd.owner);
    assert_eq!(back.group, sd.group);
    assert_eq!(back.sacl, sd.sacl);
    assert_eq!(back.dacl, sd.dacl);
    assert_eq!(back.to_bytes(), b);
    // No DACL: the PRESENT bit is cleared even if the caller left it set.
    let bare = SecurityDescriptor {
        control: control::DACL_PRESENT,
        owner: Some(owner),
        ..Default::default()
    };
    let b = bare.to_bytes();
    assert_eq!(b.len(), 20 + 28);
    let back = SecurityDescriptor::decode(&b).unwrap();
    assert_eq!(back.control & control::DACL_PRESENT, 0);
    assert_eq!(back.dacl, None);
    // An empty DACL (deny all) stays present.
    let empty = SecurityDescriptor {
        dacl: Some(Acl::default()),
        ..Default::default()
    };
    let back = SecurityDescriptor::decode(&empty.to_bytes()).unwrap();
    assert_eq!(back.dacl, Some(Acl::default()));
}

#[test]
fn allowed_ace_with_padding_is_kept_opaque() {
    // An ALLOWED ACE 4 bytes longer than mask + SID: kept as bytes so it re-encodes as is.
    let mut ace = vec![0x00, 0x00, 24, 0, 0xFF, 0, 0, 0];
    ace.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD]);
    let (a, n) = Ace::decode(&ace).unwrap();
    assert_eq!(n, 24);
    assert!(matches!(a, Ace::Other { ace_type: 0, .. }), "{a:?}");
    let mut out = Vec::new();
    a.encode(&mut out);
    assert_eq!(out, ace);
    assert_eq!(a.sid(), None);
    assert_eq!(a.mask(), None);
}

#[test]
fn every_prefix_of_the_vector_is_refused() {
    for n in 0..SD_VECTOR.len() {
        assert!(
            SecurityDescriptor::decode(&SD_VECTOR[..n]).is_err(),
            "prefix {n}"
        );
    }
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn hostile_offsets_and_sizes_are_refused() {
    type Edit = fn(&mut [u8]);
    let cases: [(&str, Edit); 9] = [
        ("owner past the end", |b| put32(b, 4, 0xFFFF_FFF0)),
        ("owner inside the header", |b| put32(b, 4, 8)),
        ("group at the very end", |b| put32(b, 8, 92)),
        ("DACL inside the header", |b| put32(b, 16, 19)),
        ("AceCount larger than the ACL", |b| put16(b, 48, 1000)),
        ("AclSize past the buffer", |b| put16(b, 46, 200)),
        ("AclSize below its header", |b| put16(b, 46, 4)),
        ("AceSize below its header", |b| put16(b, 54, 3)),
        ("AceSize past the ACL", |b| put16(b, 54, 200)),
    ];
    for (what, edit) in cases {
        let mut b = SD_VECTOR;
        edit(&mut b);
        assert!(SecurityDescriptor::decode(&b).is_err(), "{what}");
    }
    // A SACL offset pointing nowhere is ignored while SACL_PRESENT is clear, refused once
    // it is set.
    let mut b = SD_VECTOR;
    put32(&mut b, 12, 0xFFFF);
    assert!(SecurityDescriptor::decode(&b).is_ok());
    put16(&mut b, 2, 0x8014);
    assert!(SecurityDescriptor::decode(&b).is_err());
    // An ALLOWED ACE whose SID runs past its AceSize.
    let mut b = SD_VECTOR;
    put16(&mut b, 54, 12);
    assert!(SecurityDescriptor::decode(&b).is_err());
}

#[test]
fn hostile_ace_count_does_not_allocate_per_claim() {
    // AceCount 0xFFFF in a 100-byte buffer: refused from the sizes alone.
    let mut p = vec![0u8; 100];
    p[0] = 1;
    put16(&mut p, 2, 0x8004);
    put32(&mut p, 16, 20);
    p[20] = 2;
    put16(&mut p, 22, 80);
    put16(&mut p, 24, 0xffff);
    assert!(matches!(
        SecurityDescriptor::decode(&p),
        Err(DecodeError::BadField {
            field: "AceCount",
            ..
        })
    ));
    // 19 four-byte opaque ACEs do fit in 80 bytes: accepted and re-encoded as they came.
    put16(&mut p, 24, 18);
    for i in 0..18 {
        let at = 28 + 4 * i;
        p[at] = 0x42;
        put16(&mut p, at + 2, 4);
    }
    let sd = SecurityDescriptor::decode(&p).unwrap();
    assert_eq!(sd.dacl.as_ref().unwrap().aces.len(), 18);
    assert_eq!(sd.to_bytes()[..], p[..100]);
}
