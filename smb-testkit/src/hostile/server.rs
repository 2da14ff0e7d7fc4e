//! The well-behaved part of the hostile server: one connection's protocol state and the
//! normal answer to each request, built with smb-core's codec, crypto and test NTLM
//! acceptor, so that signing and encryption are real ([MS-SMB2] 3.3).

use super::{HostileConfig, Reply, Request, file_bytes};
use crate::frames::{self, ERROR_BODY};
use smb_core::auth::NtlmCredentials;
use smb_core::auth::spnego::OID_NTLMSSP;
use smb_core::auth::testing::{Accept, NtlmAcceptor, negotiate_hint};
use smb_core::crypto::{
    Cipher as Aead, CipherId, PreauthHash, SessionKeys, Signer, default_provider,
};
use smb_core::wire::close::{CloseRequest, CloseResponse};
use smb_core::wire::create::{
    CreateAction, CreateDisposition, CreateOptions, CreateRequest, CreateResponse,
    CreateResponseFlags, FileAttributes, OplockLevel,
};
use smb_core::wire::fscc::{
    FileAllInformation, FileBasicInformation, FileInfoClass, FileStandardInformation, FsccInfo,
};
use smb_core::wire::header::HeaderId;
use smb_core::wire::ioctl::{
    IoctlData, IoctlRequest, IoctlResponse, ValidateNegotiateInfoResponse, fsctl,
};
use smb_core::wire::negotiate::{
    Capabilities, Cipher, Dialect, HashAlgorithm, NegotiateContext, NegotiateRequest,
    NegotiateResponse, SecurityMode,
};
use smb_core::wire::query_directory::{
    DirectoryEntry, QueryDirectoryFlags, QueryDirectoryResponse, encode_directory_entries,
};
use smb_core::wire::query_info::{QueryInfoRequest, QueryInfoResponse};
use smb_core::wire::read::{ReadRequest, ReadResponse};
use smb_core::wire::session_setup::{SessionFlags, SessionSetupRequest, SessionSetupResponse};
use smb_core::wire::transform::{TRANSFORM_HEADER_LEN, TransformHeader};
use smb_core::wire::tree_connect::{ShareCapabilities, ShareFlags, ShareType, TreeConnectResponse};
use smb_core::wire::write::{WriteRequest, WriteResponse};
use smb_core::wire::{Command, Decode, Encode, FileId, Guid, Header, NtStatus, Reader};
use std::collections::BTreeMap;

/// The user name the hostile server accepts.
pub const USER: &str = "hostile";
/// Its password.
pub const PASSWORD: &str = "Hostile-Pass-1";
/// The TreeId of the one share (every share name connects to it).
pub const TREE_ID: u32 = 0x11;
/// The directory every configuration has: [`HostileConfig::dir_entries`] synthetic entries.
pub const DIR: &str = "dir";

/// What an open refers to.
#[derive(Clone, Debug)]
enum Node {
    File { size: u64 },
    Dir { cursor: u64 },
}

/// One connection's server state. Scripts get it to build answers of their own.
pub struct Conn {
    /// The configuration the server was started with.
    pub cfg: HostileConfig,
    /// The dialect chosen in NEGOTIATE (None before).
    pub dialect: Option<Dialect>,
    acceptor: NtlmAcceptor,
    preauth: PreauthHash,
    session_preauth: Option<PreauthHash>,
    signer: Option<Signer>,
    /// Seals server-to-client messages.
    encryptor: Option<Aead>,
    /// Opens client-to-server messages.
    decryptor: Option<Aead>,
    nonce: u64,
    /// SessionFlags of the final SESSION_SETUP response.
    session_flags: u16,
    opens: BTreeMap<u64, Node>,
    next_file: u64,
    /// The FileId of the last CREATE of the frame being handled (related compounds).
    last_created: FileId,
    cipher: Option<CipherId>,
    signing_algorithm: Option<smb_core::crypto::SigningAlgorithm>,
    /// Capabilities and SecurityMode sent in NEGOTIATE (for VALIDATE_NEGOTIATE_INFO).
    negotiated: (u32, u16),
    /// Files the client created.
    created: std::collections::BTreeSet<String>,
}

impl Conn {
    pub(super) fn new(cfg: HostileConfig) -> Conn {
        Conn {
            acceptor: NtlmAcceptor::new(
                NtlmCredentials::password("", USER, PASSWORD),
                [0x48, 0x6f, 0x73, 0x74, 0x69, 0x6c, 0x65, 0x21],
                Some(0x01d9_1234_5678_9abc),
            ),
            cfg,
            dialect: None,
            preauth: PreauthHash::new(),
            session_preauth: None,
            signer: None,
            encryptor: None,
            decryptor: None,
            nonce: 0,
            session_flags: 0,
            opens: BTreeMap::new(),
            next_file: 1,
            last_created: FileId::default(),
            cipher: None,
            signing_algorithm: None,
            negotiated: (0, 0),
            created: Default::default(),
        }
    }

    /// The SessionId the server gives the session.
    pub fn session_id(&self) -> u64 {
        self.cfg.session_id
    }

    /// Whether the session has keys (signing possible).
    pub fn has_keys(&self) -> bool {
        self.signer.is_some()
    }

    /// A response to `req` with `status`, the configured credit grant and `body`.
    pub fn reply(&self, req: &Request, status: NtStatus, body: Vec<u8>) -> Reply {
        let mut h = frames::response_header(&req.header, status, self.grant(&req.header));
        if req.header.command == Command::SessionSetup {
            h.session_id = self.cfg.session_id;
        }
        Reply::new(h, body)
    }

    /// An error response (ERROR body) to `req`.
    pub fn error(&self, req: &Request, status: NtStatus) -> Reply {
        self.reply(req, status, ERROR_BODY.to_vec())
    }

    fn grant(&self, req: &Header) -> u16 {
        match self.cfg.credits {
            Some(n) => n,
            None => req.credits.clamp(1, 512),
        }
    }

    // ---- receiving ----

    /// Decrypt a transform frame; None if it does not open.
    pub(super) fn open_transform(&self, frame: &[u8]) -> Option<Vec<u8>> {
        let dec = self.decryptor.as_ref()?;
        let mut buf = frame.to_vec();
        let (head, body) = buf.split_at_mut(TRANSFORM_HEADER_LEN);
        dec.open(head, body).ok()?;
        Some(buf.split_off(TRANSFORM_HEADER_LEN))
    }

    /// Note a received request in the pre-authentication hash (3.1.1, [MS-SMB2] 3.3.5.4).
    pub(super) fn saw_request(&mut self, req: &Request) {
        if self.dialect != Some(Dialect::Smb311) && req.header.command != Command::Negotiate {
            return;
        }
        match req.header.command {
            Command::Negotiate => self.preauth.update(&req.msg),
            Command::SessionSetup => self
                .session_preauth
                .get_or_insert_with(|| self.preauth.clone())
                .update(&req.msg),
            _ => {}
        }
    }

    // ---- the normal answers ----

    /// What a well-behaved server answers to `req` (nothing for CANCEL).
    pub fn normal(&mut self, req: &Request) -> Vec<Reply> {
        let r = match req.header.command {
            Command::Negotiate => self.negotiate(req),
            Command::SessionSetup => self.session_setup(req),
            Command::TreeConnect => self.tree_connect(req),
            Command::Create => self.create(req),
            Command::Close => self.close(req),
            Command::Read => self.read(req),
            Command::Write => self.write(req),
            Command::QueryInfo => self.query_info(req),
            Command::QueryDirectory => self.query_directory(req),
            Command::Ioctl => self.ioctl(req),
            Command::Cancel => return Vec::new(),
            Command::Echo | Command::Flush | Command::Logoff | Command::TreeDisconnect => {
                self.reply(req, NtStatus::SUCCESS, vec![4, 0, 0, 0])
            }
            Command::SetInfo => self.reply(req, NtStatus::SUCCESS, vec![2, 0]),
            _ => self.error(req, NtStatus::NOT_SUPPORTED),
        };
        vec![r]
    }

    fn negotiate(&mut self, req: &Request) -> Reply {
        let Ok(n) = NegotiateRequest::decode(&req.msg) else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        let dialect = self.cfg.dialect.unwrap_or_else(|| {
            n.dialects
                .iter()
                .copied()
                .filter(|d| !matches!(d, Dialect::Other(_) | Dialect::Wildcard))
                .max()
                .unwrap_or(Dialect::Other(0))
        });
        self.dialect = Some(dialect);
        let offered = |f: &dyn Fn(&NegotiateContext) -> bool| n.contexts.iter().any(f);
        let mut contexts = Vec::new();
        if dialect == Dialect::Smb311 {
            contexts.push(NegotiateContext::PreauthIntegrity {
                hash_algorithms: vec![HashAlgorithm::Sha512],
                salt: vec![0x5A; 32],
            });
            let gcm = offered(
                &|c| matches!(c, NegotiateContext::Encryption { ciphers } if ciphers.contains(&Cipher::Aes128Gcm)),
            );
            if gcm {
                contexts.push(NegotiateContext::Encryption {
                    ciphers: vec![Cipher::Aes128Gcm],
                });
                self.cipher = Some(CipherId::Aes128Gcm);
            }
            // The first of the server's preferences that the client offered.
            let signing = self.cfg.signing_algorithms.iter().copied().find(|a| {
                offered(&|c| matches!(c, NegotiateContext::Signing { algorithms } if algorithms.contains(a)))
            });
            if let Some(a) = signing {
                contexts.push(NegotiateContext::Signing {
                    algorithms: vec![a],
                });
                self.signing_algorithm =
                    smb_core::crypto::SigningAlgorithm::from_wire_id(a.to_u16());
            }
        } else if matches!(dialect, Dialect::Smb300 | Dialect::Smb302) {
            self.cipher = Some(CipherId::Aes128Ccm);
        }
        let mut caps = if self.cfg.large_mtu {
            Capabilities::LARGE_MTU
        } else {
            0
        };
        if matches!(dialect, Dialect::Smb300 | Dialect::Smb302 | Dialect::Smb311) {
            caps |= Capabilities::ENCRYPTION;
        }
        let mut mode = SecurityMode::SIGNING_ENABLED;
        if self.cfg.require_signing {
            mode |= SecurityMode::SIGNING_REQUIRED;
        }
        self.negotiated = (caps, mode);
        let hint = negotiate_hint(&[OID_NTLMSSP]);
        let body = body(&NegotiateResponse {
            security_mode: SecurityMode(mode),
            dialect,
            server_guid: Guid([0x77; 16]),
            capabilities: Capabilities(caps),
            max_transact_size: self.cfg.max_transact,
            max_read_size: self.cfg.max_read,
            max_write_size: self.cfg.max_write,
            system_time: 0,
            server_start_time: 0,
            security_buffer: &hint,
            contexts,
        });
        self.reply(req, NtStatus::SUCCESS, body)
    }

    fn session_setup(&mut self, req: &Request) -> Reply {
        let token = match SessionSetupRequest::decode(&req.msg) {
            Ok(s) => s.security_buffer.to_vec(),
            Err(_) => return self.error(req, NtStatus::INVALID_PARAMETER),
        };
        match self.acceptor.step(&token) {
            Ok(Accept::Continue(tok)) => {
                let b = body(&SessionSetupResponse {
                    session_flags: SessionFlags(0),
                    security_buffer: &tok,
                });
                self.reply(req, NtStatus::MORE_PROCESSING_REQUIRED, b)
            }
            Ok(Accept::Complete {
                token, session_key, ..
            }) => {
                let mut flags = 0;
                if let Some(key) = session_key {
                    self.derive_keys(&key);
                }
                if self.cfg.encrypt && self.encryptor.is_some() {
                    flags |= SessionFlags::ENCRYPT_DATA;
                }
                self.session_flags = flags;
                let b = body(&SessionSetupResponse {
                    session_flags: SessionFlags(flags),
                    security_buffer: &token,
                });
                // The final response is signed whenever there is a key ([MS-SMB2] 3.3.5.5.3).
                self.reply(req, NtStatus::SUCCESS, b).signed(true)
            }
            Err(_) => self.error(req, NtStatus::LOGON_FAILURE),
        }
    }

    fn derive_keys(&mut self, key: &[u8; 16]) {
        let Some(dialect) = self.dialect else { return };
        let is311 = dialect == Dialect::Smb311;
        let preauth = self.session_preauth.as_ref().map(|p| *p.value());
        let Ok(keys) = SessionKeys::derive(
            dialect.to_u16(),
            key,
            preauth.as_ref().filter(|_| is311),
            self.cipher,
            self.signing_algorithm,
        ) else {
            return;
        };
        let p = default_provider();
        self.signer = keys.signer(p).ok();
        // The server's directions are the client's reversed.
        self.encryptor = keys.decryptor(p).and_then(|r| r.ok());
        self.decryptor = keys.encryptor(p).and_then(|r| r.ok());
    }

    fn tree_connect(&mut self, req: &Request) -> Reply {
        let mut flags = 0;
        if self.cfg.encrypt_share {
            flags |= ShareFlags::ENCRYPT_DATA;
        }
        let b = body(&TreeConnectResponse {
            share_type: ShareType::from_u8(self.cfg.share_type),
            share_flags: ShareFlags(flags),
            capabilities: ShareCapabilities(0),
            maximal_access: 0x001f_01ff,
        });
        let mut r = self.reply(req, NtStatus::SUCCESS, b);
        r.header.id = HeaderId::Sync {
            process_id: 0xFEFF,
            tree_id: TREE_ID,
        };
        r
    }

    fn create(&mut self, req: &Request) -> Reply {
        let Ok(c) = CreateRequest::decode(&req.msg) else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        let name = c.name.replace('\\', "/").to_lowercase();
        let node = if name.is_empty() || name == DIR {
            Node::Dir { cursor: 0 }
        } else if let Some(f) = self.cfg.files.iter().find(|f| f.0 == name) {
            Node::File { size: f.1 }
        } else if self.created.contains(&name) || c.disposition != CreateDisposition::Open {
            // A new file: its writes are counted, not kept.
            self.created.insert(name);
            Node::File { size: 0 }
        } else {
            return self.error(req, NtStatus::OBJECT_NAME_NOT_FOUND);
        };
        if matches!(node, Node::File { .. }) && c.options.has(CreateOptions::DIRECTORY_FILE) {
            return self.error(req, NtStatus::NOT_A_DIRECTORY);
        }
        let (size, attrs) = match node {
            Node::File { size } => (size, 0x80),
            Node::Dir { .. } => (0, 0x10),
        };
        let file_id = FileId {
            persistent: self.next_file,
            volatile: 0xF000 + self.next_file,
        };
        self.next_file += 1;
        self.opens.insert(file_id.volatile, node);
        self.last_created = file_id;
        let b = body(&CreateResponse {
            oplock_level: OplockLevel::None,
            flags: CreateResponseFlags(0),
            action: CreateAction::Opened,
            creation_time: 0x01d9_0000_0000_0000,
            last_access_time: 0x01d9_0000_0000_0000,
            last_write_time: 0x01d9_0000_0000_0000,
            change_time: 0x01d9_0000_0000_0000,
            allocation_size: size,
            end_of_file: size,
            file_attributes: FileAttributes(attrs),
            file_id,
            contexts: Vec::new(),
        });
        self.reply(req, NtStatus::SUCCESS, b)
    }

    /// The open a request names (FileId::RELATED: the frame's last CREATE).
    fn open_of(&self, id: FileId) -> Option<(FileId, &Node)> {
        let id = if id == FileId::RELATED {
            self.last_created
        } else {
            id
        };
        self.opens.get(&id.volatile).map(|n| (id, n))
    }

    fn close(&mut self, req: &Request) -> Reply {
        let Ok(c) = CloseRequest::decode(&req.msg) else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        let Some((id, _)) = self.open_of(c.file_id) else {
            return self.error(req, NtStatus::FILE_CLOSED);
        };
        self.opens.remove(&id.volatile);
        let b = body(&CloseResponse::default());
        self.reply(req, NtStatus::SUCCESS, b)
    }

    /// The size of the file a READ names (None if it is not an open file).
    pub fn file_size(&self, file_id: FileId) -> Option<u64> {
        match self.open_of(file_id) {
            Some((_, Node::File { size })) => Some(*size),
            _ => None,
        }
    }

    fn read(&mut self, req: &Request) -> Reply {
        let Ok(r) = ReadRequest::decode(&req.msg) else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        let Some(size) = self.file_size(r.file_id) else {
            return self.error(req, NtStatus::FILE_CLOSED);
        };
        if r.offset >= size {
            return self.error(req, NtStatus::END_OF_FILE);
        }
        let len = u64::from(r.length).min(size - r.offset);
        let data = file_bytes(r.offset, len as usize);
        self.reply(req, NtStatus::SUCCESS, read_body(&data))
    }

    fn write(&mut self, req: &Request) -> Reply {
        let Ok(w) = WriteRequest::decode(&req.msg) else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        let b = body(&WriteResponse {
            count: w.data.len() as u32,
            remaining: 0,
        });
        self.reply(req, NtStatus::SUCCESS, b)
    }

    fn query_info(&mut self, req: &Request) -> Reply {
        let Ok(q) = QueryInfoRequest::decode(&req.msg) else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        let Some((_, node)) = self.open_of(q.file_id) else {
            return self.error(req, NtStatus::FILE_CLOSED);
        };
        let (size, dir) = match node {
            Node::File { size } => (*size, false),
            Node::Dir { .. } => (0, true),
        };
        let basic = FileBasicInformation {
            file_attributes: if dir { 0x10 } else { 0x80 },
            ..Default::default()
        };
        let standard = FileStandardInformation {
            allocation_size: size,
            end_of_file: size,
            number_of_links: 1,
            delete_pending: false,
            directory: dir,
        };
        let info = match q.file_info_class {
            FileAllInformation::CLASS => FileAllInformation {
                basic,
                standard,
                ..Default::default()
            }
            .to_bytes(),
            FileStandardInformation::CLASS => standard.to_bytes(),
            FileBasicInformation::CLASS => basic.to_bytes(),
            _ => return self.error(req, NtStatus::NOT_SUPPORTED),
        };
        let b = body(&QueryInfoResponse { buffer: &info });
        self.reply(req, NtStatus::SUCCESS, b)
    }

    /// The entries of [`DIR`] from `start`, as many as fit in `room` bytes of `class`.
    pub fn dir_page(&self, class: FileInfoClass, start: u64, room: usize) -> (Vec<u8>, u64) {
        let mut entries = Vec::new();
        let mut used = 0usize;
        let mut i = start;
        while i < self.cfg.dir_entries {
            let e = dir_entry(i);
            let len = e
                .encoded_len(class)
                .unwrap_or(usize::MAX)
                .next_multiple_of(8);
            if used + len > room {
                break;
            }
            used += len;
            entries.push(e);
            i += 1;
        }
        let mut page = Vec::new();
        encode_directory_entries(class, &entries, &mut page);
        (page, i)
    }

    fn query_directory(&mut self, req: &Request) -> Reply {
        let Some(q) = parse_query_directory(&req.msg) else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        let Some((id, Node::Dir { cursor })) = self.open_of(q.file_id).map(|(i, n)| (i, n.clone()))
        else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        let start = if q.restart { 0 } else { cursor };
        let (page, next) = self.dir_page(q.class, start, q.output_len as usize);
        self.opens.insert(id.volatile, Node::Dir { cursor: next });
        if page.is_empty() {
            return self.error(req, NtStatus::NO_MORE_FILES);
        }
        let b = body(&QueryDirectoryResponse { buffer: &page });
        self.reply(req, NtStatus::SUCCESS, b)
    }

    fn ioctl(&mut self, req: &Request) -> Reply {
        let Ok(i) = IoctlRequest::decode(&req.msg) else {
            return self.error(req, NtStatus::INVALID_PARAMETER);
        };
        if i.ctl_code != fsctl::VALIDATE_NEGOTIATE_INFO {
            return self.error(req, NtStatus::NOT_SUPPORTED);
        }
        // [MS-SMB2] 3.3.5.15.12: what NEGOTIATE said.
        let (capabilities, security_mode) = self.negotiated;
        let out = ValidateNegotiateInfoResponse {
            capabilities,
            guid: Guid([0x77; 16]),
            security_mode,
            dialect: self.dialect.map_or(0, |d| d.to_u16()),
        }
        .to_bytes();
        let b = body(&IoctlResponse {
            ctl_code: i.ctl_code,
            file_id: i.file_id,
            input: &[],
            output: &out,
            flags: 0,
        });
        self.reply(req, NtStatus::SUCCESS, b)
    }

    // ---- sending ----

    /// Sign (where the rules or the reply say so) and encrypt (where the request was, or
    /// the session encrypts) `replies` as one frame payload (a compound chain if several).
    /// Updates the pre-authentication hash with NEGOTIATE and SESSION_SETUP responses.
    pub fn finish(&mut self, replies: &[Reply], req: &Request) -> Vec<u8> {
        let msgs: Vec<Vec<u8>> = replies
            .iter()
            .map(|r| frames::message_bytes(&r.header, &r.body))
            .collect();
        let mut payload = if msgs.len() == 1 {
            msgs[0].clone()
        } else {
            frames::compound(&msgs).unwrap_or_default()
        };
        let offsets = frames::message_offsets(&payload);
        let encrypt = replies.iter().any(|r| {
            r.encrypt
                .unwrap_or(req.encrypted || self.session_encrypts(r))
        });
        for (i, r) in replies.iter().enumerate() {
            let Some(&start) = offsets.get(i) else { break };
            let end = offsets.get(i + 1).copied().unwrap_or(payload.len());
            let auto = !encrypt
                && r.header.status != NtStatus::PENDING
                && r.header.session_id != 0
                && r.header.command != Command::Negotiate
                && (req.signed || self.cfg.require_signing);
            if r.sign.unwrap_or(auto) {
                if let Some(s) = &self.signer {
                    let _ = s.sign(&mut payload[start..end]);
                }
            }
            let msg = &payload[start..end];
            self.saw_response(r.header.command, r.header.status, msg);
        }
        if encrypt {
            if let Some(sealed) = self.seal(&payload, |_| {}) {
                return sealed;
            }
        }
        payload
    }

    fn session_encrypts(&self, r: &Reply) -> bool {
        self.session_flags & SessionFlags::ENCRYPT_DATA != 0
            && !matches!(r.header.command, Command::Negotiate | Command::SessionSetup)
    }

    fn saw_response(&mut self, command: Command, status: NtStatus, msg: &[u8]) {
        if self.dialect != Some(Dialect::Smb311) {
            return;
        }
        match command {
            Command::Negotiate => self.preauth.update(msg),
            Command::SessionSetup if status == NtStatus::MORE_PROCESSING_REQUIRED => {
                if let Some(p) = self.session_preauth.as_mut() {
                    p.update(msg);
                }
            }
            _ => {}
        }
    }

    /// Seal `plain` (one message or a chain) in a transform with the session's keys, after
    /// `edit` changed the TRANSFORM_HEADER (so a wrong Flags, SessionId or
    /// OriginalMessageSize is authenticated as sent). None without keys.
    pub fn seal(
        &mut self,
        plain: &[u8],
        edit: impl FnOnce(&mut TransformHeader),
    ) -> Option<Vec<u8>> {
        let enc = self.encryptor.as_ref()?;
        self.nonce += 1;
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.nonce.to_le_bytes());
        nonce[8] = 0x5E;
        let mut th = TransformHeader {
            signature: [0; 16],
            nonce,
            original_message_size: plain.len() as u32,
            flags: TransformHeader::ENCRYPTED,
            session_id: self.cfg.session_id,
        };
        edit(&mut th);
        let mut buf = Vec::with_capacity(TRANSFORM_HEADER_LEN + plain.len());
        th.encode(&mut buf);
        buf.extend_from_slice(plain);
        let (head, body) = buf.split_at_mut(TRANSFORM_HEADER_LEN);
        enc.seal(head, body).ok()?;
        Some(buf)
    }

    /// Sign one message in place with the session's key (no-op without keys).
    pub fn sign(&self, msg: &mut [u8]) {
        if let Some(s) = &self.signer {
            let _ = s.sign(msg);
        }
    }
}

/// A body encoded with smb-core's codec, without the header.
pub fn body<B: Encode>(b: &B) -> Vec<u8> {
    let mut v = vec![0u8; smb_core::wire::HEADER_LEN];
    b.encode(&mut v);
    v.split_off(smb_core::wire::HEADER_LEN)
}

/// A READ response body carrying `data`.
pub fn read_body(data: &[u8]) -> Vec<u8> {
    body(&ReadResponse {
        data,
        data_remaining: 0,
        flags: 0,
    })
}

/// Entry `i` of [`DIR`].
pub fn dir_entry(i: u64) -> DirectoryEntry {
    DirectoryEntry {
        name: format!("entry-{i:06}"),
        end_of_file: i,
        allocation_size: i,
        file_attributes: 0x80,
        file_id: Some(i + 1),
        ..Default::default()
    }
}

/// The fields of a QUERY_DIRECTORY request the server uses ([MS-SMB2] 2.2.33).
pub struct QueryDirectory {
    /// FileInformationClass.
    pub class: FileInfoClass,
    /// SMB2_RESTART_SCANS or SMB2_REOPEN.
    pub restart: bool,
    /// FileId.
    pub file_id: FileId,
    /// OutputBufferLength.
    pub output_len: u32,
}

/// Parse a QUERY_DIRECTORY request message.
pub fn parse_query_directory(msg: &[u8]) -> Option<QueryDirectory> {
    let mut r = Reader::at(msg, smb_core::wire::HEADER_LEN).ok()?;
    r.expect_u16("StructureSize", 33).ok()?;
    let class = FileInfoClass(r.u8().ok()?);
    let flags = QueryDirectoryFlags(r.u8().ok()?);
    let _index = r.u32().ok()?;
    let file_id = FileId::read(&mut r).ok()?;
    let _name_offset = r.u16().ok()?;
    let _name_len = r.u16().ok()?;
    let output_len = r.u32().ok()?;
    Some(QueryDirectory {
        class,
        restart: flags.has(QueryDirectoryFlags::RESTART_SCANS)
            || flags.has(QueryDirectoryFlags::REOPEN),
        file_id,
        output_len,
    })
}
