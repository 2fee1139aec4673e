//! The world: one private namespace of processes, open files, unix sockets,
//! abstract names, a directory for pathname sockets, and sysctls.
//!
//! All state lives in a [`Kernel`] behind one lock; a call that must wait
//! (a blocking `recvmsg`, `accept`, a full peer) sleeps on the world's
//! condition variable and re-runs its check when anything changes, as the
//! kernel's wait queues re-run theirs after a wake-up.

use crate::backend::TaskSpec;
use crate::errno::{Errno, SysResult};
use crate::fdtable::FdEntry;
use crate::file::{File, FileId, FileKind, Pipe, PipeId, PIPE_CAPACITY};
use crate::net::unix::{Sock, SockId, SockType};
use crate::process::{Cred, Pid, Process};
use crate::security::{AllowAll, Security};
use crate::slab::Slab;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The `why` of the internal "would block" result: a blocking call returns
/// `EAGAIN` with this reason to ask the world to sleep and retry.
pub(crate) const WOULD_BLOCK: &str = "would block: waiting";

/// `EAGAIN` meaning "sleep until something changes, then retry".
pub(crate) fn would_block() -> Errno {
    Errno::EAGAIN.why(WOULD_BLOCK)
}

/// A node of the world's directory (pathname sockets).
#[derive(Debug, Clone)]
pub struct Inode {
    /// Inode number.
    pub ino: u64,
    /// Permission bits (`S_IFSOCK` implied).
    pub mode: u32,
    /// Owner uid (the binder's fsuid).
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// The socket bound to it while it lives (`unix_find_bsd` target).
    pub sock: Option<SockId>,
}

/// The state of one world. Only the model's modules touch it directly;
/// users go through [`World`].
pub struct Kernel {
    pub(crate) procs: BTreeMap<Pid, Process>,
    pub(crate) exited: BTreeSet<Pid>,
    next_pid: Pid,
    pub(crate) files: Slab<File>,
    pub(crate) socks: Slab<Sock>,
    pub(crate) pipes: Slab<Pipe>,
    /// Abstract names, per socket type (the kernel's hash mixes in `sk_type`).
    pub(crate) abstract_names: HashMap<(SockType, Vec<u8>), SockId>,
    /// The scenario's directory: name → inode.
    pub(crate) dir: BTreeMap<Vec<u8>, Inode>,
    /// `net.unix.max_dgram_qlen`.
    pub(crate) max_dgram_qlen: u32,
    pub(crate) autobind_next: u32,
    pub(crate) next_ino: u64,
    pub(crate) next_skb: u64,
    pub(crate) security: Box<dyn Security>,
    /// Pids of processes whose current call sleeps (for the scenario
    /// runner's "has entered the kernel").
    pub(crate) sleeping: BTreeMap<Pid, usize>,
    /// `gc_in_progress`.
    pub(crate) gc_running: bool,
}

impl Kernel {
    fn new() -> Kernel {
        Kernel {
            procs: BTreeMap::new(),
            exited: BTreeSet::new(),
            next_pid: 100,
            files: Slab::default(),
            socks: Slab::default(),
            pipes: Slab::default(),
            abstract_names: HashMap::new(),
            dir: BTreeMap::new(),
            max_dgram_qlen: crate::abi::consts::MAX_DGRAM_QLEN_DEFAULT,
            autobind_next: 0,
            next_ino: 1000,
            next_skb: 1,
            security: Box::new(AllowAll),
            sleeping: BTreeMap::new(),
            gc_running: false,
        }
    }

    // ---- processes ----------------------------------------------------

    pub(crate) fn proc(&self, pid: Pid) -> SysResult<&Process> {
        self.procs
            .get(&pid)
            .ok_or(Errno::ESRCH.why("no such process"))
    }

    pub(crate) fn proc_mut(&mut self, pid: Pid) -> SysResult<&mut Process> {
        self.procs
            .get_mut(&pid)
            .ok_or(Errno::ESRCH.why("no such process"))
    }

    fn spawn(&mut self, spec: &TaskSpec) -> Pid {
        let pid = self.next_pid;
        self.next_pid += 1;
        let null = self.files.insert(File {
            count: 0,
            nonblock: false,
            kind: FileKind::Null,
        });
        let mut p = Process {
            pid,
            cred: Cred::new(spec.uid, spec.gid, spec.groups.clone()),
            nofile: spec.nofile,
            fds: Default::default(),
            sigpipe: false,
            sigurg: false,
        };
        for fd in 0..3 {
            if (fd as u64) < spec.nofile {
                p.fds.install(
                    fd,
                    FdEntry {
                        file: FileId(null),
                        cloexec: false,
                    },
                );
                if let Some(f) = self.files.get_mut(null) {
                    f.count += 1;
                }
            }
        }
        if self.files.get(null).is_some_and(|f| f.count == 0) {
            self.files.remove(null);
        }
        self.procs.insert(pid, p);
        pid
    }

    fn fork(&mut self, parent: Pid) -> SysResult<Pid> {
        let (cred, nofile, fds) = {
            let p = self.proc(parent)?;
            (p.cred.clone(), p.nofile, p.fds.clone())
        };
        let pid = self.next_pid;
        self.next_pid += 1;
        for (_, e) in fds.iter() {
            self.fget(e.file);
        }
        self.procs.insert(
            pid,
            Process {
                pid,
                cred,
                nofile,
                fds,
                sigpipe: false,
                sigurg: false,
            },
        );
        Ok(pid)
    }

    fn exit(&mut self, pid: Pid) -> SysResult<()> {
        let mut p = self
            .procs
            .remove(&pid)
            .ok_or(Errno::ESRCH.why("no such process"))?;
        for e in p.fds.drain() {
            self.fput(e.file);
        }
        self.exited.insert(pid);
        Ok(())
    }

    // ---- files --------------------------------------------------------

    /// Take a reference to an open file (`get_file`).
    pub(crate) fn fget(&mut self, f: FileId) {
        if let Some(file) = self.files.get_mut(f.0) {
            file.count += 1;
        }
    }

    /// Drop a reference to an open file (`fput`); the last one releases
    /// what the file holds (`__fput`: `sock_close`, pipe ends).
    pub(crate) fn fput(&mut self, f: FileId) {
        let Some(file) = self.files.get_mut(f.0) else {
            return;
        };
        file.count = file.count.saturating_sub(1);
        if file.count > 0 {
            return;
        }
        let Some(file) = self.files.remove(f.0) else {
            return;
        };
        match file.kind {
            FileKind::Socket(s) => self.unix_release_sock(s, false),
            FileKind::PipeRead(p) => self.pipe_release(p, true),
            FileKind::PipeWrite(p) => self.pipe_release(p, false),
            FileKind::Null | FileKind::Memfd { .. } | FileKind::Pidfd(_) => {}
        }
    }

    fn pipe_release(&mut self, p: PipeId, read_end: bool) {
        let gone = match self.pipes.get_mut(p.0) {
            Some(pipe) => {
                if read_end {
                    pipe.readers -= 1;
                } else {
                    pipe.writers -= 1;
                }
                pipe.readers == 0 && pipe.writers == 0
            }
            None => false,
        };
        if gone {
            self.pipes.remove(p.0);
        }
    }

    /// A new open file with one reference (the caller installs it or drops it).
    pub(crate) fn alloc_file(&mut self, kind: FileKind, nonblock: bool) -> FileId {
        FileId(self.files.insert(File {
            count: 1,
            nonblock,
            kind,
        }))
    }

    /// The open file behind `fd` of `pid` (`fdget`).
    pub(crate) fn fd_file(&self, pid: Pid, fd: i32) -> SysResult<FileId> {
        Ok(self.proc(pid)?.fds.get(fd)?.file)
    }

    pub(crate) fn file(&self, f: FileId) -> SysResult<&File> {
        self.files
            .get(f.0)
            .ok_or(Errno::EBADF.why("file already released"))
    }

    /// Install `file` (whose reference the caller gives away) at the lowest
    /// free fd of `pid` (`get_unused_fd_flags` + `fd_install`). On failure
    /// the reference is dropped.
    pub(crate) fn fd_install(&mut self, pid: Pid, file: FileId, cloexec: bool) -> SysResult<i32> {
        let res = self.proc(pid).and_then(|p| p.fds.lowest_free(p.nofile));
        match res {
            Ok(fd) => {
                if let Ok(p) = self.proc_mut(pid) {
                    p.fds.install(fd, FdEntry { file, cloexec });
                }
                Ok(fd)
            }
            Err(e) => {
                self.fput(file);
                Err(e)
            }
        }
    }

    /// The fd number the next install would get, without installing.
    pub(crate) fn fd_reserve(&self, pid: Pid) -> SysResult<i32> {
        let p = self.proc(pid)?;
        p.fds.lowest_free(p.nofile)
    }

    fn close(&mut self, pid: Pid, fd: i32) -> SysResult<()> {
        let e = self.proc_mut(pid)?.fds.remove(fd)?;
        self.fput(e.file);
        Ok(())
    }

    fn dup(&mut self, pid: Pid, fd: i32) -> SysResult<i32> {
        let f = self.fd_file(pid, fd)?;
        self.fd_reserve(pid)?;
        self.fget(f);
        self.fd_install(pid, f, false)
    }

    fn pipe2(&mut self, pid: Pid, flags: i32) -> SysResult<[i32; 2]> {
        use crate::abi::consts::{O_CLOEXEC, O_NONBLOCK};
        if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
            return Err(Errno::EINVAL.why("pipe2: unknown flags"));
        }
        let p = self.proc(pid)?;
        let r = p.fds.lowest_free(p.nofile)?;
        // The second fd must fit too, or neither is installed.
        if (r as u64) + 1 >= p.nofile && p.fds.get(r + 1).is_err() {
            let mut t = p.fds.clone();
            t.install(
                r,
                FdEntry {
                    file: FileId(usize::MAX),
                    cloexec: false,
                },
            );
            t.lowest_free(p.nofile)?;
        }
        let pipe = PipeId(self.pipes.insert(Pipe {
            buf: Default::default(),
            readers: 1,
            writers: 1,
        }));
        let nb = flags & O_NONBLOCK != 0;
        let cloexec = flags & O_CLOEXEC != 0;
        let rf = self.alloc_file(FileKind::PipeRead(pipe), nb);
        let wf = self.alloc_file(FileKind::PipeWrite(pipe), nb);
        let r = self.fd_install(pid, rf, cloexec)?;
        let w = self.fd_install(pid, wf, cloexec)?;
        Ok([r, w])
    }

    fn memfd(&mut self, pid: Pid, content: &[u8]) -> SysResult<i32> {
        self.fd_reserve(pid)?;
        let f = self.alloc_file(
            FileKind::Memfd {
                data: content.to_vec(),
                pos: 0,
            },
            false,
        );
        self.fd_install(pid, f, false)
    }

    fn read(&mut self, pid: Pid, fd: i32, len: usize) -> SysResult<Vec<u8>> {
        let f = self.fd_file(pid, fd)?;
        let nonblock = self.file(f)?.nonblock;
        let kind = &mut self.files.get_mut(f.0).ok_or(Errno::EBADF)?.kind;
        match kind {
            FileKind::Null => Ok(Vec::new()),
            FileKind::Memfd { data, pos } => {
                let start = (*pos).min(data.len());
                let end = start.saturating_add(len).min(data.len());
                let out = data.get(start..end).unwrap_or_default().to_vec();
                *pos = end.max(*pos);
                Ok(out)
            }
            FileKind::PipeRead(p) => {
                let p = *p;
                let pipe = self.pipes.get_mut(p.0).ok_or(Errno::EBADF)?;
                if len == 0 {
                    return Ok(Vec::new());
                }
                if pipe.buf.is_empty() {
                    if pipe.writers == 0 {
                        return Ok(Vec::new());
                    }
                    return Err(if nonblock {
                        Errno::EAGAIN.why("pipe empty, O_NONBLOCK")
                    } else {
                        would_block()
                    });
                }
                let n = len.min(pipe.buf.len());
                Ok(pipe.buf.drain(..n).collect())
            }
            FileKind::PipeWrite(_) | FileKind::Pidfd(_) => {
                Err(Errno::EBADF.why("file not open for reading"))
            }
            FileKind::Socket(s) => {
                let s = *s;
                let r = self.sock_recvmsg(pid, s, f, len, 0, 0)?;
                Ok(r.data)
            }
        }
    }

    fn write(&mut self, pid: Pid, fd: i32, bytes: &[u8]) -> SysResult<usize> {
        let f = self.fd_file(pid, fd)?;
        let nonblock = self.file(f)?.nonblock;
        let kind = &mut self.files.get_mut(f.0).ok_or(Errno::EBADF)?.kind;
        match kind {
            FileKind::Null => Ok(bytes.len()),
            FileKind::Memfd { data, pos } => {
                let start = *pos;
                let end = start.checked_add(bytes.len()).ok_or(Errno::EFBIG)?;
                if data.len() < end {
                    data.resize(end, 0);
                }
                if let Some(dst) = data.get_mut(start..end) {
                    dst.copy_from_slice(bytes);
                }
                *pos = end;
                Ok(bytes.len())
            }
            FileKind::PipeWrite(p) => {
                let p = *p;
                let pipe = self.pipes.get_mut(p.0).ok_or(Errno::EBADF)?;
                if pipe.readers == 0 {
                    self.proc_mut(pid)?.sigpipe = true;
                    return Err(Errno::EPIPE.why("pipe has no reader"));
                }
                let room = PIPE_CAPACITY.saturating_sub(pipe.buf.len());
                if room == 0 && !bytes.is_empty() {
                    return Err(if nonblock {
                        Errno::EAGAIN.why("pipe full, O_NONBLOCK")
                    } else {
                        would_block()
                    });
                }
                let n = room.min(bytes.len());
                pipe.buf.extend(bytes.get(..n).unwrap_or_default());
                Ok(n)
            }
            FileKind::PipeRead(_) | FileKind::Pidfd(_) => {
                Err(Errno::EBADF.why("file not open for writing"))
            }
            FileKind::Socket(s) => {
                let s = *s;
                let msg = crate::net::socket::MsgHdr {
                    name: None,
                    iov: Some(bytes),
                    control: &[],
                };
                self.sock_sendmsg(pid, s, f, &msg, 0)
            }
        }
    }

    fn set_nonblock(&mut self, pid: Pid, fd: i32, on: bool) -> SysResult<()> {
        let f = self.fd_file(pid, fd)?;
        if let Some(file) = self.files.get_mut(f.0) {
            file.nonblock = on;
        }
        Ok(())
    }

    fn get_fd_flags(&self, pid: Pid, fd: i32) -> SysResult<i32> {
        let e = self.proc(pid)?.fds.get(fd)?;
        Ok(if e.cloexec {
            crate::abi::consts::FD_CLOEXEC
        } else {
            0
        })
    }

    fn pidfd_pid(&self, pid: Pid, fd: i32) -> SysResult<i32> {
        let f = self.fd_file(pid, fd)?;
        match self.file(f)?.kind {
            FileKind::Pidfd(p) => Ok(if self.procs.contains_key(&p) { p } else { -1 }),
            _ => Err(Errno::EINVAL.why("not a pidfd")),
        }
    }

    /// A new pidfd for `target` (`pidfd_prepare`), installed in `pid` close-on-exec.
    pub(crate) fn pidfd_install(&mut self, pid: Pid, target: Pid) -> SysResult<i32> {
        self.fd_reserve(pid)?;
        let f = self.alloc_file(FileKind::Pidfd(target), false);
        self.fd_install(pid, f, true)
    }

    /// The number of live unix sockets (`/proc/net/unix`): hashed sockets,
    /// including those alive only in flight and embryos, not released ones.
    pub(crate) fn live_sockets(&self) -> usize {
        self.socks.iter().filter(|(_, s)| !s.dead).count()
    }
}

/// A user-space Linux AF_UNIX socket layer: processes, fds, files and unix
/// sockets in memory. Every method mirrors a system call of process `pid`
/// and returns what Linux 6.18 returns. Safe to share between threads; a
/// call that blocks in Linux blocks here until the state it waits for
/// changes (or its timeout passes).
///
/// ```
/// use afunix::{World, backend::TaskSpec, abi::cmsg::{CmsgBuilder, user_cmsgs}};
/// use afunix::abi::consts::{SOCK_DGRAM, SCM_RIGHTS};
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
/// let cmsg = user_cmsgs(&r.control).next().unwrap();
/// assert_eq!(cmsg.ty, SCM_RIGHTS);
/// let g = i32::from_ne_bytes(cmsg.data[..4].try_into().unwrap());
/// assert_eq!(g, 5);                             // lowest free fd in b
/// assert_eq!(w.read(b, g, 5).unwrap(), b"hello");
/// ```
pub struct World {
    k: Mutex<Kernel>,
    changed: Condvar,
    interrupted: std::sync::atomic::AtomicBool,
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

impl World {
    /// An empty world with sysctls at their defaults.
    pub fn new() -> World {
        World {
            k: Mutex::new(Kernel::new()),
            changed: Condvar::new(),
            interrupted: Default::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kernel> {
        self.k.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `op` on the kernel state. A call that may block passes `timeout`
    /// (`None`: forever); when `op` says it would block, the caller sleeps
    /// until the world changes and `op` runs again.
    fn sys<T>(
        &self,
        pid: Pid,
        timeout: Option<Option<Duration>>,
        mut op: impl FnMut(&mut Kernel) -> SysResult<T>,
    ) -> SysResult<T> {
        let mut k = self.lock();
        let deadline = timeout.flatten().map(|t| Instant::now() + t);
        loop {
            let r = op(&mut k);
            match r {
                Err(e)
                    if e.reason() == WOULD_BLOCK
                        && self.interrupted.load(std::sync::atomic::Ordering::SeqCst) =>
                {
                    return Err(Errno::EINTR.why("the world was torn down while the call slept"));
                }
                Err(e) if e == Errno::EAGAIN && e.reason() == WOULD_BLOCK && timeout.is_some() => {
                    *k.sleeping.entry(pid).or_insert(0) += 1;
                    let woke = match deadline {
                        None => Some(self.changed.wait(k).unwrap_or_else(|p| p.into_inner())),
                        Some(d) => {
                            let now = Instant::now();
                            if now >= d {
                                None
                            } else {
                                let (g, _) = self
                                    .changed
                                    .wait_timeout(k, d - now)
                                    .unwrap_or_else(|p| p.into_inner());
                                Some(g)
                            }
                        }
                    };
                    match woke {
                        Some(g) => k = g,
                        None => k = self.lock(),
                    }
                    if let Some(n) = k.sleeping.get_mut(&pid) {
                        *n -= 1;
                        if *n == 0 {
                            k.sleeping.remove(&pid);
                        }
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        // One last try, then the timeout's EAGAIN.
                        let r = op(&mut k);
                        self.changed.notify_all();
                        return match r {
                            Err(e) if e.reason() == WOULD_BLOCK => {
                                Err(Errno::EAGAIN.why("timed out (SO_RCVTIMEO/SO_SNDTIMEO)"))
                            }
                            other => other,
                        };
                    }
                }
                Err(e) if e.reason() == WOULD_BLOCK => {
                    self.changed.notify_all();
                    return Err(Errno::EAGAIN.why("would block (non-blocking)"));
                }
                other => {
                    self.changed.notify_all();
                    return other;
                }
            }
        }
    }

    fn quick<T>(&self, op: impl FnOnce(&mut Kernel) -> SysResult<T>) -> SysResult<T> {
        let mut k = self.lock();
        let r = op(&mut k);
        drop(k);
        self.changed.notify_all();
        r
    }

    /// Interrupt every sleeping call (they return `EINTR`) and every later
    /// one that would sleep: used when a world is torn down.
    pub fn interrupt_all(&self) {
        self.interrupted
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _k = self.lock();
        self.changed.notify_all();
    }

    /// Install a policy for the LSM hook points.
    pub fn set_security(&self, s: Box<dyn Security>) {
        self.lock().security = s;
    }

    /// Create a process with fds 0–2 open on `/dev/null`.
    pub fn spawn(&self, spec: &TaskSpec) -> Pid {
        self.lock().spawn(spec)
    }

    /// `fork()`: a copy of `parent`'s fd table (same open files) and credentials.
    pub fn fork(&self, parent: Pid) -> SysResult<Pid> {
        self.quick(|k| k.fork(parent))
    }

    /// `exit()`: close every fd; the process is reaped at once.
    pub fn exit(&self, pid: Pid) -> SysResult<()> {
        self.quick(|k| k.exit(pid))
    }

    /// Whether `pid`'s current call sleeps in the model.
    pub fn is_sleeping(&self, pid: Pid) -> bool {
        self.lock().sleeping.contains_key(&pid)
    }

    /// Collect (and clear) a SIGPIPE raised in `pid`.
    pub fn take_sigpipe(&self, pid: Pid) -> bool {
        let mut k = self.lock();
        k.procs
            .get_mut(&pid)
            .map(|p| std::mem::take(&mut p.sigpipe))
            .unwrap_or(false)
    }

    /// `close(fd)`.
    pub fn close(&self, pid: Pid, fd: i32) -> SysResult<()> {
        self.quick(|k| k.close(pid, fd))
    }

    /// `dup(fd)`.
    pub fn dup(&self, pid: Pid, fd: i32) -> SysResult<i32> {
        self.quick(|k| k.dup(pid, fd))
    }

    /// `pipe2(flags)`: read end first.
    pub fn pipe2(&self, pid: Pid, flags: i32) -> SysResult<[i32; 2]> {
        self.quick(|k| k.pipe2(pid, flags))
    }

    /// `memfd_create` + `write(content)` + `lseek(0)`.
    pub fn memfd(&self, pid: Pid, content: &[u8]) -> SysResult<i32> {
        self.quick(|k| k.memfd(pid, content))
    }

    /// `read(fd, len)`.
    pub fn read(&self, pid: Pid, fd: i32, len: usize) -> SysResult<Vec<u8>> {
        let t = self.lock().rcv_timeout(pid, fd, 0);
        self.sys(pid, t, |k| k.read(pid, fd, len))
    }

    /// `write(fd, bytes)`.
    pub fn write(&self, pid: Pid, fd: i32, bytes: &[u8]) -> SysResult<usize> {
        let t = self.lock().snd_timeout(pid, fd, 0);
        self.sys(pid, t, |k| k.write(pid, fd, bytes))
    }

    /// `fcntl(fd, F_SETFL, O_NONBLOCK or 0)`.
    pub fn set_nonblock(&self, pid: Pid, fd: i32, on: bool) -> SysResult<()> {
        self.quick(|k| k.set_nonblock(pid, fd, on))
    }

    /// `fcntl(fd, F_GETFD)`.
    pub fn get_fd_flags(&self, pid: Pid, fd: i32) -> SysResult<i32> {
        self.quick(|k| k.get_fd_flags(pid, fd))
    }

    /// The pid a pidfd refers to, `-1` once that process exited.
    pub fn pidfd_pid(&self, pid: Pid, fd: i32) -> SysResult<i32> {
        self.quick(|k| k.pidfd_pid(pid, fd))
    }

    /// `sysctl net.unix.max_dgram_qlen`: applies to sockets created afterwards.
    pub fn set_max_dgram_qlen(&self, n: u32) {
        self.lock().max_dgram_qlen = n;
    }

    /// Run the in-flight garbage collector to completion (`unix_gc`).
    pub fn gc(&self) {
        self.quick(|k| {
            k.unix_gc();
            Ok(())
        })
        .ok();
    }

    /// The number of live unix sockets, as `/proc/net/unix` lists them.
    pub fn stat(&self) -> usize {
        self.lock().live_sockets()
    }

    /// Check the model's invariants; `Err` names the first one broken.
    /// Every open file's count equals the references that exist to it (fd
    /// table entries, in-flight messages, sockets' own files); every socket
    /// is referenced; no released object is referenced.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.lock().check_invariants()
    }

    /// The number of open file descriptions in the world.
    pub fn open_files(&self) -> usize {
        self.lock().files.len()
    }

    /// The number of socket objects in the world, released or not.
    pub fn socket_objects(&self) -> usize {
        self.lock().socks.len()
    }
}

// Socket calls: thin wrappers that pick the timeout, then run the call.
impl World {
    /// `socket(AF_UNIX, ty, 0)`.
    pub fn socket(&self, pid: Pid, ty: i32) -> SysResult<i32> {
        self.quick(|k| k.sys_socket(pid, ty))
    }

    /// `socketpair(AF_UNIX, ty, 0)`.
    pub fn socketpair(&self, pid: Pid, ty: i32) -> SysResult<[i32; 2]> {
        self.quick(|k| k.sys_socketpair(pid, ty))
    }

    /// `bind(fd, addr)`.
    pub fn bind(&self, pid: Pid, fd: i32, addr: &[u8]) -> SysResult<()> {
        self.quick(|k| k.sys_bind(pid, fd, addr))
    }

    /// `connect(fd, addr)`.
    pub fn connect(&self, pid: Pid, fd: i32, addr: &[u8]) -> SysResult<()> {
        let t = self.lock().snd_timeout(pid, fd, 0);
        self.sys(pid, t, |k| k.sys_connect(pid, fd, addr))
    }

    /// `listen(fd, backlog)`.
    pub fn listen(&self, pid: Pid, fd: i32, backlog: i32) -> SysResult<()> {
        self.quick(|k| k.sys_listen(pid, fd, backlog))
    }

    /// `accept4(fd, NULL, NULL, flags)`.
    pub fn accept4(&self, pid: Pid, fd: i32, flags: i32) -> SysResult<i32> {
        let t = self.lock().rcv_timeout(pid, fd, 0);
        self.sys(pid, t, |k| k.sys_accept4(pid, fd, flags))
    }

    /// `sendmsg(fd, msg, flags)`.
    pub fn sendmsg(
        &self,
        pid: Pid,
        fd: i32,
        msg: &crate::net::socket::MsgHdr<'_>,
        flags: i32,
    ) -> SysResult<usize> {
        let t = self.lock().snd_timeout(pid, fd, flags);
        self.sys(pid, t, |k| k.sys_sendmsg(pid, fd, msg, flags))
    }

    /// `recvmsg(fd, msg, flags)` with one iovec of `len` bytes, a
    /// `controllen`-byte control buffer (0: NULL) and a 128-byte name buffer.
    pub fn recvmsg(
        &self,
        pid: Pid,
        fd: i32,
        len: usize,
        controllen: usize,
        flags: i32,
    ) -> SysResult<RecvMsg> {
        let t = self.lock().rcv_timeout(pid, fd, flags);
        self.sys(pid, t, |k| k.sys_recvmsg(pid, fd, len, controllen, flags))
    }

    /// `shutdown(fd, how)`.
    pub fn shutdown(&self, pid: Pid, fd: i32, how: i32) -> SysResult<()> {
        self.quick(|k| k.sys_shutdown(pid, fd, how))
    }

    /// `setsockopt(fd, level, name, value)`.
    pub fn setsockopt(
        &self,
        pid: Pid,
        fd: i32,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> SysResult<()> {
        self.quick(|k| k.sys_setsockopt(pid, fd, level, name, value))
    }

    /// `getsockopt(fd, level, name)` with an `optlen`-byte buffer: the bytes written.
    pub fn getsockopt(
        &self,
        pid: Pid,
        fd: i32,
        level: i32,
        name: i32,
        optlen: usize,
    ) -> SysResult<Vec<u8>> {
        self.quick(|k| k.sys_getsockopt(pid, fd, level, name, optlen))
    }

    /// `getsockname(fd)`: the address bytes (`addrlen` of them).
    pub fn getsockname(&self, pid: Pid, fd: i32) -> SysResult<Vec<u8>> {
        self.quick(|k| k.sys_getname(pid, fd, false))
    }

    /// `getpeername(fd)`.
    pub fn getpeername(&self, pid: Pid, fd: i32) -> SysResult<Vec<u8>> {
        self.quick(|k| k.sys_getname(pid, fd, true))
    }

    /// `poll` of one fd with timeout 0: revents.
    pub fn poll(&self, pid: Pid, fd: i32, events: i16) -> SysResult<i16> {
        self.quick(|k| Ok(k.sys_poll(pid, fd, events)))
    }

    /// `ioctl(fd, req, &int)`: the int.
    pub fn ioctl(&self, pid: Pid, fd: i32, req: u64) -> SysResult<i32> {
        self.quick(|k| k.sys_ioctl(pid, fd, req))
    }
}
