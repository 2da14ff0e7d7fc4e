//! CREATE on a DFS share ([MS-SMB2] 3.2.4.3): when the TREE_CONNECT response carried
//! SMB2_SHARE_CAP_DFS (2.2.10), the request is flagged SMB2_FLAGS_DFS_OPERATIONS (2.2.1.2)
//! and its name is the full DFS path `server\share\path` (2.2.13: "the file name includes a
//! prefix that will be processed during DFS name normalization", 3.3.5.9). The server then
//! answers STATUS_PATH_NOT_COVERED for a path that crosses a DFS link, which the adapters
//! resolve with FSCTL_DFS_GET_REFERRALS (see [`crate::driver::dfs`]).

use super::*;
use alloc::sync::Arc;
use core::fmt;

/// Where the server a DFS referral names is reached ([`ClientConfig::dfs_resolver`]): a
/// referral's target is `\\host\share\path`, with no port, so the client maps the host to the
/// address it connects to. [`DfsResolver::default`] keeps the host on port 445; a test lab
/// whose servers listen on high loopback ports, or a deployment with a port mapping,
/// injects its own. `None` from the function fails the open as an unknown server (no name
/// is looked up then).
#[derive(Clone)]
pub struct DfsResolver(Arc<ResolveFn>);

/// The function inside a [`DfsResolver`].
type ResolveFn = dyn Fn(&str) -> Option<ServerAddr> + Send + Sync;

impl DfsResolver {
    /// Any mapping of referral host names (as the referral spells them) to addresses.
    pub fn new(f: impl Fn(&str) -> Option<ServerAddr> + Send + Sync + 'static) -> Self {
        DfsResolver(Arc::new(f))
    }

    /// Only the listed hosts (compared ignoring ASCII case), each to its address; any other
    /// host is unknown.
    pub fn map(pairs: impl IntoIterator<Item = (String, ServerAddr)>) -> Self {
        let pairs: Vec<(String, ServerAddr)> = pairs.into_iter().collect();
        DfsResolver::new(move |host| {
            pairs
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(host))
                .map(|(_, a)| a.clone())
        })
    }

    /// The address for `host`, `None` when it is unknown.
    pub fn resolve(&self, host: &str) -> Option<ServerAddr> {
        (self.0)(host)
    }
}

impl Default for DfsResolver {
    /// The host itself, port 445 implied ([`ServerAddr`]).
    fn default() -> Self {
        DfsResolver::new(|host| Some(ServerAddr(host.into())))
    }
}

impl fmt::Debug for DfsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DfsResolver(..)")
    }
}

impl Client {
    /// `hdr` flagged for DFS and `body`'s name prefixed with `server\share` when `tree` is a
    /// DFS share; both unchanged otherwise.
    pub(super) fn dfs_create(
        &self,
        tree: TreeId,
        mut hdr: Header,
        body: &mut CreateRequest,
    ) -> Header {
        let Some(t) = self.trees.get(&tree).filter(|t| t.dfs) else {
            return hdr;
        };
        hdr.flags = HeaderFlags(hdr.flags.0 | HeaderFlags::DFS_OPERATIONS);
        body.name = dfs_name(&self.server_name, &t.share, &body.name);
        hdr
    }
}

/// `server\share\path` (no leading backslash, as Windows sends it; an empty `path` names the
/// share root `server\share`).
pub(crate) fn dfs_name(server: &str, share: &str, path: &str) -> String {
    let path = path.trim_start_matches('\\');
    if path.is_empty() {
        alloc::format!("{server}\\{share}")
    } else {
        alloc::format!("{server}\\{share}\\{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::{DfsResolver, ServerAddr, dfs_name};
    use alloc::string::String;

    #[test]
    fn dfs_names_carry_server_and_share() {
        assert_eq!(
            dfs_name("srv", "root", "link\\f.txt"),
            "srv\\root\\link\\f.txt"
        );
        assert_eq!(dfs_name("srv", "root", "\\a"), "srv\\root\\a");
        assert_eq!(dfs_name("srv", "root", ""), "srv\\root");
    }

    #[test]
    fn resolvers_map_hosts_or_refuse() {
        let d = DfsResolver::default();
        assert_eq!(d.resolve("files"), Some(ServerAddr("files".into())));
        let m = DfsResolver::map([(
            String::from("127.0.0.1"),
            ServerAddr("127.0.0.1:4455".into()),
        )]);
        assert_eq!(
            m.resolve("127.0.0.1"),
            Some(ServerAddr("127.0.0.1:4455".into()))
        );
        assert_eq!(m.resolve("elsewhere"), None);
        assert_eq!(alloc::format!("{m:?}"), "DfsResolver(..)");
    }
}
