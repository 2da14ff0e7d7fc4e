//! The `smb-lab-server` binary: help, bad options, and a server on the port asked for that
//! prints the URL to use and stops when its stdin closes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LAB: &str = env!("CARGO_BIN_EXE_smb-lab-server");

#[test]
fn help_and_bad_options() {
    let o = Command::new(LAB).arg("--help").output().unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for needle in ["--port N", "SMB_URL=", "READY", "Example:"] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    for bad in [
        &["--frobnicate"][..],
        &["--port"],
        &["--port", "0"],
        &["--port", "x"],
    ] {
        let o = Command::new(LAB).args(bad).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.starts_with("smb-lab-server: ") && err.contains("--help"),
            "{err}"
        );
    }
}

#[test]
fn serves_on_the_port_asked_for_and_prints_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(LAB)
        .args(["--port", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line == "READY";
        lines.push(line);
        if done {
            break;
        }
    }
    let url = format!("SMB_URL=smb://smbtest@127.0.0.1:{port}/share");
    assert_eq!(lines.first(), Some(&url), "{lines:?}");
    assert!(lines.contains(&format!("SMB_PORT={port}")), "{lines:?}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    // End of stdin stops it.
    drop(child.stdin.take());
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
