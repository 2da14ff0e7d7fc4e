//! Backpressure shared by the adapters: an admission [`Gate`] counting the operations a
//! client has queued and the request payload bytes they hold, so that a caller submitting
//! faster than the server answers waits instead of growing memory without bound.
//!
//! A submitter asks [`Gate::admit`]: [`Admit::Go`] hands it a [`Permit`] that travels with
//! the operation (in the adapter's waiter) and gives its share back when dropped, i.e. when
//! the operation completes; [`Admit::Wait`] means the limits are reached and the submitter
//! waits ([`Gate::poll_admit`], woken when a permit is released). The adapters do not wait
//! themselves: [`Gated`] is the reply future of every adapter, holding the request until it
//! is admitted. The same gate, with a byte limit only, bounds what a channel's reader has
//! handed the driver and the driver has not handled yet ([`super::ChannelReader::ready`]).
//!
//! One request larger than the byte limit is admitted when nothing else is queued, so a
//! single big write cannot wait forever.

use crate::client::{OpError, Request, Response};
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
    /// Over a limit: wait for a release.
    Wait,
}

#[derive(Debug, Default)]
struct State {
    ops: usize,
    bytes: usize,
    wakers: Vec<Waker>,
}

/// Counts queued operations and buffered bytes against two limits. See the
/// [module docs](self).
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

    /// Admit one operation holding `bytes` bytes, or say to wait.
    pub fn admit(self: &Arc<Self>, bytes: usize) -> Admit {
        let mut s = self.lock();
        if self.fits(&s, bytes) {
            Admit::Go(self.take(&mut s, bytes))
        } else {
            Admit::Wait
        }
    }

    /// [`Gate::admit`], registering `cx`'s waker to be woken by the next release when it
    /// must wait.
    pub fn poll_admit(self: &Arc<Self>, bytes: usize, cx: &mut Context<'_>) -> Poll<Permit> {
        let mut s = self.lock();
        if self.fits(&s, bytes) {
            return Poll::Ready(self.take(&mut s, bytes));
        }
        Self::register(&mut s, cx);
        Poll::Pending
    }

    /// Admit regardless of the limits (requests that release server resources, such as
    /// CLOSE, and requests whose submitter is gone): still counted.
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
        Self::register(&mut s, cx);
        Poll::Pending
    }

    fn register(s: &mut State, cx: &mut Context<'_>) {
        if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            s.wakers.push(cx.waker().clone());
        }
    }

    /// Operations admitted and not completed yet, and the bytes they hold.
    pub fn queued(&self) -> (usize, usize) {
        let s = self.lock();
        (s.ops, s.bytes)
    }

    fn release(&self, bytes: usize) {
        let wakers = {
            let mut s = self.lock();
            s.ops = s.ops.saturating_sub(1);
            s.bytes = s.bytes.saturating_sub(bytes);
            core::mem::take(&mut s.wakers)
        };
        for w in wakers {
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
            Admit::Wait => GatedState::Held {
                handoff: handoff.clone(),
                gate: gate.clone(),
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
            gate,
            request,
        } = &mut this.state
        {
            let bytes = request.as_ref().map_or(0, request_bytes);
            let permit = match gate.poll_admit(bytes, cx) {
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
