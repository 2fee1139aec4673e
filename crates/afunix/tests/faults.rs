//! Faults on demand: each point gives the answer Linux gives when it fails
//! there, only when asked, and leaves the model consistent.

use afunix::abi::consts::{MSG_DONTWAIT, POLLIN, SOCK_DGRAM, SOCK_STREAM};
use afunix::abi::sockaddr::UnixAddr;
use afunix::fault::{Fault, FaultPoint, When};
use afunix::{Errno, Pid, ResultExt, TaskSpec, World};
use std::sync::Arc;

fn world() -> (World, Pid) {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    (w, p)
}

fn nth(point: FaultPoint, pid: Option<Pid>, n: u64) -> Fault {
    Fault {
        point,
        pid,
        when: When::Nth(n),
    }
}

#[test]
fn an_skb_allocation_fails_the_nth_send_with_enobufs() {
    let (w, p) = world();
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    w.inject(nth(FaultPoint::SockAllocSendPskb, Some(p), 2));
    assert_eq!(w.send_with_fds(p, a, b"1", &[]), Ok(1));
    let e = w.send_with_fds(p, a, b"2", &[]).unwrap_err();
    assert_eq!(e, Errno::ENOBUFS);
    assert_eq!(e.rule.function(), Some("sock_alloc_send_pskb"));
    assert!(e.rule.text.contains("injected fault"));
    assert_eq!(w.send_with_fds(p, a, b"3", &[]), Ok(1));
    assert_eq!(w.take_fired(), vec![(FaultPoint::SockAllocSendPskb, p)]);
    assert_eq!(w.recvmsg(p, b, 8, 0, MSG_DONTWAIT).unwrap().data, b"1");
    assert_eq!(w.recvmsg(p, b, 8, 0, MSG_DONTWAIT).unwrap().data, b"3");
    assert_eq!(w.check_invariants(), Ok(()));
}

#[test]
fn a_fault_for_one_process_leaves_the_others_alone() {
    let (w, p) = world();
    let q = w.spawn(&TaskSpec::default());
    w.inject(nth(FaultPoint::UnixCreate1, Some(q), 1));
    assert!(w.socket(p, SOCK_DGRAM).is_ok());
    let e = w.socket(q, SOCK_DGRAM).unwrap_err();
    assert_eq!(e, Errno::ENOMEM);
    assert_eq!(e.rule.function(), Some("unix_create1"));
    // The fd the call reserved is free again.
    assert_eq!(w.socket(q, SOCK_DGRAM).map(|f| f.as_raw()), Ok(3));
}

#[test]
fn a_connect_whose_embryo_cannot_be_allocated_fails_before_the_listener_sees_it() {
    let (w, p) = world();
    let name = UnixAddr::Abstract(b"l".to_vec()).to_sockaddr();
    let l = w.socket(p, SOCK_STREAM).unwrap();
    w.bind(p, l, &name).unwrap();
    w.listen(p, l, 1).unwrap();
    let c = w.socket(p, SOCK_STREAM).unwrap();
    w.inject(nth(FaultPoint::UnixCreate1, None, 1));
    assert_eq!(w.connect(p, c, &name).errno(), Err(Errno::ENOMEM));
    // Nothing reached the listener.
    assert_eq!(
        w.poll(p, l, afunix::abi::consts::POLLIN),
        Ok(afunix::abi::PollFlags::empty())
    );
    assert_eq!(w.connect(p, c, &name), Ok(()));
}

#[test]
fn passing_files_fails_with_enomem_and_nothing_is_lost() {
    let (w, p) = world();
    let [a, _b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let f = w.memfd(p, b"x").unwrap();
    let before = w.open_files();
    w.inject(nth(FaultPoint::ScmFpCopy, None, 1));
    let e = w.send_with_fds(p, a, b"x", &[f]).unwrap_err();
    assert_eq!(e, Errno::ENOMEM);
    assert_eq!(e.rule.function(), Some("scm_fp_copy"));
    assert_eq!(w.open_files(), before);
    assert_eq!(w.check_invariants(), Ok(()));
}

#[test]
fn a_file_that_cannot_be_installed_is_dropped_with_msg_ctrunc() {
    let (w, p) = world();
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let f = w.memfd(p, b"1").unwrap();
    let g = w.memfd(p, b"2").unwrap();
    w.send_with_fds(p, a, b"x", &[f, g]).unwrap();
    w.close(p, f).unwrap();
    w.close(p, g).unwrap();
    // The second file of the message cannot be installed.
    w.inject(nth(FaultPoint::ReceiveFd, None, 2));
    let before = w.open_files();
    let m = w.recvmsg(p, b, 8, 64, MSG_DONTWAIT).unwrap();
    assert!(m.ctrunc());
    assert_eq!(m.rights().len(), 1);
    assert_eq!(w.read(p, m.rights()[0], 1).unwrap(), b"1");
    // The second memfd was released, not leaked.
    assert_eq!(w.open_files(), before - 1);
    assert_eq!(w.check_invariants(), Ok(()));
}

#[test]
fn a_signal_interrupts_a_call_that_sleeps_and_a_short_write_returns_what_was_queued() {
    let (w, p) = world();
    let w = Arc::new(w);
    let [a, b] = w.socketpair(p, SOCK_STREAM).unwrap();
    w.inject(nth(FaultPoint::Signal, Some(p), 1));
    let e = w.recvmsg(p, b, 8, 0, 0).unwrap_err();
    assert_eq!(e, Errno::EINTR);
    w.inject(nth(FaultPoint::ShortWrite, Some(p), 1));
    let big = vec![1u8; 300_000];
    let sent = w.send_with_fds(p, a, &big, &[]).unwrap();
    assert!(sent > 0 && sent < big.len(), "{sent}");
    let mut got = 0;
    while let Ok(m) = w.recvmsg(p, b, 1 << 20, 0, MSG_DONTWAIT) {
        got += m.data.len();
    }
    assert_eq!(got, sent);
}

/// Random faults come from the world's seeded generator: the same seed
/// gives the same failures.
#[test]
fn random_faults_repeat_with_the_seed() {
    let run = |seed: u32| -> Vec<bool> {
        let (w, p) = world();
        w.seed(seed);
        let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
        w.inject(Fault {
            point: FaultPoint::SockAllocSendPskb,
            pid: None,
            when: When::Random(0.5),
        });
        (0..64)
            .map(|_| {
                let ok = w.send_with_fds(p, a, b"x", &[]).is_ok();
                let _ = w.recvmsg(p, b, 8, 0, MSG_DONTWAIT);
                ok
            })
            .collect()
    };
    let one = run(7);
    assert_eq!(one, run(7));
    assert_ne!(one, run(8));
    let fails = one.iter().filter(|ok| !**ok).count();
    assert!((10..=54).contains(&fails), "{fails} of 64 failed at p=0.5");
}

#[path = "../examples/ctrunc.rs"]
mod ctrunc;

/// The example's two receivers under the same fault: the careful one
/// survives MSG_CTRUNC, the naive one leaks the fd it got.
#[test]
fn under_msg_ctrunc_the_careful_receiver_survives_and_the_naive_one_leaks() {
    let [(_, careful), (_, naive)] = ctrunc::RECEIVERS;
    assert_eq!(ctrunc::run(careful), (ctrunc::Outcome::Refused, 0));
    assert_eq!(ctrunc::run(naive), (ctrunc::Outcome::GaveUp, 1));
}

/// Two readers sleep on one datagram socket, the first before the second;
/// one datagram comes. The kernel wakes the oldest exclusive sleeper, so
/// the first reader gets it, unless `wake_order` fires for the second
/// (it joined ahead, as a reader that was running would be served first).
fn who_gets_the_first_datagram(wake_order_for_second: bool) -> (Vec<u8>, Vec<u8>, Vec<String>) {
    let w = World::new();
    let parent = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(parent, SOCK_DGRAM).unwrap();
    let first = w.fork(parent).unwrap();
    let second = w.fork(parent).unwrap();
    if wake_order_for_second {
        w.inject(nth(FaultPoint::WakeOrder, Some(second), 1));
    }
    let wait_asleep = |p: Pid| {
        while !w.is_sleeping(p) {
            std::thread::yield_now();
        }
    };
    std::thread::scope(|t| {
        let r1 = t.spawn(|| w.recvmsg(first, b, 16, 0, 0).unwrap().data);
        wait_asleep(first);
        let r2 = t.spawn(|| w.recvmsg(second, b, 16, 0, 0).unwrap().data);
        wait_asleep(second);
        w.send_with_fds(parent, a, b"one", &[]).unwrap();
        // Only one of them is woken and served; the other sleeps on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while w.is_sleeping(first) == w.is_sleeping(second) {
            assert!(
                std::time::Instant::now() < deadline,
                "both asleep or both awake"
            );
            std::thread::yield_now();
        }
        // And the woken one has taken it: else the second datagram could
        // wake the other, which may look first and take "one".
        while w
            .poll(parent, b, POLLIN)
            .is_ok_and(|r| r.contains(afunix::abi::PollFlags::IN))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the woken reader never took the datagram"
            );
            std::thread::yield_now();
        }
        w.send_with_fds(parent, a, b"two", &[]).unwrap();
        let fired = w
            .take_fired()
            .iter()
            .map(|(p, _)| p.name().to_string())
            .collect();
        (r1.join().unwrap(), r2.join().unwrap(), fired)
    })
}

#[test]
fn wake_order_serves_a_later_sleeper_first_only_when_asked() {
    let (r1, r2, fired) = who_gets_the_first_datagram(false);
    assert_eq!((r1.as_slice(), r2.as_slice()), (&b"one"[..], &b"two"[..]));
    assert!(fired.is_empty());
    let (r1, r2, fired) = who_gets_the_first_datagram(true);
    assert_eq!((r1.as_slice(), r2.as_slice()), (&b"two"[..], &b"one"[..]));
    assert_eq!(fired, ["wake_order"]);
}

/// A signal whose handler has `SA_RESTART` (`signal_restart`): the call is
/// made again from its entry and sleeps on, so the program never sees it;
/// where Linux does not restart (a socket wait with a timeout, `poll`) it
/// is `EINTR`; a stream send that queued part returns that part.
#[test]
fn a_signal_with_sa_restart_restarts_the_call_except_where_linux_does_not() {
    use afunix::abi::consts::{SOL_SOCKET, SO_RCVTIMEO};
    let (w, p) = world();
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let peer = w.fork(p).unwrap();
    // At every sleep: a restarted call still sleeps once before the next.
    w.inject(Fault {
        point: FaultPoint::SignalRestart,
        pid: Some(p),
        when: When::Random(1.0),
    });
    std::thread::scope(|t| {
        let r = t.spawn(|| w.with_path(|| w.recvmsg(p, b, 16, 0, 0)));
        while !w.is_sleeping(p) {
            std::thread::yield_now();
        }
        w.send_with_fds(peer, a, b"late", &[]).unwrap();
        let (m, path) = r.join().unwrap();
        assert_eq!(m.unwrap().data, b"late");
        let entries = path.iter().filter(|s| *s == "__sys_recvmsg").count();
        assert_eq!(entries, 2, "{path:?}");
        assert!(
            path.iter().any(|s| s == "(restarted (SA_RESTART))"),
            "{path:?}"
        );
    });
    assert!(w
        .take_fired()
        .iter()
        .all(|f| *f == (FaultPoint::SignalRestart, p)));

    // sock_intr_errno(timeo): with SO_RCVTIMEO the wait is not restarted.
    let mut tv = [0u8; 16];
    tv[..8].copy_from_slice(&5i64.to_ne_bytes());
    w.setsockopt(p, b, SOL_SOCKET, SO_RCVTIMEO, &tv).unwrap();
    let e = w.recvmsg(p, b, 16, 0, 0).unwrap_err();
    assert_eq!(e, Errno::EINTR);
    assert_eq!(e.rule.function(), Some("handle_signal"));
    // do_poll's ERESTARTNOHAND: a handler ran, so EINTR.
    assert_eq!(w.poll_fds(p, &[b], POLLIN, 5000).unwrap_err(), Errno::EINTR);

    // A stream send that queued part before it slept returns that part.
    let [s, r] = w.socketpair(p, SOCK_STREAM).unwrap();
    let big = vec![7u8; 300_000];
    let sent = w.send_with_fds(p, s, &big, &[]).unwrap();
    assert!(sent > 0 && sent < big.len(), "{sent}");
    let mut got = 0;
    while let Ok(m) = w.recvmsg(p, r, 1 << 20, 0, MSG_DONTWAIT) {
        got += m.data.len();
    }
    assert_eq!(got, sent);
    assert_eq!(w.check_invariants(), Ok(()));
}
