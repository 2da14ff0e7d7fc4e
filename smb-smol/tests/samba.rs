//! The shared scenarios (smb_testkit::scenarios) on smol (a 4-thread executor), and one
//! scenario under async-std's executor.

mod harness;

use smb_testkit::scenarios::Harness as _;

smb_testkit::scenario_tests!(harness::Smol::Smol);

/// The smol adapter needs no smol runtime: the concurrency scenario under async-std.
#[test]
fn async_std_executor_runs_the_smol_adapter() {
    let h = harness::Smol::AsyncStd;
    h.block_on(Box::pin(
        smb_testkit::scenarios::concurrent_readers_writers_in(h.clone(), "conc-async-std"),
    ));
}
