//! Connection-oriented sockets: `unix_listen`, `unix_stream_connect`,
//! `unix_accept` (stream and seqpacket), and the stream byte path
//! (`unix_stream_sendmsg`, `unix_stream_read_generic`, `MSG_OOB`,
//! `unix_poll`, `SIOCATMARK`).

use super::{
    PeerCred, SkbCred, SockId, SockState, SockType, RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK,
};
use crate::abi::consts::*;
use crate::abi::sockaddr::UnixAddr;
use crate::errno::{Errno, SysResult};
use crate::file::FileId;
use crate::net::scm::ScmCookie;
use crate::net::socket::MsgHdr;
use crate::process::{Capability, Pid};
use crate::world::{would_block, Kernel, RecvMsg};

/// `SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ`: the largest stream skb.
const STREAM_SKB_MAX: usize = (4096 - 320) + 32768;

impl Kernel {
    fn peercred_of(&self, pid: Pid) -> SysResult<PeerCred> {
        let c = &self.proc(pid)?.cred;
        Ok(PeerCred {
            pid,
            uid: c.euid,
            gid: c.egid,
            groups: c.groups.clone(),
        })
    }

    // unix_listen
    pub(crate) fn unix_listen(&mut self, pid: Pid, s: SockId, backlog: i32) -> SysResult<()> {
        let sk = self.sock(s);
        if !sk.ty.connection() {
            return Err(
                Errno::EOPNOTSUPP.why("unix_listen: only stream and seqpacket sockets listen")
            );
        }
        if sk.addr.is_none() {
            return Err(Errno::EINVAL.why("unix_listen: socket not bound"));
        }
        if !matches!(sk.state, SockState::Close | SockState::Listen) {
            return Err(Errno::EINVAL.why("unix_listen: socket is connected"));
        }
        let pc = self.peercred_of(pid)?;
        let sk = self.sock_mut(s);
        sk.max_ack_backlog = backlog.max(0) as u32;
        sk.state = SockState::Listen;
        sk.peercred = Some(pc);
        Ok(())
    }

    // unix_stream_connect
    pub(crate) fn unix_stream_connect(
        &mut self,
        pid: Pid,
        s: SockId,
        raw: &[u8],
        nonblock: bool,
    ) -> SysResult<()> {
        let addr = crate::abi::sockaddr::parse_user_addr(raw)?;
        {
            let sk = self.sock(s);
            if (sk.passcred || sk.passpidfd) && sk.addr.is_none() {
                self.unix_autobind(s)?;
            }
        }
        let ty = self.sock(s).ty;
        let other = self.unix_find_other(pid, &addr, ty)?;
        let o = self.sock(other);
        if o.state != SockState::Listen || o.shutdown & RCV_SHUTDOWN != 0 {
            return Err(Errno::ECONNREFUSED.why("unix_stream_connect: the target is not listening"));
        }
        if o.accept_q.len() > o.max_ack_backlog as usize {
            return Err(if nonblock {
                Errno::EAGAIN.why("unix_stream_connect: listener backlog full, non-blocking")
            } else {
                would_block()
            });
        }
        match self.sock(s).state {
            SockState::Close => {}
            SockState::Established => {
                return Err(Errno::EISCONN.why("unix_stream_connect: already connected"))
            }
            SockState::Listen => {
                return Err(Errno::EINVAL.why("unix_stream_connect: socket is listening"))
            }
        }
        self.security.unix_stream_connect(pid)?;
        // The embryo: the server's end, queued on the listener until accept.
        let newsk = self.unix_create1(ty);
        let connector = self.peercred_of(pid)?;
        let (laddr, lpasscred, lpasspidfd, lpassrights, lpc) = {
            let o = self.sock(other);
            (
                o.addr.clone(),
                o.passcred,
                o.passpidfd,
                o.passrights,
                o.peercred.clone(),
            )
        };
        self.sock_hold(s);
        {
            let n = self.sock_mut(newsk);
            n.state = SockState::Established;
            n.peer = Some(s);
            n.peercred = Some(connector);
            n.addr = laddr;
            n.passcred = lpasscred;
            n.passpidfd = lpasspidfd;
            n.passrights = lpassrights;
            n.listener = Some(other);
        }
        self.sock_hold(newsk);
        {
            let sk = self.sock_mut(s);
            sk.peer = Some(newsk);
            sk.state = SockState::Established;
            sk.peercred = lpc;
        }
        self.sock_mut(other).accept_q.push_back(newsk);
        Ok(())
    }

    // unix_accept
    pub(crate) fn unix_accept(&mut self, s: SockId, nonblock: bool) -> SysResult<SockId> {
        let sk = self.sock(s);
        if !sk.ty.connection() {
            return Err(Errno::EOPNOTSUPP.why("accept on a datagram socket"));
        }
        if sk.state != SockState::Listen {
            return Err(Errno::EINVAL.why("unix_accept: socket is not listening"));
        }
        if sk.accept_q.is_empty() {
            if let Some(e) = self.sock_mut(s).take_err() {
                return Err(e);
            }
            if self.sock(s).shutdown & RCV_SHUTDOWN != 0 {
                return Err(Errno::EINVAL.why("unix_accept: listener shut down for reading"));
            }
            return Err(if nonblock {
                Errno::EAGAIN.why("unix_accept: no pending connection, non-blocking")
            } else {
                would_block()
            });
        }
        let new = self
            .sock_mut(s)
            .accept_q
            .pop_front()
            .unwrap_or_else(|| unreachable!());
        self.sock_mut(new).listener = None;
        Ok(new)
    }

    // unix_stream_sendmsg: the cookie's files ride on the first skb.
    pub(crate) fn unix_stream_sendmsg(
        &mut self,
        pid: Pid,
        s: SockId,
        msg: &MsgHdr<'_>,
        flags: i32,
    ) -> SysResult<usize> {
        let mut cookie = self.scm_send(pid, msg.control)?;
        let data = msg.data();
        let mut len = data.len();
        let oob = flags & MSG_OOB != 0;
        let fail = |k: &mut Kernel, cookie: ScmCookie, e: Errno| -> SysResult<usize> {
            k.scm_destroy(cookie);
            Err(e)
        };
        if oob {
            if len == 0 {
                return fail(
                    self,
                    cookie,
                    Errno::EOPNOTSUPP.why("unix_stream_sendmsg: MSG_OOB with no data"),
                );
            }
            len -= 1;
        }
        if msg.name.is_some() {
            return if self.sock(s).state == SockState::Established {
                fail(
                    self,
                    cookie,
                    Errno::EISCONN
                        .why("unix_stream_sendmsg: destination given on a connected stream"),
                )
            } else {
                fail(
                    self,
                    cookie,
                    Errno::EOPNOTSUPP
                        .why("unix_stream_sendmsg: destination given on a stream socket"),
                )
            };
        }
        let Some(other) = self.sock(s).peer else {
            return fail(
                self,
                cookie,
                Errno::ENOTCONN.why("unix_stream_sendmsg: not connected"),
            );
        };
        let nosignal = flags & MSG_NOSIGNAL != 0;
        if self.sock(s).shutdown & SEND_SHUTDOWN != 0 {
            if !nosignal {
                self.proc_mut(pid)?.sigpipe = true;
            }
            return fail(
                self,
                cookie,
                Errno::EPIPE.why("unix_stream_sendmsg: shut down for writing (or the peer closed)"),
            );
        }
        let nonblock = flags & MSG_DONTWAIT != 0;
        let mut sent = 0usize;
        let mut first = true;
        let mut err: Option<Errno> = None;
        while sent < len || (first && len == 0 && !oob) {
            let sndbuf = self.sock(s).sndbuf.max(0) as usize;
            let size = (len - sent)
                .min((sndbuf / 2).saturating_sub(64))
                .min(STREAM_SKB_MAX);
            if let Some(e) = self.sock_mut(s).take_err() {
                err = Some(e);
                break;
            }
            if self.sock(s).shutdown & SEND_SHUTDOWN != 0 {
                err = Some(Errno::EPIPE.why("sock_alloc_send_pskb: shut down for writing"));
                break;
            }
            if self.sock(s).wmem >= sndbuf {
                err = Some(if nonblock || sent > 0 {
                    Errno::EAGAIN.why("sock_alloc_send_pskb: send buffer full")
                } else {
                    would_block()
                });
                break;
            }
            let fds_here = first && !cookie.fp.is_empty();
            if fds_here && self.too_many_unix_fds(pid) {
                err = Some(Errno::ETOOMANYREFS.why("too_many_unix_fds"));
                break;
            }
            let o = self.sock(other);
            if o.dead || o.shutdown & RCV_SHUTDOWN != 0 {
                if sent == 0 && !nosignal {
                    self.proc_mut(pid)?.sigpipe = true;
                }
                err = Some(
                    Errno::EPIPE.why("unix_stream_sendmsg: the peer is gone or shut down reading"),
                );
                break;
            }
            if fds_here && !o.passrights {
                err =
                    Some(Errno::EPERM.why(
                        "unix_stream_sendmsg: the receiver refuses SCM_RIGHTS (SO_PASSRIGHTS=0)",
                    ));
                break;
            }
            let part = ScmCookie {
                fp: if fds_here {
                    std::mem::take(&mut cookie.fp)
                } else {
                    Vec::new()
                },
                creds: cookie.creds,
            };
            let cred = self.unix_skb_cred(pid, s, other, &part);
            let chunk = data.get(sent..sent + size).unwrap_or_default().to_vec();
            self.unix_queue_skb(pid, s, other, chunk, part, cred);
            sent += size;
            first = false;
            if len == 0 {
                break;
            }
        }
        if err.is_none() && oob {
            // queue_oob
            let o = self.sock(other);
            if o.dead || o.shutdown & RCV_SHUTDOWN != 0 {
                err = Some(Errno::EPIPE.why("queue_oob: the peer is gone or shut down reading"));
            } else if !cookie.fp.is_empty() && !o.passrights {
                err = Some(Errno::EPERM.why("queue_oob: the receiver refuses SCM_RIGHTS"));
            } else {
                let part = ScmCookie {
                    fp: std::mem::take(&mut cookie.fp),
                    creds: cookie.creds,
                };
                let cred = self.unix_skb_cred(pid, s, other, &part);
                let byte = data.get(len..len + 1).unwrap_or_default().to_vec();
                let id = self.unix_queue_skb(pid, s, other, byte, part, cred);
                self.sock_mut(other).oob_skb = Some(id);
                sent += 1;
            }
        }
        self.scm_destroy(cookie);
        match err {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }

    fn too_many_unix_fds(&self, pid: Pid) -> bool {
        let Ok(p) = self.proc(pid) else { return false };
        let privileged =
            p.cred.capable(Capability::SysResource) || p.cred.capable(Capability::SysAdmin);
        let uid = p.cred.uid;
        let inflight: usize = self
            .socks
            .iter()
            .flat_map(|(_, sk)| sk.recvq.iter())
            .filter(|b| b.fp_user == uid)
            .map(|b| b.fds.len())
            .sum();
        inflight as u64 > p.nofile && !privileged
    }

    // unix_stream_read_generic (recvmsg flavour)
    pub(crate) fn unix_stream_recvmsg(
        &mut self,
        pid: Pid,
        s: SockId,
        len: usize,
        controllen: usize,
        flags: i32,
    ) -> SysResult<RecvMsg> {
        if self.sock(s).state != SockState::Established {
            return Err(Errno::EINVAL.why("unix_stream_read_generic: socket not connected"));
        }
        if flags & MSG_OOB != 0 {
            return self.unix_stream_recv_urg(pid, s, len, controllen, flags);
        }
        let peek = flags & MSG_PEEK != 0;
        let nonblock = flags & MSG_DONTWAIT != 0;
        let target = if flags & MSG_WAITALL != 0 {
            len
        } else {
            (self.sock(s).rcvlowat.max(1) as usize).min(len)
        };
        let mut skip = if peek {
            self.sock(s).peek_off.max(0) as usize
        } else {
            0
        };
        let mut copied = 0usize;
        let mut size = len;
        let mut out = Vec::new();
        let mut name: Option<Vec<u8>> = None;
        let mut creds: Option<Option<SkbCred>> = None; // latched when SO_PASSCRED/PASSPIDFD
        let mut fds: Vec<FileId> = Vec::new();
        let may_passcred = self.sock(s).passcred || self.sock(s).passpidfd;
        let mut err: Option<Errno> = None;
        'outer: loop {
            if self.sock(s).dead {
                err = Some(Errno::ECONNRESET.why("unix_stream_read_generic: socket dead"));
                break;
            }
            let mut idx = 0usize;
            loop {
                // manage_oob
                let mut have = self.sock(s).recvq.get(idx).is_some();
                if have {
                    match self.manage_oob(s, idx, peek, copied) {
                        Some(i) => idx = i,
                        None => {
                            if copied > 0 {
                                break 'outer;
                            }
                            have = false;
                        }
                    }
                    if have && self.sock(s).recvq.get(idx).is_none() {
                        have = false;
                    }
                }
                if !have {
                    if copied >= target {
                        break 'outer;
                    }
                    if let Some(e) = self.sock_mut(s).take_err() {
                        err = Some(e);
                        break 'outer;
                    }
                    if self.sock(s).shutdown & RCV_SHUTDOWN != 0 {
                        break 'outer;
                    }
                    if nonblock {
                        err = Some(
                            Errno::EAGAIN.why("unix_stream_read_generic: no data, non-blocking"),
                        );
                        break 'outer;
                    }
                    if copied > 0 {
                        // The model does not sleep part-way through a read.
                        break 'outer;
                    }
                    return Err(would_block());
                }
                // Skip the peek offset.
                let mut found = true;
                while let Some(b) = self.sock(s).recvq.get(idx) {
                    if skip < b.unread() {
                        break;
                    }
                    skip -= b.unread();
                    idx += 1;
                    if self.sock(s).recvq.get(idx).is_none() {
                        found = false;
                        break;
                    }
                }
                if !found {
                    continue; // `goto again` with no skb
                }
                let (cred, sender, unread) = {
                    let b = &self.sock(s).recvq[idx];
                    (b.cred, b.sender, b.unread())
                };
                match creds {
                    Some(c) if c != cred => break 'outer,
                    Some(_) => {}
                    None if may_passcred => creds = Some(cred),
                    None => {}
                }
                if name.is_none() {
                    name = Some(match &self.sock(sender).addr {
                        Some(a) if !matches!(a, UnixAddr::Unnamed) => a.to_kernel_bytes(),
                        _ => Vec::new(),
                    });
                }
                let chunk = (unread - skip).min(size);
                {
                    let b = &self.sock(s).recvq[idx];
                    let start = b.consumed + skip;
                    out.extend_from_slice(b.data.get(start..start + chunk).unwrap_or_default());
                }
                copied += chunk;
                size -= chunk;
                if !peek {
                    let sk = self.sock_mut(s);
                    let b = &mut sk.recvq[idx];
                    b.consumed += chunk;
                    let had_fds = !b.fds.is_empty();
                    if had_fds {
                        fds = std::mem::take(&mut b.fds);
                    }
                    let rest = b.unread();
                    if sk.peek_off >= 0 {
                        sk.peek_off = (sk.peek_off - chunk as i32).max(0);
                    }
                    if rest > 0 {
                        break 'outer;
                    }
                    if let Some(skb) = sk.recvq.remove(idx) {
                        if sk.oob_skb == Some(skb.id) {
                            sk.oob_skb = None;
                        }
                        self.skb_free(skb);
                    }
                    if had_fds {
                        break 'outer;
                    }
                    if size == 0 {
                        break 'outer;
                    }
                    continue 'outer;
                } else {
                    let b_fds = self.sock(s).recvq[idx].fds.clone();
                    let sk = self.sock_mut(s);
                    if sk.peek_off >= 0 {
                        sk.peek_off = sk.peek_off.saturating_add(chunk as i32);
                    }
                    if !b_fds.is_empty() {
                        for &f in &b_fds {
                            self.fget(f);
                        }
                        fds = b_fds;
                        break 'outer;
                    }
                    skip = 0;
                    idx += 1;
                    if self.sock(s).recvq.get(idx).is_none() || size == 0 {
                        break 'outer;
                    }
                }
            }
        }
        if copied == 0 {
            if let Some(e) = err {
                for f in fds {
                    self.fput(f);
                }
                return Err(e);
            }
        }
        let mut msg_flags = 0;
        let (passcred, passpidfd) = (self.sock(s).passcred, self.sock(s).passpidfd);
        let cred = creds.flatten();
        let inq = self
            .sock(s)
            .recv_inq
            .then(|| self.stream_inq(s).min(i32::MAX as usize) as i32);
        let control = self.scm_recv_unix(
            pid,
            controllen,
            flags,
            passcred,
            passpidfd,
            cred,
            fds,
            inq,
            &mut msg_flags,
        );
        Ok(RecvMsg {
            ret: copied,
            data: out,
            name: name.unwrap_or_default(),
            control,
            flags: msg_flags,
        })
    }

    /// Unread stream bytes (`u->inq_len`, what `SIOCINQ` reports).
    pub(crate) fn stream_inq(&self, s: SockId) -> usize {
        self.sock(s).recvq.iter().map(|b| b.unread()).sum()
    }

    /// `manage_oob`: what a normal read does at the OOB mark. Returns the
    /// index of the skb to read from, or `None` to stop (or, with nothing
    /// copied, to treat the queue as empty).
    fn manage_oob(
        &mut self,
        s: SockId,
        mut idx: usize,
        peek: bool,
        copied: usize,
    ) -> Option<usize> {
        let oob = self.sock(s).oob_skb;
        let inline = self.sock(s).oobinline;
        let (id, unread) = {
            let b = self.sock(s).recvq.get(idx)?;
            (b.id, b.unread())
        };
        let mut cur = Some(id);
        if unread == 0 {
            if copied > 0 && (oob.is_none() || Some(id) == oob) {
                return None;
            } else if peek {
                idx += 1;
            } else if let Some(skb) = self.sock_mut(s).recvq.remove(idx) {
                if self.sock(s).oob_skb == Some(skb.id) {
                    self.sock_mut(s).oob_skb = None;
                }
                self.skb_free(skb);
            }
            cur = self.sock(s).recvq.get(idx).map(|b| b.id);
            cur?;
        }
        if cur != oob || oob.is_none() {
            return Some(idx);
        }
        if copied > 0 {
            return None;
        }
        if !peek {
            self.sock_mut(s).oob_skb = None;
            if !inline {
                if let Some(skb) = self.sock_mut(s).recvq.remove(idx) {
                    self.skb_free(skb);
                }
                return self.sock(s).recvq.get(idx).map(|_| idx);
            }
            Some(idx)
        } else if !inline {
            let next = idx + 1;
            self.sock(s).recvq.get(next).map(|_| next)
        } else {
            Some(idx)
        }
    }

    // unix_stream_recv_urg
    fn unix_stream_recv_urg(
        &mut self,
        pid: Pid,
        s: SockId,
        len: usize,
        controllen: usize,
        flags: i32,
    ) -> SysResult<RecvMsg> {
        let sk = self.sock(s);
        let Some(oob) = sk.oob_skb.filter(|_| !sk.oobinline) else {
            return Err(
                Errno::EINVAL.why("unix_stream_recv_urg: no OOB byte pending (or SO_OOBINLINE)")
            );
        };
        let Some(idx) = sk.recvq.iter().position(|b| b.id == oob) else {
            return Err(Errno::EINVAL.why("unix_stream_recv_urg: OOB byte gone"));
        };
        let peek = flags & MSG_PEEK != 0;
        let byte = sk.recvq[idx].data.last().copied();
        let data: Vec<u8> = if len == 0 {
            Vec::new()
        } else {
            byte.into_iter().collect()
        };
        if !peek {
            let sk = self.sock_mut(s);
            sk.oob_skb = None;
            if len > 0 {
                sk.recvq[idx].consumed += 1;
            }
        }
        let mut msg_flags = MSG_OOB;
        let control = self.scm_recv_unix(
            pid,
            controllen,
            flags,
            false,
            false,
            None,
            Vec::new(),
            None,
            &mut msg_flags,
        );
        Ok(RecvMsg {
            ret: data.len(),
            data,
            name: Vec::new(),
            control,
            flags: msg_flags,
        })
    }

    /// `SIOCATMARK`.
    pub(crate) fn unix_atmark(&self, s: SockId) -> bool {
        let sk = self.sock(s);
        let Some(head) = sk.recvq.front() else {
            return false;
        };
        let next = sk.recvq.get(1).map(|b| b.id);
        Some(head.id) == sk.oob_skb
            || (head.unread() == 0 && (sk.oob_skb.is_none() || next == sk.oob_skb))
    }

    // unix_poll
    pub(crate) fn unix_poll(&self, s: SockId, _events: i16) -> i16 {
        let sk = self.sock(s);
        let mut mask = 0;
        if sk.err.is_some() {
            mask |= POLLERR;
        }
        if sk.shutdown == SHUTDOWN_MASK {
            mask |= POLLHUP;
        }
        if sk.shutdown & RCV_SHUTDOWN != 0 {
            mask |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        if !sk.recvq.is_empty() || !sk.accept_q.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if sk.oob_skb.is_some() {
            mask |= POLLPRI;
        }
        if sk.ty.connection() && sk.state == SockState::Close {
            mask |= POLLHUP;
        }
        if sk.writable() {
            mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
        }
        mask
    }
}

#[allow(dead_code)]
fn _assert_types(_: SockType) {}
