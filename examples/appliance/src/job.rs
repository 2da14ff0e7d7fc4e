//! What the appliance does once it is on the network: log in, list the share's root, write a
//! file, read it back and compare, log off. A plain state machine over smb-core's
//! [`Request`]s and completions: no futures, no runtime, so a firmware main loop can run it.
//!
//! The file's bytes are generated from their offset ([`pattern_byte`]) on the way out and
//! checked against the same function on the way in, so neither side of the transfer is ever
//! held in memory whole: the heap holds only the pieces in flight.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;
use smb_core::client::{
    Client, Dialect, FileHandle, OpError, OpId, OpenOptions, Request, Response, TreeId,
};
use smb_core::time::Instant;

/// FileIdBothDirectoryInformation ([MS-FSCC] 2.4.17).
const CLASS_ID_BOTH: u8 = 0x25;
/// Output buffer of one QUERY_DIRECTORY page: small, an appliance's directories are.
const DIR_PAGE_LEN: u32 = 16 * 1024;
/// Names kept for the report; the listing goes on past them, uncounted in memory.
const MAX_LISTED: usize = 256;

/// What to do.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// The share to connect to.
    pub share: String,
    /// The file to write and read back, relative to the share's root.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes per READ or WRITE (at most the client's `max_io_size`).
    pub piece: u32,
    /// READs or WRITEs in flight at once.
    pub depth: usize,
}

/// What was done.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The dialect and whether the session signs (None before the login).
    pub session: Option<(Dialect, bool)>,
    /// Names in the share's root (at most 256 kept).
    pub listed: Vec<String>,
    /// Bytes written and acknowledged.
    pub written: u64,
    /// Bytes read back that matched what was written.
    pub verified: u64,
}

/// Why the job stopped.
#[derive(Debug)]
pub enum JobError {
    /// An operation failed.
    Op {
        /// Which step.
        step: &'static str,
        /// The engine's error (kind, NTSTATUS, message); boxed to keep `Result`s small.
        error: alloc::boxed::Box<OpError>,
    },
    /// The engine refused a request (queue full, shut down).
    Submit(&'static str),
    /// The server answered with something that does not fit the request.
    Unexpected(&'static str),
    /// A byte read back differs from the one written.
    Mismatch {
        /// Its offset in the file.
        offset: u64,
    },
    /// The file ended (or a READ or WRITE made no progress) before `size` bytes.
    Short {
        /// The step.
        step: &'static str,
        /// Where it stopped.
        at: u64,
    },
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Op { step, error } => write!(f, "{step}: {error}"),
            JobError::Submit(step) => write!(f, "{step}: the engine refused the request"),
            JobError::Unexpected(step) => write!(f, "{step}: unexpected answer"),
            JobError::Mismatch { offset } => {
                write!(
                    f,
                    "read back: byte at offset {offset} differs from the one written"
                )
            }
            JobError::Short { step, at } => write!(f, "{step}: no progress at offset {at}"),
        }
    }
}

/// The byte at `offset` of the test file.
pub fn pattern_byte(offset: u64) -> u8 {
    (offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8 ^ (offset as u8)
}

/// One outstanding operation and what its completion means.
#[derive(Clone, Copy, Debug)]
enum Step {
    Login,
    TreeConnect,
    OpenDir,
    List,
    CloseDir,
    OpenWrite,
    Write { offset: u64, len: u32 },
    CloseWrite,
    OpenRead,
    Read { offset: u64, len: u32 },
    CloseRead,
    Logoff,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Login => "login",
            Step::TreeConnect => "tree connect",
            Step::OpenDir | Step::List | Step::CloseDir => "list",
            Step::OpenWrite | Step::Write { .. } | Step::CloseWrite => "write",
            Step::OpenRead | Step::Read { .. } | Step::CloseRead => "read back",
            Step::Logoff => "logoff",
        }
    }
}

/// The job: hand it every completion; it submits what comes next.
pub struct Job {
    spec: JobSpec,
    ops: Vec<(OpId, Step)>,
    tree: Option<TreeId>,
    file: Option<FileHandle>,
    /// The next offset to send a READ or WRITE for.
    next: u64,
    report: Report,
    outcome: Option<Result<(), JobError>>,
}

impl Job {
    /// A job that starts with the login `login` (the id [`Client::connect`] returned).
    pub fn new(spec: JobSpec, login: OpId) -> Self {
        Job {
            spec,
            ops: alloc::vec![(login, Step::Login)],
            tree: None,
            file: None,
            next: 0,
            report: Report::default(),
            outcome: None,
        }
    }

    /// Finished (successfully or not)?
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// The outcome once finished, with what was done so far either way.
    pub fn take_outcome(&mut self) -> Option<(Result<(), JobError>, Report)> {
        let o = self.outcome.take()?;
        Some((o, core::mem::take(&mut self.report)))
    }

    /// An operation completed. Completions for operations the job did not submit are
    /// ignored (the engine's own background work never reaches here, but be safe).
    pub fn on_completed(
        &mut self,
        client: &mut Client,
        op: OpId,
        result: Result<Response, OpError>,
        now: Instant,
    ) {
        let Some(i) = self.ops.iter().position(|(id, _)| *id == op) else {
            return;
        };
        let (_, step) = self.ops.swap_remove(i);
        if self.outcome.is_some() {
            return;
        }
        if let Err(e) = self.advance(client, step, result, now) {
            self.outcome = Some(Err(e));
        }
    }

    fn submit(
        &mut self,
        client: &mut Client,
        step: Step,
        r: Request,
        now: Instant,
    ) -> Result<(), JobError> {
        let id = client
            .submit(r, now)
            .map_err(|_| JobError::Submit(step.name()))?;
        self.ops.push((id, step));
        Ok(())
    }

    fn tree(&self) -> Result<TreeId, JobError> {
        self.tree.ok_or(JobError::Unexpected("no tree"))
    }

    fn file(&self) -> Result<FileHandle, JobError> {
        self.file.ok_or(JobError::Unexpected("no open file"))
    }

    fn advance(
        &mut self,
        client: &mut Client,
        step: Step,
        result: Result<Response, OpError>,
        now: Instant,
    ) -> Result<(), JobError> {
        let r = result.map_err(|error| JobError::Op {
            step: step.name(),
            error: alloc::boxed::Box::new(error),
        })?;
        match (step, r) {
            (
                Step::Login,
                Response::Connected {
                    dialect, signing, ..
                },
            ) => {
                self.report.session = Some((dialect, signing));
                let share = self.spec.share.clone();
                self.submit(
                    client,
                    Step::TreeConnect,
                    Request::TreeConnect { share },
                    now,
                )
            }
            (Step::TreeConnect, Response::TreeConnected { tree, .. }) => {
                self.tree = Some(tree);
                let r = Request::Create {
                    tree,
                    path: String::new(),
                    options: OpenOptions::directory(),
                };
                self.submit(client, Step::OpenDir, r, now)
            }
            (Step::OpenDir, Response::Created { file, .. }) => {
                self.file = Some(file);
                self.list_page(client, true, now)
            }
            (Step::List, Response::Directory { entries, .. }) => {
                if entries.is_empty() {
                    // The engine reports STATUS_NO_MORE_FILES ([MS-SMB2] 3.3.5.18) as an empty
                    // page, not an error: the listing is over.
                    let file = self.file()?;
                    return self.submit(client, Step::CloseDir, Request::Close { file }, now);
                }
                for e in entries {
                    if e.name != "." && e.name != ".." && self.report.listed.len() < MAX_LISTED {
                        self.report.listed.push(e.name);
                    }
                }
                self.list_page(client, false, now)
            }
            (Step::CloseDir, Response::Closed) => {
                self.open_file(client, Step::OpenWrite, OpenOptions::create_truncate(), now)
            }
            (Step::OpenWrite, Response::Created { file, .. }) => {
                self.start_transfer(client, file, true, now)
            }
            (Step::Write { offset, len }, Response::Written { count }) => {
                let count = count.min(u64::from(len));
                self.report.written += count;
                if count < u64::from(len) {
                    // A short WRITE: send the rest of that piece again.
                    if count == 0 {
                        return Err(JobError::Short {
                            step: "write",
                            at: offset,
                        });
                    }
                    self.write_piece(client, offset + count, len - count as u32, now)?;
                }
                self.fill_window(client, true, now)
            }
            (Step::CloseWrite, Response::Closed) => {
                self.open_file(client, Step::OpenRead, OpenOptions::new().read(true), now)
            }
            (Step::OpenRead, Response::Created { file, .. }) => {
                self.start_transfer(client, file, false, now)
            }
            (Step::Read { offset, len }, Response::Read { data, .. }) => {
                let mut at = offset;
                for chunk in &data {
                    for &b in chunk.iter() {
                        if at >= offset + u64::from(len) {
                            return Err(JobError::Unexpected("a READ returned more than asked"));
                        }
                        if b != pattern_byte(at) {
                            return Err(JobError::Mismatch { offset: at });
                        }
                        at += 1;
                    }
                }
                let got = at - offset;
                self.report.verified += got;
                if got < u64::from(len) {
                    // A short READ before the end is not the end of the file: ask again.
                    if got == 0 {
                        return Err(JobError::Short {
                            step: "read back",
                            at,
                        });
                    }
                    self.read_piece(client, at, len - got as u32, now)?;
                }
                self.fill_window(client, false, now)
            }
            (Step::CloseRead, Response::Closed) => {
                self.submit(client, Step::Logoff, Request::Logoff, now)
            }
            (Step::Logoff, Response::LoggedOff) => {
                self.outcome = Some(Ok(()));
                Ok(())
            }
            _ => Err(JobError::Unexpected(step.name())),
        }
    }

    fn open_file(
        &mut self,
        client: &mut Client,
        step: Step,
        options: OpenOptions,
        now: Instant,
    ) -> Result<(), JobError> {
        let r = Request::Create {
            tree: self.tree()?,
            path: self.spec.file.clone(),
            options,
        };
        self.submit(client, step, r, now)
    }

    fn start_transfer(
        &mut self,
        client: &mut Client,
        file: FileHandle,
        writing: bool,
        now: Instant,
    ) -> Result<(), JobError> {
        self.file = Some(file);
        self.next = 0;
        self.fill_window(client, writing, now)
    }

    fn list_page(
        &mut self,
        client: &mut Client,
        first: bool,
        now: Instant,
    ) -> Result<(), JobError> {
        let r = Request::QueryDirectory {
            file: self.file()?,
            class: CLASS_ID_BOTH,
            pattern: String::from("*"),
            restart: first,
            output_len: DIR_PAGE_LEN,
        };
        self.submit(client, Step::List, r, now)
    }

    fn in_flight(&self, writing: bool) -> usize {
        self.ops
            .iter()
            .filter(|(_, s)| match s {
                Step::Write { .. } => writing,
                Step::Read { .. } => !writing,
                _ => false,
            })
            .count()
    }

    /// Keep `depth` pieces in flight; once every piece is sent and answered, close the file.
    fn fill_window(
        &mut self,
        client: &mut Client,
        writing: bool,
        now: Instant,
    ) -> Result<(), JobError> {
        while self.next < self.spec.size && self.in_flight(writing) < self.spec.depth.max(1) {
            let len = (self.spec.size - self.next).min(u64::from(self.spec.piece)) as u32;
            let offset = self.next;
            self.next += u64::from(len);
            if writing {
                self.write_piece(client, offset, len, now)?;
            } else {
                self.read_piece(client, offset, len, now)?;
            }
        }
        if self.next >= self.spec.size && self.in_flight(writing) == 0 {
            let file = self
                .file
                .take()
                .ok_or(JobError::Unexpected("no open file"))?;
            let step = if writing {
                Step::CloseWrite
            } else {
                Step::CloseRead
            };
            self.submit(client, step, Request::Close { file }, now)?;
        }
        Ok(())
    }

    fn write_piece(
        &mut self,
        client: &mut Client,
        offset: u64,
        len: u32,
        now: Instant,
    ) -> Result<(), JobError> {
        let data: Vec<u8> = (offset..offset + u64::from(len))
            .map(pattern_byte)
            .collect();
        let r = Request::Write {
            file: self.file()?,
            offset,
            data: Bytes::from(data),
        };
        self.submit(client, Step::Write { offset, len }, r, now)
    }

    fn read_piece(
        &mut self,
        client: &mut Client,
        offset: u64,
        len: u32,
        now: Instant,
    ) -> Result<(), JobError> {
        let r = Request::Read {
            file: self.file()?,
            offset,
            len,
        };
        self.submit(client, Step::Read { offset, len }, r, now)
    }
}

/// The job's own refusals, fed the answers a broken or hostile server could give. The engine
/// already refuses an overlong READ and retries short ones ([MS-SMB2] 3.2.5.10), so these
/// checks are the job's second line; they are exercised here by handing `advance` the bad
/// answers directly.
#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::string::ToString;
    use smb_core::auth::{NtlmCredentials, NtlmFactory};
    use smb_core::client::ClientConfig;
    use smb_core::time::FileTime;

    /// Deterministic bytes for the engine's ClientGuid and salts (no OS randomness needed).
    struct Counter(u64);
    impl rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64() as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for Counter {}

    fn client() -> Client {
        let auth = NtlmFactory::user(NtlmCredentials::password("", "u", "p"));
        Client::new(
            ClientConfig::default(),
            Box::new(auth),
            Box::new(Counter(1)),
            Instant::from_nanos(0),
            FileTime(0),
        )
    }

    fn job() -> Job {
        let mut c = client();
        let login = c.connect(
            smb_core::client::ServerAddr("127.0.0.1:445".into()),
            Instant::from_nanos(0),
        );
        let spec = JobSpec {
            share: "share".into(),
            file: "f.bin".into(),
            size: 1 << 20,
            piece: 64 << 10,
            depth: 2,
        };
        Job::new(spec, login)
    }

    fn pattern(offset: u64, len: u64) -> Bytes {
        Bytes::from(
            (offset..offset + len)
                .map(pattern_byte)
                .collect::<Vec<u8>>(),
        )
    }

    fn read_back(job: &mut Job, offset: u64, len: u32, data: Vec<Bytes>) -> Result<(), JobError> {
        let r = Ok(Response::Read { data, eof: false });
        job.advance(
            &mut client(),
            Step::Read { offset, len },
            r,
            Instant::from_nanos(0),
        )
    }

    #[test]
    fn a_read_longer_than_asked_is_refused() {
        let mut j = job();
        // 4 bytes asked at 4096, 5 given (all of them the right bytes).
        let e = read_back(&mut j, 4096, 4, Vec::from([pattern(4096, 5)])).unwrap_err();
        assert!(
            matches!(e, JobError::Unexpected(m) if m.contains("more than asked")),
            "{e}"
        );
        // Split over two chunks, the excess in the second.
        let e = read_back(&mut j, 0, 4, Vec::from([pattern(0, 3), pattern(3, 2)])).unwrap_err();
        assert!(matches!(e, JobError::Unexpected(_)), "{e}");
        assert_eq!(
            j.report.verified, 0,
            "nothing of a refused answer counts as verified"
        );
    }

    #[test]
    fn a_read_with_no_bytes_is_no_progress() {
        let mut j = job();
        let e = read_back(&mut j, 65536, 1024, Vec::new()).unwrap_err();
        assert!(
            matches!(
                e,
                JobError::Short {
                    step: "read back",
                    at: 65536
                }
            ),
            "{e}"
        );
        assert_eq!(e.to_string(), "read back: no progress at offset 65536");
    }

    #[test]
    fn a_wrong_byte_names_its_offset() {
        let mut j = job();
        let mut bytes = pattern(100, 16).to_vec();
        bytes[9] ^= 0xFF;
        let e = read_back(&mut j, 100, 16, Vec::from([Bytes::from(bytes)])).unwrap_err();
        assert!(matches!(e, JobError::Mismatch { offset: 109 }), "{e}");
    }

    #[test]
    fn a_write_acknowledging_nothing_is_no_progress() {
        let mut j = job();
        let r = Ok(Response::Written { count: 0 });
        let step = Step::Write {
            offset: 131072,
            len: 65536,
        };
        let e = j
            .advance(&mut client(), step, r, Instant::from_nanos(0))
            .unwrap_err();
        assert!(
            matches!(
                e,
                JobError::Short {
                    step: "write",
                    at: 131072
                }
            ),
            "{e}"
        );
        assert_eq!(j.report.written, 0);
    }

    #[test]
    fn an_answer_of_the_wrong_kind_is_refused() {
        let mut j = job();
        let e = j
            .advance(
                &mut client(),
                Step::Logoff,
                Ok(Response::Closed),
                Instant::from_nanos(0),
            )
            .unwrap_err();
        assert!(matches!(e, JobError::Unexpected(_)), "{e}");
    }
}
