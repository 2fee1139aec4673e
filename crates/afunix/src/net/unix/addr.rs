//! The unix address space: `unix_bind` (pathname and abstract),
//! `unix_autobind`, `unix_find_other` (lookup by address), and unhashing
//! at release.

use super::{Sock, SockType};
use crate::abi::sockaddr::UnixAddr;
use crate::errno::{Errno, SysResult};
use crate::process::Pid;
use crate::world::{lock, Inode, Kernel, Names};
use std::sync::Arc;

/// The umask of every scenario process.
const UMASK: u32 = 0o022;

impl Kernel {
    /// `unix_autobind`: an abstract name `"%05x"` from a 20-bit counter,
    /// skipping names in use; `ENOSPC` when all are taken. A no-op when bound.
    pub(crate) fn unix_autobind(&self, s: &Arc<Sock>) -> SysResult<()> {
        let mut names = lock(&self.names);
        if s.addr.get().is_some() {
            return Ok(());
        }
        for _ in 0..(1u32 << 20) {
            let n = names.autobind_next & 0xfffff;
            names.autobind_next = names.autobind_next.wrapping_add(1);
            let name = format!("{n:05x}").into_bytes();
            let key = (s.netns, s.ty, name.clone());
            if names
                .abstract_names
                .get(&key)
                .is_some_and(|w| w.strong_count() > 0)
            {
                continue;
            }
            names.abstract_names.insert(key, Arc::downgrade(s));
            let _ = s.addr.set(UnixAddr::Abstract(name));
            return Ok(());
        }
        Err(Errno::ENOSPC.why("unix_autobind: every abstract name is taken"))
    }

    /// `unix_bind`: autobind for a bare family, else a pathname
    /// (`unix_bind_bsd`) or abstract (`unix_bind_abstract`) name.
    pub(crate) fn unix_bind(&self, pid: Pid, s: &Arc<Sock>, raw: &[u8]) -> SysResult<()> {
        use crate::abi::consts::{AF_UNIX, SA_FAMILY_SIZE};
        if raw.len() == SA_FAMILY_SIZE && crate::abi::sockaddr::family(raw) == Some(AF_UNIX) {
            return self.unix_autobind(s);
        }
        let addr = crate::abi::sockaddr::parse_user_addr(raw)?;
        let cred = self.proc(pid)?.cred.clone();
        let mut names = lock(&self.names);
        match addr {
            UnixAddr::Pathname(path) => {
                // unix_bind_bsd: create the inode first (EADDRINUSE if it
                // exists), then refuse an already-bound socket (EINVAL).
                let name = dir_entry_name(&path)?;
                if names.dir.contains_key(&name) {
                    return Err(Errno::EADDRINUSE.why("unix_bind_bsd: the path exists (EEXIST)"));
                }
                if s.addr.get().is_some() {
                    return Err(Errno::EINVAL.why("unix_bind_bsd: socket already bound"));
                }
                names.dir.insert(
                    name,
                    Inode {
                        ino: s.ino,
                        mode: 0o777 & !UMASK,
                        uid: cred.euid,
                        gid: cred.egid,
                        sock: Some(Arc::downgrade(s)),
                    },
                );
                let _ = s.addr.set(UnixAddr::Pathname(path));
                Ok(())
            }
            UnixAddr::Abstract(name) => {
                if s.addr.get().is_some() {
                    return Err(Errno::EINVAL.why("unix_bind_abstract: socket already bound"));
                }
                let key = (s.netns, s.ty, name.clone());
                if names
                    .abstract_names
                    .get(&key)
                    .is_some_and(|w| w.strong_count() > 0)
                {
                    return Err(Errno::EADDRINUSE
                        .why("unix_bind_abstract: name in use by a socket of this type"));
                }
                names.abstract_names.insert(key, Arc::downgrade(s));
                let _ = s.addr.set(UnixAddr::Abstract(name));
                Ok(())
            }
            UnixAddr::Unnamed => Err(Errno::EINVAL.why("unix_validate_addr: no name")),
        }
    }

    /// Unhash a released socket: its abstract name is free again at once;
    /// a pathname's file stays, but no longer leads to a socket.
    pub(crate) fn unhash(&self, s: &Arc<Sock>) {
        let Some(addr) = s.addr.get() else { return };
        let mut names = lock(&self.names);
        match addr {
            UnixAddr::Abstract(name) => {
                let key = (s.netns, s.ty, name.clone());
                if names
                    .abstract_names
                    .get(&key)
                    .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(s)))
                {
                    names.abstract_names.remove(&key);
                }
            }
            UnixAddr::Pathname(_) => {
                for inode in names.dir.values_mut() {
                    if inode
                        .sock
                        .as_ref()
                        .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(s)))
                    {
                        inode.sock = None;
                    }
                }
            }
            UnixAddr::Unnamed => {}
        }
    }

    /// `unix_find_other`: the socket an address names, for a sender or
    /// connector of type `ty`.
    pub(crate) fn unix_find_other(
        &self,
        pid: Pid,
        netns: u32,
        addr: &UnixAddr,
        ty: SockType,
    ) -> SysResult<Arc<Sock>> {
        let names = lock(&self.names);
        match addr {
            UnixAddr::Pathname(path) => {
                let cred = self.proc(pid)?.cred.clone();
                find_bsd(&names, path, ty, cred.euid, cred.egid, &cred.groups)
            }
            UnixAddr::Abstract(name) => names
                .abstract_names
                .get(&(netns, ty, name.clone()))
                .and_then(std::sync::Weak::upgrade)
                .ok_or(
                    Errno::ECONNREFUSED
                        .why("unix_find_abstract: no socket of this type has the name"),
                ),
            UnixAddr::Unnamed => Err(Errno::EINVAL.why("unix_validate_addr: no name")),
        }
    }
}

// unix_find_bsd: path lookup, MAY_WRITE, then the socket bound to the inode.
fn find_bsd(
    names: &Names,
    path: &[u8],
    ty: SockType,
    euid: u32,
    egid: u32,
    groups: &[u32],
) -> SysResult<Arc<Sock>> {
    let name = dir_entry_name(path)?;
    let inode = names
        .dir
        .get(&name)
        .ok_or(Errno::ENOENT.why("unix_find_bsd: no such file"))?;
    let bits = if euid == inode.uid {
        inode.mode >> 6
    } else if egid == inode.gid || groups.contains(&inode.gid) {
        inode.mode >> 3
    } else {
        inode.mode
    };
    // path_permission(MAY_WRITE); root overrides (CAP_DAC_OVERRIDE).
    if euid != 0 && bits & 0o2 == 0 {
        return Err(Errno::EACCES.why("unix_find_bsd: no write permission on the socket file"));
    }
    let s = inode
        .sock
        .as_ref()
        .and_then(std::sync::Weak::upgrade)
        .ok_or(Errno::ECONNREFUSED.why("unix_find_bsd: no socket bound to this file"))?;
    if s.ty != ty {
        return Err(Errno::EPROTOTYPE.why("unix_find_bsd: socket of another type"));
    }
    Ok(s)
}

/// The directory entry a relative path names. The world's directory is
/// flat: a path through a subdirectory does not exist (`ENOENT`).
fn dir_entry_name(path: &[u8]) -> SysResult<Vec<u8>> {
    if path.first() == Some(&b'/') {
        return Err(Errno::EACCES.why("absolute paths are outside the world"));
    }
    let trimmed: Vec<u8> = path.strip_prefix(b"./").unwrap_or(path).to_vec();
    if trimmed.contains(&b'/') || trimmed.is_empty() || trimmed == b"." || trimmed == b".." {
        return Err(Errno::ENOENT.why("path lookup: no such directory in the world"));
    }
    Ok(trimmed)
}
