//! Builds the helper image (`src/bin/afunix-host-helper.rs`) that a host
//! helper `execve`s into for a scenario's `exec`, and hands its path to the
//! library (`AFUNIX_HELPER_IMAGE`, embedded with `include_bytes!`).
//!
//! The image must be a *static* executable: helpers are chrooted into the
//! run's directory, where there is no dynamic loader or libc. So this runs
//! a nested `cargo build` of this same package with the `helper-image`
//! feature and `-C target-feature=+crt-static` (glibc's `libc.a`), for the
//! target being built only (so build scripts and proc macros stay dynamic),
//! in its own target directory beside the outer one. That nested build
//! runs this script again, which then returns at once.
//!
//! If the nested build fails, the library is built without an image (a
//! cargo warning says so) and a scenario `exec` on the host backend is
//! refused with a clear backend error; nothing else changes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(afunix_helper_image)");
    if std::env::var_os("CARGO_FEATURE_HELPER_IMAGE").is_some() {
        return; // we are the nested build
    }
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let ws = manifest
        .parent()
        .and_then(Path::parent)
        .expect("crates/afunix-host lies two levels below the workspace")
        .to_path_buf();
    for dep in [
        "crates/afunix/src",
        "crates/afunix/Cargo.toml",
        "crates/afunix-backend/src",
        "crates/afunix-backend/Cargo.toml",
        "crates/afunix-host/src",
        "crates/afunix-host/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", ws.join(dep).display());
    }
    let target = env("TARGET");
    // OUT_DIR is <target-dir>[/<triple>]/<profile>/build/<pkg-hash>/out: the
    // image gets a target directory of its own beside <profile>, shared by
    // every profile (debug, release, test, clippy) of the outer build.
    let out = PathBuf::from(env("OUT_DIR"));
    let dir = out
        .ancestors()
        .nth(4)
        .map(|d| d.join("afunix-helper-image"))
        .unwrap_or_else(|| out.join("helper-image"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--quiet")
        .arg("--offline")
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .args(["-p", "afunix-host", "--features", "helper-image"])
        .args(["--bin", "afunix-host-helper", "--target", &target])
        .arg("--target-dir")
        .arg(&dir)
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_PROFILE_DEV_STRIP", "symbols");
    // What the outer cargo or a wrapper (clippy, coverage) set for *this*
    // build must not leak into the nested one.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_PATH",
    ] {
        cmd.env_remove(var);
    }
    let image = dir.join(&target).join("debug").join("afunix-host-helper");
    match cmd.status() {
        Ok(s) if s.success() && image.is_file() => {
            println!("cargo:rustc-env=AFUNIX_HELPER_IMAGE={}", image.display());
            println!("cargo:rustc-cfg=afunix_helper_image");
        }
        Ok(s) => println!(
            "cargo:warning=afunix-host: building the static helper image failed ({s}); \
             a scenario `exec` on the host backend will be refused"
        ),
        Err(e) => println!(
            "cargo:warning=afunix-host: could not run cargo for the helper image ({e}); \
             a scenario `exec` on the host backend will be refused"
        ),
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}
