//! Fuzz the DFS referral path ([MS-DFSC] 2.2.4 RESP_GET_DFS_REFERRAL, 2.2.5 entries v1-v4):
//! the decoder, then the referral cache that turns a decoded answer into the next hop
//! (PathConsumed against the request path, each target split into server and share). The
//! request paths include a non-BMP character (PathConsumed may split its surrogate pair);
//! nothing may panic, an accepted hop always names a server and a share, and no entry
//! outlives the longest TimeToLive.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smb_core::driver::dfs::ReferralCache;
use smb_core::time::Instant;
use smb_core::wire::ioctl::{DfsReferralResponse, IoctlData};
use std::time::Duration;

const PATHS: [&str; 3] = ["\\srv\\root\\link\\dir\\f.txt", "\\s\\r", "\\srv\\root\\\u{1F600}\\x"];

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = DfsReferralResponse::decode_data(data) else {
        return;
    };
    let mut cache = ReferralCache::new();
    let now = Instant::from_elapsed(Duration::from_secs(1));
    for path in PATHS {
        if let Ok(hops) = cache.insert(path, &resp, now) {
            assert!(!hops.is_empty(), "an accepted referral has a target");
            for hop in &hops {
                assert!(!hop.server.is_empty() && !hop.share.is_empty(), "{hop:?}");
                assert!(!hop.path.starts_with('\\'), "{hop:?}");
                // Preferring any target keeps the same targets.
                cache.prefer(path, hop, now);
            }
            if let Some(again) = cache.lookup(path, now) {
                assert_eq!(again.len(), hops.len());
            }
        }
    }
    // Entries never outlive their TTL (u32 seconds).
    let later = Instant::from_elapsed(Duration::from_secs(1 + u64::from(u32::MAX) + 1));
    for path in PATHS {
        assert!(cache.lookup(path, later).is_none());
    }
});
