//! A directory listing fetched page by page with QUERY_DIRECTORY ([MS-SMB2] 3.2.4.17): the
//! next page is requested only when the previous one has been consumed, so a huge directory
//! never sits in memory whole.

use super::Submitter;
use super::ops::smb_path;
use crate::client::{
    DirEntry, ErrorKind, FileHandle, OpError, OpenOptions, Request, Response, TreeId,
};
use crate::wire::NtStatus;
use alloc::collections::{BTreeSet, VecDeque};
use alloc::string::String;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// FileIdBothDirectoryInformation ([MS-FSCC] 2.4.17).
const CLASS_ID_BOTH: u8 = 0x25;
/// OutputBufferLength asked for each page: 1 MiB, so 10,000 names take 2 round trips rather
/// than 19 with 64 KiB pages. The engine clamps it to the server's MaxTransactSize (64 KiB on
/// SMB 2.0.2, [MS-SMB2] 3.3.5.4), so it is safe on every dialect; a page is decoded and
/// handed out entry by entry, never more than one page held.
pub const DIR_PAGE_LEN: u32 = 1024 * 1024;

/// The most entries one listing returns before it is refused as endless (a server that
/// never says STATUS_NO_MORE_FILES). Ten million names: far past any real directory.
pub const MAX_LISTING_ENTRIES: u64 = 10_000_000;

/// The opening of a directory: its CREATE in flight, or a path refused before sending
/// (reported once). Shared by listings and watches.
pub(super) enum DirOpen<R> {
    Failed(Option<OpError>),
    Opening(R),
}

/// Send the CREATE of directory `path` (user form).
pub(super) fn open_dir<S: Submitter>(sub: &S, tree: TreeId, path: &str) -> DirOpen<S::Reply> {
    match smb_path(path) {
        Ok(p) => DirOpen::Opening(sub.submit(Request::Create {
            tree,
            path: p,
            options: OpenOptions::directory(),
        })),
        Err(e) => DirOpen::Failed(Some(e)),
    }
}

impl<R: Future<Output = Result<Response, OpError>> + Unpin> DirOpen<R> {
    /// The handle once the CREATE succeeded, or its error (a refused path: once, then
    /// pending for ever; callers stop polling after an error).
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<FileHandle, OpError>> {
        match self {
            DirOpen::Failed(e) => match e.take() {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            DirOpen::Opening(reply) => Pin::new(reply).poll(cx).map(|r| match r? {
                Response::Created { file, .. } => Ok(file),
                _ => Err(OpError::new(ErrorKind::Protocol(
                    "unexpected response to CREATE",
                ))),
            }),
        }
    }

    /// Given up before the CREATE was seen to complete: dropping its reply tells the driver
    /// nobody waits, and the driver closes the handle when the CREATE succeeds. Its answer
    /// may already sit in the reply, though (delivered, not yet polled): then the handle is
    /// ours to close.
    pub(super) fn abandon<S: Submitter<Reply = R>>(self, sub: &S) {
        if let DirOpen::Opening(mut reply) = self {
            let mut cx = Context::from_waker(core::task::Waker::noop());
            if let Poll::Ready(Ok(Response::Created { file, .. })) =
                Pin::new(&mut reply).poll(&mut cx)
            {
                drop(sub.submit(Request::Close { file }));
            }
        }
    }
}

enum State<R> {
    /// CREATE sent (or the path refused).
    Open(DirOpen<R>),
    /// A page is requested (or none while entries are buffered).
    Listing {
        file: FileHandle,
        page: Option<R>,
        first: bool,
    },
    /// Done (handle closed in the background).
    Done,
}

/// A paged directory listing. `.` and `..` are skipped. Dropping it before the end closes the
/// directory handle in the background.
pub struct DirStream<S: Submitter> {
    sub: S,
    state: State<S::Reply>,
    entries: VecDeque<DirEntry>,
    page_len: u32,
    pattern: String,
    /// The directory as the user named it, for error messages.
    path: String,
    /// A digest of every page seen: a server sending the same page again (a listing that
    /// would never end) is refused at the first repeat.
    pages_seen: BTreeSet<u64>,
    listed: u64,
    max_entries: u64,
}

/// FNV-1a over a page's names and file ids: identical pages give identical digests.
fn page_digest(entries: &[DirEntry]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for e in entries {
        eat(e.name.as_bytes());
        eat(&[0]);
        eat(&e.file_id.to_le_bytes());
    }
    h
}

impl<S: Submitter> DirStream<S> {
    /// Start listing `path` (user form, `/` or `\` separated) matching `pattern` (`"*"`).
    pub fn open(sub: S, tree: TreeId, path: &str, pattern: &str) -> Self {
        let state = State::Open(open_dir(&sub, tree, path));
        DirStream {
            sub,
            state,
            entries: VecDeque::new(),
            page_len: DIR_PAGE_LEN,
            pattern: String::from(pattern),
            path: String::from(path),
            pages_seen: BTreeSet::new(),
            listed: 0,
            max_entries: MAX_LISTING_ENTRIES,
        }
    }

    /// Refuse the listing once it passes `n` entries (default: 10 million, `MAX_LISTING_ENTRIES`).
    pub fn with_max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// Use pages of `len` bytes (at least 4 KiB).
    pub fn with_page_len(mut self, len: u32) -> Self {
        self.page_len = len.max(4096);
        self
    }

    fn finish(&mut self) {
        if let State::Listing { file, .. } = self.state {
            drop(self.sub.submit(Request::Close { file }));
        }
        self.state = State::Done;
    }

    /// The name pattern it lists.
    #[cfg(feature = "std")]
    pub(super) fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The next entry, `None` at the end. Errors end the listing; their message names
    /// `read_dir` and the directory.
    pub fn poll_next_entry(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<DirEntry, OpError>>> {
        match self.poll_next_unnamed(cx) {
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.during("read_dir", &self.path)))),
            other => other,
        }
    }

    fn poll_next_unnamed(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<DirEntry, OpError>>> {
        loop {
            if let Some(e) = self.entries.pop_front() {
                return Poll::Ready(Some(Ok(e)));
            }
            match &mut self.state {
                State::Done => return Poll::Ready(None),
                State::Open(open) => match open.poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(file)) => {
                        self.state = State::Listing {
                            file,
                            page: None,
                            first: true,
                        };
                    }
                    Poll::Ready(Err(e)) => {
                        self.state = State::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                State::Listing { file, page, first } => {
                    let reply = page.get_or_insert_with(|| {
                        let r = self.sub.submit(Request::QueryDirectory {
                            file: *file,
                            class: CLASS_ID_BOTH,
                            pattern: self.pattern.clone(),
                            restart: *first,
                            output_len: self.page_len,
                        });
                        *first = false;
                        r
                    });
                    match Pin::new(reply).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(r) => {
                            *page = None;
                            match r {
                                Ok(Response::Directory { entries, .. }) => {
                                    if entries.is_empty() {
                                        self.finish();
                                        return Poll::Ready(None);
                                    }
                                    self.listed += entries.len() as u64;
                                    let why = if !self.pages_seen.insert(page_digest(&entries)) {
                                        Some(
                                            "the server sent the same directory page twice (a listing that never ends)",
                                        )
                                    } else if self.listed > self.max_entries {
                                        Some("the directory listing passed the entry limit")
                                    } else {
                                        None
                                    };
                                    if let Some(why) = why {
                                        self.finish();
                                        return Poll::Ready(Some(Err(OpError::new(
                                            ErrorKind::Protocol(why),
                                        ))));
                                    }
                                    self.entries.extend(
                                        entries
                                            .into_iter()
                                            .filter(|e| e.name != "." && e.name != ".."),
                                    );
                                }
                                Err(e) if e.status == Some(NtStatus::NO_MORE_FILES) => {
                                    self.finish();
                                    return Poll::Ready(None);
                                }
                                Ok(_) => {
                                    self.finish();
                                    return Poll::Ready(Some(Err(OpError::new(
                                        ErrorKind::Protocol(
                                            "unexpected response to QUERY_DIRECTORY",
                                        ),
                                    ))));
                                }
                                Err(e) => {
                                    self.finish();
                                    return Poll::Ready(Some(Err(e)));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<S: Submitter> Drop for DirStream<S> {
    fn drop(&mut self) {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Listing { file, .. } => drop(self.sub.submit(Request::Close { file })),
            State::Open(open) => open.abandon(&self.sub),
            State::Done => {}
        }
    }
}
