//! Byte-range locks across a reconnect, against Samba (tokio; the engine's raw requests, as
//! the adapters have no lock API yet). A durable handle reclaimed after a cut keeps its locks
//! on the server (Samba's durable reconnect restores them; it keeps a handle with locks only
//! under a write lease), so the client has nothing to take again: another client is still
//! refused the range, and the owner can still unlock it. A handle the server could not keep
//! is reported lost, never silently reopened (and its locks with it).

use smb_core::client::{LockRange, OpenOptions, Request, Response};
use smb_testkit::{FaultProxy, SHARE, SambaConfig};
use smb_tokio::{Client, ClientConfig, Credentials};
use std::time::Duration;

const EXCLUSIVE_NOW: u32 = 0x2 | 0x10; // SMB2_LOCKFLAG_EXCLUSIVE_LOCK | FAIL_IMMEDIATELY
const UNLOCK: u32 = 0x4;

async fn open(c: &Client, path: &str) -> (smb_core::client::FileHandle, bool) {
    let Response::TreeConnected { tree, .. } = c
        .raw(Request::TreeConnect {
            share: SHARE.into(),
        })
        .await
        .expect("tree connect")
    else {
        panic!("tree connect answer")
    };
    match c
        .raw(Request::Create {
            tree,
            path: path.into(),
            options: OpenOptions::read_write(),
        })
        .await
        .expect("open")
    {
        Response::Created { file, durable, .. } => (file, durable),
        r => panic!("{r:?}"),
    }
}

async fn lock(c: &Client, file: smb_core::client::FileHandle, flags: u32) -> std::io::Result<()> {
    c.raw(Request::Lock {
        file,
        locks: vec![LockRange {
            offset: 0,
            length: 100,
            flags,
        }],
    })
    .await
    .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_survive_a_reconnect() {
    let server = SambaConfig::new()
        .durable_handles(true)
        .start()
        .expect("start an smbd with durable handles");
    server
        .put_file(SHARE, "locks/f.bin", &[7u8; 4096])
        .expect("file");
    let proxy = FaultProxy::start(server.addr()).expect("proxy");
    let creds = || Credentials::password(None, server.user(), server.password());
    let a = Client::connect(&proxy.addr().to_string(), creds(), ClientConfig::default())
        .await
        .expect("A logs in through the proxy");
    let b = Client::connect(&server.addr().to_string(), creds(), ClientConfig::default())
        .await
        .expect("B logs in");
    let (fa, durable) = open(&a, "locks\\f.bin").await;
    assert!(durable, "A's handle is durable");
    lock(&a, fa, EXCLUSIVE_NOW).await.expect("A locks 0..100");
    // B opens the file only after the reconnect: its open would break A's write lease, and
    // Samba keeps a handle with locks across a disconnect only under a write lease.

    proxy.cut_all();
    let t0 = std::time::Instant::now();
    while a.stats().await.expect("stats").stats.reopened == 0 {
        // The reclaim happens when the tree comes back, on the next use of A's handle.
        let r = c_read(&a, fa).await;
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "A's handle was not reclaimed: {r:?} {:?}",
            a.stats().await.map(|s| s.stats)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(proxy.connections() >= 2, "A reconnected");
    let (fb, _) = open(&b, "locks\\f.bin").await;
    let e = lock(&b, fb, EXCLUSIVE_NOW).await;
    assert!(
        e.is_err(),
        "B is still refused after A's reconnect: A's lock was kept"
    );
    lock(&a, fa, UNLOCK)
        .await
        .expect("A unlocks its range on the reclaimed handle");
    lock(&b, fb, EXCLUSIVE_NOW)
        .await
        .expect("B gets the range once A released it");
}

async fn c_read(c: &Client, file: smb_core::client::FileHandle) -> std::io::Result<Response> {
    c.raw(Request::Read {
        file,
        offset: 0,
        len: 10,
    })
    .await
}
