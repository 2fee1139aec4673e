//! The generic socket syscalls (`net/socket.c`, `net/core/sock.c`): fd →
//! socket lookup, `msghdr` checks, `O_NONBLOCK` → `MSG_DONTWAIT`, the
//! policy hook, generic socket options; then the unix protocol.

use crate::abi::consts::*;
use crate::errno::{Errno, SysResult};
use crate::fs::file::{File, FileKind};
use crate::net::unix::stream::StreamProgress;
use crate::net::unix::{double_lock, PeerCred, Sock, SockState, SockType};
use crate::process::RawPid;
use crate::security::SocketRef;
use crate::world::{lock, KResult, Kernel, RecvMsg};
use std::sync::Arc;
use std::time::Duration;

/// The parts of a `struct msghdr` that `sendmsg` reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct MsgHdr<'a> {
    /// `msg_name`/`msg_namelen` (`None`: NULL, 0).
    pub name: Option<&'a [u8]>,
    /// The single iovec (`None`: `msg_iov` NULL, `msg_iovlen` 0).
    pub iov: Option<&'a [u8]>,
    /// `msg_control`/`msg_controllen` (empty: none).
    pub control: &'a [u8],
}

impl<'a> MsgHdr<'a> {
    /// The payload length.
    pub fn len(&self) -> usize {
        self.iov.map_or(0, <[u8]>::len)
    }
    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The payload.
    pub fn data(&self) -> &'a [u8] {
        self.iov.unwrap_or_default()
    }
}

/// A whole `struct msghdr` as `sendmsg` reads it: several iovecs, any of
/// which may be a NULL base with a length.
#[derive(Clone, Copy, Debug, Default)]
pub struct SendHdr<'a> {
    /// `msg_name`/`msg_namelen` (`None`: NULL).
    pub name: Option<&'a [u8]>,
    /// The iovecs, in order.
    pub iov: &'a [SendBuf],
    /// `msg_control`/`msg_controllen` (empty: none).
    pub control: &'a [u8],
}

/// What `recvmsg` is given: the iovecs, the `msg_namelen` passed in (the
/// name buffer itself is a 128-byte `sockaddr_storage`), the control
/// buffer's length (0: NULL) and the flags.
#[derive(Clone, Copy, Debug)]
pub struct RecvArgs<'a> {
    /// The iovecs, in order.
    pub iov: &'a [RecvBuf],
    /// `msg_namelen` as passed.
    pub namelen: u32,
    /// `msg_controllen` (0: `msg_control` NULL).
    pub controllen: usize,
    /// The flags.
    pub flags: i32,
}

/// `move_addr_to_kernel`: an address longer than a `sockaddr_storage` is
/// refused before it is copied.
fn move_addr_to_kernel(addr: &[u8]) -> SysResult<()> {
    if addr.len() > SOCKADDR_STORAGE_SIZE {
        crate::path::note(|| {
            format!(
                "addrlen {} > sizeof(sockaddr_storage) {SOCKADDR_STORAGE_SIZE}",
                addr.len()
            )
        });
        return Err(Errno::EINVAL.why(rule!(
            move_addr_to_kernel,
            "addrlen > sizeof(sockaddr_storage)"
        )));
    }
    Ok(())
}

impl Kernel {
    /// `sockfd_lookup`: run `op` on the socket behind an fd (`EBADF`,
    /// `ENOTSOCK`), holding a reference to its file meanwhile.
    pub(crate) fn with_sock<T>(
        &self,
        pid: RawPid,
        fd: i32,
        op: impl FnOnce(&Arc<Sock>, &Arc<File>) -> KResult<T>,
    ) -> KResult<T> {
        let f = self.fdget(pid, fd)?;
        let r = match &f.kind {
            FileKind::Socket(s) => op(s, &f),
            _ => Err(f.not_a_socket().into()),
        };
        self.fput(f);
        r
    }

    fn with_sock_nb<T>(
        &self,
        pid: RawPid,
        fd: i32,
        op: impl FnOnce(&Arc<Sock>, &Arc<File>) -> SysResult<T>,
    ) -> SysResult<T> {
        match self.with_sock(pid, fd, |s, f| op(s, f).map_err(Into::into)) {
            Ok(v) => Ok(v),
            Err(crate::world::Fail::Err(e)) => Err(e),
            Err(crate::world::Fail::Block(w)) => {
                crate::path::note(|| format!("it would sleep on {}", w.describe()));
                Err(Errno::EAGAIN.why(rule!(sock_error, "a call that may not sleep would block")))
            }
        }
    }

    /// `sock_alloc_file`: a socket's file with one reference.
    fn sock_alloc_file(&self, s: &Arc<Sock>, nonblock: bool) -> Arc<File> {
        let f = self.alloc_file(FileKind::Socket(Arc::clone(s)), nonblock);
        s.lock().file = Some(Arc::downgrade(&f));
        f
    }
}

/// The flags of a socket type beyond SOCK_NONBLOCK and SOCK_CLOEXEC.
fn note_type_flags(ty: i32) {
    crate::path::note(|| {
        let bad = ty & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC);
        format!("type {ty:#x}: unknown flags {bad:#x}")
    });
}

impl Kernel {
    // __sock_create → unix_create: the type range, the protocol, then the
    // type itself (SOCK_RAW is another name for SOCK_DGRAM).
    fn unix_create(&self, pid: RawPid, ty: i32, protocol: i32) -> SysResult<SockType> {
        let t = ty & SOCK_TYPE_MASK;
        if t >= SOCK_MAX {
            crate::path::note(|| format!("type {t}, SOCK_MAX {SOCK_MAX}"));
            return Err(Errno::EINVAL.why(rule!(__sock_create, "type >= SOCK_MAX")));
        }
        self.lsm(pid, |sec, task| sec.socket_create(task, t, protocol))?;
        if protocol != 0 && protocol != PF_UNIX {
            crate::path::note(|| format!("protocol {protocol}"));
            return Err(
                Errno::EPROTONOSUPPORT.why(rule!(unix_create, "protocol is neither 0 nor PF_UNIX"))
            );
        }
        SockType::from_raw(t)
    }

    // __sys_socket → unix_create
    pub(crate) fn sys_socket(&self, pid: RawPid, ty: i32, protocol: i32) -> SysResult<i32> {
        crate::path::enter(pid, "__sys_socket");
        if ty & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            note_type_flags(ty);
            return Err(Errno::EINVAL.why(rule!(__sys_socket, "unknown flags in type")));
        }
        let t = self.unix_create(pid, ty, protocol)?;
        let netns = self.proc(pid)?.netns;
        self.fd_reserve(pid, 1)?;
        if self.fault(crate::fault::FaultPoint::UnixCreate1, pid) {
            return Err(crate::fault::FaultPoint::UnixCreate1.error());
        }
        let s = self.unix_create1(t, netns);
        let f = self.sock_alloc_file(&s, ty & SOCK_NONBLOCK != 0);
        self.fd_install(pid, f, ty & SOCK_CLOEXEC != 0)
    }

    // __sys_socketpair → unix_socketpair
    pub(crate) fn sys_socketpair(
        &self,
        pid: RawPid,
        ty: i32,
        protocol: i32,
    ) -> SysResult<[i32; 2]> {
        crate::path::enter(pid, "__sys_socketpair");
        if ty & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            note_type_flags(ty);
            return Err(Errno::EINVAL.why(rule!(__sys_socketpair, "unknown flags in type")));
        }
        // __sys_socketpair takes both fds before it creates the sockets.
        self.fd_reserve(pid, 2)?;
        // __sys_socketpair: sock_create for each end (the second one's
        // security_socket_create too), then security_socket_socketpair.
        let t = self.unix_create(pid, ty, protocol)?;
        self.unix_create(pid, ty, protocol)?;
        let p = self.proc(pid)?;
        if self.fault(crate::fault::FaultPoint::UnixCreate1, pid) {
            return Err(crate::fault::FaultPoint::UnixCreate1.error());
        }
        let a = self.unix_create1(t, p.netns);
        let b = self.unix_create1(t, p.netns);
        self.lsm(pid, |sec, task| {
            sec.socket_socketpair(task, SocketRef(&a), SocketRef(&b))
        })?;
        let pc = Arc::new(PeerCred {
            pid,
            uid: p.cred.euid,
            gid: p.cred.egid,
            groups: Arc::clone(&p.cred.groups),
        });
        {
            let (mut ga, mut gb) = double_lock(&a, &b);
            ga.peer = Some(Arc::clone(&b));
            gb.peer = Some(Arc::clone(&a));
            // unix_socketpair: both ends are ESTABLISHED, whatever the type.
            ga.state = SockState::Established;
            gb.state = SockState::Established;
            ga.peercred = Some(Arc::clone(&pc));
            gb.peercred = Some(pc);
        }
        let nb = ty & SOCK_NONBLOCK != 0;
        let cloexec = ty & SOCK_CLOEXEC != 0;
        let fa = self.sock_alloc_file(&a, nb);
        let fb = self.sock_alloc_file(&b, nb);
        self.fd_install_pair(pid, fa, fb, cloexec)
    }

    pub(crate) fn sys_bind(&self, pid: RawPid, fd: i32, addr: &[u8]) -> SysResult<()> {
        crate::path::enter(pid, "__sys_bind");
        self.with_sock_nb(pid, fd, |s, _| {
            move_addr_to_kernel(addr)?;
            self.lsm(pid, |sec, task| sec.socket_bind(task, SocketRef(s), addr))?;
            self.unix_bind(pid, s, addr)
        })
    }

    /// `nonblock` keeps `O_NONBLOCK` as the call found it at entry.
    pub(crate) fn sys_connect(
        &self,
        pid: RawPid,
        fd: i32,
        addr: &[u8],
        nonblock: &mut Option<bool>,
    ) -> KResult<()> {
        crate::path::enter(pid, "__sys_connect");
        self.with_sock(pid, fd, |s, f| {
            move_addr_to_kernel(addr)?;
            // Once per call: a connect that slept comes back with `nonblock` set.
            if nonblock.is_none() {
                self.lsm(pid, |sec, task| {
                    sec.socket_connect(task, SocketRef(s), addr)
                })?;
            }
            match s.ty {
                SockType::Dgram => Ok(self.unix_dgram_connect(pid, s, addr)?),
                _ => self.unix_stream_connect(
                    pid,
                    s,
                    addr,
                    *nonblock.get_or_insert_with(|| f.is_nonblock()),
                ),
            }
        })
    }

    pub(crate) fn sys_listen(&self, pid: RawPid, fd: i32, backlog: i32) -> SysResult<()> {
        crate::path::enter(pid, "__sys_listen");
        self.with_sock_nb(pid, fd, |s, _| {
            // __sys_listen clamps to somaxconn (as unsigned).
            let backlog = if (backlog as u32) > SOMAXCONN as u32 {
                SOMAXCONN
            } else {
                backlog
            };
            self.lsm(pid, |sec, task| {
                sec.socket_listen(task, SocketRef(s), backlog)
            })?;
            self.unix_listen(pid, s, backlog)
        })
    }

    /// `nonblock` keeps `O_NONBLOCK` as the call found it at entry.
    pub(crate) fn sys_accept4(
        &self,
        pid: RawPid,
        fd: i32,
        flags: i32,
        nonblock: &mut Option<bool>,
    ) -> KResult<i32> {
        crate::path::enter(pid, "__sys_accept4");
        if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            crate::path::note(|| {
                let bad = flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC);
                format!(
                    "flags {flags:#x}: bits {bad:#x} are neither SOCK_NONBLOCK nor SOCK_CLOEXEC"
                )
            });
            return Err(Errno::EINVAL
                .why(rule!(__sys_accept4, "unknown flags"))
                .into());
        }
        // __sys_accept4_file: the new fd is reserved before the listening
        // file is known to be a socket (EBADF, then EMFILE, then ENOTSOCK);
        // fdget refuses an O_PATH fd.
        let f = self.fdget(pid, fd)?;
        if matches!(f.kind, FileKind::Path) {
            let e = f.refused(Errno::EBADF.why(rule!(__sys_accept4, "fdget refuses an O_PATH fd")));
            self.fput(f);
            return Err(e.into());
        }
        let r = (|| {
            self.fd_reserve(pid, 1)?;
            let s = f.sock().ok_or_else(|| {
                f.refused(Errno::ENOTSOCK.why(rule!(do_accept, "fd is not a socket")))
            })?;
            if nonblock.is_none() {
                self.lsm(pid, |sec, task| sec.socket_accept(task, SocketRef(s)))?;
            }
            let new = self.unix_accept(s, *nonblock.get_or_insert_with(|| f.is_nonblock()))?;
            let nf = self.sock_alloc_file(&new, flags & SOCK_NONBLOCK != 0);
            Ok(self.fd_install(pid, nf, flags & SOCK_CLOEXEC != 0)?)
        })();
        self.fput(f);
        r
    }

    /// `sock_sendmsg` (also reached from `write`): `O_NONBLOCK` becomes
    /// `MSG_DONTWAIT`, the policy hook, then the protocol.
    pub(crate) fn sock_sendmsg(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        f: &Arc<File>,
        msg: &MsgHdr<'_>,
        mut flags: i32,
        pr: &mut StreamProgress,
    ) -> KResult<usize> {
        crate::path::step("sock_sendmsg");
        // Once per call: a call that slept comes back with `nonblock` set.
        let first = pr.nonblock.is_none();
        if *pr.nonblock.get_or_insert_with(|| f.is_nonblock()) {
            flags |= MSG_DONTWAIT;
        }
        let mut msg = *msg;
        if let Some(name) = msg.name {
            if name.len() > SOCKADDR_STORAGE_SIZE {
                msg.name = name.get(..SOCKADDR_STORAGE_SIZE);
            }
            if name.is_empty() {
                msg.name = None;
            }
        }
        if first {
            let len = msg.len();
            self.lsm(pid, |sec, task| {
                sec.socket_sendmsg(task, SocketRef(s), len, flags)
            })?;
        }
        match s.ty {
            SockType::Dgram => self.unix_dgram_sendmsg(pid, s, &msg, flags),
            SockType::Seqpacket => self.unix_seqpacket_sendmsg(pid, s, &msg, flags),
            SockType::Stream => self.unix_stream_sendmsg(pid, s, &msg, flags, pr),
        }
    }

    /// A stream read that copied something and then timed out (or was
    /// interrupted) returns what it has.
    pub(crate) fn recv_finish(
        &self,
        pid: RawPid,
        fd: i32,
        controllen: usize,
        flags: i32,
        pr: &mut StreamProgress,
    ) -> SysResult<RecvMsg> {
        self.with_sock_nb(pid, fd, |s, _| {
            Ok(self.stream_recv_finish(pid, s, controllen, flags, pr))
        })
    }

    /// `____sys_recvmsg` + `sock_recvmsg` (also reached from `read`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sock_recvmsg(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        f: &Arc<File>,
        len: usize,
        controllen: usize,
        mut flags: i32,
        pr: &mut StreamProgress,
    ) -> KResult<RecvMsg> {
        crate::path::step("sock_recvmsg");
        let first = pr.nonblock.is_none();
        if *pr.nonblock.get_or_insert_with(|| f.is_nonblock()) {
            flags |= MSG_DONTWAIT;
        }
        if first {
            self.lsm(pid, |sec, task| {
                sec.socket_recvmsg(task, SocketRef(s), len, flags)
            })?;
        }
        let mut r = match s.ty {
            SockType::Stream => self.unix_stream_recvmsg(pid, s, len, controllen, flags, pr)?,
            SockType::Dgram => self.unix_dgram_recvmsg(pid, s, len, controllen, flags)?,
            SockType::Seqpacket => {
                if s.lock().state != SockState::Established {
                    crate::net::unix::note_sock_of(s);
                    return Err(Errno::ENOTCONN
                        .why(rule!(unix_seqpacket_recvmsg, "not connected"))
                        .into());
                }
                self.unix_dgram_recvmsg(pid, s, len, controllen, flags)?
            }
        };
        // msg_flags starts as the caller's MSG_CMSG_CLOEXEC bit.
        r.flags |= flags & MSG_CMSG_CLOEXEC;
        Ok(r)
    }

    // __sys_shutdown → unix_shutdown
    pub(crate) fn sys_shutdown(&self, pid: RawPid, fd: i32, how: i32) -> SysResult<()> {
        self.with_sock_nb(pid, fd, |s, _| {
            crate::path::step("unix_shutdown");
            self.unix_shutdown(s, how)
        })
    }

    // __sys_setsockopt → do_sock_setsockopt (net/sockopt.rs)
    pub(crate) fn sys_setsockopt(
        &self,
        pid: RawPid,
        fd: i32,
        level: i32,
        name: i32,
        v: &[u8],
    ) -> SysResult<()> {
        crate::path::enter(pid, "__sys_setsockopt");
        self.with_sock_nb(pid, fd, |s, _| self.sock_setsockopt(pid, s, level, name, v))
    }

    // unix_getname
    pub(crate) fn sys_getname(&self, pid: RawPid, fd: i32, peer: bool) -> SysResult<Vec<u8>> {
        let entry = if peer {
            "__sys_getpeername"
        } else {
            "__sys_getsockname"
        };
        crate::path::enter(pid, entry);
        self.with_sock_nb(pid, fd, |s, _| {
            crate::path::step("unix_getname");
            let target = if peer {
                let g = s.lock();
                let Some(p) = g.peer.clone() else {
                    crate::net::unix::note_sock(s, &g);
                    return Err(Errno::ENOTCONN.why(rule!(unix_getname, "no peer")));
                };
                p
            } else {
                Arc::clone(s)
            };
            let addr = target
                .name()
                .cloned()
                .unwrap_or(crate::abi::sockaddr::UnixAddr::Unnamed);
            Ok(addr.to_kernel_bytes())
        })
    }

    // do_poll: one fd, timeout 0.
    pub(crate) fn sys_poll(&self, pid: RawPid, fd: i32, events: i16) -> i16 {
        // do_pollfd: a negative fd switches the entry off.
        if fd < 0 {
            return 0;
        }
        let Ok(f) = self.fdget(pid, fd) else {
            return POLLNVAL;
        };
        let mask = match &f.kind {
            FileKind::Null | FileKind::Memfd(_) | FileKind::Regular(_) | FileKind::Dir => {
                POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM
            }
            // do_pollfd: fdget refuses an O_PATH file.
            FileKind::Path => POLLNVAL,
            // Its readiness is the embedder's to know.
            FileKind::External(..) => 0,
            // pidfd_poll: readable once the process is gone; reaped at once here.
            FileKind::Pidfd(p) => {
                if self.pid_alive(*p) {
                    0
                } else {
                    POLLIN | POLLRDNORM | POLLHUP
                }
            }
            FileKind::PipeRead(p) => {
                let g = lock(&p.inner);
                let mut m = 0;
                if !g.is_empty() {
                    m |= POLLIN | POLLRDNORM;
                }
                if g.writers == 0 {
                    m |= POLLHUP;
                }
                m
            }
            FileKind::PipeWrite(p) => {
                let g = lock(&p.inner);
                let mut m = 0;
                if !g.is_full() {
                    m |= POLLOUT | POLLWRNORM;
                }
                if g.readers == 0 {
                    m |= POLLERR;
                }
                m
            }
            FileKind::Socket(s) => match s.ty {
                SockType::Stream => {
                    crate::path::step("unix_poll");
                    self.unix_poll(s, events)
                }
                _ => {
                    crate::path::step("unix_dgram_poll");
                    self.unix_dgram_poll(s, events)
                }
            },
        };
        self.fput(f);
        mask & (events | POLLERR | POLLHUP | POLLNVAL)
    }

    // sock_ioctl → unix_ioctl (and vfs FIONREAD for files)
    pub(crate) fn sys_ioctl(&self, pid: RawPid, fd: i32, req: u64) -> SysResult<i32> {
        crate::path::enter(pid, "ksys_ioctl");
        let f = self.fdget(pid, fd)?;
        let r = match &f.kind {
            FileKind::Socket(s) => {
                crate::path::step("sock_ioctl");
                crate::path::step("unix_ioctl");
                self.unix_ioctl(s, req)
            }
            FileKind::Memfd(m) if req == SIOCINQ => {
                let m = lock(m);
                Ok(m.data.len().saturating_sub(m.pos).min(i32::MAX as usize) as i32)
            }
            FileKind::PipeRead(p) | FileKind::PipeWrite(p) if req == SIOCINQ => {
                Ok(lock(&p.inner).len() as i32)
            }
            // ioctl(2) uses fdget: an O_PATH fd is EBADF.
            FileKind::Path => {
                Err(f.refused(Errno::EBADF.why(rule!(ksys_ioctl, "fdget refuses an O_PATH fd"))))
            }
            FileKind::Regular(r) if req == SIOCINQ => {
                let len = lock(&r.data).len();
                let pos = *lock(&r.pos);
                Ok(len.saturating_sub(pos).min(i32::MAX as usize) as i32)
            }
            _ => {
                crate::path::note(|| format!("request {req:#x}"));
                Err(f.refused(Errno::ENOTTY.why(rule!(vfs_ioctl, "the file has no such ioctl"))))
            }
        };
        self.fput(f);
        r
    }

    // unix_ioctl
    fn unix_ioctl(&self, s: &Arc<Sock>, req: u64) -> SysResult<i32> {
        match req {
            SIOCOUTQ => Ok(s.wmem().min(i32::MAX as usize) as i32),
            SIOCINQ => {
                let g = s.lock();
                if g.state == SockState::Listen {
                    crate::net::unix::note_sock(s, &g);
                    return Err(Errno::EINVAL.why(rule!(unix_inq_len, "listening socket")));
                }
                let n: usize = match s.ty {
                    SockType::Stream => s.stream_inq(&g),
                    SockType::Seqpacket => g.recvq.iter().map(|b| b.data.len()).sum(),
                    SockType::Dgram => g.recvq.front().map_or(0, |b| b.data.len()),
                };
                Ok(n.min(i32::MAX as usize) as i32)
            }
            SIOCATMARK if s.ty != SockType::Stream => {
                crate::path::note(|| format!("#{} is {:?}", s.id, s.ty));
                Err(Errno::EOPNOTSUPP.why(rule!(
                    unix_ioctl,
                    "SIOCATMARK on a socket that has no OOB mark"
                )))
            }
            SIOCATMARK => Ok(self.unix_atmark(s) as i32),
            _ => {
                crate::path::note(|| {
                    format!("request {req:#x}: not SIOCINQ, SIOCOUTQ or SIOCATMARK")
                });
                Err(Errno::ENOTTY.why(rule!(unix_ioctl, "unknown request (ENOIOCTLCMD)")))
            }
        }
    }

    /// How long a call on `fd` may sleep: `SO_RCVTIMEO`/`SO_SNDTIMEO` of a
    /// socket (`None`: as long as needed). Whether it may sleep at all
    /// (`MSG_DONTWAIT`, `O_NONBLOCK`) is the operation's own decision.
    pub(crate) fn timeout_of(&self, pid: RawPid, fd: i32, rcv: bool) -> Option<Duration> {
        let f = self.fdget(pid, fd).ok()?;
        let t = match &f.kind {
            FileKind::Socket(s) if rcv => s.rcvtimeo.get(),
            FileKind::Socket(s) => s.sndtimeo.get(),
            _ => None,
        };
        self.fput(f);
        t
    }
}

/// A user buffer that the kernel reads: bytes, or a NULL pointer with a
/// length (`null:N`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SendBuf {
    /// A buffer holding these bytes.
    Bytes(Vec<u8>),
    /// A NULL base with this length.
    Null(usize),
}

impl SendBuf {
    /// The length passed with the buffer.
    pub fn len(&self) -> usize {
        match self {
            SendBuf::Bytes(b) => b.len(),
            SendBuf::Null(n) => *n,
        }
    }
    /// Whether the length is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A user buffer that the kernel writes: N writable bytes, or a NULL
/// pointer with a length (`null:N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RecvBuf {
    /// A writable buffer of this many bytes.
    Len(usize),
    /// A NULL base with this length.
    Null(usize),
}

impl RecvBuf {
    /// The length passed with the buffer.
    pub fn len(&self) -> usize {
        match self {
            RecvBuf::Len(n) | RecvBuf::Null(n) => *n,
        }
    }
    /// Whether the length is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether the pointer is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, RecvBuf::Null(_))
    }
}
