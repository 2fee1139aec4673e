//! The host backend driven directly with calls, checked against what the
//! kernel does (the shared scenarios, recorded on this kernel).
//!
//! Every test holds `LOCK`: the backend forks, and forking while another
//! test thread holds a lock is risky; it also keeps the child counts of the
//! leftover test exact. The tests need root (as the project's CI has).

mod common;
use afunix::Errno;
use afunix_backend::backend::{
    Backend, Call, Out, Progress, RecvBuf, Reply, SendBuf, SockOpt, TaskSpec,
};
use afunix_host::HostBackend;
use common::{call, cmsg, errno, ints, ok, root, T};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

static LOCK: Mutex<()> = Mutex::new(());

/// The backend switches uids and makes namespaces: without root a test
/// says so in one line and passes (the README says what root adds).
macro_rules! needs_root {
    () => {
        // The effective uid, from /proc (field 3 of `Uid:`).
        let euid = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
            });
        if euid.as_deref() != Some("0") {
            eprintln!("skipped: needs root (the host backend switches uids)");
            return;
        }
    };
}

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

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
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
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socketpair {
                ty: SOCK_DGRAM,
                protocol: 0
            }
        )),
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
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socketpair {
                ty: SOCK_STREAM,
                protocol: 0
            }
        )),
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
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socketpair {
                ty: SOCK_SEQPACKET,
                protocol: 0
            }
        )),
        (0, Out::Pair([3, 4]))
    );
    let one = ints(&[1]);
    let r = call(
        &mut b,
        0,
        Call::Setsockopt {
            fd: 4,
            opt: SockOpt {
                level: SOL_SOCKET,
                name: SO_PASSPIDFD,
            },
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
            opt: SockOpt {
                level: SOL_SOCKET,
                name: SO_PEERPIDFD,
            },
            optlen: 4,
        },
    );
    assert_eq!(
        ok(r),
        (
            0,
            Out::Optval {
                optlen: 4,
                value: ints(&[6])
            }
        )
    );
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
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(b.stat().unwrap(), 0, "channels are not in the run's netns");
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socketpair {
                ty: SOCK_DGRAM,
                protocol: 0
            }
        )),
        (0, Out::Pair([3, 4]))
    );
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socket {
                ty: SOCK_DGRAM,
                protocol: 0
            }
        ))
        .0,
        5
    );
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
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socketpair {
                ty: SOCK_DGRAM,
                protocol: 0
            }
        )),
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
    needs_root!();
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
    // As root the run's uid 1001 is a fresh kernel uid of its own.
    let kuid = b.make_kuid(1001);
    assert_ne!(kuid, 1001);
    assert_eq!(b.from_kuid(kuid), 1001);
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socketpair {
                ty: SOCK_DGRAM,
                protocol: 0
            }
        )),
        (0, Out::Pair([3, 4]))
    );
    let r = call(
        &mut b,
        0,
        Call::Getsockopt {
            fd: 3,
            opt: SockOpt {
                level: SOL_SOCKET,
                name: SO_PEERCRED,
            },
            optlen: 12,
        },
    );
    assert_eq!(
        ok(r),
        (
            0,
            Out::Optval {
                optlen: 12,
                value: ints(&[pid, kuid as i32, 1001])
            }
        )
    );
    let r = call(
        &mut b,
        0,
        Call::Setsockopt {
            fd: 4,
            opt: SockOpt {
                level: SOL_SOCKET,
                name: SO_PASSCRED,
            },
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
        vec![(SOL_SOCKET, SCM_CREDENTIALS, ints(&[pid, kuid as i32, 1001]))]
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
            opt: SockOpt {
                level: SOL_SOCKET,
                name: SO_PEERCRED,
            },
            optlen: 12,
        },
    );
    assert_eq!(
        ok(r),
        (
            0,
            Out::Optval {
                optlen: 12,
                value: ints(&[pid, kuid as i32, 1001])
            }
        )
    );
    let ctl = cmsg(
        SOL_SOCKET,
        SCM_CREDENTIALS,
        &ints(&[b.pid(1), kuid as i32, 1001]),
    );
    assert_eq!(ok(call(&mut b, 1, send(3, b"y", ctl, 0))).0, 1);
}

/// nofile=5: fds 3 and 4 fit, the next is EMFILE; fork works at the limit
/// and gives the child a copy of the table.
#[test]
fn fd_numbers_and_fork_at_a_small_limit() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        nofile: 5,
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socket {
                ty: SOCK_DGRAM,
                protocol: 0
            }
        ))
        .0,
        3
    );
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socket {
                ty: SOCK_STREAM,
                protocol: 0
            }
        ))
        .0,
        4
    );
    assert_eq!(
        errno(call(
            &mut b,
            0,
            Call::Socket {
                ty: SOCK_DGRAM,
                protocol: 0
            }
        )),
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
        ok(call(
            &mut b,
            1,
            Call::Socket {
                ty: SOCK_SEQPACKET,
                protocol: 0
            }
        ))
        .0,
        3
    );
    // The child's table is its own: the parent's fd 3 is still open.
    assert_eq!(ok(call(&mut b, 0, Call::GetFd { fd: 3 })).0, 0);
    // Fork again from the child, at its limit again.
    b.fork(1, 2).unwrap();
    assert_eq!(
        errno(call(
            &mut b,
            2,
            Call::Socket {
                ty: SOCK_DGRAM,
                protocol: 0
            }
        )),
        Errno::EMFILE
    );
}

/// Abstract names and the qlen sysctl are private to the run.
#[test]
fn private_namespace_and_qlen() {
    needs_root!();
    let _g = lock();
    let mut b1 = HostBackend::new().unwrap();
    let mut b2 = HostBackend::new().unwrap();
    b1.set_max_dgram_qlen(0, 2).unwrap().unwrap();
    for b in [&mut b1, &mut b2] {
        b.task(0, &TaskSpec::default()).unwrap();
        assert_eq!(
            ok(call(
                b,
                0,
                Call::Socket {
                    ty: SOCK_DGRAM,
                    protocol: 0
                }
            ))
            .0,
            3
        );
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
        assert_eq!(
            ok(call(
                b,
                0,
                Call::Socket {
                    ty: SOCK_DGRAM,
                    protocol: 0
                }
            ))
            .0,
            4
        );
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
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socket {
                ty: SOCK_STREAM,
                protocol: 0
            }
        ))
        .0,
        3
    );
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
    assert_eq!((md.uid(), md.gid()), (b.make_kuid(1000), 1000));
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
    needs_root!();
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
            base + 6,
            "janitor + keeper + 4 helpers, all our children"
        );
        // Exit of a parent whose child lives on: the child is unaffected.
        assert_eq!(ok(call(&mut b, 2, Call::Exit)).0, 0);
        assert_eq!(children_of_me(), base + 5, "exit reaps at once");
        assert_eq!(
            ok(call(
                &mut b,
                3,
                Call::Socket {
                    ty: SOCK_DGRAM,
                    protocol: 0
                }
            ))
            .0,
            3
        );
        // A blocked call at drop time.
        assert_eq!(
            ok(call(
                &mut b,
                3,
                Call::Socketpair {
                    ty: SOCK_DGRAM,
                    protocol: 0
                }
            )),
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
    needs_root!();
    if std::env::var_os("AFUNIX_HOST_ABORT_CHILD").is_some() {
        let mut b = HostBackend::new().unwrap();
        b.task(0, &root()).unwrap();
        b.task(1, &TaskSpec::default()).unwrap();
        b.fork(1, 2).unwrap();
        b.fork(2, 3).unwrap();
        b.start(
            3,
            Call::Socketpair {
                ty: SOCK_DGRAM,
                protocol: 0,
            },
        )
        .unwrap();
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
    assert_eq!(pids.len(), 6, "janitor + keeper + 4 helpers: {line}");
    let dir = stdout
        .lines()
        .find_map(|l| l.split_once("DIR ").map(|(_, d)| d.to_string()))
        .expect("dir line");
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
    // The aborted process ran no destructor: its janitor removed the dir.
    assert!(
        !std::path::Path::new(&dir).exists(),
        "{dir} outlived its backend process"
    );
}

/// A blocked accept completes once another process connects; meanwhile
/// the other processes go on, and calls are fast.
#[test]
fn blocked_accept_and_call_latency() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    b.task(1, &TaskSpec::default()).unwrap();
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Socket {
                ty: SOCK_STREAM,
                protocol: 0
            }
        ))
        .0,
        3
    );
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
    assert_eq!(
        ok(call(
            &mut b,
            1,
            Call::Socket {
                ty: SOCK_STREAM,
                protocol: 0
            }
        ))
        .0,
        3
    );
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

// ---- Version 2 calls ----

const MSG_OOB: i32 = 1;
const MSG_CTRUNC: i32 = 8;
const MSG_TRUNC: i32 = 0x20;
const MSG_CMSG_CLOEXEC: i32 = 0x4000_0000;
const SO_TYPE: i32 = 3;
const SO_PEERGROUPS: i32 = 59;
const POLLIN: i16 = 1;
const POLLNVAL: i16 = 0x20;
const O_RDWR: i32 = 2;
const O_CREAT: i32 = 0o100;
const EFAULT: Errno = Errno::from_raw(14);

fn path_addr(p: &str) -> Vec<u8> {
    let mut v = vec![AF_UNIX, 0];
    v.extend_from_slice(p.as_bytes());
    v.push(0);
    v
}

fn bind(b: &mut HostBackend, id: usize, fd: i32, addr: Vec<u8>) {
    assert_eq!(ok(call(b, id, Call::Bind { fd, addr })).0, 0);
}

fn sendto(fd: i32, to: &[u8], iov: Vec<SendBuf>) -> Call {
    Call::Sendmsg {
        fd,
        name: Some(SendBuf::Bytes(to.to_vec())),
        iov,
        control: vec![],
        flags: 0,
    }
}

fn recv_with(fd: i32, iov: Vec<RecvBuf>, namelen: u32, control: RecvBuf, flags: i32) -> Call {
    Call::Recvmsg {
        fd,
        iov,
        namelen,
        control,
        flags,
    }
}

fn msg(out: Out) -> (Vec<u8>, Vec<u8>, u32, Vec<u8>, usize, i32) {
    match out {
        Out::Msg {
            data,
            name,
            namelen,
            control,
            controllen,
            flags,
        } => (data, name, namelen, control, controllen, flags),
        o => panic!("not a message: {o:?}"),
    }
}

fn pair(b: &mut HostBackend, id: usize, ty: i32) -> [i32; 2] {
    match ok(call(b, id, Call::Socketpair { ty, protocol: 0 })) {
        (0, Out::Pair(p)) => p,
        o => panic!("{o:?}"),
    }
}

/// 27_recvmsg_iov_namelen.scn, plus several send iovecs and NULL bases.
#[test]
fn recvmsg_scatters_over_iovecs_and_returns_the_full_namelen() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    let sock = |b: &mut HostBackend| {
        ok(call(
            b,
            0,
            Call::Socket {
                ty: SOCK_DGRAM,
                protocol: 0,
            },
        ))
        .0 as i32
    };
    let srv = sock(&mut b);
    bind(&mut b, 0, srv, path_addr("srv.sock"));
    let cli = sock(&mut b);
    bind(&mut b, 0, cli, path_addr("client.sock"));
    let to = path_addr("srv.sock");
    let d = |s: &[u8]| SendBuf::Bytes(s.to_vec());
    let r = call(
        &mut b,
        0,
        sendto(cli, &to, vec![d(b"abc"), d(b""), d(b"de")]),
    );
    assert_eq!(ok(r).0, 5);
    let iov = vec![RecvBuf::Len(2), RecvBuf::Len(2), RecvBuf::Len(8)];
    let (n, out) = ok(call(
        &mut b,
        0,
        recv_with(srv, iov, 128, RecvBuf::Len(0), 0),
    ));
    let (data, name, namelen, _, controllen, flags) = msg(out);
    assert_eq!((n, data.as_slice()), (5, &b"abcde"[..]));
    assert_eq!(name, path_addr("client.sock"));
    assert_eq!((namelen, controllen, flags), (14, 0, 0));

    let r = call(&mut b, 0, sendto(cli, &to, vec![d(b"abcdefgh")]));
    assert_eq!(ok(r).0, 8);
    let iov = vec![RecvBuf::Len(3), RecvBuf::Len(3)];
    let (n, out) = ok(call(&mut b, 0, recv_with(srv, iov, 5, RecvBuf::Len(0), 0)));
    let (data, name, namelen, _, _, flags) = msg(out);
    assert_eq!((n, data.as_slice()), (6, &b"abcdef"[..]));
    assert_eq!(name, path_addr("client.sock")[..5].to_vec());
    assert_eq!((namelen, flags), (14, MSG_TRUNC));

    // namelen 0: nothing copied, the full length still returned.
    assert_eq!(ok(call(&mut b, 0, sendto(cli, &to, vec![d(b"xy")]))).0, 2);
    let iov = vec![RecvBuf::Len(1), RecvBuf::Len(1)];
    let (_, out) = ok(call(&mut b, 0, recv_with(srv, iov, 0, RecvBuf::Len(0), 0)));
    let (data, name, namelen, ..) = msg(out);
    assert_eq!((data.as_slice(), name.len(), namelen), (&b"xy"[..], 0, 14));

    // A NULL send base with a length faults; msg_name NULL with a length
    // is no name at all (a connected pair needs none).
    let r = call(&mut b, 0, sendto(cli, &to, vec![SendBuf::Null(3)]));
    assert_eq!(errno(r), EFAULT);
    let [a, c] = pair(&mut b, 0, SOCK_DGRAM);
    let r = call(
        &mut b,
        0,
        Call::Sendmsg {
            fd: a,
            name: Some(SendBuf::Null(16)),
            iov: vec![d(b"q")],
            control: vec![],
            flags: 0,
        },
    );
    assert_eq!(ok(r).0, 1);
    // No iovec at all: a zero-length datagram is received, truncated.
    let (n, out) = ok(call(
        &mut b,
        0,
        recv_with(c, vec![], 128, RecvBuf::Len(0), 0),
    ));
    let (data, _, namelen, _, _, flags) = msg(out);
    assert_eq!((n, data.len(), namelen, flags), (0, 0, 0, MSG_TRUNC));
}

/// 28_controllen_ctrunc.scn: msg_controllen is value-result.
#[test]
fn controllen_comes_back_as_written() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    let [a, c] = pair(&mut b, 0, SOCK_DGRAM);
    let m = ok(call(
        &mut b,
        0,
        Call::Memfd {
            content: b"m".to_vec(),
        },
    ))
    .0 as i32;
    let rights = cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[m, m, m]));
    let one = vec![RecvBuf::Len(16)];
    assert_eq!(ok(call(&mut b, 0, send(a, b"1", rights.clone(), 0))).0, 1);
    let (_, out) = ok(call(
        &mut b,
        0,
        recv_with(c, one.clone(), 128, RecvBuf::Len(32), 0),
    ));
    let (_, _, _, control, controllen, flags) = msg(out);
    assert_eq!((controllen, flags), (32, 0));
    assert_eq!(
        parse_cmsgs(&control),
        vec![(SOL_SOCKET, SCM_RIGHTS, ints(&[6, 7, 8]))]
    );
    assert_eq!(ok(call(&mut b, 0, send(a, b"2", rights.clone(), 0))).0, 1);
    let (_, out) = ok(call(
        &mut b,
        0,
        recv_with(c, one.clone(), 128, RecvBuf::Len(24), 0),
    ));
    let (_, _, _, control, controllen, flags) = msg(out);
    assert_eq!((controllen, flags, control.len()), (24, MSG_CTRUNC, 24));
    assert_eq!(&control[16..24], &ints(&[9, 10])[..]);
    assert_eq!(ok(call(&mut b, 0, send(a, b"3", rights, 0))).0, 1);
    let (_, out) = ok(call(
        &mut b,
        0,
        recv_with(c, one, 128, RecvBuf::Null(64), 0),
    ));
    let (data, _, _, control, controllen, flags) = msg(out);
    assert_eq!(
        (data.as_slice(), control.len(), controllen, flags),
        (&b"3"[..], 0, 0, MSG_CTRUNC)
    );
    // The fds of the NULL-control message were dropped: 11 is free.
    let r = call(
        &mut b,
        0,
        Call::Memfd {
            content: b"n".to_vec(),
        },
    );
    assert_eq!(ok(r).0, 11);
}

/// 29_getsockopt_optlen.scn and getsockname's `len`.
#[test]
fn getsockopt_and_getsockname_lengths() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        groups: vec![1000, 2000, 3000],
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    let [a, _] = pair(&mut b, 0, SOCK_STREAM);
    let get = |name, optlen| Call::Getsockopt {
        fd: a,
        opt: SockOpt {
            level: SOL_SOCKET,
            name,
        },
        optlen,
    };
    let opt = |optlen, value: &[u8]| Out::Optval {
        optlen,
        value: value.to_vec(),
    };
    assert_eq!(
        ok(call(&mut b, 0, get(SO_TYPE, 8))),
        (0, opt(4, &ints(&[1])))
    );
    assert_eq!(ok(call(&mut b, 0, get(SO_TYPE, 2))), (0, opt(2, &[1, 0])));
    assert_eq!(ok(call(&mut b, 0, get(SO_TYPE, 0))), (0, opt(0, &[])));
    let r = call(&mut b, 0, get(SO_TYPE, -1));
    assert_eq!((r.ret, r.out), (Err(Errno::EINVAL.into()), Out::None));
    let r = call(&mut b, 0, get(SO_PEERGROUPS, 4));
    assert_eq!((r.ret, r.out), (Err(Errno::ERANGE.into()), opt(12, &[])));
    assert_eq!(
        ok(call(&mut b, 0, get(SO_PEERGROUPS, 12))),
        (0, opt(12, &ints(&[1000, 2000, 3000])))
    );

    let s = ok(call(
        &mut b,
        0,
        Call::Socket {
            ty: SOCK_DGRAM,
            protocol: 0,
        },
    ))
    .0 as i32;
    let addr = abstract_addr("ab");
    bind(&mut b, 0, s, addr.clone());
    let name = |len| Call::Getsockname { fd: s, len };
    assert_eq!(
        ok(call(&mut b, 0, name(3))),
        (
            0,
            Out::Addr {
                addr: addr[..3].to_vec(),
                len: 5
            }
        )
    );
    assert_eq!(
        ok(call(&mut b, 0, name(0))),
        (
            0,
            Out::Addr {
                addr: vec![],
                len: 5
            }
        )
    );
    assert_eq!(errno(call(&mut b, 0, name(-1))), Errno::EINVAL);
    let r = call(&mut b, 0, Call::Getpeername { fd: s, len: 128 });
    assert_eq!(errno(r), Errno::ENOTCONN);
}

/// 26_dup2.scn, and dup2 never reaches the helper's channel.
#[test]
fn dup2_numbers() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        nofile: 16,
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    let [a, c] = pair(&mut b, 0, SOCK_STREAM | 0o2000000);
    let dup2 = |fd, newfd| Call::Dup2 { fd, newfd };
    assert_eq!(ok(call(&mut b, 0, dup2(a, 9))).0, 9);
    assert_eq!(ok(call(&mut b, 0, Call::GetFd { fd: a })).0, 1);
    assert_eq!(ok(call(&mut b, 0, Call::GetFd { fd: 9 })).0, 0);
    assert_eq!(ok(call(&mut b, 0, dup2(a, a))).0, i64::from(a));
    // Onto an open fd: it is closed first.
    assert_eq!(ok(call(&mut b, 0, dup2(a, c))).0, i64::from(c));
    assert_eq!(ok(call(&mut b, 0, Call::GetFd { fd: c })).0, 0);
    for bad in [16, -1, 1016, 1017, 1018] {
        assert_eq!(errno(call(&mut b, 0, dup2(a, bad))), Errno::EBADF, "{bad}");
    }
    assert_eq!(errno(call(&mut b, 0, dup2(1016, 5))), Errno::EBADF);
    assert_eq!(errno(call(&mut b, 0, dup2(12, 5))), Errno::EBADF);
    // The helper still answers.
    assert_eq!(ok(call(&mut b, 0, Call::Dup { fd: a })).0, 5);
}

/// 33_poll_several_timeout.scn.
#[test]
fn poll_several_fds() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    let [a1, a2] = pair(&mut b, 0, SOCK_DGRAM);
    let [b1, b2] = pair(&mut b, 0, SOCK_DGRAM);
    let poll = |fds: Vec<i32>, timeout| Call::Poll {
        fds,
        list: (),
        events: POLLIN,
        timeout,
    };
    assert_eq!(ok(call(&mut b, 0, send(a1, b"x", vec![], 0))).0, 1);
    assert_eq!(
        ok(call(&mut b, 0, poll(vec![a2, b2, -1], 0))),
        (1, Out::Revents(vec![POLLIN, 0, 0]))
    );
    assert_eq!(ok(call(&mut b, 0, recv(a2, 0))).0, 1);
    assert_eq!(
        ok(call(&mut b, 0, poll(vec![a2, b2], 20))),
        (0, Out::Revents(vec![0, 0]))
    );
    b.fork(0, 1).unwrap();
    b.start(1, poll(vec![a2, b2], -1)).unwrap();
    assert_eq!(
        b.wait(1, Duration::from_millis(50)).unwrap(),
        Progress::Blocked
    );
    assert_eq!(ok(call(&mut b, 0, send(b1, b"wake", vec![], 0))).0, 4);
    let Progress::Done(r) = b.wait(1, T).unwrap() else {
        panic!("poll still blocked")
    };
    assert_eq!(ok(r), (1, Out::Revents(vec![0, POLLIN])));
    assert_eq!(ok(call(&mut b, 0, Call::Close { fd: a1 })).0, 0);
    assert_eq!(
        ok(call(&mut b, 0, poll(vec![b2, a1, 1024, 2024], 0))),
        (4, Out::Revents(vec![POLLIN, POLLNVAL, POLLNVAL, POLLNVAL]))
    );
}

fn oob(fd: i32) -> Call {
    send(fd, b"!", vec![], MSG_OOB)
}

/// 34_sigurg_oob.scn, a fork child starts without a pending SIGURG, and a
/// pending one survives exec.
#[test]
fn sigurg_after_setown_and_oob() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    let [a, c] = pair(&mut b, 0, SOCK_STREAM);
    let sigurg = |b: &mut HostBackend, id| ok(call(b, id, Call::Sigurg)).0;
    assert_eq!(ok(call(&mut b, 0, oob(a))).0, 1);
    assert_eq!(sigurg(&mut b, 0), 0, "no owner, no signal");
    assert_eq!(ok(call(&mut b, 0, Call::SetOwn { fd: c })).0, 0);
    assert_eq!(ok(call(&mut b, 0, send(a, b"plain", vec![], 0))).0, 5);
    assert_eq!(sigurg(&mut b, 0), 0, "ordinary data raises nothing");
    assert_eq!(ok(call(&mut b, 0, oob(a))).0, 1);
    assert_eq!(ok(call(&mut b, 0, oob(a))).0, 1);
    assert_eq!(sigurg(&mut b, 0), 1);
    assert_eq!(sigurg(&mut b, 0), 0, "two deliveries count once");
    // Pending across a fork: only the parent has it.
    assert_eq!(ok(call(&mut b, 0, oob(a))).0, 1);
    b.fork(0, 1).unwrap();
    assert_eq!(sigurg(&mut b, 1), 0);
    // ... and it survives exec.
    assert_eq!(ok(call(&mut b, 0, Call::Exec)).0, 0);
    assert_eq!(sigurg(&mut b, 0), 1);
    // The owner is kept across exec; a later setown by another process wins.
    assert_eq!(ok(call(&mut b, 0, oob(a))).0, 1);
    assert_eq!(sigurg(&mut b, 0), 1);
    assert_eq!(ok(call(&mut b, 1, Call::SetOwn { fd: c })).0, 0);
    assert_eq!(ok(call(&mut b, 0, oob(a))).0, 1);
    assert_eq!((sigurg(&mut b, 0), sigurg(&mut b, 1)), (0, 1));
}

/// 25_exec_cloexec.scn: the kernel's own exec closes the cloexec fds.
#[test]
fn exec_closes_cloexec_fds_only() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    let [a, _] = pair(&mut b, 0, SOCK_STREAM | 0o2000000);
    let (r, w) = match ok(call(&mut b, 0, Call::Pipe { flags: 0 })) {
        (0, Out::Pair([r, w])) => (r, w),
        o => panic!("{o:?}"),
    };
    let [x, y] = pair(&mut b, 0, SOCK_DGRAM);
    let rights = cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[w]));
    assert_eq!(ok(call(&mut b, 0, send(x, b"p", rights, 0))).0, 1);
    let (_, out) = ok(call(&mut b, 0, recv(y, MSG_CMSG_CLOEXEC)));
    let (.., control, _, _) = msg(out);
    assert_eq!(
        parse_cmsgs(&control),
        vec![(SOL_SOCKET, SCM_RIGHTS, ints(&[9]))]
    );
    assert_eq!(ok(call(&mut b, 0, Call::GetFd { fd: 9 })).0, 1);
    assert_eq!(ok(call(&mut b, 0, Call::Exec)).0, 0);
    assert_eq!(errno(call(&mut b, 0, Call::GetFd { fd: a })), Errno::EBADF);
    assert_eq!(errno(call(&mut b, 0, Call::GetFd { fd: 9 })), Errno::EBADF);
    let wr = Call::Write {
        fd: w,
        data: b"still".to_vec(),
    };
    assert_eq!(ok(call(&mut b, 0, wr)).0, 5);
    assert_eq!(
        ok(call(&mut b, 0, Call::Read { fd: r, len: 5 })),
        (5, Out::Data(b"still".to_vec()))
    );
    let pid = b.pid(0);
    assert_is_helper_image(pid);
    for want in [3, 4, 9] {
        let s = Call::Socket {
            ty: SOCK_DGRAM,
            protocol: 0,
        };
        assert_eq!(ok(call(&mut b, 0, s)).0, want);
    }
}

/// The helper really `execve`d, into the helper image, keeping its pid:
/// `/proc/<pid>/exe` is the sealed memfd the backend passed.
fn assert_is_helper_image(pid: i32) {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.to_string_lossy()
            .starts_with("/memfd:afunix-host-helper"),
        "pid {pid} runs {exe:?}"
    );
}

/// A real exec keeps what `execve` keeps and opens nothing of its own: a
/// closed fd 0 stays closed (the new image's start-up does not reopen it),
/// the fd limit, the uid and a pending SIGURG stay; exec works twice, after
/// a fork and as an unprivileged user.
#[test]
fn exec_is_a_real_execve() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        uid: 1000,
        gid: 1000,
        nofile: 4,
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    assert_eq!(ok(call(&mut b, 0, Call::Close { fd: 0 })).0, 0);
    assert_eq!(ok(call(&mut b, 0, Call::Exec)).0, 0);
    assert_is_helper_image(b.pid(0));
    let sock = || Call::Socket {
        ty: SOCK_STREAM,
        protocol: 0,
    };
    // fds 1, 2 are open, 0 was freed before the exec: it is the lowest.
    assert_eq!(ok(call(&mut b, 0, sock())).0, 0);
    assert_eq!(ok(call(&mut b, 0, sock())).0, 3);
    assert_eq!(errno(call(&mut b, 0, sock())), Errno::EMFILE);
    assert_eq!(ok(call(&mut b, 0, Call::Close { fd: 3 })).0, 0);
    assert_eq!(ok(call(&mut b, 0, Call::Exec)).0, 0);
    assert_eq!(ok(call(&mut b, 0, sock())).0, 3);
    // A fork of an exec'd helper is a helper image too, and execs again.
    b.fork(0, 1).unwrap();
    assert_is_helper_image(b.pid(1));
    assert_eq!(ok(call(&mut b, 1, Call::Close { fd: 3 })).0, 0);
    assert_eq!(ok(call(&mut b, 1, Call::Exec)).0, 0);
    assert_eq!(ok(call(&mut b, 1, sock())).0, 3);
    let uid = std::fs::read_to_string(format!("/proc/{}/status", b.pid(1))).unwrap();
    assert!(
        uid.lines()
            .any(|l| l == format!("Uid:\t{0}\t{0}\t{0}\t{0}", b.make_kuid(1000))),
        "{uid}"
    );
}

/// 23_umask_socket_mode.scn and the file calls.
#[test]
fn umask_and_files() {
    needs_root!();
    let _g = lock();
    use std::os::unix::fs::MetadataExt;
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        umask: 0o077,
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    let other = TaskSpec {
        uid: 1001,
        gid: 1001,
        groups: vec![1001],
        ..TaskSpec::default()
    };
    b.task(1, &other).unwrap();
    let p = |s: &str| s.as_bytes().to_vec();
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Mkdir {
                path: p("d"),
                mode: 0o777
            }
        ))
        .0,
        0
    );
    let s = ok(call(
        &mut b,
        0,
        Call::Socket {
            ty: SOCK_STREAM,
            protocol: 0,
        },
    ))
    .0 as i32;
    bind(&mut b, 0, s, path_addr("d//./srv"));
    let mode = |b: &HostBackend, f: &str| std::fs::metadata(b.dir().join(f)).unwrap().mode();
    assert_eq!(mode(&b, "d") & 0o7777, 0o700);
    assert_eq!(mode(&b, "d/srv") & 0o777, 0o700);
    assert_eq!(ok(call(&mut b, 0, Call::Listen { fd: s, backlog: 1 })).0, 0);
    let c = ok(call(
        &mut b,
        1,
        Call::Socket {
            ty: SOCK_STREAM,
            protocol: 0,
        },
    ))
    .0 as i32;
    let conn = Call::Connect {
        fd: c,
        addr: path_addr("d/srv"),
    };
    assert_eq!(errno(call(&mut b, 1, conn.clone())), Errno::EACCES);
    let chmod = |f: &str, mode| Call::Chmod { path: p(f), mode };
    assert_eq!(ok(call(&mut b, 0, chmod("d", 0o711))).0, 0);
    assert_eq!(ok(call(&mut b, 0, chmod("d/srv", 0o777))).0, 0);
    assert_eq!(ok(call(&mut b, 1, conn)).0, 0);
    // Opening a socket file is ENXIO.
    let open = |f: &str, flags| Call::Open {
        path: p(f),
        flags,
        mode: 0o666,
    };
    assert_eq!(errno(call(&mut b, 0, open("d/srv", O_RDWR))), Errno::ENXIO);
    let f = ok(call(&mut b, 0, open("f", O_RDWR | O_CREAT))).0 as i32;
    assert_eq!(mode(&b, "f") & 0o777, 0o600);
    assert_eq!(
        (std::fs::metadata(b.dir().join("f")).unwrap().uid(), f >= 3),
        (b.make_kuid(1000), true)
    );
    let wr = Call::Write {
        fd: f,
        data: b"abc".to_vec(),
    };
    assert_eq!(ok(call(&mut b, 0, wr)).0, 3);
    let ren = Call::Rename {
        old: p("f"),
        new: p("d/g"),
    };
    assert_eq!(ok(call(&mut b, 0, ren)).0, 0);
    assert_eq!(std::fs::read(b.dir().join("d/g")).unwrap(), b"abc");
    let unlink = |f: &str| Call::Unlink { path: p(f) };
    assert_eq!(ok(call(&mut b, 0, unlink("d/g"))).0, 0);
    assert_eq!(errno(call(&mut b, 0, unlink("d/g"))), Errno::ENOENT);
    assert_eq!(errno(call(&mut b, 0, open("nope", O_RDWR))), Errno::ENOENT);
}

/// 35_netns_abstract.scn and 38_sysctl_netns.scn: abstract names, the
/// sysctl and the socket count per namespace label.
#[test]
fn network_namespace_labels() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    let ns1 = TaskSpec {
        netns: 1,
        ..TaskSpec::default()
    };
    b.task(1, &ns1).unwrap();
    b.task(2, &ns1).unwrap();
    assert_eq!(b.set_max_dgram_qlen(1, 1).unwrap(), Ok(()));
    let dgram = Call::Socket {
        ty: SOCK_DGRAM,
        protocol: 0,
    };
    let q = abstract_addr("q");
    for id in [0, 1] {
        assert_eq!(ok(call(&mut b, id, dgram.clone())).0, 3);
        bind(&mut b, id, 3, q.clone());
    }
    // Task 2 shares namespace 1: the name is taken there.
    assert_eq!(ok(call(&mut b, 2, dgram.clone())).0, 3);
    let r = call(
        &mut b,
        2,
        Call::Bind {
            fd: 3,
            addr: q.clone(),
        },
    );
    assert_eq!(errno(r), Errno::EADDRINUSE);
    let to = |d: &[u8]| Call::Sendmsg {
        fd: 3,
        name: Some(SendBuf::Bytes(abstract_addr("q"))),
        iov: vec![SendBuf::Bytes(d.to_vec())],
        control: vec![],
        flags: MSG_DONTWAIT,
    };
    for d in [b"1", b"2"] {
        assert_eq!(ok(call(&mut b, 2, to(d))).0, 1);
    }
    assert_eq!(errno(call(&mut b, 2, to(b"3"))), Errno::EAGAIN);
    // Namespace 0 saw nothing.
    assert_eq!(errno(call(&mut b, 0, recv(3, MSG_DONTWAIT))), Errno::EAGAIN);
    assert_eq!(b.stat().unwrap(), 3);
    // Any integer is written; the kernel refuses what is not a C int.
    assert_eq!(b.set_max_dgram_qlen(1, -1).unwrap(), Ok(()));
    assert_eq!(
        b.set_max_dgram_qlen(1, 4294967296).unwrap(),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        b.set_max_dgram_qlen(2, i64::MIN).unwrap(),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(b.set_max_dgram_qlen(0, 2147483647).unwrap(), Ok(()));
    b.gc().unwrap();
    assert_eq!(b.stat().unwrap(), 3);
}

/// SO_GET_FILTER's optlen counts instructions; the kernel copies 8 bytes
/// for each into the buffer, which must have room for them.
#[test]
fn get_filter_counts_instructions() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &TaskSpec::default()).unwrap();
    let [a, _] = pair(&mut b, 0, SOCK_DGRAM);
    const SO_ATTACH_FILTER: i32 = 26;
    // Two `ret #0xffff` (BPF_RET|BPF_K).
    let insn = [6u8, 0, 0, 0, 0xff, 0xff, 0, 0];
    let prog: Vec<u8> = insn.iter().chain(insn.iter()).copied().collect();
    let set = Call::Setsockopt {
        fd: a,
        opt: SockOpt {
            level: SOL_SOCKET,
            name: SO_ATTACH_FILTER,
        },
        value: prog,
    };
    assert_eq!(ok(call(&mut b, 0, set)).0, 0);
    let get = |optlen| Call::Getsockopt {
        fd: a,
        opt: SockOpt {
            level: SOL_SOCKET,
            name: SO_ATTACH_FILTER,
        },
        optlen,
    };
    let opt = |optlen, value: &[u8]| Out::Optval {
        optlen,
        value: value.to_vec(),
    };
    assert_eq!(ok(call(&mut b, 0, get(0))), (0, opt(2, &[])));
    assert_eq!(ok(call(&mut b, 0, get(2))), (0, opt(2, &insn[..2])));
    assert_eq!(ok(call(&mut b, 0, get(5))), (0, opt(2, &insn[..2])));
    assert_eq!(errno(call(&mut b, 0, get(1))), Errno::EINVAL);
    // The helper survived the kernel's writes.
    assert_eq!(ok(call(&mut b, 0, Call::Dup { fd: a })).0, 5);
}

/// The helper's channel (at nofile + 1000) and the number above it are
/// closed fds for every call that names an fd; huge buffers are fine.
#[test]
fn channel_hidden_and_huge_buffers() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        nofile: 8,
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    let [a, c] = pair(&mut b, 0, SOCK_DGRAM);
    for ch in [1008, 1009] {
        for cl in [
            Call::SetOwn { fd: ch },
            Call::Getsockname { fd: ch, len: 128 },
            Call::Getpeername { fd: ch, len: 128 },
            Call::Getsockopt {
                fd: ch,
                opt: SockOpt {
                    level: SOL_SOCKET,
                    name: SO_TYPE,
                },
                optlen: 4,
            },
            Call::Dup2 { fd: ch, newfd: 5 },
            Call::Dup2 { fd: a, newfd: ch },
            recv_with(ch, vec![RecvBuf::Len(4)], 128, RecvBuf::Len(0), 0),
        ] {
            assert_eq!(errno(call(&mut b, 0, cl.clone())), Errno::EBADF, "{cl:?}");
        }
    }
    // Still alive, and fd 5 is free.
    assert_eq!(ok(call(&mut b, 0, Call::Dup { fd: a })).0, 5);
    let r = call(
        &mut b,
        0,
        Call::Getsockopt {
            fd: a,
            opt: SockOpt {
                level: SOL_SOCKET,
                name: SO_TYPE,
            },
            optlen: i32::MAX,
        },
    );
    assert_eq!(
        ok(r),
        (
            0,
            Out::Optval {
                optlen: 4,
                value: ints(&[SOCK_DGRAM])
            }
        )
    );
    assert_eq!(ok(call(&mut b, 0, send(a, b"big", vec![], 0))).0, 3);
    let iov = vec![RecvBuf::Len(1 << 30), RecvBuf::Null(0)];
    let (n, out) = ok(call(
        &mut b,
        0,
        recv_with(c, iov, 128, RecvBuf::Len(1 << 20), 0),
    ));
    let (data, _, _, control, controllen, _) = msg(out);
    assert_eq!(
        (n, data.as_slice(), control.len(), controllen),
        (3, &b"big"[..], 0, 0)
    );
    // A NULL base with a length is the kernel's EFAULT.
    assert_eq!(ok(call(&mut b, 0, send(a, b"n", vec![], 0))).0, 1);
    let r = call(
        &mut b,
        0,
        recv_with(c, vec![RecvBuf::Null(4)], 128, RecvBuf::Len(0), 0),
    );
    assert_eq!(errno(r), EFAULT);
}

/// `files_in_flight` reads the kernel's per-user count exactly: a run's
/// uid starts at none (it is a fresh kernel uid), three files queued by
/// its process add three, the kernel refuses a send with ETOOMANYREFS
/// exactly when the count is above the sender's RLIMIT_NOFILE, and closing
/// the queue's socket gives them back.
#[test]
fn files_in_flight_is_the_kernels_per_user_count() {
    needs_root!();
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    let spec = TaskSpec {
        nofile: 5,
        ..TaskSpec::default()
    };
    b.task(0, &spec).unwrap();
    let kuid = b.make_kuid(spec.uid);
    assert_eq!(afunix_host::files_in_flight(kuid).unwrap(), 0);
    let pair = Call::Socketpair {
        ty: SOCK_DGRAM,
        protocol: 0,
    };
    assert_eq!(ok(call(&mut b, 0, pair)), (0, Out::Pair([3, 4])));
    // The sending end, queued on the other: no cycle, so closing frees it.
    let three = cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[3, 3, 3]));
    assert_eq!(ok(call(&mut b, 0, send(3, b"x", three, MSG_DONTWAIT))).0, 1);
    assert_eq!(afunix_host::files_in_flight(kuid).unwrap(), 3);
    // A send passes while the count is at most nofile (5): three more
    // single files, then ETOOMANYREFS.
    let one = || cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[3]));
    for _ in 0..3 {
        assert_eq!(ok(call(&mut b, 0, send(3, b"y", one(), MSG_DONTWAIT))).0, 1);
    }
    assert_eq!(
        errno(call(&mut b, 0, send(3, b"z", one(), MSG_DONTWAIT))),
        Errno::ETOOMANYREFS
    );
    assert_eq!(afunix_host::files_in_flight(kuid).unwrap(), 6);
    drop(b);
    // The helper's exit released the queue (allow the kernel a moment).
    let start = std::time::Instant::now();
    while afunix_host::files_in_flight(kuid).unwrap() != 0 {
        assert!(start.elapsed() < Duration::from_secs(2), "not given back");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Two runs never share what the kernel counts per user: while a run's
/// uid-1000 process keeps six files in flight, the uid-1000 process of
/// another run, with RLIMIT_NOFILE 5, still passes a file (one shared
/// kernel user would be at 6 > 5, and `too_many_unix_fds` would say
/// ETOOMANYREFS), and both runs print their uid as 1000.
#[test]
fn runs_do_not_share_a_users_files_in_flight() {
    needs_root!();
    let _g = lock();
    let pair = || Call::Socketpair {
        ty: SOCK_DGRAM,
        protocol: 0,
    };
    let peercred = || Call::Getsockopt {
        fd: 3,
        opt: SockOpt {
            level: SOL_SOCKET,
            name: SO_PEERCRED,
        },
        optlen: 12,
    };
    let uid_of = |r: Reply| {
        let (_, out) = ok(r);
        let Out::Optval { value, .. } = out else {
            panic!("{out:?}")
        };
        u32::from_ne_bytes(value[4..8].try_into().unwrap())
    };
    let mut first = HostBackend::new().unwrap();
    first.task(0, &TaskSpec::default()).unwrap();
    assert_eq!(ok(call(&mut first, 0, pair())).0, 0);
    let six = cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[3; 6]));
    assert_eq!(ok(call(&mut first, 0, send(3, b"x", six, 0))).0, 1);
    let k1 = uid_of(call(&mut first, 0, peercred()));
    assert_eq!(first.from_kuid(k1), 1000);
    assert_eq!(afunix_host::files_in_flight(k1).unwrap(), 6);

    let mut second = HostBackend::new().unwrap();
    let spec = TaskSpec {
        nofile: 5,
        ..TaskSpec::default()
    };
    second.task(0, &spec).unwrap();
    assert_eq!(ok(call(&mut second, 0, pair())).0, 0);
    let k2 = uid_of(call(&mut second, 0, peercred()));
    assert_ne!(k1, k2);
    assert_eq!(second.from_kuid(k2), 1000);
    let one = cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(&[3]));
    assert_eq!(ok(call(&mut second, 0, send(3, b"y", one, 0))).0, 1);
    assert_eq!(afunix_host::files_in_flight(k2).unwrap(), 1);
}
