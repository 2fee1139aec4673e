//! `afunix exec`: a real, unmodified program whose AF_UNIX sockets are
//! served by the afunix model.
//!
//! The program runs under a seccomp filter ([`filter`]) that sends every
//! call that may touch a unix socket to this supervisor
//! (`SECCOMP_RET_USER_NOTIF`); the supervisor ([`serve`]) answers from the
//! model, reading and writing the program's memory with
//! `process_vm_readv`/`process_vm_writev` and installing files with
//! `SECCOMP_IOCTL_NOTIF_ADDFD`. Calls on other files go back to the kernel.
//! This serves and emulates; it is not by itself a security boundary (a
//! handed-back call is re-read by the kernel, and the program may race its
//! own memory).

#![warn(missing_docs)]

pub mod decode;
pub mod filter;
pub mod fs;
pub mod guard;
pub mod launch;
mod procfs;
pub mod serve;
mod sys;

use serve::Supervisor;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// What `afunix exec` was asked for.
#[derive(Default)]
pub struct Options {
    /// Write every served call here, one line each.
    pub trace: Option<Box<dyn Write + Send>>,
    /// Print what was served at exit.
    pub stats: bool,
    /// Print the model's census at exit.
    pub census: bool,
    /// Annotate errors with the rule that produced them.
    pub explain: bool,
    /// Under each traced call, the path it took through the model (the
    /// kernel functions it mirrors and the decisions on the way).
    pub path: bool,
    /// Pathname sockets outside the run that the program's connects and
    /// sends reach on the kernel (by default they are refused as dead
    /// sockets, with a line on standard error).
    pub host_paths: Vec<std::path::PathBuf>,
    /// Faults to inject in the model (see [`afunix::fault`]), for any
    /// process of the program.
    pub faults: Vec<(afunix::fault::FaultPoint, afunix::fault::When)>,
    /// The program's security policy in the model (`--deny`): deny rules
    /// for the program's processes (never the supervisor's own).
    pub deny: Vec<afunix::security::DenyRule>,
}

/// The end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The program's exit status (128 + N for death by signal N).
    pub status: i32,
    /// Unix sockets the model still had once every process was gone and
    /// the collector ran.
    pub sockets_left: usize,
    /// Open files the model still had then.
    pub files_left: usize,
}

/// Run `argv` under the model until it and every process it started are
/// gone.
///
/// # Errors
/// The program could not be started ([`launch::LaunchError`], with the
/// exit status `env(1)` would use).
pub fn run(argv: &[OsString], opts: Options) -> Result<Outcome, launch::LaunchError> {
    // First, while we have one thread: the guard that kills the program
    // if we die.
    let guard = guard::Guard::spawn()
        .map_err(|e| launch::LaunchError::Failed(format!("afunix exec: guard: {e}")))?;
    // Orphans of the program are ours to reap: the run ends when the last
    // of them is gone.
    sys::set_child_subreaper();
    let launched = launch::launch(argv, &filter::program())?;
    let host_paths = opts
        .host_paths
        .iter()
        .map(|p| std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec())
        .collect();
    let sup = Supervisor::new(
        launched.listener,
        opts.trace,
        (opts.explain, opts.path),
        host_paths,
        guard,
        opts.deny,
    )
    .map_err(|e| launch::LaunchError::Failed(format!("afunix exec: {e}")))?;
    for &(point, when) in &opts.faults {
        sup.world.inject(afunix::fault::Fault {
            point,
            pid: None,
            when,
        });
    }
    let sup = Arc::new(sup);

    // Notifications: each on its own thread, since a model call may block.
    {
        let sup = Arc::clone(&sup);
        std::thread::spawn(move || loop {
            match sys::poll(&[sup.listener_fd()], 0x1, -1) {
                Ok(r) if r[0] & 0x1 != 0 => {}
                // POLLHUP: no process uses the filter any more.
                _ => return,
            }
            let Ok(n) = sup.recv() else { continue };
            let s = Arc::clone(&sup);
            let handling = sup.handling();
            let spawned = std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    s.handle(n);
                    drop(handling);
                });
            if spawned.is_err() {
                // No thread: let the kernel refuse the call.
                sup.refuse(&n);
            }
        });
    }
    // Signals for callers whose call the model is serving; new processes.
    {
        let sup = Arc::clone(&sup);
        std::thread::spawn(move || {
            for round in 0u64.. {
                sup.watch_signals();
                // New processes, for the guard, every 100 ms.
                if round % 50 == 0 {
                    sup.discover();
                }
                if round % 10 == 0 {
                    sup.reap_shut();
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
    }
    // Hang-ups of placeholders and exits of processes.
    {
        let sup = Arc::clone(&sup);
        std::thread::spawn(move || watch(&sup));
    }

    let status = reap_all(launched.pid);
    let (sockets_left, files_left) = sup.finish();
    if opts.stats {
        sup.print_stats(&mut std::io::stderr());
    }
    if opts.census {
        eprintln!("afunix exec: census: {sockets_left} sockets, {files_left} open files");
    }
    Ok(Outcome {
        status,
        sockets_left,
        files_left,
    })
}

/// Reap every child until none is left; the status of `main`.
fn reap_all(main: i32) -> i32 {
    let mut status = 0;
    loop {
        let mut ws = 0;
        let pid = sys::waitpid_any(&mut ws);
        if pid < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return status;
        }
        if pid == main {
            status = if libc::WIFEXITED(ws) {
                libc::WEXITSTATUS(ws)
            } else if libc::WIFSIGNALED(ws) {
                128 + libc::WTERMSIG(ws)
            } else {
                status
            };
        }
    }
}

fn watch(sup: &Supervisor) {
    loop {
        let (bs, pidfds) = sup.watched();
        // B: only its hang-up (POLLHUP is always reported; B may hold the
        // bytes that fill A's send queue, so not POLLIN).
        let mut fds = vec![(sup.kick.as_raw_fd(), 0x1)];
        fds.extend(bs.iter().map(|(b, _)| (b.as_raw_fd(), 0)));
        fds.extend(pidfds.iter().map(|(p, _)| (p.as_raw_fd(), 0x1)));
        let Ok(rev) = sys::poll_each(&fds, -1) else {
            continue;
        };
        sys::eventfd_drain(&sup.kick);
        for (i, (_, key)) in bs.iter().enumerate() {
            // POLLHUP: the program's last reference to A is gone.
            if rev[1 + i] & 0x10 != 0 {
                sup.hung_up(*key);
            }
        }
        for (i, (_, tgid)) in pidfds.iter().enumerate() {
            if rev[1 + bs.len() + i] & 0x1 != 0 {
                sup.proc_exited(*tgid);
            }
        }
    }
}
