//! Arbitrary scenario text through the whole language on the model
//! (issue 13): parse, run, print the trace, check it.
//!
//! Input: UTF-8 text, at most 4 KiB and 64 lines, with sleeps, waits and
//! call timeouts of at most 20 ms (so that a run stays short). Never a
//! panic, in the parser, the runner, the trace printer or the checker; the
//! model's invariants hold after the run, once the backend is dropped and
//! every blocked call has returned (within 5 s); a trace of a run that ended
//! without a scenario error is itself a scenario that parses, with the same
//! number of lines; every line parsed prints back to itself
//! (`afunix_cli::print::round_trip`).

use afunix_backend::SimBackend;
use afunix_cli::runner::{self, RunOptions};
use afunix_cli::scenario::{self, Directive, LineKind, Op};
use std::time::Duration;

/// At most this long for a sleep, a wait, or a foreground call.
const MAX_MS: u64 = 20;

fn bounded(sc: &scenario::Scenario) -> bool {
    sc.lines.len() <= 64
        && sc.lines.iter().all(|l| match &l.kind {
            LineKind::Directive(Directive::Sleep { ms }) => *ms <= MAX_MS,
            LineKind::Call {
                op: Op::Wait { ms },
                ..
            } => ms.is_some_and(|m| m <= MAX_MS),
            LineKind::Call {
                op: Op::Poll { timeout, .. },
                ..
            } => (0..=MAX_MS as i32).contains(timeout),
            _ => true,
        })
}

/// One input (the fuzz target's body; also replayed by `tests/regressions.rs`).
pub fn run(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if src.len() > 4096 {
        return;
    }
    let Ok(sc) = scenario::parse(src) else {
        return;
    };
    // Every line prints back to itself (the printer is the parser's
    // inverse).
    for line in &sc.lines {
        if let Err(e) = afunix_cli::print::round_trip(line) {
            panic!("line {}: {e}\n{src}", line.lineno);
        }
    }
    if !bounded(&sc) {
        return;
    }
    // The file's pragmas, as `afunix run` applies them: a fault or a
    // policy's denial must never break the model's own consistency.
    let Ok(pragmas) = afunix_cli::pragma::read(src, &sc) else {
        return;
    };
    let mut backend = if pragmas.denies.is_empty() {
        SimBackend::new()
    } else {
        let rules = pragmas.denies.iter().map(|d| d.0).collect();
        SimBackend::with_security(Box::new(afunix::security::Deny(rules)))
    };
    let opts = RunOptions {
        call_timeout: Duration::from_millis(MAX_MS),
        faults: pragmas.faults,
        ..Default::default()
    };
    let run = runner::run(&sc, &mut backend, &opts);
    let text = run.text(true);
    let _ = afunix_cli::check::check(&sc, &run);
    // A call still blocked holds its file (as the kernel's does): the
    // invariants are checked once the backend is gone, which interrupts
    // every blocked call, and the last call thread has let the world go.
    let world = backend
        .into_world()
        .unwrap_or_else(|e| panic!("a call outlived its backend: {e}\n{src}"));
    if let Err(e) = world.check_invariants() {
        panic!("invariant broken: {e}\n{src}");
    }
    if run.error.is_none() {
        match scenario::parse(&text) {
            Ok(again) => assert_eq!(again.lines.len(), sc.lines.len(), "{src}\n---\n{text}"),
            Err(e) => panic!("the trace does not parse: {e:?}\n{src}\n---\n{text}"),
        }
    }
}
