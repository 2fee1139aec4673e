//! The path of a call (`World::with_path`): the kernel functions it went
//! through, in order, and the decisions on the way, with their values.

use afunix::abi::consts::{SOCK_DGRAM, SOL_SOCKET, SO_SNDBUF};
use afunix::{Errno, TaskSpec, World};

#[test]
fn a_send_with_a_file_goes_through_scm_and_says_where_it_queued() {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let f = w.memfd(p, b"x").unwrap();
    let (r, path) = w.with_path(|| w.send_with_fds(p, a, b"hi", &[f]));
    assert_eq!(r, Ok(2));
    assert_eq!(
        path,
        [
            "__sys_sendmsg",
            "sock_sendmsg",
            "unix_dgram_sendmsg",
            "__scm_send",
            "scm_fp_copy",
            "(queued 2 bytes on #2 with 1 files)"
        ]
    );
    // fds 3, 4: the pair; 5: the memfd; the received copy is 6.
    let (_, path) = w.with_path(|| w.recvmsg(p, b, 8, 64, 0));
    assert_eq!(
        path.last().map(String::as_str),
        Some("(installed 1 fds [6])")
    );
    // Off: nothing is recorded.
    w.send_with_fds(p, a, b"hi", &[]).unwrap();
    let (_, path) = w.with_path(|| ());
    assert!(path.is_empty());
}

#[test]
fn an_error_comes_with_the_values_that_decided_it() {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, _b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    w.setsockopt(p, a, SOL_SOCKET, SO_SNDBUF, &4096i32.to_ne_bytes())
        .unwrap();
    let big = vec![0u8; 20_000];
    let (r, path) = w.with_path(|| w.send_with_fds(p, a, &big, &[]));
    assert_eq!(r.unwrap_err(), Errno::EMSGSIZE);
    assert!(
        path.contains(&"(20000 bytes > sk_sndbuf 8192 - 32)".to_string()),
        "{path:?}"
    );
    assert_eq!(
        afunix::path::render(&["a".into(), "b".into(), "b".into()]),
        "a → b ×2"
    );
}

/// The decisions behind EPERM, EMFILE and ETOOMANYREFS name the values
/// that decided them: who the receiver is connected to, the claimed and
/// the real credentials, the fd limit, the files in flight.
#[test]
fn refusals_say_what_decided_them() {
    use afunix::abi::cmsg::CmsgBuilder;
    use afunix::abi::sockaddr::UnixAddr;
    use afunix::abi::ucred::Ucred;
    use afunix::net::socket::MsgHdr;
    let w = World::new();
    let p = w.spawn(&TaskSpec {
        nofile: 8,
        ..TaskSpec::default()
    });
    let notes = |path: Vec<String>| -> Vec<String> {
        path.into_iter().filter(|s| s.starts_with('(')).collect()
    };
    // unix_may_send: #s is connected to #t, not to the sender.
    let srv = UnixAddr::abstract_name("srv").to_sockaddr();
    let s = w.socket(p, SOCK_DGRAM).unwrap();
    w.bind(p, s, &srv).unwrap();
    let t = w.socket(p, SOCK_DGRAM).unwrap();
    w.bind(p, t, &UnixAddr::abstract_name("t").to_sockaddr())
        .unwrap();
    w.connect(p, s, &UnixAddr::abstract_name("t").to_sockaddr())
        .unwrap();
    let u = w.socket(p, SOCK_DGRAM).unwrap();
    let (r, path) = w.with_path(|| w.connect(p, u, &srv));
    assert_eq!(r.unwrap_err(), Errno::EPERM);
    assert_eq!(
        notes(path),
        ["(@srv is #1)", "(#1 is connected to #2, not to #3)"]
    );
    // scm_check_creds: the claim and the sender's ids.
    let control = CmsgBuilder::new()
        .creds(Ucred {
            pid: p.as_raw(),
            uid: 0,
            gid: 1000,
        })
        .finish();
    let msg = MsgHdr {
        name: Some(&srv),
        iov: Some(b"x"),
        control: &control,
    };
    let (r, path) = w.with_path(|| w.sendmsg(p, u, &msg, 0));
    assert_eq!(r.unwrap_err(), Errno::EPERM);
    let want = format!(
        "(claimed pid {0} uid 0 gid 1000; the sender is pid {0}, uid/euid/suid 1000/1000/1000, gid/egid/sgid 1000/1000/1000)",
        p.as_raw()
    );
    assert_eq!(notes(path), [want]);
    // alloc_fd: the lowest free fd against RLIMIT_NOFILE (fds 0-7 in use).
    let [_x, _y] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let (r, path) = w.with_path(|| w.memfd(p, b""));
    assert_eq!(r.unwrap_err(), Errno::EMFILE);
    assert_eq!(notes(path), ["(the lowest free fd is 8, RLIMIT_NOFILE 8)"]);
}
