//! How [`Event`]s read to a person (`channel#3 InNegotiate -> NeedSessSetup after 4 ms`),
//! and which of them matter to someone who is not debugging: shared by every adapter's
//! logging and event stream, and by the CLI's `-v`.

use super::api::{Event, RecoveryEvent};
use core::fmt;

impl Event {
    /// Whether the event is worth showing at the normal verbosity: a connection lost, a
    /// recovery's progress, a session failure, a bug. Transitions and dropped messages are
    /// detail.
    pub fn is_notable(&self) -> bool {
        matches!(
            self,
            Event::Recovery(_)
                | Event::ChannelFailed { .. }
                | Event::ChannelBound { .. }
                | Event::SessionFailed(_)
                | Event::IllegalTransition(_)
        )
    }

    /// A transition's (object, from, to), without the timing: what the parity of two runs
    /// is judged on.
    pub fn transition(
        &self,
    ) -> Option<(
        crate::state::ObjectRef,
        crate::state::AnyState,
        crate::state::AnyState,
    )> {
        match self {
            Event::Transition {
                object, from, to, ..
            } => Some((*object, *from, *to)),
            _ => None,
        }
    }
}

/// Milliseconds with one decimal under 10 ms, whole milliseconds above.
struct Millis(u64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns < 10_000_000 {
            write!(f, "{}.{} ms", ns / 1_000_000, (ns / 100_000) % 10)
        } else {
            write!(f, "{} ms", ns / 1_000_000)
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Transition {
                object,
                from,
                to,
                after,
                ..
            } => write!(
                f,
                "{object} {from} -> {to} after {}",
                Millis(after.as_nanos())
            ),
            Event::Recovery(r) => write!(f, "{r}"),
            Event::IllegalTransition(t) => write!(
                f,
                "illegal transition refused: {} {} -> {} (an engine bug)",
                t.object, t.from, t.to
            ),
            Event::LeaseBreak(b) => write!(f, "lease break: {b:?}"),
            Event::OplockBreak { file, level } => {
                write!(f, "oplock break on {file} to level {level}")
            }
            Event::ChannelFailed { channel, error } => write!(f, "{channel} lost: {error}"),
            Event::ChannelBound { channel } => write!(f, "{channel} bound to the session"),
            Event::SessionFailed(e) => write!(f, "session failed: {e}"),
            Event::Dropped {
                channel,
                message_id,
            } => write!(f, "{channel}: dropped a message (MessageId {message_id})"),
            Event::Lagged { missed } => {
                write!(f, "lagged: {missed} events missed (subscriber too slow)")
            }
        }
    }
}

impl fmt::Display for RecoveryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryEvent::Started { cause } => write!(f, "reconnecting: {cause}"),
            RecoveryEvent::Attempt { attempt } => write!(f, "reconnect attempt {attempt}"),
            RecoveryEvent::Restored { after, attempts } => write!(
                f,
                "reconnected after {} ({attempts} attempt{})",
                Millis(after.as_nanos()),
                if *attempts == 1 { "" } else { "s" }
            ),
            RecoveryEvent::GaveUp { after, attempts } => write!(
                f,
                "gave up reconnecting after {} ({attempts} attempts)",
                Millis(after.as_nanos())
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{AnyState, ChannelId, ChannelState, ObjectRef};
    use crate::time::{Duration, Instant};
    use alloc::string::ToString;

    #[test]
    fn a_transition_reads_as_a_sentence() {
        let e = Event::Transition {
            object: ObjectRef::Channel(ChannelId(3)),
            from: AnyState::Channel(ChannelState::InNegotiate),
            to: AnyState::Channel(ChannelState::NeedSessSetup),
            at: Instant::from_nanos(0),
            after: Duration::from_millis(4),
        };
        assert_eq!(
            e.to_string(),
            "channel#3 InNegotiate -> NeedSessSetup after 4.0 ms"
        );
        assert!(!e.is_notable());
        let r = Event::Recovery(RecoveryEvent::Restored {
            after: Duration::from_millis(250),
            attempts: 2,
        });
        assert_eq!(r.to_string(), "reconnected after 250 ms (2 attempts)");
        assert!(r.is_notable());
    }
}
