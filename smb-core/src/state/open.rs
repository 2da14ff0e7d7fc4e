//! Open (file or directory handle) status.
//!
//! `Good -> NeedReopen -> InReopen -> Good | Lost`. A failed or timed-out `InReopen` goes
//! back to `NeedReopen`; the caller decides when to give up (`NeedReopen -> Lost`). `Lost` is
//! terminal: the handle's operations fail with a retry-is-useless error.

use super::{AnyState, Status};

/// Status of an open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenState {
    /// Valid on the server.
    Good,
    /// The session or tree was re-established; a durable reconnect (or fresh open) is needed.
    NeedReopen,
    /// The reopen CREATE is in flight (one owner).
    InReopen,
    /// Could not be reopened (or closed); terminal.
    Lost,
}

impl Status for OpenState {
    fn allows(self, to: Self) -> bool {
        use OpenState::*;
        matches!(
            (self, to),
            (Good, NeedReopen)
                | (NeedReopen, InReopen)
                | (InReopen, Good | NeedReopen | Lost)
                | (Good | NeedReopen, Lost)
        )
    }
    fn in_progress(self) -> bool {
        matches!(self, OpenState::InReopen)
    }
    fn on_failure(self) -> Option<Self> {
        match self {
            OpenState::InReopen => Some(OpenState::NeedReopen),
            _ => None,
        }
    }
    fn any(self) -> AnyState {
        AnyState::Open(self)
    }
}

#[cfg(test)]
mod tests {
    use super::OpenState::*;
    use super::*;

    #[test]
    fn table() {
        assert!(Good.allows(NeedReopen));
        assert!(NeedReopen.allows(InReopen));
        assert!(InReopen.allows(Good));
        assert!(InReopen.allows(Lost));
        assert!(!Lost.allows(Good));
        assert!(!Good.allows(InReopen));
        assert_eq!(InReopen.on_failure(), Some(NeedReopen));
    }
}
