//! smb-core over smoltcp: an SMB client with no operating system's sockets, no async runtime
//! and no threads, as an appliance's firmware would run it.
//!
//! [`Appliance::poll`] is one turn of a main loop. It polls the smoltcp interface, hands
//! the TCP socket's received bytes and the time to the engine, drains the engine's outputs
//! (frames to send, the socket to open or close, completed operations, its next deadline)
//! and tells the caller how long it may sleep. The caller owns the device, the interface
//! and the clock; on a microcontroller that is the board's Ethernet driver and a timer, on
//! Linux a TAP device (see `src/main.rs`). The [`job`] it runs logs in, lists a directory,
//! writes a file, reads it back and compares.
//!
//! ```ignore
//! let mut app = Appliance::new(client, job, &mut sockets, rx_buffer, tx_buffer);
//! loop {
//!     let now = board_clock(); // core::time::Duration since boot
//!     match app.poll(now, &mut iface, &mut device, &mut sockets) {
//!         Turn::Wait(delay) => wait_for_interrupt_or(delay), // a frame arrived, or the delay
//!         Turn::Done(result, report) => break,
//!     }
//! }
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod job;

use alloc::collections::VecDeque;
use alloc::format;
use bytes::Bytes;
use core::time::Duration;
use job::{Job, JobError, Report};
use smb_core::client::{ChannelId, Client, CloseReason, Output};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::wire::IpEndpoint;

/// What the caller does after a turn.
pub enum Turn {
    /// Call [`Appliance::poll`] again when the device has a frame or after this long
    /// (`None`: only when the device has a frame).
    Wait(Option<Duration>),
    /// The job ended; what it did either way.
    Done(Result<(), JobError>, Report),
}

/// The engine, its one TCP socket and the job.
pub struct Appliance {
    client: Client,
    job: Job,
    socket: SocketHandle,
    /// The engine's channel on the socket, once it asked for one.
    channel: Option<ChannelId>,
    /// Whether the engine was told the socket is up.
    connected: bool,
    /// Frame chunks waiting for room in the socket's send buffer: at most what the engine
    /// has in flight (its credits and `max_io_size` bound that).
    tx: VecDeque<Bytes>,
    /// The engine's next deadline.
    deadline: Option<smb_core::time::Instant>,
    /// The next local port to connect from.
    local_port: u16,
}

impl Appliance {
    /// Add a TCP socket with these buffers to `sockets` and get ready to run `job` on
    /// `client` (on which `connect` was already called; `job` holds its login id).
    /// The socket buffers bound what the TCP stack holds: a few KiB each are enough, larger
    /// ones let more of a READ answer arrive before the engine takes it.
    pub fn new(
        client: Client,
        job: Job,
        sockets: &mut SocketSet<'_>,
        rx_buffer: alloc::vec::Vec<u8>,
        tx_buffer: alloc::vec::Vec<u8>,
    ) -> Self {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(rx_buffer),
            tcp::SocketBuffer::new(tx_buffer),
        );
        Appliance {
            client,
            job,
            socket: sockets.add(socket),
            channel: None,
            connected: false,
            tx: VecDeque::new(),
            deadline: None,
            local_port: 49152,
        }
    }

    /// The engine (for its stats).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One turn: `now` is the time since the caller's epoch (boot), from any monotonic clock.
    pub fn poll<D: Device + ?Sized>(
        &mut self,
        now: Duration,
        iface: &mut Interface,
        device: &mut D,
        sockets: &mut SocketSet<'_>,
    ) -> Turn {
        let stamp = smoltcp::time::Instant::from_micros(now.as_micros() as i64);
        let t = smb_core::time::Instant::from_elapsed(now);
        iface.poll(stamp, device, sockets);
        self.receive(sockets, t);
        if self.deadline.is_some_and(|d| d <= t) {
            self.client.handle_timeout(t);
        }
        self.drain(iface, sockets, t);
        self.send(sockets);
        // Push what `send` queued out now rather than on the next turn.
        iface.poll(stamp, device, sockets);
        if let Some((result, report)) = self.job.take_outcome() {
            self.client.shutdown(t);
            return Turn::Done(result, report);
        }
        let net = iface
            .poll_delay(stamp, sockets)
            .map(|d| Duration::from_micros(d.total_micros()));
        let engine = self.deadline.map(|d| d.since_epoch().saturating_sub(now));
        Turn::Wait(match (net, engine) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Tell the engine what the socket did: connected, bytes arrived, closed.
    fn receive(&mut self, sockets: &mut SocketSet<'_>, t: smb_core::time::Instant) {
        let Some(ch) = self.channel else { return };
        let sock = sockets.get_mut::<tcp::Socket>(self.socket);
        if !self.connected {
            match sock.state() {
                tcp::State::Established => {
                    self.connected = true;
                    self.client.handle_connected(ch, t);
                }
                tcp::State::Closed => {
                    self.channel = None;
                    let why = CloseReason::ConnectFailed("connection refused or timed out".into());
                    self.client.handle_closed(ch, why, t);
                }
                _ => {}
            }
            return;
        }
        let client = &mut self.client;
        while sock.can_recv() {
            // Hand the engine the bytes where they lie in the socket's ring buffer.
            let taken = sock.recv(|data| {
                client.handle_input(ch, data, t);
                (data.len(), data.len())
            });
            if !matches!(taken, Ok(n) if n > 0) {
                break;
            }
        }
        if !sock.may_recv() && !sock.can_recv() {
            // The server closed its side (or the connection was reset).
            self.channel = None;
            self.connected = false;
            self.tx.clear();
            sock.abort();
            self.client.handle_closed(ch, CloseReason::Eof, t);
        }
    }

    /// Do what the engine asks until it has nothing more to say for now.
    fn drain(
        &mut self,
        iface: &mut Interface,
        sockets: &mut SocketSet<'_>,
        t: smb_core::time::Instant,
    ) {
        loop {
            match self.client.poll_output() {
                Output::Transmit { frame, .. } => self.tx.extend(frame.chunks().iter().cloned()),
                Output::Connect { channel, addr } => {
                    let sock = sockets.get_mut::<tcp::Socket>(self.socket);
                    let remote = addr.0.parse::<IpEndpoint>();
                    self.local_port = self.local_port.wrapping_add(1).max(49152);
                    let started = match remote {
                        Ok(ep) => sock
                            .connect(iface.context(), ep, self.local_port)
                            .map_err(|e| format!("{e}")),
                        Err(_) => Err(format!("{} is not an IPv4 address and port", addr.0)),
                    };
                    match started {
                        Ok(()) => {
                            self.channel = Some(channel);
                            self.connected = false;
                        }
                        Err(why) => {
                            self.client
                                .handle_closed(channel, CloseReason::ConnectFailed(why), t)
                        }
                    }
                }
                Output::Close { channel } if self.channel == Some(channel) => {
                    sockets.get_mut::<tcp::Socket>(self.socket).close();
                    self.channel = None;
                    self.connected = false;
                    self.tx.clear();
                    self.client
                        .handle_closed(channel, CloseReason::Requested, t);
                }
                Output::Completed { op, result } => {
                    self.job.on_completed(&mut self.client, op, result, t)
                }
                Output::Timeout(deadline) => {
                    self.deadline = deadline;
                    break;
                }
                // Events (state transitions, breaks): an appliance could log them.
                _ => {}
            }
        }
    }

    /// Move queued frame bytes into the socket's send buffer, as far as it has room.
    fn send(&mut self, sockets: &mut SocketSet<'_>) {
        if !self.connected {
            return;
        }
        let sock = sockets.get_mut::<tcp::Socket>(self.socket);
        while let Some(front) = self.tx.front_mut() {
            match sock.send_slice(front) {
                Ok(n) if n == front.len() => {
                    self.tx.pop_front();
                }
                Ok(n) => {
                    let _ = front.split_to(n);
                    break;
                }
                Err(_) => break,
            }
        }
    }
}
