//! Processes: credentials (`struct cred`), capabilities and rlimits
//! (`task_struct`), and the fd table each one owns.

use crate::fs::fdtable::FdTable;
use crate::lockdep::{LockClass, Ordered};
use std::sync::atomic::{AtomicBool, AtomicUsize};

/// A process id as the model keeps it internally (the public type is
/// [`crate::Pid`]).
pub type RawPid = i32;

/// The credentials of a task (`struct cred`): real, effective and saved ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cred {
    /// Real uid.
    pub uid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Saved set-uid.
    pub suid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved set-gid.
    pub sgid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Cred {
    /// Credentials with every id set to `uid`/`gid`.
    pub fn new(uid: u32, gid: u32, mut groups: Vec<u32>) -> Cred {
        // setgroups: the kernel keeps the list sorted (groups_sort).
        groups.sort_unstable();
        Cred {
            uid,
            euid: uid,
            suid: uid,
            gid,
            egid: gid,
            sgid: gid,
            groups,
        }
    }

    /// `capable(cap)`: uid 0 holds every capability, any other uid none
    /// (the scenario language's rule; no file capabilities or user namespaces).
    pub fn capable(&self, _cap: Capability) -> bool {
        self.euid == 0
    }
}

/// The capabilities the socket layer asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// `CAP_SYS_ADMIN`: send any pid in SCM_CREDENTIALS; exceed fd limits in flight.
    SysAdmin,
    /// `CAP_SETUID`: send any uid in SCM_CREDENTIALS.
    SetUid,
    /// `CAP_SETGID`: send any gid in SCM_CREDENTIALS.
    SetGid,
    /// `CAP_SYS_RESOURCE`: exceed RLIMIT_NOFILE for in-flight fds.
    SysResource,
    /// `CAP_NET_ADMIN`: `SO_SNDBUFFORCE`/`SO_RCVBUFFORCE`.
    NetAdmin,
    /// `CAP_NET_RAW`: `SO_PRIORITY` above 6, `SO_MARK`, rebinding a bound device.
    NetRaw,
}

/// One process of the world.
#[derive(Debug)]
pub struct Process {
    /// Its pid.
    pub pid: RawPid,
    /// Its credentials (fixed for its life: no setuid in the model).
    pub cred: Cred,
    /// RLIMIT_NOFILE (soft = hard).
    pub nofile: u64,
    /// Its fd table (`files_struct`). Looking an fd up takes the lock
    /// shared (the kernel's `fdget` takes none: RCU), so the threads of
    /// one process do not wait for each other on every call; installing
    /// and closing take it alone (`files->file_lock`).
    pub(crate) fds: std::sync::RwLock<FdTable>,
    /// SIGPIPE raised and not yet collected.
    pub sigpipe: AtomicBool,
    /// How many of its calls sleep right now.
    pub sleeping: AtomicUsize,
    /// Not yet exited.
    pub alive: AtomicBool,
    /// The file mode creation mask.
    pub umask: u32,
    /// The network namespace (a label).
    pub netns: u32,
    /// SIGURG delivered and not yet collected.
    pub sigurg: AtomicBool,
}

impl Process {
    /// Its fd table, shared (`fdget`): an [`Ordered`] guard of class
    /// `FdTable`, the first lock of the order.
    pub(crate) fn fd_table(&self) -> Ordered<std::sync::RwLockReadGuard<'_, FdTable>> {
        Ordered::take(LockClass::FdTable, self.pid as u64, || {
            crate::world::read(&self.fds)
        })
    }

    /// Its fd table, alone (`files->file_lock`: install, close, dup2).
    pub(crate) fn fd_table_mut(&self) -> Ordered<std::sync::RwLockWriteGuard<'_, FdTable>> {
        Ordered::take(LockClass::FdTable, self.pid as u64, || {
            crate::world::write(&self.fds)
        })
    }
}

/// `fs.nr_open` (its default, 1048576): no RLIMIT_NOFILE can be set above
/// it (`setrlimit` fails with `EPERM`), so no fd number reaches it.
pub const NR_OPEN: u64 = 1 << 20;

/// The pid of init, the machine's first process: it exists in every world
/// (uid 0) but is never a scenario process.
pub const INIT_PID: RawPid = 1;

/// The world's processes. Pids are handed out in order, and a lookup reads
/// an append-only table without taking any lock (the kernel finds
/// `current` for free; a model call finds its caller here).
pub(crate) struct ProcTable {
    base: RawPid,
    next: std::sync::atomic::AtomicUsize,
    segs: [std::sync::OnceLock<Box<[std::sync::OnceLock<Process>]>>; SEGS],
}

/// Segment `k` holds `SEG0 << k` processes.
const SEG0: usize = 64;
const SEGS: usize = 24;

fn locate(i: usize) -> Option<(usize, usize)> {
    let k = (i / SEG0 + 1).ilog2() as usize;
    let start = SEG0 * ((1usize << k) - 1);
    (k < SEGS).then(|| (k, i - start))
}

impl ProcTable {
    pub(crate) fn new(base: RawPid) -> ProcTable {
        ProcTable {
            base,
            next: Default::default(),
            segs: std::array::from_fn(|_| std::sync::OnceLock::new()),
        }
    }

    /// Add a process built for the next pid; `None` when the table is full.
    pub(crate) fn insert(&self, make: impl FnOnce(RawPid) -> Process) -> Option<RawPid> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (k, off) = locate(i)?;
        let pid = self.base.checked_add(i32::try_from(i).ok()?)?;
        let seg = self.segs[k].get_or_init(|| {
            (0..(SEG0 << k))
                .map(|_| std::sync::OnceLock::new())
                .collect()
        });
        seg.get(off)?.set(make(pid)).ok()?;
        Some(pid)
    }

    /// The process with this pid, alive or exited.
    pub(crate) fn get_any(&self, pid: RawPid) -> Option<&Process> {
        let i = usize::try_from(pid.checked_sub(self.base)?).ok()?;
        let (k, off) = locate(i)?;
        self.segs[k].get()?.get(off)?.get()
    }

    /// The live process with this pid.
    pub(crate) fn get(&self, pid: RawPid) -> Option<&Process> {
        self.get_any(pid)
            .filter(|p| p.alive.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Every live process.
    pub(crate) fn all(&self) -> Vec<&Process> {
        let n = self.next.load(std::sync::atomic::Ordering::SeqCst);
        (0..n)
            .filter_map(|i| self.get(self.base + i as RawPid))
            .collect()
    }
}

/// Credentials and limits of a new process (`task A uid=.. gid=..`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TaskSpec {
    /// Real, effective and saved uid.
    pub uid: u32,
    /// Real, effective and saved gid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// RLIMIT_NOFILE, soft and hard.
    pub nofile: u64,
    /// The file mode creation mask (`umask`).
    pub umask: u32,
    /// The network namespace, by label (`netns=N`; 0 is the default one).
    pub netns: u32,
}

impl Default for TaskSpec {
    fn default() -> Self {
        TaskSpec {
            uid: 1000,
            gid: 1000,
            groups: vec![1000],
            nofile: 1024,
            umask: 0o022,
            netns: 0,
        }
    }
}
