//! The `ftp-client` command line (used by the binary).
