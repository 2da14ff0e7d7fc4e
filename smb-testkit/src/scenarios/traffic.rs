//! What goes over the wire, counted at a fault proxy: background closes, LOGOFF,
//! round trips of listings, pipelined reads, compounds, server-side copy.

use super::*;

/// Dropping an open file closes it in the background: a CLOSE goes out soon after.
pub async fn dropped_file_closes<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let proxy = proxy_for(server);
    let (_c, s) = {
        let (c, _) = h
            .connect(proxied_login(&proxy, server, ClientConfig::default()))
            .await
            .expect("login through the proxy");
        let s = h.share(&c, SHARE).await.expect("tree connect");
        (c, s)
    };
    let _ = h.remove_dir_all(&s, "dropclose").await;
    h.create_dir_all(&s, "dropclose").await.expect("mkdir");
    h.write(&s, "dropclose/f.txt", b"x".to_vec())
        .await
        .expect("write");
    let (creates, closes) = (
        proxy.request_count(Command::Create),
        proxy.request_count(Command::Close),
    );
    let guard = h
        .hold_open(&s, "dropclose/f.txt", 7)
        .await
        .expect("open and keep open");
    assert_eq!(proxy.request_count(Command::Create), creates + 1);
    sleep(Duration::from_millis(100)).await;
    assert_eq!(
        proxy.request_count(Command::Close),
        closes,
        "no CLOSE while the file is open"
    );
    drop(guard);
    assert!(
        wait_until(&proxy, Duration::from_secs(5), |p| p
            .request_count(Command::Close)
            == closes + 1)
        .await,
        "dropping the file must send a CLOSE within 5 s (CLOSEs: {})",
        proxy.request_count(Command::Close)
    );
    // And the server answered it (the handle is really gone).
    assert!(
        wait_until(&proxy, Duration::from_secs(5), |p| {
            messages(&p.log())
                .iter()
                .filter(|m| m.command == Command::Close && m.response)
                .count()
                > closes
        })
        .await
    );
    h.remove_dir_all(&s, "dropclose").await.expect("cleanup");
}

/// Shutting the client down sends one LOGOFF, nothing after it, and closes the connection;
/// the handles left fail cleanly afterwards.
pub async fn shutdown_sends_logoff<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let (proxy, c, s) = via_proxy(&h, server).await;
    h.list(&s, "").await.expect("list");
    assert_eq!(proxy.request_count(Command::Logoff), 0);
    h.shutdown(c).await;
    assert!(logoff_seen(&proxy).await, "shutdown must send LOGOFF");
    assert!(
        wait_until(&proxy, Duration::from_secs(5), |p| p.live_connections()
            == 0)
        .await,
        "the client must close the connection after LOGOFF"
    );
    let _w = Watchdog::new(Duration::from_secs(30), "an operation after shutdown");
    let e = h
        .list(&s, "")
        .await
        .err()
        .expect("a share of a shut-down client must fail");
    assert_eq!(e.kind(), io::ErrorKind::NotConnected, "{e}");
    drop(s);
    sleep(Duration::from_millis(200)).await;
    let reqs = requests(&proxy.log());
    let at = reqs
        .iter()
        .position(|m| m.command == Command::Logoff)
        .expect("LOGOFF logged");
    assert_eq!(
        at,
        reqs.len() - 1,
        "requests after LOGOFF: {:?}",
        &reqs[at + 1..]
    );
    assert_eq!(proxy.connections(), 1, "no reconnect after shutdown");
}

/// Listing 5,000 entries takes few QUERY_DIRECTORY round trips: pages are filled.
pub async fn list_5000_few_round_trips<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let dir = server.share_path(SHARE).join("qd5000");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir on disk");
    for i in 0..5000 {
        std::fs::write(dir.join(format!("file-{i:05}.txt")), b"x").expect("populate on disk");
    }
    let proxy = proxy_for(server);
    let (_c, _) = h
        .connect(proxied_login(&proxy, server, ClientConfig::default()))
        .await
        .expect("login through the proxy");
    let s = h.share(&_c, SHARE).await.expect("tree connect");
    let names = h.list(&s, "qd5000").await.expect("list");
    assert_eq!(names.len(), 5000);
    let round_trips = proxy.request_count(Command::QueryDirectory);
    // FileIdBothDirectoryInformation ([MS-FSCC] 2.4.17): 104 fixed bytes + the UTF-16 name
    // ("file-00000.txt": 28 bytes), 8-aligned = 136 bytes an entry; 5,002 entries with "."
    // and ".."; pages of DIR_PAGE_LEN; plus the final empty (NO_MORE_FILES) answer and one
    // of slack.
    let page = smb_core::driver::DIR_PAGE_LEN as usize;
    let bound = (5002 * 136usize).div_ceil(page) + 2;
    assert!(
        round_trips <= bound,
        "{round_trips} QUERY_DIRECTORY requests for 5,000 entries (bound {bound})"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup on disk");
}

/// A 64 MiB streamed read uses large READs, several in flight at once.
pub async fn big_read_pipelined<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let data = random_bytes(64 << 20, 5);
    put_on_disk(server, "pipelined/64m.bin", &data);
    let (proxy, _c, s) = via_proxy(&h, server).await;
    let back = h
        .read_file(&s, "pipelined/64m.bin")
        .await
        .expect("read 64 MiB");
    assert!(back == data, "64 MiB differ (got {} bytes)", back.len());
    let log = proxy.log();
    let reads = requests(&log)
        .iter()
        .filter(|m| m.command == Command::Read)
        .count();
    // 1 MiB pieces (FileIoConfig::read_chunk_max, under Samba's 8 MiB MaxReadSize), after a
    // few smaller ones while the read-ahead ramps up from 64 KiB, and one READ at EOF.
    assert!(reads >= 8, "{reads} READs cannot carry 64 MiB");
    assert!(reads <= 64 + 8, "{reads} READ requests for 64 MiB");
    // Pipelining: the most READs outstanding at any point of the (ordered) log. On a fast
    // loopback a response can reach the proxy before the next request even when the client
    // had it queued, which would make the count depend on scheduling; so the proxy holds
    // the server's chunks 100 ms here (requests pass at once): READs the client issues
    // together show as outstanding together unless a thread is starved for that long. The
    // read-ahead sends one READ, then two at once after it succeeds, so 3 MiB suffice.
    proxy.clear_log();
    proxy.set_response_delay(Duration::from_millis(100));
    let head = h
        .read_range(&s, "pipelined/64m.bin", 0, 3 << 20)
        .await
        .expect("read 3 MiB through the delaying proxy");
    proxy.set_response_delay(Duration::ZERO);
    assert!(head[..] == data[..3 << 20], "first 3 MiB differ");
    // A READ is outstanding from its request to its final response: a slow server sends a
    // STATUS_PENDING interim response first, which ends nothing.
    let log = proxy.log();
    let most = most_outstanding(&log, |m| m.command == Command::Read);
    let trace: Vec<String> = messages(&log)
        .iter()
        .filter(|m| m.command == Command::Read)
        .map(|m| {
            let dir = if m.response { "<" } else { ">" };
            format!("{dir}{}{:?}", m.message_id, m.status)
        })
        .collect();
    assert!(
        most >= 2,
        "READs are not pipelined (at most {most} in flight): {}",
        trace.join(" ")
    );
    std::fs::remove_dir_all(server.share_path(SHARE).join("pipelined")).expect("cleanup");
}

/// `metadata()` is one compound: CREATE + QUERY_INFO + CLOSE in one frame, consecutive ids.
pub async fn metadata_one_compound<H: Harness>(h: H) {
    let server = SambaServer::shared();
    put_on_disk(server, "statc/f.txt", b"12345");
    // The plain stat (the lease cache's first stat keeps its handle: see lease_cache.rs).
    let config = ClientConfig::default().without_lease_cache();
    let (proxy, _c, s) = via_proxy_with(&h, server, config).await;
    let before = requests(&proxy.log()).len();
    assert_eq!(
        h.metadata(&s, "statc/f.txt").await.expect("stat"),
        (5, false)
    );
    let reqs = requests(&proxy.log());
    let stat = &reqs[before..];
    let cmds: Vec<Command> = stat.iter().map(|m| m.command).collect();
    assert_eq!(
        cmds,
        [Command::Create, Command::QueryInfo, Command::Close],
        "{stat:?}"
    );
    assert!(
        stat.iter()
            .all(|m| m.frame == stat[0].frame && m.conn == stat[0].conn),
        "not one frame: {stat:?}"
    );
    assert_eq!(stat[1].message_id, stat[0].message_id + 1, "{stat:?}");
    assert_eq!(stat[2].message_id, stat[1].message_id + 1, "{stat:?}");
    std::fs::remove_dir_all(server.share_path(SHARE).join("statc")).expect("cleanup");
}

/// `copy` is done by the server (FSCTL_SRV_REQUEST_RESUME_KEY, then FSCTL_SRV_COPYCHUNK_WRITE,
/// [MS-SMB2] 3.2.4.20.1-2): no byte of the file crosses the wire, and the copy is exact.
pub async fn copy_is_server_side<H: Harness>(h: H) {
    let server = SambaServer::shared();
    let data = random_bytes(3 << 20, 11);
    put_on_disk(server, "copyss/src.bin", &data);
    let (proxy, _c, s) = via_proxy(&h, server).await;
    let before = requests(&proxy.log()).len();
    let n = h
        .copy(&s, "copyss/src.bin", "copyss/dst.bin")
        .await
        .expect("copy");
    assert_eq!(n, data.len() as u64);
    let reqs = requests(&proxy.log());
    let cmds: Vec<Command> = reqs[before..].iter().map(|m| m.command).collect();
    assert!(
        cmds.iter().filter(|c| **c == Command::Ioctl).count() >= 2,
        "resume key + copychunk expected: {cmds:?}"
    );
    assert!(
        !cmds.contains(&Command::Read) && !cmds.contains(&Command::Write),
        "data went through the client: {cmds:?}"
    );
    let on_disk = std::fs::read(server.share_path(SHARE).join("copyss/dst.bin")).expect("dst");
    assert!(on_disk == data, "copied bytes differ");
    std::fs::remove_dir_all(server.share_path(SHARE).join("copyss")).expect("cleanup");
}

/// A listing dropped while its CREATE is still in flight: the directory handle the server
/// opens anyway is closed by the client, not left open until the session ends.
pub async fn dropped_listing_closes<H: Harness>(h: H) {
    let server = SambaServer::shared();
    put_on_disk(server, "droplist/a.txt", b"a");
    let (proxy, _c, s) = via_proxy(&h, server).await;
    let (creates, closes) = (
        proxy.request_count(Command::Create),
        proxy.request_count(Command::Close),
    );
    h.drop_listing(&s, "droplist");
    assert!(
        wait_until(&proxy, Duration::from_secs(5), |p| p
            .request_count(Command::Create)
            == creates + 1
            && p.request_count(Command::Close) == closes + 1)
        .await,
        "the orphaned directory handle must be closed within 5 s (CREATEs {}, CLOSEs {})",
        proxy.request_count(Command::Create) - creates,
        proxy.request_count(Command::Close) - closes
    );
    std::fs::remove_dir_all(server.share_path(SHARE).join("droplist")).expect("cleanup");
}
