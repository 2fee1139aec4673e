//! The `exec_args` fuzz target: see `src/exec_args.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| afunix_fuzz::exec_args::run(data));
