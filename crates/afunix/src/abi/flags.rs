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

bitflags::bitflags! {
    /// The flags of `open` (and of `pipe2`, which takes `O_NONBLOCK`,
    /// `O_CLOEXEC` and `O_DIRECT`): the access mode in the low two bits
    /// (`O_RDONLY` is [`OFlags::RDONLY`], no bit), then the `O_*` bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct OFlags: i32 {
        /// `O_WRONLY`.
        const WRONLY = consts::O_WRONLY;
        /// `O_RDWR`.
        const RDWR = consts::O_RDWR;
        /// `O_CREAT`.
        const CREAT = consts::O_CREAT;
        /// `O_EXCL`.
        const EXCL = consts::O_EXCL;
        /// `O_TRUNC`.
        const TRUNC = consts::O_TRUNC;
        /// `O_APPEND`.
        const APPEND = consts::O_APPEND;
        /// `O_NONBLOCK`.
        const NONBLOCK = consts::O_NONBLOCK;
        /// `O_DIRECTORY`.
        const DIRECTORY = consts::O_DIRECTORY;
        /// `O_CLOEXEC`.
        const CLOEXEC = consts::O_CLOEXEC;
        /// `O_PATH`.
        const PATH = consts::O_PATH;
        /// Any other bit, kept as given.
        const _ = !0;
    }
}

impl OFlags {
    /// `O_RDONLY`: access mode 0, no bit set.
    pub const RDONLY: OFlags = OFlags::empty();
}

/// `socket`'s and `socketpair`'s type argument: a type (`SOCK_STREAM`,
/// `SOCK_DGRAM`, `SOCK_SEQPACKET`, or any other number, which reaches the
/// kernel's own `ESOCKTNOSUPPORT`/`EINVAL` rules) with [`SockFlags`] or'ed
/// in: `SocketType::DGRAM | SockFlags::CLOEXEC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketType(i32);

impl SocketType {
    /// `SOCK_STREAM`.
    pub const STREAM: SocketType = SocketType(consts::SOCK_STREAM);
    /// `SOCK_DGRAM`.
    pub const DGRAM: SocketType = SocketType(consts::SOCK_DGRAM);
    /// `SOCK_SEQPACKET`.
    pub const SEQPACKET: SocketType = SocketType(consts::SOCK_SEQPACKET);

    /// The word as the system call takes it.
    pub const fn bits(self) -> i32 {
        self.0
    }

    /// The type without the flags (`type & SOCK_TYPE_MASK`).
    pub const fn kind(self) -> i32 {
        self.0 & consts::SOCK_TYPE_MASK
    }

    /// The flags or'ed into the type.
    pub const fn flags(self) -> SockFlags {
        SockFlags::from_bits_retain(self.0 & !consts::SOCK_TYPE_MASK)
    }
}

impl core::ops::BitOr<SockFlags> for SocketType {
    type Output = SocketType;
    fn bitor(self, f: SockFlags) -> SocketType {
        SocketType(self.0 | f.bits())
    }
}

/// `shutdown`'s `how`: [`Shutdown::READ`], [`Shutdown::WRITE`],
/// [`Shutdown::BOTH`], or any other number (the kernel's `EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shutdown(i32);

impl Shutdown {
    /// `SHUT_RD`.
    pub const READ: Shutdown = Shutdown(consts::SHUT_RD);
    /// `SHUT_WR`.
    pub const WRITE: Shutdown = Shutdown(consts::SHUT_WR);
    /// `SHUT_RDWR`.
    pub const BOTH: Shutdown = Shutdown(consts::SHUT_RDWR);

    /// The number as the system call takes it.
    pub const fn raw(self) -> i32 {
        self.0
    }
}

macro_rules! newtype_raw {
    ($t:ident) => {
        impl From<i32> for $t {
            fn from(v: i32) -> $t {
                $t(v)
            }
        }
        impl From<$t> for i32 {
            fn from(v: $t) -> i32 {
                v.0
            }
        }
    };
}
newtype_raw!(SocketType);
newtype_raw!(Shutdown);

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
raw!(OFlags, i32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_bits_travel_unchanged() {
        let f = MsgFlags::from(0x4000_0040 | 0x0100_0000);
        assert!(f.contains(MsgFlags::DONTWAIT | MsgFlags::CMSG_CLOEXEC));
        assert_eq!(i32::from(f), 0x4100_0040);
        assert_eq!(PollFlags::IN | PollFlags::OUT, PollFlags::from(5));
        let t = SocketType::DGRAM | SockFlags::NONBLOCK | SockFlags::CLOEXEC;
        assert_eq!(t.bits(), 2 | 0o4000 | 0o2000000);
        assert_eq!(
            (t.kind(), t.flags()),
            (2, SockFlags::NONBLOCK | SockFlags::CLOEXEC)
        );
        assert_eq!(SocketType::from(99).kind(), 99 & 0xf);
        assert_eq!(i32::from(OFlags::RDWR | OFlags::CREAT), 0o102);
        assert_eq!(OFlags::RDONLY.bits(), 0);
    }
}
