//! One list of end-to-end scenarios for every runtime adapter, written once.
//!
//! Each adapter's `tests/` implements [`Harness`] (how to connect, open, read, list... with
//! that adapter, and how to run and spawn futures on its runtime) and instantiates every
//! scenario with [`scenario_tests!`](crate::scenario_tests). The scenario bodies are `async`
//! and run on the harness's runtime (multi-threaded where the runtime has one); the blocking
//! adapter's harness runs each operation synchronously and spawns OS threads, so concurrency
//! scenarios use real concurrency in every runtime.
//!
//! Most scenarios run against [`SambaServer::shared`] (one smbd per test process; under
//! nextest every test is its own process) and work in their own directory of [`SHARE`].
//! Scenarios that need another server configuration (guest, signing required) start their
//! own [`SambaServer`] and drop it (stopping smbd) at the end. Scenarios that count or break
//! traffic put a [`FaultProxy`] of their own between the client and the server.

#![allow(clippy::err_expect)] // handles are not Debug

mod attacks;
pub use attacks::*;

use crate::{
    Direction, ENCRYPTED_SHARE, Event, FaultProxy, GUEST_SHARE, READONLY_SHARE, SHARE, SambaConfig,
    SambaServer, Seen,
};
use smb_core::client::{Cipher, ClientConfig, Dialect};
use smb_core::wire::Command;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod fs_watch;
pub use fs_watch::*;
mod multichannel;
pub use multichannel::{
    MULTICHANNEL_TRANSITIONS, encrypted_session_binds_channels,
    four_channels_dedup_when_all_are_cut, multichannel_binds_and_survives_a_cut,
    multichannel_falls_back_to_one_channel, multichannel_transitions_are_the_same_on_every_runtime,
};
mod shares;
mod signing;
mod std_api;
pub use shares::{list_shares_of_samba, named_pipe_transact_binds};
pub use signing::signing_by_default_on_311;
pub use smb_core::wire::srvsvc::ShareInfo;
pub use std_api::{
    FileApi, Locking, alternate_data_streams, attributes_and_permissions, byte_range_locks,
    dir_entries_and_patterns, open_options_like_std, walk_recursive_with_depth_and_errors,
};
mod reconnect;
pub use reconnect::{
    RECOVERY_TRANSITIONS, concurrent_io_across_repeated_cuts, server_restart_loses_durable_handles,
    session_expiry_reauthenticates_in_place, stalled_connection_is_replaced,
    transfer_survives_two_cuts, transitions_are_the_same_on_every_runtime,
    write_handle_lost_on_default_samba,
};

/// A boxed future.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The identity of a [`Login`].
#[derive(Clone, Debug)]
pub enum Who {
    /// User name and password.
    User(String, String),
    /// The guest account (`Credentials::guest()`).
    Guest,
    /// An anonymous (NULL) session (`Credentials::anonymous()`).
    Anonymous,
}

/// Who logs in.
#[derive(Clone, Debug)]
pub struct Login {
    /// `host:port`.
    pub target: String,
    /// Who.
    pub who: Who,
    /// Client configuration.
    pub config: ClientConfig,
}

impl Who {
    /// The engine's credentials for this identity (the same type in every adapter).
    pub fn credentials(self) -> smb_core::driver::Credentials {
        use smb_core::driver::Credentials;
        match self {
            Who::User(u, p) => Credentials::password(None, u, p),
            Who::Guest => Credentials::guest(),
            Who::Anonymous => Credentials::anonymous(),
        }
    }
}

/// The client events a harness recorded from an adapter's event stream.
#[derive(Clone, Default, Debug)]
pub struct EventLog(Arc<Mutex<Vec<smb_core::client::Event>>>);

impl EventLog {
    /// Record `e`.
    pub fn push(&self, e: smb_core::client::Event) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    /// What was recorded so far.
    pub fn events(&self) -> Vec<smb_core::client::Event> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The transitions so far, as `"channel#1 InNegotiate -> NeedSessSetup"` (no timing).
    pub fn transitions(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter_map(|e| e.transition())
            .map(|(o, f, t)| format!("{o} {f} -> {t}"))
            .collect()
    }

    /// The transitions once there are at least `n` (the event stream is asynchronous: the
    /// last ones may arrive after the operation that caused them returned), or what there is
    /// after `within`; then a pause of `settle` lets any unexpected extra ones show up.
    pub async fn transitions_after(
        &self,
        n: usize,
        within: Duration,
        settle: Duration,
    ) -> Vec<String> {
        let t0 = Instant::now();
        while self.transitions().len() < n && t0.elapsed() < within {
            sleep(Duration::from_millis(10)).await;
        }
        sleep(settle).await;
        self.transitions()
    }
}

/// What the session negotiated, as the harness reports it.
#[derive(Clone, Copy, Debug)]
pub struct Negotiated {
    /// Dialect.
    pub dialect: Dialect,
    /// Signed.
    pub signing: bool,
    /// Encrypted.
    pub encryption: bool,
    /// The server made it a guest session.
    pub guest: bool,
    /// Anonymous (NULL) session.
    pub anonymous: bool,
}

/// One adapter (and runtime) under test.
pub trait Harness: Clone + Send + Sync + 'static {
    /// The adapter's client.
    type Client: Clone + Send + Sync + 'static;
    /// The adapter's share.
    type Share: Clone + Send + Sync + 'static;
    /// Run a future to completion on the runtime (from the test thread).
    fn block_on<T: Send + 'static>(&self, f: BoxFut<'static, T>) -> T;
    /// Run a future concurrently (a task, or a thread for the blocking adapter).
    fn spawn<T: Send + 'static>(&self, f: BoxFut<'static, T>) -> BoxFut<'static, T>;
    /// Connect and log in.
    fn connect(&self, login: Login) -> BoxFut<'static, io::Result<(Self::Client, Negotiated)>>;
    /// Connect and log in with the adapter's event stream (`connect_with_events`), every
    /// client event from the login on recorded in `log`.
    fn connect_recorded(
        &self,
        login: Login,
        log: EventLog,
    ) -> BoxFut<'static, io::Result<Self::Client>>;
    /// Tree connect.
    fn share(&self, c: &Self::Client, name: &str) -> BoxFut<'static, io::Result<Self::Share>>;
    /// Create/truncate `path` and stream `data` into it through the file's write trait
    /// (in pieces of `piece` bytes), then close it reporting errors.
    fn write_file(
        &self,
        s: &Self::Share,
        path: &str,
        data: Vec<u8>,
        piece: usize,
    ) -> BoxFut<'static, io::Result<()>>;
    /// Open `path` and stream it to the end through the file's read trait.
    fn read_file(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<Vec<u8>>>;
    /// The whole-file read (`Share::read`: the file in memory in one call).
    fn read_whole(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<Vec<u8>>>;
    /// Open `path`, seek to `offset` (from the end if negative), read exactly `len` bytes.
    fn read_range(
        &self,
        s: &Self::Share,
        path: &str,
        offset: i64,
        len: usize,
    ) -> BoxFut<'static, io::Result<Vec<u8>>>;
    /// Open `path` read-write and write `data` at `offset` with the positional API.
    fn write_at(
        &self,
        s: &Self::Share,
        path: &str,
        offset: u64,
        data: Vec<u8>,
    ) -> BoxFut<'static, io::Result<()>>;
    /// Names in a directory (listing stream/iterator, to the end).
    fn list(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<Vec<String>>>;
    /// `(size, is_dir)`.
    fn metadata(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<(u64, bool)>>;
    /// `exists`.
    fn exists(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<bool>>;
    /// Whole-file write.
    fn write(&self, s: &Self::Share, path: &str, data: Vec<u8>) -> BoxFut<'static, io::Result<()>>;
    /// `create_dir`.
    fn create_dir(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<()>>;
    /// `create_dir_all`.
    fn create_dir_all(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<()>>;
    /// `remove_file`.
    fn remove_file(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<()>>;
    /// `remove_dir`.
    fn remove_dir(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<()>>;
    /// `remove_dir_all`.
    fn remove_dir_all(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<()>>;
    /// `rename`.
    fn rename(&self, s: &Self::Share, from: &str, to: &str) -> BoxFut<'static, io::Result<()>>;
    /// `set_len`.
    fn set_len(&self, s: &Self::Share, path: &str, len: u64) -> BoxFut<'static, io::Result<()>>;
    /// `copy`.
    fn copy(&self, s: &Self::Share, from: &str, to: &str) -> BoxFut<'static, io::Result<u64>>;
    /// Create `path` exclusively (`create_new`: fails if it exists), then close it.
    fn create_new(&self, s: &Self::Share, path: &str) -> BoxFut<'static, io::Result<()>>;
    /// The adapter's `Client::stats`: the engine's counters and every channel now.
    fn stats(
        &self,
        c: &Self::Client,
    ) -> BoxFut<'static, io::Result<smb_core::driver::StatsSnapshot>>;
    /// Log off and close the connection (the adapter's `Client::shutdown`).
    /// Subscribe to the client's events (`Client::events`): the returned function hands
    /// out the next waiting event without waiting (`None` when none waits).
    fn events(
        &self,
        c: &Self::Client,
    ) -> Box<dyn FnMut() -> Option<smb_core::client::Event> + Send>;
    fn shutdown(&self, c: Self::Client) -> BoxFut<'static, ()>;
    /// Open `path` (existing) for reading with the given ShareAccess and keep it open: the
    /// returned guard closes it (in the background) when dropped.
    fn hold_open(
        &self,
        s: &Self::Share,
        path: &str,
        share_access: u32,
    ) -> BoxFut<'static, io::Result<Box<dyn Send>>>;
    /// Start listing `path` and drop the listing at once, while its CREATE is in flight.
    fn drop_listing(&self, s: &Self::Share, path: &str);
    /// `Share::fs_info`.
    fn fs_info(&self, s: &Self::Share) -> BoxFut<'static, io::Result<smb_core::driver::FsInfo>>;
    /// `Share::space`.
    fn space(&self, s: &Self::Share) -> BoxFut<'static, io::Result<smb_core::driver::FsSpace>>;
    /// `Share::watch`: resolves once the watch is armed.
    fn watch(
        &self,
        s: &Self::Share,
        path: &str,
        recursive: bool,
        filter: u32,
    ) -> BoxFut<'static, io::Result<Box<dyn Watching>>>;
    /// The adapter's `Client::list_shares`.
    fn list_shares(&self, c: &Self::Client) -> BoxFut<'static, io::Result<Vec<ShareInfo>>>;
    /// `Client::open_pipe(pipe)`, one `Pipe::transact(request)`, then `Pipe::close`.
    fn pipe_transact(
        &self,
        c: &Self::Client,
        pipe: &str,
        request: Vec<u8>,
    ) -> BoxFut<'static, io::Result<Vec<u8>>>;
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The login for the shared server's test user.
pub fn user_login(server: &SambaServer, config: ClientConfig) -> Login {
    Login {
        target: server.addr().to_string(),
        who: Who::User(server.user().to_string(), server.password().to_string()),
        config,
    }
}

/// Connect to [`SHARE`] as the test user and make a fresh directory `dir` in it.
pub async fn setup<H: Harness>(h: &H, dir: &str) -> (H::Client, H::Share) {
    let server = SambaServer::shared();
    let (c, _) = h
        .connect(user_login(server, ClientConfig::default()))
        .await
        .expect("login as the test user");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    let _ = h.remove_dir_all(&s, dir).await;
    h.create_dir_all(&s, dir)
        .await
        .expect("create the scenario directory");
    (c, s)
}

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

/// Signing required by the client: every dialect signs and works, and the wire shows it:
/// every request after the logon and every final response is signed (at the proxy).
pub async fn signing_required<H: Harness>(h: H) {
    let server = SambaServer::shared();
    for d in [Dialect::Smb202, Dialect::Smb300, Dialect::Smb311] {
        let proxy = proxy_for(server);
        let cfg = ClientConfig::default()
            .with_dialects(d, d)
            .with_require_signing(true);
        let (c, n) = h
            .connect(proxied_login(&proxy, server, cfg))
            .await
            .unwrap_or_else(|e| panic!("signed login {d:?}: {e}"));
        assert!(n.signing, "{d:?} session must sign");
        let s = h.share(&c, SHARE).await.expect("signed tree connect");
        h.list(&s, "").await.expect("signed listing");
        assert_signed_on_wire(&proxy, &format!("{d:?}, client requires signing")).await;
    }
}

/// Every request after the last SESSION_SETUP request and every final response to one of
/// them carries SMB2_FLAGS_SIGNED and a non-zero signature; returns how many requests that
/// was. (That the signatures verify is what the attack scenarios test: a tampered one is
/// refused.)
async fn assert_signed_on_wire(proxy: &FaultProxy, what: &str) -> usize {
    // Background requests (the listing's CLOSE) may still have their answer on the way.
    // Counted exactly as the check below counts them: the requests after the last
    // SESSION_SETUP against their final answers (counting the whole log let a surplus
    // before the logon hide a missing answer after it, and the check then ran too early).
    let answered = |p: &FaultProxy| {
        let log = p.log();
        let reqs = requests(&log);
        let Some(last) = reqs
            .iter()
            .rposition(|m| m.command == Command::SessionSetup)
        else {
            return false;
        };
        let setup_id = reqs[last].message_id;
        let finals = messages(&log)
            .iter()
            .filter(|m| m.response && m.message_id > setup_id)
            .filter(|m| m.status != smb_core::wire::NtStatus::PENDING)
            .filter(|m| m.command != Command::Cancel)
            .count();
        finals >= reqs.len() - last - 1
    };
    // Generous: on a loaded machine the background CLOSE's answer can take a while.
    wait_until(proxy, Duration::from_secs(20), answered).await;
    let log = proxy.log();
    let all = messages(&log);
    let reqs = requests(&log);
    let last_setup = reqs
        .iter()
        .rposition(|m| m.command == Command::SessionSetup)
        .unwrap_or_else(|| panic!("{what}: no SESSION_SETUP on the wire"));
    let setup_id = reqs[last_setup].message_id;
    let after = &reqs[last_setup + 1..];
    assert!(!after.is_empty(), "{what}: no request after the logon");
    let signature = |m: &Msg| {
        log.iter()
            .find(|e| {
                e.dir == m.dir
                    && e.frame == m.frame
                    && e.conn == m.conn
                    && e.header.is_some_and(|h| h.message_id == m.message_id)
            })
            .and_then(|e| e.header)
            .map(|h| h.signature)
            .unwrap_or([0; 16])
    };
    for m in after {
        assert!(
            m.signed && signature(m) != [0; 16],
            "{what}: unsigned request after SESSION_SETUP: {m:?}"
        );
    }
    let finals: Vec<&Msg> = all
        .iter()
        .filter(|m| m.response && m.message_id > setup_id)
        .filter(|m| m.status != smb_core::wire::NtStatus::PENDING)
        .filter(|m| m.command != Command::Cancel)
        .collect();
    assert!(
        finals.len() >= after.len(),
        "{what}: {} final responses for {} requests: {after:?}; answers: {finals:?}",
        finals.len(),
        after.len()
    );
    for m in finals {
        assert!(
            m.signed && signature(m) != [0; 16],
            "{what}: unsigned final response from the server: {m:?}"
        );
    }
    after.len()
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
fn most_outstanding(log: &[Event], which: impl Fn(&Msg) -> bool) -> usize {
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

async fn loop_open<H: Harness>(h: &H, s: &H::Share, mode: u32) -> Box<dyn Send> {
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

// ---- helpers for the scenarios that watch or break the traffic ----

/// Aborts the process (failing the test) if not dropped within `limit`, so that an operation
/// that hangs fails the test instead of hanging it, whatever the runtime (even a blocking
/// call inside a future).
pub struct Watchdog {
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl Watchdog {
    /// Arm it; `what` is printed if it fires.
    pub fn new(limit: Duration, what: &str) -> Watchdog {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let (d2, what) = (done.clone(), what.to_string());
        std::thread::spawn(move || {
            let (m, cv) = &*d2;
            let g = m.lock().unwrap_or_else(|e| e.into_inner());
            let (g, _) = cv
                .wait_timeout_while(g, limit, |done| !*done)
                .unwrap_or_else(|e| e.into_inner());
            if !*g {
                eprintln!("watchdog: {what} did not finish within {limit:?}; aborting");
                std::process::abort();
            }
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (m, cv) = &*self.done;
        *m.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
}

/// Sleep without blocking the runtime's thread, on any runtime: a helper thread sleeps and
/// wakes the future. (Blocking a tokio worker in a scenario would also block the tasks
/// queued on that worker, such as the adapter's driver.)
pub async fn sleep(d: Duration) {
    struct Timer {
        state: Arc<Mutex<(bool, Option<std::task::Waker>)>>,
        started: bool,
        d: Duration,
    }
    impl Future for Timer {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.0 {
                return std::task::Poll::Ready(());
            }
            st.1 = Some(cx.waker().clone());
            drop(st);
            if !self.started {
                self.started = true;
                let (state, d) = (self.state.clone(), self.d);
                std::thread::spawn(move || {
                    std::thread::sleep(d);
                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                    st.0 = true;
                    if let Some(w) = st.1.take() {
                        w.wake();
                    }
                });
            }
            std::task::Poll::Pending
        }
    }
    Timer {
        state: Arc::new(Mutex::new((false, None))),
        started: false,
        d,
    }
    .await
}

/// [`FaultProxy::wait_until`] without blocking the runtime: poll `pred` every 10 ms.
pub async fn wait_until(
    proxy: &FaultProxy,
    timeout: Duration,
    mut pred: impl FnMut(&FaultProxy) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pred(proxy) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(10)).await;
    }
}

/// A proxy in front of `server`, a default login through it and the user share (kept with
/// the client, which must stay alive as long as the share is used).
async fn via_proxy<H: Harness>(h: &H, server: &SambaServer) -> (FaultProxy, H::Client, H::Share) {
    let proxy = proxy_for(server);
    let (c, _) = h
        .connect(proxied_login(&proxy, server, ClientConfig::default()))
        .await
        .expect("login through the proxy");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    (proxy, c, s)
}

/// A fault proxy of one scenario in front of `server`.
fn proxy_for(server: &SambaServer) -> FaultProxy {
    FaultProxy::start(server.addr()).expect("start the fault proxy")
}

/// The test user's login through `proxy`.
fn proxied_login(proxy: &FaultProxy, server: &SambaServer, config: ClientConfig) -> Login {
    Login {
        target: proxy.addr().to_string(),
        ..user_login(server, config)
    }
}

/// One SMB2 message of the proxy log, flattened.
#[derive(Clone, Copy, Debug)]
struct Msg {
    conn: usize,
    dir: Direction,
    frame: u64,
    command: Command,
    message_id: u64,
    status: smb_core::wire::NtStatus,
    response: bool,
    signed: bool,
    /// TreeId (0 in the async form).
    tree_id: u32,
}

fn messages(log: &[Event]) -> Vec<Msg> {
    log.iter()
        .filter_map(|e| match e.what {
            Seen::Smb2 {
                command,
                message_id,
                status,
                response,
                signed,
            } => Some(Msg {
                conn: e.conn,
                dir: e.dir,
                frame: e.frame,
                command,
                message_id,
                status,
                response,
                signed,
                tree_id: e.header.map_or(0, |h| h.tree_id()),
            }),
            _ => None,
        })
        .collect()
}

fn requests(log: &[Event]) -> Vec<Msg> {
    messages(log)
        .into_iter()
        .filter(|m| m.dir == Direction::ToServer && !m.response)
        .collect()
}

/// Put `data` at `rel` in the share's directory on disk (bypassing SMB), parents included.
fn put_on_disk(server: &SambaServer, rel: &str, data: &[u8]) {
    let path = server.share_path(SHARE).join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir on disk");
        // smbd runs as another user: let it create files next to ours.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o777))
            .expect("chmod on disk");
    }
    std::fs::write(&path, data).expect("write on disk");
}

fn assert_message(e: &io::Error, parts: &[&str]) {
    let text = e.to_string();
    for p in parts {
        assert!(text.contains(p), "error text {text:?} should name {p:?}");
    }
}

// ---- login kinds and signing ----

/// Guest and anonymous logins on a guest-enabled server; a guest session cannot sign, so a
/// client that requires signing gets a clear PermissionDenied.
pub async fn guest_and_anonymous<H: Harness>(h: H) {
    let server = SambaConfig::new()
        .guest(true)
        .start()
        .expect("start a guest-enabled smbd");
    server
        .put_file(GUEST_SHARE, "hello.txt", b"hello guest")
        .expect("put a file in the guest share");
    let login = |who: Who, config: ClientConfig| Login {
        target: server.addr().to_string(),
        who,
        config,
    };

    let (c, n) = h
        .connect(login(Who::Guest, ClientConfig::default()))
        .await
        .expect("guest login");
    assert!(n.guest, "Samba must flag the session as guest: {n:?}");
    assert!(
        !n.signing && !n.encryption,
        "a guest session has no key: {n:?}"
    );
    let s = h.share(&c, GUEST_SHARE).await.expect("guest tree connect");
    let names = h.list(&s, "").await.expect("guest listing");
    assert!(names.iter().any(|n| n == "hello.txt"), "{names:?}");
    assert_eq!(
        h.read_file(&s, "hello.txt").await.expect("guest read"),
        b"hello guest"
    );
    h.write(&s, "from-guest.txt", b"written by guest".to_vec())
        .await
        .expect("guest write to a writable guest share");
    assert_eq!(
        std::fs::read(server.share_path(GUEST_SHARE).join("from-guest.txt")).expect("on disk"),
        b"written by guest"
    );

    // Anonymous: Samba accepts the NULL session (restrict anonymous = 0) and lets it reach a
    // `guest ok` share, but not a share that needs a user.
    let (c, n) = h
        .connect(login(Who::Anonymous, ClientConfig::default()))
        .await
        .expect("anonymous login");
    // Samba answers a NULL session with SessionFlags 0 (neither IS_GUEST nor IS_NULL); the
    // engine reports `anonymous` from what it asked for as well. There is no session key, so
    // nothing is signed.
    assert!(n.anonymous, "an anonymous session: {n:?}");
    assert!(!n.guest, "not a guest session: {n:?}");
    assert!(!n.signing, "an anonymous session has no key: {n:?}");
    let s = h
        .share(&c, GUEST_SHARE)
        .await
        .expect("anonymous tree connect to the guest share");
    let names = h.list(&s, "").await.expect("anonymous listing");
    assert!(names.iter().any(|n| n == "hello.txt"), "{names:?}");
    let e = h
        .share(&c, SHARE)
        .await
        .err()
        .expect("anonymous tree connect to a user share must fail");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert_message(&e, &["STATUS_ACCESS_DENIED"]);

    // Guest + a client that requires signing: no session key, so no signing: refused.
    let e = h
        .connect(login(
            Who::Guest,
            ClientConfig::default().with_require_signing(true),
        ))
        .await
        .err()
        .expect("a guest session cannot satisfy require_signing");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("sign"), "{e}");
}

/// A server that requires signing, a client that does not ask for it: the session signs
/// anyway, a file round trip works, every request after the last SESSION_SETUP request and
/// every final response is signed on the wire; an anonymous session (no key) is refused.
pub async fn server_requires_signing<H: Harness>(h: H) {
    let server = SambaConfig::new()
        .signing_required(true)
        .start()
        .expect("start an smbd with server signing = mandatory");
    for d in [Dialect::Smb202, Dialect::Smb300, Dialect::Smb311] {
        let proxy = proxy_for(&server);
        let cfg = ClientConfig::default().with_dialects(d, d);
        assert!(!cfg.require_signing);
        let (c, n) = h
            .connect(proxied_login(&proxy, &server, cfg))
            .await
            .unwrap_or_else(|e| panic!("{d:?} login to a signing server: {e}"));
        assert!(n.signing, "{d:?}: the session must sign: {n:?}");
        let s = h.share(&c, SHARE).await.expect("tree connect");
        let data = random_bytes(300_000, 11);
        let name = format!("signed-{d:?}.bin");
        h.write_file(&s, &name, data.clone(), 65536)
            .await
            .expect("signed write");
        assert_eq!(h.read_file(&s, &name).await.expect("signed read"), data);
        h.remove_file(&s, &name).await.expect("remove");
        let reqs = requests(&proxy.log());
        assert!(
            reqs.iter().any(|m| m.command == Command::Write)
                && reqs.iter().any(|m| m.command == Command::Read),
            "{d:?}: {reqs:?}"
        );
        // Both directions, at the proxy: signed requests, signed final responses (the client
        // verified them, or it would have failed).
        assert_signed_on_wire(&proxy, &format!("{d:?}, server requires signing")).await;
    }
    // An anonymous session has no key, so it cannot sign: Samba would let it log in
    // unsigned even here, and the client refuses such a session ([MS-SMB2] 3.2.5.3.1).
    let anon = Login {
        target: server.addr().to_string(),
        who: Who::Anonymous,
        config: ClientConfig::default(),
    };
    let e = h
        .connect(anon)
        .await
        .err()
        .expect("an anonymous session on a server that requires signing is refused");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("signing"), "{e}");
}

// ---- what goes over the wire (counted at a fault proxy) ----

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
    assert!(
        wait_until(&proxy, Duration::from_secs(5), |p| p
            .request_count(Command::Logoff)
            == 1)
        .await,
        "shutdown must send LOGOFF"
    );
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
    let (proxy, _c, s) = via_proxy(&h, server).await;
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

// ---- broken servers ----

fn connection_lost(kind: io::ErrorKind) -> bool {
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
            .with_reconnect_give_up(Some(smb_core::time::Duration::from_secs(2)));
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

// ---- error kinds ----

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
            "CREATE",
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

/// Instantiate every scenario as a `#[test]` for a harness expression.
#[macro_export]
macro_rules! scenario_tests {
    ($harness:expr) => {
        $crate::scenario_tests!(@each $harness;
            login_each_dialect, signing_required, signing_by_default_on_311,
            encryption_required_each_cipher,
            wrong_password, unknown_share, big_file_round_trip, seek_and_partial_reads,
            list_5000, namespace_ops, concurrent_readers_writers, share_modes,
            guest_and_anonymous, server_requires_signing, dropped_file_closes,
            shutdown_sends_logoff, dropped_listing_closes, list_5000_few_round_trips,
            big_read_pipelined,
            metadata_one_compound, copy_is_server_side, server_gone_mid_transfer,
            stalled_server_times_out, error_kinds, transfer_survives_two_cuts,
            concurrent_io_across_repeated_cuts, write_handle_lost_on_default_samba,
            stalled_connection_is_replaced,
            transitions_are_the_same_on_every_runtime, server_restart_loses_durable_handles,
            session_expiry_reauthenticates_in_place,
            attack_unsigned_read_session_id_zero, attack_flipped_read_signature,
            attack_forged_interim_then_tampered_final,
            attack_plaintext_interim_on_encrypted_session,
            attack_plaintext_read_on_encrypted_share, attack_cancel_on_encrypted_share,
            attack_transform_wrong_flags, attack_transform_wrong_original_size,
            attack_transform_other_session_id, attack_transform_from_another_session,
            attack_read_more_than_asked, attack_wrong_password_no_guest_fallback,
            attack_relay_sets_is_guest, guest_fallback_only_when_opted_in,
            multichannel_binds_and_survives_a_cut, four_channels_dedup_when_all_are_cut,
            multichannel_falls_back_to_one_channel, encrypted_session_binds_channels,
            multichannel_transitions_are_the_same_on_every_runtime,
            open_options_like_std, dir_entries_and_patterns, attributes_and_permissions,
            byte_range_locks, walk_recursive_with_depth_and_errors, alternate_data_streams,
            fs_info_matches_the_disk, watch_sees_changes, watch_recursive_or_not,
            dropped_watch_is_cancelled, watch_across_a_cut_ends_clearly,
            watch_overflow_says_rescan,
            list_shares_of_samba, named_pipe_transact_binds);
    };
    (@each $harness:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let h = $harness;
                let h2 = h.clone();
                $crate::scenarios::Harness::block_on(&h, Box::pin($crate::scenarios::$name(h2)));
            }
        )*
    };
}
