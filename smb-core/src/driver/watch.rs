//! Change notification on a directory ([MS-SMB2] 3.2.4.14): a CHANGE_NOTIFY kept
//! outstanding on an open directory, re-armed as soon as each answer arrives, its
//! FILE_NOTIFY_INFORMATION entries ([MS-FSCC] 2.7.1) handed out one by one.
//!
//! The request has no deadline in the engine (the server answers it with an interim
//! STATUS_PENDING and completes it only when something changes), so a watch waits as long
//! as it has to. Dropping the watch closes the directory; the engine cancels the pending
//! CHANGE_NOTIFY first (SMB2 CANCEL).
//!
//! Directory opens are not durable, so a watch cannot outlive a lost connection: after a
//! reconnect it ends with an `HandleLost` error (never a silent hang); start a new one
//! and list the directory, since changes in between were not seen.

use super::Submitter;
use super::dir::{DirOpen, open_dir};
use crate::client::{ErrorKind, FileHandle, OpError, Request, Response, TreeId};
use crate::wire::NtStatus;
use crate::wire::change_notify::{CompletionFilter, NotifyEntries};
use alloc::collections::VecDeque;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

pub use crate::wire::change_notify::{FileNotifyInformation, NotifyAction};

/// OutputBufferLength of each CHANGE_NOTIFY: 64 KiB, within every server's MaxTransactSize
/// (the engine clamps it anyway). More changes than fit come back as STATUS_NOTIFY_ENUM_DIR.
pub const WATCH_BUFFER_LEN: u32 = 64 * 1024;

/// The default CompletionFilter of a watch: names (files and directories), attributes, size,
/// last write and creation time ([MS-SMB2] 2.2.35).
pub const DEFAULT_WATCH_FILTER: u32 = CompletionFilter::FILE_NAME
    | CompletionFilter::DIR_NAME
    | CompletionFilter::ATTRIBUTES
    | CompletionFilter::SIZE
    | CompletionFilter::LAST_WRITE
    | CompletionFilter::CREATION;

/// One thing a watch reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WatchEvent {
    /// Something changed: what, and the name relative to the watched directory
    /// (`\`-separated for changes below it in a recursive watch).
    Changed(FileNotifyInformation),
    /// More changed than the server could describe (STATUS_NOTIFY_ENUM_DIR, or an empty
    /// answer): list the directory again to learn its state.
    Overflow,
}

enum State<R> {
    Open(DirOpen<R>),
    /// The directory is open; `reply` is the CHANGE_NOTIFY outstanding.
    Armed {
        file: FileHandle,
        reply: R,
    },
    Done,
}

/// A watch on a directory: [`Watch::poll_next_event`] yields its changes until an error
/// ends it. Dropping it cancels the CHANGE_NOTIFY and closes the directory.
pub struct Watch<S: Submitter> {
    sub: S,
    state: State<S::Reply>,
    events: VecDeque<WatchEvent>,
    recursive: bool,
    filter: u32,
    buffer_len: u32,
}

fn malformed() -> OpError {
    OpError::new(ErrorKind::Protocol(
        "malformed FILE_NOTIFY_INFORMATION in CHANGE_NOTIFY",
    ))
    .with_command(crate::wire::Command::ChangeNotify)
}

impl<S: Submitter> Watch<S> {
    /// Watch `path` (user form, `/` or `\` separated; `""` for the share root) for the
    /// changes of `filter` (CompletionFilter bits, e.g. [`DEFAULT_WATCH_FILTER`]), in its whole
    /// subtree if `recursive`.
    pub fn open(sub: S, tree: TreeId, path: &str, recursive: bool, filter: u32) -> Self {
        Watch {
            state: State::Open(open_dir(&sub, tree, path)),
            sub,
            events: VecDeque::new(),
            recursive,
            filter,
            buffer_len: WATCH_BUFFER_LEN,
        }
    }

    /// [`Watch::open`], then wait until the directory is open and the first CHANGE_NOTIFY
    /// is on its way: changes this client makes afterwards are reported (the server
    /// registers the watch when it reads the request, before any later request of this
    /// connection). Dropping the future before it resolves closes what it opened.
    pub async fn start(
        sub: S,
        tree: TreeId,
        path: &str,
        recursive: bool,
        filter: u32,
    ) -> Result<Self, OpError> {
        let mut w = Self::open(sub, tree, path, recursive, filter);
        core::future::poll_fn(|cx| w.poll_armed(cx)).await?;
        Ok(w)
    }

    /// Drive the opening until the first CHANGE_NOTIFY is submitted.
    fn poll_armed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), OpError>> {
        let State::Open(open) = &mut self.state else {
            return Poll::Ready(Ok(()));
        };
        let file = match open.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        self.state = State::Done;
        let file = file?;
        let reply = self.arm(file);
        self.state = State::Armed { file, reply };
        Poll::Ready(Ok(()))
    }

    /// Ask for answers of at most `len` bytes (at least 512).
    pub fn with_buffer_len(mut self, len: u32) -> Self {
        self.buffer_len = len.max(512);
        self
    }

    fn arm(&self, file: FileHandle) -> S::Reply {
        self.sub.submit(Request::ChangeNotify {
            file,
            filter: self.filter,
            recursive: self.recursive,
            output_len: self.buffer_len,
        })
    }

    /// End the watch with `e` (closing the directory).
    fn fail(&mut self, e: OpError) -> Poll<Option<Result<WatchEvent, OpError>>> {
        if let State::Armed { file, .. } = core::mem::replace(&mut self.state, State::Done) {
            drop(self.sub.submit(Request::Close { file }));
        }
        Poll::Ready(Some(Err(e)))
    }

    /// Queue the events of one answer. Every entry is decoded before any is handed out, so
    /// a malformed buffer is refused whole.
    fn take(&mut self, data: &[u8], status: NtStatus) -> Result<(), OpError> {
        if status == NtStatus::NOTIFY_ENUM_DIR || data.is_empty() {
            self.events.push_back(WatchEvent::Overflow);
            return Ok(());
        }
        let mut got = VecDeque::new();
        for e in NotifyEntries::new(data) {
            got.push_back(WatchEvent::Changed(e.map_err(|_| malformed())?));
        }
        self.events.append(&mut got);
        Ok(())
    }

    /// The next event. `None` only after an error has been reported: a watch otherwise
    /// waits for changes without end.
    pub fn poll_next_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<WatchEvent, OpError>>> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Poll::Ready(Some(Ok(e)));
            }
            match &mut self.state {
                State::Done => return Poll::Ready(None),
                State::Open(_) => match self.poll_armed(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                },
                State::Armed { file, reply } => {
                    let file = *file;
                    let r = match Pin::new(reply).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(r) => r,
                    };
                    let taken = match r {
                        Ok(Response::Notify { data, status }) => self.take(&data, status),
                        Ok(_) => Err(OpError::new(ErrorKind::Protocol(
                            "unexpected response to CHANGE_NOTIFY",
                        ))),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = taken {
                        return self.fail(e);
                    }
                    // Re-arm at once, so a request stays outstanding while the events of
                    // this answer are consumed.
                    let reply = self.arm(file);
                    self.state = State::Armed { file, reply };
                }
            }
        }
    }
}

impl<S: Submitter> Drop for Watch<S> {
    fn drop(&mut self) {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Armed { file, .. } => drop(self.sub.submit(Request::Close { file })),
            State::Open(open) => open.abandon(&self.sub),
            State::Done => {}
        }
    }
}
