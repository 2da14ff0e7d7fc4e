//! The per-channel sequence window and credit accounting ([MS-SMB2] 3.2.4.1.5, 3.2.5.1.4).
//!
//! A channel may send a request only with MessageIds the server has granted. The window is
//! tracked as a count of granted-but-unused credits plus the next MessageId: a request with
//! CreditCharge `n` takes the ids `next .. next + n` and `n` credits. Every response, interim
//! `STATUS_PENDING` ones included (peer-lessons #2), adds its CreditResponse back.
//!
//! Requests ask for their own charge plus what is missing to reach the configured target, so
//! the window grows to the target and stays there.
//!
//! A request that needs more credits than are available waits while others are in flight
//! (their responses return credits); when nothing is in flight no credit will ever come, so
//! [`CreditWindow::plan`] tells the caller to shrink the request to what is available rather
//! than wait forever (peer-lessons #3).

/// Bytes covered by one credit with multi-credit (large MTU) requests.
pub const CREDIT_UNIT: u64 = 65536;

/// CreditCharge for a request that sends `send_len` payload bytes and expects up to
/// `recv_len` payload bytes back: `ceil(max(send, recv) / 65536)`, at least 1
/// ([MS-SMB2] 3.2.4.1.5).
pub fn credit_charge(send_len: u64, recv_len: u64) -> u16 {
    let m = send_len.max(recv_len);
    if m == 0 {
        return 1;
    }
    let c = (m - 1) / CREDIT_UNIT + 1;
    u16::try_from(c).unwrap_or(u16::MAX)
}

/// The ids and credits taken by one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// MessageId of the request (the first of `charge` consecutive ids).
    pub message_id: u64,
    /// Credits consumed (1 without multi-credit support).
    pub charge: u16,
    /// The value to put in the header's CreditCharge field (0 when the connection does not
    /// support multi-credit requests).
    pub header_charge: u16,
    /// The value to put in the header's CreditRequest field.
    pub credit_request: u16,
}

/// What the caller should do with a request of a given charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Enough credits: send with this charge.
    Send(u16),
    /// Not enough now, but requests are in flight and their responses return credits: wait.
    Wait,
    /// Not enough, and nothing is in flight: cut the request down to this many credits' worth
    /// (at least 1) and send that.
    Shrink(u16),
    /// No credit at all and nothing in flight: the window is stalled (server error).
    Stalled,
}

/// Sequence window of one channel (for one channel epoch).
#[derive(Clone, Debug)]
pub struct CreditWindow {
    next_id: u64,
    available: u32,
    in_flight: u32,
    asked_extra: u32,
    target: u16,
    multi_credit: bool,
    granted_total: u64,
}

impl CreditWindow {
    /// A fresh window: MessageId 0 and one credit (for NEGOTIATE), growing toward `target`.
    pub fn new(target: u16) -> Self {
        CreditWindow {
            next_id: 0,
            available: 1,
            in_flight: 0,
            asked_extra: 0,
            target: target.max(1),
            multi_credit: false,
            granted_total: 0,
        }
    }

    /// Set after NEGOTIATE: whether the connection supports multi-credit requests (2.1+ with
    /// SMB2_GLOBAL_CAP_LARGE_MTU).
    pub fn set_multi_credit(&mut self, on: bool) {
        self.multi_credit = on;
    }

    /// Whether multi-credit requests are supported.
    pub fn multi_credit(&self) -> bool {
        self.multi_credit
    }

    /// Credits available now.
    pub fn available(&self) -> u32 {
        self.available
    }

    /// Credits charged to requests still in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The next MessageId to be used.
    pub fn next_message_id(&self) -> u64 {
        self.next_id
    }

    /// Sum of every CreditResponse received on this window.
    pub fn granted_total(&self) -> u64 {
        self.granted_total
    }

    /// The charge for a payload (1 without multi-credit support).
    pub fn charge_for(&self, send_len: u64, recv_len: u64) -> u16 {
        if self.multi_credit {
            credit_charge(send_len, recv_len)
        } else {
            1
        }
    }

    /// What to do with a request of `charge` credits now, given what is available and in
    /// flight.
    pub fn plan(&self, charge: u16) -> Plan {
        let charge = if self.multi_credit { charge.max(1) } else { 1 };
        if self.available >= u32::from(charge) {
            Plan::Send(charge)
        } else if self.in_flight > 0 {
            Plan::Wait
        } else if self.available > 0 {
            Plan::Shrink(u16::try_from(self.available).unwrap_or(u16::MAX))
        } else {
            Plan::Stalled
        }
    }

    /// Take `charge` credits and as many MessageIds. `None` if the window does not hold that
    /// many credits (never send outside the window).
    pub fn reserve(&mut self, charge: u16) -> Option<Reservation> {
        let charge = if self.multi_credit { charge.max(1) } else { 1 };
        if self.available < u32::from(charge) {
            return None;
        }
        self.available -= u32::from(charge);
        self.in_flight += u32::from(charge);
        let message_id = self.next_id;
        self.next_id += u64::from(charge);
        // Ask for our charge back plus what is missing to reach the target.
        let have = self.available + self.in_flight + self.asked_extra;
        let missing = u32::from(self.target).saturating_sub(have);
        let extra = missing.min(u32::from(u16::MAX - charge));
        self.asked_extra += extra;
        Some(Reservation {
            message_id,
            charge,
            header_charge: if self.multi_credit { charge } else { 0 },
            credit_request: charge + extra as u16,
        })
    }

    /// Credits granted by a response (interim or final).
    pub fn grant(&mut self, credits: u16) {
        self.available = self.available.saturating_add(u32::from(credits));
        self.granted_total += u64::from(credits);
    }

    /// The request of `r` is finished (final response received, or it will never get one):
    /// its charge no longer counts as in flight.
    pub fn release(&mut self, r: &Reservation) {
        self.in_flight = self.in_flight.saturating_sub(u32::from(r.charge));
        let extra = u32::from(r.credit_request.saturating_sub(r.charge));
        self.asked_extra = self.asked_extra.saturating_sub(extra);
    }

    /// Whether no request can ever be sent again on this window (no credit, nothing pending).
    pub fn stalled(&self) -> bool {
        self.available == 0 && self.in_flight == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_rounds_up() {
        assert_eq!(credit_charge(0, 0), 1);
        assert_eq!(credit_charge(1, 0), 1);
        assert_eq!(credit_charge(65536, 0), 1);
        assert_eq!(credit_charge(65537, 0), 2);
        assert_eq!(credit_charge(0, 8 << 20), 128);
        assert_eq!(credit_charge(100, 1 << 20), 16);
    }

    #[test]
    fn starts_with_one_credit_and_grows_to_target() {
        let mut w = CreditWindow::new(512);
        let r = w.reserve(1).unwrap();
        assert_eq!(r.message_id, 0);
        assert_eq!(r.credit_request, 512);
        assert!(w.reserve(1).is_none(), "never send outside the window");
        w.grant(512);
        w.release(&r);
        assert_eq!(w.available(), 512);
        // At the target, each request asks for its charge back only.
        w.set_multi_credit(true);
        let r = w.reserve(4).unwrap();
        assert_eq!(r.message_id, 1);
        assert_eq!(r.charge, 4);
        assert_eq!(r.header_charge, 4);
        assert_eq!(r.credit_request, 4);
        assert_eq!(w.next_message_id(), 5);
    }

    #[test]
    fn interim_grants_count_and_final_zero_grant_is_fine() {
        // Samba: STATUS_PENDING interim grants the credits, the final response grants 0.
        let mut w = CreditWindow::new(16);
        w.set_multi_credit(true);
        w.grant(15); // 16 available
        let r = w.reserve(16).unwrap();
        assert_eq!(w.available(), 0);
        assert_eq!(w.plan(1), Plan::Wait);
        w.grant(16); // interim
        assert_eq!(w.available(), 16);
        w.grant(0); // final
        w.release(&r);
        assert_eq!(w.in_flight(), 0);
        assert_eq!(w.plan(16), Plan::Send(16));
    }

    #[test]
    fn oversized_request_shrinks_instead_of_waiting_forever() {
        let mut w = CreditWindow::new(8);
        w.set_multi_credit(true);
        w.grant(2); // 3 available
        // 128 credits (8 MiB) can never come while nothing is in flight: shrink.
        assert_eq!(w.plan(128), Plan::Shrink(3));
        let r = w.reserve(3).unwrap();
        // Now something is in flight: wait for its credits.
        assert_eq!(w.plan(128), Plan::Wait);
        w.release(&r);
        assert_eq!(w.plan(1), Plan::Stalled);
        assert!(w.stalled());
        w.grant(1);
        assert_eq!(w.plan(1), Plan::Send(1));
    }

    #[test]
    fn without_multi_credit_every_request_costs_one() {
        let mut w = CreditWindow::new(4);
        w.grant(3);
        assert_eq!(w.charge_for(1 << 20, 0), 1);
        let r = w.reserve(16).unwrap();
        assert_eq!(r.charge, 1);
        assert_eq!(r.header_charge, 0);
        assert_eq!(w.plan(100), Plan::Send(1));
    }

    #[test]
    fn outstanding_asks_are_not_repeated() {
        let mut w = CreditWindow::new(10);
        let a = w.reserve(1).unwrap();
        assert_eq!(a.credit_request, 10);
        w.grant(1); // server granted only 1 back for now
        let b = w.reserve(1).unwrap();
        // Already asked for 9 extra: ask only for the charge.
        assert_eq!(b.credit_request, 1);
        w.release(&a);
        w.release(&b);
        w.grant(1);
        let c = w.reserve(1).unwrap();
        assert_eq!(c.credit_request, 10);
    }

    /// The accessors the engine's stats and send path read: the multi-credit switch, the
    /// charge in flight, the sum of every grant.
    #[test]
    fn accessors_report_the_window() {
        let mut w = CreditWindow::new(8);
        assert!(!w.multi_credit());
        w.set_multi_credit(true);
        assert!(w.multi_credit());
        assert_eq!(w.granted_total(), 0);
        w.grant(7);
        w.grant(3);
        assert_eq!(w.granted_total(), 10);
        let r = w.reserve(4).unwrap();
        assert_eq!(w.in_flight(), 4);
        let r2 = w.reserve(2).unwrap();
        assert_eq!(w.in_flight(), 6);
        w.release(&r);
        assert_eq!(w.in_flight(), 2);
        w.release(&r2);
        assert_eq!(w.in_flight(), 0);
        w.set_multi_credit(false);
        assert!(!w.multi_credit());
    }

    /// `stalled` needs both: no credit and nothing in flight.
    #[test]
    fn stalled_only_without_credits_and_without_requests_in_flight() {
        let mut w = CreditWindow::new(4);
        assert!(!w.stalled(), "one credit, nothing in flight");
        let r = w.reserve(1).unwrap();
        assert!(!w.stalled(), "no credit, but a request in flight");
        w.release(&r);
        assert!(w.stalled(), "no credit and nothing in flight");
    }

    /// A target near 65535 asks for everything missing in one CreditRequest, capped so that
    /// charge + extra still fits the 16-bit field.
    #[test]
    fn the_credit_request_is_capped_at_the_field() {
        let mut w = CreditWindow::new(u16::MAX);
        w.set_multi_credit(true);
        w.grant(9); // 10 available
        let r = w.reserve(2).unwrap();
        // have = 8 available + 2 in flight; missing = 65525, within 65535 - 2.
        assert_eq!(r.credit_request, 2 + 65525);
        let mut w = CreditWindow::new(u16::MAX);
        w.set_multi_credit(true);
        w.grant(3);
        let r = w.reserve(4).unwrap();
        // have = 0 + 4; missing = 65531 = 65535 - 4 exactly: the request is the field's max.
        assert_eq!(r.credit_request, u16::MAX);
    }
}
