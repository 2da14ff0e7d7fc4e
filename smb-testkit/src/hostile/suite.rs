//! How a malicious-server case runs and what every case checks: [`run`] starts a
//! [`HostileServer`] with a script, lets the client act through the [`Harness`] (the
//! adapter's public API only), and measures; [`refused`] and [`right_or_refused`] hold the
//! verdicts. Every case asserts that the client:
//! - fails with a typed one-line `io::Error` whose kind fits the cause and whose message
//!   names it (or, where the misbehaviour is harmless, gets exactly the right data);
//! - never reports wrong data as success;
//! - does not panic (a panic fails the test), does not hang (a short request timeout, a
//!   bound on the case's duration and a watchdog that aborts the process), and keeps its
//!   memory bounded: VmHWM of the process under 64 MiB (nextest runs each test in its own
//!   process; the peak is reset when the case starts, and a guard aborts the process if the
//!   RSS passes four times the bound).

use super::{
    Conn, FILE_SIZE, HostileConfig, HostileServer, PASSWORD, Reply, Request, Script, Step, USER,
    file_bytes,
};
use crate::scenarios::{Harness, Login, Watchdog, Who};
use smb_core::client::ClientConfig;
use smb_core::wire::read::ReadRequest;
use smb_core::wire::{Command, Decode};
use std::io::{self, ErrorKind as K};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The client's request timeout in every case.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);
/// A case must be over within this (from connect to the last result).
pub const CASE_BOUND: Duration = Duration::from_secs(8);
/// The watchdog aborts the process after this.
const WATCHDOG: Duration = Duration::from_secs(15);
/// The process is aborted as soon as its RSS passes this, KiB (a client that never stops
/// growing must not take the machine's memory while the watchdog waits).
const RSS_ABORT_KIB: u64 = 4 * PEAK_KIB;
/// The memory bound: VmHWM, KiB.
pub const PEAK_KIB: u64 = 64 * 1024;
/// What a hostile server serves per connection at most, in READ data (so that a client
/// that never stops reading cannot eat the machine's memory before the checks see it).
const SERVE_LIMIT: u64 = 256 << 20;

/// The client configuration of every case: short timeouts, no echo.
pub fn client_config() -> ClientConfig {
    ClientConfig::default()
        .with_request_timeout(smb_core::time::Duration::from_millis(
            REQUEST_TIMEOUT.as_millis() as u64,
        ))
        .with_echo_interval(None)
        .with_unresponsive_timeout(Some(std::time::Duration::from_secs(3)))
}

/// What the client does once the server runs.
#[derive(Clone, Debug)]
pub enum Act {
    /// Log in.
    Connect,
    /// Log in and connect the share.
    Share,
    /// Stream a file to its end (the file's read trait).
    Read(String),
    /// The whole-file read (`Share::read`).
    ReadWhole(String),
    /// `len` bytes at `offset` (from the end if negative).
    ReadRange(String, i64, usize),
    /// List a directory.
    List(String),
    /// Stat a path.
    Stat(String),
    /// Create a file and stream `len` bytes of [`file_bytes`] into it (100,000 at a time).
    Write(String, usize),
    /// List the server's shares (srvsvc over IPC$): their names.
    ListShares,
}

/// What the client got when it succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Logged in (and connected the share for [`Act::Share`]).
    Done,
    /// Bytes read.
    Data(Vec<u8>),
    /// Names listed.
    Names(Vec<String>),
    /// (size, is_dir).
    Meta(u64, bool),
}

impl Outcome {
    fn summary(&self) -> String {
        match self {
            Outcome::Done => "logged in".into(),
            Outcome::Data(d) => format!("{} bytes", d.len()),
            Outcome::Names(n) => format!("{} names", n.len()),
            Outcome::Meta(s, d) => format!("size {s}, dir {d}"),
        }
    }
}

/// One case's run: its result, how long it took and the memory peak.
pub struct Ran {
    /// The case's name.
    pub name: &'static str,
    /// What the client got.
    pub result: io::Result<Outcome>,
    /// From the start of the login to the result.
    pub took: Duration,
    /// VmHWM at the end, KiB.
    pub peak_kib: u64,
    /// The server (still running: the checks may look at what it received).
    pub server: HostileServer,
}

/// A field of /proc/self/status in KiB (VmHWM: the peak RSS; VmRSS: now).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Aborts the process if its RSS passes [`RSS_ABORT_KIB`] before it is dropped.
struct MemoryGuard(Arc<std::sync::atomic::AtomicBool>);

impl MemoryGuard {
    fn new(name: &'static str) -> MemoryGuard {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d2 = done.clone();
        std::thread::spawn(move || {
            while !d2.load(Ordering::SeqCst) {
                let rss = status_kib("VmRSS:");
                if rss > RSS_ABORT_KIB {
                    eprintln!("{name}: RSS {rss} KiB passed {RSS_ABORT_KIB} KiB; aborting");
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        MemoryGuard(done)
    }
}

impl Drop for MemoryGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Start `script` on a server with `cfg`, let the client `act` on it, measure.
pub async fn run<H: Harness>(
    h: &H,
    name: &'static str,
    cfg: HostileConfig,
    script: impl Script + 'static,
    client: ClientConfig,
    act: Act,
) -> Ran {
    let server = HostileServer::start(cfg, Limited::new(script)).expect("start the hostile server");
    // Reset the peak RSS so the bound is about this case ([proc(5)] clear_refs: 5).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let _dog = Watchdog::new(WATCHDOG, name);
    let _mem = MemoryGuard::new(name);
    let t0 = Instant::now();
    let login = Login {
        target: server.addr().to_string(),
        who: Who::User(USER.to_string(), PASSWORD.to_string()),
        config: client,
    };
    let result = async {
        let (c, _) = h.connect(login).await?;
        if matches!(act, Act::Connect) {
            return Ok(Outcome::Done);
        }
        let s = h.share(&c, "share").await?;
        let out = match &act {
            Act::Connect | Act::Share => Outcome::Done,
            Act::Read(p) => Outcome::Data(h.read_file(&s, p).await?),
            Act::ReadWhole(p) => Outcome::Data(h.read_whole(&s, p).await?),
            Act::ReadRange(p, off, len) => Outcome::Data(h.read_range(&s, p, *off, *len).await?),
            Act::List(p) => Outcome::Names(h.list(&s, p).await?),
            Act::Stat(p) => {
                let (size, dir) = h.metadata(&s, p).await?;
                Outcome::Meta(size, dir)
            }
            Act::Write(p, len) => {
                h.write_file(&s, p, file_bytes(0, *len), 100_000).await?;
                Outcome::Done
            }
            Act::ListShares => Outcome::Names(
                h.list_shares(&c)
                    .await?
                    .into_iter()
                    .map(|s| s.name)
                    .collect(),
            ),
        };
        drop(s);
        drop(c);
        Ok(out)
    }
    .await;
    Ran {
        name,
        result,
        took: t0.elapsed(),
        peak_kib: status_kib("VmHWM:"),
        server,
    }
}

/// [`run`] with the default server configuration and client configuration.
pub async fn plain<H: Harness>(
    h: &H,
    name: &'static str,
    script: impl Script + 'static,
    act: Act,
) -> Ran {
    run(
        h,
        name,
        HostileConfig::default(),
        script,
        client_config(),
        act,
    )
    .await
}

/// Wraps a case's script: stops serving READ data past [`SERVE_LIMIT`] per connection.
struct Limited<S> {
    inner: S,
    served: Arc<AtomicU64>,
}

impl<S> Limited<S> {
    fn new(inner: S) -> Self {
        Limited {
            inner,
            served: Arc::default(),
        }
    }
}

impl<S: Script> Script for Limited<S> {
    fn on_connect(&mut self, conn: &mut Conn) -> Vec<Step> {
        self.served.store(0, Ordering::SeqCst);
        self.inner.on_connect(conn)
    }
    fn on_request(&mut self, conn: &mut Conn, req: &Request) -> Vec<Step> {
        if req.header.command == Command::Read {
            let asked = ReadRequest::decode(&req.msg).map_or(0, |r| u64::from(r.length));
            if self.served.fetch_add(asked, Ordering::SeqCst) > SERVE_LIMIT {
                return vec![Step::Close];
            }
        }
        self.inner.on_request(conn, req)
    }
    fn on_idle(&mut self, conn: &mut Conn) -> Vec<Step> {
        self.inner.on_idle(conn)
    }
}

/// The bounds every case keeps, whatever its result.
pub(crate) fn bounded(ran: &Ran) {
    assert!(
        ran.took < CASE_BOUND,
        "{}: took {:?} (bound {CASE_BOUND:?}, request timeout {REQUEST_TIMEOUT:?})",
        ran.name,
        ran.took
    );
    assert!(
        ran.peak_kib < PEAK_KIB,
        "{}: peak memory {} KiB (bound {PEAK_KIB} KiB; nextest runs each test in its own \
         process, under cargo test other tests share the peak)",
        ran.name,
        ran.peak_kib
    );
}

/// The client must fail: an `io::Error` of one of `kinds`, carrying the engine's typed
/// error, one line, naming the cause (one of `words`, lower case).
pub fn refused(ran: Ran, kinds: &[K], words: &[&str]) -> io::Error {
    let name = ran.name;
    let e = match ran.result {
        Ok(ref o) => panic!(
            "{name}: the client reported success ({}) after {:?}",
            o.summary(),
            ran.took
        ),
        Err(ref e) => e,
    };
    let text = e.to_string();
    eprintln!(
        "{name}: {:?} after {:?}, peak {} KiB: {text}",
        e.kind(),
        ran.took,
        ran.peak_kib
    );
    assert!(
        kinds.contains(&e.kind()),
        "{name}: io::ErrorKind {:?}, expected one of {kinds:?}: {text}",
        e.kind()
    );
    assert!(!text.contains('\n'), "{name}: not one line: {text:?}");
    let lower = text.to_lowercase();
    assert!(
        words.iter().any(|w| lower.contains(w)),
        "{name}: the message {text:?} should name the cause (one of {words:?})"
    );
    assert!(
        smb_core::driver::op_error(e).is_some(),
        "{name}: not a typed engine error: {text}"
    );
    bounded(&ran);
    io::Error::new(e.kind(), text)
}

/// The misbehaviour is harmless or refused: success must be exactly `good`; a failure must
/// be typed, one line, of one of `kinds`, naming one of `words`.
pub fn right_or_refused(ran: Ran, good: &Outcome, kinds: &[K], words: &[&str]) {
    match &ran.result {
        Ok(o) => {
            eprintln!(
                "{}: succeeded ({}) after {:?}",
                ran.name,
                o.summary(),
                ran.took
            );
            assert!(
                o == good,
                "{}: wrong result reported as success: {} (expected {})",
                ran.name,
                o.summary(),
                good.summary()
            );
            bounded(&ran);
        }
        Err(_) => {
            refused(ran, kinds, words);
        }
    }
}

/// The whole default file.
pub(crate) fn whole_file() -> Outcome {
    Outcome::Data(file_bytes(0, FILE_SIZE as usize))
}

/// A script from a function of the request alone (the server state as `Conn`).
pub(crate) fn on(f: impl FnMut(&mut Conn, &Request) -> Vec<Step> + Send + 'static) -> impl Script {
    f
}

/// Answer `command` with `steps`, everything else normally.
pub(crate) fn when(
    command: Command,
    steps: impl Fn(&mut Conn, &Request) -> Vec<Step> + Send + 'static,
) -> impl Script {
    on(move |c, r| {
        if r.header.command == command {
            steps(c, r)
        } else {
            vec![Step::Normal]
        }
    })
}

/// The normal replies to `req`, edited by `edit` (header and body), as one step each.
pub(crate) fn edited(c: &mut Conn, req: &Request, mut edit: impl FnMut(&mut Reply)) -> Vec<Step> {
    c.normal(req)
        .into_iter()
        .map(|mut r| {
            edit(&mut r);
            Step::Reply(r)
        })
        .collect()
}

/// A field of a reply's body to overwrite.
#[derive(Clone, Copy)]
pub(crate) enum Field {
    /// A byte.
    U8(u8),
    /// A little-endian u16.
    U16(u16),
    /// A little-endian u32.
    U32(u32),
}

/// The normal answers to `command`, with the body field at `at` (bytes after the header)
/// overwritten where the body is long enough.
pub(crate) fn patched(command: Command, at: usize, value: Field) -> impl Script {
    when(command, move |c, r| {
        edited(c, r, |reply| {
            let bytes = match value {
                Field::U8(v) => vec![v],
                Field::U16(v) => v.to_le_bytes().to_vec(),
                Field::U32(v) => v.to_le_bytes().to_vec(),
            };
            if let Some(b) = reply.body.get_mut(at..at + bytes.len()) {
                b.copy_from_slice(&bytes);
            }
        })
    })
}
