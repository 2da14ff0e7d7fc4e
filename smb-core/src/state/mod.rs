//! The state machines of channels, sessions, tree connects and opens.
