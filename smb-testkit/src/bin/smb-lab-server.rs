//! Start a throwaway Samba server for shell scripts (demo, fixture capture, manual testing).
//! See `smb-lab-server --help`.

use smb_testkit::{SHARE, SambaConfig};
use std::io::Read as _;

const HELP: &str = "\
smb-lab-server: start a throwaway Samba server (smbd) on 127.0.0.1 for trying the `smb`
command, demos and manual tests. Its config, users and files live in a temporary directory
removed when it stops. Samba is installed with apt-get when missing (needs root).

Usage: smb-lab-server [OPTIONS]

Options:
  --port N             listen on port N (default: a free port)
  --min-protocol P     lowest protocol smbd accepts (e.g. SMB2_02, SMB3_11)
  --max-protocol P     highest protocol smbd accepts
  --signing            require signing (server signing = mandatory)
  --encrypt            require encryption (server smb encrypt = required)
  --guest              add a guest share and map unknown users to guest
  --durable            durable handles and leases on
  --multichannel N     multichannel on, N extra loopback addresses
  --no-tmpfs           keep the files on disk instead of /dev/shm
  --debug N            smbd debug level (log in SMB_LOG)
  --global LINE        add an smb.conf [global] line (repeatable)
  -h, --help           this help

Output on stdout, once the server accepts connections: a line `SMB_URL=smb://user@addr/share`
to use with `smb`, the same as KEY=value lines (SMB_ADDR, SMB_HOST, SMB_PORT, SMB_USER,
SMB_PASSWORD, SMB_SHARE, SMB_SHARE_PATH, SMB_CONF, SMB_LOG), then `READY`.
The server runs until stdin reaches end of file (Ctrl-D in a terminal) or the process is
killed.

Example:
  $ smb-lab-server
  SMB_URL=smb://smbtest@127.0.0.1:40123/share
  ...
  READY
  (in another terminal)
  $ SMB_PASSWORD=Testkit-Pass-1 smb ls smb://smbtest@127.0.0.1:40123/share";

fn usage(why: &str) -> ! {
    eprintln!("smb-lab-server: {why}\nTry 'smb-lab-server --help'.");
    std::process::exit(2)
}

fn main() {
    let mut cfg = SambaConfig::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        let number = |v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{v:?} is not a number")))
        };
        cfg = match a.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return;
            }
            "--port" => match u16::try_from(number(val())) {
                Ok(p) if p > 0 => cfg.port(p),
                _ => usage("--port takes 1 to 65535"),
            },
            "--min-protocol" => cfg.min_protocol(&val()),
            "--max-protocol" => cfg.max_protocol(&val()),
            "--signing" => cfg.signing_required(true),
            "--encrypt" => cfg.encryption_required(true),
            "--guest" => cfg.guest(true),
            "--durable" => cfg.durable_handles(true),
            "--multichannel" => cfg.multichannel(number(val()).min(8) as u8),
            "--no-tmpfs" => cfg.tmpfs(false),
            "--debug" => cfg.debug_level(number(val()).min(10) as u8),
            "--global" => cfg.global(&val()),
            other => usage(&format!("unknown option {other:?}")),
        };
    }
    let server = match cfg.start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smb-lab-server: {e}");
            std::process::exit(1);
        }
    };
    println!("SMB_URL=smb://{}@{}/{SHARE}", server.user(), server.addr());
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
