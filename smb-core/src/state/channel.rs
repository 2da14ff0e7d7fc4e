//! Channel (one TCP connection) status.
//!
//! `New | NeedReconnect -> NeedNegotiate -> InNegotiate -> NeedSessSetup -> InSessSetup ->
//! Good`, `Exiting` from anywhere, and `NeedReconnect` from anywhere but `Exiting`. A failed
//! or timed-out `InNegotiate` goes back to `NeedNegotiate`, a failed `InSessSetup` back to
//! `NeedSessSetup`. Every new transport starts a new epoch; ids and credits of an old epoch
//! are never used again.

use super::{AnyState, Status};

/// Status of a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelState {
    /// Created, no transport yet.
    New,
    /// The transport was lost; a new one must be opened.
    NeedReconnect,
    /// Transport up, NEGOTIATE not sent yet.
    NeedNegotiate,
    /// NEGOTIATE in flight (one owner).
    InNegotiate,
    /// Negotiated; the session must be set up (or bound) on this channel.
    NeedSessSetup,
    /// SESSION_SETUP in flight on this channel (one owner).
    InSessSetup,
    /// Usable.
    Good,
    /// Shutting down; nothing is sent after this.
    Exiting,
}

impl Status for ChannelState {
    fn allows(self, to: Self) -> bool {
        use ChannelState::*;
        match (self, to) {
            (Exiting, _) => false,
            (_, Exiting) => true,
            (_, NeedReconnect) => true,
            (New | NeedReconnect, NeedNegotiate) => true,
            (NeedNegotiate, InNegotiate) => true,
            (InNegotiate, NeedSessSetup | NeedNegotiate) => true,
            (NeedSessSetup, InSessSetup) => true,
            (InSessSetup, Good | NeedSessSetup) => true,
            // The session expired or must be re-bound on this channel.
            (Good, NeedSessSetup) => true,
            _ => false,
        }
    }
    fn in_progress(self) -> bool {
        matches!(self, ChannelState::InNegotiate | ChannelState::InSessSetup)
    }
    fn on_failure(self) -> Option<Self> {
        match self {
            ChannelState::InNegotiate => Some(ChannelState::NeedNegotiate),
            ChannelState::InSessSetup => Some(ChannelState::NeedSessSetup),
            _ => None,
        }
    }
    fn any(self) -> AnyState {
        AnyState::Channel(self)
    }
}

#[cfg(test)]
mod tests {
    use super::ChannelState::*;
    use super::*;

    #[test]
    fn happy_path_and_failures() {
        let path = [
            New,
            NeedNegotiate,
            InNegotiate,
            NeedSessSetup,
            InSessSetup,
            Good,
        ];
        for w in path.windows(2) {
            assert!(w[0].allows(w[1]), "{:?} -> {:?}", w[0], w[1]);
        }
        assert!(!New.allows(InNegotiate));
        assert!(!NeedNegotiate.allows(Good));
        assert!(Good.allows(NeedReconnect));
        assert!(NeedReconnect.allows(NeedNegotiate));
        assert!(!Exiting.allows(NeedReconnect));
        assert!(!Exiting.allows(Exiting));
        assert_eq!(InNegotiate.on_failure(), Some(NeedNegotiate));
        assert_eq!(InSessSetup.on_failure(), Some(NeedSessSetup));
        assert_eq!(Good.on_failure(), None);
    }
}
