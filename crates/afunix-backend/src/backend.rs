//! The calls of the scenario language as data, and the [`Backend`] trait
//! that both the model and the host kernel implement.
//!
//! Arguments and results are at the level of the Linux ABI: fds are
//! numbers, addresses are raw `sockaddr` bytes, control buffers are raw
//! bytes in the x86_64 layout. Encoding arguments and decoding results
//! (names, `@#1`, `rights=[...]`) is the scenario runner's job, shared by
//! both backends, so a difference in a trace is a difference in behaviour.

pub use crate::call::{Lower, Never, Raw, Shape, SockOpt, Stage, Syscall};
pub use afunix::net::socket::{RecvBuf, SendBuf};
use afunix::Error;
pub use afunix::TaskSpec;
use std::fmt;
use std::time::Duration;

/// A process of a scenario: its index in the order the runner created it.
pub type ProcId = usize;

/// One system call of a scenario process, at the level of the Linux ABI:
/// the [`Syscall`] whose arguments are numbers and bytes ([`Raw`]).
pub type Call = Syscall<Raw>;

/// What a call gave back besides its return value.
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Out {
    /// Nothing more.
    #[default]
    None,
    /// `socketpair`, `pipe`: the two fds.
    Pair([i32; 2]),
    /// `recvmsg`: bytes received into the iovecs (in order), the name
    /// bytes copied (`min(passed, returned msg_namelen)` of them), the
    /// returned `msg_namelen`, the control bytes written, the returned
    /// `msg_controllen`, and `msg_flags`.
    Msg {
        data: Vec<u8>,
        name: Vec<u8>,
        namelen: u32,
        control: Vec<u8>,
        controllen: usize,
        flags: i32,
    },
    /// `read`: the bytes read.
    Data(Vec<u8>),
    /// `getsockopt`: the returned optlen and the first `min(returned,
    /// passed)` bytes of the buffer. Also on failure when the kernel
    /// changed optlen (`SO_PEERGROUPS`' `ERANGE`).
    Optval { optlen: i32, value: Vec<u8> },
    /// `getsockname`/`getpeername`: the bytes copied (`min(passed,
    /// returned)`) and the returned length.
    Addr { addr: Vec<u8>, len: i32 },
    /// `poll`: the revents of each fd, in order.
    Revents(Vec<i16>),
    /// `ioctl`: the int written.
    Int(i32),
    /// `pidof`: the pid (`-1` once exited).
    Pid(i32),
}

/// The result of one call.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reply {
    /// The return value, or the errno.
    pub ret: Result<i64, Error>,
    /// Extra results (only meaningful on success).
    pub out: Out,
    /// The call raised SIGPIPE.
    pub sigpipe: bool,
}

impl Reply {
    /// A successful return value with no extra result.
    pub fn ok(ret: i64) -> Reply {
        Reply {
            ret: Ok(ret),
            out: Out::None,
            sigpipe: false,
        }
    }
    /// A successful return value with an extra result.
    pub fn with(ret: i64, out: Out) -> Reply {
        Reply {
            ret: Ok(ret),
            out,
            sigpipe: false,
        }
    }
    /// A failed call.
    pub fn err(e: impl Into<Error>) -> Reply {
        Reply {
            ret: Err(e.into()),
            out: Out::None,
            sigpipe: false,
        }
    }
}

/// A failure of the backend itself (not an errno of the emulated call):
/// the scenario cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError(pub String);

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for BackendError {}

/// The state of a started call after a wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// It returned.
    Done(Reply),
    /// It is still blocked in the kernel (or the model).
    Blocked,
}

/// One private world (processes, names, sysctls) that runs scenario calls:
/// the model (`--backend sim`) or the host kernel (`--backend host`).
///
/// Processes are numbered by the runner ([`ProcId`]) in creation order.
/// Every call is *started* and then *waited for*, so the same code path
/// serves foreground calls (start, then wait 1000 ms) and background calls
/// (`&` then `wait MS`). A process with a call pending makes no other call.
pub trait Backend {
    /// Create process `id` with fds 0–2 on `/dev/null`.
    fn task(&mut self, id: ProcId, spec: &TaskSpec) -> Result<(), BackendError>;
    /// `fork`: process `child` gets a copy of `parent`'s fd table and credentials.
    fn fork(&mut self, parent: ProcId, child: ProcId) -> Result<(), BackendError>;
    /// The pid of a process, as the kernel (or model) reports it in
    /// credentials; stays valid after the process exited.
    fn pid(&self, id: ProcId) -> i32;
    /// The kernel's uid for the scenario's uid `uid` (as `make_kuid`
    /// maps a namespace's uid to the kernel's): what a task of that uid
    /// runs as, and what credentials the runner sends must carry. The
    /// identity, unless the backend gives the run's users kernel uids of
    /// their own (the host backend as root does, so that per-user kernel
    /// counts start from zero as in the model). Uids that are no task's
    /// stay as they are.
    fn make_kuid(&self, uid: u32) -> u32 {
        uid
    }
    /// The scenario's uid for a uid the kernel reports (`from_kuid`): the
    /// inverse of [`Backend::make_kuid`], for printing credentials.
    // Named for the kernel's from_kuid(ns, kuid): the backend is the `ns`.
    #[allow(clippy::wrong_self_convention)]
    fn from_kuid(&self, kuid: u32) -> u32 {
        kuid
    }
    /// Start `call` in process `id`. Returns once the call has returned or
    /// has entered the kernel (is blocked).
    fn start(&mut self, id: ProcId, call: Call) -> Result<(), BackendError>;
    /// Wait up to `timeout` for the pending call of `id`.
    fn wait(&mut self, id: ProcId, timeout: Duration) -> Result<Progress, BackendError>;
    /// `sysctl net.unix.max_dgram_qlen=n` in network namespace `netns`
    /// (a label, as in [`TaskSpec::netns`]): `Ok(Err(errno))` when the
    /// kernel refuses the value (outside a C int: `EINVAL`).
    fn set_max_dgram_qlen(&mut self, netns: u32, n: i64)
        -> Result<Result<(), Error>, BackendError>;
    /// Run the in-flight garbage collector to completion.
    fn gc(&mut self) -> Result<(), BackendError>;
    /// The number of live unix sockets of this world (as `/proc/net/unix`
    /// lists), summed over its network namespaces.
    fn stat(&mut self) -> Result<usize, BackendError>;

    /// The run is over: end every process, as its exit would, and say what
    /// the world still holds that no process does, when that outlives the
    /// run (the host backend: sockets the kernel's collector never frees).
    /// A backend that keeps nothing beyond its run says nothing.
    fn finish(&mut self) -> Result<Option<String>, BackendError> {
        Ok(None)
    }

    /// Arm a fault (see [`afunix::fault`]) for process `proc` (`None`: any),
    /// where the backend can inject one (the model can; the kernel cannot).
    ///
    /// # Errors
    /// The backend cannot inject faults.
    fn inject(
        &mut self,
        _point: afunix::fault::FaultPoint,
        _proc: Option<ProcId>,
        _when: afunix::fault::When,
    ) -> Result<(), BackendError> {
        Err(BackendError(
            "faults are injected in the model only (--backend sim)".into(),
        ))
    }

    /// Record the path of each call through the model's kernel functions
    /// (see [`afunix::path`]), where the backend can (the model can).
    fn record_paths(&mut self, _on: bool) {}

    /// The path the last call of `id` took, once it returned.
    fn take_path(&mut self, _id: ProcId) -> Vec<String> {
        Vec::new()
    }

    /// The path the last directive (`sysctl`, `gc`) took.
    fn take_directive_path(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// The faults that fired since the last call: where, and in which
    /// process.
    fn take_fired(&mut self) -> Vec<(afunix::fault::FaultPoint, Option<ProcId>)> {
        Vec::new()
    }

    /// A picture of the world (DOT text, see [`afunix::dot`]), where the
    /// backend can draw one (the model can; the kernel cannot).
    fn picture(&mut self, _moment: afunix::dot::Moment) -> Option<String> {
        None
    }
    /// The `sleep MS` directive: let `d` pass. A backend with a wall-clock
    /// limit fails once the sleep would run past it.
    fn sleep(&mut self, d: Duration) -> Result<(), BackendError> {
        std::thread::sleep(d);
        Ok(())
    }
}
