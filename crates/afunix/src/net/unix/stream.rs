//! Connection-oriented sockets: `unix_listen`, `unix_stream_connect`,
//! `unix_accept` (stream and seqpacket), and the stream byte path
//! (`unix_stream_sendmsg`, `unix_stream_read_generic`, `MSG_OOB`,
//! `unix_poll`, `SIOCATMARK`).
//!
//! A stream send or a `MSG_WAITALL` read may sleep part-way; what it has
//! done so far lives in a [`StreamProgress`] that survives the sleep, so
//! the call resumes where it stopped, as the kernel's loop does.

use super::{
    double_lock, PeerCred, SkbCred, Sock, SockInner, SockState, RCV_SHUTDOWN, SEND_SHUTDOWN,
    SHUTDOWN_MASK,
};
use crate::abi::consts::*;
use crate::errno::Errno;
use crate::net::scm::{RecvCred, ScmCookie};
use crate::net::skbuff::SkbData;
use crate::net::socket::MsgHdr;
use crate::process::RawPid;
use crate::security::SocketRef;
use crate::world::{Fail, KResult, Kernel, RecvMsg, Wait};
use std::sync::Arc;

/// `SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ`: the largest stream skb.
const STREAM_SKB_MAX: usize = (4096 - 320) + 32768;

/// What a socket call has done, and found, before it slept.
#[derive(Debug, Default)]
pub struct StreamProgress {
    /// `O_NONBLOCK` as the call found it at entry: the kernel turns it into
    /// `MSG_DONTWAIT` (or a zero timeout) once, so an `fcntl` while the
    /// call sleeps does not change how it waits.
    pub nonblock: Option<bool>,
    /// Send: bytes queued so far.
    pub sent: usize,
    /// Send: the cookie (files not yet attached to a message).
    pub cookie: Option<ScmCookie>,
    /// Send: the cookie was taken (`scm_send` ran).
    pub started: bool,
    /// Send: the checks before the loop passed; a resumed send goes on in
    /// the loop (where the kernel slept), not from the top.
    pub looping: bool,
    /// Receive: bytes gathered so far.
    pub(crate) out: SkbData,
    /// Receive: `msg_name` of the first message read.
    pub name: Option<Vec<u8>>,
    /// Receive: latched credentials (when SO_PASSCRED/SO_PASSPIDFD).
    pub creds: Option<Option<SkbCred>>,
    /// Receive: files collected (each with a reference).
    pub(crate) fds: crate::net::scm::FpList,
}

/// The bytes of the messages one pass of the send loop is about to queue,
/// copied into one buffer at once, so that a reader can take them back
/// without a copy (see `skbuff`). Only where the bytes live changes: every
/// message is still sized, checked and charged one by one.
#[derive(Default)]
struct SendBatch {
    /// The buffer and the offset in the caller's bytes of its first byte.
    buf: Option<(Arc<Vec<u8>>, usize)>,
}

impl SendBatch {
    /// `data[range]` as a message's bytes: a range of the batch when it
    /// holds them; else a new batch, up to the offset `plan` gives (a
    /// batch of one message gets bytes of its own).
    fn chunk(
        &mut self,
        data: &[u8],
        range: std::ops::Range<usize>,
        plan: impl FnOnce() -> usize,
    ) -> SkbData {
        if let Some((buf, from)) = &self.buf {
            if range.start >= *from && range.end <= from + buf.len() {
                return SkbData::shared(buf, range.start - from..range.end - from);
            }
        }
        let end = plan().clamp(range.end, data.len());
        let bytes = data.get(range.start..end).unwrap_or_default();
        if end == range.end {
            self.buf = None;
            return SkbData::Owned(bytes.to_vec());
        }
        let buf = Arc::new(bytes.to_vec());
        let first = SkbData::shared(&buf, 0..range.len());
        self.buf = Some((buf, range.start));
        first
    }
}

/// Where the messages of a send starting at byte `at` of `len` stop if
/// nothing else changes the send buffer meanwhile: the loop of
/// `unix_stream_sendmsg` queues messages of its chunk size while
/// `sk_wmem_alloc < sk_sndbuf` (the first one is already allowed).
fn batch_end(len: usize, mut at: usize, mut wmem: usize, sndbuf: usize) -> usize {
    let max = (sndbuf / 2).saturating_sub(64).clamp(1, STREAM_SKB_MAX);
    loop {
        let size = (len - at).min(max);
        at += size;
        wmem += super::stream_skb_truesize(size);
        if at >= len || wmem >= sndbuf {
            return at;
        }
    }
}

impl Kernel {
    fn peercred_of(&self, pid: RawPid) -> Result<Arc<PeerCred>, crate::errno::Error> {
        let p = self.proc(pid)?;
        Ok(Arc::new(PeerCred {
            pid,
            uid: p.cred.euid,
            gid: p.cred.egid,
            groups: Arc::clone(&p.cred.groups),
        }))
    }

    // unix_listen
    pub(crate) fn unix_listen(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        backlog: i32,
    ) -> Result<(), crate::errno::Error> {
        crate::path::step("unix_listen");
        if !s.ty.connection() {
            super::note_sock_of(s);
            return Err(Errno::EOPNOTSUPP.why(rule!(
                unix_listen,
                "only stream and seqpacket sockets listen"
            )));
        }
        if s.addr.get().is_none() {
            super::note_sock_of(s);
            return Err(Errno::EINVAL.why(rule!(unix_listen, "socket not bound")));
        }
        let pc = self.peercred_of(pid)?;
        let mut g = s.lock();
        if !matches!(g.state, SockState::Close | SockState::Listen) {
            super::note_sock(s, &g);
            return Err(Errno::EINVAL.why(rule!(unix_listen, "socket is connected")));
        }
        g.max_ack_backlog = backlog.max(0) as u32;
        g.state = SockState::Listen;
        g.peercred = Some(pc);
        // A larger backlog lets waiting connectors in (all of them).
        s.wake_peers_all_locked(&mut g);
        Ok(())
    }

    // unix_stream_connect
    pub(crate) fn unix_stream_connect(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        raw: &[u8],
        nonblock: bool,
    ) -> KResult<()> {
        crate::path::step("unix_stream_connect");
        let addr = crate::abi::sockaddr::parse_user_addr(raw)?;
        self.maybe_autobind(s)?;
        // unix_create1 of the embryo, first of all (before any lock).
        if self.fault(crate::fault::FaultPoint::UnixCreate1, pid) {
            return Err(crate::fault::FaultPoint::UnixCreate1.error().into());
        }
        let other = self.unix_find_other(pid, s.netns, &addr, s.ty)?;
        let connector = self.peercred_of(pid)?;
        let listener_checks = |og: &SockInner| -> KResult<()> {
            if og.state != SockState::Listen || og.shutdown & RCV_SHUTDOWN != 0 {
                return Err(Errno::ECONNREFUSED
                    .why(rule!(unix_stream_connect, "the target is not listening"))
                    .into());
            }
            if og.accept_q.len() > og.max_ack_backlog as usize {
                if nonblock {
                    return Err(Errno::EAGAIN
                        .why(rule!(
                            unix_stream_connect,
                            "the listener's backlog is full, non-blocking"
                        ))
                        .into());
                }
                // unix_wait_for_peer: sleep on the listener's peer_wait.
                return Err(Fail::Block(Wait::Peer(Arc::clone(&other), og.peer_seq)));
            }
            Ok(())
        };
        let own_checks = |g: &SockInner| -> KResult<()> {
            match g.state {
                SockState::Close => Ok(()),
                SockState::Established => Err(Errno::EISCONN
                    .why(rule!(unix_stream_connect, "already connected"))
                    .into()),
                SockState::Listen => Err(Errno::EINVAL
                    .why(rule!(unix_stream_connect, "the socket is listening"))
                    .into()),
            }
        };
        if Arc::ptr_eq(s, &other) {
            let g = s.lock();
            listener_checks(&g)?;
            own_checks(&g)?;
            return Err(Errno::EINVAL
                .why(rule!(unix_stream_connect, "the socket is listening"))
                .into());
        }
        let (mut g, mut og) = double_lock(s, &other);
        listener_checks(&og)?;
        own_checks(&g)?;
        self.lsm(pid, |sec, task| {
            sec.unix_stream_connect(task, SocketRef(s), SocketRef(&other))
        })?;
        // The embryo: the server's end, queued on the listener until accept.
        let newsk = self.unix_create1(s.ty, s.netns);
        {
            let mut n = newsk.lock();
            n.state = SockState::Established;
            n.peer = Some(Arc::clone(s));
            n.peercred = Some(connector);
            n.passcred = og.passcred;
            n.passpidfd = og.passpidfd;
            n.passrights = og.passrights;
            n.listener = Some(Arc::downgrade(&other));
        }
        if let Some(a) = other.name() {
            let _ = newsk.addr.set(Box::new(a.clone()));
        }
        g.peer = Some(Arc::clone(&newsk));
        g.state = SockState::Established;
        g.peercred = og.peercred.clone();
        self.gc_note_embryo(&newsk, &other);
        og.accept_q.push_back(newsk);
        other.wake_locked(&mut og);
        Ok(())
    }

    // unix_accept
    pub(crate) fn unix_accept(&self, s: &Arc<Sock>, nonblock: bool) -> KResult<Arc<Sock>> {
        crate::path::step("unix_accept");
        if !s.ty.connection() {
            super::note_sock_of(s);
            return Err(Errno::EOPNOTSUPP
                .why(rule!(sock_no_accept, "a datagram socket has no accept"))
                .into());
        }
        let mut g = s.lock();
        if g.state != SockState::Listen {
            super::note_sock(s, &g);
            return Err(Errno::EINVAL
                .why(rule!(unix_accept, "the socket is not listening"))
                .into());
        }
        let Some(new) = g.accept_q.pop_front() else {
            // skb_recv_datagram: the error, then EAGAIN without waiting;
            // only a wait notices the shutdown (and accept says EINVAL).
            if let Some(e) = g.take_err() {
                return Err(e.into());
            }
            if nonblock {
                super::note_sock(s, &g);
                return Err(Errno::EAGAIN
                    .why(rule!(unix_accept, "no pending connection, non-blocking"))
                    .into());
            }
            if g.shutdown & RCV_SHUTDOWN != 0 {
                super::note_sock(s, &g);
                return Err(Errno::EINVAL
                    .why(rule!(unix_accept, "the listener was shut down for reading"))
                    .into());
            }
            // unix_accept → skb_recv_datagram: an exclusive wait.
            return Err(Fail::Block(Wait::Sock(Arc::clone(s), g.seq, true)));
        };
        // Room in the backlog: wake connectors.
        s.wake_peers_locked(&mut g);
        drop(g);
        new.lock().listener = None;
        self.gc_forget_embryo(&new);
        Ok(new)
    }

    // unix_stream_sendmsg: the cookie's files ride on the first skb.
    pub(crate) fn unix_stream_sendmsg(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        msg: &MsgHdr<'_>,
        flags: i32,
        pr: &mut StreamProgress,
    ) -> KResult<usize> {
        crate::path::step("unix_stream_sendmsg");
        if !pr.started {
            pr.cookie = Some(self.scm_send(pid, msg.control)?);
            pr.started = true;
        }
        let r = self.stream_send(pid, s, msg, flags, pr);
        if !matches!(r, Err(Fail::Block(_))) {
            if let Some(c) = pr.cookie.take() {
                self.scm_destroy(c);
            }
        }
        r
    }

    fn stream_send(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        msg: &MsgHdr<'_>,
        flags: i32,
        pr: &mut StreamProgress,
    ) -> KResult<usize> {
        let data = msg.data();
        let oob = flags & MSG_OOB != 0;
        let mut len = data.len();
        if oob {
            if len == 0 {
                crate::path::note(|| "MSG_OOB with 0 bytes".to_string());
                return Err(Errno::EOPNOTSUPP
                    .why(rule!(unix_stream_sendmsg, "MSG_OOB with no data"))
                    .into());
            }
            len -= 1;
        }
        let nosignal = flags & MSG_NOSIGNAL != 0;
        let nonblock = flags & MSG_DONTWAIT != 0;
        let (other, sk_passcred) = {
            let g = s.lock();
            if msg.name.is_some() {
                super::note_sock(s, &g);
                return Err(if g.state == SockState::Established {
                    Errno::EISCONN.why(rule!(
                        unix_stream_sendmsg,
                        "a destination on a connected stream"
                    ))
                } else {
                    Errno::EOPNOTSUPP.why(rule!(
                        unix_stream_sendmsg,
                        "a destination on a stream socket"
                    ))
                }
                .into());
            }
            let Some(other) = g.peer.clone() else {
                super::note_sock(s, &g);
                return Err(Errno::ENOTCONN
                    .why(rule!(unix_stream_sendmsg, "not connected"))
                    .into());
            };
            if !pr.looping && g.shutdown & SEND_SHUTDOWN != 0 {
                super::note_sock(s, &g);
                drop(g);
                if !nosignal {
                    self.raise_sigpipe(pid);
                }
                return Err(Errno::EPIPE
                    .why(rule!(
                        unix_stream_sendmsg,
                        "shut down for writing (or the peer closed)"
                    ))
                    .into());
            }
            (other, g.may_passcred())
        };
        pr.looping = true;
        let mut err: Option<crate::errno::Error> = None;
        let mut batch = SendBatch::default();
        while pr.sent < len {
            // The chunk size is read before sock_alloc_send_pskb's checks.
            let sndbuf = {
                let mut g = s.lock();
                let sndbuf = g.sndbuf.max(0) as usize;
                if let Some(e) = g.take_err() {
                    err = Some(e);
                    break;
                }
                if g.shutdown & SEND_SHUTDOWN != 0 {
                    super::note_sock(s, &g);
                    err = Some(
                        Errno::EPIPE.why(rule!(sock_alloc_send_pskb, "shut down for writing")),
                    );
                    break;
                }
                if s.wmem() >= sndbuf {
                    if nonblock {
                        crate::path::note(|| {
                            format!("sk_wmem_alloc {} >= sk_sndbuf {sndbuf}", s.wmem())
                        });
                        err = Some(
                            Errno::EAGAIN
                                .why(rule!(sock_alloc_send_pskb, "the send buffer is full")),
                        );
                        break;
                    }
                    // sock_wait_for_wmem: not exclusive.
                    return Err(Fail::Block(Wait::Sock(Arc::clone(s), g.seq, false)));
                }
                sndbuf
            };
            // alloc_skb_with_frags; a signal once part is queued.
            if self.fault(crate::fault::FaultPoint::SockAllocSendPskb, pid) {
                err = Some(crate::fault::FaultPoint::SockAllocSendPskb.error());
                break;
            }
            if pr.sent > 0 && self.fault(crate::fault::FaultPoint::ShortWrite, pid) {
                err = Some(crate::fault::FaultPoint::ShortWrite.error());
                break;
            }
            // sndbuf is at least SOCK_MIN_SNDBUF, so a chunk is never empty.
            let size =
                (len - pr.sent).min((sndbuf / 2).saturating_sub(64).clamp(1, STREAM_SKB_MAX));
            let fds_here = pr.cookie.as_ref().is_some_and(|c| !c.fp.is_empty());
            if fds_here
                && pr
                    .cookie
                    .as_ref()
                    .is_some_and(|c| self.too_many_unix_fds(c))
            {
                err = Some(Errno::ETOOMANYREFS.why(rule!(
                    unix_attach_fds,
                    "too_many_unix_fds (the sender has RLIMIT_NOFILE fds in flight)"
                )));
                break;
            }
            let mut og = other.lock();
            if og.dead || og.shutdown & RCV_SHUTDOWN != 0 {
                drop(og);
                if pr.sent == 0 && !nosignal {
                    self.raise_sigpipe(pid);
                }
                err = Some(Errno::EPIPE.why(rule!(
                    unix_stream_sendmsg,
                    "the peer is gone or shut down reading"
                )));
                break;
            }
            if fds_here && !og.passrights {
                crate::path::note(|| format!("#{} has SO_PASSRIGHTS 0", other.id));
                err = Some(Errno::EPERM.why(rule!(
                    unix_stream_sendmsg,
                    "the receiver refuses SCM_RIGHTS (SO_PASSRIGHTS=0)",
                )));
                break;
            }
            let part = self.cookie_part(pr, fds_here);
            let cred = self.unix_skb_cred(pid, sk_passcred, &og, &part);
            let chunk = batch.chunk(data, pr.sent..pr.sent + size, || {
                batch_end(len, pr.sent, s.wmem(), sndbuf)
            });
            let skb = self.unix_new_skb(s, chunk, part, cred, &mut og);
            self.unix_add_edges(&other, &og, &skb);
            og.skb_queue_tail(skb);
            other.wake_locked(&mut og);
            pr.sent += size;
        }
        if err.is_none() && oob {
            // queue_oob
            let mut og = other.lock();
            if og.dead || og.shutdown & RCV_SHUTDOWN != 0 {
                crate::net::unix::note_sock(&other, &og);
                err = Some(
                    Errno::EPIPE.why(rule!(queue_oob, "the peer is gone or shut down reading")),
                );
            } else if pr.cookie.as_ref().is_some_and(|c| !c.fp.is_empty()) && !og.passrights {
                crate::path::note(|| format!("#{} has SO_PASSRIGHTS 0", other.id));
                err = Some(Errno::EPERM.why(rule!(queue_oob, "the receiver refuses SCM_RIGHTS")));
            } else {
                let part = self.cookie_part(pr, true);
                let cred = self.unix_skb_cred(pid, sk_passcred, &og, &part);
                let byte = data.get(len..len + 1).unwrap_or_default().to_vec().into();
                let skb = self.unix_new_skb(s, byte, part, cred, &mut og);
                self.unix_add_edges(&other, &og, &skb);
                // The empty leftover of a previous, already read OOB byte goes.
                let stale = if og.recvq.back().is_some_and(|b| b.unread() == 0) {
                    og.recvq.pop_back()
                } else {
                    None
                };
                og.oob_skb = Some(skb.id);
                og.skb_queue_tail(skb);
                other.wake_locked(&mut og);
                drop(og);
                self.send_sigurg(&other);
                if let Some(stale) = stale {
                    self.skbs_free(&other, vec![stale]);
                }
                pr.sent += 1;
            }
        }
        match err {
            Some(e) if pr.sent == 0 => Err(e.into()),
            _ => Ok(pr.sent),
        }
    }

    /// The part of the cookie the next skb carries: the files ride once.
    fn cookie_part(&self, pr: &mut StreamProgress, with_fds: bool) -> ScmCookie {
        let creds = pr.cookie.as_ref().and_then(|c| c.creds);
        let user = pr.cookie.as_ref().and_then(|c| c.user.clone());
        let inflight_max = pr.cookie.as_ref().map_or(0, |c| c.inflight_max);
        let fp = if with_fds {
            pr.cookie
                .as_mut()
                .map(|c| std::mem::take(&mut c.fp))
                .unwrap_or_default()
        } else {
            crate::net::scm::FpList::default()
        };
        ScmCookie {
            fp,
            creds,
            user,
            inflight_max,
        }
    }

    // unix_stream_read_generic (recvmsg flavour)
    pub(crate) fn unix_stream_recvmsg(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        len: usize,
        controllen: usize,
        flags: i32,
        pr: &mut StreamProgress,
    ) -> KResult<RecvMsg> {
        crate::path::step("unix_stream_recvmsg");
        if s.lock().state != SockState::Established {
            super::note_sock_of(s);
            return Err(Errno::EINVAL
                .why(rule!(
                    unix_stream_read_generic,
                    "the socket is not connected"
                ))
                .into());
        }
        if flags & MSG_OOB != 0 {
            return Ok(self.unix_stream_recv_urg(pid, s, len, controllen, flags)?);
        }
        let peek = flags & MSG_PEEK != 0;
        let nonblock = flags & MSG_DONTWAIT != 0;
        let mut g = s.lock();
        // sock_rcvlowat: never 0 (`v ?: 1`).
        let target = if flags & MSG_WAITALL != 0 {
            len
        } else {
            (g.rcvlowat.max(1) as usize).min(len)
        }
        .max(1);
        let mut skip = if peek {
            g.peek_off.max(0) as usize + pr.out.len()
        } else {
            0
        };
        let may_passcred = g.may_passcred();
        let mut consumed = Vec::new();
        let mut err: Option<crate::errno::Error> = None;
        'outer: loop {
            if g.dead {
                err = Some(
                    Errno::ECONNRESET.why(rule!(unix_stream_read_generic, "the socket is dead")),
                );
                break;
            }
            let mut idx = 0usize;
            loop {
                let copied = pr.out.len();
                let mut have = g.recvq.get(idx).is_some();
                if have {
                    match manage_oob(&mut g, idx, peek, copied, &mut consumed) {
                        Some(i) => idx = i,
                        None if copied > 0 => break 'outer,
                        None => have = false,
                    }
                    have = have && g.recvq.get(idx).is_some();
                }
                if !have {
                    if copied >= target {
                        break 'outer;
                    }
                    if let Some(e) = g.take_err() {
                        err = Some(e);
                        break 'outer;
                    }
                    if g.shutdown & RCV_SHUTDOWN != 0 {
                        break 'outer;
                    }
                    if nonblock {
                        super::note_sock(s, &g);
                        err = Some(
                            Errno::EAGAIN
                                .why(rule!(unix_stream_read_generic, "no data, non-blocking")),
                        );
                        break 'outer;
                    }
                    // unix_stream_data_wait: prepare_to_wait, not exclusive.
                    let wait = Wait::Sock(Arc::clone(s), g.seq, false);
                    drop(g);
                    self.stream_consumed(s, consumed);
                    return Err(Fail::Block(wait));
                }
                // Skip the peek offset.
                while let Some(b) = g.recvq.get(idx) {
                    if skip < b.unread() {
                        break;
                    }
                    skip -= b.unread();
                    idx += 1;
                }
                let Some(b) = g.recvq.get(idx) else { continue };
                let (cred, unread) = (b.cred, b.unread());
                match pr.creds {
                    Some(c) if c != cred => break 'outer,
                    Some(_) => {}
                    None if may_passcred => pr.creds = Some(cred),
                    None => {}
                }
                if pr.name.is_none() {
                    pr.name = Some(
                        b.sender
                            .name()
                            .map(|a| a.to_kernel_bytes())
                            .unwrap_or_default(),
                    );
                }
                let chunk = (unread - skip).min(len - copied);
                let start = b.consumed + skip;
                // A read that takes a whole message of its own first takes
                // its bytes as they are; a shared one's range is gathered
                // (see `skbuff`); anything else is copied.
                let whole = !peek
                    && copied == 0
                    && start == 0
                    && chunk == b.data.len()
                    && matches!(b.data, SkbData::Owned(_));
                if !whole {
                    pr.out.extend_from(&b.data, start..start + chunk);
                }
                let size_left = len - (copied + chunk);
                if !peek {
                    let b = &mut g.recvq[idx];
                    if whole {
                        pr.out = std::mem::take(&mut b.data);
                    }
                    b.consumed += chunk;
                    let had_fds = !b.fds.is_empty();
                    if had_fds {
                        // unix_detach_fds → scm_stat_del → unix_del_edges.
                        pr.fds = std::mem::take(&mut b.fds);
                        let (id, user) = (b.id, b.fp_user.clone());
                        self.unix_del_edges_fds(s, id, user.as_deref(), &pr.fds, false);
                    }
                    let rest = b.unread();
                    if g.peek_off >= 0 {
                        g.peek_off = (g.peek_off - chunk as i32).max(0);
                    }
                    if rest > 0 {
                        break 'outer;
                    }
                    if let Some(skb) = g.recvq.remove(idx) {
                        if g.oob_skb == Some(skb.id) {
                            g.oob_skb = None;
                        }
                        consumed.push(skb);
                    }
                    if had_fds || size_left == 0 {
                        break 'outer;
                    }
                    continue 'outer;
                }
                let b_fds: crate::net::scm::FpList =
                    g.recvq[idx].fds.iter().map(|f| self.fget(f)).collect();
                if g.peek_off >= 0 {
                    g.peek_off = g.peek_off.saturating_add(chunk as i32);
                }
                if !b_fds.is_empty() {
                    pr.fds = b_fds;
                    break 'outer;
                }
                skip = 0;
                idx += 1;
                // A peek goes on to the next message even with the buffer
                // full (`goto again`): a zero-byte chunk of it still brings
                // its fds.
                if g.recvq.get(idx).is_none() {
                    break 'outer;
                }
            }
        }
        if !consumed.is_empty() {
            s.wake_locked(&mut g);
        }
        drop(g);
        self.stream_consumed(s, consumed);
        if pr.out.is_empty() {
            if let Some(e) = err {
                for f in std::mem::take(&mut pr.fds) {
                    self.fput(f);
                }
                return Err(e.into());
            }
        }
        Ok(self.stream_recv_finish(pid, s, controllen, flags, pr))
    }

    /// Messages a read used up: uncharge their senders and drop them.
    fn stream_consumed(&self, s: &Sock, skbs: Vec<super::Skb>) {
        for skb in skbs {
            let fds = self.skb_consumed(s, skb);
            for f in fds {
                self.fput(f);
            }
        }
    }

    /// The result of a stream read from what it collected (also used when
    /// a `MSG_WAITALL` read that already copied something times out).
    pub(crate) fn stream_recv_finish(
        &self,
        pid: RawPid,
        s: &Sock,
        controllen: usize,
        flags: i32,
        pr: &mut StreamProgress,
    ) -> RecvMsg {
        let (passcred, passpidfd, inq) = {
            let g = s.lock();
            let inq = g
                .recv_inq
                .then(|| s.stream_inq(&g).min(i32::MAX as usize) as i32);
            (g.passcred, g.passpidfd, inq)
        };
        let mut msg_flags = 0;
        let cred = match pr.creds {
            None => RecvCred::NoMessage,
            Some(c) => RecvCred::Message(c),
        };
        let fds = std::mem::take(&mut pr.fds);
        let control = self.scm_recv_unix(
            pid,
            controllen,
            flags,
            None,
            passcred,
            passpidfd,
            cred,
            fds,
            inq,
            &mut msg_flags,
        );
        let data = std::mem::take(&mut pr.out).into_vec();
        RecvMsg {
            ret: data.len(),
            data,
            name: pr.name.take().unwrap_or_default(),
            control,
            flags: msg_flags,
        }
    }

    // unix_stream_recv_urg
    fn unix_stream_recv_urg(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        len: usize,
        controllen: usize,
        flags: i32,
    ) -> Result<RecvMsg, crate::errno::Error> {
        let mut g = s.lock();
        let Some(oob) = g.oob_skb.filter(|_| !g.oobinline) else {
            crate::path::note(|| {
                format!(
                    "oob_skb {}, SO_OOBINLINE {}",
                    if g.oob_skb.is_some() { "set" } else { "none" },
                    g.oobinline
                )
            });
            return Err(Errno::EINVAL.why(rule!(
                unix_stream_recv_urg,
                "no OOB byte pending (or SO_OOBINLINE)"
            )));
        };
        let Some(idx) = g.recvq.iter().position(|b| b.id == oob) else {
            return Err(Errno::EINVAL.why(rule!(unix_stream_recv_urg, "the OOB byte is gone")));
        };
        let peek = flags & MSG_PEEK != 0;
        let byte = g.recvq[idx].data.as_slice().last().copied();
        let data: Vec<u8> = if len == 0 {
            Vec::new()
        } else {
            byte.into_iter().collect()
        };
        // The byte is taken (and 1 returned) even when the buffer has no
        // room for it: the copy of 1 byte into 0 is a short copy without
        // a fault, and the actor reports its chunk.
        if !peek {
            g.oob_skb = None;
            g.recvq[idx].consumed += 1;
        }
        drop(g);
        let mut msg_flags = MSG_OOB;
        let control = self.scm_recv_unix(
            pid,
            controllen,
            flags,
            None,
            false,
            false,
            RecvCred::NoMessage,
            crate::net::scm::FpList::default(),
            None,
            &mut msg_flags,
        );
        Ok(RecvMsg {
            ret: 1,
            data,
            name: Vec::new(),
            control,
            flags: msg_flags,
        })
    }

    /// `SIOCATMARK`.
    pub(crate) fn unix_atmark(&self, s: &Sock) -> bool {
        let g = s.lock();
        let Some(head) = g.recvq.front() else {
            // A listener's queue holds one empty skb per pending embryo:
            // a zero-length head with no OOB byte reads as the mark.
            return !g.accept_q.is_empty() && g.oob_skb.is_none();
        };
        let next = g.recvq.get(1).map(|b| b.id);
        Some(head.id) == g.oob_skb
            || (head.unread() == 0 && (g.oob_skb.is_none() || next == g.oob_skb))
    }

    // unix_poll
    pub(crate) fn unix_poll(&self, s: &Sock, _events: i16) -> i16 {
        let g = s.lock();
        let mut mask = 0;
        if g.err.is_some() {
            mask |= POLLERR;
        }
        if g.shutdown == SHUTDOWN_MASK {
            mask |= POLLHUP;
        }
        if g.shutdown & RCV_SHUTDOWN != 0 {
            mask |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        if !g.recvq.is_empty() || !g.accept_q.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if g.oob_skb.is_some() {
            mask |= POLLPRI;
        }
        if s.ty.connection() && g.state == SockState::Close {
            mask |= POLLHUP;
        }
        if s.writable(&g) {
            mask |= POLLOUT | POLLWRNORM | POLLWRBAND;
        }
        mask
    }
}

/// `manage_oob`: what a normal read does at the OOB mark. Returns the
/// index of the skb to read from, or `None` to stop (or, with nothing
/// copied, to treat the queue as empty). Dropped skbs go to `dropped`.
fn manage_oob(
    g: &mut SockInner,
    mut idx: usize,
    peek: bool,
    copied: usize,
    dropped: &mut Vec<super::Skb>,
) -> Option<usize> {
    let oob = g.oob_skb;
    let (id, unread) = {
        let b = g.recvq.get(idx)?;
        (b.id, b.unread())
    };
    let mut cur = Some(id);
    if unread == 0 {
        if copied > 0 && (oob.is_none() || Some(id) == oob) {
            return None;
        } else if peek {
            idx += 1;
        } else if let Some(skb) = g.recvq.remove(idx) {
            if g.oob_skb == Some(skb.id) {
                g.oob_skb = None;
            }
            dropped.push(skb);
        }
        cur = g.recvq.get(idx).map(|b| b.id);
        cur?;
    }
    if oob.is_none() || cur != oob {
        return Some(idx);
    }
    if copied > 0 {
        return None;
    }
    if !peek {
        g.oob_skb = None;
        if !g.oobinline {
            if let Some(skb) = g.recvq.remove(idx) {
                // The kernel never takes a dropped OOB byte off inq_len.
                g.inq_leak += skb.unread();
                dropped.push(skb);
            }
            return g.recvq.get(idx).map(|_| idx);
        }
        Some(idx)
    } else if !g.oobinline {
        let next = idx + 1;
        g.recvq.get(next).map(|_| next)
    } else {
        Some(idx)
    }
}
