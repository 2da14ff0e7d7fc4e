//! The state machines of channels, sessions, tree connects and opens.
//!
//! Each object (one TCP channel, the session, each tree connect, each open) carries a
//! [`Machine`]: its current status, an epoch, and, while the status is an `In*` step, a
//! [`Flight`] that records the step's single owner, the operations waiting for it and its
//! deadline. The rules of the architecture are enforced here:
//!
//! - A transition not in the object's table is refused with [`IllegalTransition`] (a bug in
//!   the caller, reported as a value, never a panic); the status does not change.
//! - Every `In*` step has exactly one owner. A second requester [joins](Machine::join) the
//!   waiter list instead of starting the step again, so one NEGOTIATE / SESSION_SETUP /
//!   TREE_CONNECT / reopen is sent per epoch.
//! - Finishing a step hands back its waiters; [failing](Machine::fail) or
//!   [timing out](Machine::expire) moves the object back to its `Need*` status (never stuck in
//!   `In*`) and hands back owner and waiters so the caller can fail or reschedule all of them.
//! - Every change of status yields a [`Transition`] that the client emits as
//!   `Event::Transition`.

pub mod channel;
pub mod open;
pub mod session;
pub mod tree;

pub use channel::ChannelState;
pub use open::OpenState;
pub use session::SessionState;
pub use tree::TreeState;

use crate::time::Instant;
use alloc::vec::Vec;
use core::fmt;

/// Identifies one operation submitted to the client (also the owner of internal steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// Identifies one channel (TCP connection) of the client. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// The client's own handle for a tree connect; stable across reconnects (the wire TreeId may
/// change underneath).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TreeId(pub u32);

/// The client's own handle for an open file or directory; stable across a durable reopen (the
/// wire FileId may change underneath).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileHandle(pub u32);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op#{}", self.0)
    }
}
impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel#{}", self.0)
    }
}
impl fmt::Display for TreeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tree#{}", self.0)
    }
}
impl fmt::Display for FileHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file#{}", self.0)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectRef::Channel(c) => write!(f, "{c}"),
            ObjectRef::Session => f.write_str("session"),
            ObjectRef::Tree(t) => write!(f, "{t}"),
            ObjectRef::Open(h) => write!(f, "{h}"),
        }
    }
}

impl fmt::Display for AnyState {
    /// The status's name alone (`InNegotiate`): the object says which machine it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyState::Channel(s) => write!(f, "{s:?}"),
            AnyState::Session(s) => write!(f, "{s:?}"),
            AnyState::Tree(s) => write!(f, "{s:?}"),
            AnyState::Open(s) => write!(f, "{s:?}"),
        }
    }
}

/// The object a transition happened to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectRef {
    /// A channel.
    Channel(ChannelId),
    /// The client's (single) session.
    Session,
    /// A tree connect.
    Tree(TreeId),
    /// An open.
    Open(FileHandle),
}

/// The status of any object, for [`Transition`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnyState {
    /// A channel status.
    Channel(ChannelState),
    /// A session status.
    Session(SessionState),
    /// A tree connect status.
    Tree(TreeState),
    /// An open status.
    Open(OpenState),
}

/// One change of status (emitted as `Event::Transition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// What changed.
    pub object: ObjectRef,
    /// Status before.
    pub from: AnyState,
    /// Status after.
    pub to: AnyState,
}

/// Who owns an `In*` step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A submitted operation (e.g. the `connect` op, or the first request that needed a tree).
    Op(OpId),
    /// The client itself (reconnect, echo, lease break acknowledgment...).
    Internal,
}

/// A refused transition: a bug in the caller, reported instead of panicking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IllegalTransition {
    /// The object.
    pub object: ObjectRef,
    /// Its current status.
    pub from: AnyState,
    /// The status that was asked for.
    pub to: AnyState,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "illegal transition of {:?}: {:?} -> {:?}",
            self.object, self.from, self.to
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for IllegalTransition {}

/// A status enum of one kind of object.
pub trait Status: Copy + Eq + fmt::Debug {
    /// Whether `self -> to` is in the table.
    fn allows(self, to: Self) -> bool;
    /// True for `In*` steps (which have an owner, waiters and a deadline).
    fn in_progress(self) -> bool;
    /// Where an `In*` step goes back to when it fails or times out.
    fn on_failure(self) -> Option<Self>;
    /// Wrap for [`Transition`] records.
    fn any(self) -> AnyState;
}

/// The owner, waiters and deadline of an `In*` step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flight {
    /// The single owner.
    pub owner: Owner,
    /// Operations that need the step's result; resumed or failed with it.
    pub waiters: Vec<OpId>,
    /// When the step times out.
    pub deadline: Instant,
}

impl Flight {
    /// Owner (if an operation) followed by the waiters: everybody to resume or fail.
    pub fn everyone(&self) -> Vec<OpId> {
        let mut v = Vec::with_capacity(self.waiters.len() + 1);
        if let Owner::Op(op) = self.owner {
            v.push(op);
        }
        v.extend(self.waiters.iter().copied());
        v
    }
}

/// Outcome of [`Machine::acquire`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// The object already is in the wanted status: go ahead.
    Ready,
    /// The requester became the owner of the `In*` step (the transition happened).
    Owner(Transition),
    /// The step is in flight under another owner; the requester was added to its waiters.
    Joined,
    /// The object cannot reach the status from where it is (e.g. `Exiting`).
    Refused(IllegalTransition),
}

/// The status of one object with its epoch and its in-flight step.
#[derive(Clone, Debug)]
pub struct Machine<S: Status> {
    object: ObjectRef,
    state: S,
    epoch: u32,
    flight: Option<Flight>,
}

impl<S: Status> Machine<S> {
    /// A machine for `object` in `initial` status, epoch 0.
    pub fn new(object: ObjectRef, initial: S) -> Self {
        Machine {
            object,
            state: initial,
            epoch: 0,
            flight: None,
        }
    }

    /// The object.
    pub fn object(&self) -> ObjectRef {
        self.object
    }
    /// The current status.
    pub fn state(&self) -> S {
        self.state
    }
    /// The epoch (incremented by [`Machine::bump_epoch`]).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
    /// Start a new epoch (new transport, new session establishment). Returns the new epoch.
    pub fn bump_epoch(&mut self) -> u32 {
        self.epoch = self.epoch.wrapping_add(1);
        self.epoch
    }
    /// The in-flight step, if the status is `In*`.
    pub fn flight(&self) -> Option<&Flight> {
        self.flight.as_ref()
    }

    fn illegal(&self, to: S) -> IllegalTransition {
        IllegalTransition {
            object: self.object,
            from: self.state.any(),
            to: to.any(),
        }
    }

    fn record(&self, from: S) -> Transition {
        Transition {
            object: self.object,
            from: from.any(),
            to: self.state.any(),
        }
    }

    /// Move to a status that is not an `In*` step (e.g. `NeedReconnect`, `Exiting`, or from
    /// `In*` to its success status when nobody waits). Leaving an `In*` step this way drops its
    /// flight: use [`Machine::finish`] / [`Machine::fail`] to get the waiters back.
    pub fn set(&mut self, to: S) -> Result<(Transition, Option<Flight>), IllegalTransition> {
        if to.in_progress() || !self.state.allows(to) {
            return Err(self.illegal(to));
        }
        let from = self.state;
        self.state = to;
        let flight = self.flight.take();
        Ok((self.record(from), flight))
    }

    /// Enter the `In*` step `to` with `owner`, or join it if it is already in flight, or
    /// report `Ready` if the object already is in `ready` (the status the step leads to).
    pub fn acquire(&mut self, to: S, ready: S, requester: Owner, deadline: Instant) -> Acquire {
        if self.state == ready {
            return Acquire::Ready;
        }
        if self.state == to {
            if let Some(f) = self.flight.as_mut() {
                if f.owner != requester {
                    if let Owner::Op(op) = requester {
                        if !f.waiters.contains(&op) {
                            f.waiters.push(op);
                        }
                    }
                }
            }
            return Acquire::Joined;
        }
        match self.begin(to, requester, deadline) {
            Ok(t) => Acquire::Owner(t),
            Err(e) => Acquire::Refused(e),
        }
    }

    /// Enter the `In*` step `to` with `owner` (must be allowed from the current status).
    pub fn begin(
        &mut self,
        to: S,
        owner: Owner,
        deadline: Instant,
    ) -> Result<Transition, IllegalTransition> {
        if !to.in_progress() || !self.state.allows(to) {
            return Err(self.illegal(to));
        }
        let from = self.state;
        self.state = to;
        self.flight = Some(Flight {
            owner,
            waiters: Vec::new(),
            deadline,
        });
        Ok(self.record(from))
    }

    /// Add `op` to the waiters of the current `In*` step. False if no step is in flight.
    pub fn join(&mut self, op: OpId) -> bool {
        match self.flight.as_mut() {
            Some(f) => {
                if f.owner != Owner::Op(op) && !f.waiters.contains(&op) {
                    f.waiters.push(op);
                }
                true
            }
            None => false,
        }
    }

    /// The owner gave up (cancelled, timed out) while waiters remain: the first waiter becomes
    /// the owner of the step in flight (nothing is sent again). Returns the new owner.
    pub fn hand_over(&mut self) -> Option<OpId> {
        let f = self.flight.as_mut()?;
        if f.waiters.is_empty() {
            return None;
        }
        let next = f.waiters.remove(0);
        f.owner = Owner::Op(next);
        Some(next)
    }

    /// Remove `op` from the waiters (cancelled). Returns whether it was there.
    pub fn leave(&mut self, op: OpId) -> bool {
        match self.flight.as_mut() {
            Some(f) => {
                let before = f.waiters.len();
                f.waiters.retain(|w| *w != op);
                before != f.waiters.len()
            }
            None => false,
        }
    }

    /// Leave the current `In*` step successfully for `to` (next `Need*` or `Good`). Hands back
    /// the step's flight so the caller resumes owner and waiters.
    pub fn finish(&mut self, to: S) -> Result<(Transition, Flight), IllegalTransition> {
        if !self.state.in_progress() || !self.state.allows(to) {
            return Err(self.illegal(to));
        }
        let flight = self.flight.take().unwrap_or(Flight {
            owner: Owner::Internal,
            waiters: Vec::new(),
            deadline: Instant::default(),
        });
        let from = self.state;
        self.state = to;
        Ok((self.record(from), flight))
    }

    /// The `In*` step failed: go back to its `Need*` status. Hands back the flight so the
    /// caller fails or reschedules owner and waiters.
    pub fn fail(&mut self) -> Result<(Transition, Flight), IllegalTransition> {
        let Some(back) = self.state.on_failure() else {
            return Err(self.illegal(self.state));
        };
        self.finish(back)
    }

    /// If the `In*` step's deadline has passed at `now`, fail it (see [`Machine::fail`]).
    pub fn expire(&mut self, now: Instant) -> Option<(Transition, Flight)> {
        match &self.flight {
            Some(f) if f.deadline <= now => self.fail().ok(),
            _ => None,
        }
    }

    /// The deadline of the in-flight step.
    pub fn deadline(&self) -> Option<Instant> {
        self.flight.as_ref().map(|f| f.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn t0() -> Instant {
        Instant::from_nanos(0)
    }

    #[test]
    fn second_requester_joins_instead_of_starting_again() {
        let mut m = Machine::new(ObjectRef::Tree(TreeId(1)), TreeState::New);
        let dl = t0() + Duration::from_secs(10);
        let first = m.acquire(TreeState::InTcon, TreeState::Good, Owner::Op(OpId(1)), dl);
        assert!(
            matches!(first, Acquire::Owner(t) if t.from == AnyState::Tree(TreeState::New)
            && t.to == AnyState::Tree(TreeState::InTcon))
        );
        // Second and third requesters join; the owner asking again does not duplicate.
        assert_eq!(
            m.acquire(TreeState::InTcon, TreeState::Good, Owner::Op(OpId(2)), dl),
            Acquire::Joined
        );
        assert_eq!(
            m.acquire(TreeState::InTcon, TreeState::Good, Owner::Op(OpId(3)), dl),
            Acquire::Joined
        );
        assert_eq!(
            m.acquire(TreeState::InTcon, TreeState::Good, Owner::Op(OpId(1)), dl),
            Acquire::Joined
        );
        assert!(m.join(OpId(2)));
        let f = m.flight().unwrap();
        assert_eq!(f.owner, Owner::Op(OpId(1)));
        assert_eq!(f.waiters, alloc::vec![OpId(2), OpId(3)]);
        let (t, f) = m.finish(TreeState::Good).unwrap();
        assert_eq!(t.to, AnyState::Tree(TreeState::Good));
        assert_eq!(f.everyone(), alloc::vec![OpId(1), OpId(2), OpId(3)]);
        assert_eq!(
            m.acquire(TreeState::InTcon, TreeState::Good, Owner::Op(OpId(4)), dl),
            Acquire::Ready
        );
    }

    #[test]
    fn owner_failure_hands_back_everyone_and_returns_to_need() {
        let mut m = Machine::new(ObjectRef::Channel(ChannelId(0)), ChannelState::New);
        m.set(ChannelState::NeedNegotiate).unwrap();
        m.begin(ChannelState::InNegotiate, Owner::Op(OpId(7)), t0())
            .unwrap();
        m.join(OpId(8));
        let (t, f) = m.fail().unwrap();
        assert_eq!(t.from, AnyState::Channel(ChannelState::InNegotiate));
        assert_eq!(t.to, AnyState::Channel(ChannelState::NeedNegotiate));
        assert_eq!(f.everyone(), alloc::vec![OpId(7), OpId(8)]);
        assert_eq!(m.state(), ChannelState::NeedNegotiate);
        assert!(m.flight().is_none());
        // A fresh owner can start the step again (next attempt).
        assert!(
            m.begin(ChannelState::InNegotiate, Owner::Internal, t0())
                .is_ok()
        );
    }

    #[test]
    fn timeout_moves_back_to_need_and_only_after_deadline() {
        let mut m = Machine::new(ObjectRef::Session, SessionState::New);
        let dl = t0() + Duration::from_secs(5);
        m.begin(SessionState::InSetup, Owner::Op(OpId(1)), dl)
            .unwrap();
        m.join(OpId(2));
        assert!(m.expire(t0() + Duration::from_secs(4)).is_none());
        assert_eq!(m.state(), SessionState::InSetup);
        let (t, f) = m.expire(dl).unwrap();
        assert_eq!(t.to, AnyState::Session(SessionState::NeedReconnect));
        assert_eq!(f.waiters, alloc::vec![OpId(2)]);
        assert!(m.expire(dl + Duration::from_secs(100)).is_none());
    }

    #[test]
    fn illegal_transitions_are_refused_without_change() {
        let mut m = Machine::new(ObjectRef::Open(FileHandle(3)), OpenState::Good);
        // Good -> InReopen skips NeedReopen.
        let e = m
            .begin(OpenState::InReopen, Owner::Internal, t0())
            .unwrap_err();
        assert_eq!(e.from, AnyState::Open(OpenState::Good));
        assert_eq!(m.state(), OpenState::Good);
        // set() never enters an In* step.
        assert!(m.set(OpenState::InReopen).is_err());
        // finish()/fail() outside In* are refused.
        assert!(m.finish(OpenState::Good).is_err());
        assert!(m.fail().is_err());
        assert!(m.set(OpenState::Lost).is_ok());
        // Lost is terminal.
        assert!(m.set(OpenState::Good).is_err());
        assert!(m.set(OpenState::NeedReopen).is_err());
    }

    #[test]
    fn exiting_refuses_acquire() {
        let mut m = Machine::new(ObjectRef::Session, SessionState::Good);
        m.set(SessionState::Exiting).unwrap();
        let r = m.acquire(
            SessionState::InSetup,
            SessionState::Good,
            Owner::Op(OpId(1)),
            t0(),
        );
        assert!(matches!(r, Acquire::Refused(_)));
    }

    #[test]
    fn leave_removes_a_cancelled_waiter() {
        let mut m = Machine::new(ObjectRef::Tree(TreeId(2)), TreeState::NeedTcon);
        m.begin(TreeState::InTcon, Owner::Internal, t0()).unwrap();
        m.join(OpId(5));
        m.join(OpId(6));
        assert!(m.leave(OpId(5)));
        assert!(!m.leave(OpId(5)));
        assert_eq!(m.flight().unwrap().everyone(), alloc::vec![OpId(6)]);
    }

    #[test]
    fn epochs_increase() {
        let mut m = Machine::new(ObjectRef::Channel(ChannelId(1)), ChannelState::New);
        assert_eq!(m.epoch(), 0);
        assert_eq!(m.bump_epoch(), 1);
        assert_eq!(m.bump_epoch(), 2);
    }
}
