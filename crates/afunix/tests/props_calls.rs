//! Property tests: random call sequences across several processes (issue #2,
//! "Bad input").
//!
//! 2–4 processes (uids 0, 1000, 1001; small and normal fd limits) make up to
//! ~60 random calls: spawn, fork, exit, socket/socketpair of every type (and
//! bad types), bind/connect to a few abstract and pathname names or raw
//! address bytes, listen, accept, sendmsg with data, rights of random fds
//! (sockets included, so cycles form), credentials and raw control bytes,
//! recvmsg with random len/controllen/flags, close, dup, shutdown,
//! setsockopt/getsockopt with random options and values, poll, ioctl, pipe2,
//! memfd, read, write, fcntl, gc. Nothing may block: every receive and send
//! carries MSG_DONTWAIT and every file is made non-blocking before a call
//! that could wait.
//!
//! Every call returns (no panic), `check_invariants()` holds after every call,
//! and once every process has exited and the collector has run,
//! `open_files() == 0` and `stat() == 0`.

use afunix::abi::cmsg::{user_cmsgs, CmsgBuilder};
use afunix::abi::consts::*;
use afunix::abi::ucred::Ucred;
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::{Fd, Pid, World};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Addr {
    Abstract(u8),
    Path(u8),
    /// A path in a directory that does not exist.
    Nested,
    /// 108 bytes of path, no room for the NUL.
    LongPath,
    Auto,
    Unspec,
    Raw(Vec<u8>),
}

impl Addr {
    fn bytes(&self) -> Vec<u8> {
        let mut v = AF_UNIX.to_ne_bytes().to_vec();
        match self {
            Addr::Abstract(n) => v.extend_from_slice(&[0, b'a' + n % 3]),
            Addr::Path(n) => v.extend_from_slice(&[b'p', b'0' + n % 3, 0]),
            Addr::Nested => v.extend_from_slice(b"nodir/x\0"),
            Addr::LongPath => v.extend(std::iter::repeat_n(b'l', UNIX_PATH_MAX)),
            Addr::Auto => {}
            Addr::Unspec => v = AF_UNSPEC.to_ne_bytes().to_vec(),
            Addr::Raw(b) => v = b.clone(),
        }
        v
    }
}

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        6 => (0u8..3).prop_map(Addr::Abstract),
        6 => (0u8..3).prop_map(Addr::Path),
        1 => Just(Addr::Nested),
        1 => Just(Addr::LongPath),
        2 => Just(Addr::Auto),
        1 => Just(Addr::Unspec),
        2 => prop::collection::vec(any::<u8>(), 0..120).prop_map(Addr::Raw),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Spawn {
        uid: u32,
        nofile: u64,
    },
    Fork {
        p: u8,
    },
    Exit {
        p: u8,
    },
    Socket {
        p: u8,
        ty: i32,
    },
    Socketpair {
        p: u8,
        ty: i32,
    },
    Bind {
        p: u8,
        fd: FdArg,
        addr: Addr,
    },
    Connect {
        p: u8,
        fd: FdArg,
        addr: Addr,
    },
    Listen {
        p: u8,
        fd: FdArg,
        backlog: i32,
    },
    Accept {
        p: u8,
        fd: FdArg,
        flags: i32,
    },
    Send {
        p: u8,
        fd: FdArg,
        data: Option<Vec<u8>>,
        rights: Vec<FdArg>,
        creds: Option<(u8, u32, u32)>,
        raw: Vec<u8>,
        to: Option<Addr>,
        flags: i32,
    },
    Recv {
        p: u8,
        fd: FdArg,
        len: usize,
        controllen: usize,
        flags: i32,
    },
    Close {
        p: u8,
        fd: FdArg,
    },
    Dup {
        p: u8,
        fd: FdArg,
    },
    Shutdown {
        p: u8,
        fd: FdArg,
        how: i32,
    },
    SetOpt {
        p: u8,
        fd: FdArg,
        level: i32,
        name: i32,
        value: Vec<u8>,
    },
    GetOpt {
        p: u8,
        fd: FdArg,
        level: i32,
        name: i32,
        optlen: usize,
    },
    GetName {
        p: u8,
        fd: FdArg,
        peer: bool,
    },
    Poll {
        p: u8,
        fd: FdArg,
        events: i16,
    },
    Ioctl {
        p: u8,
        fd: FdArg,
        req: u64,
    },
    Pipe {
        p: u8,
        flags: i32,
    },
    Memfd {
        p: u8,
        content: Vec<u8>,
    },
    Read {
        p: u8,
        fd: FdArg,
        len: usize,
    },
    Write {
        p: u8,
        fd: FdArg,
        data: Vec<u8>,
    },
    Fcntl {
        p: u8,
        fd: FdArg,
        nonblock: Option<bool>,
    },
    PidfdPid {
        p: u8,
        fd: FdArg,
    },
    Gc,
    /// socket + bind + listen (each call checked).
    Serve {
        p: u8,
        ty: i32,
        addr: Addr,
        backlog: i32,
    },
    /// socket + connect, non-blocking.
    Dial {
        p: u8,
        ty: i32,
        addr: Addr,
    },
    /// accept4 on every fd the process knows (made non-blocking first).
    AcceptAll {
        p: u8,
    },
    /// recvmsg on every fd the process knows.
    RecvAll {
        p: u8,
        len: usize,
        controllen: usize,
        flags: i32,
    },
}

/// An fd argument: mostly one the process got from an earlier call (it may
/// have been closed since), sometimes any number.
#[derive(Clone, Copy, Debug)]
enum FdArg {
    Known(u8),
    Num(i32),
}

fn fd() -> impl Strategy<Value = FdArg> {
    prop_oneof![
        30 => any::<u8>().prop_map(FdArg::Known),
        2 => (0i32..16).prop_map(FdArg::Num),
        1 => any::<i32>().prop_map(FdArg::Num),
    ]
}

fn proc_() -> impl Strategy<Value = u8> {
    any::<u8>()
}

fn sock_ty() -> impl Strategy<Value = i32> {
    let base = prop_oneof![
        4 => Just(SOCK_STREAM),
        4 => Just(SOCK_DGRAM),
        4 => Just(SOCK_SEQPACKET),
        1 => 0i32..16,
    ];
    let flags = prop_oneof![
        4 => Just(0),
        1 => Just(SOCK_NONBLOCK),
        1 => Just(SOCK_CLOEXEC),
        1 => Just(SOCK_NONBLOCK | SOCK_CLOEXEC),
        1 => any::<i32>(),
    ];
    (base, flags).prop_map(|(b, f)| b | (f & !SOCK_TYPE_MASK))
}

fn send_flags() -> impl Strategy<Value = i32> {
    let f = prop_oneof![
        6 => Just(0),
        1 => Just(MSG_OOB),
        1 => Just(MSG_EOR),
        1 => Just(MSG_NOSIGNAL),
        1 => Just(MSG_MORE),
        1 => Just(MSG_CONFIRM),
        1 => any::<i32>(),
    ];
    f.prop_map(|f| f | MSG_DONTWAIT)
}

fn recv_flags() -> impl Strategy<Value = i32> {
    let one = prop_oneof![
        Just(MSG_PEEK),
        Just(MSG_TRUNC),
        Just(MSG_WAITALL),
        Just(MSG_CMSG_CLOEXEC),
        Just(MSG_OOB),
        Just(MSG_ERRQUEUE),
    ];
    let f = prop_oneof![
        4 => Just(0),
        6 => prop::collection::vec(one, 1..3).prop_map(|v| v.into_iter().fold(0, |a, b| a | b)),
        1 => any::<i32>(),
    ];
    f.prop_map(|f| f | MSG_DONTWAIT)
}

fn controllen() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => Just(0usize),
        1 => 1usize..16,
        2 => Just(16usize),
        2 => Just(20usize),
        2 => Just(24usize),
        2 => Just(32usize),
        2 => 33usize..200,
        3 => Just(4096usize),
    ]
}

fn opt_name() -> impl Strategy<Value = i32> {
    prop_oneof![
        8 => prop::sample::select(vec![
            SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_OOBINLINE, SO_PASSCRED,
            SO_PEERCRED, SO_RCVLOWAT, SO_RCVTIMEO, SO_SNDTIMEO, SO_ATTACH_FILTER,
            SO_DETACH_FILTER, SO_ACCEPTCONN, SO_PASSSEC, SO_PEEK_OFF, SO_PEERGROUPS,
            SO_PASSPIDFD, SO_PEERPIDFD, SO_PASSRIGHTS, SO_INQ, 32, 33,
        ]),
        1 => 0i32..100,
        1 => any::<i32>(),
    ]
}

fn opt_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop_oneof![Just(0i32), Just(1), Just(-1), Just(2), 0i32..300_000, any::<i32>()]
            .prop_map(|v| v.to_ne_bytes().to_vec()),
        2 => prop::collection::vec(any::<u8>(), 0..24),
        // A struct timeval of 0–20 ms (or garbage usec).
        1 => (0i64..2, prop_oneof![0i64..20_000, any::<i64>()]).prop_map(|(s, us)| {
            let mut v = s.to_ne_bytes().to_vec();
            v.extend_from_slice(&us.to_ne_bytes());
            v
        }),
        // Classic BPF: one to three random instructions.
        1 => prop::collection::vec(any::<u8>(), 1..4)
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n.len() * 8)),
    ]
}

/// The calls that open files, to start a sequence with.
fn create_op() -> impl Strategy<Value = Op> {
    let p = proc_;
    prop_oneof![
        2 => (p(), sock_ty()).prop_map(|(p, ty)| Op::Socket { p, ty }),
        3 => (p(), sock_ty()).prop_map(|(p, ty)| Op::Socketpair { p, ty }),
        1 => (p(), Just(O_NONBLOCK)).prop_map(|(p, flags)| Op::Pipe { p, flags }),
        1 => (p(), prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(p, content)| Op::Memfd { p, content }),
    ]
}

/// One of four names, for the calls meant to meet (Serve and Dial).
fn name() -> impl Strategy<Value = Addr> {
    prop_oneof![
        9 => (0u8..2).prop_map(Addr::Abstract),
        9 => (0u8..2).prop_map(Addr::Path),
        1 => addr(),
    ]
}

fn conn_ty() -> impl Strategy<Value = i32> {
    prop_oneof![
        6 => Just(SOCK_STREAM),
        1 => Just(SOCK_SEQPACKET),
        1 => Just(SOCK_DGRAM),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let p = proc_;
    prop_oneof![
        1 => (prop::sample::select(vec![0u32, 1000, 1001]), prop::sample::select(vec![8u64, 16, 1024]))
            .prop_map(|(uid, nofile)| Op::Spawn { uid, nofile }),
        1 => p().prop_map(|p| Op::Fork { p }),
        1 => p().prop_map(|p| Op::Exit { p }),
        5 => (p(), sock_ty()).prop_map(|(p, ty)| Op::Socket { p, ty }),
        5 => (p(), sock_ty()).prop_map(|(p, ty)| Op::Socketpair { p, ty }),
        4 => (p(), fd(), addr()).prop_map(|(p, fd, addr)| Op::Bind { p, fd, addr }),
        4 => (p(), fd(), addr()).prop_map(|(p, fd, addr)| Op::Connect { p, fd, addr }),
        3 => (p(), fd(), prop_oneof![0i32..3, any::<i32>()])
            .prop_map(|(p, fd, backlog)| Op::Listen { p, fd, backlog }),
        6 => (p(), fd(), prop_oneof![3 => Just(0), 1 => Just(SOCK_CLOEXEC), 1 => any::<i32>()])
            .prop_map(|(p, fd, flags)| Op::Accept { p, fd, flags }),
        12 => (
            p(),
            fd(),
            prop_oneof![1 => Just(None), 6 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Some)],
            prop_oneof![2 => Just(vec![]), 3 => prop::collection::vec(fd(), 1..4)],
            prop_oneof![6 => Just(None), 1 => (any::<u8>(), prop_oneof![Just(0u32), Just(1000), any::<u32>()], prop_oneof![Just(0u32), Just(1000), any::<u32>()]).prop_map(Some)],
            prop_oneof![6 => Just(vec![]), 1 => prop::collection::vec(any::<u8>(), 0..40)],
            prop_oneof![3 => Just(None), 1 => addr().prop_map(Some)],
            send_flags(),
        )
            .prop_map(|(p, fd, data, rights, creds, raw, to, flags)| Op::Send {
                p, fd, data, rights, creds, raw, to, flags,
            }),
        10 => (p(), fd(), prop_oneof![0usize..8, 8usize..100, Just(70_000usize)], controllen(), recv_flags())
            .prop_map(|(p, fd, len, controllen, flags)| Op::Recv { p, fd, len, controllen, flags }),
        5 => (p(), fd()).prop_map(|(p, fd)| Op::Close { p, fd }),
        2 => (p(), fd()).prop_map(|(p, fd)| Op::Dup { p, fd }),
        2 => (p(), fd(), prop_oneof![0i32..3, any::<i32>()])
            .prop_map(|(p, fd, how)| Op::Shutdown { p, fd, how }),
        3 => (p(), fd(), prop_oneof![8 => Just(SOL_SOCKET), 1 => any::<i32>()], opt_name(), opt_value())
            .prop_map(|(p, fd, level, name, value)| Op::SetOpt { p, fd, level, name, value }),
        3 => (p(), fd(), prop_oneof![8 => Just(SOL_SOCKET), 1 => any::<i32>()], opt_name(),
              prop_oneof![0usize..20, Just(4096usize)])
            .prop_map(|(p, fd, level, name, optlen)| Op::GetOpt { p, fd, level, name, optlen }),
        2 => (p(), fd(), any::<bool>()).prop_map(|(p, fd, peer)| Op::GetName { p, fd, peer }),
        2 => (p(), fd(), any::<i16>()).prop_map(|(p, fd, events)| Op::Poll { p, fd, events }),
        2 => (p(), fd(), prop_oneof![Just(SIOCINQ), Just(SIOCOUTQ), Just(SIOCATMARK), any::<u64>()])
            .prop_map(|(p, fd, req)| Op::Ioctl { p, fd, req }),
        2 => (p(), prop_oneof![Just(0), Just(O_NONBLOCK), Just(O_CLOEXEC), any::<i32>()])
            .prop_map(|(p, flags)| Op::Pipe { p, flags }),
        2 => (p(), prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(p, content)| Op::Memfd { p, content }),
        2 => (p(), fd(), 0usize..32).prop_map(|(p, fd, len)| Op::Read { p, fd, len }),
        2 => (p(), fd(), prop::collection::vec(any::<u8>(), 0..32)).prop_map(|(p, fd, data)| Op::Write { p, fd, data }),
        1 => (p(), fd(), prop_oneof![Just(None), Just(Some(true)), Just(Some(false))])
            .prop_map(|(p, fd, nonblock)| Op::Fcntl { p, fd, nonblock }),
        1 => (p(), fd()).prop_map(|(p, fd)| Op::PidfdPid { p, fd }),
        1 => Just(Op::Gc),
        6 => (p(), conn_ty(), name(), 0i32..3)
            .prop_map(|(p, ty, addr, backlog)| Op::Serve { p, ty, addr, backlog }),
        10 => (p(), conn_ty(), name()).prop_map(|(p, ty, addr)| Op::Dial { p, ty, addr }),
        4 => p().prop_map(|p| Op::AcceptAll { p }),
        6 => (p(), 0usize..100, controllen(), recv_flags())
            .prop_map(|(p, len, controllen, flags)| Op::RecvAll { p, len, controllen, flags }),
    ]
}

const MAX_PROCS: usize = 8;

/// The fds a receive installed (SCM_RIGHTS and SCM_PIDFD).
fn passed_fds(control: &[u8]) -> Vec<Fd> {
    user_cmsgs(control)
        .filter(|c| c.level == SOL_SOCKET && (c.ty == SCM_RIGHTS || c.ty == SCM_PIDFD))
        .flat_map(|c| c.ints())
        .filter(|&fd| fd >= 0)
        .map(Fd::from_raw)
        .collect()
}

/// Check the invariants in the middle of a compound op.
fn inv(w: &World) {
    if let Err(e) = w.check_invariants() {
        panic!("invariant broken: {e}");
    }
}

struct Run {
    w: World,
    pids: Vec<Pid>,
    /// Per process (same index as `pids`), the fds calls returned to it.
    known: Vec<Vec<Fd>>,
    /// Per process, whether it has not exited.
    alive: Vec<bool>,
}

impl Run {
    fn new(w: World, pids: Vec<Pid>) -> Run {
        let known = vec![Vec::new(); pids.len()];
        let alive = vec![true; pids.len()];
        Run {
            w,
            pids,
            known,
            alive,
        }
    }

    /// Mostly a live process that holds fds, then any live one, rarely any.
    fn proc_index(&self, p: u8) -> usize {
        let n = self.pids.len();
        let pick = |set: Vec<usize>| (!set.is_empty()).then(|| set[usize::from(p) % set.len()]);
        let busy: Vec<usize> = (0..n)
            .filter(|&i| self.alive[i] && !self.known[i].is_empty())
            .collect();
        let alive: Vec<usize> = (0..n).filter(|&i| self.alive[i]).collect();
        match p % 8 {
            0..=4 => pick(busy).or_else(|| pick(alive.clone())),
            5 | 6 => pick(alive),
            _ => None,
        }
        .unwrap_or(usize::from(p) % n)
    }

    fn fd(&self, i: usize, fd: FdArg) -> Fd {
        match fd {
            FdArg::Num(n) => Fd::from_raw(n),
            FdArg::Known(k) => {
                let known = &self.known[i];
                if known.is_empty() {
                    Fd::from_raw(3)
                } else {
                    known[usize::from(k) % known.len()]
                }
            }
        }
    }

    fn learn(&mut self, i: usize, fds: &[Fd]) {
        let known = &mut self.known[i];
        for &fd in fds {
            if !known.contains(&fd) {
                known.push(fd);
            }
        }
    }

    /// Run one call and learn the fds it gave the caller.
    fn apply(&mut self, op: &Op) {
        let w = &self.w;
        // Every op but Spawn and Gc names a process.
        let (i, pid) = match op {
            Op::Spawn { .. } | Op::Gc => (0, self.pids[0]),
            Op::Fork { p }
            | Op::Exit { p }
            | Op::Socket { p, .. }
            | Op::Socketpair { p, .. }
            | Op::Bind { p, .. }
            | Op::Connect { p, .. }
            | Op::Listen { p, .. }
            | Op::Accept { p, .. }
            | Op::Send { p, .. }
            | Op::Recv { p, .. }
            | Op::Close { p, .. }
            | Op::Dup { p, .. }
            | Op::Shutdown { p, .. }
            | Op::SetOpt { p, .. }
            | Op::GetOpt { p, .. }
            | Op::GetName { p, .. }
            | Op::Poll { p, .. }
            | Op::Ioctl { p, .. }
            | Op::Pipe { p, .. }
            | Op::Memfd { p, .. }
            | Op::Read { p, .. }
            | Op::Write { p, .. }
            | Op::Fcntl { p, .. }
            | Op::PidfdPid { p, .. }
            | Op::Serve { p, .. }
            | Op::Dial { p, .. }
            | Op::AcceptAll { p }
            | Op::RecvAll { p, .. } => {
                let i = self.proc_index(*p);
                (i, self.pids[i])
            }
        };
        // Make the file non-blocking before a call that could wait on it.
        let nonblock = |fd: Fd| {
            let _ = w.set_nonblock(pid, fd, true);
        };
        let mut new_fds: Vec<Fd> = Vec::new();
        match op {
            Op::Spawn { uid, nofile } => {
                if self.pids.len() < MAX_PROCS {
                    let pid = w.spawn(&TaskSpec {
                        uid: *uid,
                        gid: *uid,
                        groups: vec![*uid],
                        nofile: *nofile,
                        ..TaskSpec::default()
                    });
                    self.pids.push(pid);
                    self.known.push(Vec::new());
                    self.alive.push(true);
                }
            }
            Op::Fork { .. } => {
                if self.pids.len() < MAX_PROCS {
                    if let Ok(child) = w.fork(pid) {
                        self.pids.push(child);
                        self.known.push(self.known[i].clone());
                        self.alive.push(true);
                    }
                }
            }
            Op::Exit { .. } => {
                if w.exit(pid).is_ok() {
                    self.alive[i] = false;
                }
            }
            Op::Socket { ty, .. } => new_fds.extend(w.socket(pid, *ty)),
            Op::Socketpair { ty, .. } => {
                new_fds.extend(w.socketpair(pid, *ty).into_iter().flatten())
            }
            Op::Bind { fd, addr, .. } => {
                let _ = w.bind(pid, self.fd(i, *fd), &addr.bytes());
            }
            Op::Connect { fd, addr, .. } => {
                let fd = self.fd(i, *fd);
                nonblock(fd);
                let _ = w.connect(pid, fd, &addr.bytes());
            }
            Op::Listen { fd, backlog, .. } => {
                let _ = w.listen(pid, self.fd(i, *fd), *backlog);
            }
            Op::Accept { fd, flags, .. } => {
                let fd = self.fd(i, *fd);
                nonblock(fd);
                new_fds.extend(w.accept4(pid, fd, *flags));
            }
            Op::Send {
                fd,
                data,
                rights,
                creds,
                raw,
                to,
                flags,
                ..
            } => {
                let mut b = CmsgBuilder::new();
                if !rights.is_empty() {
                    let fds: Vec<Fd> = rights.iter().map(|&r| self.fd(i, r)).collect();
                    b.rights(&fds);
                }
                if let Some((who, uid, gid)) = creds {
                    let cpid = if who % 4 == 0 {
                        pid
                    } else {
                        self.pids[self.proc_index(*who)]
                    };
                    b.creds(Ucred {
                        pid: cpid.as_raw(),
                        uid: *uid,
                        gid: *gid,
                    });
                }
                b.raw(raw);
                let control = b.finish();
                let name = to.as_ref().map(Addr::bytes);
                let msg = MsgHdr {
                    name: name.as_deref(),
                    iov: data.as_deref(),
                    control: &control,
                };
                let _ = w.sendmsg(pid, self.fd(i, *fd), &msg, *flags | MSG_DONTWAIT);
                let _ = w.take_sigpipe(pid);
            }
            Op::Recv {
                fd,
                len,
                controllen,
                flags,
                ..
            } => {
                let r = w.recvmsg(
                    pid,
                    self.fd(i, *fd),
                    *len,
                    *controllen,
                    *flags | MSG_DONTWAIT,
                );
                new_fds.extend(r.iter().flat_map(|r| passed_fds(&r.control)));
            }
            Op::RecvAll {
                len,
                controllen,
                flags,
                ..
            } => {
                for fd in self.known[i].clone() {
                    let r = w.recvmsg(pid, fd, *len, *controllen, *flags | MSG_DONTWAIT);
                    inv(w);
                    new_fds.extend(r.iter().flat_map(|r| passed_fds(&r.control)));
                }
            }
            Op::AcceptAll { .. } => {
                for fd in self.known[i].clone() {
                    nonblock(fd);
                    new_fds.extend(w.accept4(pid, fd, 0));
                    inv(w);
                }
            }
            Op::Close { fd, .. } => {
                let fd = self.fd(i, *fd);
                if w.close(pid, fd).is_ok() {
                    self.known[i].retain(|&k| k != fd);
                }
            }
            Op::Dup { fd, .. } => new_fds.extend(w.dup(pid, self.fd(i, *fd))),
            Op::Shutdown { fd, how, .. } => {
                let _ = w.shutdown(pid, self.fd(i, *fd), *how);
            }
            Op::SetOpt {
                fd,
                level,
                name,
                value,
                ..
            } => {
                let _ = w.setsockopt(pid, self.fd(i, *fd), *level, *name, value);
            }
            Op::GetOpt {
                fd,
                level,
                name,
                optlen,
                ..
            } => {
                let r = w.getsockopt(pid, self.fd(i, *fd), *level, *name, *optlen);
                if let (Ok(v), SO_PEERPIDFD) = (r, *name) {
                    if let Ok(b) = v.as_slice().try_into() {
                        new_fds.push(Fd::from_raw(i32::from_ne_bytes(b)));
                    }
                }
            }
            Op::GetName { fd, peer, .. } => {
                let fd = self.fd(i, *fd);
                let _ = if *peer {
                    w.getpeername(pid, fd)
                } else {
                    w.getsockname(pid, fd)
                };
            }
            Op::Poll { fd, events, .. } => {
                let _ = w.poll(pid, self.fd(i, *fd), *events);
            }
            Op::Ioctl { fd, req, .. } => {
                let _ = w.ioctl(pid, self.fd(i, *fd), *req);
            }
            Op::Pipe { flags, .. } => new_fds.extend(w.pipe2(pid, *flags).into_iter().flatten()),
            Op::Memfd { content, .. } => new_fds.extend(w.memfd(pid, content)),
            Op::Read { fd, len, .. } => {
                let fd = self.fd(i, *fd);
                nonblock(fd);
                let _ = w.read(pid, fd, *len);
            }
            Op::Write { fd, data, .. } => {
                let fd = self.fd(i, *fd);
                nonblock(fd);
                let _ = w.write(pid, fd, data);
                let _ = w.take_sigpipe(pid);
            }
            Op::Fcntl { fd, nonblock, .. } => {
                let fd = self.fd(i, *fd);
                let _ = match nonblock {
                    Some(on) => w.set_nonblock(pid, fd, *on),
                    None => w.get_fd_flags(pid, fd).map(|_| ()),
                };
            }
            Op::PidfdPid { fd, .. } => {
                let _ = w.pidfd_pid(pid, self.fd(i, *fd));
            }
            Op::Gc => w.gc(),
            Op::Serve {
                ty, addr, backlog, ..
            } => {
                if let Ok(fd) = w.socket(pid, *ty) {
                    new_fds.push(fd);
                    inv(w);
                    if w.bind(pid, fd, &addr.bytes()).is_ok() {
                        inv(w);
                        let _ = w.listen(pid, fd, *backlog);
                    }
                }
            }
            Op::Dial { ty, addr, .. } => {
                if let Ok(fd) = w.socket(pid, *ty | SOCK_NONBLOCK) {
                    new_fds.push(fd);
                    inv(w);
                    let _ = w.connect(pid, fd, &addr.bytes());
                }
            }
        }
        self.learn(i, &new_fds);
    }
}

fn initial() -> impl Strategy<Value = Vec<(u32, u64)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![0u32, 1000, 1001]),
            prop_oneof![3 => Just(1024u64), 1 => Just(12u64)],
        ),
        2..=4,
    )
}

/// Run `ops`, checking the invariants after each, then tear everything down.
fn check_sequence(procs: &[(u32, u64)], ops: &[Op]) -> Result<(), TestCaseError> {
    // The collector walks as a fixed kernel does: this test checks that
    // every garbage cycle is freed at the end, and Linux 6.18's own walk
    // leaks on some edge orders (the mixed_lowpoint case, covered by
    // tests/scenarios/gc_scm_rights_mixed_lowpoint.scn).
    let w = World::with_gc_walk(afunix::GcWalk::Fixed);
    let pids = procs
        .iter()
        .map(|&(uid, nofile)| {
            w.spawn(&TaskSpec {
                uid,
                gid: uid,
                groups: vec![uid],
                nofile,
                ..TaskSpec::default()
            })
        })
        .collect();
    let mut run = Run::new(w, pids);
    for (i, op) in ops.iter().enumerate() {
        run.apply(op);
        if let Err(e) = run.w.check_invariants() {
            return Err(TestCaseError::fail(format!(
                "invariant broken after call {i} {op:?}: {e}"
            )));
        }
    }
    for &pid in &run.pids {
        let _ = run.w.exit(pid);
        if let Err(e) = run.w.check_invariants() {
            return Err(TestCaseError::fail(format!(
                "invariant broken after exit of {pid}: {e}"
            )));
        }
    }
    run.w.gc();
    prop_assert_eq!(run.w.check_invariants(), Ok(()));
    prop_assert_eq!(run.w.open_files(), 0, "open files after every exit + gc");
    prop_assert_eq!(run.w.stat(), 0, "live sockets after every exit + gc");
    Ok(())
}

/// `cases` cases from a fixed seed, so that a run is reproducible and a
/// clean tree stays green; explore further with `PROPTEST_RNG_SEED=<u64>`
/// and `PROPTEST_CASES=<n>` (both override these).
fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = proptest::test_runner::RngSeed::Fixed(0xAF_0002);
    }
    c
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn random_call_sequences(
        procs in initial(),
        prelude in prop::collection::vec(create_op(), 2..8),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let ops: Vec<Op> = prelude.into_iter().chain(ops).collect();
        check_sequence(&procs, &ops)?;
    }
}
