//! The host backend: scenario calls on the real Linux kernel.
//!
//! [`HostBackend`] implements [`afunix_backend::backend::Backend`] with one forked
//! helper process per scenario process. A helper executes the raw system
//! calls (through `libc`, so malformed control bytes reach the kernel as
//! written) and answers over a private `SOCK_STREAM` channel.
//!
//! # The run's world
//!
//! - A **keeper** process per network namespace label (`TaskSpec::netns`;
//!   label 0 is created with the run, others on first use) unshares a
//!   fresh network namespace (the first one with a user namespace too when
//!   not root; later ones join that user namespace first) and stays in it
//!   for the whole run: it holds the namespace, writes
//!   `net.unix.max_dgram_qlen`, counts `/proc/net/unix` and kicks the
//!   garbage collector. Every helper `setns`es into its label's namespace
//!   after the fork, so abstract names, `/proc/net/unix` and the sysctl are
//!   private to the run. `stat` sums the counts of all keepers.
//! - A fresh temporary directory (mode 0777) is every helper's root
//!   (`chroot`, before the credential change) and working directory, so
//!   no path a scenario writes — absolute, `..`, `hex:` — leaves it; a
//!   helper's umask is its task's. It is removed on drop, and by the
//!   **janitor** (a separate process waiting on a pipe only the backend
//!   holds) when the backend process dies any other way, even by SIGKILL.
//! - [`Limits`] bound a run: wall clock, scenario bytes, processes,
//!   network namespaces, and each helper's RLIMIT_CPU/FSIZE/CORE; see
//!   `docs/THREAT-MODEL.md`.
//! - The channels are created by the backend in *its own* network namespace,
//!   so they never show up in the run's `/proc/net/unix`.
//!
//! # A helper
//!
//! - Has exactly fds 0–2 open (on `/dev/null`) below its RLIMIT_NOFILE; its
//!   channel sits at fd number `max(nofile, 3) + 1000` (right at
//!   `max(nofile, 3)` if the inherited hard limit is lower), above the limit (placed
//!   there before the limit is lowered), close-on-exec. Every inherited
//!   fd is closed. No call can name it: fd arguments, `dup2` targets,
//!   `poll` lists and the fds in SCM_RIGHTS control bytes that name it are
//!   replaced by a closed number. The backend signals only its own
//!   unreaped children, and never trusts a pid a helper reports.
//! - Runs with the task's uid/gid/groups (real, effective and saved): uid 0
//!   keeps every capability, another uid has none. As root, a non-zero uid
//!   is a fresh kernel uid of the run ([`Backend::make_kuid`]), so per-user
//!   kernel counts start from zero in every run.
//! - Catches SIGPIPE (reported in [`Reply::sigpipe`]); SIGURG is blocked
//!   (so it never interrupts a call) and stays pending until
//!   [`Call::Sigurg`] collects it with `sigtimedwait`. A fork child starts
//!   with none pending (the kernel clears them in fork).
//! - Has `PR_SET_PDEATHSIG(SIGKILL)` tied to the backend thread that created
//!   it (set again after the credential change, which clears it).
//!
//! # exec
//!
//! [`Call::Exec`] is a real `execve`, so the kernel's own
//! `do_close_on_exec` closes the FD_CLOEXEC fds, and everything `execve`
//! keeps is kept by the kernel: fd numbers, pid, credentials, umask,
//! limits, root, network namespace, the blocked SIGURG and whether one is
//! pending, F_SETOWN owners. A helper is chrooted into the run's directory,
//! so it cannot exec a file by path: the image is `src/bin/afunix-host-helper.rs`,
//! built *static* by `build.rs` (a nested cargo build with `+crt-static`)
//! and embedded in this library; the backend writes it once per process
//! into a sealed, read-only memfd and passes that to the helper as a fork's
//! channel is passed (below), and the helper runs
//! `execveat(image, "", AT_EMPTY_PATH)` with its channel (number, pid of the
//! backend, `nofile`) in argv. The image is `no_main` (Rust's start-up would
//! reopen a closed fd 0–2 on `/dev/null`) and sets again only what `execve`
//! resets: the channel's FD_CLOEXEC, the parent-death signal, the SIGPIPE
//! handler. If the image could not be built, `exec` is refused with a
//! [`BackendError`].
//!
//! # fork
//!
//! A scenario `fork` really forks the parent's helper, with a raw
//! `clone(CLONE_PARENT)`: the new helper shares the parent's open files and
//! credentials, yet is the *backend's* child, so its parent-death signal
//! and its reaping do not depend on the parent helper (which may exit
//! first). Its channel: the backend creates a new socketpair and passes one
//! end with SCM_RIGHTS. To make room for it in a process at its fd limit
//! (e.g. nofile=5 with fds 0–4 open), the parent helper first raises its
//! own *soft* RLIMIT_NOFILE to `C + 2` (C: its channel's fd number),
//! receives the fd, parks it at `C + 1`, clones, and both processes lower
//! the soft limit back to `nofile`. This needs no privilege (root in a
//! container may lack CAP_SYS_RESOURCE, as on this project's machines),
//! because the **hard** limit of a helper is `C + 2` rather than `nofile`.
//! Nothing a scenario can do observes the hard limit: fd allocation,
//! SCM_RIGHTS installation and the in-flight limit all use the soft limit.
//!
//! # Blocking calls
//!
//! A helper says "starting" right before a call enters the kernel; then
//! [`Backend::start`] waits for the reply or until `/proc/<pid>/stat` shows
//! the helper sleeping (`S`), i.e. blocked in the call.
//!
//! # Assumptions
//!
//! Helpers run Rust code after `fork` without `exec` (until a scenario's
//! `exec` turns one into the helper image). The backend forks with
//! glibc's `fork` (malloc stays usable in the child) and the child touches no
//! lock (no stdio). Use the backend from one thread: the parent-death
//! signal is tied to the thread that created each helper, so if that thread
//! exits while the backend lives, its helpers are killed. A process that
//! forks while other threads may hold locks should serialize those forks.
//!
//! Without root the backend tries a user namespace mapping only uid/gid 0
//! (to the caller's ids); tasks with other ids then fail with a clear
//! [`BackendError`], and `fork` of a helper at its fd limit may fail.

pub mod bench;
mod codec;
mod helper;
mod sys;

#[cfg(feature = "helper-image")]
#[doc(hidden)]
pub use helper::image_main;

/// How many files user `uid` has in flight on this machine right now
/// (`user_struct::unix_inflight`, counted over every process of the user
/// in every namespace), as `too_many_unix_fds` sees it when a process of
/// that uid passes files: a send fails with ETOOMANYREFS while the count is
/// above the sender's RLIMIT_NOFILE (root, which has CAP_SYS_RESOURCE,
/// counts 0). Found by probing the kernel in a forked child with that uid,
/// so the caller must be root or be `uid`; counts above 2^20 read 2^20 + 1.
///
/// A machine's uid can carry files in flight from other programs, and
/// from cycles the kernel's collector never frees (Linux 6.18 leaves
/// some), until reboot; that is why a run as root gives its uids fresh
/// kernel uids ([`Backend::make_kuid`]), whose count starts at 0.
///
/// # Errors
///
/// The errno of the fork, the credential change or the probing calls.
pub fn files_in_flight(uid: u32) -> std::io::Result<u64> {
    sys::files_in_flight(uid)
}

use afunix::Errno;
use afunix_backend::backend::{
    Backend, BackendError, Call, Out, ProcId, Progress, Reply, SendBuf, TaskSpec,
};
use codec::{Request, Response};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a helper may take to set up or to answer an administrative
/// request before the backend gives up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a run's users get their kernel uids as root (see
/// `HostBackend::assign_kuid`): above every range systemd assigns
/// (system, regular and dynamic users, containers up to 0x6fffffff),
/// below its foreign range (0x7ffe0000) and below 2^31, which some tools
/// read as negative.
const KUID_RANGE: std::ops::Range<u32> = 0x7000_0000..0x7f00_0000;

/// How long `gc` waits at most for the socket count to settle.
const GC_MAX: Duration = Duration::from_secs(3);
/// How long the count must stay unchanged for `gc` to call it settled.
const GC_STABLE: Duration = Duration::from_millis(60);

/// The limits of one run: what no scenario can exceed (see
/// `docs/THREAT-MODEL.md`). [`Limits::default`] gives the documented
/// defaults; [`HostBackend::with_limits`] takes others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of the whole run, from [`HostBackend::new`]: past
    /// it every backend call (and a `sleep` that would run past it) fails
    /// with a [`BackendError`]. Default 120 s.
    pub wall_clock: Duration,
    /// Bytes of scenario data a run may push into the kernel, summed over
    /// every call (memfd content, `write` data, `sendmsg` data, names and
    /// control bytes, option values, paths), each call counting
    /// [`CALL_COST`] bytes more for the kernel objects it may pin (a
    /// socket, an skb, an inode). Data in tmpfs (memfds, files) and socket
    /// buffers can only come from these bytes. Default 256 MiB.
    pub max_bytes: u64,
    /// Scenario processes (`task` and `fork`) a run may create. Default 256.
    pub max_procs: usize,
    /// Network namespace labels a run may use. Default 16.
    pub max_netns: usize,
    /// RLIMIT_CPU of every helper, in seconds (SIGKILL past it). Default 60.
    pub cpu_secs: u64,
    /// RLIMIT_FSIZE of every helper, in bytes: no file (nor memfd) grows
    /// past it (`EFBIG`). Default 64 MiB.
    pub file_size: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            wall_clock: Duration::from_secs(120),
            max_bytes: 256 << 20,
            max_procs: 256,
            max_netns: 16,
            cpu_secs: 60,
            file_size: 64 << 20,
        }
    }
}

/// What every call counts against [`Limits::max_bytes`] besides its data:
/// about the kernel memory one call can pin without data (a socket, a
/// queued 1-byte skb, a memfd inode). 256 MiB allow 262144 calls.
pub const CALL_COST: u64 = 1024;

/// The scenario bytes a call hands to the kernel (see [`Limits::max_bytes`]).
fn call_bytes(c: &Call) -> u64 {
    let sb = |b: &SendBuf| match b {
        SendBuf::Bytes(d) => d.len() as u64,
        SendBuf::Null(_) => 0,
    };
    match c {
        Call::Memfd { content } => content.len() as u64,
        Call::Write { data, .. } => data.len() as u64,
        Call::Sendmsg {
            name, iov, control, ..
        } => name.as_ref().map_or(0, sb) + iov.iter().map(sb).sum::<u64>() + control.len() as u64,
        Call::Setsockopt { value, .. } => value.len() as u64,
        Call::Bind { addr, .. } | Call::Connect { addr, .. } => addr.len() as u64,
        Call::Open { path, .. }
        | Call::Mkdir { path, .. }
        | Call::Unlink { path }
        | Call::Chmod { path, .. } => path.len() as u64,
        Call::Rename { old, new } => (old.len() + new.len()) as u64,
        _ => 0,
    }
}

/// One helper: its pid and our end of its channel.
struct Helper {
    pid: i32,
    chan: OwnedFd,
}

/// Where a process's call stands.
enum State {
    /// No call pending.
    Idle,
    /// The call is in the kernel (or its reply is on the way).
    Running,
    /// The call returned; the reply waits to be collected.
    Done(Reply),
}

struct Proc {
    pid: i32,
    /// `None` once the process exited.
    helper: Option<Helper>,
    nofile: u64,
    state: State,
}

/// The scenario calls on the host kernel: one helper process per scenario
/// process, in a private network namespace and a private directory.
///
/// Dropping it kills and reaps every helper and removes the directory.
pub struct HostBackend {
    me: i32,
    dir: PathBuf,
    root: bool,
    dir_c: CString,
    /// One keeper per network namespace label (0 is created with the run).
    keepers: BTreeMap<u32, Keeper>,
    userns: Option<OwnedFd>,
    procs: Vec<Option<Proc>>,
    limits: Limits,
    /// When the run's wall-clock limit is reached.
    deadline: Instant,
    /// Scenario bytes handed to the kernel so far.
    bytes: u64,
    /// Scenario processes created so far.
    created: usize,
    /// The janitor: its pid and the write end of its pipe.
    janitor: Option<(i32, OwnedFd)>,
    /// As root: each non-zero scenario uid → the fresh kernel uid its
    /// tasks run as ([`Backend::make_kuid`]).
    kuids: BTreeMap<u32, u32>,
}

/// The static helper image a helper `execve`s into for `Call::Exec`, as a
/// sealed read-only memfd made once per process (built and embedded by
/// `build.rs`).
#[cfg(afunix_helper_image)]
fn helper_image() -> Result<&'static OwnedFd, BackendError> {
    static IMAGE: std::sync::OnceLock<Result<OwnedFd, String>> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            sys::image_memfd(include_bytes!(env!("AFUNIX_HELPER_IMAGE")))
                .map_err(|e| format!("exec: the helper image's memfd: {e}"))
        })
        .as_ref()
        .map_err(|m| berr(m.clone()))
}

#[cfg(not(afunix_helper_image))]
fn helper_image() -> Result<&'static OwnedFd, BackendError> {
    Err(berr(
        "exec: this build of afunix-host has no helper image (its build script \
         could not build it; see the cargo warning)",
    ))
}

fn berr(msg: impl Into<String>) -> BackendError {
    BackendError(msg.into())
}

/// Read one response within `timeout`; `Ok(None)` on timeout.
fn recv_within(chan: &OwnedFd, timeout: Duration) -> Result<Option<Response>, BackendError> {
    if !sys::poll_in(chan, timeout).map_err(|e| berr(format!("poll on a helper channel: {e}")))? {
        return Ok(None);
    }
    let (frame, _) = sys::recv_frame(chan.as_raw_fd())
        .map_err(|e| berr(format!("helper channel: {e} (did the helper die?)")))?;
    Response::decode(&frame)
        .map(Some)
        .ok_or_else(|| berr("malformed response from a helper"))
}

fn send(chan: &OwnedFd, req: &Request, pass: Option<&OwnedFd>) -> Result<(), BackendError> {
    sys::send_frame(chan.as_raw_fd(), &req.encode(), pass.map(|f| f.as_raw_fd()))
        .map_err(|e| berr(format!("sending to a helper: {e} (did the helper die?)")))
}

/// The helper's scheduler state letter from `/proc/<pid>/stat`.
fn proc_state(pid: i32) -> Option<u8> {
    let s = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = s.iter().rposition(|&b| b == b')')?;
    s.get(close + 1..)?.iter().copied().find(|b| *b != b' ')
}

/// `pidof`: the `Pid:` line of the helper's `/proc/<pid>/fdinfo/<fd>`.
fn pidof(pid: i32, fd: i32) -> Reply {
    if fd < 0 {
        return Reply::err(Errno::EBADF);
    }
    match std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Reply::err(Errno::EBADF),
        Err(e) => Reply::err(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
        Ok(s) => {
            let pid = s
                .lines()
                .find_map(|l| l.strip_prefix("Pid:"))
                .and_then(|v| v.trim().parse::<i32>().ok());
            match pid {
                Some(p) => Reply::with(0, Out::Pid(p)),
                None => Reply::err(Errno::EINVAL),
            }
        }
    }
}

fn make_dir() -> Result<PathBuf, BackendError> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = base.join(format!(
            "afunix-host-{}-{}-{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&p) {
            Ok(()) => {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777))
                    .map_err(|e| berr(format!("chmod {}: {e}", p.display())))?;
                return Ok(p);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(berr(format!("creating {}: {e}", p.display()))),
        }
    }
    Err(berr("could not create a temporary directory"))
}

fn open_ns(pid: i32, which: &str) -> Result<OwnedFd, BackendError> {
    std::fs::File::open(format!("/proc/{pid}/ns/{which}"))
        .map(OwnedFd::from)
        .map_err(|e| berr(format!("open /proc/{pid}/ns/{which}: {e}")))
}

/// A keeper for one network namespace: its helper and the namespace.
struct Keeper {
    helper: Helper,
    netns: OwnedFd,
}

/// A new channel; our end times out a stalled frame (see `sys::set_rcvtimeo`).
fn channel() -> Result<(OwnedFd, OwnedFd), BackendError> {
    let (mine, theirs) = sys::channel_pair().map_err(|e| berr(format!("socketpair: {e}")))?;
    sys::set_rcvtimeo(&mine, SETUP_TIMEOUT).map_err(|e| berr(format!("SO_RCVTIMEO: {e}")))?;
    Ok((mine, theirs))
}

/// Fork the janitor: a process outside the run's namespaces that holds
/// the read end of a pipe whose only write end is ours (close-on-exec, and
/// every helper closes it). When that end closes — our drop, or our death
/// by any signal, even SIGKILL — it removes the run directory (retrying
/// while dying helpers may still create files in it) and exits. It is in
/// a session of its own and ignores the terminal's signals, so a Ctrl-C
/// that kills us does not kill it.
fn start_janitor(dir: &Path) -> Result<(i32, OwnedFd), BackendError> {
    let mut p = [-1i32; 2];
    // SAFETY: `p` has room for two ints.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(berr(format!("pipe: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: the kernel just gave us both fds.
    let (rd, wr) = unsafe {
        use std::os::fd::FromRawFd;
        (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1]))
    };
    let dir = dir.to_path_buf();
    // SAFETY: the child runs only `janitor_main`, which never returns and
    // takes no lock another thread could hold (as for helpers).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(berr(format!("fork: {}", std::io::Error::last_os_error())));
    }
    if pid == 0 {
        janitor_main(rd.as_raw_fd(), &dir);
    }
    drop(rd);
    Ok((pid, wr))
}

fn janitor_main(rd: i32, dir: &Path) -> ! {
    // SAFETY: setsid, sigaction with SIG_IGN and close_range only change
    // this (single-threaded) child.
    unsafe {
        libc::setsid();
        let mut ign: libc::sigaction = std::mem::zeroed();
        ign.sa_sigaction = libc::SIG_IGN;
        for sig in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGPIPE,
        ] {
            libc::sigaction(sig, &ign, std::ptr::null_mut());
        }
        if rd > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, (rd - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (rd + 1) as u32, u32::MAX, 0u32);
    }
    loop {
        let mut b = [0u8; 1];
        // SAFETY: `b` is writable for one byte.
        let n = unsafe { libc::read(rd, b.as_mut_ptr() as *mut libc::c_void, 1) };
        if n == 0 || (n < 0 && sys::errno() != libc::EINTR) {
            break;
        }
    }
    for _ in 0..500 {
        let _ = std::fs::remove_dir_all(dir);
        if std::fs::symlink_metadata(dir).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: leaving the child without running the parent's destructors.
    unsafe { libc::_exit(0) }
}

/// Fork a keeper that unshares a new network namespace. The first one
/// The subordinate ids `/etc/subuid` (or `/etc/subgid`) grants `name` or
/// `id`: (first, count).
fn subordinate_range(file: &str, name: &str, id: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.trim().split(':');
        let who = f.next()?;
        let (start, count) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
        (who == name || who == id.to_string()).then_some((start, count))
    })
}

/// The login name of `uid`, from `/etc/passwd`.
fn user_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.get(2)? == &uid.to_string()).then(|| f[0].to_string())
    })
}

/// Map 0 to our own ids and 1.. to a subordinate range with the setuid
/// helpers `newuidmap`/`newgidmap` (shadow's uidmap), when the machine has
/// them and grants us a range: then a scenario's other uids and gids exist
/// in the run's user namespace. `false`: nothing was mapped.
fn map_subordinate_ids(pid: i32, euid: u32, egid: u32) -> bool {
    let Some(name) = user_name(euid) else {
        return false;
    };
    let (Some((us, uc)), Some((gs, gc))) = (
        subordinate_range("/etc/subuid", &name, euid),
        subordinate_range("/etc/subgid", &name, egid),
    ) else {
        return false;
    };
    let run = |tool: &str, own: u32, start: u64, count: u64| {
        std::process::Command::new(tool)
            .args([
                pid.to_string(),
                "0".into(),
                own.to_string(),
                "1".into(),
                "1".into(),
                start.to_string(),
                count.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    run("newuidmap", euid, us, uc) && run("newgidmap", egid, gs, gc)
}

/// (`userns` None) also unshares a user namespace when not root and gets
/// its id maps; later ones join the run's user namespace first, if any.
/// Returns the keeper and, for the first one without root, the new user
/// namespace. Kills the keeper on failure.
fn start_keeper(
    me: i32,
    dir_c: &CString,
    root: bool,
    userns: Option<&OwnedFd>,
    limits: &Limits,
) -> Result<(Keeper, Option<OwnedFd>), BackendError> {
    // SAFETY: plain id queries.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let first = userns.is_none();
    let (mine, theirs) = channel()?;
    let flags = if root || !first {
        libc::CLONE_NEWNET
    } else {
        libc::CLONE_NEWUSER | libc::CLONE_NEWNET
    };
    let pid = fork_helper(helper::Setup {
        backend_pid: me,
        chan: theirs.as_raw_fd(),
        ns: helper::Ns::Create {
            flags,
            user: userns.map(|f| f.as_raw_fd()),
        },
        dir: dir_c,
        spec: None,
        userns: !root,
        cpu_secs: limits.cpu_secs,
        file_size: limits.file_size,
    })?;
    drop(theirs);
    let need = "the host backend needs root, or unprivileged user namespaces";
    let setup = (|| -> Result<(OwnedFd, Option<OwnedFd>), BackendError> {
        match recv_within(&mine, SETUP_TIMEOUT)? {
            Some(Response::Unshared) => {}
            Some(Response::Fail(m)) => return Err(berr(format!("{need}: {m}"))),
            _ => return Err(berr("the namespace keeper did not start")),
        }
        if !root && first {
            let w = |f: &str, s: String| {
                std::fs::write(format!("/proc/{pid}/{f}"), s)
                    .map_err(|e| berr(format!("{need}: writing /proc/{pid}/{f}: {e}")))
            };
            // A range of ids when the machine grants us one (newuidmap,
            // /etc/subuid), so scenarios with other uids run; else only
            // our own ids, as 0.
            if !map_subordinate_ids(pid, euid, egid) {
                w("setgroups", "deny".into())?;
                w("uid_map", format!("0 {euid} 1\n"))?;
                w("gid_map", format!("0 {egid} 1\n"))?;
            }
        }
        send(&mine, &Request::Go, None)?;
        match recv_within(&mine, SETUP_TIMEOUT)? {
            Some(Response::Ready(_)) => {}
            Some(Response::Fail(m)) => return Err(berr(format!("{need}: {m}"))),
            _ => return Err(berr("the namespace keeper did not get ready")),
        }
        let net = open_ns(pid, "net")?;
        let user = if root || !first {
            None
        } else {
            Some(open_ns(pid, "user")?)
        };
        Ok((net, user))
    })();
    match setup {
        Ok((netns, user)) => Ok((
            Keeper {
                helper: Helper { pid, chan: mine },
                netns,
            },
            user,
        )),
        Err(e) => {
            sys::kill_and_reap(pid);
            Err(e)
        }
    }
}

impl HostBackend {
    /// Create a run: a private network namespace (held by a keeper process)
    /// and a private directory. Needs root, or unprivileged user namespaces
    /// (then only uid/gid 0 inside it can be used).
    pub fn new() -> Result<HostBackend, BackendError> {
        HostBackend::with_limits(Limits::default())
    }

    /// [`HostBackend::new`] with other [`Limits`].
    pub fn with_limits(limits: Limits) -> Result<HostBackend, BackendError> {
        let deadline = Instant::now() + limits.wall_clock;
        // SAFETY: plain id queries.
        let (euid, me) = unsafe { (libc::geteuid(), libc::getpid()) };
        let root = euid == 0;
        let dir = make_dir()?;
        let dir_c = match CString::new(dir.as_os_str().as_bytes()) {
            Ok(c) => c,
            Err(_) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(berr("temporary directory path has a NUL"));
            }
        };
        let janitor = match start_janitor(&dir) {
            Ok(j) => j,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        match start_keeper(me, &dir_c, root, None, &limits) {
            Ok((k, userns)) => {
                let mut keepers = BTreeMap::new();
                keepers.insert(0, k);
                Ok(HostBackend {
                    me,
                    root,
                    dir,
                    dir_c,
                    keepers,
                    userns,
                    procs: Vec::new(),
                    limits,
                    deadline,
                    bytes: 0,
                    created: 0,
                    janitor: Some(janitor),
                    kuids: BTreeMap::new(),
                })
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                drop(janitor.1);
                sys::reap(janitor.0);
                Err(e)
            }
        }
    }

    /// The keeper of network namespace `label`, created on first use.
    fn keeper(&mut self, label: u32) -> Result<&Keeper, BackendError> {
        if !self.keepers.contains_key(&label) {
            if self.keepers.len() >= self.limits.max_netns {
                return Err(berr(format!(
                    "limit: at most {} network namespaces per run",
                    self.limits.max_netns
                )));
            }
            let (k, _) = start_keeper(
                self.me,
                &self.dir_c,
                self.root,
                self.userns.as_ref(),
                &self.limits,
            )?;
            self.keepers.insert(label, k);
        }
        self.keepers
            .get(&label)
            .ok_or_else(|| berr("no namespace keeper"))
    }

    /// The run's directory (every helper's root and working directory).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The run's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The time left before the wall-clock limit; an error once it is up.
    fn time_left(&self) -> Result<Duration, BackendError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(berr(format!(
                "limit: the run exceeded its wall-clock limit of {} s",
                self.limits.wall_clock.as_secs_f64()
            )));
        }
        Ok(left)
    }

    /// Count a new scenario process against [`Limits::max_procs`].
    fn count_proc(&mut self) -> Result<(), BackendError> {
        if self.created >= self.limits.max_procs {
            return Err(berr(format!(
                "limit: at most {} processes per run",
                self.limits.max_procs
            )));
        }
        self.created += 1;
        Ok(())
    }

    fn proc_mut(&mut self, id: ProcId) -> Result<&mut Proc, BackendError> {
        self.procs
            .get_mut(id)
            .and_then(|p| p.as_mut())
            .ok_or_else(|| berr(format!("no process {id}")))
    }

    fn slot(&mut self, id: ProcId) -> Result<&mut Option<Proc>, BackendError> {
        if id > 1_000_000 {
            return Err(berr(format!("process id {id} is too large")));
        }
        if self.procs.len() <= id {
            self.procs.resize_with(id + 1, || None);
        }
        let s = &mut self.procs[id];
        if s.is_some() {
            return Err(berr(format!("process {id} exists already")));
        }
        Ok(s)
    }

    fn keeper_request(&mut self, label: u32, req: Request) -> Result<i64, BackendError> {
        self.time_left()?;
        let k = &self.keeper(label)?.helper;
        send(&k.chan, &req, None)?;
        match recv_within(&k.chan, SETUP_TIMEOUT)? {
            Some(Response::Admin(v)) => Ok(v),
            Some(Response::Fail(m)) => Err(berr(m)),
            Some(_) => Err(berr("unexpected answer from the namespace keeper")),
            None => Err(berr("the namespace keeper does not answer")),
        }
    }

    /// Wait for a new helper's `Ready`; its pid as it reports it.
    fn await_ready(chan: &OwnedFd, pid: i32) -> Result<i32, BackendError> {
        match recv_within(chan, SETUP_TIMEOUT) {
            Ok(Some(Response::Ready(p))) => Ok(p),
            Ok(Some(Response::Fail(m))) => {
                sys::reap(pid);
                Err(berr(format!("helper setup failed: {m}")))
            }
            Ok(_) => {
                sys::kill_and_reap(pid);
                Err(berr("helper did not get ready"))
            }
            Err(e) => {
                sys::kill_and_reap(pid);
                Err(e)
            }
        }
    }
}

/// Fork a helper from the backend process; returns its pid.
fn fork_helper(setup: helper::Setup<'_>) -> Result<i32, BackendError> {
    // SAFETY: after fork the child only runs `child_main`, which never
    // returns and uses no lock another thread could hold (see the crate
    // docs); glibc's fork keeps malloc usable in the child.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(berr(format!("fork: {}", std::io::Error::last_os_error())));
    }
    if pid == 0 {
        helper::child_main(setup);
    }
    Ok(pid)
}

impl Backend for HostBackend {
    fn task(&mut self, id: ProcId, spec: &TaskSpec) -> Result<(), BackendError> {
        self.time_left()?;
        self.slot(id)?;
        let spec = &TaskSpec {
            uid: self.assign_kuid(spec.uid),
            ..spec.clone()
        };
        let net = self.keeper(spec.netns)?.netns.as_raw_fd();
        self.count_proc()?;
        let (mine, theirs) = channel()?;
        let pid = fork_helper(helper::Setup {
            backend_pid: self.me,
            chan: theirs.as_raw_fd(),
            ns: helper::Ns::Join {
                user: self.userns.as_ref().map(|f| f.as_raw_fd()),
                net,
            },
            dir: &self.dir_c,
            spec: Some(spec),
            userns: self.userns.is_some(),
            cpu_secs: self.limits.cpu_secs,
            file_size: self.limits.file_size,
        })?;
        drop(theirs);
        Self::await_ready(&mine, pid)?;
        *self.slot(id)? = Some(Proc {
            pid,
            helper: Some(Helper { pid, chan: mine }),
            nofile: spec.nofile,
            state: State::Idle,
        });
        Ok(())
    }

    fn fork(&mut self, parent: ProcId, child: ProcId) -> Result<(), BackendError> {
        self.time_left()?;
        self.slot(child)?;
        self.count_proc()?;
        let p = self.proc_mut(parent)?;
        if !matches!(p.state, State::Idle) {
            return Err(berr(format!("process {parent} has a call pending")));
        }
        let nofile = p.nofile;
        let h = p
            .helper
            .as_ref()
            .ok_or_else(|| berr(format!("process {parent} has exited")))?;
        let (mine, theirs) = channel()?;
        send(&h.chan, &Request::Fork, None)?;
        match recv_within(&h.chan, SETUP_TIMEOUT)? {
            Some(Response::SendFd) => {}
            Some(Response::Fail(m)) => return Err(berr(format!("fork: {m}"))),
            _ => return Err(berr("fork: no answer from the parent's helper")),
        }
        send(&h.chan, &Request::Go, Some(&theirs))?;
        drop(theirs);
        let pid = match recv_within(&h.chan, SETUP_TIMEOUT)? {
            Some(Response::Forked(pid)) => pid,
            Some(Response::Fail(m)) => return Err(berr(format!("fork: {m}"))),
            _ => return Err(berr("fork: no answer from the parent's helper")),
        };
        // Trust no pid the parent's helper reports: the new helper says its
        // own pid on the fresh channel only it holds, and it must be our
        // unreaped child (CLONE_PARENT), or we never signal it.
        let ready = Self::await_ready(&mine, pid)?;
        if ready != pid || !sys::is_my_child(ready) {
            sys::kill_and_reap(ready);
            return Err(berr(format!(
                "fork: the helper reported pid {pid}, the new process says {ready}; \
                 not a child of the backend"
            )));
        }
        *self.slot(child)? = Some(Proc {
            pid,
            helper: Some(Helper { pid, chan: mine }),
            nofile,
            state: State::Idle,
        });
        Ok(())
    }

    fn pid(&self, id: ProcId) -> i32 {
        self.procs
            .get(id)
            .and_then(|p| p.as_ref())
            .map(|p| p.pid)
            .unwrap_or(0)
    }

    fn make_kuid(&self, uid: u32) -> u32 {
        self.kuids.get(&uid).copied().unwrap_or(uid)
    }

    fn from_kuid(&self, kuid: u32) -> u32 {
        self.kuids
            .iter()
            .find(|&(_, &k)| k == kuid)
            .map_or(kuid, |(&uid, _)| uid)
    }

    fn start(&mut self, id: ProcId, call: Call) -> Result<(), BackendError> {
        self.time_left()?;
        let n = call_bytes(&call) + CALL_COST;
        if self.bytes.saturating_add(n) > self.limits.max_bytes {
            return Err(berr(format!(
                "limit: the run's scenario data exceeds {} bytes",
                self.limits.max_bytes
            )));
        }
        self.bytes += n;
        let p = self.proc_mut(id)?;
        if !matches!(p.state, State::Idle) {
            return Err(berr(format!("process {id} has a call pending")));
        }
        let h = p
            .helper
            .as_ref()
            .ok_or_else(|| berr(format!("process {id} has exited")))?;
        match call {
            Call::Pidof { fd } => {
                // No scenario fd is at or above max(nofile, 3): those are
                // the channel's numbers, closed as far as the scenario sees.
                let r = if i64::from(fd) >= p.nofile.max(3) as i64 {
                    Reply::err(Errno::EBADF)
                } else {
                    pidof(h.pid, fd)
                };
                p.state = State::Done(r);
                return Ok(());
            }
            Call::Exit => {
                send(&h.chan, &Request::Call(Call::Exit), None)?;
                if let Some(h) = p.helper.take() {
                    sys::reap(h.pid);
                }
                p.state = State::Done(Reply::ok(0));
                return Ok(());
            }
            _ => {}
        }
        let is_exec = matches!(call, Call::Exec);
        send(&h.chan, &Request::Call(call), None)?;
        if is_exec {
            // The helper asks for the image (see `helper::do_exec`), then
            // the new image answers the call; `Starting` never comes.
            match recv_within(&h.chan, SETUP_TIMEOUT)? {
                Some(Response::SendFd) => {}
                Some(Response::Fail(m)) => return Err(berr(format!("exec: {m}"))),
                _ => return Err(berr("exec: no answer from the helper")),
            }
            send(&h.chan, &Request::Go, Some(helper_image()?))?;
        }
        let deadline = Instant::now() + SETUP_TIMEOUT;
        let mut started = false;
        loop {
            let wait = if started {
                Duration::from_millis(1)
            } else {
                SETUP_TIMEOUT
            };
            match recv_within(&h.chan, wait)? {
                Some(Response::Starting) => started = true,
                Some(Response::Reply(r)) => {
                    p.state = State::Done(r);
                    return Ok(());
                }
                Some(Response::Fail(m)) => return Err(berr(m)),
                Some(_) => return Err(berr("unexpected answer from a helper")),
                None if !started => return Err(berr("the helper did not start the call")),
                None => {
                    if proc_state(h.pid) == Some(b'S') || Instant::now() >= deadline {
                        p.state = State::Running;
                        return Ok(());
                    }
                }
            }
        }
    }

    fn wait(&mut self, id: ProcId, timeout: Duration) -> Result<Progress, BackendError> {
        let timeout = timeout.min(self.time_left()?);
        let p = self.proc_mut(id)?;
        match std::mem::replace(&mut p.state, State::Idle) {
            State::Idle => Err(berr(format!("process {id} has no pending call"))),
            State::Done(r) => Ok(Progress::Done(r)),
            State::Running => {
                p.state = State::Running;
                let h = p
                    .helper
                    .as_ref()
                    .ok_or_else(|| berr(format!("process {id} has exited")))?;
                match recv_within(&h.chan, timeout)? {
                    None => Ok(Progress::Blocked),
                    Some(Response::Reply(r)) => {
                        p.state = State::Idle;
                        Ok(Progress::Done(r))
                    }
                    Some(Response::Fail(m)) => Err(berr(m)),
                    Some(_) => Err(berr("unexpected answer from a helper")),
                }
            }
        }
    }

    fn set_max_dgram_qlen(
        &mut self,
        netns: u32,
        n: i64,
    ) -> Result<Result<(), afunix::Error>, BackendError> {
        let r = self.keeper_request(netns, Request::SetQlen(n))?;
        if r < 0 {
            let code = i32::try_from(-r).map_err(|_| berr("bad errno from the keeper"))?;
            Ok(Err(Errno::from_raw(code).into()))
        } else {
            Ok(Ok(()))
        }
    }

    fn gc(&mut self) -> Result<(), BackendError> {
        // Closing a unix socket while fds are in flight queues unix_gc on a
        // workqueue (one collector for all namespaces; we kick it from each
        // anyway); then wait until the socket count stops moving.
        let labels: Vec<u32> = self.keepers.keys().copied().collect();
        for l in labels {
            self.keeper_request(l, Request::GcKick)?;
        }
        let end = Instant::now() + GC_MAX;
        let mut last = self.stat()?;
        let mut since = Instant::now();
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
            let n = self.stat()?;
            if n != last {
                last = n;
                since = Instant::now();
            } else if since.elapsed() >= GC_STABLE {
                break;
            }
        }
        Ok(())
    }

    fn sleep(&mut self, d: Duration) -> Result<(), BackendError> {
        let left = self.time_left()?;
        if d >= left {
            return Err(berr(format!(
                "limit: sleep {} ms would run past the run's wall-clock limit of {} s",
                d.as_millis(),
                self.limits.wall_clock.as_secs_f64()
            )));
        }
        std::thread::sleep(d);
        Ok(())
    }

    /// Sockets left once every process exited and the collector ran are
    /// in-flight cycles the kernel never frees (Linux 6.18's walk leaves
    /// some: `GcWalk::Linux618`). They outlive the run, kernel memory
    /// until reboot, and so does their charge: each queued file stays
    /// counted in its sender's `user->unix_inflight`. As root that is a
    /// uid of this run only; without root it is the caller's uid or a
    /// subordinate one, whose later runs get `ETOOMANYREFS` once the count
    /// passes their RLIMIT_NOFILE.
    fn finish(&mut self) -> Result<Option<String>, BackendError> {
        self.end_processes();
        if self.stat()? == 0 {
            return Ok(None);
        }
        self.gc()?;
        let n = self.stat()?;
        Ok((n != 0).then(|| {
            let charge = if self.root {
                ""
            } else {
                "; their files stay counted for their senders (your uid or its subordinate \
                 uids), whose later runs get ETOOMANYREFS once past their RLIMIT_NOFILE (as \
                 root, each run has uids of its own)"
            };
            format!(
                "the kernel kept {n} unix socket(s) of this run after every process exited: \
                 in-flight cycles its collector never frees, which hold kernel memory until \
                 reboot{charge}"
            )
        }))
    }

    fn stat(&mut self) -> Result<usize, BackendError> {
        let labels: Vec<u32> = self.keepers.keys().copied().collect();
        let mut total = 0usize;
        for l in labels {
            let n = self.keeper_request(l, Request::Stat)?;
            total += usize::try_from(n).map_err(|_| berr("bad socket count"))?;
        }
        Ok(total)
    }
}

impl HostBackend {
    /// The kernel uid for the tasks of scenario uid `uid`, chosen at its
    /// first task. As root, every non-zero uid gets a fresh one from
    /// [`KUID_RANGE`], so that what the kernel counts per user (files in
    /// flight against RLIMIT_NOFILE in `too_many_unix_fds`, processes)
    /// starts from zero in every run, as in the model's world: neither a
    /// real user's programs nor an earlier run (the in-flight cycles Linux
    /// 6.18 never frees stay charged to their sender until reboot) can
    /// change a trace, and a run's leaks charge no real user. Only the
    /// uid changes: the kernel compares uids for equality (permissions,
    /// credentials checks), which a one-to-one map keeps, and the runner
    /// maps the uids in credentials both ways. Without root the ids are
    /// those of the user namespace, which the kernel maps itself.
    fn assign_kuid(&mut self, uid: u32) -> u32 {
        if !self.root || uid == 0 {
            return uid;
        }
        if let Some(&k) = self.kuids.get(&uid) {
            return k;
        }
        let mut seed = std::collections::hash_map::RandomState::new().build_hasher();
        seed.write_u32(uid);
        seed.write_i32(self.me);
        let span = u64::from(KUID_RANGE.end - KUID_RANGE.start);
        let mut k;
        loop {
            let r = seed.finish();
            seed.write_u64(r);
            k = KUID_RANGE.start + (r % span) as u32;
            let taken = self.kuids.contains_key(&k)
                || self.kuids.values().any(|&v| v == k)
                || user_name(k).is_some();
            if !taken {
                break;
            }
        }
        self.kuids.insert(uid, k);
        k
    }

    /// End every process of the run (their fds close as at exit).
    fn end_processes(&mut self) {
        for p in self.procs.iter_mut().flatten() {
            if let Some(h) = p.helper.take() {
                sys::kill_and_reap(h.pid);
            }
        }
    }
}

impl Drop for HostBackend {
    fn drop(&mut self) {
        self.end_processes();
        for k in std::mem::take(&mut self.keepers).into_values() {
            sys::kill_and_reap(k.helper.pid);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((pid, wr)) = self.janitor.take() {
            drop(wr);
            sys::reap(pid);
        }
    }
}
