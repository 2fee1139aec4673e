//! Interrupting one blocked call, as a signal does.
//!
//! In Linux a blocked call sleeps `TASK_INTERRUPTIBLE`; a signal makes
//! `signal_pending(current)` true and wakes it, and the call returns a
//! *restart* errno (`ERESTARTSYS` and kin, `kernel/signal.c`) that the
//! signal delivery turns into `EINTR` or a restart of the call
//! (`arch/x86/kernel/signal.c`, `handle_signal`). An [`Interrupt`] is that
//! pending signal for the calls run under it
//! ([`World::interruptible`](crate::World::interruptible)): raising it
//! wakes the one call sleeping under it, which returns what Linux returns
//! there (`ERESTARTSYS`; `EINTR` for a socket wait with a timeout;
//! `ERESTARTNOHAND` for `poll`), after whatever it already transferred.
//! [`after_signal`] is the delivery's half: what the program sees.
//! Nothing else in the world is disturbed, unlike
//! [`World::interrupt_all`](crate::World::interrupt_all).

use crate::errno::{Errno, Error};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Wakes a sleeping call.
pub(crate) type Waker = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct State {
    raised: bool,
    /// Abandoned: the call must not go on at all (see [`Interrupt::cancel`]).
    cancelled: bool,
    deadline: Option<Instant>,
    /// The sleeping call's waker, while one sleeps under this interrupt.
    waker: Option<Arc<Waker>>,
}

/// A pending-signal flag for the calls run under it (cheap to clone; every
/// clone is the same interrupt). Raise it from any thread.
#[derive(Clone, Default)]
pub struct Interrupt {
    st: Arc<Mutex<State>>,
    /// Whether the caller still wants the call (see [`Interrupt::with_check`]).
    check: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl core::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let st = crate::world::lock(&self.st);
        f.debug_struct("Interrupt")
            .field("raised", &st.raised)
            .field("cancelled", &st.cancelled)
            .field("deadline", &st.deadline)
            .field("sleeping", &st.waker.is_some())
            .finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Interrupt>> = const { RefCell::new(None) };
}

impl Interrupt {
    /// Not raised, no deadline.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// An interrupt whose call is abandoned as soon as `still_wanted`
    /// returns false: it is asked each time the sleeping call wakes, before
    /// the call looks at its socket again, so an abandoned call never takes
    /// data it could not deliver. (A supervisor asks whether the program's
    /// thread still waits for the answer.)
    pub fn with_check(still_wanted: impl Fn() -> bool + Send + Sync + 'static) -> Interrupt {
        Interrupt {
            st: Arc::default(),
            check: Some(Arc::new(still_wanted)),
        }
    }

    /// Abandon the call: it stops sleeping and returns `ERESTARTNOINTR`
    /// at once, without looking at its socket again (nothing taken,
    /// nothing sent after this point). For a caller that will never see
    /// the answer.
    pub fn cancel(&self) {
        let waker = {
            let mut st = crate::world::lock(&self.st);
            st.cancelled = true;
            st.waker.clone()
        };
        if let Some(w) = waker {
            w();
        }
    }

    /// Whether the call is abandoned (cancelled, or its check said so).
    pub(crate) fn abandoned(&self) -> bool {
        if crate::world::lock(&self.st).cancelled {
            return true;
        }
        self.check.as_ref().is_some_and(|c| !c())
    }

    /// Whether a sleeping call must wake: raised, past its deadline, or
    /// cancelled.
    pub(crate) fn must_wake(&self) -> bool {
        let st = crate::world::lock(&self.st);
        st.raised || st.cancelled || st.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Raised by itself at `at`, as a timer's signal would be (e.g. an
    /// embedder's per-call deadline).
    pub fn with_deadline(at: Instant) -> Interrupt {
        let i = Interrupt::new();
        crate::world::lock(&i.st).deadline = Some(at);
        i
    }

    /// The signal arrives: the call sleeping under this interrupt (or the
    /// next one that would sleep) stops waiting and returns.
    pub fn raise(&self) {
        let waker = {
            let mut st = crate::world::lock(&self.st);
            st.raised = true;
            st.waker.clone()
        };
        // Outside our lock: the waker takes the wait queue's lock, and the
        // sleeper holds that one while it reads ours.
        if let Some(w) = waker {
            w();
        }
    }

    /// Whether it is raised (or its deadline has passed) and not yet taken
    /// by a call.
    pub fn is_raised(&self) -> bool {
        let st = crate::world::lock(&self.st);
        st.raised || st.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Forget a raise no call has taken (the signal was blocked, then
    /// discarded).
    pub fn clear(&self) {
        let mut st = crate::world::lock(&self.st);
        st.raised = false;
    }

    /// The interrupt the calls of this thread run under.
    pub(crate) fn current() -> Option<Interrupt> {
        CURRENT.with(|c| c.borrow().clone())
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        crate::world::lock(&self.st).deadline
    }

    /// The call gives up: consume the raise (the signal is delivered as
    /// the call returns) and answer `errno()`.
    pub(crate) fn take(&self, errno: impl FnOnce() -> Error) -> Option<Error> {
        let mut st = crate::world::lock(&self.st);
        let due = st.deadline.is_some_and(|d| Instant::now() >= d);
        if !st.raised && !due {
            return None;
        }
        st.raised = false;
        if due {
            st.deadline = None;
        }
        Some(errno())
    }

    /// A call goes to sleep: `waker` wakes it if the interrupt is raised
    /// meanwhile. Dropping the guard forgets the waker.
    pub(crate) fn arm(&self, waker: Waker) -> Armed<'_> {
        crate::world::lock(&self.st).waker = Some(Arc::new(waker));
        Armed(self)
    }

    /// Run `f` with this interrupt as the thread's pending-signal flag.
    pub(crate) fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Interrupt>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let prev = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = prev);
            }
        }
        let prev = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(prev);
        f()
    }
}

/// While a call sleeps under an interrupt.
pub(crate) struct Armed<'a>(&'a Interrupt);

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        crate::world::lock(&self.0.st).waker = None;
    }
}

/// How the signal that interrupted a call is handled (its `sigaction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// No handler runs (ignored, or a stop/continue): every restart errno
    /// restarts the call.
    NoHandler,
    /// A handler runs; `sa_restart` is its `SA_RESTART` flag.
    Handler {
        /// `SA_RESTART`.
        sa_restart: bool,
    },
}

/// What a program sees of a call that returned `e` when a signal with
/// `disposition` is delivered: `None` to restart the call (the program
/// never sees it return), or the errno it returns
/// (`arch/x86/kernel/signal.c`, `handle_signal` and `arch_do_signal_or_restart`).
/// Errnos that are not restart errnos pass through.
pub fn after_signal(e: Errno, disposition: Disposition) -> Option<Errno> {
    let restart = match e {
        Errno::ERESTARTNOINTR => true,
        Errno::ERESTARTSYS => match disposition {
            Disposition::NoHandler => true,
            Disposition::Handler { sa_restart } => sa_restart,
        },
        Errno::ERESTARTNOHAND | Errno::ERESTART_RESTARTBLOCK => {
            disposition == Disposition::NoHandler
        }
        other => return Some(other),
    };
    (!restart).then_some(Errno::EINTR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_delivery_turns_restart_errnos_into_eintr_or_a_restart() {
        let h = |sa_restart| Disposition::Handler { sa_restart };
        assert_eq!(after_signal(Errno::ERESTARTSYS, h(true)), None);
        assert_eq!(
            after_signal(Errno::ERESTARTSYS, h(false)),
            Some(Errno::EINTR)
        );
        assert_eq!(
            after_signal(Errno::ERESTARTNOHAND, h(true)),
            Some(Errno::EINTR)
        );
        assert_eq!(
            after_signal(Errno::ERESTARTNOHAND, Disposition::NoHandler),
            None
        );
        assert_eq!(after_signal(Errno::ERESTARTNOINTR, h(false)), None);
        assert_eq!(after_signal(Errno::EINTR, h(true)), Some(Errno::EINTR));
        assert_eq!(after_signal(Errno::EAGAIN, h(true)), Some(Errno::EAGAIN));
    }

    #[test]
    fn a_raise_is_taken_once() {
        let i = Interrupt::new();
        assert!(i.take(|| Errno::EINTR.why(rule!(t, "x"))).is_none());
        i.raise();
        assert!(i.is_raised());
        assert!(i.take(|| Errno::EINTR.why(rule!(t, "x"))).is_some());
        assert!(!i.is_raised());
    }
}
