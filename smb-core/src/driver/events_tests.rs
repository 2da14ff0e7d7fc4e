use super::*;
use crate::client::ChannelId;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

fn dropped(n: u64) -> Event {
    Event::Dropped {
        channel: ChannelId(0),
        message_id: n,
    }
}

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_reader_that_never_reads_holds_at_most_capacity_and_then_sees_the_lag() {
    let (mut q, mut sink) = event_channel(8);
    for n in 0..10_000 {
        assert!(
            sink.deliver(&dropped(n)),
            "delivery never fails while the reader lives"
        );
        assert!(q.len() <= 8, "bounded at every step");
    }
    assert_eq!(q.len(), 8);
    assert_eq!(q.try_next(), Some(Event::Lagged { missed: 10_000 - 8 }));
    // Then the newest 8, in order.
    for n in 10_000 - 8..10_000 {
        assert_eq!(q.try_next(), Some(dropped(n)));
    }
    assert_eq!(q.try_next(), None);
    // Keeping up again: no marker.
    assert!(sink.deliver(&dropped(1)));
    assert_eq!(q.try_next(), Some(dropped(1)));
}

#[test]
fn the_marker_counts_only_what_was_missed_since_the_last_read() {
    let (mut q, mut sink) = event_channel(2);
    for n in 0..5 {
        sink.deliver(&dropped(n));
    }
    assert_eq!(q.try_next(), Some(Event::Lagged { missed: 3 }));
    assert_eq!(q.try_next(), Some(dropped(3)));
    for n in 5..8 {
        sink.deliver(&dropped(n));
    }
    // 4 was held, then 5, 6, 7 came: 4 and 5 dropped.
    assert_eq!(q.try_next(), Some(Event::Lagged { missed: 2 }));
    assert_eq!(q.try_next(), Some(dropped(6)));
    assert_eq!(q.try_next(), Some(dropped(7)));
    assert_eq!(q.try_next(), None);
}

#[test]
fn poll_wakes_on_delivery_and_ends_after_the_sink_is_gone() {
    let (mut q, mut sink) = event_channel(4);
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(q.poll_next(&mut cx).is_pending());
    sink.deliver(&dropped(9));
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(q.poll_next(&mut cx), Poll::Ready(Some(dropped(9))));
    assert!(q.poll_next(&mut cx).is_pending());
    sink.deliver(&dropped(10));
    drop(sink);
    // What was delivered is still read, then the end.
    assert_eq!(q.poll_next(&mut cx), Poll::Ready(Some(dropped(10))));
    assert_eq!(q.poll_next(&mut cx), Poll::Ready(None));
    assert_eq!(q.next_blocking(None), None);
}

#[test]
fn a_gone_reader_makes_delivery_report_it_so_the_driver_drops_the_sink() {
    let (q, mut sink) = event_channel(4);
    assert!(sink.deliver(&dropped(1)));
    drop(q);
    assert!(!sink.deliver(&dropped(2)));
}

#[test]
fn blocking_reads_wait_for_a_delivery_or_time_out() {
    let (mut q, mut sink) = event_channel(0);
    assert_eq!(q.capacity(), 1, "capacity is at least 1");
    assert_eq!(q.next_blocking(Some(Duration::from_millis(20))), None);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        sink.deliver(&dropped(5));
        sink
    });
    assert_eq!(
        q.next_blocking(Some(Duration::from_secs(10))),
        Some(dropped(5))
    );
    drop(t.join().unwrap());
    assert_eq!(q.next_blocking(None), None, "sink gone: the end");
}
