//! Broken servers (gone mid-transfer, stalled) and the error kinds the caller sees.

use super::*;

// ---- broken servers ----

pub(crate) fn connection_lost(kind: io::ErrorKind) -> bool {
    use io::ErrorKind as K;
    matches!(
        kind,
        K::ConnectionAborted | K::ConnectionReset | K::BrokenPipe | K::NotConnected
    )
}

/// The server goes away (every connection cut, new ones refused) in the middle of a read and
/// of a write: each fails with a connection error quickly, and later operations on that
/// client fail cleanly too.
pub async fn server_gone_mid_transfer<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let data = random_bytes(64 << 20, 6);
    put_on_disk(server, "gone/64m.bin", &data);
    for write in [true, false] {
        let proxy = proxy_for(server);
        // Slow enough that the transfer is surely still running when the cut comes.
        proxy.set_delay(Duration::from_millis(2));
        // The client tries to reconnect (the proxy refuses): give up after 2 s.
        let cfg = ClientConfig::default()
            .with_request_timeout(smb_core::time::Duration::from_secs(10))
            .with_reconnect_give_up(Some(std::time::Duration::from_secs(2)));
        let (c, _) = h
            .connect(proxied_login(&proxy, server, cfg))
            .await
            .expect("login through the proxy");
        let s = h.share(&c, SHARE).await.expect("tree connect");
        let (h2, s2, data2) = (h.clone(), s.clone(), data.clone());
        let task = h.spawn(Box::pin(async move {
            if write {
                h2.write_file(&s2, "gone/w.bin", data2, 1 << 20).await
            } else {
                h2.read_file(&s2, "gone/64m.bin").await.map(|_| ())
            }
        }));
        let cmd = if write { Command::Write } else { Command::Read };
        let started = wait_until(&proxy, Duration::from_secs(20), |p| {
            p.request_count(cmd) >= 3
        })
        .await;
        if !started {
            let _w = Watchdog::new(Duration::from_secs(30), "a transfer that did not start");
            let r = task.await;
            panic!(
                "write={write}: the transfer did not start: {:?} task: {:?}",
                proxy.counts(0, Direction::ToServer),
                r.map_err(|e| (e.kind(), e.to_string()))
            );
        }
        proxy.refuse(true);
        proxy.cut_all();
        let t0 = Instant::now();
        let w = Watchdog::new(Duration::from_secs(60), "a transfer whose server went away");
        let r = task.await;
        drop(w);
        let e = r
            .err()
            .unwrap_or_else(|| panic!("write={write}: a transfer cut mid-way must fail"));
        eprintln!(
            "write={write}: the cut transfer failed with {:?}: {e}",
            e.kind()
        );
        assert!(
            connection_lost(e.kind()),
            "write={write}: {:?}: {e}",
            e.kind()
        );
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "write={write}: took {:?} to fail",
            t0.elapsed()
        );
        // Later operations fail cleanly (and in bounded time) too.
        for op in 0..3 {
            let t0 = Instant::now();
            let w = Watchdog::new(
                Duration::from_secs(60),
                "an operation after the server left",
            );
            let r = match op {
                0 => h.metadata(&s, "gone/64m.bin").await.map(|_| ()),
                1 => h.write(&s, "gone/x.txt", b"x".to_vec()).await,
                _ => h.list(&s, "gone").await.map(|_| ()),
            };
            drop(w);
            let e = r
                .err()
                .unwrap_or_else(|| panic!("write={write}: op {op} after the server left"));
            eprintln!(
                "write={write}: op {op} afterwards failed with {:?}: {e}",
                e.kind()
            );
            assert!(
                connection_lost(e.kind())
                    || e.kind() == io::ErrorKind::ConnectionRefused
                    || e.kind() == io::ErrorKind::TimedOut,
                "write={write}: op {op}: {:?}: {e}",
                e.kind()
            );
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "write={write}: op {op} took {:?}",
                t0.elapsed()
            );
        }
    }
    std::fs::remove_dir_all(server.share_path(SHARE).join("gone")).expect("cleanup");
}

/// A server that stops answering (proxy stalled): operations fail with TimedOut after the
/// configured request timeout, not later, and do not hang.
pub async fn stalled_server_times_out<H: Harness>(h: H) {
    let server = SambaServer::shared();
    put_on_disk(server, "stall/f.txt", b"stall");
    let proxy = proxy_for(server);
    let timeout = Duration::from_secs(2);
    let cfg = ClientConfig::default().with_request_timeout(smb_core::time::Duration::from_millis(
        timeout.as_millis() as u64,
    ));
    let (c, _) = h
        .connect(proxied_login(&proxy, server, cfg))
        .await
        .expect("login through the proxy");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    assert_eq!(
        h.read_file(&s, "stall/f.txt").await.expect("read"),
        b"stall"
    );
    proxy.stall_all();
    let t0 = Instant::now();
    let w = Watchdog::new(Duration::from_secs(60), "an operation on a stalled server");
    let e = h
        .metadata(&s, "stall/f.txt")
        .await
        .err()
        .expect("an operation on a stalled server must fail");
    drop(w);
    let took = t0.elapsed();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    assert!(
        took >= timeout - Duration::from_millis(100) && took < timeout * 4,
        "timed out after {took:?} (request timeout {timeout:?})"
    );
    let t0 = Instant::now();
    let w = Watchdog::new(
        Duration::from_secs(60),
        "a second operation on a stalled server",
    );
    let e = h
        .read_file(&s, "stall/f.txt")
        .await
        .err()
        .expect("a read on a stalled server must fail");
    drop(w);
    eprintln!(
        "second operation on the stalled server: {:?}: {e}",
        e.kind()
    );
    assert!(
        e.kind() == io::ErrorKind::TimedOut || connection_lost(e.kind()),
        "{:?}: {e}",
        e.kind()
    );
    assert!(t0.elapsed() < timeout * 4, "took {:?}", t0.elapsed());
    proxy.unstall_all();
    std::fs::remove_dir_all(server.share_path(SHARE).join("stall")).expect("cleanup");
}

/// Errors map to the right `io::ErrorKind` and their text names the cause and the NTSTATUS.
pub async fn error_kinds<H: Harness>(h: H) {
    let (c, s) = setup(&h, "errk").await;
    let server = SambaServer::shared();

    let e = h
        .read_file(&s, "errk/missing.txt")
        .await
        .err()
        .expect("open of a missing file");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert_message(
        &e,
        &[
            "open errk/missing.txt",
            "no such file or directory",
            "STATUS_OBJECT_NAME_NOT_FOUND",
        ],
    );

    let e = h
        .read_file(&s, "errk/no-dir/missing.txt")
        .await
        .err()
        .expect("open below a missing directory");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert_message(&e, &["STATUS_OBJECT_PATH_NOT_FOUND"]);

    h.write(&s, "errk/f.txt", b"x".to_vec())
        .await
        .expect("write");
    let e = h
        .create_new(&s, "errk/f.txt")
        .await
        .err()
        .expect("create_new of an existing file");
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
    assert_message(&e, &["already exists", "STATUS_OBJECT_NAME_COLLISION"]);
    h.create_new(&s, "errk/new.txt")
        .await
        .expect("create_new of a fresh name");
    assert!(h.exists(&s, "errk/new.txt").await.expect("exists"));

    server
        .put_file(READONLY_SHARE, "ro.txt", b"read me")
        .expect("put a file in the read-only share");
    let ro = h.share(&c, READONLY_SHARE).await.expect("tree connect ro");
    assert_eq!(h.read_file(&ro, "ro.txt").await.expect("read"), b"read me");
    let e = h
        .write(&ro, "new.txt", b"x".to_vec())
        .await
        .err()
        .expect("write on the read-only share");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert_message(&e, &["access denied", "STATUS_ACCESS_DENIED"]);
    let e = h
        .write_at(&ro, "ro.txt", 0, b"X".to_vec())
        .await
        .err()
        .expect("open for writing on the read-only share");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");

    h.create_dir_all(&s, "errk/full/sub").await.expect("mkdir");
    let e = h
        .remove_dir(&s, "errk/full")
        .await
        .err()
        .expect("remove_dir of a non-empty directory");
    assert_eq!(e.kind(), io::ErrorKind::DirectoryNotEmpty, "{e}");
    assert_message(&e, &["STATUS_DIRECTORY_NOT_EMPTY"]);

    h.remove_dir_all(&s, "errk").await.expect("cleanup");
}
