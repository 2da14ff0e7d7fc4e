//! Bounded event fan-out shared by the adapters: [`event_channel`] makes the
//! [`EventSink`] an adapter hands the driver with
//! [`Command::Subscribe`](super::Command::Subscribe) and the [`EventQueue`] its `Events`
//! type reads from.
//!
//! The queue holds at most `capacity` events. Delivering never blocks and never fails
//! because of a slow subscriber: when the queue is full the oldest event is dropped and
//! counted, and the subscriber's next read returns [`Event::Lagged`] with that count before
//! the events that were kept. So a subscriber that never reads costs at most `capacity`
//! events of memory, and the engine goes on at full speed.

use super::EventSink;
use crate::client::Event;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::task::{Context, Poll, Waker};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Inner {
    events: VecDeque<Event>,
    /// Dropped since the subscriber last read.
    missed: u64,
    /// The sink is gone (client shut down): reads end once the queue is empty.
    closed: bool,
    /// The reader is gone: deliveries report it and the driver drops the sink.
    reader_gone: bool,
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Shared {
    capacity: usize,
    inner: Mutex<Inner>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self, mut g: MutexGuard<'_, Inner>) {
        let waker = g.waker.take();
        drop(g);
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A subscriber's side: the events the driver delivered, at most `capacity` of them.
#[derive(Debug)]
pub struct EventQueue(Arc<Shared>);

struct Sink(Arc<Shared>);

/// A bounded subscription: the sink for [`Command::Subscribe`](super::Command::Subscribe)
/// and the queue it fills (`capacity` at least 1; see the [module docs](self)).
pub fn event_channel(capacity: usize) -> (EventQueue, Box<dyn EventSink>) {
    let shared = Arc::new(Shared {
        capacity: capacity.max(1),
        inner: Mutex::new(Inner {
            events: VecDeque::new(),
            missed: 0,
            closed: false,
            reader_gone: false,
            waker: None,
        }),
        ready: Condvar::new(),
    });
    (EventQueue(shared.clone()), Box::new(Sink(shared)))
}

impl EventSink for Sink {
    fn deliver(&mut self, event: &Event) -> bool {
        let mut g = self.0.lock();
        if g.reader_gone {
            return false;
        }
        while g.events.len() >= self.0.capacity {
            g.events.pop_front();
            g.missed = g.missed.saturating_add(1);
        }
        g.events.push_back(event.clone());
        self.0.notify(g);
        true
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let mut g = self.0.lock();
        g.closed = true;
        self.0.notify(g);
    }
}

impl EventQueue {
    fn take(g: &mut Inner) -> Option<Event> {
        if g.missed > 0 {
            let missed = core::mem::take(&mut g.missed);
            return Some(Event::Lagged { missed });
        }
        g.events.pop_front()
    }

    /// The next event if one is waiting (or the lag marker).
    pub fn try_next(&mut self) -> Option<Event> {
        Self::take(&mut self.0.lock())
    }

    /// The next event; `Ready(None)` once the client is gone and the queue is empty.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut g = self.0.lock();
        if let Some(e) = Self::take(&mut g) {
            return Poll::Ready(Some(e));
        }
        if g.closed {
            return Poll::Ready(None);
        }
        g.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The next event, blocking the thread at most `timeout` (`None`: until the client is
    /// gone). `None` on timeout or once the client is gone and the queue is empty.
    pub fn next_blocking(&mut self, timeout: Option<Duration>) -> Option<Event> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut g = self.0.lock();
        loop {
            if let Some(e) = Self::take(&mut g) {
                return Some(e);
            }
            if g.closed {
                return None;
            }
            g = match deadline {
                None => self.0.ready.wait(g).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.checked_duration_since(Instant::now())?;
                    self.0
                        .ready
                        .wait_timeout(g, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Events waiting now (the lag marker not counted).
    pub fn len(&self) -> usize {
        self.0.lock().events.len()
    }

    /// True when no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most events this queue holds.
    pub fn capacity(&self) -> usize {
        self.0.capacity
    }
}

impl Drop for EventQueue {
    fn drop(&mut self) {
        let mut g = self.0.lock();
        g.reader_gone = true;
        g.events.clear();
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
