//! The scenario language of afunix (SCENARIO.md) and the machinery behind
//! the `afunix` command: parse a `.scn` file ([`scenario`]), run it on a
//! [`Backend`] ([`runner`]), print the trace ([`trace`]), and compare it
//! with the file's expectations or with another backend ([`check`]).
//!
//! ```no_run
//! use afunix_cli::{run_source, BackendKind};
//! let out = run_source("task A\nA: socket dgram -> s = 3\n", BackendKind::Sim).unwrap();
//! print!("{}", out.run.text(false));
//! ```
#![warn(missing_docs)]

pub mod check;
pub mod encode;
pub mod fuzz;
pub mod pragma;
pub mod print;
pub mod resolve;
pub mod runner;
pub mod scenario;
pub mod trace;

use afunix_backend::backend::Backend;
use runner::{Run, RunOptions};
use scenario::{ParseError, Scenario};

/// Which world runs the calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The user-space model (`afunix_backend::sim`).
    Sim,
    /// The host kernel (`afunix-host`; needs root).
    Host,
}

impl BackendKind {
    /// `sim` or `host`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sim => "sim",
            BackendKind::Host => "host",
        }
    }
}

/// A fresh world of the given kind, or why it cannot be had.
pub fn new_backend(kind: BackendKind) -> Result<Box<dyn Backend>, String> {
    match kind {
        BackendKind::Sim => new_sim(),
        BackendKind::Host => new_host(),
    }
}

#[cfg(feature = "sim")]
fn new_sim() -> Result<Box<dyn Backend>, String> {
    Ok(Box::new(afunix_backend::sim::SimBackend::new()))
}

#[cfg(feature = "sim")]
fn new_sim_with(denies: Vec<afunix::security::DenyRule>) -> Result<Box<dyn Backend>, String> {
    Ok(Box::new(afunix_backend::sim::SimBackend::with_security(
        Box::new(afunix::security::Deny(denies)),
    )))
}

#[cfg(not(feature = "sim"))]
fn new_sim_with(_: Vec<afunix::security::DenyRule>) -> Result<Box<dyn Backend>, String> {
    new_sim()
}

#[cfg(not(feature = "sim"))]
fn new_sim() -> Result<Box<dyn Backend>, String> {
    Err("the model backend is not built in (feature `sim`)".into())
}

#[cfg(feature = "host")]
fn new_host() -> Result<Box<dyn Backend>, String> {
    afunix_host::HostBackend::new()
        .map(|b| Box::new(b) as Box<dyn Backend>)
        .map_err(|e| format!("host backend unavailable: {e}"))
}

#[cfg(not(feature = "host"))]
fn new_host() -> Result<Box<dyn Backend>, String> {
    Err("the host backend is not built in (feature `host`)".into())
}

/// Why a scenario could not be run at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The text does not parse: every error found.
    Parse(Vec<ParseError>),
    /// The backend could not be created.
    Backend(String),
}

/// A parsed scenario and its run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The scenario.
    pub scenario: Scenario,
    /// Its run (which may have stopped at an error: `run.error`).
    pub run: Run,
}

/// Parse `src` and run it on a fresh backend of `kind`.
pub fn run_source(src: &str, kind: BackendKind) -> Result<Outcome, LoadError> {
    run_source_with(src, kind, &RunOptions::default())
}

/// Parse `src` and run it on a fresh backend of `kind`, with `opts`.
pub fn run_source_with(
    src: &str,
    kind: BackendKind,
    opts: &RunOptions,
) -> Result<Outcome, LoadError> {
    let scenario = scenario::parse(src).map_err(LoadError::Parse)?;
    // The file's own faults (`# afunix: fault ...`): checked always,
    // armed on the model only (to the kernel they are comments).
    let pragmas = if opts.pragmas {
        pragma::read(src, &scenario).map_err(LoadError::Parse)?
    } else {
        pragma::Pragmas::default()
    };
    // A security policy is the model's (the kernel's LSMs are the
    // machine's): installed as the world is made.
    let denies: Vec<_> = opts
        .deny
        .iter()
        .chain(&pragmas.denies)
        .map(|d| d.0)
        .collect();
    // To the kernel the pragmas are comments; `--deny` it refuses.
    if kind != BackendKind::Sim && !opts.deny.is_empty() {
        return Err(LoadError::Backend(
            "--deny is a policy of the model (--backend sim)".into(),
        ));
    }
    let mut backend = if kind == BackendKind::Sim && !denies.is_empty() {
        new_sim_with(denies)
    } else {
        new_backend(kind)
    }
    .map_err(LoadError::Backend)?;
    let run = if kind == BackendKind::Sim && !pragmas.faults.is_empty() {
        let mut opts = opts.clone();
        opts.faults.extend(pragmas.faults);
        runner::run(&scenario, backend.as_mut(), &opts)
    } else {
        runner::run(&scenario, backend.as_mut(), opts)
    };
    Ok(Outcome { scenario, run })
}

/// The arguments of `python3` that run CPython's own unix-socket tests
/// (its `test_socket` filtered as issue 9 asks).
pub const CPYTHON_UNIX_TESTS: &[&str] = &[
    "-m",
    "test",
    "test_socket",
    "-m",
    "*Unix*",
    "-m",
    "*SCMRights*",
    "-m",
    "SendRecvFdsTests",
    "-m",
    "TestUnixDomain",
    "-m",
    "*SocketPair*",
    "-m",
    "TestLinuxAbstractNamespace",
];
