//! The model as a scenario [`Backend`] (`--backend sim`): each call runs on
//! its own thread against a shared [`World`], so a call that blocks in the
//! model stays blocked while the scenario goes on, exactly as a blocked
//! helper process does on the host. Before each step the calls a wake-up
//! made runnable run until they return or sleep again (`settle`), so the
//! trace does not depend on the OS scheduler.

use crate::backend::{
    Backend, BackendError, Call, Out, ProcId, Progress, Reply, SendBuf, TaskSpec,
};
use crate::call::SockOpt;
use afunix::net::socket::{RecvArgs, SendHdr};
use afunix::Errno;
use afunix::{Fd, Interrupt, Pid, World};
use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Take a mutex, ignoring poisoning: a call thread that panicked left the
/// map of paths whole (an insert or a remove).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A started call: still running on its thread (with the interrupt it
/// runs under, which ends it alone, and whether it is a `poll`, which
/// sleeps between scans rather than on a queue), or already returned.
enum Pending {
    Running(Receiver<Reply>, Interrupt, bool),
    Done(Reply),
}

/// The model behind the [`Backend`] trait.
pub struct SimBackend {
    world: Arc<World>,
    pids: HashMap<ProcId, Pid>,
    pending: HashMap<ProcId, Pending>,
    /// Record each call's path (`record_paths`), kept here by process.
    paths: Option<Paths>,
    /// The path of the last directive (`sysctl`, `gc`), when recording.
    directive_path: Vec<String>,
}

/// The paths of the calls, by the process that made them.
type Paths = Arc<std::sync::Mutex<HashMap<ProcId, Vec<String>>>>;

impl Default for SimBackend {
    fn default() -> Self {
        SimBackend::new()
    }
}

impl SimBackend {
    /// A fresh world.
    pub fn new() -> SimBackend {
        SimBackend::on(World::new())
    }

    /// A fresh world whose hooks ask `security` (`--deny`).
    pub fn with_security(security: Box<dyn afunix::security::Security>) -> SimBackend {
        SimBackend::on(World::with_security(security))
    }

    fn on(world: World) -> SimBackend {
        SimBackend {
            world: Arc::new(world),
            pids: HashMap::new(),
            pending: HashMap::new(),
            paths: None,
            directive_path: Vec::new(),
        }
    }

    /// Run a directive on the world, recording its path when recording.
    fn directive<R>(&mut self, f: impl FnOnce(&World) -> R) -> R {
        if self.paths.is_none() {
            return f(&self.world);
        }
        let (r, path) = self.world.with_path(|| f(&self.world));
        self.directive_path = path;
        r
    }

    /// The world this backend drives.
    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    fn pid_of(&self, id: ProcId) -> Result<Pid, BackendError> {
        self.pids
            .get(&id)
            .copied()
            .ok_or_else(|| BackendError(format!("no process {id}")))
    }
}

impl SimBackend {
    /// End every call still blocked, each by its own interrupt (abandoned,
    /// as a call whose caller is gone: it stops sleeping and takes nothing
    /// more), and wait up to 5 s for their threads to return, so that no
    /// thread and no file reference outlives the run. The world itself is
    /// not disturbed. Returns how many calls did not end in time.
    pub fn end_pending(&mut self) -> usize {
        let running: Vec<(Receiver<Reply>, Interrupt)> = std::mem::take(&mut self.pending)
            .into_values()
            .filter_map(|p| match p {
                Pending::Running(rx, intr, _) => Some((rx, intr)),
                Pending::Done(_) => None,
            })
            .collect();
        for (_, intr) in &running {
            intr.cancel();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        running
            .iter()
            .filter(|(rx, _)| {
                let left = deadline.saturating_duration_since(Instant::now());
                matches!(rx.recv_timeout(left), Err(RecvTimeoutError::Timeout))
            })
            .count()
    }

    /// End the run and hand back its world, alone: every call still
    /// blocked is ended ([`Self::end_pending`]), and the world is returned
    /// once no call thread holds it any more (a thread lets it go just
    /// after its reply), so that the caller can check its invariants or
    /// count what is left without a call running beside it.
    ///
    /// # Errors
    /// What kept the world, within 5 s: calls that did not end, or a call
    /// thread that still holds it.
    pub fn into_world(mut self) -> Result<Arc<World>, String> {
        let stuck = self.end_pending();
        let world = Arc::clone(&self.world);
        drop(self);
        if stuck > 0 {
            return Err(format!("{stuck} blocked calls did not end"));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&world) > 1 {
            if Instant::now() > deadline {
                return Err("a call thread kept the world".to_string());
            }
            std::thread::yield_now();
        }
        Ok(world)
    }
}

impl SimBackend {
    /// Let every woken call run until it returns or sleeps again, before
    /// the scenario goes on. In the kernel a woken task runs at once on
    /// another CPU while its waker returns to user space; here its thread
    /// might not have run yet when the next call starts, and which of the
    /// two got there first would be the OS scheduler's choice (a receive
    /// racing the blocked receive its send just woke): settling first makes
    /// the trace the same on every run, and that of the usual kernel
    /// order. A call sleeps again when it is back on a queue
    /// ([`World::is_sleeping`] counts a woken call awake) and a `poll` once
    /// it scanned again ([`World::poll_scans`]). Bounded by 5 s: a call that
    /// computes longer stays running (a `wait` still finds it).
    fn settle(&mut self) {
        let scans: HashMap<ProcId, u64> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Running(_, _, true)))
            .filter_map(|(id, _)| Some((*id, self.world.poll_scans(*self.pids.get(id)?))))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut busy = false;
            for (id, p) in self.pending.iter_mut() {
                let Pending::Running(rx, _, poll) = p else {
                    continue;
                };
                if let Ok(reply) = rx.try_recv() {
                    *p = Pending::Done(reply);
                    continue;
                }
                let Some(&pid) = self.pids.get(id) else {
                    continue;
                };
                let quiet = if *poll {
                    let since = scans.get(id).copied().unwrap_or(0);
                    self.world.poll_scans(pid) >= since + 2
                } else {
                    self.world.is_sleeping(pid)
                };
                busy |= !quiet;
            }
            if !busy || Instant::now() >= deadline {
                return;
            }
            std::thread::yield_now();
        }
    }
}

impl Drop for SimBackend {
    fn drop(&mut self) {
        self.end_pending();
    }
}

/// Run one call of `pid` on the world, as the kernel would answer it.
pub fn execute(w: &World, pid: Pid, call: &Call) -> Reply {
    let r = |res: Result<i64, afunix::Error>| match res {
        Ok(v) => Reply::ok(v),
        Err(e) => Reply::err(e),
    };
    let mut reply = match call {
        Call::Socket { ty, protocol } => r(w
            .socket_with_protocol(pid, *ty, *protocol)
            .map(|f| i64::from(f.as_raw()))),
        Call::Socketpair { ty, protocol } => {
            match w.socketpair_with_protocol(pid, *ty, *protocol) {
                Ok([a, b]) => Reply::with(0, Out::Pair([a.as_raw(), b.as_raw()])),
                Err(e) => Reply::err(e),
            }
        }
        Call::Bind { fd, addr } => r(w.bind(pid, Fd::from_raw(*fd), addr).map(|_| 0)),
        Call::Connect { fd, addr } => r(w.connect(pid, Fd::from_raw(*fd), addr).map(|_| 0)),
        Call::Listen { fd, backlog } => r(w.listen(pid, Fd::from_raw(*fd), *backlog).map(|_| 0)),
        Call::Accept { fd, flags } => r(w
            .accept4(pid, Fd::from_raw(*fd), *flags)
            .map(|f| i64::from(f.as_raw()))),
        Call::Sendmsg {
            fd,
            name,
            iov,
            control,
            flags,
        } => {
            // __copy_msghdr: a NULL msg_name has no length.
            let name = match name {
                Some(SendBuf::Bytes(b)) => Some(b.as_slice()),
                Some(SendBuf::Null(_)) | None => None,
            };
            let msg = SendHdr { name, iov, control };
            r(w.sendmsg_iov(pid, Fd::from_raw(*fd), &msg, *flags)
                .map(|n| n as i64))
        }
        Call::Recvmsg {
            fd,
            iov,
            namelen,
            control,
            flags,
        } => {
            let args = RecvArgs {
                iov,
                namelen: *namelen,
                controllen: if control.is_null() { 0 } else { control.len() },
                flags: *flags,
            };
            match w.recvmsg_with(pid, Fd::from_raw(*fd), &args) {
                Ok(m) => {
                    let full = m.name.len();
                    let mut name = m.name;
                    name.truncate((*namelen as usize).min(full));
                    let controllen = m.control.len();
                    Reply::with(
                        m.ret as i64,
                        Out::Msg {
                            data: m.data,
                            name,
                            namelen: full as u32,
                            control: m.control,
                            controllen,
                            flags: m.flags,
                        },
                    )
                }
                Err(e) => Reply::err(e),
            }
        }
        Call::Close { fd } => r(w.close(pid, Fd::from_raw(*fd)).map(|_| 0)),
        Call::Dup { fd } => r(w.dup(pid, Fd::from_raw(*fd)).map(|f| i64::from(f.as_raw()))),
        Call::Dup2 { fd, newfd } => r(w
            .dup2(pid, Fd::from_raw(*fd), Fd::from_raw(*newfd))
            .map(|f| i64::from(f.as_raw()))),
        Call::Shutdown { fd, how } => r(w.shutdown(pid, Fd::from_raw(*fd), *how).map(|_| 0)),
        Call::Setsockopt {
            fd,
            opt: SockOpt { level, name },
            value,
        } => r(w
            .setsockopt(pid, Fd::from_raw(*fd), *level, *name, value)
            .map(|_| 0)),
        Call::Getsockopt {
            fd,
            opt: SockOpt { level, name },
            optlen,
        } => match w.getsockopt_len(pid, Fd::from_raw(*fd), *level, *name, *optlen) {
            Ok((optlen, value)) => Reply::with(0, Out::Optval { optlen, value }),
            Err((e, Some(optlen))) => Reply {
                ret: Err(e),
                out: Out::Optval {
                    optlen,
                    value: Vec::new(),
                },
                sigpipe: false,
            },
            Err((e, None)) => Reply::err(e),
        },
        Call::Getsockname { fd, len } | Call::Getpeername { fd, len } => {
            let peer = matches!(call, Call::Getpeername { .. });
            let res = if peer {
                w.getpeername(pid, Fd::from_raw(*fd))
            } else {
                w.getsockname(pid, Fd::from_raw(*fd))
            };
            match res {
                // move_addr_to_user: a negative length is EINVAL, after the call.
                Ok(_) if *len < 0 => Reply::err(
                    Errno::EINVAL.why(afunix::rule!(move_addr_to_user, "negative length")),
                ),
                Ok(mut a) => {
                    let full = a.len() as i32;
                    a.truncate((*len as usize).min(a.len()));
                    Reply::with(0, Out::Addr { addr: a, len: full })
                }
                Err(e) => Reply::err(e),
            }
        }
        Call::SetNonblock { fd, on } => r(w.set_nonblock(pid, Fd::from_raw(*fd), *on).map(|_| 0)),
        Call::GetFd { fd } => r(w.get_fd_flags(pid, Fd::from_raw(*fd)).map(i64::from)),
        Call::SetOwn { fd } => r(w.set_own(pid, Fd::from_raw(*fd)).map(|_| 0)),
        Call::Pipe { flags } => match w.pipe2(pid, *flags) {
            Ok([a, b]) => Reply::with(0, Out::Pair([a.as_raw(), b.as_raw()])),
            Err(e) => Reply::err(e),
        },
        Call::Memfd { content } => r(w.memfd(pid, content).map(|f| i64::from(f.as_raw()))),
        Call::Read { fd, len } => match w.read(pid, Fd::from_raw(*fd), *len) {
            Ok(d) => Reply::with(d.len() as i64, Out::Data(d)),
            Err(e) => Reply::err(e),
        },
        Call::Write { fd, data } => r(w.write(pid, Fd::from_raw(*fd), data).map(|n| n as i64)),
        Call::Poll {
            fds,
            events,
            timeout,
            ..
        } => match w.poll_fds(
            pid,
            &fds.iter().copied().map(Fd::from_raw).collect::<Vec<_>>(),
            *events,
            *timeout,
        ) {
            Ok(rev) => {
                let n = rev.iter().filter(|e| !e.is_empty()).count();
                Reply::with(
                    n as i64,
                    Out::Revents(rev.iter().map(|e| e.bits()).collect()),
                )
            }
            Err(e) => Reply::err(e),
        },
        Call::Ioctl { fd, req } => match w.ioctl(pid, Fd::from_raw(*fd), *req) {
            Ok(v) => Reply::with(0, Out::Int(v)),
            Err(e) => Reply::err(e),
        },
        Call::Pidof { fd } => match w.pidfd_pid(pid, Fd::from_raw(*fd)) {
            Ok(p) => Reply::with(0, Out::Pid(p)),
            Err(e) => Reply::err(e),
        },
        Call::Open { path, flags, mode } => r(w
            .open(pid, path, *flags, *mode)
            .map(|f| i64::from(f.as_raw()))),
        Call::Mkdir { path, mode } => r(w.mkdir(pid, path, *mode).map(|_| 0)),
        Call::Unlink { path } => r(w.unlink(pid, path).map(|_| 0)),
        Call::Chmod { path, mode } => r(w.chmod(pid, path, *mode).map(|_| 0)),
        Call::Rename { old, new } => r(w.rename(pid, old, new).map(|_| 0)),
        Call::Sigurg => Reply::ok(i64::from(w.take_sigurg(pid))),
        Call::Exec => r(w.exec(pid).map(|_| 0)),
        Call::Exit => r(w.exit(pid).map(|_| 0)),
        // The runner's, never a backend's: uninhabited at this stage.
        Call::Fork { child, .. } => match *child {},
        Call::Wait { ms } => match *ms {},
    };
    reply.sigpipe = w.take_sigpipe(pid);
    reply
}

impl Backend for SimBackend {
    fn task(&mut self, id: ProcId, spec: &TaskSpec) -> Result<(), BackendError> {
        self.settle();
        if spec.nofile > afunix::NR_OPEN {
            return Err(BackendError(format!(
                "nofile {} is above fs.nr_open ({}): setrlimit(RLIMIT_NOFILE) fails with EPERM",
                spec.nofile,
                afunix::NR_OPEN
            )));
        }
        let pid = self
            .world
            .try_spawn(spec)
            .map_err(|e| BackendError(format!("task: {e:?}")))?;
        self.pids.insert(id, pid);
        Ok(())
    }

    fn fork(&mut self, parent: ProcId, child: ProcId) -> Result<(), BackendError> {
        self.settle();
        let pp = self.pid_of(parent)?;
        let r = match &self.paths {
            Some(store) => {
                let (r, path) = self.world.with_path(|| self.world.fork(pp));
                lock(store).insert(parent, path);
                r
            }
            None => self.world.fork(pp),
        };
        let pid = r.map_err(|e| BackendError(format!("fork: {e:?}")))?;
        self.pids.insert(child, pid);
        Ok(())
    }

    fn pid(&self, id: ProcId) -> i32 {
        self.pids.get(&id).map_or(0, |p| p.as_raw())
    }

    fn start(&mut self, id: ProcId, call: Call) -> Result<(), BackendError> {
        self.settle();
        let pid = self.pid_of(id)?;
        let poll = matches!(call, Call::Poll { .. });
        if self.pending.contains_key(&id) {
            return Err(BackendError(format!(
                "process {id} already has a call pending"
            )));
        }
        let (tx, rx) = channel();
        let world = Arc::clone(&self.world);
        let paths = self.paths.clone();
        let intr = Interrupt::new();
        let ours = intr.clone();
        std::thread::Builder::new()
            .name(format!("afunix-sim-{pid}"))
            .spawn(move || {
                let run = || execute(&world, pid, &call);
                let reply = world.interruptible(&ours, || match &paths {
                    Some(store) => {
                        let (reply, path) = world.with_path(run);
                        lock(store).insert(id, path);
                        reply
                    }
                    None => run(),
                });
                let _ = tx.send(reply);
            })
            .map_err(|e| BackendError(format!("cannot start a thread: {e}")))?;
        // Return once the call has returned or sleeps in the model.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !self.world.is_sleeping(pid) {
            match rx.recv_timeout(Duration::from_micros(200)) {
                Ok(reply) => {
                    self.pending.insert(id, Pending::Done(reply));
                    return Ok(());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(BackendError("model call thread died".into()))
                }
            }
        }
        self.pending.insert(id, Pending::Running(rx, intr, poll));
        Ok(())
    }

    fn wait(&mut self, id: ProcId, timeout: Duration) -> Result<Progress, BackendError> {
        self.settle();
        let (rx, intr, poll) = match self.pending.remove(&id) {
            None => return Err(BackendError(format!("process {id} has no call pending"))),
            Some(Pending::Done(reply)) => return Ok(Progress::Done(reply)),
            Some(Pending::Running(rx, intr, poll)) => (rx, intr, poll),
        };
        match rx.recv_timeout(timeout) {
            Ok(reply) => Ok(Progress::Done(reply)),
            Err(RecvTimeoutError::Timeout) => {
                self.pending.insert(id, Pending::Running(rx, intr, poll));
                Ok(Progress::Blocked)
            }
            Err(RecvTimeoutError::Disconnected) => {
                Err(BackendError("model call thread died".into()))
            }
        }
    }

    fn set_max_dgram_qlen(
        &mut self,
        netns: u32,
        n: i64,
    ) -> Result<Result<(), afunix::Error>, BackendError> {
        self.settle();
        Ok(self.directive(|w| w.sysctl_max_dgram_qlen(netns, n)))
    }

    fn gc(&mut self) -> Result<(), BackendError> {
        self.settle();
        self.directive(World::gc);
        Ok(())
    }

    fn take_directive_path(&mut self) -> Vec<String> {
        std::mem::take(&mut self.directive_path)
    }

    fn inject(
        &mut self,
        point: afunix::fault::FaultPoint,
        proc: Option<ProcId>,
        when: afunix::fault::When,
    ) -> Result<(), BackendError> {
        let pid = match proc {
            Some(id) => Some(self.pid_of(id)?),
            None => None,
        };
        self.world.inject(afunix::fault::Fault { point, pid, when });
        Ok(())
    }

    fn record_paths(&mut self, on: bool) {
        self.paths = on.then(Default::default);
    }

    fn take_path(&mut self, id: ProcId) -> Vec<String> {
        self.paths
            .as_ref()
            .and_then(|p| lock(p).remove(&id))
            .unwrap_or_default()
    }

    fn take_fired(&mut self) -> Vec<(afunix::fault::FaultPoint, Option<ProcId>)> {
        self.world
            .take_fired()
            .into_iter()
            .map(|(p, pid)| {
                (
                    p,
                    self.pids.iter().find(|(_, v)| **v == pid).map(|(k, _)| *k),
                )
            })
            .collect()
    }

    fn picture(&mut self, moment: afunix::dot::Moment) -> Option<String> {
        self.settle();
        Some(self.world.dot(moment))
    }

    fn stat(&mut self) -> Result<usize, BackendError> {
        self.settle();
        Ok(self.world.stat())
    }
}
