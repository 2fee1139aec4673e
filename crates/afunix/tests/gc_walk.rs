//! The collector's walk: by default exactly Linux 6.18's, including the
//! component it never frees (`mixed_lowpoint` in the kernel's selftests),
//! and, as an option, the walk of a kernel with the fix.
//!
//! The expected numbers were observed on Linux 6.18.44: with the edges
//! added in this order and no walk before the fourth, the kernel keeps the
//! three in-flight sockets for good (also with a reproducer outside afunix, in a fresh
//! network namespace). That run is not a scenario file because it is not
//! deterministic on a machine where `unix_tot_inflight` is already
//! non-zero: any unix close anywhere may then start a walk between the
//! sends, and a walk after each send frees everything (see
//! tests/scenarios/gc_scm_rights_mixed_lowpoint.scn).

use afunix::abi::cmsg::CmsgBuilder;
use afunix::abi::consts::SOCK_DGRAM;
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::{Fd, GcWalk, World};

/// scm_rights.c `mixed_lowpoint` on datagram socketpairs, edges added in
/// the selftest's order: 0→1, 1→2, 2→1, 1→0, then every fd closed.
fn mixed_lowpoint(w: &World) {
    let a = w.spawn(&TaskSpec {
        uid: 0,
        gid: 0,
        groups: vec![0],
        nofile: 1024,
        ..TaskSpec::default()
    });
    let pairs: Vec<[Fd; 2]> = (0..3)
        .map(|_| w.socketpair(a, SOCK_DGRAM).unwrap())
        .collect();
    // send_fd(x, y): fd[2x] twice over fd[2y+1], so it lands in fd[2y]'s queue.
    let send_fd = |x: usize, y: usize| {
        let c = CmsgBuilder::new()
            .rights(&[pairs[x][0], pairs[x][0]])
            .finish();
        let msg = MsgHdr {
            name: None,
            iov: Some(b"x"),
            control: &c,
        };
        assert_eq!(w.sendmsg(a, pairs[y][1], &msg, 0), Ok(1));
    };
    send_fd(0, 1);
    send_fd(1, 2);
    send_fd(2, 1);
    send_fd(1, 0);
    w.gc();
    assert_eq!(w.stat(), 6);
    for p in &pairs {
        w.close(a, p[0]).unwrap();
        w.close(a, p[1]).unwrap();
    }
    w.gc();
    assert_eq!(w.check_invariants(), Ok(()));
}

#[test]
fn linux_618_never_frees_the_mixed_lowpoint_component() {
    let w = World::new();
    mixed_lowpoint(&w);
    // The three in-flight sockets stay, as on the kernel; a later run
    // (the fast walk over the same grouping) does not free them either.
    assert_eq!(w.stat(), 3);
    w.gc();
    assert_eq!(w.stat(), 3);
}

#[test]
fn the_fixed_walk_frees_it() {
    let w = World::with_gc_walk(GcWalk::Fixed);
    mixed_lowpoint(&w);
    assert_eq!(w.stat(), 0);
    // Only the process's /dev/null (fds 0-2) is still open.
    assert_eq!(w.open_files(), 1);
}
