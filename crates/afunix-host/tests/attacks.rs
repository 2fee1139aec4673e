//! Hostile scenarios on the host backend (see `docs/THREAT-MODEL.md`):
//! each attack must fail with a clear result and leave the machine as it
//! was. The tests need root; without it each says so in one line and
//! passes.

mod common;
use afunix::Errno;
use afunix_backend::backend::{Backend, Call, Out, Progress, RecvBuf, SendBuf, TaskSpec};
use afunix_host::{HostBackend, Limits};
use common::{call, cmsg, errno, ints, ok, root, T};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static LOCK: Mutex<()> = Mutex::new(());

const SOCK_DGRAM: i32 = 2;
const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;
const MSG_DONTWAIT: i32 = 0x40;
const POLLNVAL: i16 = 0x20;

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `true` when running as root; else prints why the test is skipped.
fn is_root(test: &str) -> bool {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = s
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string));
    if euid.as_deref() == Some("0") {
        return true;
    }
    eprintln!("{test}: skipped (needs root)");
    false
}

fn send(fd: i32, control: Vec<u8>) -> Call {
    Call::Sendmsg {
        fd,
        name: None,
        iov: vec![SendBuf::Bytes(b"x".to_vec())],
        control,
        flags: 0,
    }
}

fn recv(fd: i32) -> Call {
    Call::Recvmsg {
        fd,
        iov: vec![RecvBuf::Len(64)],
        namelen: 0,
        control: RecvBuf::Len(256),
        flags: MSG_DONTWAIT,
    }
}

fn pair(b: &mut HostBackend, id: usize) -> [i32; 2] {
    match ok(call(
        b,
        id,
        Call::Socketpair {
            ty: SOCK_DGRAM,
            protocol: 0,
        },
    )) {
        (0, Out::Pair(p)) => p,
        other => panic!("socketpair: {other:?}"),
    }
}

/// A sockaddr_un with `path` (NUL-terminated), as `hex:` would write it.
fn sun(path: &[u8]) -> Vec<u8> {
    let mut v = vec![1, 0];
    v.extend_from_slice(path);
    v.push(0);
    v
}

/// Attack 1: pass the helper's own channel (fd 2024 at nofile=1024) or the
/// fork spare next to it through SCM_RIGHTS, written as `rights=[...]` or
/// as raw control bytes in any layout the kernel accepts. Every attempt
/// must pass a closed fd (EBADF), never the channel; the run goes on.
#[test]
fn channel_cannot_be_passed_in_scm_rights() {
    if !is_root("channel_cannot_be_passed_in_scm_rights") {
        return;
    }
    let _g = lock();
    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    let [a, c] = pair(&mut b, 0);
    let rights = |v: &[i32]| cmsg(SOL_SOCKET, SCM_RIGHTS, &ints(v));
    let other = cmsg(0, 1, &ints(&[0, 0, 0])); // SOL_IP: skipped by __scm_send
    for ch in [2024, 2025] {
        let mut second = cmsg(255, 1, &[0; 8]); // another level, skipped
        second.extend(rights(&[ch]));
        // cmsg_len 20, not padded to 24: the kernel still takes it.
        let mut unpadded = Vec::new();
        unpadded.extend_from_slice(&20u64.to_ne_bytes());
        unpadded.extend_from_slice(&ints(&[SOL_SOCKET, SCM_RIGHTS, ch]));
        let mut after_other = other.clone();
        after_other.extend(rights(&[ch]));
        for control in [
            rights(&[ch]),
            rights(&[a, ch]),
            rights(&[ch, ch, ch]),
            second,
            unpadded,
            after_other,
        ] {
            let r = call(&mut b, 0, send(a, control.clone()));
            assert!(
                r.ret == Err(Errno::EBADF.into()) || r.ret == Err(Errno::EINVAL.into()),
                "{control:02x?}: {r:?}"
            );
            // Nothing arrived: no copy of the channel to receive.
            assert_eq!(errno(call(&mut b, 0, recv(c))), Errno::EAGAIN);
        }
        // Other fd-taking calls see a closed fd too.
        assert_eq!(errno(call(&mut b, 0, Call::Pidof { fd: ch })), Errno::EBADF);
        assert_eq!(
            errno(call(&mut b, 0, Call::Dup2 { fd: ch, newfd: 9 })),
            Errno::EBADF
        );
        assert_eq!(
            errno(call(&mut b, 0, Call::Dup2 { fd: a, newfd: ch })),
            Errno::EBADF
        );
        let r = ok(call(
            &mut b,
            0,
            Call::Poll {
                fds: vec![ch],
                list: (),
                events: 1,
                timeout: 0,
            },
        ));
        assert_eq!(r, (1, Out::Revents(vec![POLLNVAL])));
    }
    // The helper still answers, and a real SCM_RIGHTS pass still works.
    assert_eq!(ok(call(&mut b, 0, send(a, rights(&[a])))).0, 1);
    let (n, out) = ok(call(&mut b, 0, recv(c)));
    assert_eq!(n, 1);
    match out {
        Out::Msg { control, .. } => assert_eq!(control.len(), 24, "one fd passed"),
        o => panic!("{o:?}"),
    }
    // And the helper's own fd table never got more than the scenario's fds.
    let fds: Vec<i32> = std::fs::read_dir(format!("/proc/{}/fd", b.pid(0)))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&n| n != 2024)
        .collect();
    assert!(fds.iter().all(|&n| n < 1024), "{fds:?}");
}

/// Removes a test's own files outside the run, even when the test fails.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn victim_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("afunix-victim-{}-{tag}", std::process::id()))
}

/// Attack 2: absolute and `..` paths in `hex:` addresses and file calls.
/// Each helper's `/` is the run directory: nothing outside is created,
/// reached, changed or removed.
#[test]
fn paths_stay_in_the_run_directory() {
    if !is_root("paths_stay_in_the_run_directory") {
        return;
    }
    let _g = lock();
    let listener_path = victim_path("sock");
    let file_path = victim_path("file");
    let evil = victim_path("evil");
    let _cleanup = Cleanup(vec![listener_path.clone(), file_path.clone(), evil.clone()]);
    let _ = std::fs::remove_file(&listener_path);
    let listener = std::os::unix::net::UnixDatagram::bind(&listener_path).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::fs::write(&file_path, b"keep").unwrap();
    let lp = listener_path.as_os_str().as_encoded_bytes().to_vec();
    let fp = file_path.as_os_str().as_encoded_bytes().to_vec();
    let ep = evil.as_os_str().as_encoded_bytes().to_vec();
    let up = |p: &[u8]| {
        let mut v = b"../../../../..".to_vec();
        v.extend_from_slice(p);
        v
    };

    let mut b = HostBackend::new().unwrap();
    b.task(0, &root()).unwrap();
    let dir = b.dir().to_path_buf();
    let s = ok(call(
        &mut b,
        0,
        Call::Socket {
            ty: SOCK_DGRAM,
            protocol: 0,
        },
    ))
    .0 as i32;
    // A real socket outside: not reachable by any spelling of its path.
    for p in [lp.clone(), up(&lp)] {
        let to = sun(&p);
        let r = call(
            &mut b,
            0,
            Call::Sendmsg {
                fd: s,
                name: Some(SendBuf::Bytes(to.clone())),
                iov: vec![SendBuf::Bytes(b"pwned".to_vec())],
                control: vec![],
                flags: 0,
            },
        );
        assert_eq!(errno(r), Errno::ENOENT);
        assert_eq!(
            errno(call(&mut b, 0, Call::Connect { fd: s, addr: to })),
            Errno::ENOENT
        );
    }
    let mut buf = [0u8; 16];
    assert!(listener.recv(&mut buf).is_err(), "the victim got data");
    // Bind / open / mkdir with absolute and escaping paths land inside.
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Bind {
                fd: s,
                addr: sun(b"/../../evil-sock")
            }
        ))
        .0,
        0
    );
    let s2 = ok(call(
        &mut b,
        0,
        Call::Socket {
            ty: SOCK_DGRAM,
            protocol: 0,
        },
    ))
    .0 as i32;
    assert_eq!(
        errno(call(
            &mut b,
            0,
            Call::Bind {
                fd: s2,
                addr: sun(&ep)
            }
        )),
        Errno::ENOENT,
        "no {} under the run directory",
        evil.parent().unwrap().display()
    );
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Mkdir {
                path: b"/../../evil-dir".to_vec(),
                mode: 0o755
            }
        ))
        .0,
        0
    );
    let r = call(
        &mut b,
        0,
        Call::Open {
            path: b"/../evil-file".to_vec(),
            flags: libc::O_CREAT | libc::O_WRONLY,
            mode: 0o644,
        },
    );
    assert!(ok(r).0 >= 0);
    assert!(dir
        .join("evil-sock")
        .metadata()
        .unwrap()
        .file_type()
        .is_socket());
    assert!(dir.join("evil-dir").is_dir());
    assert!(dir.join("evil-file").is_file());
    for p in ["/evil-sock", "/evil-dir", "/evil-file"] {
        assert!(!Path::new(p).exists(), "{p} created outside");
    }
    // The victim file outside: not opened, changed, renamed nor removed.
    for path in [fp.clone(), up(&fp)] {
        let r = call(
            &mut b,
            0,
            Call::Open {
                path: path.clone(),
                flags: libc::O_WRONLY | libc::O_TRUNC,
                mode: 0,
            },
        );
        assert_eq!(errno(r), Errno::ENOENT);
        let r = call(
            &mut b,
            0,
            Call::Chmod {
                path: path.clone(),
                mode: 0,
            },
        );
        assert_eq!(errno(r), Errno::ENOENT);
        let r = call(
            &mut b,
            0,
            Call::Rename {
                old: path.clone(),
                new: b"stolen".to_vec(),
            },
        );
        assert_eq!(errno(r), Errno::ENOENT);
        assert_eq!(errno(call(&mut b, 0, Call::Unlink { path })), Errno::ENOENT);
    }
    // /dev/null (fds 0-2) still works inside.
    assert_eq!(
        ok(call(
            &mut b,
            0,
            Call::Write {
                fd: 1,
                data: b"x".to_vec()
            }
        ))
        .0,
        1
    );
    drop(b);
    assert!(!dir.exists(), "run directory removed");
    assert_eq!(std::fs::read(&file_path).unwrap(), b"keep");
    assert!(!evil.exists());
    assert!(listener.recv(&mut buf).is_err(), "the victim got data");
    let _ = std::fs::remove_file(&listener_path);
    let _ = std::fs::remove_file(&file_path);
}

/// Attack 3a: the wall-clock limit ends a run that blocks or sleeps.
#[test]
fn wall_clock_limit_ends_the_run() {
    if !is_root("wall_clock_limit_ends_the_run") {
        return;
    }
    let _g = lock();
    let t0 = Instant::now();
    let mut b = HostBackend::with_limits(Limits {
        wall_clock: Duration::from_secs(2),
        ..Limits::default()
    })
    .unwrap();
    b.task(0, &root()).unwrap();
    let dir = b.dir().to_path_buf();
    // `sleep 86400000` fails at once.
    let e = b.sleep(Duration::from_millis(86_400_000)).unwrap_err();
    assert!(e.0.contains("wall-clock limit"), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    // A call blocked forever: waiting ends with the limit.
    let [_, c] = pair(&mut b, 0);
    b.start(
        0,
        Call::Recvmsg {
            fd: c,
            iov: vec![RecvBuf::Len(8)],
            namelen: 0,
            control: RecvBuf::Len(0),
            flags: 0,
        },
    )
    .unwrap();
    let err = loop {
        match b.wait(0, Duration::from_secs(3600)) {
            Ok(Progress::Blocked) => {}
            Ok(Progress::Done(r)) => panic!("{r:?}"),
            Err(e) => break e,
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no limit");
    };
    assert!(err.0.contains("wall-clock limit"), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(b.task(1, &root()).is_err(), "nothing more runs");
    let helper = b.pid(0);
    drop(b);
    assert!(!dir.exists());
    assert!(
        !Path::new(&format!("/proc/{helper}")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{helper}/stat")).unwrap_or_default();
            s.contains(") Z")
        }
    );
}

/// Attack 3b: memory a scenario can pin (memfds, files, socket buffers)
/// is bounded by the byte budget and RLIMIT_FSIZE; processes and network
/// namespaces are counted; the helpers' rlimits are set.
#[test]
fn byte_budget_and_rlimits() {
    if !is_root("byte_budget_and_rlimits") {
        return;
    }
    let _g = lock();
    let mut b = HostBackend::with_limits(Limits {
        max_bytes: 8 << 20,
        file_size: 1 << 20,
        max_procs: 3,
        max_netns: 2,
        ..Limits::default()
    })
    .unwrap();
    b.task(0, &root()).unwrap();
    // A memfd past RLIMIT_FSIZE: EFBIG, and the helper lives (SIGXFSZ ignored).
    let r = call(
        &mut b,
        0,
        Call::Memfd {
            content: vec![7; 2 << 20],
        },
    );
    assert_eq!(errno(r), Errno::EFBIG);
    // Many memfds: the run stops at its byte budget (8 MiB here).
    let mut err = None;
    for _ in 0..42 {
        match b.start(
            0,
            Call::Memfd {
                content: vec![1; 1 << 20],
            },
        ) {
            Ok(()) => {
                let _ = b.wait(0, T).unwrap();
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("the byte budget stops the memfds");
    assert!(err.0.contains("exceeds 8388608 bytes"), "{err:?}");
    // Helper limits as documented.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", b.pid(0))).unwrap();
    let row = |name: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap()
    };
    assert!(row("Max cpu time").contains("60 60 seconds"), "{limits}");
    assert!(row("Max file size").contains("1048576 1048576"), "{limits}");
    assert!(row("Max core file size").contains("0 0"), "{limits}");
    // Processes and network namespaces are bounded.
    b.task(1, &root()).unwrap();
    b.fork(1, 2).unwrap();
    let e = b.fork(1, 3).unwrap_err();
    assert!(e.0.contains("at most 3 processes"), "{e:?}");
    let mut b = HostBackend::with_limits(Limits {
        max_netns: 2,
        ..Limits::default()
    })
    .unwrap();
    for (id, netns) in [(0, 0), (1, 1)] {
        b.task(id, &TaskSpec { netns, ..root() }).unwrap();
    }
    let e = b.task(2, &TaskSpec { netns: 2, ..root() }).unwrap_err();
    assert!(e.0.contains("at most 2 network namespaces"), "{e:?}");
    // Calls without data count too (the kernel objects they pin): 1-byte
    // datagrams stop after about max_bytes / (1 + CALL_COST).
    let mut b = HostBackend::with_limits(Limits {
        max_bytes: 64 * afunix_host::CALL_COST,
        ..Limits::default()
    })
    .unwrap();
    b.task(0, &root()).unwrap();
    let [a, _] = pair(&mut b, 0);
    let mut sent = 0;
    while b.start(0, send(a, vec![])).is_ok() {
        let _ = b.wait(0, T).unwrap();
        sent += 1;
        assert!(sent < 100, "no bound on calls");
    }
    assert!((55..64).contains(&sent), "{sent}");
}

/// The test binary re-runs itself as the backend process that is signalled.
const SIG_CHILD: &str = "AFUNIX_HOST_SIGNAL_CHILD";

/// Attack 4: SIGINT, SIGTERM, SIGHUP (and SIGKILL) to the process holding
/// the backend: its helpers die and the run directory, with its socket
/// files, is removed. The child process runs with TMPDIR set to a fresh
/// directory, so "removed" means that directory is empty again.
#[test]
fn run_directory_removed_on_signals() {
    if std::env::var_os(SIG_CHILD).is_some() {
        let mut b = HostBackend::new().unwrap();
        b.task(0, &root()).unwrap();
        let s = ok(call(
            &mut b,
            0,
            Call::Socket {
                ty: SOCK_DGRAM,
                protocol: 0,
            },
        ))
        .0 as i32;
        assert_eq!(
            ok(call(
                &mut b,
                0,
                Call::Bind {
                    fd: s,
                    addr: sun(b"sock")
                }
            ))
            .0,
            0
        );
        b.fork(0, 1).unwrap();
        println!("READY {}", b.dir().display());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    if !is_root("run_directory_removed_on_signals") {
        return;
    }
    let _g = lock();
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGKILL] {
        let tmp = victim_path(&format!("tmp{sig}"));
        let _cleanup = Cleanup(vec![tmp.clone()]);
        std::fs::create_dir_all(&tmp).unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "run_directory_removed_on_signals",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(SIG_CHILD, "1")
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let dir = loop {
            let l = lines.next().expect("child output").unwrap();
            if let Some((_, d)) = l.split_once("READY ") {
                break PathBuf::from(d);
            }
        };
        assert!(dir.join("sock").exists());
        // SAFETY: signalling the child process we spawned and have not reaped.
        unsafe { libc::kill(child.id() as i32, sig) };
        let _ = child.wait();
        let end = Instant::now() + Duration::from_secs(5);
        while dir.exists() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!dir.exists(), "signal {sig}: {} left behind", dir.display());
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
        std::fs::remove_dir(&tmp).unwrap();
    }
}

/// Attack 4 through the CLI: `afunix run --backend host` gets SIGTERM in
/// the middle of a run; its run directory (found under a private TMPDIR)
/// is removed. Uses `target/{release,debug}/afunix` when built.
#[test]
fn cli_run_directory_removed_on_sigterm() {
    if !is_root("cli_run_directory_removed_on_sigterm") {
        return;
    }
    let root_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let Some(bin) = ["release", "debug"]
        .iter()
        .map(|p| root_dir.join(p).join("afunix"))
        .find(|p| p.exists())
    else {
        eprintln!("cli_run_directory_removed_on_sigterm: skipped (build the afunix binary first)");
        return;
    };
    let _g = lock();
    let tmp = victim_path("cli");
    let _cleanup = Cleanup(vec![tmp.clone()]);
    std::fs::create_dir_all(&tmp).unwrap();
    let scn = tmp.join("t.scn");
    std::fs::write(
        &scn,
        "task A\nA: socket dgram -> s\nA: bind s \"sock\"\nsleep 30000\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["run", "--backend", "host"])
        .arg(&scn)
        .env("TMPDIR", &tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs = || -> Vec<PathBuf> {
        std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect()
    };
    let end = Instant::now() + Duration::from_secs(10);
    while !runs().iter().any(|d| d.join("sock").exists()) {
        assert!(Instant::now() < end, "the run did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: signalling the child process we spawned and have not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let end = Instant::now() + Duration::from_secs(5);
    while !runs().is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(runs().is_empty(), "left behind: {:?}", runs());
    std::fs::remove_dir_all(&tmp).unwrap();
}
