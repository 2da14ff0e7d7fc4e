//! Encoding one [`Request`] into its SMB2 message.

use super::*;

impl Client {
    /// Encode one request. `compound` = (index in the chain, TreeId of the previous member).
    pub(super) fn build(
        &mut self,
        req: &Request,
        compound: Option<(usize, u32)>,
        memo: Option<&CreateMemo>,
        _now: Instant,
    ) -> Result<OutMsg, OpError> {
        let part = compound.map_or(Part::Whole, |(i, _)| Part::Member(i));
        let related_tree = compound.map_or(0, |(_, t)| t);
        let file_wire = |s: &Self, f: FileHandle| -> Result<(FileId, u32), OpError> {
            if f == FileHandle::RELATED {
                return Ok((FileId::RELATED, related_tree));
            }
            let o = s
                .opens
                .get(&f)
                .ok_or(OpError::new(ErrorKind::InvalidHandle))?;
            if o.machine.state() != OpenState::Good {
                return Err(OpError::new(ErrorKind::InvalidHandle));
            }
            Ok((o.wire, s.trees.get(&o.tree).map_or(0, |t| t.wire_id)))
        };
        let tree_wire = |s: &Self, t: TreeId| -> Result<u32, OpError> {
            s.trees
                .get(&t)
                .filter(|t| t.machine.state() == TreeState::Good)
                .map(|t| t.wire_id)
                .ok_or(OpError::new(ErrorKind::InvalidHandle))
        };
        let (cmd, msg, data, recv, tw) = match req {
            Request::TreeConnect { share } => {
                let path = alloc::format!("\\\\{}\\{}", self.server_name, share);
                let hdr = self.header(Command::TreeConnect, 0);
                (
                    Command::TreeConnect,
                    encode_msg(&hdr, &TreeConnectRequest::new(path)),
                    None,
                    0,
                    0,
                )
            }
            Request::TreeDisconnect { tree } => {
                let tw = tree_wire(self, *tree)?;
                let hdr = self.header(Command::TreeDisconnect, tw);
                (
                    Command::TreeDisconnect,
                    encode_msg(&hdr, &crate::wire::tree_connect::TreeDisconnectRequest),
                    None,
                    0,
                    tw,
                )
            }
            Request::Create {
                tree,
                path,
                options,
            } => {
                let tw = tree_wire(self, *tree)?;
                let hdr = self.header(Command::Create, tw);
                let fresh;
                let memo = match memo {
                    Some(m) => m,
                    None => {
                        fresh = self.create_memo(path, options);
                        &fresh
                    }
                };
                let mut body = self.create_request(memo, None);
                let hdr = self.dfs_create(*tree, hdr, &mut body);
                (Command::Create, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::Close { file } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Close, tw);
                let body = CloseRequest {
                    flags: CloseFlags(0),
                    file_id: fid,
                };
                (Command::Close, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::Flush { file } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Flush, tw);
                let body = crate::wire::flush::FlushRequest { file_id: fid };
                (Command::Flush, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::Read { file, offset, len } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Read, tw);
                let body = crate::wire::read::ReadRequest {
                    padding: crate::wire::read::DEFAULT_PADDING,
                    flags: crate::wire::read::ReadFlags(0),
                    length: *len,
                    offset: *offset,
                    file_id: fid,
                    minimum_count: 0,
                    channel: 0,
                    remaining_bytes: 0,
                    channel_info: Vec::new(),
                };
                (
                    Command::Read,
                    encode_msg(&hdr, &body),
                    None,
                    u64::from(*len),
                    tw,
                )
            }
            Request::Write { file, offset, data } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Write, tw);
                let body = crate::wire::write::WriteRequest {
                    data: &[],
                    offset: *offset,
                    file_id: fid,
                    channel: 0,
                    remaining_bytes: 0,
                    channel_info: &[],
                    flags: crate::wire::write::WriteFlags(0),
                };
                let mut msg = Vec::new();
                hdr.encode(&mut msg);
                body.encode_head(data.len() as u32, &mut msg);
                (Command::Write, msg, Some(data.clone()), 0, tw)
            }
            Request::QueryDirectory {
                file,
                class,
                pattern,
                restart,
                output_len,
            } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::QueryDirectory, tw);
                let output_len = &self.clamp_to_transact(*output_len);
                let body = crate::wire::query_directory::QueryDirectoryRequest {
                    file_information_class: crate::wire::fscc::FileInfoClass(*class),
                    flags: crate::wire::query_directory::QueryDirectoryFlags(if *restart {
                        crate::wire::query_directory::QueryDirectoryFlags::RESTART_SCANS
                    } else {
                        0
                    }),
                    file_index: 0,
                    file_id: fid,
                    pattern: pattern.clone(),
                    output_buffer_length: *output_len,
                };
                (
                    Command::QueryDirectory,
                    encode_msg(&hdr, &body),
                    None,
                    u64::from(*output_len),
                    tw,
                )
            }
            Request::QueryInfo {
                file,
                info_type,
                class,
                additional,
                output_len,
            } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::QueryInfo, tw);
                let output_len = &self.clamp_single_credit(*output_len);
                let body = crate::wire::query_info::QueryInfoRequest {
                    info_type: crate::wire::query_info::InfoType(*info_type),
                    file_info_class: *class,
                    output_buffer_length: *output_len,
                    input_buffer: &[],
                    additional_information: *additional,
                    flags: crate::wire::query_info::QueryInfoFlags(0),
                    file_id: fid,
                };
                (
                    Command::QueryInfo,
                    encode_msg(&hdr, &body),
                    None,
                    u64::from(*output_len),
                    tw,
                )
            }
            Request::SetInfo {
                file,
                info_type,
                class,
                additional,
                data,
            } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::SetInfo, tw);
                let body = crate::wire::set_info::SetInfoRequest {
                    info_type: crate::wire::query_info::InfoType(*info_type),
                    file_info_class: *class,
                    additional_information: *additional,
                    file_id: fid,
                    buffer: data,
                };
                (Command::SetInfo, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::Lock { file, locks } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::Lock, tw);
                let body = crate::wire::lock::LockRequest {
                    lock_sequence_number: 0,
                    lock_sequence_index: 0,
                    file_id: fid,
                    locks: locks
                        .iter()
                        .map(|l| crate::wire::lock::LockElement {
                            offset: l.offset,
                            length: l.length,
                            flags: crate::wire::lock::LockFlags(l.flags),
                        })
                        .collect(),
                };
                (Command::Lock, encode_msg(&hdr, &body), None, 0, tw)
            }
            Request::ChangeNotify {
                file,
                filter,
                recursive,
                output_len,
            } => {
                let (fid, tw) = file_wire(self, *file)?;
                let hdr = self.header(Command::ChangeNotify, tw);
                let output_len = &self.clamp_single_credit(*output_len);
                let body = crate::wire::change_notify::ChangeNotifyRequest {
                    flags: crate::wire::change_notify::ChangeNotifyFlags(if *recursive {
                        crate::wire::change_notify::ChangeNotifyFlags::WATCH_TREE
                    } else {
                        0
                    }),
                    output_buffer_length: *output_len,
                    file_id: fid,
                    completion_filter: crate::wire::change_notify::CompletionFilter(*filter),
                };
                (
                    Command::ChangeNotify,
                    encode_msg(&hdr, &body),
                    None,
                    u64::from(*output_len),
                    tw,
                )
            }
            Request::Ioctl {
                tree,
                file,
                ctl_code,
                input,
                max_output,
                fsctl,
            } => {
                let (fid, tw) = match file {
                    Some(f) => file_wire(self, *f)?,
                    None => (
                        FileId {
                            persistent: u64::MAX,
                            volatile: u64::MAX,
                        },
                        tree_wire(self, *tree)?,
                    ),
                };
                let hdr = self.header(Command::Ioctl, tw);
                let max_output = &self.clamp_to_transact(*max_output);
                let body = IoctlRequest {
                    ctl_code: *ctl_code,
                    file_id: fid,
                    input,
                    output: &[],
                    max_input_response: 0,
                    max_output_response: *max_output,
                    flags: IoctlFlags(if *fsctl {
                        IoctlFlags::IS_FSCTL
                    } else {
                        IoctlFlags::IS_IOCTL
                    }),
                };
                let msg = encode_msg(&hdr, &body);
                (Command::Ioctl, msg, None, u64::from(*max_output), tw)
            }
            Request::Echo => {
                let hdr = self.header(Command::Echo, 0);
                (
                    Command::Echo,
                    encode_msg(&hdr, &crate::wire::echo::EchoRequest),
                    None,
                    0,
                    0,
                )
            }
            Request::Logoff => {
                let hdr = self.header(Command::Logoff, 0);
                (
                    Command::Logoff,
                    encode_msg(&hdr, &crate::wire::logoff::LogoffRequest),
                    None,
                    0,
                    0,
                )
            }
            Request::Compound(_) => {
                return Err(OpError::new(ErrorKind::Protocol("nested compound")));
            }
            Request::LeaseBreakAck { lease_key, state } => {
                return self.lease_ack_msg(*lease_key, *state, part);
            }
            Request::OplockBreakAck { file, level } => {
                return self.oplock_ack_msg(*file, *level, part);
            }
            Request::LeaseCache(_) => {
                return Err(OpError::new(ErrorKind::Protocol(
                    "the lease cache is the driver's",
                )));
            }
        };
        Ok(self.out_msg(msg, data, cmd, recv, part, tw))
    }

    /// The choices a CREATE makes once (CreateGuid, lease key), kept with the operation so a
    /// replay of the CREATE and a later durable reopen use the same ones.
    pub(super) fn create_memo(&mut self, path: &str, o: &OpenOptions) -> CreateMemo {
        let neg = self.neg();
        let smb3 = neg.is_some_and(|n| n.dialect.is_smb3());
        let smb21 = neg.is_some_and(|n| n.dialect == Dialect::Smb210);
        let leasing = neg.is_some_and(|n| n.capabilities & Capabilities::LEASING != 0);
        let want_lease = o.lease.unwrap_or(self.config.request_leases)
            && leasing
            && o.create_options & create_options::DIRECTORY_FILE == 0;
        let want_durable = o.durable.unwrap_or(self.config.request_durable);
        let lease_key = want_lease.then(|| {
            let mut key = [0u8; 16];
            self.rng.fill_bytes(&mut key);
            Guid(key)
        });
        let mut lease_state = 0;
        if want_lease {
            lease_state = LeaseState::READ_CACHING | LeaseState::HANDLE_CACHING;
            if o.desired_access & (access::GENERIC_WRITE | access::FILE_WRITE_DATA) != 0 {
                lease_state |= LeaseState::WRITE_CACHING;
            }
        }
        let create_guid = (want_durable && smb3).then(|| {
            let mut guid = [0u8; 16];
            self.rng.fill_bytes(&mut guid);
            Guid(guid)
        });
        let path = path.trim_start_matches('\\');
        let mut options = o.clone();
        // A @GMT token in the path names a previous version: SMB2 carries it as TWrp, not
        // in the name ([MS-SMB2] 2.2.13.2.7, [MS-SMB] 2.2.1.1.1). An explicit
        // `OpenOptions::snapshot` wins over the token.
        let path = match crate::wire::fsctl_fs::split_gmt_token(path) {
            Some((rest, time)) => {
                options.snapshot = options.snapshot.or(Some(time));
                rest
            }
            None => String::from(path),
        };
        CreateMemo {
            path,
            options,
            create_guid,
            lease_key,
            lease_state,
            // [MS-SMB2] 3.2.4.3.5: a v1 durable handle needs a lease with handle caching.
            durable_v1: want_durable && smb21 && want_lease,
        }
    }

    /// The CREATE of `memo`; with `reclaim`, the durable reconnect of the open whose FileId
    /// it was ([MS-SMB2] 3.2.4.4: the same name, options and lease, DH2C or DHnC instead of
    /// the request contexts).
    pub(super) fn create_request(
        &self,
        memo: &CreateMemo,
        reclaim: Option<(FileId, &Durable)>,
    ) -> CreateRequest {
        let smb3 = self.neg().is_some_and(|n| n.dialect.is_smb3());
        let o = &memo.options;
        let mut contexts = Vec::new();
        let mut oplock = OplockLevel::None;
        if let Some(key) = memo.lease_key {
            let state = LeaseState(memo.lease_state);
            let lease = if smb3 {
                Lease::V2 {
                    key,
                    state,
                    flags: 0,
                    parent_key: Guid::ZERO,
                    epoch: 0,
                }
            } else {
                Lease::V1 {
                    key,
                    state,
                    flags: 0,
                }
            };
            contexts.push(lease.into());
            oplock = OplockLevel::Lease;
        }
        match reclaim {
            Some((file_id, d)) if d.v2 => contexts.push(
                DurableHandleReconnectV2 {
                    file_id,
                    create_guid: d.create_guid,
                    flags: 0,
                }
                .into(),
            ),
            Some((file_id, _)) => contexts.push(DurableHandleReconnect { file_id }.into()),
            None => {
                if let Some(guid) = memo.create_guid {
                    contexts.push(
                        DurableHandleRequestV2 {
                            timeout: 0,
                            flags: 0,
                            create_guid: guid,
                        }
                        .into(),
                    );
                } else if memo.durable_v1 {
                    contexts.push(DurableHandleRequest.into());
                }
            }
        }
        if let Some(timestamp) = o.snapshot {
            // TWrp: open the previous version ([MS-SMB2] 2.2.13.2.7).
            contexts.push(crate::wire::create_context::TimewarpToken { timestamp }.into());
        }
        CreateRequest {
            oplock_level: oplock,
            impersonation: ImpersonationLevel::Impersonation,
            smb_create_flags: 0,
            desired_access: AccessMask(o.desired_access),
            file_attributes: WireAttrs(o.file_attributes),
            share_access: ShareAccess(o.share_access),
            // A reclaim opens what exists; it never creates or overwrites.
            disposition: if reclaim.is_some() {
                CreateDisposition::Open
            } else {
                CreateDisposition::from_u32(o.disposition).unwrap_or(CreateDisposition::Open)
            },
            options: CreateOptions(o.create_options),
            name: memo.path.clone(),
            contexts,
        }
    }

    /// The TREE_CONNECT of `tree`, or its FSCTL_VALIDATE_NEGOTIATE_INFO.
    pub(super) fn tcon_message(
        &self,
        ch: ChannelId,
        tree: TreeId,
        stage: &TconStage,
    ) -> Result<OutMsg, OpError> {
        let t = self
            .trees
            .get(&tree)
            .ok_or(OpError::new(ErrorKind::InvalidHandle))?;
        Ok(match stage {
            TconStage::Connect => {
                let path = alloc::format!("\\\\{}\\{}", self.server_name, t.share);
                let hdr = self.header(Command::TreeConnect, 0);
                let msg = encode_msg(&hdr, &TreeConnectRequest::new(path));
                self.out_msg(msg, None, Command::TreeConnect, 0, Part::Whole, 0)
            }
            TconStage::Validate(_) => {
                let req = self
                    .channels
                    .get(&ch)
                    .and_then(|c| c.sent_neg.clone())
                    .ok_or(OpError::new(ErrorKind::Protocol("no negotiate")))?;
                let input = req.to_bytes();
                let tw = t.wire_id;
                let hdr = self.header(Command::Ioctl, tw);
                let body = IoctlRequest {
                    ctl_code: fsctl::VALIDATE_NEGOTIATE_INFO,
                    file_id: FileId::RELATED,
                    input: &input,
                    output: &[],
                    max_input_response: 0,
                    // [MS-SMB2] 3.2.4.20.3: room for the 24-byte response.
                    max_output_response: 24,
                    flags: IoctlFlags(IoctlFlags::IS_FSCTL),
                };
                let msg = encode_msg(&hdr, &body);
                let mut m = self.out_msg(msg, None, Command::Ioctl, 24, Part::Validate, tw);
                // [MS-SMB2] 3.2.4.20.3: always signed (unless encrypted).
                m.sign = !m.encrypt && self.session.security.is_some();
                m
            }
        })
    }
}
