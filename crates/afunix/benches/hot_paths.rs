//! Micro-benchmarks of the model's hot paths (`cargo bench -p afunix`).
//!
//! They measure the model alone; `afunix bench` puts the same workloads
//! next to the host kernel in one run and prints the ratios.
use afunix::abi::cmsg::{cmsg_space, CmsgBuilder};
use afunix::abi::consts::{SOCK_DGRAM, SOCK_STREAM};
use afunix::net::socket::MsgHdr;
use afunix::{Fd, Pid, TaskSpec, World};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn world() -> (World, Pid) {
    let w = World::new();
    let p = w.spawn(&TaskSpec {
        nofile: 4096,
        ..TaskSpec::default()
    });
    (w, p)
}

/// `sendmsg` of 2 bytes with `n` fds on a dgram socketpair, `recvmsg`
/// with room for 253, every received fd closed.
fn fd_passing(c: &mut Criterion) {
    let mut g = c.benchmark_group("fd_passing");
    for n in [0usize, 1, 16, 253] {
        let (w, p) = world();
        let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
        let f = w.memfd(p, b"").unwrap();
        let control = if n == 0 {
            Vec::new()
        } else {
            CmsgBuilder::new().rights(&vec![f; n]).finish()
        };
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, &n| {
            bench.iter(|| {
                let m = MsgHdr {
                    name: None,
                    iov: Some(b"xy"),
                    control: &control,
                };
                w.sendmsg(p, a, &m, 0).unwrap();
                let r = w.recvmsg(p, b, 16, cmsg_space(4 * 253), 0).unwrap();
                let fds = r.rights();
                assert_eq!(fds.len(), n);
                for fd in fds {
                    w.close(p, fd).unwrap();
                }
            })
        });
    }
    g.finish();
}

/// 64 KiB written on a stream socketpair and read back whole.
fn stream_64k(c: &mut Criterion) {
    const LEN: usize = 65536;
    let mut g = c.benchmark_group("stream");
    let (w, p) = world();
    let [a, b] = w.socketpair(p, SOCK_STREAM).unwrap();
    let data = vec![7u8; LEN];
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("write_read_64k", |bench| {
        bench.iter(|| {
            let mut sent = 0;
            while sent < LEN {
                sent += w.write(p, a, &data[sent..]).unwrap();
            }
            let mut got = 0;
            while got < LEN {
                got += w.read(p, b, LEN - got).unwrap().len();
            }
        })
    });
    g.finish();
}

/// `socket`, `bind`, `listen`, `connect`, `accept`, and the close of all
/// three.
fn connect_accept(c: &mut Criterion) {
    let (w, p) = world();
    let l = w.socket(p, SOCK_STREAM).unwrap();
    let mut addr = vec![1, 0, 0];
    addr.extend_from_slice(b"bench");
    w.bind(p, l, &addr).unwrap();
    w.listen(p, l, 16).unwrap();
    c.bench_function("connect_accept_close", |bench| {
        bench.iter(|| {
            let s = w.socket(p, SOCK_STREAM).unwrap();
            w.connect(p, s, &addr).unwrap();
            let a: Fd = w.accept4(p, l, 0).unwrap();
            w.close(p, a).unwrap();
            w.close(p, s).unwrap();
        })
    });
}

/// A ring of `n` sockets, each held only by a message queued on the next,
/// collected.
fn gc_ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("gc_ring");
    g.sample_size(10);
    for n in [10_000usize, 100_000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, &n| {
            bench.iter_batched(
                || afunix_bench_ring(n),
                |(w, _p)| {
                    w.gc();
                    assert_eq!(w.socket_objects(), 0);
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// `n` dgram socketpairs `(a, b)`; `a[i]` sends `b[i+1]` (ring order) so
/// it waits in `b[i]`'s queue; every fd is then closed: each `b` is held
/// only by a message queued on the previous one.
fn afunix_bench_ring(n: usize) -> (World, Pid) {
    let w = World::new();
    let p = w.spawn(&TaskSpec {
        nofile: (2 * n + 16) as u64,
        ..TaskSpec::default()
    });
    let pairs: Vec<[Fd; 2]> = (0..n)
        .map(|_| w.socketpair(p, SOCK_DGRAM).unwrap())
        .collect();
    for i in 0..n {
        let next = pairs[(i + 1) % n][1];
        w.send_with_fds(p, pairs[i][0], b"", &[next]).unwrap();
    }
    for [a, b] in pairs {
        w.close(p, a).unwrap();
        w.close(p, b).unwrap();
    }
    (w, p)
}

criterion_group!(benches, fd_passing, stream_64k, connect_accept, gc_ring);
criterion_main!(benches);
