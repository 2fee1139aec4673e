//! `check` (a run against the expectations written in the file) and `diff`
//! (a run on the model against a run on the kernel).

use crate::runner::{Run, TraceLine};
use crate::scenario::{Expect, Scenario};
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
}
