//! Backpressure shared by the adapters: an admission [`Gate`] counting the operations a
//! client has queued and the request payload bytes they hold, so that a caller submitting
//! faster than the server answers waits instead of growing memory without bound.
//!
//! A submitter asks [`Gate::admit`]: [`Admit::Go`] hands it a [`Permit`] that travels with
//! the operation (in the adapter's waiter) and gives its share back when dropped, i.e. when
//! the operation completes; [`Admit::Wait`] means the limits are reached (or others wait
//! already) and the submitter waits in line with a [`Ticket`] ([`Ticket::poll_admit`]).
//! Waiters are admitted first come, first served: a release wakes only the first in line,
//! and only when it fits, so a large request is never overtaken by a stream of small ones
//! arriving after it. Exempt requests ([`bypasses_gate`]) skip the line. The adapters do not wait
//! themselves: [`Gated`] is the reply future of every adapter, holding the request until it
//! is admitted. The same gate, with a byte limit only, bounds what a channel's reader has
//! handed the driver and the driver has not handled yet ([`super::ChannelReader::ready`]).
//!
//! One request larger than the byte limit is admitted when nothing else is queued, so a
//! single big write cannot wait forever.
//!
//! # What bounds the adapters' channels
//!
//! The adapters keep runtime channels of unbounded types (a bounded send would block or
//! fail the engine's loop); these limits bound what they can hold:
//! - the command channel (handles to driver): every `Submit` carries a [`Permit`], so at
//!   most `ClientConfig::max_queued_ops` admitted requests plus the exempt ones
//!   ([`bypasses_gate`]: one CLOSE per open handle, one TREE_DISCONNECT per tree, LOGOFF,
//!   break acks) and the control commands of a caller (`Connect`, `Inspect`, `Subscribe`,
//!   `Shutdown`, one per call awaited); request payload is bounded by `max_buffered_bytes`;
//! - a connection's frame channel (driver to writer task): a frame is made when the engine
//!   sends a request, which counts it in flight, so the frames waiting there are at most
//!   `ClientConfig::max_in_flight` requests of that connection plus the engine's own
//!   unanswered messages (break acks, CANCELs, one ECHO);
//! - what the reader hands the driver: `max_unconsumed_bytes` (the reader stops reading);
//! - the event channels: bounded queues, see [`super::events`].
//!
//! The hostile case `hostile_stalled_writes_backpressure` (smb-testkit, every runtime)
//! checks the first two against a server that stops answering.

use crate::client::{OpError, Request, Response};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::Mutex;

/// The answer of [`Gate::admit`].
#[derive(Debug)]
pub enum Admit {
    /// Admitted: keep the permit until the operation completes.
    Go(Permit),
    /// Over a limit, or others are waiting already: wait in line with this ticket
    /// ([`Ticket::poll_admit`]).
    Wait(Ticket),
}

/// One submitter waiting in line: its ticket number, the bytes it asks for and the waker
/// of its last poll (none before the first).
#[derive(Debug)]
struct Waiter {
    id: u64,
    bytes: usize,
    waker: Option<Waker>,
}

#[derive(Debug, Default)]
struct State {
    ops: usize,
    bytes: usize,
    /// Submitters waiting for admission, in arrival order: only the first may be admitted.
    line: VecDeque<Waiter>,
    next_id: u64,
    /// Readers waiting for byte room ([`Gate::poll_room`]): all woken by every release.
    room: Vec<Waker>,
}

impl State {
    /// The waker of the first in line, if it would be admitted now (nobody behind it can be,
    /// so nobody else needs waking).
    fn head_to_wake(&self, gate: &Gate) -> Option<Waker> {
        let head = self.line.front()?;
        if gate.fits(self, head.bytes) {
            head.waker.clone()
        } else {
            None
        }
    }
}

/// Counts queued operations and buffered bytes against two limits, admitting waiting
/// submitters first come, first served. See the [module docs](self).
#[derive(Debug)]
pub struct Gate {
    max_ops: usize,
    max_bytes: usize,
    state: Mutex<State>,
}

impl Gate {
    /// A gate admitting at most `max_ops` operations holding at most `max_bytes` bytes
    /// (each at least 1).
    pub fn new(max_ops: usize, max_bytes: usize) -> Arc<Gate> {
        Arc::new(Gate {
            max_ops: max_ops.max(1),
            max_bytes: max_bytes.max(1),
            state: Mutex::new(State::default()),
        })
    }

    /// The gate of a client's submitters: `max_queued_ops` and `max_buffered_bytes`.
    pub fn for_config(config: &crate::client::ClientConfig) -> Arc<Gate> {
        Gate::new(config.max_queued_ops, config.max_buffered_bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fits(&self, s: &State, bytes: usize) -> bool {
        s.ops < self.max_ops && (s.ops == 0 || s.bytes.saturating_add(bytes) <= self.max_bytes)
    }

    fn take(self: &Arc<Self>, s: &mut State, bytes: usize) -> Permit {
        s.ops += 1;
        s.bytes = s.bytes.saturating_add(bytes);
        Permit {
            gate: self.clone(),
            bytes,
        }
    }

    /// Admit one operation holding `bytes` bytes now if it fits and nobody is waiting
    /// before it; else hand out a place in line.
    pub fn admit(self: &Arc<Self>, bytes: usize) -> Admit {
        let mut s = self.lock();
        if s.line.is_empty() && self.fits(&s, bytes) {
            return Admit::Go(self.take(&mut s, bytes));
        }
        let id = s.next_id;
        s.next_id = s.next_id.wrapping_add(1);
        s.line.push_back(Waiter {
            id,
            bytes,
            waker: None,
        });
        Admit::Wait(Ticket {
            gate: self.clone(),
            id,
            bytes,
            admitted: false,
        })
    }

    /// Admit regardless of the limits and of the line (requests that release server
    /// resources, such as CLOSE, and requests whose submitter is gone): still counted.
    pub fn force(self: &Arc<Self>, bytes: usize) -> Permit {
        let mut s = self.lock();
        self.take(&mut s, bytes)
    }

    /// Ready when the bytes held are below the byte limit (what a reader waits for before
    /// reading its socket again).
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.lock();
        if s.bytes < self.max_bytes {
            return Poll::Ready(());
        }
        if !s.room.iter().any(|w| w.will_wake(cx.waker())) {
            s.room.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Operations admitted and not completed yet, and the bytes they hold.
    pub fn queued(&self) -> (usize, usize) {
        let s = self.lock();
        (s.ops, s.bytes)
    }

    /// Submitters waiting in line for admission.
    pub fn waiting(&self) -> usize {
        self.lock().line.len()
    }

    fn release(&self, bytes: usize) {
        let (room, head) = {
            let mut s = self.lock();
            s.ops = s.ops.saturating_sub(1);
            s.bytes = s.bytes.saturating_sub(bytes);
            (core::mem::take(&mut s.room), s.head_to_wake(self))
        };
        for w in room.into_iter().chain(head) {
            w.wake();
        }
    }
}

/// A submitter's place in a [`Gate`]'s line. Waiters are admitted strictly in arrival
/// order, so a stream of small requests cannot starve a large one queued before them:
/// while the first in line does not fit, nobody behind it is admitted. Dropped before
/// admission, it leaves the line (the next one moves up).
#[derive(Debug)]
pub struct Ticket {
    gate: Arc<Gate>,
    id: u64,
    bytes: usize,
    admitted: bool,
}

impl Ticket {
    /// Ready with the permit once this ticket is first in line and fits; else registers
    /// `cx`'s waker, woken when it may fit (a release, or the one before it admitted or
    /// gone). Must not be polled again after it returned ready.
    pub fn poll_admit(&mut self, cx: &mut Context<'_>) -> Poll<Permit> {
        let gate = self.gate.clone();
        let mut s = gate.lock();
        let first = s.line.front().map(|w| w.id) == Some(self.id);
        if first && !self.admitted && gate.fits(&s, self.bytes) {
            s.line.pop_front();
            self.admitted = true;
            let permit = gate.take(&mut s, self.bytes);
            let next = s.head_to_wake(&gate);
            drop(s);
            if let Some(w) = next {
                w.wake();
            }
            return Poll::Ready(permit);
        }
        if let Some(w) = s.line.iter_mut().find(|w| w.id == self.id) {
            if !w.waker.as_ref().is_some_and(|o| o.will_wake(cx.waker())) {
                w.waker = Some(cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.admitted {
            return;
        }
        let next = {
            let mut s = self.gate.lock();
            s.line.retain(|w| w.id != self.id);
            s.head_to_wake(&self.gate)
        };
        if let Some(w) = next {
            w.wake();
        }
    }
}

/// One admitted operation's share of a [`Gate`]; given back when dropped.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    bytes: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.release(self.bytes);
    }
}

/// The request payload a submitted request keeps buffered until it completes: WRITE data,
/// SET_INFO buffers and IOCTL input.
pub fn request_bytes(r: &Request) -> usize {
    match r {
        Request::Write { data, .. } | Request::SetInfo { data, .. } => data.len(),
        Request::Ioctl { input, .. } => input.len(),
        _ => 0,
    }
}

/// Requests that are never held back: they release what the server holds for the client
/// (a stalled server must not keep a CLOSE from going out) and carry no payload.
pub fn bypasses_gate(r: &Request) -> bool {
    matches!(
        r,
        Request::Close { .. }
            | Request::TreeDisconnect { .. }
            | Request::Logoff
            | Request::LeaseBreakAck { .. }
            | Request::OplockBreakAck { .. }
    )
}

/// How an adapter hands an admitted request to its driver: it sends
/// [`Command::Submit`](super::Command::Submit) with a waiter that keeps `permit` until the
/// operation completes.
pub trait Handoff: Clone + Unpin {
    /// The future of the reply (usually a one-shot receiver).
    type Reply: Future<Output = Result<Response, OpError>> + Unpin;
    /// Send `request` to the driver now.
    fn hand_over(&self, request: Request, permit: Permit) -> Self::Reply;
}

/// The reply future of a request submitted through a [`Gate`]: sent at once when admitted,
/// else held (not sent) until a release admits it. Dropped while held, the request is sent
/// anyway (a background close or flush must not be lost), counted but not waited for.
pub struct Gated<H: Handoff> {
    state: GatedState<H>,
}

enum GatedState<H: Handoff> {
    Held {
        handoff: H,
        gate: Arc<Gate>,
        ticket: Ticket,
        request: Option<Request>,
    },
    Sent(H::Reply),
}

impl<H: Handoff> Gated<H> {
    /// Submit `request` through `gate`: handed over now if admitted (or exempt, see
    /// [`bypasses_gate`]), else when polled after a release.
    pub fn submit(handoff: &H, gate: &Arc<Gate>, request: Request) -> Self {
        let bytes = request_bytes(&request);
        let admitted = if bypasses_gate(&request) {
            Admit::Go(gate.force(bytes))
        } else {
            gate.admit(bytes)
        };
        let state = match admitted {
            Admit::Go(permit) => GatedState::Sent(handoff.hand_over(request, permit)),
            Admit::Wait(ticket) => GatedState::Held {
                handoff: handoff.clone(),
                gate: gate.clone(),
                ticket,
                request: Some(request),
            },
        };
        Gated { state }
    }

    /// True while the request waits for admission (not yet handed to the driver).
    pub fn is_held(&self) -> bool {
        matches!(self.state, GatedState::Held { .. })
    }
}

impl<H: Handoff> Future for Gated<H> {
    type Output = Result<Response, OpError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let GatedState::Held {
            handoff,
            ticket,
            request,
            ..
        } = &mut this.state
        {
            let permit = match ticket.poll_admit(cx) {
                Poll::Ready(p) => p,
                Poll::Pending => return Poll::Pending,
            };
            let Some(request) = request.take() else {
                return Poll::Pending;
            };
            this.state = GatedState::Sent(handoff.hand_over(request, permit));
        }
        match &mut this.state {
            GatedState::Sent(reply) => Pin::new(reply).poll(cx),
            GatedState::Held { .. } => Poll::Pending,
        }
    }
}

impl<H: Handoff> Drop for Gated<H> {
    fn drop(&mut self) {
        if let GatedState::Held {
            handoff,
            gate,
            request,
            ..
        } = &mut self.state
        {
            if let Some(request) = request.take() {
                let permit = gate.force(request_bytes(&request));
                drop(handoff.hand_over(request, permit));
            }
        }
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
