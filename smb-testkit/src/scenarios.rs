//! One list of end-to-end scenarios for every runtime adapter, written once.
//!
//! Each adapter's `tests/` implements [`Harness`] (how to connect, open, read, list... with
//! that adapter, and how to run and spawn futures on its runtime) and instantiates every
//! scenario with [`scenario_tests!`](crate::scenario_tests). The scenario bodies are `async`
//! and run on the harness's runtime (multi-threaded where the runtime has one); the blocking
//! adapter's harness runs each operation synchronously and spawns OS threads, so concurrency
//! scenarios use real concurrency in every runtime.
//!
//! All scenarios run against [`SambaServer::shared`] (one smbd per test binary) and work in
//! their own directory of [`SHARE`].

#![allow(clippy::err_expect)] // handles are not Debug

use crate::{ENCRYPTED_SHARE, SHARE, SambaServer};
use smb_core::client::{Cipher, ClientConfig, Dialect};
use std::future::Future;
use std::io;
use std::pin::Pin;

/// A boxed future.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who logs in.
#[derive(Clone, Debug)]
pub struct Login {
    /// `host:port`.
    pub target: String,
    /// `(user, password)`; `None` for an anonymous session.
    pub user: Option<(String, String)>,
    /// Client configuration.
    pub config: ClientConfig,
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
    /// Open `path` (existing) for reading with the given ShareAccess and keep it open: the
    /// returned guard closes it when dropped.
    fn hold_open(
        &self,
        s: &Self::Share,
        path: &str,
        share_access: u32,
    ) -> BoxFut<'static, io::Result<Box<dyn Send>>>;
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
        user: Some((server.user().to_string(), server.password().to_string())),
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

/// Signing required by the client: every dialect signs and works.
pub async fn signing_required<H: Harness>(h: H) {
    let server = SambaServer::shared();
    for d in [Dialect::Smb202, Dialect::Smb300, Dialect::Smb311] {
        let cfg = ClientConfig::default()
            .with_dialects(d, d)
            .with_require_signing(true);
        let (c, n) = h
            .connect(user_login(server, cfg))
            .await
            .unwrap_or_else(|e| panic!("signed login {d:?}: {e}"));
        assert!(n.signing, "{d:?} session must sign");
        let s = h.share(&c, SHARE).await.expect("signed tree connect");
        h.list(&s, "").await.expect("signed listing");
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
    login.user = Some((server.user().to_string(), "definitely-wrong".to_string()));
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

/// Many concurrent readers and writers on one client.
pub async fn concurrent_readers_writers<H: Harness>(h: H) {
    concurrent_readers_writers_in(h, "conc").await
}

/// [`concurrent_readers_writers`] in directory `dir` (to run it twice in one binary).
pub async fn concurrent_readers_writers_in<H: Harness>(h: H, dir: &str) {
    let (_c, s) = setup(&h, dir).await;
    let shared = random_bytes(2 << 20, 9);
    let shared_name = format!("{dir}/shared.bin");
    h.write_file(&s, &shared_name, shared.clone(), 1 << 20)
        .await
        .expect("write");
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
    h.remove_dir_all(&s, dir).await.expect("cleanup");
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
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("deny-all open: {e}"),
        }
    }
    panic!("deny-all open kept failing with a sharing violation after the others closed");
}

/// Instantiate every scenario as a `#[test]` for a harness expression.
#[macro_export]
macro_rules! scenario_tests {
    ($harness:expr) => {
        $crate::scenario_tests!(@each $harness;
            login_each_dialect, signing_required, encryption_required_each_cipher,
            wrong_password, unknown_share, big_file_round_trip, seek_and_partial_reads,
            list_5000, namespace_ops, concurrent_readers_writers, share_modes);
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
