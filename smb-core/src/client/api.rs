//! Values that go in and out of the [`Client`](super::Client): configuration, requests,
//! responses, outputs and events.

use super::OpenOptions;
use super::error::{ChannelError, OpError, SessionError};
use super::{Cipher, DfsResolver, Dialect, SigningAlgorithm};
use crate::crypto::CryptoProvider;
use crate::state::{ChannelId, FileHandle, OpId, TreeId};
use crate::time::Duration;
use crate::wire::{Guid, NtStatus};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::Bytes;
use smallvec::SmallVec;

/// Where to connect: `host:port` (or `host`, port 445 implied), opaque to the core; the
/// adapter resolves and connects it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerAddr(pub String);

impl ServerAddr {
    /// The host part (without `:port`; brackets of an IPv6 literal removed).
    pub fn host(&self) -> &str {
        let s = self.0.as_str();
        if let Some(rest) = s.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => s,
        }
    }
}

impl From<&str> for ServerAddr {
    fn from(s: &str) -> Self {
        ServerAddr(s.into())
    }
}

/// One frame to write to a channel's socket: the 4-byte length prefix and the message(s),
/// as a few chunks (header+body, then a WRITE's data as its own chunk, never copied). Write
/// all chunks in order, ideally with one vectored write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    chunks: SmallVec<[Bytes; 2]>,
}

impl Frame {
    /// A frame from its chunks (prefix included).
    pub fn from_chunks(chunks: SmallVec<[Bytes; 2]>) -> Self {
        Frame { chunks }
    }
    /// Total length in bytes, prefix included.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }
    /// True when the frame holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The chunks, in order.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }
    /// Iterate over the chunks.
    pub fn iter(&self) -> core::slice::Iter<'_, Bytes> {
        self.chunks.iter()
    }
    /// Take the chunks.
    pub fn into_chunks(self) -> SmallVec<[Bytes; 2]> {
        self.chunks
    }
    /// All bytes in one vector (for tests and simple adapters; copies).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for c in &self.chunks {
            v.extend_from_slice(c);
        }
        v
    }
}

impl<'a> IntoIterator for &'a Frame {
    type Item = &'a Bytes;
    type IntoIter = core::slice::Iter<'a, Bytes>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter()
    }
}

/// Client configuration. Build with [`ClientConfig::default`] and the `with_*` methods.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Lowest dialect offered (default 2.0.2).
    pub min_dialect: Dialect,
    /// Highest dialect offered (default 3.1.1).
    pub max_dialect: Dialect,
    /// Require signed traffic (SecurityMode SIGNING_REQUIRED; refuse unsigned sessions).
    pub require_signing: bool,
    /// Sign every message of a 3.1.1 session whenever the server supports signing
    /// (SecurityMode SIGNING_ENABLED), even when neither side requires it. Default on; off
    /// leaves such sessions unsigned unless signing is required by either side.
    pub sign_if_supported: bool,
    /// Require encryption; fail rather than fall back to plain traffic.
    pub require_encryption: bool,
    /// Encrypt when the server supports it (3.x), even if it does not require it.
    pub request_encryption: bool,
    /// Ciphers offered, most preferred first (3.1.1 context).
    pub ciphers: Vec<Cipher>,
    /// Signing algorithms offered, most preferred first (3.1.1 context).
    pub signing_algorithms: Vec<SigningAlgorithm>,
    /// ClientGuid; `None` draws one from the RNG.
    pub client_guid: Option<Guid>,
    /// Name of the server for NETNAME and the `\\server\share` paths; `None` uses the host
    /// part of the address given to `connect`.
    pub server_name: Option<String>,
    /// Deadline of every request (a STATUS_PENDING interim answer does not extend it, except
    /// for CHANGE_NOTIFY and blocking LOCK which wait without deadline).
    pub request_timeout: Duration,
    /// Send an ECHO after this long without traffic; `None` disables.
    pub echo_interval: Option<Duration>,
    /// Cap of one READ/WRITE piece (min with the server's MaxReadSize/MaxWriteSize).
    /// Default 1 MiB.
    pub max_io_size: u32,
    /// Credits the client asks the server for, per channel.
    pub credit_target: u16,
    /// Operations the adapters' admission gate lets in (admitted, not yet completed); a
    /// submitter beyond it waits in line (first come, first served). Default 4096.
    pub max_queued_ops: usize,
    /// Bound of the engine's own table of operations not yet completed
    /// ([`Client::submit`](crate::client::Client::submit) answers `Busy` beyond it). A
    /// separate knob because requests that release server resources (CLOSE,
    /// TREE_DISCONNECT, LOGOFF, break acks) and background flushes bypass the gate: the
    /// engine needs headroom above `max_queued_ops` so that these are never refused.
    /// Default 8192 (twice the gate's).
    pub max_engine_ops: usize,
    /// Events a subscriber's channel holds (`Client::events` of every adapter). A
    /// subscriber that does not keep up never slows the engine and never grows memory past
    /// this: the oldest events are dropped and the subscriber receives
    /// [`Event::Lagged`] with the count in their place. Default 1024.
    pub event_capacity: usize,
    /// Bound of the request payload bytes (WRITE data, IOCTL input) held by operations not
    /// yet completed; a submitter over it (or over `max_queued_ops`) waits. Default 256 MiB.
    pub max_buffered_bytes: usize,
    /// Requests in flight (sent, unanswered) per connection; more wait in the queue even
    /// when credits allow them. Default 512.
    pub max_in_flight: usize,
    /// Bytes a connection's reader hands the driver before the driver has handled them; the
    /// reader stops reading the socket at this bound. Default 64 MiB.
    pub max_unconsumed_bytes: usize,
    /// Ask for durable handles (v2) on CREATE by default when the server supports them.
    pub request_durable: bool,
    /// Ask for leases (v2) on CREATE by default when the server supports them.
    pub request_leases: bool,
    /// How long the share operations keep a handle open under a read-and-handle caching
    /// lease, answering repeated `metadata`/`exists`/`read` of the path without a request
    /// (see `smb_core::driver::LeaseCache`); a lease break ends it at once. Zero turns the
    /// cache off. Default 1 s (the Linux client's deferred-close time, `closetimeo`).
    pub lease_cache_ttl: Duration,
    /// Paths the lease cache holds at most (each an open handle on the server, and up to
    /// 64 KiB of a small file's contents); the oldest is closed to make room. Zero turns
    /// the cache off. Default 64.
    pub lease_cache_entries: usize,
    /// Largest frame accepted from the server.
    pub max_frame_len: usize,
    /// After each TREE_CONNECT on 3.0/3.0.2, check the negotiation with a signed
    /// FSCTL_VALIDATE_NEGOTIATE_INFO ([MS-SMB2] 3.2.5.5, 3.2.5.14.12); a mismatch drops the
    /// channel with [`ChannelError::Downgrade`](super::ChannelError::Downgrade). Default on.
    pub validate_negotiate: bool,
    /// Fail the channel (ops complete with [`ErrorKind::TimedOut`](super::ErrorKind::TimedOut))
    /// when the server sends nothing for this long while requests wait for an answer
    /// (requests that got an interim STATUS_PENDING, such as CHANGE_NOTIFY, do not count).
    /// Idle channels are probed with ECHO (see `echo_interval`). `None` disables. Default
    /// 120 s (twice the default echo interval).
    pub unresponsive_timeout: Option<Duration>,
    /// What to do on lease and oplock breaks. Default [`AckBreaks`]: acknowledge the state the
    /// server asks for.
    pub break_policy: Arc<dyn BreakPolicy>,
    /// Accept a session that the server turned into a guest session although credentials
    /// were given (Samba's `map to guest = bad password` does that for a wrong password).
    /// Default off: such a login fails as a logon failure. A guest session never signs or
    /// encrypts, and is refused whenever signing or encryption is required.
    pub allow_guest_fallback: bool,
    /// After the last connection of an established session is lost, keep trying to
    /// reconnect for this long before failing the operations that wait; `None` never
    /// reconnects (every pending operation fails at once, retryably). Default 60 s.
    pub reconnect_give_up: Option<Duration>,
    /// Delay before the second reconnect attempt (the first is immediate); doubles with every
    /// attempt, with up to 25 % jitter. Default 100 ms.
    pub reconnect_backoff: Duration,
    /// Largest delay between reconnect attempts. Default 5 s.
    pub reconnect_backoff_max: Duration,
    /// Where every signer and cipher of the session comes from. Default
    /// [`preferred_provider`](crate::crypto::preferred_provider): the fast `AwsLcProvider`
    /// with the `aws-lc` feature (on by default in the runtime adapters), else
    /// [`RustCryptoProvider`](crate::crypto::RustCryptoProvider). The provider only changes
    /// speed: every provider must give byte-identical signatures and ciphertexts.
    pub crypto_provider: Arc<dyn CryptoProvider + Send + Sync>,
    /// Channels (TCP connections) one session may use ([MS-SMB2] 3.2.4.2.3 binding). With
    /// more than 1, and a 3.x server that offers SMB2_GLOBAL_CAP_MULTI_CHANNEL, the client
    /// asks the server for its interfaces (FSCTL_QUERY_NETWORK_INTERFACE_INFO, after the
    /// first TREE_CONNECT) and binds extra channels to the addresses `channel_addrs`
    /// chooses; with 1, or a server that does not offer it, one connection is used. Default
    /// 4.
    pub max_channels: usize,
    /// Which addresses extra channels connect to, given the first connection's address and
    /// the interfaces the server reported (empty when it did not answer). Default
    /// [`multichannel::same_address`]: only the first connection's address, so nothing is
    /// ever connected that the caller did not name. See [`multichannel`] for others.
    pub channel_addrs: multichannel::AddrPolicy,
    /// Turns host names into addresses before connecting; `None` (the default) uses the
    /// system's resolver. A name that does not resolve fails the connect with
    /// [`CloseReason::NameNotResolved`](super::CloseReason::NameNotResolved), which is not
    /// retried.
    pub resolver: Option<Arc<dyn super::Resolver>>,
    /// Follow DFS referrals: on STATUS_PATH_NOT_COVERED from a share whose TREE_CONNECT
    /// response had SMB2_SHARE_CAP_DFS, ask for a referral (FSCTL_DFS_GET_REFERRALS) and
    /// open the path on the target share, connecting to the target server if it is another
    /// one. Default on; off makes such an open fail with the status STATUS_PATH_NOT_COVERED
    /// and the path in the error.
    pub follow_dfs: bool,
    /// Where the servers named by DFS referrals are reached (a referral names a host only).
    /// Default [`DfsResolver::default`]: the host itself on port 445.
    pub dfs_resolver: DfsResolver,
}

/// Address policies for extra channels ([`ClientConfig::channel_addrs`]).
pub mod multichannel {
    use super::ServerAddr;
    use crate::wire::ioctl::{NetworkInterfaceInfo, SockAddr};
    use alloc::format;
    use alloc::vec::Vec;

    /// Chooses the addresses for extra channels: the first connection's address and the
    /// interfaces the server reported. Channels go to the returned addresses in turn; an
    /// empty list means no extra channel.
    pub type AddrPolicy = fn(&ServerAddr, &[NetworkInterfaceInfo]) -> Vec<ServerAddr>;

    /// Every extra channel to the address of the first connection (multichannel to one
    /// IP, which servers accept; the reported interfaces are not used).
    pub fn same_address(first: &ServerAddr, _reported: &[NetworkInterfaceInfo]) -> Vec<ServerAddr> {
        Vec::from([first.clone()])
    }

    /// The reported interfaces that are loopback addresses (127.0.0.0/8, ::1), on the
    /// first connection's port; the first address when none is.
    pub fn loopback_only(first: &ServerAddr, reported: &[NetworkInterfaceInfo]) -> Vec<ServerAddr> {
        let v = reported_where(first, reported, |a| match a {
            SockAddr::V4 { addr, .. } => addr.is_loopback(),
            SockAddr::V6 { addr, .. } => addr.is_loopback(),
            _ => false,
        });
        if v.is_empty() {
            same_address(first, reported)
        } else {
            v
        }
    }

    /// The reported interfaces of the first connection's address family (IPv4 or IPv6,
    /// judged by the first address's host part), on its port; the first address when none
    /// is. This may connect to addresses the caller never named.
    pub fn same_family(first: &ServerAddr, reported: &[NetworkInterfaceInfo]) -> Vec<ServerAddr> {
        let v6 = first.host().contains(':');
        let v = reported_where(first, reported, |a| match a {
            SockAddr::V4 { .. } => !v6,
            SockAddr::V6 { .. } => v6,
            _ => false,
        });
        if v.is_empty() {
            same_address(first, reported)
        } else {
            v
        }
    }

    /// The reported addresses that pass `keep`, as `ip:port` with the first address's port
    /// (445 when it names none), without duplicates, in the server's order.
    pub fn reported_where(
        first: &ServerAddr,
        reported: &[NetworkInterfaceInfo],
        keep: impl Fn(&SockAddr) -> bool,
    ) -> Vec<ServerAddr> {
        let port = port_of(first);
        let mut out: Vec<ServerAddr> = Vec::new();
        for i in reported.iter().filter(|i| keep(&i.address)) {
            let a = match i.address {
                SockAddr::V4 { addr, .. } => ServerAddr(format!("{addr}:{port}")),
                SockAddr::V6 { addr, .. } => ServerAddr(format!("[{addr}]:{port}")),
                SockAddr::Other { .. } => continue,
            };
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    fn port_of(a: &ServerAddr) -> u16 {
        let s = a.0.as_str();
        let tail = match s.rsplit_once(']') {
            Some((_, t)) => t.strip_prefix(':'),
            None => s
                .rsplit_once(':')
                .filter(|(h, _)| !h.contains(':'))
                .map(|(_, p)| p),
        };
        tail.and_then(|p| p.parse().ok()).unwrap_or(445)
    }
}

/// Decides how the client answers lease and oplock break notifications. The client still
/// emits [`Event::LeaseBreak`] / [`Event::OplockBreak`] whatever the policy says.
///
/// The policy runs inside the client (no I/O, no blocking): flush dirty data first by
/// returning [`BreakAction::Defer`], then submit [`Request::LeaseBreakAck`] /
/// [`Request::OplockBreakAck`] once done.
pub trait BreakPolicy: Send + Sync {
    /// A lease break ([MS-SMB2] 2.2.23.2). Only called to decide an acknowledgment when the
    /// server set SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED (`b.ack_required`); otherwise it
    /// is informational and the return value is ignored.
    fn lease_break(&self, b: &LeaseBreak) -> BreakAction;
    /// An oplock break ([MS-SMB2] 2.2.23.1) of `file` to `level` (0 none, 1 level II).
    fn oplock_break(&self, file: FileHandle, level: u8) -> BreakAction;
}

impl core::fmt::Debug for dyn BreakPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("BreakPolicy")
    }
}

/// The answer of a [`BreakPolicy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakAction {
    /// Acknowledge now with this lease state (lease) or oplock level (oplock).
    Ack(u32),
    /// Send nothing now; the application acknowledges later with a request.
    Defer,
}

/// The default [`BreakPolicy`]: acknowledge exactly what the server asks for (the new lease
/// state; the new oplock level).
#[derive(Clone, Copy, Debug, Default)]
pub struct AckBreaks;

impl BreakPolicy for AckBreaks {
    fn lease_break(&self, b: &LeaseBreak) -> BreakAction {
        BreakAction::Ack(b.new)
    }
    fn oplock_break(&self, _file: FileHandle, level: u8) -> BreakAction {
        BreakAction::Ack(u32::from(level))
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            min_dialect: Dialect::Smb202,
            max_dialect: Dialect::Smb311,
            require_signing: false,
            sign_if_supported: true,
            require_encryption: false,
            request_encryption: false,
            ciphers: alloc::vec![
                Cipher::Aes128Gcm,
                Cipher::Aes256Gcm,
                Cipher::Aes128Ccm,
                Cipher::Aes256Ccm
            ],
            signing_algorithms: alloc::vec![
                SigningAlgorithm::AesGmac,
                SigningAlgorithm::AesCmac,
                SigningAlgorithm::HmacSha256
            ],
            client_guid: None,
            server_name: None,
            request_timeout: Duration::from_secs(60),
            echo_interval: Some(Duration::from_secs(60)),
            // 1 MiB pieces, several in flight: measured faster against Samba than 8 MiB
            // pieces (the server handles big reads less well; see the engine2 report).
            max_io_size: 1 << 20,
            credit_target: 512,
            max_queued_ops: 4096,
            max_engine_ops: 8192,
            event_capacity: 1024,
            max_buffered_bytes: 256 << 20,
            max_in_flight: 512,
            max_unconsumed_bytes: 64 << 20,
            request_durable: true,
            request_leases: true,
            lease_cache_ttl: Duration::from_secs(1),
            lease_cache_entries: 64,
            max_frame_len: (8 << 20) + 4096,
            validate_negotiate: true,
            unresponsive_timeout: Some(Duration::from_secs(120)),
            break_policy: Arc::new(AckBreaks),
            resolver: None,
            allow_guest_fallback: false,
            reconnect_give_up: Some(Duration::from_secs(60)),
            reconnect_backoff: Duration::from_millis(100),
            reconnect_backoff_max: Duration::from_secs(5),
            crypto_provider: crate::crypto::preferred_provider(),
            max_channels: 4,
            channel_addrs: multichannel::same_address,
            follow_dfs: true,
            dfs_resolver: DfsResolver::default(),
        }
    }
}

impl ClientConfig {
    /// Dialect range offered.
    pub fn with_dialects(mut self, min: Dialect, max: Dialect) -> Self {
        self.min_dialect = min;
        self.max_dialect = max;
        self
    }
    /// Require signing.
    pub fn with_require_signing(mut self, on: bool) -> Self {
        self.require_signing = on;
        self
    }
    /// Require encryption.
    pub fn with_require_encryption(mut self, on: bool) -> Self {
        self.require_encryption = on;
        self
    }
    /// Encrypt when the server supports it.
    pub fn with_request_encryption(mut self, on: bool) -> Self {
        self.request_encryption = on;
        self
    }
    /// Cipher preference list.
    pub fn with_ciphers(mut self, ciphers: Vec<Cipher>) -> Self {
        self.ciphers = ciphers;
        self
    }
    /// Signing algorithm preference list.
    pub fn with_signing_algorithms(mut self, algs: Vec<SigningAlgorithm>) -> Self {
        self.signing_algorithms = algs;
        self
    }
    /// Fixed ClientGuid.
    pub fn with_client_guid(mut self, guid: Guid) -> Self {
        self.client_guid = Some(guid);
        self
    }
    /// Follow DFS referrals (default on; see [`ClientConfig::follow_dfs`]).
    pub fn with_follow_dfs(mut self, on: bool) -> Self {
        self.follow_dfs = on;
        self
    }
    /// How DFS referral targets are reached (see [`ClientConfig::dfs_resolver`]).
    pub fn with_dfs_resolver(mut self, resolver: DfsResolver) -> Self {
        self.dfs_resolver = resolver;
        self
    }
    /// Server name for NETNAME and share paths.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }
    /// Per-request deadline (a `std::time::Duration` or the engine's own).
    pub fn with_request_timeout(mut self, d: impl Into<Duration>) -> Self {
        self.request_timeout = d.into();
        self
    }
    /// Idle ECHO interval (`None` disables).
    pub fn with_echo_interval(mut self, d: Option<core::time::Duration>) -> Self {
        self.echo_interval = d.map(Duration::from);
        self
    }
    /// Cap of one READ/WRITE piece.
    pub fn with_max_io_size(mut self, n: u32) -> Self {
        self.max_io_size = n.max(4096);
        self
    }
    /// Credit target per channel.
    pub fn with_credit_target(mut self, n: u16) -> Self {
        self.credit_target = n.max(1);
        self
    }
    /// Sign 3.1.1 sessions whenever the server supports it (see `sign_if_supported`).
    pub fn with_sign_if_supported(mut self, on: bool) -> Self {
        self.sign_if_supported = on;
        self
    }
    /// Operations the adapters' gate admits (see `max_queued_ops`). Raises
    /// `max_engine_ops` to twice this when it was lower, keeping the engine's headroom.
    pub fn with_max_queued_ops(mut self, n: usize) -> Self {
        self.max_queued_ops = n.max(1);
        self.max_engine_ops = self
            .max_engine_ops
            .max(self.max_queued_ops.saturating_mul(2));
        self
    }
    /// Bound of the engine's table of operations (see `max_engine_ops`; at least 1).
    pub fn with_max_engine_ops(mut self, n: usize) -> Self {
        self.max_engine_ops = n.max(1);
        self
    }
    /// Capacity of each event subscriber's channel (see `event_capacity`; at least 1).
    pub fn with_event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n.max(1);
        self
    }
    /// Limits of the backlog: payload bytes held by queued operations, requests in flight
    /// per connection, bytes a reader hands the driver unhandled (each at least 1).
    pub fn with_backlog_limits(
        mut self,
        bytes: usize,
        in_flight: usize,
        unconsumed: usize,
    ) -> Self {
        self.max_buffered_bytes = bytes.max(1);
        self.max_in_flight = in_flight.max(1);
        self.max_unconsumed_bytes = unconsumed.max(1);
        self
    }
    /// Durable handle v2 by default.
    pub fn with_durable_handles(mut self, on: bool) -> Self {
        self.request_durable = on;
        self
    }
    /// Leases by default.
    pub fn with_leases(mut self, on: bool) -> Self {
        self.request_leases = on;
        self
    }
    /// The lease cache: handles kept for `ttl` under a read-and-handle lease, at most
    /// `max_entries` paths (see `lease_cache_ttl`; a zero of either turns it off). Needs
    /// leases ([`ClientConfig::with_leases`]) and a server that grants them.
    pub fn with_lease_cache(mut self, ttl: impl Into<Duration>, max_entries: usize) -> Self {
        self.lease_cache_ttl = ttl.into();
        self.lease_cache_entries = max_entries;
        self
    }
    /// No lease cache: every `metadata`, `exists` and `read` asks the server.
    pub fn without_lease_cache(self) -> Self {
        self.with_lease_cache(Duration::ZERO, 0)
    }
    /// FSCTL_VALIDATE_NEGOTIATE_INFO after TREE_CONNECT on 3.0/3.0.2.
    pub fn with_validate_negotiate(mut self, on: bool) -> Self {
        self.validate_negotiate = on;
        self
    }
    /// The crypto provider building the session's signers and ciphers.
    pub fn with_crypto_provider(mut self, p: Arc<dyn CryptoProvider + Send + Sync>) -> Self {
        self.crypto_provider = p;
        self
    }
    /// Silence bound while requests are outstanding (`None` disables).
    pub fn with_unresponsive_timeout(mut self, d: Option<core::time::Duration>) -> Self {
        self.unresponsive_timeout = d.map(Duration::from);
        self
    }
    /// Resolve host names with `r` instead of the system's resolver (see `resolver`).
    pub fn with_resolver(mut self, r: Arc<dyn super::Resolver>) -> Self {
        self.resolver = Some(r);
        self
    }
    /// Replace the lease/oplock break policy.
    pub fn with_break_policy(mut self, p: Arc<dyn BreakPolicy>) -> Self {
        self.break_policy = p;
        self
    }
    /// Accept a guest session when credentials were refused (see `allow_guest_fallback`).
    pub fn with_allow_guest_fallback(mut self, on: bool) -> Self {
        self.allow_guest_fallback = on;
        self
    }
    /// How long to keep reconnecting (`None`: never reconnect).
    pub fn with_reconnect_give_up(mut self, d: Option<core::time::Duration>) -> Self {
        self.reconnect_give_up = d.map(Duration::from);
        self
    }
    /// Channels one session may use (see `max_channels`; at least 1).
    pub fn with_max_channels(mut self, n: usize) -> Self {
        self.max_channels = n.max(1);
        self
    }
    /// Where extra channels connect (see `channel_addrs`).
    pub fn with_channel_addrs(mut self, p: multichannel::AddrPolicy) -> Self {
        self.channel_addrs = p;
        self
    }
    /// Backoff between reconnect attempts: the first delay and the largest.
    pub fn with_reconnect_backoff(
        mut self,
        first: impl Into<Duration>,
        max: impl Into<Duration>,
    ) -> Self {
        self.reconnect_backoff = first.into();
        self.reconnect_backoff_max = max.into();
        self
    }
}

/// One byte-range lock element ([MS-SMB2] 2.2.26.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockRange {
    /// First byte.
    pub offset: u64,
    /// Length.
    pub length: u64,
    /// Flags: 1 shared, 2 exclusive, 4 unlock, 0x10 fail immediately.
    pub flags: u32,
}

/// An operation to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// Connect to `share` (the share name only, e.g. `"public"`; the client builds
    /// `\\server\share`). Completes with [`Response::TreeConnected`].
    TreeConnect {
        /// Share name.
        share: String,
    },
    /// Disconnect a tree.
    TreeDisconnect {
        /// The tree.
        tree: TreeId,
    },
    /// Open or create a file or directory. Completes with [`Response::Created`].
    Create {
        /// The tree.
        tree: TreeId,
        /// Path inside the share, `\`-separated, without leading separator.
        path: String,
        /// Options.
        options: OpenOptions,
    },
    /// Close a handle.
    Close {
        /// The handle ([`FileHandle::RELATED`] inside a compound).
        file: FileHandle,
    },
    /// Read `len` bytes at `offset` (any length: split and pipelined by the client).
    Read {
        /// The handle.
        file: FileHandle,
        /// Offset.
        offset: u64,
        /// Bytes wanted.
        len: u32,
    },
    /// Write `data` at `offset` (any length: split and pipelined by the client).
    Write {
        /// The handle.
        file: FileHandle,
        /// Offset.
        offset: u64,
        /// The bytes (sent without copy).
        data: Bytes,
    },
    /// Flush.
    Flush {
        /// The handle.
        file: FileHandle,
    },
    /// One page of a directory listing. Loop until [`Response::Directory`] has no entries
    /// (STATUS_NO_MORE_FILES is reported as an empty page, not an error).
    QueryDirectory {
        /// A directory handle.
        file: FileHandle,
        /// FileInformationClass (e.g. 0x25 FileIdBothDirectoryInformation).
        class: u8,
        /// Search pattern, `"*"` for all.
        pattern: String,
        /// Restart the scan from the beginning.
        restart: bool,
        /// OutputBufferLength (e.g. 64 KiB .. 1 MiB).
        output_len: u32,
    },
    /// QUERY_INFO; completes with [`Response::Info`] (raw buffer, decode with `wire::fscc`).
    QueryInfo {
        /// The handle.
        file: FileHandle,
        /// InfoType (1 file, 2 filesystem, 3 security, 4 quota).
        info_type: u8,
        /// FileInfoClass.
        class: u8,
        /// AdditionalInformation (security descriptors).
        additional: u32,
        /// OutputBufferLength.
        output_len: u32,
    },
    /// SET_INFO with a raw buffer.
    SetInfo {
        /// The handle.
        file: FileHandle,
        /// InfoType.
        info_type: u8,
        /// FileInfoClass.
        class: u8,
        /// AdditionalInformation.
        additional: u32,
        /// The encoded info structure.
        data: Bytes,
    },
    /// IOCTL/FSCTL.
    Ioctl {
        /// The tree.
        tree: TreeId,
        /// The handle, or `None` for FileId 0xFF..FF.
        file: Option<FileHandle>,
        /// CtlCode.
        ctl_code: u32,
        /// Input buffer.
        input: Bytes,
        /// MaxOutputResponse.
        max_output: u32,
        /// SMB2_0_IOCTL_IS_FSCTL.
        fsctl: bool,
    },
    /// Byte-range locks.
    Lock {
        /// The handle.
        file: FileHandle,
        /// The ranges.
        locks: Vec<LockRange>,
    },
    /// Wait for changes in a directory (no deadline; cancel to stop).
    ChangeNotify {
        /// A directory handle.
        file: FileHandle,
        /// CompletionFilter.
        filter: u32,
        /// Watch the subtree.
        recursive: bool,
        /// OutputBufferLength.
        output_len: u32,
    },
    /// ECHO.
    Echo,
    /// LOGOFF (the session ends; use `shutdown` to end the client).
    Logoff,
    /// Several requests in one frame. A request that names [`FileHandle::RELATED`] uses the
    /// file of the preceding CREATE of the chain and is sent as a related operation.
    Compound(Vec<Request>),
    /// Acknowledge a lease break deferred by the [`BreakPolicy`] ([MS-SMB2] 2.2.24.2).
    /// Completes with [`Response::BreakAcked`].
    LeaseBreakAck {
        /// The lease key (from [`LeaseBreak::lease_key`]).
        lease_key: [u8; 16],
        /// The lease state kept (at most the state the server asked for).
        state: u32,
    },
    /// Acknowledge an oplock break deferred by the [`BreakPolicy`] ([MS-SMB2] 2.2.24.1).
    /// Completes with [`Response::BreakAcked`].
    OplockBreakAck {
        /// The handle.
        file: FileHandle,
        /// The oplock level kept.
        level: u8,
    },
    /// Answered by the adapters' driver, never sent: the lease cache of the share
    /// operations (see `smb_core::driver::LeaseCache`). Completes with
    /// [`Response::LeaseCache`]; the engine alone refuses it.
    LeaseCache(crate::driver::LeaseCacheOp),
}

impl Request {
    /// A short name of the request kind, for logs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::TreeConnect { .. } => "TreeConnect",
            Request::TreeDisconnect { .. } => "TreeDisconnect",
            Request::Create { .. } => "Create",
            Request::Close { .. } => "Close",
            Request::Read { .. } => "Read",
            Request::Write { .. } => "Write",
            Request::Flush { .. } => "Flush",
            Request::QueryDirectory { .. } => "QueryDirectory",
            Request::QueryInfo { .. } => "QueryInfo",
            Request::SetInfo { .. } => "SetInfo",
            Request::Ioctl { .. } => "Ioctl",
            Request::Lock { .. } => "Lock",
            Request::ChangeNotify { .. } => "ChangeNotify",
            Request::Echo => "Echo",
            Request::Logoff => "Logoff",
            Request::Compound(_) => "Compound",
            Request::LeaseBreakAck { .. } => "LeaseBreakAck",
            Request::OplockBreakAck { .. } => "OplockBreakAck",
            Request::LeaseCache(_) => "LeaseCache",
        }
    }
}

impl FileHandle {
    /// Inside a [`Request::Compound`]: the file opened by the previous CREATE of the chain.
    pub const RELATED: FileHandle = FileHandle(u32::MAX);
}

/// Times and sizes returned by CREATE and CLOSE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileAttributes {
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndOfFile (size).
    pub end_of_file: u64,
    /// FileAttributes (0x10 = directory).
    pub attributes: u32,
}

impl FileAttributes {
    /// FILE_ATTRIBUTE_DIRECTORY set.
    pub fn is_directory(&self) -> bool {
        self.attributes & 0x10 != 0
    }
}

/// One entry of a directory page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// File name.
    pub name: String,
    /// Times, sizes and attributes.
    pub attributes: FileAttributes,
    /// FileId (0 when the class has none).
    pub file_id: u64,
}

/// The result of an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// `connect` finished: the session is established.
    Connected {
        /// The dialect negotiated.
        dialect: Dialect,
        /// Whether requests are signed.
        signing: bool,
        /// Whether the session encrypts everything.
        encryption: bool,
        /// The session is a guest session.
        guest: bool,
        /// The session is anonymous.
        anonymous: bool,
        /// The server's GUID.
        server_guid: Guid,
        /// The signing algorithm in use (`None` when nothing is signed).
        signing_algorithm: Option<SigningAlgorithm>,
        /// The cipher negotiated (3.x; `None` when none was).
        cipher: Option<Cipher>,
        /// The server's capabilities from NEGOTIATE (SMB2_GLOBAL_CAP_*).
        capabilities: u32,
    },
    /// A tree was connected.
    TreeConnected {
        /// The handle.
        tree: TreeId,
        /// ShareType (1 disk, 2 pipe, 3 print).
        share_type: u8,
        /// ShareFlags.
        share_flags: u32,
        /// Capabilities.
        capabilities: u32,
        /// MaximalAccess.
        maximal_access: u32,
        /// Traffic on this tree is encrypted.
        encrypted: bool,
    },
    /// The tree was disconnected.
    TreeDisconnected,
    /// A file or directory was opened.
    Created {
        /// The handle.
        file: FileHandle,
        /// CreateAction (0 superseded, 1 opened, 2 created, 3 overwritten).
        create_action: u32,
        /// Times, sizes, attributes.
        attributes: FileAttributes,
        /// A durable handle was granted.
        durable: bool,
        /// The lease state granted (0 = none).
        lease_state: u32,
    },
    /// Closed.
    Closed,
    /// Data read: slices of the received frames, in order. `eof` when the file ended
    /// before `len` bytes. On a named pipe a READ returns at most one message and `eof`
    /// means that message ended (false: STATUS_BUFFER_OVERFLOW, READ again for the rest).
    Read {
        /// The data.
        data: Vec<Bytes>,
        /// End of file reached.
        eof: bool,
    },
    /// Bytes written.
    Written {
        /// Count.
        count: u64,
    },
    /// Flushed.
    Flushed,
    /// A directory page (empty when the listing is done).
    Directory {
        /// The raw page (OutputBuffer).
        page: Bytes,
        /// The decoded entries.
        entries: Vec<DirEntry>,
    },
    /// A QUERY_INFO result (OutputBuffer, raw).
    Info {
        /// The buffer.
        data: Bytes,
    },
    /// SET_INFO done.
    InfoSet,
    /// IOCTL result.
    Ioctl {
        /// The output buffer.
        output: Bytes,
        /// STATUS_BUFFER_OVERFLOW: the output was cut at MaxOutputResponse ([MS-SMB2]
        /// 3.3.5.15). On a named pipe the rest of the message is read with READ
        /// ([MS-SMB2] 3.2.4.20.x, FSCTL_PIPE_TRANSCEIVE).
        more: bool,
    },
    /// Locks granted / released.
    Locked,
    /// Changes (FILE_NOTIFY_INFORMATION chain, raw; empty with `STATUS_NOTIFY_ENUM_DIR`).
    Notify {
        /// The raw buffer.
        data: Bytes,
        /// The status (SUCCESS or NOTIFY_ENUM_DIR).
        status: NtStatus,
    },
    /// ECHO answered.
    Echo,
    /// Logged off.
    LoggedOff,
    /// One result per request of the compound, in order.
    Compound(Vec<Result<Response, OpError>>),
    /// The server accepted a lease/oplock break acknowledgment.
    BreakAcked {
        /// The state granted: the lease state, or the oplock level.
        state: u32,
    },
    /// The driver's answer to a [`Request::LeaseCache`].
    LeaseCache(crate::driver::LeaseCacheAnswer),
}

/// A lease break notification ([MS-SMB2] 2.2.23.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseBreak {
    /// The handles opened with this lease key.
    pub files: Vec<FileHandle>,
    /// The lease key.
    pub lease_key: [u8; 16],
    /// Current lease state.
    pub current: u32,
    /// New lease state the server wants.
    pub new: u32,
    /// The server waits for an acknowledgment.
    pub ack_required: bool,
}

/// Something that happened, not tied to one operation's completion.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A state machine changed status.
    Transition {
        /// What changed.
        object: crate::state::ObjectRef,
        /// Before.
        from: crate::state::AnyState,
        /// After.
        to: crate::state::AnyState,
        /// When (the time given with the input that caused it).
        at: crate::time::Instant,
        /// How long the object had been in `from`.
        after: Duration,
    },
    /// The recovery of a lost session progressed.
    Recovery(RecoveryEvent),
    /// The engine attempted a transition its tables refuse (a bug; reported, not hidden).
    IllegalTransition(crate::state::IllegalTransition),
    /// The server breaks a lease (acknowledged by the client's break policy).
    LeaseBreak(LeaseBreak),
    /// The server breaks an oplock.
    OplockBreak {
        /// The handle.
        file: FileHandle,
        /// The new oplock level.
        level: u8,
    },
    /// A channel failed (it is closed; see [`ChannelError`]).
    ChannelFailed {
        /// The channel.
        channel: ChannelId,
        /// Why.
        error: ChannelError,
    },
    /// An extra channel was bound to the session (SESSION_SETUP with
    /// SMB2_SESSION_FLAG_BINDING succeeded) and carries requests from now on.
    ChannelBound {
        /// The channel.
        channel: ChannelId,
    },
    /// The session failed.
    SessionFailed(SessionError),
    /// A message from the server was dropped (unknown MessageId, duplicate...).
    Dropped {
        /// The channel.
        channel: ChannelId,
        /// Its MessageId.
        message_id: u64,
    },
    /// Not from the engine: a subscriber's channel was full and dropped its `missed` oldest
    /// events to make room (see `ClientConfig::event_capacity`). Delivered in their place,
    /// before the events that were kept.
    Lagged {
        /// Events dropped since the previous event this subscriber received.
        missed: u64,
    },
}

/// How the recovery of a lost session goes (see `ClientConfig::reconnect_give_up`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryEvent {
    /// The session's last connection was lost: reconnecting starts.
    Started {
        /// Why the connection was lost.
        cause: ChannelError,
    },
    /// A new connection is being opened (attempt `attempt` of this recovery).
    Attempt {
        /// 1 for the first.
        attempt: u32,
    },
    /// The session is back: operations that waited proceed.
    Restored {
        /// How long the recovery took.
        after: Duration,
        /// Connection attempts it took.
        attempts: u32,
    },
    /// The recovery gave up: waiting operations failed; the next request tries again.
    GaveUp {
        /// How long it tried.
        after: Duration,
        /// Connection attempts.
        attempts: u32,
    },
}

/// What the client asks of its adapter. Drain with `poll_output` until `Timeout`. The enum is
/// exhaustive on purpose: an adapter must handle every variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Write this frame to the channel's socket.
    Transmit {
        /// The channel.
        channel: ChannelId,
        /// The bytes (prefix included).
        frame: Frame,
    },
    /// Open a TCP connection to `addr` for `channel`, then call `handle_connected` (or
    /// `handle_closed` if it fails).
    Connect {
        /// The channel.
        channel: ChannelId,
        /// Where.
        addr: ServerAddr,
    },
    /// Close the channel's socket (no `handle_closed` needed afterwards).
    Close {
        /// The channel.
        channel: ChannelId,
    },
    /// An operation finished.
    Completed {
        /// The operation.
        op: OpId,
        /// Its result.
        result: Result<Response, OpError>,
    },
    /// An event.
    Event(Event),
    /// Nothing more to do now: call `handle_timeout` at this instant (or earlier if input
    /// arrives). `None`: no deadline.
    Timeout(Option<crate::time::Instant>),
}

/// Counters of one channel ([`Client::channel_stats`](super::Client::channel_stats)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelStats {
    /// The channel.
    pub channel: ChannelId,
    /// Its status.
    pub state: crate::state::ChannelState,
    /// An extra channel bound to the session (not the one the session was set up on).
    pub bound: bool,
    /// Bytes handed to the adapter for this channel (prefixes included).
    pub bytes_sent: u64,
    /// Bytes received on it.
    pub bytes_received: u64,
    /// Requests sent on it (compound members counted).
    pub requests_sent: u64,
    /// Credits free now.
    pub credits: u32,
    /// Requests waiting for an answer on it.
    pub in_flight: usize,
}

/// Counters for diagnostics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Responses whose MessageId matched no request (dropped).
    pub unknown_responses: u64,
    /// Frames or messages that could not be decoded.
    pub malformed: u64,
    /// Requests sent (messages, compound members counted).
    pub requests_sent: u64,
    /// Responses received (interim included).
    pub responses_received: u64,
    /// Interim STATUS_PENDING responses received.
    pub interim_responses: u64,
    /// Frames sent encrypted.
    pub encrypted_sent: u64,
    /// Messages sent signed.
    pub signed_sent: u64,
    /// FSCTL_VALIDATE_NEGOTIATE_INFO exchanges that the server answered and that matched.
    pub negotiate_validations: u64,
    /// Handles closed by the client because their CREATE succeeded after nobody waited for
    /// it any more (cancelled or timed out), so they do not stay open on the server.
    pub orphaned_opens_closed: u64,
    /// Inputs (bytes, frames, closes) for channels that are gone: dropped.
    pub stale_inputs: u64,
    /// Sessions brought back after every connection was lost.
    pub reconnects: u64,
    /// Messages sent again after a lost connection.
    pub replayed: u64,
    /// Durable handles reclaimed after a reconnect.
    pub reopened: u64,
    /// Opens that could not be reclaimed (not durable, or refused by the server).
    pub opens_lost: u64,
    /// TREE_CONNECT exchanges that succeeded.
    pub tree_connects: u64,
    /// Transitions the state tables refused (engine bugs; 0 in a correct run).
    pub illegal_transitions: u64,
    /// Signed responses whose signature was checked and found right.
    pub verified_responses: u64,
    /// Extra channels bound to the session (binding SESSION_SETUP succeeded).
    pub channels_bound: u64,
    /// Binding attempts that failed (the channel was dropped; the session stayed).
    pub bind_failures: u64,
}

#[cfg(test)]
mod tests {
    use super::ClientConfig;
    use crate::time::Duration;

    #[test]
    fn timeouts_accept_core_time_durations() {
        let std_like = core::time::Duration::from_millis;
        let c = ClientConfig::default()
            .with_request_timeout(std_like(1500))
            .with_echo_interval(Some(std_like(250)))
            .with_unresponsive_timeout(None)
            .with_reconnect_give_up(Some(core::time::Duration::from_secs(7)))
            .with_reconnect_backoff(std_like(10), Duration::from_secs(2));
        assert_eq!(c.request_timeout, Duration::from_millis(1500));
        assert_eq!(c.echo_interval, Some(Duration::from_millis(250)));
        assert_eq!(c.unresponsive_timeout, None);
        assert_eq!(c.reconnect_give_up, Some(Duration::from_secs(7)));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(10));
        assert_eq!(c.reconnect_backoff_max, Duration::from_secs(2));
        // A span too long for the engine's u64 nanoseconds saturates instead of wrapping.
        let c = ClientConfig::default().with_request_timeout(core::time::Duration::MAX);
        assert_eq!(c.request_timeout, Duration::from_nanos(u64::MAX));
        // And the field values convert back for a user who reads them.
        let back: core::time::Duration = c.request_timeout.into();
        assert_eq!(back, core::time::Duration::from_nanos(u64::MAX));
    }
}
