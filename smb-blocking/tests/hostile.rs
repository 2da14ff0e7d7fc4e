//! The malicious-server suite (smb_testkit::hostile) on the blocking adapter: a scripted server on
//! loopback misbehaves in one way per test; the client must fail with a typed one-line
//! error (or get the right data), in bounded time and memory, without panicking.

mod harness;

smb_testkit::hostile_tests!(harness::Blocking);
