//! The model as a scenario backend.

use afunix::TaskSpec;
use afunix_backend::{Backend, SimBackend};

#[test]
fn a_task_over_fs_nr_open_is_refused_as_the_host_refuses_it() {
    let mut b = SimBackend::new();
    let spec = TaskSpec {
        nofile: (1 << 20) + 1,
        ..TaskSpec::default()
    };
    let e = b.task(0, &spec).unwrap_err();
    assert!(e.0.contains("fs.nr_open"), "{}", e.0);
    // At the limit it is accepted.
    let spec = TaskSpec {
        nofile: 1 << 20,
        ..TaskSpec::default()
    };
    assert!(b.task(1, &spec).is_ok());
}

/// The threads of this process (`Threads:` of /proc/self/status).
fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Dropping the backend ends every call still blocked in its world — on a
/// socket and on a pipe — so no thread outlives the run (a long fuzz
/// session makes thousands of backends).
#[test]
fn dropping_the_backend_ends_every_blocked_call() {
    use afunix_backend::{Call, Out, Progress};
    use std::time::{Duration, Instant};
    let before = threads();
    for _ in 0..20 {
        let mut b = SimBackend::new();
        b.task(0, &TaskSpec::default()).unwrap();
        b.task(1, &TaskSpec::default()).unwrap();
        b.start(0, Call::Pipe { flags: 0 }).unwrap();
        let Progress::Done(r) = b.wait(0, Duration::from_secs(1)).unwrap() else {
            panic!("pipe blocked");
        };
        let Out::Pair([r, _w]) = r.out else {
            panic!("{r:?}")
        };
        b.start(0, Call::Read { fd: r, len: 1 }).unwrap();
        assert!(matches!(
            b.wait(0, Duration::from_millis(20)).unwrap(),
            Progress::Blocked
        ));
        b.start(1, Call::Socketpair { ty: 2, protocol: 0 }).unwrap();
        let Progress::Done(s) = b.wait(1, Duration::from_secs(1)).unwrap() else {
            panic!("socketpair blocked");
        };
        let Out::Pair([s0, _s1]) = s.out else {
            panic!("{s:?}")
        };
        b.start(
            1,
            Call::Recvmsg {
                fd: s0,
                iov: vec![afunix_backend::backend::RecvBuf::Len(4)],
                namelen: 0,
                control: afunix_backend::backend::RecvBuf::Len(0),
                flags: 0,
            },
        )
        .unwrap();
        assert!(matches!(
            b.wait(1, Duration::from_millis(20)).unwrap(),
            Progress::Blocked
        ));
        drop(b);
    }
    // The call threads end once woken; give them a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while threads() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        threads() <= before,
        "{} threads, {before} before",
        threads()
    );
}

/// Ending the blocked calls ends only them: each by its own interrupt
/// (a `poll` without timeout too), and the world stays usable — a later
/// call still sleeps, where `World::interrupt_all` would have poisoned it.
#[test]
fn ending_the_blocked_calls_leaves_the_world_usable() {
    use afunix_backend::{Call, Out, Progress};
    use std::time::Duration;
    let mut b = SimBackend::new();
    b.task(0, &TaskSpec::default()).unwrap();
    b.task(1, &TaskSpec::default()).unwrap();
    let pipe = |b: &mut SimBackend, id| {
        b.start(id, Call::Pipe { flags: 0 }).unwrap();
        let Progress::Done(r) = b.wait(id, Duration::from_secs(1)).unwrap() else {
            panic!("pipe blocked");
        };
        let Out::Pair([r, _w]) = r.out else {
            panic!("{r:?}")
        };
        r
    };
    let r = pipe(&mut b, 0);
    let r1 = pipe(&mut b, 1);
    let blocked = |b: &mut SimBackend, id, call| {
        b.start(id, call).unwrap();
        matches!(
            b.wait(id, Duration::from_millis(20)).unwrap(),
            Progress::Blocked
        )
    };
    assert!(blocked(&mut b, 0, Call::Read { fd: r, len: 1 }));
    let poll = Call::Poll {
        fds: vec![r1],
        list: (),
        events: afunix::abi::consts::POLLIN,
        timeout: -1,
    };
    assert!(blocked(&mut b, 1, poll.clone()));
    let files = b.world().open_files();
    assert_eq!(b.end_pending(), 0);
    assert_eq!(b.world().check_invariants(), Ok(()));
    // Each call dropped the file reference it held while it slept.
    assert!(b.world().open_files() <= files);
    assert!(blocked(&mut b, 0, Call::Read { fd: r, len: 1 }));
    assert!(blocked(&mut b, 1, poll));
    assert_eq!(b.end_pending(), 0);
}
