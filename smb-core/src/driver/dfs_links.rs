//! What a client keeps to follow DFS referrals (feature `std`): the referral cache shared by
//! every connection reached through it, the sessions opened to other servers, and what is
//! needed to open more (configuration and a shared authenticator factory). Each adapter's
//! `Client` holds one [`DfsLinks`] of its own `Client` type; the hops themselves are
//! [`super::dfs_follow`]. The cache's clock is the adapter's ([`DfsClock`]): smb-core reads
//! none.

use super::dfs::{DfsHop, MAX_DFS_HOPS, ReferralCache, too_many_hops, unknown_server};
use super::{Credentials, socket_target, to_io_error};
use crate::auth::{AuthError, AuthFactory, AuthKind, Authenticator};
use crate::client::{ClientConfig, OpError, ServerAddr};
use crate::time::Instant;
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

/// The time now on the adapter's monotonic clock, in the engine's [`Instant`]s: what the
/// referral cache measures TimeToLive against ([MS-DFSC] 3.1.5.1). The adapters pass the
/// same clock they drive the engine with; tests pass a virtual one.
pub type DfsClock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Where a hop's server is, for [`DfsLinks::server`].
pub enum DfsServer<C> {
    /// The server of this client: the same session serves the target share.
    Same,
    /// A server already connected for an earlier referral.
    Connected(C),
    /// Another server: connect as [`DfsConnect`] says and [`DfsLinks::remember`] the client.
    Connect(DfsConnect<C>),
}

/// How to connect to another server a referral leads to.
pub struct DfsConnect<C> {
    /// Where.
    pub addr: ServerAddr,
    /// Who (the first session's factory, shared).
    pub creds: Credentials,
    /// How (its `server_name` set to the referral's host).
    pub config: Box<ClientConfig>,
    /// The links of the new client: the same cache and clock.
    pub links: DfsLinks<C>,
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
    /// The clock of the cache's [`Instant`]s.
    clock: DfsClock,
}

impl<C: Clone> DfsLinks<C> {
    /// The links of a client connected to `addr` with `config` and `auth`, whose referral
    /// cache reads the time from `clock`.
    pub fn new(config: ClientConfig, auth: SharedAuth, addr: ServerAddr, clock: DfsClock) -> Self {
        Self::with_cache(config, auth, addr, Arc::default(), clock)
    }

    fn with_cache(
        config: ClientConfig,
        auth: SharedAuth,
        addr: ServerAddr,
        cache: Arc<Mutex<ReferralCache>>,
        clock: DfsClock,
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
                clock,
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

    /// Whether `other` is this client's links (or a clone of them): the same server.
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn now(&self) -> Instant {
        (self.inner.clock)()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ReferralCache> {
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached hops of `path` (`\server\share\...`), one per target in the order to try
    /// them, if an unexpired referral covers it.
    pub fn cached(&self, path: &str) -> Option<Vec<DfsHop>> {
        let now = self.now();
        self.cache().lookup(path, now)
    }

    /// Cache the referral answered for `path` and return its hops (one per target).
    pub fn record(&self, path: &str, resp: &DfsReferralResponse) -> Result<Vec<DfsHop>, OpError> {
        let now = self.now();
        self.cache().insert(path, resp, now)
    }

    /// `hop` of `path` answered: try it first next time ([`ReferralCache::prefer`]).
    pub fn prefer(&self, path: &str, hop: &DfsHop) {
        let now = self.now();
        self.cache().prefer(path, hop, now);
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
        Ok(DfsServer::Connect(DfsConnect {
            links: Self::with_cache(
                config.clone(),
                i.auth.clone(),
                addr.clone(),
                i.cache.clone(),
                i.clock.clone(),
            ),
            addr,
            creds: i.auth.credentials(),
            config: Box::new(config),
        }))
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
                    return Err(not_followed(e, &at));
                }
                (share, at) = follow(share, at).await?;
            }
            r => return r.map_err(to_io_error),
        }
    }
    Err(to_io_error(too_many_hops(path)))
}

/// The error of a path that crosses a DFS link while following referrals is off: the
/// STATUS_PATH_NOT_COVERED error `e`, saying so and naming the path `at`.
pub(super) fn not_followed(e: OpError, at: &str) -> io::Error {
    let why = format!("{at}: crosses a DFS link (following referrals is off)");
    to_io_error(e.with_context(why))
}
