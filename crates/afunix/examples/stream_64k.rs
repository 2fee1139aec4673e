//! The stream workload of `afunix bench`, on the model alone, for
//! profiling (`cargo run --release --example stream_64k -- ITERS`): 64 KiB
//! written on one end of a stream socketpair and read back whole.

use afunix::abi::consts::SOCK_STREAM;
use afunix::TaskSpec;
use afunix::World;
use std::time::Instant;

fn main() {
    const LEN: usize = 64 * 1024;
    let iters = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
        .unwrap_or(100_000)
        .max(1);
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(p, SOCK_STREAM).expect("socketpair");
    let data = vec![0x5au8; LEN];
    let mut buf = vec![0u8; LEN];
    let t0 = Instant::now();
    for _ in 0..iters {
        let mut sent = 0;
        while sent < LEN {
            sent += w.write(p, a, &data[sent..]).expect("write");
        }
        let mut got = 0;
        while got < LEN {
            let d = w.read(p, b, LEN - got).expect("read");
            buf[got..got + d.len()].copy_from_slice(&d);
            got += d.len();
        }
    }
    let ns = t0.elapsed().as_secs_f64() * 1e9 / iters as f64;
    println!("64 KiB write+read: {ns:.0} ns");
}
