//! Unix sockets (`net/unix/af_unix.c`): the socket object, its queue of
//! messages, creation and release, and the address space.

pub mod addr;
pub mod dgram;
pub mod gc;
pub mod stream;

use crate::abi::filter::Program;
use crate::abi::sockaddr::UnixAddr;
use crate::errno::Errno;
use crate::file::FileId;
use crate::process::Pid;
use crate::world::Kernel;
use std::collections::VecDeque;
use std::time::Duration;

/// Index of a socket in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SockId(pub usize);

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
    /// From the type bits of `socket()`'s argument; `ESOCKTNOSUPPORT` otherwise
    /// (`unix_create`).
    pub fn from_raw(ty: i32) -> Result<SockType, Errno> {
        use crate::abi::consts::*;
        match ty {
            SOCK_STREAM => Ok(SockType::Stream),
            SOCK_DGRAM => Ok(SockType::Dgram),
            SOCK_SEQPACKET => Ok(SockType::Seqpacket),
            // SOCK_RAW is quietly turned into SOCK_DGRAM by unix_create.
            3 => Ok(SockType::Dgram),
            _ => Err(Errno::ESOCKTNOSUPPORT.why("unix_create: type not stream/dgram/seqpacket")),
        }
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
    pub pid: Option<Pid>,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
}

/// The credentials a peer had at connect/listen/socketpair time (`sk_peer_cred`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCred {
    /// pid.
    pub pid: Pid,
    /// euid.
    pub uid: u32,
    /// egid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// One queued message (`struct sk_buff` with its `unix_skb_parms`).
///
/// Ownership: the message holds one reference to every file in `fds`
/// (`scm_fp_list`) and one reference to its sending socket; both are
/// dropped when the message is consumed or purged, never earlier.
#[derive(Debug)]
pub struct Skb {
    /// Unique id (to recognise the OOB skb).
    pub id: u64,
    /// The payload.
    pub data: Vec<u8>,
    /// Bytes of a stream skb already read (`UNIXCB(skb).consumed`).
    pub consumed: usize,
    /// Passed files, in order.
    pub fds: Vec<FileId>,
    /// Credentials attached at send time.
    pub cred: Option<SkbCred>,
    /// The sending socket (`skb->sk`), for `msg_name` and wmem accounting.
    pub sender: SockId,
    /// Bytes charged to the sender's `sk_wmem_alloc`.
    pub truesize: usize,
    /// The uid of the user who sent the fds (`fpl->user`).
    pub fp_user: u32,
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
    /// `sk_type`.
    pub ty: SockType,
    /// `sk_state`.
    pub state: SockState,
    /// The file of its `struct socket`; `None` for an embryo not yet accepted.
    pub file: Option<FileId>,
    /// The bound address (`u->addr`).
    pub addr: Option<UnixAddr>,
    /// `unix_peer(sk)`: holds a reference to the peer.
    pub peer: Option<SockId>,
    /// `sk_shutdown`.
    pub shutdown: u8,
    /// `SOCK_DEAD`: released (unhashed, orphaned).
    pub dead: bool,
    /// `sk_err`.
    pub err: Option<Errno>,
    /// `sk_receive_queue`.
    pub recvq: VecDeque<Skb>,
    /// For a listener: embryos waiting for `accept`, oldest first.
    pub accept_q: VecDeque<SockId>,
    /// For an embryo: its listener.
    pub listener: Option<SockId>,
    /// `sk_sndbuf`.
    pub sndbuf: i32,
    /// `sk_rcvbuf`.
    pub rcvbuf: i32,
    /// `sk_wmem_alloc`: truesize of this socket's messages still queued.
    pub wmem: usize,
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
    /// `sk_peer_cred`/`sk_peer_pid`.
    pub peercred: Option<PeerCred>,
    /// `sk_filter`.
    pub filter: Option<Program>,
    /// `SO_RCVTIMEO` (`None`: wait forever).
    pub rcvtimeo: Option<Duration>,
    /// `SO_SNDTIMEO`.
    pub sndtimeo: Option<Duration>,
    /// `u->oob_skb`: the id of the skb holding the current OOB byte.
    pub oob_skb: Option<u64>,
    /// `u->inq_len`: unread stream bytes.
    pub inq_len: usize,
    /// Inode number (`sock_i_ino`).
    pub ino: u64,
    /// `sk_refcnt`.
    pub refs: usize,
}

/// The smallest `sk_sndbuf` (`SOCK_MIN_SNDBUF`): 2 * (2048 + 256 + 320).
pub const SOCK_MIN_SNDBUF: i32 = 2 * (2048 + 256 + 320);
/// The smallest `sk_rcvbuf` (`SOCK_MIN_RCVBUF`): 2048 + 256 + 320.
pub const SOCK_MIN_RCVBUF: i32 = 2048 + 256 + 320;

/// `skb->truesize` of a message with `len` bytes of payload, as the
/// kernel's allocator rounds it (`SKB_TRUESIZE` of the kmalloc'd head).
pub fn skb_truesize(len: usize) -> usize {
    const SHINFO: usize = 320; // SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
    const SKB: usize = 256; // SKB_DATA_ALIGN(sizeof(struct sk_buff))
    let head = len.saturating_add(63) & !63;
    let want = head.saturating_add(SHINFO);
    let alloc = if want <= 8192 {
        [32usize, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192]
            .into_iter()
            .find(|&s| s >= want)
            .unwrap_or(8192)
    } else {
        want.checked_next_power_of_two().unwrap_or(usize::MAX)
    };
    alloc.saturating_add(SKB)
}

impl Kernel {
    pub(crate) fn sock(&self, s: SockId) -> &Sock {
        // Sockets referenced by id are alive by construction (they hold a
        // reference); a missing one is a model bug, reported loudly in
        // debug builds and as a dead placeholder otherwise.
        match self.socks.get(s.0) {
            Some(sk) => sk,
            None => {
                debug_assert!(false, "dangling socket {s:?}");
                &DEAD_PLACEHOLDER
            }
        }
    }

    pub(crate) fn sock_mut(&mut self, s: SockId) -> &mut Sock {
        if self.socks.get(s.0).is_none() {
            debug_assert!(false, "dangling socket {s:?}");
            let id = self.socks.insert(Sock::new(SockType::Dgram, 0, 0, 0));
            return self.socks.get_mut(id).unwrap_or_else(|| unreachable!());
        }
        self.socks.get_mut(s.0).unwrap_or_else(|| unreachable!())
    }

    /// `sock_hold`.
    pub(crate) fn sock_hold(&mut self, s: SockId) {
        if let Some(sk) = self.socks.get_mut(s.0) {
            sk.refs += 1;
        }
    }

    /// `sock_put`: the last reference frees the socket object.
    pub(crate) fn sock_put(&mut self, s: SockId) {
        let free = match self.socks.get_mut(s.0) {
            Some(sk) => {
                sk.refs = sk.refs.saturating_sub(1);
                sk.refs == 0
            }
            None => false,
        };
        if free {
            self.socks.remove(s.0);
        }
    }

    /// `unix_create1`: a new socket object with one reference (its owner's).
    pub(crate) fn unix_create1(&mut self, ty: SockType) -> SockId {
        let ino = self.next_ino;
        self.next_ino += 1;
        let qlen = self.max_dgram_qlen;
        SockId(self.socks.insert(Sock::new(ty, ino, qlen, 1)))
    }

    /// Drop a message: release its files and its hold on the sender,
    /// uncharge the sender's wmem (`kfree_skb` → `unix_destruct_scm`, `sock_wfree`).
    pub(crate) fn skb_free(&mut self, skb: Skb) {
        for f in skb.fds {
            self.fput(f);
        }
        self.skb_release_sender(skb.sender, skb.truesize);
    }

    /// The sender's share of a message that is gone: wmem and the reference.
    pub(crate) fn skb_release_sender(&mut self, sender: SockId, truesize: usize) {
        if let Some(sk) = self.socks.get_mut(sender.0) {
            sk.wmem = sk.wmem.saturating_sub(truesize);
        }
        self.sock_put(sender);
    }

    /// `unix_release_sock`: the socket's file is gone (or a listener drops
    /// an embryo, `embrion`). Unhash, orphan, tell the peer, purge the queue.
    pub(crate) fn unix_release_sock(&mut self, s: SockId, embrion: bool) {
        let (ty, peer, addr, skbs, embryos, was_embryo_or_unread) = {
            let sk = self.sock_mut(s);
            if sk.dead {
                return;
            }
            sk.dead = true;
            sk.state = SockState::Close;
            sk.shutdown = SHUTDOWN_MASK;
            sk.file = None;
            let peer = sk.peer.take();
            let skbs: Vec<Skb> = sk.recvq.drain(..).collect();
            let embryos: Vec<SockId> = sk.accept_q.drain(..).collect();
            // Unread data in our queue (or having been an embryo) resets the peer.
            let unread = skbs.iter().any(|b| b.unread() > 0) || embrion;
            sk.oob_skb = None;
            sk.inq_len = 0;
            (sk.ty, peer, sk.addr.clone(), skbs, embryos, unread)
        };
        // Unhash: an abstract name is free again at once.
        if let Some(crate::abi::sockaddr::UnixAddr::Abstract(name)) = &addr {
            if self.abstract_names.get(&(ty, name.clone())) == Some(&s) {
                self.abstract_names.remove(&(ty, name.clone()));
            }
        }
        for inode in self.dir.values_mut() {
            if inode.sock == Some(s) {
                inode.sock = None;
            }
        }
        if let Some(p) = peer {
            if ty.connection() {
                let other = self.sock_mut(p);
                if !other.dead {
                    other.shutdown = SHUTDOWN_MASK;
                    if was_embryo_or_unread {
                        other.err = Some(
                            Errno::ECONNRESET
                                .why("peer closed with unread data (unix_release_sock)"),
                        );
                    }
                }
            }
            self.sock_put(p);
        }
        for skb in skbs {
            self.skb_free(skb);
        }
        for e in embryos {
            self.unix_release_sock(e, true);
        }
        // The reference the file (or the listener's queue) held.
        self.sock_put(s);
        // unix_gc is kicked when anything is in flight.
        if self.unix_tot_inflight() > 0 {
            self.unix_gc();
        }
    }

    /// `unix_tot_inflight`: whether any unix socket is in flight (any
    /// queued message carries files).
    pub(crate) fn unix_tot_inflight(&self) -> usize {
        self.socks
            .iter()
            .flat_map(|(_, sk)| sk.recvq.iter())
            .map(|b| b.fds.len())
            .sum()
    }
}

static DEAD_PLACEHOLDER: std::sync::LazyLock<Sock> = std::sync::LazyLock::new(|| {
    let mut s = Sock::new(SockType::Dgram, 0, 0, 0);
    s.dead = true;
    s
});

impl Sock {
    fn new(ty: SockType, ino: u64, max_dgram_qlen: u32, refs: usize) -> Sock {
        use crate::abi::consts::SK_BUF_DEFAULT;
        Sock {
            ty,
            state: SockState::Close,
            file: None,
            addr: None,
            peer: None,
            shutdown: 0,
            dead: false,
            err: None,
            recvq: VecDeque::new(),
            accept_q: VecDeque::new(),
            listener: None,
            sndbuf: SK_BUF_DEFAULT,
            rcvbuf: SK_BUF_DEFAULT,
            wmem: 0,
            passcred: false,
            passpidfd: false,
            passrights: true,
            oobinline: false,
            recv_inq: false,
            peek_off: -1,
            rcvlowat: 1,
            max_ack_backlog: max_dgram_qlen,
            peercred: None,
            filter: None,
            rcvtimeo: None,
            sndtimeo: None,
            oob_skb: None,
            inq_len: 0,
            ino,
            refs,
        }
    }

    /// `unix_writable`: less than a quarter of the send buffer in use.
    pub fn writable(&self) -> bool {
        self.state != SockState::Listen
            && self.wmem.saturating_add(1).saturating_mul(4) <= self.sndbuf.max(0) as usize
    }

    /// `sock_error`: take the pending error.
    pub fn take_err(&mut self) -> Option<Errno> {
        self.err.take()
    }
}
