//! Throwaway Samba servers and a fault-injecting proxy for tests, benchmarks and the demo.
//!
//! - [`SambaServer`]: a private `smbd` (Debian's package, installed on first use if missing)
//!   on a free loopback port with its own smb.conf, passdb and shares in a temp dir (on
//!   /dev/shm when available). Configure with [`SambaConfig`]; share one per test binary
//!   with [`SambaServer::shared`].
//! - [`FaultProxy`]: a TCP proxy that can cut, stall and delay connections, counts the
//!   SMB2 commands that pass through it and lets a test rewrite, drop or inject frames
//!   ([`FaultProxy::rewrite`], helpers in [`frames`]).
//! - [`hostile::HostileServer`]: a scripted SMB2/3 server on loopback that plays a normal
//!   server (real NTLMv2, signing, encryption) up to the point where it misbehaves, and the
//!   malicious-server suite run on every runtime ([`hostile_tests!`]).
//!
//! ```no_run
//! use smb_testkit::{SambaServer, SHARE};
//! let server = SambaServer::shared();
//! let (addr, user, pass) = (server.addr(), server.user(), server.password());
//! let dir_on_disk = server.share_path(SHARE);
//! # let _ = (addr, user, pass, dir_on_disk);
//! ```

pub mod frames;
pub mod hostile;
mod install;
mod kerberos;
mod proxy;
mod samba;
pub mod scenarios;

pub use install::{
    UNIX_GROUP, UNIX_USER, ensure_samba_installed, ensure_unix_group, ensure_unix_user,
    find_program,
};
pub use kerberos::{KerberosLab, in_private_netns};
pub use proxy::{Direction, Event, FaultProxy, Hook, Intercept, Seen};
pub use samba::{
    DEFAULT_PASSWORD, ENCRYPTED_SHARE, GUEST_SHARE, READONLY_SHARE, SHARE, SambaConfig,
    SambaServer, share_comment, smbclient,
};
