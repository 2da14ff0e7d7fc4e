use super::*;
use alloc::sync::Arc as StdArc;
use bytes::Bytes;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex as StdMutex;
use std::task::Wake;

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn waker() -> (StdArc<Count>, Waker) {
    let c = StdArc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

#[test]
fn admits_up_to_the_op_limit_then_waits_until_a_release() {
    let gate = Gate::new(2, 1 << 20);
    let a = gate.admit(0);
    let b = gate.admit(0);
    assert!(matches!(a, Admit::Go(_)) && matches!(b, Admit::Go(_)));
    assert!(matches!(gate.admit(0), Admit::Wait));
    assert_eq!(gate.queued(), (2, 0));
    let (woken, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert!(gate.poll_admit(0, &mut cx).is_pending());
    drop(a);
    assert_eq!(
        woken.0.load(Ordering::SeqCst),
        1,
        "a release wakes the waiter"
    );
    let c = gate.poll_admit(0, &mut cx);
    assert!(c.is_ready());
    assert_eq!(gate.queued(), (2, 0));
    drop((b, c));
    assert_eq!(gate.queued(), (0, 0));
}

#[test]
fn byte_limit_holds_back_payload_but_one_big_request_alone_goes() {
    let gate = Gate::new(100, 1000);
    let Admit::Go(a) = gate.admit(600) else {
        panic!("first request refused")
    };
    assert!(matches!(gate.admit(600), Admit::Wait), "600 + 600 > 1000");
    assert!(matches!(gate.admit(400), Admit::Go(_)), "600 + 400 fits");
    drop(a);
    assert_eq!(gate.queued(), (0, 0));
    // Alone, a request over the whole budget is admitted (it would wait forever else).
    let Admit::Go(big) = gate.admit(5000) else {
        panic!("a lone big request must go")
    };
    assert!(matches!(gate.admit(1), Admit::Wait));
    drop(big);
}

#[test]
fn forced_permits_are_counted_and_room_tracks_the_byte_limit() {
    let gate = Gate::new(usize::MAX, 100);
    let (woken, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert!(gate.poll_room(&mut cx).is_ready());
    let p = gate.force(150);
    assert_eq!(gate.queued(), (1, 150));
    assert!(
        gate.poll_room(&mut cx).is_pending(),
        "over the budget: reader pauses"
    );
    drop(p);
    assert_eq!(woken.0.load(Ordering::SeqCst), 1);
    assert!(gate.poll_room(&mut cx).is_ready());
}

#[test]
fn payload_bytes_and_exempt_requests() {
    let file = crate::client::FileHandle(7);
    let w = Request::Write {
        file,
        offset: 0,
        data: Bytes::from_static(&[0; 77]),
    };
    assert_eq!(request_bytes(&w), 77);
    assert!(!bypasses_gate(&w));
    assert!(bypasses_gate(&Request::Close { file }));
    assert_eq!(request_bytes(&Request::Echo), 0);
}

/// A handoff that records what reached "the driver".
#[derive(Clone, Default)]
struct Record(StdArc<StdMutex<Vec<(Request, Permit)>>>);

impl Handoff for Record {
    type Reply = core::future::Ready<Result<Response, OpError>>;
    fn hand_over(&self, request: Request, permit: Permit) -> Self::Reply {
        self.0.lock().unwrap().push((request, permit));
        core::future::ready(Ok(Response::Closed))
    }
}

#[test]
fn gated_reply_holds_the_request_until_admitted_and_sends_it_if_dropped() {
    let gate = Gate::new(1, 1 << 20);
    let rec = Record::default();
    let mut first = Gated::submit(&rec, &gate, Request::Echo);
    assert!(!first.is_held());
    let mut second = Gated::submit(&rec, &gate, Request::Echo);
    assert!(second.is_held(), "over the op limit the submitter waits");
    assert_eq!(
        rec.0.lock().unwrap().len(),
        1,
        "only the admitted one was sent"
    );
    // A CLOSE is never held back.
    let close = Gated::submit(
        &rec,
        &gate,
        Request::Close {
            file: crate::client::FileHandle(7),
        },
    );
    assert!(!close.is_held());
    let (_, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert!(Pin::new(&mut first).poll(&mut cx).is_ready());
    assert!(Pin::new(&mut second).poll(&mut cx).is_pending());
    // The driver completes the first two: their permits go.
    rec.0.lock().unwrap().clear();
    assert!(Pin::new(&mut second).poll(&mut cx).is_ready());
    assert_eq!(rec.0.lock().unwrap().len(), 1);
    // A held request whose reply is dropped is still handed over.
    let third = Gated::submit(&rec, &gate, Request::Echo);
    assert!(third.is_held());
    drop(third);
    assert_eq!(rec.0.lock().unwrap().len(), 2);
}
