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

use crate::abi::flags::{MsgFlags, PollFlags, SockFlags};
use crate::errno::{Errno, SysResult};
use crate::fdtable::FdEntry;
use crate::file::{File, FileKind, Memfd, Pipe, PipeInner, PIPE_PAGE};
use crate::ids::{Fd, Pid};
use crate::lockdep::{LockClass, Ordered};
use crate::net::unix::gc::{GcState, GcWalk};
use crate::net::unix::stream::StreamProgress;
use crate::net::unix::{Sock, SockType};
use crate::process::TaskSpec;
use crate::process::{Cred, ProcTable, Process, RawPid};
use crate::security::{Security, Task};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

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

/// Grow file content to `len` bytes (zeros), or `ENOMEM` when the memory
/// is not there, as the kernel's page allocation fails, rather than abort.
fn grow(data: &mut Vec<u8>, len: usize) -> SysResult<()> {
    data.try_reserve(len.saturating_sub(data.len()))
        .map_err(|_| Errno::ENOMEM.why("shmem_alloc_folio: no memory for the file's pages"))?;
    data.resize(len, 0);
    Ok(())
}

/// `get_unused_fd_flags` + `fd_install` with `p`'s table locked: the
/// lowest free fd, or the file back with `ESRCH` (an exiting process has
/// drained its table after clearing `alive`: nothing may be installed
/// behind its back) or `EMFILE`.
fn install_lowest(
    p: &Process,
    t: &mut crate::fdtable::FdTable,
    file: Arc<File>,
    cloexec: bool,
) -> Result<i32, (Arc<File>, crate::errno::Error)> {
    if !p.alive.load(Ordering::SeqCst) {
        return Err((file, Errno::ESRCH.why("fd_install: the process exited")));
    }
    match t.lowest_free(p.nofile) {
        Ok(fd) => {
            t.install(fd, FdEntry { file, cloexec });
            Ok(fd)
        }
        Err(e) => Err((file, e)),
    }
}

use crate::signal::Interrupt;
pub(crate) use crate::wait::{Fail, KResult, Wait, WaitList};

/// The name tables: abstract names per socket type, and the directory.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Abstract names, per network namespace (the kernel's hash is per
    /// `struct net` and mixes in `sk_type`).
    pub(crate) abstract_names: HashMap<(u32, SockType, Vec<u8>), Weak<Sock>>,
    /// The scenario's directory tree (`fs/namei.c`).
    pub(crate) tree: crate::namei::Tree,
    /// The next autobind candidate.
    pub(crate) autobind_next: u32,
}

/// The state of one world, shared by every thread that calls into it.
pub struct Kernel {
    pub(crate) procs: ProcTable,
    pub(crate) names: Mutex<Names>,
    /// `net.unix.max_dgram_qlen` of each network namespace that set it
    /// (the others have the default).
    pub(crate) max_dgram_qlen: Mutex<BTreeMap<u32, u32>>,
    pub(crate) next_ino: AtomicU64,
    pub(crate) next_sock: AtomicU64,
    /// The LSM policy (`None`: no LSM, and the hooks are skipped).
    pub(crate) security: Option<Box<dyn Security>>,
    /// Every socket ever created (for `stat`, the invariants, interrupts).
    pub(crate) registry: Mutex<Vec<Weak<Sock>>>,
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
}

thread_local! {
    /// Files whose last reference was dropped while a release was running
    /// on this thread (`__fput` is deferred, as the kernel defers it to
    /// task work, so releases never nest and never run under a lock).
    static DEFERRED_FPUT: RefCell<Option<Vec<Arc<File>>>> = const { RefCell::new(None) };
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
        Kernel {
            procs: ProcTable::new(100),
            names: Mutex::new(Names::default()),
            max_dgram_qlen: Mutex::new(BTreeMap::new()),
            next_ino: AtomicU64::new(1000),
            next_sock: AtomicU64::new(1),
            security,
            registry: Mutex::new(Vec::new()),
            gc: Mutex::new(GcState::default()),
            gc_work: Mutex::new(()),
            gc_requeued: AtomicBool::new(false),
            gc_deferred: AtomicBool::new(false),
            gc_asked: AtomicUsize::new(0),
            files_live: AtomicUsize::new(0),
            interrupted: AtomicBool::new(false),
            prandom: crate::abi::filter::Prandom::default(),
            released_external: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            faults_on: AtomicBool::new(false),
            fired: Mutex::new(Vec::new()),
        }
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
        let fires = self.fault_fires(point, pid);
        if fires {
            crate::path::note(|| format!("injected fault: {}", point.name()));
        }
        fires
    }

    fn fault_fires(&self, point: crate::fault::FaultPoint, pid: RawPid) -> bool {
        if !self.faults_on.load(Ordering::Relaxed) {
            return false;
        }
        let fires = lock(&self.faults)
            .iter_mut()
            .any(|f| f.reached(point, pid, &self.prandom));
        if fires {
            lock(&self.fired).push((point, pid));
        }
        fires
    }

    // ---- processes ----------------------------------------------------

    pub(crate) fn proc(&self, pid: RawPid) -> SysResult<&Process> {
        self.procs
            .get(pid)
            .ok_or(Errno::ESRCH.why("find_task_by_vpid: no such process in this world"))
    }

    /// Whether `pid` is a live process (init always is).
    pub(crate) fn pid_alive(&self, pid: RawPid) -> bool {
        pid == crate::process::INIT_PID || self.procs.get(pid).is_some()
    }

    /// Whether `pid` ever existed in this world (a pidfd can outlive it).
    pub(crate) fn pid_known(&self, pid: RawPid) -> bool {
        pid == crate::process::INIT_PID || self.procs.get_any(pid).is_some()
    }

    fn new_process(
        pid: RawPid,
        cred: Cred,
        nofile: u64,
        umask: u32,
        netns: u32,
        fds: crate::fdtable::FdTable,
    ) -> Process {
        Process {
            pid,
            cred,
            nofile,
            fds: std::sync::RwLock::new(fds),
            sigpipe: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            alive: AtomicBool::new(true),
            umask: umask & 0o777,
            netns,
            sigurg: AtomicBool::new(false),
        }
    }

    fn spawn(&self, spec: &TaskSpec) -> RawPid {
        let null = self.alloc_file(FileKind::Null, false);
        let mut fds = crate::fdtable::FdTable::default();
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
        let mut fds = Some(fds);
        let pid = self.procs.insert(|pid| {
            Self::new_process(
                pid,
                cred,
                spec.nofile.min(crate::process::NR_OPEN),
                spec.umask,
                spec.netns,
                fds.take().unwrap_or_default(),
            )
        });
        // A full table (2^30 processes) leaves the files unowned: drop them.
        for e in fds.map(|mut t| t.drain()).unwrap_or_default() {
            self.fput(e.file);
        }
        pid.unwrap_or(-1)
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
                p.nofile,
                p.umask,
                p.netns,
                fds.take().unwrap_or_default(),
            )
        });
        for e in fds.map(|mut t| t.drain()).unwrap_or_default() {
            self.fput(e.file);
        }
        pid.ok_or(Errno::EAGAIN.why("fork: the world's process table is full"))
    }

    fn exit(&self, pid: RawPid) -> SysResult<()> {
        let p = self.proc(pid)?;
        if !p.alive.swap(false, Ordering::SeqCst) {
            return Err(Errno::ESRCH.why("find_task_by_vpid: no such process in this world"));
        }
        let entries = p.fd_table_mut().drain();
        self.gc_batch(|| {
            for e in entries {
                self.fput(e.file);
            }
        });
        Ok(())
    }

    // ---- files --------------------------------------------------------

    /// A new open file with `f_count` 1 (the caller installs it or drops it).
    pub(crate) fn alloc_file(&self, kind: FileKind, nonblock: bool) -> Arc<File> {
        self.files_live.fetch_add(1, Ordering::SeqCst);
        File::new(kind, nonblock)
    }

    /// Take a reference to an open file (`get_file`).
    pub(crate) fn fget(&self, f: &Arc<File>) -> Arc<File> {
        f.count.fetch_add(1, Ordering::SeqCst);
        Arc::clone(f)
    }

    /// Drop a reference to an open file (`fput`). The last one releases
    /// what the file holds (`__fput`); releases that this triggers run
    /// one after another, never nested. Call with no socket lock held.
    pub(crate) fn fput(&self, f: Arc<File>) {
        crate::lockdep::assert_none_held("fput");
        let left = f.count.fetch_sub(1, Ordering::SeqCst) - 1;
        if left != 0 {
            // Only in-flight copies hold it now: the collector may find it.
            if let FileKind::Socket(s) = &f.kind {
                if s.inflight.load(Ordering::SeqCst) == left {
                    self.gc_only_inflight_left(s);
                }
            }
            return;
        }
        let nested = DEFERRED_FPUT.with(|d| match d.borrow_mut().as_mut() {
            Some(list) => {
                list.push(Arc::clone(&f));
                true
            }
            None => false,
        });
        if nested {
            return;
        }
        // The collection the releases ask for runs after the cascade,
        // when files it drops are released as a cascade of their own.
        self.gc_batch(|| {
            DEFERRED_FPUT.with(|d| *d.borrow_mut() = Some(vec![f]));
            loop {
                let next = DEFERRED_FPUT.with(|d| d.borrow_mut().as_mut().and_then(Vec::pop));
                match next {
                    Some(f) => self.__fput(f),
                    None => break,
                }
            }
            DEFERRED_FPUT.with(|d| *d.borrow_mut() = None);
        });
    }

    // __fput: what the last reference releases.
    fn __fput(&self, f: Arc<File>) {
        self.files_live.fetch_sub(1, Ordering::SeqCst);
        match &f.kind {
            FileKind::Socket(s) => self.unix_release_sock(s, false),
            FileKind::PipeRead(p) | FileKind::PipeWrite(p) => {
                let mut g = lock(&p.inner);
                if matches!(f.kind, FileKind::PipeRead(_)) {
                    g.readers = g.readers.saturating_sub(1);
                } else {
                    g.writers = g.writers.saturating_sub(1);
                }
                g.seq += 1;
                p.wait.notify_all();
            }
            FileKind::External(id) => lock(&self.released_external).push(*id),
            FileKind::Null
            | FileKind::Memfd(_)
            | FileKind::Pidfd(_)
            | FileKind::Regular(_)
            | FileKind::Dir
            | FileKind::Path => {}
        }
    }

    /// The open file behind `fd` of `pid` (`fdget`), with a reference.
    pub(crate) fn fdget(&self, pid: RawPid, fd: i32) -> SysResult<Arc<File>> {
        let p = self.proc(pid)?;
        let t = p.fd_table();
        let e = t.get(fd)?;
        Ok(self.fget(&e.file))
    }

    /// Install `file` (whose reference the caller gives away) at the lowest
    /// free fd of `pid` (`get_unused_fd_flags` + `fd_install`). On failure
    /// the reference is dropped.
    pub(crate) fn fd_install(&self, pid: RawPid, file: Arc<File>, cloexec: bool) -> SysResult<i32> {
        let p = match self.proc(pid) {
            Ok(p) => p,
            Err(e) => {
                self.fput(file);
                return Err(e);
            }
        };
        let r = install_lowest(p, &mut p.fd_table_mut(), file, cloexec);
        r.map_err(|(file, e)| {
            self.fput(file);
            e
        })
    }

    /// Install up to `max` files of `files` at the lowest free fds of `pid`,
    /// in order, under one hold of the table's lock, appending each fd to
    /// `installed`; stop at the first that cannot be installed (its
    /// reference is dropped; the `ReceiveFd` fault counts as one).
    pub(crate) fn fd_install_many(
        &self,
        pid: RawPid,
        files: &mut impl Iterator<Item = Arc<File>>,
        max: usize,
        cloexec: bool,
        installed: &mut Vec<i32>,
    ) {
        let Ok(p) = self.proc(pid) else { return };
        let mut refused = None;
        {
            let mut t = p.fd_table_mut();
            for file in files.take(max) {
                if self.fault(crate::fault::FaultPoint::ReceiveFd, pid) {
                    refused = Some(file);
                    break;
                }
                match install_lowest(p, &mut t, file, cloexec) {
                    Ok(fd) => installed.push(fd),
                    Err((file, _)) => {
                        refused = Some(file);
                        break;
                    }
                }
            }
        }
        if let Some(f) = refused {
            self.fput(f);
        }
    }

    /// Install two files at the two lowest free fds, both or neither (the
    /// fds of `pipe2` and `socketpair`), under one hold of the table's lock.
    pub(crate) fn fd_install_pair(
        &self,
        pid: RawPid,
        a: Arc<File>,
        b: Arc<File>,
        cloexec: bool,
    ) -> SysResult<[i32; 2]> {
        let r = (|| {
            let p = self.proc(pid)?;
            let mut t = p.fd_table_mut();
            if !p.alive.load(Ordering::SeqCst) {
                return Err(Errno::ESRCH.why("fd_install: the process exited"));
            }
            let x = t.lowest_free(p.nofile)?;
            let y = t.lowest_free_from(x as usize + 1, p.nofile)?;
            t.install(
                x,
                FdEntry {
                    file: Arc::clone(&a),
                    cloexec,
                },
            );
            t.install(
                y,
                FdEntry {
                    file: Arc::clone(&b),
                    cloexec,
                },
            );
            Ok([x, y])
        })();
        if r.is_err() {
            self.fput(a);
            self.fput(b);
        }
        r
    }

    /// Whether `pid` has `n` free fds (checked before creating files).
    pub(crate) fn fd_reserve(&self, pid: RawPid, n: usize) -> SysResult<()> {
        let p = self.proc(pid)?;
        let t = p.fd_table();
        let mut from = 0usize;
        for _ in 0..n {
            from = t.lowest_free_from(from, p.nofile)? as usize + 1;
        }
        Ok(())
    }

    fn close(&self, pid: RawPid, fd: i32) -> SysResult<()> {
        let p = self.proc(pid)?;
        let e = p.fd_table_mut().remove(fd)?;
        self.fput(e.file);
        Ok(())
    }

    fn dup(&self, pid: RawPid, fd: i32) -> SysResult<i32> {
        let f = self.fdget(pid, fd)?;
        self.fd_install(pid, f, false)
    }

    fn pipe2(&self, pid: RawPid, flags: i32) -> SysResult<[i32; 2]> {
        use crate::abi::consts::{O_CLOEXEC, O_NONBLOCK};
        if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
            return Err(Errno::EINVAL.why("pipe2: unknown flags"));
        }
        self.fd_reserve(pid, 2)?;
        let pipe = Arc::new(Pipe {
            inner: Mutex::new(PipeInner {
                readers: 1,
                writers: 1,
                ..Default::default()
            }),
            wait: Default::default(),
        });
        let nb = flags & O_NONBLOCK != 0;
        let cloexec = flags & O_CLOEXEC != 0;
        let rf = self.alloc_file(FileKind::PipeRead(Arc::clone(&pipe)), nb);
        let wf = self.alloc_file(FileKind::PipeWrite(pipe), nb);
        self.fd_install_pair(pid, rf, wf, cloexec)
    }

    fn memfd(&self, pid: RawPid, content: &[u8]) -> SysResult<i32> {
        self.fd_reserve(pid, 1)?;
        let f = self.alloc_file(
            FileKind::Memfd(Box::new(Mutex::new(Memfd {
                data: content.to_vec(),
                pos: 0,
            }))),
            false,
        );
        self.fd_install(pid, f, false)
    }

    fn read(&self, pid: RawPid, fd: i32, len: usize, pr: &mut StreamProgress) -> KResult<Vec<u8>> {
        let f = self.fdget(pid, fd)?;
        let r = self.file_read(pid, &f, len, pr);
        self.fput(f);
        r
    }

    fn file_read(
        &self,
        pid: RawPid,
        f: &Arc<File>,
        len: usize,
        pr: &mut StreamProgress,
    ) -> KResult<Vec<u8>> {
        match &f.kind {
            FileKind::Null => Ok(Vec::new()),
            FileKind::Memfd(m) => {
                let mut m = lock(m);
                let start = m.pos.min(m.data.len());
                let end = start.saturating_add(len).min(m.data.len());
                let out = m.data.get(start..end).unwrap_or_default().to_vec();
                m.pos = m.pos.max(end);
                Ok(out)
            }
            FileKind::PipeRead(p) => {
                let mut g = lock(&p.inner);
                if len == 0 {
                    return Ok(Vec::new());
                }
                if g.is_empty() {
                    if g.writers == 0 {
                        return Ok(Vec::new());
                    }
                    if f.is_nonblock() {
                        return Err(Errno::EAGAIN.why("pipe_read: empty, O_NONBLOCK").into());
                    }
                    return Err(Fail::Block(Wait::Pipe(Arc::clone(p), g.seq)));
                }
                // pipe_read: drain buffers in order while there is room.
                let mut out = Vec::new();
                while out.len() < len {
                    let Some(front) = g.bufs.front_mut() else {
                        break;
                    };
                    let n = (len - out.len()).min(front.len());
                    out.extend(front.drain(..n));
                    if front.is_empty() {
                        g.bufs.pop_front();
                    }
                }
                g.seq += 1;
                p.wait.notify_all();
                Ok(out)
            }
            FileKind::PipeWrite(_) => Err(Errno::EBADF
                .why("vfs_read: the file is not open for reading")
                .into()),
            FileKind::Regular(r) => {
                if !r.read {
                    return Err(Errno::EBADF
                        .why("vfs_read: file not open for reading")
                        .into());
                }
                let data = lock(&r.data);
                let mut pos = lock(&r.pos);
                let start = (*pos).min(data.len());
                let end = start.saturating_add(len).min(data.len());
                let out = data.get(start..end).unwrap_or_default().to_vec();
                *pos = (*pos).max(end);
                Ok(out)
            }
            FileKind::Dir => Err(Errno::EISDIR.why("generic_read_dir: a directory").into()),
            FileKind::External(_) => Err(Errno::EINVAL
                .why("vfs_read: an external file is read by its owner, not the model")
                .into()),
            FileKind::Path => Err(Errno::EBADF
                .why("ksys_read: fdget refuses an O_PATH fd")
                .into()),
            // A pidfd is opened read-write but has no read operation.
            FileKind::Pidfd(_) => Err(Errno::EINVAL.why("vfs_read: a pidfd cannot be read").into()),
            // sock_read_iter: a zero-length read never reaches the protocol.
            FileKind::Socket(_) if len == 0 => Ok(Vec::new()),
            FileKind::Socket(s) => {
                let r = self.sock_recvmsg(pid, s, f, len, 0, 0, pr)?;
                Ok(r.data)
            }
        }
    }

    fn write(&self, pid: RawPid, fd: i32, bytes: &[u8], pr: &mut StreamProgress) -> KResult<usize> {
        let f = self.fdget(pid, fd)?;
        let r = self.file_write(pid, &f, bytes, pr);
        self.fput(f);
        r
    }

    fn file_write(
        &self,
        pid: RawPid,
        f: &Arc<File>,
        bytes: &[u8],
        pr: &mut StreamProgress,
    ) -> KResult<usize> {
        match &f.kind {
            FileKind::Null => Ok(bytes.len()),
            FileKind::Memfd(m) => {
                let mut m = lock(m);
                let start = m.pos;
                let end =
                    start.checked_add(bytes.len()).ok_or(Errno::EFBIG.why(
                        "generic_write_check_limits: the write passes the largest file offset",
                    ))?;
                if end > crate::abi::consts::MAX_FILE_SIZE {
                    return Err(Errno::ENOSPC
                        .why("shmem_get_folio_gfp: the memfd passes the world's memory for files")
                        .into());
                }
                if m.data.len() < end {
                    grow(&mut m.data, end)?;
                }
                if let Some(dst) = m.data.get_mut(start..end) {
                    dst.copy_from_slice(bytes);
                }
                m.pos = end;
                Ok(bytes.len())
            }
            // pipe_write: a zero-length write returns before anything is checked.
            FileKind::PipeWrite(_) if bytes.is_empty() => Ok(0),
            FileKind::PipeWrite(p) => self.pipe_write(pid, f, p, bytes, pr),
            FileKind::PipeRead(_) => Err(Errno::EBADF
                .why("vfs_write: the file is not open for writing")
                .into()),
            FileKind::Regular(r) => {
                if !r.write {
                    return Err(Errno::EBADF
                        .why("vfs_write: file not open for writing")
                        .into());
                }
                let mut data = lock(&r.data);
                let mut pos = lock(&r.pos);
                let start = if r.append { data.len() } else { *pos };
                let end = start
                    .checked_add(bytes.len())
                    .filter(|e| *e <= crate::abi::consts::MAX_FILE_SIZE)
                    .ok_or(
                        Errno::EFBIG.why("generic_write_checks: past the world's file size limit"),
                    )?;
                if data.len() < end {
                    grow(&mut data, end)?;
                }
                if let Some(dst) = data.get_mut(start..end) {
                    dst.copy_from_slice(bytes);
                }
                *pos = end;
                Ok(bytes.len())
            }
            FileKind::Dir | FileKind::Path => {
                Err(Errno::EBADF.why("ksys_write: not open for writing").into())
            }
            FileKind::External(_) => Err(Errno::EINVAL
                .why("vfs_write: an external file is written by its owner, not the model")
                .into()),
            FileKind::Pidfd(_) => Err(Errno::EINVAL
                .why("vfs_write: a pidfd cannot be written")
                .into()),
            FileKind::Socket(s) => {
                let msg = crate::net::socket::MsgHdr {
                    name: None,
                    iov: Some(bytes),
                    control: &[],
                };
                self.sock_sendmsg(pid, s, f, &msg, 0, pr)
            }
        }
    }

    /// Drop what an unfinished stream call still holds.
    pub(crate) fn progress_drop(&self, pr: &mut StreamProgress) {
        if let Some(c) = pr.cookie.take() {
            self.scm_destroy(c);
        }
        for f in std::mem::take(&mut pr.fds) {
            self.fput(f);
        }
    }

    // pipe_write: the head of the data merges into the last page when it
    // fits, the rest goes page by page; a blocking write loops until all is
    // written, re-reading O_NONBLOCK on every round (`pr.sent` carries what
    // was written across sleeps).
    fn pipe_write(
        &self,
        pid: RawPid,
        f: &File,
        p: &Arc<Pipe>,
        bytes: &[u8],
        pr: &mut StreamProgress,
    ) -> KResult<usize> {
        let total = bytes.len();
        let mut g = lock(&p.inner);
        let mut ret = pr.sent;
        if ret == 0 {
            if g.readers == 0 {
                drop(g);
                self.raise_sigpipe(pid);
                return Err(Errno::EPIPE.why("pipe_write: no reader").into());
            }
            let chars = total & (PIPE_PAGE - 1);
            if chars > 0 {
                if let Some(last) = g.bufs.back_mut().filter(|b| b.len() + chars <= PIPE_PAGE) {
                    last.extend_from_slice(bytes.get(..chars).unwrap_or_default());
                    ret = chars;
                }
            }
        }
        loop {
            if ret == total {
                break;
            }
            if g.readers == 0 {
                drop(g);
                self.raise_sigpipe(pid);
                pr.sent = 0;
                if ret == 0 {
                    return Err(Errno::EPIPE
                        .why("pipe_write: the last reader went away")
                        .into());
                }
                return Ok(ret);
            }
            if !g.is_full() {
                let n = (total - ret).min(PIPE_PAGE);
                let page = bytes.get(ret..ret + n).unwrap_or_default().to_vec();
                g.bufs.push_back(page);
                ret += n;
                continue;
            }
            if f.is_nonblock() {
                if ret == 0 {
                    return Err(Errno::EAGAIN.why("pipe_write: full, O_NONBLOCK").into());
                }
                break;
            }
            // Wake the readers, then sleep for room.
            g.seq += 1;
            p.wait.notify_all();
            pr.sent = ret;
            return Err(Fail::Block(Wait::Pipe(Arc::clone(p), g.seq)));
        }
        g.seq += 1;
        p.wait.notify_all();
        pr.sent = 0;
        Ok(ret)
    }

    /// `send_sig(SIGPIPE, current)`.
    pub(crate) fn raise_sigpipe(&self, pid: RawPid) {
        if let Ok(p) = self.proc(pid) {
            p.sigpipe.store(true, Ordering::SeqCst);
        }
    }

    fn set_nonblock(&self, pid: RawPid, fd: i32, on: bool) -> SysResult<()> {
        let f = self.fdget(pid, fd)?;
        // do_fcntl on an O_PATH fd allows only the fd-table commands.
        if matches!(f.kind, FileKind::Path) {
            self.fput(f);
            return Err(Errno::EBADF.why("fcntl: F_SETFL on an O_PATH fd"));
        }
        f.nonblock.store(on, Ordering::Relaxed);
        self.fput(f);
        Ok(())
    }

    fn get_fd_flags(&self, pid: RawPid, fd: i32) -> SysResult<i32> {
        let p = self.proc(pid)?;
        let t = p.fd_table();
        Ok(if t.get(fd)?.cloexec {
            crate::abi::consts::FD_CLOEXEC
        } else {
            0
        })
    }

    fn pidfd_pid(&self, pid: RawPid, fd: i32) -> SysResult<i32> {
        let f = self.fdget(pid, fd)?;
        let r = match f.kind {
            FileKind::Pidfd(p) => Ok(if self.pid_alive(p) { p } else { -1 }),
            _ => Err(Errno::EINVAL.why("pidfd_pid: not a pidfd")),
        };
        self.fput(f);
        r
    }

    /// A new pidfd for `target` (`pidfd_prepare`), installed in `pid` close-on-exec.
    pub(crate) fn pidfd_install(&self, pid: RawPid, target: RawPid) -> SysResult<i32> {
        self.fd_reserve(pid, 1)?;
        let f = self.alloc_file(FileKind::Pidfd(target), false);
        self.fd_install(pid, f, true)
    }

    /// Every socket still in memory.
    pub(crate) fn all_socks(&self) -> Vec<Arc<Sock>> {
        let mut reg = lock(&self.registry);
        reg.retain(|w| w.strong_count() > 0);
        reg.iter().filter_map(Weak::upgrade).collect()
    }

    /// Register a new socket.
    pub(crate) fn register(&self, s: &Arc<Sock>) {
        let mut reg = lock(&self.registry);
        if reg.len() >= 64 && reg.len().is_power_of_two() {
            reg.retain(|w| w.strong_count() > 0);
        }
        reg.push(Arc::downgrade(s));
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
        crate::abi::cmsg::parse_cmsgs(&self.control)
            .filter_map(|c| match c {
                crate::abi::cmsg::Cmsg::Rights(fds) => Some(fds),
                _ => None,
            })
            .flatten()
            .collect()
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
        w.k.gc_lock().walk = walk;
        w
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

    /// Seed the world's random source (`SKF_AD_RANDOM` in socket filters):
    /// the same seed gives the same run. Worlds start with a fixed seed.
    pub fn seed(&self, seed: u32) {
        self.k.prandom.reseed(seed);
    }

    /// The shared state, for the calls defined in other modules.
    pub(crate) fn kernel(&self) -> &Kernel {
        &self.k
    }

    /// Run a call that may sleep. Whether it may sleep at all is the
    /// operation's own decision (`MSG_DONTWAIT`, `O_NONBLOCK`: it then
    /// answers `EAGAIN` itself); `timeout` bounds the sleeping in all
    /// (`SO_RCVTIMEO`/`SO_SNDTIMEO`; `None`: as long as needed), after
    /// which the call gives up with `EAGAIN`.
    fn blocking<T>(
        &self,
        pid: RawPid,
        timeout: Option<Duration>,
        mut op: impl FnMut(&Kernel) -> KResult<T>,
    ) -> SysResult<T> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let intr = Interrupt::current();
        loop {
            match op(&self.k) {
                Ok(v) => return Ok(v),
                Err(Fail::Err(e)) => return Err(e),
                Err(Fail::Block(w)) => {
                    crate::path::note(|| format!("sleeps on {}", w.describe()));
                    if self.k.interrupted.load(Ordering::SeqCst) {
                        return Err(Errno::EINTR
                            .why("signal_pending: the world was torn down while the call slept"));
                    }
                    // signal_pending(current): checked before each sleep,
                    // and after each wake-up that did not let the call on.
                    let intr_errno = || w.intr_errno(timeout.is_some());
                    if let Some(e) = intr.as_ref().and_then(|i| i.take(intr_errno)) {
                        return Err(e);
                    }
                    if self.k.fault(crate::fault::FaultPoint::Signal, pid) {
                        return Err(crate::fault::FaultPoint::Signal.error());
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(Errno::EAGAIN.why(
                            "schedule_timeout: the timeout (SO_RCVTIMEO/SO_SNDTIMEO) expired",
                        ));
                    }
                    let p = self.k.proc(pid).ok();
                    if let Some(p) = &p {
                        p.sleeping.fetch_add(1, Ordering::SeqCst);
                    }
                    let until = match (deadline, intr.as_ref().and_then(Interrupt::deadline)) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    let armed = intr.as_ref().map(|i| i.arm(w.waker()));
                    w.sleep(until, &|| intr.as_ref().is_some_and(Interrupt::must_wake));
                    drop(armed);
                    // An abandoned call does not look again (its caller
                    // would never get what it took).
                    if intr.as_ref().is_some_and(Interrupt::abandoned) {
                        if let Some(p) = &p {
                            p.sleeping.fetch_sub(1, Ordering::SeqCst);
                        }
                        return Err(Errno::ERESTARTNOINTR.why(
                            "signal_pending: the caller abandoned the call (it will restart it)",
                        ));
                    }
                    if let Some(p) = &p {
                        p.sleeping.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }
        }
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
    }

    /// Create a process with fds 0–2 open on `/dev/null`. A `nofile` above
    /// `fs.nr_open` ([`crate::NR_OPEN`]) is clamped to it, as no
    /// process can have more.
    pub fn spawn(&self, spec: &TaskSpec) -> Pid {
        Pid::from_raw(self.k.spawn(spec))
    }

    /// `fork()`: a copy of `parent`'s fd table (same open files) and credentials.
    ///
    /// # Errors
    /// `ESRCH` for a `parent` that does not exist; `EAGAIN` when the world's
    /// process table is full.
    pub fn fork(&self, parent: Pid) -> SysResult<Pid> {
        let parent = parent.as_raw();
        self.k.fork(parent).map(Pid::from_raw)
    }

    /// `exit()`: close every fd; the process is reaped at once.
    ///
    /// # Errors
    /// `ESRCH` for a process that does not exist or already exited.
    pub fn exit(&self, pid: Pid) -> SysResult<()> {
        let pid = pid.as_raw();
        self.k.exit(pid)
    }

    /// Whether a call of `pid` sleeps in the model right now.
    pub fn is_sleeping(&self, pid: Pid) -> bool {
        let pid = pid.as_raw();
        self.k
            .proc(pid)
            .is_ok_and(|p| p.sleeping.load(Ordering::SeqCst) > 0)
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
        crate::path::step("close_fd");
        let pid = pid.as_raw();
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
        let fd = fd.as_raw();
        self.k.dup(pid, fd).map(Fd::from_raw)
    }

    /// `pipe2(flags)`: read end first.
    ///
    /// # Errors
    /// `EMFILE` when fewer than two fds are free below RLIMIT_NOFILE.
    pub fn pipe2(&self, pid: Pid, flags: i32) -> SysResult<[Fd; 2]> {
        let pid = pid.as_raw();
        self.k
            .pipe2(pid, flags)
            .map(|[a, b]| [Fd::from_raw(a), Fd::from_raw(b)])
    }

    /// `memfd_create` + `write(content)` + `lseek(0)`.
    ///
    /// # Errors
    /// `EMFILE` when no fd is free below RLIMIT_NOFILE.
    pub fn memfd(&self, pid: Pid, content: &[u8]) -> SysResult<Fd> {
        let pid = pid.as_raw();
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
        crate::path::step("ksys_read");
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        let t = self.k.timeout_of(pid, fd, true);
        let mut pr = StreamProgress::default();
        let r = self.blocking(pid, t, |k| k.read(pid, fd, len, &mut pr));
        match r {
            Err(_) if !pr.out.is_empty() => Ok(std::mem::take(&mut pr.out)),
            r => {
                self.k.progress_drop(&mut pr);
                r
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
        crate::path::step("ksys_write");
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        let t = self.k.timeout_of(pid, fd, false);
        let mut pr = StreamProgress::default();
        let r = self.blocking(pid, t, |k| k.write(pid, fd, bytes, &mut pr));
        self.k.progress_drop(&mut pr);
        match r {
            Err(_) if pr.sent > 0 => Ok(pr.sent),
            r => r,
        }
    }

    /// `fcntl(fd, F_SETFL, O_NONBLOCK or 0)`.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open.
    pub fn set_nonblock(&self, pid: Pid, fd: Fd, on: bool) -> SysResult<()> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.set_nonblock(pid, fd, on)
    }

    /// `fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0)`.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open.
    pub fn set_cloexec(&self, pid: Pid, fd: Fd, on: bool) -> SysResult<()> {
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
        let v = i32::try_from(n)
            .map_err(|_| Errno::EINVAL.why("proc_dointvec: value outside a C int"))?;
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
    pub fn socket(&self, pid: Pid, ty: i32) -> SysResult<Fd> {
        let pid = pid.as_raw();
        self.k.sys_socket(pid, ty, 0).map(Fd::from_raw)
    }

    /// `socket(AF_UNIX, ty, protocol)`.
    ///
    /// # Errors
    /// As [`World::socket`]; `EPROTONOSUPPORT` for a protocol other than 0 and
    /// `PF_UNIX`.
    pub fn socket_with_protocol(&self, pid: Pid, ty: i32, protocol: i32) -> SysResult<Fd> {
        let pid = pid.as_raw();
        self.k.sys_socket(pid, ty, protocol).map(Fd::from_raw)
    }

    /// `socketpair(AF_UNIX, ty, 0)`.
    ///
    /// # Errors
    /// As [`World::socket`] (both fds are taken first: `EMFILE` before the type
    /// is looked at).
    pub fn socketpair(&self, pid: Pid, ty: i32) -> SysResult<[Fd; 2]> {
        let pid = pid.as_raw();
        self.k
            .sys_socketpair(pid, ty, 0)
            .map(|[a, b]| [Fd::from_raw(a), Fd::from_raw(b)])
    }

    /// `socketpair(AF_UNIX, ty, protocol)`.
    ///
    /// # Errors
    /// As [`World::socketpair`] and [`World::socket_with_protocol`].
    pub fn socketpair_with_protocol(&self, pid: Pid, ty: i32, protocol: i32) -> SysResult<[Fd; 2]> {
        let pid = pid.as_raw();
        { self.k.sys_socketpair(pid, ty, protocol) }
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
        let t = self.k.timeout_of(pid, fd, false);
        let mut nonblock = None;
        self.blocking(pid, t, |k| k.sys_connect(pid, fd, addr, &mut nonblock))
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
        let t = self.k.timeout_of(pid, fd, true);
        let mut nonblock = None;
        self.blocking(pid, t, |k| k.sys_accept4(pid, fd, flags, &mut nonblock))
            .map(Fd::from_raw)
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
        crate::path::step("__sys_sendmsg");
        let flags = flags.into().bits();
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        // __sys_sendmsg: forbid_cmsg_compat, before the fd is looked up.
        if flags & crate::abi::consts::MSG_CMSG_COMPAT != 0 {
            return Err(Errno::EINVAL.why("__sys_sendmsg: MSG_CMSG_COMPAT on the native call"));
        }
        // fdget once: the file is held across any sleep, as the kernel holds it.
        let f = self.k.fdget(pid, fd)?;
        let mut pr = StreamProgress::default();
        // The socket is borrowed from the file, which the call holds.
        let r = match f.sock() {
            None => Err(f.not_a_socket()),
            Some(s) => self.blocking(pid, s.sndtimeo.get(), |k| {
                if msg.control.len() > i32::MAX as usize {
                    return Err(Errno::ENOBUFS
                        .why("____sys_sendmsg: msg_controllen > INT_MAX")
                        .into());
                }
                k.sock_sendmsg(pid, s, &f, msg, flags, &mut pr)
            }),
        };
        self.k.progress_drop(&mut pr);
        self.k.fput(f);
        match r {
            // A stream send that queued something before it gave up says so.
            Err(_) if pr.sent > 0 => Ok(pr.sent),
            r => r,
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
        crate::path::step("__sys_recvmsg");
        let flags = flags.into().bits();
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        // __sys_recvmsg: forbid_cmsg_compat, before the fd is looked up.
        if flags & crate::abi::consts::MSG_CMSG_COMPAT != 0 {
            return Err(Errno::EINVAL.why("__sys_recvmsg: MSG_CMSG_COMPAT on the native call"));
        }
        let f = self.k.fdget(pid, fd)?;
        let mut pr = StreamProgress::default();
        let r = match f.sock() {
            None => Err(f.not_a_socket()),
            Some(s) => self.blocking(pid, s.rcvtimeo.get(), |k| {
                k.sock_recvmsg(pid, s, &f, len, controllen, flags, &mut pr)
            }),
        };
        self.k.fput(f);
        match r {
            // A read that copied something before it gave up returns it.
            Err(_) if !pr.out.is_empty() => self.k.recv_finish(pid, fd, controllen, flags, &mut pr),
            r => {
                self.k.progress_drop(&mut pr);
                r
            }
        }
    }

    /// `sendmsg(fd, {data, SCM_RIGHTS fds}, 0)`: send `data` with the open
    /// files behind `fds` (none: no control message).
    ///
    /// # Errors
    /// As [`World::sendmsg`].
    pub fn send_with_fds(&self, pid: Pid, fd: Fd, data: &[u8], fds: &[Fd]) -> SysResult<usize> {
        let control = if fds.is_empty() {
            Vec::new()
        } else {
            crate::abi::cmsg::CmsgBuilder::new().rights(fds).finish()
        };
        let msg = crate::net::socket::MsgHdr {
            name: None,
            iov: Some(data),
            control: &control,
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
            self.k.fdget(pid, fd).map(|f| self.k.fput(f))?;
            return Err(Errno::EFAULT.why("copy_from_iter: an iovec has a NULL base"));
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
                let f = self.k.fdget(pid, fd)?;
                let not_sock = f.sock().is_none().then(|| f.not_a_socket());
                self.k.fput(f);
                if let Some(e) = not_sock {
                    return Err(e);
                }
                if bad_len {
                    return Err(Errno::EINVAL.why("__copy_msghdr: msg_namelen < 0"));
                }
                return Err(Errno::EFAULT.why("copy_to_iter: an iovec has a NULL base"));
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
    ) -> SysResult<Vec<i16>> {
        let events = events.into().bits();
        let pid = pid.as_raw();
        let fds: Vec<i32> = fds.iter().map(|f| f.as_raw()).collect();
        // do_sys_poll: scan every fd; sleep until one is ready or the
        // timeout passes, then scan again.
        let deadline =
            (timeout >= 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
        let intr = Interrupt::current();
        loop {
            let rev: Vec<i16> = fds
                .iter()
                .map(|fd| self.k.sys_poll(pid, *fd, events))
                .collect();
            if rev.iter().any(|e| *e != 0) || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(rev);
            }
            if self.k.interrupted.load(Ordering::SeqCst) {
                return Err(Errno::EINTR
                    .why("signal_pending: the world was torn down while the call slept"));
            }
            // do_poll: a pending signal ends the wait with ERESTARTNOHAND.
            if let Some(e) = intr.as_ref().and_then(|i| {
                i.take(|| Errno::ERESTARTNOHAND.why("do_poll: signal_pending while poll waits"))
            }) {
                return Err(e);
            }
            // The model has no wait queue that spans files of every kind:
            // poll re-scans every millisecond while it sleeps.
            let p = self.k.proc(pid)?;
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
    /// `EBADF`, `ENOTSOCK`; `EINVAL` for a `how` other than 0, 1, 2.
    pub fn shutdown(&self, pid: Pid, fd: Fd, how: i32) -> SysResult<()> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        self.k.sys_shutdown(pid, fd, how)
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

    /// `poll` of one fd with timeout 0: revents.
    ///
    /// # Errors
    /// None: a bad fd reports `POLLNVAL` in the result, as `poll(2)` does.
    pub fn poll(&self, pid: Pid, fd: Fd, events: impl Into<PollFlags>) -> SysResult<i16> {
        let events = events.into().bits();
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        Ok(self.k.sys_poll(pid, fd, events))
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
        self.k.exec(pid)
    }

    /// `fcntl(fd, F_SETOWN, getpid())`: the caller owns the open file.
    ///
    /// # Errors
    /// `EBADF` for an fd that is not open or is `O_PATH`.
    pub fn set_own(&self, pid: Pid, fd: Fd) -> SysResult<()> {
        let pid = pid.as_raw();
        let fd = fd.as_raw();
        let f = self.k.fdget(pid, fd)?;
        if matches!(f.kind, FileKind::Path) {
            self.k.fput(f);
            return Err(Errno::EBADF.why("fcntl: F_SETOWN on an O_PATH fd"));
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
        let pid = pid.as_raw();
        if let Err(e) = self.k.fd_reserve(pid, 1) {
            lock(&self.k.released_external).push(id);
            return Err(e);
        }
        let f = self.k.alloc_file(FileKind::External(id), false);
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
                FileKind::External(id) => Some(id),
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
    // ksys_dup3 / do_dup2 (dup2 itself: oldfd == newfd returns at once
    // once oldfd is known to be open).
    fn dup2(&self, pid: RawPid, fd: i32, newfd: i32) -> SysResult<i32> {
        let p = self.proc(pid)?;
        let mut t = p.fd_table_mut();
        if fd == newfd {
            t.get(fd)?;
            return Ok(newfd);
        }
        if newfd < 0 || newfd as u64 >= p.nofile {
            return Err(Errno::EBADF.why("ksys_dup3: newfd >= RLIMIT_NOFILE"));
        }
        let file = self.fget(&t.get(fd)?.file);
        let old = t.remove(newfd).ok();
        t.install(
            newfd,
            FdEntry {
                file,
                cloexec: false,
            },
        );
        drop(t);
        if let Some(e) = old {
            self.fput(e.file);
        }
        Ok(newfd)
    }

    // do_close_on_exec
    fn exec(&self, pid: RawPid) -> SysResult<()> {
        let p = self.proc(pid)?;
        let closed = {
            let mut t = p.fd_table_mut();
            let fds: Vec<i32> = t
                .iter()
                .filter(|(_, e)| e.cloexec)
                .map(|(fd, _)| fd)
                .collect();
            fds.into_iter()
                .filter_map(|fd| t.remove(fd).ok())
                .collect::<Vec<_>>()
        };
        for e in closed {
            self.fput(e.file);
        }
        Ok(())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A memfd is bounded by the world's memory for files: a write past
    /// it is `ENOSPC` (a full tmpfs), not an allocation that aborts.
    #[test]
    fn memfd_content_is_bounded() {
        let w = World::new();
        let p = w.spawn(&TaskSpec::default());
        let fd = w.memfd(p, b"abc").unwrap();
        let f = w.k.fdget(p.as_raw(), fd.as_raw()).unwrap();
        if let FileKind::Memfd(m) = &f.kind {
            lock(m).pos = crate::abi::consts::MAX_FILE_SIZE;
        }
        w.k.fput(f);
        let e = w.write(p, fd, b"x").unwrap_err();
        assert_eq!(e.errno, Errno::ENOSPC);
        assert_eq!(w.read(p, fd, 8).unwrap(), b"");
        // Below the bound a write still grows the file.
        let e2 = w.memfd(p, b"").unwrap();
        assert_eq!(w.write(p, e2, &[7u8; 100]).unwrap(), 100);
    }

    /// `grow` answers ENOMEM instead of aborting when the memory is not
    /// there (a length no allocator can give).
    #[test]
    fn growing_past_memory_is_enomem() {
        let mut v = vec![1u8];
        assert_eq!(grow(&mut v, usize::MAX).unwrap_err(), Errno::ENOMEM);
        assert_eq!(v, [1]);
        grow(&mut v, 4).unwrap();
        assert_eq!(v, [1, 0, 0, 0]);
    }
}
