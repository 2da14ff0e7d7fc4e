//! What following DFS referrals needs of this adapter: the crate-private `DfsClient` and
//! `DfsShare` wrappers of [`Client`](crate::Client) and [`Share`](crate::Share) and
//! `Share::dfs()`, from `smb_core::dfs_hooks!`; the hops, the referral cache and every
//! path operation through a link are smb-core's (`smb_core::driver::DfsPaths`). The hops
//! run as one future on the calling thread; connecting a share or another server blocks
//! inside it, like [`Client::connect`](crate::Client::connect).

smb_core::dfs_hooks!();
