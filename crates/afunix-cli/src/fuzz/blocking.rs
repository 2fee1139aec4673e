//! `--blocking`: the `wait` lines that make a scenario with background
//! calls independent of timing, put in on the model ([`prepare_blocking`]).

use super::judge::{lines_of, repair, text_of};
use super::{BLOCKING_WAIT_MS, MODEL_WAIT_MS};
use crate::runner::{self, Run};
use crate::scenario::{self, Scenario};
use std::collections::HashMap;

/// `text` with each `wait 300` cut to `wait 50`, when it has one.
pub(super) fn model_waits(text: &str) -> Option<String> {
    let from = format!(": wait {BLOCKING_WAIT_MS}");
    if !text.contains(&from) {
        return None;
    }
    let to = format!(": wait {MODEL_WAIT_MS}");
    let out: Vec<String> = text
        .lines()
        .map(|l| match l.split_once(&from) {
            Some((a, b)) if b.is_empty() || b.starts_with(' ') => format!("{a}{to}{b}"),
            _ => l.to_string(),
        })
        .collect();
    Some(text_of(&out))
}

/// The process and the call (or directive) word of a line.
pub(super) fn proc_and_word(line: &str) -> (&str, &str) {
    let mut it = line.split_whitespace();
    let first = it.next().unwrap_or("");
    match first.strip_suffix(':') {
        Some(p) => (p, it.next().unwrap_or("")),
        None => ("", first),
    }
}

/// Whether a line may wake a blocked call (of another process): anything
/// but calls that only create files or look at them.
fn may_wake(line: &str) -> bool {
    let (p, w) = proc_and_word(line);
    if p.is_empty() {
        return w == "gc";
    }
    !matches!(
        w,
        "socket"
            | "socketpair"
            | "pipe"
            | "memfd"
            | "bind"
            | "getsockopt"
            | "getsockname"
            | "getpeername"
            | "fcntl"
            | "poll"
            | "ioctl"
            | "dup"
            | "fork"
            | "pidof"
            | "wait"
    )
}

/// At most this many `BLOCKED` results in a `--blocking` scenario (each
/// costs a whole wait): the scenario is cut after the last one.
const MAX_BLOCKED: usize = 4;

fn is_blocked(l: &runner::TraceLine) -> bool {
    l.result.as_ref().is_some_and(|x| x.result == "BLOCKED")
}

/// Make a `--blocking` scenario independent of timing: after every line
/// that may wake a blocked call, each process whose call is pending (on
/// the model) gets a `wait 300` at once, before any other line, so that
/// a woken call has returned (or blocked again) before anything else
/// happens; a wait that finds it still blocked prints BLOCKED on both
/// backends. Repairs as [`repair`] does, and cuts the scenario after its
/// `MAX_BLOCKED`-th (4th) BLOCKED. Returns the text, and its model run.
pub fn prepare_blocking(text: &str) -> Option<(String, Scenario, Run)> {
    let mut t = text.to_string();
    for _ in 0..16 {
        let (rt, sc, run) = repair(&t)?;
        let lines = lines_of(&rt);
        if run.lines.len() != lines.len() {
            return None;
        }
        let mut pending: Vec<String> = Vec::new();
        let mut ins: Vec<(usize, String)> = Vec::new();
        // A wait that follows a BLOCKED wait of the same process with
        // nothing that could wake it in between is BLOCKED again: dropped.
        let mut drop: Vec<usize> = Vec::new();
        let mut last_wake = 0usize;
        let mut last_blocked: HashMap<String, usize> = HashMap::new();
        for (i, tl) in run.lines.iter().enumerate() {
            let line = &lines[i];
            let (p, w) = proc_and_word(line);
            let blocked = is_blocked(tl);
            if w == "wait" && !p.is_empty() {
                if blocked && last_blocked.get(p).is_some_and(|&j| j > last_wake) {
                    drop.push(i);
                    continue;
                }
                pending.retain(|q| q != p);
                if blocked {
                    pending.push(p.to_string());
                    last_blocked.insert(p.to_string(), i);
                }
                continue;
            }
            if may_wake(line) {
                last_wake = i + 1;
                let mut have: Vec<&str> = Vec::new();
                for l in &lines[i + 1..] {
                    let (q, w) = proc_and_word(l);
                    if w == "wait" && !q.is_empty() {
                        have.push(q);
                    } else if !(q.is_empty() && (w == "gc" || w == "stat")) {
                        break;
                    }
                }
                for q in &pending {
                    if q == p || have.contains(&q.as_str()) {
                        continue;
                    }
                    // The names its own `wait` binds, if it has one later.
                    let pre = format!("{q}: wait ");
                    let binds = lines[i + 1..]
                        .iter()
                        .find(|l| l.starts_with(&pre))
                        .and_then(|l| l.find(" -> ").map(|k| l[k..].to_string()))
                        .unwrap_or_default();
                    ins.push((i, format!("{q}: wait {BLOCKING_WAIT_MS}{binds}")));
                }
            }
            if (line.ends_with(" &") || blocked) && !p.is_empty() {
                pending.retain(|q| q != p);
                pending.push(p.to_string());
            }
        }
        if ins.is_empty() && drop.is_empty() {
            let cut = run
                .lines
                .iter()
                .filter(|l| is_blocked(l))
                .nth(MAX_BLOCKED - 1)
                .map(|l| l.lineno);
            return match cut {
                Some(c) if c < lines.len() => {
                    let t2 = text_of(&lines[..c]);
                    let sc2 = scenario::parse(&t2).ok()?;
                    let mut run2 = run.clone();
                    run2.lines.truncate(c);
                    Some((t2, sc2, run2))
                }
                _ => Some((rt, sc, run)),
            };
        }
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if !drop.contains(&i) {
                out.push(l.clone());
            }
            out.extend(ins.iter().filter(|(j, _)| *j == i).map(|(_, w)| w.clone()));
        }
        t = text_of(&out);
    }
    None
}
