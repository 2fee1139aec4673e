//! The supervisor: every trapped call of the program, served by the model.
//!
//! # Files
//!
//! The kernel's fd tables stay the truth. A model socket appears in a
//! program as a **placeholder**: one end (A) of a kernel socketpair whose
//! other end (B) only the supervisor holds. Each placeholder holds one
//! reference to the model's file, as an fd of the **holder**, a model
//! process of the supervisor's own. When the program's last reference to A
//! goes (close, exit, exec with `FD_CLOEXEC`), B sees `POLLHUP` and the
//! holder's fd is closed: the model releases the socket then (a `close` of
//! the last fd is noticed synchronously, see `Supervisor::close`).
//!
//! A call names an fd; the supervisor fetches the caller's file with
//! `pidfd_getfd`, and its inode says which placeholder (if any) it is. A
//! call on anything else is handed back to the kernel. The call runs in
//! the caller's **model process** (one per thread group, with its
//! credentials), on a temporary model fd for the file, which is closed
//! after the call. Files the program passes that the model does not own
//! (regular files, pipes, TCP sockets, ...) travel as the model's
//! *external* files: the supervisor keeps a dup of each and installs it in
//! the receiver (`SECCOMP_IOCTL_NOTIF_ADDFD`), so it arrives as the same
//! open file.
//!
//! # Readiness
//!
//! After every served call the model's readiness of each placeholder is
//! mirrored onto A: while the model socket is readable (data, EOF, a
//! pending connection) one byte waits in A's receive queue, written from
//! B; when it stops being readable — always as the result of a call on
//! that file, so the supervisor holds a dup of A then — the byte is read
//! back. So `poll`, `select` and `epoll` on placeholders need no
//! interception.
//!
//! # Pids
//!
//! The model numbers its processes itself; pids in credentials
//! (`SCM_CREDENTIALS`, `SO_PEERCRED`) are translated between the model's
//! and the program's at the boundary.

use crate::decode::{
    efault, gather, read_addr, read_control, read_cstr, read_iovecs, read_msghdr, u32_at, u64_at,
    Remote, MSGHDR, SEND_MAX, UIO_MAXIOV,
};
use crate::procfs::ProcStatus;
use crate::sys::{self, Answer, Notif};
use afunix::abi::consts::{
    MSG_CMSG_CLOEXEC, MSG_NOSIGNAL, SCM_CREDENTIALS, SCM_PIDFD, SCM_RIGHTS, SOL_SOCKET,
    SO_PEERCRED, SO_PEERPIDFD,
};
use afunix::net::socket::{RecvArgs, SendHdr};
use afunix::net::socket::{RecvBuf, SendBuf};
use afunix::security::{FileType, Task};
use afunix::TaskSpec;
use afunix::{Errno, Error, Fd, Pid, World};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

thread_local! {
    /// The path of the call this thread is serving (`--path`), taken by
    /// its trace line.
    static CALL_PATH: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The first SCM_RIGHTS fd of this call that is not open in the
    /// program: the model was handed -1 in its place, so its note names
    /// fd -1, and the trace puts the program's number back.
    static UNOPEN_RIGHT: std::cell::Cell<Option<i32>> = const { std::cell::Cell::new(None) };
}

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;
const POLLERR: i16 = 0x8;
const POLLHUP: i16 = 0x10;
const POLLRDHUP: i16 = 0x2000;
/// The longest option value read or written (1 MiB: `SO_PEERGROUPS` of
/// 65536 groups is 256 KiB).
const OPT_MAX: usize = 1 << 20;
/// The most bytes one receive asks the model for (64 MiB).
const RECV_MAX: usize = 64 << 20;

/// `net.core.optmem_max` (the largest control buffer `sendmsg` takes).
fn optmem_max() -> u64 {
    std::fs::read_to_string("/proc/sys/net/core/optmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(131_072)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One placeholder: the supervisor's end, and the model reference.
struct Placeholder {
    /// B, the supervisor's end.
    b: Arc<OwnedFd>,
    /// The holder's fd for the model file.
    hold: Fd,
    /// Whether the readiness byte waits in A.
    signalled: bool,
    /// Whether A's send queue is filled (the model socket is not writable).
    filled: bool,
    /// How far B is shut down to show the model's RDHUP (1) and HUP (2).
    shut: u8,
}

/// A program's thread group.
struct Proc {
    model: Pid,
    pidfd: Arc<OwnedFd>,
}

#[derive(Default)]
struct State {
    procs: HashMap<i32, Proc>,
    /// Model pid → real tgid.
    real_pid: HashMap<i32, i32>,
    /// Placeholders by A's (device, inode).
    ph: HashMap<(u64, u64), Placeholder>,
    /// External files: our dup of each, by id.
    external: HashMap<u64, OwnedFd>,
    next_external: u64,
    /// Socket inodes the run made on the real filesystem → the absolute
    /// path the model's tree has them at.
    inodes: HashMap<(u64, u64), Vec<u8>>,
    /// Absolute path in the model → the path as the program gave it.
    given: HashMap<Vec<u8>, Vec<u8>>,
    /// Paths of foreign sockets already reported.
    foreign_said: std::collections::HashSet<Vec<u8>>,
    /// Placeholders a `close` dropped the program's reference to whose
    /// hang-up was not visible yet, with the closing thread (see
    /// [`Supervisor::settle_closes`]).
    closing: Vec<((u64, u64), i32)>,
}

/// What was served, for `--stats`.
#[derive(Default)]
pub struct Stats {
    /// Calls served by the model, by name.
    pub served: Mutex<HashMap<&'static str, u64>>,
    /// Calls handed back to the kernel (not on a model socket).
    pub passed: AtomicU64,
}

/// The supervisor of one `afunix exec` run.
pub struct Supervisor {
    /// The model.
    pub world: World,
    listener: OwnedFd,
    holder: Pid,
    st: Mutex<State>,
    null: OwnedFd,
    /// Kicked when the set of watched fds changes.
    pub(crate) kick: OwnedFd,
    trace: Option<Mutex<Box<dyn Write + Send>>>,
    explain: bool,
    /// `--path`: the path of each call under its trace line.
    path: bool,
    /// What was served.
    pub stats: Stats,
    /// Trace names of the processes, by tgid.
    names: Mutex<HashMap<i32, String>>,
    /// Calls being served: (caller's tid, its interrupt), by notification
    /// id, for the signal watcher.
    outstanding: Mutex<HashMap<u64, (i32, afunix::Interrupt)>>,
    /// With a policy: external files enter the model with their host type
    /// (`World::open_external_as`), for its `file_receive` rules.
    typed_externals: bool,
    /// Notifications taken and not yet answered ([`Supervisor::handling`]):
    /// the census waits for none (a handler holds a temporary model fd
    /// from before its call until after it).
    handlers: Arc<AtomicUsize>,
    /// Absolute paths of sockets outside the run that connects and sends
    /// reach on the kernel (`--host-path`).
    host_paths: Vec<Vec<u8>>,
    /// Held while a process's or a placeholder's release runs, so that
    /// [`Supervisor::finish`] counts after the last one.
    releasing: Mutex<()>,
    /// Kills the program's processes if we die (see [`crate::guard`]).
    guard: Mutex<Option<crate::guard::Guard>>,
}

/// The result of serving one call.
type Served = Result<i64, Error>;

/// Not an errno: the call was handed to the kernel (answered with
/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
const HANDED: Errno = Errno::from_raw(-1);

/// An error of one of the supervisor's own system calls (no rule: the
/// kernel's answer).
fn errno_of(e: &std::io::Error) -> Error {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)).into()
}

/// The inodes of every unix socket of our network namespace.
fn unix_inodes() -> std::collections::HashSet<u64> {
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(6)?.parse().ok())
        .collect()
}

/// Whether a thread has a signal pending that it does not block (its own
/// or its process's).
fn signal_pending(tid: i32) -> bool {
    ProcStatus::read(tid).is_some_and(|s| s.signal_pending())
}

/// What a host file is, as a policy's `file=` names it: a memfd by its
/// `/proc/self/fd` link (`/memfd:NAME`), else by its mode.
fn host_file_type(fd: &OwnedFd) -> FileType {
    let memfd = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .is_ok_and(|l| l.as_os_str().as_encoded_bytes().starts_with(b"/memfd:"));
    if memfd {
        return FileType::Memfd;
    }
    let Ok((_, _, mode)) = sys::fstat(fd) else {
        return FileType::External;
    };
    match mode & libc::S_IFMT {
        libc::S_IFREG => FileType::Regular,
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFIFO => match sys::getfl(fd).map(|f| f & libc::O_ACCMODE) {
            Ok(libc::O_WRONLY) => FileType::PipeWrite,
            _ => FileType::PipeRead,
        },
        _ => FileType::External,
    }
}

impl Supervisor {
    /// A supervisor for the program whose filter's listener this is; a
    /// non-empty `deny` is the program's security policy (`--deny`).
    pub fn new(
        listener: OwnedFd,
        trace: Option<Box<dyn Write + Send>>,
        (explain, path): (bool, bool),
        host_paths: Vec<Vec<u8>>,
        guard: crate::guard::Guard,
        deny: Vec<afunix::security::DenyRule>,
    ) -> std::io::Result<Supervisor> {
        let holder_pid: Arc<std::sync::OnceLock<afunix::Pid>> = Arc::default();
        let typed_externals = !deny.is_empty();
        let world = if deny.is_empty() {
            World::new()
        } else {
            // The program's policy; the holder (our own process in the
            // world) is not the program.
            let holder = Arc::clone(&holder_pid);
            World::with_security(Box::new(afunix::security::Exempt::new(
                afunix::security::Deny(deny),
                move |t: &Task<'_>| holder.get() == Some(&t.pid),
            )))
        };
        // Receive timestamps are compared with the program's own clock.
        world.set_clock(afunix::Clock::Host);
        let holder = world.spawn(&TaskSpec {
            uid: 0,
            gid: 0,
            groups: vec![0],
            nofile: 1 << 20,
            ..TaskSpec::default()
        });
        let _ = holder_pid.set(holder);
        Ok(Supervisor {
            world,
            listener,
            holder,
            st: Mutex::new(State::default()),
            null: sys::dev_null()?,
            kick: sys::eventfd()?,
            trace: trace.map(Mutex::new),
            explain,
            path,
            stats: Stats::default(),
            outstanding: Mutex::new(HashMap::new()),
            typed_externals,
            handlers: Arc::new(AtomicUsize::new(0)),
            names: Mutex::new(HashMap::new()),
            host_paths,
            releasing: Mutex::new(()),
            guard: Mutex::new(Some(guard)),
        })
    }

    /// One round of the signal watcher: a caller that has a signal
    /// pending (it waits killably, so the signal stays pending) gets its
    /// model call interrupted, which then returns what Linux's would
    /// (`ERESTARTSYS`, `EINTR`, or what it transferred) and the kernel
    /// delivers the signal as the call returns (restarting it under
    /// `SA_RESTART`); a caller that is gone gets its call abandoned.
    pub fn watch_signals(&self) {
        let calls: Vec<(u64, i32, afunix::Interrupt)> = lock(&self.outstanding)
            .iter()
            .map(|(id, (tid, i))| (*id, *tid, i.clone()))
            .collect();
        for (id, tid, intr) in calls {
            if !sys::notif_id_valid(&self.listener, id) {
                intr.cancel();
            } else if signal_pending(tid) && !intr.is_raised() {
                intr.raise();
            }
        }
    }

    /// The watcher saw `POLLHUP` on a B: A's last reference went, unless
    /// the B was meanwhile shut down both ways by `mirror` (its own
    /// `POLLHUP` then; `reap_shut` looks after it).
    pub(crate) fn hung_up(&self, key: (u64, u64)) {
        let ours = lock(&self.st).ph.get(&key).is_some_and(|p| p.shut >= 2);
        if !ours || !unix_inodes().contains(&key.1) {
            self.release(key);
        }
    }

    /// Placeholders whose B is shut down both ways cannot show A's close
    /// as a hang-up: A is gone once its inode leaves `/proc/net/unix`.
    pub fn reap_shut(&self) {
        let shut: Vec<(u64, u64)> = lock(&self.st)
            .ph
            .iter()
            .filter(|(_, p)| p.shut >= 2)
            .map(|(k, _)| *k)
            .collect();
        if shut.is_empty() {
            return;
        }
        let live = unix_inodes();
        for key in shut {
            if !live.contains(&key.1) {
                self.release(key);
            }
        }
    }

    /// Find the children of the program's known processes (in
    /// `/proc/PID/task/TID/children`) and give the guard a pidfd of each,
    /// so that a process that never made a served call dies with us too.
    pub fn discover(&self) {
        let known: Vec<i32> = lock(&self.st).procs.keys().copied().collect();
        let mut new = Vec::new();
        for tgid in known {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{tgid}/task")) else {
                continue;
            };
            for t in tasks.flatten() {
                let path = t.path().join("children");
                if let Ok(c) = std::fs::read_to_string(path) {
                    new.extend(c.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
                }
            }
        }
        for pid in new {
            if !lock(&self.st).procs.contains_key(&pid) {
                let _ = self.proc_entry(pid, true);
            }
        }
    }

    /// Receive the next notification (blocks).
    pub fn recv(&self) -> std::io::Result<Notif> {
        sys::notif_recv(&self.listener)
    }

    /// The listener's fd (to poll it).
    pub fn listener_fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Answer a call we cannot serve (no thread to run it): `EAGAIN`.
    pub fn refuse(&self, n: &Notif) {
        self.answer(n, Answer::Err(libc::EAGAIN));
    }

    fn answer(&self, n: &Notif, a: Answer) {
        // ENOENT: the caller is gone, or a signal interrupted it (it will
        // restart or fail with EINTR on its own): nothing to do.
        let _ = sys::notif_send(&self.listener, n.id, a);
    }

    // ---- processes -------------------------------------------------------

    /// The caller's model process (created on its first call) and pidfd.
    fn proc_of(&self, tid: i32) -> Option<(i32, Pid, Arc<OwnedFd>)> {
        self.proc_entry(tid, true)
    }

    /// The model process standing for a real process, made on first use;
    /// `member`: a process of the program (the guard kills it if we die),
    /// else one a credential names (e.g. init).
    fn proc_entry(&self, tid: i32, member: bool) -> Option<(i32, Pid, Arc<OwnedFd>)> {
        let s = ProcStatus::read(tid)?;
        let mut st = lock(&self.st);
        if let Some(p) = st.procs.get(&s.tgid) {
            return Some((s.tgid, p.model, Arc::clone(&p.pidfd)));
        }
        let pidfd = Arc::new(sys::pidfd_open(s.tgid).ok()?);
        let model = self.world.spawn(&TaskSpec {
            // The effective ids: what the kernel checks credentials against.
            uid: s.uids[1],
            gid: s.gids[1],
            groups: if s.groups.is_empty() {
                vec![s.gids[1]]
            } else {
                s.groups.clone()
            },
            nofile: sys::nofile_of(s.tgid),
            umask: s.umask,
            netns: 0,
        });
        st.real_pid.insert(model.as_raw(), s.tgid);
        if member {
            if let Some(g) = lock(&self.guard).as_ref() {
                g.watch(pidfd.as_raw_fd());
            }
        }
        st.procs.insert(
            s.tgid,
            Proc {
                model,
                pidfd: Arc::clone(&pidfd),
            },
        );
        drop(st);
        sys::eventfd_kick(&self.kick);
        Some((s.tgid, model, pidfd))
    }

    /// A thread group ended: its model process exits.
    pub(crate) fn proc_exited(&self, tgid: i32) {
        let _g = lock(&self.releasing);
        let p = lock(&self.st).procs.remove(&tgid);
        if let Some(p) = p {
            let _ = self.world.exit(p.model);
            self.after_call(None);
        }
    }

    fn real_pid(&self, model: i32) -> i32 {
        lock(&self.st).real_pid.get(&model).copied().unwrap_or(0)
    }

    fn model_pid(&self, real: i32) -> Option<i32> {
        lock(&self.st).procs.get(&real).map(|p| p.model.as_raw())
    }

    // ---- placeholders --------------------------------------------------

    /// The placeholder behind the caller's `fd`: our dup of its file and
    /// the placeholder's key, or `None` (not a model socket: the kernel's).
    fn lookup(&self, pidfd: &OwnedFd, fd: u64) -> Option<(OwnedFd, (u64, u64))> {
        let fd = i32::try_from(fd as i64).ok()?;
        let dup = sys::pidfd_getfd(pidfd, fd).ok()?;
        let (dev, ino, mode) = sys::fstat(&dup).ok()?;
        if mode & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        lock(&self.st)
            .ph
            .contains_key(&(dev, ino))
            .then_some((dup, (dev, ino)))
    }

    /// A temporary model fd of `model` for the placeholder's file, with
    /// `O_NONBLOCK` as the caller's open file has it.
    fn temp_fd(&self, model: Pid, key: (u64, u64), dup: &OwnedFd) -> Result<Fd, Error> {
        let hold = lock(&self.st)
            .ph
            .get(&key)
            .map(|p| p.hold)
            .ok_or(Errno::EBADF)?;
        let m = self.world.pidfd_getfd(model, self.holder, hold)?;
        let nb = sys::getfl(dup)
            .map(|f| f & libc::O_NONBLOCK != 0)
            .unwrap_or(false);
        let _ = self.world.set_nonblock(model, m, nb);
        Ok(m)
    }

    /// Turn the model fd `m` of `model` into a placeholder installed in the
    /// caller: the fd number there. `m` is closed.
    fn install(
        &self,
        n: &Notif,
        model: Pid,
        m: Fd,
        cloexec: bool,
        nonblock: bool,
    ) -> Result<i32, Error> {
        let hold = self.world.pidfd_getfd(self.holder, model, m);
        let _ = self.world.close(model, m);
        let hold = hold?;
        let (a, b) = match sys::socketpair() {
            Ok(p) => p,
            Err(e) => {
                let _ = self.world.close(self.holder, hold);
                return Err(errno_of(&e));
            }
        };
        if nonblock {
            let _ = sys::setfl(&a, libc::O_RDWR | libc::O_NONBLOCK);
        }
        let key = match sys::fstat(&a) {
            Ok((dev, ino, _)) => (dev, ino),
            Err(e) => {
                let _ = self.world.close(self.holder, hold);
                return Err(errno_of(&e));
            }
        };
        lock(&self.st).ph.insert(
            key,
            Placeholder {
                b: Arc::new(b),
                hold,
                signalled: false,
                filled: false,
                shut: 0,
            },
        );
        match sys::notif_addfd(&self.listener, n.id, a.as_raw_fd(), cloexec, None) {
            Ok(fd) => {
                drop(a);
                sys::eventfd_kick(&self.kick);
                Ok(fd)
            }
            Err(e) => {
                drop(a);
                self.release(key);
                Err(errno_of(&e))
            }
        }
    }

    /// Install a model fd received by `model` in the caller: a placeholder
    /// for a model socket, the very open file for an external one.
    fn install_received(&self, n: &Notif, model: Pid, m: Fd, cloexec: bool) -> Result<i32, Error> {
        let info = self.world.file_info(model, m)?;
        match (info.file_type, info.external) {
            (FileType::Socket, _) => self.install(n, model, m, cloexec, info.nonblock),
            (_, Some(id)) => {
                let r = {
                    let st = lock(&self.st);
                    match st.external.get(&id) {
                        Some(f) => {
                            sys::notif_addfd(&self.listener, n.id, f.as_raw_fd(), cloexec, None)
                                .map_err(|e| errno_of(&e))
                        }
                        None => Err(Errno::EBADF.into()),
                    }
                };
                let _ = self.world.close(model, m);
                r
            }
            (FileType::Pidfd, _) => {
                let real = info.pidfd.map_or(0, |p| self.real_pid(p.as_raw()));
                let _ = self.world.close(model, m);
                let pfd = sys::pidfd_open(real).map_err(|e| errno_of(&e))?;
                sys::notif_addfd(&self.listener, n.id, pfd.as_raw_fd(), cloexec, None)
                    .map_err(|e| errno_of(&e))
            }
            _ => {
                // A model-only file (memfd, pipe of the model): programs
                // cannot create one, so none can arrive.
                let _ = self.world.close(model, m);
                Err(Errno::EBADF.into())
            }
        }
    }

    /// The program's last reference to a placeholder went: drop the
    /// model's reference.
    pub(crate) fn release(&self, key: (u64, u64)) {
        let _g = lock(&self.releasing);
        let p = lock(&self.st).ph.remove(&key);
        if let Some(p) = p {
            let _ = self.world.close(self.holder, p.hold);
            self.after_call(None);
            sys::eventfd_kick(&self.kick);
        }
    }

    /// What the watcher polls: every B (for `POLLHUP`) and every pidfd
    /// (readable once its process is gone), held while it polls.
    #[allow(clippy::type_complexity)]
    pub(crate) fn watched(&self) -> (Vec<(Arc<OwnedFd>, (u64, u64))>, Vec<(Arc<OwnedFd>, i32)>) {
        let st = lock(&self.st);
        (
            // A B shut down both ways (to show a hang-up on A) reports
            // POLLHUP itself: its A's end is found by `reap_shut` instead.
            st.ph
                .iter()
                .filter(|(_, p)| p.shut < 2)
                .map(|(k, p)| (Arc::clone(&p.b), *k))
                .collect(),
            st.procs
                .iter()
                .map(|(t, p)| (Arc::clone(&p.pidfd), *t))
                .collect(),
        )
    }

    /// Every process is gone: drop what is left (placeholders whose
    /// hang-up was not seen yet, model processes), run the collector, and
    /// return the census: (live sockets, open files).
    pub fn finish(&self) -> (usize, usize) {
        // Calls of processes that died while the model served them are
        // abandoned; wait (a little) until their threads have left, and
        // every notification taken has been answered.
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let calls: Vec<_> = lock(&self.outstanding)
                .values()
                .map(|(_, i)| i.clone())
                .collect();
            let idle = calls.is_empty() && self.handlers.load(Ordering::Acquire) == 0;
            if idle || std::time::Instant::now() > end {
                break;
            }
            for i in calls {
                i.cancel();
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let keys: Vec<_> = lock(&self.st).ph.keys().copied().collect();
        for k in keys {
            self.release(k);
        }
        let tgids: Vec<_> = lock(&self.st).procs.keys().copied().collect();
        for t in tgids {
            self.proc_exited(t);
        }
        if let Some(g) = lock(&self.guard).take() {
            g.done();
        }
        let _ = self.world.exit(self.holder);
        // A release still running on the watcher's thread finishes first.
        drop(lock(&self.releasing));
        self.world.gc();
        let _ = self.world.take_released_external();
        lock(&self.st).external.clear();
        (self.world.stat(), self.world.open_files())
    }

    /// Mirror the model's readiness of every placeholder onto its A.
    /// `held`: the placeholder the current call holds a dup of A for (the
    /// only one whose byte can be taken back).
    fn mirror(&self, held: Option<((u64, u64), &OwnedFd)>) {
        let mut st = lock(&self.st);
        for (key, p) in st.ph.iter_mut() {
            let rev = self
                .world
                .poll(self.holder, p.hold, POLLIN | POLLOUT | POLLRDHUP)
                .map_or(0, |r| r.bits());
            let a = held.and_then(|(k, a)| (k == *key).then_some(a));
            // Readable: one byte waits in A (taken back through the
            // caller's dup when it stops being readable).
            let readable = rev & (POLLIN | POLLHUP | POLLERR | POLLRDHUP) != 0;
            if readable && !p.signalled {
                if sys::send_nb(&p.b, &[0]).is_ok() {
                    p.signalled = true;
                }
            } else if !readable && p.signalled {
                if let Some(a) = a {
                    let mut buf = [0u8; 64];
                    while sys::recv_nb(a, &mut buf).is_ok_and(|n| n > 0) {}
                    p.signalled = false;
                }
            }
            // Not writable: A's own send queue is filled (through the
            // caller's dup: the call that made it unwritable was on it);
            // writable again: B empties it.
            let writable = rev & POLLOUT != 0;
            if !writable && !p.filled {
                if let Some(a) = a {
                    let junk = [0u8; 4096];
                    while sys::send_nb(a, &junk).is_ok_and(|n| n > 0) {}
                    p.filled = true;
                }
            } else if writable && p.filled {
                let mut buf = [0u8; 4096];
                while sys::recv_nb(&p.b, &mut buf).is_ok_and(|n| n > 0) {}
                p.filled = false;
            }
            // The peer shut its side down, or went: A sees the same
            // (POLLRDHUP, then POLLHUP once both directions are down).
            // Never undone: neither is in Linux.
            if rev & POLLRDHUP != 0 && p.shut < 1 {
                let _ = sys::shutdown(&p.b, libc::SHUT_WR);
                p.shut = 1;
            }
            if rev & POLLRDHUP != 0 && rev & POLLHUP != 0 && p.shut < 2 {
                let _ = sys::shutdown(&p.b, libc::SHUT_RDWR);
                p.shut = 2;
            }
        }
    }

    // ---- tracing ----------------------------------------------------------

    /// Run the model's part of the program's call; with `--path`, record
    /// the path it took (and not the supervisor's own bookkeeping calls,
    /// such as closing its temporary fds) for the call's trace line.
    /// `--explain` records it too, for the values behind a rule.
    fn model_call<R>(&self, f: impl FnOnce() -> R) -> R {
        if !self.path && !self.explain {
            return f();
        }
        let (r, steps) = self.world.with_path(f);
        CALL_PATH.with(|p| p.borrow_mut().extend(steps));
        r
    }

    fn note(&self, name: &'static str) {
        *lock(&self.stats.served).entry(name).or_default() += 1;
    }

    /// Write a trace line: `NAME: CALL ARGS = RESULT FIELDS  # rule`, as a
    /// scenario trace prints it; a process's name (A, B, ..., by first
    /// appearance) is introduced by a comment naming its pid.
    fn trace(&self, tgid: i32, line: String, r: &Served, steps: &[String]) {
        let Some(t) = &self.trace else {
            return;
        };
        let mut t = lock(t);
        let name = self.name_of(&mut *t, tgid);
        let steps = &self.name_wakers(&mut *t, steps);
        let (call, fields) = line.split_once(FIELDS).unwrap_or((&line, ""));
        let mut res = match r {
            Ok(v) => v.to_string(),
            Err(e) => e.errno.to_string(),
        };
        if r.is_ok() && !fields.is_empty() {
            res.push(' ');
            res.push_str(fields);
        }
        if let Err(e) = r {
            if self.explain && !e.rule.is_none() {
                use std::fmt::Write as _;
                let _ = write!(res, "  # {}", e.rule);
                // The values that decided it: the path's last note.
                if let Some(d) = afunix::path::decision(steps) {
                    let _ = write!(res, " ({d})");
                }
            }
        }
        let _ = writeln!(t, "{name}: {call} = {res}");
        if self.path && !steps.is_empty() {
            let _ = writeln!(t, "#   {}", afunix::path::render(steps));
        }
    }

    /// The trace's name of process `tgid` (A, B, ..., by first appearance);
    /// a new name is introduced on `t` by a comment naming its pid.
    fn name_of(&self, t: &mut dyn std::io::Write, tgid: i32) -> String {
        let mut names = lock(&self.names);
        let n = names.len();
        if let Some(name) = names.get(&tgid) {
            return name.clone();
        }
        let name = proc_name(n);
        names.insert(tgid, name.clone());
        let comm = std::fs::read_to_string(format!("/proc/{tgid}/comm")).unwrap_or_default();
        let _ = writeln!(t, "# {name} is pid {tgid} ({})", comm.trim());
        name
    }

    /// A waker in the path (`... by __sys_sendmsg of pid 100`, a model
    /// pid) as the program's process: `of B (pid 4242)`, by its name in
    /// this trace. A waker whose own line has not been printed yet (the
    /// woken call can be answered first) is named here, on `t`, so the
    /// name does not depend on which of the two lines is written first.
    fn name_wakers(&self, t: &mut dyn std::io::Write, steps: &[String]) -> Vec<String> {
        let mut out = steps.to_vec();
        for step in &mut out {
            afunix::path::name_waker(step, |model| {
                let real = *lock(&self.st).real_pid.get(&model)?;
                let name = self.name_of(t, real);
                Some(format!("{name} (pid {real})"))
            });
        }
        out
    }

    // ---- serving -----------------------------------------------------------

    /// One more notification being handled, until the guard drops: taken
    /// by the thread that received it, before the handler's thread starts.
    pub fn handling(&self) -> Handling {
        self.handlers.fetch_add(1, Ordering::AcqRel);
        Handling(Arc::clone(&self.handlers))
    }

    /// Serve one notification and answer it.
    pub fn handle(&self, n: Notif) {
        let Some((tgid, model, pidfd)) = self.proc_of(n.tid) else {
            self.answer(&n, Answer::Continue);
            return;
        };
        self.settle_closes(n.tid);
        // The path the model's part of this call takes (`model_call`).
        CALL_PATH.with(|p| p.borrow_mut().clear());
        UNOPEN_RIGHT.with(|u| u.set(None));
        let nr = n.nr as i64;
        let a = n.args;
        let r: Option<(String, Served)> = match nr {
            libc::SYS_socket => Some(self.socket(&n, model)),
            libc::SYS_socketpair => Some(self.socketpair(&n, tgid, model)),
            libc::SYS_close => {
                self.close(&n, &pidfd);
                return;
            }
            libc::SYS_sendfile | libc::SYS_splice => {
                // Their data would move between kernel files behind the
                // model's back: refused on a model socket, documented.
                let fds = if nr == libc::SYS_sendfile {
                    [a[0], a[1]]
                } else {
                    [a[0], a[2]]
                };
                if fds.iter().any(|&fd| self.lookup(&pidfd, fd).is_some()) {
                    let name = if nr == libc::SYS_sendfile {
                        "sendfile"
                    } else {
                        "splice"
                    };
                    if lock(&self.st).foreign_said.insert(name.as_bytes().to_vec()) {
                        eprintln!("afunix exec: {name} on a model socket is not served (EINVAL)");
                    }
                    Some((
                        format!("{name} (not served)"),
                        Err(Errno::EINVAL.why(afunix::gap!(
                            "sendfile/splice on a model socket are not served"
                        ))),
                    ))
                } else {
                    None
                }
            }
            libc::SYS_unlink | libc::SYS_unlinkat => {
                self.unlink(&n, tgid).map(|r| ("unlink".to_string(), r))
            }
            _ => {
                let Some((dup, key)) = self.lookup(&pidfd, a[0]) else {
                    self.stats.passed.fetch_add(1, Ordering::Relaxed);
                    self.answer(&n, Answer::Continue);
                    return;
                };
                let m = match self.temp_fd(model, key, &dup) {
                    Ok(m) => m,
                    Err(e) => {
                        self.answer(&n, Answer::Err(e.raw()));
                        return;
                    }
                };
                // A signal for the caller interrupts the model call, as it
                // would interrupt the kernel's (see `watch_signals`).
                let intr = afunix::Interrupt::new();
                lock(&self.outstanding).insert(n.id, (n.tid, intr.clone()));
                let r = self.model_call(|| {
                    self.world
                        .interruptible(&intr, || self.on_socket(&n, tgid, model, m))
                });
                lock(&self.outstanding).remove(&n.id);
                let _ = self.world.close(model, m);
                self.after_call(Some((key, &dup)));
                r
            }
        };
        let mut steps = CALL_PATH.with(|p| std::mem::take(&mut *p.borrow_mut()));
        if let (Some(fd), Some(last)) = (UNOPEN_RIGHT.with(|u| u.take()), steps.last_mut()) {
            // scm_fp_copy's note on the -1 that stood for it.
            if let Some(head) = last.strip_suffix(" is fd -1, not open)") {
                *last = format!("{head} is fd {fd}, not open in the program)");
            }
        }
        let Some((line, r)) = r.filter(|(_, r)| !matches!(r, Err(e) if e.errno == HANDED)) else {
            self.answer(&n, Answer::Continue);
            return;
        };
        // A fault that fired in this call shows on its line.
        let mut line = line;
        for (point, pid) in self.world.take_fired() {
            if pid == model {
                line.push(if line.contains(FIELDS) { ' ' } else { FIELDS });
                line.push_str(&format!("fault={}", point.name()));
            }
        }
        self.trace(tgid, line, &r, &steps);
        if matches!(nr, libc::SYS_socket | libc::SYS_socketpair) {
            self.after_call(None);
        }
        let a = match r {
            Ok(v) => Answer::Val(v),
            Err(e) => Answer::Err(e.raw()),
        };
        self.answer(&n, a);
    }

    /// After a call or a release: close our dups of the external files
    /// the model released, then mirror the readiness (`held`: see
    /// [`Supervisor::mirror`]).
    fn after_call(&self, held: Option<((u64, u64), &OwnedFd)>) {
        let gone = self.world.take_released_external();
        if !gone.is_empty() {
            let mut st = lock(&self.st);
            for id in gone {
                st.external.remove(&id);
            }
        }
        self.mirror(held);
    }

    /// `close(fd)`: the kernel closes it; if it was the program's last
    /// reference to a placeholder, the model releases the socket before
    /// the call returns, as Linux's `__fput` would.
    fn close(&self, n: &Notif, pidfd: &OwnedFd) {
        let Some((dup, key)) = self.lookup(pidfd, n.args[0]) else {
            self.answer(n, Answer::Continue);
            return;
        };
        drop(dup);
        // Replace the fd by /dev/null (dropping the caller's reference to
        // A now), look for the hang-up, then let the kernel close it.
        let fd = n.args[0] as i32;
        if sys::notif_addfd(&self.listener, n.id, self.null.as_raw_fd(), false, Some(fd)).is_ok() {
            match self.a_gone(key) {
                Some(true) => self.hung_up(key),
                // The file may still be on its way out: the target's
                // replace_fd dropped it, and `fput` finishes the release
                // as task work when the target returns to user space,
                // after we answer. Its next call settles it.
                Some(false) => lock(&self.st).closing.push((key, n.tid)),
                None => {}
            }
        }
        self.note("close");
        self.answer(n, Answer::Continue);
    }

    /// Whether A of placeholder `key` is released (`None`: no such
    /// placeholder any more).
    fn a_gone(&self, key: (u64, u64)) -> Option<bool> {
        let (b, shut) = lock(&self.st)
            .ph
            .get(&key)
            .map(|p| (Arc::clone(&p.b), p.shut))?;
        Some(if shut < 2 {
            sys::poll(&[b.as_raw_fd()], POLLHUP, 0)
                .map(|r| r[0] & POLLHUP != 0)
                .unwrap_or(false)
        } else {
            !unix_inodes().contains(&key.1)
        })
    }

    /// Before serving a call of thread `tid`: release the placeholders
    /// whose last `close` has completed since, so the model sees the close
    /// before any later call, as Linux does (`__fput` runs before `close`
    /// returns to user space). An entry of `tid` itself is settled for
    /// good here (the thread is back from its `close`, so if A has not hung
    /// up, another reference keeps it and the watcher sees it go); others
    /// wait for their own thread's next call or the watcher.
    ///
    /// A release the watcher has begun (it saw the hang-up first) is waited
    /// for: it removes the placeholder and closes the model's file under
    /// `releasing`, so taking that lock once means it is complete.
    fn settle_closes(&self, tid: i32) {
        drop(lock(&self.releasing));
        let pending = std::mem::take(&mut lock(&self.st).closing);
        if pending.is_empty() {
            return;
        }
        let mut keep = Vec::new();
        for (key, by) in pending {
            match self.a_gone(key) {
                Some(true) => self.hung_up(key),
                Some(false) if by != tid => keep.push((key, by)),
                _ => {}
            }
        }
        lock(&self.st).closing.extend(keep);
        // A placeholder found gone from the table was being released by
        // the watcher: wait for the end of it.
        drop(lock(&self.releasing));
    }

    fn socket(&self, n: &Notif, model: Pid) -> (String, Served) {
        self.note("socket");
        let ty = n.args[1] as i32;
        let proto = n.args[2] as i32;
        let line = format!("socket {}", ty_name(ty));
        let r = self
            .model_call(|| self.world.socket_with_protocol(model, ty, proto))
            .and_then(|m| {
                self.install(
                    n,
                    model,
                    m,
                    ty & libc::SOCK_CLOEXEC != 0,
                    ty & libc::SOCK_NONBLOCK != 0,
                )
            })
            .map(i64::from);
        (line, r)
    }

    fn socketpair(&self, n: &Notif, tgid: i32, model: Pid) -> (String, Served) {
        self.note("socketpair");
        let ty = n.args[1] as i32;
        let line = format!("socketpair {}", ty_name(ty));
        // The fd array must be writable before anything is created.
        if sys::read_mem(tgid, n.args[3], 8).is_err() {
            return (line, Err(efault()));
        }
        let r = (|| {
            let [m0, m1] = self.model_call(|| {
                self.world
                    .socketpair_with_protocol(model, ty, n.args[2] as i32)
            })?;
            let (ce, nb) = (ty & libc::SOCK_CLOEXEC != 0, ty & libc::SOCK_NONBLOCK != 0);
            let f0 = self.install(n, model, m0, ce, nb);
            let f1 = self.install(n, model, m1, ce, nb);
            let (f0, f1) = (f0?, f1?);
            let mut b = f0.to_ne_bytes().to_vec();
            b.extend_from_slice(&f1.to_ne_bytes());
            sys::write_mem(tgid, n.args[3], &b).map_err(|_| efault())?;
            Ok((f0, f1))
        })();
        match r {
            Ok((f0, f1)) => (format!("{line}{FIELDS}fds=[{f0},{f1}]"), Ok(0)),
            Err(e) => (line, Err(e)),
        }
    }

    /// A call on a model socket, run as `model` on its temporary fd `m`.
    fn on_socket(&self, n: &Notif, tgid: i32, model: Pid, m: Fd) -> Option<(String, Served)> {
        let a = n.args;
        let fd = a[0] as i32;
        let w = &self.world;
        let nr = n.nr as i64;
        let r = match nr {
            libc::SYS_bind | libc::SYS_connect => {
                let connect = nr == libc::SYS_connect;
                self.note(if connect { "connect" } else { "bind" });
                let addr = match read_addr(&Remote(tgid), a[1], a[2]) {
                    Ok(b) => b,
                    Err(e) => return Some((format!("bind {fd}"), Err(e))),
                };
                let name = show_addr(&addr);
                let call = if connect { "connect" } else { "bind" };
                if connect && self.is_host_path(tgid, &addr) {
                    return self.hand_to_kernel(n, tgid, model, m, "connect");
                }
                let r = if connect {
                    self.resolve_addr(n.tid, tgid, addr)
                        .and_then(|a| w.connect(model, m, &a).map(|_| 0))
                } else {
                    match pathname_of(&addr) {
                        Some(path) => self.bind_path(n, tgid, model, m, &path),
                        None => w.bind(model, m, &addr).map(|_| 0),
                    }
                };
                (format!("{call} {fd} {name}"), r)
            }
            libc::SYS_listen => {
                self.note("listen");
                let r = w.listen(model, m, a[1] as i32).map(|_| 0);
                (format!("listen {fd} {}", a[1] as i32), r)
            }
            libc::SYS_accept | libc::SYS_accept4 => {
                self.note("accept");
                let flags = if nr == libc::SYS_accept4 {
                    a[3] as i32
                } else {
                    0
                };
                let r = w.accept4(model, m, flags).and_then(|nm| {
                    let peer = self.to_program(w.getpeername(model, nm).unwrap_or_default());
                    let fd = self.install(
                        n,
                        model,
                        nm,
                        flags & libc::SOCK_CLOEXEC != 0,
                        flags & libc::SOCK_NONBLOCK != 0,
                    )?;
                    if a[1] != 0 {
                        write_addr(tgid, a[1], a[2], &peer)?;
                    }
                    Ok(i64::from(fd))
                });
                (format!("accept {fd}"), r)
            }
            libc::SYS_shutdown => {
                self.note("shutdown");
                let r = w.shutdown(model, m, a[1] as i32).map(|_| 0);
                (format!("shutdown {fd} {}", a[1] as i32), r)
            }
            libc::SYS_getsockname | libc::SYS_getpeername => {
                let peer = nr == libc::SYS_getpeername;
                self.note(if peer { "getpeername" } else { "getsockname" });
                let r = if peer {
                    w.getpeername(model, m)
                } else {
                    w.getsockname(model, m)
                };
                let r = r.and_then(|addr| {
                    write_addr(tgid, a[1], a[2], &self.to_program(addr)).map(|_| 0)
                });
                let call = if peer { "getpeername" } else { "getsockname" };
                (format!("{call} {fd}"), r)
            }
            libc::SYS_setsockopt => {
                self.note("setsockopt");
                let len = a[4] as i32;
                let r = if len < 0 {
                    Err(Errno::EINVAL.into())
                } else {
                    // No option value is longer than OPT_MAX; the model
                    // checks the lengths it cares about.
                    match sys::read_mem(tgid, a[3], (len as usize).min(OPT_MAX)) {
                        Ok(v) => w
                            .setsockopt(model, m, a[1] as i32, a[2] as i32, &v)
                            .map(|_| 0),
                        Err(_) => Err(efault()),
                    }
                };
                (
                    format!("setsockopt {fd} {} {}", a[1] as i32, a[2] as i32),
                    r,
                )
            }
            libc::SYS_getsockopt => {
                self.note("getsockopt");
                (
                    format!("getsockopt {fd} {} {}", a[1] as i32, a[2] as i32),
                    self.getsockopt(n, tgid, model, m),
                )
            }
            libc::SYS_ioctl => {
                let req = a[1];
                if !matches!(req, 0x541B | 0x5411 | 0x8905) {
                    // FIONBIO, FIOCLEX, ...: on the placeholder's own file.
                    return None;
                }
                self.note("ioctl");
                let r = w.ioctl(model, m, req).and_then(|v| {
                    sys::write_mem(tgid, a[2], &v.to_ne_bytes()).map_err(|_| efault())?;
                    Ok(0)
                });
                (format!("ioctl {fd} {req:#x}"), r)
            }
            libc::SYS_sendmsg => {
                self.note("sendmsg");
                self.sendmsg(n, tgid, model, m, a[1], a[2] as i32)
            }
            libc::SYS_recvmsg => {
                self.note("recvmsg");
                self.recvmsg(n, tgid, model, m, a[1], a[2] as i32)
            }
            libc::SYS_sendto | libc::SYS_write => {
                let to = nr == libc::SYS_sendto;
                self.note(if to { "sendto" } else { "write" });
                let flags = if to { a[3] as i32 } else { 0 };
                let (name, namelen) = if to { (a[4], a[5]) } else { (0, 0) };
                let hdr = msghdr_bytes(name, namelen, 0, 0, 0, 0);
                self.send_common(n, tgid, model, m, &hdr, &[(a[1], a[2])], flags, !to)
            }
            libc::SYS_preadv2 | libc::SYS_pwritev2 if a[3] as i64 != -1 || a[4] as i64 != -1 => {
                // An offset on a socket: ESPIPE, from the kernel.
                return None;
            }
            libc::SYS_pwritev2 | libc::SYS_writev => {
                self.note("writev");
                let iov = match read_iovecs(&Remote(tgid), a[1], a[2], false) {
                    Ok(v) => v,
                    Err(e) => return Some((format!("writev {fd}"), Err(e))),
                };
                let hdr = msghdr_bytes(0, 0, 0, 0, 0, 0);
                self.send_common(n, tgid, model, m, &hdr, &iov, rwf_nowait(nr, a[5]), true)
            }
            libc::SYS_recvfrom | libc::SYS_read | libc::SYS_readv | libc::SYS_preadv2 => {
                let call = match nr {
                    libc::SYS_recvfrom => "recvfrom",
                    libc::SYS_read => "read",
                    _ => "readv",
                };
                self.note(call);
                let (iov, flags, name, namelenp) = match nr {
                    libc::SYS_recvfrom => (vec![(a[1], a[2])], a[3] as i32, a[4], a[5]),
                    libc::SYS_read => (vec![(a[1], a[2])], 0, 0, 0),
                    // readv; preadv2's RWF_NOWAIT is sock_read_iter's MSG_DONTWAIT.
                    _ => match read_iovecs(&Remote(tgid), a[1], a[2], false) {
                        Ok(v) => (v, rwf_nowait(nr, a[5]), 0, 0),
                        Err(e) => return Some((format!("readv {fd}"), Err(e))),
                    },
                };
                let namelen = if name != 0 && namelenp != 0 {
                    match sys::read_mem(tgid, namelenp, 4) {
                        Ok(b) => u32_at(&b, 0),
                        Err(_) => return Some((format!("{call} {fd}"), Err(efault()))),
                    }
                } else {
                    0
                };
                let r = self.recv_common(
                    n,
                    tgid,
                    model,
                    m,
                    &iov,
                    name,
                    namelen,
                    0,
                    0,
                    flags,
                    nr != libc::SYS_recvfrom,
                );
                match r {
                    Ok(o) => {
                        if name != 0 && namelenp != 0 {
                            let _ = sys::write_mem(tgid, namelenp, &o.namelen.to_ne_bytes());
                        }
                        (format!("{call} {fd}{FIELDS}{}", o.fields), Ok(o.ret))
                    }
                    Err(e) => (format!("{call} {fd}"), Err(e)),
                }
            }
            libc::SYS_sendmmsg | libc::SYS_recvmmsg => {
                let send = nr == libc::SYS_sendmmsg;
                self.note(if send { "sendmmsg" } else { "recvmmsg" });
                let vlen = (a[2] as u32).min(UIO_MAXIOV as u32);
                let mut done = 0i64;
                let mut err = None;
                for i in 0..vlen as u64 {
                    let at = a[1] + i * 64;
                    let r = if send {
                        self.sendmsg(n, tgid, model, m, at, a[3] as i32).1
                    } else {
                        self.recvmsg(n, tgid, model, m, at, a[3] as i32).1
                    };
                    match r {
                        Ok(len) => {
                            let _ = sys::write_mem(
                                tgid,
                                at + MSGHDR as u64,
                                &(len as u32).to_ne_bytes(),
                            );
                            done += 1;
                            // MSG_WAITFORONE: non-blocking after the first.
                            if !send && a[3] as i32 & 0x10000 != 0 {
                                let _ = w.set_nonblock(model, m, true);
                            }
                        }
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                let call = if send { "sendmmsg" } else { "recvmmsg" };
                let r = match (done, err) {
                    (0, Some(e)) => Err(e),
                    (d, _) => Ok(d),
                };
                (format!("{call} {fd} {vlen}"), r)
            }
            _ => return None,
        };
        Some(r)
    }

    fn getsockopt(&self, n: &Notif, tgid: i32, model: Pid, m: Fd) -> Served {
        let a = n.args;
        let (level, name) = (a[1] as i32, a[2] as i32);
        let lenb = sys::read_mem(tgid, a[4], 4).map_err(|_| efault())?;
        let optlen = (u32_at(&lenb, 0) as i32).min(OPT_MAX as i32);
        match self.world.getsockopt_len(model, m, level, name, optlen) {
            Ok((newlen, mut v)) => {
                if level == SOL_SOCKET && name == SO_PEERCRED && v.len() >= 4 {
                    let p = self.real_pid(u32_at(&v, 0) as i32);
                    v[..4].copy_from_slice(&p.to_ne_bytes());
                }
                if level == SOL_SOCKET && name == SO_PEERPIDFD && v.len() >= 4 {
                    let mfd = Fd::from_raw(u32_at(&v, 0) as i32);
                    let fd = self.install_received(n, model, mfd, true)?;
                    v[..4].copy_from_slice(&fd.to_ne_bytes());
                }
                sys::write_mem(tgid, a[3], &v).map_err(|_| efault())?;
                sys::write_mem(tgid, a[4], &newlen.to_ne_bytes()).map_err(|_| efault())?;
                Ok(0)
            }
            Err((e, newlen)) => {
                if let Some(l) = newlen {
                    let _ = sys::write_mem(tgid, a[4], &l.to_ne_bytes());
                }
                Err(e)
            }
        }
    }

    /// `sendmsg(fd, msg, flags)`: read the header, then as `send_common`.
    fn sendmsg(
        &self,
        n: &Notif,
        tgid: i32,
        model: Pid,
        m: Fd,
        msg: u64,
        flags: i32,
    ) -> (String, Served) {
        let fd = n.args[0] as i32;
        match read_msghdr(&Remote(tgid), msg) {
            Ok((hdr, iov)) => self.send_common(n, tgid, model, m, &hdr, &iov, flags, false),
            Err(e) => (format!("sendmsg {fd}"), Err(e)),
        }
    }

    /// Any send: the name, iovecs and control of `hdr` (a `msghdr`),
    /// control fds translated to model fds, then the model's sendmsg.
    #[allow(clippy::too_many_arguments)]
    fn send_common(
        &self,
        n: &Notif,
        tgid: i32,
        model: Pid,
        m: Fd,
        hdr: &[u8],
        iov: &[(u64, u64)],
        flags: i32,
        is_write: bool,
    ) -> (String, Served) {
        let fd = n.args[0] as i32;
        let call = if is_write { "write" } else { "sendmsg" };
        let fail = |e| (format!("{call} {fd}"), Err(e));
        let (name_p, namelen) = (u64_at(hdr, 0), u32_at(hdr, 8));
        let name = if name_p != 0 && namelen > 0 {
            match sys::read_mem(tgid, name_p, (namelen as usize).min(128)) {
                Ok(b) if self.is_host_path(tgid, &b) => {
                    return match self.hand_to_kernel(n, tgid, model, m, call) {
                        Some(r) => r,
                        None => (String::new(), Err(HANDED.into())),
                    };
                }
                Ok(b) => match self.resolve_addr(n.tid, tgid, b) {
                    Ok(a) => Some(a),
                    Err(e) => return fail(e),
                },
                Err(_) => return fail(efault()),
            }
        } else {
            None
        };
        // At most SEND_MAX bytes of the caller's memory per call: a stream
        // send of more returns what it sent (as an interrupted one may); a
        // datagram that long cannot fit any send buffer (EMSGSIZE).
        let want: u64 = iov.iter().map(|&(_, l)| l).fold(0, u64::saturating_add);
        if want > SEND_MAX as u64 {
            let ty = self
                .world
                .getsockopt(model, m, SOL_SOCKET, afunix::abi::consts::SO_TYPE, 4)
                .map_or(0, |v| u32_at(&v, 0) as i32);
            if ty != libc::SOCK_STREAM {
                return fail(Errno::EMSGSIZE.why(afunix::gap!(
                    "a datagram over 16 MiB is refused before the model sees it",
                )));
            }
        }
        let mem = Remote(tgid);
        let (bufs, total) = match gather(&mem, iov) {
            Ok(b) => b,
            Err(e) => return fail(e),
        };
        let mut control = match read_control(&mem, hdr, optmem_max()) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        if !sys::notif_id_valid(&self.listener, n.id) {
            return fail(Errno::EINTR.why(afunix::rule!(
                seccomp_do_user_notification,
                "the caller was interrupted while its memory was read",
            )));
        }
        let (temps, rights) = self.control_to_model(tgid, model, &mut control);
        let msg = SendHdr {
            name: name.as_deref(),
            iov: &bufs,
            control: &control,
        };
        let r = self.world.sendmsg_iov(model, m, &msg, flags);
        for t in temps {
            let _ = self.world.close(model, t);
        }
        if r.is_err() && self.world.take_sigpipe(model) && flags & MSG_NOSIGNAL == 0 {
            // As the kernel's unix send raises SIGPIPE before returning.
            sys::tgkill(tgid, n.tid, libc::SIGPIPE);
        }
        let mut line = format!("{call} {fd}");
        if let Some(nm) = &name {
            line.push_str(&format!(" to={}", show_addr(nm)));
        }
        match bufs.as_slice() {
            [SendBuf::Bytes(b)] if b.len() <= 64 => line.push_str(&format!(" data={}", quote(b))),
            // The language's `data=N`: N bytes (the trace keeps only the length).
            _ => line.push_str(&format!(" data={total}")),
        }
        if !rights.is_empty() {
            let r: Vec<String> = rights.iter().map(i32::to_string).collect();
            line.push_str(&format!(" rights=[{}]", r.join(",")));
        }
        if flags != 0 {
            line.push_str(&format!(" flags={flags:#x}"));
        }
        (line, r.map(|v| v as i64))
    }

    /// Rewrite the program's control bytes for the model: every fd of
    /// every SCM_RIGHTS becomes a model fd of `model` for the same file
    /// (a placeholder's model file, or an external file for a real one);
    /// a pid in SCM_CREDENTIALS becomes the model's. The temporary fds to
    /// close after the call, and the program's fd numbers (for the trace).
    fn control_to_model(&self, tgid: i32, model: Pid, control: &mut [u8]) -> (Vec<Fd>, Vec<i32>) {
        let mut temps = Vec::new();
        let mut shown = Vec::new();
        let mut edits: Vec<(usize, i32)> = Vec::new();
        let pidfd = lock(&self.st)
            .procs
            .get(&tgid)
            .map(|p| Arc::clone(&p.pidfd));
        // __scm_send's walk: it stops where CMSG_OK fails (the model's
        // sendmsg then answers EINVAL).
        let walk = afunix::abi::cmsg::kernel_cmsgs(control).map_while(Result::ok);
        for (level, ty, data_off, len) in cmsg_slots(control, walk) {
            if level != SOL_SOCKET {
                continue;
            }
            let data = &control[data_off..data_off + len];
            if ty == SCM_RIGHTS {
                for (i, chunk) in data.chunks_exact(4).enumerate() {
                    let fd = i32::from_ne_bytes(chunk.try_into().unwrap_or([0; 4]));
                    shown.push(fd);
                    let mfd = pidfd
                        .as_deref()
                        .and_then(|p| self.model_fd_for(p, model, fd, &mut temps));
                    if mfd.is_none() && UNOPEN_RIGHT.with(|u| u.get()).is_none() {
                        UNOPEN_RIGHT.with(|u| u.set(Some(fd)));
                    }
                    edits.push((data_off + 4 * i, mfd.map_or(-1, |f| f.as_raw())));
                }
            } else if ty == SCM_CREDENTIALS && len >= 4 {
                let real = i32::from_ne_bytes(data[..4].try_into().unwrap_or([0; 4]));
                // A process outside the run (init, a daemon) gets a model
                // stand-in with its credentials; a pid of no process at all
                // becomes one the model does not know either (ESRCH, or
                // EPERM for an unprivileged sender).
                let p = self
                    .model_pid(real)
                    .or_else(|| {
                        (real > 0)
                            .then(|| self.proc_entry(real, false))
                            .flatten()
                            .filter(|(tgid, ..)| *tgid == real)
                            .map(|(_, m, _)| m.as_raw())
                    })
                    .unwrap_or(i32::MAX);
                edits.push((data_off, p));
            }
        }
        for (at, v) in edits {
            control[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        }
        (temps, shown)
    }

    /// A model fd of `model` for the program's `fd`.
    fn model_fd_for(
        &self,
        pidfd: &OwnedFd,
        model: Pid,
        fd: i32,
        temps: &mut Vec<Fd>,
    ) -> Option<Fd> {
        let dup = sys::pidfd_getfd(pidfd, fd).ok()?;
        let key = sys::fstat(&dup).ok().map(|(d, i, _)| (d, i))?;
        let hold = lock(&self.st).ph.get(&key).map(|p| p.hold);
        let mfd = match hold {
            Some(h) => self.world.pidfd_getfd(model, self.holder, h).ok()?,
            None => {
                let ty = if self.typed_externals {
                    host_file_type(&dup)
                } else {
                    FileType::External
                };
                let id = {
                    let mut st = lock(&self.st);
                    st.next_external += 1;
                    let id = st.next_external;
                    st.external.insert(id, dup);
                    id
                };
                self.world.open_external_as(model, id, ty, true).ok()?
            }
        };
        temps.push(mfd);
        Some(mfd)
    }

    /// `recvmsg(fd, msg, flags)`.
    fn recvmsg(
        &self,
        n: &Notif,
        tgid: i32,
        model: Pid,
        m: Fd,
        msg: u64,
        flags: i32,
    ) -> (String, Served) {
        let fd = n.args[0] as i32;
        let line = format!("recvmsg {fd}");
        let (hdr, iov) = match read_msghdr(&Remote(tgid), msg) {
            Ok(h) => h,
            Err(e) => return (line, Err(e)),
        };
        let (name_p, namelen) = (u64_at(&hdr, 0), u32_at(&hdr, 8));
        let (ctl_p, ctl_len) = (u64_at(&hdr, 32), u64_at(&hdr, 40));
        let ctl_len = if ctl_p == 0 { 0 } else { ctl_len as usize };
        match self.recv_common(
            n,
            tgid,
            model,
            m,
            &iov,
            name_p,
            if name_p == 0 { 0 } else { namelen },
            ctl_p,
            ctl_len,
            flags,
            false,
        ) {
            Ok(o) => {
                let mut out = Vec::new();
                if name_p != 0 {
                    out.push((msg + 8, o.namelen.to_ne_bytes().to_vec()));
                }
                out.push((msg + 40, (o.controllen as u64).to_ne_bytes().to_vec()));
                out.push((msg + 48, o.flags.to_ne_bytes().to_vec()));
                for (at, b) in out {
                    if sys::write_mem(tgid, at, &b).is_err() {
                        return (line, Err(efault()));
                    }
                }
                (format!("{line}{FIELDS}{}", o.fields), Ok(o.ret))
            }
            Err(e) => (line, Err(e)),
        }
    }

    /// Any receive: the model's recvmsg, then the data scattered into the
    /// iovecs, the name, and the control with its fds installed in the
    /// caller. Returns (ret, full namelen, controllen written, msg_flags).
    #[allow(clippy::too_many_arguments)]
    fn recv_common(
        &self,
        n: &Notif,
        tgid: i32,
        model: Pid,
        m: Fd,
        iov: &[(u64, u64)],
        name_p: u64,
        namelen: u32,
        ctl_p: u64,
        ctl_len: usize,
        flags: i32,
        is_read: bool,
    ) -> Result<RecvOut, Error> {
        // No message is longer than RECV_MAX (a receive buffer's largest),
        // so a longer iovec is never filled past it.
        let cap = |l: u64| (l as usize).min(RECV_MAX);
        let bufs: Vec<RecvBuf> = iov
            .iter()
            .map(|&(b, l)| {
                if b == 0 {
                    RecvBuf::Null(cap(l))
                } else {
                    RecvBuf::Len(cap(l))
                }
            })
            .collect();
        let total: usize = iov
            .iter()
            .map(|&(_, l)| cap(l))
            .fold(0, usize::saturating_add)
            .min(RECV_MAX);
        let r = if is_read && iov.len() == 1 {
            // read(2): sock_read_iter (a zero-length read never reaches
            // the protocol).
            self.world
                .read(model, m, total)
                .map(|data| afunix::RecvMsg {
                    ret: data.len(),
                    data,
                    ..Default::default()
                })
        } else {
            let args = RecvArgs {
                iov: &bufs,
                namelen,
                controllen: ctl_len,
                flags,
            };
            self.world.recvmsg_with(model, m, &args)
        };
        let mut msg = r?;
        if !msg.name.is_empty() {
            msg.name = self.to_program(std::mem::take(&mut msg.name));
        }
        // Scatter the data.
        let mut at = 0usize;
        for &(base, len) in iov {
            if at >= msg.data.len() {
                break;
            }
            let take = (len as usize).min(msg.data.len() - at);
            sys::write_mem(tgid, base, &msg.data[at..at + take]).map_err(|_| efault())?;
            at += take;
        }
        if name_p != 0 && namelen > 0 {
            let k = (namelen as usize).min(msg.name.len());
            sys::write_mem(tgid, name_p, &msg.name[..k]).map_err(|_| efault())?;
        }
        let mut mflags = msg.flags;
        let mut control = msg.control.clone();
        let mut rights = Vec::new();
        if !control.is_empty() {
            let (extra, fds) =
                self.control_to_program(n, model, &mut control, flags & MSG_CMSG_CLOEXEC != 0);
            mflags |= extra;
            rights = fds;
            sys::write_mem(tgid, ctl_p, &control).map_err(|_| efault())?;
        }
        Ok(RecvOut {
            ret: msg.ret as i64,
            namelen: msg.name.len() as u32,
            controllen: control.len(),
            flags: mflags,
            fields: recv_fields(&msg.data, &rights, mflags),
        })
    }

    /// Rewrite control bytes the model wrote for the program: install the
    /// received files in the caller and put its fd numbers in; translate
    /// pids. Returns extra msg_flags (`MSG_CTRUNC` when an fd could not be
    /// installed).
    fn control_to_program(
        &self,
        n: &Notif,
        model: Pid,
        control: &mut [u8],
        cloexec: bool,
    ) -> (i32, Vec<i32>) {
        let mut installed = Vec::new();
        let mut edits: Vec<(usize, i32)> = Vec::new();
        let mut extra = 0;
        // As the program will walk it (a cut message: the bytes there).
        let slots = cmsg_slots(control, afunix::abi::cmsg::user_cmsgs(control));
        for (level, ty, data_off, len) in slots {
            if level != SOL_SOCKET {
                continue;
            }
            let data = control[data_off..data_off + len].to_vec();
            match ty {
                SCM_RIGHTS => {
                    let mut failed = false;
                    for (i, c) in data.chunks_exact(4).enumerate() {
                        let mfd = Fd::from_raw(i32::from_ne_bytes(c.try_into().unwrap_or([0; 4])));
                        if failed {
                            let _ = self.world.close(model, mfd);
                            edits.push((data_off + 4 * i, -1));
                            continue;
                        }
                        match self.install_received(n, model, mfd, cloexec) {
                            Ok(fd) => {
                                installed.push(fd);
                                edits.push((data_off + 4 * i, fd));
                            }
                            Err(_) => {
                                // scm_detach_fds stops at the first failure.
                                failed = true;
                                extra |= afunix::abi::consts::MSG_CTRUNC;
                                edits.push((data_off + 4 * i, -1));
                            }
                        }
                    }
                }
                SCM_PIDFD if len >= 4 => {
                    let mfd =
                        Fd::from_raw(i32::from_ne_bytes(data[..4].try_into().unwrap_or([0; 4])));
                    let fd = self.install_received(n, model, mfd, cloexec).unwrap_or(-1);
                    edits.push((data_off, fd));
                }
                SCM_CREDENTIALS if len >= 4 => {
                    let p = i32::from_ne_bytes(data[..4].try_into().unwrap_or([0; 4]));
                    edits.push((data_off, self.real_pid(p)));
                }
                _ => {}
            }
        }
        for (at, v) in edits {
            control[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        }
        (extra, installed)
    }

    /// Every directory on the way to `abs` in the model's tree (owned by
    /// root, mode 0777: the real walk is the one that decides).
    fn model_dirs(&self, abs: &[u8]) {
        let mut at = 1;
        while let Some(i) = abs
            .get(at..)
            .and_then(|r| r.iter().position(|&b| b == b'/'))
        {
            let _ = self.world.mkdir(self.holder, &abs[..at + i], 0o777);
            at += i + 1;
        }
    }

    /// `bind` to a pathname: the inode on the real filesystem first (the
    /// kernel's walk and `mknod` decide `ENOENT`, `EACCES`, `EADDRINUSE`),
    /// then the model's bind at the absolute path (`EINVAL` for a bound
    /// socket: the inode is unlinked again, as `unix_bind_bsd` does).
    fn bind_path(&self, n: &Notif, tgid: i32, model: Pid, m: Fd, path: &[u8]) -> Served {
        let cred = crate::fs::fs_cred(n.tid).ok_or(Errno::ESRCH)?;
        let host = crate::fs::host_path(tgid, path);
        let key = crate::fs::as_caller(&cred, || crate::fs::mknod_socket(&host, cred.umask))
            .map_err(|e| Error::from(Errno::from_raw(e)))?;
        let abs = crate::fs::abs_path(tgid, path);
        // A name the model still has there is stale: the real one was free.
        let _ = self.world.unlink(self.holder, &abs);
        self.model_dirs(&abs);
        if let Err(e) = self.world.bind(model, m, &sockaddr(&abs)) {
            let _ = crate::fs::as_caller(&cred, || crate::fs::unlink(&host));
            return Err(e);
        }
        let mut st = lock(&self.st);
        st.inodes.insert(key, abs.clone());
        st.given.insert(abs, path.to_vec());
        Ok(0)
    }

    /// The address a connect or send names, as the model should see it: a
    /// pathname is looked up on the real filesystem as the caller would
    /// (`unix_find_bsd`: the walk, write permission, a socket), and must
    /// be an inode this run made; the model's tree follows a rename.
    fn resolve_addr(&self, tid: i32, tgid: i32, addr: Vec<u8>) -> Result<Vec<u8>, Error> {
        let Some(path) = pathname_of(&addr) else {
            return Ok(addr);
        };
        let cred = crate::fs::fs_cred(tid).ok_or(Errno::ESRCH)?;
        let host = crate::fs::host_path(tgid, &path);
        let found = crate::fs::as_caller(&cred, || crate::fs::find_socket(&host))
            .map_err(|e| Error::from(Errno::from_raw(e)))?;
        let key = match found {
            crate::fs::Found::NotSocket => {
                return Err(Errno::ECONNREFUSED
                    .why(afunix::rule!(unix_find_bsd, "the inode is not a socket")))
            }
            crate::fs::Found::Socket(dev, ino) => (dev, ino),
        };
        let abs = crate::fs::abs_path(tgid, &path);
        let mut st = lock(&self.st);
        let Some(model_abs) = st.inodes.get(&key).cloned() else {
            // A socket bound outside the run (e.g. /run/systemd/notify):
            // refused as Linux refuses a socket nobody is bound to.
            if st.foreign_said.insert(path.clone()) {
                eprintln!(
                    "afunix exec: {}: a socket of no process of this run; refused (ECONNREFUSED)",
                    String::from_utf8_lossy(&path)
                );
            }
            return Err(Errno::ECONNREFUSED.why(afunix::rule!(
                unix_find_bsd,
                "no socket of the run is bound to the inode (unix_find_socket_byinode)"
            )));
        };
        if model_abs != abs {
            // Renamed (or linked) on the real filesystem: follow it.
            drop(st);
            self.model_dirs(&abs);
            let _ = self.world.rename(self.holder, &model_abs, &abs);
            st = lock(&self.st);
            st.inodes.insert(key, abs.clone());
            if let Some(g) = st.given.remove(&model_abs) {
                st.given.insert(abs.clone(), g);
            }
        }
        Ok(sockaddr(&abs))
    }

    /// Whether `addr` names a socket the kernel serves (`--host-path`).
    fn is_host_path(&self, tgid: i32, addr: &[u8]) -> bool {
        !self.host_paths.is_empty()
            && pathname_of(addr)
                .is_some_and(|p| self.host_paths.contains(&crate::fs::abs_path(tgid, &p)))
    }

    /// A connect or send to a `--host-path` socket: the caller's model
    /// socket becomes a kernel socket of the same type and flags at the
    /// same fd (possible only while it is unbound and unconnected), and the
    /// kernel runs the call. `None`: handed over (the answer is the
    /// kernel's).
    fn hand_to_kernel(
        &self,
        n: &Notif,
        tgid: i32,
        model: Pid,
        m: Fd,
        call: &str,
    ) -> Option<(String, Served)> {
        let fd = n.args[0] as i32;
        let line = format!("{call} {fd} (to the kernel: --host-path)");
        let w = &self.world;
        let fresh =
            w.getsockname(model, m).is_ok_and(|a| a.len() <= 2) && w.getpeername(model, m).is_err();
        if !fresh {
            eprintln!("afunix exec: fd {fd}: a bound or connected model socket cannot move to the kernel for --host-path; refused (ECONNREFUSED)");
            return Some((
                line,
                Err(Errno::ECONNREFUSED.why(afunix::gap!(
                    "a bound or connected model socket cannot become a kernel socket",
                ))),
            ));
        }
        let ty = w
            .getsockopt(model, m, SOL_SOCKET, afunix::abi::consts::SO_TYPE, 4)
            .ok()
            .map_or(libc::SOCK_STREAM, |v| u32_at(&v, 0) as i32);
        let nonblock = w.file_info(model, m).is_ok_and(|i| i.nonblock);
        let cloexec = std::fs::read_to_string(format!("/proc/{tgid}/fdinfo/{fd}"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .is_some_and(|f| f & libc::O_CLOEXEC as u32 != 0);
        let real = match sys::unix_socket(ty | if nonblock { libc::SOCK_NONBLOCK } else { 0 }) {
            Ok(s) => s,
            Err(e) => return Some((line, Err(errno_of(&e)))),
        };
        if let Err(e) = sys::notif_addfd(&self.listener, n.id, real.as_raw_fd(), cloexec, Some(fd))
        {
            return Some((line, Err(errno_of(&e))));
        }
        self.note("to-kernel");
        self.trace(tgid, line, &Ok(0), &[]);
        None
    }

    /// An address the model returns, as the program named it (the model
    /// keeps pathnames absolute).
    fn to_program(&self, addr: Vec<u8>) -> Vec<u8> {
        let Some(path) = pathname_of(&addr) else {
            return addr;
        };
        match lock(&self.st).given.get(&path) {
            Some(g) => sockaddr(g),
            None => addr,
        }
    }

    /// `unlink`/`unlinkat` of a socket inode this run made: done as the
    /// caller, and the model's name goes too. Anything else (`None`) is
    /// the kernel's.
    fn unlink(&self, n: &Notif, tgid: i32) -> Option<Served> {
        let at = n.nr as i64 == libc::SYS_unlinkat;
        let (dirfd, p, flags) = if at {
            (n.args[0] as i32, n.args[1], n.args[2] as i32)
        } else {
            (libc::AT_FDCWD, n.args[0], 0)
        };
        if flags & libc::AT_REMOVEDIR != 0 {
            return None;
        }
        let path = read_cstr(&Remote(tgid), p)?;
        let host = if dirfd == libc::AT_FDCWD || path.first() == Some(&b'/') {
            crate::fs::host_path(tgid, &path)
        } else {
            let mut host = format!("/proc/{tgid}/fd/{dirfd}/").into_bytes();
            host.extend_from_slice(&path);
            std::path::PathBuf::from(std::ffi::OsString::from_vec(host))
        };
        let (dev, ino, mode) = crate::fs::lstat_ino(&host)?;
        if mode & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        let model_abs = lock(&self.st).inodes.get(&(dev, ino)).cloned()?;
        let cred = crate::fs::fs_cred(n.tid)?;
        self.note("unlink");
        let r = crate::fs::as_caller(&cred, || crate::fs::unlink(&host));
        if r.is_ok() {
            let _ = self.world.unlink(self.holder, &model_abs);
            let mut st = lock(&self.st);
            st.inodes.remove(&(dev, ino));
            st.given.remove(&model_abs);
        }
        Some(r.map(|_| 0).map_err(|e| Error::from(Errno::from_raw(e))))
    }

    /// Print what was served (`--stats`).
    pub fn print_stats(&self, out: &mut dyn Write) {
        let served = lock(&self.stats.served);
        let mut v: Vec<_> = served.iter().collect();
        v.sort();
        let total: u64 = v.iter().map(|(_, n)| **n).sum();
        let _ = writeln!(
            out,
            "afunix exec: {total} calls served by the model, {} handed to the kernel",
            self.stats.passed.load(Ordering::Relaxed)
        );
        for (name, count) in v {
            let _ = writeln!(out, "  {name:<12} {count}");
        }
    }

    /// Whether `--explain` was asked (annotations come with the rules).
    pub fn explains(&self) -> bool {
        self.explain
    }
}

/// The control messages of a buffer as (level, type, data offset, data
/// length), from one of the model's walks (`kernel_cmsgs` for what a
/// program sends, `user_cmsgs` for what the model wrote back); the data
/// slices are slices of `buf`, so their offsets are their distances from it.
fn cmsg_slots<'a>(
    buf: &'a [u8],
    walk: impl Iterator<Item = afunix::abi::CmsgRef<'a>>,
) -> Vec<(i32, i32, usize, usize)> {
    let base = buf.as_ptr() as usize;
    walk.map(|c| (c.level, c.ty, c.data.as_ptr() as usize - base, c.data.len()))
        .collect()
}

/// Separates a trace line's call from the fields printed after its result.
const FIELDS: char = '\u{1}';

/// What a receive returned, for the answer and the trace.
struct RecvOut {
    ret: i64,
    namelen: u32,
    controllen: usize,
    flags: i32,
    fields: String,
}

/// `data="..." rights=[...] flags=...`, as a scenario trace prints a
/// receive (data longer than 64 bytes: `len=N`).
fn recv_fields(data: &[u8], rights: &[i32], flags: i32) -> String {
    let mut f = if data.len() <= 64 {
        format!("data={}", quote(data))
    } else {
        format!("data={}", data.len())
    };
    if !rights.is_empty() {
        let r: Vec<String> = rights.iter().map(i32::to_string).collect();
        f.push_str(&format!(" rights=[{}]", r.join(",")));
    }
    f.push_str(&format!(" flags={flags:#x}"));
    f
}

/// A string as the scenario language's printer writes it (the CLI's
/// `trace::fmt_string`, byte for byte: printable ASCII as it is, `\\` and
/// `\"` escaped, every other byte `\xHH`), so a trace line of `exec` reads
/// as a scenario line does.
pub fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// A, B, ..., Z, AA, AB, ...
fn proc_name(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// The path of a pathname `sockaddr_un` (as `unix_mkname_bsd` reads it:
/// up to the first NUL), or `None` for any other address.
fn pathname_of(addr: &[u8]) -> Option<Vec<u8>> {
    match afunix::abi::sockaddr::parse_user_addr(addr) {
        Ok(afunix::abi::UnixAddr::Pathname(p)) => Some(p),
        _ => None,
    }
}

/// A `sockaddr_un` for a path (`sun_path` NUL-terminated when it fits).
fn sockaddr(path: &[u8]) -> Vec<u8> {
    let mut a = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    a.extend_from_slice(path);
    if a.len() < 110 {
        a.push(0);
    }
    a
}

/// Write an address with `addrlen` value-result semantics
/// (`move_addr_to_user`): at most `*lenp` bytes, and the full length back.
fn write_addr(tgid: i32, p: u64, lenp: u64, addr: &[u8]) -> Result<(), Error> {
    if lenp == 0 {
        return Ok(());
    }
    let lb = sys::read_mem(tgid, lenp, 4).map_err(|_| efault())?;
    let want = u32_at(&lb, 0) as i32;
    if want < 0 {
        return Err(Errno::EINVAL.into());
    }
    let k = (want as usize).min(addr.len());
    sys::write_mem(tgid, p, &addr[..k]).map_err(|_| efault())?;
    sys::write_mem(tgid, lenp, &(addr.len() as u32).to_ne_bytes()).map_err(|_| efault())
}

fn msghdr_bytes(name: u64, namelen: u64, iov: u64, iovlen: u64, ctl: u64, ctllen: u64) -> Vec<u8> {
    let mut h = vec![0u8; MSGHDR];
    h[0..8].copy_from_slice(&name.to_ne_bytes());
    h[8..12].copy_from_slice(&(namelen as u32).to_ne_bytes());
    h[16..24].copy_from_slice(&iov.to_ne_bytes());
    h[24..32].copy_from_slice(&iovlen.to_ne_bytes());
    h[32..40].copy_from_slice(&ctl.to_ne_bytes());
    h[40..48].copy_from_slice(&ctllen.to_ne_bytes());
    h
}

/// `RWF_NOWAIT` of preadv2/pwritev2 as the socket's `MSG_DONTWAIT`
/// (`IOCB_NOWAIT` in `sock_read_iter`/`sock_write_iter`).
fn rwf_nowait(nr: i64, flags: u64) -> i32 {
    let v2 = nr == libc::SYS_preadv2 || nr == libc::SYS_pwritev2;
    if v2 && flags & libc::RWF_NOWAIT as u64 != 0 {
        afunix::abi::consts::MSG_DONTWAIT
    } else {
        0
    }
}

fn ty_name(ty: i32) -> String {
    let base = match ty & 0xf {
        1 => "stream".to_string(),
        2 => "dgram".to_string(),
        5 => "seqpacket".to_string(),
        t => t.to_string(),
    };
    let mut s = base;
    if ty & libc::SOCK_NONBLOCK != 0 {
        s.push_str(" nonblock");
    }
    if ty & libc::SOCK_CLOEXEC != 0 {
        s.push_str(" cloexec");
    }
    s
}

/// An address as a trace shows it: `@name`, a path, or `unnamed`.
fn show_addr(a: &[u8]) -> String {
    match a.get(2..) {
        None | Some([]) => "unnamed".into(),
        Some([0, rest @ ..]) => format!("@{}", String::from_utf8_lossy(rest)),
        Some(p) => {
            let p: Vec<u8> = p.iter().copied().take_while(|&b| b != 0).collect();
            format!("{:?}", String::from_utf8_lossy(&p))
        }
    }
}

/// A notification being handled ([`Supervisor::handling`]).
pub struct Handling(Arc<AtomicUsize>);

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
