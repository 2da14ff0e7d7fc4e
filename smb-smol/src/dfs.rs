//! Following DFS referrals from a [`Share`] (the hops are [`driver::with_referrals`]; the
//! referral cache and the sessions to other servers are the client's [`driver::DfsLinks`]).

use crate::{Client, Share};
use smb_core::client::OpError;
use smb_core::driver::dfs::{dfs_path, get_referral};
use smb_core::driver::{self, DfsServer};
use std::future::Future;
use std::io;

impl Share {
    /// Run `op` on `path`, following DFS referrals to the share that holds it.
    pub(crate) async fn with_dfs<T, Op, Fut>(&self, path: &str, op: Op) -> io::Result<T>
    where
        Op: FnMut(Share, String) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let enabled = self.inner.client.dfs.enabled();
        driver::with_referrals(self.clone(), path, enabled, op, follow).await
    }
}

/// The share and path that `path` of `share` leads to by its DFS referral (cached, or asked
/// for on IPC$), connecting to the target server when it is another one.
async fn follow(share: Share, path: String) -> io::Result<(Share, String)> {
    let c = &share.inner.client;
    let unc = dfs_path(c.dfs.server_name(), share.name(), &path);
    let hop = match c.dfs.cached(&unc) {
        Some(hop) => hop,
        None => {
            let ipc = c.share("IPC$").await?;
            let resp = get_referral(&c.sub, ipc.ops().tree, &unc).await?;
            c.dfs.record(&unc, &resp)?
        }
    };
    let target = match c.dfs.server(&hop, &unc)? {
        DfsServer::Same => c.clone(),
        DfsServer::Connected(other) => other,
        DfsServer::Connect {
            addr,
            creds,
            config,
            links,
        } => {
            let other = Client::start(addr.clone(), creds, *config, None, Some(links))
                .await
                .map_err(|e| driver::with_dfs_path(e, &unc))?;
            c.dfs.remember(&addr, other.clone());
            other
        }
    };
    let next = target
        .share(&hop.share)
        .await
        .map_err(|e| driver::with_dfs_path(e, &unc))?;
    Ok((next, hop.path))
}
