//! Faults on demand: the answers Linux gives rarely, at the points where it
//! can give them, exactly when asked.
//!
//! Each [`FaultPoint`] is a place where the kernel can fail (an allocation
//! that returns NULL, a signal that arrives while a call sleeps, a stream
//! send cut short) and the answer it then gives. A [`Fault`] arms one: for
//! one process or any, on the N-th time the point is reached, or each time
//! with a probability drawn from the world's seeded generator (the same
//! seed, the same run). An injected fault's error names its kernel
//! function and says `(injected fault)`; [`crate::World::take_fired`] lists what
//! fired. Nothing here can break the model's own consistency: a fault takes
//! a path the kernel's code takes too.
//!
//! | point | stands for | Linux fails there when | the caller sees |
//! |---|---|---|---|
//! | `sock_alloc_send_pskb` | the skb allocation of a send | `alloc_skb_with_frags` finds no memory | `ENOBUFS` (a stream send: what it sent so far) |
//! | `scm_fp_copy` | the `scm_fp_list` of a send with `SCM_RIGHTS` | `kmalloc` finds no memory | `ENOMEM` |
//! | `unix_create1` | a new socket (`socket`, `socketpair`, the embryo of `connect`) | `sk_alloc` finds no memory | `ENOMEM` |
//! | `receive_fd` | installing a passed file in the receiver | no free fd (`EMFILE`), or the LSM refuses it | `MSG_CTRUNC`, the file and the rest dropped |
//! | `signal` | a call that sleeps | a signal arrives, its handler without `SA_RESTART` | `EINTR`, or what it transferred |
//! | `signal_restart` | a call that sleeps | a signal arrives, its handler with `SA_RESTART` (`handle_signal`) | the call restarts from its entry, fd lookup included, and sleeps again; `EINTR` where Linux does not restart (a socket wait with a timeout, `sock_intr_errno`; `poll`'s `ERESTARTNOHAND`); what it transferred if it transferred something |
//! | `short_write` | a stream send of more than one skb | a signal arrives once part is queued | the bytes queued so far |
//! | `wake_order` | a call that sleeps exclusively (`prepare_to_wait_exclusive`) on a queue where another call already sleeps | the oldest sleeper, woken, is beaten to what it was woken for: the kernel wakes the oldest, but whoever looks first after the wake-up is served | this call is served before the ones that slept before it (it joins the queue ahead of them) |

use crate::errno::{Errno, Error};
use crate::ids::Pid;
use crate::process::RawPid;

/// Where a fault can be injected (see the module's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultPoint {
    /// `sock_alloc_send_pskb`: the skb of a send cannot be allocated.
    SockAllocSendPskb,
    /// `scm_fp_copy`: the list of passed files cannot be allocated.
    ScmFpCopy,
    /// `unix_create1`: a socket cannot be allocated.
    UnixCreate1,
    /// `receive_fd`: a passed file cannot be installed in the receiver.
    ReceiveFd,
    /// A signal arrives while a call sleeps; its handler has no
    /// `SA_RESTART`.
    Signal,
    /// A signal arrives while a call sleeps; its handler has `SA_RESTART`.
    SignalRestart,
    /// A stream send stops once part of it is queued.
    ShortWrite,
    /// A call joins an exclusive wait queue ahead of those already on it.
    WakeOrder,
}

impl FaultPoint {
    /// Every point.
    pub const ALL: [FaultPoint; 8] = [
        FaultPoint::SockAllocSendPskb,
        FaultPoint::ScmFpCopy,
        FaultPoint::UnixCreate1,
        FaultPoint::ReceiveFd,
        FaultPoint::Signal,
        FaultPoint::SignalRestart,
        FaultPoint::ShortWrite,
        FaultPoint::WakeOrder,
    ];

    /// Its name (the kernel function it stands for, or what happens).
    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::SockAllocSendPskb => "sock_alloc_send_pskb",
            FaultPoint::ScmFpCopy => "scm_fp_copy",
            FaultPoint::UnixCreate1 => "unix_create1",
            FaultPoint::ReceiveFd => "receive_fd",
            FaultPoint::Signal => "signal",
            FaultPoint::SignalRestart => "signal_restart",
            FaultPoint::ShortWrite => "short_write",
            FaultPoint::WakeOrder => "wake_order",
        }
    }

    /// The point of this name.
    pub fn from_name(name: &str) -> Option<FaultPoint> {
        FaultPoint::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The error a call gets when the fault fires there.
    pub(crate) fn error(self) -> Error {
        match self {
            FaultPoint::SockAllocSendPskb => Errno::ENOBUFS.why(rule!(
                sock_alloc_send_pskb,
                "alloc_skb_with_frags found no memory (injected fault)"
            )),
            FaultPoint::ScmFpCopy => Errno::ENOMEM.why(rule!(
                scm_fp_copy,
                "kmalloc of the scm_fp_list found no memory (injected fault)"
            )),
            FaultPoint::UnixCreate1 => Errno::ENOMEM.why(rule!(
                unix_create1,
                "sk_alloc found no memory (injected fault)"
            )),
            FaultPoint::ReceiveFd => Errno::EMFILE.why(rule!(
                receive_fd,
                "no free fd in the receiver (injected fault)"
            )),
            FaultPoint::Signal | FaultPoint::SignalRestart | FaultPoint::ShortWrite => Errno::EINTR
                .why(rule!(
                    signal_pending,
                    "a signal arrived while the call slept (injected fault)"
                )),
            // It changes an order and fails nothing; no call returns this.
            FaultPoint::WakeOrder => {
                Errno::EINTR.why(gap!("wake_order changes an order and has no error"))
            }
        }
    }
}

/// The answer of a call that slept when an injected signal arrived, as
/// the signal's delivery makes it (`arch_do_signal_or_restart`): the
/// wait's own errno (`intr`: `ERESTARTSYS`, or `EINTR` for a socket wait
/// with a timeout, `ERESTARTNOHAND` for `poll`) seen through a handler
/// with or without `SA_RESTART`; [`RESTART`]'s error when the call
/// restarts (its entry makes it again: [`restarts`]).
pub(crate) fn signal_delivered(point: FaultPoint, intr: Errno) -> Error {
    use crate::signal::{after_signal, Disposition};
    let sa_restart = point == FaultPoint::SignalRestart;
    if after_signal(intr, Disposition::Handler { sa_restart }).is_none() {
        return Errno::ERESTARTSYS.why(RESTART);
    }
    if sa_restart {
        Errno::EINTR.why(rule!(
            handle_signal,
            "SA_RESTART, but this wait is not restarted (injected fault)"
        ))
    } else {
        point.error()
    }
}

/// The error that carries a restart (`ERESTARTSYS` under `SA_RESTART`)
/// from the sleeping call up to its entry in [`crate::World`], which makes
/// the call again (see [`restarts`]); a program never sees it.
pub(crate) const RESTART: &crate::Rule = rule!(
    arch_do_signal_or_restart,
    "SA_RESTART: the call restarts (injected fault)"
);

/// Whether a call's error is an injected restart: then its entry makes it
/// again, as the kernel's restart does (`arch_do_signal_or_restart`
/// rewinds the instruction pointer to the `syscall`), fd lookup included.
/// The restarted call sleeps once before another injected signal can
/// restart it (the handler ran; without that a fault at p=1 would restart
/// it for ever). Only an error pays the compare.
#[inline]
pub(crate) fn restarts(e: &Error) -> bool {
    e.errno == Errno::ERESTARTSYS && restarted(e)
}

#[cold]
fn restarted(e: &Error) -> bool {
    let yes = *e.rule == *RESTART;
    if yes {
        crate::path::note(|| "restarted (SA_RESTART)".to_string());
    }
    yes
}

/// Which occurrences of its point a fault fires at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum When {
    /// The N-th time the point is reached (from 1), once.
    Nth(u64),
    /// Each time, with this probability (0 to 1), drawn from the world's
    /// seeded generator.
    Random(f64),
}

/// An armed fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fault {
    /// Where.
    pub point: FaultPoint,
    /// Only calls of this process (`None`: any).
    pub pid: Option<Pid>,
    /// When.
    pub when: When,
}

/// An armed fault and how often its point was reached.
#[derive(Debug)]
pub(crate) struct Armed {
    fault: Fault,
    seen: u64,
}

impl Armed {
    pub(crate) fn new(fault: Fault) -> Armed {
        Armed { fault, seen: 0 }
    }

    /// The point was reached by `pid`: whether this fault fires.
    pub(crate) fn reached(
        &mut self,
        point: FaultPoint,
        pid: RawPid,
        random: &crate::abi::filter::Prandom,
    ) -> bool {
        if self.fault.point != point || self.fault.pid.is_some_and(|p| p.as_raw() != pid) {
            return false;
        }
        self.seen += 1;
        match self.fault.when {
            When::Nth(n) => self.seen == n,
            When::Random(p) => (random.next_u32() as f64) < p * (u32::MAX as f64 + 1.0),
        }
    }
}
