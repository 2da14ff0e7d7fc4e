//! The appliance against a real smbd, over smoltcp and a TAP device, inside a network
//! namespace this test makes and removes: the kernel side of the TAP is 10.200.0.1/30 (only
//! inside the namespace), smoltcp takes 10.200.0.2. No traffic leaves the namespace.
//!
//! Skipped, saying why, where the machine has no TAP devices or namespaces (not root, no
//! /dev/net/tun, no `ip`).

use smb_appliance::job::pattern_byte;
use smb_testkit::{SHARE, SambaConfig};
use std::net::Ipv4Addr;
use std::process::Command;

const KERNEL_SIDE: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
const SIZE: u64 = 4 << 20;

/// The namespace, removed on drop (its TAP device goes with it).
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A namespace with tap0 at 10.200.0.1/30, or why there cannot be one here.
fn make_netns() -> Result<Netns, String> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("no /dev/net/tun".into());
    }
    let name = format!("smbapp-{}", std::process::id());
    let _ = ip(&["netns", "del", &name]);
    ip(&["netns", "add", &name])?;
    let ns = Netns(name);
    let n = ns.0.as_str();
    ip(&["-n", n, "link", "set", "lo", "up"])?;
    ip(&["-n", n, "tuntap", "add", "dev", "tap0", "mode", "tap"])?;
    ip(&["-n", n, "addr", "add", "10.200.0.1/30", "dev", "tap0"])?;
    ip(&["-n", n, "link", "set", "tap0", "up"])?;
    Ok(ns)
}

#[test]
fn appliance_moves_a_file_over_smoltcp() {
    let ns = match make_netns() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED: no network namespace with a TAP device on this machine: {why}");
            return;
        }
    };
    let server = SambaConfig::new()
        .addresses(&[KERNEL_SIDE])
        .port(445)
        .netns(&ns.0)
        .signing_required(true)
        .start()
        .expect("smbd in the namespace");
    server
        .put_file(SHARE, "hello.txt", b"from the server\n")
        .expect("a file to list");
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_smb-appliance")])
        .args(["--tap", "tap0", "--address", "10.200.0.2/30"])
        .args(["--server", "10.200.0.1:445", "--share", SHARE])
        .args(["--user", server.user(), "--password", server.password()])
        .args(["--size", &SIZE.to_string(), "--piece", "65536"])
        .output()
        .expect("run the appliance");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("appliance stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(out.status.success(), "the appliance failed: {stderr}");
    assert!(stdout.contains("signed: true"), "the session signs");
    assert!(
        stdout.contains("hello.txt"),
        "the listing shows the server's file"
    );
    assert!(
        stdout.contains(&format!(
            "wrote {SIZE} bytes, read back and verified {SIZE} bytes"
        )),
        "every byte written and verified"
    );
    // Check the file on the server's disk too, not only what the appliance says.
    let on_disk = std::fs::read(server.share_path(SHARE).join("appliance.bin")).expect("the file");
    assert_eq!(on_disk.len() as u64, SIZE);
    let bad = on_disk
        .iter()
        .enumerate()
        .find(|(i, b)| **b != pattern_byte(*i as u64));
    assert!(
        bad.is_none(),
        "byte {:?} on disk differs",
        bad.map(|(i, _)| i)
    );
    let peak: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak heap: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the appliance reports its peak heap");
    eprintln!(
        "peak heap for the login and a 4 MiB write and read: {} KiB",
        peak / 1024
    );
}
