//! Processes: credentials (`struct cred`), capabilities and rlimits
//! (`task_struct`), and the fd table each one owns.

use crate::fs::fdtable::FdTable;
use crate::lockdep::{LockClass, Ordered};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

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
    /// Supplementary groups, sorted (`cred->group_info`: shared, as the
    /// kernel's is refcounted, by every copy of the credentials and every
    /// socket's peer credentials taken from them).
    pub groups: std::sync::Arc<[u32]>,
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
            groups: groups.into(),
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

/// The per-user account of a world (`struct user_struct`): one for each
/// real uid, shared by every process of that uid (`cred->user`) and by the
/// files they have in flight (`fpl->user`), which is why the count lives
/// here and not under the collector's lock: `too_many_unix_fds` reads it
/// without a lock, as the kernel's `READ_ONCE(user->unix_inflight)` does.
#[derive(Debug)]
pub struct UserStruct {
    /// The uid.
    pub uid: u32,
    /// `unix_inflight`: fds of every kind in flight, sent by this user
    /// (written under the collector's lock, read without it).
    unix_inflight: AtomicUsize,
}

impl UserStruct {
    pub(crate) fn new(uid: u32) -> UserStruct {
        UserStruct {
            uid,
            unix_inflight: AtomicUsize::new(0),
        }
    }

    /// `READ_ONCE(user->unix_inflight)`.
    pub fn unix_inflight(&self) -> usize {
        self.unix_inflight
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `WRITE_ONCE(user->unix_inflight, ... + n)` (under the collector's lock).
    pub(crate) fn add_inflight(&self, n: usize) {
        self.unix_inflight
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// `WRITE_ONCE(user->unix_inflight, ... - n)` (under the collector's lock).
    pub(crate) fn sub_inflight(&self, n: usize) {
        let _ = self.unix_inflight.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |v| Some(v.saturating_sub(n)),
        );
    }
}

/// One process of the world.
#[derive(Debug)]
pub struct Process {
    /// Its pid.
    pub pid: RawPid,
    /// Its credentials (fixed for its life: no setuid in the model).
    pub cred: Cred,
    /// The account of its real uid (`cred->user`).
    pub(crate) user: std::sync::Arc<UserStruct>,
    /// RLIMIT_NOFILE (soft = hard).
    pub nofile: u64,
    /// Its fd table (`files_struct`). Looking an fd up takes the lock
    /// shared (the kernel's `fdget` takes none: RCU), so the threads of
    /// one process do not wait for each other on every call; installing
    /// and closing take it alone (`files->file_lock`).
    pub(crate) fds: std::sync::RwLock<FdTable>,
    /// SIGPIPE raised and not yet collected.
    pub sigpipe: AtomicBool,
    /// How many of its calls sleep right now: wait on a queue for a
    /// wake-up that has not come (a woken call that has not run yet does
    /// not count: the waker took it off the queue), or poll between two
    /// scans.
    pub sleeping: AtomicUsize,
    /// Scans of its polls that found nothing ready ([`crate::World::poll_scans`]).
    pub poll_scans: AtomicU64,
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

/// `kernel.pid_max` of a machine with up to 32 CPUs (this project's
/// machines read 32768 in `/proc/sys/kernel/pid_max`): pids stay below it.
pub const PID_MAX: RawPid = 32768;

/// `RESERVED_PIDS` (kernel/pid.c): after the pids wrap, allocation starts
/// again here, not at the bottom.
const RESERVED_PIDS: RawPid = 300;

/// The world's processes, by pid (`struct pid` in the pid namespace's
/// `idr`). Pids are allocated as `alloc_pid` does: cyclically, the next
/// free number after the last one given, below [`PID_MAX`], wrapping to
/// [`RESERVED_PIDS`]; no free number is `EAGAIN`. An exited process leaves
/// the table at once (the model has no `wait`: every process is reaped as
/// it exits, as with SIGCHLD ignored), so the memory the table holds is
/// bounded by the live processes, and its number can be given again after
/// a wrap, as Linux's can.
///
/// A lookup takes the slot's lock shared (the kernel's `find_task_by_vpid`
/// is RCU): [`ProcTable::get`] clones the process's `Arc`, so that a call
/// that may sleep holds its task as `current` does and the process can
/// leave the table meanwhile; the hot lookups run under the slot instead
/// ([`ProcTable::with`]). Inserting and removing hold the allocation lock,
/// so a slot found empty under it stays empty until it is filled.
pub(crate) struct ProcTable {
    base: RawPid,
    /// The last pid given (`pidmap_lock`; the kernel keeps `idr_next`).
    last: std::sync::Mutex<RawPid>,
    /// Lazily allocated segments of `SEG` slots, by `(pid - base) / SEG`.
    segs: Box<[std::sync::OnceLock<Box<[Slot]>>]>,
    /// One past the highest pid ever given, for walks over the table
    /// (`PID_MAX` once the pids have wrapped: the cursor wraps only after
    /// passing `PID_MAX - 1`, which was given then or before).
    high: std::sync::atomic::AtomicI32,
}

type Slot = std::sync::RwLock<Option<std::sync::Arc<Process>>>;

/// Segments of `SEG` slots, made on first use: [`PID_MAX`] / `SEG` of them
/// (a lookup is a shift and a mask).
const SEG: usize = 256;
const SEGS: usize = PID_MAX as usize / SEG;

impl ProcTable {
    pub(crate) fn new(base: RawPid) -> ProcTable {
        ProcTable {
            base,
            last: std::sync::Mutex::new(base - 1),
            segs: (0..SEGS).map(|_| std::sync::OnceLock::new()).collect(),
            high: std::sync::atomic::AtomicI32::new(base),
        }
    }

    fn slot(&self, pid: RawPid, make: bool) -> Option<&Slot> {
        if pid >= PID_MAX {
            return None;
        }
        let i = usize::try_from(pid.checked_sub(self.base)?).ok()?;
        let seg = self.segs.get(i / SEG)?;
        let seg = if make {
            seg.get_or_init(|| (0..SEG).map(|_| Slot::default()).collect())
        } else {
            seg.get()?
        };
        seg.get(i % SEG)
    }

    /// `alloc_pid`: add a process built for the next free pid; `None` when
    /// every pid below [`PID_MAX`] is taken.
    pub(crate) fn insert(&self, make: impl FnOnce(RawPid) -> Process) -> Option<RawPid> {
        let mut last = crate::world::lock(&self.last);
        let low = RESERVED_PIDS.max(self.base);
        let mut pid = *last + 1;
        for _ in self.base..PID_MAX {
            if pid >= PID_MAX {
                pid = low;
            }
            let slot = self.slot(pid, true)?;
            // Taken slots are passed over shared (their lookups go on);
            // an empty one cannot be filled by anyone else meanwhile.
            if crate::world::read(slot).is_none() {
                *crate::world::write(slot) = Some(std::sync::Arc::new(make(pid)));
                *last = pid;
                self.high
                    .fetch_max(pid + 1, std::sync::atomic::Ordering::SeqCst);
                return Some(pid);
            }
            pid += 1;
        }
        None
    }

    /// Take the process out of the table (`release_task`, reaped at once).
    pub(crate) fn remove(&self, pid: RawPid) -> Option<std::sync::Arc<Process>> {
        let _last = crate::world::lock(&self.last);
        crate::world::write(self.slot(pid, false)?).take()
    }

    /// The live process with this pid.
    pub(crate) fn get(&self, pid: RawPid) -> Option<std::sync::Arc<Process>> {
        let p = crate::world::read(self.slot(pid, false)?).clone()?;
        p.alive
            .load(std::sync::atomic::Ordering::SeqCst)
            .then_some(p)
    }

    /// Run `f` on the live process with this pid, holding its slot shared
    /// instead of cloning its `Arc` (for the hot lookups, `fdget`: `f` must
    /// not sleep, as the process's exit waits for the slot).
    pub(crate) fn with<R>(&self, pid: RawPid, f: impl FnOnce(&Process) -> R) -> Option<R> {
        let g = crate::world::read(self.slot(pid, false)?);
        let p = g.as_deref()?;
        p.alive
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| f(p))
    }

    /// Whether `pid` may have been a process of this world (given once; a
    /// pidfd or a peer's credentials can outlive the process). After the
    /// numbers wrapped, any pid in the range may have been.
    pub(crate) fn ever(&self, pid: RawPid) -> bool {
        (self.base..self.high.load(std::sync::atomic::Ordering::SeqCst)).contains(&pid)
    }

    /// How many processes the table holds (live, or exited while a call of
    /// theirs is still being left).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        (self.base..self.high.load(std::sync::atomic::Ordering::SeqCst))
            .filter(|&p| {
                self.slot(p, false)
                    .is_some_and(|s| crate::world::read(s).is_some())
            })
            .count()
    }

    /// Every live process, by pid.
    pub(crate) fn all(&self) -> Vec<std::sync::Arc<Process>> {
        (self.base..self.high.load(std::sync::atomic::Ordering::SeqCst))
            .filter_map(|p| self.get(p))
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
