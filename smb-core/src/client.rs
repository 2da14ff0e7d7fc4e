//! The sans-IO [`Client`]: one per server, one user session per client.
//!
//! Inputs are method calls carrying bytes, connection events and the current time; outputs are
//! drained with [`Client::poll_output`] after every input until it returns
//! [`Output::Timeout`]. See the crate documentation for the run loop.

mod api;
mod compat;
mod error;

pub use api::{
    access, create_options, disposition, share_access, DirEntry, Event, FileAttributes, Frame,
    LeaseBreak, LockRange, OpenOptions, Output, Request, Response, ServerAddr, Stats,
};
pub use compat::{Authenticator, Cipher, Dialect, SigningAlgorithm};
pub use error::{ChannelError, CloseReason, ErrorKind, OpError, SessionError, SubmitError};

pub use crate::state::{ChannelId, FileHandle, ObjectRef, OpId, TreeId};

use crate::credits::CreditWindow;
use crate::state::{ChannelState, Machine, Owner, SessionState, Transition};
use crate::time::{FileTime, Instant};
use crate::wire::framing::FrameReader;
use crate::wire::Guid;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;

/// One TCP connection to the server.
struct Channel {
    machine: Machine<ChannelState>,
    reader: FrameReader,
    credits: CreditWindow,
    connected: bool,
}

/// An operation not yet completed.
struct Op {
    deadline: Option<Instant>,
    kind: OpKind,
}

enum OpKind {
    Connect,
    Request(Request),
}

/// The SMB2/3 client state machine. See the [module documentation](self).
pub struct Client {
    config: ClientConfig,
    #[allow(dead_code)]
    auth: Box<dyn Authenticator>,
    rng: Box<dyn rand_core::CryptoRngCore + Send>,
    start: Instant,
    wall_clock: FileTime,
    client_guid: Guid,
    addr: Option<ServerAddr>,
    server_name: String,
    channels: Vec<Channel>,
    session: Machine<SessionState>,
    ops: BTreeMap<OpId, Op>,
    queue: VecDeque<OpId>,
    out: VecDeque<Output>,
    next_op: u64,
    shut_down: bool,
    stats: Stats,
}

pub use api::ClientConfig;

impl Client {
    /// A client for one server. `now` is the caller's monotonic time, `wall_clock` the wall
    /// time at that instant (NTLMv2 needs it; later wall times are `wall_clock + (t - now)`).
    /// Randomness (ClientGuid, salts, NTLM challenge, nonces) comes only from `rng`.
    pub fn new(
        config: ClientConfig,
        auth: Box<dyn Authenticator>,
        mut rng: Box<dyn rand_core::CryptoRngCore + Send>,
        now: Instant,
        wall_clock: FileTime,
    ) -> Client {
        let client_guid = config.client_guid.unwrap_or_else(|| {
            let mut g = [0u8; 16];
            rng.fill_bytes(&mut g);
            Guid(g)
        });
        Client {
            config,
            auth,
            rng,
            start: now,
            wall_clock,
            client_guid,
            addr: None,
            server_name: String::new(),
            channels: Vec::new(),
            session: Machine::new(ObjectRef::Session, SessionState::New),
            ops: BTreeMap::new(),
            queue: VecDeque::new(),
            out: VecDeque::new(),
            next_op: 1,
            shut_down: false,
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The ClientGuid sent in NEGOTIATE.
    pub fn client_guid(&self) -> Guid {
        self.client_guid
    }

    /// Diagnostic counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Wall-clock time at `now` (FILETIME), derived from the value given to [`Client::new`].
    pub fn wall_clock(&self, now: Instant) -> FileTime {
        FileTime(
            self.wall_clock
                .0
                .saturating_add((now - self.start).as_nanos() / 100),
        )
    }

    /// Status of a channel.
    pub fn channel_state(&self, ch: ChannelId) -> Option<ChannelState> {
        self.channels.get(ch.0 as usize).map(|c| c.machine.state())
    }

    /// Status of the session.
    pub fn session_state(&self) -> SessionState {
        self.session.state()
    }

    fn alloc_op(&mut self, kind: OpKind, deadline: Option<Instant>) -> OpId {
        let id = OpId(self.next_op);
        self.next_op += 1;
        self.ops.insert(id, Op { deadline, kind });
        id
    }

    fn emit_transition(&mut self, t: Transition) {
        self.out.push_back(Output::Event(t.into()));
    }

    fn complete(&mut self, op: OpId, result: Result<Response, OpError>) {
        if self.ops.remove(&op).is_some() {
            self.queue.retain(|o| *o != op);
            self.out.push_back(Output::Completed { op, result });
        }
    }

    /// Start connecting to `addr`: creates channel 0 and emits [`Output::Connect`]. The
    /// returned operation completes with [`Response::Connected`] once the session is
    /// established, or with the error that prevented it.
    pub fn connect(&mut self, addr: ServerAddr, now: Instant) -> OpId {
        let deadline = Some(now + self.config.request_timeout);
        let op = self.alloc_op(OpKind::Connect, deadline);
        if self.shut_down {
            self.complete(op, Err(OpError::new(ErrorKind::ShutDown)));
            return op;
        }
        if !self.channels.is_empty() {
            // One session per client: a second connect joins the first.
            if !self.session.join(op) {
                let r = Err(OpError::new(ErrorKind::Protocol("already connected")));
                self.complete(op, r);
            }
            return op;
        }
        self.server_name = self
            .config
            .server_name
            .clone()
            .unwrap_or_else(|| String::from(addr.host()));
        self.addr = Some(addr.clone());
        let ch = ChannelId(0);
        self.channels.push(Channel {
            machine: Machine::new(ObjectRef::Channel(ch), ChannelState::New),
            reader: FrameReader::new(self.config.max_frame_len),
            credits: CreditWindow::new(self.config.credit_target),
            connected: false,
        });
        if let Ok(t) = self
            .session
            .begin(SessionState::InSetup, Owner::Op(op), deadline.unwrap_or(now))
        {
            self.emit_transition(t);
        }
        self.out.push_back(Output::Connect { channel: ch, addr });
        op
    }

    /// The adapter's TCP connection for `ch` is up.
    pub fn handle_connected(&mut self, ch: ChannelId, _now: Instant) {
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return;
        };
        if c.connected || c.machine.state() == ChannelState::Exiting {
            return;
        }
        c.connected = true;
        c.machine.bump_epoch();
        c.credits = CreditWindow::new(self.config.credit_target);
        c.reader = FrameReader::new(self.config.max_frame_len);
        if let Ok((t, _)) = c.machine.set(ChannelState::NeedNegotiate) {
            self.emit_transition(t);
        }
    }

    /// Bytes arrived on `ch` (any split: partial frames are buffered).
    pub fn handle_input(&mut self, ch: ChannelId, data: &[u8], _now: Instant) {
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return;
        };
        if !c.connected {
            return;
        }
        c.reader.push(data);
        loop {
            match c.reader.next_frame() {
                Ok(Some(_frame)) => {
                    self.stats.responses_received += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    self.stats.malformed += 1;
                    self.fail_channel(ch, ChannelError::Malformed(e));
                    break;
                }
            }
        }
    }

    /// The transport of `ch` closed (EOF, error, or connect failure).
    pub fn handle_closed(&mut self, ch: ChannelId, reason: CloseReason, _now: Instant) {
        if let Some(c) = self.channels.get_mut(ch.0 as usize) {
            if c.machine.state() == ChannelState::Exiting {
                c.connected = false;
                return;
            }
        }
        self.fail_channel(ch, ChannelError::Closed(reason));
    }

    fn fail_channel(&mut self, ch: ChannelId, error: ChannelError) {
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return;
        };
        let was_connected = c.connected;
        c.connected = false;
        if let Ok((t, _)) = c.machine.set(ChannelState::NeedReconnect) {
            self.emit_transition(t);
        }
        if was_connected {
            self.out.push_back(Output::Close { channel: ch });
        }
        self.out.push_back(Output::Event(Event::ChannelFailed {
            channel: ch,
            error: error.clone(),
        }));
        // Every operation waiting on the session setup fails with the channel's error.
        if let Ok((t, flight)) = self.session.fail() {
            self.emit_transition(t);
            for op in flight.everyone() {
                self.complete(op, Err(OpError::from(error.clone())));
            }
        }
    }

    /// A deadline the client asked for (through [`Output::Timeout`]) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<OpId> = self
            .ops
            .iter()
            .filter(|(_, o)| o.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for op in expired {
            self.session.leave(op);
            self.complete(op, Err(OpError::new(ErrorKind::TimedOut)));
        }
        if let Some((t, flight)) = self.session.expire(now) {
            self.emit_transition(t);
            for op in flight.everyone() {
                self.complete(op, Err(OpError::new(ErrorKind::TimedOut)));
            }
        }
    }

    /// Submit an operation. Never blocks: the result arrives as [`Output::Completed`].
    pub fn submit(&mut self, request: Request, now: Instant) -> Result<OpId, SubmitError> {
        if self.shut_down {
            return Err(SubmitError::ShutDown);
        }
        if self.channels.is_empty() {
            return Err(SubmitError::NotConnected);
        }
        if self.ops.len() >= self.config.max_queued_ops {
            return Err(SubmitError::Busy);
        }
        if let Request::Compound(v) = &request {
            if v.is_empty() {
                return Err(SubmitError::InvalidRequest("empty compound"));
            }
            if v.iter().any(|r| matches!(r, Request::Compound(_))) {
                return Err(SubmitError::InvalidRequest("nested compound"));
            }
        }
        let deadline = match request {
            Request::ChangeNotify { .. } => None,
            _ => Some(now + self.config.request_timeout),
        };
        let op = self.alloc_op(OpKind::Request(request), deadline);
        if !self.session.join(op) {
            self.queue.push_back(op);
        }
        Ok(op)
    }

    /// Cancel an operation: it completes with [`ErrorKind::Cancelled`] (a request already
    /// sent is cancelled on the server with SMB2 CANCEL).
    pub fn cancel(&mut self, op: OpId, _now: Instant) {
        if !self.ops.contains_key(&op) {
            return;
        }
        self.session.leave(op);
        self.complete(op, Err(OpError::new(ErrorKind::Cancelled)));
    }

    /// Log off and close every channel. Every pending operation completes with
    /// [`ErrorKind::ShutDown`]; nothing is sent afterwards.
    pub fn shutdown(&mut self, _now: Instant) {
        if self.shut_down {
            return;
        }
        self.shut_down = true;
        if let Ok((t, _)) = self.session.set(SessionState::Exiting) {
            self.emit_transition(t);
        }
        let ops: Vec<OpId> = self.ops.keys().copied().collect();
        for op in ops {
            self.complete(op, Err(OpError::new(ErrorKind::ShutDown)));
        }
        for i in 0..self.channels.len() {
            let c = &mut self.channels[i];
            let connected = c.connected;
            c.connected = false;
            if let Ok((t, _)) = c.machine.set(ChannelState::Exiting) {
                self.emit_transition(t);
            }
            if connected {
                self.out.push_back(Output::Close {
                    channel: ChannelId(i as u32),
                });
            }
        }
    }

    /// The next output. Call after every input until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        Output::Timeout(self.next_deadline())
    }

    fn next_deadline(&self) -> Option<Instant> {
        let ops = self.ops.values().filter_map(|o| o.deadline);
        let flights = self.session.deadline();
        ops.chain(flights).min()
    }

    #[allow(dead_code)]
    fn random_bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill_bytes(&mut b);
        b
    }
}
