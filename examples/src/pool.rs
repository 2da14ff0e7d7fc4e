//! Many transfers at once on one session: a few worker threads each run one job at a time
//! through the (thread-safe) [`crate::remote::Remote`], so requests of different files are
//! in flight together; large files are limited to a few at a time to bound memory.

use crate::error::{Failure, Failures};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// Large files transferred at the same time (each keeps a read-ahead or write-behind window).
pub const LARGE_AT_ONCE: usize = 4;

/// A counting semaphore.
struct Permits {
    free: Mutex<usize>,
    cv: Condvar,
}

impl Permits {
    fn acquire(&self) -> PermitGuard<'_> {
        let mut n = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *n == 0 {
            n = self.cv.wait(n).unwrap_or_else(|p| p.into_inner());
        }
        *n -= 1;
        PermitGuard(self)
    }
}

struct PermitGuard<'a>(&'a Permits);

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.cv.notify_one();
    }
}

/// Run `work` on every job with up to `workers` threads (jobs for which `large` is true at
/// most [`LARGE_AT_ONCE`] at a time). Failures are reported as they happen and collected in
/// `failures`; after Ctrl-C no new job starts. Returns how many jobs succeeded.
pub fn run<J: Sync>(
    jobs: &[J],
    workers: usize,
    large: impl Fn(&J) -> bool + Sync,
    work: impl Fn(&J) -> Result<(), Failure> + Sync,
    failures: &mut Failures,
) -> usize {
    let workers = workers.clamp(1, jobs.len().max(1));
    let mut ok = 0;
    if workers == 1 {
        for j in jobs {
            if crate::interrupt::is_set() {
                break;
            }
            if failures.record(work(j)).is_some() {
                ok += 1;
            }
            if failures.interrupted() {
                break;
            }
        }
        return ok;
    }
    let next = AtomicUsize::new(0);
    let permits = Permits {
        free: Mutex::new(LARGE_AT_ONCE),
        cv: Condvar::new(),
    };
    let (tx, rx) = mpsc::channel::<Result<(), Failure>>();
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, permits, large, work) = (&next, &permits, &large, &work);
            s.spawn(move || {
                loop {
                    if crate::interrupt::is_set() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { return };
                    let _permit = large(job).then(|| permits.acquire());
                    if tx.send(work(job)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Report on this thread, as results arrive.
        for r in rx {
            if failures.record(r).is_some() {
                ok += 1;
            }
        }
    });
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn runs_every_job_in_parallel_and_collects_failures() {
        let jobs: Vec<usize> = (0..200).collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let large_running = AtomicUsize::new(0);
        let large_peak = AtomicUsize::new(0);
        let mut failures = Failures::new();
        let ok = run(
            &jobs,
            16,
            |j| j % 10 == 0,
            |j| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                if j % 10 == 0 {
                    let l = large_running.fetch_add(1, Ordering::SeqCst) + 1;
                    large_peak.fetch_max(l, Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
                if j % 10 == 0 {
                    large_running.fetch_sub(1, Ordering::SeqCst);
                }
                running.fetch_sub(1, Ordering::SeqCst);
                if j % 50 == 7 {
                    Err(Failure::new(
                        crate::error::exit::NOT_FOUND,
                        format!("job {j}"),
                    ))
                } else {
                    Ok(())
                }
            },
            &mut failures,
        );
        assert_eq!(ok, 196);
        assert_eq!(failures.count(), 4);
        assert!(peak.load(Ordering::SeqCst) > 1, "jobs never overlapped");
        assert!(large_peak.load(Ordering::SeqCst) <= LARGE_AT_ONCE);
        let e = failures.finish(200, "jobs").unwrap_err();
        assert_eq!(e.code, crate::error::exit::NOT_FOUND);
        assert!(e.reported);
    }
}
