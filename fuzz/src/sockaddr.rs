//! Arbitrary `sockaddr_un` bytes through the address rules (issue 13).
//!
//! Input: byte 0 picks the call (bind, connect or sendto, on a dgram,
//! stream or seqpacket socket, by root or not); the rest is the address as
//! passed, with `addrlen` its length. Never a panic; the decoded address
//! round-trips through `to_sockaddr`; a bind that succeeds is read back by
//! `getsockname` as the same address; invariants after every call; after
//! every exit and a collection nothing is left.

use afunix::abi::consts::*;
use afunix::abi::sockaddr::{parse_user_addr, UnixAddr};
use afunix::net::socket::MsgHdr;
use afunix::{TaskSpec, World};

fn inv(w: &World) {
    if let Err(e) = w.check_invariants() {
        panic!("invariant broken: {e}");
    }
}

/// One input (the fuzz target's body; also replayed by `tests/regressions.rs`).
pub fn run(data: &[u8]) {
    let Some((&sel, addr)) = data.split_first() else {
        return;
    };
    // The wire rules alone: a decoded address round-trips.
    // (A 108-byte path without its NUL is accepted, as the kernel accepts
    // it; its re-encoding, NUL added, is one byte longer than a caller may
    // pass, so it is decoded, not validated again.)
    if let Ok(a) = parse_user_addr(addr) {
        assert_eq!(
            UnixAddr::from_sockaddr(&a.to_sockaddr()),
            a,
            "round trip of {addr:?}"
        );
    }
    let w = World::new();
    let uid = if sel & 1 != 0 { 0 } else { 1000 };
    let p = w.spawn(&TaskSpec {
        uid,
        gid: uid,
        groups: vec![uid],
        ..TaskSpec::default()
    });
    let ty = [SOCK_DGRAM, SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM][usize::from(sel >> 1 & 3)];
    let s = w.socket(p, ty).unwrap();
    // A peer bound to a fixed name, so that connects and sends can succeed.
    let peer = w.socket(p, ty).unwrap();
    let _ = w.bind(p, peer, &UnixAddr::Abstract(b"peer".to_vec()).to_sockaddr());
    if ty != SOCK_DGRAM {
        let _ = w.listen(p, peer, 4);
    }
    inv(&w);
    match sel >> 3 & 3 {
        0 => {
            if w.bind(p, s, addr).is_ok() {
                let got = UnixAddr::from_sockaddr(&w.getsockname(p, s).unwrap());
                match parse_user_addr(addr) {
                    Ok(want) => assert_eq!(got, want, "bound {addr:?}"),
                    // addrlen 2: autobind, an abstract name of 5 hex digits.
                    Err(_) => assert!(
                        addr.len() == 2 && matches!(&got, UnixAddr::Abstract(n) if n.len() == 5),
                        "bound {addr:?} as {got:?}"
                    ),
                }
            }
        }
        1 => {
            let _ = w.set_nonblock(p, s, true);
            let _ = w.connect(p, s, addr);
        }
        _ => {
            let msg = MsgHdr {
                name: Some(addr),
                iov: Some(b"x"),
                control: &[],
            };
            let _ = w.sendmsg(p, s, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
    }
    inv(&w);
    w.exit(p).unwrap();
    w.gc();
    inv(&w);
    assert_eq!(w.open_files(), 0, "files left");
    assert_eq!(w.socket_objects(), 0, "sockets left");
}
