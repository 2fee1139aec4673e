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
