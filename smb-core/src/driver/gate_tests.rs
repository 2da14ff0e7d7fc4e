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
    let Admit::Wait(mut t) = gate.admit(0) else {
        panic!("over the op limit")
    };
    assert_eq!(gate.queued(), (2, 0));
    let (woken, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert!(t.poll_admit(&mut cx).is_pending());
    drop(a);
    assert_eq!(
        woken.0.load(Ordering::SeqCst),
        1,
        "a release wakes the waiter"
    );
    let c = t.poll_admit(&mut cx);
    assert!(c.is_ready());
    assert_eq!(gate.waiting(), 0);
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
    assert!(
        matches!(gate.admit(600), Admit::Wait(_)),
        "600 + 600 > 1000"
    );
    assert!(matches!(gate.admit(400), Admit::Go(_)), "600 + 400 fits");
    drop(a);
    assert_eq!(gate.queued(), (0, 0));
    // Alone, a request over the whole budget is admitted (it would wait forever else).
    let Admit::Go(big) = gate.admit(5000) else {
        panic!("a lone big request must go")
    };
    assert!(matches!(gate.admit(1), Admit::Wait(_)));
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
    // Exactly at the limit is not below it: the reader pauses.
    let at = gate.force(100);
    assert!(gate.poll_room(&mut cx).is_pending(), "100 of 100 held");
    let under = gate.force(0);
    drop(at);
    assert!(gate.poll_room(&mut cx).is_ready(), "0 of 100 held");
    drop(under);
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
    let ioctl = Request::Ioctl {
        tree: crate::client::TreeId(1),
        file: None,
        ctl_code: 0,
        input: Bytes::from_static(&[0; 33]),
        max_output: 0,
        fsctl: true,
    };
    assert_eq!(request_bytes(&ioctl), 33, "IOCTL input is held payload");
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

fn ticket(a: Admit) -> Ticket {
    match a {
        Admit::Wait(t) => t,
        Admit::Go(_) => panic!("admitted, expected to wait"),
    }
}

#[test]
fn waiters_are_admitted_in_arrival_order_and_a_release_wakes_only_the_first() {
    let gate = Gate::new(1, 1 << 20);
    let Admit::Go(a) = gate.admit(0) else {
        panic!("first refused")
    };
    let mut first = ticket(gate.admit(0));
    let mut second = ticket(gate.admit(0));
    let (w1, k1) = waker();
    let (w2, k2) = waker();
    // The later one polls first: it must not jump the line.
    assert!(
        second
            .poll_admit(&mut Context::from_waker(&k2))
            .is_pending()
    );
    assert!(first.poll_admit(&mut Context::from_waker(&k1)).is_pending());
    drop(a);
    assert_eq!(w1.0.load(Ordering::SeqCst), 1, "the first in line is woken");
    assert_eq!(w2.0.load(Ordering::SeqCst), 0, "the second is not");
    assert!(
        second
            .poll_admit(&mut Context::from_waker(&k2))
            .is_pending(),
        "room is free, but the second may not overtake the first"
    );
    let Poll::Ready(p1) = first.poll_admit(&mut Context::from_waker(&k1)) else {
        panic!("the first in line must be admitted")
    };
    assert_eq!(gate.waiting(), 1);
    drop(p1);
    assert_eq!(w2.0.load(Ordering::SeqCst), 1);
    assert!(second.poll_admit(&mut Context::from_waker(&k2)).is_ready());
    assert_eq!(gate.waiting(), 0);
}

#[test]
fn a_large_request_is_not_starved_by_small_ones_arriving_after_it() {
    let gate = Gate::new(100, 1000);
    let Admit::Go(a) = gate.admit(600) else {
        panic!("first refused")
    };
    let mut big = ticket(gate.admit(900));
    let (wb, kb) = waker();
    assert!(big.poll_admit(&mut Context::from_waker(&kb)).is_pending());
    // 600 + 100 would fit, but the big one waits before it: the small one queues.
    let mut small = ticket(gate.admit(100));
    let (ws, ks) = waker();
    assert!(small.poll_admit(&mut Context::from_waker(&ks)).is_pending());
    assert_eq!(gate.queued(), (1, 600));
    drop(a);
    assert_eq!(wb.0.load(Ordering::SeqCst), 1);
    let Poll::Ready(pb) = big.poll_admit(&mut Context::from_waker(&kb)) else {
        panic!("the big request goes first")
    };
    // 900 + 100 = 1000 fits: admitting the big one wakes the next in line.
    assert_eq!(ws.0.load(Ordering::SeqCst), 1);
    let Poll::Ready(ps) = small.poll_admit(&mut Context::from_waker(&ks)) else {
        panic!("the small one fits behind it")
    };
    assert_eq!(gate.queued(), (2, 1000));
    drop((pb, ps));
}

#[test]
fn a_ticket_dropped_in_line_lets_the_next_move_up_and_exempt_requests_skip_the_line() {
    let gate = Gate::new(1, 1 << 20);
    let Admit::Go(a) = gate.admit(0) else {
        panic!("first refused")
    };
    let mut gone = ticket(gate.admit(0));
    let mut next = ticket(gate.admit(0));
    let (wn, kn) = waker();
    let (_, kg) = waker();
    assert!(gone.poll_admit(&mut Context::from_waker(&kg)).is_pending());
    assert!(next.poll_admit(&mut Context::from_waker(&kn)).is_pending());
    // An exempt request is counted but does not queue behind the waiters.
    let close = gate.force(0);
    assert_eq!(gate.queued(), (2, 0));
    drop((a, close));
    drop(gone);
    assert_eq!(gate.waiting(), 1);
    assert!(wn.0.load(Ordering::SeqCst) >= 1, "the next one is woken");
    assert!(next.poll_admit(&mut Context::from_waker(&kn)).is_ready());
}

#[test]
fn gated_requests_are_handed_over_in_submission_order() {
    let gate = Gate::new(1, 1 << 20);
    let rec = Record::default();
    let mut first = Gated::submit(&rec, &gate, Request::Echo);
    let file = crate::client::FileHandle(1);
    let mut second = Gated::submit(&rec, &gate, Request::Flush { file });
    let mut third = Gated::submit(
        &rec,
        &gate,
        Request::Flush {
            file: crate::client::FileHandle(2),
        },
    );
    assert!(second.is_held() && third.is_held());
    let (_, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert!(Pin::new(&mut third).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut second).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut first).poll(&mut cx).is_ready());
    rec.0.lock().unwrap().clear(); // the first completes
    assert!(
        Pin::new(&mut third).poll(&mut cx).is_pending(),
        "third may not overtake"
    );
    assert!(Pin::new(&mut second).poll(&mut cx).is_ready());
    let sent = rec.0.lock().unwrap();
    assert!(matches!(sent.as_slice(), [(Request::Flush { file: f }, _)] if *f == file));
}
