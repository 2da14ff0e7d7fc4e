//! The `smb` command-line client (binary `smb`), as a library so that its pieces can be
//! tested: the command line in [`cli`], running a command in [`run`], the commands in
//! [`commands`] and [`transfer`], error classification and exit codes in [`error`], and the
//! seam to the three runtime adapters in [`remote`].

// The clap doc comments are the help text, where `[user[:pass]@]host[:port]` is usage
// notation, not a link.
#![allow(rustdoc::broken_intra_doc_links)]

pub mod cli;
pub mod commands;
pub mod credentials;
pub mod error;
pub mod format;
pub mod glob;
pub mod interrupt;
pub mod json;
pub mod kerberos_login;
pub mod location;
pub mod pool;
pub mod progress;
pub mod remote;
pub mod resolve;
pub mod run;
pub mod session;
pub mod transfer;
pub mod walk;

#[cfg(test)]
mod tests;
