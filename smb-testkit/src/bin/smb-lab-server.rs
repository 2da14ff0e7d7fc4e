//! Start a throwaway Samba server for shell scripts (demo, fixture capture, manual testing).
//!
//! Prints `KEY=value` lines (SMB_ADDR, SMB_HOST, SMB_PORT, SMB_USER, SMB_PASSWORD, SMB_SHARE,
//! SMB_SHARE_PATH, SMB_CONF, SMB_LOG) and a final `READY` line on stdout, then serves until
//! its stdin reaches end of file (or the process is killed; smbd then exits by itself and
//! the directory is removed shortly after).
//!
//! Options: `--min-protocol P`, `--max-protocol P`, `--signing`, `--encrypt`, `--guest`,
//! `--durable`, `--multichannel N`, `--no-tmpfs`, `--debug N`, `--global "line"`.

use smb_testkit::{SHARE, SambaConfig};
use std::io::Read as _;

fn usage() -> ! {
    eprintln!(
        "usage: smb-lab-server [--min-protocol P] [--max-protocol P] [--signing] [--encrypt] \
         [--guest] [--durable] [--multichannel N] [--no-tmpfs] [--debug N] [--global LINE]..."
    );
    std::process::exit(2)
}

fn main() {
    let mut cfg = SambaConfig::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        cfg = match a.as_str() {
            "--min-protocol" => cfg.min_protocol(&val()),
            "--max-protocol" => cfg.max_protocol(&val()),
            "--signing" => cfg.signing_required(true),
            "--encrypt" => cfg.encryption_required(true),
            "--guest" => cfg.guest(true),
            "--durable" => cfg.durable_handles(true),
            "--multichannel" => cfg.multichannel(val().parse().unwrap_or_else(|_| usage())),
            "--no-tmpfs" => cfg.tmpfs(false),
            "--debug" => cfg.debug_level(val().parse().unwrap_or_else(|_| usage())),
            "--global" => cfg.global(&val()),
            _ => usage(),
        };
    }
    let server = match cfg.start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smb-lab-server: {e}");
            std::process::exit(1);
        }
    };
    println!("SMB_ADDR={}", server.addr());
    println!("SMB_HOST={}", server.addr().ip());
    println!("SMB_PORT={}", server.port());
    println!("SMB_USER={}", server.user());
    println!("SMB_PASSWORD={}", server.password());
    println!("SMB_SHARE={SHARE}");
    println!("SMB_SHARE_PATH={}", server.share_path(SHARE).display());
    println!("SMB_CONF={}", server.conf_path().display());
    println!("SMB_LOG={}", server.log_path().display());
    println!("READY");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}
