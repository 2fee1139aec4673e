//! Fault pragmas: faults a scenario file arms for itself, in comments.
//!
//! The scenario language is the shared one (`docs/SCENARIO.md`), which has
//! no fault directive; a comment of the form `# afunix: fault SPEC` is one
//! to every other reader (the host backend, `diff`, another
//! implementation), so a file with pragmas is still a scenario the kernel
//! runs, and on the model the pragma is a `--fault SPEC` of that file. SPEC
//! is `--fault`'s: `POINT[,proc=NAME][,line=L][,nth=N][,p=P]`. Without
//! `line=`, a pragma after a call (`A: sendmsg a data="x"  # afunix: fault
//! sock_alloc_send_pskb`) is armed as that call starts; one on a line of
//! its own, as the next line starts; one above the first line, for the
//! whole run (with `proc=`, as that process is created), as `--fault`
//! arms it. `# afunix: deny SPEC` is a `--deny SPEC`: a rule of the model's
//! security policy for the whole run, wherever it is written.

use crate::runner::{DenyArg, FaultArg};
use crate::scenario::{comment, Directive, LineKind, Op, ParseError, Scenario};

/// What a comment starts with to be a pragma (after the `#` and spaces).
const PRAGMA: &str = "afunix:";

/// What the pragmas of a file ask of the model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pragmas {
    /// `# afunix: fault SPEC`: faults to arm.
    pub faults: Vec<FaultArg>,
    /// `# afunix: deny SPEC`: rules of the model's security policy, for
    /// the whole run wherever they are written.
    pub denies: Vec<DenyArg>,
}

/// The pragmas of `src` (`sc` is `src` parsed), or every malformed one.
pub fn read(src: &str, sc: &Scenario) -> Result<Pragmas, Vec<ParseError>> {
    let mut denies = Vec::new();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let procs: Vec<&str> = sc
        .lines
        .iter()
        .filter_map(|l| match &l.kind {
            LineKind::Directive(Directive::Task { name, .. }) => Some(name.as_str()),
            LineKind::Call {
                op: Op::Fork { child, .. },
                ..
            } => Some(child.as_str()),
            _ => None,
        })
        .collect();
    let first = sc.lines.first().map_or(0, |l| l.lineno);
    for (i, raw) in src.lines().enumerate() {
        let lineno = i + 1;
        let Some((hash, text)) = comment(raw) else {
            continue;
        };
        let lead = text.len() - text.trim_start().len();
        let Some(rest) = text.trim_start().strip_prefix(PRAGMA) else {
            continue;
        };
        // The column of the SPEC (characters), for errors.
        let at = |used: usize| hash + 1 + text[..lead + PRAGMA.len() + used].chars().count();
        let err = |col: usize, msg: String| ParseError {
            line: lineno,
            col,
            msg,
        };
        if let Some(spec) = rest.trim_start().strip_prefix("deny ") {
            // A rule of the model's policy, for the whole run.
            let spec_col = at(rest.len() - rest.trim_start().len() + "deny ".len());
            match spec.trim().parse::<DenyArg>() {
                Ok(d) => denies.push(d),
                Err(e) => errors.push(err(spec_col, e)),
            }
            continue;
        }
        let Some(spec) = rest.trim_start().strip_prefix("fault ") else {
            errors.push(err(
                at(0),
                "a pragma is `# afunix: fault POINT[,proc=NAME][,line=L][,nth=N][,p=P]` \
                 or `# afunix: deny HOOK[,uid=N][,pid=N][,type=T][,file=TYPE][,errno=E]`"
                    .into(),
            ));
            continue;
        };
        let spec_col = at(rest.len() - rest.trim_start().len() + "fault ".len());
        let spec = spec.trim();
        let mut f: FaultArg = match spec.parse() {
            Ok(f) => f,
            Err(e) => {
                errors.push(err(spec_col, e));
                continue;
            }
        };
        if let Some(p) = f.proc.as_deref().filter(|p| !procs.contains(p)) {
            errors.push(err(
                spec_col,
                format!("proc={p}: no `task` or `fork` line creates process `{p}`"),
            ));
            continue;
        }
        if f.line.is_none() && lineno < first {
            // Above the first line: for the whole run, as `--fault` (a
            // `proc=` one armed as that process is created).
        } else if f.line.is_none() {
            // On a scenario line: that line; on its own: the next one.
            let own = sc.lines.iter().any(|l| l.lineno == lineno);
            f.line =
                sc.lines
                    .iter()
                    .map(|l| l.lineno)
                    .find(|&n| if own { n == lineno } else { n > lineno });
            if f.line.is_none() {
                errors.push(err(
                    spec_col,
                    "a fault pragma after the last line arms nothing".into(),
                ));
                continue;
            }
        }
        out.push(f);
    }
    if errors.is_empty() {
        Ok(Pragmas {
            faults: out,
            denies,
        })
    } else {
        Err(errors)
    }
}
