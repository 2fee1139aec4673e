//! The unix address space: `unix_bind` (pathname and abstract),
//! `unix_autobind`, `unix_find_other` (lookup by address), and unhashing
//! at release.

use super::{Sock, SockType};
use crate::abi::sockaddr::UnixAddr;
use crate::errno::{Errno, SysResult};
use crate::fs::namei::{permission, Node, NodeKind, Tree, MAY_WRITE};
use crate::process::Cred;
use crate::process::RawPid;
use crate::world::{Kernel, Names};
use std::sync::Arc;

/// The path a pathname address names: `sun_path` up to its first NUL, as
/// the kernel reads it (`unix_mkname_bsd`), walked from the world's
/// directory (which is also its `/`).
fn walk_path(path: &[u8]) -> &[u8] {
    path.split(|c| *c == 0).next().unwrap_or_default()
}

/// Run `f` with the abstract name table's key of `name` for sockets of
/// type `ty` in network namespace `netns`: the three in one byte string
/// (`unix_abstract_hash` mixes the namespace and `sk_type` into the name's
/// hash), built on the stack, so a lookup hashes one slice and allocates
/// nothing.
pub(crate) fn with_abstract_key<R>(
    netns: u32,
    ty: SockType,
    name: &[u8],
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    // The namespace, the type, and a name of at most sun_path's 108 bytes.
    const ROOM: usize = 5 + 108;
    let n = 5 + name.len();
    let mut inline = [0u8; ROOM];
    let mut heap = Vec::new();
    let key: &mut [u8] = match inline.get_mut(..n) {
        Some(k) => k,
        None => {
            heap.resize(n, 0);
            &mut heap
        }
    };
    let (head, rest) = key.split_at_mut(5);
    head[..4].copy_from_slice(&netns.to_le_bytes());
    head[4] = ty as u8;
    rest.copy_from_slice(name);
    f(key)
}

impl Names {
    /// `__unix_find_socket_byname`, then `__unix_set_addr_hash`: put `s`
    /// in the table under `name` unless a live socket of its type has it
    /// there (then false). A name whose socket is gone is taken over.
    fn hash_abstract(&mut self, s: &Arc<Sock>, name: &[u8]) -> bool {
        let table = &mut self.abstract_names;
        let free = with_abstract_key(s.netns, s.ty, name, |k| {
            // Only counted, not upgraded: a last reference must not drop
            // under the name table's lock.
            if table.get(k).is_some_and(|w| w.strong_count() > 0) {
                return false;
            }
            table.insert(k.into(), Arc::downgrade(s));
            true
        });
        if free {
            s.hashed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        free
    }
}

impl Kernel {
    /// `unix_autobind`: an abstract name `"%05x"` from a 20-bit counter,
    /// skipping names in use; `ENOSPC` when all are taken. A no-op when bound.
    pub(crate) fn unix_autobind(&self, s: &Arc<Sock>) -> SysResult<()> {
        crate::path::step("unix_autobind");
        let mut names = self.names_lock();
        if s.addr.get().is_some() {
            return Ok(());
        }
        for _ in 0..(1u32 << 20) {
            let n = names.autobind_next & 0xfffff;
            names.autobind_next = names.autobind_next.wrapping_add(1);
            let name = format!("{n:05x}").into_bytes();
            if !names.hash_abstract(s, &name) {
                continue;
            }
            crate::path::note(|| format!("autobound #{} as @{n:05x}", s.id));
            let _ = s.addr.set(Box::new(UnixAddr::Abstract(name)));
            return Ok(());
        }
        Err(Errno::ENOSPC.why(rule!(unix_autobind, "every abstract name is taken")))
    }

    /// `unix_bind`: autobind for a bare family, else a pathname
    /// (`unix_bind_bsd`) or abstract (`unix_bind_abstract`) name.
    pub(crate) fn unix_bind(&self, pid: RawPid, s: &Arc<Sock>, raw: &[u8]) -> SysResult<()> {
        crate::path::step("unix_bind");
        use crate::abi::consts::{AF_UNIX, SA_FAMILY_SIZE};
        if raw.len() == SA_FAMILY_SIZE && crate::abi::sockaddr::family(raw) == Some(AF_UNIX) {
            return self.unix_autobind(s);
        }
        let addr = crate::abi::sockaddr::parse_user_addr(raw)?;
        let cred = self.proc(pid)?.cred.clone();
        let mut names = self.names_lock();
        match addr {
            UnixAddr::Pathname(path) => {
                // unix_bind_bsd: kern_path_create (EEXIST → EADDRINUSE),
                // vfs_mknod (may_create), then an already-bound socket is
                // EINVAL (the kernel unlinks the file it just made).
                let p = self.proc(pid)?;
                let (dir, name) = names
                    .tree
                    .create_at(walk_path(&path), &cred, false)
                    .map_err(|e| {
                        if e == Errno::EEXIST {
                            Errno::EADDRINUSE.why(rule!(unix_bind_bsd, "the path exists (EEXIST)"))
                        } else {
                            e
                        }
                    })?;
                if let Some(a) = s.addr.get() {
                    crate::path::note(|| format!("#{} is bound to {a}", s.id));
                    return Err(Errno::EINVAL.why(rule!(unix_bind_bsd, "socket already bound")));
                }
                let ino = names.tree.insert(
                    dir,
                    name,
                    Node {
                        mode: 0o777 & !p.umask,
                        uid: cred.euid,
                        gid: cred.egid,
                        kind: NodeKind::Sock(Some(Arc::downgrade(s))),
                    },
                );
                let _ = s.path_ino.set(ino);
                s.hashed.store(true, std::sync::atomic::Ordering::Relaxed);
                let _ = s.addr.set(Box::new(UnixAddr::Pathname(path)));
                Ok(())
            }
            UnixAddr::Abstract(name) => {
                if let Some(a) = s.addr.get() {
                    crate::path::note(|| format!("#{} is bound to {a}", s.id));
                    return Err(
                        Errno::EINVAL.why(rule!(unix_bind_abstract, "socket already bound"))
                    );
                }
                if !names.hash_abstract(s, &name) {
                    crate::path::note(|| format!("{} is taken", UnixAddr::Abstract(name.clone())));
                    return Err(Errno::EADDRINUSE.why(rule!(
                        unix_bind_abstract,
                        "name in use by a socket of this type"
                    )));
                }
                let _ = s.addr.set(Box::new(UnixAddr::Abstract(name)));
                Ok(())
            }
            UnixAddr::Unnamed => Err(Errno::EINVAL.why(rule!(unix_validate_addr, "no name"))),
        }
    }

    /// Unhash a released socket: its abstract name is free again at once;
    /// a pathname's file stays, but no longer leads to a socket.
    pub(crate) fn unhash(&self, s: &Arc<Sock>) {
        let Some(addr) = s.addr.get() else { return };
        // An accepted socket shares its listener's name without being in
        // the table (`sk_unhashed`): nothing to remove.
        if !s.hashed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut names = self.names_lock();
        match &**addr {
            UnixAddr::Abstract(name) => with_abstract_key(s.netns, s.ty, name, |k| {
                if names
                    .abstract_names
                    .get(k)
                    .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(s)))
                {
                    names.abstract_names.remove(k);
                }
            }),
            UnixAddr::Pathname(_) => {
                // The socket file stays; it no longer leads to a socket.
                let Some(ino) = s.path_ino.get() else { return };
                if let Some(Node {
                    kind: NodeKind::Sock(w),
                    ..
                }) = names.tree.nodes.get_mut(ino)
                {
                    if w.as_ref()
                        .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(s)))
                    {
                        *w = None;
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
        pid: RawPid,
        netns: u32,
        addr: &UnixAddr,
        ty: SockType,
    ) -> SysResult<Arc<Sock>> {
        crate::path::step("unix_find_other");
        let names = self.names_lock();
        let found = match addr {
            UnixAddr::Pathname(path) => {
                let cred = self.proc(pid)?.cred.clone();
                find_bsd(&names.tree, path, ty, &cred)
            }
            UnixAddr::Abstract(name) => with_abstract_key(netns, ty, name, |k| {
                names
                    .abstract_names
                    .get(k)
                    .and_then(std::sync::Weak::upgrade)
            })
            .ok_or_else(|| {
                crate::path::note(|| format!("no {ty:?} socket is bound to {addr}"));
                Errno::ECONNREFUSED.why(rule!(
                    unix_find_abstract,
                    "no socket of this type has the name"
                ))
            }),
            UnixAddr::Unnamed => Err(Errno::EINVAL.why(rule!(unix_validate_addr, "no name"))),
        };
        if let Ok(o) = &found {
            crate::path::note(|| format!("{addr} is #{}", o.id));
        }
        found
    }
}

// unix_find_bsd: path lookup, MAY_WRITE, then the socket bound to the inode.
fn find_bsd(tree: &Tree, path: &[u8], ty: SockType, cred: &Cred) -> SysResult<Arc<Sock>> {
    let ino = tree.lookup(walk_path(path), cred)?;
    let node = tree
        .node(ino)
        .ok_or(Errno::ENOENT.why(rule!(unix_find_bsd, "no such file")))?;
    // path_permission(MAY_WRITE); root overrides (CAP_DAC_OVERRIDE).
    if !permission(node, cred, MAY_WRITE) {
        return Err(Errno::EACCES.why(rule!(
            unix_find_bsd,
            "no write permission on the socket file"
        )));
    }
    let s = match &node.kind {
        NodeKind::Sock(w) => w
            .as_ref()
            .and_then(std::sync::Weak::upgrade)
            .ok_or_else(|| {
                crate::path::note(|| {
                    format!(
                        "{:?} is inode {ino}, its socket closed",
                        String::from_utf8_lossy(path)
                    )
                });
                Errno::ECONNREFUSED.why(rule!(unix_find_bsd, "no socket bound to this file"))
            })?,
        _ => {
            crate::path::note(|| {
                let what = if node.is_dir() {
                    "a directory"
                } else {
                    "a regular file"
                };
                format!("{:?} is {what}", String::from_utf8_lossy(path))
            });
            return Err(
                Errno::ECONNREFUSED.why(rule!(unix_find_bsd, "not a socket file (!S_ISSOCK)"))
            );
        }
    };
    if s.ty != ty {
        crate::path::note(|| format!("#{} is {:?}, the caller {ty:?}", s.id, s.ty));
        return Err(Errno::EPROTOTYPE.why(rule!(unix_find_bsd, "socket of another type")));
    }
    Ok(s)
}
