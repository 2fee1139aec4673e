//! The `scenario` fuzz target: see `src/scenario.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| afunix_fuzz::scenario::run(data));
