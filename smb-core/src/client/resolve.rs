//! Host names to addresses: the adapters ask a [`Resolver`] before connecting (the system's
//! by default); a failure is its own, non-retryable error
//! ([`CloseReason::NameNotResolved`](super::CloseReason::NameNotResolved)).

use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

/// Turns `host` and `port` into the addresses to try, in order. An error is a message for
/// the user (`"no such host"`). Set one with
/// [`ClientConfig::with_resolver`](super::ClientConfig::with_resolver); without one the
/// adapters use the system resolver. Hosts that are IP addresses never reach it.
pub trait Resolver: Send + Sync + core::fmt::Debug {
    /// The addresses of `host`, or why there are none.
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String>;
}
