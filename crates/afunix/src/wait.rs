//! Sleeping and waking (`include/linux/wait.h`, `kernel/sched/wait.c`).
//!
//! A call that must wait returns [`Fail::Block`] with the queue it waits
//! on and the generation it saw under that queue's lock; the caller
//! (`World::blocking`) sleeps until the generation moves, a timeout
//! passes, or its [`Interrupt`] is raised, then runs the call again. A
//! waker bumps the generation and wakes the queue after it released the
//! socket's lock. [`WaitList`] keeps sleepers in arrival order so that an
//! exclusive wake-up takes the oldest exclusive sleeper, as
//! `__wake_up_common` does.
//!
//! Locks: a sleeper holds only its queue's lock (the socket's or the
//! pipe's) while it decides to sleep; two sockets are locked by their ids
//! (`unix_state_double_lock`); a waker wakes after releasing the socket's
//! lock. An interrupt's own lock is taken inside a queue's lock (the
//! sleeper reads it there) and never the other way round
//! (`Interrupt::raise` calls the waker after releasing it).

use crate::errno::{Errno, Error};
use crate::fs::file::Pipe;
use crate::net::unix::Sock;
use crate::process::Process;
use crate::signal::Waker;
use crate::world::lock;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Why a call did not complete: an errno, or "sleep on this wait queue
/// until it changes, then run again" (a blocking call).
pub(crate) enum Fail {
    /// The call fails with this error.
    Err(Error),
    /// The call must wait.
    Block(Wait),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Err(e)
    }
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Fail {
        Fail::Err(e.into())
    }
}

/// Result of an operation that may block.
pub(crate) type KResult<T> = Result<T, Fail>;

/// How a call sleeps: until when, what cuts the sleep short (checked
/// under the queue's lock), and, when it joins an exclusive queue on which
/// another call already sleeps, whether it joins ahead of them (the
/// `wake_order` fault).
#[derive(Clone, Copy)]
pub(crate) struct Sleep<'a> {
    pub(crate) until: Option<Instant>,
    pub(crate) cancelled: &'a dyn Fn() -> bool,
    pub(crate) ahead: &'a dyn Fn() -> bool,
    /// The process the sleeper counts asleep in (`Process::sleeping`)
    /// from the moment it is on the queue, under the queue's lock (not
    /// when it returns at once) until it is taken off (see [`Sleeper`]).
    pub(crate) task: Option<&'a Arc<Process>>,
}

/// How a sleep ended (for the path's note).
pub(crate) enum Woke {
    /// The queue changed before the caller joined it: it did not sleep.
    Changed,
    /// A wake-up took it; by this call, when the waker said.
    By(Option<Arc<str>>),
    /// Its timeout passed.
    TimedOut,
    /// An interrupt cut it short.
    Cancelled,
}

impl Woke {
    /// The path's note on a sleep on `queue` that ended so.
    pub(crate) fn describe(&self, queue: &str) -> String {
        match self {
            Woke::Changed => format!("{queue} changed before it slept"),
            Woke::By(Some(by)) => format!("woken on {queue} by {by}"),
            Woke::By(None) => format!("woken on {queue}"),
            Woke::TimedOut => format!("the sleep on {queue} timed out"),
            Woke::Cancelled => format!("interrupted while asleep on {queue}"),
        }
    }
}

/// A wait queue and the generation the caller saw while it held the
/// queue's lock: the sleeper only sleeps if nothing changed since.
pub(crate) enum Wait {
    /// A socket's own wait queue (`sk_sleep`); exclusive or not.
    Sock(Arc<Sock>, u64, bool),
    /// A socket's `peer_wait` (`unix_wait_for_peer`: always exclusive).
    Peer(Arc<Sock>, u64),
    /// A pipe's wait queue.
    Pipe(Arc<Pipe>, u64),
}

impl Wait {
    /// Sleep until the queue's generation moves past the one seen, `until`
    /// passes, or `cancelled()` (checked under the queue's lock, so an
    /// interrupt that wakes the queue after setting it is never missed).
    pub(crate) fn sleep(&self, how: &Sleep<'_>) -> Woke {
        crate::lockdep::assert_none_held("sleeping");
        match self {
            Wait::Sock(s, seen, excl) => sleep_queued(
                &s.inner,
                &s.wait,
                *seen,
                |g| (g.seq, &mut g.waiters),
                *excl,
                how,
            ),
            Wait::Peer(s, seen) => sleep_queued(
                &s.inner,
                &s.peer_wait,
                *seen,
                |g| (g.peer_seq, &mut g.peer_waiters),
                true,
                how,
            ),
            // The model's pipe has one queue for readers and writers:
            // every sleeper wakes and looks (pipe_read and pipe_write each
            // have their own exclusive queue in the kernel).
            Wait::Pipe(p, seen) => sleep_queued(
                &p.inner,
                &p.wait,
                *seen,
                |g| (g.seq, &mut g.waiters),
                false,
                how,
            ),
        }
    }

    /// The queue, for `--explain=path`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Wait::Sock(s, _, true) => format!("sk_wq of #{} (exclusive)", s.id),
            Wait::Sock(s, _, false) => format!("sk_wq of #{}", s.id),
            Wait::Peer(s, _) => format!("peer_wait of #{}", s.id),
            Wait::Pipe(..) => "the pipe's wait queue".to_string(),
        }
    }

    /// What wakes this sleeper for an interrupt: take the queue's lock
    /// (so the sleeper is either before its check or inside `wait`) and
    /// wake every sleeper of it; the others find their tickets still
    /// queued and sleep on.
    pub(crate) fn waker(&self) -> Waker {
        match self {
            Wait::Sock(s, ..) => {
                let s = Arc::clone(s);
                Box::new(move || {
                    let _g = lock(&s.inner);
                    s.wait.notify_all();
                })
            }
            Wait::Peer(s, _) => {
                let s = Arc::clone(s);
                Box::new(move || {
                    let _g = lock(&s.inner);
                    s.peer_wait.notify_all();
                })
            }
            Wait::Pipe(p, _) => {
                let p = Arc::clone(p);
                Box::new(move || {
                    let _g = lock(&p.inner);
                    p.wait.notify_all();
                })
            }
        }
    }

    /// The errno of a wait cut short by a signal: `pipe_read`/`pipe_write`
    /// give `ERESTARTSYS`; the socket waits give `sock_intr_errno(timeo)`,
    /// `ERESTARTSYS` without a timeout, `EINTR` with one.
    pub(crate) fn intr_errno(&self, has_timeout: bool) -> Error {
        match self {
            Wait::Pipe(..) => {
                Errno::ERESTARTSYS.why(rule!(pipe_read, "signal_pending while the pipe waits"))
            }
            _ if has_timeout => Errno::EINTR.why(rule!(
                sock_intr_errno,
                "signal_pending while the call waits with a timeout"
            )),
            _ => Errno::ERESTARTSYS.why(rule!(
                sock_intr_errno,
                "signal_pending while the call waits (no timeout)"
            )),
        }
    }
}

/// A wait queue's sleepers in arrival order (`wait_queue_head`): a wake-up
/// takes every non-exclusive sleeper and the oldest exclusive one
/// (`__wake_up_common` with `nr_exclusive` 1), so which of several blocked
/// calls a change serves is the kernel's choice, not the OS scheduler's.
#[derive(Debug, Default)]
pub struct WaitList {
    next: u64,
    /// Oldest first.
    sleepers: std::collections::VecDeque<Sleeper>,
}

/// One entry of a [`WaitList`] (`wait_queue_entry`).
struct Sleeper {
    ticket: u64,
    exclusive: bool,
    /// The process it counts asleep in. Whoever takes the entry off the
    /// queue counts it awake again: a wake-up (as `try_to_wake_up` makes
    /// the task TASK_RUNNING, before it runs), or the sleeper itself when
    /// its timeout or an interrupt ends the sleep. So a process is asleep
    /// exactly while one of its calls waits for a wake-up that has not
    /// come ([`crate::World::is_sleeping`]): a woken call that has not run
    /// yet is not asleep.
    task: Option<Arc<Process>>,
}

impl Sleeper {
    /// Taken off its queue: no longer asleep.
    fn off_queue(&self) {
        if let Some(p) = &self.task {
            p.sleeping.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl std::fmt::Debug for Sleeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleeper")
            .field("ticket", &self.ticket)
            .field("exclusive", &self.exclusive)
            .field("pid", &self.task.as_ref().map(|p| p.pid))
            .finish()
    }
}

impl WaitList {
    /// An empty list (`DECLARE_WAIT_QUEUE_HEAD`).
    pub(crate) const fn new() -> WaitList {
        WaitList {
            next: 0,
            sleepers: std::collections::VecDeque::new(),
        }
    }

    /// `prepare_to_wait[_exclusive]`: join at the tail (or, `first`, at
    /// the head: the next exclusive wake-up takes this sleeper first, the
    /// `wake_order` fault; the kernel only adds at the tail), counted
    /// asleep in `task`; the ticket.
    fn add(&mut self, exclusive: bool, first: bool, task: Option<&Arc<Process>>) -> u64 {
        self.next += 1;
        if let Some(p) = task {
            p.sleeping.fetch_add(1, Ordering::SeqCst);
        }
        let s = Sleeper {
            ticket: self.next,
            exclusive,
            task: task.cloned(),
        };
        if first {
            self.sleepers.push_front(s);
        } else {
            self.sleepers.push_back(s);
        }
        self.next
    }
    /// Whether an exclusive sleeper waits: only then can the order of
    /// exclusive sleepers matter.
    pub(crate) fn has_exclusive_sleeper(&self) -> bool {
        self.sleepers.iter().any(|s| s.exclusive)
    }
    /// Whether the ticket still waits (not yet woken).
    pub(crate) fn waiting(&self, ticket: u64) -> bool {
        self.sleepers.iter().any(|s| s.ticket == ticket)
    }
    /// `finish_wait` after a timeout or an interrupt.
    pub(crate) fn remove(&mut self, ticket: u64) {
        self.sleepers.retain(|s| {
            let ours = s.ticket == ticket;
            if ours {
                s.off_queue();
            }
            !ours
        });
    }
    /// `wq_has_sleeper`.
    pub(crate) fn has_sleeper(&self) -> bool {
        !self.sleepers.is_empty()
    }
    /// `__wake_up(.., nr_exclusive = 1)`. Out of line: only reached when
    /// someone sleeps, and the wakers that test for that stay small.
    #[inline(never)]
    pub(crate) fn wake_one_exclusive(&mut self) {
        if crate::path::recording() {
            self.tell_woken(false);
        }
        let mut woke_exclusive = false;
        self.sleepers.retain(|s| {
            if s.exclusive {
                if woke_exclusive {
                    return true;
                }
                woke_exclusive = true;
            }
            s.off_queue();
            false
        });
    }
    /// Wake everyone (`wake_up_all`); out of line, as above.
    #[inline(never)]
    pub(crate) fn wake_all(&mut self) {
        if crate::path::recording() {
            self.tell_woken(true);
        }
        for s in self.sleepers.drain(..) {
            s.off_queue();
        }
    }
    /// The address that names this queue to its sleepers (it does not
    /// move while they sleep: it lives in an `Arc`'s socket).
    fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
    /// Tell the sleepers a wake-up is about to take who woke them (a
    /// recording waker: `--explain=path`).
    #[cold]
    fn tell_woken(&self, all: bool) {
        let Some(by) = crate::path::waker() else {
            return;
        };
        let mut exclusive_taken = false;
        for s in &self.sleepers {
            if s.exclusive && !all {
                if exclusive_taken {
                    continue;
                }
                exclusive_taken = true;
            }
            crate::path::woke(self.key(), s.ticket, &by);
        }
    }
}

/// Sleep on a queue that keeps its sleepers in order: join the queue if
/// nothing changed since the caller looked (the generation is still
/// `seen`), then wait until a wake-up takes this sleeper or `until` passes.
fn sleep_queued<T>(
    m: &Mutex<T>,
    cv: &std::sync::Condvar,
    seen: u64,
    queue: impl Fn(&mut T) -> (u64, &mut WaitList),
    exclusive: bool,
    how: &Sleep<'_>,
) -> Woke {
    let Sleep {
        until,
        cancelled,
        ahead,
        task,
    } = *how;
    let mut g = lock(m);
    let (gen, list) = queue(&mut g);
    if gen != seen {
        return Woke::Changed;
    }
    let first = exclusive && list.has_exclusive_sleeper() && ahead();
    let ticket = list.add(exclusive, first, task);
    let key = list.key();
    while queue(&mut g).1.waiting(ticket) {
        if cancelled() {
            queue(&mut g).1.remove(ticket);
            return Woke::Cancelled;
        }
        g = match until {
            None => cv.wait(g).unwrap_or_else(|p| p.into_inner()),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    queue(&mut g).1.remove(ticket);
                    return Woke::TimedOut;
                }
                cv.wait_timeout(g, d - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
        };
    }
    Woke::By(crate::path::woken_by(key, ticket))
}
