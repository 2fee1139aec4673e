//! The `calls` fuzz target: see `src/calls.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| afunix_fuzz::calls::run(data));
