//! A fault-injecting TCP proxy that also counts the SMB2 commands it forwards.
//!
//! Plain std threads: one acceptor, two pumps per connection. Each pump parses the direct-TCP
//! framing ([MS-SMB2] 2.1) of its direction and records every SMB2 message it sees, walking
//! compound chains through NextCommand ([MS-SMB2] 2.2.1, 3.2.4.1.4), with its command,
//! MessageId, status, and whether it is a response and signed (SMB2_FLAGS_SIGNED); each log
//! entry also carries the index of the frame that held it, so the elements of one compound
//! share a frame index. Transform (encrypted, 0xFD 'S' 'M' 'B') and compression (0xFC)
//! frames are recorded as such.
//!
//! A test can also rewrite the traffic: [`FaultProxy::rewrite`] installs a closure that sees
//! every whole frame of one direction before it is forwarded and may edit it, drop it,
//! replace it or add frames before and after it ([`Intercept`]); [`FaultProxy::inject`]
//! sends a frame of the test's own at any time. The log records what was forwarded (after
//! the rewrite), marking rewritten and injected frames. [`crate::frames`] decodes and patches
//! the headers.

use smb_core::wire::transform::TransformHeader;
use smb_core::wire::{Command, Header, HeaderFlags, NtStatus};
use std::collections::BTreeMap;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Which way bytes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Client to server (requests).
    ToServer,
    /// Server to client (responses, interim responses, notifications).
    ToClient,
}

/// What one recorded message was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seen {
    /// An unencrypted SMB2 message (one element of a compound counts once).
    Smb2 {
        /// Its command.
        command: Command,
        /// Its MessageId.
        message_id: u64,
        /// Its status field (NTSTATUS in responses, ChannelSequence in 3.x requests).
        status: NtStatus,
        /// True if SMB2_FLAGS_SERVER_TO_REDIR is set.
        response: bool,
        /// True if SMB2_FLAGS_SIGNED is set ([MS-SMB2] 2.2.1.2).
        signed: bool,
    },
    /// A transform (encrypted) frame, 0xFD 'S' 'M' 'B'.
    Encrypted,
    /// A compression transform frame, 0xFC 'S' 'M' 'B'.
    Compressed,
    /// An SMB1 frame (0xFF 'S' 'M' 'B'), e.g. a multi-protocol NEGOTIATE.
    Smb1,
    /// Anything else (or an SMB2 header that did not decode).
    Unknown,
}

/// One entry of the proxy's ordered log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Index of the connection (0 for the first accepted one).
    pub conn: usize,
    /// Direction.
    pub dir: Direction,
    /// What was seen.
    pub what: Seen,
    /// Index of the direct-TCP frame that held it, counted per connection and direction
    /// from 0 over the frames forwarded: the elements of one compound chain share it.
    pub frame: u64,
    /// The whole SMB2 header, for [`Seen::Smb2`] messages (credits, CreditCharge, SessionId,
    /// TreeId or AsyncId, signature...).
    pub header: Option<Header>,
    /// The TRANSFORM_HEADER, for [`Seen::Encrypted`] frames.
    pub transform: Option<TransformHeader>,
    /// The frame was changed or added by a rewriting hook or [`FaultProxy::inject`]: it is
    /// not what the sender sent.
    pub rewritten: bool,
}

/// What a rewriting hook ([`FaultProxy::rewrite`]) sees of one frame and decides about it.
///
/// The frames forwarded are `before`, then `frame` (unless it was set to `None`), then
/// `after`, each with a direct-TCP prefix added. Payloads here have no prefix.
#[derive(Debug)]
pub struct Intercept {
    /// Index of the connection.
    pub conn: usize,
    /// Direction of the frame.
    pub dir: Direction,
    /// Index of the frame as received from the sender (per connection and direction).
    pub index: u64,
    /// The frame: edit it in place, replace it, or set it to `None` to drop it.
    pub frame: Option<Vec<u8>>,
    /// Frames to send before it.
    pub before: Vec<Vec<u8>>,
    /// Frames to send after it.
    pub after: Vec<Vec<u8>>,
}

impl Intercept {
    /// The frame's payload (empty if it was dropped).
    pub fn payload(&self) -> &[u8] {
        self.frame.as_deref().unwrap_or(&[])
    }
    /// Drop the frame (what was put in `before` / `after` is still sent).
    pub fn drop_frame(&mut self) {
        self.frame = None;
    }
    /// Send `with` instead of the frame.
    pub fn replace(&mut self, with: Vec<u8>) {
        self.frame = Some(with);
    }
}

/// A rewriting hook: called for every frame of one direction, on the proxy's pump thread.
pub type Hook = Box<dyn FnMut(&mut Intercept) + Send>;

#[derive(Default)]
struct Control {
    stalled: bool,
    cut: bool,
}

struct Conn {
    client: TcpStream,
    server: Option<TcpStream>,
    ctl: Arc<(Mutex<Control>, Condvar)>,
    /// The writing ends, shared by the pumps and [`FaultProxy::inject`] so frames never
    /// interleave: `[to_server, to_client]`.
    writers: Option<[Writer; 2]>,
}

/// One direction's output: the socket and how many frames went out on it.
type Writer = Arc<Mutex<(TcpStream, u64)>>;

struct Inner {
    target: SocketAddr,
    conns: Mutex<Vec<Conn>>,
    log: Mutex<Vec<Event>>,
    delay: Mutex<Duration>,
    delay_to_client: Mutex<Duration>,
    refuse: AtomicBool,
    stall_new: AtomicBool,
    stop: AtomicBool,
    /// Rewriting hooks, `[to_server, to_client]`.
    hooks: [Mutex<Option<Hook>>; 2],
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A TCP proxy on 127.0.0.1 in front of an SMB server, with switches to break connections.
///
/// ```no_run
/// # use smb_testkit::{FaultProxy, SambaServer};
/// let server = SambaServer::shared();
/// let proxy = FaultProxy::start(server.addr()).unwrap();
/// // connect the client to proxy.addr() instead of server.addr() ...
/// proxy.cut_all(); // every proxied connection drops; new ones are still accepted
/// ```
pub struct FaultProxy {
    inner: Arc<Inner>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("target", &self.inner.target)
            .finish()
    }
}

impl FaultProxy {
    /// Listen on 127.0.0.1 (any free port) and forward every connection to `target`.
    pub fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), target)
    }

    /// Listen on `listen` (a loopback address; port 0 for any) and forward to `target`.
    pub fn start_on(listen: SocketAddr, target: SocketAddr) -> io::Result<FaultProxy> {
        assert!(
            listen.ip().is_loopback(),
            "the proxy only listens on loopback"
        );
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            target,
            conns: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            delay: Mutex::new(Duration::ZERO),
            delay_to_client: Mutex::new(Duration::ZERO),
            refuse: AtomicBool::new(false),
            stall_new: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            hooks: [Mutex::new(None), Mutex::new(None)],
        });
        let inner2 = inner.clone();
        let acceptor = std::thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(listener, inner2))?;
        Ok(FaultProxy {
            inner,
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// The address clients should connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// Where connections are forwarded.
    pub fn target(&self) -> SocketAddr {
        self.inner.target
    }

    /// Number of connections accepted so far (cut ones included).
    pub fn connections(&self) -> usize {
        lock(&self.inner.conns).len()
    }

    /// Number of connections accepted and still open (neither cut nor closed by a peer).
    pub fn live_connections(&self) -> usize {
        lock(&self.inner.conns)
            .iter()
            .filter(|c| !lock(&c.ctl.0).cut)
            .count()
    }

    /// Close both sides of every connection accepted so far. New connections are still
    /// accepted (unless [`refuse`](Self::refuse) is on), so a client can reconnect.
    pub fn cut_all(&self) {
        let n = self.connections();
        for i in 0..n {
            self.cut(i);
        }
    }

    /// Close both sides of connection `conn` (no-op if it does not exist or is cut already).
    pub fn cut(&self, conn: usize) {
        let conns = lock(&self.inner.conns);
        if let Some(c) = conns.get(conn) {
            {
                let mut ctl = lock(&c.ctl.0);
                ctl.cut = true;
                c.ctl.1.notify_all();
            }
            let _ = c.client.shutdown(Shutdown::Both);
            if let Some(s) = &c.server {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    /// Stop forwarding on connection `conn` in both directions without closing it: bytes
    /// already read are held until [`unstall`](Self::unstall) (or dropped by a cut).
    pub fn stall(&self, conn: usize) {
        self.set_stalled(conn, true);
    }

    /// Resume forwarding on `conn`, delivering what was held.
    pub fn unstall(&self, conn: usize) {
        self.set_stalled(conn, false);
    }

    /// Stall every current connection.
    pub fn stall_all(&self) {
        for i in 0..self.connections() {
            self.stall(i);
        }
    }

    /// Unstall every connection.
    pub fn unstall_all(&self) {
        for i in 0..self.connections() {
            self.unstall(i);
        }
    }

    /// Whether connections accepted from now on start stalled (a server that accepts TCP
    /// but never answers).
    pub fn stall_new(&self, on: bool) {
        self.inner.stall_new.store(on, Ordering::SeqCst);
    }

    fn set_stalled(&self, conn: usize, on: bool) {
        let conns = lock(&self.inner.conns);
        if let Some(c) = conns.get(conn) {
            lock(&c.ctl.0).stalled = on;
            c.ctl.1.notify_all();
        }
    }

    /// Delay every forwarded chunk by `d` (both directions, all connections). Zero disables.
    pub fn set_delay(&self, d: Duration) {
        *lock(&self.inner.delay) = d;
    }

    /// Delay only what the server sends (a slow server, added to [`FaultProxy::set_delay`]):
    /// requests are seen at once, responses `d` later. Zero disables.
    pub fn set_response_delay(&self, d: Duration) {
        *lock(&self.inner.delay_to_client) = d;
    }

    /// While on, new connections are accepted and closed at once (a server that is down).
    pub fn refuse(&self, on: bool) {
        self.inner.refuse.store(on, Ordering::SeqCst);
    }

    /// Rewrite every frame going `dir` (on every connection, current and future) with
    /// `hook` from now on, replacing any previous hook of that direction. The hook sees
    /// whole frames: the proxy reassembles them from the stream first.
    ///
    /// ```no_run
    /// # use smb_testkit::{FaultProxy, SambaServer, Direction, frames};
    /// # use smb_core::wire::{Command, HeaderFlags};
    /// # let proxy = FaultProxy::start(SambaServer::shared().addr()).unwrap();
    /// // Strip the signature flag from every READ response.
    /// proxy.rewrite(Direction::ToClient, |i| {
    ///     if let Some(f) = i.frame.as_mut() {
    ///         if frames::is_response_to(f, Command::Read) {
    ///             frames::patch_first_header(f, |h| h.flags.set(HeaderFlags::SIGNED, false));
    ///         }
    ///     }
    /// });
    /// ```
    pub fn rewrite(&self, dir: Direction, hook: impl FnMut(&mut Intercept) + Send + 'static) {
        *lock(&self.inner.hooks[slot(dir)]) = Some(Box::new(hook));
    }

    /// Stop rewriting `dir`.
    pub fn clear_rewrite(&self, dir: Direction) {
        *lock(&self.inner.hooks[slot(dir)]) = None;
    }

    /// Send `payload` (a frame without its length prefix) on connection `conn` towards
    /// `dir`, between two forwarded frames. Fails if the connection does not exist or is
    /// closed.
    pub fn inject(&self, conn: usize, dir: Direction, payload: &[u8]) -> io::Result<()> {
        let writer = lock(&self.inner.conns)
            .get(conn)
            .and_then(|c| c.writers.as_ref())
            .map(|w| w[slot(dir)].clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such connection"))?;
        send_frames(&writer, conn, dir, &self.inner, [(payload.to_vec(), true)])
    }

    /// The ordered log of every message seen.
    pub fn log(&self) -> Vec<Event> {
        lock(&self.inner.log).clone()
    }

    /// Forget the log (counts start again from zero; connection indexes are kept).
    pub fn clear_log(&self) {
        lock(&self.inner.log).clear();
    }

    /// SMB2 commands seen on `conn` in direction `dir`, counted per command (each element of
    /// a compound counts; interim responses count as responses).
    pub fn counts(&self, conn: usize, dir: Direction) -> BTreeMap<Command, usize> {
        let mut m = BTreeMap::new();
        for e in lock(&self.inner.log).iter() {
            if e.conn == conn && e.dir == dir {
                if let Seen::Smb2 { command, .. } = e.what {
                    *m.entry(command).or_insert(0) += 1;
                }
            }
        }
        m
    }

    /// How many requests of `command` were sent over all connections.
    pub fn request_count(&self, command: Command) -> usize {
        lock(&self.inner.log)
            .iter()
            .filter(|e| {
                e.dir == Direction::ToServer
                    && matches!(e.what, Seen::Smb2 { command: c, .. } if c == command)
            })
            .count()
    }

    /// Transform (encrypted) frames seen on `conn` in direction `dir`.
    pub fn encrypted_count(&self, conn: usize, dir: Direction) -> usize {
        lock(&self.inner.log)
            .iter()
            .filter(|e| e.conn == conn && e.dir == dir && e.what == Seen::Encrypted)
            .count()
    }

    /// Wait until `pred(self)` holds or `timeout` passes; returns whether it held.
    pub fn wait_until(&self, timeout: Duration, mut pred: impl FnMut(&FaultProxy) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        self.cut_all();
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    for stream in listener.incoming() {
        if inner.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = stream else { continue };
        let _ = client.set_nodelay(true);
        let stalled = inner.stall_new.load(Ordering::SeqCst);
        let ctl = Arc::new((
            Mutex::new(Control {
                stalled,
                cut: false,
            }),
            Condvar::new(),
        ));
        let refuse = inner.refuse.load(Ordering::SeqCst);
        let server = if refuse {
            None
        } else {
            TcpStream::connect(inner.target).ok()
        };
        let clones = server.as_ref().and_then(|server| {
            Some((
                client.try_clone().ok()?,
                client.try_clone().ok()?,
                server.try_clone().ok()?,
                server.try_clone().ok()?,
                server.try_clone().ok()?,
            ))
        });
        let (Some(server), Some((client2, c_read, s_read, s_write, s_ctl))) = (server, clones)
        else {
            let _ = client.shutdown(Shutdown::Both);
            lock(&ctl.0).cut = true;
            lock(&inner.conns).push(Conn {
                client,
                server: None,
                ctl,
                writers: None,
            });
            continue;
        };
        drop(server);
        let _ = s_write.set_nodelay(true);
        let writers = [
            Arc::new(Mutex::new((s_write, 0))),
            Arc::new(Mutex::new((client, 0))),
        ];
        let index = {
            let mut conns = lock(&inner.conns);
            conns.push(Conn {
                client: client2,
                server: Some(s_ctl),
                ctl: ctl.clone(),
                writers: Some(writers.clone()),
            });
            conns.len() - 1
        };
        for (src, dir) in [(c_read, Direction::ToServer), (s_read, Direction::ToClient)] {
            let inner = inner.clone();
            let ctl = ctl.clone();
            let dst = writers[slot(dir)].clone();
            let _ = std::thread::Builder::new()
                .name(format!("fault-proxy-{index}-{dir:?}"))
                .spawn(move || pump(src, dst, dir, index, ctl, inner));
        }
    }
}

fn pump(
    mut src: TcpStream,
    dst: Writer,
    dir: Direction,
    conn: usize,
    ctl: Arc<(Mutex<Control>, Condvar)>,
    inner: Arc<Inner>,
) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut framer = Framer::default();
    let mut received = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut c = lock(&ctl.0);
            while c.stalled && !c.cut {
                c = ctl.1.wait(c).unwrap_or_else(|e| e.into_inner());
            }
            if c.cut {
                break;
            }
        }
        let mut delay = *lock(&inner.delay);
        if dir == Direction::ToClient {
            delay += *lock(&inner.delay_to_client);
        }
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let chunk = framer.push(&buf[..n]);
        let framed = chunk.frames.into_iter().all(|frame| {
            let out = rewrite(&inner, conn, dir, received, frame);
            received += 1;
            send_frames(&dst, conn, dir, &inner, out).is_ok()
        });
        // Not direct-TCP framing: pass the bytes through untouched and unlogged.
        if !framed || (!chunk.raw.is_empty() && lock(&dst).0.write_all(&chunk.raw).is_err()) {
            break;
        }
    }
    // Propagate the close to the other side (a half-close becomes a full close: SMB has no
    // use for half-open connections).
    {
        lock(&ctl.0).cut = true;
        ctl.1.notify_all();
    }
    let _ = lock(&dst).0.shutdown(Shutdown::Both);
    let _ = src.shutdown(Shutdown::Both);
}

/// Run `dir`'s hook (if any) on one received frame: the frames to forward, each with
/// whether it differs from what was received.
fn rewrite(
    inner: &Inner,
    conn: usize,
    dir: Direction,
    index: u64,
    frame: Vec<u8>,
) -> Vec<(Vec<u8>, bool)> {
    let mut hook = lock(&inner.hooks[slot(dir)]);
    let Some(hook) = hook.as_mut() else {
        return vec![(frame, false)];
    };
    let original = frame.clone();
    let mut i = Intercept {
        conn,
        dir,
        index,
        frame: Some(frame),
        before: Vec::new(),
        after: Vec::new(),
    };
    hook(&mut i);
    let mut out: Vec<(Vec<u8>, bool)> = i.before.into_iter().map(|f| (f, true)).collect();
    if let Some(f) = i.frame {
        let changed = f != original;
        out.push((f, changed));
    }
    out.extend(i.after.into_iter().map(|f| (f, true)));
    out
}

/// Write frames (prefix added) to one direction of a connection and log what they hold.
fn send_frames(
    dst: &Writer,
    conn: usize,
    dir: Direction,
    inner: &Inner,
    frames: impl IntoIterator<Item = (Vec<u8>, bool)>,
) -> io::Result<()> {
    let mut w = lock(dst);
    for (payload, rewritten) in frames {
        let prefix = u32::try_from(payload.len())
            .ok()
            .filter(|n| *n < 1 << 24)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?
            .to_be_bytes();
        let index = w.1;
        w.1 += 1;
        let mut events = Vec::new();
        classify(&payload, &mut events);
        lock(&inner.log).extend(events.into_iter().map(|(what, header, transform)| Event {
            conn,
            dir,
            what,
            frame: index,
            header,
            transform,
            rewritten,
        }));
        let mut whole = Vec::with_capacity(4 + payload.len());
        whole.extend_from_slice(&prefix);
        whole.extend_from_slice(&payload);
        w.0.write_all(&whole)?;
    }
    Ok(())
}

/// What a [`Framer`] made of the bytes pushed into it: whole frames, then raw bytes.
#[derive(Default)]
pub(crate) struct Chunk {
    /// Whole frame payloads (possibly none yet).
    pub(crate) frames: Vec<Vec<u8>>,
    /// Bytes that are not direct-TCP framing (everything from the first bad prefix on).
    pub(crate) raw: Vec<u8>,
}

/// Incremental direct-TCP deframer ([MS-SMB2] 2.1). A prefix whose first byte is not zero
/// is not SMB framing (an HTTP server, garbage): from there on the stream is passed through
/// as raw bytes.
#[derive(Default)]
pub(crate) struct Framer {
    buf: Vec<u8>,
    raw: bool,
}

impl Framer {
    /// Feed bytes; returns the frames they completed (and any raw bytes after them).
    pub(crate) fn push(&mut self, data: &[u8]) -> Chunk {
        let mut out = Chunk::default();
        if self.raw {
            out.raw = data.to_vec();
            return out;
        }
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        while self.buf.len() - pos >= 4 {
            if self.buf[pos] != 0 {
                self.raw = true;
                out.raw = self.buf.split_off(pos);
                break;
            }
            let len = u32::from_be_bytes([
                self.buf[pos],
                self.buf[pos + 1],
                self.buf[pos + 2],
                self.buf[pos + 3],
            ]) as usize;
            if self.buf.len() - pos - 4 < len {
                break;
            }
            out.frames.push(self.buf[pos + 4..pos + 4 + len].to_vec());
            pos += 4 + len;
        }
        if self.raw {
            self.buf.clear();
        } else {
            self.buf.drain(..pos);
        }
        out
    }
}

/// One classified message: what it is, its SMB2 header or its TRANSFORM_HEADER.
type Classified = (Seen, Option<Header>, Option<TransformHeader>);

/// Append what one frame's payload holds to `out`.
pub(crate) fn classify(frame: &[u8], out: &mut Vec<Classified>) {
    match frame.get(..4) {
        Some([0xFD, b'S', b'M', b'B']) => {
            out.push((Seen::Encrypted, None, TransformHeader::decode(frame).ok()))
        }
        Some([0xFC, b'S', b'M', b'B']) => out.push((Seen::Compressed, None, None)),
        Some([0xFF, b'S', b'M', b'B']) => out.push((Seen::Smb1, None, None)),
        Some([0xFE, b'S', b'M', b'B']) => {
            let mut off = 0usize;
            loop {
                let Ok(h) = Header::decode(&frame[off..]) else {
                    out.push((Seen::Unknown, None, None));
                    return;
                };
                out.push((
                    Seen::Smb2 {
                        command: h.command,
                        message_id: h.message_id,
                        status: h.status,
                        response: h.is_response(),
                        signed: h.flags.has(HeaderFlags::SIGNED),
                    },
                    Some(h),
                    None,
                ));
                let next = h.next_command as usize;
                if next == 0 || off + next >= frame.len() {
                    return;
                }
                off += next;
            }
        }
        _ => out.push((Seen::Unknown, None, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::test_message as msg;

    #[test]
    fn framer_splits_frames_and_walks_compounds() {
        let mut chain = msg(Command::Create, 5, 72, 8);
        chain.extend(msg(Command::QueryInfo, 6, 80, 16));
        chain.extend(msg(Command::Close, 7, 0, 24));
        let mut stream = (chain.len() as u32).to_be_bytes().to_vec();
        stream.extend(&chain);
        let single = msg(Command::Echo, 8, 0, 4);
        stream.extend((single.len() as u32).to_be_bytes());
        stream.extend(&single);
        stream.extend([0, 0, 0, 4, 0xFD, b'S', b'M', b'B']);

        // Byte-at-a-time delivery must give the same result as one push.
        let mut f = Framer::default();
        let mut seen = Vec::new();
        let mut frames = 0u64;
        for b in &stream {
            let chunk = f.push(std::slice::from_ref(b));
            assert!(chunk.raw.is_empty());
            for frame in chunk.frames {
                let mut c = Vec::new();
                classify(&frame, &mut c);
                seen.extend(c.into_iter().map(|(s, _, _)| (frames, s)));
                frames += 1;
            }
        }
        let cmds: Vec<_> = seen
            .iter()
            .map(|(frame, s)| match s {
                Seen::Smb2 {
                    command,
                    message_id,
                    ..
                } => format!("{frame}:{command}#{message_id}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            cmds,
            [
                "0:CREATE#5",
                "0:QUERY_INFO#6",
                "0:CLOSE#7",
                "1:ECHO#8",
                "Encrypted"
            ]
        );
        assert!(f.buf.is_empty());
    }

    #[test]
    fn framer_passes_non_smb_bytes_through() {
        let mut f = Framer::default();
        let one = msg(Command::Echo, 1, 0, 4);
        let mut stream = (one.len() as u32).to_be_bytes().to_vec();
        stream.extend(&one);
        stream.extend(b"HTTP/1.1 400 Bad Request\r\n");
        let chunk = f.push(&stream);
        assert_eq!(chunk.frames, [one]);
        assert_eq!(chunk.raw, b"HTTP/1.1 400 Bad Request\r\n");
        // Once raw, always raw: even bytes that look like a frame prefix.
        let chunk = f.push(&[0, 0, 0, 1, 7]);
        assert!(chunk.frames.is_empty());
        assert_eq!(chunk.raw, [0, 0, 0, 1, 7]);
    }

    #[test]
    fn signed_flag_is_recorded() {
        let mut out = Vec::new();
        for signed in [true, false] {
            let mut h = Header::request(Command::Read);
            h.flags.set(HeaderFlags::SIGNED, signed);
            let mut v = Vec::new();
            h.encode(&mut v);
            v.resize(64 + 48, 0);
            classify(&v, &mut out);
        }
        let flags: Vec<bool> = out
            .iter()
            .map(|(s, h, _)| match s {
                Seen::Smb2 { signed, .. } if h.is_none() => panic!("no header kept: {signed}"),
                Seen::Smb2 {
                    signed,
                    command: Command::Read,
                    ..
                } => *signed,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(flags, [true, false]);
    }

    #[test]
    fn garbage_is_unknown_not_a_panic() {
        let mut out = Vec::new();
        classify(&[0xFE, b'S', b'M', b'B', 1, 2], &mut out);
        classify(&[], &mut out);
        assert_eq!(
            out,
            [(Seen::Unknown, None, None), (Seen::Unknown, None, None)]
        );
    }
}
