//! The generator: random but valid scenarios in the scenario language,
//! from a seed (see the module docs of [`super`]).
//!
//! Every line is built as a value of the parser's own types (an [`Op`],
//! a [`Directive`]) and written by [`crate::print`], so the generator
//! cannot write a line the parser does not read, and a change to a call
//! of the language is a change to the types the generator builds.

use super::BLOCKING_WAIT_MS;
use crate::scenario::{
    parse_hex, AddrArg, AddrKind, CredsArg, CtlPiece, Directive, FdArg, Line, LineKind, Op, Opt,
    OptArg, PidArg, Space, SpaceTerm,
};
use afunix::abi::consts::*;
use afunix::rng::Rng;
use afunix_backend::backend::{RecvBuf, SendBuf, TaskSpec};
use std::collections::HashMap;

/// The calls [`Gen::call`] makes, one variant per arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallKind {
    Socket,
    Socketpair,
    Bind,
    Connect,
    Listen,
    Accept,
    Sendmsg,
    Recvmsg,
    Close,
    Dup,
    Shutdown,
    Setsockopt,
    Getsockopt,
    Getname,
    Fcntl,
    Pipe,
    Memfd,
    Read,
    Write,
    Poll,
    Ioctl,
    Gc,
    Fork,
    Exit,
}

/// The call mix: how often each call is drawn, per 1000 calls (a version 2
/// form is drawn first, 14 times in 100, by [`Gen::call_v2`]). Sends and
/// receives dominate, because fd passing is what the fuzzer is for.
const CALL_MIX: &[(CallKind, usize)] = &[
    (CallKind::Socket, 80),
    (CallKind::Socketpair, 60),
    (CallKind::Bind, 60),
    (CallKind::Connect, 70),
    (CallKind::Listen, 40),
    (CallKind::Accept, 50),
    (CallKind::Sendmsg, 180),
    (CallKind::Recvmsg, 150),
    (CallKind::Close, 60),
    (CallKind::Dup, 20),
    (CallKind::Shutdown, 30),
    (CallKind::Setsockopt, 50),
    (CallKind::Getsockopt, 40),
    (CallKind::Getname, 20),
    (CallKind::Fcntl, 15),
    (CallKind::Pipe, 10),
    (CallKind::Memfd, 10),
    (CallKind::Read, 10),
    (CallKind::Write, 10),
    (CallKind::Poll, 15),
    (CallKind::Ioctl, 10),
    (CallKind::Gc, 5),
    (CallKind::Fork, 3),
    (CallKind::Exit, 2),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Stream,
    Dgram,
    Seqpacket,
    PipeR,
    PipeW,
    Memfd,
    /// Received, or a pidfd: what it is depends on what happened.
    Unknown,
}

impl Kind {
    fn socket(self) -> bool {
        matches!(self, Kind::Stream | Kind::Dgram | Kind::Seqpacket)
    }
}

#[derive(Clone, Debug)]
struct NameInfo {
    name: String,
    kind: Kind,
    /// Index into `Gen::nonblock`: the open file description.
    file: usize,
    /// Not closed (as far as the generator knows).
    live: bool,
    /// Bound by a call that may well bind nothing (recvmsg, getsockopt):
    /// used less often.
    maybe: bool,
}

#[derive(Clone, Debug)]
struct ProcState {
    name: String,
    uid: u32,
    alive: bool,
    names: Vec<NameInfo>,
}

struct Gen {
    rng: Rng,
    /// The scenario so far, each line printed by [`crate::print`].
    lines: Vec<String>,
    procs: Vec<ProcState>,
    /// Per open file description: known to be O_NONBLOCK.
    nonblock: Vec<bool>,
    counter: usize,
    /// The socket type most sockets of this scenario get.
    main_type: i32,
    /// Process names not yet used (for `fork`).
    spare: Vec<String>,
    /// `--blocking`: calls that may block are made on blocking files,
    /// in the background (`&`).
    blocking: bool,
    /// Processes with a background call not yet collected (as far as the
    /// generator knows), with the names its `wait` binds.
    pend: HashMap<usize, Vec<String>>,
    /// Files that background calls wait on, and their other ends: other
    /// processes' calls prefer them (to wake the calls).
    focus: Vec<usize>,
    /// The other end of a socketpair or pipe file.
    partner: HashMap<usize, usize>,
}

const TYPES: &[i32] = &[SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET];
const PROC_NAMES: &[&str] = &["A", "B", "C", "D"];

/// Classic BPF programs for `attach_filter` (valid and not), as the hex
/// of their `struct sock_filter` arrays.
const FILTERS: &[&str] = &[
    // ld len; jgt #3 ? drop : accept
    "80000000000000002500000103000000060000000000000006000000ffffffff",
    // ret #0 (drop everything)
    "0600000000000000",
    // ret #1 (trim to one byte)
    "0600000001000000",
    // ret #0xffffffff (accept everything)
    "06000000ffffffff",
    // empty program
    "",
    // ld #0 with no ret: invalid
    "0000000000000000",
];

/// Values for raw options: an int, a short one, none, a long one.
const RAW_VALUES: &[&[u8]] = &[&[1, 0, 0, 0], &[0, 0x10], &[], &[0, 0x10, 0, 0, 0]];

fn abstract_name(n: &[u8]) -> AddrKind {
    AddrKind::Abstract(n.to_vec())
}

fn path(p: &[u8]) -> AddrKind {
    AddrKind::Path(p.to_vec())
}

/// The addresses most calls use: two abstract names, two paths.
fn addrs() -> [AddrKind; 4] {
    [
        abstract_name(b"a"),
        abstract_name(b"b"),
        path(b"p1"),
        path(b"p2"),
    ]
}

/// Addresses the kernel refuses (or that name nothing), as raw
/// `sockaddr` bytes and as names.
fn junk_addrs() -> [AddrKind; 10] {
    let hex = |b: &[u8]| AddrKind::Hex(b.to_vec());
    [
        hex(&[0x01]),
        hex(&[0x01, 0x00]),
        hex(&[0x02, 0x00]),
        hex(&[0x01, 0x00, 0x00]),
        hex(b"\x01\x00abc"),
        hex(b"\x01\x00\x00a"),
        hex(&[0x0a, 0, 0, 0, 0, 0, 0, 0]),
        abstract_name(b""),
        AddrKind::Autobound(1),
        AddrKind::Autobound(2),
    ]
}

/// An fd argument from the generator's text for it: a name, or a number.
fn fd(s: &str) -> FdArg {
    FdArg::from_text(s, 0)
}

/// A call line by process `proc`.
fn call_line(proc: &str, op: Op, binds: Vec<String>, background: bool) -> Line {
    Line {
        lineno: 0,
        echo: String::new(),
        kind: LineKind::Call {
            proc: proc.to_string(),
            proc_col: 0,
            op,
            binds,
            background,
        },
        expect: None,
    }
}

fn directive(d: Directive) -> Line {
    Line {
        lineno: 0,
        echo: String::new(),
        kind: LineKind::Directive(d),
        expect: None,
    }
}

/// A C int option value.
fn int_value(v: i64) -> Vec<u8> {
    (v as i32).to_ne_bytes().to_vec()
}

/// `len` bytes of `x`, what `data=N` sends.
fn xs(len: usize) -> Vec<u8> {
    vec![b'x'; len]
}

impl Gen {
    fn new(seed: u64, blocking: bool) -> Gen {
        let mut rng = Rng::new(seed);
        let main_type = *rng.pick(TYPES);
        Gen {
            rng,
            lines: Vec::new(),
            procs: Vec::new(),
            nonblock: Vec::new(),
            counter: 0,
            main_type,
            spare: Vec::new(),
            blocking,
            pend: HashMap::new(),
            focus: Vec::new(),
            partner: HashMap::new(),
        }
    }

    /// One of `xs`, copied.
    fn bytes(&mut self, xs: &[&[u8]]) -> Vec<u8> {
        self.rng.pick(xs).to_vec()
    }

    fn push(&mut self, line: Line) {
        self.lines.push(line.to_string());
    }

    /// A call of `p` binding `binds`.
    fn push_call(&mut self, p: usize, op: Op, binds: Vec<String>) {
        let l = call_line(&self.procs[p].name, op, binds, false);
        self.push(l);
    }

    /// Whether a call of `p` on the fd argument `fd` could block: any fd
    /// not known to be a live non-blocking file (a closed name's number
    /// may have been reused, a number may be anything but 0 to 2).
    fn may_block(&self, p: usize, fd: &str) -> bool {
        if let Some(n) = self.procs[p]
            .names
            .iter()
            .rev()
            .find(|n| n.name == fd && n.live)
        {
            return n.kind != Kind::Memfd && !self.nonblock[n.file];
        }
        !matches!(fd, "-1" | "999" | "0" | "1" | "2")
    }

    /// `--blocking`: send/receive flags without `dontwait` (for a call
    /// that may block), `None` for the usual `dontwait` ones.
    fn blocking_flags(&mut self, extra: &[i32], pct: u32) -> Option<i32> {
        if !self.blocking || !self.rng.chance(55) {
            return None;
        }
        Some(self.flags(0, extra, pct))
    }

    /// `op` by `p` on `fd`, binding `binds`: in the background when it may
    /// block (the names go on its `wait`).
    fn maybe_bg(&mut self, p: usize, fd: &str, op: Op, binds: Vec<String>) {
        let pn = self.procs[p].name.clone();
        if self.blocking && self.may_block(p, fd) {
            self.pend.insert(p, binds);
            if let Some(n) = self.procs[p].names.iter().rev().find(|n| n.name == fd) {
                let f = n.file;
                self.focus.push(f);
                if let Some(&o) = self.partner.get(&f) {
                    self.focus.push(o);
                }
                let k = self.focus.len();
                if k > 6 {
                    self.focus.drain(..k - 6);
                }
            }
            self.push(call_line(&pn, op, Vec::new(), true));
        } else {
            self.push(call_line(&pn, op, binds, false));
        }
    }

    /// The `wait` line collecting `p`'s background call, if it has one.
    fn collect(&mut self, p: usize) {
        if let Some(b) = self.pend.remove(&p) {
            let ms = Some(BLOCKING_WAIT_MS);
            self.push_call(p, Op::Wait { ms }, b);
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn new_file(&mut self, nonblock: bool) -> usize {
        self.nonblock.push(nonblock);
        self.nonblock.len() - 1
    }

    fn bind_name(&mut self, p: usize, name: &str, kind: Kind, file: usize, maybe: bool) {
        self.procs[p].names.push(NameInfo {
            name: name.to_string(),
            kind,
            file,
            live: true,
            maybe,
        });
    }

    fn sock_type(&mut self) -> i32 {
        if self.rng.chance(65) {
            self.main_type
        } else {
            TYPES[self.rng.below(TYPES.len())]
        }
    }

    fn kind_of(ty: i32) -> Kind {
        match ty {
            SOCK_STREAM => Kind::Stream,
            SOCK_DGRAM => Kind::Dgram,
            _ => Kind::Seqpacket,
        }
    }

    fn alive(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| self.procs[i].alive)
            .collect()
    }

    /// A name of process `p` (index into its names) matching `want`,
    /// preferring live and certain ones.
    fn pick_name(&mut self, p: usize, want: &dyn Fn(&NameInfo) -> bool) -> Option<usize> {
        let names = &self.procs[p].names;
        let mut good: Vec<usize> = (0..names.len())
            .filter(|&i| names[i].live && want(&names[i]))
            .collect();
        if self.blocking && !self.focus.is_empty() && self.rng.chance(50) {
            // Mostly the files a background call waits on.
            let f: Vec<usize> = good
                .iter()
                .copied()
                .filter(|&i| self.focus.contains(&names[i].file))
                .collect();
            if !f.is_empty() {
                good = f;
            }
        }
        let sure: Vec<usize> = good.iter().copied().filter(|&i| !names[i].maybe).collect();
        if !sure.is_empty() && self.rng.chance(85) {
            return Some(*self.rng.pick(&sure));
        }
        if !good.is_empty() {
            return Some(*self.rng.pick(&good));
        }
        let live: Vec<usize> = (0..names.len()).filter(|&i| names[i].live).collect();
        if !live.is_empty() {
            return Some(*self.rng.pick(&live));
        }
        None
    }

    /// An fd argument for a call that cannot block: mostly a live name
    /// matching `want`, sometimes a closed one or a bad number.
    fn fd_arg(&mut self, p: usize, want: &dyn Fn(&NameInfo) -> bool) -> String {
        let r = self.rng.below(100);
        if r < 4 {
            return self.rng.pick(&["-1", "999", "0", "2"]).to_string();
        }
        if r < 10 {
            let dead: Vec<String> = self.procs[p]
                .names
                .iter()
                .filter(|n| !n.live)
                .map(|n| n.name.clone())
                .collect();
            if !dead.is_empty() {
                return self.rng.pick(&dead).clone();
            }
        }
        match self.pick_name(p, want) {
            Some(i) => self.procs[p].names[i].name.clone(),
            None => self.rng.pick(&["3", "4", "-1"]).to_string(),
        }
    }

    /// A live name for a call that could block: `fcntl nonblock` is
    /// written first when its file is not known to be non-blocking.
    fn nb_name(&mut self, p: usize, want: &dyn Fn(&NameInfo) -> bool) -> Option<String> {
        let i = self.pick_name(p, want)?;
        let n = self.procs[p].names[i].clone();
        if n.kind != Kind::Memfd && !self.nonblock[n.file] {
            let on = Op::SetNonblock {
                fd: fd(&n.name),
                on: true,
            };
            self.push_call(p, on, Vec::new());
            self.nonblock[n.file] = true;
        }
        Some(n.name)
    }

    fn addr(&mut self, bind: bool) -> AddrArg {
        let r = self.rng.below(100);
        let addr = if r < 80 {
            self.rng.pick(&addrs()).clone()
        } else if r < 88 {
            if bind {
                AddrKind::Auto
            } else {
                AddrKind::Unspec
            }
        } else if r < 92 {
            if bind {
                AddrKind::Unspec
            } else {
                AddrKind::Auto
            }
        } else {
            self.rng.pick(&junk_addrs()).clone()
        };
        AddrArg { addr, col: 0 }
    }

    /// The iovecs of a send: one string, one empty, a run of `x`, or none.
    fn data(&mut self) -> Vec<SendBuf> {
        let r = self.rng.below(100);
        let bytes = if r < 60 {
            self.bytes(&[b"a", b"hi", b"xyz", b"hello", b"ab\x00c", b"0123456789"])
        } else if r < 72 {
            Vec::new()
        } else if r < 92 {
            let n = if self.blocking && self.rng.chance(25) {
                300000
            } else {
                *self
                    .rng
                    .pick(&[1usize, 2, 7, 64, 100, 1000, 4096, 70000, 220000])
            };
            xs(n)
        } else {
            return Vec::new();
        };
        vec![SendBuf::Bytes(bytes)]
    }

    fn creds(&mut self, p: usize) -> CtlPiece {
        let r = self.rng.below(100);
        if r < 45 {
            return CtlPiece::Creds(CredsArg::Own, 0);
        }
        let procs: Vec<String> = self.procs.iter().map(|q| q.name.clone()).collect();
        let pid = if r < 85 {
            PidArg::Name(self.rng.pick(&procs).clone())
        } else {
            // Numbers no process of the world can have (or 0).
            PidArg::Num(*self.rng.pick(&[0, -1, 4194304]))
        };
        let own = self.procs[p].uid;
        let uids = [own, 0, 1000, 1001, 4294967295];
        let uid = *self.rng.pick(&uids);
        let gid = *self.rng.pick(&uids);
        CtlPiece::Creds(CredsArg::Explicit { pid, uid, gid }, 0)
    }

    fn junk_cmsg(&mut self) -> CtlPiece {
        let r = self.rng.below(6);
        let mut b: Vec<u8> = Vec::new();
        match r {
            0 => {
                let n = self.rng.below(20);
                for _ in 0..n {
                    b.push(self.rng.next_u64() as u8);
                }
            }
            1 => {
                // A header that is too short.
                b.extend_from_slice(&12u64.to_le_bytes());
                b.extend_from_slice(&1i32.to_le_bytes());
                b.extend_from_slice(&1i32.to_le_bytes());
            }
            _ => {
                let level = *self.rng.pick(&[1i32, 0, 6, 0xffff]);
                let ty = *self.rng.pick(&[1i32, 2, 3, 4, 99]);
                let dlen = *self.rng.pick(&[0usize, 4, 8, 12]);
                let len = if self.rng.chance(20) {
                    16 + dlen + 100
                } else {
                    16 + dlen
                };
                b.extend_from_slice(&(len as u64).to_le_bytes());
                b.extend_from_slice(&level.to_le_bytes());
                b.extend_from_slice(&ty.to_le_bytes());
                for _ in 0..dlen {
                    b.push(*self.rng.pick(&[0u8, 3, 4, 0xff]));
                }
                while !b.len().is_multiple_of(8) {
                    b.push(0);
                }
            }
        }
        CtlPiece::Raw(b)
    }

    fn rights(&mut self, p: usize) -> CtlPiece {
        if self.rng.chance(3) {
            // More than SCM_MAX_FD (253) in one message.
            let n = fd(&self.fd_arg(p, &|_| true));
            return CtlPiece::Rights(vec![n; 254]);
        }
        let k = 1 + self.rng.below(3);
        let mut v = Vec::new();
        for _ in 0..k {
            let x = if self.rng.chance(8) {
                self.rng.pick(&["-1", "999"]).to_string()
            } else {
                self.fd_arg(p, &|_| true)
            };
            v.push(fd(&x));
        }
        CtlPiece::Rights(v)
    }

    /// `base`, and each of `extra` with probability `pct`%.
    fn flags(&mut self, base: i32, extra: &[i32], pct: u32) -> i32 {
        extra
            .iter()
            .filter(|_| self.rng.chance(pct))
            .fold(base, |f, e| f | e)
    }

    fn recv_binds(&mut self, p: usize) -> Vec<String> {
        let k = self.rng.below(3);
        let mut names = Vec::new();
        for _ in 0..k {
            let n = self.fresh("r");
            let file = self.new_file(false);
            self.bind_name(p, &n, Kind::Unknown, file, true);
            names.push(n);
        }
        names
    }

    fn is_sock(n: &NameInfo) -> bool {
        n.kind.socket() || n.kind == Kind::Unknown
    }

    /// One random call (or a few lines) by process `p`.
    fn call(&mut self, p: usize) {
        if self.rng.chance(14) {
            return self.call_v2(p);
        }
        let (op, binds) = match self.rng.weighted(CALL_MIX) {
            CallKind::Socket => {
                let ty = self.sock_type();
                let nb = self.rng.chance(if self.blocking { 35 } else { 80 });
                let ce = self.rng.chance(15);
                let n = self.fresh("s");
                let file = self.new_file(nb);
                self.bind_name(p, &n, Self::kind_of(ty), file, false);
                let ty =
                    ty | if nb { SOCK_NONBLOCK } else { 0 } | if ce { SOCK_CLOEXEC } else { 0 };
                (Op::Socket { ty, protocol: 0 }, vec![n])
            }
            CallKind::Socketpair => {
                let ty = self.sock_type();
                let nb = self.rng.chance(if self.blocking { 35 } else { 80 });
                let (a, b) = (self.fresh("s"), self.fresh("s"));
                let (fa, fb) = (self.new_file(nb), self.new_file(nb));
                self.partner.insert(fa, fb);
                self.partner.insert(fb, fa);
                let k = Self::kind_of(ty);
                self.bind_name(p, &a, k, fa, false);
                self.bind_name(p, &b, k, fb, false);
                let ty = ty | if nb { SOCK_NONBLOCK } else { 0 };
                (Op::Socketpair { ty, protocol: 0 }, vec![a, b])
            }
            CallKind::Bind => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let addr = self.addr(true);
                (Op::Bind { fd, addr }, Vec::new())
            }
            CallKind::Connect => {
                let Some(name) = self.blocking_name(p, &Self::is_sock) else {
                    return;
                };
                let addr = self.addr(false);
                let op = Op::Connect {
                    fd: fd(&name),
                    addr,
                };
                return self.maybe_bg(p, &name, op, Vec::new());
            }
            CallKind::Listen => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let backlog = if self.blocking && self.rng.chance(40) {
                    0
                } else {
                    *self.rng.pick(&[0, 1, 2, 5, -1])
                };
                (Op::Listen { fd, backlog }, Vec::new())
            }
            CallKind::Accept => {
                let Some(name) = self.blocking_name(p, &Self::is_sock) else {
                    return;
                };
                let nb = self.rng.chance(80);
                let ce = self.rng.chance(15);
                let n = self.fresh("s");
                let file = self.new_file(nb);
                let k = self.procs[p]
                    .names
                    .iter()
                    .find(|x| x.name == name)
                    .map(|x| x.kind)
                    .unwrap_or(Kind::Unknown);
                self.bind_name(p, &n, k, file, true);
                let flags = if nb { SOCK_NONBLOCK } else { 0 } | if ce { SOCK_CLOEXEC } else { 0 };
                let op = Op::Accept {
                    fd: fd(&name),
                    flags,
                };
                return self.maybe_bg(p, &name, op, vec![n]);
            }
            CallKind::Sendmsg => {
                let name = self.fd_arg(p, &Self::is_sock);
                let to = if self.rng.chance(20) {
                    Some(self.addr(false))
                } else {
                    None
                };
                let iov = self.data();
                let pieces = if self.rng.chance(40) {
                    1 + self.rng.below(2)
                } else {
                    0
                };
                let mut control = Vec::new();
                for _ in 0..pieces {
                    let r = self.rng.below(100);
                    control.push(if r < 55 {
                        self.rights(p)
                    } else if r < 90 {
                        self.creds(p)
                    } else {
                        self.junk_cmsg()
                    });
                }
                let extra = [MSG_NOSIGNAL, MSG_OOB, MSG_EOR, MSG_MORE];
                let blocking = self.blocking_flags(&extra, 12);
                let flags = match blocking {
                    Some(f) => f,
                    None => self.flags(MSG_DONTWAIT, &extra, 12),
                };
                let op = Op::Sendmsg {
                    fd: fd(&name),
                    name: to,
                    iov,
                    control,
                    flags,
                };
                if blocking.is_some() {
                    return self.maybe_bg(p, &name, op, Vec::new());
                }
                (op, Vec::new())
            }
            CallKind::Recvmsg => {
                let name = self.fd_arg(p, &Self::is_sock);
                let iov = if self.rng.chance(35) {
                    RecvBuf::Len(*self.rng.pick(&[0usize, 1, 2, 3, 5, 100, 5000, 300000]))
                } else {
                    RecvBuf::Len(1024)
                };
                let control = if self.rng.chance(25) {
                    // No size from 17 to 27 bytes: an SCM_CREDENTIALS cut
                    // there prints as raw bytes holding a pid number, which
                    // differs from run to run on the host.
                    let b = SpaceTerm::Bytes;
                    let (r, c) = (SpaceTerm::Rights, SpaceTerm::Creds);
                    let sp = self
                        .rng
                        .pick(&[
                            vec![b(0)],
                            vec![b(16)],
                            vec![c.clone()],
                            vec![r(2), c.clone()],
                            vec![r(1), SpaceTerm::Inq],
                            vec![r(1), c],
                            vec![b(32)],
                        ])
                        .clone();
                    Some(Space::Terms(sp))
                } else {
                    None
                };
                let extra = [MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_CMSG_CLOEXEC, MSG_OOB];
                let blocking = self.blocking_flags(&extra, 12);
                let flags = match blocking {
                    Some(f) => f,
                    None => self.flags(MSG_DONTWAIT, &extra, 10),
                };
                let binds = self.recv_binds(p);
                let op = Op::Recvmsg {
                    fd: fd(&name),
                    iov: vec![iov],
                    namelen: None,
                    control,
                    flags,
                };
                if blocking.is_some() {
                    return self.maybe_bg(p, &name, op, binds);
                }
                (op, binds)
            }
            CallKind::Close => {
                let i = self.pick_name(p, &|_| true);
                let name = match i {
                    Some(i) if self.rng.chance(90) => {
                        self.procs[p].names[i].live = false;
                        self.procs[p].names[i].name.clone()
                    }
                    _ => self.fd_arg(p, &|_| true),
                };
                (Op::Close { fd: fd(&name) }, Vec::new())
            }
            CallKind::Dup => {
                let Some(i) = self.pick_name(p, &|_| true) else {
                    return;
                };
                let src = self.procs[p].names[i].clone();
                let n = self.fresh("d");
                self.bind_name(p, &n, src.kind, src.file, true);
                (Op::Dup { fd: fd(&src.name) }, vec![n])
            }
            CallKind::Shutdown => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let how = *self.rng.pick(&[SHUT_RD, SHUT_WR, SHUT_RDWR]);
                (Op::Shutdown { fd, how }, Vec::new())
            }
            CallKind::Setsockopt => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let r = self.rng.below(10);
                let (opt, value) = match r {
                    0 => (Opt::Passcred, int_value(*self.rng.pick(&[0, 1]))),
                    1 => {
                        let o = *self.rng.pick(&[Opt::Sndbuf, Opt::Rcvbuf]);
                        let v = *self.rng.pick(&[0, 1, 1024, 4608, 65536, -1]);
                        (o, int_value(v))
                    }
                    2 => (Opt::PeekOff, int_value(*self.rng.pick(&[-1, 0, 1, 3, 100]))),
                    3 => (Opt::Oobinline, int_value(*self.rng.pick(&[0, 1]))),
                    4 => (Opt::Passpidfd, int_value(*self.rng.pick(&[0, 1]))),
                    5 => (Opt::Passrights, int_value(*self.rng.pick(&[0, 1]))),
                    6 => (Opt::Inq, int_value(*self.rng.pick(&[0, 1, 2]))),
                    7 | 8 => {
                        let f = *self.rng.pick(FILTERS);
                        (Opt::AttachFilter, parse_hex(f).unwrap_or_default())
                    }
                    _ => (Opt::DetachFilter, int_value(0)),
                };
                let opt = OptArg::Named(opt);
                (Op::Setsockopt { fd, opt, value }, Vec::new())
            }
            CallKind::Getsockopt => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let opt = *self.rng.pick(&[
                    Opt::Passcred,
                    Opt::Sndbuf,
                    Opt::Rcvbuf,
                    Opt::PeekOff,
                    Opt::Oobinline,
                    Opt::Passpidfd,
                    Opt::Passrights,
                    Opt::Inq,
                    Opt::AttachFilter,
                    Opt::Type,
                    Opt::Acceptconn,
                    Opt::Error,
                    Opt::Peercred,
                    Opt::Peergroups,
                    Opt::Peerpidfd,
                ]);
                let mut binds = Vec::new();
                if opt == Opt::Peerpidfd {
                    let n = self.fresh("q");
                    let file = self.new_file(false);
                    self.bind_name(p, &n, Kind::Unknown, file, true);
                    binds.push(n);
                }
                let opt = OptArg::Named(opt);
                let optlen = None;
                (Op::Getsockopt { fd, opt, optlen }, binds)
            }
            CallKind::Getname => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let op = if self.rng.below(2) == 0 {
                    Op::Getsockname { fd, len: None }
                } else {
                    Op::Getpeername { fd, len: None }
                };
                (op, Vec::new())
            }
            CallKind::Fcntl => {
                let Some(i) = self.pick_name(p, &|_| true) else {
                    return;
                };
                let n = self.procs[p].names[i].clone();
                let r = self.rng.below(10);
                let fd = fd(&n.name);
                let op = if r < 4 {
                    self.nonblock[n.file] = true;
                    Op::SetNonblock { fd, on: true }
                } else if r < 6 {
                    self.nonblock[n.file] = false;
                    Op::SetNonblock { fd, on: false }
                } else {
                    Op::GetFd { fd }
                };
                (op, Vec::new())
            }
            CallKind::Pipe => {
                let (r, w) = (self.fresh("pr"), self.fresh("pw"));
                let nb = !self.blocking || self.rng.chance(40);
                let (fr, fw) = (self.new_file(nb), self.new_file(nb));
                self.partner.insert(fr, fw);
                self.partner.insert(fw, fr);
                self.bind_name(p, &r, Kind::PipeR, fr, false);
                self.bind_name(p, &w, Kind::PipeW, fw, false);
                let flags = if nb { SOCK_NONBLOCK } else { 0 };
                (Op::Pipe { flags }, vec![r, w])
            }
            CallKind::Memfd => {
                let n = self.fresh("m");
                let file = self.new_file(false);
                self.bind_name(p, &n, Kind::Memfd, file, false);
                let content = self.bytes(&[b"hello", b"", b"x"]);
                (Op::Memfd { content }, vec![n])
            }
            CallKind::Read => {
                let Some(name) = self.blocking_name(p, &|n| {
                    matches!(n.kind, Kind::PipeR | Kind::Memfd) || n.kind.socket()
                }) else {
                    return;
                };
                let len = if self.blocking && self.rng.chance(30) {
                    *self.rng.pick(&[5000usize, 70000, 300000])
                } else {
                    *self.rng.pick(&[0usize, 1, 3, 100])
                };
                let op = Op::Read { fd: fd(&name), len };
                return self.maybe_bg(p, &name, op, Vec::new());
            }
            CallKind::Write => {
                let Some(name) = self.blocking_name(p, &|n| {
                    matches!(n.kind, Kind::PipeW | Kind::Memfd) || n.kind.socket()
                }) else {
                    return;
                };
                let data = if self.rng.chance(70) {
                    self.bytes(&[b"a", b"hi", b"hello"])
                } else if self.blocking && self.rng.chance(30) {
                    xs(300000)
                } else {
                    xs(*self.rng.pick(&[0, 10, 5000, 70000]))
                };
                let op = Op::Write {
                    fd: fd(&name),
                    data,
                };
                return self.maybe_bg(p, &name, op, Vec::new());
            }
            CallKind::Poll => {
                let fd = fd(&self.fd_arg(p, &|_| true));
                let op = Op::Poll {
                    fds: vec![fd],
                    list: false,
                    events: crate::encode::POLL_EVENTS,
                    timeout: 0,
                };
                (op, Vec::new())
            }
            CallKind::Ioctl => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let req = *self.rng.pick(&[SIOCINQ, SIOCOUTQ, SIOCATMARK]);
                (Op::Ioctl { fd, req }, Vec::new())
            }
            // gc (and stat, always right after a gc)
            CallKind::Gc => {
                self.push(directive(Directive::Gc));
                if self.rng.chance(60) {
                    self.push(directive(Directive::Stat));
                }
                return;
            }
            CallKind::Fork => {
                if self.spare.is_empty() {
                    return;
                }
                return self.fork(p);
            }
            CallKind::Exit => {
                if self.alive().len() < 2 {
                    return;
                }
                self.procs[p].alive = false;
                (Op::Exit, Vec::new())
            }
        };
        self.push_call(p, op, binds);
    }

    /// `p` forks the first spare process name.
    fn fork(&mut self, p: usize) {
        let child = self.spare.remove(0);
        let mut st = self.procs[p].clone();
        st.name = child.clone();
        self.push_call(p, Op::Fork { child, col: 0 }, Vec::new());
        self.procs.push(st);
    }

    /// `--blocking`: the first process makes a few blocking objects (a
    /// socketpair, a pipe, a listener with a small backlog, a small send
    /// buffer), then the forks share them; calls prefer them.
    fn blocking_prelude(&mut self) {
        let p = 0;
        let k = 1 + self.rng.below(2);
        for _ in 0..k {
            let before = self.nonblock.len();
            let r = self.rng.below(100);
            if r < 60 {
                let ty = self.sock_type();
                let (a, b) = (self.fresh("s"), self.fresh("s"));
                let (fa, fb) = (self.new_file(false), self.new_file(false));
                self.partner.insert(fa, fb);
                self.partner.insert(fb, fa);
                let kd = Self::kind_of(ty);
                self.bind_name(p, &a, kd, fa, false);
                self.bind_name(p, &b, kd, fb, false);
                let pair = Op::Socketpair { ty, protocol: 0 };
                self.push_call(p, pair, vec![a.clone(), b.clone()]);
                if self.rng.chance(35) {
                    let v = *self.rng.pick(&[0, 1, 1024, 4608]);
                    let x = if self.rng.chance(50) { &a } else { &b };
                    let op = Op::Setsockopt {
                        fd: fd(x),
                        opt: OptArg::Named(Opt::Sndbuf),
                        value: int_value(v),
                    };
                    self.push_call(p, op, Vec::new());
                }
            } else if r < 80 {
                let (r, w) = (self.fresh("pr"), self.fresh("pw"));
                let (fr, fw) = (self.new_file(false), self.new_file(false));
                self.partner.insert(fr, fw);
                self.partner.insert(fw, fr);
                self.bind_name(p, &r, Kind::PipeR, fr, false);
                self.bind_name(p, &w, Kind::PipeW, fw, false);
                self.push_call(p, Op::Pipe { flags: 0 }, vec![r, w]);
            } else {
                let ty = if self.main_type == SOCK_DGRAM {
                    SOCK_STREAM
                } else {
                    self.main_type
                };
                let l = self.fresh("s");
                let f = self.new_file(false);
                self.bind_name(p, &l, Self::kind_of(ty), f, false);
                let addr = self.rng.pick(&[abstract_name(b"a"), path(b"p1")]).clone();
                let backlog = *self.rng.pick(&[0, 0, 1]);
                self.push_call(p, Op::Socket { ty, protocol: 0 }, vec![l.clone()]);
                let addr = AddrArg { addr, col: 0 };
                self.push_call(p, Op::Bind { fd: fd(&l), addr }, Vec::new());
                self.push_call(
                    p,
                    Op::Listen {
                        fd: fd(&l),
                        backlog,
                    },
                    Vec::new(),
                );
            }
            self.focus.extend(before..self.nonblock.len());
        }
        while !self.spare.is_empty() && self.rng.chance(80) {
            self.fork(p);
        }
    }

    /// One call of the forms version 2 of the language added.
    fn call_v2(&mut self, p: usize) {
        // Lengths that never cut an autobound name (whose bytes are
        // random on the host): nothing, the family, or all 8 bytes.
        const NAME_LENS: &[u32] = &[0, 1, 2, 8, 12, 128];
        let (op, binds) = match self.rng.below(17) {
            0 => {
                // Types and protocols the kernel may refuse; `maybe`: a
                // type the generator cannot know it made.
                let (ty, kind, maybe) = *self.rng.pick(&[
                    (SOCK_RAW, Kind::Dgram, false),
                    (SOCK_DGRAM, Kind::Dgram, false),
                    (SOCK_STREAM, Kind::Stream, false),
                    (4, Kind::Unknown, true),
                    (11, Kind::Unknown, true),
                    (0, Kind::Unknown, true),
                ]);
                let protocol = *self.rng.pick(&[0, 1, 2, -1]);
                let n = self.fresh("s");
                let file = self.new_file(true);
                self.bind_name(p, &n, kind, file, maybe);
                let ty = ty | SOCK_NONBLOCK;
                if self.rng.below(3) == 2 {
                    let m = self.fresh("s");
                    self.bind_name(p, &m, kind, file, true);
                    (Op::Socketpair { ty, protocol }, vec![n, m])
                } else {
                    (Op::Socket { ty, protocol }, vec![n])
                }
            }
            1 => {
                let Some(i) = self.pick_name(p, &|_| true) else {
                    return;
                };
                let src = self.procs[p].names[i].clone();
                let target = if self.rng.chance(70) {
                    self.rng
                        .pick(&["0", "5", "9", "15", "3", "1023", "1024", "-1"])
                        .to_string()
                } else {
                    self.fd_arg(p, &|_| true)
                };
                let n = self.fresh("d");
                self.bind_name(p, &n, src.kind, src.file, true);
                let op = Op::Dup2 {
                    fd: fd(&src.name),
                    newfd: fd(&target),
                };
                (op, vec![n])
            }
            2 => {
                // exec closes the close-on-exec fds: names may now be stale.
                for n in &mut self.procs[p].names {
                    n.maybe = true;
                }
                (Op::Exec, Vec::new())
            }
            3 => {
                let k = 1 + self.rng.below(3);
                let fds: Vec<FdArg> = (0..k).map(|_| fd(&self.fd_arg(p, &|_| true))).collect();
                let events = *self.rng.pick(&[
                    POLLIN,
                    POLLOUT,
                    POLLIN | POLLOUT | POLLRDHUP,
                    POLLPRI,
                    0,
                    POLLIN | POLLERR,
                ]);
                let op = Op::Poll {
                    fds,
                    list: true,
                    events,
                    timeout: 0,
                };
                (op, Vec::new())
            }
            4 => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let l = RecvBuf::Len;
                let iov = self
                    .rng
                    .pick(&[
                        vec![l(1), l(2)],
                        vec![l(0), l(3), l(100)],
                        vec![],
                        vec![l(5)],
                        vec![l(2), l(2), l(2), l(2)],
                    ])
                    .clone();
                let namelen = Some(*self.rng.pick(NAME_LENS));
                // No control size from 17 to 27 bytes (see `recvmsg` above).
                let b = SpaceTerm::Bytes;
                let (r, c) = (SpaceTerm::Rights, SpaceTerm::Creds);
                let control = self
                    .rng
                    .pick(&[
                        Space::Null(64),
                        Space::Terms(vec![b(0)]),
                        Space::Terms(vec![b(16)]),
                        Space::Terms(vec![r(3), c]),
                        Space::Terms(vec![b(32)]),
                        Space::Terms(vec![r(3)]),
                    ])
                    .clone();
                let flags = self.flags(MSG_DONTWAIT, &[MSG_PEEK, MSG_TRUNC, MSG_ERRQUEUE, 0x4], 15);
                let binds = self.recv_binds(p);
                let op = Op::Recvmsg {
                    fd,
                    iov,
                    namelen,
                    control: Some(control),
                    flags,
                };
                (op, binds)
            }
            5 => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let s = |b: &[u8]| SendBuf::Bytes(b.to_vec());
                let iov = self
                    .rng
                    .pick(&[
                        vec![s(b"ab"), s(b"c")],
                        vec![],
                        vec![s(b"xxx"), s(b"x"), s(b"")],
                        vec![s(b"a,b")],
                        vec![s(b"x"), s(b"x"), s(b"x")],
                    ])
                    .clone();
                let name = if self.rng.chance(30) {
                    Some(self.addr(false))
                } else {
                    None
                };
                let mut control = Vec::new();
                if self.rng.chance(30) {
                    control.push(self.rights(p));
                }
                let flags = self.flags(MSG_DONTWAIT, &[MSG_NOSIGNAL, 0x4, MSG_MORE, MSG_EOR], 15);
                let op = Op::Sendmsg {
                    fd,
                    name,
                    iov,
                    control,
                    flags,
                };
                (op, Vec::new())
            }
            6 => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let opt = *self.rng.pick(&[
                    Opt::Type,
                    Opt::Sndbuf,
                    Opt::Rcvbuf,
                    Opt::Linger,
                    Opt::Domain,
                    Opt::Protocol,
                    Opt::Keepalive,
                    Opt::Priority,
                    Opt::Rcvlowat,
                    Opt::Sndlowat,
                    Opt::Peergroups,
                    Opt::Passcred,
                ]);
                let optlen = Some(*self.rng.pick(&[0, 2, 4, 8, 16, -1, 100]));
                let opt = OptArg::Named(opt);
                (Op::Getsockopt { fd, opt, optlen }, Vec::new())
            }
            7 => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let (opt, value) = match self.rng.below(9) {
                    // (No timeouts: a blocking call would depend on timing.)
                    0 => (Opt::Sndbufforce, int_value(*self.rng.pick(&[0, 65536]))),
                    1 => {
                        let (on, secs) = *self.rng.pick(&[(1i32, 5i32), (0, 0), (1, -1)]);
                        let mut v = on.to_ne_bytes().to_vec();
                        v.extend_from_slice(&secs.to_ne_bytes());
                        (Opt::Linger, v)
                    }
                    2 => (Opt::Priority, int_value(*self.rng.pick(&[0, 6, 7, -1]))),
                    3 => (Opt::Keepalive, int_value(*self.rng.pick(&[0, 1, 7]))),
                    4 => (Opt::Reuseaddr, int_value(*self.rng.pick(&[0, 1]))),
                    5 => (Opt::Rcvlowat, int_value(*self.rng.pick(&[0, 1, 5, -1]))),
                    6 => (
                        Opt::Sndbuf,
                        int_value(*self.rng.pick(&[4294967295, 4294967296, 2048])),
                    ),
                    7 => {
                        let level = *self.rng.pick(&[1, 1, 0, 6, 263]);
                        let name = *self.rng.pick(&[7, 8, 6, 5, 9, 12, 9999, 18, 2]);
                        let value = *self.rng.pick(RAW_VALUES);
                        let opt = OptArg::Raw { level, name };
                        let value = value.to_vec();
                        return self.push_call(p, Op::Setsockopt { fd, opt, value }, Vec::new());
                    }
                    _ => {
                        // Raw reads of options that hold no pid.
                        let name = *self.rng.pick(&[3, 7, 8, 6, 9, 13, 20, 38, 39]);
                        let optlen = Some(*self.rng.pick(&[2, 4, 16, 4096]));
                        let opt = OptArg::Raw { level: 1, name };
                        return self.push_call(p, Op::Getsockopt { fd, opt, optlen }, Vec::new());
                    }
                };
                let opt = OptArg::Named(opt);
                (Op::Setsockopt { fd, opt, value }, Vec::new())
            }
            8 => {
                let fd = fd(&self.fd_arg(p, &Self::is_sock));
                let sock = self.rng.below(2) == 0;
                let len = Some(*self.rng.pick(NAME_LENS) as i32);
                let op = if sock {
                    Op::Getsockname { fd, len }
                } else {
                    Op::Getpeername { fd, len }
                };
                (op, Vec::new())
            }
            9 => {
                let Some(i) = self.pick_name(p, &Self::is_sock) else {
                    return;
                };
                let fd = fd(&self.procs[p].names[i].name);
                (Op::SetOwn { fd }, Vec::new())
            }
            10 => (Op::Sigurg, Vec::new()),
            11 => {
                let path = self.bytes(&[b"f1", b"d1/f2", b"d1", b"p1", b"./f1", b"d1//f2"]);
                let flags = *self.rng.pick(&[
                    O_RDWR | O_CREAT,
                    O_RDONLY,
                    O_WRONLY | O_CREAT | O_EXCL,
                    O_PATH,
                    O_RDWR | O_TRUNC,
                    O_RDONLY | O_DIRECTORY,
                    O_WRONLY | O_APPEND | O_CREAT,
                    O_RDWR | O_CREAT | O_CLOEXEC,
                ]);
                let n = self.fresh("f");
                let file = self.new_file(false);
                self.bind_name(p, &n, Kind::Memfd, file, true);
                let mode = if self.rng.chance(30) { 0o600 } else { 0o644 };
                (Op::Open { path, flags, mode }, vec![n])
            }
            12 => {
                let path = self.bytes(&[b"d1", b"d1/d2", b"d3"]);
                let mode = *self.rng.pick(&[0o777, 0o700, 0o711, 0o755]);
                (Op::Mkdir { path, mode }, Vec::new())
            }
            13 => {
                let path = self.bytes(&[b"f1", b"p1", b"p2", b"d1", b"d1/f2"]);
                (Op::Unlink { path }, Vec::new())
            }
            14 => {
                let path = self.bytes(&[b"f1", b"p1", b"d1", b"."]);
                let mode = *self.rng.pick(&[0o777, 0o700, 0o600, 0o000, 0o755]);
                (Op::Chmod { path, mode }, Vec::new())
            }
            15 => {
                let old = self.bytes(&[b"f1", b"p1", b"p2", b"d1"]);
                let new = self.bytes(&[b"p2", b"p1", b"d1/p3", b"f1"]);
                (Op::Rename { old, new }, Vec::new())
            }
            _ => {
                let Some(name) = self.nb_name(p, &|n| n.kind == Kind::Memfd) else {
                    return;
                };
                let fd = fd(&name);
                let op = if self.rng.chance(50) {
                    Op::Write {
                        fd,
                        data: b"data".to_vec(),
                    }
                } else {
                    Op::Read { fd, len: 10 }
                };
                (op, Vec::new())
            }
        };
        self.push_call(p, op, binds);
    }

    /// A live name for a call that could block: with `--blocking`, often
    /// as it is (the call then goes in the background); else made
    /// non-blocking first, as [`Gen::nb_name`].
    fn blocking_name(&mut self, p: usize, want: &dyn Fn(&NameInfo) -> bool) -> Option<String> {
        if self.blocking && self.rng.chance(60) {
            let i = self.pick_name(p, want)?;
            return Some(self.procs[p].names[i].name.clone());
        }
        self.nb_name(p, want)
    }
}

/// A random scenario of `calls` calls (and a few more lines: tasks,
/// `fcntl` before calls that could block, `gc` before `stat`), as text.
pub fn generate(seed: u64, calls: usize) -> String {
    generate_mode(seed, calls, false)
}

/// [`generate`], or with `blocking` a scenario for `afunix fuzz
/// --blocking`: calls that may block are made on blocking files in the
/// background (`P: CALL &`), collected by `P: wait 300` before `P`'s next
/// call and at the end. (The `wait` lines that make the scenario
/// independent of timing are added by [`super::prepare_blocking`].)
pub fn generate_mode(seed: u64, calls: usize, blocking: bool) -> String {
    let mut g = Gen::new(seed, blocking);
    let qlen = if blocking {
        g.rng.chance(35).then(|| *g.rng.pick(&[0, 1, 2, 3]))
    } else {
        g.rng.chance(12).then(|| *g.rng.pick(&[0, 1, 2, 3, 10]))
    };
    if let Some(max_dgram_qlen) = qlen {
        g.push(directive(Directive::Sysctl {
            max_dgram_qlen,
            netns: 0,
        }));
    }
    let nproc = 2 + g.rng.below(3);
    // The first process is always a task; each other one is a task
    // written now, or a fork made later.
    let mut tasks = 1;
    for (i, name) in PROC_NAMES.iter().enumerate().take(nproc).skip(1) {
        if g.rng.chance(if blocking { 25 } else { 70 }) && tasks == i {
            tasks += 1;
        } else {
            g.spare.push(name.to_string());
        }
    }
    for name in PROC_NAMES.iter().take(tasks) {
        let uid = *g.rng.pick(&[0u32, 1000, 1000, 1001]);
        let mut spec = TaskSpec {
            uid,
            gid: uid,
            groups: vec![uid],
            ..TaskSpec::default()
        };
        if g.rng.chance(8) {
            spec.groups = vec![1000, 1001, 5];
        }
        if g.rng.chance(12) {
            spec.nofile = 4 + g.rng.below(5) as u64;
        }
        if g.rng.chance(10) {
            spec.umask = [0o077, 0o000, 0o002][g.rng.below(3)];
        }
        if g.rng.chance(10) {
            spec.netns = 1;
        }
        g.push(directive(Directive::Task {
            name: name.to_string(),
            spec,
        }));
        g.procs.push(ProcState {
            name: name.to_string(),
            uid,
            alive: true,
            names: Vec::new(),
        });
    }
    if blocking {
        g.blocking_prelude();
    }
    for _ in 0..calls {
        let alive = g.alive();
        if alive.is_empty() {
            break;
        }
        // Forks come early so that the children have something to do.
        if !g.spare.is_empty() && g.rng.chance(if blocking { 15 } else { 8 }) {
            let p = *g.rng.pick(&alive);
            g.collect(p);
            g.fork(p);
            continue;
        }
        let p = *g.rng.pick(&alive);
        g.collect(p);
        g.call(p);
    }
    let mut left: Vec<usize> = g.pend.keys().copied().collect();
    left.sort_unstable();
    for p in left {
        g.collect(p);
    }
    let mut s = g.lines.join("\n");
    s.push('\n');
    s
}
