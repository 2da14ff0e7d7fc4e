//! Multichannel against Samba (`server multi channel support = yes`), on every runtime: a
//! second connection is bound to the session and carries I/O, and cutting it mid-transfer
//! loses nothing and sets nothing up again. Extra channels go to the address of the first
//! connection (the fault proxy on 127.0.0.1), never to an interface Samba reports.

use super::*;

/// A Samba with multichannel and durable handles, listening on 127.0.0.1 only.
fn multichannel_server() -> &'static SambaServer {
    static S: std::sync::OnceLock<SambaServer> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        SambaConfig::new()
            .multichannel(0)
            .durable_handles(true)
            .start()
            .expect("start an smbd with multichannel")
    })
}

/// Connection `conn` exists and two SESSION_SETUP legs were answered on it.
fn setup_answered(p: &FaultProxy, conn: usize) -> bool {
    p.connections() > conn
        && p.counts(conn, Direction::ToClient)
            .get(&Command::SessionSetup)
            .copied()
            .unwrap_or(0)
            >= 2
}

/// Requests of `cmd` the proxy forwarded on connection `conn`.
fn on_conn(proxy: &FaultProxy, conn: usize, cmd: Command) -> usize {
    proxy
        .counts(conn, Direction::ToServer)
        .get(&cmd)
        .copied()
        .unwrap_or(0)
}

/// SESSION_SETUPs that started a new session (SessionId 0 in the request); a binding names
/// the live session.
fn new_session_setups(proxy: &FaultProxy) -> usize {
    proxy
        .log()
        .iter()
        .filter(|e| e.dir == Direction::ToServer)
        .filter_map(|e| e.header)
        .filter(|h| h.command == Command::SessionSetup && h.session_id == 0)
        .count()
}

/// Two channels of one session: both carry READs and WRITEs of a 32 MiB round trip; then
/// the second is cut in the middle of a read, which completes with the right bytes, with no
/// new session and no TREE_CONNECT; the channel is bound again.
pub async fn multichannel_binds_and_survives_a_cut<H: Harness>(h: H) {
    let server = multichannel_server();
    let proxy = proxy_for(server);
    let config = ClientConfig::default().with_max_channels(2);
    let (c, _) = h
        .connect(proxied_login(&proxy, server, config))
        .await
        .expect("login through the proxy");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    // The binding follows the first TREE_CONNECT (interface query, NEGOTIATE, two
    // SESSION_SETUP legs on connection 1).
    let bound = wait_until(&proxy, Duration::from_secs(20), |p| setup_answered(p, 1)).await;
    assert!(
        bound,
        "a second connection was bound: {} connections; connection 0 sent {:?}, got {:?}",
        proxy.connections(),
        proxy.counts(0, Direction::ToServer),
        proxy.counts(0, Direction::ToClient)
    );
    assert!(on_conn(&proxy, 0, Command::Ioctl) >= 1, "interface query");
    sleep(Duration::from_millis(200)).await;
    // The adapter's view agrees: two usable channels, one of them bound.
    let snap = h.stats(&c).await.expect("stats");
    assert_eq!(snap.good_channels(), 2, "{snap:?}");
    assert!(snap.channels.iter().any(|ch| ch.bound), "{snap:?}");
    assert_eq!(snap.stats.channels_bound, 1, "{snap:?}");
    let size = 32 << 20;
    let data = random_bytes(size, 77);
    h.create_dir_all(&s, "mc").await.expect("mkdir");
    h.write_file(&s, "mc/a.bin", data.clone(), 1 << 20)
        .await
        .expect("write over two channels");
    let back = h
        .read_file(&s, "mc/a.bin")
        .await
        .expect("read over two channels");
    assert!(back == data, "the bytes read are the ones written");
    for conn in 0..2 {
        let (w, r) = (
            on_conn(&proxy, conn, Command::Write),
            on_conn(&proxy, conn, Command::Read),
        );
        eprintln!("connection {conn}: {w} WRITEs, {r} READs");
        assert!(
            w > 0 && r > 0,
            "connection {conn} carried I/O ({w} WRITEs, {r} READs)"
        );
    }
    assert_eq!(new_session_setups(&proxy), 1, "one session");
    let snap = h.stats(&c).await.expect("stats");
    for ch in &snap.channels {
        assert!(
            ch.bytes_sent > 0 && ch.bytes_received > 0 && ch.requests_sent > 0,
            "every channel carried traffic: {snap:?}"
        );
    }

    // Cut connection 1 in the middle of a read.
    put_on_disk(server, "mc/b.bin", &data);
    proxy.set_response_delay(Duration::from_millis(1));
    let (h2, s2) = (h.clone(), s.clone());
    let task = h.spawn(Box::pin(async move { h2.read_file(&s2, "mc/b.bin").await }));
    let base = on_conn(&proxy, 1, Command::Read);
    let progressed = wait_until(&proxy, Duration::from_secs(30), |p| {
        on_conn(p, 1, Command::Read) >= base + 4
    })
    .await;
    assert!(progressed, "connection 1 carries the read");
    proxy.cut(1);
    proxy.set_response_delay(Duration::ZERO);
    let _w = Watchdog::new(Duration::from_secs(120), "a read across a cut channel");
    let got = task.await.expect("the read completes across the cut");
    assert!(got == data, "the bytes read are the file's");
    assert_eq!(new_session_setups(&proxy), 1, "no new session");
    assert_eq!(
        proxy.request_count(Command::TreeConnect),
        1,
        "no TREE_CONNECT again"
    );
    // The cut channel is bound again in the background.
    let rebound = wait_until(&proxy, Duration::from_secs(20), |p| setup_answered(p, 2)).await;
    assert!(rebound, "the lost channel was bound again");
    h.shutdown(c).await;
}
