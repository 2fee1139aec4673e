//! A thread remembers its last fd lookups (`fdget` without a lock, as the
//! kernel's `__fget_files_rcu`): a remembered lookup must never name a
//! file its fd no longer names, in this process or any other, in this
//! world or another, nor keep a released file alive.

use afunix::abi::consts::*;
use afunix::{Errno, Fd, TaskSpec, World};

/// Whether `fd` of `pid` reaches the peer `peer`: a datagram sent on it is
/// read there.
fn reaches(w: &World, pid: afunix::Pid, fd: Fd, peer: Fd) -> bool {
    w.send_with_fds(pid, fd, b"?", &[]).unwrap();
    w.recvmsg(pid, peer, 8, 0, MSG_DONTWAIT).is_ok()
}

#[test]
fn a_remembered_lookup_follows_close_reuse_and_dup2() {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    assert!(reaches(&w, p, a, b));
    w.close(p, a).unwrap();
    assert_eq!(w.send_with_fds(p, a, b"x", &[]).unwrap_err(), Errno::EBADF);
    // The number comes back with another file: lookups find that one.
    let [a2, c] = w.socketpair(p, SOCK_DGRAM).unwrap();
    assert_eq!(a2, a);
    assert!(reaches(&w, p, a, c));
    assert_eq!(
        w.recvmsg(p, b, 8, 0, MSG_DONTWAIT).unwrap_err(),
        Errno::EAGAIN
    );
    // dup2 over an open fd replaces what it names.
    let [d, e] = w.socketpair(p, SOCK_DGRAM).unwrap();
    assert!(reaches(&w, p, a, c));
    w.dup2(p, d, a).unwrap();
    assert!(reaches(&w, p, a, e));
    assert_eq!(
        w.recvmsg(p, c, 8, 0, MSG_DONTWAIT).unwrap_err(),
        Errno::EAGAIN
    );
    // After exit, no lookup of its fds succeeds.
    w.exit(p).unwrap();
    assert_eq!(w.send_with_fds(p, a, b"x", &[]).unwrap_err(), Errno::ESRCH);
    assert_eq!(w.open_files(), 0);
}

#[test]
fn lookups_never_mix_processes_or_worlds() {
    let (w1, w2) = (World::new(), World::new());
    let p1 = w1.spawn(&TaskSpec::default());
    let p2 = w2.spawn(&TaskSpec::default());
    // The same pid and the same fd numbers in both worlds.
    assert_eq!(p1, p2);
    let [a1, b1] = w1.socketpair(p1, SOCK_DGRAM).unwrap();
    let [a2, b2] = w2.socketpair(p2, SOCK_DGRAM).unwrap();
    assert_eq!((a1, b1), (a2, b2));
    assert!(reaches(&w1, p1, a1, b1));
    assert!(reaches(&w2, p2, a2, b2));
    assert_eq!(
        w1.recvmsg(p1, b1, 8, 0, MSG_DONTWAIT).unwrap_err(),
        Errno::EAGAIN
    );
    // A fork's table is its own: the parent's close leaves the child's fd.
    let child = w1.fork(p1).unwrap();
    assert!(reaches(&w1, child, a1, b1));
    w1.close(p1, a1).unwrap();
    assert_eq!(
        w1.send_with_fds(p1, a1, b"x", &[]).unwrap_err(),
        Errno::EBADF
    );
    assert!(reaches(&w1, child, a1, b1));
}

/// One thread sends on an fd while another closes it and puts a new
/// socketpair at its number, again and again: every send reaches a socket
/// the fd named at some moment or fails as a send on a closed fd (or a
/// full or dissolved pair) does, and once everything is closed no file is
/// left (a remembered lookup took no reference to a
/// file after its release and keeps none).
#[test]
fn a_lookup_racing_close_takes_no_released_file() {
    const ROUNDS: usize = 200_000;
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, _b] = w.socketpair(p, SOCK_DGRAM | SOCK_NONBLOCK).unwrap();
    let start = std::sync::Barrier::new(2);
    std::thread::scope(|t| {
        let sender = t.spawn(|| {
            start.wait();
            let mut sent = 0usize;
            for _ in 0..ROUNDS {
                match w.send_with_fds(p, a, b"x", &[]) {
                    Ok(_) => sent += 1,
                    // Closed, full, or its peer closed (the association
                    // dissolves: ECONNREFUSED, then ENOTCONN).
                    Err(e) => assert!(
                        [
                            Errno::EBADF,
                            Errno::EAGAIN,
                            Errno::ECONNREFUSED,
                            Errno::ENOTCONN
                        ]
                        .contains(&e.errno),
                        "{e:?}"
                    ),
                }
            }
            sent
        });
        let mut peer = None;
        start.wait();
        for _ in 0..ROUNDS / 10 {
            let _ = w.close(p, a);
            if let Some(y) = peer.take() {
                w.close(p, y).unwrap();
            }
            let [x, y] = w.socketpair(p, SOCK_DGRAM | SOCK_NONBLOCK).unwrap();
            assert_eq!(x, a);
            peer = Some(y);
        }
        assert!(sender.join().unwrap() > 0);
    });
    w.exit(p).unwrap();
    w.check_invariants().unwrap();
    assert_eq!(w.open_files(), 0);
}
