//! The workloads of `afunix bench` beyond the ping: a stream carrying
//! 64 KiB writes, `connect` + `accept` + `close`, a file passed along a
//! chain of ten processes, the collector on big rings, and the heap an
//! idle socketpair and an idle process cost. Each model workload that has
//! a kernel counterpart is measured alternately with it, three rounds each.

use super::{alternate, ns_per_op, NOISY};
use afunix::abi::cmsg::rights;
use afunix::abi::consts::{SOCK_DGRAM, SOCK_STREAM};
use afunix::{Fd, GcWalk, Pid, TaskSpec, World};
use afunix_host::bench::{heap_in_use, BenchPair};
use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Instant;

type Op<'a> = &'a mut dyn FnMut() -> Result<(), String>;

/// One row: the median ns/op of each side over three alternate rounds,
/// the ratio, and the spread of each.
fn compare(name: &str, secs: f64, model: Op<'_>, kernel: Op<'_>) -> Result<String, String> {
    compare_ns(name, secs, model, kernel).map(|(row, _)| row)
}

/// [`compare`], also returning the kernel's ns/op.
fn compare_ns(
    name: &str,
    secs: f64,
    model: Op<'_>,
    kernel: Op<'_>,
) -> Result<(String, f64), String> {
    let ((m, sm), (k, sk)) = alternate(secs, model, kernel)?;
    let warn = if sm > NOISY || sk > NOISY {
        "  (noisy)"
    } else {
        ""
    };
    let row = format!(
        "{name:<28} {k:>11.0} {m:>11.0} {:>8.2}x {:>7.0}% {:>7.0}%{warn}",
        k / m,
        sk * 100.0,
        sm * 100.0
    );
    Ok((row, k))
}

fn err(what: &str) -> impl Fn(afunix::Error) -> String + '_ {
    move |e| format!("model {what}: {e:?}")
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("kernel {what}: {e}")
}

/// 64 KiB written on one end of a stream socketpair and read back whole.
/// Also printed: one plain 64 KiB copy, measured in the same run. The
/// bytes must go from the writer's buffer to the reader's at least once
/// (the writer may reuse its buffer as soon as `write` returns), so that
/// copy is the floor of any model's write+read, and the kernel's time
/// over it the most speed-up the row can show.
fn stream_64k(secs: f64) -> Result<String, String> {
    const LEN: usize = 64 * 1024;
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(p, SOCK_STREAM).map_err(err("socketpair"))?;
    let data = vec![0x5au8; LEN];
    let mut model = || -> Result<(), String> {
        let mut sent = 0;
        while sent < LEN {
            sent += w.write(p, a, &data[sent..]).map_err(err("write"))?;
        }
        let mut got = 0;
        while got < LEN {
            got += w.read(p, b, LEN - got).map_err(err("read"))?.len();
        }
        Ok(())
    };
    let (mut ka, mut kb) = UnixStream::pair().map_err(io_err("socketpair"))?;
    let mut buf = vec![0u8; LEN];
    let mut kernel = || -> Result<(), String> {
        ka.write_all(&data).map_err(io_err("write"))?;
        kb.read_exact(&mut buf).map_err(io_err("read"))?;
        Ok(())
    };
    let (row, k) = compare_ns("stream 64 KiB write+read", secs, &mut model, &mut kernel)?;
    let mut to = vec![0u8; LEN];
    let mut copy = || -> Result<(), String> {
        to.copy_from_slice(std::hint::black_box(&data));
        std::hint::black_box(&mut to);
        Ok(())
    };
    let mut floor: Vec<f64> = (0..3)
        .map(|_| ns_per_op(secs, &mut copy))
        .collect::<Result<_, _>>()?;
    floor.sort_by(f64::total_cmp);
    let f = floor[1];
    Ok(format!(
        "{row}\n  (one 64 KiB memcpy here: {f:.0} ns, the floor of any write+read: at most {:.1}x the kernel)",
        k / f
    ))
}

/// `socket`, `connect` to a listening abstract name, `accept`, and the
/// close of both ends.
fn connect_accept(secs: f64) -> Result<String, String> {
    let name = format!("afunix-bench-{}", std::process::id());
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let mut addr = vec![1u8, 0, 0];
    addr.extend_from_slice(name.as_bytes());
    let l = w.socket(p, SOCK_STREAM).map_err(err("socket"))?;
    w.bind(p, l, &addr).map_err(err("bind"))?;
    w.listen(p, l, 128).map_err(err("listen"))?;
    let mut model = || -> Result<(), String> {
        let s = w.socket(p, SOCK_STREAM).map_err(err("socket"))?;
        w.connect(p, s, &addr).map_err(err("connect"))?;
        let a = w.accept4(p, l, 0).map_err(err("accept"))?;
        w.close(p, a).map_err(err("close"))?;
        w.close(p, s).map_err(err("close"))?;
        Ok(())
    };
    let kaddr = SocketAddr::from_abstract_name(name.as_bytes()).map_err(io_err("address"))?;
    let listener = UnixListener::bind_addr(&kaddr).map_err(io_err("bind"))?;
    let mut kernel = || -> Result<(), String> {
        let s = UnixStream::connect_addr(&kaddr).map_err(io_err("connect"))?;
        let (a, _) = listener.accept().map_err(io_err("accept"))?;
        drop(a);
        drop(s);
        Ok(())
    };
    compare("connect+accept+close", secs, &mut model, &mut kernel)
}

/// A dgram socket passed along a chain of ten processes: each hop is a
/// `sendmsg` with the fd, the sender's `close` of its copy (but the first
/// sender's, which keeps the socket), and a `recvmsg` in the next
/// process. (The kernel side runs the same calls in this one process: no
/// context switch is counted for it.)
fn chain_of_10(secs: f64) -> Result<String, String> {
    const HOPS: usize = 10;
    let w = World::new();
    let first = w.spawn(&TaskSpec::default());
    let links: Vec<[Fd; 2]> = (0..HOPS)
        .map(|_| w.socketpair(first, SOCK_DGRAM))
        .collect::<Result<_, _>>()
        .map_err(err("socketpair"))?;
    let mut procs: Vec<Pid> = vec![first];
    for _ in 0..HOPS {
        procs.push(w.fork(first).map_err(err("fork"))?);
    }
    let [carried, _keep] = w.socketpair(first, SOCK_DGRAM).map_err(err("socketpair"))?;
    let mut model = || -> Result<(), String> {
        let mut fd = carried;
        for (k, link) in links.iter().enumerate() {
            let (from, to) = (procs[k], procs[k + 1]);
            w.send_with_fds(from, link[0], b"x", &[fd])
                .map_err(err("sendmsg"))?;
            if k > 0 {
                w.close(from, fd).map_err(err("close"))?;
            }
            let m = w.recvmsg(to, link[1], 16, 64, 0).map_err(err("recvmsg"))?;
            fd = rights(&m.control).next().ok_or("model: no fd received")?;
        }
        w.close(procs[HOPS], fd).map_err(err("close"))
    };
    let klinks: Vec<BenchPair> = (0..HOPS)
        .map(|_| BenchPair::new(SOCK_DGRAM))
        .collect::<Result<_, _>>()
        .map_err(io_err("socketpair"))?;
    let kcarried = BenchPair::new(SOCK_DGRAM).map_err(io_err("socketpair"))?;
    let mut buf = [0u8; 16];
    let mut kernel = || -> Result<(), String> {
        let mut held: Option<std::os::fd::OwnedFd> = None;
        for link in &klinks {
            let raw = match &held {
                Some(fd) => std::os::fd::AsRawFd::as_raw_fd(fd),
                None => kcarried.raw_fd(0),
            };
            link.send_fds(0, b"x", &[raw]).map_err(io_err("sendmsg"))?;
            drop(held.take());
            let (_, mut got) = link.recv_fds(1, &mut buf).map_err(io_err("recvmsg"))?;
            held = Some(got.pop().ok_or("kernel: no fd received")?);
        }
        drop(held);
        Ok(())
    };
    compare("fd along 10 processes", secs, &mut model, &mut kernel)
}

/// The model and kernel workloads above, as a table.
pub fn run(secs: f64, out: &mut dyn FnMut(&str)) -> Result<(), String> {
    out("more workloads, model and kernel alternately, 3 rounds each (ns per operation):");
    out(&format!(
        "{:<28} {:>11} {:>11} {:>9} {:>8} {:>8}",
        "workload", "kernel ns", "model ns", "speed-up", "k.spread", "m.spread"
    ));
    let secs = (secs / 3.0).max(0.05);
    for row in [stream_64k, connect_accept, chain_of_10] {
        out(&row(secs)?);
    }
    Ok(())
}

/// Heap bytes per idle dgram socketpair and per idle process of a world:
/// 1000 of each built, the heap in use before and after, divided.
pub fn memory(out: &mut dyn FnMut(&str)) -> Result<(), String> {
    const N: usize = 1000;
    let w = World::new();
    let p = w.spawn(&TaskSpec {
        nofile: 4 * N as u64,
        ..TaskSpec::default()
    });
    // A first pair and process: one-time growth of the world's tables.
    w.socketpair(p, SOCK_DGRAM).map_err(err("socketpair"))?;
    w.spawn(&TaskSpec::default());
    let before = heap_in_use();
    for _ in 0..N {
        w.socketpair(p, SOCK_DGRAM).map_err(err("socketpair"))?;
    }
    let pair = heap_in_use().saturating_sub(before) / N;
    let before = heap_in_use();
    for _ in 0..N {
        w.spawn(&TaskSpec::default());
    }
    let proc = heap_in_use().saturating_sub(before) / N;
    out(&format!(
        "heap per idle dgram socketpair: {pair} bytes; per idle process: {proc} bytes (model, {N} of each)"
    ));
    Ok(())
}

/// Collect a ring of `n` in-flight sockets: `n` dgram pairs, each `a`
/// sending the next pair's `b` and every fd closed as the ring is built,
/// so each `b` is held only by the message queued on the previous one.
/// Returns (ns per socket to build, ns per socket to collect).
fn ring(n: usize) -> Result<(f64, f64), String> {
    let w = World::new();
    // Root: the in-flight limit of RLIMIT_NOFILE does not apply.
    let p = w.spawn(&TaskSpec {
        uid: 0,
        gid: 0,
        groups: vec![0],
        ..TaskSpec::default()
    });
    let t = Instant::now();
    let [mut prev, b0] = w.socketpair(p, SOCK_DGRAM).map_err(err("socketpair"))?;
    for _ in 1..n {
        let [a, b] = w.socketpair(p, SOCK_DGRAM).map_err(err("socketpair"))?;
        w.send_with_fds(p, prev, b"", &[b])
            .map_err(err("sendmsg"))?;
        w.close(p, prev).map_err(err("close"))?;
        w.close(p, b).map_err(err("close"))?;
        prev = a;
    }
    w.send_with_fds(p, prev, b"", &[b0])
        .map_err(err("sendmsg"))?;
    w.close(p, prev).map_err(err("close"))?;
    w.close(p, b0).map_err(err("close"))?;
    let build = t.elapsed().as_nanos() as f64 / n as f64;
    Ok((build, collect(&w, n, "a ring", Instant::now())?))
}

/// `gc` on `w`, whose `n` sockets are all garbage: ns per socket since
/// `t`, or an error if any socket is left.
fn collect(w: &World, n: usize, what: &str, t: Instant) -> Result<f64, String> {
    w.gc();
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    match w.socket_objects() {
        0 => Ok(ns),
        left => Err(format!(
            "model: {left} sockets left after collecting {what} of {n}"
        )),
    }
}

/// Collect a random graph of `n` in-flight sockets (`n` even): `n / 2`
/// dgram pairs, each end sending the other a message that carries two
/// sockets (one from a shuffle of all `n`, so that each is in flight at
/// least once, and one at random), then every fd closed and the collector
/// run: about `2n` edges, one giant strongly connected component and a
/// fringe the purge frees.
///
/// The collector walks as a kernel with the `mixed_lowpoint` fix does:
/// on such a graph Linux 6.18's walk leaves components it never frees.
/// Returns (ns per socket to build, ns per socket to collect).
fn random_graph(n: usize, seed: u64, walk: GcWalk) -> Result<(f64, f64), String> {
    let w = World::with_gc_walk(walk);
    let p = w.spawn(&TaskSpec {
        uid: 0,
        gid: 0,
        groups: vec![0],
        nofile: n as u64 + 16,
        ..TaskSpec::default()
    });
    let mut rng = afunix::rng::Rng::new(seed);
    let t = Instant::now();
    let mut fds: Vec<Fd> = Vec::with_capacity(n);
    for _ in 0..n / 2 {
        fds.extend(w.socketpair(p, SOCK_DGRAM).map_err(err("socketpair"))?);
    }
    // Fisher-Yates: the first socket of message i is shuffled[i].
    let mut shuffled = fds.clone();
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i + 1));
    }
    for (i, &fd) in fds.iter().enumerate() {
        let other = *rng.pick(&fds);
        w.send_with_fds(p, fd, b"", &[shuffled[i], other])
            .map_err(err("sendmsg"))?;
    }
    let build = t.elapsed().as_nanos() as f64 / n as f64;
    // The closes ask for the collector (and run it once as many asked as
    // there are sockets in flight): they are part of the collection.
    let t = Instant::now();
    for &fd in &fds {
        w.close(p, fd).map_err(err("close"))?;
    }
    Ok((build, collect(&w, n, "a random graph", t)?))
}

/// `afunix bench --gc`: the collector on rings and on random graphs of
/// 10⁴, 10⁵ and 10⁶ sockets, per socket, and how the cost per socket grows.
pub fn gc(out: &mut dyn FnMut(&str)) -> Result<(), String> {
    type Graph = fn(usize) -> Result<(f64, f64), String>;
    let graphs: [(&str, Graph); 2] = [
        (
            "a ring of N in-flight sockets (N dgram pairs, fds closed as built)",
            ring,
        ),
        (
            "a random graph of N in-flight sockets (N/2 dgram pairs, each end sent two sockets; the walk with the mixed_lowpoint fix)",
            |n| random_graph(n, 1, GcWalk::Fixed),
        ),
    ];
    for (what, graph) in graphs {
        out(&format!("collector: {what}, then gc"));
        out(&format!(
            "{:>9} {:>16} {:>18} {:>10} {:>14}",
            "N", "build ns/socket", "collect ns/socket", "collect s", "vs N=10^4"
        ));
        let mut base = None;
        for n in [10_000usize, 100_000, 1_000_000] {
            let (build, collect) = graph(n)?;
            let b = *base.get_or_insert(collect);
            out(&format!(
                "{n:>9} {build:>16.0} {collect:>18.0} {:>10.3} {:>13.2}x",
                collect * n as f64 / 1e9,
                collect / b
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The collector workloads free every socket (each returns an error
    /// naming what is left otherwise), on a ring and on random graphs of
    /// several seeds.
    #[test]
    fn collector_workloads_leave_nothing() {
        ring(1000).unwrap();
        for seed in 0..4 {
            random_graph(1000, seed, GcWalk::Fixed).unwrap();
        }
    }
}
