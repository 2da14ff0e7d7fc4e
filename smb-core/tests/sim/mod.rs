//! A scripted in-memory SMB2/3 server and a virtual-time driver for the sans-IO client.
//!
//! The server uses the crate's own codec (Encode of responses, Decode of requests), the
//! crypto module (same key derivation, signing and encryption as the client) and the auth
//! module's test NTLM acceptor, so signatures and encryption are real on both sides.

#![allow(dead_code)]

use bytes::Bytes;
use rand::SeedableRng;
use smb_core::auth::spnego::OID_NTLMSSP;
use smb_core::auth::testing::{Accept, NtlmAcceptor, negotiate_hint};
use smb_core::auth::{NtlmAuthenticator, NtlmCredentials};
use smb_core::client::*;
use smb_core::crypto::{
    Cipher as Aead, CipherId, PreauthHash, SessionKeys, Signer, default_provider,
};
use smb_core::time::{Duration, FileTime, Instant};
use smb_core::wire::close::{CloseFlags, CloseRequest, CloseResponse};
use smb_core::wire::compound::split_chain;
use smb_core::wire::create::{
    CreateAction, CreateRequest, CreateResponse, CreateResponseFlags, FileAttributes as WA,
    OplockLevel,
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
        }
    }
}

pub struct OpenFile {
    pub name: String,
}

pub struct Server {
    pub cfg: ServerConfig,
    reader: FrameReader,
    acceptor: NtlmAcceptor,
    preauth: PreauthHash,
    session_preauth: PreauthHash,
    pub session_id: u64,
    signer: Option<Signer>,
    enc: Option<Aead>,
    dec: Option<Aead>,
    nonce: u64,
    guest: bool,
    pub files: BTreeMap<String, Vec<u8>>,
    /// Open handles by volatile id.
    pub opens: BTreeMap<u64, OpenFile>,
    next_fid: u64,
    /// Frames to deliver to the client.
    pub outbox: VecDeque<Vec<u8>>,
    /// Requests seen, by command.
    pub seen: Vec<Command>,
    /// Requests that arrived signed / encrypted.
    pub signed_requests: usize,
    pub encrypted_requests: usize,
    pub bad_client_signatures: usize,
    /// Highest MessageId + charge seen vs. credits granted (window check).
    granted: u64,
    pub window_violations: usize,
    /// Responses held back (for out-of-order tests): when set, responses are queued here.
    pub hold: bool,
    pub held: Vec<Vec<u8>>,
    /// Test hook: answers a request instead of the built-in handler when it returns Some.
    /// Credits of the returned headers are counted as granted.
    pub script: Option<Script>,
    /// Wire TreeId per share name.
    pub tree_ids: BTreeMap<String, u32>,
    /// (TreeId, name) of every CREATE.
    pub creates: Vec<(u32, String)>,
    /// Every request header seen (compound members included).
    pub headers: Vec<Header>,
    /// Negotiated values (for VALIDATE_NEGOTIATE_INFO).
    neg_caps: u32,
    neg_mode: u16,
    /// Validate requests received: (dialects, capabilities, security mode).
    pub validates: Vec<ValidateNegotiateInfoRequest>,
    /// OPLOCK_BREAK acknowledgments received (lease key or FileId.volatile, state/level).
    pub break_acks: Vec<(u128, u32)>,
}

pub type Script = Box<dyn FnMut(&Header, &[u8]) -> Option<Vec<(Header, Vec<u8>)>>>;

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

impl Server {
    pub fn new(cfg: ServerConfig) -> Server {
        let mut acceptor = NtlmAcceptor::new(
            NtlmCredentials::password("", USER, PASS),
            [1, 2, 3, 4, 5, 6, 7, 8],
            Some(0x01d9_0000_0000_0000),
        );
        acceptor.allow_guest = cfg.allow_guest;
        Server {
            cfg,
            reader: FrameReader::new(framing::MAX_FRAME_LEN),
            acceptor,
            preauth: PreauthHash::new(),
            session_preauth: PreauthHash::new(),
            session_id: 0x1122_3344_0000_0001,
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
            granted: 1,
            window_violations: 0,
            hold: false,
            held: Vec::new(),
            script: None,
            tree_ids: BTreeMap::new(),
            creates: Vec::new(),
            headers: Vec::new(),
            neg_caps: 0,
            neg_mode: 0,
            validates: Vec::new(),
            break_acks: Vec::new(),
        }
    }

    pub fn input(&mut self, bytes: &[u8]) {
        self.reader.push(bytes);
        while let Some(frame) = self.reader.next_frame().expect("client framing") {
            self.frame(frame);
        }
    }

    fn frame(&mut self, frame: Bytes) {
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
            if hdr.command != Command::Cancel {
                let charge = u64::from(hdr.credit_charge.max(1));
                if hdr.message_id + charge > self.granted {
                    self.window_violations += 1;
                }
            }
            if hdr.flags.has(HeaderFlags::SIGNED) {
                self.signed_requests += 1;
                if let Some(s) = &self.signer {
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
                for (rh, _) in v {
                    self.granted += u64::from(rh.credits);
                }
            }
            let reply = match scripted {
                Some(v) => Some(v),
                None => self.request(&hdr, &msg, &mut last_fid),
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

    fn grant(&mut self, h: &Header) -> u16 {
        let g = h.credits.max(1).min(self.cfg.grant_cap);
        self.granted += u64::from(g);
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

    fn error_body() -> Vec<u8> {
        vec![9, 0, 0, 0, 0, 0, 0, 0, 0]
    }

    pub fn send(&mut self, h: Header, body: Vec<u8>, encrypt: bool, req_signed: bool) {
        let mut msg = Vec::new();
        h.encode(&mut msg);
        msg.extend_from_slice(&body);
        let sign = !encrypt
            && h.session_id != 0
            && h.command != Command::Negotiate
            && (req_signed || self.cfg.require_signing)
            && h.status != NtStatus::PENDING;
        if sign {
            if let Some(s) = &self.signer {
                s.sign(&mut msg).unwrap();
            }
        }
        let frame = if encrypt {
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
            buf.extend_from_slice(&msg);
            let (hh, b) = buf.split_at_mut(TRANSFORM_HEADER_LEN);
            enc.seal(hh, b).unwrap();
            framing::frame(&buf).unwrap()
        } else {
            framing::frame(&msg).unwrap()
        };
        if self.hold {
            self.held.push(frame);
        } else {
            self.outbox.push_back(frame);
        }
    }

    fn body<B: Encode>(b: &B) -> Vec<u8> {
        let mut v = vec![0u8; 64];
        b.encode(&mut v);
        v.split_off(64)
    }

    fn request(
        &mut self,
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
                let body = Self::body(&resp);
                if self.cfg.dialect == Dialect::Smb311 {
                    self.preauth.update(msg);
                    let mut full = Vec::new();
                    rh.encode(&mut full);
                    full.extend_from_slice(&body);
                    self.preauth.update(&full);
                }
                Some(vec![(rh, body)])
            }
            Command::SessionSetup => {
                let req = SessionSetupRequest::decode(msg).unwrap();
                if self.session_preauth == PreauthHash::new() {
                    self.session_preauth = self.preauth.clone();
                }
                let is311 = self.cfg.dialect == Dialect::Smb311;
                if is311 {
                    self.session_preauth.update(msg);
                }
                let mut hh = *h;
                hh.session_id = self.session_id;
                match self.acceptor.step(req.security_buffer) {
                    Ok(Accept::Continue(tok)) => {
                        let rh = self.resp(&hh, NtStatus::MORE_PROCESSING_REQUIRED);
                        let body = Self::body(&SessionSetupResponse {
                            session_flags: SessionFlags(0),
                            security_buffer: &tok,
                        });
                        if is311 {
                            let mut full = Vec::new();
                            rh.encode(&mut full);
                            full.extend_from_slice(&body);
                            self.session_preauth.update(&full);
                        }
                        Some(vec![(rh, body)])
                    }
                    Ok(Accept::Complete {
                        token,
                        session_key,
                        guest,
                        anonymous,
                    }) => {
                        self.guest = guest || anonymous;
                        let mut flags = 0;
                        if guest {
                            flags |= SessionFlags::IS_GUEST;
                        }
                        if anonymous {
                            flags |= SessionFlags::IS_NULL;
                        }
                        if let Some(key) = session_key.filter(|_| !guest && !anonymous) {
                            let cipher = match self.cfg.dialect {
                                Dialect::Smb311 => self
                                    .cfg
                                    .cipher
                                    .and_then(|c| CipherId::from_wire_id(c.to_u16())),
                                Dialect::Smb300 | Dialect::Smb302 => {
                                    self.cfg.cipher.map(|_| CipherId::Aes128Ccm)
                                }
                                _ => None,
                            };
                            let signing = if is311 {
                                self.cfg.signing.and_then(|s| {
                                    smb_core::crypto::SigningAlgorithm::from_wire_id(s.to_u16())
                                })
                            } else {
                                None
                            };
                            let keys = SessionKeys::derive(
                                self.cfg.dialect.to_u16(),
                                &key,
                                is311.then_some(self.session_preauth.value()),
                                cipher,
                                signing,
                            )
                            .unwrap();
                            let p = default_provider();
                            self.signer = Some(keys.signer(p).unwrap());
                            // Server directions are the client's reversed.
                            self.enc = keys.decryptor(p).map(|r| r.unwrap());
                            self.dec = keys.encryptor(p).map(|r| r.unwrap());
                            if self.cfg.encrypt_session {
                                flags |= SessionFlags::ENCRYPT_DATA;
                            }
                        }
                        let rh = self.resp(&hh, NtStatus::SUCCESS);
                        let body = Self::body(&SessionSetupResponse {
                            session_flags: SessionFlags(flags),
                            security_buffer: &token,
                        });
                        // The final response is signed (when there is a key).
                        let mut full = Vec::new();
                        rh.encode(&mut full);
                        full.extend_from_slice(&body);
                        let mut rh2 = rh;
                        if let Some(s) = &self.signer {
                            s.sign(&mut full).unwrap();
                            rh2 = Header::decode(&full).unwrap();
                        }
                        // Bypass `send`'s signing: push directly.
                        self.outbox.push_back(framing::frame(&full).unwrap());
                        let _ = rh2;
                        None
                    }
                    Err(_) => {
                        let rh = self.resp(&hh, NtStatus::LOGON_FAILURE);
                        Some(vec![(rh, Self::error_body())])
                    }
                }
            }
            Command::TreeConnect => {
                let req = TreeConnectRequest::decode(msg).unwrap();
                let share = req.path.rsplit('\\').next().unwrap_or("").to_string();
                if !self.cfg.shares.contains(&share) {
                    let rh = self.resp(h, NtStatus::BAD_NETWORK_NAME);
                    return Some(vec![(rh, Self::error_body())]);
                }
                let n = self.tree_ids.len() as u32;
                let tree_id = *self.tree_ids.entry(share).or_insert(7 + n);
                let mut rh = self.resp(h, NtStatus::SUCCESS);
                rh.id = HeaderId::Sync {
                    process_id: 0xFEFF,
                    tree_id,
                };
                let body = Self::body(&TreeConnectResponse {
                    share_type: ShareType::from_u8(1),
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
            Command::Create => {
                let req = CreateRequest::decode(msg).unwrap();
                self.creates.push((h.tree_id(), req.name.clone()));
                let exists = self.files.contains_key(&req.name);
                let disp = req.disposition as u32;
                if !exists && disp == 1 {
                    let rh = self.resp(h, NtStatus::OBJECT_NAME_NOT_FOUND);
                    return Some(vec![(rh, Self::error_body())]);
                }
                if disp == 5 || disp == 0 || !exists {
                    self.files.insert(req.name.clone(), Vec::new());
                }
                let fid = FileId {
                    persistent: self.next_fid,
                    volatile: self.next_fid + 1000,
                };
                self.next_fid += 1;
                *last_fid = fid;
                self.opens.insert(
                    fid.volatile,
                    OpenFile {
                        name: req.name.clone(),
                    },
                );
                let size = self.files[&req.name].len() as u64;
                let rh = self.resp(h, NtStatus::SUCCESS);
                let body = Self::body(&CreateResponse {
                    oplock_level: OplockLevel::None,
                    flags: CreateResponseFlags(0),
                    action: if exists {
                        CreateAction::Opened
                    } else {
                        CreateAction::Created
                    },
                    creation_time: 1,
                    last_access_time: 2,
                    last_write_time: 3,
                    change_time: 4,
                    allocation_size: size,
                    end_of_file: size,
                    file_attributes: WA(0x80),
                    file_id: fid,
                    contexts: Vec::new(),
                });
                Some(vec![(rh, body)])
            }
            Command::Close => {
                let req = CloseRequest::decode(msg).unwrap();
                let fid = if req.file_id == FileId::RELATED {
                    *last_fid
                } else {
                    req.file_id
                };
                self.opens.remove(&fid.volatile);
                let rh = self.resp(h, NtStatus::SUCCESS);
                let body = Self::body(&CloseResponse {
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
                let name = &self.opens[&fid.volatile].name;
                let size = self.files[name].len() as u64;
                let rh = self.resp(h, NtStatus::SUCCESS);
                // FileStandardInformation: AllocationSize, EndOfFile, links, flags.
                let mut info = Vec::new();
                info.extend_from_slice(&size.to_le_bytes());
                info.extend_from_slice(&size.to_le_bytes());
                info.extend_from_slice(&1u32.to_le_bytes());
                info.extend_from_slice(&[0, 0, 0, 0]);
                let body =
                    Self::body(&smb_core::wire::query_info::QueryInfoResponse { buffer: &info });
                Some(vec![(rh, body)])
            }
            Command::Read => {
                let req = ReadRequest::decode(msg).unwrap();
                let name = &self.opens[&req.file_id.volatile].name;
                let data = &self.files[name];
                let start = (req.offset as usize).min(data.len());
                let end = (start + req.length as usize).min(data.len());
                if start >= data.len() && req.length > 0 {
                    let rh = self.resp(h, NtStatus::END_OF_FILE);
                    return Some(vec![(rh, Self::error_body())]);
                }
                let chunk = data[start..end].to_vec();
                let body = Self::body(&ReadResponse {
                    data: &chunk,
                    data_remaining: 0,
                    flags: 0,
                });
                Some(self.maybe_pending(h, body))
            }
            Command::Write => {
                let req = WriteRequest::decode(msg).unwrap();
                let name = self.opens[&req.file_id.volatile].name.clone();
                let f = self.files.get_mut(&name).unwrap();
                let end = req.offset as usize + req.data.len();
                if f.len() < end {
                    f.resize(end, 0);
                }
                f[req.offset as usize..end].copy_from_slice(req.data);
                let body = Self::body(&WriteResponse {
                    count: req.data.len() as u32,
                    remaining: 0,
                });
                Some(self.maybe_pending(h, body))
            }
            Command::Echo | Command::Flush | Command::Logoff | Command::TreeDisconnect => {
                let rh = self.resp(h, NtStatus::SUCCESS);
                Some(vec![(rh, vec![4, 0, 0, 0])])
            }
            Command::Cancel => None,
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
                    return Some(vec![(rh, Self::error_body())]);
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
                let rh = self.resp(h, NtStatus::SUCCESS);
                let body = Self::body(&IoctlResponse {
                    ctl_code: req.ctl_code,
                    file_id: req.file_id,
                    input: &[],
                    output: &out,
                    flags: 0,
                });
                if self.cfg.validate_unsigned {
                    let mut full = Vec::new();
                    rh.encode(&mut full);
                    full.extend_from_slice(&body);
                    self.outbox.push_back(framing::frame(&full).unwrap());
                    return None;
                }
                Some(vec![(rh, body)])
            }
            Command::OplockBreak => match OplockBreakMessage::decode(msg).unwrap() {
                OplockBreakMessage::LeaseAck(a) => {
                    self.break_acks
                        .push((u128::from_le_bytes(a.lease_key.0), a.lease_state.0));
                    let rh = self.resp(h, NtStatus::SUCCESS);
                    Some(vec![(rh, Self::body(&a))])
                }
                OplockBreakMessage::Oplock(b) => {
                    self.break_acks.push((
                        u128::from(b.file_id.volatile),
                        u32::from(b.oplock_level.to_u8()),
                    ));
                    let rh = self.resp(h, NtStatus::SUCCESS);
                    Some(vec![(rh, Self::body(&b))])
                }
                m => panic!("unexpected {m:?}"),
            },
            c => panic!("test server: unhandled {c:?}"),
        }
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
        vec![(interim, Self::error_body()), (fin, body)]
    }
}

/// The client and server wired together with virtual time.
pub struct Sim {
    pub client: Client,
    pub server: Server,
    pub now: Instant,
    pub events: Vec<Event>,
    pub done: BTreeMap<OpId, Result<Response, OpError>>,
    pub connected: bool,
    pub closed: bool,
}

pub fn client_config() -> ClientConfig {
    ClientConfig::default()
        .with_client_guid(Guid([5; 16]))
        .with_server_name("testsrv")
        .with_echo_interval(None)
}

impl Sim {
    pub fn new(cfg: ClientConfig, server: ServerConfig) -> Sim {
        Self::with_auth(
            cfg,
            server,
            NtlmAuthenticator::new(NtlmCredentials::password("", USER, PASS)),
        )
    }

    pub fn with_auth(cfg: ClientConfig, server: ServerConfig, auth: NtlmAuthenticator) -> Sim {
        let rng = rand::rngs::StdRng::seed_from_u64(42);
        let now = Instant::from_nanos(1_000_000_000);
        let client = Client::new(
            cfg,
            Box::new(smb_core::auth::OneShot::new(Box::new(auth))),
            Box::new(rng),
            now,
            FileTime::from_unix_nanos(1_700_000_000_000_000_000),
        );
        Sim {
            client,
            server: Server::new(server),
            now,
            events: Vec::new(),
            done: BTreeMap::new(),
            connected: false,
            closed: false,
        }
    }

    /// Drain client outputs and deliver frames both ways until nothing moves.
    pub fn run(&mut self) -> Option<Instant> {
        loop {
            let deadline = loop {
                match self.client.poll_output() {
                    Output::Transmit { frame, .. } => {
                        assert!(!self.closed, "nothing is sent after close");
                        self.server.input(&frame.to_vec())
                    }
                    Output::Connect { channel, .. } => {
                        self.connected = true;
                        self.client.handle_connected(channel, self.now);
                    }
                    Output::Close { .. } => self.closed = true,
                    Output::Completed { op, result } => {
                        assert!(self.done.insert(op, result).is_none(), "completed twice");
                    }
                    Output::Event(e) => self.events.push(e),
                    Output::Timeout(t) => break t,
                    _ => {}
                }
            };
            let Some(f) = self.server.outbox.pop_front() else {
                return deadline;
            };
            if self.closed {
                return deadline;
            }
            self.client.handle_input(ChannelId(0), &f, self.now);
        }
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
                Event::Transition { object, from, to } => Some((*object, *from, *to)),
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
}

impl Sim {
    /// Release the held responses (in the given order) and run.
    pub fn release(&mut self, order: impl FnOnce(&mut Vec<Vec<u8>>)) {
        self.server.hold = false;
        let mut held = std::mem::take(&mut self.server.held);
        order(&mut held);
        self.server.outbox.extend(held);
        self.run();
    }

    /// Submit without running.
    pub fn submit(&mut self, r: Request) -> OpId {
        self.client.submit(r, self.now).expect("submitted")
    }
}

pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

pub fn concat(v: &[Bytes]) -> Vec<u8> {
    v.iter().flat_map(|b| b.iter().copied()).collect()
}
