//! The sans-IO [`Client`]: one per server, one user session per client.
//!
//! Inputs are method calls carrying bytes, connection events and the current time; outputs are
//! drained with [`Client::poll_output`] after every input until it returns
//! [`Output::Timeout`]. See the crate documentation for the run loop.
//!
//! What the client does on its own:
//! - NEGOTIATE (dialects in the configured range; 3.1.1 contexts: SHA-512 pre-auth integrity
//!   with a random salt, ciphers and signing algorithms in preference order, NETNAME), then
//!   the SESSION_SETUP exchange with the [`Authenticator`], key derivation, signature
//!   verification of the final response.
//! - Signing ([MS-SMB2] 3.2.4.1.1) when the session requires it, and always for 3.1.1
//!   TREE_CONNECT; verification of every signed response; encryption (TRANSFORM) when the
//!   session or share asks for it or the configuration does.
//! - Credits per channel ([`crate::credits`]), interim STATUS_PENDING responses (credits
//!   counted, AsyncId kept for CANCEL), per-request deadlines, ECHO when idle.
//! - READ/WRITE of any length, cut to the server's limits and the credits, pipelined.
//! - TREE_CONNECT single-flight per share: one tree and one [`TreeId`] per share name; a
//!   TreeConnect of a connected share completes at once with the same TreeId, one of a share
//!   being connected joins the exchange in flight; the last TreeDisconnect sends
//!   TREE_DISCONNECT. On 3.0/3.0.2 a signed FSCTL_VALIDATE_NEGOTIATE_INFO follows every
//!   TREE_CONNECT ([MS-SMB2] 3.2.5.5, 3.2.5.14.12); a mismatch drops the channel
//!   ([`ChannelError::Downgrade`]).
//! - Lease and oplock breaks: events, then acknowledgments as the configured
//!   [`BreakPolicy`] decides (default [`AckBreaks`]).
//! - Unresponsive servers: a channel on which requests wait while the server sends nothing
//!   for `unresponsive_timeout` fails ([`ChannelError::Unresponsive`]); NEGOTIATE and
//!   SESSION_SETUP have their own deadlines. Nothing waits forever.

mod api;
mod bind;
mod breaks;
mod dfs;
mod error;
mod events;
mod io;
mod lifecycle;
mod negotiate;
mod open_options;
mod ops;
mod receive;
mod reopen;
mod requests;
mod resolve;
mod results;
mod send;
mod session_setup;
mod tree_connect;

pub use api::{
    AckBreaks, BreakAction, BreakPolicy, ChannelStats, ClientConfig, DirEntry, Event,
    FileAttributes, Frame, LeaseBreak, LockRange, Output, RecoveryEvent, Request, Response,
    ServerAddr, Stats, multichannel,
};
pub use dfs::DfsResolver;
pub use error::{ChannelError, CloseReason, ErrorKind, OpError, SessionError, SubmitError};
pub use open_options::{
    OpenOptions, access, create_options, disposition, file_attributes, share_access,
};
pub use resolve::Resolver;

pub use crate::auth::{AuthFactory, Authenticator};
pub use crate::state::{ChannelId, FileHandle, ObjectRef, OpId, TreeId};
pub use crate::wire::negotiate::{Cipher, Dialect, SigningAlgorithm};

use crate::credits::{CreditWindow, Reservation};
use crate::crypto::{Cipher as AeadCipher, NonceSequence, PreauthHash, Signer};
use crate::state::{ChannelState, Machine, OpenState, SessionState, TreeState};
use crate::time::{FileTime, Instant};
use crate::wire::framing::FrameReader;
use crate::wire::{Command, FileId, Guid};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

// Shared by the engine's files (each starts with `use super::*`).
use crate::auth::{AuthContext, AuthKind, AuthStep};
use crate::credits::Plan;
use crate::crypto::{CipherId, SessionKeys};
use crate::state::{Acquire, Owner, Status, Transition};
use crate::time::Duration;
use crate::wire::close::{CloseFlags, CloseRequest, CloseResponse};
use crate::wire::compound::{ChainPart, build_chain, split_chain};
use crate::wire::create::{
    AccessMask, CreateDisposition, CreateOptions, CreateRequest, CreateResponse,
    FileAttributes as WireAttrs, ImpersonationLevel, OplockLevel, ShareAccess,
};
use crate::wire::create_context::{
    DurableHandleReconnect, DurableHandleReconnectV2, DurableHandleRequest, DurableHandleRequestV2,
    Lease, LeaseState,
};
use crate::wire::framing::{self, PREFIX_LEN};
use crate::wire::header::HeaderId;
use crate::wire::ioctl::{
    IoctlData, IoctlFlags, IoctlRequest, IoctlResponse, ValidateNegotiateInfoResponse, fsctl,
};
use crate::wire::negotiate::{
    Capabilities, HashAlgorithm, NegotiateContext, NegotiateRequest, NegotiateResponse,
    SecurityMode,
};
use crate::wire::session_setup::{
    SessionFlags, SessionSetupFlags, SessionSetupRequest, SessionSetupResponse,
};
use crate::wire::transform::{ProtocolKind, TRANSFORM_HEADER_LEN, TransformHeader, classify};
use crate::wire::tree_connect::{
    ShareCapabilities, ShareFlags, TreeConnectRequest, TreeConnectResponse,
};
use crate::wire::{Decode, DecodeError, Encode, HEADER_LEN, Header, HeaderFlags, NtStatus};
use bytes::BytesMut;
use negotiate::*;
use ops::*;
use send::*;
use smallvec::SmallVec;

/// What the server told us in NEGOTIATE (per connection: each channel negotiates).
#[derive(Clone, Debug)]
struct Negotiated {
    dialect: Dialect,
    capabilities: u32,
    security_mode: u16,
    server_guid: Guid,
    max_read: u32,
    max_write: u32,
    max_transact: u32,
    cipher: Option<crate::crypto::CipherId>,
    signing_algorithm: Option<crate::crypto::SigningAlgorithm>,
    /// The NEGOTIATE response's security buffer (first token for the authenticator).
    token: Vec<u8>,
}

/// Which part of an operation a message in flight belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Negotiate,
    SessionSetup,
    /// The whole (single-message) operation.
    Whole,
    /// A READ/WRITE piece at `rel` bytes from the operation's offset.
    Piece {
        rel: u64,
        len: u32,
    },
    /// Member `idx` of a compound.
    Member(usize),
    /// FSCTL_VALIDATE_NEGOTIATE_INFO after a TREE_CONNECT.
    Validate,
    /// The CREATE that reclaims a durable handle after a reconnect.
    Reopen,
    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO (multichannel discovery).
    Interfaces,
    /// Internal: ECHO, lease break ack, LOGOFF at shutdown...
    Internal,
}

/// The protection the response to a request must carry, decided when the request is sent
/// ([MS-SMB2] 3.2.5.1.3: what counts is the session of the request with that MessageId,
/// never what the response says about itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// No session keys yet (NEGOTIATE, SESSION_SETUP legs), or an unsigned session: a
    /// signature that is present is still verified.
    Nothing,
    /// Signed with the channel's signing key (or encrypted, which authenticates too).
    Signed,
    /// In a TRANSFORM header of this session (Session.EncryptData or TreeConnect.EncryptData).
    Encrypted,
}

/// A request in flight on a channel.
#[derive(Clone, Debug)]
struct Pending {
    op: Option<OpId>,
    part: Part,
    command: Command,
    res: Reservation,
    async_id: Option<u64>,
    expect: Expect,
    /// The wire TreeId the request carried (CANCEL names it, [MS-SMB2] 3.2.4.24).
    tree_wire: u32,
}

/// The SESSION_SETUP exchange in progress on a channel.
struct Setup {
    /// The authenticator of this exchange, fresh from the factory.
    exchange: Box<dyn Authenticator>,
    /// Session.PreauthIntegrityHashValue (3.1.1), started from the connection's.
    preauth: PreauthHash,
    kind: SetupKind,
}

/// What a SESSION_SETUP exchange is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetupKind {
    /// A new session: the first login, or a re-establishment after every channel was lost
    /// (PreviousSessionId set, [MS-SMB2] 3.2.4.2.3).
    New,
    /// Re-authentication of the live session after STATUS_NETWORK_SESSION_EXPIRED: same
    /// SessionId, opens kept ([MS-SMB2] 3.2.4.2.3, 3.2.5.3.1).
    Reauth,
    /// Binding of the live session to an extra channel (SMB2_SESSION_FLAG_BINDING, signed
    /// with the session's key; the channel gets its own signing key, [MS-SMB2] 3.2.5.3.1).
    Bind,
}

/// One TCP connection to the server. A connection that is lost is replaced by a new channel
/// with a new [`ChannelId`]; ids are never reused.
struct Channel {
    machine: Machine<ChannelState>,
    reader: FrameReader,
    credits: CreditWindow,
    connected: bool,
    pending: BTreeMap<u64, Pending>,
    neg: Option<Negotiated>,
    /// Connection.PreauthIntegrityHashValue (3.1.1).
    preauth: PreauthHash,
    last_traffic: Instant,
    /// What our NEGOTIATE said (for FSCTL_VALIDATE_NEGOTIATE_INFO).
    sent_neg: Option<crate::wire::ioctl::ValidateNegotiateInfoRequest>,
    /// Since when requests wait for the server with nothing received (unresponsive check).
    waiting_since: Option<Instant>,
    /// Channel.SigningKey ([MS-SMB2] 3.2.5.3.1): set once the session is established on it.
    signer: Option<Signer>,
    /// The SESSION_SETUP exchange in progress on this channel.
    setup: Option<Setup>,
    /// The first bytes from the server were SMB2 (or a TRANSFORM of our session).
    heard_smb2: bool,
    /// An extra channel of the session: set up by binding, not by a new session.
    binding: bool,
    /// Bytes sent and received, requests sent (see [`ChannelStats`]).
    bytes_sent: u64,
    bytes_received: u64,
    requests_sent: u64,
    /// `Stats::requests_sent` when this channel last sent (least recently used first).
    last_used: u64,
}

/// Multichannel: discovery of the server's interfaces and the extra channels.
#[derive(Debug, Default)]
struct Multi {
    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO was sent (once per client).
    asked: bool,
    /// Its answer arrived (or failed): `addrs` is decided.
    answered: bool,
    /// The interfaces the server reported.
    interfaces: Vec<crate::wire::ioctl::NetworkInterfaceInfo>,
    /// Where extra channels connect (from `ClientConfig::channel_addrs`), in turn.
    addrs: Vec<ServerAddr>,
    /// The next address of `addrs` to use.
    next_addr: usize,
    /// The server refused binding for good (or the channels do not match): no more.
    disabled: bool,
    /// Binding failures in a row (backoff of the next attempt).
    failures: u32,
    /// When the next extra channel may be opened (after a failure).
    next_at: Option<Instant>,
}

/// The keys and policy of the established session.
struct Security {
    /// Session.SigningKey: the signer of the session's first channel.
    signer: Signer,
    encryptor: Option<AeadCipher>,
    decryptor: Option<AeadCipher>,
    nonces: NonceSequence,
    /// Session.SigningRequired.
    signing_required: bool,
    /// Session.EncryptData.
    encrypt_all: bool,
}

/// The session (one per client).
struct Session {
    machine: Machine<SessionState>,
    id: u64,
    previous_id: u64,
    flags: u16,
    security: Option<Security>,
    /// Session.ChannelSequence ([MS-SMB2] 3.2.4.1, 3.2.7.1): bumped when a connection is lost,
    /// so the server can tell requests replayed after the loss from the originals.
    channel_sequence: u16,
    /// The session was established once: losing it starts a recovery instead of failing.
    established_once: bool,
}

/// The recovery scheduler: after the session's last channel is lost, a new connection is
/// attempted at once, then with exponential backoff and jitter, until the session is back or
/// `reconnect_give_up` has passed.
#[derive(Clone, Debug, Default)]
struct Recovery {
    /// When the session was lost (the start of this recovery); `None` when not recovering.
    since: Option<Instant>,
    /// Connection attempts so far in this recovery.
    attempts: u32,
    /// When to open the next connection.
    next_at: Option<Instant>,
    /// The channel being brought up by the recovery.
    channel: Option<ChannelId>,
    /// The recovery gave up: waiting operations failed; the next submission starts again.
    gave_up: bool,
    /// The error that started the recovery (for the give-up message).
    cause: Option<ChannelError>,
    /// When the last recovery brought the session back.
    restored_at: Option<Instant>,
    /// Recoveries in a row whose session was lost again soon after (backoff keeps growing).
    streak: u32,
}

struct Tree {
    machine: Machine<TreeState>,
    share: String,
    wire_id: u32,
    encrypt: bool,
    /// ShareType PIPE (IPC$): a READ there returns one message at most (see `client/io.rs`).
    pipe: bool,
    /// The TREE_CONNECT response had SMB2_SHARE_CAP_DFS: CREATEs on it carry
    /// SMB2_FLAGS_DFS_OPERATIONS and a `server\share\path` name ([MS-SMB2] 3.2.4.3).
    dfs: bool,
    /// Its last user asked for TREE_DISCONNECT: a new TreeConnect of the share gets a tree of
    /// its own instead of this one, which the server is about to drop.
    leaving: bool,
    /// TreeConnect requests that got this tree and have not disconnected it.
    users: u32,
    /// The TreeConnected response, handed to later TreeConnect requests of the same share.
    info: Option<Response>,
    /// The session epoch of the last TREE_CONNECT (one per tree per session epoch).
    session_epoch: u32,
}

/// Progress of a TREE_CONNECT operation.
#[derive(Clone, Debug)]
enum TconStage {
    /// TREE_CONNECT to send (owner) or in flight.
    Connect,
    /// Connected; FSCTL_VALIDATE_NEGOTIATE_INFO to send (or in flight) before completing.
    Validate(Response),
}

/// What a durable handle needs to be reclaimed after a reconnect ([MS-SMB2] 3.2.4.4).
#[derive(Clone, Debug)]
struct Durable {
    /// v2 (3.x, DH2Q/DH2C) or v1 (2.1, DHnQ/DHnC).
    v2: bool,
    create_guid: Guid,
}

/// How an open was created (kept for a durable reopen and for replaying its CREATE).
#[derive(Clone, Debug)]
struct CreateMemo {
    path: String,
    options: OpenOptions,
    create_guid: Option<Guid>,
    lease_key: Option<Guid>,
    /// The lease state asked for.
    lease_state: u32,
    /// v1 durable handle asked for (2.1).
    durable_v1: bool,
}

struct Open {
    machine: Machine<OpenState>,
    tree: TreeId,
    wire: FileId,
    lease_key: Option<Guid>,
    lease_state: u32,
    durable: Option<Durable>,
    memo: CreateMemo,
    /// Reclaims the server refused as "not found" in this recovery, and when to try again.
    reopen_tries: u8,
    reopen_retry_at: Option<Instant>,
    /// Its owner closes it on a lease break instead of acknowledging
    /// ([`Client::close_on_lease_break`]).
    close_on_break: bool,
}

/// Progress of a split READ or WRITE.
struct Io {
    file: FileHandle,
    offset: u64,
    len: u64,
    /// Bytes issued so far (relative to `offset`).
    issued: u64,
    outstanding: u32,
    /// Pieces to issue again before new ones: lost with a connection, or the unread tail of
    /// a short READ. (relative offset, length)
    again: Vec<(u64, u32)>,
    /// READ: pieces received, by relative offset.
    pieces: BTreeMap<u64, Bytes>,
    /// READ: the file ended at this relative offset.
    eof_at: Option<u64>,
    /// READ: short answers that returned no byte at all (a server stuck at 0 bytes).
    empty_reads: u32,
    /// WRITE: the data.
    data: Bytes,
    /// WRITE: bytes acknowledged.
    written: u64,
    /// WRITE pieces the server answered with STATUS_FILE_NOT_AVAILABLE and that are replayed
    /// ([MS-SMB2] 3.2.5.12), and when the next try may go.
    not_available: u32,
    retry_at: Option<Instant>,
    error: Option<OpError>,
}

enum OpKind {
    /// `connect`: completes when the session is established.
    Connect,
    Single(Request),
    /// TREE_CONNECT of `tree` (the owner of its InTcon step, or a waiter that joined it).
    Tcon {
        tree: TreeId,
        stage: TconStage,
    },
    Io(Io, Command),
    Compound {
        reqs: Vec<Request>,
        results: Vec<Option<Result<Response, OpError>>>,
        created: Option<FileHandle>,
    },
    /// Reclaim the durable handle of `file` after a reconnect (internal).
    Reopen {
        file: FileHandle,
    },
}

/// An operation not yet completed.
struct Op {
    deadline: Option<Instant>,
    kind: OpKind,
    /// Messages of this op in flight: (channel, message id).
    in_flight: Vec<(ChannelId, u64)>,
    /// The op has sent everything it will send.
    sent_all: bool,
    /// Started by the client itself (tree reconnect, durable reopen): no `Completed` output.
    internal: bool,
    /// Messages sent again after a lost connection carry SMB2_FLAGS_REPLAY_OPERATION (3.x).
    replay: bool,
    /// How often the op was sent again after a session or tree came back (bounded).
    retries: u8,
    /// The CREATE of this op (a lone CREATE): GUIDs and keys chosen once, reused on replay.
    create: Option<CreateMemo>,
    /// The tree or open whose recovery step this op waits for (left when it completes).
    joined: Option<ObjectRef>,
}

/// The SMB2/3 client state machine. See the [module documentation](self).
pub struct Client {
    config: ClientConfig,
    auth: Box<dyn AuthFactory>,
    rng: Box<dyn rand_core::CryptoRngCore + Send>,
    start: Instant,
    wall_clock: FileTime,
    client_guid: Guid,
    addr: Option<ServerAddr>,
    server_name: String,
    channels: BTreeMap<ChannelId, Channel>,
    next_channel: u32,
    session: Session,
    recovery: Recovery,
    /// When each object last changed status (for the `elapsed` of transition events).
    entered: BTreeMap<ObjectRef, Instant>,
    trees: BTreeMap<TreeId, Tree>,
    opens: BTreeMap<FileHandle, Open>,
    ops: BTreeMap<OpId, Op>,
    /// Operations with something left to send, in submission order.
    queue: VecDeque<OpId>,
    out: VecDeque<Output>,
    next_op: u64,
    next_tree: u32,
    next_file: u32,
    connect_op: Option<OpId>,
    shut_down: bool,
    stats: Stats,
    /// The time given with the latest input.
    last_now: Instant,
    multi: Multi,
}

impl Client {
    /// A client for one server. `now` is the caller's monotonic time, `wall_clock` the wall
    /// time at that instant (NTLMv2 needs it; later wall times are `wall_clock + (t - now)`).
    /// Randomness (ClientGuid, salts, NTLM challenge, nonces) comes only from `rng`.
    pub fn new(
        config: ClientConfig,
        auth: Box<dyn AuthFactory>,
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
            channels: BTreeMap::new(),
            next_channel: 0,
            session: Session {
                machine: Machine::new(ObjectRef::Session, SessionState::New),
                id: 0,
                previous_id: 0,
                flags: 0,
                security: None,
                channel_sequence: 0,
                established_once: false,
            },
            recovery: Recovery::default(),
            entered: BTreeMap::new(),
            trees: BTreeMap::new(),
            opens: BTreeMap::new(),
            ops: BTreeMap::new(),
            queue: VecDeque::new(),
            out: VecDeque::new(),
            next_op: 1,
            next_tree: 1,
            next_file: 1,
            connect_op: None,
            shut_down: false,
            stats: Stats::default(),
            last_now: now,
            multi: Multi::default(),
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

    /// Status of a channel (`None` once it is gone).
    pub fn channel_state(&self, ch: ChannelId) -> Option<ChannelState> {
        self.channels.get(&ch).map(|c| c.machine.state())
    }

    /// The channels that exist now, with their status.
    pub fn channels(&self) -> Vec<(ChannelId, ChannelState)> {
        self.channels
            .iter()
            .map(|(id, c)| (*id, c.machine.state()))
            .collect()
    }

    /// Status of the session.
    pub fn session_state(&self) -> SessionState {
        self.session.machine.state()
    }

    /// The dialect negotiated, once known.
    pub fn dialect(&self) -> Option<Dialect> {
        self.neg().map(|n| n.dialect)
    }

    /// The server's capabilities (SMB2_GLOBAL_CAP_*, [MS-SMB2] 2.2.4), once negotiated.
    pub fn server_capabilities(&self) -> Option<u32> {
        self.neg().map(|n| n.capabilities)
    }

    /// The lease state `file` holds now (0: none; lowered by every lease break as it
    /// arrives), or `None` for a handle that is not open.
    pub fn lease_state(&self, file: FileHandle) -> Option<u32> {
        self.opens.get(&file).map(|o| o.lease_state)
    }

    /// Mark `file` as closed by its owner when its lease breaks (the adapters' lease cache
    /// does): a break of a lease whose every handle is so marked is not acknowledged (the
    /// [`BreakPolicy`] is not asked) and the owner closes the handles on
    /// [`Event::LeaseBreak`]. Closing the last handle of a lease ends the break on the
    /// server as an acknowledgment would; acknowledging first would let the server retry
    /// the conflicting open while the handle is still open, and fail it with a sharing
    /// violation. False if `file` is not open.
    pub fn close_on_lease_break(&mut self, file: FileHandle) -> bool {
        match self.opens.get_mut(&file) {
            Some(o) => {
                o.close_on_break = true;
                true
            }
            None => false,
        }
    }

    /// The SessionId, once the server assigned one.
    pub fn session_id(&self) -> u64 {
        self.session.id
    }

    /// Credits available now on `ch` (diagnostics, tests).
    pub fn credits_available(&self, ch: ChannelId) -> Option<u32> {
        self.channels.get(&ch).map(|c| c.credits.available())
    }

    /// The next output. Call after every input until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        Output::Timeout(self.next_deadline())
    }
}
