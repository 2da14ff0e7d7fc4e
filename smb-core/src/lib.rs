//! # smb-core
//!
//! A sans-IO SMB2/3 client protocol engine. It consumes bytes, connection events and the
//! current time as plain values and emits frames to send, sockets to open or close, completed
//! operations and state transitions as plain values. It never opens a socket, never reads a
//! clock and never spawns: the runtime crates (`smb-tokio`, `smb-smol`, `smb-blocking`) do
//! that and feed the results in, so protocol behaviour is identical under every runtime.
//!
//! The crate is `#![no_std]` + `alloc`; the default `std` feature only adds
//! `std::error::Error` implementations.
//!
//! ## Layers
//! - [`wire`]: the SMB2/3 codec, one module per command family, plus framing, compounds and
//!   the transform headers. Decoding never panics and never allocates more than the frame
//!   holds.
//! - [`crypto`]: key derivation, signing, encryption and pre-auth integrity.
//! - [`auth`]: the [`auth::Authenticator`] trait and the built-in NTLMv2 in SPNEGO.
//! - [`state`]: the per-channel, session, tree and open state machines.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod credits;
pub mod crypto;
pub mod state;
pub mod time;
pub mod wire;
