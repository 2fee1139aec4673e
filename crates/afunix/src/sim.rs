//! The model as a scenario [`Backend`] (`--backend sim`): each call runs on
//! its own thread against a shared [`World`], so a call that blocks in the
//! model stays blocked while the scenario goes on, exactly as a blocked
//! helper process does on the host.

use crate::backend::{Backend, BackendError, Call, Out, ProcId, Progress, Reply, TaskSpec};
use crate::errno::Errno;
use crate::net::socket::MsgHdr;
use crate::process::Pid;
use crate::world::World;
use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A started call: still running on its thread, or already returned.
enum Pending {
    Running(Receiver<Reply>),
    Done(Reply),
}

/// The model behind the [`Backend`] trait.
pub struct SimBackend {
    world: Arc<World>,
    pids: HashMap<ProcId, Pid>,
    pending: HashMap<ProcId, Pending>,
}

impl Default for SimBackend {
    fn default() -> Self {
        SimBackend::new()
    }
}

impl SimBackend {
    /// A fresh world.
    pub fn new() -> SimBackend {
        SimBackend {
            world: Arc::new(World::new()),
            pids: HashMap::new(),
            pending: HashMap::new(),
        }
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

impl Drop for SimBackend {
    fn drop(&mut self) {
        // Calls still blocked are interrupted (EINTR), so no thread outlives the run.
        self.world.interrupt_all();
    }
}

/// Run one call of `pid` on the world, as the kernel would answer it.
pub fn execute(w: &World, pid: Pid, call: &Call) -> Reply {
    let r = |res: Result<i64, Errno>| match res {
        Ok(v) => Reply::ok(v),
        Err(e) => Reply::err(e),
    };
    let mut reply = match call {
        Call::Socket { ty } => r(w.socket(pid, *ty).map(i64::from)),
        Call::Socketpair { ty } => match w.socketpair(pid, *ty) {
            Ok(p) => Reply::with(0, Out::Pair(p)),
            Err(e) => Reply::err(e),
        },
        Call::Bind { fd, addr } => r(w.bind(pid, *fd, addr).map(|_| 0)),
        Call::Connect { fd, addr } => r(w.connect(pid, *fd, addr).map(|_| 0)),
        Call::Listen { fd, backlog } => r(w.listen(pid, *fd, *backlog).map(|_| 0)),
        Call::Accept { fd, flags } => r(w.accept4(pid, *fd, *flags).map(i64::from)),
        Call::Sendmsg {
            fd,
            name,
            data,
            control,
            flags,
        } => {
            let msg = MsgHdr {
                name: name.as_deref(),
                iov: data.as_deref(),
                control,
            };
            r(w.sendmsg(pid, *fd, &msg, *flags).map(|n| n as i64))
        }
        Call::Recvmsg {
            fd,
            len,
            controllen,
            flags,
        } => match w.recvmsg(pid, *fd, *len, *controllen, *flags) {
            Ok(m) => Reply::with(
                m.ret as i64,
                Out::Msg {
                    data: m.data,
                    name: m.name,
                    control: m.control,
                    flags: m.flags,
                },
            ),
            Err(e) => Reply::err(e),
        },
        Call::Close { fd } => r(w.close(pid, *fd).map(|_| 0)),
        Call::Dup { fd } => r(w.dup(pid, *fd).map(i64::from)),
        Call::Shutdown { fd, how } => r(w.shutdown(pid, *fd, *how).map(|_| 0)),
        Call::Setsockopt {
            fd,
            level,
            name,
            value,
        } => r(w.setsockopt(pid, *fd, *level, *name, value).map(|_| 0)),
        Call::Getsockopt {
            fd,
            level,
            name,
            optlen,
        } => match w.getsockopt(pid, *fd, *level, *name, *optlen) {
            Ok(v) => Reply::with(0, Out::Optval(v)),
            Err(e) => Reply::err(e),
        },
        Call::Getsockname { fd } => match w.getsockname(pid, *fd) {
            Ok(a) => Reply::with(0, Out::Addr(a)),
            Err(e) => Reply::err(e),
        },
        Call::Getpeername { fd } => match w.getpeername(pid, *fd) {
            Ok(a) => Reply::with(0, Out::Addr(a)),
            Err(e) => Reply::err(e),
        },
        Call::SetNonblock { fd, on } => r(w.set_nonblock(pid, *fd, *on).map(|_| 0)),
        Call::GetFd { fd } => r(w.get_fd_flags(pid, *fd).map(i64::from)),
        Call::Pipe { flags } => match w.pipe2(pid, *flags) {
            Ok(p) => Reply::with(0, Out::Pair(p)),
            Err(e) => Reply::err(e),
        },
        Call::Memfd { content } => r(w.memfd(pid, content).map(i64::from)),
        Call::Read { fd, len } => match w.read(pid, *fd, *len) {
            Ok(d) => Reply::with(d.len() as i64, Out::Data(d)),
            Err(e) => Reply::err(e),
        },
        Call::Write { fd, data } => r(w.write(pid, *fd, data).map(|n| n as i64)),
        Call::Poll { fd, events } => match w.poll(pid, *fd, *events) {
            Ok(rev) => Reply::with(i64::from(rev != 0), Out::Revents(rev)),
            Err(e) => Reply::err(e),
        },
        Call::Ioctl { fd, req } => match w.ioctl(pid, *fd, *req) {
            Ok(v) => Reply::with(0, Out::Int(v)),
            Err(e) => Reply::err(e),
        },
        Call::Pidof { fd } => match w.pidfd_pid(pid, *fd) {
            Ok(p) => Reply::with(0, Out::Pid(p)),
            Err(e) => Reply::err(e),
        },
        Call::Exit => r(w.exit(pid).map(|_| 0)),
    };
    reply.sigpipe = w.take_sigpipe(pid);
    reply
}

impl Backend for SimBackend {
    fn task(&mut self, id: ProcId, spec: &TaskSpec) -> Result<(), BackendError> {
        let pid = self.world.spawn(spec);
        self.pids.insert(id, pid);
        Ok(())
    }

    fn fork(&mut self, parent: ProcId, child: ProcId) -> Result<(), BackendError> {
        let pp = self.pid_of(parent)?;
        let pid = self
            .world
            .fork(pp)
            .map_err(|e| BackendError(format!("fork: {e:?}")))?;
        self.pids.insert(child, pid);
        Ok(())
    }

    fn pid(&self, id: ProcId) -> i32 {
        self.pids.get(&id).copied().unwrap_or(0)
    }

    fn start(&mut self, id: ProcId, call: Call) -> Result<(), BackendError> {
        let pid = self.pid_of(id)?;
        if self.pending.contains_key(&id) {
            return Err(BackendError(format!(
                "process {id} already has a call pending"
            )));
        }
        let (tx, rx) = channel();
        let world = Arc::clone(&self.world);
        std::thread::Builder::new()
            .name(format!("afunix-sim-{pid}"))
            .spawn(move || {
                let reply = execute(&world, pid, &call);
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
        self.pending.insert(id, Pending::Running(rx));
        Ok(())
    }

    fn wait(&mut self, id: ProcId, timeout: Duration) -> Result<Progress, BackendError> {
        let rx = match self.pending.remove(&id) {
            None => return Err(BackendError(format!("process {id} has no call pending"))),
            Some(Pending::Done(reply)) => return Ok(Progress::Done(reply)),
            Some(Pending::Running(rx)) => rx,
        };
        match rx.recv_timeout(timeout) {
            Ok(reply) => Ok(Progress::Done(reply)),
            Err(RecvTimeoutError::Timeout) => {
                self.pending.insert(id, Pending::Running(rx));
                Ok(Progress::Blocked)
            }
            Err(RecvTimeoutError::Disconnected) => {
                Err(BackendError("model call thread died".into()))
            }
        }
    }

    fn set_max_dgram_qlen(&mut self, n: u32) -> Result<(), BackendError> {
        self.world.set_max_dgram_qlen(n);
        Ok(())
    }

    fn gc(&mut self) -> Result<(), BackendError> {
        self.world.gc();
        Ok(())
    }

    fn stat(&mut self) -> Result<usize, BackendError> {
        Ok(self.world.stat())
    }
}
