//! `struct ucred { pid_t pid; uid_t uid; gid_t gid; }` — the payload of
//! `SCM_CREDENTIALS` and the value of `SO_PEERCRED` (12 bytes, no padding).

use super::{i32_at, u32_at};

/// Process credentials as they travel in `SCM_CREDENTIALS` / `SO_PEERCRED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Ucred {
    /// Process id (a tgid, in the receiver's pid namespace).
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Ucred {
    /// `sizeof(struct ucred)`.
    pub const SIZE: usize = 12;

    /// Read a `struct ucred` from the first 12 bytes of `b`; `None` if `b` is shorter.
    /// Bytes past the 12th are ignored (as `copy_from_user` of `sizeof(ucred)` does).
    pub fn parse(b: &[u8]) -> Option<Ucred> {
        Some(Ucred {
            pid: i32_at(b, 0)?,
            uid: u32_at(b, 4)?,
            gid: u32_at(b, 8)?,
        })
    }

    /// The 12 bytes of this `struct ucred`, native (little-endian) order.
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[0..4].copy_from_slice(&self.pid.to_le_bytes());
        out[4..8].copy_from_slice(&self.uid.to_le_bytes());
        out[8..12].copy_from_slice(&self.gid.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_pid_uid_gid() {
        let c = Ucred {
            pid: 0x0102_0304,
            uid: 1000,
            gid: u32::MAX,
        };
        let b = c.to_bytes();
        assert_eq!(&b[0..4], &[4, 3, 2, 1]);
        assert_eq!(&b[4..8], &1000u32.to_le_bytes());
        assert_eq!(&b[8..12], &[0xff; 4]);
        assert_eq!(Ucred::parse(&b), Some(c));
    }

    #[test]
    fn short_buffer_is_none_and_extra_ignored() {
        assert_eq!(Ucred::parse(&[0u8; 11]), None);
        let mut b = Ucred {
            pid: -1,
            uid: 2,
            gid: 3,
        }
        .to_bytes()
        .to_vec();
        b.extend_from_slice(&[9, 9, 9]);
        assert_eq!(
            Ucred::parse(&b),
            Some(Ucred {
                pid: -1,
                uid: 2,
                gid: 3
            })
        );
    }

    proptest! {
        #[test]
        fn round_trip(pid in any::<i32>(), uid in any::<u32>(), gid in any::<u32>()) {
            let c = Ucred { pid, uid, gid };
            prop_assert_eq!(Ucred::parse(&c.to_bytes()), Some(c));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..32)) {
            prop_assert_eq!(Ucred::parse(&b).is_some(), b.len() >= Ucred::SIZE);
        }
    }
}
