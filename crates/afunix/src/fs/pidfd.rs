//! `kernel/pid.c`: pidfds (`pidfd_prepare`, the pid a pidfd refers to).

use crate::errno::{Errno, SysResult};
use crate::fs::file::FileKind;
use crate::process::RawPid;
use crate::world::Kernel;

impl Kernel {
    pub(crate) fn pidfd_pid(&self, pid: RawPid, fd: i32) -> SysResult<i32> {
        let f = self.fdget(pid, fd)?;
        let r = match f.kind {
            FileKind::Pidfd(p) => Ok(if self.pid_alive(p) { p } else { -1 }),
            _ => Err(f.refused(Errno::EINVAL.why(rule!(pidfd_pid, "not a pidfd")))),
        };
        self.fput(f);
        r
    }

    /// A new pidfd for `target` (`pidfd_prepare`), installed in `pid` close-on-exec.
    pub(crate) fn pidfd_install(&self, pid: RawPid, target: RawPid) -> SysResult<i32> {
        self.fd_reserve(pid, 1)?;
        let f = self.alloc_file(FileKind::Pidfd(target), false);
        self.fd_install(pid, f, true)
    }
}
