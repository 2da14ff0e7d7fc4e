//! The shared scenarios (smb_testkit::scenarios) on tokio's multi-threaded runtime.

mod harness;

smb_testkit::scenario_tests!(harness::harness());
