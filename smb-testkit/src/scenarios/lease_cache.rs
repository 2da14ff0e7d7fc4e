//! The lease cache against Samba: repeated `metadata`/`exists`/`read` of an unchanged
//! file are answered without a request while the client holds a read-and-handle lease; a
//! write by another client breaks the lease ([MS-SMB2] 3.2.5.19.2) and the next calls see
//! the new file; the client's own renames and removes of a cached path work, and so do
//! another client's; entries expire; a server that grants no lease gets no caching and the
//! same answers.

use super::*;

/// The lease cache's counters and the requests sent, now.
async fn counters<H: Harness>(h: &H, c: &H::Client) -> (smb_core::driver::LeaseCacheStats, u64) {
    let s = h.stats(c).await.expect("stats");
    (s.lease_cache, s.stats.requests_sent)
}

/// Wait (up to 10 s) until the client's cache has seen more than `broken` lease breaks.
async fn break_seen<H: Harness>(h: &H, c: &H::Client, broken: u64) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if counters(h, c).await.0.broken > broken {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    false
}

/// The requests on files (and LOGOFF) that went through `proxy`, in order.
fn file_requests(proxy: &FaultProxy) -> Vec<Command> {
    use Command::*;
    let on_files = [Create, QueryInfo, Read, Write, Close, SetInfo, Logoff];
    requests(&proxy.log())
        .iter()
        .map(|m| m.command)
        .filter(|c| on_files.contains(c))
        .collect()
}

/// A long time to live, so that nothing expires during the scenario on a slow machine.
fn caching_config() -> ClientConfig {
    ClientConfig::default().with_lease_cache(Duration::from_secs(60), 64)
}

pub async fn lease_cache_serves_repeats_until_a_break<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let dir = "leasec";
    let f = "leasec/f.txt";
    let (_setup, s0) = setup(&h, dir).await;
    h.write(&s0, f, b"first".to_vec()).await.expect("write");
    let (proxy, c, s) = via_proxy_with(&h, server, caching_config()).await;

    // The first calls ask the server (a lease open, kept), the repeats do not.
    let (start, _) = counters(&h, &c).await;
    assert_eq!(h.metadata(&s, f).await.expect("stat"), (5, false));
    assert_eq!(h.read_whole(&s, f).await.expect("read"), b"first");
    let (warm, sent) = counters(&h, &c).await;
    assert_eq!(warm.inserted, start.inserted + 1, "{warm:?}");
    for _ in 0..3 {
        assert_eq!(h.metadata(&s, f).await.expect("stat again"), (5, false));
        assert_eq!(h.read_whole(&s, f).await.expect("read again"), b"first");
        assert!(h.exists(&s, f).await.expect("exists"));
    }
    let (hot, sent_after) = counters(&h, &c).await;
    assert_eq!(sent_after, sent, "cache hits sent requests");
    // On the wire: one CREATE for the lot, kept open (no CLOSE), one READ.
    assert_eq!(
        file_requests(&proxy),
        [Command::Create, Command::QueryInfo, Command::Read]
    );
    assert_eq!(hot.hits, warm.hits + 9, "{hot:?}");
    assert_eq!(hot.misses, warm.misses, "{hot:?}");

    // Another client, on its own connection, writes the file: the server breaks the
    // lease, the entry goes, and the next calls see the new contents.
    let (c2, _) = h
        .connect(user_login(server, ClientConfig::default()))
        .await
        .expect("second login");
    let s2 = h.share(&c2, SHARE).await.expect("second tree connect");
    h.write(&s2, f, b"second, longer".to_vec())
        .await
        .expect("the other client's write");
    assert!(
        break_seen(&h, &c, hot.broken).await,
        "no lease break reached the cache"
    );
    assert_eq!(h.metadata(&s, f).await.expect("stat after"), (14, false));
    assert_eq!(
        h.read_whole(&s, f).await.expect("read after"),
        b"second, longer"
    );
    // Cached again: renaming and removing it through this client work (the cached handle
    // is closed first), and the names answer as they should afterwards.
    let (again, _) = counters(&h, &c).await;
    assert!(again.inserted > hot.inserted, "{again:?}");
    h.rename(&s, f, "leasec/g.txt")
        .await
        .expect("rename of a cached path");
    assert!(!h.exists(&s, f).await.expect("old name"));
    assert_eq!(
        h.read_whole(&s, "leasec/g.txt").await.expect("new name"),
        b"second, longer"
    );
    h.remove_file(&s, "leasec/g.txt")
        .await
        .expect("remove of a cached path");
    assert!(!h.exists(&s, "leasec/g.txt").await.expect("removed"));
    // A directory holding a cached file renames (Samba refuses to rename a directory
    // with a file open below it) and removes.
    h.write(&s, "leasec/d/x.txt", b"x".to_vec())
        .await
        .expect_err("no parent yet");
    h.create_dir(&s, "leasec/d").await.expect("mkdir");
    h.write(&s, "leasec/d/x.txt", b"x".to_vec())
        .await
        .expect("write in d");
    assert_eq!(
        h.read_whole(&s, "leasec/d/x.txt").await.expect("read x"),
        b"x"
    );
    h.rename(&s, "leasec/d", "leasec/e")
        .await
        .expect("rename of a directory with a cached file");
    assert_eq!(
        h.metadata(&s, "leasec/e/x.txt").await.expect("moved"),
        (1, false)
    );
    // Our own write, set_len: the next answers are the new ones, no break needed.
    h.write(&s, "leasec/e/x.txt", b"xyz".to_vec())
        .await
        .expect("own write");
    assert_eq!(
        h.read_whole(&s, "leasec/e/x.txt").await.expect("own"),
        b"xyz"
    );
    h.set_len(&s, "leasec/e/x.txt", 1).await.expect("set_len");
    assert_eq!(
        h.metadata(&s, "leasec/e/x.txt").await.expect("len"),
        (1, false)
    );
    h.remove_dir_all(&s, dir)
        .await
        .expect("remove a tree with cached files");
    assert!(!h.exists(&s, dir).await.expect("gone"));
    h.shutdown(c2).await;
    // Shutdown closes what is cached before LOGOFF.
    h.write(&s0, "leasec2.txt", b"z".to_vec())
        .await
        .expect("write");
    assert_eq!(
        h.metadata(&s, "leasec2.txt").await.expect("stat"),
        (1, false)
    );
    assert_eq!(counters(&h, &c).await.0.entries, 1);
    h.shutdown(c).await;
    assert!(logoff_seen(&proxy).await, "shutdown must send LOGOFF");
    let cmds = file_requests(&proxy);
    let last_create = cmds
        .iter()
        .rposition(|c| *c == Command::Create)
        .expect("a CREATE");
    assert_eq!(
        cmds[last_create..],
        [
            Command::Create,
            Command::QueryInfo,
            Command::Close,
            Command::Logoff
        ],
        "{cmds:?}"
    );
    h.remove_file(&s0, "leasec2.txt").await.expect("cleanup");
}

pub async fn lease_cache_off_without_server_leases<H: Harness>(h: H) {
    let server = SambaConfig::default()
        .global("smb2 leases = no")
        .start()
        .expect("start a Samba server without leases");
    let (c, _) = h
        .connect(user_login(&server, caching_config()))
        .await
        .expect("login");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    h.create_dir(&s, "nolease").await.expect("mkdir");
    h.write(&s, "nolease/f.txt", b"12345".to_vec())
        .await
        .expect("write");
    let (start, sent0) = counters(&h, &c).await;
    for _ in 0..2 {
        assert_eq!(
            h.metadata(&s, "nolease/f.txt").await.expect("stat"),
            (5, false)
        );
        assert_eq!(
            h.read_whole(&s, "nolease/f.txt").await.expect("read"),
            b"12345"
        );
    }
    let (end, sent1) = counters(&h, &c).await;
    assert_eq!(end.hits, start.hits, "{end:?}");
    assert_eq!(end.inserted, start.inserted, "{end:?}");
    assert_eq!(end.entries, 0, "{end:?}");
    // Every call asked the server: two compounds of three each per round.
    assert!(sent1 >= sent0 + 12, "{sent0} -> {sent1}");
    // Changes are seen at once (nothing cached to go stale).
    h.write(&s, "nolease/f.txt", b"abc".to_vec())
        .await
        .expect("write");
    assert_eq!(
        h.metadata(&s, "nolease/f.txt").await.expect("stat"),
        (3, false)
    );
    h.shutdown(c).await;
}

pub async fn lease_cache_entries_expire_and_close<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let (_setup, s0) = setup(&h, "leasex").await;
    for name in ["a", "b", "c"] {
        h.write(&s0, &format!("leasex/{name}"), name.as_bytes().to_vec())
            .await
            .expect("write");
    }
    // Two entries at most, kept 300 ms: the third evicts the first; time closes the rest
    // (the adapter's loop wakes for the cache's deadline with nothing else to do).
    let config = ClientConfig::default().with_lease_cache(Duration::from_millis(300), 2);
    let (proxy, c, s) = via_proxy_with(&h, server, config).await;
    for name in ["a", "b", "c"] {
        assert_eq!(
            h.metadata(&s, &format!("leasex/{name}"))
                .await
                .expect("stat"),
            (1, false)
        );
    }
    let (full, _) = counters(&h, &c).await;
    assert_eq!(
        (full.inserted, full.expired, full.entries),
        (3, 1, 2),
        "{full:?}"
    );
    let closes = |p: &FaultProxy| p.request_count(Command::Close);
    assert!(
        wait_until(&proxy, Duration::from_secs(5), |p| closes(p) >= 1).await,
        "the evicted handle is closed"
    );
    assert!(
        wait_until(&proxy, Duration::from_secs(5), |p| closes(p) == 3).await,
        "expired handles are closed"
    );
    let (end, _) = counters(&h, &c).await;
    assert_eq!((end.expired, end.entries), (3, 0), "{end:?}");
    // Expired: asked again.
    assert_eq!(h.metadata(&s, "leasex/a").await.expect("stat"), (1, false));
    assert_eq!(counters(&h, &c).await.0.misses, end.misses + 1);
    // Another client removes the tree while this one holds "a" cached: the server breaks
    // the lease (the cached handle does not share delete), the handle is closed instead of
    // acknowledged, and the removal goes through at once (no STATUS_SHARING_VIOLATION, no
    // file left pending deletion).
    h.remove_dir_all(&s0, "leasex")
        .await
        .expect("another client's removal of a cached file");
    assert_eq!(counters(&h, &c).await.0.broken, end.broken + 1);
    assert!(!h.exists(&s0, "leasex").await.expect("gone"));
}
