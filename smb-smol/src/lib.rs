//! SMB2/3 client for smol and async-std (work in progress: see the README status table).
