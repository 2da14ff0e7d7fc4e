//! Security descriptors, sparse files, previous versions and symbolic links against Samba,
//! on every runtime (issue 19).

use super::*;
use smb_core::driver::Metadata;
use smb_core::wire::fsctl_fs::{AllocatedRange, SymlinkReparse, gmt_token_time};
use smb_core::wire::security::{Ace, SecurityDescriptor, Sid, security_information as si};
use std::process::Command;

/// One call of the adapter's `Share` API added for these scenarios (kept as one enum so
/// that each harness implements a single method).
#[derive(Clone, Debug)]
pub enum FsxOp {
    /// `Share::security(path, parts)`.
    Security(String, u32),
    /// `Share::set_security(path, sd, parts)`.
    SetSecurity(String, SecurityDescriptor, u32),
    /// `Share::set_sparse(path, on)`.
    SetSparse(String, bool),
    /// `Share::zero_range(path, offset, len)`.
    ZeroRange(String, u64, u64),
    /// `Share::allocated_ranges(path, offset, len)`.
    AllocatedRanges(String, u64, u64),
    /// `Share::snapshots(dir)`.
    Snapshots(String),
    /// Open `path` with `OpenOptions::new().read(true).snapshot(time)` and read it all
    /// through the file's read trait.
    ReadSnapshot(String, u64),
    /// `Share::read_link(path)`.
    ReadLink(String),
    /// `Share::symlink(target, path, relative)`.
    Symlink(String, String, bool),
    /// `Share::symlink_metadata(path)`.
    SymlinkMetadata(String),
}

/// What an [`FsxOp`] returned.
#[derive(Clone, Debug)]
pub enum FsxOut {
    /// Nothing (set calls).
    Done,
    /// A security descriptor.
    Sd(SecurityDescriptor),
    /// Allocated ranges.
    Ranges(Vec<AllocatedRange>),
    /// Snapshot tokens.
    Names(Vec<String>),
    /// File bytes.
    Data(Vec<u8>),
    /// A symbolic link's reparse data.
    Link(SymlinkReparse),
    /// Metadata.
    Meta(Metadata),
}

/// How an adapter runs an [`FsxOp`].
pub trait FsExtras: FileApi {
    /// Run `op` on `s` with the adapter's public API.
    fn fsx(&self, s: &Self::Share, op: FsxOp) -> BoxFut<'static, io::Result<FsxOut>>;
}

async fn sd<H: FsExtras>(h: &H, s: &H::Share, path: &str, parts: u32) -> SecurityDescriptor {
    match h.fsx(s, FsxOp::Security(path.into(), parts)).await {
        Ok(FsxOut::Sd(sd)) => sd,
        other => panic!("security({path}): {other:?}"),
    }
}

/// The SID smbd gives the test user: `pdbedit -L -v` of the server's passdb.
fn user_sid(server: &SambaServer) -> Sid {
    let out = Command::new(crate::install::find_program("pdbedit").expect("pdbedit"))
        .arg("-s")
        .arg(server.conf_path())
        .args(["-L", "-v", "-u", server.user()])
        .output()
        .expect("run pdbedit");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("User SID:"))
        .unwrap_or_else(|| panic!("no User SID in pdbedit's output: {text}"));
    line.trim().parse().expect("a SID")
}

/// Read a file's security descriptor on a share with `acl_xattr` (the NT ACL stored as
/// is): the owner is the test user's SID; add an ALLOWED ACE and a DENIED ACE to the DACL,
/// write it back and read the same DACL; a descriptor asked for OWNER only has no DACL.
/// Then the GROUP part: set to a second Unix group of the user's (`S-1-22-2-<gid>`, Samba's
/// SID for an unmapped Unix group), read back and seen on disk as the file's gid. The OWNER
/// part: BUILTIN\\Users (no Unix uid) is kept by Samba in the acl_xattr blob only, and set
/// back; root (S-1-22-1-0) would need a chown the user may not do and is refused, like
/// reading the SACL (SeSecurityPrivilege), as access denied naming the call and the path,
/// leaving the file as it was.
pub async fn security_descriptor_read_and_add_ace<H: FsExtras>(h: H) {
    // Before the login: smbd reads the user's groups when the session is set up.
    let gid = crate::ensure_unix_group().expect("a second Unix group for the test user");
    let server = SambaConfig::new()
        .extra_share(
            "acl",
            &[
                "vfs objects = acl_xattr",
                "acl_xattr:ignore system acls = yes",
            ],
        )
        .tmpfs(false)
        .start()
        .expect("start an smbd with acl_xattr");
    let (c, _) = h
        .connect(user_login(&server, ClientConfig::default()))
        .await
        .expect("login");
    let s = h.share(&c, "acl").await.expect("tree connect");
    h.write(&s, "f.txt", b"acl".to_vec()).await.expect("write");

    let all = si::OWNER | si::GROUP | si::DACL;
    let before = sd(&h, &s, "f.txt", all).await;
    let me = user_sid(&server);
    assert_eq!(
        before.owner.as_ref(),
        Some(&me),
        "owner is the test user\n{before}"
    );
    assert!(me.to_string().starts_with("S-1-5-21-"), "{me}");
    assert!(before.group.is_some(), "{before}");
    let dacl = before.dacl.clone().expect("a DACL");
    assert!(!dacl.aces.is_empty(), "{before}");

    let users: Sid = "S-1-5-32-545".parse().expect("BUILTIN\\Users");
    let guests: Sid = "S-1-5-32-546".parse().expect("BUILTIN\\Guests");
    let mut changed = before.clone();
    let acl = changed.dacl.as_mut().expect("a DACL");
    acl.aces.insert(
        0,
        Ace::Denied {
            flags: 0,
            mask: 0x0000_0010, // FILE_WRITE_EA
            sid: guests.clone(),
        },
    );
    acl.aces.push(Ace::Allowed {
        flags: 0,
        mask: 0x0012_00A9, // read and execute
        sid: users.clone(),
    });
    h.fsx(
        &s,
        FsxOp::SetSecurity("f.txt".into(), changed.clone(), si::DACL),
    )
    .await
    .expect("set the DACL");
    let after = sd(&h, &s, "f.txt", all).await;
    assert_eq!(after.dacl, changed.dacl, "the DACL as written\n{after}");
    assert_eq!(after.owner, before.owner, "owner unchanged");
    let text = after.to_string();
    assert!(
        text.contains("ACL:ALLOWED/0x00/0x001200a9 S-1-5-32-545"),
        "{text}"
    );
    assert!(
        text.contains("ACL:DENIED/0x00/0x00000010 S-1-5-32-546"),
        "{text}"
    );

    let owner_only = sd(&h, &s, "f.txt", si::OWNER).await;
    assert_eq!(owner_only.owner, Some(me.clone()));
    assert_eq!(owner_only.dacl, None, "{owner_only}");

    // The group: written, read back, and on disk.
    let group: Sid = format!("S-1-22-2-{gid}").parse().expect("a Unix group SID");
    let regroup = SecurityDescriptor {
        group: Some(group.clone()),
        ..SecurityDescriptor::default()
    };
    h.fsx(&s, FsxOp::SetSecurity("f.txt".into(), regroup, si::GROUP))
        .await
        .expect("set the group to one of the user's groups");
    let after = sd(&h, &s, "f.txt", all).await;
    assert_eq!(after.group.as_ref(), Some(&group), "{after}");
    assert_eq!(after.owner.as_ref(), Some(&me), "owner unchanged\n{after}");
    assert_eq!(after.dacl, changed.dacl, "DACL unchanged\n{after}");
    let on_disk = std::fs::metadata(server.share_path("acl").join("f.txt")).expect("stat");
    assert_eq!(
        std::os::unix::fs::MetadataExt::gid(&on_disk),
        gid,
        "the file's Unix group"
    );

    // Another owner: Samba keeps an owner without a Unix uid (BUILTIN\\Users) in the
    // acl_xattr blob only, the file's uid stays; an owner that is a Unix uid other than the
    // user's (S-1-22-1-0, root) needs a chown the user may not do: refused, nothing changed.
    let owner_sd = |owner: &Sid| SecurityDescriptor {
        owner: Some(owner.clone()),
        ..SecurityDescriptor::default()
    };
    let uid_before = std::os::unix::fs::MetadataExt::uid(&on_disk);
    h.fsx(
        &s,
        FsxOp::SetSecurity("f.txt".into(), owner_sd(&users), si::OWNER),
    )
    .await
    .expect("set the owner to BUILTIN\\Users");
    let after = sd(&h, &s, "f.txt", si::OWNER).await;
    assert_eq!(after.owner.as_ref(), Some(&users), "{after}");
    let on_disk = std::fs::metadata(server.share_path("acl").join("f.txt")).expect("stat");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&on_disk), uid_before);
    h.fsx(
        &s,
        FsxOp::SetSecurity("f.txt".into(), owner_sd(&me), si::OWNER),
    )
    .await
    .expect("the owner back to the user");
    let root: Sid = "S-1-22-1-0".parse().expect("Unix uid 0");
    let e = h
        .fsx(
            &s,
            FsxOp::SetSecurity("f.txt".into(), owner_sd(&root), si::OWNER),
        )
        .await
        .expect_err("giving the file to root needs a chown the user may not do");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert_eq!(
        e.to_string(),
        "set_security f.txt: access denied: that owner cannot be assigned \
         (STATUS_INVALID_OWNER)",
        "names the call, the path and the status"
    );
    // The SACL: the open asks ACCESS_SYSTEM_SECURITY, which needs SeSecurityPrivilege.
    let e = h
        .fsx(&s, FsxOp::Security("f.txt".into(), si::SACL))
        .await
        .expect_err("reading the SACL needs SeSecurityPrivilege");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert_eq!(
        e.to_string(),
        "security f.txt: access denied: a privilege is needed (STATUS_PRIVILEGE_NOT_HELD)"
    );
    let last = sd(&h, &s, "f.txt", all).await;
    assert_eq!(last.owner.as_ref(), Some(&me), "{last}");
    assert_eq!(last.group.as_ref(), Some(&group), "{last}");

    let e = h
        .fsx(&s, FsxOp::Security("missing.txt".into(), all))
        .await
        .expect_err("a file that does not exist");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    h.shutdown(c).await;
}

/// Sparse files: set sparse, zero the middle 64 KiB of 192 KiB, the allocated ranges show
/// the hole, reading it gives zeros and the rest is unchanged.
pub async fn sparse_file_hole<H: FsExtras>(h: H) {
    let (_c, s) = setup(&h, "sparse").await;
    let f = "sparse/f.bin";
    const K64: u64 = 64 * 1024;
    h.write(&s, f, vec![0xAB; 3 * K64 as usize])
        .await
        .expect("write");
    let ranges = |o, l| {
        let (h, s) = (h.clone(), s.clone());
        async move {
            match h.fsx(&s, FsxOp::AllocatedRanges(f.into(), o, l)).await {
                Ok(FsxOut::Ranges(r)) => r,
                other => panic!("allocated_ranges: {other:?}"),
            }
        }
    };
    let whole = ranges(0, 3 * K64).await;
    assert_eq!(
        whole,
        [AllocatedRange {
            offset: 0,
            length: 3 * K64
        }],
        "a file that is not sparse is one range"
    );
    h.fsx(&s, FsxOp::SetSparse(f.into(), true))
        .await
        .expect("set sparse");
    let m = h.stat(&s, f).await.expect("stat");
    assert!(
        m.attributes & 0x200 != 0,
        "FILE_ATTRIBUTE_SPARSE_FILE: {:#x}",
        m.attributes
    );
    h.fsx(&s, FsxOp::ZeroRange(f.into(), K64, K64))
        .await
        .expect("zero the middle");
    let got = ranges(0, 3 * K64).await;
    assert_eq!(
        got,
        [
            AllocatedRange {
                offset: 0,
                length: K64
            },
            AllocatedRange {
                offset: 2 * K64,
                length: K64
            },
        ],
        "the hole is not allocated"
    );
    // A query inside the hole finds nothing.
    assert_eq!(ranges(K64 + 100, 1000).await, []);
    let data = h.read_whole(&s, f).await.expect("read back");
    assert_eq!(data.len(), 3 * K64 as usize, "the size did not change");
    assert!(data[..K64 as usize].iter().all(|b| *b == 0xAB));
    assert!(data[K64 as usize..2 * K64 as usize].iter().all(|b| *b == 0));
    assert!(data[2 * K64 as usize..].iter().all(|b| *b == 0xAB));
    let e = h
        .fsx(&s, FsxOp::ZeroRange(f.into(), u64::MAX - 10, 100))
        .await
        .expect_err("a range past 2^63");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    h.remove_dir_all(&s, "sparse").await.expect("cleanup");
}

/// Previous versions on a share with `vfs objects = shadow_copy2`: a snapshot directory made
/// on disk is listed as its @GMT token, and the file opened as of it (TWrp) has the old bytes
/// while the current file has the new ones.
pub async fn previous_versions_via_snapshot<H: FsExtras>(h: H) {
    const TOKEN: &str = "@GMT-2026.01.01-00.00.00";
    let server = SambaConfig::new()
        .extra_share(
            "snap",
            &[
                "vfs objects = shadow_copy2",
                "shadow:snapdir = .snapshots",
                // smbd runs on a temporary directory, not a mount point of its own: look
                // for the snapshot directory upwards from each path.
                "shadow:snapdirseverywhere = yes",
                "shadow:format = @GMT-%Y.%m.%d-%H.%M.%S",
                "shadow:sort = desc",
                "shadow:localtime = no",
            ],
        )
        .debug_level(3)
        .start()
        .expect("start an smbd with shadow_copy2");
    let root = server.share_path("snap");
    let snap = root.join(".snapshots").join(TOKEN).join("docs");
    std::fs::create_dir_all(&snap).expect("mkdir the snapshot");
    std::fs::write(snap.join("f.txt"), b"old version").expect("the old file");
    let docs = root.join("docs");
    std::fs::create_dir_all(&docs).expect("mkdir docs");
    // Made by this process (root): open it to the test user.
    std::fs::set_permissions(&docs, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod docs");
    let (c, _) = h
        .connect(user_login(&server, ClientConfig::default()))
        .await
        .expect("login");
    let s = h.share(&c, "snap").await.expect("tree connect");
    h.write(&s, "docs/f.txt", b"new".to_vec())
        .await
        .expect("write the current file");

    let names = match h.fsx(&s, FsxOp::Snapshots(String::new())).await {
        Ok(FsxOut::Names(n)) => n,
        other => panic!("snapshots: {other:?}\n{}", server.log_tail(6000)),
    };
    assert_eq!(names, [TOKEN]);
    let t = gmt_token_time(&names[0]).expect("a @GMT token");
    match h.fsx(&s, FsxOp::ReadSnapshot("docs/f.txt".into(), t)).await {
        Ok(FsxOut::Data(d)) => assert_eq!(String::from_utf8_lossy(&d), "old version"),
        other => panic!("read as of the snapshot: {other:?}"),
    }
    assert_eq!(
        h.read_whole(&s, "docs/f.txt").await.expect("read now"),
        b"new"
    );
    // A time with no snapshot: not found.
    let none = gmt_token_time("@GMT-2020.01.01-00.00.00").expect("token");
    let e = h
        .fsx(&s, FsxOp::ReadSnapshot("docs/f.txt".into(), none))
        .await
        .expect_err("no snapshot at that time");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");

    // A @GMT token in the path names the same previous version ([MS-SMB] 2.2.1.1.1): the
    // client sends it as TWrp, wherever the element is.
    for path in [
        format!("docs/{TOKEN}/f.txt"),
        format!("{TOKEN}/docs/f.txt"),
        format!("{TOKEN}\\docs\\f.txt"),
    ] {
        match h.read_whole(&s, &path).await {
            Ok(d) => assert_eq!(String::from_utf8_lossy(&d), "old version", "read {path}"),
            Err(e) => panic!("read {path}: {e}"),
        }
    }

    // More snapshots than 64 KiB of tokens hold (50 bytes each): Samba answers the first
    // request with STATUS_BUFFER_TOO_SMALL; the client asks for the size and then the
    // whole list.
    const MORE: usize = 1_400;
    for i in 0..MORE {
        let token = format!(
            "@GMT-2025.01.01-{:02}.{:02}.{:02}",
            i / 3600,
            i / 60 % 60,
            i % 60
        );
        std::fs::create_dir(root.join(".snapshots").join(token)).expect("mkdir a snapshot");
    }
    let names = match h.fsx(&s, FsxOp::Snapshots(String::new())).await {
        Ok(FsxOut::Names(n)) => n,
        other => panic!("snapshots: {other:?}\n{}", server.log_tail(6000)),
    };
    assert_eq!(names.len(), MORE + 1);
    assert_eq!(names[0], TOKEN, "sorted newest first");
    assert!(names.iter().all(|n| gmt_token_time(n).is_some()));
    h.shutdown(c).await;
}

/// Symbolic links as Samba 4.17 serves them to an SMB2 client without unix extensions:
/// with `follow symlinks = yes` a link inside the share is its target (read, `metadata` and
/// `symlink_metadata` see the target, not a reparse point) and `read_link` fails clearly
/// (NOT_A_REPARSE_POINT, the message says why); a link leaving the share is not found;
/// creating a link is refused with a message naming it and leaves no file behind. (Samba
/// never answers STOPPED_ON_SYMLINK here: that path is tested against a scripted server.)
pub async fn symlinks_on_samba<H: FsExtras>(h: H) {
    let server = SambaConfig::new()
        .extra_share("links", &["follow symlinks = yes", "wide links = no"])
        .start()
        .expect("start an smbd");
    let root = server.share_path("links");
    std::fs::write(root.join("target.txt"), b"target").expect("target on disk");
    std::os::unix::fs::symlink("target.txt", root.join("link")).expect("link on disk");
    std::os::unix::fs::symlink("/etc/hostname", root.join("outside")).expect("outside link");
    let (c, _) = h
        .connect(user_login(&server, ClientConfig::default()))
        .await
        .expect("login");
    let s = h.share(&c, "links").await.expect("tree connect");

    assert_eq!(
        h.read_whole(&s, "link").await.expect("read through"),
        b"target"
    );
    let m = match h.fsx(&s, FsxOp::SymlinkMetadata("link".into())).await {
        Ok(FsxOut::Meta(m)) => m,
        other => panic!("symlink_metadata: {other:?}"),
    };
    assert_eq!(m.len(), 6, "the target's size");
    assert_eq!(
        m.attributes & 0x400,
        0,
        "no FILE_ATTRIBUTE_REPARSE_POINT: {m:?}"
    );
    let e = h
        .fsx(&s, FsxOp::ReadLink("link".into()))
        .await
        .expect_err("read_link of a link Samba follows");
    let msg = e.to_string();
    assert!(
        msg.contains("not a symbolic link as the server shows it"),
        "{msg}"
    );
    assert!(msg.contains("NOT_A_REPARSE_POINT"), "{msg}");

    for op in [
        FsxOp::SymlinkMetadata("outside".into()),
        FsxOp::ReadLink("outside".into()),
    ] {
        let e = h.fsx(&s, op).await.expect_err("a link leaving the share");
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    }

    let e = h
        .fsx(&s, FsxOp::Symlink("target.txt".into(), "new".into(), true))
        .await
        .expect_err("Samba does not create reparse points");
    let msg = e.to_string();
    assert!(
        msg.contains("refused to create the symbolic link new -> target.txt"),
        "{msg}"
    );
    assert!(
        !root.join("new").exists(),
        "the refused link's file is removed"
    );
    h.shutdown(c).await;
}
