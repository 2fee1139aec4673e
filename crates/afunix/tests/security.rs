//! The LSM hook points: a policy installed with `World::with_security`
//! is asked where Linux asks its LSMs, with what they get, and its denial
//! is the call's answer. (No kernel recording is possible here: the host
//! has no such policy loaded.)

use afunix::abi::cmsg::CmsgBuilder;
use afunix::abi::consts::{MSG_DONTWAIT, SOCK_DGRAM, SOCK_STREAM};
use afunix::abi::sockaddr::UnixAddr;
use afunix::net::socket::MsgHdr;
use afunix::security::{FileRef, Security, SocketRef, Task};
use afunix::SockType;
use afunix::TaskSpec;
use afunix::{Errno, Pid, ResultExt, SysResult, World};
use std::sync::Mutex;

#[path = "../examples/memfd_sandbox.rs"]
mod memfd_sandbox;

#[test]
fn the_memfd_sandbox_receives_memfds_only_and_nothing_leaks() {
    let r = memfd_sandbox::run();
    assert_eq!(r.memfd_content, b"allowed");
    assert_eq!(r.pipe_fds, 0);
    assert!(r.pipe_ctrunc);
    assert_eq!(r.files_left, 0);
}

/// Records every hook call, in order, with what it received; denies
/// datagram sends from one pid.
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<String>>,
    deny_send_from: Mutex<Option<Pid>>,
}

impl Recorder {
    fn note(&self, s: String) {
        self.log.lock().unwrap().push(s);
    }
}

fn sock(s: SocketRef<'_>) -> String {
    let ty = match s.ty() {
        SockType::Stream => "stream",
        SockType::Dgram => "dgram",
        SockType::Seqpacket => "seqpacket",
    };
    match s.addr() {
        Some(UnixAddr::Abstract(n)) => format!("{ty}@{}", String::from_utf8_lossy(n)),
        _ => ty.to_string(),
    }
}

impl Security for &'static Recorder {
    fn socket_create(&self, t: &Task<'_>, ty: i32, protocol: i32) -> SysResult<()> {
        self.note(format!("create {} ty={ty} proto={protocol}", t.pid));
        Ok(())
    }
    fn socket_bind(&self, t: &Task<'_>, s: SocketRef<'_>, addr: &[u8]) -> SysResult<()> {
        self.note(format!("bind {} {} len={}", t.pid, sock(s), addr.len()));
        Ok(())
    }
    fn socket_connect(&self, t: &Task<'_>, s: SocketRef<'_>, _addr: &[u8]) -> SysResult<()> {
        self.note(format!("connect {} {}", t.pid, sock(s)));
        Ok(())
    }
    fn socket_listen(&self, t: &Task<'_>, s: SocketRef<'_>, backlog: i32) -> SysResult<()> {
        self.note(format!("listen {} {} {backlog}", t.pid, sock(s)));
        Ok(())
    }
    fn socket_accept(&self, t: &Task<'_>, s: SocketRef<'_>) -> SysResult<()> {
        self.note(format!("accept {} {}", t.pid, sock(s)));
        Ok(())
    }
    fn unix_stream_connect(
        &self,
        t: &Task<'_>,
        s: SocketRef<'_>,
        l: SocketRef<'_>,
    ) -> SysResult<()> {
        self.note(format!(
            "unix_stream_connect {} {} -> {}",
            t.pid,
            sock(s),
            sock(l)
        ));
        Ok(())
    }
    fn socket_sendmsg(&self, t: &Task<'_>, s: SocketRef<'_>, len: usize, fl: i32) -> SysResult<()> {
        self.note(format!("sendmsg {} {} {len} {fl:#x}", t.pid, sock(s)));
        Ok(())
    }
    fn unix_may_send(&self, t: &Task<'_>, s: SocketRef<'_>, o: SocketRef<'_>) -> SysResult<()> {
        self.note(format!(
            "unix_may_send {} {} -> {}",
            t.pid,
            sock(s),
            sock(o)
        ));
        if *self.deny_send_from.lock().unwrap() == Some(t.pid) {
            return Err(Errno::EACCES.why(afunix::rule!(
                security_unix_may_send,
                "test policy: no datagrams"
            )));
        }
        Ok(())
    }
    fn socket_recvmsg(&self, t: &Task<'_>, s: SocketRef<'_>, len: usize, fl: i32) -> SysResult<()> {
        self.note(format!("recvmsg {} {} {len} {fl:#x}", t.pid, sock(s)));
        Ok(())
    }
    fn file_receive(&self, t: &Task<'_>, f: FileRef<'_>) -> SysResult<()> {
        self.note(format!("file_receive {} {:?}", t.pid, f.file_type()));
        Ok(())
    }
}

#[test]
fn hooks_are_called_at_the_kernels_points_with_sockets_peers_and_files() {
    let rec: &'static Recorder = Box::leak(Box::default());
    let w = World::with_security(Box::new(rec));
    let a = w.spawn(&TaskSpec::default());
    let b = w.spawn(&TaskSpec::default());
    let srv = UnixAddr::Abstract(b"srv".to_vec()).to_sockaddr();
    let l = w.socket(b, SOCK_STREAM).unwrap();
    w.bind(b, l, &srv).unwrap();
    w.listen(b, l, 100_000).unwrap();
    let c = w.socket(a, SOCK_STREAM).unwrap();
    w.connect(a, c, &srv).unwrap();
    let s = w.accept4(b, l, 0).unwrap();
    let f = w.memfd(a, b"x").unwrap();
    let control = CmsgBuilder::new().rights(&[f]).finish();
    let msg = MsgHdr {
        name: None,
        iov: Some(b"hi"),
        control: &control,
    };
    w.sendmsg(a, c, &msg, 0).unwrap();
    let r = w.recvmsg(b, s, 8, 64, MSG_DONTWAIT).unwrap();
    assert_eq!(r.rights().len(), 1);
    let d = w.socket(a, SOCK_DGRAM).unwrap();
    let msg = MsgHdr {
        name: Some(&srv),
        iov: Some(b"d"),
        control: &[],
    };
    // A datagram to a stream name: refused by the protocol, after the hook.
    assert_eq!(
        w.sendmsg(a, d, &msg, MSG_DONTWAIT).errno(),
        Err(Errno::ECONNREFUSED)
    );
    let log = rec.log.lock().unwrap().clone();
    let want = [
        "create 101 ty=1 proto=0",
        "bind 101 stream len=6",
        // __sys_listen clamps the backlog to somaxconn before the hook.
        "listen 101 stream@srv 4096",
        "create 100 ty=1 proto=0",
        "connect 100 stream",
        "unix_stream_connect 100 stream -> stream@srv",
        "accept 101 stream@srv",
        "sendmsg 100 stream 2 0x0",
        // O_NONBLOCK and MSG_DONTWAIT reach the hook as flags.
        "recvmsg 101 stream@srv 8 0x40",
        "file_receive 101 Memfd",
        "create 100 ty=2 proto=0",
        "sendmsg 100 dgram 1 0x40",
    ];
    assert_eq!(log, want);
}

#[test]
fn a_denial_is_the_calls_answer_with_the_policys_rule() {
    let rec: &'static Recorder = Box::leak(Box::default());
    let w = World::with_security(Box::new(rec));
    let a = w.spawn(&TaskSpec::default());
    let b = w.spawn(&TaskSpec::default());
    *rec.deny_send_from.lock().unwrap() = Some(a);
    let [s0, _s1] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let msg = MsgHdr {
        name: None,
        iov: Some(b"x"),
        control: &[],
    };
    let e = w.sendmsg(a, s0, &msg, MSG_DONTWAIT).unwrap_err();
    assert_eq!(e, Errno::EACCES);
    assert_eq!(e.rule.function(), Some("security_unix_may_send"));
    let [t0, _t1] = w.socketpair(b, SOCK_DGRAM).unwrap();
    assert_eq!(w.sendmsg(b, t0, &msg, MSG_DONTWAIT), Ok(1));
}

/// The ready-made policy of deny rules (`afunix run --deny`): the memfd
/// sandbox is one rule, and a rule's uid, file type and errno are its own.
#[test]
fn a_deny_policy_refuses_only_what_its_rules_match() {
    use afunix::security::{Deny, DenyRule, FileMatch, FileType, Hook};
    let w = World::with_security(Box::new(Deny(vec![
        DenyRule::new(Hook::FileReceive)
            .uid(1000)
            .file(FileMatch::IsNot(FileType::Memfd)),
        DenyRule::new(Hook::SocketSendmsg)
            .uid(2000)
            .errno(Errno::EPERM),
    ])));
    let as_uid = |uid: u32| {
        w.spawn(&TaskSpec {
            uid,
            gid: uid,
            groups: vec![uid],
            ..TaskSpec::default()
        })
    };
    let (root, sandboxed, other) = (as_uid(0), as_uid(1000), as_uid(2000));
    let name = UnixAddr::abstract_name("sb").to_sockaddr();
    let inbox = w.socket(sandboxed, SOCK_DGRAM).unwrap();
    w.bind(sandboxed, inbox, &name).unwrap();
    let out = w.socket(root, SOCK_DGRAM).unwrap();
    let m = w.memfd(root, b"ok").unwrap();
    let [r, _w] = w.pipe2(root, 0).unwrap();
    let send = |data: &[u8], fd| {
        let control = CmsgBuilder::new().rights(&[fd]).finish();
        let msg = MsgHdr {
            name: Some(&name),
            iov: Some(data),
            control: &control,
        };
        w.sendmsg(root, out, &msg, 0).unwrap();
    };
    send(b"m", m);
    send(b"p", r);
    let before = w.open_files();
    let got = w.recvmsg(sandboxed, inbox, 8, 64, MSG_DONTWAIT).unwrap();
    assert_eq!((got.rights().len(), got.ctrunc()), (1, false));
    let refused = w.recvmsg(sandboxed, inbox, 8, 64, MSG_DONTWAIT).unwrap();
    assert_eq!((refused.rights().len(), refused.ctrunc()), (0, true));
    // The memfd was installed; the refused pipe end was dropped, not leaked.
    assert_eq!(w.open_files(), before);
    // Root receives anything; only uid 2000's sends are refused.
    let [a, b] = w.socketpair(root, SOCK_DGRAM).unwrap();
    w.send_with_fds(root, a, b"p", &[r]).unwrap();
    assert_eq!(
        w.recvmsg(root, b, 8, 64, MSG_DONTWAIT)
            .unwrap()
            .rights()
            .len(),
        1
    );
    let [c, _d] = w.socketpair(other, SOCK_DGRAM).unwrap();
    let e = w.send_with_fds(other, c, b"x", &[]).unwrap_err();
    assert_eq!(e, Errno::EPERM);
    assert_eq!(e.rule.function(), Some("security_socket_sendmsg"));
    assert_eq!(w.check_invariants(), Ok(()));
}

/// A deny rule's pid and socket-type selectors: each narrows the rule, all
/// of a rule's selectors must match, and a rule with a socket type never
/// matches a hook with no socket of that type (`file_receive` of a pipe).
#[test]
fn deny_rules_select_by_pid_and_socket_type() {
    use afunix::security::{Deny, DenyRule, Hook};
    use afunix::SockType;
    let w = World::new();
    let (a, b) = (w.spawn(&TaskSpec::default()), w.spawn(&TaskSpec::default()));
    let w = World::with_security(Box::new(Deny(vec![
        DenyRule::new(Hook::SocketCreate).sock(SockType::Seqpacket),
        DenyRule::new(Hook::SocketSendmsg)
            .pid(b)
            .sock(SockType::Stream)
            .errno(Errno::EPERM),
        DenyRule::new(Hook::FileReceive)
            .pid(a)
            .sock(SockType::Dgram),
    ])));
    let (a2, b2) = (w.spawn(&TaskSpec::default()), w.spawn(&TaskSpec::default()));
    // Worlds number their pids alike: the rules name these two.
    assert_eq!((a2, b2), (a, b));
    // socket_create: only seqpacket, for everyone (SOCK_CLOEXEC ignored).
    use afunix::abi::consts::{SOCK_CLOEXEC, SOCK_SEQPACKET};
    let e = w.socket(a, SOCK_SEQPACKET | SOCK_CLOEXEC).unwrap_err();
    assert_eq!(e, Errno::EACCES);
    assert_eq!(e.rule.function(), Some("security_socket_create"));
    assert!(w.socket(a, SOCK_STREAM).is_ok());
    // socket_sendmsg: b's stream sends only.
    let [s0, _s1] = w.socketpair(b, SOCK_STREAM).unwrap();
    assert_eq!(w.write(b, s0, b"x").unwrap_err(), Errno::EPERM);
    let [d0, _d1] = w.socketpair(b, SOCK_DGRAM).unwrap();
    assert_eq!(w.write(b, d0, b"x"), Ok(1));
    let [t0, _t1] = w.socketpair(a, SOCK_STREAM).unwrap();
    assert_eq!(w.write(a, t0, b"x"), Ok(1));
    // file_receive: a may not receive a dgram socket; a stream socket or a
    // pipe (no socket at all) it may.
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let [dg, _] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let [st, _] = w.socketpair(a, SOCK_STREAM).unwrap();
    let [r, _] = w.pipe2(a, 0).unwrap();
    for (fd, received) in [(dg, 0), (st, 1), (r, 1)] {
        w.send_with_fds(a, x, b"f", &[fd]).unwrap();
        let m = w.recvmsg(a, y, 8, 64, MSG_DONTWAIT).unwrap();
        assert_eq!(m.rights().len(), received, "fd {fd:?}");
        assert_eq!(m.ctrunc(), received == 0);
        for got in m.rights() {
            w.close(a, got).unwrap();
        }
    }
    assert_eq!(w.check_invariants(), Ok(()));
}

/// An embedder's file is judged as what the embedder says it is
/// (`open_external_as`), and an exempt task is not judged at all: the
/// memfd-only sandbox of `afunix exec --deny 'file_receive,file=!memfd'`,
/// with a helper process of the embedder's that the rules do not see.
#[test]
fn external_files_are_judged_by_their_declared_type_and_exempt_tasks_pass() {
    use afunix::security::{Deny, DenyRule, Exempt, FileMatch, FileType, Hook};
    use std::sync::{Arc, OnceLock};
    let helper: Arc<OnceLock<Pid>> = Arc::default();
    let exempt = Arc::clone(&helper);
    let rules = Deny(vec![
        DenyRule::new(Hook::FileReceive).file(FileMatch::IsNot(FileType::Memfd))
    ]);
    let w = World::with_security(Box::new(Exempt::new(rules, move |t: &Task<'_>| {
        exempt.get() == Some(&t.pid)
    })));
    let h = w.spawn(&TaskSpec::default());
    helper.set(h).unwrap();
    let p = w.spawn(&TaskSpec::default());
    // ids 1, 2: a host memfd and a host pipe, as the embedder knows them;
    // id 3 an external file of no declared type.
    let memfd = w.open_external_as(p, 1, FileType::Memfd, false).unwrap();
    let pipe = w.open_external_as(p, 2, FileType::PipeRead, false).unwrap();
    let other = w.open_external(p, 3, false).unwrap();
    let [x, y] = w.socketpair(p, SOCK_DGRAM).unwrap();
    for (fd, received) in [(memfd, 1), (pipe, 0), (other, 0)] {
        w.send_with_fds(p, x, b"f", &[fd]).unwrap();
        let m = w.recvmsg(p, y, 8, 64, MSG_DONTWAIT).unwrap();
        assert_eq!(m.rights().len(), received, "fd {fd:?}");
        for got in m.rights() {
            assert_eq!(w.file_info(p, got).unwrap().file_type, FileType::External);
            w.close(p, got).unwrap();
        }
    }
    // The helper receives the pipe the rules refuse the program.
    let [hx, hy] = w.socketpair(h, SOCK_DGRAM).unwrap();
    let hp = w.open_external_as(h, 4, FileType::PipeRead, false).unwrap();
    w.send_with_fds(h, hx, b"f", &[hp]).unwrap();
    assert_eq!(
        w.recvmsg(h, hy, 8, 64, MSG_DONTWAIT)
            .unwrap()
            .rights()
            .len(),
        1
    );
    assert_eq!(w.check_invariants(), Ok(()));
}
