//! The `smb` command-line client (binary `smb`), as a library so that its pieces can be
//! tested: argument parsing and command logic in [`cli`], error classification and exit
//! codes in [`error`], and the seam to the three runtime adapters in [`remote`].

pub mod cli;
pub mod error;
pub mod remote;
