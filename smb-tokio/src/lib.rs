//! SMB2/3 client for tokio (work in progress: see the README status table).
