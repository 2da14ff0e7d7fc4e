//! One-time host preparation: the Samba packages and the Unix account the test user maps to.
//!
//! Both steps are idempotent and serialized across processes (nextest runs test binaries in
//! parallel) with `flock(1)` on a lock file, so no libc binding is needed.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The Unix account every throwaway server maps its SMB user to (and uses as guest account).
pub const UNIX_USER: &str = "smbtest";
/// A second group [`UNIX_USER`] belongs to ([`ensure_unix_group`]).
pub const UNIX_GROUP: &str = "smbtestgrp";

const LOCK_FILE: &str = "/tmp/smb-testkit.lock";

fn on_path(prog: &str) -> bool {
    find_program(prog).is_some()
}

/// Full path of `prog` in `PATH` or the sbin directories (smbd lives in /usr/sbin, which is
/// not on every user's PATH).
pub fn find_program(prog: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(Into::into))
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Run `script` under `sh -c` while holding the testkit's file lock.
fn locked_sh(script: &str) -> io::Result<std::process::Output> {
    Command::new("flock")
        .args([LOCK_FILE, "sh", "-c", script])
        .stdin(Stdio::null())
        .output()
}

/// Make sure `smbd`, `smbpasswd` and `smbclient` exist, installing the Debian packages
/// `samba smbclient` with apt-get only when one is missing (an `apt-get update` is tried only
/// if the first install fails). Runs at most once per process; the install itself is
/// serialized with other processes by a file lock.
pub fn ensure_samba_installed() -> io::Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        if ["smbd", "smbpasswd", "smbclient"]
            .iter()
            .all(|p| on_path(p))
        {
            return Ok(());
        }
        let script = "export DEBIAN_FRONTEND=noninteractive; \
             if command -v smbd >/dev/null && command -v smbclient >/dev/null; then exit 0; fi; \
             PATH=$PATH:/usr/sbin:/sbin; \
             if [ -x /usr/sbin/smbd ] && command -v smbclient >/dev/null; then exit 0; fi; \
             apt-get install -y samba smbclient || \
             { apt-get update && apt-get install -y samba smbclient; }";
        let out = locked_sh(script).map_err(|e| format!("running apt-get: {e}"))?;
        if !out.status.success() || !on_path("smbd") {
            return Err(format!(
                "installing samba failed ({}):\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    })
    .clone()
    .map_err(io::Error::other)
}

/// Uid and gid of [`UNIX_USER`], creating the account (no home, no login shell) if missing.
pub fn ensure_unix_user() -> io::Result<(u32, u32)> {
    static DONE: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = format!(
            "id -u {u} >/dev/null 2>&1 || useradd -M -N -s /usr/sbin/nologin {u} || \
             /usr/sbin/useradd -M -N -s /usr/sbin/nologin {u}; id -u {u}; id -g {u}",
            u = UNIX_USER
        );
        let out = locked_sh(&script).map_err(|e| format!("creating user: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut nums = text.lines().filter_map(|l| l.trim().parse::<u32>().ok());
        match (nums.next(), nums.next()) {
            (Some(uid), Some(gid)) if out.status.success() => Ok((uid, gid)),
            _ => Err(format!(
                "could not create Unix user {UNIX_USER} (are we root?): {}",
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    })
    .clone()
    .map_err(io::Error::other)
}

/// A second Unix group of [`UNIX_USER`]'s, for tests that change a file's group: its gid,
/// creating the group and the membership if missing. smbd reads a user's groups at logon,
/// so call this before the session is set up.
pub fn ensure_unix_group() -> io::Result<u32> {
    static DONE: OnceLock<Result<u32, String>> = OnceLock::new();
    DONE.get_or_init(|| {
        ensure_unix_user().map_err(|e| e.to_string())?;
        let script = format!(
            "getent group {g} >/dev/null 2>&1 || groupadd {g} || /usr/sbin/groupadd {g}; \
             id -nG {u} | tr ' ' '\\n' | grep -qx {g} || usermod -aG {g} {u} || \
             /usr/sbin/usermod -aG {g} {u}; getent group {g} | cut -d: -f3",
            g = UNIX_GROUP,
            u = UNIX_USER
        );
        let out = locked_sh(&script).map_err(|e| format!("creating group: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        match text
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok())
            .next()
        {
            Some(gid) if out.status.success() => Ok(gid),
            _ => Err(format!(
                "could not create Unix group {UNIX_GROUP} for {UNIX_USER} (are we root?): {}",
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    })
    .clone()
    .map_err(io::Error::other)
}

/// Remove directories left by test processes that died without cleaning up (their name
/// carries the owner's pid; a directory whose owner is gone is stale).
pub(crate) fn remove_stale_dirs(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
