//! The host backend driven directly with calls, checked against what the
//! kernel does (the shared scenarios, recorded on this kernel).
//!
//! Every test holds `LOCK`: the backend forks, and forking while another
//! test thread holds a lock is risky; it also keeps the child counts of the
//! leftover test exact. The tests need root (as the project's CI has).

use afunix::backend::{Backend, Call, Out, Progress, RecvBuf, Reply, SendBuf, TaskSpec};
use afunix::Errno;
use afunix_host::HostBackend;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static LOCK: Mutex<()> = Mutex::new(());

const AF_UNIX: u8 = 1;
const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;
const SOCK_SEQPACKET: i32 = 5;
const SOL_SOCKET: i32 = 1;
const SO_PASSCRED: i32 = 16;
const SO_PEERCRED: i32 = 17;
const SO_PASSPIDFD: i32 = 76;
const SO_PEERPIDFD: i32 = 77;
const SCM_RIGHTS: i32 = 1;
const SCM_CREDENTIALS: i32 = 2;
const SCM_PIDFD: i32 = 4;
const MSG_DONTWAIT: i32 = 0x40;
const MSG_NOSIGNAL: i32 = 0x4000;
const SIOCINQ: u64 = 0x541b;
const T: Duration = Duration::from_secs(2);

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn root() -> TaskSpec {
    TaskSpec {
        uid: 0,
        gid: 0,
        groups: vec![0],
        nofile: 1024,
        ..TaskSpec::default()
    }
}

/// Start a call and wait for it (a foreground call).
fn call(b: &mut HostBackend, id: usize, c: Call) -> Reply {
    b.start(id, c).expect("start");
    match b.wait(id, T).expect("wait") {
        Progress::Done(r) => r,
        Progress::Blocked => panic!("call blocked"),
    }
}

fn ok(r: Reply) -> (i64, Out) {
    match r.ret {
        Ok(v) => (v, r.out),
        Err(e) => panic!("unexpected {e:?}"),
    }
}

fn errno(r: Reply) -> Errno {
    r.ret.expect_err("expected an error")
}

fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((16 + data.len()) as u64).to_ne_bytes());
    v.extend_from_slice(&level.to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(data);
    while v.len() % 8 != 0 {
        v.push(0);
    }
    v
}

fn ints(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|i| i.to_ne_bytes()).collect()
}

/// The (level, type, data) of each control message in a buffer.
fn parse_cmsgs(mut c: &[u8]) -> Vec<(i32, i32, Vec<u8>)> {
    let mut out = Vec::new();
    while c.len() >= 16 {
        let len = u64::from_ne_bytes(c[0..8].try_into().unwrap()) as usize;
        let level = i32::from_ne_bytes(c[8..12].try_into().unwrap());
        let ty = i32::from_ne_bytes(c[12..16].try_into().unwrap());
        let len = len.min(c.len());
        out.push((level, ty, c[16..len].to_vec()));
        let next = len.div_ceil(8) * 8;
        c = &c[next.min(c.len())..];
    }
    out
}

fn send(fd: i32, data: &[u8], control: Vec<u8>, flags: i32) -> Call {
    Call::Sendmsg {
        fd,
        name: None,
        iov: vec![SendBuf::Bytes(data.to_vec())],
        control,
        flags,
    }
}

fn recv(fd: i32, flags: i32) -> Call {
    Call::Recvmsg {
        fd,
        iov: vec![RecvBuf::Len(1024)],
        namelen: 128,
        control: RecvBuf::Len(2048),
        flags,
    }
}

fn abstract_addr(name: &str) -> Vec<u8> {
    let mut v = vec![AF_UNIX, 0, 0];
    v.extend_from_slice(name.as_bytes());
    v
}

/// 01_dgram_rights_memfd.scn
#[test]
fn rights_over_dgram_share_the_offset() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(
        ok(call(&mut b, 0, Call::Socketpair { ty: SOCK_DGRAM, protocol: 0 })),
        (0, Out::Pair([3, 4]))
    );
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Memfd {
                content: b"hello world".to_vec()
            }
        ))
        .0,
        5
    );
    let ctl = cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[5]));
    assert_eq!(ok(call(&mut b, 0, send(3, b"fd", ctl, 0))).0, 2);
    let (n, out) = ok(call(&mut b, 0, recv(4, 0)));
    assert_eq!(n, 2);
    let Out::Msg {
        data,
        name,
        namelen,
        control,
        controllen,
        flags,
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(data, b"fd");
    assert_eq!(name, Vec::<u8>::new(), "unnamed socketpair peer: namelen 0");
    assert_eq!(namelen, 0);
    assert_eq!(controllen, control.len());
    assert_eq!(flags, 0);
    let c = parse_cmsgs(&control);
    assert_eq!(c, vec![(SOL_SOCKET, SCM_RIGHTS, ints(&[6]))]);
    assert_eq!(
        ok(call(&mut b, 0, Call::Read { fd: 6, len: 5 })),
        (5, Out::Data(b"hello".to_vec()))
    );
    assert_eq!(
        ok(call(&mut b, 0, Call::Read { fd: 5, len: 6 })),
        (6, Out::Data(b" world".to_vec()))
    );
    assert_eq!(
        ok(call(&mut b, 0, Call::Read { fd: 6, len: 10 })),
        (0, Out::Data(vec![]))
    );
    // Malformed control bytes reach the kernel as written.
    let mut bad = cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[5]));
    bad[0] = 200; // cmsg_len beyond the buffer
    assert_eq!(errno(call(&mut b, 0, send(3, b"x", bad, 0))), Errno::EINVAL);
}

/// 14_stream_epipe.scn
#[test]
fn stream_epipe_raises_sigpipe() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(
        ok(call(&mut b, 0, Call::Socketpair { ty: SOCK_STREAM, protocol: 0 })),
        (0, Out::Pair([3, 4]))
    );
    assert_eq!(ok(call(&mut b, 0, Call::Close { fd: 4 })).0, 0);
    let r = call(&mut b, 0, send(3, b"x", vec![], 0));
    assert!(r.sigpipe);
    assert_eq!(errno(r), Errno::EPIPE);
    let r = call(&mut b, 0, send(3, b"x", vec![], MSG_NOSIGNAL));
    assert!(!r.sigpipe);
    assert_eq!(errno(r), Errno::EPIPE);
    let (n, out) = ok(call(&mut b, 0, recv(3, MSG_DONTWAIT)));
    assert_eq!(n, 0);
    assert_eq!(
        out,
        Out::Msg {
            data: vec![],
            name: vec![],
            namelen: 0,
            control: vec![],
            controllen: 0,
            flags: 0
        }
    );
}

/// 20_pidfd.scn, plus pidof on fds that are not pidfds.
#[test]
fn pidfd_names_the_sender_until_it_exits() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(
        ok(call(&mut b, 0, Call::Socketpair { ty: SOCK_SEQPACKET, protocol: 0 })),
        (0, Out::Pair([3, 4]))
    );
    let one = ints(&[1]);
    let r = call(
        &mut b,
        0,
        Call::Setsockopt {
            fd: 4,
            level: SOL_SOCKET,
            name: SO_PASSPIDFD,
            value: one,
        },
    );
    assert_eq!(ok(r).0, 0);
    b.fork(0, 1).unwrap();
    let (pa, pw) = (b.pid(0), b.pid(1));
    assert!(pa > 0 && pw > 0 && pa != pw);
    assert_eq!(ok(call(&mut b, 1, send(3, b"from W", vec![], 0))).0, 6);
    let (n, out) = ok(call(&mut b, 0, recv(4, 0)));
    assert_eq!(n, 6);
    let Out::Msg {
        data,
        control,
        flags,
        ..
    } = out
    else {
        panic!()
    };
    assert_eq!((data.as_slice(), flags), (&b"from W"[..], 0));
    assert_eq!(
        parse_cmsgs(&control),
        vec![(SOL_SOCKET, SCM_PIDFD, ints(&[5]))]
    );
    assert_eq!(
        ok(call(&mut b, 0, Call::Pidof { fd: 5 })),
        (0, Out::Pid(pw))
    );
    assert_eq!(ok(call(&mut b, 0, Call::GetFd { fd: 5 })).0, 1);
    let r = call(
        &mut b,
        0,
        Call::Getsockopt {
            fd: 3,
            level: SOL_SOCKET,
            name: SO_PEERPIDFD,
            optlen: 4,
        },
    );
    assert_eq!(ok(r), (0, Out::Optval { optlen: 4, value: ints(&[6]) }));
    assert_eq!(
        ok(call(&mut b, 0, Call::Pidof { fd: 6 })),
        (0, Out::Pid(pa))
    );
    assert_eq!(ok(call(&mut b, 1, Call::Exit)).0, 0);
    assert_eq!(
        ok(call(&mut b, 0, Call::Pidof { fd: 5 })),
        (0, Out::Pid(-1))
    );
    assert_eq!(b.pid(1), pw, "pid stays valid after exit");
    assert_eq!(errno(call(&mut b, 0, Call::Pidof { fd: 3 })), Errno::EINVAL);
    assert_eq!(errno(call(&mut b, 0, Call::Pidof { fd: 77 })), Errno::EBADF);
    assert_eq!(errno(call(&mut b, 0, Call::Pidof { fd: -1 })), Errno::EBADF);
    assert!(
        b.start(1, Call::GetFd { fd: 0 }).is_err(),
        "an exited process makes no call"
    );
}

/// 15_gc_self_cycle.scn: stat counts only the run's sockets; gc frees the cycle.
#[test]
fn gc_frees_a_self_cycle() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(b.stat().unwrap(), 0, "channels are not in the run's netns");
    assert_eq!(
        ok(call(&mut b, 0, Call::Socketpair { ty: SOCK_DGRAM, protocol: 0 })),
        (0, Out::Pair([3, 4]))
    );
    assert_eq!(ok(call(&mut b, 0, Call::Socket { ty: SOCK_DGRAM, protocol: 0 })).0, 5);
    assert_eq!(b.stat().unwrap(), 3);
    let ctl = cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[3, 3]));
    assert_eq!(ok(call(&mut b, 0, send(4, b"x", ctl, 0))).0, 1);
    assert_eq!(ok(call(&mut b, 0, Call::Close { fd: 3 })).0, 0);
    assert_eq!(ok(call(&mut b, 0, Call::Close { fd: 4 })).0, 0);
    b.gc().unwrap();
    assert_eq!(b.stat().unwrap(), 1);
}

/// A blocked recvmsg stays pending until another process sends.
#[test]
fn blocked_recvmsg_completes_after_a_send() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(
        ok(call(&mut b, 0, Call::Socketpair { ty: SOCK_DGRAM, protocol: 0 })),
        (0, Out::Pair([3, 4]))
    );
    b.fork(0, 1).unwrap();
    b.start(1, recv(4, 0)).unwrap();
    assert_eq!(
        b.wait(1, Duration::from_millis(50)).unwrap(),
        Progress::Blocked
    );
    assert_eq!(
        b.wait(1, Duration::from_millis(10)).unwrap(),
        Progress::Blocked
    );
    assert!(
        b.start(1, Call::GetFd { fd: 3 }).is_err(),
        "a call is pending"
    );
    assert_eq!(ok(call(&mut b, 0, send(3, b"wake", vec![], 0))).0, 4);
    let Progress::Done(r) = b.wait(1, T).unwrap() else {
        panic!("still blocked")
    };
    let (n, out) = ok(r);
    assert_eq!(n, 4);
    assert!(matches!(out, Out::Msg { ref data, .. } if data == b"wake"));
    assert!(b.wait(1, T).is_err(), "nothing pending any more");
}

/// Credentials: the helper really runs as uid 1001 without capabilities.
#[test]
fn uid_switching_shows_in_peercred_and_scm_credentials() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        uid: 1001,
        gid: 1001,
        groups: vec![1001, 5],
        nofile: 1024,
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    let pid = b.pid(0);
    assert_eq!(
        ok(call(&mut b, 0, Call::Socketpair { ty: SOCK_DGRAM, protocol: 0 })),
        (0, Out::Pair([3, 4]))
    );
    let r = call(
        &mut b,
        0,
        Call::Getsockopt {
            fd: 3,
            level: SOL_SOCKET,
            name: SO_PEERCRED,
            optlen: 12,
        },
    );
    assert_eq!(ok(r), (0, Out::Optval { optlen: 12, value: ints(&[pid, 1001, 1001]) }));
    let r = call(
        &mut b,
        0,
        Call::Setsockopt {
            fd: 4,
            level: SOL_SOCKET,
            name: SO_PASSCRED,
            value: ints(&[1]),
        },
    );
    assert_eq!(ok(r).0, 0);
    assert_eq!(ok(call(&mut b, 0, send(3, b"x", vec![], 0))).0, 1);
    let (_, out) = ok(call(&mut b, 0, recv(4, 0)));
    let Out::Msg { control, .. } = out else {
        panic!()
    };
    assert_eq!(
        parse_cmsgs(&control),
        vec![(SOL_SOCKET, SCM_CREDENTIALS, ints(&[pid, 1001, 1001]))]
    );
    // No capabilities: claiming uid 0 is EPERM (scm_check_creds).
    let ctl = cmsg(SOL_SOCKET, SCM_CREDENTIALS, &ints(&[pid, 0, 0]));
    assert_eq!(errno(call(&mut b, 0, send(3, b"x", ctl, 0))), Errno::EPERM);
    // A fork keeps the credentials.
    b.fork(0, 1).unwrap();
    let r = call(
        &mut b,
        1,
        Call::Getsockopt {
            fd: 4,
            level: SOL_SOCKET,
            name: SO_PEERCRED,
            optlen: 12,
        },
    );
    assert_eq!(ok(r), (0, Out::Optval { optlen: 12, value: ints(&[pid, 1001, 1001]) }));
    let ctl = cmsg(SOL_SOCKET, SCM_CREDENTIALS, &ints(&[b.pid(1), 1001, 1001]));
    assert_eq!(ok(call(&mut b, 1, send(3, b"y", ctl, 0))).0, 1);
}

/// nofile=5: fds 3 and 4 fit, the next is EMFILE; fork works at the limit
/// and gives the child a copy of the table.
#[test]
fn fd_numbers_and_fork_at_a_small_limit() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        nofile: 5,
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    assert_eq!(ok(call(&mut b, 0, Call::Socket { ty: SOCK_DGRAM, protocol: 0 })).0, 3);
    assert_eq!(ok(call(&mut b, 0, Call::Socket { ty: SOCK_STREAM, protocol: 0 })).0, 4);
    assert_eq!(
        errno(call(&mut b, 0, Call::Socket { ty: SOCK_DGRAM, protocol: 0 })),
        Errno::EMFILE
    );
    assert_eq!(errno(call(&mut b, 0, Call::Dup { fd: 0 })), Errno::EMFILE);
    b.fork(0, 1).unwrap();
    // Both still at their limit, fds 0-4 intact in both.
    for id in [0, 1] {
        assert_eq!(errno(call(&mut b, id, Call::Dup { fd: 3 })), Errno::EMFILE);
        for fd in 0..5 {
            assert_eq!(
                ok(call(&mut b, id, Call::GetFd { fd })).0,
                0,
                "fd {fd} of {id}"
            );
        }
        assert_eq!(errno(call(&mut b, id, Call::GetFd { fd: 5 })), Errno::EBADF);
    }
    assert_eq!(ok(call(&mut b, 1, Call::Close { fd: 3 })).0, 0);
    assert_eq!(
        errno(call(&mut b, 1, Call::Pipe { flags: 0 })),
        Errno::EMFILE
    );
    assert_eq!(
        ok(call(&mut b, 1, Call::Socket { ty: SOCK_SEQPACKET, protocol: 0 })).0,
        3
    );
    // The child's table is its own: the parent's fd 3 is still open.
    assert_eq!(ok(call(&mut b, 0, Call::GetFd { fd: 3 })).0, 0);
    // Fork again from the child, at its limit again.
    b.fork(1, 2).unwrap();
    assert_eq!(
        errno(call(&mut b, 2, Call::Socket { ty: SOCK_DGRAM, protocol: 0 })),
        Errno::EMFILE
    );
}

/// Abstract names and the qlen sysctl are private to the run.
#[test]
fn private_namespace_and_qlen() {
    let _g = lock();
    let mut b1 = HostBackend::new().unwrap();
    let mut b2 = HostBackend::new().unwrap();
    b1.set_max_dgram_qlen(0, 2).unwrap().unwrap();
    for b in [&mut b1, &mut b2] {
        b.task(0, &TaskSpec::default()).unwrap();
        assert_eq!(ok(call(b, 0, Call::Socket { ty: SOCK_DGRAM, protocol: 0 })).0, 3);
        // The same abstract name binds in both runs.
        assert_eq!(
            ok(call(
                b,
                0,
                Call::Bind {
                    fd: 3,
                    addr: abstract_addr("q")
                }
            ))
            .0,
            0
        );
        assert_eq!(ok(call(b, 0, Call::Socket { ty: SOCK_DGRAM, protocol: 0 })).0, 4);
    }
    let to = |d: &[u8], flags| Call::Sendmsg {
        fd: 4,
        name: Some(SendBuf::Bytes(abstract_addr("q"))),
        iov: vec![SendBuf::Bytes(d.to_vec())],
        control: vec![],
        flags,
    };
    // 11_dgram_qlen_eagain.scn in b1; b2 keeps the default (512).
    for d in [b"1", b"2", b"3"] {
        assert_eq!(ok(call(&mut b1, 0, to(d, MSG_DONTWAIT))).0, 1);
        assert_eq!(ok(call(&mut b2, 0, to(d, MSG_DONTWAIT))).0, 1);
    }
    assert_eq!(
        errno(call(&mut b1, 0, to(b"4", MSG_DONTWAIT))),
        Errno::EAGAIN
    );
    assert_eq!(ok(call(&mut b2, 0, to(b"4", MSG_DONTWAIT))).0, 1);
    assert_eq!(
        ok(call(
            &mut b1,
            0,
            Call::Ioctl {
                fd: 3,
                req: SIOCINQ
            }
        )),
        (0, Out::Int(1))
    );
    let dir = b1.dir().to_path_buf();
    assert!(dir.is_dir());
    drop(b1);
    assert!(!dir.exists(), "the run's directory is removed on drop");
}

/// Pathname sockets land in the run's directory, with umask 022.
#[test]
fn pathname_bind_in_the_run_directory() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    assert_eq!(ok(call(&mut b, 0, Call::Socket { ty: SOCK_STREAM, protocol: 0 })).0, 3);
    let mut addr = vec![AF_UNIX, 0];
    addr.extend_from_slice(b"sock\0");
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Bind {
                fd: 3,
                addr: addr.clone()
            }
        ))
        .0,
        0
    );
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(b.dir().join("sock")).unwrap();
    assert_eq!(md.mode() & 0o777, 0o755);
    assert_eq!((md.uid(), md.gid()), (1000, 1000));
    assert_eq!(
        ok(call(&mut b, 0, Call::Getsockname { fd: 3, len: 128 })),
        (
            0,
            Out::Addr {
                len: addr.len() as i32,
                addr
            }
        )
    );
}

fn children_of_me() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|s| {
            let rest = &s[s.rfind(')').map_or(0, |i| i + 1)..];
            rest.split_whitespace().nth(1) == Some(me.as_str())
        })
        .count()
}

/// No helper outlives its backend: after drop, after a panic, after exit.
#[test]
fn no_leftover_children() {
    let _g = lock();
    let base = children_of_me();
    {
        let mut b = HostBackend::new().unwrap();
        b.task(0, &root()).unwrap();
        b.task(1, &TaskSpec::default()).unwrap();
        b.fork(1, 2).unwrap();
        b.fork(2, 3).unwrap();
        assert_eq!(
            children_of_me(),
            base + 5,
            "keeper + 4 helpers, all our children"
        );
        // Exit of a parent whose child lives on: the child is unaffected.
        assert_eq!(ok(call(&mut b, 2, Call::Exit)).0, 0);
        assert_eq!(children_of_me(), base + 4, "exit reaps at once");
        assert_eq!(ok(call(&mut b, 3, Call::Socket { ty: SOCK_DGRAM, protocol: 0 })).0, 3);
        // A blocked call at drop time.
        assert_eq!(
            ok(call(&mut b, 3, Call::Socketpair { ty: SOCK_DGRAM, protocol: 0 })),
            (0, Out::Pair([4, 5]))
        );
        b.start(3, recv(5, 0)).unwrap();
    }
    assert_eq!(children_of_me(), base, "after drop");
    let r = std::panic::catch_unwind(|| {
        let mut b = HostBackend::new().unwrap();
        b.task(0, &root()).unwrap();
        b.fork(0, 1).unwrap();
        panic!("boom");
    });
    assert!(r.is_err());
    assert_eq!(children_of_me(), base, "after a panic");
}

/// Helpers die with the process that holds the backend even when it dies
/// without running any destructor (as on Ctrl-C or SIGKILL): the test
/// re-runs itself in a child process that sets up a run and aborts.
#[test]
fn helpers_die_with_the_backend_process() {
    if std::env::var_os("AFUNIX_HOST_ABORT_CHILD").is_some() {
        let mut b = HostBackend::new().unwrap();
        b.task(0, &root()).unwrap();
        b.task(1, &TaskSpec::default()).unwrap();
        b.fork(1, 2).unwrap();
        b.fork(2, 3).unwrap();
        b.start(3, Call::Socketpair { ty: SOCK_DGRAM, protocol: 0 }).unwrap();
        let _ = b.wait(3, T).unwrap();
        b.start(3, recv(4, 0)).unwrap();
        let me = std::process::id().to_string();
        let kids: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                let s = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                let rest = &s[s.rfind(')').map_or(0, |i| i + 1)..];
                rest.split_whitespace().nth(1) == Some(me.as_str())
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        println!("DIR {}", b.dir().display());
        println!("HELPERS {}", kids.join(" "));
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::process::abort();
    }
    let _g = lock();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helpers_die_with_the_backend_process",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("AFUNIX_HOST_ABORT_CHILD", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("HELPERS ").map(|(_, rest)| rest))
        .expect("helper list");
    let pids: Vec<i32> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 5, "keeper + 4 helpers: {line}");
    // An aborted process cannot remove its directory: do it for it.
    if let Some(dir) = stdout
        .lines()
        .find_map(|l| l.split_once("DIR ").map(|(_, d)| d))
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    let gone = |pid: i32| match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => {
            s[s.rfind(')').map_or(0, |i| i + 1)..]
                .split_whitespace()
                .next()
                == Some("Z")
        }
    };
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while !pids.iter().all(|p| gone(*p)) && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    for p in pids {
        assert!(gone(p), "helper {p} outlived its backend process");
    }
}

/// A blocked accept completes once another process connects; meanwhile
/// the other processes go on, and calls are fast.
#[test]
fn blocked_accept_and_call_latency() {
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    b.task(1, &TaskSpec::default()).unwrap();
    assert_eq!(ok(call(&mut b, 0, Call::Socket { ty: SOCK_STREAM, protocol: 0 })).0, 3);
    let addr = abstract_addr("srv");
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Bind {
                fd: 3,
                addr: addr.clone()
            }
        ))
        .0,
        0
    );
    assert_eq!(ok(call(&mut b, 0, Call::Listen { fd: 3, backlog: 1 })).0, 0);
    b.start(0, Call::Accept { fd: 3, flags: 0 }).unwrap();
    assert_eq!(
        b.wait(0, Duration::from_millis(20)).unwrap(),
        Progress::Blocked
    );
    let t0 = std::time::Instant::now();
    for _ in 0..200 {
        assert_eq!(ok(call(&mut b, 1, Call::GetFd { fd: 0 })).0, 0);
    }
    let per_call = t0.elapsed() / 200;
    eprintln!("host backend: {per_call:?} per call");
    assert!(
        per_call < Duration::from_millis(20),
        "{per_call:?} per call"
    );
    assert_eq!(ok(call(&mut b, 1, Call::Socket { ty: SOCK_STREAM, protocol: 0 })).0, 3);
    assert_eq!(
        ok(call(
            &mut b,
            1,
            Call::Connect {
                fd: 3,
                addr: addr.clone()
            }
        ))
        .0,
        0
    );
    let Progress::Done(r) = b.wait(0, T).unwrap() else {
        panic!("accept still blocked")
    };
    assert_eq!(ok(r).0, 4);
    let r = call(&mut b, 0, Call::Getpeername { fd: 4, len: 128 });
    assert_eq!(
        ok(r),
        (
            0,
            Out::Addr {
                addr: vec![AF_UNIX, 0],
                len: 2
            }
        )
    );
}
