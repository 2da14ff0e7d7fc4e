//! What an adapter implements to run the shared scenarios ([`Harness`]), the login
//! description and the small helpers every scenario uses.

use super::*;

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
