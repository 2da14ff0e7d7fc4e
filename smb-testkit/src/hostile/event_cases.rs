//! A subscriber that never reads its events while the client produces thousands of them
//! (the scripted server answers every READ with a burst of responses to MessageIds never
//! sent, each reported as [`Event::Dropped`], [MS-SMB2] 3.2.5.1.2):
//! its channel stays within `ClientConfig::event_capacity`, the oldest events are dropped
//! and reported as one [`Event::Lagged`] marker, and the client goes on working (the
//! driver never waits for a subscriber).

use super::suite::{client_config, when};
use super::{FILE, HostileConfig, HostileServer, PASSWORD, Step, USER, read_body};
use crate::scenarios::{Harness, Login, Watchdog, Who};
use smb_core::client::Event;
use smb_core::wire::Command;
use std::time::Duration;

/// Events the slow subscriber's channel may hold.
const CAPACITY: usize = 16;
/// READs the test makes.
const READS: usize = 40;
/// Responses to unsent MessageIds the server sends before each READ response.
const BOGUS_PER_READ: u64 = 100;
/// Dropped-message events produced in all.
const PRODUCED: usize = READS * BOGUS_PER_READ as usize;

/// See the module docs.
pub async fn hostile_slow_event_subscriber<H: Harness>(h: H) {
    let server = HostileServer::start(HostileConfig::default(), bursts()).expect("start");
    let _dog = Watchdog::new(Duration::from_secs(120), "slow event subscriber");
    let login = Login {
        target: server.addr().to_string(),
        who: Who::User(USER.to_string(), PASSWORD.to_string()),
        config: client_config().with_event_capacity(CAPACITY),
    };
    let (c, _) = h.connect(login).await.expect("connect");
    let s = h.share(&c, "share").await.expect("share");
    // Subscribed now, read only at the end.
    let mut slow = h.events(&c);
    for _ in 0..READS {
        let data = h.read_range(&s, FILE, 0, 4096).await;
        assert_eq!(data.expect("READ while a subscriber lags").len(), 4096);
    }
    // The client still works with the subscriber full.
    let (len, _) = h.metadata(&s, FILE).await.expect("metadata after");
    assert!(len > 0);
    let mut drained = Vec::new();
    while let Some(e) = slow() {
        drained.push(e);
        assert!(
            drained.len() <= CAPACITY + 1,
            "more than the capacity was kept"
        );
    }
    let Some(Event::Lagged { missed }) = drained.first() else {
        panic!("no lag marker first: {:?}", drained.first())
    };
    let kept = drained.len() - 1;
    assert_eq!(kept, CAPACITY, "the newest events fill the channel");
    assert!(
        drained[1..]
            .iter()
            .all(|e| !matches!(e, Event::Lagged { .. })),
        "one marker only"
    );
    // Every event counted: dropped ones in the marker, the newest kept (other events,
    // such as transitions, may add to both).
    assert!(
        *missed as usize + kept >= PRODUCED,
        "only {missed} missed + {kept} kept for {PRODUCED} produced"
    );
    assert!(
        drained[1..]
            .iter()
            .all(|e| matches!(e, Event::Dropped { .. }))
    );
    // Drained, the marker counts only what was missed since: one more burst of 100.
    h.read_range(&s, FILE, 0, 4096).await.expect("READ");
    let next = slow().expect("an event after catching up");
    let Event::Lagged { missed } = next else {
        panic!("expected a marker, got {next:?}")
    };
    let mut kept = 0;
    while slow().is_some() {
        kept += 1;
    }
    assert_eq!(kept, CAPACITY);
    assert!(
        (BOGUS_PER_READ as usize - CAPACITY..PRODUCED).contains(&(missed as usize)),
        "missed {missed} for one burst"
    );
    h.shutdown(c).await;
}

/// A server that sends `BOGUS_PER_READ` responses to MessageIds never sent before each
/// READ response.
fn bursts() -> impl super::Script {
    when(Command::Read, |c, r| {
        let mut steps = Vec::new();
        for i in 0..BOGUS_PER_READ {
            let mut bogus = c.normal(r);
            for b in &mut bogus {
                b.header.message_id += 1_000_000 + i;
                b.body = read_body(&[0xEE; 16]);
            }
            steps.push(Step::Frame(c.finish(&bogus, r)));
        }
        steps.push(Step::Normal);
        steps
    })
}
