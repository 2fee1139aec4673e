//! Socket option values as types: what `setsockopt` takes and
//! `getsockopt` writes for the options whose value has one fixed layout
//! (an `int`, a `struct timeval`, a `struct ucred`, a `struct linger`).

use super::{timeval::Timeval, ucred::Ucred};

/// A socket option value of one fixed layout (see
/// [`crate::World::setsockopt_value`] and [`crate::World::getsockopt_value`]).
pub trait OptValue: Sized {
    /// Its size: the `optlen` passed.
    const LEN: usize;
    /// Its bytes, as a program passes them.
    fn to_bytes(&self) -> Vec<u8>;
    /// Read it from the first [`OptValue::LEN`] bytes of `b` (missing
    /// bytes read as 0, as from a zeroed buffer the call wrote less into).
    fn from_bytes(b: &[u8]) -> Self;
}

/// The first `N` bytes of `b`, zero-padded.
fn padded<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut w = [0u8; N];
    let n = b.len().min(N);
    w[..n].copy_from_slice(&b[..n]);
    w
}

impl OptValue for i32 {
    const LEN: usize = 4;
    fn to_bytes(&self) -> Vec<u8> {
        self.to_ne_bytes().to_vec()
    }
    fn from_bytes(b: &[u8]) -> Self {
        i32::from_ne_bytes(padded(b))
    }
}

impl OptValue for Timeval {
    const LEN: usize = Timeval::SIZE;
    fn to_bytes(&self) -> Vec<u8> {
        Timeval::to_bytes(self).to_vec()
    }
    fn from_bytes(b: &[u8]) -> Self {
        Timeval::parse(&padded::<16>(b)).unwrap_or_default()
    }
}

impl OptValue for Ucred {
    const LEN: usize = Ucred::SIZE;
    fn to_bytes(&self) -> Vec<u8> {
        Ucred::to_bytes(self).to_vec()
    }
    fn from_bytes(b: &[u8]) -> Self {
        let w: [u8; 12] = padded(b);
        Ucred {
            pid: i32::from_bytes(&w[0..4]),
            uid: i32::from_bytes(&w[4..8]) as u32,
            gid: i32::from_bytes(&w[8..12]) as u32,
        }
    }
}

/// `struct linger` (`SO_LINGER`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Linger {
    /// `l_onoff`.
    pub onoff: i32,
    /// `l_linger`, in seconds.
    pub linger: i32,
}

impl OptValue for Linger {
    const LEN: usize = 8;
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.onoff.to_ne_bytes().to_vec();
        v.extend_from_slice(&self.linger.to_ne_bytes());
        v
    }
    fn from_bytes(b: &[u8]) -> Self {
        let w: [u8; 8] = padded(b);
        Linger {
            onoff: i32::from_bytes(&w[..4]),
            linger: i32::from_bytes(&w[4..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_short_input_reads_as_zero() {
        let t = Timeval { sec: 5, usec: 250 };
        assert_eq!(Timeval::from_bytes(&OptValue::to_bytes(&t)), t);
        let l = Linger {
            onoff: 1,
            linger: 9,
        };
        assert_eq!(Linger::from_bytes(&l.to_bytes()), l);
        let u = Ucred {
            pid: 7,
            uid: 1000,
            gid: 1000,
        };
        assert_eq!(Ucred::from_bytes(&OptValue::to_bytes(&u)), u);
        assert_eq!(i32::from_bytes(&[1]), 1);
        assert_eq!(Linger::from_bytes(&[]), Linger::default());
    }
}
