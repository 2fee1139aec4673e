//! Every error the model produces names its rule, a `&'static Rule` written
//! `Errno::X.why(rule!(f, "…"))` with `f` the kernel function that applies
//! it, or `Errno::X.why(gap!("…"))` for what the model does not implement.
//! `rule!` takes the function as an identifier; this walks the model's
//! sources and checks that each one is a kernel-style name (lower case, not
//! `model`) with a text, so a rule without a function (or a gap dressed as a
//! kernel answer) cannot land.
//!
//! Then `--explain` against the rules: every scenario of the repository is
//! run on the model (and those that block or pass files once more with
//! each fault point armed, as `run --fault` does) and the rule behind each
//! errno collected; a rule that
//! no scenario reaches must be listed in `tests/rules-without-scenario.txt`
//! (a ratchet: a listed rule that a scenario now reaches must leave the
//! list, so it only shrinks).

use afunix_cli::{run_source, BackendKind};
use std::collections::BTreeSet;
use std::path::Path;

/// The model's sources, each without its unit tests (the `#[cfg(test)]`
/// module at the end of a file makes errors of its own).
fn model_sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../afunix/src"),
        &mut files,
    );
    for (_, src) in &mut files {
        let end = ["#[cfg(test)]", "#[cfg(all(test"]
            .iter()
            .filter_map(|m| src.find(m))
            .min();
        if let Some(end) = end {
            src.truncate(end);
        }
    }
    files
}

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
}

/// A rule written in the sources: `rule!(function, "text")` or
/// `gap!("text")`, outside comments.
struct Written<'a> {
    line: usize,
    function: Option<&'a str>,
    text: &'a str,
}

/// Every `rule!(…)` (`gap` false) or `gap!(…)` (`gap` true) with a literal
/// text in `src`.
fn written(src: &str, gap: bool) -> Vec<Written<'_>> {
    let marker = if gap { "gap!(" } else { "rule!(" };
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = src[at..].find(marker) {
        let start = at + i + marker.len();
        at = start;
        let line_start = src[..start].rfind('\n').map_or(0, |n| n + 1);
        if src[line_start..start].trim_start().starts_with("//") {
            continue; // a doc comment showing the macro
        }
        let mut rest = src[start..].trim_start();
        let function = if gap {
            None
        } else {
            let Some((f, r)) = rest.split_once(',') else {
                continue;
            };
            rest = r.trim_start();
            Some(f.trim())
        };
        let Some(body) = rest.strip_prefix('"') else {
            continue; // a non-literal text (a macro's own definition)
        };
        let end = body.find('"').unwrap();
        let line = src[..start].matches('\n').count() + 1;
        out.push(Written {
            line,
            function,
            text: &body[..end],
        });
    }
    out
}

fn is_function(name: &str) -> bool {
    let first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    first
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn every_rule_names_a_kernel_function_and_every_gap_says_so() {
    let files = model_sources();
    let (mut rules, mut gaps, mut bad) = (0, 0, Vec::new());
    for (path, src) in &files {
        for w in written(src, false) {
            rules += 1;
            let f = w.function.unwrap_or("");
            if !is_function(f) || f == "model" || w.text.is_empty() {
                bad.push(format!(
                    "{path}:{}: rule without a kernel function or text: {f:?}, {:?}",
                    w.line, w.text
                ));
            }
        }
        for w in written(src, true) {
            gaps += 1;
            if w.text.is_empty() || w.text.starts_with("model gap") {
                bad.push(format!(
                    "{path}:{}: a gap says what is missing (`model gap: ` is added): {:?}",
                    w.line, w.text
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // The walk found the rules (it would pass vacuously on a wrong path).
    assert!(rules > 200, "only {rules} rules found");
    assert!(gaps >= 3, "only {gaps} gaps found");
}

#[test]
fn rule_parts_and_kinds() {
    use afunix::{Errno, RuleKind};
    let e = Errno::EBADF.why(afunix::rule!(fdget, "fd is not open in this process"));
    assert_eq!(e.rule.kind(), RuleKind::Kernel);
    assert_eq!(e.rule.function(), Some("fdget"));
    assert_eq!(e.rule.text(), "fd is not open in this process");
    assert_eq!(e.rule.to_string(), "fdget: fd is not open in this process");
    let g = Errno::ENOSYS.why(afunix::gap!("not modelled"));
    assert_eq!(g.rule.kind(), RuleKind::ModelGap);
    assert_eq!(g.rule.function(), None);
    assert_eq!(g.rule.to_string(), "model gap: not modelled");
}

/// Every scenario of the repository: the vectors, the tests, the examples.
fn scenario_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in [
        "tests/vectors",
        "tests/scenarios",
        "examples",
        "examples/faults",
    ] {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "scn") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn explain_reaches_every_rule_or_the_rule_is_listed_as_without_scenario() {
    let rules: BTreeSet<String> = model_sources()
        .iter()
        .flat_map(|(_, src)| {
            written(src, false)
                .into_iter()
                .map(|w| format!("{}: {}", w.function.unwrap_or(""), w.text))
        })
        .collect();
    let mut reached = BTreeSet::new();
    let files = scenario_files();
    for p in &files {
        let src = std::fs::read_to_string(p).unwrap();
        let Ok(out) = run_source(&src, BackendKind::Sim) else {
            continue; // a scenario that does not parse is the parser tests' business
        };
        reached.extend(out.run.lines.iter().map(|l| l.why.to_string()));
    }
    // The injected faults' rules, as `run --fault POINT` shows them: every
    // point armed (its first occurrence) over a few scenarios that pass
    // files or block, where every point is reached.
    let faulted: Vec<_> = files
        .iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            ["01_", "02_", "block_recvmsg_woken", "block_sendmsg_stream"]
                .iter()
                .any(|k| n.starts_with(k))
        })
        .collect();
    for point in afunix::fault::FaultPoint::ALL {
        let opts = afunix_cli::runner::RunOptions {
            faults: vec![afunix_cli::runner::FaultArg {
                point,
                proc: None,
                line: None,
                when: afunix::fault::When::Nth(1),
            }],
            // A call a fault leaves blocked is reported soon.
            call_timeout: std::time::Duration::from_millis(100),
            ..Default::default()
        };
        for p in &faulted {
            let src = std::fs::read_to_string(p).unwrap();
            if let Ok(out) = afunix_cli::run_source_with(&src, BackendKind::Sim, &opts) {
                reached.extend(out.run.lines.iter().map(|l| l.why.to_string()));
            }
        }
    }
    let list_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/rules-without-scenario.txt");
    let listed: BTreeSet<String> = std::fs::read_to_string(&list_path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let mut bad = Vec::new();
    for r in &rules {
        match (reached.contains(r), listed.contains(r)) {
            (false, false) => bad.push(format!("no scenario reaches, and not listed: {r}")),
            (true, true) => bad.push(format!("a scenario reaches it now, unlist it: {r}")),
            _ => {}
        }
    }
    for r in listed.difference(&rules) {
        bad.push(format!("listed, but no such rule in the sources: {r}"));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // Not vacuous: the scenarios ran and reached a good part of the rules.
    let hit = rules.iter().filter(|r| reached.contains(*r)).count();
    assert!(
        files.len() > 100 && hit > 100,
        "{} files, {hit} rules reached",
        files.len()
    );
    eprintln!(
        "{hit} of {} rules reached by {} scenarios",
        rules.len(),
        files.len()
    );
}

/// The rules whose refusal, reached by some scenario, ends its path with a
/// decision note: the values that decided it (`(9969 bytes > sk_sndbuf
/// 10000 - 32)`), and the rules reached whose refusal does not yet.
fn refusals_with_and_without_values() -> (BTreeSet<String>, BTreeSet<String>) {
    let opts = afunix_cli::runner::RunOptions {
        paths: true,
        ..Default::default()
    };
    let (mut with, mut without) = (BTreeSet::new(), BTreeSet::new());
    for p in scenario_files() {
        let src = std::fs::read_to_string(&p).unwrap();
        let Ok(out) = afunix_cli::run_source_with(&src, BackendKind::Sim, &opts) else {
            continue;
        };
        for l in &out.run.lines {
            if l.why.kind() != afunix::RuleKind::Kernel {
                continue;
            }
            if l.decision().is_some() {
                with.insert(l.why.to_string());
            } else {
                without.insert(l.why.to_string());
            }
        }
    }
    // A rule noted once is noted: its note may depend on a branch the
    // other scenario did not take, but it is written.
    let without = without.difference(&with).cloned().collect();
    (with, without)
}

/// Every refusal a scenario reaches says, in its path, what decided it
/// (issue 14: "for every error the rule with the values that decided it"),
/// or its rule is listed in `tests/rules-without-values.txt` — a ratchet:
/// a listed rule that gains its note must leave the list.
#[test]
fn every_refusal_says_what_decided_it_or_is_listed_as_without_values() {
    let (with, without) = refusals_with_and_without_values();
    let list_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/rules-without-values.txt");
    let listed: BTreeSet<String> = std::fs::read_to_string(&list_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let mut bad = Vec::new();
    for r in without.difference(&listed) {
        bad.push(format!("refused without its values, and not listed: {r}"));
    }
    for r in listed.intersection(&with) {
        bad.push(format!("its refusal shows its values now, unlist it: {r}"));
    }
    for r in listed.difference(&without) {
        if !with.contains(r) {
            bad.push(format!("listed, but no scenario reaches it: {r}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(with.len() >= 10, "only {} rules noted", with.len());
    eprintln!(
        "{} rules reached show their values, {} do not yet",
        with.len(),
        without.len()
    );
}

/// Every system call a scenario makes shows its path (`run --path`): the
/// kernel function it entered by, first, then what it went through. Only
/// the lines that are not calls of the process (`wait`, which collects a
/// call whose path its start showed, `sleep`, `sigurg`, which reads what a
/// signal left, and the directives) have none.
#[test]
fn every_call_shows_the_path_it_took() {
    const ENTRIES: &[&str] = &[
        "__sys_socket",
        "__sys_socketpair",
        "__sys_bind",
        "__sys_connect",
        "__sys_listen",
        "__sys_accept4",
        "__sys_sendmsg",
        "__sys_recvmsg",
        "__sys_shutdown",
        "__sys_setsockopt",
        "__sys_getsockopt",
        "__sys_getsockname",
        "__sys_getpeername",
        "close_fd",
        "sys_dup",
        "ksys_dup3",
        "do_fcntl",
        "do_pipe2",
        "sys_memfd_create",
        "do_sys_openat2",
        "do_mkdirat",
        "do_unlinkat",
        "do_fchmodat",
        "do_renameat2",
        "ksys_read",
        "ksys_write",
        "do_sys_poll",
        "ksys_ioctl",
        "pidfd_show_fdinfo",
        "begin_new_exec",
        "kernel_clone",
        "do_exit",
    ];
    const NOT_CALLS: &[&str] = &["wait", "sleep", "sigurg"];
    let opts = afunix_cli::runner::RunOptions {
        paths: true,
        ..Default::default()
    };
    let (mut bad, mut calls) = (Vec::new(), 0);
    for p in scenario_files() {
        let src = std::fs::read_to_string(&p).unwrap();
        let Ok(out) = afunix_cli::run_source_with(&src, BackendKind::Sim, &opts) else {
            continue;
        };
        for l in &out.run.lines {
            // A process's call: `A: op ...` (not `task`, `gc`, `stat`...).
            let Some((_, call)) = l.echo.split_once(": ") else {
                continue;
            };
            let op = call.split_whitespace().next().unwrap_or("");
            // (A call that has not returned shows its path when collected.)
            let returned = l.result.as_ref().is_some_and(|r| r.result != "BLOCKED");
            if NOT_CALLS.contains(&op) || !returned {
                continue;
            }
            calls += 1;
            match l.path.first() {
                Some(first) if ENTRIES.contains(&first.as_str()) => {}
                first => bad.push(format!(
                    "{}:{}: {}: path starts {first:?}",
                    p.display(),
                    l.lineno,
                    l.echo
                )),
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} lines, e.g.:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(calls > 5000, "only {calls} calls");
}
