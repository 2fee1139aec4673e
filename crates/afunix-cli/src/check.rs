//! `check` (a run against the expectations written in the file) and `diff`
//! (a run on the model against a run on the kernel).

use crate::runner::{Run, TraceLine};
use crate::scenario::{Directive, Expect, LineKind, Op, Scenario};
use crate::trace::Rendered;

/// Whether an actual result meets an expectation: the result token must be
/// equal and every field written must be there with the same value (a
/// bare word must be there); fields not written are not compared.
pub fn meets(expect: &Expect, actual: &Rendered) -> bool {
    if expect.result != actual.result {
        return false;
    }
    expect.fields.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => actual.field(k) == Some(v),
        None => actual.fields.iter().any(|a| a == f),
    })
}

/// One expectation that was not met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// 1-based line.
    pub lineno: usize,
    /// What the file says (after ` = `).
    pub expected: String,
    /// What happened (`(not run)` when the run stopped before the line).
    pub actual: String,
}

/// The outcome of `check` on one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Lines that carry `= ...`.
    pub expectations: usize,
    /// The expectations not met.
    pub mismatches: Vec<Mismatch>,
}

impl CheckReport {
    /// Whether every expectation was met.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Compare a run with the expectations of its scenario.
pub fn check(sc: &Scenario, run: &Run) -> CheckReport {
    let mut rep = CheckReport::default();
    for line in &sc.lines {
        let Some(exp) = &line.expect else { continue };
        rep.expectations += 1;
        let actual = run
            .lines
            .iter()
            .find(|t| t.lineno == line.lineno)
            .and_then(|t| t.result.as_ref());
        let ok = actual.is_some_and(|a| meets(exp, a));
        if !ok {
            rep.mismatches.push(Mismatch {
                lineno: line.lineno,
                expected: exp.to_string(),
                actual: actual
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "(not run)".into()),
            });
        }
    }
    rep
}

/// A line whose result differs between the model and the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// 1-based line.
    pub lineno: usize,
    /// The line as written.
    pub echo: String,
    /// The model's result (`(not run)` when its run stopped before).
    pub model: String,
    /// The kernel's result.
    pub kernel: String,
}

fn result_text(t: Option<&TraceLine>) -> String {
    match t {
        Some(TraceLine {
            result: Some(r), ..
        }) => r.to_string(),
        Some(_) => "(started)".into(),
        None => "(not run)".into(),
    }
}

/// Compare two runs of the same scenario, line by line.
pub fn diff(sc: &Scenario, model: &Run, kernel: &Run) -> Vec<Divergence> {
    let mut out = Vec::new();
    for line in &sc.lines {
        let m = model.lines.iter().find(|t| t.lineno == line.lineno);
        let k = kernel.lines.iter().find(|t| t.lineno == line.lineno);
        if m.is_none() && k.is_none() {
            continue;
        }
        let (ms, ks) = (result_text(m), result_text(k));
        if ms != ks {
            out.push(Divergence {
                lineno: line.lineno,
                echo: line.echo.clone(),
                model: ms,
                kernel: ks,
            });
        }
    }
    out
}

/// Why the kernel may have said ETOOMANYREFS where the model sent: the
/// sender's user already had files in flight on this machine before the
/// run. `too_many_unix_fds` compares a user's in-flight files machine-wide
/// (`user_struct::unix_inflight`: other programs' messages, and cycles the
/// kernel's collector never frees, such as 6.18's `mixed_lowpoint`, left by
/// earlier runs until the machine reboots) with the sender's RLIMIT_NOFILE;
/// the model's world starts empty. `None` when that is not the case, or
/// cannot be found out (the host backend is not built in, or not root).
pub fn host_inflight_note(sc: &Scenario, d: &Divergence) -> Option<String> {
    if !d.kernel.starts_with("ETOOMANYREFS") || d.model.starts_with("ETOOMANYREFS") {
        return None;
    }
    let line = sc.lines.iter().find(|l| l.lineno == d.lineno)?;
    let LineKind::Call { proc, .. } = &line.kind else {
        return None;
    };
    let uid = uid_of(sc, proc, d.lineno)?;
    let n = files_in_flight(uid)?;
    (n > 0).then(|| {
        format!(
            "uid {uid} already has {n} files in flight on this machine, which the kernel's \
             too_many_unix_fds counts against RLIMIT_NOFILE (the model's world starts with none)"
        )
    })
}

#[cfg(feature = "host")]
fn files_in_flight(uid: u32) -> Option<u64> {
    afunix_host::files_in_flight(uid).ok()
}

#[cfg(not(feature = "host"))]
fn files_in_flight(_: u32) -> Option<u64> {
    None
}

/// The uid of process `proc` at line `before`: its `task`'s, or that of
/// the process that forked it.
fn uid_of(sc: &Scenario, proc: &str, before: usize) -> Option<u32> {
    let mut uids: Vec<(&str, u32)> = Vec::new();
    for l in sc.lines.iter().take_while(|l| l.lineno < before) {
        match &l.kind {
            LineKind::Directive(Directive::Task { name, spec }) => uids.push((name, spec.uid)),
            LineKind::Call {
                proc: parent,
                op: Op::Fork { child, .. },
                ..
            } => {
                if let Some(&(_, u)) = uids.iter().rev().find(|(n, _)| n == parent) {
                    uids.push((child, u));
                }
            }
            _ => {}
        }
    }
    uids.iter().rev().find(|(n, _)| *n == proc).map(|&(_, u)| u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(r: &str, f: &[&str]) -> Expect {
        Expect {
            result: r.into(),
            fields: f.iter().map(|s| s.to_string()).collect(),
        }
    }
    fn act(r: &str, f: &[&str]) -> Rendered {
        Rendered {
            result: r.into(),
            fields: f.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn unwritten_fields_are_not_compared() {
        let a = act("2", &["data=\"hi\"", "rights=[6]", "flags=0"]);
        assert!(meets(&exp("2", &[]), &a));
        assert!(meets(&exp("2", &["flags=0"]), &a));
        assert!(meets(&exp("2", &["rights=[6]", "data=\"hi\""]), &a));
        assert!(!meets(&exp("2", &["flags=ctrunc"]), &a));
        assert!(!meets(&exp("2", &["creds=A,1,1"]), &a));
        assert!(!meets(&exp("3", &[]), &a));
    }

    #[test]
    fn bare_words() {
        assert!(meets(
            &exp("EPIPE", &["sigpipe"]),
            &act("EPIPE", &["sigpipe"])
        ));
        assert!(!meets(&exp("EPIPE", &["sigpipe"]), &act("EPIPE", &[])));
        assert!(meets(&exp("EPIPE", &[]), &act("EPIPE", &["sigpipe"])));
    }

    #[test]
    fn diff_reports_only_differing_lines() {
        use crate::runner::{Run, TraceLine};
        let sc = crate::scenario::parse("task A\nA: socket dgram\nA: close 3 = 0\nA: close 9\n")
            .unwrap();
        let line = |n: usize, r: &str| TraceLine {
            lineno: n,
            echo: String::new(),
            result: Some(act(r, &[])),
            why: afunix::Rule::NONE,
            path: Vec::new(),
        };
        let model = Run {
            lines: vec![line(1, "0"), line(2, "3"), line(3, "EBADF")],
            ..Run::default()
        };
        let kernel = Run {
            lines: vec![line(1, "0"), line(2, "3"), line(3, "0"), line(4, "EBADF")],
            ..Run::default()
        };
        let d = diff(&sc, &model, &kernel);
        let got: Vec<(usize, &str, &str)> = d
            .iter()
            .map(|x| (x.lineno, x.model.as_str(), x.kernel.as_str()))
            .collect();
        assert_eq!(got, [(3, "EBADF", "0"), (4, "(not run)", "EBADF")]);
        assert_eq!(d[0].echo, "A: close 3");
        // check counts the one expectation and reports its mismatch.
        let rep = check(&sc, &model);
        assert_eq!(rep.expectations, 1);
        assert_eq!(rep.mismatches[0].actual, "EBADF");
        assert!(check(&sc, &kernel).ok());
    }

    /// A line's uid is its task's, or its forker's as of that line.
    #[test]
    fn the_uid_of_a_line_is_its_tasks_or_its_forkers() {
        let sc = crate::scenario::parse(
            "task A uid=7 gid=7\ntask B\nA: fork C\nC: exit\nB: fork D\nD: exit\n",
        )
        .unwrap();
        assert_eq!(uid_of(&sc, "A", 3), Some(7));
        assert_eq!(uid_of(&sc, "C", 4), Some(7));
        assert_eq!(uid_of(&sc, "C", 3), None);
        assert_eq!(uid_of(&sc, "D", 6), Some(1000));
        // Only an ETOOMANYREFS of the kernel where the model sent is
        // looked into.
        let d = Divergence {
            lineno: 4,
            echo: String::new(),
            model: "1".into(),
            kernel: "EBADF".into(),
        };
        assert_eq!(host_inflight_note(&sc, &d), None);
    }
}
