//! The host backend's helper image: what a scenario helper `execve`s into
//! for `Call::Exec`, so the kernel itself runs `do_close_on_exec`.
//!
//! Built by `crates/afunix-host/build.rs` as a static executable (a
//! helper is chrooted into the run's directory, where there is no dynamic
//! loader) and embedded in the library; it is not meant to be run by hand.
//! `no_main`: Rust's start-up would open `/dev/null` over a closed fd 0–2,
//! and the new image must open nothing below the scenario's fd limit.

#![no_main]

/// The C entry point (glibc's `__libc_start_main` calls it).
#[no_mangle]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    // The arguments are read through `std::env::args`, which glibc's
    // start-up hands to std before `main` (no raw pointer is read here).
    afunix_host::image_main()
}
