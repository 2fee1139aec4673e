//! `afunix bench`: how the model's send/receive path scales with threads,
//! next to the host kernel doing the same work in the same run.
//!
//! The workload is a ping to oneself: send a message on one end of a
//! socketpair, receive it on the other end, again and again. With two
//! threads, each drives its own socketpair; the one-thread baseline drives
//! the same two socketpairs alternately, so it does the same work with the
//! same objects. Each figure is the sum over threads of messages / seconds
//! (one message = one `sendmsg` + one `recvmsg`).
//!
//! The model runs twice: both threads in **one process** (they share the
//! process's fd table lock, as threads of one sandboxed program would) and
//! in **two processes** (nothing of theirs is shared but the world's own
//! tables). The kernel runs in this process (threads of one process).

pub mod workloads;

use afunix::abi::consts::{SOCK_DGRAM, SOCK_STREAM};
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::{Fd, Pid, World};
use afunix_host::bench::BenchPair;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// The benchmark's settings.
#[derive(Clone, Copy, Debug)]
pub struct BenchOpts {
    /// Seconds per measurement.
    pub secs: f64,
    /// Bytes per message.
    pub size: usize,
}

/// The largest message the benchmark sends: one message always fits in a
/// socket's default buffers, so the sender never waits for itself.
pub const MAX_SIZE: usize = 32768;

/// How many round trips each pair makes before the clock starts.
const WARMUP: usize = 2000;

/// One socketpair a thread drives: send on one end, receive on the other.
trait Pair: Send {
    /// One message there and back into the receive buffer; `Err` says what
    /// went wrong (a benchmark that fails stops, it does not guess).
    fn round_trip(&mut self) -> Result<(), String>;
}

/// A socketpair of the model.
struct ModelPair {
    w: Arc<World>,
    pid: Pid,
    fds: [Fd; 2],
    msg: Vec<u8>,
}

impl ModelPair {
    fn new(w: &Arc<World>, pid: Pid, ty: i32, size: usize) -> Result<ModelPair, String> {
        let fds = w
            .socketpair(pid, ty)
            .map_err(|e| format!("model socketpair: {e:?}"))?;
        Ok(ModelPair {
            w: Arc::clone(w),
            pid,
            fds,
            msg: vec![0x5a; size],
        })
    }
}

impl Pair for ModelPair {
    fn round_trip(&mut self) -> Result<(), String> {
        let n = self.msg.len();
        let m = MsgHdr {
            name: None,
            iov: Some(&self.msg),
            control: &[],
        };
        match self.w.sendmsg(self.pid, self.fds[0], &m, 0) {
            Ok(k) if k == n => {}
            r => return Err(format!("model sendmsg: {r:?}, expected Ok({n})")),
        }
        match self.w.recvmsg(self.pid, self.fds[1], n, 0, 0) {
            Ok(r) if r.ret == n => Ok(()),
            r => Err(format!(
                "model recvmsg: {:?}, expected {n} bytes",
                r.map(|r| r.ret)
            )),
        }
    }
}

/// A socketpair of the host kernel.
struct KernelPair {
    p: BenchPair,
    msg: Vec<u8>,
    buf: Vec<u8>,
}

impl Pair for KernelPair {
    fn round_trip(&mut self) -> Result<(), String> {
        let n = self.msg.len();
        match self.p.send(0, &self.msg) {
            Ok(k) if k == n => {}
            r => return Err(format!("kernel sendmsg: {r:?}, expected Ok({n})")),
        }
        match self.p.recv(1, &mut self.buf) {
            Ok(k) if k == n => Ok(()),
            r => Err(format!("kernel recvmsg: {r:?}, expected Ok({n})")),
        }
    }
}

/// CPU time this process has used (user + system), from `/proc/self/stat`
/// (in `USER_HZ` = 100 ticks a second on Linux); `None` where unreadable.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = s.get(s.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A measurement: messages per second, and how many CPUs were busy on
/// average meanwhile (below the thread count: the threads did not get
/// their CPUs, e.g. other work ran on the machine, or they slept on a lock).
#[derive(Clone, Copy)]
struct Figure {
    rate: f64,
    busy: Option<f64>,
    /// (max - min) / median over the rounds.
    spread: f64,
}

/// A spread above which a figure is not trustworthy.
const NOISY: f64 = 0.25;

/// Rounds per figure: its median is printed, its spread judged.
const ROUNDS: usize = 3;

/// The pairs of one measurement, a group per thread.
type Groups = Vec<Vec<Box<dyn Pair>>>;

/// `ROUNDS` measurements of fresh pairs, `secs / ROUNDS` each: the median
/// rate (with that round's CPU figure) and the spread.
fn measure_rounds(
    make: &mut dyn FnMut() -> Result<Groups, String>,
    secs: f64,
) -> Result<Figure, String> {
    let mut figs = Vec::new();
    for _ in 0..ROUNDS {
        figs.push(measure(make()?, secs / ROUNDS as f64)?);
    }
    figs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let mid = figs[figs.len() / 2];
    let spread = (figs[figs.len() - 1].rate - figs[0].rate) / mid.rate.max(1e-9);
    Ok(Figure { spread, ..mid })
}

/// Run each group of pairs on its own thread for `secs`.
fn measure(groups: Vec<Vec<Box<dyn Pair>>>, secs: f64) -> Result<Figure, String> {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(groups.len() + 1);
    let results = std::thread::scope(|sc| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|mut pairs| {
                let (stop, start) = (&stop, &start);
                sc.spawn(move || -> Result<(u64, Duration), String> {
                    let mut warm = Ok(());
                    'w: for _ in 0..WARMUP {
                        for p in pairs.iter_mut() {
                            warm = p.round_trip();
                            if warm.is_err() {
                                break 'w;
                            }
                        }
                    }
                    start.wait();
                    warm?;
                    let t0 = Instant::now();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for p in pairs.iter_mut() {
                            p.round_trip()?;
                        }
                        n += pairs.len() as u64;
                    }
                    Ok((n, t0.elapsed()))
                })
            })
            .collect();
        start.wait();
        let (c0, t0) = (cpu_time(), Instant::now());
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
        let r = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a benchmark thread panicked".into()))
            })
            .collect::<Vec<_>>();
        let busy = match (c0, cpu_time()) {
            (Some(a), Some(b)) => {
                Some(b.saturating_sub(a).as_secs_f64() / t0.elapsed().as_secs_f64())
            }
            _ => None,
        };
        (r, busy)
    });
    let (results, busy) = results;
    let mut rate = 0.0;
    for r in results {
        let (n, d) = r?;
        rate += n as f64 / d.as_secs_f64().max(1e-9);
    }
    Ok(Figure {
        rate,
        busy,
        spread: 0.0,
    })
}

/// Where the benchmark runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// The model, both pairs in one process.
    ModelOneProc,
    /// The model, each pair in its own process.
    ModelTwoProcs,
    /// The host kernel, this process.
    Kernel,
}

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Setup::ModelOneProc => "model, 1 process",
            Setup::ModelTwoProcs => "model, 2 processes",
            Setup::Kernel => "kernel (host)",
        }
    }
}

/// Two fresh socketpairs of type `ty` in a fresh world (or the kernel).
fn make_pairs(setup: Setup, ty: i32, size: usize) -> Result<[Box<dyn Pair>; 2], String> {
    let pair = |w: &Arc<World>, pid| -> Result<Box<dyn Pair>, String> {
        Ok(Box::new(ModelPair::new(w, pid, ty, size)?))
    };
    match setup {
        Setup::ModelOneProc => {
            let w = Arc::new(World::new());
            let pid = w.spawn(&TaskSpec::default());
            Ok([pair(&w, pid)?, pair(&w, pid)?])
        }
        Setup::ModelTwoProcs => {
            let w = Arc::new(World::new());
            let a = w.spawn(&TaskSpec::default());
            let b = w.spawn(&TaskSpec::default());
            Ok([pair(&w, a)?, pair(&w, b)?])
        }
        Setup::Kernel => {
            let k = || -> Result<Box<dyn Pair>, String> {
                let p = BenchPair::new(ty).map_err(|e| format!("host socketpair: {e}"))?;
                Ok(Box::new(KernelPair {
                    p,
                    msg: vec![0x5a; size],
                    buf: vec![0; size],
                }))
            };
            Ok([k()?, k()?])
        }
    }
}

/// One row of the table: messages/s with one thread and with two.
struct Row {
    ty: &'static str,
    setup: Setup,
    one: Figure,
    two: Figure,
}

/// One and two threads for one setup and socket type.
fn row(setup: Setup, ty: i32, name: &'static str, o: BenchOpts) -> Result<Row, String> {
    let one = measure_rounds(
        &mut || {
            let [a, b] = make_pairs(setup, ty, o.size)?;
            Ok(vec![vec![a, b]])
        },
        o.secs,
    )?;
    let two = measure_rounds(
        &mut || {
            let [a, b] = make_pairs(setup, ty, o.size)?;
            Ok(vec![vec![a], vec![b]])
        },
        o.secs,
    )?;
    Ok(Row {
        ty: name,
        setup,
        one,
        two,
    })
}

/// `1234567` as `1.23M`.
fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

/// Run the benchmark and print its table; `Err` if a measurement failed.
pub fn run(o: BenchOpts, out: &mut dyn FnMut(&str)) -> Result<(), String> {
    if !(o.secs > 0.0 && o.secs.is_finite()) {
        return Err("--secs must be a positive number".into());
    }
    if o.size == 0 || o.size > MAX_SIZE {
        return Err(format!("--size must be between 1 and {MAX_SIZE}"));
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let build = if cfg!(debug_assertions) {
        "DEBUG build: figures are meaningless, build with --release"
    } else {
        "release build"
    };
    out(&format!(
        "afunix bench: {}-byte messages, {} s per measurement, {cpus} CPUs, {build}",
        o.size, o.secs
    ));
    out("each message: sendmsg on one end of a socketpair, recvmsg on the other (same thread);");
    out("1 thread: drives 2 socketpairs alternately; 2 threads: one socketpair each.");
    out("");
    let mut rows = Vec::new();
    // A progress bar on a terminal (stderr), over the six rows.
    let pb = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let pb = indicatif::ProgressBar::new(6);
        if let Ok(st) =
            indicatif::ProgressStyle::with_template("bench [{bar:30}] {pos}/{len} rows, {elapsed}")
        {
            pb.set_style(st.progress_chars("=> "));
        }
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    for (ty, name) in [(SOCK_DGRAM, "dgram"), (SOCK_STREAM, "stream")] {
        for setup in [Setup::ModelOneProc, Setup::ModelTwoProcs, Setup::Kernel] {
            pb.inc(1);
            match row(setup, ty, name, o) {
                Ok(r) => rows.push(r),
                Err(e) if setup == Setup::Kernel => {
                    pb.suspend(|| out(&format!("{name}: kernel measurement unavailable: {e}")));
                }
                Err(e) => return Err(e),
            }
        }
    }
    pb.finish_and_clear();
    let head = |c: [&str; 9]| {
        format!(
            "{:<7} {:<19} {:>10} {:>11} {:>6}   {:>12} {:>12}   {:<11} {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
        )
    };
    out(&head([
        "type",
        "world",
        "1 thread",
        "2 threads",
        "2t/1t",
        "model/kernel",
        "model/kernel",
        "CPUs busy",
        "spread",
    ]));
    out(&head([
        "",
        "",
        "msg/s",
        "msg/s",
        "",
        "1 thread",
        "2 threads",
        "1t / 2t",
        "1t / 2t",
    ]));
    let busy = |f: Figure| f.busy.map_or("?".into(), |b| format!("{b:.2}"));
    for r in &rows {
        let kernel = rows
            .iter()
            .find(|k| k.ty == r.ty && k.setup == Setup::Kernel);
        let (vs1, vs2) = match kernel {
            Some(k) if r.setup != Setup::Kernel => (
                format!("{:.2}x", r.one.rate / k.one.rate),
                format!("{:.2}x", r.two.rate / k.two.rate),
            ),
            _ => ("-".into(), "-".into()),
        };
        let cpus = format!("{} / {}", busy(r.one), busy(r.two));
        out(&format!(
            "{:<7} {:<19} {:>10} {:>11} {:>5.2}x   {:>12} {:>12}   {:<11} {:.0}% / {:.0}%",
            r.ty,
            r.setup.label(),
            rate(r.one.rate),
            rate(r.two.rate),
            r.two.rate / r.one.rate,
            vs1,
            vs2,
            cpus,
            r.one.spread * 100.0,
            r.two.spread * 100.0,
        ));
    }
    if rows
        .iter()
        .any(|r| r.one.spread > NOISY || r.two.spread > NOISY)
    {
        out(&format!(
            "warning: a figure varied by more than {:.0}% over its {ROUNDS} rounds: the machine is busy; do not trust the table",
            NOISY * 100.0
        ));
    }
    out("");
    fd_passing(o, out)?;
    out("");
    workloads::run(o.secs, out)?;
    workloads::memory(out)?;
    out("");
    out("2t/1t: two-thread over one-thread throughput (target for the model: >= 1.6x on two cores).");
    out("spread: (max - min) / median over 3 rounds of each figure (the median is printed).");
    out("CPUs busy: process CPU time / wall time during the 1-thread / 2-thread run; a 2-thread");
    out("figure well below 2 means the threads did not run in parallel (lock sleeps, or a busy machine).");
    Ok(())
}

/// One fd-passing round trip of the model: `sendmsg` of 2 bytes carrying
/// `n` copies of one fd, `recvmsg` with room for 253, every received fd
/// closed.
struct ModelFds {
    w: World,
    pid: Pid,
    pair: [Fd; 2],
    control: Vec<u8>,
    n: usize,
}

impl ModelFds {
    fn new(n: usize) -> Result<ModelFds, String> {
        use afunix::abi::cmsg::CmsgBuilder;
        let w = World::new();
        let pid = w.spawn(&TaskSpec {
            nofile: 4096,
            ..TaskSpec::default()
        });
        let pair = w
            .socketpair(pid, SOCK_DGRAM)
            .map_err(|e| format!("{e:?}"))?;
        let f = w.memfd(pid, b"").map_err(|e| format!("{e:?}"))?;
        let control = if n == 0 {
            Vec::new()
        } else {
            CmsgBuilder::new().rights(&vec![f; n]).finish()
        };
        Ok(ModelFds {
            w,
            pid,
            pair,
            control,
            n,
        })
    }

    fn round_trip(&mut self) -> Result<(), String> {
        use afunix::abi::cmsg::{cmsg_space, user_cmsgs};
        let m = MsgHdr {
            name: None,
            iov: Some(b"xy"),
            control: &self.control,
        };
        self.w
            .sendmsg(self.pid, self.pair[0], &m, 0)
            .map_err(|e| format!("model sendmsg: {e:?}"))?;
        let r = self
            .w
            .recvmsg(self.pid, self.pair[1], 16, cmsg_space(4 * 253), 0)
            .map_err(|e| format!("model recvmsg: {e:?}"))?;
        let mut got = 0;
        for c in user_cmsgs(&r.control) {
            for b in c.data.chunks_exact(4) {
                let fd = Fd::from_raw(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                self.w
                    .close(self.pid, fd)
                    .map_err(|e| format!("model close: {e:?}"))?;
                got += 1;
            }
        }
        if got != self.n {
            return Err(format!("model: {got} fds received, {} sent", self.n));
        }
        Ok(())
    }
}

/// The same round trip on the host kernel.
struct KernelFds {
    p: BenchPair,
    /// The fd passed (an end of another pair).
    other: BenchPair,
    n: usize,
}

impl KernelFds {
    fn round_trip(&mut self) -> Result<(), String> {
        let fd = self.other.raw_fd(0);
        let fds = vec![fd; self.n];
        self.p
            .send_fds(0, b"xy", &fds)
            .map_err(|e| format!("kernel sendmsg: {e}"))?;
        let mut buf = [0u8; 16];
        let (_, got) = self
            .p
            .recv_fds(1, &mut buf)
            .map_err(|e| format!("kernel recvmsg: {e}"))?;
        if got.len() != self.n {
            return Err(format!(
                "kernel: {} fds received, {} sent",
                got.len(),
                self.n
            ));
        }
        Ok(())
    }
}

/// Nanoseconds per call of `f` over about `secs` seconds.
fn ns_per_op(secs: f64, f: &mut dyn FnMut() -> Result<(), String>) -> Result<f64, String> {
    for _ in 0..200 {
        f()?;
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        for _ in 0..64 {
            f()?;
        }
        n += 64;
    }
    Ok(t0.elapsed().as_secs_f64() * 1e9 / n as f64)
}

/// The fd-passing round trip with 0, 1, 16 and 253 fds: model and kernel
/// measured alternately, three rounds each; the median of each side, its
/// spread over the rounds, and the model's speed-up.
fn fd_passing(o: BenchOpts, out: &mut dyn FnMut(&str)) -> Result<(), String> {
    out("fd-passing round trip: dgram socketpair, sendmsg of 2 bytes with N fds, recvmsg with");
    out("room for 253, every received fd closed; model and kernel alternately, 3 rounds each.");
    out(&format!(
        "{:>5} {:>12} {:>12} {:>9} {:>8} {:>8}",
        "fds", "kernel ns", "model ns", "speed-up", "k.spread", "m.spread"
    ));
    let secs = (o.secs / 3.0).max(0.05);
    for n in [0usize, 1, 16, 253] {
        let mut model = ModelFds::new(n)?;
        let mut kernel = KernelFds {
            p: BenchPair::new(SOCK_DGRAM).map_err(|e| e.to_string())?,
            other: BenchPair::new(SOCK_DGRAM).map_err(|e| e.to_string())?,
            n,
        };
        let ((m, sm), (k, sk)) = alternate(secs, &mut || model.round_trip(), &mut || {
            kernel.round_trip()
        })?;
        let warn = if sm > NOISY || sk > NOISY {
            "  (noisy: the machine is busy; do not trust this row)"
        } else {
            ""
        };
        out(&format!(
            "{n:>5} {k:>12.0} {m:>12.0} {:>8.2}x {:>7.0}% {:>7.0}%{warn}",
            k / m,
            sk * 100.0,
            sm * 100.0
        ));
    }
    Ok(())
}

/// One side's figure: the median ns/op and its spread.
type Side = (f64, f64);

/// Three rounds of `model` then `kernel`, alternately, `secs` each: the
/// median ns/op of each side and its spread ((max - min) / median).
fn alternate(
    secs: f64,
    model: &mut dyn FnMut() -> Result<(), String>,
    kernel: &mut dyn FnMut() -> Result<(), String>,
) -> Result<(Side, Side), String> {
    let (mut ms, mut ks) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ms.push(ns_per_op(secs, model)?);
        ks.push(ns_per_op(secs, kernel)?);
    }
    let summary = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let med = v[v.len() / 2];
        (med, (v[v.len() - 1] - v[0]) / med)
    };
    Ok((summary(ms), summary(ks)))
}

/// `afunix bench --exec`: the wall time of CPython's own unix-socket tests
/// natively and under `afunix exec` (this binary), the median of `rounds`
/// runs each, and their ratio. The served run pays for every trapped call
/// (a seccomp notification, `pidfd_getfd`, `process_vm_readv`) on top of
/// the model.
pub fn run_exec(rounds: usize, out: &mut dyn FnMut(&str)) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let tests = afunix_cli::CPYTHON_UNIX_TESTS;
    let dir = std::env::temp_dir();
    let time = |served: bool| -> Result<f64, String> {
        let mut cmd = if served {
            let mut c = std::process::Command::new(&me);
            c.args(["exec", "--", "python3"]);
            c
        } else {
            std::process::Command::new("python3")
        };
        cmd.args(tests).current_dir(&dir);
        cmd.stdout(std::process::Stdio::null());
        cmd.stderr(std::process::Stdio::null());
        let t0 = std::time::Instant::now();
        let st = cmd.status().map_err(|e| format!("python3: {e}"))?;
        if !st.success() {
            return Err(format!(
                "the tests failed ({}){}",
                st,
                if served {
                    " under afunix exec"
                } else {
                    " natively"
                }
            ));
        }
        Ok(t0.elapsed().as_secs_f64())
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    out("afunix bench --exec: CPython's unix-socket tests (test_socket -m '*Unix*' ...),");
    out(&format!("wall time, median of {rounds} runs each"));
    let mut native = Vec::new();
    let mut served = Vec::new();
    for _ in 0..rounds.max(1) {
        native.push(time(false)?);
        served.push(time(true)?);
    }
    let (n, s) = (median(native), median(served));
    out(&format!("{:<18} {:>8.3} s", "native", n));
    out(&format!("{:<18} {:>8.3} s", "under afunix exec", s));
    out(&format!("{:<18} {:>8.2}x", "exec / native", s / n));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_run_prints_a_table() {
        let mut lines = Vec::new();
        run(
            BenchOpts {
                secs: 0.05,
                size: 16,
            },
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap();
        let text = lines.join("\n");
        assert!(text.contains("model, 1 process"), "{text}");
        assert!(text.contains("model, 2 processes"), "{text}");
        assert!(text.contains("stream"), "{text}");
    }

    #[test]
    fn bad_options_are_refused() {
        let mut sink = |_: &str| {};
        assert!(run(
            BenchOpts {
                secs: 0.0,
                size: 64
            },
            &mut sink
        )
        .is_err());
        assert!(run(BenchOpts { secs: 1.0, size: 0 }, &mut sink).is_err());
        assert!(run(
            BenchOpts {
                secs: 1.0,
                size: MAX_SIZE + 1
            },
            &mut sink
        )
        .is_err());
    }
}
