//! Unix sockets (`net/unix/af_unix.c`): the socket object with its own
//! lock and wait queue, its queue of messages, creation and release, and
//! the address space.

pub mod addr;
pub mod dgram;
pub mod gc;
pub mod stream;

use crate::abi::filter::Program;
use crate::abi::sockaddr::UnixAddr;
use crate::errno::Errno;
use crate::fs::file::File;
use crate::lockdep::{LockClass, Ordered};
use crate::process::RawPid;
use crate::world::{lock, Kernel};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

/// `sk_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SockType {
    /// `SOCK_STREAM`.
    Stream,
    /// `SOCK_DGRAM`.
    Dgram,
    /// `SOCK_SEQPACKET`.
    Seqpacket,
}

impl SockType {
    /// From the type bits of `socket()`'s argument; `ESOCKTNOSUPPORT`
    /// otherwise (`unix_create`; `SOCK_RAW` quietly becomes `SOCK_DGRAM`).
    ///
    /// # Errors
    /// `ESOCKTNOSUPPORT` for a type unix sockets do not have.
    pub fn from_raw(ty: i32) -> Result<SockType, crate::errno::Error> {
        use crate::abi::consts::*;
        match ty {
            SOCK_STREAM => Ok(SockType::Stream),
            SOCK_DGRAM | 3 => Ok(SockType::Dgram),
            SOCK_SEQPACKET => Ok(SockType::Seqpacket),
            _ => {
                crate::path::note(|| format!("type {ty}"));
                Err(Errno::ESOCKTNOSUPPORT
                    .why(rule!(unix_create, "type not stream/dgram/seqpacket")))
            }
        }
    }

    /// Its name as the scenario language and the CLI write it
    /// (`stream`, `dgram`, `seqpacket`).
    pub fn name(self) -> &'static str {
        match self {
            SockType::Stream => "stream",
            SockType::Dgram => "dgram",
            SockType::Seqpacket => "seqpacket",
        }
    }

    /// The type with this [`name`](SockType::name).
    pub fn from_name(name: &str) -> Option<SockType> {
        [SockType::Stream, SockType::Dgram, SockType::Seqpacket]
            .into_iter()
            .find(|t| t.name() == name)
    }

    /// The `SOCK_*` number.
    pub fn raw(self) -> i32 {
        match self {
            SockType::Stream => 1,
            SockType::Dgram => 2,
            SockType::Seqpacket => 5,
        }
    }

    /// Connection-oriented (stream or seqpacket).
    pub fn connection(self) -> bool {
        self != SockType::Dgram
    }
}

/// `sk_state` (the kernel reuses TCP's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockState {
    /// `TCP_CLOSE`: unconnected.
    Close,
    /// `TCP_LISTEN`.
    Listen,
    /// `TCP_ESTABLISHED`: connected (for dgram: has a peer).
    Established,
}

/// `RCV_SHUTDOWN`.
pub const RCV_SHUTDOWN: u8 = 1;
/// `SEND_SHUTDOWN`.
pub const SEND_SHUTDOWN: u8 = 2;
/// `SHUTDOWN_MASK`.
pub const SHUTDOWN_MASK: u8 = 3;

/// Credentials carried by a message (`UNIXCB(skb).pid/uid/gid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkbCred {
    /// The sender's pid (`None`: no pid attached).
    pub pid: Option<RawPid>,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
}

/// The credentials a peer had at connect/listen/socketpair time (`sk_peer_cred`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCred {
    /// pid.
    pub pid: RawPid,
    /// euid.
    pub uid: u32,
    /// egid.
    pub gid: u32,
    /// Supplementary groups (the process's `group_info`, shared).
    pub groups: Arc<[u32]>,
}

/// One queued message (`struct sk_buff` with its `unix_skb_parms`).
///
/// Ownership: the message holds one `f_count` reference to every file in
/// `fds` (`scm_fp_list`); it is dropped when the message is consumed
/// (the receiver installs or drops the files) or purged, never earlier.
/// `sender` keeps the sending socket's memory (for its address and wmem).
#[derive(Debug)]
pub struct Skb {
    /// Unique id (to recognise the OOB skb).
    pub id: u64,
    /// The payload.
    pub(crate) data: crate::net::skbuff::SkbData,
    /// Bytes of a stream skb already read (`UNIXCB(skb).consumed`).
    pub consumed: usize,
    /// Passed files, in order.
    pub(crate) fds: crate::net::scm::FpList,
    /// Credentials attached at send time.
    pub cred: Option<SkbCred>,
    /// The sending socket (`skb->sk`).
    pub sender: Arc<Sock>,
    /// Bytes charged to the sender's `sk_wmem_alloc`.
    pub truesize: usize,
    /// The account of the user who sent the fds (`fpl->user`; `None`
    /// when the message carries none).
    pub fp_user: Option<Arc<crate::process::UserStruct>>,
    /// `skb->tstamp`: when it was queued (ns since the epoch) if the
    /// receiver asked for timestamps then, else 0 (set by the first
    /// receive that reports one).
    pub tstamp: u64,
}

impl Skb {
    /// Bytes not yet read.
    pub fn unread(&self) -> usize {
        self.data.len().saturating_sub(self.consumed)
    }
}

/// A unix socket (`struct unix_sock` with its `struct sock`).
#[derive(Debug)]
pub struct Sock {
    /// A unique number; also the lock order of `unix_state_double_lock`.
    pub id: u64,
    /// `sk_type`.
    pub ty: SockType,
    /// `sock_net(sk)`: the network namespace it was created in (a label).
    pub netns: u32,
    /// Inode number (`sock_i_ino`).
    pub ino: u64,
    /// The socket file a pathname bind made (`u->path`): its inode.
    pub(crate) path_ino: OnceLock<u64>,
    /// The bound address (`u->addr`): set once, never changed.
    pub addr: OnceLock<Box<UnixAddr>>,
    /// `sk_wmem_alloc`: truesize of this socket's messages still queued.
    pub wmem: AtomicUsize,
    /// `sk_rcvtimeo` (`SO_RCVTIMEO`), read without the lock as
    /// `sock_rcvtimeo` reads it.
    pub(crate) rcvtimeo: Timeo,
    /// `sk_sndtimeo` (`SO_SNDTIMEO`).
    pub(crate) sndtimeo: Timeo,
    /// `sk_filter` is set: the sender looks at the receiver's filter only
    /// then (the kernel reads the pointer under RCU, not the socket lock).
    pub(crate) has_filter: std::sync::atomic::AtomicBool,
    /// In a name table (bound or autobound; `!sk_unhashed`): an accepted
    /// socket shares its listener's address without being in one.
    pub(crate) hashed: std::sync::atomic::AtomicBool,
    /// `u->vertex->out_degree`: copies of this socket's file in flight
    /// (kept under the collector's lock; read without it by `fput`, to
    /// tell the collector when only in-flight copies are left).
    pub(crate) inflight: AtomicUsize,
    /// `unix_sk(sk)->vertex`: its vertex's slot in the collector's slab
    /// while it is in flight, else `gc::NO_VERTEX` (written under the
    /// collector's lock).
    pub(crate) gc_vertex: std::sync::atomic::AtomicU32,
    /// `scm_stat.nr_fds`: files of other sockets in messages queued on
    /// this one (the collector's edges into it; under its lock).
    pub(crate) gc_queued_fds: std::sync::atomic::AtomicU32,
    /// Everything else, under the socket's lock (`unix_state_lock`).
    pub inner: Mutex<SockInner>,
    /// The socket's own wait queue (`sk_wq`): readers, accepters, and
    /// writers waiting for room in their own send buffer sleep here.
    pub wait: Condvar,
    /// `u->peer_wait`: senders waiting for room in this socket's queue and
    /// connectors waiting for room in its backlog sleep here.
    pub peer_wait: Condvar,
}

/// A decision note on the socket's state, while a path is recorded: what
/// the state rules of `unix_*` decide on (`#3 stream listening, bound to
/// @a, shut down for reading, 2 queued`).
pub(crate) fn note_sock(s: &Sock, g: &SockInner) {
    crate::path::note(|| {
        let ty = s.ty.name();
        let state = match g.state {
            SockState::Close if g.peer.is_none() => "unconnected",
            SockState::Close => "disconnected",
            SockState::Listen => "listening",
            SockState::Established => "connected",
        };
        let mut t = format!("#{} {ty} {state}", s.id);
        match s.addr.get() {
            Some(a) => t.push_str(&format!(", bound to {a}")),
            None => t.push_str(", unbound"),
        }
        if let Some(p) = &g.peer {
            t.push_str(&format!(", peer #{}", p.id));
        }
        match g.shutdown & (RCV_SHUTDOWN | SEND_SHUTDOWN) {
            0 => {}
            RCV_SHUTDOWN => t.push_str(", shut down for reading"),
            SEND_SHUTDOWN => t.push_str(", shut down for writing"),
            _ => t.push_str(", shut down both ways"),
        }
        if g.dead {
            t.push_str(", dead");
        }
        t.push_str(&format!(", {} queued", g.recvq.len()));
        t
    });
}

/// The decision note of a pending `sk_err` handed to a caller.
#[cold]
fn note_err(e: crate::errno::Error) {
    crate::path::note(|| format!("sk_err {:?} was set by an earlier event", e.errno));
}

/// [`note_sock`] for a socket whose lock the caller does not hold: takes
/// it only while a path is recorded.
pub(crate) fn note_sock_of(s: &Sock) {
    if crate::path::recording() {
        note_sock(s, &s.lock());
    }
}

/// The locked part of a socket.
#[derive(Debug)]
pub struct SockInner {
    /// `sk_state`.
    pub state: SockState,
    /// Its file while it has a `struct socket` (`None` for an embryo).
    pub file: Option<Weak<File>>,
    /// `unix_peer(sk)`.
    pub peer: Option<Arc<Sock>>,
    /// `sk_shutdown`.
    pub shutdown: u8,
    /// `SOCK_DEAD`: released (unhashed, orphaned).
    pub dead: bool,
    /// `sk_err`.
    pub err: Option<crate::errno::Error>,
    /// `sk_receive_queue`.
    pub recvq: VecDeque<Skb>,
    /// For a listener: embryos waiting for `accept`, oldest first.
    pub accept_q: Cold<VecDeque<Arc<Sock>>>,
    /// For an embryo: its listener.
    pub listener: Option<Weak<Sock>>,
    /// `sk_sndbuf`.
    pub sndbuf: i32,
    /// `sk_rcvbuf`.
    pub rcvbuf: i32,
    /// `SO_PASSCRED`.
    pub passcred: bool,
    /// `SO_PASSPIDFD`.
    pub passpidfd: bool,
    /// `SO_PASSRIGHTS` (default on).
    pub passrights: bool,
    /// `SO_OOBINLINE`.
    pub oobinline: bool,
    /// `SO_INQ` (stream).
    pub recv_inq: bool,
    /// `SO_PEEK_OFF` (-1: off).
    pub peek_off: i32,
    /// `SO_RCVLOWAT`.
    pub rcvlowat: i32,
    /// `sk_max_ack_backlog`: the dgram queue limit, or the listen backlog.
    pub max_ack_backlog: u32,
    /// `sk_peer_cred`/`sk_peer_pid`: a reference, as `get_cred` takes one
    /// (both ends of a socketpair share theirs; an accepted socket shares
    /// its listener's, `copy_peercred`).
    pub peercred: Option<Arc<PeerCred>>,
    /// `sk_filter`.
    pub filter: Option<Arc<Program>>,
    /// `u->oob_skb`: the id of the skb holding the current OOB byte.
    pub oob_skb: Option<u64>,
    /// Generation of `wait`: bumped at every wake-up.
    pub seq: u64,
    /// The id the next message queued here gets (ids are compared only
    /// within one queue, to recognise the OOB message).
    pub next_skb: u64,
    /// Generation of `peer_wait`.
    pub peer_seq: u64,
    /// Stream `u->inq_len` drift: OOB bytes dropped by a normal read are
    /// never taken off the kernel's count (`manage_oob`), so they stay in
    /// what `SIOCINQ` and `SCM_INQ` report.
    pub inq_leak: usize,
    /// The sleepers of `sk_wq`, in order.
    pub(crate) waiters: Cold<crate::world::WaitList>,
    /// The sleepers of `peer_wait`, in order.
    pub(crate) peer_waiters: Cold<crate::world::WaitList>,
    /// The generic options only the option calls read (`sk_setsockopt`).
    pub opts: Cold<crate::net::sockopt::SockOpts>,
}

/// A part of a socket most sockets never use (the option store, the
/// accept queue, the sleepers' lists): read through `Deref` as its empty
/// value until something is written to it through `DerefMut`, which
/// allocates it. An idle socket pays a pointer for each, not the part.
pub struct Cold<T: Empty>(Option<Box<T>>);

/// The value a [`Cold`] part reads as before it is allocated.
pub trait Empty: Default + 'static {
    /// The empty value, shared.
    fn empty() -> &'static Self;
}

impl<T: Empty> Default for Cold<T> {
    fn default() -> Self {
        Cold(None)
    }
}

impl<T: Empty> std::ops::Deref for Cold<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self.0.as_deref() {
            Some(t) => t,
            None => T::empty(),
        }
    }
}

impl<T: Empty> std::ops::DerefMut for Cold<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: Empty + std::fmt::Debug> std::fmt::Debug for Cold<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl Empty for crate::net::sockopt::SockOpts {
    fn empty() -> &'static Self {
        static EMPTY: OnceLock<crate::net::sockopt::SockOpts> = OnceLock::new();
        EMPTY.get_or_init(Default::default)
    }
}

impl Empty for crate::world::WaitList {
    fn empty() -> &'static Self {
        static EMPTY: crate::world::WaitList = crate::world::WaitList::new();
        &EMPTY
    }
}

impl Empty for VecDeque<Arc<Sock>> {
    fn empty() -> &'static Self {
        static EMPTY: VecDeque<Arc<Sock>> = VecDeque::new();
        &EMPTY
    }
}

/// The smallest `sk_sndbuf` (`SOCK_MIN_SNDBUF`, measured on 6.18: 4608).
pub const SOCK_MIN_SNDBUF: i32 = 4608;
/// The smallest `sk_rcvbuf` (`SOCK_MIN_RCVBUF`, measured on 6.18: 2304).
pub const SOCK_MIN_RCVBUF: i32 = 2304;

const PAGE_SIZE: usize = 4096;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`.
const SHINFO: usize = 320;
/// `SKB_MAX_ALLOC`: the largest linear part of a datagram skb (16384 - 320).
const SKB_MAX_ALLOC: usize = 16384 - SHINFO;
/// `MAX_SKB_FRAGS * PAGE_SIZE`.
const MAX_FRAGS_BYTES: usize = 17 * PAGE_SIZE;

fn page_align(n: usize) -> usize {
    n.saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// `skb->truesize` of an skb with a `head`-byte linear part and `paged`
/// bytes in page fragments: the `sk_buff` (256), the kmalloc bucket of the
/// aligned head plus `skb_shared_info`, and whole pages for the fragments.
pub fn skb_truesize_split(head: usize, paged: usize) -> usize {
    const SKB: usize = 256; // SKB_DATA_ALIGN(sizeof(struct sk_buff))
    let want = (head.saturating_add(63) & !63).saturating_add(SHINFO);
    let alloc = if want <= 8192 {
        [32usize, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192]
            .into_iter()
            .find(|&s| s >= want)
            .unwrap_or(8192)
    } else {
        want.checked_next_power_of_two().unwrap_or(usize::MAX)
    };
    SKB.saturating_add(alloc).saturating_add(page_align(paged))
}

/// `skb->truesize` of a datagram of `len` bytes (`unix_dgram_sendmsg`:
/// beyond `SKB_MAX_ALLOC` the rest goes to pages, up to `MAX_SKB_FRAGS`).
pub fn skb_truesize(len: usize) -> usize {
    if len <= SKB_MAX_ALLOC {
        return skb_truesize_split(len, 0);
    }
    let paged = page_align((len - SKB_MAX_ALLOC).min(MAX_FRAGS_BYTES));
    skb_truesize_split(len - paged.min(len), paged)
}

/// `skb->truesize` of a stream chunk of `size` bytes (`unix_stream_sendmsg`:
/// the part beyond `SKB_MAX_HEAD(0)` = 3776 goes to pages).
pub fn stream_skb_truesize(size: usize) -> usize {
    const SKB_MAX_HEAD: usize = PAGE_SIZE - SHINFO;
    let paged = size.min(page_align(size.saturating_sub(SKB_MAX_HEAD)));
    skb_truesize_split(size - paged, paged)
}

/// A socket timeout (`None`: wait forever), set and read without a lock.
#[derive(Debug)]
pub(crate) struct Timeo(std::sync::atomic::AtomicU64);

impl Default for Timeo {
    fn default() -> Self {
        Timeo(std::sync::atomic::AtomicU64::new(u64::MAX))
    }
}

impl Timeo {
    /// `READ_ONCE(sk->sk_rcvtimeo)`.
    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::SeqCst) {
            u64::MAX => None,
            j => Some(crate::abi::timeval::jiffies_to_duration(j)),
        }
    }

    /// `WRITE_ONCE(sk->sk_rcvtimeo, ...)`: kept in jiffies, as the kernel
    /// keeps it (`MAX_SCHEDULE_TIMEOUT` for `None`).
    pub(crate) fn set(&self, t: Option<Duration>) {
        let j = match t {
            None => u64::MAX,
            Some(d) => crate::abi::timeval::duration_to_jiffies(d).min(u64::MAX - 1),
        };
        self.0.store(j, Ordering::SeqCst);
    }
}

impl Sock {
    /// The socket's lock (`unix_state_lock`), of class `Sock` in the lock
    /// order ([`crate::lockdep`]).
    pub fn lock(&self) -> SockGuard<'_> {
        Ordered::take(LockClass::Sock, self.id, || lock(&self.inner))
    }

    /// Wake every sleeper of this socket. Call with its lock NOT held.
    pub fn wake(&self) {
        let mut g = self.lock();
        self.wake_locked(&mut g);
    }

    /// Wake the socket's sleepers, with the lock held by the caller: every
    /// non-exclusive one and the oldest exclusive one
    /// (`wake_up_interruptible_sync_poll`). The OS is asked only when
    /// someone sleeps (`skwq_has_sleeper`).
    pub fn wake_locked(&self, g: &mut SockInner) {
        g.seq = g.seq.wrapping_add(1);
        if g.waiters.has_sleeper() {
            g.waiters.wake_one_exclusive();
            self.wait.notify_all();
        }
    }

    /// Wake every sleeper (`sk_state_change` → `wake_up_interruptible_all`).
    pub fn wake_all_locked(&self, g: &mut SockInner) {
        g.seq = g.seq.wrapping_add(1);
        if g.waiters.has_sleeper() {
            g.waiters.wake_all();
            self.wait.notify_all();
        }
    }

    /// Wake every sleeper of `peer_wait` (`wake_up_interruptible_all`).
    pub fn wake_peers_all_locked(&self, g: &mut SockInner) {
        g.peer_seq = g.peer_seq.wrapping_add(1);
        if g.peer_waiters.has_sleeper() {
            g.peer_waiters.wake_all();
            self.peer_wait.notify_all();
        }
    }

    /// Wake the oldest sleeper of `peer_wait` (lock held by the caller).
    pub fn wake_peers_locked(&self, g: &mut SockInner) {
        g.peer_seq = g.peer_seq.wrapping_add(1);
        if g.peer_waiters.has_sleeper() {
            g.peer_waiters.wake_one_exclusive();
            self.peer_wait.notify_all();
        }
    }

    /// Unread stream bytes as the kernel counts them (`u->inq_len`).
    pub fn stream_inq(&self, g: &SockInner) -> usize {
        g.recvq.iter().map(Skb::unread).sum::<usize>() + g.inq_leak
    }

    /// `sk_wmem_alloc` as `SIOCOUTQ` reports it.
    pub fn wmem(&self) -> usize {
        self.wmem.load(Ordering::SeqCst)
    }

    /// `unix_writable`: less than a quarter of the send buffer in use (the
    /// kernel's `sk_wmem_alloc` starts at 1).
    pub fn writable(&self, g: &SockInner) -> bool {
        g.state != SockState::Listen
            && self.wmem().saturating_add(1).saturating_mul(4) <= g.sndbuf.max(0) as usize
    }

    /// The bound address, if any.
    pub fn name(&self) -> Option<&UnixAddr> {
        self.addr.get().map(|a| &**a)
    }
}

impl SockInner {
    /// `sock_error`: take the pending error.
    #[inline]
    pub fn take_err(&mut self) -> Option<crate::errno::Error> {
        let e = self.err.take();
        if let Some(e) = e {
            note_err(e);
        }
        e
    }

    /// Whether SO_PASSCRED or SO_PASSPIDFD is set (`unix_may_passcred`).
    pub fn may_passcred(&self) -> bool {
        self.passcred || self.passpidfd
    }

    /// `__skb_queue_tail` on the receive queue. An idle socket's queue
    /// takes room for one message at first, not four: a socket that sits
    /// with one message queued (an in-flight graph of a million of them)
    /// costs one slot.
    pub fn skb_queue_tail(&mut self, skb: Skb) {
        if self.recvq.capacity() == 0 {
            self.recvq.reserve_exact(1);
        }
        self.recvq.push_back(skb);
    }
}

/// A held socket lock.
pub type SockGuard<'a> = Ordered<MutexGuard<'a, SockInner>>;

/// `unix_state_double_lock`: two sockets locked in id order.
pub fn double_lock<'a>(a: &'a Sock, b: &'a Sock) -> (SockGuard<'a>, SockGuard<'a>) {
    if a.id < b.id {
        let ga = a.lock();
        let gb = b.lock();
        (ga, gb)
    } else {
        let gb = b.lock();
        let ga = a.lock();
        (ga, gb)
    }
}

impl Kernel {
    /// `unix_create1`: a new socket object.
    pub(crate) fn unix_create1(&self, ty: SockType, netns: u32) -> Arc<Sock> {
        use crate::abi::consts::{MAX_DGRAM_QLEN_DEFAULT, SK_BUF_DEFAULT};
        let max_ack_backlog = crate::world::lock(&self.max_dgram_qlen)
            .get(&netns)
            .copied()
            .unwrap_or(MAX_DGRAM_QLEN_DEFAULT);
        let s = Arc::new(Sock {
            id: self.next_sock.fetch_add(1, Ordering::SeqCst),
            ty,
            netns,
            ino: self.next_ino.fetch_add(1, Ordering::SeqCst),
            addr: OnceLock::new(),
            path_ino: OnceLock::new(),
            wmem: AtomicUsize::new(0),
            inflight: AtomicUsize::new(0),
            gc_vertex: std::sync::atomic::AtomicU32::new(gc::NO_VERTEX),
            gc_queued_fds: std::sync::atomic::AtomicU32::new(0),
            rcvtimeo: Timeo::default(),
            sndtimeo: Timeo::default(),
            has_filter: std::sync::atomic::AtomicBool::new(false),
            hashed: std::sync::atomic::AtomicBool::new(false),
            inner: Mutex::new(SockInner {
                state: SockState::Close,
                file: None,
                peer: None,
                shutdown: 0,
                dead: false,
                err: None,
                recvq: VecDeque::new(),
                accept_q: Cold::default(),
                listener: None,
                sndbuf: SK_BUF_DEFAULT,
                rcvbuf: SK_BUF_DEFAULT,
                passcred: false,
                passpidfd: false,
                passrights: true,
                oobinline: false,
                recv_inq: false,
                peek_off: -1,
                rcvlowat: 1,
                max_ack_backlog,
                peercred: None,
                filter: None,
                oob_skb: None,
                seq: 0,
                next_skb: 1,
                peer_seq: 0,
                waiters: Cold::default(),
                peer_waiters: Cold::default(),
                inq_leak: 0,
                opts: Cold::default(),
            }),
            wait: Condvar::new(),
            peer_wait: Condvar::new(),
        });
        self.register(&s);
        s
    }

    /// Drop messages that left a queue: their files, their charge on the
    /// sender's wmem (`kfree_skb` → `unix_destruct_scm`, `sock_wfree`),
    /// their edges in the in-flight graph. Call with no socket lock held.
    pub(crate) fn skbs_free(&self, receiver: &Sock, skbs: impl IntoIterator<Item = Skb>) {
        for skb in skbs {
            self.unix_del_edges(receiver, &skb, false);
            self.skb_uncharge(&skb);
            for f in skb.fds {
                self.fput(f);
            }
        }
    }

    /// Uncharge the sender's wmem for a message that left a queue, and wake
    /// the sender if that made room (`sock_wfree` → `sk_write_space`).
    pub(crate) fn skb_uncharge(&self, skb: &Skb) {
        skb.sender.wmem.fetch_sub(skb.truesize, Ordering::SeqCst);
        skb.sender.wake();
    }

    /// `unix_release_sock`: the socket's file is gone (or a listener drops
    /// an embryo, `embrion`). Unhash, orphan, tell the peer, purge the queue.
    pub(crate) fn unix_release_sock(&self, s: &Arc<Sock>, embrion: bool) {
        crate::path::step("unix_release_sock");
        // unix_remove_socket and unix_remove_bsd_socket come first: a
        // connector woken below looks the name up again and finds nothing.
        self.unhash(s);
        let (peer, skbs, embryos, unread) = {
            let mut g = s.lock();
            if g.dead {
                return;
            }
            g.dead = true;
            g.state = SockState::Close;
            g.shutdown = SHUTDOWN_MASK;
            g.file = None;
            g.oob_skb = None;
            let peer = g.peer.take();
            let skbs = std::mem::take(&mut g.recvq);
            let embryos: Vec<Arc<Sock>> = if g.accept_q.is_empty() {
                Vec::new()
            } else {
                g.accept_q.drain(..).collect()
            };
            // A message left in our queue (past one leading, fully read OOB
            // leftover), or having been an embryo, resets the peer.
            let first_real = match skbs.front() {
                Some(b) if b.unread() == 0 => skbs.get(1),
                other => other,
            };
            let unread = first_real.is_some() || embrion;
            s.wake_all_locked(&mut g);
            s.wake_peers_all_locked(&mut g);
            (peer, skbs, embryos, unread)
        };
        if let Some(p) = &peer {
            let mut o = p.lock();
            if s.ty.connection() && !o.dead {
                o.shutdown = SHUTDOWN_MASK;
                if unread {
                    o.err = Some(
                        Errno::ECONNRESET
                            .why(rule!(unix_release_sock, "the peer closed with unread data")),
                    );
                }
            }
            p.wake_all_locked(&mut o);
        }
        self.skbs_free(s, skbs);
        for e in embryos {
            self.unix_release_sock(&e, true);
            self.gc_forget_embryo(&e);
        }
        self.unix_schedule_gc();
    }
}
