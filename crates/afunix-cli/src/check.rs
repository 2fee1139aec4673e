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

/// `text` with the data of every receive timestamp in its `cmsg=hex:`
/// field zeroed: the time of day a `SO_TIMESTAMP*` or `SCM_TIMESTAMPING`
/// message carries (`__sock_recv_timestamp`) is the clock's, which no two
/// runs share, so `diff` compares those messages' headers, lengths and
/// places, not their value. Everything else is compared byte for byte.
fn without_time_of_day(text: &str) -> String {
    use afunix::abi::consts::{
        SOL_SOCKET, SO_TIMESTAMPING_NEW, SO_TIMESTAMPING_OLD, SO_TIMESTAMPNS_NEW,
        SO_TIMESTAMPNS_OLD, SO_TIMESTAMP_NEW, SO_TIMESTAMP_OLD,
    };
    const HDR: usize = 16;
    let mut words: Vec<String> = Vec::new();
    for w in text.split(' ') {
        let masked = w
            .strip_prefix("cmsg=hex:")
            .and_then(crate::scenario::parse_hex)
            .map(|mut b| {
                let stamps: Vec<(usize, usize)> = afunix::abi::cmsg::user_cmsgs(&b)
                    .filter(|c| {
                        c.level == SOL_SOCKET
                            && matches!(
                                c.ty,
                                SO_TIMESTAMP_OLD
                                    | SO_TIMESTAMPNS_OLD
                                    | SO_TIMESTAMP_NEW
                                    | SO_TIMESTAMPNS_NEW
                                    | SO_TIMESTAMPING_OLD
                                    | SO_TIMESTAMPING_NEW
                            )
                    })
                    .map(|c| (c.offset + HDR, c.data.len()))
                    .collect();
                for (at, n) in stamps {
                    if let Some(d) = b.get_mut(at..at + n) {
                        d.fill(0);
                    }
                }
                format!("cmsg={}", crate::trace::fmt_hex(&b))
            });
        words.push(masked.unwrap_or_else(|| w.to_string()));
    }
    words.join(" ")
}

/// Compare two runs of the same scenario, line by line (receive
/// timestamps compared without their time of day).
pub fn diff(sc: &Scenario, model: &Run, kernel: &Run) -> Vec<Divergence> {
    let mut out = Vec::new();
    for line in &sc.lines {
        let m = model.lines.iter().find(|t| t.lineno == line.lineno);
        let k = kernel.lines.iter().find(|t| t.lineno == line.lineno);
        if m.is_none() && k.is_none() {
            continue;
        }
        let (ms, ks) = (result_text(m), result_text(k));
        if without_time_of_day(&ms) != without_time_of_day(&ks) {
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
    fn a_timestamps_value_is_not_compared_its_place_and_length_are() {
        // SO_TIMESTAMP_OLD (29), 16 bytes, then SCM_RIGHTS of one fd.
        let ts = "2000000000000000010000001d000000";
        let rights = "14000000000000000100000001000000050000000000000000";
        let a =
            format!("1 data=\"x\" cmsg=hex:{ts}0b63176b000000008ce7000000000000{rights} flags=0");
        let b =
            format!("1 data=\"x\" cmsg=hex:{ts}00000000000000000000000000000000{rights} flags=0");
        assert_eq!(without_time_of_day(&a), without_time_of_day(&b));
        // Another type of message, or another length, still differs.
        let other = a.replace("1d000000", "1e000000");
        assert_ne!(
            without_time_of_day(&other),
            without_time_of_day(&b.replace("1d000000", "1e000000"))
        );
        let cut = "1 cmsg=hex:1800000000000000010000001d0000000b63176b00000000 flags=ctrunc";
        assert_ne!(without_time_of_day(cut), without_time_of_day(&b));
        assert_eq!(
            without_time_of_day("1 data=\"x\" flags=0"),
            "1 data=\"x\" flags=0"
        );
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
