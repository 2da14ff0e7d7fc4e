//! The cursor of an open file: sequential reads with bounded read-ahead, writes with bounded
//! write-behind, seeks, close. Poll-based so that every adapter wraps the same state machine
//! in its own read/write traits (tokio's, futures-io's or std's `Read`).

use super::Submitter;
use super::ops::Metadata;
use crate::client::{ErrorKind, FileHandle, LockRange, OpError, Request, Response};
use crate::wire::fscc::{FileAllInformation, FsccInfo};
use crate::wire::lock::LockFlags;
use crate::wire::{Command, NtStatus};
use alloc::collections::VecDeque;
use alloc::string::String;
use bytes::{Buf, Bytes, BytesMut};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Read-ahead and write-behind bounds of a [`FileIo`]. Memory per open file stays below
/// `read_chunk_max * read_window + write_chunk * (write_window + 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileIoConfig {
    /// First read request size after an open or a seek (grows x2 per consumed request).
    pub read_chunk_min: u32,
    /// Largest read request.
    pub read_chunk_max: u32,
    /// Most read requests in flight ahead of the reader.
    pub read_window: usize,
    /// Bytes gathered before a WRITE is sent.
    pub write_chunk: usize,
    /// Most WRITEs in flight; a writer beyond that waits.
    pub write_window: usize,
}

impl Default for FileIoConfig {
    fn default() -> Self {
        FileIoConfig {
            read_chunk_min: 64 * 1024,
            read_chunk_max: 1 << 20,
            read_window: 4,
            write_chunk: 1 << 20,
            write_window: 4,
        }
    }
}

/// Where to seek (the same meaning as `std::io::SeekFrom`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    /// From the start.
    Start(u64),
    /// From the end of the file (its size on the server).
    End(i64),
    /// From the current position.
    Current(i64),
}

struct Slot<R> {
    offset: u64,
    len: u32,
    reply: R,
}

/// The state of one open file. See the module docs of `smb_core::driver::file`.
pub struct FileIo<S: Submitter> {
    sub: S,
    file: FileHandle,
    cfg: FileIoConfig,
    pos: u64,
    closed: bool,
    // Read side: `ready` holds received bytes starting at `pos`; `slots` the reads in flight.
    ready: VecDeque<Bytes>,
    slots: VecDeque<Slot<S::Reply>>,
    next_off: u64,
    chunk: u32,
    window: usize,
    eof_at: Option<u64>,
    /// The size as last known (from CREATE, grown by our writes): read-ahead does not go
    /// beyond it (the first request after it still does, to see a file that grew).
    size_hint: Option<u64>,
    // Write side: `wbuf` holds bytes for `wstart..`, `writes` the WRITEs in flight.
    wbuf: BytesMut,
    wstart: u64,
    writes: VecDeque<(S::Reply, u64)>,
    // Seek to End and close in progress.
    size_query: Option<S::Reply>,
    close_reply: Option<S::Reply>,
    /// The file's path as the user named it, for error messages ([`FileIo::with_path`]).
    path: Option<String>,
}

fn unexpected() -> OpError {
    OpError::new(ErrorKind::Protocol("unexpected response type"))
}

fn invalid_seek() -> OpError {
    OpError::from_status(NtStatus::INVALID_PARAMETER, Command::Read)
}

fn check_written(r: Result<Response, OpError>, want: u64) -> Result<(), OpError> {
    match r? {
        Response::Written { count } if count == want => Ok(()),
        Response::Written { .. } => Err(OpError::new(ErrorKind::Protocol("short write"))),
        _ => Err(unexpected()),
    }
}

impl<S: Submitter> FileIo<S> {
    /// The cursor of `file` (already open), at offset 0.
    pub fn new(sub: S, file: FileHandle, cfg: FileIoConfig) -> Self {
        FileIo {
            sub,
            file,
            cfg,
            pos: 0,
            closed: false,
            ready: VecDeque::new(),
            slots: VecDeque::new(),
            next_off: 0,
            chunk: cfg.read_chunk_min,
            window: 1,
            eof_at: None,
            size_hint: None,
            wbuf: BytesMut::new(),
            wstart: 0,
            writes: VecDeque::new(),
            size_query: None,
            close_reply: None,
            path: None,
        }
    }

    /// Name `path` (and the operation: `read`, `write`...) in this file's errors:
    /// `write a/b.txt: access denied (STATUS_ACCESS_DENIED)`.
    pub fn with_path(mut self, path: &str) -> Self {
        self.path = Some(String::from(path));
        self
    }

    fn name(&self, e: OpError, operation: &str) -> OpError {
        match &self.path {
            Some(p) => e.during(operation, p),
            None => e,
        }
    }

    fn named<T>(&self, p: Poll<Result<T, OpError>>, operation: &str) -> Poll<Result<T, OpError>> {
        p.map_err(|e| self.name(e, operation))
    }

    async fn named_async<T>(
        &self,
        operation: &str,
        f: impl Future<Output = Result<T, OpError>>,
    ) -> Result<T, OpError> {
        f.await.map_err(|e| self.name(e, operation))
    }

    /// The file size reported by CREATE, to keep read-ahead within the file.
    pub fn with_size_hint(mut self, size: u64) -> Self {
        self.size_hint = Some(size);
        self
    }

    /// The cursor of a file just opened with `options`: read-ahead bounded by the size
    /// CREATE reported, and for [`OpenOptions::append`](crate::client::OpenOptions::append)
    /// the cursor at the end of the file.
    pub fn opened(
        sub: S,
        file: FileHandle,
        cfg: FileIoConfig,
        attributes: &crate::client::FileAttributes,
        options: &crate::client::OpenOptions,
    ) -> Self {
        let mut io = Self::new(sub, file, cfg).with_size_hint(attributes.end_of_file);
        if options.is_append() {
            let end = attributes.end_of_file;
            (io.pos, io.next_off, io.wstart) = (end, end, end);
        }
        io
    }

    /// The engine's handle of the file.
    pub fn handle(&self) -> FileHandle {
        self.file
    }

    /// The submitter.
    pub fn submitter(&self) -> &S {
        &self.sub
    }

    /// The cursor position.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn closed_error() -> OpError {
        OpError::new(ErrorKind::InvalidHandle)
    }

    fn reset_read(&mut self) {
        self.ready.clear();
        self.slots.clear();
        self.eof_at = None;
        self.chunk = self.cfg.read_chunk_min;
        self.window = 1;
    }

    /// Read into `buf` at the cursor; `Ok(0)` at end of file.
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, OpError>> {
        let p = self.poll_read_unnamed(cx, buf);
        self.named(p, "read")
    }

    fn poll_read_unnamed(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, OpError>> {
        if self.closed {
            return Poll::Ready(Err(Self::closed_error()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Written bytes must be on the server before we read them back.
        match self.poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map_ok(|_| 0),
        }
        loop {
            if let Some(front) = self.ready.front_mut() {
                let n = front.len().min(buf.len());
                buf[..n].copy_from_slice(&front[..n]);
                front.advance(n);
                if front.is_empty() {
                    self.ready.pop_front();
                }
                self.pos += n as u64;
                return Poll::Ready(Ok(n));
            }
            if self.eof_at.is_some_and(|e| self.pos >= e) {
                return Poll::Ready(Ok(0));
            }
            if self.slots.front().is_some_and(|s| s.offset != self.pos) {
                self.slots.clear();
            }
            if self.slots.is_empty() {
                self.next_off = self.pos;
                let want =
                    (buf.len() as u32).clamp(self.cfg.read_chunk_min, self.cfg.read_chunk_max);
                self.chunk = self.chunk.max(want);
            }
            while self.slots.len() < self.window
                && self.eof_at.is_none_or(|e| self.next_off < e)
                && (self.slots.is_empty() || self.size_hint.is_none_or(|h| self.next_off < h))
            {
                let len = self.chunk;
                let reply = self.sub.submit(Request::Read {
                    file: self.file,
                    offset: self.next_off,
                    len,
                });
                self.slots.push_back(Slot {
                    offset: self.next_off,
                    len,
                    reply,
                });
                self.next_off += len as u64;
            }
            let Some(slot) = self.slots.front_mut() else {
                return Poll::Ready(Ok(0));
            };
            let r = match Pin::new(&mut slot.reply).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            let Some(slot) = self.slots.pop_front() else {
                return Poll::Ready(Ok(0));
            };
            match r {
                Ok(Response::Read { data, eof }) => {
                    let got: u64 = data.iter().map(|b| b.len() as u64).sum();
                    self.ready
                        .extend(data.into_iter().filter(|b| !b.is_empty()));
                    if eof || got < slot.len as u64 {
                        self.eof_at = Some(slot.offset + got);
                        self.slots.clear();
                    } else {
                        // Sequential reading pays off: read further ahead, in larger pieces.
                        self.window = (self.window * 2).min(self.cfg.read_window.max(1));
                        self.chunk = self.chunk.saturating_mul(2).min(self.cfg.read_chunk_max);
                    }
                }
                Ok(_) => {
                    self.reset_read();
                    return Poll::Ready(Err(unexpected()));
                }
                Err(e) if e.status == Some(NtStatus::END_OF_FILE) => {
                    self.eof_at = Some(slot.offset);
                    self.slots.clear();
                }
                Err(e) => {
                    self.reset_read();
                    return Poll::Ready(Err(e));
                }
            }
        }
    }

    fn dispatch(&mut self) {
        if self.wbuf.is_empty() {
            return;
        }
        let data = self.wbuf.split().freeze();
        let len = data.len() as u64;
        let reply = self.sub.submit(Request::Write {
            file: self.file,
            offset: self.wstart,
            data,
        });
        self.writes.push_back((reply, len));
        self.wstart += len;
    }

    /// Poll every WRITE in flight, dropping those done; the first error is returned.
    fn reap(&mut self, cx: &mut Context<'_>) -> Result<(), OpError> {
        let mut i = 0;
        while i < self.writes.len() {
            let (reply, len) = &mut self.writes[i];
            match Pin::new(reply).poll(cx) {
                Poll::Pending => i += 1,
                Poll::Ready(r) => {
                    let len = *len;
                    let _ = self.writes.remove(i);
                    check_written(r, len)?;
                }
            }
        }
        Ok(())
    }

    /// Write from `buf` at the cursor. Bytes are gathered into WRITEs of `write_chunk` and
    /// sent in the background, at most `write_window` at a time; an error of an earlier
    /// background WRITE is returned by a later call (or by flush/close).
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize, OpError>> {
        let p = self.poll_write_unnamed(cx, buf);
        self.named(p, "write")
    }

    fn poll_write_unnamed(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, OpError>> {
        if self.closed {
            return Poll::Ready(Err(Self::closed_error()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !self.ready.is_empty() || !self.slots.is_empty() || self.eof_at.is_some() {
            self.reset_read();
        }
        if let Err(e) = self.reap(cx) {
            return Poll::Ready(Err(e));
        }
        if !self.wbuf.is_empty() && self.wstart + self.wbuf.len() as u64 != self.pos {
            self.dispatch();
        }
        while self.writes.len() >= self.cfg.write_window.max(1) {
            // The window is full and reap() found nothing done: wait for the oldest.
            let Some((reply, len)) = self.writes.front_mut() else {
                break;
            };
            let len = *len;
            match Pin::new(reply).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => {
                    self.writes.pop_front();
                    if let Err(e) = check_written(r, len) {
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
        if self.wbuf.is_empty() {
            self.wstart = self.pos;
        }
        let n = buf.len().min(self.cfg.write_chunk.max(1) - self.wbuf.len());
        self.wbuf.extend_from_slice(&buf[..n]);
        self.pos += n as u64;
        if let Some(h) = self.size_hint.as_mut() {
            *h = (*h).max(self.pos);
        }
        if self.wbuf.len() >= self.cfg.write_chunk {
            self.dispatch();
        }
        Poll::Ready(Ok(n))
    }

    /// Send buffered bytes and wait until every WRITE in flight is done.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), OpError>> {
        let p = self.poll_flush_unnamed(cx);
        self.named(p, "write")
    }

    fn poll_flush_unnamed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), OpError>> {
        self.dispatch();
        if let Err(e) = self.reap(cx) {
            return Poll::Ready(Err(e));
        }
        if self.writes.is_empty() {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Move the cursor; returns the new position. Seeking from the end asks the server for
    /// the size. Call again with the same `pos` after `Pending`.
    pub fn poll_seek(&mut self, cx: &mut Context<'_>, pos: SeekFrom) -> Poll<Result<u64, OpError>> {
        let p = self.poll_seek_unnamed(cx, pos);
        self.named(p, "seek")
    }

    fn poll_seek_unnamed(
        &mut self,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<Result<u64, OpError>> {
        if self.closed {
            return Poll::Ready(Err(Self::closed_error()));
        }
        match self.poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map_ok(|_| 0),
        }
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => {
                let reply = self.size_query.get_or_insert_with(|| {
                    self.sub.submit(Request::QueryInfo {
                        file: self.file,
                        info_type: 1,
                        class: FileAllInformation::CLASS,
                        additional: 0,
                        output_len: 4096,
                    })
                });
                let r = match Pin::new(reply).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => r,
                };
                self.size_query = None;
                let size = match r {
                    Ok(Response::Info { data }) => match FileAllInformation::decode(&data) {
                        Ok(all) => all.standard.end_of_file,
                        Err(_) => {
                            return Poll::Ready(Err(OpError::new(ErrorKind::Protocol(
                                "bad FileAllInformation",
                            ))));
                        }
                    },
                    Ok(_) => return Poll::Ready(Err(unexpected())),
                    Err(e) => return Poll::Ready(Err(e)),
                };
                size.checked_add_signed(d)
            }
        };
        let Some(target) = target else {
            return Poll::Ready(Err(invalid_seek()));
        };
        if target != self.pos {
            self.reset_read();
            self.pos = target;
        }
        Poll::Ready(Ok(target))
    }

    /// Flush, then CLOSE the handle, reporting errors of either. Later calls return
    /// `Ok(())`.
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), OpError>> {
        let p = self.poll_close_unnamed(cx);
        self.named(p, "close")
    }

    fn poll_close_unnamed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), OpError>> {
        if self.closed && self.close_reply.is_none() {
            return Poll::Ready(Ok(()));
        }
        if !self.closed {
            match self.poll_flush(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    // Still release the handle.
                    self.closed = true;
                    drop(self.sub.submit(Request::Close { file: self.file }));
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
            self.closed = true;
            self.reset_read();
            self.close_reply = Some(self.sub.submit(Request::Close { file: self.file }));
        }
        let Some(reply) = self.close_reply.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        match Pin::new(reply).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.close_reply = None;
                Poll::Ready(r.map(|_| ()))
            }
        }
    }

    /// Positional read of up to `buf.len()` bytes at `offset` (does not move the cursor;
    /// independent of it, callable concurrently through `&self`). `Ok(0)` at end of file.
    pub async fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, OpError> {
        self.named_async("read", async {
            if buf.is_empty() {
                return Ok(0);
            }
            let len = buf.len().min(u32::MAX as usize) as u32;
            let r = self
                .sub
                .submit(Request::Read {
                    file: self.file,
                    offset,
                    len,
                })
                .await;
            match r {
                Ok(Response::Read { data, .. }) => {
                    let mut n = 0;
                    for b in data {
                        let m = b.len().min(buf.len() - n);
                        buf[n..n + m].copy_from_slice(&b[..m]);
                        n += m;
                    }
                    Ok(n)
                }
                Ok(_) => Err(unexpected()),
                Err(e) if e.status == Some(NtStatus::END_OF_FILE) => Ok(0),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Positional write of all of `data` at `offset` (does not move the cursor).
    pub async fn write_at(&self, offset: u64, data: Bytes) -> Result<usize, OpError> {
        self.named_async("write", async {
            let len = data.len();
            if len == 0 {
                return Ok(0);
            }
            let r = self
                .sub
                .submit(Request::Write {
                    file: self.file,
                    offset,
                    data,
                })
                .await;
            check_written(r, len as u64).map(|_| len)
        })
        .await
    }

    /// Size, times and attributes of the open file (QUERY_INFO FileAllInformation).
    pub async fn metadata(&self) -> Result<Metadata, OpError> {
        self.named_async("metadata", async {
            let r = self
                .sub
                .submit(Request::QueryInfo {
                    file: self.file,
                    info_type: 1,
                    class: FileAllInformation::CLASS,
                    additional: 0,
                    output_len: 4096,
                })
                .await?;
            match r {
                Response::Info { data } => FileAllInformation::decode(&data)
                    .map(|all| Metadata::from_all(&all))
                    .map_err(|_| OpError::new(ErrorKind::Protocol("bad FileAllInformation"))),
                _ => Err(unexpected()),
            }
        })
        .await
    }

    /// Lock `len` bytes at `offset` (SMB2 LOCK, [MS-SMB2] 2.2.26 / 3.2.4.19): `exclusive`
    /// or shared; with `wait` the server holds the request until the range is free (at most
    /// the client's request timeout), else a conflict fails at once with
    /// STATUS_LOCK_NOT_GRANTED (io `WouldBlock`). Locks belong to
    /// this handle and are released when it closes.
    pub async fn lock(
        &self,
        offset: u64,
        len: u64,
        exclusive: bool,
        wait: bool,
    ) -> Result<(), OpError> {
        self.named_async("lock", async {
            let mut flags = if exclusive {
                LockFlags::EXCLUSIVE
            } else {
                LockFlags::SHARED
            };
            if !wait {
                flags |= LockFlags::FAIL_IMMEDIATELY;
            }
            self.lock_request(offset, len, flags).await
        })
        .await
    }

    /// Release a range locked earlier with exactly this `offset` and `len`
    /// ([MS-SMB2] 2.2.26.1 SMB2_LOCKFLAG_UNLOCK).
    pub async fn unlock(&self, offset: u64, len: u64) -> Result<(), OpError> {
        self.named_async("unlock", async {
            self.lock_request(offset, len, LockFlags::UNLOCK).await
        })
        .await
    }

    async fn lock_request(&self, offset: u64, length: u64, flags: u32) -> Result<(), OpError> {
        let locks = alloc::vec![LockRange {
            offset,
            length,
            flags
        }];
        match self
            .sub
            .submit(Request::Lock {
                file: self.file,
                locks,
            })
            .await?
        {
            Response::Locked => Ok(()),
            _ => Err(unexpected()),
        }
    }

    /// Ask the server to flush the file to stable storage (SMB2 FLUSH). Buffered writes of
    /// the cursor are not included: call `poll_flush` first.
    pub async fn sync(&self) -> Result<(), OpError> {
        self.named_async("sync_all", async {
            self.sub
                .submit(Request::Flush { file: self.file })
                .await
                .map(|_| ())
        })
        .await
    }
}

impl<S: Submitter> Drop for FileIo<S> {
    fn drop(&mut self) {
        if !self.closed {
            // Background: send what is buffered, then close. Errors are lost; call close()
            // to see them.
            self.dispatch();
            drop(self.sub.submit(Request::Close { file: self.file }));
        }
    }
}
