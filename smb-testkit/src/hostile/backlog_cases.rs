//! Backpressure against a server that stops answering WRITEs: the client must keep the
//! requests it puts on the wire within `max_in_flight`, hold further submitters back at
//! `max_queued_ops` (they wait, they do not fail), and finish everything once the server
//! answers again.
//!
//! Only bounds are asserted, never exact counts: how many requests are on the wire at a
//! given moment depends on scheduling (a CI run once saw 1 where another saw 8).

use super::suite::client_config;
use super::{Conn, FILE, HostileConfig, HostileServer, PASSWORD, Request, Script, Step, USER};
use crate::scenarios::{Harness, Login, Watchdog, Who, sleep};
use smb_core::wire::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests in flight per connection allowed to the client.
const IN_FLIGHT: usize = 4;
/// Operations the client may queue.
const QUEUED: usize = 6;
/// Concurrent writers (well over both limits).
const WRITERS: usize = 16;
/// Bytes per write.
const CHUNK: usize = 4096;

/// What the test and the script share.
#[derive(Default)]
struct Stall {
    released: AtomicBool,
    /// WRITEs received and not answered now.
    unanswered: AtomicUsize,
    /// The most seen at once.
    peak: AtomicUsize,
    /// WRITEs received in all.
    writes: AtomicUsize,
}

/// Holds back every WRITE until released, then answers the held ones (from the idle hook)
/// and every later one normally.
struct StallWrites {
    stall: Arc<Stall>,
    held: Vec<Request>,
}

impl Script for StallWrites {
    fn on_request(&mut self, _conn: &mut Conn, req: &Request) -> Vec<Step> {
        if req.header.command != Command::Write {
            return vec![Step::Normal];
        }
        self.stall.writes.fetch_add(1, Ordering::SeqCst);
        if self.stall.released.load(Ordering::SeqCst) && self.held.is_empty() {
            return vec![Step::Normal];
        }
        self.held.push(req.clone());
        let now = self.stall.unanswered.fetch_add(1, Ordering::SeqCst) + 1;
        self.stall.peak.fetch_max(now, Ordering::SeqCst);
        Vec::new()
    }

    fn on_idle(&mut self, conn: &mut Conn) -> Vec<Step> {
        if !self.stall.released.load(Ordering::SeqCst) {
            return Vec::new();
        }
        let held = std::mem::take(&mut self.held);
        self.stall
            .unanswered
            .fetch_sub(held.len(), Ordering::SeqCst);
        held.iter()
            .map(|r| {
                let replies = conn.normal(r);
                Step::Frame(conn.finish(&replies, r))
            })
            .collect()
    }
}

/// The server stalls every WRITE; 16 writers submit at once. While stalled the WRITEs on
/// the wire stay within `max_in_flight` (and some do arrive), the client's queue stays
/// within `max_queued_ops` and no writer has finished; once the server answers, every
/// write completes.
pub async fn hostile_stalled_writes_backpressure<H: Harness>(h: H) {
    let stall = Arc::new(Stall::default());
    let script = StallWrites {
        stall: stall.clone(),
        held: Vec::new(),
    };
    let server = HostileServer::start(HostileConfig::default(), script).expect("start");
    let _dog = Watchdog::new(Duration::from_secs(60), "stalled writes");
    // Long timeouts: the stall must not end in a timeout, however slow the machine.
    let config = client_config()
        .with_request_timeout(smb_core::time::Duration::from_secs(50))
        .with_unresponsive_timeout(None)
        .with_max_queued_ops(QUEUED)
        .with_backlog_limits(256 << 20, IN_FLIGHT, 64 << 20);
    let login = Login {
        target: server.addr().to_string(),
        who: Who::User(USER.to_string(), PASSWORD.to_string()),
        config,
    };
    let (c, _) = h.connect(login).await.expect("connect");
    let s = h.share(&c, "share").await.expect("share");
    let done = Arc::new(Mutex::new(0usize));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let data = vec![i as u8; CHUNK];
        let w = h.write_at(&s, FILE, (i * CHUNK) as u64, data);
        let done = done.clone();
        tasks.push(h.spawn(Box::pin(async move {
            let r = w.await;
            *done.lock().unwrap() += 1;
            r
        })));
    }
    // Settle: the client's queue fills to its bound (16 writers, room for 6) and the
    // server holds some WRITEs. The watchdog ends a run where this never happens.
    loop {
        let st = h.stats(&c).await.expect("stats");
        let on_wire = stall.unanswered.load(Ordering::SeqCst);
        assert!(
            st.queued_ops <= QUEUED,
            "queued ops {} over the bound {QUEUED}",
            st.queued_ops
        );
        assert!(on_wire <= IN_FLIGHT, "{on_wire} WRITEs on the wire");
        for ch in &st.channels {
            assert!(ch.in_flight <= IN_FLIGHT, "in flight {}", ch.in_flight);
        }
        if st.queued_ops == QUEUED && on_wire > 0 {
            break;
        }
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *done.lock().unwrap(),
        0,
        "a writer finished while WRITEs stall"
    );
    let peak = stall.peak.load(Ordering::SeqCst);
    assert!(
        (1..=IN_FLIGHT).contains(&peak),
        "WRITEs on the wire while stalled: at most {peak}, bound {IN_FLIGHT}"
    );
    stall.released.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("a write after the server answered again");
    }
    assert_eq!(*done.lock().unwrap(), WRITERS);
    assert!(stall.writes.load(Ordering::SeqCst) >= WRITERS);
    assert!(
        stall.peak.load(Ordering::SeqCst) <= IN_FLIGHT,
        "WRITEs on the wire exceeded the bound after the release"
    );
    drop(s);
    h.shutdown(c).await;
}
