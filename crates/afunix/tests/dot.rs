//! Pictures of worlds (`World::dot`): their structure, not their pixels.

use afunix::abi::consts::{SOCK_DGRAM, SOCK_STREAM};
use afunix::abi::sockaddr::UnixAddr;
use afunix::dot::Moment;
use afunix::{Fd, TaskSpec, World};

fn count(dot: &str, needle: &str) -> usize {
    dot.matches(needle).count()
}

/// A dgram socket sent over itself twice, then closed.
fn self_cycle() -> (World, Fd) {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    w.send_with_fds(p, b, b"x", &[a, a]).unwrap();
    w.close(p, a).unwrap();
    (w, b)
}

#[test]
fn a_socket_in_flight_in_its_own_queue_is_drawn_unreachable_then_gone() {
    let (w, _) = self_cycle();
    let d = w.dot(Moment::Now);
    assert!(
        d.starts_with("digraph world {") && d.ends_with("}\n"),
        "{d}"
    );
    // The fd table holds only b (fd 4); a is unreachable, its message
    // carries it twice.
    assert!(d.contains("p100_fd4 -> s2;"), "{d}");
    assert!(!d.contains("p100_fd3"), "{d}");
    assert_eq!(count(&d, "unreachable"), 1, "{d}");
    assert!(
        d.contains("s1 [shape=ellipse, style=filled, fillcolor=orange"),
        "{d}"
    );
    assert_eq!(
        count(&d, "s1_m1 -> s1 [color=red, label=\"in flight\"]"),
        2,
        "{d}"
    );
    assert!(d.contains("s1 -> s2 [style=dashed, label=\"peer\"]"), "{d}");
    w.gc();
    let d = w.dot(Moment::AfterGc);
    assert_eq!(count(&d, "in flight"), 0, "{d}");
    // Freed: only b's peer pointer still holds its memory (as in Linux).
    assert!(d.contains("label=\"dgram #1\\nreleased"), "{d}");
    assert_eq!(count(&d, "unreachable") + count(&d, "leaked"), 0, "{d}");
}

#[test]
fn the_same_world_gives_the_same_text() {
    assert_eq!(
        self_cycle().0.dot(Moment::Now),
        self_cycle().0.dot(Moment::Now)
    );
}

#[test]
fn listeners_embryos_names_and_files_in_flight() {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let name = UnixAddr::Abstract(b"srv".to_vec()).to_sockaddr();
    let l = w.socket(p, SOCK_STREAM).unwrap();
    w.bind(p, l, &name).unwrap();
    w.listen(p, l, 4).unwrap();
    let c = w.socket(p, SOCK_STREAM).unwrap();
    w.connect(p, c, &name).unwrap();
    let f = w.memfd(p, b"data").unwrap();
    w.send_with_fds(p, c, b"hi", &[f]).unwrap();
    let d = w.dot(Moment::Now);
    // The listener (bound, LISTEN) and its embryo, which holds the
    // message with the memfd in flight.
    assert!(d.contains("@srv\\nLISTEN"), "{d}");
    assert_eq!(count(&d, "label=\"embryo\""), 1, "{d}");
    assert!(d.contains("2 bytes, 1 files"), "{d}");
    assert_eq!(count(&d, "[color=red, label=\"in flight\"]"), 1, "{d}");
    // The memfd is one file with two references: its fd and the message.
    assert!(d.contains("label=\"memfd\\nf_count 2\""), "{d}");
    assert_eq!(count(&d, "unreachable"), 0, "{d}");
}

/// The kernel's mixed_lowpoint component, which Linux 6.18's collector
/// never frees: after the collector ran, its sockets are drawn leaked.
#[test]
fn what_the_collector_leaves_is_drawn_leaked() {
    let w = World::new();
    let p = w.spawn(&TaskSpec {
        uid: 0,
        gid: 0,
        groups: vec![0],
        ..TaskSpec::default()
    });
    let pairs: Vec<[Fd; 2]> = (0..3)
        .map(|_| w.socketpair(p, SOCK_DGRAM).unwrap())
        .collect();
    let send = |from: usize, to: usize| {
        let s = pairs[from][0];
        w.send_with_fds(p, pairs[to][1], b"x", &[s, s]).unwrap();
    };
    // 0->1, 1->2, 2->1, 1->0, before the collector first walks.
    send(0, 1);
    send(1, 2);
    send(2, 1);
    send(1, 0);
    for [a, b] in &pairs {
        w.close(p, *a).unwrap();
        w.close(p, *b).unwrap();
    }
    w.gc();
    let d = w.dot(Moment::AfterGc);
    assert_eq!(w.stat(), 3);
    assert_eq!(count(&d, "\\nleaked"), 3, "{d}");
}
