//! Per-call interruption (`afunix::Interrupt`): a raise interrupts the one
//! call sleeping under it, with the errno Linux's wait returns there, after
//! what the call already transferred, and leaves every other call alone.

use afunix::abi::consts::{MSG_DONTWAIT, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET, SO_RCVTIMEO};
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::{Errno, Fd, Interrupt, Pid, World};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn world() -> (Arc<World>, Pid) {
    let w = Arc::new(World::new());
    let p = w.spawn(&TaskSpec::default());
    (w, p)
}

/// Wait until `n` calls of `p` sleep in the model.
fn until_sleeping(w: &World, p: Pid) {
    let end = Instant::now() + Duration::from_secs(10);
    while !w.is_sleeping(p) {
        assert!(Instant::now() < end, "the call never slept");
        thread::sleep(Duration::from_millis(1));
    }
}

fn send(w: &World, p: Pid, fd: Fd, data: &[u8]) -> afunix::SysResult<usize> {
    let msg = MsgHdr {
        name: None,
        iov: Some(data),
        control: &[],
    };
    w.sendmsg(p, fd, &msg, 0)
}

/// A blocked recv, on its own thread, under `sig`.
fn blocked_recv(
    w: &Arc<World>,
    p: Pid,
    fd: Fd,
    sig: &Interrupt,
) -> thread::JoinHandle<afunix::SysResult<Vec<u8>>> {
    let (w, sig) = (Arc::clone(w), sig.clone());
    thread::spawn(move || w.interruptible(&sig, || w.recvmsg(p, fd, 64, 0, 0).map(|m| m.data)))
}

#[test]
fn a_raise_interrupts_only_its_call_with_erestartsys() {
    let (w, p) = world();
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let [c, d] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let (s1, s2) = (Interrupt::new(), Interrupt::new());
    let t1 = blocked_recv(&w, p, a, &s1);
    let t2 = blocked_recv(&w, p, c, &s2);
    until_sleeping(&w, p);
    thread::sleep(Duration::from_millis(20));
    s1.raise();
    let e = t1.join().unwrap().unwrap_err();
    // sock_intr_errno(MAX_SCHEDULE_TIMEOUT): no SO_RCVTIMEO.
    assert_eq!(e, Errno::ERESTARTSYS);
    assert_eq!(e.rule.function(), Some("sock_intr_errno"));
    // The other call still sleeps, and completes normally.
    assert!(!t2.is_finished());
    assert_eq!(send(&w, p, d, b"hi"), Ok(2));
    assert_eq!(t2.join().unwrap().unwrap(), b"hi");
    // The raise was taken: the next call under s1 blocks again (here it
    // finds data at once).
    assert!(!s1.is_raised());
    assert_eq!(send(&w, p, b, b"x"), Ok(1));
    let r = w.interruptible(&s1, || w.recvmsg(p, a, 8, 0, 0)).unwrap();
    assert_eq!(r.data, b"x");
    assert_eq!(w.check_invariants(), Ok(()));
}

#[test]
fn with_a_receive_timeout_the_interrupt_is_eintr() {
    let (w, p) = world();
    let [a, _b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let mut tv = [0u8; 16];
    tv[..8].copy_from_slice(&60i64.to_ne_bytes());
    w.setsockopt(p, a, SOL_SOCKET, SO_RCVTIMEO, &tv).unwrap();
    let sig = Interrupt::new();
    let t = blocked_recv(&w, p, a, &sig);
    until_sleeping(&w, p);
    sig.raise();
    assert_eq!(t.join().unwrap().unwrap_err(), Errno::EINTR);
}

#[test]
fn a_raise_before_the_call_sleeps_returns_at_once_and_a_ready_call_ignores_it() {
    let (w, p) = world();
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let sig = Interrupt::new();
    sig.raise();
    // A call that need not sleep completes and leaves the signal pending.
    assert_eq!(send(&w, p, b, b"x"), Ok(1));
    let r = w.interruptible(&sig, || w.recvmsg(p, a, 8, 0, 0)).unwrap();
    assert_eq!(r.data, b"x");
    assert!(sig.is_raised());
    let e = w
        .interruptible(&sig, || w.recvmsg(p, a, 8, 0, 0))
        .unwrap_err();
    assert_eq!(e, Errno::ERESTARTSYS);
    // Non-blocking calls never look at it.
    sig.raise();
    let e = w
        .interruptible(&sig, || w.recvmsg(p, a, 8, 0, MSG_DONTWAIT))
        .unwrap_err();
    assert_eq!(e, Errno::EAGAIN);
}

#[test]
fn an_interrupted_stream_send_returns_what_it_queued() {
    let (w, p) = world();
    let [a, b] = w.socketpair(p, SOCK_STREAM).unwrap();
    let sig = Interrupt::new();
    let big = vec![7u8; 4 << 20];
    let (w2, sig2) = (Arc::clone(&w), sig.clone());
    let t = thread::spawn(move || w2.interruptible(&sig2, || send(&w2, p, a, &big)));
    until_sleeping(&w, p);
    sig.raise();
    let sent = t.join().unwrap().unwrap();
    assert!(sent > 0 && sent < 4 << 20, "sent {sent}");
    // Exactly that much is readable.
    let mut got = 0;
    while let Ok(m) = w.recvmsg(p, b, 1 << 20, 0, MSG_DONTWAIT) {
        got += m.data.len();
    }
    assert_eq!(got, sent);
}

#[test]
fn pipes_and_poll_give_their_own_restart_errnos() {
    let (w, p) = world();
    let [r, _wr] = w.pipe2(p, 0).unwrap();
    let sig = Interrupt::new();
    let (w2, sig2) = (Arc::clone(&w), sig.clone());
    let t = thread::spawn(move || w2.interruptible(&sig2, || w2.read(p, r, 8)));
    until_sleeping(&w, p);
    sig.raise();
    assert_eq!(t.join().unwrap().unwrap_err(), Errno::ERESTARTSYS);

    let [a, _b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let (w2, sig2) = (Arc::clone(&w), sig.clone());
    let t = thread::spawn(move || w2.interruptible(&sig2, || w2.poll_fds(p, &[a], 1, -1)));
    until_sleeping(&w, p);
    sig.raise();
    assert_eq!(t.join().unwrap().unwrap_err(), Errno::ERESTARTNOHAND);
}

#[test]
fn a_deadline_interrupts_by_itself() {
    let (w, p) = world();
    let [a, _b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let t0 = Instant::now();
    let sig = Interrupt::with_deadline(t0 + Duration::from_millis(30));
    let e = w
        .interruptible(&sig, || w.recvmsg(p, a, 8, 0, 0))
        .unwrap_err();
    assert_eq!(e, Errno::ERESTARTSYS);
    assert!(t0.elapsed() >= Duration::from_millis(30));
}

#[test]
fn an_interrupted_exclusive_waiter_does_not_swallow_the_next_wake_up() {
    // Two readers sleep on one socket (exclusive waiters, oldest first).
    // The oldest is interrupted; the datagram sent next goes to the other.
    let (w, p) = world();
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let (s1, s2) = (Interrupt::new(), Interrupt::new());
    let t1 = blocked_recv(&w, p, a, &s1);
    until_sleeping(&w, p);
    thread::sleep(Duration::from_millis(20));
    let t2 = blocked_recv(&w, p, a, &s2);
    thread::sleep(Duration::from_millis(20));
    s1.raise();
    assert_eq!(t1.join().unwrap().unwrap_err(), Errno::ERESTARTSYS);
    assert_eq!(send(&w, p, b, b"second"), Ok(6));
    assert_eq!(t2.join().unwrap().unwrap(), b"second");
}
