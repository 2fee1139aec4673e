//! Small wrappers over the system calls the backend itself needs (not the
//! scenario calls: those live in `helper.rs`). Each `unsafe` block is small
//! and says why it is sound.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The calling thread's errno.
pub(crate) fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `-1` means failure with errno.
pub(crate) fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The files user `uid` has in flight on the whole machine
/// (`user_struct::unix_inflight`), by probing `too_many_unix_fds` in a
/// forked child with that uid: a send of one fd fails with ETOOMANYREFS
/// exactly when the count is above the sender's RLIMIT_NOFILE, so a binary
/// search over the soft limit finds it. The child needs to become `uid`
/// (root, or `uid` is ours); at most `NR_OPEN` (2^20) is told apart.
pub(crate) fn files_in_flight(uid: u32) -> io::Result<u64> {
    let mut p = [-1; 2];
    // SAFETY: `p` has room for two ints.
    check(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just gave us both fds.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    // SAFETY: the child makes plain system calls only (no allocation, no
    // lock another thread could hold) and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let n = probe_in_flight(uid);
        // SAFETY: 8 bytes from a live i64, then the child ends.
        unsafe {
            libc::write(wr.as_raw_fd(), (&n as *const i64).cast(), 8);
            libc::_exit(0);
        }
    }
    drop(wr);
    let mut b = [0u8; 8];
    // SAFETY: `b` has room for 8 bytes.
    let got = unsafe { libc::read(rd.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
    reap(pid);
    if got != 8 {
        return Err(io::Error::other("the in-flight probe died"));
    }
    match i64::from_ne_bytes(b) {
        n if n >= 0 => Ok(n as u64),
        e => Err(io::Error::from_raw_os_error(-e as i32)),
    }
}

/// The forked child of [`files_in_flight`]: the count, or `-errno`.
fn probe_in_flight(uid: u32) -> i64 {
    const NR_OPEN: u64 = 1 << 20;
    let fail = || -i64::from(errno());
    // The hard limit as high as the kernel allows, while still root.
    set_nofile(NR_OPEN, NR_OPEN);
    let mut max = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `max` is a live rlimit for the kernel to fill.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut max) };
    let hard = max.rlim_max;
    // SAFETY: plain id-changing system calls of this (single-threaded)
    // child; `setgroups` with an empty list reads no pointer.
    let changed = unsafe {
        libc::geteuid() == uid
            || (libc::setgroups(0, std::ptr::null()) == 0
                && libc::setresgid(uid, uid, uid) == 0
                && libc::setresuid(uid, uid, uid) == 0)
    };
    if !changed {
        return fail();
    }
    let mut sv = [-1; 2];
    // SAFETY: `sv` has room for two ints.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, sv.as_mut_ptr()) } < 0 {
        return fail();
    }
    // Whether a send of one fd passes `too_many_unix_fds` with a soft
    // RLIMIT_NOFILE of `k`; the message is read back at once.
    let passes = |k: u64| -> Result<bool, i64> {
        if !set_nofile(k, hard) {
            return Err(fail());
        }
        match send_fd(sv[0], sv[1]) {
            Ok(()) => {}
            Err(libc::ETOOMANYREFS) => return Ok(false),
            Err(e) => return Err(-i64::from(e)),
        }
        set_nofile(hard, hard);
        recv_and_close(sv[1]).map_err(|e| -i64::from(e))?;
        Ok(true)
    };
    // The smallest limit that passes is the count.
    let (mut lo, mut hi) = (0u64, hard);
    match passes(hi) {
        Ok(true) => {}
        Ok(false) => return hi as i64 + 1,
        Err(e) => return e,
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match passes(mid) {
            Ok(true) => hi = mid,
            Ok(false) => lo = mid + 1,
            Err(e) => return e,
        }
    }
    lo as i64
}

/// `setrlimit(RLIMIT_NOFILE, {cur, max})`; whether it was set.
fn set_nofile(cur: u64, max: u64) -> bool {
    let lim = libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: `lim` is a live rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

/// A msghdr of one byte in `byte` and the control buffer `cbuf` (32
/// bytes: room for one header and one int).
fn one_byte_msg(byte: &mut u8, iov: &mut libc::iovec, cbuf: &mut [u64; 4]) -> libc::msghdr {
    *iov = libc::iovec {
        iov_base: (byte as *mut u8).cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(cbuf);
    msg
}

/// `sendmsg(sock, 1 byte, SCM_RIGHTS [fd], MSG_DONTWAIT)`; the errno.
fn send_fd(sock: RawFd, fd: RawFd) -> Result<(), i32> {
    let (mut byte, mut cbuf) = (0u8, [0u64; 4]);
    let mut iov = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let mut msg = one_byte_msg(&mut byte, &mut iov, &mut cbuf);
    // SAFETY: `msg` points at `cbuf`, 32 bytes, room for one header and
    // one int: the first header and its data are inside it.
    unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
        (libc::CMSG_DATA(c) as *mut i32).write_unaligned(fd);
    }
    // SAFETY: `msg` and everything it points to are live.
    if unsafe { libc::sendmsg(sock, &msg, libc::MSG_DONTWAIT) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Receive one message with room for one fd and close the fd it brought.
fn recv_and_close(sock: RawFd) -> Result<(), i32> {
    let (mut byte, mut cbuf) = (0u8, [0u64; 4]);
    let mut iov = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let mut msg = one_byte_msg(&mut byte, &mut iov, &mut cbuf);
    // SAFETY: `msg` and everything it points to are live.
    if unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_DONTWAIT) } < 0 {
        return Err(errno());
    }
    // SAFETY: the kernel wrote `msg_controllen` bytes of `cbuf`; a header
    // it returns lies inside them, and SCM_RIGHTS data holds an int.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_type == libc::SCM_RIGHTS {
            libc::close((libc::CMSG_DATA(c) as *const i32).read_unaligned());
        }
    }
    Ok(())
}

/// A `SOCK_STREAM` unix socketpair, close-on-exec, in the caller's netns.
pub(crate) fn channel_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut sv = [-1; 2];
    // SAFETY: `sv` is a valid array of two ints for the kernel to fill.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    })?;
    // SAFETY: on success both fds are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
}

/// Send one frame (a `u32` length, then the payload), optionally passing
/// one fd with SCM_RIGHTS on its first byte. Never raises SIGPIPE.
pub(crate) fn send_frame(fd: RawFd, payload: &[u8], pass: Option<RawFd>) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut buf = Vec::with_capacity(4 + payload.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(payload);
    let mut off = 0;
    let mut pass = pass;
    // Room for one cmsghdr with one int (CMSG_SPACE(4) = 24 on x86_64).
    let mut cbuf = [0u64; 3];
    while off < buf.len() {
        let mut iov = libc::iovec {
            iov_base: buf[off..].as_ptr() as *mut libc::c_void,
            iov_len: buf.len() - off,
        };
        // SAFETY: msghdr is plain old data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(p) = pass {
            let bytes = p.to_ne_bytes();
            let c = cbuf.as_mut_ptr() as *mut u8;
            let hdr = libc::cmsghdr {
                cmsg_len: 16 + 4,
                cmsg_level: libc::SOL_SOCKET,
                cmsg_type: libc::SCM_RIGHTS,
            };
            // SAFETY: `cbuf` is 24 bytes, 8-aligned: room for the 16-byte
            // header and the 4-byte fd.
            unsafe {
                std::ptr::write(c as *mut libc::cmsghdr, hdr);
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), c.add(16), 4);
            }
            msg.msg_control = c as *mut libc::c_void;
            msg.msg_controllen = 24;
        }
        // SAFETY: `msg` points to live buffers (`iov`, `buf`, `cbuf`).
        let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        pass = None;
        off += n as usize;
    }
    Ok(())
}

/// Read exactly `buf.len()` bytes; the first `recvmsg` may carry one fd.
fn recv_exact(
    fd: RawFd,
    buf: &mut [u8],
    mut got_fd: Option<&mut Option<OwnedFd>>,
) -> io::Result<()> {
    let mut off = 0;
    while off < buf.len() {
        let mut iov = libc::iovec {
            iov_base: buf[off..].as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len() - off,
        };
        let mut cbuf = [0u64; 4];
        // SAFETY: msghdr is plain old data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if got_fd.is_some() {
            msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = std::mem::size_of_val(&cbuf);
        }
        // SAFETY: `msg` points to live buffers (`iov`, `buf`, `cbuf`).
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the other end of the channel is gone",
            ));
        }
        if let Some(slot) = got_fd.take() {
            let clen = msg.msg_controllen.min(std::mem::size_of_val(&cbuf));
            let c = cbuf.as_ptr() as *const u8;
            if clen >= 20 {
                // SAFETY: `clen` bytes of `cbuf` were written by the kernel;
                // we read a header and one int inside them.
                let (hdr, v) = unsafe {
                    let hdr = std::ptr::read(c as *const libc::cmsghdr);
                    let mut v = [0u8; 4];
                    std::ptr::copy_nonoverlapping(c.add(16), v.as_mut_ptr(), 4);
                    (hdr, i32::from_ne_bytes(v))
                };
                if hdr.cmsg_level == libc::SOL_SOCKET
                    && hdr.cmsg_type == libc::SCM_RIGHTS
                    && hdr.cmsg_len >= 20
                    && v >= 0
                {
                    // SAFETY: the kernel just installed this fd for us.
                    *slot = Some(unsafe { OwnedFd::from_raw_fd(v) });
                }
            }
            if msg.msg_flags & libc::MSG_CTRUNC != 0 && slot.is_none() {
                return Err(io::Error::other(
                    "passed fd could not be installed (MSG_CTRUNC)",
                ));
            }
        }
        off += n as usize;
    }
    Ok(())
}

/// Largest frame accepted: above the run's default byte budget (the most
/// data a reply can carry back), far below what would hurt the machine.
/// The body is allocated as its bytes arrive, so a forged length prefix
/// costs nothing until the bytes are really sent.
const MAX_FRAME: usize = 512 << 20;

/// The allocation step while reading a frame body.
const FRAME_CHUNK: usize = 1 << 20;

/// `SO_RCVTIMEO` on the backend's end of a channel: a frame whose bytes
/// stop coming fails with `EAGAIN` instead of blocking forever.
pub(crate) fn set_rcvtimeo(fd: &OwnedFd, t: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: a valid timeval of the stated size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Read one frame, and the fd passed with it if any.
pub(crate) fn recv_frame(fd: RawFd) -> io::Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut hdr = [0u8; 4];
    let mut passed = None;
    recv_exact(fd, &mut hdr, Some(&mut passed))?;
    let len = u32::from_le_bytes(hdr) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut body = Vec::new();
    while body.len() < len {
        let start = body.len();
        let step = (len - start).min(FRAME_CHUNK);
        body.try_reserve(step)
            .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "frame too large"))?;
        body.resize(start + step, 0);
        recv_exact(fd, &mut body[start..], None)?;
    }
    Ok((body, passed))
}

/// Wait up to `timeout` for `fd` to be readable (or hung up).
pub(crate) fn poll_in(fd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r > 0 {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
    }
}

/// Whether `pid` is an unreaped child of this process. Only such a pid is
/// ever signalled: until we reap it, the kernel cannot give its number to
/// another process, so `kill` cannot hit anything outside the run.
pub(crate) fn is_my_child(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: siginfo_t is plain old data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid with WNOWAIT|WNOHANG only inspects; `info` is valid.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    r == 0
}

/// `kill(pid, SIGKILL)` then reap it (ignoring a pid that is already gone).
/// Refuses any pid that is not an unreaped child of ours.
pub(crate) fn kill_and_reap(pid: i32) {
    if !is_my_child(pid) {
        return;
    }
    // SAFETY: plain syscalls on a pid that is our child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    reap(pid);
}

/// `waitpid(pid, 0)`, retrying on EINTR; ECHILD (already reaped) is fine.
pub(crate) fn reap(pid: i32) {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid int to write to.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 || errno() != libc::EINTR {
            return;
        }
    }
}

/// A sealed, read-only memfd holding `image` (the static helper image),
/// for `execveat(fd, "", AT_EMPTY_PATH)` from a chrooted helper. Written
/// through one fd, then reopened read-only through `/proc/self/fd` and the
/// writable fd closed: the kernel refuses to exec a file that some fd may
/// still write to (`deny_write_access`: ETXTBSY).
#[cfg(afunix_helper_image)]
pub(crate) fn image_memfd(image: &[u8]) -> io::Result<OwnedFd> {
    use std::io::Write;
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // MFD_EXEC (6.3) says so explicitly where vm.memfd_noexec is 1; older
    // kernels refuse the flag with EINVAL and allow exec by default.
    // SAFETY: memfd_create with a NUL-terminated name; the fd is ours.
    let mut fd =
        unsafe { libc::memfd_create(c"afunix-host-helper".as_ptr(), flags | libc::MFD_EXEC) };
    if fd < 0 && errno() == libc::EINVAL {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(c"afunix-host-helper".as_ptr(), flags) };
    }
    check(fd)?;
    // SAFETY: a fresh fd owned by nobody else.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(image)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own memfd.
    check(unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) })?;
    let ro = std::fs::File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    Ok(OwnedFd::from(ro))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_kib() -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    fn write_all(fd: &OwnedFd, b: &[u8]) {
        // SAFETY: `b` is readable for its length.
        let n = unsafe { libc::write(fd.as_raw_fd(), b.as_ptr() as *const libc::c_void, b.len()) };
        assert_eq!(n, b.len() as isize);
    }

    /// A forged huge length prefix with no body: no big allocation, and
    /// the read fails within the channel's timeout instead of blocking.
    #[test]
    fn forged_length_prefix_neither_allocates_nor_blocks() {
        let (mine, theirs) = channel_pair().unwrap();
        set_rcvtimeo(&mine, Duration::from_millis(200)).unwrap();
        let before = rss_kib();
        let t0 = Instant::now();
        write_all(&theirs, &((500u32 << 20).to_le_bytes()));
        write_all(&theirs, b"abc");
        let e = recv_frame(mine.as_raw_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert!(rss_kib() < before + 8 * 1024, "allocated the forged length");
        // Above the bound: refused at once.
        write_all(&theirs, &(u32::MAX.to_le_bytes()));
        let e = recv_frame(mine.as_raw_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }

    /// A pid that is not our child (here a grandchild) is never signalled.
    #[test]
    fn only_our_children_are_killed() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(sh.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let victim: i32 = line.trim().parse().unwrap();
        assert!(!is_my_child(victim));
        kill_and_reap(victim);
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            std::path::Path::new(&format!("/proc/{victim}")).exists(),
            "the victim was killed"
        );
        assert!(!is_my_child(1) && !is_my_child(0) && !is_my_child(-1));
        // Our own child is.
        let me = sh.id() as i32;
        assert!(is_my_child(me));
        // SAFETY: signalling the grandchild we started (cleanup).
        unsafe { libc::kill(victim, libc::SIGKILL) };
        kill_and_reap(me);
        assert!(!is_my_child(me), "reaped");
        let _ = sh.wait();
    }
}
