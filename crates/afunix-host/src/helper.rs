//! The helper process: what runs in a forked child. It sets itself up
//! (namespaces, directory, fds, credentials, limits, signals), then serves
//! requests from its channel until told to exit or the backend goes away.
//!
//! Runs Rust after `fork` without `exec`. That is sound because the parent
//! forks through glibc's `fork` (which keeps malloc usable in the child) and
//! the child touches no lock another thread of the parent could hold
//! (no stdio, no std locks); helpers themselves are single-threaded, so the
//! raw `clone` they use for scenario forks is sound too.

use crate::codec::{Request, Response};
use crate::sys::{self, recv_frame, send_frame};
use afunix::Errno;
use afunix_backend::backend::{
    Call, Lower, Never, Out, Raw, RecvBuf, Reply, SendBuf, SockOpt, TaskSpec,
};
use afunix_backend::call::Arg;
use std::convert::Infallible;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The channel's current fd number in this child (it moves during setup),
/// for reporting a failure.
static CHAN: AtomicI32 = AtomicI32::new(-1);

/// Set by the SIGPIPE handler; cleared before each call.
static SIGPIPE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigpipe(_sig: libc::c_int) {
    SIGPIPE.store(true, Ordering::SeqCst);
}

/// How the helper gets into the run's namespaces.
pub(crate) enum Ns {
    /// A keeper: join `user` first (the run's user namespace, for a further
    /// network namespace without root), unshare new namespaces
    /// (`CLONE_NEWNET`, plus `CLONE_NEWUSER` for the first keeper when not
    /// root), then wait for `Go`.
    Create {
        flags: libc::c_int,
        user: Option<RawFd>,
    },
    /// A scenario process: join the keeper's namespaces.
    Join { user: Option<RawFd>, net: RawFd },
}

/// Everything a child needs, prepared before the fork (no allocation of
/// paths after it).
pub(crate) struct Setup<'a> {
    /// The backend's pid: our parent, checked against `getppid`.
    pub backend_pid: i32,
    /// Our end of the channel (any number; moved up high).
    pub chan: RawFd,
    /// Namespaces.
    pub ns: Ns,
    /// The run's directory.
    pub dir: &'a CStr,
    /// Credentials and limits; `None` for the keeper (stays as it is).
    pub spec: Option<&'a TaskSpec>,
    /// Running inside a user namespace (no root on the host).
    pub userns: bool,
    /// A scenario helper's RLIMIT_CPU (seconds) and RLIMIT_FSIZE (bytes).
    pub cpu_secs: u64,
    pub file_size: u64,
}

/// A scenario helper's channel sits this far above `max(nofile, 3)`, out
/// of the way of the fd numbers scenarios write (when the inherited hard
/// limit allows; else right at `max(nofile, 3)`).
const CHAN_OFFSET: u64 = 1000;

/// Run the child and never return to the caller's code.
pub(crate) fn child_main(setup: Setup<'_>) -> ! {
    CHAN.store(setup.chan, Ordering::SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(setup)));
    if let Err(_) | Ok(Err(_)) = &r {
        let msg = match r {
            Ok(Err(m)) => m,
            _ => "helper panicked".to_string(),
        };
        let _ = send_frame(
            CHAN.load(Ordering::SeqCst),
            &Response::Fail(msg).encode(),
            None,
        );
    }
    // SAFETY: leaving the child without running the parent's destructors.
    unsafe { libc::_exit(0) }
}

fn fail(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn pdeathsig(backend_pid: i32) -> Result<(), String> {
    // SAFETY: prctl with integer arguments only.
    if unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    } < 0
    {
        return Err(fail("prctl(PR_SET_PDEATHSIG)"));
    }
    // The parent may have died before the prctl: then nobody would kill us.
    // SAFETY: getppid cannot fail.
    if unsafe { libc::getppid() } != backend_pid {
        // SAFETY: leaving the orphaned child at once.
        unsafe { libc::_exit(1) }
    }
    Ok(())
}

fn close_range(first: u32, last: u32) {
    if first > last {
        return;
    }
    // SAFETY: close_range only closes fds of this (single-threaded) process.
    unsafe {
        libc::syscall(libc::SYS_close_range, first, last, 0u32);
    }
}

/// Set the soft RLIMIT_NOFILE to `n`, the hard one to `chan + 2` (room
/// for a fork's channel at `chan + 1`, see the crate docs).
fn set_nofile(n: u64, chan: RawFd) -> Result<(), String> {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: chan as u64 + 2,
    };
    // SAFETY: a valid rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } < 0 {
        return Err(fail("setrlimit(RLIMIT_NOFILE)"));
    }
    Ok(())
}

/// Set soft and hard limit `which` to `n` (lowering is never refused).
fn set_limit(which: libc::__rlimit_resource_t, n: u64, name: &str) -> Result<(), String> {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: a valid rlimit struct.
    if unsafe { libc::setrlimit(which, &lim) } < 0 {
        return Err(fail(&format!("setrlimit({name})")));
    }
    Ok(())
}

fn run(s: Setup<'_>) -> Result<(), String> {
    pdeathsig(s.backend_pid)?;
    let mut chan = s.chan;
    match s.ns {
        Ns::Create { flags, user } => {
            if let Some(u) = user {
                // SAFETY: setns on an fd we hold; single-threaded process.
                if unsafe { libc::setns(u, libc::CLONE_NEWUSER) } < 0 {
                    return Err(fail("setns(user)"));
                }
            }
            // SAFETY: unshare affects only this process.
            if unsafe { libc::unshare(flags) } < 0 {
                return Err(fail("unshare"));
            }
            send_frame(chan, &Response::Unshared.encode(), None).map_err(|e| e.to_string())?;
            match recv_frame(chan) {
                Ok((b, _)) if Request::decode(&b) == Some(Request::Go) => {}
                _ => return Err("no go-ahead from the backend".into()),
            }
        }
        Ns::Join { user, net } => {
            if let Some(u) = user {
                // SAFETY: setns on an fd we hold; single-threaded process.
                if unsafe { libc::setns(u, libc::CLONE_NEWUSER) } < 0 {
                    return Err(fail("setns(user)"));
                }
            }
            // SAFETY: setns on an fd we hold.
            if unsafe { libc::setns(net, libc::CLONE_NEWNET) } < 0 {
                return Err(fail("setns(net)"));
            }
        }
    }
    let umask = s.spec.map(|t| t.umask).unwrap_or(0o022) & 0o777;
    // SAFETY: chdir to a NUL-terminated path; umask cannot fail.
    unsafe {
        if libc::chdir(s.dir.as_ptr()) < 0 {
            return Err(fail("chdir"));
        }
        libc::umask(umask as libc::mode_t);
    }

    // Move the channel up to its fixed number, above the future limit.
    let nofile = s.spec.map(|t| t.nofile).unwrap_or(1024);
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit to fill.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) };
    let base = nofile.max(3);
    let hi = if s.spec.is_some() && base.saturating_add(CHAN_OFFSET + 2) <= cur.rlim_max {
        base + CHAN_OFFSET
    } else {
        base
    };
    let hi_fd = i32::try_from(hi).map_err(|_| format!("nofile {nofile} is too large"))?;
    let need = hi + 2;
    if cur.rlim_cur < need {
        let lim = libc::rlimit {
            rlim_cur: need,
            rlim_max: cur.rlim_max.max(need),
        };
        // SAFETY: a valid rlimit struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } < 0 {
            return Err(fail(&format!(
                "cannot raise RLIMIT_NOFILE to {need} to place the channel above nofile={nofile}"
            )));
        }
    }
    if chan != hi_fd {
        // SAFETY: dup2 onto a number we own in this single-threaded process.
        if unsafe { libc::dup2(chan, hi_fd) } < 0 {
            return Err(fail("dup2(channel)"));
        }
        chan = hi_fd;
        CHAN.store(chan, Ordering::SeqCst);
    }
    close_range(0, (hi_fd - 1) as u32);
    close_range(hi_fd as u32 + 1, u32::MAX);
    // SAFETY: open a constant path; fds 0–2 are free, so it gets 0.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
    if null != 0 {
        return Err(fail("open(/dev/null)"));
    }
    // SAFETY: dup2 of fd 0 onto 1 and 2.
    unsafe {
        libc::dup2(0, 1);
        libc::dup2(0, 2);
    }
    // The channel is close-on-exec (dup2 cleared the flag): no image a
    // helper could ever exec would inherit it.
    // SAFETY: fcntl on our own channel fd.
    if unsafe { libc::fcntl(chan, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(fail("fcntl(channel, FD_CLOEXEC)"));
    }

    if s.spec.is_some() {
        // Confine every path a scenario call can name: `/` becomes the run
        // directory (our cwd), so absolute paths and `..` resolve beneath
        // it. Done after /dev/null is open and before the credential
        // change (CAP_SYS_CHROOT); the keeper, which reads /proc, stays.
        // No fd of a directory outside is open, and no scenario call can
        // chroot or fchdir, so there is no way back out.
        // SAFETY: chroot/chdir with constant NUL-terminated paths.
        unsafe {
            if libc::chroot(c".".as_ptr()) < 0 {
                return Err(fail("chroot(run directory)"));
            }
            if libc::chdir(c"/".as_ptr()) < 0 {
                return Err(fail("chdir(/) after chroot"));
            }
        }
    }

    if let Some(spec) = s.spec {
        let why = if s.userns {
            " (without root, only uid/gid 0 of the user namespace is mapped: run as root for other ids)"
        } else {
            ""
        };
        let skip_groups = s.userns && spec.groups.iter().all(|g| *g == spec.gid);
        if !skip_groups {
            let groups: Vec<libc::gid_t> = spec.groups.clone();
            // SAFETY: a valid array of `groups.len()` gids.
            if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } < 0 {
                return Err(format!(
                    "{}{why}",
                    fail(&format!("setgroups({:?})", spec.groups))
                ));
            }
        }
        // SAFETY: plain id-changing syscalls.
        if unsafe { libc::setresgid(spec.gid, spec.gid, spec.gid) } < 0 {
            return Err(format!(
                "{}{why}",
                fail(&format!("setresgid({})", spec.gid))
            ));
        }
        // SAFETY: as above.
        if unsafe { libc::setresuid(spec.uid, spec.uid, spec.uid) } < 0 {
            return Err(format!(
                "{}{why}",
                fail(&format!("setresuid({})", spec.uid))
            ));
        }
        set_nofile(nofile, chan)?;
        set_limit(libc::RLIMIT_CPU, s.cpu_secs, "RLIMIT_CPU")?;
        set_limit(libc::RLIMIT_FSIZE, s.file_size, "RLIMIT_FSIZE")?;
        set_limit(libc::RLIMIT_CORE, 0, "RLIMIT_CORE")?;
    }
    // A credential change clears the parent-death signal: set it again.
    pdeathsig(s.backend_pid)?;
    install_signals()?;
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    send_frame(chan, &Response::Ready(me).encode(), None).map_err(|e| e.to_string())?;
    serve(chan, s.backend_pid, s.spec.map(|t| t.nofile));
    Ok(())
}

fn install_signals() -> Result<(), String> {
    catch_sigpipe()?;
    // SAFETY: plain-data sigaction and sigset structs, zero-initialized.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGURG, &dfl, std::ptr::null_mut());
        // SIGURG stays blocked: it never interrupts a call, and a blocked
        // signal is kept pending even though its default action is to
        // ignore it (kernel/signal.c sig_ignored), for `Call::Sigurg`.
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGURG);
        if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) < 0 {
            return Err(fail("sigprocmask"));
        }
    }
    Ok(())
}

/// SIGPIPE caught (reported in `Reply::sigpipe`) and SIGXFSZ ignored: the
/// two dispositions `execve` resets that a helper needs (a caught signal
/// goes back to SIG_DFL; an ignored one would stay ignored, but the helper
/// image sets it again rather than rely on that).
fn catch_sigpipe() -> Result<(), String> {
    // SAFETY: sigaction with a handler that only stores an atomic; the
    // structs are zero-initialized plain data.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigpipe as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGPIPE, &sa, std::ptr::null_mut()) < 0 {
            return Err(fail("sigaction(SIGPIPE)"));
        }
        // Past RLIMIT_FSIZE a write fails with EFBIG instead of killing us.
        let mut ign: libc::sigaction = std::mem::zeroed();
        ign.sa_sigaction = libc::SIG_IGN;
        libc::sigaction(libc::SIGXFSZ, &ign, std::ptr::null_mut());
    }
    Ok(())
}

fn reply_to(chan: RawFd, r: &Response) {
    if send_frame(chan, &r.encode(), None).is_err() {
        // SAFETY: the backend is gone: leave.
        unsafe { libc::_exit(0) }
    }
}

fn serve(chan: RawFd, backend_pid: i32, nofile: Option<u64>) {
    loop {
        let (frame, passed) = match recv_frame(chan) {
            Ok(f) => f,
            // SAFETY: the backend is gone (or spoke garbage): leave.
            Err(_) => unsafe { libc::_exit(0) },
        };
        match Request::decode(&frame) {
            // SAFETY: `exit`: the kernel closes every fd.
            Some(Request::Call(Call::Exit)) => unsafe { libc::_exit(0) },
            Some(Request::Call(Call::Exec)) => {
                SIGPIPE.store(false, Ordering::SeqCst);
                let resp = do_exec(chan, backend_pid, nofile);
                reply_to(chan, &resp);
            }
            Some(Request::Call(mut c)) => {
                hide_channel(&mut c, chan);
                SIGPIPE.store(false, Ordering::SeqCst);
                let mut r = exec(&c, &mut || reply_to(chan, &Response::Starting));
                r.sigpipe = SIGPIPE.swap(false, Ordering::SeqCst);
                reply_to(chan, &Response::Reply(r));
            }
            Some(Request::Fork) => {
                drop(passed);
                let resp = do_fork(chan, backend_pid, nofile);
                reply_to(chan, &resp);
            }
            Some(Request::SetQlen(n)) => reply_to(chan, &admin(set_qlen(n))),
            Some(Request::GcKick) => reply_to(chan, &admin(gc_kick())),
            Some(Request::Stat) => reply_to(chan, &admin(count_sockets())),
            Some(Request::Go) => {}
            None => reply_to(chan, &Response::Fail("malformed request".into())),
        }
    }
}

/// A call naming our channel (or the fork spare next to it) by its fd
/// argument acts on a number that is surely closed instead, as it would
/// in the scenario's process (which has no such fd).
///
/// That includes every fd a `sendmsg` would pass: the ints of each
/// SCM_RIGHTS message in the raw control bytes, found exactly as the
/// kernel walks them (see [`scm_rights_fds`]), so that no scenario can
/// pass itself a copy of its channel.
///
/// The walk is [`Syscall::lower`](afunix_backend::backend::Syscall::lower)'s,
/// over every argument of every call: a call added to the language has its
/// fds hidden without a line here.
pub(crate) fn hide_channel(c: &mut Call, chan: RawFd) {
    let Ok(hidden) = c.lower(&mut Hide { chan });
    *c = hidden;
}

/// The lowering [`hide_channel`] applies: fds and SCM_RIGHTS ints that name
/// the channel (`chan`, `chan + 1`) become `chan + 2`; the rest is copied.
struct Hide {
    chan: RawFd,
}

impl Hide {
    /// `fd`, or the closed number in its place if it names the channel.
    fn hidden(&self, fd: i32) -> i32 {
        if fd == self.chan || fd == self.chan + 1 {
            self.chan + 2
        } else {
            fd
        }
    }
}

impl<'a> Lower<'a, Raw, Raw> for Hide {
    type Error = Infallible;

    fn fd(&mut self, fd: &'a i32) -> Result<i32, Infallible> {
        Ok(self.hidden(*fd))
    }
    fn addr(&mut self, addr: &'a Vec<u8>) -> Result<Vec<u8>, Infallible> {
        Ok(addr.clone())
    }
    fn msg_name(&mut self, name: &'a SendBuf) -> Result<SendBuf, Infallible> {
        Ok(name.clone())
    }
    fn send_control(&mut self, control: &'a Vec<u8>) -> Result<Vec<u8>, Infallible> {
        let mut control = control.clone();
        for off in scm_rights_fds(&control) {
            let mut v = [0u8; 4];
            v.copy_from_slice(&control[off..off + 4]);
            let n = self.hidden(i32::from_ne_bytes(v));
            control[off..off + 4].copy_from_slice(&n.to_ne_bytes());
        }
        Ok(control)
    }
    fn recv_control(&mut self, c: &'a RecvBuf) -> Result<RecvBuf, Infallible> {
        Ok(*c)
    }
    fn opt(&mut self, opt: &'a SockOpt) -> Result<SockOpt, Infallible> {
        Ok(*opt)
    }
    fn namelen(&mut self, n: &'a u32) -> Result<u32, Infallible> {
        Ok(*n)
    }
    fn addrlen(&mut self, n: &'a i32) -> Result<i32, Infallible> {
        Ok(*n)
    }
    fn optlen(&mut self, _: &'a SockOpt, n: &'a i32) -> Result<i32, Infallible> {
        Ok(*n)
    }
    fn syntax<X: Arg>(&mut self, _: &'a ()) -> Result<(), Infallible> {
        Ok(())
    }
    fn only<X: Arg>(&mut self, _: &'static str, x: &'a Never) -> Result<Never, Infallible> {
        match *x {}
    }
}

/// The byte offsets of every fd int the kernel would take from SCM_RIGHTS
/// messages in `control`, walking it as `__scm_send` does
/// (`for_each_cmsghdr`, `CMSG_OK`, `scm_fp_copy`): the first header when
/// `controllen >= sizeof(cmsghdr)`; a header is valid when
/// `16 <= cmsg_len <= bytes left from it` (else the kernel fails the whole
/// call with EINVAL before passing anything, and we stop too); a
/// `SOL_SOCKET`/`SCM_RIGHTS` one carries `(cmsg_len - 16) / 4` ints from
/// offset 16; the next header is `CMSG_ALIGN(cmsg_len)` further and must
/// fit whole.
pub(crate) fn scm_rights_fds(control: &[u8]) -> Vec<usize> {
    // The model's walk is the kernel's (`afunix::abi::cmsg::kernel_cmsgs`);
    // a header that is not CMSG_OK ends it, as it ends __scm_send.
    afunix::abi::cmsg::kernel_cmsgs(control)
        .map_while(Result::ok)
        .filter(|c| c.is_rights())
        .flat_map(|c| c.int_offsets().collect::<Vec<_>>())
        .collect()
}

/// `Call::Exec`: the helper really `execve`s, into the static helper
/// image (`src/bin/afunix-host-helper.rs`, embedded in this library by the
/// build script), so the kernel itself applies FD_CLOEXEC
/// (`do_close_on_exec`) and keeps what `execve` keeps: fd numbers, pid,
/// credentials, umask, limits, root and working directory, network
/// namespace, the blocked SIGURG and whether one is pending, the F_SETOWN
/// owner of every file.
///
/// The image arrives as an fd from the backend exactly as a fork's channel
/// does (soft limit raised to `chan + 2`, received, parked at `chan + 1`,
/// limit lowered), close-on-exec so the new image does not have it. The
/// channel loses FD_CLOEXEC for the exec and the image's start-up
/// ([`image_main`]) sets it again; that start-up opens nothing (no Rust
/// runtime: the binary is `no_main`, and a static glibc only opens fds
/// 0–2 for a set-user-ID exec), so no fd of ours appears below the limit.
///
/// Returns only when the exec failed (the process is unchanged then).
fn do_exec(chan: RawFd, backend_pid: i32, nofile: Option<u64>) -> Response {
    let Some(nofile) = nofile else {
        return Response::Fail("the keeper does not exec".into());
    };
    let image = match receive_spare(chan, nofile, "exec", libc::O_CLOEXEC) {
        Ok(fd) => fd,
        Err(m) => return Response::Fail(m),
    };
    if let Err(m) = set_nofile(nofile, chan) {
        // SAFETY: closing the image fd we just received.
        unsafe { libc::close(image) };
        return Response::Fail(m);
    }
    let args = [
        c"afunix-host-helper".to_owned(),
        cstring(chan),
        cstring(backend_pid),
        cstring(nofile),
    ];
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // No `Starting`: exec never blocks, and the backend waits for the new
    // image's answer with its set-up timeout instead.
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: fcntl on our own channel fd: inherited by the new image.
    unsafe { libc::fcntl(chan, libc::F_SETFD, 0) };
    // SAFETY: execveat of the image fd we hold, with NUL-terminated argv
    // and envp arrays that outlive the call; on success it does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            image,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    let m = fail("exec: execveat(helper image)");
    // SAFETY: fds of this single-threaded process: the channel gets its
    // flag back, the image fd is ours to close.
    unsafe {
        libc::fcntl(chan, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::close(image);
    }
    Response::Fail(m)
}

fn cstring(n: impl std::fmt::Display) -> std::ffi::CString {
    // A decimal number has no NUL byte.
    std::ffi::CString::new(n.to_string()).unwrap_or_default()
}

/// Receive one fd from the backend at `chan + 1`, above the scenario's
/// limit: raise the soft RLIMIT_NOFILE to `chan + 2` (the hard limit
/// already is), ask for the fd (`SendFd`), take it from the `Go` frame and
/// move it to `chan + 1` with `flags` (0 or O_CLOEXEC). On success the soft
/// limit stays raised (a fork child still has to move its channel); the
/// caller lowers it to `nofile` again with [`set_nofile`]. On failure it is
/// lowered here. Used by `fork` (the new helper's channel) and `exec` (the
/// helper image).
fn receive_spare(chan: RawFd, nofile: u64, what: &str, flags: i32) -> Result<RawFd, String> {
    set_nofile(chan as u64 + 2, chan)?;
    let r = (|| {
        reply_to(chan, &Response::SendFd);
        let passed = match recv_frame(chan) {
            Ok((b, Some(fd))) if Request::decode(&b) == Some(Request::Go) => fd,
            Ok(_) => return Err(format!("{what}: no fd received")),
            Err(e) => return Err(format!("{what}: receiving the fd: {e}")),
        };
        let spare = chan + 1;
        if passed.as_raw_fd() == spare {
            // Already in place (dup3 refuses equal numbers): keep it.
            let fd = std::os::fd::IntoRawFd::into_raw_fd(passed);
            let fl = if flags & libc::O_CLOEXEC != 0 {
                libc::FD_CLOEXEC
            } else {
                0
            };
            // SAFETY: F_SETFD on the fd we just took ownership of.
            unsafe { libc::fcntl(fd, libc::F_SETFD, fl) };
            return Ok(fd);
        }
        // SAFETY: dup3 onto a number above the scenario's limit that only
        // this code uses; `passed` is closed when it drops.
        if unsafe { libc::dup3(passed.as_raw_fd(), spare, flags) } < 0 {
            return Err(fail(&format!("{what}: dup3")));
        }
        Ok(spare)
    })();
    if r.is_err() {
        let _ = set_nofile(nofile, chan);
    }
    r
}

/// The helper image's start-up (the `afunix-host-helper` binary, `no_main`):
/// a scenario helper that has just `execve`d for `Call::Exec` (see
/// [`do_exec`]), with argv `afunix-host-helper CHAN BACKEND_PID NOFILE`.
/// It sets again what `execve` resets and nothing else: the channel's
/// FD_CLOEXEC, the parent-death signal, the SIGPIPE handler (not SIGURG:
/// setting its disposition would discard a pending one, and `execve` kept
/// it blocked). Then it answers the `exec` call and serves as before.
#[cfg(feature = "helper-image")]
#[doc(hidden)]
pub fn image_main() -> ! {
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or(-1))
        .collect();
    let (chan, backend_pid, nofile) = match *args.as_slice() {
        [c, b, n] if c >= 0 && n >= 0 => (c as RawFd, b as i32, n as u64),
        // SAFETY: not started by a helper: leave at once.
        _ => unsafe { libc::_exit(2) },
    };
    CHAN.store(chan, Ordering::SeqCst);
    let r = std::panic::catch_unwind(|| -> Result<(), String> {
        // SAFETY: fcntl on the channel this image was started with.
        if unsafe { libc::fcntl(chan, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(fail("exec: fcntl(channel, FD_CLOEXEC)"));
        }
        pdeathsig(backend_pid)?;
        catch_sigpipe()?;
        reply_to(chan, &Response::Reply(Reply::ok(0)));
        serve(chan, backend_pid, Some(nofile));
        Ok(())
    });
    let msg = match r {
        Ok(Ok(())) => None,
        Ok(Err(m)) => Some(m),
        Err(_) => Some("helper image panicked".to_string()),
    };
    if let Some(m) = msg {
        let _ = send_frame(chan, &Response::Fail(m).encode(), None);
    }
    // SAFETY: leaving the process.
    unsafe { libc::_exit(0) }
}

fn admin(r: Result<i64, String>) -> Response {
    match r {
        Ok(v) => Response::Admin(v),
        Err(e) => Response::Fail(e),
    }
}

/// Write the value's decimal form to the sysctl: `Ok(0)`, or `Ok(-errno)`
/// when the kernel refuses it (proc_dointvec: `EINVAL` outside a C int).
fn set_qlen(n: i64) -> Result<i64, String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/net/unix/max_dgram_qlen")
        .map_err(|e| format!("open /proc/sys/net/unix/max_dgram_qlen: {e}"))?;
    match f.write_all(format!("{n}\n").as_bytes()) {
        Ok(()) => Ok(0),
        Err(e) => match e.raw_os_error() {
            Some(code) if code > 0 => Ok(-i64::from(code)),
            _ => Err(format!("write /proc/sys/net/unix/max_dgram_qlen: {e}")),
        },
    }
}

fn gc_kick() -> Result<i64, String> {
    // SAFETY: create a socket and close it at once.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(fail("socket"));
    }
    // SAFETY: closing the fd we just created.
    unsafe { libc::close(fd) };
    Ok(0)
}

fn count_sockets() -> Result<i64, String> {
    let s = std::fs::read_to_string("/proc/self/net/unix")
        .map_err(|e| format!("read /proc/self/net/unix: {e}"))?;
    Ok(s.lines().count().saturating_sub(1) as i64)
}

/// `fork` for the scenario. We raise our soft RLIMIT_NOFILE to `chan + 2`
/// so that the new helper's channel end can be installed, receive it, park
/// it at `chan + 1`, clone with `CLONE_PARENT` (the new helper is the
/// backend's child, so its parent-death signal and its reaping do not
/// depend on us), and both sides lower the soft limit again.
fn do_fork(chan: RawFd, backend_pid: i32, nofile: Option<u64>) -> Response {
    let Some(nofile) = nofile else {
        return Response::Fail("the keeper does not fork".into());
    };
    let restore = || set_nofile(nofile, chan);
    let spare = match receive_spare(chan, nofile, "fork", 0) {
        Ok(fd) => fd,
        Err(m) => return Response::Fail(m),
    };
    // SAFETY: raw clone without a new stack behaves as fork; this helper is
    // single-threaded, so no lock can be held by another thread.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        // The child: the spare becomes our channel, at the same number.
        // SAFETY: fds of this single-threaded process.
        unsafe {
            libc::dup2(spare, chan);
            libc::close(spare);
            libc::fcntl(chan, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        let setup = restore().and_then(|_| pdeathsig(backend_pid));
        // SAFETY: getpid cannot fail.
        let me = unsafe { libc::getpid() };
        match setup {
            Ok(()) => Response::Ready(me),
            Err(e) => {
                let _ = send_frame(chan, &Response::Fail(e).encode(), None);
                // SAFETY: leave the failed child.
                unsafe { libc::_exit(1) }
            }
        }
    } else {
        let err = if pid < 0 {
            Some(fail("fork: clone"))
        } else {
            None
        };
        // SAFETY: closing our copy of the child's channel.
        unsafe { libc::close(spare) };
        let _ = restore();
        match err {
            Some(m) => Response::Fail(m),
            None => Response::Forked(pid as i32),
        }
    }
}

fn last_errno() -> Errno {
    Errno::from_raw(sys::errno())
}

fn ret(r: isize) -> Result<i64, Errno> {
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(r as i64)
    }
}

/// A zeroed buffer of `len` bytes, `None` when it cannot be allocated.
/// Allocated zeroed (calloc: fresh pages for large sizes), so a huge
/// buffer the kernel barely writes costs no memory.
fn buffer(len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: `layout` has a nonzero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` was allocated by the global allocator with the layout of
    // `len` bytes (align 1), all initialized (zeroed); capacity = length.
    Some(unsafe { Vec::from_raw_parts(p, len, len) })
}

fn reply(r: Result<i64, Errno>, out: impl FnOnce(i64) -> Out) -> Reply {
    match r {
        Ok(v) => Reply::with(v, out(v)),
        Err(e) => Reply::err(e),
    }
}

fn plain(r: Result<i64, Errno>) -> Reply {
    reply(r, |_| Out::None)
}

fn nonnull(b: &[u8]) -> *const libc::c_void {
    b.as_ptr() as *const libc::c_void
}

/// Execute one scenario call; `starting` is called right before the call
/// enters the kernel (buffers are ready by then).
fn exec(call: &Call, starting: &mut dyn FnMut()) -> Reply {
    let oom = || Reply::err(Errno::ENOMEM);
    match call {
        Call::Socket { ty, protocol } => {
            starting();
            // SAFETY: integer arguments only.
            plain(ret(
                unsafe { libc::socket(libc::AF_UNIX, *ty, *protocol) } as isize
            ))
        }
        Call::Socketpair { ty, protocol } => {
            let mut sv = [-1i32; 2];
            starting();
            // SAFETY: `sv` has room for two ints.
            let r = ret(
                unsafe { libc::socketpair(libc::AF_UNIX, *ty, *protocol, sv.as_mut_ptr()) }
                    as isize,
            );
            reply(r, |_| Out::Pair(sv))
        }
        Call::Bind { fd, addr } => {
            starting();
            // SAFETY: `addr` is readable for its length.
            plain(ret(unsafe {
                libc::bind(
                    *fd,
                    nonnull(addr) as *const libc::sockaddr,
                    addr.len() as libc::socklen_t,
                )
            } as isize))
        }
        Call::Connect { fd, addr } => {
            starting();
            // SAFETY: `addr` is readable for its length.
            plain(ret(unsafe {
                libc::connect(
                    *fd,
                    nonnull(addr) as *const libc::sockaddr,
                    addr.len() as libc::socklen_t,
                )
            } as isize))
        }
        Call::Listen { fd, backlog } => {
            starting();
            // SAFETY: integer arguments only.
            plain(ret(unsafe { libc::listen(*fd, *backlog) } as isize))
        }
        Call::Accept { fd, flags } => {
            starting();
            // SAFETY: NULL address and length are allowed.
            plain(ret(unsafe {
                libc::accept4(*fd, std::ptr::null_mut(), std::ptr::null_mut(), *flags)
            } as isize))
        }
        Call::Sendmsg {
            fd,
            name,
            iov,
            control,
            flags,
        } => {
            let mut iovs: Vec<libc::iovec> = iov
                .iter()
                .map(|b| match b {
                    SendBuf::Bytes(d) => libc::iovec {
                        iov_base: nonnull(d) as *mut libc::c_void,
                        iov_len: d.len(),
                    },
                    SendBuf::Null(n) => libc::iovec {
                        iov_base: std::ptr::null_mut(),
                        iov_len: *n,
                    },
                })
                .collect();
            // SAFETY: msghdr is plain old data; all-zero is a valid value.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            match name {
                None => {}
                Some(SendBuf::Bytes(n)) => {
                    msg.msg_name = nonnull(n) as *mut libc::c_void;
                    msg.msg_namelen = n.len() as libc::socklen_t;
                }
                Some(SendBuf::Null(n)) => {
                    msg.msg_namelen = *n as libc::socklen_t;
                }
            }
            if !iovs.is_empty() {
                msg.msg_iov = iovs.as_mut_ptr();
                msg.msg_iovlen = iovs.len();
            }
            if !control.is_empty() {
                msg.msg_control = nonnull(control) as *mut libc::c_void;
                msg.msg_controllen = control.len();
            }
            starting();
            // SAFETY: every non-NULL pointer in `msg` refers to a live buffer
            // of the stated length; the kernel only reads them (a NULL base
            // with a length is the kernel's EFAULT to give).
            plain(ret(unsafe { libc::sendmsg(*fd, &msg, *flags) }))
        }
        Call::Recvmsg {
            fd,
            iov,
            namelen,
            control,
            flags,
        } => {
            let mut bufs: Vec<Option<Vec<u8>>> = Vec::with_capacity(iov.len());
            for b in iov {
                match b {
                    RecvBuf::Len(n) => match buffer(*n) {
                        Some(v) => bufs.push(Some(v)),
                        None => return oom(),
                    },
                    RecvBuf::Null(_) => bufs.push(None),
                }
            }
            let mut iovs: Vec<libc::iovec> = bufs
                .iter_mut()
                .zip(iov)
                .map(|(b, r)| libc::iovec {
                    iov_base: match b {
                        Some(v) => v.as_mut_ptr() as *mut libc::c_void,
                        None => std::ptr::null_mut(),
                    },
                    iov_len: r.len(),
                })
                .collect();
            let mut cbuf = match control {
                RecvBuf::Len(n) if *n > 0 => match buffer(*n) {
                    Some(v) => Some(v),
                    None => return oom(),
                },
                _ => None,
            };
            let mut name = [0u8; 128];
            // SAFETY: msghdr is plain old data; all-zero is a valid value.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = name.as_mut_ptr() as *mut libc::c_void;
            msg.msg_namelen = *namelen as libc::socklen_t;
            if !iovs.is_empty() {
                msg.msg_iov = iovs.as_mut_ptr();
                msg.msg_iovlen = iovs.len();
            }
            match (&mut cbuf, control) {
                (Some(c), _) => {
                    msg.msg_control = c.as_mut_ptr() as *mut libc::c_void;
                    msg.msg_controllen = c.len();
                }
                (None, RecvBuf::Null(n)) => msg.msg_controllen = *n,
                (None, _) => {}
            }
            starting();
            // SAFETY: every non-NULL pointer in `msg` refers to a live,
            // writable buffer of the stated length (the name buffer is 128
            // bytes; the kernel caps msg_namelen at sockaddr_storage's 128).
            let r = ret(unsafe { libc::recvmsg(*fd, &mut msg, *flags) });
            reply(r, |n| {
                let mut left = usize::try_from(n).unwrap_or(0);
                let mut data = Vec::new();
                for b in bufs.iter().flatten() {
                    let k = left.min(b.len());
                    data.extend_from_slice(&b[..k]);
                    left -= k;
                }
                let full = msg.msg_namelen;
                let nl = (full as usize).min(*namelen as usize).min(name.len());
                let controllen = msg.msg_controllen;
                let control = match cbuf {
                    Some(mut c) => {
                        c.truncate(controllen.min(c.len()));
                        c
                    }
                    None => Vec::new(),
                };
                Out::Msg {
                    data,
                    name: name[..nl].to_vec(),
                    namelen: full,
                    control,
                    controllen,
                    flags: msg.msg_flags,
                }
            })
        }
        Call::Close { fd } => {
            starting();
            // SAFETY: closes a scenario fd; the channel is above any number a
            // scenario can name... unless it names it, which then just breaks
            // this helper (the backend reports the lost channel).
            plain(ret(unsafe { libc::close(*fd) } as isize))
        }
        Call::Dup { fd } => {
            starting();
            // SAFETY: integer arguments only.
            plain(ret(unsafe { libc::dup(*fd) } as isize))
        }
        Call::Dup2 { fd, newfd } => {
            starting();
            // SAFETY: integer arguments only; `newfd` was kept off the channel.
            plain(ret(unsafe { libc::dup2(*fd, *newfd) } as isize))
        }
        Call::Shutdown { fd, how } => {
            starting();
            // SAFETY: integer arguments only.
            plain(ret(unsafe { libc::shutdown(*fd, *how) } as isize))
        }
        Call::Setsockopt {
            fd,
            opt: SockOpt { level, name },
            value,
        } => {
            if *level == libc::SOL_SOCKET && *name == libc::SO_ATTACH_FILTER {
                let prog = libc::sock_fprog {
                    len: (value.len() / 8) as libc::c_ushort,
                    filter: nonnull(value) as *mut libc::sock_filter,
                };
                starting();
                // SAFETY: `prog` points to `len` 8-byte instructions inside `value`.
                plain(ret(unsafe {
                    libc::setsockopt(
                        *fd,
                        *level,
                        *name,
                        &prog as *const libc::sock_fprog as *const libc::c_void,
                        std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
                    )
                } as isize))
            } else {
                starting();
                // SAFETY: `value` is readable for its length.
                plain(ret(unsafe {
                    libc::setsockopt(
                        *fd,
                        *level,
                        *name,
                        nonnull(value),
                        value.len() as libc::socklen_t,
                    )
                } as isize))
            }
        }
        Call::Getsockopt {
            fd,
            opt: SockOpt { level, name },
            optlen,
        } => {
            let passed = usize::try_from(*optlen).unwrap_or(0);
            // SO_GET_FILTER counts optlen in instructions and copies out
            // 8 bytes per instruction (sk_get_filter), at most BPF_MAXINSNS
            // of them: give it the room, lest the kernel write past `buf`.
            // (SO_GET_FILTER has SO_ATTACH_FILTER's number.)
            let room = if *level == libc::SOL_SOCKET && *name == libc::SO_ATTACH_FILTER {
                passed.min(4096) * 8
            } else {
                passed
            };
            let Some(mut buf) = buffer(room.max(passed)) else {
                return oom();
            };
            // The int as the kernel reads it (`int __user *optlen`).
            let mut len = *optlen as libc::socklen_t;
            starting();
            // SAFETY: `buf` is writable for max(optlen, 0) bytes, the most
            // the kernel writes.
            let r = ret(unsafe {
                libc::getsockopt(
                    *fd,
                    *level,
                    *name,
                    buf.as_mut_ptr() as *mut libc::c_void,
                    &mut len,
                )
            } as isize);
            let got = len as i32;
            match r {
                Ok(v) => {
                    buf.truncate(usize::try_from(got).unwrap_or(0).min(passed));
                    Reply::with(
                        v,
                        Out::Optval {
                            optlen: got,
                            value: buf,
                        },
                    )
                }
                Err(e) if got != *optlen => Reply {
                    ret: Err(e.into()),
                    out: Out::Optval {
                        optlen: got,
                        value: Vec::new(),
                    },
                    sigpipe: false,
                },
                Err(e) => Reply::err(e),
            }
        }
        Call::Getsockname { fd, len: passed } | Call::Getpeername { fd, len: passed } => {
            let mut buf = [0u8; 128];
            // The int as the kernel reads it (negative: EINVAL).
            let mut len = *passed as libc::socklen_t;
            let peer = matches!(call, Call::Getpeername { .. });
            starting();
            let p = buf.as_mut_ptr() as *mut libc::sockaddr;
            // SAFETY: `buf` is writable for 128 bytes, more than any unix
            // address (the kernel copies min(len, address length)).
            let r = ret(unsafe {
                if peer {
                    libc::getpeername(*fd, p, &mut len)
                } else {
                    libc::getsockname(*fd, p, &mut len)
                }
            } as isize);
            reply(r, |_| {
                let full = len as i32;
                let n = usize::try_from(full.min(*passed))
                    .unwrap_or(0)
                    .min(buf.len());
                Out::Addr {
                    addr: buf[..n].to_vec(),
                    len: full,
                }
            })
        }
        Call::SetNonblock { fd, on } => {
            starting();
            // SAFETY: integer arguments only.
            let fl = unsafe { libc::fcntl(*fd, libc::F_GETFL) };
            if fl < 0 {
                return Reply::err(last_errno());
            }
            let nf = if *on {
                fl | libc::O_NONBLOCK
            } else {
                fl & !libc::O_NONBLOCK
            };
            // SAFETY: integer arguments only.
            plain(ret(unsafe { libc::fcntl(*fd, libc::F_SETFL, nf) } as isize))
        }
        Call::GetFd { fd } => {
            starting();
            // SAFETY: integer arguments only.
            plain(ret(unsafe { libc::fcntl(*fd, libc::F_GETFD) } as isize))
        }
        Call::SetOwn { fd } => {
            starting();
            // SAFETY: integer arguments only.
            plain(ret(
                unsafe { libc::fcntl(*fd, libc::F_SETOWN, libc::getpid()) } as isize,
            ))
        }
        Call::Pipe { flags } => {
            let mut fds = [-1i32; 2];
            starting();
            // SAFETY: `fds` has room for two ints.
            let r = ret(unsafe { libc::pipe2(fds.as_mut_ptr(), *flags) } as isize);
            reply(r, |_| Out::Pair(fds))
        }
        Call::Memfd { content } => {
            starting();
            memfd(content)
        }
        Call::Read { fd, len } => {
            let Some(mut buf) = buffer(*len) else {
                return oom();
            };
            starting();
            // SAFETY: `buf` is writable for `len` bytes.
            let r = ret(unsafe { libc::read(*fd, buf.as_mut_ptr() as *mut libc::c_void, *len) });
            reply(r, |n| {
                buf.truncate(usize::try_from(n).unwrap_or(0).min(*len));
                Out::Data(buf)
            })
        }
        Call::Write { fd, data } => {
            starting();
            // SAFETY: `data` is readable for its length.
            plain(ret(unsafe { libc::write(*fd, nonnull(data), data.len()) }))
        }
        Call::Poll {
            fds,
            events,
            timeout,
            ..
        } => {
            let mut p: Vec<libc::pollfd> = fds
                .iter()
                .map(|fd| libc::pollfd {
                    fd: *fd,
                    events: *events,
                    revents: 0,
                })
                .collect();
            starting();
            // SAFETY: `p` holds `p.len()` valid pollfds.
            let r = ret(
                unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, *timeout) } as isize,
            );
            reply(r, |_| Out::Revents(p.iter().map(|x| x.revents).collect()))
        }
        Call::Open { path, flags, mode } => {
            let Some(path) = cpath(path) else {
                return Reply::err(Errno::EINVAL);
            };
            starting();
            // SAFETY: a NUL-terminated path; the mode is passed as the
            // variadic unsigned int open(2) reads.
            plain(ret(
                unsafe { libc::open(path.as_ptr(), *flags, *mode as libc::c_uint) } as isize,
            ))
        }
        Call::Mkdir { path, mode } => {
            let Some(path) = cpath(path) else {
                return Reply::err(Errno::EINVAL);
            };
            starting();
            // SAFETY: a NUL-terminated path.
            plain(ret(
                unsafe { libc::mkdir(path.as_ptr(), *mode as libc::mode_t) } as isize,
            ))
        }
        Call::Unlink { path } => {
            let Some(path) = cpath(path) else {
                return Reply::err(Errno::EINVAL);
            };
            starting();
            // SAFETY: a NUL-terminated path.
            plain(ret(unsafe { libc::unlink(path.as_ptr()) } as isize))
        }
        Call::Chmod { path, mode } => {
            let Some(path) = cpath(path) else {
                return Reply::err(Errno::EINVAL);
            };
            starting();
            // SAFETY: a NUL-terminated path.
            plain(ret(
                unsafe { libc::chmod(path.as_ptr(), *mode as libc::mode_t) } as isize,
            ))
        }
        Call::Rename { old, new } => {
            let (Some(old), Some(new)) = (cpath(old), cpath(new)) else {
                return Reply::err(Errno::EINVAL);
            };
            starting();
            // SAFETY: NUL-terminated paths.
            plain(ret(
                unsafe { libc::rename(old.as_ptr(), new.as_ptr()) } as isize
            ))
        }
        Call::Sigurg => {
            starting();
            Reply::ok(i64::from(take_sigurg()))
        }
        Call::Ioctl { fd, req } => {
            let mut v: libc::c_int = 0;
            starting();
            // SAFETY: the requests of the scenario language write one int.
            let r = ret(unsafe { libc::ioctl(*fd, *req as libc::Ioctl, &mut v) } as isize);
            reply(r, |_| Out::Int(v))
        }
        Call::Pidof { .. } | Call::Exec | Call::Exit => {
            starting();
            // Handled by the backend (pidof) or the serve loop (exec, exit).
            Reply::err(Errno::EINVAL)
        }
        Call::Fork { child, .. } => match *child {},
        Call::Wait { ms } => match *ms {},
    }
}

/// A path for the kernel; `None` if it holds a NUL (the runner rejects
/// those before).
fn cpath(p: &[u8]) -> Option<std::ffi::CString> {
    std::ffi::CString::new(p).ok()
}

/// Consume a pending SIGURG: `true` if one was pending (several pending
/// deliveries of a standard signal are one).
fn take_sigurg() -> bool {
    // SAFETY: a zeroed sigset filled by sigemptyset/sigaddset; a zero
    // timeout makes sigtimedwait poll; it only consumes a pending SIGURG
    // (blocked since setup).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGURG);
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut got = false;
        while libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) == libc::SIGURG {
            got = true;
        }
        got
    }
}

/// `memfd_create`, write the content, seek back to 0; returns the fd.
fn memfd(content: &[u8]) -> Reply {
    // SAFETY: a constant NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"afunix".as_ptr(), 0) };
    if fd < 0 {
        return Reply::err(last_errno());
    }
    // SAFETY: the kernel just gave us this fd.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut off = 0;
    while off < content.len() {
        // SAFETY: `content[off..]` is readable for its length.
        let n = unsafe { libc::write(fd, nonnull(&content[off..]), content.len() - off) };
        if n <= 0 {
            return Reply::err(if n < 0 { last_errno() } else { Errno::EIO });
        }
        off += n as usize;
    }
    // SAFETY: integer arguments only.
    if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
        return Reply::err(last_errno());
    }
    Reply::ok(i64::from(std::os::fd::IntoRawFd::into_raw_fd(owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(len: u64, level: i32, ty: i32) -> Vec<u8> {
        let mut v = len.to_ne_bytes().to_vec();
        v.extend_from_slice(&level.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v
    }

    /// The SCM_RIGHTS walk follows the kernel's `for_each_cmsghdr`.
    #[test]
    fn scm_rights_walk() {
        let (sol, rights) = (libc::SOL_SOCKET, libc::SCM_RIGHTS);
        assert!(scm_rights_fds(&[]).is_empty());
        assert!(scm_rights_fds(&[0; 15]).is_empty());
        // One header with three ints; an unpadded one (20) followed by a
        // second at CMSG_ALIGN(20) = 24.
        let mut c = hdr(28, sol, rights);
        c.extend_from_slice(&[0; 12]);
        assert_eq!(scm_rights_fds(&c), vec![16, 20, 24]);
        let mut c = hdr(20, sol, rights);
        c.extend_from_slice(&[0; 4]);
        c.extend_from_slice(&[0; 4]);
        c.extend(hdr(20, sol, rights));
        c.extend_from_slice(&[0; 4]);
        assert_eq!(scm_rights_fds(&c), vec![16, 40]);
        // Other levels and types are skipped; a bad length ends the walk
        // (the kernel fails the call with EINVAL there).
        let mut c = hdr(20, 0, rights);
        c.extend_from_slice(&[0; 4]);
        c.extend_from_slice(&[0; 4]);
        c.extend(hdr(20, sol, rights));
        c.extend_from_slice(&[0; 4]);
        assert_eq!(scm_rights_fds(&c), vec![40]);
        let mut c = hdr(100, sol, rights);
        c.extend_from_slice(&[0; 4]);
        assert!(scm_rights_fds(&c).is_empty());
        let mut c = hdr(u64::MAX, sol, rights);
        c.extend_from_slice(&[0; 4]);
        assert!(scm_rights_fds(&c).is_empty());
        // hide_channel rewrites exactly those ints.
        let mut c = hdr(24, sol, rights);
        c.extend_from_slice(&2024i32.to_ne_bytes());
        c.extend_from_slice(&5i32.to_ne_bytes());
        let mut call = Call::Sendmsg {
            fd: 3,
            name: None,
            iov: vec![],
            control: c,
            flags: 0,
        };
        hide_channel(&mut call, 2024);
        let Call::Sendmsg { control, .. } = call else {
            unreachable!()
        };
        assert_eq!(&control[16..20], &2026i32.to_ne_bytes());
        assert_eq!(&control[20..24], &5i32.to_ne_bytes());
    }
}
