//! One connected share for the length of a command: resolve the host, log in (with a time
//! limit), check what was negotiated against what was asked for, explain errors, log off.

use crate::credentials::{self, Login};
use crate::error::{Failure, Phase, classify, exit};
use crate::location::Location;
use crate::remote::{ConnectSpec, Negotiated, Remote};
use crate::resolve;
use crate::run::Ctx;
use smb_core::client::ClientConfig;
use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `SMB_CRYPTO`: `rustcrypto` signs and encrypts with the portable RustCrypto provider
/// instead of the default (aws-lc-rs when the runtimes are built with `fast-crypto`), to
/// compare the two; unset or `default` keeps the default.
fn crypto_provider() -> Result<std::sync::Arc<dyn smb_core::crypto::CryptoProvider>, Failure> {
    match std::env::var("SMB_CRYPTO").as_deref() {
        Err(_) | Ok("" | "default") => Ok(smb_core::crypto::preferred_provider()),
        Ok("rustcrypto") => Ok(std::sync::Arc::new(smb_core::crypto::RustCryptoProvider)),
        Ok(other) => Err(Failure::usage(format!(
            "SMB_CRYPTO={other:?}: expected rustcrypto or default"
        ))),
    }
}

/// How long connecting may take without `--timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// A connected share plus what is needed to explain its errors.
pub struct Session {
    /// The connection.
    pub remote: Box<dyn Remote>,
    /// `host:port` as given, for messages.
    pub server: String,
    /// Share name.
    pub share: String,
    /// Who is logged on.
    pub login: Login,
    /// The Kerberos factory of a `-k` login (it knows the mechanism used).
    pub kerberos: Option<smb_kerberos::KerberosFactory>,
}

enum Attempt {
    Resolve(io::Error),
    Connect(Result<Box<dyn Remote>, Option<(Phase, io::Error)>>),
}

impl Session {
    /// Connect to the server and share of `loc`.
    pub fn open(ctx: &Ctx, loc: &Location) -> Result<Session, Failure> {
        let g = ctx.g;
        let server = loc.server();
        let kerberos = crate::kerberos_login::factory(ctx, loc)?;
        let login = if kerberos.is_some() {
            // The ticket, keytab or Kerberos password is the credential (the factory has it).
            Login::User {
                domain: None,
                user: crate::kerberos_login::user(ctx, loc)
                    .unwrap_or_else(|| "(Kerberos ticket)".into()),
                password: credentials::Secret::new(String::new()),
            }
        } else {
            credentials::resolve(
                &ctx.credential_args(),
                loc.login.clone(),
                ctx.sys.env_password.clone(),
                &*ctx.sys.prompt,
                &server,
            )?
        };
        crate::interrupt::check()?;
        let mut config = ClientConfig::default();
        // Extra channels bind to the same session when the server offers multichannel
        // (SMB 3.x); they connect to the address given, never to others the server reports.
        config.max_channels = usize::from(g.channels);
        // DFS links are followed to their targets (the host of a referral on port 445).
        config.follow_dfs = !g.no_dfs;
        if let Some(d) = g.min_dialect {
            config.min_dialect = d;
        }
        if let Some(d) = g.max_dialect {
            config.max_dialect = d;
        }
        if config.min_dialect > config.max_dialect {
            return Err(Failure::usage("--min-dialect is above --max-dialect"));
        }
        config.crypto_provider = crypto_provider()?;
        config.require_signing = g.sign;
        config.sign_if_supported = !g.no_sign;
        config.require_encryption = g.encrypt;
        config.request_encryption = g.encrypt;
        if let Some(t) = g.timeout {
            config.request_timeout = smb_core::time::Duration::from_nanos(t.as_nanos() as u64);
        }
        config.server_name = Some(loc.host.clone());
        let limit = g.timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let started = Instant::now();

        // Resolution and connection run on their own thread so that `--timeout` bounds
        // both, whatever the runtime does meanwhile.
        let (tx, rx) = mpsc::channel();
        let resolver = ctx.sys.resolver.clone();
        let connect = ctx.sys.connect.clone();
        let runtime = g.runtime;
        let (host, port) = (loc.host.clone(), loc.port);
        let ip = g.ip;
        let spec = ConnectSpec {
            addr: String::new(),
            share: loc.share.clone(),
            login: login.clone(),
            config,
            kerberos: kerberos.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("smb-connect".into())
            .spawn(move || {
                // -I: the address is given; the host name is only the server's name.
                let found = match ip {
                    Some(ip) => Ok(vec![std::net::SocketAddr::new(ip, port)]),
                    None => resolve::addresses(&*resolver, &host, port),
                };
                let addrs = match found {
                    Ok(a) => a,
                    Err(e) => {
                        let _ = tx.send(Attempt::Resolve(e));
                        return;
                    }
                };
                tracing::info!(%host, ?addrs, "resolved");
                let mut result = Err(None);
                for (i, a) in addrs.iter().enumerate() {
                    let spec = ConnectSpec {
                        addr: resolve::socket_string(a),
                        ..spec.clone()
                    };
                    result = connect(runtime, &spec);
                    // Another address only helps when this one could not be reached.
                    let unreachable = matches!(&result, Err(Some((Phase::Connect, e)))
                        if classify(e, Phase::Connect, "", "", "").code == exit::UNREACHABLE);
                    if !unreachable || i + 1 == addrs.len() {
                        break;
                    }
                }
                let _ = tx.send(Attempt::Connect(result));
            });
        if let Err(e) = spawned {
            return Err(Failure::new(exit::OTHER, format!("cannot start: {e}")));
        }
        let attempt = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(a) => break a,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    crate::interrupt::check()?;
                    if started.elapsed() >= limit {
                        return Err(Failure::new(
                            exit::UNREACHABLE,
                            format!(
                                "server unreachable: no answer from {server} within {:.1} s \
                                 (--timeout)",
                                limit.as_secs_f64()
                            ),
                        ));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Failure::new(exit::OTHER, "the connection attempt failed"));
                }
            }
        };
        let remote = match attempt {
            Attempt::Resolve(e) => {
                return Err(Failure::new(
                    exit::NAME_RESOLUTION,
                    format!(
                        "cannot resolve host name {:?}: {}",
                        loc.host,
                        crate::error::plain(&e)
                    ),
                ));
            }
            Attempt::Connect(Ok(r)) => r,
            Attempt::Connect(Err(Some((phase, e)))) => {
                let mut f = classify(&e, phase, &server, &loc.share, "");
                let required = g.kerberos || g.use_ccache.is_some() || g.keytab.is_some();
                if required && f.code == exit::LOGON_FAILURE && !f.message.contains("Kerberos") {
                    // The KDC issued a ticket but the server could not use it.
                    f.message.push_str(&format!(
                        "; the server refused the Kerberos ticket for cifs/{}: its key for that \
                         name does not match the KDC's (the SPN registered on another account, \
                         or a stale keytab on the server): fix the SPN or use the server's own \
                         host name",
                        loc.host
                    ));
                }
                return Err(f);
            }
            Attempt::Connect(Err(None)) => {
                return Err(Failure::new(
                    exit::NO_RUNTIME,
                    format!(
                        "runtime {} is not built into this binary (rebuild with --features {})",
                        runtime.name(),
                        runtime.name()
                    ),
                ));
            }
        };
        let n = remote.negotiated();
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            runtime = runtime.name(),
            dialect = %crate::format::dialect_name(n.dialect),
            signing = n.signing,
            encryption = n.encryption,
            guest = n.guest,
            "connected"
        );
        let session = Session {
            remote,
            server,
            share: loc.share.clone(),
            login,
            kerberos,
        };
        session.check(ctx, &n)
    }

    /// Refuse a session that is not what was asked for; say when it is a guest session.
    fn check(self, ctx: &Ctx, n: &Negotiated) -> Result<Session, Failure> {
        let refuse = |s: Session, code: i32, msg: String| {
            let _ = s.remote.close();
            Err(Failure::new(code, msg))
        };
        if let Login::User { user, .. } = &self.login {
            if n.guest || n.anonymous {
                let msg = format!(
                    "logon failure: {} accepted {user} only as guest (wrong password or \
                     unknown user?); refusing (use --guest to log on as guest on purpose)",
                    self.server
                );
                return refuse(self, exit::LOGON_FAILURE, msg);
            }
        }
        if ctx.g.sign && !n.signing && !n.encryption {
            let msg = format!(
                "signing refused: {} does not sign this session",
                self.server
            );
            return refuse(self, exit::SECURITY, msg);
        }
        if ctx.g.encrypt && !n.encryption {
            let msg = format!(
                "encryption refused: {} does not encrypt this session",
                self.server
            );
            return refuse(self, exit::SECURITY, msg);
        }
        match self.login {
            Login::Guest => ctx.ui.notice(&format!(
                "logged on to {} as guest (no user name given)",
                self.server
            )),
            Login::Anonymous => ctx
                .ui
                .notice(&format!("anonymous session on {}", self.server)),
            Login::User { .. } => {}
        }
        Ok(self)
    }

    /// Explain an error of an operation on `path`.
    pub fn err(&self, path: &str) -> impl Fn(io::Error) -> Failure + Send + Sync + 'static {
        let (server, share, path) = (self.server.clone(), self.share.clone(), path.to_string());
        move |e| classify(&e, Phase::Op, &server, &share, &path)
    }

    /// `/share/a/b`, for messages.
    pub fn shown(&self, path: &str) -> String {
        shown(&self.share, path)
    }

    /// Log off and disconnect.
    pub fn close(self) -> Result<(), Failure> {
        let (server, share) = (self.server, self.share);
        self.remote
            .close()
            .map_err(|e| classify(&e, Phase::Op, &server, &share, ""))
    }
}

/// `/share/a/b` of an SMB-form path.
pub fn shown(share: &str, path: &str) -> String {
    if path.is_empty() {
        format!("/{share}")
    } else {
        format!("/{share}/{}", path.replace('\\', "/"))
    }
}

/// Close the session; the command's own error wins over a close error.
pub fn finish(s: Session, r: Result<(), Failure>) -> Result<(), Failure> {
    let c = s.close();
    r.and(c)
}
