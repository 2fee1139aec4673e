//! Numeric constants of the Linux x86_64 ABI that the socket layer uses.
//!
//! Values are those of the uapi headers (`include/uapi/linux/socket.h`,
//! `include/uapi/asm-generic/socket.h`, `include/linux/socket.h`).

/// Address families.
pub const AF_UNSPEC: u16 = 0;
/// `AF_UNIX` / `AF_LOCAL`.
pub const AF_UNIX: u16 = 1;

/// Socket types (`sock->type`).
pub const SOCK_STREAM: i32 = 1;
/// Datagram socket type.
pub const SOCK_DGRAM: i32 = 2;
/// Sequenced-packet socket type.
pub const SOCK_SEQPACKET: i32 = 5;
/// `SOCK_NONBLOCK` flag for `socket`, `socketpair`, `accept4` (= `O_NONBLOCK`).
pub const SOCK_NONBLOCK: i32 = 0o4000;
/// `SOCK_CLOEXEC` flag (= `O_CLOEXEC`).
pub const SOCK_CLOEXEC: i32 = 0o2000000;
/// Mask of the type bits in `socket()`'s type argument.
pub const SOCK_TYPE_MASK: i32 = 0xf;

/// `O_NONBLOCK` file status flag.
pub const O_NONBLOCK: i32 = 0o4000;
/// `O_CLOEXEC`.
pub const O_CLOEXEC: i32 = 0o2000000;
/// `FD_CLOEXEC`, as `F_GETFD` reports it.
pub const FD_CLOEXEC: i32 = 1;

/// `SOL_SOCKET` level.
pub const SOL_SOCKET: i32 = 1;

/// Socket options (`SOL_SOCKET`).
pub const SO_TYPE: i32 = 3;
/// `SO_ERROR`: read and clear `sk_err`.
pub const SO_ERROR: i32 = 4;
/// `SO_SNDBUF`.
pub const SO_SNDBUF: i32 = 7;
/// `SO_RCVBUF`.
pub const SO_RCVBUF: i32 = 8;
/// `SO_OOBINLINE`.
pub const SO_OOBINLINE: i32 = 10;
/// `SO_PASSCRED`.
pub const SO_PASSCRED: i32 = 16;
/// `SO_PEERCRED`.
pub const SO_PEERCRED: i32 = 17;
/// `SO_RCVLOWAT`.
pub const SO_RCVLOWAT: i32 = 18;
/// `SO_RCVTIMEO` (old, `struct timeval` of 16 bytes on x86_64).
pub const SO_RCVTIMEO: i32 = 20;
/// `SO_SNDTIMEO` (old, `struct timeval`).
pub const SO_SNDTIMEO: i32 = 21;
/// `SO_ATTACH_FILTER` (and `SO_GET_FILTER` on getsockopt).
pub const SO_ATTACH_FILTER: i32 = 26;
/// `SO_DETACH_FILTER`.
pub const SO_DETACH_FILTER: i32 = 27;
/// `SO_GET_FILTER` (same number as `SO_ATTACH_FILTER`).
pub const SO_GET_FILTER: i32 = 26;
/// `SO_SNDBUFFORCE` (needs CAP_NET_ADMIN).
pub const SO_SNDBUFFORCE: i32 = 32;
/// `SO_RCVBUFFORCE` (needs CAP_NET_ADMIN).
pub const SO_RCVBUFFORCE: i32 = 33;
/// `SO_ACCEPTCONN`.
pub const SO_ACCEPTCONN: i32 = 30;
/// `SO_PASSSEC`.
pub const SO_PASSSEC: i32 = 34;
/// `SO_PEEK_OFF`.
pub const SO_PEEK_OFF: i32 = 42;
/// `SO_PEERGROUPS`.
pub const SO_PEERGROUPS: i32 = 59;
/// `SO_PASSPIDFD` (6.5+).
pub const SO_PASSPIDFD: i32 = 76;
/// `SO_PEERPIDFD` (6.5+).
pub const SO_PEERPIDFD: i32 = 77;
/// `SO_PASSRIGHTS` (6.16+).
pub const SO_PASSRIGHTS: i32 = 83;
/// `SO_INQ` (6.17+, unix stream only).
pub const SO_INQ: i32 = 84;

/// Control message types at `SOL_SOCKET`.
pub const SCM_RIGHTS: i32 = 1;
/// `SCM_CREDENTIALS`.
pub const SCM_CREDENTIALS: i32 = 2;
/// `SCM_SECURITY`.
pub const SCM_SECURITY: i32 = 3;
/// `SCM_PIDFD`.
pub const SCM_PIDFD: i32 = 4;
/// `SCM_INQ` (= `SO_INQ`).
pub const SCM_INQ: i32 = SO_INQ;

/// `SCM_MAX_FD`: at most this many fds in one message (`include/net/scm.h`).
pub const SCM_MAX_FD: usize = 253;

/// `sendmsg`/`recvmsg` flags (`include/linux/socket.h`).
pub const MSG_OOB: i32 = 0x1;
/// `MSG_PEEK`.
pub const MSG_PEEK: i32 = 0x2;
/// `MSG_DONTROUTE`.
pub const MSG_DONTROUTE: i32 = 0x4;
/// `MSG_CTRUNC` (out).
pub const MSG_CTRUNC: i32 = 0x8;
/// `MSG_PROXY`.
pub const MSG_PROXY: i32 = 0x10;
/// `MSG_TRUNC`.
pub const MSG_TRUNC: i32 = 0x20;
/// `MSG_DONTWAIT`.
pub const MSG_DONTWAIT: i32 = 0x40;
/// `MSG_EOR`.
pub const MSG_EOR: i32 = 0x80;
/// `MSG_WAITALL`.
pub const MSG_WAITALL: i32 = 0x100;
/// `MSG_FIN`.
pub const MSG_FIN: i32 = 0x200;
/// `MSG_SYN`.
pub const MSG_SYN: i32 = 0x400;
/// `MSG_CONFIRM`.
pub const MSG_CONFIRM: i32 = 0x800;
/// `MSG_RST`.
pub const MSG_RST: i32 = 0x1000;
/// `MSG_ERRQUEUE`.
pub const MSG_ERRQUEUE: i32 = 0x2000;
/// `MSG_NOSIGNAL`.
pub const MSG_NOSIGNAL: i32 = 0x4000;
/// `MSG_MORE`.
pub const MSG_MORE: i32 = 0x8000;
/// `MSG_WAITFORONE`.
pub const MSG_WAITFORONE: i32 = 0x10000;
/// `MSG_CMSG_CLOEXEC`.
pub const MSG_CMSG_CLOEXEC: i32 = 0x4000_0000;

/// `shutdown` how.
pub const SHUT_RD: i32 = 0;
/// `SHUT_WR`.
pub const SHUT_WR: i32 = 1;
/// `SHUT_RDWR`.
pub const SHUT_RDWR: i32 = 2;

/// poll events (`include/uapi/asm-generic/poll.h`).
pub const POLLIN: i16 = 0x1;
/// `POLLPRI`.
pub const POLLPRI: i16 = 0x2;
/// `POLLOUT`.
pub const POLLOUT: i16 = 0x4;
/// `POLLERR`.
pub const POLLERR: i16 = 0x8;
/// `POLLHUP`.
pub const POLLHUP: i16 = 0x10;
/// `POLLNVAL`.
pub const POLLNVAL: i16 = 0x20;
/// `POLLRDNORM`.
pub const POLLRDNORM: i16 = 0x40;
/// `POLLRDBAND`.
pub const POLLRDBAND: i16 = 0x80;
/// `POLLWRNORM`.
pub const POLLWRNORM: i16 = 0x100;
/// `POLLWRBAND`.
pub const POLLWRBAND: i16 = 0x200;
/// `POLLRDHUP`.
pub const POLLRDHUP: i16 = 0x2000;

/// ioctl requests.
pub const SIOCINQ: u64 = 0x541B;
/// `SIOCOUTQ` (= `TIOCOUTQ`).
pub const SIOCOUTQ: u64 = 0x5411;
/// `SIOCATMARK`.
pub const SIOCATMARK: u64 = 0x8905;

/// `UNIX_PATH_MAX`: bytes of `sun_path`.
pub const UNIX_PATH_MAX: usize = 108;
/// `sizeof(struct sockaddr_un)`.
pub const SOCKADDR_UN_SIZE: usize = 110;
/// `sizeof(sa_family_t)`.
pub const SA_FAMILY_SIZE: usize = 2;
/// `sizeof(struct sockaddr_storage)`: the name buffer of `recvmsg`.
pub const SOCKADDR_STORAGE_SIZE: usize = 128;

/// Default `sk_sndbuf`/`sk_rcvbuf` (`net.core.wmem_default`).
pub const SK_BUF_DEFAULT: i32 = 212_992;
/// `net.core.wmem_max` / `rmem_max` on the reference machine.
pub const SK_BUF_MAX: i32 = 4_194_304;
/// Default `net.unix.max_dgram_qlen`.
pub const MAX_DGRAM_QLEN_DEFAULT: u32 = 10;
/// `net.core.somaxconn`.
pub const SOMAXCONN: i32 = 4096;
/// `UIO_MAXIOV`.
pub const UIO_MAXIOV: usize = 1024;

// ---- v2 of the scenario language -------------------------------------

/// `SOCK_RAW`: another name for `SOCK_DGRAM` in AF_UNIX.
pub const SOCK_RAW: i32 = 3;
/// `SOCK_MAX`: socket types from here on are `EINVAL`.
pub const SOCK_MAX: i32 = 11;
/// `PF_UNIX`: the one protocol number besides 0 that `unix_create` takes.
pub const PF_UNIX: i32 = 1;
/// `MSG_FASTOPEN`.
pub const MSG_FASTOPEN: i32 = 0x2000_0000;
/// `MSG_ZEROCOPY`.
pub const MSG_ZEROCOPY: i32 = 0x0400_0000;
/// `MSG_CMSG_COMPAT`: refused by the native `sendmsg`/`recvmsg` (`EINVAL`).
pub const MSG_CMSG_COMPAT: i32 = 0x8000_0000_u32 as i32;

/// `SO_DEBUG`.
pub const SO_DEBUG: i32 = 1;
/// `SO_REUSEADDR`.
pub const SO_REUSEADDR: i32 = 2;
/// `SO_DONTROUTE`.
pub const SO_DONTROUTE: i32 = 5;
/// `SO_BROADCAST`.
pub const SO_BROADCAST: i32 = 6;
/// `SO_KEEPALIVE`.
pub const SO_KEEPALIVE: i32 = 9;
/// `SO_NO_CHECK`.
pub const SO_NO_CHECK: i32 = 11;
/// `SO_PRIORITY`.
pub const SO_PRIORITY: i32 = 12;
/// `SO_LINGER`.
pub const SO_LINGER: i32 = 13;
/// `SO_REUSEPORT`.
pub const SO_REUSEPORT: i32 = 15;
/// `SO_SNDLOWAT`.
pub const SO_SNDLOWAT: i32 = 19;
/// `SO_PROTOCOL`.
pub const SO_PROTOCOL: i32 = 38;
/// `SO_DOMAIN`.
pub const SO_DOMAIN: i32 = 39;
/// `SO_PEERNAME`.
pub const SO_PEERNAME: i32 = 28;
/// `SO_BINDTODEVICE` (a device name; no `int` check).
pub const SO_BINDTODEVICE: i32 = 25;
/// `SO_BSDCOMPAT` (accepted, does nothing).
pub const SO_BSDCOMPAT: i32 = 14;
/// `SO_TIMESTAMP_OLD`.
pub const SO_TIMESTAMP_OLD: i32 = 29;
/// `SO_PEERSEC`.
pub const SO_PEERSEC: i32 = 31;
/// `SO_TIMESTAMPNS_OLD`.
pub const SO_TIMESTAMPNS_OLD: i32 = 35;
/// `SO_MARK`.
pub const SO_MARK: i32 = 36;
/// `SO_TIMESTAMPING_OLD`.
pub const SO_TIMESTAMPING_OLD: i32 = 37;
/// `SO_RXQ_OVFL`.
pub const SO_RXQ_OVFL: i32 = 40;
/// `SO_WIFI_STATUS`.
pub const SO_WIFI_STATUS: i32 = 41;
/// `SO_NOFCS`.
pub const SO_NOFCS: i32 = 43;
/// `SO_LOCK_FILTER`.
pub const SO_LOCK_FILTER: i32 = 44;
/// `SO_SELECT_ERR_QUEUE`.
pub const SO_SELECT_ERR_QUEUE: i32 = 45;
/// `SO_BUSY_POLL`.
pub const SO_BUSY_POLL: i32 = 46;
/// `SO_MAX_PACING_RATE`.
pub const SO_MAX_PACING_RATE: i32 = 47;
/// `SO_BPF_EXTENSIONS`.
pub const SO_BPF_EXTENSIONS: i32 = 48;
/// `SO_INCOMING_CPU`.
pub const SO_INCOMING_CPU: i32 = 49;
/// `SO_ATTACH_BPF`.
pub const SO_ATTACH_BPF: i32 = 50;
/// `SO_ATTACH_REUSEPORT_CBPF`.
pub const SO_ATTACH_REUSEPORT_CBPF: i32 = 51;
/// `SO_ATTACH_REUSEPORT_EBPF`.
pub const SO_ATTACH_REUSEPORT_EBPF: i32 = 52;
/// `SO_CNX_ADVICE`.
pub const SO_CNX_ADVICE: i32 = 53;
/// `SO_MEMINFO`.
pub const SO_MEMINFO: i32 = 55;
/// `SO_INCOMING_NAPI_ID`.
pub const SO_INCOMING_NAPI_ID: i32 = 56;
/// `SO_COOKIE`.
pub const SO_COOKIE: i32 = 57;
/// `SO_ZEROCOPY`.
pub const SO_ZEROCOPY: i32 = 60;
/// `SO_TXTIME`.
pub const SO_TXTIME: i32 = 61;
/// `SO_BINDTOIFINDEX`.
pub const SO_BINDTOIFINDEX: i32 = 62;
/// `SO_TIMESTAMP_NEW`.
pub const SO_TIMESTAMP_NEW: i32 = 63;
/// `SO_TIMESTAMPNS_NEW`.
pub const SO_TIMESTAMPNS_NEW: i32 = 64;
/// `SO_TIMESTAMPING_NEW`.
pub const SO_TIMESTAMPING_NEW: i32 = 65;

/// `SOF_TIMESTAMPING_RX_SOFTWARE` (include/uapi/linux/net_tstamp.h).
pub const SOF_TIMESTAMPING_RX_SOFTWARE: u32 = 1 << 3;
/// `SOF_TIMESTAMPING_SOFTWARE`.
pub const SOF_TIMESTAMPING_SOFTWARE: u32 = 1 << 4;
/// `SOF_TIMESTAMPING_OPT_ID`.
pub const SOF_TIMESTAMPING_OPT_ID: u32 = 1 << 7;
/// `SOF_TIMESTAMPING_OPT_TSONLY`.
pub const SOF_TIMESTAMPING_OPT_TSONLY: u32 = 1 << 11;
/// `SOF_TIMESTAMPING_OPT_STATS`.
pub const SOF_TIMESTAMPING_OPT_STATS: u32 = 1 << 12;
/// `SOF_TIMESTAMPING_BIND_PHC`.
pub const SOF_TIMESTAMPING_BIND_PHC: u32 = 1 << 15;
/// `SOF_TIMESTAMPING_OPT_ID_TCP`.
pub const SOF_TIMESTAMPING_OPT_ID_TCP: u32 = 1 << 16;
/// `SOF_TIMESTAMPING_OPT_RX_FILTER`.
pub const SOF_TIMESTAMPING_OPT_RX_FILTER: u32 = 1 << 17;
/// `SOF_TIMESTAMPING_MASK`: every flag up to `SOF_TIMESTAMPING_LAST`
/// (`SOF_TIMESTAMPING_TX_COMPLETION`, 1 << 18, on 6.18).
pub const SOF_TIMESTAMPING_MASK: u32 = (1 << 19) - 1;
/// `SO_RCVTIMEO_NEW` (`struct __kernel_sock_timeval`, 16 bytes like the old one on x86_64).
pub const SO_RCVTIMEO_NEW: i32 = 66;
/// `SO_SNDTIMEO_NEW`.
pub const SO_SNDTIMEO_NEW: i32 = 67;
/// `SO_DETACH_REUSEPORT_BPF`.
pub const SO_DETACH_REUSEPORT_BPF: i32 = 68;
/// `SO_PREFER_BUSY_POLL`.
pub const SO_PREFER_BUSY_POLL: i32 = 69;
/// `SO_BUSY_POLL_BUDGET`.
pub const SO_BUSY_POLL_BUDGET: i32 = 70;
/// `SO_NETNS_COOKIE`.
pub const SO_NETNS_COOKIE: i32 = 71;
/// `SO_BUF_LOCK`.
pub const SO_BUF_LOCK: i32 = 72;
/// `SO_RESERVE_MEM`.
pub const SO_RESERVE_MEM: i32 = 73;
/// `SO_TXREHASH`.
pub const SO_TXREHASH: i32 = 74;
/// `SO_RCVMARK`.
pub const SO_RCVMARK: i32 = 75;
/// `SO_DEVMEM_DONTNEED`.
pub const SO_DEVMEM_DONTNEED: i32 = 80;
/// `SO_RCVPRIORITY`.
pub const SO_RCVPRIORITY: i32 = 82;

/// `O_RDONLY`.
pub const O_RDONLY: i32 = 0;
/// `O_WRONLY`.
pub const O_WRONLY: i32 = 0o1;
/// `O_RDWR`.
pub const O_RDWR: i32 = 0o2;
/// `O_ACCMODE`.
pub const O_ACCMODE: i32 = 0o3;
/// `O_CREAT`.
pub const O_CREAT: i32 = 0o100;
/// `O_EXCL`.
pub const O_EXCL: i32 = 0o200;
/// `O_TRUNC`.
pub const O_TRUNC: i32 = 0o1000;
/// `O_APPEND`.
pub const O_APPEND: i32 = 0o2000;
/// `O_DIRECTORY`.
pub const O_DIRECTORY: i32 = 0o200000;
/// `O_PATH`.
pub const O_PATH: i32 = 0o10000000;

/// The largest regular file of a world (a model limit: the kernel relies
/// on the filesystem's and the memory's). Writes past it are `EFBIG` on a
/// regular file and `ENOSPC` on a memfd (a full tmpfs).
pub const MAX_FILE_SIZE: usize = 1 << 30;

/// The name of a `SOL_SOCKET` option number (`SO_ATTACH_FILTER` for 26,
/// which getsockopt calls `SO_GET_FILTER`), for the path's notes.
pub fn so_name(optname: i32) -> Option<&'static str> {
    Some(match optname {
        SO_DEBUG => "SO_DEBUG",
        SO_REUSEADDR => "SO_REUSEADDR",
        SO_TYPE => "SO_TYPE",
        SO_ERROR => "SO_ERROR",
        SO_DONTROUTE => "SO_DONTROUTE",
        SO_BROADCAST => "SO_BROADCAST",
        SO_SNDBUF => "SO_SNDBUF",
        SO_RCVBUF => "SO_RCVBUF",
        SO_KEEPALIVE => "SO_KEEPALIVE",
        SO_OOBINLINE => "SO_OOBINLINE",
        SO_NO_CHECK => "SO_NO_CHECK",
        SO_PRIORITY => "SO_PRIORITY",
        SO_LINGER => "SO_LINGER",
        SO_BSDCOMPAT => "SO_BSDCOMPAT",
        SO_REUSEPORT => "SO_REUSEPORT",
        SO_PASSCRED => "SO_PASSCRED",
        SO_PEERCRED => "SO_PEERCRED",
        SO_RCVLOWAT => "SO_RCVLOWAT",
        SO_SNDLOWAT => "SO_SNDLOWAT",
        SO_RCVTIMEO => "SO_RCVTIMEO",
        SO_SNDTIMEO => "SO_SNDTIMEO",
        SO_BINDTODEVICE => "SO_BINDTODEVICE",
        SO_ATTACH_FILTER => "SO_ATTACH_FILTER",
        SO_DETACH_FILTER => "SO_DETACH_FILTER",
        SO_PEERNAME => "SO_PEERNAME",
        SO_TIMESTAMP_OLD => "SO_TIMESTAMP_OLD",
        SO_ACCEPTCONN => "SO_ACCEPTCONN",
        SO_PEERSEC => "SO_PEERSEC",
        SO_SNDBUFFORCE => "SO_SNDBUFFORCE",
        SO_RCVBUFFORCE => "SO_RCVBUFFORCE",
        SO_PASSSEC => "SO_PASSSEC",
        SO_TIMESTAMPNS_OLD => "SO_TIMESTAMPNS_OLD",
        SO_MARK => "SO_MARK",
        SO_TIMESTAMPING_OLD => "SO_TIMESTAMPING_OLD",
        SO_PROTOCOL => "SO_PROTOCOL",
        SO_DOMAIN => "SO_DOMAIN",
        SO_RXQ_OVFL => "SO_RXQ_OVFL",
        SO_WIFI_STATUS => "SO_WIFI_STATUS",
        SO_PEEK_OFF => "SO_PEEK_OFF",
        SO_NOFCS => "SO_NOFCS",
        SO_LOCK_FILTER => "SO_LOCK_FILTER",
        SO_SELECT_ERR_QUEUE => "SO_SELECT_ERR_QUEUE",
        SO_BUSY_POLL => "SO_BUSY_POLL",
        SO_MAX_PACING_RATE => "SO_MAX_PACING_RATE",
        SO_BPF_EXTENSIONS => "SO_BPF_EXTENSIONS",
        SO_INCOMING_CPU => "SO_INCOMING_CPU",
        SO_ATTACH_BPF => "SO_ATTACH_BPF",
        SO_ATTACH_REUSEPORT_CBPF => "SO_ATTACH_REUSEPORT_CBPF",
        SO_ATTACH_REUSEPORT_EBPF => "SO_ATTACH_REUSEPORT_EBPF",
        SO_CNX_ADVICE => "SO_CNX_ADVICE",
        SO_MEMINFO => "SO_MEMINFO",
        SO_INCOMING_NAPI_ID => "SO_INCOMING_NAPI_ID",
        SO_COOKIE => "SO_COOKIE",
        SO_PEERGROUPS => "SO_PEERGROUPS",
        SO_ZEROCOPY => "SO_ZEROCOPY",
        SO_TXTIME => "SO_TXTIME",
        SO_BINDTOIFINDEX => "SO_BINDTOIFINDEX",
        SO_TIMESTAMP_NEW => "SO_TIMESTAMP_NEW",
        SO_TIMESTAMPNS_NEW => "SO_TIMESTAMPNS_NEW",
        SO_TIMESTAMPING_NEW => "SO_TIMESTAMPING_NEW",
        SO_RCVTIMEO_NEW => "SO_RCVTIMEO_NEW",
        SO_SNDTIMEO_NEW => "SO_SNDTIMEO_NEW",
        SO_DETACH_REUSEPORT_BPF => "SO_DETACH_REUSEPORT_BPF",
        SO_PREFER_BUSY_POLL => "SO_PREFER_BUSY_POLL",
        SO_BUSY_POLL_BUDGET => "SO_BUSY_POLL_BUDGET",
        SO_NETNS_COOKIE => "SO_NETNS_COOKIE",
        SO_BUF_LOCK => "SO_BUF_LOCK",
        SO_RESERVE_MEM => "SO_RESERVE_MEM",
        SO_TXREHASH => "SO_TXREHASH",
        SO_RCVMARK => "SO_RCVMARK",
        SO_PASSPIDFD => "SO_PASSPIDFD",
        SO_PEERPIDFD => "SO_PEERPIDFD",
        SO_DEVMEM_DONTNEED => "SO_DEVMEM_DONTNEED",
        SO_RCVPRIORITY => "SO_RCVPRIORITY",
        SO_PASSRIGHTS => "SO_PASSRIGHTS",
        SO_INQ => "SO_INQ",
        _ => return None,
    })
}
