//! If the supervisor dies, the program dies with it.
//!
//! The guard is a process of its own (forked before the supervisor starts
//! any thread, in its own process group, outside the filter). The
//! supervisor sends it a pidfd of every process of the program as it first
//! sees it; if the guard's socket to the supervisor closes without the
//! supervisor's "done", the guard sends `SIGKILL` to every one of them
//! (`pidfd_send_signal`: no pid can have been reused), so no process runs
//! on with placeholders nobody serves.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The supervisor's end of the guard.
pub struct Guard {
    sock: OwnedFd,
}

const PIDFD: u8 = b'P';
const DONE: u8 = b'D';

impl Guard {
    /// Start the guard (a grandchild, so that it is nobody's child to wait
    /// for in the supervisor). Call before any thread exists and before
    /// the supervisor becomes a subreaper.
    pub fn spawn() -> io::Result<Guard> {
        let mut sv = [0i32; 2];
        // SAFETY: `sv` has room for two fds.
        if unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                sv.as_mut_ptr(),
            )
        } < 0
        {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the process has one thread (the caller's promise), so the
        // child may allocate; it runs `guard_main` and exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: our own fds in the child; the intermediate child
            // forks the guard and exits at once.
            unsafe {
                libc::close(sv[0]);
                if libc::fork() != 0 {
                    libc::_exit(0);
                }
                libc::setpgid(0, 0);
            }
            guard_main(sv[1]);
        }
        // SAFETY: closing the child's end in the parent; `sv[0]` is ours;
        // reaping the intermediate child.
        unsafe {
            libc::close(sv[1]);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        // SAFETY: a fresh fd from socketpair.
        Ok(Guard {
            sock: unsafe { OwnedFd::from_raw_fd(sv[0]) },
        })
    }

    /// Hand the guard a pidfd of a process of the program.
    pub fn watch(&self, pidfd: RawFd) {
        send(self.sock.as_raw_fd(), PIDFD, Some(pidfd));
    }

    /// The run ended normally: the guard exits without killing.
    pub fn done(self) {
        send(self.sock.as_raw_fd(), DONE, None);
    }
}

fn send(sock: RawFd, byte: u8, fd: Option<RawFd>) {
    let mut buf = [byte];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for one cmsghdr with one int (CMSG_SPACE(4) = 24).
    let mut cbuf = [0u64; 3];
    // SAFETY: a zeroed msghdr pointing at live local buffers; the cmsg
    // header is written within `cbuf` (24 bytes, 8-aligned).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(fd) = fd {
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = 24;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), fd);
        }
        libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
    }
}

/// The guard: collect pidfds until the socket closes, then kill them all
/// unless the supervisor said it was done.
fn guard_main(sock: RawFd) -> ! {
    let mut pidfds: Vec<i32> = Vec::new();
    let mut done = false;
    loop {
        let mut buf = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut cbuf = [0u64; 3];
        // SAFETY: as in `send`; the kernel fills `cbuf` up to 24 bytes.
        let (n, fd) = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = 24;
            let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
            let c = libc::CMSG_FIRSTHDR(&msg);
            let fd = if n > 0 && !c.is_null() && (*c).cmsg_type == libc::SCM_RIGHTS {
                Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>()))
            } else {
                None
            };
            (n, fd)
        };
        if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            break;
        }
        match buf[0] {
            PIDFD => pidfds.extend(fd),
            DONE => done = true,
            _ => {}
        }
    }
    if !done {
        for fd in &pidfds {
            // SAFETY: a pidfd we received; SIGKILL with no siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    *fd,
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        }
    }
    // SAFETY: leave without running the parent's atexit handlers.
    unsafe { libc::_exit(0) }
}
