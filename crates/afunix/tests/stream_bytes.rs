//! The bytes of a stream arrive whole and in order whatever the messages
//! they were queued in and however they are read: random writes (1 byte to
//! 200 KiB, send buffers from the minimum to large, so one `write` queues
//! one or many messages sharing a buffer, see `net/skbuff.rs`) against
//! random reads (`read`, `recvmsg` with and without `MSG_PEEK`, any length),
//! checked against the bytes written, on a seeded generator.

use afunix::abi::consts::*;
use afunix::rng::Rng;
use afunix::{Errno, TaskSpec, World};
use std::collections::VecDeque;

fn run(seed: u64) {
    let mut rng = Rng::new(seed);
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(p, SOCK_STREAM).expect("socketpair");
    w.set_nonblock(p, a, true).expect("nonblock");
    w.set_nonblock(p, b, true).expect("nonblock");
    let sndbuf = *rng.pick(&[0i32, 4608, 30_000, 212_992, 1 << 20]);
    w.setsockopt_value(p, a, SOL_SOCKET, SO_SNDBUF, &sndbuf)
        .expect("SO_SNDBUF");
    let mut expect: VecDeque<u8> = VecDeque::new();
    let mut next = 0u8;
    for _ in 0..300 {
        if rng.chance(45) {
            let len = *rng.pick(&[1usize, 100, 4096, 36_544, 36_545, 65_536, 200_000]);
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            match w.write(p, a, &data) {
                Ok(n) => {
                    expect.extend(data.get(..n).expect("write returns at most len"));
                    // Bytes not sent are not part of the stream: the next
                    // write goes on from where this one was cut.
                    next = next.wrapping_sub((len - n) as u8);
                }
                Err(e) => {
                    assert_eq!(e.errno(), Errno::EAGAIN, "seed {seed}: write {e:?}");
                    next = next.wrapping_sub(len as u8);
                }
            }
            continue;
        }
        let len = 1 + rng.below(150_000);
        let peek = rng.chance(25);
        let got = if peek {
            w.recvmsg(p, b, len, 0, MSG_PEEK | MSG_DONTWAIT)
                .map(|m| m.data)
        } else if rng.chance(50) {
            w.recvmsg(p, b, len, 0, MSG_DONTWAIT).map(|m| m.data)
        } else {
            w.read(p, b, len)
        };
        match got {
            Ok(got) => {
                assert!(!got.is_empty() && got.len() <= len, "seed {seed}");
                let want: Vec<u8> = expect.iter().take(got.len()).copied().collect();
                assert_eq!(got, want, "seed {seed}: bytes differ (peek {peek})");
                if !peek {
                    expect.drain(..got.len());
                }
            }
            Err(e) => {
                assert_eq!(e.errno(), Errno::EAGAIN, "seed {seed}: read {e:?}");
                assert!(expect.is_empty(), "seed {seed}: EAGAIN with bytes queued");
            }
        }
    }
    // What is left reads back in order, then the queue is empty.
    while !expect.is_empty() {
        let got = w.read(p, b, 1 << 20).expect("read the rest");
        let want: Vec<u8> = expect.drain(..got.len()).collect();
        assert_eq!(got, want, "seed {seed}: the rest differs");
    }
    assert_eq!(
        w.read(p, b, 1).map_err(|e| e.errno()),
        Err(Errno::EAGAIN),
        "seed {seed}"
    );
    w.check_invariants().expect("invariants");
}

#[test]
fn stream_bytes_arrive_whole_and_in_order() {
    for seed in 0..40 {
        run(afunix::rng::stream_seed(0x5eed_572e, seed));
    }
}
