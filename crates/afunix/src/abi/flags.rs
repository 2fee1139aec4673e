//! Flag words as types (`bitflags`), as rustix has them: named bits, and
//! any other bit carried through unchanged (`from_bits_retain`), so that a
//! bit Linux does not know still reaches the kernel's own `EINVAL` rules.
//! Every `World` call that takes flags accepts these or a raw `i32`.

use super::consts;

bitflags::bitflags! {
    /// The `flags` of `sendmsg`/`recvmsg` and `msg_flags` (`MSG_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct MsgFlags: i32 {
        /// `MSG_OOB`.
        const OOB = consts::MSG_OOB;
        /// `MSG_PEEK`.
        const PEEK = consts::MSG_PEEK;
        /// `MSG_DONTROUTE`.
        const DONTROUTE = consts::MSG_DONTROUTE;
        /// `MSG_CTRUNC` (out).
        const CTRUNC = consts::MSG_CTRUNC;
        /// `MSG_TRUNC`.
        const TRUNC = consts::MSG_TRUNC;
        /// `MSG_DONTWAIT`.
        const DONTWAIT = consts::MSG_DONTWAIT;
        /// `MSG_EOR`.
        const EOR = consts::MSG_EOR;
        /// `MSG_WAITALL`.
        const WAITALL = consts::MSG_WAITALL;
        /// `MSG_NOSIGNAL`.
        const NOSIGNAL = consts::MSG_NOSIGNAL;
        /// `MSG_MORE`.
        const MORE = consts::MSG_MORE;
        /// `MSG_WAITFORONE`.
        const WAITFORONE = consts::MSG_WAITFORONE;
        /// `MSG_CMSG_CLOEXEC`.
        const CMSG_CLOEXEC = consts::MSG_CMSG_CLOEXEC;
        /// Any other bit, kept as given.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// The flags of `socket`'s type argument and of `accept4`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct SockFlags: i32 {
        /// `SOCK_NONBLOCK`.
        const NONBLOCK = consts::SOCK_NONBLOCK;
        /// `SOCK_CLOEXEC`.
        const CLOEXEC = consts::SOCK_CLOEXEC;
        /// Any other bit, kept as given.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// `poll` events and revents (`POLL*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct PollFlags: i16 {
        /// `POLLIN`.
        const IN = consts::POLLIN;
        /// `POLLPRI`.
        const PRI = consts::POLLPRI;
        /// `POLLOUT`.
        const OUT = consts::POLLOUT;
        /// `POLLERR`.
        const ERR = consts::POLLERR;
        /// `POLLHUP`.
        const HUP = consts::POLLHUP;
        /// `POLLNVAL`.
        const NVAL = consts::POLLNVAL;
        /// `POLLRDNORM`.
        const RDNORM = consts::POLLRDNORM;
        /// `POLLWRNORM`.
        const WRNORM = consts::POLLWRNORM;
        /// `POLLRDHUP`.
        const RDHUP = consts::POLLRDHUP;
        /// Any other bit, kept as given.
        const _ = !0;
    }
}

macro_rules! raw {
    ($t:ty, $raw:ty) => {
        impl From<$raw> for $t {
            fn from(v: $raw) -> $t {
                <$t>::from_bits_retain(v)
            }
        }
        impl From<$t> for $raw {
            fn from(v: $t) -> $raw {
                v.bits()
            }
        }
    };
}
raw!(MsgFlags, i32);
raw!(SockFlags, i32);
raw!(PollFlags, i16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_bits_travel_unchanged() {
        let f = MsgFlags::from(0x4000_0040 | 0x0100_0000);
        assert!(f.contains(MsgFlags::DONTWAIT | MsgFlags::CMSG_CLOEXEC));
        assert_eq!(i32::from(f), 0x4100_0040);
        assert_eq!(PollFlags::IN | PollFlags::OUT, PollFlags::from(5));
    }
}
