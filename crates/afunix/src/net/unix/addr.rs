//! The unix address space: `unix_bind` (pathname and abstract),
//! `unix_autobind`, `unix_find_other` (lookup by address), and unhashing
//! at release.

use super::{Sock, SockType};
use crate::abi::sockaddr::UnixAddr;
use crate::errno::{Errno, SysResult};
use crate::namei::{permission, Inode, InodeKind, MAY_WRITE};
use crate::process::Cred;
use crate::process::Pid;
use crate::world::{lock, Kernel, Names};
use std::sync::Arc;

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
                // unix_bind_bsd: kern_path_create (walk errors, EEXIST ->
                // EADDRINUSE), vfs_mknod (may_create: EACCES), then an
                // already-bound socket is EINVAL (the file just made is
                // unlinked again: nothing stays).
                let tree = &mut names.tree;
                let p = tree.create_parent(&cred, &path, false).map_err(|e| {
                    if e == Errno::EEXIST {
                        Errno::EADDRINUSE.why("unix_bind_bsd: the path exists (EEXIST)")
                    } else {
                        e
                    }
                })?;
                tree.may_create(&cred, p.dir)?;
                if s.addr.get().is_some() {
                    return Err(Errno::EINVAL.why("unix_bind_bsd: socket already bound"));
                }
                let umask = self.proc(pid)?.umask;
                let ino = tree.insert(
                    p.dir,
                    &p.last,
                    Inode {
                        mode: 0o777 & !umask,
                        uid: cred.euid,
                        gid: cred.egid,
                        kind: InodeKind::Sock(Some(Arc::downgrade(s))),
                    },
                );
                tree.sock_inode.insert(s.id, ino);
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
            // u->path: the inode is found in O(1); once unlinked it is gone.
            UnixAddr::Pathname(_) => {
                if let Some(ino) = names.tree.sock_inode.remove(&s.id) {
                    if let Some(Inode {
                        kind: InodeKind::Sock(w),
                        ..
                    }) = names.tree.get_mut(ino)
                    {
                        if w.as_ref()
                            .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(s)))
                        {
                            *w = None;
                        }
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
                find_bsd(&names, path, ty, &cred)
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

// unix_find_bsd: kern_path (LOOKUP_FOLLOW), path_permission(MAY_WRITE),
// S_ISSOCK, then the socket bound to the inode and its type.
fn find_bsd(names: &Names, path: &[u8], ty: SockType, cred: &Cred) -> SysResult<Arc<Sock>> {
    let tree = &names.tree;
    let ino = tree.lookup(cred, path, false)?;
    let inode = tree
        .get(ino)
        .ok_or(Errno::ENOENT.why("unix_find_bsd: no such file"))?;
    if !permission(cred, inode, MAY_WRITE) {
        return Err(Errno::EACCES.why("unix_find_bsd: no write permission on the socket file"));
    }
    let InodeKind::Sock(w) = &inode.kind else {
        return Err(Errno::ECONNREFUSED.why("unix_find_bsd: not a socket file (!S_ISSOCK)"));
    };
    let s = w
        .as_ref()
        .and_then(std::sync::Weak::upgrade)
        .ok_or(Errno::ECONNREFUSED.why("unix_find_bsd: no socket bound to this file"))?;
    if s.ty != ty {
        return Err(Errno::EPROTOTYPE.why("unix_find_bsd: socket of another type"));
    }
    Ok(s)
}
