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

/// What `__sock_recv_timestamp` reports for one received message: its
/// stamp (`skb->tstamp`, ns since the epoch) and the socket's flags then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecvStamp {
    pub(crate) ktime: u64,
    /// `SOCK_RCVTSTAMPNS`: nanoseconds, not microseconds.
    pub(crate) ns: bool,
    /// `SOCK_TSTAMP_NEW`: the 64-bit message types.
    pub(crate) new: bool,
    /// `SOF_TIMESTAMPING_SOFTWARE` reported (and, with
    /// `SOF_TIMESTAMPING_OPT_RX_FILTER`, `SOF_TIMESTAMPING_RX_SOFTWARE`
    /// generated): an `SCM_TIMESTAMPING` follows.
    pub(crate) timestamping: bool,
}

impl RecvStamp {
    /// The `SO_TIMESTAMP*` message: its type and its 16 bytes. On x86-64
    /// the old and new layouts are the same two 64-bit words (`struct
    /// __kernel_old_timeval` and `__kernel_sock_timeval`,
    /// `__kernel_old_timespec` and `__kernel_timespec`); only the type
    /// says which was asked for.
    pub(crate) fn timestamp(&self) -> (i32, [u8; 16]) {
        use crate::abi::consts::{
            SO_TIMESTAMPNS_NEW, SO_TIMESTAMPNS_OLD, SO_TIMESTAMP_NEW, SO_TIMESTAMP_OLD,
        };
        // skb_get_timestamp: ns_to_kernel_old_timeval (microseconds,
        // rounded down).
        let ty = match (self.ns, self.new) {
            (false, false) => SO_TIMESTAMP_OLD,
            (false, true) => SO_TIMESTAMP_NEW,
            (true, false) => SO_TIMESTAMPNS_OLD,
            (true, true) => SO_TIMESTAMPNS_NEW,
        };
        (ty, timespec(self.ktime, if self.ns { 1 } else { 1000 }))
    }

    /// The `SCM_TIMESTAMPING` message, if reported: its type and its 48
    /// bytes, `struct scm_timestamping` (or `scm_timestamping64`): the
    /// software stamp in `ts[0]`, nothing in the deprecated `ts[1]` or
    /// the hardware `ts[2]`.
    pub(crate) fn timestamping(&self) -> Option<(i32, [u8; 48])> {
        use crate::abi::consts::{SO_TIMESTAMPING_NEW, SO_TIMESTAMPING_OLD};
        if !self.timestamping {
            return None;
        }
        let ty = if self.new {
            SO_TIMESTAMPING_NEW
        } else {
            SO_TIMESTAMPING_OLD
        };
        let mut b = [0u8; 48];
        b[..16].copy_from_slice(&timespec(self.ktime, 1));
        Some((ty, b))
    }
}

/// Seconds and the rest in units of `unit` ns, as two 64-bit words.
fn timespec(ktime: u64, unit: u64) -> [u8; 16] {
    const NSEC_PER_SEC: u64 = 1_000_000_000;
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ktime / NSEC_PER_SEC).to_le_bytes());
    b[8..].copy_from_slice(&(ktime % NSEC_PER_SEC / unit).to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_seconds_and_micro_or_nanoseconds() {
        let stamp = |ns, new, timestamping| RecvStamp {
            ktime: 1_700_000_000_123_456_789,
            ns,
            new,
            timestamping,
        };
        let (ty, b) = stamp(false, false, false).timestamp();
        assert_eq!(ty, 29);
        assert_eq!(&b[..8], &1_700_000_000u64.to_le_bytes());
        assert_eq!(&b[8..], &123_456u64.to_le_bytes());
        let (ty, b) = stamp(true, true, false).timestamp();
        assert_eq!(ty, 64);
        assert_eq!(&b[8..], &123_456_789u64.to_le_bytes());
        assert_eq!(stamp(true, false, false).timestamp().0, 35);
        assert_eq!(stamp(false, true, false).timestamp().0, 63);
        assert_eq!(stamp(false, false, false).timestamping(), None);
        // SCM_TIMESTAMPING: nanoseconds in ts[0] whatever SO_TIMESTAMP asked.
        let (ty, b) = stamp(false, false, true).timestamping().unwrap();
        assert_eq!(ty, 37);
        assert_eq!(&b[8..16], &123_456_789u64.to_le_bytes());
        assert!(b[16..].iter().all(|&x| x == 0));
        assert_eq!(stamp(false, true, true).timestamping().unwrap().0, 65);
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
