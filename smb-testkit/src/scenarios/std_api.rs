//! The std-like file API against Samba, on every runtime: `OpenOptions` flags, directory
//! entries' types and metadata, wildcard listings, attributes and permissions, byte-range
//! locks (issue 19).

use super::*;
use smb_core::client::{DirEntry, OpenOptions, file_attributes as fa};
use smb_core::driver::Metadata;
use std::time::SystemTime;

/// What the std-like scenarios need of an adapter beyond [`Harness`] (kept apart so the
/// shared list's file stays short).
pub trait FileApi: Harness {
    /// Open `path` with `options`, write `data` through the file's write trait, close it
    /// reporting errors.
    fn open_write(
        &self,
        s: &Self::Share,
        path: &str,
        options: smb_core::client::OpenOptions,
        data: Vec<u8>,
    ) -> BoxFut<'static, io::Result<()>>;
    /// `Share::metadata`, whole.
    fn stat(
        &self,
        s: &Self::Share,
        path: &str,
    ) -> BoxFut<'static, io::Result<smb_core::driver::Metadata>>;
    /// `Share::read_dir_matching(path, pattern)`, to the end.
    fn list_matching(
        &self,
        s: &Self::Share,
        path: &str,
        pattern: &str,
    ) -> BoxFut<'static, io::Result<Vec<smb_core::client::DirEntry>>>;
    /// `Share::set_attributes`.
    fn set_attributes(
        &self,
        s: &Self::Share,
        path: &str,
        attributes: u32,
    ) -> BoxFut<'static, io::Result<()>>;
    /// `Share::set_permissions` with `Permissions::set_readonly(readonly)`.
    fn set_permissions(
        &self,
        s: &Self::Share,
        path: &str,
        readonly: bool,
    ) -> BoxFut<'static, io::Result<()>>;
    /// `Share::walk(path)` (with `Walk::max_depth` if given), every item to the end.
    fn walk(
        &self,
        s: &Self::Share,
        path: &str,
        max_depth: Option<usize>,
    ) -> BoxFut<'static, io::Result<Vec<io::Result<smb_core::driver::WalkEntry>>>>;
    /// `Share::streams`.
    fn streams(
        &self,
        s: &Self::Share,
        path: &str,
    ) -> BoxFut<'static, io::Result<Vec<smb_core::wire::fscc::FileStreamEntry>>>;
    /// Open existing `path` read-write for the lock methods of `File`.
    fn open_locking(
        &self,
        s: &Self::Share,
        path: &str,
    ) -> BoxFut<'static, io::Result<Arc<dyn Locking>>>;
}

/// An open file under lock tests ([`FileApi::open_locking`]).
pub trait Locking: Send + Sync {
    /// `File::lock` / `lock_shared` (`wait`) or `try_lock` / `try_lock_shared`.
    fn lock(
        &self,
        offset: u64,
        len: u64,
        exclusive: bool,
        wait: bool,
    ) -> BoxFut<'static, io::Result<()>>;
    /// `File::unlock`.
    fn unlock(&self, offset: u64, len: u64) -> BoxFut<'static, io::Result<()>>;
    /// `File::close` (no lock call may be in flight).
    fn close(&self) -> BoxFut<'static, io::Result<()>>;
}

async fn expect_content<H: FileApi>(h: &H, s: &H::Share, path: &str, want: &[u8]) {
    let got = h.read_whole(s, path).await.expect("read back");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "{path}"
    );
}

/// `OpenOptions` behaves like `std::fs::OpenOptions`: append writes at the end, create_new
/// refuses an existing file, truncate empties it, plain write overwrites in place, a missing
/// file without create is NotFound, and `attributes` applies to a created file.
pub async fn open_options_like_std<H: FileApi>(h: H) {
    let (_c, s) = setup(&h, "stdopen").await;
    let w = || OpenOptions::new().write(true);
    h.write(&s, "stdopen/log.txt", b"hello".to_vec())
        .await
        .expect("write");
    let append = OpenOptions::new().append(true);
    h.open_write(&s, "stdopen/log.txt", append.clone(), b" world".to_vec())
        .await
        .expect("append");
    expect_content(&h, &s, "stdopen/log.txt", b"hello world").await;
    h.open_write(&s, "stdopen/log.txt", append, b"!".to_vec())
        .await
        .expect("append again");
    expect_content(&h, &s, "stdopen/log.txt", b"hello world!").await;

    let e = h
        .open_write(&s, "stdopen/log.txt", w().create_new(true), b"x".to_vec())
        .await
        .expect_err("create_new on an existing file");
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
    let e = h
        .open_write(&s, "stdopen/missing.txt", w(), b"x".to_vec())
        .await
        .expect_err("write without create on a missing file");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");

    h.open_write(&s, "stdopen/log.txt", w().truncate(true), b"new".to_vec())
        .await
        .expect("truncate");
    expect_content(&h, &s, "stdopen/log.txt", b"new").await;
    h.open_write(&s, "stdopen/log.txt", w(), b"N".to_vec())
        .await
        .expect("overwrite in place");
    expect_content(&h, &s, "stdopen/log.txt", b"New").await;
    h.open_write(&s, "stdopen/c.txt", w().create(true), b"abc".to_vec())
        .await
        .expect("create");
    expect_content(&h, &s, "stdopen/c.txt", b"abc").await;

    let hidden = w().create_new(true).attributes(fa::HIDDEN);
    h.open_write(&s, "stdopen/hidden.txt", hidden, Vec::new())
        .await
        .expect("create hidden");
    let m = h.stat(&s, "stdopen/hidden.txt").await.expect("stat");
    assert!(m.attributes & fa::HIDDEN != 0, "{:#x}", m.attributes);
    h.remove_dir_all(&s, "stdopen").await.expect("cleanup");
}

/// Directory entries carry their type and metadata (size, SystemTime times, read-only);
/// a pattern filters on the server.
pub async fn dir_entries_and_patterns<H: FileApi>(h: H) {
    let (_c, s) = setup(&h, "stdlist").await;
    let before = SystemTime::now() - Duration::from_secs(120);
    h.create_dir(&s, "stdlist/sub").await.expect("mkdir");
    for (name, len) in [("a.txt", 3), ("b.txt", 5), ("c.log", 7)] {
        h.write(&s, &format!("stdlist/{name}"), vec![b'x'; len])
            .await
            .expect("write");
    }
    let mut all = h.list_matching(&s, "stdlist", "*").await.expect("list");
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&str> = all.iter().map(DirEntry::file_name).collect();
    assert_eq!(names, ["a.txt", "b.txt", "c.log", "sub"]);
    let sub = &all[3];
    assert!(sub.is_dir() && sub.file_type().is_dir() && sub.metadata().is_dir());
    let b = &all[1];
    assert!(!b.is_dir() && b.file_type().is_file());
    let m = b.metadata();
    assert_eq!(m.len(), 5);
    assert!(!m.permissions().readonly());
    for t in [m.modified(), m.created(), m.accessed()] {
        let t = t.expect("a time");
        assert!(
            t > before && t < SystemTime::now() + Duration::from_secs(120),
            "{t:?}"
        );
    }
    let mut txt: Vec<String> = h
        .list_matching(&s, "stdlist", "*.txt")
        .await
        .expect("list *.txt")
        .into_iter()
        .map(|e| e.name)
        .collect();
    txt.sort();
    assert_eq!(txt, ["a.txt", "b.txt"]);
    let one = h
        .list_matching(&s, "stdlist", "?.log")
        .await
        .expect("?.log");
    assert_eq!(one.len(), 1, "{one:?}");
    let none = h.list_matching(&s, "stdlist", "*.none").await;
    assert!(none.as_ref().map_or(true, |v| v.is_empty()), "{none:?}");
    h.remove_dir_all(&s, "stdlist").await.expect("cleanup");
}

fn attrs(m: &Metadata) -> u32 {
    m.attributes & (fa::READONLY | fa::HIDDEN | fa::SYSTEM | fa::ARCHIVE)
}

/// Attributes: set read-only, hidden, system, archive and clear them; `set_permissions`
/// toggles read-only alone, and a read-only file refuses writing.
pub async fn attributes_and_permissions<H: FileApi>(h: H) {
    let (_c, s) = setup(&h, "stdattr").await;
    let f = "stdattr/f.txt";
    h.write(&s, f, b"data".to_vec()).await.expect("write");
    for want in [
        fa::HIDDEN,
        fa::SYSTEM,
        fa::ARCHIVE,
        fa::HIDDEN | fa::SYSTEM | fa::ARCHIVE,
    ] {
        h.set_attributes(&s, f, want).await.expect("set attributes");
        let m = h.stat(&s, f).await.expect("stat");
        assert_eq!(attrs(&m), want, "set {want:#x}, got {:#x}", m.attributes);
    }
    h.set_attributes(&s, f, fa::HIDDEN).await.expect("hidden");
    h.set_permissions(&s, f, true).await.expect("readonly");
    let m = h.stat(&s, f).await.expect("stat");
    assert!(m.permissions().readonly(), "{:#x}", m.attributes);
    assert_eq!(attrs(&m), fa::HIDDEN | fa::READONLY, "hidden kept");
    let e = h
        .open_write(&s, f, OpenOptions::new().write(true), b"x".to_vec())
        .await
        .expect_err("writing a read-only file");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    h.set_permissions(&s, f, false).await.expect("writable");
    let m = h.stat(&s, f).await.expect("stat");
    assert!(!m.permissions().readonly());
    assert_eq!(attrs(&m), fa::HIDDEN, "hidden kept");
    h.set_attributes(&s, f, 0).await.expect("clear");
    assert_eq!(attrs(&h.stat(&s, f).await.expect("stat")), 0);
    h.open_write(&s, f, OpenOptions::new().write(true), b"D".to_vec())
        .await
        .expect("write after clearing read-only");
    expect_content(&h, &s, f, b"Data").await;
    h.remove_dir_all(&s, "stdattr").await.expect("cleanup");
}

/// Byte-range locks between two clients: a conflict fails at once (WouldBlock), shared
/// locks coexist, unlock lets the other in, a waiting lock is granted when the holder
/// unlocks, and closing a handle releases its locks.
pub async fn byte_range_locks<H: FileApi>(h: H) {
    let (_c, s) = setup(&h, "stdlock").await;
    let (c2, _) = h
        .connect(user_login(SambaServer::shared(), ClientConfig::default()))
        .await
        .expect("second login");
    let s2 = h.share(&c2, SHARE).await.expect("second tree connect");
    let f = "stdlock/f.bin";
    h.write(&s, f, vec![0; 4096]).await.expect("write");
    let a = h.open_locking(&s, f).await.expect("open a");
    let b = h.open_locking(&s2, f).await.expect("open b");
    let would_block = |r: io::Result<()>, what: &str| {
        let e = r.expect_err(what);
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{what}: {e}");
    };

    a.lock(0, 100, true, false)
        .await
        .expect("a: exclusive 0..100");
    would_block(b.lock(50, 10, true, false).await, "b: exclusive inside a's");
    would_block(
        b.lock(99, 10, false, false).await,
        "b: shared overlapping a's",
    );
    b.lock(100, 10, true, false)
        .await
        .expect("b: right after a's range");
    a.unlock(0, 100).await.expect("a: unlock");
    b.lock(50, 10, true, false)
        .await
        .expect("b: after a unlocked");
    b.unlock(50, 10).await.expect("b: unlock");
    b.unlock(100, 10).await.expect("b: unlock the other");
    let e = b
        .unlock(100, 10)
        .await
        .expect_err("unlock of a range not locked");
    assert!(e.to_string().contains("RANGE_NOT_LOCKED"), "{e}");

    a.lock(200, 10, false, false).await.expect("a: shared");
    b.lock(200, 10, false, false).await.expect("b: shared too");
    would_block(
        b.lock(205, 1, true, false).await,
        "b: exclusive over shared",
    );
    a.unlock(200, 10).await.expect("a: unlock shared");
    b.unlock(200, 10).await.expect("b: unlock shared");

    // A waiting lock is granted once the holder lets go.
    a.lock(300, 10, true, false)
        .await
        .expect("a: exclusive 300");
    let waiter = h.spawn(b.lock(300, 10, true, true));
    sleep(Duration::from_millis(500)).await;
    a.unlock(300, 10).await.expect("a: unlock 300");
    waiter.await.expect("b's waiting lock granted");
    b.unlock(300, 10).await.expect("b: unlock 300");

    // Closing releases.
    a.lock(400, 10, true, false)
        .await
        .expect("a: exclusive 400");
    would_block(b.lock(400, 10, true, false).await, "b: while a holds 400");
    a.close().await.expect("close a");
    b.lock(400, 10, true, false)
        .await
        .expect("b: after a closed");
    b.close().await.expect("close b");
    h.shutdown(c2).await;
    h.remove_dir_all(&s, "stdlock").await.expect("cleanup");
}

/// `walk`: every entry under a directory with its depth; an unreadable subdirectory is one
/// error item naming it (PermissionDenied, the engine's error inside) and the walk goes on;
/// `max_depth` bounds it.
pub async fn walk_recursive_with_depth_and_errors<H: FileApi>(h: H) {
    use std::os::unix::fs::PermissionsExt as _;
    let (_c, s) = setup(&h, "walk").await;
    h.create_dir_all(&s, "walk/a/b/c").await.expect("mkdir -p");
    h.create_dir(&s, "walk/locked").await.expect("mkdir locked");
    for f in [
        "walk/top.txt",
        "walk/a/x.txt",
        "walk/a/b/y.txt",
        "walk/a/b/c/z.txt",
        "walk/locked/secret.txt",
    ] {
        h.write(&s, f, b"w".to_vec()).await.expect("write");
    }
    let on_disk = SambaServer::shared().share_path(SHARE).join("walk/locked");
    let chmod = |mode| std::fs::set_permissions(&on_disk, std::fs::Permissions::from_mode(mode));
    chmod(0o000).expect("chmod 000 on disk");

    let run = |depth: Option<usize>| {
        let (h, s) = (h.clone(), s.clone());
        async move {
            let items = h.walk(&s, "walk", depth).await.expect("walk");
            let mut ok: Vec<(String, usize)> = Vec::new();
            let mut errs = Vec::new();
            for i in items {
                match i {
                    Ok(e) => {
                        assert_eq!(e.entry.is_dir(), !e.path.ends_with(".txt"), "{e:?}");
                        ok.push((e.path, e.depth));
                    }
                    Err(e) => errs.push(e),
                }
            }
            ok.sort();
            (ok, errs)
        }
    };
    let owned = |v: &[(&str, usize)]| -> Vec<(String, usize)> {
        v.iter().map(|(p, d)| (p.to_string(), *d)).collect()
    };

    let (ok, errs) = run(None).await;
    assert_eq!(
        ok,
        owned(&[
            ("walk/a", 1),
            ("walk/a/b", 2),
            ("walk/a/b/c", 3),
            ("walk/a/b/c/z.txt", 4),
            ("walk/a/b/y.txt", 3),
            ("walk/a/x.txt", 2),
            ("walk/locked", 1),
            ("walk/top.txt", 1),
        ])
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].kind(),
        io::ErrorKind::PermissionDenied,
        "{}",
        errs[0]
    );
    // One layer naming the call and the directory.
    assert_eq!(
        errs[0].to_string(),
        "walk walk/locked: access denied (STATUS_ACCESS_DENIED)"
    );
    assert!(
        smb_core::driver::op_error(&errs[0]).is_some(),
        "{}",
        errs[0]
    );

    let (ok, errs) = run(Some(2)).await;
    assert_eq!(
        ok,
        owned(&[
            ("walk/a", 1),
            ("walk/a/b", 2),
            ("walk/a/x.txt", 2),
            ("walk/locked", 1),
            ("walk/top.txt", 1),
        ])
    );
    assert_eq!(errs.len(), 1, "locked is still listed at depth 2: {errs:?}");
    let (ok, errs) = run(Some(1)).await;
    let names: Vec<&str> = ok.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["walk/a", "walk/locked", "walk/top.txt"]);
    assert!(errs.is_empty(), "{errs:?}");

    chmod(0o777).expect("chmod back");
    h.remove_dir_all(&s, "walk").await.expect("cleanup");
}

/// Alternate data streams on a share with `vfs objects = streams_xattr`: `file:name` is its
/// own content next to the file's, and `streams` lists both with their sizes.
pub async fn alternate_data_streams<H: FileApi>(h: H) {
    let server = SambaConfig::new()
        .extra_share("streams", &["vfs objects = streams_xattr"])
        .start()
        .expect("start an smbd with streams_xattr");
    let (c, _) = h
        .connect(user_login(&server, ClientConfig::default()))
        .await
        .expect("login");
    let s = h.share(&c, "streams").await.expect("tree connect");
    h.write(&s, "f.txt", b"main".to_vec()).await.expect("write");
    h.write(&s, "f.txt:meta", b"side data".to_vec())
        .await
        .expect("write the stream");
    expect_content(&h, &s, "f.txt:meta", b"side data").await;
    expect_content(&h, &s, "f.txt", b"main").await;
    let mut got: Vec<(String, u64)> = h
        .streams(&s, "f.txt")
        .await
        .expect("streams")
        .into_iter()
        .map(|e| (e.stream_name, e.stream_size))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("::$DATA".to_string(), 4), (":meta:$DATA".to_string(), 9)]
    );
    let e = h
        .read_whole(&s, "f.txt:missing")
        .await
        .expect_err("a stream that does not exist");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    h.shutdown(c).await;
}
