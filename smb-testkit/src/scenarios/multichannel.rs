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

/// Cut connection `conn` once it has carried `n` more `cmd` requests.
async fn cut_once_busy(proxy: &FaultProxy, conn: usize, cmd: Command, n: usize) {
    let base = on_conn(proxy, conn, cmd);
    let progressed = wait_until(proxy, Duration::from_secs(60), |p| {
        on_conn(p, conn, cmd) >= base + n
    })
    .await;
    assert!(progressed, "connection {conn} carries {cmd:?}s");
    proxy.cut(conn);
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
    cut_once_busy(&proxy, 1, Command::Read, 4).await;
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

/// Wait until connections `1..n` of `proxy` are bound (both binding legs answered).
async fn wait_bound(proxy: &FaultProxy, first: usize, n: usize, what: &str) {
    let bound = wait_until(proxy, Duration::from_secs(30), |p| {
        (first..first + n).all(|c| setup_answered(p, c))
    })
    .await;
    assert!(
        bound,
        "{what}: {n} connections bound from connection {first} ({} connections; {:?})",
        proxy.connections(),
        (0..proxy.connections())
            .map(|c| (
                proxy.counts(c, Direction::ToServer),
                proxy.counts(c, Direction::ToClient)
            ))
            .collect::<Vec<_>>()
    );
}

/// Requests of `cmd` the proxy forwarded, on every connection.
fn total(proxy: &FaultProxy, cmd: Command) -> usize {
    (0..proxy.connections())
        .map(|conn| on_conn(proxy, conn, cmd))
        .sum()
}

/// Four channels by default (the server offers multichannel): a 512 MiB write and read are
/// striped over all four. One channel cut mid-write: nothing is set up again (no new
/// session, no TREE_CONNECT). Then all four cut at once mid-read: exactly one channel sets
/// the session up again (one non-binding SESSION_SETUP), the tree is connected once, the
/// open reclaimed once, the other channels bind to the new session; the bytes are right.
pub async fn four_channels_dedup_when_all_are_cut<H: Harness>(h: H) {
    let server = multichannel_server();
    let (proxy, c, s) = via_proxy(&h, server).await;
    wait_bound(&proxy, 1, 3, "by default").await;
    sleep(Duration::from_millis(200)).await;
    let snap = h.stats(&c).await.expect("stats");
    assert_eq!(
        snap.good_channels(),
        4,
        "four channels by default: {snap:?}"
    );

    let size = 512 << 20;
    let data = random_bytes(size, 78);
    h.create_dir_all(&s, "mc4").await.expect("mkdir");
    proxy.set_response_delay(Duration::from_millis(1));
    let (h2, s2, d2) = (h.clone(), s.clone(), data.clone());
    let write = h.spawn(Box::pin(async move {
        h2.write_file(&s2, "mc4/w.bin", d2, 1 << 20).await
    }));
    cut_once_busy(&proxy, 2, Command::Write, 8).await;
    let _w = Watchdog::new(Duration::from_secs(180), "512 MiB over four channels");
    write
        .await
        .expect("the write completes across a cut channel");
    let on_disk = std::fs::read(server.share_path(SHARE).join("mc4/w.bin")).expect("on disk");
    assert!(
        on_disk == data,
        "the file written over four channels is intact"
    );
    for conn in [0, 1, 3] {
        assert!(
            on_conn(&proxy, conn, Command::Write) > 0,
            "connection {conn} carried WRITEs"
        );
    }
    assert_eq!(
        new_session_setups(&proxy),
        1,
        "one channel cut: no new session"
    );
    assert_eq!(
        total(&proxy, Command::TreeConnect),
        1,
        "no TREE_CONNECT again"
    );

    // All channels cut at once in the middle of a read of the same file.
    let before = proxy.connections();
    let creates = total(&proxy, Command::Create);
    let (h2, s2) = (h.clone(), s.clone());
    let read = h.spawn(Box::pin(
        async move { h2.read_file(&s2, "mc4/w.bin").await },
    ));
    let base = total(&proxy, Command::Read);
    let progressed = wait_until(&proxy, Duration::from_secs(60), |p| {
        total(p, Command::Read) >= base + 32
    })
    .await;
    assert!(progressed, "the read progresses");
    proxy.cut_all();
    proxy.set_response_delay(Duration::ZERO);
    let got = read
        .await
        .expect("the read completes across cutting every channel");
    assert!(
        got == data,
        "the bytes read over four channels are the file's"
    );
    assert_eq!(
        new_session_setups(&proxy),
        2,
        "all cut: exactly one channel set the session up again"
    );
    assert_eq!(
        total(&proxy, Command::TreeConnect),
        2,
        "all cut: the tree was connected once more"
    );
    let snap = h.stats(&c).await.expect("stats");
    assert_eq!(snap.stats.reconnects, 1, "one recovery: {snap:?}");
    assert_eq!(
        snap.stats.reopened, 1,
        "the open was reclaimed once: {snap:?}"
    );
    // The read's own CREATE, its one reclaim, and nothing else.
    assert_eq!(
        total(&proxy, Command::Create),
        creates + 2,
        "one CREATE for the read and one reclaim"
    );
    // The other channels bind to the new session.
    let reconnected = proxy.connections() - before;
    assert!(reconnected >= 1, "a new connection carried the session");
    wait_bound(&proxy, before + 1, 3, "after the cut").await;
    sleep(Duration::from_millis(200)).await;
    let snap = h.stats(&c).await.expect("stats");
    assert_eq!(snap.good_channels(), 4, "four channels again: {snap:?}");
    h.shutdown(c).await;
}

/// A server that stops offering multichannel across a restart: the client, with four
/// channels before, comes back on one (a new session, since the restart forgot the old
/// one) and works on it, binding nothing.
pub async fn multichannel_falls_back_to_one_channel<H: Harness>(h: H) {
    let mut server = SambaConfig::new()
        .multichannel(0)
        .durable_handles(true)
        .start()
        .expect("start an smbd with multichannel");
    let proxy = proxy_for(&server);
    let (c, _) = h
        .connect(proxied_login(&proxy, &server, ClientConfig::default()))
        .await
        .expect("login through the proxy");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    wait_bound(&proxy, 1, 3, "before").await;
    sleep(Duration::from_millis(200)).await;
    let bound_before = h.stats(&c).await.expect("stats").stats.channels_bound;
    server
        .reconfigure(|cfg| cfg.multichannel_off())
        .expect("restart smbd without multichannel");
    proxy.cut_all();
    let data = random_bytes(4 << 20, 79);
    let _w = Watchdog::new(Duration::from_secs(120), "I/O after the fallback");
    h.write_file(&s, "fallback.bin", data.clone(), 1 << 20)
        .await
        .expect("a write after the server stopped offering multichannel");
    let back = h.read_file(&s, "fallback.bin").await.expect("read back");
    assert!(back == data, "the bytes are right on one channel");
    sleep(Duration::from_millis(500)).await;
    let snap = h.stats(&c).await.expect("stats");
    assert_eq!(snap.good_channels(), 1, "one channel: {snap:?}");
    // Reconnect attempts while smbd restarts may take more than one connection (a CI run
    // saw two set up a session); none binds.
    assert_eq!(
        snap.stats.channels_bound, bound_before,
        "nothing bound after the fallback: {snap:?}"
    );
    assert!(new_session_setups(&proxy) >= 2, "a new session");
    h.shutdown(c).await;
}

/// Encryption required by the client with four channels: every binding is made (not
/// encrypted, signed with the session's key, its own channel signing key on 3.1.1,
/// [MS-SMB2] 3.2.4.1.8) and the encrypted traffic of one session flows over all of them.
/// (Samba 4.17 refuses unencrypted requests, bindings included, on sessions it requires
/// encryption for itself (`smb encrypt = required`), so that server setting and
/// multichannel do not go together there.)
pub async fn encrypted_session_binds_channels<H: Harness>(h: H) {
    let server = multichannel_server();
    let proxy = proxy_for(server);
    let config = ClientConfig::default().with_require_encryption(true);
    let (c, _) = h
        .connect(proxied_login(&proxy, server, config))
        .await
        .expect("encrypted login through the proxy");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    wait_bound(&proxy, 1, 3, "encrypted").await;
    let data = random_bytes(32 << 20, 80);
    h.create_dir_all(&s, "mc-enc").await.expect("mkdir");
    h.write_file(&s, "mc-enc/a.bin", data.clone(), 1 << 20)
        .await
        .expect("an encrypted write over four channels");
    let back = h.read_file(&s, "mc-enc/a.bin").await.expect("read back");
    assert!(back == data, "the bytes are right");
    let snap = h.stats(&c).await.expect("stats");
    assert_eq!(snap.good_channels(), 4, "{snap:?}");
    for (i, ch) in snap.channels.iter().enumerate() {
        assert!(
            ch.requests_sent > 0,
            "channel {i} carried requests: {snap:?}"
        );
    }
    assert!(
        snap.stats.encrypted_sent >= snap.stats.requests_sent / 2,
        "the traffic is encrypted: {snap:?}"
    );
    h.shutdown(c).await;
}

/// The transitions of a four-channel session whose first extra channel is cut and bound again,
/// after the login and tree connect (the first 9 of [`RECOVERY_TRANSITIONS`]): the same on
/// every runtime, and the session and tree never leave Good.
pub const MULTICHANNEL_TRANSITIONS: &[&str] = &[
    // The bindings of the three extra channels, one after the other (each its own
    // NEGOTIATE, then a binding SESSION_SETUP).
    "channel#1 New -> NeedNegotiate",
    "channel#1 NeedNegotiate -> InNegotiate",
    "channel#1 InNegotiate -> NeedSessSetup",
    "channel#1 NeedSessSetup -> InSessSetup",
    "channel#1 InSessSetup -> Good",
    "channel#2 New -> NeedNegotiate",
    "channel#2 NeedNegotiate -> InNegotiate",
    "channel#2 InNegotiate -> NeedSessSetup",
    "channel#2 NeedSessSetup -> InSessSetup",
    "channel#2 InSessSetup -> Good",
    "channel#3 New -> NeedNegotiate",
    "channel#3 NeedNegotiate -> InNegotiate",
    "channel#3 InNegotiate -> NeedSessSetup",
    "channel#3 NeedSessSetup -> InSessSetup",
    "channel#3 InSessSetup -> Good",
    // The cut: that channel is gone; the session and the tree do not move.
    "channel#1 Good -> NeedReconnect",
    "channel#1 NeedReconnect -> Exiting",
    // Bound again, as a new channel.
    "channel#4 New -> NeedNegotiate",
    "channel#4 NeedNegotiate -> InNegotiate",
    "channel#4 InNegotiate -> NeedSessSetup",
    "channel#4 NeedSessSetup -> InSessSetup",
    "channel#4 InSessSetup -> Good",
];

/// The login's and tree connect's transitions at the start of [`RECOVERY_TRANSITIONS`].
const LOGIN_TRANSITIONS: usize = 9;

/// Four channels (the default), the first extra one cut once (nothing in flight) and bound again: the
/// transitions the adapter's event stream delivers are exactly
/// [`MULTICHANNEL_TRANSITIONS`], in order, on every runtime.
pub async fn multichannel_transitions_are_the_same_on_every_runtime<H: Harness>(h: H) {
    let server = multichannel_server();
    let proxy = proxy_for(server);
    let log = EventLog::default();
    let c = h
        .connect_recorded(
            proxied_login(&proxy, server, ClientConfig::default()),
            log.clone(),
        )
        .await
        .expect("login through the proxy");
    let _s = h.share(&c, SHARE).await.expect("tree connect");
    wait_bound(&proxy, 1, 3, "parity").await;
    sleep(Duration::from_millis(100)).await;
    proxy.cut(1);
    wait_bound(&proxy, 4, 1, "parity, bound again").await;
    let expected: Vec<&str> = super::RECOVERY_TRANSITIONS[..LOGIN_TRANSITIONS]
        .iter()
        .chain(MULTICHANNEL_TRANSITIONS)
        .copied()
        .collect();
    let got = log
        .transitions_after(
            expected.len(),
            Duration::from_secs(5),
            Duration::from_millis(200),
        )
        .await;
    eprintln!("transitions:\n{}", got.join("\n"));
    assert_eq!(got, expected, "the transitions of a rebinding");
    h.shutdown(c).await;
}
