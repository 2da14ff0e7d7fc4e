//! Tree connect status.
//!
//! `New -> InTcon -> Good`; after a session re-establishment `Good -> NeedReconnect ->
//! InFilesInvalidate -> NeedTcon -> InTcon -> Good`; `Exiting` from anywhere. A failed or
//! timed-out `InTcon` goes back to `NeedTcon` (kernel bug 91f4480c41f5: never stuck).

use super::{AnyState, Status};

/// Status of a tree connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TreeState {
    /// Never connected.
    New,
    /// The session was re-established; this tree must be connected again.
    NeedReconnect,
    /// Its opens are being marked for reopen (one owner).
    InFilesInvalidate,
    /// Ready to send TREE_CONNECT.
    NeedTcon,
    /// TREE_CONNECT in flight (one owner).
    InTcon,
    /// Connected.
    Good,
    /// Disconnecting or disconnected.
    Exiting,
}

impl Status for TreeState {
    fn allows(self, to: Self) -> bool {
        use TreeState::*;
        match (self, to) {
            (Exiting, _) => false,
            (_, Exiting) => true,
            (New | NeedTcon, InTcon) => true,
            (InTcon, Good | NeedTcon) => true,
            (Good | NeedTcon | InTcon | New, NeedReconnect) => true,
            (NeedReconnect, InFilesInvalidate) => true,
            (InFilesInvalidate, NeedTcon | NeedReconnect) => true,
            _ => false,
        }
    }
    fn in_progress(self) -> bool {
        matches!(self, TreeState::InFilesInvalidate | TreeState::InTcon)
    }
    fn on_failure(self) -> Option<Self> {
        match self {
            TreeState::InTcon => Some(TreeState::NeedTcon),
            TreeState::InFilesInvalidate => Some(TreeState::NeedReconnect),
            _ => None,
        }
    }
    fn any(self) -> AnyState {
        AnyState::Tree(self)
    }
}

#[cfg(test)]
mod tests {
    use super::TreeState::*;
    use super::*;

    #[test]
    fn table() {
        let path = [
            Good,
            NeedReconnect,
            InFilesInvalidate,
            NeedTcon,
            InTcon,
            Good,
        ];
        for w in path.windows(2) {
            assert!(w[0].allows(w[1]), "{:?} -> {:?}", w[0], w[1]);
        }
        assert!(New.allows(InTcon));
        assert!(!NeedReconnect.allows(InTcon));
        assert!(!Good.allows(InTcon));
        assert_eq!(InTcon.on_failure(), Some(NeedTcon));
        assert!(!Exiting.allows(NeedTcon));
    }
}
