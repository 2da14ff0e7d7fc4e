//! The commands other than the transfers ([`crate::transfer`]): listings in [`listing`]
//! (ls, tree, du, stat), changes in [`files`] (cat, mkdir, rm, rmdir, mv, cp) and the
//! connection report in [`info`], the volume and change watching in [`volume`] (df,
//! watch), the share list in [`shares`].

pub mod files;
pub mod info;
pub mod listing;
pub mod shares;
pub mod volume;

pub use files::cat_paths;

use crate::error::Failure;
use crate::format::{attribute_names, rfc3339};
use crate::json::Value;
use crate::location::Location;
use crate::remote::Meta;
use std::io::{self, Write};

/// stdout for command output: remembers when the reader went away (`smb ls | head`), so
/// the command stops quietly with exit code 0 instead of reporting an error.
pub struct Printer {
    out: io::StdoutLock<'static>,
    closed: bool,
}

impl Printer {
    /// Lock stdout.
    pub fn new() -> Printer {
        Printer {
            out: io::stdout().lock(),
            closed: false,
        }
    }

    /// Write `s`; a closed pipe is remembered and returned as an error (to stop a listing).
    pub fn write(&mut self, s: &str) -> io::Result<()> {
        self.raw(s.as_bytes())
    }

    /// Write bytes.
    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        let r = self.out.write_all(b);
        if let Err(e) = &r {
            if e.kind() == io::ErrorKind::BrokenPipe {
                self.closed = true;
            }
        }
        r
    }

    /// The writer itself (for [`crate::json::Stream`]).
    pub fn writer(&mut self) -> &mut io::StdoutLock<'static> {
        &mut self.out
    }

    /// Whether the reader went away.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Flush; a closed pipe is not an error.
    pub fn flush(&mut self) -> Result<(), Failure> {
        match self.out.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Err(Failure::stdout_closed())
            }
            Err(e) => Err(stdout_failure(&e)),
            Ok(()) => Ok(()),
        }
    }

    /// A failed listing or write: [`Failure::stdout_closed`] if stdout went away, a
    /// stdout error if writing failed, else the remote error as `remote` explains it.
    pub fn explain(&self, e: io::Error, remote: impl Fn(io::Error) -> Failure) -> Failure {
        if self.closed {
            Failure::stdout_closed()
        } else if e.get_ref().is_some_and(|i| i.is::<StdoutError>()) {
            stdout_failure(&e)
        } else {
            remote(e)
        }
    }
}

impl Default for Printer {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Printer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.raw(buf).map(|_| buf.len()).map_err(stdout_io)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush().map_err(stdout_io)
    }
}

/// Marks an `io::Error` as coming from stdout (not from the server).
#[derive(Debug)]
struct StdoutError(io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StdoutError {}

/// Wrap a stdout write error so that [`Printer::explain`] can tell it from a remote one.
pub fn stdout_io(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), StdoutError(e))
}

fn stdout_failure(e: &io::Error) -> Failure {
    Failure::local(std::path::Path::new("<stdout>"), e)
}

/// The SMB-form paths of a command's URL arguments: the first a URL, the others URLs of the
/// same share or paths in it.
pub fn paths_of(urls: &[String]) -> Result<(Location, Vec<String>), Failure> {
    let first = Location::parse(&urls[0])?;
    let mut paths = vec![first.path.clone()];
    for u in &urls[1..] {
        paths.push(first.sibling(u)?.0);
    }
    Ok((first, paths))
}

/// The JSON object of one file or directory (fields documented in the README).
pub fn entry_json(shown_path: &str, name: &str, m: &Meta, detailed: bool) -> Value {
    let t = |n| Value::opt_str(rfc3339(n));
    let mut fields = vec![
        ("path", Value::from(shown_path)),
        ("name", Value::from(name)),
        (
            "type",
            Value::from(if m.is_dir { "directory" } else { "file" }),
        ),
        ("size", Value::Num(m.size)),
        ("allocated", Value::Num(m.allocated)),
        (
            "attributes",
            Value::Arr(
                attribute_names(m.attributes)
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            ),
        ),
        ("attribute_bits", Value::Num(u64::from(m.attributes))),
        ("created", t(m.created)),
        ("modified", t(m.modified)),
        ("accessed", t(m.accessed)),
        ("changed", t(m.changed)),
    ];
    if detailed {
        fields.push(("file_id", Value::Num(m.file_id)));
        fields.push(("links", Value::Num(u64::from(m.links))));
    }
    Value::Obj(fields)
}
