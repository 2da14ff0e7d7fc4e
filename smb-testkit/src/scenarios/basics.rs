//! Logins, files, listings, namespace operations, concurrency and share modes against
//! the shared Samba server.

use super::*;

/// Log in with each dialect 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1 and use a share.
pub async fn login_each_dialect<H: Harness>(h: H) {
    let server = SambaServer::shared();
    for d in [
        Dialect::Smb202,
        Dialect::Smb210,
        Dialect::Smb300,
        Dialect::Smb302,
        Dialect::Smb311,
    ] {
        let cfg = ClientConfig::default().with_dialects(d, d);
        let (c, n) = h
            .connect(user_login(server, cfg))
            .await
            .unwrap_or_else(|e| panic!("login with {d:?}: {e}"));
        assert_eq!(n.dialect, d);
        let s = h
            .share(&c, SHARE)
            .await
            .unwrap_or_else(|e| panic!("tree connect with {d:?}: {e}"));
        let name = format!("dialect-{d:?}.txt");
        h.write(&s, &name, b"dialect".to_vec())
            .await
            .expect("write");
        assert_eq!(h.read_file(&s, &name).await.expect("read"), b"dialect");
        h.remove_file(&s, &name).await.expect("remove");
    }
}

/// Encryption required, once per cipher: a session that encrypts reaches the encrypted share.
pub async fn encryption_required_each_cipher<H: Harness>(h: H) {
    let server = SambaServer::shared();
    for cipher in [
        Cipher::Aes128Ccm,
        Cipher::Aes128Gcm,
        Cipher::Aes256Ccm,
        Cipher::Aes256Gcm,
    ] {
        let cfg = ClientConfig::default()
            .with_require_encryption(true)
            .with_ciphers(vec![cipher]);
        let (c, n) = h
            .connect(user_login(server, cfg))
            .await
            .unwrap_or_else(|e| panic!("encrypted login with {cipher:?}: {e}"));
        assert!(n.encryption, "{cipher:?}: session must encrypt");
        let s = h
            .share(&c, ENCRYPTED_SHARE)
            .await
            .expect("encrypted tree connect");
        let data = random_bytes(300_000, 7);
        let name = format!("cipher-{cipher:?}.bin");
        h.write_file(&s, &name, data.clone(), 65536)
            .await
            .expect("encrypted write");
        assert_eq!(h.read_file(&s, &name).await.expect("encrypted read"), data);
        h.remove_file(&s, &name).await.expect("remove");
    }
}

/// A wrong password fails with PermissionDenied (and the right one works, so the failure is
/// the server's verdict, not a client that cannot log in at all).
pub async fn wrong_password<H: Harness>(h: H) {
    let server = SambaServer::shared();
    h.connect(user_login(server, ClientConfig::default()))
        .await
        .expect("the right password must work");
    let mut login = user_login(server, ClientConfig::default());
    login.who = Who::User(server.user().to_string(), "definitely-wrong".to_string());
    let e = h
        .connect(login)
        .await
        .err()
        .expect("a wrong password must fail");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
}

/// An unknown share fails with NotFound.
pub async fn unknown_share<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let (c, _) = h
        .connect(user_login(server, ClientConfig::default()))
        .await
        .expect("login");
    let e = h.share(&c, "no-such-share").await.err().expect("must fail");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
}

/// Create, write, read back and compare 64 MiB of random data (streamed both ways).
pub async fn big_file_round_trip<H: Harness>(h: H) {
    let (_c, s) = setup(&h, "big").await;
    let data = random_bytes(64 << 20, 42);
    h.write_file(&s, "big/64m.bin", data.clone(), 1 << 20)
        .await
        .expect("write 64 MiB");
    assert_eq!(
        h.metadata(&s, "big/64m.bin").await.expect("stat").0,
        data.len() as u64
    );
    let back = h.read_file(&s, "big/64m.bin").await.expect("read 64 MiB");
    assert!(back == data, "64 MiB differ (got {} bytes)", back.len());
    h.remove_dir_all(&s, "big").await.expect("cleanup");
}

/// Seeks and partial reads, positional writes, set_len.
pub async fn seek_and_partial_reads<H: Harness>(h: H) {
    let (_c, s) = setup(&h, "seek").await;
    let data = random_bytes(3_000_000, 3);
    h.write_file(&s, "seek/f.bin", data.clone(), 100_000)
        .await
        .expect("write");
    for (off, len) in [
        (0i64, 1usize),
        (1, 10),
        (65_535, 3),
        (1_048_570, 20),
        (2_999_990, 10),
    ] {
        let got = h
            .read_range(&s, "seek/f.bin", off, len)
            .await
            .expect("range");
        assert_eq!(
            got,
            data[off as usize..off as usize + len],
            "range {off}+{len}"
        );
    }
    let tail = h
        .read_range(&s, "seek/f.bin", -5, 5)
        .await
        .expect("from end");
    assert_eq!(tail, data[data.len() - 5..]);
    h.write_at(&s, "seek/f.bin", 10, b"HELLO".to_vec())
        .await
        .expect("write_at");
    assert_eq!(
        h.read_range(&s, "seek/f.bin", 8, 9).await.expect("read"),
        [&data[8..10], b"HELLO", &data[15..17]].concat()
    );
    h.set_len(&s, "seek/f.bin", 100).await.expect("set_len");
    assert_eq!(h.metadata(&s, "seek/f.bin").await.expect("stat").0, 100);
    assert_eq!(
        h.read_file(&s, "seek/f.bin").await.expect("read").len(),
        100
    );
    h.remove_dir_all(&s, "seek").await.expect("cleanup");
}

/// A directory with 5,000 entries is listed completely.
pub async fn list_5000<H: Harness>(h: H) {
    let (_c, s) = setup(&h, "many").await;
    let server = SambaServer::shared();
    let dir = server.share_path(SHARE).join("many");
    for i in 0..5000 {
        std::fs::write(dir.join(format!("file-{i:05}.txt")), b"x").expect("populate on disk");
    }
    let mut names = h.list(&s, "many").await.expect("list");
    names.sort();
    assert_eq!(names.len(), 5000);
    assert_eq!(names[0], "file-00000.txt");
    assert_eq!(names[4999], "file-04999.txt");
    h.remove_dir_all(&s, "many")
        .await
        .expect("remove_dir_all of 5,000 files");
    assert!(!h.exists(&s, "many").await.expect("exists"));
}

/// Rename, delete, mkdir -p, copy, and rmdir of a non-empty directory (an error).
pub async fn namespace_ops<H: Harness>(h: H) {
    let (_c, s) = setup(&h, "ns").await;
    h.create_dir_all(&s, "ns/a/b/c").await.expect("mkdir -p");
    h.create_dir_all(&s, "ns/a/b/c")
        .await
        .expect("mkdir -p again");
    assert!(h.metadata(&s, "ns/a/b/c").await.expect("stat").1);
    let e = h
        .create_dir(&s, "ns/a")
        .await
        .err()
        .expect("mkdir of an existing dir");
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
    h.write(&s, "ns/a/b/c/f.txt", b"content".to_vec())
        .await
        .expect("write");
    let e = h
        .remove_dir(&s, "ns/a")
        .await
        .err()
        .expect("rmdir of a non-empty dir");
    assert_eq!(e.kind(), io::ErrorKind::DirectoryNotEmpty, "{e}");
    h.rename(&s, "ns/a/b/c/f.txt", "ns/g.txt")
        .await
        .expect("rename");
    assert!(!h.exists(&s, "ns/a/b/c/f.txt").await.expect("exists"));
    assert_eq!(h.read_file(&s, "ns/g.txt").await.expect("read"), b"content");
    assert_eq!(h.copy(&s, "ns/g.txt", "ns/h.txt").await.expect("copy"), 7);
    assert_eq!(
        h.read_file(&s, "ns/h.txt").await.expect("read copy"),
        b"content"
    );
    h.remove_file(&s, "ns/g.txt").await.expect("remove");
    let e = h
        .remove_file(&s, "ns/g.txt")
        .await
        .err()
        .expect("remove twice");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    let e = h
        .metadata(&s, "ns/nothing")
        .await
        .err()
        .expect("stat missing");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    h.remove_dir(&s, "ns/a/b/c").await.expect("rmdir empty");
    h.remove_dir_all(&s, "ns").await.expect("cleanup");
}

/// Many concurrent readers and writers on one client; at the proxy, their requests overlap
/// (many outstanding at once), so the concurrency is real and not serialized somewhere.
pub async fn concurrent_readers_writers<H: Harness>(h: H) {
    concurrent_readers_writers_in(h, "conc").await
}

/// [`concurrent_readers_writers`] in directory `dir` (to run it twice in one binary).
pub async fn concurrent_readers_writers_in<H: Harness>(h: H, dir: &str) {
    let server = SambaServer::shared();
    let (proxy, _c, s) = via_proxy(&h, server).await;
    let _ = h.remove_dir_all(&s, dir).await;
    h.create_dir_all(&s, dir)
        .await
        .expect("create the scenario directory");
    let shared = random_bytes(2 << 20, 9);
    let shared_name = format!("{dir}/shared.bin");
    h.write_file(&s, &shared_name, shared.clone(), 1 << 20)
        .await
        .expect("write");
    // A slow server (5 ms a response) so that requests the client issues together are seen
    // outstanding together, whatever the scheduling.
    proxy.clear_log();
    proxy.set_response_delay(Duration::from_millis(5));
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let (h2, s2, shared) = (h.clone(), s.clone(), shared.clone());
        let (shared_name, dir) = (shared_name.clone(), dir.to_string());
        tasks.push(h.spawn(Box::pin(async move {
            if i % 2 == 0 {
                let data = random_bytes(512 * 1024 + i as usize, i);
                let name = format!("{dir}/w{i}.bin");
                h2.write_file(&s2, &name, data.clone(), 100_000).await?;
                let back = h2.read_file(&s2, &name).await?;
                Ok::<bool, io::Error>(back == data)
            } else {
                Ok(h2.read_file(&s2, &shared_name).await? == shared)
            }
        })));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert!(
            t.await.unwrap_or_else(|e| panic!("task {i}: {e}")),
            "task {i}: data differ"
        );
    }
    proxy.set_response_delay(Duration::ZERO);
    let most = most_outstanding(&proxy.log(), |_| true);
    assert!(
        most >= 4,
        "16 concurrent tasks, but at most {most} requests were outstanding at once"
    );
    h.remove_dir_all(&s, dir).await.expect("cleanup");
}

/// The most requests (of those `which` selects) outstanding at any point of the ordered
/// log: from the request to its final response (a STATUS_PENDING interim ends nothing).
pub(crate) fn most_outstanding(log: &[Event], which: impl Fn(&Msg) -> bool) -> usize {
    let mut outstanding = std::collections::BTreeSet::new();
    let mut most = 0;
    for m in messages(log).iter().filter(|m| which(m)) {
        if !m.response {
            outstanding.insert((m.conn, m.message_id));
        } else if m.status != smb_core::wire::NtStatus::PENDING {
            outstanding.remove(&(m.conn, m.message_id));
        }
        most = most.max(outstanding.len());
    }
    most
}

/// Concurrent opens of the same file with share modes: a deny-all open blocks a second one
/// (sharing violation -> ResourceBusy); sharing opens coexist.
pub async fn share_modes<H: Harness>(h: H) {
    let (_c, s) = setup(&h, "modes").await;
    h.write(&s, "modes/f.txt", b"x".to_vec())
        .await
        .expect("write");
    let a = h
        .hold_open(&s, "modes/f.txt", 1)
        .await
        .expect("first open (share read)");
    let b = h
        .hold_open(&s, "modes/f.txt", 7)
        .await
        .expect("second open (share all)");
    drop(b);
    drop(a);
    // Give the background closes time to land.
    let guard = loop_open(&h, &s, 0).await;
    let e = h
        .hold_open(&s, "modes/f.txt", 7)
        .await
        .err()
        .expect("open against a deny-all open");
    assert_eq!(e.kind(), io::ErrorKind::ResourceBusy, "{e}");
    drop(guard);
    h.remove_dir_all(&s, "modes").await.ok();
}

pub(crate) async fn loop_open<H: Harness>(h: &H, s: &H::Share, mode: u32) -> Box<dyn Send> {
    for _ in 0..50 {
        match h.hold_open(s, "modes/f.txt", mode).await {
            Ok(g) => return g,
            Err(e) if e.kind() == io::ErrorKind::ResourceBusy => {
                sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("deny-all open: {e}"),
        }
    }
    panic!("deny-all open kept failing with a sharing violation after the others closed");
}
