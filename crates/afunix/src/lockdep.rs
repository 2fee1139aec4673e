//! The lock order, checked in debug builds: the kernel's lockdep, in small.
//!
//! A thread may take the model's locks only in this order (a class later in
//! the list while holding one earlier, never the reverse):
//!
//! 1. a process's fd table (`files_struct.file_lock`);
//! 2. a socket's lock (`unix_state_lock`); two of them only in id order,
//!    as `unix_state_double_lock` takes them;
//! 3. the collector's graph (`unix_gc_lock`);
//! 4. the name tables (the abstract namespace and the bound paths,
//!    `bsd_socket_locks` and `unix_table_locks`).
//!
//! and it sleeps holding none of them (a sleeper holds only its wait
//! queue's lock, which `Condvar` releases). Every guard of those locks is
//! an [`Ordered`] guard; in a debug build taking one checks the order
//! against the locks this thread holds and panics on the first inversion,
//! naming both, so that `cargo test` (a debug build) finds an inversion the
//! first time a test takes that path, not when two threads happen to
//! deadlock on it. A release build keeps nothing and checks nothing.

use std::ops::{Deref, DerefMut};

/// The classes of lock, in the order they may be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LockClass {
    /// A process's fd table.
    FdTable,
    /// A socket's state lock; the key is the socket id.
    Sock,
    /// The in-flight graph of the collector.
    Gc,
    /// The abstract and pathname name tables.
    Names,
}

#[cfg(debug_assertions)]
mod held {
    use super::LockClass;
    use std::cell::RefCell;

    thread_local! {
        /// The locks this thread holds, in the order it took them.
        static HELD: RefCell<Vec<(LockClass, u64)>> = const { RefCell::new(Vec::new()) };
    }

    /// Whether taking `(class, key)` while holding `(c, k)` keeps the order.
    fn in_order((c, k): (LockClass, u64), (class, key): (LockClass, u64)) -> bool {
        c < class || (c == LockClass::Sock && class == LockClass::Sock && k < key)
    }

    pub(super) fn acquire(class: LockClass, key: u64) {
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(&bad) = h.iter().find(|&&held| !in_order(held, (class, key))) {
                panic!(
                    "lock order: taking {class:?} {key} while holding {:?} {} (held: {:?})",
                    bad.0, bad.1, *h
                );
            }
            h.push((class, key));
        });
    }

    pub(super) fn release(class: LockClass, key: u64) {
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().rposition(|&e| e == (class, key)) {
                h.remove(i);
            }
        });
    }

    pub(super) fn assert_none_held(what: &str) {
        HELD.with(|h| {
            let h = h.borrow();
            assert!(h.is_empty(), "lock order: {what} while holding {:?}", *h);
        });
    }
}

/// A lock guard whose lock takes part in the order check.
pub(crate) struct Ordered<G> {
    guard: G,
    #[cfg(debug_assertions)]
    class: LockClass,
    #[cfg(debug_assertions)]
    key: u64,
}

impl<G> Ordered<G> {
    /// Take a lock of `class` (with `key` telling two of a class apart):
    /// `take` is called after the order was checked, so an inversion is
    /// reported before it can deadlock.
    #[inline]
    pub(crate) fn take(class: LockClass, key: u64, take: impl FnOnce() -> G) -> Ordered<G> {
        #[cfg(debug_assertions)]
        held::acquire(class, key);
        #[cfg(not(debug_assertions))]
        let _ = (class, key);
        Ordered {
            guard: take(),
            #[cfg(debug_assertions)]
            class,
            #[cfg(debug_assertions)]
            key,
        }
    }
}

impl<G> Drop for Ordered<G> {
    #[inline]
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        held::release(self.class, self.key);
    }
}

impl<G: Deref> Deref for Ordered<G> {
    type Target = G::Target;
    #[inline]
    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: DerefMut> DerefMut for Ordered<G> {
    #[inline]
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

/// Check, in a debug build, that this thread holds none of the ordered
/// locks: a sleep, an `fput` or a wake-up with one held is a bug.
#[inline]
pub(crate) fn assert_none_held(what: &str) {
    #[cfg(debug_assertions)]
    held::assert_none_held(what);
    #[cfg(not(debug_assertions))]
    let _ = what;
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::{assert_none_held, LockClass, Ordered};
    use std::sync::Mutex;

    #[test]
    fn locks_taken_in_order_pass_and_are_forgotten_on_release() {
        let (a, b, c) = (Mutex::new(0), Mutex::new(0), Mutex::new(0));
        {
            let _t = Ordered::take(LockClass::FdTable, 7, || a.lock().unwrap());
            let _s1 = Ordered::take(LockClass::Sock, 1, || b.lock().unwrap());
            let _s2 = Ordered::take(LockClass::Sock, 2, || c.lock().unwrap());
        }
        assert_none_held("after release");
        // Released in any order, the held list stays right.
        let g1 = Ordered::take(LockClass::Sock, 1, || b.lock().unwrap());
        let g2 = Ordered::take(LockClass::Gc, 0, || c.lock().unwrap());
        drop(g1);
        drop(g2);
        assert_none_held("after release out of order");
    }

    #[test]
    #[should_panic(expected = "lock order: taking FdTable 3 while holding Sock 1")]
    fn an_fd_table_under_a_socket_lock_is_an_inversion() {
        let (a, b) = (Mutex::new(0), Mutex::new(0));
        let _s = Ordered::take(LockClass::Sock, 1, || a.lock().unwrap());
        let _t = Ordered::take(LockClass::FdTable, 3, || b.lock().unwrap());
    }

    #[test]
    #[should_panic(expected = "lock order: taking Sock 1 while holding Sock 2")]
    fn two_sockets_out_of_id_order_are_an_inversion() {
        let (a, b) = (Mutex::new(0), Mutex::new(0));
        let _s2 = Ordered::take(LockClass::Sock, 2, || a.lock().unwrap());
        let _s1 = Ordered::take(LockClass::Sock, 1, || b.lock().unwrap());
    }

    #[test]
    #[should_panic(expected = "lock order: sleeping while holding")]
    fn sleeping_with_a_lock_held_is_reported() {
        let a = Mutex::new(0);
        let _g = Ordered::take(LockClass::Names, 0, || a.lock().unwrap());
        assert_none_held("sleeping");
    }
}
