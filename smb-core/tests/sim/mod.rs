//! A simulation network for the sans-IO client: the client, the scripted in-memory server
//! ([`server`]), the connections between them (one per client channel, each with its own
//! server-side state) and virtual time. Faults are injected by tests: cut a connection (or
//! all) when an event is seen, tamper with, drop or hold server-to-client frames, refuse the
//! next connection attempts; time jumps to the next deadline.

#![allow(dead_code)]

mod server;

pub use server::*;

use bytes::Bytes;
use rand::SeedableRng;
use smb_core::auth::{NtlmAuthenticator, NtlmCredentials, NtlmFactory};
use smb_core::client::*;
use smb_core::time::{Duration, FileTime, Instant};
use smb_core::wire::Header;
use std::collections::{BTreeMap, BTreeSet};

/// What happens to a server-to-client frame (see [`Sim::on_frame`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Deliver it (possibly edited).
    Deliver,
    /// Lose it.
    Drop,
    /// Lose it and cut its connection.
    Cut,
    /// Lose it and cut every connection.
    CutAll,
}

/// A frame hook: the connection, the frame (length prefix included; may be edited).
pub type FrameHook = Box<dyn FnMut(ChannelId, &mut Vec<u8>) -> Fate>;
/// An event hook: return true to cut every connection now.
pub type EventHook = Box<dyn FnMut(&Event) -> bool>;

/// The client and server wired together with virtual time.
pub struct Sim {
    pub client: Client,
    pub server: Server,
    pub now: Instant,
    pub events: Vec<Event>,
    /// The virtual time at which each event of `events` was seen.
    pub event_at: Vec<Instant>,
    pub done: BTreeMap<OpId, Result<Response, OpError>>,
    /// A connection was opened at least once.
    pub connected: bool,
    /// The client closed a connection (`Output::Close`) at least once.
    pub closed: bool,
    /// Channels the client closed: nothing may be sent on them afterwards.
    pub closed_channels: BTreeSet<ChannelId>,
    /// Every channel the client asked to connect, in order.
    pub connects: Vec<ChannelId>,
    /// The address of every connection asked for, in order.
    pub connect_addrs: Vec<ServerAddr>,
    /// Refuse this many connection attempts (ConnectFailed) before accepting again.
    pub refuse_connects: u32,
    /// Edit, drop or cut at each server-to-client frame.
    pub on_frame: Option<FrameHook>,
    /// Cut every connection when it returns true for an event.
    pub cut_when: Option<EventHook>,
}

pub fn client_config() -> ClientConfig {
    ClientConfig::default()
        .with_client_guid(smb_core::wire::Guid([5; 16]))
        .with_server_name("testsrv")
        .with_echo_interval(None)
}

impl Sim {
    pub fn new(cfg: ClientConfig, server: ServerConfig) -> Sim {
        Self::with_factory(
            cfg,
            server,
            Box::new(NtlmFactory::user(NtlmCredentials::password("", USER, PASS))),
        )
    }

    /// A client logging in once with `auth` (a reconnect that needs a new session fails).
    pub fn with_auth(cfg: ClientConfig, server: ServerConfig, auth: NtlmAuthenticator) -> Sim {
        Self::with_factory(
            cfg,
            server,
            Box::new(smb_core::auth::OneShot::new(Box::new(auth))),
        )
    }

    pub fn with_factory(
        cfg: ClientConfig,
        server: ServerConfig,
        auth: Box<dyn AuthFactory>,
    ) -> Sim {
        let rng = rand::rngs::StdRng::seed_from_u64(42);
        let now = Instant::from_nanos(1_000_000_000);
        let client = Client::new(
            cfg,
            auth,
            Box::new(rng),
            now,
            FileTime::from_unix_nanos(1_700_000_000_000_000_000),
        );
        Sim {
            client,
            server: Server::new(server),
            now,
            events: Vec::new(),
            event_at: Vec::new(),
            done: BTreeMap::new(),
            connected: false,
            closed: false,
            closed_channels: BTreeSet::new(),
            connects: Vec::new(),
            connect_addrs: Vec::new(),
            refuse_connects: 0,
            on_frame: None,
            cut_when: None,
        }
    }

    /// Drain client outputs and deliver frames both ways until nothing moves. Returns the
    /// client's next deadline.
    pub fn run(&mut self) -> Option<Instant> {
        loop {
            let deadline = self.drain();
            let Some((ch, mut f)) = self.server.outbox.pop_front() else {
                return deadline;
            };
            if !self.server.is_connected(ch) {
                continue;
            }
            let fate = match self.on_frame.as_mut() {
                Some(h) => h(ch, &mut f),
                None => Fate::Deliver,
            };
            match fate {
                Fate::Deliver => self.client.handle_input(ch, &f, self.now),
                Fate::Drop => {}
                Fate::Cut => self.cut(ch),
                Fate::CutAll => self.cut_all(),
            }
        }
    }

    /// Process every client output until `Timeout`.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.client.poll_output() {
                Output::Transmit { channel, frame } => {
                    assert!(
                        !self.closed_channels.contains(&channel),
                        "nothing is sent after close ({channel})"
                    );
                    self.server.input(channel, &frame.to_vec())
                }
                Output::Connect { channel, addr } => {
                    self.connects.push(channel);
                    self.connect_addrs.push(addr);
                    if self.refuse_connects > 0 {
                        self.refuse_connects -= 1;
                        let why = CloseReason::ConnectFailed("refused (simulated)".into());
                        self.client.handle_closed(channel, why, self.now);
                    } else {
                        self.connected = true;
                        self.server.connect(channel);
                        self.client.handle_connected(channel, self.now);
                    }
                }
                Output::Close { channel } => {
                    self.closed = true;
                    self.closed_channels.insert(channel);
                    self.server.disconnect(channel);
                }
                Output::Completed { op, result } => {
                    assert!(self.done.insert(op, result).is_none(), "completed twice");
                }
                Output::Event(e) => {
                    let cut = self.cut_when.as_mut().is_some_and(|h| h(&e));
                    self.events.push(e);
                    self.event_at.push(self.now);
                    if cut {
                        self.cut_all();
                    }
                }
                Output::Timeout(t) => break t,
            }
        }
    }

    /// Cut the connection instead of delivering the `n`th response (1-based) to `command`.
    pub fn cut_at_response(&mut self, command: smb_core::wire::Command, n: usize) {
        let mut seen = 0;
        self.on_frame = Some(Box::new(move |_, fr| {
            if fr.get(4) == Some(&0xFE) && fr.get(4 + 12) == Some(&(command as u8)) {
                seen += 1;
                if seen == n {
                    return Fate::Cut;
                }
            }
            Fate::Deliver
        }));
    }

    /// The connection of `ch` breaks (both sides see it).
    pub fn cut(&mut self, ch: ChannelId) {
        if self.server.is_connected(ch) {
            self.server.disconnect(ch);
            self.client.handle_closed(ch, CloseReason::Eof, self.now);
        }
    }

    /// Every connection breaks.
    pub fn cut_all(&mut self) {
        for ch in self.server.connections() {
            self.cut(ch);
        }
    }

    /// Advance virtual time to the client's next deadline (at most `limit` from now), run,
    /// and repeat until nothing is due within `limit`. Returns how far time moved.
    pub fn run_for(&mut self, limit: Duration) -> Duration {
        let start = self.now;
        let end = self.now + limit;
        // A deadline that handle_timeout leaves in the past makes every adapter's loop spin
        // (and starves a single-threaded executor): caught here.
        let mut stuck = 0;
        loop {
            let next = self.run();
            match next {
                Some(t) if t <= end => {
                    if t > self.now {
                        self.now = t;
                        stuck = 0;
                    } else {
                        stuck += 1;
                        assert!(
                            stuck < 1000,
                            "busy loop: the client asks again and again for a deadline that has passed ({t:?} at {:?})",
                            self.now
                        );
                    }
                    self.client.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now - start
    }

    pub fn login(&mut self) -> Response {
        let op = self
            .client
            .connect(ServerAddr::from("127.0.0.1:445"), self.now);
        self.run();
        self.done
            .remove(&op)
            .expect("login completed")
            .expect("login ok")
    }

    pub fn op(&mut self, r: Request) -> Result<Response, OpError> {
        let op = self.client.submit(r, self.now).expect("submitted");
        self.run();
        self.done.remove(&op).expect("completed")
    }

    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        self.client.handle_timeout(self.now);
        self.run();
    }

    pub fn transitions(
        &self,
    ) -> Vec<(
        ObjectRef,
        smb_core::state::AnyState,
        smb_core::state::AnyState,
    )> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Transition {
                    object, from, to, ..
                } => Some((*object, *from, *to)),
                _ => None,
            })
            .collect()
    }

    pub fn tree(&mut self) -> TreeId {
        match self
            .op(Request::TreeConnect {
                share: "share".into(),
            })
            .unwrap()
        {
            Response::TreeConnected { tree, .. } => tree,
            r => panic!("{r:?}"),
        }
    }

    pub fn open(&mut self, tree: TreeId, path: &str, o: OpenOptions) -> FileHandle {
        match self
            .op(Request::Create {
                tree,
                path: path.into(),
                options: o,
            })
            .unwrap()
        {
            Response::Created { file, .. } => file,
            r => panic!("{r:?}"),
        }
    }

    /// Release the held responses (in the given order) and run.
    pub fn release(&mut self, order: impl FnOnce(&mut Vec<(ChannelId, Vec<u8>)>)) {
        self.server.hold = false;
        let mut held = std::mem::take(&mut self.server.held);
        order(&mut held);
        self.server.outbox.extend(held);
        self.run();
    }

    /// Submit without running.
    /// The server sends an unsolicited OPLOCK_BREAK message with `body`; run until quiet.
    pub fn notify(&mut self, body: Vec<u8>) {
        use smb_core::wire::{Command, HeaderFlags};
        let mut h = Header::request(Command::OplockBreak);
        h.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR);
        h.message_id = u64::MAX;
        h.session_id = 0;
        h.credits = 0;
        h.id = smb_core::wire::header::HeaderId::Sync {
            process_id: 0,
            tree_id: 0,
        };
        self.server.send(h, body, false, false);
        self.run();
    }

    pub fn submit(&mut self, r: Request) -> OpId {
        self.client.submit(r, self.now).expect("submitted")
    }

    /// Logged in and tree connected to "share", with the file `name` holding `data` opened
    /// with `o`.
    pub fn with_open_file(
        cfg: ClientConfig,
        server: ServerConfig,
        name: &str,
        data: Vec<u8>,
        o: OpenOptions,
    ) -> (Sim, TreeId, FileHandle) {
        let mut s = Sim::new(cfg, server);
        s.login();
        let t = s.tree();
        s.server.files.insert(name.into(), data);
        let f = s.open(t, name, o);
        (s, t, f)
    }

    /// Whether the client emitted an event matching `f`.
    pub fn saw(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(f)
    }

    /// The SMB2 header of a frame as the server sent it (prefix included), unless encrypted.
    pub fn header_of(frame: &[u8]) -> Option<Header> {
        Header::decode(frame.get(4..)?).ok()
    }
}

/// A LEASE_BREAK notification ([MS-SMB2] 2.2.23.2) of lease `key` from RWH to R.
pub fn lease_break_body(key: [u8; 16], ack: bool) -> Vec<u8> {
    use smb_core::wire::create_context::LeaseState;
    use smb_core::wire::oplock_break::{LeaseBreakFlags, LeaseBreakNotification};
    body(&LeaseBreakNotification {
        new_epoch: 2,
        flags: LeaseBreakFlags(if ack {
            LeaseBreakFlags::ACK_REQUIRED
        } else {
            0
        }),
        lease_key: smb_core::wire::Guid(key),
        current_state: LeaseState(7),
        new_state: LeaseState(1),
        break_reason: 0,
        access_mask_hint: 0,
        share_mask_hint: 0,
    })
}

pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

pub fn concat(v: &[Bytes]) -> Vec<u8> {
    v.iter().flat_map(|b| b.iter().copied()).collect()
}
