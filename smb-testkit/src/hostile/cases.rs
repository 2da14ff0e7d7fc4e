//! The malicious-server suite: one misbehaviour per case, run on every runtime through the
//! scenarios' [`Harness`] (each adapter's `tests/hostile.rs` instantiates the list with
//! [`hostile_tests!`](crate::hostile_tests)).
//!
//! Every case asserts that the client, using only the adapter's public API:
//! - fails with a typed one-line `io::Error` whose kind fits the cause and whose message
//!   names it (or, where the misbehaviour is harmless, gets exactly the right data);
//! - never reports wrong data as success;
//! - does not panic (a panic fails the test), does not hang (a short request timeout, a
//!   bound on the case's duration and a watchdog that aborts the process), and keeps its
//!   memory bounded: VmHWM of the process under 64 MiB (nextest runs each test in its own
//!   process; the peak is reset when the case starts).

use super::{
    Conn, DIR, FILE, FILE_SIZE, HostileConfig, HostileServer, PASSWORD, Reply, Request, Script,
    Step, USER, file_bytes, read_body,
};
use crate::frames;
use crate::scenarios::{Harness, Login, Watchdog, Who};
use smb_core::client::ClientConfig;
use smb_core::wire::header::HeaderId;
use smb_core::wire::query_directory::QueryDirectoryResponse;
use smb_core::wire::read::ReadRequest;
use smb_core::wire::{Command, Decode, FileId, Header, HeaderFlags, NtStatus};
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
        .with_unresponsive_timeout(Some(smb_core::time::Duration::from_secs(3)))
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
}

/// The bounds every case keeps, whatever its result.
fn bounded(ran: &Ran) {
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
fn whole_file() -> Outcome {
    Outcome::Data(file_bytes(0, FILE_SIZE as usize))
}

/// A script from a function of the request alone (the server state as `Conn`).
fn on(f: impl FnMut(&mut Conn, &Request) -> Vec<Step> + Send + 'static) -> impl Script {
    f
}

/// Answer `command` with `steps`, everything else normally.
fn when(
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
fn edited(c: &mut Conn, req: &Request, mut edit: impl FnMut(&mut Reply)) -> Vec<Step> {
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
enum Field {
    U8(u8),
    U16(u16),
    U32(u32),
}

/// The normal answers to `command`, with the body field at `at` (bytes after the header)
/// overwritten where the body is long enough.
fn patched(command: Command, at: usize, value: Field) -> impl Script {
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

const MALFORMED: &[&str] = &["malformed", "invalid", "truncated", "offset", "protocol"];
const NOT_SMB: &[&str] = &["not an smb2", "not an smb"];
const BAD_DATA: &[K] = &[K::InvalidData];
const TIMED_OUT: &[K] = &[K::TimedOut];

// ---- framing and headers ----

/// A NetBIOS length of 0xFFFFFF (the protocol maximum), then silence: the configured frame
/// limit refuses it at once ("frame too long"), without reserving 16 MiB or waiting for the
/// timeout.
pub async fn hostile_netbios_length_max_then_silence<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        vec![Step::Bytes(vec![0, 0xFF, 0xFF, 0xFF]), Step::Hang]
    });
    let ran = plain(&h, "NetBIOS length 0xFFFFFF", s, Act::Connect).await;
    refused(ran, BAD_DATA, &["too long", "frame", "exceeds"]);
}

/// A frame too short for an SMB2 header.
pub async fn hostile_truncated_header<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        let mut f = vec![0xFE, b'S', b'M', b'B', 64, 0];
        f.resize(30, 0);
        vec![Step::Frame(f), Step::Hang]
    });
    let ran = plain(&h, "truncated header", s, Act::Connect).await;
    refused(ran, BAD_DATA, MALFORMED);
}

/// A response to a MessageId the client never sent (with other data) before the real READ
/// response: it is discarded ([MS-SMB2] 3.2.5.1.2) or refused, never taken for the READ.
pub async fn hostile_response_to_unsent_message_id<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let mut bogus = c.normal(r);
        for b in &mut bogus {
            b.header.message_id += 1000;
            b.body = read_body(&vec![0xEE; 4096]);
        }
        let first = c.finish(&bogus, r);
        vec![Step::Frame(first), Step::Normal]
    });
    let ran = plain(
        &h,
        "response to a MessageId never sent",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    right_or_refused(ran, &whole_file(), BAD_DATA, MALFORMED);
}

/// Every READ answered twice, the second time with other bytes: the duplicate is discarded
/// or refused, never used for another request.
pub async fn hostile_duplicate_response<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let real = c.normal(r);
        let mut dup = real.clone();
        for d in &mut dup {
            if d.header.status == NtStatus::SUCCESS {
                d.body = read_body(&vec![0xDD; 1024]);
            }
        }
        let first = c.finish(&real, r);
        let second = c.finish(&dup, r);
        vec![Step::Frame(first), Step::Frame(second)]
    });
    let ran = plain(&h, "duplicate response", s, Act::Read(FILE.into())).await;
    right_or_refused(ran, &whole_file(), BAD_DATA, MALFORMED);
}

/// NEGOTIATE chooses a dialect the client did not offer.
pub async fn hostile_dialect_not_offered<H: Harness>(h: H) {
    let cfg = HostileConfig {
        dialect: Some(smb_core::wire::negotiate::Dialect::Other(0x0222)),
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "dialect not offered",
        cfg,
        super::Behave,
        client_config(),
        Act::Connect,
    )
    .await;
    refused(ran, BAD_DATA, &["dialect"]);
}

/// NEGOTIATE with MaxReadSize, MaxWriteSize and MaxTransactSize 0: refused ([MS-SMB2]
/// 3.2.5.2: at least 65536), not turned into 1-byte READs.
pub async fn hostile_max_sizes_zero<H: Harness>(h: H) {
    let cfg = HostileConfig {
        max_read: 0,
        max_write: 0,
        max_transact: 0,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "MaxRead/MaxWrite/MaxTransact 0",
        cfg,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, BAD_DATA, &["max", "size"]);
}

/// NEGOTIATE with MaxTransactSize 0 only.
pub async fn hostile_max_transact_zero<H: Harness>(h: H) {
    let cfg = HostileConfig {
        max_transact: 0,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "MaxTransactSize 0",
        cfg,
        super::Behave,
        client_config(),
        Act::List(DIR.into()),
    )
    .await;
    refused(ran, BAD_DATA, &["max", "size", "transact"]);
}

/// NEGOTIATE with MaxReadSize 65535, one byte under the minimum.
pub async fn hostile_max_read_below_64k<H: Harness>(h: H) {
    let cfg = HostileConfig {
        max_read: 65535,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "MaxReadSize 65535",
        cfg,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, BAD_DATA, &["max", "size", "read"]);
}

/// NEGOTIATE whose SecurityBufferOffset/Length point past the end of the frame.
pub async fn hostile_negotiate_security_buffer_past_frame<H: Harness>(h: H) {
    // SecurityBufferLength: body offset 58 ([MS-SMB2] 2.2.4).
    let s = patched(Command::Negotiate, 58, Field::U16(0x4000));
    let ran = plain(
        &h,
        "NEGOTIATE security buffer past the frame",
        s,
        Act::Connect,
    )
    .await;
    refused(ran, BAD_DATA, MALFORMED);
}

/// SESSION_SETUP whose SecurityBufferOffset/Length point past the end of the frame.
pub async fn hostile_session_setup_security_buffer_past_frame<H: Harness>(h: H) {
    // SecurityBufferLength: body offset 6 ([MS-SMB2] 2.2.6).
    let s = patched(Command::SessionSetup, 6, Field::U16(0x4000));
    let ran = plain(
        &h,
        "SESSION_SETUP security buffer past the frame",
        s,
        Act::Connect,
    )
    .await;
    refused(ran, BAD_DATA, MALFORMED);
}

// ---- credits ----

/// Every response grants 0 credits: the client cannot send again and says so.
pub async fn hostile_zero_credits_forever<H: Harness>(h: H) {
    let cfg = HostileConfig {
        credits: Some(0),
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "zero credits forever",
        cfg,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::TimedOut], &["credit"]);
}

/// Every response grants 65535 credits: harmless, the file reads right in bounded memory.
pub async fn hostile_65535_credits<H: Harness>(h: H) {
    let cfg = HostileConfig {
        credits: Some(65535),
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "65535 credits",
        cfg,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    right_or_refused(ran, &whole_file(), BAD_DATA, &["credit"]);
}

// ---- silence and slowness ----

/// READ answered with STATUS_PENDING and never again: the request times out.
pub async fn hostile_pending_forever<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let mut interim = c.error(r, NtStatus::PENDING);
        interim.header.id = HeaderId::Async { async_id: 0x77 };
        vec![Step::Reply(interim)]
    });
    let ran = plain(&h, "STATUS_PENDING forever", s, Act::Read(FILE.into())).await;
    refused(ran, TIMED_OUT, &["timed out"]);
}

/// The server accepts the connection and never says a word.
pub async fn hostile_silence_after_connect<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| vec![Step::Hang]);
    let ran = plain(&h, "silence after connect", s, Act::Connect).await;
    refused(ran, TIMED_OUT, &["timed out", "did not answer", "negotiat"]);
}

/// The NEGOTIATE response one byte per second: the client gives up after its timeout.
pub async fn hostile_one_byte_per_second<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |c, r| {
        let replies = c.normal(r);
        let payload = c.finish(&replies, r);
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend(payload);
        vec![Step::Trickle(bytes, Duration::from_secs(1))]
    });
    let ran = plain(&h, "one byte per second", s, Act::Connect).await;
    refused(ran, TIMED_OUT, &["timed out", "did not answer", "negotiat"]);
}

/// The socket closes in the middle of a READ response.
pub async fn hostile_closed_mid_read<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let replies = c.normal(r);
        let payload = c.finish(&replies, r);
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&payload[..payload.len() / 2]);
        vec![Step::Bytes(bytes), Step::Close]
    });
    let ran = plain(&h, "socket closed mid-READ", s, Act::Read(FILE.into())).await;
    refused(
        ran,
        &[
            K::ConnectionReset,
            K::ConnectionAborted,
            K::UnexpectedEof,
            K::BrokenPipe,
        ],
        &["closed", "connection", "lost"],
    );
}

// ---- READ ----

/// READ responses whose DataOffset/DataLength point outside the frame.
pub async fn hostile_read_data_offset_outside_frame<H: Harness>(h: H) {
    // DataOffset (u8 at body offset 2, [MS-SMB2] 2.2.20) at the end of its range.
    let s = patched(Command::Read, 2, Field::U8(0xFF));
    let ran = plain(
        &h,
        "READ DataOffset outside the frame",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, BAD_DATA, MALFORMED);
}

/// READ answered with more data than asked for: a protocol error ([MS-SMB2] 3.2.5.10).
pub async fn hostile_read_more_than_asked<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let Ok(req) = ReadRequest::decode(&r.msg) else {
            return vec![Step::Normal];
        };
        if req.offset >= FILE_SIZE {
            return vec![Step::Normal];
        }
        let data = file_bytes(req.offset, req.length as usize + 4096);
        vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, read_body(&data)))]
    });
    let ran = plain(
        &h,
        "READ returns more than asked",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, BAD_DATA, &["read", "more", "asked", "requested"]);
}

/// Mid-file READs return half the bytes asked for (CREATE and QUERY_INFO say 300 KiB): the
/// client reads the rest or fails, never reports a truncated file as a success.
pub async fn hostile_short_read_half<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        let Ok(req) = ReadRequest::decode(&r.msg) else {
            return vec![Step::Normal];
        };
        let left = FILE_SIZE.saturating_sub(req.offset);
        if left == 0 {
            return vec![Step::Normal];
        }
        let n = (u64::from(req.length).min(left) / 2).max(1);
        let data = file_bytes(req.offset, n as usize);
        vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, read_body(&data)))]
    });
    let ran = plain(
        &h,
        "short READ (half) before the end",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    right_or_refused(
        ran,
        &whole_file(),
        &[K::InvalidData, K::UnexpectedEof],
        &["read", "short", "end of file"],
    );
}

/// Mid-file READs return 0 bytes with STATUS_SUCCESS: a protocol error, never an empty (or
/// truncated) file reported as a success.
pub async fn hostile_short_read_zero<H: Harness>(h: H) {
    let s = when(Command::Read, |c, r| {
        vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, read_body(&[])))]
    });
    let ran = plain(
        &h,
        "READ of 0 bytes with STATUS_SUCCESS",
        s,
        Act::Read(FILE.into()),
    )
    .await;
    refused(
        ran,
        &[K::InvalidData, K::UnexpectedEof],
        &["read", "0 bytes", "short", "end of file"],
    );
}

/// A file of EndOfFile 2^63: the whole-file read refuses it (or is stopped by a cap) instead
/// of reserving by the server's size and reading until memory runs out.
pub async fn hostile_end_of_file_2_pow_63<H: Harness>(h: H) {
    let cfg = HostileConfig {
        files: vec![("huge.bin".into(), 1 << 63)],
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "EndOfFile 2^63 (whole-file read)",
        cfg,
        super::Behave,
        client_config(),
        Act::ReadWhole("huge.bin".into()),
    )
    .await;
    refused(
        ran,
        &[
            K::InvalidData,
            K::OutOfMemory,
            K::FileTooLarge,
            K::Unsupported,
        ],
        &["large", "size", "limit"],
    );
}

/// A file of EndOfFile 2^63: stat reports the size and a read near its end gets the right
/// bytes (nothing is sized by EndOfFile).
pub async fn hostile_end_of_file_2_pow_63_tail<H: Harness>(h: H) {
    let cfg = HostileConfig {
        files: vec![("huge.bin".into(), 1 << 63)],
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "EndOfFile 2^63 (read of the tail)",
        cfg,
        super::Behave,
        client_config(),
        Act::ReadRange("huge.bin".into(), -1000, 1000),
    )
    .await;
    let good = Outcome::Data(file_bytes((1 << 63) - 1000, 1000));
    right_or_refused(ran, &good, BAD_DATA, &["size", "large"]);
}

// ---- directories ----

/// A page of [`DIR`] whose first entry's NextEntryOffset is `next`: the page starts after
/// the 8-byte fixed body and NextEntryOffset is its first field ([MS-FSCC] 2.4.17).
fn dir_with_next_entry(next: u32) -> impl Script {
    patched(Command::QueryDirectory, 8, Field::U32(next))
}

/// A listing of [`DIR`] (50 entries) whose first NextEntryOffset is `next` is refused.
async fn dir_next_entry_case<H: Harness>(h: H, name: &'static str, next: u32) {
    let cfg = HostileConfig {
        dir_entries: 50,
        ..HostileConfig::default()
    };
    let s = dir_with_next_entry(next);
    let ran = run(&h, name, cfg, s, client_config(), Act::List(DIR.into())).await;
    refused(
        ran,
        BAD_DATA,
        &["malformed", "entry", "directory", "offset"],
    );
}

/// Directory entries whose NextEntryOffset does not advance past an entry (4: each entry
/// would overlap the last, a walk that trusts it loops over the same bytes).
pub async fn hostile_dir_next_entry_loops<H: Harness>(h: H) {
    dir_next_entry_case(h, "NextEntryOffset that loops", 4).await
}

/// Directory entries whose NextEntryOffset runs past the buffer.
pub async fn hostile_dir_next_entry_past_buffer<H: Harness>(h: H) {
    dir_next_entry_case(h, "NextEntryOffset past the buffer", 0x0010_0000).await
}

/// A listing that never ends: every QUERY_DIRECTORY gets the first page again, never
/// STATUS_NO_MORE_FILES. The client detects the repetition (or caps the entries) and fails.
pub async fn hostile_listing_never_ends<H: Harness>(h: H) {
    let cfg = HostileConfig {
        dir_entries: 200,
        ..HostileConfig::default()
    };
    let s = when(Command::QueryDirectory, |c, r| {
        let Some(q) = super::parse_query_directory(&r.msg) else {
            return vec![Step::Normal];
        };
        let (page, _) = c.dir_page(q.class, 0, q.output_len as usize);
        let b = super::body(&QueryDirectoryResponse { buffer: &page });
        vec![Step::Reply(c.reply(r, NtStatus::SUCCESS, b))]
    });
    let ran = run(
        &h,
        "a listing that never ends",
        cfg,
        s,
        client_config(),
        Act::List(DIR.into()),
    )
    .await;
    refused(
        ran,
        BAD_DATA,
        &["director", "listing", "page", "entries", "repeat"],
    );
}

/// A directory of 100,000 entries: listed completely and right, or refused by a typed cap,
/// in bounded memory.
pub async fn hostile_100000_entries<H: Harness>(h: H) {
    let cfg = HostileConfig {
        dir_entries: 100_000,
        ..HostileConfig::default()
    };
    let good = Outcome::Names((0..100_000).map(|i| super::dir_entry(i).name).collect());
    let ran = run(
        &h,
        "100,000 directory entries",
        cfg,
        super::Behave,
        client_config(),
        Act::List(DIR.into()),
    )
    .await;
    right_or_refused(ran, &good, BAD_DATA, &["entries", "too many", "limit"]);
}

// ---- compounds and error responses ----

/// The answers to a compound request (the stat: CREATE + QUERY_INFO + CLOSE) in one chain
/// whose NextCommand fields are set by `next(offset of the message, its NextCommand, chain
/// length)`; the last message keeps NextCommand 0.
fn chain_with_next(next: fn(usize, u32, usize) -> u32) -> impl Script {
    let mut held: Vec<Reply> = Vec::new();
    on(move |c, r| {
        let in_chain =
            r.header.next_command != 0 || r.header.flags.has(HeaderFlags::RELATED_OPERATIONS);
        if !in_chain {
            return vec![Step::Normal];
        }
        held.extend(c.normal(r));
        if r.header.next_command != 0 {
            return Vec::new();
        }
        let replies = std::mem::take(&mut held);
        let mut payload = c.finish(&replies, r);
        let offsets = frames::message_offsets(&payload);
        let len = payload.len();
        for &off in &offsets[..offsets.len().saturating_sub(1)] {
            frames::patch_header(&mut payload, off, |h| {
                h.next_command = next(off, h.next_command, len)
            });
        }
        vec![Step::Frame(payload)]
    })
}

/// The stat compound answered by [`chain_with_next`]`(next)` is refused.
async fn chain_case<H: Harness>(h: H, name: &'static str, next: fn(usize, u32, usize) -> u32) {
    let ran = plain(&h, name, chain_with_next(next), Act::Stat(FILE.into())).await;
    refused(
        ran,
        BAD_DATA,
        &["malformed", "nextcommand", "compound", "offset", "protocol"],
    );
}

/// A compound response whose second NextCommand wraps around to the first header (a walk
/// in 32-bit arithmetic would loop forever).
pub async fn hostile_compound_next_command_loops<H: Harness>(h: H) {
    chain_case(h, "compound NextCommand that loops", |off, cur, _| {
        if off == 0 {
            cur
        } else {
            (off as u32).wrapping_neg()
        }
    })
    .await
}

/// A compound response whose first NextCommand points past the end of the frame.
pub async fn hostile_compound_next_command_past_end<H: Harness>(h: H) {
    chain_case(h, "compound NextCommand past the end", |off, cur, len| {
        if off == 0 { len as u32 + 64 } else { cur }
    })
    .await
}

/// An error response (to the CREATE of a missing file) whose ByteCount claims 4 GiB of
/// error data: the error is reported (as the status, or as malformed), nothing is sized by
/// it.
pub async fn hostile_error_huge_byte_count<H: Harness>(h: H) {
    // ERROR ([MS-SMB2] 2.2.2): StructureSize, ErrorContextCount, Reserved, ByteCount at 4.
    let s = patched(Command::Create, 4, Field::U32(u32::MAX));
    let ran = plain(
        &h,
        "error response with a huge ByteCount",
        s,
        Act::Stat("missing.txt".into()),
    )
    .await;
    refused(
        ran,
        &[K::NotFound, K::InvalidData],
        &["not found", "no such file", "malformed", "bytecount"],
    );
}

// ---- not an SMB server, or not this one ----

/// 100 MB of garbage in answer to NEGOTIATE: refused at the first bad frame, without
/// buffering it.
pub async fn hostile_100mb_garbage<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        vec![Step::Garbage(100_000_000), Step::Close]
    });
    let ran = plain(&h, "100 MB of garbage", s, Act::Connect).await;
    refused(
        ran,
        BAD_DATA,
        &["not an smb", "malformed", "invalid", "too long", "frame"],
    );
}

/// An SMB1 NEGOTIATE response: "not an SMB2/3 server".
pub async fn hostile_smb1_header<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        let mut f = vec![0xFF, b'S', b'M', b'B', 0x72];
        f.resize(40, 0);
        vec![Step::Frame(f), Step::Hang]
    });
    let ran = plain(&h, "SMB1 header", s, Act::Connect).await;
    refused(ran, BAD_DATA, NOT_SMB);
}

/// An HTTP server on the port: "not an SMB2/3 server".
pub async fn hostile_http_answer<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        vec![
            Step::Bytes(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            ),
            Step::Close,
        ]
    });
    let ran = plain(&h, "HTTP answer", s, Act::Connect).await;
    refused(ran, BAD_DATA, NOT_SMB);
}

/// A TRANSFORM header in answer to NEGOTIATE (nothing negotiated, no keys): named as such,
/// not "access denied" nor "for another session".
pub async fn hostile_transform_before_negotiation<H: Harness>(h: H) {
    let s = when(Command::Negotiate, |_, _| {
        let mut f = smb_core::wire::transform::TRANSFORM_PROTOCOL_ID.to_vec();
        f.resize(52 + 100, 0x11);
        vec![Step::Frame(f), Step::Hang]
    });
    let ran = plain(&h, "TRANSFORM before negotiation", s, Act::Connect).await;
    let e = refused(ran, BAD_DATA, &["transform", "encrypt"]);
    let lower = e.to_string().to_lowercase();
    assert!(
        !lower.contains("access denied") && !lower.contains("another session"),
        "a TRANSFORM before any session must not read as {e:?}"
    );
}

/// TREE_CONNECT answers ShareType 0x77 (neither disk, pipe nor print).
pub async fn hostile_invalid_share_type<H: Harness>(h: H) {
    let cfg = HostileConfig {
        share_type: 0x77,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "invalid ShareType",
        cfg,
        super::Behave,
        client_config(),
        Act::Share,
    )
    .await;
    refused(ran, BAD_DATA, &["share type", "sharetype", "share"]);
}

/// An oplock break for a FileId the client never opened, before a READ's answer: ignored
/// (no acknowledgment for it, the read is right) or refused.
pub async fn hostile_break_for_unknown_file_id<H: Harness>(h: H) {
    let s = when(Command::Read, |_, r| {
        let mut hb = frames::response_header(&r.header, NtStatus::SUCCESS, 0);
        hb.command = Command::OplockBreak;
        hb.message_id = u64::MAX;
        hb.session_id = 0;
        hb.id = HeaderId::Sync {
            process_id: 0,
            tree_id: 0,
        };
        let brk = smb_core::wire::oplock_break::OplockBreak {
            oplock_level: smb_core::wire::create::OplockLevel::from_u8(1),
            file_id: FileId {
                persistent: 0xDEAD,
                volatile: 0xBEEF,
            },
        };
        let msg = frames::message(&hb, &brk);
        vec![Step::Frame(msg), Step::Normal]
    });
    let ran = plain(&h, "break for an unknown FileId", s, Act::Read(FILE.into())).await;
    let acked = ran
        .server
        .requests()
        .iter()
        .filter(|h| h.command == Command::OplockBreak)
        .count();
    assert_eq!(
        acked, 0,
        "the client acknowledged a break for a FileId it never opened"
    );
    right_or_refused(ran, &whole_file(), BAD_DATA, MALFORMED);
}

// ---- encryption, with the server's real keys ----

/// An encrypted session whose READ responses are sealed after `edit` changed the
/// TRANSFORM_HEADER (so the AEAD verifies: only the client's field checks can refuse it),
/// or whose plaintext `inner` edit changes the message first.
fn sealed_read(
    edit: fn(&mut smb_core::wire::transform::TransformHeader),
    inner: fn(&mut Header),
) -> impl Script {
    when(Command::Read, move |c, r| {
        let replies = c.normal(r);
        let mut plain = Vec::new();
        for rep in &replies {
            let mut h = rep.header;
            inner(&mut h);
            plain = frames::message_bytes(&h, &rep.body);
        }
        match c.seal(&plain, edit) {
            Some(f) => vec![Step::Frame(f)],
            None => vec![Step::Normal],
        }
    })
}

fn encrypted_cfg() -> (HostileConfig, ClientConfig) {
    (
        HostileConfig {
            encrypt: true,
            ..HostileConfig::default()
        },
        client_config().with_require_encryption(true),
    )
}

const TRANSFORM_WORDS: &[&str] = &[
    "transform",
    "encrypt",
    "flags",
    "session",
    "originalmessagesize",
    "decrypt",
];

/// A sealed READ response with TRANSFORM_HEADER Flags 0x0002 ([MS-SMB2] 3.2.5.1.1.1: 0x0001).
pub async fn hostile_transform_wrong_flags<H: Harness>(h: H) {
    let (cfg, client) = encrypted_cfg();
    let s = sealed_read(|t| t.flags = 2, |_| {});
    let ran = run(
        &h,
        "sealed TRANSFORM with Flags 0x0002",
        cfg,
        s,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::PermissionDenied], TRANSFORM_WORDS);
}

/// A sealed READ response whose OriginalMessageSize is one less than what it carries.
pub async fn hostile_transform_wrong_original_size<H: Harness>(h: H) {
    let (cfg, client) = encrypted_cfg();
    let s = sealed_read(|t| t.original_message_size -= 1, |_| {});
    let ran = run(
        &h,
        "sealed TRANSFORM with a wrong OriginalMessageSize",
        cfg,
        s,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::PermissionDenied], TRANSFORM_WORDS);
}

/// A sealed READ response whose TRANSFORM_HEADER names another SessionId.
pub async fn hostile_transform_other_session<H: Harness>(h: H) {
    let (cfg, client) = encrypted_cfg();
    let s = sealed_read(|t| t.session_id ^= 0xFF00, |_| {});
    let ran = run(
        &h,
        "sealed TRANSFORM for another SessionId",
        cfg,
        s,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::PermissionDenied], TRANSFORM_WORDS);
}

/// A sealed READ response whose decrypted message carries another SessionId than the
/// TRANSFORM_HEADER's.
pub async fn hostile_transform_inner_session_mismatch<H: Harness>(h: H) {
    let (cfg, client) = encrypted_cfg();
    let s = sealed_read(|_| {}, |h| h.session_id ^= 0xFF00);
    let ran = run(
        &h,
        "decrypted message of another session",
        cfg,
        s,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    refused(ran, &[K::InvalidData, K::PermissionDenied], TRANSFORM_WORDS);
}

/// The default server behaves: the suite's own control (login, share, read, list, stat
/// all right), so a refusal in the other cases is the misbehaviour's doing.
pub async fn hostile_control_well_behaved<H: Harness>(h: H) {
    for (name, act, good) in [
        ("control: read", Act::Read(FILE.into()), whole_file()),
        (
            "control: list",
            Act::List(DIR.into()),
            Outcome::Names((0..3).map(|i| super::dir_entry(i).name).collect()),
        ),
        (
            "control: stat",
            Act::Stat(FILE.into()),
            Outcome::Meta(FILE_SIZE, false),
        ),
    ] {
        let ran = run(
            &h,
            name,
            HostileConfig::default(),
            super::Behave,
            client_config(),
            act,
        )
        .await;
        let ok = ran.result.as_ref().map_err(|e| e.to_string()).cloned();
        assert_eq!(ok.as_ref(), Ok(&good), "{name}");
        bounded(&ran);
    }
    let (cfg, client) = encrypted_cfg();
    let ran = run(
        &h,
        "control: encrypted read",
        cfg,
        super::Behave,
        client,
        Act::Read(FILE.into()),
    )
    .await;
    let ok = ran.result.as_ref().map_err(|e| e.to_string()).cloned();
    assert_eq!(ok, Ok(whole_file()), "encrypted control read");
    let signed = HostileConfig {
        require_signing: true,
        ..HostileConfig::default()
    };
    let ran = run(
        &h,
        "control: signed read",
        signed,
        super::Behave,
        client_config(),
        Act::Read(FILE.into()),
    )
    .await;
    let ok = ran.result.as_ref().map_err(|e| e.to_string()).cloned();
    assert_eq!(ok, Ok(whole_file()), "signed control read");
    let requests = ran.server.requests();
    assert!(
        requests
            .iter()
            .filter(|h| h.command == Command::Read)
            .all(|h| h.flags.has(HeaderFlags::SIGNED)),
        "READs on a signed session must be signed"
    );
}

/// Instantiate every malicious-server case as a `#[test]` for a harness expression.
#[macro_export]
macro_rules! hostile_tests {
    ($harness:expr) => {
        $crate::hostile_tests!(@each $harness;
            hostile_control_well_behaved,
            hostile_netbios_length_max_then_silence, hostile_truncated_header,
            hostile_response_to_unsent_message_id, hostile_duplicate_response,
            hostile_dialect_not_offered, hostile_max_sizes_zero, hostile_max_transact_zero,
            hostile_max_read_below_64k, hostile_negotiate_security_buffer_past_frame,
            hostile_session_setup_security_buffer_past_frame, hostile_zero_credits_forever,
            hostile_65535_credits, hostile_pending_forever, hostile_silence_after_connect,
            hostile_one_byte_per_second, hostile_closed_mid_read,
            hostile_read_data_offset_outside_frame, hostile_read_more_than_asked,
            hostile_short_read_half, hostile_short_read_zero, hostile_end_of_file_2_pow_63,
            hostile_end_of_file_2_pow_63_tail, hostile_dir_next_entry_loops,
            hostile_dir_next_entry_past_buffer, hostile_listing_never_ends,
            hostile_100000_entries, hostile_compound_next_command_loops,
            hostile_compound_next_command_past_end, hostile_error_huge_byte_count,
            hostile_100mb_garbage, hostile_smb1_header, hostile_http_answer,
            hostile_transform_before_negotiation, hostile_invalid_share_type,
            hostile_break_for_unknown_file_id, hostile_transform_wrong_flags,
            hostile_transform_wrong_original_size, hostile_transform_other_session,
            hostile_transform_inner_session_mismatch);
    };
    (@each $harness:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let h = $harness;
                let h2 = h.clone();
                $crate::scenarios::Harness::block_on(&h, Box::pin($crate::hostile::$name(h2)));
            }
        )*
    };
}
