//! The DFS hooks of an adapter, written once: [`dfs_hooks!`](crate::dfs_hooks).

/// Expands, inside an adapter crate whose root defines `Client` (fields `sub: Sub`,
/// `dfs: DfsLinks<dfs::DfsClient>`, an associated `start(addr, creds, config, sink,
/// links)`, a `share(name)` method) and `Share` (field `inner` with `ops`, `name`,
/// `client: dfs::DfsClient`), to the crate-private wrappers `DfsClient` and `DfsShare`
/// implementing [`driver::DfsClient`](crate::driver::DfsClient) and
/// [`driver::DfsShare`](crate::driver::DfsShare) (private wrappers: the adapter's
/// submitter type stays private), and `Share::dfs()`, the share's
/// [`DfsPaths`](crate::driver::DfsPaths). The tokens given (`.await` for an async adapter,
/// nothing for a blocking one) follow each call of `Client::share` and `Client::start`.
#[macro_export]
#[doc(hidden)]
// `crate::` on purpose: the adapter's own `Client`, `Share` and `Sub`.
#[allow(clippy::crate_in_macro_def)]
macro_rules! dfs_hooks {
    ($($wait:tt)*) => {
        /// A [`Client`](crate::Client) as the driver's DFS code sees it.
        #[derive(Clone)]
        pub(crate) struct DfsClient(pub(crate) crate::Client);

        /// A [`Share`](crate::Share) as the driver's DFS code sees it.
        #[derive(Clone)]
        pub(crate) struct DfsShare(pub(crate) crate::Share);

        impl $crate::driver::DfsClient for DfsClient {
            type Sub = crate::Sub;
            type Share = DfsShare;
            fn dfs_links(&self) -> &$crate::driver::DfsLinks<DfsClient> {
                &self.0.dfs
            }
            fn submitter(&self) -> &crate::Sub {
                &self.0.sub
            }
            fn tree_connect(
                &self,
                share: &str,
            ) -> $crate::driver::BoxFuture<'_, std::io::Result<DfsShare>> {
                let share = share.to_owned();
                Box::pin(async move { self.0.share(&share) $($wait)* .map(DfsShare) })
            }
            fn connect_target(
                t: $crate::driver::DfsConnect<DfsClient>,
            ) -> $crate::driver::BoxFuture<'static, std::io::Result<DfsClient>> {
                Box::pin(async move {
                    let links = Some(t.links);
                    let c = crate::Client::start(t.addr, t.creds, *t.config, None, links)
                        $($wait)* ?;
                    Ok(DfsClient(c))
                })
            }
        }

        impl $crate::driver::DfsShare for DfsShare {
            type Client = DfsClient;
            fn share_ops(&self) -> &$crate::driver::ShareOps<crate::Sub> {
                &self.0.inner.ops
            }
            fn share_client(&self) -> &DfsClient {
                &self.0.inner.client
            }
            fn share_name(&self) -> &str {
                &self.0.inner.name
            }
        }

        impl crate::Share {
            /// This share's path operations, following DFS links.
            pub(crate) fn dfs(&self) -> $crate::driver::DfsPaths<DfsShare> {
                $crate::driver::DfsPaths(DfsShare(self.clone()))
            }
        }
    };
}
