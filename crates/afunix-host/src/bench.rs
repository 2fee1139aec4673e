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

impl BenchPair {
    /// The raw fd of end 0 or 1 (still owned by the pair).
    pub fn raw_fd(&self, end: usize) -> i32 {
        self.ends[end & 1].as_raw_fd()
    }
}

/// `CMSG_SPACE(4 * 253)`: the control buffer of the fd-passing round trip.
const RIGHTS_SPACE: usize = 16 + 4 * 253 + 4;

impl BenchPair {
    /// `sendmsg(end, {iov = [data], control = SCM_RIGHTS fds}, 0)`.
    pub fn send_fds(&self, end: usize, data: &[u8], fds: &[i32]) -> io::Result<usize> {
        let fd = self.ends[end & 1].as_raw_fd();
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        let mut control = [0u64; RIGHTS_SPACE.div_ceil(8)];
        // SAFETY: `control` is 8-aligned and large enough for a cmsghdr
        // followed by 253 ints; the byte view covers exactly it.
        let bytes: &mut [u8] =
            unsafe { std::slice::from_raw_parts_mut(control.as_mut_ptr().cast(), RIGHTS_SPACE) };
        let Some(len) = afunix::abi::cmsg::write_rights(bytes, fds) else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        // SAFETY: an all-zero msghdr is valid (no name, no control).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = len.next_multiple_of(8);
        }
        // SAFETY: `msg` points at one iovec describing `data` and at
        // `control`, both alive and only read during the call; `fd` is
        // open because `self` owns it.
        let n = unsafe { libc::sendmsg(fd, &msg, 0) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// `recvmsg(end, {iov = [buf], name = 128 bytes, control = room for
    /// 253 fds}, 0)`: the bytes received and the fds installed, owned (so
    /// dropping them closes them).
    pub fn recv_fds(&self, end: usize, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
        let fd = self.ends[end & 1].as_raw_fd();
        let mut name = [0u8; NAME_LEN];
        let mut control = [0u64; RIGHTS_SPACE.div_ceil(8)];
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
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = RIGHTS_SPACE;
        // SAFETY: `msg` points at `name`, one iovec over `buf` and
        // `control`, all writable and alive for the call; `fd` is open.
        let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        // SAFETY: the kernel wrote `msg_controllen` bytes of `control`.
        let bytes: &[u8] = unsafe {
            std::slice::from_raw_parts(
                control.as_ptr().cast(),
                msg.msg_controllen.min(RIGHTS_SPACE),
            )
        };
        let mut fds = Vec::new();
        if bytes.len() >= 16 {
            let clen = u64::from_ne_bytes(bytes[..8].try_into().unwrap_or_default()) as usize;
            let data = bytes.get(16..clen.min(bytes.len())).unwrap_or_default();
            for c in data.chunks_exact(4) {
                let raw = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                // SAFETY: SCM_RIGHTS just installed `raw` in this process
                // and nothing else owns it.
                fds.push(unsafe { OwnedFd::from_raw_fd(raw) });
            }
        }
        Ok((n, fds))
    }
}

/// Bytes of heap this process has allocated and not freed (glibc's
/// `mallinfo2().uordblks`, the main arena): the benchmark reads it before
/// and after building idle objects to count what they cost, in bytes of
/// heap rather than guesses from `size_of`.
pub fn heap_in_use() -> usize {
    // SAFETY: mallinfo2(3) takes no arguments, only reads the allocator's
    // statistics and returns a plain struct by value.
    let m = unsafe { libc::mallinfo2() };
    m.uordblks
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
    fn fds_travel_and_are_owned() {
        let p = BenchPair::new(libc::SOCK_DGRAM).unwrap();
        let q = BenchPair::new(libc::SOCK_DGRAM).unwrap();
        let fd = q.ends[0].as_raw_fd();
        assert_eq!(p.send_fds(0, b"xy", &[fd; 3]).unwrap(), 2);
        let mut buf = [0u8; 4];
        let (n, fds) = p.recv_fds(1, &mut buf).unwrap();
        assert_eq!((n, fds.len()), (2, 3));
        assert!(fds.iter().all(|f| f.as_raw_fd() != fd));
    }

    #[test]
    fn bad_type_is_an_error() {
        assert!(BenchPair::new(12345).is_err());
    }
}
