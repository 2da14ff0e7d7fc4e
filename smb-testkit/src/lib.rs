//! Throwaway Samba servers and a fault-injecting proxy for tests, benchmarks and the demo.
