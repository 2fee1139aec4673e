//! Arbitrary bytes decoded into a call sequence across several processes, as
//! in `crates/afunix/tests/props_calls.rs` (issue #2, "Bad input"): every
//! call returns, the invariants hold after every call, and after every exit
//! and a collection no file and no socket is left.
//!
//! Nothing may block: receives and sends carry MSG_DONTWAIT, and a file is
//! made non-blocking before connect, accept, read and write.

use afunix::abi::cmsg::{user_cmsgs, CmsgBuilder};
use afunix::abi::consts::*;
use afunix::abi::ucred::Ucred;
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::{Fd, Pid, World};

/// A cursor over the input; reads past the end give zeros.
struct In<'a>(&'a [u8]);

impl In<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = usize::from(self.u8()) % (max + 1);
        (0..n).map(|_| self.u8()).collect()
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

struct Run {
    w: World,
    pids: Vec<Pid>,
    known: Vec<Vec<Fd>>,
}

impl Run {
    fn proc(&self, b: u8) -> usize {
        usize::from(b) % self.pids.len()
    }
    /// Mostly an fd the process got earlier; bit 7 set: the raw number.
    fn fd(&self, i: usize, b: u8) -> Fd {
        let k = &self.known[i];
        if b & 0x80 != 0 || k.is_empty() {
            Fd::from_raw(i32::from(b & 0x7f) - 8)
        } else {
            k[usize::from(b) % k.len()]
        }
    }
    fn addr(inp: &mut In) -> Vec<u8> {
        let sel = inp.u8();
        let mut v = AF_UNIX.to_ne_bytes().to_vec();
        match sel % 8 {
            0..=2 => v.extend_from_slice(&[0, b'a' + sel % 2]),
            3..=5 => v.extend_from_slice(&[b'p', b'0' + sel % 2, 0]),
            6 => {}
            _ => v = inp.bytes(120),
        }
        v
    }
}

fn ty(b: u8) -> i32 {
    let base = [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, i32::from(b >> 4)][usize::from(b & 3)];
    let flags =
        [0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC][usize::from(b >> 2 & 3)];
    base | flags
}

fn inv(w: &World, what: &str) {
    if let Err(e) = w.check_invariants() {
        panic!("invariant broken after {what}: {e}");
    }
}

/// One input (the fuzz target's body; also replayed by `tests/regressions.rs`).
pub fn run(data: &[u8]) {
    let mut inp = In(data);
    let w = World::new();
    let nprocs = 2 + usize::from(inp.u8() % 3);
    let pids = (0..nprocs)
        .map(|k| {
            let uid = [0, 1000, 1001][k % 3];
            w.spawn(&TaskSpec {
                uid,
                gid: uid,
                groups: vec![uid],
                nofile: if inp.u8() & 1 != 0 { 16 } else { 1024 },
                ..TaskSpec::default()
            })
        })
        .collect::<Vec<_>>();
    let mut run = Run {
        w,
        known: vec![Vec::new(); pids.len()],
        pids,
    };
    // AFUNIX_FUZZ_TRACE=1: each step on stderr, to triage a saved input.
    let trace = std::env::var_os("AFUNIX_FUZZ_TRACE").is_some();
    let mut steps = 0;
    while !inp.done() && steps < 200 {
        steps += 1;
        let op = inp.u8();
        let i = run.proc(inp.u8());
        let pid = run.pids[i];
        let w = &run.w;
        let mut new: Vec<Fd> = Vec::new();
        match op % 24 {
            0 => {
                if run.pids.len() < 8 {
                    if let Ok(c) = w.fork(pid) {
                        run.pids.push(c);
                        run.known.push(run.known[i].clone());
                    }
                }
            }
            1 => {
                let _ = w.exit(pid);
            }
            2 => new.extend(w.socket(pid, ty(inp.u8()))),
            3 => new.extend(w.socketpair(pid, ty(inp.u8())).into_iter().flatten()),
            4 => {
                let fd = run.fd(i, inp.u8());
                let _ = w.bind(pid, fd, &Run::addr(&mut inp));
            }
            5 => {
                let fd = run.fd(i, inp.u8());
                let _ = w.set_nonblock(pid, fd, true);
                let _ = w.connect(pid, fd, &Run::addr(&mut inp));
            }
            6 => {
                let fd = run.fd(i, inp.u8());
                let _ = w.listen(pid, fd, i32::from(inp.u8() % 4));
            }
            7 => {
                let fd = run.fd(i, inp.u8());
                let _ = w.set_nonblock(pid, fd, true);
                new.extend(w.accept4(pid, fd, if inp.u8() & 1 != 0 { SOCK_CLOEXEC } else { 0 }));
            }
            8..=10 => {
                let fd = run.fd(i, inp.u8());
                let sel = inp.u8();
                let mut b = CmsgBuilder::new();
                if sel & 1 != 0 {
                    let n = 1 + usize::from(inp.u8() % 4);
                    let fds: Vec<Fd> = (0..n).map(|_| run.fd(i, inp.u8())).collect();
                    b.rights(&fds);
                }
                if sel & 2 != 0 {
                    let who = run.pids[run.proc(inp.u8())];
                    let (uid, gid) = (u32::from(inp.u8()) * 500, u32::from(inp.u8()) * 500);
                    b.creds(Ucred {
                        pid: who.as_raw(),
                        uid,
                        gid,
                    });
                }
                if sel & 4 != 0 {
                    b.raw(&inp.bytes(40));
                }
                let control = b.finish();
                let data = (sel & 8 == 0).then(|| inp.bytes(40));
                let name = (sel & 16 != 0).then(|| Run::addr(&mut inp));
                let flags = [0, MSG_OOB, MSG_EOR, MSG_NOSIGNAL][usize::from(sel >> 5 & 3)];
                let msg = MsgHdr {
                    name: name.as_deref(),
                    iov: data.as_deref(),
                    control: &control,
                };
                let _ = w.sendmsg(pid, fd, &msg, flags | MSG_DONTWAIT);
                let _ = w.take_sigpipe(pid);
            }
            11..=13 => {
                let fd = run.fd(i, inp.u8());
                let len = usize::from(inp.u8());
                let space = [0usize, 16, 20, 24, 32, 64, 4096, usize::from(inp.u8())]
                    [usize::from(inp.u8() % 8)];
                let sel = inp.u8();
                let mut flags = MSG_DONTWAIT;
                for (bit, f) in [MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_CMSG_CLOEXEC, MSG_OOB]
                    .into_iter()
                    .enumerate()
                {
                    if sel >> bit & 1 != 0 {
                        flags |= f;
                    }
                }
                if let Ok(r) = w.recvmsg(pid, fd, len, space, flags) {
                    for c in user_cmsgs(&r.control) {
                        if c.level == SOL_SOCKET && (c.ty == SCM_RIGHTS || c.ty == SCM_PIDFD) {
                            new.extend(c.ints().into_iter().filter(|&f| f >= 0).map(Fd::from_raw));
                        }
                    }
                }
            }
            14 => {
                let fd = run.fd(i, inp.u8());
                if w.close(pid, fd).is_ok() {
                    run.known[i].retain(|&k| k != fd);
                }
            }
            15 => new.extend(w.dup(pid, run.fd(i, inp.u8()))),
            16 => {
                let fd = run.fd(i, inp.u8());
                let _ = w.shutdown(pid, fd, i32::from(inp.u8() % 4));
            }
            17 => {
                let fd = run.fd(i, inp.u8());
                let name = i32::from(inp.u8() % 90);
                let value = inp.bytes(24);
                let _ = w.setsockopt(pid, fd, SOL_SOCKET, name, &value);
            }
            18 => {
                let fd = run.fd(i, inp.u8());
                let name = i32::from(inp.u8() % 90);
                let optlen = usize::from(inp.u8());
                if let Ok(v) = w.getsockopt(pid, fd, SOL_SOCKET, name, optlen) {
                    if name == SO_PEERPIDFD && v.len() == 4 {
                        new.push(Fd::from_raw(i32::from_ne_bytes([v[0], v[1], v[2], v[3]])));
                    }
                }
            }
            19 => {
                let fd = run.fd(i, inp.u8());
                let _ = w.poll(pid, fd, inp.i32() as i16);
                let req = [SIOCINQ, SIOCOUTQ, SIOCATMARK, 0][usize::from(inp.u8() % 4)];
                let _ = w.ioctl(pid, fd, req);
                let _ = w.getsockname(pid, fd);
                let _ = w.getpeername(pid, fd);
            }
            20 => new.extend(w.pipe2(pid, O_NONBLOCK).into_iter().flatten()),
            21 => new.extend(w.memfd(pid, &inp.bytes(16))),
            22 => {
                let fd = run.fd(i, inp.u8());
                let _ = w.set_nonblock(pid, fd, true);
                if inp.u8() & 1 != 0 {
                    let _ = w.read(pid, fd, usize::from(inp.u8()));
                } else {
                    let _ = w.write(pid, fd, &inp.bytes(32));
                    let _ = w.take_sigpipe(pid);
                }
            }
            _ => w.gc(),
        }
        inv(&run.w, &format!("op {} of process {pid}", op % 24));
        if trace {
            eprintln!(
                "step {steps}: op {} by {pid}: new {new:?}; files {}, sockets {}",
                op % 24,
                run.w.open_files(),
                run.w.stat()
            );
        }
        for fd in new {
            if !run.known[i].contains(&fd) {
                run.known[i].push(fd);
            }
        }
    }
    for &pid in &run.pids {
        let r = run.w.exit(pid);
        inv(&run.w, "exit");
        if trace {
            eprintln!(
                "exit {pid}: {r:?}; files {}, sockets {}",
                run.w.open_files(),
                run.w.stat()
            );
        }
    }
    run.w.gc();
    inv(&run.w, "gc");
    // What Linux 6.18's walk leaves (a component like scm_rights.c's
    // mixed_lowpoint, which 6.18 never frees) is faithful, not a leak of
    // the model: the fixed walk must then free all of it.
    if run.w.open_files() != 0 {
        run.w.set_gc_walk(afunix::GcWalk::Fixed);
        run.w.gc();
        inv(&run.w, "gc with the fixed walk");
    }
    assert_eq!(run.w.open_files(), 0, "open files after every exit + gc");
    assert_eq!(run.w.stat(), 0, "live sockets after every exit + gc");
}
