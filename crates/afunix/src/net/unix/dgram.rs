//! Datagram and seqpacket message paths (`unix_dgram_connect`,
//! `unix_dgram_sendmsg`, `unix_seqpacket_sendmsg`, `__unix_dgram_recvmsg`,
//! `unix_dgram_poll`), plus `unix_shutdown` shared by every type.
//!
//! Locking: the sender's state is read under its own lock, then the
//! receiver is locked for the checks that decide delivery and for the
//! enqueue (`unix_state_lock(other)`); both are locked together, in id
//! order, only to dissolve an association. Wake-ups of another socket
//! happen after our own lock is released.

use super::{
    double_lock, skb_truesize, Skb, SkbCred, Sock, SockInner, SockState, SockType, RCV_SHUTDOWN,
    SEND_SHUTDOWN, SHUTDOWN_MASK,
};
use crate::abi::consts::*;
use crate::errno::Errno;
use crate::net::scm::{RecvCred, ScmCookie};
use crate::net::skbuff::SkbData;
use crate::net::socket::MsgHdr;
use crate::process::RawPid;
use crate::security::SocketRef;
use crate::world::{Fail, KResult, Kernel, RecvMsg, Wait};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Whether `peer` (an `unix_peer` slot) points at `s`.
pub(crate) fn is(peer: &Option<Arc<Sock>>, s: &Sock) -> bool {
    peer.as_ref()
        .is_some_and(|p| std::ptr::eq(Arc::as_ptr(p), s))
}

/// `unix_may_send`: `other` accepts from `sk` unless it is connected to a third socket.
pub(crate) fn may_send(sk: &Sock, other: &SockInner) -> bool {
    other.peer.is_none() || is(&other.peer, sk)
}

/// For `--path`: why `unix_may_send` refused (`other` is connected, not to `sk`).
fn note_connected_elsewhere(sk: &Sock, other: &Sock, og: &SockInner) {
    crate::path::note(|| {
        let peer = og.peer.as_ref().map_or(0, |p| p.id);
        format!("#{} is connected to #{peer}, not to #{}", other.id, sk.id)
    });
}

/// `unix_recvq_full_lockless`: strictly more queued than the backlog.
pub(crate) fn recvq_full(g: &SockInner) -> bool {
    g.recvq.len() > g.max_ack_backlog as usize
}

impl Kernel {
    // unix_dgram_disconnected: our queue is purged; a peer connected back
    // to us learns ECONNRESET (only when messages were lost).
    fn unix_dgram_disconnected(&self, s: &Arc<Sock>, old: &Arc<Sock>) {
        let skbs: Vec<Skb> = {
            let mut g = s.lock();
            let v: Vec<Skb> = g.recvq.drain(..).collect();
            if !v.is_empty() {
                s.wake_peers_all_locked(&mut g);
            }
            v
        };
        if !std::ptr::eq(Arc::as_ptr(s), Arc::as_ptr(old)) {
            let mut o = old.lock();
            if !skbs.is_empty() && !o.dead && is(&o.peer, s) {
                o.err = Some(Errno::ECONNRESET.why(rule!(
                    unix_dgram_disconnected,
                    "the peer dropped us with messages queued"
                )));
            }
            if o.peer.is_none() {
                o.state = SockState::Close;
            }
            old.wake_locked(&mut o);
        }
        self.skbs_free(s, skbs);
    }

    /// Autobind when `SO_PASSCRED`/`SO_PASSPIDFD` is set on an unbound socket.
    pub(crate) fn maybe_autobind(&self, s: &Arc<Sock>) -> Result<(), crate::errno::Error> {
        let need = s.lock().may_passcred() && s.addr.get().is_none();
        if need {
            self.unix_autobind(s)?;
        }
        Ok(())
    }

    // unix_dgram_connect
    pub(crate) fn unix_dgram_connect(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        raw: &[u8],
    ) -> Result<(), crate::errno::Error> {
        crate::path::step("unix_dgram_connect");
        if raw.len() < SA_FAMILY_SIZE {
            crate::path::note(|| format!("addrlen {}", raw.len()));
            return Err(
                Errno::EINVAL.why(rule!(unix_dgram_connect, "addrlen < sizeof(sa_family_t)"))
            );
        }
        if crate::abi::sockaddr::family(raw) == Some(AF_UNSPEC) {
            // Dissolve the association.
            let old = {
                let mut g = s.lock();
                g.state = SockState::Close;
                g.peer.take()
            };
            if let Some(old) = old {
                self.unix_dgram_disconnected(s, &old);
            }
            return Ok(());
        }
        let addr = crate::abi::sockaddr::parse_user_addr(raw)?;
        self.maybe_autobind(s)?;
        let other = self.unix_find_other(pid, s.netns, &addr, SockType::Dgram)?;
        let old = if Arc::ptr_eq(s, &other) {
            let mut g = s.lock();
            if !may_send(s, &g) {
                note_connected_elsewhere(s, s, &g);
                return Err(Errno::EPERM.why(rule!(
                    unix_may_send,
                    "the target is connected to another socket"
                )));
            }
            self.lsm(pid, |sec, task| {
                sec.unix_may_send(task, SocketRef(s), SocketRef(&other))
            })?;
            g.state = SockState::Established;
            g.peer.replace(Arc::clone(&other))
        } else {
            let (mut g, mut og) = double_lock(s, &other);
            if !may_send(s, &og) {
                note_connected_elsewhere(s, &other, &og);
                return Err(Errno::EPERM.why(rule!(
                    unix_may_send,
                    "the target is connected to another socket"
                )));
            }
            self.lsm(pid, |sec, task| {
                sec.unix_may_send(task, SocketRef(s), SocketRef(&other))
            })?;
            g.state = SockState::Established;
            og.state = SockState::Established;
            g.peer.replace(Arc::clone(&other))
        };
        if let Some(old) = old {
            if !Arc::ptr_eq(&old, &other) {
                self.unix_dgram_disconnected(s, &old);
            }
        }
        Ok(())
    }

    // unix_seqpacket_sendmsg
    pub(crate) fn unix_seqpacket_sendmsg(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        msg: &MsgHdr<'_>,
        flags: i32,
    ) -> KResult<usize> {
        crate::path::step("unix_seqpacket_sendmsg");
        {
            let mut g = s.lock();
            if let Some(e) = g.take_err() {
                return Err(e.into());
            }
            if g.state != SockState::Established {
                super::note_sock(s, &g);
                return Err(Errno::ENOTCONN
                    .why(rule!(unix_seqpacket_sendmsg, "not connected"))
                    .into());
            }
        }
        let msg = MsgHdr { name: None, ..*msg };
        self.unix_dgram_sendmsg(pid, s, &msg, flags)
    }

    // unix_dgram_sendmsg: the scm cookie is destroyed on every error path.
    pub(crate) fn unix_dgram_sendmsg(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        msg: &MsgHdr<'_>,
        flags: i32,
    ) -> KResult<usize> {
        crate::path::step("unix_dgram_sendmsg");
        let mut cookie = Some(self.scm_send(pid, msg.control)?);
        let r = self.dgram_send(pid, s, msg, flags, &mut cookie);
        if let Some(c) = cookie.take() {
            self.scm_destroy(c);
        }
        r
    }

    fn dgram_send(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        msg: &MsgHdr<'_>,
        flags: i32,
        cookie: &mut Option<ScmCookie>,
    ) -> KResult<usize> {
        let has_fds = cookie.as_ref().is_some_and(|c| !c.fp.is_empty());
        if flags & MSG_OOB != 0 {
            crate::path::note(|| format!("flags {flags:#x} include MSG_OOB"));
            return Err(Errno::EOPNOTSUPP
                .why(rule!(unix_dgram_sendmsg, "MSG_OOB on a datagram socket"))
                .into());
        }
        let name = match msg.name {
            Some(raw) => Some(crate::abi::sockaddr::parse_user_addr(raw)?),
            None => None,
        };
        let len = msg.len();
        let nonblock = flags & MSG_DONTWAIT != 0;
        let (mut peer, sk_passcred) = loop {
            let mut g = s.lock();
            // SO_PASSCRED/SO_PASSPIDFD on an unbound socket: autobind
            // first (then look again, with the lock taken once more).
            if g.may_passcred() && s.addr.get().is_none() {
                drop(g);
                self.unix_autobind(s)?;
                continue;
            }
            if len as i64 > g.sndbuf as i64 - 32 {
                let sndbuf = g.sndbuf;
                crate::path::note(|| format!("{len} bytes > sk_sndbuf {sndbuf} - 32"));
                return Err(Errno::EMSGSIZE
                    .why(rule!(unix_dgram_sendmsg, "len > sk_sndbuf - 32"))
                    .into());
            }
            // sock_alloc_send_pskb
            if let Some(e) = g.take_err() {
                return Err(e.into());
            }
            if g.shutdown & SEND_SHUTDOWN != 0 {
                super::note_sock(s, &g);
                return Err(Errno::EPIPE
                    .why(rule!(
                        sock_alloc_send_pskb,
                        "this socket was shut down for writing"
                    ))
                    .into());
            }
            if s.wmem() >= g.sndbuf.max(0) as usize {
                if nonblock {
                    crate::path::note(|| {
                        format!("sk_wmem_alloc {} >= sk_sndbuf {}", s.wmem(), g.sndbuf)
                    });
                    return Err(Errno::EAGAIN
                        .why(rule!(
                            sock_alloc_send_pskb,
                            "send buffer full (sk_wmem_alloc >= sk_sndbuf)"
                        ))
                        .into());
                }
                // sock_wait_for_wmem: prepare_to_wait, not exclusive.
                return Err(Fail::Block(Wait::Sock(Arc::clone(s), g.seq, false)));
            }
            // alloc_skb_with_frags
            if self.fault(crate::fault::FaultPoint::SockAllocSendPskb, pid) {
                return Err(crate::fault::FaultPoint::SockAllocSendPskb.error().into());
            }
            break (g.peer.clone(), g.may_passcred());
        };
        if has_fds && cookie.as_ref().is_some_and(|c| self.too_many_unix_fds(c)) {
            return Err(Errno::ETOOMANYREFS
                .why(rule!(
                    too_many_unix_fds,
                    "the user has more fds in flight than RLIMIT_NOFILE"
                ))
                .into());
        }
        let other = match &name {
            Some(addr) => self.unix_find_other(pid, s.netns, addr, s.ty)?,
            None => match peer.take() {
                Some(p) => p,
                None => {
                    super::note_sock_of(s);
                    return Err(Errno::ENOTCONN
                        .why(rule!(
                            unix_dgram_sendmsg,
                            "no destination and not connected"
                        ))
                        .into());
                }
            },
        };
        // Whether this goes to the connected peer (the association a dead
        // receiver dissolves below).
        let to_peer = name.is_none() || is(&peer, &other);
        drop(peer);
        let mut data = msg.data().to_vec();
        // sk_filter on the receiver: a drop is a silent success.
        let filter = if other.has_filter.load(Ordering::SeqCst) {
            other.lock().filter.clone()
        } else {
            None
        };
        if let Some(prog) = filter {
            match crate::abi::filter::filter_verdict(&prog, &data, &self.prandom) {
                None => {
                    crate::path::note(|| format!("sk_filter dropped the {len} bytes"));
                    return Ok(len);
                }
                Some(keep) => {
                    crate::path::note(|| format!("sk_filter kept {keep} of {len} bytes"));
                    data.truncate(keep)
                }
            }
        }
        let self_send = Arc::ptr_eq(s, &other);
        let mut og = other.lock();
        if !may_send(s, &og) {
            note_connected_elsewhere(s, &other, &og);
            return Err(Errno::EPERM
                .why(rule!(
                    unix_may_send,
                    "the receiver is connected to another socket"
                ))
                .into());
        }
        if og.dead {
            drop(og);
            if s.ty == SockType::Seqpacket {
                return Err(Errno::EPIPE
                    .why(rule!(unix_dgram_sendmsg, "the seqpacket peer is dead"))
                    .into());
            }
            if to_peer {
                let dissolved = {
                    let (mut g, _og) = double_lock(s, &other);
                    if is(&g.peer, &other) {
                        g.peer = None;
                        g.state = SockState::Close;
                        true
                    } else {
                        false
                    }
                };
                if dissolved {
                    self.unix_dgram_disconnected(s, &other);
                }
                crate::path::note(|| format!("the peer #{} is dead", other.id));
                return Err(Errno::ECONNREFUSED
                    .why(rule!(
                        unix_dgram_sendmsg,
                        "the connected peer was closed; association dissolved"
                    ))
                    .into());
            }
            if name.is_none() {
                return Err(Errno::ECONNRESET
                    .why(rule!(unix_dgram_sendmsg, "the peer is dead"))
                    .into());
            }
            return Err(Errno::ECONNREFUSED
                .why(rule!(unix_find_other, "the named socket was closed"))
                .into());
        }
        if og.shutdown & RCV_SHUTDOWN != 0 {
            return Err(Errno::EPIPE
                .why(rule!(unix_dgram_sendmsg, "the receiver shut down reading"))
                .into());
        }
        if has_fds && !og.passrights {
            crate::path::note(|| format!("#{} has SO_PASSRIGHTS 0", other.id));
            return Err(Errno::EPERM
                .why(rule!(
                    unix_dgram_sendmsg,
                    "the receiver refuses SCM_RIGHTS (SO_PASSRIGHTS=0)"
                ))
                .into());
        }
        if s.ty == SockType::Dgram {
            self.lsm(pid, |sec, task| {
                sec.unix_may_send(task, SocketRef(s), SocketRef(&other))
            })?;
        }
        if !self_send && !is(&og.peer, s) && recvq_full(&og) {
            let (n, max) = (og.recvq.len(), og.max_ack_backlog);
            crate::path::note(|| {
                format!(
                    "the receiver #{}'s queue holds {n} of max_dgram_qlen {max}",
                    other.id
                )
            });
            if nonblock {
                return Err(Errno::EAGAIN
                    .why(rule!(
                        unix_dgram_sendmsg,
                        "receiver queue full (> max_dgram_qlen)"
                    ))
                    .into());
            }
            // unix_wait_for_peer: sleep on the receiver's peer_wait.
            return Err(Fail::Block(Wait::Peer(Arc::clone(&other), og.peer_seq)));
        }
        let c = cookie.take().unwrap_or_default();
        let cred = self.unix_skb_cred(pid, sk_passcred, &og, &c);
        let mut skb = self.unix_new_skb(s, data.into(), c, cred, &mut og);
        if og.opts.rcvtstamp {
            // __net_timestamp, under the receiver's lock.
            skb.tstamp = self.clock.ktime_get_real();
        }
        crate::path::note(|| {
            format!(
                "queued {} bytes on #{} with {} files",
                skb.data.len(),
                other.id,
                skb.fds.len()
            )
        });
        self.unix_add_edges(&other, &og, &skb);
        og.skb_queue_tail(skb);
        other.wake_locked(&mut og);
        Ok(len)
    }

    /// `unix_scm_to_skb` + `unix_maybe_add_creds`: explicit credentials, or
    /// the sender's own when either side asks for them (or the receiver is
    /// an embryo with no socket yet).
    pub(crate) fn unix_skb_cred(
        &self,
        pid: RawPid,
        sk_passcred: bool,
        other: &SockInner,
        cookie: &ScmCookie,
    ) -> Option<SkbCred> {
        if let Some(c) = cookie.creds {
            return Some(SkbCred {
                pid: Some(c.pid),
                uid: c.uid,
                gid: c.gid,
            });
        }
        if sk_passcred || other.may_passcred() || other.file.is_none() {
            let p = self.proc(pid).ok()?;
            return Some(SkbCred {
                pid: Some(pid),
                uid: p.cred.uid,
                gid: p.cred.gid,
            });
        }
        None
    }

    /// A message from `s`, charged to its wmem. It takes the cookie's files.
    pub(crate) fn unix_new_skb(
        &self,
        s: &Arc<Sock>,
        data: SkbData,
        cookie: ScmCookie,
        cred: Option<SkbCred>,
        receiver: &mut SockInner,
    ) -> Skb {
        let truesize = if s.ty == SockType::Stream {
            super::stream_skb_truesize(data.len())
        } else {
            skb_truesize(data.len())
        };
        s.wmem.fetch_add(truesize, Ordering::SeqCst);
        let fp_user = if cookie.fp.is_empty() {
            None
        } else {
            cookie.user
        };
        let id = receiver.next_skb;
        receiver.next_skb += 1;
        Skb {
            id,
            data,
            consumed: 0,
            fds: cookie.fp,
            cred,
            sender: Arc::clone(s),
            truesize,
            fp_user,
            tstamp: 0,
        }
    }

    /// A message left `receiver`'s queue to be read: its edges go, the
    /// sender is uncharged (and woken); the files are the caller's. Call
    /// with no socket lock held.
    pub(crate) fn skb_consumed(&self, receiver: &Sock, mut skb: Skb) -> crate::net::scm::FpList {
        self.unix_del_edges(receiver, &skb, false);
        self.skb_uncharge(&skb);
        std::mem::take(&mut skb.fds)
    }

    /// `too_many_unix_fds`.
    /// (On the account and limit `scm_fp_copy` read with the files: the
    /// sender's process is not looked up again.)
    pub(crate) fn too_many_unix_fds(&self, cookie: &ScmCookie) -> bool {
        let Some(user) = &cookie.user else {
            return false;
        };
        let inflight = user.unix_inflight();
        let too_many = inflight as u64 > cookie.inflight_max;
        if too_many {
            let (uid, nofile) = (user.uid, cookie.inflight_max);
            crate::path::note(|| {
                format!("uid {uid} has {inflight} files in flight > RLIMIT_NOFILE {nofile}")
            });
        }
        too_many
    }

    // __unix_dgram_recvmsg
    pub(crate) fn unix_dgram_recvmsg(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        len: usize,
        controllen: usize,
        flags: i32,
    ) -> KResult<RecvMsg> {
        crate::path::step("unix_dgram_recvmsg");
        if flags & MSG_OOB != 0 {
            crate::path::note(|| format!("flags {flags:#x} include MSG_OOB"));
            return Err(Errno::EOPNOTSUPP
                .why(rule!(__unix_dgram_recvmsg, "MSG_OOB on a datagram socket"))
                .into());
        }
        let peek = flags & MSG_PEEK != 0;
        let nonblock = flags & MSG_DONTWAIT != 0;
        let mut g = s.lock();
        if let Some(e) = g.take_err() {
            return Err(e.into());
        }
        // __skb_try_recv_datagram with the peek offset: find the message
        // holding byte `skip` of the queue.
        let mut skip = if peek && g.peek_off >= 0 {
            g.peek_off as usize
        } else {
            0
        };
        let mut index = None;
        for (i, b) in g.recvq.iter().enumerate() {
            if skip >= b.data.len() && (!b.data.is_empty() || skip > 0) {
                skip -= b.data.len();
                continue;
            }
            index = Some(i);
            break;
        }
        let Some(index) = index else {
            if s.ty == SockType::Seqpacket && g.shutdown & RCV_SHUTDOWN != 0 {
                return Ok(RecvMsg::default());
            }
            if nonblock {
                super::note_sock(s, &g);
                return Err(Errno::EAGAIN
                    .why(rule!(__skb_try_recv_datagram, "queue empty, non-blocking"))
                    .into());
            }
            // __skb_wait_for_more_packets
            if g.shutdown & RCV_SHUTDOWN != 0 {
                return Ok(RecvMsg::default());
            }
            if s.ty.connection() && !matches!(g.state, SockState::Established | SockState::Listen) {
                return Err(Errno::ENOTCONN
                    .why(rule!(__skb_wait_for_more_packets, "connection closed"))
                    .into());
            }
            // __skb_wait_for_more_packets: prepare_to_wait_exclusive.
            return Err(Fail::Block(Wait::Sock(Arc::clone(s), g.seq, true)));
        };
        let opts = &g.opts;
        let tstamp_wanted = opts.rcvtstamp.then(|| {
            use crate::abi::consts::{
                SOF_TIMESTAMPING_OPT_RX_FILTER as RX_FILTER,
                SOF_TIMESTAMPING_RX_SOFTWARE as RX_SOFTWARE, SOF_TIMESTAMPING_SOFTWARE as SOFTWARE,
            };
            let f = opts.tsflags;
            crate::time::RecvStamp {
                ktime: 0,
                ns: opts.rcvtstampns,
                new: opts.tstamp_new,
                timestamping: f & SOFTWARE != 0 && (f & RX_FILTER == 0 || f & RX_SOFTWARE != 0),
            }
        });
        let (skb_len, name, cred, tstamp) = {
            let b = &mut g.recvq[index];
            // __sock_recv_timestamp: a message queued before the receiver
            // asked for stamps gets the time of this receive, kept for the
            // next one (a peek, then the read, report the same).
            let tstamp = tstamp_wanted.map(|stamp| {
                if b.tstamp == 0 {
                    b.tstamp = self.clock.ktime_get_real();
                }
                crate::time::RecvStamp {
                    ktime: b.tstamp,
                    ..stamp
                }
            });
            (
                b.data.len(),
                b.sender
                    .name()
                    .map(|a| a.to_kernel_bytes())
                    .unwrap_or_default(),
                b.cred,
                tstamp,
            )
        };
        let avail = skb_len - skip;
        let mut msg_flags = 0;
        let size = if len >= avail {
            avail
        } else {
            msg_flags |= MSG_TRUNC;
            len
        };
        let (passcred, passpidfd) = (g.passcred, g.passpidfd);
        let data;
        let fds = if peek {
            data = g.recvq[index]
                .data
                .as_slice()
                .get(skip..skip + size)
                .unwrap_or_default()
                .to_vec();
            let fds: crate::net::scm::FpList =
                g.recvq[index].fds.iter().map(|f| self.fget(f)).collect();
            if g.peek_off >= 0 {
                g.peek_off = g.peek_off.saturating_add(size as i32);
            }
            drop(g);
            fds
        } else {
            let mut skb = g
                .recvq
                .remove(index)
                .unwrap_or_else(|| unreachable!("index found above"));
            // The message leaves the queue: read whole, its bytes are the
            // caller's as they are (without MSG_PEEK the offset is 0).
            data = if size == skb.data.len() {
                std::mem::take(&mut skb.data).into_vec()
            } else {
                skb.data.as_slice().get(..size).unwrap_or_default().to_vec()
            };
            if g.peek_off >= 0 {
                g.peek_off = (g.peek_off - skb_len as i32).max(0);
            }
            // Room in our queue: wake senders waiting for it (peer_wait).
            s.wake_peers_locked(&mut g);
            drop(g);
            self.skb_consumed(s, skb)
        };
        let ret = if flags & MSG_TRUNC != 0 { avail } else { size };
        let control = self.scm_recv_unix(
            pid,
            controllen,
            flags,
            tstamp.as_ref(),
            passcred,
            passpidfd,
            RecvCred::Message(cred),
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
    pub(crate) fn unix_dgram_poll(&self, s: &Arc<Sock>, events: i16) -> i16 {
        let g = s.lock();
        let mut mask = 0;
        if g.err.is_some() {
            mask |= POLLERR;
        }
        if g.shutdown & RCV_SHUTDOWN != 0 {
            mask |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        if g.shutdown == SHUTDOWN_MASK {
            mask |= POLLHUP;
        }
        if !g.recvq.is_empty() || !g.accept_q.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if s.ty == SockType::Seqpacket && g.state == SockState::Close {
            mask |= POLLHUP;
        }
        if events & (POLLWRBAND | POLLWRNORM | POLLOUT) == 0 {
            return mask;
        }
        let mut writable = s.writable(&g);
        let peer = g.peer.clone();
        drop(g);
        if writable {
            if let Some(other) = peer.filter(|o| !Arc::ptr_eq(o, s)) {
                let og = other.lock();
                if !is(&og.peer, s) && !og.dead && recvq_full(&og) {
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
    pub(crate) fn unix_shutdown(&self, s: &Arc<Sock>, how: i32) -> Result<(), crate::errno::Error> {
        if !(SHUT_RD..=SHUT_RDWR).contains(&how) {
            crate::path::note(|| format!("how {how}"));
            return Err(
                Errno::EINVAL.why(rule!(unix_shutdown, "how is not SHUT_RD/SHUT_WR/SHUT_RDWR"))
            );
        }
        let mode = (how + 1) as u8;
        let peer = {
            let mut g = s.lock();
            g.shutdown |= mode;
            s.wake_all_locked(&mut g);
            g.peer.clone()
        };
        if let Some(other) = peer.filter(|o| s.ty.connection() && !Arc::ptr_eq(o, s)) {
            let mut peer_mode = 0;
            if mode & RCV_SHUTDOWN != 0 {
                peer_mode |= SEND_SHUTDOWN;
            }
            if mode & SEND_SHUTDOWN != 0 {
                peer_mode |= RCV_SHUTDOWN;
            }
            let mut og = other.lock();
            og.shutdown |= peer_mode;
            other.wake_all_locked(&mut og);
        }
        Ok(())
    }
}
