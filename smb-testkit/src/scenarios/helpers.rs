//! Helpers for the scenarios that watch or break the traffic: watchdog, sleeping and
//! waiting, fault proxies, reading the proxy's log.

use super::*;

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
pub(crate) async fn via_proxy<H: Harness>(
    h: &H,
    server: &SambaServer,
) -> (FaultProxy, H::Client, H::Share) {
    via_proxy_with(h, server, ClientConfig::default()).await
}

/// [`via_proxy`] with `config`.
pub(crate) async fn via_proxy_with<H: Harness>(
    h: &H,
    server: &SambaServer,
    config: ClientConfig,
) -> (FaultProxy, H::Client, H::Share) {
    let proxy = proxy_for(server);
    let (c, _) = h
        .connect(proxied_login(&proxy, server, config))
        .await
        .expect("login through the proxy");
    let s = h.share(&c, SHARE).await.expect("tree connect");
    (proxy, c, s)
}

/// Wait (up to 5 s) until `proxy` has seen exactly one LOGOFF.
pub(crate) async fn logoff_seen(proxy: &FaultProxy) -> bool {
    wait_until(proxy, Duration::from_secs(5), |p| {
        p.request_count(Command::Logoff) == 1
    })
    .await
}

/// A fault proxy of one scenario in front of `server`.
pub(crate) fn proxy_for(server: &SambaServer) -> FaultProxy {
    FaultProxy::start(server.addr()).expect("start the fault proxy")
}

/// The test user's login through `proxy`.
pub(crate) fn proxied_login(
    proxy: &FaultProxy,
    server: &SambaServer,
    config: ClientConfig,
) -> Login {
    Login {
        target: proxy.addr().to_string(),
        ..user_login(server, config)
    }
}

/// One SMB2 message of the proxy log, flattened.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Msg {
    pub(crate) conn: usize,
    pub(crate) dir: Direction,
    pub(crate) frame: u64,
    pub(crate) command: Command,
    pub(crate) message_id: u64,
    pub(crate) status: smb_core::wire::NtStatus,
    pub(crate) response: bool,
    pub(crate) signed: bool,
    /// TreeId (0 in the async form).
    pub(crate) tree_id: u32,
}

pub(crate) fn messages(log: &[Event]) -> Vec<Msg> {
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

pub(crate) fn requests(log: &[Event]) -> Vec<Msg> {
    messages(log)
        .into_iter()
        .filter(|m| m.dir == Direction::ToServer && !m.response)
        .collect()
}

/// Put `data` at `rel` in the share's directory on disk (bypassing SMB), parents included.
pub(crate) fn put_on_disk(server: &SambaServer, rel: &str, data: &[u8]) {
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

pub(crate) fn assert_message(e: &io::Error, parts: &[&str]) {
    let text = e.to_string();
    for p in parts {
        assert!(text.contains(p), "error text {text:?} should name {p:?}");
    }
}
