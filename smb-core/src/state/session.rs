//! Session status.
//!
//! `New | NeedReconnect -> InSetup -> Good`, `Good -> NeedReconnect` when every channel is
//! lost (or the session expired), `Exiting` from anywhere. A failed or timed-out `InSetup`
//! goes to `NeedReconnect`. Each successful setup starts a new session epoch; tree connects
//! are redone once per session epoch.

use super::{AnyState, Status};

/// Status of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Never set up.
    New,
    /// Must be (re-)established (PreviousSessionId set when it had been Good).
    NeedReconnect,
    /// Non-binding SESSION_SETUP exchange in flight (one owner).
    InSetup,
    /// Established.
    Good,
    /// Logging off / shut down.
    Exiting,
}

impl Status for SessionState {
    fn allows(self, to: Self) -> bool {
        use SessionState::*;
        match (self, to) {
            (Exiting, _) => false,
            (_, Exiting) => true,
            (New | NeedReconnect, InSetup) => true,
            (InSetup, Good | NeedReconnect) => true,
            (Good, NeedReconnect) => true,
            // Re-authentication of an expired session.
            (Good, InSetup) => true,
            (New, NeedReconnect) => true,
            _ => false,
        }
    }
    fn in_progress(self) -> bool {
        matches!(self, SessionState::InSetup)
    }
    fn on_failure(self) -> Option<Self> {
        match self {
            SessionState::InSetup => Some(SessionState::NeedReconnect),
            _ => None,
        }
    }
    fn any(self) -> AnyState {
        AnyState::Session(self)
    }
}

#[cfg(test)]
mod tests {
    use super::SessionState::*;
    use super::*;

    #[test]
    fn table() {
        assert!(New.allows(InSetup));
        assert!(InSetup.allows(Good));
        assert!(Good.allows(NeedReconnect));
        assert!(NeedReconnect.allows(InSetup));
        assert!(!New.allows(Good));
        assert!(!NeedReconnect.allows(Good));
        assert!(!Exiting.allows(InSetup));
        assert_eq!(InSetup.on_failure(), Some(NeedReconnect));
    }
}
