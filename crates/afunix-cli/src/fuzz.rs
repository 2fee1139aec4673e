//! `afunix fuzz`: differential fuzzing of the model against the kernel.
//!
//! A small deterministic PRNG ([`Rng`]) drives a generator ([`generate`])
//! that writes random but valid scenarios in the scenario language, so
//! every finding is directly a reproducible `.scn` file. Each scenario is
//! first *repaired* on the model ([`repair`]: lines that are scenario
//! errors, such as a name that was never bound because the call that binds
//! it failed, are dropped), then run on the model and on the host kernel
//! and the whole traces are compared with [`check::diff`]. A divergence
//! counts only when the kernel gives the same trace on a second run (the
//! kernel itself must be deterministic on that scenario). It is then
//! minimized ([`minimize`]: delta debugging over lines, then over tokens
//! and numbers) and written to the findings directory.
//!
//! The generator never blocks on purpose: every send and receive carries
//! `dontwait`, and `read`, `write`, `accept` and `connect` are only made on
//! files it knows to be non-blocking (it writes `fcntl FD nonblock` first
//! when it does not know). It leaves out what is legitimately
//! nondeterministic between the two backends: `sleep`, background calls
//! and `wait`, timeouts, `stat` without a `gc` just before it, pids
//! given as numbers (other than ones no process can have), and recvmsg
//! control buffers of 17 to 27 bytes (a cut SCM_CREDENTIALS prints as raw
//! bytes with the sender's pid number: found nondeterministic on the host).
//!
//! With `--blocking` ([`generate_mode`]) the generator also makes calls
//! that block: a send, receive, accept, connect, read or write on a
//! blocking file without `dontwait` goes in the background (`P: CALL &`),
//! and `P: wait 300` collects it before `P`'s next call. Outcomes must not
//! depend on timing, so [`prepare_blocking`] puts a `wait 300` for every
//! pending call (on the model) right after each line that may wake it,
//! before anything else happens: a woken call has returned or blocked
//! again by then, and a call still blocked prints BLOCKED on both
//! backends. There are still no timeouts and no `sleep`; the model runs
//! these waits at 50 ms (its woken calls return within microseconds).

use crate::check::{self, Divergence};
use crate::runner::{self, Run, RunErrorKind, RunOptions};
use crate::scenario::{self, Scenario};
use crate::{new_backend, BackendKind};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The `wait` of `afunix fuzz --blocking` (ms): generous, so that a
/// woken call has always returned by then.
pub const BLOCKING_WAIT_MS: u64 = 300;

/// The `wait` of those scenarios on the model, whose woken calls return
/// within microseconds (the traces are compared line by line, so the
/// text of the `wait` lines need not match).
const MODEL_WAIT_MS: u64 = 50;

/// How long a call may block in a fuzz run before it is `BLOCKED` (the
/// generator avoids blocking calls; this only bounds its mistakes).
pub const FUZZ_CALL_TIMEOUT: Duration = Duration::from_millis(200);

/// splitmix64: a small, fast, deterministic PRNG.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u32) -> bool {
        self.below(100) < pct as usize
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The seed of scenario `n` of a run seeded with `seed`.
pub fn scenario_seed(seed: u64, n: u64) -> u64 {
    Rng::new(seed ^ n.wrapping_mul(0xd134_2543_de82_ef95)).next_u64()
}

// ---------------------------------------------------------------------
// The generator.

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
        let w = self.rng.below(1000);
        let line: String = match w {
            // socket
            0..=79 => {
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
            80..=139 => {
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
            140..=199 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let a = self.addr(true);
                format!("{pn}: bind {fd} {a}")
            }
            // connect
            200..=269 => {
                let Some(fd) = self.blocking_name(p, &Self::is_sock) else {
                    return;
                };
                let a = self.addr(false);
                self.maybe_bg(p, &fd, format!("{pn}: connect {fd} {a}"), String::new())
            }
            // listen
            270..=309 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let b = if self.blocking && self.rng.chance(40) {
                    0
                } else {
                    *self.rng.pick(&[0, 1, 2, 5, -1])
                };
                format!("{pn}: listen {fd} {b}")
            }
            // accept
            310..=359 => {
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
            360..=539 => {
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
            540..=689 => {
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
            690..=749 => {
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
            750..=769 => {
                let Some(i) = self.pick_name(p, &|_| true) else {
                    return;
                };
                let src = self.procs[p].names[i].clone();
                let n = self.fresh("d");
                self.bind_name(p, &n, src.kind, src.file, true);
                format!("{pn}: dup {} -> {n}", src.name)
            }
            // shutdown
            770..=799 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let how = *self.rng.pick(&["rd", "wr", "rdwr"]);
                format!("{pn}: shutdown {fd} {how}")
            }
            // setsockopt
            800..=849 => {
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
            850..=889 => {
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
            890..=909 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let c = *self.rng.pick(&["getsockname", "getpeername"]);
                format!("{pn}: {c} {fd}")
            }
            // fcntl
            910..=924 => {
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
            925..=934 => {
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
            935..=944 => {
                let n = self.fresh("m");
                let file = self.new_file(false);
                self.bind_name(p, &n, Kind::Memfd, file, false);
                let c = *self.rng.pick(&["hello", "", "x"]);
                format!("{pn}: memfd {} -> {n}", esc_str(c))
            }
            // read
            945..=954 => {
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
            955..=964 => {
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
            965..=979 => {
                let fd = self.fd_arg(p, &|_| true);
                format!("{pn}: poll {fd}")
            }
            // ioctl
            980..=989 => {
                let fd = self.fd_arg(p, &Self::is_sock);
                let r = *self.rng.pick(&["inq", "outq", "atmark"]);
                format!("{pn}: ioctl {fd} {r}")
            }
            // gc (and stat, always right after a gc)
            990..=994 => {
                self.lines.push("gc".to_string());
                if self.rng.chance(60) {
                    "stat".to_string()
                } else {
                    return;
                }
            }
            // fork
            995..=997 => {
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
            _ => {
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
/// independent of timing are added by [`prepare_blocking`].)
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

// ---------------------------------------------------------------------
// Running, repairing, comparing.

/// Parse `text` and run it on a fresh backend with the fuzz call timeout.
pub fn run_text(text: &str, kind: BackendKind) -> Result<(Scenario, Run), String> {
    if kind != BackendKind::Host {
        return run_text_here(text, kind);
    }
    // A host run goes on a thread of its own (the backend and its helpers
    // live and die with it), so that a run that hangs in the kernel or in
    // the backend becomes a finding instead of a fuzzer that never ends.
    let owned = text.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("afunix-fuzz-host".into())
        .spawn(move || {
            let _ = tx.send(run_text_here(&owned, BackendKind::Host));
        })
        .map_err(|e| format!("cannot start the host run: {e}"))?;
    match rx.recv_timeout(HOST_RUN_LIMIT) {
        Ok(r) => r,
        Err(_) => {
            let path =
                std::env::temp_dir().join(format!("afunix-fuzz-hang-{}.scn", std::process::id()));
            let _ = std::fs::write(&path, text);
            eprintln!(
                "afunix fuzz: a host run did not finish within {} s (a hang in the kernel or the host backend); the scenario is in {}",
                HOST_RUN_LIMIT.as_secs(),
                path.display()
            );
            // Exiting ends the run's thread, and with it every helper (PR_SET_PDEATHSIG).
            std::process::exit(2);
        }
    }
}

/// The longest one host run of a generated scenario may take.
const HOST_RUN_LIMIT: Duration = Duration::from_secs(60);

fn run_text_here(text: &str, kind: BackendKind) -> Result<(Scenario, Run), String> {
    let parse = |t: &str| {
        scenario::parse(t).map_err(|e| {
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    let sc = parse(text)?;
    // The model runs the generous waits of `--blocking` short.
    let fast = if kind == BackendKind::Sim {
        model_waits(text)
    } else {
        None
    };
    let fast_sc = match &fast {
        Some(t) => Some(parse(t)?),
        None => None,
    };
    let mut b = new_backend(kind)?;
    let run = runner::run(
        fast_sc.as_ref().unwrap_or(&sc),
        b.as_mut(),
        &RunOptions {
            call_timeout: FUZZ_CALL_TIMEOUT,
            pictures: false,
            faults: Vec::new(),
            paths: false,
        },
    );
    Ok((sc, run))
}

/// `text` with each `wait 300` cut to `wait 50`, when it has one.
fn model_waits(text: &str) -> Option<String> {
    let from = format!(": wait {BLOCKING_WAIT_MS}");
    if !text.contains(&from) {
        return None;
    }
    let to = format!(": wait {MODEL_WAIT_MS}");
    let out: Vec<String> = text
        .lines()
        .map(|l| match l.split_once(&from) {
            Some((a, b)) if b.is_empty() || b.starts_with(' ') => format!("{a}{to}{b}"),
            _ => l.to_string(),
        })
        .collect();
    Some(text_of(&out))
}

/// The process and the call (or directive) word of a line.
fn proc_and_word(line: &str) -> (&str, &str) {
    let mut it = line.split_whitespace();
    let first = it.next().unwrap_or("");
    match first.strip_suffix(':') {
        Some(p) => (p, it.next().unwrap_or("")),
        None => ("", first),
    }
}

/// Whether a line may wake a blocked call (of another process): anything
/// but calls that only create files or look at them.
fn may_wake(line: &str) -> bool {
    let (p, w) = proc_and_word(line);
    if p.is_empty() {
        return w == "gc";
    }
    !matches!(
        w,
        "socket"
            | "socketpair"
            | "pipe"
            | "memfd"
            | "bind"
            | "getsockopt"
            | "getsockname"
            | "getpeername"
            | "fcntl"
            | "poll"
            | "ioctl"
            | "dup"
            | "fork"
            | "pidof"
            | "wait"
    )
}

/// At most this many `BLOCKED` results in a `--blocking` scenario (each
/// costs a whole wait): the scenario is cut after the last one.
const MAX_BLOCKED: usize = 4;

fn is_blocked(l: &runner::TraceLine) -> bool {
    l.result.as_ref().is_some_and(|x| x.result == "BLOCKED")
}

/// Make a `--blocking` scenario independent of timing: after every line
/// that may wake a blocked call, each process whose call is pending (on
/// the model) gets a `wait 300` at once, before any other line, so that
/// a woken call has returned (or blocked again) before anything else
/// happens; a wait that finds it still blocked prints BLOCKED on both
/// backends. Repairs as [`repair`] does, and cuts the scenario after its
/// [`MAX_BLOCKED`]-th BLOCKED. Returns the text, and its model run.
pub fn prepare_blocking(text: &str) -> Option<(String, Scenario, Run)> {
    let mut t = text.to_string();
    for _ in 0..16 {
        let (rt, sc, run) = repair(&t)?;
        let lines = lines_of(&rt);
        if run.lines.len() != lines.len() {
            return None;
        }
        let mut pending: Vec<String> = Vec::new();
        let mut ins: Vec<(usize, String)> = Vec::new();
        // A wait that follows a BLOCKED wait of the same process with
        // nothing that could wake it in between is BLOCKED again: dropped.
        let mut drop: Vec<usize> = Vec::new();
        let mut last_wake = 0usize;
        let mut last_blocked: HashMap<String, usize> = HashMap::new();
        for (i, tl) in run.lines.iter().enumerate() {
            let line = &lines[i];
            let (p, w) = proc_and_word(line);
            let blocked = is_blocked(tl);
            if w == "wait" && !p.is_empty() {
                if blocked && last_blocked.get(p).is_some_and(|&j| j > last_wake) {
                    drop.push(i);
                    continue;
                }
                pending.retain(|q| q != p);
                if blocked {
                    pending.push(p.to_string());
                    last_blocked.insert(p.to_string(), i);
                }
                continue;
            }
            if may_wake(line) {
                last_wake = i + 1;
                let mut have: Vec<&str> = Vec::new();
                for l in &lines[i + 1..] {
                    let (q, w) = proc_and_word(l);
                    if w == "wait" && !q.is_empty() {
                        have.push(q);
                    } else if !(q.is_empty() && (w == "gc" || w == "stat")) {
                        break;
                    }
                }
                for q in &pending {
                    if q == p || have.contains(&q.as_str()) {
                        continue;
                    }
                    // The names its own `wait` binds, if it has one later.
                    let pre = format!("{q}: wait ");
                    let binds = lines[i + 1..]
                        .iter()
                        .find(|l| l.starts_with(&pre))
                        .and_then(|l| l.find(" -> ").map(|k| l[k..].to_string()))
                        .unwrap_or_default();
                    ins.push((i, format!("{q}: wait {BLOCKING_WAIT_MS}{binds}")));
                }
            }
            if (line.ends_with(" &") || blocked) && !p.is_empty() {
                pending.retain(|q| q != p);
                pending.push(p.to_string());
            }
        }
        if ins.is_empty() && drop.is_empty() {
            let cut = run
                .lines
                .iter()
                .filter(|l| is_blocked(l))
                .nth(MAX_BLOCKED - 1)
                .map(|l| l.lineno);
            return match cut {
                Some(c) if c < lines.len() => {
                    let t2 = text_of(&lines[..c]);
                    let sc2 = scenario::parse(&t2).ok()?;
                    let mut run2 = run.clone();
                    run2.lines.truncate(c);
                    Some((t2, sc2, run2))
                }
                _ => Some((rt, sc, run)),
            };
        }
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if !drop.contains(&i) {
                out.push(l.clone());
            }
            out.extend(ins.iter().filter(|(j, _)| *j == i).map(|(_, w)| w.clone()));
        }
        t = text_of(&out);
    }
    None
}

fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn text_of(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// Drop the lines of `text` that do not parse or that are scenario errors
/// on the model (a name never bound, a call by an exited process, ...),
/// until the model runs it to the end. Returns the repaired text and its
/// model run, or `None` when that does not converge.
pub fn repair(text: &str) -> Option<(String, Scenario, Run)> {
    let mut lines = lines_of(text);
    for _ in 0..200 {
        let t = text_of(&lines);
        if let Err(errs) = scenario::parse(&t) {
            let mut bad: Vec<usize> = errs.iter().map(|e| e.line).collect();
            bad.sort_unstable();
            bad.dedup();
            for l in bad.into_iter().rev() {
                if l >= 1 && l <= lines.len() {
                    lines.remove(l - 1);
                }
            }
            continue;
        }
        let (sc, run) = run_text(&t, BackendKind::Sim).ok()?;
        match &run.error {
            None => return Some((t, sc, run)),
            Some(e) if e.kind == RunErrorKind::Scenario => {
                if e.line >= 1 && e.line <= lines.len() {
                    lines.remove(e.line - 1);
                } else {
                    return None;
                }
            }
            Some(_) => return None,
        }
    }
    None
}

/// What a divergence looks like, to recognize it again while minimizing
/// and to report each kind once: the call, the first word of both
/// results and the fields that differ.
pub fn signature(d: &Divergence) -> String {
    let op = d
        .echo
        .split_whitespace()
        .find(|w| !w.ends_with(':'))
        .unwrap_or("")
        .to_string();
    let first = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
    let fields =
        |s: &str| -> Vec<String> { s.split_whitespace().skip(1).map(String::from).collect() };
    let (mf, kf) = (fields(&d.model), fields(&d.kernel));
    let key = |f: &String| f.split('=').next().unwrap_or("").to_string();
    let mut keys: Vec<String> = mf
        .iter()
        .filter(|f| !kf.contains(f))
        .chain(kf.iter().filter(|f| !mf.contains(f)))
        .map(key)
        .collect();
    keys.sort();
    keys.dedup();
    format!(
        "{op}: {} / {} [{}]",
        first(&d.model),
        first(&d.kernel),
        keys.join(",")
    )
}

fn has_blocked(r: &Run) -> bool {
    r.lines
        .iter()
        .any(|l| l.result.as_ref().is_some_and(|x| x.result == "BLOCKED"))
}

/// The result of running one scenario on both backends.
#[derive(Debug)]
pub enum Verdict {
    /// Same traces.
    Same,
    /// A divergence the kernel repeats.
    Diverges(Vec<Divergence>),
    /// The traces differ, but the kernel does not repeat its own trace:
    /// the first line where its two runs differ.
    HostUnstable(String),
    /// The scenario could not be compared (a backend error).
    Error(String),
}

/// Run `text` (already repaired) on the host, compare with the model run,
/// and re-run the host when they differ.
pub fn judge(text: &str, sc: &Scenario, model: &Run) -> Verdict {
    let kernel = match run_text(text, BackendKind::Host) {
        Ok((_, r)) => r,
        Err(e) => return Verdict::Error(e),
    };
    if let Some(e) = &kernel.error {
        if e.kind == RunErrorKind::Backend {
            return Verdict::Error(e.to_string());
        }
    }
    let d = check::diff(sc, model, &kernel);
    if d.is_empty() {
        return Verdict::Same;
    }
    let again = match run_text(text, BackendKind::Host) {
        Ok((_, r)) => r,
        Err(e) => return Verdict::Error(e),
    };
    let (t1, t2) = (kernel.text(false), again.text(false));
    if t1 != t2 {
        let first = t1
            .lines()
            .zip(t2.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("{a}  /  {b}"))
            .unwrap_or_else(|| "(lengths differ)".into());
        return Verdict::HostUnstable(first);
    }
    Verdict::Diverges(d)
}

/// `text` with a `gc` after every line that may release a socket (a
/// `close`, an `exit`, a `recvmsg` or `sendmsg` that may drop passed fds),
/// from the first `rights=` on. Once a socket may be in flight, releasing
/// a socket makes the kernel queue its garbage collector
/// (`unix_release_sock` -> `unix_schedule_gc`), which runs
/// asynchronously: what the next calls see depends on whether it has run
/// yet, while the model collects at once. After a `gc` both agree.
pub fn settled(text: &str) -> String {
    let mut out = Vec::new();
    let mut inflight = false;
    for l in text.lines() {
        out.push(l.to_string());
        inflight |= l.contains("rights=");
        let releases = [": close ", ": exit", ": recvmsg ", ": sendmsg "]
            .iter()
            .any(|k| l.contains(k) || l.ends_with(k.trim_end()));
        if inflight && releases {
            out.push("gc".to_string());
        }
    }
    text_of(&out)
}

/// Whether `text` runs on both backends and diverges with `sig` on some
/// line.
pub fn diverges_like(text: &str, sig: &str, allow_blocked: bool) -> bool {
    let Ok((sc, model)) = run_text(text, BackendKind::Sim) else {
        return false;
    };
    if model.error.is_some() || (!allow_blocked && has_blocked(&model)) {
        return false;
    }
    let Ok((_, kernel)) = run_text(text, BackendKind::Host) else {
        return false;
    };
    if kernel.error.is_some() || (!allow_blocked && has_blocked(&kernel)) {
        return false;
    }
    let d = check::diff(&sc, &model, &kernel);
    d.iter().any(|x| signature(x) == sig)
}

// ---------------------------------------------------------------------
// Minimization.

fn is_int(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Smaller integers to try instead of `s`.
fn smaller_ints(s: &str) -> Vec<String> {
    let Ok(n) = s.parse::<i64>() else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for c in [0, 1, n / 2, n - 1] {
        if c.abs() < n.abs() && c >= 0 {
            v.push(c.to_string());
        }
    }
    v.dedup();
    v
}

/// Simpler versions of one value (`a|b|c`, `[x,y]`, an integer, a string).
fn simpler_values(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    if is_int(v) {
        out.extend(smaller_ints(v));
    } else if let Some(inner) = v.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let items: Vec<&str> = if inner.is_empty() {
            Vec::new()
        } else {
            inner.split(',').collect()
        };
        if items.len() > 8 {
            out.push(format!("[{}]", items[..items.len() / 2].join(",")));
        }
        for i in 0..items.len() {
            if items.len() > 1 {
                let mut it = items.clone();
                it.remove(i);
                out.push(format!("[{}]", it.join(",")));
            }
        }
    } else if v.starts_with('"') && v.ends_with('"') && v.len() > 2 {
        out.push("\"\"".into());
        if v.len() > 3 && !v[1..].starts_with('\\') {
            out.push(format!("\"{}\"", &v[1..2]));
        }
    } else if v.contains('|') {
        let parts: Vec<&str> = v.split('|').collect();
        for i in 0..parts.len() {
            if parts[i] == "dontwait" {
                continue;
            }
            let mut p = parts.clone();
            p.remove(i);
            out.push(p.join("|"));
        }
    } else if v.contains(',') && !v.starts_with("hex:") {
        // creds=PID,UID,GID
        let parts: Vec<&str> = v.split(',').collect();
        for i in 0..parts.len() {
            for s in smaller_ints(parts[i]) {
                let mut p: Vec<String> = parts.iter().map(|x| x.to_string()).collect();
                p[i] = s;
                out.push(p.join(","));
            }
        }
    }
    out
}

/// Simpler versions of one line, one change each.
pub fn simpler_lines(line: &str) -> Vec<String> {
    // A `wait` keeps its generous time.
    if proc_and_word(line).1 == "wait" {
        return Vec::new();
    }
    let toks: Vec<&str> = line.split(' ').collect();
    let mut out = Vec::new();
    // Calls start with `NAME:` and the call word; directives with one word.
    let fixed = if toks.first().is_some_and(|t| t.ends_with(':')) {
        2
    } else {
        1
    };
    let arrow = toks.iter().position(|t| *t == "->").unwrap_or(toks.len());
    let with = |i: usize, t: Option<String>| -> String {
        let mut v: Vec<String> = toks.iter().map(|x| x.to_string()).collect();
        match t {
            Some(t) => v[i] = t,
            None => {
                v.remove(i);
            }
        }
        v.join(" ")
    };
    for (i, &t) in toks.iter().enumerate().take(arrow).skip(fixed) {
        if t == "nonblock" || t == "dontwait" {
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            if !(k == "flags" && v.contains("dontwait")) {
                out.push(with(i, None));
            } else if v != "dontwait" {
                out.push(with(i, Some("flags=dontwait".into())));
            }
            for s in simpler_values(v) {
                out.push(with(i, Some(format!("{k}={s}"))));
            }
        } else if t == "cloexec" {
            out.push(with(i, None));
        } else {
            for s in simpler_values(t) {
                out.push(with(i, Some(s)));
            }
        }
    }
    out
}

/// Delta debugging: the smallest list of lines (by dropping lines, then
/// simplifying tokens) for which `pred` still holds. `pred` must hold for
/// `lines` itself.
pub fn minimize(lines: &[String], pred: &mut dyn FnMut(&[String]) -> bool) -> Vec<String> {
    minimize_keeping(lines, &|_| false, pred)
}

/// [`minimize`], never dropping a line for which `keep` holds (`gc` lines
/// when a divergence could otherwise be the collector's timing).
pub fn minimize_keeping(
    lines: &[String],
    keep: &dyn Fn(&str) -> bool,
    pred: &mut dyn FnMut(&[String]) -> bool,
) -> Vec<String> {
    let mut cur: Vec<String> = lines.to_vec();
    for _round in 0..4 {
        let before = cur.clone();
        // Drop chunks of lines, halving the chunk size.
        let mut chunk = (cur.len() / 2).max(1);
        loop {
            let mut i = 0;
            let mut changed = false;
            while i < cur.len() {
                let end = (i + chunk).min(cur.len());
                let cand: Vec<String> = cur
                    .iter()
                    .enumerate()
                    .filter(|(j, l)| !(i..end).contains(j) || keep(l))
                    .map(|(_, l)| l.clone())
                    .collect();
                if !cand.is_empty() && cand.len() < cur.len() && pred(&cand) {
                    cur = cand;
                    changed = true;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 && !changed {
                break;
            }
            if !changed {
                chunk = (chunk / 2).max(1);
            }
        }
        // Simplify each line, one change at a time.
        let mut i = 0;
        while i < cur.len() {
            let mut progressed = false;
            for c in simpler_lines(&cur[i]) {
                let mut cand = cur.clone();
                cand[i] = c;
                if pred(&cand) {
                    cur = cand;
                    progressed = true;
                    break;
                }
            }
            if !progressed {
                i += 1;
            }
        }
        if cur == before {
            break;
        }
    }
    cur
}

/// After [`minimize`]: drop the lines after `last` (1-based: the
/// diverging line), and the `gc` lines before any `rights=` (no socket can
/// be in flight there), when `pred` still holds without them.
pub fn tidy(lines: &[String], last: usize, pred: &mut dyn FnMut(&[String]) -> bool) -> Vec<String> {
    let mut cur: Vec<String> = lines.to_vec();
    if last >= 1 && last < cur.len() {
        let cand = cur[..last].to_vec();
        if pred(&cand) {
            cur = cand;
        }
    }
    // Two `gc` in a row are one.
    cur.dedup_by(|a, b| a.as_str() == "gc" && b.as_str() == "gc");
    let first_rights = cur
        .iter()
        .position(|l| l.contains("rights="))
        .unwrap_or(cur.len());
    let cand: Vec<String> = cur
        .iter()
        .enumerate()
        .filter(|(i, l)| !(*i < first_rights && l.as_str() == "gc"))
        .map(|(_, l)| l.clone())
        .collect();
    if cand.len() < cur.len() && pred(&cand) {
        cur = cand;
    }
    cur
}

// ---------------------------------------------------------------------
// The command.

/// The settings of `afunix fuzz`.
#[derive(Clone, Debug)]
pub struct FuzzOpts {
    /// The seed of the whole run.
    pub seed: u64,
    /// How many scenarios.
    pub count: u64,
    /// Calls per scenario.
    pub calls: usize,
    /// Where findings are written.
    pub out: PathBuf,
    /// Go on after a divergence.
    pub keep_going: bool,
    /// Also generate calls that block (see [`generate_mode`]).
    pub blocking: bool,
}

/// What a fuzz run did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Scenarios compared.
    pub scenarios: u64,
    /// Divergences found (scenarios that diverged, repeatably).
    pub divergences: u64,
    /// Distinct kinds of divergence (by [`signature`]).
    pub kinds: u64,
    /// Scenarios whose kernel trace was not repeatable.
    pub host_unstable: u64,
    /// Scenarios that diverged only until the kernel's garbage collector
    /// had run (see [`settled`]).
    pub gc_timing: u64,
    /// Scenarios the generator produced that could not be repaired.
    pub skipped: u64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// The header and body of a findings file.
pub fn finding_text(seed: u64, n: u64, text: &str, d: &Divergence) -> String {
    format!(
        "# afunix fuzz --seed {seed}: scenario {n} (scenario seed {}), minimized\n\
         # diverges at line {}: {}\n#   model:  {}\n#   kernel: {}\n{text}",
        scenario_seed(seed, n),
        d.lineno,
        d.echo,
        d.model,
        d.kernel
    )
}

/// Scenarios a second without `--blocking` (30 calls each), as measured.
const PLAIN_RATE: f64 = 45.0;
/// Scenarios a second with `--blocking` (30 calls each), as measured.
const BLOCKING_RATE: f64 = 1.0;

/// Seconds as `42 s`, `7 min`, `2.5 h`.
fn fmt_secs(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Run the fuzzer; `out` gets every line to print. `Err`: the fuzzer
/// could not run at all (no host backend).
pub fn run(opts: &FuzzOpts, out: &mut dyn FnMut(&str)) -> Result<Summary, String> {
    if let Err(e) = new_backend(BackendKind::Host) {
        return Err(format!(
            "{e}\nfuzzing compares the model with the kernel: the host backend needs root"
        ));
    }
    out(&format!(
        "afunix fuzz --seed {} --count {} --calls {}{}",
        opts.seed,
        opts.count,
        opts.calls,
        if opts.blocking { " --blocking" } else { "" }
    ));
    // Rates measured on the project's 2-core machines at 30 calls a
    // scenario (a divergence found adds its minimization).
    let rate = if opts.blocking {
        BLOCKING_RATE
    } else {
        PLAIN_RATE
    } * 30.0
        / opts.calls.max(1) as f64;
    out(&format!(
        "  expect about {} ({rate:.1} scenarios/s on a quiet 2-core machine)",
        fmt_secs(opts.count as f64 / rate)
    ));
    let blocking = opts.blocking;
    // Repair a generated or changed scenario (with `--blocking`, also
    // make it independent of timing).
    let prep = |t: &str| {
        if blocking {
            prepare_blocking(t)
        } else {
            repair(t)
        }
    };
    let mut sum = Summary::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let start = Instant::now();
    let mut last = Instant::now();
    for n in 0..opts.count {
        if last.elapsed() >= Duration::from_secs(5) {
            last = Instant::now();
            let rate = sum.scenarios as f64 / start.elapsed().as_secs_f64();
            let left = (opts.count - n) as f64 / rate.max(1e-3);
            out(&format!(
                "  {} scenarios, {} divergences ({} kinds), {rate:.1} scenarios/s, about {} left",
                sum.scenarios,
                sum.divergences,
                sum.kinds,
                fmt_secs(left)
            ));
        }
        let text = generate_mode(scenario_seed(opts.seed, n), opts.calls, blocking);
        let Some((text, sc, model)) = prep(&text) else {
            sum.skipped += 1;
            continue;
        };
        sum.scenarios += 1;
        let mut d = match judge(&text, &sc, &model) {
            Verdict::Same => continue,
            Verdict::Error(e) => return Err(format!("scenario {n}: {e}")),
            Verdict::HostUnstable(l) => {
                sum.host_unstable += 1;
                out(&format!(
                    "  scenario {n}: the kernel does not repeat itself: {l}"
                ));
                continue;
            }
            Verdict::Diverges(d) => d,
        };
        // A divergence that goes away once the kernel's collector has
        // settled after each release is the collector's timing.
        let text = if text.contains("rights=") {
            let st = settled(&text);
            let st = if blocking {
                prep(&st).map(|x| x.0).unwrap_or(st)
            } else {
                st
            };
            let still = run_text(&st, BackendKind::Sim).ok().and_then(|(sc, m)| {
                (m.error.is_none()).then_some(())?;
                match judge(&st, &sc, &m) {
                    Verdict::Diverges(d2) => Some((st.clone(), d2)),
                    _ => None,
                }
            });
            match still {
                Some((st, d2)) => {
                    d = d2;
                    st
                }
                None => {
                    sum.gc_timing += 1;
                    continue;
                }
            }
        } else {
            text
        };
        let model = match run_text(&text, BackendKind::Sim) {
            Ok((_, m)) => m,
            Err(e) => return Err(e),
        };
        sum.divergences += 1;
        // The first line whose kind of divergence is new, if any: a known
        // divergence early in a scenario must not hide a new one later.
        let sig = d
            .iter()
            .map(signature)
            .find(|s| !seen.contains_key(s))
            .unwrap_or_else(|| signature(&d[0]));
        if let Some(f) = seen.get(&sig) {
            out(&format!(
                "  scenario {n}: diverges like {} ({sig})",
                f.display()
            ));
            if !opts.keep_going {
                break;
            }
            continue;
        }
        sum.kinds += 1;
        out(&format!("scenario {n} diverges: {sig}; minimizing"));
        let blocked = blocking || has_blocked(&model);
        let mut pred = |ls: &[String]| {
            if blocking {
                // Every candidate gets its settling waits first.
                prep(&text_of(ls)).is_some_and(|(t, _, _)| diverges_like(&t, &sig, true))
            } else {
                diverges_like(&text_of(ls), &sig, blocked)
            }
        };
        // Fast: any line may go. Then the result, with a `gc` after each
        // release, must still diverge alike; else the fast path followed
        // the collector's timing and the slow one keeps every `gc`.
        let mut small = minimize(&lines_of(&text), &mut pred);
        if text.contains("rights=") {
            let st = settled(&text_of(&small));
            let st = if blocking {
                prep(&st).map(|x| x.0).unwrap_or(st)
            } else {
                st
            };
            if diverges_like(&st, &sig, blocked) {
                small = lines_of(&st);
            } else {
                small = minimize_keeping(&lines_of(&text), &|l| l == "gc", &mut pred);
            }
        }
        if blocking {
            if let Some((t, _, _)) = prep(&text_of(&small)) {
                small = lines_of(&t);
            }
        }
        let last = match run_text(&text_of(&small), BackendKind::Sim).and_then(|(sc, m)| {
            run_text(&text_of(&small), BackendKind::Host).map(|(_, k)| (sc, m, k))
        }) {
            Ok((sc, m, k)) => check::diff(&sc, &m, &k)
                .iter()
                .find(|x| signature(x) == sig)
                .map_or(0, |x| x.lineno),
            Err(_) => 0,
        };
        let mut small = tidy(&small, last, &mut pred);
        if blocking {
            if let Some((t, _, _)) = prep(&text_of(&small)) {
                small = lines_of(&t);
            }
        }
        let small_text = text_of(&small);
        // The minimized scenario's own divergence, for the header.
        let first = match run_text(&small_text, BackendKind::Sim)
            .and_then(|(sc, m)| run_text(&small_text, BackendKind::Host).map(|(_, k)| (sc, m, k)))
        {
            Ok((sc, m, k)) => check::diff(&sc, &m, &k)
                .into_iter()
                .find(|x| signature(x) == sig),
            Err(_) => None,
        }
        .unwrap_or_else(|| d[0].clone());
        let body = finding_text(opts.seed, n, &small_text, &first);
        std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
        let path = opts.out.join(format!("divergence-{}-{n}.scn", opts.seed));
        std::fs::write(&path, &body).map_err(|e| format!("{}: {e}", path.display()))?;
        out(&format!("==> {} <==", path.display()));
        for l in body.lines() {
            out(l);
        }
        seen.insert(sig, path.clone());
        sum.files.push(path);
        if !opts.keep_going {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    out(&format!(
        "{} scenarios, {} divergences ({} kinds, {} host-unstable, {} gc-timing, {} skipped; {:.1} scenarios/s)",
        sum.scenarios,
        sum.divergences,
        sum.kinds,
        sum.host_unstable,
        sum.gc_timing,
        sum.skipped,
        sum.scenarios as f64 / secs.max(1e-9)
    ));
    Ok(sum)
}

/// What `afunix fuzz --faults` found.
#[derive(Clone, Debug, Default)]
pub struct FaultSummary {
    /// Scenarios run.
    pub scenarios: u64,
    /// Faults that fired, over all of them.
    pub fired: u64,
    /// Scenarios after which the model was inconsistent (written to the
    /// output directory).
    pub broken: Vec<PathBuf>,
}

/// `afunix fuzz --faults`: random scenarios on the model alone, with every
/// fault point armed at random (probability `p`, from each world's seeded
/// generator); after each, the model's invariants must hold, and once
/// every process exited and the collector ran nothing may be left (no
/// socket, no open file). A fault must never break the model's own
/// consistency.
pub fn run_faults(
    opts: &FuzzOpts,
    p: f64,
    out: &mut dyn FnMut(&str),
) -> Result<FaultSummary, String> {
    use afunix::fault::{Fault, FaultPoint, When};
    let mut sum = FaultSummary::default();
    out(&format!(
        "afunix fuzz --faults: seed {}, {} scenarios of {} calls, every fault point at p={p}",
        opts.seed, opts.count, opts.calls
    ));
    for n in 0..opts.count {
        let sseed = scenario_seed(opts.seed, n);
        let text = generate_mode(sseed, opts.calls, opts.blocking);
        let sc = scenario::parse(&text)
            .map_err(|e| format!("generated scenario does not parse: {e:?}"))?;
        let mut backend = afunix_backend::sim::SimBackend::new();
        let world = std::sync::Arc::clone(backend.world());
        world.seed(sseed as u32 ^ (sseed >> 32) as u32);
        for point in FaultPoint::ALL {
            world.inject(Fault {
                point,
                pid: None,
                when: When::Random(p),
            });
        }
        let run = runner::run(&sc, &mut backend, &RunOptions::default());
        sum.fired += run
            .lines
            .iter()
            .filter_map(|l| l.result.as_ref())
            .flat_map(|r| r.fields.iter())
            .filter(|f| f.starts_with("fault="))
            .count() as u64;
        // Calls still blocked hold references to their files: end them
        // (EINTR) and let their threads leave before counting.
        world.interrupt_all();
        drop(backend);
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while world.pids().iter().any(|p| world.is_sleeping(*p)) && std::time::Instant::now() < end
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(5));
        let mut problem = world.check_invariants().err();
        if problem.is_none() {
            for pid in world.pids() {
                let _ = world.exit(pid);
            }
            world.gc();
            if world.stat() != 0 || world.open_files() != 0 {
                problem = Some(format!(
                    "left after every process exited and gc: {} sockets, {} open files",
                    world.stat(),
                    world.open_files()
                ));
            }
        }
        sum.scenarios += 1;
        if let Some(why) = problem {
            std::fs::create_dir_all(&opts.out)
                .map_err(|e| format!("{}: {e}", opts.out.display()))?;
            let path = opts.out.join(format!("fault-{}-{n}.scn", opts.seed));
            let body = format!(
                "# afunix fuzz --faults --seed {} (scenario {n}), p={p}: {why}\n{text}",
                opts.seed
            );
            std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
            out(&format!(
                "scenario {n}: {why}; written to {}",
                path.display()
            ));
            sum.broken.push(path);
            if !opts.keep_going {
                break;
            }
        }
    }
    out(&format!(
        "{} scenarios, {} faults fired, {} left the model inconsistent",
        sum.scenarios,
        sum.fired,
        sum.broken.len()
    ));
    Ok(sum)
}
