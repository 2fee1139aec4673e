//! Arbitrary control bytes through `sendmsg` (issue #2, "Bad input").
//!
//! Input: byte 0 picks the sender (root or not), the socket type, whether the
//! receiver has SO_PASSCRED, and the receive's control buffer size; the rest
//! is `msg_control`. The sender holds a socketpair, two memfds, a pipe and a
//! lone socket (fds 3–9). Never a panic; invariants after every call; a
//! failed send queues nothing and changes no file count; a successful one is
//! received; after every exit and a collection nothing is left.

use afunix::abi::consts::*;
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::World;

fn inv(w: &World) {
    if let Err(e) = w.check_invariants() {
        panic!("invariant broken: {e}");
    }
}

/// One input (the fuzz target's body; also replayed by `tests/regressions.rs`).
pub fn run(data: &[u8]) {
    let Some((&sel, control)) = data.split_first() else {
        return;
    };
    let w = World::new();
    let root = w.spawn(&TaskSpec {
        uid: 0,
        gid: 0,
        groups: vec![0],
        nofile: 1024,
        ..TaskSpec::default()
    });
    let user = w.spawn(&TaskSpec::default());
    let tx = if sel & 1 != 0 { root } else { user };
    let ty = [SOCK_DGRAM, SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM][usize::from(sel >> 1 & 3)];
    let [a, b] = w.socketpair(tx, ty).unwrap();
    w.memfd(tx, b"one").unwrap();
    w.memfd(tx, b"two").unwrap();
    w.pipe2(tx, O_NONBLOCK).unwrap();
    w.socket(tx, SOCK_DGRAM).unwrap();
    if sel & 8 != 0 {
        w.setsockopt(tx, b, SOL_SOCKET, SO_PASSCRED, &1i32.to_ne_bytes())
            .unwrap();
    }
    let rx = w.fork(tx).unwrap();
    inv(&w);
    let files = w.open_files();
    let msg = MsgHdr {
        name: None,
        iov: Some(b"x"),
        control,
    };
    let sent = w.sendmsg(tx, a, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    inv(&w);
    assert_eq!(w.open_files(), files, "a send opens or closes no file");
    let space = [0usize, 20, 24, 4096][usize::from(sel >> 4 & 3)];
    let got = w.recvmsg(rx, b, 16, space, MSG_DONTWAIT);
    inv(&w);
    match sent {
        Ok(n) => {
            assert_eq!(n, 1);
            assert_eq!(got.map(|r| r.data), Ok(b"x".to_vec()));
        }
        Err(_) => assert_eq!(got.map(|_| ()), Err(afunix::Errno::EAGAIN.into())),
    }
    for p in [root, user, rx] {
        w.exit(p).unwrap();
        inv(&w);
    }
    w.gc();
    inv(&w);
    assert_eq!(w.open_files(), 0);
    assert_eq!(w.stat(), 0);
}
