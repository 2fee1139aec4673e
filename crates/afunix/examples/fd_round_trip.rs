//! The fd-passing round trip of `afunix bench`, on the model alone, for
//! profiling (`cargo run --release --example fd_round_trip -- FDS ITERS`).

use afunix::abi::cmsg::{cmsg_space, user_cmsgs, CmsgBuilder};
use afunix::abi::consts::SOCK_DGRAM;
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::{Fd, World};
use std::time::Instant;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().unwrap_or(0));
    let n = args.next().unwrap_or(1);
    let iters = args.next().unwrap_or(1_000_000).max(1);
    let w = World::new();
    let pid = w.spawn(&TaskSpec {
        nofile: 4096,
        ..TaskSpec::default()
    });
    let [a, b] = w.socketpair(pid, SOCK_DGRAM).expect("socketpair");
    let f = w.memfd(pid, b"").expect("memfd");
    let control = if n == 0 {
        Vec::new()
    } else {
        CmsgBuilder::new().rights(&vec![f; n]).finish()
    };
    let msg = MsgHdr {
        name: None,
        iov: Some(b"xy"),
        control: &control,
    };
    let t0 = Instant::now();
    for _ in 0..iters {
        w.sendmsg(pid, a, &msg, 0).expect("sendmsg");
        let r = w
            .recvmsg(pid, b, 16, cmsg_space(4 * 253), 0)
            .expect("recvmsg");
        for c in user_cmsgs(&r.control) {
            for d in c.data.chunks_exact(4) {
                let fd = Fd::from_raw(i32::from_ne_bytes([d[0], d[1], d[2], d[3]]));
                w.close(pid, fd).expect("close");
            }
        }
    }
    let ns = t0.elapsed().as_secs_f64() * 1e9 / iters as f64;
    println!("{n} fds: {ns:.0} ns per round trip");
}
