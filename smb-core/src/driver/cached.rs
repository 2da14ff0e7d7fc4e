//! The share operations' side of the lease cache (module `lease_cache`): `metadata`,
//! `exists` and `read` ask the driver first, open with a read-and-handle lease on a miss
//! and hand the handle over; changes through this client invalidate first.

use super::lease_cache::{LeaseCacheAnswer, LeaseCacheOp, MAX_CACHED_FILE};
use super::ops::{MAX_WHOLE_FILE_READ, Metadata, SMALL_READ, exactly, smb_path};
use super::{ShareOps, Submitter};
use crate::client::{
    ErrorKind, FileHandle, OpError, OpenOptions, Request, Response, create_options, share_access,
};
use crate::wire::NtStatus;
use crate::wire::fscc::{FileAllInformation, FsccInfo};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// InfoType FILE ([MS-SMB2] 2.2.37).
const INFO_FILE: u8 = 1;

/// How a cached handle is opened: read access (a server grants no lease to an open that
/// only reads attributes), a lease (R|H for a reader, [MS-SMB2] 2.2.13.2.8), no durable
/// handle, and others may read and write but not delete: another client's delete or
/// rename then meets a sharing conflict, for which the server first breaks the H lease
/// and waits for the handle to close ([MS-SMB2] 3.3.1.4, HANDLE caching).
/// With FILE_SHARE_DELETE granted, Samba 4.17 breaks nothing: the other client's delete
/// stays pending (STATUS_DELETE_PENDING) until the cached handle closes. `dir_ok`: the
/// path may be a directory (metadata); a read wants a file.
fn cached_open(dir_ok: bool) -> OpenOptions {
    let options = if dir_ok {
        0
    } else {
        create_options::NON_DIRECTORY_FILE
    };
    OpenOptions::new()
        .read(true)
        .with_share_access(share_access::READ | share_access::WRITE)
        .with_create_options(options)
        .with_durable(false)
        .with_lease(true)
}

/// What a lease open brought back.
struct Opened {
    metadata: Metadata,
    /// The whole file (a read that fit in its first READ).
    data: Option<Vec<u8>>,
}

impl<S: Submitter> ShareOps<S> {
    async fn cache(&self, op: LeaseCacheOp) -> Option<LeaseCacheAnswer> {
        match self.sub.submit(Request::LeaseCache(op)).await {
            Ok(Response::LeaseCache(a)) => Some(a),
            // A submitter without a driver's cache (a test fake, say): nothing is cached.
            _ => None,
        }
    }

    async fn lookup(&self, path: &str) -> Option<LeaseCacheAnswer> {
        self.cache(LeaseCacheOp::Lookup {
            tree: self.tree,
            path: String::from(path),
        })
        .await
    }

    /// Forget what the cache holds for `path` and below, its handles closed, before a
    /// change through this client (which would otherwise break the client's own lease or
    /// meet its own open: a rename or delete of a directory with an open file inside fails).
    pub(super) async fn invalidate(&self, path: &str) {
        if let Ok(path) = smb_path(path) {
            self.invalidate_smb(path).await;
        }
    }

    /// [`ShareOps::invalidate`] of a path already in the SMB form.
    pub(super) async fn invalidate_smb(&self, path: String) {
        let op = LeaseCacheOp::Invalidate {
            tree: self.tree,
            path,
        };
        // The answer comes once the CLOSEs are done; its content does not matter.
        let _ = self.sub.submit(Request::LeaseCache(op)).await;
    }

    /// `metadata` from the cache, or through a lease open that is then cached. `None`:
    /// not cacheable here, the caller takes the plain path.
    pub(super) async fn cached_metadata(&self, path: &str) -> Result<Option<Metadata>, OpError> {
        let path = smb_path(path)?;
        match self.lookup(&path).await {
            Some(LeaseCacheAnswer::Hit { metadata, .. }) => Ok(Some(metadata)),
            Some(LeaseCacheAnswer::Miss { cacheable: true }) => {
                Ok(self.lease_open(path, false).await?.map(|o| o.metadata))
            }
            _ => Ok(None),
        }
    }

    /// `read` from the cache (the bytes, or the cached handle to read through), or through
    /// a lease open that is then cached. `None`: the caller takes the plain path.
    pub(super) async fn cached_read(&self, path: &str) -> Result<Option<Vec<u8>>, OpError> {
        let path = smb_path(path)?;
        let (file, size) = match self.lookup(&path).await {
            Some(LeaseCacheAnswer::Hit {
                data: Some(data), ..
            }) => return Ok(Some(data.to_vec())),
            Some(LeaseCacheAnswer::Hit { file, metadata, .. }) => (file, metadata.size),
            Some(LeaseCacheAnswer::Miss { cacheable: true }) => {
                match self.lease_open(path.clone(), true).await? {
                    None => return Ok(None),
                    Some(Opened {
                        data: Some(data), ..
                    }) => return Ok(Some(data)),
                    // Bigger than the first READ: read through the handle if it was kept.
                    Some(Opened { .. }) => match self.lookup(&path).await {
                        Some(LeaseCacheAnswer::Hit { file, metadata, .. }) => (file, metadata.size),
                        _ => return Ok(None),
                    },
                }
            }
            _ => return Ok(None),
        };
        match self.read_handle(file, size).await {
            Ok(data) => {
                if data.len() <= MAX_CACHED_FILE {
                    let op = LeaseCacheOp::StoreData {
                        tree: self.tree,
                        path,
                        file,
                        data: Bytes::copy_from_slice(&data),
                    };
                    self.cache(op).await;
                }
                Ok(Some(data))
            }
            Err(e) if e.kind == ErrorKind::TooLarge => Err(e),
            // The handle went away meanwhile (a break closed it): read the plain way.
            Err(_) => Ok(None),
        }
    }

    /// The whole file behind a cached handle, `size` bytes as the lease vouches: a small
    /// file in one READ of exactly its size (no READ past the end to learn where it is).
    async fn read_handle(&self, file: FileHandle, size: u64) -> Result<Vec<u8>, OpError> {
        if size == 0 {
            return Ok(Vec::new());
        }
        if size <= u64::from(SMALL_READ) {
            let req = Request::Read {
                file,
                offset: 0,
                len: size as u32,
            };
            if let Response::Read { data, .. } = self.sub.submit(req).await? {
                if let Some(out) = exactly(&data, size) {
                    return Ok(out);
                }
            }
        }
        self.read_all(file, size, MAX_WHOLE_FILE_READ).await
    }

    /// CREATE with a lease + QUERY_INFO(FileAllInformation) (+ READ of [`SMALL_READ`] bytes
    /// for `read`), related, without CLOSE ([MS-SMB2] 3.2.4.1.4): the handle goes to the
    /// driver's cache, which keeps it if the lease allows and closes it otherwise. `None`
    /// when the open was refused for its read access or a sharing conflict (a stat-only
    /// open may still succeed: the caller takes the plain path).
    async fn lease_open(&self, path: String, read: bool) -> Result<Option<Opened>, OpError> {
        let mut parts = alloc::vec![
            Request::Create {
                tree: self.tree,
                path: path.clone(),
                options: cached_open(!read),
            },
            Request::QueryInfo {
                file: FileHandle::RELATED,
                info_type: INFO_FILE,
                class: FileAllInformation::CLASS,
                additional: 0,
                output_len: 4096,
            },
        ];
        if read {
            parts.push(Request::Read {
                file: FileHandle::RELATED,
                offset: 0,
                len: SMALL_READ,
            });
        }
        let Response::Compound(answers) = self.sub.submit(Request::Compound(parts)).await? else {
            return Err(OpError::new(ErrorKind::Protocol(
                "expected a compound response",
            )));
        };
        let mut answers = answers.into_iter();
        let (file, attributes) = match answers.next() {
            Some(Ok(Response::Created {
                file, attributes, ..
            })) => (file, attributes),
            Some(Err(e))
                if matches!(e.kind, ErrorKind::AccessDenied)
                    || e.status == Some(NtStatus::SHARING_VIOLATION) =>
            {
                return Ok(None);
            }
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(OpError::new(ErrorKind::Protocol(
                    "unexpected response type",
                )));
            }
        };
        let metadata = match answers.next() {
            Some(Ok(Response::Info { data })) => FileAllInformation::decode(&data)
                .map(|all| Metadata::from_all(&all))
                .unwrap_or_else(|_| Metadata::from_attributes(&attributes, 0)),
            _ => Metadata::from_attributes(&attributes, 0),
        };
        let data = match answers.next() {
            // The whole file came back: what CREATE reported is what arrived.
            Some(Ok(Response::Read { data, .. })) => exactly(&data, metadata.size),
            // An empty file: READ at offset 0 answers STATUS_END_OF_FILE ([MS-SMB2] 3.3.5.12).
            Some(Err(e)) if metadata.size == 0 && e.status == Some(NtStatus::END_OF_FILE) => {
                Some(Vec::new())
            }
            _ => None,
        };
        let insert = LeaseCacheOp::Insert {
            tree: self.tree,
            path,
            file,
            metadata,
            data: data.as_deref().map(Bytes::copy_from_slice),
        };
        if self.cache(insert).await.is_none() {
            // No driver took the handle: do not leave it open.
            let _ = self.close(file).await;
        }
        Ok(Some(Opened { metadata, data }))
    }
}
