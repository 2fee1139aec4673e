//! The few raw calls the `afunix bench` command needs on the host kernel,
//! behind a safe API: a unix socketpair, `sendmsg` and `recvmsg` on it (the
//! same calls, with the same buffers, as the model's benchmark makes), and
//! `close` (by dropping the pair).
//!
//! These run in the calling process and thread, not in a helper: the point
//! is to measure the kernel's own send/receive path from several threads.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The size of the `msg_name` buffer the model's `recvmsg` offers.
const NAME_LEN: usize = 128;

/// A connected pair of unix sockets of this process, closed on drop.
#[derive(Debug)]
pub struct BenchPair {
    ends: [OwnedFd; 2],
}

impl BenchPair {
    /// `socketpair(AF_UNIX, ty | SOCK_CLOEXEC, 0)` (`ty`: `SOCK_DGRAM`,
    /// `SOCK_STREAM` or `SOCK_SEQPACKET`).
    pub fn new(ty: i32) -> io::Result<BenchPair> {
        let mut fds = [-1i32; 2];
        // SAFETY: `fds` is a valid, writable array of two ints, as
        // socketpair(2) requires; it writes nothing on failure.
        let r = unsafe {
            libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: on success both fds are freshly opened and owned by no one
        // else; each OwnedFd takes sole ownership (and closes it on drop).
        let ends = unsafe { [OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])] };
        Ok(BenchPair { ends })
    }

    /// `sendmsg(end, {iov = [data]}, 0)` on end 0 or 1: the bytes sent.
    pub fn send(&self, end: usize, data: &[u8]) -> io::Result<usize> {
        let fd = self.ends[end & 1].as_raw_fd();
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: an all-zero msghdr is valid (no name, no control).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: `msg` points at one iovec describing `data`, which lives
        // (and is only read) for the duration of the call; `fd` is open
        // because `self` owns it.
        let n = unsafe { libc::sendmsg(fd, &msg, 0) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// `recvmsg(end, {iov = [buf], name = 128 bytes}, 0)` on end 0 or 1:
    /// the return value (bytes received, or the datagram's length).
    pub fn recv(&self, end: usize, buf: &mut [u8]) -> io::Result<usize> {
        let fd = self.ends[end & 1].as_raw_fd();
        let mut name = [0u8; NAME_LEN];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: an all-zero msghdr is valid (no name, no control).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = name.as_mut_ptr().cast();
        msg.msg_namelen = NAME_LEN as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: `msg` points at `name` (NAME_LEN writable bytes) and one
        // iovec describing `buf` (writable, exclusively borrowed), all of
        // which outlive the call; `fd` is open because `self` owns it.
        let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dgram_and_stream_round_trip() {
        for ty in [libc::SOCK_DGRAM, libc::SOCK_STREAM] {
            let p = BenchPair::new(ty).unwrap();
            assert_eq!(p.send(0, b"hello").unwrap(), 5);
            let mut buf = [0u8; 16];
            assert_eq!(p.recv(1, &mut buf).unwrap(), 5);
            assert_eq!(&buf[..5], b"hello");
        }
    }

    #[test]
    fn bad_type_is_an_error() {
        assert!(BenchPair::new(12345).is_err());
    }
}
