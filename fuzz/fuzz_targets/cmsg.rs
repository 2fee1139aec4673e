//! The `cmsg` fuzz target: see `src/cmsg.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| afunix_fuzz::cmsg::run(data));
