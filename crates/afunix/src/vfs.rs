//! Files and directories of the world (`fs/namei.c`, `fs/open.c`): the
//! calls that name a path.

use crate::errno::{Errno, SysResult};
use crate::process::Pid;
use crate::world::World;

impl World {
    /// `open(path, flags, mode)`.
    pub fn open(&self, _pid: Pid, _path: &[u8], _flags: i32, _mode: u32) -> SysResult<i32> {
        Err(Errno::ENOSYS.why("model gap: the model has no directory tree or regular files yet"))
    }

    /// `mkdir(path, mode)`.
    pub fn mkdir(&self, _pid: Pid, _path: &[u8], _mode: u32) -> SysResult<()> {
        Err(Errno::ENOSYS.why("model gap: the model has no directory tree or regular files yet"))
    }

    /// `unlink(path)`.
    pub fn unlink(&self, _pid: Pid, _path: &[u8]) -> SysResult<()> {
        Err(Errno::ENOSYS.why("model gap: the model has no directory tree or regular files yet"))
    }

    /// `chmod(path, mode)`.
    pub fn chmod(&self, _pid: Pid, _path: &[u8], _mode: u32) -> SysResult<()> {
        Err(Errno::ENOSYS.why("model gap: the model has no directory tree or regular files yet"))
    }

    /// `rename(old, new)`.
    pub fn rename(&self, _pid: Pid, _old: &[u8], _new: &[u8]) -> SysResult<()> {
        Err(Errno::ENOSYS.why("model gap: the model has no directory tree or regular files yet"))
    }
}
