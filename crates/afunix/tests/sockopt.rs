//! Socket options (`sk_setsockopt`, `sk_getsockopt`, `unix_setsockopt`,
//! `do_sock_setsockopt`/`do_sock_getsockopt`) through the public `World`
//! API. Every expected value is the answer of Linux 6.18 on the reference
//! machine: `replay_matches_the_kernel` replays the sequence recorded in
//! `tests/data/sockopt_linux_6_18.txt` (by `tests/data/sockopt_probe.py`)
//! for every option number 0..100 and every socket type; the other tests
//! encode scenarios 29-31 and the rules the recording does not reach.

use afunix::abi::consts::*;
use afunix::TaskSpec;
use afunix::{Errno, Fd, Pid, World};

fn task(uid: u32, groups: Vec<u32>) -> TaskSpec {
    TaskSpec {
        uid,
        gid: uid,
        groups,
        ..TaskSpec::default()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn get(w: &World, pid: Pid, fd: Fd, name: i32, optlen: i32) -> String {
    match w.getsockopt_len(pid, fd, SOL_SOCKET, name, optlen) {
        Ok((n, v)) => format!("{n}:{}", hex(&v)),
        Err((e, back)) => format!("E{}:{}", e.raw(), back.unwrap_or(optlen)),
    }
}

fn set(w: &World, pid: Pid, fd: Fd, name: i32, v: &[u8]) -> String {
    match w.setsockopt(pid, fd, SOL_SOCKET, name, v) {
        Ok(()) => "0".into(),
        Err(e) if e.is_model_gap() => "GAP".into(),
        Err(e) => format!("E{}", e.raw()),
    }
}

fn int(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

#[test]
fn replay_matches_the_kernel() {
    let data = include_str!("data/sockopt_linux_6_18.txt");
    let want: std::collections::HashMap<(String, String, i32, String), String> = data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                (f[0].into(), f[1].into(), f[2].parse().unwrap(), f[3].into()),
                f[4].into(),
            )
        })
        .collect();
    let mut s16 = int(1);
    s16.extend(int(5));
    s16.extend([0; 8]);
    let mut bad = Vec::new();
    let mut checked = 0;
    for (who, spec) in [("root", task(0, vec![])), ("user", task(1000, vec![1000]))] {
        for (tn, ty) in [
            ("stream", SOCK_STREAM),
            ("dgram", SOCK_DGRAM),
            ("seqpacket", SOCK_SEQPACKET),
        ] {
            let w = World::new();
            let pid = w.spawn(&spec);
            for opt in 0..100 {
                let [a, b] = w.socketpair(pid, ty).unwrap();
                let steps: Vec<(&str, String)> = vec![
                    ("g64", get(&w, pid, a, opt, 64)),
                    ("g0", get(&w, pid, a, opt, 0)),
                    ("g2", get(&w, pid, a, opt, 2)),
                    ("s2", set(&w, pid, a, opt, &[1, 0])),
                    ("s1", set(&w, pid, a, opt, &int(1))),
                    ("g64b", get(&w, pid, a, opt, 64)),
                    ("s7", set(&w, pid, a, opt, &int(7))),
                    ("g64c", get(&w, pid, a, opt, 64)),
                    ("sm1", set(&w, pid, a, opt, &int(-1))),
                    ("g64d", get(&w, pid, a, opt, 64)),
                    ("s0", set(&w, pid, a, opt, &int(0))),
                    ("g64e", get(&w, pid, a, opt, 64)),
                    ("s16", set(&w, pid, a, opt, &s16)),
                    ("g64f", get(&w, pid, a, opt, 64)),
                ];
                for (st, got) in steps {
                    if let Some(k) = want.get(&(who.into(), tn.into(), opt, st.into())) {
                        checked += 1;
                        if *k != got {
                            bad.push(format!(
                                "{who} {tn} opt {opt} {st}: kernel {k}, model {got}"
                            ));
                        }
                    }
                }
                w.close(pid, a).unwrap();
                w.close(pid, b).unwrap();
            }
        }
    }
    assert!(checked > 7500, "only {checked} answers checked");
    assert!(
        bad.is_empty(),
        "{} differences:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn tv(sec: i64, usec: i64) -> Vec<u8> {
    let mut b = sec.to_ne_bytes().to_vec();
    b.extend(usec.to_ne_bytes());
    b
}

fn world(spec: &TaskSpec) -> (World, Pid) {
    let w = World::new();
    let pid = w.spawn(spec);
    (w, pid)
}

fn val(w: &World, pid: Pid, fd: Fd, name: i32) -> i32 {
    let (n, v) = w.getsockopt_len(pid, fd, SOL_SOCKET, name, 4).unwrap();
    assert_eq!(n, 4);
    i32::from_ne_bytes(v.try_into().unwrap())
}

// Scenario 29: optlen is value-result.
#[test]
fn scenario_29_getsockopt_optlen() {
    let (w, a) = world(&task(1000, vec![1000, 2000, 3000]));
    let [fa, _] = w.socketpair(a, SOCK_STREAM).unwrap();
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_TYPE, 8),
        Ok((4, vec![1, 0, 0, 0]))
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_TYPE, 2),
        Ok((2, vec![1, 0]))
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_TYPE, -1),
        Err((Errno::EINVAL.into(), None))
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_PEERGROUPS, 4),
        Err((Errno::ERANGE.into(), Some(12)))
    );
    let (n, g) = w
        .getsockopt_len(a, fa, SOL_SOCKET, SO_PEERGROUPS, 12)
        .unwrap();
    assert_eq!(n, 12);
    let groups: Vec<u32> = g
        .chunks(4)
        .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(groups, [1000, 2000, 3000]);
    // The old interface keeps working on top of the new one.
    assert_eq!(
        w.getsockopt(a, fa, SOL_SOCKET, SO_TYPE, 4),
        Ok(vec![1, 0, 0, 0])
    );
}

// Scenario 30: raw setsockopt.
#[test]
fn scenario_30_setsockopt_raw() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [fa, _] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_SNDBUF, &[0, 0x10]),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_SNDBUF, &[0, 0x10, 0, 0, 0]),
        Ok(())
    );
    assert_eq!(val(&w, a, fa, SO_SNDBUF), 8192);
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, 9999, &int(1)),
        Err(Errno::ENOPROTOOPT.into())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_BROADCAST, &int(1)),
        Ok(())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_DONTROUTE, &int(1)),
        Ok(())
    );
    assert_eq!(
        w.setsockopt(a, fa, 6, 1, &int(1)),
        Err(Errno::EOPNOTSUPP.into())
    );
    assert_eq!(
        w.setsockopt(a, fa, 0, 1, &int(1)),
        Err(Errno::EOPNOTSUPP.into())
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_BROADCAST, 4),
        Ok((4, int(1)))
    );
}

// Scenario 31: struct timeval timeouts.
#[test]
fn scenario_31_timeout_tv_edom() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [_, b] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.setsockopt(a, b, SOL_SOCKET, SO_RCVTIMEO, &tv(0, 200_000)),
        Ok(())
    );
    assert_eq!(
        w.setsockopt(a, b, SOL_SOCKET, SO_RCVTIMEO, &tv(1, 1_000_000)),
        Err(Errno::EDOM.into())
    );
    assert_eq!(
        w.setsockopt(a, b, SOL_SOCKET, SO_RCVTIMEO, &tv(0, -1)),
        Err(Errno::EDOM.into())
    );
    assert_eq!(
        w.getsockopt_len(a, b, SOL_SOCKET, SO_RCVTIMEO, 16),
        Ok((16, tv(0, 200_000)))
    );
    assert_eq!(
        w.setsockopt(a, b, SOL_SOCKET, SO_RCVTIMEO, &tv(-1, 0)),
        Ok(())
    );
    assert_eq!(
        w.getsockopt_len(a, b, SOL_SOCKET, SO_RCVTIMEO, 16),
        Ok((16, tv(0, 0)))
    );
    assert_eq!(
        w.recvmsg(a, b, 1024, 0, 0).map(|_| ()),
        Err(Errno::EAGAIN.into())
    );
    // A short buffer gets the first bytes; the new option number is the same struct.
    assert_eq!(
        w.getsockopt_len(a, b, SOL_SOCKET, SO_RCVTIMEO, 8),
        Ok((8, vec![0; 8]))
    );
    assert_eq!(
        w.setsockopt(a, b, SOL_SOCKET, SO_SNDTIMEO_NEW, &tv(0, 1)),
        Ok(())
    );
    assert_eq!(
        w.getsockopt_len(a, b, SOL_SOCKET, SO_SNDTIMEO, 64),
        Ok((16, tv(0, 4000)))
    );
    assert_eq!(
        w.setsockopt(a, b, SOL_SOCKET, SO_SNDTIMEO_NEW, &tv(0, 1)[..15]),
        Err(Errno::EINVAL.into())
    );
}

// Scenario 32: SO_TYPE of SOCK_RAW is SOCK_DGRAM, SO_PROTOCOL is 0 for protocol 1.
#[test]
fn raw_type_and_protocol() {
    let (w, a) = world(&task(1000, vec![1000]));
    let r = w.socket(a, 3).unwrap();
    assert_eq!(val(&w, a, r, SO_TYPE), SOCK_DGRAM);
    let p = w.socket_with_protocol(a, SOCK_DGRAM, 1).unwrap();
    assert_eq!(val(&w, a, p, SO_PROTOCOL), 0);
    assert_eq!(val(&w, a, p, SO_DOMAIN), 1);
}

#[test]
fn other_levels_are_eopnotsupp_even_with_a_bad_optlen() {
    let (w, a) = world(&task(1000, vec![1000]));
    for ty in [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET] {
        let [fa, _] = w.socketpair(a, ty).unwrap();
        for level in [0, 6, 17, 41, 255, -1] {
            assert_eq!(
                w.getsockopt_len(a, fa, level, 1, -1),
                Err((Errno::EOPNOTSUPP.into(), None))
            );
            assert_eq!(
                w.setsockopt(a, fa, level, 1, &[]),
                Err(Errno::EOPNOTSUPP.into())
            );
        }
    }
}

#[test]
fn linger_round_trip_and_jiffies() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [fa, _] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let ling = |on: i32, l: i32| [int(on), int(l)].concat();
    let cases = [
        ((1, -1), (1, 0x978d_4fdf_u32 as i32)), // MAX_SCHEDULE_TIMEOUT / HZ, as an int
        ((1, i32::MAX), (1, i32::MAX)),
        ((0, 5), (0, i32::MAX)), // l_onoff 0 keeps sk_lingertime
        ((1, 0), (1, 0)),
        ((7, 3), (1, 3)),
    ];
    for ((on, l), (ron, rl)) in cases {
        assert_eq!(
            w.setsockopt(a, fa, SOL_SOCKET, SO_LINGER, &ling(on, l)),
            Ok(())
        );
        assert_eq!(
            w.getsockopt_len(a, fa, SOL_SOCKET, SO_LINGER, 8),
            Ok((8, ling(ron, rl)))
        );
        assert_eq!(
            w.getsockopt_len(a, fa, SOL_SOCKET, SO_LINGER, 4),
            Ok((4, int(ron)))
        );
    }
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_LINGER, &[1, 0, 0, 0, 1, 0, 0]),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_LINGER, &[ling(1, 3), int(9)].concat()),
        Ok(())
    );
}

#[test]
fn priority_needs_a_capability_outside_0_to_6() {
    let (w, u) = world(&task(1000, vec![1000]));
    let [fu, _] = w.socketpair(u, SOCK_STREAM).unwrap();
    assert_eq!(
        w.setsockopt(u, fu, SOL_SOCKET, SO_PRIORITY, &int(6)),
        Ok(())
    );
    assert_eq!(
        w.setsockopt(u, fu, SOL_SOCKET, SO_PRIORITY, &int(7)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        w.setsockopt(u, fu, SOL_SOCKET, SO_PRIORITY, &int(-1)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(val(&w, u, fu, SO_PRIORITY), 6);
    let r = w.spawn(&task(0, vec![]));
    let [fr, _] = w.socketpair(r, SOCK_STREAM).unwrap();
    assert_eq!(
        w.setsockopt(r, fr, SOL_SOCKET, SO_PRIORITY, &int(1000)),
        Ok(())
    );
    assert_eq!(val(&w, r, fr, SO_PRIORITY), 1000);
}

#[test]
fn peername_is_the_peer_address_and_refuses_a_longer_buffer() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [fa, _] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_PEERNAME, 2),
        Ok((2, vec![1, 0]))
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_PEERNAME, 0),
        Ok((0, vec![]))
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_PEERNAME, 3)
            .map(|_| ()),
        Err((Errno::EINVAL.into(), None))
    );
    let s = w.socket(a, SOCK_DGRAM).unwrap();
    let c = w.socket(a, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.getsockopt_len(a, c, SOL_SOCKET, SO_PEERNAME, 0)
            .map(|_| ()),
        Err((Errno::ENOTCONN.into(), None))
    );
    let addr = b"\x01\x00\x00abc";
    w.bind(a, s, addr).unwrap();
    w.connect(a, c, addr).unwrap();
    assert_eq!(
        w.getsockopt_len(a, c, SOL_SOCKET, SO_PEERNAME, 6),
        Ok((6, addr.to_vec()))
    );
    assert_eq!(
        w.getsockopt_len(a, c, SOL_SOCKET, SO_PEERNAME, 4),
        Ok((4, addr[..4].to_vec()))
    );
    assert_eq!(
        w.getsockopt_len(a, c, SOL_SOCKET, SO_PEERNAME, 64)
            .map(|_| ()),
        Err((Errno::EINVAL.into(), None))
    );
}

#[test]
fn get_filter_counts_instructions_and_lock_filter_freezes_it() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [fa, _] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_GET_FILTER, 64),
        Ok((0, vec![]))
    );
    // ret #0xffff; ret #0
    let prog = [[6u8, 0, 0, 0, 0xff, 0xff, 0, 0], [6, 0, 0, 0, 0, 0, 0, 0]].concat();
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_ATTACH_FILTER, &prog),
        Ok(())
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_GET_FILTER, 0),
        Ok((2, vec![]))
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_GET_FILTER, 1)
            .map(|_| ()),
        Err((Errno::EINVAL.into(), None))
    );
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_GET_FILTER, 64),
        Ok((2, prog[..2].to_vec()))
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_LOCK_FILTER, &int(1)),
        Ok(())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_ATTACH_FILTER, &prog),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_DETACH_FILTER, &int(0)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_ATTACH_BPF, &int(0)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_LOCK_FILTER, &int(0)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &int(0)),
        Err(Errno::EINVAL.into())
    );
    let [fb, _] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.setsockopt(a, fb, SOL_SOCKET, SO_ATTACH_BPF, &int(999)),
        Err(Errno::EBADF.into())
    );
    assert_eq!(
        w.setsockopt(a, fb, SOL_SOCKET, SO_ATTACH_BPF, &int(0)),
        Err(Errno::EINVAL.into())
    );
    // SO_ATTACH_REUSEPORT_CBPF takes a raw struct sock_fprog.
    let fprog = [int(1), int(0), vec![0; 8]].concat();
    assert_eq!(
        w.setsockopt(a, fb, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        w.setsockopt(a, fb, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog[..15]),
        Err(Errno::EINVAL.into())
    );
    // SO_ATTACH_FILTER: the backend's sock_fprog has len = bytes / 8.
    assert_eq!(
        w.setsockopt(a, fb, SOL_SOCKET, SO_ATTACH_FILTER, &prog[..12]),
        Ok(())
    );
    assert_eq!(
        w.getsockopt_len(a, fb, SOL_SOCKET, SO_GET_FILTER, 0),
        Ok((1, vec![]))
    );
    assert_eq!(
        w.setsockopt(a, fb, SOL_SOCKET, SO_DETACH_FILTER, &int(0)),
        Ok(())
    );
    assert_eq!(
        w.setsockopt(a, fb, SOL_SOCKET, SO_DETACH_FILTER, &int(0)),
        Err(Errno::ENOENT.into())
    );
}

#[test]
fn bind_to_device_knows_only_lo() {
    let (w, u) = world(&task(1000, vec![1000]));
    let [fa, _] = w.socketpair(u, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.setsockopt(u, fa, SOL_SOCKET, SO_BINDTODEVICE, b"eth99"),
        Err(Errno::ENODEV.into())
    );
    assert_eq!(
        w.getsockopt_len(u, fa, SOL_SOCKET, SO_BINDTODEVICE, 0),
        Ok((0, vec![]))
    );
    assert_eq!(
        w.setsockopt(u, fa, SOL_SOCKET, SO_BINDTODEVICE, b"lo"),
        Ok(())
    );
    assert_eq!(
        w.getsockopt_len(u, fa, SOL_SOCKET, SO_BINDTODEVICE, 16),
        Ok((3, b"lo\0".to_vec()))
    );
    assert_eq!(
        w.getsockopt_len(u, fa, SOL_SOCKET, SO_BINDTODEVICE, 3)
            .map(|_| ()),
        Err((Errno::EINVAL.into(), None))
    );
    assert_eq!(val(&w, u, fa, SO_BINDTOIFINDEX), 1);
    // Rebinding a bound socket needs CAP_NET_RAW; the name is looked up first.
    assert_eq!(
        w.setsockopt(u, fa, SOL_SOCKET, SO_BINDTODEVICE, b"lo"),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        w.setsockopt(u, fa, SOL_SOCKET, SO_BINDTODEVICE, b"eth99"),
        Err(Errno::ENODEV.into())
    );
    assert_eq!(
        w.setsockopt(u, fa, SOL_SOCKET, SO_BINDTOIFINDEX, &int(0)),
        Err(Errno::EPERM.into())
    );
    let r = w.spawn(&task(0, vec![]));
    let [fr, _] = w.socketpair(r, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.setsockopt(r, fr, SOL_SOCKET, SO_BINDTOIFINDEX, &int(7)),
        Ok(())
    );
    assert_eq!(
        w.getsockopt_len(r, fr, SOL_SOCKET, SO_BINDTODEVICE, 16)
            .map(|_| ()),
        Err((Errno::ENODEV.into(), None))
    );
    assert_eq!(
        w.setsockopt(r, fr, SOL_SOCKET, SO_BINDTOIFINDEX, &int(-1)),
        Err(Errno::EINVAL.into())
    );
}

#[test]
fn txtime_checks_flags_then_capability_then_clock() {
    let (w, u) = world(&task(1000, vec![1000]));
    let [fa, _] = w.socketpair(u, SOCK_DGRAM).unwrap();
    let t = |clk: i32, fl: i32| [int(clk), int(fl)].concat();
    assert_eq!(w.setsockopt(u, fa, SOL_SOCKET, SO_TXTIME, &t(1, 3)), Ok(()));
    assert_eq!(
        w.getsockopt_len(u, fa, SOL_SOCKET, SO_TXTIME, 64),
        Ok((8, t(1, 3)))
    );
    assert_eq!(
        w.setsockopt(u, fa, SOL_SOCKET, SO_TXTIME, &t(0, 4)),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        w.setsockopt(u, fa, SOL_SOCKET, SO_TXTIME, &t(0, 0)),
        Err(Errno::EPERM.into())
    );
    assert_eq!(
        w.setsockopt(u, fa, SOL_SOCKET, SO_TXTIME, &[t(1, 0), int(0)].concat()),
        Err(Errno::EINVAL.into())
    );
    let r = w.spawn(&task(0, vec![]));
    let [fr, _] = w.socketpair(r, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.setsockopt(r, fr, SOL_SOCKET, SO_TXTIME, &t(11, 1)),
        Ok(())
    );
    assert_eq!(
        w.setsockopt(r, fr, SOL_SOCKET, SO_TXTIME, &t(2, 0)),
        Err(Errno::EINVAL.into())
    );
}

#[test]
fn inq_is_a_stream_option_of_unix_setsockopt() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [s, _] = w.socketpair(a, SOCK_STREAM).unwrap();
    let [d, _] = w.socketpair(a, SOCK_DGRAM).unwrap();
    assert_eq!(w.setsockopt(a, s, SOL_SOCKET, SO_INQ, &int(1)), Ok(()));
    assert_eq!(
        w.setsockopt(a, s, SOL_SOCKET, SO_INQ, &int(2)),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        w.setsockopt(a, s, SOL_SOCKET, SO_INQ, &[int(1), int(0)].concat()),
        Err(Errno::EINVAL.into())
    );
    assert_eq!(
        w.setsockopt(a, d, SOL_SOCKET, SO_INQ, &int(1)),
        Err(Errno::ENOPROTOOPT.into())
    );
    // No getsockopt for it on 6.18.
    assert_eq!(
        w.getsockopt_len(a, s, SOL_SOCKET, SO_INQ, 4),
        Err((Errno::ENOPROTOOPT.into(), None))
    );
}

#[test]
fn peerpidfd_installs_the_fd_whatever_the_length() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [fa, _] = w.socketpair(a, SOCK_STREAM).unwrap();
    let (n, v) = w
        .getsockopt_len(a, fa, SOL_SOCKET, SO_PEERPIDFD, 0)
        .unwrap();
    assert_eq!((n, v), (0, vec![]));
    let (n, v) = w
        .getsockopt_len(a, fa, SOL_SOCKET, SO_PEERPIDFD, 64)
        .unwrap();
    assert_eq!(n, 4);
    // fds 3, 4: the pair; 5: the pidfd installed by the optlen 0 call.
    assert_eq!(i32::from_ne_bytes(v.try_into().unwrap()), 6);
    let u = w.socket(a, SOCK_STREAM).unwrap();
    assert_eq!(
        w.getsockopt_len(a, u, SOL_SOCKET, SO_PEERPIDFD, 4),
        Err((Errno::ENODATA.into(), None))
    );
    assert_eq!(
        w.getsockopt_len(a, u, SOL_SOCKET, SO_PEERGROUPS, 4),
        Err((Errno::ENODATA.into(), None))
    );
}

#[test]
fn buffer_sizes_set_the_buffer_locks() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [fa, _] = w.socketpair(a, SOCK_STREAM).unwrap();
    assert_eq!(val(&w, a, fa, SO_BUF_LOCK), 0);
    w.setsockopt(a, fa, SOL_SOCKET, SO_SNDBUF, &int(1)).unwrap();
    assert_eq!(val(&w, a, fa, SO_BUF_LOCK), 1);
    w.setsockopt(a, fa, SOL_SOCKET, SO_RCVBUF, &int(1)).unwrap();
    assert_eq!(val(&w, a, fa, SO_BUF_LOCK), 3);
    assert_eq!(
        w.setsockopt(a, fa, SOL_SOCKET, SO_BUF_LOCK, &int(4)),
        Err(Errno::EINVAL.into())
    );
    w.setsockopt(a, fa, SOL_SOCKET, SO_BUF_LOCK, &int(0))
        .unwrap();
    assert_eq!(val(&w, a, fa, SO_BUF_LOCK), 0);
}

#[test]
fn timestamps_are_flags_timestamping_zero_marks_new_or_old() {
    let (w, a) = world(&task(1000, vec![1000]));
    let state = |fd: Fd| -> Vec<i32> {
        [
            SO_TIMESTAMP_OLD,
            SO_TIMESTAMPNS_OLD,
            SO_TIMESTAMP_NEW,
            SO_TIMESTAMPNS_NEW,
        ]
        .iter()
        .map(|o| val(&w, a, fd, *o))
        .collect()
    };
    // Each case recorded on Linux 6.18 (stream sockets).
    type Case<'a> = (&'a [(i32, i32)], [i32; 4]);
    let cases: [Case; 8] = [
        (&[(SO_TIMESTAMPNS_NEW, 1)], [0, 0, 1, 1]),
        (
            &[(SO_TIMESTAMPNS_OLD, 1), (SO_TIMESTAMP_OLD, 1)],
            [1, 0, 0, 0],
        ),
        (
            &[(SO_TIMESTAMP_OLD, 1), (SO_TIMESTAMPNS_OLD, 0)],
            [0, 0, 0, 0],
        ),
        (
            &[(SO_TIMESTAMP_OLD, 1), (SO_TIMESTAMPING_NEW, 0)],
            [0, 0, 1, 0],
        ),
        (
            &[(SO_TIMESTAMP_OLD, 1), (SO_TIMESTAMPING_OLD, 0)],
            [1, 0, 0, 0],
        ),
        (
            &[(SO_TIMESTAMP_NEW, 1), (SO_TIMESTAMPING_OLD, 0)],
            [1, 0, 0, 0],
        ),
        (
            &[(SO_TIMESTAMPNS_OLD, 1), (SO_TIMESTAMP_NEW, 1)],
            [0, 0, 1, 0],
        ),
        (
            &[(SO_TIMESTAMPNS_NEW, 1), (SO_TIMESTAMP_OLD, 1)],
            [1, 0, 0, 0],
        ),
    ];
    // (The flags are the socket's, whatever its type: sk_setsockopt.)
    for ty in [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET] {
        for (seq, want) in cases {
            let [fa, _] = w.socketpair(a, ty).unwrap();
            for (o, v) in seq {
                w.setsockopt(a, fa, SOL_SOCKET, *o, &int(*v)).unwrap();
            }
            assert_eq!(state(fa), want, "type {ty}: {seq:?}");
        }
    }
}

#[test]
fn meminfo_counts_the_senders_memory() {
    let (w, a) = world(&task(1000, vec![1000]));
    let [fa, fb] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let msg = afunix::net::socket::MsgHdr {
        name: None,
        iov: Some(&[b'x'; 100]),
        control: &[],
    };
    w.sendmsg(a, fa, &msg, MSG_DONTWAIT).unwrap();
    let words = |fd| -> Vec<u32> {
        let (n, v) = w.getsockopt_len(a, fd, SOL_SOCKET, SO_MEMINFO, 64).unwrap();
        assert_eq!(n, 36);
        v.chunks(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    };
    // Recorded on 6.18: the sender's wmem_alloc is the skb's truesize.
    assert_eq!(words(fa), [0, 212_992, 768, 212_992, 0, 0, 0, 0, 0]);
    assert_eq!(words(fb), [0, 212_992, 0, 212_992, 0, 0, 0, 0, 0]);
    assert_eq!(
        w.getsockopt_len(a, fa, SOL_SOCKET, SO_MEMINFO, 8)
            .map(|r| r.0),
        Ok(8)
    );
}

/// Option values and addresses as types, in and out, as the kernel
/// answers them in bytes.
#[test]
fn typed_option_values_and_addresses() {
    use afunix::abi::consts::{SOL_SOCKET, SO_LINGER, SO_PEERCRED, SO_RCVBUF, SO_RCVTIMEO};
    use afunix::abi::{Linger, SocketType, Timeval, Ucred, UnixAddr};
    let w = afunix::World::new();
    let p = w.spawn(&afunix::TaskSpec::default());
    let l = w.socket(p, SocketType::STREAM).unwrap();
    let srv = UnixAddr::abstract_name("typed");
    w.bind_addr(p, l, &srv).unwrap();
    w.listen(p, l, 4).unwrap();
    let c = w.socket(p, SocketType::STREAM).unwrap();
    w.connect_addr(p, c, &srv).unwrap();
    assert_eq!(w.getsockname_addr(p, l), Ok(srv.clone()));
    assert_eq!(w.getpeername_addr(p, c), Ok(srv));
    // An int the kernel doubles (sk_rcvbuf = 2 * val).
    w.setsockopt_value(p, c, SOL_SOCKET, SO_RCVBUF, &4096i32)
        .unwrap();
    assert_eq!(
        w.getsockopt_value::<i32>(p, c, SOL_SOCKET, SO_RCVBUF),
        Ok(8192)
    );
    // A timeval read back in jiffies, 8 ms is exact at HZ 250.
    let tv = Timeval { sec: 1, usec: 8000 };
    w.setsockopt_value(p, c, SOL_SOCKET, SO_RCVTIMEO, &tv)
        .unwrap();
    assert_eq!(w.getsockopt_value(p, c, SOL_SOCKET, SO_RCVTIMEO), Ok(tv));
    let linger = Linger {
        onoff: 1,
        linger: 3,
    };
    w.setsockopt_value(p, c, SOL_SOCKET, SO_LINGER, &linger)
        .unwrap();
    assert_eq!(w.getsockopt_value(p, c, SOL_SOCKET, SO_LINGER), Ok(linger));
    let cred: Ucred = w.getsockopt_value(p, c, SOL_SOCKET, SO_PEERCRED).unwrap();
    assert_eq!((cred.pid, cred.uid), (p.as_raw(), 1000));
}
