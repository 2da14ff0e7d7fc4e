//! A scripted hostile SMB2/3 server on loopback, for the malicious-server suite.
//!
//! [`HostileServer`] listens on 127.0.0.1 (a free port), speaks real direct-TCP framing and
//! plays a normal server far enough to reach each misbehaviour: NEGOTIATE (up to 3.1.1 with
//! pre-authentication integrity), SESSION_SETUP with real NTLMv2 (smb-core's test
//! `NtlmAcceptor`) and real signing and encryption keys, TREE_CONNECT, CREATE, QUERY_INFO,
//! READ of synthetic files, QUERY_DIRECTORY of a synthetic directory, CLOSE. A [`Script`]
//! sees every request first and says what to send instead ([`Step`]): the normal answer,
//! an edited one, raw frames or bytes, garbage, silence, a close.
//!
//! ```no_run
//! use smb_testkit::hostile::{HostileConfig, HostileServer, Step};
//! use smb_core::wire::Command;
//! // A server that never answers READ.
//! let server = HostileServer::start(HostileConfig::default(), |_c: &mut _, req: &smb_testkit::hostile::Request| {
//!     if req.header.command == Command::Read { vec![] } else { vec![Step::Normal] }
//! }).unwrap();
//! let target = server.addr().to_string();
//! # let _ = target;
//! ```

mod backlog_cases;
mod cases;
mod dfs_cases;
mod event_cases;
mod rpc_cases;
mod server;
pub mod suite;

pub use backlog_cases::*;
pub use cases::*;
pub use dfs_cases::*;
pub use event_cases::*;
pub use rpc_cases::*;
pub use server::{
    Conn, DIR, PASSWORD, QueryDirectory, TREE_ID, USER, body, dir_entry, parse_query_directory,
    read_body,
};

use smb_core::wire::framing::{FrameReader, MAX_FRAME_LEN};
use smb_core::wire::{Header, HeaderFlags};
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the well-behaved part of the server behaves.
#[derive(Clone, Debug)]
pub struct HostileConfig {
    /// Force this dialect in the NEGOTIATE response (None: the highest one offered).
    pub dialect: Option<smb_core::wire::negotiate::Dialect>,
    /// SecurityMode SIGNING_REQUIRED.
    pub require_signing: bool,
    /// SMB2_SESSION_FLAG_ENCRYPT_DATA: the session encrypts everything (3.x).
    pub encrypt: bool,
    /// SMB2_SHAREFLAG_ENCRYPT_DATA on the share.
    pub encrypt_share: bool,
    /// MaxTransactSize.
    pub max_transact: u32,
    /// MaxReadSize.
    pub max_read: u32,
    /// MaxWriteSize.
    pub max_write: u32,
    /// Credits granted in every response (None: what the client asks for, 1 to 512).
    pub credits: Option<u16>,
    /// SMB2_GLOBAL_CAP_LARGE_MTU (payloads over 64 KiB, multi-credit requests).
    pub large_mtu: bool,
    /// SIGNING_CAPABILITIES (3.1.1): the server's preference order; the first one the client
    /// offered is chosen (none: no context, AES-CMAC).
    pub signing_algorithms: Vec<smb_core::wire::negotiate::SigningAlgorithm>,
    /// Files of the share: (lower-case name, size). Their bytes are [`file_bytes`].
    pub files: Vec<(String, u64)>,
    /// Entries in [`DIR`] (and in the share's root).
    pub dir_entries: u64,
    /// ShareType in TREE_CONNECT.
    pub share_type: u8,
    /// The SessionId.
    pub session_id: u64,
}

/// Name of the file every default configuration has.
pub const FILE: &str = "file.bin";
/// Its size (300 KiB).
pub const FILE_SIZE: u64 = 300 * 1024;

impl Default for HostileConfig {
    fn default() -> Self {
        HostileConfig {
            dialect: None,
            require_signing: false,
            encrypt: false,
            encrypt_share: false,
            max_transact: 8 << 20,
            max_read: 8 << 20,
            max_write: 8 << 20,
            credits: None,
            large_mtu: true,
            signing_algorithms: vec![smb_core::wire::negotiate::SigningAlgorithm::AesCmac],
            files: vec![(FILE.to_string(), FILE_SIZE)],
            dir_entries: 3,
            share_type: 1,
            session_id: 0x0000_4000_0000_0041,
        }
    }
}

/// The content of every file at `offset`: a pattern that does not repeat with any small
/// period, so a byte in the wrong place shows.
pub fn file_bytes(offset: u64, len: usize) -> Vec<u8> {
    (offset..offset + len as u64)
        .map(|o| (o ^ (o >> 8) ^ (o >> 16).wrapping_mul(7)) as u8)
        .collect()
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Its header.
    pub header: Header,
    /// The whole message, header first (its padding in a compound included).
    pub msg: Vec<u8>,
    /// SMB2_FLAGS_SIGNED was set.
    pub signed: bool,
    /// It arrived in a transform.
    pub encrypted: bool,
    /// How many requests came before it on this connection.
    pub index: u64,
}

/// One response for the server to finish (sign, encrypt, frame) and send.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The header (its signature is computed when signed).
    pub header: Header,
    /// The body.
    pub body: Vec<u8>,
    /// Sign it: None follows the rules (the request was signed or the server requires it,
    /// not an interim, not encrypted), Some overrides them.
    pub sign: Option<bool>,
    /// Encrypt it: None follows the request (or the session's ENCRYPT_DATA).
    pub encrypt: Option<bool>,
}

impl Reply {
    /// A reply with the rules' signing and encryption.
    pub fn new(header: Header, body: Vec<u8>) -> Reply {
        Reply {
            header,
            body,
            sign: None,
            encrypt: None,
        }
    }
    /// Force signing on or off.
    pub fn signed(mut self, on: bool) -> Reply {
        self.sign = Some(on);
        self
    }
    /// Force encryption on or off.
    pub fn encrypted(mut self, on: bool) -> Reply {
        self.encrypt = Some(on);
        self
    }
}

/// What to do in answer to a request.
#[derive(Clone, Debug)]
pub enum Step {
    /// The well-behaved server's answer ([`Conn::normal`]).
    Normal,
    /// This reply (signed and encrypted by the rules unless it says otherwise). The
    /// replies of one request frame's messages go out together, as one compound frame.
    Reply(Reply),
    /// A frame payload, sent with a correct length prefix and nothing else done to it.
    Frame(Vec<u8>),
    /// Bytes written as they are (no framing).
    Bytes(Vec<u8>),
    /// This many pseudo-random bytes, streamed.
    Garbage(u64),
    /// These bytes one at a time, one every interval.
    Trickle(Vec<u8>, Duration),
    /// Wait.
    Sleep(Duration),
    /// Close the connection.
    Close,
    /// Stop answering: read and drop everything until the client closes the connection.
    Hang,
}

/// The misbehaviour: decides what each request gets.
pub trait Script: Send {
    /// Called when a connection is accepted, before anything is read.
    fn on_connect(&mut self, _conn: &mut Conn) -> Vec<Step> {
        Vec::new()
    }
    /// Called for each request (each message of a compound on its own). An empty list
    /// answers nothing.
    fn on_request(&mut self, conn: &mut Conn, req: &Request) -> Vec<Step>;
    /// Called when nothing arrived for [`IDLE_TICK`]: e.g. to answer requests held back
    /// earlier ([`Step::Frame`] of [`Conn::finish`]). Default: nothing.
    fn on_idle(&mut self, _conn: &mut Conn) -> Vec<Step> {
        Vec::new()
    }
}

/// How long the server waits for a request before asking the script's
/// [`Script::on_idle`].
pub const IDLE_TICK: Duration = Duration::from_millis(20);

impl<F: FnMut(&mut Conn, &Request) -> Vec<Step> + Send> Script for F {
    fn on_request(&mut self, conn: &mut Conn, req: &Request) -> Vec<Step> {
        self(conn, req)
    }
}

/// A script that behaves: every request gets the normal answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Behave;

impl Script for Behave {
    fn on_request(&mut self, _conn: &mut Conn, _req: &Request) -> Vec<Step> {
        vec![Step::Normal]
    }
}

struct Shared {
    stop: AtomicBool,
    requests: Mutex<Vec<Header>>,
    sockets: Mutex<Vec<TcpStream>>,
    script: Mutex<Box<dyn Script>>,
    cfg: HostileConfig,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running hostile server. Dropping it closes every connection and stops it.
pub struct HostileServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HostileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl HostileServer {
    /// Listen on 127.0.0.1 (a free port) and serve every connection with `script`.
    pub fn start(cfg: HostileConfig, script: impl Script + 'static) -> io::Result<HostileServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            sockets: Mutex::new(Vec::new()),
            script: Mutex::new(Box::new(script)),
            cfg,
        });
        let s2 = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("hostile-accept".into())
            .spawn(move || accept_loop(listener, s2))?;
        Ok(HostileServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where to connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The header of every request received so far, all connections, in order.
    pub fn requests(&self) -> Vec<Header> {
        lock(&self.shared.requests).clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        lock(&self.shared.sockets).len()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        for s in lock(&self.shared.sockets).iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        if let Ok(c) = stream.try_clone() {
            lock(&shared.sockets).push(c);
        }
        let s2 = shared.clone();
        let _ = std::thread::Builder::new()
            .name("hostile-conn".into())
            .spawn(move || serve(stream, s2));
    }
}

/// What the connection loop does after a step.
enum Flow {
    Go,
    Stop,
}

fn serve(mut sock: TcpStream, shared: Arc<Shared>) {
    let mut conn = Conn::new(shared.cfg.clone());
    let steps = lock(&shared.script).on_connect(&mut conn);
    let mut out = Outbox::default();
    if let Flow::Stop = out.run(&mut sock, &mut conn, &shared, steps, None) {
        return finish(sock);
    }
    let _ = sock.set_read_timeout(Some(IDLE_TICK));
    let mut reader = FrameReader::new(MAX_FRAME_LEN);
    let mut buf = vec![0u8; 64 * 1024];
    let mut index = 0u64;
    loop {
        let n = match sock.read(&mut buf) {
            Ok(0) => return finish(sock),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                let steps = lock(&shared.script).on_idle(&mut conn);
                if let Flow::Stop = out.run(&mut sock, &mut conn, &shared, steps, None) {
                    return finish(sock);
                }
                continue;
            }
            Err(_) => return finish(sock),
        };
        reader.push(&buf[..n]);
        loop {
            let frame = match reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return finish(sock),
            };
            let (plain, encrypted) = if crate::frames::is_transform(&frame) {
                match conn.open_transform(&frame) {
                    Some(p) => (p, true),
                    None => return finish(sock),
                }
            } else {
                (frame.to_vec(), false)
            };
            let offsets = crate::frames::message_offsets(&plain);
            for (k, &start) in offsets.iter().enumerate() {
                let end = offsets.get(k + 1).copied().unwrap_or(plain.len());
                let Some(header) = crate::frames::header_at(&plain, start) else {
                    return finish(sock);
                };
                lock(&shared.requests).push(header);
                let req = Request {
                    header,
                    msg: plain[start..end].to_vec(),
                    signed: header.flags.has(HeaderFlags::SIGNED),
                    encrypted,
                    index,
                };
                index += 1;
                conn.saw_request(&req);
                let steps = lock(&shared.script).on_request(&mut conn, &req);
                if let Flow::Stop = out.run(&mut sock, &mut conn, &shared, steps, Some(&req)) {
                    return finish(sock);
                }
            }
            if out.flush(&mut sock, &mut conn).is_err() {
                return finish(sock);
            }
        }
    }
}

fn finish(sock: TcpStream) {
    let _ = sock.shutdown(Shutdown::Both);
}

/// Replies waiting to go out together (one compound frame per request frame).
#[derive(Default)]
struct Outbox {
    replies: Vec<Reply>,
    req: Option<Request>,
}

impl Outbox {
    fn flush(&mut self, sock: &mut TcpStream, conn: &mut Conn) -> io::Result<()> {
        if self.replies.is_empty() {
            return Ok(());
        }
        let replies = std::mem::take(&mut self.replies);
        let req = self.req.take().expect("a request with the replies");
        let payload = conn.finish(&replies, &req);
        write_frame(sock, &payload)
    }

    fn run(
        &mut self,
        sock: &mut TcpStream,
        conn: &mut Conn,
        shared: &Shared,
        steps: Vec<Step>,
        req: Option<&Request>,
    ) -> Flow {
        for step in steps {
            let ok = match step {
                Step::Normal => {
                    if let Some(r) = req {
                        let replies = conn.normal(r);
                        self.queue(r, replies);
                    }
                    Ok(false)
                }
                Step::Reply(reply) => {
                    if let Some(r) = req {
                        self.queue(r, vec![reply]);
                    }
                    Ok(false)
                }
                other => self
                    .flush(sock, conn)
                    .and_then(|_| raw_step(sock, shared, other)),
            };
            match ok {
                Ok(true) | Err(_) => return Flow::Stop,
                Ok(false) => {}
            }
        }
        Flow::Go
    }

    fn queue(&mut self, req: &Request, replies: Vec<Reply>) {
        if self.req.is_none() {
            self.req = Some(req.clone());
        }
        self.replies.extend(replies);
    }
}

/// Carry out a step that writes directly; Ok(true) ends the connection.
fn raw_step(sock: &mut TcpStream, shared: &Shared, step: Step) -> io::Result<bool> {
    match step {
        Step::Normal | Step::Reply(_) => Ok(false),
        Step::Frame(f) => write_frame(sock, &f).map(|_| false),
        Step::Bytes(b) => sock.write_all(&b).map(|_| false),
        Step::Garbage(mut n) => {
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            let mut chunk = vec![0u8; 64 * 1024];
            while n > 0 {
                for c in chunk.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let b = x.to_le_bytes();
                    c.copy_from_slice(&b[..c.len()]);
                }
                let k = n.min(chunk.len() as u64) as usize;
                sock.write_all(&chunk[..k])?;
                n -= k as u64;
            }
            Ok(false)
        }
        Step::Trickle(bytes, every) => {
            for b in bytes {
                if shared.stop.load(Ordering::SeqCst) {
                    return Ok(true);
                }
                sock.write_all(&[b])?;
                std::thread::sleep(every);
            }
            Ok(false)
        }
        Step::Sleep(d) => {
            std::thread::sleep(d);
            Ok(false)
        }
        Step::Close => Ok(true),
        Step::Hang => {
            let mut sink = [0u8; 16 * 1024];
            while !shared.stop.load(Ordering::SeqCst) {
                match sock.read(&mut sink) {
                    Ok(0) => break,
                    // The idle tick's read timeout: keep hanging.
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                    Ok(_) => {}
                }
            }
            Ok(true)
        }
    }
}

fn write_frame(sock: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let mut whole = Vec::with_capacity(4 + payload.len());
    whole.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    whole.extend_from_slice(payload);
    sock.write_all(&whole)
}
