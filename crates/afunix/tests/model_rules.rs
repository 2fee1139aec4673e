//! Specific kernel rules, through the public `World` API, that the shared
//! scenarios do not pin down. Each test names the kernel function whose rule
//! it checks; every expected value was checked against Linux 6.18 with the
//! host backend (`afunix run x.scn --backend host`).

use afunix::abi::cmsg::{user_cmsgs, CmsgBuilder};
use afunix::abi::consts::*;
use afunix::abi::ucred::Ucred;
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::{Errno, Fd, Pid, ResultExt, World};

fn task(uid: u32, nofile: u64) -> TaskSpec {
    TaskSpec {
        uid,
        gid: uid,
        groups: vec![uid],
        nofile,
        ..TaskSpec::default()
    }
}

fn ok(w: &World) {
    if let Err(e) = w.check_invariants() {
        panic!("invariant broken: {e}");
    }
}

fn send(w: &World, pid: Pid, fd: Fd, data: &[u8], control: &[u8]) -> Result<usize, afunix::Error> {
    let msg = MsgHdr {
        name: None,
        iov: Some(data),
        control,
    };
    let r = w.sendmsg(pid, fd, &msg, MSG_DONTWAIT);
    ok(w);
    r
}

fn rights(fds: &[Fd]) -> Vec<u8> {
    CmsgBuilder::new().rights(fds).finish()
}

fn creds_of(control: &[u8]) -> Option<Ucred> {
    user_cmsgs(control)
        .find(|c| c.is_creds())
        .and_then(|c| Ucred::parse(c.data))
}

fn peercred(w: &World, pid: Pid, fd: Fd) -> Ucred {
    let v = w.getsockopt(pid, fd, SOL_SOCKET, SO_PEERCRED, 12).unwrap();
    Ucred::parse(&v).unwrap()
}

fn set_int(w: &World, pid: Pid, fd: Fd, opt: i32, v: i32) {
    w.setsockopt(pid, fd, SOL_SOCKET, opt, &v.to_ne_bytes())
        .unwrap();
    ok(w);
}

/// Everything exits, the collector runs, nothing is left.
fn teardown(w: &World, pids: &[Pid]) {
    for &p in pids {
        w.exit(p).unwrap();
        ok(w);
    }
    w.gc();
    ok(w);
    assert_eq!(w.open_files(), 0, "open files left after every exit + gc");
    assert_eq!(w.stat(), 0, "sockets left after every exit + gc");
}

const BIG: usize = 4096;

// sk_get_peer_cred / cred_to_ucred: no peer → pid 0, uid and gid -1.
#[test]
fn peercred_of_unconnected_socket_is_0_minus1_minus1() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let s = w.socket(a, SOCK_STREAM).unwrap();
    let c = peercred(&w, a, s);
    assert_eq!(
        c,
        Ucred {
            pid: 0,
            uid: u32::MAX,
            gid: u32::MAX
        }
    );
    let d = w.socket(a, SOCK_DGRAM).unwrap();
    assert_eq!(peercred(&w, a, d).pid, 0);
    teardown(&w, &[a]);
}

// unix_listen → init_peercred: a listening socket reports its own creds;
// unix_socketpair → init_peercred on both ends.
#[test]
fn peercred_of_listener_and_socketpair_is_own() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let own = Ucred {
        pid: a.as_raw(),
        uid: 1000,
        gid: 1000,
    };
    let [x, _y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(peercred(&w, a, x), own);
    let l = w.socket(a, SOCK_STREAM).unwrap();
    w.bind(a, l, b"\x01\x00\x00lis").unwrap();
    w.listen(a, l, 5).unwrap();
    assert_eq!(peercred(&w, a, l), own);
    let c = w.socket(a, SOCK_STREAM).unwrap();
    w.connect(a, c, b"\x01\x00\x00lis").unwrap();
    assert_eq!(peercred(&w, a, c), own);
    teardown(&w, &[a]);
}

// scm_send(forcecreds=false) leaves pid NULL and uid/gid INVALID when neither
// end has SO_PASSCRED at send time (unix_maybe_add_creds adds nothing);
// scm_recv_unix → from_kuid_munged turns them into overflowuid/gid 65534.
#[test]
fn creds_without_passcred_at_send_read_as_overflow_ids() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(send(&w, a, x, b"x", &[]), Ok(1));
    set_int(&w, a, y, SO_PASSCRED, 1);
    let r = w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap();
    assert_eq!(
        creds_of(&r.control),
        Some(Ucred {
            pid: 0,
            uid: 65534,
            gid: 65534
        })
    );
    // With passcred set at send time, the real creds.
    assert_eq!(send(&w, a, x, b"y", &[]), Ok(1));
    let r = w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap();
    assert_eq!(
        creds_of(&r.control),
        Some(Ucred {
            pid: a.as_raw(),
            uid: 1000,
            gid: 1000
        })
    );
    // Passcred on the *sender* at send time also records them
    // (unix_may_passcred(sk)), delivered once the receiver asks.
    set_int(&w, a, y, SO_PASSCRED, 0);
    set_int(&w, a, x, SO_PASSCRED, 1);
    assert_eq!(send(&w, a, x, b"z", &[]), Ok(1));
    set_int(&w, a, x, SO_PASSCRED, 0);
    set_int(&w, a, y, SO_PASSCRED, 1);
    let r = w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap();
    assert_eq!(creds_of(&r.control).map(|c| c.pid), Some(a.as_raw()));
    teardown(&w, &[a]);
}

// unix_dgram_recvmsg with MSG_PEEK → scm_fp_dup: every peek installs new fds
// (new references to the same files); the real receive installs them again.
#[test]
fn msg_peek_installs_new_fds_each_time() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let f = w.memfd(a, b"hello").unwrap();
    assert_eq!(send(&w, a, x, b"p", &rights(&[f])), Ok(1));
    let files = w.open_files();
    let p1 = w.recvmsg(a, y, 16, BIG, MSG_PEEK | MSG_DONTWAIT).unwrap();
    ok(&w);
    let p2 = w.recvmsg(a, y, 16, BIG, MSG_PEEK | MSG_DONTWAIT).unwrap();
    ok(&w);
    let r = w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap();
    ok(&w);
    assert_eq!(p1.rights(), vec![Fd::from_raw(f.as_raw() + 1)]);
    assert_eq!(p2.rights(), vec![Fd::from_raw(f.as_raw() + 2)]);
    assert_eq!(r.rights(), vec![Fd::from_raw(f.as_raw() + 3)]);
    assert_eq!(w.open_files(), files, "peeked fds are the same file");
    assert_eq!(w.read(a, Fd::from_raw(f.as_raw() + 2), 2).unwrap(), b"he");
    assert_eq!(w.read(a, Fd::from_raw(f.as_raw() + 3), 3).unwrap(), b"llo");
    assert_eq!(
        w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap_err(),
        Errno::EAGAIN
    );
    teardown(&w, &[a]);
}

// scm_recv_unix: no control buffer → MSG_CTRUNC and scm_destroy drops the
// passed files; a file whose last reference was in flight is closed.
#[test]
fn ctrunc_with_no_control_drops_the_files() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let base = w.open_files();
    let f = w.memfd(a, b"1").unwrap();
    let g = w.memfd(a, b"2").unwrap();
    assert_eq!(send(&w, a, x, b"x", &rights(&[f, g, f])), Ok(1));
    w.close(a, f).unwrap();
    w.close(a, g).unwrap();
    ok(&w);
    assert_eq!(w.open_files(), base + 2, "in flight keeps them open");
    let r = w.recvmsg(a, y, 16, 0, MSG_DONTWAIT).unwrap();
    ok(&w);
    assert_eq!(r.flags & MSG_CTRUNC, MSG_CTRUNC);
    assert!(r.control.is_empty());
    assert_eq!(w.open_files(), base);
    // The fd numbers were not consumed either.
    assert_eq!(w.dup(a, x), Ok(f));
    teardown(&w, &[a]);
}

// scm_detach_fds: fdmax = (controllen - sizeof(cmsghdr)) / sizeof(int); a
// 20-byte buffer takes one fd of two, MSG_CTRUNC, the other is dropped.
#[test]
fn short_control_installs_what_fits_and_drops_the_rest() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let base = w.open_files();
    let f = w.memfd(a, b"1").unwrap();
    let g = w.memfd(a, b"2").unwrap();
    assert_eq!(send(&w, a, x, b"x", &rights(&[f, g])), Ok(1));
    w.close(a, f).unwrap();
    w.close(a, g).unwrap();
    let r = w.recvmsg(a, y, 16, 20, MSG_DONTWAIT).unwrap();
    ok(&w);
    assert_eq!(r.flags & MSG_CTRUNC, MSG_CTRUNC);
    assert_eq!(r.control.len(), 20);
    assert_eq!(r.rights(), vec![f]);
    assert_eq!(w.read(a, f, 1).unwrap(), b"1");
    assert_eq!(w.open_files(), base + 1, "the second file was dropped");
    teardown(&w, &[a]);
}

// scm_detach_fds → receive_fd_user fails with EMFILE (fs/file.c alloc_fd at
// RLIMIT_NOFILE): stop, MSG_CTRUNC, the files not installed are dropped.
#[test]
fn emfile_at_receiver_limit_gives_ctrunc_and_drops_files() {
    let w = World::new();
    let l = w.spawn(&task(1000, 6));
    let [x, y] = w.socketpair(l, SOCK_DGRAM).unwrap();
    let f = w.memfd(l, b"q").unwrap();
    assert_eq!(f, Fd::from_raw(5));
    assert_eq!(w.memfd(l, b"no room").unwrap_err(), Errno::EMFILE);
    let base = w.open_files();
    assert_eq!(send(&w, l, x, b"1", &rights(&[f, f])), Ok(1));
    let r = w.recvmsg(l, y, 16, BIG, MSG_DONTWAIT).unwrap();
    ok(&w);
    assert_eq!(r.flags, MSG_CTRUNC);
    assert!(r.rights().is_empty());
    assert_eq!(w.open_files(), base);
    // With one slot free exactly one of two is installed.
    assert_eq!(send(&w, l, x, b"2", &rights(&[f, f])), Ok(1));
    w.close(l, f).unwrap();
    let r = w.recvmsg(l, y, 16, BIG, MSG_DONTWAIT).unwrap();
    ok(&w);
    assert_eq!(r.rights(), vec![Fd::from_raw(5)]);
    assert_eq!(r.flags, MSG_CTRUNC);
    assert_eq!(w.open_files(), base);
    teardown(&w, &[l]);
}

// fs/file.c dup / copy_files on fork: the new fd shares the open file
// description, hence its offset.
#[test]
fn dup_and_fork_share_the_memfd_offset() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let f = w.memfd(a, b"hello world").unwrap();
    let g = w.dup(a, f).unwrap();
    assert_eq!(w.read(a, f, 2).unwrap(), b"he");
    assert_eq!(w.read(a, g, 3).unwrap(), b"llo");
    let b = w.fork(a).unwrap();
    ok(&w);
    assert_eq!(w.read(b, f, 1).unwrap(), b" ");
    assert_eq!(w.read(a, g, 5).unwrap(), b"world");
    assert_eq!(w.read(b, g, 5).unwrap(), b"");
    teardown(&w, &[a, b]);
}

// Close-on-exec: SOCK_CLOEXEC (sock_alloc_file flags), accept4 flags,
// pipe2(O_CLOEXEC), MSG_CMSG_CLOEXEC (receive_fd_user o_flags); dup clears it
// (fs/file.c do_dup2 / f_dupfd without O_CLOEXEC); fork keeps it.
#[test]
fn close_on_exec_flags() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let s = w.socket(a, SOCK_DGRAM | SOCK_CLOEXEC).unwrap();
    assert_eq!(w.get_fd_flags(a, s), Ok(FD_CLOEXEC));
    let d = w.dup(a, s).unwrap();
    assert_eq!(w.get_fd_flags(a, d), Ok(0));
    let [p0, p1] = w.pipe2(a, O_CLOEXEC).unwrap();
    assert_eq!(w.get_fd_flags(a, p0), Ok(FD_CLOEXEC));
    assert_eq!(w.get_fd_flags(a, p1), Ok(FD_CLOEXEC));
    let [x, y] = w.socketpair(a, SOCK_STREAM | SOCK_CLOEXEC).unwrap();
    assert_eq!(w.get_fd_flags(a, x), Ok(FD_CLOEXEC));
    assert_eq!(w.get_fd_flags(a, y), Ok(FD_CLOEXEC));
    let plain = w.socket(a, SOCK_STREAM).unwrap();
    assert_eq!(w.get_fd_flags(a, plain), Ok(0));

    let l = w.socket(a, SOCK_STREAM).unwrap();
    w.bind(a, l, b"\x01\x00\x00l").unwrap();
    w.listen(a, l, 5).unwrap();
    let c = w.socket(a, SOCK_STREAM).unwrap();
    w.connect(a, c, b"\x01\x00\x00l").unwrap();
    let acc = w.accept4(a, l, SOCK_CLOEXEC | SOCK_NONBLOCK).unwrap();
    assert_eq!(w.get_fd_flags(a, acc), Ok(FD_CLOEXEC));

    let f = w.memfd(a, b"m").unwrap();
    assert_eq!(send(&w, a, x, b"1", &rights(&[f])), Ok(1));
    assert_eq!(send(&w, a, x, b"2", &rights(&[f])), Ok(1));
    let r = w
        .recvmsg(a, y, 1, BIG, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)
        .unwrap();
    assert_eq!(
        r.flags, MSG_CMSG_CLOEXEC,
        "msg_flags echoes MSG_CMSG_CLOEXEC"
    );
    let g = r.rights()[0];
    assert_eq!(w.get_fd_flags(a, g), Ok(FD_CLOEXEC));
    let r = w.recvmsg(a, y, 1, BIG, MSG_DONTWAIT).unwrap();
    let h = r.rights()[0];
    assert_eq!(w.get_fd_flags(a, h), Ok(0));

    let b = w.fork(a).unwrap();
    assert_eq!(w.get_fd_flags(b, s), Ok(FD_CLOEXEC));
    assert_eq!(w.get_fd_flags(b, d), Ok(0));
    teardown(&w, &[a, b]);
}

// unix_attach_fds → too_many_unix_fds: once user->unix_inflight exceeds
// RLIMIT_NOFILE (strictly), a sender without CAP_SYS_RESOURCE/CAP_SYS_ADMIN
// gets ETOOMANYREFS. The count is per user, so another process of the same
// uid is refused too; root is exempt.
#[test]
fn etoomanyrefs_when_user_has_more_than_nofile_in_flight() {
    let w = World::new();
    let n = w.spawn(&task(1000, 10));
    let [a, _b] = w.socketpair(n, SOCK_STREAM).unwrap();
    let base = w.open_files();
    assert_eq!(send(&w, n, a, b"1", &rights(&[a; 4])), Ok(1));
    assert_eq!(send(&w, n, a, b"2", &rights(&[a; 4])), Ok(1));
    assert_eq!(send(&w, n, a, b"3", &rights(&[a; 3])), Ok(1)); // 11 in flight now
    assert_eq!(
        send(&w, n, a, b"4", &rights(&[a])),
        Err(Errno::ETOOMANYREFS.into())
    );
    assert_eq!(w.open_files(), base);
    // Another process of the same user shares the count.
    let m = w.fork(n).unwrap();
    let [c, _d] = w.socketpair(m, SOCK_STREAM).unwrap();
    assert_eq!(
        send(&w, m, c, b"7", &rights(&[c])),
        Err(Errno::ETOOMANYREFS.into())
    );
    // Data without fds still goes.
    assert_eq!(send(&w, m, c, b"8", &[]), Ok(1));
    // Another user is not affected.
    let o = w.spawn(&task(1001, 10));
    let [e, _f] = w.socketpair(o, SOCK_DGRAM).unwrap();
    assert_eq!(send(&w, o, e, b"9", &rights(&[e])), Ok(1));

    let r = w.spawn(&task(0, 10));
    let [ra, _rb] = w.socketpair(r, SOCK_STREAM).unwrap();
    for k in 0..6 {
        let n = if k < 2 { 4 } else { 1 };
        assert_eq!(
            send(&w, r, ra, b"r", &rights(&vec![ra; n])),
            Ok(1),
            "root send {k}"
        );
    }
    teardown(&w, &[n, m, o, r]);
}

// scm_fp_copy: more than SCM_MAX_FD (253) in one cmsg, or in one message
// over several cmsgs, is EINVAL; exactly 253 is fine.
#[test]
fn scm_max_fd_per_message() {
    let w = World::new();
    let a = w.spawn(&task(0, 1024));
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let base = w.open_files();
    assert_eq!(
        send(&w, a, x, b"x", &rights(&[x; 254])),
        Err(Errno::EINVAL.into())
    );
    let two = CmsgBuilder::new()
        .rights(&[x; 200])
        .rights(&[x; 54])
        .finish();
    assert_eq!(send(&w, a, x, b"x", &two), Err(Errno::EINVAL.into()));
    assert_eq!(w.open_files(), base);
    assert_eq!(
        w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap_err(),
        Errno::EAGAIN
    );
    let two = CmsgBuilder::new()
        .rights(&[x; 200])
        .rights(&[x; 53])
        .finish();
    assert_eq!(send(&w, a, x, b"x", &two), Ok(1));
    let r = w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap();
    ok(&w);
    let got = r.rights();
    assert_eq!(got.len(), 253);
    assert_eq!(r.flags, 0);
    // One SCM_RIGHTS message on receive carries all of them (scm_detach_fds).
    assert_eq!(user_cmsgs(&r.control).filter(|c| c.is_rights()).count(), 1);
    teardown(&w, &[a]);
}

// __scm_send: SCM_CREDENTIALS needs cmsg_len == CMSG_LEN(sizeof(ucred)) = 28
// exactly (CMSG_SPACE = 32 is EINVAL); scm_check_creds: uid or gid -1 is
// EINVAL before any permission check; another pid without CAP_SYS_ADMIN is
// EPERM; pid 0 is EPERM for a non-root sender, ESRCH for root.
#[test]
fn creds_cmsg_rules() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let r = w.spawn(&task(0, 1024));
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let [rx, ry] = w.socketpair(r, SOCK_DGRAM).unwrap();
    let mut c32 = CmsgBuilder::new()
        .creds(Ucred {
            pid: a.as_raw(),
            uid: 1000,
            gid: 1000,
        })
        .finish();
    c32[0] = 32;
    c32.resize(32, 0);
    assert_eq!(send(&w, a, x, b"1", &c32), Err(Errno::EINVAL.into()));
    let creds = |pid, uid, gid| CmsgBuilder::new().creds(Ucred { pid, uid, gid }).finish();
    assert_eq!(
        send(&w, a, x, b"1", &creds(r.as_raw(), u32::MAX, 1000)),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        send(&w, a, x, b"1", &creds(a.as_raw(), 1000, u32::MAX)),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        send(&w, a, x, b"1", &creds(r.as_raw(), 1000, 1000)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        send(&w, a, x, b"1", &creds(0, 1000, 1000)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        send(&w, a, x, b"1", &creds(a.as_raw(), 0, 1000)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        send(&w, a, x, b"1", &creds(a.as_raw(), 1000, 0)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap_err(),
        Errno::EAGAIN
    );
    assert_eq!(send(&w, a, x, b"1", &creds(a.as_raw(), 1000, 1000)), Ok(1));
    assert_eq!(
        send(&w, r, rx, b"1", &creds(0, 5, 5)),
        Err(Errno::ESRCH.into())
    );
    assert_eq!(
        send(&w, r, rx, b"1", &creds(-1, 5, 5)),
        Err(Errno::ESRCH.into())
    );
    assert_eq!(
        send(&w, r, rx, b"1", &creds(a.as_raw(), 5, u32::MAX)),
        Err(Errno::EINVAL.into())
    );
    // Root may claim any existing pid and any ids; the last creds cmsg wins.
    set_int(&w, r, ry, SO_PASSCRED, 1);
    let two = CmsgBuilder::new()
        .creds(Ucred {
            pid: r.as_raw(),
            uid: 1,
            gid: 2,
        })
        .creds(Ucred {
            pid: a.as_raw(),
            uid: 7,
            gid: 8,
        })
        .finish();
    assert_eq!(send(&w, r, rx, b"1", &two), Ok(1));
    let got = w.recvmsg(r, ry, 16, BIG, MSG_DONTWAIT).unwrap();
    assert_eq!(
        creds_of(&got.control),
        Some(Ucred {
            pid: a.as_raw(),
            uid: 7,
            gid: 8
        })
    );
    teardown(&w, &[a, r]);
}

// __scm_send walk (for_each_cmsghdr + CMSG_OK): a buffer shorter than a
// header is ignored; CMSG_OK is checked before the level, so a short
// cmsg_len at any level is EINVAL; an SCM_RIGHTS with no whole int passes
// nothing (scm_fp_copy num <= 0); a trailing partial int is ignored.
#[test]
fn control_walk_rules() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let f = w.memfd(a, b"f").unwrap();
    let recv = |w: &World| {
        let r = w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap();
        ok(w);
        r.rights()
    };
    // 15 bytes of anything: no header fits, nothing parsed.
    assert_eq!(send(&w, a, x, b"k", &[0xff; 15]), Ok(1));
    assert_eq!(recv(&w), Vec::<Fd>::new());
    // cmsg_len 8 at level 41 (not SOL_SOCKET): still EINVAL.
    let mut h = CmsgBuilder::new().push(41, 2, &[0; 16]).finish();
    h[0] = 8;
    assert_eq!(send(&w, a, x, b"k", &h), Err(Errno::EINVAL.into()));
    // A well-formed cmsg at another level is skipped.
    let other = CmsgBuilder::new().push(41, 2, &[0; 16]).finish();
    assert_eq!(send(&w, a, x, b"k", &other), Ok(1));
    assert_eq!(recv(&w), Vec::<Fd>::new());
    // SCM_RIGHTS with cmsg_len 16 (no fds) and with 16 + 3.
    let mut e = CmsgBuilder::new().rights::<Fd>(&[]).finish();
    assert_eq!(e.len(), 16);
    assert_eq!(send(&w, a, x, b"k", &e), Ok(1));
    assert_eq!(recv(&w), Vec::<Fd>::new());
    e[0] = 19;
    e.extend_from_slice(&f.as_raw().to_ne_bytes());
    assert_eq!(send(&w, a, x, b"k", &e), Ok(1));
    assert_eq!(recv(&w), Vec::<Fd>::new());
    // cmsg_len 21: one whole fd and one stray byte.
    let mut one = CmsgBuilder::new().rights(&[f, Fd::from_raw(0)]).finish();
    one[0] = 21;
    assert_eq!(send(&w, a, x, b"k", &one), Ok(1));
    assert_eq!(recv(&w).len(), 1);
    // Unknown SOL_SOCKET type: EINVAL; SCM_PIDFD cannot be sent either.
    for ty in [0, SCM_SECURITY, SCM_PIDFD, 99] {
        let u = CmsgBuilder::new().push(SOL_SOCKET, ty, &[0; 4]).finish();
        assert_eq!(
            send(&w, a, x, b"k", &u),
            Err(Errno::EINVAL.into()),
            "type {ty}"
        );
    }
    teardown(&w, &[a]);
}

// scm_fp_copy: any bad fd (negative, closed, never opened, huge) is EBADF
// and the references taken for earlier fds of the list are dropped
// (scm_destroy), so nothing is sent and nothing leaks.
#[test]
fn bad_fd_anywhere_in_the_list_is_ebadf() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, y] = w.socketpair(a, SOCK_SEQPACKET).unwrap();
    let f = w.memfd(a, b"f").unwrap();
    let c = w.memfd(a, b"c").unwrap();
    w.close(a, c).unwrap();
    let base = w.open_files();
    for bad in [-1, i32::MIN, c.as_raw(), 999, i32::MAX].map(Fd::from_raw) {
        for list in [vec![bad], vec![f, bad], vec![f, x, bad, f]] {
            assert_eq!(
                send(&w, a, x, b"k", &rights(&list)),
                Err(Errno::EBADF.into()),
                "{list:?}"
            );
            assert_eq!(w.open_files(), base);
        }
        // Bad fd in a second cmsg, after a good one.
        let two = CmsgBuilder::new().rights(&[f]).rights(&[bad]).finish();
        assert_eq!(send(&w, a, x, b"k", &two), Err(Errno::EBADF.into()));
    }
    w.close(a, f).unwrap();
    ok(&w);
    assert_eq!(w.open_files(), base - 1);
    assert_eq!(
        w.recvmsg(a, y, 16, BIG, MSG_DONTWAIT).unwrap_err(),
        Errno::EAGAIN
    );
    teardown(&w, &[a]);
}

// unix_stream_sendmsg: `while (sent < len)` never runs for a zero-length
// send, so the scm cookie (and its files) is destroyed and 0 returned.
#[test]
fn zero_length_stream_send_drops_the_rights() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [s, t] = w.socketpair(a, SOCK_STREAM).unwrap();
    let f = w.memfd(a, b"f").unwrap();
    let base = w.open_files();
    let msg = MsgHdr {
        name: None,
        iov: None,
        control: &rights(&[f]),
    };
    assert_eq!(w.sendmsg(a, s, &msg, MSG_DONTWAIT), Ok(0));
    ok(&w);
    assert_eq!(send(&w, a, s, b"", &rights(&[f])), Ok(0));
    assert_eq!(w.open_files(), base);
    assert_eq!(
        w.recvmsg(a, t, 16, BIG, MSG_DONTWAIT).unwrap_err(),
        Errno::EAGAIN
    );
    teardown(&w, &[a]);
}

// unix_dgram_sendmsg / unix_stream_sendmsg (6.16+): SCM_RIGHTS to a receiver
// with SO_PASSRIGHTS off is EPERM; the files are released.
#[test]
fn passrights_off_refuses_rights() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    for ty in [SOCK_DGRAM, SOCK_STREAM, SOCK_SEQPACKET] {
        let [x, y] = w.socketpair(a, ty).unwrap();
        set_int(&w, a, y, SO_PASSRIGHTS, 0);
        let f = w.memfd(a, b"f").unwrap();
        let base = w.open_files();
        assert_eq!(
            send(&w, a, x, b"r", &rights(&[f])),
            Err(Errno::EPERM.into()),
            "type {ty}"
        );
        assert_eq!(w.open_files(), base);
        assert_eq!(send(&w, a, x, b"d", &[]), Ok(1));
    }
    teardown(&w, &[a]);
}

// unix_stream_read_generic: a socket not in TCP_ESTABLISHED is EINVAL on
// receive; unix_stream_sendmsg: no peer is ENOTCONN (after scm_send took the
// files, which are released).
#[test]
fn unconnected_stream_send_and_receive() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let v = w.socket(a, SOCK_STREAM).unwrap();
    let f = w.memfd(a, b"f").unwrap();
    let base = w.open_files();
    assert_eq!(
        w.recvmsg(a, v, 16, BIG, MSG_DONTWAIT).unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(
        send(&w, a, v, b"x", &rights(&[f])),
        Err(Errno::ENOTCONN.into())
    );
    assert_eq!(w.open_files(), base);
    w.bind(a, v, b"\x01\x00\x00v").unwrap();
    w.listen(a, v, 1).unwrap();
    assert_eq!(
        w.recvmsg(a, v, 16, BIG, MSG_DONTWAIT).unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(
        send(&w, a, v, b"x", &rights(&[f])),
        Err(Errno::ENOTCONN.into())
    );
    assert_eq!(w.open_files(), base);
    teardown(&w, &[a]);
}

// unix_gc: a socket that holds itself in flight (and a two-socket cycle) is
// collected once no fd refers to it.
#[test]
fn gc_collects_cycles_after_exit() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, y] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(send(&w, a, x, b"s", &rights(&[x, y])), Ok(1));
    let [p, q] = w.socketpair(a, SOCK_STREAM).unwrap();
    assert_eq!(send(&w, a, p, b"s", &rights(&[q])), Ok(1));
    assert_eq!(send(&w, a, q, b"s", &rights(&[p])), Ok(1));
    w.close(a, x).unwrap();
    w.close(a, y).unwrap();
    w.close(a, p).unwrap();
    w.close(a, q).unwrap();
    ok(&w);
    assert_eq!(w.stat(), 4, "alive in flight until the collector runs");
    w.gc();
    ok(&w);
    assert_eq!(w.stat(), 0);
    teardown(&w, &[a]);
}

// Found by props_calls. Kernel (host backend): stat = 0 after exit + gc.
// unix_stream_sendmsg with len 0 destroys the scm cookie (scm_destroy) and
// takes no in-flight reference; the socket passed earlier and received back
// must be collectable like any other.
#[test]
fn zero_length_stream_send_of_a_once_passed_socket_leaks() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, y] = w.socketpair(a, SOCK_STREAM).unwrap();
    assert_eq!(send(&w, a, x, b"a", &rights(&[x])), Ok(1));
    let r = w.recvmsg(a, y, 1, BIG, MSG_DONTWAIT).unwrap();
    let g = r.rights()[0];
    assert_eq!(send(&w, a, y, b"", &rights(&[g])), Ok(0));
    teardown(&w, &[a]);
}

// unix_stream_read_generic: target = sock_rcvlowat(..., size 0) = 1, the
// queue is empty and timeo is 0 → -EAGAIN, even for a zero-length read.
#[test]
fn zero_length_receive_on_empty_stream_is_eagain() {
    let w = World::new();
    let a = w.spawn(&task(1000, 1024));
    let [x, _y] = w.socketpair(a, SOCK_STREAM).unwrap();
    assert_eq!(
        w.recvmsg(a, x, 0, BIG, MSG_DONTWAIT).map(|r| r.ret),
        Err(Errno::EAGAIN.into())
    );
    teardown(&w, &[a]);
}

/// No fd number reaches fs.nr_open: a huge RLIMIT_NOFILE is clamped, and
/// dup2 to a number past it is EBADF, without the model reserving room
/// for it.
#[test]
fn fd_numbers_stop_at_nr_open() {
    let w = World::new();
    let p = w.spawn(&TaskSpec {
        nofile: 1 << 40,
        ..TaskSpec::default()
    });
    let zero = Fd::from_raw(0);
    assert_eq!(
        w.dup2(p, zero, Fd::from_raw(2_000_000_000)).errno(),
        Err(Errno::EBADF)
    );
    assert_eq!(
        w.dup2(p, zero, Fd::from_raw((1 << 20) - 1)),
        Ok(Fd::from_raw((1 << 20) - 1))
    );
    assert_eq!(
        w.dup2(p, zero, Fd::from_raw(1 << 20)).errno(),
        Err(Errno::EBADF)
    );
}
