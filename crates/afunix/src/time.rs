//! `kernel/time`: the time of day a world reads (`ktime_get_real`), which
//! only receive timestamps (`SO_TIMESTAMP*`, `__net_timestamp`) report.
//!
//! A world's clock is frozen by default, so that a scenario's trace (which
//! prints the control bytes a receive wrote) is the same on every run;
//! `afunix exec`, whose programs compare timestamps with their own clock,
//! reads the host's.

use std::sync::atomic::{AtomicU64, Ordering};

/// Where a world reads the time of day ([`crate::World::set_clock`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Always this many nanoseconds since the epoch (a new world's clock:
    /// `Frozen(0)`).
    Frozen(u64),
    /// The host's `CLOCK_REALTIME`.
    Host,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::Frozen(0)
    }
}

/// A world's clock, read without a lock on every stamped message.
#[derive(Debug, Default)]
pub(crate) struct WorldClock(AtomicU64);

/// The stored value of [`Clock::Host`] (a frozen clock never reads it:
/// `u64::MAX` ns is the year 2554).
const HOST: u64 = u64::MAX;

impl WorldClock {
    pub(crate) fn set(&self, c: Clock) {
        let v = match c {
            Clock::Frozen(t) => t.min(HOST - 1),
            Clock::Host => HOST,
        };
        self.0.store(v, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Clock {
        match self.0.load(Ordering::Relaxed) {
            HOST => Clock::Host,
            t => Clock::Frozen(t),
        }
    }

    /// `ktime_get_real`: nanoseconds since the epoch.
    pub(crate) fn ktime_get_real(&self) -> u64 {
        match self.0.load(Ordering::Relaxed) {
            HOST => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(HOST - 1)),
            t => t,
        }
    }
}

/// The `SOL_SOCKET` control message `__sock_recv_timestamp` writes for a
/// message stamped `ktime` (ns) on a socket whose flags ask for
/// nanoseconds (`SOCK_RCVTSTAMPNS`) and the 64-bit layouts
/// (`SOCK_TSTAMP_NEW`): its type and its 16 bytes. On x86-64 the old and
/// new layouts are the same two 64-bit words (`struct __kernel_old_timeval`
/// and `__kernel_sock_timeval`, `__kernel_old_timespec` and
/// `__kernel_timespec`); only the type says which was asked for.
pub(crate) fn recv_timestamp(ktime: u64, ns: bool, new: bool) -> (i32, [u8; 16]) {
    use crate::abi::consts::{
        SO_TIMESTAMPNS_NEW, SO_TIMESTAMPNS_OLD, SO_TIMESTAMP_NEW, SO_TIMESTAMP_OLD,
    };
    const NSEC_PER_SEC: u64 = 1_000_000_000;
    let sec = ktime / NSEC_PER_SEC;
    let frac = ktime % NSEC_PER_SEC;
    // skb_get_timestamp: ns_to_kernel_old_timeval (microseconds, rounded down).
    let (ty, frac) = match (ns, new) {
        (false, false) => (SO_TIMESTAMP_OLD, frac / 1000),
        (false, true) => (SO_TIMESTAMP_NEW, frac / 1000),
        (true, false) => (SO_TIMESTAMPNS_OLD, frac),
        (true, true) => (SO_TIMESTAMPNS_NEW, frac),
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&sec.to_le_bytes());
    b[8..].copy_from_slice(&frac.to_le_bytes());
    (ty, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_seconds_and_micro_or_nanoseconds() {
        let t = 1_700_000_000_123_456_789;
        let (ty, b) = recv_timestamp(t, false, false);
        assert_eq!(ty, 29);
        assert_eq!(&b[..8], &1_700_000_000u64.to_le_bytes());
        assert_eq!(&b[8..], &123_456u64.to_le_bytes());
        let (ty, b) = recv_timestamp(t, true, true);
        assert_eq!(ty, 64);
        assert_eq!(&b[8..], &123_456_789u64.to_le_bytes());
        assert_eq!(recv_timestamp(t, true, false).0, 35);
        assert_eq!(recv_timestamp(t, false, true).0, 63);
    }

    #[test]
    fn a_clock_is_frozen_until_set() {
        let c = WorldClock::default();
        assert_eq!(c.get(), Clock::Frozen(0));
        assert_eq!(c.ktime_get_real(), 0);
        c.set(Clock::Frozen(5));
        assert_eq!((c.get(), c.ktime_get_real()), (Clock::Frozen(5), 5));
        c.set(Clock::Host);
        assert_eq!(c.get(), Clock::Host);
        // After 2020 (the host's clock, not a frozen value).
        assert!(c.ktime_get_real() > 1_577_836_800 * 1_000_000_000);
    }
}
