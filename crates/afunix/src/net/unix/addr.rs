//! The unix address space: `unix_bind` (pathname and abstract),
//! `unix_autobind`, and `unix_find_other` (lookup by address).

use super::{SockId, SockType};
use crate::abi::sockaddr::UnixAddr;
use crate::errno::{Errno, SysResult};
use crate::process::Pid;
use crate::world::{Inode, Kernel};

/// The umask of every scenario process.
const UMASK: u32 = 0o022;

impl Kernel {
    /// `unix_autobind`: an abstract name `"%05x"` from a 20-bit counter,
    /// skipping names in use; `ENOSPC` when all are taken. A no-op when bound.
    pub(crate) fn unix_autobind(&mut self, s: SockId) -> SysResult<()> {
        if self.sock(s).addr.is_some() {
            return Ok(());
        }
        let ty = self.sock(s).ty;
        for _ in 0..(1u32 << 20) {
            let n = self.autobind_next & 0xfffff;
            self.autobind_next = self.autobind_next.wrapping_add(1);
            let name = format!("{n:05x}").into_bytes();
            if self.abstract_names.contains_key(&(ty, name.clone())) {
                continue;
            }
            self.abstract_names.insert((ty, name.clone()), s);
            self.sock_mut(s).addr = Some(UnixAddr::Abstract(name));
            return Ok(());
        }
        Err(Errno::ENOSPC.why("unix_autobind: every abstract name is taken"))
    }

    /// `unix_bind`: autobind for a bare family, else a pathname
    /// (`unix_bind_bsd`) or abstract (`unix_bind_abstract`) name.
    pub(crate) fn unix_bind(&mut self, pid: Pid, s: SockId, raw: &[u8]) -> SysResult<()> {
        use crate::abi::consts::{AF_UNIX, SA_FAMILY_SIZE};
        if raw.len() == SA_FAMILY_SIZE && crate::abi::sockaddr::family(raw) == Some(AF_UNIX) {
            return self.unix_autobind(s);
        }
        let addr = crate::abi::sockaddr::parse_user_addr(raw)?;
        match addr {
            UnixAddr::Pathname(path) => self.unix_bind_bsd(pid, s, path),
            UnixAddr::Abstract(name) => {
                if self.sock(s).addr.is_some() {
                    return Err(Errno::EINVAL.why("unix_bind_abstract: socket already bound"));
                }
                let ty = self.sock(s).ty;
                if self.abstract_names.contains_key(&(ty, name.clone())) {
                    return Err(
                        Errno::EADDRINUSE.why("abstract name in use by a socket of this type")
                    );
                }
                self.abstract_names.insert((ty, name.clone()), s);
                self.sock_mut(s).addr = Some(UnixAddr::Abstract(name));
                Ok(())
            }
            UnixAddr::Unnamed => Err(Errno::EINVAL.why("unix_validate_addr: no name")),
        }
    }

    // unix_bind_bsd: create the inode first (EADDRINUSE if it exists),
    // then refuse an already-bound socket (EINVAL) and remove the inode.
    fn unix_bind_bsd(&mut self, pid: Pid, s: SockId, path: Vec<u8>) -> SysResult<()> {
        let name = self.dir_entry_name(&path)?;
        if self.dir.contains_key(&name) {
            return Err(Errno::EADDRINUSE.why("unix_bind_bsd: the path exists (EEXIST)"));
        }
        if self.sock(s).addr.is_some() {
            return Err(Errno::EINVAL.why("unix_bind_bsd: socket already bound"));
        }
        let cred = self.proc(pid)?.cred.clone();
        let ino = self.sock(s).ino;
        self.dir.insert(
            name,
            Inode {
                ino,
                mode: 0o777 & !UMASK,
                uid: cred.euid,
                gid: cred.egid,
                sock: Some(s),
            },
        );
        self.sock_mut(s).addr = Some(UnixAddr::Pathname(path));
        Ok(())
    }

    /// The directory entry a relative path names. The world's directory is
    /// flat: a path through a subdirectory does not exist (`ENOENT`).
    fn dir_entry_name(&self, path: &[u8]) -> SysResult<Vec<u8>> {
        if path.first() == Some(&b'/') {
            return Err(Errno::EACCES.why("absolute paths are outside the world"));
        }
        let trimmed: Vec<u8> = path.strip_prefix(b"./").unwrap_or(path).to_vec();
        if trimmed.contains(&b'/') || trimmed.is_empty() || trimmed == b"." || trimmed == b".." {
            return Err(Errno::ENOENT.why("path lookup: no such directory in the world"));
        }
        Ok(trimmed)
    }

    /// `unix_find_other`: the socket an address names, for a sender or
    /// connector of type `ty`.
    pub(crate) fn unix_find_other(
        &self,
        pid: Pid,
        addr: &UnixAddr,
        ty: SockType,
    ) -> SysResult<SockId> {
        match addr {
            UnixAddr::Pathname(path) => {
                // unix_find_bsd
                let name = self.dir_entry_name(path)?;
                let inode = self
                    .dir
                    .get(&name)
                    .ok_or(Errno::ENOENT.why("unix_find_bsd: no such file"))?;
                let cred = &self.proc(pid)?.cred;
                // path_permission(MAY_WRITE); root overrides (CAP_DAC_OVERRIDE).
                let bits = if cred.euid == inode.uid {
                    inode.mode >> 6
                } else if cred.egid == inode.gid || cred.groups.contains(&inode.gid) {
                    inode.mode >> 3
                } else {
                    inode.mode
                };
                if cred.euid != 0 && bits & 0o2 == 0 {
                    return Err(
                        Errno::EACCES.why("unix_find_bsd: no write permission on the socket file")
                    );
                }
                let s = inode.sock.ok_or(
                    Errno::ECONNREFUSED.why("unix_find_bsd: no socket bound to this file"),
                )?;
                if self.sock(s).ty != ty {
                    return Err(Errno::EPROTOTYPE.why("unix_find_bsd: socket of another type"));
                }
                Ok(s)
            }
            UnixAddr::Abstract(name) => {
                self.abstract_names.get(&(ty, name.clone())).copied().ok_or(
                    Errno::ECONNREFUSED
                        .why("unix_find_abstract: no socket of this type has the name"),
                )
            }
            UnixAddr::Unnamed => Err(Errno::EINVAL.why("unix_validate_addr: no name")),
        }
    }
}
