//! The path a call takes through the model, by the kernel functions it
//! mirrors, with the decisions on the way (`--explain=path`).
//!
//! Recording is per thread and off unless [`crate::World::with_path`] turns it on
//! for one call: then each instrumented function appends its name
//! (`step`) and the decisions that matter to a reader append a note
//! (`note`, formatted only while recording). Off, each point is one
//! thread-local flag read: nothing is allocated or formatted.

use crate::process::RawPid;
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static STEPS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// The process and system call this thread is recording (the waker a
    /// sleeper it wakes is told about).
    static CALLER: Cell<Option<(RawPid, &'static str)>> = const { Cell::new(None) };
}

/// Who woke which sleeper: (the queue's address, the sleeper's ticket) and
/// the waking call. Written only by a waker that records a path, taken by
/// the sleeper it woke as it returns; a leaf lock (taken inside a queue's
/// lock, nothing inside it).
static WOKEN_BY: Mutex<Vec<(usize, u64, Arc<str>)>> = Mutex::new(Vec::new());

/// At most this many wake-ups wait to be read (a woken sleeper that never
/// returns, as an abandoned call, does not make the table grow).
const WOKEN_BY_MAX: usize = 1024;

/// The call went through kernel function `f`.
#[inline]
pub(crate) fn step(f: &'static str) {
    if ON.with(Cell::get) {
        STEPS.with(|s| s.borrow_mut().push(f.to_string()));
    }
}

/// A system call of process `pid` entered the kernel at `f` (its
/// `__sys_*` entry): a step, and the caller a sleeper woken by this call
/// is told about.
#[inline]
pub(crate) fn enter(pid: RawPid, f: &'static str) {
    if ON.with(Cell::get) {
        CALLER.with(|c| c.set(Some((pid, f))));
        STEPS.with(|s| s.borrow_mut().push(f.to_string()));
    }
}

/// The call this thread runs, as a sleeper it wakes names it: `__sys_sendmsg
/// of pid 100` (its entry and process); `None` unless recording.
#[cold]
pub(crate) fn waker() -> Option<Arc<str>> {
    if !recording() {
        return None;
    }
    let text = match CALLER.with(Cell::get) {
        Some((pid, entry)) => format!("{entry}{WAKER_PID}{pid}"),
        // A call with no process (a requested collection): its first step.
        None => STEPS
            .with(|s| s.borrow().first().cloned())
            .unwrap_or_else(|| "a call".to_string()),
    };
    Some(text.into())
}

/// The waker in a step of a path (`(woken on … by __sys_sendmsg of pid
/// 100)`), named by `name` instead: `name(100)` gives what replaces `pid
/// 100` (an embedder's name for the process: `A (pid 100)`), or `None` to
/// leave the step as it is.
pub fn name_waker(step: &mut String, name: impl FnOnce(RawPid) -> Option<String>) {
    let Some(at) = step.rfind(WAKER_PID) else {
        return;
    };
    let Some(pid) = step[at + WAKER_PID.len()..]
        .strip_suffix(')')
        .and_then(|n| n.parse::<RawPid>().ok())
    else {
        return;
    };
    if let Some(who) = name(pid) {
        step.replace_range(at.., &format!(" of {who})"));
    }
}

/// What comes before the waker's pid in its note ([`waker`]).
const WAKER_PID: &str = " of pid ";

/// The sleeper `ticket` of the queue at `queue` was woken by `by`.
#[cold]
pub(crate) fn woke(queue: usize, ticket: u64, by: &Arc<str>) {
    let mut w = WOKEN_BY.lock().unwrap_or_else(|p| p.into_inner());
    if w.len() >= WOKEN_BY_MAX {
        w.remove(0);
    }
    w.push((queue, ticket, Arc::clone(by)));
}

/// Who woke the sleeper `ticket` of the queue at `queue`, if a recording
/// waker said (and forget it).
#[cold]
pub(crate) fn woken_by(queue: usize, ticket: u64) -> Option<Arc<str>> {
    let mut w = WOKEN_BY.lock().unwrap_or_else(|p| p.into_inner());
    let i = w.iter().position(|&(q, t, _)| q == queue && t == ticket)?;
    Some(w.swap_remove(i).2)
}

/// Whether a path is being recorded on this thread (for a note that needs
/// a lock to gather its values).
#[inline]
pub(crate) fn recording() -> bool {
    ON.with(Cell::get)
}

/// A decision on the way (`text` is only called while recording).
#[inline]
pub(crate) fn note(text: impl FnOnce() -> String) {
    if ON.with(Cell::get) {
        let t = text();
        STEPS.with(|s| s.borrow_mut().push(format!("({t})")));
    }
}

/// Record the path of what `f` runs on this thread.
pub(crate) fn record<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    struct Off(bool, Option<(RawPid, &'static str)>);
    impl Drop for Off {
        fn drop(&mut self) {
            ON.with(|o| o.set(self.0));
            CALLER.with(|c| c.set(self.1));
        }
    }
    let was = ON.with(|o| o.replace(true));
    let caller = CALLER.with(|c| c.replace(None));
    let before = STEPS.with(|s| s.borrow().len());
    let r = {
        let _off = Off(was, caller);
        f()
    };
    let steps = STEPS.with(|s| s.borrow_mut().split_off(before));
    (r, steps)
}

/// The decision that ended a path: its last step when that is a note (the
/// values behind the call's answer), without its parentheses.
pub fn decision(steps: &[String]) -> Option<&str> {
    steps.last()?.strip_prefix('(')?.strip_suffix(')')
}

/// The steps as one line: functions joined by ` → `, with consecutive
/// repeats (a call that slept and ran again) folded as `×N`.
pub fn render(steps: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        let mut n = 1;
        while i + n < steps.len() && steps[i + n] == steps[i] {
            n += 1;
        }
        if n > 1 {
            out.push(format!("{} ×{n}", steps[i]));
        } else {
            out.push(steps[i].clone());
        }
        i += n;
    }
    out.join(" → ")
}

impl crate::World {
    /// Run `f` (calls of this world, on this thread) and return, with its
    /// result, the path the calls took: the kernel functions they went
    /// through and the decisions on the way (see [`crate::path`]).
    pub fn with_path<R>(&self, f: impl FnOnce() -> R) -> (R, Vec<String>) {
        record(f)
    }
}
