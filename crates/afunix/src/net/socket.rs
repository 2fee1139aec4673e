//! The generic socket syscalls (`net/socket.c`, `net/core/sock.c`): fd →
//! socket lookup, `msghdr` checks, `O_NONBLOCK` → `MSG_DONTWAIT`, the
//! policy hook, generic socket options; then the unix protocol.

use crate::abi::consts::*;
use crate::abi::sockaddr::UnixAddr;
use crate::abi::timeval::{sock_get_timeout, sock_set_timeout};
use crate::errno::{Errno, SysResult};
use crate::file::{FileId, FileKind};
use crate::net::unix::{PeerCred, SockId, SockState, SockType, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF};
use crate::process::{Capability, Pid};
use crate::world::{Kernel, RecvMsg};
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

fn int_opt(v: &[u8]) -> SysResult<i32> {
    let b: [u8; 4] = v
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(Errno::EINVAL.why("optlen < sizeof(int)"))?;
    Ok(i32::from_ne_bytes(b))
}

impl Kernel {
    /// `sockfd_lookup`: the socket behind an fd (`EBADF`, `ENOTSOCK`).
    pub(crate) fn sockfd_lookup(&self, pid: Pid, fd: i32) -> SysResult<(SockId, FileId)> {
        let f = self.fd_file(pid, fd)?;
        match self.file(f)?.kind {
            FileKind::Socket(s) => Ok((s, f)),
            _ => Err(Errno::ENOTSOCK.why("sockfd_lookup: fd is not a socket")),
        }
    }

    /// A socket's file with one reference for `sock_alloc_file`.
    fn sock_alloc_file(&mut self, s: SockId, nonblock: bool) -> FileId {
        let f = self.alloc_file(FileKind::Socket(s), nonblock);
        self.sock_mut(s).file = Some(f);
        f
    }

    // __sys_socket → unix_create
    pub(crate) fn sys_socket(&mut self, pid: Pid, ty: i32) -> SysResult<i32> {
        if ty & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            return Err(Errno::EINVAL.why("__sys_socket: unknown flags in type"));
        }
        let t = SockType::from_raw(ty & SOCK_TYPE_MASK)?;
        self.fd_reserve(pid)?;
        let s = self.unix_create1(t);
        let f = self.sock_alloc_file(s, ty & SOCK_NONBLOCK != 0);
        self.fd_install(pid, f, ty & SOCK_CLOEXEC != 0)
    }

    // __sys_socketpair → unix_socketpair
    pub(crate) fn sys_socketpair(&mut self, pid: Pid, ty: i32) -> SysResult<[i32; 2]> {
        if ty & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            return Err(Errno::EINVAL.why("__sys_socketpair: unknown flags in type"));
        }
        let t = SockType::from_raw(ty & SOCK_TYPE_MASK)?;
        // Both fds must be available before anything is created.
        {
            let p = self.proc(pid)?;
            let mut fds = p.fds.clone();
            let a = fds.lowest_free(p.nofile)?;
            fds.install(
                a,
                crate::fdtable::FdEntry {
                    file: FileId(usize::MAX),
                    cloexec: false,
                },
            );
            fds.lowest_free(p.nofile)?;
        }
        let a = self.unix_create1(t);
        let b = self.unix_create1(t);
        let cred = self.proc(pid)?.cred.clone();
        let pc = PeerCred {
            pid,
            uid: cred.euid,
            gid: cred.egid,
            groups: cred.groups.clone(),
        };
        for (x, y) in [(a, b), (b, a)] {
            self.sock_hold(y);
            let sk = self.sock_mut(x);
            sk.peer = Some(y);
            sk.peercred = Some(pc.clone());
            // unix_socketpair: both ends are ESTABLISHED, whatever the type.
            sk.state = SockState::Established;
        }
        let nb = ty & SOCK_NONBLOCK != 0;
        let cloexec = ty & SOCK_CLOEXEC != 0;
        let fa = self.sock_alloc_file(a, nb);
        let fb = self.sock_alloc_file(b, nb);
        let x = self.fd_install(pid, fa, cloexec)?;
        let y = self.fd_install(pid, fb, cloexec)?;
        Ok([x, y])
    }

    pub(crate) fn sys_bind(&mut self, pid: Pid, fd: i32, addr: &[u8]) -> SysResult<()> {
        let (s, _) = self.sockfd_lookup(pid, fd)?;
        if addr.len() > SOCKADDR_STORAGE_SIZE {
            return Err(
                Errno::EINVAL.why("move_addr_to_kernel: addrlen > sizeof(sockaddr_storage)")
            );
        }
        self.unix_bind(pid, s, addr)
    }

    pub(crate) fn sys_connect(&mut self, pid: Pid, fd: i32, addr: &[u8]) -> SysResult<()> {
        let (s, f) = self.sockfd_lookup(pid, fd)?;
        if addr.len() > SOCKADDR_STORAGE_SIZE {
            return Err(
                Errno::EINVAL.why("move_addr_to_kernel: addrlen > sizeof(sockaddr_storage)")
            );
        }
        let nonblock = self.file(f)?.nonblock;
        match self.sock(s).ty {
            SockType::Dgram => self.unix_dgram_connect(pid, s, addr),
            _ => self.unix_stream_connect(pid, s, addr, nonblock),
        }
    }

    pub(crate) fn sys_listen(&mut self, pid: Pid, fd: i32, backlog: i32) -> SysResult<()> {
        let (s, _) = self.sockfd_lookup(pid, fd)?;
        // __sys_listen clamps to somaxconn (as unsigned).
        let backlog = if (backlog as u32) > SOMAXCONN as u32 {
            SOMAXCONN
        } else {
            backlog
        };
        self.unix_listen(pid, s, backlog)
    }

    pub(crate) fn sys_accept4(&mut self, pid: Pid, fd: i32, flags: i32) -> SysResult<i32> {
        if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            return Err(Errno::EINVAL.why("__sys_accept4: unknown flags"));
        }
        let (s, f) = self.sockfd_lookup(pid, fd)?;
        self.fd_reserve(pid)?;
        let nonblock = self.file(f)?.nonblock;
        let new = self.unix_accept(s, nonblock)?;
        let nf = self.sock_alloc_file(new, flags & SOCK_NONBLOCK != 0);
        self.fd_install(pid, nf, flags & SOCK_CLOEXEC != 0)
    }

    // __sys_sendmsg → ____sys_sendmsg → sock_sendmsg
    pub(crate) fn sys_sendmsg(
        &mut self,
        pid: Pid,
        fd: i32,
        msg: &MsgHdr<'_>,
        flags: i32,
    ) -> SysResult<usize> {
        let (s, f) = self.sockfd_lookup(pid, fd)?;
        if msg.control.len() > i32::MAX as usize {
            return Err(Errno::ENOBUFS.why("____sys_sendmsg: msg_controllen > INT_MAX"));
        }
        self.sock_sendmsg(pid, s, f, msg, flags)
    }

    /// `sock_sendmsg` (also reached from `write`): `O_NONBLOCK` becomes
    /// `MSG_DONTWAIT`, the policy hook, then the protocol.
    pub(crate) fn sock_sendmsg(
        &mut self,
        pid: Pid,
        s: SockId,
        f: FileId,
        msg: &MsgHdr<'_>,
        mut flags: i32,
    ) -> SysResult<usize> {
        if self.file(f)?.nonblock {
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
        self.security.socket_sendmsg(pid, msg.len())?;
        match self.sock(s).ty {
            SockType::Dgram => self.unix_dgram_sendmsg(pid, s, &msg, flags),
            SockType::Seqpacket => self.unix_seqpacket_sendmsg(pid, s, &msg, flags),
            SockType::Stream => self.unix_stream_sendmsg(pid, s, &msg, flags),
        }
    }

    pub(crate) fn sys_recvmsg(
        &mut self,
        pid: Pid,
        fd: i32,
        len: usize,
        controllen: usize,
        flags: i32,
    ) -> SysResult<RecvMsg> {
        let (s, f) = self.sockfd_lookup(pid, fd)?;
        self.sock_recvmsg(pid, s, f, len, controllen, flags)
    }

    /// `____sys_recvmsg` + `sock_recvmsg` (also reached from `read`).
    pub(crate) fn sock_recvmsg(
        &mut self,
        pid: Pid,
        s: SockId,
        f: FileId,
        len: usize,
        controllen: usize,
        mut flags: i32,
    ) -> SysResult<RecvMsg> {
        if self.file(f)?.nonblock {
            flags |= MSG_DONTWAIT;
        }
        self.security.socket_recvmsg(pid, len)?;
        let mut r = match self.sock(s).ty {
            SockType::Stream => self.unix_stream_recvmsg(pid, s, len, controllen, flags)?,
            SockType::Dgram => self.unix_dgram_recvmsg(pid, s, len, controllen, flags)?,
            SockType::Seqpacket => {
                if self.sock(s).state != SockState::Established {
                    return Err(Errno::ENOTCONN.why("unix_seqpacket_recvmsg: not connected"));
                }
                self.unix_dgram_recvmsg(pid, s, len, controllen, flags)?
            }
        };
        // msg_flags starts as the caller's MSG_CMSG_CLOEXEC bit.
        r.flags |= flags & MSG_CMSG_CLOEXEC;
        Ok(r)
    }

    // __sys_shutdown → unix_shutdown
    pub(crate) fn sys_shutdown(&mut self, pid: Pid, fd: i32, how: i32) -> SysResult<()> {
        let (s, _) = self.sockfd_lookup(pid, fd)?;
        self.unix_shutdown(s, how)
    }

    // __sys_setsockopt → sock_setsockopt / unix_setsockopt
    pub(crate) fn sys_setsockopt(
        &mut self,
        pid: Pid,
        fd: i32,
        level: i32,
        name: i32,
        v: &[u8],
    ) -> SysResult<()> {
        let (s, _) = self.sockfd_lookup(pid, fd)?;
        if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP.why("unix sockets have no options outside SOL_SOCKET"));
        }
        let ty = self.sock(s).ty;
        if name == SO_INQ {
            // unix_setsockopt (SOCK_CUSTOM_SOCKOPT: stream only)
            if ty != SockType::Stream {
                return Err(Errno::ENOPROTOOPT.why("SO_INQ is for stream sockets only"));
            }
            if v.len() != 4 {
                return Err(Errno::EINVAL.why("unix_setsockopt: SO_INQ optlen != sizeof(int)"));
            }
            let val = int_opt(v)?;
            if !(0..=1).contains(&val) {
                return Err(Errno::EINVAL.why("unix_setsockopt: SO_INQ value not 0 or 1"));
            }
            self.sock_mut(s).recv_inq = val == 1;
            return Ok(());
        }
        match name {
            SO_ATTACH_FILTER => {
                let prog = crate::abi::filter::Program::parse(v)?;
                self.sock_mut(s).filter = Some(prog);
                return Ok(());
            }
            SO_DETACH_FILTER => {
                return match self.sock_mut(s).filter.take() {
                    Some(_) => Ok(()),
                    None => Err(Errno::ENOENT.why("sk_detach_filter: no filter attached")),
                };
            }
            SO_RCVTIMEO | SO_SNDTIMEO => {
                let t = sock_set_timeout(v)?;
                let sk = self.sock_mut(s);
                if name == SO_RCVTIMEO {
                    sk.rcvtimeo = t;
                } else {
                    sk.sndtimeo = t;
                }
                return Ok(());
            }
            _ => {}
        }
        let val = int_opt(v)?;
        let cred = self.proc(pid)?.cred.clone();
        let sk = self.sock_mut(s);
        match name {
            SO_PASSCRED => sk.passcred = val != 0,
            SO_PASSPIDFD => sk.passpidfd = val != 0,
            SO_PASSRIGHTS => sk.passrights = val != 0,
            SO_OOBINLINE => sk.oobinline = val != 0,
            SO_PEEK_OFF => sk.peek_off = val,
            SO_RCVLOWAT => sk.rcvlowat = if val < 0 { i32::MAX } else { val.max(1) },
            SO_SNDBUF | 32 => {
                if name == 32 && !cred.capable(Capability::NetAdmin) {
                    return Err(Errno::EPERM.why("SO_SNDBUFFORCE needs CAP_NET_ADMIN"));
                }
                let v = if name == 32 {
                    (val.max(0) as u32).min(i32::MAX as u32 / 2)
                } else {
                    (val as u32).min(SK_BUF_MAX as u32)
                };
                sk.sndbuf = (v as i32).saturating_mul(2).max(SOCK_MIN_SNDBUF);
            }
            SO_RCVBUF | 33 => {
                if name == 33 && !cred.capable(Capability::NetAdmin) {
                    return Err(Errno::EPERM.why("SO_RCVBUFFORCE needs CAP_NET_ADMIN"));
                }
                let v = if name == 33 {
                    val.max(0) as u32
                } else {
                    (val as u32).min(SK_BUF_MAX as u32)
                };
                let v = v.min(i32::MAX as u32 / 2) as i32;
                sk.rcvbuf = v.saturating_mul(2).max(SOCK_MIN_RCVBUF);
            }
            SO_TYPE | SO_ERROR | SO_PEERCRED | SO_ACCEPTCONN | SO_PEERGROUPS | SO_PEERPIDFD => {
                return Err(Errno::ENOPROTOOPT.why("read-only socket option"));
            }
            _ => return Err(Errno::ENOPROTOOPT.why("socket option not implemented by the model")),
        }
        Ok(())
    }

    // sk_getsockopt (and unix_getsockopt for SO_INQ)
    pub(crate) fn sys_getsockopt(
        &mut self,
        pid: Pid,
        fd: i32,
        level: i32,
        name: i32,
        optlen: usize,
    ) -> SysResult<Vec<u8>> {
        let (s, _) = self.sockfd_lookup(pid, fd)?;
        if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP.why("unix sockets have no options outside SOL_SOCKET"));
        }
        let int = |v: i32| -> Vec<u8> {
            let b = v.to_ne_bytes();
            b.get(..optlen.min(4)).unwrap_or_default().to_vec()
        };
        let sk = self.sock(s);
        let out = match name {
            SO_TYPE => int(sk.ty.raw()),
            SO_ERROR => {
                let e = self.sock_mut(s).take_err().map_or(0, Errno::raw);
                int(e)
            }
            SO_SNDBUF => int(sk.sndbuf),
            SO_RCVBUF => int(sk.rcvbuf),
            SO_PASSCRED => int(sk.passcred as i32),
            SO_PASSPIDFD => int(sk.passpidfd as i32),
            SO_PASSRIGHTS => int(sk.passrights as i32),
            SO_OOBINLINE => int(sk.oobinline as i32),
            SO_PEEK_OFF => int(sk.peek_off),
            SO_RCVLOWAT => int(sk.rcvlowat),
            SO_ACCEPTCONN => int((sk.state == SockState::Listen) as i32),
            SO_INQ => {
                if sk.ty != SockType::Stream {
                    return Err(Errno::ENOPROTOOPT.why("SO_INQ is for stream sockets only"));
                }
                int(sk.recv_inq as i32)
            }
            SO_RCVTIMEO | SO_SNDTIMEO => {
                let t = if name == SO_RCVTIMEO {
                    sk.rcvtimeo
                } else {
                    sk.sndtimeo
                };
                let b = sock_get_timeout(t).to_bytes();
                b.get(..optlen.min(b.len())).unwrap_or_default().to_vec()
            }
            SO_PEERCRED => {
                let u = match &sk.peercred {
                    Some(p) => crate::abi::ucred::Ucred {
                        pid: p.pid,
                        uid: p.uid,
                        gid: p.gid,
                    },
                    None => crate::abi::ucred::Ucred {
                        pid: 0,
                        uid: u32::MAX,
                        gid: u32::MAX,
                    },
                };
                let b = u.to_bytes();
                b.get(..optlen.min(b.len())).unwrap_or_default().to_vec()
            }
            SO_PEERGROUPS => {
                let Some(p) = &sk.peercred else {
                    return Err(Errno::ENODATA.why("SO_PEERGROUPS: no peer credentials"));
                };
                let bytes: Vec<u8> = p.groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
                if optlen < bytes.len() {
                    return Err(Errno::ERANGE.why("SO_PEERGROUPS: buffer too small for the groups"));
                }
                bytes
            }
            SO_PEERPIDFD => {
                if optlen < 4 {
                    return Err(Errno::EINVAL.why("SO_PEERPIDFD: optlen < sizeof(int)"));
                }
                let Some(p) = sk.peercred.as_ref().map(|p| p.pid) else {
                    return Err(Errno::ENODATA.why("SO_PEERPIDFD: no peer pid"));
                };
                if !self.procs.contains_key(&p) && !self.exited.contains(&p) {
                    return Err(Errno::ESRCH.why("SO_PEERPIDFD: no such process"));
                }
                let fd = self.pidfd_install(pid, p)?;
                fd.to_ne_bytes().to_vec()
            }
            SO_GET_FILTER => {
                // sk_get_filter: the length is counted in instructions.
                match &sk.filter {
                    None => Vec::new(),
                    Some(prog) => {
                        let n = prog.len();
                        if optlen != 0 && optlen < n {
                            return Err(
                                Errno::EINVAL.why("sk_get_filter: buffer shorter than the program")
                            );
                        }
                        let mut b: Vec<u8> = prog
                            .instructions()
                            .iter()
                            .flat_map(|i| {
                                let mut v = i.code.to_ne_bytes().to_vec();
                                v.push(i.jt);
                                v.push(i.jf);
                                v.extend(i.k.to_ne_bytes());
                                v
                            })
                            .collect();
                        if optlen == 0 {
                            b.clear();
                        }
                        b.resize(n, 0);
                        b
                    }
                }
            }
            _ => return Err(Errno::ENOPROTOOPT.why("socket option not implemented by the model")),
        };
        Ok(out)
    }

    // unix_getname
    pub(crate) fn sys_getname(&mut self, pid: Pid, fd: i32, peer: bool) -> SysResult<Vec<u8>> {
        let (s, _) = self.sockfd_lookup(pid, fd)?;
        let target = if peer {
            self.sock(s)
                .peer
                .ok_or(Errno::ENOTCONN.why("unix_getname: no peer"))?
        } else {
            s
        };
        let addr = self.sock(target).addr.clone().unwrap_or(UnixAddr::Unnamed);
        Ok(addr.to_kernel_bytes())
    }

    // do_poll: one fd, timeout 0.
    pub(crate) fn sys_poll(&mut self, pid: Pid, fd: i32, events: i16) -> i16 {
        let Ok(f) = self.fd_file(pid, fd) else {
            return POLLNVAL;
        };
        let Ok(file) = self.file(f) else {
            return POLLNVAL;
        };
        let mask = match &file.kind {
            FileKind::Null | FileKind::Memfd { .. } => POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM,
            FileKind::Pidfd(p) => {
                if self.procs.contains_key(p) {
                    0
                } else {
                    POLLIN | POLLRDNORM
                }
            }
            FileKind::PipeRead(p) => match self.pipes.get(p.0) {
                Some(pipe) => {
                    let mut m = 0;
                    if !pipe.buf.is_empty() {
                        m |= POLLIN | POLLRDNORM;
                    }
                    if pipe.writers == 0 {
                        m |= POLLHUP;
                    }
                    m
                }
                None => POLLNVAL,
            },
            FileKind::PipeWrite(p) => match self.pipes.get(p.0) {
                Some(pipe) => {
                    let mut m = 0;
                    if pipe.buf.len() < crate::file::PIPE_CAPACITY {
                        m |= POLLOUT | POLLWRNORM;
                    }
                    if pipe.readers == 0 {
                        m |= POLLERR;
                    }
                    m
                }
                None => POLLNVAL,
            },
            FileKind::Socket(s) => {
                let s = *s;
                match self.sock(s).ty {
                    SockType::Stream => self.unix_poll(s, events),
                    _ => self.unix_dgram_poll(s, events),
                }
            }
        };
        mask & (events | POLLERR | POLLHUP | POLLNVAL)
    }

    // sock_ioctl → unix_ioctl (and vfs FIONREAD for files)
    pub(crate) fn sys_ioctl(&mut self, pid: Pid, fd: i32, req: u64) -> SysResult<i32> {
        let f = self.fd_file(pid, fd)?;
        let s = match &self.file(f)?.kind {
            FileKind::Socket(s) => *s,
            FileKind::Memfd { data, pos } if req == SIOCINQ => {
                return Ok(data.len().saturating_sub(*pos).min(i32::MAX as usize) as i32);
            }
            FileKind::PipeRead(p) | FileKind::PipeWrite(p) if req == SIOCINQ => {
                return Ok(self.pipes.get(p.0).map_or(0, |p| p.buf.len()) as i32);
            }
            _ => return Err(Errno::ENOTTY.why("ioctl not supported by this file")),
        };
        let sk = self.sock(s);
        match req {
            SIOCOUTQ => Ok(sk.wmem.min(i32::MAX as usize) as i32),
            SIOCINQ => {
                if sk.state == SockState::Listen {
                    return Err(Errno::EINVAL.why("unix_inq_len: listening socket"));
                }
                let n = match sk.ty {
                    SockType::Stream => sk.inq_len,
                    SockType::Seqpacket => sk.recvq.iter().map(|b| b.data.len()).sum(),
                    SockType::Dgram => sk.recvq.front().map_or(0, |b| b.data.len()),
                };
                Ok(n.min(i32::MAX as usize) as i32)
            }
            SIOCATMARK => Ok(self.unix_atmark(s) as i32),
            _ => Err(Errno::ENOTTY.why("unix_ioctl: unknown request (ENOIOCTLCMD)")),
        }
    }

    /// The timeout a blocking receive on `fd` uses: `None` when the call
    /// may not block (`MSG_DONTWAIT` or `O_NONBLOCK`, or not a socket that
    /// blocks), `Some(None)` forever, `Some(Some(t))` up to `t`.
    pub(crate) fn rcv_timeout(&self, pid: Pid, fd: i32, flags: i32) -> Option<Option<Duration>> {
        self.timeout_of(pid, fd, flags, true)
    }

    /// Likewise for sends and connects (`SO_SNDTIMEO`).
    pub(crate) fn snd_timeout(&self, pid: Pid, fd: i32, flags: i32) -> Option<Option<Duration>> {
        self.timeout_of(pid, fd, flags, false)
    }

    fn timeout_of(&self, pid: Pid, fd: i32, flags: i32, rcv: bool) -> Option<Option<Duration>> {
        let f = self.fd_file(pid, fd).ok()?;
        let file = self.file(f).ok()?;
        if file.nonblock || flags & MSG_DONTWAIT != 0 {
            return None;
        }
        match file.kind {
            FileKind::Socket(s) => {
                let sk = self.sock(s);
                Some(if rcv { sk.rcvtimeo } else { sk.sndtimeo })
            }
            FileKind::PipeRead(_) | FileKind::PipeWrite(_) => Some(None),
            _ => None,
        }
    }
}
