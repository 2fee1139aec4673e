//! Datagram and seqpacket message paths (`unix_dgram_connect`,
//! `unix_dgram_sendmsg`, `unix_seqpacket_sendmsg`, `__unix_dgram_recvmsg`,
//! `unix_dgram_poll`), plus `unix_shutdown` shared by every type.

use super::{
    skb_truesize, Skb, SkbCred, SockId, SockState, SockType, RCV_SHUTDOWN, SEND_SHUTDOWN,
    SHUTDOWN_MASK,
};
use crate::abi::consts::*;
use crate::abi::sockaddr::UnixAddr;
use crate::errno::{Errno, SysResult};
use crate::net::scm::ScmCookie;
use crate::net::socket::MsgHdr;
use crate::process::{Capability, Pid};
use crate::world::{would_block, Kernel, RecvMsg};

impl Kernel {
    /// `unix_may_send`: `other` accepts from `sk` unless it is connected to a third socket.
    pub(crate) fn unix_may_send(&self, sk: SockId, other: SockId) -> bool {
        match self.sock(other).peer {
            None => true,
            Some(p) => p == sk,
        }
    }

    /// `unix_recvq_full_lockless`: strictly more queued than the backlog.
    pub(crate) fn unix_recvq_full(&self, s: SockId) -> bool {
        let sk = self.sock(s);
        sk.recvq.len() > sk.max_ack_backlog as usize
    }

    // unix_dgram_disconnected: our queue is purged; a peer connected back
    // to us learns ECONNRESET (only when messages were lost).
    fn unix_dgram_disconnected(&mut self, s: SockId, old: SockId) {
        let skbs: Vec<Skb> = self.sock_mut(s).recvq.drain(..).collect();
        if !skbs.is_empty() {
            let o = self.sock(old);
            if !o.dead && o.peer == Some(s) {
                self.sock_mut(old).err = Some(
                    Errno::ECONNRESET
                        .why("unix_dgram_disconnected: the peer dropped us with messages queued"),
                );
            }
        }
        for skb in skbs {
            self.skb_free(skb);
        }
        if self.sock(old).peer.is_none() {
            self.sock_mut(old).state = SockState::Close;
        }
    }

    /// Autobind when `SO_PASSCRED`/`SO_PASSPIDFD` is set on an unbound socket.
    fn maybe_autobind(&mut self, s: SockId) -> SysResult<()> {
        let sk = self.sock(s);
        if (sk.passcred || sk.passpidfd) && sk.addr.is_none() {
            self.unix_autobind(s)?;
        }
        Ok(())
    }

    // unix_dgram_connect
    pub(crate) fn unix_dgram_connect(&mut self, pid: Pid, s: SockId, raw: &[u8]) -> SysResult<()> {
        if raw.len() < SA_FAMILY_SIZE {
            return Err(Errno::EINVAL.why("unix_dgram_connect: addrlen < sizeof(sa_family_t)"));
        }
        if crate::abi::sockaddr::family(raw) == Some(AF_UNSPEC) {
            // Dissolve the association.
            let old = self.sock_mut(s).peer.take();
            self.sock_mut(s).state = SockState::Close;
            if let Some(old) = old {
                self.unix_dgram_disconnected(s, old);
                self.sock_put(old);
            }
            return Ok(());
        }
        let addr = crate::abi::sockaddr::parse_user_addr(raw)?;
        self.maybe_autobind(s)?;
        let other = self.unix_find_other(pid, &addr, SockType::Dgram)?;
        if !self.unix_may_send(s, other) {
            return Err(
                Errno::EPERM.why("unix_may_send: the target is connected to another socket")
            );
        }
        self.security.unix_may_send(pid)?;
        let old = self.sock(s).peer;
        self.sock_hold(other);
        self.sock_mut(s).peer = Some(other);
        self.sock_mut(s).state = SockState::Established;
        self.sock_mut(other).state = SockState::Established;
        if let Some(old) = old {
            if old != other {
                self.unix_dgram_disconnected(s, old);
            }
            self.sock_put(old);
        }
        Ok(())
    }

    // unix_seqpacket_sendmsg
    pub(crate) fn unix_seqpacket_sendmsg(
        &mut self,
        pid: Pid,
        s: SockId,
        msg: &MsgHdr<'_>,
        flags: i32,
    ) -> SysResult<usize> {
        if let Some(e) = self.sock_mut(s).take_err() {
            return Err(e);
        }
        if self.sock(s).state != SockState::Established {
            return Err(Errno::ENOTCONN.why("unix_seqpacket_sendmsg: not connected"));
        }
        let msg = MsgHdr { name: None, ..*msg };
        self.unix_dgram_sendmsg(pid, s, &msg, flags)
    }

    // unix_dgram_sendmsg: the scm cookie is destroyed on every error path.
    pub(crate) fn unix_dgram_sendmsg(
        &mut self,
        pid: Pid,
        s: SockId,
        msg: &MsgHdr<'_>,
        flags: i32,
    ) -> SysResult<usize> {
        let cookie = self.scm_send(pid, msg.control)?;
        match self.unix_dgram_send_cookie(pid, s, msg, flags, cookie) {
            Ok((n, None)) => Ok(n),
            Ok((_, Some(_))) => unreachable!("a sent cookie is consumed"),
            Err((e, cookie)) => {
                self.scm_destroy(cookie);
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn unix_dgram_send_cookie(
        &mut self,
        pid: Pid,
        s: SockId,
        msg: &MsgHdr<'_>,
        flags: i32,
        cookie: ScmCookie,
    ) -> Result<(usize, Option<ScmCookie>), (Errno, ScmCookie)> {
        macro_rules! fail {
            ($e:expr) => {
                return Err(($e, cookie))
            };
        }
        macro_rules! tri {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => return Err((e, cookie)),
                }
            };
        }
        let ty = self.sock(s).ty;
        if flags & MSG_OOB != 0 {
            fail!(Errno::EOPNOTSUPP.why("unix_dgram_sendmsg: MSG_OOB on a datagram socket"));
        }
        let name = match msg.name {
            Some(raw) => Some(tri!(crate::abi::sockaddr::parse_user_addr(raw))),
            None => None,
        };
        tri!(self.maybe_autobind(s));
        let len = msg.len();
        if len as i64 > self.sock(s).sndbuf as i64 - 32 {
            fail!(Errno::EMSGSIZE.why("unix_dgram_sendmsg: len > sk_sndbuf - 32"));
        }
        let nonblock = flags & MSG_DONTWAIT != 0;
        // sock_alloc_send_pskb
        if let Some(e) = self.sock_mut(s).take_err() {
            fail!(e);
        }
        if self.sock(s).shutdown & SEND_SHUTDOWN != 0 {
            fail!(Errno::EPIPE.why("sock_alloc_send_pskb: this socket was shut down for writing"));
        }
        if self.sock(s).wmem >= self.sock(s).sndbuf.max(0) as usize {
            fail!(if nonblock {
                Errno::EAGAIN
                    .why("sock_alloc_send_pskb: send buffer full (sk_wmem_alloc >= sk_sndbuf)")
            } else {
                would_block()
            });
        }
        // unix_scm_to_skb → too_many_unix_fds
        if !cookie.fp.is_empty() {
            let p = tri!(self.proc(pid));
            let (uid, nofile, privileged) = (
                p.cred.uid,
                p.nofile,
                p.cred.capable(Capability::SysResource) || p.cred.capable(Capability::SysAdmin),
            );
            if self.unix_inflight_of(uid) as u64 > nofile && !privileged {
                fail!(Errno::ETOOMANYREFS
                    .why("too_many_unix_fds: the user has more fds in flight than RLIMIT_NOFILE"));
            }
        }
        // The target.
        let other = match &name {
            Some(addr) => tri!(self.unix_find_other(pid, addr, ty)),
            None => match self.sock(s).peer {
                Some(p) => p,
                None => fail!(
                    Errno::ENOTCONN.why("unix_dgram_sendmsg: no destination and not connected")
                ),
            },
        };
        let mut data = msg.data().to_vec();
        // sk_filter on the receiver: a drop is a silent success.
        if let Some(prog) = &self.sock(other).filter {
            match crate::abi::filter::filter_verdict(prog, &data) {
                None => {
                    self.scm_destroy(cookie);
                    return Ok((len, None));
                }
                Some(keep) => data.truncate(keep),
            }
        }
        if !self.unix_may_send(s, other) {
            fail!(Errno::EPERM.why("unix_may_send: the receiver is connected to another socket"));
        }
        if self.sock(other).dead {
            if ty == SockType::Seqpacket {
                fail!(Errno::EPIPE.why("unix_dgram_sendmsg: seqpacket peer is dead"));
            }
            if self.sock(s).peer == Some(other) {
                self.sock_mut(s).peer = None;
                self.sock_mut(s).state = SockState::Close;
                self.unix_dgram_disconnected(s, other);
                self.sock_put(other);
                fail!(Errno::ECONNREFUSED.why(
                    "unix_dgram_sendmsg: the connected peer was closed; association dissolved"
                ));
            }
            if name.is_none() {
                fail!(Errno::ECONNRESET.why("unix_dgram_sendmsg: peer dead"));
            }
            fail!(Errno::ECONNREFUSED.why("unix_find_other: the named socket was closed"));
        }
        if self.sock(other).shutdown & RCV_SHUTDOWN != 0 {
            fail!(Errno::EPIPE.why("unix_dgram_sendmsg: the receiver shut down reading"));
        }
        if !cookie.fp.is_empty() && !self.sock(other).passrights {
            fail!(Errno::EPERM
                .why("unix_dgram_sendmsg: the receiver refuses SCM_RIGHTS (SO_PASSRIGHTS=0)"));
        }
        if ty == SockType::Dgram {
            tri!(self.security.unix_may_send(pid));
        }
        if other != s && self.sock(other).peer != Some(s) && self.unix_recvq_full(other) {
            fail!(if nonblock {
                Errno::EAGAIN.why("unix_dgram_sendmsg: receiver queue full (> max_dgram_qlen)")
            } else {
                would_block()
            });
        }
        let cred = self.unix_skb_cred(pid, s, other, &cookie);
        self.unix_queue_skb(pid, s, other, data, cookie, cred);
        Ok((len, None))
    }

    /// `unix_scm_to_skb` + `unix_maybe_add_creds`: explicit credentials, or
    /// the sender's own when either side asks for them (or the receiver is
    /// an embryo with no socket yet).
    pub(crate) fn unix_skb_cred(
        &self,
        pid: Pid,
        s: SockId,
        other: SockId,
        cookie: &ScmCookie,
    ) -> Option<SkbCred> {
        if let Some(c) = cookie.creds {
            return Some(SkbCred {
                pid: Some(c.pid),
                uid: c.uid,
                gid: c.gid,
            });
        }
        let sk = self.sock(s);
        let o = self.sock(other);
        if sk.passcred || sk.passpidfd || o.passcred || o.passpidfd || o.file.is_none() {
            let cred = self.procs.get(&pid).map(|p| (p.cred.uid, p.cred.gid))?;
            return Some(SkbCred {
                pid: Some(pid),
                uid: cred.0,
                gid: cred.1,
            });
        }
        None
    }

    /// Queue a message on `other` (`scm_stat_add`, `skb_queue_tail`),
    /// charging `s`'s wmem. The message takes the cookie's file references.
    pub(crate) fn unix_queue_skb(
        &mut self,
        pid: Pid,
        s: SockId,
        other: SockId,
        data: Vec<u8>,
        cookie: ScmCookie,
        cred: Option<SkbCred>,
    ) -> u64 {
        let skb = self.unix_new_skb(pid, s, data, cookie, cred);
        let id = skb.id;
        self.sock_mut(other).recvq.push_back(skb);
        id
    }

    /// A message from `s`, charged to its wmem and holding a reference to it.
    pub(crate) fn unix_new_skb(
        &mut self,
        pid: Pid,
        s: SockId,
        data: Vec<u8>,
        cookie: ScmCookie,
        cred: Option<SkbCred>,
    ) -> Skb {
        let truesize = skb_truesize(data.len());
        self.sock_hold(s);
        self.sock_mut(s).wmem += truesize;
        let id = self.next_skb;
        self.next_skb += 1;
        let fp_user = self.procs.get(&pid).map_or(0, |p| p.cred.uid);
        Skb {
            id,
            data,
            consumed: 0,
            fds: cookie.fp,
            cred,
            sender: s,
            truesize,
            fp_user,
        }
    }

    /// `user->unix_inflight`: fds sent by `uid` still queued anywhere.
    fn unix_inflight_of(&self, uid: u32) -> usize {
        self.socks
            .iter()
            .flat_map(|(_, sk)| sk.recvq.iter())
            .filter(|b| b.fp_user == uid)
            .map(|b| b.fds.len())
            .sum()
    }

    // __unix_dgram_recvmsg
    pub(crate) fn unix_dgram_recvmsg(
        &mut self,
        pid: Pid,
        s: SockId,
        len: usize,
        controllen: usize,
        flags: i32,
    ) -> SysResult<RecvMsg> {
        if flags & MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP.why("__unix_dgram_recvmsg: MSG_OOB on a datagram socket"));
        }
        let peek = flags & MSG_PEEK != 0;
        let nonblock = flags & MSG_DONTWAIT != 0;
        if let Some(e) = self.sock_mut(s).take_err() {
            return Err(e);
        }
        // __skb_try_recv_datagram with the peek offset: find the message
        // holding byte `skip` of the queue.
        let mut skip = if peek && self.sock(s).peek_off >= 0 {
            self.sock(s).peek_off as usize
        } else {
            0
        };
        let mut index = None;
        for (i, b) in self.sock(s).recvq.iter().enumerate() {
            if skip >= b.data.len() && (!b.data.is_empty() || skip > 0) {
                skip -= b.data.len();
                continue;
            }
            index = Some(i);
            break;
        }
        let Some(index) = index else {
            let sk = self.sock(s);
            if sk.ty == SockType::Seqpacket && sk.shutdown & RCV_SHUTDOWN != 0 {
                return Ok(RecvMsg::default());
            }
            if nonblock {
                return Err(Errno::EAGAIN.why("__skb_try_recv_datagram: queue empty, non-blocking"));
            }
            // __skb_wait_for_more_packets
            if sk.shutdown & RCV_SHUTDOWN != 0 {
                return Ok(RecvMsg::default());
            }
            if sk.ty.connection() && !matches!(sk.state, SockState::Established | SockState::Listen)
            {
                return Err(Errno::ENOTCONN.why("__skb_wait_for_more_packets: connection closed"));
            }
            return Err(would_block());
        };
        let (skb_len, sender, cred) = {
            let b = &self.sock(s).recvq[index];
            (b.data.len(), b.sender, b.cred)
        };
        let name = match &self.sock(sender).addr {
            Some(a) if !matches!(a, UnixAddr::Unnamed) => a.to_kernel_bytes(),
            _ => Vec::new(),
        };
        let avail = skb_len - skip;
        let mut msg_flags = 0;
        let size = if len >= avail {
            avail
        } else {
            msg_flags |= MSG_TRUNC;
            len
        };
        let data = self.sock(s).recvq[index].data[skip..skip + size].to_vec();
        let fds = if peek {
            let fds = self.sock(s).recvq[index].fds.clone();
            for &f in &fds {
                self.fget(f);
            }
            let sk = self.sock_mut(s);
            if sk.peek_off >= 0 {
                sk.peek_off = sk.peek_off.saturating_add(size as i32);
            }
            fds
        } else {
            let skb = self
                .sock_mut(s)
                .recvq
                .remove(index)
                .unwrap_or_else(|| unreachable!());
            let sk = self.sock_mut(s);
            if sk.peek_off >= 0 {
                sk.peek_off = (sk.peek_off - skb_len as i32).max(0);
            }
            let Skb {
                fds,
                sender,
                truesize,
                ..
            } = skb;
            self.skb_release_sender(sender, truesize);
            fds
        };
        let ret = if flags & MSG_TRUNC != 0 { avail } else { size };
        let (passcred, passpidfd) = (self.sock(s).passcred, self.sock(s).passpidfd);
        let control = self.scm_recv_unix(
            pid,
            controllen,
            flags,
            passcred,
            passpidfd,
            cred,
            fds,
            None,
            &mut msg_flags,
        );
        Ok(RecvMsg {
            ret,
            data,
            name,
            control,
            flags: msg_flags,
        })
    }

    // unix_dgram_poll
    pub(crate) fn unix_dgram_poll(&self, s: SockId, events: i16) -> i16 {
        let sk = self.sock(s);
        let mut mask = 0;
        if sk.err.is_some() {
            mask |= POLLERR;
        }
        if sk.shutdown & RCV_SHUTDOWN != 0 {
            mask |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        if sk.shutdown == SHUTDOWN_MASK {
            mask |= POLLHUP;
        }
        if !sk.recvq.is_empty() || !sk.accept_q.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if sk.ty == SockType::Seqpacket && sk.state == SockState::Close {
            mask |= POLLHUP;
        }
        if events & (POLLWRBAND | POLLWRNORM | POLLOUT) == 0 {
            return mask;
        }
        let mut writable = sk.writable();
        if writable {
            if let Some(other) = sk.peer {
                let o = self.sock(other);
                if o.peer != Some(s) && !o.dead && self.unix_recvq_full(other) {
                    writable = false;
                }
            }
        }
        if writable {
            mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
        }
        mask
    }

    // unix_shutdown
    pub(crate) fn unix_shutdown(&mut self, s: SockId, how: i32) -> SysResult<()> {
        if !(SHUT_RD..=SHUT_RDWR).contains(&how) {
            return Err(Errno::EINVAL.why("unix_shutdown: how is not SHUT_RD/SHUT_WR/SHUT_RDWR"));
        }
        let mode = (how + 1) as u8;
        let sk = self.sock_mut(s);
        sk.shutdown |= mode;
        let (ty, peer) = (sk.ty, sk.peer);
        if let Some(other) = peer {
            if ty.connection() {
                let mut peer_mode = 0;
                if mode & RCV_SHUTDOWN != 0 {
                    peer_mode |= SEND_SHUTDOWN;
                }
                if mode & SEND_SHUTDOWN != 0 {
                    peer_mode |= RCV_SHUTDOWN;
                }
                self.sock_mut(other).shutdown |= peer_mode;
            }
        }
        Ok(())
    }
}
