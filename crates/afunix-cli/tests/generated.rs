//! Property tests on the fuzzer's generator: the scenarios `afunix fuzz`
//! runs against the kernel, run here on the model alone, with the
//! properties of the model crate's call-sequence property test
//! (`crates/afunix/tests/props_calls.rs`). One seeded generator
//! (`afunix::rng`, driving `afunix_cli::fuzz::generate_mode`) thus feeds the
//! differential fuzzer, these properties and, through the same PRNG, the
//! stress test; a failure names its seed, and `afunix fuzz --seed` replays
//! the same scenario against the kernel.
//!
//! For each scenario, plain and with blocking calls: it parses, runs to
//! its end without a panic, every call still blocked is ended, the model's
//! invariants hold, and once every process has exited and a collector that
//! frees every garbage cycle has run (`GcWalk::Fixed`: Linux 6.18 leaves
//! some, which the scenarios must not count as the model's leaks), no open
//! file, socket or socket object is left.

use afunix::GcWalk;
use afunix_backend::SimBackend;
use afunix_cli::fuzz::{generate_mode, prepare_blocking, repair, stream_seed};
use afunix_cli::runner::{self, RunOptions};
use afunix_cli::scenario;
use std::time::Duration;

/// The seed of this test's stream (`afunix fuzz --seed 8008 --calls 40`
/// generates the same scenarios).
const SEED: u64 = 8008;
const CALLS: usize = 40;

/// Scenario `n` of the stream, prepared as `afunix fuzz` prepares it
/// (repaired; with `blocking`, also made independent of timing), holds
/// the properties; returns (lines run, files open before the exits), or
/// `None` when the fuzzer would skip it too.
fn holds(n: u64, blocking: bool) -> Option<(usize, usize)> {
    let generated = generate_mode(stream_seed(SEED, n), CALLS, blocking);
    scenario::parse(&generated)
        .unwrap_or_else(|e| panic!("scenario {n} does not parse: {e:?}\n{generated}"));
    let (text, sc, _) = if blocking {
        prepare_blocking(&generated)?
    } else {
        repair(&generated)?
    };
    let mut backend = SimBackend::new();
    let opts = RunOptions {
        call_timeout: Duration::from_millis(20),
        ..Default::default()
    };
    let _ = runner::run(&sc, &mut backend, &opts);
    let world = backend
        .into_world()
        .unwrap_or_else(|e| panic!("scenario {n}: {e}\n{text}"));
    if let Err(e) = world.check_invariants() {
        panic!("scenario {n}: invariant broken after the run: {e}\n{text}");
    }
    let open = world.open_files();
    for pid in world.pids() {
        world
            .exit(pid)
            .unwrap_or_else(|e| panic!("scenario {n}: exit of {pid:?}: {e:?}\n{text}"));
    }
    world.set_gc_walk(GcWalk::Fixed);
    world.gc();
    if let Err(e) = world.check_invariants() {
        panic!("scenario {n}: invariant broken after every exit: {e}\n{text}");
    }
    let left = (world.open_files(), world.stat(), world.socket_objects());
    assert_eq!(
        left,
        (0, 0, 0),
        "scenario {n}{}: (open files, sockets, socket objects) left once all exited\n{text}",
        if blocking { " (blocking)" } else { "" }
    );
    Some((sc.lines.len(), open))
}

/// Run scenarios `0..count` and require that nearly all ran, and that
/// they left files open for the exits and the collector to free (so the
/// last property is not vacuous).
fn stream(count: u64, blocking: bool) {
    let ran: Vec<(usize, usize)> = (0..count).filter_map(|n| holds(n, blocking)).collect();
    let lines: usize = ran.iter().map(|r| r.0).sum();
    let with_files = ran.iter().filter(|r| r.1 > 0).count();
    eprintln!(
        "{} of {count} scenarios ran ({lines} lines); {with_files} left files open for the exits",
        ran.len()
    );
    assert!(
        ran.len() * 10 >= count as usize * 9,
        "{} of {count} ran",
        ran.len()
    );
    assert!(
        with_files * 2 >= ran.len(),
        "only {with_files} left files open"
    );
}

#[test]
fn generated_scenarios_keep_the_invariants_and_leave_nothing() {
    stream(200, false);
}

#[test]
fn generated_blocking_scenarios_keep_the_invariants_and_leave_nothing() {
    // (Each call left blocked costs its scenario a `wait 300`, twice: a
    // few dozen are enough here; `afunix fuzz --blocking` runs thousands.)
    stream(24, true);
}
