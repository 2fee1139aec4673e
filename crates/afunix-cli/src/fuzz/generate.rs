//! The generator: random but valid scenarios in the scenario language,
//! from a seed (see the module docs of [`super`]).

use super::BLOCKING_WAIT_MS;
use afunix::rng::Rng;
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
    lines: Vec<String>,
    procs: Vec<ProcState>,
    /// Per open file description: known to be O_NONBLOCK.
    nonblock: Vec<bool>,
    counter: usize,
    /// The socket type most sockets of this scenario get.
    main_type: &'static str,
    /// Process names not yet used (for `fork`).
    spare: Vec<String>,
    /// `--blocking`: calls that may block are made on blocking files,
    /// in the background (`&`).
    blocking: bool,
    /// Processes with a background call not yet collected (as far as the
    /// generator knows), with the names its `wait` binds.
    pend: HashMap<usize, String>,
    /// Files that background calls wait on, and their other ends: other
    /// processes' calls prefer them (to wake the calls).
    focus: Vec<usize>,
    /// The other end of a socketpair or pipe file.
    partner: HashMap<usize, usize>,
}

const TYPES: &[&str] = &["stream", "dgram", "seqpacket"];
const PROC_NAMES: &[&str] = &["A", "B", "C", "D"];

/// Classic BPF programs for `attach_filter` (valid and not).
const FILTERS: &[&str] = &[
    // ld len; jgt #3 ? drop : accept
    "hex:80000000000000002500000103000000060000000000000006000000ffffffff",
    // ret #0 (drop everything)
    "hex:0600000000000000",
    // ret #1 (trim to one byte)
    "hex:0600000001000000",
    // ret #0xffffffff (accept everything)
    "hex:06000000ffffffff",
    // empty program
    "hex:",
    // ld #0 with no ret: invalid
    "hex:0000000000000000",
];

const ADDRS: &[&str] = &["@a", "@b", "\"p1\"", "\"p2\""];

const JUNK_ADDRS: &[&str] = &[
    "hex:01",
    "hex:0100",
    "hex:0200",
    "hex:010000",
    "hex:0100616263",
    "hex:01000061",
    "hex:0a00000000000000",
    "@\"\"",
    "@#1",
    "@#2",
];

fn esc_str(s: &str) -> String {
    format!("\"{s}\"")
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
    fn blocking_flags(&mut self, extra: &[&str], pct: u32) -> Option<String> {
        if !self.blocking || !self.rng.chance(55) {
            return None;
        }
        let f: Vec<&str> = extra
            .iter()
            .copied()
            .filter(|_| self.rng.chance(pct))
            .collect();
        Some(if f.is_empty() {
            String::new()
        } else {
            format!(" flags={}", f.join("|"))
        })
    }

    /// `line` by `p` on `fd`, binding `binds` (` -> a b` or empty): in
    /// the background when it may block (the names go on its `wait`).
    fn maybe_bg(&mut self, p: usize, fd: &str, line: String, binds: String) -> String {
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
            format!("{line} &")
        } else {
            format!("{line}{binds}")
        }
    }

    /// The `wait` line collecting `p`'s background call, if it has one.
    fn collect(&mut self, p: usize) {
        if let Some(b) = self.pend.remove(&p) {
            let pn = &self.procs[p].name;
            self.lines.push(format!("{pn}: wait {BLOCKING_WAIT_MS}{b}"));
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

    fn sock_type(&mut self) -> &'static str {
        if self.rng.chance(65) {
            self.main_type
        } else {
            TYPES[self.rng.below(TYPES.len())]
        }
    }

    fn kind_of(ty: &str) -> Kind {
        match ty {
            "stream" => Kind::Stream,
            "dgram" => Kind::Dgram,
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
            let pn = self.procs[p].name.clone();
            self.lines.push(format!("{pn}: fcntl {} nonblock", n.name));
            self.nonblock[n.file] = true;
        }
        Some(n.name)
    }

    fn addr(&mut self, bind: bool) -> String {
        let r = self.rng.below(100);
        if r < 80 {
            self.rng.pick(ADDRS).to_string()
        } else if r < 88 {
            if bind { "auto" } else { "unspec" }.to_string()
        } else if r < 92 {
            if bind { "unspec" } else { "auto" }.to_string()
        } else {
            self.rng.pick(JUNK_ADDRS).to_string()
        }
    }

    fn data(&mut self) -> String {
        let r = self.rng.below(100);
        if r < 60 {
            let s = *self
                .rng
                .pick(&["a", "hi", "xyz", "hello", "ab\\x00c", "0123456789"]);
            format!("data={}", esc_str(s))
        } else if r < 72 {
            "data=\"\"".to_string()
        } else if r < 92 {
            let n = if self.blocking && self.rng.chance(25) {
                300000
            } else {
                *self
                    .rng
                    .pick(&[1usize, 2, 7, 64, 100, 1000, 4096, 70000, 220000])
            };
            format!("data={n}")
        } else {
            String::new()
        }
    }

    fn creds(&mut self, p: usize) -> String {
        let r = self.rng.below(100);
        if r < 45 {
            return "creds=self".to_string();
        }
        let procs: Vec<String> = self.procs.iter().map(|q| q.name.clone()).collect();
        let pid = if r < 85 {
            self.rng.pick(&procs).clone()
        } else {
            // Numbers no process of the world can have (or 0).
            self.rng.pick(&["0", "-1", "4194304"]).to_string()
        };
        let own = self.procs[p].uid;
        let uids = [own, 0, 1000, 1001, 4294967295];
        let uid = *self.rng.pick(&uids);
        let gid = *self.rng.pick(&uids);
        format!("creds={pid},{uid},{gid}")
    }

    fn junk_cmsg(&mut self) -> String {
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
                while b.len() % 8 != 0 {
                    b.push(0);
                }
            }
        }
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("cmsg=hex:{hex}")
    }

    fn rights(&mut self, p: usize) -> String {
        if self.rng.chance(3) {
            // More than SCM_MAX_FD (253) in one message.
            let n = self.fd_arg(p, &|_| true);
            let v = vec![n; 254];
            return format!("rights=[{}]", v.join(","));
        }
        let k = 1 + self.rng.below(3);
        let mut v = Vec::new();
        for _ in 0..k {
            let x = if self.rng.chance(8) {
                self.rng.pick(&["-1", "999"]).to_string()
            } else {
                self.fd_arg(p, &|_| true)
            };
            v.push(x);
        }
        format!("rights=[{}]", v.join(","))
    }

    fn flags(&mut self, base: &str, extra: &[&str], pct: u32) -> String {
        let mut f = vec![base.to_string()];
        for e in extra {
            if self.rng.chance(pct) {
                f.push(e.to_string());
            }
        }
        f.join("|")
    }

    fn recv_binds(&mut self, p: usize) -> String {
        let k = self.rng.below(3);
        let mut names = Vec::new();
        for _ in 0..k {
            let n = self.fresh("r");
            let file = self.new_file(false);
            self.bind_name(p, &n, Kind::Unknown, file, true);
            names.push(n);
        }
        if names.is_empty() {
            String::new()
        } else {
            format!(" -> {}", names.join(" "))
        }
    }

    fn is_sock(n: &NameInfo) -> bool {
        n.kind.socket() || n.kind == Kind::Unknown
    }

    /// One random call (or a few lines) by process `p`.
    fn call(&mut self, p: usize) {
        if self.rng.chance(14) {
            return self.call_v2(p);
        }
        let pn = self.procs[p].name.clone();
        let line: String = match self.rng.weighted(CALL_MIX) {
            // socket
            CallKind::Socket => {
                let ty = self.sock_type();
                let nb = self.rng.chance(if self.blocking { 35 } else { 80 });
                let ce = self.rng.chance(15);
                let n = self.fresh("s");
                let file = self.new_file(nb);
                self.bind_name(p, &n, Self::kind_of(ty), file, false);
                format!(
                    "{pn}: socket {ty}{}{} -> {n}",
                    if nb { " nonblock" } else { "" },
                    if ce { " cloexec" } else { "" }
                )
            }
            // socketpair
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
                format!(
                    "{pn}: socketpair {ty}{} -> {a} {b}",
                    if nb { " nonblock" } else { "" }
                )
            }
            // bind
            CallKind::Bind => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let a = self.addr(true);
                format!("{pn}: bind {fd} {a}")
            }
            // connect
            CallKind::Connect => {
                let Some(fd) = self.blocking_name(p, &Self::is_sock) else {
                    return;
                };
                let a = self.addr(false);
                self.maybe_bg(p, &fd, format!("{pn}: connect {fd} {a}"), String::new())
            }
            // listen
            CallKind::Listen => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let b = if self.blocking && self.rng.chance(40) {
                    0
                } else {
                    *self.rng.pick(&[0, 1, 2, 5, -1])
                };
                format!("{pn}: listen {fd} {b}")
            }
            // accept
            CallKind::Accept => {
                let Some(fd) = self.blocking_name(p, &Self::is_sock) else {
                    return;
                };
                let nb = self.rng.chance(80);
                let ce = self.rng.chance(15);
                let n = self.fresh("s");
                let file = self.new_file(nb);
                let k = self.procs[p]
                    .names
                    .iter()
                    .find(|x| x.name == fd)
                    .map(|x| x.kind)
                    .unwrap_or(Kind::Unknown);
                self.bind_name(p, &n, k, file, true);
                let line = format!(
                    "{pn}: accept {fd}{}{}",
                    if nb { " nonblock" } else { "" },
                    if ce { " cloexec" } else { "" }
                );
                self.maybe_bg(p, &fd, line, format!(" -> {n}"))
            }
            // sendmsg
            CallKind::Sendmsg => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let mut s = format!("{pn}: sendmsg {fd}");
                if self.rng.chance(20) {
                    let a = self.addr(false);
                    s.push_str(&format!(" to={a}"));
                }
                let d = self.data();
                if !d.is_empty() {
                    s.push(' ');
                    s.push_str(&d);
                }
                let pieces = if self.rng.chance(40) {
                    1 + self.rng.below(2)
                } else {
                    0
                };
                for _ in 0..pieces {
                    let r = self.rng.below(100);
                    let piece = if r < 55 {
                        self.rights(p)
                    } else if r < 90 {
                        self.creds(p)
                    } else {
                        self.junk_cmsg()
                    };
                    s.push(' ');
                    s.push_str(&piece);
                }
                let extra = ["nosignal", "oob", "eor", "more"];
                if let Some(f) = self.blocking_flags(&extra, 12) {
                    s.push_str(&f);
                    let l = self.maybe_bg(p, &fd, s, String::new());
                    return self.push_call(l);
                }
                let f = self.flags("dontwait", &extra, 12);
                s.push_str(&format!(" flags={f}"));
                s
            }
            // recvmsg
            CallKind::Recvmsg => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let mut s = format!("{pn}: recvmsg {fd}");
                if self.rng.chance(35) {
                    let l = *self.rng.pick(&[0usize, 1, 2, 3, 5, 100, 5000, 300000]);
                    s.push_str(&format!(" len={l}"));
                }
                if self.rng.chance(25) {
                    // No size from 17 to 27 bytes: an SCM_CREDENTIALS cut
                    // there prints as raw bytes holding a pid number, which
                    // differs from run to run on the host.
                    let sp = *self.rng.pick(&[
                        "0",
                        "16",
                        "creds",
                        "rights:2+creds",
                        "rights:1+inq",
                        "rights:1+creds",
                        "32",
                    ]);
                    s.push_str(&format!(" space={sp}"));
                }
                let extra = ["peek", "trunc", "waitall", "cmsg_cloexec", "oob"];
                if let Some(f) = self.blocking_flags(&extra, 12) {
                    s.push_str(&f);
                    let b = self.recv_binds(p);
                    let l = self.maybe_bg(p, &fd, s, b);
                    return self.push_call(l);
                }
                let f = self.flags("dontwait", &extra, 10);
                s.push_str(&format!(" flags={f}"));
                let b = self.recv_binds(p);
                s.push_str(&b);
                s
            }
            // close
            CallKind::Close => {
                let i = self.pick_name(p, &|_| true);
                match i {
                    Some(i) if self.rng.chance(90) => {
                        self.procs[p].names[i].live = false;
                        format!("{pn}: close {}", self.procs[p].names[i].name)
                    }
                    _ => {
                        let fd = self.fd_arg(p, &|_| true);
                        format!("{pn}: close {fd}")
                    }
                }
            }
            // dup
            CallKind::Dup => {
                let Some(i) = self.pick_name(p, &|_| true) else {
                    return;
                };
                let src = self.procs[p].names[i].clone();
                let n = self.fresh("d");
                self.bind_name(p, &n, src.kind, src.file, true);
                format!("{pn}: dup {} -> {n}", src.name)
            }
            // shutdown
            CallKind::Shutdown => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let how = *self.rng.pick(&["rd", "wr", "rdwr"]);
                format!("{pn}: shutdown {fd} {how}")
            }
            // setsockopt
            CallKind::Setsockopt => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let r = self.rng.below(10);
                let (opt, val) = match r {
                    0 => ("passcred", self.rng.pick(&["0", "1"]).to_string()),
                    1 => {
                        let o = *self.rng.pick(&["sndbuf", "rcvbuf"]);
                        let v = *self.rng.pick(&["0", "1", "1024", "4608", "65536", "-1"]);
                        (o, v.to_string())
                    }
                    2 => (
                        "peek_off",
                        self.rng.pick(&["-1", "0", "1", "3", "100"]).to_string(),
                    ),
                    3 => ("oobinline", self.rng.pick(&["0", "1"]).to_string()),
                    4 => ("passpidfd", self.rng.pick(&["0", "1"]).to_string()),
                    5 => ("passrights", self.rng.pick(&["0", "1"]).to_string()),
                    6 => ("inq", self.rng.pick(&["0", "1", "2"]).to_string()),
                    7 | 8 => ("attach_filter", self.rng.pick(FILTERS).to_string()),
                    _ => ("detach_filter", "0".to_string()),
                };
                format!("{pn}: setsockopt {fd} {opt} {val}")
            }
            // getsockopt
            CallKind::Getsockopt => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let opt = *self.rng.pick(&[
                    "passcred",
                    "sndbuf",
                    "rcvbuf",
                    "peek_off",
                    "oobinline",
                    "passpidfd",
                    "passrights",
                    "inq",
                    "attach_filter",
                    "type",
                    "acceptconn",
                    "error",
                    "peercred",
                    "peergroups",
                    "peerpidfd",
                ]);
                if opt == "peerpidfd" {
                    let n = self.fresh("q");
                    let file = self.new_file(false);
                    self.bind_name(p, &n, Kind::Unknown, file, true);
                    format!("{pn}: getsockopt {fd} {opt} -> {n}")
                } else {
                    format!("{pn}: getsockopt {fd} {opt}")
                }
            }
            // getsockname / getpeername
            CallKind::Getname => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let c = *self.rng.pick(&["getsockname", "getpeername"]);
                format!("{pn}: {c} {fd}")
            }
            // fcntl
            CallKind::Fcntl => {
                let Some(i) = self.pick_name(p, &|_| true) else {
                    return;
                };
                let n = self.procs[p].names[i].clone();
                let r = self.rng.below(10);
                let what = if r < 4 {
                    self.nonblock[n.file] = true;
                    "nonblock"
                } else if r < 6 {
                    self.nonblock[n.file] = false;
                    "block"
                } else {
                    "getfd"
                };
                format!("{pn}: fcntl {} {what}", n.name)
            }
            // pipe
            CallKind::Pipe => {
                let (r, w) = (self.fresh("pr"), self.fresh("pw"));
                let nb = !self.blocking || self.rng.chance(40);
                let (fr, fw) = (self.new_file(nb), self.new_file(nb));
                self.partner.insert(fr, fw);
                self.partner.insert(fw, fr);
                self.bind_name(p, &r, Kind::PipeR, fr, false);
                self.bind_name(p, &w, Kind::PipeW, fw, false);
                format!("{pn}: pipe{} -> {r} {w}", if nb { " nonblock" } else { "" })
            }
            // memfd
            CallKind::Memfd => {
                let n = self.fresh("m");
                let file = self.new_file(false);
                self.bind_name(p, &n, Kind::Memfd, file, false);
                let c = *self.rng.pick(&["hello", "", "x"]);
                format!("{pn}: memfd {} -> {n}", esc_str(c))
            }
            // read
            CallKind::Read => {
                let Some(fd) = self.blocking_name(p, &|n| {
                    matches!(n.kind, Kind::PipeR | Kind::Memfd) || n.kind.socket()
                }) else {
                    return;
                };
                let n = if self.blocking && self.rng.chance(30) {
                    *self.rng.pick(&[5000usize, 70000, 300000])
                } else {
                    *self.rng.pick(&[0usize, 1, 3, 100])
                };
                self.maybe_bg(p, &fd, format!("{pn}: read {fd} {n}"), String::new())
            }
            // write
            CallKind::Write => {
                let Some(fd) = self.blocking_name(p, &|n| {
                    matches!(n.kind, Kind::PipeW | Kind::Memfd) || n.kind.socket()
                }) else {
                    return;
                };
                let d = if self.rng.chance(70) {
                    esc_str(["a", "hi", "hello"][self.rng.below(3)])
                } else if self.blocking && self.rng.chance(30) {
                    "300000".to_string()
                } else {
                    self.rng.pick(&["0", "10", "5000", "70000"]).to_string()
                };
                self.maybe_bg(p, &fd, format!("{pn}: write {fd} {d}"), String::new())
            }
            // poll
            CallKind::Poll => {
                let fd = self.fd_arg(p, &|_| true);
                format!("{pn}: poll {fd}")
            }
            // ioctl
            CallKind::Ioctl => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let r = *self.rng.pick(&["inq", "outq", "atmark"]);
                format!("{pn}: ioctl {fd} {r}")
            }
            // gc (and stat, always right after a gc)
            CallKind::Gc => {
                self.lines.push("gc".to_string());
                if self.rng.chance(60) {
                    "stat".to_string()
                } else {
                    return;
                }
            }
            // fork
            CallKind::Fork => {
                if self.spare.is_empty() {
                    return;
                }
                let child = self.spare.remove(0);
                let mut st = self.procs[p].clone();
                st.name = child.clone();
                self.procs.push(st);
                format!("{pn}: fork {child}")
            }
            // exit
            CallKind::Exit => {
                if self.alive().len() < 2 {
                    return;
                }
                self.procs[p].alive = false;
                format!("{pn}: exit")
            }
        };
        self.push_call(line);
    }

    /// `--blocking`: the first process makes a few blocking objects (a
    /// socketpair, a pipe, a listener with a small backlog, a small send
    /// buffer), then the forks share them; calls prefer them.
    fn blocking_prelude(&mut self) {
        let p = 0;
        let pn = self.procs[p].name.clone();
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
                self.lines.push(format!("{pn}: socketpair {ty} -> {a} {b}"));
                if self.rng.chance(35) {
                    let v = *self.rng.pick(&["0", "1", "1024", "4608"]);
                    let x = if self.rng.chance(50) { &a } else { &b };
                    self.lines.push(format!("{pn}: setsockopt {x} sndbuf {v}"));
                }
            } else if r < 80 {
                let (r, w) = (self.fresh("pr"), self.fresh("pw"));
                let (fr, fw) = (self.new_file(false), self.new_file(false));
                self.partner.insert(fr, fw);
                self.partner.insert(fw, fr);
                self.bind_name(p, &r, Kind::PipeR, fr, false);
                self.bind_name(p, &w, Kind::PipeW, fw, false);
                self.lines.push(format!("{pn}: pipe -> {r} {w}"));
            } else {
                let ty = if self.main_type == "dgram" {
                    "stream"
                } else {
                    self.main_type
                };
                let l = self.fresh("s");
                let f = self.new_file(false);
                self.bind_name(p, &l, Self::kind_of(ty), f, false);
                let a = *self.rng.pick(&["@a", "\"p1\""]);
                let b = *self.rng.pick(&[0, 0, 1]);
                self.lines.push(format!("{pn}: socket {ty} -> {l}"));
                self.lines.push(format!("{pn}: bind {l} {a}"));
                self.lines.push(format!("{pn}: listen {l} {b}"));
            }
            self.focus.extend(before..self.nonblock.len());
        }
        while !self.spare.is_empty() && self.rng.chance(80) {
            let child = self.spare.remove(0);
            let mut st = self.procs[p].clone();
            st.name = child.clone();
            self.lines.push(format!("{pn}: fork {child}"));
            self.procs.push(st);
        }
    }

    /// One call of the forms version 2 of the language added.
    fn call_v2(&mut self, p: usize) {
        let pn = self.procs[p].name.clone();
        // Lengths that never cut an autobound name (whose bytes are
        // random on the host): nothing, the family, or all 8 bytes.
        const NAME_LENS: &[&str] = &["0", "1", "2", "8", "12", "128"];
        let line = match self.rng.below(17) {
            0 => {
                let ty = *self.rng.pick(&["raw", "dgram", "stream", "4", "11", "0"]);
                let proto = *self.rng.pick(&["0", "1", "2", "-1"]);
                let n = self.fresh("s");
                let file = self.new_file(true);
                let kind = match ty {
                    "raw" | "dgram" => Kind::Dgram,
                    "stream" => Kind::Stream,
                    _ => Kind::Unknown,
                };
                self.bind_name(p, &n, kind, file, ty.len() < 3);
                let c = *self.rng.pick(&["socket", "socket", "socketpair"]);
                if c == "socketpair" {
                    let m = self.fresh("s");
                    self.bind_name(p, &m, kind, file, true);
                    format!("{pn}: socketpair {ty} nonblock protocol={proto} -> {n} {m}")
                } else {
                    format!("{pn}: socket {ty} nonblock protocol={proto} -> {n}")
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
                format!("{pn}: dup2 {} {target} -> {n}", src.name)
            }
            2 => {
                // exec closes the close-on-exec fds: names may now be stale.
                for n in &mut self.procs[p].names {
                    n.maybe = true;
                }
                format!("{pn}: exec")
            }
            3 => {
                let k = 1 + self.rng.below(3);
                let fds: Vec<String> = (0..k).map(|_| self.fd_arg(p, &|_| true)).collect();
                let ev = *self
                    .rng
                    .pick(&["in", "out", "in|out|rdhup", "pri", "0", "in|0x8"]);
                format!("{pn}: poll [{}] events={ev}", fds.join(","))
            }
            4 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let iov = *self
                    .rng
                    .pick(&["[1,2]", "[0,3,100]", "[]", "[5]", "[2,2,2,2]"]);
                let name = *self.rng.pick(NAME_LENS);
                // No control size from 17 to 27 bytes (see `recvmsg` above).
                let sp =
                    *self
                        .rng
                        .pick(&["null:64", "0", "16", "rights:3+creds", "32", "rights:3"]);
                let f = self.flags("dontwait", &["peek", "trunc", "errqueue", "0x4"], 15);
                let b = self.recv_binds(p);
                format!("{pn}: recvmsg {fd} iov={iov} name={name} space={sp} flags={f}{b}")
            }
            5 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let d = *self.rng.pick(&[
                    "[\"ab\",\"c\"]",
                    "[]",
                    "[3,\"x\",0]",
                    "[\"a,b\"]",
                    "[1,1,1]",
                ]);
                let mut s = format!("{pn}: sendmsg {fd} data={d}");
                if self.rng.chance(30) {
                    let a = self.addr(false);
                    s.push_str(&format!(" to={a}"));
                }
                if self.rng.chance(30) {
                    let r = self.rights(p);
                    s.push(' ');
                    s.push_str(&r);
                }
                let f = self.flags("dontwait", &["nosignal", "0x4", "more", "eor"], 15);
                s.push_str(&format!(" flags={f}"));
                s
            }
            6 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let opt = *self.rng.pick(&[
                    "type",
                    "sndbuf",
                    "rcvbuf",
                    "linger",
                    "domain",
                    "protocol",
                    "keepalive",
                    "priority",
                    "rcvlowat",
                    "sndlowat",
                    "peergroups",
                    "passcred",
                ]);
                let ol = *self.rng.pick(&["0", "2", "4", "8", "16", "-1", "100"]);
                format!("{pn}: getsockopt {fd} {opt} optlen={ol}")
            }
            7 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let (opt, v) = match self.rng.below(9) {
                    // (No timeouts: a blocking call would depend on timing.)
                    0 => ("sndbufforce", self.rng.pick(&["0", "65536"]).to_string()),
                    1 => ("linger", self.rng.pick(&["1,5", "0,0", "1,-1"]).to_string()),
                    2 => (
                        "priority",
                        self.rng.pick(&["0", "6", "7", "-1"]).to_string(),
                    ),
                    3 => ("keepalive", self.rng.pick(&["0", "1", "7"]).to_string()),
                    4 => ("reuseaddr", self.rng.pick(&["0", "1"]).to_string()),
                    5 => (
                        "rcvlowat",
                        self.rng.pick(&["0", "1", "5", "-1"]).to_string(),
                    ),
                    6 => (
                        "sndbuf",
                        self.rng
                            .pick(&["4294967295", "4294967296", "2048"])
                            .to_string(),
                    ),
                    7 => {
                        let lv = *self.rng.pick(&["1", "1", "0", "6", "263"]);
                        let nm = *self
                            .rng
                            .pick(&["7", "8", "6", "5", "9", "12", "9999", "18", "2"]);
                        let b =
                            *self
                                .rng
                                .pick(&["hex:01000000", "hex:0010", "hex:", "hex:0010000000"]);
                        return self.push_call(format!("{pn}: setsockopt {fd} raw={lv},{nm} {b}"));
                    }
                    _ => {
                        // Raw reads of options that hold no pid.
                        let nm = *self
                            .rng
                            .pick(&["3", "7", "8", "6", "9", "13", "20", "38", "39"]);
                        let ol = *self.rng.pick(&["2", "4", "16", "4096"]);
                        return self
                            .push_call(format!("{pn}: getsockopt {fd} raw=1,{nm} optlen={ol}"));
                    }
                };
                format!("{pn}: setsockopt {fd} {opt} {v}")
            }
            8 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let c = *self.rng.pick(&["getsockname", "getpeername"]);
                let l = *self.rng.pick(NAME_LENS);
                format!("{pn}: {c} {fd} len={l}")
            }
            9 => {
                let Some(i) = self.pick_name(p, &Self::is_sock) else {
                    return;
                };
                let n = self.procs[p].names[i].name.clone();
                format!("{pn}: fcntl {n} setown")
            }
            10 => format!("{pn}: sigurg"),
            11 => {
                let path = *self.rng.pick(&[
                    "\"f1\"",
                    "\"d1/f2\"",
                    "\"d1\"",
                    "\"p1\"",
                    "\"./f1\"",
                    "\"d1//f2\"",
                ]);
                let flags = *self.rng.pick(&[
                    "rdwr|creat",
                    "rdonly",
                    "wronly|creat|excl",
                    "path",
                    "rdwr|trunc",
                    "rdonly|directory",
                    "wronly|append|creat",
                    "rdwr|creat|cloexec",
                ]);
                let n = self.fresh("f");
                let file = self.new_file(false);
                self.bind_name(p, &n, Kind::Memfd, file, true);
                let mode = if self.rng.chance(30) { " 0o600" } else { "" };
                format!("{pn}: open {path} {flags}{mode} -> {n}")
            }
            12 => {
                let path = *self.rng.pick(&["\"d1\"", "\"d1/d2\"", "\"d3\""]);
                let mode = *self.rng.pick(&["", " 0o700", " 0o711", " 0o755"]);
                format!("{pn}: mkdir {path}{mode}")
            }
            13 => {
                let path = *self
                    .rng
                    .pick(&["\"f1\"", "\"p1\"", "\"p2\"", "\"d1\"", "\"d1/f2\""]);
                format!("{pn}: unlink {path}")
            }
            14 => {
                let path = *self.rng.pick(&["\"f1\"", "\"p1\"", "\"d1\"", "\"."]);
                let path = if path == "\"." { "\".\"" } else { path };
                let mode = *self
                    .rng
                    .pick(&["0o777", "0o700", "0o600", "0o000", "0o755"]);
                format!("{pn}: chmod {path} {mode}")
            }
            15 => {
                let a = *self.rng.pick(&["\"f1\"", "\"p1\"", "\"p2\"", "\"d1\""]);
                let b = *self.rng.pick(&["\"p2\"", "\"p1\"", "\"d1/p3\"", "\"f1\""]);
                format!("{pn}: rename {a} {b}")
            }
            _ => {
                let Some(fd) = self.nb_name(p, &|n| n.kind == Kind::Memfd) else {
                    return;
                };
                if self.rng.chance(50) {
                    format!("{pn}: write {fd} \"data\"")
                } else {
                    format!("{pn}: read {fd} 10")
                }
            }
        };
        self.push_call(line);
    }

    fn push_call(&mut self, line: String) {
        self.lines.push(line);
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
    if blocking {
        if g.rng.chance(35) {
            let q = *g.rng.pick(&[0, 1, 2, 3]);
            g.lines.push(format!("sysctl max_dgram_qlen={q}"));
        }
    } else if g.rng.chance(12) {
        let q = *g.rng.pick(&[0, 1, 2, 3, 10]);
        g.lines.push(format!("sysctl max_dgram_qlen={q}"));
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
        let mut line = format!("task {name}");
        if uid != 1000 {
            line.push_str(&format!(" uid={uid} gid={uid}"));
        }
        if g.rng.chance(8) {
            line.push_str(" groups=[1000,1001,5]");
        }
        if g.rng.chance(12) {
            let n = 4 + g.rng.below(5);
            line.push_str(&format!(" nofile={n}"));
        }
        if g.rng.chance(10) {
            let u = [" umask=0o077", " umask=0o000", " umask=0o002"][g.rng.below(3)];
            line.push_str(u);
        }
        if g.rng.chance(10) {
            line.push_str(" netns=1");
        }
        g.lines.push(line);
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
            let child = g.spare.remove(0);
            let mut st = g.procs[p].clone();
            st.name = child.clone();
            g.lines.push(format!("{}: fork {child}", g.procs[p].name));
            g.procs.push(st);
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
