//! `afunix fuzz`: differential fuzzing of the model against the kernel.
//!
//! The project's seeded PRNG ([`Rng`], `afunix::rng`) drives a generator ([`generate`])
//! that writes random but valid scenarios in the scenario language, so
//! every finding is directly a reproducible `.scn` file. Each scenario is
//! first *repaired* on the model ([`repair`]: lines that are scenario
//! errors, such as a name that was never bound because the call that binds
//! it failed, are dropped), then run on the model and on the host kernel
//! and the whole traces are compared with [`check::diff`]. A divergence
//! counts only when the kernel gives the same trace on a second run (the
//! kernel itself must be deterministic on that scenario). It is then
//! minimized ([`minimize`]: delta debugging over lines, then over tokens
//! and numbers) and written to the findings directory.
//!
//! The generator never blocks on purpose: every send and receive carries
//! `dontwait`, and `read`, `write`, `accept` and `connect` are only made on
//! files it knows to be non-blocking (it writes `fcntl FD nonblock` first
//! when it does not know). It leaves out what is legitimately
//! nondeterministic between the two backends: `sleep`, background calls
//! and `wait`, timeouts, `stat` without a `gc` just before it, pids
//! given as numbers (other than ones no process can have), and recvmsg
//! control buffers of 17 to 27 bytes (a cut SCM_CREDENTIALS prints as raw
//! bytes with the sender's pid number: found nondeterministic on the host).
//!
//! With `--blocking` ([`generate_mode`]) the generator also makes calls
//! that block: a send, receive, accept, connect, read or write on a
//! blocking file without `dontwait` goes in the background (`P: CALL &`),
//! and `P: wait 300` collects it before `P`'s next call. Outcomes must not
//! depend on timing, so [`prepare_blocking`] puts a `wait 300` for every
//! pending call (on the model) right after each line that may wake it,
//! before anything else happens: a woken call has returned or blocked
//! again by then, and a call still blocked prints BLOCKED on both
//! backends. There are still no timeouts and no `sleep`; the model runs
//! these waits at 50 ms (its woken calls return within microseconds).
//!
//! Modules: `generate` (the generator; the call mix is a weight table,
//! `CALL_MIX`), `blocking` (the `wait` lines
//! of `--blocking`), `judge` (running, repairing, judging), `minimize`
//! (delta debugging); this module is the command (`run`, `run_faults`).

mod blocking;
mod generate;
mod judge;
mod minimize;

pub use afunix::rng::{stream_seed, Rng};
pub use blocking::prepare_blocking;
pub use generate::{generate, generate_mode};
pub use judge::{diverges_like, judge, repair, run_text, settled, signature, Verdict};
pub use minimize::{minimize, minimize_keeping, simpler_lines, tidy};

use crate::check::{self, Divergence};
use crate::runner::{self, RunOptions};
use crate::scenario;
use crate::{new_backend, BackendKind};
use judge::{has_blocked, lines_of, text_of};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The `wait` of `afunix fuzz --blocking` (ms): generous, so that a
/// woken call has always returned by then.
pub const BLOCKING_WAIT_MS: u64 = 300;

/// The `wait` of those scenarios on the model, whose woken calls return
/// within microseconds (the traces are compared line by line, so the
/// text of the `wait` lines need not match).
const MODEL_WAIT_MS: u64 = 50;

/// How long a call may block in a fuzz run before it is `BLOCKED` (the
/// generator avoids blocking calls; this only bounds its mistakes).
pub const FUZZ_CALL_TIMEOUT: Duration = Duration::from_millis(200);

/// The settings of `afunix fuzz`.
#[derive(Clone, Debug)]
pub struct FuzzOpts {
    /// The seed of the whole run.
    pub seed: u64,
    /// How many scenarios.
    pub count: u64,
    /// Calls per scenario.
    pub calls: usize,
    /// Where findings are written.
    pub out: PathBuf,
    /// Go on after a divergence.
    pub keep_going: bool,
    /// Also generate calls that block (see [`generate_mode`]).
    pub blocking: bool,
}

/// What a fuzz run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Scenarios compared.
    pub scenarios: u64,
    /// Divergences found (scenarios that diverged, repeatably).
    pub divergences: u64,
    /// Distinct kinds of divergence (by [`signature`]).
    pub kinds: u64,
    /// Scenarios whose kernel trace was not repeatable.
    pub host_unstable: u64,
    /// Scenarios that diverged only until the kernel's garbage collector
    /// had run (see [`settled`]).
    pub gc_timing: u64,
    /// Scenarios the generator produced that could not be repaired.
    pub skipped: u64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// The header and body of a findings file.
pub fn finding_text(seed: u64, n: u64, text: &str, d: &Divergence) -> String {
    format!(
        "# afunix fuzz --seed {seed}: scenario {n} (scenario seed {}), minimized\n\
         # diverges at line {}: {}\n#   model:  {}\n#   kernel: {}\n{text}",
        stream_seed(seed, n),
        d.lineno,
        d.echo,
        d.model,
        d.kernel
    )
}

/// Scenarios a second without `--blocking` (30 calls each), as measured.
const PLAIN_RATE: f64 = 45.0;
/// Scenarios a second with `--blocking` (30 calls each), as measured.
const BLOCKING_RATE: f64 = 1.0;

/// Seconds as `42 s`, `7 min`, `2.5 h`.
fn fmt_secs(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Run the fuzzer; `out` gets every line to print. `Err`: the fuzzer
/// could not run at all (no host backend).
pub fn run(opts: &FuzzOpts, out: &mut dyn FnMut(&str)) -> Result<Summary, String> {
    if let Err(e) = new_backend(BackendKind::Host) {
        return Err(format!(
            "{e}\nfuzzing compares the model with the kernel: the host backend needs root"
        ));
    }
    out(&format!(
        "afunix fuzz --seed {} --count {} --calls {}{}",
        opts.seed,
        opts.count,
        opts.calls,
        if opts.blocking { " --blocking" } else { "" }
    ));
    // Rates measured on the project's 2-core machines at 30 calls a
    // scenario (a divergence found adds its minimization).
    let rate = if opts.blocking {
        BLOCKING_RATE
    } else {
        PLAIN_RATE
    } * 30.0
        / opts.calls.max(1) as f64;
    out(&format!(
        "  expect about {} ({rate:.1} scenarios/s on a quiet 2-core machine)",
        fmt_secs(opts.count as f64 / rate)
    ));
    let blocking = opts.blocking;
    // Repair a generated or changed scenario (with `--blocking`, also
    // make it independent of timing).
    let prep = |t: &str| {
        if blocking {
            prepare_blocking(t)
        } else {
            repair(t)
        }
    };
    let mut sum = Summary::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let start = Instant::now();
    let mut last = Instant::now();
    for n in 0..opts.count {
        if last.elapsed() >= Duration::from_secs(5) {
            last = Instant::now();
            let rate = sum.scenarios as f64 / start.elapsed().as_secs_f64();
            let left = (opts.count - n) as f64 / rate.max(1e-3);
            out(&format!(
                "  {} scenarios, {} divergences ({} kinds), {rate:.1} scenarios/s, about {} left",
                sum.scenarios,
                sum.divergences,
                sum.kinds,
                fmt_secs(left)
            ));
        }
        let text = generate_mode(stream_seed(opts.seed, n), opts.calls, blocking);
        let Some((text, sc, model)) = prep(&text) else {
            sum.skipped += 1;
            continue;
        };
        sum.scenarios += 1;
        let mut d = match judge(&text, &sc, &model) {
            Verdict::Same => continue,
            Verdict::Error(e) => return Err(format!("scenario {n}: {e}")),
            Verdict::HostUnstable(l) => {
                sum.host_unstable += 1;
                out(&format!(
                    "  scenario {n}: the kernel does not repeat itself: {l}"
                ));
                continue;
            }
            Verdict::Diverges(d) => d,
        };
        // A divergence that goes away once the kernel's collector has
        // settled after each release is the collector's timing.
        let text = if text.contains("rights=") {
            let st = settled(&text);
            let st = if blocking {
                prep(&st).map(|x| x.0).unwrap_or(st)
            } else {
                st
            };
            let still = run_text(&st, BackendKind::Sim).ok().and_then(|(sc, m)| {
                (m.error.is_none()).then_some(())?;
                match judge(&st, &sc, &m) {
                    Verdict::Diverges(d2) => Some((st.clone(), d2)),
                    _ => None,
                }
            });
            match still {
                Some((st, d2)) => {
                    d = d2;
                    st
                }
                None => {
                    sum.gc_timing += 1;
                    continue;
                }
            }
        } else {
            text
        };
        let model = match run_text(&text, BackendKind::Sim) {
            Ok((_, m)) => m,
            Err(e) => return Err(e),
        };
        sum.divergences += 1;
        // The first line whose kind of divergence is new, if any: a known
        // divergence early in a scenario must not hide a new one later.
        let sig = d
            .iter()
            .map(signature)
            .find(|s| !seen.contains_key(s))
            .unwrap_or_else(|| signature(&d[0]));
        if let Some(f) = seen.get(&sig) {
            out(&format!(
                "  scenario {n}: diverges like {} ({sig})",
                f.display()
            ));
            if !opts.keep_going {
                break;
            }
            continue;
        }
        sum.kinds += 1;
        out(&format!("scenario {n} diverges: {sig}; minimizing"));
        let blocked = blocking || has_blocked(&model);
        let mut pred = |ls: &[String]| {
            if blocking {
                // Every candidate gets its settling waits first.
                prep(&text_of(ls)).is_some_and(|(t, _, _)| diverges_like(&t, &sig, true))
            } else {
                diverges_like(&text_of(ls), &sig, blocked)
            }
        };
        // Fast: any line may go. Then the result, with a `gc` after each
        // release, must still diverge alike; else the fast path followed
        // the collector's timing and the slow one keeps every `gc`.
        let mut small = minimize(&lines_of(&text), &mut pred);
        if text.contains("rights=") {
            let st = settled(&text_of(&small));
            let st = if blocking {
                prep(&st).map(|x| x.0).unwrap_or(st)
            } else {
                st
            };
            if diverges_like(&st, &sig, blocked) {
                small = lines_of(&st);
            } else {
                small = minimize_keeping(&lines_of(&text), &|l| l == "gc", &mut pred);
            }
        }
        if blocking {
            if let Some((t, _, _)) = prep(&text_of(&small)) {
                small = lines_of(&t);
            }
        }
        let last = match run_text(&text_of(&small), BackendKind::Sim).and_then(|(sc, m)| {
            run_text(&text_of(&small), BackendKind::Host).map(|(_, k)| (sc, m, k))
        }) {
            Ok((sc, m, k)) => check::diff(&sc, &m, &k)
                .iter()
                .find(|x| signature(x) == sig)
                .map_or(0, |x| x.lineno),
            Err(_) => 0,
        };
        let mut small = tidy(&small, last, &mut pred);
        if blocking {
            if let Some((t, _, _)) = prep(&text_of(&small)) {
                small = lines_of(&t);
            }
        }
        let small_text = text_of(&small);
        // The minimized scenario's own divergence, for the header.
        let first = match run_text(&small_text, BackendKind::Sim)
            .and_then(|(sc, m)| run_text(&small_text, BackendKind::Host).map(|(_, k)| (sc, m, k)))
        {
            Ok((sc, m, k)) => check::diff(&sc, &m, &k)
                .into_iter()
                .find(|x| signature(x) == sig),
            Err(_) => None,
        }
        .unwrap_or_else(|| d[0].clone());
        let body = finding_text(opts.seed, n, &small_text, &first);
        std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
        let path = opts.out.join(format!("divergence-{}-{n}.scn", opts.seed));
        std::fs::write(&path, &body).map_err(|e| format!("{}: {e}", path.display()))?;
        out(&format!("==> {} <==", path.display()));
        for l in body.lines() {
            out(l);
        }
        seen.insert(sig, path.clone());
        sum.files.push(path);
        if !opts.keep_going {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    out(&format!(
        "{} scenarios, {} divergences ({} kinds, {} host-unstable, {} gc-timing, {} skipped; {:.1} scenarios/s)",
        sum.scenarios,
        sum.divergences,
        sum.kinds,
        sum.host_unstable,
        sum.gc_timing,
        sum.skipped,
        sum.scenarios as f64 / secs.max(1e-9)
    ));
    Ok(sum)
}

/// What `afunix fuzz --faults` found.
#[derive(Clone, Debug, Default)]
pub struct FaultSummary {
    /// Scenarios run.
    pub scenarios: u64,
    /// Faults that fired, over all of them.
    pub fired: u64,
    /// Scenarios after which the model was inconsistent (written to the
    /// output directory).
    pub broken: Vec<PathBuf>,
}

/// `afunix fuzz --faults`: random scenarios on the model alone, with every
/// fault point armed at random (probability `p`, from each world's seeded
/// generator); after each, the model's invariants must hold, and once
/// every process exited and the collector ran nothing may be left (no
/// socket, no open file). A fault must never break the model's own
/// consistency.
pub fn run_faults(
    opts: &FuzzOpts,
    p: f64,
    out: &mut dyn FnMut(&str),
) -> Result<FaultSummary, String> {
    use afunix::fault::{Fault, FaultPoint, When};
    let mut sum = FaultSummary::default();
    out(&format!(
        "afunix fuzz --faults: seed {}, {} scenarios of {} calls, every fault point at p={p}",
        opts.seed, opts.count, opts.calls
    ));
    for n in 0..opts.count {
        let sseed = stream_seed(opts.seed, n);
        let text = generate_mode(sseed, opts.calls, opts.blocking);
        let sc = scenario::parse(&text)
            .map_err(|e| format!("generated scenario does not parse: {e:?}"))?;
        let mut backend = afunix_backend::sim::SimBackend::new();
        let world = std::sync::Arc::clone(backend.world());
        world.seed(sseed as u32 ^ (sseed >> 32) as u32);
        for point in FaultPoint::ALL {
            world.inject(Fault {
                point,
                pid: None,
                when: When::Random(p),
            });
        }
        let run = runner::run(&sc, &mut backend, &RunOptions::default());
        sum.fired += run
            .lines
            .iter()
            .filter_map(|l| l.result.as_ref())
            .flat_map(|r| r.fields.iter())
            .filter(|f| f.starts_with("fault="))
            .count() as u64;
        // Calls still blocked hold references to their files: end each
        // (its own interrupt) and wait for its thread before counting.
        let stuck = backend.end_pending();
        drop(backend);
        let mut problem = world.check_invariants().err();
        if stuck > 0 && problem.is_none() {
            problem = Some(format!("{stuck} blocked calls did not end when abandoned"));
        }
        if problem.is_none() {
            for pid in world.pids() {
                let _ = world.exit(pid);
            }
            world.gc();
            if world.stat() != 0 || world.open_files() != 0 {
                problem = Some(format!(
                    "left after every process exited and gc: {} sockets, {} open files",
                    world.stat(),
                    world.open_files()
                ));
            }
        }
        sum.scenarios += 1;
        if let Some(why) = problem {
            std::fs::create_dir_all(&opts.out)
                .map_err(|e| format!("{}: {e}", opts.out.display()))?;
            let path = opts.out.join(format!("fault-{}-{n}.scn", opts.seed));
            let body = format!(
                "# afunix fuzz --faults --seed {} (scenario {n}), p={p}: {why}\n{text}",
                opts.seed
            );
            std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
            out(&format!(
                "scenario {n}: {why}; written to {}",
                path.display()
            ));
            sum.broken.push(path);
            if !opts.keep_going {
                break;
            }
        }
    }
    out(&format!(
        "{} scenarios, {} faults fired, {} left the model inconsistent",
        sum.scenarios,
        sum.fired,
        sum.broken.len()
    ));
    Ok(sum)
}
