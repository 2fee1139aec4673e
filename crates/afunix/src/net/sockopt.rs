//! Socket options of a unix socket: `do_sock_setsockopt` /
//! `do_sock_getsockopt` (`net/socket.c`), `sk_setsockopt` / `sk_getsockopt`
//! (`net/core/sock.c`) and `unix_setsockopt` (`SO_INQ`,
//! `net/unix/af_unix.c`), as Linux 6.18 answers them for every option
//! number.
//!
//! The answers were checked option by option against the reference kernel
//! (see `tests/sockopt.rs`). Options whose effect the model cannot
//! reproduce are refused with a reason starting with "model gap:".

use crate::abi::consts::*;
use crate::abi::timeval::{sock_get_timeout, sock_set_timeout, HZ, MAX_SCHEDULE_TIMEOUT};
use crate::errno::{Errno, SysResult};
use crate::net::unix::{Sock, SockState, SockType, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF};
use crate::process::{Capability, RawPid};
use crate::world::Kernel;
use std::sync::Arc;

/// `TC_PRIO_INTERACTIVE`: the highest `SO_PRIORITY` an unprivileged
/// caller may set (`sk_set_prio_allowed`).
const TC_PRIO_INTERACTIVE: i32 = 6;
/// `SOCK_SNDBUF_LOCK`.
const SOCK_SNDBUF_LOCK: u8 = 1;
/// `SOCK_RCVBUF_LOCK`.
const SOCK_RCVBUF_LOCK: u8 = 2;
/// `SOCK_BUF_LOCK_MASK`.
const SOCK_BUF_LOCK_MASK: i32 = 3;
/// `SOF_TXTIME_FLAGS_MASK` (deadline mode, report errors).
const SOF_TXTIME_FLAGS_MASK: u32 = 3;
/// `CLOCK_REALTIME`, `CLOCK_MONOTONIC`, `CLOCK_TAI`.
const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_TAI: i32 = 11;
/// `IFNAMSIZ`.
const IFNAMSIZ: usize = 16;
/// `bpf_tell_extensions()`: `SKF_AD_MAX` on 6.18.
const SKF_AD_MAX: i32 = 64;
/// `SK_MEMINFO_VARS`.
const SK_MEMINFO_VARS: usize = 9;
/// The loopback device: the only one in a fresh network namespace, so
/// the only one a scenario's socket can bind to.
const LOOPBACK_IFINDEX: i32 = 1;

/// The generic `struct sock` state behind the options that nothing else in
/// the model reads: what `sk_setsockopt` stores so `sk_getsockopt` can read
/// it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SockOpts {
    /// `SOCK_DBG` (`SO_DEBUG`).
    pub debug: bool,
    /// `sk_reuse` (`SO_REUSEADDR`).
    pub reuse: bool,
    /// `SOCK_LOCALROUTE` (`SO_DONTROUTE`).
    pub localroute: bool,
    /// `SOCK_BROADCAST`.
    pub broadcast: bool,
    /// `SOCK_KEEPOPEN` (`SO_KEEPALIVE`).
    pub keepopen: bool,
    /// `sk_no_check_tx` (`SO_NO_CHECK`).
    pub no_check: bool,
    /// `sk_priority`.
    pub priority: u32,
    /// `SOCK_LINGER`.
    pub linger: bool,
    /// `sk_lingertime`, in jiffies.
    pub lingertime: i64,
    /// `SOCK_RCVTSTAMP`.
    pub rcvtstamp: bool,
    /// `SOCK_RCVTSTAMPNS`.
    pub rcvtstampns: bool,
    /// `SOCK_TSTAMP_NEW`.
    pub tstamp_new: bool,
    /// `sk_tsflags` (`SO_TIMESTAMPING`'s `SOF_TIMESTAMPING_*` flags).
    pub tsflags: u32,
    /// `SOCK_RXQ_OVFL`.
    pub rxq_ovfl: bool,
    /// `SOCK_WIFI_STATUS`.
    pub wifi_status: bool,
    /// `SOCK_NOFCS`.
    pub nofcs: bool,
    /// `SOCK_SELECT_ERR_QUEUE`.
    pub select_err_queue: bool,
    /// `SOCK_FILTER_LOCKED` (`SO_LOCK_FILTER`).
    pub filter_locked: bool,
    /// `sk_mark`.
    pub mark: u32,
    /// `SOCK_RCVMARK`.
    pub rcvmark: bool,
    /// `SOCK_RCVPRIORITY`.
    pub rcvpriority: bool,
    /// `sk_scm_security` (`SO_PASSSEC`; no LSM gives a context, so it
    /// adds no control message).
    pub passsec: bool,
    /// `sk_incoming_cpu` (-1 until set).
    pub incoming_cpu: i32,
    /// `sk_ll_usec` (`SO_BUSY_POLL`).
    pub busy_poll: u32,
    /// `sk_prefer_busy_poll`.
    pub prefer_busy_poll: bool,
    /// `sk_busy_poll_budget`.
    pub busy_poll_budget: u16,
    /// `sk_max_pacing_rate` (`~0`: unlimited).
    pub max_pacing_rate: u64,
    /// `sk_clockid` (`SO_TXTIME`).
    pub clockid: i32,
    /// `SO_TXTIME` flags (deadline mode, report errors).
    pub txtime_flags: u32,
    /// `sk_bound_dev_if` (`SO_BINDTODEVICE`, `SO_BINDTOIFINDEX`).
    pub bound_dev_if: i32,
    /// `sk_userlocks` (`SOCK_SNDBUF_LOCK`, `SOCK_RCVBUF_LOCK`).
    pub userlocks: u8,
}

impl Default for SockOpts {
    fn default() -> Self {
        SockOpts {
            debug: false,
            reuse: false,
            localroute: false,
            broadcast: false,
            keepopen: false,
            no_check: false,
            priority: 0,
            linger: false,
            lingertime: 0,
            rcvtstamp: false,
            rcvtstampns: false,
            tstamp_new: false,
            tsflags: 0,
            rxq_ovfl: false,
            wifi_status: false,
            nofcs: false,
            select_err_queue: false,
            filter_locked: false,
            mark: 0,
            rcvmark: false,
            rcvpriority: false,
            passsec: false,
            incoming_cpu: -1,
            busy_poll: 0,
            prefer_busy_poll: false,
            busy_poll_budget: 0,
            max_pacing_rate: u64::MAX,
            clockid: 0,
            txtime_flags: 0,
            bound_dev_if: 0,
            userlocks: 0,
        }
    }
}

/// What `sk_getsockopt` hands back before the common tail.
enum Got {
    /// A value in the union `v` of `lv` bytes: the tail copies
    /// `min(len, lv)` of them and writes that length back.
    Val(Vec<u8>),
    /// The option wrote its own length (`goto lenout`): that length and
    /// the bytes the caller sees.
    Len(i32, Vec<u8>),
}

fn int(v: i32) -> Got {
    Got::Val(v.to_ne_bytes().to_vec())
}

fn flag(b: bool) -> Got {
    int(i32::from(b))
}

fn i32_at(v: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    if let Some(s) = v.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    i32::from_ne_bytes(b)
}

/// The devices a name can resolve to in a scenario's (fresh) network
/// namespace: only `lo`.
fn dev_get_by_name(name: &[u8]) -> Option<i32> {
    (name == b"lo").then_some(LOOPBACK_IFINDEX)
}

fn netdev_get_name(ifindex: i32) -> Option<&'static [u8]> {
    (ifindex == LOOPBACK_IFINDEX).then_some(b"lo".as_slice())
}

/// The decision note of a sockopt call (while a path is recorded): the
/// socket, the option, its length and, for setsockopt, the int it starts
/// with — what every rule of `sk_setsockopt`/`sk_getsockopt` decides on.
fn note_opt(sock: u64, level: i32, name: i32, optlen: i64, val: &[u8]) {
    crate::path::note(|| {
        let opt = match (level, so_name(name)) {
            (SOL_SOCKET, Some(n)) => n.to_string(),
            (SOL_SOCKET, None) => format!("SOL_SOCKET option {name}"),
            _ => format!("level {level} option {name}"),
        };
        let i64_at = |o: usize| {
            val.get(o..o + 8)
                .map(|b| i64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
        };
        // The value as the option reads it: a timeval for the timeouts,
        // a struct linger, else an int.
        let val = match (level, name) {
            (SOL_SOCKET, SO_RCVTIMEO | SO_SNDTIMEO | SO_RCVTIMEO_NEW | SO_SNDTIMEO_NEW) => {
                match (i64_at(0), i64_at(8)) {
                    (Some(sec), Some(usec)) => format!(", value {sec} s {usec} µs"),
                    _ => String::new(),
                }
            }
            (SOL_SOCKET, SO_LINGER) if val.len() >= 8 => {
                format!(", l_onoff {}, l_linger {}", i32_at(val, 0), i32_at(val, 4))
            }
            _ if val.len() >= 4 => format!(", value {}", i32_at(val, 0)),
            _ => String::new(),
        };
        format!("#{sock} {opt}, optlen {optlen}{val}")
    });
}

impl Kernel {
    /// `do_sock_setsockopt` for a unix socket.
    pub(crate) fn sock_setsockopt(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        level: i32,
        name: i32,
        v: &[u8],
    ) -> SysResult<()> {
        // The functions the option goes through, then its values (a
        // refusal's decision is the last step of its path).
        crate::path::step("do_sock_setsockopt");
        let stream = s.ty == SockType::Stream;
        if stream {
            crate::path::step("unix_setsockopt");
        }
        if level == SOL_SOCKET && !(stream && name == SO_INQ) {
            crate::path::step("sk_setsockopt");
        }
        note_opt(s.id, level, name, v.len() as i64, v);
        // Only the stream ops have a setsockopt (unix_setsockopt, with
        // SOCK_CUSTOM_SOCKOPT so it sees SOL_SOCKET first).
        if stream {
            if level != SOL_SOCKET {
                return Err(Errno::EOPNOTSUPP.why(rule!(unix_setsockopt, "level != SOL_SOCKET")));
            }
            if name == SO_INQ {
                if v.len() != 4 {
                    return Err(Errno::EINVAL.why(rule!(unix_setsockopt, "optlen != sizeof(int)")));
                }
                let val = i32_at(v, 0);
                if !(0..=1).contains(&val) {
                    return Err(
                        Errno::EINVAL.why(rule!(unix_setsockopt, "SO_INQ value not 0 or 1"))
                    );
                }
                s.lock().recv_inq = val == 1;
                return Ok(());
            }
        } else if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP.why(rule!(
                do_sock_setsockopt,
                "level != SOL_SOCKET and the unix ops have no setsockopt",
            )));
        }
        self.sk_setsockopt(pid, s, name, v)
    }

    // sk_setsockopt
    fn sk_setsockopt(&self, pid: RawPid, s: &Arc<Sock>, name: i32, v: &[u8]) -> SysResult<()> {
        let p = self.proc(pid)?;
        let cap = |c: Capability| p.cred.capable(c);
        if name == SO_BINDTODEVICE {
            return self.sock_setbindtodevice(s, v, cap(Capability::NetRaw));
        }
        // SO_ATTACH_FILTER's bytes are the instructions; the call the
        // kernel sees passes the struct sock_fprog built around them, whose
        // optlen (16) always passes this check.
        if v.len() < 4 && name != SO_ATTACH_FILTER {
            return Err(Errno::EINVAL.why(rule!(sk_setsockopt, "optlen < sizeof(int)")));
        }
        let val = i32_at(v, 0);
        let valbool = val != 0;

        // The options sk_setsockopt handles without the socket lock.
        match name {
            SO_PRIORITY => {
                if (0..=TC_PRIO_INTERACTIVE).contains(&val)
                    || cap(Capability::NetRaw)
                    || cap(Capability::NetAdmin)
                {
                    s.lock().opts.priority = val as u32;
                    return Ok(());
                }
                return Err(Errno::EPERM.why(rule!(
                    sk_set_prio_allowed,
                    "priority outside 0..6 without CAP_NET_RAW or CAP_NET_ADMIN"
                )));
            }
            SO_TYPE | SO_PROTOCOL | SO_DOMAIN | SO_ERROR => {
                return Err(Errno::ENOPROTOOPT.why(rule!(sk_setsockopt, "read-only option")));
            }
            SO_BUSY_POLL => {
                if val < 0 {
                    return Err(Errno::EINVAL.why(rule!(sk_setsockopt, "SO_BUSY_POLL < 0")));
                }
                s.lock().opts.busy_poll = val as u32;
                return Ok(());
            }
            SO_PREFER_BUSY_POLL => {
                if valbool && !cap(Capability::NetAdmin) {
                    return Err(Errno::EPERM.why(rule!(
                        sk_setsockopt,
                        "SO_PREFER_BUSY_POLL needs CAP_NET_ADMIN"
                    )));
                }
                s.lock().opts.prefer_busy_poll = valbool;
                return Ok(());
            }
            SO_BUSY_POLL_BUDGET => {
                let mut g = s.lock();
                if val > i32::from(g.opts.busy_poll_budget) && !cap(Capability::NetAdmin) {
                    return Err(Errno::EPERM.why(rule!(
                        sk_setsockopt,
                        "raising SO_BUSY_POLL_BUDGET needs CAP_NET_ADMIN"
                    )));
                }
                let Ok(b) = u16::try_from(val) else {
                    return Err(Errno::EINVAL.why(rule!(
                        sk_setsockopt,
                        "SO_BUSY_POLL_BUDGET outside 0..U16_MAX"
                    )));
                };
                g.opts.busy_poll_budget = b;
                return Ok(());
            }
            SO_MAX_PACING_RATE => {
                let mut rate = if val as u32 == u32::MAX {
                    u64::MAX
                } else {
                    u64::from(val as u32)
                };
                // An unsigned long's worth when the caller passed that much.
                if let Some(b) = v.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                    rate = u64::from_ne_bytes(b);
                }
                s.lock().opts.max_pacing_rate = rate;
                return Ok(());
            }
            SO_TXREHASH => {
                return Err(Errno::EOPNOTSUPP.why(rule!(
                    sk_setsockopt,
                    "SO_TXREHASH on a socket that is not TCP"
                )));
            }
            SO_PEEK_OFF => {
                // unix_set_peek_off
                s.lock().peek_off = val;
                return Ok(());
            }
            SO_DEVMEM_DONTNEED => {
                return Err(Errno::EBADF.why(rule!(sock_devmem_dontneed, "not a TCP socket")));
            }
            SO_SNDTIMEO | SO_SNDTIMEO_NEW | SO_RCVTIMEO | SO_RCVTIMEO_NEW => {
                let t = sock_set_timeout(v)?;
                if name == SO_RCVTIMEO || name == SO_RCVTIMEO_NEW {
                    s.rcvtimeo.set(t);
                } else {
                    s.sndtimeo.set(t);
                }
                return Ok(());
            }
            _ => {}
        }

        let mut g = s.lock();
        match name {
            SO_DEBUG => {
                if valbool && !cap(Capability::NetAdmin) {
                    return Err(
                        Errno::EACCES.why(rule!(sk_setsockopt, "SO_DEBUG needs CAP_NET_ADMIN"))
                    );
                }
                g.opts.debug = valbool;
            }
            SO_REUSEADDR => g.opts.reuse = valbool,
            SO_REUSEPORT => {
                if valbool {
                    return Err(Errno::EOPNOTSUPP.why(rule!(
                        sk_setsockopt,
                        "SO_REUSEPORT on a socket that is not inet"
                    )));
                }
            }
            SO_DONTROUTE => g.opts.localroute = valbool,
            SO_BROADCAST => g.opts.broadcast = valbool,
            SO_SNDBUF | SO_SNDBUFFORCE => {
                if name == SO_SNDBUFFORCE && !cap(Capability::NetAdmin) {
                    return Err(Errno::EPERM
                        .why(rule!(sk_setsockopt, "SO_SNDBUFFORCE needs CAP_NET_ADMIN")));
                }
                g.opts.userlocks |= SOCK_SNDBUF_LOCK;
                g.sndbuf = sock_buf_size(val, name == SO_SNDBUFFORCE).max(SOCK_MIN_SNDBUF);
                drop(g);
                // sk_write_space
                s.wake();
                return Ok(());
            }
            SO_RCVBUF | SO_RCVBUFFORCE => {
                if name == SO_RCVBUFFORCE && !cap(Capability::NetAdmin) {
                    return Err(Errno::EPERM
                        .why(rule!(sk_setsockopt, "SO_RCVBUFFORCE needs CAP_NET_ADMIN")));
                }
                // __sock_set_rcvbuf
                g.opts.userlocks |= SOCK_RCVBUF_LOCK;
                g.rcvbuf = sock_buf_size(val, name == SO_RCVBUFFORCE).max(SOCK_MIN_RCVBUF);
            }
            SO_KEEPALIVE => g.opts.keepopen = valbool,
            SO_OOBINLINE => g.oobinline = valbool,
            SO_NO_CHECK => g.opts.no_check = valbool,
            SO_LINGER => {
                if v.len() < 8 {
                    return Err(Errno::EINVAL.why(rule!(
                        sk_setsockopt,
                        "SO_LINGER optlen < sizeof(struct linger)"
                    )));
                }
                if i32_at(v, 0) == 0 {
                    g.opts.linger = false;
                } else {
                    // unsigned long t_sec = ling.l_linger (sign-extended).
                    let t_sec = i64::from(i32_at(v, 4)) as u64;
                    let hz = HZ as i64;
                    g.opts.lingertime = if t_sec >= (MAX_SCHEDULE_TIMEOUT / hz) as u64 {
                        MAX_SCHEDULE_TIMEOUT
                    } else {
                        t_sec as i64 * hz
                    };
                    g.opts.linger = true;
                }
            }
            SO_BSDCOMPAT | SO_CNX_ADVICE => {}
            SO_TIMESTAMP_OLD | SO_TIMESTAMP_NEW | SO_TIMESTAMPNS_OLD | SO_TIMESTAMPNS_NEW => {
                // sock_set_timestamp → __sock_set_timestamps: turning
                // them off clears all three flags. A datagram receive
                // then reports the time a message was queued
                // (`__sock_recv_timestamp`); a stream receive never does.
                if valbool {
                    g.opts.tstamp_new = name == SO_TIMESTAMP_NEW || name == SO_TIMESTAMPNS_NEW;
                    g.opts.rcvtstampns = name == SO_TIMESTAMPNS_OLD || name == SO_TIMESTAMPNS_NEW;
                    g.opts.rcvtstamp = true;
                } else {
                    g.opts.tstamp_new = false;
                    g.opts.rcvtstamp = false;
                    g.opts.rcvtstampns = false;
                }
            }
            SO_TIMESTAMPING_OLD | SO_TIMESTAMPING_NEW => {
                // sock_set_timestamping: an int, or a struct so_timestamping
                // {flags, bind_phc} when optlen is its size.
                let flags = val as u32;
                crate::path::note(|| format!("SOF_TIMESTAMPING flags {flags:#x}"));
                if flags & !SOF_TIMESTAMPING_MASK != 0 {
                    return Err(Errno::EINVAL.why(rule!(
                        sock_set_timestamping,
                        "a flag outside SOF_TIMESTAMPING_MASK"
                    )));
                }
                // sock_set_tskey (sk_tskey itself only numbers transmit
                // timestamps, which no unix socket makes).
                if flags & SOF_TIMESTAMPING_OPT_ID_TCP != 0 && flags & SOF_TIMESTAMPING_OPT_ID == 0
                {
                    return Err(Errno::EINVAL.why(rule!(
                        sock_set_tskey,
                        "SOF_TIMESTAMPING_OPT_ID_TCP without SOF_TIMESTAMPING_OPT_ID"
                    )));
                }
                if flags & SOF_TIMESTAMPING_OPT_STATS != 0
                    && flags & SOF_TIMESTAMPING_OPT_TSONLY == 0
                {
                    return Err(Errno::EINVAL.why(rule!(
                        sock_set_timestamping,
                        "SOF_TIMESTAMPING_OPT_STATS without SOF_TIMESTAMPING_OPT_TSONLY"
                    )));
                }
                if flags & SOF_TIMESTAMPING_BIND_PHC != 0 {
                    // sock_timestamping_bind_phc: the bound device's PHC
                    // virtual clocks; loopback has none.
                    return Err(if g.opts.bound_dev_if == 0 {
                        Errno::EOPNOTSUPP.why(rule!(
                            sock_timestamping_bind_phc,
                            "SOF_TIMESTAMPING_BIND_PHC on a socket bound to no device"
                        ))
                    } else {
                        Errno::EINVAL.why(rule!(
                            sock_timestamping_bind_phc,
                            "SOF_TIMESTAMPING_BIND_PHC: the bound device has no PHC virtual clock"
                        ))
                    });
                }
                g.opts.tsflags = flags;
                g.opts.tstamp_new = name == SO_TIMESTAMPING_NEW;
            }
            SO_RCVLOWAT => {
                // No set_rcvlowat in the unix ops.
                g.rcvlowat = if val < 0 { i32::MAX } else { val.max(1) };
            }
            SO_ATTACH_FILTER => {
                // The option bytes are the instructions: the backend builds
                // the struct sock_fprog, with len = bytes / 8 as a u16.
                if g.opts.filter_locked {
                    return Err(Errno::EPERM.why(rule!(__get_filter, "SOCK_FILTER_LOCKED")));
                }
                let n = usize::from((v.len() / 8) as u16);
                let prog = crate::abi::filter::Program::parse(v.get(..n * 8).unwrap_or_default())?;
                g.filter = Some(Arc::new(prog));
                s.has_filter
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
            SO_ATTACH_BPF | SO_ATTACH_REUSEPORT_EBPF => {
                if v.len() != 4 {
                    return Err(Errno::EINVAL
                        .why(rule!(sk_setsockopt, "BPF program fd optlen != sizeof(u32)")));
                }
                if g.opts.filter_locked {
                    return Err(Errno::EPERM.why(rule!(__get_bpf, "SOCK_FILTER_LOCKED")));
                }
                drop(g);
                let f = self
                    .fdget(pid, val)
                    .map_err(|_| Errno::EBADF.why(rule!(bpf_prog_get, "fd not open")))?;
                self.fput(f);
                return Err(Errno::EINVAL.why(rule!(bpf_prog_get, "the fd is not a BPF program")));
            }
            SO_ATTACH_REUSEPORT_CBPF => {
                // The option bytes are a struct sock_fprog as they are.
                if v.len() != 16 {
                    return Err(Errno::EINVAL.why(rule!(
                        copy_bpf_fprog_from_user,
                        "optlen != sizeof(struct sock_fprog)"
                    )));
                }
                if g.opts.filter_locked {
                    return Err(Errno::EPERM.why(rule!(__get_filter, "SOCK_FILTER_LOCKED")));
                }
                let len = u16::from_ne_bytes([v[0], v[1]]);
                let ptr = v
                    .get(8..16)
                    .map_or(0, |b| b.iter().fold(0u64, |a, x| a << 8 | u64::from(*x)));
                if len == 0 || usize::from(len) > crate::abi::filter::BPF_MAXINSNS || ptr == 0 {
                    return Err(Errno::EINVAL.why(rule!(
                        bpf_check_basics_ok,
                        "len == 0, > BPF_MAXINSNS or a NULL filter"
                    )));
                }
                return Err(Errno::EFAULT.why(gap!(
                    "copy_from_user of the program behind a raw sock_fprog pointer (the model has no user memory)",
                )));
            }
            SO_DETACH_REUSEPORT_BPF => {
                return Err(Errno::EINVAL.why(rule!(reuseport_detach_prog, "no reuseport group")));
            }
            SO_DETACH_FILTER => {
                if g.opts.filter_locked {
                    return Err(Errno::EPERM.why(rule!(sk_detach_filter, "SOCK_FILTER_LOCKED")));
                }
                if g.filter.take().is_none() {
                    return Err(Errno::ENOENT.why(rule!(sk_detach_filter, "no filter attached")));
                }
                s.has_filter
                    .store(false, std::sync::atomic::Ordering::SeqCst);
            }
            SO_LOCK_FILTER => {
                if g.opts.filter_locked && !valbool {
                    return Err(
                        Errno::EPERM.why(rule!(sk_setsockopt, "SO_LOCK_FILTER cannot be cleared"))
                    );
                }
                g.opts.filter_locked = valbool;
            }
            SO_MARK => {
                if !cap(Capability::NetRaw) && !cap(Capability::NetAdmin) {
                    return Err(Errno::EPERM.why(rule!(
                        sk_setsockopt,
                        "SO_MARK needs CAP_NET_RAW or CAP_NET_ADMIN"
                    )));
                }
                g.opts.mark = val as u32;
            }
            SO_RCVMARK => g.opts.rcvmark = valbool,
            SO_RCVPRIORITY => g.opts.rcvpriority = valbool,
            SO_RXQ_OVFL => g.opts.rxq_ovfl = valbool,
            SO_WIFI_STATUS => g.opts.wifi_status = valbool,
            SO_NOFCS => g.opts.nofcs = valbool,
            SO_SELECT_ERR_QUEUE => g.opts.select_err_queue = valbool,
            SO_PASSCRED => g.passcred = valbool,
            SO_PASSSEC => g.opts.passsec = valbool,
            SO_PASSPIDFD => g.passpidfd = valbool,
            SO_PASSRIGHTS => g.passrights = valbool,
            // reuseport_update_incoming_cpu: no reuseport group, so just the field.
            SO_INCOMING_CPU => g.opts.incoming_cpu = val,
            SO_ZEROCOPY => {
                return Err(Errno::EOPNOTSUPP.why(rule!(
                    sk_setsockopt,
                    "SO_ZEROCOPY is for TCP, UDP and RDS sockets only"
                )));
            }
            SO_TXTIME => {
                if v.len() != 8 {
                    return Err(Errno::EINVAL.why(rule!(
                        sk_setsockopt,
                        "SO_TXTIME optlen != sizeof(struct sock_txtime)"
                    )));
                }
                let clockid = val;
                let flags = i32_at(v, 4) as u32;
                if flags & !SOF_TXTIME_FLAGS_MASK != 0 {
                    return Err(Errno::EINVAL.why(rule!(sk_setsockopt, "unknown SO_TXTIME flags")));
                }
                if clockid != CLOCK_MONOTONIC && !cap(Capability::NetAdmin) {
                    return Err(Errno::EPERM.why(rule!(
                        sk_setsockopt,
                        "SO_TXTIME clock other than CLOCK_MONOTONIC needs CAP_NET_ADMIN"
                    )));
                }
                if ![CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_TAI].contains(&clockid) {
                    return Err(Errno::EINVAL.why(rule!(
                        sockopt_validate_clockid,
                        "clock not REALTIME, MONOTONIC or TAI"
                    )));
                }
                g.opts.clockid = clockid;
                g.opts.txtime_flags = flags;
            }
            SO_BINDTOIFINDEX => {
                // sock_bindtoindex_locked: no check that the device exists.
                if g.opts.bound_dev_if != 0 && !cap(Capability::NetRaw) {
                    return Err(Errno::EPERM.why(rule!(
                        sock_bindtoindex_locked,
                        "rebinding a bound socket needs CAP_NET_RAW",
                    )));
                }
                if val < 0 {
                    return Err(Errno::EINVAL.why(rule!(sock_bindtoindex_locked, "ifindex < 0")));
                }
                g.opts.bound_dev_if = val;
            }
            SO_BUF_LOCK => {
                if val & !SOCK_BUF_LOCK_MASK != 0 {
                    return Err(Errno::EINVAL.why(rule!(
                        sk_setsockopt,
                        "SO_BUF_LOCK bits outside SOCK_BUF_LOCK_MASK"
                    )));
                }
                g.opts.userlocks = (val as u8) | (g.opts.userlocks & !(SOCK_BUF_LOCK_MASK as u8));
            }
            SO_RESERVE_MEM => {
                if val < 0 {
                    return Err(Errno::EINVAL.why(rule!(sk_setsockopt, "SO_RESERVE_MEM < 0")));
                }
                return Err(Errno::EOPNOTSUPP.why(rule!(
                    sock_reserve_memory,
                    "unix sockets have no memory accounting (sk_has_account)",
                )));
            }
            _ => {
                return Err(
                    Errno::ENOPROTOOPT.why(rule!(sk_setsockopt, "option unknown at SOL_SOCKET"))
                );
            }
        }
        Ok(())
    }

    // sock_setbindtodevice
    fn sock_setbindtodevice(&self, s: &Arc<Sock>, v: &[u8], net_raw: bool) -> SysResult<()> {
        let v = v.get(..v.len().min(IFNAMSIZ - 1)).unwrap_or_default();
        let name = v.split(|b| *b == 0).next().unwrap_or_default();
        let index = if name.is_empty() {
            0
        } else {
            dev_get_by_name(name).ok_or(Errno::ENODEV.why(rule!(
                sock_setbindtodevice,
                "no such device (a fresh network namespace has only lo)",
            )))?
        };
        let mut g = s.lock();
        if g.opts.bound_dev_if != 0 && !net_raw {
            return Err(Errno::EPERM.why(rule!(
                sock_bindtoindex_locked,
                "rebinding a bound socket needs CAP_NET_RAW"
            )));
        }
        g.opts.bound_dev_if = index;
        Ok(())
    }

    /// `getsockopt` with `optlen` as an int (value-result): the optlen
    /// returned and the first `min(returned, passed)` bytes written; on an
    /// error, the optlen when the kernel wrote one back.
    pub(crate) fn sys_getsockopt_len(
        &self,
        pid: RawPid,
        fd: i32,
        level: i32,
        name: i32,
        optlen: i32,
    ) -> Result<(i32, Vec<u8>), (crate::errno::Error, Option<i32>)> {
        crate::path::enter(pid, "__sys_getsockopt");
        let f = self.fdget(pid, fd).map_err(|e| (e, None))?;
        if let Some(s) = f.sock() {
            crate::path::step("do_sock_getsockopt");
            if level == SOL_SOCKET {
                crate::path::step("sk_getsockopt");
            }
            note_opt(s.id, level, name, optlen.into(), &[]);
        }
        let r = match f.sock() {
            None => Err((f.not_a_socket(), None)),
            // do_sock_getsockopt: SOL_SOCKET always goes to sk_getsockopt;
            // no unix ops have a getsockopt.
            Some(_) if level != SOL_SOCKET => Err((
                Errno::EOPNOTSUPP.why(rule!(
                    do_sock_getsockopt,
                    "level != SOL_SOCKET and the unix ops have no getsockopt",
                )),
                None,
            )),
            Some(s) => self.sk_getsockopt(pid, s, name, optlen),
        };
        self.fput(f);
        r
    }

    /// `getsockopt` with an `optlen`-byte buffer: the bytes written.
    pub(crate) fn sys_getsockopt(
        &self,
        pid: RawPid,
        fd: i32,
        level: i32,
        name: i32,
        optlen: usize,
    ) -> SysResult<Vec<u8>> {
        let len = i32::try_from(optlen).unwrap_or(i32::MAX);
        self.sys_getsockopt_len(pid, fd, level, name, len)
            .map(|(_, v)| v)
            .map_err(|(e, _)| e)
    }

    // sk_getsockopt
    fn sk_getsockopt(
        &self,
        pid: RawPid,
        s: &Arc<Sock>,
        name: i32,
        len: i32,
    ) -> Result<(i32, Vec<u8>), (crate::errno::Error, Option<i32>)> {
        if len < 0 {
            return Err((Errno::EINVAL.why(rule!(sk_getsockopt, "optlen < 0")), None));
        }
        let e = |e: crate::errno::Error| Err((e, None));
        let ulen = len as usize;
        let mut g = s.lock();
        let o = g.opts.clone();
        let got = match name {
            SO_DEBUG => flag(o.debug),
            SO_DONTROUTE => flag(o.localroute),
            SO_BROADCAST => flag(o.broadcast),
            SO_SNDBUF => int(g.sndbuf),
            SO_RCVBUF => int(g.rcvbuf),
            SO_REUSEADDR => flag(o.reuse),
            // sk_reuseport can only be 0 on a unix socket.
            SO_REUSEPORT => int(0),
            SO_KEEPALIVE => flag(o.keepopen),
            SO_TYPE => int(s.ty.raw()),
            // unix_create leaves sk_protocol 0 whatever the caller passed.
            SO_PROTOCOL => int(0),
            SO_DOMAIN => int(i32::from(AF_UNIX)),
            SO_ERROR => int(g.take_err().map_or(0, crate::errno::Error::raw)),
            SO_OOBINLINE => flag(g.oobinline),
            SO_NO_CHECK => flag(o.no_check),
            SO_PRIORITY => int(o.priority as i32),
            SO_LINGER => {
                let mut b = i32::from(o.linger).to_ne_bytes().to_vec();
                b.extend_from_slice(&((o.lingertime / HZ as i64) as i32).to_ne_bytes());
                Got::Val(b)
            }
            SO_BSDCOMPAT => int(0),
            SO_TIMESTAMP_OLD => flag(o.rcvtstamp && !o.tstamp_new && !o.rcvtstampns),
            SO_TIMESTAMPNS_OLD => flag(o.rcvtstampns && !o.tstamp_new),
            SO_TIMESTAMP_NEW => flag(o.rcvtstamp && o.tstamp_new),
            SO_TIMESTAMPNS_NEW => flag(o.rcvtstampns && o.tstamp_new),
            // struct so_timestamping {sk_tsflags, sk_bind_phc} (no bind
            // to a PHC ever succeeds: 0).
            SO_TIMESTAMPING_OLD | SO_TIMESTAMPING_NEW => {
                let mut v = o.tsflags.to_le_bytes().to_vec();
                v.extend_from_slice(&[0; 4]);
                Got::Val(v)
            }
            SO_RCVTIMEO | SO_RCVTIMEO_NEW => {
                Got::Val(sock_get_timeout(s.rcvtimeo.get()).to_bytes().to_vec())
            }
            SO_SNDTIMEO | SO_SNDTIMEO_NEW => {
                Got::Val(sock_get_timeout(s.sndtimeo.get()).to_bytes().to_vec())
            }
            SO_RCVLOWAT => int(g.rcvlowat),
            SO_SNDLOWAT => int(1),
            SO_PASSCRED => flag(g.passcred),
            SO_PASSPIDFD => flag(g.passpidfd),
            SO_PASSRIGHTS => flag(g.passrights),
            SO_PEERCRED => {
                let u = match &g.peercred {
                    Some(p) => crate::abi::ucred::Ucred {
                        pid: p.pid,
                        uid: p.uid,
                        gid: p.gid,
                    },
                    // cred_to_ucred: no peer, pid 0 and uid/gid -1.
                    None => crate::abi::ucred::Ucred {
                        pid: 0,
                        uid: u32::MAX,
                        gid: u32::MAX,
                    },
                };
                let b = u.to_bytes();
                let n = ulen.min(b.len());
                Got::Len(n as i32, b[..n].to_vec())
            }
            SO_PEERPIDFD => {
                let n = ulen.min(4);
                let Some(p) = g.peercred.as_ref().map(|p| p.pid) else {
                    return e(
                        Errno::ENODATA.why(rule!(sk_getsockopt, "SO_PEERPIDFD with no peer pid"))
                    );
                };
                drop(g);
                if !self.pid_known(p) {
                    return e(Errno::ESRCH.why(rule!(pidfd_prepare, "no such process")));
                }
                // The fd is installed whatever length the caller passed.
                let fd = self.pidfd_install(pid, p).map_err(|x| (x, None))?;
                return Ok((n as i32, fd.to_ne_bytes()[..n].to_vec()));
            }
            SO_PEERGROUPS => {
                let Some(p) = &g.peercred else {
                    return e(Errno::ENODATA.why(rule!(
                        sk_getsockopt,
                        "SO_PEERGROUPS with no peer credentials"
                    )));
                };
                let b: Vec<u8> = p.groups.iter().flat_map(|x| x.to_ne_bytes()).collect();
                let need = i32::try_from(b.len()).unwrap_or(i32::MAX);
                if len < need {
                    return Err((
                        Errno::ERANGE.why(rule!(
                            sk_getsockopt,
                            "SO_PEERGROUPS buffer too small (needed length written back)"
                        )),
                        Some(need),
                    ));
                }
                Got::Len(need, b)
            }
            SO_PEERNAME => {
                let Some(peer) = g.peer.clone() else {
                    crate::net::unix::note_sock(s, &g);
                    return e(Errno::ENOTCONN.why(rule!(unix_getname, "no peer")));
                };
                drop(g);
                let addr = peer
                    .name()
                    .cloned()
                    .unwrap_or(crate::abi::sockaddr::UnixAddr::Unnamed)
                    .to_kernel_bytes();
                if addr.len() < ulen {
                    return e(Errno::EINVAL.why(rule!(
                        sk_getsockopt,
                        "SO_PEERNAME optlen > the address length"
                    )));
                }
                return Ok((len, addr[..ulen].to_vec()));
            }
            SO_ACCEPTCONN => flag(g.state == SockState::Listen),
            SO_PASSSEC => flag(o.passsec),
            SO_PEERSEC => {
                return e(Errno::ENOPROTOOPT.why(rule!(
                    security_socket_getpeersec_stream,
                    "no LSM provides a peer context"
                )));
            }
            SO_MARK => int(o.mark as i32),
            SO_RCVMARK => flag(o.rcvmark),
            SO_RCVPRIORITY => flag(o.rcvpriority),
            SO_RXQ_OVFL => flag(o.rxq_ovfl),
            SO_WIFI_STATUS => flag(o.wifi_status),
            SO_PEEK_OFF => int(g.peek_off),
            SO_NOFCS => flag(o.nofcs),
            SO_BINDTODEVICE => {
                // sock_getbindtodevice
                if o.bound_dev_if == 0 {
                    Got::Len(0, Vec::new())
                } else if ulen < IFNAMSIZ {
                    return e(Errno::EINVAL.why(rule!(sock_getbindtodevice, "optlen < IFNAMSIZ")));
                } else {
                    let Some(n) = netdev_get_name(o.bound_dev_if) else {
                        return e(Errno::ENODEV
                            .why(rule!(netdev_get_name, "no device with that ifindex")));
                    };
                    let mut b = n.to_vec();
                    b.push(0);
                    Got::Len(b.len() as i32, b)
                }
            }
            SO_GET_FILTER => match &g.filter {
                // sk_get_filter counts in instructions: optlen 0 asks for
                // the count; otherwise the whole program is copied (8 bytes
                // per instruction) and the count written back.
                None => Got::Len(0, Vec::new()),
                Some(prog) => {
                    let n = prog.len();
                    if ulen == 0 {
                        Got::Len(n as i32, Vec::new())
                    } else if ulen < n {
                        return e(Errno::EINVAL
                            .why(rule!(sk_get_filter, "optlen < the number of instructions")));
                    } else {
                        let mut b = prog.to_bytes();
                        b.truncate(n);
                        Got::Len(n as i32, b)
                    }
                }
            },
            SO_LOCK_FILTER => flag(o.filter_locked),
            SO_BPF_EXTENSIONS => int(SKF_AD_MAX),
            SO_SELECT_ERR_QUEUE => flag(o.select_err_queue),
            SO_BUSY_POLL => int(o.busy_poll as i32),
            SO_PREFER_BUSY_POLL => flag(o.prefer_busy_poll),
            SO_MAX_PACING_RATE => {
                if ulen >= 8 {
                    Got::Val(o.max_pacing_rate.to_ne_bytes().to_vec())
                } else {
                    int(o.max_pacing_rate.min(u64::from(u32::MAX)) as u32 as i32)
                }
            }
            SO_INCOMING_CPU => int(o.incoming_cpu),
            SO_MEMINFO => {
                if g.filter.is_some() {
                    return e(Errno::ENOPROTOOPT
                        .why(gap!("SO_MEMINFO's optmem with a filter attached (sk_filter charge) is not modelled")));
                }
                // rmem_alloc (unix charges the sender), rcvbuf, wmem_alloc,
                // sndbuf, fwd_alloc, wmem_queued, optmem, backlog, drops.
                let wmem = u32::try_from(s.wmem()).unwrap_or(u32::MAX);
                let m: [u32; SK_MEMINFO_VARS] =
                    [0, g.rcvbuf as u32, wmem, g.sndbuf as u32, 0, 0, 0, 0, 0];
                let b: Vec<u8> = m.iter().flat_map(|x| x.to_ne_bytes()).collect();
                let n = ulen.min(b.len());
                Got::Len(n as i32, b[..n].to_vec())
            }
            SO_INCOMING_NAPI_ID | SO_ZEROCOPY | SO_RESERVE_MEM => int(0),
            SO_COOKIE => {
                if ulen < 8 {
                    return e(
                        Errno::EINVAL.why(rule!(sk_getsockopt, "SO_COOKIE optlen < sizeof(u64)"))
                    );
                }
                // sock_gen_cookie: a unique nonzero number (the host's
                // depends on every socket the machine ever asked about).
                Got::Val((s.id + 1).to_ne_bytes().to_vec())
            }
            SO_TXTIME => {
                let mut b = o.clockid.to_ne_bytes().to_vec();
                b.extend_from_slice(&o.txtime_flags.to_ne_bytes());
                Got::Val(b)
            }
            SO_BINDTOIFINDEX => int(o.bound_dev_if),
            SO_NETNS_COOKIE => {
                if ulen != 8 {
                    return e(Errno::EINVAL.why(rule!(
                        sk_getsockopt,
                        "SO_NETNS_COOKIE optlen != sizeof(u64)"
                    )));
                }
                // net_cookie: unique per namespace (the host's is arbitrary).
                Got::Val((u64::from(s.netns) + 1).to_ne_bytes().to_vec())
            }
            SO_BUF_LOCK => int(i32::from(o.userlocks) & SOCK_BUF_LOCK_MASK),
            SO_TXREHASH => {
                return e(Errno::EOPNOTSUPP.why(rule!(
                    sk_getsockopt,
                    "SO_TXREHASH on a socket that is not TCP"
                )));
            }
            _ => {
                return e(
                    Errno::ENOPROTOOPT.why(rule!(sk_getsockopt, "option unknown at SOL_SOCKET"))
                );
            }
        };
        Ok(match got {
            Got::Val(b) => {
                let n = ulen.min(b.len());
                (n as i32, b[..n].to_vec())
            }
            Got::Len(n, b) => (n, b),
        })
    }
}

/// The buffer size `sk_setsockopt` stores for SO_SNDBUF/SO_RCVBUF (and the
/// FORCE forms): `min_t(u32, val, [wr]mem_max)`, or `max(val, 0)` when
/// forced; at most INT_MAX / 2, doubled (the caller applies its floor).
fn sock_buf_size(val: i32, forced: bool) -> i32 {
    let v = if forced {
        val.max(0) as u32
    } else {
        (val as u32).min(SK_BUF_MAX as u32)
    };
    (v.min(i32::MAX as u32 / 2) as i32).saturating_mul(2)
}
