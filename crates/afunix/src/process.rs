//! Processes: credentials (`struct cred`), capabilities and rlimits
//! (`task_struct`), and the fd table each one owns.

use crate::fdtable::FdTable;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Mutex;

/// A process id in the model's pid namespace.
pub type Pid = i32;

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
    pub fn new(uid: u32, gid: u32, groups: Vec<u32>) -> Cred {
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
}

/// One process of the world.
#[derive(Debug)]
pub struct Process {
    /// Its pid.
    pub pid: Pid,
    /// Its credentials (fixed for its life: no setuid in the model).
    pub cred: Cred,
    /// RLIMIT_NOFILE (soft = hard).
    pub nofile: u64,
    /// Its fd table (`files_struct`, with its own lock).
    pub fds: Mutex<FdTable>,
    /// SIGPIPE raised and not yet collected.
    pub sigpipe: AtomicBool,
    /// How many of its calls sleep right now.
    pub sleeping: AtomicUsize,
}
