//! Starting the program under the filter.
//!
//! The child installs the filter with `SECCOMP_FILTER_FLAG_NEW_LISTENER`;
//! the listener fd it gets is fetched by the supervisor with
//! `pidfd_getfd`, so the child never needs a call the filter traps before
//! a supervisor listens. The handshake is a shared anonymous page and
//! futexes (not trapped): the child publishes the listener's number and
//! waits; the parent takes the listener and lets it `execve`.

use crate::sys;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// Why the program could not be started, in `env(1)`'s terms.
#[derive(Debug)]
pub enum LaunchError {
    /// No such program (exit status 127).
    NotFound(String),
    /// Found but not executable (126).
    NotExecutable(String),
    /// afunix itself failed (125).
    Failed(String),
}

impl LaunchError {
    /// The exit status `env(1)` and `timeout(1)` use for it.
    pub fn status(&self) -> i32 {
        match self {
            LaunchError::NotFound(_) => 127,
            LaunchError::NotExecutable(_) => 126,
            LaunchError::Failed(_) => 125,
        }
    }
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::NotFound(s) | LaunchError::NotExecutable(s) | LaunchError::Failed(s) => {
                f.write_str(s)
            }
        }
    }
}

/// A started program.
pub struct Launched {
    /// Its pid (our child).
    pub pid: i32,
    /// The seccomp listener of its filter.
    pub listener: OwnedFd,
}

/// The handshake page.
#[repr(C)]
struct Shared {
    /// 0: starting; 1: listener published; 2: go; 3: filter failed;
    /// 4: execve failed.
    state: AtomicU32,
    listener: AtomicI32,
    errno: AtomicI32,
}

fn is_executable(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path.
    let x = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0;
    x && !p.is_dir()
}

/// `execvp`'s search: a name with a `/` as it is, else along `$PATH`.
fn resolve(prog: &OsStr) -> Result<PathBuf, LaunchError> {
    let name = prog.to_string_lossy().into_owned();
    if prog.as_bytes().contains(&b'/') {
        let p = PathBuf::from(prog);
        if !p.exists() {
            return Err(LaunchError::NotFound(format!(
                "afunix exec: {name}: No such file or directory"
            )));
        }
        if !is_executable(&p) {
            return Err(LaunchError::NotExecutable(format!(
                "afunix exec: {name}: Permission denied"
            )));
        }
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut found_not_exec = None;
    for dir in std::env::split_paths(&path) {
        let p = dir.join(prog);
        if is_executable(&p) {
            return Ok(p);
        }
        if p.exists() {
            found_not_exec = Some(p);
        }
    }
    match found_not_exec {
        Some(_) => Err(LaunchError::NotExecutable(format!(
            "afunix exec: {name}: Permission denied"
        ))),
        None => Err(LaunchError::NotFound(format!(
            "afunix exec: {name}: command not found"
        ))),
    }
}

fn futex_wait(word: &AtomicU32, val: u32) {
    // SAFETY: FUTEX_WAIT on a live u32 of the shared page; a timeout of
    // 100 ms bounds a lost wake-up (the caller loops).
    unsafe {
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            val,
            &ts as *const libc::timespec,
        );
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live u32 of the shared page.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

fn cstrings(v: impl IntoIterator<Item = OsString>) -> Result<Vec<CString>, LaunchError> {
    v.into_iter()
        .map(|s| {
            CString::new(s.into_vec()).map_err(|_| {
                LaunchError::Failed("afunix exec: an argument contains a NUL byte".into())
            })
        })
        .collect()
}

/// Start `argv` (its first element the program) under `filter`.
pub fn launch(
    argv: &[OsString],
    filter: &[afunix::abi::SockFilter],
) -> Result<Launched, LaunchError> {
    let prog = argv
        .first()
        .ok_or_else(|| LaunchError::Failed("afunix exec: no program given".into()))?;
    let path = resolve(prog)?;
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| LaunchError::Failed("afunix exec: bad path".into()))?;
    let args = cstrings(argv.iter().cloned())?;
    let env = cstrings(std::env::vars_os().map(|(k, v)| {
        let mut s = k;
        s.push("=");
        s.push(v);
        s
    }))?;
    let mut argp: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    let insns: Vec<libc::sock_filter> = filter
        .iter()
        .map(|f| libc::sock_filter {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            k: f.k,
        })
        .collect();
    let fprog = libc::sock_fprog {
        len: insns.len() as u16,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    let fail = |what: &str| {
        LaunchError::Failed(format!(
            "afunix exec: {what}: {}",
            io::Error::last_os_error()
        ))
    };

    // SAFETY: a fresh shared anonymous mapping of one page, unmapped below.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(fail("mmap"));
    }
    // SAFETY: the page is zeroed, aligned and big enough; a zeroed Shared
    // is valid (atomics of 0).
    let shared: &Shared = unsafe { &*(page as *const Shared) };
    // SAFETY: getpid cannot fail.
    let parent = unsafe { libc::getpid() };

    // SAFETY: the child only makes raw system calls and touches atomics
    // on the shared page (no allocation, no locks) before execve or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(fail("fork"));
    }
    if pid == 0 {
        // SAFETY: see above; every pointer is to data prepared before fork.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(125);
            }
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let fd = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                // Once a notification is received the caller waits
                // killably: a signal stays pending, and the supervisor
                // interrupts the model call for it (see watch_signals).
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                    | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
                &fprog as *const libc::sock_fprog,
            );
            if fd < 0 {
                shared
                    .errno
                    .store(*libc::__errno_location(), Ordering::SeqCst);
                shared.state.store(3, Ordering::SeqCst);
                futex_wake(&shared.state);
                libc::_exit(125);
            }
            shared.listener.store(fd as i32, Ordering::SeqCst);
            shared.state.store(1, Ordering::SeqCst);
            futex_wake(&shared.state);
            while shared.state.load(Ordering::SeqCst) == 1 {
                futex_wait(&shared.state, 1);
            }
            libc::execve(cpath.as_ptr(), argp.as_ptr(), envp.as_ptr());
            shared
                .errno
                .store(*libc::__errno_location(), Ordering::SeqCst);
            shared.state.store(4, Ordering::SeqCst);
            libc::_exit(126);
        }
    }
    let result = (|| {
        let pidfd = sys::pidfd_open(pid)
            .map_err(|e| LaunchError::Failed(format!("afunix exec: pidfd_open: {e}")))?;
        loop {
            match shared.state.load(Ordering::SeqCst) {
                0 => futex_wait(&shared.state, 0),
                1 => break,
                _ => {
                    let e = io::Error::from_raw_os_error(shared.errno.load(Ordering::SeqCst));
                    return Err(LaunchError::Failed(format!(
                        "afunix exec: seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER): {e}"
                    )));
                }
            }
        }
        let listener = sys::pidfd_getfd(&pidfd, shared.listener.load(Ordering::SeqCst))
            .map_err(|e| LaunchError::Failed(format!("afunix exec: pidfd_getfd(listener): {e}")))?;
        shared.state.store(2, Ordering::SeqCst);
        futex_wake(&shared.state);
        Ok(Launched { pid, listener })
    })();
    if result.is_err() {
        // SAFETY: our own child; reaped below.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    // The child may still be reading the page until it execs; it has its
    // own mapping (MAP_SHARED survives fork), so unmapping ours is safe.
    // SAFETY: the mapping made above, no longer used by us.
    unsafe { libc::munmap(page, 4096) };
    result
}
