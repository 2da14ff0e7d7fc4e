//! What a client keeps to follow DFS referrals (feature `std`): the referral cache shared by
//! every connection reached through it, the sessions opened to other servers, and what is
//! needed to open more (configuration and a shared authenticator factory). Each adapter's
//! `Client` holds one [`DfsLinks`] of its own `Client` type and runs the hops (see
//! [`super::dfs`]).

use super::dfs::{DfsHop, MAX_DFS_HOPS, ReferralCache, too_many_hops, unknown_server};
use super::{Credentials, socket_target, to_io_error};
use crate::auth::{AuthError, AuthFactory, AuthKind, Authenticator};
use crate::client::{ClientConfig, OpError, ServerAddr};
use crate::wire::NtStatus;
use crate::wire::ioctl::DfsReferralResponse;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use std::io;
use std::sync::Mutex;

/// One authenticator factory used by several sessions (the first server's and those DFS
/// referrals lead to): each login takes the lock only to start its exchange.
#[derive(Clone)]
pub struct SharedAuth(Arc<Mutex<Box<dyn AuthFactory>>>);

impl SharedAuth {
    /// Share `factory`.
    pub fn new(factory: Box<dyn AuthFactory>) -> Self {
        SharedAuth(Arc::new(Mutex::new(factory)))
    }

    /// The same factory as [`Credentials`] for another session.
    pub fn credentials(&self) -> Credentials {
        Credentials::Custom(Box::new(self.clone()))
    }
}

impl AuthFactory for SharedAuth {
    fn start(&mut self) -> Result<Box<dyn Authenticator>, AuthError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).start()
    }
    fn kind(&self) -> AuthKind {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).kind()
    }
}

/// Where a hop's server is, for [`DfsLinks::server`].
pub enum DfsServer<C> {
    /// The server of this client: the same session serves the target share.
    Same,
    /// A server already connected for an earlier referral.
    Connected(C),
    /// Another server: connect to `addr` with these credentials and configuration (its
    /// `server_name` set to the referral's host) and [`DfsLinks::remember`] the client.
    Connect {
        /// Where.
        addr: ServerAddr,
        /// Who (the first session's factory, shared).
        creds: Credentials,
        /// How.
        config: Box<ClientConfig>,
        /// The links of the new client: the same cache.
        links: DfsLinks<C>,
    },
}

/// A client's DFS state (see the module docs). Cheap to clone: clones share everything.
pub struct DfsLinks<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for DfsLinks<C> {
    fn clone(&self) -> Self {
        DfsLinks {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<C> {
    config: ClientConfig,
    auth: SharedAuth,
    /// This client's address and the name it calls its server in paths.
    addr: ServerAddr,
    server_name: String,
    cache: Arc<Mutex<ReferralCache>>,
    /// Clients of other servers, by `host:port`.
    others: Mutex<Vec<(String, C)>>,
    /// The clock of the cache's [`Instant`](crate::time::Instant)s.
    epoch: std::time::Instant,
}

impl<C: Clone> DfsLinks<C> {
    /// The links of a client connected to `addr` with `config` and `auth`.
    pub fn new(config: ClientConfig, auth: SharedAuth, addr: ServerAddr) -> Self {
        Self::with_cache(config, auth, addr, Arc::default())
    }

    fn with_cache(
        config: ClientConfig,
        auth: SharedAuth,
        addr: ServerAddr,
        cache: Arc<Mutex<ReferralCache>>,
    ) -> Self {
        let server_name = config
            .server_name
            .clone()
            .unwrap_or_else(|| String::from(addr.host()));
        DfsLinks {
            inner: Arc::new(Inner {
                config,
                auth,
                addr,
                server_name,
                cache,
                others: Mutex::default(),
                epoch: std::time::Instant::now(),
            }),
        }
    }

    /// Whether referrals are followed ([`ClientConfig::follow_dfs`]).
    pub fn enabled(&self) -> bool {
        self.inner.config.follow_dfs
    }

    /// The name of this client's server in DFS paths.
    pub fn server_name(&self) -> &str {
        &self.inner.server_name
    }

    fn now(&self) -> crate::time::Instant {
        crate::time::Instant::from_elapsed(self.inner.epoch.elapsed())
    }

    /// The cached hop of `path` (`\server\share\...`), if an unexpired referral covers it.
    pub fn cached(&self, path: &str) -> Option<DfsHop> {
        let now = self.now();
        self.inner.cache.lock().ok()?.lookup(path, now)
    }

    /// Cache the referral answered for `path` and return its hop.
    pub fn record(&self, path: &str, resp: &DfsReferralResponse) -> Result<DfsHop, OpError> {
        let now = self.now();
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path, resp, now)
    }

    /// Where the server of `hop` (reached from `path`) is: this one, one connected before,
    /// or one to connect to (unknown to the resolver: an error naming `path`).
    pub fn server(&self, hop: &DfsHop, path: &str) -> Result<DfsServer<C>, OpError> {
        let i = &self.inner;
        // The server this client calls by the referral's name is this one, whatever port
        // it listens on; another name is this one too if it resolves to this address.
        if hop.server.eq_ignore_ascii_case(&i.server_name) {
            return Ok(DfsServer::Same);
        }
        let addr = i
            .config
            .dfs_resolver
            .resolve(&hop.server)
            .ok_or_else(|| unknown_server(path, &hop.server))?;
        let target = socket_target(&addr);
        if target == socket_target(&i.addr) {
            return Ok(DfsServer::Same);
        }
        let others = i.others.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = others.iter().find(|(t, _)| *t == target) {
            return Ok(DfsServer::Connected(c.clone()));
        }
        let mut config = i.config.clone();
        config.server_name = Some(hop.server.clone());
        Ok(DfsServer::Connect {
            links: Self::with_cache(
                config.clone(),
                i.auth.clone(),
                addr.clone(),
                i.cache.clone(),
            ),
            addr,
            creds: i.auth.credentials(),
            config: Box::new(config),
        })
    }

    /// Keep `client`, connected to `addr` for a referral, for later hops to that server.
    pub fn remember(&self, addr: &ServerAddr, client: C) {
        let mut others = self.inner.others.lock().unwrap_or_else(|p| p.into_inner());
        let target = socket_target(addr);
        if !others.iter().any(|(t, _)| *t == target) {
            others.push((target, client));
        }
    }
}

/// Run `op` on `path` of `share`; while it fails with STATUS_PATH_NOT_COVERED (the path
/// crosses a DFS link, [MS-SMB2] 3.3.5.9), `follow` the referral to the target share and
/// the path there and run `op` again, at most [`MAX_DFS_HOPS`] times. With `enabled` false
/// the first such error is returned, naming the path.
pub async fn with_referrals<Sh, T, Op, OpFut, Fo, FoFut>(
    share: Sh,
    path: &str,
    enabled: bool,
    mut op: Op,
    mut follow: Fo,
) -> io::Result<T>
where
    Sh: Clone,
    Op: FnMut(Sh, String) -> OpFut,
    OpFut: Future<Output = Result<T, OpError>>,
    Fo: FnMut(Sh, String) -> FoFut,
    FoFut: Future<Output = io::Result<(Sh, String)>>,
{
    let (mut share, mut at) = (share, String::from(path));
    for hop in 0..=MAX_DFS_HOPS {
        match op(share.clone(), at.clone()).await {
            Err(e) if e.status == Some(NtStatus::PATH_NOT_COVERED) => {
                if hop == MAX_DFS_HOPS {
                    break;
                }
                if !enabled {
                    let why = format!("{at}: crosses a DFS link (following referrals is off)");
                    return Err(to_io_error(e.with_context(why)));
                }
                (share, at) = follow(share, at).await?;
            }
            r => return r.map_err(to_io_error),
        }
    }
    Err(to_io_error(too_many_hops(path)))
}
