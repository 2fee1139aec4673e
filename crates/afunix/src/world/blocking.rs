//! The blocking machinery: how a call that must wait sleeps, wakes and
//! gives up, as `wait_event_interruptible` and `schedule_timeout` make the
//! kernel's calls do. A call is an operation retried after each wake-up
//! (`Fail::Block` names the queue it waits on); before each sleep the
//! caller's pending signal (its [`Interrupt`]), the injected signal
//! faults and its timeout are looked at, in the kernel's order; a
//! sleeper counts as asleep ([`World::is_sleeping`]) once it is on its
//! queue.

use super::{Fail, KResult, Kernel, World};
use crate::errno::{Errno, SysResult};
use crate::process::RawPid;
use crate::signal::Interrupt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

impl World {
    /// Run a call that may sleep. Whether it may sleep at all is the
    /// operation's own decision (`MSG_DONTWAIT`, `O_NONBLOCK`: it then
    /// answers `EAGAIN` itself); `timeout` bounds the sleeping in all
    /// (`SO_RCVTIMEO`/`SO_SNDTIMEO`; `None`: as long as needed), after
    /// which the call gives up with `EAGAIN`.
    pub(super) fn blocking<T>(
        &self,
        pid: RawPid,
        timeout: Option<Duration>,
        restarted: bool,
        mut op: impl FnMut(&Kernel) -> KResult<T>,
    ) -> SysResult<T> {
        let deadline = timeout.map(|t| Instant::now() + t);
        // The caller's interrupt is looked up at the first sleep: most calls
        // never sleep.
        let mut intr: Option<Option<Interrupt>> = None;
        // A restarted call sleeps once before an injected signal can
        // restart it again.
        let mut may_restart = !restarted;
        loop {
            match op(&self.k) {
                Ok(v) => return Ok(v),
                Err(Fail::Err(e)) => return Err(e),
                Err(Fail::Block(w)) => {
                    crate::path::note(|| format!("sleeps on {}", w.describe()));
                    if self.k.interrupted.load(Ordering::SeqCst) {
                        return Err(Errno::EINTR.why(rule!(
                            signal_pending,
                            "the world was torn down while the call slept"
                        )));
                    }
                    // signal_pending(current): checked before each sleep,
                    // and after each wake-up that did not let the call on.
                    let intr = intr.get_or_insert_with(Interrupt::current);
                    let intr_errno = || w.intr_errno(timeout.is_some());
                    if let Some(e) = intr.as_ref().and_then(|i| i.take(intr_errno)) {
                        crate::path::note(|| "a signal is pending for the caller".to_string());
                        return Err(e);
                    }
                    // An injected signal: the wait's own errno, as the
                    // signal's delivery turns it (or a restart, which the
                    // call's entry makes: `fault::restarts`).
                    if let Some(point) = self.signal_fault(pid, may_restart) {
                        return Err(crate::fault::signal_delivered(point, intr_errno().errno));
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        crate::path::note(|| {
                            let t = timeout.unwrap_or_default();
                            format!("its timeout of {} µs passed", t.as_micros())
                        });
                        return Err(Errno::EAGAIN.why(rule!(
                            schedule_timeout,
                            "the timeout (SO_RCVTIMEO/SO_SNDTIMEO) expired",
                        )));
                    }
                    // Counted asleep (`World::is_sleeping`) while on the
                    // queue, so whoever sees it asleep can wake it.
                    let p = self.k.proc(pid).ok();
                    let until = match (deadline, intr.as_ref().and_then(Interrupt::deadline)) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    let armed = intr.as_ref().map(|i| i.arm(w.waker()));
                    // Woken for an interrupt of this call, or of the whole
                    // world (`interrupt_all`, which wakes every queue).
                    let woke = w.sleep(&crate::wait::Sleep {
                        until,
                        cancelled: &|| {
                            intr.as_ref().is_some_and(Interrupt::must_wake)
                                || self.k.interrupted.load(Ordering::SeqCst)
                        },
                        ahead: &|| self.k.fault(crate::fault::FaultPoint::WakeOrder, pid),
                        task: p.as_ref(),
                    });
                    drop(armed);
                    may_restart = true;
                    crate::path::note(|| woke.describe(&w.describe()));
                    // An abandoned call does not look again (its caller
                    // would never get what it took).
                    if intr.as_ref().is_some_and(Interrupt::abandoned) {
                        return Err(Errno::ERESTARTNOINTR.why(rule!(
                            signal_pending,
                            "the caller abandoned the call (it will restart it)",
                        )));
                    }
                }
            }
        }
    }

    /// Whether an injected signal arrives as a call is about to sleep: the
    /// `signal` fault (a handler without `SA_RESTART`) or, unless the call
    /// was just restarted, `signal_restart`.
    pub(super) fn signal_fault(
        &self,
        pid: RawPid,
        may_restart: bool,
    ) -> Option<crate::fault::FaultPoint> {
        use crate::fault::FaultPoint::{Signal, SignalRestart};
        if self.k.fault(Signal, pid) {
            Some(Signal)
        } else if may_restart && self.k.fault(SignalRestart, pid) {
            Some(SignalRestart)
        } else {
            None
        }
    }
}
