//! The calls that name a path (`fs/open.c`, `fs/namei.c`): `open`,
//! `mkdir`, `unlink`, `chmod`, `rename`, on the world's directory tree.
//! A path is walked from the world's directory, which is also its `/`.

use crate::abi::consts::*;
use crate::errno::{Errno, SysResult};
use crate::fs::file::{FileKind, RegFile};
use crate::fs::namei::{permission, Last, Node, NodeKind, MAY_EXEC, MAY_READ, MAY_WRITE};
use crate::ids::{Fd, Pid};
use crate::process::RawPid;
use crate::world::{lock, World};
use std::sync::{Arc, Mutex};

/// What a node is, for the path's notes.
fn node_kind(node: &Node) -> &'static str {
    match node.kind {
        NodeKind::Dir(_) => "a directory",
        NodeKind::Reg(_) => "a regular file",
        NodeKind::Sock(_) => "a socket file",
    }
}

/// A decision note of `rename`: both last components.
fn note_rename(
    old: &[u8],
    op: &crate::fs::namei::Parent,
    new: &[u8],
    np: &crate::fs::namei::Parent,
) {
    crate::fs::namei::note_last(old, op);
    crate::fs::namei::note_last(new, np);
}

/// A decision note: what `path` names.
fn note_node(path: &[u8], node: Option<&Node>) {
    crate::path::note(|| {
        format!(
            "{:?} is {}",
            String::from_utf8_lossy(path),
            node.map_or("gone", node_kind)
        )
    });
}

/// A decision note of `open`: the path, the flags and what it names.
fn note_open(path: &[u8], flags: i32, node: Option<&Node>) {
    crate::path::note(|| {
        format!(
            "{:?} with flags {flags:#o} is {}",
            String::from_utf8_lossy(path),
            node.map_or("gone", node_kind)
        )
    });
}

impl World {
    /// `open(path, flags, mode)`: the new fd.
    ///
    /// # Errors
    /// `EMFILE` first (the fd is taken before the walk); then the walk's
    /// `ENOENT`, `ENOTDIR`, `EACCES`; `EEXIST` (`O_CREAT|O_EXCL`), `EISDIR`
    /// (a directory for writing or with `O_CREAT`), `EACCES` (the file's
    /// mode), `ENXIO` (a socket file without `O_PATH`).
    pub fn open(
        &self,
        pid: Pid,
        path: &[u8],
        flags: impl Into<crate::abi::OFlags>,
        mode: u32,
    ) -> SysResult<Fd> {
        self.open_raw(pid.as_raw(), path, flags.into().bits(), mode)
            .map(Fd::from_raw)
    }

    fn open_raw(&self, pid: RawPid, path: &[u8], flags: i32, mode: u32) -> SysResult<i32> {
        crate::path::enter(pid, "do_sys_openat2");
        let k = self.kernel();
        // do_sys_openat2: get_unused_fd_flags before the path walk.
        k.fd_reserve(pid, 1)?;
        let p = k.proc(pid)?;
        let cred = p.cred.clone();
        let cloexec = flags & O_CLOEXEC != 0;
        let mut names = k.names_lock();
        let tree = &mut names.tree;
        if flags & O_PATH != 0 {
            // do_o_path: a lookup, no permission on the file itself.
            let ino = tree.lookup(path, &cred)?;
            if flags & O_DIRECTORY != 0 && !tree.node(ino).is_some_and(Node::is_dir) {
                note_open(path, flags, tree.node(ino));
                return Err(Errno::ENOTDIR.why(rule!(do_o_path, "O_DIRECTORY on a non-directory")));
            }
            drop(names);
            let f = k.alloc_file(FileKind::Path, false);
            return k.fd_install(pid, f, cloexec);
        }
        let acc = flags & O_ACCMODE;
        let (ino, created) = if flags & O_CREAT != 0 {
            let par = tree.walk_parent(path, &cred)?;
            // open_last_lookups: a trailing / with O_CREAT is EISDIR before
            // the name is looked up (existing or not).
            if par.trailing_slash && matches!(par.last, Last::Norm(_)) {
                crate::fs::namei::note_last(path, &par);
                return Err(
                    Errno::EISDIR.why(rule!(open_last_lookups, "O_CREAT with a trailing /"))
                );
            }
            match tree.lookup_last(&par) {
                Some(ino) => {
                    if flags & O_EXCL != 0 {
                        note_open(path, flags, tree.node(ino));
                        return Err(Errno::EEXIST.why(rule!(
                            open_last_lookups,
                            "O_CREAT|O_EXCL and the file exists"
                        )));
                    }
                    if tree.node(ino).is_some_and(Node::is_dir) {
                        note_open(path, flags, tree.node(ino));
                        return Err(
                            Errno::EISDIR.why(rule!(open_last_lookups, "O_CREAT on a directory"))
                        );
                    }
                    (ino, false)
                }
                None => {
                    if par.trailing_slash {
                        crate::fs::namei::note_last(path, &par);
                        return Err(Errno::EISDIR
                            .why(rule!(open_last_lookups, "O_CREAT with a trailing /")));
                    }
                    let Last::Norm(name) = par.last else {
                        return Err(Errno::EISDIR.why(rule!(open_last_lookups, ". or ..")));
                    };
                    let dir = tree.node(par.dir).ok_or(crate::fs::namei::GONE)?;
                    if !permission(dir, &cred, MAY_WRITE | MAY_EXEC) {
                        return Err(Errno::EACCES
                            .why(rule!(may_o_create, "no write permission on the directory")));
                    }
                    let ino = tree.insert(
                        par.dir,
                        name,
                        Node {
                            mode: mode & 0o7777 & !p.umask,
                            uid: cred.euid,
                            gid: cred.egid,
                            kind: NodeKind::Reg(Arc::new(Mutex::new(
                                crate::fs::shmem::Pages::new(&k.shmem),
                            ))),
                        },
                    );
                    (ino, true)
                }
            }
        } else {
            (tree.lookup(path, &cred)?, false)
        };
        let node = tree.node(ino).ok_or(crate::fs::namei::GONE)?;
        if flags & O_DIRECTORY != 0 && !node.is_dir() {
            note_open(path, flags, Some(node));
            return Err(Errno::ENOTDIR.why(rule!(do_open, "O_DIRECTORY on a non-directory")));
        }
        let wants_write = acc == O_WRONLY || acc == O_RDWR;
        let wants_read = acc == O_RDONLY || acc == O_RDWR;
        // build_open_flags: O_TRUNC adds MAY_WRITE to acc_mode.
        let trunc = flags & O_TRUNC != 0;
        // may_open (a file this call created is not checked again).
        if node.is_dir() && (wants_write || trunc) && !created {
            note_open(path, flags, Some(node));
            return Err(Errno::EISDIR.why(rule!(may_open, "a directory opened for writing")));
        }
        if !created {
            let mask = if wants_read { MAY_READ } else { 0 }
                | if wants_write || trunc { MAY_WRITE } else { 0 };
            if !permission(node, &cred, mask) {
                return Err(
                    Errno::EACCES.why(rule!(may_open, "the file's mode refuses this access"))
                );
            }
        }
        let kind = match &node.kind {
            NodeKind::Sock(_) => {
                note_open(path, flags, Some(node));
                return Err(
                    Errno::ENXIO.why(rule!(do_dentry_open, "a socket file cannot be opened"))
                );
            }
            NodeKind::Dir(_) => FileKind::Dir,
            NodeKind::Reg(data) => {
                // do_open → handle_truncate, whatever the access mode (may_open
                // asked MAY_WRITE); a file this call created is left alone.
                if trunc && !created {
                    lock(data).clear();
                }
                FileKind::Regular(Box::new(RegFile {
                    data: Arc::clone(data),
                    pos: Mutex::new(0),
                    read: wants_read,
                    write: wants_write,
                    append: flags & O_APPEND != 0,
                }))
            }
        };
        drop(names);
        let f = k.alloc_file(kind, flags & O_NONBLOCK != 0);
        k.fd_install(pid, f, cloexec)
    }

    /// `mkdir(path, mode)`.
    ///
    /// # Errors
    /// The walk's errors; `EEXIST`; `EACCES` without write permission on
    /// the parent.
    pub fn mkdir(&self, pid: Pid, path: &[u8], mode: u32) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_mkdirat");
        let k = self.kernel();
        let p = k.proc(pid)?;
        let cred = p.cred.clone();
        let mut names = k.names_lock();
        let (dir, name) = names.tree.create_at(path, &cred, true)?;
        names.tree.insert(
            dir,
            name,
            Node {
                mode: mode & 0o1777 & !p.umask,
                uid: cred.euid,
                gid: cred.egid,
                kind: NodeKind::Dir(Default::default()),
            },
        );
        Ok(())
    }

    /// `unlink(path)`: the name goes; a socket bound to it keeps its
    /// address and its connections but can no longer be found by path.
    ///
    /// # Errors
    /// The walk's errors; `EISDIR` for `.`, `..` or a directory; `ENOENT`;
    /// `EACCES` (`may_delete`); `ENOTDIR` for `file/`.
    pub fn unlink(&self, pid: Pid, path: &[u8]) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_unlinkat");
        let k = self.kernel();
        let cred = k.proc(pid)?.cred.clone();
        let mut names = k.names_lock();
        let tree = &mut names.tree;
        let par = tree.walk_parent(path, &cred)?;
        let Last::Norm(name) = &par.last else {
            crate::fs::namei::note_last(path, &par);
            return Err(Errno::EISDIR.why(rule!(do_unlinkat, "the last component is . or ..")));
        };
        let Some(ino) = tree.child(par.dir, name) else {
            crate::fs::namei::note_last(path, &par);
            return Err(Errno::ENOENT.why(rule!(do_unlinkat, "no such file")));
        };
        let is_dir = tree.node(ino).is_some_and(Node::is_dir);
        if par.trailing_slash {
            note_node(path, tree.node(ino));
            return Err(if is_dir {
                Errno::EISDIR.why(rule!(do_unlinkat, "a directory"))
            } else {
                Errno::ENOTDIR.why(rule!(do_unlinkat, "a trailing / names a non-directory"))
            });
        }
        let dir = tree.node(par.dir).ok_or(crate::fs::namei::GONE)?;
        if !permission(dir, &cred, MAY_WRITE | MAY_EXEC) {
            return Err(
                Errno::EACCES.why(rule!(may_delete, "no write permission on the directory"))
            );
        }
        if is_dir {
            note_node(path, tree.node(ino));
            return Err(Errno::EISDIR.why(rule!(may_delete, "unlink of a directory")));
        }
        tree.remove_entry(par.dir, name);
        Ok(())
    }

    /// `chmod(path, mode)`: the mode bits, exactly.
    ///
    /// # Errors
    /// The walk's errors; `EPERM` when the caller neither owns the file
    /// nor is root.
    pub fn chmod(&self, pid: Pid, path: &[u8], mode: u32) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_fchmodat");
        let k = self.kernel();
        let cred = k.proc(pid)?.cred.clone();
        let mut names = k.names_lock();
        let ino = names.tree.lookup(path, &cred)?;
        let node = names
            .tree
            .nodes
            .get_mut(&ino)
            .ok_or(crate::fs::namei::GONE)?;
        // chmod_common → notify_change → inode_owner_or_capable.
        if cred.euid != 0 && cred.euid != node.uid {
            crate::path::note(|| format!("owner uid {}, euid {}", node.uid, cred.euid));
            return Err(Errno::EPERM.why(rule!(chmod_common, "not the owner and no CAP_FOWNER")));
        }
        node.mode = mode & 0o7777;
        Ok(())
    }

    /// `rename(old, new)`: the name moves; what `new` named goes.
    ///
    /// # Errors
    /// The walks' errors; `EBUSY` for `.` or `..`; `ENOENT`; `ENOTDIR` /
    /// `EISDIR` / `ENOTEMPTY` when one is a directory; `EINVAL` for a
    /// directory moved below itself; `EACCES` on either directory.
    pub fn rename(&self, pid: Pid, old: &[u8], new: &[u8]) -> SysResult<()> {
        let pid = pid.as_raw();
        crate::path::enter(pid, "do_renameat2");
        let k = self.kernel();
        let cred = k.proc(pid)?.cred.clone();
        let mut names = k.names_lock();
        let tree = &mut names.tree;
        let op = tree.walk_parent(old, &cred)?;
        let np = tree.walk_parent(new, &cred)?;
        let (Last::Norm(oname), Last::Norm(nname)) = (&op.last, &np.last) else {
            note_rename(old, &op, new, &np);
            return Err(Errno::EBUSY.why(rule!(do_renameat2, ". or .. as a last component")));
        };
        let Some(src) = tree.child(op.dir, oname) else {
            crate::fs::namei::note_last(old, &op);
            return Err(Errno::ENOENT.why(rule!(do_renameat2, "no such file")));
        };
        let src_dir = tree.node(src).is_some_and(Node::is_dir);
        if !src_dir && (op.trailing_slash || np.trailing_slash) {
            note_rename(old, &op, new, &np);
            return Err(Errno::ENOTDIR.why(rule!(do_renameat2, "a trailing / on a non-directory")));
        }
        if src_dir && tree.is_within(np.dir, src) {
            note_rename(old, &op, new, &np);
            return Err(Errno::EINVAL.why(rule!(do_renameat2, "a directory moved below itself")));
        }
        let target = tree.child(np.dir, nname);
        // lock_rename's trap: the target is an ancestor of the source.
        if let Some(t) = target {
            if t != src && tree.is_within(op.dir, t) {
                note_rename(old, &op, new, &np);
                return Err(
                    Errno::ENOTEMPTY.why(rule!(do_renameat2, "the target contains the source"))
                );
            }
        }
        if target == Some(src) {
            return Ok(());
        }
        // vfs_rename: may_delete on the old side, then may_delete or
        // may_create on the new side (permission first, then the kinds).
        let odir = tree.node(op.dir).ok_or(crate::fs::namei::GONE)?;
        if !permission(odir, &cred, MAY_WRITE | MAY_EXEC) {
            return Err(Errno::EACCES.why(rule!(
                may_delete,
                "no write permission on the old directory"
            )));
        }
        let ndir = tree.node(np.dir).ok_or(crate::fs::namei::GONE)?;
        if !permission(ndir, &cred, MAY_WRITE | MAY_EXEC) {
            return Err(Errno::EACCES.why(if target.is_some() {
                rule!(may_delete, "no write permission on the new directory")
            } else {
                rule!(may_create, "no write permission on the new directory")
            }));
        }
        let mut target_nonempty = false;
        if let Some(t) = target {
            let tnode = tree.node(t).ok_or(crate::fs::namei::GONE)?;
            match (src_dir, &tnode.kind) {
                (true, NodeKind::Dir(d)) => target_nonempty = !d.is_empty(),
                (true, _) => {
                    note_node(new, Some(tnode));
                    return Err(
                        Errno::ENOTDIR.why(rule!(may_delete, "the target is not a directory"))
                    );
                }
                (false, NodeKind::Dir(_)) => {
                    note_node(new, Some(tnode));
                    return Err(Errno::EISDIR.why(rule!(may_delete, "the target is a directory")));
                }
                (false, _) => {}
            }
        }
        // vfs_rename: a directory that changes parent flips its `..`.
        if src_dir && op.dir != np.dir {
            let snode = tree.node(src).ok_or(crate::fs::namei::GONE)?;
            if !permission(snode, &cred, MAY_WRITE) {
                return Err(Errno::EACCES.why(rule!(
                    vfs_rename,
                    "no write permission on a directory that changes parent"
                )));
            }
        }
        // The file system's rename (simple_rename: simple_empty).
        if target_nonempty {
            crate::path::note(|| format!("{:?} has entries", String::from_utf8_lossy(new)));
            return Err(
                Errno::ENOTEMPTY.why(rule!(simple_rename, "the target directory is not empty"))
            );
        }
        if target.is_some() {
            tree.remove_entry(np.dir, nname);
        }
        if let Some(ino) = tree.take_entry(op.dir, oname) {
            tree.put_entry(np.dir, nname.clone(), ino);
        }
        Ok(())
    }
}
