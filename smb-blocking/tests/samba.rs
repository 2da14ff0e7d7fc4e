//! The shared scenarios (smb_testkit::scenarios) on the blocking adapter: each operation
//! runs synchronously inside the scenario's future; `spawn` starts an OS thread.

mod harness;

smb_testkit::scenario_tests!(harness::Blocking);
