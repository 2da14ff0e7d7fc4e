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
//! - [`credits`]: the per-channel sequence window.
//! - [`client`]: the [`client::Client`] that ties them together.
//!
//! ## The run loop
//!
//! One task (or thread) owns the [`client::Client`]. After every input (a call to
//! `connect`, `submit`, `handle_connected`, `handle_input`, `handle_closed`,
//! `handle_timeout`, `cancel` or `shutdown`) it drains [`client::Client::poll_output`] until
//! [`client::Output::Timeout`], doing what each output says; then it waits for the next
//! input or the deadline. Every method takes the current time; the core never reads a clock.
//!
//! ```no_run
//! use smb_core::client::{Client, ClientConfig, Output, Request, ServerAddr, CloseReason};
//! use smb_core::time::{FileTime, Instant};
//! # fn run(auth: Box<dyn smb_core::client::AuthFactory>,
//! #        rng: Box<dyn rand_core::CryptoRngCore + Send>,
//! #        now: impl Fn() -> Instant, wall: FileTime,
//! #        socket_write: impl Fn(smb_core::client::ChannelId, &[bytes::Bytes]),
//! #        socket_open: impl Fn(smb_core::client::ChannelId, &ServerAddr) -> bool,
//! #        wait_for_input: impl Fn(Option<Instant>) -> Option<(smb_core::client::ChannelId, Vec<u8>)>) {
//! let mut client = Client::new(ClientConfig::default(), auth, rng, now(), wall);
//! let login = client.connect(ServerAddr::from("127.0.0.1:445"), now());
//! let mut tree_op = None;
//! loop {
//!     // Drain every output produced by the last input.
//!     let deadline = loop {
//!         match client.poll_output() {
//!             Output::Transmit { channel, frame } => socket_write(channel, frame.chunks()),
//!             Output::Connect { channel, addr } => {
//!                 if socket_open(channel, &addr) {
//!                     client.handle_connected(channel, now());
//!                 } else {
//!                     let why = CloseReason::ConnectFailed("refused".into());
//!                     client.handle_closed(channel, why, now());
//!                 }
//!             }
//!             Output::Close { channel: _ } => { /* shut the socket down */ }
//!             Output::Completed { op, result } => {
//!                 if op == login {
//!                     result.expect("login failed");
//!                     let share = Request::TreeConnect { share: "public".into() };
//!                     tree_op = Some(client.submit(share, now()).expect("queued"));
//!                 } else if Some(op) == tree_op {
//!                     println!("tree connect: {result:?}");
//!                     client.shutdown(now());
//!                 }
//!             }
//!             Output::Event(e) => println!("{e:?}"),
//!             Output::Timeout(deadline) => break deadline,
//!             _ => {}
//!         }
//!     };
//!     // Sleep until input arrives or the deadline passes.
//!     match wait_for_input(deadline) {
//!         Some((channel, bytes)) => client.handle_input(channel, &bytes, now()),
//!         None => client.handle_timeout(now()),
//!     }
//! }
//! # }
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod client;
pub mod credits;
pub mod crypto;
pub mod driver;
pub mod state;
pub mod time;
pub mod url;
pub mod wire;
