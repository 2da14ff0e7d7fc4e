//! The scripted server's CREATE: opens, durable reconnects, leases and the response.

use super::*;

impl Server {
    pub(super) fn create(
        &mut self,
        h: &Header,
        msg: &[u8],
        last_fid: &mut FileId,
    ) -> Option<Vec<(Header, Vec<u8>)>> {
        let req = CreateRequest::decode(msg).unwrap();
        self.creates.push((h.tree_id(), req.name.clone()));
        if let Some((_, data)) = self.symlinks.iter().find(|(p, _)| *p == req.name) {
            let data = data.clone();
            let rh = self.resp(h, NtStatus::STOPPED_ON_SYMLINK);
            let mut body = Vec::new();
            smb_core::wire::error::ErrorResponse {
                data: smb_core::wire::error::ErrorData::Plain(&data),
            }
            .encode(&mut body);
            return Some(vec![(rh, body)]);
        }
        let mut contexts: Vec<CreateContext> = Vec::new();
        // Durable reconnects ([MS-SMB2] 3.3.5.9.7 / 3.3.5.9.12).
        let dh2c = find::<DurableHandleReconnectV2>(&req.contexts).and_then(|r| r.ok());
        let dhnc = find::<DurableHandleReconnect>(&req.contexts).and_then(|r| r.ok());
        if let Some(fid) = dh2c
            .map(|d| (d.file_id, Some(d.create_guid)))
            .or(dhnc.map(|d| (d.file_id, None)))
        {
            if self.refuse_reclaims > 0 {
                self.refuse_reclaims -= 1;
                let rh = self.resp(h, NtStatus::OBJECT_NAME_NOT_FOUND);
                return Some(vec![(rh, error_body())]);
            }
            let sid = self.session_id;
            let found = self.opens.get_mut(&fid.0.volatile).filter(|o| {
                o.session == 0
                    && o.persistent == fid.0.persistent
                    && match fid.1 {
                        Some(g) => o.durable == Some(g),
                        None => o.durable == Some(Guid::ZERO),
                    }
            });
            let Some(o) = found else {
                let rh = self.resp(h, NtStatus::OBJECT_NAME_NOT_FOUND);
                return Some(vec![(rh, error_body())]);
            };
            o.session = sid;
            let name = o.name.clone();
            self.reclaimed += 1;
            *last_fid = fid.0;
            return Some(vec![self.create_response(h, fid.0, &name, true, contexts)]);
        }
        // A replayed CREATE with a known CreateGuid gets the same open back.
        let dh2q = find::<DurableHandleRequestV2>(&req.contexts).and_then(|r| r.ok());
        if let Some(d) = dh2q {
            let replay = h.flags.has(HeaderFlags::REPLAY_OPERATION);
            let existing = self
                .opens
                .iter()
                .find(|(_, o)| o.durable == Some(d.create_guid))
                .map(|(v, o)| (*v, o.persistent, o.name.clone()));
            if let Some((v, p, name)) = existing {
                if replay {
                    let fid = FileId {
                        persistent: p,
                        volatile: v,
                    };
                    if let Some(o) = self.opens.get_mut(&v) {
                        o.session = self.session_id;
                    }
                    *last_fid = fid;
                    contexts.push(
                        DurableHandleResponseV2 {
                            timeout: 60_000,
                            flags: 0,
                        }
                        .into(),
                    );
                    return Some(vec![self.create_response(h, fid, &name, true, contexts)]);
                }
            }
        }
        let exists = self.files.contains_key(&req.name);
        let disp = req.disposition as u32;
        if !exists && disp == 1 {
            let rh = self.resp(h, NtStatus::OBJECT_NAME_NOT_FOUND);
            return Some(vec![(rh, error_body())]);
        }
        if exists && disp == 2 {
            let rh = self.resp(h, NtStatus::OBJECT_NAME_COLLISION);
            return Some(vec![(rh, error_body())]);
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
        if self.cfg.grant_leases {
            if let Some(lease) =
                find::<smb_core::wire::create_context::Lease>(&req.contexts).and_then(|l| l.ok())
            {
                self.leases
                    .push((req.name.clone(), u128::from_le_bytes(lease.key().0)));
                contexts.push(lease.into());
            }
        }
        let mut durable = None;
        if self.cfg.durable {
            if let Some(d) = dh2q {
                durable = Some(d.create_guid);
                contexts.push(
                    DurableHandleResponseV2 {
                        timeout: 60_000,
                        flags: 0,
                    }
                    .into(),
                );
            } else if find::<DurableHandleRequest>(&req.contexts).is_some() {
                durable = Some(Guid::ZERO);
                contexts.push(DurableHandleResponse.into());
            }
        }
        self.opens.insert(
            fid.volatile,
            OpenFile {
                name: req.name.clone(),
                session: self.session_id,
                durable,
                persistent: fid.persistent,
            },
        );
        Some(vec![
            self.create_response(h, fid, &req.name, exists, contexts),
        ])
    }

    pub(super) fn create_response(
        &mut self,
        h: &Header,
        fid: FileId,
        name: &str,
        existed: bool,
        contexts: Vec<CreateContext>,
    ) -> (Header, Vec<u8>) {
        let size = self.files.get(name).map_or(0, |f| f.len() as u64);
        let rh = self.resp(h, NtStatus::SUCCESS);
        let body = body(&CreateResponse {
            oplock_level: OplockLevel::None,
            flags: CreateResponseFlags(0),
            action: if existed {
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
            contexts,
        });
        (rh, body)
    }
}
