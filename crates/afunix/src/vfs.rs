//! Files and directories of the world (`fs/namei.c`, `fs/open.c`): the
//! calls that name a path. The tree itself is [`crate::namei`].

use crate::abi::consts::{
    O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_PATH, O_RDWR,
    O_TRUNC, O_WRONLY,
};
use crate::errno::{Errno, SysResult};
use crate::file::{FileKind, RegFile};
use crate::namei::{
    in_group_or_capable, permission, Inode, InodeKind, LastType, MAY_EXEC, MAY_READ, MAY_WRITE,
};
use crate::process::Pid;
use crate::world::{lock, World};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

impl World {
    /// `open(path, flags, mode)` (`do_sys_openat2` → `path_openat`:
    /// `do_o_path` for `O_PATH`, else `open_last_lookups`, `do_open`,
    /// `may_open`, `handle_truncate`).
    pub fn open(&self, pid: Pid, path: &[u8], flags: i32, mode: u32) -> SysResult<i32> {
        let k = &self.k;
        let p = k.proc(pid)?;
        let cred = p.cred.clone();
        let cloexec = flags & O_CLOEXEC != 0;
        k.fd_reserve(pid, 1)?;
        let mut names = lock(&k.names);
        let tree = &mut names.tree;
        // build_open_flags: O_PATH keeps only O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC.
        if flags & O_PATH != 0 {
            tree.lookup(&cred, path, flags & O_DIRECTORY != 0)?;
            drop(names);
            let f = k.alloc_file(FileKind::Path, false);
            return k.fd_install(pid, f, cloexec);
        }
        let acc = flags & O_ACCMODE;
        let mut may = match acc {
            0 => MAY_READ,
            O_WRONLY => MAY_WRITE,
            _ => MAY_READ | MAY_WRITE,
        };
        if flags & O_TRUNC != 0 {
            may |= MAY_WRITE;
        }
        let mut created = false;
        let ino = if flags & O_CREAT != 0 {
            if path.is_empty() {
                return Err(Errno::ENOENT.why("getname: empty path"));
            }
            let par = tree.parentat(&cred, path)?;
            // open_last_lookups: O_CREAT on ., .. or a trailing / is EISDIR.
            if par.ty != LastType::Norm || par.trailing {
                return Err(Errno::EISDIR.why("open_last_lookups: O_CREAT on a directory name"));
            }
            match tree.last(&par) {
                Some(ino) => {
                    if flags & O_EXCL != 0 {
                        return Err(
                            Errno::EEXIST.why("do_open: O_CREAT|O_EXCL and the file exists")
                        );
                    }
                    if tree.get(ino).is_some_and(Inode::is_dir) {
                        return Err(Errno::EISDIR.why("do_open: O_CREAT on a directory"));
                    }
                    ino
                }
                None => {
                    // may_o_create
                    tree.may_create(&cred, par.dir)?;
                    created = true;
                    tree.insert(
                        par.dir,
                        &par.last,
                        Inode {
                            mode: mode & 0o7777 & !p.umask,
                            uid: cred.euid,
                            gid: cred.egid,
                            kind: InodeKind::Reg(Arc::new(Mutex::new(Vec::new()))),
                        },
                    )
                }
            }
        } else {
            tree.lookup(&cred, path, false)?
        };
        let inode = tree
            .get(ino)
            .ok_or(Errno::ENOENT.why("do_open: the inode is gone"))?;
        if flags & O_DIRECTORY != 0 && !inode.is_dir() {
            return Err(Errno::ENOTDIR.why("do_open: O_DIRECTORY on a non-directory"));
        }
        // may_open (skipped for a file this call created: acc_mode = 0).
        if !created {
            match &inode.kind {
                InodeKind::Sock(_) => {
                    return Err(Errno::ENXIO.why("may_open: a socket file"));
                }
                InodeKind::Dir { .. } if may & MAY_WRITE != 0 => {
                    return Err(Errno::EISDIR.why("may_open: a directory opened for writing"));
                }
                _ => {}
            }
            if !permission(&cred, inode, may) {
                return Err(Errno::EACCES.why("may_open: inode_permission"));
            }
        }
        let kind = match &inode.kind {
            InodeKind::Reg(data) => {
                if flags & O_TRUNC != 0 && !created {
                    lock(data).clear();
                }
                FileKind::Regular(RegFile {
                    data: Arc::clone(data),
                    pos: Mutex::new(0),
                    read: acc != O_WRONLY,
                    write: acc == O_WRONLY || acc == O_RDWR,
                    append: flags & O_APPEND != 0,
                })
            }
            _ => FileKind::Dir,
        };
        drop(names);
        let f = k.alloc_file(kind, flags & O_NONBLOCK != 0);
        k.fd_install(pid, f, cloexec)
    }

    /// `mkdir(path, mode)` (`do_mkdirat`: `filename_create`, `vfs_mkdir`).
    pub fn mkdir(&self, pid: Pid, path: &[u8], mode: u32) -> SysResult<()> {
        let k = &self.k;
        let p = k.proc(pid)?;
        let cred = p.cred.clone();
        let mut names = lock(&k.names);
        let tree = &mut names.tree;
        let par = tree.create_parent(&cred, path, true)?;
        tree.may_create(&cred, par.dir)?;
        tree.insert(
            par.dir,
            &par.last,
            Inode {
                mode: mode & 0o1777 & !p.umask,
                uid: cred.euid,
                gid: cred.egid,
                kind: InodeKind::Dir {
                    entries: BTreeMap::new(),
                    parent: par.dir,
                },
            },
        );
        Ok(())
    }

    /// `unlink(path)` (`do_unlinkat`, `may_delete`, `vfs_unlink`). A
    /// socket keeps its name and connections but is no longer found.
    pub fn unlink(&self, pid: Pid, path: &[u8]) -> SysResult<()> {
        let k = &self.k;
        let cred = k.proc(pid)?.cred.clone();
        let mut names = lock(&k.names);
        let tree = &mut names.tree;
        if path.is_empty() {
            return Err(Errno::ENOENT.why("getname: empty path"));
        }
        let par = tree.parentat(&cred, path)?;
        if par.ty != LastType::Norm {
            return Err(Errno::EISDIR.why("do_unlinkat: last component is . or .."));
        }
        let victim = tree.last(&par);
        if par.trailing {
            return Err(match victim.and_then(|v| tree.get(v)) {
                None => Errno::ENOENT.why("do_unlinkat: no such file"),
                Some(i) if i.is_dir() => Errno::EISDIR.why("do_unlinkat: a directory"),
                Some(_) => Errno::ENOTDIR.why("do_unlinkat: trailing / on a non-directory"),
            });
        }
        let victim = victim.ok_or(Errno::ENOENT.why("lookup_one_qstr_excl: no such file"))?;
        tree.may_delete(&cred, par.dir, victim, false)?;
        tree.remove_entry(par.dir, &par.last);
        Ok(())
    }

    /// `chmod(path, mode)` (`chmod_common` → `notify_change` →
    /// `setattr_prepare`: owner or CAP_FOWNER, else `EPERM`).
    pub fn chmod(&self, pid: Pid, path: &[u8], mode: u32) -> SysResult<()> {
        let k = &self.k;
        let cred = k.proc(pid)?.cred.clone();
        let mut names = lock(&k.names);
        let tree = &mut names.tree;
        let ino = tree.lookup(&cred, path, false)?;
        let inode = tree
            .get_mut(ino)
            .ok_or(Errno::ENOENT.why("chmod_common: the inode is gone"))?;
        if cred.euid != inode.uid && cred.euid != 0 {
            return Err(Errno::EPERM.why("setattr_prepare: not the owner (inode_owner_or_capable)"));
        }
        let mut m = mode & 0o7777;
        if !in_group_or_capable(&cred, inode.gid) {
            m &= !0o2000;
        }
        inode.mode = m;
        Ok(())
    }

    /// `rename(old, new)` (`do_renameat2`, `vfs_rename`).
    pub fn rename(&self, pid: Pid, old: &[u8], new: &[u8]) -> SysResult<()> {
        let k = &self.k;
        let cred = k.proc(pid)?.cred.clone();
        let mut names = lock(&k.names);
        let tree = &mut names.tree;
        if old.is_empty() || new.is_empty() {
            return Err(Errno::ENOENT.why("getname: empty path"));
        }
        let op = tree.parentat(&cred, old)?;
        let np = tree.parentat(&cred, new)?;
        if op.ty != LastType::Norm || np.ty != LastType::Norm {
            return Err(Errno::EBUSY.why("do_renameat2: last component is . or .."));
        }
        let src = tree
            .last(&op)
            .ok_or(Errno::ENOENT.why("do_renameat2: no such source"))?;
        let is_dir = tree.get(src).is_some_and(Inode::is_dir);
        if !is_dir && (op.trailing || np.trailing) {
            return Err(Errno::ENOTDIR.why("do_renameat2: trailing / on a non-directory"));
        }
        // lock_rename's trap: a directory moved under itself.
        if is_dir && tree.is_ancestor(src, np.dir) {
            return Err(Errno::EINVAL.why("do_renameat2: source is an ancestor of the target"));
        }
        let dst = tree.last(&np);
        if let Some(d) = dst {
            if tree.is_ancestor(d, op.dir) {
                return Err(
                    Errno::ENOTEMPTY.why("do_renameat2: target is an ancestor of the source")
                );
            }
        }
        if dst == Some(src) {
            return Ok(());
        }
        tree.may_delete(&cred, op.dir, src, is_dir)?;
        match dst {
            None => tree.may_create(&cred, np.dir)?,
            Some(d) => tree.may_delete(&cred, np.dir, d, is_dir)?,
        }
        // vfs_rename: a directory moved elsewhere needs write on itself (..).
        if is_dir && op.dir != np.dir {
            let s = tree.get(src).ok_or(Errno::ENOENT.why("vfs_rename: gone"))?;
            if !permission(&cred, s, MAY_WRITE | MAY_EXEC) {
                return Err(
                    Errno::EACCES.why("vfs_rename: no write permission on the moved directory")
                );
            }
        }
        if let Some(d) = dst {
            if is_dir && !tree.is_empty_dir(d) {
                return Err(Errno::ENOTEMPTY.why("vfs_rename: target directory not empty"));
            }
        }
        tree.move_entry(op.dir, &op.last, np.dir, &np.last);
        Ok(())
    }
}
