//! The checks a scenario passes before anything runs: every process a line
//! names is declared by an earlier `task` or `fork`, every fd name is bound
//! in that process by an earlier line, and every expectation is made of
//! tokens the trace can print. A near miss gets a "did you mean".

use crate::scenario::{
    AddrArg, CredsArg, CtlPiece, Expect, FdArg, FdKind, LineKind, Op, OptArg, ParseError, PidArg,
    Scenario, Space, Written,
};
use afunix_backend::backend::{Lower, Shape};
use afunix_backend::call::Arg;
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;

/// The fields a trace prints (`key=value`, or `sigpipe` alone).
pub const FIELDS: &[&str] = &[
    "fds",
    "data",
    "from",
    "namelen",
    "rights",
    "creds",
    "pidfd",
    "inq",
    "cmsg",
    "controllen",
    "flags",
    "value",
    "optlen",
    "groups",
    "fd",
    "addr",
    "revents",
    "pid",
    "sockets",
];

/// Edit distance with adjacent transpositions (optimal string
/// alignment), for suggestions: `spcae` is one step from `space`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// ` (did you mean X?)` for the closest candidate within reach, else "".
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates
        .into_iter()
        .map(|c| {
            (
                distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= c.len() / 3)
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, c)) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

/// Check the tokens of `= RESULT FIELD...` (columns of each token given).
pub fn check_expect(lineno: usize, exp: &Expect, cols: &[usize], errors: &mut Vec<ParseError>) {
    let col = |i: usize| cols.get(i).copied().unwrap_or(1);
    let r = exp.result.as_str();
    let is_int = crate::scenario::parse_int(r).is_some();
    if !is_int && r != "BLOCKED" && afunix::Errno::from_name(r).is_none() {
        let names = afunix::Errno::ALL.iter().filter_map(|e| e.name());
        errors.push(ParseError {
            line: lineno,
            col: col(0),
            msg: format!(
                "`{r}` is not a result (a number, an errno name or BLOCKED){}",
                did_you_mean(r, names)
            ),
        });
    }
    for (i, f) in exp.fields.iter().enumerate() {
        let key = f.split_once('=').map_or(f.as_str(), |(k, _)| k);
        let ok = if f.contains('=') {
            FIELDS.contains(&key)
        } else {
            key == "sigpipe"
        };
        if !ok {
            let all = FIELDS.iter().copied().chain(["sigpipe"]);
            errors.push(ParseError {
                line: lineno,
                col: col(i + 1),
                msg: format!("unknown field `{key}`{}", did_you_mean(key, all)),
            });
        } else if f.ends_with('=') {
            errors.push(ParseError {
                line: lineno,
                col: col(i + 1),
                msg: format!("field `{key}=` has no value"),
            });
        } else if let Some(why) = f.split_once('=').and_then(|(k, v)| bad_value(k, v)) {
            errors.push(ParseError {
                line: lineno,
                col: col(i + 1),
                msg: format!("field `{key}=`: {why}"),
            });
        }
    }
}

/// Why a field's value cannot be what the trace prints, if it cannot.
fn bad_value(key: &str, v: &str) -> Option<&'static str> {
    let int = |x: &str| crate::scenario::parse_int(x).is_some();
    match key {
        "fds" | "rights" | "groups" => {
            let inner = v.strip_prefix('[').and_then(|x| x.strip_suffix(']'));
            match inner {
                None => Some("expected a list `[N,...]`"),
                Some("") => None,
                Some(x) if x.split(',').all(int) => None,
                Some(_) => Some("expected a list of integers"),
            }
        }
        "namelen" | "controllen" | "optlen" | "pidfd" | "inq" | "sockets" | "fd" => {
            (!int(v)).then_some("expected an integer")
        }
        "data" => (!(int(v) || v.starts_with('"') && v.ends_with('"') && v.len() >= 2))
            .then_some("expected a string \"...\" or a byte count"),
        "revents" if v.starts_with('[') != v.ends_with(']') => Some("unbalanced list"),
        _ => None,
    }
}

/// The names a call refers to: its fd arguments (`rights=[..]` included)
/// and the processes of its `creds=B,..`, with their columns. Collected by
/// walking the call's arguments ([`Syscall::lower`] to the argument-less
/// [`Shape`]), so a new call's fds are found without a list here.
#[derive(Default)]
struct Names<'a> {
    fds: Vec<&'a FdArg>,
    procs: Vec<(&'a str, usize)>,
}

impl<'a> Names<'a> {
    fn of(op: &'a Op) -> Names<'a> {
        let mut names = Names::default();
        let Ok(_) = op.lower(&mut names);
        names
    }
}

impl<'a> Lower<'a, Written, Shape> for Names<'a> {
    type Error = Infallible;

    fn fd(&mut self, fd: &'a FdArg) -> Result<(), Infallible> {
        self.fds.push(fd);
        Ok(())
    }
    fn addr(&mut self, _: &'a AddrArg) -> Result<(), Infallible> {
        Ok(())
    }
    fn msg_name(&mut self, _: &'a AddrArg) -> Result<(), Infallible> {
        Ok(())
    }
    fn send_control(&mut self, control: &'a Vec<CtlPiece>) -> Result<(), Infallible> {
        for c in control {
            match c {
                CtlPiece::Rights(r) => self.fds.extend(r.iter()),
                CtlPiece::Creds(
                    CredsArg::Explicit {
                        pid: PidArg::Name(n),
                        ..
                    },
                    col,
                ) => self.procs.push((n.as_str(), *col)),
                CtlPiece::Creds(..) | CtlPiece::Raw(_) => {}
            }
        }
        Ok(())
    }
    fn recv_control(&mut self, _: &'a Option<Space>) -> Result<(), Infallible> {
        Ok(())
    }
    fn opt(&mut self, _: &'a OptArg) -> Result<(), Infallible> {
        Ok(())
    }
    fn namelen(&mut self, _: &'a Option<u32>) -> Result<(), Infallible> {
        Ok(())
    }
    fn addrlen(&mut self, _: &'a Option<i32>) -> Result<(), Infallible> {
        Ok(())
    }
    fn optlen(&mut self, _: &'a OptArg, _: &'a Option<i32>) -> Result<(), Infallible> {
        Ok(())
    }
    fn syntax<X: Arg>(&mut self, _: &'a X) -> Result<(), Infallible> {
        Ok(())
    }
    fn only<X: Arg>(&mut self, _: &'static str, _: &'a X) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Resolve process and fd names through the whole file, in order.
pub fn resolve(sc: &Scenario) -> Vec<ParseError> {
    let mut errors = Vec::new();
    // Names bound in each declared process, as far as the file has gone
    // (a background call's names are bound by its `wait` line).
    let mut procs: HashMap<String, HashSet<String>> = HashMap::new();
    // Process names in declaration order, for suggestions.
    let mut order: Vec<String> = Vec::new();
    for line in &sc.lines {
        let ln = line.lineno;
        match &line.kind {
            LineKind::Directive(crate::scenario::Directive::Task { name, .. }) => {
                procs.entry(name.clone()).or_default();
                order.push(name.clone());
            }
            LineKind::Directive(_) => {}
            LineKind::Call {
                proc,
                proc_col,
                op,
                binds,
                ..
            } => {
                let Some(names) = procs.get(proc) else {
                    errors.push(ParseError {
                        line: ln,
                        col: *proc_col,
                        msg: format!(
                            "unknown process `{proc}` (declare it with `task {proc}` or a fork){}",
                            did_you_mean(proc, order.iter().map(String::as_str))
                        ),
                    });
                    continue;
                };
                let refs = Names::of(op);
                for a in refs.fds {
                    if let FdKind::Name(n) = &a.fd {
                        if !names.contains(n) {
                            errors.push(ParseError {
                                line: ln,
                                col: a.col,
                                msg: format!(
                                    "`{n}` is not bound in process `{proc}` by an earlier line{}",
                                    did_you_mean(n, names.iter().map(String::as_str))
                                ),
                            });
                        }
                    }
                }
                for (n, col) in refs.procs {
                    if !procs.contains_key(n) {
                        errors.push(ParseError {
                            line: ln,
                            col,
                            msg: format!(
                                "unknown process `{n}`{}",
                                did_you_mean(n, order.iter().map(String::as_str))
                            ),
                        });
                    }
                }
                let mut names = names.clone();
                names.extend(binds.iter().cloned());
                if let Op::Fork { child, .. } = op {
                    procs.insert(child.clone(), names.clone());
                    order.push(child.clone());
                }
                procs.insert(proc.clone(), names);
            }
        }
    }
    errors
}
