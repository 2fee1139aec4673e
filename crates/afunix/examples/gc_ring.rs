//! Time the in-flight collector on a ring of N sockets, each held only by
//! a message queued on the next (`cargo run --release --example gc_ring -- N...`).

use afunix::abi::cmsg::CmsgBuilder;
use afunix::abi::consts::SOCK_DGRAM;
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::World;
use std::time::Instant;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    for n in if sizes.is_empty() {
        vec![10_000]
    } else {
        sizes
    } {
        let w = World::new();
        let p = w.spawn(&TaskSpec {
            uid: 0,
            gid: 0,
            groups: vec![0],
            nofile: 1 << 20,
            ..TaskSpec::default()
        });
        let t0 = Instant::now();
        let [s0, t0fd] = w.socketpair(p, SOCK_DGRAM).unwrap();
        let (mut prev_s, mut prev_t) = (s0, None);
        for _ in 1..n {
            let [s, t] = w.socketpair(p, SOCK_DGRAM).unwrap();
            let control = CmsgBuilder::new().rights(&[prev_s]).finish();
            let msg = MsgHdr {
                name: None,
                iov: Some(b"x"),
                control: &control,
            };
            w.sendmsg(p, t, &msg, 0).unwrap();
            w.close(p, prev_s).unwrap();
            if let Some(prev_t) = prev_t {
                w.close(p, prev_t).unwrap();
            }
            (prev_s, prev_t) = (s, Some(t));
        }
        let control = CmsgBuilder::new().rights(&[prev_s]).finish();
        let msg = MsgHdr {
            name: None,
            iov: Some(b"x"),
            control: &control,
        };
        w.sendmsg(p, t0fd, &msg, 0).unwrap();
        for fd in [prev_t, Some(t0fd)].into_iter().flatten() {
            w.close(p, fd).unwrap();
        }
        let built = t0.elapsed();
        let sockets = w.stat();
        // The last close leaves the ring held only in flight: the release
        // runs the collector, which frees the ring.
        let t1 = Instant::now();
        w.close(p, prev_s).unwrap();
        w.gc();
        let gc = t1.elapsed();
        println!(
            "n={n}: build {:.1} ms, {sockets} sockets before gc, gc {:.1} ms ({:.2} us/socket), {} after",
            built.as_secs_f64() * 1e3,
            gc.as_secs_f64() * 1e3,
            gc.as_secs_f64() * 1e6 / n as f64,
            w.stat()
        );
    }
}
