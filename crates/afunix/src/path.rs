//! The path a call takes through the model, by the kernel functions it
//! mirrors, with the decisions on the way (`--explain=path`).
//!
//! Recording is per thread and off unless [`crate::World::with_path`] turns it on
//! for one call: then each instrumented function appends its name
//! (`step`) and the decisions that matter to a reader append a note
//! (`note`, formatted only while recording). Off, each point is one
//! thread-local flag read: nothing is allocated or formatted.

use std::cell::{Cell, RefCell};

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static STEPS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The call went through kernel function `f`.
#[inline]
pub(crate) fn step(f: &'static str) {
    if ON.with(Cell::get) {
        STEPS.with(|s| s.borrow_mut().push(f.to_string()));
    }
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
    struct Off(bool);
    impl Drop for Off {
        fn drop(&mut self) {
            ON.with(|o| o.set(self.0));
        }
    }
    let was = ON.with(|o| o.replace(true));
    let before = STEPS.with(|s| s.borrow().len());
    let r = {
        let _off = Off(was);
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
