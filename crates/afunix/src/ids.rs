//! The numbers a process names things by: its pid and its fds.
//!
//! Distinct types, so that `w.close(fd, pid)` does not compile. Each is a
//! plain number underneath (a `pid_t`, an `int` fd) and crosses into the
//! raw numbers only where Linux's ABI does: SCM_RIGHTS payloads, credentials,
//! a program's registers.

use core::fmt;

/// A process id in a world's pid namespace (`pid_t`, the thread-group id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(i32);

impl Pid {
    /// `init` (pid 1): exists in every world, runs no calls.
    pub const INIT: Pid = Pid(1);

    /// A pid from its number (e.g. one a program wrote in `struct ucred`).
    pub const fn from_raw(pid: i32) -> Pid {
        Pid(pid)
    }

    /// The number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }
}

/// A file descriptor: an index into one process's fd table. It means
/// nothing in another process (SCM_RIGHTS gives the receiver its own).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fd(i32);

impl Fd {
    /// An fd from its number, as a program passes it (it may be negative
    /// or not open: the call answers `EBADF` as Linux does).
    pub const fn from_raw(fd: i32) -> Fd {
        Fd(fd)
    }

    /// The number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }
}

/// The number, where the ABI wants an `int` (an SCM_RIGHTS payload).
impl From<Fd> for i32 {
    fn from(fd: Fd) -> i32 {
        fd.0
    }
}

macro_rules! show {
    ($t:ident, $prefix:literal) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}
show!(Pid, "pid ");
show!(Fd, "fd ");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_print() {
        assert_eq!(Fd::from_raw(3).as_raw(), 3);
        assert_eq!(
            format!("{:?} {}", Fd::from_raw(3), Pid::from_raw(7)),
            "fd 3 7"
        );
        assert_eq!(Pid::INIT.as_raw(), 1);
    }
}
