//! The `sockaddr` fuzz target: see `src/sockaddr.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| afunix_fuzz::sockaddr::run(data));
