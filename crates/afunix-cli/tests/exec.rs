//! `afunix exec`: programs nobody on this project wrote, run natively and
//! with their unix sockets served by the model; they must behave the
//! same, the trace must show that the model served them, and the model's
//! census must be zero at the end. A program the machine lacks is skipped
//! with one line saying so (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn python_has_tests() -> bool {
    Command::new("python3")
        .args(["-c", "import test.support, test.test_socket"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the command runs")
}

/// `argv` natively, in `dir`.
fn native(dir: &Path, argv: &[&str]) -> Output {
    run(Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .env("WORKDIR", dir))
}

/// `argv` under `afunix exec --census --trace TRACE`, in `dir`.
fn served(dir: &Path, argv: &[&str]) -> (Output, String) {
    served_with(dir, &[], argv)
}

/// As [`served`], with more options of `afunix exec`.
fn served_with(dir: &Path, opts: &[&str], argv: &[&str]) -> (Output, String) {
    let trace = dir.join("trace.txt");
    let out = run(Command::new(env!("CARGO_BIN_EXE_afunix"))
        .args(["exec", "--census", "--trace"])
        .arg(&trace)
        .args(opts)
        .arg("--")
        .args(argv)
        .current_dir(dir)
        .env("WORKDIR", dir));
    (out, std::fs::read_to_string(trace).unwrap_or_default())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The census line says nothing is left.
fn assert_census_zero(out: &Output) {
    let err = text(&out.stderr);
    assert!(
        err.contains("census: 0 sockets, 0 open files"),
        "census not zero:\n{err}"
    );
}

fn assert_same(native: &Output, served: &Output) {
    assert_eq!(
        text(&native.stdout),
        text(&served.stdout),
        "stdout differs; served stderr:\n{}",
        text(&served.stderr)
    );
    assert_eq!(native.status.code(), served.status.code());
}

/// Run `tests/exec/SCRIPT` with python3 natively and served, each in a
/// fresh directory: the native output must contain `expect`, the served
/// one must equal it, and the census must be zero. The served trace, or
/// `None` (with a line saying so) without python3.
fn python_both(script: &str, expect: &str) -> Option<String> {
    python_both_with(script, expect, &[])
}

/// As [`python_both`], with more options of `afunix exec`.
fn python_both_with(script: &str, expect: &str, opts: &[&str]) -> Option<String> {
    if !have("python3") {
        eprintln!("skipped: needs python3");
        return None;
    }
    let script = root().join("tests/exec").join(script);
    let script = script.to_str().unwrap();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n = native(d1.path(), &["python3", script]);
    assert!(
        text(&n.stdout).contains(expect),
        "{}{}",
        text(&n.stdout),
        text(&n.stderr)
    );
    let (s, trace) = served_with(d2.path(), opts, &["python3", script]);
    assert_same(&n, &s);
    assert_census_zero(&s);
    Some(trace)
}

#[test]
fn exit_statuses_are_the_programs_and_envs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (o, _) = served(d, &["sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let (o, _) = served(d, &["sh", "-c", "kill -9 $$"]);
    assert_eq!(o.status.code(), Some(128 + 9));
    let (o, _) = served(d, &["no-such-program-afunix"]);
    assert_eq!(o.status.code(), Some(127));
    assert!(
        text(&o.stderr).contains("no-such-program-afunix"),
        "{}",
        text(&o.stderr)
    );
    std::fs::write(d.join("not-exec"), "#!/bin/sh\n").unwrap();
    let (o, _) = served(d, &["./not-exec"]);
    assert_eq!(o.status.code(), Some(126));
}

#[test]
fn a_python_program_passing_fds_runs_as_natively() {
    let Some(trace) = python_both("fd_passing.py", "peercred pid ok True") else {
        return;
    };
    // The model served the calls: the fd-passing sendmsg is in the trace,
    // with the program's own fd numbers.
    assert!(
        trace
            .lines()
            .any(|l| l.contains(": sendmsg ") && l.contains("rights=[")),
        "{trace}"
    );
    assert!(trace.lines().any(|l| l.contains(": accept ")), "{trace}");
}

/// CPython's suites run one at a time (each runs natively, then served):
/// some of their tests time calls, and two suites side by side on a
/// small machine could make one late in one run and not in the other.
fn cpython_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The `name (module.Class.name) ... ok` lines of a unittest run, sorted.
fn unittest_verdicts(o: &Output) -> Vec<String> {
    let mut v: Vec<String> = text(&o.stdout)
        .lines()
        .chain(text(&o.stderr).lines())
        .filter(|l| l.contains(") ... "))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The unix-socket tests of CPython's own test suite.
#[test]
fn cpython_test_socket_unix_tests_pass_as_natively() {
    if !have("python3") || !python_has_tests() {
        eprintln!("skipped: needs python3 with its test suite (Lib/test)");
        return;
    }
    let _one_at_a_time = cpython_turn();
    let dir = tempfile::tempdir().unwrap();
    let argv: Vec<&str> = ["python3"]
        .into_iter()
        .chain(afunix_cli::CPYTHON_UNIX_TESTS.iter().copied())
        .chain(["-v"])
        .collect();
    let n = native(dir.path(), &argv);
    let (s, trace) = served(dir.path(), &argv);
    let (nv, sv) = (unittest_verdicts(&n), unittest_verdicts(&s));
    assert!(nv.len() > 50, "too few tests natively: {}", nv.len());
    assert_eq!(nv, sv, "served stderr:\n{}", text(&s.stderr));
    assert!(n.status.success() && s.status.success());
    assert_census_zero(&s);
    assert!(trace.lines().filter(|l| l.contains(": sendmsg ")).count() > 100);
}

/// `python3 -m test ARGS -v` natively and served: at least `min` tests,
/// each with the same verdict, both runs successful, nothing left in the
/// model.
fn cpython_tests_as_natively(args: &[&str], min: usize) {
    if !have("python3") || !python_has_tests() {
        eprintln!("skipped: needs python3 with its test suite (Lib/test)");
        return;
    }
    let _one_at_a_time = cpython_turn();
    let dir = tempfile::tempdir().unwrap();
    let argv: Vec<&str> = ["python3", "-m", "test"]
        .into_iter()
        .chain(args.iter().copied())
        .chain(["-v"])
        .collect();
    let n = native(dir.path(), &argv);
    let (s, _) = served(dir.path(), &argv);
    let (nv, sv) = (unittest_verdicts(&n), unittest_verdicts(&s));
    assert!(nv.len() >= min, "too few tests natively: {}", nv.len());
    assert_eq!(nv, sv, "served stderr:\n{}", text(&s.stderr));
    assert!(n.status.success() && s.status.success());
    assert_census_zero(&s);
}

/// The whole of CPython's `test_socket` (but its VSOCK tests, which hang
/// natively on a machine with a vsock device and no peer): the inet,
/// netlink and other families stay with the kernel, every unix socket
/// goes to the model, and each of the 700-odd tests ends as natively.
#[test]
fn cpython_whole_test_socket_passes_as_natively() {
    cpython_tests_as_natively(&["test_socket", "-i", "*VSOCK*"], 500);
}

/// asyncio's unix event loop (unix servers and connections, socket
/// pairs, sock_* calls, sendfile), `socketserver`'s Unix servers and the
/// selectors over unix sockets: 400-odd tests, each ending as natively.
#[test]
fn cpython_asyncio_socketserver_and_selectors_tests_pass_as_natively() {
    cpython_tests_as_natively(
        &[
            "-u",
            "network",
            "test_asyncio.test_unix_events",
            "test_asyncio.test_sock_lowlevel",
            "test_asyncio.test_sendfile",
            "test_asyncio.test_events",
            "test_asyncio.test_streams",
            "test_socketserver",
            "test_selectors",
        ],
        400,
    );
}

/// CPython's test_eintr: signals interrupting blocked socket calls
/// (accept, recv, recvmsg, send, sendall, sendmsg) must restart them.
#[test]
fn cpython_test_eintr_socket_tests_pass_as_natively() {
    if !have("python3") || !python_has_tests() {
        eprintln!("skipped: needs python3 with its test suite (Lib/test)");
        return;
    }
    let _one_at_a_time = cpython_turn();
    let dir = tempfile::tempdir().unwrap();
    let argv = [
        "python3",
        "-m",
        "test",
        "-u",
        "walltime",
        "test_eintr",
        "-v",
    ];
    let n = native(dir.path(), &argv);
    let (s, _) = served(dir.path(), &argv);
    let socket_verdicts = |o: &Output| -> Vec<String> {
        text(&o.stdout)
            .lines()
            .chain(text(&o.stderr).lines())
            .filter(|l| l.contains("SocketEINTRTest") && l.contains(" ... "))
            .map(str::to_string)
            .collect()
    };
    let (nv, sv) = (socket_verdicts(&n), socket_verdicts(&s));
    assert!(nv.len() >= 6, "{nv:?}");
    assert!(nv.iter().all(|l| l.ends_with(" ok")), "{nv:?}");
    assert_eq!(nv, sv, "served output:\n{}", text(&s.stdout));
    assert!(s.status.success());
    assert_census_zero(&s);
}

#[test]
fn socat_relays_a_file_byte_exact_and_crosses_exec() {
    if !have("socat") {
        eprintln!("skipped: needs socat (apt-get install socat)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 3 MB of bytes that are not text.
    let payload: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("payload.bin"), payload).unwrap();
    let script = root().join("tests/exec/socat_relay.sh");
    let script = script.to_str().unwrap();
    let n = native(dir.path(), &[script]);
    assert!(
        text(&n.stdout).contains("relay: byte-exact"),
        "{}",
        text(&n.stderr)
    );
    let (s, trace) = served(dir.path(), &[script]);
    assert_same(&n, &s);
    assert_census_zero(&s);
    assert!(trace.contains(": listen "), "{trace}");
    assert!(trace.contains(": accept "), "{trace}");
    assert!(
        trace.contains(": socketpair "),
        "EXEC: uses a socketpair: {trace}"
    );
}

/// D-Bus: the reference dbus-daemon and its clients (dbus-send, and
/// busctl's sd-bus where systemd is there) on a private bus: EXTERNAL
/// authentication from SO_PEERCRED, SO_PEERGROUPS and SO_PEERSEC, the
/// bus's own names, and the daemon's pid and uid as the bus reads them
/// from its connection's credentials.
#[test]
fn a_dbus_daemon_and_its_clients_run_as_natively() {
    if !have("dbus-daemon") || !have("dbus-send") {
        eprintln!(
            "skipped: needs dbus-daemon and dbus-send (apt-get install dbus-daemon dbus-bin)"
        );
        return;
    }
    let script = root().join("tests/exec/dbus_session.sh");
    let script = script.to_str().unwrap();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n = native(d1.path(), &[script]);
    let out = text(&n.stdout);
    for want in [
        "daemon pid: the daemon's own",
        "daemon uid: ours",
        "dbus: done",
    ] {
        assert!(out.contains(want), "{out}{}", text(&n.stderr));
    }
    let (s, trace) = served(d2.path(), &[script]);
    assert_same(&n, &s);
    assert_census_zero(&s);
    // The daemon accepted its clients and read their credentials on the
    // model (SO_PEERCRED is option 17 of SOL_SOCKET).
    assert!(trace.contains(": accept "), "{trace}");
    assert!(
        trace
            .lines()
            .any(|l| l.contains(": getsockopt ") && l.contains(" 1 17 = 0")),
        "{trace}"
    );
}

#[test]
fn systemd_notify_reports_ready_and_its_barrier_completes() {
    if !have("systemd-notify") {
        eprintln!("skipped: needs systemd-notify");
        return;
    }
    let Some(trace) = python_both("notify.py", "systemd-notify exit: 0") else {
        return;
    };
    // READY=1 went through the model, and the barrier's pipe travelled
    // in flight.
    assert!(
        trace
            .lines()
            .any(|l| l.contains("sendmsg") && l.contains("rights=[")),
        "{trace}"
    );
}

/// A static Go program (`CGO_ENABLED=0`): `net.UnixConn`'s
/// `WriteMsgUnix`/`ReadMsgUnix` on non-blocking sockets behind Go's
/// edge-triggered epoll netpoller.
#[test]
fn a_static_go_program_passes_fds_with_net_unixconn() {
    if !have("go") {
        eprintln!("skipped: needs go (apt-get install golang-go)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("fdpass");
    let built = run(Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(root().join("tests/exec/fdpass.go"))
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", dir.path().join("gocache"))
        .env("HOME", dir.path()));
    assert!(built.status.success(), "{}", text(&built.stderr));
    let bin = bin.to_str().unwrap();
    let n = native(dir.path(), &[bin]);
    assert!(n.status.success(), "{}", text(&n.stdout));
    let (s, trace) = served(dir.path(), &[bin]);
    assert_same(&n, &s);
    assert_census_zero(&s);
    assert!(
        trace
            .lines()
            .any(|l| l.contains("sendmsg") && l.contains("rights=[")),
        "{trace}"
    );
    assert!(trace.contains("socket stream nonblock cloexec"), "{trace}");
}

/// A socket bound by a process outside the run is refused as a dead socket
/// (with a line on standard error), unless `--host-path` hands it to the
/// kernel.
#[test]
fn sockets_outside_the_run_are_refused_or_reached_with_host_path() {
    if !have("python3") {
        eprintln!("skipped: needs python3");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("outside.sock");
    let mut server = Command::new("python3")
        .arg(root().join("tests/exec/outside_server.py"))
        .arg(&sock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "ready");
    let client = root().join("tests/exec/connect_outside.py");
    let (client, sock_s) = (client.to_str().unwrap(), sock.to_str().unwrap());
    let (o, _) = served(dir.path(), &["python3", client, sock_s]);
    assert_eq!(text(&o.stdout), "refused: 111\n");
    assert!(
        text(&o.stderr).contains("a socket of no process of this run"),
        "{}",
        text(&o.stderr)
    );
    let out = run(Command::new(env!("CARGO_BIN_EXE_afunix"))
        .args([
            "exec",
            "--host-path",
            sock_s,
            "--",
            "python3",
            client,
            sock_s,
        ])
        .current_dir(dir.path()));
    assert_eq!(
        text(&out.stdout),
        "connected: b'echo hello'\n",
        "{}",
        text(&out.stderr)
    );
    // The server's second connection: natively, for comparison.
    let n = native(dir.path(), &["python3", client, sock_s]);
    assert_eq!(text(&n.stdout), "connected: b'echo hello'\n");
    assert!(server.wait().unwrap().success());
}

/// Calls whose data would bypass the model are refused on a model socket
/// with a documented errno, and say so; `io_uring_setup` is ENOSYS.
#[test]
fn sendfile_on_a_model_socket_is_refused_and_says_so() {
    if !have("python3") {
        eprintln!("skipped: needs python3");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "data").unwrap();
    let code = "import socket, os\n\
a, b = socket.socketpair()\n\
f = os.open('f', os.O_RDONLY)\n\
try:\n    os.sendfile(a.fileno(), f, 0, 4); print('sent', b.recv(4))\n\
except OSError as e:\n    print('sendfile', e.errno)\n\
r, w = os.pipe(); os.write(w, b'pipe'); print('pipe read', os.read(r, 4))\n";
    let (o, trace) = served(dir.path(), &["python3", "-c", code]);
    assert_eq!(text(&o.stdout), "sendfile 22\npipe read b'pipe'\n");
    assert!(text(&o.stderr).contains("sendfile on a model socket is not served"));
    assert!(trace.contains("sendfile (not served) = EINVAL"), "{trace}");
    let n = native(dir.path(), &["python3", "-c", code]);
    assert_eq!(text(&n.stdout), "sent b'data'\npipe read b'pipe'\n");
}

/// Credentials may name a process outside the run (init): it gets a model
/// stand-in with its credentials. `--explain` puts the rule after errnos.
#[test]
fn credentials_naming_init_and_explained_errnos() {
    let Some(trace) = python_both_with("creds_init.py", "send 111", &["--explain", "--path"])
    else {
        return;
    };
    assert!(
        trace.contains("= ECONNREFUSED  # unix_dgram_sendmsg:"),
        "{trace}"
    );
    // --path: under each served call, the kernel functions the model ran
    // for it, and only those (not the supervisor's own bookkeeping).
    let lines: Vec<&str> = trace.lines().collect();
    let send = lines
        .iter()
        .position(|l| l.contains(": sendmsg ") || l.contains(": sendto "))
        .expect("a send in the trace");
    let path = lines[send + 1];
    assert!(
        path.starts_with("#   __sys_sendmsg → sock_sendmsg → unix_dgram_sendmsg"),
        "{trace}"
    );
    assert!(!trace.contains("close_fd"), "{trace}");
    // A sleeping receive names the call that woke it, by the program's
    // process name and real pid, as the trace introduced that process. The
    // name's letter depends on how many processes ran before (a `python3`
    // that is a shell shim runs several), so it is read from the trace.
    let woken = trace
        .split(" by __sys_sendmsg of ")
        .nth(1)
        .expect("a receive woken by a send");
    let (name, rest) = woken.split_once(" (pid ").expect("the waker's pid");
    let pid = rest.split(')').next().unwrap();
    assert!(
        trace.contains("(woken on sk_wq of #")
            && trace.contains(&format!("# {name} is pid {pid} (python3)")),
        "{trace}"
    );
    // --explain alone: the rule and the values that decided it, no path.
    let Some(trace) = python_both_with("creds_init.py", "send 111", &["--explain"]) else {
        return;
    };
    let refused = trace
        .lines()
        .find(|l| l.contains("= ECONNREFUSED  # unix_dgram_sendmsg:"))
        .expect("the refused send");
    assert!(refused.ends_with(')') && refused.contains(" ("), "{trace}");
    assert!(!trace.contains("#   __sys_"), "{trace}");
    // An fd the program does not have is named by the program's number,
    // not by the -1 the model was handed for it.
    assert!(
        trace.contains("= EBADF  # scm_fp_copy: fget_raw: fd not open (rights[0] is fd 999, not open in the program)"),
        "{trace}"
    );
}

/// If the supervisor dies, the program's processes die with it, even one
/// that never made a served call.
#[test]
fn the_program_dies_with_the_supervisor() {
    let mut sup = Command::new(env!("CARGO_BIN_EXE_afunix"))
        .args(["exec", "--", "sh", "-c", "sleep 300 & echo $!; wait"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(sup.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let sleeper: i32 = line.trim().parse().expect("the sleeper's pid");
    // Let the supervisor see it (it looks for new processes every 100 ms).
    std::thread::sleep(std::time::Duration::from_millis(400));
    sup.kill().unwrap();
    sup.wait().unwrap();
    let gone = || {
        std::fs::read_to_string(format!("/proc/{sleeper}/stat")).map_or(true, |st| {
            st.split(") ").nth(1).is_some_and(|r| r.starts_with('Z'))
        })
    };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !gone() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(gone(), "process {sleeper} outlived the supervisor");
}

/// Readiness mirrored onto placeholders: no EPOLLOUT while the socket is
/// full, EPOLLOUT (edge-triggered) once the peer drains it, EPOLLRDHUP and
/// EPOLLHUP when the peer shuts down and closes.
#[test]
fn epoll_sees_the_models_readiness() {
    python_both("epoll_out.py", "EPOLLOUT after the drain: [(3, 4)]");
}

/// Receive timestamps (`SO_TIMESTAMP*`, which journald sets on
/// `/dev/log`): under `exec` the model reads the host's clock, so a real
/// program finds each stamp between its send and its receive, first among
/// the control messages, as natively.
#[test]
fn receive_timestamps_are_the_hosts_time() {
    python_both(
        "timestamp.py",
        "5 SO_TIMESTAMPNS_NEW stamp first: True between send and receive: True 0",
    );
}

/// `exec --fault`: the model fails where asked (here the receiver cannot
/// install the second passed file), the trace says so, and nothing leaks.
#[test]
fn a_fault_injected_into_a_real_program() {
    if !have("python3") {
        eprintln!("skipped: needs python3");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.txt");
    let o = run(Command::new(env!("CARGO_BIN_EXE_afunix"))
        .args(["exec", "--census", "--fault", "receive_fd,nth=2", "--trace"])
        .arg(&trace)
        .arg("--")
        .args([
            "python3",
            root().join("tests/exec/fd_passing.py").to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .env("WORKDIR", dir.path()));
    let trace = std::fs::read_to_string(trace).unwrap();
    assert!(trace.contains("fault=receive_fd"), "{trace}");
    // MSG_CTRUNC (8) and one fd of two: the program sees what Linux shows.
    assert!(
        text(&o.stdout).contains("got b'fds' 1 8"),
        "{}",
        text(&o.stdout)
    );
    assert_census_zero(&o);
}

/// Bad pointers and absurd lengths get Linux's errnos; 200 forked children
/// each use a socketpair; a close racing a blocked recv leaves the recv to
/// finish; nothing leaks.
#[test]
fn bad_input_many_children_and_a_racing_close() {
    python_both("bad_input.py", "children ok True");
}

/// `afunix exec --deny`: the model's policy refuses the program's call at
/// its hook (natively the call succeeds), the trace names the hook, a
/// host memfd passes a memfd-only sandbox and a pipe does not, and the
/// supervisor's own bookkeeping is never refused.
#[test]
fn a_deny_rule_refuses_the_programs_call_at_its_hook() {
    if !have("python3") {
        eprintln!("skipped: needs python3");
        return;
    }
    let script = root().join("tests/exec/policy.py");
    let script = script.to_str().unwrap();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n = native(d1.path(), &["python3", script]);
    assert_eq!(
        text(&n.stdout),
        "m 1 whole\np 1 whole\nlistening\n",
        "{}",
        text(&n.stderr)
    );
    let (s, trace) = served_with(
        d2.path(),
        &[
            "--explain",
            "--deny",
            "file_receive,file=!memfd",
            "--deny",
            "socket_listen,errno=EPERM",
        ],
        &["python3", script],
    );
    // The program's own memfd is a memfd to the policy (a host file the
    // supervisor typed as it came into the model); its pipe is not.
    assert_eq!(
        text(&s.stdout),
        "m 1 whole\np 0 ctrunc\nlisten errno 1\n",
        "{}",
        text(&s.stderr)
    );
    assert!(
        trace.contains("= EPERM  # security_socket_listen: a deny rule of the policy matches"),
        "{trace}"
    );
    assert_census_zero(&s);
}
