//! `struct timeval` as the old `SO_SNDTIMEO`/`SO_RCVTIMEO` take it on x86_64
//! (16 bytes: `i64 tv_sec`, `i64 tv_usec`), and the kernel's conversion of it
//! to and from a timeout in jiffies (`sock_set_timeout` / `sock_get_timeout`
//! in `net/core/sock.c`).
//!
//! The kernel stores a socket timeout in jiffies. This module models that
//! with `Option<Duration>`: `None` is `MAX_SCHEDULE_TIMEOUT` (wait forever),
//! `Some(Duration::ZERO)` is a timeout of 0 jiffies (do not wait at all: a
//! blocking call behaves as non-blocking), anything else is a whole number
//! of jiffies.

use core::time::Duration;

use super::i64_at;
use crate::Errno;

/// The tick rate of the reference kernel: `CONFIG_HZ=250` (from
/// `/boot/config-6.18.*` on the reference machine), so one jiffy is 4 ms.
pub const HZ: u64 = 250;

/// `USEC_PER_SEC`.
const USEC_PER_SEC: i64 = 1_000_000;

/// Microseconds in one jiffy (`USEC_PER_SEC / HZ`).
const USEC_PER_JIFFY: u64 = 1_000_000 / HZ;

/// Nanoseconds in one jiffy.
const NSEC_PER_JIFFY: u64 = 1_000_000_000 / HZ;

/// `MAX_SCHEDULE_TIMEOUT` (`LONG_MAX`): the "no timeout" value of `sk_rcvtimeo`.
pub const MAX_SCHEDULE_TIMEOUT: i64 = i64::MAX;

/// A `struct timeval` / `struct __kernel_old_timeval` on x86_64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timeval {
    /// Seconds.
    pub sec: i64,
    /// Microseconds (the kernel accepts 0..1_000_000 only).
    pub usec: i64,
}

impl Timeval {
    /// `sizeof(struct timeval)` on x86_64.
    pub const SIZE: usize = 16;

    /// Read a timeval from the first 16 bytes of `b`; `None` if `b` is shorter.
    pub fn parse(b: &[u8]) -> Option<Timeval> {
        Some(Timeval {
            sec: i64_at(b, 0)?,
            usec: i64_at(b, 8)?,
        })
    }

    /// The 16 bytes of this timeval.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0..8].copy_from_slice(&self.sec.to_le_bytes());
        out[8..16].copy_from_slice(&self.usec.to_le_bytes());
        out
    }

    /// A timeval of `ms` milliseconds (saturating at `i64::MAX` seconds).
    pub fn from_millis(ms: u64) -> Timeval {
        let sec = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
        // ms % 1000 < 1000, so this is at most 999_000.
        let usec = i64::try_from((ms % 1000) * 1000).unwrap_or(0);
        Timeval { sec, usec }
    }

    /// This timeval in whole milliseconds (`usec` truncated), saturating.
    pub fn as_millis(&self) -> i64 {
        self.sec
            .saturating_mul(1000)
            .saturating_add(self.usec / 1000)
    }

    /// This timeval as a `Duration`, or `None` if it is negative or `usec` is out of range.
    pub fn to_duration(&self) -> Option<Duration> {
        if self.sec < 0 || !(0..USEC_PER_SEC).contains(&self.usec) {
            return None;
        }
        let sec = u64::try_from(self.sec).ok()?;
        let usec = u32::try_from(self.usec).ok()?;
        Some(Duration::new(sec, usec.checked_mul(1000)?))
    }
}

/// A whole number of jiffies as a `Duration` (no overflow for any `u64`).
pub fn jiffies_to_duration(j: u64) -> Duration {
    let secs = j / HZ;
    let rest = j % HZ; // < HZ, so rest * NSEC_PER_JIFFY < 1e9
    Duration::new(secs, u32::try_from(rest * NSEC_PER_JIFFY).unwrap_or(0))
}

/// A `Duration` in jiffies, rounded up (as `msecs_to_jiffies` rounds), saturating.
pub fn duration_to_jiffies(d: Duration) -> u64 {
    let whole = d.as_secs().saturating_mul(HZ);
    let nanos = u64::from(d.subsec_nanos());
    whole.saturating_add(nanos.div_ceil(NSEC_PER_JIFFY))
}

// sock_set_timeout
/// What `setsockopt(SO_RCVTIMEO_OLD / SO_SNDTIMEO_OLD)` stores, from the
/// option bytes the caller passed (`optlen` = `b.len()`):
/// - `optlen < 16` gives `EINVAL` (`sock_copy_user_timeval`);
/// - `tv_usec` outside `0..1_000_000` gives `EDOM`;
/// - a negative `tv_sec` stores a timeout of 0 jiffies: `Some(Duration::ZERO)`
///   (calls then fail with `EAGAIN` at once; getsockopt reads `{0, 0}`);
/// - `{0, 0}` stores `MAX_SCHEDULE_TIMEOUT`: `None`, no timeout;
/// - `tv_sec >= MAX_SCHEDULE_TIMEOUT / HZ - 1` also stores `None`;
/// - otherwise `tv_sec * HZ + DIV_ROUND_UP(tv_usec, USEC_PER_SEC / HZ)` jiffies.
///
/// # Errors
/// `EINVAL` (short) and `EDOM` (bad `tv_usec`), as above.
pub fn sock_set_timeout(b: &[u8]) -> Result<Option<Duration>, crate::errno::Error> {
    let tv = Timeval::parse(b).ok_or(Errno::EINVAL.why(rule!(
        sock_copy_user_timeval,
        "optlen < sizeof(struct timeval)"
    )))?;
    if !(0..USEC_PER_SEC).contains(&tv.usec) {
        return Err(Errno::EDOM.why(rule!(sock_set_timeout, "tv_usec < 0 or >= USEC_PER_SEC")));
    }
    if tv.sec < 0 {
        return Ok(Some(Duration::ZERO));
    }
    let hz = HZ as i64;
    if (tv.sec == 0 && tv.usec == 0) || tv.sec >= MAX_SCHEDULE_TIMEOUT / hz - 1 {
        return Ok(None);
    }
    // Both are in range: 0 <= sec < LONG_MAX/HZ - 1 and 0 <= usec < 1e6.
    let sec = u64::try_from(tv.sec).unwrap_or(0);
    let usec = u64::try_from(tv.usec).unwrap_or(0);
    let jiffies = sec
        .saturating_mul(HZ)
        .saturating_add(usec.div_ceil(USEC_PER_JIFFY));
    Ok(Some(jiffies_to_duration(jiffies)))
}

// sock_get_timeout
/// What `getsockopt(SO_RCVTIMEO_OLD / SO_SNDTIMEO_OLD)` reads back for a
/// stored timeout: `None` (`MAX_SCHEDULE_TIMEOUT`) reads `{0, 0}`; otherwise
/// the timeout in jiffies `j` (a `Duration` that is not a whole number of
/// jiffies is rounded up first) reads `{j / HZ, (j % HZ) * USEC_PER_SEC / HZ}`.
pub fn sock_get_timeout(t: Option<Duration>) -> Timeval {
    let Some(d) = t else {
        return Timeval { sec: 0, usec: 0 };
    };
    let j = duration_to_jiffies(d);
    let sec = i64::try_from(j / HZ).unwrap_or(i64::MAX);
    let usec = i64::try_from((j % HZ) * USEC_PER_JIFFY).unwrap_or(0);
    Timeval { sec, usec }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tv(sec: i64, usec: i64) -> [u8; 16] {
        Timeval { sec, usec }.to_bytes()
    }

    #[test]
    fn layout_and_round_trip() {
        let t = Timeval {
            sec: 3,
            usec: 500_000,
        };
        let b = t.to_bytes();
        assert_eq!(&b[0..8], &3i64.to_le_bytes());
        assert_eq!(&b[8..16], &500_000i64.to_le_bytes());
        assert_eq!(Timeval::parse(&b), Some(t));
        assert_eq!(Timeval::parse(&b[..15]), None);
        assert_eq!(Timeval::from_millis(3500), t);
        assert_eq!(t.as_millis(), 3500);
        assert_eq!(
            Timeval {
                sec: i64::MAX,
                usec: 999_999
            }
            .as_millis(),
            i64::MAX
        );
    }

    #[test]
    fn short_optlen_is_einval() {
        assert_eq!(sock_set_timeout(&tv(1, 0)[..15]), Err(Errno::EINVAL.into()));
        assert_eq!(sock_set_timeout(&[]), Err(Errno::EINVAL.into()));
    }

    #[test]
    fn usec_out_of_range_is_edom_even_with_negative_sec() {
        assert_eq!(sock_set_timeout(&tv(0, 1_000_000)), Err(Errno::EDOM.into()));
        assert_eq!(sock_set_timeout(&tv(0, -1)), Err(Errno::EDOM.into()));
        assert_eq!(sock_set_timeout(&tv(-1, -1)), Err(Errno::EDOM.into()));
    }

    #[test]
    fn negative_sec_is_zero_timeout_and_reads_back_zero() {
        let t = sock_set_timeout(&tv(-5, 10)).unwrap();
        assert_eq!(t, Some(Duration::ZERO));
        assert_eq!(sock_get_timeout(t), Timeval { sec: 0, usec: 0 });
    }

    #[test]
    fn zero_is_no_timeout() {
        assert_eq!(sock_set_timeout(&tv(0, 0)), Ok(None));
        assert_eq!(sock_set_timeout(&tv(i64::MAX, 0)), Ok(None));
        assert_eq!(sock_get_timeout(None), Timeval { sec: 0, usec: 0 });
    }

    #[test]
    fn rounds_up_to_jiffies() {
        // HZ = 250: 1 us -> 1 jiffy = 4 ms, reads back 4000 us.
        let t = sock_set_timeout(&tv(0, 1)).unwrap();
        assert_eq!(t, Some(Duration::from_millis(4)));
        assert_eq!(sock_get_timeout(t), Timeval { sec: 0, usec: 4000 });
        // 3 ms -> 4 ms; 4 ms stays; 4.001 ms -> 8 ms.
        let rd = |s, u| sock_get_timeout(sock_set_timeout(&tv(s, u)).unwrap());
        assert_eq!(rd(0, 3000), Timeval { sec: 0, usec: 4000 });
        assert_eq!(rd(0, 4000), Timeval { sec: 0, usec: 4000 });
        assert_eq!(rd(0, 4001), Timeval { sec: 0, usec: 8000 });
        assert_eq!(rd(2, 999_999), Timeval { sec: 3, usec: 0 });
        assert_eq!(
            rd(1, 500_000),
            Timeval {
                sec: 1,
                usec: 500_000
            }
        );
    }

    proptest! {
        #[test]
        fn set_timeout_never_panics(b in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = sock_set_timeout(&b);
        }

        #[test]
        fn get_of_set_is_whole_jiffies_not_below_input(sec in 0i64..1_000_000, usec in 0i64..1_000_000) {
            let t = sock_set_timeout(&tv(sec, usec)).unwrap();
            let back = sock_get_timeout(t);
            if sec == 0 && usec == 0 {
                prop_assert_eq!(back, Timeval { sec: 0, usec: 0 });
            } else {
                prop_assert_eq!(back.usec % (USEC_PER_JIFFY as i64), 0);
                let want = sec * 1_000_000 + usec;
                let got = back.sec * 1_000_000 + back.usec;
                prop_assert!(got >= want && got - want < USEC_PER_JIFFY as i64);
            }
        }

        #[test]
        fn get_timeout_never_panics(s in any::<u64>(), n in 0u32..1_000_000_000) {
            let back = sock_get_timeout(Some(Duration::new(s, n)));
            prop_assert!(back.sec >= 0 && (0..1_000_000).contains(&back.usec));
        }
    }
}
