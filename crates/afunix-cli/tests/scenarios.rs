//! Every `.scn` under `<workspace>/tests/scenarios/`,
//! `<workspace>/../shared/scenarios/` and `<workspace>/examples/` is checked:
//! - on the model: it must pass, unless it is listed in
//!   `tests/known-divergences.txt`, in which case it must FAIL (so the list
//!   cannot hide a fixed divergence);
//! - on the host kernel, when running as root: every scenario must pass.

use afunix_cli::check::check;
use afunix_cli::{run_source, BackendKind};
use std::collections::BTreeSet;
use std::path::Path;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const DIRS: &[&str] = &["tests/scenarios", "../shared/scenarios", "examples"];

/// (path relative to the workspace, text) of every scenario.
fn scenarios() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in DIRS {
        let dir = Path::new(WORKSPACE).join(d);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            eprintln!("{}: does not exist, skipped", dir.display());
            continue;
        };
        let mut files: Vec<_> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "scn"))
            .collect();
        files.sort();
        for p in files {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            let rel = format!("{d}/{name}");
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{rel}: {e}"));
            out.push((rel, text));
        }
    }
    out
}

/// The scenario paths listed in `tests/known-divergences.txt`.
fn known_divergences() -> BTreeSet<String> {
    let p = Path::new(WORKSPACE).join("tests/known-divergences.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(|s| s.trim_start_matches("./").to_string())
        .collect()
}

/// Check one scenario; `Err` describes why it did not pass.
fn check_one(text: &str, kind: BackendKind) -> Result<usize, String> {
    let o = run_source(text, kind).map_err(|e| format!("{e:?}"))?;
    let rep = check(&o.scenario, &o.run);
    let mut why: Vec<String> = rep
        .mismatches
        .iter()
        .map(|m| {
            format!(
                "line {}: expected: {} / actual: {}",
                m.lineno, m.expected, m.actual
            )
        })
        .collect();
    if let Some(e) = &o.run.error {
        why.push(e.to_string());
    }
    if why.is_empty() {
        Ok(rep.expectations)
    } else {
        Err(why.join("; "))
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[cfg(feature = "sim")]
#[test]
fn model_passes_every_scenario_but_the_known_divergences() {
    let known = known_divergences();
    let all = scenarios();
    let mut problems = Vec::new();
    for k in &known {
        if !all.iter().any(|(p, _)| p == k) {
            problems.push(format!(
                "{k}: listed in known-divergences.txt but not found"
            ));
        }
    }
    for (path, text) in &all {
        let r = check_one(text, BackendKind::Sim);
        match (known.contains(path), r) {
            (false, Err(why)) => problems.push(format!("{path}: FAILED on the model: {why}")),
            (true, Ok(_)) => problems.push(format!(
                "{path}: passes on the model but is listed in tests/known-divergences.txt; remove it"
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[cfg(not(feature = "sim"))]
#[test]
fn model_passes_every_scenario_but_the_known_divergences() {
    eprintln!("model part skipped: afunix-cli built without the `sim` feature");
    let _ = (known_divergences(), scenarios());
}

#[test]
fn host_kernel_passes_every_scenario() {
    if !is_root() {
        eprintln!("host part skipped: not running as root (the host backend needs a private network namespace)");
        return;
    }
    if cfg!(not(feature = "host")) {
        eprintln!("host part skipped: afunix-cli built without the `host` feature");
        return;
    }
    let mut problems = Vec::new();
    for (path, text) in scenarios() {
        if let Err(why) = check_one(&text, BackendKind::Host) {
            problems.push(format!("{path}: FAILED on the host kernel: {why}"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// `afunix diff` over every scenario: the model's and the kernel's whole
/// traces (every field, written in the file or not) must be identical,
/// except for the scenarios listed as known divergences.
#[cfg(feature = "sim")]
#[test]
fn model_and_kernel_traces_are_identical() {
    if !is_root() {
        eprintln!("diff skipped: not running as root (the host backend needs a private network namespace)");
        return;
    }
    if cfg!(not(feature = "host")) {
        eprintln!("diff skipped: afunix-cli built without the `host` feature");
        return;
    }
    let known = known_divergences();
    let mut problems = Vec::new();
    for (path, text) in scenarios() {
        if known.contains(&path) {
            continue;
        }
        let runs = run_source(&text, BackendKind::Sim)
            .and_then(|m| run_source(&text, BackendKind::Host).map(|k| (m, k)));
        let (m, k) = match runs {
            Ok(pair) => pair,
            Err(e) => {
                problems.push(format!("{path}: {e:?}"));
                continue;
            }
        };
        for d in afunix_cli::check::diff(&m.scenario, &m.run, &k.run) {
            problems.push(format!(
                "{path}:{}: {}\n  model:  {}\n  kernel: {}",
                d.lineno, d.echo, d.model, d.kernel
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
