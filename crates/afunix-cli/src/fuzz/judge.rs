//! Running a scenario on both backends, repairing it on the model, and
//! judging the traces (a divergence counts only when the kernel repeats
//! itself).

use super::blocking::model_waits;
use super::FUZZ_CALL_TIMEOUT;
use crate::check::{self, Divergence};
use crate::runner::{self, Run, RunErrorKind, RunOptions};
use crate::scenario::{self, Scenario};
use crate::{new_backend, BackendKind};
use std::time::Duration;

/// Parse `text` and run it on a fresh backend with the fuzz call timeout.
pub fn run_text(text: &str, kind: BackendKind) -> Result<(Scenario, Run), String> {
    if kind != BackendKind::Host {
        return run_text_here(text, kind);
    }
    // A host run goes on a thread of its own (the backend and its helpers
    // live and die with it), so that a run that hangs in the kernel or in
    // the backend becomes a finding instead of a fuzzer that never ends.
    let owned = text.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("afunix-fuzz-host".into())
        .spawn(move || {
            let _ = tx.send(run_text_here(&owned, BackendKind::Host));
        })
        .map_err(|e| format!("cannot start the host run: {e}"))?;
    match rx.recv_timeout(HOST_RUN_LIMIT) {
        Ok(r) => r,
        Err(_) => {
            let path =
                std::env::temp_dir().join(format!("afunix-fuzz-hang-{}.scn", std::process::id()));
            let _ = std::fs::write(&path, text);
            eprintln!(
                "afunix fuzz: a host run did not finish within {} s (a hang in the kernel or the host backend); the scenario is in {}",
                HOST_RUN_LIMIT.as_secs(),
                path.display()
            );
            // Exiting ends the run's thread, and with it every helper (PR_SET_PDEATHSIG).
            std::process::exit(2);
        }
    }
}

/// The longest one host run of a generated scenario may take.
const HOST_RUN_LIMIT: Duration = Duration::from_secs(60);

fn run_text_here(text: &str, kind: BackendKind) -> Result<(Scenario, Run), String> {
    let parse = |t: &str| {
        scenario::parse(t).map_err(|e| {
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    let sc = parse(text)?;
    // The model runs the generous waits of `--blocking` short.
    let fast = if kind == BackendKind::Sim {
        model_waits(text)
    } else {
        None
    };
    let fast_sc = match &fast {
        Some(t) => Some(parse(t)?),
        None => None,
    };
    let mut b = new_backend(kind)?;
    let run = runner::run(
        fast_sc.as_ref().unwrap_or(&sc),
        b.as_mut(),
        &RunOptions {
            call_timeout: FUZZ_CALL_TIMEOUT,
            pictures: false,
            ..RunOptions::default()
        },
    );
    Ok((sc, run))
}

pub(super) fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

pub(super) fn text_of(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// Drop the lines of `text` that do not parse or that are scenario errors
/// on the model (a name never bound, a call by an exited process, ...),
/// until the model runs it to the end. Returns the repaired text and its
/// model run, or `None` when that does not converge.
pub fn repair(text: &str) -> Option<(String, Scenario, Run)> {
    let mut lines = lines_of(text);
    for _ in 0..200 {
        let t = text_of(&lines);
        if let Err(errs) = scenario::parse(&t) {
            let mut bad: Vec<usize> = errs.iter().map(|e| e.line).collect();
            bad.sort_unstable();
            bad.dedup();
            for l in bad.into_iter().rev() {
                if l >= 1 && l <= lines.len() {
                    lines.remove(l - 1);
                }
            }
            continue;
        }
        let (sc, run) = run_text(&t, BackendKind::Sim).ok()?;
        match &run.error {
            None => return Some((t, sc, run)),
            Some(e) if e.kind == RunErrorKind::Scenario => {
                if e.line >= 1 && e.line <= lines.len() {
                    lines.remove(e.line - 1);
                } else {
                    return None;
                }
            }
            Some(_) => return None,
        }
    }
    None
}

/// What a divergence looks like, to recognize it again while minimizing
/// and to report each kind once: the call, the first word of both
/// results and the fields that differ.
pub fn signature(d: &Divergence) -> String {
    let op = d
        .echo
        .split_whitespace()
        .find(|w| !w.ends_with(':'))
        .unwrap_or("")
        .to_string();
    let first = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
    let fields =
        |s: &str| -> Vec<String> { s.split_whitespace().skip(1).map(String::from).collect() };
    let (mf, kf) = (fields(&d.model), fields(&d.kernel));
    let key = |f: &String| f.split('=').next().unwrap_or("").to_string();
    let mut keys: Vec<String> = mf
        .iter()
        .filter(|f| !kf.contains(f))
        .chain(kf.iter().filter(|f| !mf.contains(f)))
        .map(key)
        .collect();
    keys.sort();
    keys.dedup();
    format!(
        "{op}: {} / {} [{}]",
        first(&d.model),
        first(&d.kernel),
        keys.join(",")
    )
}

pub(super) fn has_blocked(r: &Run) -> bool {
    r.lines
        .iter()
        .any(|l| l.result.as_ref().is_some_and(|x| x.result == "BLOCKED"))
}

/// The result of running one scenario on both backends.
#[derive(Debug)]
pub enum Verdict {
    /// Same traces.
    Same,
    /// A divergence the kernel repeats.
    Diverges(Vec<Divergence>),
    /// The traces differ, but the kernel does not repeat its own trace:
    /// the first line where its two runs differ.
    HostUnstable(String),
    /// The scenario could not be compared (a backend error).
    Error(String),
}

/// Run `text` (already repaired) on the host, compare with the model run,
/// and re-run the host when they differ.
pub fn judge(text: &str, sc: &Scenario, model: &Run) -> Verdict {
    let kernel = match run_text(text, BackendKind::Host) {
        Ok((_, r)) => r,
        Err(e) => return Verdict::Error(e),
    };
    if let Some(e) = &kernel.error {
        if e.kind == RunErrorKind::Backend {
            return Verdict::Error(e.to_string());
        }
    }
    let d = check::diff(sc, model, &kernel);
    if d.is_empty() {
        return Verdict::Same;
    }
    let again = match run_text(text, BackendKind::Host) {
        Ok((_, r)) => r,
        Err(e) => return Verdict::Error(e),
    };
    let (t1, t2) = (kernel.text(false), again.text(false));
    if t1 != t2 {
        let first = t1
            .lines()
            .zip(t2.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("{a}  /  {b}"))
            .unwrap_or_else(|| "(lengths differ)".into());
        return Verdict::HostUnstable(first);
    }
    Verdict::Diverges(d)
}

/// `text` with a `gc` after every line that may release a socket (a
/// `close`, an `exit`, a `recvmsg` or `sendmsg` that may drop passed fds),
/// from the first `rights=` on. Once a socket may be in flight, releasing
/// a socket makes the kernel queue its garbage collector
/// (`unix_release_sock` -> `unix_schedule_gc`), which runs
/// asynchronously: what the next calls see depends on whether it has run
/// yet, while the model collects at once. After a `gc` both agree.
pub fn settled(text: &str) -> String {
    let mut out = Vec::new();
    let mut inflight = false;
    for l in text.lines() {
        out.push(l.to_string());
        inflight |= l.contains("rights=");
        let releases = [": close ", ": exit", ": recvmsg ", ": sendmsg "]
            .iter()
            .any(|k| l.contains(k) || l.ends_with(k.trim_end()));
        if inflight && releases {
            out.push("gc".to_string());
        }
    }
    text_of(&out)
}

/// Whether `text` runs on both backends and diverges with `sig` on some
/// line.
pub fn diverges_like(text: &str, sig: &str, allow_blocked: bool) -> bool {
    let Ok((sc, model)) = run_text(text, BackendKind::Sim) else {
        return false;
    };
    if model.error.is_some() || (!allow_blocked && has_blocked(&model)) {
        return false;
    }
    let Ok((_, kernel)) = run_text(text, BackendKind::Host) else {
        return false;
    };
    if kernel.error.is_some() || (!allow_blocked && has_blocked(&kernel)) {
        return false;
    }
    let d = check::diff(&sc, &model, &kernel);
    d.iter().any(|x| signature(x) == sig)
}
