#![no_main]
//! The whole engine against a hostile server. After `connect`, the fuzz input is the
//! server's byte stream (its first 8 bytes choose where the stream is cut into pieces), with
//! the clock moving between pieces; then a timeout, a submission, a close and a shutdown. The
//! client must never panic and must keep draining to `Output::Timeout`.
use libfuzzer_sys::fuzz_target;
use smb_core::auth::NtlmCredentials;
use smb_core::client::{
    ChannelId, Client, ClientConfig, CloseReason, Output, Request, ServerAddr,
};
use smb_core::time::{Duration, FileTime, Instant};

/// A deterministic generator, so a crash replays exactly (never used outside fuzzing).
struct XorShift(u64);

impl rand_core::RngCore for XorShift {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for XorShift {}

/// Drain outputs; returns the channel of a Connect output if one was asked for.
fn drain(c: &mut Client) -> Option<ChannelId> {
    let mut connect = None;
    for _ in 0..100_000 {
        match c.poll_output() {
            Output::Timeout(_) => return connect,
            Output::Connect { channel, .. } => connect = Some(channel),
            _ => {}
        }
    }
    panic!("poll_output never reached Timeout");
}

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::from_nanos(1);
    let creds = NtlmCredentials::password("DOMAIN", "user", "password");
    let mut c = Client::new(
        ClientConfig::default(),
        Box::new(smb_core::auth::NtlmFactory::user(creds)),
        Box::new(XorShift(0x9E37_79B9_7F4A_7C15)),
        now,
        FileTime::from_unix_nanos(1_700_000_000_000_000_000),
    );
    let _login = c.connect(ServerAddr::from("127.0.0.1:445"), now);
    let Some(ch) = drain(&mut c) else { return };
    c.handle_connected(ch, now);
    drain(&mut c);

    let (cuts, mut stream) = data.split_at(data.len().min(8));
    let mut i = 0;
    while !stream.is_empty() {
        let cut = cuts.get(i % cuts.len().max(1)).map_or(4096, |&b| usize::from(b) * 64 + 1);
        let n = cut.min(stream.len());
        c.handle_input(ch, &stream[..n], now);
        drain(&mut c);
        stream = &stream[n..];
        i += 1;
        now = now + Duration::from_millis(50);
    }
    now = now + Duration::from_secs(3600);
    c.handle_timeout(now);
    drain(&mut c);
    let _ = c.submit(Request::TreeConnect { share: "share".into() }, now);
    drain(&mut c);
    c.handle_closed(ch, CloseReason::Eof, now);
    drain(&mut c);
    c.shutdown(now);
    drain(&mut c);
});
