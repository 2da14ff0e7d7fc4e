//! What the CLI tells a person while it works: progress bars (bytes, rate, ETA; a line per
//! file plus a total for multi-file transfers) when stderr is a terminal, one-line
//! summaries and notices unless `-q`.

use crate::remote::Runtime;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// Files at least this big get their own bar in a multi-file transfer.
const OWN_BAR_FROM: u64 = 8 << 20;

/// Output settings.
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    /// `-q`: no summaries, notices or bars.
    pub quiet: bool,
    /// Draw progress bars (stderr is a terminal, no `-q`, `--no-progress` or `-v`).
    pub bars: bool,
}

impl Ui {
    /// A one-line notice on stderr (`smb: ...`), unless quiet.
    pub fn notice(&self, msg: &str) {
        if !self.quiet {
            eprintln!("smb: {msg}");
        }
    }

    /// Start showing a transfer of `files` files (`bytes` in total when known).
    pub fn transfer(&self, verb: &'static str, files: usize, bytes: Option<u64>) -> Transfer {
        let multi = self.bars.then(|| {
            let m = MultiProgress::new();
            m.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            m
        });
        let total = match (&multi, files > 1) {
            (Some(m), true) => {
                let pb = m.add(match bytes {
                    Some(n) => ProgressBar::new(n),
                    None => ProgressBar::new_spinner(),
                });
                pb.set_style(style(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                ));
                pb.set_message(format!("total 0/{files} files"));
                Some(pb)
            }
            _ => None,
        };
        Transfer {
            verb,
            files,
            started: Instant::now(),
            multi,
            total,
            done: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            quiet: self.quiet,
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The progress of one transfer command (shared by its worker threads).
pub struct Transfer {
    verb: &'static str,
    files: usize,
    started: Instant,
    multi: Option<MultiProgress>,
    total: Option<ProgressBar>,
    done: AtomicUsize,
    bytes: AtomicU64,
    quiet: bool,
}

impl Transfer {
    /// Start one file of `size` bytes (if known), shown as `name`.
    pub fn file(&self, name: &str, size: Option<u64>) -> FileProgress<'_> {
        let own_bar = self.files == 1 || size.is_none_or(|s| s >= OWN_BAR_FROM);
        let bar = match (&self.multi, own_bar) {
            (Some(m), true) => {
                let pb = match size {
                    Some(n) => ProgressBar::new(n),
                    None => ProgressBar::new_spinner(),
                };
                pb.set_style(style(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                ));
                pb.set_message(name.to_string());
                let pb = match &self.total {
                    Some(t) => m.insert_before(t, pb),
                    None => m.add(pb),
                };
                Some(pb)
            }
            _ => None,
        };
        FileProgress { t: self, bar }
    }

    /// Bytes moved so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// One line on stderr, above the bars (unless quiet).
    pub fn println(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Clear the bars and print the summary (unless quiet): `what` names the single file,
    /// or the count of files is shown for several.
    pub fn finish(self, runtime: Runtime, what: &str, ok_files: usize) {
        if let Some(t) = &self.total {
            t.finish_and_clear();
        }
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
        if self.quiet || self.files == 0 || ok_files == 0 {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let bytes = self.bytes();
        let rate = if secs > 0.0 {
            bytes as f64 / secs / 1e6
        } else {
            0.0
        };
        let subject = if self.files == 1 {
            what.to_string()
        } else {
            format!("{ok_files} files")
        };
        eprintln!(
            "{} {subject}: {bytes} bytes in {secs:.2} s ({rate:.1} MB/s, {})",
            self.verb,
            runtime.name()
        );
    }
}

/// The progress of one file.
pub struct FileProgress<'a> {
    t: &'a Transfer,
    bar: Option<ProgressBar>,
}

impl FileProgress<'_> {
    /// `n` more bytes moved.
    pub fn advance(&self, n: u64) {
        self.t.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(n);
        }
        if let Some(t) = &self.t.total {
            t.inc(n);
        }
    }

    /// Resuming: `n` bytes were already there (counted in the bar, not in the rate).
    pub fn skip(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
        if let Some(t) = &self.t.total {
            t.inc(n);
        }
    }

    /// The file is done (`shown` names it in the line printed for multi-file transfers).
    pub fn done(self, shown: &str, bytes: u64) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        let done = self.t.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(t) = &self.t.total {
            t.set_message(format!("total {done}/{} files", self.t.files));
            self.t
                .println(&format!("{} {shown} ({bytes} bytes)", self.t.verb));
        }
    }
}

impl Drop for FileProgress<'_> {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
