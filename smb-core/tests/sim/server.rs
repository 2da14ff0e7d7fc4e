//! The scripted in-memory SMB2/3 server of the simulations.
//!
//! It uses the crate's own codec (Encode of responses, Decode of requests), the crypto
//! module (same key derivation, signing and encryption as the client) and the auth module's
//! test NTLM acceptor, so signatures and encryption are real on both sides. It serves several
//! connections at once (one per client channel), each with its own framing, credit window
//! and pre-auth integrity hash, over one shared session, tree and open table, so a
//! reconnect (a new connection, SESSION_SETUP with PreviousSessionId, TREE_CONNECT again,
//! durable reopen) plays out as against a real server.

use bytes::Bytes;
use smb_core::auth::NtlmCredentials;
use smb_core::auth::spnego::OID_NTLMSSP;
use smb_core::auth::testing::{Accept, NtlmAcceptor, negotiate_hint};
use smb_core::client::{ChannelId, Cipher, Dialect, SigningAlgorithm};
use smb_core::crypto::{
    Cipher as Aead, CipherId, PreauthHash, SessionKeys, Signer, default_provider,
};
use smb_core::wire::close::{CloseFlags, CloseRequest, CloseResponse};
use smb_core::wire::compound::split_chain;
use smb_core::wire::create::{
    CreateAction, CreateRequest, CreateResponse, CreateResponseFlags, FileAttributes as WA,
    OplockLevel,
};
use smb_core::wire::create_context::{
    CreateContext, DurableHandleReconnect, DurableHandleReconnectV2, DurableHandleRequest,
    DurableHandleRequestV2, DurableHandleResponse, DurableHandleResponseV2, find,
};
use smb_core::wire::framing::{self, FrameReader};
use smb_core::wire::header::HeaderId;
use smb_core::wire::ioctl::{
    IoctlData, IoctlRequest, IoctlResponse, ValidateNegotiateInfoRequest,
    ValidateNegotiateInfoResponse, fsctl,
};
use smb_core::wire::negotiate::*;
use smb_core::wire::oplock_break::OplockBreakMessage;
use smb_core::wire::read::{ReadRequest, ReadResponse};
use smb_core::wire::session_setup::*;
use smb_core::wire::transform::{ProtocolKind, TRANSFORM_HEADER_LEN, TransformHeader, classify};
use smb_core::wire::tree_connect::*;
use smb_core::wire::write::{WriteRequest, WriteResponse};
use smb_core::wire::{Command, Decode, Encode, FileId, Guid, Header, HeaderFlags, NtStatus};
use std::collections::{BTreeMap, VecDeque};

mod create;
mod session_setup;

pub const USER: &str = "alice";
pub const PASS: &str = "Secret123";

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub dialect: Dialect,
    pub cipher: Option<Cipher>,
    pub signing: Option<SigningAlgorithm>,
    pub require_signing: bool,
    pub encrypt_session: bool,
    pub encrypt_share: bool,
    pub max_read: u32,
    pub max_write: u32,
    /// Largest grant per response.
    pub grant_cap: u16,
    /// Answer READ/WRITE first with STATUS_PENDING (carrying the credits), then the final
    /// response with 0 credits (Samba's behaviour, peer-lessons #2).
    pub pending_io: bool,
    pub allow_guest: bool,
    /// Answer FSCTL_VALIDATE_NEGOTIATE_INFO with a tampered dialect (a downgrade).
    pub validate_tamper: bool,
    /// Answer FSCTL_VALIDATE_NEGOTIATE_INFO with this error status instead.
    pub validate_status: Option<NtStatus>,
    /// Answer FSCTL_VALIDATE_NEGOTIATE_INFO unsigned.
    pub validate_unsigned: bool,
    /// Shares that exist (TREE_CONNECT of another name fails with BAD_NETWORK_NAME).
    pub shares: Vec<String>,
    /// Grant durable handles (DH2Q / DHnQ) and keep them across a lost connection.
    pub durable: bool,
    /// Offer SMB2_GLOBAL_CAP_MULTI_CHANNEL and accept binding SESSION_SETUPs.
    pub multichannel: bool,
    /// Refuse binding SESSION_SETUPs with this status.
    pub refuse_binding: Option<NtStatus>,
    /// Answer this many WRITEs with STATUS_FILE_NOT_AVAILABLE first (what a server says
    /// while requests of an older ChannelSequence are outstanding, [MS-SMB2] 3.3.5.2.10).
    pub not_available_writes: u32,
    /// Grant every lease asked for (the state requested), echoing the lease context.
    pub grant_leases: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            dialect: Dialect::Smb311,
            cipher: Some(Cipher::Aes128Gcm),
            signing: Some(SigningAlgorithm::AesGmac),
            require_signing: false,
            encrypt_session: false,
            encrypt_share: false,
            max_read: 1 << 20,
            max_write: 1 << 20,
            grant_cap: 512,
            pending_io: false,
            allow_guest: false,
            validate_tamper: false,
            validate_status: None,
            validate_unsigned: false,
            shares: vec!["share".into(), "a".into(), "b".into()],
            durable: true,
            multichannel: false,
            refuse_binding: None,
            not_available_writes: 0,
            grant_leases: false,
        }
    }
}

pub struct OpenFile {
    pub name: String,
    /// The session that holds the open (0: disconnected, waiting for a durable reconnect).
    pub session: u64,
    /// DH2Q CreateGuid, or `Guid::ZERO` for a v1 durable handle; `None`: not durable.
    pub durable: Option<Guid>,
    pub persistent: u64,
}

/// One TCP connection's server-side state.
struct Conn {
    reader: FrameReader,
    preauth: PreauthHash,
    session_preauth: PreauthHash,
    acceptor: Option<NtlmAcceptor>,
    /// The exchange in progress re-authenticates the live session (keys are kept).
    reauth: bool,
    /// Highest MessageId + charge seen vs. credits granted (window check).
    granted: u64,
    dialect_done: bool,
    /// The exchange in progress binds the session to this connection.
    binding: bool,
    /// Channel.SigningKey of a bound connection (else the session's key signs).
    signer: Option<Signer>,
}

pub type Script = Box<dyn FnMut(&Header, &[u8]) -> Option<Vec<(Header, Vec<u8>)>>>;

/// What a forging hook does with a response before it is signed or encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    /// Sign or encrypt it as usual (after the hook's edits).
    Normal,
    /// Send it as it is now: no signature, no encryption (a forged plaintext answer).
    Plain,
    /// Encrypt it with the session's key, unsigned, whatever the request was (a server that
    /// encrypts an answer to a signed request).
    Sealed,
}

/// A forging hook: the response header and the whole message (header + body), editable.
pub type ForgeHook = Box<dyn FnMut(&Header, &mut Vec<u8>) -> Forge>;

/// A response header for request `h` (the hook's helper): SERVER_TO_REDIR, the status, the
/// credits asked for (at least 1).
pub fn reply(h: &Header, status: NtStatus) -> Header {
    let mut r = *h;
    r.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR);
    r.status = status;
    r.credits = h.credits.max(1);
    r.next_command = 0;
    r.signature = [0; 16];
    r
}

/// Encode a body alone (without the header) for a hook reply.
pub fn body<B: Encode>(b: &B) -> Vec<u8> {
    let mut v = vec![0u8; 64];
    b.encode(&mut v);
    v.split_off(64)
}

/// The ERROR response body.
pub fn error_body() -> Vec<u8> {
    vec![9, 0, 0, 0, 0, 0, 0, 0, 0]
}

pub struct Server {
    pub cfg: ServerConfig,
    /// Every WRITE received: (offset, REPLAY_OPERATION set).
    pub writes: Vec<(u64, bool)>,
    conns: BTreeMap<ChannelId, Conn>,
    /// The connection whose request is being answered (or the newest one).
    pub current: ChannelId,
    pub session_id: u64,
    next_session: u64,
    signer: Option<Signer>,
    enc: Option<Aead>,
    dec: Option<Aead>,
    nonce: u64,
    guest: bool,
    pub files: BTreeMap<String, Vec<u8>>,
    /// Open handles by volatile id.
    pub opens: BTreeMap<u64, OpenFile>,
    next_fid: u64,
    /// Frames to deliver to the client, with their connection.
    pub outbox: VecDeque<(ChannelId, Vec<u8>)>,
    /// Requests seen, by command.
    pub seen: Vec<Command>,
    /// Requests that arrived signed / encrypted.
    pub signed_requests: usize,
    pub encrypted_requests: usize,
    pub bad_client_signatures: usize,
    pub window_violations: usize,
    /// Responses held back (for out-of-order tests): when set, responses are queued here.
    pub hold: bool,
    pub held: Vec<(ChannelId, Vec<u8>)>,
    /// Test hook: answers a request instead of the built-in handler when it returns Some.
    /// Credits of the returned headers are counted as granted.
    pub script: Option<Script>,
    /// Test hook: edits (or strips the protection of) responses before they are protected.
    pub forge: Option<ForgeHook>,
    /// Requests whose CreditCharge does not cover their payload ([MS-SMB2] 3.3.5.2.5), or
    /// that are charged more than one credit though only READ, WRITE, IOCTL and
    /// QUERY_DIRECTORY may be (3.2.4.1.5).
    pub charge_violations: Vec<Header>,
    /// Wire TreeId per share name.
    pub tree_ids: BTreeMap<String, u32>,
    /// (TreeId, name) of every CREATE.
    pub creates: Vec<(u32, String)>,
    /// Every request header seen (compound members included), with its connection.
    pub headers: Vec<Header>,
    pub log: Vec<(ChannelId, Header)>,
    /// Negotiated values (for VALIDATE_NEGOTIATE_INFO).
    neg_caps: u32,
    neg_mode: u16,
    /// Validate requests received: (dialects, capabilities, security mode).
    pub validates: Vec<ValidateNegotiateInfoRequest>,
    /// OPLOCK_BREAK acknowledgments received (lease key or FileId.volatile, state/level).
    pub break_acks: Vec<(u128, u32)>,
    /// Leases granted: the path and the lease key.
    pub leases: Vec<(String, u128)>,
    /// Durable reconnects (DH2C/DHnC) that found their open.
    pub reclaimed: usize,
    /// Answer this many durable reconnects "not found" first (a server still tearing the
    /// old connection down, as Samba does for a moment).
    pub refuse_reclaims: usize,
    /// Paths a CREATE answers with STATUS_STOPPED_ON_SYMLINK, with these bytes as ErrorData
    /// (a symbolic link error response, [MS-SMB2] 2.2.2.2.1, or garbage).
    pub symlinks: Vec<(String, Vec<u8>)>,
    /// PreviousSessionId of every new-session SESSION_SETUP.
    pub previous_session_ids: Vec<u64>,
    /// Binding SESSION_SETUP requests: (connection, signed with the session's key).
    pub bind_requests: Vec<(ChannelId, bool)>,
    /// Connections bound to the session.
    pub bound: Vec<ChannelId>,
    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO requests.
    pub interface_queries: usize,
}

impl Server {
    pub fn new(cfg: ServerConfig) -> Server {
        Server {
            cfg,
            conns: BTreeMap::new(),
            current: ChannelId(0),
            session_id: 0,
            next_session: 0x1122_3344_0000_0001,
            signer: None,
            enc: None,
            dec: None,
            nonce: 0,
            guest: false,
            files: BTreeMap::new(),
            opens: BTreeMap::new(),
            next_fid: 100,
            outbox: VecDeque::new(),
            seen: Vec::new(),
            signed_requests: 0,
            encrypted_requests: 0,
            bad_client_signatures: 0,
            window_violations: 0,
            hold: false,
            held: Vec::new(),
            script: None,
            forge: None,
            charge_violations: Vec::new(),
            writes: Vec::new(),
            tree_ids: BTreeMap::new(),
            creates: Vec::new(),
            headers: Vec::new(),
            log: Vec::new(),
            neg_caps: 0,
            neg_mode: 0,
            validates: Vec::new(),
            break_acks: Vec::new(),
            leases: Vec::new(),
            reclaimed: 0,
            refuse_reclaims: 0,
            symlinks: Vec::new(),
            previous_session_ids: Vec::new(),
            bind_requests: Vec::new(),
            bound: Vec::new(),
            interface_queries: 0,
        }
    }

    /// The key that signs on connection `ch`: its own once bound, else the session's.
    fn signer_on(&self, ch: ChannelId) -> Option<&Signer> {
        self.conns
            .get(&ch)
            .and_then(|c| c.signer.as_ref())
            .or(self.signer.as_ref())
    }

    fn acceptor(&self) -> NtlmAcceptor {
        let mut a = NtlmAcceptor::new(
            NtlmCredentials::password("", USER, PASS),
            [1, 2, 3, 4, 5, 6, 7, 8],
            Some(0x01d9_0000_0000_0000),
        );
        a.allow_guest = self.cfg.allow_guest;
        a
    }

    /// A new TCP connection from the client.
    pub fn connect(&mut self, ch: ChannelId) {
        self.conns.insert(
            ch,
            Conn {
                reader: FrameReader::new(framing::MAX_FRAME_LEN),
                preauth: PreauthHash::new(),
                session_preauth: PreauthHash::new(),
                acceptor: None,
                reauth: false,
                granted: 1,
                dialect_done: false,
                binding: false,
                signer: None,
            },
        );
        self.current = ch;
    }

    /// Whether connection `ch` is up.
    pub fn is_connected(&self, ch: ChannelId) -> bool {
        self.conns.contains_key(&ch)
    }

    /// The live connections.
    pub fn connections(&self) -> Vec<ChannelId> {
        self.conns.keys().copied().collect()
    }

    /// Connection `ch` is gone: frames still queued for it are lost. When the session has no
    /// connection left, its opens are closed, except durable ones, which wait for a reconnect.
    pub fn disconnect(&mut self, ch: ChannelId) {
        self.conns.remove(&ch);
        self.outbox.retain(|(c, _)| *c != ch);
        self.held.retain(|(c, _)| *c != ch);
        if self.conns.is_empty() {
            let sid = self.session_id;
            self.opens
                .retain(|_, o| o.session != sid || o.durable.is_some());
            for o in self.opens.values_mut() {
                if o.session == sid {
                    o.session = 0;
                }
            }
        }
        if let Some(c) = self.conns.keys().next_back() {
            self.current = *c;
        }
    }

    /// Requests of `command` seen on connection `ch`.
    pub fn count_on(&self, ch: ChannelId, command: Command) -> usize {
        self.log
            .iter()
            .filter(|(c, h)| *c == ch && h.command == command)
            .count()
    }

    /// Requests of `command` seen on any connection.
    pub fn count(&self, command: Command) -> usize {
        self.seen.iter().filter(|c| **c == command).count()
    }

    pub fn input(&mut self, ch: ChannelId, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(&ch) else {
            return;
        };
        c.reader.push(bytes);
        loop {
            let Some(c) = self.conns.get_mut(&ch) else {
                return;
            };
            let Some(frame) = c.reader.next_frame().expect("client framing") else {
                return;
            };
            self.current = ch;
            self.frame(ch, frame);
        }
    }

    fn frame(&mut self, ch: ChannelId, frame: Bytes) {
        let (plain, encrypted) = match classify(&frame).expect("client protocol id") {
            ProtocolKind::Transform => {
                self.encrypted_requests += 1;
                let dec = self.dec.as_ref().expect("server has a decryption key");
                let mut buf = frame.to_vec();
                let (h, body) = buf.split_at_mut(TRANSFORM_HEADER_LEN);
                dec.open(h, body).expect("client encryption verifies");
                (Bytes::from(buf).slice(TRANSFORM_HEADER_LEN..), true)
            }
            ProtocolKind::Smb2 => (frame, false),
            k => panic!("unexpected {k:?}"),
        };
        let ranges = split_chain(&plain).expect("chain");
        let mut replies = Vec::new();
        let mut last_fid = FileId::default();
        for r in ranges {
            let msg = plain.slice(r);
            let hdr = Header::decode(&msg).unwrap();
            self.seen.push(hdr.command);
            self.headers.push(hdr);
            self.log.push((ch, hdr));
            self.check_charge(&hdr, &msg);
            if hdr.command != Command::Cancel {
                let charge = u64::from(hdr.credit_charge.max(1));
                if let Some(c) = self.conns.get(&ch) {
                    if hdr.message_id + charge > c.granted {
                        self.window_violations += 1;
                    }
                }
            }
            if hdr.flags.has(HeaderFlags::SIGNED) {
                self.signed_requests += 1;
                if let Some(s) = self.signer_on(ch) {
                    if s.verify(&msg).is_err() {
                        self.bad_client_signatures += 1;
                    }
                }
            }
            let scripted = match self.script.as_mut() {
                Some(f) => f(&hdr, &msg),
                None => None,
            };
            if let Some(v) = &scripted {
                let granted: u64 = v.iter().map(|(rh, _)| u64::from(rh.credits)).sum();
                if let Some(c) = self.conns.get_mut(&ch) {
                    c.granted += granted;
                }
            }
            let reply = match scripted {
                Some(v) => Some(v),
                None => self.request(ch, &hdr, &msg, &mut last_fid),
            };
            if let Some(reply) = reply {
                for (rh, body) in reply {
                    replies.push((rh, body, hdr.flags.has(HeaderFlags::SIGNED)));
                }
            }
        }
        for (h, body, req_signed) in replies {
            self.send(h, body, encrypted, req_signed);
        }
    }

    /// [MS-SMB2] 3.2.4.1.5 / 3.3.5.2.5: READ, WRITE, IOCTL and QUERY_DIRECTORY are charged
    /// for their payload; everything else one credit.
    fn check_charge(&mut self, h: &Header, msg: &[u8]) {
        use smb_core::wire::query_directory::QueryDirectoryRequest;
        let payload = match h.command {
            Command::Read => ReadRequest::decode(msg).map(|r| u64::from(r.length)).ok(),
            Command::Write => WriteRequest::decode(msg).map(|r| r.data.len() as u64).ok(),
            Command::Ioctl => IoctlRequest::decode(msg)
                .map(|r| (r.input.len() as u64).max(u64::from(r.max_output_response)))
                .ok(),
            Command::QueryDirectory => QueryDirectoryRequest::decode(msg)
                .map(|r| u64::from(r.output_buffer_length))
                .ok(),
            Command::Cancel => return,
            _ => None,
        };
        let charge = u64::from(h.credit_charge.max(1));
        let bad = match payload {
            Some(p) => charge < p.saturating_sub(1) / 65536 + 1,
            None => charge != 1,
        };
        if bad {
            self.charge_violations.push(*h);
        }
    }

    fn grant(&mut self, h: &Header) -> u16 {
        let g = h.credits.max(1).min(self.cfg.grant_cap);
        if let Some(c) = self.conns.get_mut(&self.current) {
            c.granted += u64::from(g);
        }
        g
    }

    /// Build a response header for request `h`.
    fn resp(&mut self, h: &Header, status: NtStatus) -> Header {
        let mut r = *h;
        r.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR);
        r.status = status;
        r.credits = self.grant(h);
        r.next_command = 0;
        r.signature = [0; 16];
        r
    }

    /// Queue a response on the current connection (signed or encrypted as the session
    /// wants).
    pub fn send(&mut self, h: Header, body: Vec<u8>, encrypt: bool, req_signed: bool) {
        let mut msg = Vec::new();
        h.encode(&mut msg);
        msg.extend_from_slice(&body);
        if self.forged(&h, &mut msg) {
            return;
        }
        let sign = !encrypt
            && h.session_id != 0
            && h.command != Command::Negotiate
            // SESSION_SETUP legs have no key yet (a binding's are signed where they are built).
            && h.command != Command::SessionSetup
            && (req_signed || self.cfg.require_signing)
            && h.status != NtStatus::PENDING;
        if sign {
            if let Some(s) = self.signer_on(self.current) {
                s.sign(&mut msg).unwrap();
            }
        }
        let frame = if encrypt {
            self.seal(&msg)
        } else {
            framing::frame(&msg).unwrap()
        };
        self.push(frame);
    }

    /// Run the forging hook; true when it took the message over (sent it plain).
    fn forged(&mut self, h: &Header, msg: &mut Vec<u8>) -> bool {
        let Some(f) = self.forge.as_mut() else {
            return false;
        };
        match f(h, msg) {
            Forge::Normal => false,
            Forge::Plain => {
                let frame = framing::frame(msg).unwrap();
                self.push(frame);
                true
            }
            Forge::Sealed => {
                let frame = self.seal(msg);
                self.push(frame);
                true
            }
        }
    }

    /// Encrypt a message into a framed TRANSFORM.
    pub fn seal(&mut self, msg: &[u8]) -> Vec<u8> {
        let enc = self.enc.as_ref().unwrap();
        self.nonce += 1;
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.nonce.to_le_bytes());
        nonce[8] = 0xEE;
        let th = TransformHeader {
            signature: [0; 16],
            nonce,
            original_message_size: msg.len() as u32,
            flags: 1,
            session_id: self.session_id,
        };
        let mut buf = Vec::new();
        th.encode(&mut buf);
        buf.extend_from_slice(msg);
        let (hh, b) = buf.split_at_mut(TRANSFORM_HEADER_LEN);
        enc.seal(hh, b).unwrap();
        framing::frame(&buf).unwrap()
    }

    /// Sign a whole message with the session's key (for tests that build frames by hand).
    pub fn sign(&self, msg: &mut [u8]) {
        if let Some(s) = &self.signer {
            s.sign(msg).unwrap();
        }
    }

    /// Queue a raw frame on the current connection.
    pub fn push(&mut self, frame: Vec<u8>) {
        if self.hold {
            self.held.push((self.current, frame));
        } else {
            self.outbox.push_back((self.current, frame));
        }
    }

    fn request(
        &mut self,
        ch: ChannelId,
        h: &Header,
        msg: &[u8],
        last_fid: &mut FileId,
    ) -> Option<Vec<(Header, Vec<u8>)>> {
        match h.command {
            Command::Negotiate => {
                let req = NegotiateRequest::decode(msg).unwrap();
                assert!(req.dialects.contains(&self.cfg.dialect), "dialect offered");
                if req.dialects.iter().any(|d| d.is_smb3()) {
                    assert!(
                        req.capabilities.has(Capabilities::ENCRYPTION),
                        "peer-lessons #8"
                    );
                }
                let mut contexts = Vec::new();
                if self.cfg.dialect == Dialect::Smb311 {
                    contexts.push(NegotiateContext::PreauthIntegrity {
                        hash_algorithms: vec![HashAlgorithm::Sha512],
                        salt: vec![7; 32],
                    });
                    contexts.push(NegotiateContext::Encryption {
                        ciphers: vec![self.cfg.cipher.unwrap_or(Cipher::Other(0))],
                    });
                    if let Some(s) = self.cfg.signing {
                        contexts.push(NegotiateContext::Signing {
                            algorithms: vec![s],
                        });
                    }
                }
                let mut caps = Capabilities::LARGE_MTU | Capabilities::LEASING;
                // Like Samba: only to a client that offers it.
                if self.cfg.multichannel
                    && self.cfg.dialect.is_smb3()
                    && req.capabilities.has(Capabilities::MULTI_CHANNEL)
                {
                    caps |= Capabilities::MULTI_CHANNEL;
                }
                if self.cfg.dialect.is_smb3() && self.cfg.cipher.is_some() {
                    caps |= Capabilities::ENCRYPTION;
                }
                let hint = negotiate_hint(&[OID_NTLMSSP]);
                let resp = NegotiateResponse {
                    security_mode: SecurityMode(
                        SecurityMode::SIGNING_ENABLED
                            | if self.cfg.require_signing {
                                SecurityMode::SIGNING_REQUIRED
                            } else {
                                0
                            },
                    ),
                    dialect: self.cfg.dialect,
                    server_guid: Guid([9; 16]),
                    capabilities: Capabilities(caps),
                    max_transact_size: 1 << 20,
                    max_read_size: self.cfg.max_read,
                    max_write_size: self.cfg.max_write,
                    system_time: 0,
                    server_start_time: 0,
                    security_buffer: &hint,
                    contexts,
                };
                self.neg_caps = caps;
                self.neg_mode = resp.security_mode.0;
                let rh = self.resp(h, NtStatus::SUCCESS);
                let body = body(&resp);
                if let Some(c) = self.conns.get_mut(&ch) {
                    c.dialect_done = true;
                    c.preauth = PreauthHash::new();
                    if self.cfg.dialect == Dialect::Smb311 {
                        c.preauth.update(msg);
                        let mut full = Vec::new();
                        rh.encode(&mut full);
                        full.extend_from_slice(&body);
                        c.preauth.update(&full);
                    }
                }
                Some(vec![(rh, body)])
            }
            Command::SessionSetup => self.session_setup(ch, h, msg),
            Command::TreeConnect => {
                let req = TreeConnectRequest::decode(msg).unwrap();
                let share = req.path.rsplit('\\').next().unwrap_or("").to_string();
                if !self.cfg.shares.contains(&share) {
                    let rh = self.resp(h, NtStatus::BAD_NETWORK_NAME);
                    return Some(vec![(rh, error_body())]);
                }
                // IPC$ is a pipe share ([MS-SMB2] 2.2.10 SMB2_SHARE_TYPE_PIPE).
                let share_type = if share == "IPC$" { 2 } else { 1 };
                let n = self.tree_ids.len() as u32;
                let tree_id = *self.tree_ids.entry(share).or_insert(7 + n);
                let mut rh = self.resp(h, NtStatus::SUCCESS);
                rh.id = HeaderId::Sync {
                    process_id: 0xFEFF,
                    tree_id,
                };
                let body = body(&TreeConnectResponse {
                    share_type: ShareType::from_u8(share_type),
                    share_flags: ShareFlags(if self.cfg.encrypt_share {
                        ShareFlags::ENCRYPT_DATA
                    } else {
                        0
                    }),
                    capabilities: ShareCapabilities(0),
                    maximal_access: 0x001f_01ff,
                });
                Some(vec![(rh, body)])
            }
            Command::Create => self.create(h, msg, last_fid),
            Command::Close => {
                let req = CloseRequest::decode(msg).unwrap();
                let fid = if req.file_id == FileId::RELATED {
                    *last_fid
                } else {
                    req.file_id
                };
                if self.opens.remove(&fid.volatile).is_none() {
                    let rh = self.resp(h, NtStatus::FILE_CLOSED);
                    return Some(vec![(rh, error_body())]);
                }
                let rh = self.resp(h, NtStatus::SUCCESS);
                let body = body(&CloseResponse {
                    flags: CloseFlags(0),
                    creation_time: 0,
                    last_access_time: 0,
                    last_write_time: 0,
                    change_time: 0,
                    allocation_size: 0,
                    end_of_file: 0,
                    file_attributes: WA(0),
                });
                Some(vec![(rh, body)])
            }
            Command::QueryInfo => {
                let req = smb_core::wire::query_info::QueryInfoRequest::decode(msg).unwrap();
                let fid = if req.file_id == FileId::RELATED {
                    *last_fid
                } else {
                    req.file_id
                };
                let Some(name) = self.live_open(fid) else {
                    let rh = self.resp(h, NtStatus::FILE_CLOSED);
                    return Some(vec![(rh, error_body())]);
                };
                let size = self.files[&name].len() as u64;
                let rh = self.resp(h, NtStatus::SUCCESS);
                // FileStandardInformation: AllocationSize, EndOfFile, links, flags.
                let mut info = Vec::new();
                info.extend_from_slice(&size.to_le_bytes());
                info.extend_from_slice(&size.to_le_bytes());
                info.extend_from_slice(&1u32.to_le_bytes());
                info.extend_from_slice(&[0, 0, 0, 0]);
                let body = body(&smb_core::wire::query_info::QueryInfoResponse { buffer: &info });
                Some(vec![(rh, body)])
            }
            Command::Read => {
                let req = ReadRequest::decode(msg).unwrap();
                let Some(name) = self.live_open(req.file_id) else {
                    let rh = self.resp(h, NtStatus::FILE_CLOSED);
                    return Some(vec![(rh, error_body())]);
                };
                let data = &self.files[&name];
                let start = (req.offset as usize).min(data.len());
                let end = (start + req.length as usize).min(data.len());
                if start >= data.len() && req.length > 0 {
                    let rh = self.resp(h, NtStatus::END_OF_FILE);
                    return Some(vec![(rh, error_body())]);
                }
                let chunk = data[start..end].to_vec();
                let body = body(&ReadResponse {
                    data: &chunk,
                    data_remaining: 0,
                    flags: 0,
                });
                Some(self.maybe_pending(h, body))
            }
            Command::Write => {
                let req = WriteRequest::decode(msg).unwrap();
                let replay = h.flags.0 & HeaderFlags::REPLAY_OPERATION != 0;
                self.writes.push((req.offset, replay));
                if self.cfg.not_available_writes > 0 {
                    self.cfg.not_available_writes -= 1;
                    let rh = self.resp(h, NtStatus::FILE_NOT_AVAILABLE);
                    return Some(vec![(rh, error_body())]);
                }
                let Some(name) = self.live_open(req.file_id) else {
                    let rh = self.resp(h, NtStatus::FILE_CLOSED);
                    return Some(vec![(rh, error_body())]);
                };
                let f = self.files.get_mut(&name).unwrap();
                let end = req.offset as usize + req.data.len();
                if f.len() < end {
                    f.resize(end, 0);
                }
                f[req.offset as usize..end].copy_from_slice(req.data);
                let body = body(&WriteResponse {
                    count: req.data.len() as u32,
                    remaining: 0,
                });
                Some(self.maybe_pending(h, body))
            }
            Command::SetInfo => {
                let rh = self.resp(h, NtStatus::SUCCESS);
                Some(vec![(rh, vec![2, 0])])
            }
            Command::Echo | Command::Flush | Command::Logoff | Command::TreeDisconnect => {
                let rh = self.resp(h, NtStatus::SUCCESS);
                Some(vec![(rh, vec![4, 0, 0, 0])])
            }
            Command::Cancel => None,
            Command::Ioctl
                if IoctlRequest::decode(msg).unwrap().ctl_code
                    == fsctl::QUERY_NETWORK_INTERFACE_INFO =>
            {
                use smb_core::wire::ioctl::{
                    NetworkInterfaceInfo, NetworkInterfaceInfoList, SockAddr,
                };
                let req = IoctlRequest::decode(msg).unwrap();
                self.interface_queries += 1;
                // A loopback interface and one that must never be connected to.
                let out = NetworkInterfaceInfoList(vec![
                    NetworkInterfaceInfo {
                        if_index: 1,
                        capability: 0,
                        link_speed: 10_000_000_000,
                        address: SockAddr::V4 {
                            addr: std::net::Ipv4Addr::new(192, 0, 2, 7),
                            port: 0,
                        },
                    },
                    NetworkInterfaceInfo {
                        if_index: 2,
                        capability: 0,
                        link_speed: 1_000_000_000,
                        address: SockAddr::V4 {
                            addr: std::net::Ipv4Addr::LOCALHOST,
                            port: 0,
                        },
                    },
                ])
                .to_bytes();
                Some(vec![self.ioctl_reply(h, &req, &out)])
            }
            Command::Ioctl => {
                let req = IoctlRequest::decode(msg).unwrap();
                assert_eq!(
                    req.ctl_code,
                    fsctl::VALIDATE_NEGOTIATE_INFO,
                    "scripted ioctls only"
                );
                let v = ValidateNegotiateInfoRequest::decode_data(req.input).unwrap();
                self.validates.push(v);
                if let Some(st) = self.cfg.validate_status {
                    let rh = self.resp(h, st);
                    return Some(vec![(rh, error_body())]);
                }
                let out = ValidateNegotiateInfoResponse {
                    capabilities: self.neg_caps,
                    guid: Guid([9; 16]),
                    security_mode: self.neg_mode,
                    dialect: if self.cfg.validate_tamper {
                        0x0202
                    } else {
                        self.cfg.dialect.to_u16()
                    },
                }
                .to_bytes();
                let (rh, body) = self.ioctl_reply(h, &req, &out);
                if self.cfg.validate_unsigned {
                    let mut full = Vec::new();
                    rh.encode(&mut full);
                    full.extend_from_slice(&body);
                    self.push(framing::frame(&full).unwrap());
                    return None;
                }
                Some(vec![(rh, body)])
            }
            Command::OplockBreak => match OplockBreakMessage::decode(msg).unwrap() {
                OplockBreakMessage::LeaseAck(a) => {
                    self.break_acks
                        .push((u128::from_le_bytes(a.lease_key.0), a.lease_state.0));
                    let rh = self.resp(h, NtStatus::SUCCESS);
                    Some(vec![(rh, body(&a))])
                }
                OplockBreakMessage::Oplock(b) => {
                    self.break_acks.push((
                        u128::from(b.file_id.volatile),
                        u32::from(b.oplock_level.to_u8()),
                    ));
                    let rh = self.resp(h, NtStatus::SUCCESS);
                    Some(vec![(rh, body(&b))])
                }
                m => panic!("unexpected {m:?}"),
            },
            c => panic!("test server: unhandled {c:?}"),
        }
    }

    /// A successful IOCTL response carrying `out`.
    fn ioctl_reply(&mut self, h: &Header, req: &IoctlRequest, out: &[u8]) -> (Header, Vec<u8>) {
        let rh = self.resp(h, NtStatus::SUCCESS);
        let body = body(&IoctlResponse {
            ctl_code: req.ctl_code,
            file_id: req.file_id,
            input: &[],
            output: out,
            flags: 0,
        });
        (rh, body)
    }

    /// The name of the open `fid` if it belongs to the live session.
    fn live_open(&self, fid: FileId) -> Option<String> {
        self.opens
            .get(&fid.volatile)
            .filter(|o| o.session == self.session_id)
            .map(|o| o.name.clone())
    }

    fn maybe_pending(&mut self, h: &Header, body: Vec<u8>) -> Vec<(Header, Vec<u8>)> {
        if !self.cfg.pending_io {
            let rh = self.resp(h, NtStatus::SUCCESS);
            return vec![(rh, body)];
        }
        let async_id = 0xA000 + h.message_id;
        let mut interim = self.resp(h, NtStatus::PENDING);
        interim.id = HeaderId::Async { async_id };
        let mut fin = *h;
        fin.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR);
        fin.status = NtStatus::SUCCESS;
        fin.credits = 0; // the grant came in the interim response
        fin.next_command = 0;
        fin.signature = [0; 16];
        fin.id = HeaderId::Async { async_id };
        vec![(interim, error_body()), (fin, body)]
    }
}
