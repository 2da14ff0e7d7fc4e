//! One list of end-to-end scenarios for every runtime adapter, written once.
//!
//! Each adapter's `tests/` implements [`Harness`] (how to connect, open, read, list... with
//! that adapter, and how to run and spawn futures on its runtime) and instantiates every
//! scenario with [`scenario_tests!`](crate::scenario_tests). The scenario bodies are `async`
//! and run on the harness's runtime (multi-threaded where the runtime has one); the blocking
//! adapter's harness runs each operation synchronously and spawns OS threads, so concurrency
//! scenarios use real concurrency in every runtime.
//!
//! Most scenarios run against [`SambaServer::shared`] (one smbd per test process; under
//! nextest every test is its own process) and work in their own directory of [`SHARE`].
//! Scenarios that need another server configuration (guest, signing required) start their
//! own [`SambaServer`] and drop it (stopping smbd) at the end. Scenarios that count or break
//! traffic put a [`FaultProxy`] of their own between the client and the server.

#![allow(clippy::err_expect)] // handles are not Debug

mod attacks;
pub use attacks::*;

use crate::{
    Direction, ENCRYPTED_SHARE, Event, FaultProxy, GUEST_SHARE, READONLY_SHARE, SHARE, SambaConfig,
    SambaServer, Seen,
};
use smb_core::client::{Cipher, ClientConfig, Dialect};
use smb_core::wire::Command;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod fs_extras;
pub use fs_extras::{
    FsExtras, FsxOp, FsxOut, previous_versions_via_snapshot, security_descriptor_read_and_add_ace,
    sparse_file_hole, symlinks_on_samba,
};
mod lease_cache;
pub use lease_cache::{
    lease_cache_entries_expire_and_close, lease_cache_off_without_server_leases,
    lease_cache_serves_repeats_until_a_break,
};
mod dfs;
pub use dfs::{
    DFS_ROOT, dfs_path_operations_through_links, dfs_referrals_to_other_servers_and_shares,
};
mod fs_watch;
pub use fs_watch::*;
mod multichannel;
pub use multichannel::{
    MULTICHANNEL_TRANSITIONS, encrypted_session_binds_channels,
    four_channels_dedup_when_all_are_cut, multichannel_binds_and_survives_a_cut,
    multichannel_falls_back_to_one_channel, multichannel_transitions_are_the_same_on_every_runtime,
};
mod shares;
mod signing;
mod std_api;
mod url_errors;
pub use shares::{list_shares_of_samba, named_pipe_transact_binds};
pub use signing::signing_by_default_on_311;
pub use smb_core::wire::srvsvc::ShareInfo;
pub use std_api::{
    FileApi, Locking, alternate_data_streams, attributes_and_permissions, byte_range_locks,
    dir_entries_and_patterns, open_options_like_std, walk_recursive_with_depth_and_errors,
};
pub use url_errors::{
    UrlConnect, connect_url_uses_user_and_share, error_messages_name_the_call_and_path,
    unresolvable_host_is_its_own_kind,
};
mod reconnect;
pub use reconnect::{
    RECOVERY_TRANSITIONS, concurrent_io_across_repeated_cuts, server_restart_loses_durable_handles,
    session_expiry_reauthenticates_in_place, stalled_connection_is_replaced,
    transfer_survives_two_cuts, transitions_are_the_same_on_every_runtime,
    write_handle_lost_on_default_samba,
};

mod harness;
pub use harness::*;
mod basics;
pub use basics::*;
mod login;
pub use login::*;
mod helpers;
pub use helpers::*;
mod traffic;
pub use traffic::*;
mod faults;
pub use faults::*;

/// Instantiate every scenario as a `#[test]` for a harness expression.
#[macro_export]
macro_rules! scenario_tests {
    ($harness:expr) => {
        $crate::scenario_tests!(@each $harness;
            login_each_dialect, signing_required, signing_by_default_on_311,
            encryption_required_each_cipher,
            wrong_password, unknown_share, big_file_round_trip, seek_and_partial_reads,
            list_5000, namespace_ops, concurrent_readers_writers, share_modes,
            guest_and_anonymous, server_requires_signing, dropped_file_closes,
            shutdown_sends_logoff, dropped_listing_closes, list_5000_few_round_trips,
            big_read_pipelined,
            metadata_one_compound, copy_is_server_side, server_gone_mid_transfer,
            stalled_server_times_out, error_kinds, transfer_survives_two_cuts,
            concurrent_io_across_repeated_cuts, write_handle_lost_on_default_samba,
            stalled_connection_is_replaced,
            transitions_are_the_same_on_every_runtime, server_restart_loses_durable_handles,
            session_expiry_reauthenticates_in_place,
            attack_unsigned_read_session_id_zero, attack_flipped_read_signature,
            attack_forged_interim_then_tampered_final,
            attack_plaintext_interim_on_encrypted_session,
            attack_plaintext_read_on_encrypted_share, attack_cancel_on_encrypted_share,
            attack_transform_wrong_flags, attack_transform_wrong_original_size,
            attack_transform_other_session_id, attack_transform_from_another_session,
            attack_read_more_than_asked, attack_wrong_password_no_guest_fallback,
            attack_relay_sets_is_guest, guest_fallback_only_when_opted_in,
            multichannel_binds_and_survives_a_cut, four_channels_dedup_when_all_are_cut,
            multichannel_falls_back_to_one_channel, encrypted_session_binds_channels,
            multichannel_transitions_are_the_same_on_every_runtime,
            open_options_like_std, dir_entries_and_patterns, attributes_and_permissions,
            byte_range_locks, walk_recursive_with_depth_and_errors, alternate_data_streams,
            dfs_referrals_to_other_servers_and_shares, dfs_path_operations_through_links,
            fs_info_matches_the_disk, watch_sees_changes, watch_recursive_or_not,
            dropped_watch_is_cancelled, watch_across_a_cut_ends_clearly,
            watch_overflow_says_rescan,
            list_shares_of_samba, named_pipe_transact_binds,
            security_descriptor_read_and_add_ace, sparse_file_hole,
            previous_versions_via_snapshot, symlinks_on_samba,
            connect_url_uses_user_and_share, error_messages_name_the_call_and_path,
            unresolvable_host_is_its_own_kind,
            lease_cache_serves_repeats_until_a_break, lease_cache_off_without_server_leases,
            lease_cache_entries_expire_and_close);
    };
    (@each $harness:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let h = $harness;
                let h2 = h.clone();
                $crate::scenarios::Harness::block_on(&h, Box::pin($crate::scenarios::$name(h2)));
            }
        )*
    };
}
