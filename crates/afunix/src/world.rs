//! The world: one private namespace of processes, open files, unix sockets,
//! abstract names, a directory for pathname sockets, and sysctls.
//!
//! Locking follows the kernel's shape: every socket has its own lock
//! (`unix_state_lock`), two sockets are locked in a fixed order
//! (`unix_state_double_lock`), each process's fd table has its own lock,
//! the name tables have theirs (`unix_table_lock`, `bsd_socket_locks`), and
//! the garbage collector's graph has one that is taken only when files
//! travel (`unix_gc_lock`). Nothing global is locked on the send/receive
//! path of plain data. A call that must wait sleeps on the wait queue of
//! the object it waits for and is woken, after the waker has released its
//! locks, by the change it waits for.

use crate::abi::flags::{MsgFlags, OFlags, PollFlags, Shutdown, SockFlags, SocketType};
use crate::errno::{Errno, SysResult};
use crate::fs::fdtable::FdEntry;
use crate::fs::file::FileKind;
use crate::ids::{Fd, Pid};
use crate::lockdep::{LockClass, Ordered};
use crate::net::unix::gc::{GcState, GcWalk};
use crate::net::unix::stream::StreamProgress;
use crate::net::unix::Sock;
use crate::process::TaskSpec;
use crate::process::{Cred, ProcTable, Process, RawPid};
use crate::security::{Security, Task};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

mod blocking;

/// Lock a mutex, ignoring poisoning (a panicking thread cannot leave the
/// model's state half-updated in a way the next call cannot handle).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Take a reader-writer lock shared, ignoring poisoning (as [`lock`]).
pub(crate) fn read<T>(m: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

/// Take a reader-writer lock alone, ignoring poisoning (as [`lock`]).
pub(crate) fn write<T>(m: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// Objects of one kind still in memory, held weakly: a dropped object
/// leaves a dead entry, swept when the list has doubled since the last
/// sweep (so adding stays O(1) amortised) and whenever the list is read.
pub(crate) struct Registry<T>(Mutex<Vec<Weak<T>>>);

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry(Mutex::new(Vec::new()))
    }
}

impl<T> Registry<T> {
    pub(crate) fn add(&self, x: &Arc<T>) {
        let mut v = lock(&self.0);
        if v.len() >= 64 && v.len().is_power_of_two() {
            v.retain(|w| w.strong_count() > 0);
        }
        v.push(Arc::downgrade(x));
    }

    /// The objects still alive, in the order they were added.
    pub(crate) fn live(&self) -> Vec<Arc<T>> {
        let mut v = lock(&self.0);
        v.retain(|w| w.strong_count() > 0);
        v.iter().filter_map(Weak::upgrade).collect()
    }
}

use crate::signal::Interrupt;
pub(crate) use crate::wait::{Fail, KResult, Wait, WaitList};

/// The name tables: abstract names per socket type, and the directory.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Abstract names, per network namespace (the kernel's hash is per
    /// `struct net` and mixes in `sk_type`), keyed as
    /// `net::unix::addr::with_abstract_key` builds it. The hasher stays
    /// std's keyed SipHash: the names are the programs', and a program
    /// must not be able to pick colliding ones.
    pub(crate) abstract_names: HashMap<Box<[u8]>, Weak<Sock>>,
    /// The scenario's directory tree (`fs/namei.c`).
    pub(crate) tree: crate::fs::namei::Tree,
    /// The next autobind candidate.
    pub(crate) autobind_next: u32,
}

/// The state of one world, shared by every thread that calls into it.
pub struct Kernel {
    /// This world among every world of the program (never reused): what
    /// a thread's remembered fd lookups are keyed by.
    pub(crate) id: u64,
    pub(crate) procs: ProcTable,
    /// The memory for files (`mm/shmem.c`): one budget per world.
    pub(crate) shmem: Arc<crate::fs::shmem::ShmemAcct>,
    pub(crate) names: Mutex<Names>,
    /// `net.unix.max_dgram_qlen` of each network namespace that set it
    /// (the others have the default).
    pub(crate) max_dgram_qlen: Mutex<BTreeMap<u32, u32>>,
    pub(crate) next_ino: AtomicU64,
    pub(crate) next_sock: AtomicU64,
    /// The LSM policy (`None`: no LSM, and the hooks are skipped).
    pub(crate) security: Option<Box<dyn Security>>,
    /// Every socket still in memory (for `stat`, the invariants, interrupts).
    pub(crate) registry: Registry<Sock>,
    /// Every pipe still in memory, so that [`World::interrupt_all`] reaches
    /// its sleepers as it reaches the sockets'.
    pub(crate) pipes: Registry<crate::fs::file::Pipe>,
    /// The in-flight graph (`unix_gc_lock`).
    pub(crate) gc: Mutex<GcState>,
    /// The collector's work item: one run at a time (`unix_gc_work`).
    pub(crate) gc_work: Mutex<()>,
    /// A run was requested while one was running: run once more.
    pub(crate) gc_requeued: AtomicBool,
    /// A run was asked for and put off (see `queue_gc_work`).
    pub(crate) gc_deferred: AtomicBool,
    /// Runs asked for since the last one.
    pub(crate) gc_asked: AtomicUsize,
    /// The time of day receive timestamps report (`ktime_get_real`).
    pub(crate) clock: crate::time::WorldClock,
    /// Open file descriptions alive.
    pub(crate) files_live: AtomicUsize,
    pub(crate) interrupted: AtomicBool,
    /// Ids of external files whose last reference went (see
    /// [`World::take_released_external`]).
    pub(crate) released_external: Mutex<Vec<u64>>,
    /// Armed faults (`faults_on`: any armed, read on the hot path).
    pub(crate) faults: Mutex<Vec<crate::fault::Armed>>,
    pub(crate) faults_on: AtomicBool,
    /// Faults that fired, in order: (point, pid).
    pub(crate) fired: Mutex<Vec<(crate::fault::FaultPoint, RawPid)>>,
    /// `SKF_AD_RANDOM`'s generator, seeded per world.
    pub(crate) prandom: crate::abi::filter::Prandom,
    /// The per-user accounts by uid (`uidhash_table`): an entry goes
    /// when its last process and its last file in flight are gone.
    pub(crate) users: Mutex<HashMap<u32, std::sync::Weak<crate::process::UserStruct>>>,
}

/// `ESRCH` for a pid that names no live process of the world.
#[cold]
pub(crate) fn no_such_process() -> crate::errno::Error {
    Errno::ESRCH.why(rule!(find_task_by_vpid, "no such process in this world"))
}

/// `EAGAIN` from `alloc_pid`: no free pid for a new process.
#[cold]
fn no_free_pid() -> crate::errno::Error {
    crate::path::note(|| format!("no pid below pid_max {} is free", crate::process::PID_MAX));
    Errno::EAGAIN.why(rule!(alloc_pid, "every pid below pid_max is taken"))
}

impl Kernel {
    /// The collector's graph (`unix_gc_lock`), of class `Gc` in the lock
    /// order ([`crate::lockdep`]).
    pub(crate) fn gc_lock(&self) -> Ordered<MutexGuard<'_, GcState>> {
        Ordered::take(LockClass::Gc, 0, || lock(&self.gc))
    }

    /// The name tables, of class `Names`, the last in the lock order.
    pub(crate) fn names_lock(&self) -> Ordered<MutexGuard<'_, Names>> {
        Ordered::take(LockClass::Names, 0, || lock(&self.names))
    }

    fn new(security: Option<Box<dyn Security>>) -> Kernel {
        static WORLDS: AtomicU64 = AtomicU64::new(0);
        Kernel {
            id: WORLDS.fetch_add(1, Ordering::Relaxed),
            procs: ProcTable::new(100),
            shmem: Arc::default(),
            names: Mutex::new(Names::default()),
            max_dgram_qlen: Mutex::new(BTreeMap::new()),
            next_ino: AtomicU64::new(1000),
            next_sock: AtomicU64::new(1),
            security,
            registry: Registry::default(),
            pipes: Registry::default(),
            gc: Mutex::new(GcState::default()),
            gc_work: Mutex::new(()),
            gc_requeued: AtomicBool::new(false),
            gc_deferred: AtomicBool::new(false),
            gc_asked: AtomicUsize::new(0),
            clock: crate::time::WorldClock::default(),
            files_live: AtomicUsize::new(0),
            interrupted: AtomicBool::new(false),
            prandom: crate::abi::filter::Prandom::default(),
            released_external: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            faults_on: AtomicBool::new(false),
            fired: Mutex::new(Vec::new()),
            users: Mutex::new(HashMap::default()),
        }
    }

    /// `alloc_uid`: the account of `uid`, shared if a process or a file
    /// in flight still holds it, else new.
    fn alloc_uid(&self, uid: u32) -> Arc<crate::process::UserStruct> {
        let mut users = lock(&self.users);
        if let Some(u) = users.get(&uid).and_then(std::sync::Weak::upgrade) {
            return u;
        }
        // Forget the accounts nobody holds now and then, so that the
        // table stays the size of the users alive.
        if users.len() >= 64 && users.len().is_power_of_two() {
            users.retain(|_, w| w.strong_count() > 0);
        }
        let u = Arc::new(crate::process::UserStruct::new(uid));
        users.insert(uid, Arc::downgrade(&u));
        u
    }

    // ---- the LSM ------------------------------------------------------

    /// Ask the policy, if there is one (`call_int_hook`): `hook` gets the
    /// calling task. Without a policy this is one branch.
    #[inline]
    pub(crate) fn lsm(
        &self,
        pid: RawPid,
        hook: impl FnOnce(&dyn Security, &Task<'_>) -> SysResult<()>,
    ) -> SysResult<()> {
        let Some(sec) = &self.security else {
            return Ok(());
        };
        let p = self.proc(pid)?;
        hook(
            sec.as_ref(),
            &Task {
                pid: Pid::from_raw(pid),
                cred: &p.cred,
            },
        )
    }

    // ---- faults on demand -----------------------------------------------

    /// Whether an armed fault fires at `point` for `pid` (one load when
    /// none is armed).
    #[inline]
    pub(crate) fn fault(&self, point: crate::fault::FaultPoint, pid: RawPid) -> bool {
        self.faults_on.load(Ordering::Relaxed) && self.fault_fires(point, pid)
    }

    /// With a fault armed: whether one fires here (and the note saying so).
    #[cold]
    #[inline(never)]
    fn fault_fires(&self, point: crate::fault::FaultPoint, pid: RawPid) -> bool {
        let fires = lock(&self.faults)
            .iter_mut()
            .any(|f| f.reached(point, pid, &self.prandom));
        if fires {
            lock(&self.fired).push((point, pid));
            crate::path::note(|| format!("injected fault: {}", point.name()));
        }
        fires
    }

    // ---- processes ----------------------------------------------------

    pub(crate) fn proc(&self, pid: RawPid) -> SysResult<Arc<Process>> {
        self.procs.get(pid).ok_or_else(|| {
            crate::path::note(|| format!("no live process has pid {pid}"));
            no_such_process()
        })
    }

    /// Whether `pid` is a live process (init always is).
    pub(crate) fn pid_alive(&self, pid: RawPid) -> bool {
        pid == crate::process::INIT_PID || self.procs.get(pid).is_some()
    }

    /// Whether `pid` ever existed in this world (a pidfd can outlive it).
    pub(crate) fn pid_known(&self, pid: RawPid) -> bool {
        pid == crate::process::INIT_PID || self.procs.ever(pid)
    }

    fn new_process(
        pid: RawPid,
        cred: Cred,
        user: Arc<crate::process::UserStruct>,
        nofile: u64,
        umask: u32,
        netns: u32,
        fds: crate::fs::fdtable::FdTable,
    ) -> Process {
        Process {
            pid,
            cred,
            user,
            nofile,
            fds: std::sync::RwLock::new(fds),
            sigpipe: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            poll_scans: AtomicU64::new(0),
            alive: AtomicBool::new(true),
            umask: umask & 0o777,
            netns,
            sigurg: AtomicBool::new(false),
        }
    }

    fn spawn(&self, spec: &TaskSpec) -> SysResult<RawPid> {
        let null = self.alloc_file(FileKind::Null, false);
        let mut fds = crate::fs::fdtable::FdTable::default();
        // Fds 0-2 are inherited open: RLIMIT_NOFILE only refuses new fds.
        for fd in 0..3 {
            {
                fds.install(
                    fd,
                    FdEntry {
                        file: self.fget(&null),
                        cloexec: false,
                    },
                );
            }
        }
        self.fput(null);
        let cred = Cred::new(spec.uid, spec.gid, spec.groups.clone());
        let user = self.alloc_uid(cred.uid);
        let mut fds = Some(fds);
        let pid = self.procs.insert(|pid| {
            Self::new_process(
                pid,
                cred,
                user,
                spec.nofile.min(crate::process::NR_OPEN),
                spec.umask,
                spec.netns,
                fds.take().unwrap_or_default(),
            )
        });
        // No free pid below pid_max leaves the files unowned: drop them.
        for e in fds.map(|mut t| t.drain()).unwrap_or_default() {
            self.fput(e.file);
        }
        pid.ok_or_else(no_free_pid)
    }

    fn fork(&self, parent: RawPid) -> SysResult<RawPid> {
        let p = self.proc(parent)?;
        // dup_fd: the references are taken under the table's lock, so a
        // concurrent close cannot release a file the child is inheriting.
        let fds = {
            let t = p.fd_table();
            for (_, e) in t.iter() {
                e.file.count.fetch_add(1, Ordering::SeqCst);
            }
            t.clone()
        };
        let mut fds = Some(fds);
        let pid = self.procs.insert(|pid| {
            Self::new_process(
                pid,
                p.cred.clone(),
                Arc::clone(&p.user),
                p.nofile,
                p.umask,
                p.netns,
                fds.take().unwrap_or_default(),
            )
        });
        for e in fds.map(|mut t| t.drain()).unwrap_or_default() {
            self.fput(e.file);
        }
        pid.ok_or_else(no_free_pid)
    }

    fn exit(&self, pid: RawPid) -> SysResult<()> {
        let p = self.proc(pid)?;
        if !p.alive.swap(false, Ordering::SeqCst) {
            crate::path::note(|| format!("pid {pid} already exited"));
            return Err(Errno::ESRCH.why(rule!(find_task_by_vpid, "no such process in this world")));
        }
        let entries = p.fd_table_mut().drain();
        self.gc_batch(|| {
            for e in entries {
                self.fput(e.file);
            }
        });
        // Reaped at once: the pid is free for a later alloc_pid, the
        // process's memory goes with the last call of it still returning.
        self.procs.remove(pid);
        Ok(())
    }

    /// Every socket still in memory.
    pub(crate) fn all_socks(&self) -> Vec<Arc<Sock>> {
        self.registry.live()
    }

    /// Register a new socket.
    pub(crate) fn register(&self, s: &Arc<Sock>) {
        self.registry.add(s);
    }

    /// The number of live unix sockets (`/proc/net/unix`): hashed sockets,
    /// including those alive only in flight and embryos, not released ones.
    pub(crate) fn live_sockets(&self) -> usize {
        self.all_socks()
            .iter()
            .filter(|s| !lock(&s.inner).dead)
            .count()
    }
}

/// A user-space Linux AF_UNIX socket layer: processes, fds, files and unix
/// sockets in memory. Every method mirrors a system call of process `pid`
/// and returns what Linux 6.18 returns. Safe to share between threads; a
/// call that blocks in Linux blocks here until the state it waits for
/// changes (or its timeout passes).
///
/// Each method's `# Errors` lists what that call answers; besides them,
/// every call made for a [`Pid`] that is not a live process of this world
/// (never spawned, exited, or of another world) fails with `ESRCH` before
/// anything else (`find_task_by_vpid`: in Linux a call always has its caller), and
/// the installed [`crate::security::Security`] policy may refuse at its
/// hooks with its own errno.
///
/// ```
/// use afunix::{World, Fd, TaskSpec, abi::cmsg::{Cmsg, CmsgBuilder}};
/// use afunix::abi::consts::SOCK_DGRAM;
/// use afunix::net::socket::MsgHdr;
///
/// let w = World::new();
/// let a = w.spawn(&TaskSpec::default());
/// let [s0, s1] = w.socketpair(a, SOCK_DGRAM).unwrap();
/// let b = w.fork(a).unwrap();                   // b shares both ends
/// let f = w.memfd(a, b"hello").unwrap();        // fd 5 in a
/// let control = CmsgBuilder::new().rights(&[f]).finish();
/// let msg = MsgHdr { name: None, iov: Some(b"fd"), control: &control };
/// assert_eq!(w.sendmsg(a, s0, &msg, 0), Ok(2));
/// w.close(a, f).unwrap();                       // the message holds the file
///
/// let r = w.recvmsg(b, s1, 16, 64, 0).unwrap();
/// let g = Fd::from_raw(5);                      // lowest free fd in b
/// assert_eq!(r.cmsgs(), [Cmsg::Rights(vec![g])]);
/// assert_eq!(w.read(b, g, 5).unwrap(), b"hello");
/// ```
pub struct World {
    k: Kernel,
}

/// Dropping a world frees everything it still holds. Without this the
/// reference cycles the kernel's own objects form (a socket and its peer,
/// a socket queued on itself, the in-flight components the collector has
/// not freed — or, like 6.18's `mixed_lowpoint`, never frees) outlive the
/// world: a fuzzer or a test harness that makes a world per case would
/// grow by each one's sockets. There is no one kernel function for this —
/// a namespace's sockets go when their last file does — so the teardown is
/// the kernel's own steps, in its order: every process exits (`do_exit` →
/// `exit_files`), then every socket still alive is released as its file's
/// last `fput` would (`unix_release_sock`: its queue purged, the files
/// queued on it put, its peer and embryos let go), until none is left.
impl Drop for World {
    fn drop(&mut self) {
        // A world dropped while a panic unwinds (a failed assertion, a lock
        // order violation) is left as it is: a teardown that panicked too
        // would abort the process and lose the first message.
        if std::thread::panicking() {
            return;
        }
        let k = &self.k;
        // Nothing armed fires in the teardown: it is no call of a program.
        lock(&k.faults).clear();
        k.faults_on.store(false, Ordering::Relaxed);
        for p in k.procs.all() {
            // ESRCH only (it exited already): nothing more to free.
            let _ = k.exit(p.pid);
        }
        loop {
            let alive: Vec<Arc<Sock>> = k
                .registry
                .live()
                .into_iter()
                .filter(|s| !s.lock().dead)
                .collect();
            if alive.is_empty() {
                break;
            }
            for s in &alive {
                k.unix_release_sock(s, false);
            }
        }
    }
}

/// A summary: the live processes, the sockets, the open files.
impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("processes", &self.pids())
            .field("sockets", &self.k.live_sockets())
            .field("open_files", &self.k.files_live.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// What `recvmsg` returns besides its return value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecvMsg {
    /// The return value (the datagram's real length with `MSG_TRUNC` in flags).
    pub ret: usize,
    /// The bytes copied into the iovec.
    pub data: Vec<u8>,
    /// `msg_name`, `msg_namelen` bytes of it.
    pub name: Vec<u8>,
    /// The control buffer, `msg_controllen` bytes of it.
    pub control: Vec<u8>,
    /// `msg_flags`.
    pub flags: i32,
}

impl RecvMsg {
    /// The control messages, decoded.
    pub fn cmsgs(&self) -> Vec<crate::abi::cmsg::Cmsg> {
        crate::abi::cmsg::parse_cmsgs(&self.control).collect()
    }

    /// The fds installed by every `SCM_RIGHTS` message, in order.
    pub fn rights(&self) -> Vec<Fd> {
        crate::abi::cmsg::rights(&self.control).collect()
    }

    /// The `SCM_CREDENTIALS` that came with the message, if any.
    pub fn creds(&self) -> Option<crate::abi::ucred::Ucred> {
        crate::abi::cmsg::parse_cmsgs(&self.control).find_map(|c| match c {
            crate::abi::cmsg::Cmsg::Credentials(u) => Some(u),
            _ => None,
        })
    }

    /// `msg_flags`, typed.
    pub fn msg_flags(&self) -> MsgFlags {
        MsgFlags::from_bits_retain(self.flags)
    }

    /// Whether `MSG_CTRUNC` is set: some control data (or some fds) did
    /// not fit, or were refused, and were dropped.
    pub fn ctrunc(&self) -> bool {
        self.flags & crate::abi::consts::MSG_CTRUNC != 0
    }
}

impl World {
    /// An empty world with sysctls at their defaults and no LSM.
    pub fn new() -> World {
        World {
            k: Kernel::new(None),
        }
    }

    /// An empty world whose LSM hook points ask `security`.
    pub fn with_security(security: Box<dyn Security>) -> World {
        World {
            k: Kernel::new(Some(security)),
        }
    }

    /// An empty world whose garbage collector walks as `walk` says (the
    /// default, [`GcWalk::Linux618`], leaks where Linux 6.18 leaks).
    pub fn with_gc_walk(walk: GcWalk) -> World {
        let w = World::new();
        w.set_gc_walk(walk);
        w
    }

    /// Change how the collector walks from its next run on: e.g. a harness
    /// that ran a world as Linux 6.18 does can switch to
    /// [`GcWalk::Fixed`] at the end to tell the components 6.18 never
    /// frees (such as `mixed_lowpoint`) from a real leak of the model.
    pub fn set_gc_walk(&self, walk: GcWalk) {
        self.k.gc_lock().set_walk(walk);
    }

    /// Set the world's memory for files: the bytes all its memfds and
    /// regular files may hold together (a tmpfs's `size=`; default
    /// [`crate::SHMEM_MAX`], 1 GiB). A write or a `memfd` content that
    /// would pass it is `ENOSPC`; lowering it below what is in use only
    /// refuses growth.
    pub fn set_shmem_max(&self, bytes: usize) {
        self.k.shmem.set_max(bytes);
    }

    /// The bytes the world's memfds and regular files hold now.
    pub fn shmem_used(&self) -> usize {
        self.k.shmem.used()
    }

    /// The live processes, by pid.
    pub fn pids(&self) -> Vec<Pid> {
        let mut v: Vec<Pid> = self
            .k
            .procs
            .all()
            .iter()
            .map(|p| Pid::from_raw(p.pid))
            .collect();
        v.sort();
        v
    }

    /// Arm a fault (see [`crate::fault`]).
    pub fn inject(&self, fault: crate::fault::Fault) {
        lock(&self.k.faults).push(crate::fault::Armed::new(fault));
        self.k.faults_on.store(true, Ordering::Relaxed);
    }

    /// The faults that fired since the last call: where, and in which
    /// process.
    pub fn take_fired(&self) -> Vec<(crate::fault::FaultPoint, Pid)> {
        std::mem::take(&mut *lock(&self.k.fired))
            .into_iter()
            .map(|(p, pid)| (p, Pid::from_raw(pid)))
            .collect()
    }

    /// Where this world reads the time of day, which only receive
    /// timestamps (`SO_TIMESTAMP`, `SO_TIMESTAMPNS` and their `_NEW`
    /// forms) report: frozen at 0 by default, so that runs are
    /// reproducible; [`Clock::Host`](crate::Clock::Host) for programs that
    /// compare them with their own clock (`afunix exec` does).
    pub fn set_clock(&self, clock: crate::Clock) {
        self.k.clock.set(clock);
    }

    /// The clock set by [`World::set_clock`].
    pub fn clock(&self) -> crate::Clock {
        self.k.clock.get()
    }

    /// Seed the world's random source (`SKF_AD_RANDOM` in socket filters):
    /// the same seed gives the same run. Worlds start with a fixed seed.
    pub fn seed(&self, seed: u32) {
        self.k.prandom.reseed(seed);
    }

    /// The shared state, for the calls defined in other modules.
    pub(crate) fn kernel(&self) -> &Kernel {
        &self.k
    }

    /// Run `f` (calls of this world, on this thread) under `interrupt`, as
    /// a thread whose pending signals are `interrupt`'s: raising it from
    /// another thread interrupts the call of `f` that sleeps, and only it
    /// (see [`crate::signal`]).
    ///
    /// ```
    /// use afunix::{World, Interrupt, Errno, abi::consts::SOCK_DGRAM, TaskSpec};
    /// use afunix::signal::{after_signal, Disposition};
    ///
    /// let w = std::sync::Arc::new(World::new());
    /// let p = w.spawn(&TaskSpec::default());
    /// let [a, _b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    /// let sig = Interrupt::new();
    /// let (w2, sig2) = (w.clone(), sig.clone());
    /// let t = std::thread::spawn(move || w2.interruptible(&sig2, || w2.recvmsg(p, a, 8, 0, 0)));
    /// while !w.is_sleeping(p) { std::thread::yield_now(); }
    /// sig.raise();
    /// let e = t.join().unwrap().unwrap_err();
    /// assert_eq!(e, Errno::ERESTARTSYS);
    /// // Delivered to a handler without SA_RESTART, the program sees EINTR.
    /// let seen = after_signal(e.errno, Disposition::Handler { sa_restart: false });
    /// assert_eq!(seen, Some(Errno::EINTR));
    /// ```
    pub fn interruptible<R>(&self, interrupt: &Interrupt, f: impl FnOnce() -> R) -> R {
        interrupt.scope(f)
    }

    /// Interrupt every sleeping call (they return `EINTR`) and every later
    /// one that would sleep: used when a world is torn down.
    pub fn interrupt_all(&self) {
        self.k.interrupted.store(true, Ordering::SeqCst);
        for s in self.k.all_socks() {
            let mut g = s.lock();
            if g.waiters.has_sleeper() {
                g.waiters.wake_all();
            }
            if g.peer_waiters.has_sleeper() {
                g.peer_waiters.wake_all();
            }
            s.wait.notify_all();
            s.peer_wait.notify_all();
        }
        // A pipe's sleepers look at the interrupt when woken.
        for p in self.k.pipes.live() {
            let _g = lock(&p.inner);
            p.wait.notify_all();
        }
    }

    /// Create a process with fds 0–2 open on `/dev/null`. A `nofile` above
    /// `fs.nr_open` ([`crate::NR_OPEN`]) is clamped to it, as no
    /// process can have more.
    ///
    /// With every pid below [`crate::PID_MAX`] taken by a live process the
    /// pid returned names no process (each call of it is `ESRCH`); use
    /// [`World::try_spawn`] to be told.
    pub fn spawn(&self, spec: &TaskSpec) -> Pid {
        self.try_spawn(spec).unwrap_or(Pid::from_raw(-1))
    }

    /// [`World::spawn`], or `EAGAIN` when every pid below
    /// [`crate::PID_MAX`] is taken (`alloc_pid`).
    ///
    /// # Errors
    ///
    /// `EAGAIN`: every pid the world gives is taken by a live process
    /// (100 to [`crate::PID_MAX`], from 300 once the pids have wrapped).
    pub fn try_spawn(&self, spec: &TaskSpec) -> SysResult<Pid> {
        self.k.spawn(spec).map(Pid::from_raw)
    }

    /// `fork()`: a copy of `parent`'s fd table (same open files) and credentials.
    ///
    /// # Errors
    /// `ESRCH` for a `parent` that does not exist; `EAGAIN` when the world's
    /// process table is full.
    pub fn fork(&self, parent: Pid) -> SysResult<Pid> {
        let parent = parent.as_raw();
        crate::path::enter(parent, "kernel_clone");
        self.k.fork(parent).map(Pid::from_raw)
    }

    /// `exit()`: close every fd; the process is reaped at once.
    ///
    /// # Errors
    /// `ESRCH` for a process that does not exist or already exited.
    pub fn exit(&self, pid: Pid) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_exit");
        self.k.exit(pid)
    }

    /// Whether a call of `pid` sleeps in the model right now: waits for a
    /// wake-up that has not come yet (as a task not TASK_RUNNING; a call
    /// that was woken and has not run yet does not sleep), or polls
    /// between two scans.
    pub fn is_sleeping(&self, pid: Pid) -> bool {
        let pid = pid.as_raw();
        self.k
            .proc(pid)
            .is_ok_and(|p| p.sleeping.load(Ordering::SeqCst) > 0)
    }

    /// How many scans `pid`'s polls have made that found no fd ready
    /// (`do_poll`'s loop; the model's poll sleeps between scans rather than
    /// on every file's queue). A poll that counted two more scans since a
    /// moment has looked at the world after it: what happened before that
    /// moment cannot wake it any more.
    pub fn poll_scans(&self, pid: Pid) -> u64 {
        self.k
            .proc(pid.as_raw())
            .map_or(0, |p| p.poll_scans.load(Ordering::SeqCst))
    }

    /// Collect (and clear) a SIGPIPE raised in `pid`.
    pub fn take_sigpipe(&self, pid: Pid) -> bool {
        let pid = pid.as_raw();
        self.k
            .proc(pid)
            .is_ok_and(|p| p.sigpipe.swap(false, Ordering::SeqCst))
    }

    /// `close(fd)`.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open.
    pub fn close(&self, pid: Pid, fd: Fd) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "close_fd");
        let fd = fd.as_raw();
        self.k.close(pid, fd)
    }

    /// `dup(fd)`.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open; `EMFILE` when no fd is free below
    /// RLIMIT_NOFILE.
    pub fn dup(&self, pid: Pid, fd: Fd) -> SysResult<Fd> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "sys_dup");
        let fd = fd.as_raw();
        self.k.dup(pid, fd).map(Fd::from_raw)
    }

    /// `pipe2(flags)`: read end first.
    ///
    /// # Errors
    /// `EINVAL` for a flag other than `O_NONBLOCK`, `O_CLOEXEC`, `O_DIRECT`
    /// and `O_NOTIFICATION_PIPE`; `EMFILE` when fewer than two fds are free
    /// below RLIMIT_NOFILE; `ESRCH` for a pid that is not a live process.
    pub fn pipe2(&self, pid: Pid, flags: impl Into<OFlags>) -> SysResult<[Fd; 2]> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_pipe2");
        self.k
            .pipe2(pid, flags.into().bits())
            .map(|[a, b]| [Fd::from_raw(a), Fd::from_raw(b)])
    }

    /// `memfd_create` + `write(content)` + `lseek(0)`.
    ///
    /// # Errors
    /// `EMFILE` when no fd is free below RLIMIT_NOFILE; `ENOSPC` when the
    /// content passes the world's budget for file bytes
    /// ([`World::set_shmem_max`]), `ENOMEM` when it cannot be allocated;
    /// `ESRCH` for a pid that is not a live process.
    pub fn memfd(&self, pid: Pid, content: &[u8]) -> SysResult<Fd> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "sys_memfd_create");
        self.k.memfd(pid, content).map(Fd::from_raw)
    }

    /// `read(fd, len)`.
    ///
    /// # Errors
    /// `EBADF` (not open, or not open for reading, or `O_PATH`); `EISDIR` for a
    /// directory; `EINVAL` for a pidfd; on a socket, what [`World::recvmsg`]
    /// gives; `EAGAIN` where it would block on a non-blocking file;
    /// `EINTR`/`ERESTARTSYS` when interrupted ([`crate::signal`]).
    pub fn read(&self, pid: Pid, fd: Fd, len: usize) -> SysResult<Vec<u8>> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        let mut restarted = false;
        loop {
            crate::path::enter(pid, "ksys_read");
            // fdget_pos: the file is held for the whole call, sleeps included.
            let f = self.k.fdget(pid, fd)?;
            let t = f.sock().and_then(|s| s.rcvtimeo.get());
            let mut pr = StreamProgress::default();
            let r = self.blocking(pid, t, restarted, |k| k.file_read(pid, &f, len, &mut pr));
            self.k.fput(f);
            match r {
                Err(_) if !pr.out.is_empty() => return Ok(std::mem::take(&mut pr.out).into_vec()),
                Err(e) if crate::fault::restarts(&e) => restarted = true,
                r => {
                    self.k.progress_drop(&mut pr);
                    return r;
                }
            }
        }
    }

    /// `write(fd, bytes)`.
    ///
    /// # Errors
    /// `EBADF` (not open, or not open for writing); `EINVAL` for a pidfd;
    /// `EPIPE` on a pipe or socket with no reader (SIGPIPE noted); on a socket,
    /// what [`World::sendmsg`] gives; `EAGAIN` where it would block on a
    /// non-blocking file.
    pub fn write(&self, pid: Pid, fd: Fd, bytes: &[u8]) -> SysResult<usize> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        let mut restarted = false;
        loop {
            crate::path::enter(pid, "ksys_write");
            // fdget_pos: the file is held for the whole call, sleeps included.
            let f = self.k.fdget(pid, fd)?;
            let t = f.sock().and_then(|s| s.sndtimeo.get());
            let mut pr = StreamProgress::default();
            let r = self.blocking(pid, t, restarted, |k| k.file_write(pid, &f, bytes, &mut pr));
            self.k.fput(f);
            self.k.progress_drop(&mut pr);
            match r {
                Err(_) if pr.sent > 0 => return Ok(pr.sent),
                Err(e) if crate::fault::restarts(&e) => restarted = true,
                r => return r,
            }
        }
    }

    /// `fcntl(fd, F_SETFL, O_NONBLOCK or 0)`.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open.
    pub fn set_nonblock(&self, pid: Pid, fd: Fd, on: bool) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_fcntl");
        crate::path::step("setfl");
        let fd = fd.as_raw();
        self.k.set_nonblock(pid, fd, on)
    }

    /// `fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0)`.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open.
    pub fn set_cloexec(&self, pid: Pid, fd: Fd, on: bool) -> SysResult<()> {
        crate::path::enter(pid.as_raw(), "do_fcntl");
        let p = self.k.proc(pid.as_raw())?;
        let mut t = p.fd_table_mut();
        t.set_cloexec(fd.as_raw(), on)
    }

    /// `fcntl(fd, F_GETFD)`.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open.
    pub fn get_fd_flags(&self, pid: Pid, fd: Fd) -> SysResult<i32> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_fcntl");
        let fd = fd.as_raw();
        self.k.get_fd_flags(pid, fd)
    }

    /// The pid a pidfd refers to, `-1` once that process exited.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open; `EINVAL` for a file that is not a
    /// pidfd.
    pub fn pidfd_pid(&self, pid: Pid, fd: Fd) -> SysResult<i32> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "pidfd_show_fdinfo");
        let fd = fd.as_raw();
        self.k.pidfd_pid(pid, fd)
    }

    /// `sysctl net.unix.max_dgram_qlen` of network namespace 0: applies
    /// to sockets created afterwards.
    pub fn set_max_dgram_qlen(&self, n: u32) {
        lock(&self.k.max_dgram_qlen).insert(0, n);
    }

    /// Write `net.unix.max_dgram_qlen` of network namespace `netns` as
    /// `proc_dointvec` does: a value outside a C int is `EINVAL`, a
    /// negative one is stored (and read as unsigned by the queue check).
    ///
    /// # Errors
    /// `EINVAL` for a value outside a C int (`proc_dointvec`).
    pub fn sysctl_max_dgram_qlen(&self, netns: u32, n: i64) -> SysResult<()> {
        crate::path::step("proc_dointvec");
        let v = i32::try_from(n).map_err(|_| {
            crate::path::note(|| format!("{n} is outside {}..={}", i32::MIN, i32::MAX));
            Errno::EINVAL.why(rule!(proc_dointvec, "value outside a C int"))
        })?;
        lock(&self.k.max_dgram_qlen).insert(netns, v as u32);
        Ok(())
    }

    /// Run the in-flight garbage collector to completion (`unix_gc`).
    pub fn gc(&self) {
        crate::path::step("unix_gc (requested)");
        self.k.unix_gc();
    }

    /// The number of live unix sockets, as `/proc/net/unix` lists them.
    pub fn stat(&self) -> usize {
        self.k.flush_gc_work();
        self.k.live_sockets()
    }

    /// Check the model's invariants; `Err` names the first one broken:
    /// every open file's `f_count` equals the references that exist to it
    /// (fd table entries and in-flight messages); the number of open files
    /// found that way is the number alive; no released socket holds
    /// messages; every live socket has a file or a listener.
    ///
    /// # Errors
    /// The first invariant broken, in words (not an errno: a bug of the model).
    pub fn check_invariants(&self) -> Result<(), String> {
        self.k.check_invariants()
    }

    /// The number of open file descriptions in the world.
    pub fn open_files(&self) -> usize {
        self.k.files_live.load(Ordering::SeqCst)
    }

    /// The number of socket objects still in memory, released or not.
    pub fn socket_objects(&self) -> usize {
        self.k.flush_gc_work();
        self.k.all_socks().len()
    }
}

// Socket calls: pick the timeout, then run the call.
impl World {
    /// `socket(AF_UNIX, ty, 0)`.
    ///
    /// # Errors
    /// `EINVAL` for unknown flags in `ty` or a type ≥ `SOCK_MAX`;
    /// `ESOCKTNOSUPPORT` for another type; `EMFILE` when no fd is free; the
    /// policy's error (`security_socket_create`).
    pub fn socket(&self, pid: Pid, ty: impl Into<SocketType>) -> SysResult<Fd> {
        let pid = pid.as_raw();
        self.k
            .sys_socket(pid, ty.into().bits(), 0)
            .map(Fd::from_raw)
    }

    /// `socket(AF_UNIX, ty, protocol)`.
    ///
    /// # Errors
    /// As [`World::socket`]; `EPROTONOSUPPORT` for a protocol other than 0 and
    /// `PF_UNIX`.
    pub fn socket_with_protocol(
        &self,
        pid: Pid,
        ty: impl Into<SocketType>,
        protocol: i32,
    ) -> SysResult<Fd> {
        let pid = pid.as_raw();
        { self.k.sys_socket(pid, ty.into().bits(), protocol) }.map(Fd::from_raw)
    }

    /// `socketpair(AF_UNIX, ty, 0)`.
    ///
    /// # Errors
    /// As [`World::socket`] (both fds are taken first: `EMFILE` before the type
    /// is looked at).
    pub fn socketpair(&self, pid: Pid, ty: impl Into<SocketType>) -> SysResult<[Fd; 2]> {
        let pid = pid.as_raw();
        self.k
            .sys_socketpair(pid, ty.into().bits(), 0)
            .map(|[a, b]| [Fd::from_raw(a), Fd::from_raw(b)])
    }

    /// `socketpair(AF_UNIX, ty, protocol)`.
    ///
    /// # Errors
    /// As [`World::socketpair`] and [`World::socket_with_protocol`].
    pub fn socketpair_with_protocol(
        &self,
        pid: Pid,
        ty: impl Into<SocketType>,
        protocol: i32,
    ) -> SysResult<[Fd; 2]> {
        let pid = pid.as_raw();
        { self.k.sys_socketpair(pid, ty.into().bits(), protocol) }
            .map(|[a, b]| [Fd::from_raw(a), Fd::from_raw(b)])
    }

    /// `bind(fd, addr)`.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`; `EINVAL` for a malformed address, a length over
    /// `sizeof(sockaddr_storage)` or a socket already bound; `EADDRINUSE`; for
    /// a pathname, the walk's `ENOENT`, `ENOTDIR`, `EACCES`; the policy's
    /// error.
    pub fn bind(&self, pid: Pid, fd: Fd, addr: &[u8]) -> SysResult<()> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_bind(pid, fd, addr)
    }

    /// `connect(fd, addr)`.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`, `EINVAL`; `ECONNREFUSED` (no socket of this type
    /// has the name, or it does not listen); `EPROTOTYPE`; `EISCONN`; `EAGAIN`
    /// for a full backlog on a non-blocking socket; `EPERM` (`unix_may_send`);
    /// the walk's errors for a pathname; `EINTR`/`ERESTARTSYS` when
    /// interrupted.
    pub fn connect(&self, pid: Pid, fd: Fd, addr: &[u8]) -> SysResult<()> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        let mut restarted = false;
        loop {
            let t = self.k.timeout_of(pid, fd, false);
            let mut nonblock = None;
            match self.blocking(pid, t, restarted, |k| {
                k.sys_connect(pid, fd, addr, &mut nonblock)
            }) {
                Err(e) if crate::fault::restarts(&e) => restarted = true,
                r => return r,
            }
        }
    }

    /// `listen(fd, backlog)`.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`; `EINVAL` for an unbound or connected socket;
    /// `EOPNOTSUPP` for a datagram socket.
    pub fn listen(&self, pid: Pid, fd: Fd, backlog: i32) -> SysResult<()> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_listen(pid, fd, backlog)
    }

    /// `accept4(fd, NULL, NULL, flags)`.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`, `EINVAL` (unknown flags, not listening),
    /// `EOPNOTSUPP` (datagram), `EMFILE`, `EAGAIN` (non-blocking, nothing
    /// pending), `EINTR`/`ERESTARTSYS` when interrupted.
    pub fn accept4(&self, pid: Pid, fd: Fd, flags: impl Into<SockFlags>) -> SysResult<Fd> {
        let flags = flags.into().bits();
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        let mut restarted = false;
        loop {
            let t = self.k.timeout_of(pid, fd, true);
            let mut nonblock = None;
            match self.blocking(pid, t, restarted, |k| {
                k.sys_accept4(pid, fd, flags, &mut nonblock)
            }) {
                Err(e) if crate::fault::restarts(&e) => restarted = true,
                r => return r.map(Fd::from_raw),
            }
        }
    }

    /// `sendmsg(fd, msg, flags)`.
    ///
    /// # Errors
    /// `EINVAL` (`MSG_CMSG_COMPAT`, bad control data, bad address), `EBADF`,
    /// `ENOTSOCK`, `ENOBUFS` (`msg_controllen` over INT_MAX), `EMSGSIZE`,
    /// `ENOTCONN`, `EDESTADDRREQ`, `EISCONN`, `ECONNREFUSED`, `ECONNRESET`,
    /// `EPIPE` (SIGPIPE noted unless `MSG_NOSIGNAL`), `EPERM` (credentials,
    /// `unix_may_send`, `SO_PASSRIGHTS`), `ESRCH`, `ETOOMANYREFS`, `EAGAIN`; a
    /// stream send interrupted after queueing returns what it queued.
    pub fn sendmsg(
        &self,
        pid: Pid,
        fd: Fd,
        msg: &crate::net::socket::MsgHdr<'_>,
        flags: impl Into<MsgFlags>,
    ) -> SysResult<usize> {
        let flags = flags.into().bits();
        let pid = pid.as_raw();
        let mut restarted = false;
        loop {
            crate::path::enter(pid, "__sys_sendmsg");
            let fd = fd.as_raw();
            // __sys_sendmsg: forbid_cmsg_compat, before the fd is looked up.
            if flags & crate::abi::consts::MSG_CMSG_COMPAT != 0 {
                crate::path::note(|| format!("flags {flags:#x} include MSG_CMSG_COMPAT"));
                return Err(
                    Errno::EINVAL.why(rule!(__sys_sendmsg, "MSG_CMSG_COMPAT on the native call"))
                );
            }
            // fdget once: the file is held across any sleep, as the kernel holds it.
            let f = self.k.fdget(pid, fd)?;
            let mut pr = StreamProgress::default();
            // The socket is borrowed from the file, which the call holds.
            let r = match f.sock() {
                None => Err(f.not_a_socket()),
                Some(s) => self.blocking(pid, s.sndtimeo.get(), restarted, |k| {
                    if msg.control.len() > i32::MAX as usize {
                        crate::path::note(|| {
                            format!("msg_controllen {} > INT_MAX", msg.control.len())
                        });
                        return Err(Errno::ENOBUFS
                            .why(rule!(____sys_sendmsg, "msg_controllen > INT_MAX"))
                            .into());
                    }
                    k.sock_sendmsg(pid, s, &f, msg, flags, &mut pr)
                }),
            };
            self.k.progress_drop(&mut pr);
            self.k.fput(f);
            match r {
                // A stream send that queued something before it gave up says so.
                Err(_) if pr.sent > 0 => return Ok(pr.sent),
                Err(e) if crate::fault::restarts(&e) => restarted = true,
                r => return r,
            }
        }
    }

    /// `recvmsg(fd, msg, flags)` with one iovec of `len` bytes, a
    /// `controllen`-byte control buffer (0: NULL) and a 128-byte name buffer.
    ///
    /// # Errors
    /// `EINVAL` (`MSG_CMSG_COMPAT`, `MSG_OOB` where there is none), `EBADF`,
    /// `ENOTSOCK`, `ENOTCONN`, `EAGAIN`, `EOPNOTSUPP` (`MSG_OOB` on a datagram
    /// socket), `EINTR`/`ERESTARTSYS` when interrupted; a stream read
    /// interrupted after copying returns what it copied.
    pub fn recvmsg(
        &self,
        pid: Pid,
        fd: Fd,
        len: usize,
        controllen: usize,
        flags: impl Into<MsgFlags>,
    ) -> SysResult<RecvMsg> {
        let flags = flags.into().bits();
        let pid = pid.as_raw();
        let mut restarted = false;
        loop {
            crate::path::enter(pid, "__sys_recvmsg");
            let fd = fd.as_raw();
            // __sys_recvmsg: forbid_cmsg_compat, before the fd is looked up.
            if flags & crate::abi::consts::MSG_CMSG_COMPAT != 0 {
                crate::path::note(|| format!("flags {flags:#x} include MSG_CMSG_COMPAT"));
                return Err(
                    Errno::EINVAL.why(rule!(__sys_recvmsg, "MSG_CMSG_COMPAT on the native call"))
                );
            }
            let f = self.k.fdget(pid, fd)?;
            let mut pr = StreamProgress::default();
            let r = match f.sock() {
                None => Err(f.not_a_socket()),
                Some(s) => self.blocking(pid, s.rcvtimeo.get(), restarted, |k| {
                    k.sock_recvmsg(pid, s, &f, len, controllen, flags, &mut pr)
                }),
            };
            self.k.fput(f);
            match r {
                // A read that copied something before it gave up returns it.
                Err(_) if !pr.out.is_empty() => {
                    return self.k.recv_finish(pid, fd, controllen, flags, &mut pr)
                }
                Err(e) if crate::fault::restarts(&e) => {
                    self.k.progress_drop(&mut pr);
                    restarted = true;
                }
                r => {
                    self.k.progress_drop(&mut pr);
                    return r;
                }
            }
        }
    }

    /// `sendmsg(fd, {data, SCM_RIGHTS fds}, 0)`: send `data` with the open
    /// files behind `fds` (none: no control message).
    ///
    /// # Errors
    /// As [`World::sendmsg`].
    pub fn send_with_fds(&self, pid: Pid, fd: Fd, data: &[u8], fds: &[Fd]) -> SysResult<usize> {
        use crate::abi::cmsg::{cmsg_space, write_rights, CmsgBuilder};
        // A few fds: the message is built on the stack, as a C program's
        // `char buf[CMSG_SPACE(n * sizeof(int))]` (no allocation per send).
        const ON_STACK: usize = 8;
        let mut raw = [0i32; ON_STACK];
        let mut small = [0u8; cmsg_space(4 * ON_STACK)];
        let space = cmsg_space(4 * fds.len());
        let built;
        let control: &[u8] = if fds.is_empty() {
            &[]
        } else if let Some(raw) = raw.get_mut(..fds.len()) {
            for (r, fd) in raw.iter_mut().zip(fds) {
                *r = fd.as_raw();
            }
            // (The padding after the fds is the array's zeros.)
            write_rights(&mut small, raw);
            small.get(..space).unwrap_or_default()
        } else {
            let mut b = CmsgBuilder::new();
            b.rights(fds);
            built = b.into_bytes();
            &built
        };
        let msg = crate::net::socket::MsgHdr {
            name: None,
            iov: Some(data),
            control,
        };
        self.sendmsg(pid, fd, &msg, 0)
    }

    /// `sendmsg(fd, msg, flags)` with several iovecs (gathered in order).
    ///
    /// # Errors
    /// As [`World::sendmsg`]; `EFAULT` for a NULL iovec base with a length.
    pub fn sendmsg_iov(
        &self,
        pid: Pid,
        fd: Fd,
        msg: &crate::net::socket::SendHdr<'_>,
        flags: impl Into<MsgFlags>,
    ) -> SysResult<usize> {
        let flags = flags.into().bits();
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        use crate::net::socket::SendBuf;
        let mut data = Vec::new();
        let mut fault = false;
        for b in msg.iov {
            match b {
                SendBuf::Bytes(b) => data.extend_from_slice(b),
                SendBuf::Null(n) => fault |= *n > 0,
            }
        }
        if fault && flags & crate::abi::consts::MSG_CMSG_COMPAT == 0 {
            crate::path::enter(pid, "__sys_sendmsg");
            self.k.fdget(pid, fd).map(|f| self.k.fput(f))?;
            note_null_iov(
                msg.iov
                    .iter()
                    .map(|b| matches!(b, SendBuf::Null(n) if *n > 0)),
            );
            return Err(Errno::EFAULT.why(rule!(copy_from_iter, "an iovec has a NULL base")));
        }
        let hdr = crate::net::socket::MsgHdr {
            name: msg.name,
            iov: (!msg.iov.is_empty()).then_some(data.as_slice()),
            control: msg.control,
        };
        self.sendmsg(Pid::from_raw(pid), Fd::from_raw(fd), &hdr, flags)
    }

    /// `recvmsg(fd, msg, flags)` with several iovecs (filled in order; the
    /// data comes back as one buffer) and a `msg_namelen`; the name comes
    /// back whole (the caller cuts it to what fitted).
    ///
    /// # Errors
    /// As [`World::recvmsg`]; `EINVAL` for a `msg_namelen` that is
    /// negative as an int; `EFAULT` for a NULL iovec base with a length.
    pub fn recvmsg_with(
        &self,
        pid: Pid,
        fd: Fd,
        a: &crate::net::socket::RecvArgs<'_>,
    ) -> SysResult<RecvMsg> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        use crate::net::socket::RecvBuf;
        if a.flags & crate::abi::consts::MSG_CMSG_COMPAT == 0 {
            // ___sys_recvmsg → __copy_msghdr, once the socket is known.
            let bad_len = (a.namelen as i32) < 0;
            let fault = a
                .iov
                .iter()
                .any(|b| matches!(b, RecvBuf::Null(n) if *n > 0));
            if bad_len || fault {
                crate::path::enter(pid, "__sys_recvmsg");
                let f = self.k.fdget(pid, fd)?;
                let not_sock = f.sock().is_none().then(|| f.not_a_socket());
                self.k.fput(f);
                if let Some(e) = not_sock {
                    return Err(e);
                }
                if bad_len {
                    crate::path::note(|| format!("msg_namelen {}", a.namelen as i32));
                    return Err(Errno::EINVAL.why(rule!(__copy_msghdr, "msg_namelen < 0")));
                }
                note_null_iov(
                    a.iov
                        .iter()
                        .map(|b| matches!(b, RecvBuf::Null(n) if *n > 0)),
                );
                return Err(Errno::EFAULT.why(rule!(copy_to_iter, "an iovec has a NULL base")));
            }
        }
        let len = a.iov.iter().fold(0usize, |n, b| n.saturating_add(b.len()));
        self.recvmsg(
            Pid::from_raw(pid),
            Fd::from_raw(fd),
            len,
            a.controllen,
            a.flags,
        )
    }

    /// `getsockopt(fd, level, name, buf, &optlen)` with `optlen` passed as
    /// an int: the returned optlen and the bytes written.
    ///
    /// # Errors
    /// The errno, with the optlen the kernel wrote back when it changed it
    /// (`SO_PEERGROUPS`' `ERANGE` returns the length needed).
    pub fn getsockopt_len(
        &self,
        pid: Pid,
        fd: Fd,
        level: i32,
        name: i32,
        optlen: i32,
    ) -> Result<(i32, Vec<u8>), (crate::errno::Error, Option<i32>)> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_getsockopt_len(pid, fd, level, name, optlen)
    }

    /// `poll(fds, n, timeout)` with every fd asking for `events`: the
    /// revents of each, in order. A negative timeout waits until one is
    /// ready.
    ///
    /// # Errors
    /// `EINTR` when the world is torn down while it waits.
    pub fn poll_fds(
        &self,
        pid: Pid,
        fds: &[Fd],
        events: impl Into<PollFlags>,
        timeout: i32,
    ) -> SysResult<Vec<PollFlags>> {
        let events = events.into().bits();
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_sys_poll");
        let fds: Vec<i32> = fds.iter().map(|f| f.as_raw()).collect();
        // do_sys_poll: scan every fd; sleep until one is ready or the
        // timeout passes, then scan again.
        let deadline =
            (timeout >= 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
        let intr = Interrupt::current();
        let mut first = true;
        loop {
            let rev: Vec<PollFlags> = fds
                .iter()
                .map(|fd| PollFlags::from_bits_retain(self.k.sys_poll(pid, *fd, events)))
                .collect();
            if rev.iter().any(|e| !e.is_empty()) || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(rev);
            }
            if self.k.interrupted.load(Ordering::SeqCst) {
                return Err(Errno::EINTR.why(rule!(
                    signal_pending,
                    "the world was torn down while the call slept"
                )));
            }
            // A caller that abandoned the call (Interrupt::cancel).
            if intr.as_ref().is_some_and(Interrupt::abandoned) {
                return Err(Errno::ERESTARTNOINTR.why(rule!(
                    signal_pending,
                    "the caller abandoned the call (it will restart it)",
                )));
            }
            // do_poll: a pending signal ends the wait with ERESTARTNOHAND.
            if let Some(e) = intr.as_ref().and_then(|i| {
                i.take(|| {
                    Errno::ERESTARTNOHAND.why(rule!(do_poll, "signal_pending while poll waits"))
                })
            }) {
                crate::path::note(|| {
                    format!("a signal is pending; {} fds had no event", rev.len())
                });
                return Err(e);
            }
            // An injected signal, once per call (the rescans below are
            // timed, not counted): ERESTARTNOHAND, EINTR under a handler.
            if first {
                first = false;
                if let Some(point) = self.signal_fault(pid, true) {
                    return Err(crate::fault::signal_delivered(point, Errno::ERESTARTNOHAND));
                }
            }
            // The model has no wait queue that spans files of every kind:
            // poll re-scans every millisecond while it sleeps.
            let p = self.k.proc(pid)?;
            p.poll_scans.fetch_add(1, Ordering::SeqCst);
            p.sleeping.fetch_add(1, Ordering::SeqCst);
            let step = Duration::from_millis(1);
            std::thread::sleep(deadline.map_or(step, |d| {
                step.min(d.saturating_duration_since(Instant::now()))
            }));
            p.sleeping.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// `shutdown(fd, how)`.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`; `EINVAL` for a `how` other than 0, 1, 2
    /// (`unix_shutdown`: a unix socket is shut down connected or not).
    pub fn shutdown(&self, pid: Pid, fd: Fd, how: impl Into<Shutdown>) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "__sys_shutdown");
        let fd = fd.as_raw();
        self.k.sys_shutdown(pid, fd, how.into().raw())
    }

    /// `setsockopt(fd, level, name, value)`.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`; `EINVAL` for a short value; `ENOPROTOOPT` for an
    /// option Linux does not know at that level; `EOPNOTSUPP` at other levels;
    /// `EPERM` for privileged options without the capability; `EDOM` for a bad
    /// timeout.
    pub fn setsockopt(
        &self,
        pid: Pid,
        fd: Fd,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> SysResult<()> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_setsockopt(pid, fd, level, name, value)
    }

    /// `getsockopt(fd, level, name)` with an `optlen`-byte buffer: the bytes written.
    ///
    /// # Errors
    /// As [`World::getsockopt_len`].
    pub fn getsockopt(
        &self,
        pid: Pid,
        fd: Fd,
        level: i32,
        name: i32,
        optlen: usize,
    ) -> SysResult<Vec<u8>> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_getsockopt(pid, fd, level, name, optlen)
    }

    /// `getsockname(fd)`: the address bytes (`addrlen` of them).
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`.
    pub fn getsockname(&self, pid: Pid, fd: Fd) -> SysResult<Vec<u8>> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_getname(pid, fd, false)
    }

    /// `getpeername(fd)`.
    ///
    /// # Errors
    /// `EBADF`, `ENOTSOCK`; `ENOTCONN` without a peer.
    pub fn getpeername(&self, pid: Pid, fd: Fd) -> SysResult<Vec<u8>> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_getname(pid, fd, true)
    }

    /// `setsockopt(fd, level, name, &value, sizeof(value))` with a typed
    /// value (`i32`, [`crate::abi::Timeval`], [`crate::abi::Linger`], …).
    ///
    /// # Errors
    /// As [`World::setsockopt`].
    pub fn setsockopt_value<T: crate::abi::OptValue>(
        &self,
        pid: Pid,
        fd: Fd,
        level: i32,
        name: i32,
        value: &T,
    ) -> SysResult<()> {
        self.setsockopt(pid, fd, level, name, &value.to_bytes())
    }

    /// `getsockopt(fd, level, name)` with `optlen = sizeof(T)`, read as a
    /// `T` (`i32`, [`crate::abi::Timeval`], [`crate::abi::Ucred`] for
    /// `SO_PEERCRED`, [`crate::abi::Linger`]); bytes the kernel did not
    /// write read as 0.
    ///
    /// # Errors
    /// As [`World::getsockopt`].
    pub fn getsockopt_value<T: crate::abi::OptValue>(
        &self,
        pid: Pid,
        fd: Fd,
        level: i32,
        name: i32,
    ) -> SysResult<T> {
        self.getsockopt(pid, fd, level, name, T::LEN)
            .map(|b| T::from_bytes(&b))
    }

    /// `bind(fd, addr)` with a typed address.
    ///
    /// # Errors
    /// As [`World::bind`].
    pub fn bind_addr(&self, pid: Pid, fd: Fd, addr: &crate::abi::UnixAddr) -> SysResult<()> {
        self.bind(pid, fd, &addr.to_sockaddr())
    }

    /// `connect(fd, addr)` with a typed address.
    ///
    /// # Errors
    /// As [`World::connect`].
    pub fn connect_addr(&self, pid: Pid, fd: Fd, addr: &crate::abi::UnixAddr) -> SysResult<()> {
        self.connect(pid, fd, &addr.to_sockaddr())
    }

    /// `getsockname(fd)`, decoded (unnamed, abstract or a path).
    ///
    /// # Errors
    /// As [`World::getsockname`].
    pub fn getsockname_addr(&self, pid: Pid, fd: Fd) -> SysResult<crate::abi::UnixAddr> {
        self.getsockname(pid, fd)
            .map(|b| crate::abi::UnixAddr::from_sockaddr(&b))
    }

    /// `getpeername(fd)`, decoded.
    ///
    /// # Errors
    /// As [`World::getpeername`].
    pub fn getpeername_addr(&self, pid: Pid, fd: Fd) -> SysResult<crate::abi::UnixAddr> {
        self.getpeername(pid, fd)
            .map(|b| crate::abi::UnixAddr::from_sockaddr(&b))
    }

    /// `poll` of one fd with timeout 0: revents.
    ///
    /// # Errors
    /// None: a bad fd reports `POLLNVAL` in the result, as `poll(2)` does.
    pub fn poll(&self, pid: Pid, fd: Fd, events: impl Into<PollFlags>) -> SysResult<PollFlags> {
        let events = events.into().bits();
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_sys_poll");
        let fd = fd.as_raw();
        Ok(PollFlags::from_bits_retain(
            self.k.sys_poll(pid, fd, events),
        ))
    }

    /// `ioctl(fd, req, &int)`: the int.
    ///
    /// # Errors
    /// `EBADF` (also for `O_PATH`), `ENOTTY` for a request the file does not
    /// have, `EINVAL` for `SIOCINQ` on a listener, `EOPNOTSUPP` for
    /// `SIOCATMARK` on a socket that is not a stream.
    pub fn ioctl(&self, pid: Pid, fd: Fd, req: u64) -> SysResult<i32> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_ioctl(pid, fd, req)
    }
}

// fs/file.c, fs/exec.c, fs/fcntl.c: fd-table calls and signals.
impl World {
    /// `dup2(fd, newfd)`.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open or `newfd` is negative or not below
    /// RLIMIT_NOFILE.
    pub fn dup2(&self, pid: Pid, fd: Fd, newfd: Fd) -> SysResult<Fd> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "ksys_dup3");
        let fd = fd.as_raw();
        let newfd = newfd.as_raw();
        self.k.dup2(pid, fd, newfd).map(Fd::from_raw)
    }

    /// `execve`: every close-on-exec fd is closed (`do_close_on_exec`);
    /// everything else of the process stays.
    ///
    /// # Errors
    /// `ESRCH` for a process that does not exist.
    pub fn exec(&self, pid: Pid) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "begin_new_exec");
        self.k.exec(pid)
    }

    /// `fcntl(fd, F_SETOWN, getpid())`: the caller owns the open file.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open or is `O_PATH`.
    pub fn set_own(&self, pid: Pid, fd: Fd) -> SysResult<()> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        crate::path::enter(pid, "do_fcntl");
        crate::path::step("f_setown");
        let f = self.k.fdget(pid, fd)?;
        if matches!(f.kind, FileKind::Path) {
            let e = f.refused(Errno::EBADF.why(rule!(fcntl, "F_SETOWN on an O_PATH fd")));
            self.k.fput(f);
            return Err(e);
        }
        f.owner.store(pid, Ordering::SeqCst);
        self.k.fput(f);
        Ok(())
    }

    /// Collect (and clear) a SIGURG delivered to `pid`.
    pub fn take_sigurg(&self, pid: Pid) -> bool {
        let pid = pid.as_raw();
        self.k
            .proc(pid)
            .is_ok_and(|p| p.sigurg.swap(false, Ordering::SeqCst))
    }
}

/// What an open file is, as an embedder needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Its type.
    pub file_type: crate::security::FileType,
    /// For an external file, its id.
    pub external: Option<u64>,
    /// For a pidfd, the pid it refers to.
    pub pidfd: Option<Pid>,
    /// `O_NONBLOCK` of the open file.
    pub nonblock: bool,
}

// Calls for embedders that keep their own files beside the model's.
impl World {
    /// `pidfd_getfd(pidfd_open(target), targetfd, 0)`: a new fd of `pid`
    /// (close-on-exec) for the open file behind `targetfd` of `target`.
    ///
    /// # Errors
    /// `ESRCH` for a `target` that does not exist, `EBADF` for a
    /// `targetfd` not open there, `EMFILE` when `pid` has no free fd.
    pub fn pidfd_getfd(&self, pid: Pid, target: Pid, targetfd: Fd) -> SysResult<Fd> {
        let (pid, target, targetfd) = (pid.as_raw(), target.as_raw(), targetfd.as_raw());
        crate::path::enter(pid, "pidfd_getfd");
        // __pidfd_fget → fget_task, then receive_fd(.., O_CLOEXEC).
        let f = self.k.fdget(target, targetfd)?;
        if let Err(e) = self.k.fd_reserve(pid, 1) {
            self.k.fput(f);
            return Err(e);
        }
        self.k.fd_install(pid, f, true).map(Fd::from_raw)
    }

    /// A new open file the model does not implement, known by `id` to
    /// the embedder, installed in `pid`.
    ///
    /// # Errors
    /// `EMFILE` when `pid` has no free fd (the file is then released at
    /// once, and its id reported).
    pub fn open_external(&self, pid: Pid, id: u64, cloexec: bool) -> SysResult<Fd> {
        self.open_external_as(pid, id, crate::security::FileType::External, cloexec)
    }

    /// [`World::open_external`] for a file the embedder knows the type of
    /// (a host memfd, pipe or directory): a policy's hooks see it as `ty`
    /// ([`FileRef::host_type`](crate::security::FileRef::host_type)), so
    /// a rule such as `file_receive,file=!memfd` holds for the embedder's
    /// files as for the model's.
    ///
    /// # Errors
    /// As [`World::open_external`].
    pub fn open_external_as(
        &self,
        pid: Pid,
        id: u64,
        ty: crate::security::FileType,
        cloexec: bool,
    ) -> SysResult<Fd> {
        let pid = pid.as_raw();
        if let Err(e) = self.k.fd_reserve(pid, 1) {
            lock(&self.k.released_external).push(id);
            return Err(e);
        }
        let f = self.k.alloc_file(FileKind::External(id, ty), false);
        self.k.fd_install(pid, f, cloexec).map(Fd::from_raw)
    }

    /// The ids of the external files whose last reference went since the
    /// last call (closed, dropped in flight, collected), in that order.
    pub fn take_released_external(&self) -> Vec<u64> {
        std::mem::take(&mut *lock(&self.k.released_external))
    }

    /// What the file behind `fd` of `pid` is.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open.
    pub fn file_info(&self, pid: Pid, fd: Fd) -> SysResult<FileInfo> {
        let f = self.k.fdget(pid.as_raw(), fd.as_raw())?;
        let info = FileInfo {
            file_type: crate::security::FileRef(&f).file_type(),
            external: match f.kind {
                FileKind::External(id, _) => Some(id),
                _ => None,
            },
            pidfd: match f.kind {
                FileKind::Pidfd(p) => Some(Pid::from_raw(p)),
                _ => None,
            },
            nonblock: f.is_nonblock(),
        };
        self.k.fput(f);
        Ok(info)
    }
}

impl Kernel {
    /// `sk_send_sigurg` → `send_sigurg`: SIGURG to the owner of a socket's file.
    pub(crate) fn send_sigurg(&self, s: &Sock) {
        let owner = s
            .lock()
            .file
            .as_ref()
            .and_then(Weak::upgrade)
            .map(|f| f.owner.load(Ordering::SeqCst));
        if let Some(p) = owner.filter(|o| *o > 0).and_then(|o| self.proc(o).ok()) {
            p.sigurg.store(true, Ordering::SeqCst);
        }
    }
}

/// Which iovecs are NULL with a length, while a path is recorded.
fn note_null_iov(null: impl Iterator<Item = bool>) {
    crate::path::note(|| {
        let at: Vec<String> = null
            .enumerate()
            .filter(|&(_, n)| n)
            .map(|(i, _)| i.to_string())
            .collect();
        format!("iov[{}] has a NULL base", at.join(", "))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::consts::{AF_UNIX, SOCK_SEQPACKET, SOCK_STREAM};

    /// A world dropped with everything still in it frees every socket and
    /// pipe: an open pair in a live process (a socket and its peer hold
    /// each other), a pipe in flight, a connector whose listener went, and
    /// the component Linux 6.18's collector never frees
    /// (`tests/scenarios/gc_618_leak_peer_in_flight.scn`). Counted by the
    /// objects themselves (a weak reference to each), not by memory.
    #[test]
    fn a_dropped_world_frees_what_it_held() {
        let w = World::new();
        let p = w.spawn(&TaskSpec::default());
        let q = w.spawn(&TaskSpec::default());
        let leaky = w.spawn(&TaskSpec::default());
        let [x, y] = w.socketpair(p, SOCK_STREAM).unwrap();
        let [r, _] = w.pipe2(p, 0).unwrap();
        w.send_with_fds(p, x, b"r", &[r]).unwrap();
        w.close(p, r).unwrap();
        let mut srv = vec![AF_UNIX as u8, 0, 0];
        srv.extend_from_slice(b"srv");
        let l = w.socket(q, SOCK_STREAM).unwrap();
        w.bind(q, l, &srv).unwrap();
        w.listen(q, l, 4).unwrap();
        let e = w.socket(p, SOCK_STREAM).unwrap();
        w.connect(p, e, &srv).unwrap();
        w.exit(q).unwrap();
        let [a, b] = w.socketpair(leaky, SOCK_SEQPACKET).unwrap();
        let [c, d] = w.socketpair(leaky, SOCK_SEQPACKET).unwrap();
        w.send_with_fds(leaky, b, b"", &[b, d]).unwrap();
        w.send_with_fds(leaky, c, b"", &[a]).unwrap();
        w.send_with_fds(leaky, a, b"", &[a, a]).unwrap();
        w.exit(leaky).unwrap();
        w.gc();
        // x, y, e, and the three the collector leaves, as 6.18 does.
        assert_eq!(w.stat(), 6);
        let socks: Vec<Weak<Sock>> = w.k.registry.live().iter().map(Arc::downgrade).collect();
        let pipes: Vec<_> = w.k.pipes.live().iter().map(Arc::downgrade).collect();
        assert_eq!(pipes.len(), 1);
        drop(w);
        let left = socks.iter().filter(|s| s.strong_count() > 0).count();
        let pipes_left = pipes.iter().filter(|p| p.strong_count() > 0).count();
        assert_eq!((left, pipes_left), (0, 0));
        let _ = (y, e);
    }

    /// Memfds and regular files share the world's memory for files: a
    /// process making file after file, or growing one, gets ENOSPC at the
    /// budget; every byte is given back when the last holder goes.
    #[test]
    fn file_bytes_are_bounded_by_the_world_budget() {
        let w = World::new();
        w.set_shmem_max(1 << 20);
        let p = w.spawn(&TaskSpec {
            nofile: 4096,
            ..TaskSpec::default()
        });
        let chunk = vec![7u8; 64 << 10];
        let mut made = 0;
        let e = loop {
            match w.memfd(p, &chunk) {
                Ok(_) => made += 1,
                Err(e) => break e,
            }
        };
        assert_eq!((e.errno(), made), (Errno::ENOSPC, 16));
        assert_eq!(w.shmem_used(), 1 << 20);
        // Growing a file is charged too; a regular file shares the budget.
        let f = Fd::from_raw(3);
        assert_eq!(w.write(p, f, b"x").unwrap(), 1, "overwrite costs nothing");
        w.close(p, Fd::from_raw(4)).unwrap();
        let r = w
            .open(
                p,
                b"big",
                crate::abi::consts::O_CREAT | crate::abi::consts::O_RDWR,
                0o600,
            )
            .unwrap();
        assert_eq!(w.write(p, r, &chunk).unwrap(), chunk.len());
        assert_eq!(w.write(p, r, b"y").unwrap_err().errno(), Errno::ENOSPC);
        w.exit(p).unwrap();
        // The regular file lives on in the directory; the memfds are gone.
        assert_eq!(w.shmem_used(), 64 << 10);
        let q = w.spawn(&TaskSpec::default());
        w.unlink(q, b"big").unwrap();
        assert_eq!(w.shmem_used(), 0);
    }

    /// Exited processes leave the table (the memory it holds is bounded by
    /// the live ones), pids are given cyclically below pid_max and wrap to
    /// RESERVED_PIDS, and with every pid taken a new process is EAGAIN.
    #[test]
    fn the_process_table_is_bounded_by_pid_max() {
        let w = World::new();
        let spec = TaskSpec::default();
        let mut last = 0;
        for i in 0..(2 * crate::PID_MAX as usize) {
            let p = w.try_spawn(&spec).unwrap();
            assert!(p.as_raw() < crate::PID_MAX);
            if i > 0 && p.as_raw() < last {
                assert_eq!(p.as_raw(), 300, "wraps to RESERVED_PIDS");
            }
            last = p.as_raw();
            w.exit(p).unwrap();
            if i % 4096 == 0 {
                assert_eq!(w.k.procs.len(), 0, "an exited process is freed");
            }
        }
        // A pid given before the wrap is still known (a pidfd may name it).
        assert!(w.k.pid_known(150));
        // Fill the table: after the wrap, every pid from 300 to pid_max - 1.
        let live: Vec<Pid> = std::iter::from_fn(|| w.try_spawn(&spec).ok()).collect();
        assert_eq!(live.len(), (crate::PID_MAX - 300) as usize);
        assert_eq!(w.k.procs.len(), live.len());
        assert_eq!(w.try_spawn(&spec).unwrap_err().errno(), Errno::EAGAIN);
        assert_eq!(w.fork(live[0]).unwrap_err().errno(), Errno::EAGAIN);
        // Each process has its own /dev/null; the failed spawn and fork
        // dropped the files they had made or taken.
        assert_eq!(w.open_files(), live.len());
        // One exits: its number is the only one free, and is given again.
        let freed = live[live.len() / 2];
        w.exit(freed).unwrap();
        assert_eq!(w.fork(live[0]).unwrap(), freed);
        for p in w.pids() {
            w.exit(p).unwrap();
        }
        assert_eq!(w.k.procs.len(), 0);
        assert_eq!(w.open_files(), 0);
    }
}
