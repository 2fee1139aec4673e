//! The runner's logic against a fake in-test backend: names, fork, pending
//! calls, `@#N`, pids, errors.

use afunix::abi::cmsg::CmsgBuilder;
use afunix::abi::ucred::Ucred;
use afunix::Errno;
use afunix_backend::backend::{
    Backend, BackendError, Call, Out, ProcId, Progress, Reply, TaskSpec,
};
use afunix_cli::runner::{run, Run, RunErrorKind, RunOptions};
use afunix_cli::scenario::{parse, parse_syntax};
use std::collections::HashMap;
use std::time::Duration;

/// A tiny fake world: fds are handed out in order per process, a read of
/// fd 42 blocks for `block_for` waits, recvmsg returns two fresh fds.
#[derive(Default)]
struct Fake {
    next_fd: HashMap<ProcId, i32>,
    calls: Vec<(ProcId, Call)>,
    pending: HashMap<ProcId, (Call, usize)>,
    block_for: usize,
    autobound: Vec<u8>,
}

impl Fake {
    fn fd(&mut self, id: ProcId) -> i32 {
        let n = self.next_fd.entry(id).or_insert(3);
        *n += 1;
        *n - 1
    }
    fn exec(&mut self, id: ProcId, call: &Call) -> Reply {
        match call {
            Call::Socket { .. } | Call::Memfd { .. } | Call::Dup { .. } | Call::Accept { .. } => {
                Reply::ok(self.fd(id) as i64)
            }
            Call::Socketpair { .. } | Call::Pipe { .. } => {
                let a = self.fd(id);
                let b = self.fd(id);
                Reply::with(0, Out::Pair([a, b]))
            }
            Call::Recvmsg { .. } => {
                let (a, b) = (self.fd(id), self.fd(id));
                let mut c = CmsgBuilder::new();
                c.rights(&[a, b]);
                c.push(1, 4, &(-24i32).to_ne_bytes());
                c.push(6, 9, &[1, 2, 3, 4]);
                let mut name = vec![1, 0, 0];
                name.extend_from_slice(&self.autobound);
                let namelen = name.len() as u32;
                let control = c.finish();
                let controllen = control.len();
                Reply::with(
                    2,
                    Out::Msg {
                        data: b"h\n".to_vec(),
                        name,
                        namelen,
                        control,
                        controllen,
                        flags: 0x8 | 0x4000_0000,
                    },
                )
            }
            Call::Getsockname { .. } => {
                let mut name = vec![1, 0, 0];
                name.extend_from_slice(&self.autobound);
                let len = name.len() as i32;
                Reply::with(0, Out::Addr { addr: name, len })
            }
            Call::Getsockopt { .. } => Reply::with(
                0,
                Out::Optval {
                    optlen: 12,
                    value: Ucred {
                        pid: self.pid(1),
                        uid: u32::MAX,
                        gid: 7,
                    }
                    .to_bytes()
                    .to_vec(),
                },
            ),
            Call::Sendmsg { fd: 7, .. } => Reply {
                ret: Err(Errno::EPIPE.into()),
                out: Out::None,
                sigpipe: true,
            },
            Call::Sendmsg { iov, .. } => {
                Reply::ok(iov.iter().map(|b| b.len()).sum::<usize>() as i64)
            }
            Call::Read { len, .. } => Reply::with(*len as i64, Out::Data(vec![b'r'; *len])),
            Call::Poll { .. } => Reply::with(1, Out::Revents(vec![0x1 | 0x4 | 0x2000])),
            Call::Bind { .. } => {
                Reply::err(Errno::EINVAL.why(afunix::rule!(unix_bind, "already bound")))
            }
            _ => Reply::ok(0),
        }
    }
}

impl Backend for Fake {
    fn task(&mut self, id: ProcId, _spec: &TaskSpec) -> Result<(), BackendError> {
        self.next_fd.insert(id, 3);
        Ok(())
    }
    fn fork(&mut self, parent: ProcId, child: ProcId) -> Result<(), BackendError> {
        let n = self.next_fd.get(&parent).copied().unwrap_or(3);
        self.next_fd.insert(child, n);
        Ok(())
    }
    fn pid(&self, id: ProcId) -> i32 {
        100 + id as i32
    }
    fn start(&mut self, id: ProcId, call: Call) -> Result<(), BackendError> {
        self.calls.push((id, call.clone()));
        let blocks = matches!(call, Call::Read { fd: 42, .. });
        self.pending
            .insert(id, (call, if blocks { self.block_for } else { 0 }));
        Ok(())
    }
    fn wait(&mut self, id: ProcId, _timeout: Duration) -> Result<Progress, BackendError> {
        let Some((call, left)) = self.pending.remove(&id) else {
            return Err(BackendError("nothing pending".into()));
        };
        if left > 0 {
            self.pending.insert(id, (call, left - 1));
            return Ok(Progress::Blocked);
        }
        Ok(Progress::Done(self.exec(id, &call)))
    }
    fn set_max_dgram_qlen(
        &mut self,
        _netns: u32,
        _n: i64,
    ) -> Result<Result<(), afunix::Error>, BackendError> {
        Ok(Ok(()))
    }
    fn gc(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
    fn stat(&mut self) -> Result<usize, BackendError> {
        Ok(self.calls.len())
    }
}

fn go(fake: &mut Fake, src: &str) -> Run {
    // The runner's own checks, without the resolution `parse` does first.
    let sc = parse_syntax(src).expect("parses");
    run(&sc, fake, &RunOptions::default())
}

fn texts(r: &Run) -> Vec<String> {
    r.lines.iter().map(|l| l.text(false)).collect()
}

#[test]
fn names_are_per_process_and_fork_copies_them() {
    let mut f = Fake::default();
    let r = go(
        &mut f,
        "task A\nA: socketpair dgram -> a b\nA: fork B\nB: close b\nA: socket stream -> c\nB: dup a -> d\nB: close d",
    );
    assert_eq!(r.error, None);
    assert_eq!(
        texts(&r),
        [
            "task A = 0",
            "A: socketpair dgram -> a b = 0 fds=[3,4]",
            "A: fork B = 0",
            "B: close b = 0",
            "A: socket stream -> c = 5",
            "B: dup a -> d = 5",
            "B: close d = 0"
        ]
    );
    assert_eq!(f.calls[1], (1, Call::Close { fd: 4 }));
    assert_eq!(f.calls[3], (1, Call::Dup { fd: 3 }));
    assert_eq!(f.calls[4], (1, Call::Close { fd: 5 }));
    // c was bound in A only.
    let mut f = Fake::default();
    let r = go(
        &mut f,
        "task A\nA: socket stream -> c\nA: fork B\nA: socket dgram -> e\nB: close e",
    );
    let e = r.error.expect("e is not bound in B");
    assert_eq!((e.line, e.col, e.kind), (5, 10, RunErrorKind::Scenario));
}

#[test]
fn blocked_call_becomes_pending_and_wait_collects_it() {
    let mut f = Fake {
        block_for: 2,
        ..Fake::default()
    };
    let r = go(
        &mut f,
        "task A\nA: read 42 3 -> x\nA: wait 10\nA: wait\nA: close 3",
    );
    assert_eq!(r.error, None);
    assert_eq!(
        texts(&r),
        [
            "task A = 0",
            "A: read 42 3 -> x = BLOCKED",
            "A: wait 10 = BLOCKED",
            "A: wait = 3 data=\"rrr\"",
            "A: close 3 = 0"
        ]
    );
    // A process with a pending call can make no other call.
    let mut f = Fake {
        block_for: 1,
        ..Fake::default()
    };
    let r = go(&mut f, "task A\nA: read 42 3 &\nA: close 3");
    assert_eq!(texts(&r), ["task A = 0", "A: read 42 3 &"]);
    let e = r.error.expect("pending");
    assert_eq!((e.line, e.col), (3, 1));
    assert!(e.msg.contains("pending"), "{}", e.msg);
}

#[test]
fn background_call_binds_on_its_wait_line() {
    let mut f = Fake {
        autobound: b"fffff".to_vec(),
        ..Fake::default()
    };
    let r = go(
        &mut f,
        "task A\nA: recvmsg 3 &\nA: wait -> p q\nA: close q\nA: wait",
    );
    assert_eq!(
        texts(&r)[1..3],
        [
            "A: recvmsg 3 &",
            "A: wait -> p q = 2 data=\"h\\x0a\" from=@#1 rights=[3,4] pidfd=-24 cmsg=hex:1400000000000000060000000900000001020304 flags=ctrunc|cmsg_cloexec"
        ]
    );
    assert_eq!(f.calls[1], (0, Call::Close { fd: 4 }));
    let e = r.error.expect("nothing to wait for");
    assert_eq!(e.line, 5);
}

#[test]
fn autobound_names_are_numbered_and_usable() {
    let mut f = Fake {
        autobound: b"0a1b2".to_vec(),
        ..Fake::default()
    };
    let r = go(
        &mut f,
        "task A\nA: getsockname 3\nA: connect 3 @#1\nA: getsockname 3\nA: connect 3 @#2",
    );
    assert_eq!(texts(&r)[1], "A: getsockname 3 = 0 addr=@#1");
    assert_eq!(texts(&r)[3], "A: getsockname 3 = 0 addr=@#1");
    assert_eq!(
        f.calls[1].1,
        Call::Connect {
            fd: 3,
            addr: vec![1, 0, 0, b'0', b'a', b'1', b'b', b'2']
        }
    );
    let e = r.error.expect("@#2 not printed");
    assert_eq!((e.line, e.col), (5, 14));
    // A name the scenario wrote itself prints as written.
    let mut f = Fake {
        autobound: b"0a1b2".to_vec(),
        ..Fake::default()
    };
    let r = go(&mut f, "task A\nA: bind 3 @0a1b2\nA: getsockname 3");
    assert_eq!(texts(&r)[2], "A: getsockname 3 = 0 addr=@0a1b2");
    // Not 5 lower-case hex digits: not autobound.
    let mut f = Fake {
        autobound: b"0A1B2".to_vec(),
        ..Fake::default()
    };
    let r = go(&mut f, "task A\nA: getsockname 3");
    assert_eq!(texts(&r)[1], "A: getsockname 3 = 0 addr=@0A1B2");
}

#[test]
fn pids_print_as_process_names_and_creds_encode_pids() {
    let mut f = Fake::default();
    let r = go(
        &mut f,
        "task A\ntask B uid=5 gid=6\nA: getsockopt 3 peercred\nB: sendmsg 3 data=\"x\" creds=self creds=A,1,2 rights=[3]",
    );
    assert_eq!(r.error, None);
    assert_eq!(
        texts(&r)[2],
        "A: getsockopt 3 peercred = 0 creds=B,4294967295,7"
    );
    let Call::Sendmsg { control, .. } = &f.calls[1].1 else {
        panic!("not a sendmsg: {:?}", f.calls[1]);
    };
    let mut want = CmsgBuilder::new();
    want.creds(Ucred {
        pid: 101,
        uid: 5,
        gid: 6,
    });
    want.creds(Ucred {
        pid: 100,
        uid: 1,
        gid: 2,
    });
    want.rights(&[3]);
    assert_eq!(*control, want.finish());
}

#[test]
fn errno_sigpipe_explain_and_exit() {
    let mut f = Fake::default();
    let r = go(
        &mut f,
        "task A\nA: sendmsg 7 data=\"x\"\nA: bind 3 auto # c\nA: poll 3\nA: exit\nA: close 3",
    );
    assert_eq!(texts(&r)[1], "A: sendmsg 7 data=\"x\" = EPIPE sigpipe");
    assert_eq!(
        r.lines[2].text(true),
        "A: bind 3 auto = EINVAL  # unix_bind: already bound"
    );
    assert_eq!(texts(&r)[3], "A: poll 3 = 1 revents=in|out|rdhup");
    let e = r.error.expect("exited");
    assert_eq!(e.line, 6);
    assert!(e.msg.contains("exited"));
}

#[test]
fn runtime_scenario_errors() {
    for (src, line, col) in [
        ("C: socket dgram", 1, 1),
        ("task A\ntask A", 2, 6),
        ("task A\nA: fork A", 2, 9),
        ("task A\nA: sendmsg 3 creds=Z,1,1", 2, 20),
        ("task A\nA: close x", 2, 10),
        ("task A\nA: sendmsg 3 rights=[3,y]", 2, 24),
    ] {
        let mut f = Fake::default();
        let r = go(&mut f, src);
        let e = r.error.unwrap_or_else(|| panic!("no error for {src:?}"));
        assert_eq!((e.line, e.col), (line, col), "{src:?}: {}", e.msg);
        // Names that no earlier line declares or binds are found before
        // anything runs, at the same place.
        if !src.contains("task A\ntask A") && !src.contains("fork A") {
            let pe = parse(src).expect_err(src);
            assert_eq!(
                (pe[0].line, pe[0].col),
                (line, col),
                "{src:?}: {}",
                pe[0].msg
            );
        }
    }
}
