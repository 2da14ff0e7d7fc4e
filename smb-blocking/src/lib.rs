//! Blocking SMB2/3 client on std::net (work in progress: see the README status table).
