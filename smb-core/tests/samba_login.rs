//! Interop against a real local smbd (started by smb-testkit): a tiny blocking std::net loop
//! around the sans-IO client (dev-only; the core itself never touches sockets).
//!
//! Fails when smbd cannot be started: a test that cannot reach its server proves nothing.

use bytes::Bytes;
use smb_core::auth::NtlmCredentials;
use smb_core::client::*;
use smb_core::time::{FileTime, Instant};
use smb_testkit::{ENCRYPTED_SHARE, SHARE, SambaConfig, SambaServer};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration as StdDuration, Instant as StdInstant, SystemTime, UNIX_EPOCH};

struct Driver {
    client: Client,
    sock: Option<TcpStream>,
    addr: String,
    t0: StdInstant,
    done: BTreeMap<OpId, Result<Response, OpError>>,
}

impl Driver {
    fn new(cfg: ClientConfig, addr: String, user: &str, pass: &str) -> Driver {
        let t0 = StdInstant::now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let client = Client::new(
            cfg,
            Box::new(smb_core::auth::NtlmFactory::user(
                NtlmCredentials::password("", user, pass),
            )),
            Box::new(rand_core::OsRng),
            Instant::from_nanos(0),
            FileTime::from_unix_nanos(wall),
        );
        Driver {
            client,
            sock: None,
            addr,
            t0,
            done: BTreeMap::new(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.t0.elapsed().as_nanos() as u64)
    }

    /// Run until `op` completes (or 30 s).
    fn wait(&mut self, op: OpId) -> Result<Response, OpError> {
        let give_up = StdInstant::now() + StdDuration::from_secs(30);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            loop {
                match self.client.poll_output() {
                    Output::Transmit { frame, .. } => {
                        let s = self.sock.as_mut().expect("socket");
                        for c in frame.iter() {
                            s.write_all(c).unwrap();
                        }
                    }
                    Output::Connect { channel, .. } => {
                        let s = TcpStream::connect(&self.addr).unwrap();
                        s.set_nodelay(true).unwrap();
                        s.set_read_timeout(Some(StdDuration::from_millis(200)))
                            .unwrap();
                        self.sock = Some(s);
                        let now = self.now();
                        self.client.handle_connected(channel, now);
                    }
                    Output::Close { .. } => self.sock = None,
                    Output::Completed { op, result } => {
                        self.done.insert(op, result);
                    }
                    Output::Timeout(_) => break,
                    _ => {}
                }
            }
            if let Some(r) = self.done.remove(&op) {
                return r;
            }
            assert!(StdInstant::now() < give_up, "timed out waiting for {op:?}");
            let Some(s) = self.sock.as_mut() else {
                panic!("socket closed while waiting for {op:?}");
            };
            match s.read(&mut buf) {
                Ok(0) => {
                    let now = self.now();
                    self.client
                        .handle_closed(ChannelId(0), CloseReason::Eof, now);
                }
                Ok(n) => {
                    let now = self.now();
                    self.client.handle_input(ChannelId(0), &buf[..n], now);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    let now = self.now();
                    self.client.handle_timeout(now);
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn op(&mut self, r: Request) -> Result<Response, OpError> {
        let now = self.now();
        let op = self.client.submit(r, now).unwrap();
        self.wait(op)
    }
}

fn start(cfg: SambaConfig) -> SambaServer {
    SambaServer::start_with(cfg).unwrap_or_else(|e| panic!("cannot start smbd: {e}"))
}

fn round_trip(srv: &SambaServer, cfg: ClientConfig, share: &str, name: &str) -> Response {
    round_trip_stats(srv, cfg, share, name).0
}

fn round_trip_stats(
    srv: &SambaServer,
    cfg: ClientConfig,
    share: &str,
    name: &str,
) -> (Response, Stats) {
    let mut d = Driver::new(cfg, srv.addr().to_string(), srv.user(), srv.password());
    let now = d.now();
    let login = d.client.connect(ServerAddr(srv.addr().to_string()), now);
    let connected = d.wait(login).expect("login");
    let Response::TreeConnected { tree, .. } = d
        .op(Request::TreeConnect {
            share: share.into(),
        })
        .expect("tree connect")
    else {
        panic!()
    };
    let Response::Created { file, .. } = d
        .op(Request::Create {
            tree,
            path: name.into(),
            options: OpenOptions::create_truncate(),
        })
        .expect("create")
    else {
        panic!()
    };
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let w = d
        .op(Request::Write {
            file,
            offset: 0,
            data: Bytes::from(data.clone()),
        })
        .expect("write");
    assert_eq!(
        w,
        Response::Written {
            count: data.len() as u64
        }
    );
    let Response::Read { data: got, .. } = d
        .op(Request::Read {
            file,
            offset: 0,
            len: data.len() as u32,
        })
        .expect("read")
    else {
        panic!()
    };
    let got: Vec<u8> = got.iter().flat_map(|b| b.iter().copied()).collect();
    assert!(got == data, "read back what was written");
    d.op(Request::Close { file }).expect("close");
    assert_eq!(
        std::fs::read(srv.share_path(share).join(name)).unwrap(),
        data
    );
    let stats = d.client.stats();
    let now = d.now();
    d.client.shutdown(now);
    (connected, stats)
}

#[test]
fn samba_login_write_read_on_each_dialect() {
    let srv = start(SambaConfig::new());
    for (min, max) in [
        (Dialect::Smb202, Dialect::Smb202),
        (Dialect::Smb210, Dialect::Smb210),
        (Dialect::Smb300, Dialect::Smb300),
        (Dialect::Smb302, Dialect::Smb302),
        (Dialect::Smb311, Dialect::Smb311),
    ] {
        let cfg = ClientConfig::default()
            .with_dialects(min, max)
            .with_server_name("localhost");
        let (r, stats) = round_trip_stats(&srv, cfg, SHARE, &format!("f-{:x}.bin", max.to_u16()));
        assert!(
            matches!(r, Response::Connected { dialect, .. } if dialect == max),
            "{r:?}"
        );
        // FSCTL_VALIDATE_NEGOTIATE_INFO after TREE_CONNECT on 3.0 and 3.0.2 only, and Samba's
        // answer matched what was negotiated.
        let expect = u64::from(matches!(max, Dialect::Smb300 | Dialect::Smb302));
        assert_eq!(stats.negotiate_validations, expect, "{max:?}");
    }
}

#[test]
fn samba_signing_and_encryption() {
    let srv = start(SambaConfig::new());
    let cfg = ClientConfig::default().with_require_signing(true);
    let r = round_trip(&srv, cfg, SHARE, "signed.bin");
    assert!(
        matches!(r, Response::Connected { signing: true, .. }),
        "{r:?}"
    );
    let cfg = ClientConfig::default().with_require_encryption(true);
    let r = round_trip(&srv, cfg, SHARE, "sealed.bin");
    assert!(
        matches!(
            r,
            Response::Connected {
                encryption: true,
                ..
            }
        ),
        "{r:?}"
    );
    // A share that requires encryption, with a session that did not ask for it.
    round_trip(
        &srv,
        ClientConfig::default(),
        ENCRYPTED_SHARE,
        "share-sealed.bin",
    );
}

#[test]
fn samba_errors_read_well() {
    let srv = start(SambaConfig::new());
    // Wrong password.
    let mut d = Driver::new(
        ClientConfig::default(),
        srv.addr().to_string(),
        srv.user(),
        "not-the-password",
    );
    let now = d.now();
    let op = d.client.connect(ServerAddr(srv.addr().to_string()), now);
    let e = d.wait(op).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LogonFailure, "{e}");
    // Share not found.
    let mut d = Driver::new(
        ClientConfig::default(),
        srv.addr().to_string(),
        srv.user(),
        srv.password(),
    );
    let now = d.now();
    let op = d.client.connect(ServerAddr(srv.addr().to_string()), now);
    d.wait(op).expect("login");
    let e = d
        .op(Request::TreeConnect {
            share: "no-such-share".into(),
        })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadShare, "{e}");
    assert!(e.to_string().contains("no-such-share"), "{e}");
}

#[test]
fn samba_encryption_required_refuses_smb2_with_a_clear_message() {
    let srv = start(SambaConfig::new().encryption_required(true));
    let cfg = ClientConfig::default().with_dialects(Dialect::Smb210, Dialect::Smb210);
    let mut d = Driver::new(cfg, srv.addr().to_string(), srv.user(), srv.password());
    let now = d.now();
    let op = d.client.connect(ServerAddr(srv.addr().to_string()), now);
    match d.wait(op) {
        Err(e) => {
            eprintln!("2.1 against an encryption-requiring smbd: {e}");
            assert_eq!(e.kind, ErrorKind::AccessDenied, "{e}");
            assert!(e.to_string().contains("needs SMB 3.0 or later"), "{e}");
        }
        Ok(r) => panic!("2.1 session accepted by an encryption-requiring server: {r:?}"),
    }
}
