//! The raw system calls of the supervisor, each in one small wrapper whose
//! `unsafe` block says why it is sound. Everything else in the crate is
//! safe code over these.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cvt(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_fd(r: libc::c_long) -> io::Result<OwnedFd> {
    let fd = cvt(r)? as RawFd;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: a plain syscall with integer arguments.
    cvt_fd(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

/// `pidfd_getfd(pidfd, fd, 0)`: our own fd for the target's open file.
pub fn pidfd_getfd(pidfd: &OwnedFd, fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: a plain syscall with integer arguments.
    cvt_fd(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })
}

/// `fstat(fd)`: (device, inode, mode).
pub fn fstat(fd: &OwnedFd) -> io::Result<(u64, u64, u32)> {
    // SAFETY: `st` is plain data the kernel fills; the fd is ours.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut st) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((st.st_dev, st.st_ino, st.st_mode))
    }
}

/// `fcntl(fd, F_GETFL)`.
pub fn getfl(fd: &OwnedFd) -> io::Result<i32> {
    // SAFETY: fcntl with an integer command on our fd.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) } as libc::c_long).map(|v| v as i32)
}

/// `fcntl(fd, F_SETFL, flags)`.
pub fn setfl(fd: &OwnedFd, flags: i32) -> io::Result<()> {
    // SAFETY: fcntl with integer arguments on our fd.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) } as libc::c_long).map(drop)
}

/// `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two fds the kernel writes.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    cvt(r as libc::c_long)?;
    // SAFETY: both fds were just created for us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `socket(AF_UNIX, ty | SOCK_CLOEXEC, 0)`: a kernel socket.
pub fn unix_socket(ty: i32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments.
    cvt_fd(unsafe { libc::socket(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0) } as libc::c_long)
}

/// `send(fd, bytes, MSG_DONTWAIT)`: how many bytes went.
pub fn send_nb(fd: &OwnedFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `bytes` is a valid buffer of its length.
    let r = unsafe {
        libc::send(
            fd.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    cvt(r as libc::c_long).map(|n| n as usize)
}

/// `recv(fd, buf, MSG_DONTWAIT)`.
pub fn recv_nb(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid writable buffer of its length.
    let r = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    cvt(r as libc::c_long).map(|n| n as usize)
}

/// `shutdown(fd, how)`.
pub fn shutdown(fd: &OwnedFd, how: i32) -> io::Result<()> {
    // SAFETY: integer arguments on our fd.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), how) } as libc::c_long).map(drop)
}

/// `poll` of `fds` for `events` with a timeout in ms: the revents.
pub fn poll(fds: &[RawFd], events: i16, timeout_ms: i32) -> io::Result<Vec<i16>> {
    let each: Vec<(RawFd, i16)> = fds.iter().map(|&fd| (fd, events)).collect();
    poll_each(&each, timeout_ms)
}

/// `poll` of each (fd, events) with a timeout in ms: the revents.
pub fn poll_each(fds: &[(RawFd, i16)], timeout_ms: i32) -> io::Result<Vec<i16>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of `p.len()` pollfds.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    cvt(r as libc::c_long)?;
    Ok(p.iter().map(|p| p.revents).collect())
}

/// `open("/dev/null", O_RDWR | O_CLOEXEC)`.
pub fn dev_null() -> io::Result<OwnedFd> {
    // SAFETY: a constant NUL-terminated path.
    cvt_fd(
        unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) }
            as libc::c_long,
    )
}

/// `eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)`.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: integer arguments.
    cvt_fd(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) } as libc::c_long)
}

/// Add 1 to an eventfd.
pub fn eventfd_kick(fd: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: an 8-byte buffer, as eventfd writes require. A full counter
    // (EAGAIN) means a kick is already pending: nothing to do.
    unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
}

/// Reset an eventfd.
pub fn eventfd_drain(fd: &OwnedFd) {
    let mut b = [0u8; 8];
    // SAFETY: an 8-byte buffer; EAGAIN (nothing pending) is fine.
    unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
}

/// RLIMIT_NOFILE (soft) of another process (1024 if it cannot be read).
pub fn nofile_of(pid: i32) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: 1024,
    };
    // SAFETY: prlimit reads the limit of another process into `r`.
    unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut r) };
    r.rlim_cur
}

/// `tgkill(tgid, tid, sig)`.
pub fn tgkill(tgid: i32, tid: i32, sig: i32) {
    // SAFETY: a signal to one thread; integer arguments.
    unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) };
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphans of our children are ours.
pub fn set_child_subreaper() {
    // SAFETY: prctl with integer arguments on ourselves.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// `waitpid(-1, &status, 0)`: the pid reaped (negative on error).
pub fn waitpid_any(status: &mut i32) -> i32 {
    // SAFETY: waitpid writes the status into the given int.
    unsafe { libc::waitpid(-1, status, 0) }
}

// ---- seccomp user notification ------------------------------------------

/// One notification: who called what.
#[derive(Clone, Copy, Debug)]
pub struct Notif {
    /// Cookie for the answer.
    pub id: u64,
    /// The calling thread's id (in our pid namespace).
    pub tid: i32,
    /// The system call number.
    pub nr: i32,
    /// Its arguments.
    pub args: [u64; 6],
}

/// `SECCOMP_IOCTL_NOTIF_RECV`: the next notification (blocks).
pub fn notif_recv(listener: &OwnedFd) -> io::Result<Notif> {
    // SAFETY: `n` is the zeroed struct the ioctl requires and fills.
    unsafe {
        let mut n: libc::seccomp_notif = std::mem::zeroed();
        if libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Notif {
            id: n.id,
            tid: n.pid as i32,
            nr: n.data.nr,
            args: n.data.args,
        })
    }
}

/// How to answer a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The call returns this value.
    Val(i64),
    /// The call fails with this errno (positive).
    Err(i32),
    /// Let the kernel run the call itself (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
    Continue,
}

/// `SECCOMP_IOCTL_NOTIF_SEND`. `ENOENT`: the caller is gone or was
/// interrupted by a signal meanwhile (the answer is dropped).
pub fn notif_send(listener: &OwnedFd, id: u64, a: Answer) -> io::Result<()> {
    let (val, error, flags) = match a {
        Answer::Val(v) => (v, 0, 0),
        Answer::Err(e) => (0, -e, 0),
        Answer::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
    };
    let mut r = libc::seccomp_notif_resp {
        id,
        val,
        error,
        flags,
    };
    // SAFETY: `r` is a fully initialised response struct.
    let rc = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut r) };
    cvt(rc as libc::c_long).map(drop)
}

/// `SECCOMP_IOCTL_NOTIF_ID_VALID`: whether the caller still waits for
/// this answer (checked after reading its memory, as the man page asks).
pub fn notif_id_valid(listener: &OwnedFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: a pointer to a u64, as the ioctl takes.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &mut id,
        ) == 0
    }
}

/// `SECCOMP_IOCTL_NOTIF_ADDFD`: install our `fd` in the caller's table
/// (`cloexec`: `O_CLOEXEC`), at `at` if given (replacing what is there),
/// else at its lowest free fd; the fd number in the caller.
pub fn notif_addfd(
    listener: &OwnedFd,
    id: u64,
    fd: RawFd,
    cloexec: bool,
    at: Option<i32>,
) -> io::Result<i32> {
    let mut a = libc::seccomp_notif_addfd {
        id,
        flags: if at.is_some() {
            libc::SECCOMP_ADDFD_FLAG_SETFD as u32
        } else {
            0
        },
        srcfd: fd as u32,
        newfd: at.unwrap_or(0) as u32,
        newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
    };
    // SAFETY: `a` is a fully initialised addfd struct.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ADDFD,
            &mut a,
        )
    };
    cvt(rc as libc::c_long).map(|v| v as i32)
}

// ---- the caller's memory --------------------------------------------------

/// Read `len` bytes at `addr` of process `pid` (`process_vm_readv`);
/// `EFAULT` unless every byte is readable.
pub fn read_mem(pid: i32, addr: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    if len == 0 {
        return Ok(buf);
    }
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: `local` describes our own buffer of `len` bytes; the remote
    // address is only dereferenced by the kernel, in the other process.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 || n as usize != len {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    Ok(buf)
}

/// Write `bytes` at `addr` of process `pid` (`process_vm_writev`).
pub fn write_mem(pid: i32, addr: u64, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let local = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: `local` describes our own buffer (only read by the kernel);
    // the remote address is written by the kernel in the other process.
    let n = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
    if n < 0 || n as usize != bytes.len() {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    Ok(())
}
