//! What following DFS referrals needs of this adapter ([`driver::DfsClient`],
//! [`driver::DfsShare`], on crate-private wrappers so the adapter's internals stay
//! private); the hops, the referral cache and every path operation through a link are
//! smb-core's ([`driver::DfsPaths`]). The hops run as one future on the calling thread;
//! connecting a share or another server blocks inside it, like [`Client::connect`].

use crate::{Client, Share, Sub};
use smb_core::driver::{self, BoxFuture, DfsConnect, DfsLinks, DfsPaths, ShareOps};
use std::io;

/// A [`Client`] as the driver's DFS code sees it.
#[derive(Clone)]
pub(crate) struct DfsClient(pub(crate) Client);

/// A [`Share`] as the driver's DFS code sees it.
#[derive(Clone)]
pub(crate) struct DfsShare(pub(crate) Share);

impl driver::DfsClient for DfsClient {
    type Sub = Sub;
    type Share = DfsShare;
    fn dfs_links(&self) -> &DfsLinks<DfsClient> {
        &self.0.dfs
    }
    fn submitter(&self) -> &Sub {
        &self.0.sub
    }
    fn tree_connect(&self, share: &str) -> BoxFuture<'_, io::Result<DfsShare>> {
        let share = share.to_owned();
        Box::pin(async move { self.0.share(&share).map(DfsShare) })
    }
    fn connect_target(t: DfsConnect<DfsClient>) -> BoxFuture<'static, io::Result<DfsClient>> {
        Box::pin(async move {
            let c = Client::start(t.addr, t.creds, *t.config, None, Some(t.links))?;
            Ok(DfsClient(c))
        })
    }
}

impl driver::DfsShare for DfsShare {
    type Client = DfsClient;
    fn share_ops(&self) -> &ShareOps<Sub> {
        &self.0.inner.ops
    }
    fn share_client(&self) -> &DfsClient {
        &self.0.inner.client
    }
    fn share_name(&self) -> &str {
        &self.0.inner.name
    }
}

impl Share {
    /// This share's path operations, following DFS links.
    pub(crate) fn dfs(&self) -> DfsPaths<DfsShare> {
        DfsPaths(DfsShare(self.clone()))
    }
}
