//! Share-level operations written once for every adapter, each as few round trips as the
//! protocol allows (compounds of CREATE + ... + CLOSE, [MS-SMB2] 3.2.4.1.4).

use super::{DirStream, Submitter};
use crate::client::{
    ErrorKind, FileAttributes, FileHandle, OpError, OpenOptions, Request, Response, TreeId, access,
    create_options, share_access,
};
use crate::time::FileTime;
use crate::url::join_path;
use crate::wire::NtStatus;
use crate::wire::fscc::{
    FileAllInformation, FileBasicInformation, FileDispositionInformation, FileEndOfFileInformation,
    FileRenameInformation, FileStreamEntry, FileStreamInformation, FileTime as WireTime, FsccInfo,
};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::future::Future;
use core::pin::Pin;

/// InfoType FILE ([MS-SMB2] 2.2.37).
const INFO_FILE: u8 = 1;
/// FSCTL_SRV_REQUEST_RESUME_KEY ([MS-SMB2] 2.2.31).
const FSCTL_SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
/// FSCTL_SRV_COPYCHUNK_WRITE ([MS-SMB2] 2.2.31).
const FSCTL_SRV_COPYCHUNK_WRITE: u32 = 0x0014_80F2;
/// Chunk size and chunks per request within Samba's and Windows' defaults
/// ([MS-SMB2] 3.3.3: ServerSideCopyMaxChunkSize 1 MiB, MaxNumberOfChunks 16).
const COPY_CHUNK: u32 = 1 << 20;
const COPY_CHUNKS_PER_REQUEST: usize = 16;
/// Requests put in flight at once by recursive removal.
const REMOVE_BATCH: usize = 64;

/// Size, times and attributes of a file or directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// EndOfFile: the size in bytes.
    pub size: u64,
    /// AllocationSize in bytes.
    pub allocation_size: u64,
    /// FILE_ATTRIBUTE_* bits ([MS-FSCC] 2.6).
    pub attributes: u32,
    /// CreationTime.
    pub created: FileTime,
    /// LastAccessTime.
    pub accessed: FileTime,
    /// LastWriteTime.
    pub modified: FileTime,
    /// ChangeTime.
    pub changed: FileTime,
    /// The server's 64-bit file id (0 if unknown).
    pub file_id: u64,
    /// Number of hard links (0 if unknown).
    pub links: u32,
}

impl Metadata {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.attributes & 0x10 != 0
    }
    /// Not a directory.
    pub fn is_file(&self) -> bool {
        !self.is_dir()
    }
    /// FILE_ATTRIBUTE_READONLY.
    pub fn is_readonly(&self) -> bool {
        self.attributes & 0x1 != 0
    }
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }
    /// Size zero.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// From the attributes a CREATE response (or a directory entry) carries.
    pub fn from_attributes(a: &FileAttributes, file_id: u64) -> Self {
        Metadata {
            size: a.end_of_file,
            allocation_size: a.allocation_size,
            attributes: a.attributes,
            created: FileTime(a.creation_time),
            accessed: FileTime(a.last_access_time),
            modified: FileTime(a.last_write_time),
            changed: FileTime(a.change_time),
            file_id,
            links: 0,
        }
    }

    pub(crate) fn from_all(all: &FileAllInformation) -> Self {
        Metadata {
            size: all.standard.end_of_file,
            allocation_size: all.standard.allocation_size,
            attributes: all.basic.file_attributes,
            created: FileTime(all.basic.creation_time.0),
            accessed: FileTime(all.basic.last_access_time.0),
            modified: FileTime(all.basic.last_write_time.0),
            changed: FileTime(all.basic.change_time.0),
            file_id: all.internal.index_number,
            links: all.standard.number_of_links,
        }
    }
}

/// Split a compound's results: the first error wins (a CREATE failure makes the related
/// requests fail too, with a less useful status).
pub(super) fn compound(r: Result<Response, OpError>) -> Result<Vec<Response>, OpError> {
    match r? {
        Response::Compound(v) => v.into_iter().collect(),
        _ => Err(OpError::new(ErrorKind::Protocol(
            "expected a compound response",
        ))),
    }
}

/// The largest file [`ShareOps::read`] reads into memory (4 GiB); bigger files are streamed.
pub const MAX_WHOLE_FILE_READ: u64 = 4 << 30;

/// The READ of [`ShareOps::read`]'s first round trip, and the largest [`ShareOps::write`] sent
/// as one CREATE + WRITE + CLOSE: files up to this size take one compound (64 KiB:
/// CreditCharge 1, within every server's MaxReadSize and MaxWriteSize).
pub const SMALL_READ: u32 = 64 * 1024;

/// Run `f`, naming `operation` on `path` in its error ([`OpError::during`]).
pub(super) async fn during<T>(
    operation: &str,
    path: &str,
    f: impl Future<Output = Result<T, OpError>>,
) -> Result<T, OpError> {
    f.await.map_err(|e| e.during(operation, path))
}

/// [`during`] for an operation on two paths.
async fn during2<T>(
    operation: &str,
    from: &str,
    to: &str,
    f: impl Future<Output = Result<T, OpError>>,
) -> Result<T, OpError> {
    f.await.map_err(|e| e.during2(operation, from, to))
}

fn unexpected() -> OpError {
    OpError::new(ErrorKind::Protocol("unexpected response type"))
}

/// The pieces of a READ answer joined, if they hold exactly `size` bytes (a whole file as
/// its size was reported); `None` otherwise.
pub(super) fn exactly(pieces: &[Bytes], size: u64) -> Option<Vec<u8>> {
    let got: usize = pieces.iter().map(|d| d.len()).sum();
    (got as u64 == size).then(|| {
        let mut out = Vec::with_capacity(got);
        for d in pieces {
            out.extend_from_slice(d);
        }
        out
    })
}

/// Turn a user path into the SMB form (see [`crate::url::normalize_path`]).
pub(crate) fn smb_path(path: &str) -> Result<String, OpError> {
    crate::url::normalize_path(path).map_err(|_| {
        OpError::from_status(NtStatus::OBJECT_NAME_INVALID, crate::wire::Command::Create)
    })
}

/// How [`ShareOps::read`] opens a file: read only, no durable handle or lease (the handle
/// lives for one call).
fn whole_file_read() -> OpenOptions {
    OpenOptions::new()
        .read(true)
        .with_durable(false)
        .with_lease(false)
}

/// How [`ShareOps::write`] opens a file: created or truncated, no durable handle or lease.
fn whole_file_write() -> OpenOptions {
    OpenOptions::create_truncate()
        .with_durable(false)
        .with_lease(false)
}

/// The operations of one connected share, generic over the adapter's [`Submitter`].
/// Adapters wrap these in their public `Share` type and convert the errors.
#[derive(Clone, Debug)]
pub struct ShareOps<S> {
    /// How requests reach the driver.
    pub sub: S,
    /// The connected tree.
    pub tree: TreeId,
    /// The share is in a DFS namespace (SMB2_SHARE_CAP_DFS, [MS-SMB2] 2.2.10): a path on
    /// it may cross a DFS link.
    pub dfs: bool,
}

impl<S: Submitter> ShareOps<S> {
    /// Operations on `tree`.
    pub fn new(sub: S, tree: TreeId) -> Self {
        ShareOps {
            sub,
            tree,
            dfs: false,
        }
    }

    /// The operations of a share whose TREE_CONNECT answered `capabilities`
    /// (SMB2_SHARE_CAP_DFS sets [`dfs`](Self::dfs)).
    pub fn with_capabilities(mut self, capabilities: u32) -> Self {
        self.dfs = capabilities & crate::wire::tree_connect::ShareCapabilities::DFS != 0;
        self
    }

    fn create(&self, path: String, options: OpenOptions) -> Request {
        Request::Create {
            tree: self.tree,
            path,
            options,
        }
    }

    /// Open a file or directory; returns the handle and what CREATE reported.
    pub async fn open(
        &self,
        path: &str,
        options: OpenOptions,
    ) -> Result<(FileHandle, FileAttributes), OpError> {
        during("open", path, async {
            let path = smb_path(path)?;
            // A File of its own, with its own lease: the cached handle goes first (for a
            // writer, so that its changes are not hidden by the cache; for a reader, because
            // Samba 4.17 then fails the File's durable reconnect after a lost connection).
            self.invalidate_smb(path.clone()).await;
            match self.sub.submit(self.create(path, options)).await? {
                Response::Created {
                    file, attributes, ..
                } => Ok((file, attributes)),
                _ => Err(unexpected()),
            }
        })
        .await
    }

    /// Close a handle and wait for the result.
    pub async fn close(&self, file: FileHandle) -> Result<(), OpError> {
        self.sub.submit(Request::Close { file }).await.map(|_| ())
    }

    /// CREATE (stat access) + QUERY_INFO(`class`, [MS-SMB2] 2.2.37) + CLOSE in one round
    /// trip: what CREATE answered and the info buffer (`None` if the query failed).
    async fn query_path(
        &self,
        path: &str,
        class: u8,
        output_len: u32,
    ) -> Result<(Option<Response>, Option<Bytes>), OpError> {
        let path = smb_path(path)?;
        let req = Request::Compound(alloc::vec![
            self.create(path, OpenOptions::metadata_only()),
            Request::QueryInfo {
                file: FileHandle::RELATED,
                info_type: INFO_FILE,
                class,
                additional: 0,
                output_len,
            },
            Request::Close {
                file: FileHandle::RELATED
            },
        ]);
        let mut parts = compound(self.sub.submit(req).await)?.into_iter();
        let created = parts.next();
        match parts.next() {
            Some(Response::Info { data }) => Ok((created, Some(data))),
            _ => Ok((created, None)),
        }
    }

    /// Stat: CREATE + QUERY_INFO(FileAllInformation) + CLOSE in one round trip, or none
    /// while the lease cache holds the path (module `lease_cache`).
    pub async fn metadata(&self, path: &str) -> Result<Metadata, OpError> {
        during("metadata", path, async {
            if let Some(m) = self.cached_metadata(path).await? {
                return Ok(m);
            }
            match self
                .query_path(path, FileAllInformation::CLASS, 4096)
                .await?
            {
                (_, Some(data)) => {
                    let all = FileAllInformation::decode(&data)
                        .map_err(|_| OpError::new(ErrorKind::Protocol("bad FileAllInformation")))?;
                    Ok(Metadata::from_all(&all))
                }
                (Some(Response::Created { attributes, .. }), None) => {
                    Ok(Metadata::from_attributes(&attributes, 0))
                }
                _ => Err(unexpected()),
            }
        })
        .await
    }

    /// The data streams of a file or directory (FileStreamInformation, [MS-FSCC] 2.4.49):
    /// `::$DATA` is the unnamed one, `:name:$DATA` an alternate stream, opened as
    /// `path:name`. Empty on a server without streams support.
    pub async fn streams(&self, path: &str) -> Result<Vec<FileStreamEntry>, OpError> {
        during("streams", path, async {
            match self
                .query_path(path, FileStreamInformation::CLASS, 65536)
                .await?
            {
                (_, Some(data)) => FileStreamInformation::decode(&data)
                    .map(|i| i.streams)
                    .map_err(|_| OpError::new(ErrorKind::Protocol("bad FileStreamInformation"))),
                (Some(Response::Created { .. }), None) => Ok(Vec::new()),
                _ => Err(unexpected()),
            }
        })
        .await
    }

    /// Whether `path` exists (a NotFound answer is `false`, other errors are errors).
    pub async fn exists(&self, path: &str) -> Result<bool, OpError> {
        match self.metadata(path).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Open with `options` and close at once, in one compound (mkdir, delete-on-close).
    async fn open_close(&self, path: String, options: OpenOptions) -> Result<(), OpError> {
        let req = Request::Compound(alloc::vec![
            self.create(path, options),
            Request::Close {
                file: FileHandle::RELATED
            },
        ]);
        compound(self.sub.submit(req).await).map(|_| ())
    }

    /// Open with `options`, SET_INFO `data`, close: one compound.
    async fn set_info(
        &self,
        path: String,
        options: OpenOptions,
        class: u8,
        data: Vec<u8>,
    ) -> Result<(), OpError> {
        let req = Request::Compound(alloc::vec![
            self.create(path, options),
            Request::SetInfo {
                file: FileHandle::RELATED,
                info_type: INFO_FILE,
                class,
                additional: 0,
                data: Bytes::from(data),
            },
            Request::Close {
                file: FileHandle::RELATED
            },
        ]);
        compound(self.sub.submit(req).await).map(|_| ())
    }

    /// Create one directory (the parent must exist).
    pub async fn create_dir(&self, path: &str) -> Result<(), OpError> {
        during("create_dir", path, async {
            self.open_close(smb_path(path)?, OpenOptions::mkdir()).await
        })
        .await
    }

    /// Create a directory and its missing parents (`mkdir -p`). Tries the whole path first,
    /// so an existing parent chain costs one round trip.
    pub async fn create_dir_all(&self, path: &str) -> Result<(), OpError> {
        during("create_dir_all", path, async {
            let path = smb_path(path)?;
            if path.is_empty() {
                return Ok(());
            }
            match self.open_close(path.clone(), OpenOptions::mkdir()).await {
                Ok(()) => return Ok(()),
                Err(e) if e.kind == ErrorKind::AlreadyExists => {
                    return self.expect_dir(&path).await;
                }
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let mut prefix = String::new();
            for comp in path.split('\\') {
                prefix = join_path(&prefix, comp);
                match self.open_close(prefix.clone(), OpenOptions::mkdir()).await {
                    Ok(()) => {}
                    Err(e) if e.kind == ErrorKind::AlreadyExists => {
                        self.expect_dir(&prefix).await?
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
        .await
    }

    async fn expect_dir(&self, path: &str) -> Result<(), OpError> {
        if self.metadata(path).await?.is_dir() {
            Ok(())
        } else {
            Err(OpError::from_status(
                NtStatus::OBJECT_NAME_COLLISION,
                crate::wire::Command::Create,
            ))
        }
    }

    /// Delete a file: CREATE(delete-on-close) + CLOSE.
    pub async fn remove_file(&self, path: &str) -> Result<(), OpError> {
        during("remove_file", path, async {
            let opts = OpenOptions::delete_on_close().with_create_options(
                create_options::DELETE_ON_CLOSE | create_options::NON_DIRECTORY_FILE,
            );
            let path = smb_path(path)?;
            self.invalidate_smb(path.clone()).await;
            self.open_close(path, opts).await
        })
        .await
    }

    /// Delete an empty directory: CREATE + SET_INFO(FileDispositionInformation) + CLOSE, so
    /// that a non-empty directory fails with STATUS_DIRECTORY_NOT_EMPTY.
    pub async fn remove_dir(&self, path: &str) -> Result<(), OpError> {
        during("remove_dir", path, async {
            let path = smb_path(path)?;
            if path.is_empty() {
                return Err(OpError::new(ErrorKind::AccessDenied));
            }
            self.invalidate_smb(path.clone()).await;
            self.remove_dir_smb(path).await
        })
        .await
    }

    async fn remove_dir_smb(&self, path: String) -> Result<(), OpError> {
        let opts =
            OpenOptions::delete_on_close().with_create_options(create_options::DIRECTORY_FILE);
        let info = FileDispositionInformation {
            delete_pending: true,
        };
        self.set_info(
            path,
            opts,
            FileDispositionInformation::CLASS,
            info.to_bytes(),
        )
        .await
    }

    /// Delete a directory and everything in it. Files of one directory are removed with up
    /// to 64 requests in flight.
    pub fn remove_dir_all<'a>(
        &'a self,
        path: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), OpError>> + Send + 'a>> {
        Box::pin(during("remove_dir_all", path, async move {
            let path = smb_path(path)?;
            // Everything below goes: no cached handle may keep a file (or the tree) busy.
            self.invalidate_smb(path.clone()).await;
            let mut subdirs = Vec::new();
            let mut files = Vec::new();
            {
                let mut list = DirStream::open(self.sub.clone(), self.tree, &path, "*");
                while let Some(entry) = core::future::poll_fn(|cx| list.poll_next_entry(cx)).await {
                    let entry = entry?;
                    let child = join_path(&path, &entry.name);
                    if entry.attributes.is_directory() {
                        subdirs.push(child);
                    } else {
                        files.push(child);
                    }
                }
            }
            for dir in subdirs {
                self.remove_dir_all(&dir).await?;
            }
            let opts = OpenOptions::delete_on_close().with_create_options(
                create_options::DELETE_ON_CLOSE | create_options::NON_DIRECTORY_FILE,
            );
            for batch in files.chunks(REMOVE_BATCH) {
                // Submit the whole batch, then collect: the requests are in flight together.
                let replies: Vec<_> = batch
                    .iter()
                    .map(|f| {
                        self.sub.submit(Request::Compound(alloc::vec![
                            self.create(f.clone(), opts.clone()),
                            Request::Close {
                                file: FileHandle::RELATED
                            },
                        ]))
                    })
                    .collect();
                let mut first_err = None;
                for r in replies {
                    if let Err(e) = compound(r.await) {
                        first_err.get_or_insert(e);
                    }
                }
                if let Some(e) = first_err {
                    return Err(e);
                }
            }
            if path.is_empty() {
                return Ok(());
            }
            self.remove_dir_smb(path).await
        }))
    }

    /// Rename (move) `from` to `to` within the share: CREATE(DELETE) + SET_INFO(rename) +
    /// CLOSE. An existing `to` is replaced when `replace` is set (not for directories).
    pub async fn rename(&self, from: &str, to: &str, replace: bool) -> Result<(), OpError> {
        during2("rename", from, to, async {
            let from = smb_path(from)?;
            let to = smb_path(to)?;
            self.invalidate_smb(from.clone()).await;
            self.invalidate_smb(to.clone()).await;
            let opts = OpenOptions::delete_on_close()
                .with_access(access::DELETE | access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE)
                .with_create_options(0);
            let info = FileRenameInformation {
                replace_if_exists: replace,
                root_directory: 0,
                file_name: to,
            };
            self.set_info(from, opts, FileRenameInformation::CLASS, info.to_bytes())
                .await
        })
        .await
    }

    /// Truncate or extend: CREATE + SET_INFO(FileEndOfFileInformation) + CLOSE.
    pub async fn set_len(&self, path: &str, len: u64) -> Result<(), OpError> {
        during("set_len", path, async {
            let opts = OpenOptions::new()
                .read(true)
                .with_access(access::FILE_WRITE_DATA | access::SYNCHRONIZE)
                .with_share_access(share_access::ALL)
                .with_durable(false)
                .with_lease(false);
            let info = FileEndOfFileInformation { end_of_file: len };
            self.invalidate(path).await;
            self.set_info(
                smb_path(path)?,
                opts,
                FileEndOfFileInformation::CLASS,
                info.to_bytes(),
            )
            .await
        })
        .await
    }

    /// Set times (`None` leaves a time unchanged): CREATE + SET_INFO(FileBasicInformation)
    /// + CLOSE.
    pub async fn set_times(
        &self,
        path: &str,
        accessed: Option<FileTime>,
        modified: Option<FileTime>,
        created: Option<FileTime>,
    ) -> Result<(), OpError> {
        during("set_times", path, async {
            let t = |x: Option<FileTime>| WireTime(x.map_or(0, |t| t.0));
            self.set_basic(path, [t(created), t(accessed), t(modified)], 0)
                .await
        })
        .await
    }

    /// CREATE + SET_INFO(FileBasicInformation, [MS-FSCC] 2.4.7: `[creation, access, write]`
    /// times and attributes, 0 = unchanged) + CLOSE.
    async fn set_basic(
        &self,
        path: &str,
        [created, accessed, modified]: [WireTime; 3],
        file_attributes: u32,
    ) -> Result<(), OpError> {
        let opts = OpenOptions::metadata_only()
            .with_access(access::FILE_WRITE_ATTRIBUTES | access::SYNCHRONIZE);
        self.invalidate(path).await;
        let info = FileBasicInformation {
            creation_time: created,
            last_access_time: accessed,
            last_write_time: modified,
            change_time: WireTime(0),
            file_attributes,
        };
        self.set_info(
            smb_path(path)?,
            opts,
            FileBasicInformation::CLASS,
            info.to_bytes(),
        )
        .await
    }

    /// Replace the FILE_ATTRIBUTE_* bits of `path` ([`file_attributes`](crate::client::file_attributes):
    /// read-only, hidden, system, archive...): CREATE + SET_INFO(FileBasicInformation,
    /// [MS-FSCC] 2.4.7, times left unchanged) + CLOSE. The DIRECTORY bit is kept as the
    /// object is; an empty mask is sent as FILE_ATTRIBUTE_NORMAL (0 would mean "unchanged").
    pub async fn set_attributes(&self, path: &str, attributes: u32) -> Result<(), OpError> {
        during("set_attributes", path, async {
            let attrs = attributes & !crate::client::file_attributes::DIRECTORY;
            let keep = [WireTime(0); 3];
            self.set_basic(path, keep, super::meta::nonzero_attributes(attrs))
                .await
        })
        .await
    }

    /// Set or clear read-only (like `std::fs::set_permissions`), keeping the other
    /// attributes: a stat, then [`ShareOps::set_attributes`] (two round trips).
    pub async fn set_permissions(
        &self,
        path: &str,
        perms: super::Permissions,
    ) -> Result<(), OpError> {
        during("set_permissions", path, async {
            let current = self.metadata(path).await?.attributes;
            self.set_attributes(path, perms.apply_to(current)).await
        })
        .await
    }

    /// Read a whole file into memory (for small files; stream big ones through a file).
    /// While the lease cache holds the path, no request (module `lease_cache`).
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, OpError> {
        during("read", path, async {
            if let Some(data) = self.cached_read(path).await? {
                return Ok(data);
            }
            if let Some(data) = self.read_small(path).await? {
                return Ok(data);
            }
            let (file, attrs) = self.open(path, whole_file_read()).await?;
            let result = self
                .read_all(file, attrs.end_of_file, MAX_WHOLE_FILE_READ)
                .await;
            let closed = self.close(file).await;
            let data = result?;
            closed?;
            Ok(data)
        })
        .await
    }

    /// A small file in one round trip: CREATE + READ of [`SMALL_READ`] bytes + CLOSE, related
    /// ([MS-SMB2] 3.2.4.1.4). `None` when the file turned out larger than that READ (the
    /// caller then reads it through an open handle); an error of the CREATE (not found, a DFS
    /// link, ...) is the answer.
    async fn read_small(&self, path: &str) -> Result<Option<Vec<u8>>, OpError> {
        let path = smb_path(path)?;
        let req = Request::Compound(alloc::vec![
            self.create(path, whole_file_read()),
            Request::Read {
                file: FileHandle::RELATED,
                offset: 0,
                len: SMALL_READ,
            },
            Request::Close {
                file: FileHandle::RELATED
            },
        ]);
        let Response::Compound(parts) = self.sub.submit(req).await? else {
            return Err(unexpected());
        };
        let mut parts = parts.into_iter();
        let size = match parts.next().ok_or_else(unexpected)?? {
            Response::Created { attributes, .. } => attributes.end_of_file,
            _ => return Err(unexpected()),
        };
        match parts.next().ok_or_else(unexpected)? {
            // The whole file came back: what CREATE reported is what arrived.
            Ok(Response::Read { data, .. }) => Ok(exactly(&data, size)),
            // An empty file: READ at offset 0 answers STATUS_END_OF_FILE ([MS-SMB2] 3.3.5.12).
            Err(e) if size == 0 && e.status == Some(NtStatus::END_OF_FILE) => Ok(Some(Vec::new())),
            // Anything else (a size that moved, a READ refused): the careful path decides.
            _ => Ok(None),
        }
    }

    /// The whole of `file` (`size` as the server reported it), refused past `limit` bytes
    /// (reported or actually sent).
    pub(super) async fn read_all(
        &self,
        file: FileHandle,
        size: u64,
        limit: u64,
    ) -> Result<Vec<u8>, OpError> {
        // The size is the server's word: refuse what could not be held rather than trying,
        // and reserve little up front so a lying size costs nothing.
        if size > limit {
            let mut e = OpError::new(ErrorKind::TooLarge);
            e.context = Some(format!(
                "the server reports {size} bytes; read() holds at most {limit}, \
                 stream bigger files through a File"
            ));
            return Err(e);
        }
        let mut out = Vec::with_capacity(size.min(8 << 20) as usize);
        let mut offset = 0u64;
        loop {
            // Ask for what the file holds plus a little, so a growing file is read to its end.
            let want = (size.saturating_sub(offset).max(64 * 1024)).min(u32::MAX as u64 / 2) as u32;
            match self
                .sub
                .submit(Request::Read {
                    file,
                    offset,
                    len: want,
                })
                .await
            {
                Ok(Response::Read { data, eof }) => {
                    let got: usize = data.iter().map(|b| b.len()).sum();
                    if (out.len() + got) as u64 > limit {
                        let mut e = OpError::new(ErrorKind::TooLarge);
                        e.context =
                            Some(format!("the file grew past {limit} bytes while being read"));
                        return Err(e);
                    }
                    for b in &data {
                        out.extend_from_slice(b);
                    }
                    offset += got as u64;
                    if eof || got == 0 {
                        return Ok(out);
                    }
                }
                Ok(_) => return Err(unexpected()),
                Err(e) if e.status == Some(NtStatus::END_OF_FILE) => return Ok(out),
                Err(e) => return Err(e),
            }
        }
    }

    /// Create or truncate a file and write `data` to it.
    pub async fn write(&self, path: &str, data: Bytes) -> Result<(), OpError> {
        during("write", path, async {
            self.invalidate(path).await;
            if data.len() <= SMALL_READ as usize && self.write_small(path, data.clone()).await? {
                return Ok(());
            }
            let (file, _) = self.open(path, whole_file_write()).await?;
            let result = self.write_all_at(file, 0, data).await;
            let closed = self.close(file).await;
            result?;
            closed
        })
        .await
    }

    /// A small file in one round trip: CREATE (create or truncate) + WRITE + CLOSE, related
    /// ([MS-SMB2] 3.2.4.1.4). `false` when the server acknowledged less than all of `data`
    /// (the caller then writes it again through an open handle); any error is the answer.
    async fn write_small(&self, path: &str, data: Bytes) -> Result<bool, OpError> {
        let path = smb_path(path)?;
        let len = data.len() as u64;
        let mut parts = alloc::vec![self.create(path, whole_file_write())];
        if len > 0 {
            parts.push(Request::Write {
                file: FileHandle::RELATED,
                offset: 0,
                data,
            });
        }
        parts.push(Request::Close {
            file: FileHandle::RELATED,
        });
        let Response::Compound(answers) = self.sub.submit(Request::Compound(parts)).await? else {
            return Err(unexpected());
        };
        let mut answers = answers.into_iter();
        answers.next().ok_or_else(unexpected)??;
        if len > 0 {
            match answers.next().ok_or_else(unexpected)?? {
                Response::Written { count } if count == len => {}
                // A short WRITE: the compound's CLOSE already ran; write it all again.
                Response::Written { .. } => return Ok(false),
                _ => return Err(unexpected()),
            }
        }
        // The CLOSE's answer counts too: no error of the upload is dropped.
        answers.next().ok_or_else(unexpected)??;
        Ok(true)
    }

    /// Write all of `data` at `offset` (the engine splits and pipelines it).
    pub async fn write_all_at(
        &self,
        file: FileHandle,
        offset: u64,
        data: Bytes,
    ) -> Result<(), OpError> {
        if data.is_empty() {
            return Ok(());
        }
        let len = data.len() as u64;
        match self
            .sub
            .submit(Request::Write { file, offset, data })
            .await?
        {
            Response::Written { count } if count == len => Ok(()),
            Response::Written { .. } => Err(OpError::new(ErrorKind::Protocol("short write"))),
            _ => Err(unexpected()),
        }
    }

    /// Copy `from` to `to` (created or truncated). Uses server-side copy
    /// (FSCTL_SRV_COPYCHUNK_WRITE, [MS-SMB2] 3.2.4.20.2) when the server supports it, else
    /// streams the data through the client with a bounded window. Returns the bytes copied.
    pub async fn copy(&self, from: &str, to: &str) -> Result<u64, OpError> {
        self.copy_into(from, self, to, true).await
    }

    /// Copy `from` of this share to `to` of `dst` (another share, possibly of another
    /// server: created or truncated), streaming the data through the client with a bounded
    /// window (a server-side copy cannot span them). Returns the bytes copied.
    pub async fn copy_to(&self, from: &str, dst: &ShareOps<S>, to: &str) -> Result<u64, OpError> {
        self.copy_into(from, dst, to, false).await
    }

    async fn copy_into(
        &self,
        from: &str,
        dst_ops: &ShareOps<S>,
        to: &str,
        server_side: bool,
    ) -> Result<u64, OpError> {
        during2("copy", from, to, async {
            self.invalidate(to).await;
            let read_opts = OpenOptions::new()
                .read(true)
                .with_durable(false)
                .with_lease(false);
            let (src, attrs) = self.open(from, read_opts).await?;
            let dst = match dst_ops
                .open(
                    to,
                    OpenOptions::create_truncate()
                        .with_durable(false)
                        .with_lease(false),
                )
                .await
            {
                Ok((f, _)) => f,
                Err(e) => {
                    let _ = self.close(src).await;
                    return Err(e);
                }
            };
            let size = attrs.end_of_file;
            let result = match server_side {
                true => match self.server_copy(src, dst, size).await {
                    Ok(n) => Ok(n),
                    Err(e) if copychunk_unsupported(&e) => {
                        self.stream_copy(src, dst_ops, dst).await
                    }
                    Err(e) => Err(e),
                },
                false => self.stream_copy(src, dst_ops, dst).await,
            };
            let c1 = self.close(src).await;
            let c2 = dst_ops.close(dst).await;
            let n = result?;
            c1?;
            c2?;
            Ok(n)
        })
        .await
    }

    async fn server_copy(
        &self,
        src: FileHandle,
        dst: FileHandle,
        size: u64,
    ) -> Result<u64, OpError> {
        let key = match self
            .sub
            .submit(Request::Ioctl {
                tree: self.tree,
                file: Some(src),
                ctl_code: FSCTL_SRV_REQUEST_RESUME_KEY,
                input: Bytes::new(),
                max_output: 32,
                fsctl: true,
            })
            .await?
        {
            // SRV_REQUEST_RESUME_KEY response ([MS-SMB2] 2.2.32.3): ResumeKey (24 bytes), ...
            Response::Ioctl { output, .. } if output.len() >= 24 => output.slice(0..24),
            _ => return Err(OpError::new(ErrorKind::Protocol("bad resume key response"))),
        };
        let mut offset = 0u64;
        while offset < size {
            // SRV_COPYCHUNK_COPY ([MS-SMB2] 2.2.31.1): SourceKey, ChunkCount, Reserved,
            // then SRV_COPYCHUNK entries (SourceOffset, TargetOffset, Length, Reserved).
            let mut input = BytesMut::with_capacity(32 + 24 * COPY_CHUNKS_PER_REQUEST);
            input.extend_from_slice(&key);
            let mut chunks = Vec::new();
            let mut o = offset;
            while o < size && chunks.len() < COPY_CHUNKS_PER_REQUEST {
                let len = (size - o).min(COPY_CHUNK as u64) as u32;
                chunks.push((o, len));
                o += len as u64;
            }
            input.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
            input.extend_from_slice(&0u32.to_le_bytes());
            for (o, len) in &chunks {
                input.extend_from_slice(&o.to_le_bytes());
                input.extend_from_slice(&o.to_le_bytes());
                input.extend_from_slice(&len.to_le_bytes());
                input.extend_from_slice(&0u32.to_le_bytes());
            }
            let out = match self
                .sub
                .submit(Request::Ioctl {
                    tree: self.tree,
                    file: Some(dst),
                    ctl_code: FSCTL_SRV_COPYCHUNK_WRITE,
                    input: input.freeze(),
                    max_output: 12,
                    fsctl: true,
                })
                .await?
            {
                Response::Ioctl { output, .. } => output,
                _ => return Err(unexpected()),
            };
            // SRV_COPYCHUNK_RESPONSE ([MS-SMB2] 2.2.32.1): ChunksWritten, ChunkBytesWritten,
            // TotalBytesWritten.
            if out.len() < 12 {
                return Err(OpError::new(ErrorKind::Protocol("bad copychunk response")));
            }
            let total = u32::from_le_bytes([out[8], out[9], out[10], out[11]]) as u64;
            if total == 0 {
                return Err(OpError::new(ErrorKind::Protocol("server copied nothing")));
            }
            offset += total;
        }
        Ok(size)
    }

    /// Read `src` of this share and write it to `dst` of `dst_ops` (this share or another).
    async fn stream_copy(
        &self,
        src: FileHandle,
        dst_ops: &ShareOps<S>,
        dst: FileHandle,
    ) -> Result<u64, OpError> {
        const PIECE: u32 = 1 << 20;
        const WINDOW: usize = 4;
        let mut offset = 0u64;
        let mut writes: alloc::collections::VecDeque<(S::Reply, u64)> = Default::default();
        loop {
            let data = match self
                .sub
                .submit(Request::Read {
                    file: src,
                    offset,
                    len: PIECE,
                })
                .await
            {
                Ok(Response::Read { data, .. }) => data,
                Ok(_) => return Err(unexpected()),
                Err(e) if e.status == Some(NtStatus::END_OF_FILE) => Vec::new(),
                Err(e) => return Err(e),
            };
            let got: usize = data.iter().map(|b| b.len()).sum();
            if got == 0 {
                break;
            }
            let mut buf = BytesMut::with_capacity(got);
            for b in &data {
                buf.extend_from_slice(b);
            }
            let w = dst_ops.sub.submit(Request::Write {
                file: dst,
                offset,
                data: buf.freeze(),
            });
            writes.push_back((w, got as u64));
            offset += got as u64;
            if writes.len() >= WINDOW {
                let (w, n) = writes.pop_front().unwrap_or_else(|| unreachable!());
                check_written(w.await, n)?;
            }
        }
        while let Some((w, n)) = writes.pop_front() {
            check_written(w.await, n)?;
        }
        Ok(offset)
    }
}

fn check_written(r: Result<Response, OpError>, want: u64) -> Result<(), OpError> {
    match r? {
        Response::Written { count } if count == want => Ok(()),
        Response::Written { .. } => Err(OpError::new(ErrorKind::Protocol("short write"))),
        _ => Err(unexpected()),
    }
}

fn copychunk_unsupported(e: &OpError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Unsupported | ErrorKind::Status | ErrorKind::Protocol(_)
    ) || matches!(
        e.status,
        Some(NtStatus::INVALID_DEVICE_REQUEST) | Some(NtStatus::NOT_SUPPORTED)
    )
}
