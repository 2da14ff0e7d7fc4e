//! The appliance on a Linux host: the loop of `smb_appliance` attached to a TAP device
//! through smoltcp (its own Ethernet, ARP, IP and TCP; the kernel's TCP is not used), with a
//! counting allocator that reports the peak heap.
//!
//! ```text
//! smb-appliance --tap tap0 --address 10.200.0.2/30 --server 10.200.0.1:445 \
//!     --user alice --password secret --share share [--size BYTES] [--piece BYTES]
//! ```
//!
//! The password can also come from `SMB_PASSWORD`. Prints what it listed, what it wrote and
//! verified, and the peak heap; exits 1 with the reason on failure.

use smb_appliance::job::{Job, JobSpec};
use smb_appliance::{Appliance, Turn};
use smb_core::client::{Client, ClientConfig, ServerAddr};
use smb_core::driver::Credentials;
use smb_core::time::{FileTime, Instant as SmbInstant};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Medium, TunTapInterface, wait as phy_wait};
use smoltcp::wire::{EthernetAddress, IpCidr};
use std::alloc::{GlobalAlloc, Layout, System};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// The one unsafe block of the example: a global allocator must implement an unsafe trait.
// It forwards to the system allocator unchanged and only adds counters.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Args {
    tap: String,
    address: IpCidr,
    server: String,
    user: String,
    password: String,
    share: String,
    file: String,
    size: u64,
    piece: u32,
    depth: usize,
    socket_buffer: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        tap: "tap0".into(),
        address: "10.200.0.2/30".parse().map_err(|_| "bad default address")?,
        server: "10.200.0.1:445".into(),
        user: String::new(),
        password: std::env::var("SMB_PASSWORD").unwrap_or_default(),
        share: "share".into(),
        file: "appliance.bin".into(),
        size: 4 << 20,
        piece: 64 << 10,
        depth: 2,
        socket_buffer: 16 << 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--tap" => a.tap = value()?,
            "--address" => {
                let v = value()?;
                a.address = v
                    .parse()
                    .map_err(|_| format!("--address: not a CIDR: {v}"))?;
            }
            "--server" => a.server = value()?,
            "--user" => a.user = value()?,
            "--password" => a.password = value()?,
            "--share" => a.share = value()?,
            "--file" => a.file = value()?,
            "--size" => a.size = num(value()?)?,
            "--piece" => a.piece = num(value()?)? as u32,
            "--depth" => a.depth = num(value()?)? as usize,
            "--socket-buffer" => a.socket_buffer = num(value()?)? as usize,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if a.user.is_empty() {
        return Err("--user is required".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("smb-appliance: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smb-appliance: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(a: &Args) -> Result<(), String> {
    let mut device = TunTapInterface::new(&a.tap, Medium::Ethernet)
        .map_err(|e| format!("cannot open TAP device {}: {e}", a.tap))?;
    let fd = device.as_raw_fd();
    let epoch = Instant::now();
    let stamp = |d: Duration| smoltcp::time::Instant::from_micros(d.as_micros() as i64);

    let mut seed = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    let mut config = Config::new(EthernetAddress([0x02, 0, 0, 0, 0, 0x02]).into());
    config.random_seed = u64::from_le_bytes(seed);
    let mut iface = Interface::new(config, &mut device, stamp(epoch.elapsed()));
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(a.address);
    });
    let mut sockets = SocketSet::new(Vec::new());

    // What bounds memory: pieces of `piece` bytes (max_io_size), `depth` of them in flight,
    // few credits asked for, one channel, no durable handles or leases to track.
    let cfg = ClientConfig::default()
        .with_require_signing(true)
        .with_max_io_size(a.piece)
        .with_credit_target(16)
        .with_max_channels(1)
        .with_durable_handles(false)
        .with_leases(false);
    let creds = Credentials::password(None, &a.user, &a.password);
    let auth = creds.into_auth_factory().map_err(|e| e.to_string())?;
    let wall = FileTime::from_unix_duration(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    );
    let now = SmbInstant::from_elapsed(epoch.elapsed());
    let mut client = Client::new(cfg, auth, Box::new(rand_core::OsRng), now, wall);
    let login = client.connect(ServerAddr(a.server.clone()), now);
    let spec = JobSpec {
        share: a.share.clone(),
        file: a.file.clone(),
        size: a.size,
        piece: a.piece,
        depth: a.depth,
    };
    let buf = a.socket_buffer;
    let mut app = Appliance::new(
        client,
        Job::new(spec, login),
        &mut sockets,
        vec![0; buf],
        vec![0; buf],
    );

    let give_up = Duration::from_secs(120);
    loop {
        let now = epoch.elapsed();
        if now > give_up {
            return Err(format!("gave up after {give_up:?}"));
        }
        match app.poll(now, &mut iface, &mut device, &mut sockets) {
            Turn::Wait(delay) => {
                let delay =
                    delay.map(|d| smoltcp::time::Duration::from_micros(d.as_micros() as u64));
                phy_wait(fd, delay).map_err(|e| format!("waiting for the TAP device: {e}"))?;
            }
            Turn::Done(result, report) => {
                if let Some((dialect, signed)) = report.session {
                    println!("session: {dialect:?}, signed: {signed}");
                }
                println!("listed: {}", report.listed.join(", "));
                println!(
                    "wrote {} bytes, read back and verified {} bytes",
                    report.written, report.verified
                );
                let peak = PEAK.load(Ordering::Relaxed);
                println!("peak heap: {peak} bytes ({} KiB)", peak / 1024);
                println!("time: {:.2} s", epoch.elapsed().as_secs_f64());
                return result.map_err(|e| e.to_string());
            }
        }
    }
}
