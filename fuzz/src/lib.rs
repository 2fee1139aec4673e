//! The bodies of the fuzz targets, as functions, so that the targets
//! (`fuzz_targets/*.rs`, libFuzzer) and the regression test
//! (`tests/regressions.rs`, every seed and every saved crash replayed by
//! `cargo test`) run the same code.

pub mod calls;
pub mod cmsg;
pub mod exec_args;
pub mod scenario;
pub mod sockaddr;
