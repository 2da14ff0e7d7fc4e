//! Ctrl-C (SIGINT) and SIGTERM: the first signal asks the running command to stop; it
//! notices between transfer steps ([`check`]), removes its temporary files, closes its
//! handles, logs off and exits with 130 (143 for SIGTERM). If it cannot within
//! [`GRACE`] (a server that stopped answering), or on a second signal, the process exits at
//! once after removing the local temporary files registered with [`TempPath`] and running
//! the [`ExitHook`]s (e.g. the terminal's echo restored after a password prompt).

use crate::error::Failure;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

/// How long a command may take to clean up after the first signal.
pub const GRACE: Duration = Duration::from_secs(10);

static SIGNAL: AtomicI32 = AtomicI32::new(0);
static AT_ONCE: AtomicBool = AtomicBool::new(false);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type Hook = Box<dyn Fn() + Send>;
static HOOKS: Mutex<Vec<(u64, Hook)>> = Mutex::new(Vec::new());
static TEMPS: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());

/// SIGINT.
pub const SIGINT: i32 = 2;
/// SIGTERM.
pub const SIGTERM: i32 = 15;

/// Install the handlers (the binary does this once, before running a command).
pub fn install() {
    use signal_hook::iterator::Signals;
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("smb-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if raise(sig) {
                    std::thread::spawn(|| {
                        std::thread::sleep(GRACE);
                        exit_now();
                    });
                } else {
                    exit_now();
                }
            }
        });
}

/// Record that `sig` arrived, as the handler does; true for the first signal while the
/// command may still clean up by itself, false when the process should end at once.
pub fn raise(sig: i32) -> bool {
    let first = SIGNAL
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    first && !AT_ONCE.load(Ordering::SeqCst)
}

/// Whether a signal asked the command to stop.
pub fn is_set() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// The exit code for the signal received (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code() -> i32 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => crate::error::exit::OK,
        SIGTERM => crate::error::exit::TERMINATED,
        _ => crate::error::exit::INTERRUPTED,
    }
}

/// `Err(interrupted)` once a signal arrived: call between steps of long work.
pub fn check() -> Result<(), Failure> {
    if is_set() {
        Err(Failure::interrupted())
    } else {
        Ok(())
    }
}

/// Remove the registered temporary files, run the exit hooks and exit with the signal's
/// code.
fn exit_now() -> ! {
    let temps: Vec<PathBuf> = lock(&TEMPS).drain(..).map(|(_, p)| p).collect();
    for p in temps {
        let _ = std::fs::remove_file(p);
    }
    run_hooks();
    eprintln!("smb: interrupted");
    std::process::exit(exit_code())
}

fn run_hooks() {
    let hooks: Vec<(u64, Hook)> = lock(&HOOKS).drain(..).collect();
    for (_, h) in hooks {
        h();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Code that must run however the process ends (on drop, or before an exit forced by a
/// signal).
pub struct ExitHook(u64);

impl ExitHook {
    /// Register `f`.
    pub fn new(f: impl Fn() + Send + 'static) -> ExitHook {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock(&HOOKS).push((id, Box::new(f)));
        ExitHook(id)
    }
}

impl Drop for ExitHook {
    fn drop(&mut self) {
        let hook = {
            let mut hooks = lock(&HOOKS);
            hooks
                .iter()
                .position(|(id, _)| *id == self.0)
                .map(|i| hooks.remove(i).1)
        };
        if let Some(h) = hook {
            h();
        }
    }
}

/// While alive, a signal ends the process at once (e.g. while a prompt waits for input).
pub struct ExitAtOnce(bool);

impl ExitAtOnce {
    /// Start.
    pub fn new() -> ExitAtOnce {
        ExitAtOnce(AT_ONCE.swap(true, Ordering::SeqCst))
    }
}

impl Default for ExitAtOnce {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ExitAtOnce {
    fn drop(&mut self) {
        AT_ONCE.store(self.0, Ordering::SeqCst);
    }
}

/// A local temporary file: removed when dropped unless [`TempPath::keep`] or
/// [`TempPath::persist`] was called, and removed by a forced exit too.
pub struct TempPath {
    id: u64,
    path: PathBuf,
    armed: bool,
}

impl TempPath {
    /// Register `path` (the file need not exist yet).
    pub fn new(path: PathBuf) -> TempPath {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock(&TEMPS).push((id, path.clone()));
        TempPath {
            id,
            path,
            armed: true,
        }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rename the file to `to` (the transfer is complete).
    pub fn persist(mut self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, to)?;
        self.disarm();
        Ok(())
    }

    /// Leave the file in place (a partial download kept for `--continue`).
    pub fn keep(mut self) {
        self.disarm();
    }

    fn disarm(&mut self) {
        self.armed = false;
        lock(&TEMPS).retain(|(id, _)| *id != self.id);
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
            self.disarm();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_paths_and_hooks() {
        let dir = std::env::temp_dir().join(format!("smb-cli-int-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        std::fs::write(&a, b"x").unwrap();
        drop(TempPath::new(a.clone()));
        assert!(!a.exists(), "a dropped TempPath removes its file");
        std::fs::write(&a, b"x").unwrap();
        TempPath::new(a.clone()).keep();
        assert!(a.exists(), "kept");
        let b = dir.join("b");
        TempPath::new(a.clone()).persist(&b).unwrap();
        assert!(!a.exists() && b.exists(), "persisted");
        assert!(lock(&TEMPS).is_empty());

        let ran = std::sync::Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        drop(ExitHook::new(move || r.store(true, Ordering::SeqCst)));
        assert!(ran.load(Ordering::SeqCst));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
